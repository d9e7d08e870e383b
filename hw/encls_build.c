// SPDX-License-Identifier: MIT
/*
 * The leaves that build and tear down an enclave: ECREATE, EADD, EEXTEND and
 * EREMOVE, with the operand checks and return codes of the SDM (Vol. 3D,
 * "Intel SGX Instruction References"). Measurement blocks: measure.c.
 */
#include <string.h>

#include "hw/hw_internal.h"

#define GP ENCLS_FAULT(X86_TRAP_GP)
#define PF ENCLS_FAULT(X86_TRAP_PF)

/*
 * SDM ECREATE: compute_XSAVE_frame_size(XFRM) + the MISC region of
 * MISCSELECT + the GPR area must fit in SSAFRAMESIZE pages. The XSAVE size
 * is the host's standard-format layout (CPUID leaf 0xD), the one the AEX
 * writes.
 */
static uint64_t ssa_bytes_needed(const struct sgx_hw *hw, const struct sgx_secs *secs)
{
	uint64_t need = hw_xfrm_xsave_size(hw, secs->xfrm) + sizeof(struct sgx_ssa_gpr);

	if (secs->miscselect & SGX_MISC_EXINFO)
		need += sizeof(struct sgx_ssa_exinfo);
	return need;
}

/* The SECS checks of ECREATE; all failures are #GP. */
static bool secs_acceptable(const struct sgx_hw *hw, const struct sgx_secs *secs)
{
	uint64_t limit;

	if (secs->attributes & (SGX_ATTR_RESERVED_MASK | SGX_ATTR_INIT))
		return false;
	/* x87 and SSE set, within CPUID.(12H,1):ECX:EDX, and legal for XCR0. */
	if (!hw_xfrm_acceptable(&hw->xstate, secs->xfrm))
		return false;
	if (secs->miscselect & ~(uint32_t)SGX_MISC_EXINFO)
		return false;
	if (secs->size < 2 * SGX_PAGE_SIZE || (secs->size & (secs->size - 1)))
		return false;
	if (secs->base & (secs->size - 1))
		return false;
	limit = (secs->attributes & SGX_ATTR_MODE64BIT) ? 1ULL << 47 : 1ULL << 32;
	if (secs->base >= limit || secs->size > limit - secs->base)
		return false;
	if (secs->ssa_frame_size == 0 ||
	    (uint64_t)secs->ssa_frame_size * SGX_PAGE_SIZE < ssa_bytes_needed(hw, secs))
		return false;
	if (!all_zero(secs->reserved1, sizeof(secs->reserved1)) ||
	    !all_zero(secs->reserved2, sizeof(secs->reserved2)) ||
	    !all_zero(secs->reserved3, sizeof(secs->reserved3)) ||
	    !all_zero(secs->reserved4, sizeof(secs->reserved4)))
		return false;
	/* CONFIGID and CONFIGSVN belong to key separation and sharing. */
	if (!(secs->attributes & SGX_ATTR_KSS) &&
	    (!all_zero(secs->config_id, sizeof(secs->config_id)) || secs->config_svn))
		return false;
	return true;
}

int leaf_ecreate(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *secs_epc)
{
	const struct sgx_secinfo *secinfo;
	const struct sgx_secs *src;
	struct sgx_secs *secs;
	struct epc_ref ref;
	int ret = GP;

	if (!is_aligned(pginfo, 32) || !is_aligned(secs_epc, SGX_PAGE_SIZE))
		return GP;
	src = op_ptr(pginfo->contents);
	secinfo = op_ptr(pginfo->metadata);
	if (!is_aligned(src, SGX_PAGE_SIZE) || !is_aligned(secinfo, 64))
		return GP;
	if (!epc_resolve(hw, secs_epc, true, &ref))
		return PF;
	if (!epcm_trylock_excl(ref.e))
		return GP;
	if (ref.e->valid) {
		ret = PF;
		goto out;
	}
	if ((secinfo->flags & SGX_SECINFO_RESERVED_MASK) ||
	    SGX_SECINFO_PAGE_TYPE(secinfo->flags) != SGX_PAGE_TYPE_SECS ||
	    !all_zero(secinfo->reserved, sizeof(secinfo->reserved)))
		goto out;
	if (pginfo->addr || pginfo->secs || !secs_acceptable(hw, src))
		goto out;

	secs = (struct sgx_secs *)ref.page;
	memcpy(secs, src, sizeof(*secs));
	memset(secs->mrenclave, 0, sizeof(secs->mrenclave));
	memset(secs->mrsigner, 0, sizeof(secs->mrsigner));
	secs->isv_prod_id = 0;
	secs->isv_svn = 0;
	secs_hidden(secs)->eid = atomic_fetch_add(&hw->next_eid, 1);
	sgx_measure_ecreate(&secs_hidden(secs)->mrenclave, src->ssa_frame_size, src->size);

	epcm_invalidate(ref.e);
	ref.e->type = SGX_PAGE_TYPE_SECS;
	ref.e->valid = 1;
	ret = SGX_SUCCESS;
out:
	epcm_unlock_excl(ref.e);
	return ret;
}

/*
 * EADD's copy into the EPC. The EPC page is usually cold (last used by
 * another enclave, if at all), and the source may be (a loader's image not
 * touched since it was read). Asking for every line of both first lets the
 * loads and the write-allocates of the whole page overlap instead of
 * trickling in as the copy reaches them: bench_build's EADD-only figure,
 * which copies from cold memory, gains about 15%. Non-temporal stores
 * would save the write-allocates too, but the EEXTENDs that follow would
 * then read the page from memory instead of the cache (slower builds).
 */
static void copy_page(void *dst, const void *src)
{
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i += 64) {
		__builtin_prefetch((const uint8_t *)src + i, 0, 3);
		__builtin_prefetch((uint8_t *)dst + i, 1, 3);
	}
	memcpy(dst, src, SGX_PAGE_SIZE);
}

void hw_epc_prefetch(struct sgx_hw *hw, const void *epc)
{
	struct epc_ref ref;

	/* No allocation: a page whose EPCM chunk does not exist yet has nothing to fetch. */
	if (epc_resolve(hw, epc, false, &ref) && ref.e)
		__builtin_prefetch(ref.e, 1, 3);
}

/* The TCS fields EADD insists on (SDM EADD, "TCS checks"). */
static bool tcs_acceptable(const struct sgx_tcs *tcs)
{
	if (tcs->flags & SGX_TCS_RESERVED_MASK)
		return false;
	if ((tcs->ssa_offset | tcs->fs_offset | tcs->gs_offset) & (SGX_PAGE_SIZE - 1))
		return false;
	if ((tcs->fs_limit & 0xFFF) != 0xFFF || (tcs->gs_limit & 0xFFF) != 0xFFF)
		return false;
	return all_zero(tcs->reserved, sizeof(tcs->reserved));
}

static int eadd_checks(const struct sgx_secinfo *secinfo, const struct sgx_secs *secs,
		       uint64_t linaddr, const void *src)
{
	uint64_t type = SGX_SECINFO_PAGE_TYPE(secinfo->flags);

	if ((secinfo->flags & SGX_SECINFO_RESERVED_MASK) ||
	    !all_zero(secinfo->reserved, sizeof(secinfo->reserved)))
		return GP;
	if (type != SGX_PAGE_TYPE_REG && type != SGX_PAGE_TYPE_TCS)
		return GP;
	/* A writable page must be readable. */
	if ((secinfo->flags & SGX_SECINFO_W) && !(secinfo->flags & SGX_SECINFO_R))
		return GP;
	if (secs->attributes & SGX_ATTR_INIT)
		return GP;
	if ((linaddr & (SGX_PAGE_SIZE - 1)) || linaddr < secs->base ||
	    linaddr - secs->base >= secs->size)
		return GP;
	if (type == SGX_PAGE_TYPE_TCS && !tcs_acceptable(src))
		return GP;
	return SGX_SUCCESS;
}

/*
 * EADD, from pginfo->contents, or, when @staged, from the target page
 * itself, which the caller filled (see encls_eadd_staged()).
 */
static int eadd(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, bool staged)
{
	const struct sgx_secinfo *secinfo;
	struct epc_ref ref, sref;
	struct sgx_secs *secs;
	const void *src;
	int ret;

	if (!is_aligned(pginfo, 32) || !is_aligned(epc, SGX_PAGE_SIZE))
		return GP;
	src = staged ? epc : op_ptr(pginfo->contents);
	secinfo = op_ptr(pginfo->metadata);
	secs = op_ptr(pginfo->secs);
	if (!is_aligned(src, SGX_PAGE_SIZE) || !is_aligned(secinfo, 64) ||
	    !is_aligned(secs, SGX_PAGE_SIZE))
		return GP;
	if (!epc_resolve(hw, epc, true, &ref) || !epc_resolve(hw, secs, true, &sref))
		return PF;
	if (staged)
		src = ref.page;
	/*
	 * Target and SECS the same page: either it is a valid SECS, so the
	 * target is in use, or the SECS operand is not a SECS. Both are #PF;
	 * taking its lock twice would turn them into a #GP.
	 */
	if (ref.e == sref.e)
		return PF;
	if (!epcm_trylock_excl(ref.e))
		return GP;
	/* EADD serializes on the SECS: it updates the running MRENCLAVE. */
	if (!epcm_trylock_excl(sref.e)) {
		epcm_unlock_excl(ref.e);
		return GP;
	}
	if (ref.e->valid || !sref.e->valid || sref.e->type != SGX_PAGE_TYPE_SECS) {
		ret = PF;
		goto out;
	}
	/* From here the SECS is the page the operand resolved to (it may be an alias). */
	secs = (struct sgx_secs *)sref.page;
	ret = eadd_checks(secinfo, secs, pginfo->addr, src);
	if (ret)
		goto out;

	if (!staged)
		copy_page(ref.page, src);
	epcm_invalidate(ref.e);
	ref.e->type = (uint8_t)SGX_SECINFO_PAGE_TYPE(secinfo->flags);
	if (ref.e->type == SGX_PAGE_TYPE_TCS) {
		struct sgx_tcs *tcs = (struct sgx_tcs *)ref.page;

		/* EADD clears the fields software may not preset. */
		tcs->state = 0;
		tcs->ssa_index = 0;
		tcs->flags &= ~SGX_TCS_DBGOPTIN;
	} else {
		ref.e->flags = (uint8_t)(secinfo->flags & EPCM_PERM_MASK);
	}
	ref.e->linaddr = pginfo->addr;
	ref.e->secs_pfn = sref.pfn;
	ref.e->valid = 1;
	atomic_fetch_add(&sref.e->child_cnt, 1);
	sgx_measure_eadd(&secs_hidden(secs)->mrenclave, pginfo->addr - secs->base, secinfo);
out:
	epcm_unlock_excl(sref.e);
	epcm_unlock_excl(ref.e);
	return ret;
}

int leaf_eadd(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc)
{
	return eadd(hw, pginfo, epc, false);
}

int leaf_eadd_staged(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc)
{
	return eadd(hw, pginfo, epc, true);
}

/*
 * EEXTEND of @n consecutive chunks of one page, from @chunk on. The checks
 * and both EPCM locks are taken once for the @n chunks: while
 * they are held no other leaf can reach the page or the SECS, so this is
 * the hardware's @n instructions in an order it allows (none between
 * them), with the same MRENCLAVE and the same return code, which the first
 * chunk decides for all.
 */
static int eextend_chunks(struct sgx_hw *hw, void *secs_epc, void *chunk, unsigned int n)
{
	struct epc_ref ref, sref;
	struct sgx_secs *secs;
	uint64_t off;
	int ret = SGX_SUCCESS;

	if (!is_aligned(chunk, SGX_EEXTEND_CHUNK) || !is_aligned(secs_epc, SGX_PAGE_SIZE))
		return GP;
	if (!epc_resolve(hw, chunk, true, &ref) || !epc_resolve(hw, secs_epc, true, &sref))
		return PF;
	/* A chunk of the SECS page itself: not a REG or TCS page, so #PF as below. */
	if (ref.e == sref.e)
		return PF;
	if (!epcm_trylock_shared(ref.e))
		return GP;
	if (!epcm_trylock_excl(sref.e)) {
		epcm_unlock_shared(ref.e);
		return GP;
	}
	if (!ref.e->valid || (ref.e->type != SGX_PAGE_TYPE_REG && ref.e->type != SGX_PAGE_TYPE_TCS) ||
	    !sref.e->valid || sref.e->type != SGX_PAGE_TYPE_SECS) {
		ret = PF;
		goto out;
	}
	secs = (struct sgx_secs *)sref.page;
	if (ref.e->secs_pfn != sref.pfn || (secs->attributes & SGX_ATTR_INIT)) {
		ret = GP;
		goto out;
	}
	off = ref.e->linaddr - secs->base + ref.offset;
	for (unsigned int i = 0; i < n; i++)
		sgx_measure_eextend(&secs_hidden(secs)->mrenclave, off + i * SGX_EEXTEND_CHUNK,
				    ref.page + ref.offset + i * SGX_EEXTEND_CHUNK);
out:
	epcm_unlock_excl(sref.e);
	epcm_unlock_shared(ref.e);
	return ret;
}

int leaf_eextend(struct sgx_hw *hw, void *secs_epc, void *chunk)
{
	return eextend_chunks(hw, secs_epc, chunk, 1);
}

/*
 * EEXTEND of @n consecutive chunks of one page, as Linux's driver issues
 * sixteen for a measured EADD. One acquisition of the locks for a page's
 * chunks instead of one each was about a tenth of the cost of a measured
 * page (bench_build's floor row).
 */
int leaf_eextend_chunks(struct sgx_hw *hw, void *secs_epc, void *chunk, unsigned int n)
{
	/* Chunks past the page would be another page's: its own leaves. */
	if (!eextend_run_fits(chunk, n))
		return GP;
	return eextend_chunks(hw, secs_epc, chunk, n);
}

/*
 * EREMOVE of a page that belongs to an enclave: the SECS must agree, and
 * no thread may be inside unless @any_threads. That is for a TRIM page the
 * enclave has accepted (SGX2): the SDM removes it whatever runs, which is
 * what lets Linux's REMOVE_PAGES work on a live enclave.
 */
static int eremove_child(struct sgx_hw *hw, struct epcm_entry *e, bool any_threads)
{
	struct epc_ref sref;
	int ret = SGX_SUCCESS;

	if (!epc_resolve_pfn(hw, e->secs_pfn, &sref))
		return GP;
	/* Held exclusively by a leaf on the SECS itself, e.g. a concurrent EREMOVE. */
	if (!epcm_trylock_shared(sref.e))
		return GP;
	if (!any_threads && atomic_load(&sref.e->threads))
		ret = SGX_ENCLAVE_ACT;
	else
		atomic_fetch_sub(&sref.e->child_cnt, 1);
	epcm_unlock_shared(sref.e);
	return ret;
}

int leaf_eremove(struct sgx_hw *hw, void *epc)
{
	struct epc_ref ref;
	int ret = SGX_SUCCESS;

	if (!is_aligned(epc, SGX_PAGE_SIZE))
		return GP;
	if (!epc_resolve(hw, epc, false, &ref))
		return PF;
	if (!ref.e)
		return SGX_SUCCESS; /* never used: nothing to remove */
	if (!epcm_trylock_excl(ref.e))
		return GP;
	if (!ref.e->valid)
		goto out;
	switch (ref.e->type) {
	case SGX_PAGE_TYPE_SECS:
		if (atomic_load(&ref.e->child_cnt))
			ret = SGX_CHILD_PRESENT;
		break;
	case SGX_PAGE_TYPE_VA:
		break;
	default:
		ret = eremove_child(hw, ref.e,
				    ref.e->type == SGX_PAGE_TYPE_TRIM &&
					    !(ref.e->flags & SGX_SECINFO_MODIFIED));
		break;
	}
	if (ret == SGX_SUCCESS)
		epcm_invalidate(ref.e);
out:
	epcm_unlock_excl(ref.e);
	return ret;
}
