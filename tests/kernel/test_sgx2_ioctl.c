// SPDX-License-Identifier: MIT
/*
 * The SGX2 ioctls (RESTRICT_PERMISSIONS, MODIFY_TYPES, REMOVE_PAGES) and
 * the EAUG fault path through the embedding API: Linux's order of checks
 * and errno values, partial progress in `count`, the SGX code in `result`,
 * and what an SGX1 platform answers. docs/errno.md maps each failure to the
 * test here that checks it.
 *
 * Cases that need the CPU model's SGX2 leaves (EAUG, EMODPR, EMODT) detect
 * them at run time and report themselves skipped, with the reason, on a
 * model without them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "tests/common/build_fixture.h"
#include "kernel/encl.h"
#include "hw/hw.h"
#include "softsgx/sgx_uapi.h"
#include "tests/common/leak_guard.h"

#define PAGE SGX_PAGE_SIZE
#define RW (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W)
#define R_ONLY (SGX_SECINFO_REG | SGX_SECINFO_R)

/* An address that is never mapped: the kernel's copies must give EFAULT. */
#define WILD ((void *)16)

/* A fault taken by enclave code: the EPCM check applies. */
#define ENCL_READ (PROT_READ | SGX_FAULT_ENCLAVE_MODE)
#define ENCL_WRITE (PROT_WRITE | SGX_FAULT_ENCLAVE_MODE)

#define RP SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS
#define MT SGX_IOC_ENCLAVE_MODIFY_TYPES
#define RM SGX_IOC_ENCLAVE_REMOVE_PAGES

static struct softsgx_platform *platform(bool sgx2, uint64_t pages)
{
	struct bf_config cfg;
	struct softsgx_platform *p;

	bf_default_config(&cfg, pages);
	cfg.sgx2 = sgx2;
	p = bf_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

static struct bf_enclave *enclave_alloc(void)
{
	struct bf_enclave *e = aligned_alloc(4096, sizeof(*e));

	assert_non_null(e);
	return e;
}

/*
 * An enclave of 16 pages: TCS at 0 (SSA at 1), page 2 RW, page 3 R only,
 * pages 4..15 left for EAUG. Initialized unless @init is false; mapped RW
 * over the whole range when initialized.
 */
#define NR_PAGES 16
#define PG_RW 2
#define PG_R 3
#define PG_DYN 4

static struct bf_enclave *build(struct softsgx_platform *p, bool init)
{
	struct bf_enclave *e = enclave_alloc();
	void *addr;

	bf_create(p, e, NR_PAGES * PAGE);
	bf_add_tcs(e, 0);
	bf_add_page(e, PG_RW * PAGE, RW, 0x41);
	bf_add_page(e, PG_R * PAGE, R_ONLY, 0x42);
	bf_sign(e);
	if (!init)
		return e;
	assert_int_equal(bf_init(e), 0);
	addr = (void *)(uintptr_t)e->base;
	assert_int_equal(softsgx_mmap(p, &addr, PG_R * PAGE, PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_FIXED, e->fd, 0),
			 0);
	addr = (void *)(uintptr_t)(e->base + PG_R * PAGE);
	assert_int_equal(softsgx_mmap(p, &addr, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, e->fd, 0),
			 0);
	addr = (void *)(uintptr_t)(e->base + PG_DYN * PAGE);
	assert_int_equal(softsgx_mmap(p, &addr, (NR_PAGES - PG_DYN) * PAGE,
				      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e->fd, 0),
			 0);
	return e;
}

static void teardown(struct softsgx_platform *p, struct bf_enclave *e)
{
	/*
	 * The model's munmap() unmaps the range for real: reserve it again at
	 * once, or bf_release()'s munmap() would take whatever was mapped into
	 * the hole meanwhile (ASan's own memory, seen as a crash in its stack
	 * depot).
	 */
	softsgx_munmap(p, (void *)(uintptr_t)e->base, NR_PAGES * PAGE);
	bf_rereserve((void *)(uintptr_t)e->base, NR_PAGES * PAGE);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	bf_assert_all_free(p);
	bf_release(e);
	free(e);
	lg_platform_free(p);
}

static void *page_addr(const struct bf_enclave *e, uint64_t i)
{
	return (void *)(uintptr_t)(e->base + i * PAGE);
}

/* The kernel's record of the page at @i (white-box), or NULL. */
static struct sgx_encl_page *kpage(struct softsgx_platform *p, const struct bf_enclave *e,
				   uint64_t i)
{
	struct sgx_file *f = softsgx_fget(p, e->fd);
	struct sgx_encl_page *entry;

	assert_non_null(f);
	entry = page_array_load(&sgx_file_encl(f)->page_array, (e->base + i * PAGE) / PAGE);
	sgx_file_put(f);
	return entry;
}

/*
 * EAUG the page at @i by a fault, as the first touch does. False when the
 * CPU model has no EAUG yet (its stub faults): the caller skips.
 */
static bool eaug(struct softsgx_platform *p, struct bf_enclave *e, uint64_t i)
{
	enum softsgx_fault r = softsgx_handle_fault(p, page_addr(e, i), PROT_WRITE);

	if (r == SOFTSGX_FAULT_SIGBUS && !kpage(p, e, i))
		return false;
	assert_int_equal(r, SOFTSGX_FAULT_RETRY);
	return true;
}

#define SKIP_WITHOUT_EAUG(p, e)                                                                \
	do {                                                                                   \
		if (!eaug(p, e, PG_DYN)) {                                                     \
			fprintf(stderr, "skipped: the CPU model has no EAUG yet\n");          \
			teardown(p, e);                                                        \
			skip();                                                                \
		}                                                                              \
	} while (0)

/* ---- The preamble: SGX2 first, then INITIALIZED, then the argument ---- */

static void test_sgx1_enodev_before_anything(void **state)
{
	struct softsgx_platform *p = platform(false, 64);
	struct bf_enclave *e = build(p, false);

	(void)state;
	/* Not initialized and a wild pointer: -ENODEV still comes first. */
	assert_int_equal(softsgx_ioctl(p, e->fd, RP, WILD), -ENODEV);
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, WILD), -ENODEV);
	assert_int_equal(softsgx_ioctl(p, e->fd, RM, WILD), -ENODEV);
	teardown(p, e);
}

static void test_sgx1_hole_sigbus(void **state)
{
	struct softsgx_platform *p = platform(false, 64);
	struct bf_enclave *e = build(p, true);

	(void)state;
	/* No EAUG on SGX1: a hole in ELRANGE stays a SIGBUS. */
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_DYN), PROT_READ),
			 SOFTSGX_FAULT_SIGBUS);
	assert_null(kpage(p, e, PG_DYN));
	teardown(p, e);
}

static void test_not_initialized_einval(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, false);
	void *addr = page_addr(e, PG_DYN);

	(void)state;
	/* Before the argument is read: a wild pointer is not even looked at. */
	assert_int_equal(softsgx_ioctl(p, e->fd, RP, WILD), -EINVAL);
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, WILD), -EINVAL);
	assert_int_equal(softsgx_ioctl(p, e->fd, RM, WILD), -EINVAL);
	/* Nor is a hole EAUG'd before EINIT (Linux sgx_encl_eaug_page()). */
	assert_int_equal(softsgx_mmap(p, &addr, PAGE, PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_FIXED, e->fd, 0),
			 0);
	assert_int_equal(softsgx_handle_fault(p, addr, PROT_WRITE), SOFTSGX_FAULT_SIGBUS);
	assert_null(kpage(p, e, PG_DYN));
	teardown(p, e);
}

static void test_efault_arg(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);

	(void)state;
	assert_int_equal(softsgx_ioctl(p, e->fd, RP, WILD), -EFAULT);
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, WILD), -EFAULT);
	assert_int_equal(softsgx_ioctl(p, e->fd, RM, WILD), -EFAULT);
	teardown(p, e);
}

/* ---- Arguments ---- */

static const struct {
	uint64_t offset, length;
} bad_ranges[] = {
	{ 1, PAGE },			     /* offset not page aligned */
	{ 0, 0 },			     /* no length */
	{ 0, PAGE + 1 },		     /* length not page aligned */
	{ PAGE, UINT64_MAX & ~(PAGE - 1) },  /* offset + length wraps */
	{ NR_PAGES * PAGE, PAGE },	     /* last page outside the enclave */
	{ (NR_PAGES - 1) * PAGE, 2 * PAGE }, /* range runs past the end */
};

static void test_offset_length_einval(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);

	(void)state;
	for (size_t i = 0; i < sizeof(bad_ranges) / sizeof(bad_ranges[0]); i++) {
		struct sgx_enclave_restrict_permissions rp = {
			.offset = bad_ranges[i].offset,
			.length = bad_ranges[i].length,
			.permissions = SGX_SECINFO_R,
		};
		struct sgx_enclave_modify_types mt = {
			.offset = bad_ranges[i].offset,
			.length = bad_ranges[i].length,
			.page_type = SGX_PAGE_TYPE_TRIM,
		};
		struct sgx_enclave_remove_pages rm = {
			.offset = bad_ranges[i].offset,
			.length = bad_ranges[i].length,
		};

		assert_int_equal(softsgx_ioctl(p, e->fd, RP, &rp), -EINVAL);
		assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), -EINVAL);
		assert_int_equal(softsgx_ioctl(p, e->fd, RM, &rm), -EINVAL);
		/* Refused before the loop: nothing written back. */
		assert_int_equal(rp.count, 0);
		assert_int_equal(mt.count, 0);
		assert_int_equal(rm.count, 0);
	}
	teardown(p, e);
}

static void test_restrict_args_einval(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_enclave_restrict_permissions rp;
	const uint64_t bad_perms[] = { 0x8, SGX_SECINFO_PENDING, SGX_SECINFO_MODIFIED,
				       SGX_SECINFO_PR, SGX_SECINFO_REG | SGX_SECINFO_R,
				       SGX_SECINFO_W, SGX_SECINFO_W | SGX_SECINFO_X };

	(void)state;
	for (size_t i = 0; i < sizeof(bad_perms) / sizeof(bad_perms[0]); i++) {
		rp = (struct sgx_enclave_restrict_permissions){ PG_RW * PAGE, PAGE, bad_perms[i],
								0, 0 };
		assert_int_equal(softsgx_ioctl(p, e->fd, RP, &rp), -EINVAL);
	}
	/* Output fields must come in zeroed. */
	rp = (struct sgx_enclave_restrict_permissions){ PG_RW * PAGE, PAGE, SGX_SECINFO_R, 1, 0 };
	assert_int_equal(softsgx_ioctl(p, e->fd, RP, &rp), -EINVAL);
	rp = (struct sgx_enclave_restrict_permissions){ PG_RW * PAGE, PAGE, SGX_SECINFO_R, 0, 1 };
	assert_int_equal(softsgx_ioctl(p, e->fd, RP, &rp), -EINVAL);
	assert_int_equal(rp.count, 1);
	teardown(p, e);
}

static void test_modify_types_args_einval(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_enclave_modify_types mt;
	/* Raw enum values only: SECS, REG, VA, and a SECINFO-style shifted TRIM. */
	const uint64_t bad_types[] = { SGX_PAGE_TYPE_SECS, SGX_PAGE_TYPE_REG, SGX_PAGE_TYPE_VA, 5,
				       0xFF, SGX_SECINFO_TRIM, 0x100 | SGX_PAGE_TYPE_TRIM };

	(void)state;
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		mt = (struct sgx_enclave_modify_types){ PG_RW * PAGE, PAGE, bad_types[i], 0, 0 };
		assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), -EINVAL);
		assert_int_equal(mt.count, 0);
	}
	mt = (struct sgx_enclave_modify_types){ PG_RW * PAGE, PAGE, SGX_PAGE_TYPE_TRIM, 7, 0 };
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), -EINVAL);
	mt = (struct sgx_enclave_modify_types){ PG_RW * PAGE, PAGE, SGX_PAGE_TYPE_TRIM, 0, PAGE };
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), -EINVAL);
	/* Nothing changed: the page is still the REG page it was. */
	assert_int_equal(kpage(p, e, PG_RW)->type, SGX_PAGE_TYPE_REG);
	teardown(p, e);
}

static void test_remove_count_einval(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_enclave_remove_pages rm = { PG_RW * PAGE, PAGE, PAGE };

	(void)state;
	assert_int_equal(softsgx_ioctl(p, e->fd, RM, &rm), -EINVAL);
	assert_non_null(kpage(p, e, PG_RW));
	teardown(p, e);
}

/* ---- Per page: what the loop finds ---- */

static void test_hole_efault_count(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_enclave_restrict_permissions rp = { PG_DYN * PAGE, 2 * PAGE, SGX_SECINFO_R, 0,
						       0 };
	struct sgx_enclave_modify_types mt = { PG_DYN * PAGE, PAGE, SGX_PAGE_TYPE_TRIM, 0, 0 };
	struct sgx_enclave_remove_pages rm = { PG_DYN * PAGE, PAGE, 0 };

	(void)state;
	/* No page at that offset: -EFAULT, count says none was done. */
	assert_int_equal(softsgx_ioctl(p, e->fd, RP, &rp), -EFAULT);
	assert_int_equal(rp.count, 0);
	assert_int_equal(rp.result, 0);
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), -EFAULT);
	assert_int_equal(mt.count, 0);
	assert_int_equal(softsgx_ioctl(p, e->fd, RM, &rm), -EFAULT);
	assert_int_equal(rm.count, 0);
	/* The ioctls never EAUG. */
	assert_null(kpage(p, e, PG_DYN));
	teardown(p, e);
}

static void test_restrict_tcs_einval(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_enclave_restrict_permissions rp = { 0, PAGE, SGX_SECINFO_R, 0, 0 };

	(void)state;
	/* EMODPR takes REG pages only: the kernel refuses a TCS itself. */
	assert_int_equal(softsgx_ioctl(p, e->fd, RP, &rp), -EINVAL);
	assert_int_equal(rp.count, 0);
	assert_int_equal(rp.result, 0);
	teardown(p, e);
}

static void test_modify_types_type_rules(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_enclave_modify_types mt = { 0, PAGE, SGX_PAGE_TYPE_TCS, 0, 0 };

	(void)state;
	/* TCS -> TCS: only REG becomes a TCS. */
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), -EINVAL);
	assert_int_equal(mt.count, 0);
	/* REG -> TCS needs a page the kernel let be mapped RW: this one is R only. */
	mt = (struct sgx_enclave_modify_types){ PG_R * PAGE, PAGE, SGX_PAGE_TYPE_TCS, 0, 0 };
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), -EPERM);
	assert_int_equal(mt.count, 0);
	assert_int_equal(kpage(p, e, PG_R)->vm_max_prot_bits, PROT_READ);
	assert_int_equal(kpage(p, e, PG_R)->type, SGX_PAGE_TYPE_REG);
	teardown(p, e);
}

static void test_remove_not_trim_eperm(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_enclave_remove_pages rm = { PG_RW * PAGE, 2 * PAGE, 0 };

	(void)state;
	/* A REG page was never trimmed: -EPERM, nothing removed. */
	assert_int_equal(softsgx_ioctl(p, e->fd, RM, &rm), -EPERM);
	assert_int_equal(rm.count, 0);
	assert_non_null(kpage(p, e, PG_RW));
	rm = (struct sgx_enclave_remove_pages){ 0, PAGE, 0 };
	assert_int_equal(softsgx_ioctl(p, e->fd, RM, &rm), -EPERM);
	teardown(p, e);
}

/* ---- The EPCM check of enclave code, SGX1 and SGX2 alike ---- */

static void tcs_epcm(bool sgx2)
{
	struct softsgx_platform *p = platform(sgx2, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_kernel *k = softsgx_kernel(p);

	/* Enclave code never reaches a TCS: #PF with the SGX bit, no PTE. */
	assert_int_equal(sgx_handle_fault(k, e->base, ENCL_READ), SGX_FAULT_EPCM);
	assert_int_equal(sgx_handle_fault(k, e->base, ENCL_WRITE), SGX_FAULT_EPCM);
	assert_false(kpage(p, e, 0)->mapped);
	/* A REG page: as the VMA allows; the R-only page refuses a write by its VMA. */
	assert_int_equal(sgx_handle_fault(k, e->base + PG_RW * PAGE, ENCL_WRITE), SGX_FAULT_RETRY);
	assert_int_equal(sgx_handle_fault(k, e->base + PG_R * PAGE, ENCL_WRITE), SGX_FAULT_SIGSEGV);
	/* Outside the enclave the TCS is mapped as its VMA says (Linux maps it RW). */
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, 0), PROT_WRITE), SOFTSGX_FAULT_RETRY);
	assert_true(kpage(p, e, 0)->mapped);
	teardown(p, e);
}

static void test_tcs_epcm_sgx1(void **state)
{
	(void)state;
	tcs_epcm(false);
}

static void test_tcs_epcm_sgx2(void **state)
{
	(void)state;
	tcs_epcm(true);
}

/* ---- With the SGX2 leaves: EAUG, EMODPR, EMODT ---- */

static void test_eaug_fault(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_encl_page *entry;
	void *addr;

	(void)state;
	SKIP_WITHOUT_EAUG(p, e);
	entry = kpage(p, e, PG_DYN);
	assert_non_null(entry);
	assert_int_equal(entry->type, SGX_PAGE_TYPE_REG);
	/* Linux: dynamic pages may be mapped any way; the enclave decides. */
	assert_int_equal(entry->vm_max_prot_bits, PROT_READ | PROT_WRITE | PROT_EXEC);
	assert_non_null(entry->epc_page);
	/* PENDING: no PTE; enclave code is refused by the EPCM (#PF with the SGX bit). */
	assert_false(entry->mapped);
	assert_int_equal(
		sgx_handle_fault(softsgx_kernel(p), (uintptr_t)page_addr(e, PG_DYN), ENCL_READ),
		SGX_FAULT_EPCM);
	assert_int_equal(
		sgx_handle_fault(softsgx_kernel(p), (uintptr_t)page_addr(e, PG_DYN), ENCL_WRITE),
		SGX_FAULT_EPCM);
	assert_false(entry->mapped);
	/* Software outside the enclave never faults on the EPCM (the abort page). */
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_DYN), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_true(entry->mapped);
	/* mprotect of a dynamic page to RWX is allowed (max prot RWX). */
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_DYN), PAGE,
					  PROT_READ | PROT_WRITE | PROT_EXEC),
			 0);
	/* A second page, at the end of ELRANGE. */
	assert_true(eaug(p, e, NR_PAGES - 1));
	/* An address outside ELRANGE is no enclave page: mapping there is refused. */
	addr = page_addr(e, NR_PAGES);
	assert_int_equal(softsgx_mmap(p, &addr, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, e->fd, 0),
			 -EACCES);
	teardown(p, e);
}

static void test_restrict_pending_not_modifiable(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_enclave_restrict_permissions rp = { PG_RW * PAGE, 3 * PAGE, SGX_SECINFO_R, 0,
						       0 };

	(void)state;
	SKIP_WITHOUT_EAUG(p, e);
	/*
	 * Page 2 (REG) is restricted, page 3 too (asking for no more than
	 * it has), page 4 is PENDING: EMODPR's PAGE_NOT_MODIFIABLE in result,
	 * -EFAULT, count at the third page.
	 */
	assert_int_equal(softsgx_ioctl(p, e->fd, RP, &rp), -EFAULT);
	assert_int_equal(rp.result, SGX_PAGE_NOT_MODIFIABLE);
	assert_int_equal(rp.count, 2 * PAGE);
	/* The kernel's max permissions are not what EMODPR changes. */
	assert_int_equal(kpage(p, e, PG_RW)->vm_max_prot_bits, PROT_READ | PROT_WRITE);
	/* The PTE follows the EPCM: a write to page 2 is refused now. */
	assert_int_equal(sgx_handle_fault(softsgx_kernel(p), (uintptr_t)page_addr(e, PG_RW),
					  ENCL_WRITE),
			 SGX_FAULT_EPCM);
	assert_int_equal(sgx_handle_fault(softsgx_kernel(p), (uintptr_t)page_addr(e, PG_RW),
					  ENCL_READ),
			 SGX_FAULT_RETRY);
	teardown(p, e);
}

static void test_modify_types_trim_then_remove_eperm(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_enclave_modify_types mt = { PG_RW * PAGE, PAGE, SGX_PAGE_TYPE_TRIM, 0, 0 };
	struct sgx_enclave_remove_pages rm = { PG_RW * PAGE, PAGE, 0 };

	(void)state;
	SKIP_WITHOUT_EAUG(p, e);
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), 0);
	assert_int_equal(mt.count, PAGE);
	assert_int_equal(mt.result, 0);
	assert_int_equal(kpage(p, e, PG_RW)->type, SGX_PAGE_TYPE_TRIM);
	/* TRIM again: a trimmed page is no longer REG or TCS. */
	mt = (struct sgx_enclave_modify_types){ PG_RW * PAGE, PAGE, SGX_PAGE_TYPE_TRIM, 0, 0 };
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), -EINVAL);
	/* MODIFIED: the enclave has not accepted it, so it cannot go. */
	assert_int_equal(softsgx_ioctl(p, e->fd, RM, &rm), -EPERM);
	assert_int_equal(rm.count, 0);
	assert_non_null(kpage(p, e, PG_RW));
	/* And enclave code can no longer reach it. */
	assert_int_equal(sgx_handle_fault(softsgx_kernel(p), (uintptr_t)page_addr(e, PG_RW),
					  ENCL_READ),
			 SGX_FAULT_EPCM);
	teardown(p, e);
}

static void test_modify_types_tcs(void **state)
{
	struct softsgx_platform *p = platform(true, 64);
	struct bf_enclave *e = build(p, true);
	struct sgx_enclave_modify_types mt = { PG_DYN * PAGE, PAGE, SGX_PAGE_TYPE_TCS, 0, 0 };
	void *addr = page_addr(e, PG_DYN);

	(void)state;
	SKIP_WITHOUT_EAUG(p, e);
	/* A PENDING page cannot change type: EMODT says so in result. */
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), -EFAULT);
	assert_int_equal(mt.result, SGX_PAGE_NOT_MODIFIABLE);
	assert_int_equal(mt.count, 0);
	/* Its max permissions were restored. */
	assert_int_equal(kpage(p, e, PG_DYN)->vm_max_prot_bits, PROT_READ | PROT_WRITE | PROT_EXEC);
	/* The REG page 2 becomes a TCS: max permissions RW from now on. */
	mt = (struct sgx_enclave_modify_types){ PG_RW * PAGE, PAGE, SGX_PAGE_TYPE_TCS, 0, 0 };
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), 0);
	assert_int_equal(mt.count, PAGE);
	assert_int_equal(kpage(p, e, PG_RW)->type, SGX_PAGE_TYPE_TCS);
	assert_int_equal(kpage(p, e, PG_RW)->vm_max_prot_bits, PROT_READ | PROT_WRITE);
	addr = page_addr(e, PG_RW);
	assert_int_equal(softsgx_mprotect(p, addr, PAGE, PROT_READ | PROT_EXEC), -EACCES);
	teardown(p, e);
}

/* ---- Reclaim: dynamic pages go out and come back in their state ---- */

static void test_reclaim_pending_pages(void **state)
{
	struct softsgx_platform *p = platform(true, 48);
	struct bf_enclave *e = build(p, true);
	struct softsgx_stats st;

	(void)state;
	SKIP_WITHOUT_EAUG(p, e);
	for (uint64_t i = PG_DYN + 1; i < NR_PAGES; i++)
		assert_true(eaug(p, e, i));
	/* Everything out: the dynamic pages are reclaimable like any other. */
	while (softsgx_reclaim(p))
		;
	assert_null(kpage(p, e, PG_DYN)->epc_page);
	/* Still PENDING after ELDU: the EPCM refuses; the ioctls see them again. */
	assert_int_equal(sgx_handle_fault(softsgx_kernel(p), (uintptr_t)page_addr(e, PG_DYN),
					  ENCL_READ),
			 SGX_FAULT_EPCM);
	assert_non_null(kpage(p, e, PG_DYN)->epc_page);
	softsgx_get_stats(p, &st);
	assert_true(st.evictions >= NR_PAGES - PG_DYN);
	assert_true(st.reloads >= 1);
	teardown(p, e);
}

static void test_reclaim_modified_trimmed_restricted(void **state)
{
	struct softsgx_platform *p = platform(true, 48);
	struct bf_enclave *e = build(p, true);
	struct sgx_enclave_modify_types mt = { PG_RW * PAGE, PAGE, SGX_PAGE_TYPE_TRIM, 0, 0 };
	struct sgx_enclave_restrict_permissions rp = { PG_R * PAGE, PAGE, SGX_SECINFO_R, 0, 0 };
	struct sgx_enclave_remove_pages rm = { PG_RW * PAGE, PAGE, 0 };
	struct softsgx_stats st;

	(void)state;
	SKIP_WITHOUT_EAUG(p, e);
	assert_int_equal(softsgx_ioctl(p, e->fd, MT, &mt), 0);
	assert_int_equal(softsgx_ioctl(p, e->fd, RP, &rp), 0);
	while (softsgx_reclaim(p))
		;
	assert_null(kpage(p, e, PG_RW)->epc_page);
	assert_null(kpage(p, e, PG_R)->epc_page);
	/*
	 * The ioctls bring pages back themselves. The trimmed page is still
	 * MODIFIED after EWB and ELDU: not accepted, so REMOVE_PAGES refuses.
	 */
	assert_int_equal(softsgx_ioctl(p, e->fd, RM, &rm), -EPERM);
	assert_non_null(kpage(p, e, PG_RW)->epc_page);
	assert_int_equal(kpage(p, e, PG_RW)->type, SGX_PAGE_TYPE_TRIM);
	/* And enclave code cannot reach it (nor the PENDING page, nor write the restricted one). */
	assert_int_equal(sgx_handle_fault(softsgx_kernel(p), e->base + PG_RW * PAGE, ENCL_READ),
			 SGX_FAULT_EPCM);
	assert_int_equal(sgx_handle_fault(softsgx_kernel(p), e->base + PG_DYN * PAGE, ENCL_READ),
			 SGX_FAULT_EPCM);
	/* EMODPR again on the restricted page (PR set, not accepted): allowed by the CPU. */
	rp = (struct sgx_enclave_restrict_permissions){ PG_R * PAGE, PAGE, SGX_SECINFO_R, 0, 0 };
	assert_int_equal(softsgx_ioctl(p, e->fd, RP, &rp), 0);
	assert_int_equal(rp.count, PAGE);
	softsgx_get_stats(p, &st);
	assert_true(st.reloads >= 3);
	teardown(p, e);
}

/* ---- The model guest on vEPC: the same kernel code, REMOVE_ALL after a reset ---- */

static void test_guest_sgx2_remove_all(void **state)
{
	struct softsgx_platform *host = platform(true, 128), *g;
	struct sgx_enclave_modify_types mt = { PG_RW * PAGE, PAGE, SGX_PAGE_TYPE_TRIM, 0, 0 };
	struct sgx_enclave_restrict_permissions rp = { PG_R * PAGE, PAGE, SGX_SECINFO_R, 0, 0 };
	const size_t size = 64 * PAGE;
	struct bf_enclave *e;
	void *base = NULL;
	size_t sz = size;
	unsigned int valid = 0;
	int fd;

	(void)state;
	fd = softsgx_open(host, "/dev/sgx_vepc", 0);
	assert_true(fd >= 0);
	assert_int_equal(softsgx_mmap(host, &base, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
			 0);
	g = lg_guest_boot(host, 1, &base, &sz);
	assert_non_null(g);
	e = build(g, true);
	if (!eaug(g, e, PG_DYN)) {
		fprintf(stderr, "skipped: the CPU model has no EAUG yet\n");
		skip();
	}
	/* The guest kernel's EAUG, EMODT and EMODPR on vEPC pages. */
	assert_non_null(kpage(g, e, PG_DYN)->epc_page);
	assert_int_equal(softsgx_ioctl(g, e->fd, MT, &mt), 0);
	assert_int_equal(softsgx_ioctl(g, e->fd, RP, &rp), 0);
	/* The guest goes away with pages PENDING, MODIFIED (TRIM) and PR. */
	lg_guest_reset(g);
	bf_release(e);
	free(e);
	/* REMOVE_ALL EREMOVEs every one of them; the SECS goes on the second call. */
	assert_true(softsgx_ioctl(host, fd, SGX_IOC_VEPC_REMOVE_ALL, NULL) >= 0);
	assert_int_equal(softsgx_ioctl(host, fd, SGX_IOC_VEPC_REMOVE_ALL, NULL), 0);
	for (size_t off = 0; off < size; off += PAGE)
		valid += softsgx_epc_page_valid(host, (uint8_t *)base + off);
	assert_int_equal(valid, 0);
	assert_int_equal(softsgx_munmap(host, base, size), 0);
	assert_int_equal(softsgx_close(host, fd), 0);
	bf_assert_all_free(host);
	lg_platform_free(host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_sgx1_enodev_before_anything),
		LG_TEST(test_sgx1_hole_sigbus),
		LG_TEST(test_not_initialized_einval),
		LG_TEST(test_efault_arg),
		LG_TEST(test_offset_length_einval),
		LG_TEST(test_restrict_args_einval),
		LG_TEST(test_modify_types_args_einval),
		LG_TEST(test_remove_count_einval),
		LG_TEST(test_hole_efault_count),
		LG_TEST(test_restrict_tcs_einval),
		LG_TEST(test_modify_types_type_rules),
		LG_TEST(test_remove_not_trim_eperm),
		LG_TEST(test_tcs_epcm_sgx1),
		LG_TEST(test_tcs_epcm_sgx2),
		LG_TEST(test_eaug_fault),
		LG_TEST(test_restrict_pending_not_modifiable),
		LG_TEST(test_modify_types_trim_then_remove_eperm),
		LG_TEST(test_modify_types_tcs),
		LG_TEST(test_reclaim_pending_pages),
		LG_TEST(test_reclaim_modified_trimmed_restricted),
		LG_TEST(test_guest_sgx2_remove_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
