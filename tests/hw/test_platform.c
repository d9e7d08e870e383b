// SPDX-License-Identifier: MIT
/*
 * Power-on of the CPU model (hw/platform.c) and the lazily allocated EPCM
 * (hw/epcm.c): configuration checks, the default platform, CPUID leaf 0x12,
 * the launch-control MSRs, and a 1 TiB EPC that costs host memory only for
 * the pages in use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/hw_fixture.h"
#include "hw/hw_internal.h"
#include "tests/common/leak_guard.h"

#define GP  ENCLS_FAULT(X86_TRAP_GP)
#define MiB (1ULL << 20)
#define TiB (1ULL << 40)

/* ------------------------------------------------------------ configuration */

static void expect_einval(const struct sgx_hw_config *cfg)
{
	errno = 0;
	assert_null(lg_hw_new(cfg));
	assert_int_equal(errno, EINVAL);
}

static void config_validation(void **state)
{
	struct sgx_hw_config cfg;

	(void)state;
	sgx_hw_default_config(&cfg);
	cfg.nr_sections = 0;
	expect_einval(&cfg);

	sgx_hw_default_config(&cfg);
	cfg.nr_sections = SGX_HW_MAX_SECTIONS + 1;
	expect_einval(&cfg);
	cfg.nr_sections = ~0u;
	expect_einval(&cfg);

	sgx_hw_default_config(&cfg);
	cfg.section_size[1] = 64 * MiB + 1;
	expect_einval(&cfg);
	cfg.section_size[1] = 64 * MiB - 2048;
	expect_einval(&cfg);
	cfg.section_size[1] = 0;
	expect_einval(&cfg);

	/* More than 2^28 pages in all, though each section alone would do. */
	sgx_hw_default_config(&cfg);
	cfg.section_size[0] = TiB;
	cfg.section_size[1] = SGX_PAGE_SIZE;
	expect_einval(&cfg);
	/* One section beyond 2^28 pages. */
	cfg.nr_sections = 1;
	cfg.section_size[0] = TiB + SGX_PAGE_SIZE;
	expect_einval(&cfg);
	cfg.section_size[0] = 2 * TiB;
	expect_einval(&cfg);
}

static void config_limits_accepted(void **state)
{
	struct sgx_hw_config cfg;
	struct sgx_hw *hw;
	struct sgx_hw_section s;

	(void)state;
	/* The most sections, each one page. */
	sgx_hw_default_config(&cfg);
	cfg.nr_sections = SGX_HW_MAX_SECTIONS;
	for (unsigned int i = 0; i < SGX_HW_MAX_SECTIONS; i++)
		cfg.section_size[i] = SGX_PAGE_SIZE;
	hw = lg_hw_new(&cfg);
	assert_non_null(hw);
	assert_int_equal(hw_epc_total_pages(hw), SGX_HW_MAX_SECTIONS);
	for (unsigned int i = 0; i < SGX_HW_MAX_SECTIONS; i++)
		assert_true(hw_epc_section(hw, i, &s));
	assert_false(hw_epc_section(hw, SGX_HW_MAX_SECTIONS, &s));
	lg_hw_free(hw);
	lg_hw_free(NULL);
}

static void default_config(void **state)
{
	struct sgx_hw_config cfg;
	struct sgx_hw *hw;
	struct sgx_hw_section s0, s1, none;

	(void)state;
	memset(&cfg, 0xA5, sizeof(cfg));
	sgx_hw_default_config(&cfg);
	assert_int_equal(cfg.nr_sections, 2);
	assert_int_equal(cfg.section_size[0], 64 * MiB);
	assert_int_equal(cfg.section_size[1], 64 * MiB);
	for (unsigned int i = 2; i < SGX_HW_MAX_SECTIONS; i++)
		assert_int_equal(cfg.section_size[i], 0);
	/* SGX2: the leaves, the kernel's ioctls and EAUG on fault all exist. */
	assert_true(cfg.sgx2);
	assert_true(cfg.flc);

	hw = lg_hw_new(&cfg);
	assert_non_null(hw);
	assert_memory_equal(sgx_hw_config(hw), &cfg, sizeof(cfg));
	assert_int_equal(hw_epc_total_pages(hw), 2 * 64 * MiB / SGX_PAGE_SIZE);
	assert_true(hw_epc_section(hw, 0, &s0));
	assert_true(hw_epc_section(hw, 1, &s1));
	assert_false(hw_epc_section(hw, 2, &none));
	assert_int_equal(s0.size, 64 * MiB);
	assert_int_equal(s1.size, 64 * MiB);
	assert_non_null(s0.virt);
	assert_non_null(s1.virt);
	assert_true(is_aligned(s0.virt, SGX_PAGE_SIZE));
	/* A view per protection; the read-write one is the direct map. */
	assert_ptr_equal(s0.view[PROT_READ | PROT_WRITE], s0.virt);
	assert_null(s0.view[0]);
	for (int prot = 1; prot < 8; prot++)
		assert_true(s0.view[prot] && s1.view[prot] && s0.view[prot] != s1.view[prot]);
	/* Physical ranges: page aligned and disjoint. */
	assert_int_equal(s0.phys % SGX_PAGE_SIZE, 0);
	assert_int_equal(s1.phys % SGX_PAGE_SIZE, 0);
	assert_true(s0.phys + s0.size <= s1.phys || s1.phys + s1.size <= s0.phys);
	lg_hw_free(hw);
}

/* The direct map and every view of a section are the same memory. */
static void section_views_are_the_epc(void **state)
{
	struct sgx_hw *hw = fx_hw_new(2, 8);
	struct sgx_hw_section s;
	uint8_t *ro, *rwx;

	(void)state;
	assert_true(hw_epc_section(hw, 1, &s));
	ro = s.view[PROT_READ] + 3 * SGX_PAGE_SIZE;
	rwx = s.view[PROT_READ | PROT_WRITE | PROT_EXEC] + 3 * SGX_PAGE_SIZE;
	((uint8_t *)s.virt)[3 * SGX_PAGE_SIZE + 17] = 0x42;
	assert_int_equal(ro[17], 0x42);
	rwx[100] = 0x24;
	assert_int_equal(((uint8_t *)s.virt)[3 * SGX_PAGE_SIZE + 100], 0x24);
	/* fx_epc_page() counts across sections the same way. */
	assert_ptr_equal(fx_epc_page(hw, 8 + 3), (uint8_t *)s.virt + 3 * SGX_PAGE_SIZE);
	lg_hw_free(hw);
}

static void platform_keys_differ(void **state)
{
	struct sgx_hw *a = fx_hw_new(1, 4), *b = fx_hw_new(1, 4);

	(void)state;
	/* Each power-on draws its own paging key. */
	assert_memory_not_equal(a->paging_key, b->paging_key, sizeof(a->paging_key));
	lg_hw_free(a);
	lg_hw_free(b);
}

/* ---------------------------------------------------------------- CPUID 0x12 */

static uint64_t cpuid_base(const uint32_t r[4])
{
	return (r[0] & 0xFFFFF000u) | ((uint64_t)(r[1] & 0xFFFFFu) << 32);
}

static uint64_t cpuid_size(const uint32_t r[4])
{
	return (r[2] & 0xFFFFF000u) | ((uint64_t)(r[3] & 0xFFFFFu) << 32);
}

static void cpuid_leaf12(void **state)
{
	struct sgx_hw *hw = fx_hw_new(2, 64 * MiB / SGX_PAGE_SIZE);
	struct sgx_hw_section s;
	uint32_t r[4];
	uint64_t attrs;

	(void)state;
	/* Subleaf 0: SGX1, SGX2 as configured, MISCSELECT, maximum enclave sizes 2^31 and 2^47. */
	hw_cpuid_sgx(hw, 0, r);
	assert_int_equal(r[0], sgx_hw_config(hw)->sgx2 ? 0x3 : 0x1);
	assert_int_equal(r[1], SGX_MISC_EXINFO);
	assert_int_equal(r[2], 0);
	assert_int_equal(r[3] & 0xFF, 31);
	assert_int_equal((r[3] >> 8) & 0xFF, 47);

	/* Subleaf 1: SECS.ATTRIBUTES bits ECREATE accepts, then XFRM. */
	hw_cpuid_sgx(hw, 1, r);
	attrs = r[0] | (uint64_t)r[1] << 32;
	assert_true(attrs & SGX_ATTR_DEBUG);
	assert_true(attrs & SGX_ATTR_MODE64BIT);
	assert_true(attrs & SGX_ATTR_PROVISIONKEY);
	assert_true(attrs & SGX_ATTR_EINITTOKENKEY);
	assert_true(attrs & SGX_ATTR_KSS);
	assert_int_equal(attrs & SGX_ATTR_RESERVED_MASK, 0);
	/* x87 and SSE at least; the host's XCR0, which enclave code runs under. */
	assert_int_equal(r[2] & 0x3, 0x3);
	assert_int_equal(r[2] | (uint64_t)r[3] << 32, hw_xfrm_supported(hw));
	assert_int_equal(hw_xfrm_supported(hw) & ~hw_host_xcr0(hw), 0);

	/* Subleaves 2 and 3: the two sections, type 1, protected. */
	for (unsigned int i = 0; i < 2; i++) {
		assert_true(hw_epc_section(hw, i, &s));
		hw_cpuid_sgx(hw, 2 + i, r);
		assert_int_equal(r[0] & 0xF, 1);
		assert_int_equal(r[2] & 0xF, 1);
		assert_int_equal(cpuid_base(r), s.phys);
		assert_int_equal(cpuid_size(r), 64 * MiB);
		/* Bits 31:20 of EBX and EDX are reserved. */
		assert_int_equal(r[1] >> 20, 0);
		assert_int_equal(r[3] >> 20, 0);
	}
	/* Subleaf 4: type 0, no more sections. */
	hw_cpuid_sgx(hw, 4, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	hw_cpuid_sgx(hw, 100, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	hw_cpuid_sgx(hw, ~0u, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	lg_hw_free(hw);
}

static void cpuid_sgx1_only(void **state)
{
	struct sgx_hw_config cfg;
	struct sgx_hw *hw;
	uint32_t r[4];

	(void)state;
	sgx_hw_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 16 * SGX_PAGE_SIZE;
	cfg.sgx2 = false;
	hw = lg_hw_new(&cfg);
	assert_non_null(hw);
	hw_cpuid_sgx(hw, 0, r);
	assert_int_equal(r[0], 0x1);
	hw_cpuid_sgx(hw, 2, r);
	assert_int_equal(cpuid_size(r), 16 * SGX_PAGE_SIZE);
	hw_cpuid_sgx(hw, 3, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	lg_hw_free(hw);
}

static void cpuid_many_sections(void **state)
{
	struct sgx_hw *hw = fx_hw_new(SGX_HW_MAX_SECTIONS, 2);
	uint64_t prev_end = 0;
	uint32_t r[4];

	(void)state;
	for (unsigned int i = 0; i < SGX_HW_MAX_SECTIONS; i++) {
		struct sgx_hw_section s;

		assert_true(hw_epc_section(hw, i, &s));
		hw_cpuid_sgx(hw, 2 + i, r);
		assert_int_equal(r[0] & 0xF, 1);
		assert_int_equal(cpuid_base(r), s.phys);
		assert_int_equal(cpuid_size(r), 2 * SGX_PAGE_SIZE);
		assert_true(s.phys >= prev_end);
		prev_end = s.phys + s.size;
	}
	hw_cpuid_sgx(hw, 2 + SGX_HW_MAX_SECTIONS, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	lg_hw_free(hw);
}

/* ----------------------------------------------------------------------- MSRs */

/* IA32_SGXLEPUBKEYHASH at reset: the hash of Intel's launch enclave signer. */
static const uint64_t intel_hash[4] = {
	0xa6053e051270b7acULL,
	0x6cfbe8ba8b3b413dULL,
	0xc4916d99f2b3735dULL,
	0xd4f8c05909f9bb3bULL,
};

static void msr_flc(void **state)
{
	struct sgx_hw *hw = fx_hw_new(1, 4);
	uint64_t v;

	(void)state;
	for (uint32_t i = 0; i < 4; i++) {
		v = 0;
		assert_int_equal(hw_rdmsr(hw, MSR_IA32_SGXLEPUBKEYHASH0 + i, &v), 0);
		assert_int_equal(v, intel_hash[i]);
	}
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(hw_wrmsr(hw, MSR_IA32_SGXLEPUBKEYHASH0 + i, 0x1111ULL * (i + 1)),
				 0);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(hw_rdmsr(hw, MSR_IA32_SGXLEPUBKEYHASH0 + i, &v), 0);
		assert_int_equal(v, 0x1111ULL * (i + 1));
	}
	/* Another platform is untouched. */
	{
		struct sgx_hw *other = fx_hw_new(1, 4);

		assert_int_equal(hw_rdmsr(other, MSR_IA32_SGXLEPUBKEYHASH0, &v), 0);
		assert_int_equal(v, intel_hash[0]);
		lg_hw_free(other);
	}
	lg_hw_free(hw);
}

static void msr_no_flc(void **state)
{
	struct sgx_hw_config cfg;
	struct sgx_hw *hw;
	uint64_t v;

	(void)state;
	sgx_hw_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 4 * SGX_PAGE_SIZE;
	cfg.flc = false;
	hw = lg_hw_new(&cfg);
	assert_non_null(hw);
	/* Locked to Intel's key: writes fault, reads still work. */
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(hw_wrmsr(hw, MSR_IA32_SGXLEPUBKEYHASH0 + i, 0), GP);
		assert_int_equal(hw_rdmsr(hw, MSR_IA32_SGXLEPUBKEYHASH0 + i, &v), 0);
		assert_int_equal(v, intel_hash[i]);
	}
	lg_hw_free(hw);
}

static void msr_other(void **state)
{
	struct sgx_hw *hw = fx_hw_new(1, 4);
	static const uint32_t others[] = {0, 0x3A, 0x8B, 0x90, 0xC0000080u, ~0u};
	uint64_t v = 0x5555;

	(void)state;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		assert_int_equal(hw_rdmsr(hw, others[i], &v), GP);
		assert_int_equal(hw_wrmsr(hw, others[i], 1), GP);
	}
	assert_int_equal(v, 0x5555);
	lg_hw_free(hw);
}

/* ------------------------------------------------------------------------ EPCM */

static uint64_t chunks_allocated(const struct sgx_hw *hw)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < hw->nr_sections; i++)
		for (uint64_t c = 0; c < hw->sec[i].nr_chunks; c++)
			n += epcm_chunk(&hw->sec[i], c) != NULL;
	return n;
}

static void epcm_lazy_allocation(void **state)
{
	struct sgx_hw *hw = fx_hw_new(2, 4 * EPCM_CHUNK_PAGES);
	struct sgx_secs *src = aligned_alloc(SGX_PAGE_SIZE, sizeof(*src));
	struct epc_ref ref;
	void *secs;

	(void)state;
	assert_non_null(src);
	assert_int_equal(hw->sec[0].nr_chunks, 4);
	assert_int_equal(chunks_allocated(hw), 0);

	/* Looking without allocating: a page no leaf touched has no entry. */
	assert_true(epc_resolve(hw, fx_epc_page(hw, 5), false, &ref));
	assert_null(ref.e);
	assert_int_equal(ref.pfn, 5);
	assert_int_equal(chunks_allocated(hw), 0);

	/* ECREATE in chunk 2 of section 1. */
	secs = fx_epc_page(hw, 4 * EPCM_CHUNK_PAGES + 2 * EPCM_CHUNK_PAGES + 7);
	fx_secs_init(src, FX_BASE, FX_SIZE, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(fx_ecreate(hw, secs, src), SGX_SUCCESS);
	assert_int_equal(chunks_allocated(hw), 1);
	assert_non_null(epcm_chunk(&hw->sec[1], 2));

	/* EADD a page of chunk 0 of section 0. */
	assert_int_equal(fx_eadd(hw, secs, fx_epc_page(hw, 1), FX_BASE, src,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	assert_int_equal(chunks_allocated(hw), 2);

	/* A fresh chunk: every entry invalid and owned by nobody. */
	assert_true(epc_resolve(hw, fx_epc_page(hw, 3 * EPCM_CHUNK_PAGES), true, &ref));
	assert_int_equal(chunks_allocated(hw), 3);
	for (unsigned int i = 0; i < EPCM_CHUNK_PAGES; i++) {
		assert_false(ref.e[i].valid);
		assert_int_equal(ref.e[i].secs_pfn, NO_PFN);
		assert_int_equal(atomic_load(&ref.e[i].lock), 0);
	}
	/* Entries of one chunk are stable: resolving again gives the same one. */
	{
		struct epc_ref again;

		assert_true(epc_resolve(hw, fx_epc_page(hw, 3 * EPCM_CHUNK_PAGES), true, &again));
		assert_ptr_equal(again.e, ref.e);
	}
	free(src);
	lg_hw_free(hw);
}

static void epc_resolve_addresses(void **state)
{
	struct sgx_hw *hw = fx_hw_new(2, 8);
	struct sgx_hw_section s0, s1;
	struct epc_ref ref, by_pfn;
	uint8_t host[64];

	(void)state;
	assert_true(hw_epc_section(hw, 0, &s0));
	assert_true(hw_epc_section(hw, 1, &s1));
	/* An operand inside a page: page, offset and global page number. */
	assert_true(epc_resolve(hw, (uint8_t *)s1.virt + 2 * SGX_PAGE_SIZE + 0x123, true, &ref));
	assert_ptr_equal(ref.page, (uint8_t *)s1.virt + 2 * SGX_PAGE_SIZE);
	assert_int_equal(ref.offset, 0x123);
	assert_int_equal(ref.pfn, 8 + 2);
	assert_ptr_equal(ref.sec, &hw->sec[1]);
	assert_true(epc_resolve_pfn(hw, 8 + 2, &by_pfn));
	assert_ptr_equal(by_pfn.page, ref.page);
	assert_ptr_equal(by_pfn.e, ref.e);
	/* Last byte of a section, one past it, and memory that is no EPC. */
	assert_true(epc_resolve(hw, (uint8_t *)s0.virt + s0.size - 1, false, &ref));
	assert_int_equal(ref.pfn, 7);
	assert_false(epc_resolve(hw, host, false, &ref));
	assert_false(epc_resolve_pfn(hw, 16, &ref));
	assert_false(epc_resolve_pfn(hw, NO_PFN, &ref));
	if ((uint8_t *)s0.virt + s0.size != s1.virt)
		assert_false(epc_resolve(hw, (uint8_t *)s0.virt + s0.size, false, &ref));
	lg_hw_free(hw);
}

/* ---------------------------------------------------------------- 1 TiB EPC */

static uint64_t rss_bytes(void)
{
	unsigned long long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu %llu", &size, &resident), 2);
	fclose(f);
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void one_tib_epc(void **state)
{
	struct sgx_hw_config cfg;
	struct sgx_hw *hw;
	struct sgx_hw_section s;
	struct sgx_secs *src = aligned_alloc(SGX_PAGE_SIZE, sizeof(*src));
	const uint64_t far = SGX_HW_MAX_EPC_PAGES - 3; /* near the end of 1 TiB */
	uint64_t rss_before;
	uint8_t *secs, *page;
	uint32_t r[4];

	(void)state;
	assert_non_null(src);
	rss_before = rss_bytes();
	sgx_hw_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = TiB;
	hw = lg_hw_new(&cfg);
	assert_non_null(hw);
	assert_int_equal(hw_epc_total_pages(hw), SGX_HW_MAX_EPC_PAGES);
	assert_true(hw_epc_section(hw, 0, &s));
	assert_int_equal(s.size, TiB);
	hw_cpuid_sgx(hw, 2, r);
	assert_int_equal(cpuid_size(r), TiB);
	assert_int_equal(r[2] & 0xFFFFF000u, 0);
	assert_int_equal(r[3], 0x100);

	secs = (uint8_t *)s.virt + far * SGX_PAGE_SIZE;
	page = secs + SGX_PAGE_SIZE;
	fx_secs_init(src, FX_BASE, FX_SIZE, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(fx_ecreate(hw, secs, src), SGX_SUCCESS);
	assert_int_equal(fx_eadd(hw, secs, page, FX_BASE, src, SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	fx_eextend_page(hw, secs, page);

	/* One EPCM chunk for the two pages, not 2^19 of them. */
	assert_int_equal(chunks_allocated(hw), 1);
	assert_non_null(epcm_chunk(&hw->sec[0], far / EPCM_CHUNK_PAGES));
	/*
	 * The whole process grew by a few MiB at most (the EPCM object is
	 * 24 GiB of sparse shared memory, of which the header page and one
	 * chunk are touched); generous bound for the sanitizers' own
	 * allocations.
	 */
	assert_true(rss_bytes() - rss_before < 64 * MiB);

	assert_int_equal(encls_eremove(hw, page), SGX_SUCCESS);
	assert_int_equal(encls_eremove(hw, secs), SGX_SUCCESS);
	lg_hw_free(hw);
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(config_validation),
		LG_TEST(config_limits_accepted),
		LG_TEST(default_config),
		LG_TEST(section_views_are_the_epc),
		LG_TEST(platform_keys_differ),
		LG_TEST(cpuid_leaf12),
		LG_TEST(cpuid_sgx1_only),
		LG_TEST(cpuid_many_sections),
		LG_TEST(msr_flc),
		LG_TEST(msr_no_flc),
		LG_TEST(msr_other),
		LG_TEST(epcm_lazy_allocation),
		LG_TEST(epc_resolve_addresses),
		LG_TEST(one_tib_epc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
