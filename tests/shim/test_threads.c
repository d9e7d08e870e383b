// SPDX-License-Identifier: MIT
/*
 * Threads and signal masks under the shim, checked against what Linux on
 * SGX hardware gives (issue 14, items 1 and 2):
 * - the first ECALL of a thread other than the main one, made by
 *   pthread_create() or by C11 thrd_create() (which the shim does not
 *   see), followed by an exception inside the enclave;
 * - 5000 short-lived threads, one ECALL each: the shim's per-thread
 *   records are recycled (the address space stays bounded);
 * - a thread that blocks every signal ECALLs, takes an exception inside
 *   the enclave and reads back exactly the mask it set;
 * - a program exec'd with every signal blocked does the same;
 * - munmap and close of an enclave while another thread runs inside
 *   (item 5): the thread is forced out and its ERESUME faults (#PF on the
 *   TCS, through the vDSO), and no EPC page leaks.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/shim/new_thread.h"
#include "tests/shim/shim_test.h"
#include "tests/shim/encl_helper.h"
#include "obs/stats_file.h"

#define EXEC_PROBE_ENV "SOFTSGX_THREADS_EXEC_PROBE"
#define X86_TRAP_UD 6
#define X86_TRAP_PF 14

static const char *const run_opts[] = { "--epc", "1M", "--sections", "1", NULL };

/*
 * In an enclave of its own: NOP, an exception inside (#UD through the
 * vDSO), then the exception entry (CSSA 1) that the test enclave answers.
 */
static void enclave_round(void)
{
	struct th_encl e;
	struct vdso_record c;

	th_build(&e);
	th_ecall_ok(&e, 1, TEST_ENCL_OP_NOP, 0, 0);
	assert_int_equal(th_ecall(&e, 1, TEST_ENCL_OP_UD2, 0, 0, &c), 0);
	assert_int_equal(c.exceptions, 1);
	assert_int_equal(c.vector, X86_TRAP_UD);
	assert_int_equal(th_ecall(&e, 1, TEST_ENCL_OP_NOP, 0, 0, &c), 0);
	assert_int_equal(c.status, TEST_ENCL_EXCEPTION_ENTRY);
	assert_int_equal(th_ecall_ok(&e, 0, TEST_ENCL_OP_MAGIC, 0, 0) != 0, 1);
	th_unload(&e);
}

static void *round_thread(void *arg)
{
	(void)arg;
	enclave_round();
	return NULL;
}

static void test_first_ecall_from_new_pthread(void **state)
{
	(void)state;
	run_on_new_thread(round_thread, NULL);
}

static int round_thrd(void *arg)
{
	round_thread(arg);
	return 7;
}

static void test_first_ecall_from_thrd_create(void **state)
{
	thrd_t th;
	int res = 0;

	(void)state;
	assert_int_equal(thrd_create(&th, round_thrd, NULL), thrd_success);
	assert_int_equal(thrd_join(th, &res), thrd_success);
	assert_int_equal(res, 7);
}

/* One TCS is one thread at a time: the threads take turns. */
static pthread_mutex_t tcs_lock = PTHREAD_MUTEX_INITIALIZER;

static void *one_ecall(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&tcs_lock);
	th_ecall_ok(&encl, 0, TEST_ENCL_OP_NOP, 0, 0);
	pthread_mutex_unlock(&tcs_lock);
	return NULL;
}

static unsigned int count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned int n = 0;
	int ch;

	assert_non_null(f);
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static void test_5000_short_lived_threads(void **state)
{
	enum { TOTAL = 5000, BATCH = 16 };
	unsigned int before, after;

	(void)state;
	before = count_mappings();
	for (int done = 0; done < TOTAL; done += BATCH) {
		pthread_t th[BATCH];

		for (int i = 0; i < BATCH; i++)
			assert_int_equal(pthread_create(&th[i], NULL, one_ecall, NULL), 0);
		for (int i = 0; i < BATCH; i++)
			assert_int_equal(pthread_join(th[i], NULL), 0);
	}
	after = count_mappings();
	/*
	 * A leaked record (two mappings: a guard page, the stack and record)
	 * per thread would add 10000; glibc's cache of thread stacks and the
	 * records of threads still exiting account for a few dozen.
	 */
	if (after > before + 400)
		fail_msg("mappings: %u before, %u after %d threads", before, after, TOTAL);
}

/* Every signal the test program can name is in @set, as blocking all leaves it. */
static void assert_all_blocked(const sigset_t *set)
{
	const int sigs[] = { SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGSYS, SIGUSR1, SIGALRM,
			     SIGTRAP, SIGRTMIN, SIGRTMAX - 1, SIGRTMAX };

	for (unsigned int i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigismember(set, sigs[i]) != 1)
			fail_msg("signal %d not blocked as set", sigs[i]);
}

static void *blocked_thread(void *arg)
{
	sigset_t all, back;

	(void)arg;
	sigfillset(&all);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &all, NULL), 0);
	enclave_round();
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &back), 0);
	assert_all_blocked(&back);
	assert_int_equal(sigprocmask(SIG_SETMASK, NULL, &back), 0);
	assert_all_blocked(&back);
	/* Unblocking one gives it back, and only it. */
	sigemptyset(&all);
	sigaddset(&all, SIGILL);
	assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &all, &back), 0);
	assert_all_blocked(&back);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &back), 0);
	assert_int_equal(sigismember(&back, SIGILL), 0);
	assert_int_equal(sigismember(&back, SIGSEGV), 1);
	enclave_round();
	return NULL;
}

static void test_thread_blocking_all_signals(void **state)
{
	(void)state;
	run_on_new_thread(blocked_thread, NULL);
}

static void *inherits_blocked(void *arg)
{
	sigset_t back;

	(void)arg;
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &back), 0);
	assert_all_blocked(&back);
	enclave_round();
	return NULL;
}

static void test_new_thread_inherits_blocked_mask(void **state)
{
	sigset_t all, saved;
	pthread_t th;

	(void)state;
	sigfillset(&all);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &all, &saved), 0);
	assert_int_equal(pthread_create(&th, NULL, inherits_blocked, NULL), 0);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &saved, NULL), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
}

static void test_exec_with_every_signal_blocked(void **state)
{
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int status;
	pid_t pid;

	(void)state;
	assert_true(len > 0);
	self[len] = '\0';
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		uint64_t all = ~0ULL;

		/* As a parent that knows nothing of the shim blocks them: by system call. */
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8);
		setenv(EXEC_PROBE_ENV, "1", 1);
		execl(self, self, (char *)NULL);
		_exit(126);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("exec'd program: status 0x%x", status);
}

/* The exec'd program: its inherited mask reads back whole, enclaves work. */
static int exec_probe(void)
{
	sigset_t back;

	if (th_prepare())
		return 2;
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &back), 0);
	assert_all_blocked(&back);
	th_build(&encl);
	enclave_round();
	run_on_new_thread(inherits_blocked, NULL);
	th_unload(&encl);
	return 0;
}

struct inside_arg {
	struct th_encl *e;
	_Atomic uint64_t flag; /* never set: the spin ends only by the fault */
	_Atomic bool entered, done;
	struct vdso_record c;
	int ret;
};

static void *spin_until_unmapped(void *p)
{
	struct inside_arg *a = p;

	atomic_store(&a->entered, true);
	a->ret = th_ecall(a->e, 0, TEST_ENCL_OP_SPIN, (uintptr_t)&a->flag, 0, &a->c);
	atomic_store(&a->done, true);
	return NULL;
}

struct stats_query {
	uint64_t after_ns;
	struct softsgx_stats st;
};

static int read_stats(const char *path, const struct sgx_stats_header *hdr,
		      const struct sgx_stats_snapshot *snap, void *data)
{
	struct stats_query *q = data;

	(void)path, (void)hdr;
	if (snap->updated_ns <= q->after_ns)
		return 0;
	q->st = snap->stats;
	return 1;
}

/* This process's EPC counters as `softsgx top` reads them, published from now on. */
static void read_epc_stats(struct softsgx_stats *st)
{
	struct stats_query q;
	struct timespec now;
	char dir[4096];

	clock_gettime(CLOCK_MONOTONIC, &now);
	q.after_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	assert_int_equal(sgx_stats_dir(dir, sizeof(dir)), 0);
	for (int i = 0; i < 40; i++) {
		if (sgx_stats_scan(dir, getpid(), read_stats, &q) == 1) {
			*st = q.st;
			return;
		}
		usleep(50000);
	}
	fail_msg("no stats published for this process");
}

static void test_munmap_close_while_inside(void **state)
{
	struct inside_arg a = { 0 };
	struct softsgx_stats st;
	struct th_encl e;
	pthread_t th;

	(void)state;
	th_build(&e);
	a.e = &e;
	assert_int_equal(pthread_create(&th, NULL, spin_until_unmapped, &a), 0);
	while (!atomic_load(&a.entered))
		usleep(1000);
	usleep(50000);
	assert_false(atomic_load(&a.done));
	th_unload(&e);
	assert_int_equal(pthread_join(th, NULL), 0);
	/* Its ERESUME at the AEP faults on the TCS, which is no longer mapped. */
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.c.exits, 0);
	assert_int_equal(a.c.exceptions, 1);
	assert_int_equal(a.c.vector, X86_TRAP_PF);
	read_epc_stats(&st);
	assert_int_equal(st.in_use_pages, 0);
	assert_int_equal(st.leaked_pages, 0);
	assert_int_equal(st.eremove_failures, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		th_unit_test(test_first_ecall_from_new_pthread),
		th_unit_test(test_first_ecall_from_thrd_create),
		th_unit_test(test_5000_short_lived_threads),
		th_unit_test(test_thread_blocking_all_signals),
		th_unit_test(test_new_thread_inherits_blocked_mask),
		cmocka_unit_test(test_exec_with_every_signal_blocked),
		cmocka_unit_test(test_munmap_close_while_inside),
	};

	shim_test_reexec(argc, argv, run_opts);
	if (getenv("SOFTSGX_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SOFTSGX_TEST_FILTER"));
	if (getenv(EXEC_PROBE_ENV))
		return exec_probe();
	if (th_prepare())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
