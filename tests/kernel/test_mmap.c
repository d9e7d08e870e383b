// SPDX-License-Identifier: MIT
/*
 * The memory side of /dev/sgx_enclave through the embedding API: mmap's
 * rules (MAP_SHARED only, never above the enclave page permissions, nothing
 * outside ELRANGE once initialized), mprotect, munmap, the fault path's
 * answers, descriptor lifetime against mappings, and the device files
 * themselves (paths, no FLC, /dev/sgx_provision). docs/errno.md maps each
 * failure to its test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "tests/common/build_fixture.h"
#include "tests/common/encl_fixture.h"
#include "softsgx/sgx_uapi.h"
#include "tests/common/leak_guard.h"

#define PAGE SGX_PAGE_SIZE
#define R (SGX_SECINFO_REG | SGX_SECINFO_R)
#define RW (R | SGX_SECINFO_W)
#define RX (R | SGX_SECINFO_X)
#define RWX (RW | SGX_SECINFO_X)
#define PROT_RW (PROT_READ | PROT_WRITE)
#define PROT_RWX (PROT_READ | PROT_WRITE | PROT_EXEC)

/* Layout of the permission enclave: 16 pages, holes from page 5 on. */
enum {
	PG_TCS = 0, /* mappable RW */
	PG_R = 1,
	PG_RW = 2,
	PG_RX = 3,
	PG_RWX = 4,
	PG_HOLE = 5,
	NR_PAGES = 16,
};

static struct bf_enclave *enclave_alloc(void)
{
	struct bf_enclave *e = aligned_alloc(4096, sizeof(*e));

	assert_non_null(e);
	return e;
}

static void *page_addr(const struct bf_enclave *e, unsigned int page)
{
	return (void *)(uintptr_t)(e->base + (uint64_t)page * PAGE);
}

static uint64_t nr_vmas(struct softsgx_platform *p)
{
	struct sgx_kernel *k = softsgx_kernel(p);
	uint64_t n;

	pthread_rwlock_rdlock(&k->mm.lock);
	n = k->mm.nr_vmas;
	pthread_rwlock_unlock(&k->mm.lock);
	return n;
}

/* mmap of @fd; returns the result, *@addr in: address (with MAP_FIXED), out: start. */
static int map(struct softsgx_platform *p, int fd, void **addr, size_t len, int prot, int flags)
{
	return softsgx_mmap(p, addr, len, prot, flags, fd, 0);
}

static int map_at(struct softsgx_platform *p, const struct bf_enclave *e, unsigned int page,
		  unsigned int nr, int prot)
{
	void *addr = page_addr(e, page);
	int ret = map(p, e->fd, &addr, nr * PAGE, prot, MAP_SHARED | MAP_FIXED);

	if (!ret)
		assert_ptr_equal(addr, page_addr(e, page));
	return ret;
}

/* True when nothing at all is mapped at [@addr, @addr + @len) in the process. */
static bool unmapped(void *addr, size_t len)
{
	unsigned char vec[64];

	assert_true(len / PAGE <= sizeof(vec));
	return mincore(addr, len, vec) == -1 && errno == ENOMEM;
}

static void perm_pages(struct bf_enclave *e)
{
	bf_add_tcs(e, PG_TCS * PAGE);
	bf_add_page(e, PG_R * PAGE, R, 0x11);
	bf_add_page(e, PG_RW * PAGE, RW, 0x22);
	bf_add_page(e, PG_RX * PAGE, RX, 0x33);
	bf_add_page(e, PG_RWX * PAGE, RWX, 0x44);
}

/* TCS, R, RW, RX, RWX pages, then holes; initialized when @init. */
static void build_perm_enclave(struct softsgx_platform *p, struct bf_enclave *e, bool init)
{
	bf_create(p, e, NR_PAGES * PAGE);
	perm_pages(e);
	if (init) {
		bf_sign(e);
		assert_int_equal(bf_init(e), 0);
	}
}

/* munmap of part of a reserved ELRANGE, holding the range again afterwards. */
static void unmap(struct softsgx_platform *p, void *addr, size_t len)
{
	assert_int_equal(softsgx_munmap(p, addr, len), 0);
	bf_rereserve(addr, len);
}

static void close_all(struct softsgx_platform *p, struct bf_enclave *e)
{
	ek_assert_invariant(p);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	bf_assert_all_free(p);
	bf_release(e);
}

/* ---- mmap ---- */

static void test_mmap_flags_and_args(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	uint64_t vmas;
	void *addr;

	(void)state;
	build_perm_enclave(p, e, false);
	vmas = nr_vmas(p);
	/* sgx_get_unmapped_area(): MAP_PRIVATE of EPC is EINVAL, fixed or not. */
	addr = NULL;
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_PRIVATE), -EINVAL);
	addr = page_addr(e, PG_R);
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED), -EINVAL);
	/* do_mmap(): zero length, unaligned offset or fixed address, wrapping length. */
	addr = page_addr(e, PG_R);
	assert_int_equal(map(p, e->fd, &addr, 0, PROT_READ, MAP_SHARED | MAP_FIXED), -EINVAL);
	assert_int_equal(softsgx_mmap(p, &addr, PAGE, PROT_READ, MAP_SHARED, e->fd, 100), -EINVAL);
	addr = (uint8_t *)page_addr(e, PG_R) + 8;
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED), -EINVAL);
	addr = NULL;
	assert_int_equal(map(p, e->fd, &addr, SIZE_MAX - 10, PROT_READ, MAP_SHARED), -ENOMEM);
	/* No descriptor. */
	assert_int_equal(map(p, 777, &addr, PAGE, PROT_READ, MAP_SHARED), -EBADF);
	assert_int_equal(nr_vmas(p), vmas);
	/* MAP_SHARED_VALIDATE is a shared mapping. */
	assert_int_equal(map_at(p, e, PG_R, 1, PROT_READ), 0);
	unmap(p, page_addr(e, PG_R), PAGE);
	addr = page_addr(e, PG_R);
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_FIXED),
			 0);
	/* A length that is not a page multiple covers the whole last page. */
	unmap(p, page_addr(e, PG_R), PAGE);
	addr = page_addr(e, PG_R);
	assert_int_equal(map(p, e->fd, &addr, 100, PROT_READ, MAP_SHARED | MAP_FIXED), 0);
	assert_int_equal(softsgx_handle_fault(p, (uint8_t *)page_addr(e, PG_R) + 4000, PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(((uint8_t *)page_addr(e, PG_R))[4000], 0x11);
	unmap(p, page_addr(e, PG_R), PAGE);
	/* The file offset means nothing to an enclave: the address picks the page. */
	addr = page_addr(e, PG_RW);
	assert_int_equal(softsgx_mmap(p, &addr, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, e->fd,
				      5 * PAGE),
			 0);
	assert_int_equal(softsgx_handle_fault(p, addr, PROT_READ), SOFTSGX_FAULT_RETRY);
	assert_int_equal(((uint8_t *)addr)[17], 0x22);
	unmap(p, addr, PAGE);
	assert_int_equal(nr_vmas(p), vmas);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_mmap_prot_beyond_page_permissions(void **state)
{
	struct {
		unsigned int page, nr;
		int prot, expect;
	} cases[] = {
		{ PG_RW, 1, PROT_EXEC, -EACCES },
		{ PG_RW, 1, PROT_READ | PROT_EXEC, -EACCES },
		{ PG_RW, 1, PROT_RW, 0 },
		{ PG_R, 1, PROT_WRITE, -EACCES },
		{ PG_R, 1, PROT_RW, -EACCES },
		{ PG_R, 1, PROT_READ, 0 },
		{ PG_RX, 1, PROT_WRITE, -EACCES },
		{ PG_RX, 1, PROT_READ | PROT_EXEC, 0 },
		{ PG_RWX, 1, PROT_RWX, 0 },
		{ PG_TCS, 1, PROT_RW, 0 }, /* a TCS maps read-write whatever SECINFO said */
		{ PG_TCS, 1, PROT_EXEC, -EACCES },
		{ PG_HOLE, NR_PAGES - PG_HOLE, PROT_RWX, 0 }, /* no page, no limit */
		{ 0, NR_PAGES, PROT_READ, 0 },	/* every page allows reading */
		{ 0, NR_PAGES, PROT_RW, -EACCES },	/* the R and RX pages refuse */
		{ PG_RW, 3, PROT_RW, -EACCES },	/* the RX page in the middle refuses */
		{ 0, NR_PAGES, PROT_NONE, 0 },
	};
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	uint64_t vmas;
	void *addr;

	(void)state;
	build_perm_enclave(p, e, true);
	vmas = nr_vmas(p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = map_at(p, e, cases[i].page, cases[i].nr, cases[i].prot);

		if (ret != cases[i].expect)
			fail_msg("case %zu: mmap of pages %u+%u prot %#x gave %d, not %d", i,
				 cases[i].page, cases[i].nr, cases[i].prot, ret, cases[i].expect);
		if (!ret) {
			assert_int_equal(nr_vmas(p), vmas + 1);
			unmap(p, page_addr(e, cases[i].page), cases[i].nr * PAGE);
		}
		assert_int_equal(nr_vmas(p), vmas);
	}
	assert_int_equal(softsgx_close(p, e->fd), 0);
	bf_assert_all_free(p);
	bf_release(e);

	/* Without MAP_FIXED, before INIT: refused after placing, and the space is given back. */
	build_perm_enclave(p, e, false);
	addr = page_addr(e, PG_R);
	assert_int_equal(munmap(addr, PAGE), 0); /* a free hint, so the kernel takes it */
	assert_true(unmapped(addr, PAGE));
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_RW, MAP_SHARED), -EACCES);
	assert_true(unmapped(page_addr(e, PG_R), PAGE));
	assert_int_equal(nr_vmas(p), vmas);
	addr = page_addr(e, PG_R);
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_SHARED), 0);
	assert_ptr_equal(addr, page_addr(e, PG_R));
	unmap(p, addr, PAGE);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/* ELRANGE moved into a reserved [base - size, base + 3 * size): maps around it are safe. */
static uint8_t *reserve_around(struct bf_enclave *e)
{
	uint8_t *region = (uint8_t *)(uintptr_t)bf_reserve(4 * e->size);

	bf_release(e);
	e->base = (uintptr_t)region + e->size;
	return region;
}

static void test_mmap_outside_elrange(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	uint8_t *region;
	void *addr;

	(void)state;
	bf_open(p, e, NR_PAGES * PAGE);
	region = reserve_around(e);
	assert_int_equal(bf_create_attr(e, BF_ATTRIBUTES), 0);
	perm_pages(e);
	/* Before INIT the range is not fixed yet: mapping next to it is allowed. */
	addr = (void *)(uintptr_t)(e->base + e->size);
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED), 0);
	unmap(p, addr, PAGE);
	bf_sign(e);
	assert_int_equal(bf_init(e), 0);
	/* sgx_encl_may_map(): once initialized, nothing outside ELRANGE. */
	addr = (void *)(uintptr_t)(e->base + e->size);
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED), -EACCES);
	addr = (void *)(uintptr_t)(e->base - PAGE);
	assert_int_equal(map(p, e->fd, &addr, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED),
			 -EACCES);
	addr = page_addr(e, NR_PAGES - 1);
	assert_int_equal(map(p, e->fd, &addr, 2 * PAGE, PROT_NONE, MAP_SHARED | MAP_FIXED),
			 -EACCES);
	/* Where the kernel picks the place, it is not in the (reserved) ELRANGE. */
	addr = NULL;
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_SHARED), -EACCES);
	assert_int_equal(nr_vmas(p), 0);
	/* Exactly ELRANGE is fine. */
	assert_int_equal(map_at(p, e, 0, NR_PAGES, PROT_READ), 0);
	unmap(p, page_addr(e, 0), e->size);
	close_all(p, e);
	munmap(region, 4 * e->size);
	free(e);
	lg_platform_free(p);
}

static void test_prot_none_reservation_before_pages(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	uint64_t size = NR_PAGES * PAGE;
	void *addr = NULL;
	uint8_t *res;

	(void)state;
	/* A runtime's first step: reserve twice the size before ECREATE, then align. */
	bf_open(p, e, size);
	bf_release(e);
	assert_int_equal(map(p, e->fd, &addr, 2 * size, PROT_NONE, MAP_SHARED), 0);
	res = addr;
	e->base = ((uintptr_t)res + size - 1) & ~(size - 1);
	assert_int_equal(bf_create_attr(e, BF_ATTRIBUTES), 0);
	/* No pages yet: nothing limits a mapping. */
	assert_int_equal(map_at(p, e, 0, NR_PAGES, PROT_RWX), 0);
	perm_pages(e);
	/* Now the R page limits it; PROT_NONE still maps the whole range. */
	assert_int_equal(map_at(p, e, 0, NR_PAGES, PROT_RWX), -EACCES);
	assert_int_equal(map_at(p, e, 0, NR_PAGES, PROT_NONE), 0);
	assert_int_equal(map_at(p, e, PG_RW, 1, PROT_RW), 0);
	bf_sign(e);
	assert_int_equal(bf_init(e), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_WRITE),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(((uint8_t *)page_addr(e, PG_RW))[9], 0x22);
	/* A PROT_NONE page of the reservation faults as SIGSEGV. */
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_R), PROT_READ),
			 SOFTSGX_FAULT_SIGSEGV);
	assert_int_equal(softsgx_munmap(p, res, 2 * size), 0);
	bf_rereserve(page_addr(e, 0), size);
	assert_int_equal(nr_vmas(p), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_read_implies_exec(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	int persona = personality(0xffffffff);
	int r1, r2;

	(void)state;
	build_perm_enclave(p, e, true);
	assert_int_equal(map_at(p, e, PG_RW, 1, PROT_READ), 0);
	/* A process whose PROT_READ means PROT_EXEC may neither map nor mprotect. */
	assert_true(personality(persona | READ_IMPLIES_EXEC) != -1);
	r1 = map_at(p, e, PG_RWX, 1, PROT_READ);
	r2 = softsgx_mprotect(p, page_addr(e, PG_RW), PAGE, PROT_READ);
	personality(persona);
	assert_int_equal(r1, -EACCES);
	assert_int_equal(r2, -EACCES);
	unmap(p, page_addr(e, PG_RW), PAGE);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_map_fixed_noreplace(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	void *addr;

	(void)state;
	build_perm_enclave(p, e, true);
	assert_int_equal(map_at(p, e, PG_R, 1, PROT_READ), 0);
	addr = page_addr(e, PG_TCS);
	assert_int_equal(map(p, e->fd, &addr, 2 * PAGE, PROT_READ,
			     MAP_SHARED | MAP_FIXED_NOREPLACE),
			 -EEXIST);
	assert_int_equal(nr_vmas(p), 1);
	/* Over the test's own reservation it is EEXIST as well; over free space it maps. */
	addr = page_addr(e, PG_RW);
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE),
			 -EEXIST);
	assert_int_equal(munmap(page_addr(e, PG_RW), PAGE), 0);
	addr = page_addr(e, PG_RW);
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE),
			 0);
	assert_ptr_equal(addr, page_addr(e, PG_RW));
	addr = (uint8_t *)page_addr(e, PG_RX) + 1;
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE),
			 -EINVAL);
	unmap(p, page_addr(e, 0), e->size);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/* ---- mprotect ---- */

static void test_mprotect_above_permissions(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();

	(void)state;
	build_perm_enclave(p, e, true);
	assert_int_equal(map_at(p, e, 0, NR_PAGES, PROT_READ), 0);
	/* sgx_vma_mprotect(): up to the page permissions, never above. */
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RW), PAGE, PROT_RW), 0);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RW), PAGE, PROT_RWX), -EACCES);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_R), PAGE, PROT_RW), -EACCES);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RX), PAGE, PROT_WRITE), -EACCES);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, 0), e->size, PROT_RW), -EACCES);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RWX), PAGE, PROT_RWX), 0);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RX), PAGE, PROT_READ | PROT_EXEC),
			 0);
	/* The failed calls changed nothing. */
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_R), PROT_WRITE),
			 SOFTSGX_FAULT_SIGSEGV);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_WRITE),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_EXEC),
			 SOFTSGX_FAULT_SIGSEGV);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RWX), PROT_EXEC),
			 SOFTSGX_FAULT_RETRY);
	((uint8_t *)page_addr(e, PG_RW))[1] = 0x99;
	/* Down to PROT_NONE: a read faults as SIGSEGV. */
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RW), PAGE, PROT_NONE), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_READ),
			 SOFTSGX_FAULT_SIGSEGV);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RW), PAGE, PROT_READ), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(((uint8_t *)page_addr(e, PG_RW))[1], 0x99);
	/* PROT_SEM is accepted and ignored. */
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_R), PAGE, PROT_READ | 0x8), 0);
	unmap(p, page_addr(e, 0), e->size);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_mprotect_args_and_holes(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();

	(void)state;
	build_perm_enclave(p, e, true);
	assert_int_equal(map_at(p, e, 0, 2, PROT_READ), 0);
	assert_int_equal(map_at(p, e, 4, 2, PROT_READ), 0);
	/* do_mprotect_pkey(): a hole anywhere in the range is ENOMEM. */
	assert_int_equal(softsgx_mprotect(p, page_addr(e, 0), 6 * PAGE, PROT_NONE), -ENOMEM);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, 2), 2 * PAGE, PROT_NONE), -ENOMEM);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, 1), 2 * PAGE, PROT_NONE), -ENOMEM);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, 10), PAGE, PROT_READ), -ENOMEM);
	/* Unaligned start, unknown bits, wrap-around; zero length is a no-op success. */
	assert_int_equal(softsgx_mprotect(p, (uint8_t *)page_addr(e, 0) + 1, PAGE, PROT_READ),
			 -EINVAL);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, 0), PAGE, PROT_READ | 0x100), -EINVAL);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, 0), PAGE, PROT_READ | PROT_GROWSDOWN),
			 -EINVAL);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, 0), SIZE_MAX - 100, PROT_READ),
			 -ENOMEM);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, 10), 0, PROT_READ | 0x100), 0);
	/* Nothing changed: both pieces are still there and readable. */
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, 1), PROT_READ), SOFTSGX_FAULT_RETRY);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, 4), PROT_READ), SOFTSGX_FAULT_RETRY);
	/* Across two VMAs without a hole is fine. */
	assert_int_equal(map_at(p, e, 2, 2, PROT_READ), 0);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, 0), 6 * PAGE, PROT_NONE), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, 4), PROT_READ),
			 SOFTSGX_FAULT_SIGSEGV);
	unmap(p, page_addr(e, 0), e->size);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/* ---- munmap and faults ---- */

static void test_munmap_then_fault(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();

	(void)state;
	build_perm_enclave(p, e, true);
	assert_int_equal(map_at(p, e, 0, NR_PAGES, PROT_READ), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(softsgx_munmap(p, (uint8_t *)page_addr(e, 0) + 1, PAGE), -EINVAL);
	assert_int_equal(softsgx_munmap(p, page_addr(e, 0), 0), -EINVAL);
	/* A hole punched in the middle: that page is the program's own business now. */
	assert_int_equal(softsgx_munmap(p, page_addr(e, PG_RW), PAGE), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_READ),
			 SOFTSGX_FAULT_NOT_OURS);
	assert_true(unmapped(page_addr(e, PG_RW), PAGE));
	bf_rereserve(page_addr(e, PG_RW), PAGE);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_R), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RX), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	/* Unmapping a range with holes in it is fine. */
	unmap(p, page_addr(e, 0), e->size);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_R), PROT_READ),
			 SOFTSGX_FAULT_NOT_OURS);
	assert_int_equal(nr_vmas(p), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_fault_access_kinds(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();

	(void)state;
	build_perm_enclave(p, e, true);
	/* PROT_READ: writes and instruction fetches are the program's SIGSEGV. */
	assert_int_equal(map_at(p, e, PG_RWX, 1, PROT_READ), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RWX), PROT_WRITE),
			 SOFTSGX_FAULT_SIGSEGV);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RWX), PROT_EXEC),
			 SOFTSGX_FAULT_SIGSEGV);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RWX), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(((uint8_t *)page_addr(e, PG_RWX))[5], 0x44);
	/* PROT_NONE: everything is SIGSEGV. */
	assert_int_equal(map_at(p, e, PG_R, 1, PROT_NONE), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_R), PROT_READ),
			 SOFTSGX_FAULT_SIGSEGV);
	/* PROT_WRITE alone is readable on x86 (access_error()); not executable. */
	assert_int_equal(map_at(p, e, PG_RW, 1, PROT_WRITE), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_EXEC),
			 SOFTSGX_FAULT_SIGSEGV);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(((uint8_t *)page_addr(e, PG_RW))[5], 0x22);
	/* PROT_READ|PROT_EXEC on the RX page: fetch allowed. */
	assert_int_equal(map_at(p, e, PG_RX, 1, PROT_READ | PROT_EXEC), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RX), PROT_EXEC),
			 SOFTSGX_FAULT_RETRY);
	/* Not an SGX mapping at all. */
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_HOLE), PROT_READ),
			 SOFTSGX_FAULT_NOT_OURS);
	unmap(p, page_addr(e, 0), e->size);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_fault_sigbus(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct softsgx_stats before, after;
	struct bf_config cfg;

	(void)state;
	/* Mapped read-write before any page exists, then an R page is added. */
	bf_create(p, e, NR_PAGES * PAGE);
	assert_int_equal(map_at(p, e, 0, NR_PAGES, PROT_RW), 0);
	perm_pages(e);
	softsgx_get_stats(p, &before);
	/* sgx_vma_fault(): no enclave page there (before INIT, SGX2 cannot EAUG). */
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_HOLE + 3), PROT_READ),
			 SOFTSGX_FAULT_SIGBUS);
	/* sgx_encl_load_page_in_vma(): the page allows less than the VMA. */
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_R), PROT_READ),
			 SOFTSGX_FAULT_SIGBUS);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RX), PROT_READ),
			 SOFTSGX_FAULT_SIGBUS);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	softsgx_get_stats(p, &after);
	assert_int_equal(after.sigbus, before.sigbus + 3);
	unmap(p, page_addr(e, 0), e->size);
	close_all(p, e);
	lg_platform_free(p);

	/* After INIT on a CPU without SGX2 a hole stays a SIGBUS. */
	bf_default_config(&cfg, 64);
	cfg.sgx2 = false;
	p = bf_platform_new(&cfg);
	build_perm_enclave(p, e, true);
	assert_int_equal(map_at(p, e, PG_HOLE, NR_PAGES - PG_HOLE, PROT_RW), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, NR_PAGES - 1), PROT_WRITE),
			 SOFTSGX_FAULT_SIGBUS);
	unmap(p, page_addr(e, PG_HOLE), (NR_PAGES - PG_HOLE) * PAGE);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/*
 * Faults that need an EPC page when there is none: ELDU allocates without
 * reclaiming (it holds the enclave lock), so sgx_vma_fault() answers
 * VM_FAULT_NOPAGE (retry) while something is reclaimable and SIGBUS when
 * nothing ever can be.
 */
static void test_fault_epc_exhausted(void **state)
{
	struct bf_enclave *a = enclave_alloc(), *fill[3];
	struct softsgx_stats st, st2;
	struct bf_config cfg;
	struct softsgx_platform *p;

	(void)state;
	bf_default_config(&cfg, 7);
	cfg.no_ksgxd = true;
	p = bf_platform_new(&cfg);
	bf_create(p, a, 4 * PAGE);
	bf_add_tcs(a, 0);
	bf_add_page(a, PAGE, RW, 0x51);
	bf_add_page(a, 2 * PAGE, RW, 0x52);
	bf_sign(a);
	assert_int_equal(bf_init(a), 0);
	assert_int_equal(map_at(p, a, 0, 4, PROT_RW), 0);
	/* Everything of A goes out, its SECS last: only its VA page stays. */
	assert_int_equal(softsgx_reclaim(p), 3);
	assert_int_equal(bf_free_pages(p), 6);
	/* Three more enclaves take the rest with pages nobody can reclaim. */
	for (int i = 0; i < 3; i++) {
		fill[i] = enclave_alloc();
		bf_create(p, fill[i], 4 * PAGE);
	}
	assert_int_equal(bf_free_pages(p), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(a, 1), PROT_READ),
			 SOFTSGX_FAULT_SIGBUS);
	ek_assert_invariant(p);
	/* Two pages back: the SECS and page 1 come in. */
	assert_int_equal(softsgx_close(p, fill[2]->fd), 0);
	bf_release(fill[2]);
	assert_int_equal(softsgx_handle_fault(p, page_addr(a, 1), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(((uint8_t *)page_addr(a, 1))[8], 0x51);
	/* Page 2: none free, but page 1 is reclaimable: retry, nothing mapped. */
	softsgx_get_stats(p, &st);
	assert_int_equal(softsgx_handle_fault(p, page_addr(a, 2), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	softsgx_get_stats(p, &st2);
	assert_int_equal(st2.reloads, st.reloads);
	assert_int_equal(st2.sigbus, st.sigbus);
	/* The reclaimer makes room (page 1 was young: two passes); the retry succeeds. */
	softsgx_reclaim(p);
	softsgx_reclaim(p);
	assert_int_equal(softsgx_handle_fault(p, page_addr(a, 2), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(((uint8_t *)page_addr(a, 2))[8], 0x52);
	ek_assert_invariant(p);
	unmap(p, page_addr(a, 0), 4 * PAGE);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(softsgx_close(p, fill[i]->fd), 0);
		bf_release(fill[i]);
	}
	for (int i = 0; i < 3; i++)
		free(fill[i]);
	close_all(p, a);
	free(a);
	lg_platform_free(p);
}

/* ---- descriptors and mappings ---- */

static void test_dup_keeps_enclave(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	int fd2;

	(void)state;
	bf_create(p, e, NR_PAGES * PAGE);
	fd2 = softsgx_dup(p, e->fd);
	assert_true(fd2 >= 0 && fd2 != e->fd);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	assert_int_equal(softsgx_close(p, e->fd), -EBADF);
	assert_int_equal(softsgx_dup(p, e->fd), -EBADF);
	/* The same open file: building goes on through the copy. */
	e->fd = fd2;
	perm_pages(e);
	bf_sign(e);
	assert_int_equal(bf_init(e), 0);
	assert_int_equal(map_at(p, e, 0, NR_PAGES, PROT_READ), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_R), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(((uint8_t *)page_addr(e, PG_R))[7], 0x11);
	unmap(p, page_addr(e, 0), e->size);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_close_with_mapping_alive(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct softsgx_stats st, st2;
	void *addr;

	(void)state;
	build_perm_enclave(p, e, true);
	assert_int_equal(map_at(p, e, 0, NR_PAGES, PROT_READ), 0);
	softsgx_get_stats(p, &st);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	/* The VMA holds the file, and the file the enclave. */
	softsgx_get_stats(p, &st2);
	assert_int_equal(st2.in_use_pages, st.in_use_pages);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RX), PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(((uint8_t *)page_addr(e, PG_RX))[7], 0x33);
	/* The descriptor is gone for new calls. */
	addr = page_addr(e, PG_R);
	assert_int_equal(map(p, e->fd, &addr, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED), -EBADF);
	assert_int_equal(bf_init(e), -EBADF);
	/* Half unmapped: still alive. The rest: gone, every page free. */
	unmap(p, page_addr(e, 0), e->size / 2);
	softsgx_get_stats(p, &st2);
	assert_int_equal(st2.in_use_pages, st.in_use_pages);
	ek_assert_invariant(p);
	unmap(p, page_addr(e, NR_PAGES / 2), e->size / 2);
	bf_assert_all_free(p);
	bf_release(e);
	free(e);
	lg_platform_free(p);
}

static void test_mprotect_split_keeps_enclave(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();

	(void)state;
	build_perm_enclave(p, e, true);
	assert_int_equal(map_at(p, e, 0, NR_PAGES, PROT_READ), 0);
	/* Splitting the VMA in three: each piece holds the file. */
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RW), PAGE, PROT_RW), 0);
	assert_int_equal(nr_vmas(p), 3);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	unmap(p, page_addr(e, 0), PG_RW * PAGE);
	unmap(p, page_addr(e, PG_RW + 1), (NR_PAGES - 3) * PAGE);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_WRITE),
			 SOFTSGX_FAULT_RETRY);
	((uint8_t *)page_addr(e, PG_RW))[3] = 1;
	ek_assert_invariant(p);
	unmap(p, page_addr(e, PG_RW), PAGE);
	bf_assert_all_free(p);
	bf_release(e);
	free(e);
	lg_platform_free(p);
}

/*
 * Linux's change_protection(): a present page stays present with the new
 * protection, so the CPU's walk (sgx_translate) reports a write to it as a
 * protection fault (#PF error code 0x7), and a never-touched page stays not
 * present (0x6). PROT_NONE leaves nothing present (0x4 for a read).
 */
static void test_mprotect_keeps_present(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct bf_enclave *e = enclave_alloc();
	uint64_t rw, rwx;
	void *epc;

	(void)state;
	build_perm_enclave(p, e, true);
	rw = (uintptr_t)page_addr(e, PG_RW);
	rwx = (uintptr_t)page_addr(e, PG_RWX);
	assert_int_equal(map_at(p, e, 0, NR_PAGES, PROT_READ), 0);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RW), PAGE, PROT_RW), 0);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RWX), PAGE, PROT_RW), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_WRITE),
			 SOFTSGX_FAULT_RETRY);
	((uint8_t *)page_addr(e, PG_RW))[5] = 0x5A;

	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_R), 4 * PAGE, PROT_READ), 0);
	/* Still present: readable with no fault, a write is a protection fault. */
	assert_int_equal(((volatile uint8_t *)page_addr(e, PG_RW))[5], 0x5A);
	assert_int_equal(sgx_translate(k, rw, PROT_READ, &epc), 0);
	assert_int_equal(sgx_translate(k, rw, PROT_WRITE, &epc), -EACCES);
	/* Never faulted in: not present whatever the access. */
	assert_int_equal(sgx_translate(k, rwx, PROT_WRITE, &epc), -EFAULT);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RWX), PROT_WRITE),
			 SOFTSGX_FAULT_SIGSEGV);

	/* PROT_NONE: nothing present; back to RW: the fault maps it again. */
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RW), PAGE, PROT_NONE), 0);
	assert_int_equal(sgx_translate(k, rw, PROT_READ, &epc), -EFAULT);
	assert_int_equal(softsgx_mprotect(p, page_addr(e, PG_RW), PAGE, PROT_RW), 0);
	assert_int_equal(softsgx_handle_fault(p, page_addr(e, PG_RW), PROT_WRITE),
			 SOFTSGX_FAULT_RETRY);
	assert_int_equal(sgx_translate(k, rw, PROT_WRITE, &epc), 0);
	((uint8_t *)page_addr(e, PG_RW))[6] = 0xA5;
	assert_int_equal(((uint8_t *)page_addr(e, PG_RW))[5], 0x5A);
	ek_assert_invariant(p);
	unmap(p, page_addr(e, 0), e->size);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/* ---- the device files ---- */

static void test_open_paths(void **state)
{
	const char *bad[] = {
		"/dev/sgx", "/dev/sgx_enclave2", "/dev/sgx_vepc0", "/dev/isgx", "",
	};
	struct softsgx_platform *p = bf_platform(64);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(softsgx_open(p, bad[i], 0), -ENOENT);
	assert_int_equal(softsgx_open(p, NULL, 0), -EFAULT);
	assert_int_equal(softsgx_close(p, 3), -EBADF);
	assert_int_equal(softsgx_close(p, -1), -EBADF);
	bf_assert_all_free(p);
	lg_platform_free(p);
}

static void test_descriptor_table_full(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	int fds[2048], n = 0, last;

	(void)state;
	for (;;) {
		assert_true(n < (int)(sizeof(fds) / sizeof(fds[0])));
		fds[n] = softsgx_open(p, "/dev/sgx_provision", 0);
		if (fds[n] < 0)
			break;
		n++;
	}
	/* alloc_fd(): the table is full. */
	assert_int_equal(fds[n], -EMFILE);
	assert_true(n >= 3);
	assert_int_equal(softsgx_open(p, "/dev/sgx_enclave", 0), -EMFILE);
	assert_int_equal(softsgx_dup(p, fds[0]), -EMFILE);
	last = fds[n - 1];
	assert_int_equal(softsgx_close(p, last), 0);
	assert_int_equal(softsgx_dup(p, fds[0]), last);
	for (int i = 0; i < n; i++)
		assert_int_equal(softsgx_close(p, fds[i]), 0);
	bf_assert_all_free(p);
	lg_platform_free(p);
}

static void test_guest_has_no_vepc(void **state)
{
	struct softsgx_platform *host = bf_platform(64), *g;
	size_t size = 16 * PAGE;
	void *base = NULL;
	int vfd, fd;

	(void)state;
	vfd = softsgx_open(host, "/dev/sgx_vepc", 0);
	assert_true(vfd >= 0);
	assert_int_equal(map(host, vfd, &base, size, PROT_RW, MAP_SHARED), 0);
	g = lg_guest_boot(host, 1, &base, &size);
	assert_non_null(g);
	/* No nested virtualization: the guest's sgx_vepc_init() finds no VMX. */
	assert_int_equal(softsgx_open(g, "/dev/sgx_vepc", 0), -ENOENT);
	fd = softsgx_open(g, "/dev/sgx_enclave", 0);
	assert_true(fd >= 0);
	assert_int_equal(softsgx_close(g, fd), 0);
	lg_platform_free(g);
	assert_int_equal(softsgx_munmap(host, base, size), 0);
	assert_int_equal(softsgx_close(host, vfd), 0);
	bf_assert_all_free(host);
	lg_platform_free(host);
}

static void test_no_flc(void **state)
{
	struct bf_config cfg;
	struct softsgx_platform *p;
	int fd;

	(void)state;
	bf_default_config(&cfg, 64);
	cfg.flc = false;
	p = bf_platform_new(&cfg);
	/* sgx_drv_init() refuses without launch control: no /dev/sgx_enclave. */
	assert_int_equal(softsgx_open(p, "/dev/sgx_enclave", 0), -ENOENT);
	/* sgx_init() registers the others anyway (a VMM's guests may not need LC). */
	fd = softsgx_open(p, "/dev/sgx_provision", 0);
	assert_true(fd >= 0);
	assert_int_equal(softsgx_close(p, fd), 0);
	fd = softsgx_open(p, "/dev/sgx_vepc", 0);
	assert_true(fd >= 0);
	assert_int_equal(softsgx_close(p, fd), 0);
	bf_assert_all_free(p);
	lg_platform_free(p);
}

static void test_provision_file_has_no_ops(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct sgx_enclave_create create = { 0 };
	int fd = softsgx_open(p, "/dev/sgx_provision", 0);
	int fd2;
	void *addr = NULL;

	(void)state;
	assert_true(fd >= 0);
	/* No unlocked_ioctl: vfs_ioctl() says ENOTTY. */
	assert_int_equal(softsgx_ioctl(p, fd, SGX_IOC_ENCLAVE_CREATE, &create), -ENOTTY);
	assert_int_equal(softsgx_ioctl(p, fd, SGX_IOC_ENCLAVE_PROVISION, &create), -ENOTTY);
	assert_int_equal(softsgx_ioctl(p, fd, SGX_IOC_VEPC_REMOVE_ALL, NULL), -ENOTTY);
	/* No mmap: do_mmap() says ENODEV. */
	assert_int_equal(map(p, fd, &addr, PAGE, PROT_READ, MAP_SHARED), -ENODEV);
	assert_int_equal(map(p, fd, &addr, PAGE, PROT_READ, MAP_PRIVATE), -ENODEV);
	assert_int_equal(nr_vmas(p), 0);
	/* dup works like any file. */
	fd2 = softsgx_dup(p, fd);
	assert_true(fd2 >= 0);
	assert_int_equal(softsgx_close(p, fd), 0);
	assert_int_equal(softsgx_close(p, fd2), 0);
	bf_assert_all_free(p);
	lg_platform_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_mmap_flags_and_args),
		LG_TEST(test_mmap_prot_beyond_page_permissions),
		LG_TEST(test_mmap_outside_elrange),
		LG_TEST(test_prot_none_reservation_before_pages),
		LG_TEST(test_read_implies_exec),
		LG_TEST(test_map_fixed_noreplace),
		LG_TEST(test_mprotect_above_permissions),
		LG_TEST(test_mprotect_args_and_holes),
		LG_TEST(test_munmap_then_fault),
		LG_TEST(test_fault_access_kinds),
		LG_TEST(test_fault_sigbus),
		LG_TEST(test_fault_epc_exhausted),
		LG_TEST(test_dup_keeps_enclave),
		LG_TEST(test_close_with_mapping_alive),
		LG_TEST(test_mprotect_split_keeps_enclave),
		LG_TEST(test_mprotect_keeps_present),
		LG_TEST(test_open_paths),
		LG_TEST(test_descriptor_table_full),
		LG_TEST(test_guest_has_no_vepc),
		LG_TEST(test_no_flc),
		LG_TEST(test_provision_file_has_no_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
