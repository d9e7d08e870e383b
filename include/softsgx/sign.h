/* SPDX-License-Identifier: MIT */
/*
 * libsoftsgx enclave signer: the MRENCLAVE of an image (softsgx/loader.h)
 * and the SIGSTRUCT that lets EINIT accept it, signed with an RSA-3072 key
 * with public exponent 3 (SDM Vol. 3D, "Enclave Signature Structure").
 *
 * Functions return 0 or a negative errno: -EINVAL for a bad argument or a
 * key SGX cannot use (not RSA-3072 with e = 3, no private part, not an
 * unencrypted PEM private key), -ENOMEM, -EIO for a cryptographic library
 * failure, or the errno of opening the key file. softsgx_error_detail()
 * says why in words.
 */
#ifndef SOFTSGX_SIGN_H
#define SOFTSGX_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "softsgx/compiler.h"
#include "softsgx/loader.h"
#include "softsgx/sgx_arch.h"

SOFTSGX_BEGIN_DECLS

/* An RSA-3072 private key with public exponent 3. */
struct softsgx_key;

/*
 * Load the PEM private key at @path (as `softsgx keygen` or
 * `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072
 * -pkeyopt rsa_keygen_pubexp:3` write it); *@key is NULL on failure.
 * Encrypted keys are refused (-EINVAL) rather than prompted for.
 */
int softsgx_key_load(const char *path, struct softsgx_key **key);
/* A new key, in memory only (ephemeral enclaves, tests). */
int softsgx_key_generate(struct softsgx_key **key);
/* Frees @key; NULL is fine. */
void softsgx_key_free(struct softsgx_key *key);
/* MRSIGNER of enclaves @key signs: SHA-256 of its modulus as 384 little-endian bytes. */
int softsgx_key_mrsigner(const struct softsgx_key *key, uint8_t mrsigner[SGX_HASH_SIZE]);

/*
 * MRENCLAVE of @img: ECREATE, then EADD (and EEXTEND of measured pages) of
 * every page in offset order, the sequence softsgx_enclave_build() causes.
 */
int softsgx_image_mrenclave(const struct softsgx_image *img, uint8_t mrenclave[SGX_HASH_SIZE]);

/* What a SIGSTRUCT asks for. A zeroed structure (or NULL) takes every default. */
struct softsgx_sign_opts {
	/*
	 * SECS.ATTRIBUTES of the enclave, enforced under the mask of all bits
	 * but INIT; 0: the image's (DEBUG | MODE64BIT). INIT or a bit the SDM
	 * reserves is -EINVAL.
	 */
	uint64_t attributes;
	/* SECS.XFRM, enforced under its own bits; 0: the image's (0x3, x87 and SSE). */
	uint64_t xfrm;
	uint16_t isvprodid;
	uint16_t isvsvn;
	/* yyyymmdd as BCD digits, e.g. 0x20261206; 0: today (UTC). Non-BCD: -EINVAL. */
	uint32_t date;
	uint64_t reserved[4]; /* zero (-EINVAL otherwise); room for later fields */
};

SOFTSGX_STATIC_ASSERT(sizeof(struct softsgx_sign_opts) == 56, "softsgx_sign_opts");
SOFTSGX_STATIC_ASSERT(offsetof(struct softsgx_sign_opts, date) == 20, "softsgx_sign_opts.date");

/*
 * Fill @sig with a SIGSTRUCT for @img signed with @key: MRENCLAVE of @img,
 * the options of @opts (NULL: all defaults), MISCSELECT the image's under
 * all bits, vendor 0. The result is checked the way EINIT checks a
 * SIGSTRUCT by itself (constant fields, signature, Q1 and Q2) before it is
 * returned. softsgx_enclave_build() takes the SECS attributes from it.
 */
int softsgx_sign(const struct softsgx_image *img, const struct softsgx_key *key,
		 const struct softsgx_sign_opts *opts, struct sgx_sigstruct *sig);

/* MRSIGNER of the key that signed @sig: SHA-256 of its modulus as stored. */
int softsgx_sigstruct_mrsigner(const struct sgx_sigstruct *sig, uint8_t mrsigner[SGX_HASH_SIZE]);

SOFTSGX_END_DECLS

#endif /* SOFTSGX_SIGN_H */
