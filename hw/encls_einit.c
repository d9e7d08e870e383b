// SPDX-License-Identifier: MIT
/*
 * ENCLS[EINIT]: the last step of building an enclave. Checks the SIGSTRUCT,
 * the finished measurement, the attributes and launch control, then records
 * the enclave's identity in the SECS and marks it initialized.
 *
 * The order of the checks is the SDM's (Vol. 3D, EINIT "Operation"):
 * operand faults; the SIGSTRUCT on its own (INVALID_SIG_STRUCT, then the
 * interrupt window, then INVALID_SIGNATURE), which needs no lock; then, with
 * the SECS locked, #GP/#PF for its state, MRENCLAVE, the controlled
 * attribute, the attribute and MISCSELECT masks, and the launch token. The
 * order is visible to software whenever more than one thing is wrong.
 */
#include <string.h>

#include "hw/hw_internal.h"
#include "hw/sigstruct_verify.h"

#define GP ENCLS_FAULT(X86_TRAP_GP)
#define PF ENCLS_FAULT(X86_TRAP_PF)

/* Attributes that only an enclave signed by the launch-control key may have. */
#define CONTROLLED_ATTRIBUTES ((uint64_t)SGX_ATTR_EINITTOKENKEY)
#define EINITTOKEN_VALID 0x1u

/* An interrupt injected by hw_inject_einit_interrupts() arrives in this EINIT. */
static bool take_injected_interrupt(struct sgx_hw *hw)
{
	uint32_t n = atomic_load(&hw->einit_interrupts);

	while (n) {
		if (atomic_compare_exchange_weak(&hw->einit_interrupts, &n, n - 1))
			return true;
	}
	return false;
}

/*
 * IA32_SGXLEPUBKEYHASH0..3 hold the 256-bit hash as four little-endian
 * quarters: MSR 0 is bytes 0-7 of the SHA-256 digest.
 */
static bool signed_by_lepubkey(struct sgx_hw *hw, const uint8_t mrsigner[SGX_HASH_SIZE])
{
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t v = 0;

		for (unsigned int j = 0; j < 8; j++)
			v |= (uint64_t)mrsigner[8 * i + j] << (8 * j);
		if (v != atomic_load(&hw->lepubkeyhash[i]))
			return false;
	}
	return true;
}

/* The checks that need the locked, valid, uninitialized SECS. */
static int einit_secs_checks(struct sgx_hw *hw, const struct sgx_sigstruct *sig,
			     const struct sgx_einittoken *token, struct sgx_secs *secs,
			     const uint8_t mrsigner[SGX_HASH_SIZE],
			     uint8_t mrenclave[SGX_HASH_SIZE])
{
	const struct sgx_sigstruct_body *body = &sig->body;

	/* ISVFAMILYID belongs to key separation and sharing. */
	if (!(secs->attributes & SGX_ATTR_KSS) &&
	    !all_zero(body->isv_family_id, sizeof(body->isv_family_id)))
		return SGX_INVALID_SIG_STRUCT;

	sgx_measure_final(&secs_hidden(secs)->mrenclave, mrenclave);
	if (memcmp(mrenclave, body->mrenclave, SGX_HASH_SIZE))
		return SGX_INVALID_MEASUREMENT;

	if ((secs->attributes & CONTROLLED_ATTRIBUTES) && !signed_by_lepubkey(hw, mrsigner))
		return SGX_INVALID_ATTRIBUTE;
	if ((secs->attributes & body->attributes_mask) !=
		    (body->attributes & body->attributes_mask) ||
	    (secs->xfrm & body->xfrm_mask) != (body->xfrm & body->xfrm_mask))
		return SGX_INVALID_ATTRIBUTE;
	if ((secs->miscselect & body->misc_mask) != (body->miscselect & body->misc_mask))
		return SGX_INVALID_ATTRIBUTE;

	/* Without a token the signer itself must be the one the MSRs name. */
	if (!(token->valid & EINITTOKEN_VALID))
		return signed_by_lepubkey(hw, mrsigner) ? SGX_SUCCESS : SGX_INVALID_EINITTOKEN;
	/*
	 * A valid token carries a MAC made with the EINITTOKEN key, which only a
	 * launch enclave can obtain through EGETKEY. This platform has no launch
	 * enclave and does not derive that key yet, so no token can carry a
	 * correct MAC: every one fails the MAC check, as a forged one would.
	 */
	return SGX_INVALID_EINITTOKEN;
}

int leaf_einit(struct sgx_hw *hw, const struct sgx_sigstruct *sigstruct,
	       const struct sgx_einittoken *token, void *secs_epc)
{
	uint8_t mrsigner[SGX_HASH_SIZE], mrenclave[SGX_HASH_SIZE];
	struct sgx_einittoken tmp_token;
	struct sgx_sigstruct tmp_sig;
	struct sgx_secs *secs;
	struct epc_ref ref;
	int ret;

	if (!is_aligned(sigstruct, SGX_PAGE_SIZE) || !is_aligned(secs_epc, SGX_PAGE_SIZE) ||
	    !is_aligned(token, SGX_EINITTOKEN_ALIGN))
		return GP;
	if (!epc_resolve(hw, secs_epc, false, &ref))
		return PF;
	/* A null operand is an unmapped page: reading it faults. */
	if (!sigstruct || !token)
		return PF;
	/*
	 * Work on copies, as the SDM's TMP_SIG and TMP_TOKEN: the operands are
	 * ordinary memory that other threads may change while we check them.
	 */
	memcpy(&tmp_sig, sigstruct, sizeof(tmp_sig));
	memcpy(&tmp_token, token, sizeof(tmp_token));

	ret = sgx_sigstruct_check_fields(&tmp_sig);
	if (ret)
		return ret;
	/* The interrupt window opens with the signature check. */
	if (take_injected_interrupt(hw))
		return SGX_UNMASKED_EVENT;
	ret = sgx_sigstruct_check_signature(&tmp_sig, mrsigner);
	if (ret)
		return ret;

	/* Never touched by any leaf, so certainly not a SECS. */
	if (!ref.e)
		return PF;
	if (!epcm_trylock_excl(ref.e))
		return GP;
	if (!ref.e->valid || ref.e->type != SGX_PAGE_TYPE_SECS) {
		ret = PF;
		goto out;
	}
	secs = (struct sgx_secs *)ref.page;
	if (secs->attributes & SGX_ATTR_INIT) {
		ret = GP;
		goto out;
	}
	ret = einit_secs_checks(hw, &tmp_sig, &tmp_token, secs, mrsigner, mrenclave);
	if (ret)
		goto out;

	memcpy(secs->mrenclave, mrenclave, sizeof(secs->mrenclave));
	memcpy(secs->mrsigner, mrsigner, sizeof(secs->mrsigner));
	secs->isv_prod_id = tmp_sig.body.isvprodid;
	secs->isv_svn = tmp_sig.body.isvsvn;
	/* Last, and published: EENTER reads INIT without taking the SECS lock. */
	atomic_thread_fence(memory_order_release);
	secs->attributes |= SGX_ATTR_INIT;
out:
	epcm_unlock_excl(ref.e);
	return ret;
}
