// SPDX-License-Identifier: MIT
/*
 * The `make run` demo (examples/demo.c) as `make run` runs it: under
 * `softsgx run` on a 256-page EPC, with the test enclave. It must exit 0,
 * print the MRENCLAVE the loader computes for the enclave, the #UD vector,
 * and the summary line with the enclaves it built and the pages it saw
 * evicted; and fail with a clear message and status when it cannot work.
 *
 * `make check` passes SOFTSGX_BIN (the softsgx command), SOFTSGX_DEMO (the
 * demo, built like a user's program), SOFTSGX_TEST_ENCLAVE and
 * SOFTSGX_PRELOAD (the shim the command preloads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/enclave_image.h"

extern char **environ;

/* What `make run` gives the demo: 1 MiB of EPC in one section, 256 pages. */
#define EPC	  "1M"
#define EPC_PAGES 256

struct result {
	int status; /* exit code, or 128 + signal */
	char *out, *err;
};

static const char *env_path(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		fail_msg("%s is not set: run the tests with `make check`", name);
	return v;
}

/* All of @fd (a memfd the child wrote) from its start, NUL-terminated. */
static char *slurp(int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	char *buf;

	assert_true(len >= 0);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
	buf[len] = '\0';
	close(fd);
	return buf;
}

/*
 * Run @argv (NULL-terminated; argv[0] the program) with our environment
 * minus LD_PRELOAD and the SOFTSGX_EPC/SECTIONS/SGX1 defaults, so that only
 * the command line decides the platform. Output goes to memory files, which
 * never fill up as a pipe would.
 */
static void spawn(struct result *r, const char *const *argv)
{
	posix_spawn_file_actions_t fa;
	int out = memfd_create("demo-stdout", MFD_CLOEXEC);
	int err = memfd_create("demo-stderr", MFD_CLOEXEC);
	size_t n = 0, k = 0;
	char **envp;
	pid_t pid;
	int status;

	assert_true(out >= 0 && err >= 0);
	while (environ[n])
		n++;
	envp = calloc(n + 1, sizeof(*envp));
	assert_non_null(envp);
	for (char **e = environ; *e; e++) {
		if (!strncmp(*e, "LD_PRELOAD=", 11) || !strncmp(*e, "SOFTSGX_EPC=", 12) ||
		    !strncmp(*e, "SOFTSGX_SECTIONS=", 17) || !strncmp(*e, "SOFTSGX_SGX1=", 13))
			continue;
		envp[k++] = *e;
	}
	envp[k] = NULL;

	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out, 1), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, err, 2), 0);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->out = slurp(out);
	r->err = slurp(err);
}

/* The demo under `softsgx run --epc 1M --sections 1`, with @args after the program. */
static void run_demo(struct result *r, const char *const *args)
{
	static const char *const opts[] = {"run", "--epc", EPC, "--sections", "1", "--"};
	const char *argv[16];
	size_t n = 0;

	env_path("SOFTSGX_PRELOAD");
	argv[n++] = env_path("SOFTSGX_BIN");
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		argv[n++] = opts[i];
	argv[n++] = env_path("SOFTSGX_DEMO");
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	spawn(r, argv);
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

static void assert_status(const struct result *r, int status)
{
	if (r->status != status)
		fail_msg("exit status %d, expected %d\nstdout:\n%s\nstderr:\n%s", r->status, status,
			 r->out, r->err);
}

static const char *assert_contains(const char *haystack, const char *needle)
{
	const char *p = strstr(haystack, needle);

	if (!p)
		fail_msg("expected \"%s\" in:\n%s", needle, haystack);
	return p;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_demo_as_make_run_runs_it(void **state)
{
	const char *enclave = env_path("SOFTSGX_TEST_ENCLAVE");
	struct enclave_image img = {0};
	uint8_t mr[SGX_HASH_SIZE];
	char line[128], summary[128];
	unsigned long long evicted, written;
	unsigned int copies, pages;
	struct result r;
	const char *s;

	(void)state;
	assert_int_equal(enclave_image_load_file(enclave, &img), 0);
	enclave_image_mrenclave(&img, mr);

	run_demo(&r, ARGS("--epc", EPC, enclave));
	assert_status(&r, 0);
	/* Nothing on stderr: no failure, and no warning from the platform. */
	if (*r.err)
		fail_msg("unexpected output on stderr:\n%s", r.err);

	/* The enclave's identity as the loader measures it, here. */
	strcpy(line, "  MRENCLAVE  ");
	for (unsigned int i = 0; i < SGX_HASH_SIZE; i++)
		sprintf(line + strlen(line), "%02x", mr[i]);
	assert_contains(r.out, line);
	assert_contains(r.out, "  MRSIGNER   ");
	assert_contains(r.out, "Hello from the host, through an SGX enclave and back!");
	assert_contains(r.out, "MAC verified with the enclave's REPORT key");
	assert_contains(r.out, "exception_vector 6 (#UD)");
	assert_contains(r.out, "EXITINFO 0x80000306");

	/* Enough copies for twice the EPC: image, SECS and VA page each. */
	s = assert_contains(r.out, "\nSummary: built 1 + ");
	if (sscanf(s, "\nSummary: built 1 + %u enclaves (%u pages) on a %127[^;]", &copies, &pages,
		   summary) != 3)
		fail_msg("cannot parse the summary:\n%s", s);
	assert_int_equal(pages, (copies + 1) * (img.nr_pages + 2));
	assert_true(pages >= 2 * EPC_PAGES);
	assert_true(pages - (img.nr_pages + 2) < 2 * EPC_PAGES);
	assert_string_equal(summary, "256-page EPC");
	s = assert_contains(s, "; every value came back intact; ");
	if (sscanf(s, "; every value came back intact; %llu of %llu written pages", &evicted,
		   &written) != 2)
		fail_msg("cannot parse the paging counts:\n%s", s);
	/* The value and the 8 KiB buffer span 3 or 4 pages per enclave. */
	assert_true(written >= 3ULL * (copies + 1) && written <= 4ULL * (copies + 1));
	/*
	 * How many of them ksgxd had taken when the reads came is timing:
	 * the build (twice the EPC) evicts for sure, these only usually.
	 */
	assert_true(evicted <= written);
	assert_contains(s, " were evicted and reloaded on demand.\n");
	/* The summary is the last line. */
	assert_non_null(strchr(s, '\n'));
	assert_string_equal(strchr(s, '\n'), "\n");

	result_free(&r);
	enclave_image_free(&img);
}

static void test_demo_failures(void **state)
{
	const char *demo = env_path("SOFTSGX_DEMO");
	const char *enclave = env_path("SOFTSGX_TEST_ENCLAVE");
	struct result r;

	(void)state;
	/* An enclave file that is not there: exit 1, the file named. */
	run_demo(&r, ARGS("/nonexistent/enclave.elf"));
	assert_status(&r, 1);
	assert_contains(r.err, "demo: cannot load the enclave: /nonexistent/enclave.elf: ");
	result_free(&r);

	/* A file that is no enclave. */
	run_demo(&r, ARGS(demo));
	assert_status(&r, 1);
	assert_contains(r.err, "demo: cannot load the enclave: ");
	result_free(&r);

	/* Bad arguments: exit 2 and the usage. */
	run_demo(&r, ARGS("--epc", "lots", enclave));
	assert_status(&r, 2);
	assert_contains(r.err, "--epc");
	result_free(&r);
	run_demo(&r, ARGS(enclave, "extra"));
	assert_status(&r, 2);
	assert_contains(r.err, "Usage: demo ");
	result_free(&r);
	run_demo(&r, ARGS("--help"));
	assert_status(&r, 0);
	assert_contains(r.out, "Usage: demo ");
	result_free(&r);

	/* Without the shim, on a machine without SGX: no driver to open. */
	if (access("/dev/sgx_enclave", F_OK)) {
		spawn(&r, ARGS(demo, enclave));
		assert_status(&r, 1);
		assert_contains(r.err, "open /dev/sgx_enclave");
		result_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo_as_make_run_runs_it),
		cmocka_unit_test(test_demo_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
