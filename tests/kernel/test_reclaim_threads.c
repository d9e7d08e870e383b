// SPDX-License-Identifier: MIT
/*
 * Faults racing the reclaimer: worker threads write and read their own pages
 * of one enclave through the fault path while ksgxd and a thread that calls
 * softsgx_reclaim() without pause evict them from a tiny EPC. Every value
 * written must read back; nothing may leak. Runs a bounded time. `make check`
 * also runs this test under ThreadSanitizer (build/tsan/).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/encl_fixture.h"
#include "tests/common/leak_guard.h"

#define NR_WORKERS	 4
#define PAGES_PER_WORKER 64
#define EPC_PAGES	 128 /* the enclave is twice the EPC */
#define RUN_SECONDS	 1.5
#define MARK_OFF	 2048

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct run {
	struct softsgx_platform *p;
	uint64_t base;
	double deadline;
	atomic_bool stop;
	atomic_uint errors;
	atomic_uint sigbus;
};

struct worker {
	struct run *run;
	unsigned int id;
	uint64_t passes;
	pthread_t thread;
};

struct access {
	volatile uint64_t *mark;
	volatile uint64_t *first;
	uint64_t expect_first;
	uint64_t expect, write;
	bool ok;
};

static uint64_t mark(unsigned int id, uint64_t page, uint64_t pass)
{
	return (uint64_t)id << 56 ^ page << 32 ^ pass;
}

/* The enclave's own loads and stores; a fault on any of them goes to the fault path. */
static void access_page(void *arg)
{
	struct access *a = arg;

	a->ok = *a->first == a->expect_first && *a->mark == a->expect;
	*a->mark = a->write;
	a->ok = a->ok && *a->mark == a->write;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	uint64_t first = 1 + (uint64_t)w->id * PAGES_PER_WORKER;

	/* A pass writes pass+1 over pass; pass 0 finds what EADD put there. */
	for (w->passes = 0; !atomic_load(&r->stop); w->passes++) {
		for (uint64_t i = first; i < first + PAGES_PER_WORKER; i++) {
			uint8_t *page = (uint8_t *)(uintptr_t)(r->base + i * SGX_PAGE_SIZE);
			struct access a = {
				.mark = (volatile uint64_t *)(page + MARK_OFF),
				.first = (volatile uint64_t *)page,
				.expect_first = i,
				.write = mark(w->id, i, w->passes + 1),
			};

			if (w->passes)
				a.expect = mark(w->id, i, w->passes);
			else
				memset(&a.expect, ek_pattern(i), sizeof(a.expect));
			if (!ek_try(access_page, &a))
				atomic_fetch_add(&r->sigbus, 1);
			else if (!a.ok)
				atomic_fetch_add(&r->errors, 1);
		}
		if (now() > r->deadline)
			break;
	}
	return NULL;
}

static void *reclaim_fn(void *arg)
{
	struct run *r = arg;

	while (!atomic_load(&r->stop))
		softsgx_reclaim(r->p);
	return NULL;
}

static void test_faults_race_reclaim(void **state)
{
	struct softsgx_config cfg;
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct worker w[NR_WORKERS];
	struct softsgx_stats st;
	struct run r = {0};
	pthread_t reclaimer;
	double deadline;

	(void)state;
	assert_non_null(e);
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = EPC_PAGES * SGX_PAGE_SIZE;
	r.p = lg_platform_new(&cfg);
	assert_non_null(r.p);
	ek_build(r.p, e, NR_WORKERS * PAGES_PER_WORKER);
	r.base = e->base;
	ek_fault_handler_install(r.p);

	r.deadline = now() + RUN_SECONDS;
	assert_int_equal(pthread_create(&reclaimer, NULL, reclaim_fn, &r), 0);
	for (unsigned int i = 0; i < NR_WORKERS; i++) {
		w[i] = (struct worker){.run = &r, .id = i};
		assert_int_equal(pthread_create(&w[i].thread, NULL, worker_fn, &w[i]), 0);
	}
	for (unsigned int i = 0; i < NR_WORKERS; i++)
		assert_int_equal(pthread_join(w[i].thread, NULL), 0);
	atomic_store(&r.stop, true);
	assert_int_equal(pthread_join(reclaimer, NULL), 0);

	softsgx_get_stats(r.p, &st);
	print_message("%u workers: passes %llu %llu %llu %llu; %llu evictions, %llu reloads, "
		      "%llu faults\n",
		      NR_WORKERS, (unsigned long long)w[0].passes, (unsigned long long)w[1].passes,
		      (unsigned long long)w[2].passes, (unsigned long long)w[3].passes,
		      (unsigned long long)st.evictions, (unsigned long long)st.reloads,
		      (unsigned long long)st.faults);
	assert_int_equal(atomic_load(&r.errors), 0);
	assert_int_equal(atomic_load(&r.sigbus), 0);
	for (unsigned int i = 0; i < NR_WORKERS; i++)
		assert_true(w[i].passes >= 1);
	assert_true(st.evictions > NR_WORKERS * PAGES_PER_WORKER);
	assert_true(st.reloads > 0);
	assert_int_equal(st.lost_pages, 0);
	assert_int_equal(st.eremove_failures, 0);
	ek_assert_invariant(r.p);

	/* Each page holds the last value its worker wrote. */
	for (unsigned int id = 0; id < NR_WORKERS; id++) {
		for (uint64_t i = 1 + id * PAGES_PER_WORKER; i <= (id + 1) * PAGES_PER_WORKER;
		     i++) {
			uint8_t *page = (uint8_t *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE);
			struct access a = {
				.mark = (volatile uint64_t *)(page + MARK_OFF),
				.first = (volatile uint64_t *)page,
				.expect_first = i,
				.expect = mark(id, i, w[id].passes + 1),
				.write = mark(id, i, w[id].passes + 1),
			};

			assert_true(ek_try(access_page, &a));
			assert_true(a.ok);
		}
	}

	assert_int_equal(softsgx_close(r.p, e->fd), 0);
	assert_int_equal(softsgx_munmap(r.p, (void *)(uintptr_t)e->base, e->size), 0);
	deadline = now() + 10;
	while ((softsgx_get_stats(r.p, &st), st.free_pages != st.total_pages) && now() < deadline)
		usleep(1000);
	assert_int_equal(st.free_pages, st.total_pages);
	ek_assert_invariant(r.p);
	ek_fault_handler_remove();
	lg_platform_free(r.p);
	free(e);
}

/*
 * Enclaves closed while reclaimers hold their pages: the release must wait
 * for the batch (the reclaimer's reference) or take the pages off the LRU
 * first, and either way every EPC page comes back exactly once.
 */
static void test_close_races_reclaim(void **state)
{
	struct softsgx_config cfg;
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct softsgx_stats st;
	struct run r = {0};
	pthread_t reclaimer;
	double deadline;
	unsigned int rounds = 0;

	(void)state;
	assert_non_null(e);
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = EPC_PAGES * SGX_PAGE_SIZE;
	r.p = lg_platform_new(&cfg);
	assert_non_null(r.p);
	ek_fault_handler_install(r.p);
	assert_int_equal(pthread_create(&reclaimer, NULL, reclaim_fn, &r), 0);
	deadline = now() + RUN_SECONDS / 2;
	do {
		/* Alternate: initialized and mapped (SECS can go too), or not. */
		if (rounds % 2) {
			ek_build(r.p, e, 100);
			for (uint64_t i = 1; i <= 100; i += 7) {
				uint8_t *page = (uint8_t *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE);
				struct access a = {
					.mark = (volatile uint64_t *)(page + MARK_OFF),
					.first = (volatile uint64_t *)page,
					.expect_first = i,
					.write = i,
				};

				memset(&a.expect, ek_pattern(i), sizeof(a.expect));
				assert_true(ek_try(access_page, &a));
				assert_true(a.ok);
			}
			assert_int_equal(softsgx_munmap(r.p, (void *)(uintptr_t)e->base, e->size),
					 0);
		} else {
			ek_create_and_add(r.p, e, 100);
		}
		assert_int_equal(softsgx_close(r.p, e->fd), 0);
		rounds++;
	} while (now() < deadline);
	atomic_store(&r.stop, true);
	assert_int_equal(pthread_join(reclaimer, NULL), 0);

	/* ksgxd may still hold the last enclave for the rest of a batch. */
	deadline = now() + 10;
	while ((softsgx_get_stats(r.p, &st), st.free_pages != st.total_pages) && now() < deadline)
		usleep(1000);
	print_message("%u enclaves built and closed; %llu evictions, %llu reloads\n", rounds,
		      (unsigned long long)st.evictions, (unsigned long long)st.reloads);
	assert_int_equal(st.free_pages, st.total_pages);
	assert_int_equal(st.eremove_failures, 0);
	assert_int_equal(st.lost_pages, 0);
	assert_true(st.evictions > 0);
	ek_assert_invariant(r.p);
	ek_fault_handler_remove();
	lg_platform_free(r.p);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_faults_race_reclaim),
		LG_TEST(test_close_races_reclaim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
