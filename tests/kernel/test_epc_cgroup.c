// SPDX-License-Identifier: MIT
/*
 * EPC cgroups (kernel/epc_cgroup.h): tenants, each an mm of its own in a
 * cgroup, build enclaves (and map vEPCs) through the model as clients of a
 * platform service would. Limits hold and reclaim only what they must; the
 * EPC invariant and the cgroup sums are checked after every step.
 *
 * Each tenant's mm realizes its address space at an offset in this process
 * ("shadow", as tests/kernel/test_mm_multi.c), so its faults install real
 * mappings and its zaps really drop them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "kernel/driver.h"
#include "kernel/encl.h"
#include "tests/common/encl_fixture.h"
#include "kernel/epc_cgroup.h"
#include "tests/common/leak_guard.h"
#include "kernel/mm.h"
#include "softsgx/sgx_uapi.h"
#include "kernel/virt.h"

#define PAGE SGX_PAGE_SIZE

struct rec {
	int64_t delta; /* mm address + delta = address in this process */
};

static uint8_t *real(const struct rec *r, uint64_t addr)
{
	return (uint8_t *)(uintptr_t)(addr + (uint64_t)r->delta);
}

static int rec_reserve(struct sgx_mm *mm, uint64_t *addr, uint64_t len, bool fixed)
{
	struct rec *r = mm->ops_data;
	uint64_t a = fixed ? *addr + (uint64_t)r->delta : 0;
	int ret = sgx_mm_reserve(&a, len, fixed);

	if (!ret)
		*addr = a - (uint64_t)r->delta;
	return ret;
}

static int rec_install(struct sgx_mm *mm, struct sgx_kernel *k, const struct sgx_epc_page *page,
		       uint64_t addr, int prot, int walk_prot)
{
	(void)walk_prot;
	return sgx_epc_page_map(k, page, (uintptr_t)real(mm->ops_data, addr), prot);
}

static int rec_zap(struct sgx_mm *mm, const uint64_t *addrs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (sgx_pte_zap((uintptr_t)real(mm->ops_data, addrs[i])))
			return -EFAULT;
	return 0;
}

static int rec_unmap(struct sgx_mm *mm, uint64_t addr, uint64_t len)
{
	return sgx_mm_reserve(&(uint64_t){ (uintptr_t)real(mm->ops_data, addr) }, len, true);
}

static const struct sgx_mm_ops rec_ops = {
	.reserve = rec_reserve,
	.install = rec_install,
	.zap = rec_zap,
	.unmap = rec_unmap,
};

/* A process: its mm in a cgroup, an initialized enclave it maps. */
struct tenant {
	struct rec r;
	struct sgx_mm *mm;
	struct ek_enclave e;
	struct sgx_file *f;
};

static struct softsgx_platform *platform(uint64_t pages, bool ksgxd)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = pages * PAGE;
	cfg.no_ksgxd = !ksgxd;
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

static struct sgx_epc_cgroup *cgroup(struct sgx_kernel *k, const char *path, uint64_t max_pages)
{
	int err;
	struct sgx_epc_cgroup *cg = sgx_epc_cgroup_create(k, path, &err);

	assert_non_null(cg);
	if (max_pages != SGX_EPC_CG_MAX)
		assert_int_equal(sgx_epc_cgroup_set_max(cg, max_pages * PAGE), 0);
	return cg;
}

static uint64_t usage(struct sgx_epc_cgroup *cg)
{
	return atomic_load(&cg->usage) / PAGE;
}

/* The EPC's own invariant and the hierarchy's sums. */
static void check(struct softsgx_platform *p)
{
	bool ok = false;

	ek_assert_invariant(p);
	/* With ksgxd running, a page may be charged and not yet in use: read again, boundedly. */
	for (int i = 0; i < 1000 && !(ok = sgx_epc_cgroup_check(softsgx_kernel(p))); i++)
		usleep(1000);
	assert_true(ok);
}

static struct sgx_mm *tenant_mm(struct tenant *t, struct sgx_epc_cgroup *cg)
{
	memset(&t->r, 0, sizeof(t->r));
	t->mm = sgx_mm_create(&rec_ops, &t->r);
	assert_non_null(t->mm);
	sgx_mm_set_cgroup(t->mm, cg);
	return t->mm;
}

/*
 * The tenant's process creates, adds @nr_reg pages to and initializes an
 * enclave (its ioctls: the pages charge its cgroup), then maps it.
 */
static void tenant_build(struct softsgx_platform *p, struct tenant *t, struct sgx_epc_cgroup *cg,
			 uint64_t nr_reg)
{
	struct sgx_enclave_init init;
	struct sgx_mm *prev;
	uint64_t addr;

	tenant_mm(t, cg);
	prev = sgx_set_current_mm(t->mm);
	ek_create_and_add(p, &t->e, nr_reg);
	ek_sign(&t->e);
	init.sigstruct = (uintptr_t)&t->e.sigstruct;
	assert_int_equal(softsgx_ioctl(p, t->e.fd, SGX_IOC_ENCLAVE_INIT, &init), 0);
	sgx_set_current_mm(prev);
	t->f = softsgx_fget(p, t->e.fd);
	assert_non_null(t->f);
	assert_int_equal(softsgx_close(p, t->e.fd), 0);
	t->r.delta = (int64_t)(ek_free_base(t->e.size) - t->e.base);
	addr = t->e.base;
	assert_int_equal(sgx_file_mmap_mm(t->f, t->mm, &addr, t->e.size, PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_FIXED, 0),
			 0);
	/* The mapping holds the enclave now. */
	sgx_file_put(t->f);
}

static void tenant_exit(struct tenant *t)
{
	sgx_mm_exit(t->mm);
	sgx_mm_put(t->mm);
	t->mm = NULL;
}

static struct sgx_encl_page *entry(struct tenant *t, uint64_t i)
{
	struct sgx_encl *encl = sgx_file_encl(t->f);

	return page_array_load(&encl->page_array, (t->e.base + i * PAGE) / PAGE);
}

static uint64_t resident(struct tenant *t)
{
	struct sgx_encl *encl = sgx_file_encl(t->f);
	uint64_t n = 0;

	pthread_mutex_lock(&encl->lock);
	for (uint64_t i = 0; i < t->e.nr_pages; i++)
		n += entry(t, i)->epc_page != NULL;
	pthread_mutex_unlock(&encl->lock);
	return n;
}

/*
 * Touch page @i through the tenant's mm. A fault that found the cgroup at
 * its max or the EPC full (no reclaim under the enclave's lock) asks
 * ksgxd; with none running, do its share here. Returns the page's first word.
 */
static uint64_t touch(struct softsgx_platform *p, struct tenant *t, uint64_t i)
{
	struct sgx_kernel *k = softsgx_kernel(p);
	uint64_t addr = t->e.base + i * PAGE;

	for (int n = 0; n < 1000; n++) {
		bool mapped;

		assert_int_equal(sgx_handle_fault_mm(k, t->mm, addr, PROT_READ), SGX_FAULT_RETRY);
		pthread_mutex_lock(&sgx_file_encl(t->f)->lock);
		mapped = entry(t, i)->epc_page != NULL;
		pthread_mutex_unlock(&sgx_file_encl(t->f)->lock);
		if (mapped)
			return *(volatile uint64_t *)real(&t->r, addr);
		/* ksgxd's work: the cgroups found at their max, else the EPC's watermark. */
		if (!sgx_epc_cgroup_reclaim_pending(k) && sgx_should_reclaim(k, SGX_NR_HIGH_PAGES))
			sgx_reclaim_pages(k);
	}
	fail_msg("page %llu never came back", (unsigned long long)i);
	return 0;
}

static void read_file(struct sgx_epc_cgroup *cg, const char *file, const char *want)
{
	char buf[128];

	assert_true(sgx_epc_cgroup_read(cg, file, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, want);
}

/* Paths, the misc files and their formats, misc.max writes, rmdir's rules. */
static void test_tree_and_files(void **state)
{
	struct softsgx_platform *p = platform(64, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_epc_cgroup *root = sgx_epc_cgroup_root(k), *a, *b;
	struct sgx_epc_cgroup_usage u[4];
	char buf[128];
	int err;

	(void)state;
	assert_ptr_equal(sgx_epc_cgroup_find(k, "/"), root);
	b = sgx_epc_cgroup_create(k, "/a/b", &err);
	assert_non_null(b);
	a = sgx_epc_cgroup_find(k, "/a");
	assert_non_null(a);
	assert_ptr_equal(b->parent, a);
	assert_ptr_equal(sgx_epc_cgroup_find(k, "//a//b/"), b);
	assert_null(sgx_epc_cgroup_find(k, "/c"));
	assert_null(sgx_epc_cgroup_create(k, "a", &err));
	assert_int_equal(err, -EINVAL);
	assert_null(sgx_epc_cgroup_create(k, "/a/../b", &err));
	assert_int_equal(err, -EINVAL);
	sgx_epc_cgroup_path(b, buf, sizeof(buf));
	assert_string_equal(buf, "/a/b");
	sgx_epc_cgroup_path(root, buf, sizeof(buf));
	assert_string_equal(buf, "/");

	read_file(root, "misc.capacity", "sgx_epc 262144\n");
	read_file(root, "misc.current", "sgx_epc 0\n");
	assert_int_equal(sgx_epc_cgroup_read(root, "misc.max", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(sgx_epc_cgroup_read(root, "misc.events", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(sgx_epc_cgroup_read(a, "misc.capacity", buf, sizeof(buf)), -ENOENT);
	read_file(a, "misc.max", "sgx_epc max\n");
	read_file(a, "misc.events", "sgx_epc.max 0\n");
	read_file(a, "misc.events.local", "sgx_epc.max 0\n");
	assert_int_equal(sgx_epc_cgroup_write_max(a, "sgx_epc 40960\n"), 0);
	read_file(a, "misc.max", "sgx_epc 40960\n");
	assert_int_equal(sgx_epc_cgroup_write_max(a, "sgx_epc 0x3000"), 0);
	read_file(a, "misc.max", "sgx_epc 12288\n");
	assert_int_equal(sgx_epc_cgroup_write_max(a, "sgx_epc max"), 0);
	read_file(a, "misc.max", "sgx_epc max\n");
	assert_int_equal(sgx_epc_cgroup_write_max(a, "sgx_vepc 1"), -EINVAL);
	assert_int_equal(sgx_epc_cgroup_write_max(a, "sgx_epc -1"), -EINVAL);
	assert_int_equal(sgx_epc_cgroup_write_max(a, "sgx_epc 12x"), -EINVAL);
	assert_int_equal(sgx_epc_cgroup_set_max(root, 0), -EINVAL);

	assert_int_equal(sgx_epc_cgroup_usage(k, u, 4), 3);
	assert_string_equal(u[0].path, "/");
	assert_string_equal(u[1].path, "/a");
	assert_string_equal(u[2].path, "/a/b");
	assert_int_equal(u[2].max, SGX_EPC_CG_MAX);

	/* rmdir: not the root, not with children, not with a process in it. */
	assert_int_equal(sgx_epc_cgroup_remove(k, "/"), -EINVAL);
	assert_int_equal(sgx_epc_cgroup_remove(k, "/a"), -EBUSY);
	{
		struct tenant t;

		tenant_mm(&t, b);
		assert_int_equal(sgx_epc_cgroup_remove(k, "/a/b"), -EBUSY);
		tenant_exit(&t);
	}
	assert_int_equal(sgx_epc_cgroup_remove(k, "/a/b"), 0);
	assert_int_equal(sgx_epc_cgroup_remove(k, "/a/b"), -ENOENT);
	assert_int_equal(sgx_epc_cgroup_remove(k, "/a"), 0);
	assert_int_equal(sgx_epc_cgroup_usage(k, u, 4), 1);
	check(p);
	lg_platform_free(p);
}

/*
 * A cgroup at its max evicts only its own pages: A builds an enclave twice
 * its limit and reads all of it, B's enclave stays resident throughout.
 */
static void test_limit_evicts_own_pages(void **state)
{
	struct softsgx_platform *p = platform(256, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_epc_cgroup *ca = cgroup(k, "/a", 24), *cb = cgroup(k, "/b", SGX_EPC_CG_MAX);
	struct tenant a, b;
	struct softsgx_stats st;

	(void)state;
	tenant_build(p, &b, cb, 20);
	check(p);
	assert_int_equal(resident(&b), 21);
	tenant_build(p, &a, ca, 48);
	check(p);
	assert_true(usage(ca) <= 24);
	assert_true(atomic_load(&ca->events) > 0);
	assert_int_equal(atomic_load(&cb->events), 0);
	assert_int_equal(resident(&b), 21);
	softsgx_get_stats(p, &st);
	assert_true(st.evictions >= 48 + 3 - 24);

	/* Every page of A reads back, reloaded within A's limit; B untouched. */
	for (uint64_t i = 1; i <= 48; i++) {
		assert_int_equal(touch(p, &a, i), i);
		assert_true(usage(ca) <= 24);
		check(p);
	}
	assert_int_equal(resident(&b), 21);
	for (uint64_t i = 1; i <= 20; i++)
		assert_int_equal(touch(p, &b, i), i);

	tenant_exit(&a);
	check(p);
	assert_int_equal(usage(ca), 0);
	tenant_exit(&b);
	check(p);
	assert_int_equal(usage(cb), 0);
	assert_int_equal(usage(sgx_epc_cgroup_root(k)), 0);
	lg_platform_free(p);
}

/*
 * Global reclaim still spans every cgroup, oldest pages first whatever
 * their cgroup; two unlimited cgroups on an EPC smaller than both enclaves
 * evict each other.
 */
static void test_global_reclaim(void **state)
{
	struct softsgx_platform *p = platform(48, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_epc_cgroup *ca = cgroup(k, "/a", SGX_EPC_CG_MAX);
	struct sgx_epc_cgroup *cb = cgroup(k, "/b/c", SGX_EPC_CG_MAX);
	struct tenant a, a2, b;
	struct softsgx_stats st;
	uint64_t evictions;

	(void)state;
	tenant_build(p, &a, ca, 20);
	tenant_build(p, &b, cb, 20);
	check(p);
	/* A's pages are older: one batch takes 16 of them and none of B's. */
	assert_int_equal(sgx_reclaim_pages(k), 16);
	assert_int_equal(resident(&a), 21 - 16);
	assert_int_equal(resident(&b), 21);
	assert_int_equal(usage(ca), 23 - 16);
	check(p);
	/* A's last 5, then B's oldest 11; A's SECS follows its last child out. */
	assert_int_equal(sgx_reclaim_pages(k), 16);
	assert_int_equal(resident(&a), 0);
	assert_int_equal(resident(&b), 21 - 11);
	assert_int_equal(usage(ca), 1); /* its VA page */
	check(p);
	/*
	 * A second enclave in A: 66 pages wanted of 48. Each reads its whole
	 * enclave, round after round: they evict each other.
	 */
	tenant_build(p, &a2, ca, 20);
	check(p);
	softsgx_get_stats(p, &st);
	evictions = st.evictions;
	for (int round = 0; round < 2; round++) {
		for (uint64_t i = 1; i <= 20; i++) {
			assert_int_equal(touch(p, &a, i), i);
			assert_int_equal(touch(p, &b, i), i);
			assert_int_equal(touch(p, &a2, i), i);
			check(p);
		}
	}
	softsgx_get_stats(p, &st);
	assert_true(st.evictions - evictions >= 2 * (66 - 48));
	assert_int_equal(atomic_load(&ca->events) + atomic_load(&cb->events), 0);
	tenant_exit(&a);
	tenant_exit(&a2);
	tenant_exit(&b);
	check(p);
	assert_int_equal(usage(ca) + usage(cb), 0);
	lg_platform_free(p);
}

/* Two limited cgroups contend on an EPC smaller than both enclaves: each stays within its own. */
static void test_two_limited_contend(void **state)
{
	struct softsgx_platform *p = platform(64, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_epc_cgroup *ca = cgroup(k, "/a", 20), *cb = cgroup(k, "/b", 30);
	struct tenant a, b;

	(void)state;
	tenant_build(p, &a, ca, 40);
	check(p);
	tenant_build(p, &b, cb, 40);
	check(p);
	for (int round = 0; round < 2; round++) {
		for (uint64_t i = 1; i <= 40; i++) {
			assert_int_equal(touch(p, &a, i), i);
			assert_int_equal(touch(p, &b, 41 - i), 41 - i);
			assert_true(usage(ca) <= 20);
			assert_true(usage(cb) <= 30);
			check(p);
		}
	}
	assert_true(atomic_load(&ca->events) > 0);
	assert_true(atomic_load(&cb->events) > 0);
	tenant_exit(&a);
	tenant_exit(&b);
	/*
	 * A page ksgxd isolated in a batch keeps its enclave until the batch
	 * ends (the reclaimer holds the enclave for it): the last release, and
	 * its uncharge, may come a moment later on ksgxd's thread.
	 */
	for (int ms = 0; ms < 5000 && usage(ca) + usage(cb); ms++)
		usleep(1000);
	check(p);
	assert_int_equal(usage(ca) + usage(cb), 0);
	lg_platform_free(p);
}

static int create_only(struct softsgx_platform *p, int *fd)
{
	struct sgx_secs *secs = aligned_alloc(PAGE, PAGE);
	struct sgx_enclave_create create;
	int ret;

	assert_non_null(secs);
	*fd = softsgx_open(p, "/dev/sgx_enclave", 0);
	assert_true(*fd >= 0);
	ek_secs(secs, ek_free_base(2 * PAGE), 2 * PAGE);
	create.src = (uintptr_t)secs;
	ret = (int)softsgx_ioctl(p, *fd, SGX_IOC_ENCLAVE_CREATE, &create);
	free(secs);
	return ret;
}

/*
 * A cgroup full of pages nothing can reclaim (SECS and VA pages of
 * enclaves with no children, vEPC pages) gets ENOMEM from ECREATE and
 * ADD_PAGES and SIGBUS from a vEPC fault; the other keeps working.
 */
static void test_unreclaimable_enomem(void **state)
{
	struct softsgx_platform *p = platform(128, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_epc_cgroup *ca = cgroup(k, "/a", 9), *cb = cgroup(k, "/b", 24);
	struct tenant a, b;
	struct sgx_mm *prev;
	struct sgx_file *f;
	int fds[4], vfd, err;
	uint64_t va = 0;

	(void)state;
	tenant_mm(&a, ca);
	prev = sgx_set_current_mm(a.mm);
	/* Four enclaves' SECS and VA pages: 8 of A's 9. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(create_only(p, &fds[i]), 0);
	assert_int_equal(usage(ca), 8);
	check(p);
	/* The fifth needs two: VA page charged, SECS refused. */
	{
		int fd;

		assert_int_equal(create_only(p, &fd), -ENOMEM);
		assert_int_equal(softsgx_close(p, fd), 0);
	}
	assert_int_equal(usage(ca), 8);
	check(p);

	/* A vEPC in A: one page fits, the next faults SIGBUS. */
	vfd = softsgx_open(p, "/dev/sgx_vepc", 0);
	assert_true(vfd >= 0);
	f = softsgx_fget(p, vfd);
	assert_non_null(f);
	assert_int_equal(softsgx_close(p, vfd), 0);
	assert_int_equal(sgx_file_mmap_mm(f, a.mm, &va, 4 * PAGE, PROT_READ | PROT_WRITE,
					  MAP_SHARED, 0),
			 0);
	sgx_file_put(f);
	sgx_set_current_mm(prev);
	assert_int_equal(sgx_handle_fault_mm(k, a.mm, va, PROT_WRITE), SGX_FAULT_RETRY);
	assert_int_equal(usage(ca), 9);
	assert_int_equal(sgx_handle_fault_mm(k, a.mm, va + PAGE, PROT_WRITE), SGX_FAULT_SIGBUS);
	assert_int_equal(sgx_vepc_populate_mm(k, a.mm, va, 4 * PAGE), -ENOMEM);
	check(p);
	/* ADD_PAGES in A: ENOMEM, nothing added. */
	{
		struct sgx_secinfo si __attribute__((aligned(64))) = {
			.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
		};
		uint8_t *src = aligned_alloc(PAGE, PAGE);
		struct sgx_enclave_add_pages add = {
			.length = PAGE,
			.secinfo = (uintptr_t)&si,
		};

		assert_non_null(src);
		memset(src, 0x5A, PAGE);
		add.src = (uintptr_t)src;
		prev = sgx_set_current_mm(a.mm);
		assert_int_equal(softsgx_ioctl(p, fds[1], SGX_IOC_ENCLAVE_ADD_PAGES, &add), -ENOMEM);
		sgx_set_current_mm(prev);
		assert_int_equal(add.count, 0);
		free(src);
	}
	assert_int_equal(usage(ca), 9);
	check(p);

	/* B is unaffected: builds past its own limit and reads everything. */
	tenant_build(p, &b, cb, 40);
	for (uint64_t i = 1; i <= 40; i++)
		assert_int_equal(touch(p, &b, i), i);
	assert_true(usage(cb) <= 24);
	check(p);

	/* Freed: A can allocate again. */
	assert_int_equal(softsgx_close(p, fds[0]), 0);
	assert_int_equal(usage(ca), 7);
	assert_int_equal(sgx_handle_fault_mm(k, a.mm, va + PAGE, PROT_WRITE), SGX_FAULT_RETRY);
	for (int i = 1; i < 4; i++)
		assert_int_equal(softsgx_close(p, fds[i]), 0);
	tenant_exit(&a);
	tenant_exit(&b);
	for (int ms = 0; ms < 5000 && usage(ca) + usage(cb); ms++)
		usleep(1000); /* a release ksgxd's batch finishes (see above) */
	check(p);
	assert_int_equal(usage(ca) + usage(cb), 0);
	(void)err;
	lg_platform_free(p);
}

/*
 * Batch allocation (sgx_alloc_epc_pages(), an enclave build's) in a
 * limited cgroup: all within every level's limit or nothing, with no
 * event counted for the refusal and no level ever above its limit; the
 * single allocation after it is refused and counted as before.
 */
static void test_batch_charge(void **state)
{
	struct softsgx_platform *p = platform(128, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_epc_cgroup *ca = cgroup(k, "/a", 12), *cb = cgroup(k, "/a/b", 10);
	struct sgx_epc_page *pages[16];
	struct tenant t;
	struct sgx_mm *prev;
	unsigned int n;
	int err;

	(void)state;
	tenant_mm(&t, cb);
	prev = sgx_set_current_mm(t.mm);
	/* Past b's limit: none, nothing charged, no event. */
	assert_int_equal(sgx_alloc_epc_pages(k, pages, 11), 0);
	assert_int_equal(usage(cb) + usage(ca), 0);
	assert_int_equal(atomic_load(&cb->events), 0);
	assert_int_equal(atomic_load(&cb->peak), 0);
	/* Within it: all, charged at every level, peaks raised. */
	n = sgx_alloc_epc_pages(k, pages, 10);
	assert_int_equal(n, 10);
	for (unsigned int i = 0; i < n; i++)
		assert_ptr_equal(pages[i]->cg, cb);
	assert_int_equal(usage(cb), 10);
	assert_int_equal(usage(ca), 10);
	assert_int_equal(atomic_load(&cb->peak), 10 * PAGE);
	assert_int_equal(atomic_load(&ca->peak), 10 * PAGE);
	assert_int_equal(sgx_alloc_epc_pages(k, pages + n, 1), 0);
	assert_int_equal(atomic_load(&cb->events), 0);
	/* One page at a time is refused and counted, as misc_cg_try_charge(). */
	assert_null(sgx_alloc_epc_page(k, NULL, false, &err));
	assert_int_equal(err, -ENOMEM); /* nothing of b's is reclaimable */
	assert_int_equal(atomic_load(&cb->events), 1);
	for (unsigned int i = 0; i < n; i++)
		sgx_free_epc_page(k, pages[i]);
	assert_int_equal(usage(cb) + usage(ca), 0);
	/* The parent's limit refuses too: a's 12 over b's "max". */
	assert_int_equal(sgx_epc_cgroup_set_max(cb, SGX_EPC_CG_MAX), 0);
	assert_int_equal(sgx_alloc_epc_pages(k, pages, 13), 0);
	assert_int_equal(usage(cb) + usage(ca), 0);
	assert_int_equal(sgx_alloc_epc_pages(k, pages, 12), 12);
	assert_int_equal(usage(ca), 12);
	for (unsigned int i = 0; i < 12; i++)
		sgx_free_epc_page(k, pages[i]);
	sgx_set_current_mm(prev);
	tenant_exit(&t);
	check(p);
	lg_platform_free(p);
}

/* A parent's limit bounds its children together; a child's own limit bounds it alone. */
static void test_hierarchical(void **state)
{
	struct softsgx_platform *p = platform(256, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_epc_cgroup *par = cgroup(k, "/p", 32);
	struct sgx_epc_cgroup *x = cgroup(k, "/p/x", SGX_EPC_CG_MAX);
	struct sgx_epc_cgroup *y = cgroup(k, "/p/y", 10);
	struct sgx_epc_cgroup *other = cgroup(k, "/o", SGX_EPC_CG_MAX);
	struct tenant tx, ty, to;

	(void)state;
	tenant_build(p, &to, other, 16);
	tenant_build(p, &tx, x, 24);
	check(p);
	assert_int_equal(usage(x), 27); /* SECS, VA, TCS, 24 */
	assert_int_equal(usage(par), 27);
	tenant_build(p, &ty, y, 24);
	check(p);
	assert_true(usage(y) <= 10);
	assert_true(usage(par) <= 32);
	assert_int_equal(usage(par), usage(x) + usage(y));
	assert_true(atomic_load(&y->events_local) > 0);
	for (uint64_t i = 1; i <= 24; i++) {
		assert_int_equal(touch(p, &tx, i), i);
		assert_int_equal(touch(p, &ty, i), i);
		assert_true(usage(y) <= 10);
		assert_true(usage(par) <= 32);
		check(p);
	}
	/* x's growth hit the parent's limit: counted there and above, not in x. */
	assert_true(atomic_load(&par->events_local) > 0);
	assert_true(atomic_load(&par->events) >= atomic_load(&par->events_local) +
							 atomic_load(&y->events));
	assert_int_equal(atomic_load(&x->events), 0);
	/* The cgroup outside was never touched. */
	assert_int_equal(resident(&to), 17);
	assert_int_equal(atomic_load(&other->events), 0);
	tenant_exit(&tx);
	tenant_exit(&ty);
	tenant_exit(&to);
	check(p);
	assert_int_equal(usage(par) + usage(other), 0);
	lg_platform_free(p);
}

/*
 * Lowering max below usage reclaims down to it at once; a limit below
 * what cannot be reclaimed stays set, reclaims all it can and says -EBUSY.
 */
static void test_lowered_limit_reclaims(void **state)
{
	struct softsgx_platform *p = platform(256, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_epc_cgroup *ca = cgroup(k, "/a", SGX_EPC_CG_MAX);
	struct tenant a;
	char buf[64];

	(void)state;
	tenant_build(p, &a, ca, 40);
	assert_int_equal(usage(ca), 43);
	assert_int_equal(sgx_epc_cgroup_write_max(ca, "sgx_epc 65536\n"), 0);
	assert_true(usage(ca) <= 16);
	check(p);
	for (uint64_t i = 1; i <= 40; i++)
		assert_int_equal(touch(p, &a, i), i);
	assert_true(usage(ca) <= 16);
	/* Everything goes but the VA page (the SECS follows its last child out). */
	assert_int_equal(sgx_epc_cgroup_set_max(ca, 0), -EBUSY);
	assert_int_equal(usage(ca), 1);
	assert_int_equal(resident(&a), 0);
	/* A fault at the limit with nothing to reclaim: SIGBUS (the SECS cannot come back). */
	assert_int_equal(sgx_handle_fault_mm(k, a.mm, a.e.base + 5 * PAGE, PROT_READ),
			 SGX_FAULT_SIGBUS);
	assert_int_equal(usage(ca), 1);
	sgx_epc_cgroup_read(ca, "misc.max", buf, sizeof(buf));
	assert_string_equal(buf, "sgx_epc 0\n");
	check(p);
	/* Raised again: the enclave runs. */
	assert_int_equal(sgx_epc_cgroup_set_max(ca, SGX_EPC_CG_MAX), 0);
	assert_int_equal(touch(p, &a, 7), 7);
	tenant_exit(&a);
	check(p);
	assert_int_equal(usage(ca), 0);
	lg_platform_free(p);
}

/*
 * vEPC pages charge the mm that faults or populates them; REMOVE_ALL
 * EREMOVEs them but they stay the instance's (charged, as in use), the
 * last release uncharges. Private mode (no mm given) charges the root.
 */
static void test_vepc_charged(void **state)
{
	struct softsgx_platform *p = platform(64, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_epc_cgroup *cv = cgroup(k, "/vm", SGX_EPC_CG_MAX);
	struct sgx_epc_cgroup *root = sgx_epc_cgroup_root(k);
	struct tenant v;
	struct sgx_file *f;
	uint64_t va = 0;
	int fd, lfd;
	void *local;

	(void)state;
	tenant_mm(&v, cv);
	fd = softsgx_open(p, "/dev/sgx_vepc", 0);
	assert_true(fd >= 0);
	f = softsgx_fget(p, fd);
	assert_non_null(f);
	assert_int_equal(sgx_file_mmap_mm(f, v.mm, &va, 8 * PAGE, PROT_READ | PROT_WRITE,
					  MAP_SHARED, 0),
			 0);
	assert_int_equal(sgx_handle_fault_mm(k, v.mm, va + 3 * PAGE, PROT_WRITE), SGX_FAULT_RETRY);
	assert_int_equal(usage(cv), 1);
	assert_int_equal(sgx_vepc_populate_mm(k, v.mm, va, 8 * PAGE), 0);
	assert_int_equal(usage(cv), 8);
	assert_int_equal(usage(root), 8);
	check(p);
	assert_int_equal(softsgx_ioctl(p, fd, SGX_IOC_VEPC_REMOVE_ALL, NULL), 0);
	assert_int_equal(usage(cv), 8);
	check(p);

	/* The model's own process (private mode): the root pays. */
	lfd = softsgx_open(p, "/dev/sgx_vepc", 0);
	assert_true(lfd >= 0);
	local = NULL;
	assert_int_equal(softsgx_mmap(p, &local, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, lfd,
				      0),
			 0);
	assert_int_equal(sgx_vepc_populate(k, (uintptr_t)local, 2 * PAGE), 0);
	assert_int_equal(usage(cv), 8);
	assert_int_equal(usage(root), 10);
	check(p);
	assert_int_equal(softsgx_munmap(p, local, 2 * PAGE), 0);
	assert_int_equal(softsgx_close(p, lfd), 0);
	assert_int_equal(usage(root), 8);

	assert_int_equal(softsgx_close(p, fd), 0);
	sgx_file_put(f);
	assert_int_equal(usage(cv), 8); /* the mapping still holds it */
	tenant_exit(&v);
	check(p);
	assert_int_equal(usage(cv), 0);
	assert_int_equal(usage(root), 0);
	lg_platform_free(p);
}

/* A forked mm charges its parent's cgroup; charges stay where they were made when an mm moves. */
static void test_fork_and_move(void **state)
{
	struct softsgx_platform *p = platform(128, false);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_epc_cgroup *ca = cgroup(k, "/a", SGX_EPC_CG_MAX);
	struct sgx_epc_cgroup *cb = cgroup(k, "/b", SGX_EPC_CG_MAX);
	struct tenant a;
	struct rec rc = { 0 };
	struct sgx_mm *child;
	int err;

	(void)state;
	tenant_build(p, &a, ca, 8);
	assert_int_equal(usage(ca), 11);
	child = sgx_mm_fork(a.mm, &rec_ops, &rc, &err);
	assert_non_null(child);
	assert_ptr_equal(sgx_mm_cgroup(k, child), ca);
	assert_int_equal(ca->nr_mms, 2);
	sgx_mm_set_cgroup(a.mm, cb);
	assert_int_equal(usage(ca), 11);
	assert_int_equal(usage(cb), 0);
	/* Evicted and reloaded by a fault in the moved mm: now B's. */
	assert_int_equal(sgx_epc_cgroup_set_max(ca, 0), -EBUSY);
	assert_int_equal(usage(ca), 1);
	assert_int_equal(sgx_epc_cgroup_set_max(ca, SGX_EPC_CG_MAX), 0);
	assert_int_equal(touch(p, &a, 3), 3);
	assert_int_equal(usage(cb), 2); /* SECS and the page */
	check(p);
	sgx_mm_exit(child);
	sgx_mm_put(child);
	tenant_exit(&a);
	check(p);
	assert_int_equal(usage(ca) + usage(cb), 0);
	assert_int_equal(sgx_epc_cgroup_remove(k, "/a"), 0);
	assert_int_equal(sgx_epc_cgroup_remove(k, "/b"), 0);
	lg_platform_free(p);
}

/*
 * Threads (run under TSan by make check): two tenants in limited cgroups,
 * ksgxd running, each touching its enclave from a fresh thread while the
 * other does; global pressure too (the EPC is smaller than both).
 */
struct worker {
	struct softsgx_platform *p;
	struct tenant *t;
	uint64_t nr;
	int bad;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct sgx_kernel *k = softsgx_kernel(w->p);

	for (int round = 0; round < 3; round++) {
		for (uint64_t i = 1; i <= w->nr; i++) {
			uint64_t addr = w->t->e.base + i * PAGE;
			enum sgx_fault_result r;
			int n = 0;

			/* Until it is there and reads back: ksgxd makes room meanwhile. */
			for (;;) {
				struct sgx_encl *encl = sgx_file_encl(w->t->f);
				bool ok;

				r = sgx_handle_fault_mm(k, w->t->mm, addr, PROT_READ);
				if (r != SGX_FAULT_RETRY) {
					w->bad++;
					break;
				}
				pthread_mutex_lock(&encl->lock);
				ok = entry(w->t, i)->epc_page &&
				     *(volatile uint64_t *)real(&w->t->r, addr) == i;
				pthread_mutex_unlock(&encl->lock);
				if (ok)
					break;
				if (++n > 100000) {
					w->bad++;
					break;
				}
				sched_yield();
			}
		}
	}
	return NULL;
}

static void test_threads_contend(void **state)
{
	struct softsgx_platform *p = platform(48, true);
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_epc_cgroup *ca = cgroup(k, "/a", 16), *cb = cgroup(k, "/b", 24);
	struct tenant a, b;
	struct worker wa = { p, &a, 30, 0 }, wb = { p, &b, 30, 0 };
	pthread_t ta, tb;

	(void)state;
	tenant_build(p, &a, ca, 30);
	tenant_build(p, &b, cb, 30);
	assert_int_equal(pthread_create(&ta, NULL, worker, &wa), 0);
	assert_int_equal(pthread_create(&tb, NULL, worker, &wb), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(wa.bad + wb.bad, 0);
	assert_true(usage(ca) <= 16);
	assert_true(usage(cb) <= 24);
	check(p);
	tenant_exit(&a);
	tenant_exit(&b);
	/*
	 * A page ksgxd isolated in a batch keeps its enclave until the batch
	 * ends (the reclaimer holds the enclave for it): the last release, and
	 * its uncharge, may come a moment later on ksgxd's thread.
	 */
	for (int ms = 0; ms < 5000 && usage(ca) + usage(cb); ms++)
		usleep(1000);
	check(p);
	assert_int_equal(usage(ca) + usage(cb), 0);
	lg_platform_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_tree_and_files),
		LG_TEST(test_limit_evicts_own_pages),
		LG_TEST(test_two_limited_contend),
		LG_TEST(test_global_reclaim),
		LG_TEST(test_unreclaimable_enomem),
		LG_TEST(test_batch_charge),
		LG_TEST(test_hierarchical),
		LG_TEST(test_lowered_limit_reclaims),
		LG_TEST(test_vepc_charged),
		LG_TEST(test_fork_and_move),
		LG_TEST(test_threads_contend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
