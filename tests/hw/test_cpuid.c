// SPDX-License-Identifier: MIT
/*
 * The model's CPUID (hw/cpuid.c): the host's answers with SGX added. A fake
 * host answers with a recognizable pattern, so every test sees exactly
 * which registers the model changed.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hw/hw_cpuid.h"
#include "hw/hw.h"
#include "tests/common/leak_guard.h"

#define MiB (1ULL << 20)

/* What the fake host returns: each register names leaf, subleaf and itself. */
static void fake_host(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	for (uint32_t i = 0; i < 4; i++)
		r[i] = (leaf << 16) ^ (subleaf << 4) ^ (0xA0 + i);
}

static struct sgx_hw *hw_new(unsigned int nr_sections, uint64_t section_size, bool sgx2,
			     bool flc)
{
	struct sgx_hw_config cfg;
	struct sgx_hw *hw;

	sgx_hw_default_config(&cfg);
	cfg.nr_sections = nr_sections;
	for (unsigned int i = 0; i < nr_sections; i++)
		cfg.section_size[i] = section_size;
	cfg.sgx2 = sgx2;
	cfg.flc = flc;
	hw = lg_hw_new(&cfg);
	assert_non_null(hw);
	return hw;
}

/* hw_cpuid() with the fake host's answer; its return value. */
static bool model(const struct sgx_hw *hw, uint32_t leaf, uint32_t subleaf, uint32_t max_basic,
		  uint32_t out[4])
{
	uint32_t host[4];

	fake_host(leaf, subleaf, host);
	memset(out, 0xEE, 4 * sizeof(uint32_t));
	return hw_cpuid(hw, leaf, subleaf, max_basic, host, out);
}

static void assert_host(const struct sgx_hw *hw, uint32_t leaf, uint32_t subleaf,
			uint32_t max_basic)
{
	uint32_t out[4], host[4];

	assert_false(model(hw, leaf, subleaf, max_basic, out));
	fake_host(leaf, subleaf, host);
	assert_memory_equal(out, host, sizeof(host));
	assert_true(hw_cpuid_needs_host(leaf, max_basic));
}

static void leaf7_sgx_and_lc(void **state)
{
	struct sgx_hw *hw = hw_new(2, 64 * MiB, true, true);
	uint32_t out[4], host[4];

	(void)state;
	fake_host(7, 0, host);
	assert_true(model(hw, 7, 0, 0x20, out));
	assert_true(hw_cpuid_needs_host(7, 0x20));
	assert_int_equal(out[HW_CPUID_EAX], host[HW_CPUID_EAX]);
	assert_int_equal(out[HW_CPUID_EBX], host[HW_CPUID_EBX] | (1u << 2));
	assert_int_equal(out[HW_CPUID_ECX], host[HW_CPUID_ECX] | (1u << 30));
	assert_int_equal(out[HW_CPUID_EDX], host[HW_CPUID_EDX]);
	/* Subleaves 1 and up carry no SGX bit: the host's. */
	for (uint32_t s = 1; s < 4; s++)
		assert_host(hw, 7, s, 0x20);
	lg_hw_free(hw);
}

static void leaf7_without_flc(void **state)
{
	struct sgx_hw *hw = hw_new(1, 16 * 4096, true, false);
	uint32_t out[4], host[4];

	(void)state;
	fake_host(7, 0, host);
	host[HW_CPUID_ECX] |= 1u << 30; /* a host with SGX_LC of its own */
	memset(out, 0, sizeof(out));
	assert_true(hw_cpuid(hw, 7, 0, 0x20, host, out));
	assert_true(out[HW_CPUID_EBX] & (1u << 2));
	assert_false(out[HW_CPUID_ECX] & (1u << 30));
	assert_int_equal(out[HW_CPUID_ECX], host[HW_CPUID_ECX] & ~(1u << 30));
	lg_hw_free(hw);
}

/* Every subleaf of 0x12 is hw_cpuid_sgx()'s, whatever the host says. */
static void assert_leaf12_is_platform(const struct sgx_hw *hw, uint32_t max_basic,
				      uint32_t last)
{
	uint32_t out[4], want[4];

	assert_false(hw_cpuid_needs_host(0x12, max_basic));
	for (uint32_t s = 0; s <= last; s++) {
		assert_true(model(hw, 0x12, s, max_basic, out));
		hw_cpuid_sgx(hw, s, want);
		assert_memory_equal(out, want, sizeof(want));
	}
	/* The host's answer is not read: NULL is fine. */
	assert_true(hw_cpuid(hw, 0x12, 0, max_basic, NULL, out));
}

static void leaf12_every_subleaf(void **state)
{
	struct sgx_hw *hw = hw_new(3, 2 * MiB, true, true);
	uint32_t out[4];

	(void)state;
	assert_leaf12_is_platform(hw, 0x20, 8);
	model(hw, 0x12, 0, 0x20, out);
	assert_int_equal(out[HW_CPUID_EAX], 0x3); /* SGX1 | SGX2 */
	assert_int_equal(out[HW_CPUID_EBX], SGX_MISC_EXINFO);
	assert_int_equal(out[HW_CPUID_ECX], 0);
	assert_int_equal(out[HW_CPUID_EDX], 31u | 47u << 8);
	model(hw, 0x12, 1, 0x20, out);
	assert_int_equal(out[HW_CPUID_EAX] & (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT),
			 SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(out[HW_CPUID_ECX] & 0x3, 0x3); /* XFRM: x87 and SSE always */
	/* Subleaves 2, 3, 4: the three sections; 5: invalid, the end. */
	for (uint32_t s = 2; s < 5; s++) {
		struct sgx_hw_section sec;

		model(hw, 0x12, s, 0x20, out);
		assert_true(hw_epc_section(hw, s - 2, &sec));
		assert_int_equal(out[HW_CPUID_EAX] & 0xF, 1);
		assert_int_equal(out[HW_CPUID_ECX] & 0xF, 1);
		assert_int_equal((out[HW_CPUID_EAX] & 0xFFFFF000u) |
					 (uint64_t)(out[HW_CPUID_EBX] & 0xFFFFF) << 32,
				 sec.phys);
		assert_int_equal((out[HW_CPUID_ECX] & 0xFFFFF000u) |
					 (uint64_t)(out[HW_CPUID_EDX] & 0xFFFFF) << 32,
				 2 * MiB);
	}
	for (uint32_t s = 5; s < 12; s++) {
		model(hw, 0x12, s, 0x20, out);
		assert_int_equal(out[0] | out[1] | out[2] | out[3], 0);
	}
	model(hw, 0x12, ~0u, 0x20, out);
	assert_int_equal(out[0] | out[1] | out[2] | out[3], 0);
	lg_hw_free(hw);
}

static void leaf12_sgx1(void **state)
{
	struct sgx_hw *hw = hw_new(1, 4 * MiB, false, true);
	uint32_t out[4];

	(void)state;
	assert_leaf12_is_platform(hw, 0x20, 4);
	model(hw, 0x12, 0, 0x20, out);
	assert_int_equal(out[HW_CPUID_EAX], 0x1);
	model(hw, 0x12, 3, 0x20, out);
	assert_int_equal(out[0] | out[1] | out[2] | out[3], 0);
	lg_hw_free(hw);
}

/* A host whose maximum basic leaf is below 0x12 (AMD, some guests). */
static void leaf0_raised(void **state)
{
	struct sgx_hw *hw = hw_new(1, 4 * MiB, true, true);
	uint32_t out[4], host[4] = { 0xD, 0x68747541, 0x444D4163, 0x69746E65 };

	(void)state;
	assert_true(hw_cpuid_needs_host(0, 0xD));
	assert_true(hw_cpuid(hw, 0, 0, 0xD, host, out));
	assert_int_equal(out[HW_CPUID_EAX], 0x12);
	/* The vendor string stays the host's. */
	assert_memory_equal(&out[1], &host[1], 3 * sizeof(uint32_t));

	/* Leaves between the host's maximum and 0x12 read as reserved: zero. */
	for (uint32_t leaf = 0xE; leaf < 0x12; leaf++) {
		assert_false(hw_cpuid_needs_host(leaf, 0xD));
		assert_true(model(hw, leaf, 0, 0xD, out));
		assert_int_equal(out[0] | out[1] | out[2] | out[3], 0);
	}
	assert_leaf12_is_platform(hw, 0xD, 4);
	/* Below the maximum, and the extended leaves: the host's. */
	assert_host(hw, 0xD, 1, 0xD);
	assert_host(hw, 0x80000000, 0, 0xD);

	/* A host without leaf 7 at all: leaf 7 is the SGX bits alone. */
	assert_false(hw_cpuid_needs_host(7, 5));
	assert_true(hw_cpuid(hw, 7, 0, 5, NULL, out));
	assert_int_equal(out[HW_CPUID_EAX], 0);
	assert_int_equal(out[HW_CPUID_EBX], 1u << 2);
	assert_int_equal(out[HW_CPUID_ECX], 1u << 30);
	assert_int_equal(out[HW_CPUID_EDX], 0);
	assert_true(hw_cpuid(hw, 7, 1, 5, NULL, out));
	assert_int_equal(out[0] | out[1] | out[2] | out[3], 0);
	lg_hw_free(hw);
}

/* A host that already reaches 0x12: leaf 0 unchanged. */
static void leaf0_kept(void **state)
{
	struct sgx_hw *hw = hw_new(1, 4 * MiB, true, true);
	uint32_t out[4], host[4] = { 0x20, 0x756E6547, 0x6C65746E, 0x49656E69 };

	(void)state;
	assert_false(hw_cpuid(hw, 0, 0, 0x20, host, out));
	assert_memory_equal(out, host, sizeof(host));
	host[0] = 0x12;
	assert_false(hw_cpuid(hw, 0, 0, 0x12, host, out));
	assert_int_equal(out[0], 0x12);
	lg_hw_free(hw);
}

static void other_leaves_passthrough(void **state)
{
	static const uint32_t leaves[] = { 1, 2, 4, 6, 0xB, 0xD, 0x11, 0x13, 0x14, 0x1F,
					   0x40000000, 0x80000000, 0x80000001, 0x8000001E };
	struct sgx_hw *hw = hw_new(2, 4 * MiB, true, true);

	(void)state;
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
		for (uint32_t s = 0; s < 3; s++)
			assert_host(hw, leaves[i], s, 0x20);
	lg_hw_free(hw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(leaf7_sgx_and_lc),
		LG_TEST(leaf7_without_flc),
		LG_TEST(leaf12_every_subleaf),
		LG_TEST(leaf12_sgx1),
		LG_TEST(leaf0_raised),
		LG_TEST(leaf0_kept),
		LG_TEST(other_leaves_passthrough),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
