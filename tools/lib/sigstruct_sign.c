// SPDX-License-Identifier: MIT
/*
 * The enclave signer. SIGSTRUCT carries the RSA numbers little-endian while
 * OpenSSL speaks big-endian, and EINIT does its modular arithmetic with two
 * helper quotients, Q1 and Q2, that the signer must supply:
 *
 *   Q1 = floor(S^2 / M)
 *   Q2 = floor((S^3 - Q1 * S * M) / M)
 *
 * (SDM Vol. 3D, EINIT). With R = S^2 mod M = S^2 - Q1 * M the second
 * numerator is S * R, which is what we compute.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "tools/lib/sigstruct_sign.h"

static _Thread_local char sign_error[256];

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sign_error, sizeof(sign_error), fmt, ap);
	va_end(ap);
	return err;
}

/* An OpenSSL call failed: keep its reason, which is all the caller can act on. */
static int fail_ossl(const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char reason[160] = "unknown error";

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	return fail(-EIO, "%s failed: %s", what, reason);
}

const char *sgx_sign_error(void)
{
	return sign_error;
}

static void reverse_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[n - 1 - i];
}

static int check_key(const EVP_PKEY *key)
{
	BIGNUM *e = NULL, *d = NULL;
	int bits, ret = 0;

	if (!key)
		return fail(-EINVAL, "no key");
	if (!EVP_PKEY_is_a(key, "RSA"))
		return fail(-EINVAL, "the key is %s, SGX needs RSA-%d with exponent %d",
			    EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "not RSA",
			    SGX_SIGN_KEY_BITS, SGX_SIGN_KEY_EXPONENT);
	bits = EVP_PKEY_get_bits(key);
	if (bits != SGX_SIGN_KEY_BITS)
		return fail(-EINVAL, "the RSA key has %d bits, SGX needs %d", bits,
			    SGX_SIGN_KEY_BITS);
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e))
		return fail_ossl("reading the RSA exponent");
	if (!BN_is_word(e, SGX_SIGN_KEY_EXPONENT)) {
		char *hex = BN_bn2hex(e);

		ret = fail(-EINVAL, "the RSA public exponent is 0x%s, SGX needs %d",
			   hex ? hex : "?", SGX_SIGN_KEY_EXPONENT);
		OPENSSL_free(hex);
		goto out;
	}
	/* Only the private exponent can sign; say so now, not as an OpenSSL error later. */
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_D, &d))
		ret = fail(-EINVAL, "the key has no private part");
out:
	BN_clear_free(d);
	BN_free(e);
	return ret;
}

int sgx_sign_check_key(const EVP_PKEY *key)
{
	int ret;

	/* Probing for the private exponent leaves an error behind on public keys. */
	ERR_set_mark();
	ret = check_key(key);
	ERR_pop_to_mark();
	return ret;
}

/* PEM_read_* would prompt on the terminal for an encrypted key; refuse instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int sgx_sign_load_key(const char *path, EVP_PKEY **key)
{
	EVP_PKEY *pkey;
	FILE *f;
	int ret;

	if (!path || !key)
		return fail(-EINVAL, "no key file given");
	*key = NULL;
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		return fail(ret, "%s: %s", path, strerror(-ret));
	}
	ERR_set_mark();
	pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	ERR_pop_to_mark();
	fclose(f);
	if (!pkey)
		return fail(-EINVAL, "%s: no unencrypted PEM private key found", path);

	ret = sgx_sign_check_key(pkey);
	if (ret) {
		char why[sizeof(sign_error)];

		snprintf(why, sizeof(why), "%s", sign_error);
		EVP_PKEY_free(pkey);
		return fail(ret, "%s: %s", path, why);
	}
	*key = pkey;
	return 0;
}

static int modulus_le(const EVP_PKEY *key, uint8_t out[SGX_MODULUS_SIZE], BIGNUM **nout)
{
	BIGNUM *n = NULL;
	int ret = 0;

	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n))
		return fail_ossl("reading the RSA modulus");
	if (BN_bn2lebinpad(n, out, SGX_MODULUS_SIZE) != SGX_MODULUS_SIZE)
		ret = fail(-EINVAL, "the RSA modulus does not fit in %d bytes", SGX_MODULUS_SIZE);
	if (ret || !nout)
		BN_free(n);
	else
		*nout = n;
	return ret;
}

int sgx_sign_mrsigner(const EVP_PKEY *key, uint8_t out[SGX_HASH_SIZE])
{
	uint8_t modulus[SGX_MODULUS_SIZE];
	int ret;

	if (!out)
		return fail(-EINVAL, "no output buffer");
	ret = sgx_sign_check_key(key);
	if (ret)
		return ret;
	ret = modulus_le(key, modulus, NULL);
	if (ret)
		return ret;
	SHA256(modulus, sizeof(modulus), out);
	return 0;
}

int sgx_sign_sigstruct_mrsigner(const struct sgx_sigstruct *sig, uint8_t out[SGX_HASH_SIZE])
{
	if (!sig || !out)
		return fail(-EINVAL, "no SIGSTRUCT or output buffer");
	SHA256(sig->modulus, sizeof(sig->modulus), out);
	return 0;
}

/* RSASSA-PKCS1-v1_5 / SHA-256 over the two signed 128-byte blocks, big-endian. */
static int rsa_sign(EVP_PKEY *key, const struct sgx_sigstruct *s,
		    uint8_t sig_be[SGX_MODULUS_SIZE])
{
	size_t len = SGX_MODULUS_SIZE;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *md;
	int ret = 0;

	md = EVP_MD_CTX_new();
	if (!md)
		return fail(-ENOMEM, "out of memory");
	if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_DigestSignUpdate(md, &s->header, sizeof(s->header)) != 1 ||
	    EVP_DigestSignUpdate(md, &s->body, sizeof(s->body)) != 1 ||
	    EVP_DigestSignFinal(md, sig_be, &len) != 1)
		ret = fail_ossl("RSA signing");
	else if (len != SGX_MODULUS_SIZE)
		ret = fail(-EIO, "RSA signature of %zu bytes, expected %d", len, SGX_MODULUS_SIZE);
	EVP_MD_CTX_free(md);
	return ret;
}

static int compute_q1_q2(const BIGNUM *s, const BIGNUM *m, uint8_t q1[SGX_MODULUS_SIZE],
			 uint8_t q2[SGX_MODULUS_SIZE])
{
	BIGNUM *t, *q, *r;
	BN_CTX *ctx;
	int ret = -EIO;

	ctx = BN_CTX_new();
	if (!ctx)
		return fail(-ENOMEM, "out of memory");
	BN_CTX_start(ctx);
	t = BN_CTX_get(ctx);
	q = BN_CTX_get(ctx);
	r = BN_CTX_get(ctx);
	if (!r) {
		ret = fail(-ENOMEM, "out of memory");
		goto out;
	}
	/* Q1 = floor(S^2 / M), R = S^2 mod M. */
	if (!BN_sqr(t, s, ctx) || !BN_div(q, r, t, m, ctx)) {
		ret = fail_ossl("computing Q1");
		goto out;
	}
	/* Both quotients are below M because S < M, so 384 bytes always hold them. */
	if (BN_bn2lebinpad(q, q1, SGX_MODULUS_SIZE) != SGX_MODULUS_SIZE) {
		ret = fail(-EIO, "Q1 does not fit in %d bytes", SGX_MODULUS_SIZE);
		goto out;
	}
	/* Q2 = floor(S * R / M). */
	if (!BN_mul(t, s, r, ctx) || !BN_div(q, NULL, t, m, ctx)) {
		ret = fail_ossl("computing Q2");
		goto out;
	}
	if (BN_bn2lebinpad(q, q2, SGX_MODULUS_SIZE) != SGX_MODULUS_SIZE) {
		ret = fail(-EIO, "Q2 does not fit in %d bytes", SGX_MODULUS_SIZE);
		goto out;
	}
	ret = 0;
out:
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return ret;
}

static void fill_unsigned_parts(const struct sgx_sign_enclave *desc, struct sgx_sigstruct *out)
{
	static const uint8_t header1[16] = SGX_SIGSTRUCT_HEADER1;
	static const uint8_t header2[16] = SGX_SIGSTRUCT_HEADER2;
	struct sgx_sigstruct_header *h = &out->header;
	struct sgx_sigstruct_body *b = &out->body;

	memset(out, 0, sizeof(*out));
	memcpy(h->header1, header1, sizeof(h->header1));
	h->vendor = desc->vendor;
	h->date = desc->date;
	memcpy(h->header2, header2, sizeof(h->header2));
	h->swdefined = desc->swdefined;

	b->miscselect = desc->miscselect;
	b->misc_mask = desc->misc_mask;
	memcpy(b->isv_family_id, desc->isv_family_id, sizeof(b->isv_family_id));
	b->attributes = desc->attributes;
	b->xfrm = desc->xfrm;
	b->attributes_mask = desc->attributes_mask;
	b->xfrm_mask = desc->xfrm_mask;
	memcpy(b->mrenclave, desc->mrenclave, sizeof(b->mrenclave));
	memcpy(b->isv_ext_prod_id, desc->isv_ext_prod_id, sizeof(b->isv_ext_prod_id));
	b->isvprodid = desc->isvprodid;
	b->isvsvn = desc->isvsvn;

	out->exponent = SGX_SIGN_KEY_EXPONENT;
}

int sgx_sign_sigstruct(const struct sgx_sign_enclave *desc, EVP_PKEY *key,
		       struct sgx_sigstruct *out)
{
	uint8_t sig_be[SGX_MODULUS_SIZE];
	BIGNUM *n = NULL, *s = NULL;
	int ret;

	if (!desc || !out)
		return fail(-EINVAL, "no enclave description or output buffer");
	/* EINIT refuses any other vendor with SGX_INVALID_SIG_STRUCT. */
	if (desc->vendor != 0 && desc->vendor != SGX_SIGSTRUCT_VENDOR_INTEL)
		return fail(-EINVAL, "vendor 0x%x is neither 0 nor 0x%x", desc->vendor,
			    SGX_SIGSTRUCT_VENDOR_INTEL);
	ret = sgx_sign_check_key(key);
	if (ret)
		return ret;

	ERR_set_mark();
	fill_unsigned_parts(desc, out);
	ret = modulus_le(key, out->modulus, &n);
	if (ret)
		goto out;
	ret = rsa_sign(key, out, sig_be);
	if (ret)
		goto out;
	reverse_copy(out->signature, sig_be, SGX_MODULUS_SIZE);
	s = BN_bin2bn(sig_be, SGX_MODULUS_SIZE, NULL);
	if (!s) {
		ret = fail(-ENOMEM, "out of memory");
		goto out;
	}
	ret = compute_q1_q2(s, n, out->q1, out->q2);
out:
	ERR_pop_to_mark();
	BN_free(s);
	BN_free(n);
	if (ret)
		memset(out, 0, sizeof(*out));
	return ret;
}
