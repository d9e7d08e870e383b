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
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/common/cli_fixture.h"
#include "tests/common/json_check.h"

/* The shim, the platform's defaults and the trace settings come from the tests only. */
#define UNSET_VARS                                                                                 \
	CLI_ARGS("LD_PRELOAD=", "SOFTSGX_EPC=", "SOFTSGX_SECTIONS=", "SOFTSGX_SGX1=",              \
		 "SOFTSGX_TRACE")

/*
 * Run @argv in @cwd (NULL: ours) with our environment minus UNSET_VARS,
 * plus @extra (NULL or one NAME=VALUE).
 */
static void spawn(struct cli_result *r, const char *cwd, const char *extra, const char *const *argv)
{
	const char *const env[] = {extra, NULL};
	const struct cli_cmd c = {.argv = argv, .env = env, .unset = UNSET_VARS, .cwd = cwd};

	cli_run(r, &c);
}

/* The demo as `make run` runs it, with `--trace @trace` (and @extra in the environment). */
static void run_demo(struct cli_result *r, const char *cwd, const char *extra, const char *trace)
{
	const char *argv[] = {
		cli_env_path("SOFTSGX_BIN"),
		"run",
		"--epc",
		"1M",
		"--sections",
		"1",
		"--trace",
		trace,
		"--",
		cli_env_path("SOFTSGX_DEMO"),
		"--epc",
		"1M",
		cli_env_path("SOFTSGX_TEST_ENCLAVE"),
		NULL,
	};

	cli_env_path("SOFTSGX_PRELOAD");
	spawn(r, cwd, extra, argv);
}

/* @path read and checked as a trace-event file; free() the result. */
static char *load_trace(const char *path, struct trace_summary *sum)
{
	size_t len;
	char *json = cli_read_file(path, &len);

	if (!trace_json_check(json, len, sum))
		fail_msg("%s is not a valid trace-event file", path);
	return json;
}

static void assert_events(const char *json, const char *name)
{
	if (!trace_json_count(json, name))
		fail_msg("no \"%s\" event in the trace", name);
}

static void test_demo_traced(void **state)
{
	static const char *const expected[] = {
		"ECREATE", "EADD",    "EEXTEND", "EINIT",  "EPA",     "EBLOCK",	 "ETRACK",
		"EWB",	   "ELDU",    "EREMOVE", "EENTER", "EEXIT",   "ERESUME", "AEX",
		"EREPORT", "EGETKEY", "enclave", "fault",  "reclaim",
	};
	struct trace_summary sum;
	char dir[40];
	struct cli_result r;
	char path[64];
	char *json;

	(void)state;
	cli_tmpdir_make(dir, sizeof(dir), "trace");
	/* A relative FILE is relative to where `softsgx run` was started. */
	run_demo(&r, dir, NULL, "demo.json");
	cli_assert_status(&r, 0);
	if (*r.err)
		fail_msg("unexpected output on stderr:\n%s", r.err);
	cli_result_free(&r);

	snprintf(path, sizeof(path), "%s/demo.json", dir);
	json = load_trace(path, &sum);
	assert_true(sum.display_ns);
	assert_true(sum.events > 1000);
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		assert_events(json, expected[i]);
	/* 25 enclaves, one ECREATE and EINIT each; no cap reached. */
	assert_int_equal(trace_json_count(json, "ECREATE"), trace_json_count(json, "EINIT"));
	assert_null(strstr(json, "trace truncated"));
	/* The demo's #UD inside the enclave: an AEX with vector 6. */
	cli_assert_contains(json, "\"vector\":6");
	cli_assert_contains(json, "\"cat\":\"enclu\"");
	cli_assert_contains(json, "\"cat\":\"encls,reclaim\"");
	/* Perfetto labels the process with the program's name. */
	cli_assert_contains(json, "{\"name\":\"process_name\",\"cat\":\"__metadata\",\"ph\":\"M\"");
	cli_assert_contains(json, "\"args\":{\"name\":\"demo\"}");
	/* The reclaimer's track is named as Linux's (issue 19). */
	cli_assert_contains(json, "{\"name\":\"thread_name\",\"cat\":\"__metadata\",\"ph\":\"M\"");
	cli_assert_contains(json, "\"args\":{\"name\":\"ksgxd\"}");
	/*
	 * EPC pressure as counter tracks: free and in use, and the evictions
	 * and reloads since boot, from a first quiet sample to the last change.
	 */
	assert_true(trace_json_count(json, "EPC pages") >= 2);
	assert_int_equal(trace_json_count(json, "EPC pages"), trace_json_count(json, "EPC paging"));
	cli_assert_contains(json, "{\"name\":\"EPC pages\",\"cat\":\"epc\",\"ph\":\"C\",");
	cli_assert_contains(json, "\"args\":{\"free\":256,\"in use\":0}}");
	cli_assert_contains(json, "\"args\":{\"evictions\":0,\"reloads\":0}}");
	free(json);
	cli_tmpdir_remove(dir);
}

static void test_demo_truncated(void **state)
{
	struct trace_summary sum;
	char dir[40];
	struct cli_result r;
	char path[64];
	char *json;

	(void)state;
	cli_tmpdir_make(dir, sizeof(dir), "trace");
	snprintf(path, sizeof(path), "%s/t.json", dir);
	run_demo(&r, NULL, "SOFTSGX_TRACE_MAX_EVENTS=100", path);
	cli_assert_status(&r, 0);
	cli_result_free(&r);
	json = load_trace(path, &sum);
	/* The 100 kept and the marker, besides the process and thread names. */
	assert_int_equal(sum.events - trace_json_count(json, "process_name") -
				 trace_json_count(json, "thread_name"),
			 101);
	assert_int_equal(trace_json_count(json, "process_name"), 1);
	assert_int_equal(trace_json_count(json, "trace truncated"), 1);
	cli_assert_contains(json, "\"max_events\":100,\"dropped_events\":");
	free(json);
	cli_tmpdir_remove(dir);
}

/* A process that did nothing with SGX leaves no trace (it may be a shell around one that did). */
static void test_no_sgx_no_file(void **state)
{
	const char *argv[] = {
		cli_env_path("SOFTSGX_BIN"), "run", "--trace", NULL, "--", "/bin/true", NULL};
	char dir[40];
	struct cli_result r;
	char path[64];
	struct stat st;

	(void)state;
	cli_tmpdir_make(dir, sizeof(dir), "trace");
	snprintf(path, sizeof(path), "%s/none.json", dir);
	argv[3] = path;
	spawn(&r, NULL, NULL, argv);
	cli_assert_status(&r, 0);
	cli_result_free(&r);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	cli_tmpdir_remove(dir);
}

static void test_unwritable(void **state)
{
	char dir[40];
	struct cli_result r;
	char marker[64], script[128], missing[96];
	const char *argv[] = {cli_env_path("SOFTSGX_BIN"),
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
	cli_tmpdir_make(dir, sizeof(dir), "trace");
	snprintf(marker, sizeof(marker), "%s/ran", dir);
	snprintf(script, sizeof(script), "touch '%s'", marker);

	/* A directory that does not exist: a bad setting (2), the program never starts. */
	snprintf(missing, sizeof(missing), "%s/no/such/dir/t.json", dir);
	argv[3] = missing;
	spawn(&r, NULL, NULL, argv);
	cli_assert_status(&r, 2);
	cli_assert_contains(r.err, "softsgx run: cannot write the trace to ");
	cli_assert_contains(r.err, "/no/such/dir/t.json: No such file or directory");
	cli_result_free(&r);
	assert_int_equal(stat(marker, &st), -1);

	/* FILE is a directory. */
	argv[3] = dir;
	spawn(&r, NULL, NULL, argv);
	cli_assert_status(&r, 2);
	cli_assert_contains(r.err, ": Is a directory");
	cli_result_free(&r);
	assert_int_equal(stat(marker, &st), -1);

	/* No name at all is a usage error. */
	argv[3] = "";
	spawn(&r, NULL, NULL, argv);
	cli_assert_status(&r, 2);
	cli_assert_contains(r.err, "softsgx run: --trace needs a file name");
	cli_result_free(&r);
	assert_int_equal(stat(marker, &st), -1);
	cli_tmpdir_remove(dir);
}

static void test_guest_traced(void **state)
{
	/* Default sizes: with a small instance B the guest's reclaimer may evict the SECS. */
	const char *argv[] = {cli_env_path("SOFTSGX_BIN"), "guest", "--trace", NULL, NULL};
	struct trace_summary sum;
	char dir[40];
	struct cli_result r;
	char path[64];
	char *json;

	(void)state;
	cli_tmpdir_make(dir, sizeof(dir), "trace");
	snprintf(path, sizeof(path), "%s/guest.json", dir);
	argv[3] = path;
	spawn(&r, NULL, NULL, argv);
	cli_assert_status(&r, 0);
	cli_result_free(&r);
	json = load_trace(path, &sum);
	/* A REMOVE_ALL per instance, and again on A, which held the SECS. */
	assert_int_equal(trace_json_count(json, "REMOVE_ALL"), 3);
	cli_assert_contains(json, "\"name\":\"REMOVE_ALL\",\"cat\":\"vepc\"");
	cli_assert_contains(json, "\"args\":{\"ret\":1}");
	assert_events(json, "ECREATE");
	assert_events(json, "EINIT");
	assert_events(json, "EREMOVE");
	assert_events(json, "fault");
	/* vEPC pages backed on first touch, one instant each (issue 19). */
	assert_events(json, "vEPC fault");
	cli_assert_contains(json, "\"name\":\"vEPC fault\",\"cat\":\"vepc\",\"ph\":\"i\"");
	/* Named after the program, as the shim names a traced program. */
	cli_assert_contains(json, "\"args\":{\"name\":\"softsgx\"}");
	free(json);

	argv[3] = "/nonexistent-softsgx-dir/guest.json";
	spawn(&r, NULL, NULL, argv);
	cli_assert_status(&r, 2);
	cli_assert_contains(r.err,
			    "softsgx guest: cannot write the trace to "
			    "/nonexistent-softsgx-dir/guest.json: No such file or directory");
	/* Checked before the cycle starts: nothing was printed. */
	assert_string_equal(r.out, "");
	cli_result_free(&r);
	cli_tmpdir_remove(dir);
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
