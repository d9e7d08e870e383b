// SPDX-License-Identifier: MIT
/*
 * fork() again and again while other threads ECALL without pause, SIGALRM
 * arriving all along. Every entry into the model holds the model lock
 * (shim/fork.c) and fork() waits until none does, so that no lock of the
 * model is copied held into the child. The lock's readers mark a slot of
 * their own and fork() orders itself against them with membarrier(); if
 * that ordering failed, a child would start with the model in the middle
 * of a leaf (a lock held forever: its ECALL hangs until the alarm, or its
 * state is torn). Each child enters the enclave on both TCSs, whose
 * threads it does not have, and exits; the workers' ECALLs all succeed.
 * Last, the same after the program forbids membarrier() with a seccomp
 * filter of its own: fork() then falls back to the readers' counter.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/shim/encl_helper.h"
#include "tests/shim/shim_test.h"

#define WORKERS 2
#define FORKS	150
/* A child that cannot enter within this many seconds is stuck on a held lock. */
#define CHILD_DEADLINE_S 20

static _Atomic bool stop;
static _Atomic unsigned long ecalls, worker_failures, alarms;

static void on_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add(&alarms, 1);
}

static bool ecall_ok(unsigned int tcs)
{
	uint64_t buf[8] = {0};
	struct vdso_record c = {0};

	return !th_ecall(&encl, tcs, TEST_ENCL_OP_COPY_OUT, (uintptr_t)buf, sizeof(buf), &c) &&
	       !c.exceptions && c.exits == 1 && c.status == TEST_ENCL_OK;
}

static void *worker(void *arg)
{
	unsigned int tcs = (unsigned int)(uintptr_t)arg;

	while (!atomic_load(&stop)) {
		if (!ecall_ok(tcs))
			atomic_fetch_add(&worker_failures, 1);
		atomic_fetch_add(&ecalls, 1);
	}
	return NULL;
}

/*
 * In the child: both TCSs are free (their threads are the parent's). A
 * worker that SIGALRM had interrupted at the fork was between its AEX and
 * its ERESUME: the child's copy of that TCS has CSSA 1, and its EENTER runs
 * the enclave's exception entry (TEST_ENCL_EXCEPTION_ENTRY), as a process
 * sharing the enclave on Linux would see it. Entered and back either way.
 */
static int child(void)
{
	alarm(CHILD_DEADLINE_S);
	for (unsigned int tcs = 0; tcs < WORKERS; tcs++) {
		uint64_t buf[8] = {0};
		struct vdso_record c = {0};

		if (th_ecall(&encl, tcs, TEST_ENCL_OP_COPY_OUT, (uintptr_t)buf, sizeof(buf), &c) ||
		    c.exceptions || c.exits != 1 ||
		    (c.status != TEST_ENCL_OK && c.status != TEST_ENCL_EXCEPTION_ENTRY))
			return 10 + (int)tcs;
	}
	return 0;
}

static void fork_storm(unsigned int forks)
{
	struct itimerval tick = {.it_interval = {0, 500}, .it_value = {0, 500}};
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
	struct itimerval off = {0};
	pthread_t th[WORKERS];
	unsigned long before;
	int status;

	atomic_store(&stop, false);
	atomic_store(&ecalls, 0);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &tick, NULL), 0);
	for (unsigned int i = 0; i < WORKERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i), 0);
	/* The workers are inside or entering by the time of the first fork. */
	while (atomic_load(&ecalls) < 100)
		usleep(100);
	for (unsigned int i = 0; i < forks; i++) {
		pid_t pid;

		before = atomic_load(&ecalls);
		pid = fork();
		assert_true(pid >= 0);
		if (!pid) {
			struct itimerval none = {0};

			/* The deadline's SIGALRM must end a stuck child, not be counted. */
			setitimer(ITIMER_REAL, &none, NULL);
			signal(SIGALRM, SIG_DFL);
			_exit(child());
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail_msg("fork %u: child %s %d", i,
				 WIFEXITED(status) ? "exited" : "killed by",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		/* Let the workers run between forks: a fork must not starve them. */
		while (atomic_load(&ecalls) < before + 5)
			usleep(50);
	}
	atomic_store(&stop, true);
	for (unsigned int i = 0; i < WORKERS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	setitimer(ITIMER_REAL, &off, NULL);
	print_message("%lu ECALLs, %lu SIGALRMs, %u forks\n", atomic_load(&ecalls),
		      atomic_load(&alarms), forks);
	assert_int_equal(atomic_load(&worker_failures), 0);
	assert_true(atomic_load(&alarms) > 0);
}

static void test_fork_while_threads_ecall(void **state)
{
	(void)state;
	fork_storm(FORKS);
}

/* membarrier() answers ENOSYS from here on, for this process and its children. */
static void forbid_membarrier(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};

	assert_int_equal(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	assert_int_equal(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
	assert_int_equal(syscall(SYS_membarrier, 0, 0, 0), -1);
}

static void test_fork_after_membarrier_refused(void **state)
{
	(void)state;
	forbid_membarrier();
	fork_storm(FORKS / 3);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		th_unit_test(test_fork_while_threads_ecall),
		/* Last: the filter stays for the rest of the process. */
		th_unit_test(test_fork_after_membarrier_refused),
	};

	(void)th_ecall_ok;
	shim_test_reexec(argc, argv, NULL);
	if (getenv("SOFTSGX_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SOFTSGX_TEST_FILTER"));
	if (th_prepare())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
