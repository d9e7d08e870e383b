// SPDX-License-Identifier: MIT
/*
 * AES-128-GCM over one EPC page with OpenSSL's EVP interface.
 *
 * Leaves on different logical processors seal and unseal concurrently, so
 * each thread has its own pair of cipher contexts, made on its first use and
 * freed when it exits. Creating a context per call costs more than the
 * cipher itself: OpenSSL 3 fetches the algorithm by name and allocates on
 * every EVP_CIPHER_CTX_new() + EVP_*Init_ex(EVP_aes_128_gcm()). A context is
 * keyed once and then only given a new IV, which is all GCM needs per page;
 * it is keyed again when a call brings another key (one process may run
 * several platforms, each with its own paging key).
 *
 * A signal handler may run a leaf on a thread that is itself inside one
 * (the shim's fault handler interrupting the model): a call that finds its
 * thread's context in use takes a temporary one, as every call once did.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hw/page_crypto.h"
#include "softsgx/sgx_arch.h"

/* One direction's context, and the key it holds (valid when @keyed). */
struct gcm_ctx {
	EVP_CIPHER_CTX *ctx;
	uint8_t key[PAGE_CRYPTO_KEY_SIZE];
	bool keyed;
	volatile bool busy; /* an operation of this thread has it; see gcm_get() */
};

struct page_crypto_tls {
	struct gcm_ctx seal, open;
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
/* Cleared again when the library goes (tls_key_fini()): no new thread registers. */
static _Atomic bool tls_key_ok;
/* The fast path; tls_key only exists to free the contexts at thread exit. */
static __thread struct page_crypto_tls *tls;

static void gcm_ctx_free(struct gcm_ctx *g)
{
	EVP_CIPHER_CTX_free(g->ctx);
	g->ctx = NULL;
	g->keyed = false;
	OPENSSL_cleanse(g->key, sizeof(g->key));
}

static void tls_free(void *p)
{
	struct page_crypto_tls *t = p;

	if (tls == t)
		tls = NULL;
	gcm_ctx_free(&t->seal);
	gcm_ctx_free(&t->open);
	free(t);
}

static void tls_key_init(void)
{
	atomic_store(&tls_key_ok, pthread_key_create(&tls_key, tls_free) == 0);
}

/*
 * A program may dlopen() and dlclose() the library (libsoftsgx.so): no
 * thread must then find tls_free(), gone with it, among its key destructors.
 * Contexts of threads still running are left to the process; a thread that
 * seals after this (at exit, say) falls back to temporary contexts.
 */
__attribute__((destructor)) static void tls_key_fini(void)
{
	if (atomic_exchange(&tls_key_ok, false))
		pthread_key_delete(tls_key);
}

/* This thread's contexts, made on first use; NULL when the host is out of memory. */
static struct page_crypto_tls *tls_get(void)
{
	struct page_crypto_tls *t = tls;

	if (__builtin_expect(t != NULL, 1))
		return t;
	pthread_once(&tls_once, tls_key_init);
	if (!atomic_load_explicit(&tls_key_ok, memory_order_relaxed))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->seal.ctx = EVP_CIPHER_CTX_new();
	t->open.ctx = EVP_CIPHER_CTX_new();
	if (!t->seal.ctx || !t->open.ctx || pthread_setspecific(tls_key, t)) {
		tls_free(t);
		return NULL;
	}
	tls = t;
	return t;
}

/*
 * The context for one operation: @g, this thread's, unless a signal handler
 * interrupted the operation that holds it (or there is none for want of
 * memory); then a temporary one in @tmp. NULL: out of memory.
 */
static struct gcm_ctx *gcm_get(struct gcm_ctx *g, struct gcm_ctx *tmp)
{
	if (g && !g->busy) {
		g->busy = true;
		/* Same thread only: a handler sees the flag before we use the context. */
		atomic_signal_fence(memory_order_seq_cst);
		return g;
	}
	memset(tmp, 0, sizeof(*tmp));
	tmp->ctx = EVP_CIPHER_CTX_new();
	return tmp->ctx ? tmp : NULL;
}

static void gcm_put(struct gcm_ctx *g, struct gcm_ctx *tmp)
{
	if (g == tmp) {
		gcm_ctx_free(tmp);
		return;
	}
	atomic_signal_fence(memory_order_seq_cst);
	g->busy = false;
}

static void make_iv(uint8_t iv[PAGE_CRYPTO_IV_SIZE], uint64_t nonce)
{
	memset(iv, 0, PAGE_CRYPTO_IV_SIZE);
	for (int i = 0; i < 8; i++)
		iv[i] = (uint8_t)(nonce >> (8 * i));
}

/*
 * Start one page's operation on @g with a new IV. A context used before
 * keeps its cipher (NULL skips OpenSSL's fetch) and, when it already holds
 * @key, its key schedule; otherwise it is keyed here.
 */
static bool gcm_start(struct gcm_ctx *g, bool enc, const uint8_t key[PAGE_CRYPTO_KEY_SIZE],
		      uint64_t nonce)
{
	bool fresh = !g->keyed;
	bool same_key = !fresh && !CRYPTO_memcmp(g->key, key, PAGE_CRYPTO_KEY_SIZE);
	const EVP_CIPHER *cipher = fresh ? EVP_aes_128_gcm() : NULL;
	const uint8_t *k = same_key ? NULL : key;
	uint8_t iv[PAGE_CRYPTO_IV_SIZE];
	int ok;

	make_iv(iv, nonce);
	/* Until this call has succeeded, the context holds no usable key. */
	g->keyed = false;
	ok = enc ? EVP_EncryptInit_ex(g->ctx, cipher, NULL, k, iv)
		 : EVP_DecryptInit_ex(g->ctx, cipher, NULL, k, iv);
	if (ok != 1)
		return false;
	if (!same_key)
		memcpy(g->key, key, PAGE_CRYPTO_KEY_SIZE);
	g->keyed = true;
	return true;
}

static enum page_crypto_status seal_with(struct gcm_ctx *g, const uint8_t key[PAGE_CRYPTO_KEY_SIZE],
					 uint64_t nonce, const void *aad, size_t aad_len,
					 const void *plain, void *cipher_out,
					 uint8_t mac_out[PAGE_CRYPTO_MAC_SIZE])
{
	int len;

	if (!gcm_start(g, true, key, nonce))
		return PAGE_CRYPTO_ERROR;
	if (aad_len && EVP_EncryptUpdate(g->ctx, NULL, &len, aad, (int)aad_len) != 1)
		goto err;
	if (EVP_EncryptUpdate(g->ctx, cipher_out, &len, plain, SGX_PAGE_SIZE) != 1 ||
	    len != SGX_PAGE_SIZE)
		goto err;
	/* GCM is a stream mode: finalizing only computes the tag. */
	if (EVP_EncryptFinal_ex(g->ctx, (uint8_t *)cipher_out + len, &len) != 1 || len != 0)
		goto err;
	if (EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_GET_TAG, PAGE_CRYPTO_MAC_SIZE, mac_out) != 1)
		goto err;
	return PAGE_CRYPTO_OK;
err:
	/* State unknown after a failure: key the context afresh next time. */
	g->keyed = false;
	return PAGE_CRYPTO_ERROR;
}

/*
 * The calling thread's context for sealing (@seal) or opening, or @tmp when
 * the thread has none to lend (see gcm_get()); NULL when the AAD is too
 * long for EVP's int lengths or no context can be made.
 */
static struct gcm_ctx *gcm_for(bool seal, size_t aad_len, struct gcm_ctx *tmp)
{
	struct page_crypto_tls *t;

	if (aad_len > INT_MAX)
		return NULL;
	t = tls_get();
	return gcm_get(t ? (seal ? &t->seal : &t->open) : NULL, tmp);
}

enum page_crypto_status page_seal(const uint8_t key[PAGE_CRYPTO_KEY_SIZE], uint64_t nonce,
				  const void *aad, size_t aad_len, const void *plain,
				  void *cipher_out, uint8_t mac_out[PAGE_CRYPTO_MAC_SIZE])
{
	struct gcm_ctx tmp, *g = gcm_for(true, aad_len, &tmp);
	enum page_crypto_status ret;

	if (!g)
		return PAGE_CRYPTO_ERROR;
	ret = seal_with(g, key, nonce, aad, aad_len, plain, cipher_out, mac_out);
	gcm_put(g, &tmp);
	return ret;
}

static enum page_crypto_status open_with(struct gcm_ctx *g, const uint8_t key[PAGE_CRYPTO_KEY_SIZE],
					 uint64_t nonce, const void *aad, size_t aad_len,
					 const void *cipher,
					 const uint8_t mac[PAGE_CRYPTO_MAC_SIZE], void *scratch)
{
	uint8_t tag[PAGE_CRYPTO_MAC_SIZE];
	int len;

	if (!gcm_start(g, false, key, nonce))
		return PAGE_CRYPTO_ERROR;
	/* The control call wants a writable buffer; the caller's tag is const. */
	memcpy(tag, mac, sizeof(tag));
	if (aad_len && EVP_DecryptUpdate(g->ctx, NULL, &len, aad, (int)aad_len) != 1)
		goto err;
	if (EVP_DecryptUpdate(g->ctx, scratch, &len, cipher, SGX_PAGE_SIZE) != 1 ||
	    len != SGX_PAGE_SIZE)
		goto err;
	if (EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_SET_TAG, sizeof(tag), tag) != 1)
		goto err;
	/* A mismatch leaves the context fit for the next IV: no re-keying. */
	if (EVP_DecryptFinal_ex(g->ctx, (uint8_t *)scratch + len, &len) != 1)
		return PAGE_CRYPTO_BAD_MAC;
	return PAGE_CRYPTO_OK;
err:
	g->keyed = false;
	return PAGE_CRYPTO_ERROR;
}

enum page_crypto_status page_open(const uint8_t key[PAGE_CRYPTO_KEY_SIZE], uint64_t nonce,
				  const void *aad, size_t aad_len, const void *cipher,
				  const uint8_t mac[PAGE_CRYPTO_MAC_SIZE], void *scratch)
{
	struct gcm_ctx tmp, *g = gcm_for(false, aad_len, &tmp);
	enum page_crypto_status ret;

	if (!g)
		return PAGE_CRYPTO_ERROR;
	ret = open_with(g, key, nonce, aad, aad_len, cipher, mac, scratch);
	gcm_put(g, &tmp);
	return ret;
}

enum page_crypto_status page_unseal(const uint8_t key[PAGE_CRYPTO_KEY_SIZE], uint64_t nonce,
				    const void *aad, size_t aad_len, const void *cipher,
				    const uint8_t mac[PAGE_CRYPTO_MAC_SIZE], void *plain_out)
{
	/* GCM decrypts before it authenticates: keep the plaintext here until then. */
	uint8_t tmp[SGX_PAGE_SIZE];
	enum page_crypto_status ret;

	ret = page_open(key, nonce, aad, aad_len, cipher, mac, tmp);
	if (ret == PAGE_CRYPTO_OK)
		memcpy(plain_out, tmp, SGX_PAGE_SIZE);
	explicit_bzero(tmp, sizeof(tmp));
	return ret;
}
