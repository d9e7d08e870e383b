// SPDX-License-Identifier: MIT
/*
 * A zap an mm refuses (a platform service's client that did not acknowledge
 * in time, service/client_mm.c): the reclaimer must not block or write out
 * the page, whose PTE may still be in that process; it goes back on the LRU
 * resident, intact and still mapped, and is evicted once zaps succeed.
 * Pages the refusing mm does not map are evicted meanwhile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "kernel/driver.h"
#include "kernel/encl.h"
#include "tests/common/encl_fixture.h"
#include "tests/common/leak_guard.h"
#include "kernel/mm.h"
#include "softsgx/sgx_uapi.h"

#define PAGE   SGX_PAGE_SIZE
#define NR_REG 6

/* An mm whose address space is a shadow at @delta in this process. */
struct shadow {
	int64_t delta;
	bool refuse; /* zap fails, as an unacknowledged one does */
	unsigned int refused;
};

static uint8_t *real(const struct shadow *s, uint64_t addr)
{
	return (uint8_t *)(uintptr_t)(addr + (uint64_t)s->delta);
}

static int sh_reserve(struct sgx_mm *mm, uint64_t *addr, uint64_t len, bool fixed)
{
	struct shadow *s = mm->ops_data;
	uint64_t a = *addr + (uint64_t)s->delta;

	(void)fixed;
	return sgx_mm_reserve(&a, len, true);
}

static int sh_install(struct sgx_mm *mm, struct sgx_kernel *k, const struct sgx_epc_page *page,
		      uint64_t addr, int prot, int walk_prot)
{
	(void)walk_prot;
	return sgx_epc_page_map(k, page, (uintptr_t)real(mm->ops_data, addr), prot);
}

static int sh_zap(struct sgx_mm *mm, const uint64_t *addrs, unsigned int n)
{
	struct shadow *s = mm->ops_data;

	if (s->refuse) {
		s->refused++;
		return -ETIMEDOUT;
	}
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(sgx_pte_zap((uintptr_t)real(s, addrs[i] & ~(PAGE - 1))), 0);
	return 0;
}

static int sh_unmap(struct sgx_mm *mm, uint64_t addr, uint64_t len)
{
	uint64_t a = (uintptr_t)real(mm->ops_data, addr);

	return sgx_mm_reserve(&a, len, true);
}

static const struct sgx_mm_ops shadow_ops = {
	.reserve = sh_reserve,
	.install = sh_install,
	.zap = sh_zap,
	.unmap = sh_unmap,
};

static void test_refused_zap_keeps_the_page(void **state)
{
	struct softsgx_config cfg;
	struct sgx_enclave_init init;
	struct softsgx_platform *p;
	struct sgx_encl_page *e1, *e2;
	struct ek_enclave e __attribute__((aligned(4096)));
	struct softsgx_stats st;
	struct shadow sh = {0};
	struct sgx_kernel *k;
	struct sgx_file *f;
	struct sgx_mm *mm;
	uint64_t addr, pg, bit, evictions;

	(void)state;
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 64 * PAGE;
	cfg.section_size[1] = 0;
	cfg.no_ksgxd = true; /* reclaim only when the test says */
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	k = softsgx_kernel(p);
	ek_create_and_add(p, &e, NR_REG);
	ek_sign(&e);
	init.sigstruct = (uintptr_t)&e.sigstruct;
	assert_int_equal(softsgx_ioctl(p, e.fd, SGX_IOC_ENCLAVE_INIT, &init), 0);
	f = softsgx_fget(p, e.fd);
	assert_non_null(f);
	assert_int_equal(softsgx_close(p, e.fd), 0);

	sh.delta = (int64_t)(ek_free_base(e.size) - e.base);
	mm = sgx_mm_create(&shadow_ops, &sh);
	assert_non_null(mm);
	addr = e.base;
	assert_int_equal(sgx_file_mmap_mm(f, mm, &addr, e.size, PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_FIXED, 0),
			 0);
	sgx_file_put(f);
	pg = e.base + PAGE;
	assert_int_equal(sgx_handle_fault_mm(k, mm, pg, PROT_WRITE), SGX_FAULT_RETRY);
	*(uint64_t *)(real(&sh, pg) + 200) = 0xC0FFEE;
	e1 = page_array_load(&sgx_file_encl(f)->page_array, pg / PAGE);
	e2 = page_array_load(&sgx_file_encl(f)->page_array, pg / PAGE + 1);
	bit = e1->mapped;
	assert_int_not_equal(bit, 0);

	/* Refused: page 1 stays, mapped and intact; page 2 (never mapped) goes. */
	sh.refuse = true;
	softsgx_get_stats(p, &st);
	evictions = st.evictions;
	for (int n = 0; n < 64; n++)
		sgx_reclaim_pages(k);
	assert_true(sh.refused > 0);
	assert_non_null(e1->epc_page);
	assert_int_equal(e1->mapped, bit);
	assert_false(e1->being_reclaimed);
	assert_null(e2->epc_page);
	softsgx_get_stats(p, &st);
	assert_true(st.evictions > evictions);
	assert_int_equal(*(uint64_t *)(real(&sh, pg) + 200), 0xC0FFEE);
	ek_assert_invariant(p);

	/* Acknowledged again: it is evicted, and comes back with its data. */
	sh.refuse = false;
	for (int n = 0; n < 64 && e1->epc_page; n++)
		sgx_reclaim_pages(k);
	assert_null(e1->epc_page);
	assert_int_equal(e1->mapped, 0);
	assert_int_equal(sgx_handle_fault_mm(k, mm, pg, PROT_READ), SGX_FAULT_RETRY);
	assert_int_equal(*(uint64_t *)(real(&sh, pg) + 200), 0xC0FFEE);

	sgx_mm_exit(mm);
	sgx_mm_put(mm);
	ek_assert_invariant(p);
	softsgx_get_stats(p, &st);
	assert_int_equal(st.in_use_pages, 0);
	lg_platform_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_refused_zap_keeps_the_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
