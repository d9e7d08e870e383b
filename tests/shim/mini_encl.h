/* SPDX-License-Identifier: MIT */
/*
 * Small enclaves built by hand through the SGX ioctls, as a program with no
 * loader library builds them: ELRANGE at a naturally aligned address,
 * ECREATE, pages added and measured one at a time, a SIGSTRUCT signed with
 * SOFTSGX_TEST_KEY. Each step returns 0 or -1 rather than asserting, so that
 * a fork() child, where cmocka is not, can use them too. The caller keeps
 * the page contents, the TCS layout and the EINIT.
 */
#ifndef SOFTSGX_TESTS_MINI_ENCL_H
#define SOFTSGX_TESTS_MINI_ENCL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "lib/sigstruct_sign.h"
#include "measure.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"

/*
 * A free range of @size bytes (a power of two) aligned to @size, as SECS
 * requires. It stays reserved (PROT_NONE) until the enclave's MAP_FIXED
 * replaces it; with @release it is given back at once, the enclave's
 * mmap(MAP_FIXED) taking it again after ECREATE. NULL on failure.
 */
static inline uint8_t *mini_encl_reserve(uint64_t size, bool release)
{
	uint8_t *area = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *base;

	if (area == MAP_FAILED)
		return NULL;
	base = (uint8_t *)(((uintptr_t)area + size - 1) & ~(size - 1));
	if (base > area)
		munmap(area, (size_t)(base - area));
	munmap(base + size, (size_t)(area + size - base));
	if (release)
		munmap(base, size);
	return base;
}

/*
 * ECREATE on @fd: @size bytes at @base, one SSA page per frame, @attributes
 * and XFRM x87|SSE; @m starts the matching measurement.
 */
static inline int mini_encl_create(int fd, const uint8_t *base, uint64_t size,
				   uint64_t attributes, struct sgx_measurement *m)
{
	static struct sgx_secs secs;
	struct sgx_enclave_create create = { .src = (uintptr_t)&secs };

	memset(&secs, 0, sizeof(secs));
	secs.base = (uintptr_t)base;
	secs.size = size;
	secs.ssa_frame_size = 1;
	secs.attributes = attributes;
	secs.xfrm = 3;
	if (ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create))
		return -1;
	sgx_measure_ecreate(m, 1, size);
	return 0;
}

/* EADD the page @src (page-aligned) at @offset with SECINFO @flags, measured into @m. */
static inline int mini_encl_add(int fd, uint64_t offset, uint64_t flags, const uint8_t *src,
				struct sgx_measurement *m)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { .flags = flags };
	struct sgx_enclave_add_pages a = {
		.src = (uintptr_t)src,
		.offset = offset,
		.length = SGX_PAGE_SIZE,
		.secinfo = (uintptr_t)&secinfo,
		.flags = SGX_PAGE_MEASURE,
	};

	if (ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a) || a.count != SGX_PAGE_SIZE)
		return -1;
	sgx_measure_eadd(m, offset, &secinfo);
	for (unsigned int c = 0; c < SGX_PAGE_SIZE; c += SGX_EEXTEND_CHUNK)
		sgx_measure_eextend(m, offset + c, src + c);
	return 0;
}

/* MRENCLAVE from @m into @desc, then @desc signed with SOFTSGX_TEST_KEY into @sig. */
static inline int mini_encl_sign(struct sgx_sign_enclave *desc, const struct sgx_measurement *m,
				 struct sgx_sigstruct *sig)
{
	EVP_PKEY *key = NULL;
	int ret;

	sgx_measure_final(m, desc->mrenclave);
	if (sgx_sign_load_key(getenv("SOFTSGX_TEST_KEY"), &key))
		return -1;
	ret = sgx_sign_sigstruct(desc, key, sig);
	EVP_PKEY_free(key);
	return ret ? -1 : 0;
}

#endif /* SOFTSGX_TESTS_MINI_ENCL_H */
