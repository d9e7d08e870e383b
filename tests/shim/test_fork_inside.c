// SPDX-License-Identifier: MIT
/*
 * fork() while another thread is inside an enclave. The child has a copy
 * of the platform (kernel/fork.c) but not the thread: as on Linux, whose
 * child never had it, the enclave must not count it there. Until
 * fix/exit-crash it stayed counted in the child's model: its TCS stayed
 * busy (EENTER #GP) and no ETRACK cycle of that enclave completed, so
 * every EWB of its pages failed with NOT_TRACKED ("softsgx: EWB returned
 * 0xb") and the enclave could not be paged out.
 *
 * The child enters the spinner's TCS itself, then pages that enclave out
 * by using three others in a 64-page EPC, and enters it again; the parent
 * reads what the child printed and its exit status.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/shim/encl_helper.h"
#include "tests/shim/shim_test.h"

static const char *const run_opts[] = { "--epc", "256K", "--sections", "1", NULL };

#define CHILD_ENCLS  3
#define CHILD_ROUNDS 300

static _Atomic uint64_t spin_flag;
static _Atomic bool spinning;
static struct vdso_record spin_rec;
static int spin_ret;

static void *spinner(void *arg)
{
	(void)arg;
	atomic_store(&spinning, true);
	spin_ret = th_ecall(&encl, 0, TEST_ENCL_OP_SPIN, (uintptr_t)&spin_flag, 0, &spin_rec);
	return NULL;
}

static bool ecall_ok(const struct th_encl *e, unsigned int tcs, uint64_t op, void *buf,
		     size_t len)
{
	struct vdso_record c = {0};

	return !th_ecall(e, tcs, op, (uintptr_t)buf, len, &c) && !c.exceptions && c.exits == 1 &&
	       c.status == TEST_ENCL_OK;
}

/* The child's work: 0, or which step failed. */
static int child(void)
{
	struct th_encl e[CHILD_ENCLS];
	uint64_t buf[64] = {0};

	/* The spinner's TCS: free here, the thread does not exist. */
	if (!ecall_ok(&encl, 0, TEST_ENCL_OP_COPY_OUT, buf, sizeof(buf)))
		return 10;
	for (unsigned int i = 0; i < CHILD_ENCLS; i++)
		if (enclave_build(&enclave_sys_native, &th_image, th_sig, &e[i].h))
			return 11;
	for (unsigned int i = 0; i < CHILD_ROUNDS; i++) {
		memset(buf, (int)i, sizeof(buf));
		if (!ecall_ok(&e[i % CHILD_ENCLS], i % 2, TEST_ENCL_OP_COPY_IN, buf, sizeof(buf)))
			return 12;
	}
	/* Paged out meanwhile, and back. */
	for (unsigned int tcs = 0; tcs < 2; tcs++)
		if (!ecall_ok(&encl, tcs, TEST_ENCL_OP_COPY_OUT, buf, sizeof(buf)))
			return 13;
	return 0;
}

static void test_fork_while_a_thread_is_inside(void **state)
{
	char out[4096];
	size_t got = 0;
	ssize_t n;
	int pipefd[2], status;
	pthread_t th;
	pid_t pid;

	(void)state;
	atomic_store(&spin_flag, 0);
	atomic_store(&spinning, false);
	assert_int_equal(pthread_create(&th, NULL, spinner, NULL), 0);
	while (!atomic_load(&spinning))
		usleep(100);
	usleep(20000); /* inside by now */
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		_exit(child());
	}
	close(pipefd[1]);
	while (got < sizeof(out) - 1 && (n = read(pipefd[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	atomic_store(&spin_flag, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	if (got)
		print_message("child said: %s", out);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_null(strstr(out, "EWB returned"));
	/* The parent's thread was never disturbed. */
	assert_int_equal(spin_ret, 0);
	assert_int_equal(spin_rec.exits, 1);
	assert_int_equal(spin_rec.status, TEST_ENCL_OK);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		th_unit_test(test_fork_while_a_thread_is_inside),
	};

	(void)th_ecall_ok;
	shim_test_reexec(argc, argv, run_opts);
	if (getenv("SOFTSGX_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SOFTSGX_TEST_FILTER"));
	if (th_prepare())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
