/* SPDX-License-Identifier: MIT */
/*
 * Sealing of one evicted EPC page: AES-128-GCM under the platform's paging
 * key, with the page's metadata as additional authenticated data. EWB seals,
 * ELDU/ELDB unseal; nothing else in the model sees the cipher. Every thread
 * keeps its own cipher contexts (page_crypto.c), so the functions may run on
 * any number of threads at once, also in a signal handler that interrupted
 * one of them on its own thread.
 *
 * The nonce is the page's EWB version. Versions are drawn from one counter per
 * platform and never reused, so a (key, IV) pair never repeats, which GCM
 * needs for both confidentiality and integrity.
 */
#ifndef SOFTSGX_PAGE_CRYPTO_H
#define SOFTSGX_PAGE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define PAGE_CRYPTO_KEY_SIZE 16
#define PAGE_CRYPTO_MAC_SIZE 16
/* GCM's 96-bit IV: the version as 8 little-endian bytes, then 4 zero bytes. */
#define PAGE_CRYPTO_IV_SIZE 12

enum page_crypto_status {
	PAGE_CRYPTO_OK = 0,
	PAGE_CRYPTO_BAD_MAC, /* unseal: the tag does not match */
	PAGE_CRYPTO_ERROR,   /* libcrypto could not run, e.g. out of host memory */
};

/*
 * Encrypt the 4 KiB page @plain into @cipher_out and write the tag to
 * @mac_out. After PAGE_CRYPTO_ERROR the outputs may hold partial results;
 * callers seal into scratch buffers and publish only on success.
 */
enum page_crypto_status page_seal(const uint8_t key[PAGE_CRYPTO_KEY_SIZE], uint64_t nonce,
				  const void *aad, size_t aad_len, const void *plain,
				  void *cipher_out, uint8_t mac_out[PAGE_CRYPTO_MAC_SIZE]);

/*
 * Decrypt and authenticate the 4 KiB page @cipher. @plain_out is written only
 * when the tag matches; otherwise it is left exactly as it was, so a failed
 * ELDU cannot leak or plant unauthenticated bytes.
 */
enum page_crypto_status page_unseal(const uint8_t key[PAGE_CRYPTO_KEY_SIZE], uint64_t nonce,
				    const void *aad, size_t aad_len, const void *cipher,
				    const uint8_t mac[PAGE_CRYPTO_MAC_SIZE], void *plain_out);

/*
 * page_unseal() for a caller with a private scratch page, saving it a copy:
 * decrypt @cipher into @scratch (which may be @cipher itself) and check the
 * tag. Whatever the result, @scratch may then hold plaintext; only after
 * PAGE_CRYPTO_OK is it authenticated. The caller must not let anyone see it
 * otherwise, and should clear it when done.
 */
enum page_crypto_status page_open(const uint8_t key[PAGE_CRYPTO_KEY_SIZE], uint64_t nonce,
				  const void *aad, size_t aad_len, const void *cipher,
				  const uint8_t mac[PAGE_CRYPTO_MAC_SIZE], void *scratch);

#endif /* SOFTSGX_PAGE_CRYPTO_H */
