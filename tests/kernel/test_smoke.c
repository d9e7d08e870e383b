// SPDX-License-Identifier: MIT
/* End to end through the kernel model: build, map, fault, evict, reload, close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "tests/common/encl_fixture.h"
#include "tests/common/leak_guard.h"

static void test_build_fault_close(void **state)
{
	struct softsgx_platform *p = ek_platform(1, 256);
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct softsgx_stats st;
	uint8_t *base;

	(void)state;
	ek_build(p, e, 8);
	ek_fault_handler_install(p);
	base = (uint8_t *)(uintptr_t)e->base;
	for (uint64_t i = 1; i <= 8; i++) {
		uint64_t v;

		memcpy(&v, base + i * 4096, sizeof(v));
		assert_int_equal(v, i);
		assert_int_equal(base[i * 4096 + 100], ek_pattern(i));
	}
	softsgx_get_stats(p, &st);
	assert_true(st.in_use_pages >= 11); /* SECS, VA, TCS, 8 REG */
	ek_assert_invariant(p);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	/* The mapping still holds the enclave, as a VMA holds its file on Linux. */
	softsgx_get_stats(p, &st);
	assert_true(st.in_use_pages >= 11);
	assert_int_equal(softsgx_munmap(p, base, e->size), 0);
	softsgx_get_stats(p, &st);
	assert_int_equal(st.in_use_pages, 0);
	assert_int_equal(st.free_pages, st.total_pages);
	ek_fault_handler_remove();
	free(e);
	lg_platform_free(p);
}

static void test_evict_reload(void **state)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct softsgx_stats st;
	uint8_t *base;

	(void)state;
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 256 * 4096;
	cfg.no_ksgxd = true;
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	ek_build(p, e, 40);
	ek_fault_handler_install(p);
	base = (uint8_t *)(uintptr_t)e->base;
	base[5 * 4096 + 100] = 0xEE;
	/* Two passes: the first only clears the young bit of touched pages. */
	for (int i = 0; i < 8; i++)
		softsgx_reclaim(p);
	softsgx_get_stats(p, &st);
	assert_true(st.evictions > 0);
	for (uint64_t i = 1; i <= 40; i++) {
		uint64_t v;

		memcpy(&v, base + i * 4096, sizeof(v));
		assert_int_equal(v, i);
	}
	assert_int_equal(base[5 * 4096 + 100], 0xEE);
	softsgx_get_stats(p, &st);
	assert_true(st.reloads > 0);
	ek_assert_invariant(p);
	ek_fault_handler_remove();
	free(e);
	lg_platform_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_build_fault_close),
		LG_TEST(test_evict_reload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
