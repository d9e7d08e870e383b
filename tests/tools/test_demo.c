// SPDX-License-Identifier: MIT
/*
 * The `make run` demo (examples/demo.c) as `make run` runs it: under
 * `softsgx run` on a 256-page EPC, with the test enclave. It must exit 0,
 * print the MRENCLAVE the loader computes for the enclave, the #UD vector,
 * and the summary line with the enclaves it built and the pages it saw
 * evicted; and fail with a clear message and status when it cannot work.
 * With --seconds N it keeps paging for N seconds while `softsgx top` shows
 * the eviction and reload rates.
 *
 * `make check` passes SOFTSGX_BIN (the softsgx command), SOFTSGX_DEMO (the
 * demo, built like a user's program), SOFTSGX_TEST_ENCLAVE and
 * SOFTSGX_PRELOAD (the shim the command preloads).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/cli_fixture.h"
#include "tools/lib/enclave_image.h"

/* What `make run` gives the demo: 1 MiB of EPC in one section, 256 pages. */
#define EPC	  "1M"
#define EPC_PAGES 256

/* The platform's defaults and the shim: only the command line decides them. */
#define UNSET_VARS CLI_ARGS("LD_PRELOAD=", "SOFTSGX_EPC=", "SOFTSGX_SECTIONS=", "SOFTSGX_SGX1=")

/* Run @argv (argv[0] the program) with our environment minus UNSET_VARS. */
static void spawn(struct cli_result *r, const char *const *argv)
{
	const struct cli_cmd c = {.argv = argv, .unset = UNSET_VARS};

	cli_run(r, &c);
}

/* The demo under `softsgx run --epc 1M --sections 1`, with @args after the program. */
static void run_demo(struct cli_result *r, const char *const *args)
{
	static const char *const opts[] = {"run", "--epc", EPC, "--sections", "1", "--"};
	const char *argv[16];
	size_t n = 0;

	cli_env_path("SOFTSGX_PRELOAD");
	argv[n++] = cli_env_path("SOFTSGX_BIN");
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		argv[n++] = opts[i];
	argv[n++] = cli_env_path("SOFTSGX_DEMO");
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	spawn(r, argv);
}

static void test_demo_as_make_run_runs_it(void **state)
{
	const char *enclave = cli_env_path("SOFTSGX_TEST_ENCLAVE");
	struct enclave_image img = {0};
	uint8_t mr[SGX_HASH_SIZE];
	char line[128], summary[128];
	unsigned long long evicted, written;
	unsigned int copies, pages;
	struct cli_result r;
	const char *s;

	(void)state;
	assert_int_equal(enclave_image_load_file(enclave, &img), 0);
	enclave_image_mrenclave(&img, mr);

	run_demo(&r, CLI_ARGS("--epc", EPC, enclave));
	cli_assert_status(&r, 0);
	/* Nothing on stderr: no failure, and no warning from the platform. */
	if (*r.err)
		fail_msg("unexpected output on stderr:\n%s", r.err);

	/* The enclave's identity as the loader measures it, here. */
	strcpy(line, "  MRENCLAVE  ");
	for (unsigned int i = 0; i < SGX_HASH_SIZE; i++)
		sprintf(line + strlen(line), "%02x", mr[i]);
	cli_assert_contains(r.out, line);
	cli_assert_contains(r.out, "  MRSIGNER   ");
	cli_assert_contains(r.out, "Hello from the host, through an SGX enclave and back!");
	cli_assert_contains(r.out, "MAC verified with the enclave's REPORT key");
	cli_assert_contains(r.out, "exception_vector 6 (#UD)");
	cli_assert_contains(r.out, "EXITINFO 0x80000306");

	/* Enough copies for twice the EPC: image, SECS and VA page each. */
	s = cli_assert_contains(r.out, "\nSummary: built 1 + ");
	if (sscanf(s, "\nSummary: built 1 + %u enclaves (%u pages) on a %127[^;]", &copies, &pages,
		   summary) != 3)
		fail_msg("cannot parse the summary:\n%s", s);
	assert_int_equal(pages, (copies + 1) * (img.nr_pages + 2));
	assert_true(pages >= 2 * EPC_PAGES);
	assert_true(pages - (img.nr_pages + 2) < 2 * EPC_PAGES);
	assert_string_equal(summary, "256-page EPC");
	s = cli_assert_contains(s, "; every value came back intact; ");
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
	cli_assert_contains(s, " were evicted and reloaded on demand.\n");
	/* The summary is the last line. */
	assert_non_null(strchr(s, '\n'));
	assert_string_equal(strchr(s, '\n'), "\n");

	cli_result_free(&r);
	enclave_image_free(&img);
}

/* The number after "@key": in @json, as a double; -1 when absent. */
static double json_double(const char *json, const char *key)
{
	char pattern[64];
	const char *p;

	snprintf(pattern, sizeof(pattern), "\"%s\": ", key);
	p = strstr(json, pattern);
	return p ? strtod(p + strlen(pattern), NULL) : -1;
}

/*
 * The tour's second terminal (issue 19): `demo --seconds 3` keeps its
 * enclaves paging, and `softsgx top` sees evictions and reloads per second
 * while it runs. Both get a private XDG_RUNTIME_DIR, so only this demo shows.
 */
static void test_demo_keeps_paging(void **state)
{
	char dir[64], xdg[96], pid[16];
	const char *const env[] = {xdg, NULL};
	const char *argv[] = {cli_env_path("SOFTSGX_BIN"),
			      "run",
			      "--epc",
			      EPC,
			      "--sections",
			      "1",
			      "--",
			      cli_env_path("SOFTSGX_DEMO"),
			      "--epc",
			      EPC,
			      "--seconds",
			      "3",
			      cli_env_path("SOFTSGX_TEST_ENCLAVE"),
			      NULL};
	const struct cli_cmd demo = {.argv = argv, .env = env, .unset = UNSET_VARS};
	double evictions = 0, reloads = 0;
	struct cli_result r;
	int out, status;
	char *text;
	pid_t p;

	(void)state;
	cli_tmpdir_make(dir, sizeof(dir), "test-demo");
	snprintf(xdg, sizeof(xdg), "XDG_RUNTIME_DIR=%s", dir);
	out = memfd_create("demo-stdout", MFD_CLOEXEC);
	assert_true(out >= 0);
	p = cli_start(&demo, -1, out, out);
	snprintf(pid, sizeof(pid), "%d", (int)p);
	/* Until top has seen both rates nonzero, or the demo is over. */
	for (int i = 0; i < 20 && !(evictions > 0 && reloads > 0); i++) {
		cli_exec_env(&r, env, UNSET_VARS,
			     CLI_ARGS("top", "--once", "--json", "-d", "0.3", "--pid", pid));
		if (r.status == 0) {
			evictions = json_double(r.out, "evictions_per_s");
			reloads = json_double(r.out, "reloads_per_s");
		}
		cli_result_free(&r);
	}
	status = cli_wait(p);
	text = cli_slurp(out, NULL);
	close(out);
	if (status)
		fail_msg("the demo exited %d:\n%s", status, text);
	if (!(evictions > 0 && reloads > 0))
		fail_msg("top saw %.1f evictions/s and %.1f reloads/s while the demo paged:\n%s",
			 evictions, reloads, text);
	cli_assert_contains(text, "  paging     for 3 s: ");
	cli_assert_contains(text, "  paging       1 s: ");
	cli_assert_contains(text, " read-only pages intact\n");
	cli_assert_contains(text, "\nSummary: built 1 + ");
	free(text);
	cli_tmpdir_remove(dir);
}

static void test_demo_failures(void **state)
{
	const char *demo = cli_env_path("SOFTSGX_DEMO");
	const char *enclave = cli_env_path("SOFTSGX_TEST_ENCLAVE");
	struct cli_result r;

	(void)state;
	/* An enclave file that is not there: exit 1, the file named. */
	run_demo(&r, CLI_ARGS("/nonexistent/enclave.elf"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.err, "demo: cannot load the enclave: /nonexistent/enclave.elf: ");
	cli_result_free(&r);

	/* A file that is no enclave. */
	run_demo(&r, CLI_ARGS(demo));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.err, "demo: cannot load the enclave: ");
	cli_result_free(&r);

	/* Bad arguments: exit 2 and the usage. */
	run_demo(&r, CLI_ARGS("--epc", "lots", enclave));
	cli_assert_status(&r, 2);
	cli_assert_contains(r.err, "--epc");
	cli_result_free(&r);
	run_demo(&r, CLI_ARGS("--seconds", "0", enclave));
	cli_assert_status(&r, 2);
	cli_assert_contains(r.err, "demo: --seconds: not a number from 1 to 86400: '0'");
	cli_result_free(&r);
	run_demo(&r, CLI_ARGS(enclave, "extra"));
	cli_assert_status(&r, 2);
	cli_assert_contains(r.err, "Usage: demo ");
	cli_result_free(&r);
	run_demo(&r, CLI_ARGS("--help"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "Usage: demo ");
	cli_result_free(&r);

	/* Without the shim, on a machine without SGX: no driver to open. */
	if (access("/dev/sgx_enclave", F_OK)) {
		spawn(&r, CLI_ARGS(demo, enclave));
		cli_assert_status(&r, 1);
		cli_assert_contains(r.err, "open /dev/sgx_enclave");
		cli_result_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo_as_make_run_runs_it),
		cmocka_unit_test(test_demo_failures),
		cmocka_unit_test(test_demo_keeps_paging),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
