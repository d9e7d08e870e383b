// SPDX-License-Identifier: MIT
/*
 * The SGX2 ENCLU leaves an enclave runs to take part in changes to its own
 * memory (SDM Vol. 3D, "Intel SGX Instruction References"): EACCEPT
 * confirms what EAUG, EMODPR or EMODT did, EACCEPTCOPY fills a page EAUG
 * added from another page and accepts it, EMODPE extends a page's
 * permissions without the OS.
 *
 * Each runs the SDM's checks in the SDM's order. A faulting leaf changes no
 * register and no memory; EACCEPT and EACCEPTCOPY report SGX return codes
 * in RAX with ZF, as EGETKEY does.
 */
#include <string.h>

#include "hw/enclu_internal.h"

#define RESULT_FLAGS                                                                               \
	(X86_EFLAGS_ZF | X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_OF |           \
	 X86_EFLAGS_SF)

/* RAX = @code, ZF set on error, CF/PF/AF/OF/SF cleared, RIP past ENCLU. */
static int leaf_result(struct sgx_cpu_regs *regs, int code)
{
	regs->rax = (uint64_t)code;
	regs->rflags &= ~RESULT_FLAGS;
	if (code)
		regs->rflags |= X86_EFLAGS_ZF;
	regs->rip += SGX_ENCLU_LEN;
	return code;
}

/*
 * The SECINFO operand at @la: #GP unless 64-byte aligned inside ELRANGE,
 * #PF unless on a readable REG page of this enclave that is neither PENDING
 * nor MODIFIED nor blocked. Copied into *@si (SCRATCH_SECINFO).
 */
static int read_secinfo(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu, uint64_t la,
			struct sgx_secinfo *si)
{
	struct epc_ref ref;
	int ret;

	ret = enclu_enclave_page(hw, lp, mmu, la, HW_MMU_READ, SGX_PAGE_TYPE_REG, lp->cr.secs_pfn,
				 SGX_SECINFO_R, &ref);
	if (ret)
		return ret;
	memcpy(si, ref.page + (la & (SGX_PAGE_SIZE - 1)), sizeof(*si));
	return SGX_SUCCESS;
}

/* A page operand: 4 KiB aligned and inside ELRANGE, or #GP. */
static int page_operand_gp(struct sgx_lp *lp, uint64_t la)
{
	return enclu_operand_gp(lp, la, SGX_PAGE_SIZE, SGX_PAGE_SIZE);
}

/* Both levels of the target's lock (epcm_entry.sgx2_busy); false when in use. */
static bool target_lock(struct epcm_entry *e)
{
	if (!epcm_trylock_shared(e))
		return false;
	if (!epcm_sgx2_trylock(e)) {
		epcm_unlock_shared(e);
		return false;
	}
	return true;
}

static void target_unlock(struct epcm_entry *e)
{
	epcm_sgx2_unlock(e);
	epcm_unlock_shared(e);
}

/*
 * The SECINFO of EACCEPT asks for a legal change: a REG page that is
 * PENDING (EAUG) or PR (EMODPR), not MODIFIED; or a TCS or TRIM page that
 * is MODIFIED (EMODT), neither PENDING nor PR.
 */
static bool eaccept_request_legal(uint64_t flags)
{
	unsigned int type = SGX_SECINFO_PAGE_TYPE(flags);
	bool pending = flags & SGX_SECINFO_PENDING, modified = flags & SGX_SECINFO_MODIFIED,
	     pr = flags & SGX_SECINFO_PR;

	if (type == SGX_PAGE_TYPE_REG)
		return (pr || pending) && !modified;
	if (type == SGX_PAGE_TYPE_TCS || type == SGX_PAGE_TYPE_TRIM)
		return !pr && !pending && modified;
	return false;
}

/* "Verify that accept request matches current EPC page settings": all but PR. */
static bool eaccept_matches(const struct epcm_entry *e, uint64_t la, uint64_t flags)
{
	const uint64_t cmp = EPCM_PERM_MASK | SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED;

	return e->linaddr == la && (e->flags & cmp) == (flags & cmp) &&
	       e->type == SGX_SECINFO_PAGE_TYPE(flags);
}

/*
 * "Tracking not correct": the page was changed by EMODPR or EMODT, and no
 * ETRACK cycle begun after the change has seen every thread then inside
 * leave. Held shared so that ETRACK's two updates are seen together.
 */
static bool eaccept_tracked(struct sgx_hw *hw, const struct epcm_entry *e)
{
	struct epc_ref secs;
	bool done;

	if (!(e->flags & (SGX_SECINFO_MODIFIED | SGX_SECINFO_PR)) || !e->mod_untracked)
		return true;
	/* The caller is inside this enclave, so its SECS is resident. */
	if (!epc_resolve_pfn(hw, e->secs_pfn, &secs))
		return false;
	epcm_hold_shared(secs.e);
	done = epcm_epoch_tracked(secs.e, e->mod_epoch);
	epcm_unlock_shared(secs.e);
	return done;
}

/* The TCS checks of EACCEPT for a page becoming a TCS; #GP when one fails. */
static bool eaccept_tcs_ok(const struct sgx_tcs *tcs, const struct sgx_secs *secs)
{
	if (!all_zero(tcs->reserved, sizeof(tcs->reserved)) || tcs->flags)
		return false;
	if (tcs->ssa_index >= tcs->nr_ssa_frames || tcs->exit_addr || tcs->state)
		return false;
	if (!(secs->attributes & SGX_ATTR_MODE64BIT) &&
	    ((tcs->fs_limit & 0xFFF) != 0xFFF || (tcs->gs_limit & 0xFFF) != 0xFFF))
		return false;
	return true;
}

/* Under the target's lock, from "Re-Check security attributes" on. */
static int eaccept_locked(struct sgx_hw *hw, struct sgx_lp *lp, struct sgx_cpu_regs *regs,
			  struct epc_ref *ref, uint64_t la, uint64_t flags)
{
	struct epcm_entry *e = ref->e;

	if (!e->valid || e->secs_pfn != lp->cr.secs_pfn)
		return enclu_pf(lp, la, enclu_epcm_errcode(HW_MMU_READ));
	if (!eaccept_matches(e, la, flags))
		return leaf_result(regs, SGX_PAGE_ATTRIBUTES_MISMATCH);
	if (!eaccept_tracked(hw, e))
		return leaf_result(regs, SGX_NOT_TRACKED);
	if (SGX_SECINFO_PAGE_TYPE(flags) == SGX_PAGE_TYPE_TCS &&
	    !eaccept_tcs_ok((const struct sgx_tcs *)ref->page, enclu_current_secs(hw, lp)))
		return enclu_gp(lp);
	e->flags &= (uint8_t)~EPCM_STATE_MASK;
	e->mod_untracked = 0;
	return leaf_result(regs, SGX_SUCCESS);
}

int enclu_eaccept(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		  struct sgx_cpu_regs *regs)
{
	uint64_t si_la = regs->rbx, la = regs->rcx;
	struct sgx_secinfo si;
	struct epc_ref ref;
	struct epcm_entry *e;
	unsigned int type;
	int ret;

	if (!lp->inside)
		return enclu_gp(lp);
	ret = enclu_operand_gp(lp, si_la, sizeof(si), 64);
	if (ret)
		return ret;
	ret = read_secinfo(hw, lp, mmu, si_la, &si);
	if (ret)
		return ret;
	if (secinfo_sgx2_reserved(&si))
		return enclu_gp(lp);
	ret = page_operand_gp(lp, la);
	if (ret)
		return ret;
	ret = enclu_translate(hw, lp, mmu, la, HW_MMU_READ, &ref);
	if (ret)
		return ret;
	if (!eaccept_request_legal(si.flags))
		return enclu_gp(lp);
	e = ref.e;
	type = e->type;
	if (!e->valid || e->blocked ||
	    (type != SGX_PAGE_TYPE_REG && type != SGX_PAGE_TYPE_TCS &&
	     type != SGX_PAGE_TYPE_TRIM) ||
	    e->secs_pfn != lp->cr.secs_pfn)
		return enclu_pf(lp, la, enclu_epcm_errcode(HW_MMU_READ));
	if (!target_lock(e))
		return enclu_gp(lp);
	ret = eaccept_locked(hw, lp, regs, &ref, la, si.flags);
	target_unlock(e);
	return ret;
}

/* The destination of EACCEPTCOPY as EAUG left it, in this enclave at @la. */
static bool eacceptcopy_dest_ok(const struct epcm_entry *e, const struct sgx_lp *lp, uint64_t la,
				bool recheck)
{
	const uint8_t want = SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_PENDING;

	if (!e->valid || e->blocked || e->type != SGX_PAGE_TYPE_REG ||
	    e->secs_pfn != lp->cr.secs_pfn)
		return false;
	if (!recheck)
		return (e->flags & (SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED)) ==
		       SGX_SECINFO_PENDING;
	/* The re-check also wants EAUG's RW and the page's linear address. */
	return (e->flags & (EPCM_PERM_MASK | SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED)) == want &&
	       e->linaddr == la;
}

int enclu_eacceptcopy(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		      struct sgx_cpu_regs *regs)
{
	uint64_t si_la = regs->rbx, la = regs->rcx, src_la = regs->rdx;
	struct epc_ref ref, src, si_ref;
	struct sgx_secinfo si;
	struct epcm_entry *e;
	int ret;

	if (!lp->inside)
		return enclu_gp(lp);
	if ((si_la & 63) || (la & (SGX_PAGE_SIZE - 1)) || (src_la & (SGX_PAGE_SIZE - 1)))
		return enclu_gp(lp);
	if (enclu_operand_gp(lp, si_la, sizeof(si), 64) || page_operand_gp(lp, la) ||
	    page_operand_gp(lp, src_la))
		return enclu_gp(lp);
	/* "Does not resolve within an EPC", for the three operands in turn. */
	ret = enclu_translate(hw, lp, mmu, si_la, HW_MMU_READ, &si_ref);
	if (!ret)
		ret = enclu_translate(hw, lp, mmu, la, HW_MMU_READ | HW_MMU_WRITE, &ref);
	if (!ret)
		ret = enclu_translate(hw, lp, mmu, src_la, HW_MMU_READ, &src);
	if (ret)
		return ret;
	if (!enclu_epcm_usable(si_ref.e, si_la, SGX_PAGE_TYPE_REG, lp->cr.secs_pfn, SGX_SECINFO_R))
		return enclu_pf(lp, si_la, enclu_epcm_errcode(HW_MMU_READ));
	memcpy(&si, si_ref.page + (si_la & (SGX_PAGE_SIZE - 1)), sizeof(si));
	if (secinfo_sgx2_reserved(&si) ||
	    ((si.flags & SGX_SECINFO_W) && !(si.flags & SGX_SECINFO_R)) ||
	    SGX_SECINFO_PAGE_TYPE(si.flags) != SGX_PAGE_TYPE_REG)
		return enclu_gp(lp);
	if (!enclu_epcm_usable(src.e, src_la, SGX_PAGE_TYPE_REG, lp->cr.secs_pfn, SGX_SECINFO_R))
		return enclu_pf(lp, src_la, enclu_epcm_errcode(HW_MMU_READ));
	e = ref.e;
	/* The SDM answers a destination that is no pending page with a code, not a fault. */
	if (!eacceptcopy_dest_ok(e, lp, la, false))
		return leaf_result(regs, SGX_PAGE_ATTRIBUTES_MISMATCH);
	if (!target_lock(e))
		return enclu_gp(lp);
	if (!eacceptcopy_dest_ok(e, lp, la, true)) {
		ret = leaf_result(regs, SGX_PAGE_ATTRIBUTES_MISMATCH);
	} else {
		memcpy(ref.page, src.page, SGX_PAGE_SIZE);
		e->flags = (uint8_t)(si.flags & EPCM_PERM_MASK);
		ret = leaf_result(regs, SGX_SUCCESS);
	}
	target_unlock(e);
	return ret;
}

/* The target of EMODPE: a REG page of this enclave, not PENDING/MODIFIED/blocked. */
static bool emodpe_target_ok(const struct epcm_entry *e, const struct sgx_lp *lp)
{
	return e->valid && !e->blocked && e->type == SGX_PAGE_TYPE_REG &&
	       !(e->flags & (SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED)) &&
	       e->secs_pfn == lp->cr.secs_pfn;
}

int enclu_emodpe(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		 struct sgx_cpu_regs *regs)
{
	uint64_t si_la = regs->rbx, la = regs->rcx;
	struct epc_ref ref, si_ref;
	struct sgx_secinfo si;
	struct epcm_entry *e;
	int ret;

	if (!lp->inside)
		return enclu_gp(lp);
	if ((si_la & 63) || (la & (SGX_PAGE_SIZE - 1)))
		return enclu_gp(lp);
	if (enclu_operand_gp(lp, si_la, sizeof(si), 64) || page_operand_gp(lp, la))
		return enclu_gp(lp);
	ret = enclu_translate(hw, lp, mmu, si_la, HW_MMU_READ, &si_ref);
	if (!ret)
		ret = enclu_translate(hw, lp, mmu, la, HW_MMU_READ, &ref);
	if (ret)
		return ret;
	if (!enclu_epcm_usable(si_ref.e, si_la, SGX_PAGE_TYPE_REG, lp->cr.secs_pfn, SGX_SECINFO_R))
		return enclu_pf(lp, si_la, enclu_epcm_errcode(HW_MMU_READ));
	memcpy(&si, si_ref.page + (si_la & (SGX_PAGE_SIZE - 1)), sizeof(si));
	if (secinfo_sgx2_reserved(&si))
		return enclu_gp(lp);
	e = ref.e;
	if (!emodpe_target_ok(e, lp))
		return enclu_pf(lp, la, enclu_epcm_errcode(HW_MMU_READ));
	if (!target_lock(e))
		return enclu_gp(lp);
	if (!emodpe_target_ok(e, lp) || e->linaddr != la) {
		ret = enclu_pf(lp, la, enclu_epcm_errcode(HW_MMU_READ));
	} else if (!(e->flags & SGX_SECINFO_R) && !(si.flags & SGX_SECINFO_R) &&
		   (si.flags & SGX_SECINFO_W)) {
		/* Write without read is no permission a page can have. */
		ret = enclu_gp(lp);
	} else {
		e->flags |= (uint8_t)(si.flags & EPCM_PERM_MASK);
		/* No return code: RAX and the flags stay as they were. */
		regs->rip += SGX_ENCLU_LEN;
		ret = SGX_SUCCESS;
	}
	target_unlock(e);
	return ret;
}
