/* SPDX-License-Identifier: MIT */
/*
 * EINIT for tests that need an initialized enclave but do not test EINIT
 * itself: sign the enclave with the test key (SOFTSGX_TEST_KEY) and run EINIT
 * as the kernel model would on a platform with flexible launch control.
 */
#ifndef SOFTSGX_EINIT_FIXTURE_H
#define SOFTSGX_EINIT_FIXTURE_H

#include <stdint.h>

#include <openssl/evp.h>

#include "hw/hw.h"

/*
 * Sign the enclave whose SECS is at @secs_epc for its current measurement and
 * attributes, write the signer's hash into IA32_SGXLEPUBKEYHASH0..3, then
 * EINIT with a zero token. Asserts that every step succeeds.
 */
void fx_einit(struct sgx_hw *hw, void *secs_epc);
/* The same with @key (freed here) and the given ISVPRODID/ISVSVN. */
void fx_einit_signed(struct sgx_hw *hw, void *secs_epc, EVP_PKEY *key, uint16_t isvprodid,
		     uint16_t isvsvn);

#endif /* SOFTSGX_EINIT_FIXTURE_H */
