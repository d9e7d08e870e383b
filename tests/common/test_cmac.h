/* SPDX-License-Identifier: MIT */
/*
 * AES-128-CMAC through OpenSSL's EVP_MAC, as a verifier of a REPORT
 * computes it: the tests' independent check of the CPU model's MACs.
 */
#ifndef SOFTSGX_TESTS_TEST_CMAC_H
#define SOFTSGX_TESTS_TEST_CMAC_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* Needs <cmocka.h> before it. */
static inline void test_cmac(const uint8_t key[16], const void *data, size_t len,
			     uint8_t mac[16])
{
	static char cipher[] = "AES-128-CBC";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *m = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *ctx;
	size_t n = 0;

	assert_non_null(m);
	ctx = EVP_MAC_CTX_new(m);
	assert_non_null(ctx);
	assert_int_equal(EVP_MAC_init(ctx, key, 16, params), 1);
	assert_int_equal(EVP_MAC_update(ctx, data, len), 1);
	assert_int_equal(EVP_MAC_final(ctx, mac, &n, 16), 1);
	assert_int_equal(n, 16);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
}

#endif /* SOFTSGX_TESTS_TEST_CMAC_H */
