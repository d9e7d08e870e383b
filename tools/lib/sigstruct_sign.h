/* SPDX-License-Identifier: MIT */
/*
 * The enclave signer: turns an enclave description and an RSA-3072 key with
 * public exponent 3 into the SIGSTRUCT that ENCLS[EINIT] checks (SDM Vol. 3D,
 * "Enclave Signature Structure (SIGSTRUCT)").
 *
 * All functions return 0 or a negative errno: -EINVAL for a bad argument or a
 * key SGX cannot use, -ENOMEM, -EIO for an OpenSSL failure, or the errno of
 * opening the key file. After a failure, sgx_sign_error() says why in words.
 */
#ifndef SOFTSGX_SIGSTRUCT_SIGN_H
#define SOFTSGX_SIGSTRUCT_SIGN_H

#include <stdint.h>

#include <openssl/evp.h>

#include "softsgx/sgx_arch.h"

#define SGX_SIGN_KEY_BITS 3072
#define SGX_SIGN_KEY_EXPONENT 3

/* What the signer vouches for; copied into SIGSTRUCT's header and body. */
struct sgx_sign_enclave {
	uint8_t mrenclave[SGX_HASH_SIZE];
	uint64_t attributes;
	uint64_t attributes_mask;
	uint64_t xfrm;
	uint64_t xfrm_mask;
	uint32_t miscselect;
	uint32_t misc_mask;
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint32_t date;	    /* yyyymmdd as BCD digits, e.g. 0x20240131 */
	uint32_t vendor;    /* 0, or SGX_SIGSTRUCT_VENDOR_INTEL */
	uint32_t swdefined; /* free for software */
	/* Key separation and sharing: must stay zero for enclaves without KSS. */
	uint8_t isv_family_id[16];
	uint8_t isv_ext_prod_id[16];
};

/*
 * Load a PEM private key from @path into *@key (free it with EVP_PKEY_free()).
 * Encrypted keys are refused rather than prompting for a passphrase. Keys that
 * are not RSA-3072 with e = 3 are refused with -EINVAL.
 */
int sgx_sign_load_key(const char *path, EVP_PKEY **key);

/* 0 when @key is an RSA-3072 private key with e = 3, else -EINVAL. */
int sgx_sign_check_key(const EVP_PKEY *key);

/*
 * Fill @out with a complete SIGSTRUCT for @desc signed with @key:
 * RSASSA-PKCS1-v1_5 with SHA-256 over header || body, and the modulus,
 * signature, Q1 and Q2 as 384-byte little-endian integers.
 */
int sgx_sign_sigstruct(const struct sgx_sign_enclave *desc, EVP_PKEY *key,
		       struct sgx_sigstruct *out);

/* MRSIGNER of @key: SHA-256 of its modulus as 384 little-endian bytes. */
int sgx_sign_mrsigner(const EVP_PKEY *key, uint8_t out[SGX_HASH_SIZE]);

/* MRSIGNER of the key that signed @sig (SHA-256 of sig->modulus as stored). */
int sgx_sign_sigstruct_mrsigner(const struct sgx_sigstruct *sig, uint8_t out[SGX_HASH_SIZE]);

/*
 * Why the last failing call of this thread failed, for messages to the user;
 * "" when none has.
 */
const char *sgx_sign_error(void);

#endif /* SOFTSGX_SIGSTRUCT_SIGN_H */
