// SPDX-License-Identifier: MIT
/*
 * The SGX2 leaves: ENCLS EAUG, EMODPR, EMODT and ENCLU EACCEPT, EACCEPTCOPY,
 * EMODPE. Every return code and fault of each, that faulting ENCLU leaves
 * change no register, the ETRACK epoch rule of EACCEPT, EWB/ELDU of pages
 * in every SGX2 state, EREMOVE of trimmed and pending pages, a TCS made at
 * run time and entered, the SDM's concurrency answers, the EPCM view
 * hw_epcm_accessible() gives the kernel model, and a platform without SGX2
 * (#GP everywhere).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/common/enclu_fixture.h"
#include "hw/hw_internal.h"
#include "tests/common/leak_guard.h"

#define GP		  ENCLS_FAULT(X86_TRAP_GP)
#define PF		  ENCLS_FAULT(X86_TRAP_PF)
#define SGX_PF_ERR(write) (X86_PF_SGX | X86_PF_USER | X86_PF_PROT | ((write) ? X86_PF_WRITE : 0))

#define R	 SGX_SECINFO_R
#define W	 SGX_SECINFO_W
#define X	 SGX_SECINFO_X
#define PENDING	 SGX_SECINFO_PENDING
#define MODIFIED SGX_SECINFO_MODIFIED
#define PR	 SGX_SECINFO_PR
#define REG	 SGX_SECINFO_REG
#define TCS	 SGX_SECINFO_TCS
#define TRIM	 SGX_SECINFO_TRIM

#define SECTION_PAGES 64
#define LA_PAGES      (FX_SIZE / SGX_PAGE_SIZE)
/* EPC pages 0..EF_EPC_PAGES-1: the fixture enclave; then pages for EAUG. */
#define DYN_EPC 16
#define NR_DYN	8
/* A second, uninitialized enclave, and spare pages. */
#define UNINIT_EPC 32
#define VA_EPC	   48
#define SPARE_EPC  50
/* Linear pages EAUG fills: ELRANGE holes of the fixture. */
#define DYN_LA 16
/* Where the tests put the SECINFO operand: on the writable data page. */
#define SI_OFF 0x200

struct t {
	struct sgx_hw *hw;
	struct ef_enclave e;
	struct sgx_lp lp;
	struct sgx_cpu_regs regs;
	/* The test's page tables: every linear page of ELRANGE. */
	void *map[LA_PAGES];
	int prot[LA_PAGES];
	struct hw_mmu mmu;
};

static bool t_translate(void *ctx, uint64_t linaddr, int access, void **epc, uint32_t *pf_errcode)
{
	struct t *t = ctx;
	uint64_t n = (linaddr - FX_BASE) >> SGX_PAGE_SHIFT;
	uint32_t code = X86_PF_USER | ((access & HW_MMU_WRITE) ? X86_PF_WRITE : 0);

	if (linaddr < FX_BASE || n >= LA_PAGES || !t->map[n]) {
		*pf_errcode = code;
		return false;
	}
	if ((access & t->prot[n]) != access) {
		*pf_errcode = code | X86_PF_PROT;
		return false;
	}
	*epc = t->map[n];
	return true;
}

static struct sgx_hw *hw_new(bool sgx2)
{
	struct sgx_hw_config cfg;
	struct sgx_hw *hw;

	sgx_hw_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = SECTION_PAGES * SGX_PAGE_SIZE;
	cfg.sgx2 = sgx2;
	hw = lg_hw_new(&cfg);
	assert_non_null(hw);
	return hw;
}

static int setup_with(void **state, bool sgx2)
{
	struct t *t = calloc(1, sizeof(*t));
	struct ef_params p;

	assert_non_null(t);
	t->hw = hw_new(sgx2);
	ef_params_default(&p);
	ef_build(&t->e, t->hw, 0, &p);
	for (unsigned int n = 0; n < EF_PAGES; n++) {
		t->map[n] = t->e.page[n];
		t->prot[n] = HW_MMU_READ | HW_MMU_WRITE | HW_MMU_EXEC;
	}
	t->mmu.translate = t_translate;
	t->mmu.ctx = t;
	sgx_lp_init(&t->lp);
	*state = t;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, true);
}

static int setup_sgx1(void **state)
{
	return setup_with(state, false);
}

static int teardown(void **state)
{
	struct t *t = *state;

	lg_hw_free(t->hw);
	free(t);
	return 0;
}

static struct epcm_entry *epcm(struct t *t, void *page)
{
	struct epc_ref ref;

	assert_true(epc_resolve(t->hw, page, false, &ref));
	assert_non_null(ref.e);
	return ref.e;
}

static void *dyn_epc(struct t *t, unsigned int i)
{
	return fx_epc_page(t->hw, DYN_EPC + i);
}

static uint64_t dyn_la(unsigned int i)
{
	return ef_la(DYN_LA + i);
}

static int eaug_at(struct t *t, void *epc, uint64_t la, void *secs)
{
	struct sgx_pageinfo pi = {.addr = la, .secs = (uintptr_t)secs};

	return encls_eaug(t->hw, &pi, epc);
}

/* EAUG dynamic page @i and map it, as the kernel's fault handler would. */
static void eaug(struct t *t, unsigned int i)
{
	assert_int_equal(eaug_at(t, dyn_epc(t, i), dyn_la(i), t->e.secs), SGX_SUCCESS);
	t->map[DYN_LA + i] = dyn_epc(t, i);
	t->prot[DYN_LA + i] = HW_MMU_READ | HW_MMU_WRITE | HW_MMU_EXEC;
}

static int emodpr(struct t *t, void *epc, uint64_t flags)
{
	struct sgx_secinfo si = {.flags = flags};

	return encls_emodpr(t->hw, &si, epc);
}

static int emodt(struct t *t, void *epc, uint64_t flags)
{
	struct sgx_secinfo si = {.flags = flags};

	return encls_emodt(t->hw, &si, epc);
}

/* An enclave at UNINIT_EPC that has not been through EINIT. */
static void build_uninit(struct t *t, struct ef_enclave *uninit)
{
	struct ef_params p;

	ef_params_default(&p);
	p.no_einit = true;
	ef_build(uninit, t->hw, UNINIT_EPC, &p);
}

/*
 * The operands of EMODPR or EMODT (@leaf, SECINFO @si with its flags set):
 * SECINFO not 64-byte aligned or the page not 4 KiB aligned is #GP, a page
 * outside the EPC (@not_epc) #PF.
 */
static void secinfo_operand_faults(struct t *t,
				   int (*leaf)(struct sgx_hw *, const struct sgx_secinfo *, void *),
				   struct sgx_secinfo *si, void *page, void *not_epc)
{
	assert_int_equal(leaf(t->hw, (struct sgx_secinfo *)((uint8_t *)si + 32), page), GP);
	assert_int_equal(leaf(t->hw, si, (uint8_t *)page + 64), GP);
	assert_int_equal(leaf(t->hw, si, not_epc), PF);
}

static uint64_t si_la(void)
{
	return ef_la(EF_DATA) + SI_OFF;
}

/* Write the SECINFO operand as the enclave would. */
static void put_secinfo(struct t *t, uint64_t flags)
{
	struct sgx_secinfo *si = (struct sgx_secinfo *)((uint8_t *)t->e.page[EF_DATA] + SI_OFF);

	memset(si, 0, sizeof(*si));
	si->flags = flags;
}

static void enter(struct t *t)
{
	ef_enter(&t->e, &t->lp, &t->regs);
}

static void leave(struct t *t)
{
	ef_exit(&t->e, &t->lp, &t->regs);
}

/* ENCLU @leaf with RBX = the SECINFO, RCX = @la, RDX = @src; through enclu(). */
static int enclu_leaf(struct t *t, uint64_t leaf, uint64_t flags, uint64_t la, uint64_t src)
{
	put_secinfo(t, flags);
	t->regs.rax = leaf;
	t->regs.rbx = si_la();
	t->regs.rcx = la;
	t->regs.rdx = src;
	t->regs.rip = FX_BASE + EF_OENTRY + 0x20;
	t->regs.rflags = 0x202 | X86_EFLAGS_CF | X86_EFLAGS_OF;
	return enclu(t->hw, &t->lp, &t->mmu, &t->regs);
}

static int eaccept(struct t *t, uint64_t la, uint64_t flags)
{
	return enclu_leaf(t, SGX_EACCEPT, flags, la, 0);
}

/* A leaf that reports a code: RAX, ZF, the cleared flags and RIP as the SDM says. */
static void assert_result(struct t *t, int ret, int code)
{
	assert_int_equal(ret, code);
	assert_int_equal(t->regs.rax, (uint64_t)code);
	assert_int_equal(!!(t->regs.rflags & X86_EFLAGS_ZF), code != 0);
	assert_int_equal(t->regs.rflags & (X86_EFLAGS_CF | X86_EFLAGS_OF), 0);
	assert_int_equal(t->regs.rip, FX_BASE + EF_OENTRY + 0x20 + SGX_ENCLU_LEN);
}

/* An ENCLU leaf faults with @expected and changes no register and no EPC page. */
static void expect_enclu_fault(struct t *t, int expected, uint64_t leaf, uint64_t flags,
			       uint64_t la, uint64_t src)
{
	struct sgx_cpu_regs *before = malloc(sizeof(*before));
	uint8_t *epc = malloc(SECTION_PAGES * SGX_PAGE_SIZE);
	int ret;

	assert_non_null(before);
	assert_non_null(epc);
	put_secinfo(t, flags);
	t->regs.rax = leaf;
	t->regs.rbx = si_la();
	t->regs.rcx = la;
	t->regs.rdx = src;
	t->regs.rip = FX_BASE + EF_OENTRY + 0x20;
	memcpy(before, &t->regs, sizeof(*before));
	memcpy(epc, fx_epc_page(t->hw, 0), SECTION_PAGES * SGX_PAGE_SIZE);
	ret = enclu(t->hw, &t->lp, &t->mmu, &t->regs);
	assert_int_equal(ret, expected);
	assert_memory_equal(before, &t->regs, sizeof(*before));
	assert_memory_equal(epc, fx_epc_page(t->hw, 0), SECTION_PAGES * SGX_PAGE_SIZE);
	free(before);
	free(epc);
}

/* ---- platform without SGX2 ---- */

static void test_sgx1_leaves_gp(void **state)
{
	struct t *t = *state;
	void *data = t->e.page[EF_DATA];

	assert_false(sgx_hw_config(t->hw)->sgx2);
	assert_int_equal(eaug_at(t, dyn_epc(t, 0), dyn_la(0), t->e.secs), GP);
	assert_false(hw_epc_page_valid(t->hw, dyn_epc(t, 0)));
	assert_int_equal(emodpr(t, data, R), GP);
	assert_int_equal(emodt(t, data, TRIM), GP);
	assert_int_equal(epcm(t, data)->flags, R | W);
	assert_int_equal(epcm(t, data)->type, SGX_PAGE_TYPE_REG);

	enter(t);
	expect_enclu_fault(t, GP, SGX_EACCEPT, REG | R | W | PR, ef_la(EF_DATA), 0);
	expect_enclu_fault(t, GP, SGX_EMODPE, REG | R | W | X, ef_la(EF_DATA), 0);
	expect_enclu_fault(t, GP, SGX_EACCEPTCOPY, REG | R | W, ef_la(EF_DATA), ef_la(EF_RODATA));
	assert_int_equal(t->lp.fault_errcode, 0);
	leave(t);
}

/* With SGX2 the ENCLU leaves still belong inside an enclave. */
static void test_enclu_leaves_outside_gp(void **state)
{
	struct t *t = *state;

	ef_regs_outside(&t->regs, SGX_EACCEPT);
	expect_enclu_fault(t, GP, SGX_EACCEPT, REG | R | W | PR, ef_la(EF_DATA), 0);
	expect_enclu_fault(t, GP, SGX_EMODPE, REG | R | W, ef_la(EF_DATA), 0);
	expect_enclu_fault(t, GP, SGX_EACCEPTCOPY, REG | R | W, ef_la(EF_DATA), ef_la(EF_RODATA));
	/* Direct calls too, not only through the dispatcher. */
	assert_int_equal(enclu_eaccept(t->hw, &t->lp, &t->mmu, &t->regs), GP);
	assert_int_equal(enclu_emodpe(t->hw, &t->lp, &t->mmu, &t->regs), GP);
	assert_int_equal(enclu_eacceptcopy(t->hw, &t->lp, &t->mmu, &t->regs), GP);
}

/* ---- EAUG ---- */

static void test_eaug(void **state)
{
	struct t *t = *state;
	uint64_t children = atomic_load(&epcm(t, t->e.secs)->child_cnt);
	uint8_t *page = dyn_epc(t, 0);
	struct epcm_entry *e;

	memset(page, 0xEE, SGX_PAGE_SIZE); /* stale contents EAUG must clear */
	eaug(t, 0);
	e = epcm(t, page);
	assert_true(e->valid);
	assert_int_equal(e->type, SGX_PAGE_TYPE_REG);
	assert_int_equal(e->flags, R | W | PENDING);
	assert_int_equal(e->linaddr, dyn_la(0));
	assert_int_equal(e->blocked, 0);
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++)
		assert_int_equal(page[i], 0);
	assert_int_equal(atomic_load(&epcm(t, t->e.secs)->child_cnt), children + 1);
	/* Not usable by enclave code until accepted. */
	assert_false(hw_epcm_accessible(t->hw, page, HW_MMU_READ));

	/* The last page of ELRANGE is as good as the first. */
	assert_int_equal(eaug_at(t, dyn_epc(t, 1), FX_BASE + FX_SIZE - SGX_PAGE_SIZE, t->e.secs),
			 SGX_SUCCESS);
}

static void test_eaug_faults(void **state)
{
	struct t *t = *state;
	uint8_t *target = dyn_epc(t, 0);
	uint8_t *heap = fx_page_buf(0);
	struct sgx_pageinfo *pi = aligned_alloc(64, 2 * sizeof(*pi));
	struct ef_enclave uninit;
	uint64_t la = dyn_la(0);

	assert_non_null(pi);
	memset(pi, 0, 2 * sizeof(*pi));
	/* PAGEINFO not 32-byte aligned. */
	memcpy((uint8_t *)pi + 16, &(struct sgx_pageinfo){.addr = la, .secs = (uintptr_t)t->e.secs},
	       sizeof(*pi));
	assert_int_equal(encls_eaug(t->hw, (struct sgx_pageinfo *)((uint8_t *)pi + 16), target),
			 GP);
	/* Target misaligned, not EPC. */
	assert_int_equal(eaug_at(t, target + 64, la, t->e.secs), GP);
	assert_int_equal(eaug_at(t, heap, la, t->e.secs), PF);
	/* SECS or LINADDR misaligned. */
	assert_int_equal(eaug_at(t, target, la, (uint8_t *)t->e.secs + 8), GP);
	assert_int_equal(eaug_at(t, target, la + 8, t->e.secs), GP);
	/* SRCPGE and SECINFO must be zero. */
	pi[0] = (struct sgx_pageinfo){
		.addr = la, .secs = (uintptr_t)t->e.secs, .contents = (uintptr_t)heap};
	assert_int_equal(encls_eaug(t->hw, &pi[0], target), GP);
	pi[0].contents = 0;
	pi[0].metadata = (uintptr_t)heap;
	assert_int_equal(encls_eaug(t->hw, &pi[0], target), GP);
	/* SECS not EPC; not a SECS; the target as its own SECS. */
	assert_int_equal(eaug_at(t, target, la, heap), PF);
	assert_int_equal(eaug_at(t, target, la, t->e.page[EF_DATA]), PF);
	assert_int_equal(eaug_at(t, target, la, dyn_epc(t, 1)), PF);
	assert_int_equal(eaug_at(t, target, la, target), PF);
	/* Target already valid. */
	assert_int_equal(eaug_at(t, t->e.page[EF_DATA], la, t->e.secs), PF);
	/* LINADDR outside ELRANGE, either side. */
	assert_int_equal(eaug_at(t, target, FX_BASE + FX_SIZE, t->e.secs), GP);
	assert_int_equal(eaug_at(t, target, FX_BASE - SGX_PAGE_SIZE, t->e.secs), GP);
	/* Locks: the target held by another leaf, the SECS held exclusively. */
	assert_true(epcm_trylock_shared(epcm(t, target)));
	assert_int_equal(eaug_at(t, target, la, t->e.secs), GP);
	epcm_unlock_shared(epcm(t, target));
	assert_true(epcm_trylock_excl(epcm(t, t->e.secs)));
	assert_int_equal(eaug_at(t, target, la, t->e.secs), GP);
	epcm_unlock_excl(epcm(t, t->e.secs));
	/* An enclave that has not been through EINIT. */
	build_uninit(t, &uninit);
	assert_int_equal(eaug_at(t, target, la, uninit.secs), GP);

	/* Nothing happened to the target. */
	assert_false(hw_epc_page_valid(t->hw, target));
	assert_int_equal(eaug_at(t, target, la, t->e.secs), SGX_SUCCESS);
	free(heap);
	free(pi);
}

/* ---- EMODPR ---- */

static void test_emodpr(void **state)
{
	struct t *t = *state;
	void *data = t->e.page[EF_DATA];
	struct epcm_entry *e = epcm(t, data);

	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);
	/* R/W/X is a mask: RWX restricts nothing, but PR is set all the same. */
	assert_int_equal(emodpr(t, data, R | W | X), SGX_SUCCESS);
	assert_int_equal(e->flags, R | W | PR);
	assert_int_equal(e->mod_epoch, 1);
	assert_true(e->mod_untracked);
	assert_int_equal(emodpr(t, data, R), SGX_SUCCESS);
	assert_int_equal(e->flags, R | PR);
	/* PR alone does not stop accesses: the narrowed permissions do. */
	assert_true(hw_epcm_accessible(t->hw, data, HW_MMU_READ));
	assert_false(hw_epcm_accessible(t->hw, data, HW_MMU_WRITE));
	/* Type and state bits in SECINFO are not reserved, and ignored. */
	assert_int_equal(emodpr(t, data, TCS | R | PENDING | MODIFIED), SGX_SUCCESS);
	assert_int_equal(e->flags, R | PR);
	assert_int_equal(emodpr(t, data, 0), SGX_SUCCESS);
	assert_int_equal(e->flags, PR);
	assert_int_equal(e->type, SGX_PAGE_TYPE_REG);
}

static void test_emodpr_codes_and_faults(void **state)
{
	struct t *t = *state;
	void *data = t->e.page[EF_DATA];
	uint8_t *heap = fx_page_buf(0);
	struct sgx_secinfo *si = aligned_alloc(64, 2 * sizeof(*si));
	struct ef_enclave uninit;

	assert_non_null(si);
	memset(si, 0, 2 * sizeof(*si));
	/* Alignment of both operands, then "not an EPC page". */
	si[0].flags = R;
	secinfo_operand_faults(t, encls_emodpr, si, data, heap);
	/* Reserved SECINFO bits and bytes; W without R. */
	assert_int_equal(emodpr(t, data, R | 0x40), GP);
	assert_int_equal(emodpr(t, data, R | (1ULL << 16)), GP);
	si[0].reserved[3] = 1;
	assert_int_equal(encls_emodpr(t->hw, si, data), GP);
	assert_int_equal(emodpr(t, data, W), GP);
	/* Invalid page. */
	assert_int_equal(emodpr(t, dyn_epc(t, 0), R), PF);
	/* PENDING (EAUG) and MODIFIED (EMODT) pages are not modifiable... */
	eaug(t, 0);
	assert_int_equal(emodpr(t, dyn_epc(t, 0), R), SGX_PAGE_NOT_MODIFIABLE);
	assert_int_equal(emodt(t, t->e.page[EF_RODATA], TRIM), SGX_SUCCESS);
	assert_int_equal(emodpr(t, t->e.page[EF_RODATA], R), SGX_PAGE_NOT_MODIFIABLE);
	/* ...and a TCS, a SECS or a VA page is no REG page: #PF. */
	assert_int_equal(emodpr(t, t->e.page[EF_TCS], R), PF);
	assert_int_equal(emodpr(t, t->e.secs, R), PF);
	assert_int_equal(encls_epa(t->hw, fx_epc_page(t->hw, VA_EPC)), SGX_SUCCESS);
	assert_int_equal(emodpr(t, fx_epc_page(t->hw, VA_EPC), R), PF);
	/* A page of an enclave that has not been through EINIT. */
	build_uninit(t, &uninit);
	assert_int_equal(emodpr(t, uninit.page[EF_DATA], R), GP);
	assert_int_equal(epcm(t, uninit.page[EF_DATA])->flags, R | W);
	/* The SECS held exclusively (e.g. by ETRACK). */
	assert_true(epcm_trylock_excl(epcm(t, t->e.secs)));
	assert_int_equal(emodpr(t, data, R), GP);
	epcm_unlock_excl(epcm(t, t->e.secs));

	assert_int_equal(epcm(t, data)->flags, R | W);
	free(heap);
	free(si);
}

/* ---- EMODT ---- */

static void test_emodt(void **state)
{
	struct t *t = *state;
	void *data = t->e.page[EF_DATA], *rodata = t->e.page[EF_RODATA];
	void *tcs = t->e.page[EF_TCS];

	/* R/W/X in SECINFO are ignored: the page loses all its permissions. */
	assert_int_equal(emodt(t, data, TRIM | R | W | X), SGX_SUCCESS);
	assert_int_equal(epcm(t, data)->type, SGX_PAGE_TYPE_TRIM);
	assert_int_equal(epcm(t, data)->flags, MODIFIED);
	assert_true(epcm(t, data)->mod_untracked);
	assert_false(hw_epcm_accessible(t->hw, data, HW_MMU_READ));

	/* PR goes: EMODT supersedes a pending restriction. */
	assert_int_equal(emodpr(t, rodata, R), SGX_SUCCESS);
	assert_int_equal(emodt(t, rodata, TCS), SGX_SUCCESS);
	assert_int_equal(epcm(t, rodata)->type, SGX_PAGE_TYPE_TCS);
	assert_int_equal(epcm(t, rodata)->flags, MODIFIED);

	/* A TCS may become TRIM. */
	assert_int_equal(emodt(t, tcs, TRIM), SGX_SUCCESS);
	assert_int_equal(epcm(t, tcs)->type, SGX_PAGE_TYPE_TRIM);
}

static void test_emodt_codes_and_faults(void **state)
{
	struct t *t = *state;
	void *data = t->e.page[EF_DATA], *code = t->e.page[EF_CODE];
	uint8_t *heap = fx_page_buf(0);
	struct sgx_secinfo *si = aligned_alloc(64, 2 * sizeof(*si));
	struct ef_enclave uninit;

	assert_non_null(si);
	memset(si, 0, 2 * sizeof(*si));
	si[0].flags = TRIM;
	secinfo_operand_faults(t, encls_emodt, si, data, heap);
	/* Reserved bits and bytes; a type other than TCS or TRIM. */
	assert_int_equal(emodt(t, data, TRIM | 0x80), GP);
	si[0].reserved[55] = 1;
	assert_int_equal(encls_emodt(t->hw, si, data), GP);
	assert_int_equal(emodt(t, data, REG), GP);
	assert_int_equal(emodt(t, data, SGX_SECINFO_SECS), GP);
	assert_int_equal(emodt(t, data, SGX_SECINFO_VA), GP);
	assert_int_equal(emodt(t, data, 7ULL << 8), GP);
	/* Invalid page. */
	assert_int_equal(emodt(t, dyn_epc(t, 0), TRIM), PF);
	/* Type before state: TCS to TCS, TRIM to anything, SECS are #PF. */
	assert_int_equal(emodt(t, t->e.page[EF_TCS], TCS), PF);
	assert_int_equal(emodt(t, t->e.secs, TRIM), PF);
	assert_int_equal(emodt(t, code, TRIM), SGX_SUCCESS);
	assert_int_equal(emodt(t, code, TRIM), PF);
	assert_int_equal(emodt(t, code, TCS), PF);
	/* State: a PENDING page, a MODIFIED TCS. */
	eaug(t, 0);
	assert_int_equal(emodt(t, dyn_epc(t, 0), TRIM), SGX_PAGE_NOT_MODIFIABLE);
	assert_int_equal(emodt(t, data, TCS), SGX_SUCCESS);
	assert_int_equal(emodt(t, data, TRIM), SGX_PAGE_NOT_MODIFIABLE);
	assert_int_equal(epcm(t, data)->type, SGX_PAGE_TYPE_TCS);
	/* Uninitialized enclave; SECS held exclusively. */
	build_uninit(t, &uninit);
	assert_int_equal(emodt(t, uninit.page[EF_DATA], TRIM), GP);
	assert_int_equal(epcm(t, uninit.page[EF_DATA])->type, SGX_PAGE_TYPE_REG);
	assert_true(epcm_trylock_excl(epcm(t, t->e.secs)));
	assert_int_equal(emodt(t, t->e.page[EF_RODATA], TRIM), GP);
	epcm_unlock_excl(epcm(t, t->e.secs));
	assert_int_equal(epcm(t, t->e.page[EF_RODATA])->type, SGX_PAGE_TYPE_REG);
	free(heap);
	free(si);
}

/* ---- concurrency: the SDM's answers to a page in use ---- */

static void test_page_in_use(void **state)
{
	struct t *t = *state;
	void *data = t->e.page[EF_DATA];
	struct epcm_entry *e = epcm(t, data);

	/* An SGX1 leaf (EWB, ELDU, EBLOCK...) holds the page. */
	assert_true(epcm_trylock_excl(e));
	assert_int_equal(emodpr(t, data, R), GP);
	assert_int_equal(emodt(t, data, TRIM), SGX_EPC_PAGE_CONFLICT);
	epcm_unlock_excl(e);

	/* Another SGX2 leaf (an EACCEPT, say) holds it. */
	assert_true(epcm_trylock_shared(e));
	assert_true(epcm_sgx2_trylock(e));
	assert_int_equal(emodpr(t, data, R), SGX_EPC_PAGE_CONFLICT);
	assert_int_equal(emodt(t, data, TRIM), SGX_EPC_PAGE_CONFLICT);
	enter(t);
	expect_enclu_fault(t, GP, SGX_EMODPE, REG | X, ef_la(EF_DATA), 0);
	expect_enclu_fault(t, GP, SGX_EACCEPT, REG | R | W | PR, ef_la(EF_DATA), 0);
	epcm_sgx2_unlock(e);
	epcm_unlock_shared(e);
	assert_int_equal(e->flags, R | W);

	/* An SGX1 leaf holds the page: EACCEPT is #GP too. */
	assert_int_equal(emodpr(t, data, R), SGX_SUCCESS);
	assert_true(epcm_trylock_excl(e));
	expect_enclu_fault(t, GP, SGX_EACCEPT, REG | R | PR, ef_la(EF_DATA), 0);
	epcm_unlock_excl(e);
	leave(t);
	/* All locks are free again. */
	assert_int_equal(atomic_load(&e->lock), 0);
	assert_int_equal(atomic_load(&e->sgx2_busy), 0);
}

/* ---- EACCEPT ---- */

static void test_eaccept_eaug(void **state)
{
	struct t *t = *state;
	void *page = dyn_epc(t, 0);

	eaug(t, 0);
	enter(t);
	assert_result(t, eaccept(t, dyn_la(0), REG | R | W | PENDING), SGX_SUCCESS);
	assert_int_equal(epcm(t, page)->flags, R | W);
	assert_true(hw_epcm_accessible(t->hw, page, HW_MMU_READ | HW_MMU_WRITE));
	assert_false(hw_epcm_accessible(t->hw, page, HW_MMU_EXEC));
	/* Once more: the page is no longer PENDING. */
	assert_result(t, eaccept(t, dyn_la(0), REG | R | W | PENDING),
		      SGX_PAGE_ATTRIBUTES_MISMATCH);
	leave(t);
}

static void test_eaccept_mismatch(void **state)
{
	struct t *t = *state;
	void *page = dyn_epc(t, 0);

	eaug(t, 0);
	enter(t);
	/* Each attribute that must match: R, W, X, PENDING, MODIFIED... */
	assert_result(t, eaccept(t, dyn_la(0), REG | R | PENDING), SGX_PAGE_ATTRIBUTES_MISMATCH);
	assert_result(t, eaccept(t, dyn_la(0), REG | W | PENDING), SGX_PAGE_ATTRIBUTES_MISMATCH);
	assert_result(t, eaccept(t, dyn_la(0), REG | R | W | X | PENDING),
		      SGX_PAGE_ATTRIBUTES_MISMATCH);
	assert_result(t, eaccept(t, dyn_la(0), REG | R | W | PR), SGX_PAGE_ATTRIBUTES_MISMATCH);
	/* ...the type... */
	assert_result(t, eaccept(t, dyn_la(0), TRIM | MODIFIED), SGX_PAGE_ATTRIBUTES_MISMATCH);
	assert_result(t, eaccept(t, dyn_la(0), TCS | MODIFIED), SGX_PAGE_ATTRIBUTES_MISMATCH);
	/* ...and the linear address (the page mapped at another address). */
	t->map[DYN_LA + 1] = page;
	t->prot[DYN_LA + 1] = HW_MMU_READ;
	assert_result(t, eaccept(t, dyn_la(1), REG | R | W | PENDING),
		      SGX_PAGE_ATTRIBUTES_MISMATCH);
	assert_int_equal(epcm(t, page)->flags, R | W | PENDING);
	/* PR is not compared: PENDING|PR on a PENDING page is accepted. */
	assert_result(t, eaccept(t, dyn_la(0), REG | R | W | PENDING | PR), SGX_SUCCESS);
	assert_int_equal(epcm(t, page)->flags, R | W);
	leave(t);
}

static void test_eaccept_faults(void **state)
{
	struct t *t = *state;
	uint64_t la = dyn_la(0);
	const uint64_t ok = REG | R | W | PENDING;
	void *page = dyn_epc(t, 0);

	eaug(t, 0);
	eaug(t, 1);
	enter(t);
	/* SECINFO: alignment, ELRANGE, mapping, EPCM (a pending page), reserved bits. */
	put_secinfo(t, ok);
	t->regs.rax = SGX_EACCEPT;
	t->regs.rbx = si_la() + 32;
	t->regs.rcx = la;
	assert_int_equal(enclu(t->hw, &t->lp, &t->mmu, &t->regs), GP);
	t->regs.rbx = FX_BASE + FX_SIZE;
	assert_int_equal(enclu(t->hw, &t->lp, &t->mmu, &t->regs), GP);
	t->regs.rbx = ef_la(EF_UNMAPPED);
	assert_int_equal(enclu(t->hw, &t->lp, &t->mmu, &t->regs), PF);
	assert_int_equal(t->lp.fault_addr, ef_la(EF_UNMAPPED));
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER);
	t->regs.rbx = dyn_la(1);
	assert_int_equal(enclu(t->hw, &t->lp, &t->mmu, &t->regs), PF);
	assert_int_equal(t->lp.fault_addr, dyn_la(1));
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(false));
	expect_enclu_fault(t, GP, SGX_EACCEPT, ok | 0x40, la, 0);
	expect_enclu_fault(t, GP, SGX_EACCEPT, ok | (1ULL << 20), la, 0);
	/* The page: alignment, ELRANGE, mapping. */
	expect_enclu_fault(t, GP, SGX_EACCEPT, ok, la + 8, 0);
	expect_enclu_fault(t, GP, SGX_EACCEPT, ok, FX_BASE - SGX_PAGE_SIZE, 0);
	expect_enclu_fault(t, PF, SGX_EACCEPT, ok, dyn_la(5), 0);
	assert_int_equal(t->lp.fault_addr, dyn_la(5));
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER);
	/* Illegal requests. */
	expect_enclu_fault(t, GP, SGX_EACCEPT, REG | R | W, la, 0);
	expect_enclu_fault(t, GP, SGX_EACCEPT, REG | R | W | PENDING | MODIFIED, la, 0);
	expect_enclu_fault(t, GP, SGX_EACCEPT, TRIM, la, 0);
	expect_enclu_fault(t, GP, SGX_EACCEPT, TRIM | MODIFIED | PENDING, la, 0);
	expect_enclu_fault(t, GP, SGX_EACCEPT, TCS | MODIFIED | PR, la, 0);
	expect_enclu_fault(t, GP, SGX_EACCEPT, SGX_SECINFO_SECS | MODIFIED, la, 0);
	expect_enclu_fault(t, GP, SGX_EACCEPT, SGX_SECINFO_VA | PENDING, la, 0);
	/* EPCM of the page: not EPC behind the mapping, invalid, blocked, other type. */
	t->map[DYN_LA + 6] = t->e.secs;
	t->prot[DYN_LA + 6] = HW_MMU_READ;
	expect_enclu_fault(t, PF, SGX_EACCEPT, ok, dyn_la(6), 0);
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(false));
	t->map[DYN_LA + 6] = dyn_epc(t, 6);
	expect_enclu_fault(t, PF, SGX_EACCEPT, ok, dyn_la(6), 0);
	assert_int_equal(encls_eblock(t->hw, page), SGX_SUCCESS);
	expect_enclu_fault(t, PF, SGX_EACCEPT, ok, la, 0);
	epcm(t, page)->blocked = 0; /* as ELDU of the page would leave it */
	/* The page in use by another leaf. */
	assert_true(epcm_trylock_excl(epcm(t, page)));
	expect_enclu_fault(t, GP, SGX_EACCEPT, ok, la, 0);
	epcm_unlock_excl(epcm(t, page));
	assert_result(t, eaccept(t, la, ok), SGX_SUCCESS);
	leave(t);
}

/* A page of another enclave is #PF, even mapped into this one's ELRANGE. */
static void test_eaccept_other_enclave(void **state)
{
	struct t *t = *state;
	struct ef_enclave other;
	struct ef_params p;

	ef_params_default(&p);
	p.code_byte = 0x90;
	ef_build(&other, t->hw, UNINIT_EPC, &p);
	assert_int_equal(eaug_at(t, dyn_epc(t, 0), dyn_la(0), other.secs), SGX_SUCCESS);
	t->map[DYN_LA] = dyn_epc(t, 0);
	t->prot[DYN_LA] = HW_MMU_READ | HW_MMU_WRITE;
	enter(t);
	expect_enclu_fault(t, PF, SGX_EACCEPT, REG | R | W | PENDING, dyn_la(0), 0);
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(false));
	leave(t);
}

/*
 * The epoch rule: after EMODPR or EMODT, EACCEPT says NOT_TRACKED until an
 * ETRACK begun after the change has seen every thread then inside leave.
 */
static void test_eaccept_epoch(void **state)
{
	struct t *t = *state;
	void *data = t->e.page[EF_DATA], *rodata = t->e.page[EF_RODATA];

	enter(t);
	assert_int_equal(emodt(t, rodata, TRIM), SGX_SUCCESS);
	/* No ETRACK yet. */
	assert_result(t, eaccept(t, ef_la(EF_RODATA), TRIM | MODIFIED), SGX_NOT_TRACKED);
	/* An ETRACK that counts this thread, still inside. */
	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);
	assert_result(t, eaccept(t, ef_la(EF_RODATA), TRIM | MODIFIED), SGX_NOT_TRACKED);
	assert_int_equal(epcm(t, rodata)->flags, MODIFIED);
	/* The thread leaves (EEXIT, or an AEX) and comes back: tracking done. */
	leave(t);
	enter(t);
	assert_result(t, eaccept(t, ef_la(EF_RODATA), TRIM | MODIFIED), SGX_SUCCESS);
	assert_int_equal(epcm(t, rodata)->flags, 0);
	assert_false(epcm(t, rodata)->mod_untracked);

	/* A change after that ETRACK needs a new one, even with the old one done. */
	assert_int_equal(emodpr(t, data, R), SGX_SUCCESS);
	assert_result(t, eaccept(t, ef_la(EF_DATA), REG | R | PR), SGX_NOT_TRACKED);
	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, &t->regs, 32, 0, 0), SGX_SUCCESS);
	/* ETRACK with no thread inside completes at once. */
	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);
	assert_int_equal(enclu_eresume(t->hw, &t->lp, &t->e.mmu, &t->regs), SGX_SUCCESS);
	/* Mismatch comes before tracking. */
	assert_result(t, eaccept(t, ef_la(EF_DATA), REG | R | W | PR),
		      SGX_PAGE_ATTRIBUTES_MISMATCH);
	assert_result(t, eaccept(t, ef_la(EF_DATA), REG | R | PR), SGX_SUCCESS);
	assert_int_equal(epcm(t, data)->flags, R);
	leave(t);
}

/* ---- a TCS made at run time ---- */

static void write_tcs(struct sgx_tcs *tcs, uint64_t ssa_offset)
{
	memset(tcs, 0, sizeof(*tcs));
	tcs->ssa_offset = ssa_offset;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = EF_OENTRY;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
}

struct tcs_case {
	size_t off;
	uint64_t value;
	size_t len;
};

static void test_eaccept_tcs(void **state)
{
	struct t *t = *state;
	struct sgx_tcs *tcs = dyn_epc(t, 0);
	const struct tcs_case bad[] = {
		{offsetof(struct sgx_tcs, reserved) + 100, 1, 1},
		{offsetof(struct sgx_tcs, flags), SGX_TCS_DBGOPTIN, 8},
		{offsetof(struct sgx_tcs, flags), 2, 8},
		{offsetof(struct sgx_tcs, nr_ssa_frames), 0, 4},
		{offsetof(struct sgx_tcs, ssa_index), 1, 4},
		{offsetof(struct sgx_tcs, exit_addr), 0x1000, 8},
		{offsetof(struct sgx_tcs, state), 1, 8},
	};
	struct sgx_lp lp2;
	struct sgx_cpu_regs *r2 = malloc(sizeof(*r2));

	assert_non_null(r2);
	eaug(t, 0);
	enter(t);
	assert_result(t, eaccept(t, dyn_la(0), REG | R | W | PENDING), SGX_SUCCESS);
	write_tcs(tcs, (EF_SSA + 1) * SGX_PAGE_SIZE); /* the enclave writes its new TCS */
	assert_int_equal(emodt(t, tcs, TCS), SGX_SUCCESS);
	leave(t);
	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);

	/* Not yet accepted: no entry through it. */
	sgx_lp_init(&lp2);
	ef_regs_outside(r2, SGX_EENTER);
	r2->rbx = dyn_la(0);
	assert_int_equal(enclu(t->hw, &lp2, &t->mmu, r2), PF);
	assert_int_equal(lp2.fault_errcode, SGX_PF_ERR(false));

	enter(t);
	/* Each TCS check of EACCEPT. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_tcs(tcs, (EF_SSA + 1) * SGX_PAGE_SIZE);
		memcpy((uint8_t *)tcs + bad[i].off, &bad[i].value, bad[i].len);
		expect_enclu_fault(t, GP, SGX_EACCEPT, TCS | MODIFIED, dyn_la(0), 0);
		assert_int_equal(epcm(t, tcs)->flags, MODIFIED);
	}
	write_tcs(tcs, (EF_SSA + 1) * SGX_PAGE_SIZE);
	assert_result(t, eaccept(t, dyn_la(0), TCS | MODIFIED), SGX_SUCCESS);
	assert_int_equal(epcm(t, tcs)->flags, 0);
	assert_int_equal(epcm(t, tcs)->type, SGX_PAGE_TYPE_TCS);
	leave(t);

	/* A second logical processor enters through the new TCS. */
	ef_regs_outside(r2, SGX_EENTER);
	r2->rbx = dyn_la(0);
	assert_int_equal(enclu(t->hw, &lp2, &t->mmu, r2), SGX_SUCCESS);
	assert_true(lp2.inside);
	assert_int_equal(r2->rip, FX_BASE + EF_OENTRY);
	r2->rax = SGX_EEXIT;
	r2->rbx = EF_EXIT_TARGET;
	assert_int_equal(enclu(t->hw, &lp2, &t->mmu, r2), SGX_SUCCESS);
	free(r2);
}

/*
 * A second TCS made at run time in dynamic page @i, with its SSA frame in
 * dynamic page @i + 1, as an SDK adds a thread: EAUG both, EACCEPT, write
 * the TCS, EMODT, ETRACK, EACCEPT. Called with the fixture thread outside.
 */
static void runtime_tcs(struct t *t, unsigned int i)
{
	eaug(t, i);
	eaug(t, i + 1);
	enter(t);
	assert_result(t, eaccept(t, dyn_la(i), REG | R | W | PENDING), SGX_SUCCESS);
	assert_result(t, eaccept(t, dyn_la(i + 1), REG | R | W | PENDING), SGX_SUCCESS);
	write_tcs(dyn_epc(t, i), (DYN_LA + i + 1) * SGX_PAGE_SIZE);
	leave(t);
	assert_int_equal(emodt(t, dyn_epc(t, i), TCS), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);
	enter(t);
	assert_result(t, eaccept(t, dyn_la(i), TCS | MODIFIED), SGX_SUCCESS);
	leave(t);
}

/*
 * Two threads: EACCEPT waits for every thread the ETRACK counted, also one
 * that entered after the change; one that enters after the ETRACK does not
 * hold it up.
 */
static void test_eaccept_epoch_two_threads(void **state)
{
	struct t *t = *state;
	struct sgx_lp lp2;
	struct sgx_cpu_regs *r2 = malloc(sizeof(*r2));

	assert_non_null(r2);
	runtime_tcs(t, 2);
	sgx_lp_init(&lp2);
	assert_int_equal(emodpr(t, t->e.page[EF_CODE], R), SGX_SUCCESS);
	enter(t);
	ef_regs_outside(r2, SGX_EENTER);
	r2->rbx = dyn_la(2);
	assert_int_equal(enclu(t->hw, &lp2, &t->mmu, r2), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);
	assert_int_equal(atomic_load(&epcm(t, t->e.secs)->trk_pending), 2);
	leave(t);
	enter(t);
	/* The other thread is still inside. */
	assert_result(t, eaccept(t, ef_la(EF_CODE), REG | R | PR), SGX_NOT_TRACKED);
	r2->rax = SGX_EEXIT;
	r2->rbx = EF_EXIT_TARGET;
	assert_int_equal(enclu(t->hw, &lp2, &t->mmu, r2), SGX_SUCCESS);
	/* Back in, after the ETRACK: not waited for. */
	ef_regs_outside(r2, SGX_EENTER);
	r2->rbx = dyn_la(2);
	assert_int_equal(enclu(t->hw, &lp2, &t->mmu, r2), SGX_SUCCESS);
	assert_result(t, eaccept(t, ef_la(EF_CODE), REG | R | PR), SGX_SUCCESS);
	assert_int_equal(epcm(t, t->e.page[EF_CODE])->flags, R);
	leave(t);
	r2->rax = SGX_EEXIT;
	r2->rbx = EF_EXIT_TARGET;
	assert_int_equal(enclu(t->hw, &lp2, &t->mmu, r2), SGX_SUCCESS);
	free(r2);
}

/* A TCS trimmed while a thread is inside it: the thread still leaves, and is counted out. */
static void test_trim_busy_tcs(void **state)
{
	struct t *t = *state;
	void *tcs = t->e.page[EF_TCS];

	enter(t);
	assert_int_equal(emodt(t, tcs, TRIM), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);
	assert_int_equal(encls_eremove(t->hw, tcs), SGX_ENCLAVE_ACT);
	leave(t);
	assert_int_equal(atomic_load(&epcm(t, t->e.secs)->threads), 0);
	assert_int_equal(atomic_load(&epcm(t, t->e.secs)->trk_pending), 0);
	/* No entry through a TRIM page. */
	ef_regs_outside(&t->regs, SGX_EENTER);
	assert_int_equal(enclu(t->hw, &t->lp, &t->mmu, &t->regs), PF);
	assert_int_equal(encls_eremove(t->hw, tcs), SGX_SUCCESS);
}

/* ---- trimming and removing ---- */

static void test_trim_accept_remove(void **state)
{
	struct t *t = *state;
	void *code = t->e.page[EF_CODE], *rodata = t->e.page[EF_RODATA];
	uint64_t children = atomic_load(&epcm(t, t->e.secs)->child_cnt);

	assert_int_equal(emodt(t, rodata, TRIM), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);
	/* Before EACCEPT, EMODPR says NOT_MODIFIABLE; after, #PF (Linux's REMOVE_PAGES test). */
	assert_int_equal(emodpr(t, rodata, R | W | X), SGX_PAGE_NOT_MODIFIABLE);
	enter(t);
	/* Not accepted yet: EREMOVE waits for the threads, as for any child page. */
	assert_int_equal(encls_eremove(t->hw, rodata), SGX_ENCLAVE_ACT);
	assert_result(t, eaccept(t, ef_la(EF_RODATA), TRIM | MODIFIED), SGX_SUCCESS);
	assert_int_equal(emodpr(t, rodata, R | W | X), PF);
	/* A trimmed page is never accessible, accepted or not. */
	assert_false(hw_epcm_accessible(t->hw, rodata, HW_MMU_READ));
	/* Accepted: EREMOVE takes it with the thread still inside (SDM EREMOVE). */
	assert_int_equal(encls_eremove(t->hw, rodata), SGX_SUCCESS);
	leave(t);
	assert_false(hw_epc_page_valid(t->hw, rodata));
	assert_int_equal(atomic_load(&epcm(t, t->e.secs)->child_cnt), children - 1);

	/* A pending page goes as well, and a trimmed one not yet accepted. */
	eaug(t, 0);
	assert_int_equal(encls_eremove(t->hw, dyn_epc(t, 0)), SGX_SUCCESS);
	assert_int_equal(emodt(t, code, TRIM), SGX_SUCCESS);
	assert_int_equal(encls_eremove(t->hw, code), SGX_SUCCESS);
	assert_int_equal(atomic_load(&epcm(t, t->e.secs)->child_cnt), children - 2);

	/* The freed page and its linear address can be used again. */
	assert_int_equal(eaug_at(t, rodata, ef_la(EF_RODATA), t->e.secs), SGX_SUCCESS);
	t->map[EF_RODATA] = rodata;
	enter(t);
	assert_result(t, eaccept(t, ef_la(EF_RODATA), REG | R | W | PENDING), SGX_SUCCESS);
	leave(t);
}

/* ---- EACCEPTCOPY ---- */

static void test_eacceptcopy(void **state)
{
	struct t *t = *state;
	uint8_t *dst = dyn_epc(t, 0);

	eaug(t, 0);
	enter(t);
	assert_result(t, enclu_leaf(t, SGX_EACCEPTCOPY, REG | R | X, dyn_la(0), ef_la(EF_RODATA)),
		      SGX_SUCCESS);
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++)
		assert_int_equal(dst[i], 0x5A);
	assert_int_equal(epcm(t, dst)->flags, R | X);
	assert_true(hw_epcm_accessible(t->hw, dst, HW_MMU_EXEC));
	assert_false(hw_epcm_accessible(t->hw, dst, HW_MMU_WRITE));
	/* Done once: the page is no longer pending. */
	assert_result(t, enclu_leaf(t, SGX_EACCEPTCOPY, REG | R, dyn_la(0), ef_la(EF_RODATA)),
		      SGX_PAGE_ATTRIBUTES_MISMATCH);
	assert_int_equal(epcm(t, dst)->flags, R | X);
	/* Permissions may also be none at all. */
	eaug(t, 1);
	assert_result(t, enclu_leaf(t, SGX_EACCEPTCOPY, REG, dyn_la(1), ef_la(EF_DATA)),
		      SGX_SUCCESS);
	assert_int_equal(epcm(t, dyn_epc(t, 1))->flags, 0);
	leave(t);
}

static void test_eacceptcopy_codes_and_faults(void **state)
{
	struct t *t = *state;
	const uint64_t src = ef_la(EF_RODATA), ok = REG | R | W;

	eaug(t, 0);
	eaug(t, 1);
	enter(t);
	/* Alignment and ELRANGE of the three operands. */
	expect_enclu_fault(t, GP, SGX_EACCEPTCOPY, ok, dyn_la(0) + 8, src);
	expect_enclu_fault(t, GP, SGX_EACCEPTCOPY, ok, dyn_la(0), src + 8);
	expect_enclu_fault(t, GP, SGX_EACCEPTCOPY, ok, FX_BASE + FX_SIZE, src);
	expect_enclu_fault(t, GP, SGX_EACCEPTCOPY, ok, dyn_la(0), FX_BASE - SGX_PAGE_SIZE);
	/* Unmapped destination or source. */
	expect_enclu_fault(t, PF, SGX_EACCEPTCOPY, ok, dyn_la(5), src);
	assert_int_equal(t->lp.fault_addr, dyn_la(5));
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER | X86_PF_WRITE);
	expect_enclu_fault(t, PF, SGX_EACCEPTCOPY, ok, dyn_la(0), dyn_la(5));
	/* SECINFO: reserved, W without R, not REG. */
	expect_enclu_fault(t, GP, SGX_EACCEPTCOPY, ok | 0x40, dyn_la(0), src);
	expect_enclu_fault(t, GP, SGX_EACCEPTCOPY, REG | W, dyn_la(0), src);
	expect_enclu_fault(t, GP, SGX_EACCEPTCOPY, TCS, dyn_la(0), src);
	/* Source: pending, trimmed, not readable. */
	expect_enclu_fault(t, PF, SGX_EACCEPTCOPY, ok, dyn_la(0), dyn_la(1));
	assert_int_equal(t->lp.fault_addr, dyn_la(1));
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(false));
	/* A TCS is no source. */
	expect_enclu_fault(t, PF, SGX_EACCEPTCOPY, ok, dyn_la(0), ef_la(EF_TCS));
	/* Destination not a pending page: a code, not a fault. */
	assert_result(t, enclu_leaf(t, SGX_EACCEPTCOPY, ok, ef_la(EF_RODATA), ef_la(EF_CODE)),
		      SGX_PAGE_ATTRIBUTES_MISMATCH);
	t->map[DYN_LA + 6] = dyn_epc(t, 6); /* an invalid EPC page */
	t->prot[DYN_LA + 6] = HW_MMU_READ | HW_MMU_WRITE;
	assert_result(t, enclu_leaf(t, SGX_EACCEPTCOPY, ok, dyn_la(6), ef_la(EF_CODE)),
		      SGX_PAGE_ATTRIBUTES_MISMATCH);
	/* Pending at the wrong address: found by the re-check under the lock. */
	t->map[DYN_LA + 7] = dyn_epc(t, 0);
	t->prot[DYN_LA + 7] = HW_MMU_READ | HW_MMU_WRITE;
	assert_result(t, enclu_leaf(t, SGX_EACCEPTCOPY, ok, dyn_la(7), ef_la(EF_CODE)),
		      SGX_PAGE_ATTRIBUTES_MISMATCH);
	/* Destination in use. */
	assert_true(epcm_trylock_excl(epcm(t, dyn_epc(t, 0))));
	expect_enclu_fault(t, GP, SGX_EACCEPTCOPY, ok, dyn_la(0), ef_la(EF_CODE));
	epcm_unlock_excl(epcm(t, dyn_epc(t, 0)));
	assert_result(t, enclu_leaf(t, SGX_EACCEPTCOPY, ok, dyn_la(0), ef_la(EF_CODE)),
		      SGX_SUCCESS);
	leave(t);
}

/* ---- EMODPE ---- */

static void test_emodpe(void **state)
{
	struct t *t = *state;
	void *rodata = t->e.page[EF_RODATA];

	enter(t);
	put_secinfo(t, REG | W | X);
	t->regs.rax = SGX_EMODPE;
	t->regs.rbx = si_la();
	t->regs.rcx = ef_la(EF_RODATA);
	t->regs.rip = FX_BASE + 0x100;
	t->regs.rflags = 0x202 | X86_EFLAGS_ZF | X86_EFLAGS_CF;
	assert_int_equal(enclu(t->hw, &t->lp, &t->mmu, &t->regs), SGX_SUCCESS);
	assert_int_equal(epcm(t, rodata)->flags, R | W | X);
	/* No return code: RAX and RFLAGS as they were; RIP past ENCLU. */
	assert_int_equal(t->regs.rax, SGX_EMODPE);
	assert_int_equal(t->regs.rflags, 0x202 | X86_EFLAGS_ZF | X86_EFLAGS_CF);
	assert_int_equal(t->regs.rip, FX_BASE + 0x100 + SGX_ENCLU_LEN);

	/* Extending nothing changes nothing. */
	assert_int_equal(enclu_leaf(t, SGX_EMODPE, REG, ef_la(EF_RODATA), 0), SGX_SUCCESS);
	assert_int_equal(epcm(t, rodata)->flags, R | W | X);
	leave(t);

	/* After a restriction to X only: W alone would make a write-only page. */
	assert_int_equal(emodpr(t, t->e.page[EF_CODE], X), SGX_SUCCESS);
	enter(t);
	/* PR pending does not stop EMODPE. */
	expect_enclu_fault(t, GP, SGX_EMODPE, REG | W, ef_la(EF_CODE), 0);
	assert_int_equal(enclu_leaf(t, SGX_EMODPE, REG | R | W, ef_la(EF_CODE), 0), SGX_SUCCESS);
	assert_int_equal(epcm(t, t->e.page[EF_CODE])->flags, R | W | X | PR);
	leave(t);
}

static void test_emodpe_faults(void **state)
{
	struct t *t = *state;

	eaug(t, 0);
	assert_int_equal(emodt(t, t->e.page[EF_RODATA], TRIM), SGX_SUCCESS);
	enter(t);
	expect_enclu_fault(t, GP, SGX_EMODPE, REG | R, ef_la(EF_CODE) + 8, 0);
	expect_enclu_fault(t, GP, SGX_EMODPE, REG | R, FX_BASE + FX_SIZE, 0);
	expect_enclu_fault(t, GP, SGX_EMODPE, REG | R | (1ULL << 33), ef_la(EF_CODE), 0);
	expect_enclu_fault(t, PF, SGX_EMODPE, REG | R, dyn_la(5), 0);
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER);
	/* Pending, trimmed (modified), TCS: #PF with the SGX bit. */
	expect_enclu_fault(t, PF, SGX_EMODPE, REG | R, dyn_la(0), 0);
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(false));
	expect_enclu_fault(t, PF, SGX_EMODPE, REG | R, ef_la(EF_RODATA), 0);
	expect_enclu_fault(t, PF, SGX_EMODPE, REG | R, ef_la(EF_TCS), 0);
	/* At another linear address than its own. */
	t->map[DYN_LA + 2] = t->e.page[EF_CODE];
	t->prot[DYN_LA + 2] = HW_MMU_READ;
	expect_enclu_fault(t, PF, SGX_EMODPE, REG | R, dyn_la(2), 0);
	/* SECINFO on a trimmed page. */
	t->regs.rax = SGX_EMODPE;
	t->regs.rbx = ef_la(EF_RODATA);
	t->regs.rcx = ef_la(EF_CODE);
	assert_int_equal(enclu(t->hw, &t->lp, &t->mmu, &t->regs), PF);
	assert_int_equal(t->lp.fault_addr, ef_la(EF_RODATA));
	assert_int_equal(epcm(t, t->e.page[EF_CODE])->flags, R | X);
	leave(t);
}

/* ---- EWB/ELDU of every SGX2 state ---- */

struct evicted {
	uint8_t *contents;
	struct sgx_pcmd *pcmd;
	uint64_t linaddr;
};

static void evict(struct t *t, void *page, uint64_t *slot, struct evicted *b)
{
	struct sgx_pageinfo pi;

	b->contents = fx_page_buf(0);
	b->pcmd = aligned_alloc(sizeof(*b->pcmd), sizeof(*b->pcmd));
	assert_non_null(b->pcmd);
	memset(&pi, 0, sizeof(pi));
	pi.contents = (uintptr_t)b->contents;
	pi.metadata = (uintptr_t)b->pcmd;
	assert_int_equal(encls_eblock(t->hw, page), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);
	assert_int_equal(encls_ewb(t->hw, &pi, page, slot), SGX_SUCCESS);
	b->linaddr = pi.addr;
}

static void reload(struct t *t, struct evicted *b, void *dest, uint64_t *slot)
{
	struct sgx_pageinfo pi = {
		.addr = b->linaddr,
		.contents = (uintptr_t)b->contents,
		.metadata = (uintptr_t)b->pcmd,
		.secs = (uintptr_t)t->e.secs,
	};

	assert_int_equal(encls_eldu(t->hw, &pi, dest, slot), SGX_SUCCESS);
	free(b->contents);
	free(b->pcmd);
}

static void test_ewb_eldu_states(void **state)
{
	struct t *t = *state;
	uint64_t *va = fx_epc_page(t->hw, VA_EPC);
	void *data = t->e.page[EF_DATA], *rodata = t->e.page[EF_RODATA];
	void *spare[4];
	struct evicted b[4];

	for (unsigned int i = 0; i < 4; i++)
		spare[i] = fx_epc_page(t->hw, SPARE_EPC + i);
	assert_int_equal(encls_epa(t->hw, va), SGX_SUCCESS);
	eaug(t, 0); /* PENDING */
	memset(dyn_epc(t, 1), 0, SGX_PAGE_SIZE);
	eaug(t, 1);
	enter(t);
	assert_result(t, eaccept(t, dyn_la(1), REG | R | W | PENDING), SGX_SUCCESS);
	leave(t);
	/* Enclave data in a page about to become a TCS. */
	write_tcs(dyn_epc(t, 1), (EF_SSA + 1) * SGX_PAGE_SIZE);
	assert_int_equal(emodt(t, dyn_epc(t, 1), TCS), SGX_SUCCESS); /* TCS, MODIFIED */
	assert_int_equal(emodpr(t, data, R), SGX_SUCCESS);	     /* PR */
	assert_int_equal(emodt(t, rodata, TRIM), SGX_SUCCESS);	     /* TRIM, MODIFIED */

	evict(t, dyn_epc(t, 0), &va[0], &b[0]);
	evict(t, dyn_epc(t, 1), &va[1], &b[1]);
	evict(t, data, &va[2], &b[2]);
	evict(t, rodata, &va[3], &b[3]);
	assert_int_equal(b[0].pcmd->secinfo.flags, REG | R | W | PENDING);
	assert_int_equal(b[1].pcmd->secinfo.flags, TCS | MODIFIED);
	assert_int_equal(b[2].pcmd->secinfo.flags, REG | R | PR);
	assert_int_equal(b[3].pcmd->secinfo.flags, TRIM | MODIFIED);

	for (unsigned int i = 0; i < 4; i++)
		reload(t, &b[i], spare[i], &va[i]);
	assert_int_equal(epcm(t, spare[0])->flags, R | W | PENDING);
	assert_int_equal(epcm(t, spare[1])->type, SGX_PAGE_TYPE_TCS);
	assert_int_equal(epcm(t, spare[1])->flags, MODIFIED);
	assert_int_equal(epcm(t, spare[2])->flags, R | PR);
	assert_int_equal(epcm(t, spare[3])->type, SGX_PAGE_TYPE_TRIM);
	assert_int_equal(epcm(t, spare[3])->flags, MODIFIED);
	/* The eviction's own tracking cycle came after the change. */
	for (unsigned int i = 0; i < 4; i++)
		assert_false(epcm(t, spare[i])->mod_untracked);
	/* Still not modifiable where they were not. */
	assert_int_equal(emodpr(t, spare[0], R), SGX_PAGE_NOT_MODIFIABLE);
	assert_int_equal(emodt(t, spare[3], TRIM), PF);

	/*
	 * Accepted where they now live. The eviction had its tracking cycle
	 * after the change, so no NOT_TRACKED, although no ETRACK ran since.
	 */
	t->map[DYN_LA] = spare[0];
	t->map[DYN_LA + 1] = spare[1];
	t->map[EF_DATA] = spare[2];
	t->map[EF_RODATA] = spare[3];
	t->e.mmu_state.map[EF_DATA] = spare[2];
	t->e.page[EF_DATA] = spare[2]; /* where put_secinfo() writes now */
	enter(t);
	assert_result(t, eaccept(t, dyn_la(0), REG | R | W | PENDING), SGX_SUCCESS);
	assert_result(t, eaccept(t, dyn_la(1), TCS | MODIFIED), SGX_SUCCESS);
	assert_result(t, eaccept(t, ef_la(EF_RODATA), TRIM | MODIFIED), SGX_SUCCESS);
	/* SECINFO is on the PR page itself here: readable, so fine. */
	assert_result(t, eaccept(t, ef_la(EF_DATA), REG | R | PR), SGX_SUCCESS);
	assert_int_equal(epcm(t, spare[2])->flags, R);
	leave(t);
}

/* ---- the kernel model's question ---- */

static void test_epcm_accessible(void **state)
{
	struct t *t = *state;
	uint8_t *heap = fx_page_buf(0);
	const int rwx = HW_MMU_READ | HW_MMU_WRITE | HW_MMU_EXEC;

	assert_true(hw_epcm_accessible(t->hw, t->e.page[EF_DATA], HW_MMU_READ | HW_MMU_WRITE));
	assert_false(hw_epcm_accessible(t->hw, t->e.page[EF_DATA], rwx));
	assert_true(hw_epcm_accessible(t->hw, t->e.page[EF_CODE], HW_MMU_READ | HW_MMU_EXEC));
	assert_false(hw_epcm_accessible(t->hw, t->e.page[EF_RODATA], HW_MMU_WRITE));
	/* Not REG, invalid, not EPC. */
	assert_false(hw_epcm_accessible(t->hw, t->e.page[EF_TCS], HW_MMU_READ));
	assert_false(hw_epcm_accessible(t->hw, t->e.secs, HW_MMU_READ));
	assert_false(hw_epcm_accessible(t->hw, dyn_epc(t, 0), HW_MMU_READ));
	assert_false(hw_epcm_accessible(t->hw, heap, HW_MMU_READ));
	/* Blocked. */
	assert_int_equal(encls_eblock(t->hw, t->e.page[EF_CODE]), SGX_SUCCESS);
	assert_false(hw_epcm_accessible(t->hw, t->e.page[EF_CODE], HW_MMU_READ));
	/* An address inside the page asks about the page. */
	assert_true(hw_epcm_accessible(t->hw, (uint8_t *)t->e.page[EF_DATA] + 123, HW_MMU_READ));
	free(heap);
}

/* ---- from a freshly created thread ---- */

struct thread_arg {
	struct t *t;
	int result;
};

static void *grow_heap(void *p)
{
	struct thread_arg *a = p;
	struct t *t = a->t;
	struct sgx_lp lp;
	struct sgx_cpu_regs *r = malloc(sizeof(*r));

	a->result = -1;
	if (!r)
		return NULL;
	sgx_lp_init(&lp);
	ef_regs_outside(r, SGX_EENTER);
	if (enclu(t->hw, &lp, &t->mmu, r) != SGX_SUCCESS)
		goto out;
	for (unsigned int i = 0; i < NR_DYN; i++) {
		put_secinfo(t, REG | R | W | PENDING);
		r->rax = SGX_EACCEPT;
		r->rbx = si_la();
		r->rcx = dyn_la(i);
		if (enclu(t->hw, &lp, &t->mmu, r) != SGX_SUCCESS || r->rax != SGX_SUCCESS)
			goto out;
	}
	r->rax = SGX_EEXIT;
	r->rbx = EF_EXIT_TARGET;
	a->result = enclu(t->hw, &lp, &t->mmu, r);
out:
	free(r);
	return NULL;
}

static void test_grow_heap_new_thread(void **state)
{
	struct t *t = *state;
	struct thread_arg a = {.t = t};
	pthread_t th;

	for (unsigned int i = 0; i < NR_DYN; i++)
		eaug(t, i);
	assert_int_equal(pthread_create(&th, NULL, grow_heap, &a), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.result, SGX_SUCCESS);
	for (unsigned int i = 0; i < NR_DYN; i++)
		assert_true(hw_epcm_accessible(t->hw, dyn_epc(t, i), HW_MMU_READ | HW_MMU_WRITE));
	assert_int_equal(atomic_load(&epcm(t, t->e.secs)->threads), 0);
}

/* ---- races: the SDM's answers, never a torn EPCM entry ---- */

struct race_arg {
	struct t *t;
	void *page;
	int ok, conflict, other;
};

static void *race_eaug(void *p)
{
	struct race_arg *a = p;
	int ret = eaug_at(a->t, a->page, dyn_la(0), a->t->e.secs);

	if (ret == SGX_SUCCESS)
		a->ok++;
	else if (ret == GP || ret == PF) /* in use, or already valid */
		a->conflict++;
	else
		a->other++;
	return NULL;
}

/* Two EAUGs of one page: one wins, the other is #GP (locked) or #PF (valid). */
static void test_eaug_race(void **state)
{
	struct t *t = *state;

	for (unsigned int round = 0; round < 50; round++) {
		struct race_arg a[2] = {{.t = t, .page = dyn_epc(t, 0)},
					{.t = t, .page = dyn_epc(t, 0)}};
		pthread_t th[2];

		for (unsigned int i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&th[i], NULL, race_eaug, &a[i]), 0);
		for (unsigned int i = 0; i < 2; i++)
			assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(a[0].ok + a[1].ok, 1);
		assert_int_equal(a[0].conflict + a[1].conflict, 1);
		assert_int_equal(a[0].other + a[1].other, 0);
		assert_int_equal(encls_eremove(t->hw, dyn_epc(t, 0)), SGX_SUCCESS);
	}
}

struct modpr_arg {
	struct t *t;
	_Atomic int stop;
	int ok, conflict, other;
};

static void *race_emodpr(void *p)
{
	struct modpr_arg *a = p;

	while (!atomic_load(&a->stop)) {
		int ret = emodpr(a->t, a->t->e.page[EF_CODE], R | X);

		if (ret == SGX_SUCCESS)
			a->ok++;
		else if (ret == SGX_EPC_PAGE_CONFLICT)
			a->conflict++;
		else
			a->other++;
	}
	return NULL;
}

/*
 * EMODPR from the OS while the enclave EACCEPTs the same page: EMODPR
 * answers SUCCESS or EPC_PAGE_CONFLICT, EACCEPT SUCCESS, NOT_TRACKED or
 * #GP (page in use), nothing else.
 */
static void test_emodpr_eaccept_race(void **state)
{
	struct t *t = *state;
	struct modpr_arg a = {.t = t};
	unsigned int accepted = 0;
	pthread_t th;

	enter(t);
	assert_int_equal(pthread_create(&th, NULL, race_emodpr, &a), 0);
	for (unsigned int i = 0; i < 2000; i++) {
		int ret = eaccept(t, ef_la(EF_CODE), REG | R | X | PR);

		if (ret == SGX_SUCCESS)
			accepted++;
		else if (ret != SGX_NOT_TRACKED && ret != GP)
			fail_msg("EACCEPT returned %#x", ret);
	}
	atomic_store(&a.stop, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.other, 0);
	assert_int_equal(epcm(t, t->e.page[EF_CODE])->flags & ~PR, R | X);
	assert_int_equal(atomic_load(&epcm(t, t->e.page[EF_CODE])->lock), 0);
	assert_int_equal(atomic_load(&epcm(t, t->e.page[EF_CODE])->sgx2_busy), 0);
	leave(t);
	(void)accepted; /* 0 is possible: this thread stays inside, so no tracking ends */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sgx1_leaves_gp, setup_sgx1, teardown),
		T(test_enclu_leaves_outside_gp),
		T(test_eaug),
		T(test_eaug_faults),
		T(test_emodpr),
		T(test_emodpr_codes_and_faults),
		T(test_emodt),
		T(test_emodt_codes_and_faults),
		T(test_page_in_use),
		T(test_eaccept_eaug),
		T(test_eaccept_mismatch),
		T(test_eaccept_faults),
		T(test_eaccept_other_enclave),
		T(test_eaccept_epoch),
		T(test_eaccept_epoch_two_threads),
		T(test_eaccept_tcs),
		T(test_trim_busy_tcs),
		T(test_trim_accept_remove),
		T(test_eacceptcopy),
		T(test_eacceptcopy_codes_and_faults),
		T(test_emodpe),
		T(test_emodpe_faults),
		T(test_ewb_eldu_states),
		T(test_epcm_accessible),
		T(test_grow_heap_new_thread),
		T(test_eaug_race),
		T(test_emodpr_eaccept_race),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
