// SPDX-License-Identifier: MIT
/*
 * softsgx top, run as a program against real programs under `softsgx run`:
 * it shows a running program's enclave and vEPC with their EPC pages, in
 * text and JSON, with --pid and without, refreshes --iterations times,
 * forgets programs that exited or were killed, and hides programs run with
 * SOFTSGX_STATS=0. Usage and errors as every subcommand. Each test has its
 * own XDG_RUNTIME_DIR, so other programs on the machine never show up.
 *
 * `make check` passes SOFTSGX_BIN (the command), SOFTSGX_PRELOAD (the shim)
 * and SOFTSGX_EPC_HOLDER (tests/shim/epc_holder.c, a program that holds an
 * enclave and a vEPC until its stdin closes).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/cli_fixture.h"
#include "obs/stats_file.h"

struct fixture {
	char dir[64];	  /* XDG_RUNTIME_DIR of the test */
	char xdg_env[96]; /* "XDG_RUNTIME_DIR=..." */
	pid_t holder;	  /* a program under softsgx run, or 0 */
	int holder_stdin; /* closing it ends the holder */
};

/* Our variables the programs do not get: each test has its own directory and shim. */
#define UNSET_VARS CLI_ARGS("XDG_RUNTIME_DIR=", "SOFTSGX_RUNTIME_DIR=", "SOFTSGX_STATS=", "LD_PRELOAD=")

/* softsgx @args (NULL-terminated, without argv[0]) in the directory of @f. */
static void top(struct fixture *f, struct cli_result *r, const char *const *args)
{
	const char *const env[] = {f->xdg_env, NULL};

	cli_exec_env(r, env, UNSET_VARS, args);
}

/* The number after the first "@key": in @json; fails when absent. */
static unsigned long long json_number(const char *json, const char *key)
{
	char pattern[64];
	const char *p;

	snprintf(pattern, sizeof(pattern), "\"%s\": ", key);
	p = strstr(json, pattern);
	if (!p)
		fail_msg("no %s in:\n%s", key, json);
	return strtoull(p + strlen(pattern), NULL, 10);
}

/*
 * @out is JSON Lines (jsonlines.org) of @lines lines: each line one JSON
 * object, starting with the sample's Unix time.
 */
static void assert_json_lines(const char *out, unsigned int lines)
{
	unsigned int n = 0;

	for (const char *p = out; *p; n++) {
		const char *nl = strchr(p, '\n');
		char *line;

		if (!nl)
			fail_msg("the last line does not end in a newline:\n%s", out);
		line = strndup(p, (size_t)(nl - p));
		assert_non_null(line);
		if (!cli_json_is_object(line))
			fail_msg("line %u is not one JSON object:\n%s", n + 1, line);
		if (strncmp(line, "{\"time\": ", 9) || strtod(line + 9, NULL) < 1.7e9)
			fail_msg("line %u does not start with the Unix time:\n%s", n + 1, line);
		free(line);
		p = nl + 1;
	}
	assert_int_equal(n, lines);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	cli_tmpdir_make(f->dir, sizeof(f->dir), "test-top");
	snprintf(f->xdg_env, sizeof(f->xdg_env), "XDG_RUNTIME_DIR=%s", f->dir);
	f->holder_stdin = -1;
	*state = f;
	return 0;
}

static void holder_stop(struct fixture *f)
{
	int status;

	if (!f->holder)
		return;
	close(f->holder_stdin);
	assert_int_equal(waitpid(f->holder, &status, 0), f->holder);
	assert_true(WIFEXITED(status) || WIFSIGNALED(status));
	f->holder = 0;
	f->holder_stdin = -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->holder) {
		kill(f->holder, SIGKILL);
		holder_stop(f);
	}
	cli_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/*
 * `softsgx run --epc 256K --sections 1 -- epc_holder 100 8` (@extra_env
 * added), waited for until it says "ready PID": an enclave of 101 pages on
 * a 64-page EPC (so some are evicted) and a vEPC of 8 pages, 4 touched.
 * With @fork_first, a child of it exits before it builds anything.
 */
static void holder_start(struct fixture *f, const char *extra_env, bool fork_first)
{
	const char *const argv[] = {"softsgx",
				    "run",
				    "--epc",
				    "256K",
				    "--sections",
				    "1",
				    "--",
				    cli_env_path("SOFTSGX_EPC_HOLDER"),
				    "100",
				    "8",
				    fork_first ? "fork" : NULL,
				    NULL};
	const char *const env[] = {f->xdg_env, extra_env, NULL};
	const struct cli_cmd c = {.path = cli_bin(), .argv = argv, .env = env, .unset = UNSET_VARS};
	int in[2], out[2], pid = 0;
	char line[64] = {0};
	ssize_t n;
	size_t len = 0;

	cli_env_path("SOFTSGX_PRELOAD");
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	f->holder = cli_start(&c, in[0], out[1], -1);
	close(in[0]);
	close(out[1]);
	f->holder_stdin = in[1];
	while (len < sizeof(line) - 1 && !strchr(line, '\n')) {
		n = read(out[0], line + len, sizeof(line) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("epc_holder ended before it was ready");
		len += (size_t)n;
	}
	close(out[0]);
	assert_int_equal(sscanf(line, "ready %d", &pid), 1);
	/* softsgx run execs the program: same process. */
	assert_int_equal(pid, f->holder);
}

static unsigned int stats_files(const struct fixture *f)
{
	char path[96];
	struct dirent *de;
	unsigned int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/softsgx", f->dir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += strstr(de->d_name, ".stats") != NULL;
	closedir(d);
	return n;
}

/*
 * `top --once --json --pid HOLDER` once the holder's writer has published
 * its enclave and updated again during top's sampling interval, so the
 * rates are numbers (within its 200 ms period; a loaded machine gets some
 * seconds).
 */
static void top_json_when_published(struct fixture *f, struct cli_result *r)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)f->holder);
	for (int i = 0; i < 25; i++) {
		top(f, r, CLI_ARGS("top", "--once", "--json", "--interval", "0.5", "--pid", pid));
		cli_assert_status(r, 0);
		if (strstr(r->out, "\"enclaves_total\": 1,") &&
		    json_number(r->out, "added_pages") == 101 &&
		    !strstr(r->out, "\"faults_per_s\": null"))
			return;
		cli_result_free(r);
	}
	fail_msg("the holder's enclave never showed up");
}

static void test_help(void **state)
{
	struct fixture *f = *state;
	struct cli_result r;

	top(f, &r, CLI_ARGS("top", "--help"));
	cli_assert_status(&r, 0);
	assert_true(!strncmp(r.out, "Usage: softsgx top", 18));
	cli_assert_contains(r.out, "--once");
	cli_assert_contains(r.out, "--interval");
	cli_assert_contains(r.out, "--pid");
	cli_assert_contains(r.out, "--json");
	cli_assert_contains(r.out, "Exit status");
	assert_string_equal(r.err, "");
	cli_result_free(&r);
	top(f, &r, CLI_ARGS("help", "top"));
	cli_assert_status(&r, 0);
	assert_true(!strncmp(r.out, "Usage: softsgx top", 18));
	cli_result_free(&r);
	top(f, &r, CLI_ARGS("--help"));
	cli_assert_contains(r.out, "top ");
	cli_result_free(&r);
}

static void test_bad_arguments(void **state)
{
	static const struct {
		const char *args[4];
		const char *message;
	} cases[] = {
		{{"--interval", "0"}, "bad interval '0'"},
		{{"--interval", "fast"}, "bad interval 'fast'"},
		{{"-d", "nan"}, "bad interval 'nan'"},
		{{"--interval", "3601"}, "bad interval '3601'"},
		{{"--iterations", "0"}, "bad iteration count '0'"},
		{{"--pid", "0"}, "bad pid '0'"},
		{{"--pid", "12ab"}, "bad pid '12ab'"},
		{{"--pid"}, "option '--pid' needs an argument"},
		{{"--once", "-n", "2"}, "--once and --iterations contradict each other"},
		{{"--frobnicate"}, "unknown option '--frobnicate'"},
		{{"--once", "extra"}, "unexpected argument 'extra'"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[6] = {"top"};
		struct cli_result r;

		for (int k = 0; k < 4 && cases[i].args[k]; k++)
			args[k + 1] = cases[i].args[k];
		top(f, &r, args);
		cli_assert_status(&r, 2);
		assert_string_equal(r.out, "");
		cli_assert_contains(r.err, "softsgx top: ");
		cli_assert_contains(r.err, cases[i].message);
		cli_assert_contains(r.err, "Try 'softsgx top --help'.\n");
		cli_result_free(&r);
	}
}

/* Nothing running: said plainly, exit 0; a --pid that is not running: exit 1. */
static void test_nothing_running(void **state)
{
	struct fixture *f = *state;
	struct cli_result r;

	top(f, &r, CLI_ARGS("top", "--once", "--interval", "0.1"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "no softsgx platforms running\n");
	cli_result_free(&r);
	top(f, &r, CLI_ARGS("top", "--once", "--json", "-d", "0.1"));
	cli_assert_status(&r, 0);
	assert_json_lines(r.out, 1);
	cli_assert_contains(r.out, ", \"platforms\": [], \"service\": null}\n");
	cli_result_free(&r);
	top(f, &r, CLI_ARGS("top", "--once", "-d", "0.1", "--pid", "2147483647"));
	cli_assert_status(&r, 1);
	cli_assert_contains(r.out, "no softsgx platform with pid 2147483647\n");
	cli_result_free(&r);
	top(f, &r, CLI_ARGS("top", "--once", "--json", "-d", "0.1", "-p", "2147483647"));
	cli_assert_status(&r, 1);
	assert_json_lines(r.out, 1);
	cli_assert_contains(r.out, ", \"platforms\": [], \"service\": null}\n");
	cli_assert_contains(r.err, "no softsgx platform with pid 2147483647");
	cli_result_free(&r);
}

static void test_shows_running_program(void **state)
{
	struct fixture *f = *state;
	char pid[16], want[64];
	unsigned long long epc, evicted, va;
	const char *e;
	struct cli_result r;

	holder_start(f, NULL, false);
	snprintf(pid, sizeof(pid), "%d", (int)f->holder);
	assert_int_equal(stats_files(f), 1);

	top_json_when_published(f, &r);
	assert_json_lines(r.out, 1);
	snprintf(want, sizeof(want), "\"pid\": %s, \"program\": \"epc_holder\"", pid);
	cli_assert_contains(r.out, want);
	assert_int_equal(json_number(r.out, "total_pages"), 64);
	assert_true(json_number(r.out, "in_use_pages") > 0);
	cli_assert_contains(r.out, "\"stale\": false");
	assert_true(json_number(r.out, "evictions") > 0);
	/* The enclave row: 101 pages added, SECS and a VA page; every page is somewhere. */
	e = strstr(r.out, "\"enclaves\": [");
	assert_non_null(e);
	epc = json_number(e, "epc_pages");
	va = json_number(e, "va_pages");
	evicted = json_number(e, "evicted_pages");
	assert_true(epc > 0);
	assert_int_equal(va, 1);
	assert_true(evicted > 0);
	assert_int_equal(epc + evicted, 101 + 1 + 1);
	cli_assert_contains(e, "\"state\": \"created,debug\"");
	assert_int_equal(json_number(r.out, "enclaves_total"), 1);
	/* The vEPC row: 8 pages mapped, every other one touched. */
	e = strstr(r.out, "\"vepcs\": [");
	assert_non_null(e);
	assert_int_equal(json_number(e, "mapped_bytes"), 8 * 4096);
	assert_int_equal(json_number(e, "epc_pages"), 4);
	assert_int_equal(json_number(r.out, "vepcs_total"), 1);
	/* Rates over the sampling interval are numbers (ksgxd may still be evicting). */
	cli_assert_contains(r.out, "\"evictions_per_s\": ");
	/* No null but the absent service's (none runs in the test's XDG_RUNTIME_DIR). */
	assert_null(strstr(strstr(r.out, "\"platforms\""), "null,"));
	cli_assert_contains(r.out, "\"service\": null}\n");
	cli_result_free(&r);

	/* A stream: one line per refresh, as it happens. */
	top(f, &r, CLI_ARGS("top", "--json", "-n", "3", "-d", "0.1", "--pid", pid));
	cli_assert_status(&r, 0);
	assert_json_lines(r.out, 3);
	cli_result_free(&r);

	/* Text, without --pid: the one program of this directory. */
	top(f, &r, CLI_ARGS("top", "--once", "--interval", "0.3"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "1 platform\n");
	snprintf(want, sizeof(want), "PID %s  epc_holder", pid);
	cli_assert_contains(r.out, want);
	cli_assert_contains(r.out, "EPC    64 pages (256 KiB): ");
	cli_assert_contains(r.out, "faults/s");
	cli_assert_contains(r.out, "ENCLAVE");
	cli_assert_contains(r.out, "created,debug");
	cli_assert_contains(r.out, "VEPC");
	cli_assert_contains(r.out, "32 KiB");
	assert_string_equal(r.err, "");
	cli_result_free(&r);

	/* Refreshing: one frame per iteration, no screen clearing into what is no terminal. */
	top(f, &r, CLI_ARGS("top", "--iterations", "3", "--interval", "0.1", "--pid", pid));
	cli_assert_status(&r, 0);
	assert_null(strstr(r.out, "\033["));
	unsigned int frames = 0;
	for (const char *p = r.out; (p = strstr(p, "softsgx top - ")); p++)
		frames++;
	assert_int_equal(frames, 3);
	cli_result_free(&r);

	/* The program exits: its file goes with it. */
	holder_stop(f);
	assert_int_equal(stats_files(f), 0);
	top(f, &r, CLI_ARGS("top", "--once", "-d", "0.1"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "no softsgx platforms running");
	cli_result_free(&r);
}

/* A program killed without a chance to clean up: top deletes its file. */
static void test_killed_program_forgotten(void **state)
{
	struct fixture *f = *state;
	struct cli_result r;
	int status;

	holder_start(f, NULL, false);
	assert_int_equal(stats_files(f), 1);
	assert_int_equal(kill(f->holder, SIGKILL), 0);
	assert_int_equal(waitpid(f->holder, &status, 0), f->holder);
	close(f->holder_stdin);
	f->holder = 0;
	assert_int_equal(stats_files(f), 1);
	top(f, &r, CLI_ARGS("top", "--once", "-d", "0.1"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "no softsgx platforms running");
	assert_int_equal(stats_files(f), 0);
	cli_result_free(&r);
}

/* A forked child that exits leaves its parent's file, and publishes none of its own. */
static void test_forked_child_leaves_parent_file(void **state)
{
	struct fixture *f = *state;
	struct cli_result r;

	holder_start(f, NULL, true);
	assert_int_equal(stats_files(f), 1);
	top_json_when_published(f, &r);
	cli_assert_contains(r.out, "\"program\": \"epc_holder\"");
	cli_result_free(&r);
	holder_stop(f);
	assert_int_equal(stats_files(f), 0);
}

/*
 * A live process whose file stopped changing (stuck, or it exec'd a program
 * without the shim) is shown, marked stale; names are escaped in JSON. The
 * file is made here with the writer of obs/stats_file.c, for our own pid.
 */
static void test_stale_platform_marked(void **state)
{
	struct fixture *f = *state;
	struct sgx_stats_snapshot *snap = calloc(1, sizeof(*snap));
	struct sgx_stats_writer w;
	char dir[96], pid[16], want[64];
	struct cli_result r;

	assert_non_null(snap);
	snprintf(dir, sizeof(dir), "%s/softsgx", f->dir);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_int_equal(sgx_stats_writer_open(&w, dir, getpid(), "say \"hi\"\\"), 0);
	snap->stats.total_pages = snap->stats.free_pages = 32;
	sgx_stats_writer_publish(&w, snap);
	/* Last updated long ago. */
	sgx_stats_write_begin(&w);
	w.file->snap.updated_ns = 1;
	sgx_stats_write_end(&w);

	top(f, &r, CLI_ARGS("top", "--once", "-d", "0.1"));
	cli_assert_status(&r, 0);
	snprintf(want, sizeof(want), "PID %s  say \"hi\"\\  up ", pid);
	cli_assert_contains(r.out, want);
	cli_assert_contains(r.out, "(stale: no update for ");
	cli_assert_contains(r.out, "rate   - (needs two updates of the program)");
	cli_assert_contains(r.out, "EPC    32 pages (128 KiB): 32 free, 0 in use");
	cli_assert_contains(r.out, "no enclaves, no vEPC instances");
	cli_result_free(&r);
	top(f, &r, CLI_ARGS("top", "--once", "--json", "-d", "0.1", "--pid", pid));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "\"program\": \"say \\\"hi\\\"\\\\\"");
	cli_assert_contains(r.out, "\"stale\": true");
	cli_assert_contains(r.out, "\"faults_per_s\": null");
	cli_assert_contains(r.out, "\"enclaves\": []");
	cli_result_free(&r);
	sgx_stats_writer_close(&w, true);
	free(snap);
}

/* A program that ended without exit() (killed, _exit): the next one started deletes its file. */
static void test_next_program_cleans_up(void **state)
{
	struct fixture *f = *state;
	struct sgx_stats_writer w;
	char dir[96], name[32], path[160];
	pid_t gone = fork();
	int status;

	assert_true(gone >= 0);
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, &status, 0), gone);
	snprintf(dir, sizeof(dir), "%s/softsgx", f->dir);
	assert_int_equal(sgx_stats_writer_open(&w, dir, gone, "gone"), 0);
	sgx_stats_writer_close(&w, false);
	snprintf(name, sizeof(name), "%d.stats", (int)gone);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(access(path, F_OK), 0);
	holder_start(f, NULL, false);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(stats_files(f), 1);
	holder_stop(f);
}

/* SOFTSGX_STATS=0: the program publishes nothing. */
static void test_stats_off(void **state)
{
	struct fixture *f = *state;
	char pid[16];
	struct cli_result r;

	holder_start(f, "SOFTSGX_STATS=0", false);
	snprintf(pid, sizeof(pid), "%d", (int)f->holder);
	assert_int_equal(stats_files(f), 0);
	top(f, &r, CLI_ARGS("top", "--once", "-d", "0.1", "--pid", pid));
	cli_assert_status(&r, 1);
	cli_result_free(&r);
	holder_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shows_running_program, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_program_forgotten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forked_child_leaves_parent_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_platform_marked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_program_cleans_up, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
