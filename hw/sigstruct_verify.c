// SPDX-License-Identifier: MIT
/*
 * SIGSTRUCT checks of EINIT. The hardware verifies the RSA signature with the
 * help of two quotients the signer supplies, so that it needs no division:
 *
 *   Q1 = floor(S^2 / M),  Q2 = floor((S^3 - Q1 * S * M) / M)
 *
 * A SIGSTRUCT whose Q1 or Q2 is wrong does not verify on real hardware even
 * when the signature itself is good, so the model recomputes both and wants
 * them exact. The signature proper is checked with libcrypto.
 */
#include <stdbool.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "hw/hw_internal.h"
#include "hw/sigstruct_verify.h"

#define SIG_EXPONENT 3
/* The host, not the SIGSTRUCT, failed: report it as transient (see the header). */
#define HOST_FAILURE SGX_UNMASKED_EVENT

int sgx_sigstruct_check_fields(const struct sgx_sigstruct *sig)
{
	static const uint8_t header1[16] = SGX_SIGSTRUCT_HEADER1;
	static const uint8_t header2[16] = SGX_SIGSTRUCT_HEADER2;
	const struct sgx_sigstruct_header *h = &sig->header;

	if (memcmp(h->header1, header1, sizeof(header1)) ||
	    memcmp(h->header2, header2, sizeof(header2)))
		return SGX_INVALID_SIG_STRUCT;
	if (h->vendor != 0 && h->vendor != SGX_SIGSTRUCT_VENDOR_INTEL)
		return SGX_INVALID_SIG_STRUCT;
	if (sig->exponent != SIG_EXPONENT)
		return SGX_INVALID_SIG_STRUCT;
	/*
	 * body.reserved2 holds CET_ATTRIBUTES and its mask on CPUs with CET in
	 * enclaves; this model does not offer it (CPUID.(12H,1):EAX[6] = 0), so
	 * the bytes are reserved like the rest.
	 */
	if (!all_zero(h->reserved1, sizeof(h->reserved1)) ||
	    !all_zero(sig->body.reserved2, sizeof(sig->body.reserved2)) ||
	    !all_zero(sig->body.reserved3, sizeof(sig->body.reserved3)) ||
	    !all_zero(sig->reserved4, sizeof(sig->reserved4)))
		return SGX_INVALID_SIG_STRUCT;
	return SGX_SUCCESS;
}

/* Little-endian SIGSTRUCT integer to a BIGNUM; NULL only when out of memory. */
static BIGNUM *le_to_bn(const uint8_t le[SGX_MODULUS_SIZE])
{
	return BN_lebin2bn(le, SGX_MODULUS_SIZE, NULL);
}

/* An RSA public key (M, 3). Returns SGX_SUCCESS, HOST_FAILURE or INVALID_SIGNATURE. */
static int make_pubkey(const BIGNUM *m, EVP_PKEY **pkey)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int ret = HOST_FAILURE;
	BIGNUM *e;

	*pkey = NULL;
	e = BN_new();
	if (!e || !BN_set_word(e, SIG_EXPONENT))
		goto out;
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, m) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (!params)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1)
		goto out;
	/* This one depends on the modulus: a refusal is the SIGSTRUCT's fault. */
	if (EVP_PKEY_fromdata(ctx, pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		ret = SGX_INVALID_SIGNATURE;
		goto out;
	}
	ret = SGX_SUCCESS;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(e);
	return ret;
}

/* RSASSA-PKCS1-v1_5 with SHA-256 over HEADER || BODY. */
static int verify_rsa(const struct sgx_sigstruct *sig, const BIGNUM *m)
{
	uint8_t sig_be[SGX_MODULUS_SIZE];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	int ret;

	ret = make_pubkey(m, &pkey);
	if (ret)
		return ret;
	md = EVP_MD_CTX_new();
	if (!md) {
		ret = HOST_FAILURE;
		goto out;
	}
	for (size_t i = 0; i < SGX_MODULUS_SIZE; i++)
		sig_be[i] = sig->signature[SGX_MODULUS_SIZE - 1 - i];
	ret = SGX_INVALID_SIGNATURE;
	if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_DigestVerifyUpdate(md, &sig->header, sizeof(sig->header)) != 1 ||
	    EVP_DigestVerifyUpdate(md, &sig->body, sizeof(sig->body)) != 1)
		goto out;
	if (EVP_DigestVerifyFinal(md, sig_be, sizeof(sig_be)) == 1)
		ret = SGX_SUCCESS;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	return ret;
}

/*
 * Q1 and Q2 must be exactly the quotients for S and M. Only called once the
 * signature verified, so M is a usable modulus and any failure is the host's.
 */
static int verify_q1_q2(const struct sgx_sigstruct *sig, const BIGNUM *s, const BIGNUM *m)
{
	BIGNUM *t, *q, *r, *given;
	int ret = HOST_FAILURE;
	BN_CTX *ctx;

	ctx = BN_CTX_new();
	if (!ctx)
		return HOST_FAILURE;
	BN_CTX_start(ctx);
	t = BN_CTX_get(ctx);
	q = BN_CTX_get(ctx);
	r = BN_CTX_get(ctx);
	given = BN_CTX_get(ctx);
	if (!given)
		goto out;

	/* Q1 = floor(S^2 / M); R = S^2 - Q1 * M. */
	if (!BN_sqr(t, s, ctx) || !BN_div(q, r, t, m, ctx) ||
	    !BN_lebin2bn(sig->q1, SGX_MODULUS_SIZE, given))
		goto out;
	if (BN_cmp(q, given)) {
		ret = SGX_INVALID_SIGNATURE;
		goto out;
	}
	/* S^3 - Q1 * S * M = S * R, so Q2 = floor(S * R / M). */
	if (!BN_mul(t, s, r, ctx) || !BN_div(q, NULL, t, m, ctx) ||
	    !BN_lebin2bn(sig->q2, SGX_MODULUS_SIZE, given))
		goto out;
	ret = BN_cmp(q, given) ? SGX_INVALID_SIGNATURE : SGX_SUCCESS;
out:
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return ret;
}

int sgx_sigstruct_check_signature(const struct sgx_sigstruct *sig,
				  uint8_t mrsigner[SGX_HASH_SIZE])
{
	BIGNUM *m = NULL, *s = NULL;
	int ret = HOST_FAILURE;

	/* A refused signature leaves errors behind; they are ours, not the caller's. */
	ERR_set_mark();
	m = le_to_bn(sig->modulus);
	s = le_to_bn(sig->signature);
	if (!m || !s)
		goto out;
	ret = verify_rsa(sig, m);
	if (ret)
		goto out;
	ret = verify_q1_q2(sig, s, m);
	if (ret)
		goto out;
	SHA256(sig->modulus, sizeof(sig->modulus), mrsigner);
out:
	BN_free(s);
	BN_free(m);
	ERR_pop_to_mark();
	return ret;
}

int sgx_sigstruct_check(const struct sgx_sigstruct *sig, uint8_t mrsigner[SGX_HASH_SIZE])
{
	int ret;

	ret = sgx_sigstruct_check_fields(sig);
	if (ret)
		return ret;
	return sgx_sigstruct_check_signature(sig, mrsigner);
}
