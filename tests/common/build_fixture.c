// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "tests/common/build_fixture.h"
#include "tests/common/leak_guard.h"
#include "tests/common/encl_fixture.h"
#include "tools/lib/sigstruct_sign.h"
#include "softsgx/sgx_uapi.h"
#include "tests/common/test_keys.h"

void bf_default_config(struct bf_config *cfg, uint64_t pages)
{
	cfg->pages = pages;
	cfg->no_ksgxd = false;
	cfg->sgx2 = false;
	cfg->flc = true;
}

struct softsgx_platform *bf_platform_new(const struct bf_config *bc)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = bc->pages * SGX_PAGE_SIZE;
	cfg.no_ksgxd = bc->no_ksgxd;
	cfg.sgx2 = bc->sgx2;
	cfg.flc = bc->flc;
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

struct softsgx_platform *bf_platform(uint64_t pages)
{
	struct bf_config cfg;

	bf_default_config(&cfg, pages);
	return bf_platform_new(&cfg);
}

uint64_t bf_reserve(uint64_t size)
{
	uint8_t *m = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	uint64_t base, head, tail;

	assert_true(m != MAP_FAILED);
	base = ((uintptr_t)m + size - 1) & ~(size - 1);
	head = base - (uintptr_t)m;
	tail = 2 * size - head - size;
	if (head)
		assert_int_equal(munmap(m, head), 0);
	if (tail)
		assert_int_equal(munmap((void *)(uintptr_t)(base + size), tail), 0);
	return base;
}

void bf_rereserve(void *addr, uint64_t len)
{
	void *m = mmap(addr, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);

	assert_ptr_equal(m, addr);
}

void bf_open(struct softsgx_platform *p, struct bf_enclave *e, uint64_t size)
{
	memset(e, 0, offsetof(struct bf_enclave, sigstruct));
	e->p = p;
	e->size = size;
	e->base = bf_reserve(size);
	e->fd = softsgx_open(p, "/dev/sgx_enclave", 0);
	assert_true(e->fd >= 0);
}

void bf_release(struct bf_enclave *e)
{
	munmap((void *)(uintptr_t)e->base, e->size);
}

struct sgx_secs *bf_secs(const struct bf_enclave *e, uint64_t attributes)
{
	struct sgx_secs *secs = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);

	assert_non_null(secs);
	ek_secs(secs, e->base, e->size);
	secs->attributes = attributes;
	return secs;
}

long bf_create_attr(struct bf_enclave *e, uint64_t attributes)
{
	struct sgx_secs *secs = bf_secs(e, attributes);
	struct sgx_enclave_create create = { .src = (uintptr_t)secs };
	long ret = softsgx_ioctl(e->p, e->fd, SGX_IOC_ENCLAVE_CREATE, &create);

	if (!ret) {
		e->attributes = attributes;
		sgx_measure_ecreate(&e->m, secs->ssa_frame_size, secs->size);
	}
	free(secs);
	return ret;
}

void bf_create(struct softsgx_platform *p, struct bf_enclave *e, uint64_t size)
{
	bf_open(p, e, size);
	assert_int_equal(bf_create_attr(e, BF_ATTRIBUTES), 0);
}

long bf_add(struct bf_enclave *e, const void *src, uint64_t offset, uint64_t nr,
	    uint64_t secinfo_flags, bool measure, uint64_t *count)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { .flags = secinfo_flags };
	struct sgx_enclave_add_pages add = {
		.src = (uintptr_t)src,
		.offset = offset,
		.length = nr * SGX_PAGE_SIZE,
		.secinfo = (uintptr_t)&secinfo,
		.flags = measure ? SGX_PAGE_MEASURE : 0,
		.count = 0xdeadbeef,
	};
	long ret = softsgx_ioctl(e->p, e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add);

	if (count)
		*count = add.count;
	/* Only what the kernel says it added went into MRENCLAVE. */
	if (add.count != 0xdeadbeef) {
		for (uint64_t o = 0; o < add.count; o += SGX_PAGE_SIZE) {
			sgx_measure_eadd(&e->m, offset + o, &secinfo);
			if (!measure)
				continue;
			for (unsigned int c = 0; c < SGX_PAGE_SIZE; c += SGX_EEXTEND_CHUNK)
				sgx_measure_eextend(&e->m, offset + o + c,
						    (const uint8_t *)src + o + c);
		}
	}
	return ret;
}

void bf_add_page(struct bf_enclave *e, uint64_t offset, uint64_t secinfo_flags, uint8_t fill)
{
	uint8_t *buf = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	uint64_t count;

	assert_non_null(buf);
	memset(buf, fill, SGX_PAGE_SIZE);
	assert_int_equal(bf_add(e, buf, offset, 1, secinfo_flags, true, &count), 0);
	assert_int_equal(count, SGX_PAGE_SIZE);
	free(buf);
}

void bf_add_tcs(struct bf_enclave *e, uint64_t offset)
{
	struct sgx_tcs *tcs = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	uint64_t count;

	assert_non_null(tcs);
	memset(tcs, 0, sizeof(*tcs));
	tcs->ssa_offset = offset + SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = offset + SGX_PAGE_SIZE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	assert_int_equal(bf_add(e, tcs, offset, 1, SGX_SECINFO_TCS, true, &count), 0);
	assert_int_equal(count, SGX_PAGE_SIZE);
	free(tcs);
}

void bf_sign(struct bf_enclave *e)
{
	struct sgx_sign_enclave desc = {
		.attributes = e->attributes,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 0x3,
		.xfrm_mask = 0x3,
		.date = 0x20261122,
	};
	EVP_PKEY *key = test_key();

	sgx_measure_final(&e->m, desc.mrenclave);
	assert_int_equal(sgx_sign_sigstruct(&desc, key, &e->sigstruct), 0);
	EVP_PKEY_free(key);
}

long bf_init(struct bf_enclave *e)
{
	struct sgx_enclave_init init = { .sigstruct = (uintptr_t)&e->sigstruct };

	return softsgx_ioctl(e->p, e->fd, SGX_IOC_ENCLAVE_INIT, &init);
}

uint64_t bf_free_pages(struct softsgx_platform *p)
{
	struct softsgx_stats st;

	softsgx_get_stats(p, &st);
	return st.free_pages;
}

void bf_assert_all_free(struct softsgx_platform *p)
{
	struct softsgx_stats st;

	/*
	 * A page ksgxd has isolated in a batch keeps its enclave alive until
	 * the batch ends (Linux's reclaimer holds a reference on the enclave
	 * for it), so the release after the last close may finish a moment
	 * later, on ksgxd's thread. Wait for that, boundedly.
	 */
	for (int ms = 0; ms < 5000; ms++) {
		softsgx_get_stats(p, &st);
		if (!st.in_use_pages)
			break;
		usleep(1000);
	}
	ek_assert_invariant(p);
	softsgx_get_stats(p, &st);
	assert_int_equal(st.in_use_pages, 0);
	assert_int_equal(st.free_pages, st.total_pages);
}
