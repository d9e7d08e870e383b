// SPDX-License-Identifier: MIT
/*
 * fork() of a program under `softsgx run --service` (issue 16, "Linux
 * semantics that follow"): the child shares its parent's enclaves, as on
 * Linux. This program is both sides, as test_service_run.c: run plainly it
 * is the cmocka test, with a private service directory per test
 * (tests/service/svc_fixture.h), and it starts copies of itself as workers
 * under `softsgx run --service -- SELF worker SCENARIO PAGES`. A worker
 * builds a debug enclave through plain system calls (open, CREATE,
 * ADD_PAGES, INIT, mmap), reads and writes its pages from outside (no
 * ENCLU: the service does not run it yet), forks, and exits 0 when
 * everything parent and child saw was right.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/shim/mini_encl.h"
#include "tests/shim/svc_wenc.h"
#include "tests/shim/svc_worker.h"

extern char **environ;

/* The descriptor reaches the enclave: INIT again is the enclave's EINVAL, not EIO. */
static void wioctl_works(const struct wenc *e)
{
	struct sgx_enclave_init init = {.sigstruct = (uintptr_t)&wsig};

	errno = 0;
	CHECK(ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init) == -1 && errno == EINVAL);
}

/* waitpid() through signals that interrupt it: the child's exit status, or -1. */
static int wreap(pid_t pid)
{
	int status;
	pid_t r;

	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	CHECK(r == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static sigjmp_buf *volatile jump;
static volatile sig_atomic_t caught;

static void on_fault(int sig)
{
	caught = sig;
	if (jump)
		siglongjmp(*jump, 1);
}

/* The signal an access to @p raised (0: none). */
static int touch(volatile uint8_t *p)
{
	sigjmp_buf env;

	caught = 0;
	if (!sigsetjmp(env, 1)) {
		jump = &env;
		(void)*p;
	}
	jump = NULL;
	return caught;
}

static void catch_faults(void)
{
	struct sigaction sa = {.sa_handler = on_fault, .sa_flags = SA_NODEFER};

	sigemptyset(&sa.sa_mask);
	CHECK(!sigaction(SIGBUS, &sa, NULL));
	CHECK(!sigaction(SIGSEGV, &sa, NULL));
}

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void catch_usr1(void)
{
	struct sigaction sa = {.sa_handler = on_usr1};

	sigemptyset(&sa.sa_mask);
	CHECK(!sigaction(SIGUSR1, &sa, NULL));
}

/*
 * The parent's stores are read by the child through its inherited mapping,
 * its inherited descriptor works, and after waitpid() the parent reads
 * what the child stored.
 */
static int wshare(uint64_t nr)
{
	struct wenc e;
	pid_t pid;

	wbuild(&e, nr);
	wwrite(&e, 1);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		wcheck(&e, 1);
		wioctl_works(&e);
		wwrite(&e, 2);
		wcheck(&e, 2);
		_exit(0);
	}
	CHECK(wreap(pid) == 0);
	wcheck(&e, 2);
	wwrite(&e, 3);
	wcheck(&e, 3);
	wioctl_works(&e);
	wfree(&e);
	return 0;
}

/*
 * Closing and unmapping on one side leaves the other's enclave alone: a
 * child that drops its copies at once; then a parent that drops its own
 * as soon as fork() returns, while its child goes on. That child says "ready PID" (the parent's
 * references gone, the test checks the service's STATUS), and at SIGUSR1
 * uses the enclave once more and exits without closing anything.
 */
static int wlifetime(uint64_t nr)
{
	int sync[2];
	struct wenc e;
	pid_t pid;
	char b;

	catch_usr1();
	wbuild(&e, nr);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		wfree(&e);
		_exit(0);
	}
	CHECK(wreap(pid) == 0);
	wcheck(&e, 0);
	wwrite(&e, 1);
	wcheck(&e, 1);
	wioctl_works(&e);

	CHECK(!pipe(sync));
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		CHECK(!close(sync[1]));
		/* The copy is the one at fork(), whatever the parent did since. */
		wcheck(&e, 1);
		CHECK(read(sync[0], &b, 1) == 0); /* the parent has closed and unmapped */
		wcheck(&e, 1);
		wioctl_works(&e);
		wwrite(&e, 2);
		wcheck(&e, 2);
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		while (!go)
			usleep(1000);
		wcheck(&e, 2);
		_exit(0);
	}
	CHECK(!close(sync[0]));
	wfree(&e);
	CHECK(!close(sync[1]));
	CHECK(wreap(pid) == 0);
	return 0;
}

static _Atomic unsigned long ticks;
static _Atomic bool stop;

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

struct fork_arg {
	struct wenc *e;
	uint64_t round;
};

/* On a fresh thread: fork, the child reads round - 1 and stores @round. */
static void *fork_thread(void *p)
{
	struct fork_arg *a = p;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		wcheck(a->e, a->round - 1);
		wioctl_works(a->e);
		wwrite(a->e, a->round);
		_exit(0);
	}
	CHECK(wreap(pid) == 0);
	return NULL;
}

/* Another thread of the parent, in service calls and faults all along. */
static void *busy_thread(void *p)
{
	struct wenc *e = p;

	while (!atomic_load(&stop)) {
		wioctl_works(e);
		for (uint64_t i = 1; i <= e->nr; i++)
			CHECK(e->base[i * PAGE + 100] == pattern(i));
	}
	return NULL;
}

/*
 * fork() from freshly created threads of a parent whose other thread is
 * in service calls, SIGALRM arriving all along (no SA_RESTART): each child
 * reads the previous store and makes the next, which the parent reads.
 */
static int wthreads(uint64_t nr)
{
	struct itimerval it = {{0, 500}, {0, 500}};
	struct sigaction sa = {.sa_handler = on_tick};
	struct wenc e;
	pthread_t busy, t;

	sigemptyset(&sa.sa_mask);
	CHECK(!sigaction(SIGALRM, &sa, NULL));
	wbuild(&e, nr);
	CHECK(!pthread_create(&busy, NULL, busy_thread, &e));
	CHECK(!setitimer(ITIMER_REAL, &it, NULL));
	for (uint64_t r = 1; r <= 6 || ticks < 3; r++) {
		struct fork_arg a = {&e, r};

		CHECK(!pthread_create(&t, NULL, fork_thread, &a));
		CHECK(!pthread_join(t, NULL));
		wcheck(&e, r);
		if (r > 50)
			break;
	}
	it = (struct itimerval){0};
	setitimer(ITIMER_REAL, &it, NULL);
	atomic_store(&stop, true);
	CHECK(!pthread_join(busy, NULL));
	CHECK(ticks > 0);
	wfree(&e);
	return 0;
}

/* A child's child: the FORK chain names the child, which has its own connection. */
static int wgrandchild(uint64_t nr)
{
	struct wenc e;
	pid_t pid;

	wbuild(&e, nr);
	wwrite(&e, 1);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		pid_t g;

		wcheck(&e, 1);
		wwrite(&e, 2);
		g = fork();
		CHECK(g >= 0);
		if (g == 0) {
			wcheck(&e, 2);
			wioctl_works(&e);
			wwrite(&e, 3);
			_exit(0);
		}
		CHECK(wreap(g) == 0);
		wcheck(&e, 3);
		wwrite(&e, 4);
		_exit(0);
	}
	CHECK(wreap(pid) == 0);
	wcheck(&e, 4);
	wfree(&e);
	return 0;
}

/*
 * Children that exec at once: posix_spawn() and vfork() (no fork handlers
 * run), fork() then exec (the handlers do). The parent's enclave stays.
 */
static int wspawn(uint64_t nr)
{
	char *const argv[] = {"/bin/true", NULL};
	struct wenc e;
	pid_t pid;

	wbuild(&e, nr);
	wwrite(&e, 1);
	CHECK(!posix_spawn(&pid, argv[0], NULL, NULL, argv, environ));
	CHECK(wreap(pid) == 0);
	pid = vfork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execve(argv[0], argv, environ);
		_exit(127);
	}
	CHECK(wreap(pid) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execve(argv[0], argv, environ);
		_exit(127);
	}
	CHECK(wreap(pid) == 0);
	wcheck(&e, 1);
	wwrite(&e, 2);
	wcheck(&e, 2);
	wioctl_works(&e);
	wfree(&e);
	return 0;
}

/*
 * The parent is gone before its child's FORK (the test stops the service,
 * SIGUSR1s us, kills us while we wait in fork(), resumes the service): the
 * child falls back, its inherited descriptor is EIO and its inherited range
 * SIGBUS; an enclave of its own works. It says "orphan ok".
 */
static int worphan(uint64_t nr)
{
	struct wenc e;
	pid_t pid;

	catch_usr1();
	wbuild(&e, nr);
	printf("ready\n");
	fflush(stdout);
	while (!go)
		usleep(1000);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct sgx_enclave_init init = {.sigstruct = (uintptr_t)&wsig};
		struct wenc c;

		/* fork() returned here after the FORK, which the resumed service refused. */
		catch_faults();
		errno = 0;
		CHECK(ioctl(e.fd, SGX_IOC_ENCLAVE_INIT, &init) == -1 && errno == EIO);
		CHECK(touch(e.base + PAGE) == SIGBUS);
		CHECK(!munmap(e.base, e.size));
		CHECK(!close(e.fd));
		wbuild(&c, nr);
		wcheck(&c, 0);
		wwrite(&c, 1);
		wcheck(&c, 1);
		wfree(&c);
		printf("orphan ok\n");
		fflush(stdout);
		_exit(0);
	}
	/* The test kills us before or after fork() returns. */
	for (;;)
		pause();
}

static int worker(int argc, char **argv)
{
	const char *what = argv[2];
	uint64_t nr = argc > 3 ? strtoull(argv[3], NULL, 0) : 4;

	if (!getenv("SOFTSGX_SERVICE")) {
		fprintf(stderr, "worker: not under softsgx run --service\n");
		return 4;
	}
	if (!strcmp(what, "share"))
		return wshare(nr);
	if (!strcmp(what, "lifetime"))
		return wlifetime(nr);
	if (!strcmp(what, "threads"))
		return wthreads(nr);
	if (!strcmp(what, "grandchild"))
		return wgrandchild(nr);
	if (!strcmp(what, "spawn"))
		return wspawn(nr);
	if (!strcmp(what, "orphan"))
		return worphan(nr);
	fprintf(stderr, "worker: no scenario %s\n", what);
	return 4;
}

/* ================= the tests: run plainly ================= */

static void run_worker(const char *what, const char *pages)
{
	struct svc_status_rep st;
	struct wproc w;

	wstart(&fx, &w, "4M", CLI_ARGS(what, pages));
	assert_int_equal(wwait(&w, 60000), 0);
	wait_released(&st);
}

/* After fork, the child's store is read by the parent (and the parent's by the child). */
static void test_child_shares(void **state)
{
	(void)state;
	run_worker("share", "8");
}

/* On an EPC smaller than the enclave: both fault evicted pages back in. */
static void test_child_shares_paged(void **state)
{
	struct svc_status_rep st;
	struct wproc w;

	(void)state;
	wstart(&fx, &w, "1M", CLI_ARGS("share", "300"));
	assert_int_equal(wwait(&w, 120000), 0);
	fx_status(&fx, &st);
	assert_true(st.evictions > 0);
	wait_released(&st);
}

/* Either side closing and unmapping leaves the other's; the enclave goes with the last. */
static void test_lifetime(void **state)
{
	struct svc_status_rep st;
	struct wproc w;
	char line[64];
	int child;

	(void)state;
	wstart(&fx, &w, "4M", CLI_ARGS("lifetime", "8"));
	if (!wline(&w, line, sizeof(line)) || sscanf(line, "ready %d", &child) != 1) {
		wwait(&w, 1000);
		fail_msg("no ready line: \"%s\"", line);
	}
	/* The parent has closed and unmapped: the child's references hold the enclave. */
	fx_status(&fx, &st);
	assert_int_equal(st.enclaves, 1);
	assert_true(st.in_use_pages >= 9);
	assert_int_equal(kill(child, SIGUSR1), 0);
	assert_int_equal(wwait(&w, 30000), 0);
	wait_released(&st);
}

static void test_fork_from_threads(void **state)
{
	(void)state;
	run_worker("threads", "8");
}

static void test_grandchild(void **state)
{
	(void)state;
	run_worker("grandchild", "8");
}

static void test_spawn_and_exec(void **state)
{
	(void)state;
	run_worker("spawn", "8");
}

/* The parent gone before its child's FORK: the child falls back, says so once. */
static void test_parent_gone(void **state)
{
	struct svc_status_rep st;
	struct wproc w;
	char line[64];
	pid_t svc;
	char *err;

	(void)state;
	wstart(&fx, &w, "4M", CLI_ARGS("orphan", "4"));
	assert_true(wline(&w, line, sizeof(line)));
	assert_string_equal(line, "ready\n");
	svc = svc_lock_holder(fx.dir);
	assert_true(svc > 0);
	/* The child's HELLO waits in the stopped service; its parent waits for the child. */
	assert_int_equal(kill(svc, SIGSTOP), 0);
	assert_int_equal(kill(w.pid, SIGUSR1), 0);
	usleep(300000);
	assert_int_equal(kill(w.pid, SIGKILL), 0);
	assert_int_equal(fx_wait_exit(w.pid, 5000), 128 + SIGKILL);
	wgone(w.pid);
	assert_int_equal(kill(svc, SIGCONT), 0);
	if (!wline(&w, line, sizeof(line)) || strcmp(line, "orphan ok\n")) {
		err = cli_read_file(w.err, NULL);
		fail_msg("the child said \"%s\"; stderr:\n%s", line, err ? err : "");
	}
	close(w.out);
	err = cli_read_file(w.err, NULL);
	assert_non_null(err);
	assert_int_equal(count(err, "softsgx: fork: the child cannot share its parent's enclaves"),
			 1);
	cli_assert_contains(err, "No such process");
	free(err);
	wait_released(&st);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_child_shares, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_shares_paged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifetime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_from_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grandchild, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spawn_and_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parent_gone, setup, teardown),
	};

	return svc_worker_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]), worker);
}
