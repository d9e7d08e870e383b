/* SPDX-License-Identifier: MIT */
/*
 * What the benchmarks of a platform's paging share (bench_reclaim,
 * bench_cgroup, bench_service): an ELRANGE base aligned to its size, the
 * SECS of a debug 64-bit enclave, source pages where page i starts with i
 * (the content checks), and the build of such an enclave, not initialized,
 * through the embedding API. Define BENCH_NAME (the prefix of messages)
 * before including it.
 */
#ifndef SOFTSGX_BENCH_PLATFORM_H
#define SOFTSGX_BENCH_PLATFORM_H

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_platform.h"
#endif

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/softsgx.h"

/* An ELRANGE base aligned to @size that is free right now; 0 when none. */
static inline uint64_t bench_free_base(uint64_t size)
{
	void *p =
		mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint64_t base;

	if (p == MAP_FAILED)
		return 0;
	base = ((uintptr_t)p + size - 1) & ~(size - 1);
	munmap(p, 2 * size);
	return base;
}

static inline void bench_secs_init(struct sgx_secs *secs, uint64_t base, uint64_t size)
{
	memset(secs, 0, sizeof(*secs));
	secs->base = base;
	secs->size = size;
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	secs->xfrm = 0x3;
}

/* @pages pages at @src: page i filled with its low byte and starting with i. */
static inline void bench_fill_pages(uint8_t *src, uint64_t pages)
{
	for (uint64_t i = 0; i < pages; i++) {
		memset(src + i * SGX_PAGE_SIZE, (int)(i & 0xFF), SGX_PAGE_SIZE);
		memcpy(src + i * SGX_PAGE_SIZE, &i, sizeof(i));
	}
}

static inline int bench_platform_fail(const char *what, long ret)
{
	fprintf(stderr, BENCH_NAME ": %s failed: %ld\n", what, ret);
	return 1;
}

/*
 * Open, ECREATE, EADD @pages REG RW pages (bench_fill_pages()), mmap the
 * ELRANGE read-write on @p: 0 with its base and descriptor, or 1 after a
 * message.
 */
static inline int bench_platform_build(struct softsgx_platform *p, uint64_t pages,
				       uint8_t **base_out, int *fd_out)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {
		.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
	};
	uint64_t size = pages * SGX_PAGE_SIZE;
	struct sgx_secs *secs = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	uint8_t *src = aligned_alloc(SGX_PAGE_SIZE, size);
	/* After the allocations: the range is free only until the next mmap. */
	uint64_t base = bench_free_base(size);
	struct sgx_enclave_create create;
	struct sgx_enclave_add_pages add;
	void *addr = (void *)(uintptr_t)base;
	int fd = -1, ret = 1;
	long err;

	if (!secs || !src || !base) {
		bench_platform_fail("allocation", -ENOMEM);
		goto out;
	}
	bench_secs_init(secs, base, size);
	bench_fill_pages(src, pages);
	fd = softsgx_open(p, "/dev/sgx_enclave", 0);
	if (fd < 0) {
		bench_platform_fail("open", fd);
		goto out;
	}
	create.src = (uintptr_t)secs;
	err = softsgx_ioctl(p, fd, SGX_IOC_ENCLAVE_CREATE, &create);
	if (err) {
		bench_platform_fail("ENCLAVE_CREATE", err);
		goto out;
	}
	add = (struct sgx_enclave_add_pages){
		.src = (uintptr_t)src,
		.length = size,
		.secinfo = (uintptr_t)&secinfo,
	};
	err = softsgx_ioctl(p, fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add);
	if (err) {
		bench_platform_fail("ENCLAVE_ADD_PAGES", err);
		goto out;
	}
	err = softsgx_mmap(p, &addr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (err) {
		bench_platform_fail("mmap", err);
		goto out;
	}
	*base_out = addr;
	*fd_out = fd;
	ret = 0;
out:
	free(src);
	free(secs);
	return ret;
}

#endif /* SOFTSGX_BENCH_PLATFORM_H */
