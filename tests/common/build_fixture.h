/* SPDX-License-Identifier: MIT */
/*
 * Step-by-step enclave building for the uAPI tests (test_ioctl, test_mmap):
 * unlike encl_fixture.h, every step returns what the ioctl returned, the
 * attributes and page permissions are the test's choice, and the running
 * MRENCLAVE follows exactly the pages the kernel says it added, so a test
 * can prove which pages went in by signing and initializing the result.
 */
#ifndef SOFTSGX_BUILD_FIXTURE_H
#define SOFTSGX_BUILD_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/measure.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/softsgx.h"

struct bf_config {
	uint64_t pages; /* one EPC section of this many pages */
	bool no_ksgxd;
	bool sgx2;
	bool flc;
};

/* SGX1 only (tests that need SGX2 set .sgx2), FLC, ksgxd on, and @pages EPC pages. */
void bf_default_config(struct bf_config *cfg, uint64_t pages);
struct softsgx_platform *bf_platform_new(const struct bf_config *cfg);
/* A default platform with one section of @pages pages. */
struct softsgx_platform *bf_platform(uint64_t pages);

struct bf_enclave {
	struct softsgx_platform *p;
	int fd;
	uint64_t base, size;
	uint64_t attributes; /* SECS.ATTRIBUTES; also what bf_sign() signs */
	struct sgx_measurement m;
	struct sgx_sigstruct sigstruct __attribute__((aligned(4096)));
};

/* The attributes fixture enclaves have unless a test says otherwise. */
#define BF_ATTRIBUTES (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT)

/*
 * Address space for tests that map at fixed addresses. A range that was free
 * a moment ago may be taken by the next malloc (ASan's allocator and stack
 * depot mmap as they grow), and a MAP_FIXED over it would destroy that
 * memory. So ranges are held by a PROT_NONE anonymous mapping while a test
 * owns them: MAP_FIXED over one's own reservation is safe.
 */
/* A reserved range of @size bytes aligned to @size (a power of two). */
uint64_t bf_reserve(uint64_t size);
/* Take [@addr, @addr + @len) back after an munmap; asserts nobody took it meanwhile. */
void bf_rereserve(void *addr, uint64_t len);

/* Open /dev/sgx_enclave; reserve an ELRANGE of @size bytes. No ioctl yet. */
void bf_open(struct softsgx_platform *p, struct bf_enclave *e, uint64_t size);
/* Give the ELRANGE reservation back (after every SGX mapping there is gone). */
void bf_release(struct bf_enclave *e);
/* A SECS page (aligned_alloc'ed, free() it) for @e with @attributes. */
struct sgx_secs *bf_secs(const struct bf_enclave *e, uint64_t attributes);
/* ENCLAVE_CREATE with @attributes; returns the ioctl result, measures on success. */
long bf_create_attr(struct bf_enclave *e, uint64_t attributes);
/* bf_open + bf_create_attr(BF_ATTRIBUTES), asserting success. */
void bf_create(struct softsgx_platform *p, struct bf_enclave *e, uint64_t size);

/*
 * ENCLAVE_ADD_PAGES of @nr pages at @offset from @src with one SECINFO of
 * @secinfo_flags. Returns the ioctl's result; *@count (may be NULL) gets the
 * count field. The measurement takes the pages count says were added.
 */
long bf_add(struct bf_enclave *e, const void *src, uint64_t offset, uint64_t nr,
	    uint64_t secinfo_flags, bool measure, uint64_t *count);
/* One page at @offset filled with @fill, asserting success. */
void bf_add_page(struct bf_enclave *e, uint64_t offset, uint64_t secinfo_flags, uint8_t fill);
/* A valid TCS at @offset (SSA right behind it), asserting success. */
void bf_add_tcs(struct bf_enclave *e, uint64_t offset);

/* SIGSTRUCT for the measurement so far and e->attributes, test key, mask ~INIT. */
void bf_sign(struct bf_enclave *e);
/* ENCLAVE_INIT with e->sigstruct. */
long bf_init(struct bf_enclave *e);

/* Every EPC page free again and the invariant holds. */
void bf_assert_all_free(struct softsgx_platform *p);
uint64_t bf_free_pages(struct softsgx_platform *p);

#endif /* SOFTSGX_BUILD_FIXTURE_H */
