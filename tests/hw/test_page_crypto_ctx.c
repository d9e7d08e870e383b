// SPDX-License-Identifier: MIT
/*
 * The reused cipher contexts of hw/page_crypto.c: a thread's contexts change
 * keys between calls (several platforms in one process), survive a failed
 * tag check, give the same bytes as a context made for the one call, and
 * stay correct when a signal handler seals and unseals on the thread while
 * an operation of the thread is under way (it must use a context of its own).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "tests/common/hw_fixture.h"
#include "hw/page_crypto.h"

struct keys {
	uint8_t a[PAGE_CRYPTO_KEY_SIZE], b[PAGE_CRYPTO_KEY_SIZE];
	uint8_t aad[128];
	uint8_t *plain;
};

static int setup(void **state)
{
	struct keys *k = calloc(1, sizeof(*k));

	assert_non_null(k);
	for (unsigned int i = 0; i < PAGE_CRYPTO_KEY_SIZE; i++) {
		k->a[i] = (uint8_t)(0x20 + i);
		k->b[i] = (uint8_t)(0x90 ^ i);
	}
	for (unsigned int i = 0; i < sizeof(k->aad); i++)
		k->aad[i] = (uint8_t)(5 * i + 1);
	k->plain = fx_page_buf(0);
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++)
		k->plain[i] = (uint8_t)(i * 11 + (i >> 7));
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	struct keys *k = *state;

	free(k->plain);
	free(k);
	return 0;
}

/* AES-128-GCM of the page by a context made for this one call: the reference. */
static void reference_seal(const uint8_t *key, uint64_t nonce, const struct keys *k,
			   uint8_t *cipher, uint8_t tag[16])
{
	uint8_t iv[12] = {0};
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len;

	for (int i = 0; i < 8; i++)
		iv[i] = (uint8_t)(nonce >> (8 * i));
	assert_non_null(ctx);
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &len, k->aad, sizeof(k->aad)), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, cipher, &len, k->plain, SGX_PAGE_SIZE), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, cipher + len, &len), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(ctx);
}

static void assert_seal_matches(const uint8_t *key, uint64_t nonce, const struct keys *k)
{
	uint8_t *got = fx_page_buf(0), *want = fx_page_buf(0);
	uint8_t mac[16], tag[16];

	assert_int_equal(page_seal(key, nonce, k->aad, sizeof(k->aad), k->plain, got, mac),
			 PAGE_CRYPTO_OK);
	reference_seal(key, nonce, k, want, tag);
	assert_memory_equal(got, want, SGX_PAGE_SIZE);
	assert_memory_equal(mac, tag, sizeof(mac));
	free(got);
	free(want);
}

/* Keys alternate from call to call: each call must use its own. */
static void test_keys_alternate(void **state)
{
	struct keys *k = *state;

	for (uint64_t n = 1; n <= 6; n++) {
		assert_seal_matches(n & 1 ? k->a : k->b, n, k);
		assert_seal_matches(n & 1 ? k->b : k->a, n, k);
	}
}

/* A key that differs in its last byte only is another key. */
static void test_key_change_in_last_byte(void **state)
{
	struct keys *k = *state;
	uint8_t key[PAGE_CRYPTO_KEY_SIZE];

	memcpy(key, k->a, sizeof(key));
	assert_seal_matches(key, 7, k);
	key[PAGE_CRYPTO_KEY_SIZE - 1] ^= 1;
	assert_seal_matches(key, 7, k);
}

/* Unsealing with the other key fails, and the context then opens the right one. */
static void test_open_after_bad_mac(void **state)
{
	struct keys *k = *state;
	uint8_t *cipher = fx_page_buf(0), *out = fx_page_buf(0x5A);
	uint8_t mac[16];

	assert_int_equal(page_seal(k->a, 9, k->aad, sizeof(k->aad), k->plain, cipher, mac),
			 PAGE_CRYPTO_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(page_unseal(k->b, 9, k->aad, sizeof(k->aad), cipher, mac, out),
				 PAGE_CRYPTO_BAD_MAC);
		assert_int_equal(out[0], 0x5A);
		assert_int_equal(page_unseal(k->a, 9, k->aad, sizeof(k->aad), cipher, mac, out),
				 PAGE_CRYPTO_OK);
		assert_memory_equal(out, k->plain, SGX_PAGE_SIZE);
		memset(out, 0x5A, SGX_PAGE_SIZE);
	}
	free(cipher);
	free(out);
}

/* page_open() decrypts in place and reports the tag. */
static void test_open_in_place(void **state)
{
	struct keys *k = *state;
	uint8_t *buf = fx_page_buf(0);
	uint8_t mac[16];

	assert_int_equal(page_seal(k->b, 11, k->aad, sizeof(k->aad), k->plain, buf, mac),
			 PAGE_CRYPTO_OK);
	assert_int_equal(page_open(k->b, 11, k->aad, sizeof(k->aad), buf, mac, buf),
			 PAGE_CRYPTO_OK);
	assert_memory_equal(buf, k->plain, SGX_PAGE_SIZE);
	assert_int_equal(page_seal(k->b, 12, k->aad, sizeof(k->aad), k->plain, buf, mac),
			 PAGE_CRYPTO_OK);
	mac[0] ^= 1;
	assert_int_equal(page_open(k->b, 12, k->aad, sizeof(k->aad), buf, mac, buf),
			 PAGE_CRYPTO_BAD_MAC);
	free(buf);
}

/* ---- a signal handler sealing on the thread it interrupted ---- */

static struct {
	const struct keys *k;
	uint8_t *cipher, *out;
	uint8_t ref_cipher[SGX_PAGE_SIZE]; /* under key b, nonce 77 */
	uint8_t ref_tag[16];
	volatile sig_atomic_t calls, bad;
} nest;

static void on_alarm(int sig)
{
	uint8_t mac[16];

	(void)sig;
	nest.calls++;
	/* Key b while the interrupted code uses key a: a shared context would mix them. */
	if (page_seal(nest.k->b, 77, nest.k->aad, sizeof(nest.k->aad), nest.k->plain, nest.cipher,
		      mac) != PAGE_CRYPTO_OK ||
	    memcmp(nest.cipher, nest.ref_cipher, SGX_PAGE_SIZE) || memcmp(mac, nest.ref_tag, 16) ||
	    page_unseal(nest.k->b, 77, nest.k->aad, sizeof(nest.k->aad), nest.cipher, mac,
			nest.out) != PAGE_CRYPTO_OK ||
	    memcmp(nest.out, nest.k->plain, SGX_PAGE_SIZE))
		nest.bad++;
}

static void test_nested_in_signal_handler(void **state)
{
	struct keys *k = *state;
	struct itimerval it = {.it_interval = {0, 200}, .it_value = {0, 200}};
	struct itimerval off = {0};
	struct sigaction sa = {.sa_handler = on_alarm}, old;
	uint8_t *cipher = fx_page_buf(0), *out = fx_page_buf(0), *want = fx_page_buf(0);
	uint8_t mac[16], tag[16];
	unsigned int rounds = 0;
	bool wrong = false; /* an interrupted operation gave a wrong result */

	nest.k = k;
	nest.cipher = fx_page_buf(0);
	nest.out = fx_page_buf(0);
	reference_seal(k->b, 77, k, nest.ref_cipher, nest.ref_tag);
	reference_seal(k->a, 5, k, want, tag);
	/* Contexts made before the timer starts: the handler never sees their creation. */
	assert_int_equal(page_seal(k->a, 5, k->aad, sizeof(k->aad), k->plain, cipher, mac),
			 PAGE_CRYPTO_OK);
	assert_int_equal(page_unseal(k->a, 5, k->aad, sizeof(k->aad), cipher, mac, out),
			 PAGE_CRYPTO_OK);

	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	/* Until enough signals have landed, whatever the machine's load. */
	for (; rounds < 200000 && (nest.calls < 300 || rounds < 2000); rounds++) {
		enum page_crypto_status st;

		st = page_seal(k->a, 5, k->aad, sizeof(k->aad), k->plain, cipher, mac);
		wrong = st != PAGE_CRYPTO_OK || memcmp(cipher, want, SGX_PAGE_SIZE) ||
			memcmp(mac, tag, sizeof(mac));
		if (wrong)
			break;
		st = page_unseal(k->a, 5, k->aad, sizeof(k->aad), cipher, mac, out);
		wrong = st != PAGE_CRYPTO_OK || memcmp(out, k->plain, SGX_PAGE_SIZE);
		if (wrong)
			break;
	}
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	print_message("%u rounds, %d calls from the signal handler\n", rounds, (int)nest.calls);
	if (wrong)
		fail_msg("round %u: a seal or unseal interrupted by the handler went wrong",
			 rounds);
	assert_int_equal(nest.bad, 0);
	assert_true(rounds == 200000 || (nest.calls >= 300 && rounds >= 2000));
	free(cipher);
	free(out);
	free(want);
	free(nest.cipher);
	free(nest.out);
}

/* ---- threads ---- */

static void *seal_on_thread(void *arg)
{
	struct keys *k = arg;
	uint8_t *cipher = fx_page_buf(0), *want = fx_page_buf(0);
	uint8_t mac[16], tag[16];
	intptr_t bad = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t iv[12] = {3};
	int len;

	/* The reference by hand: cmocka asserts belong to the main thread. */
	bad |= !ctx || EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, k->b, iv) != 1 ||
	       EVP_EncryptUpdate(ctx, NULL, &len, k->aad, sizeof(k->aad)) != 1 ||
	       EVP_EncryptUpdate(ctx, want, &len, k->plain, SGX_PAGE_SIZE) != 1 ||
	       EVP_EncryptFinal_ex(ctx, want + len, &len) != 1 ||
	       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1;
	EVP_CIPHER_CTX_free(ctx);
	for (int i = 0; i < 200 && !bad; i++)
		bad |= page_seal(i & 1 ? k->a : k->b, 3, k->aad, sizeof(k->aad), k->plain, cipher,
				 mac) != PAGE_CRYPTO_OK ||
		       (!(i & 1) && (memcmp(cipher, want, SGX_PAGE_SIZE) || memcmp(mac, tag, 16)));
	free(cipher);
	free(want);
	return (void *)bad;
}

/* Threads come and go, each with its own contexts, keys changing all the time. */
static void test_threads_come_and_go(void **state)
{
	for (int wave = 0; wave < 4; wave++) {
		pthread_t t[4];
		void *bad;

		for (int i = 0; i < 4; i++)
			assert_int_equal(pthread_create(&t[i], NULL, seal_on_thread, *state), 0);
		for (int i = 0; i < 4; i++) {
			assert_int_equal(pthread_join(t[i], &bad), 0);
			assert_null(bad);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keys_alternate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_change_in_last_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_after_bad_mac, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_in_signal_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_come_and_go, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
