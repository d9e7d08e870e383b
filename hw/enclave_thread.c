// SPDX-License-Identifier: MIT
/*
 * Bookkeeping of logical processors inside an enclave, shared by EENTER,
 * ERESUME, EEXIT and AEX: the TCS is busy while a thread uses it, the SECS
 * counts threads inside (EREMOVE answers ENCLAVE_ACT while any are), and each
 * thread remembers the ETRACK epoch it entered in, so that leaving retires it
 * from a tracking cycle that counted it.
 */
#include "hw/enclu.h"
#include "hw/enclu_internal.h"
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
int hw_enclave_enter_resolved(struct sgx_hw *hw, struct epcm_entry *tcs,
			      const struct epc_ref *secs)
{
	uint32_t idle = 0;

	if (!(((struct sgx_secs *)secs->page)->attributes & SGX_ATTR_INIT))
		return ENCLS_FAULT(X86_TRAP_GP);
	/* Busy with our owner token: whose thread holds it, should its process go. */
	if (!atomic_compare_exchange_strong(&tcs->tcs_busy, &idle, hw->owner))
		return ENCLS_FAULT(X86_TRAP_GP);
	epcm_hold_shared(secs->e);
	atomic_fetch_add(&secs->e->threads, 1);
	tcs->entry_epoch = atomic_load(&secs->e->epoch);
	epcm_unlock_shared(secs->e);
	return SGX_SUCCESS;
}

int hw_enclave_enter(struct sgx_hw *hw, void *tcs)
{
	struct epc_ref ref, secs;
	int ret;

	ret = resolve_tcs(hw, tcs, true, &ref, &secs);
	if (ret)
		return ret;
	return hw_enclave_enter_resolved(hw, ref.e, &secs);
}

/* @v - 1, but never below 0. */
static void dec_floor(_Atomic uint32_t *v)
{
	uint32_t cur = atomic_load(v);

	while (cur && !atomic_compare_exchange_weak(v, &cur, cur - 1))
		;
}

/*
 * The thread on the TCS of @tcs leaves its enclave, whose SECS is @secs.
 * A process killed between the TCS's busy flag and the SECS's count (a few
 * instructions of hw_enclave_enter() or of this function) leaves them
 * apart; the counts of a gone thread go down only as far as 0, so that the
 * enclave can still be removed rather than count 2^32 threads inside.
 */
static void leave(struct epcm_entry *tcs, struct epcm_entry *secs)
{
	epcm_hold_shared(secs);
	/* Counted by an ETRACK that ran while this thread was inside. */
	if (tcs->entry_epoch < atomic_load(&secs->epoch))
		dec_floor(&secs->trk_pending);
	dec_floor(&secs->threads);
	epcm_unlock_shared(secs);
	/* Released to the next entry's compare-exchange, which acquires it. */
	atomic_store_explicit(&tcs->tcs_busy, 0, memory_order_release);
}

void hw_enclave_leave(struct sgx_hw *hw, void *tcs)
{
	struct epc_ref ref, secs;

	if (resolve_tcs(hw, tcs, false, &ref, &secs) || !atomic_load(&ref.e->tcs_busy))
		return;
	leave(ref.e, secs.e);
}

uint32_t sgx_hw_owner(const struct sgx_hw *hw)
{
	return hw->owner;
}

/*
 * Only the pages that may hold EPCM state (up to each section's chunks_end)
 * are looked at: O(EPC used). The gone process's threads can no longer
 * enter or leave, so nothing races the release of their TCS pages but
 * other processes' threads on other TCS pages, which the SECS lock orders
 * as for any leave. The SECS is waited for (epcm_hold_shared()) only while
 * an ENCLS leaf of the owner holds it exclusively, which is brief: views
 * never take an exclusive lock.
 */
unsigned int sgx_hw_owner_gone(struct sgx_hw *hw, uint32_t owner)
{
	unsigned int released = 0;

	if (!owner)
		return 0;
	for (unsigned int i = 0; i < hw->nr_sections; i++) {
		struct hw_section *s = &hw->sec[i];
		uint64_t end = epcm_chunks_end(s);

		for (uint64_t c = 0; c < end; c++) {
			struct epcm_entry *chunk = epcm_chunk(s, c);

			for (unsigned int j = 0; chunk && j < EPCM_CHUNK_PAGES; j++) {
				struct epcm_entry *e = &chunk[j];
				struct epc_ref secs;

				if (atomic_load(&e->tcs_busy) != owner || !e->valid ||
				    (e->type != SGX_PAGE_TYPE_TCS && e->type != SGX_PAGE_TYPE_TRIM) ||
				    !epc_resolve_pfn(hw, e->secs_pfn, &secs))
					continue;
				leave(e, secs.e);
				released++;
			}
		}
	}
	return released;
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
