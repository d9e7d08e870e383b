// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "softsgx/sgx_arch.h"
#include "kernel/driver.h"
#include "kernel/encl.h"
#include "kernel/epc_cgroup.h"
#include "kernel/mm.h"
#include "kernel/pte_table.h"
#include "kernel/fault_inject.h"
#include "kernel/virt.h"

void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long ret = syscall(SYS_mmap, addr, len, prot, flags, fd, off);

	/* syscall() already turned -errno into -1 with errno set. */
	return ret == -1 ? MAP_FAILED : (void *)ret;
}

int sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

int sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

/*
 * The walk's table loses what the host's page tables lose, first: a walk
 * that misses takes the slow path, one that still hits would find a page
 * no longer mapped there (kernel/translate.c).
 */
static void walk_forget(struct sgx_mm *mm, uint64_t addr, uint64_t len)
{
	if (mm->walk)
		sgx_pte_clear(mm->walk, addr, len);
}

static int local_reserve(struct sgx_mm *mm, uint64_t *addr, uint64_t len, bool fixed)
{
	/* MAP_FIXED over PTEs (mmap over a VMA, mprotect's rebuild): they go. */
	if (fixed)
		walk_forget(mm, *addr, len);
	return sgx_mm_reserve(addr, len, fixed);
}

static int local_install(struct sgx_mm *mm, struct sgx_kernel *k, const struct sgx_epc_page *page,
			 uint64_t addr, int prot, int walk_prot)
{
	(void)mm;
	(void)walk_prot; /* the walk fills mm->walk from the kernel model (kernel/translate.c) */
	/* For an ENCLU operand on a page the EPCM keeps from enclave code: no host PTE. */
	if (!(prot & (PROT_READ | PROT_WRITE | PROT_EXEC)))
		return 0;
	return sgx_epc_page_map(k, page, addr, prot);
}

static int local_zap(struct sgx_mm *mm, const uint64_t *addrs, unsigned int n)
{
	int ret = 0;

	/* A run of adjacent pages (a reclaimer batch comes sorted) is one mmap. */
	for (unsigned int i = 0, j; i < n; i = j) {
		int r;

		for (j = i + 1; j < n && addrs[j] == addrs[j - 1] + SGX_PAGE_SIZE; j++)
			;
		walk_forget(mm, addrs[i], (uint64_t)(j - i) * SGX_PAGE_SIZE);
		r = sgx_pte_zap_range(addrs[i], (uint64_t)(j - i) * SGX_PAGE_SIZE);
		if (r && !ret)
			ret = r;
	}
	return ret;
}

static int local_unmap(struct sgx_mm *mm, uint64_t addr, uint64_t len)
{
	walk_forget(mm, addr, len);
	return sys_munmap((void *)(uintptr_t)addr, len) ? -errno : 0;
}

const struct sgx_mm_ops sgx_mm_local_ops = {
	.reserve = local_reserve,
	.install = local_install,
	.zap = local_zap,
	.unmap = local_unmap,
};

static void mm_init(struct sgx_mm *mm, const struct sgx_mm_ops *ops, void *ops_data)
{
	pthread_rwlock_init(&mm->lock, NULL);
	INIT_LIST_HEAD(&mm->vmas);
	mm->nr_vmas = 0;
	atomic_store(&mm->refcount, 1);
	mm->ops = ops;
	mm->ops_data = ops_data;
	pthread_mutex_init(&mm->files_lock, NULL);
	INIT_LIST_HEAD(&mm->files);
}

void sgx_mm_init(struct sgx_mm *mm)
{
	mm_init(mm, &sgx_mm_local_ops, NULL);
	mm->embedded = true;
	/* Without one (no memory), every walk takes the slow path. */
	mm->walk = sgx_pte_table_create();
}

void sgx_mm_destroy(struct sgx_mm *mm)
{
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &mm->vmas) {
		struct sgx_vma *vma = list_entry(pos, struct sgx_vma, list);

		mm->ops->unmap(mm, vma->start, vma->end - vma->start);
		list_del_init(&vma->list);
		free(vma);
	}
	pthread_rwlock_destroy(&mm->lock);
	pthread_mutex_destroy(&mm->files_lock);
	sgx_pte_table_destroy(mm->walk);
	mm->walk = NULL;
}

struct sgx_mm *sgx_mm_create(const struct sgx_mm_ops *ops, void *ops_data)
{
	struct sgx_mm *mm = sgx_kcalloc(1, sizeof(*mm));

	if (mm)
		mm_init(mm, ops, ops_data);
	return mm;
}

void sgx_mm_get(struct sgx_mm *mm)
{
	atomic_fetch_add(&mm->refcount, 1);
}

void sgx_mm_put(struct sgx_mm *mm)
{
	if (atomic_fetch_sub(&mm->refcount, 1) != 1 || mm->embedded)
		return;
	sgx_mm_set_cgroup(mm, NULL); /* the cgroup may be removed now */
	sgx_mm_destroy(mm);
	free(mm);
}

static __thread struct sgx_mm *current_mm;

struct sgx_mm *sgx_current_mm(void)
{
	return current_mm;
}

struct sgx_mm *sgx_set_current_mm(struct sgx_mm *mm)
{
	struct sgx_mm *prev = current_mm;

	current_mm = mm;
	return prev;
}

struct sgx_vma *sgx_find_vma(struct sgx_mm *mm, uint64_t addr)
{
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &mm->vmas) {
		struct sgx_vma *vma = list_entry(pos, struct sgx_vma, list);

		if (addr >= vma->start && addr < vma->end)
			return vma;
	}
	return NULL;
}

/* A vEPC counts the bytes mapped onto it in every mm, for usage reports. */
static void vma_account(struct sgx_vma *vma, int64_t sign)
{
	if (vma->file && vma->file->type == SGX_FILE_VEPC) {
		struct sgx_vepc *vepc = vma->file->private_data;

		atomic_fetch_add(&vepc->mapped_bytes, sign * (int64_t)(vma->end - vma->start));
	}
}

void sgx_vma_set_range(struct sgx_vma *vma, uint64_t start, uint64_t end)
{
	vma_account(vma, -1);
	vma->start = start;
	vma->end = end;
	vma_account(vma, 1);
}

int sgx_vma_insert(struct sgx_mm *mm, uint64_t start, uint64_t end, int prot,
		   uint64_t file_base, struct sgx_file *file)
{
	struct sgx_vma *vma = sgx_kcalloc(1, sizeof(*vma));
	struct sgx_encl *encl = file ? sgx_file_encl(file) : NULL;

	if (!vma)
		return -ENOMEM;
	/* Linux's sgx_encl_mm_add() at mmap and vm_ops->open: the enclave learns of the mm. */
	if (encl && sgx_encl_mm_add(encl, mm, &vma->pte_bit)) {
		free(vma);
		return -ENOMEM;
	}
	vma->start = start;
	vma->end = end;
	vma->prot = prot;
	vma->file_base = file_base;
	vma->file = file;
	vma->mm = mm;
	vma_account(vma, 1);
	list_add_tail(&vma->list, &mm->vmas);
	mm->nr_vmas++;
	return 0;
}

void sgx_vma_unlink(struct sgx_mm *mm, struct sgx_vma *vma)
{
	struct sgx_encl *encl = vma->file ? sgx_file_encl(vma->file) : NULL;

	list_del_init(&vma->list);
	mm->nr_vmas--;
	vma_account(vma, -1);
	if (encl)
		sgx_encl_mm_remove(encl, mm);
}

bool sgx_mm_overlaps(struct sgx_mm *mm, uint64_t start, uint64_t end)
{
	struct list_head *pos, *tmp;
	bool ret = false;

	pthread_rwlock_rdlock(&mm->lock);
	list_for_each_safe(pos, tmp, &mm->vmas) {
		struct sgx_vma *vma = list_entry(pos, struct sgx_vma, list);

		if (vma->start < end && start < vma->end) {
			ret = true;
			break;
		}
	}
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

int sgx_mm_reserve(uint64_t *addr, uint64_t len, bool fixed)
{
	void *p = sys_mmap((void *)(uintptr_t)*addr, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (fixed ? MAP_FIXED : 0),
		       -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	*addr = (uintptr_t)p;
	return 0;
}

int sgx_pte_zap(uint64_t addr)
{
	return sgx_pte_zap_range(addr, SGX_PAGE_SIZE);
}

int sgx_pte_zap_range(uint64_t addr, uint64_t len)
{
	void *p = sys_mmap((void *)(uintptr_t)addr, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);

	return p == MAP_FAILED ? -errno : 0;
}
