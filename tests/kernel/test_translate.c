// SPDX-License-Identifier: MIT
/*
 * The CPU's page walk of the kernel model (kernel/translate.c) and its page
 * table (kernel/pte_table.c): the table remembers what the walk found, and
 * loses it wherever the page leaves the process (zap, munmap, mprotect,
 * reclaim, a page marked being reclaimed), so that a walk answers the same
 * with the table as without it. Last, a walker racing the reclaimer never
 * keeps finding a page that is no longer the one at its address.
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
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "kernel/driver.h"
#include "kernel/encl.h"
#include "kernel/pte_table.h"
#include "hw/hw_internal.h"
#include "tests/common/encl_fixture.h"
#include "tests/common/leak_guard.h"

#define PAGE  SGX_PAGE_SIZE
#define GiB   (1ull << 30)
#define RW    (PROT_READ | PROT_WRITE)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the table itself ---- */

static void test_table_set_get_clear(void **state)
{
	struct sgx_pte_table *t = sgx_pte_table_create();
	uint64_t pte = sgx_pte_make(3, 12345, PROT_READ | PROT_EXEC);

	(void)state;
	assert_non_null(t);
	assert_int_equal(sgx_pte_get(t, 0x7000000000), 0);
	assert_true(sgx_pte_set(t, 0x7000000000, pte));
	assert_int_equal(sgx_pte_get(t, 0x7000000000), pte);
	assert_int_equal(sgx_pte_prot(pte), PROT_READ | PROT_EXEC);
	assert_int_equal(sgx_pte_section(pte), 3);
	assert_int_equal(sgx_pte_index(pte), 12345);
	/* The last page of a GiB and the first of the next: two leaves. */
	assert_true(sgx_pte_set(t, 5 * GiB - PAGE, sgx_pte_make(0, 1, RW)));
	assert_true(sgx_pte_set(t, 5 * GiB, sgx_pte_make(0, 2, RW)));
	assert_true(sgx_pte_set(t, 5 * GiB + PAGE, sgx_pte_make(0, 3, RW)));
	assert_int_equal(sgx_pte_index(sgx_pte_get(t, 5 * GiB - PAGE)), 1);
	assert_int_equal(sgx_pte_index(sgx_pte_get(t, 5 * GiB)), 2);
	/* A clear across the boundary, and one over GiBs never used. */
	sgx_pte_clear(t, 5 * GiB - PAGE, 2 * PAGE);
	assert_int_equal(sgx_pte_get(t, 5 * GiB - PAGE), 0);
	assert_int_equal(sgx_pte_get(t, 5 * GiB), 0);
	assert_int_not_equal(sgx_pte_get(t, 5 * GiB + PAGE), 0);
	sgx_pte_clear(t, 0, 1ull << 47);
	assert_int_equal(sgx_pte_get(t, 5 * GiB + PAGE), 0);
	assert_int_equal(sgx_pte_get(t, 0x7000000000), 0);
	/* Beyond the 47-bit user address space: nothing, ever. */
	assert_false(sgx_pte_set(t, 1ull << 47, pte));
	assert_int_equal(sgx_pte_get(t, 1ull << 47), 0);
	assert_int_equal(sgx_pte_get(t, UINT64_MAX & ~(PAGE - 1)), 0);
	sgx_pte_clear(t, (1ull << 47) - PAGE, UINT64_MAX);
	sgx_pte_table_destroy(t);
}

/* ---- the walk of k->mm ---- */

struct fx {
	struct softsgx_platform *p;
	struct sgx_kernel *k;
	struct ek_enclave *e;
	struct sgx_encl *encl;
};

static struct softsgx_platform *platform(uint64_t pages, bool ksgxd)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = pages * PAGE;
	cfg.no_ksgxd = !ksgxd;
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

static void fx_up(struct fx *fx, uint64_t epc_pages, uint64_t nr_reg, bool ksgxd)
{
	struct sgx_file *f;

	fx->p = platform(epc_pages, ksgxd);
	fx->k = softsgx_kernel(fx->p);
	assert_non_null(fx->k->mm.walk);
	fx->e = aligned_alloc(4096, sizeof(*fx->e));
	assert_non_null(fx->e);
	ek_build(fx->p, fx->e, nr_reg);
	f = softsgx_fget(fx->p, fx->e->fd);
	assert_non_null(f);
	fx->encl = sgx_file_encl(f);
	assert_non_null(fx->encl);
	sgx_file_put(f); /* the descriptor keeps it */
	ek_fault_handler_install(fx->p);
}

static void fx_down(struct fx *fx)
{
	ek_fault_handler_remove();
	assert_int_equal(softsgx_close(fx->p, fx->e->fd), 0);
	softsgx_munmap(fx->p, (void *)(uintptr_t)fx->e->base, fx->e->size);
	ek_assert_invariant(fx->p);
	lg_platform_free(fx->p);
	free(fx->e);
}

static uint64_t addr_of(struct fx *fx, uint64_t i)
{
	return fx->e->base + i * PAGE;
}

static uint64_t table(struct fx *fx, uint64_t i)
{
	return sgx_pte_get(fx->k->mm.walk, addr_of(fx, i));
}

static struct sgx_encl_page *entry_of(struct fx *fx, uint64_t i)
{
	return page_array_load(&fx->encl->page_array, addr_of(fx, i) / PAGE);
}

/* The EPC page the enclave holds at page @i now; NULL when evicted. */
static void *resident_epc(struct fx *fx, uint64_t i)
{
	struct sgx_encl_page *entry;
	void *epc = NULL;

	pthread_mutex_lock(&fx->encl->lock);
	entry = entry_of(fx, i);
	if (entry && entry->epc_page)
		epc = sgx_get_epc_virt_addr(fx->k, entry->epc_page);
	pthread_mutex_unlock(&fx->encl->lock);
	return epc;
}

static void test_walk_present_and_not(void **state)
{
	struct fx fx;
	void *epc = NULL, *again = NULL;
	uint64_t pte;

	(void)state;
	fx_up(&fx, 64, 4, false);
	assert_int_equal(table(&fx, 1), 0);
	/* Resident, never touched: the walk finds it and the PTE is present from now on. */
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 1), PROT_READ, &epc), 0);
	assert_ptr_equal(epc, resident_epc(&fx, 1));
	pte = table(&fx, 1);
	assert_int_not_equal(pte, 0);
	assert_int_equal(sgx_pte_prot(pte), RW);
	assert_true(entry_of(&fx, 1)->mapped != 0);
	/* The next walk is the table's, with the same answer, for any access the VMA allows. */
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 1), PROT_WRITE, &again), 0);
	assert_ptr_equal(again, epc);
	/* One it forbids: a protection fault, the PTE being present. */
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 1), PROT_EXEC, &again), -EACCES);
	/* A hole of the ELRANGE, and an address outside any VMA: not present. */
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, fx.e->size / PAGE - 1), PROT_READ, &epc),
			 -EFAULT);
	assert_int_equal(table(&fx, fx.e->size / PAGE - 1), 0);
	assert_int_equal(sgx_translate(fx.k, fx.e->base + fx.e->size, PROT_READ, &epc), -EFAULT);
	fx_down(&fx);
}

/* mprotect: the PTE keeps the VMA's new protection; PROT_NONE leaves nothing present. */
static void test_walk_protection(void **state)
{
	struct fx fx;
	void *epc = NULL;

	(void)state;
	fx_up(&fx, 64, 4, false);
	assert_int_equal(softsgx_mprotect(fx.p, (void *)(uintptr_t)addr_of(&fx, 2), PAGE, PROT_READ),
			 0);
	/* Not present yet: a write the VMA forbids is a not-present fault. */
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 2), PROT_WRITE, &epc), -EFAULT);
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 2), PROT_READ, &epc), 0);
	assert_int_equal(sgx_pte_prot(table(&fx, 2)), PROT_READ);
	/* Present now: the same write is a protection fault (P set). */
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 2), PROT_WRITE, &epc), -EACCES);
	/* Back to RW: the table forgets, the walk finds it again with RW. */
	assert_int_equal(softsgx_mprotect(fx.p, (void *)(uintptr_t)addr_of(&fx, 2), PAGE, RW), 0);
	assert_int_equal(table(&fx, 2), 0);
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 2), PROT_WRITE, &epc), 0);
	assert_ptr_equal(epc, resident_epc(&fx, 2));
	assert_int_equal(sgx_pte_prot(table(&fx, 2)), RW);
	/* PROT_NONE: nothing present, in the table either. */
	assert_int_equal(softsgx_mprotect(fx.p, (void *)(uintptr_t)addr_of(&fx, 2), PAGE, PROT_NONE),
			 0);
	assert_int_equal(table(&fx, 2), 0);
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 2), PROT_READ, &epc), -EFAULT);
	fx_down(&fx);
}

static void test_walk_cleared_on_munmap(void **state)
{
	struct fx fx;
	void *epc = NULL;

	(void)state;
	fx_up(&fx, 64, 4, false);
	for (uint64_t i = 0; i <= 4; i++)
		assert_int_equal(sgx_translate(fx.k, addr_of(&fx, i), PROT_READ, &epc), 0);
	assert_int_equal(softsgx_munmap(fx.p, (void *)(uintptr_t)addr_of(&fx, 3), 2 * PAGE), 0);
	assert_int_equal(table(&fx, 3), 0);
	assert_int_equal(table(&fx, 4), 0);
	assert_int_not_equal(table(&fx, 2), 0);
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 3), PROT_READ, &epc), -EFAULT);
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 2), PROT_READ, &epc), 0);
	fx_down(&fx);
}

/* EREMOVE, EMODT and the rest zap through sgx_encl_zap_page(): the table follows. */
static void test_walk_cleared_on_zap(void **state)
{
	struct fx fx;
	void *epc = NULL;

	(void)state;
	fx_up(&fx, 64, 4, false);
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 1), PROT_READ, &epc), 0);
	pthread_mutex_lock(&fx.encl->lock);
	assert_int_equal(sgx_encl_zap_page(fx.encl, entry_of(&fx, 1)), 0);
	assert_int_equal(entry_of(&fx, 1)->mapped, 0);
	pthread_mutex_unlock(&fx.encl->lock);
	assert_int_equal(table(&fx, 1), 0);
	/* Still resident: the walk finds it again. */
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 1), PROT_READ, &epc), 0);
	assert_ptr_equal(epc, resident_epc(&fx, 1));
	fx_down(&fx);
}

/* A page the reclaimer has chosen is not found from then on; evicted, it is not present. */
static void test_walk_cleared_on_reclaim(void **state)
{
	struct fx fx;
	struct sgx_encl_page *entry;
	void *epc = NULL;
	int tries;

	(void)state;
	fx_up(&fx, 64, 8, false);
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 1), PROT_READ, &epc), 0);
	pthread_mutex_lock(&fx.encl->lock);
	entry = entry_of(&fx, 1);
	entry->being_reclaimed = true;
	sgx_encl_walk_forget(fx.encl, entry);
	pthread_mutex_unlock(&fx.encl->lock);
	assert_int_equal(table(&fx, 1), 0);
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 1), PROT_READ, &epc), -EFAULT);
	pthread_mutex_lock(&fx.encl->lock);
	entry->being_reclaimed = false;
	pthread_mutex_unlock(&fx.encl->lock);

	/* Every page walked, then the reclaimer evicts them all. */
	for (uint64_t i = 0; i <= 8; i++)
		assert_int_equal(sgx_translate(fx.k, addr_of(&fx, i), PROT_READ, &epc), 0);
	for (tries = 0; tries < 10000 && resident_epc(&fx, 8); tries++)
		softsgx_reclaim(fx.p);
	for (uint64_t i = 0; i <= 8; i++) {
		if (resident_epc(&fx, i))
			continue;
		assert_int_equal(table(&fx, i), 0);
		assert_int_equal(sgx_translate(fx.k, addr_of(&fx, i), PROT_READ, &epc), -EFAULT);
	}
	assert_null(resident_epc(&fx, 8));
	/* The fault brings it back, wherever it lands, and the walk finds it there. */
	assert_int_equal(softsgx_handle_fault(fx.p, (void *)(uintptr_t)addr_of(&fx, 8), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(sgx_translate(fx.k, addr_of(&fx, 8), PROT_READ, &epc), 0);
	assert_ptr_equal(epc, resident_epc(&fx, 8));
	fx_down(&fx);
}

/* ---- a walker racing the reclaimer ---- */

#define RACE_EPC_PAGES 64
#define RACE_REG_PAGES 96 /* more than the EPC holds */

struct race {
	struct fx *fx;
	atomic_bool stop, sigbus;
	atomic_ulong touches, reclaims;
};

static void *reclaimer(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		softsgx_reclaim(r->fx->p);
		atomic_fetch_add(&r->reclaims, 1);
	}
	return NULL;
}

static void read_page(void *arg)
{
	(void)*(volatile uint8_t *)arg;
}

/* Brings pages back through the fault path, so that the reclaimer has work. */
static void *toucher(void *arg)
{
	struct race *r = arg;

	for (uint64_t i = 0; !atomic_load(&r->stop); i = (i + 7) % RACE_REG_PAGES) {
		if (!ek_try(read_page, (void *)(uintptr_t)addr_of(r->fx, i + 1)))
			atomic_store(&r->sigbus, true);
		atomic_fetch_add(&r->touches, 1);
	}
	return NULL;
}

/*
 * What the leaf's EPCM check would say of @epc for the page at @linaddr:
 * 1 the page, 0 not (blocked, gone, someone else's), -1 busy (a leaf holds
 * its entry exclusive: EBLOCK, EWB).
 */
static int epcm_says(struct sgx_hw *hw, void *epc, uint64_t linaddr)
{
	struct epc_ref ref;
	int ret;

	if (!epc_resolve(hw, epc, false, &ref) || !ref.e)
		return 0;
	if (!epcm_trylock_shared(ref.e))
		return -1;
	ret = ref.e->valid && !ref.e->blocked && ref.e->linaddr == linaddr;
	epcm_unlock_shared(ref.e);
	return ret;
}

/*
 * The walk may find a page the reclaimer takes the next instant (the
 * hardware's race with a TLB shootdown, which the leaf's EPCM check and its
 * second walk settle), but a second walk after the EPCM said "not this
 * page" must not find the same page unless it has become that page again
 * (reloaded into the same slot): a stale table entry would.
 */
static void test_walk_under_reclaim(void **state)
{
	const double seconds = getenv("SOFTSGX_STRESS") ? 10 : 1.5;
	unsigned long hits = 0, misses = 0, raced = 0, stale = 0;
	struct race r = {0};
	pthread_t rt, tt;
	struct fx fx;
	double end;

	(void)state;
	fx_up(&fx, RACE_EPC_PAGES, RACE_REG_PAGES, true);
	r.fx = &fx;
	assert_int_equal(pthread_create(&rt, NULL, reclaimer, &r), 0);
	assert_int_equal(pthread_create(&tt, NULL, toucher, &r), 0);
	end = now() + seconds;
	for (uint64_t i = 1; now() < end; i = i % RACE_REG_PAGES + 1) {
		uint64_t addr = addr_of(&fx, i);
		void *epc = NULL, *again = NULL;
		int says, tries;

		if (sgx_translate(fx.k, addr, PROT_READ, &epc)) {
			misses++;
			continue;
		}
		hits++;
		while ((says = epcm_says(fx.k->hw, epc, addr)) < 0)
			;
		if (says)
			continue;
		raced++;
		/* The leaf walks again: the same page must now be that page, or not found. */
		for (tries = 0; tries < 100; tries++) {
			if (sgx_translate(fx.k, addr, PROT_READ, &again) || again != epc)
				break;
			while ((says = epcm_says(fx.k->hw, epc, addr)) < 0)
				;
			if (says)
				break;
		}
		if (tries == 100)
			stale++;
	}
	atomic_store(&r.stop, true);
	pthread_join(rt, NULL);
	pthread_join(tt, NULL);
	print_message("%lu walks found a page, %lu missed, %lu raced the reclaimer, %lu stale; "
		      "%lu touches, %lu reclaims\n",
		      hits, misses, raced, stale, atomic_load(&r.touches), atomic_load(&r.reclaims));
	assert_int_equal(stale, 0);
	assert_false(atomic_load(&r.sigbus));
	assert_true(hits > 0);
	assert_true(misses > 0);
	fx_down(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_set_get_clear),
		cmocka_unit_test_teardown(test_walk_present_and_not, lg_teardown),
		cmocka_unit_test_teardown(test_walk_protection, lg_teardown),
		cmocka_unit_test_teardown(test_walk_cleared_on_munmap, lg_teardown),
		cmocka_unit_test_teardown(test_walk_cleared_on_zap, lg_teardown),
		cmocka_unit_test_teardown(test_walk_cleared_on_reclaim, lg_teardown),
		cmocka_unit_test_teardown(test_walk_under_reclaim, lg_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
