// SPDX-License-Identifier: MIT
/*
 * MRENCLAVE (hw/measure.c and its use by ECREATE, EADD, EEXTEND). The
 * reference here is written separately from the model, straight from the
 * documented 64-byte blocks, with OpenSSL's EVP interface and explicit
 * little-endian stores, so that the two share nothing but SHA-256:
 *
 *   ECREATE  "ECREATE\0" | SSAFRAMESIZE u32 | SIZE u64 | 0 fill to 64
 *   EADD     "EADD\0\0\0\0" | page offset u64 | SECINFO bytes 0..47
 *   EEXTEND  "EEXTEND\0" | chunk offset u64 | 0 fill to 64, then 256 bytes
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "tests/common/hw_fixture.h"
#include "hw/hw_internal.h"
#include "tests/common/leak_guard.h"

#define BLOCK 64
#define CHUNK 256

/* ---------------------------------------------------- independent reference */

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static EVP_MD_CTX *ref_ecreate(uint32_t ssa_frame_size, uint64_t size)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t b[BLOCK] = {0};

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	memcpy(b, "ECREATE\0", 8);
	put_le32(b + 8, ssa_frame_size);
	put_le64(b + 12, size);
	assert_int_equal(EVP_DigestUpdate(ctx, b, sizeof(b)), 1);
	return ctx;
}

static void ref_eadd(EVP_MD_CTX *ctx, uint64_t offset, const uint8_t secinfo[64])
{
	uint8_t b[BLOCK] = {0};

	memcpy(b, "EADD\0\0\0\0", 8);
	put_le64(b + 8, offset);
	memcpy(b + 16, secinfo, 48);
	assert_int_equal(EVP_DigestUpdate(ctx, b, sizeof(b)), 1);
}

static void ref_eextend(EVP_MD_CTX *ctx, uint64_t offset, const uint8_t chunk[CHUNK])
{
	uint8_t b[BLOCK] = {0};

	memcpy(b, "EEXTEND\0", 8);
	put_le64(b + 8, offset);
	assert_int_equal(EVP_DigestUpdate(ctx, b, sizeof(b)), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, chunk, CHUNK), 1);
}

static void ref_final(EVP_MD_CTX *ctx, uint8_t out[SGX_HASH_SIZE])
{
	unsigned int len = 0;

	assert_int_equal(EVP_DigestFinal_ex(ctx, out, &len), 1);
	assert_int_equal(len, SGX_HASH_SIZE);
	EVP_MD_CTX_free(ctx);
}

/* SECINFO as the 64 bytes EADD reads: FLAGS little-endian, then reserved. */
static void ref_secinfo(uint8_t out[64], uint64_t flags)
{
	memset(out, 0, 64);
	put_le64(out, flags);
}

/* -------------------------------------------------- a hand-built enclave */

/*
 * One enclave page: where it goes, what it holds, how it is added. Pages are
 * EADDed in table order, each followed by its EEXTENDs when @measured.
 */
struct page_spec {
	uint64_t offset;
	uint64_t flags;
	bool measured;
	const void *content;
};

struct enclave_spec {
	uint64_t base;
	uint64_t size;
	uint32_t ssa_frame_size;
	uint64_t attributes;
	unsigned int nr_pages;
	const struct page_spec *pages;
};

static void reference_mrenclave(const struct enclave_spec *s, uint8_t out[SGX_HASH_SIZE])
{
	EVP_MD_CTX *ctx = ref_ecreate(s->ssa_frame_size, s->size);
	uint8_t secinfo[64];

	for (unsigned int i = 0; i < s->nr_pages; i++) {
		const struct page_spec *p = &s->pages[i];

		ref_secinfo(secinfo, p->flags);
		ref_eadd(ctx, p->offset, secinfo);
		if (!p->measured)
			continue;
		for (uint64_t c = 0; c < SGX_PAGE_SIZE; c += CHUNK)
			ref_eextend(ctx, p->offset + c, (const uint8_t *)p->content + c);
	}
	ref_final(ctx, out);
}

/*
 * Build @s through the model's leaves: SECS in EPC page 0, enclave pages in
 * EPC pages from 1 on, in reverse order so EPC and ELRANGE order differ.
 */
static void model_mrenclave(const struct enclave_spec *s, uint8_t out[SGX_HASH_SIZE])
{
	struct sgx_hw *hw = fx_hw_new(1, 16);
	struct sgx_secs *src = aligned_alloc(SGX_PAGE_SIZE, sizeof(*src));
	void *secs = fx_epc_page(hw, 0);
	void *buf = fx_page_buf(0);

	assert_non_null(src);
	assert_true(s->nr_pages < 16);
	fx_secs_init(src, s->base, s->size, s->attributes);
	src->ssa_frame_size = s->ssa_frame_size;
	assert_int_equal(fx_ecreate(hw, secs, src), SGX_SUCCESS);
	for (unsigned int i = 0; i < s->nr_pages; i++) {
		const struct page_spec *p = &s->pages[i];
		void *epc = fx_epc_page(hw, s->nr_pages - i);

		/* EADD wants a page-aligned source. */
		memcpy(buf, p->content, SGX_PAGE_SIZE);
		assert_int_equal(fx_eadd(hw, secs, epc, s->base + p->offset, buf, p->flags),
				 SGX_SUCCESS);
		if (p->measured)
			fx_eextend_page(hw, secs, epc);
	}
	sgx_measure_final(&secs_hidden(secs)->mrenclave, out);
	free(buf);
	free(src);
	lg_hw_free(hw);
}

static void tcs_page(struct sgx_tcs *tcs, uint64_t ssa_offset, uint64_t entry_offset)
{
	memset(tcs, 0, sizeof(*tcs));
	tcs->ssa_offset = ssa_offset;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = entry_offset;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
}

static void mrenclave_matches_reference(void **state)
{
	static struct sgx_tcs tcs;
	static uint8_t code[SGX_PAGE_SIZE], data[SGX_PAGE_SIZE];
	const struct page_spec pages[] = {
		{0x0000, SGX_SECINFO_TCS, true, &tcs},
		{0x1000, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X, true, code},
		{0x2000, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, true, data},
	};
	const struct enclave_spec spec = {
		.base = FX_BASE,
		.size = FX_SIZE,
		.ssa_frame_size = 1,
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.nr_pages = 3,
		.pages = pages,
	};
	uint8_t want[SGX_HASH_SIZE], got[SGX_HASH_SIZE];

	(void)state;
	tcs_page(&tcs, 0x3000, 0x1000);
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++) {
		code[i] = (uint8_t)(i * 31 + 7);
		data[i] = (uint8_t)(i >> 4);
	}
	reference_mrenclave(&spec, want);
	model_mrenclave(&spec, got);
	assert_memory_equal(want, got, SGX_HASH_SIZE);
}

/* Base and attributes are not measured; size, SSA frame size, order and offsets are. */
static void mrenclave_what_is_measured(void **state)
{
	static uint8_t a[SGX_PAGE_SIZE], b[SGX_PAGE_SIZE];
	struct page_spec pages[] = {
		{0x1000, SGX_SECINFO_REG | SGX_SECINFO_R, true, a},
		{0x2000, SGX_SECINFO_REG | SGX_SECINFO_R, false, b},
	};
	struct enclave_spec spec = {
		.base = FX_BASE,
		.size = FX_SIZE,
		.ssa_frame_size = 1,
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.nr_pages = 2,
		.pages = pages,
	};
	uint8_t first[SGX_HASH_SIZE], want[SGX_HASH_SIZE], got[SGX_HASH_SIZE];

	(void)state;
	memset(a, 0xA5, sizeof(a));
	memset(b, 0x3C, sizeof(b));
	model_mrenclave(&spec, first);
	reference_mrenclave(&spec, want);
	assert_memory_equal(first, want, SGX_HASH_SIZE);

	/* Not measured: base and attributes (DEBUG must not change MRENCLAVE). */
	spec.base = FX_BASE + 8 * FX_SIZE;
	spec.attributes = SGX_ATTR_MODE64BIT;
	model_mrenclave(&spec, got);
	assert_memory_equal(first, got, SGX_HASH_SIZE);
	/* Not measured: content of a page added without EEXTEND. */
	memset(b, 0x99, sizeof(b));
	model_mrenclave(&spec, got);
	assert_memory_equal(first, got, SGX_HASH_SIZE);

	/* Measured: each of these changes MRENCLAVE, and the model agrees. */
	spec.size = 2 * FX_SIZE;
	model_mrenclave(&spec, got);
	reference_mrenclave(&spec, want);
	assert_memory_equal(got, want, SGX_HASH_SIZE);
	assert_memory_not_equal(first, got, SGX_HASH_SIZE);
	spec.size = FX_SIZE;

	spec.ssa_frame_size = 2;
	model_mrenclave(&spec, got);
	reference_mrenclave(&spec, want);
	assert_memory_equal(got, want, SGX_HASH_SIZE);
	assert_memory_not_equal(first, got, SGX_HASH_SIZE);
	spec.ssa_frame_size = 1;

	pages[0].flags |= SGX_SECINFO_X;
	model_mrenclave(&spec, got);
	reference_mrenclave(&spec, want);
	assert_memory_equal(got, want, SGX_HASH_SIZE);
	assert_memory_not_equal(first, got, SGX_HASH_SIZE);
	pages[0].flags &= ~(uint64_t)SGX_SECINFO_X;

	pages[1].offset = 0x3000;
	model_mrenclave(&spec, got);
	reference_mrenclave(&spec, want);
	assert_memory_equal(got, want, SGX_HASH_SIZE);
	assert_memory_not_equal(first, got, SGX_HASH_SIZE);
	pages[1].offset = 0x2000;

	a[4095] ^= 1;
	model_mrenclave(&spec, got);
	reference_mrenclave(&spec, want);
	assert_memory_equal(got, want, SGX_HASH_SIZE);
	assert_memory_not_equal(first, got, SGX_HASH_SIZE);
}

/*
 * A fully specified tiny enclave and its MRENCLAVE, fixed in the source so
 * that a change of block layout cannot slip through in model and reference
 * alike. The digest was computed once, outside this file, by a few lines of
 * Python (hashlib.sha256 fed with struct.pack("<IQ"...) blocks written from
 * the layout in the header comment), then checked against
 * reference_mrenclave() above and pasted here; the model must reproduce it.
 *
 *   SECS: base 0x7f0000000000, size 0x8000, SSA frame size 1
 *   0x0000 TCS: OSSA 0x3000, NSSA 1, OENTRY 0x1000, FS/GS limits 0xFFF; measured
 *   0x1000 REG R|X: byte i = i & 0xFF; measured
 *   0x2000 REG R|W: zeros; measured
 *   0x3000 REG R|W: 0xCC; not measured (EADD only)
 */
static const uint8_t tiny_mrenclave[SGX_HASH_SIZE] = {
	0x99, 0xb6, 0xab, 0x54, 0x8b, 0xdf, 0x9e, 0x25, 0x4e, 0x66, 0xde,
	0xac, 0x5e, 0x6a, 0x36, 0xbf, 0xd9, 0x17, 0x3d, 0x46, 0x08, 0xb7,
	0xac, 0x7a, 0x4d, 0x41, 0x54, 0xfe, 0x5f, 0x24, 0x34, 0x72,
};

static void tiny_enclave_spec(struct enclave_spec *spec, struct page_spec pages[4])
{
	static struct sgx_tcs tcs;
	static uint8_t code[SGX_PAGE_SIZE], zero[SGX_PAGE_SIZE], ssa[SGX_PAGE_SIZE];

	tcs_page(&tcs, 0x3000, 0x1000);
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++)
		code[i] = (uint8_t)i;
	memset(ssa, 0xCC, sizeof(ssa));
	pages[0] = (struct page_spec){0x0000, SGX_SECINFO_TCS, true, &tcs};
	pages[1] = (struct page_spec){0x1000, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X, true,
				      code};
	pages[2] = (struct page_spec){0x2000, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, true,
				      zero};
	pages[3] = (struct page_spec){0x3000, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
				      false, ssa};
	*spec = (struct enclave_spec){
		.base = 0x7f0000000000ULL,
		.size = 0x8000,
		.ssa_frame_size = 1,
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.nr_pages = 4,
		.pages = pages,
	};
}

static void mrenclave_fixed_vector(void **state)
{
	struct enclave_spec spec;
	struct page_spec pages[4];
	uint8_t ref[SGX_HASH_SIZE], got[SGX_HASH_SIZE];

	(void)state;
	tiny_enclave_spec(&spec, pages);
	reference_mrenclave(&spec, ref);
	assert_memory_equal(ref, tiny_mrenclave, SGX_HASH_SIZE);
	model_mrenclave(&spec, got);
	assert_memory_equal(got, tiny_mrenclave, SGX_HASH_SIZE);
}

/* ---------------------------------------------------- measure.c, block by block */

static void block_ecreate(void **state)
{
	struct sgx_measurement m;
	uint8_t want[SGX_HASH_SIZE], got[SGX_HASH_SIZE];
	uint8_t b[BLOCK] = "ECREATE";

	(void)state;
	/* Written out byte by byte: SSAFRAMESIZE 0x04030201, SIZE 0x8877665544332211. */
	b[8] = 0x01;
	b[9] = 0x02;
	b[10] = 0x03;
	b[11] = 0x04;
	for (int i = 0; i < 8; i++)
		b[12 + i] = (uint8_t)(0x11 * (i + 1));
	EVP_Digest(b, sizeof(b), want, NULL, EVP_sha256(), NULL);
	sgx_measure_ecreate(&m, 0x04030201, 0x8877665544332211ULL);
	sgx_measure_final(&m, got);
	assert_memory_equal(want, got, SGX_HASH_SIZE);
}

static void block_ecreate_restarts(void **state)
{
	struct sgx_measurement m;
	struct sgx_secinfo secinfo = {.flags = SGX_SECINFO_REG};
	uint8_t want[SGX_HASH_SIZE], got[SGX_HASH_SIZE];

	(void)state;
	/* ECREATE begins a new hash whatever the structure held before. */
	memset(&m, 0xFF, sizeof(m));
	sgx_measure_ecreate(&m, 1, 0x2000);
	sgx_measure_eadd(&m, 0, &secinfo);
	sgx_measure_ecreate(&m, 1, 0x2000);
	sgx_measure_final(&m, got);
	ref_final(ref_ecreate(1, 0x2000), want);
	assert_memory_equal(want, got, SGX_HASH_SIZE);
}

static void block_eadd(void **state)
{
	struct sgx_measurement m;
	struct sgx_secinfo secinfo = {.flags = 0x0102030405060708ULL};
	uint8_t raw[64], want[SGX_HASH_SIZE], got[SGX_HASH_SIZE];
	EVP_MD_CTX *ctx;

	(void)state;
	for (int i = 0; i < 56; i++)
		secinfo.reserved[i] = (uint8_t)(0x80 + i);
	memcpy(raw, &secinfo, sizeof(raw));
	sgx_measure_ecreate(&m, 3, 0x10000);
	sgx_measure_eadd(&m, 0xABCDEF000ULL, &secinfo);
	sgx_measure_final(&m, got);
	ctx = ref_ecreate(3, 0x10000);
	ref_eadd(ctx, 0xABCDEF000ULL, raw);
	ref_final(ctx, want);
	assert_memory_equal(want, got, SGX_HASH_SIZE);

	/* Bytes 48..63 of SECINFO are outside the block... */
	secinfo.reserved[40] ^= 0xFF;
	secinfo.reserved[55] ^= 0xFF;
	sgx_measure_ecreate(&m, 3, 0x10000);
	sgx_measure_eadd(&m, 0xABCDEF000ULL, &secinfo);
	sgx_measure_final(&m, got);
	assert_memory_equal(want, got, SGX_HASH_SIZE);
	/* ...byte 47 is inside. */
	secinfo.reserved[39] ^= 0xFF;
	sgx_measure_ecreate(&m, 3, 0x10000);
	sgx_measure_eadd(&m, 0xABCDEF000ULL, &secinfo);
	sgx_measure_final(&m, got);
	assert_memory_not_equal(want, got, SGX_HASH_SIZE);
}

static void block_eextend(void **state)
{
	struct sgx_measurement m;
	uint8_t chunk[CHUNK], want[SGX_HASH_SIZE], got[SGX_HASH_SIZE];
	uint8_t b[BLOCK + CHUNK] = "EEXTEND";
	EVP_MD_CTX *ctx;

	(void)state;
	for (int i = 0; i < CHUNK; i++)
		chunk[i] = (uint8_t)(255 - i);
	sgx_measure_ecreate(&m, 1, 0x4000);
	sgx_measure_eextend(&m, 0x1F00, chunk);
	sgx_measure_final(&m, got);

	/* As one buffer this time: ECREATE block, EEXTEND block, chunk. */
	ctx = ref_ecreate(1, 0x4000);
	b[9] = 0x1F; /* offset 0x1F00 */
	memcpy(b + BLOCK, chunk, CHUNK);
	assert_int_equal(EVP_DigestUpdate(ctx, b, sizeof(b)), 1);
	ref_final(ctx, want);
	assert_memory_equal(want, got, SGX_HASH_SIZE);
}

static void final_does_not_consume(void **state)
{
	struct sgx_measurement m;
	uint8_t chunk[CHUNK] = {1}, a[SGX_HASH_SIZE], b[SGX_HASH_SIZE], want[SGX_HASH_SIZE];
	EVP_MD_CTX *ctx;

	(void)state;
	sgx_measure_ecreate(&m, 1, 0x4000);
	sgx_measure_final(&m, a);
	sgx_measure_final(&m, b);
	assert_memory_equal(a, b, SGX_HASH_SIZE);
	/* The running hash goes on after a final. */
	sgx_measure_eextend(&m, 0, chunk);
	sgx_measure_final(&m, b);
	ctx = ref_ecreate(1, 0x4000);
	ref_eextend(ctx, 0, chunk);
	ref_final(ctx, want);
	assert_memory_equal(b, want, SGX_HASH_SIZE);
}

/* The measurement lives in the SECS page, so a copy of the bytes is a copy of the hash. */
static void measurement_is_plain_data(void **state)
{
	struct sgx_measurement m, copy;
	uint8_t chunk[CHUNK] = {0}, a[SGX_HASH_SIZE], b[SGX_HASH_SIZE];

	(void)state;
	sgx_measure_ecreate(&m, 1, 0x4000);
	sgx_measure_eextend(&m, 0x100, chunk);
	memcpy(&copy, &m, sizeof(m));
	sgx_measure_eextend(&m, 0x200, chunk);
	sgx_measure_eextend(&copy, 0x200, chunk);
	sgx_measure_final(&m, a);
	sgx_measure_final(&copy, b);
	assert_memory_equal(a, b, SGX_HASH_SIZE);
}

/*
 * The held-back bytes' count lives in the SECS page like the rest: a
 * corrupted count must keep every hash inside the buffer (ASan checks),
 * and ECREATE starts clean whatever it was.
 */
static void pending_count_bounded(void **state)
{
	struct sgx_measurement m;
	uint8_t chunk[CHUNK] = {0}, got[SGX_HASH_SIZE], want[SGX_HASH_SIZE];

	(void)state;
	sgx_measure_ecreate(&m, 1, 0x4000);
	m.npend = UINT32_MAX;
	sgx_measure_final(&m, got);
	sgx_measure_eextend(&m, 0, chunk);
	sgx_measure_final(&m, got);
	m.npend = sizeof(m.pend) + 64;
	sgx_measure_eextend(&m, 0x100, chunk);
	sgx_measure_ecreate(&m, 1, 0x4000);
	sgx_measure_final(&m, got);
	ref_final(ref_ecreate(1, 0x4000), want);
	assert_memory_equal(want, got, SGX_HASH_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(mrenclave_matches_reference),
		LG_TEST(mrenclave_what_is_measured),
		LG_TEST(mrenclave_fixed_vector),
		LG_TEST(block_ecreate),
		LG_TEST(block_ecreate_restarts),
		LG_TEST(block_eadd),
		LG_TEST(block_eextend),
		LG_TEST(final_does_not_consume),
		LG_TEST(measurement_is_plain_data),
		LG_TEST(pending_count_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
