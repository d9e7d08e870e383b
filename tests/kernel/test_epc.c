// SPDX-License-Identifier: MIT
/*
 * The EPC manager, white-box through kernel/sgx.h: boot sanitization of a
 * clean and of a dirty EPC (SECS pages before and after their children, a
 * page that cannot be removed), the allocator's answers when the EPC is full,
 * lazily allocated page descriptors on a huge EPC, and the watermarks that
 * wake ksgxd.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "kernel/encl.h"
#include "kernel/epc_cgroup.h"
#include "kernel/fault_inject.h"
#include "tests/common/encl_fixture.h"
#include "tests/common/hw_fixture.h"
#include "hw/hw_internal.h"
#include "kernel/sgx.h"
#include "tests/common/leak_guard.h"

#define RW_REG (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct sgx_epc_usage usage(struct sgx_kernel *k)
{
	struct sgx_epc_usage u;

	sgx_epc_usage(k, &u);
	return u;
}

/* free + in use + leaked + zombie == total, the invariant of the EPC manager. */
static void assert_invariant(struct sgx_kernel *k)
{
	struct sgx_epc_usage u = usage(k);

	assert_int_equal(u.free + u.in_use + u.leaked + u.zombie, u.total);
}

static void kernel_boot(struct sgx_kernel *k, struct sgx_hw *hw)
{
	struct sgx_kernel_config cfg;

	sgx_kernel_config_from_hw(&cfg, hw);
	cfg.no_ksgxd = true;
	assert_int_equal(sgx_kernel_init(k, &cfg), 0);
}

/* Descriptor chunks the kernel has allocated, over all sections. */
static uint64_t desc_chunks(struct sgx_kernel *k)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < k->nr_sections; i++)
		for (uint64_t c = 0; c < k->sections[i].nr_chunks; c++)
			n += atomic_load(&k->sections[i].desc_chunks[c]) != NULL;
	return n;
}

/* The descriptor of page @index of section @sec, or NULL if its chunk does not exist. */
static struct sgx_epc_page *desc_peek(struct sgx_kernel *k, unsigned int sec, uint64_t index)
{
	struct sgx_epc_page *chunk =
		atomic_load(&k->sections[sec].desc_chunks[index / SGX_EPC_DESC_CHUNK]);

	return chunk ? &chunk[index % SGX_EPC_DESC_CHUNK] : NULL;
}

static bool page_valid(struct sgx_hw *hw, uint64_t n)
{
	return hw_epc_page_valid(hw, fx_epc_page(hw, n));
}

/* Allocate until the allocator refuses; returns the count, pages in @out. */
static uint64_t alloc_all(struct sgx_kernel *k, bool reclaim, struct sgx_epc_page **out,
			  uint64_t max, int *err)
{
	uint64_t n = 0;

	*err = 0;
	while (n < max) {
		struct sgx_epc_page *page = sgx_alloc_epc_page(k, NULL, reclaim, err);

		if (!page)
			break;
		out[n++] = page;
	}
	return n;
}

static void free_all(struct sgx_kernel *k, struct sgx_epc_page **pages, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		sgx_free_epc_page(k, pages[i]);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/* Every page handed out exactly once: the addresses are distinct. */
static void assert_distinct(struct sgx_kernel *k, struct sgx_epc_page **pages, uint64_t n)
{
	uintptr_t *addr = calloc(n, sizeof(*addr));

	assert_non_null(addr);
	for (uint64_t i = 0; i < n; i++)
		addr[i] = (uintptr_t)sgx_get_epc_virt_addr(k, pages[i]);
	qsort(addr, n, sizeof(*addr), cmp_ptr);
	for (uint64_t i = 1; i < n; i++)
		assert_true(addr[i - 1] != addr[i]);
	free(addr);
}

static void test_boot_clean(void **state)
{
	struct sgx_hw *hw = fx_hw_new(2, 700);
	struct sgx_kernel k;
	struct sgx_epc_usage u;

	(void)state;
	kernel_boot(&k, hw);
	u = usage(&k);
	assert_int_equal(u.total, 1400);
	assert_int_equal(u.free, 1400);
	assert_int_equal(u.in_use, 0);
	assert_int_equal(u.leaked, 0);
	assert_int_equal(u.zombie, 0);
	assert_int_equal(atomic_load(&k.stats.sanitize_valid_pages), 0);
	/* Nothing was ever in use: no page needed a descriptor. */
	assert_int_equal(desc_chunks(&k), 0);
	sgx_kernel_destroy(&k);
	lg_hw_free(hw);
}

/* ECREATE at EPC page @secs_n, then EADD a REG page at EPC page @n for each of @children. */
static void make_enclave(struct sgx_hw *hw, uint64_t secs_n, const uint64_t *children,
			 unsigned int nr)
{
	void *secs = fx_epc_page(hw, secs_n);
	void *src = fx_page_buf(0xA5);

	fx_ecreate_default(hw, secs);
	for (unsigned int i = 0; i < nr; i++)
		assert_int_equal(fx_eadd(hw, secs, fx_epc_page(hw, children[i]),
					 FX_BASE + (i + 1) * SGX_PAGE_SIZE, src, RW_REG),
				 SGX_SUCCESS);
	free(src);
}

/*
 * EPC state a previous kernel left behind (kexec): enclave A's SECS is the
 * first page of section 0 and its children come later, in both sections, so
 * the first pass meets the SECS while it still has children; enclave B's SECS
 * is in section 1 after its child in section 0, so one pass removes both.
 * Plus a VA page.
 */
#define A_SECS	0
#define B_SECS	(512 + 100)
#define VA_PAGE (512 + 400)

static void test_boot_dirty(void **state)
{
	const uint64_t a_children[] = {5, 512 + 3};
	const uint64_t b_children[] = {200};
	struct sgx_hw *hw = fx_hw_new(2, 512);
	struct sgx_epc_page **pages = calloc(1024, sizeof(*pages));
	struct sgx_epc_page *desc;
	struct sgx_kernel k;
	struct sgx_epc_usage u;
	uint64_t n;
	int err;

	(void)state;
	assert_non_null(pages);
	make_enclave(hw, A_SECS, a_children, 2);
	make_enclave(hw, B_SECS, b_children, 1);
	assert_int_equal(encls_epa(hw, fx_epc_page(hw, VA_PAGE)), SGX_SUCCESS);
	/* What the first pass meets: the SECS of A cannot go before its children. */
	assert_int_equal(encls_eremove(hw, fx_epc_page(hw, A_SECS)), SGX_CHILD_PRESENT);

	kernel_boot(&k, hw);
	u = usage(&k);
	assert_int_equal(u.free, u.total);
	assert_int_equal(u.in_use, 0);
	assert_int_equal(u.leaked, 0);
	assert_int_equal(atomic_load(&k.stats.sanitize_valid_pages), 6);
	for (uint64_t i = 0; i < 1024; i++)
		assert_false(page_valid(hw, i));

	/*
	 * Only A's SECS failed the first pass: it alone has a descriptor
	 * (TOUCHED, free), the second pass put it on the free list. B's SECS
	 * went in the first pass: section 1 has no descriptors at all.
	 */
	desc = desc_peek(&k, 0, A_SECS);
	assert_non_null(desc);
	assert_int_equal(desc->flags, SGX_EPC_PAGE_TOUCHED | SGX_EPC_PAGE_IS_FREE);
	for (uint64_t i = 1; i < 512; i++)
		assert_int_equal(desc_peek(&k, 0, i)->flags, 0);
	assert_int_equal(desc_chunks(&k), 1);

	/* The free list comes first, and the page is never handed out twice. */
	pages[0] = sgx_alloc_epc_page(&k, NULL, false, &err);
	assert_ptr_equal(pages[0], desc);
	n = 1 + alloc_all(&k, false, pages + 1, 1023, &err);
	assert_int_equal(n, 1024);
	assert_null(sgx_alloc_epc_page(&k, NULL, false, &err));
	assert_int_equal(err, -ENOMEM);
	assert_distinct(&k, pages, n);
	assert_invariant(&k);
	free_all(&k, pages, n);
	assert_int_equal(usage(&k).free, 1024);
	assert_int_equal(atomic_load(&k.stats.allocs), 1024);
	assert_int_equal(atomic_load(&k.stats.frees), 1024);
	sgx_kernel_destroy(&k);
	lg_hw_free(hw);
	free(pages);
}

/*
 * A page sanitization cannot remove: a logical processor is still inside
 * enclave A (the EPCM's thread count of its SECS), so EREMOVE of the child
 * answers ENCLAVE_ACT in both passes and the SECS keeps CHILD_PRESENT. Both
 * are leaked, the rest of the EPC is usable.
 */
static void test_boot_leak(void **state)
{
	const uint64_t a_children[] = {7};
	const uint64_t b_children[] = {3};
	struct sgx_hw *hw = fx_hw_new(1, 256);
	struct sgx_epc_page **pages = calloc(256, sizeof(*pages));
	struct sgx_kernel k;
	struct sgx_epc_usage u;
	struct epc_ref ref;
	uint64_t n;
	int err;

	(void)state;
	assert_non_null(pages);
	make_enclave(hw, 2, a_children, 1);
	make_enclave(hw, 100, b_children, 1);
	assert_true(epc_resolve(hw, fx_epc_page(hw, 2), false, &ref));
	atomic_store(&ref.e->threads, 1);
	assert_int_equal(encls_eremove(hw, fx_epc_page(hw, 7)), SGX_ENCLAVE_ACT);

	kernel_boot(&k, hw);
	u = usage(&k);
	assert_int_equal(u.leaked, 2);
	assert_int_equal(u.in_use, 0);
	assert_int_equal(u.free, 254);
	assert_invariant(&k);
	assert_true(page_valid(hw, 2));
	assert_true(page_valid(hw, 7));
	assert_false(page_valid(hw, 3));
	assert_false(page_valid(hw, 100));
	assert_true(desc_peek(&k, 0, 2)->flags & SGX_EPC_PAGE_LEAKED);
	assert_true(desc_peek(&k, 0, 7)->flags & SGX_EPC_PAGE_LEAKED);

	/* The allocator never hands out a leaked page. */
	n = alloc_all(&k, true, pages, 256, &err);
	assert_int_equal(n, 254);
	assert_int_equal(err, -ENOMEM);
	for (uint64_t i = 0; i < n; i++) {
		void *addr = sgx_get_epc_virt_addr(&k, pages[i]);

		assert_true(addr != fx_epc_page(hw, 2) && addr != fx_epc_page(hw, 7));
	}
	assert_invariant(&k);
	free_all(&k, pages, n);
	u = usage(&k);
	assert_int_equal(u.free, 254);
	assert_int_equal(u.leaked, 2);
	sgx_kernel_destroy(&k);
	lg_hw_free(hw);
	free(pages);
}

/* Full EPC, nothing on the LRU: -ENOMEM whether or not the caller may reclaim. */
static void test_alloc_full_unreclaimable(void **state)
{
	struct sgx_hw *hw = fx_hw_new(2, 64);
	struct sgx_epc_page **pages = calloc(128, sizeof(*pages));
	struct sgx_kernel k;
	uint64_t n;
	int err;

	(void)state;
	assert_non_null(pages);
	kernel_boot(&k, hw);
	n = alloc_all(&k, false, pages, 128, &err);
	assert_int_equal(n, 128);
	assert_distinct(&k, pages, n);
	/* Both sections were used. */
	assert_int_not_equal(pages[0]->section, pages[127]->section);
	assert_int_equal(usage(&k).free, 0);
	assert_int_equal(usage(&k).in_use, 128);
	assert_null(sgx_alloc_epc_page(&k, NULL, false, &err));
	assert_int_equal(err, -ENOMEM);
	assert_null(sgx_alloc_epc_page(&k, NULL, true, &err));
	assert_int_equal(err, -ENOMEM);
	assert_invariant(&k);

	/* Freed pages come back, and go out again. */
	free_all(&k, pages, 10);
	assert_int_equal(usage(&k).free, 10);
	assert_int_equal(alloc_all(&k, false, pages, 10, &err), 10);
	assert_null(sgx_alloc_epc_page(&k, NULL, false, &err));
	free_all(&k, pages, n);
	assert_int_equal(usage(&k).free, 128);
	assert_int_equal(usage(&k).in_use, 0);
	assert_invariant(&k);
	sgx_kernel_destroy(&k);
	lg_hw_free(hw);
	free(pages);
}

/*
 * sgx_alloc_epc_pages(): the pages single allocations would take, in the
 * same order (freed pages first, then never-used ones, section by
 * section), as many as there are, counted and charged like them; and an
 * injected exhaustion ends the batch where it would fail one allocation.
 */
static void test_alloc_batch(void **state)
{
	struct sgx_hw *hw = fx_hw_new(2, 64);
	struct sgx_epc_page **pages = calloc(128, sizeof(*pages));
	struct sgx_epc_page *more[8], *single;
	struct sgx_epc_cgroup *root;
	struct sgx_kernel k;
	int err;

	(void)state;
	assert_non_null(pages);
	kernel_boot(&k, hw);
	root = sgx_epc_cgroup_root(&k);
	assert_int_equal(sgx_alloc_epc_pages(&k, pages, 0), 0);
	/* Across both sections, the first one first. */
	assert_int_equal(sgx_alloc_epc_pages(&k, pages, 100), 100);
	assert_distinct(&k, pages, 100);
	for (unsigned int i = 0; i < 100; i++) {
		assert_int_equal(pages[i]->section, i < 64 ? 0 : 1);
		assert_int_equal(pages[i]->index, i % 64);
		assert_null(pages[i]->owner);
		assert_ptr_equal(pages[i]->cg, root);
	}
	assert_int_equal(usage(&k).in_use, 100);
	assert_int_equal(usage(&k).free, 28);
	assert_int_equal(atomic_load(&root->usage), 100 * SGX_PAGE_SIZE);
	assert_int_equal(atomic_load(&k.stats.allocs), 100);
	/* Fewer than asked for: what is left; then none, and nothing stays charged. */
	assert_int_equal(sgx_alloc_epc_pages(&k, pages + 100, 40), 28);
	assert_int_equal(sgx_alloc_epc_pages(&k, more, 8), 0);
	assert_int_equal(atomic_load(&root->usage), 128 * SGX_PAGE_SIZE);
	assert_int_equal(usage(&k).free, 0);
	assert_invariant(&k);

	/*
	 * Freed pages go out again as to single allocations: the first
	 * section's first, each section's oldest freed first.
	 */
	sgx_free_epc_page(&k, pages[70]);
	sgx_free_epc_page(&k, pages[40]);
	sgx_free_epc_page(&k, pages[5]);
	assert_int_equal(sgx_alloc_epc_pages(&k, more, 8), 3);
	assert_ptr_equal(more[0], pages[40]);
	assert_ptr_equal(more[1], pages[5]);
	assert_ptr_equal(more[2], pages[70]);

	/* Injected exhaustion at the third page: two taken, the rest given back. */
	free_all(&k, pages, 128);
	assert_int_equal(usage(&k).free, 128);
	sgx_fi_fail_nth(SGX_FI_EPC_ALLOC, 3);
	assert_int_equal(sgx_alloc_epc_pages(&k, more, 8), 2);
	assert_int_equal(sgx_fi_failures(SGX_FI_EPC_ALLOC), 1);
	assert_int_equal(sgx_fi_calls(SGX_FI_EPC_ALLOC), 3);
	sgx_fi_disarm_all();
	assert_int_equal(atomic_load(&root->usage), 2 * SGX_PAGE_SIZE);
	assert_int_equal(usage(&k).in_use, 2);
	single = sgx_alloc_epc_page(&k, NULL, false, &err);
	assert_non_null(single);
	sgx_free_epc_page(&k, single);
	free_all(&k, more, 2);
	assert_int_equal(usage(&k).free, 128);
	assert_int_equal(atomic_load(&root->usage), 0);
	assert_invariant(&k);
	sgx_kernel_destroy(&k);
	lg_hw_free(hw);
	free(pages);
}

static struct softsgx_platform *platform(unsigned int pages, bool ksgxd)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = (uint64_t)pages * SGX_PAGE_SIZE;
	cfg.no_ksgxd = !ksgxd;
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

/*
 * Full EPC with enclave pages on the LRU: -EBUSY for a caller that may not
 * reclaim (the fault path), a reclaimed page for one that may.
 */
static void test_alloc_full_reclaimable(void **state)
{
	struct softsgx_platform *p = platform(128, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_epc_page **pages = calloc(128, sizeof(*pages));
	struct sgx_epc_page *page;
	uint64_t n, in_use;
	int err;

	(void)state;
	assert_non_null(e);
	assert_non_null(pages);
	ek_create_and_add(p, e, 40); /* SECS, VA, TCS and 40 REG pages */
	in_use = usage(k).in_use;
	assert_int_equal(in_use, 43);
	n = alloc_all(k, false, pages, 128, &err);
	assert_int_equal(n, 128 - in_use);
	assert_int_equal(err, -EBUSY);
	assert_int_equal(atomic_load(&k->stats.evictions), 0);

	/* Pages never touched since EADD are old: the first batch writes them out. */
	page = sgx_alloc_epc_page(k, NULL, true, &err);
	assert_non_null(page);
	pages[n++] = page;
	assert_true(atomic_load(&k->stats.evictions) > 0);
	assert_true(atomic_load(&k->stats.reclaim_batches) > 0);
	assert_invariant(k);

	/* Keep taking: the reclaimer empties the LRU, then the EPC is really full. */
	n += alloc_all(k, true, pages + n, 128 - n, &err);
	assert_int_equal(err, -ENOMEM);
	/* SECS (uninitialized, so it stays) and the VA page remain. */
	assert_int_equal(n, 126);
	assert_int_equal(atomic_load(&k->stats.evictions), 41);
	assert_invariant(k);

	free_all(k, pages, n);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	assert_int_equal(usage(k).free, 128);
	assert_invariant(k);
	lg_platform_free(p);
	free(pages);
	free(e);
}

/*
 * Descriptors exist only for pages ever handed out: a huge EPC boots with
 * none and costs a chunk per SGX_EPC_DESC_CHUNK pages used. Sanitization
 * looks only at pages the CPU model ever used (none here), so boot costs
 * nothing per page; test_sanitize boots the largest EPC, 2^28 pages.
 */
#define HUGE_PAGES (1ULL << 24)

static void test_huge_epc_lazy_descriptors(void **state)
{
	struct sgx_hw_config cfg;
	struct sgx_hw *hw;
	struct sgx_kernel k;
	struct sgx_epc_page **pages = calloc(1000, sizeof(*pages));
	double t0, t;
	int err;

	(void)state;
	assert_non_null(pages);
	sgx_hw_default_config(&cfg);
	cfg.nr_sections = 2;
	cfg.section_size[0] = HUGE_PAGES / 2 * SGX_PAGE_SIZE;
	cfg.section_size[1] = HUGE_PAGES / 2 * SGX_PAGE_SIZE;
	hw = lg_hw_new(&cfg);
	assert_non_null(hw);
	t0 = now();
	kernel_boot(&k, hw);
	t = now() - t0;
	print_message("EPC of %llu pages: boot with sanitization in %.3f s\n",
		      (unsigned long long)HUGE_PAGES, t);
	assert_int_equal(usage(&k).total, HUGE_PAGES);
	assert_int_equal(usage(&k).free, HUGE_PAGES);
	assert_int_equal(desc_chunks(&k), 0);

	assert_int_equal(alloc_all(&k, false, pages, 1000, &err), 1000);
	/* 1000 pages from the first section: two chunks of 512 descriptors. */
	assert_int_equal(desc_chunks(&k), 2);
	free_all(&k, pages, 1000);
	/* Freed pages are reused before new ones: still two chunks. */
	assert_int_equal(alloc_all(&k, false, pages, 1000, &err), 1000);
	assert_int_equal(desc_chunks(&k), 2);
	free_all(&k, pages, 1000);
	assert_int_equal(usage(&k).free, HUGE_PAGES);
	assert_invariant(&k);
	sgx_kernel_destroy(&k);
	lg_hw_free(hw);
	free(pages);
}

/*
 * Wait until @pages are free: ksgxd may hold a reference to an enclave that
 * was just closed (a page in its batch), and then the release runs when the
 * batch ends, as with Linux's kref.
 */
static void wait_free(struct sgx_kernel *k, uint64_t pages)
{
	double deadline = now() + 10;

	while (usage(k).free != pages && now() < deadline)
		usleep(1000);
	assert_int_equal(usage(k).free, pages);
}

/* sgx_should_reclaim(): below the watermark and something on the LRU. */
static void test_should_reclaim(void **state)
{
	struct softsgx_platform *p = platform(128, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_epc_page **pages = calloc(128, sizeof(*pages));
	uint64_t n = 0;
	int err;

	(void)state;
	assert_non_null(e);
	assert_non_null(pages);
	/* Below both watermarks, but nothing to reclaim. */
	while (usage(k).free >= SGX_NR_LOW_PAGES)
		pages[n++] = sgx_alloc_epc_page(k, NULL, false, &err);
	assert_false(sgx_should_reclaim(k, SGX_NR_LOW_PAGES));
	assert_false(sgx_should_reclaim(k, SGX_NR_HIGH_PAGES));
	free_all(k, pages, n);

	ek_create_and_add(p, e, 20); /* 23 pages in use, 105 free */
	assert_false(sgx_should_reclaim(k, SGX_NR_LOW_PAGES));
	assert_false(sgx_should_reclaim(k, SGX_NR_HIGH_PAGES));
	for (n = 0; usage(k).free >= SGX_NR_HIGH_PAGES; n++)
		pages[n] = sgx_alloc_epc_page(k, NULL, false, &err);
	assert_int_equal(usage(k).free, SGX_NR_HIGH_PAGES - 1);
	assert_false(sgx_should_reclaim(k, SGX_NR_LOW_PAGES));
	assert_true(sgx_should_reclaim(k, SGX_NR_HIGH_PAGES));
	for (; usage(k).free >= SGX_NR_LOW_PAGES; n++)
		pages[n] = sgx_alloc_epc_page(k, NULL, false, &err);
	assert_true(sgx_should_reclaim(k, SGX_NR_LOW_PAGES));
	free_all(k, pages, n);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	assert_int_equal(usage(k).free, 128);
	lg_platform_free(p);
	free(pages);
	free(e);
}

/*
 * sgx_epc_usage() while another thread allocates and frees pages without
 * pause: a free takes a page out of the in-use count before it counts it
 * free, and a snapshot must not land between the two (the service's STATUS
 * and `softsgx top` show it; a test saw free + in use one short of total).
 */
struct churn {
	struct sgx_kernel *k;
	_Atomic bool stop;
	_Atomic unsigned long cycles;
};

static void *churn_pages(void *arg)
{
	struct churn *c = arg;
	struct sgx_epc_page *pages[8];
	int err;

	while (!atomic_load(&c->stop)) {
		unsigned int n = 0;

		while (n < 8 && (pages[n] = sgx_alloc_epc_page(c->k, NULL, false, &err)))
			n++;
		for (unsigned int i = 0; i < n; i++)
			sgx_free_epc_page(c->k, pages[i]);
		atomic_fetch_add(&c->cycles, 1);
	}
	return NULL;
}

static void test_usage_snapshot_under_churn(void **state)
{
	struct softsgx_platform *p = platform(64, false);
	struct churn c = {.k = softsgx_kernel(p)};
	unsigned int torn = 0;
	pthread_t th[2];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn_pages, &c), 0);
	for (int i = 0; i < 20000 || atomic_load(&c.cycles) < 1000; i++) {
		struct sgx_epc_usage u = usage(c.k);

		torn += u.free + u.in_use + u.leaked + u.zombie != u.total;
	}
	/* Stopped before any verdict: the threads use the platform. */
	atomic_store(&c.stop, true);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(torn, 0);
	assert_int_equal(usage(c.k).free, 64);
	lg_platform_free(p);
}

/*
 * An allocation that leaves fewer than SGX_NR_LOW_PAGES free wakes ksgxd,
 * which reclaims until SGX_NR_HIGH_PAGES are free, with nobody else reclaiming.
 */
static void test_watermark_wakes_ksgxd(void **state)
{
	struct softsgx_platform *p = platform(256, true);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_epc_page **pages = calloc(256, sizeof(*pages));
	uint64_t n = 0, target;
	double deadline;
	int err;

	(void)state;
	assert_non_null(e);
	assert_non_null(pages);
	ek_create_and_add(p, e, 150); /* 153 in use, 103 free: ksgxd sleeps */
	assert_int_equal(atomic_load(&k->stats.evictions), 0);
	/*
	 * A count fixed up front: a loop on "free >= LOW" would go on taking
	 * the pages ksgxd frees once woken, until the LRU is empty and free
	 * stays below HIGH (seen under load).
	 */
	target = usage(k).free - SGX_NR_LOW_PAGES + 1;
	while (n < target) {
		pages[n] = sgx_alloc_epc_page(k, NULL, false, &err);
		assert_non_null(pages[n]);
		n++;
	}
	deadline = now() + 10;
	while ((int64_t)usage(k).free < SGX_NR_HIGH_PAGES && now() < deadline)
		usleep(1000);
	assert_true((int64_t)usage(k).free >= SGX_NR_HIGH_PAGES);
	assert_true(atomic_load(&k->stats.evictions) >= SGX_NR_HIGH_PAGES - SGX_NR_LOW_PAGES);
	assert_invariant(k);
	free_all(k, pages, n);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	wait_free(k, 256);
	assert_invariant(k);
	lg_platform_free(p);
	free(pages);
	free(e);
}

/*
 * The same with pages that were all touched: ksgxd's first batches only take
 * their young bits and write nothing, and ksgxd must go on (as Linux's does
 * while free pages stay under SGX_NR_HIGH_PAGES) rather than sleep.
 */
static void test_ksgxd_young_pages(void **state)
{
	struct softsgx_platform *p = platform(256, true);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_epc_page **pages = calloc(256, sizeof(*pages));
	volatile uint8_t *base;
	uint64_t n = 0, target;
	double deadline;
	int err;

	(void)state;
	assert_non_null(e);
	assert_non_null(pages);
	ek_build(p, e, 150);
	ek_fault_handler_install(p);
	base = (volatile uint8_t *)(uintptr_t)e->base;
	for (uint64_t i = 1; i <= 150; i++)
		assert_int_equal(base[i * SGX_PAGE_SIZE + 100], ek_pattern(i));
	assert_int_equal(atomic_load(&k->stats.evictions), 0);
	/*
	 * A count fixed up front: a loop on "free >= LOW" would go on taking
	 * the pages ksgxd frees once woken, until the LRU is empty and free
	 * stays below HIGH (seen under load).
	 */
	target = usage(k).free - SGX_NR_LOW_PAGES + 1;
	while (n < target) {
		pages[n] = sgx_alloc_epc_page(k, NULL, false, &err);
		assert_non_null(pages[n]);
		n++;
	}
	deadline = now() + 10;
	while ((int64_t)usage(k).free < SGX_NR_HIGH_PAGES && now() < deadline)
		usleep(1000);
	assert_true((int64_t)usage(k).free >= SGX_NR_HIGH_PAGES);
	assert_invariant(k);
	free_all(k, pages, n);
	for (uint64_t i = 1; i <= 150; i++)
		assert_int_equal(base[i * SGX_PAGE_SIZE + 100], ek_pattern(i));
	assert_int_equal(softsgx_close(p, e->fd), 0);
	assert_int_equal(softsgx_munmap(p, (void *)(uintptr_t)e->base, e->size), 0);
	wait_free(k, 256);
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(pages);
	free(e);
}

/* The SigBlk mask of every thread of this process but the calling one. */
static unsigned int other_threads_blocking(int sig, unsigned int *threads)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *de;
	unsigned int blocking = 0;

	assert_non_null(dir);
	*threads = 0;
	while ((de = readdir(dir))) {
		char path[300], line[256];
		unsigned long long mask = 0;
		FILE *f;

		if (de->d_name[0] == '.' || atoi(de->d_name) == (int)gettid())
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* gone meanwhile */
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "SigBlk: %llx", &mask) == 1)
				break;
		fclose(f);
		(*threads)++;
		blocking += (mask >> (sig - 1)) & 1;
	}
	closedir(dir);
	return blocking;
}

/* ksgxd is a kernel thread on Linux: none of the program's signals may land on it. */
static void test_ksgxd_blocks_signals(void **state)
{
	struct softsgx_platform *p = platform(64, true);
	static const int sigs[] = { SIGINT, SIGTERM, SIGALRM, SIGUSR1, SIGCHLD };
	unsigned int threads, blocking;

	(void)state;
	for (unsigned int i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		blocking = other_threads_blocking(sigs[i], &threads);
		assert_true(threads >= 1); /* ksgxd at least */
		assert_int_equal(blocking, threads);
	}
	lg_platform_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_boot_clean),
		LG_TEST(test_boot_dirty),
		LG_TEST(test_boot_leak),
		LG_TEST(test_alloc_full_unreclaimable),
		LG_TEST(test_alloc_full_reclaimable),
		LG_TEST(test_alloc_batch),
		LG_TEST(test_huge_epc_lazy_descriptors),
		LG_TEST(test_should_reclaim),
		LG_TEST(test_usage_snapshot_under_churn),
		LG_TEST(test_watermark_wakes_ksgxd),
		LG_TEST(test_ksgxd_young_pages),
		LG_TEST(test_ksgxd_blocks_signals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
