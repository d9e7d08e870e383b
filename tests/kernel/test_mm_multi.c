// SPDX-License-Identifier: MIT
/*
 * The kernel model serving several address spaces in one process: mms with
 * recording operations, each realizing its address space at its own offset
 * ("shadow") in this process, so two mms can map one enclave at the same
 * enclave address. Eviction zaps a page in every mm that maps it, a fault
 * reloads into one; fork() copies VMAs and shares enclaves; exit releases
 * them on the last reference; vEPC pages are shared the same way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "kernel/driver.h"
#include "kernel/encl.h"
#include "tests/common/encl_fixture.h"
#include "kernel/mm.h"
#include "softsgx/sgx_uapi.h"
#include "kernel/usage.h"
#include "kernel/virt.h"
#include "tests/common/leak_guard.h"

#define PAGE SGX_PAGE_SIZE
#define NR_REG 6
#define MAX_REC 256

/* What one mm's operations saw, and where its address space lives here. */
struct rec {
	int64_t delta; /* mm address + delta = address in this process */
	unsigned int installs, zaps, unmaps, user_copies;
	uint64_t install_addr[MAX_REC], zap_addr[MAX_REC];
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
	struct rec *r = mm->ops_data;

	if (r->installs < MAX_REC)
		r->install_addr[r->installs] = addr;
	r->installs++;
	return sgx_epc_page_map(k, page, (uintptr_t)real(r, addr), prot);
}

static int rec_zap(struct sgx_mm *mm, const uint64_t *addrs, unsigned int n)
{
	struct rec *r = mm->ops_data;

	for (unsigned int i = 0; i < n; i++) {
		if (r->zaps < MAX_REC)
			r->zap_addr[r->zaps] = addrs[i];
		r->zaps++;
		assert_int_equal(sgx_pte_zap((uintptr_t)real(r, addrs[i])), 0);
	}
	return 0;
}

static int rec_unmap(struct sgx_mm *mm, uint64_t addr, uint64_t len)
{
	struct rec *r = mm->ops_data;

	r->unmaps++;
	/* Leave the shadow reserved: another mm's test may still want the range free. */
	return sgx_mm_reserve(&(uint64_t){ (uintptr_t)real(r, addr) }, len, true);
}

static const struct sgx_mm_ops rec_ops = {
	.reserve = rec_reserve,
	.install = rec_install,
	.zap = rec_zap,
	.unmap = rec_unmap,
};

static bool recorded(const uint64_t *addrs, unsigned int n, uint64_t addr)
{
	for (unsigned int i = 0; i < n && i < MAX_REC; i++)
		if (addrs[i] == addr)
			return true;
	return false;
}

/* A shadow for an mm's view of [base, base + size). */
static void rec_init(struct rec *r, uint64_t base, uint64_t size)
{
	memset(r, 0, sizeof(*r));
	r->delta = (int64_t)(ek_free_base(size) - base);
}

struct fixture {
	struct softsgx_platform *p;
	struct sgx_kernel *k;
	struct ek_enclave e;
	struct sgx_file *f;
};

static struct softsgx_platform *platform(void)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 256 * PAGE;
	cfg.no_ksgxd = true; /* reclaim only when the test says */
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

/* An initialized enclave whose only reference is the returned file (no descriptor, no mapping). */
static void build(struct fixture *fx)
{
	struct sgx_enclave_init init;

	fx->p = platform();
	fx->k = softsgx_kernel(fx->p);
	ek_create_and_add(fx->p, &fx->e, NR_REG);
	ek_sign(&fx->e);
	init.sigstruct = (uintptr_t)&fx->e.sigstruct;
	assert_int_equal(softsgx_ioctl(fx->p, fx->e.fd, SGX_IOC_ENCLAVE_INIT, &init), 0);
	fx->f = softsgx_fget(fx->p, fx->e.fd);
	assert_non_null(fx->f);
	assert_int_equal(softsgx_close(fx->p, fx->e.fd), 0);
}

static struct sgx_mm *new_mm(struct rec *r)
{
	struct sgx_mm *mm = sgx_mm_create(&rec_ops, r);

	assert_non_null(mm);
	return mm;
}

static void map_encl(struct fixture *fx, struct sgx_mm *mm)
{
	uint64_t addr = fx->e.base;

	assert_int_equal(sgx_file_mmap_mm(fx->f, mm, &addr, fx->e.size, PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_FIXED, 0),
			 0);
	assert_int_equal(addr, fx->e.base);
}

static uint64_t page_addr(struct fixture *fx, uint64_t i)
{
	return fx->e.base + i * PAGE;
}

static struct sgx_encl_page *entry(struct fixture *fx, uint64_t i)
{
	return page_array_load(&sgx_file_encl(fx->f)->page_array, page_addr(fx, i) / PAGE);
}

static unsigned int nr_encl_mms(struct fixture *fx)
{
	struct sgx_encl *encl = sgx_file_encl(fx->f);
	struct list_head *pos;
	unsigned int n = 0;

	pthread_mutex_lock(&encl->lock);
	for (pos = encl->mm_list.next; pos != &encl->mm_list; pos = pos->next)
		n++;
	pthread_mutex_unlock(&encl->lock);
	return n;
}

static uint64_t encl_mm_bit(struct fixture *fx, struct sgx_mm *mm)
{
	struct sgx_vma *vma;
	uint64_t bit;

	pthread_rwlock_rdlock(&mm->lock);
	vma = sgx_find_vma(mm, fx->e.base);
	assert_non_null(vma);
	bit = vma->pte_bit;
	pthread_rwlock_unlock(&mm->lock);
	return bit;
}

static void fault(struct fixture *fx, struct sgx_mm *mm, uint64_t i, int access)
{
	assert_int_equal(sgx_handle_fault_mm(fx->k, mm, page_addr(fx, i), access), SGX_FAULT_RETRY);
}

/* Reclaim until page @i is out (a young page survives one look). */
static void evict(struct fixture *fx, uint64_t i)
{
	for (int n = 0; n < 64 && entry(fx, i)->epc_page; n++)
		sgx_reclaim_pages(fx->k);
	assert_null(entry(fx, i)->epc_page);
}

/* Nothing left in use: every page went back (no leak), and the invariant holds. */
static void assert_all_free(struct softsgx_platform *p)
{
	struct softsgx_stats st;

	ek_assert_invariant(p);
	softsgx_get_stats(p, &st);
	assert_int_equal(st.in_use_pages, 0);
	assert_int_equal(st.zombie_pages, 0);
	assert_int_equal(st.free_pages + st.leaked_pages, st.total_pages);
}

static void finish(struct fixture *fx)
{
	assert_all_free(fx->p);
	lg_platform_free(fx->p);
}

/* Two mms map one enclave; eviction zaps both; a fault in B reloads into B only. */
static void test_evict_zaps_every_mm(void **state)
{
	struct fixture fx;
	struct rec ra, rb;
	struct sgx_mm *a, *b;
	struct softsgx_stats st;
	uint64_t reloads, pg;
	void *epc;

	(void)state;
	build(&fx);
	pg = page_addr(&fx, 1);
	rec_init(&ra, fx.e.base, fx.e.size);
	rec_init(&rb, fx.e.base, fx.e.size);
	a = new_mm(&ra);
	b = new_mm(&rb);
	map_encl(&fx, a);
	assert_int_equal(nr_encl_mms(&fx), 1);
	map_encl(&fx, b);
	assert_int_equal(nr_encl_mms(&fx), 2);
	assert_int_not_equal(encl_mm_bit(&fx, a), encl_mm_bit(&fx, b));
	/* The mms own the file now: the fixture's reference goes. */
	sgx_file_put(fx.f);

	fault(&fx, a, 1, PROT_WRITE);
	fault(&fx, b, 1, PROT_READ);
	assert_int_equal(ra.installs, 1);
	assert_int_equal(rb.installs, 1);
	assert_int_equal(entry(&fx, 1)->mapped, encl_mm_bit(&fx, a) | encl_mm_bit(&fx, b));
	/* One EPC page behind both: a store through A is read through B. */
	assert_int_equal(*(uint64_t *)real(&ra, pg), 1);
	assert_int_equal(real(&rb, pg)[100], ek_pattern(1));
	*(uint64_t *)(real(&ra, pg) + 200) = 0xC0FFEE;
	assert_int_equal(*(uint64_t *)(real(&rb, pg) + 200), 0xC0FFEE);

	evict(&fx, 1);
	assert_true(recorded(ra.zap_addr, ra.zaps, pg));
	assert_true(recorded(rb.zap_addr, rb.zaps, pg));
	assert_int_equal(entry(&fx, 1)->mapped, 0);

	softsgx_get_stats(fx.p, &st);
	reloads = st.reloads;
	fault(&fx, b, 1, PROT_READ);
	softsgx_get_stats(fx.p, &st);
	assert_true(st.reloads > reloads);
	assert_int_equal(ra.installs, 1);
	assert_int_equal(rb.installs, 2);
	assert_int_equal(rb.install_addr[1], pg);
	assert_int_equal(entry(&fx, 1)->mapped, encl_mm_bit(&fx, b));
	assert_int_equal(*(uint64_t *)(real(&rb, pg) + 200), 0xC0FFEE);

	/* The CPU's walk in each mm: B has a present PTE, A none. */
	assert_int_equal(sgx_translate_mm(fx.k, b, pg, PROT_READ, &epc), 0);
	assert_int_equal(sgx_mprotect_mm(a, fx.e.base, fx.e.size, PROT_READ), 0);
	assert_int_equal(sgx_translate_mm(fx.k, a, pg, PROT_WRITE, &epc), -EFAULT);
	assert_int_equal(sgx_mprotect_mm(b, fx.e.base, fx.e.size, PROT_READ), 0);
	assert_int_equal(sgx_translate_mm(fx.k, b, pg, PROT_WRITE, &epc), -EACCES);
	/* mprotect kept B's PTE present and the enclave's mms as they were. */
	assert_int_equal(entry(&fx, 1)->mapped, encl_mm_bit(&fx, b));
	assert_int_equal(nr_encl_mms(&fx), 2);

	/* munmap in A takes A off the enclave's list; eviction zaps B alone. */
	assert_int_equal(sgx_munmap_mm(fx.k, a, fx.e.base, fx.e.size), 0);
	assert_int_equal(nr_encl_mms(&fx), 1);
	ra.zaps = rb.zaps = 0;
	evict(&fx, 1);
	assert_int_equal(ra.zaps, 0);
	assert_true(recorded(rb.zap_addr, rb.zaps, pg));

	sgx_mm_exit(a);
	sgx_mm_put(a);
	sgx_mm_exit(b);
	sgx_mm_put(b);
	finish(&fx);
}

/* SGX2: the PTEs an EPCM change drops go in every mm that maps the page. */
static void test_sgx2_zaps_every_mm(void **state)
{
	struct sgx_enclave_restrict_permissions rp = {
		.length = PAGE,
		.permissions = SGX_SECINFO_R,
	};
	struct fixture fx;
	struct rec ra, rb;
	struct sgx_mm *a, *b;
	uint64_t pg;
	long ret;

	(void)state;
	build(&fx);
	rp.offset = PAGE;
	pg = page_addr(&fx, 1);
	rec_init(&ra, fx.e.base, fx.e.size);
	rec_init(&rb, fx.e.base, fx.e.size);
	a = new_mm(&ra);
	b = new_mm(&rb);
	map_encl(&fx, a);
	map_encl(&fx, b);
	fault(&fx, a, 1, PROT_READ);
	fault(&fx, b, 1, PROT_READ);
	fault(&fx, b, 2, PROT_READ);
	ret = sgx_file_ioctl_mm(fx.f, b, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, (uintptr_t)&rp);
	if (ret == -ENODEV) {
		fprintf(stderr, "skipped: the platform has no SGX2\n");
	} else {
		assert_int_equal(ret, 0);
		assert_int_equal(rp.count, PAGE);
		assert_true(recorded(ra.zap_addr, ra.zaps, pg));
		assert_true(recorded(rb.zap_addr, rb.zaps, pg));
		assert_false(recorded(rb.zap_addr, rb.zaps, page_addr(&fx, 2)));
		assert_int_equal(entry(&fx, 1)->mapped, 0);
		assert_int_equal(entry(&fx, 2)->mapped, encl_mm_bit(&fx, b));
	}
	sgx_file_put(fx.f);
	sgx_mm_exit(a);
	sgx_mm_put(a);
	sgx_mm_exit(b);
	sgx_mm_put(b);
	finish(&fx);
	if (ret == -ENODEV)
		skip();
}

/* fork(): the child shares the enclave, reads the parent's store, and outlives the parent. */
static void test_fork_and_exit(void **state)
{
	struct fixture fx;
	struct rec rp, rc;
	struct sgx_mm *parent, *child;
	struct sgx_file *f;
	uint64_t pg;
	int err = 0;

	(void)state;
	build(&fx);
	pg = page_addr(&fx, 2);
	rec_init(&rp, fx.e.base, fx.e.size);
	rec_init(&rc, fx.e.base, fx.e.size);
	parent = new_mm(&rp);
	map_encl(&fx, parent);
	/* The parent's descriptor 3 is the enclave: the fixture's reference moves there. */
	assert_int_equal(sgx_mm_fd_install(parent, 3, fx.f), 0);
	assert_int_equal(sgx_mm_fd_install(parent, 3, fx.f), -EBUSY);
	fault(&fx, parent, 2, PROT_WRITE);
	*(uint64_t *)(real(&rp, pg) + 64) = 0xFEEDFACE;

	child = sgx_mm_fork(parent, &rec_ops, &rc, &err);
	assert_non_null(child);
	assert_int_equal(err, 0);
	assert_int_equal(child->nr_vmas, parent->nr_vmas);
	assert_int_equal(nr_encl_mms(&fx), 2);
	/* The child's page tables are a copy: present in both, zapped in both. */
	assert_int_equal(entry(&fx, 2)->mapped,
			 encl_mm_bit(&fx, parent) | encl_mm_bit(&fx, child));
	f = sgx_mm_fget(child, 3);
	assert_ptr_equal(f, fx.f);
	sgx_file_put(f);

	/* The child reads the parent's store through its own PTE. */
	fault(&fx, child, 2, PROT_READ);
	assert_int_equal(rc.installs, 1);
	assert_int_equal(*(uint64_t *)(real(&rc, pg) + 64), 0xFEEDFACE);
	evict(&fx, 2);
	assert_true(recorded(rp.zap_addr, rp.zaps, pg));
	assert_true(recorded(rc.zap_addr, rc.zaps, pg));

	/* The parent exits: its VMAs and descriptor go, the enclave stays for the child. */
	sgx_mm_exit(parent);
	assert_int_equal(parent->nr_vmas, 0);
	assert_null(sgx_mm_fget(parent, 3));
	assert_int_equal(sgx_mm_fd_close(parent, 3), -EBADF);
	sgx_mm_put(parent);
	assert_int_equal(nr_encl_mms(&fx), 1);
	fault(&fx, child, 2, PROT_READ);
	assert_int_equal(*(uint64_t *)(real(&rc, pg) + 64), 0xFEEDFACE);
	fault(&fx, child, 3, PROT_READ);
	assert_int_equal(real(&rc, page_addr(&fx, 3))[100], ek_pattern(3));
	ek_assert_invariant(fx.p);

	/* The last one: its exit releases the enclave, children before the SECS. */
	sgx_mm_exit(child);
	assert_int_not_equal(rc.unmaps, 0);
	sgx_mm_put(child);
	finish(&fx);
}

/* Closing the last descriptor of an unmapped enclave releases it, as Linux's last close. */
static void test_fd_close_releases(void **state)
{
	struct fixture fx;
	struct rec r;
	struct sgx_mm *mm;

	(void)state;
	build(&fx);
	rec_init(&r, fx.e.base, fx.e.size);
	mm = new_mm(&r);
	assert_int_equal(sgx_mm_fd_install(mm, -1, fx.f), -EBADF);
	assert_int_equal(sgx_mm_fd_install(mm, 5, fx.f), 0);
	map_encl(&fx, mm);
	fault(&fx, mm, 1, PROT_READ);
	assert_int_equal(sgx_mm_fd_close(mm, 5), 0);
	/* The mapping still holds the file. */
	fault(&fx, mm, 2, PROT_READ);
	assert_int_equal(nr_encl_mms(&fx), 1);
	/* The last reference: the enclave goes with the mapping. */
	assert_int_equal(sgx_munmap_mm(fx.k, mm, fx.e.base, fx.e.size), 0);
	assert_int_equal(mm->nr_vmas, 0);
	assert_all_free(fx.p);
	sgx_mm_exit(mm);
	sgx_mm_put(mm);
	finish(&fx);
}

/* Operations that touch nothing: for counting mms, not for using pages. */
static int null_reserve(struct sgx_mm *mm, uint64_t *addr, uint64_t len, bool fixed)
{
	(void)mm, (void)addr, (void)len, (void)fixed;
	return 0;
}

static int null_unmap(struct sgx_mm *mm, uint64_t addr, uint64_t len)
{
	(void)mm, (void)addr, (void)len;
	return 0;
}

static const struct sgx_mm_ops null_ops = {
	.reserve = null_reserve,
	.install = rec_install,
	.zap = rec_zap,
	.unmap = null_unmap,
};

/* An enclave's PTE masks name at most SGX_ENCL_MAX_MMS mms; one more is -ENOMEM. */
static void test_mm_limit(void **state)
{
	struct sgx_mm *mms[SGX_ENCL_MAX_MMS + 1];
	struct fixture fx;
	int err;

	(void)state;
	build(&fx);
	for (int i = 0; i < SGX_ENCL_MAX_MMS; i++) {
		mms[i] = sgx_mm_create(&null_ops, NULL);
		assert_non_null(mms[i]);
		map_encl(&fx, mms[i]);
	}
	assert_int_equal(nr_encl_mms(&fx), SGX_ENCL_MAX_MMS);
	mms[SGX_ENCL_MAX_MMS] = sgx_mm_create(&null_ops, NULL);
	{
		uint64_t addr = fx.e.base;

		assert_int_equal(sgx_file_mmap_mm(fx.f, mms[SGX_ENCL_MAX_MMS], &addr, fx.e.size,
						  PROT_READ, MAP_SHARED | MAP_FIXED, 0),
				 -ENOMEM);
	}
	assert_null(sgx_mm_fork(mms[0], &null_ops, NULL, &err));
	assert_int_equal(err, -ENOMEM);
	/* One leaves, one more may come. */
	sgx_mm_exit(mms[7]);
	{
		uint64_t addr = fx.e.base;

		assert_int_equal(sgx_file_mmap_mm(fx.f, mms[SGX_ENCL_MAX_MMS], &addr, fx.e.size,
						  PROT_READ, MAP_SHARED | MAP_FIXED, 0),
				 0);
	}
	sgx_file_put(fx.f);
	for (int i = 0; i <= SGX_ENCL_MAX_MMS; i++) {
		sgx_mm_exit(mms[i]);
		sgx_mm_put(mms[i]);
	}
	finish(&fx);
}

/* Bytes mapped onto the one vEPC instance, in every mm. */
static uint64_t vepc_mapped(struct sgx_kernel *k)
{
	struct softsgx_vepc_usage v[2];
	unsigned int ne, nv;

	sgx_usage(k, NULL, 0, &ne, v, 2, &nv);
	assert_int_equal(nv, 1);
	return v[0].mapped_bytes;
}

/* One vEPC mapped in two mms: one EPC page behind both; the last exit releases it. */
static void test_vepc_two_mms(void **state)
{
	struct rec ra, rb, rc;
	struct softsgx_platform *p = platform();
	struct sgx_kernel *k = softsgx_kernel(p);
	struct sgx_mm *a, *b, *c;
	struct sgx_file *f;
	uint64_t va = 0, vb = 0, size = 4 * PAGE;
	int fd, err;

	(void)state;
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	memset(&rc, 0, sizeof(rc));
	fd = softsgx_open(p, "/dev/sgx_vepc", 0);
	assert_true(fd >= 0);
	f = softsgx_fget(p, fd);
	assert_non_null(f);
	assert_int_equal(softsgx_close(p, fd), 0);
	a = new_mm(&ra);
	b = new_mm(&rb);
	assert_int_equal(sgx_file_mmap_mm(f, a, &va, size, PROT_READ | PROT_WRITE, MAP_SHARED, 0), 0);
	assert_int_equal(sgx_file_mmap_mm(f, b, &vb, size, PROT_READ | PROT_WRITE, MAP_SHARED, 0), 0);
	assert_int_equal(sgx_mm_fd_install(a, 7, f), 0);
	assert_int_equal(vepc_mapped(k), 2 * size);
	/* A hole in B's mapping: two VMAs left there. */
	assert_int_equal(sgx_munmap_mm(k, b, vb + 2 * PAGE, PAGE), 0);
	assert_int_equal(vepc_mapped(k), 2 * size - PAGE);
	assert_int_equal(sgx_file_mmap_mm(f, b, &(uint64_t){ vb + 2 * PAGE }, PAGE,
					  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, 2 * PAGE),
			 0);
	assert_int_equal(vepc_mapped(k), 2 * size);

	assert_int_equal(sgx_handle_fault_mm(k, a, va + PAGE, PROT_WRITE), SGX_FAULT_RETRY);
	assert_int_equal(sgx_handle_fault_mm(k, b, vb + PAGE, PROT_READ), SGX_FAULT_RETRY);
	assert_int_equal(ra.installs, 1);
	assert_int_equal(rb.installs, 1);
	assert_non_null(sgx_vepc_lookup_mm(k, a, va + PAGE));
	assert_ptr_equal(sgx_vepc_lookup_mm(k, a, va + PAGE), sgx_vepc_lookup_mm(k, b, vb + PAGE));
	assert_null(sgx_vepc_lookup_mm(k, b, vb + 2 * PAGE));
	/* Raw EPC: what A's guest writes, B's sees. */
	*(uint32_t *)(uintptr_t)(va + PAGE + 8) = 0x5EC5;
	assert_int_equal(*(uint32_t *)(uintptr_t)(vb + PAGE + 8), 0x5EC5);
	assert_int_equal(sgx_vepc_populate_mm(k, b, vb, size), 0);
	assert_ptr_equal(sgx_vepc_lookup_mm(k, a, va + 3 * PAGE),
			 sgx_vepc_lookup_mm(k, b, vb + 3 * PAGE));

	/* A forked child maps it too; exits in any order, the last releases it. */
	c = sgx_mm_fork(a, &rec_ops, &rc, &err);
	assert_non_null(c);
	assert_ptr_equal(sgx_vepc_lookup_mm(k, c, va + PAGE), sgx_vepc_lookup_mm(k, b, vb + PAGE));
	assert_int_equal(vepc_mapped(k), 3 * size);
	sgx_mm_exit(a);
	sgx_mm_put(a);
	assert_int_equal(vepc_mapped(k), 2 * size);
	assert_non_null(sgx_vepc_lookup_mm(k, b, vb + PAGE));
	sgx_mm_exit(b);
	sgx_mm_put(b);
	ek_assert_invariant(p);
	assert_non_null(sgx_vepc_lookup_mm(k, c, va + PAGE));
	sgx_mm_exit(c);
	sgx_mm_put(c);
	assert_all_free(p);
	lg_platform_free(p);
}

/* A process's user memory, at its address + delta here; remote 0 is a bad pointer. */
static int rec_access_user(struct sgx_mm *mm, void *local, uint64_t remote, size_t n, bool write)
{
	struct rec *r = mm->ops_data;
	void *at = real(r, remote);

	r->user_copies++;
	if (!remote)
		return -EFAULT;
	if (write)
		memcpy(at, local, n);
	else
		memcpy(local, at, n);
	return 0;
}

static const struct sgx_mm_ops uaccess_ops = {
	.reserve = null_reserve,
	.install = rec_install,
	.zap = rec_zap,
	.unmap = null_unmap,
	.access_user = rec_access_user,
};

/* An ioctl made for an mm reads that process's memory and descriptors, not ours. */
static void test_ioctl_for_mm(void **state)
{
	struct sgx_enclave_provision params, local_params;
	struct fixture fx;
	struct sgx_file *pf;
	struct sgx_encl *encl;
	struct sgx_mm *mm;
	struct rec r;
	int err = 0, local_fd;

	(void)state;
	build(&fx);
	encl = sgx_file_encl(fx.f);
	memset(&r, 0, sizeof(r));
	r.delta = 7 * PAGE;
	mm = sgx_mm_create(&uaccess_ops, &r);
	assert_non_null(mm);
	pf = sgx_file_open_mm(fx.k, mm, SGX_FILE_PROVISION, &err);
	assert_non_null(pf);
	assert_ptr_equal(pf->mm, mm);
	assert_int_equal(sgx_mm_fd_install(mm, 9, pf), 0);
	local_fd = softsgx_open(fx.p, "/dev/sgx_provision", 0);
	assert_true(local_fd >= 0 && local_fd != 9);

	/* Descriptor 9 of the process, read from its memory. */
	params.fd = 9;
	assert_int_equal(sgx_file_ioctl_mm(fx.f, mm, SGX_IOC_ENCLAVE_PROVISION,
					   (uintptr_t)&params - (uint64_t)r.delta),
			 0);
	assert_true(r.user_copies >= 1);
	assert_true(encl->attributes_mask & SGX_ATTR_PROVISIONKEY);
	assert_null(sgx_current_mm());

	/* Our descriptor is nothing in that process; its bad pointer is -EFAULT. */
	encl->attributes_mask &= ~(uint64_t)SGX_ATTR_PROVISIONKEY;
	params.fd = (uint32_t)local_fd;
	assert_int_equal(sgx_file_ioctl_mm(fx.f, mm, SGX_IOC_ENCLAVE_PROVISION,
					   (uintptr_t)&params - (uint64_t)r.delta),
			 -EINVAL);
	assert_int_equal(sgx_file_ioctl_mm(fx.f, mm, SGX_IOC_ENCLAVE_PROVISION, 0), -EFAULT);
	assert_false(encl->attributes_mask & SGX_ATTR_PROVISIONKEY);
	/* The process the model runs in still reads its own. */
	local_params.fd = (uint32_t)local_fd;
	assert_int_equal(sgx_file_ioctl(fx.f, SGX_IOC_ENCLAVE_PROVISION,
					(uintptr_t)&local_params),
			 0);
	assert_true(encl->attributes_mask & SGX_ATTR_PROVISIONKEY);

	assert_int_equal(softsgx_close(fx.p, local_fd), 0);
	sgx_file_put(fx.f);
	sgx_mm_exit(mm);
	sgx_mm_put(mm);
	finish(&fx);
}

/* The local mm keeps its single-process behaviour: files opened by the process are its own. */
static void test_local_mm(void **state)
{
	struct softsgx_platform *p = platform();
	struct sgx_kernel *k = softsgx_kernel(p);
	struct fixture fx;

	(void)state;
	assert_ptr_equal(k->mm.ops, &sgx_mm_local_ops);
	ek_build(p, &fx.e, 2);
	fx.f = softsgx_fget(p, fx.e.fd);
	assert_ptr_equal(fx.f->mm, &k->mm);
	assert_int_equal(nr_encl_mms(&fx), 1);
	assert_int_equal(sgx_handle_fault(k, page_addr(&fx, 1), PROT_READ), SGX_FAULT_RETRY);
	assert_int_equal(*(uint64_t *)(uintptr_t)page_addr(&fx, 1), 1);
	assert_int_equal(entry(&fx, 1)->mapped, encl_mm_bit(&fx, &k->mm));
	sgx_file_put(fx.f);
	assert_int_equal(softsgx_munmap(p, (void *)(uintptr_t)fx.e.base, fx.e.size), 0);
	assert_int_equal(softsgx_close(p, fx.e.fd), 0);
	assert_all_free(p);
	lg_platform_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_evict_zaps_every_mm),
		LG_TEST(test_sgx2_zaps_every_mm),
		LG_TEST(test_fork_and_exit),
		LG_TEST(test_fd_close_releases),
		LG_TEST(test_mm_limit),
		LG_TEST(test_vepc_two_mms),
		LG_TEST(test_ioctl_for_mm),
		LG_TEST(test_local_mm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
