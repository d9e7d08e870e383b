// SPDX-License-Identifier: MIT
/*
 * `softsgx run` and programs the shim library cannot reach: statically
 * linked ones (and scripts whose interpreter is one, found through PATH
 * too), and set-user-ID ones whose exec the dynamic loader treats as
 * secure. They are refused before exec with a plain reason and exit 126;
 * --force runs them anyway; a set-user-ID program whose exec is not secure
 * (set-user-ID root, run by root) runs with the shim, as it should.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/cli_fixture.h"

static char dir[PATH_MAX];
static char static_prog[PATH_MAX + 16];

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* A statically linked program that prints "ran"; false when the toolchain cannot link one. */
static bool build_static(void)
{
	char src[PATH_MAX + 16], cmd[3 * PATH_MAX];

	snprintf(src, sizeof(src), "%s/static.c", dir);
	snprintf(static_prog, sizeof(static_prog), "%s/static", dir);
	write_file(src, "#include <stdio.h>\nint main(void) { puts(\"ran\"); return 0; }\n", 0644);
	snprintf(cmd, sizeof(cmd), "cc -static -o %s %s >/dev/null 2>&1", static_prog, src);
	return !system(cmd);
}

static void run(struct cli_result *r, const char *const *env, const char *const *args)
{
	cli_exec_env(r, env, NULL, args);
}

static void test_static_refused(void **state)
{
	char script[PATH_MAX + 16], text[PATH_MAX + 32], path_env[PATH_MAX + 16];
	struct cli_result r;

	(void)state;
	if (!build_static()) {
		printf("skipped: `cc -static` cannot link a program here (no libc.a?)\n");
		skip();
	}
	run(&r, NULL, CLI_ARGS("run", "--", static_prog));
	cli_assert_status(&r, 126);
	cli_assert_contains(r.err, "is statically linked");
	cli_assert_contains(r.err, static_prog);
	assert_string_equal(r.out, "");
	cli_result_free(&r);

	/* Found through PATH, as execvp finds it. */
	snprintf(path_env, sizeof(path_env), "PATH=%s", dir);
	run(&r, CLI_ARGS(path_env), CLI_ARGS("run", "--", "static"));
	cli_assert_status(&r, 126);
	cli_assert_contains(r.err, "is statically linked");
	cli_result_free(&r);

	/* A script runs its interpreter: the interpreter is what counts. */
	snprintf(script, sizeof(script), "%s/script", dir);
	snprintf(text, sizeof(text), "#!%s\n", static_prog);
	write_file(script, text, 0755);
	run(&r, NULL, CLI_ARGS("run", "--", script));
	cli_assert_status(&r, 126);
	cli_assert_contains(r.err, "is statically linked");
	cli_result_free(&r);

	run(&r, NULL, CLI_ARGS("run", "--force", "--", static_prog));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "ran\n");
	cli_result_free(&r);
}

static void test_dynamic_runs(void **state)
{
	char script[PATH_MAX + 16];
	struct cli_result r;

	(void)state;
	/* A dynamic program found in PATH, and a script of /bin/sh. */
	run(&r, NULL, CLI_ARGS("run", "--", "stat", "-c", "%F %t:%T", "/dev/sgx_enclave"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "character special file a:7d\n");
	cli_result_free(&r);
	snprintf(script, sizeof(script), "%s/sh-script", dir);
	write_file(script, "#!/bin/sh\ntest -c /dev/sgx/enclave && echo device\n", 0755);
	run(&r, NULL, CLI_ARGS("run", "--", script));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "device\n");
	cli_result_free(&r);
	run(&r, NULL, CLI_ARGS("run", "--", "softsgx-no-such-program"));
	cli_assert_status(&r, 127);
	cli_result_free(&r);
}

/* A copy of stat(1) with mode @mode owned by @uid; false when this cannot be set up. */
static bool setuid_copy(char *out, size_t len, uid_t uid, mode_t mode)
{
	char cmd[3 * PATH_MAX];
	struct statvfs vfs;

	snprintf(out, len, "%s/stat-setuid", dir);
	snprintf(cmd, sizeof(cmd), "cp \"$(command -v stat)\" %s", out);
	if (system(cmd) || chown(out, uid, (gid_t)-1) || chmod(out, mode))
		return false;
	return !statvfs(out, &vfs) && !(vfs.f_flag & ST_NOSUID);
}

static void test_setuid(void **state)
{
	char prog[PATH_MAX + 32];
	struct cli_result r;

	(void)state;
	if (geteuid() != 0) {
		printf("skipped: making a program set-user-ID to another user needs root\n");
		skip();
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) {
		printf("skipped: running with no_new_privs, where exec ignores set-user-ID bits\n");
		skip();
	}
	if (!setuid_copy(prog, sizeof(prog), 65534, 04755)) {
		printf("skipped: %s cannot hold a set-user-ID program (nosuid mount?)\n", dir);
		skip();
	}
	/* Set-user-ID to another user: the loader's secure mode drops LD_PRELOAD. */
	run(&r, NULL, CLI_ARGS("run", "--", prog, "-c", "%t", "/dev/sgx_enclave"));
	cli_assert_status(&r, 126);
	cli_assert_contains(r.err, "is set-user-ID to another user");
	cli_result_free(&r);
	/* Forced: it runs without the shim, and indeed sees no device. */
	run(&r, NULL, CLI_ARGS("run", "--force", "--", prog, "-c", "%t", "/dev/sgx_enclave"));
	assert_int_not_equal(r.status, 0);
	cli_result_free(&r);
	/* Set-user-ID root run by root changes no ID: no secure mode, the shim is there. */
	assert_int_equal(chown(prog, 0, (gid_t)-1), 0);
	assert_int_equal(chmod(prog, 04755), 0);
	run(&r, NULL, CLI_ARGS("run", "--", prog, "-c", "%t", "/dev/sgx_enclave"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "a\n");
	cli_result_free(&r);
	/* Set-group-ID to another group. */
	assert_int_equal(chown(prog, 0, 65534), 0);
	assert_int_equal(chmod(prog, 02755), 0);
	run(&r, NULL, CLI_ARGS("run", "--", prog, "-c", "%t", "/dev/sgx_enclave"));
	cli_assert_status(&r, 126);
	cli_assert_contains(r.err, "is set-group-ID to another group");
	cli_result_free(&r);
}

static int setup(void **state)
{
	(void)state;
	cli_tmpdir_make(dir, sizeof(dir), "run-reach");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cli_tmpdir_remove(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_refused),
		cmocka_unit_test(test_dynamic_runs),
		cmocka_unit_test(test_setuid),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
