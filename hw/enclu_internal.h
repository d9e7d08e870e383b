/* SPDX-License-Identifier: MIT */
/*
 * What the ENCLU leaves share inside hw/: fault reporting into the sgx_lp,
 * and the checks of an enclave access (the caller's page tables, then the
 * EPCM) that EENTER/ERESUME apply to the TCS and the SSA frame and
 * EREPORT/EGETKEY to their operands.
 */
#ifndef SOFTSGX_ENCLU_INTERNAL_H
#define SOFTSGX_ENCLU_INTERNAL_H

#include "hw/enclu.h"
#include "hw/hw_internal.h"

/* Record a #GP in @lp and return ENCLS_FAULT(X86_TRAP_GP). */
int enclu_gp(struct sgx_lp *lp);
/* Record a #PF at @addr with @errcode in @lp and return ENCLS_FAULT(X86_TRAP_PF). */
int enclu_pf(struct sgx_lp *lp, uint64_t addr, uint32_t errcode);

/* 48-bit canonical: bits 63..47 all equal. */
static inline bool enclu_canonical(uint64_t addr)
{
	uint64_t top = addr >> 47;

	return top == 0 || top == 0x1FFFF;
}

/* Error code of a #PF that an EPCM check raised on a present mapping. */
static inline uint32_t enclu_epcm_errcode(int access)
{
	return X86_PF_SGX | X86_PF_USER | X86_PF_PROT |
	       ((access & HW_MMU_WRITE) ? X86_PF_WRITE : 0);
}

/* Match any owning SECS in enclu_enclave_page(). */
#define ENCLU_ANY_SECS NO_PFN

/*
 * The first half of an enclave access: translate the page holding @linaddr
 * through @mmu (#PF with the MMU's error code) to an EPC page (#PF with
 * X86_PF_SGX when it is none). On success @ref is the page; its EPCM entry
 * is not checked.
 */
int enclu_translate(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		    uint64_t linaddr, int access, struct epc_ref *ref);

/* The EPCM half: the conditions enclu_enclave_page() lists, true when all hold. */
bool enclu_epcm_usable(const struct epcm_entry *e, uint64_t linaddr, uint8_t type,
		       uint64_t secs_pfn, uint8_t perms);

/*
 * An access to the enclave page holding @linaddr: translate it through @mmu
 * (#PF with the MMU's error code), then require an EPC page whose EPCM entry
 * is valid, not blocked, neither PENDING nor MODIFIED, of type @type, at
 * linear address @linaddr's page, owned by @secs_pfn (unless
 * ENCLU_ANY_SECS) and with at least the permissions @perms (#PF at @linaddr
 * with X86_PF_SGX otherwise). On success @ref is the page.
 */
int enclu_enclave_page(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		       uint64_t linaddr, int access, uint8_t type, uint64_t secs_pfn, uint8_t perms,
		       struct epc_ref *ref);

/*
 * The alignment and ELRANGE checks of a memory operand of EREPORT or EGETKEY:
 * #GP unless @linaddr is @align-aligned and [@linaddr, @linaddr + @size) lies
 * inside the current enclave.
 */
int enclu_operand_gp(struct sgx_lp *lp, uint64_t linaddr, uint64_t size, uint64_t align);

/*
 * The page checks of such an operand (a REG page of the current enclave,
 * readable, and writable for HW_MMU_WRITE); *@out is where the operand lives.
 */
int enclu_operand_page(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		       uint64_t linaddr, int access, uint8_t **out);

/* The SECS of the enclave @lp is inside. */
struct sgx_secs *enclu_current_secs(struct sgx_hw *hw, const struct sgx_lp *lp);

/*
 * hw_enclave_enter() for a leaf that has found the TCS and its SECS
 * already, with the TCS's entry held shared and checked usable (a valid,
 * unblocked TCS page): the same result without resolving them again.
 */
int hw_enclave_enter_resolved(struct sgx_hw *hw, struct epcm_entry *tcs,
			      const struct epc_ref *secs);

#endif /* SOFTSGX_ENCLU_INTERNAL_H */
