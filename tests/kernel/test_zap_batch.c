// SPDX-License-Identifier: MIT
/*
 * The reclaimer's zaps by batch (kernel/reclaim.c sgx_reclaimer_zap()): an
 * mm that maps several pages of a batch gets one zap op for all of them,
 * in address order (a service's client: one ZAP message, one
 * acknowledgement), and while that zap runs the enclave's lock is free, so
 * a fault on another page of the enclave completes (a client answering
 * late stalls nobody but the reclaimer).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "kernel/driver.h"
#include "kernel/encl.h"
#include "kernel/mm.h"
#include "softsgx/sgx_uapi.h"
#include "tests/common/encl_fixture.h"
#include "tests/common/leak_guard.h"

#define PAGE   SGX_PAGE_SIZE
#define NR_REG 24

/* An mm whose address space is a shadow at @delta in this process, recording its zaps. */
struct shadow {
	int64_t delta;
	_Atomic unsigned int calls, max_n;
	_Atomic bool unsorted;
	/* Set: the zap waits (at most 5 s) for @released, saying whether it came. */
	_Atomic bool hold, in_zap, released, released_in_time;
};

static uint8_t *real(const struct shadow *s, uint64_t addr)
{
	return (uint8_t *)(uintptr_t)(addr + (uint64_t)s->delta);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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

	atomic_fetch_add(&s->calls, 1);
	if (n > atomic_load(&s->max_n))
		atomic_store(&s->max_n, n);
	for (unsigned int i = 1; i < n; i++)
		if (addrs[i] <= addrs[i - 1])
			atomic_store(&s->unsorted, true);
	if (atomic_exchange(&s->hold, false)) {
		uint64_t end = now_ms() + 5000;

		atomic_store(&s->in_zap, true);
		while (!atomic_load(&s->released) && now_ms() < end)
			usleep(1000);
		atomic_store(&s->released_in_time, atomic_load(&s->released));
	}
	for (unsigned int i = 0; i < n; i++)
		if (sgx_pte_zap((uintptr_t)real(s, addrs[i])))
			return -EFAULT;
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

struct fixture {
	struct softsgx_platform *p;
	struct sgx_kernel *k;
	struct sgx_encl *encl;
	struct sgx_mm *mm;
	struct shadow sh;
	struct ek_enclave e __attribute__((aligned(4096)));
};

static struct fixture fx;

/* An initialized enclave of NR_REG pages mapped in a shadow mm, every page faulted in. */
static void fixture_up(void)
{
	struct softsgx_config cfg;
	struct sgx_enclave_init init;
	struct sgx_file *f;
	uint64_t addr;

	memset(&fx, 0, offsetof(struct fixture, e));
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 64 * PAGE;
	cfg.section_size[1] = 0;
	cfg.no_ksgxd = true; /* reclaim only when the test says */
	fx.p = lg_platform_new(&cfg);
	assert_non_null(fx.p);
	fx.k = softsgx_kernel(fx.p);
	ek_create_and_add(fx.p, &fx.e, NR_REG);
	ek_sign(&fx.e);
	init.sigstruct = (uintptr_t)&fx.e.sigstruct;
	assert_int_equal(softsgx_ioctl(fx.p, fx.e.fd, SGX_IOC_ENCLAVE_INIT, &init), 0);
	f = softsgx_fget(fx.p, fx.e.fd);
	assert_non_null(f);
	fx.encl = sgx_file_encl(f);
	assert_int_equal(softsgx_close(fx.p, fx.e.fd), 0);
	fx.sh.delta = (int64_t)(ek_free_base(fx.e.size) - fx.e.base);
	fx.mm = sgx_mm_create(&shadow_ops, &fx.sh);
	assert_non_null(fx.mm);
	addr = fx.e.base;
	assert_int_equal(sgx_file_mmap_mm(f, fx.mm, &addr, fx.e.size, PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_FIXED, 0),
			 0);
	sgx_file_put(f);
	for (uint64_t i = 1; i <= NR_REG; i++)
		assert_int_equal(sgx_handle_fault_mm(fx.k, fx.mm, fx.e.base + i * PAGE, PROT_READ),
				 SGX_FAULT_RETRY);
}

static void fixture_down(void)
{
	sgx_mm_exit(fx.mm);
	sgx_mm_put(fx.mm);
	ek_assert_invariant(fx.p);
	lg_platform_free(fx.p);
}

static struct sgx_encl_page *page_of(uint64_t i)
{
	return page_array_load(&fx.encl->page_array, fx.e.base / PAGE + i);
}

/* Each batch zaps the mm once, all its mapped pages in address order. */
static void test_one_zap_per_batch(void **state)
{
	unsigned int written = 0;

	(void)state;
	fixture_up();
	for (int n = 0; n < 8; n++) {
		unsigned int calls = atomic_load(&fx.sh.calls);
		unsigned int w = sgx_reclaim_pages(fx.k);

		written += w;
		/* One mm: one call for the whole batch (none for the unmapped TCS alone). */
		assert_true(atomic_load(&fx.sh.calls) - calls <= 1);
	}
	assert_true(written > 1);
	assert_true(atomic_load(&fx.sh.max_n) > 1);
	assert_false(atomic_load(&fx.sh.unsorted));
	/* Every page written out is gone from the shadow's page tables. */
	for (uint64_t i = 1; i <= NR_REG; i++)
		if (!page_of(i)->epc_page)
			assert_int_equal(page_of(i)->mapped, 0);
	/* And comes back with its contents. */
	for (uint64_t i = 1; i <= NR_REG; i++) {
		assert_int_equal(sgx_handle_fault_mm(fx.k, fx.mm, fx.e.base + i * PAGE, PROT_READ),
				 SGX_FAULT_RETRY);
		assert_int_equal(*(uint64_t *)real(&fx.sh, fx.e.base + i * PAGE), i);
	}
	fixture_down();
}

static void *reclaim_until_zapped(void *arg)
{
	(void)arg;
	for (int n = 0; n < 64 && !atomic_load(&fx.sh.in_zap); n++)
		sgx_reclaim_pages(fx.k);
	return NULL;
}

/*
 * While the mm's zap waits (a client slow to acknowledge), a fault on a page
 * of the same enclave outside the batch completes: the enclave's lock is
 * not held across the zap. The fault loads an evicted page (ELDU), on this
 * thread while the reclaimer runs on a new one.
 */
static void test_fault_during_zap(void **state)
{
	struct sgx_encl_page *victim = NULL;
	uint64_t vi = 0;
	pthread_t t;

	(void)state;
	fixture_up();
	/* A page evicted beforehand, to fault back in while the next zap waits. */
	for (int n = 0; n < 16 && !victim; n++) {
		sgx_reclaim_pages(fx.k);
		for (uint64_t i = 1; i <= NR_REG && !victim; i++)
			if (!page_of(i)->epc_page) {
				victim = page_of(i);
				vi = i;
			}
	}
	assert_non_null(victim);
	/* Make every resident page old again, then hold the next zap. */
	for (uint64_t i = 1; i <= NR_REG; i++)
		if (i != vi)
			assert_int_equal(sgx_handle_fault_mm(fx.k, fx.mm, fx.e.base + i * PAGE,
							     PROT_READ),
					 SGX_FAULT_RETRY);
	atomic_store(&fx.sh.hold, true);
	assert_int_equal(pthread_create(&t, NULL, reclaim_until_zapped, NULL), 0);
	for (uint64_t end = now_ms() + 5000; !atomic_load(&fx.sh.in_zap) && now_ms() < end;)
		usleep(1000);
	assert_true(atomic_load(&fx.sh.in_zap));
	assert_int_equal(sgx_handle_fault_mm(fx.k, fx.mm, fx.e.base + vi * PAGE, PROT_READ),
			 SGX_FAULT_RETRY);
	atomic_store(&fx.sh.released, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(atomic_load(&fx.sh.released_in_time));
	assert_non_null(victim->epc_page);
	assert_int_equal(*(uint64_t *)real(&fx.sh, fx.e.base + vi * PAGE), vi);
	fixture_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_one_zap_per_batch),
		LG_TEST(test_fault_during_zap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
