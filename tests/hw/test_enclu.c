// SPDX-License-Identifier: MIT
/*
 * EENTER, EEXIT, the asynchronous enclave exit and ERESUME: the register
 * state each leaves, what lands in the SSA frame, every fault, that a
 * faulting leaf changes nothing, and the bookkeeping shared with the ENCLS
 * leaves (TCS busy, threads inside for EREMOVE, the ETRACK epoch for EWB).
 */
#include <cpuid.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/common/enclu_fixture.h"
#include "hw/hw_internal.h"
#include "tests/common/leak_guard.h"

#define GP		  ENCLS_FAULT(X86_TRAP_GP)
#define PF		  ENCLS_FAULT(X86_TRAP_PF)
#define SGX_PF_ERR(write) (X86_PF_SGX | X86_PF_USER | X86_PF_PROT | ((write) ? X86_PF_WRITE : 0))

#define SECTION_PAGES 64
/* EPC pages 0..EF_EPC_PAGES-1: the enclave; then a second enclave; then spares. */
#define SECOND_ENCLAVE EF_EPC_PAGES
#define VA_PAGE	       (2 * EF_EPC_PAGES)

struct t {
	struct sgx_hw *hw;
	struct ef_enclave e;
	struct sgx_lp lp;
	struct sgx_cpu_regs regs;
};

static int setup_with(void **state, const struct ef_params *p)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->hw = fx_hw_new(1, SECTION_PAGES);
	ef_build(&t->e, t->hw, 0, p);
	sgx_lp_init(&t->lp);
	*state = t;
	return 0;
}

static int setup(void **state)
{
	struct ef_params p;

	ef_params_default(&p);
	return setup_with(state, &p);
}

static int setup_exinfo(void **state)
{
	struct ef_params p;

	ef_params_default(&p);
	p.miscselect = SGX_MISC_EXINFO;
	return setup_with(state, &p);
}

static int teardown(void **state)
{
	struct t *t = *state;

	lg_hw_free(t->hw);
	free(t);
	return 0;
}

static struct sgx_tcs *tcs_of(struct ef_enclave *e)
{
	return e->page[EF_TCS];
}

static struct sgx_ssa_gpr *gpr_of(struct ef_enclave *e, unsigned int frame)
{
	return (struct sgx_ssa_gpr *)((uint8_t *)e->page[EF_SSA + frame] + SGX_PAGE_SIZE -
				      sizeof(struct sgx_ssa_gpr));
}

static struct sgx_ssa_exinfo *exinfo_of(struct ef_enclave *e, unsigned int frame)
{
	return (struct sgx_ssa_exinfo *)gpr_of(e, frame) - 1;
}

static uint8_t *xsave_of(struct ef_enclave *e, unsigned int frame)
{
	return e->page[EF_SSA + frame];
}

static struct epcm_entry *epcm(struct sgx_hw *hw, void *page)
{
	struct epc_ref ref;

	assert_true(epc_resolve(hw, page, false, &ref));
	assert_non_null(ref.e);
	return ref.e;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Distinctive enclave state: what the enclave "computed" before an exception. */
static void enclave_state(struct sgx_cpu_regs *r, const struct sgx_cpu_regs *entered)
{
	uint64_t bv = 0x3;

	r->rax = 0x1111;
	r->rcx = 0x2222;
	r->rdx = 0x3333;
	r->rbx = 0x4444;
	r->rsp = ef_la(EF_DATA) + 0xF00;
	r->rbp = ef_la(EF_DATA) + 0xF80;
	r->rsi = 0x5555;
	r->rdi = 0x6666;
	r->r8 = 8;
	r->r9 = 9;
	r->r10 = 10;
	r->r11 = 11;
	r->r12 = 12;
	r->r13 = 13;
	r->r14 = 14;
	r->r15 = 15;
	r->rip = entered->rip + 0x40;
	r->rflags = 0x202 | X86_EFLAGS_CF | X86_EFLAGS_ZF | X86_EFLAGS_DF | X86_EFLAGS_OF;
	/* x87 and XMM registers with contents, XSTATE_BV saying so. */
	for (unsigned int i = SGX_XSAVE_ST0; i < SGX_XSAVE_XMM_END; i++)
		r->xsave[i] = (uint8_t)(i * 3 + 1);
	r->xsave[SGX_XSAVE_FCW] = 0x7F;
	r->xsave[SGX_XSAVE_FCW + 1] = 0x02;
	memcpy(r->xsave + SGX_XSAVE_HEADER_OFFSET, &bv, sizeof(bv));
}

static void assert_gprs_equal(const struct sgx_cpu_regs *a, const struct sgx_cpu_regs *b)
{
	assert_int_equal(a->rax, b->rax);
	assert_int_equal(a->rcx, b->rcx);
	assert_int_equal(a->rdx, b->rdx);
	assert_int_equal(a->rbx, b->rbx);
	assert_int_equal(a->rsp, b->rsp);
	assert_int_equal(a->rbp, b->rbp);
	assert_int_equal(a->rsi, b->rsi);
	assert_int_equal(a->rdi, b->rdi);
	assert_int_equal(a->r8, b->r8);
	assert_int_equal(a->r9, b->r9);
	assert_int_equal(a->r10, b->r10);
	assert_int_equal(a->r11, b->r11);
	assert_int_equal(a->r12, b->r12);
	assert_int_equal(a->r13, b->r13);
	assert_int_equal(a->r14, b->r14);
	assert_int_equal(a->r15, b->r15);
	assert_int_equal(a->rip, b->rip);
}

/* @call faults with @expected and leaves @regs, the lp's state and the EPC alone. */
#define EXPECT_FAULT(t, expected, call)                                                            \
	do {                                                                                       \
		struct sgx_cpu_regs *before_ = malloc(sizeof(*before_));                           \
		uint8_t *epc_ = malloc(EF_EPC_PAGES * SGX_PAGE_SIZE);                              \
		bool inside_ = (t)->lp.inside;                                                     \
		assert_non_null(before_);                                                          \
		assert_non_null(epc_);                                                             \
		memcpy(before_, &(t)->regs, sizeof(*before_));                                     \
		memcpy(epc_, fx_epc_page((t)->hw, 0), EF_EPC_PAGES *SGX_PAGE_SIZE);                \
		assert_int_equal((call), (expected));                                              \
		assert_memory_equal(before_, &(t)->regs, sizeof(*before_));                        \
		assert_memory_equal(epc_, fx_epc_page((t)->hw, 0), EF_EPC_PAGES *SGX_PAGE_SIZE);   \
		assert_int_equal((t)->lp.inside, inside_);                                         \
		free(before_);                                                                     \
		free(epc_);                                                                        \
	} while (0)

/* ---- EENTER / EEXIT ---- */

static void test_eenter_eexit(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	struct epcm_entry *secs = epcm(t->hw, t->e.secs);
	struct epcm_entry *tcs = epcm(t->hw, t->e.page[EF_TCS]);
	uint8_t xsave_before[SGX_XSAVE_AREA_SIZE];

	ef_regs_outside(r, SGX_EENTER);
	r->rdx = 0xD0;
	r->r12 = 0x12;
	memcpy(xsave_before, r->xsave, sizeof(xsave_before));
	assert_int_equal(enclu_eenter(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);

	assert_int_equal(r->rax, 0); /* CSSA */
	assert_int_equal(r->rbx, ef_la(EF_TCS));
	assert_int_equal(r->rcx, EF_OUTSIDE_RIP + SGX_ENCLU_LEN);
	assert_int_equal(r->rip, FX_BASE + EF_OENTRY);
	assert_int_equal(r->fsbase, FX_BASE + EF_OFSBASE);
	assert_int_equal(r->gsbase, FX_BASE + EF_OGSBASE);
	/* Untouched: stack, other GPRs, flags, extended state. */
	assert_int_equal(r->rsp, EF_OUTSIDE_RSP);
	assert_int_equal(r->rbp, EF_OUTSIDE_RBP);
	assert_int_equal(r->rdx, 0xD0);
	assert_int_equal(r->r12, 0x12);
	assert_int_equal(r->rflags, 0x202);
	assert_memory_equal(r->xsave, xsave_before, sizeof(xsave_before));
	/* The outside stack in the current SSA frame; the AEP in the TCS. */
	assert_int_equal(gpr_of(&t->e, 0)->ursp, EF_OUTSIDE_RSP);
	assert_int_equal(gpr_of(&t->e, 0)->urbp, EF_OUTSIDE_RBP);
	assert_int_equal(tcs_of(&t->e)->exit_addr, EF_AEP);
	assert_int_equal(tcs_of(&t->e)->ssa_index, 0);
	/* The logical processor and the bookkeeping. */
	assert_true(t->lp.inside);
	assert_int_equal(t->lp.tcs_la, ef_la(EF_TCS));
	assert_int_equal(t->lp.aep, EF_AEP);
	assert_int_equal(atomic_load(&tcs->tcs_busy), 1);
	assert_int_equal(atomic_load(&secs->threads), 1);

	/* The enclave runs, switches stacks, and leaves. */
	r->rsp = ef_la(EF_DATA) + 0x800;
	r->rax = SGX_EEXIT;
	r->rbx = EF_EXIT_TARGET;
	r->rip = FX_BASE + EF_OENTRY + 0x20;
	r->rdx = 0xEE;
	assert_int_equal(enclu_eexit(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
	assert_int_equal(r->rip, EF_EXIT_TARGET);
	assert_int_equal(r->rcx, EF_AEP); /* "RCX receives the current AEP" */
	assert_int_equal(r->fsbase, EF_OUTSIDE_FS);
	assert_int_equal(r->gsbase, EF_OUTSIDE_GS);
	/* EEXIT restores no stack and clears no register: the enclave's job. */
	assert_int_equal(r->rsp, ef_la(EF_DATA) + 0x800);
	assert_int_equal(r->rdx, 0xEE);
	assert_false(t->lp.inside);
	assert_int_equal(atomic_load(&tcs->tcs_busy), 0);
	assert_int_equal(atomic_load(&secs->threads), 0);

	/* The TCS is free for the next entry. */
	ef_enter(&t->e, &t->lp, r);
	ef_exit(&t->e, &t->lp, r);
}

/* The dispatcher reaches every leaf and enforces enclave mode. */
static void test_enclu_dispatch(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;

	ef_regs_outside(r, SGX_EENTER | 0xFFFFFFFF00000000ULL); /* upper half ignored */
	assert_int_equal(enclu(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
	assert_true(t->lp.inside);

	/* Inside: EENTER and ERESUME are #GP, unknown and unmodelled leaves too. */
	r->rax = SGX_EENTER;
	r->rbx = ef_la(EF_TCS);
	EXPECT_FAULT(t, GP, enclu(t->hw, &t->lp, &t->e.mmu, r));
	r->rax = SGX_ERESUME;
	EXPECT_FAULT(t, GP, enclu(t->hw, &t->lp, &t->e.mmu, r));
	/*
	 * The SGX2 leaves on a CPU without SGX2 are undefined leaves: #GP.
	 * Only on such a platform; tests/hw/test_sgx2 configures both kinds.
	 */
	if (!sgx_hw_config(t->hw)->sgx2) {
		r->rax = SGX_EACCEPT;
		EXPECT_FAULT(t, GP, enclu(t->hw, &t->lp, &t->e.mmu, r));
		r->rax = SGX_EMODPE;
		EXPECT_FAULT(t, GP, enclu(t->hw, &t->lp, &t->e.mmu, r));
		r->rax = SGX_EACCEPTCOPY;
		EXPECT_FAULT(t, GP, enclu(t->hw, &t->lp, &t->e.mmu, r));
	}
	r->rax = 0x42;
	EXPECT_FAULT(t, GP, enclu(t->hw, &t->lp, &t->e.mmu, r));

	r->rax = SGX_EEXIT;
	r->rbx = EF_EXIT_TARGET;
	assert_int_equal(enclu(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
	assert_false(t->lp.inside);
}

/*
 * EEXIT, EREPORT and EGETKEY outside an enclave. The SDM's ENCLU flow makes
 * these #GP(0) ("EAX encodes EGETKEY/EREPORT/EEXIT/... and ENCLAVE_MODE = 0");
 * the model follows it rather than the #UD an untrapped ENCLU would suggest.
 */
static void test_enclave_only_leaves_outside(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;

	ef_regs_outside(r, SGX_EEXIT);
	r->rbx = EF_EXIT_TARGET;
	EXPECT_FAULT(t, GP, enclu_eexit(t->hw, &t->lp, &t->e.mmu, r));
	EXPECT_FAULT(t, GP, enclu(t->hw, &t->lp, &t->e.mmu, r));
	r->rax = SGX_EREPORT;
	EXPECT_FAULT(t, GP, enclu_ereport(t->hw, &t->lp, &t->e.mmu, r));
	EXPECT_FAULT(t, GP, enclu(t->hw, &t->lp, &t->e.mmu, r));
	r->rax = SGX_EGETKEY;
	EXPECT_FAULT(t, GP, enclu_egetkey(t->hw, &t->lp, &t->e.mmu, r));
	EXPECT_FAULT(t, GP, enclu(t->hw, &t->lp, &t->e.mmu, r));
	r->rax = SGX_EENTER;
	EXPECT_FAULT(t, GP, hw_aex(t->hw, &t->lp, &t->e.mmu, r, X86_TRAP_UD, 0, 0));
	assert_int_equal(t->lp.fault_errcode, 0);
}

static void test_eexit_noncanonical(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;

	ef_enter(&t->e, &t->lp, r);
	r->rbx = 0x0000800000000000ULL;
	EXPECT_FAULT(t, GP, enclu_eexit(t->hw, &t->lp, &t->e.mmu, r));
	assert_true(t->lp.inside);
	ef_exit(&t->e, &t->lp, r);
}

/* Single-stepping is suppressed inside an opt-out enclave and comes back after. */
static void test_eenter_tf_opt_out(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;

	ef_regs_outside(r, SGX_EENTER);
	r->rflags |= X86_EFLAGS_TF;
	assert_int_equal(enclu_eenter(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
	assert_int_equal(r->rflags & X86_EFLAGS_TF, 0);
	ef_exit(&t->e, &t->lp, r);
	assert_int_equal(r->rflags & X86_EFLAGS_TF, X86_EFLAGS_TF);

	/* The same through an AEX. */
	ef_regs_outside(r, SGX_EENTER);
	r->rflags |= X86_EFLAGS_TF;
	assert_int_equal(enclu_eenter(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
	r->rflags |= X86_EFLAGS_TF; /* a POPF inside cannot leak into the SSA */
	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, 32, 0, 0), SGX_SUCCESS);
	assert_int_equal(gpr_of(&t->e, 0)->rflags & X86_EFLAGS_TF, 0);
	assert_int_equal(r->rflags & X86_EFLAGS_TF, X86_EFLAGS_TF);
}

static void test_eenter_busy_tcs(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	struct sgx_cpu_regs *other = malloc(sizeof(*other));
	struct sgx_lp lp2;

	assert_non_null(other);
	ef_enter(&t->e, &t->lp, other);
	/* A second logical processor on the same TCS. */
	sgx_lp_init(&lp2);
	ef_regs_outside(r, SGX_EENTER);
	{
		struct sgx_lp saved = t->lp;

		t->lp = lp2;
		EXPECT_FAULT(t, GP, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
		assert_int_equal(t->lp.fault_errcode, 0);
		t->lp = saved;
	}
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.secs)->threads), 1);
	ef_exit(&t->e, &t->lp, other);
	free(other);
}

static void test_eenter_uninitialized(void **state)
{
	struct t *t = *state;
	struct ef_params p;
	struct ef_enclave u;

	ef_params_default(&p);
	p.no_einit = true;
	ef_build(&u, t->hw, SECOND_ENCLAVE, &p);
	ef_regs_outside(&t->regs, SGX_EENTER);
	EXPECT_FAULT(t, GP, enclu_eenter(t->hw, &t->lp, &u.mmu, &t->regs));
	assert_int_equal(atomic_load(&epcm(t->hw, u.secs)->threads), 0);
	assert_int_equal(atomic_load(&epcm(t->hw, u.page[EF_TCS])->tcs_busy), 0);
}

/* Operand checks of EENTER: alignment, AEP, the TCS page, mode. */
static void test_eenter_operand_faults(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;

	ef_regs_outside(r, SGX_EENTER);
	r->rbx = ef_la(EF_TCS) + 8;
	EXPECT_FAULT(t, GP, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));

	ef_regs_outside(r, SGX_EENTER);
	r->rcx = 0x8000000000000000ULL; /* AEP not canonical */
	EXPECT_FAULT(t, GP, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));

	/* Not mapped: #PF with the page tables' error code. */
	ef_regs_outside(r, SGX_EENTER);
	r->rbx = ef_la(EF_UNMAPPED);
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(t->lp.fault_addr, ef_la(EF_UNMAPPED));
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER);

	/* Outside the test MMU's range altogether. */
	r->rbx = FX_BASE - SGX_PAGE_SIZE;
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(t->lp.fault_addr, FX_BASE - SGX_PAGE_SIZE);

	/* A REG page is no TCS: an EPCM check, so the SGX bit. */
	r->rbx = ef_la(EF_CODE);
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(t->lp.fault_addr, ef_la(EF_CODE));
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(false));

	/* The TCS mapped at the wrong linear address: EPCM.ENCLAVEADDRESS differs. */
	t->e.mmu_state.map[EF_CODE] = t->e.page[EF_TCS];
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(false));
	t->e.mmu_state.map[EF_CODE] = t->e.page[EF_CODE];

	/* Mapped to memory that is no EPC. */
	{
		void *heap = fx_page_buf(0);

		t->e.mmu_state.map[EF_TCS] = heap;
		r->rbx = ef_la(EF_TCS);
		EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
		assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(false));
		t->e.mmu_state.map[EF_TCS] = t->e.page[EF_TCS];
		free(heap);
	}

	/* A blocked TCS. */
	assert_int_equal(encls_eblock(t->hw, t->e.page[EF_TCS]), SGX_SUCCESS);
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(t->lp.fault_addr, ef_la(EF_TCS));
}

/* Held by an ENCLS leaf: EENTER accesses the TCS shared and #GPs on conflict. */
static void test_eenter_tcs_locked(void **state)
{
	struct t *t = *state;
	struct epcm_entry *tcs = epcm(t->hw, t->e.page[EF_TCS]);

	ef_regs_outside(&t->regs, SGX_EENTER);
	assert_true(epcm_trylock_excl(tcs));
	EXPECT_FAULT(t, GP, enclu_eenter(t->hw, &t->lp, &t->e.mmu, &t->regs));
	epcm_unlock_excl(tcs);
	assert_int_equal(atomic_load(&tcs->tcs_busy), 0);
	ef_enter(&t->e, &t->lp, &t->regs);
}

/* EENTER refuses an SSA frame it could not save into. */
static void test_eenter_ssa_faults(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	struct epcm_entry *tcs = epcm(t->hw, t->e.page[EF_TCS]);
	unsigned int ssa = EF_SSA;

	ef_regs_outside(r, SGX_EENTER);
	/* Not mapped. */
	t->e.mmu_state.map[ssa] = NULL;
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(t->lp.fault_addr, ef_la(ssa));
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER | X86_PF_WRITE);
	/* Mapped read-only by the page tables. */
	t->e.mmu_state.map[ssa] = t->e.page[ssa];
	t->e.mmu_state.prot[ssa] = HW_MMU_READ;
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER | X86_PF_WRITE | X86_PF_PROT);
	t->e.mmu_state.prot[ssa] = HW_MMU_READ | HW_MMU_WRITE;
	/* The frame resolves to a read-only enclave page: EPCM.W = 0. */
	t->e.mmu_state.map[ssa] = t->e.page[EF_RODATA];
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(t->lp.fault_addr, ef_la(ssa));
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(true));
	t->e.mmu_state.map[ssa] = t->e.page[ssa];
	/* A blocked SSA page. */
	assert_int_equal(encls_eblock(t->hw, t->e.page[ssa]), SGX_SUCCESS);
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(true));

	/* Every failure released the TCS and the thread count. */
	assert_int_equal(atomic_load(&tcs->tcs_busy), 0);
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.secs)->threads), 0);
}

/* The SSA frame of another enclave is no SSA frame for this one. */
static void test_eenter_ssa_other_enclave(void **state)
{
	struct t *t = *state;
	struct ef_params p;
	struct ef_enclave other;

	ef_params_default(&p);
	ef_build(&other, t->hw, SECOND_ENCLAVE, &p);
	t->e.mmu_state.map[EF_SSA] = other.page[EF_SSA];
	ef_regs_outside(&t->regs, SGX_EENTER);
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &t->e.mmu, &t->regs));
	assert_int_equal(t->lp.fault_addr, ef_la(EF_SSA));
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(true));
}

/* ---- AEX and ERESUME ---- */

static void test_aex_eresume(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	struct sgx_cpu_regs *inside = malloc(sizeof(*inside));
	struct epcm_entry *tcs = epcm(t->hw, t->e.page[EF_TCS]);
	struct epcm_entry *secs = epcm(t->hw, t->e.secs);
	struct sgx_ssa_gpr *gpr = gpr_of(&t->e, 0);
	uint8_t *ssa_x = xsave_of(&t->e, 0);
	uint64_t bv;

	assert_non_null(inside);
	ef_enter(&t->e, &t->lp, r);
	enclave_state(r, r);
	memcpy(inside, r, sizeof(*inside));

	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, X86_TRAP_UD, 0, 0), SGX_SUCCESS);

	/* The SSA frame holds the enclave's state. */
	assert_int_equal(gpr->rax, inside->rax);
	assert_int_equal(gpr->rcx, inside->rcx);
	assert_int_equal(gpr->rdx, inside->rdx);
	assert_int_equal(gpr->rbx, inside->rbx);
	assert_int_equal(gpr->rsp, inside->rsp);
	assert_int_equal(gpr->rbp, inside->rbp);
	assert_int_equal(gpr->rsi, inside->rsi);
	assert_int_equal(gpr->rdi, inside->rdi);
	assert_int_equal(gpr->r8, 8);
	assert_int_equal(gpr->r15, 15);
	assert_int_equal(gpr->rip, inside->rip);
	assert_int_equal(gpr->rflags, inside->rflags);
	assert_int_equal(gpr->fsbase, FX_BASE + EF_OFSBASE);
	assert_int_equal(gpr->gsbase, FX_BASE + EF_OGSBASE);
	assert_int_equal(gpr->exitinfo,
			 X86_TRAP_UD | (3u << SGX_EXITINFO_TYPE_SHIFT) | SGX_EXITINFO_VALID);
	assert_int_equal(gpr->ursp, EF_OUTSIDE_RSP);
	assert_int_equal(gpr->urbp, EF_OUTSIDE_RBP);
	assert_memory_equal(ssa_x, inside->xsave, SGX_XSAVE_XMM_END);
	assert_int_equal(get64(ssa_x + SGX_XSAVE_HEADER_OFFSET), 0x3);
	assert_int_equal(tcs_of(&t->e)->ssa_index, 1);

	/* The synthetic state. */
	assert_int_equal(r->rax, SGX_ERESUME);
	assert_int_equal(r->rbx, ef_la(EF_TCS));
	assert_int_equal(r->rcx, EF_AEP);
	assert_int_equal(r->rip, EF_AEP);
	assert_int_equal(r->rsp, EF_OUTSIDE_RSP);
	assert_int_equal(r->rbp, EF_OUTSIDE_RBP);
	assert_int_equal(r->rdx | r->rsi | r->rdi, 0);
	assert_int_equal(r->r8 | r->r9 | r->r10 | r->r11 | r->r12 | r->r13 | r->r14 | r->r15, 0);
	/* CF, ZF, OF cleared; DF and IF kept. */
	assert_int_equal(r->rflags, 0x202 | X86_EFLAGS_DF);
	assert_int_equal(r->fsbase, EF_OUTSIDE_FS);
	assert_int_equal(r->gsbase, EF_OUTSIDE_GS);
	assert_int_equal(get16(r->xsave + SGX_XSAVE_FCW), SGX_FCW_INIT);
	assert_int_equal(get32(r->xsave + SGX_XSAVE_MXCSR), SGX_MXCSR_INIT);
	for (unsigned int i = SGX_XSAVE_ST0; i < SGX_XSAVE_XMM_END; i++)
		assert_int_equal(r->xsave[i], 0);
	memcpy(&bv, r->xsave + SGX_XSAVE_HEADER_OFFSET, sizeof(bv));
	assert_int_equal(bv & 0x3, 0);
	assert_false(t->lp.inside);
	assert_int_equal(atomic_load(&tcs->tcs_busy), 0);
	assert_int_equal(atomic_load(&secs->threads), 0);

	/* ERESUME at the AEP with the synthetic RAX/RBX/RCX. */
	r->rip = EF_AEP;
	assert_int_equal(enclu_eresume(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
	assert_gprs_equal(r, inside);
	assert_int_equal(r->rflags, inside->rflags);
	assert_int_equal(r->fsbase, FX_BASE + EF_OFSBASE);
	assert_int_equal(r->gsbase, FX_BASE + EF_OGSBASE);
	assert_memory_equal(r->xsave, inside->xsave, SGX_XSAVE_XMM_END);
	assert_int_equal(get64(r->xsave + SGX_XSAVE_HEADER_OFFSET), 0x3);
	assert_int_equal(tcs_of(&t->e)->ssa_index, 0);
	assert_true(t->lp.inside);
	assert_int_equal(atomic_load(&tcs->tcs_busy), 1);
	assert_int_equal(atomic_load(&secs->threads), 1);
	/* The outside FS/GS of the ERESUME come back at EEXIT. */
	ef_exit(&t->e, &t->lp, r);
	assert_int_equal(r->fsbase, EF_OUTSIDE_FS);
	assert_int_equal(r->rcx, EF_AEP);
	free(inside);
}

/* AVX state travels through the SSA when XFRM has it. */
static void test_aex_eresume_avx(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	uint8_t ymm[SGX_XSAVE_AVX_SIZE];
	uint64_t bv = 0x7;
	struct ef_params p;
	struct ef_enclave avx;

	if (!(hw_xfrm_supported(t->hw) & 0x4)) {
		printf("skipped: the host has no AVX in XCR0\n");
		skip();
	}
	ef_params_default(&p);
	p.xfrm = 0x7;
	ef_build(&avx, t->hw, SECOND_ENCLAVE, &p);
	ef_enter(&avx, &t->lp, r);
	for (unsigned int i = 0; i < sizeof(ymm); i++)
		ymm[i] = (uint8_t)(0xA0 + i);
	memcpy(r->xsave + SGX_XSAVE_AVX_OFFSET, ymm, sizeof(ymm));
	memcpy(r->xsave + SGX_XSAVE_HEADER_OFFSET, &bv, sizeof(bv));
	assert_int_equal(hw_aex(t->hw, &t->lp, &avx.mmu, r, 32, 0, 0), SGX_SUCCESS);
	assert_memory_equal(xsave_of(&avx, 0) + SGX_XSAVE_AVX_OFFSET, ymm, sizeof(ymm));
	assert_int_equal(get64(r->xsave + SGX_XSAVE_HEADER_OFFSET), 0);
	assert_int_equal(r->xsave[SGX_XSAVE_AVX_OFFSET], 0);
	assert_true(r->xsave_len >= SGX_XSAVE_AVX_OFFSET + SGX_XSAVE_AVX_SIZE);
	assert_int_equal(enclu_eresume(t->hw, &t->lp, &avx.mmu, r), SGX_SUCCESS);
	assert_memory_equal(r->xsave + SGX_XSAVE_AVX_OFFSET, ymm, sizeof(ymm));
	assert_int_equal(get64(r->xsave + SGX_XSAVE_HEADER_OFFSET), 0x7);
}

/*
 * Every component of an XFRM equal to the host's XCR0 (AVX-512, AMX tiles
 * where the host has them) travels through the SSA frame's XSAVE region at
 * the host's CPUID leaf 0xD offsets, over as many pages as it spans, and is
 * in its init configuration in the synthetic state.
 */
static void test_aex_eresume_host_xcr0(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	uint64_t xfrm = hw_xfrm_supported(t->hw), bv;
	uint32_t size = hw_xfrm_xsave_size(t->hw, xfrm);
	/* Frame 0 may use the two SSA pages and the data page after them. */
	uint32_t pages = (size + sizeof(struct sgx_ssa_gpr) + SGX_PAGE_SIZE - 1) / SGX_PAGE_SIZE;
	static uint8_t want[SGX_XSAVE_AREA_SIZE], got[SGX_XSAVE_AREA_SIZE];
	struct ef_params p;
	struct ef_enclave e;

	if (pages > EF_NSSA + 1) {
		printf("skipped: the XSAVE image of XCR0 %#llx (%u bytes) needs more pages than the fixture has\n",
		       (unsigned long long)xfrm, size);
		skip();
	}
	ef_params_default(&p);
	p.xfrm = xfrm;
	p.ssa_frame_size = pages;
	ef_build(&e, t->hw, SECOND_ENCLAVE, &p);
	ef_enter(&e, &t->lp, r);
	/* Every byte after the header holds a pattern; all components in use. */
	for (uint32_t i = SGX_XSAVE_HEADER_OFFSET + SGX_XSAVE_HEADER_SIZE; i < size; i++)
		r->xsave[i] = (uint8_t)(i * 7 + 3);
	bv = xfrm;
	memcpy(r->xsave + SGX_XSAVE_HEADER_OFFSET, &bv, sizeof(bv));
	r->xsave_len = size;
	memcpy(want, r->xsave, size);

	assert_int_equal(hw_aex(t->hw, &t->lp, &e.mmu, r, 32, 0, 0), SGX_SUCCESS);
	for (uint32_t off = 0; off < size; off += SGX_PAGE_SIZE) {
		uint32_t n = size - off < SGX_PAGE_SIZE ? size - off : SGX_PAGE_SIZE;

		memcpy(got + off, e.page[EF_SSA + off / SGX_PAGE_SIZE], n);
	}
	assert_int_equal(get64(got + SGX_XSAVE_HEADER_OFFSET), xfrm);
	/* The components (the area between them is padding XSAVE leaves alone). */
	for (unsigned int i = 2; i < 64; i++) {
		unsigned int a, b, c, d;

		if (!(xfrm & (1ULL << i)))
			continue;
		__cpuid_count(0xD, i, a, b, c, d);
		assert_memory_equal(got + b, want + b, a);
		/* Synthetic state: init configuration, all zeros for these. */
		for (unsigned int k = 0; k < a; k++)
			assert_int_equal(r->xsave[b + k], 0);
	}
	assert_int_equal(get64(r->xsave + SGX_XSAVE_HEADER_OFFSET) & xfrm, 0);

	assert_int_equal(enclu_eresume(t->hw, &t->lp, &e.mmu, r), SGX_SUCCESS);
	assert_int_equal(get64(r->xsave + SGX_XSAVE_HEADER_OFFSET), xfrm);
	for (unsigned int i = 2; i < 64; i++) {
		unsigned int a, b, c, d;

		if (!(xfrm & (1ULL << i)))
			continue;
		__cpuid_count(0xD, i, a, b, c, d);
		assert_memory_equal(r->xsave + b, want + b, a);
	}
	assert_true(r->xsave_len >= size);
}

/* EXITINFO for the reported exceptions, interrupts and the rest. */
static void test_aex_exitinfo(void **state)
{
	static const struct {
		unsigned int vector;
		uint32_t exitinfo;
	} cases[] = {
		{X86_TRAP_DE, 0 | (3u << 8) | SGX_EXITINFO_VALID},
		{X86_TRAP_DB, 1 | (3u << 8) | SGX_EXITINFO_VALID},
		{X86_TRAP_BP, 3 | (6u << 8) | SGX_EXITINFO_VALID}, /* INT3: software */
		{X86_TRAP_BR, 5 | (3u << 8) | SGX_EXITINFO_VALID},
		{X86_TRAP_UD, 6 | (3u << 8) | SGX_EXITINFO_VALID},
		{X86_TRAP_MF, 16 | (3u << 8) | SGX_EXITINFO_VALID},
		{X86_TRAP_AC, 17 | (3u << 8) | SGX_EXITINFO_VALID},
		{X86_TRAP_XM, 19 | (3u << 8) | SGX_EXITINFO_VALID},
		/* Without MISCSELECT.EXINFO, #PF and #GP are not reported. */
		{X86_TRAP_PF, 0},
		{X86_TRAP_GP, 0},
		{X86_TRAP_OF, 0},
		{7 /* #NM */, 0},
		{32, 0}, /* an interrupt */
		{0xEC, 0},
	};
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_enter(&t->e, &t->lp, r);
		gpr_of(&t->e, 0)->exitinfo = 0xDEADBEEF;
		assert_int_equal(
			hw_aex(t->hw, &t->lp, &t->e.mmu, r, cases[i].vector, 4, ef_la(EF_DATA) + 8),
			SGX_SUCCESS);
		assert_int_equal(gpr_of(&t->e, 0)->exitinfo, cases[i].exitinfo);
		/* No MISC region without MISCSELECT.EXINFO. */
		assert_int_equal(exinfo_of(&t->e, 0)->maddr, 0);
		assert_int_equal(exinfo_of(&t->e, 0)->errcd, 0);
		assert_int_equal(enclu_eresume(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
		ef_exit(&t->e, &t->lp, r);
	}
}

/* x87 and SSE synthetic state after #MF and #XM. */
static void test_aex_fp_synthetic(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;

	ef_enter(&t->e, &t->lp, r);
	enclave_state(r, r);
	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, X86_TRAP_MF, 0, 0), SGX_SUCCESS);
	assert_int_equal(get16(r->xsave + SGX_XSAVE_FCW), 0x037E);
	assert_int_equal(get16(r->xsave + SGX_XSAVE_FSW), 0x8081);
	assert_int_equal(get32(r->xsave + SGX_XSAVE_MXCSR), SGX_MXCSR_INIT);
	assert_int_equal(get64(r->xsave + SGX_XSAVE_HEADER_OFFSET) & 0x3, 0x1);
	assert_int_equal(enclu_eresume(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, X86_TRAP_XM, 0, 0), SGX_SUCCESS);
	assert_int_equal(get16(r->xsave + SGX_XSAVE_FCW), SGX_FCW_INIT);
	assert_int_equal(get32(r->xsave + SGX_XSAVE_MXCSR), 0x1F01);
}

/* MISC.EXINFO: the #PF address and error code, the #GP error code. */
static void test_aex_exinfo(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	struct sgx_ssa_exinfo *ex = exinfo_of(&t->e, 0);
	uint64_t addr = ef_la(EF_RODATA) + 0x123;

	ef_enter(&t->e, &t->lp, r);
	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, X86_TRAP_PF, 0x8007, addr),
			 SGX_SUCCESS);
	assert_int_equal(gpr_of(&t->e, 0)->exitinfo,
			 X86_TRAP_PF | (3u << SGX_EXITINFO_TYPE_SHIFT) | SGX_EXITINFO_VALID);
	assert_int_equal(ex->maddr, addr);
	assert_int_equal(ex->errcd, 0x8007);
	assert_int_equal(ex->reserved, 0);
	assert_int_equal(enclu_eresume(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);

	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, X86_TRAP_GP, 0x18, addr), SGX_SUCCESS);
	assert_int_equal(gpr_of(&t->e, 0)->exitinfo,
			 X86_TRAP_GP | (3u << SGX_EXITINFO_TYPE_SHIFT) | SGX_EXITINFO_VALID);
	assert_int_equal(ex->maddr, 0);
	assert_int_equal(ex->errcd, 0x18);
	assert_int_equal(enclu_eresume(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);

	/* Other exceptions leave the MISC region as it was. */
	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, X86_TRAP_UD, 0, 0), SGX_SUCCESS);
	assert_int_equal(ex->errcd, 0x18);
}

/* An exception handler entry: EENTER with CSSA 1, then ERESUME of frame 0. */
static void test_nested_entry(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	struct sgx_cpu_regs *inside = malloc(sizeof(*inside));

	assert_non_null(inside);
	ef_enter(&t->e, &t->lp, r);
	enclave_state(r, r);
	memcpy(inside, r, sizeof(*inside));
	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, X86_TRAP_UD, 0, 0), SGX_SUCCESS);

	/* The handler entry runs with RAX = CSSA = 1 and saves into frame 1. */
	ef_regs_outside(r, SGX_EENTER);
	r->rsp = EF_OUTSIDE_RSP - 0x100;
	assert_int_equal(enclu_eenter(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
	assert_int_equal(r->rax, 1);
	assert_int_equal(gpr_of(&t->e, 1)->ursp, EF_OUTSIDE_RSP - 0x100);
	assert_int_equal(gpr_of(&t->e, 0)->ursp, EF_OUTSIDE_RSP);
	/* The handler fixes the interrupted context and returns. */
	gpr_of(&t->e, 0)->rip += 2;
	ef_exit(&t->e, &t->lp, r);

	ef_regs_outside(r, SGX_ERESUME);
	assert_int_equal(enclu_eresume(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
	inside->rip += 2;
	assert_gprs_equal(r, inside);
	assert_int_equal(tcs_of(&t->e)->ssa_index, 0);
	free(inside);
}

/* Both frames in use: no EENTER until an ERESUME frees one. */
static void test_eenter_cssa_full(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;

	for (unsigned int i = 0; i < EF_NSSA; i++) {
		ef_enter(&t->e, &t->lp, r);
		assert_int_equal(r->rax, i);
		assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, 32, 0, 0), SGX_SUCCESS);
	}
	assert_int_equal(tcs_of(&t->e)->ssa_index, EF_NSSA);
	ef_regs_outside(r, SGX_EENTER);
	EXPECT_FAULT(t, GP, enclu_eenter(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.page[EF_TCS])->tcs_busy), 0);

	r->rax = SGX_ERESUME;
	assert_int_equal(enclu_eresume(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
	assert_int_equal(tcs_of(&t->e)->ssa_index, EF_NSSA - 1);
}

static void test_eresume_cssa_zero(void **state)
{
	struct t *t = *state;

	ef_regs_outside(&t->regs, SGX_ERESUME);
	EXPECT_FAULT(t, GP, enclu_eresume(t->hw, &t->lp, &t->e.mmu, &t->regs));
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.page[EF_TCS])->tcs_busy), 0);
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.secs)->threads), 0);
}

/* An XSAVE header in the frame that XRSTOR would refuse makes ERESUME #GP. */
static void test_eresume_bad_xsave(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	uint8_t *x = xsave_of(&t->e, 0);
	uint64_t bv, good;
	uint32_t mxcsr;

	ef_enter(&t->e, &t->lp, r);
	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, 32, 0, 0), SGX_SUCCESS);
	memcpy(&good, x + SGX_XSAVE_HEADER_OFFSET, sizeof(good));

	bv = good | 0x4; /* AVX is not in this enclave's XFRM */
	memcpy(x + SGX_XSAVE_HEADER_OFFSET, &bv, sizeof(bv));
	EXPECT_FAULT(t, GP, enclu_eresume(t->hw, &t->lp, &t->e.mmu, r));
	memcpy(x + SGX_XSAVE_HEADER_OFFSET, &good, sizeof(good));

	x[SGX_XSAVE_HEADER_OFFSET + 15] = 0x80; /* XCOMP_BV: compacted format */
	EXPECT_FAULT(t, GP, enclu_eresume(t->hw, &t->lp, &t->e.mmu, r));
	x[SGX_XSAVE_HEADER_OFFSET + 15] = 0;

	memcpy(&mxcsr, x + SGX_XSAVE_MXCSR, sizeof(mxcsr));
	mxcsr |= 0x10000;
	memcpy(x + SGX_XSAVE_MXCSR, &mxcsr, sizeof(mxcsr));
	EXPECT_FAULT(t, GP, enclu_eresume(t->hw, &t->lp, &t->e.mmu, r));
	mxcsr &= 0xFFFF;
	memcpy(x + SGX_XSAVE_MXCSR, &mxcsr, sizeof(mxcsr));

	/* The enclave "fixed" the saved RIP to something not canonical. */
	gpr_of(&t->e, 0)->rip = 0x0000800000000000ULL;
	EXPECT_FAULT(t, GP, enclu_eresume(t->hw, &t->lp, &t->e.mmu, r));
	gpr_of(&t->e, 0)->rip = FX_BASE + EF_OENTRY;

	assert_int_equal(tcs_of(&t->e)->ssa_index, 1);
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.page[EF_TCS])->tcs_busy), 0);
	assert_int_equal(enclu_eresume(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
}

/* ERESUME checks the frame it restores from, CSSA - 1. */
static void test_eresume_ssa_fault(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;

	ef_enter(&t->e, &t->lp, r);
	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, 32, 0, 0), SGX_SUCCESS);
	t->e.mmu_state.map[EF_SSA] = NULL;
	EXPECT_FAULT(t, PF, enclu_eresume(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(t->lp.fault_addr, ef_la(EF_SSA));
	/* Frame 1 is not the one ERESUME needs. */
	t->e.mmu_state.map[EF_SSA] = t->e.page[EF_SSA];
	t->e.mmu_state.map[EF_SSA + 1] = NULL;
	assert_int_equal(enclu_eresume(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
}

/* ---- Bookkeeping shared with ENCLS ---- */

/* A thread inside keeps EWB of a blocked page NOT_TRACKED until it leaves. */
static void test_etrack_thread_inside(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	void *va = fx_epc_page(t->hw, VA_PAGE);
	uint8_t *contents = fx_page_buf(0);
	struct sgx_pcmd *pcmd = aligned_alloc(sizeof(*pcmd), sizeof(*pcmd));
	struct sgx_pageinfo pi = {
		.contents = (uintptr_t)contents,
		.metadata = (uintptr_t)pcmd,
	};
	void *data = t->e.page[EF_DATA];

	assert_non_null(pcmd);
	memset(pcmd, 0, sizeof(*pcmd));
	assert_int_equal(encls_epa(t->hw, va), SGX_SUCCESS);

	ef_enter(&t->e, &t->lp, r);
	assert_int_equal(encls_eblock(t->hw, data), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);
	assert_int_equal(encls_ewb(t->hw, &pi, data, va), SGX_NOT_TRACKED);
	/* An AEX leaves the enclave too; ERESUME enters anew, after the ETRACK. */
	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, 32, 0, 0), SGX_SUCCESS);
	assert_int_equal(enclu_eresume(t->hw, &t->lp, &t->e.mmu, r), SGX_SUCCESS);
	assert_int_equal(encls_ewb(t->hw, &pi, data, va), SGX_SUCCESS);
	ef_exit(&t->e, &t->lp, r);

	/* The same with EEXIT as the way out. */
	assert_int_equal(encls_eblock(t->hw, t->e.page[EF_RODATA]), SGX_SUCCESS);
	ef_enter(&t->e, &t->lp, r);
	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);
	pi.addr = 0;
	assert_int_equal(encls_ewb(t->hw, &pi, t->e.page[EF_RODATA], (uint64_t *)va + 1),
			 SGX_NOT_TRACKED);
	ef_exit(&t->e, &t->lp, r);
	pi.addr = 0;
	assert_int_equal(encls_ewb(t->hw, &pi, t->e.page[EF_RODATA], (uint64_t *)va + 1),
			 SGX_SUCCESS);
	free(contents);
	free(pcmd);
}

/*
 * An MMU that watches EENTER: it can play the kernel's reclaimer right
 * after the first walk of the TCS (zap its PTE, EBLOCK it), and it records
 * what a look from outside sees while EENTER walks the SSA frame.
 */
struct spy_mmu {
	struct t *t;
	bool reclaim_tcs;
	int tcs_walks;
	bool saw_entering, saw_inside;
	uint32_t saw_threads;
};

static bool spy_translate(void *ctx, uint64_t linaddr, int access, void **epc, uint32_t *err)
{
	struct spy_mmu *s = ctx;
	struct t *t = s->t;
	bool ok = ef_translate(&t->e.mmu_state, linaddr, access, epc, err);

	if (linaddr == ef_la(EF_TCS) && s->tcs_walks++ == 0 && s->reclaim_tcs) {
		t->e.mmu_state.map[EF_TCS] = NULL;
		assert_int_equal(encls_eblock(t->hw, t->e.page[EF_TCS]), SGX_SUCCESS);
	}
	if (linaddr == ef_la(EF_SSA)) {
		s->saw_entering = atomic_load(&t->lp.entering);
		s->saw_inside = t->lp.inside;
		s->saw_threads = atomic_load(&epcm(t->hw, t->e.secs)->threads);
	}
	return ok;
}

/*
 * Issue 14: the model walks, then checks the EPCM, and the reclaimer may
 * zap and EBLOCK the TCS in between. On the processor the zap's TLB
 * shootdown comes first and the walk faults "not present", which the
 * kernel resolves; the EPCM #PF (SGX bit) that EENTER answered instead
 * reached the program through the vDSO.
 */
static void test_eenter_tcs_reclaimed_after_walk(void **state)
{
	struct t *t = *state;
	struct spy_mmu spy = { .t = t, .reclaim_tcs = true };
	struct hw_mmu mmu = { .translate = spy_translate, .ctx = &spy };

	ef_regs_outside(&t->regs, SGX_EENTER);
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &mmu, &t->regs));
	assert_int_equal(spy.tcs_walks, 2);
	assert_int_equal(t->lp.fault_addr, ef_la(EF_TCS));
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER);
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.page[EF_TCS])->tcs_busy), 0);
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.secs)->threads), 0);
	assert_false(atomic_load(&t->lp.entering));
}

/*
 * A caller that remembers its walks (the shim does, within one leaf) must
 * forget them before the leaf walks again after an EPCM miss: the re-walk
 * stands for the TLB shootdown that made the page not present. With the
 * flush the TCS reclaimed after the first walk is a not-present #PF (the
 * kernel resolves it); a remembered walk would answer the EPCM #PF (SGX
 * bit), which reached programs through the vDSO under signal storms.
 */
struct memo_mmu {
	struct spy_mmu spy;
	uint64_t la;
	void *epc;
	unsigned int flushes;
};

static bool memo_translate(void *ctx, uint64_t linaddr, int access, void **epc, uint32_t *err)
{
	struct memo_mmu *m = ctx;

	if (m->epc && m->la == linaddr) {
		*epc = m->epc;
		return true;
	}
	if (!spy_translate(&m->spy, linaddr, access, epc, err))
		return false;
	m->la = linaddr;
	m->epc = *epc;
	return true;
}

static void memo_flush(void *ctx)
{
	struct memo_mmu *m = ctx;

	m->epc = NULL;
	m->flushes++;
}

static void test_eenter_rewalk_flushes_remembered_walk(void **state)
{
	struct t *t = *state;
	struct memo_mmu memo = { .spy = { .t = t, .reclaim_tcs = true } };
	struct hw_mmu mmu = { .translate = memo_translate, .ctx = &memo, .flush = memo_flush };

	ef_regs_outside(&t->regs, SGX_EENTER);
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &mmu, &t->regs));
	assert_int_equal(memo.flushes, 1);
	assert_int_equal(memo.spy.tcs_walks, 2);
	assert_int_equal(t->lp.fault_addr, ef_la(EF_TCS));
	assert_int_equal(t->lp.fault_errcode, X86_PF_USER);
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.page[EF_TCS])->tcs_busy), 0);
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.secs)->threads), 0);
}

/*
 * Issue 14: between the SECS counting a thread in (which an ETRACK then
 * waits for) and enclave mode, lp.entering says so, for the model's IPI;
 * it is clear once the leaf is done, whether it entered or failed.
 */
static void test_eenter_entering_window(void **state)
{
	struct t *t = *state;
	struct spy_mmu spy = { .t = t };
	struct hw_mmu mmu = { .translate = spy_translate, .ctx = &spy };

	ef_regs_outside(&t->regs, SGX_EENTER);
	assert_int_equal(enclu_eenter(t->hw, &t->lp, &mmu, &t->regs), SGX_SUCCESS);
	assert_true(spy.saw_entering);
	assert_false(spy.saw_inside);
	assert_int_equal(spy.saw_threads, 1);
	assert_true(t->lp.inside);
	assert_false(atomic_load(&t->lp.entering));
	ef_exit(&t->e, &t->lp, &t->regs);

	/* A failing entry (SSA frame not mapped) clears it too. */
	spy.saw_entering = false;
	t->e.mmu_state.map[EF_SSA] = NULL;
	ef_regs_outside(&t->regs, SGX_EENTER);
	EXPECT_FAULT(t, PF, enclu_eenter(t->hw, &t->lp, &mmu, &t->regs));
	assert_true(spy.saw_entering);
	assert_false(atomic_load(&t->lp.entering));
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.secs)->threads), 0);
	t->e.mmu_state.map[EF_SSA] = t->e.page[EF_SSA];
}

/* EREMOVE refuses pages of an enclave with a thread inside. */
static void test_eremove_thread_inside(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;

	ef_enter(&t->e, &t->lp, r);
	assert_int_equal(encls_eremove(t->hw, t->e.page[EF_RODATA]), SGX_ENCLAVE_ACT);
	assert_int_equal(encls_eremove(t->hw, t->e.secs), SGX_CHILD_PRESENT);
	assert_int_equal(hw_aex(t->hw, &t->lp, &t->e.mmu, r, 32, 0, 0), SGX_SUCCESS);
	assert_int_equal(encls_eremove(t->hw, t->e.page[EF_RODATA]), SGX_SUCCESS);
	/* A removed SSA page: ERESUME cannot restore. */
	assert_int_equal(encls_eremove(t->hw, t->e.page[EF_SSA]), SGX_SUCCESS);
	EXPECT_FAULT(t, PF, enclu_eresume(t->hw, &t->lp, &t->e.mmu, r));
	assert_int_equal(t->lp.fault_errcode, SGX_PF_ERR(true));
}

/*
 * A logical processor that stops existing inside (a thread a fork's child
 * does not have): counted out, its TCS free, an ETRACK cycle that counted
 * it complete, as after a leave.
 */
static void test_lp_vanish(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r = &t->regs;
	void *va = fx_epc_page(t->hw, VA_PAGE);
	uint8_t *contents = fx_page_buf(0);
	struct sgx_pcmd *pcmd = aligned_alloc(sizeof(*pcmd), sizeof(*pcmd));
	struct sgx_pageinfo pi = {
		.contents = (uintptr_t)contents,
		.metadata = (uintptr_t)pcmd,
	};
	void *data = t->e.page[EF_DATA];

	assert_non_null(pcmd);
	memset(pcmd, 0, sizeof(*pcmd));
	assert_int_equal(encls_epa(t->hw, va), SGX_SUCCESS);
	/* Outside: nothing to count out. */
	sgx_lp_vanish(t->hw, &t->lp);
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.secs)->threads), 0);

	ef_enter(&t->e, &t->lp, r);
	assert_int_equal(encls_eblock(t->hw, data), SGX_SUCCESS);
	assert_int_equal(encls_etrack(t->hw, t->e.secs), SGX_SUCCESS);
	assert_int_equal(encls_ewb(t->hw, &pi, data, va), SGX_NOT_TRACKED);
	sgx_lp_vanish(t->hw, &t->lp);
	assert_false(t->lp.inside);
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.secs)->threads), 0);
	assert_int_equal(encls_ewb(t->hw, &pi, data, va), SGX_SUCCESS);
	assert_int_equal(encls_eremove(t->hw, t->e.page[EF_RODATA]), SGX_SUCCESS);
	/* The TCS is free: another entry gets it. */
	ef_enter(&t->e, &t->lp, r);
	ef_exit(&t->e, &t->lp, r);
	free(contents);
	free(pcmd);
}

/* Two logical processors in one enclave, on two TCSs... of two enclaves. */
static void test_two_threads(void **state)
{
	struct t *t = *state;
	struct sgx_cpu_regs *r2 = malloc(sizeof(*r2));
	struct ef_params p;
	struct ef_enclave other;
	struct sgx_lp lp2;

	assert_non_null(r2);
	ef_params_default(&p);
	ef_build(&other, t->hw, SECOND_ENCLAVE, &p);
	sgx_lp_init(&lp2);
	ef_enter(&t->e, &t->lp, &t->regs);
	ef_enter(&other, &lp2, r2);
	assert_int_equal(atomic_load(&epcm(t->hw, t->e.secs)->threads), 1);
	assert_int_equal(atomic_load(&epcm(t->hw, other.secs)->threads), 1);
	ef_exit(&other, &lp2, r2);
	ef_exit(&t->e, &t->lp, &t->regs);
	free(r2);
}

#define RACERS 4

struct racer {
	struct t *t;
	struct sgx_lp lp;
	struct sgx_cpu_regs regs;
	pthread_barrier_t *start;
	int ret;
};

static void *race_eenter(void *arg)
{
	struct racer *r = arg;

	sgx_lp_init(&r->lp);
	ef_regs_outside(&r->regs, SGX_EENTER);
	pthread_barrier_wait(r->start);
	r->ret = enclu_eenter(r->t->hw, &r->lp, &r->t->e.mmu, &r->regs);
	return NULL;
}

/* Logical processors racing for one TCS: exactly one gets in. */
static void test_eenter_race(void **state)
{
	struct t *t = *state;
	struct racer *r = calloc(RACERS, sizeof(*r));
	pthread_t tid[RACERS];
	pthread_barrier_t start;

	assert_non_null(r);
	for (unsigned int round = 0; round < 20; round++) {
		unsigned int winners = 0, winner = 0;

		pthread_barrier_init(&start, NULL, RACERS);
		for (unsigned int i = 0; i < RACERS; i++) {
			r[i].t = t;
			r[i].start = &start;
			assert_int_equal(pthread_create(&tid[i], NULL, race_eenter, &r[i]), 0);
		}
		for (unsigned int i = 0; i < RACERS; i++)
			pthread_join(tid[i], NULL);
		pthread_barrier_destroy(&start);
		for (unsigned int i = 0; i < RACERS; i++) {
			if (r[i].ret == SGX_SUCCESS) {
				winners++;
				winner = i;
			} else {
				assert_int_equal(r[i].ret, GP);
				assert_false(r[i].lp.inside);
			}
		}
		assert_int_equal(winners, 1);
		assert_int_equal(atomic_load(&epcm(t->hw, t->e.secs)->threads), 1);
		ef_exit(&t->e, &r[winner].lp, &r[winner].regs);
		assert_int_equal(atomic_load(&epcm(t->hw, t->e.page[EF_TCS])->tcs_busy), 0);
	}
	free(r);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_eenter_eexit),
		T(test_enclu_dispatch),
		T(test_enclave_only_leaves_outside),
		T(test_eexit_noncanonical),
		T(test_eenter_tf_opt_out),
		T(test_eenter_busy_tcs),
		T(test_eenter_uninitialized),
		T(test_eenter_operand_faults),
		T(test_eenter_tcs_locked),
		T(test_eenter_ssa_faults),
		T(test_eenter_ssa_other_enclave),
		T(test_aex_eresume),
		T(test_aex_eresume_avx),
		T(test_aex_eresume_host_xcr0),
		T(test_aex_exitinfo),
		T(test_aex_fp_synthetic),
		cmocka_unit_test_setup_teardown(test_aex_exinfo, setup_exinfo, teardown),
		T(test_nested_entry),
		T(test_eenter_cssa_full),
		T(test_eresume_cssa_zero),
		T(test_eresume_bad_xsave),
		T(test_eresume_ssa_fault),
		T(test_etrack_thread_inside),
		T(test_eremove_thread_inside),
		T(test_lp_vanish),
		T(test_two_threads),
		T(test_eenter_race),
		T(test_eenter_tcs_reclaimed_after_walk),
		T(test_eenter_rewalk_flushes_remembered_walk),
		T(test_eenter_entering_window),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
