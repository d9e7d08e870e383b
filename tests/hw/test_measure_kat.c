// SPDX-License-Identifier: MIT
/*
 * MRENCLAVE of multi-page builds, the model's product: a known answer that
 * must never change (an enclave signed once must keep its identity), and
 * the same value from a SHA-256 of the measured byte stream written out here
 * by hand (SDM Vol. 3D, "ECREATE", "EADD", "EEXTEND"), for builds that mix
 * page types, measured and unmeasured pages, chunks out of order, and pages
 * added in two interleaved enclaves.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "tests/common/hw_fixture.h"
#include "hw/hw_internal.h"
#include "tests/common/leak_guard.h"

#define ENCL_SIZE (16 * SGX_PAGE_SIZE)
#define CHUNK	  256
#define CHUNKS	  (SGX_PAGE_SIZE / CHUNK)

/*
 * One page of a build: its SECINFO flags and which chunks EEXTEND covers, in
 * order: all sixteen in order when @all, else the first @nr of @chunks.
 */
struct kat_page {
	uint64_t flags;
	bool all;
	unsigned int nr;
	unsigned int chunks[CHUNKS];
};

static const struct kat_page layout[] = {
	{.flags = SGX_SECINFO_TCS, .all = true},
	{.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X, .all = true},
	{.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X, .all = true},
	{.flags = SGX_SECINFO_REG | SGX_SECINFO_R, .all = true},
	{.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, .nr = 0},
	{.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, .nr = 3, .chunks = {15, 0, 5}},
	{.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, .all = true},
};

static unsigned int nr_chunks(unsigned int p)
{
	return layout[p].all ? CHUNKS : layout[p].nr;
}

/* The @c-th chunk page @p measures. */
static unsigned int chunk_at(unsigned int p, unsigned int c)
{
	return layout[p].all ? c : layout[p].chunks[c];
}

#define NR_PAGES (sizeof(layout) / sizeof(layout[0]))

/*
 * The layout's MRENCLAVE, computed once with the model as it was before the
 * work on build speed (main at 4c4c15b), and equal to the SHA-256 of the
 * hand-written stream.
 */
static const uint8_t known_answer[SGX_HASH_SIZE] = {
	0xea, 0xdb, 0x9b, 0x44, 0x24, 0xca, 0x15, 0x1a, /* bytes 0-7 */
	0x09, 0xff, 0x9e, 0xf8, 0x0b, 0x6e, 0x4c, 0x35, /* 8-15 */
	0x20, 0x2b, 0x6d, 0xe3, 0x19, 0x4e, 0x83, 0x73, /* 16-23 */
	0x5a, 0x66, 0xcd, 0x85, 0x0e, 0x4c, 0x28, 0x07, /* 24-31 */
};

struct kat {
	struct sgx_hw *hw;
	uint8_t *src[NR_PAGES];
	struct sgx_tcs *tcs;
};

static void fill(uint8_t *p, unsigned int page)
{
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++)
		p[i] = (uint8_t)(page * 37 + i * 13 + (i >> 8));
}

static int setup(void **state)
{
	struct kat *k = calloc(1, sizeof(*k));

	assert_non_null(k);
	k->hw = fx_hw_new(1, 2 * (NR_PAGES + 1));
	for (unsigned int p = 0; p < NR_PAGES; p++) {
		k->src[p] = fx_page_buf(0);
		if (SGX_SECINFO_PAGE_TYPE(layout[p].flags) == SGX_PAGE_TYPE_TCS)
			fx_tcs_init((struct sgx_tcs *)k->src[p]);
		else
			fill(k->src[p], p);
	}
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	struct kat *k = *state;

	for (unsigned int p = 0; p < NR_PAGES; p++)
		free(k->src[p]);
	lg_hw_free(k->hw);
	free(k);
	return 0;
}

/* The stream by hand: ECREATE block, then per page EADD and EEXTEND blocks. */
static void expected(const struct kat *k, uint8_t out[SGX_HASH_SIZE])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t block[64];
	uint32_t ssa = 1;
	uint64_t size = ENCL_SIZE;
	unsigned int len;

	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	memset(block, 0, sizeof(block));
	memcpy(block, "ECREATE", 7);
	memcpy(block + 8, &ssa, 4);
	memcpy(block + 12, &size, 8);
	assert_int_equal(EVP_DigestUpdate(md, block, 64), 1);
	for (unsigned int p = 0; p < NR_PAGES; p++) {
		uint64_t off = (uint64_t)p * SGX_PAGE_SIZE;
		uint64_t flags = layout[p].flags;

		memset(block, 0, sizeof(block));
		memcpy(block, "EADD", 4);
		memcpy(block + 8, &off, 8);
		/* SECINFO's first 48 bytes: FLAGS, then zeros. */
		memcpy(block + 16, &flags, 8);
		assert_int_equal(EVP_DigestUpdate(md, block, 64), 1);
		for (unsigned int c = 0; c < nr_chunks(p); c++) {
			uint64_t coff = off + chunk_at(p, c) * CHUNK;
			uint8_t chunk[CHUNK];

			memcpy(chunk, k->src[p] + chunk_at(p, c) * CHUNK, CHUNK);
			/* EADD clears TCS fields software may not preset; none are set here. */
			memset(block, 0, sizeof(block));
			memcpy(block, "EEXTEND", 7);
			memcpy(block + 8, &coff, 8);
			assert_int_equal(EVP_DigestUpdate(md, block, 64), 1);
			assert_int_equal(EVP_DigestUpdate(md, chunk, CHUNK), 1);
		}
	}
	assert_int_equal(EVP_DigestFinal_ex(md, out, &len), 1);
	assert_int_equal(len, SGX_HASH_SIZE);
	EVP_MD_CTX_free(md);
}

/* EADD and EEXTEND of page @p of the layout into EPC page @epc. */
static void add_page(struct kat *k, void *secs, void *epc, unsigned int p)
{
	assert_int_equal(fx_eadd(k->hw, secs, epc, FX_BASE + (uint64_t)p * SGX_PAGE_SIZE, k->src[p],
				 layout[p].flags),
			 SGX_SUCCESS);
	for (unsigned int c = 0; c < nr_chunks(p); c++)
		assert_int_equal(
			encls_eextend(k->hw, secs, (uint8_t *)epc + chunk_at(p, c) * CHUNK),
			SGX_SUCCESS);
}

static void secs_create(struct kat *k, void *secs)
{
	struct sgx_secs *src = aligned_alloc(SGX_PAGE_SIZE, sizeof(*src));

	assert_non_null(src);
	fx_secs_init(src, FX_BASE, ENCL_SIZE, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(fx_ecreate(k->hw, secs, src), SGX_SUCCESS);
	free(src);
}

static void mrenclave_of(void *secs, uint8_t out[SGX_HASH_SIZE])
{
	sgx_measure_final(&secs_hidden(secs)->mrenclave, out);
}

static void test_build_known_answer(void **state)
{
	struct kat *k = *state;
	void *secs = fx_epc_page(k->hw, 0);
	uint8_t got[SGX_HASH_SIZE], want[SGX_HASH_SIZE];

	secs_create(k, secs);
	for (unsigned int p = 0; p < NR_PAGES; p++)
		add_page(k, secs, fx_epc_page(k->hw, 1 + p), p);
	mrenclave_of(secs, got);
	expected(k, want);
	assert_memory_equal(got, want, SGX_HASH_SIZE);
	assert_memory_equal(got, known_answer, SGX_HASH_SIZE);
}

/* Two enclaves built page by page in turn: each measurement is its own. */
static void test_interleaved_builds(void **state)
{
	struct kat *k = *state;
	void *a = fx_epc_page(k->hw, 0), *b = fx_epc_page(k->hw, 1 + NR_PAGES);
	uint8_t ma[SGX_HASH_SIZE], mb[SGX_HASH_SIZE];

	secs_create(k, a);
	secs_create(k, b);
	for (unsigned int p = 0; p < NR_PAGES; p++) {
		add_page(k, a, fx_epc_page(k->hw, 1 + p), p);
		add_page(k, b, fx_epc_page(k->hw, 2 + NR_PAGES + p), p);
	}
	mrenclave_of(a, ma);
	mrenclave_of(b, mb);
	assert_memory_equal(ma, known_answer, SGX_HASH_SIZE);
	assert_memory_equal(mb, known_answer, SGX_HASH_SIZE);
}

/* A page's chunks measured between EADDs of later pages: the order is the stream's. */
static void test_eextend_after_later_eadd(void **state)
{
	struct kat *k = *state;
	void *secs = fx_epc_page(k->hw, 0);
	uint8_t got[SGX_HASH_SIZE], want[SGX_HASH_SIZE];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t block[64] = "ECREATE";
	uint32_t ssa = 1;
	uint64_t size = ENCL_SIZE, off;
	unsigned int len;

	secs_create(k, secs);
	/* Pages 1 and 2 added, then page 1's chunk 3, then page 2's chunk 0. */
	assert_int_equal(fx_eadd(k->hw, secs, fx_epc_page(k->hw, 1), FX_BASE + SGX_PAGE_SIZE,
				 k->src[1], layout[1].flags),
			 SGX_SUCCESS);
	assert_int_equal(fx_eadd(k->hw, secs, fx_epc_page(k->hw, 2), FX_BASE + 2 * SGX_PAGE_SIZE,
				 k->src[2], layout[2].flags),
			 SGX_SUCCESS);
	assert_int_equal(encls_eextend(k->hw, secs, (uint8_t *)fx_epc_page(k->hw, 1) + 3 * CHUNK),
			 SGX_SUCCESS);
	assert_int_equal(encls_eextend(k->hw, secs, fx_epc_page(k->hw, 2)), SGX_SUCCESS);
	mrenclave_of(secs, got);

	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	memcpy(block + 8, &ssa, 4);
	memcpy(block + 12, &size, 8);
	assert_int_equal(EVP_DigestUpdate(md, block, 64), 1);
	for (unsigned int p = 1; p <= 2; p++) {
		memset(block, 0, sizeof(block));
		memcpy(block, "EADD", 4);
		off = (uint64_t)p * SGX_PAGE_SIZE;
		memcpy(block + 8, &off, 8);
		memcpy(block + 16, &layout[p].flags, 8);
		assert_int_equal(EVP_DigestUpdate(md, block, 64), 1);
	}
	memset(block, 0, sizeof(block));
	memcpy(block, "EEXTEND", 7);
	off = SGX_PAGE_SIZE + 3 * CHUNK;
	memcpy(block + 8, &off, 8);
	assert_int_equal(EVP_DigestUpdate(md, block, 64), 1);
	assert_int_equal(EVP_DigestUpdate(md, k->src[1] + 3 * CHUNK, CHUNK), 1);
	off = 2 * SGX_PAGE_SIZE;
	memcpy(block + 8, &off, 8);
	assert_int_equal(EVP_DigestUpdate(md, block, 64), 1);
	assert_int_equal(EVP_DigestUpdate(md, k->src[2], CHUNK), 1);
	assert_int_equal(EVP_DigestFinal_ex(md, want, &len), 1);
	EVP_MD_CTX_free(md);
	assert_memory_equal(got, want, SGX_HASH_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_build_known_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interleaved_builds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eextend_after_later_eadd, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
