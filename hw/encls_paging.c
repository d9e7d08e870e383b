// SPDX-License-Identifier: MIT
/*
 * The leaves that page enclave memory out of and back into the EPC: EPA,
 * EBLOCK, ETRACK, EWB, ELDU and ELDB (SDM Vol. 3D, "Intel SGX Instruction
 * References"; the protocol in "EPC and Management of EPC Pages").
 *
 * The eviction protocol: EBLOCK stops new address translations to a page and
 * records the enclave's ETRACK epoch; ETRACK starts a tracking cycle that
 * counts the threads inside the enclave; EWB refuses the page until a cycle
 * that began after its EBLOCK has seen all those threads leave (NOT_TRACKED),
 * then seals it (page_crypto.c) under a fresh version kept in a VA slot.
 * ELDU/ELDB accept the page back only with a MAC that binds its contents,
 * type, permissions, enclave, address and that version, and empty the slot,
 * so a stale copy can never be loaded twice.
 *
 * EWB and ELDU/ELDB are all-or-nothing: every check and all cryptography run
 * on snapshots and scratch buffers, and the VA slot is claimed or released
 * with one compare-and-swap before anything becomes visible. A leaf that
 * fails has changed no EPC page, EPCM entry, VA slot or output buffer.
 */
#include <stddef.h>
#include <string.h>

#include "hw/hw_internal.h"
#include "hw/page_crypto.h"

#define GP ENCLS_FAULT(X86_TRAP_GP)
#define PF ENCLS_FAULT(X86_TRAP_PF)

#define PAGEINFO_ALIGN 32

/* The SECINFO.FLAGS bits a PCMD may carry: type, permissions, page state. */
#define PCMD_FLAGS_ALLOWED (SGX_SECINFO_PAGE_TYPE_MASK | EPCM_PERM_MASK | EPCM_STATE_MASK)

/*
 * What the MAC of an evicted page covers besides its contents: the first 112
 * bytes of its PCMD (SECINFO, enclave ID, reserved), then the page's linear
 * address and its version.
 */
struct page_mac_header {
	struct sgx_secinfo secinfo;
	uint64_t enclave_id;
	uint8_t reserved[40];
	uint64_t linaddr;
	uint64_t version;
};

_Static_assert(sizeof(struct page_mac_header) == 128, "MAC header size");
_Static_assert(offsetof(struct page_mac_header, enclave_id) ==
		       offsetof(struct sgx_pcmd, enclave_id),
	       "MAC header starts like a PCMD");
_Static_assert(offsetof(struct page_mac_header, reserved) == offsetof(struct sgx_pcmd, reserved),
	       "MAC header starts like a PCMD");
_Static_assert(offsetof(struct page_mac_header, linaddr) == offsetof(struct sgx_pcmd, mac),
	       "MAC header: LINADDR follows the 112 PCMD bytes");

/* The operands EWB, ELDU and ELDB share, after paging_get(). */
struct paging_op {
	struct sgx_pageinfo pi; /* snapshot: software may change PAGEINFO meanwhile */
	struct epc_ref page;	/* EWB source, ELDU/ELDB destination; locked exclusive */
	struct epc_ref va;	/* the VA page holding the slot; locked shared */
	uint64_t *slot;
};

/* Pages that belong to an enclave through a SECS, as opposed to SECS and VA. */
static bool is_child_type(unsigned int type)
{
	return type == SGX_PAGE_TYPE_REG || type == SGX_PAGE_TYPE_TCS ||
	       type == SGX_PAGE_TYPE_TRIM;
}

static bool is_va_page(const struct epcm_entry *e)
{
	return e->valid && e->type == SGX_PAGE_TYPE_VA;
}

/*
 * VA slots are read and written with atomics: the VA page is only locked
 * shared, so EWB and ELDU on other pages may use other slots of it, or race
 * for the same one, at the same time.
 */
static uint64_t slot_load(const uint64_t *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

static bool slot_swap(uint64_t *slot, uint64_t old, uint64_t new)
{
	return __atomic_compare_exchange_n(slot, &old, new, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

int leaf_epa(struct sgx_hw *hw, void *epc)
{
	struct epc_ref ref;
	int ret = SGX_SUCCESS;

	if (!is_aligned(epc, SGX_PAGE_SIZE))
		return GP;
	if (!epc_resolve(hw, epc, true, &ref))
		return PF;
	if (!epcm_trylock_excl(ref.e))
		return GP;
	if (ref.e->valid) {
		ret = PF;
		goto out;
	}
	/* A zero slot is an empty one. */
	memset(ref.page, 0, SGX_PAGE_SIZE);
	epcm_invalidate(ref.e);
	ref.e->type = SGX_PAGE_TYPE_VA;
	ref.e->valid = 1;
out:
	epcm_unlock_excl(ref.e);
	return ret;
}

static int eblock_locked(struct sgx_hw *hw, struct epcm_entry *e)
{
	struct epc_ref secs;
	int ret = SGX_SUCCESS;

	if (!e->valid)
		return SGX_PG_INVLD;
	if (!is_child_type(e->type))
		return SGX_NOTBLOCKABLE;
	/* Held exclusively by ETRACK, which is moving the epoch we must record. */
	if (!epcm_lock_secs_shared(hw, e, &secs))
		return SGX_ENTRYEPOCH_LOCKED;
	if (e->blocked) {
		ret = SGX_BLKSTATE;
	} else {
		e->blocked = 1;
		e->blk_epoch = atomic_load(&secs.e->epoch);
	}
	epcm_unlock_shared(secs.e);
	return ret;
}

/*
 * The SDM lets EBLOCK share its page with other leaves; the model takes the
 * lock exclusively because EBLOCK writes EPCM fields, which only an exclusive
 * holder may do here. It waits out the shared holders rather than failing:
 * Linux's reclaimer blocks a TCS while a thread may be in EENTER or ERESUME
 * on it (it only warns when EBLOCK fails, and the page would then be lost),
 * and the processor answers SUCCESS there. Waiting also keeps a TCS that a
 * thread is entering unblocked until that thread is counted in the SECS, so
 * the ETRACK after this EBLOCK waits for it.
 */
int leaf_eblock(struct sgx_hw *hw, void *epc)
{
	struct epc_ref ref;
	int ret;

	if (!is_aligned(epc, SGX_PAGE_SIZE))
		return GP;
	if (!epc_resolve(hw, epc, false, &ref))
		return PF;
	/* No EPCM chunk yet: no leaf ever made this page valid. */
	if (!ref.e)
		return SGX_PG_INVLD;
	if (!epcm_lock_excl_over_shared(ref.e))
		return SGX_EPC_PAGE_CONFLICT;
	ret = eblock_locked(hw, ref.e);
	epcm_unlock_excl(ref.e);
	return ret;
}

/*
 * The validity of the SECS is checked under its lock: EPCM fields are only
 * stable while a lock is held. A page that is both locked and invalid thus
 * answers EPC_PAGE_CONFLICT rather than #PF. Only an exclusive holder
 * conflicts: entries, exits and the leaves on the enclave's pages hold the
 * SECS shared, briefly, and the processor runs ETRACK next to them (Linux
 * never retries an ETRACK, so a conflict there would cost it the page whose
 * EWB needed the tracking cycle).
 */
int leaf_etrack(struct sgx_hw *hw, void *secs)
{
	struct epc_ref ref;
	struct epcm_entry *e;
	int ret = SGX_SUCCESS;

	if (!is_aligned(secs, SGX_PAGE_SIZE))
		return GP;
	if (!epc_resolve(hw, secs, false, &ref) || !ref.e)
		return PF;
	e = ref.e;
	if (!epcm_lock_excl_over_shared(e))
		return SGX_EPC_PAGE_CONFLICT;
	if (!e->valid || e->type != SGX_PAGE_TYPE_SECS) {
		ret = PF;
		goto out;
	}
	if (atomic_load(&e->trk_pending)) {
		ret = SGX_PREV_TRK_INCMPL;
		goto out;
	}
	/*
	 * Every thread inside now is one the new cycle waits for; each retires
	 * itself when it leaves (hw_enclave_leave()) because it entered in an
	 * older epoch. The count and the epoch are exact only if entering and
	 * leaving cannot interleave with these two stores, i.e. if they
	 * serialize against the SECS lock that ETRACK holds exclusively.
	 */
	atomic_store(&e->trk_pending, atomic_load(&e->threads));
	atomic_fetch_add(&e->epoch, 1);
out:
	epcm_unlock_excl(e);
	return ret;
}

/* Alignment of the operands EWB, ELDU and ELDB have in common; #GP otherwise. */
static bool paging_aligned(const struct sgx_pageinfo *pi, const void *epc, const void *va_slot)
{
	return is_aligned(op_ptr(pi->contents), SGX_PAGE_SIZE) &&
	       is_aligned(op_ptr(pi->metadata), sizeof(struct sgx_pcmd)) &&
	       is_aligned(epc, SGX_PAGE_SIZE) && is_aligned(va_slot, sizeof(uint64_t));
}

/*
 * Resolve the EPC page and the VA slot and take their locks: the page
 * exclusive, the VA page shared (the SDM's concurrency table for EWB and
 * ELDU/ELDB). EPCM entries are allocated so that lock conflicts are reported
 * before validity, in the SDM's order.
 */
static int paging_get(struct sgx_hw *hw, void *epc, void *va_slot, bool wait_shared,
		      struct paging_op *op)
{
	if (!epc_resolve(hw, epc, true, &op->page) || !epc_resolve(hw, va_slot, true, &op->va))
		return PF;
	/* A page cannot carry the slot that versions it. */
	if (op->page.e == op->va.e)
		return GP;
	if (!(wait_shared ? epcm_lock_excl_over_shared(op->page.e) : epcm_trylock_excl(op->page.e)))
		return GP;
	if (!epcm_trylock_shared(op->va.e)) {
		epcm_unlock_excl(op->page.e);
		return GP;
	}
	/* Through the resolved page: the operand may be a guest alias. */
	op->slot = (uint64_t *)(op->va.page + op->va.offset);
	return SGX_SUCCESS;
}

static void paging_put(struct paging_op *op)
{
	epcm_unlock_shared(op->va.e);
	epcm_unlock_excl(op->page.e);
}

/*
 * EWB checks specific to the page's type. For an enclave page, on success the
 * caller holds its SECS shared in @secs; @eid receives the enclave ID the
 * PCMD and the MAC carry.
 */
static int ewb_check_type(struct sgx_hw *hw, struct paging_op *op, struct epc_ref *secs,
			  uint64_t *eid)
{
	struct epcm_entry *e = op->page.e;

	switch (e->type) {
	case SGX_PAGE_TYPE_SECS:
		/* A SECS leaves last: its children name it by its EPC page. */
		if (atomic_load(&e->child_cnt))
			return SGX_CHILD_PRESENT;
		*eid = secs_hidden(op->page.page)->eid;
		return SGX_SUCCESS;
	case SGX_PAGE_TYPE_VA:
		/* No enclave owns a VA page, and no thread can hold a mapping of it. */
		*eid = 0;
		return SGX_SUCCESS;
	default:
		break;
	}
	if (!e->blocked)
		return SGX_PAGE_NOT_BLOCKED;
	if (!epcm_lock_secs_shared(hw, e, secs))
		return GP;
	if (!epcm_tracking_done(secs->e, e)) {
		epcm_unlock_shared(secs->e);
		return SGX_NOT_TRACKED;
	}
	*eid = secs_hidden(secs->page)->eid;
	return SGX_SUCCESS;
}

/* Seal the page, claim the VA slot, then publish and forget the page. */
static int ewb_commit(struct sgx_hw *hw, struct paging_op *op, struct sgx_pageinfo *pginfo,
		      struct epcm_entry *secs, uint64_t eid)
{
	struct epcm_entry *e = op->page.e;
	struct page_mac_header hdr;
	uint8_t cipher[SGX_PAGE_SIZE];
	uint8_t mac[PAGE_CRYPTO_MAC_SIZE];
	struct sgx_pcmd pcmd;
	uint64_t version;

	memset(&hdr, 0, sizeof(hdr));
	hdr.secinfo.flags = (uint64_t)e->type << 8 | e->flags;
	hdr.enclave_id = eid;
	hdr.linaddr = e->linaddr;
	version = atomic_fetch_add(&hw->next_version, 1);
	hdr.version = version;
	/*
	 * Sealed here, then copied out: GCM may read the ciphertext back from
	 * its output to hash it, and software can write the output buffer at
	 * any time, so sealing straight into it could tag bytes other than
	 * those encrypted. Also, a leaf that fails writes no output.
	 *
	 * Only libcrypto running out of host memory fails here. Real hardware
	 * has no such failure; a fault that changed nothing is the closest
	 * answer the leaf can give.
	 */
	if (page_seal(hw->paging_key, version, &hdr, sizeof(hdr), op->page.page, cipher, mac) !=
	    PAGE_CRYPTO_OK)
		return GP;
	/* Another EWB may have taken the slot since we looked; its version stands. */
	if (!slot_swap(op->slot, 0, version))
		return SGX_VA_SLOT_OCCUPIED;

	memset(&pcmd, 0, sizeof(pcmd));
	pcmd.secinfo = hdr.secinfo;
	pcmd.enclave_id = eid;
	memcpy(pcmd.mac, mac, sizeof(pcmd.mac));
	memcpy(op_ptr(op->pi.contents), cipher, SGX_PAGE_SIZE);
	memcpy(op_ptr(op->pi.metadata), &pcmd, sizeof(pcmd));
	pginfo->addr = e->linaddr;

	if (secs)
		atomic_fetch_sub(&secs->child_cnt, 1);
	epcm_invalidate(e);
	return SGX_SUCCESS;
}

int leaf_ewb(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	struct epc_ref secs = { .e = NULL };
	struct paging_op op;
	uint64_t eid = 0;
	int ret;

	if (!is_aligned(pginfo, PAGEINFO_ALIGN))
		return GP;
	op.pi = *pginfo;
	/* LINADDR is an output of EWB, and an evicted page names no SECS. */
	if (!paging_aligned(&op.pi, epc, va_slot) || op.pi.addr || op.pi.secs)
		return GP;
	/*
	 * The page's shared holders are waited out: EENTER or ERESUME on a
	 * TCS that EBLOCK has since blocked holds it a moment, only to find it
	 * blocked and fault. On the processor that entry never reaches the
	 * TCS (the kernel's TLB shootdown precedes EBLOCK), and Linux does not
	 * retry an EWB that faults: the page would be lost.
	 */
	ret = paging_get(hw, epc, va_slot, true, &op);
	if (ret)
		return ret;
	if (!op.page.e->valid || !is_va_page(op.va.e)) {
		ret = PF;
		goto out;
	}
	ret = ewb_check_type(hw, &op, &secs, &eid);
	if (ret) {
		secs.e = NULL; /* not locked */
		goto out;
	}
	if (slot_load(op.slot)) {
		ret = SGX_VA_SLOT_OCCUPIED;
		goto out;
	}
	ret = ewb_commit(hw, &op, pginfo, secs.e, eid);
out:
	if (secs.e)
		epcm_unlock_shared(secs.e);
	paging_put(&op);
	return ret;
}

/* The PCMD checks of ELDU/ELDB: reserved fields zero, a page type that exists. */
static bool pcmd_acceptable(const struct sgx_pcmd *pcmd)
{
	uint64_t flags = pcmd->secinfo.flags;
	unsigned int type = SGX_SECINFO_PAGE_TYPE(flags);

	if ((flags & ~(uint64_t)PCMD_FLAGS_ALLOWED) ||
	    !all_zero(pcmd->secinfo.reserved, sizeof(pcmd->secinfo.reserved)) ||
	    !all_zero(pcmd->reserved, sizeof(pcmd->reserved)))
		return false;
	return is_child_type(type) || type == SGX_PAGE_TYPE_SECS || type == SGX_PAGE_TYPE_VA;
}

/* The SECS an enclave page is loaded into; locked shared on success. */
static int eld_get_secs(struct sgx_hw *hw, struct paging_op *op, struct epc_ref *secs)
{
	if (!epc_resolve(hw, op_ptr(op->pi.secs), true, secs))
		return PF;
	/* The destination is invalid, so it is no SECS; and we hold it exclusive. */
	if (secs->e == op->page.e)
		return PF;
	if (!epcm_trylock_shared(secs->e))
		return GP;
	if (!secs->e->valid || secs->e->type != SGX_PAGE_TYPE_SECS) {
		epcm_unlock_shared(secs->e);
		return PF;
	}
	return SGX_SUCCESS;
}

/*
 * Authenticate and decrypt the page, release the VA slot, then make the page
 * valid. @secs is NULL for a SECS or VA page.
 */
static int eld_commit(struct sgx_hw *hw, struct paging_op *op, const struct sgx_pcmd *pcmd,
		      struct epc_ref *secs, uint64_t eid, bool block)
{
	struct epcm_entry *e = op->page.e;
	struct page_mac_header hdr;
	/* The ciphertext, then in place the plaintext: one private page. */
	uint8_t buf[SGX_PAGE_SIZE];
	enum page_crypto_status st;
	uint64_t version;
	int ret = SGX_SUCCESS;

	version = slot_load(op->slot);
	memset(&hdr, 0, sizeof(hdr));
	hdr.secinfo = pcmd->secinfo;
	hdr.enclave_id = eid;
	memcpy(hdr.reserved, pcmd->reserved, sizeof(hdr.reserved));
	hdr.linaddr = op->pi.addr;
	hdr.version = version;
	/*
	 * Snapshot: bytes that change while GCM reads them must not pass its
	 * check (software may write the backing page meanwhile). Decrypted in
	 * place, and copied to the EPC page only once the tag matched and the
	 * slot is ours, so a failed ELDU leaves that page as it was.
	 */
	memcpy(buf, op_ptr(op->pi.contents), SGX_PAGE_SIZE);
	st = page_open(hw->paging_key, version, &hdr, sizeof(hdr), buf, pcmd->mac, buf);
	if (st == PAGE_CRYPTO_BAD_MAC) {
		ret = SGX_MAC_COMPARE_FAIL;
		goto out;
	}
	if (st != PAGE_CRYPTO_OK) {
		ret = GP; /* host out of memory, as in ewb_commit() */
		goto out;
	}
	/*
	 * A concurrent ELDU of another copy took this version first: for us
	 * the version is gone, exactly as if we had read the emptied slot.
	 */
	if (!slot_swap(op->slot, version, 0)) {
		ret = SGX_MAC_COMPARE_FAIL;
		goto out;
	}

	memcpy(op->page.page, buf, SGX_PAGE_SIZE);
	/* Also gives a reloaded SECS fresh tracking state and no children. */
	epcm_invalidate(e);
	e->type = (uint8_t)SGX_SECINFO_PAGE_TYPE(pcmd->secinfo.flags);
	e->flags = (uint8_t)(pcmd->secinfo.flags & (EPCM_PERM_MASK | EPCM_STATE_MASK));
	e->linaddr = op->pi.addr;
	/* SECS and VA pages are never blocked, whichever leaf loads them. */
	if (secs) {
		e->secs_pfn = secs->pfn;
		if (block) {
			e->blocked = 1;
			e->blk_epoch = atomic_load(&secs->e->epoch);
		}
		atomic_fetch_add(&secs->e->child_cnt, 1);
	}
	e->valid = 1;
out:
	/* Plaintext, or after a bad tag unauthenticated bytes: neither outlives the leaf. */
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

static int encls_eld(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot,
		     bool block)
{
	struct epc_ref secs = { .e = NULL };
	struct paging_op op;
	struct sgx_pcmd pcmd;
	uint64_t eid;
	int ret;

	if (!is_aligned(pginfo, PAGEINFO_ALIGN))
		return GP;
	op.pi = *pginfo;
	if (!paging_aligned(&op.pi, epc, va_slot) || !is_aligned(op_ptr(op.pi.secs), SGX_PAGE_SIZE))
		return GP;
	ret = paging_get(hw, epc, va_slot, false, &op);
	if (ret)
		return ret;
	if (op.page.e->valid || !is_va_page(op.va.e)) {
		ret = PF;
		goto out;
	}
	memcpy(&pcmd, op_ptr(op.pi.metadata), sizeof(pcmd));
	if (!pcmd_acceptable(&pcmd)) {
		ret = GP;
		goto out;
	}
	if (is_child_type(SGX_SECINFO_PAGE_TYPE(pcmd.secinfo.flags))) {
		ret = eld_get_secs(hw, &op, &secs);
		if (ret) {
			secs.e = NULL; /* not locked */
			goto out;
		}
		/* Binds the page to the enclave it is loaded into. */
		eid = secs_hidden(secs.page)->eid;
	} else {
		if (op.pi.secs) {
			ret = GP;
			goto out;
		}
		eid = pcmd.enclave_id;
	}
	ret = eld_commit(hw, &op, &pcmd, secs.e ? &secs : NULL, eid, block);
out:
	if (secs.e)
		epcm_unlock_shared(secs.e);
	paging_put(&op);
	return ret;
}

int leaf_eldu(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	return encls_eld(hw, pginfo, epc, va_slot, false);
}

int leaf_eldb(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	return encls_eld(hw, pginfo, epc, va_slot, true);
}
