// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/common/hw_fixture.h"
#include "tests/common/leak_guard.h"

struct sgx_hw *fx_hw_new(unsigned int nr_sections, uint64_t pages)
{
	struct sgx_hw_config cfg;
	struct sgx_hw *hw;

	sgx_hw_default_config(&cfg);
	cfg.nr_sections = nr_sections;
	for (unsigned int i = 0; i < nr_sections; i++)
		cfg.section_size[i] = pages * SGX_PAGE_SIZE;
	hw = lg_hw_new(&cfg);
	assert_non_null(hw);
	return hw;
}

void *fx_epc_page(struct sgx_hw *hw, uint64_t n)
{
	struct sgx_hw_section s;

	for (unsigned int i = 0; hw_epc_section(hw, i, &s); i++) {
		uint64_t pages = s.size / SGX_PAGE_SIZE;

		if (n < pages)
			return (uint8_t *)s.virt + n * SGX_PAGE_SIZE;
		n -= pages;
	}
	fail_msg("EPC page %llu out of range", (unsigned long long)n);
	return NULL;
}

void fx_secs_init(struct sgx_secs *secs, uint64_t base, uint64_t size, uint64_t attributes)
{
	memset(secs, 0, sizeof(*secs));
	secs->base = base;
	secs->size = size;
	secs->ssa_frame_size = 1;
	secs->attributes = attributes;
	secs->xfrm = 0x3;
}

int fx_ecreate(struct sgx_hw *hw, void *secs_epc, const struct sgx_secs *src)
{
	struct sgx_secinfo secinfo = { .flags = SGX_SECINFO_SECS };
	struct sgx_pageinfo pginfo = {
		.contents = (uintptr_t)src,
		.metadata = (uintptr_t)&secinfo,
	};

	return encls_ecreate(hw, &pginfo, secs_epc);
}

void fx_ecreate_default(struct sgx_hw *hw, void *secs_epc)
{
	struct sgx_secs *secs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*secs));

	assert_non_null(secs);
	fx_secs_init(secs, FX_BASE, FX_SIZE, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(fx_ecreate(hw, secs_epc, secs), SGX_SUCCESS);
	free(secs);
}

int fx_eadd(struct sgx_hw *hw, void *secs_epc, void *epc, uint64_t linaddr,
	    const void *src, uint64_t flags)
{
	struct sgx_secinfo secinfo = { .flags = flags };
	struct sgx_pageinfo pginfo = {
		.addr = linaddr,
		.contents = (uintptr_t)src,
		.metadata = (uintptr_t)&secinfo,
		.secs = (uintptr_t)secs_epc,
	};

	return encls_eadd(hw, &pginfo, epc);
}

void fx_eextend_page(struct sgx_hw *hw, void *secs_epc, void *epc)
{
	for (unsigned int off = 0; off < SGX_PAGE_SIZE; off += 256)
		assert_int_equal(encls_eextend(hw, secs_epc, (uint8_t *)epc + off), SGX_SUCCESS);
}

void fx_tcs_init(struct sgx_tcs *tcs)
{
	memset(tcs, 0, sizeof(*tcs));
	tcs->ssa_offset = 2 * SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = SGX_PAGE_SIZE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
}

void *fx_page_buf(uint8_t byte)
{
	void *p = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);

	assert_non_null(p);
	memset(p, byte, SGX_PAGE_SIZE);
	return p;
}
