// SPDX-License-Identifier: MIT
/*
 * Stress: 8 threads make ECALLs without pause while each gets SIGALRM every
 * 100 us from its own timer (timer_create, SIGEV_THREAD_ID), under reclaim:
 * 8 enclaves (one per thread, about 27 EPC pages each) on a 128-page EPC
 * (`softsgx run --epc 512K --sections 1`). The handler does what program
 * handlers do: snprintf, malloc and free, errno kept. On Linux every signal
 * that arrives during enclave code is an AEX first; the handler runs on
 * host state and the enclave resumes with its registers intact
 * (TEST_ENCL_OP_SPIN checks them).
 *
 * `make check` runs it for about a second; `make check-stress`
 * (SOFTSGX_STRESS=long) for about 20 seconds. Built twice: release, and
 * with ASan+UBSan in the program (the shim stays unsanitized).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "tests/conformance/conform.h"

#define NR_THREADS  8
#define PERIOD_NS   100000
#define SPIN_ROUNDS 2000

static struct conform_encl image;
static struct conform_encl encls[NR_THREADS];
static atomic_long signals, libc_failures;
/* OP_SPIN's stop flag: never set, the iteration count ends it. */
static volatile uint64_t never;

static double run_seconds(void)
{
	const char *v = getenv("SOFTSGX_STRESS");

	return v && !strcmp(v, "long") ? 20.0 : 1.0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_alarm(int sig)
{
	int saved = errno;
	char text[96];
	char *p;

	(void)sig;
	p = malloc(64 + (size_t)(atomic_load(&signals) & 255));
	if (!p || snprintf(text, sizeof(text), "alarm %ld on %ld", atomic_load(&signals),
			   (long)syscall(SYS_gettid)) <= 0)
		atomic_fetch_add(&libc_failures, 1);
	else
		memcpy(p, text, 16);
	free(p);
	atomic_fetch_add(&signals, 1);
	errno = saved;
}

struct worker {
	pthread_t th;
	unsigned int id;
	long ecalls;
	char msg[512];
	bool failed;
};

static const char *work(struct worker *w)
{
	struct conform_encl *e = &encls[w->id];
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGALRM };
	struct itimerspec its = { .it_interval = { 0, PERIOD_NS }, .it_value = { 0, PERIOD_NS } };
	struct sgx_enclave_run run;
	struct conform_result res;
	uint64_t magic, page;
	double end = now() + run_seconds();
	timer_t timer;
	const char *msg = NULL;

	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	CHECK(timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0, "timer_create");
	CHECK(timer_settime(timer, 0, &its, NULL) == 0, "timer_settime");
	CHECK(conform_ecall(e, 0, TEST_ENCL_OP_MAGIC, 0, 0, &run, &res) == 0 &&
		      res.status == TEST_ENCL_OK, "MAGIC");
	magic = res.value;
	CHECK(conform_ecall(e, 0, TEST_ENCL_OP_BUFFER, 0, 0, &run, &res) == 0 &&
		      res.status == TEST_ENCL_OK, "BUFFER");
	page = (res.value + 4095) & ~4095ULL;
	for (long i = 0; now() < end; i++) {
		unsigned int tcs = (unsigned int)i % TEST_ENCL_NR_TCS;
		uint64_t v = (uint64_t)w->id << 48 | (uint64_t)i;

		if (conform_ecall(e, tcs, TEST_ENCL_OP_NOP, 0, 0, &run, &res) ||
		    res.status != TEST_ENCL_OK) {
			msg = "NOP";
			break;
		}
		if (conform_ecall(e, tcs, TEST_ENCL_OP_READ_U64, magic, 0, &run, &res) ||
		    res.status != TEST_ENCL_OK || res.value != TEST_ENCL_MAGIC) {
			msg = "READ of the magic";
			break;
		}
		if (conform_ecall(e, tcs, TEST_ENCL_OP_WRITE_U64, page, v, &run, &res) ||
		    res.status != TEST_ENCL_OK ||
		    conform_ecall(e, tcs, TEST_ENCL_OP_READ_U64, page, 0, &run, &res) ||
		    res.status != TEST_ENCL_OK || res.value != v) {
			msg = "WRITE and READ back";
			break;
		}
		if (conform_ecall(e, tcs, TEST_ENCL_OP_SPIN, (uintptr_t)&never, SPIN_ROUNDS,
				  &run, &res) ||
		    res.status != TEST_ENCL_OK) {
			msg = "SPIN (registers changed under the enclave)";
			break;
		}
		w->ecalls += 5;
	}
	timer_delete(timer);
	if (msg)
		CHECK(0, "thread %u after %ld ECALLs: %s: function %u vector %u status %llu", w->id,
		      w->ecalls, msg, run.function, run.exception_vector,
		      (unsigned long long)res.status);
	return NULL;
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	const char *msg = work(w);

	if (msg) {
		snprintf(w->msg, sizeof(w->msg), "%s", msg);
		w->failed = true;
	}
	return NULL;
}

static void test_ecalls_under_timer_signals_and_reclaim(void **state)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct worker w[NR_THREADS];
	long total = 0;
	double t0 = now();

	(void)state;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	for (unsigned int i = 0; i < NR_THREADS; i++) {
		encls[i] = image;
		assert_int_equal(conform_build(&encls[i]), 0);
	}
	for (unsigned int i = 0; i < NR_THREADS; i++) {
		w[i] = (struct worker){ .id = i };
		assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
	}
	for (unsigned int i = 0; i < NR_THREADS; i++)
		assert_int_equal(pthread_join(w[i].th, NULL), 0);
	for (unsigned int i = 0; i < NR_THREADS; i++) {
		if (w[i].failed)
			fail_msg("%s", w[i].msg);
		total += w[i].ecalls;
	}
	fprintf(stderr, "[  STATS   ] %d threads, %ld ECALLs, %ld signals in %.1f s\n", NR_THREADS,
		total, atomic_load(&signals), now() - t0);
	assert_true(total > 0);
	assert_true(atomic_load(&signals) > 0);
	assert_int_equal(atomic_load(&libc_failures), 0);
	for (unsigned int i = 0; i < NR_THREADS; i++)
		conform_unload(&encls[i]);
	signal(SIGALRM, SIG_IGN);
}

int main(int argc, char **argv)
{
	static const char *const run_opts[] = { "--epc", "512K", "--sections", "1", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecalls_under_timer_signals_and_reclaim),
	};

	shim_test_reexec(argc, argv, run_opts);
	conform_find_vdso();
	conform_load(&image, "SOFTSGX_TEST_ENCLAVE", 0);
	return cmocka_run_group_tests_name("stress_signals", tests, NULL, NULL);
}
