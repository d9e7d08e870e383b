// SPDX-License-Identifier: MIT
/*
 * EINIT's SIGSTRUCT checks: every field class gets the exact return code,
 * constant and reserved fields INVALID_SIG_STRUCT, everything the signature
 * covers or that feeds the RSA arithmetic INVALID_SIGNATURE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>

#include "tools/lib/sigstruct_sign.h"
#include "hw/sigstruct_verify.h"
#include "tests/common/test_keys.h"
#include "tests/common/leak_guard.h"

static EVP_PKEY *key;
static struct sgx_sigstruct good;
static uint8_t good_mrsigner[SGX_HASH_SIZE];

static void default_desc(struct sgx_sign_enclave *d)
{
	memset(d, 0, sizeof(*d));
	memset(d->mrenclave, 0x5C, sizeof(d->mrenclave));
	d->attributes = SGX_ATTR_MODE64BIT;
	d->attributes_mask = ~0ULL;
	d->xfrm = 0x3;
	d->xfrm_mask = ~0ULL;
	d->misc_mask = 0xFFFFFFFF;
	d->isvprodid = 7;
	d->isvsvn = 9;
	d->date = 0x20240101;
	d->swdefined = 0x01020304;
}

static int group_setup(void **state)
{
	struct sgx_sign_enclave d;

	(void)state;
	key = test_key();
	default_desc(&d);
	assert_int_equal(sgx_sign_sigstruct(&d, key, &good), 0);
	test_key_mrsigner(key, good_mrsigner);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	return 0;
}

/* Check a copy of the good SIGSTRUCT with byte @off XORed with @x. */
static int check_flipped(size_t off, uint8_t x)
{
	struct sgx_sigstruct s = good;
	uint8_t mrsigner[SGX_HASH_SIZE];

	((uint8_t *)&s)[off] ^= x;
	return sgx_sigstruct_check(&s, mrsigner);
}

static void assert_range(size_t from, size_t to, int expect)
{
	for (size_t off = from; off < to; off++) {
		int ret = check_flipped(off, 0x01);

		if (ret != expect)
			fail_msg("byte %zu flipped: got %d, expected %d", off, ret, expect);
	}
}

static void test_good(void **state)
{
	uint8_t mrsigner[SGX_HASH_SIZE];

	(void)state;
	memset(mrsigner, 0, sizeof(mrsigner));
	assert_int_equal(sgx_sigstruct_check_fields(&good), SGX_SUCCESS);
	assert_int_equal(sgx_sigstruct_check_signature(&good, mrsigner), SGX_SUCCESS);
	assert_memory_equal(mrsigner, good_mrsigner, SGX_HASH_SIZE);
	memset(mrsigner, 0, sizeof(mrsigner));
	assert_int_equal(sgx_sigstruct_check(&good, mrsigner), SGX_SUCCESS);
	assert_memory_equal(mrsigner, good_mrsigner, SGX_HASH_SIZE);
}

static void test_intel_vendor(void **state)
{
	struct sgx_sign_enclave d;
	struct sgx_sigstruct s;
	uint8_t mrsigner[SGX_HASH_SIZE];

	(void)state;
	default_desc(&d);
	d.vendor = SGX_SIGSTRUCT_VENDOR_INTEL;
	assert_int_equal(sgx_sign_sigstruct(&d, key, &s), 0);
	assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_SUCCESS);
	/* VENDOR is signed: turning 0x8086 into 0 keeps the form, breaks the signature. */
	s.header.vendor = 0;
	assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_INVALID_SIGNATURE);
}

static void test_header_constants(void **state)
{
	(void)state;
	for (size_t off = 0; off < 16; off++) {
		assert_int_equal(check_flipped(offsetof(struct sgx_sigstruct, header.header1) + off,
					       0x80),
				 SGX_INVALID_SIG_STRUCT);
		assert_int_equal(check_flipped(offsetof(struct sgx_sigstruct, header.header2) + off,
					       0x80),
				 SGX_INVALID_SIG_STRUCT);
	}
}

static void test_vendor(void **state)
{
	static const uint32_t bad[] = { 1, 0x8087, 0x80860000, 0xFFFFFFFF };
	struct sgx_sigstruct s;
	uint8_t mrsigner[SGX_HASH_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = good;
		s.header.vendor = bad[i];
		assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_INVALID_SIG_STRUCT);
	}
}

static void test_exponent(void **state)
{
	static const uint32_t bad[] = { 0, 1, 2, 4, 65537 };
	struct sgx_sigstruct s;
	uint8_t mrsigner[SGX_HASH_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = good;
		s.exponent = bad[i];
		assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_INVALID_SIG_STRUCT);
	}
}

static void test_reserved(void **state)
{
	(void)state;
	assert_range(offsetof(struct sgx_sigstruct, header.reserved1),
		     offsetof(struct sgx_sigstruct, modulus), SGX_INVALID_SIG_STRUCT);
	assert_range(offsetof(struct sgx_sigstruct, body.reserved2),
		     offsetof(struct sgx_sigstruct, body.isv_family_id), SGX_INVALID_SIG_STRUCT);
	assert_range(offsetof(struct sgx_sigstruct, body.reserved3),
		     offsetof(struct sgx_sigstruct, body.isv_ext_prod_id), SGX_INVALID_SIG_STRUCT);
	/* Not signed, but reserved all the same. */
	assert_range(offsetof(struct sgx_sigstruct, reserved4),
		     offsetof(struct sgx_sigstruct, q1), SGX_INVALID_SIG_STRUCT);
}

/* Signed header fields that have no fixed value: DATE and SWDEFINED. */
static void test_header_signed_fields(void **state)
{
	(void)state;
	assert_range(offsetof(struct sgx_sigstruct, header.date),
		     offsetof(struct sgx_sigstruct, header.header2), SGX_INVALID_SIGNATURE);
	assert_range(offsetof(struct sgx_sigstruct, header.swdefined),
		     offsetof(struct sgx_sigstruct, header.reserved1), SGX_INVALID_SIGNATURE);
}

/* Every body byte outside the reserved fields is covered by the signature. */
static void test_body(void **state)
{
	(void)state;
	assert_range(offsetof(struct sgx_sigstruct, body),
		     offsetof(struct sgx_sigstruct, body.reserved2), SGX_INVALID_SIGNATURE);
	assert_range(offsetof(struct sgx_sigstruct, body.isv_family_id),
		     offsetof(struct sgx_sigstruct, body.reserved3), SGX_INVALID_SIGNATURE);
	assert_range(offsetof(struct sgx_sigstruct, body.isv_ext_prod_id),
		     offsetof(struct sgx_sigstruct, reserved4), SGX_INVALID_SIGNATURE);
}

static void test_rsa_numbers(void **state)
{
	static const size_t at[] = { 0, 1, 127, 200, 382, 383 };

	(void)state;
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		static const size_t field[] = {
			offsetof(struct sgx_sigstruct, modulus),
			offsetof(struct sgx_sigstruct, signature),
			offsetof(struct sgx_sigstruct, q1),
			offsetof(struct sgx_sigstruct, q2),
		};

		for (size_t f = 0; f < sizeof(field) / sizeof(field[0]); f++)
			assert_int_equal(check_flipped(field[f] + at[i], 0x04),
					 SGX_INVALID_SIGNATURE);
	}
}

/* Q1 and Q2 off by one: the signature is fine, the helpers are not. */
static void test_q_off_by_one(void **state)
{
	uint8_t mrsigner[SGX_HASH_SIZE];
	struct sgx_sigstruct s = good;

	(void)state;
	s.q1[0] ^= 1;
	assert_int_equal(sgx_sigstruct_check_signature(&s, mrsigner), SGX_INVALID_SIGNATURE);
	s = good;
	s.q2[0] ^= 1;
	assert_int_equal(sgx_sigstruct_check_signature(&s, mrsigner), SGX_INVALID_SIGNATURE);
}

static void test_degenerate_numbers(void **state)
{
	uint8_t mrsigner[SGX_HASH_SIZE];
	struct sgx_sigstruct s = good;

	(void)state;
	memset(s.modulus, 0, sizeof(s.modulus));
	assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_INVALID_SIGNATURE);
	s = good;
	memset(s.modulus, 0xFF, sizeof(s.modulus));
	assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_INVALID_SIGNATURE);
	s = good;
	memset(s.signature, 0, sizeof(s.signature));
	assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_INVALID_SIGNATURE);
	/* S >= M. */
	s = good;
	memcpy(s.signature, s.modulus, sizeof(s.signature));
	assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_INVALID_SIGNATURE);
	s = good;
	memset(s.q1, 0, sizeof(s.q1));
	memset(s.q2, 0, sizeof(s.q2));
	assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_INVALID_SIGNATURE);
}

/* The constant fields are checked before the signature is even looked at. */
static void test_fields_before_signature(void **state)
{
	uint8_t mrsigner[SGX_HASH_SIZE];
	struct sgx_sigstruct s = good;

	(void)state;
	s.signature[10] ^= 1;
	s.exponent = 65537;
	assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_INVALID_SIG_STRUCT);
}

/* A refused SIGSTRUCT leaves nothing in the caller's OpenSSL error queue. */
static void test_error_queue_clean(void **state)
{
	uint8_t mrsigner[SGX_HASH_SIZE];
	struct sgx_sigstruct s = good;

	(void)state;
	ERR_clear_error();
	memcpy(s.signature, s.modulus, sizeof(s.signature));
	assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_INVALID_SIGNATURE);
	memset(s.modulus, 0, sizeof(s.modulus));
	assert_int_equal(sgx_sigstruct_check(&s, mrsigner), SGX_INVALID_SIGNATURE);
	assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_good),
		LG_TEST(test_intel_vendor),
		LG_TEST(test_header_constants),
		LG_TEST(test_vendor),
		LG_TEST(test_exponent),
		LG_TEST(test_reserved),
		LG_TEST(test_header_signed_fields),
		LG_TEST(test_body),
		LG_TEST(test_rsa_numbers),
		LG_TEST(test_q_off_by_one),
		LG_TEST(test_degenerate_numbers),
		LG_TEST(test_fields_before_signature),
		LG_TEST(test_error_queue_clean),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
