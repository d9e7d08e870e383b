/* SPDX-License-Identifier: MIT */
/*
 * The process address space as the kernel model sees it: VMAs created by
 * mmap() of an SGX file, and page-table entries, which are real mappings.
 * Installing a PTE duplicates the EPC page from a view of its section at the
 * enclave address (kernel/epc_map.c);
 * zapping replaces it with an inaccessible mapping, so the next touch faults.
 */
#ifndef SOFTSGX_MM_H
#define SOFTSGX_MM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "list.h"

struct sgx_file;

struct sgx_vma {
	uint64_t start, end;
	int prot; /* PROT_READ | PROT_WRITE | PROT_EXEC */
	uint64_t file_base; /* the address file offset 0 would have: survives splits */
	struct sgx_file *file;
	struct list_head list;
};

/* Lock order, as Linux: mm->lock (the mmap_lock) before encl->lock. */
struct sgx_mm {
	pthread_rwlock_t lock;
	struct list_head vmas;
	uint64_t nr_vmas;
};

void sgx_mm_init(struct sgx_mm *mm);
/* Unmaps every VMA; their files must already be released. */
void sgx_mm_destroy(struct sgx_mm *mm);

/* With mm->lock held. */
struct sgx_vma *sgx_find_vma(struct sgx_mm *mm, uint64_t addr);
/* Record a VMA; 0 or -ENOMEM. With mm->lock held for writing. */
int sgx_vma_insert(struct sgx_mm *mm, uint64_t start, uint64_t end, int prot,
		   uint64_t file_base, struct sgx_file *file);

/* True when [start, end) overlaps any VMA. Takes mm->lock. */
bool sgx_mm_overlaps(struct sgx_mm *mm, uint64_t start, uint64_t end);

/* Reserve address space for a new VMA: PROT_NONE until faults fill it. */
int sgx_mm_reserve(uint64_t *addr, uint64_t len, bool fixed);

/*
 * mmap/munmap/close as system calls: under the LD_PRELOAD shim the libc
 * names are the shim's own wrappers, which must never see the kernel
 * model's calls (they take the shim's model lock, which fork() may hold
 * while it waits for ksgxd: a ksgxd in a wrapper would never come back).
 */
void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int sys_munmap(void *addr, size_t len);
int sys_close(int fd);

int sgx_pte_zap(uint64_t addr);

#endif /* SOFTSGX_MM_H */
