// SPDX-License-Identifier: MIT
/*
 * The signer, checked against the SIGSTRUCT layout and against arithmetic
 * done here from the definitions (RSA with e = 3, PKCS#1 v1.5 encoding, the
 * Q1/Q2 formulas), not with the signer's own helpers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "tools/lib/sigstruct_sign.h"
#include "hw/sigstruct_verify.h"
#include "tests/common/test_keys.h"

static EVP_PKEY *key, *key2;

static int group_setup(void **state)
{
	(void)state;
	key = test_key();
	key2 = test_key2();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	EVP_PKEY_free(key2);
	return 0;
}

static void default_desc(struct sgx_sign_enclave *d)
{
	memset(d, 0, sizeof(*d));
	for (unsigned int i = 0; i < sizeof(d->mrenclave); i++)
		d->mrenclave[i] = (uint8_t)(0xA0 + i);
	d->attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	d->attributes_mask = ~0ULL;
	d->xfrm = 0x3;
	d->xfrm_mask = ~0ULL;
	d->miscselect = SGX_MISC_EXINFO;
	d->misc_mask = 0xFFFFFFFF;
	d->isvprodid = 0x1234;
	d->isvsvn = 0x5678;
	d->date = 0x20240131;
	d->vendor = 0;
	d->swdefined = 0xCAFEF00D;
}

/* A little-endian 384-byte SIGSTRUCT integer as a BIGNUM, reversed by hand. */
static BIGNUM *le_bn(const uint8_t le[SGX_MODULUS_SIZE])
{
	uint8_t be[SGX_MODULUS_SIZE];
	BIGNUM *bn;

	for (size_t i = 0; i < SGX_MODULUS_SIZE; i++)
		be[i] = le[SGX_MODULUS_SIZE - 1 - i];
	bn = BN_bin2bn(be, sizeof(be), NULL);
	assert_non_null(bn);
	return bn;
}

static BIGNUM *key_n(const EVP_PKEY *k)
{
	BIGNUM *n = NULL;

	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	return n;
}

static EVP_PKEY *gen_rsa(unsigned int bits, unsigned long exponent)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	BIGNUM *e = BN_new();
	EVP_PKEY *k = NULL;

	assert_non_null(ctx);
	assert_non_null(e);
	assert_int_equal(BN_set_word(e, exponent), 1);
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	assert_true(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) > 0);
	assert_true(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) > 0);
	assert_int_equal(EVP_PKEY_keygen(ctx, &k), 1);
	BN_free(e);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

/* Write @k as PEM into a fresh temporary file, encrypted when @pass is given. */
static char *write_pem(EVP_PKEY *k, const char *pass)
{
	char *path = strdup("/tmp/softsgx-test-key-XXXXXX");
	FILE *f;
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	if (pass)
		assert_int_equal(PEM_write_PrivateKey(f, k, EVP_aes_256_cbc(),
						      (const unsigned char *)pass,
						      (int)strlen(pass), NULL, NULL),
				 1);
	else
		assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	return path;
}

static void assert_load_rejected(EVP_PKEY *k, const char *pass, int err, const char *why)
{
	char *path = write_pem(k, pass);
	EVP_PKEY *loaded = (EVP_PKEY *)1;

	assert_int_equal(sgx_sign_load_key(path, &loaded), err);
	assert_null(loaded);
	assert_non_null(strstr(sgx_sign_error(), why));
	/* The message names the file, so a CLI can print it as it is. */
	assert_non_null(strstr(sgx_sign_error(), path));
	unlink(path);
	free(path);
}

static void test_fields(void **state)
{
	static const uint8_t header1[16] = SGX_SIGSTRUCT_HEADER1;
	static const uint8_t header2[16] = SGX_SIGSTRUCT_HEADER2;
	uint8_t zero[84] = { 0 }, n_le[SGX_MODULUS_SIZE];
	struct sgx_sign_enclave d;
	struct sgx_sigstruct s;
	BIGNUM *n;

	(void)state;
	default_desc(&d);
	memset(d.isv_family_id, 0x11, sizeof(d.isv_family_id));
	memset(d.isv_ext_prod_id, 0x22, sizeof(d.isv_ext_prod_id));
	assert_int_equal(sgx_sign_sigstruct(&d, key, &s), 0);

	assert_memory_equal(s.header.header1, header1, 16);
	assert_memory_equal(s.header.header2, header2, 16);
	assert_int_equal(s.header.vendor, 0);
	assert_int_equal(s.header.date, 0x20240131);
	assert_int_equal(s.header.swdefined, 0xCAFEF00D);
	assert_memory_equal(s.header.reserved1, zero, sizeof(s.header.reserved1));
	assert_int_equal(s.exponent, 3);

	assert_int_equal(s.body.miscselect, SGX_MISC_EXINFO);
	assert_int_equal(s.body.misc_mask, 0xFFFFFFFF);
	assert_memory_equal(s.body.reserved2, zero, sizeof(s.body.reserved2));
	assert_memory_equal(s.body.isv_family_id, d.isv_family_id, 16);
	assert_true(s.body.attributes == (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT));
	assert_true(s.body.xfrm == 0x3);
	assert_true(s.body.attributes_mask == ~0ULL);
	assert_true(s.body.xfrm_mask == ~0ULL);
	assert_memory_equal(s.body.mrenclave, d.mrenclave, 32);
	assert_memory_equal(s.body.reserved3, zero, sizeof(s.body.reserved3));
	assert_memory_equal(s.body.isv_ext_prod_id, d.isv_ext_prod_id, 16);
	assert_int_equal(s.body.isvprodid, 0x1234);
	assert_int_equal(s.body.isvsvn, 0x5678);
	assert_memory_equal(s.reserved4, zero, sizeof(s.reserved4));

	/* Raw offsets from the SDM's table, independent of the struct. */
	assert_int_equal(((uint8_t *)&s)[512], 3);
	assert_int_equal(((uint8_t *)&s)[1024], 0x34);
	assert_int_equal(((uint8_t *)&s)[1027], 0x56);

	n = key_n(key);
	assert_int_equal(BN_num_bits(n), 3072);
	assert_int_equal(BN_bn2lebinpad(n, n_le, sizeof(n_le)), sizeof(n_le));
	assert_memory_equal(s.modulus, n_le, sizeof(n_le));
	/* Little-endian: the top bit of a 3072-bit modulus is in the last byte. */
	assert_true(s.modulus[SGX_MODULUS_SIZE - 1] & 0x80);
	assert_true(s.modulus[0] & 1);
	BN_free(n);
}

/* S^e mod M must be the PKCS#1 v1.5 encoding of SHA-256(header || body). */
static void test_signature_is_pkcs1_sha256(void **state)
{
	static const uint8_t digest_info[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
					       0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
					       0x01, 0x05, 0x00, 0x04, 0x20 };
	uint8_t em[SGX_MODULUS_SIZE], got[SGX_MODULUS_SIZE], msg[256];
	size_t ps = SGX_MODULUS_SIZE - 3 - sizeof(digest_info) - 32;
	struct sgx_sign_enclave d;
	struct sgx_sigstruct s;
	BIGNUM *S, *M, *three, *r;
	BN_CTX *ctx = BN_CTX_new();

	(void)state;
	default_desc(&d);
	assert_int_equal(sgx_sign_sigstruct(&d, key, &s), 0);

	memcpy(msg, &s, 128);
	memcpy(msg + 128, (uint8_t *)&s + 900, 128);
	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xFF, ps);
	em[2 + ps] = 0x00;
	memcpy(em + 3 + ps, digest_info, sizeof(digest_info));
	SHA256(msg, sizeof(msg), em + 3 + ps + sizeof(digest_info));

	S = le_bn(s.signature);
	M = le_bn(s.modulus);
	three = BN_new();
	r = BN_new();
	assert_non_null(ctx);
	assert_non_null(three);
	assert_non_null(r);
	assert_int_equal(BN_set_word(three, 3), 1);
	assert_true(BN_cmp(S, M) < 0);
	assert_int_equal(BN_mod_exp(r, S, three, M, ctx), 1);
	assert_int_equal(BN_bn2binpad(r, got, sizeof(got)), sizeof(got));
	assert_memory_equal(got, em, sizeof(em));

	BN_free(S);
	BN_free(M);
	BN_free(three);
	BN_free(r);
	BN_CTX_free(ctx);
}

/* The SDM's formulas, literally: Q1 = S^2 / M, Q2 = (S^3 - Q1 * S * M) / M. */
static void test_q1_q2(void **state)
{
	struct sgx_sign_enclave d;
	struct sgx_sigstruct s;
	BIGNUM *S, *M, *q1, *q2, *t, *u;
	BN_CTX *ctx = BN_CTX_new();

	(void)state;
	default_desc(&d);
	assert_int_equal(sgx_sign_sigstruct(&d, key, &s), 0);
	S = le_bn(s.signature);
	M = le_bn(s.modulus);
	q1 = BN_new();
	q2 = BN_new();
	t = BN_new();
	u = BN_new();
	assert_non_null(ctx);
	assert_non_null(q1);
	assert_non_null(q2);
	assert_non_null(t);
	assert_non_null(u);

	assert_int_equal(BN_mul(t, S, S, ctx), 1);
	assert_int_equal(BN_div(q1, NULL, t, M, ctx), 1);
	assert_int_equal(BN_mul(t, t, S, ctx), 1);	/* S^3 */
	assert_int_equal(BN_mul(u, q1, S, ctx), 1);
	assert_int_equal(BN_mul(u, u, M, ctx), 1);	/* Q1 * S * M */
	assert_int_equal(BN_sub(t, t, u), 1);
	assert_int_equal(BN_div(q2, NULL, t, M, ctx), 1);

	BN_free(t);
	t = le_bn(s.q1);
	assert_int_equal(BN_cmp(t, q1), 0);
	BN_free(u);
	u = le_bn(s.q2);
	assert_int_equal(BN_cmp(u, q2), 0);

	BN_free(S);
	BN_free(M);
	BN_free(q1);
	BN_free(q2);
	BN_free(t);
	BN_free(u);
	BN_CTX_free(ctx);
}

static void test_verifies_with_key_and_model(void **state)
{
	uint8_t be[SGX_MODULUS_SIZE], mrsigner[32], expect[32];
	struct sgx_sign_enclave d;
	struct sgx_sigstruct s;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	(void)state;
	default_desc(&d);
	d.vendor = SGX_SIGSTRUCT_VENDOR_INTEL;
	assert_int_equal(sgx_sign_sigstruct(&d, key, &s), 0);

	for (size_t i = 0; i < sizeof(be); i++)
		be[i] = s.signature[sizeof(be) - 1 - i];
	assert_non_null(md);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestVerifyUpdate(md, &s.header, 128), 1);
	assert_int_equal(EVP_DigestVerifyUpdate(md, &s.body, 128), 1);
	assert_int_equal(EVP_DigestVerifyFinal(md, be, sizeof(be)), 1);
	EVP_MD_CTX_free(md);

	/* And what EINIT will do with it. */
	assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_SUCCESS);
	test_key_mrsigner(key, expect);
	assert_memory_equal(mrsigner, expect, 32);
}

static void test_mrsigner(void **state)
{
	uint8_t a[32], b[32], c[32], other[32];
	struct sgx_sign_enclave d;
	struct sgx_sigstruct s;

	(void)state;
	default_desc(&d);
	assert_int_equal(sgx_sign_sigstruct(&d, key, &s), 0);
	test_key_mrsigner(key, a);
	assert_int_equal(sgx_sign_mrsigner(key, b), 0);
	assert_int_equal(sgx_sign_sigstruct_mrsigner(&s, c), 0);
	assert_memory_equal(a, b, 32);
	assert_memory_equal(a, c, 32);

	assert_int_equal(sgx_sign_mrsigner(key2, other), 0);
	assert_memory_not_equal(a, other, 32);
}

/* PKCS#1 v1.5 is deterministic: same description and key, same SIGSTRUCT. */
static void test_deterministic(void **state)
{
	struct sgx_sigstruct *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct sgx_sign_enclave d;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	default_desc(&d);
	assert_int_equal(sgx_sign_sigstruct(&d, key, a), 0);
	assert_int_equal(sgx_sign_sigstruct(&d, key, b), 0);
	assert_memory_equal(a, b, sizeof(*a));
	assert_int_equal(sgx_sign_sigstruct(&d, key2, b), 0);
	assert_memory_not_equal(a->signature, b->signature, SGX_MODULUS_SIZE);
	free(a);
	free(b);
}

static void test_reject_2048_bit(void **state)
{
	EVP_PKEY *k = gen_rsa(2048, 3);
	struct sgx_sign_enclave d;
	struct sgx_sigstruct s;
	uint8_t h[32];

	(void)state;
	default_desc(&d);
	assert_int_equal(sgx_sign_check_key(k), -EINVAL);
	assert_non_null(strstr(sgx_sign_error(), "2048 bits"));
	assert_int_equal(sgx_sign_sigstruct(&d, k, &s), -EINVAL);
	assert_int_equal(sgx_sign_mrsigner(k, h), -EINVAL);
	assert_load_rejected(k, NULL, -EINVAL, "2048 bits");
	EVP_PKEY_free(k);
}

static void test_reject_exponent_65537(void **state)
{
	EVP_PKEY *k = gen_rsa(3072, 65537);
	struct sgx_sign_enclave d;
	struct sgx_sigstruct s;

	(void)state;
	default_desc(&d);
	assert_int_equal(sgx_sign_check_key(k), -EINVAL);
	assert_non_null(strstr(sgx_sign_error(), "exponent is 0x010001"));
	assert_int_equal(sgx_sign_sigstruct(&d, k, &s), -EINVAL);
	assert_load_rejected(k, NULL, -EINVAL, "exponent");
	EVP_PKEY_free(k);
}

static void test_reject_not_rsa(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	(void)state;
	assert_non_null(k);
	assert_int_equal(sgx_sign_check_key(k), -EINVAL);
	assert_non_null(strstr(sgx_sign_error(), "RSA-3072"));
	assert_load_rejected(k, NULL, -EINVAL, "RSA-3072");
	EVP_PKEY_free(k);
}

static void test_reject_public_only(void **state)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	BIGNUM *n = key_n(key), *e = NULL;
	struct sgx_sign_enclave d;
	struct sgx_sigstruct s;
	EVP_PKEY *pub = NULL;
	OSSL_PARAM *params;

	(void)state;
	assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e), 1);
	assert_non_null(bld);
	assert_non_null(ctx);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e), 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(params);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pub, EVP_PKEY_PUBLIC_KEY, params), 1);

	default_desc(&d);
	assert_int_equal(sgx_sign_check_key(pub), -EINVAL);
	assert_non_null(strstr(sgx_sign_error(), "private"));
	assert_int_equal(sgx_sign_sigstruct(&d, pub, &s), -EINVAL);

	EVP_PKEY_free(pub);
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
}

static void test_load_errors(void **state)
{
	char path[] = "/tmp/softsgx-test-garbage-XXXXXX";
	EVP_PKEY *k = (EVP_PKEY *)1;
	int fd;

	(void)state;
	assert_int_equal(sgx_sign_load_key("/nonexistent/softsgx/key.pem", &k), -ENOENT);
	assert_null(k);
	assert_non_null(strstr(sgx_sign_error(), "/nonexistent/softsgx/key.pem"));

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a key\n", 10), 10);
	close(fd);
	assert_int_equal(sgx_sign_load_key(path, &k), -EINVAL);
	assert_non_null(strstr(sgx_sign_error(), "PEM private key"));
	unlink(path);

	assert_int_equal(sgx_sign_load_key(NULL, &k), -EINVAL);
	assert_int_equal(sgx_sign_load_key(getenv(TEST_KEY_ENV), NULL), -EINVAL);
}

/* An encrypted key is refused; above all, nothing prompts for a passphrase. */
static void test_load_encrypted(void **state)
{
	(void)state;
	assert_load_rejected(key, "secret", -EINVAL, "unencrypted");
}

static void test_load_good(void **state)
{
	uint8_t a[32], b[32];
	EVP_PKEY *k = NULL;

	(void)state;
	assert_int_equal(sgx_sign_load_key(getenv(TEST_KEY2_ENV), &k), 0);
	assert_non_null(k);
	assert_int_equal(sgx_sign_mrsigner(k, a), 0);
	assert_int_equal(sgx_sign_mrsigner(key2, b), 0);
	assert_memory_equal(a, b, 32);
	EVP_PKEY_free(k);
}

static void test_bad_arguments(void **state)
{
	struct sgx_sign_enclave d;
	struct sgx_sigstruct s;
	uint8_t h[32];

	(void)state;
	default_desc(&d);
	d.vendor = 0x1234;
	memset(&s, 0x5A, sizeof(s));
	assert_int_equal(sgx_sign_sigstruct(&d, key, &s), -EINVAL);
	assert_non_null(strstr(sgx_sign_error(), "vendor"));
	d.vendor = 0;
	assert_int_equal(sgx_sign_sigstruct(NULL, key, &s), -EINVAL);
	assert_int_equal(sgx_sign_sigstruct(&d, NULL, &s), -EINVAL);
	assert_int_equal(sgx_sign_sigstruct(&d, key, NULL), -EINVAL);
	assert_int_equal(sgx_sign_mrsigner(NULL, h), -EINVAL);
	assert_int_equal(sgx_sign_mrsigner(key, NULL), -EINVAL);
	assert_int_equal(sgx_sign_sigstruct_mrsigner(NULL, h), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_signature_is_pkcs1_sha256),
		cmocka_unit_test(test_q1_q2),
		cmocka_unit_test(test_verifies_with_key_and_model),
		cmocka_unit_test(test_mrsigner),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_reject_2048_bit),
		cmocka_unit_test(test_reject_exponent_65537),
		cmocka_unit_test(test_reject_not_rsa),
		cmocka_unit_test(test_reject_public_only),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_encrypted),
		cmocka_unit_test(test_load_good),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
