// SPDX-License-Identifier: MIT
/*
 * The SGX2 ENCLS leaves: EAUG, EMODPR and EMODT (SDM Vol. 3D, "Intel SGX
 * Instruction References"), which change an initialized enclave and leave
 * the change for the enclave to confirm with ENCLU[EACCEPT] or
 * ENCLU[EACCEPTCOPY] (enclu_sgx2.c):
 *
 * - EAUG adds a zeroed REG RW page in the PENDING state;
 * - EMODPR masks a REG page's R/W/X and sets PR;
 * - EMODT makes a REG page a TCS or TRIM page (or a TCS a TRIM page),
 *   without permissions and MODIFIED.
 *
 * EMODPR and EMODT also remember the enclave's ETRACK epoch: EACCEPT says
 * SGX_NOT_TRACKED until a tracking cycle begun after the change completes,
 * since a thread may still hold a translation with the old permissions.
 *
 * Page locking follows the SDM's two tables (epcm_entry.sgx2_busy): the
 * base lock shared against the SGX1 leaves, the SGX2 flag against the other
 * SGX2 leaves, each conflict answered as the leaf's tables say.
 *
 * On a platform configured without SGX2 none of this exists: #GP.
 */
#include <string.h>

#include "hw/enclu.h"
#include "hw/hw_internal.h"

#define GP ENCLS_FAULT(X86_TRAP_GP)
#define PF ENCLS_FAULT(X86_TRAP_PF)

static bool has_sgx2(const struct sgx_hw *hw)
{
	return hw->cfg.sgx2;
}

static bool secs_initialized(const struct epc_ref *secs)
{
	return ((const struct sgx_secs *)secs->page)->attributes & SGX_ATTR_INIT;
}

/*
 * SDM EAUG. The SDM of 2018 wants PAGEINFO.SECINFO 0; later ones accept a
 * SECINFO there only for the CET shadow-stack page types, which the model
 * does not offer (no ATTRIBUTES.CET), so a nonzero SECINFO is #GP.
 */
int leaf_eaug(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc)
{
	struct sgx_pageinfo pi;
	struct epc_ref ref, sref;
	const struct sgx_secs *secs;
	int ret;

	if (!has_sgx2(hw))
		return GP;
	if (!is_aligned(pginfo, 32) || !is_aligned(epc, SGX_PAGE_SIZE))
		return GP;
	if (!epc_resolve(hw, epc, true, &ref))
		return PF;
	pi = *pginfo;
	if (!is_aligned(op_ptr(pi.secs), SGX_PAGE_SIZE) || (pi.addr & (SGX_PAGE_SIZE - 1)))
		return GP;
	if (pi.contents || pi.metadata)
		return GP;
	if (!epc_resolve(hw, op_ptr(pi.secs), true, &sref))
		return PF;
	/* The target as its own SECS: either it is valid (in use) or no SECS. */
	if (ref.e == sref.e)
		return PF;
	if (!epcm_trylock_excl(ref.e))
		return GP;
	if (ref.e->valid) {
		ret = PF;
		goto out;
	}
	if (!epcm_trylock_shared(sref.e)) {
		ret = GP;
		goto out;
	}
	if (!sref.e->valid || sref.e->type != SGX_PAGE_TYPE_SECS) {
		ret = PF;
		goto out_secs;
	}
	secs = (const struct sgx_secs *)sref.page;
	if (!secs_initialized(&sref) || pi.addr < secs->base ||
	    pi.addr - secs->base >= secs->size) {
		ret = GP;
		goto out_secs;
	}

	memset(ref.page, 0, SGX_PAGE_SIZE);
	epcm_invalidate(ref.e);
	ref.e->type = SGX_PAGE_TYPE_REG;
	ref.e->flags = SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_PENDING;
	ref.e->linaddr = pi.addr;
	ref.e->secs_pfn = sref.pfn;
	ref.e->valid = 1;
	atomic_fetch_add(&sref.e->child_cnt, 1);
	ret = SGX_SUCCESS;
out_secs:
	epcm_unlock_shared(sref.e);
out:
	epcm_unlock_excl(ref.e);
	return ret;
}

/* What EMODPR and EMODT share: the target and its SECS, locked. */
struct modify_op {
	struct sgx_secinfo si; /* SCRATCH_SECINFO */
	struct epc_ref page;   /* base lock shared + SGX2 lock */
	struct epc_ref secs;   /* locked shared once found */
	bool page_locked, secs_locked;
};

/* The operand checks before any lock: alignment, then "resolves within an EPC". */
static int modify_get(struct sgx_hw *hw, const struct sgx_secinfo *secinfo, void *epc,
		      struct modify_op *op)
{
	memset(op, 0, sizeof(*op));
	if (!has_sgx2(hw))
		return GP;
	if (!is_aligned(secinfo, 64) || !is_aligned(epc, SGX_PAGE_SIZE))
		return GP;
	if (!epc_resolve(hw, epc, true, &op->page))
		return PF;
	op->si = *secinfo;
	return SGX_SUCCESS;
}

/*
 * Take the page's locks: @base_conflict is the answer when an SGX1 leaf
 * holds the page, SGX_EPC_PAGE_CONFLICT when an SGX2 leaf does. Then the
 * page must be valid (#PF).
 */
static int modify_lock(struct modify_op *op, int base_conflict)
{
	if (!epcm_trylock_shared(op->page.e))
		return base_conflict;
	if (!epcm_sgx2_trylock(op->page.e)) {
		epcm_unlock_shared(op->page.e);
		return SGX_EPC_PAGE_CONFLICT;
	}
	op->page_locked = true;
	return op->page.e->valid ? SGX_SUCCESS : PF;
}

/*
 * GET_SECS_ADDRESS and "TMP_SECS.ATTRIBUTES.INIT = 0 -> #GP", with the SECS
 * held shared so that its epoch can be read: #GP ("SECS is locked by
 * another thread") when it is held exclusively.
 */
static int modify_secs(struct sgx_hw *hw, struct modify_op *op)
{
	if (!epcm_lock_secs_shared(hw, op->page.e, &op->secs))
		return GP;
	op->secs_locked = true;
	return secs_initialized(&op->secs) ? SGX_SUCCESS : GP;
}

static void modify_put(struct modify_op *op)
{
	if (op->secs_locked)
		epcm_unlock_shared(op->secs.e);
	if (op->page_locked) {
		epcm_sgx2_unlock(op->page.e);
		epcm_unlock_shared(op->page.e);
	}
}

/* The change is done at the enclave's current epoch; EACCEPT waits for tracking. */
static void modify_record_epoch(struct modify_op *op)
{
	op->page.e->mod_epoch = atomic_load(&op->secs.e->epoch);
	op->page.e->mod_untracked = 1;
}

/* SDM EMODPR, in its order of checks. */
int leaf_emodpr(struct sgx_hw *hw, const struct sgx_secinfo *secinfo, void *epc)
{
	struct modify_op op;
	struct epcm_entry *e;
	int ret;

	ret = modify_get(hw, secinfo, epc, &op);
	if (ret)
		return ret;
	/* A writable page must be readable, also after the mask. */
	if (secinfo_sgx2_reserved(&op.si) ||
	    ((op.si.flags & SGX_SECINFO_W) && !(op.si.flags & SGX_SECINFO_R)))
		return GP;
	ret = modify_lock(&op, GP);
	if (ret)
		goto out;
	e = op.page.e;
	if (e->flags & (SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED)) {
		ret = SGX_PAGE_NOT_MODIFIABLE;
		goto out;
	}
	/*
	 * After the state check: a trimmed page EACCEPT has confirmed is #PF
	 * here, one it has not is NOT_MODIFIABLE; Linux's REMOVE_PAGES tells
	 * the two apart this way.
	 */
	if (e->type != SGX_PAGE_TYPE_REG) {
		ret = PF;
		goto out;
	}
	ret = modify_secs(hw, &op);
	if (ret)
		goto out;
	e->flags = (uint8_t)((e->flags & ~EPCM_PERM_MASK) |
			     (e->flags & op.si.flags & EPCM_PERM_MASK) | SGX_SECINFO_PR);
	modify_record_epoch(&op);
out:
	modify_put(&op);
	return ret;
}

/* SDM EMODT, in its order of checks. */
int leaf_emodt(struct sgx_hw *hw, const struct sgx_secinfo *secinfo, void *epc)
{
	struct modify_op op;
	struct epcm_entry *e;
	unsigned int type;
	int ret;

	ret = modify_get(hw, secinfo, epc, &op);
	if (ret)
		return ret;
	type = SGX_SECINFO_PAGE_TYPE(op.si.flags);
	/* R/W/X are not reserved: EMODT ignores them and clears the page's. */
	if (secinfo_sgx2_reserved(&op.si) ||
	    (type != SGX_PAGE_TYPE_TCS && type != SGX_PAGE_TYPE_TRIM))
		return GP;
	/* EMODT answers a conflict with an SGX1 leaf with a code too, unlike EMODPR. */
	ret = modify_lock(&op, SGX_EPC_PAGE_CONFLICT);
	if (ret)
		goto out;
	e = op.page.e;
	/* Here the type comes before the state, the other way round from EMODPR. */
	if (!(e->type == SGX_PAGE_TYPE_REG ||
	      (e->type == SGX_PAGE_TYPE_TCS && type == SGX_PAGE_TYPE_TRIM))) {
		ret = PF;
		goto out;
	}
	if (e->flags & (SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED)) {
		ret = SGX_PAGE_NOT_MODIFIABLE;
		goto out;
	}
	ret = modify_secs(hw, &op);
	if (ret)
		goto out;
	e->flags = SGX_SECINFO_MODIFIED; /* PR cleared, no permissions */
	e->type = (uint8_t)type;
	modify_record_epoch(&op);
out:
	modify_put(&op);
	return ret;
}

/*
 * The EPCM side of an access by enclave code (SDM "Access-control
 * Requirements"): only a valid, unblocked REG page that is neither PENDING
 * nor MODIFIED, with the permissions of the access. PR restricts nothing by
 * itself: EMODPR has already narrowed R/W/X. The linear address and the
 * owning enclave are the caller's to check (it knows which page it mapped).
 * Read without the entry lock, as enclave accesses run concurrently with
 * the leaves that change the entry.
 */
bool hw_epcm_accessible(struct sgx_hw *hw, const void *addr, int access)
{
	uint8_t need = ((access & HW_MMU_READ) ? SGX_SECINFO_R : 0) |
		       ((access & HW_MMU_WRITE) ? SGX_SECINFO_W : 0) |
		       ((access & HW_MMU_EXEC) ? SGX_SECINFO_X : 0);
	struct epc_ref ref;
	uint8_t flags;

	if (!epc_resolve(hw, addr, false, &ref) || !ref.e)
		return false;
	if (!ref.e->valid || ref.e->blocked || ref.e->type != SGX_PAGE_TYPE_REG)
		return false;
	flags = ref.e->flags;
	if (flags & (SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED))
		return false;
	return (flags & need) == need;
}
