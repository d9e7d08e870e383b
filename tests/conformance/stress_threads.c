// SPDX-License-Identifier: MIT
/*
 * Stress: 5000 short-lived threads, each making one ECALL (and reading the
 * enclave's magic) and exiting, at most 8 at a time over 4 enclaves of two
 * TCSs each, as a thread pool that grows and shrinks does. On Linux a
 * thread costs the SGX side nothing: nothing may run out however many
 * threads have come and gone, and every new thread's first ECALL works.
 *
 * `make check` runs 5000 threads (a few seconds); `make check-stress`
 * (SOFTSGX_STRESS=long) 20000. Built twice: release, and with ASan+UBSan in
 * the program (the shim stays unsanitized).
 */
#define _GNU_SOURCE
#include <semaphore.h>
#include <stdatomic.h>
#include <time.h>

#include "tests/conformance/conform.h"

#define NR_ENCLAVES 4
#define NR_SLOTS    (NR_ENCLAVES * TEST_ENCL_NR_TCS)

static struct conform_encl image;
static struct conform_encl encls[NR_ENCLAVES];
static uint64_t magic[NR_ENCLAVES];

/* Free (enclave, TCS) slots: a stack under a lock, counted by a semaphore. */
static sem_t free_slots;
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int slot_stack[NR_SLOTS], nr_free;
static atomic_long done, bad;
static char first_error[256];

static unsigned int take_slot(void)
{
	unsigned int s;

	while (sem_wait(&free_slots))
		;
	pthread_mutex_lock(&slot_lock);
	s = slot_stack[--nr_free];
	pthread_mutex_unlock(&slot_lock);
	return s;
}

static void give_slot(unsigned int s)
{
	pthread_mutex_lock(&slot_lock);
	slot_stack[nr_free++] = s;
	pthread_mutex_unlock(&slot_lock);
	sem_post(&free_slots);
}

static void *one_ecall(void *arg)
{
	unsigned int s = take_slot(), e = s / TEST_ENCL_NR_TCS, tcs = s % TEST_ENCL_NR_TCS;
	struct sgx_enclave_run run;
	struct conform_result res;
	int ret;

	(void)arg;
	ret = conform_ecall(&encls[e], tcs, TEST_ENCL_OP_READ_U64, magic[e], 0, &run, &res);
	give_slot(s);
	if (ret || run.function != SGX_EEXIT || res.status != TEST_ENCL_OK ||
	    res.value != TEST_ENCL_MAGIC) {
		if (atomic_fetch_add(&bad, 1) == 0)
			snprintf(first_error, sizeof(first_error),
				 "ECALL: %d, function %u vector %u status %llu value %#llx", ret,
				 run.function, run.exception_vector, (unsigned long long)res.status,
				 (unsigned long long)res.value);
	}
	atomic_fetch_add(&done, 1);
	return NULL;
}

static void test_short_lived_threads(void **state)
{
	const char *v = getenv("SOFTSGX_STRESS");
	long nr = v && !strcmp(v, "long") ? 20000 : 5000;
	struct sgx_enclave_run run;
	struct conform_result res;
	pthread_t batch[NR_SLOTS];
	struct timespec t0, t1;

	(void)state;
	assert_int_equal(sem_init(&free_slots, 0, NR_SLOTS), 0);
	for (unsigned int i = 0; i < NR_ENCLAVES; i++) {
		encls[i] = image;
		assert_int_equal(conform_build(&encls[i]), 0);
		assert_int_equal(conform_ecall(&encls[i], 0, TEST_ENCL_OP_MAGIC, 0, 0, &run, &res), 0);
		assert_int_equal(res.status, TEST_ENCL_OK);
		magic[i] = res.value;
	}
	for (unsigned int s = 0; s < NR_SLOTS; s++)
		slot_stack[nr_free++] = s;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long n = 0; n < nr; n += NR_SLOTS) {
		for (unsigned int i = 0; i < NR_SLOTS; i++)
			assert_int_equal(pthread_create(&batch[i], NULL, one_ecall, NULL), 0);
		for (unsigned int i = 0; i < NR_SLOTS; i++)
			assert_int_equal(pthread_join(batch[i], NULL), 0);
		if (atomic_load(&bad))
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "[  STATS   ] %ld threads, one ECALL each, in %.2f s\n", atomic_load(&done),
		(double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (atomic_load(&bad))
		fail_msg("%ld of %ld threads failed; first: %s", atomic_load(&bad),
			 atomic_load(&done), first_error);
	assert_true(atomic_load(&done) >= nr);
	for (unsigned int i = 0; i < NR_ENCLAVES; i++)
		conform_unload(&encls[i]);
	sem_destroy(&free_slots);
}

int main(int argc, char **argv)
{
	static const char *const run_opts[] = { "--epc", "1M", "--sections", "1", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_lived_threads),
	};

	shim_test_reexec(argc, argv, run_opts);
	conform_find_vdso();
	conform_load(&image, "SOFTSGX_TEST_ENCLAVE", 0);
	return cmocka_run_group_tests_name("stress_threads", tests, NULL, NULL);
}
