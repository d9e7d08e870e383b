// SPDX-License-Identifier: MIT
/*
 * EWB and ELDU on several threads at once, each sealing and unsealing with
 * its own cipher contexts (hw/page_crypto.c keeps them per thread, keyed once
 * and re-keyed when another platform's key comes along). Every thread owns an
 * enclave on each of two platforms and pages them out and back in, round
 * after round, alternating the platforms so its contexts change keys all the
 * time; the VA pages are shared, each thread using its own slots of them.
 * Every reloaded page must come back byte for byte. `make check` runs this
 * under ASan+UBSan and, built with ThreadSanitizer, under TSan.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/common/hw_fixture.h"
#include "tests/common/leak_guard.h"

#define NR_THREADS   4
#define NR_PLATFORMS 2
#define PAGES	     4 /* enclave pages per thread and platform */
#define ROUNDS	     24
/* Per platform: one shared VA page, then per thread a SECS and its pages. */
#define VA_PAGE	      0
#define THREAD_PAGES  (1 + PAGES)
#define SECTION_PAGES (1 + NR_THREADS * THREAD_PAGES)

struct platform {
	struct sgx_hw *hw;
	void *va;
};

struct worker {
	pthread_t tid;
	unsigned int id;
	struct platform *pf;
	uint8_t *contents[NR_PLATFORMS][PAGES]; /* what each page must hold */
	uint8_t *backing[NR_PLATFORMS][PAGES];
	struct sgx_pcmd *pcmd[NR_PLATFORMS]; /* PAGES each */
	char error[160]; /* empty: passed (cmocka asserts on the main thread only) */
};

static void *secs_of(struct worker *w, unsigned int p)
{
	return fx_epc_page(w->pf[p].hw, 1 + w->id * THREAD_PAGES);
}

static void *page_of(struct worker *w, unsigned int p, unsigned int i)
{
	return fx_epc_page(w->pf[p].hw, 1 + w->id * THREAD_PAGES + 1 + i);
}

static uint64_t *slot_of(struct worker *w, unsigned int p, unsigned int i)
{
	return (uint64_t *)w->pf[p].va + w->id * PAGES + i;
}

static uint64_t linaddr_of(unsigned int i)
{
	return FX_BASE + i * SGX_PAGE_SIZE;
}

static bool worker_fail(struct worker *w, const char *what, unsigned int i, int ret)
{
	snprintf(w->error, sizeof(w->error), "thread %u: %s of page %u: %#x", w->id, what, i,
		 (unsigned int)ret);
	return false;
}

/* EBLOCK, ETRACK and EWB every page of the thread's enclave on platform @p. */
static bool evict_all(struct worker *w, unsigned int p)
{
	struct sgx_hw *hw = w->pf[p].hw;

	for (unsigned int i = 0; i < PAGES; i++) {
		struct sgx_pageinfo pi __attribute__((aligned(32))) = {
			.contents = (uintptr_t)w->backing[p][i],
			.metadata = (uintptr_t)&w->pcmd[p][i],
		};
		int ret = encls_eblock(hw, page_of(w, p, i));

		if (ret)
			return worker_fail(w, "EBLOCK", i, ret);
		ret = encls_etrack(hw, secs_of(w, p));
		if (ret)
			return worker_fail(w, "ETRACK", i, ret);
		ret = encls_ewb(hw, &pi, page_of(w, p, i), slot_of(w, p, i));
		if (ret)
			return worker_fail(w, "EWB", i, ret);
		if (pi.addr != linaddr_of(i))
			return worker_fail(w, "EWB's LINADDR", i, 0);
	}
	return true;
}

/* ELDU every page back where it was; each must hold what EADD put there. */
static bool reload_all(struct worker *w, unsigned int p)
{
	struct sgx_hw *hw = w->pf[p].hw;

	for (unsigned int i = 0; i < PAGES; i++) {
		struct sgx_pageinfo pi __attribute__((aligned(32))) = {
			.addr = linaddr_of(i),
			.contents = (uintptr_t)w->backing[p][i],
			.metadata = (uintptr_t)&w->pcmd[p][i],
			.secs = (uintptr_t)secs_of(w, p),
		};
		int ret = encls_eldu(hw, &pi, page_of(w, p, i), slot_of(w, p, i));

		if (ret)
			return worker_fail(w, "ELDU", i, ret);
		if (memcmp(page_of(w, p, i), w->contents[p][i], SGX_PAGE_SIZE))
			return worker_fail(w, "contents after ELDU", i, 0);
		if (*slot_of(w, p, i))
			return worker_fail(w, "VA slot after ELDU", i, 0);
	}
	return true;
}

/*
 * A copy sealed on platform 0 offered to platform 1, with platform 0's
 * version in the slot: only the key differs, so the MAC must not match; the
 * context that just failed must then still open the right copies.
 */
static bool wrong_key(struct worker *w)
{
	struct sgx_pageinfo pi __attribute__((aligned(32))) = {
		.addr = linaddr_of(0),
		.contents = (uintptr_t)w->backing[0][0],
		.metadata = (uintptr_t)&w->pcmd[0][0],
		.secs = (uintptr_t)secs_of(w, 1),
	};
	uint64_t saved;
	int ret;

	if (!evict_all(w, 0) || !evict_all(w, 1))
		return false;
	saved = *slot_of(w, 1, 0);
	*slot_of(w, 1, 0) = *slot_of(w, 0, 0);
	ret = encls_eldu(w->pf[1].hw, &pi, page_of(w, 1, 0), slot_of(w, 1, 0));
	*slot_of(w, 1, 0) = saved;
	if (ret != SGX_MAC_COMPARE_FAIL)
		return worker_fail(w, "ELDU under the other platform's key", 0, ret);
	return reload_all(w, 1) && reload_all(w, 0);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (unsigned int r = 0; r < ROUNDS; r++) {
		unsigned int p = (r + w->id) % NR_PLATFORMS;

		if (!evict_all(w, p) || !reload_all(w, p))
			return NULL;
		if (r % 8 == 7 && !wrong_key(w))
			return NULL;
	}
	return NULL;
}

/* The thread's enclave on platform @p, page i of thread t filled from (t, p, i). */
static void build(struct worker *w, unsigned int p)
{
	struct sgx_hw *hw = w->pf[p].hw;
	struct sgx_secs *src = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);

	assert_non_null(src);
	fx_secs_init(src, FX_BASE, FX_SIZE, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(fx_ecreate(hw, secs_of(w, p), src), SGX_SUCCESS);
	free(src);
	for (unsigned int i = 0; i < PAGES; i++) {
		uint8_t *c = fx_page_buf(0);

		for (unsigned int b = 0; b < SGX_PAGE_SIZE; b++)
			c[b] = (uint8_t)(b * 31 + w->id * 7 + p * 3 + i);
		w->contents[p][i] = c;
		assert_int_equal(fx_eadd(hw, secs_of(w, p), page_of(w, p, i), linaddr_of(i), c,
					 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W),
				 SGX_SUCCESS);
	}
}

static void run_workers(bool fresh_threads_only)
{
	struct platform pf[NR_PLATFORMS];
	struct worker w[NR_THREADS];

	for (unsigned int p = 0; p < NR_PLATFORMS; p++) {
		pf[p].hw = fx_hw_new(1, SECTION_PAGES);
		pf[p].va = fx_epc_page(pf[p].hw, VA_PAGE);
		assert_int_equal(encls_epa(pf[p].hw, pf[p].va), SGX_SUCCESS);
	}
	memset(w, 0, sizeof(w));
	for (unsigned int t = 0; t < NR_THREADS; t++) {
		w[t].id = t;
		w[t].pf = pf;
		for (unsigned int p = 0; p < NR_PLATFORMS; p++) {
			w[t].pcmd[p] = aligned_alloc(sizeof(struct sgx_pcmd),
						     PAGES * sizeof(struct sgx_pcmd));
			assert_non_null(w[t].pcmd[p]);
			for (unsigned int i = 0; i < PAGES; i++)
				w[t].backing[p][i] = fx_page_buf(0);
			build(&w[t], p);
		}
	}
	/* Thread 0 on the test's own thread too, unless every one must be new. */
	for (unsigned int t = fresh_threads_only ? 0 : 1; t < NR_THREADS; t++)
		assert_int_equal(pthread_create(&w[t].tid, NULL, worker_main, &w[t]), 0);
	if (!fresh_threads_only)
		worker_main(&w[0]);
	for (unsigned int t = fresh_threads_only ? 0 : 1; t < NR_THREADS; t++)
		assert_int_equal(pthread_join(w[t].tid, NULL), 0);
	for (unsigned int t = 0; t < NR_THREADS; t++) {
		if (w[t].error[0])
			fail_msg("%s", w[t].error);
		for (unsigned int p = 0; p < NR_PLATFORMS; p++) {
			for (unsigned int i = 0; i < PAGES; i++) {
				free(w[t].backing[p][i]);
				free(w[t].contents[p][i]);
			}
			free(w[t].pcmd[p]);
		}
	}
	for (unsigned int p = 0; p < NR_PLATFORMS; p++)
		lg_hw_free(pf[p].hw);
}

/* Fresh threads: each makes its contexts on first use and frees them at exit. */
static void test_round_trips_fresh_threads(void **state)
{
	(void)state;
	run_workers(true);
}

/* With the main thread among them, whose contexts outlive the test. */
static void test_round_trips_with_main_thread(void **state)
{
	(void)state;
	run_workers(false);
	run_workers(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_round_trips_fresh_threads),
		LG_TEST(test_round_trips_with_main_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
