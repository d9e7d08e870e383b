// SPDX-License-Identifier: MIT
/*
 * The leak guard (tests/common/leak_guard.c): what a failed test leaves
 * behind is gone before the next test runs. The failing test is run in a
 * child, as cmocka would run it: its assertion longjmps out with the
 * platform booted and the fault handler installed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/encl_fixture.h"
#include "tests/common/leak_guard.h"

static unsigned int nr_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	unsigned int n = 0;
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void (*segv_handler(void))(int)
{
	struct sigaction cur;

	assert_int_equal(sigaction(SIGSEGV, NULL, &cur), 0);
	return cur.sa_handler;
}

/* A test that forgot to free: the teardown frees and reports it. */
static void test_teardown_frees_what_is_left(void **state)
{
	unsigned int threads = nr_threads();
	void (*handler)(int) = segv_handler(); /* cmocka's, during a test */
	struct softsgx_platform *p = ek_platform(1, 64);
	struct ek_enclave e;

	(void)state;
	ek_build(p, &e, 4);
	ek_fault_handler_install(p);
	assert_ptr_not_equal(segv_handler(), handler);
	assert_int_equal(lg_platforms_alive(), 1);
	assert_true(nr_threads() > threads); /* ksgxd runs */
	assert_int_equal(lg_teardown(NULL), -1);
	assert_int_equal(lg_platforms_alive(), 0);
	assert_int_equal(nr_threads(), threads);
	assert_ptr_equal(segv_handler(), handler);
}

/* Freed by the test itself: nothing to do, and the teardown passes. */
static void test_teardown_passes_clean_test(void **state)
{
	struct softsgx_platform *p = ek_platform(1, 64);
	struct softsgx_platform *q = ek_platform(1, 64);

	(void)state;
	assert_int_equal(lg_platforms_alive(), 2);
	lg_platform_free(p);
	lg_platform_free(q);
	assert_int_equal(lg_platforms_alive(), 0);
	assert_int_equal(lg_teardown(NULL), 0);
}

static void failing_test(void **state)
{
	struct softsgx_platform *p = ek_platform(1, 64);

	(void)state;
	ek_fault_handler_install(p);
	assert_int_equal(1, 2); /* longjmps out: p and the handler stay */
}

static unsigned int threads_before;

static void next_test_starts_clean(void **state)
{
	(void)state;
	assert_int_equal(lg_platforms_alive(), 0);
	assert_int_equal(nr_threads(), threads_before);
}

/* In a child: one failing test, then one that checks the state it left. */
static void test_failed_assertion_leaks_nothing(void **state)
{
	const struct CMUnitTest group[] = { LG_TEST(failing_test), LG_TEST(next_test_starts_clean) };
	int status;
	pid_t pid;

	(void)state;
	threads_before = nr_threads();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		int failed;

		/* Its report would read as this binary's to tests/run-tests. */
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		/* cmocka's return value: the number of tests that failed. */
		failed = _cmocka_run_group_tests("leak_guard_child", group, 2, NULL, NULL);

		_exit(failed);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	/* Exactly one failure: the deliberate one; the next test was clean. */
	assert_int_equal(WEXITSTATUS(status), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_teardown_frees_what_is_left),
		LG_TEST(test_teardown_passes_clean_test),
		LG_TEST(test_failed_assertion_leaks_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
