// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "tests/fuzz/harness.h"
#include "tools/lib/sigstruct_sign.h"

void fz_bytes(struct fz *f, void *out, size_t n)
{
	size_t have = f->pos < f->size ? f->size - f->pos : 0;

	if (have > n)
		have = n;
	memcpy(out, f->data + f->pos, have);
	memset((uint8_t *)out + have, 0, n - have);
	f->pos += have;
	/* Past the end: later reads see zeros and fz_done() stays true. */
	if (have < n)
		f->pos = f->size;
}

uint8_t fz_u8(struct fz *f)
{
	uint8_t v;

	fz_bytes(f, &v, sizeof(v));
	return v;
}

uint16_t fz_u16(struct fz *f)
{
	uint16_t v;

	fz_bytes(f, &v, sizeof(v));
	return v;
}

uint32_t fz_u32(struct fz *f)
{
	uint32_t v;

	fz_bytes(f, &v, sizeof(v));
	return v;
}

uint64_t fz_u64(struct fz *f)
{
	uint64_t v;

	fz_bytes(f, &v, sizeof(v));
	return v;
}

int fz_tracing = -1;

void fz_trace_init(void)
{
	if (fz_tracing < 0)
		fz_tracing = getenv("FUZZ_TRACE") != NULL;
}

void fz_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz check failed at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void fz_check_invariant(struct softsgx_platform *p, const char *after)
{
	struct softsgx_stats st;

	softsgx_get_stats(p, &st);
	FZ_CHECK(st.free_pages + st.in_use_pages + st.leaked_pages + st.zombie_pages ==
			 st.total_pages,
		 "after %s: free %llu + in use %llu + leaked %llu + zombie %llu != total %llu",
		 after, (unsigned long long)st.free_pages, (unsigned long long)st.in_use_pages,
		 (unsigned long long)st.leaked_pages, (unsigned long long)st.zombie_pages,
		 (unsigned long long)st.total_pages);
	FZ_CHECK(st.leaked_pages == 0, "after %s: %llu EPC pages leaked", after,
		 (unsigned long long)st.leaked_pages);
}

void fz_check_errno_list(long ret, const char *what, ...)
{
	va_list ap;
	int e;

	if (ret >= 0)
		return;
	va_start(ap, what);
	while ((e = va_arg(ap, int)) != 0) {
		if (ret == -e) {
			va_end(ap);
			return;
		}
	}
	va_end(ap);
	fz_fail(__FILE__, __LINE__, "%s returned %ld (%s), not a documented errno", what, ret,
		strerror((int)-ret));
}

EVP_PKEY *fz_signer(void)
{
	static EVP_PKEY *key;
	const char *path = getenv("SOFTSGX_TEST_KEY");
	EVP_PKEY_CTX *ctx;
	BIGNUM *e;

	if (key)
		return key;
	if (path && *path && !sgx_sign_load_key(path, &key))
		return key;
	key = NULL;
	ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
	e = BN_new();
	FZ_CHECK(ctx && e && BN_set_word(e, SGX_SIGN_KEY_EXPONENT) &&
			 EVP_PKEY_keygen_init(ctx) > 0 &&
			 EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, SGX_SIGN_KEY_BITS) > 0 &&
			 EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) > 0 &&
			 EVP_PKEY_keygen(ctx, &key) > 0,
		 "cannot generate a signing key");
	BN_free(e);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

uint8_t *fz_arena_new(size_t size)
{
	uint8_t *p = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	uintptr_t base;

	FZ_CHECK(p != MAP_FAILED, "no arena");
	base = ((uintptr_t)p + size - 1) & ~(uintptr_t)(size - 1);
	if (base > (uintptr_t)p)
		munmap(p, base - (uintptr_t)p);
	munmap((void *)(base + size), (uintptr_t)p + size - base);
	return (uint8_t *)base;
}
