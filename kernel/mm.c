// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "softsgx/sgx_arch.h"
#include "mm.h"
#include "fault_inject.h"

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

void sgx_mm_init(struct sgx_mm *mm)
{
	pthread_rwlock_init(&mm->lock, NULL);
	INIT_LIST_HEAD(&mm->vmas);
	mm->nr_vmas = 0;
}

void sgx_mm_destroy(struct sgx_mm *mm)
{
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &mm->vmas) {
		struct sgx_vma *vma = list_entry(pos, struct sgx_vma, list);

		sys_munmap((void *)(uintptr_t)vma->start, vma->end - vma->start);
		list_del_init(&vma->list);
		free(vma);
	}
	pthread_rwlock_destroy(&mm->lock);
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

int sgx_vma_insert(struct sgx_mm *mm, uint64_t start, uint64_t end, int prot,
		   uint64_t file_base, struct sgx_file *file)
{
	struct sgx_vma *vma = sgx_kcalloc(1, sizeof(*vma));

	if (!vma)
		return -ENOMEM;
	vma->start = start;
	vma->end = end;
	vma->prot = prot;
	vma->file_base = file_base;
	vma->file = file;
	list_add_tail(&vma->list, &mm->vmas);
	mm->nr_vmas++;
	return 0;
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
	void *p = sys_mmap((void *)(uintptr_t)addr, SGX_PAGE_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);

	return p == MAP_FAILED ? -errno : 0;
}
