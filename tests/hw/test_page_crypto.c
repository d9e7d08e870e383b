// SPDX-License-Identifier: MIT
/*
 * AES-128-GCM page sealing: round trips, the IV layout against an independent
 * GCM computation, and that every input the tag covers is checked, with the
 * output left untouched on a mismatch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "tests/common/hw_fixture.h"
#include "hw/page_crypto.h"

#define NONCE 0x0123456789abcdefULL

struct crypto_test {
	uint8_t key[PAGE_CRYPTO_KEY_SIZE];
	uint8_t aad[128];
	uint8_t *plain;
	uint8_t *cipher;
	uint8_t *out;
	uint8_t mac[PAGE_CRYPTO_MAC_SIZE];
};

static int setup(void **state)
{
	struct crypto_test *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	for (unsigned int i = 0; i < sizeof(t->key); i++)
		t->key[i] = (uint8_t)(0x10 + i);
	for (unsigned int i = 0; i < sizeof(t->aad); i++)
		t->aad[i] = (uint8_t)(3 * i);
	t->plain = fx_page_buf(0);
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++)
		t->plain[i] = (uint8_t)(i * 13 + 5);
	t->cipher = fx_page_buf(0);
	t->out = fx_page_buf(0xEE);
	assert_int_equal(page_seal(t->key, NONCE, t->aad, sizeof(t->aad), t->plain, t->cipher,
				   t->mac),
			 PAGE_CRYPTO_OK);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct crypto_test *t = *state;

	free(t->plain);
	free(t->cipher);
	free(t->out);
	free(t);
	return 0;
}

static int unseal(struct crypto_test *t, uint64_t nonce)
{
	return page_unseal(t->key, nonce, t->aad, sizeof(t->aad), t->cipher, t->mac, t->out);
}

/* The output buffer still holds what setup() put there. */
static void assert_out_untouched(const struct crypto_test *t)
{
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++)
		if (t->out[i] != 0xEE)
			fail_msg("output byte %u changed on a failed unseal", i);
}

static void test_round_trip(void **state)
{
	struct crypto_test *t = *state;

	assert_memory_not_equal(t->cipher, t->plain, SGX_PAGE_SIZE);
	assert_int_equal(unseal(t, NONCE), PAGE_CRYPTO_OK);
	assert_memory_equal(t->out, t->plain, SGX_PAGE_SIZE);
}

static void test_round_trip_no_aad(void **state)
{
	struct crypto_test *t = *state;

	assert_int_equal(page_seal(t->key, 1, NULL, 0, t->plain, t->cipher, t->mac),
			 PAGE_CRYPTO_OK);
	assert_int_equal(page_unseal(t->key, 1, NULL, 0, t->cipher, t->mac, t->out),
			 PAGE_CRYPTO_OK);
	assert_memory_equal(t->out, t->plain, SGX_PAGE_SIZE);
}

/* Unsealing in place: the plaintext may overwrite the ciphertext. */
static void test_unseal_in_place(void **state)
{
	struct crypto_test *t = *state;

	assert_int_equal(page_unseal(t->key, NONCE, t->aad, sizeof(t->aad), t->cipher, t->mac,
				     t->cipher),
			 PAGE_CRYPTO_OK);
	assert_memory_equal(t->cipher, t->plain, SGX_PAGE_SIZE);
}

static void test_deterministic_per_nonce(void **state)
{
	struct crypto_test *t = *state;
	uint8_t *again = fx_page_buf(0), *other = fx_page_buf(0);
	uint8_t mac2[PAGE_CRYPTO_MAC_SIZE], mac3[PAGE_CRYPTO_MAC_SIZE];

	assert_int_equal(page_seal(t->key, NONCE, t->aad, sizeof(t->aad), t->plain, again, mac2),
			 PAGE_CRYPTO_OK);
	assert_memory_equal(again, t->cipher, SGX_PAGE_SIZE);
	assert_memory_equal(mac2, t->mac, sizeof(mac2));
	assert_int_equal(page_seal(t->key, NONCE + 1, t->aad, sizeof(t->aad), t->plain, other,
				   mac3),
			 PAGE_CRYPTO_OK);
	assert_memory_not_equal(other, t->cipher, SGX_PAGE_SIZE);
	assert_memory_not_equal(mac3, t->mac, sizeof(mac3));
	free(again);
	free(other);
}

/* The IV is the nonce as 8 little-endian bytes followed by 4 zero bytes. */
static void test_iv_layout(void **state)
{
	struct crypto_test *t = *state;
	uint8_t iv[12] = { 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0 };
	uint8_t *expect = fx_page_buf(0);
	uint8_t tag[16];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len;

	assert_non_null(ctx);
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, t->key, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &len, t->aad, sizeof(t->aad)), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, expect, &len, t->plain, SGX_PAGE_SIZE), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, expect + len, &len), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, sizeof(tag), tag), 1);
	EVP_CIPHER_CTX_free(ctx);

	assert_memory_equal(expect, t->cipher, SGX_PAGE_SIZE);
	assert_memory_equal(tag, t->mac, sizeof(tag));
	free(expect);
}

static void test_tampered_cipher(void **state)
{
	struct crypto_test *t = *state;

	t->cipher[SGX_PAGE_SIZE - 1] ^= 0x01;
	assert_int_equal(unseal(t, NONCE), PAGE_CRYPTO_BAD_MAC);
	assert_out_untouched(t);
	t->cipher[SGX_PAGE_SIZE - 1] ^= 0x01;
	t->cipher[0] ^= 0x80;
	assert_int_equal(unseal(t, NONCE), PAGE_CRYPTO_BAD_MAC);
	assert_out_untouched(t);
}

static void test_tampered_aad(void **state)
{
	struct crypto_test *t = *state;

	t->aad[100] ^= 0x04;
	assert_int_equal(unseal(t, NONCE), PAGE_CRYPTO_BAD_MAC);
	assert_out_untouched(t);
	t->aad[100] ^= 0x04;
	/* A shorter AAD is a different AAD. */
	assert_int_equal(page_unseal(t->key, NONCE, t->aad, sizeof(t->aad) - 8, t->cipher,
				     t->mac, t->out),
			 PAGE_CRYPTO_BAD_MAC);
	assert_out_untouched(t);
}

static void test_tampered_mac(void **state)
{
	struct crypto_test *t = *state;

	t->mac[15] ^= 0x40;
	assert_int_equal(unseal(t, NONCE), PAGE_CRYPTO_BAD_MAC);
	assert_out_untouched(t);
}

static void test_wrong_nonce(void **state)
{
	struct crypto_test *t = *state;

	assert_int_equal(unseal(t, NONCE + 1), PAGE_CRYPTO_BAD_MAC);
	assert_int_equal(unseal(t, 0), PAGE_CRYPTO_BAD_MAC);
	/* A nonce that differs only in the upper half also counts. */
	assert_int_equal(unseal(t, NONCE ^ (1ULL << 63)), PAGE_CRYPTO_BAD_MAC);
	assert_out_untouched(t);
}

static void test_wrong_key(void **state)
{
	struct crypto_test *t = *state;

	t->key[0] ^= 0x01;
	assert_int_equal(unseal(t, NONCE), PAGE_CRYPTO_BAD_MAC);
	assert_out_untouched(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_no_aad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unseal_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deterministic_per_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iv_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_cipher, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_aad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_mac, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
