// SPDX-License-Identifier: MIT
/*
 * Fault injection through a whole enclave life: open, ENCLAVE_CREATE,
 * ADD_PAGES, INIT, mmap, faults, eviction of every page, reload, munmap,
 * close. For each injection point (kernel/fault_inject.h) and N = 1, 2, ...
 * until a run sees no injected failure, call N fails; the step that saw it
 * must give Linux's errno (-ENOMEM; SIGBUS for a fault; nothing at all for
 * the reclaimer, which keeps the page), must be retryable on the same file,
 * and the enclave's data must come through intact. Then the "every call
 * after N" mode: the build stops at the first failure with -ENOMEM and the
 * file closes cleanly. After every run: no EPC page leaked, and ASan's leak
 * check at exit sees no host memory left behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "tests/common/encl_fixture.h"
#include "kernel/fault_inject.h"
#include "hw/measure.h"
#include "softsgx/sgx_uapi.h"
#include "tests/common/leak_guard.h"

#define NR_REG	  10 /* pages 1..10; pages 8..10 are added by one ioctl */
#define ENCL_SIZE (16 * SGX_PAGE_SIZE)
#define EPC_PAGES 64
#define MARK_OFF  1024

enum step { S_OPEN, S_CREATE, S_ADD, S_INIT, S_MMAP, S_TOUCH, S_RECLAIM, S_RELOAD, S_NR };
static const char *const step_name[S_NR] = {"open", "create", "add",	 "init",
					    "mmap", "touch",  "reclaim", "reload"};

struct run {
	struct softsgx_platform *p;
	struct ek_enclave *e; /* fd, base, size, mrenclave, sigstruct */
	struct sgx_measurement m;
	unsigned int failures[S_NR]; /* injected failures each step saw and survived */
};

static void secs_for(struct ek_enclave *e, struct sgx_secs *secs)
{
	ek_secs(secs, e->base, e->size);
}

static void page_contents(uint64_t i, uint8_t *buf)
{
	if (i == 0) {
		struct sgx_tcs *tcs = (struct sgx_tcs *)buf;

		memset(buf, 0, SGX_PAGE_SIZE);
		tcs->ssa_offset = SGX_PAGE_SIZE;
		tcs->nr_ssa_frames = 1;
		tcs->entry_offset = SGX_PAGE_SIZE;
		tcs->fs_limit = 0xFFF;
		tcs->gs_limit = 0xFFF;
		return;
	}
	memset(buf, ek_pattern(i), SGX_PAGE_SIZE);
	memcpy(buf, &i, sizeof(i));
}

/* Measure what was really added. */
static void measure_pages(struct run *r, uint64_t first, uint64_t n, const uint8_t *src,
			  const struct sgx_secinfo *secinfo)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = (first + i) * SGX_PAGE_SIZE;

		sgx_measure_eadd(&r->m, off, secinfo);
		for (unsigned int c = 0; c < SGX_PAGE_SIZE; c += 256)
			sgx_measure_eextend(&r->m, off + c, src + i * SGX_PAGE_SIZE + c);
	}
}

/* ADD_PAGES of pages [first, first + n) in one ioctl, resumed where a failure stopped it. */
static void add_range(struct run *r, uint64_t first, uint64_t n)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {0};
	uint8_t *src = aligned_alloc(SGX_PAGE_SIZE, n * SGX_PAGE_SIZE);
	uint64_t done = 0;

	assert_non_null(src);
	secinfo.flags =
		first == 0 ? SGX_SECINFO_TCS : SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	for (uint64_t i = 0; i < n; i++)
		page_contents(first + i, src + i * SGX_PAGE_SIZE);
	while (done < n) {
		struct sgx_enclave_add_pages add = {
			.src = (uintptr_t)(src + done * SGX_PAGE_SIZE),
			.offset = (first + done) * SGX_PAGE_SIZE,
			.length = (n - done) * SGX_PAGE_SIZE,
			.secinfo = (uintptr_t)&secinfo,
			.flags = SGX_PAGE_MEASURE,
		};
		long ret = softsgx_ioctl(r->p, r->e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add);

		assert_true(add.count <= add.length && add.count % SGX_PAGE_SIZE == 0);
		measure_pages(r, first + done, add.count / SGX_PAGE_SIZE,
			      src + done * SGX_PAGE_SIZE, &secinfo);
		done += add.count / SGX_PAGE_SIZE;
		if (ret) {
			assert_int_equal(ret, -ENOMEM);
			assert_true(done < n);
			r->failures[S_ADD]++;
			assert_true(r->failures[S_ADD] <= 1);
		}
	}
	free(src);
}

/* -ENOMEM is the only failure any step may see; a retry on the same file must succeed. */
static void expect_ok_or_enomem(struct run *r, enum step s, long ret, long (*again)(struct run *))
{
	if (!ret)
		return;
	if (ret != -ENOMEM)
		fail_msg("%s: %ld, want 0 or -ENOMEM", step_name[s], ret);
	r->failures[s]++;
	assert_int_equal(again(r), 0);
}

static long do_open(struct run *r)
{
	r->e->fd = softsgx_open(r->p, "/dev/sgx_enclave", 0);
	return r->e->fd < 0 ? r->e->fd : 0;
}

static long do_create(struct run *r)
{
	struct sgx_secs *secs = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	struct sgx_enclave_create create;
	long ret;

	assert_non_null(secs);
	secs_for(r->e, secs);
	create.src = (uintptr_t)secs;
	ret = softsgx_ioctl(r->p, r->e->fd, SGX_IOC_ENCLAVE_CREATE, &create);
	free(secs);
	return ret;
}

static long do_init(struct run *r)
{
	struct sgx_enclave_init init = {.sigstruct = (uintptr_t)&r->e->sigstruct};

	return softsgx_ioctl(r->p, r->e->fd, SGX_IOC_ENCLAVE_INIT, &init);
}

static long do_mmap(struct run *r)
{
	void *addr = (void *)(uintptr_t)r->e->base;

	return softsgx_mmap(r->p, &addr, r->e->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			    r->e->fd, 0);
}

struct access {
	volatile uint64_t *first, *mark;
	uint64_t expect_first, expect_mark, write;
	bool check_mark, ok;
};

static void access_page(void *arg)
{
	struct access *a = arg;

	a->ok = *a->first == a->expect_first && (!a->check_mark || *a->mark == a->expect_mark);
	*a->mark = a->write;
}

/* Touch page @i: a SIGBUS (a reload that ran out of memory) must go away on retry. */
static void touch(struct run *r, enum step s, uint64_t i, bool check_mark)
{
	uint8_t *page = (uint8_t *)(uintptr_t)(r->e->base + i * SGX_PAGE_SIZE);
	struct access a = {
		.first = (volatile uint64_t *)page,
		.mark = (volatile uint64_t *)(page + MARK_OFF),
		.expect_first = i,
		.expect_mark = ~i,
		.write = ~i,
		.check_mark = check_mark,
	};

	if (!ek_try(access_page, &a)) {
		r->failures[s]++;
		assert_true(ek_try(access_page, &a));
	}
	assert_true(a.ok);
}

static void build_and_use(struct run *r)
{
	uint8_t mrenclave[SGX_HASH_SIZE];
	struct softsgx_stats st;
	struct sgx_secs secs;

	memset(r->failures, 0, sizeof(r->failures));
	/*
	 * A fresh reserved range each life: munmap gave the last one back to
	 * the host, where a sanitizer's allocator may have mapped since.
	 */
	r->e->base = ek_free_base(ENCL_SIZE);
	expect_ok_or_enomem(r, S_OPEN, do_open(r), do_open);
	secs_for(r->e, &secs);
	sgx_measure_ecreate(&r->m, secs.ssa_frame_size, secs.size);
	expect_ok_or_enomem(r, S_CREATE, do_create(r), do_create);
	for (uint64_t i = 0; i < 8; i++)
		add_range(r, i, 1);
	add_range(r, 8, NR_REG - 7);
	/* What count reported was added is what was signed. */
	sgx_measure_final(&r->m, mrenclave);
	assert_memory_equal(mrenclave, r->e->mrenclave, SGX_HASH_SIZE);
	expect_ok_or_enomem(r, S_INIT, do_init(r), do_init);
	expect_ok_or_enomem(r, S_MMAP, do_mmap(r), do_mmap);

	for (uint64_t i = 1; i <= NR_REG; i++)
		touch(r, S_TOUCH, i, false);
	/* Evict everything, the SECS included: a page the reclaimer could not take stays. */
	for (int b = 0; b < 8; b++)
		softsgx_reclaim(r->p);
	softsgx_get_stats(r->p, &st);
	assert_int_equal(st.lost_pages, 0);
	/*
	 * Every child is out; so is the SECS, unless its own backing failed
	 * when the last child left (it then stays resident, as on Linux).
	 */
	assert_true(st.in_use_pages == 1 || st.in_use_pages == 2); /* VA page (+ SECS) */
	for (uint64_t i = 1; i <= NR_REG; i++)
		touch(r, S_RELOAD, i, true);

	assert_int_equal(softsgx_munmap(r->p, (void *)(uintptr_t)r->e->base, r->e->size), 0);
	assert_int_equal(softsgx_close(r->p, r->e->fd), 0);
	softsgx_get_stats(r->p, &st);
	assert_int_equal(st.free_pages, st.total_pages);
	assert_int_equal(st.eremove_failures, 0);
	ek_assert_invariant(r->p);
}

static struct softsgx_platform *quiet_platform(void)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = EPC_PAGES * SGX_PAGE_SIZE;
	cfg.no_ksgxd = true; /* only this thread calls into the model: counts repeat */
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

static struct ek_enclave *new_enclave(void)
{
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));

	assert_non_null(e);
	memset(e, 0, sizeof(*e));
	e->size = ENCL_SIZE;
	return e;
}

/* The fixture signs for e->mrenclave: measure one clean run first. */
static void sign_once(struct run *r)
{
	struct sgx_measurement m;
	struct sgx_secs secs;
	uint8_t buf[SGX_PAGE_SIZE] __attribute__((aligned(4096)));
	struct sgx_secinfo si __attribute__((aligned(64))) = {.flags = SGX_SECINFO_TCS};

	secs_for(r->e, &secs);
	sgx_measure_ecreate(&m, secs.ssa_frame_size, secs.size);
	for (uint64_t i = 0; i <= NR_REG; i++) {
		si.flags = i ? SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W : SGX_SECINFO_TCS;
		page_contents(i, buf);
		sgx_measure_eadd(&m, i * SGX_PAGE_SIZE, &si);
		for (unsigned int c = 0; c < SGX_PAGE_SIZE; c += 256)
			sgx_measure_eextend(&m, i * SGX_PAGE_SIZE + c, buf + c);
	}
	sgx_measure_final(&m, r->e->mrenclave);
	ek_sign(r->e);
}

static void sweep_nth(enum sgx_fi_point point, const char *name)
{
	struct run r = {.p = quiet_platform(), .e = new_enclave()};
	unsigned int total[S_NR] = {0};
	uint64_t n;

	sign_once(&r);
	ek_fault_handler_install(r.p);
	for (n = 1;; n++) {
		sgx_fi_fail_nth(point, n);
		build_and_use(&r);
		if (!sgx_fi_failures(point))
			break;
		for (int s = 0; s < S_NR; s++)
			total[s] += r.failures[s];
		assert_true(n < 10000);
	}
	print_message("%s: %llu calls; failed-and-retried open %u create %u add %u init %u "
		      "mmap %u touch %u reload %u (reclaimer kept the page: the rest)\n",
		      name, (unsigned long long)sgx_fi_calls(point), total[S_OPEN], total[S_CREATE],
		      total[S_ADD], total[S_INIT], total[S_MMAP], total[S_TOUCH], total[S_RELOAD]);
	sgx_fi_disarm_all();
	/* Reusable afterwards: one more clean life on the same platform. */
	build_and_use(&r);
	ek_fault_handler_remove();
	lg_platform_free(r.p);
	free(r.e);
}

static void test_host_alloc_nth(void **state)
{
	(void)state;
	sweep_nth(SGX_FI_HOST_ALLOC, "host allocation");
}

static void test_backing_nth(void **state)
{
	(void)state;
	sweep_nth(SGX_FI_BACKING, "backing store");
}

static void test_epc_alloc_nth(void **state)
{
	(void)state;
	sweep_nth(SGX_FI_EPC_ALLOC, "EPC allocation");
}

/*
 * Every call after the Nth fails: the build stops at its first failure with
 * -ENOMEM (an exhausted EPC reclaims what it can first), and close leaves
 * nothing behind. Returns true when the whole build got through.
 */
static bool build_until_failure(struct run *r)
{
	struct sgx_enclave_add_pages add;
	struct sgx_secinfo si __attribute__((aligned(64))) = {.flags = SGX_SECINFO_TCS};
	uint8_t *buf = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	long ret;

	assert_non_null(buf);
	r->e->base = ek_free_base(ENCL_SIZE);
	ret = do_open(r);
	if (ret)
		goto out_nofd;
	ret = do_create(r);
	for (uint64_t i = 0; !ret && i <= NR_REG; i++) {
		si.flags = i ? SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W : SGX_SECINFO_TCS;
		page_contents(i, buf);
		add = (struct sgx_enclave_add_pages){.src = (uintptr_t)buf,
						     .offset = i * SGX_PAGE_SIZE,
						     .length = SGX_PAGE_SIZE,
						     .secinfo = (uintptr_t)&si,
						     .flags = SGX_PAGE_MEASURE};
		ret = softsgx_ioctl(r->p, r->e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add);
		if (ret)
			assert_int_equal(add.count, 0);
	}
	if (!ret)
		ret = do_init(r);
	if (!ret)
		ret = do_mmap(r);
	if (!ret)
		assert_int_equal(softsgx_munmap(r->p, (void *)(uintptr_t)r->e->base, r->e->size),
				 0);
	assert_int_equal(softsgx_close(r->p, r->e->fd), 0);
out_nofd:
	/* Our reservation, unless mmap took it (a failed mmap gave it back already). */
	if (ret)
		munmap((void *)(uintptr_t)r->e->base, r->e->size);
	free(buf);
	if (ret)
		assert_int_equal(ret, -ENOMEM);
	return !ret;
}

static void sweep_after(enum sgx_fi_point point, const char *name)
{
	struct run r = {.p = quiet_platform(), .e = new_enclave()};
	struct softsgx_stats st;
	uint64_t n;

	sign_once(&r);
	for (n = 0;; n++) {
		bool done;

		sgx_fi_fail_after(point, n);
		done = build_until_failure(&r);
		sgx_fi_disarm(point);
		softsgx_get_stats(r.p, &st);
		assert_int_equal(st.free_pages, st.total_pages);
		ek_assert_invariant(r.p);
		if (done)
			break;
		assert_true(n < 10000);
	}
	print_message("%s exhausted after N calls: build fails with -ENOMEM for N < %llu\n", name,
		      (unsigned long long)n);
	ek_fault_handler_install(r.p);
	build_and_use(&r);
	ek_fault_handler_remove();
	lg_platform_free(r.p);
	free(r.e);
}

static void test_host_alloc_exhausted(void **state)
{
	(void)state;
	sweep_after(SGX_FI_HOST_ALLOC, "host memory");
}

static void test_epc_exhausted(void **state)
{
	(void)state;
	sweep_after(SGX_FI_EPC_ALLOC, "EPC");
}

/* Disarmed, the points cost nothing and count nothing. */
static void test_disarmed_counts_nothing(void **state)
{
	struct run r = {.p = quiet_platform(), .e = new_enclave()};

	(void)state;
	sign_once(&r);
	sgx_fi_fail_nth(SGX_FI_HOST_ALLOC, 1000000);
	sgx_fi_disarm(SGX_FI_HOST_ALLOC);
	ek_fault_handler_install(r.p);
	build_and_use(&r);
	ek_fault_handler_remove();
	assert_int_equal(sgx_fi_calls(SGX_FI_HOST_ALLOC), 0);
	assert_int_equal(sgx_fi_failures(SGX_FI_HOST_ALLOC), 0);
	lg_platform_free(r.p);
	free(r.e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_disarmed_counts_nothing),
		LG_TEST(test_host_alloc_nth),
		LG_TEST(test_backing_nth),
		LG_TEST(test_epc_alloc_nth),
		LG_TEST(test_host_alloc_exhausted),
		LG_TEST(test_epc_exhausted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
