/* SPDX-License-Identifier: MIT */
/*
 * The test enclave's image for the shim test programs: load it from the
 * file an environment variable names (SOFTSGX_TEST_ENCLAVE, or
 * SOFTSGX_TEST_ENCLAVE_XSAVE), and sign it as it is then with the key
 * another names (SOFTSGX_TEST_KEY, SOFTSGX_TEST_KEY2), all set by
 * `make check`. A program that changes the image (ELRANGE, XFRM, a page)
 * does so between loading and signing, since SIGSTRUCT measures it.
 */
#ifndef SOFTSGX_TESTS_TEST_IMAGE_H
#define SOFTSGX_TESTS_TEST_IMAGE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tools/lib/enclave_image.h"
#include "tools/lib/sigstruct_sign.h"
#include "softsgx/sgx_arch.h"

/* Load the image the variable @env names into @img: 0, or -1 with a message. */
static inline int test_image_load(const char *env, struct enclave_image *img)
{
	const char *path = getenv(env);

	if (!path) {
		fprintf(stderr, "%s is not set: run with `make check`\n", env);
		return -1;
	}
	if (enclave_image_load_file(path, img)) {
		fprintf(stderr, "%s: %s\n", path, enclave_image_error());
		return -1;
	}
	return 0;
}

/*
 * Sign @img with the key the variable @key_env names into a new page of
 * *@sig (the caller frees it); the key's MRSIGNER into @mrsigner unless
 * NULL. 0, or -1 with a message.
 */
static inline int test_image_sign_with(const char *key_env, const struct enclave_image *img,
				       struct sgx_sigstruct **sig, uint8_t *mrsigner)
{
	const char *path = getenv(key_env);
	EVP_PKEY *key = NULL;
	int ret;

	*sig = NULL;
	if (!path) {
		fprintf(stderr, "%s is not set: run with `make check`\n", key_env);
		return -1;
	}
	if (sgx_sign_load_key(path, &key)) {
		fprintf(stderr, "%s: %s\n", path, sgx_sign_error());
		return -1;
	}
	*sig = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	ret = *sig ? enclave_image_sign(img, key, NULL, *sig) : -ENOMEM;
	if (!ret && mrsigner)
		ret = sgx_sign_mrsigner(key, mrsigner);
	EVP_PKEY_free(key);
	if (ret)
		fprintf(stderr, "signing with %s: %d\n", path, ret);
	return ret ? -1 : 0;
}

/* Sign @img with SOFTSGX_TEST_KEY into *@sig. 0, or -1 with a message. */
static inline int test_image_sign(const struct enclave_image *img, struct sgx_sigstruct **sig)
{
	return test_image_sign_with("SOFTSGX_TEST_KEY", img, sig, NULL);
}

/* Load the image @env names and sign it unchanged with SOFTSGX_TEST_KEY. */
static inline int test_image_prepare(const char *env, struct enclave_image *img,
				     struct sgx_sigstruct **sig)
{
	if (test_image_load(env, img))
		return -1;
	return test_image_sign(img, sig);
}

static inline void test_image_free(struct enclave_image *img, struct sgx_sigstruct **sig)
{
	enclave_image_free(img);
	free(*sig);
	*sig = NULL;
}

#endif /* SOFTSGX_TESTS_TEST_IMAGE_H */
