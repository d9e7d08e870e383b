// SPDX-License-Identifier: MIT
/*
 * Enclave accesses made by the ENCLU leaves: the caller's page tables first,
 * then the EPCM, as the SDM's leaf flows check them ("IF (EPCM(DS:RBX).VALID
 * = 0) THEN #PF(DS:RBX)" and the like). Faults are recorded in the sgx_lp.
 *
 * The EPCM fields are read without the entry lock, as the leaves on a page's
 * contents (not its metadata) run concurrently with the ENCLS leaves in the
 * SDM's concurrency tables; a leaf that changes the entry under its exclusive
 * lock is either wholly before or wholly after on a real processor, and a
 * reader here sees one of the two.
 */
#include <string.h>

#include "hw/enclu_internal.h"

void sgx_lp_init(struct sgx_lp *lp)
{
	memset(lp, 0, sizeof(*lp));
	lp->cr.secs_pfn = NO_PFN;
}

void sgx_cpu_regs_init(struct sgx_cpu_regs *regs)
{
	uint16_t fcw = SGX_FCW_INIT;
	uint32_t mxcsr = SGX_MXCSR_INIT;

	memset(regs, 0, sizeof(*regs));
	memcpy(regs->xsave + SGX_XSAVE_FCW, &fcw, sizeof(fcw));
	memcpy(regs->xsave + SGX_XSAVE_MXCSR, &mxcsr, sizeof(mxcsr));
	regs->xsave_len = SGX_XSAVE_LEGACY_SIZE + SGX_XSAVE_HEADER_SIZE;
}

int enclu_gp(struct sgx_lp *lp)
{
	lp->fault_addr = 0;
	lp->fault_errcode = 0;
	return ENCLS_FAULT(X86_TRAP_GP);
}

int enclu_pf(struct sgx_lp *lp, uint64_t addr, uint32_t errcode)
{
	lp->fault_addr = addr;
	lp->fault_errcode = errcode;
	return ENCLS_FAULT(X86_TRAP_PF);
}

int enclu_translate(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		    uint64_t linaddr, int access, struct epc_ref *ref)
{
	uint64_t page = linaddr & ~(SGX_PAGE_SIZE - 1);
	uint32_t errcode = 0;
	void *epc = NULL;

	if (!mmu->translate(mmu->ctx, page, access, &epc, &errcode))
		return enclu_pf(lp, linaddr, errcode);
	/* Mapped, but not to EPC: the leaf's "does not resolve to an EPC page". */
	if (!epc || !is_aligned(epc, SGX_PAGE_SIZE) || !epc_resolve(hw, epc, false, ref) || !ref->e)
		return enclu_pf(lp, linaddr, enclu_epcm_errcode(access));
	return SGX_SUCCESS;
}

bool enclu_epcm_usable(const struct epcm_entry *e, uint64_t linaddr, uint8_t type,
		       uint64_t secs_pfn, uint8_t perms)
{
	return e->valid && !e->blocked &&
	       !(e->flags & (SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED)) && e->type == type &&
	       e->linaddr == (linaddr & ~(SGX_PAGE_SIZE - 1)) &&
	       (secs_pfn == ENCLU_ANY_SECS || e->secs_pfn == secs_pfn) &&
	       (e->flags & perms) == perms;
}

int enclu_enclave_page(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		       uint64_t linaddr, int access, uint8_t type, uint64_t secs_pfn, uint8_t perms,
		       struct epc_ref *ref)
{
	int ret = enclu_translate(hw, lp, mmu, linaddr, access, ref);

	if (ret)
		return ret;
	if (enclu_epcm_usable(ref->e, linaddr, type, secs_pfn, perms))
		return SGX_SUCCESS;
	/*
	 * The model's walk and this check are two steps, and the kernel may
	 * have unmapped the page between them, then blocked or written it
	 * out. On the processor the unmapping's TLB shootdown completes
	 * before the kernel's EBLOCK (Linux zaps the PTEs first), so the walk
	 * itself would have failed: walk again, and a page no longer mapped
	 * gets that not-present #PF, which the kernel resolves, instead of an
	 * EPCM #PF that nothing can. A walk the caller remembers is not a
	 * walk: forget it first.
	 */
	if (mmu->flush)
		mmu->flush(mmu->ctx);
	ret = enclu_translate(hw, lp, mmu, linaddr, access, ref);
	if (ret)
		return ret;
	if (!enclu_epcm_usable(ref->e, linaddr, type, secs_pfn, perms))
		return enclu_pf(lp, linaddr, enclu_epcm_errcode(access));
	return SGX_SUCCESS;
}

int enclu_operand_gp(struct sgx_lp *lp, uint64_t linaddr, uint64_t size, uint64_t align)
{
	uint64_t base = lp->cr.base, end = lp->cr.base + lp->cr.size;

	if (linaddr & (align - 1))
		return enclu_gp(lp);
	if (linaddr < base || linaddr >= end || size > end - linaddr)
		return enclu_gp(lp);
	return SGX_SUCCESS;
}

int enclu_operand_page(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		       uint64_t linaddr, int access, uint8_t **out)
{
	uint8_t perms = SGX_SECINFO_R | ((access & HW_MMU_WRITE) ? SGX_SECINFO_W : 0);
	struct epc_ref ref;
	int ret;

	ret = enclu_enclave_page(hw, lp, mmu, linaddr, access, SGX_PAGE_TYPE_REG, lp->cr.secs_pfn,
				 perms, &ref);
	if (ret)
		return ret;
	*out = ref.page + (linaddr & (SGX_PAGE_SIZE - 1));
	return SGX_SUCCESS;
}

struct sgx_secs *enclu_current_secs(struct sgx_hw *hw, const struct sgx_lp *lp)
{
	struct epc_ref ref;

	/* A thread inside keeps its TCS, so the SECS cannot go away. */
	if (!epc_resolve_pfn(hw, lp->cr.secs_pfn, &ref))
		return NULL;
	return (struct sgx_secs *)ref.page;
}
