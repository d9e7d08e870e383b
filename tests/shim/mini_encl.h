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

#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
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

/*
 * The small layout test_enclave_exec and test_model_fds share, added and
 * measured into @m: page 0 the TCS (entry at page 1, two SSA frames at
 * pages 3-4, FS and GS at page 5); page 1 @code, int3 around it; pages 2-4
 * zero; page 5 starting with @fs_marker; then @nr_extra pages of 0x77 from
 * page @first_extra.
 */
static inline int mini_encl_add_layout(int fd, const uint8_t *code, size_t code_len,
				       uint64_t fs_marker, uint64_t first_extra,
				       uint64_t nr_extra, struct sgx_measurement *m)
{
	static uint8_t page[SGX_PAGE_SIZE] __attribute__((aligned(4096)));
	struct sgx_tcs *tcs = (struct sgx_tcs *)page;
	const uint64_t rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	int ret = 0;

	memset(page, 0, sizeof(page));
	tcs->ssa_offset = 3 * SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 2;
	tcs->entry_offset = SGX_PAGE_SIZE;
	tcs->fs_offset = 5 * SGX_PAGE_SIZE;
	tcs->gs_offset = 5 * SGX_PAGE_SIZE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	ret |= mini_encl_add(fd, 0, SGX_SECINFO_TCS, page, m);
	memset(page, 0xCC, sizeof(page)); /* int3 filler */
	memcpy(page, code, code_len);
	ret |= mini_encl_add(fd, SGX_PAGE_SIZE, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X,
			     page, m);
	memset(page, 0, sizeof(page));
	for (uint64_t p = 2; p <= 4; p++)
		ret |= mini_encl_add(fd, p * SGX_PAGE_SIZE, rw, page, m);
	memcpy(page, &fs_marker, sizeof(fs_marker));
	ret |= mini_encl_add(fd, 5 * SGX_PAGE_SIZE, rw, page, m);
	memset(page, 0x77, sizeof(page));
	for (uint64_t i = 0; i < nr_extra; i++)
		ret |= mini_encl_add(fd, (first_extra + i) * SGX_PAGE_SIZE, rw, page, m);
	return ret ? -1 : 0;
}

/* That layout's mappings over the @size bytes at @base: TCS RW, code RX, the rest RW. */
static inline int mini_encl_map_layout(int fd, uint8_t *base, uint64_t size)
{
	if (mmap(base, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) !=
		    base ||
	    mmap(base + SGX_PAGE_SIZE, SGX_PAGE_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED,
		 fd, 0) != base + SGX_PAGE_SIZE ||
	    mmap(base + 2 * SGX_PAGE_SIZE, size - 2 * SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0) != base + 2 * SGX_PAGE_SIZE)
		return -1;
	return 0;
}

/* A vDSO user handler for these enclaves, which answer in RDX: it into *user_data. */
static inline int mini_encl_keep_rdx(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
				     struct sgx_enclave_run *run)
{
	(void)rdi, (void)rsi, (void)rsp, (void)r8, (void)r9;
	*(long *)(uintptr_t)run->user_data = rdx;
	return 0;
}

#endif /* SOFTSGX_TESTS_MINI_ENCL_H */
