// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/common/einit_fixture.h"
#include "tests/common/enclu_fixture.h"
#include "hw/hw_internal.h"
#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "tests/common/test_keys.h"

void ef_params_default(struct ef_params *p)
{
	memset(p, 0, sizeof(*p));
	p->attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	p->xfrm = 0x3;
	p->code_byte = 0xC3;
	p->isvprodid = 1;
	p->isvsvn = 2;
}

bool ef_translate(void *ctx, uint64_t linaddr, int access, void **epc, uint32_t *pf_errcode)
{
	struct ef_mmu *m = ctx;
	uint64_t n = (linaddr - m->base) >> SGX_PAGE_SHIFT;
	uint32_t code = X86_PF_USER | ((access & HW_MMU_WRITE) ? X86_PF_WRITE : 0) |
			((access & HW_MMU_EXEC) ? X86_PF_INSTR : 0);

	assert_int_equal(linaddr & (SGX_PAGE_SIZE - 1), 0);
	if (linaddr < m->base || n > EF_PAGES || !m->map[n]) {
		*pf_errcode = code;
		return false;
	}
	if ((access & m->prot[n]) != access) {
		*pf_errcode = code | X86_PF_PROT;
		return false;
	}
	*epc = m->map[n];
	return true;
}

/* EINIT as the kernel model would on a platform with flexible launch control. */
static void einit(struct sgx_hw *hw, void *secs_epc, const struct ef_params *p)
{
	fx_einit_signed(hw, secs_epc, p->other_signer ? test_key2() : test_key(), p->isvprodid,
			p->isvsvn);
}

static void add_page(struct ef_enclave *e, unsigned int n, const void *src, uint64_t flags)
{
	assert_int_equal(fx_eadd(e->hw, e->secs, e->page[n], ef_la(n), src, flags), SGX_SUCCESS);
	fx_eextend_page(e->hw, e->secs, e->page[n]);
}

void ef_build(struct ef_enclave *e, struct sgx_hw *hw, uint64_t first, const struct ef_params *p)
{
	struct sgx_secs *secs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*secs));
	struct sgx_tcs *tcs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*tcs));
	uint8_t *buf = fx_page_buf(0);
	const uint64_t reg = SGX_SECINFO_REG;

	assert_non_null(secs);
	assert_non_null(tcs);
	memset(e, 0, sizeof(*e));
	e->hw = hw;
	e->secs = fx_epc_page(hw, first);
	for (unsigned int n = 0; n < EF_PAGES; n++)
		e->page[n] = fx_epc_page(hw, first + 1 + n);

	fx_secs_init(secs, FX_BASE, FX_SIZE, p->attributes);
	secs->xfrm = p->xfrm;
	secs->miscselect = p->miscselect;
	if (p->ssa_frame_size)
		secs->ssa_frame_size = p->ssa_frame_size;
	memcpy(secs->config_id, p->config_id, sizeof(secs->config_id));
	secs->config_svn = p->config_svn;
	assert_int_equal(fx_ecreate(hw, e->secs, secs), SGX_SUCCESS);

	fx_tcs_init(tcs);
	tcs->flags = p->tcs_flags;
	tcs->ssa_offset = EF_SSA * SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = EF_NSSA;
	tcs->entry_offset = EF_OENTRY;
	tcs->fs_offset = EF_OFSBASE;
	tcs->gs_offset = EF_OGSBASE;
	add_page(e, EF_TCS, tcs, SGX_SECINFO_TCS);

	memset(buf, p->code_byte, SGX_PAGE_SIZE);
	add_page(e, EF_CODE, buf, reg | SGX_SECINFO_R | SGX_SECINFO_X);
	memset(buf, 0, SGX_PAGE_SIZE);
	for (unsigned int i = 0; i < EF_NSSA; i++)
		add_page(e, EF_SSA + i, buf, reg | SGX_SECINFO_R | SGX_SECINFO_W);
	add_page(e, EF_DATA, buf, reg | SGX_SECINFO_R | SGX_SECINFO_W);
	memset(buf, 0x5A, SGX_PAGE_SIZE);
	add_page(e, EF_RODATA, buf, reg | SGX_SECINFO_R);
	if (!p->no_einit)
		einit(hw, e->secs, p);

	e->mmu_state.base = FX_BASE;
	for (unsigned int n = 0; n < EF_PAGES; n++) {
		e->mmu_state.map[n] = e->page[n];
		e->mmu_state.prot[n] = HW_MMU_READ | HW_MMU_WRITE | HW_MMU_EXEC;
	}
	e->mmu.translate = ef_translate;
	e->mmu.ctx = &e->mmu_state;
	free(secs);
	free(tcs);
	free(buf);
}

void ef_regs_outside(struct sgx_cpu_regs *regs, uint64_t leaf)
{
	sgx_cpu_regs_init(regs);
	regs->rax = leaf;
	regs->rbx = ef_la(EF_TCS);
	regs->rcx = EF_AEP;
	regs->rip = EF_OUTSIDE_RIP;
	regs->rsp = EF_OUTSIDE_RSP;
	regs->rbp = EF_OUTSIDE_RBP;
	regs->rflags = 0x202;
	regs->fsbase = EF_OUTSIDE_FS;
	regs->gsbase = EF_OUTSIDE_GS;
}

void ef_enter(struct ef_enclave *e, struct sgx_lp *lp, struct sgx_cpu_regs *regs)
{
	ef_regs_outside(regs, SGX_EENTER);
	assert_int_equal(enclu_eenter(e->hw, lp, &e->mmu, regs), SGX_SUCCESS);
	assert_true(lp->inside);
}

void ef_exit(struct ef_enclave *e, struct sgx_lp *lp, struct sgx_cpu_regs *regs)
{
	regs->rax = SGX_EEXIT;
	regs->rbx = EF_EXIT_TARGET;
	assert_int_equal(enclu_eexit(e->hw, lp, &e->mmu, regs), SGX_SUCCESS);
	assert_false(lp->inside);
}
