// SPDX-License-Identifier: MIT
/*
 * Sanitization in the background (kernel/sanitize.c), white-box through
 * kernel/sgx.h: a fresh EPC of 2^28 pages has nothing to sanitize; with
 * state a previous owner left, allocations right after boot get only pages
 * that hold no EPCM state while ksgxd works, sanitization finishes, and the
 * invariant free + in use + leaked == total holds at every step; the same on
 * a guest's EPC reused (an alias, which the model gives no hint about); and
 * with nobody in the background, allocations sanitize what they take.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

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

static void assert_invariant(struct sgx_kernel *k)
{
	struct sgx_epc_usage u = usage(k);

	assert_int_equal(u.free + u.in_use + u.leaked + u.zombie, u.total);
}

static void boot(struct sgx_kernel *k, struct sgx_kernel_config *cfg, bool ksgxd,
		 bool on_demand)
{
	cfg->no_ksgxd = !ksgxd;
	cfg->sanitize_on_demand = on_demand;
	assert_int_equal(sgx_kernel_init(k, cfg), 0);
}

static void wait_sanitized(struct sgx_kernel *k)
{
	double deadline = now() + 30;

	while (!sgx_sanitize_done(k) && now() < deadline)
		usleep(1000);
	assert_true(sgx_sanitize_done(k));
}

static uint64_t desc_chunks(struct sgx_kernel *k)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < k->nr_sections; i++)
		for (uint64_t c = 0; c < k->sections[i].nr_chunks; c++)
			n += atomic_load(&k->sections[i].desc_chunks[c]) != NULL;
	return n;
}

/* ECREATE at EPC page @secs_n, then EADD a REG page at each of @children. */
static void make_enclave(struct sgx_hw *hw, uint64_t secs_n, const uint64_t *children,
			 unsigned int nr)
{
	void *secs = fx_epc_page(hw, secs_n);
	void *src = fx_page_buf(0x5A);

	fx_ecreate_default(hw, secs);
	for (unsigned int i = 0; i < nr; i++)
		assert_int_equal(fx_eadd(hw, secs, fx_epc_page(hw, children[i]),
					 FX_BASE + (i + 1) * SGX_PAGE_SIZE, src, RW_REG),
				 SGX_SUCCESS);
	free(src);
}

/*
 * What a previous owner left on 2 x 4096 pages: enclave A's SECS first,
 * its children after it in both sections (a second pass frees the SECS),
 * enclave B's SECS after its child, a VA page: 9 valid pages.
 */
#define SEC_PAGES 4096
static const uint64_t a_children[] = {17, 1000, 2047, SEC_PAGES + 3, SEC_PAGES + 3000};
static const uint64_t b_children[] = {600};
#define A_SECS	   0
#define B_SECS	   (SEC_PAGES + 1500)
#define VA_PAGE	   (SEC_PAGES + 2500)
#define LEFT_VALID 9

static void leave_state(struct sgx_hw *hw)
{
	make_enclave(hw, A_SECS, a_children, 5);
	make_enclave(hw, B_SECS, b_children, 1);
	assert_int_equal(encls_epa(hw, fx_epc_page(hw, VA_PAGE)), SGX_SUCCESS);
}

/*
 * The largest fresh EPC that maps: 2^28 pages, except where the address
 * space has no room for the 8 TiB of views of a 1 TiB EPC (ThreadSanitizer's
 * memory layout), then the largest power of two that fits.
 */
static struct sgx_hw *hw_largest(void)
{
	struct sgx_hw_config hcfg;
	struct sgx_hw *hw = NULL;

	sgx_hw_default_config(&hcfg);
	for (uint64_t pages = SGX_HW_MAX_EPC_PAGES; !hw && pages >= (1ULL << 20); pages /= 2) {
		hcfg.section_size[0] = pages / 2 * SGX_PAGE_SIZE;
		hcfg.section_size[1] = pages / 2 * SGX_PAGE_SIZE;
		hw = lg_hw_new(&hcfg);
		if (!hw && errno != ENOMEM)
			break;
	}
	assert_non_null(hw);
	return hw;
}

/*
 * 2^28 pages (1 TiB, the largest EPC the model takes) that nothing ever
 * used: boot has no page to sanitize, the first allocation is immediate and
 * descriptors, EPCM chunks and free lists cost what is used.
 */
static void test_fresh_huge_epc(void **state)
{
	struct sgx_kernel_config cfg;
	struct sgx_epc_page *page;
	struct sgx_hw *hw;
	struct sgx_kernel k;
	uint64_t pages;
	double t0, t_boot, t_alloc;
	int err;

	(void)state;
	t0 = now();
	hw = hw_largest();
	pages = hw_epc_total_pages(hw);
	sgx_kernel_config_from_hw(&cfg, hw);
	boot(&k, &cfg, true, false);
	t_boot = now() - t0;
	/* Known at once: the CPU model never created an EPCM chunk. */
	assert_true(sgx_sanitize_done(&k));
	assert_int_equal(k.sections[0].san_end, 0);
	assert_int_equal(k.sections[1].san_end, 0);
	t0 = now();
	page = sgx_alloc_epc_page(&k, NULL, false, &err);
	t_alloc = now() - t0;
	assert_non_null(page);
	print_message("EPC of %llu pages%s: power-on and boot %.4f s, first allocation %.6f s\n",
		      (unsigned long long)pages,
		      pages < SGX_HW_MAX_EPC_PAGES ? " (no room for 2^28 here)" : "", t_boot,
		      t_alloc);
	assert_int_equal(desc_chunks(&k), 1);
	assert_int_equal(usage(&k).free, pages - 1);
	assert_invariant(&k);
	/* ECREATE on it creates one EPCM chunk of the section's. */
	fx_ecreate_default(hw, sgx_get_epc_virt_addr(&k, page));
	assert_int_equal(epcm_chunks_end(&hw->sec[0]), 1);
	assert_int_equal(hw_epc_used_pages(hw, hw->sec[0].virt, hw->sec[0].npages),
			 EPCM_CHUNK_PAGES);
	assert_int_equal(hw_epc_used_pages(hw, hw->sec[1].virt, hw->sec[1].npages), 0);
	sgx_encl_free_epc_page(&k, page);
	assert_int_equal(usage(&k).free, pages);
	sgx_kernel_destroy(&k);
	lg_hw_free(hw);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * Power-on and boot of the largest EPC again in the same process: the
 * tables of chunk pointers (a pointer per 512 pages, 8 MiB in all) are not
 * cleared page by page, as a heap calloc() reusing the freed ones would,
 * so the process's memory grows by far less than they measure. (Under ASan
 * its allocator maps large blocks anyway; glibc's heap, in release builds,
 * is where a calloc() clears: bench_startup's first-allocation row, which
 * powers on one platform after another, shows that case.)
 */
static void test_reboot_memory(void **state)
{
	struct sgx_kernel_config cfg;
	struct sgx_kernel k;
	long before = 0, grew = 0;
	uint64_t pages = 0;

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct sgx_hw *hw;

		before = rss_kib();
		hw = hw_largest();
		pages = hw_epc_total_pages(hw);
		sgx_kernel_config_from_hw(&cfg, hw);
		boot(&k, &cfg, true, false);
		grew = rss_kib() - before;
		sgx_kernel_destroy(&k);
		lg_hw_free(hw);
	}
	print_message("second power-on of %llu pages: RSS grew %ld KiB\n",
		      (unsigned long long)pages, grew);
	assert_true(grew < 2048);
}

/* Allocate @n pages, each checked: no EPCM state, invariant exact. */
static void alloc_checked(struct sgx_kernel *k, struct sgx_epc_page **pages, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int err = 0;

		pages[i] = sgx_alloc_epc_page(k, NULL, false, &err);
		assert_non_null(pages[i]);
		assert_false(hw_epc_page_valid(k->hw, sgx_get_epc_virt_addr(k, pages[i])));
		assert_invariant(k);
	}
}

static void free_checked(struct sgx_kernel *k, struct sgx_epc_page **pages, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		sgx_free_epc_page(k, pages[i]);
		assert_invariant(k);
	}
}

/*
 * ksgxd sanitizes while allocations go on: each gets a page without EPCM
 * state (a page left valid is EREMOVEd before anyone gets it), the counts
 * add up after every call; ksgxd stopped and restarted (fork) resumes; in
 * the end every page left valid is gone and every page is free.
 */
static void test_background_alloc_at_once(void **state)
{
	struct sgx_hw *hw = fx_hw_new(2, SEC_PAGES);
	struct sgx_epc_page **pages = calloc(2 * SEC_PAGES, sizeof(*pages));
	struct sgx_kernel_config cfg;
	struct sgx_kernel k;
	struct sgx_epc_usage u;
	uint64_t n = 300;
	int err;

	(void)state;
	assert_non_null(pages);
	leave_state(hw);
	sgx_kernel_config_from_hw(&cfg, hw);
	boot(&k, &cfg, true, false);
	/* What may hold state: up to the last EPCM chunk the model created. */
	assert_int_equal(k.sections[0].san_end, 2048);
	assert_int_equal(k.sections[1].san_end, 3072);
	assert_int_equal(usage(&k).free, 2 * SEC_PAGES);
	alloc_checked(&k, pages, n);
	sgx_kernel_stop_ksgxd(&k);
	assert_invariant(&k);
	assert_int_equal(sgx_kernel_start_ksgxd(&k), 0);
	wait_sanitized(&k);
	assert_int_equal(atomic_load(&k.stats.sanitize_valid_pages), LEFT_VALID);
	for (uint64_t i = 0; i < 2 * SEC_PAGES; i++)
		assert_false(hw_epc_page_valid(hw, fx_epc_page(hw, i)));
	u = usage(&k);
	assert_int_equal(u.in_use, n);
	assert_int_equal(u.leaked, 0);
	assert_invariant(&k);
	/* The rest of the EPC, A's SECS (freed by the second pass) included. */
	alloc_checked(&k, pages + n, 2 * SEC_PAGES - n);
	assert_null(sgx_alloc_epc_page(&k, NULL, false, &err));
	assert_int_equal(err, -ENOMEM);
	free_checked(&k, pages, 2 * SEC_PAGES);
	assert_int_equal(usage(&k).free, 2 * SEC_PAGES);
	sgx_kernel_destroy(&k);
	lg_hw_free(hw);
	free(pages);
}

/*
 * Nobody sanitizes in the background: every allocation sanitizes the page
 * it takes, and when only A's SECS is left (its first EREMOVE met children)
 * an allocation runs the second pass. The whole EPC is handed out, each
 * page without EPCM state.
 */
static void test_on_demand(void **state)
{
	struct sgx_hw *hw = fx_hw_new(2, SEC_PAGES);
	struct sgx_epc_page **pages = calloc(2 * SEC_PAGES, sizeof(*pages));
	struct sgx_kernel_config cfg;
	struct sgx_kernel k;
	int err;

	(void)state;
	assert_non_null(pages);
	leave_state(hw);
	sgx_kernel_config_from_hw(&cfg, hw);
	boot(&k, &cfg, false, true);
	assert_false(sgx_sanitize_done(&k));
	assert_int_equal(k.sections[0].san_next, 0);
	alloc_checked(&k, pages, 1);
	/* Page 0 is A's SECS: kept for the second pass; page 1 handed out. */
	assert_int_equal(k.sections[0].san_next, 2);
	assert_ptr_equal(sgx_get_epc_virt_addr(&k, pages[0]), fx_epc_page(hw, 1));
	alloc_checked(&k, pages + 1, 2 * SEC_PAGES - 1);
	assert_true(sgx_sanitize_done(&k));
	assert_ptr_equal(sgx_get_epc_virt_addr(&k, pages[2 * SEC_PAGES - 1]),
			 fx_epc_page(hw, A_SECS));
	assert_int_equal(atomic_load(&k.stats.sanitize_valid_pages), LEFT_VALID);
	assert_null(sgx_alloc_epc_page(&k, NULL, false, &err));
	assert_int_equal(err, -ENOMEM);
	free_checked(&k, pages, 2 * SEC_PAGES);
	sgx_kernel_destroy(&k);
	lg_hw_free(hw);
	free(pages);
}

/*
 * A page that cannot be removed (a thread still inside its enclave) is
 * leaked by ksgxd after the second pass: moved from free to leaked, the
 * sum unchanged, the rest usable.
 */
static void test_background_leak(void **state)
{
	const uint64_t children[] = {7};
	struct sgx_hw *hw = fx_hw_new(1, 1024);
	struct sgx_kernel_config cfg;
	struct sgx_kernel k;
	struct epc_ref ref;
	struct sgx_epc_usage u;

	(void)state;
	make_enclave(hw, 2, children, 1);
	assert_true(epc_resolve(hw, fx_epc_page(hw, 2), false, &ref));
	atomic_store(&ref.e->threads, 1);
	sgx_kernel_config_from_hw(&cfg, hw);
	boot(&k, &cfg, true, false);
	wait_sanitized(&k);
	u = usage(&k);
	assert_int_equal(u.leaked, 2);
	assert_int_equal(u.free, 1022);
	assert_invariant(&k);
	assert_true(hw_epc_page_valid(hw, fx_epc_page(hw, 2)));
	assert_true(hw_epc_page_valid(hw, fx_epc_page(hw, 7)));
	sgx_kernel_destroy(&k);
	lg_hw_free(hw);
}

/* A guest's EPC: an alias whose pages are the host's direct-map pages 0..n-1. */
struct alias {
	uint8_t *base;
	uint8_t *host;
};

static void *alias_translate(void *ctx, uintptr_t page_addr)
{
	struct alias *a = ctx;

	return a->host + (page_addr - (uintptr_t)a->base);
}

/*
 * A guest boots again on EPC its previous boot used: the alias tells the
 * model nothing, so every page is sanitized, in the background, and the
 * pages the previous boot left valid are EREMOVEd before anyone gets them.
 */
static void test_guest_epc_reused(void **state)
{
	const uint64_t pages_nr = 2048;
	struct sgx_hw *hw = fx_hw_new(1, pages_nr);
	struct sgx_epc_page **pages = calloc(pages_nr, sizeof(*pages));
	struct sgx_kernel_config cfg = { .hw = hw, .nr_sections = 1 };
	struct alias a = { .host = fx_epc_page(hw, 0) };
	struct sgx_kernel k;

	(void)state;
	assert_non_null(pages);
	a.base = mmap(NULL, pages_nr * SGX_PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	assert_true(a.base != MAP_FAILED);
	assert_int_equal(hw_alias_add(hw, a.base, pages_nr * SGX_PAGE_SIZE, alias_translate, &a),
			 0);
	cfg.sections[0].virt = a.base;
	cfg.sections[0].size = pages_nr * SGX_PAGE_SIZE;
	cfg.sections[0].phys = 0x80000000ULL;
	/* The previous boot's enclave: SECS first, children to the end. */
	{
		const uint64_t children[] = {1, 500, 1500, 2047};

		make_enclave(hw, 0, children, 4);
	}
	boot(&k, &cfg, true, false);
	assert_int_equal(k.sections[0].san_end, pages_nr);
	alloc_checked(&k, pages, 100);
	wait_sanitized(&k);
	assert_int_equal(atomic_load(&k.stats.sanitize_valid_pages), 5);
	alloc_checked(&k, pages + 100, pages_nr - 100);
	for (uint64_t i = 0; i < pages_nr; i++)
		assert_false(hw_epc_page_valid(hw, fx_epc_page(hw, i)));
	free_checked(&k, pages, pages_nr);
	sgx_kernel_destroy(&k);
	hw_alias_remove(hw, a.base);
	munmap(a.base, pages_nr * SGX_PAGE_SIZE);
	lg_hw_free(hw);
	free(pages);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_fresh_huge_epc),
		LG_TEST(test_reboot_memory),
		LG_TEST(test_background_alloc_at_once),
		LG_TEST(test_on_demand),
		LG_TEST(test_background_leak),
		LG_TEST(test_guest_epc_reused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
