// SPDX-License-Identifier: MIT
/*
 * AES-128-GCM over one EPC page with OpenSSL's EVP interface. A fresh cipher
 * context per call keeps the functions reentrant: leaves on different logical
 * processors seal and unseal concurrently.
 */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "page_crypto.h"
#include "softsgx/sgx_arch.h"

static void make_iv(uint8_t iv[PAGE_CRYPTO_IV_SIZE], uint64_t nonce)
{
	memset(iv, 0, PAGE_CRYPTO_IV_SIZE);
	for (int i = 0; i < 8; i++)
		iv[i] = (uint8_t)(nonce >> (8 * i));
}

enum page_crypto_status page_seal(const uint8_t key[PAGE_CRYPTO_KEY_SIZE], uint64_t nonce,
				  const void *aad, size_t aad_len, const void *plain,
				  void *cipher_out, uint8_t mac_out[PAGE_CRYPTO_MAC_SIZE])
{
	enum page_crypto_status ret = PAGE_CRYPTO_ERROR;
	uint8_t iv[PAGE_CRYPTO_IV_SIZE];
	EVP_CIPHER_CTX *ctx;
	int len;

	if (aad_len > INT_MAX)
		return PAGE_CRYPTO_ERROR;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return PAGE_CRYPTO_ERROR;
	make_iv(iv, nonce);
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, iv) != 1)
		goto out;
	if (aad_len && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1)
		goto out;
	if (EVP_EncryptUpdate(ctx, cipher_out, &len, plain, SGX_PAGE_SIZE) != 1 ||
	    len != SGX_PAGE_SIZE)
		goto out;
	/* GCM is a stream mode: finalizing only computes the tag. */
	if (EVP_EncryptFinal_ex(ctx, (uint8_t *)cipher_out + len, &len) != 1 || len != 0)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, PAGE_CRYPTO_MAC_SIZE, mac_out) != 1)
		goto out;
	ret = PAGE_CRYPTO_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

enum page_crypto_status page_unseal(const uint8_t key[PAGE_CRYPTO_KEY_SIZE], uint64_t nonce,
				    const void *aad, size_t aad_len, const void *cipher,
				    const uint8_t mac[PAGE_CRYPTO_MAC_SIZE], void *plain_out)
{
	enum page_crypto_status ret = PAGE_CRYPTO_ERROR;
	uint8_t iv[PAGE_CRYPTO_IV_SIZE];
	uint8_t tag[PAGE_CRYPTO_MAC_SIZE];
	/* GCM decrypts before it authenticates: keep the plaintext here until then. */
	uint8_t tmp[SGX_PAGE_SIZE];
	EVP_CIPHER_CTX *ctx;
	int len;

	if (aad_len > INT_MAX)
		return PAGE_CRYPTO_ERROR;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return PAGE_CRYPTO_ERROR;
	make_iv(iv, nonce);
	/* The control call wants a writable buffer; the caller's tag is const. */
	memcpy(tag, mac, sizeof(tag));
	if (EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, iv) != 1)
		goto out;
	if (aad_len && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1)
		goto out;
	if (EVP_DecryptUpdate(ctx, tmp, &len, cipher, SGX_PAGE_SIZE) != 1 ||
	    len != SGX_PAGE_SIZE)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof(tag), tag) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(ctx, tmp + len, &len) != 1) {
		ret = PAGE_CRYPTO_BAD_MAC;
		goto out;
	}
	memcpy(plain_out, tmp, SGX_PAGE_SIZE);
	ret = PAGE_CRYPTO_OK;
out:
	OPENSSL_cleanse(tmp, sizeof(tmp));
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}
