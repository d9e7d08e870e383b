// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/common/einit_fixture.h"
#include "hw/hw_internal.h"
#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "tests/common/test_keys.h"

/* The hash as the four MSRs hold it: MSR 0 is bytes 0-7, little-endian. */
static void write_lepubkeyhash(struct sgx_hw *hw, const uint8_t hash[SGX_HASH_SIZE])
{
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t v = 0;

		for (unsigned int j = 0; j < 8; j++)
			v |= (uint64_t)hash[8 * i + j] << (8 * j);
		assert_int_equal(hw_wrmsr(hw, MSR_IA32_SGXLEPUBKEYHASH0 + i, v), 0);
	}
}

void fx_einit(struct sgx_hw *hw, void *secs_epc)
{
	fx_einit_signed(hw, secs_epc, test_key(), 0, 0);
}

void fx_einit_signed(struct sgx_hw *hw, void *secs_epc, EVP_PKEY *key, uint16_t isvprodid,
		     uint16_t isvsvn)
{
	const struct sgx_secs *secs = secs_epc;
	struct sgx_sign_enclave desc;
	uint8_t mrsigner[SGX_HASH_SIZE];
	struct sgx_einittoken *token;
	struct sgx_sigstruct *sig;
	uint8_t *page;

	/* SIGSTRUCT at 0 and a zero EINITTOKEN at 2048, as Linux lays them out. */
	page = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	assert_non_null(page);
	memset(page, 0, SGX_PAGE_SIZE);
	sig = (struct sgx_sigstruct *)page;
	token = (struct sgx_einittoken *)(page + SGX_PAGE_SIZE / 2);

	memset(&desc, 0, sizeof(desc));
	/*
	 * The CPU's own running measurement: callers built the enclave with the
	 * leaves, so this is what a signing tool would have computed.
	 */
	sgx_measure_final(&secs_hidden(secs_epc)->mrenclave, desc.mrenclave);
	desc.attributes = secs->attributes;
	desc.attributes_mask = ~0ULL;
	desc.xfrm = secs->xfrm;
	desc.xfrm_mask = ~0ULL;
	desc.miscselect = secs->miscselect;
	desc.misc_mask = 0xFFFFFFFF;
	desc.isvprodid = isvprodid;
	desc.isvsvn = isvsvn;
	desc.date = 0x20240601;
	assert_int_equal(sgx_sign_sigstruct(&desc, key, sig), 0);
	assert_int_equal(sgx_sign_mrsigner(key, mrsigner), 0);
	write_lepubkeyhash(hw, mrsigner);

	assert_int_equal(encls_einit(hw, sig, token, secs_epc), SGX_SUCCESS);
	EVP_PKEY_free(key);
	free(page);
}
