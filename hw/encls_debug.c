// SPDX-License-Identifier: MIT
/*
 * EDBGRD and EDBGWR: how software outside an enclave reads and writes the
 * memory of a debug enclave, one quadword per leaf (SDM Vol. 3D, "EDBGRD",
 * "EDBGWR", and chapter "Enclave Code Debug and Profiling").
 *
 * The SDM splits the failures in two. The only return code is
 * SGX_PAGE_NOT_DEBUGGABLE, for a page that is PENDING or MODIFIED (an SGX2
 * page the enclave has not accepted yet). Everything else faults: #GP for a
 * misaligned operand, a page lock conflict, a page of a production enclave,
 * a TCS offset the leaf may not touch; #PF for an address outside the EPC, an
 * invalid EPCM entry, and a page type the leaf does not handle (a SECS or a
 * trimmed page for both leaves, a VA page for EDBGWR).
 *
 * Neither leaf looks at the EPCM permissions or at BLOCKED: a debugger can
 * read an execute-only page, and a page being evicted stays readable until
 * EWB actually takes it away.
 */
#include <stddef.h>

#include "hw/hw_internal.h"

#define GP ENCLS_FAULT(X86_TRAP_GP)
#define PF ENCLS_FAULT(X86_TRAP_PF)

/*
 * SGX_TCS_LIMIT: the architectural fields of a TCS end where its RESERVED
 * area begins. EDBGRD reads nothing beyond; EDBGWR writes only FLAGS.
 */
#define TCS_LIMIT	 offsetof(struct sgx_tcs, reserved)
#define TCS_FLAGS_OFFSET offsetof(struct sgx_tcs, flags)

/* The low bits of a VA slot are not part of the version (SDM "EDBGRD"). */
#define VA_SLOT_VERSION_MASK (~0x7ULL)

/*
 * The operand is a quadword the leaf may access while enclave threads and
 * other debuggers access it too: an 8-byte aligned atomic access keeps that
 * well defined without taking a lock real hardware does not take.
 */
static uint64_t epc_load_qword(const uint8_t *p)
{
	return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

static void epc_store_qword(uint8_t *p, uint64_t v)
{
	__atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
}

/*
 * SECS.ATTRIBUTES.DEBUG of the enclave that owns @e. The SECS lock is not
 * needed: DEBUG is fixed at ECREATE and the SECS cannot go away while a child
 * (held by our shared lock) names it. EINIT may set INIT next to it, hence
 * the atomic read of the whole attributes word.
 */
static bool enclave_is_debug(struct sgx_hw *hw, const struct epcm_entry *e)
{
	struct epc_ref secs;

	if (!epc_resolve_pfn(hw, e->secs_pfn, &secs))
		return false;
	return epc_load_qword(secs.page + offsetof(struct sgx_secs, attributes)) & SGX_ATTR_DEBUG;
}

/*
 * The checks both leaves share, in the SDM's order: alignment, EPC, page lock
 * (taken shared by both leaves, per their concurrency tables), EPCM.VALID.
 * On success the caller holds the page's lock shared.
 */
static int debug_operand_get(struct sgx_hw *hw, void *epc, struct epc_ref *ref)
{
	if (!is_aligned(epc, sizeof(uint64_t)))
		return GP;
	if (!epc_resolve(hw, epc, false, ref))
		return PF;
	/* No EPCM chunk yet: no leaf ever made this page valid. */
	if (!ref->e)
		return PF;
	if (!epcm_trylock_shared(ref->e))
		return GP;
	if (!ref->e->valid) {
		epcm_unlock_shared(ref->e);
		return PF;
	}
	return SGX_SUCCESS;
}

static bool page_accepted(const struct epcm_entry *e)
{
	return !(e->flags & (SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED));
}

int leaf_edbgrd(struct sgx_hw *hw, void *epc, uint64_t *data)
{
	struct epc_ref ref;
	struct epcm_entry *e;
	uint64_t slot;
	int ret;

	ret = debug_operand_get(hw, epc, &ref);
	if (ret)
		return ret;
	e = ref.e;
	if (e->type != SGX_PAGE_TYPE_REG && e->type != SGX_PAGE_TYPE_TCS &&
	    e->type != SGX_PAGE_TYPE_VA) {
		ret = PF;
		goto out;
	}
	if (!page_accepted(e)) {
		ret = SGX_PAGE_NOT_DEBUGGABLE;
		goto out;
	}
	if (e->type == SGX_PAGE_TYPE_VA) {
		/*
		 * A VA page belongs to no enclave, so no DEBUG bit guards it.
		 * The SDM lets EDBGRD tell only "free" (0) from "in use" (all
		 * ones): the versions themselves stay hidden, which here also
		 * keeps secret the GCM nonces of evicted pages.
		 */
		slot = epc_load_qword(ref.page + ref.offset) & VA_SLOT_VERSION_MASK;
		*data = slot ? ~0ULL : 0;
		goto out;
	}
	if (e->type == SGX_PAGE_TYPE_TCS && ref.offset >= TCS_LIMIT) {
		ret = GP;
		goto out;
	}
	if (!enclave_is_debug(hw, e)) {
		ret = GP;
		goto out;
	}
	*data = epc_load_qword(ref.page + ref.offset);
out:
	epcm_unlock_shared(e);
	return ret;
}

int leaf_edbgwr(struct sgx_hw *hw, void *epc, uint64_t data)
{
	struct epc_ref ref;
	struct epcm_entry *e;
	int ret;

	ret = debug_operand_get(hw, epc, &ref);
	if (ret)
		return ret;
	e = ref.e;
	if (e->type != SGX_PAGE_TYPE_REG && e->type != SGX_PAGE_TYPE_TCS) {
		ret = PF;
		goto out;
	}
	if (!page_accepted(e)) {
		ret = SGX_PAGE_NOT_DEBUGGABLE;
		goto out;
	}
	/*
	 * Of a TCS a debugger may write only FLAGS, to opt the thread in to
	 * debugging (DBGOPTIN). The quadword is written whole, as the SDM
	 * says; reserved bits set this way make EENTER refuse the TCS.
	 */
	if (e->type == SGX_PAGE_TYPE_TCS && ref.offset != TCS_FLAGS_OFFSET) {
		ret = GP;
		goto out;
	}
	if (!enclave_is_debug(hw, e)) {
		ret = GP;
		goto out;
	}
	epc_store_qword(ref.page + ref.offset, data);
out:
	epcm_unlock_shared(e);
	return ret;
}
