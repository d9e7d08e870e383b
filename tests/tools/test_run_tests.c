// SPDX-License-Identifier: MIT
/*
 * tests/run-tests, the runner of `make check`, on stand-in test programs
 * (shell scripts): cmocka binaries count their own tests, passed, failed
 * and skipped; any other program is one test, skipped when it exits 77
 * (automake's convention), failed on any other non-zero status; the
 * closing line gives the totals and the runner fails when anything failed.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/common/cli_fixture.h"

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	cli_tmpdir_make(f->dir, sizeof(f->dir), "test-run-tests");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cli_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/* An executable script @name in @f's directory printing @out and exiting @rc; its path. */
static char *program(struct fixture *f, const char *name, const char *out, int rc)
{
	char *path;
	FILE *s;

	assert_true(asprintf(&path, "%s/%s", f->dir, name) > 0);
	s = fopen(path, "w");
	assert_non_null(s);
	fprintf(s, "#!/bin/sh\nprintf '%%s' '%s'\nexit %d\n", out, rc);
	assert_int_equal(fclose(s), 0);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

/* tests/run-tests @progs (NULL-terminated). */
static void runner(struct cli_result *r, char **progs)
{
	const char *argv[8] = {"tests/run-tests"};
	struct cli_cmd c = {.argv = argv};
	size_t n = 1;

	for (; *progs && n < 7; progs++)
		argv[n++] = *progs;
	argv[n] = NULL;
	cli_run(r, &c);
}

/* The summary line of @r. */
static void expect_summary(const struct cli_result *r, const char *line)
{
	char want[128];

	snprintf(want, sizeof(want), "\ncheck: %s\n", line);
	cli_assert_contains(r->out, want);
}

#define CMOCKA_SUMMARY(passed, skipped)                                                            \
	"[==========] 3 test(s) run.\n[  PASSED  ] " passed " test(s).\n"                          \
	"[  SKIPPED ] " skipped " test(s), listed below:\n[  SKIPPED ] test_x\n"

static void test_exit_77_is_a_skip(void **state)
{
	struct fixture *f = *state;
	char *progs[] = {program(f, "passes", "ok\n", 0),
			 program(f, "skips", "skipped: no frobnicator on this host\n", 77),
			 program(f, "cmocka", CMOCKA_SUMMARY("2", "1"), 0), NULL};
	struct cli_result r;
	char want[160];

	runner(&r, progs);
	cli_assert_status(&r, 0);
	/* The program's reason is in the log, and which program skipped. */
	cli_assert_contains(r.out, "skipped: no frobnicator on this host\n");
	snprintf(want, sizeof(want), "skipped: %s (exit 77)\n", progs[1]);
	cli_assert_contains(r.out, want);
	expect_summary(&r, "3 passed, 0 failed, 2 skipped");
	cli_result_free(&r);
	for (char **p = progs; *p; p++)
		free(*p);
}

static void test_failures(void **state)
{
	struct fixture *f = *state;
	/* 77 from a cmocka binary is its count of failed tests, not a skip. */
	char *progs[] = {program(f, "fails", "", 1),
			 program(f, "crashes", "[==========] 1 test(s) run.\n", 139),
			 program(f, "cmocka77",
				 "[==========] 77 test(s) run.\n[  PASSED  ] 0 test(s).\n"
				 "[  FAILED  ] 77 test(s), listed below:\n",
				 77),
			 NULL};
	struct cli_result r;
	char want[160];

	runner(&r, progs);
	cli_assert_status(&r, 1);
	snprintf(want, sizeof(want), "broken: %s (exit 1)\n", progs[0]);
	cli_assert_contains(r.out, want);
	snprintf(want, sizeof(want), "broken: %s (exit 139)\n", progs[1]);
	cli_assert_contains(r.out, want);
	expect_summary(&r, "0 passed, 79 failed, 0 skipped");
	cli_result_free(&r);
	for (char **p = progs; *p; p++)
		free(*p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exit_77_is_a_skip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
