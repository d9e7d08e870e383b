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
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "stats_file.h"

extern char **environ;

struct fixture {
	char dir[64];	  /* XDG_RUNTIME_DIR of the test */
	char xdg_env[96]; /* "XDG_RUNTIME_DIR=..." */
	pid_t holder;	  /* a program under softsgx run, or 0 */
	int holder_stdin; /* closing it ends the holder */
};

struct run {
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

/* Our environment with XDG_RUNTIME_DIR replaced and @extra ("NAME=value") added. */
static char **child_env(const struct fixture *f, const char *extra)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	assert_non_null(env);
	env[k++] = (char *)f->xdg_env;
	if (extra)
		env[k++] = (char *)extra;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "XDG_RUNTIME_DIR=", 16) && strncmp(*e, "SOFTSGX_STATS=", 14) &&
		    strncmp(*e, "LD_PRELOAD=", 11))
			env[k++] = *e;
	env[k] = NULL;
	return env;
}

static char *read_all(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	assert_non_null(buf);
	for (;;) {
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* softsgx @args (NULL-terminated, without argv[0]); stderr goes to a file, read after. */
static void top(struct fixture *f, struct run *r, const char *const *args)
{
	posix_spawn_file_actions_t fa;
	char errpath[] = "/tmp/softsgx-test-top-err-XXXXXX";
	char *argv[16] = {(char *)"softsgx"};
	char **envp = child_env(f, NULL);
	int out[2], errfd, status, n = 1;
	pid_t pid;

	for (; *args && n < 15; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	errfd = mkstemp(errpath);
	assert_true(errfd >= 0);
	unlink(errpath);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out[1], 1), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, errfd, 2), 0);
	assert_int_equal(posix_spawn(&pid, env_path("SOFTSGX_BIN"), &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	r->out = read_all(out[0]);
	close(out[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	lseek(errfd, 0, SEEK_SET);
	r->err = read_all(errfd);
	close(errfd);
	free(envp);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

static void assert_status(const struct run *r, int status)
{
	if (r->status != status)
		fail_msg("exit status %d, expected %d\nstdout:\n%s\nstderr:\n%s", r->status, status,
			 r->out, r->err);
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

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/softsgx-test-top-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
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
	char cmd[128];

	if (f->holder) {
		kill(f->holder, SIGKILL);
		holder_stop(f);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
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
	char *argv[] = {(char *)"softsgx",
			(char *)"run",
			(char *)"--epc",
			(char *)"256K",
			(char *)"--sections",
			(char *)"1",
			(char *)"--",
			(char *)env_path("SOFTSGX_EPC_HOLDER"),
			(char *)"100",
			(char *)"8",
			fork_first ? (char *)"fork" : NULL,
			NULL};
	char **envp = child_env(f, extra_env);
	posix_spawn_file_actions_t fa;
	int in[2], out[2], pid = 0;
	char line[64] = {0};
	ssize_t n;
	size_t len = 0;

	env_path("SOFTSGX_PRELOAD");
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, in[0], 0), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out[1], 1), 0);
	assert_int_equal(posix_spawn(&f->holder, env_path("SOFTSGX_BIN"), &fa, NULL, argv, envp),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
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
static void top_json_when_published(struct fixture *f, struct run *r)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)f->holder);
	for (int i = 0; i < 25; i++) {
		top(f, r, ARGS("top", "--once", "--json", "--interval", "0.5", "--pid", pid));
		assert_status(r, 0);
		if (strstr(r->out, "\"enclaves_total\": 1,") &&
		    json_number(r->out, "added_pages") == 101 &&
		    !strstr(r->out, "\"faults_per_s\": null"))
			return;
		run_free(r);
	}
	fail_msg("the holder's enclave never showed up");
}

static void test_help(void **state)
{
	struct fixture *f = *state;
	struct run r;

	top(f, &r, ARGS("top", "--help"));
	assert_status(&r, 0);
	assert_true(!strncmp(r.out, "Usage: softsgx top", 18));
	assert_contains(r.out, "--once");
	assert_contains(r.out, "--interval");
	assert_contains(r.out, "--pid");
	assert_contains(r.out, "--json");
	assert_contains(r.out, "Exit status");
	assert_string_equal(r.err, "");
	run_free(&r);
	top(f, &r, ARGS("help", "top"));
	assert_status(&r, 0);
	assert_true(!strncmp(r.out, "Usage: softsgx top", 18));
	run_free(&r);
	top(f, &r, ARGS("--help"));
	assert_contains(r.out, "top ");
	run_free(&r);
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
		struct run r;

		for (int k = 0; k < 4 && cases[i].args[k]; k++)
			args[k + 1] = cases[i].args[k];
		top(f, &r, args);
		assert_status(&r, 2);
		assert_string_equal(r.out, "");
		assert_contains(r.err, "softsgx top: ");
		assert_contains(r.err, cases[i].message);
		assert_contains(r.err, "Try 'softsgx top --help'.\n");
		run_free(&r);
	}
}

/* Nothing running: said plainly, exit 0; a --pid that is not running: exit 1. */
static void test_nothing_running(void **state)
{
	struct fixture *f = *state;
	struct run r;

	top(f, &r, ARGS("top", "--once", "--interval", "0.1"));
	assert_status(&r, 0);
	assert_contains(r.out, "no softsgx platforms running\n");
	run_free(&r);
	top(f, &r, ARGS("top", "--once", "--json", "-d", "0.1"));
	assert_status(&r, 0);
	assert_string_equal(r.out, "{\"platforms\": []}\n");
	run_free(&r);
	top(f, &r, ARGS("top", "--once", "-d", "0.1", "--pid", "2147483647"));
	assert_status(&r, 1);
	assert_contains(r.out, "no softsgx platform with pid 2147483647\n");
	run_free(&r);
	top(f, &r, ARGS("top", "--once", "--json", "-d", "0.1", "-p", "2147483647"));
	assert_status(&r, 1);
	assert_string_equal(r.out, "{\"platforms\": []}\n");
	assert_contains(r.err, "no softsgx platform with pid 2147483647");
	run_free(&r);
}

static void test_shows_running_program(void **state)
{
	struct fixture *f = *state;
	char pid[16], want[64];
	unsigned long long epc, evicted, va;
	const char *e;
	struct run r;

	holder_start(f, NULL, false);
	snprintf(pid, sizeof(pid), "%d", (int)f->holder);
	assert_int_equal(stats_files(f), 1);

	top_json_when_published(f, &r);
	snprintf(want, sizeof(want), "\"pid\": %s, \"program\": \"epc_holder\"", pid);
	assert_contains(r.out, want);
	assert_int_equal(json_number(r.out, "total_pages"), 64);
	assert_true(json_number(r.out, "in_use_pages") > 0);
	assert_contains(r.out, "\"stale\": false");
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
	assert_contains(e, "\"state\": \"created,debug\"");
	assert_int_equal(json_number(r.out, "enclaves_total"), 1);
	/* The vEPC row: 8 pages mapped, every other one touched. */
	e = strstr(r.out, "\"vepcs\": [");
	assert_non_null(e);
	assert_int_equal(json_number(e, "mapped_bytes"), 8 * 4096);
	assert_int_equal(json_number(e, "epc_pages"), 4);
	assert_int_equal(json_number(r.out, "vepcs_total"), 1);
	/* Rates over the sampling interval are numbers (ksgxd may still be evicting). */
	assert_contains(r.out, "\"evictions_per_s\": ");
	assert_null(strstr(r.out, "null"));
	run_free(&r);

	/* Text, without --pid: the one program of this directory. */
	top(f, &r, ARGS("top", "--once", "--interval", "0.3"));
	assert_status(&r, 0);
	assert_contains(r.out, "1 platform\n");
	snprintf(want, sizeof(want), "PID %s  epc_holder", pid);
	assert_contains(r.out, want);
	assert_contains(r.out, "EPC    64 pages (256 KiB): ");
	assert_contains(r.out, "faults/s");
	assert_contains(r.out, "ENCLAVE");
	assert_contains(r.out, "created,debug");
	assert_contains(r.out, "VEPC");
	assert_contains(r.out, "32 KiB");
	assert_string_equal(r.err, "");
	run_free(&r);

	/* Refreshing: one frame per iteration, no screen clearing into a pipe. */
	top(f, &r, ARGS("top", "--iterations", "3", "--interval", "0.1", "--pid", pid));
	assert_status(&r, 0);
	assert_null(strstr(r.out, "\033["));
	unsigned int frames = 0;
	for (const char *p = r.out; (p = strstr(p, "softsgx top - ")); p++)
		frames++;
	assert_int_equal(frames, 3);
	run_free(&r);

	/* The program exits: its file goes with it. */
	holder_stop(f);
	assert_int_equal(stats_files(f), 0);
	top(f, &r, ARGS("top", "--once", "-d", "0.1"));
	assert_status(&r, 0);
	assert_contains(r.out, "no softsgx platforms running");
	run_free(&r);
}

/* A program killed without a chance to clean up: top deletes its file. */
static void test_killed_program_forgotten(void **state)
{
	struct fixture *f = *state;
	struct run r;
	int status;

	holder_start(f, NULL, false);
	assert_int_equal(stats_files(f), 1);
	assert_int_equal(kill(f->holder, SIGKILL), 0);
	assert_int_equal(waitpid(f->holder, &status, 0), f->holder);
	close(f->holder_stdin);
	f->holder = 0;
	assert_int_equal(stats_files(f), 1);
	top(f, &r, ARGS("top", "--once", "-d", "0.1"));
	assert_status(&r, 0);
	assert_contains(r.out, "no softsgx platforms running");
	assert_int_equal(stats_files(f), 0);
	run_free(&r);
}

/* A forked child that exits leaves its parent's file, and publishes none of its own. */
static void test_forked_child_leaves_parent_file(void **state)
{
	struct fixture *f = *state;
	struct run r;

	holder_start(f, NULL, true);
	assert_int_equal(stats_files(f), 1);
	top_json_when_published(f, &r);
	assert_contains(r.out, "\"program\": \"epc_holder\"");
	run_free(&r);
	holder_stop(f);
	assert_int_equal(stats_files(f), 0);
}

/*
 * A live process whose file stopped changing (stuck, or it exec'd a program
 * without the shim) is shown, marked stale; names are escaped in JSON. The
 * file is made here with the writer of kernel/stats_file.c, for our own pid.
 */
static void test_stale_platform_marked(void **state)
{
	struct fixture *f = *state;
	struct sgx_stats_snapshot *snap = calloc(1, sizeof(*snap));
	struct sgx_stats_writer w;
	char dir[96], pid[16], want[64];
	struct run r;

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

	top(f, &r, ARGS("top", "--once", "-d", "0.1"));
	assert_status(&r, 0);
	snprintf(want, sizeof(want), "PID %s  say \"hi\"\\  up ", pid);
	assert_contains(r.out, want);
	assert_contains(r.out, "(stale: no update for ");
	assert_contains(r.out, "rate   - (needs two updates of the program)");
	assert_contains(r.out, "EPC    32 pages (128 KiB): 32 free, 0 in use");
	assert_contains(r.out, "no enclaves, no vEPC instances");
	run_free(&r);
	top(f, &r, ARGS("top", "--once", "--json", "-d", "0.1", "--pid", pid));
	assert_status(&r, 0);
	assert_contains(r.out, "\"program\": \"say \\\"hi\\\"\\\\\"");
	assert_contains(r.out, "\"stale\": true");
	assert_contains(r.out, "\"faults_per_s\": null");
	assert_contains(r.out, "\"enclaves\": []");
	run_free(&r);
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
	struct run r;

	holder_start(f, "SOFTSGX_STATS=0", false);
	snprintf(pid, sizeof(pid), "%d", (int)f->holder);
	assert_int_equal(stats_files(f), 0);
	top(f, &r, ARGS("top", "--once", "-d", "0.1", "--pid", pid));
	assert_status(&r, 1);
	run_free(&r);
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
