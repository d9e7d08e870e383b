// SPDX-License-Identifier: MIT
/*
 * A program under the shim that calls exit() while its work still runs:
 * threads entering enclaves whose pages the reclaimer keeps evicting, a
 * timer signal every 100 us. exit() runs the atexit handlers while those
 * threads, and the shim's own (ksgxd, the descriptor scanner, the stats
 * updater), go on; none of them may find the state it uses torn down.
 *
 * Until fix/exit-crash OpenSSL's atexit handler (OPENSSL_cleanup(), which
 * frees its library context and providers) ran while ksgxd encrypted a
 * page in EWB, or a thread's fault ran ELDU: the process died of SIGSEGV
 * (or SIGBUS, or abort) after its work was done, about one run in seven
 * hundred of the signal storms of test_signals.
 *
 * Each test runs this program again (argument "--exit-child") a number
 * of times and counts the children that did not end with exit status 0.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/shim/encl_helper.h"
#include "tests/shim/shim_test.h"

/* 64 EPC pages: four enclaves do not fit, ksgxd and the faults keep paging. */
static const char *const run_opts[] = { "--epc", "256K", "--sections", "1", NULL };

#define EXIT_RUNS    24
#define EXIT_THREADS 2 /* the test enclave has two TCS: one each */
#define EXIT_ENCLS   4

static struct th_encl child_encls[EXIT_ENCLS];
static _Atomic uint64_t spin_flag;

static void tick(int sig)
{
	char buf[16];
	void *p = malloc(16);

	/* libc in the handler, as the storms of test_signals do. */
	snprintf(buf, sizeof(buf), "%d", sig);
	free(p);
}

struct exit_arg {
	unsigned int tcs;
	bool spin;
};

/* Round the enclaves until exit() ends the process; results do not matter. */
static void *exit_worker(void *p)
{
	const struct exit_arg *a = p;
	uint64_t buf[64];

	for (unsigned int i = 0;; i++) {
		struct th_encl *e = &child_encls[i % EXIT_ENCLS];
		struct vdso_record c = {0};

		memset(buf, (int)i, sizeof(buf));
		if (a->spin)
			th_ecall(e, a->tcs, TEST_ENCL_OP_SPIN, (uintptr_t)&spin_flag, 0, &c);
		else
			th_ecall(e, a->tcs, TEST_ENCL_OP_COPY_IN, (uintptr_t)buf, sizeof(buf), &c);
		th_ecall(e, a->tcs, TEST_ENCL_OP_COPY_OUT, (uintptr_t)buf, sizeof(buf), &c);
	}
	return NULL;
}

/* The program that exits: @delay_us after its threads started, @spin: OP_SPIN too. */
static int exit_child(unsigned int delay_us, bool spin)
{
	struct itimerval it = { { 0, 100 }, { 0, 100 } };
	struct sigaction sa = { .sa_handler = tick, .sa_flags = SA_RESTART };
	static struct exit_arg args[EXIT_THREADS];
	pthread_t th;

	if (th_prepare())
		return 2;
	for (unsigned int i = 0; i < EXIT_ENCLS; i++)
		if (enclave_build(&enclave_sys_native, &th_image, th_sig, &child_encls[i].h))
			return 2;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) || setitimer(ITIMER_REAL, &it, NULL))
		return 2;
	for (unsigned int i = 0; i < EXIT_THREADS; i++) {
		args[i] = (struct exit_arg){ .tcs = i, .spin = spin && i == 0 };
		if (pthread_create(&th, NULL, exit_worker, &args[i]))
			return 2;
	}
	usleep(delay_us);
	exit(0);
}

static void run_children(bool spin)
{
	char self[PATH_MAX];
	unsigned int bad = 0;
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(len > 0);
	self[len] = '\0';
	for (unsigned int i = 0; i < EXIT_RUNS; i++) {
		char delay[16];
		int status;
		pid_t pid;

		/* From 1 to 24 ms: exit() meets the work at different points. */
		snprintf(delay, sizeof(delay), "%u", 1000 + i * 1000);
		pid = fork();
		assert_true(pid >= 0);
		if (!pid) {
			execl(self, self, "--exit-child", delay, spin ? "spin" : "copy", (char *)NULL);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			bad++;
			fprintf(stderr, "exit run %u: %s %d\n", i,
				WIFSIGNALED(status) ? "killed by signal" : "exit status",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		}
	}
	assert_int_equal(bad, 0);
}

static void test_exit_during_paging_and_timer(void **state)
{
	(void)state;
	run_children(false);
}

static void test_exit_while_a_thread_spins_inside(void **state)
{
	(void)state;
	run_children(true);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_during_paging_and_timer),
		cmocka_unit_test(test_exit_while_a_thread_spins_inside),
	};

	(void)th_ecall_ok; /* the children ignore results: the process exits during them */
	shim_test_reexec(argc, argv, run_opts);
	if (argc == 4 && !strcmp(argv[1], "--exit-child"))
		return exit_child((unsigned int)atoi(argv[2]), !strcmp(argv[3], "spin"));
	if (getenv("SOFTSGX_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SOFTSGX_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
