// SPDX-License-Identifier: MIT
/*
 * The functions of test_keys.h. Not called test_keys.c because the Makefile
 * builds every tests/<dir>/test_*.c, tests/common included, as a test program.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/sha.h>

#include "tools/lib/sigstruct_sign.h"
#include "tests/common/test_keys.h"

EVP_PKEY *test_key_load(const char *env)
{
	const char *path = getenv(env);
	EVP_PKEY *key = NULL;
	int ret;

	if (!path || !*path)
		fail_msg("%s is not set: run the tests with `make check`, which generates the "
			 "RSA-3072 e=3 test keys and exports their paths",
			 env);
	ret = sgx_sign_load_key(path, &key);
	if (ret)
		fail_msg("%s=%s does not load (%d): %s", env, path, ret, sgx_sign_error());
	return key;
}

EVP_PKEY *test_key(void)
{
	return test_key_load(TEST_KEY_ENV);
}

EVP_PKEY *test_key2(void)
{
	return test_key_load(TEST_KEY2_ENV);
}

void test_key_mrsigner(const EVP_PKEY *key, uint8_t out[SGX_HASH_SIZE])
{
	uint8_t be[SGX_MODULUS_SIZE], le[SGX_MODULUS_SIZE];
	BIGNUM *n = NULL;

	assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	/* Big-endian out of OpenSSL, reversed by hand. */
	assert_int_equal(BN_bn2binpad(n, be, sizeof(be)), sizeof(be));
	for (size_t i = 0; i < sizeof(be); i++)
		le[i] = be[sizeof(be) - 1 - i];
	SHA256(le, sizeof(le), out);
	BN_free(n);
}
