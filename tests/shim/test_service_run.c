// SPDX-License-Identifier: MIT
/*
 * `softsgx run --service` (issue 16): unmodified-style programs whose SGX
 * devices are served by the per-user platform service. This program is both
 * sides: run plainly it is the cmocka test, which gives each test its own
 * SOFTSGX_RUNTIME_DIR (tests/service/svc_fixture.h) and starts copies of
 * itself as workers under `softsgx run --service -- SELF worker SCENARIO
 * PAGES`; a worker opens /dev/sgx_enclave and builds, maps and uses a debug
 * enclave through plain system calls, as any SGX program does, and exits 0
 * when everything it saw was right (or says on stderr what was not).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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


static _Atomic unsigned long ticks;

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

/* A build, use and release of one enclave, signals arriving all along. */
static void wbasic_body(uint64_t nr)
{
	struct wenc e;

	wbuild(&e, nr);
	wcheck(&e, 0);
	for (uint64_t r = 1; r <= 8; r++) {
		wwrite(&e, r);
		wcheck(&e, r);
	}
	wfree(&e);
}

static void *wbasic_thread(void *arg)
{
	wbasic_body((uint64_t)(uintptr_t)arg);
	return NULL;
}

static int wbasic(uint64_t nr)
{
	struct itimerval it = {{0, 500}, {0, 500}};
	struct sigaction sa = {.sa_handler = on_tick, .sa_flags = SA_RESTART};
	pthread_t t;

	sigemptyset(&sa.sa_mask);
	CHECK(!sigaction(SIGALRM, &sa, NULL));
	CHECK(!setitimer(ITIMER_REAL, &it, NULL));
	wbasic_body(nr);
	CHECK(!pthread_create(&t, NULL, wbasic_thread, (void *)(uintptr_t)nr));
	CHECK(!pthread_join(t, NULL));
	/* Until signals did arrive, enclaves going on meanwhile. */
	while (ticks < 3)
		wbasic_body(nr);
	it = (struct itimerval){0};
	setitimer(ITIMER_REAL, &it, NULL);
	return 0;
}

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

/*
 * "ready" once built; then @rounds rounds of write and check after SIGUSR1
 * (0: at once, until killed).
 */
static int wloop(uint64_t nr, uint64_t rounds)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	struct wenc e;

	sigemptyset(&sa.sa_mask);
	CHECK(!sigaction(SIGUSR1, &sa, NULL));
	wbuild(&e, nr);
	wcheck(&e, 0);
	printf("ready\n");
	fflush(stdout);
	while (rounds && !go)
		usleep(1000);
	for (uint64_t r = 1; !rounds || r <= rounds; r++) {
		wwrite(&e, r);
		wcheck(&e, r);
	}
	wfree(&e);
	return 0;
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
static int touch(volatile uint8_t *p, bool write)
{
	sigjmp_buf env;

	caught = 0;
	if (!sigsetjmp(env, 1)) {
		jump = &env;
		if (write)
			*p = 1;
		else
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
	CHECK(!sigaction(SIGILL, &sa, NULL));
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Built, half of it touched, "ready"; at SIGUSR1 (the service has been
 * killed meanwhile) an ioctl is EIO and the untouched half is SIGBUS, each
 * within a second.
 */
static int whold(uint64_t nr)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	struct sgx_enclave_init init = {.sigstruct = (uintptr_t)&wsig};
	struct wenc e;
	uint64_t t0;

	sigemptyset(&sa.sa_mask);
	CHECK(!sigaction(SIGUSR1, &sa, NULL));
	wbuild(&e, nr);
	for (uint64_t i = 1; i <= nr / 2; i++)
		CHECK(e.base[i * PAGE + 100] == pattern(i));
	catch_faults();
	printf("ready\n");
	fflush(stdout);
	while (!go)
		usleep(1000);
	t0 = mono_ms();
	errno = 0;
	CHECK(ioctl(e.fd, SGX_IOC_ENCLAVE_INIT, &init) == -1 && errno == EIO);
	CHECK(mono_ms() - t0 < 1000);
	t0 = mono_ms();
	CHECK(touch(e.base + (nr / 2 + 1) * PAGE, false) == SIGBUS);
	CHECK(mono_ms() - t0 < 1000);
	/* What was mapped stays readable: the pages are this process's memory now. */
	CHECK(e.base[PAGE + 100] == pattern(1));
	CHECK(!munmap(e.base, e.size));
	CHECK(!close(e.fd));
	return 0;
}

/*
 * fork(): the child shares the parent's enclave (tests/shim/test_service_fork.c
 * for more): its inherited descriptor and mapping reach it, an enclave it
 * opens itself works; the parent reads what the child stored.
 */
static int wfork(uint64_t nr)
{
	struct sgx_enclave_init init = {.sigstruct = (uintptr_t)&wsig};
	struct wenc e;
	int status;
	pid_t pid;

	wbuild(&e, nr);
	wcheck(&e, 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct wenc c;

		errno = 0;
		CHECK(ioctl(e.fd, SGX_IOC_ENCLAVE_INIT, &init) == -1 && errno == EINVAL);
		wcheck(&e, 0);
		wwrite(&e, 1);
		wbuild(&c, nr);
		wcheck(&c, 0);
		wwrite(&c, 5);
		wcheck(&c, 5);
		wfree(&c);
		CHECK(!munmap(e.base, e.size));
		CHECK(!close(e.fd));
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	wcheck(&e, 1);
	wwrite(&e, 2);
	wcheck(&e, 2);
	wfree(&e);
	return 0;
}

/*
 * Descriptors: a dup() keeps the enclave when the original is closed, the
 * data stays reachable through its mapping; PROVISION takes a descriptor
 * of /dev/sgx_provision (its handle in the service) and refuses another.
 */
static int wfds(void)
{
	struct sgx_enclave_provision prov;
	struct wenc e;
	int fd2, pfd;

	wbuild(&e, 4);
	fd2 = dup(e.fd);
	CHECK(fd2 >= 0 && fd2 != e.fd);
	CHECK(!close(e.fd));
	wcheck(&e, 0);
	wwrite(&e, 3);
	wcheck(&e, 3);
	e.fd = fd2;
	/* An SGX ioctl on the copy reaches the same enclave: INIT again is refused by it. */
	{
		struct sgx_enclave_init init = {.sigstruct = (uintptr_t)&wsig};

		errno = 0;
		CHECK(ioctl(e.fd, SGX_IOC_ENCLAVE_INIT, &init) == -1 && errno != ENOTTY &&
		      errno != EIO);
	}
	wfree(&e);

	/* PROVISION before ECREATE: the attribute allowance is the file's. */
	e.fd = open("/dev/sgx_enclave", O_RDWR);
	pfd = open("/dev/sgx_provision", O_RDONLY);
	CHECK(e.fd >= 0 && pfd >= 0);
	prov.fd = (uint64_t)pfd;
	CHECK(!ioctl(e.fd, SGX_IOC_ENCLAVE_PROVISION, &prov));
	prov.fd = (uint64_t)e.fd;
	errno = 0;
	CHECK(ioctl(e.fd, SGX_IOC_ENCLAVE_PROVISION, &prov) == -1 && errno == EINVAL);
	prov.fd = (uint64_t)STDIN_FILENO;
	errno = 0;
	CHECK(ioctl(e.fd, SGX_IOC_ENCLAVE_PROVISION, &prov) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(ioctl(e.fd, SGX_IOC_ENCLAVE_PROVISION, (void *)8) == -1 && errno == EFAULT);
	CHECK(!close(pfd));
	CHECK(!close(e.fd));
	return 0;
}

static int worker(int argc, char **argv)
{
	const char *what = argv[2];
	uint64_t nr = argc > 3 ? strtoull(argv[3], NULL, 0) : 4;
	uint64_t rounds = argc > 4 ? strtoull(argv[4], NULL, 0) : 0;

	if (!getenv("SOFTSGX_SERVICE")) {
		fprintf(stderr, "worker: not under softsgx run --service\n");
		return 4;
	}
	if (!strcmp(what, "basic"))
		return wbasic(nr);
	if (!strcmp(what, "loop"))
		return wloop(nr, rounds);
	if (!strcmp(what, "hold"))
		return whold(nr);
	if (!strcmp(what, "fork"))
		return wfork(nr);
	if (!strcmp(what, "fds"))
		return wfds();
	fprintf(stderr, "worker: no scenario %s\n", what);
	return 4;
}

/* ================= the tests: run plainly ================= */

static void test_basic(void **state)
{
	struct svc_status_rep st;
	struct wproc w;

	(void)state;
	wstart(&fx, &w, "4M", CLI_ARGS("basic", "8"));
	assert_int_equal(wwait(&w, 60000), 0);
	fx_status(&fx, &st);
	assert_int_equal(st.enclaves, 0);
}

/* Two programs whose enclaves together exceed the EPC: both right, the reclaimer evicts. */
static void test_two_oversubscribe(void **state)
{
	struct svc_status_rep st;
	struct cli_result r;
	struct wproc a, b;

	(void)state;
	/* 1 MiB: 256 pages; each enclave 161 (its SECS too). */
	wstart(&fx, &a, "1M", CLI_ARGS("loop", "160", "6"));
	wstart(&fx, &b, "1M", CLI_ARGS("loop", "160", "6"));
	/* Both built: 322 pages on 256, the second build evicted the first's. */
	wready(&a);
	wready(&b);
	kill(a.pid, SIGUSR1);
	kill(b.pid, SIGUSR1);
	assert_int_equal(wwait(&a, 120000), 0);
	assert_int_equal(wwait(&b, 120000), 0);
	fx_status(&fx, &st);
	assert_true(st.evictions > 0);
	assert_int_equal(st.in_use_pages, 0);
	/* As `softsgx platform status --json` shows them. */
	cli_exec(&r, CLI_ARGS("platform", "status", "--json"));
	cli_assert_status(&r, 0);
	assert_true(cli_json_is_object(r.out));
	assert_null(strstr(r.out, "\"evictions\": 0,"));
	cli_assert_contains(r.out, "\"evictions\": ");
	cli_result_free(&r);
}

/* SIGKILL in the middle of its loop: the service releases the enclave. */
static void test_sigkill_releases(void **state)
{
	struct svc_status_rep st;
	struct wproc w;
	uint64_t end;

	(void)state;
	wstart(&fx, &w, "1M", CLI_ARGS("loop", "64", "0"));
	wready(&w);
	fx_status(&fx, &st);
	assert_true(st.in_use_pages > 0);
	usleep(50000);
	kill(w.pid, SIGKILL);
	assert_int_equal(fx_wait_exit(w.pid, 5000), 128 + SIGKILL);
	close(w.out);
	end = fx_now_ms() + 5000;
	do {
		fx_status(&fx, &st);
		if (!st.in_use_pages && !st.enclaves)
			break;
		usleep(20000);
	} while (fx_now_ms() < end);
	assert_int_equal(st.in_use_pages, 0);
	assert_int_equal(st.enclaves, 0);
}

/* The service killed under a program: its next ioctl is EIO, a not-present page SIGBUS. */
static void test_service_killed(void **state)
{
	struct wproc w;
	pid_t svc;

	(void)state;
	wstart(&fx, &w, "4M", CLI_ARGS("hold", "16"));
	wready(&w);
	svc = svc_lock_holder(fx.dir);
	assert_true(svc > 0);
	assert_int_equal(kill(svc, SIGKILL), 0);
	for (int i = 0; i < 500 && !kill(svc, 0); i++)
		usleep(10000);
	kill(w.pid, SIGUSR1);
	assert_int_equal(wwait(&w, 5000), 0);
}

/* A service of another configuration: run says so, naming both, and exits 2 before the program. */
static void test_other_config(void **state)
{
	struct cli_result r;

	(void)state;
	fx_start(&fx, CLI_ARGS("--epc", "4M", "--sections", "1"));
	cli_exec(&r, CLI_ARGS("run", "--service", "--epc", "8M", "--sections", "1", "--", "sh",
			      "-c", "echo started"));
	assert_int_equal(r.status, 2);
	assert_string_equal(r.out, "");
	cli_assert_contains(r.err, "--epc 4M --sections 1");
	cli_assert_contains(r.err, "--epc 8M --sections 1");
	cli_result_free(&r);
	/* --private next to it runs as always. */
	cli_exec(&r, CLI_ARGS("run", "--private", "--epc", "8M", "--sections", "1", "--", "sh",
			      "-c", "echo started"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "started\n");
	cli_result_free(&r);
}

static void test_fork_child(void **state)
{
	struct wproc w;

	(void)state;
	wstart(&fx, &w, "4M", CLI_ARGS("fork", "8"));
	assert_int_equal(wwait(&w, 60000), 0);
}

static void test_descriptors(void **state)
{
	struct wproc w;

	(void)state;
	wstart(&fx, &w, "4M", CLI_ARGS("fds"));
	assert_int_equal(wwait(&w, 30000), 0);
}

/* SOFTSGX_SERVICE=1 asks for the service; --private wins over it. */
static void test_env_and_private(void **state)
{
	struct svc_status_rep st;
	struct cli_result r;

	(void)state;
	cli_exec_env(&r, CLI_ARGS("SOFTSGX_SERVICE=1"), NULL,
		     CLI_ARGS("run", "--epc", "2M", "--sections", "1", "--", "sh", "-c",
			      "echo $SOFTSGX_SERVICE"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "1\n");
	cli_result_free(&r);
	fx_status(&fx, &st);
	assert_int_equal(st.total_pages, 512);
	cli_exec_env(&r, CLI_ARGS("SOFTSGX_SERVICE=1"), NULL,
		     CLI_ARGS("run", "--private", "--epc", "8M", "--sections", "1", "--", "sh",
			      "-c", "echo \"[$SOFTSGX_SERVICE]\""));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "[0]\n");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("run", "--private", "--service", "--", "true"));
	assert_int_equal(r.status, 2);
	cli_result_free(&r);
}

/*
 * The service is the default: with no option and no SOFTSGX_SERVICE the
 * program is its client (the running one: another configuration is an
 * error); SOFTSGX_SERVICE=0 and --trace give a private platform; --trace
 * with --service is a usage error.
 */
static void test_service_is_default(void **state)
{
	struct cli_result r;
	char trace[256];

	(void)state;
	fx_start(&fx, CLI_ARGS("--epc", "2M", "--sections", "1"));
	cli_exec_env(&r, NULL, CLI_ARGS("SOFTSGX_SERVICE"),
		     CLI_ARGS("run", "--epc", "2M", "--sections", "1", "--", "sh", "-c",
			      "echo $SOFTSGX_SERVICE"));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "1\n");
	cli_result_free(&r);
	cli_exec_env(&r, NULL, CLI_ARGS("SOFTSGX_SERVICE"),
		     CLI_ARGS("run", "--epc", "4M", "--sections", "1", "--", "true"));
	assert_int_equal(r.status, 2);
	cli_assert_contains(r.err, "--epc 2M --sections 1");
	cli_result_free(&r);
	cli_exec_env(&r, CLI_ARGS("SOFTSGX_SERVICE=0"), NULL,
		     CLI_ARGS("run", "--epc", "4M", "--sections", "1", "--", "sh", "-c",
			      "echo \"[$SOFTSGX_SERVICE]\""));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "[0]\n");
	cli_result_free(&r);
	snprintf(trace, sizeof(trace), "%s/run.trace", fx.dir);
	cli_exec_env(&r, NULL, CLI_ARGS("SOFTSGX_SERVICE"),
		     CLI_ARGS("run", "--trace", trace, "--epc", "4M", "--sections", "1", "--",
			      "sh", "-c", "echo \"[$SOFTSGX_SERVICE]\""));
	cli_assert_status(&r, 0);
	assert_string_equal(r.out, "[0]\n");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("run", "--service", "--trace", trace, "--", "true"));
	cli_assert_usage_error(&r, "run", "--trace (or SOFTSGX_TRACE) needs --private");
	cli_result_free(&r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_oversubscribe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_descriptors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_and_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_is_default, setup, teardown),
	};

	return svc_worker_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]), worker);
}
