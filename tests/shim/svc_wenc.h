/* SPDX-License-Identifier: MIT */
/*
 * The worker side of the service shim tests (tests/shim/svc_worker.h runs
 * the workers): a debug enclave built the ordinary way through
 * /dev/sgx_enclave (a TCS, then pages of a known pattern), mapped, read and
 * written from outside. A failed check says where on stderr and exits 3.
 * Include once per program, after tests/shim/mini_encl.h.
 */
#ifndef SOFTSGX_TESTS_SVC_WENC_H
#define SOFTSGX_TESTS_SVC_WENC_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/shim/mini_encl.h"

#define PAGE 4096ul

/* ================= the worker: runs under the shim ================= */

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "worker %d: check failed at line %d: %s (errno %d)\n",     \
				(int)getpid(), __LINE__, #x, errno);                               \
			_exit(3);                                                                  \
		}                                                                                  \
	} while (0)

struct wenc {
	int fd;
	uint8_t *base;
	uint64_t size, nr; /* nr regular pages, at pages 1..nr */
};

static uint8_t wpage[PAGE] __attribute__((aligned(4096)));
static struct sgx_sigstruct wsig __attribute__((aligned(4096)));

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(0x11 + i * 7);
}

/* A debug enclave: a TCS, then @nr RW pages, page i starting with i and filled with pattern(i). */
static void wbuild(struct wenc *e, uint64_t nr)
{
	struct sgx_sign_enclave desc = {
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 3,
		.xfrm_mask = 3,
		.date = 0x20261206,
	};
	struct sgx_enclave_init init = {.sigstruct = (uintptr_t)&wsig};
	struct sgx_tcs *tcs = (struct sgx_tcs *)wpage;
	struct sgx_measurement m;
	uint64_t size = 2 * PAGE;

	while (size < (nr + 1) * PAGE)
		size *= 2;
	e->nr = nr;
	e->size = size;
	e->base = mini_encl_reserve(size, false);
	CHECK(e->base);
	e->fd = open("/dev/sgx_enclave", O_RDWR);
	CHECK(e->fd >= 0);
	CHECK(!mini_encl_create(e->fd, e->base, size, desc.attributes, &m));
	memset(wpage, 0, PAGE);
	tcs->ssa_offset = PAGE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = PAGE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	CHECK(!mini_encl_add(e->fd, 0, SGX_SECINFO_TCS, wpage, &m));
	for (uint64_t i = 1; i <= nr; i++) {
		memset(wpage, pattern(i), PAGE);
		memcpy(wpage, &i, sizeof(i));
		CHECK(!mini_encl_add(e->fd, i * PAGE, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
				     wpage, &m));
	}
	CHECK(!mini_encl_sign(&desc, &m, &wsig));
	CHECK(!ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init));
	CHECK(mmap(e->base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e->fd, 0) ==
	      e->base);
}

static void wfree(struct wenc *e)
{
	CHECK(!munmap(e->base, e->size));
	CHECK(!close(e->fd));
}

/* Page i holds what round @round wrote (0: as added). */
static void wcheck(const struct wenc *e, uint64_t round)
{
	for (uint64_t i = 1; i <= e->nr; i++) {
		const volatile uint8_t *p = e->base + i * PAGE;
		uint64_t head;

		memcpy(&head, (const void *)p, sizeof(head));
		CHECK(head == i + (round << 32));
		CHECK(p[100] == pattern(i) && p[PAGE - 1] == pattern(i));
	}
}

static void wwrite(struct wenc *e, uint64_t round)
{
	for (uint64_t i = 1; i <= e->nr; i++) {
		uint64_t head = i + (round << 32);

		memcpy(e->base + i * PAGE, &head, sizeof(head));
	}
}

#endif /* SOFTSGX_TESTS_SVC_WENC_H */
