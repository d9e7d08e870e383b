// SPDX-License-Identifier: MIT
/*
 * The ioctls of /dev/sgx_enclave through softsgx_ioctl(): success, every
 * error upstream Linux returns with its exact errno, and ADD_PAGES' partial
 * progress (count, and the pages really being in the enclave: a SIGSTRUCT
 * over exactly the reported pages must EINIT). docs/errno.md maps each
 * failure to the test here that checks it.
 */
#define _GNU_SOURCE /* process_vm_readv */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "tests/common/build_fixture.h"
#include "kernel/encl.h"
#include "kernel/uaccess.h"
#include "tests/common/encl_fixture.h"
#include "hw/hw.h"
#include "tools/lib/sigstruct_sign.h"
#include "softsgx/sgx_uapi.h"
#include "tests/common/test_keys.h"
#include "tests/common/leak_guard.h"

#define PAGE SGX_PAGE_SIZE
#define RW (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W)

/* Copies made through plain_copy() (the "_plain" tests, at the end). */
static _Atomic unsigned long plain_copies;

/* An address that is never mapped: the kernel's copies must give EFAULT. */
#define WILD ((void *)16)

static struct bf_enclave *enclave_alloc(void)
{
	struct bf_enclave *e = aligned_alloc(4096, sizeof(*e));

	assert_non_null(e);
	return e;
}

static void *pages_alloc(uint64_t nr, uint8_t fill)
{
	uint8_t *buf = aligned_alloc(PAGE, nr * PAGE);

	assert_non_null(buf);
	for (uint64_t i = 0; i < nr; i++) {
		memset(buf + i * PAGE, fill + (uint8_t)i, PAGE);
		memcpy(buf + i * PAGE, &i, sizeof(i));
	}
	return buf;
}

/*
 * Two pages, the second one inaccessible (PROT_NONE rather than unmapped, so
 * that no allocation can move in there). munmap() both when done.
 */
static uint8_t *half_mapped(void)
{
	uint8_t *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			  0);

	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + PAGE, PAGE, PROT_NONE), 0);
	return m;
}

static void close_all(struct softsgx_platform *p, struct bf_enclave *e)
{
	ek_assert_invariant(p);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	bf_assert_all_free(p);
	bf_release(e);
}

static long add_raw(struct bf_enclave *e, struct sgx_enclave_add_pages *add)
{
	return softsgx_ioctl(e->p, e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, add);
}

/* A complete small enclave: TCS at 0, @nr_reg RW pages after it, signed. */
static void build_signed(struct softsgx_platform *p, struct bf_enclave *e, uint64_t nr_reg)
{
	uint64_t size = 2 * PAGE;

	while (size < (nr_reg + 2) * PAGE)
		size *= 2;
	bf_create(p, e, size);
	bf_add_tcs(e, 0);
	for (uint64_t i = 0; i < nr_reg; i++)
		bf_add_page(e, (i + 1) * PAGE, RW, (uint8_t)(0x40 + i));
	bf_sign(e);
}

/* Sign @desc as it is, MRENCLAVE included. */
static void sign_raw(struct bf_enclave *e, const struct sgx_sign_enclave *desc)
{
	EVP_PKEY *key = test_key();

	assert_int_equal(sgx_sign_sigstruct(desc, key, &e->sigstruct), 0);
	EVP_PKEY_free(key);
}

/* Sign @desc for the enclave's measurement so far. */
static void sign_desc(struct bf_enclave *e, struct sgx_sign_enclave *desc)
{
	sgx_measure_final(&e->m, desc->mrenclave);
	sign_raw(e, desc);
}

static void default_desc(struct bf_enclave *e, struct sgx_sign_enclave *desc)
{
	memset(desc, 0, sizeof(*desc));
	desc->attributes = e->attributes;
	desc->attributes_mask = ~(uint64_t)SGX_ATTR_INIT;
	desc->xfrm = 0x3;
	desc->xfrm_mask = 0x3;
	desc->date = 0x20261122;
}

/* ---- SGX_IOC_ENCLAVE_CREATE ---- */

static void test_create_success_and_twice(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct softsgx_stats st;

	(void)state;
	bf_create(p, e, 4 * PAGE);
	softsgx_get_stats(p, &st);
	assert_int_equal(st.in_use_pages, 2); /* the SECS and its first VA page */
	/* sgx_ioc_enclave_create(): SGX_ENCL_CREATED already set. */
	assert_int_equal(bf_create_attr(e, BF_ATTRIBUTES), -EINVAL);
	softsgx_get_stats(p, &st);
	assert_int_equal(st.in_use_pages, 2);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_create_efault(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_enclave_create create;
	uint8_t *half = half_mapped();
	struct sgx_secs *secs;

	(void)state;
	bf_open(p, e, 4 * PAGE);
	/* The argument itself. */
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_CREATE, NULL), -EFAULT);
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_CREATE, WILD), -EFAULT);
	/* The argument straddling into an unmapped page. */
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_CREATE, half + PAGE - 4),
			 -EFAULT);
	/* The SECS source: wild, NULL, and 4096 bytes that run into a hole. */
	create.src = (uintptr_t)WILD;
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_CREATE, &create), -EFAULT);
	create.src = 0;
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_CREATE, &create), -EFAULT);
	secs = bf_secs(e, BF_ATTRIBUTES);
	memcpy(half, secs, PAGE);
	create.src = (uintptr_t)half + 8;
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_CREATE, &create), -EFAULT);
	bf_assert_all_free(p);
	/* Nothing was created: the same descriptor still can. */
	create.src = (uintptr_t)secs;
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_CREATE, &create), 0);
	free(secs);
	munmap(half, 2 * PAGE);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static long create_with(struct bf_enclave *e, void (*edit)(struct sgx_secs *secs))
{
	struct sgx_secs *secs = bf_secs(e, BF_ATTRIBUTES);
	struct sgx_enclave_create create = { .src = (uintptr_t)secs };
	long ret;

	edit(secs);
	ret = softsgx_ioctl(e->p, e->fd, SGX_IOC_ENCLAVE_CREATE, &create);
	free(secs);
	return ret;
}

static void size_three_pages(struct sgx_secs *s)
{
	s->size = 3 * PAGE;
}

static void size_zero(struct sgx_secs *s)
{
	s->size = 0;
}

static void size_top_bit_plus(struct sgx_secs *s)
{
	s->size = (1ULL << 63) | PAGE;
}

static void attr_reserved_bit(struct sgx_secs *s)
{
	s->attributes |= 0x8;
}

static void attr_init(struct sgx_secs *s)
{
	s->attributes |= SGX_ATTR_INIT;
}

static void base_misaligned(struct sgx_secs *s)
{
	s->base += PAGE;
}

static void size_one_page(struct sgx_secs *s)
{
	s->size = PAGE;
}

static void xfrm_no_sse(struct sgx_secs *s)
{
	s->xfrm = 0x1;
}

static void ssa_zero(struct sgx_secs *s)
{
	s->ssa_frame_size = 0;
}

static void reserved_bytes(struct sgx_secs *s)
{
	s->reserved4[100] = 1;
}

static void test_create_einval_size(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();

	(void)state;
	bf_open(p, e, 4 * PAGE);
	/* sgx_encl_create(): !is_power_of_2(secs->size), before any allocation. */
	assert_int_equal(create_with(e, size_three_pages), -EINVAL);
	assert_int_equal(create_with(e, size_zero), -EINVAL);
	assert_int_equal(create_with(e, size_top_bit_plus), -EINVAL);
	bf_assert_all_free(p);
	assert_int_equal(bf_create_attr(e, BF_ATTRIBUTES), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_create_ecreate_refuses_eio(void **state)
{
	void (*edits[])(struct sgx_secs *) = {
		attr_reserved_bit, attr_init, base_misaligned, size_one_page,
		xfrm_no_sse,	   ssa_zero,  reserved_bytes,
	};
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();

	(void)state;
	bf_open(p, e, 4 * PAGE);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		/* sgx_encl_create(): ECREATE failed; VA page, backing and SECS undone. */
		assert_int_equal(create_with(e, edits[i]), -EIO);
		bf_assert_all_free(p);
	}
	assert_int_equal(bf_create_attr(e, BF_ATTRIBUTES), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/* A platform without ksgxd: nothing but the test ever reclaims. */
static struct softsgx_platform *quiet_platform(uint64_t pages)
{
	struct bf_config cfg;

	bf_default_config(&cfg, pages);
	cfg.no_ksgxd = true;
	return bf_platform_new(&cfg);
}

static void test_create_enomem(void **state)
{
	struct bf_enclave *e1 = enclave_alloc(), *e2 = enclave_alloc(), *e3 = enclave_alloc();
	struct softsgx_platform *p;

	(void)state;
	/* Five pages: two enclaves take four (SECS + VA each), one stays free. */
	p = quiet_platform(5);
	bf_create(p, e1, 4 * PAGE);
	bf_create(p, e2, 4 * PAGE);
	assert_int_equal(bf_free_pages(p), 1);
	bf_open(p, e3, 4 * PAGE);
	/* The VA page takes the last page; the SECS finds none and nothing to reclaim. */
	assert_int_equal(bf_create_attr(e3, BF_ATTRIBUTES), -ENOMEM);
	assert_int_equal(bf_free_pages(p), 1);
	ek_assert_invariant(p);
	/* Room again: the same descriptor creates. */
	assert_int_equal(softsgx_close(p, e2->fd), 0);
	assert_int_equal(bf_create_attr(e3, BF_ATTRIBUTES), 0);
	assert_int_equal(softsgx_close(p, e3->fd), 0);
	close_all(p, e1);
	lg_platform_free(p);

	/* Four pages: full, so the VA page already fails. */
	p = quiet_platform(4);
	bf_create(p, e1, 4 * PAGE);
	bf_create(p, e2, 4 * PAGE);
	assert_int_equal(bf_free_pages(p), 0);
	bf_open(p, e3, 4 * PAGE);
	assert_int_equal(bf_create_attr(e3, BF_ATTRIBUTES), -ENOMEM);
	ek_assert_invariant(p);
	assert_int_equal(softsgx_close(p, e3->fd), 0);
	assert_int_equal(softsgx_close(p, e2->fd), 0);
	close_all(p, e1);
	lg_platform_free(p);
	free(e1);
	free(e2);
	free(e3);
}

/* ---- SGX_IOC_ENCLAVE_ADD_PAGES ---- */

static void test_add_before_create_after_init(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	uint8_t *buf = pages_alloc(1, 0x11);
	uint64_t count;

	(void)state;
	bf_open(p, e, 8 * PAGE);
	assert_int_equal(bf_add(e, buf, 0, 1, RW, true, &count), -EINVAL);
	assert_int_equal(count, 0xdeadbeef); /* returned before anything was copied back */
	assert_int_equal(bf_create_attr(e, BF_ATTRIBUTES), 0);
	bf_add_tcs(e, 0);
	bf_sign(e);
	assert_int_equal(bf_init(e), 0);
	assert_int_equal(bf_add(e, buf, PAGE, 1, RW, true, &count), -EINVAL);
	assert_int_equal(count, 0xdeadbeef);
	free(buf);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_add_einval_params(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { .flags = RW };
	uint8_t *buf = pages_alloc(2, 0x22);
	struct sgx_enclave_add_pages good = {
		.src = (uintptr_t)buf,
		.offset = PAGE,
		.length = PAGE,
		.secinfo = (uintptr_t)&secinfo,
		.flags = SGX_PAGE_MEASURE,
	};
	struct {
		uint64_t src_delta, offset, length;
	} bad[] = {
		{ 1, PAGE, PAGE },	     /* src not page aligned */
		{ 2048, PAGE, PAGE },	     /* src not page aligned */
		{ 0, PAGE + 8, PAGE },	     /* offset not page aligned */
		{ 0, PAGE, PAGE + 1 },	     /* length not page aligned */
		{ 0, PAGE, 100 },	     /* length not page aligned */
		{ 0, PAGE, 0 },		     /* zero length */
		{ 0, -PAGE, 2 * PAGE },	     /* offset + length wraps */
		{ 0, 8 * PAGE, PAGE },	     /* beyond ELRANGE */
		{ 0, 7 * PAGE, 2 * PAGE },   /* runs past the end of ELRANGE */
		{ 0, 1ULL << 40, PAGE },     /* far beyond ELRANGE */
	};

	(void)state;
	bf_create(p, e, 8 * PAGE);
	ek_assert_invariant(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sgx_enclave_add_pages add = good;

		add.src += bad[i].src_delta;
		add.offset = bad[i].offset;
		add.length = bad[i].length;
		add.count = 0xdeadbeef;
		assert_int_equal(add_raw(e, &add), -EINVAL);
		assert_int_equal(add.count, 0xdeadbeef);
	}
	/* The argument and the SECINFO pointer. */
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, NULL), -EFAULT);
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, WILD), -EFAULT);
	{
		struct sgx_enclave_add_pages add = good;

		add.secinfo = (uintptr_t)WILD;
		assert_int_equal(add_raw(e, &add), -EFAULT);
		add.secinfo = 0;
		assert_int_equal(add_raw(e, &add), -EFAULT);
	}
	/* Nothing got in: only the SECS and the VA page are in use. */
	{
		struct softsgx_stats st;

		softsgx_get_stats(p, &st);
		assert_int_equal(st.in_use_pages, 2);
	}
	/* The good one goes through. */
	good.count = 0;
	assert_int_equal(add_raw(e, &good), 0);
	assert_int_equal(good.count, PAGE);
	free(buf);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_add_einval_secinfo(void **state)
{
	uint64_t bad_flags[] = {
		SGX_SECINFO_SECS | SGX_SECINFO_R,
		SGX_SECINFO_VA,
		SGX_SECINFO_TRIM | SGX_SECINFO_R,
		5ULL << 8 | SGX_SECINFO_R,		   /* no such page type */
		SGX_SECINFO_REG | SGX_SECINFO_W,	   /* W without R */
		SGX_SECINFO_REG | SGX_SECINFO_W | SGX_SECINFO_X,
		SGX_SECINFO_TCS | SGX_SECINFO_R,	   /* TCS with permissions */
		SGX_SECINFO_TCS | SGX_SECINFO_X,
		RW | SGX_SECINFO_PENDING,		   /* reserved flag bits */
		RW | SGX_SECINFO_MODIFIED,
		RW | SGX_SECINFO_PR,
		RW | 1ULL << 16,
		RW | 1ULL << 63,
	};
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_secinfo secinfo __attribute__((aligned(64)));
	uint8_t *buf = pages_alloc(1, 0x33);
	struct sgx_enclave_add_pages add = {
		.src = (uintptr_t)buf,
		.offset = PAGE,
		.length = PAGE,
		.secinfo = (uintptr_t)&secinfo,
	};

	(void)state;
	bf_create(p, e, 8 * PAGE);
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		memset(&secinfo, 0, sizeof(secinfo));
		secinfo.flags = bad_flags[i];
		assert_int_equal(add_raw(e, &add), -EINVAL);
	}
	/* Reserved bytes after FLAGS. */
	for (size_t i = 0; i < sizeof(secinfo.reserved); i += 11) {
		memset(&secinfo, 0, sizeof(secinfo));
		secinfo.flags = RW;
		secinfo.reserved[i] = 0x80;
		assert_int_equal(add_raw(e, &add), -EINVAL);
	}
	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = RW;
	assert_int_equal(add_raw(e, &add), 0);
	assert_int_equal(add.count, PAGE);
	free(buf);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_add_same_offset_ebusy(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	uint8_t *buf = pages_alloc(6, 0x44);
	struct softsgx_stats before, after;
	uint64_t count;

	(void)state;
	bf_create(p, e, 8 * PAGE);
	bf_add_tcs(e, 0);
	bf_add_page(e, 3 * PAGE, RW, 0x55);
	softsgx_get_stats(p, &before);
	/* The same single page again: xa_insert() finds it, nothing changes. */
	assert_int_equal(bf_add(e, buf, 3 * PAGE, 1, RW, true, &count), -EBUSY);
	assert_int_equal(count, 0);
	assert_int_equal(bf_add(e, buf, 0, 1, RW, true, &count), -EBUSY);
	assert_int_equal(count, 0);
	softsgx_get_stats(p, &after);
	assert_int_equal(after.in_use_pages, before.in_use_pages);
	/* Pages 1 and 2 go in, page 3 stops the call: count says two pages. */
	assert_int_equal(bf_add(e, buf, PAGE, 5, RW, true, &count), -EBUSY);
	assert_int_equal(count, 2 * PAGE);
	softsgx_get_stats(p, &after);
	assert_int_equal(after.in_use_pages, before.in_use_pages + 2);
	ek_assert_invariant(p);
	/* Resume after the busy page, as count invites. */
	assert_int_equal(bf_add(e, buf + 3 * PAGE, 4 * PAGE, 2, RW, true, &count), 0);
	assert_int_equal(count, 2 * PAGE);
	/* MRENCLAVE covers exactly what was reported: EINIT agrees. */
	bf_sign(e);
	assert_int_equal(bf_init(e), 0);
	free(buf);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_add_bad_src_partial(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct softsgx_stats before, after;
	uint64_t count;
	uint8_t *src = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);

	(void)state;
	assert_true(src != MAP_FAILED);
	for (int i = 0; i < 3; i++)
		memset(src + i * PAGE, 0x60 + i, PAGE);
	bf_create(p, e, 8 * PAGE);
	bf_add_tcs(e, 0);
	/* A bad source for the very first page: EFAULT, count 0. */
	assert_int_equal(bf_add(e, NULL, PAGE, 1, RW, true, &count), -EFAULT);
	assert_int_equal(count, 0);
	softsgx_get_stats(p, &before);
	/* The middle source page turns unreadable: page 1 in, page 2 refused, 3 never tried. */
	assert_int_equal(mprotect(src + PAGE, PAGE, PROT_NONE), 0);
	assert_int_equal(bf_add(e, src, PAGE, 3, RW, true, &count), -EFAULT);
	assert_int_equal(count, PAGE);
	softsgx_get_stats(p, &after);
	assert_int_equal(after.in_use_pages, before.in_use_pages + 1);
	ek_assert_invariant(p);
	/* Page 1 really is in the enclave, page 2 is not. */
	assert_int_equal(bf_add(e, src, PAGE, 1, RW, true, &count), -EBUSY);
	assert_int_equal(mprotect(src + PAGE, PAGE, PROT_READ | PROT_WRITE), 0);
	assert_int_equal(bf_add(e, src + PAGE, 2 * PAGE, 2, RW, true, &count), 0);
	assert_int_equal(count, 2 * PAGE);
	/* The measurement of exactly those pages initializes. */
	bf_sign(e);
	assert_int_equal(bf_init(e), 0);
	munmap(src, 3 * PAGE);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/*
 * ADD_PAGES copies the source in batches of 16 pages and allocates a page
 * ahead: over several batches, with a bad page in the third one, the pages
 * before it are in (count says how many), the rest are not, and a
 * SIGSTRUCT over exactly those initializes. Each page has its own content,
 * so a page copied from the wrong place of a batch would change MRENCLAVE.
 */
static void add_bad_src_at(uint64_t bad)
{
	const uint64_t nr = 45;
	struct softsgx_platform *p = bf_platform(128);
	struct bf_enclave *e = enclave_alloc();
	struct softsgx_stats before, after;
	uint64_t count;
	uint8_t *src = mmap(NULL, nr * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);

	assert_true(src != MAP_FAILED);
	for (uint64_t i = 0; i < nr; i++)
		for (uint64_t b = 0; b < PAGE; b += 8)
			*(uint64_t *)(src + i * PAGE + b) = i << 32 | b;
	bf_create(p, e, 64 * PAGE);
	bf_add_tcs(e, 0);
	softsgx_get_stats(p, &before);
	assert_int_equal(mprotect(src + bad * PAGE, PAGE, PROT_NONE), 0);
	assert_int_equal(bf_add(e, src, 2 * PAGE, nr, RW, true, &count), -EFAULT);
	assert_int_equal(count, bad * PAGE);
	softsgx_get_stats(p, &after);
	/* No page allocated ahead is left behind. */
	assert_int_equal(after.in_use_pages, before.in_use_pages + bad);
	ek_assert_invariant(p);
	assert_int_equal(mprotect(src + bad * PAGE, PAGE, PROT_READ | PROT_WRITE), 0);
	/* The rest, unmeasured, as a loader adds a heap. */
	assert_int_equal(bf_add(e, src + bad * PAGE, (2 + bad) * PAGE, nr - bad, RW, false, &count),
			 0);
	assert_int_equal(count, (nr - bad) * PAGE);
	bf_sign(e);
	assert_int_equal(bf_init(e), 0);
	munmap(src, nr * PAGE);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_add_bad_src_later_batch(void **state)
{
	(void)state;
	add_bad_src_at(37);
}

/* The bad page in the middle of the second batch. */
static void test_add_bad_src_second_batch(void **state)
{
	(void)state;
	add_bad_src_at(21);
}

static void test_add_eadd_refuses_eio(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_tcs *tcs = aligned_alloc(PAGE, PAGE);
	struct softsgx_stats before, after;
	uint64_t count;

	(void)state;
	assert_non_null(tcs);
	bf_create(p, e, 8 * PAGE);
	softsgx_get_stats(p, &before);
	/* A TCS with reserved FLAGS bits: EADD #GP, the driver answers EIO. */
	memset(tcs, 0, sizeof(*tcs));
	tcs->flags = 0x2;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	assert_int_equal(bf_add(e, tcs, 0, 1, SGX_SECINFO_TCS, true, &count), -EIO);
	assert_int_equal(count, 0);
	/* A TCS whose SSA is not page aligned. */
	tcs->flags = 0;
	tcs->ssa_offset = 100;
	assert_int_equal(bf_add(e, tcs, 0, 1, SGX_SECINFO_TCS, true, &count), -EIO);
	assert_int_equal(count, 0);
	softsgx_get_stats(p, &after);
	assert_int_equal(after.in_use_pages, before.in_use_pages);
	ek_assert_invariant(p);
	/* The offset is free again. */
	bf_add_tcs(e, 0);
	free(tcs);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_add_count_not_writable(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { .flags = RW };
	uint8_t *buf = pages_alloc(1, 0x70);
	struct sgx_enclave_add_pages *add = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t count;

	(void)state;
	assert_true(add != MAP_FAILED);
	bf_create(p, e, 8 * PAGE);
	add->src = (uintptr_t)buf;
	add->offset = PAGE;
	add->length = PAGE;
	add->secinfo = (uintptr_t)&secinfo;
	assert_int_equal(mprotect(add, PAGE, PROT_READ), 0);
	/* The page goes in, then copying count back fails: EFAULT all the same. */
	assert_int_equal(add_raw(e, add), -EFAULT);
	assert_int_equal(bf_add(e, buf, PAGE, 1, RW, false, &count), -EBUSY);
	munmap(add, PAGE);
	free(buf);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_add_epc_full_nothing_reclaimable(void **state)
{
	struct softsgx_platform *p = quiet_platform(4);
	struct bf_enclave *e1 = enclave_alloc(), *e2 = enclave_alloc();
	uint8_t *buf = pages_alloc(2, 0x80);
	uint64_t count;

	(void)state;
	bf_create(p, e1, 8 * PAGE);
	bf_create(p, e2, 8 * PAGE);
	assert_int_equal(bf_free_pages(p), 0);
	/* SECS and VA pages only: sgx_alloc_epc_page() has nothing to reclaim. */
	assert_int_equal(bf_add(e1, buf, 0, 2, RW, true, &count), -ENOMEM);
	assert_int_equal(count, 0);
	ek_assert_invariant(p);
	assert_int_equal(softsgx_close(p, e2->fd), 0);
	assert_int_equal(bf_add(e1, buf, 0, 2, RW, true, &count), 0);
	assert_int_equal(count, 2 * PAGE);
	free(buf);
	close_all(p, e1);
	free(e1);
	free(e2);
	lg_platform_free(p);
}

static void test_add_epc_full_reclaims(void **state)
{
	struct softsgx_platform *p = quiet_platform(5);
	struct bf_enclave *e1 = enclave_alloc(), *e2 = enclave_alloc();
	uint8_t *buf = pages_alloc(4, 0x90);
	struct softsgx_stats st;
	uint64_t count;

	(void)state;
	bf_create(p, e1, 8 * PAGE);
	bf_create(p, e2, 8 * PAGE);
	bf_add_tcs(e1, 0);
	assert_int_equal(bf_free_pages(p), 0);
	/* With reclaim allowed, each page evicts the one before (or e1's TCS). */
	assert_int_equal(bf_add(e2, buf, 0, 4, RW, true, &count), 0);
	assert_int_equal(count, 4 * PAGE);
	softsgx_get_stats(p, &st);
	assert_int_equal(st.evictions, 4);
	ek_assert_invariant(p);
	/* Evicted pages of an uninitialized enclave still count for EINIT. */
	bf_sign(e2);
	assert_int_equal(bf_init(e2), 0);
	free(buf);
	assert_int_equal(softsgx_close(p, e2->fd), 0);
	close_all(p, e1);
	free(e1);
	free(e2);
	lg_platform_free(p);
}

/*
 * ENOMEM in the middle of a call, with count showing the progress: one free
 * EPC page for the enclave's pages, each page evicting the one before. The
 * 512th page needs a second Version Array page (one VA slot per enclave page,
 * the SECS included), and by then the LRU is empty: the only other page was
 * just evicted for this page's own EPC page, which is not reclaimable yet.
 */
static void test_add_enomem_partial(void **state)
{
	const uint64_t nr = SGX_VA_SLOT_COUNT;
	struct softsgx_platform *p = quiet_platform(3);
	struct bf_enclave *e = enclave_alloc();
	uint8_t *buf = pages_alloc(nr, 0xA0);
	struct softsgx_stats st;
	uint64_t count, v;
	void *addr;

	(void)state;
	bf_create(p, e, 2 * nr * PAGE);
	assert_int_equal(bf_free_pages(p), 1);
	assert_int_equal(bf_add(e, buf, 0, nr, RW, false, &count), -ENOMEM);
	assert_int_equal(count, (nr - 1) * PAGE);
	softsgx_get_stats(p, &st);
	assert_int_equal(st.evictions, nr - 1);
	assert_int_equal(st.free_pages, 1);
	ek_assert_invariant(p);
	/* The 511 pages are in: a SIGSTRUCT over them initializes the enclave. */
	bf_sign(e);
	assert_int_equal(bf_init(e), 0);
	/* And their contents come back from backing storage. */
	addr = (void *)(uintptr_t)e->base;
	assert_int_equal(softsgx_mmap(p, &addr, e->size, PROT_READ, MAP_SHARED | MAP_FIXED, e->fd,
				      0),
			 0);
	assert_int_equal(softsgx_handle_fault(p, addr, PROT_READ), SOFTSGX_FAULT_RETRY);
	memcpy(&v, addr, sizeof(v));
	assert_int_equal(v, 0);
	assert_int_equal(((uint8_t *)addr)[100], 0xA0);
	/* Page 510 needs the SECS and itself back: evict page 0 (young first). */
	softsgx_reclaim(p);
	softsgx_reclaim(p);
	assert_int_equal(softsgx_handle_fault(p, (uint8_t *)addr + 510 * PAGE, PROT_READ),
			 SOFTSGX_FAULT_RETRY);
	memcpy(&v, (uint8_t *)addr + 510 * PAGE, sizeof(v));
	assert_int_equal(v, 510);
	ek_assert_invariant(p);
	assert_int_equal(softsgx_munmap(p, addr, e->size), 0);
	bf_rereserve(addr, e->size);
	free(buf);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/* An enclave of @encl_pages created on @p with its TCS, and @nr source pages from @fill. */
struct add_fx {
	struct softsgx_platform *p;
	struct bf_enclave *e;
	uint8_t *buf;
};

static void add_fx_open(struct add_fx *f, struct softsgx_platform *p, uint64_t encl_pages,
			uint64_t nr, uint8_t fill)
{
	f->p = p;
	f->e = enclave_alloc();
	f->buf = pages_alloc(nr, fill);
	bf_create(p, f->e, encl_pages * PAGE);
	bf_add_tcs(f->e, 0);
}

/* EINIT over exactly the pages added (it takes the locks ADD_PAGES let go), then all freed. */
static void add_fx_init_and_close(struct add_fx *f)
{
	ek_assert_invariant(f->p);
	bf_sign(f->e);
	assert_int_equal(bf_init(f->e), 0);
	free(f->buf);
	close_all(f->p, f->e);
	free(f->e);
	lg_platform_free(f->p);
}

static _Atomic int signal_budget; /* calls until a signal is "pending"; < 0: never */

static bool pending_after_budget(struct sgx_kernel *k)
{
	(void)k;
	if (atomic_load(&signal_budget) < 0)
		return false;
	return atomic_fetch_sub(&signal_budget, 1) <= 0;
}

/*
 * ADD_PAGES of @nr pages into a new enclave of @encl_pages on a platform of
 * @epc_pages, with a signal pending after @first of them: success with a
 * short count and exactly those pages in use; the rest in a second call;
 * then EINIT (the locks were released). With @also_at_start, a signal
 * pending before the first page is tried first: -ERESTARTSYS, seen by the
 * program as EINTR, and nothing added.
 */
static void add_cut_by_signal(unsigned int epc_pages, uint64_t encl_pages, uint64_t nr,
			      uint8_t fill, uint64_t first, bool also_at_start)
{
	struct softsgx_stats before, after;
	struct add_fx f;
	uint64_t count;

	add_fx_open(&f, bf_platform(epc_pages), encl_pages, nr, fill);
	softsgx_kernel(f.p)->signal_pending = pending_after_budget;
	if (also_at_start) {
		atomic_store(&signal_budget, 0);
		assert_int_equal(bf_add(f.e, f.buf, PAGE, nr, RW, true, &count), -EINTR);
		assert_int_equal(count, 0);
	}
	softsgx_get_stats(f.p, &before);
	atomic_store(&signal_budget, (int)first);
	assert_int_equal(bf_add(f.e, f.buf, PAGE, nr, RW, true, &count), 0);
	assert_int_equal(count, first * PAGE);
	softsgx_get_stats(f.p, &after);
	assert_int_equal(after.in_use_pages, before.in_use_pages + first);
	ek_assert_invariant(f.p);
	atomic_store(&signal_budget, -1);
	assert_int_equal(bf_add(f.e, f.buf + first * PAGE, (1 + first) * PAGE, nr - first, RW,
				true, &count),
			 0);
	assert_int_equal(count, (nr - first) * PAGE);
	softsgx_kernel(f.p)->signal_pending = NULL;
	add_fx_init_and_close(&f);
}

/* Pending before the first page: EINTR; after two of four: a short count. */
static void test_add_signal_pending(void **state)
{
	(void)state;
	add_cut_by_signal(64, 8, 4, 0xB0, 2, true);
}

/*
 * ADD_PAGES holds the enclave's locks across the pages of a batch and checks
 * for a signal before every page: one that arrives in the middle of the
 * second batch ends the call there, with success and a short count, no page
 * allocated ahead left behind and the locks released (the next call and
 * EINIT take them).
 */
static void test_add_signal_pending_second_batch(void **state)
{
	(void)state;
	add_cut_by_signal(128, 64, 40, 0xC0, 21, false);
}

/*
 * An EPC of a few pages and one call of three batches: every page's EPC
 * page comes from evicting one added before, in the same batch or an
 * earlier one. ADD_PAGES drops the enclave's locks before such an
 * allocation (the reclaimer takes encl->lock), so the call must neither
 * deadlock nor lose a page, and MRENCLAVE is that of all the pages.
 */
static void test_add_reclaims_within_batches(void **state)
{
	const uint64_t nr = 40;
	struct softsgx_stats st;
	struct add_fx f;
	uint64_t count;

	(void)state;
	add_fx_open(&f, quiet_platform(5), 64, nr, 0xD0);
	assert_int_equal(bf_add(f.e, f.buf, PAGE, nr, RW, true, &count), 0);
	assert_int_equal(count, nr * PAGE);
	softsgx_get_stats(f.p, &st);
	assert_true(st.evictions >= nr - 2);
	add_fx_init_and_close(&f);
}

/*
 * A reclaimer that runs all along while multi-batch ADD_PAGES calls fill a
 * small EPC: it can take encl->lock only between batches or while a call
 * allocates, and evicts pages of the batches already added. Every call
 * adds all its pages, and the enclave initializes (MRENCLAVE of them all).
 */
static void test_add_with_concurrent_reclaim(void **state)
{
	const uint64_t nr = 96, per_call = 48;
	struct ek_reclaimer rl;
	struct add_fx f;
	uint64_t count;

	(void)state;
	add_fx_open(&f, quiet_platform(24), 128, nr, 0xE0);
	ek_reclaimer_start(&rl, f.p);
	for (uint64_t i = 0; i < nr; i += per_call) {
		assert_int_equal(bf_add(f.e, f.buf + i * PAGE, (1 + i) * PAGE, per_call, RW, true,
				        &count),
				 0);
		assert_int_equal(count, per_call * PAGE);
	}
	ek_reclaimer_stop(&rl);
	add_fx_init_and_close(&f);
}

/* ---- SGX_IOC_ENCLAVE_INIT ---- */

static void test_init_before_create_and_twice(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_enclave_init init;

	(void)state;
	bf_open(p, e, 4 * PAGE);
	init.sigstruct = (uintptr_t)&e->sigstruct;
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_INIT, &init), -EINVAL);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	build_signed(p, e, 1);
	assert_int_equal(bf_init(e), 0);
	assert_int_equal(bf_init(e), -EINVAL);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_init_efault(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	uint8_t *half = half_mapped();
	struct sgx_enclave_init init;

	(void)state;
	build_signed(p, e, 1);
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_INIT, NULL), -EFAULT);
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_INIT, WILD), -EFAULT);
	init.sigstruct = (uintptr_t)WILD;
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_INIT, &init), -EFAULT);
	/* A SIGSTRUCT (1808 bytes) that runs into an unmapped page. */
	memcpy(half, &e->sigstruct, 1000);
	init.sigstruct = (uintptr_t)half + PAGE - 1000;
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_INIT, &init), -EFAULT);
	/* The SIGSTRUCT need not be aligned in user memory. */
	memcpy(half + 8, &e->sigstruct, sizeof(e->sigstruct));
	init.sigstruct = (uintptr_t)half + 8;
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_INIT, &init), 0);
	munmap(half, 2 * PAGE);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_init_vendor(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_sign_enclave desc;

	(void)state;
	build_signed(p, e, 1);
	/* Checked before EINIT: neither 0 nor 0x8086 is EINVAL, not EPERM. */
	e->sigstruct.header.vendor = 0x1234;
	assert_int_equal(bf_init(e), -EINVAL);
	e->sigstruct.header.vendor = 0x80860000;
	assert_int_equal(bf_init(e), -EINVAL);
	/* 0x8086 is accepted (signed as such). */
	default_desc(e, &desc);
	desc.vendor = SGX_SIGSTRUCT_VENDOR_INTEL;
	sign_desc(e, &desc);
	assert_int_equal(bf_init(e), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_init_reserved_einval(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_sign_enclave desc;

	(void)state;
	build_signed(p, e, 1);
	/* An attribute the CPU does not offer, enforced by the mask. */
	default_desc(e, &desc);
	desc.attributes |= 0x8;
	sign_desc(e, &desc);
	assert_int_equal(bf_init(e), -EINVAL);
	/* A MISCSELECT bit the CPU does not offer, enforced. */
	default_desc(e, &desc);
	desc.miscselect = 0x2;
	desc.misc_mask = 0x2;
	sign_desc(e, &desc);
	assert_int_equal(bf_init(e), -EINVAL);
	/* An XFRM bit the CPU does not offer, enforced. */
	default_desc(e, &desc);
	desc.xfrm = 0x3 | 0x8;
	desc.xfrm_mask = 0x3 | 0x8;
	sign_desc(e, &desc);
	assert_int_equal(bf_init(e), -EINVAL);
	/* Not enforced by the mask: no EINVAL, and EINIT ignores it. */
	default_desc(e, &desc);
	desc.xfrm = 0x3 | 0x8;
	sign_desc(e, &desc);
	assert_int_equal(bf_init(e), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_init_eperm(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_sign_enclave desc;
	struct sgx_sigstruct good;

	(void)state;
	build_signed(p, e, 2);
	memcpy(&good, &e->sigstruct, sizeof(good));
	/* Wrong MRENCLAVE, properly signed: INVALID_MEASUREMENT. */
	default_desc(e, &desc);
	sgx_measure_final(&e->m, desc.mrenclave);
	desc.mrenclave[0] ^= 1;
	sign_raw(e, &desc);
	assert_int_equal(bf_init(e), -EPERM);
	/* Wrong signature: INVALID_SIGNATURE. */
	memcpy(&e->sigstruct, &good, sizeof(good));
	e->sigstruct.signature[7] ^= 0x40;
	assert_int_equal(bf_init(e), -EPERM);
	/* Signed attributes that the SECS does not have: INVALID_ATTRIBUTE. */
	default_desc(e, &desc);
	desc.attributes &= ~(uint64_t)SGX_ATTR_DEBUG;
	sign_desc(e, &desc);
	assert_int_equal(bf_init(e), -EPERM);
	/* A broken header: INVALID_SIG_STRUCT. */
	memcpy(&e->sigstruct, &good, sizeof(good));
	e->sigstruct.header.header1[0] ^= 1;
	assert_int_equal(bf_init(e), -EPERM);
	/* Failed EINITs leave the enclave uninitialized: the right one works. */
	memcpy(&e->sigstruct, &good, sizeof(good));
	assert_int_equal(bf_init(e), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_init_any_signer_with_flc(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_sign_enclave desc;
	EVP_PKEY *key = test_key2();

	(void)state;
	build_signed(p, e, 1);
	/* The driver writes IA32_SGXLEPUBKEYHASH for whoever signed. */
	default_desc(e, &desc);
	sgx_measure_final(&e->m, desc.mrenclave);
	assert_int_equal(sgx_sign_sigstruct(&desc, key, &e->sigstruct), 0);
	EVP_PKEY_free(key);
	assert_int_equal(bf_init(e), 0);
	assert_int_equal(bf_init(e), -EINVAL);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/* ---- SGX_IOC_ENCLAVE_PROVISION ---- */

static long provision(struct softsgx_platform *p, int fd, uint64_t pfd)
{
	struct sgx_enclave_provision arg = { .fd = pfd };

	return softsgx_ioctl(p, fd, SGX_IOC_ENCLAVE_PROVISION, &arg);
}

static void build_with_attributes(struct softsgx_platform *p, struct bf_enclave *e,
				  uint64_t attributes)
{
	bf_open(p, e, 4 * PAGE);
	assert_int_equal(bf_create_attr(e, attributes), 0);
	bf_add_tcs(e, 0);
	bf_sign(e);
}

static void test_provision(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc(), *other = enclave_alloc();
	int pfd;

	(void)state;
	build_with_attributes(p, e, BF_ATTRIBUTES | SGX_ATTR_PROVISIONKEY);
	/* sgx_encl_init(): PROVISIONKEY not allowed yet. */
	assert_int_equal(bf_init(e), -EACCES);
	/* sgx_set_attribute(): not /dev/sgx_provision, or no file at all. */
	bf_open(p, other, 4 * PAGE);
	assert_int_equal(provision(p, e->fd, other->fd), -EINVAL);
	assert_int_equal(provision(p, e->fd, e->fd), -EINVAL);
	assert_int_equal(provision(p, e->fd, 999), -EINVAL);
	assert_int_equal(provision(p, e->fd, (uint64_t)-1), -EINVAL);
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_PROVISION, NULL), -EFAULT);
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_PROVISION, WILD), -EFAULT);
	assert_int_equal(bf_init(e), -EACCES);
	pfd = softsgx_open(p, "/dev/sgx_provision", 0);
	assert_true(pfd >= 0);
	assert_int_equal(provision(p, e->fd, pfd), 0);
	/* The file need not stay open: the permission is the enclave's now. */
	assert_int_equal(softsgx_close(p, pfd), 0);
	assert_int_equal(bf_init(e), 0);
	assert_int_equal(softsgx_close(p, other->fd), 0);
	close_all(p, e);
	free(e);
	free(other);
	lg_platform_free(p);
}

static void test_provision_fd_truncated_to_32_bits(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	int pfd = softsgx_open(p, "/dev/sgx_provision", 0);

	(void)state;
	assert_true(pfd >= 0);
	build_with_attributes(p, e, BF_ATTRIBUTES | SGX_ATTR_PROVISIONKEY);
	/* sgx_set_attribute() takes an unsigned int: the high half is dropped. */
	assert_int_equal(provision(p, e->fd, (1ULL << 32) | (unsigned int)pfd), 0);
	assert_int_equal(bf_init(e), 0);
	assert_int_equal(softsgx_close(p, pfd), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_provision_before_create_is_lost(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	int pfd = softsgx_open(p, "/dev/sgx_provision", 0);

	(void)state;
	assert_true(pfd >= 0);
	bf_open(p, e, 4 * PAGE);
	/* Accepted, but ENCLAVE_CREATE resets the allowed attributes (as Linux). */
	assert_int_equal(provision(p, e->fd, pfd), 0);
	assert_int_equal(bf_create_attr(e, BF_ATTRIBUTES | SGX_ATTR_PROVISIONKEY), 0);
	bf_add_tcs(e, 0);
	bf_sign(e);
	assert_int_equal(bf_init(e), -EACCES);
	assert_int_equal(provision(p, e->fd, pfd), 0);
	assert_int_equal(bf_init(e), 0);
	/* After INIT it is still accepted and changes nothing. */
	assert_int_equal(provision(p, e->fd, pfd), 0);
	assert_int_equal(softsgx_close(p, pfd), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_einittokenkey_never_allowed(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	int pfd = softsgx_open(p, "/dev/sgx_provision", 0);

	(void)state;
	assert_true(pfd >= 0);
	build_with_attributes(p, e, BF_ATTRIBUTES | SGX_ATTR_EINITTOKENKEY);
	assert_int_equal(bf_init(e), -EACCES);
	assert_int_equal(provision(p, e->fd, pfd), 0);
	assert_int_equal(bf_init(e), -EACCES);
	assert_int_equal(softsgx_close(p, pfd), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/* ---- EINIT and SGX_UNMASKED_EVENT ---- */

static void test_init_unmasked_event_retry(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();

	(void)state;
	build_signed(p, e, 1);
	/* More than one spin round (20): one sleep, then success. */
	hw_inject_einit_interrupts(softsgx_hw(p), 25);
	assert_int_equal(bf_init(e), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_init_unmasked_event_gives_up(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();

	(void)state;
	build_signed(p, e, 1);
	/* Every try of all 50 rounds of 20 interrupted: EPERM (about a second). */
	hw_inject_einit_interrupts(softsgx_hw(p), 50 * 20);
	assert_int_equal(bf_init(e), -EPERM);
	/* The budget is spent exactly; the enclave is still uninitialized. */
	assert_int_equal(bf_init(e), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_init_signal_pending(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();

	(void)state;
	build_signed(p, e, 1);
	softsgx_kernel(p)->signal_pending = pending_after_budget;
	atomic_store(&signal_budget, 0);
	/* A signal only matters after a round of UNMASKED_EVENT. */
	assert_int_equal(bf_init(e), 0);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	atomic_store(&signal_budget, -1);
	build_signed(p, e, 1);
	atomic_store(&signal_budget, 0);
	hw_inject_einit_interrupts(softsgx_hw(p), 20);
	assert_int_equal(bf_init(e), -EINTR);
	atomic_store(&signal_budget, -1);
	assert_int_equal(bf_init(e), 0);
	softsgx_kernel(p)->signal_pending = NULL;
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/* ---- Unknown commands, descriptors, SGX2 commands on SGX1 ---- */

static void test_unknown_cmd_enotty(void **state)
{
	unsigned long cmds[] = {
		_IO(SGX_MAGIC, 0x20),
		_IOW(SGX_MAGIC, 0x08, struct sgx_enclave_create),
		_IOW(SGX_MAGIC, 0x00, uint32_t), /* CREATE's number, wrong size */
		_IOR(SGX_MAGIC, 0x00, struct sgx_enclave_create), /* wrong direction */
		_IOW('x', 0x00, struct sgx_enclave_create),
		SGX_IOC_VEPC_REMOVE_ALL, /* /dev/sgx_vepc's, not the enclave's */
		0,
	};
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_secs *secs;
	struct sgx_enclave_create create;

	(void)state;
	bf_open(p, e, 4 * PAGE);
	secs = bf_secs(e, BF_ATTRIBUTES);
	create.src = (uintptr_t)secs;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		assert_int_equal(softsgx_ioctl(p, e->fd, cmds[i], &create), -ENOTTY);
	/* No descriptor. */
	assert_int_equal(softsgx_ioctl(p, 900, SGX_IOC_ENCLAVE_CREATE, &create), -EBADF);
	assert_int_equal(softsgx_ioctl(p, -1, SGX_IOC_ENCLAVE_CREATE, &create), -EBADF);
	/* ioctl(2)'s command is 32 bits: bits above never reach the driver. */
	assert_int_equal(softsgx_ioctl(p, e->fd, (1UL << 32) | SGX_IOC_ENCLAVE_CREATE, &create),
			 0);
	free(secs);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void test_sgx2_cmds_without_sgx2_enodev(void **state)
{
	struct bf_config cfg;
	struct softsgx_platform *p;
	struct bf_enclave *e = enclave_alloc();
	struct sgx_enclave_restrict_permissions rp = { 0 };
	struct sgx_enclave_modify_types mt = { 0 };
	struct sgx_enclave_remove_pages rm = { 0 };

	(void)state;
	bf_default_config(&cfg, 64);
	cfg.sgx2 = false;
	p = bf_platform_new(&cfg);
	build_signed(p, e, 1);
	assert_int_equal(bf_init(e), 0);
	/* sgx_ioc_sgx2_ready(): the CPU has no SGX2. */
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, &rp),
			 -ENODEV);
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_MODIFY_TYPES, &mt), -ENODEV);
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_REMOVE_PAGES, &rm), -ENODEV);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/* ---- One ioctl at a time per enclave ---- */

/*
 * White-box: raise SGX_ENCL_IOCTL (kernel/encl.h) as a running ioctl would;
 * every command, known or not, is refused with EBUSY before anything else.
 */
static void test_busy_flag(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct sgx_file *f;
	struct sgx_encl *encl;
	int pfd = softsgx_open(p, "/dev/sgx_provision", 0);
	uint8_t *buf = pages_alloc(1, 0xC0);
	uint64_t count;

	(void)state;
	bf_open(p, e, 4 * PAGE);
	f = softsgx_fget(p, e->fd);
	assert_non_null(f);
	encl = sgx_file_encl(f);
	atomic_fetch_or(&encl->flags, SGX_ENCL_IOCTL);
	assert_int_equal(bf_create_attr(e, BF_ATTRIBUTES), -EBUSY);
	assert_int_equal(bf_add(e, buf, 0, 1, RW, true, &count), -EBUSY);
	assert_int_equal(bf_init(e), -EBUSY);
	assert_int_equal(provision(p, e->fd, pfd), -EBUSY);
	assert_int_equal(softsgx_ioctl(p, e->fd, _IO(SGX_MAGIC, 0x20), NULL), -EBUSY);
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_CREATE, WILD), -EBUSY);
	atomic_fetch_and(&encl->flags, ~(unsigned int)SGX_ENCL_IOCTL);
	assert_int_equal(bf_create_attr(e, BF_ATTRIBUTES), 0);
	/* A failing ioctl drops the flag too. */
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_CREATE, WILD), -EINVAL);
	assert_int_equal(softsgx_ioctl(p, e->fd, 0, NULL), -ENOTTY);
	assert_int_equal(atomic_load(&encl->flags) & SGX_ENCL_IOCTL, 0);
	sgx_file_put(f);
	assert_int_equal(softsgx_close(p, pfd), 0);
	free(buf);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

static void *init_thread(void *arg)
{
	struct bf_enclave *e = arg;

	return (void *)(intptr_t)bf_init(e);
}

/* Black-box: a second thread's ioctl while EINIT sleeps between retries. */
static void test_busy_second_thread(void **state)
{
	struct softsgx_platform *p = bf_platform(64);
	struct bf_enclave *e = enclave_alloc();
	struct timespec deadline, now;
	struct sgx_file *f;
	struct sgx_encl *encl;
	pthread_t thread;
	void *res;
	int pfd = softsgx_open(p, "/dev/sgx_provision", 0);
	bool seen = false;

	(void)state;
	build_signed(p, e, 1);
	f = softsgx_fget(p, e->fd);
	encl = sgx_file_encl(f);
	/* 20 rounds of UNMASKED_EVENT: EINIT stays in the ioctl for ~400 ms. */
	hw_inject_einit_interrupts(softsgx_hw(p), 20 * 20);
	assert_int_equal(pthread_create(&thread, NULL, init_thread, e), 0);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 5;
	do {
		if (atomic_load(&encl->flags) & SGX_ENCL_IOCTL) {
			seen = true;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < deadline.tv_sec ||
		 (now.tv_sec == deadline.tv_sec && now.tv_nsec < deadline.tv_nsec));
	assert_true(seen);
	assert_int_equal(provision(p, e->fd, pfd), -EBUSY);
	assert_int_equal(bf_init(e), -EBUSY);
	assert_int_equal(pthread_join(thread, &res), 0);
	assert_int_equal((intptr_t)res, 0);
	assert_int_equal(bf_init(e), -EINVAL);
	sgx_file_put(f);
	assert_int_equal(softsgx_close(p, pfd), 0);
	close_all(p, e);
	free(e);
	lg_platform_free(p);
}

/*
 * The kernel's copies as plain copies, as under the shim (its fault-proof
 * copy) or for a service client (its request's windows): ADD_PAGES then
 * copies each source page straight into its EPC page and adds it with
 * encls_eadd_staged(), instead of a batch into a buffer. The ADD_PAGES
 * tests run again that way (the "_plain" tests below): same counts,
 * errors, measurements and pages left behind. The copy here is a
 * process_vm_readv(), which stops at a bad page as the shim's does.
 */
static int plain_copy(void *to, const void *from, size_t n)
{
	struct iovec l = {.iov_base = to, .iov_len = n};
	struct iovec r = {.iov_base = (void *)from, .iov_len = n};

	atomic_fetch_add(&plain_copies, 1);
	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

static int plain_setup(void **state)
{
	(void)state;
	atomic_store(&plain_copies, 0);
	sgx_uaccess_set_local_copy(plain_copy);
	return 0;
}

/* The copies were plain ones (a test that adds pages made some), and no longer are. */
static int plain_teardown(void **state)
{
	sgx_uaccess_set_local_copy(NULL);
	if (!atomic_load(&plain_copies))
		return -1;
	return lg_teardown(state);
}

#define PLAIN_TEST(f) { #f "_plain", f, plain_setup, plain_teardown, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_create_success_and_twice),
		LG_TEST(test_create_efault),
		LG_TEST(test_create_einval_size),
		LG_TEST(test_create_ecreate_refuses_eio),
		LG_TEST(test_create_enomem),
		LG_TEST(test_add_before_create_after_init),
		LG_TEST(test_add_einval_params),
		LG_TEST(test_add_einval_secinfo),
		LG_TEST(test_add_same_offset_ebusy),
		LG_TEST(test_add_bad_src_partial),
		LG_TEST(test_add_bad_src_later_batch),
		LG_TEST(test_add_bad_src_second_batch),
		LG_TEST(test_add_eadd_refuses_eio),
		LG_TEST(test_add_count_not_writable),
		LG_TEST(test_add_epc_full_nothing_reclaimable),
		LG_TEST(test_add_epc_full_reclaims),
		LG_TEST(test_add_enomem_partial),
		LG_TEST(test_add_signal_pending),
		LG_TEST(test_add_signal_pending_second_batch),
		LG_TEST(test_add_reclaims_within_batches),
		LG_TEST(test_add_with_concurrent_reclaim),
		LG_TEST(test_init_before_create_and_twice),
		LG_TEST(test_init_efault),
		LG_TEST(test_init_vendor),
		LG_TEST(test_init_reserved_einval),
		LG_TEST(test_init_eperm),
		LG_TEST(test_init_any_signer_with_flc),
		LG_TEST(test_provision),
		LG_TEST(test_provision_fd_truncated_to_32_bits),
		LG_TEST(test_provision_before_create_is_lost),
		LG_TEST(test_einittokenkey_never_allowed),
		LG_TEST(test_init_unmasked_event_retry),
		LG_TEST(test_init_unmasked_event_gives_up),
		LG_TEST(test_init_signal_pending),
		LG_TEST(test_unknown_cmd_enotty),
		LG_TEST(test_sgx2_cmds_without_sgx2_enodev),
		LG_TEST(test_busy_flag),
		LG_TEST(test_busy_second_thread),
		PLAIN_TEST(test_add_same_offset_ebusy),
		PLAIN_TEST(test_add_bad_src_partial),
		PLAIN_TEST(test_add_bad_src_later_batch),
		PLAIN_TEST(test_add_bad_src_second_batch),
		PLAIN_TEST(test_add_eadd_refuses_eio),
		PLAIN_TEST(test_add_count_not_writable),
		PLAIN_TEST(test_add_epc_full_nothing_reclaimable),
		PLAIN_TEST(test_add_epc_full_reclaims),
		PLAIN_TEST(test_add_enomem_partial),
		PLAIN_TEST(test_add_signal_pending),
		PLAIN_TEST(test_add_signal_pending_second_batch),
		PLAIN_TEST(test_add_reclaims_within_batches),
		PLAIN_TEST(test_add_with_concurrent_reclaim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
