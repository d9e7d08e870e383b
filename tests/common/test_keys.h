/* SPDX-License-Identifier: MIT */
/*
 * The signing keys of the tests: two RSA-3072 keys with exponent 3 that the
 * Makefile generates at build time; `make check` passes their paths in
 * SOFTSGX_TEST_KEY and SOFTSGX_TEST_KEY2.
 */
#ifndef SOFTSGX_TEST_KEYS_H
#define SOFTSGX_TEST_KEYS_H

#include <stdint.h>

#include <openssl/evp.h>

#include "softsgx/sgx_arch.h"

#define TEST_KEY_ENV "SOFTSGX_TEST_KEY"
#define TEST_KEY2_ENV "SOFTSGX_TEST_KEY2"

/*
 * Load the key named by environment variable @env; fails the running test
 * with a message that says what to do when the variable is unset or the key
 * does not load. Free with EVP_PKEY_free().
 */
EVP_PKEY *test_key_load(const char *env);

/* test_key_load(TEST_KEY_ENV) and test_key_load(TEST_KEY2_ENV). */
EVP_PKEY *test_key(void);
EVP_PKEY *test_key2(void);

/*
 * SHA-256 of @key's modulus as 384 little-endian bytes, computed here without
 * the library's signer so that tests can check MRSIGNER independently.
 */
void test_key_mrsigner(const EVP_PKEY *key, uint8_t out[SGX_HASH_SIZE]);

#endif /* SOFTSGX_TEST_KEYS_H */
