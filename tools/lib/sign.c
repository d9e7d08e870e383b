// SPDX-License-Identifier: MIT
/*
 * The public signer (include/softsgx/sign.h): an opaque key around the
 * OpenSSL key of sigstruct_sign.c, and SIGSTRUCTs for public images through
 * enclave_image_sign(), checked as EINIT checks them before they are handed
 * out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "tools/lib/api.h"
#include "tools/lib/sigstruct_sign.h"
#include "hw/sigstruct_verify.h"
#include "softsgx/sign.h"

struct softsgx_key {
	EVP_PKEY *pkey;
};

static int key_wrap(EVP_PKEY *pkey, struct softsgx_key **key)
{
	*key = malloc(sizeof(**key));
	if (!*key) {
		EVP_PKEY_free(pkey);
		return api_fail(-ENOMEM, "out of memory");
	}
	(*key)->pkey = pkey;
	return 0;
}

int softsgx_key_load(const char *path, struct softsgx_key **key)
{
	EVP_PKEY *pkey;
	int ret;

	if (!key)
		return api_fail(-EINVAL, "no place for the key");
	*key = NULL;
	ret = sgx_sign_load_key(path, &pkey);
	if (ret)
		return api_fail(ret, "%s", sgx_sign_error());
	return key_wrap(pkey, key);
}

int softsgx_key_generate(struct softsgx_key **key)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	BIGNUM *e;
	int ok;

	if (!key)
		return api_fail(-EINVAL, "no place for the key");
	*key = NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	e = BN_new();
	/* The only shape of key EINIT accepts: RSA-3072, public exponent 3. */
	ok = ctx && e && BN_set_word(e, SGX_SIGN_KEY_EXPONENT) && EVP_PKEY_keygen_init(ctx) > 0 &&
	     EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, SGX_SIGN_KEY_BITS) > 0 &&
	     EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) > 0 && EVP_PKEY_keygen(ctx, &pkey) > 0;
	BN_free(e);
	EVP_PKEY_CTX_free(ctx);
	if (!ok) {
		EVP_PKEY_free(pkey);
		return api_fail(-EIO, "generating an RSA-3072 key failed (OpenSSL)");
	}
	return key_wrap(pkey, key);
}

void softsgx_key_free(struct softsgx_key *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

int softsgx_key_mrsigner(const struct softsgx_key *key, uint8_t mrsigner[SGX_HASH_SIZE])
{
	int ret;

	if (!key || !mrsigner)
		return api_fail(-EINVAL, "no key or no place for MRSIGNER");
	ret = sgx_sign_mrsigner(key->pkey, mrsigner);
	return ret ? api_fail(ret, "%s", sgx_sign_error()) : 0;
}

int softsgx_image_mrenclave(const struct softsgx_image *img, uint8_t mrenclave[SGX_HASH_SIZE])
{
	if (!img || !mrenclave)
		return api_fail(-EINVAL, "no image or no place for MRENCLAVE");
	enclave_image_mrenclave(api_image(img), mrenclave);
	return 0;
}

/* Every nibble a decimal digit. */
static int is_bcd(uint32_t v)
{
	for (; v; v >>= 4)
		if ((v & 0xF) > 9)
			return 0;
	return 1;
}

static int check_opts(const struct softsgx_sign_opts *o)
{
	for (size_t i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
		if (o->reserved[i])
			return api_fail(-EINVAL, "reserved option field %zu is not zero", i);
	if (o->attributes & SGX_ATTR_INIT)
		return api_fail(-EINVAL, "ATTRIBUTES.INIT is EINIT's to set, not the signer's");
	if (o->attributes & SGX_ATTR_RESERVED_MASK)
		return api_fail(-EINVAL, "ATTRIBUTES %#llx has reserved bits",
				(unsigned long long)o->attributes);
	if (!is_bcd(o->date))
		return api_fail(-EINVAL, "date %#x is not yyyymmdd in BCD digits", o->date);
	return 0;
}

int softsgx_sign(const struct softsgx_image *img, const struct softsgx_key *key,
		 const struct softsgx_sign_opts *opts, struct sgx_sigstruct *sig)
{
	struct enclave_sign_opts o = {0};
	uint8_t mrsigner[SGX_HASH_SIZE];
	int ret, sgx;

	if (!img || !key || !sig)
		return api_fail(-EINVAL, "no image, key or place for the SIGSTRUCT");
	if (opts) {
		ret = check_opts(opts);
		if (ret)
			return ret;
		o.isvprodid = opts->isvprodid;
		o.isvsvn = opts->isvsvn;
		o.date = opts->date;
		o.attributes = opts->attributes;
		o.xfrm = opts->xfrm;
	}
	ret = enclave_image_sign(api_image(img), key->pkey, &o, sig);
	if (ret)
		return api_fail(ret, "%s", enclave_image_error());
	/* Never hand out a SIGSTRUCT that EINIT would refuse by itself. */
	sgx = sgx_sigstruct_check(sig, mrsigner);
	if (sgx != SGX_SUCCESS) {
		memset(sig, 0, sizeof(*sig));
		return api_fail(-EIO, "the new SIGSTRUCT does not verify (SGX error %d)", sgx);
	}
	return 0;
}

int softsgx_sigstruct_mrsigner(const struct sgx_sigstruct *sig, uint8_t mrsigner[SGX_HASH_SIZE])
{
	int ret;

	if (!sig || !mrsigner)
		return api_fail(-EINVAL, "no SIGSTRUCT or no place for MRSIGNER");
	ret = sgx_sign_sigstruct_mrsigner(sig, mrsigner);
	return ret ? api_fail(ret, "%s", sgx_sign_error()) : 0;
}
