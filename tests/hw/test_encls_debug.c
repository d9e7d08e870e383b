// SPDX-License-Identifier: MIT
/*
 * EDBGRD and EDBGWR (hw/encls_debug.c). Pages of types and states that other
 * leaves create (VA by EPA, TRIM by EMODT, PENDING by EAUG, MODIFIED by
 * EMODT, BLOCKED by EBLOCK) are made by writing their EPCM entry directly,
 * so these tests depend on no file but the build leaves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/common/hw_fixture.h"
#include "hw/hw_internal.h"
#include "tests/common/leak_guard.h"

#define GP ENCLS_FAULT(X86_TRAP_GP)
#define PF ENCLS_FAULT(X86_TRAP_PF)

/* Untouched by a failing EDBGRD. */
#define POISON 0xDEADBEEFCAFEF00DULL

/* EPC pages of the fixture. */
enum {
	DBG_SECS = 0, /* debug enclave */
	DBG_TCS = 1,
	DBG_REG = 2,
	DBG_REG_NOPERM = 3,
	PROD_SECS = 10, /* production enclave */
	PROD_REG = 11,
	PROD_TCS = 12,
	SPARE = 20,
};

struct fx {
	struct sgx_hw *hw;
	uint8_t *content;
};

static void *pg(struct fx *fx, uint64_t n)
{
	return fx_epc_page(fx->hw, n);
}

static uint8_t *at(struct fx *fx, uint64_t n, uint64_t off)
{
	return (uint8_t *)pg(fx, n) + off;
}

static struct epcm_entry *epcm(struct fx *fx, uint64_t n)
{
	struct epc_ref ref;

	assert_true(epc_resolve(fx->hw, pg(fx, n), true, &ref));
	return ref.e;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct sgx_secs *src = aligned_alloc(SGX_PAGE_SIZE, sizeof(*src));
	struct sgx_tcs *tcs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*tcs));

	assert_non_null(fx);
	assert_non_null(src);
	assert_non_null(tcs);
	fx->hw = fx_hw_new(1, 32);
	fx->content = fx_page_buf(0);
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++)
		fx->content[i] = (uint8_t)(i * 13 + 5);
	fx_tcs_init(tcs);

	fx_ecreate_default(fx->hw, pg(fx, DBG_SECS));
	assert_int_equal(
		fx_eadd(fx->hw, pg(fx, DBG_SECS), pg(fx, DBG_TCS), FX_BASE, tcs, SGX_SECINFO_TCS),
		SGX_SUCCESS);
	assert_int_equal(fx_eadd(fx->hw, pg(fx, DBG_SECS), pg(fx, DBG_REG), FX_BASE + SGX_PAGE_SIZE,
				 fx->content, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W),
			 SGX_SUCCESS);
	/* No permissions at all: the debugger ignores them. */
	assert_int_equal(fx_eadd(fx->hw, pg(fx, DBG_SECS), pg(fx, DBG_REG_NOPERM),
				 FX_BASE + 2 * SGX_PAGE_SIZE, fx->content, SGX_SECINFO_REG),
			 SGX_SUCCESS);

	fx_secs_init(src, FX_BASE, FX_SIZE, SGX_ATTR_MODE64BIT);
	assert_int_equal(fx_ecreate(fx->hw, pg(fx, PROD_SECS), src), SGX_SUCCESS);
	assert_int_equal(fx_eadd(fx->hw, pg(fx, PROD_SECS), pg(fx, PROD_REG),
				 FX_BASE + SGX_PAGE_SIZE, fx->content,
				 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W),
			 SGX_SUCCESS);
	assert_int_equal(
		fx_eadd(fx->hw, pg(fx, PROD_SECS), pg(fx, PROD_TCS), FX_BASE, tcs, SGX_SECINFO_TCS),
		SGX_SUCCESS);
	free(src);
	free(tcs);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	lg_hw_free(fx->hw);
	free(fx->content);
	free(fx);
	return 0;
}

static uint64_t qword(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* EDBGRD that must fail with @expected and leave the output alone. */
static void rd_fails(struct fx *fx, void *addr, int expected)
{
	uint64_t v = POISON;

	assert_int_equal(encls_edbgrd(fx->hw, addr, &v), expected);
	assert_int_equal(v, POISON);
}

/* EDBGWR that must fail with @expected and leave the memory alone. */
static void wr_fails(struct fx *fx, void *addr, int expected)
{
	uint64_t before = 0;
	bool epc = epc_resolve(fx->hw, addr, false, &(struct epc_ref){0});

	if (epc)
		before = qword(addr);
	assert_int_equal(encls_edbgwr(fx->hw, addr, 0x0123456789ABCDEFULL), expected);
	if (epc)
		assert_int_equal(qword(addr), before);
}

static void assert_unlocked(struct fx *fx, uint64_t n)
{
	assert_int_equal(atomic_load(&epcm(fx, n)->lock), 0);
}

/* -------------------------------------------------------------- success */

static void rd_reg(void **state)
{
	struct fx *fx = *state;
	uint64_t v;

	for (uint64_t off = 0; off < SGX_PAGE_SIZE; off += 8 * 37) {
		assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_REG, off), &v), SGX_SUCCESS);
		assert_int_equal(v, qword(fx->content + off));
	}
	assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_REG, SGX_PAGE_SIZE - 8), &v), SGX_SUCCESS);
	assert_int_equal(v, qword(fx->content + SGX_PAGE_SIZE - 8));
	/* EPCM permissions do not apply to the debugger. */
	assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_REG_NOPERM, 64), &v), SGX_SUCCESS);
	assert_int_equal(v, qword(fx->content + 64));
	assert_unlocked(fx, DBG_REG);
	assert_unlocked(fx, DBG_SECS);
}

static void wr_reg(void **state)
{
	struct fx *fx = *state;
	uint64_t v;

	assert_int_equal(encls_edbgwr(fx->hw, at(fx, DBG_REG, 0x100), 0x1122334455667788ULL),
			 SGX_SUCCESS);
	assert_int_equal(qword(at(fx, DBG_REG, 0x100)), 0x1122334455667788ULL);
	/* Exactly eight bytes. */
	assert_int_equal(qword(at(fx, DBG_REG, 0xF8)), qword(fx->content + 0xF8));
	assert_int_equal(qword(at(fx, DBG_REG, 0x108)), qword(fx->content + 0x108));
	assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_REG, 0x100), &v), SGX_SUCCESS);
	assert_int_equal(v, 0x1122334455667788ULL);
	assert_int_equal(encls_edbgwr(fx->hw, at(fx, DBG_REG_NOPERM, 0), 7), SGX_SUCCESS);
	assert_int_equal(qword(at(fx, DBG_REG_NOPERM, 0)), 7);
	assert_unlocked(fx, DBG_REG);
}

static void works_after_einit(void **state)
{
	struct fx *fx = *state;
	uint64_t v;

	/* EINIT is another file's; its mark on the SECS is INIT. */
	((struct sgx_secs *)pg(fx, DBG_SECS))->attributes |= SGX_ATTR_INIT;
	assert_int_equal(encls_edbgwr(fx->hw, at(fx, DBG_REG, 8), 42), SGX_SUCCESS);
	assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_REG, 8), &v), SGX_SUCCESS);
	assert_int_equal(v, 42);
}

static void blocked_page_accessible(void **state)
{
	struct fx *fx = *state;
	uint64_t v;

	epcm(fx, DBG_REG)->blocked = 1;
	assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_REG, 16), &v), SGX_SUCCESS);
	assert_int_equal(v, qword(fx->content + 16));
	assert_int_equal(encls_edbgwr(fx->hw, at(fx, DBG_REG, 16), 3), SGX_SUCCESS);
	assert_int_equal(qword(at(fx, DBG_REG, 16)), 3);
}

/* ------------------------------------------------------- operand checks */

static void misaligned(void **state)
{
	struct fx *fx = *state;

	for (unsigned int off = 1; off < 8; off++) {
		rd_fails(fx, at(fx, DBG_REG, off), GP);
		wr_fails(fx, at(fx, DBG_REG, off), GP);
	}
	rd_fails(fx, at(fx, DBG_REG, 0x104), GP);
	wr_fails(fx, at(fx, DBG_REG, 0x104), GP);
}

static void not_epc(void **state)
{
	struct fx *fx = *state;
	uint64_t host[2] = {1, 2};

	rd_fails(fx, &host[1], PF);
	assert_int_equal(encls_edbgwr(fx->hw, &host[1], 9), PF);
	assert_int_equal(host[1], 2);
}

static void invalid_page(void **state)
{
	struct fx *fx = *state;
	struct sgx_hw *big = fx_hw_new(1, 2 * EPCM_CHUNK_PAGES);
	uint64_t v = POISON;

	/* A page in a chunk that was never allocated. */
	assert_int_equal(encls_edbgrd(big, fx_epc_page(big, EPCM_CHUNK_PAGES + 1), &v), PF);
	assert_int_equal(encls_edbgwr(big, fx_epc_page(big, EPCM_CHUNK_PAGES + 1), 1), PF);
	assert_int_equal(v, POISON);
	lg_hw_free(big);
	/* Never used, in an allocated chunk. */
	rd_fails(fx, at(fx, SPARE, 0), PF);
	wr_fails(fx, at(fx, SPARE, 0), PF);
	/* Removed. */
	assert_int_equal(encls_eremove(fx->hw, pg(fx, DBG_REG)), SGX_SUCCESS);
	rd_fails(fx, at(fx, DBG_REG, 0), PF);
	wr_fails(fx, at(fx, DBG_REG, 0), PF);
	assert_unlocked(fx, DBG_REG);
}

static void page_locked(void **state)
{
	struct fx *fx = *state;
	struct epcm_entry *e = epcm(fx, DBG_REG);
	uint64_t v;

	/* A leaf that holds the page exclusively (EWB, EREMOVE...) conflicts. */
	assert_true(epcm_trylock_excl(e));
	rd_fails(fx, at(fx, DBG_REG, 0), GP);
	wr_fails(fx, at(fx, DBG_REG, 0), GP);
	epcm_unlock_excl(e);
	/* Both leaves take the page shared: other shared holders do not. */
	assert_true(epcm_trylock_shared(e));
	assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_REG, 0), &v), SGX_SUCCESS);
	assert_int_equal(encls_edbgwr(fx->hw, at(fx, DBG_REG, 0), 5), SGX_SUCCESS);
	assert_int_equal(atomic_load(&e->lock), 1);
	epcm_unlock_shared(e);
	assert_unlocked(fx, DBG_REG);
	/* A busy SECS does not matter: DEBUG cannot change under the leaf. */
	assert_true(epcm_trylock_excl(epcm(fx, DBG_SECS)));
	assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_REG, 0), &v), SGX_SUCCESS);
	assert_int_equal(v, 5);
	epcm_unlock_excl(epcm(fx, DBG_SECS));
}

/* The same two cases through the real leaves, EPA and EBLOCK. */
static void through_epa_and_eblock(void **state)
{
	struct fx *fx = *state;
	uint64_t v = POISON;

	assert_int_equal(encls_epa(fx->hw, pg(fx, SPARE)), SGX_SUCCESS);
	assert_int_equal(encls_edbgrd(fx->hw, at(fx, SPARE, 8), &v), SGX_SUCCESS);
	assert_int_equal(v, 0);
	wr_fails(fx, at(fx, SPARE, 8), PF);

	assert_int_equal(encls_eblock(fx->hw, pg(fx, DBG_REG)), SGX_SUCCESS);
	assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_REG, 24), &v), SGX_SUCCESS);
	assert_int_equal(v, qword(fx->content + 24));
	assert_int_equal(encls_edbgwr(fx->hw, at(fx, DBG_REG, 24), 11), SGX_SUCCESS);
	assert_int_equal(qword(at(fx, DBG_REG, 24)), 11);
}

/* ------------------------------------------------------------ page types */

static void secs_page(void **state)
{
	struct fx *fx = *state;

	/* A SECS is never accessible, not even one of a debug enclave. */
	rd_fails(fx, at(fx, DBG_SECS, 0), PF);
	rd_fails(fx, at(fx, DBG_SECS, offsetof(struct sgx_secs, attributes)), PF);
	wr_fails(fx, at(fx, DBG_SECS, offsetof(struct sgx_secs, attributes)), PF);
	rd_fails(fx, at(fx, PROD_SECS, 0), PF);
	wr_fails(fx, at(fx, PROD_SECS, 0), PF);
	assert_unlocked(fx, DBG_SECS);
}

/* EPA is another file's: make a VA page by writing the EPCM entry. */
static void make_va(struct fx *fx, uint64_t n)
{
	struct epcm_entry *e = epcm(fx, n);

	e->valid = 1;
	e->type = SGX_PAGE_TYPE_VA;
	e->secs_pfn = NO_PFN;
	memset(pg(fx, n), 0, SGX_PAGE_SIZE);
}

static void va_page(void **state)
{
	struct fx *fx = *state;
	uint64_t *slots = pg(fx, SPARE);
	uint64_t v;

	make_va(fx, SPARE);
	slots[1] = 0x1234567890ULL;
	slots[2] = 0x5; /* only the low bits, which are not version */
	slots[511] = 1ULL << 63;
	/* Free or in use, never the version itself. */
	assert_int_equal(encls_edbgrd(fx->hw, &slots[0], &v), SGX_SUCCESS);
	assert_int_equal(v, 0);
	assert_int_equal(encls_edbgrd(fx->hw, &slots[1], &v), SGX_SUCCESS);
	assert_int_equal(v, ~0ULL);
	assert_int_equal(encls_edbgrd(fx->hw, &slots[2], &v), SGX_SUCCESS);
	assert_int_equal(v, 0);
	assert_int_equal(encls_edbgrd(fx->hw, &slots[511], &v), SGX_SUCCESS);
	assert_int_equal(v, ~0ULL);
	/* Never writable. */
	wr_fails(fx, &slots[0], PF);
	wr_fails(fx, &slots[1], PF);
	assert_unlocked(fx, SPARE);
}

static void trim_page(void **state)
{
	struct fx *fx = *state;

	/* EMODT is another file's: retype the page in the EPCM. */
	epcm(fx, DBG_REG)->type = SGX_PAGE_TYPE_TRIM;
	rd_fails(fx, at(fx, DBG_REG, 0), PF);
	wr_fails(fx, at(fx, DBG_REG, 0), PF);
}

static void pending_or_modified(void **state)
{
	struct fx *fx = *state;
	struct epcm_entry *e = epcm(fx, DBG_REG);
	const uint8_t orig = e->flags;

	/* EAUG leaves a page PENDING, EMODT leaves it MODIFIED, until EACCEPT. */
	e->flags = orig | SGX_SECINFO_PENDING;
	rd_fails(fx, at(fx, DBG_REG, 0), SGX_PAGE_NOT_DEBUGGABLE);
	wr_fails(fx, at(fx, DBG_REG, 0), SGX_PAGE_NOT_DEBUGGABLE);
	e->flags = orig | SGX_SECINFO_MODIFIED;
	rd_fails(fx, at(fx, DBG_REG, 0), SGX_PAGE_NOT_DEBUGGABLE);
	wr_fails(fx, at(fx, DBG_REG, 0), SGX_PAGE_NOT_DEBUGGABLE);
	/* PR (EMODPR not yet accepted) does not hide the page. */
	e->flags = orig | SGX_SECINFO_PR;
	assert_int_equal(encls_edbgwr(fx->hw, at(fx, DBG_REG, 0), 1), SGX_SUCCESS);
	e->flags = orig;
	/* Even in a production enclave the state check comes first. */
	epcm(fx, PROD_REG)->flags |= SGX_SECINFO_PENDING;
	rd_fails(fx, at(fx, PROD_REG, 0), SGX_PAGE_NOT_DEBUGGABLE);
	assert_unlocked(fx, DBG_REG);
}

/* ------------------------------------------------------ production enclave */

static void production_enclave(void **state)
{
	struct fx *fx = *state;

	rd_fails(fx, at(fx, PROD_REG, 0), GP);
	rd_fails(fx, at(fx, PROD_REG, 0x800), GP);
	wr_fails(fx, at(fx, PROD_REG, 0), GP);
	rd_fails(fx, at(fx, PROD_TCS, 0), GP);
	wr_fails(fx, at(fx, PROD_TCS, offsetof(struct sgx_tcs, flags)), GP);
	assert_memory_equal(pg(fx, PROD_REG), fx->content, SGX_PAGE_SIZE);
	assert_unlocked(fx, PROD_REG);
	assert_unlocked(fx, PROD_SECS);
}

/* ------------------------------------------------------------------- TCS */

static void tcs_read(void **state)
{
	struct fx *fx = *state;
	const struct sgx_tcs *tcs = pg(fx, DBG_TCS);
	uint64_t v;

	/* Every architectural field, up to SGX_TCS_LIMIT. */
	for (uint64_t off = 0; off < offsetof(struct sgx_tcs, reserved); off += 8) {
		assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_TCS, off), &v), SGX_SUCCESS);
		assert_int_equal(v, qword((const uint8_t *)tcs + off));
	}
	assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_TCS, 16), &v), SGX_SUCCESS);
	assert_int_equal(v, tcs->ssa_offset);
	/* Nothing beyond. */
	rd_fails(fx, at(fx, DBG_TCS, offsetof(struct sgx_tcs, reserved)), GP);
	rd_fails(fx, at(fx, DBG_TCS, 0x800), GP);
	rd_fails(fx, at(fx, DBG_TCS, SGX_PAGE_SIZE - 8), GP);
	assert_unlocked(fx, DBG_TCS);
}

static void tcs_write_flags_only(void **state)
{
	struct fx *fx = *state;
	const struct sgx_tcs *tcs = pg(fx, DBG_TCS);
	uint8_t before[SGX_PAGE_SIZE];
	uint64_t v;

	memcpy(before, tcs, sizeof(before));
	/* Opt the thread in to debugging, and out again. */
	assert_int_equal(encls_edbgwr(fx->hw, at(fx, DBG_TCS, offsetof(struct sgx_tcs, flags)),
				      SGX_TCS_DBGOPTIN),
			 SGX_SUCCESS);
	assert_int_equal(tcs->flags, SGX_TCS_DBGOPTIN);
	assert_int_equal(encls_edbgrd(fx->hw, at(fx, DBG_TCS, 8), &v), SGX_SUCCESS);
	assert_int_equal(v, SGX_TCS_DBGOPTIN);
	assert_int_equal(encls_edbgwr(fx->hw, at(fx, DBG_TCS, 8), 0), SGX_SUCCESS);
	assert_int_equal(tcs->flags, 0);
	assert_memory_equal(before, tcs, sizeof(before));

	/* Every other quadword of the TCS is off limits. */
	for (uint64_t off = 0; off < SGX_PAGE_SIZE; off += 8) {
		if (off == offsetof(struct sgx_tcs, flags))
			continue;
		assert_int_equal(encls_edbgwr(fx->hw, at(fx, DBG_TCS, off), ~0ULL), GP);
	}
	assert_memory_equal(before, tcs, sizeof(before));
	assert_unlocked(fx, DBG_TCS);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(rd_reg),
		T(wr_reg),
		T(works_after_einit),
		T(blocked_page_accessible),
		T(through_epa_and_eblock),
		T(misaligned),
		T(not_epc),
		T(invalid_page),
		T(page_locked),
		T(secs_page),
		T(va_page),
		T(trim_page),
		T(pending_or_modified),
		T(production_enclave),
		T(tcs_read),
		T(tcs_write_flags_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
