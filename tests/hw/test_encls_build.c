// SPDX-License-Identifier: MIT
/*
 * ECREATE, EADD, EEXTEND and EREMOVE (hw/encls_build.c): each success and
 * each failure with its exact return code or fault, and the side effects a
 * failure must not have (EPCM entry, child count, MRENCLAVE).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/common/hw_fixture.h"
#include "hw/enclu.h"
#include "hw/hw_internal.h"
#include "tests/common/leak_guard.h"

#define GP ENCLS_FAULT(X86_TRAP_GP)
#define PF ENCLS_FAULT(X86_TRAP_PF)

#define NR_PAGES 64

struct fx {
	struct sgx_hw *hw;
	void *secs;	      /* EPC page 0, ECREATEd by setup_enclave */
	struct sgx_secs *src; /* host copy for ECREATE, 64-bit debug by default */
	uint8_t *buf;	      /* a page-aligned host page of source content */
	struct sgx_tcs *tcs;  /* a page-aligned TCS that EADD accepts */
};

static void *host_page(void)
{
	void *p = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);

	assert_non_null(p);
	memset(p, 0, SGX_PAGE_SIZE);
	return p;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->hw = fx_hw_new(1, NR_PAGES);
	fx->secs = fx_epc_page(fx->hw, 0);
	fx->src = host_page();
	fx_secs_init(fx->src, FX_BASE, FX_SIZE, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	fx->buf = fx_page_buf(0x5A);
	fx->tcs = host_page();
	fx_tcs_init(fx->tcs);
	*state = fx;
	return 0;
}

/* As setup(), plus the default enclave already created in EPC page 0. */
static int setup_enclave(void **state)
{
	struct fx *fx;

	setup(state);
	fx = *state;
	assert_int_equal(fx_ecreate(fx->hw, fx->secs, fx->src), SGX_SUCCESS);
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	lg_hw_free(fx->hw);
	free(fx->src);
	free(fx->buf);
	free(fx->tcs);
	free(fx);
	return 0;
}

static struct epcm_entry *epcm(struct sgx_hw *hw, void *epc)
{
	struct epc_ref ref;

	assert_true(epc_resolve(hw, epc, false, &ref));
	return ref.e;
}

static bool page_valid(struct sgx_hw *hw, void *epc)
{
	struct epcm_entry *e = epcm(hw, epc);

	return e && e->valid;
}

static uint64_t child_cnt(struct sgx_hw *hw, void *secs)
{
	return atomic_load(&epcm(hw, secs)->child_cnt);
}

static void mrenclave(void *secs, uint8_t out[SGX_HASH_SIZE])
{
	sgx_measure_final(&secs_hidden(secs)->mrenclave, out);
}

static void *epc(struct fx *fx, uint64_t n)
{
	return fx_epc_page(fx->hw, n);
}

/* The n-th page of the default ELRANGE. */
static uint64_t lin(uint64_t n)
{
	return FX_BASE + n * SGX_PAGE_SIZE;
}

/* ECREATE of fx->src into @page with a given SECINFO.FLAGS. */
static int ecreate_flags(struct fx *fx, void *page, uint64_t flags)
{
	struct sgx_secinfo secinfo = {.flags = flags};
	struct sgx_pageinfo pginfo = {
		.contents = (uintptr_t)fx->src,
		.metadata = (uintptr_t)&secinfo,
	};

	return encls_ecreate(fx->hw, &pginfo, page);
}

/* ECREATE of fx->src into EPC page 1 expecting @expected; page 1 stays invalid on failure. */
static void ecreate_expect(struct fx *fx, int expected)
{
	assert_int_equal(fx_ecreate(fx->hw, epc(fx, 1), fx->src), expected);
	if (expected != SGX_SUCCESS)
		assert_false(page_valid(fx->hw, epc(fx, 1)));
}

/* ------------------------------------------------------------------ ECREATE */

static void ecreate_success(void **state)
{
	struct fx *fx = *state;
	struct sgx_secs *secs = epc(fx, 1);
	struct epcm_entry *e;
	static const uint8_t zero[32];

	/* Fields ECREATE must not take from software. */
	memset(fx->src->mrenclave, 0, sizeof(fx->src->mrenclave));
	fx->src->isv_prod_id = 0;
	ecreate_expect(fx, SGX_SUCCESS);
	e = epcm(fx->hw, secs);
	assert_non_null(e);
	assert_true(e->valid);
	assert_int_equal(e->type, SGX_PAGE_TYPE_SECS);
	assert_int_equal(e->secs_pfn, NO_PFN);
	assert_int_equal(atomic_load(&e->child_cnt), 0);
	assert_int_equal(secs->base, FX_BASE);
	assert_int_equal(secs->size, FX_SIZE);
	assert_int_equal(secs->ssa_frame_size, 1);
	assert_int_equal(secs->attributes, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(secs->xfrm, 0x3);
	assert_memory_equal(secs->mrenclave, zero, sizeof(zero));
	assert_memory_equal(secs->mrsigner, zero, sizeof(zero));
	assert_int_not_equal(secs_hidden(secs)->eid, 0);
}

static void ecreate_eids_unique(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(fx_ecreate(fx->hw, epc(fx, 1), fx->src), SGX_SUCCESS);
	assert_int_equal(fx_ecreate(fx->hw, epc(fx, 2), fx->src), SGX_SUCCESS);
	assert_int_not_equal(secs_hidden(epc(fx, 1))->eid, secs_hidden(epc(fx, 2))->eid);
}

static void ecreate_misaligned_operands(void **state)
{
	struct fx *fx = *state;
	struct sgx_secinfo secinfo[2] = {{.flags = SGX_SECINFO_SECS}};
	struct sgx_pageinfo pginfo = {
		.contents = (uintptr_t)fx->src,
		.metadata = (uintptr_t)&secinfo[0],
	};
	uint8_t raw[2 * sizeof(pginfo)] __attribute__((aligned(32)));

	/* PAGEINFO must be 32-byte aligned: copy it to an address that is not. */
	memcpy(raw + 8, &pginfo, sizeof(pginfo));
	assert_int_equal(encls_ecreate(fx->hw, (struct sgx_pageinfo *)(raw + 8), epc(fx, 1)), GP);
	/* The target must be a page. */
	assert_int_equal(encls_ecreate(fx->hw, &pginfo, (uint8_t *)epc(fx, 1) + 64), GP);
	/* SRCPGE page aligned, SECINFO 64-byte aligned. */
	pginfo.contents = (uintptr_t)fx->src + 64;
	assert_int_equal(encls_ecreate(fx->hw, &pginfo, epc(fx, 1)), GP);
	pginfo.contents = (uintptr_t)fx->src;
	pginfo.metadata = (uintptr_t)&secinfo[0] + 32;
	assert_int_equal(encls_ecreate(fx->hw, &pginfo, epc(fx, 1)), GP);
	assert_false(page_valid(fx->hw, epc(fx, 1)));
}

static void ecreate_not_epc(void **state)
{
	struct fx *fx = *state;
	void *host = host_page();

	assert_int_equal(fx_ecreate(fx->hw, host, fx->src), PF);
	free(host);
}

static void ecreate_already_valid(void **state)
{
	struct fx *fx = *state;
	uint64_t eid;

	ecreate_expect(fx, SGX_SUCCESS);
	eid = secs_hidden(epc(fx, 1))->eid;
	assert_int_equal(fx_ecreate(fx->hw, epc(fx, 1), fx->src), PF);
	/* The SECS that was there is untouched. */
	assert_int_equal(secs_hidden(epc(fx, 1))->eid, eid);
	assert_int_equal(epcm(fx->hw, epc(fx, 1))->type, SGX_PAGE_TYPE_SECS);
}

static void ecreate_page_locked(void **state)
{
	struct fx *fx = *state;
	struct epc_ref ref;

	assert_true(epc_resolve(fx->hw, epc(fx, 1), true, &ref));
	assert_true(epcm_trylock_shared(ref.e));
	ecreate_expect(fx, GP);
	epcm_unlock_shared(ref.e);
	ecreate_expect(fx, SGX_SUCCESS);
}

static void ecreate_bad_secinfo(void **state)
{
	struct fx *fx = *state;
	struct sgx_secinfo secinfo = {.flags = SGX_SECINFO_SECS};
	struct sgx_pageinfo pginfo = {
		.contents = (uintptr_t)fx->src,
		.metadata = (uintptr_t)&secinfo,
	};

	assert_int_equal(ecreate_flags(fx, epc(fx, 1), SGX_SECINFO_REG), GP);
	assert_int_equal(ecreate_flags(fx, epc(fx, 1), SGX_SECINFO_TCS), GP);
	assert_int_equal(ecreate_flags(fx, epc(fx, 1), SGX_SECINFO_VA), GP);
	assert_int_equal(ecreate_flags(fx, epc(fx, 1), SGX_SECINFO_SECS | SGX_SECINFO_PENDING), GP);
	assert_int_equal(ecreate_flags(fx, epc(fx, 1), SGX_SECINFO_SECS | (1ULL << 16)), GP);
	secinfo.reserved[55] = 1;
	assert_int_equal(encls_ecreate(fx->hw, &pginfo, epc(fx, 1)), GP);
	secinfo.reserved[55] = 0;
	/* LINADDR and SECS of the PAGEINFO mean nothing to ECREATE and must be 0. */
	pginfo.addr = FX_BASE;
	assert_int_equal(encls_ecreate(fx->hw, &pginfo, epc(fx, 1)), GP);
	pginfo.addr = 0;
	pginfo.secs = (uintptr_t)epc(fx, 2);
	assert_int_equal(encls_ecreate(fx->hw, &pginfo, epc(fx, 1)), GP);
	pginfo.secs = 0;
	assert_false(page_valid(fx->hw, epc(fx, 1)));
	assert_int_equal(encls_ecreate(fx->hw, &pginfo, epc(fx, 1)), SGX_SUCCESS);
}

static void ecreate_bad_attributes(void **state)
{
	struct fx *fx = *state;
	const uint64_t good = fx->src->attributes;

	/* Bit 3 and everything above AEXNOTIFY are reserved. */
	fx->src->attributes = good | 0x8;
	ecreate_expect(fx, GP);
	fx->src->attributes = good | (1ULL << 11);
	ecreate_expect(fx, GP);
	fx->src->attributes = good | (1ULL << 63);
	ecreate_expect(fx, GP);
	/* Only EINIT sets INIT. */
	fx->src->attributes = good | SGX_ATTR_INIT;
	ecreate_expect(fx, GP);
	fx->src->attributes = good | SGX_ATTR_PROVISIONKEY | SGX_ATTR_KSS | SGX_ATTR_AEXNOTIFY;
	ecreate_expect(fx, SGX_SUCCESS);
}

static void ecreate_bad_size(void **state)
{
	struct fx *fx = *state;

	fx->src->size = 3 * SGX_PAGE_SIZE;
	ecreate_expect(fx, GP);
	fx->src->size = SGX_PAGE_SIZE;
	ecreate_expect(fx, GP);
	fx->src->size = 0;
	ecreate_expect(fx, GP);
	fx->src->size = FX_SIZE + SGX_PAGE_SIZE;
	ecreate_expect(fx, GP);
	fx->src->size = 2 * SGX_PAGE_SIZE;
	ecreate_expect(fx, SGX_SUCCESS);
}

static void ecreate_base_not_aligned(void **state)
{
	struct fx *fx = *state;

	fx->src->base = FX_BASE + SGX_PAGE_SIZE;
	ecreate_expect(fx, GP);
	fx->src->base = FX_BASE + FX_SIZE / 2;
	ecreate_expect(fx, GP);
	fx->src->base = FX_BASE + FX_SIZE;
	ecreate_expect(fx, SGX_SUCCESS);
}

static void ecreate_above_linear_limit(void **state)
{
	struct fx *fx = *state;

	/* 64-bit enclaves end below 2^47. */
	fx->src->base = (1ULL << 47) - FX_SIZE;
	ecreate_expect(fx, SGX_SUCCESS);
	assert_int_equal(fx_ecreate(fx->hw, epc(fx, 2), fx->src), SGX_SUCCESS);
	fx->src->base = 1ULL << 47;
	assert_int_equal(fx_ecreate(fx->hw, epc(fx, 3), fx->src), GP);
}

static void ecreate_32bit_above_4g(void **state)
{
	struct fx *fx = *state;

	fx->src->attributes = SGX_ATTR_DEBUG;
	/* FX_BASE is 4 GiB: out of reach of a 32-bit enclave. */
	ecreate_expect(fx, GP);
	/* Larger than the whole 32-bit address space. */
	fx->src->base = 0;
	fx->src->size = 1ULL << 33;
	ecreate_expect(fx, GP);
	/* Ending exactly at 4 GiB is fine. */
	fx->src->base = (1ULL << 32) - FX_SIZE;
	fx->src->size = FX_SIZE;
	ecreate_expect(fx, SGX_SUCCESS);
}

static void ecreate_bad_ssa_frame_size(void **state)
{
	struct fx *fx = *state;

	fx->src->ssa_frame_size = 0;
	ecreate_expect(fx, GP);
	fx->src->ssa_frame_size = 2;
	ecreate_expect(fx, SGX_SUCCESS);
}

static void ecreate_bad_xfrm(void **state)
{
	struct fx *fx = *state;

	/* x87 without SSE, SSE without x87, nothing. */
	fx->src->xfrm = 0x1;
	ecreate_expect(fx, GP);
	fx->src->xfrm = 0x2;
	ecreate_expect(fx, GP);
	fx->src->xfrm = 0;
	ecreate_expect(fx, GP);
	/* MPX BNDREGS without BNDCSR: never legal in XCR0. */
	fx->src->xfrm = 0xB;
	ecreate_expect(fx, GP);
	/* Reserved and supervisor bits (PT, bit 8) are never in CPUID.(12H,1):ECX:EDX. */
	fx->src->xfrm = 0x3 | 1ULL << 63;
	ecreate_expect(fx, GP);
	fx->src->xfrm = 0x3 | 0x100;
	ecreate_expect(fx, GP);
	/* AVX without SSE. */
	fx->src->xfrm = 0x5;
	ecreate_expect(fx, GP);
	fx->src->xfrm = 0x3;
	ecreate_expect(fx, SGX_SUCCESS);
}

/* Every bit outside CPUID.(12H,1):ECX:EDX is refused, one at a time. */
static void ecreate_xfrm_outside_supported(void **state)
{
	struct fx *fx = *state;
	uint64_t supported = hw_xfrm_supported(fx->hw);

	fx->src->ssa_frame_size = 4;
	for (unsigned int i = 2; i < 64; i++) {
		if (supported & (1ULL << i))
			continue;
		fx->src->xfrm = supported | 1ULL << i;
		ecreate_expect(fx, GP);
	}
}

/* Pages an SSA frame needs for @xfrm and @miscselect (SDM ECREATE). */
static uint32_t ssa_pages_needed(struct sgx_hw *hw, uint64_t xfrm, uint32_t miscselect)
{
	uint64_t bytes = hw_xfrm_xsave_size(hw, xfrm) + sizeof(struct sgx_ssa_gpr) +
			 ((miscselect & SGX_MISC_EXINFO) ? sizeof(struct sgx_ssa_exinfo) : 0);

	return (uint32_t)((bytes + SGX_PAGE_SIZE - 1) / SGX_PAGE_SIZE);
}

/*
 * XFRM = the host's XCR0 (what the model supports): accepted with an SSA
 * frame that holds its XSAVE image, refused (#GP) with one page less.
 */
static void ecreate_xfrm_host_xcr0(void **state)
{
	struct fx *fx = *state;
	uint64_t xfrm = hw_xfrm_supported(fx->hw);
	uint32_t need = ssa_pages_needed(fx->hw, xfrm, SGX_MISC_EXINFO);

	assert_int_equal(xfrm & ~hw_host_xcr0(fx->hw), 0);
	assert_true(hw_xfrm_xsave_size(fx->hw, xfrm) >= 576);
	assert_true(hw_xfrm_xsave_size(fx->hw, xfrm) <= SGX_XSAVE_AREA_SIZE);
	fx->src->xfrm = xfrm;
	fx->src->miscselect = SGX_MISC_EXINFO;
	fx->src->ssa_frame_size = need - 1;
	ecreate_expect(fx, GP);
	fx->src->ssa_frame_size = need;
	ecreate_expect(fx, SGX_SUCCESS);
	if (need == 1)
		printf("note: XFRM %#llx needs one SSA page on this host; the too-small case is 0 pages\n",
		       (unsigned long long)xfrm);
}

/* The XSAVE size is the largest end of a component: AVX alone is 832 bytes. */
static void ecreate_ssa_size_boundary(void **state)
{
	struct fx *fx = *state;

	if (!(hw_xfrm_supported(fx->hw) & 0x4)) {
		printf("skipped: the host has no AVX in XCR0\n");
		skip();
	}
	assert_int_equal(hw_xfrm_xsave_size(fx->hw, 0x3), 576);
	assert_int_equal(hw_xfrm_xsave_size(fx->hw, 0x7), 832);
	fx->src->xfrm = 0x7;
	fx->src->ssa_frame_size = 1;
	ecreate_expect(fx, SGX_SUCCESS);
}

/* AVX-512's three components only together, and only with AVX (XSETBV's rules). */
static void ecreate_xfrm_avx512_together(void **state)
{
	struct fx *fx = *state;
	uint64_t s = hw_xfrm_supported(fx->hw);

	if ((s & 0xE0) != 0xE0) {
		printf("skipped: the host has no AVX-512 in XCR0\n");
		skip();
	}
	fx->src->ssa_frame_size = 4;
	fx->src->xfrm = 0x7 | 0x20;
	ecreate_expect(fx, GP);
	fx->src->xfrm = 0x7 | 0x60;
	ecreate_expect(fx, GP);
	fx->src->xfrm = 0x3 | 0xE0;
	ecreate_expect(fx, GP);
	fx->src->xfrm = 0x7 | 0xE0;
	ecreate_expect(fx, SGX_SUCCESS);
}

/* AMX's XTILECFG and XTILEDATA only together. */
static void ecreate_xfrm_amx_together(void **state)
{
	struct fx *fx = *state;
	uint64_t s = hw_xfrm_supported(fx->hw);

	if ((s & 0x60000) != 0x60000) {
		printf("skipped: the host has no AMX in XCR0\n");
		skip();
	}
	fx->src->ssa_frame_size = 4;
	fx->src->xfrm = 0x3 | 0x20000;
	ecreate_expect(fx, GP);
	fx->src->xfrm = 0x3 | 0x40000;
	ecreate_expect(fx, GP);
	fx->src->xfrm = 0x3 | 0x60000;
	ecreate_expect(fx, SGX_SUCCESS);
}

static void ecreate_bad_miscselect(void **state)
{
	struct fx *fx = *state;

	fx->src->miscselect = 0x2;
	ecreate_expect(fx, GP);
	fx->src->miscselect = SGX_MISC_EXINFO;
	ecreate_expect(fx, SGX_SUCCESS);
}

static void ecreate_reserved_nonzero(void **state)
{
	struct fx *fx = *state;
	static const size_t reserved[] = {
		offsetof(struct sgx_secs, reserved1),
		offsetof(struct sgx_secs, reserved1) + 23,
		offsetof(struct sgx_secs, reserved2),
		offsetof(struct sgx_secs, reserved3) + 31,
		offsetof(struct sgx_secs, reserved4),
		SECS_HIDDEN_OFFSET,
		SGX_PAGE_SIZE - 1,
	};
	uint8_t *raw = (uint8_t *)fx->src;

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		raw[reserved[i]] = 1;
		ecreate_expect(fx, GP);
		raw[reserved[i]] = 0;
	}
	/* CONFIGID and CONFIGSVN are reserved unless KSS is set. */
	fx->src->config_id[0] = 1;
	ecreate_expect(fx, GP);
	fx->src->config_id[0] = 0;
	fx->src->config_svn = 1;
	ecreate_expect(fx, GP);
	fx->src->config_id[63] = 1;
	fx->src->attributes |= SGX_ATTR_KSS;
	ecreate_expect(fx, SGX_SUCCESS);
}

/* --------------------------------------------------------------------- EADD */

static int eadd(struct fx *fx, uint64_t n, uint64_t linaddr, const void *src, uint64_t flags)
{
	return fx_eadd(fx->hw, fx->secs, epc(fx, n), linaddr, src, flags);
}

/* EADD with every operand given, for the alignment checks. */
static int eadd_raw(struct fx *fx, struct sgx_pageinfo *pginfo, void *page, uint64_t linaddr,
		    const void *src, const struct sgx_secinfo *secinfo, void *secs)
{
	pginfo->addr = linaddr;
	pginfo->contents = (uintptr_t)src;
	pginfo->metadata = (uintptr_t)secinfo;
	pginfo->secs = (uintptr_t)secs;
	return encls_eadd(fx->hw, pginfo, page);
}

/*
 * A failed EADD of EPC page @n must leave the page invalid and the enclave
 * exactly as it was: child count and running measurement.
 */
static void eadd_expect_fail(struct fx *fx, uint64_t n, uint64_t linaddr, const void *src,
			     uint64_t flags, int expected)
{
	uint8_t before[SGX_HASH_SIZE], after[SGX_HASH_SIZE];
	uint64_t children = child_cnt(fx->hw, fx->secs);

	mrenclave(fx->secs, before);
	assert_int_equal(eadd(fx, n, linaddr, src, flags), expected);
	assert_false(page_valid(fx->hw, epc(fx, n)));
	assert_int_equal(child_cnt(fx->hw, fx->secs), children);
	mrenclave(fx->secs, after);
	assert_memory_equal(before, after, sizeof(before));
}

static void eadd_reg_success(void **state)
{
	struct fx *fx = *state;
	struct epcm_entry *e, *secs_e;
	uint8_t before[SGX_HASH_SIZE], after[SGX_HASH_SIZE];
	struct epc_ref sref;

	mrenclave(fx->secs, before);
	assert_int_equal(
		eadd(fx, 1, lin(3), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X),
		SGX_SUCCESS);
	e = epcm(fx->hw, epc(fx, 1));
	assert_true(e->valid);
	assert_int_equal(e->type, SGX_PAGE_TYPE_REG);
	assert_int_equal(e->flags, SGX_SECINFO_R | SGX_SECINFO_X);
	assert_int_equal(e->linaddr, lin(3));
	assert_true(epc_resolve(fx->hw, fx->secs, false, &sref));
	assert_int_equal(e->secs_pfn, sref.pfn);
	assert_false(e->blocked);
	assert_memory_equal(epc(fx, 1), fx->buf, SGX_PAGE_SIZE);
	secs_e = epcm(fx->hw, fx->secs);
	assert_int_equal(atomic_load(&secs_e->child_cnt), 1);
	mrenclave(fx->secs, after);
	assert_memory_not_equal(before, after, sizeof(before));

	/* Every permission combination with R; the last page of ELRANGE. */
	assert_int_equal(eadd(fx, 2, lin(4), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(eadd(fx, 3, lin(5), fx->buf,
			      SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X),
			 SGX_SUCCESS);
	assert_int_equal(epcm(fx->hw, epc(fx, 3))->flags,
			 SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X);
	assert_int_equal(eadd(fx, 4, FX_BASE + FX_SIZE - SGX_PAGE_SIZE, fx->buf, SGX_SECINFO_REG),
			 SGX_SUCCESS);
	assert_int_equal(epcm(fx->hw, epc(fx, 4))->flags, 0);
	/* X without R is allowed; only W needs R. */
	assert_int_equal(eadd(fx, 5, lin(6), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_X),
			 SGX_SUCCESS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 5);
}

static void eadd_tcs_success(void **state)
{
	struct fx *fx = *state;
	struct sgx_tcs *tcs = epc(fx, 1);
	struct epcm_entry *e;

	/* Fields software may not preset: EADD clears them. */
	fx->tcs->state = 0x1234;
	fx->tcs->ssa_index = 7;
	fx->tcs->flags = SGX_TCS_DBGOPTIN;
	assert_int_equal(eadd(fx, 1, lin(0), fx->tcs, SGX_SECINFO_TCS), SGX_SUCCESS);
	e = epcm(fx->hw, tcs);
	assert_true(e->valid);
	assert_int_equal(e->type, SGX_PAGE_TYPE_TCS);
	assert_int_equal(e->linaddr, lin(0));
	assert_int_equal(tcs->state, 0);
	assert_int_equal(tcs->ssa_index, 0);
	assert_int_equal(tcs->flags, 0);
	/* The rest is copied as given. */
	assert_int_equal(tcs->ssa_offset, fx->tcs->ssa_offset);
	assert_int_equal(tcs->nr_ssa_frames, fx->tcs->nr_ssa_frames);
	assert_int_equal(tcs->entry_offset, fx->tcs->entry_offset);
	assert_int_equal(tcs->fs_limit, 0xFFF);
	assert_int_equal(tcs->gs_limit, 0xFFF);
	assert_int_equal(atomic_load(&e->tcs_busy), 0);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 1);
}

static void eadd_page_already_valid(void **state)
{
	struct fx *fx = *state;
	uint8_t *other = fx_page_buf(0x77);

	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(eadd(fx, 1, lin(2), other, SGX_SECINFO_REG | SGX_SECINFO_R), PF);
	assert_memory_equal(epc(fx, 1), fx->buf, SGX_PAGE_SIZE);
	assert_int_equal(epcm(fx->hw, epc(fx, 1))->linaddr, lin(1));
	/* The SECS page is a valid page too. */
	assert_int_equal(
		fx_eadd(fx->hw, fx->secs, fx->secs, lin(2), other, SGX_SECINFO_REG | SGX_SECINFO_R),
		PF);
	assert_int_equal(epcm(fx->hw, fx->secs)->type, SGX_PAGE_TYPE_SECS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 1);
	free(other);
}

static void eadd_secs_not_secs(void **state)
{
	struct fx *fx = *state;

	/* A REG page named as the SECS. */
	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(fx_eadd(fx->hw, epc(fx, 1), epc(fx, 2), lin(2), fx->buf,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 PF);
	/* A page never used, and a page that is not EPC at all. */
	assert_int_equal(fx_eadd(fx->hw, epc(fx, 10), epc(fx, 2), lin(2), fx->buf,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 PF);
	assert_int_equal(fx_eadd(fx->hw, fx->buf, epc(fx, 2), lin(2), fx->buf,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 PF);
	assert_false(page_valid(fx->hw, epc(fx, 2)));
	assert_int_equal(child_cnt(fx->hw, fx->secs), 1);
}

static void eadd_target_not_epc(void **state)
{
	struct fx *fx = *state;
	void *host = host_page();

	assert_int_equal(
		fx_eadd(fx->hw, fx->secs, host, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
		PF);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 0);
	free(host);
}

static void eadd_misaligned_operands(void **state)
{
	struct fx *fx = *state;
	struct sgx_secinfo secinfo[2] = {{.flags = SGX_SECINFO_REG | SGX_SECINFO_R}};
	struct sgx_pageinfo pginfo;
	uint8_t raw[2 * sizeof(pginfo)] __attribute__((aligned(32)));
	uint8_t *page = epc(fx, 1);

	assert_int_equal(eadd_raw(fx, &pginfo, page + 512, lin(1), fx->buf, secinfo, fx->secs), GP);
	assert_int_equal(eadd_raw(fx, &pginfo, page, lin(1), fx->buf + 8, secinfo, fx->secs), GP);
	assert_int_equal(eadd_raw(fx, &pginfo, page, lin(1), fx->buf,
				  (struct sgx_secinfo *)((uint8_t *)secinfo + 16), fx->secs),
			 GP);
	assert_int_equal(
		eadd_raw(fx, &pginfo, page, lin(1), fx->buf, secinfo, (uint8_t *)fx->secs + 64),
		GP);
	/* A PAGEINFO that is not 32-byte aligned. */
	pginfo.addr = lin(1);
	pginfo.contents = (uintptr_t)fx->buf;
	pginfo.metadata = (uintptr_t)secinfo;
	pginfo.secs = (uintptr_t)fx->secs;
	memcpy(raw + 16, &pginfo, sizeof(pginfo));
	assert_int_equal(encls_eadd(fx->hw, (struct sgx_pageinfo *)(raw + 16), page), GP);
	assert_false(page_valid(fx->hw, page));
	assert_int_equal(encls_eadd(fx->hw, &pginfo, page), SGX_SUCCESS);
}

static void eadd_linaddr_checks(void **state)
{
	struct fx *fx = *state;
	const uint64_t reg = SGX_SECINFO_REG | SGX_SECINFO_R;

	eadd_expect_fail(fx, 1, FX_BASE - SGX_PAGE_SIZE, fx->buf, reg, GP);
	eadd_expect_fail(fx, 1, FX_BASE + FX_SIZE, fx->buf, reg, GP);
	eadd_expect_fail(fx, 1, 0, fx->buf, reg, GP);
	eadd_expect_fail(fx, 1, ~0ULL & ~(SGX_PAGE_SIZE - 1), fx->buf, reg, GP);
	eadd_expect_fail(fx, 1, lin(1) + 8, fx->buf, reg, GP);
	eadd_expect_fail(fx, 1, lin(1) + SGX_PAGE_SIZE / 2, fx->buf, reg, GP);
	assert_int_equal(eadd(fx, 1, FX_BASE, fx->buf, reg), SGX_SUCCESS);
}

static void eadd_bad_page_type(void **state)
{
	struct fx *fx = *state;

	eadd_expect_fail(fx, 1, lin(1), fx->buf, SGX_SECINFO_VA, GP);
	eadd_expect_fail(fx, 1, lin(1), fx->src, SGX_SECINFO_SECS, GP);
	eadd_expect_fail(fx, 1, lin(1), fx->buf, SGX_SECINFO_TRIM, GP);
	eadd_expect_fail(fx, 1, lin(1), fx->buf, 5ULL << 8 | SGX_SECINFO_R, GP);
	eadd_expect_fail(fx, 1, lin(1), fx->buf, 0xFFULL << 8 | SGX_SECINFO_R, GP);
}

static void eadd_bad_secinfo(void **state)
{
	struct fx *fx = *state;
	struct sgx_secinfo secinfo = {.flags = SGX_SECINFO_REG | SGX_SECINFO_R};
	struct sgx_pageinfo pginfo;

	/* W without R. */
	eadd_expect_fail(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_W, GP);
	eadd_expect_fail(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_W | SGX_SECINFO_X,
			 GP);
	/* SGX2 state bits and anything above the page type are reserved for EADD. */
	eadd_expect_fail(fx, 1, lin(1), fx->buf,
			 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_PENDING, GP);
	eadd_expect_fail(fx, 1, lin(1), fx->buf,
			 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_MODIFIED, GP);
	eadd_expect_fail(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_PR,
			 GP);
	eadd_expect_fail(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R | (1ULL << 16),
			 GP);
	eadd_expect_fail(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R | (1ULL << 63),
			 GP);
	secinfo.reserved[0] = 1;
	assert_int_equal(eadd_raw(fx, &pginfo, epc(fx, 1), lin(1), fx->buf, &secinfo, fx->secs),
			 GP);
	secinfo.reserved[0] = 0;
	secinfo.reserved[55] = 0x80;
	assert_int_equal(eadd_raw(fx, &pginfo, epc(fx, 1), lin(1), fx->buf, &secinfo, fx->secs),
			 GP);
	assert_false(page_valid(fx->hw, epc(fx, 1)));
	assert_int_equal(child_cnt(fx->hw, fx->secs), 0);
}

static void eadd_tcs_bad_fields(void **state)
{
	struct fx *fx = *state;
	struct sgx_tcs *t = fx->tcs;

	t->flags = 0x2;
	eadd_expect_fail(fx, 1, lin(0), t, SGX_SECINFO_TCS, GP);
	fx_tcs_init(t);
	t->flags = 1ULL << 63;
	eadd_expect_fail(fx, 1, lin(0), t, SGX_SECINFO_TCS, GP);
	fx_tcs_init(t);
	t->ssa_offset += 8;
	eadd_expect_fail(fx, 1, lin(0), t, SGX_SECINFO_TCS, GP);
	fx_tcs_init(t);
	t->fs_offset = 0x800;
	eadd_expect_fail(fx, 1, lin(0), t, SGX_SECINFO_TCS, GP);
	fx_tcs_init(t);
	t->gs_offset = 1;
	eadd_expect_fail(fx, 1, lin(0), t, SGX_SECINFO_TCS, GP);
	fx_tcs_init(t);
	t->fs_limit = 0xFFE;
	eadd_expect_fail(fx, 1, lin(0), t, SGX_SECINFO_TCS, GP);
	fx_tcs_init(t);
	t->gs_limit = 0x1000;
	eadd_expect_fail(fx, 1, lin(0), t, SGX_SECINFO_TCS, GP);
	fx_tcs_init(t);
	t->reserved[0] = 1;
	eadd_expect_fail(fx, 1, lin(0), t, SGX_SECINFO_TCS, GP);
	fx_tcs_init(t);
	t->reserved[sizeof(t->reserved) - 1] = 1;
	eadd_expect_fail(fx, 1, lin(0), t, SGX_SECINFO_TCS, GP);
	/* Page-granular offsets and limits ending in 0xFFF are fine. */
	fx_tcs_init(t);
	t->fs_offset = 3 * SGX_PAGE_SIZE;
	t->gs_offset = 4 * SGX_PAGE_SIZE;
	t->fs_limit = 0x1FFF;
	t->gs_limit = 0xFFFFFFFF;
	assert_int_equal(eadd(fx, 1, lin(0), t, SGX_SECINFO_TCS), SGX_SUCCESS);
	/* The same bytes as a REG page are not checked as a TCS. */
	t->reserved[0] = 1;
	assert_int_equal(eadd(fx, 2, lin(1), t, SGX_SECINFO_REG | SGX_SECINFO_R), SGX_SUCCESS);
}

/* encls_eadd_staged() of EPC page @n, whose contents the caller put there. */
static int eadd_staged(struct fx *fx, void *secs, uint64_t n, uint64_t linaddr, uint64_t flags)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = flags};
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = {
		.addr = linaddr,
		.metadata = (uintptr_t)&secinfo,
		.secs = (uintptr_t)secs,
	};

	return encls_eadd_staged(fx->hw, &pginfo, epc(fx, n));
}

/*
 * The kernel model's EADD of a page already in place (ADD_PAGES' copy
 * straight into the EPC page): the enclave it builds is the one EADD
 * from a source builds, page contents, EPCM and MRENCLAVE alike.
 */
static void eadd_staged_same_enclave(void **state)
{
	struct fx *fx = *state;
	void *secs2 = epc(fx, 10);
	uint8_t a[SGX_HASH_SIZE], b[SGX_HASH_SIZE];
	struct sgx_tcs *tcs;

	assert_int_equal(fx_ecreate(fx->hw, secs2, fx->src), SGX_SUCCESS);
	/* A TCS and a REG page each way: from a source into enclave 1, staged into enclave 2. */
	fx->tcs->state = 0x1234;
	fx->tcs->flags = SGX_TCS_DBGOPTIN;
	assert_int_equal(eadd(fx, 1, lin(0), fx->tcs, SGX_SECINFO_TCS), SGX_SUCCESS);
	assert_int_equal(eadd(fx, 2, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	memcpy(epc(fx, 11), fx->tcs, SGX_PAGE_SIZE);
	memcpy(epc(fx, 12), fx->buf, SGX_PAGE_SIZE);
	assert_int_equal(eadd_staged(fx, secs2, 11, lin(0), SGX_SECINFO_TCS), SGX_SUCCESS);
	assert_int_equal(eadd_staged(fx, secs2, 12, lin(1), SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_memory_equal(epc(fx, 1), epc(fx, 11), SGX_PAGE_SIZE);
	assert_memory_equal(epc(fx, 2), epc(fx, 12), SGX_PAGE_SIZE);
	tcs = epc(fx, 11);
	assert_int_equal(tcs->state, 0);
	assert_int_equal(tcs->flags, 0);
	assert_int_equal(epcm(fx->hw, epc(fx, 11))->type, SGX_PAGE_TYPE_TCS);
	assert_int_equal(epcm(fx->hw, epc(fx, 12))->flags, SGX_SECINFO_R);
	assert_int_equal(child_cnt(fx->hw, secs2), 2);
	for (unsigned int i = 0; i < SGX_PAGE_SIZE / 256; i++) {
		assert_int_equal(encls_eextend(fx->hw, fx->secs, (uint8_t *)epc(fx, 2) + i * 256),
				 SGX_SUCCESS);
		assert_int_equal(encls_eextend(fx->hw, secs2, (uint8_t *)epc(fx, 12) + i * 256),
				 SGX_SUCCESS);
	}
	mrenclave(fx->secs, a);
	mrenclave(secs2, b);
	assert_memory_equal(a, b, sizeof(a));
}

/* Staged, EADD's checks still read the page: a bad TCS in place is refused, nothing changes. */
static void eadd_staged_refused(void **state)
{
	struct fx *fx = *state;
	uint8_t before[SGX_HASH_SIZE], after[SGX_HASH_SIZE];

	mrenclave(fx->secs, before);
	fx->tcs->reserved[0] = 1;
	memcpy(epc(fx, 1), fx->tcs, SGX_PAGE_SIZE);
	assert_int_equal(eadd_staged(fx, fx->secs, 1, lin(0), SGX_SECINFO_TCS), GP);
	assert_false(page_valid(fx->hw, epc(fx, 1)));
	/* Already valid, outside ELRANGE, or a SECS that is not one: as EADD. */
	memcpy(epc(fx, 2), fx->buf, SGX_PAGE_SIZE);
	assert_int_equal(eadd_staged(fx, fx->secs, 2, lin(1), SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(eadd_staged(fx, fx->secs, 2, lin(2), SGX_SECINFO_REG | SGX_SECINFO_R),
			 PF);
	assert_int_equal(eadd_staged(fx, fx->secs, 3, FX_BASE + FX_SIZE, SGX_SECINFO_REG), GP);
	assert_int_equal(eadd_staged(fx, epc(fx, 2), 3, lin(3), SGX_SECINFO_REG), PF);
	assert_false(page_valid(fx->hw, epc(fx, 3)));
	assert_int_equal(child_cnt(fx->hw, fx->secs), 1);
	/* The valid page changed the measurement, the refused ones did not. */
	mrenclave(fx->secs, after);
	assert_memory_not_equal(before, after, sizeof(before));
}

static void eadd_after_einit(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	/* EINIT belongs to another file; its visible effect on the SECS is INIT. */
	((struct sgx_secs *)fx->secs)->attributes |= SGX_ATTR_INIT;
	eadd_expect_fail(fx, 2, lin(2), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R, GP);
	eadd_expect_fail(fx, 2, lin(0), fx->tcs, SGX_SECINFO_TCS, GP);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 1);
}

static void eadd_locks(void **state)
{
	struct fx *fx = *state;
	struct epcm_entry *secs_e = epcm(fx->hw, fx->secs);
	struct epc_ref ref;

	/* A leaf holds the SECS (e.g. a concurrent EADD or EREMOVE of it). */
	assert_true(epcm_trylock_excl(secs_e));
	eadd_expect_fail(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R, GP);
	epcm_unlock_excl(secs_e);
	/* EADD needs the SECS exclusively: even a shared holder conflicts. */
	assert_true(epcm_trylock_shared(secs_e));
	eadd_expect_fail(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R, GP);
	epcm_unlock_shared(secs_e);
	/* A leaf holds the target page. */
	assert_true(epc_resolve(fx->hw, epc(fx, 1), true, &ref));
	assert_true(epcm_trylock_shared(ref.e));
	eadd_expect_fail(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R, GP);
	epcm_unlock_shared(ref.e);
	/* Failures released every lock they took. */
	assert_int_equal(atomic_load(&secs_e->lock), 0);
	assert_int_equal(atomic_load(&ref.e->lock), 0);
	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(atomic_load(&secs_e->lock), 0);
	assert_int_equal(atomic_load(&ref.e->lock), 0);
}

/* ------------------------------------------------------------------ EEXTEND */

static void eextend_success(void **state)
{
	struct fx *fx = *state;
	uint8_t before[SGX_HASH_SIZE], after[SGX_HASH_SIZE];
	uint8_t *page = epc(fx, 1);

	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	for (unsigned int off = 0; off < SGX_PAGE_SIZE; off += SGX_EEXTEND_CHUNK) {
		mrenclave(fx->secs, before);
		assert_int_equal(encls_eextend(fx->hw, fx->secs, page + off), SGX_SUCCESS);
		mrenclave(fx->secs, after);
		assert_memory_not_equal(before, after, sizeof(before));
	}
	/* A TCS can be measured too. */
	assert_int_equal(eadd(fx, 2, lin(0), fx->tcs, SGX_SECINFO_TCS), SGX_SUCCESS);
	fx_eextend_page(fx->hw, fx->secs, epc(fx, 2));
	assert_int_equal(atomic_load(&epcm(fx->hw, fx->secs)->lock), 0);
	assert_int_equal(atomic_load(&epcm(fx->hw, page)->lock), 0);
}

static void eextend_expect(struct fx *fx, void *secs, void *chunk, int expected)
{
	uint8_t before[SGX_HASH_SIZE], after[SGX_HASH_SIZE];

	mrenclave(fx->secs, before);
	assert_int_equal(encls_eextend(fx->hw, secs, chunk), expected);
	mrenclave(fx->secs, after);
	assert_memory_equal(before, after, sizeof(before));
}

static void eextend_misaligned(void **state)
{
	struct fx *fx = *state;
	uint8_t *page = epc(fx, 1);

	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	eextend_expect(fx, fx->secs, page + 128, GP);
	eextend_expect(fx, fx->secs, page + 8, GP);
	eextend_expect(fx, fx->secs, page + 255, GP);
	eextend_expect(fx, (uint8_t *)fx->secs + 256, page, GP);
}

static void eextend_not_epc(void **state)
{
	struct fx *fx = *state;

	eextend_expect(fx, fx->secs, fx->buf, PF);
	eextend_expect(fx, fx->buf, epc(fx, 1), PF);
}

static void eextend_other_secs(void **state)
{
	struct fx *fx = *state;
	void *secs2 = epc(fx, 2);

	assert_int_equal(fx_ecreate(fx->hw, secs2, fx->src), SGX_SUCCESS);
	assert_int_equal(fx_eadd(fx->hw, secs2, epc(fx, 3), lin(1), fx->buf,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	eextend_expect(fx, fx->secs, epc(fx, 3), GP);
	assert_int_equal(encls_eextend(fx->hw, secs2, epc(fx, 3)), SGX_SUCCESS);
}

static void eextend_invalid_page(void **state)
{
	struct fx *fx = *state;

	/* Never used. */
	eextend_expect(fx, fx->secs, epc(fx, 5), PF);
	/* Removed. */
	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_SUCCESS);
	eextend_expect(fx, fx->secs, epc(fx, 1), PF);
}

static void eextend_secs_not_secs(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(eadd(fx, 2, lin(2), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	eextend_expect(fx, epc(fx, 2), epc(fx, 1), PF);
	eextend_expect(fx, epc(fx, 9), epc(fx, 1), PF);
	/* A chunk of the SECS itself is not a REG or TCS page. */
	eextend_expect(fx, fx->secs, (uint8_t *)fx->secs + 256, PF);
	eextend_expect(fx, fx->secs, fx->secs, PF);
}

static void eextend_after_einit(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	((struct sgx_secs *)fx->secs)->attributes |= SGX_ATTR_INIT;
	eextend_expect(fx, fx->secs, epc(fx, 1), GP);
}

static void eextend_locks(void **state)
{
	struct fx *fx = *state;
	struct epcm_entry *secs_e = epcm(fx->hw, fx->secs), *e;

	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	e = epcm(fx->hw, epc(fx, 1));
	assert_true(epcm_trylock_excl(secs_e));
	eextend_expect(fx, fx->secs, epc(fx, 1), GP);
	epcm_unlock_excl(secs_e);
	assert_true(epcm_trylock_excl(e));
	eextend_expect(fx, fx->secs, epc(fx, 1), GP);
	epcm_unlock_excl(e);
	/* The chunk's page is taken shared: a reader does not stop EEXTEND. */
	assert_true(epcm_trylock_shared(e));
	assert_int_equal(encls_eextend(fx->hw, fx->secs, epc(fx, 1)), SGX_SUCCESS);
	epcm_unlock_shared(e);
	assert_int_equal(atomic_load(&secs_e->lock), 0);
	assert_int_equal(atomic_load(&e->lock), 0);
}

/*
 * encls_eextend_chunks(): the driver's way of issuing a page's EEXTENDs,
 * with the locks taken once. It must be indistinguishable from the single
 * leaves: the same MRENCLAVE, the same return codes, nothing measured on
 * a failure, no lock left behind.
 */
static void eextend_chunks_same_measurement(void **state)
{
	struct fx *fx = *state;
	void *secs[3] = { fx->secs, epc(fx, 4), epc(fx, 8) };
	uint8_t m[3][SGX_HASH_SIZE];

	assert_int_equal(fx_ecreate(fx->hw, secs[1], fx->src), SGX_SUCCESS);
	assert_int_equal(fx_ecreate(fx->hw, secs[2], fx->src), SGX_SUCCESS);
	for (unsigned int i = 0; i < 3; i++) {
		uint8_t *page = epc(fx, 4 * i + 1);

		assert_int_equal(fx_eadd(fx->hw, secs[i], page, lin(1), fx->buf,
					 SGX_SECINFO_REG | SGX_SECINFO_R),
				 SGX_SUCCESS);
		if (i == 0) {
			for (unsigned int off = 0; off < SGX_PAGE_SIZE; off += SGX_EEXTEND_CHUNK)
				assert_int_equal(encls_eextend(fx->hw, secs[i], page + off),
						 SGX_SUCCESS);
		} else if (i == 1) {
			assert_int_equal(encls_eextend_chunks(fx->hw, secs[i], page, 16),
					 SGX_SUCCESS);
		} else {
			/* Uneven runs: 3, 8 and the last 5. */
			assert_int_equal(encls_eextend_chunks(fx->hw, secs[i], page, 3),
					 SGX_SUCCESS);
			assert_int_equal(encls_eextend_chunks(fx->hw, secs[i],
							      page + 3 * SGX_EEXTEND_CHUNK, 8),
					 SGX_SUCCESS);
			assert_int_equal(encls_eextend_chunks(fx->hw, secs[i],
							      page + 11 * SGX_EEXTEND_CHUNK, 5),
					 SGX_SUCCESS);
		}
		mrenclave(secs[i], m[i]);
		assert_int_equal(atomic_load(&epcm(fx->hw, secs[i])->lock), 0);
		assert_int_equal(atomic_load(&epcm(fx->hw, page)->lock), 0);
	}
	assert_memory_equal(m[0], m[1], SGX_HASH_SIZE);
	assert_memory_equal(m[0], m[2], SGX_HASH_SIZE);
}

static void eextend_chunks_expect(struct fx *fx, void *secs, void *chunk, unsigned int n,
				  int expected)
{
	uint8_t before[SGX_HASH_SIZE], after[SGX_HASH_SIZE];

	mrenclave(fx->secs, before);
	assert_int_equal(encls_eextend_chunks(fx->hw, secs, chunk, n), expected);
	mrenclave(fx->secs, after);
	assert_memory_equal(before, after, sizeof(before));
}

static void eextend_chunks_refused(void **state)
{
	struct fx *fx = *state;
	struct epcm_entry *secs_e = epcm(fx->hw, fx->secs);
	uint8_t *page = epc(fx, 1), *other = epc(fx, 3);

	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	/* No chunks, or more than the page has left: they would be another page's. */
	eextend_chunks_expect(fx, fx->secs, page, 0, GP);
	eextend_chunks_expect(fx, fx->secs, page, 17, GP);
	eextend_chunks_expect(fx, fx->secs, page + 15 * SGX_EEXTEND_CHUNK, 2, GP);
	/* What a single EEXTEND refuses, the run refuses with the same code. */
	eextend_chunks_expect(fx, fx->secs, page + 128, 1, GP);
	eextend_chunks_expect(fx, fx->secs, epc(fx, 5), 16, PF);
	eextend_chunks_expect(fx, fx->secs, fx->buf, 16, PF);
	eextend_chunks_expect(fx, fx->secs, fx->secs, 16, PF);
	assert_int_equal(fx_ecreate(fx->hw, epc(fx, 2), fx->src), SGX_SUCCESS);
	assert_int_equal(fx_eadd(fx->hw, epc(fx, 2), other, lin(1), fx->buf,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	eextend_chunks_expect(fx, fx->secs, other, 16, GP);
	assert_true(epcm_trylock_excl(secs_e));
	eextend_chunks_expect(fx, fx->secs, page, 16, GP);
	epcm_unlock_excl(secs_e);
	/* The last chunk alone is a run of one. */
	assert_int_equal(encls_eextend_chunks(fx->hw, fx->secs, page + 15 * SGX_EEXTEND_CHUNK, 1),
			 SGX_SUCCESS);
	((struct sgx_secs *)fx->secs)->attributes |= SGX_ATTR_INIT;
	eextend_chunks_expect(fx, fx->secs, page, 16, GP);
	assert_int_equal(atomic_load(&secs_e->lock), 0);
	assert_int_equal(atomic_load(&epcm(fx->hw, page)->lock), 0);
}

/* ------------------------------------------------------------------ EREMOVE */

static void eremove_free_page(void **state)
{
	struct fx *fx = *state;

	/* Never touched: nothing to do. */
	assert_int_equal(encls_eremove(fx->hw, epc(fx, NR_PAGES - 1)), SGX_SUCCESS);
	assert_false(page_valid(fx->hw, epc(fx, NR_PAGES - 1)));
	/* Touched, then freed: removing it again is still fine. */
	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_SUCCESS);
	assert_false(page_valid(fx->hw, epc(fx, 1)));
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_SUCCESS);
	/* A page whose chunk exists but which was never valid. */
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 2)), SGX_SUCCESS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 0);
}

static void eremove_untouched_chunk_stays_unallocated(void **state)
{
	struct fx *fx = *state;
	struct sgx_hw *hw = fx_hw_new(1, 2 * EPCM_CHUNK_PAGES);
	struct epc_ref ref;

	(void)fx;
	assert_int_equal(encls_eremove(hw, fx_epc_page(hw, EPCM_CHUNK_PAGES + 3)), SGX_SUCCESS);
	assert_true(epc_resolve(hw, fx_epc_page(hw, EPCM_CHUNK_PAGES + 3), false, &ref));
	assert_null(ref.e);
	lg_hw_free(hw);
}

static void eremove_operand_checks(void **state)
{
	struct fx *fx = *state;
	void *host = host_page();

	assert_int_equal(encls_eremove(fx->hw, (uint8_t *)epc(fx, 1) + 8), GP);
	assert_int_equal(encls_eremove(fx->hw, (uint8_t *)fx->secs + 2048), GP);
	assert_int_equal(encls_eremove(fx->hw, host), PF);
	assert_true(page_valid(fx->hw, fx->secs));
	free(host);
}

static void eremove_secs_with_children(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(eadd(fx, 1, lin(0), fx->tcs, SGX_SECINFO_TCS), SGX_SUCCESS);
	assert_int_equal(eadd(fx, 2, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(eadd(fx, 3, lin(2), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 3);

	assert_int_equal(encls_eremove(fx->hw, fx->secs), SGX_CHILD_PRESENT);
	assert_true(page_valid(fx->hw, fx->secs));
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 2)), SGX_SUCCESS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 2);
	assert_int_equal(encls_eremove(fx->hw, fx->secs), SGX_CHILD_PRESENT);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_SUCCESS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 1);
	assert_int_equal(encls_eremove(fx->hw, fx->secs), SGX_CHILD_PRESENT);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 3)), SGX_SUCCESS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 0);
	/* Removing a page twice does not count it twice. */
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 3)), SGX_SUCCESS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 0);

	assert_int_equal(encls_eremove(fx->hw, fx->secs), SGX_SUCCESS);
	assert_false(page_valid(fx->hw, fx->secs));
	assert_int_equal(child_cnt(fx->hw, fx->secs), 0);
	/* The page is free for a new SECS. */
	assert_int_equal(fx_ecreate(fx->hw, fx->secs, fx->src), SGX_SUCCESS);
}

static void eremove_child_count_per_enclave(void **state)
{
	struct fx *fx = *state;
	void *secs2 = epc(fx, 10);

	assert_int_equal(fx_ecreate(fx->hw, secs2, fx->src), SGX_SUCCESS);
	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(fx_eadd(fx->hw, secs2, epc(fx, 11), lin(1), fx->buf,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(fx_eadd(fx->hw, secs2, epc(fx, 12), lin(2), fx->buf,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 1);
	assert_int_equal(child_cnt(fx->hw, secs2), 2);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 11)), SGX_SUCCESS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 1);
	assert_int_equal(child_cnt(fx->hw, secs2), 1);
	/* A failed EADD does not count. */
	assert_int_equal(fx_eadd(fx->hw, secs2, epc(fx, 12), lin(3), fx->buf,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 PF);
	assert_int_equal(child_cnt(fx->hw, secs2), 1);
}

static void eremove_enclave_active(void **state)
{
	struct fx *fx = *state;
	struct epcm_entry *secs_e = epcm(fx->hw, fx->secs);

	assert_int_equal(eadd(fx, 1, lin(0), fx->tcs, SGX_SECINFO_TCS), SGX_SUCCESS);
	assert_int_equal(eadd(fx, 2, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	/*
	 * A logical processor inside the enclave. hw_enclave_enter() would
	 * need an initialized enclave (EINIT lives in another file), so the
	 * test bumps the SECS's thread count the way it does.
	 */
	atomic_fetch_add(&secs_e->threads, 1);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 2)), SGX_ENCLAVE_ACT);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_ENCLAVE_ACT);
	assert_true(page_valid(fx->hw, epc(fx, 2)));
	assert_int_equal(child_cnt(fx->hw, fx->secs), 2);
	assert_int_equal(atomic_load(&secs_e->lock), 0);
	assert_int_equal(atomic_load(&epcm(fx->hw, epc(fx, 2))->lock), 0);
	atomic_fetch_sub(&secs_e->threads, 1);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 2)), SGX_SUCCESS);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_SUCCESS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 0);
}

/* EPA lives in another file: make a VA page by writing its EPCM entry. */
static void make_va_page(struct sgx_hw *hw, void *page)
{
	struct epc_ref ref;

	assert_true(epc_resolve(hw, page, true, &ref));
	ref.e->valid = 1;
	ref.e->type = SGX_PAGE_TYPE_VA;
	ref.e->secs_pfn = NO_PFN;
	memset(page, 0, SGX_PAGE_SIZE);
}

static void eremove_va_page(void **state)
{
	struct fx *fx = *state;

	make_va_page(fx->hw, epc(fx, 1));
	/* A VA page has no enclave: threads inside some enclave do not matter. */
	atomic_fetch_add(&epcm(fx->hw, fx->secs)->threads, 1);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_SUCCESS);
	assert_false(page_valid(fx->hw, epc(fx, 1)));
	assert_int_equal(child_cnt(fx->hw, fx->secs), 0);
}

static void eremove_trim_page(void **state)
{
	struct fx *fx = *state;

	/* EMODT lives in another file: retype the page in the EPCM directly. */
	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	epcm(fx->hw, epc(fx, 1))->type = SGX_PAGE_TYPE_TRIM;
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_SUCCESS);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 0);
}

static void eremove_secs_locked(void **state)
{
	struct fx *fx = *state;
	struct epcm_entry *secs_e = epcm(fx->hw, fx->secs);

	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	/* Another processor is in a leaf that holds the SECS, e.g. EREMOVE of it. */
	assert_true(epcm_trylock_excl(secs_e));
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), GP);
	assert_true(page_valid(fx->hw, epc(fx, 1)));
	assert_int_equal(atomic_load(&epcm(fx->hw, epc(fx, 1))->lock), 0);
	assert_int_equal(encls_eremove(fx->hw, fx->secs), GP);
	epcm_unlock_excl(secs_e);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 1);
	/* Shared holders of the SECS (leaves on other children) do not conflict. */
	assert_true(epcm_trylock_shared(secs_e));
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_SUCCESS);
	epcm_unlock_shared(secs_e);
	assert_int_equal(child_cnt(fx->hw, fx->secs), 0);
	assert_int_equal(atomic_load(&secs_e->lock), 0);
}

static void eremove_page_locked(void **state)
{
	struct fx *fx = *state;
	struct epcm_entry *e;

	assert_int_equal(eadd(fx, 1, lin(1), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	e = epcm(fx->hw, epc(fx, 1));
	assert_true(epcm_trylock_shared(e));
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), GP);
	epcm_unlock_shared(e);
	assert_true(epcm_trylock_excl(e));
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), GP);
	epcm_unlock_excl(e);
	assert_true(page_valid(fx->hw, epc(fx, 1)));
	assert_int_equal(child_cnt(fx->hw, fx->secs), 1);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_SUCCESS);
	assert_int_equal(atomic_load(&e->lock), 0);
}

static void eremove_clears_entry(void **state)
{
	struct fx *fx = *state;
	struct epcm_entry *e;

	assert_int_equal(
		eadd(fx, 1, lin(7), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W),
		SGX_SUCCESS);
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_SUCCESS);
	e = epcm(fx->hw, epc(fx, 1));
	assert_false(e->valid);
	assert_int_equal(e->flags, 0);
	assert_int_equal(e->linaddr, 0);
	assert_int_equal(e->secs_pfn, NO_PFN);
	/* The page can be added again, at another address. */
	assert_int_equal(eadd(fx, 1, lin(8), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(e->linaddr, lin(8));
}

/*
 * hw_epc_prefetch() is a hint: it changes no EPCM state, creates no EPCM
 * chunk for a page never used, and ignores an address outside the EPC.
 */
static void epc_prefetch_is_only_a_hint(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(hw_epc_used_pages(fx->hw, fx_epc_page(fx->hw, 0), NR_PAGES), 0);
	hw_epc_prefetch(fx->hw, fx_epc_page(fx->hw, 5));
	hw_epc_prefetch(fx->hw, fx->buf);
	assert_int_equal(hw_epc_used_pages(fx->hw, fx_epc_page(fx->hw, 0), NR_PAGES), 0);
	fx_ecreate_default(fx->hw, fx->secs);
	assert_int_equal(eadd(fx, 1, lin(3), fx->buf, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	hw_epc_prefetch(fx->hw, epc(fx, 1));
	hw_epc_prefetch(fx->hw, epc(fx, 2));
	assert_true(hw_epc_page_valid(fx->hw, epc(fx, 1)));
	assert_int_equal(epcm(fx->hw, epc(fx, 1))->linaddr, lin(3));
	assert_false(hw_epc_page_valid(fx->hw, epc(fx, 2)));
	/* Nothing locked: the page can go. */
	assert_int_equal(encls_eremove(fx->hw, epc(fx, 1)), SGX_SUCCESS);
}

/* A whole enclave across two EPC sections, torn down in Linux's order. */
static void build_across_sections(void **state)
{
	struct fx *fx = *state;
	struct sgx_hw *hw = fx_hw_new(2, 4);
	void *secs = fx_epc_page(hw, 0);

	(void)fx;
	assert_int_equal(fx_ecreate(hw, secs, fx->src), SGX_SUCCESS);
	assert_int_equal(fx_eadd(hw, secs, fx_epc_page(hw, 1), lin(0), fx->tcs, SGX_SECINFO_TCS),
			 SGX_SUCCESS);
	for (uint64_t n = 2; n < 8; n++) {
		assert_int_equal(fx_eadd(hw, secs, fx_epc_page(hw, n), lin(n), fx->buf,
					 SGX_SECINFO_REG | SGX_SECINFO_R),
				 SGX_SUCCESS);
		fx_eextend_page(hw, secs, fx_epc_page(hw, n));
	}
	assert_int_equal(child_cnt(hw, secs), 7);
	for (uint64_t n = 1; n < 8; n++)
		assert_int_equal(encls_eremove(hw, fx_epc_page(hw, n)), SGX_SUCCESS);
	assert_int_equal(encls_eremove(hw, secs), SGX_SUCCESS);
	lg_hw_free(hw);
}

#define T(fn)  cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TE(fn) cmocka_unit_test_setup_teardown(fn, setup_enclave, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(ecreate_success),
		T(ecreate_eids_unique),
		T(ecreate_misaligned_operands),
		T(ecreate_not_epc),
		T(ecreate_already_valid),
		T(ecreate_page_locked),
		T(ecreate_bad_secinfo),
		T(ecreate_bad_attributes),
		T(ecreate_bad_size),
		T(ecreate_base_not_aligned),
		T(ecreate_above_linear_limit),
		T(ecreate_32bit_above_4g),
		T(ecreate_bad_ssa_frame_size),
		T(ecreate_bad_xfrm),
		T(ecreate_xfrm_outside_supported),
		T(ecreate_xfrm_host_xcr0),
		T(ecreate_ssa_size_boundary),
		T(ecreate_xfrm_avx512_together),
		T(ecreate_xfrm_amx_together),
		T(ecreate_bad_miscselect),
		T(ecreate_reserved_nonzero),
		TE(eadd_reg_success),
		TE(eadd_tcs_success),
		TE(eadd_page_already_valid),
		TE(eadd_secs_not_secs),
		TE(eadd_target_not_epc),
		TE(eadd_misaligned_operands),
		TE(eadd_linaddr_checks),
		TE(eadd_bad_page_type),
		TE(eadd_bad_secinfo),
		TE(eadd_tcs_bad_fields),
		TE(eadd_staged_same_enclave),
		TE(eadd_staged_refused),
		TE(eadd_after_einit),
		TE(eadd_locks),
		TE(eextend_success),
		TE(eextend_misaligned),
		TE(eextend_not_epc),
		TE(eextend_other_secs),
		TE(eextend_invalid_page),
		TE(eextend_secs_not_secs),
		TE(eextend_after_einit),
		TE(eextend_locks),
		TE(eextend_chunks_same_measurement),
		TE(eextend_chunks_refused),
		TE(eremove_free_page),
		T(eremove_untouched_chunk_stays_unallocated),
		TE(eremove_operand_checks),
		TE(eremove_secs_with_children),
		TE(eremove_child_count_per_enclave),
		TE(eremove_enclave_active),
		TE(eremove_va_page),
		TE(eremove_trim_page),
		TE(eremove_secs_locked),
		TE(eremove_page_locked),
		TE(eremove_clears_entry),
		T(build_across_sections),
		T(epc_prefetch_is_only_a_hint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
