// SPDX-License-Identifier: MIT
/*
 * `softsgx run --trace FILE` and `softsgx guest --trace FILE`: the demo
 * (examples/demo.c) on a 256-page EPC leaves a valid trace-event file with
 * its enclaves' ENCLS and ENCLU leaves, evictions, reloads and faults; the
 * guest cycle leaves its REMOVE_ALLs; SOFTSGX_TRACE_MAX_EVENTS truncates; a
 * process that did no SGX writes nothing; a FILE that cannot be written is a
 * clear error before the program starts.
 *
 * `make check` passes SOFTSGX_BIN, SOFTSGX_DEMO, SOFTSGX_TEST_ENCLAVE and
 * SOFTSGX_PRELOAD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "json_check.h"

extern char **environ;

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

/* All of @fd from its start, NUL-terminated; *@len its length. */
static char *slurp(int fd, size_t *len)
{
	off_t n = lseek(fd, 0, SEEK_END);
	char *buf;

	assert_true(n >= 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

/*
 * Run @argv in @cwd (NULL: ours) with our environment minus LD_PRELOAD,
 * SOFTSGX_TRACE* and the platform defaults, plus @extra (NULL or one
 * NAME=VALUE). Output goes to memory files.
 */
static void spawn(struct result *r, const char *cwd, const char *extra, const char *const *argv)
{
	posix_spawn_file_actions_t fa;
	int out = memfd_create("trace-stdout", MFD_CLOEXEC);
	int err = memfd_create("trace-stderr", MFD_CLOEXEC);
	size_t n = 0, k = 0;
	char **envp;
	pid_t pid;
	int status;

	assert_true(out >= 0 && err >= 0);
	while (environ[n])
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	assert_non_null(envp);
	for (char **e = environ; *e; e++) {
		if (!strncmp(*e, "LD_PRELOAD=", 11) || !strncmp(*e, "SOFTSGX_EPC=", 12) ||
		    !strncmp(*e, "SOFTSGX_SECTIONS=", 17) || !strncmp(*e, "SOFTSGX_SGX1=", 13) ||
		    !strncmp(*e, "SOFTSGX_TRACE", 13))
			continue;
		envp[k++] = *e;
	}
	if (extra)
		envp[k++] = (char *)extra;
	envp[k] = NULL;

	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out, 1), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, err, 2), 0);
	if (cwd)
		assert_int_equal(posix_spawn_file_actions_addchdir_np(&fa, cwd), 0);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->out = slurp(out, NULL);
	r->err = slurp(err, NULL);
	close(out);
	close(err);
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

static void assert_status(const struct result *r, int status)
{
	/* stderr first: cmocka cuts long messages, and the reason is there. */
	if (r->status != status)
		fail_msg("exit status %d, expected %d\nstderr:\n%s\nstdout:\n%s", r->status, status,
			 r->err, r->out);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

/* The demo as `make run` runs it, with `--trace @trace` (and @extra in the environment). */
static void run_demo(struct result *r, const char *cwd, const char *extra, const char *trace)
{
	const char *argv[] = {
		env_path("SOFTSGX_BIN"),
		"run",
		"--epc",
		"1M",
		"--sections",
		"1",
		"--trace",
		trace,
		"--",
		env_path("SOFTSGX_DEMO"),
		"--epc",
		"1M",
		env_path("SOFTSGX_TEST_ENCLAVE"),
		NULL,
	};

	env_path("SOFTSGX_PRELOAD");
	spawn(r, cwd, extra, argv);
}

/* @path read and checked as a trace-event file; free() the result. */
static char *load_trace(const char *path, struct trace_summary *sum)
{
	int fd = open(path, O_RDONLY);
	size_t len;
	char *json;

	if (fd < 0)
		fail_msg("no trace at %s: %s", path, strerror(errno));
	json = slurp(fd, &len);
	close(fd);
	if (!trace_json_check(json, len, sum))
		fail_msg("%s is not a valid trace-event file", path);
	return json;
}

static void assert_events(const char *json, const char *name)
{
	if (!trace_json_count(json, name))
		fail_msg("no \"%s\" event in the trace", name);
}

struct tmpdir {
	char path[40];
};

static void tmpdir_make(struct tmpdir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/softsgx-trace-XXXXXX");
	assert_non_null(mkdtemp(d->path));
}

/* Remove @d and the files in it (no subdirectories). */
static void tmpdir_remove(struct tmpdir *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", d->path);
	assert_int_equal(system(cmd), 0);
}

static void test_demo_traced(void **state)
{
	static const char *const expected[] = {
		"ECREATE", "EADD",    "EEXTEND", "EINIT",  "EPA",     "EBLOCK",	 "ETRACK",
		"EWB",	   "ELDU",    "EREMOVE", "EENTER", "EEXIT",   "ERESUME", "AEX",
		"EREPORT", "EGETKEY", "enclave", "fault",  "reclaim",
	};
	struct trace_summary sum;
	struct tmpdir d;
	struct result r;
	char path[64];
	char *json;

	(void)state;
	tmpdir_make(&d);
	/* A relative FILE is relative to where `softsgx run` was started. */
	run_demo(&r, d.path, NULL, "demo.json");
	assert_status(&r, 0);
	if (*r.err)
		fail_msg("unexpected output on stderr:\n%s", r.err);
	result_free(&r);

	snprintf(path, sizeof(path), "%s/demo.json", d.path);
	json = load_trace(path, &sum);
	assert_true(sum.display_ns);
	assert_true(sum.events > 1000);
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		assert_events(json, expected[i]);
	/* 25 enclaves, one ECREATE and EINIT each; no cap reached. */
	assert_int_equal(trace_json_count(json, "ECREATE"), trace_json_count(json, "EINIT"));
	assert_null(strstr(json, "trace truncated"));
	/* The demo's #UD inside the enclave: an AEX with vector 6. */
	assert_contains(json, "\"vector\":6");
	assert_contains(json, "\"cat\":\"enclu\"");
	assert_contains(json, "\"cat\":\"encls,reclaim\"");
	/* Perfetto labels the process with the program's name. */
	assert_contains(json, "{\"name\":\"process_name\",\"cat\":\"__metadata\",\"ph\":\"M\"");
	assert_contains(json, "\"args\":{\"name\":\"demo\"}");
	free(json);
	tmpdir_remove(&d);
}

static void test_demo_truncated(void **state)
{
	struct trace_summary sum;
	struct tmpdir d;
	struct result r;
	char path[64];
	char *json;

	(void)state;
	tmpdir_make(&d);
	snprintf(path, sizeof(path), "%s/t.json", d.path);
	run_demo(&r, NULL, "SOFTSGX_TRACE_MAX_EVENTS=100", path);
	assert_status(&r, 0);
	result_free(&r);
	json = load_trace(path, &sum);
	/* The process name, the 100 kept, the marker. */
	assert_int_equal(sum.events, 102);
	assert_int_equal(trace_json_count(json, "trace truncated"), 1);
	assert_contains(json, "\"max_events\":100,\"dropped_events\":");
	free(json);
	tmpdir_remove(&d);
}

/* A process that did nothing with SGX leaves no trace (it may be a shell around one that did). */
static void test_no_sgx_no_file(void **state)
{
	const char *argv[] = {
		env_path("SOFTSGX_BIN"), "run", "--trace", NULL, "--", "/bin/true", NULL};
	struct tmpdir d;
	struct result r;
	char path[64];
	struct stat st;

	(void)state;
	tmpdir_make(&d);
	snprintf(path, sizeof(path), "%s/none.json", d.path);
	argv[3] = path;
	spawn(&r, NULL, NULL, argv);
	assert_status(&r, 0);
	result_free(&r);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	tmpdir_remove(&d);
}

static void test_unwritable(void **state)
{
	struct tmpdir d;
	struct result r;
	char marker[64], script[128], missing[96];
	const char *argv[] = {env_path("SOFTSGX_BIN"),
			      "run",
			      "--trace",
			      NULL,
			      "--",
			      "/bin/sh",
			      "-c",
			      script,
			      NULL};
	struct stat st;

	(void)state;
	tmpdir_make(&d);
	snprintf(marker, sizeof(marker), "%s/ran", d.path);
	snprintf(script, sizeof(script), "touch '%s'", marker);

	/* A directory that does not exist: the program never starts. */
	snprintf(missing, sizeof(missing), "%s/no/such/dir/t.json", d.path);
	argv[3] = missing;
	spawn(&r, NULL, NULL, argv);
	assert_status(&r, 1);
	assert_contains(r.err, "softsgx run: cannot write the trace to ");
	assert_contains(r.err, "/no/such/dir/t.json: No such file or directory");
	result_free(&r);
	assert_int_equal(stat(marker, &st), -1);

	/* FILE is a directory. */
	argv[3] = d.path;
	spawn(&r, NULL, NULL, argv);
	assert_status(&r, 1);
	assert_contains(r.err, ": Is a directory");
	result_free(&r);
	assert_int_equal(stat(marker, &st), -1);

	/* No name at all is a usage error. */
	argv[3] = "";
	spawn(&r, NULL, NULL, argv);
	assert_status(&r, 2);
	assert_contains(r.err, "softsgx run: --trace needs a file name");
	result_free(&r);
	assert_int_equal(stat(marker, &st), -1);
	tmpdir_remove(&d);
}

static void test_guest_traced(void **state)
{
	/* Default sizes: with a small instance B the guest's reclaimer may evict the SECS. */
	const char *argv[] = {env_path("SOFTSGX_BIN"), "guest", "--trace", NULL, NULL};
	struct trace_summary sum;
	struct tmpdir d;
	struct result r;
	char path[64];
	char *json;

	(void)state;
	tmpdir_make(&d);
	snprintf(path, sizeof(path), "%s/guest.json", d.path);
	argv[3] = path;
	spawn(&r, NULL, NULL, argv);
	assert_status(&r, 0);
	result_free(&r);
	json = load_trace(path, &sum);
	/* A REMOVE_ALL per instance, and again on A, which held the SECS. */
	assert_int_equal(trace_json_count(json, "REMOVE_ALL"), 3);
	assert_contains(json, "\"name\":\"REMOVE_ALL\",\"cat\":\"vepc\"");
	assert_contains(json, "\"args\":{\"ret\":1}");
	assert_events(json, "ECREATE");
	assert_events(json, "EINIT");
	assert_events(json, "EREMOVE");
	assert_events(json, "fault");
	free(json);

	argv[3] = "/nonexistent-softsgx-dir/guest.json";
	spawn(&r, NULL, NULL, argv);
	assert_status(&r, 1);
	assert_contains(r.err, "softsgx guest: cannot write the trace to "
			       "/nonexistent-softsgx-dir/guest.json: No such file or directory");
	/* Checked before the cycle starts: nothing was printed. */
	assert_string_equal(r.out, "");
	result_free(&r);
	tmpdir_remove(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo_traced),    cmocka_unit_test(test_demo_truncated),
		cmocka_unit_test(test_no_sgx_no_file), cmocka_unit_test(test_unwritable),
		cmocka_unit_test(test_guest_traced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
