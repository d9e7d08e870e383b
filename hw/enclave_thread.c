// SPDX-License-Identifier: MIT
/*
 * Bookkeeping of logical processors inside an enclave, shared by EENTER,
 * ERESUME, EEXIT and AEX: the TCS is busy while a thread uses it, the SECS
 * counts threads inside (EREMOVE answers ENCLAVE_ACT while any are), and each
 * thread remembers the ETRACK epoch it entered in, so that leaving retires it
 * from a tracking cycle that counted it.
 */
#include "hw/enclu.h"
#include "hw/hw_internal.h"

/*
 * @entering: a blocked TCS cannot be entered, but a thread inside leaves
 * through its TCS even when the reclaimer has blocked it meanwhile (the
 * EWB that follows waits for exactly that leave).
 */
static int resolve_tcs(struct sgx_hw *hw, void *tcs, bool entering, struct epc_ref *ref,
		       struct epc_ref *secs)
{
	if (!is_aligned(tcs, SGX_PAGE_SIZE) || !epc_resolve(hw, tcs, false, ref) || !ref->e)
		return ENCLS_FAULT(X86_TRAP_GP);
	if (!ref->e->valid || (entering && ref->e->blocked) ||
	    !epc_resolve_pfn(hw, ref->e->secs_pfn, secs))
		return ENCLS_FAULT(X86_TRAP_GP);
	/*
	 * EMODT may have made the TCS of a thread inside a TRIM page (SGX2):
	 * the thread still leaves through it, and must be counted out.
	 */
	if (ref->e->type != SGX_PAGE_TYPE_TCS && (entering || ref->e->type != SGX_PAGE_TYPE_TRIM))
		return ENCLS_FAULT(X86_TRAP_GP);
	return SGX_SUCCESS;
}

/*
 * ETRACK holds the SECS exclusively while it reads the thread count and
 * bumps the epoch; entering and leaving hold it shared
 * (epcm_hold_shared()), so a thread is either wholly before or wholly after
 * an ETRACK. The hold is brief.
 */
int hw_enclave_enter(struct sgx_hw *hw, void *tcs)
{
	struct epc_ref ref, secs;
	uint32_t idle = 0;
	int ret;

	ret = resolve_tcs(hw, tcs, true, &ref, &secs);
	if (ret)
		return ret;
	if (!(((struct sgx_secs *)secs.page)->attributes & SGX_ATTR_INIT))
		return ENCLS_FAULT(X86_TRAP_GP);
	if (!atomic_compare_exchange_strong(&ref.e->tcs_busy, &idle, 1))
		return ENCLS_FAULT(X86_TRAP_GP);
	epcm_hold_shared(secs.e);
	atomic_fetch_add(&secs.e->threads, 1);
	ref.e->entry_epoch = atomic_load(&secs.e->epoch);
	epcm_unlock_shared(secs.e);
	return SGX_SUCCESS;
}

void hw_enclave_leave(struct sgx_hw *hw, void *tcs)
{
	struct epc_ref ref, secs;

	if (resolve_tcs(hw, tcs, false, &ref, &secs) || !atomic_load(&ref.e->tcs_busy))
		return;
	epcm_hold_shared(secs.e);
	/* Counted by an ETRACK that ran while this thread was inside. */
	if (ref.e->entry_epoch < atomic_load(&secs.e->epoch))
		atomic_fetch_sub(&secs.e->trk_pending, 1);
	atomic_fetch_sub(&secs.e->threads, 1);
	epcm_unlock_shared(secs.e);
	atomic_store(&ref.e->tcs_busy, 0);
}

void sgx_lp_vanish(struct sgx_hw *hw, struct sgx_lp *lp)
{
	/*
	 * Only between leaves (the shim's fork() waits for every thread in
	 * the model): counted in exactly when inside.
	 */
	if (lp->inside && lp->cr.tcs)
		hw_enclave_leave(hw, lp->cr.tcs);
	sgx_lp_init(lp);
}
