/* SPDX-License-Identifier: MIT */
/*
 * What EINIT checks of a SIGSTRUCT by itself, before it looks at the SECS
 * (SDM Vol. 3D, EINIT): the constant fields, then the RSA signature with its
 * Q1/Q2 helpers. EINIT opens its interrupt window between the two, so they
 * are also available separately.
 *
 * Results are SGX return codes. Should the host run out of memory while
 * checking the signature, the result is SGX_UNMASKED_EVENT: like an interrupt
 * during EINIT it is transient, and callers already retry on it.
 */
#ifndef SOFTSGX_SIGSTRUCT_VERIFY_H
#define SOFTSGX_SIGSTRUCT_VERIFY_H

#include <stdint.h>

#include "softsgx/sgx_arch.h"

/*
 * SGX_INVALID_SIG_STRUCT when HEADER or HEADER2 is not the constant, VENDOR
 * is neither 0 nor 0x8086, EXPONENT is not 3 or a reserved field is not zero;
 * otherwise SGX_SUCCESS.
 */
int sgx_sigstruct_check_fields(const struct sgx_sigstruct *sig);

/*
 * SGX_INVALID_SIGNATURE unless SIGNATURE is a valid RSASSA-PKCS1-v1_5 SHA-256
 * signature of HEADER || BODY under MODULUS with e = 3 and Q1, Q2 are exactly
 * the helper values that go with it. On SGX_SUCCESS, @mrsigner receives
 * SHA-256 of the 384 modulus bytes as stored.
 */
int sgx_sigstruct_check_signature(const struct sgx_sigstruct *sig,
				  uint8_t mrsigner[SGX_HASH_SIZE]);

/* Both of the above, in EINIT's order. */
int sgx_sigstruct_check(const struct sgx_sigstruct *sig, uint8_t mrsigner[SGX_HASH_SIZE]);

#endif /* SOFTSGX_SIGSTRUCT_VERIFY_H */
