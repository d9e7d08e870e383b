// SPDX-License-Identifier: MIT
/*
 * The table of kernel/pte_table.h: a top level of one slot per GiB, and a
 * leaf of 2^18 entries (2 MiB) per GiB that holds a PTE, mapped on first
 * use and kept until the table goes (an ELRANGE touches few of them).
 * Leaves come from mmap(), which a signal handler may call; a slot is
 * filled by compare-and-swap, the loser unmapping its leaf. The system
 * calls go straight to the kernel: under the LD_PRELOAD shim the libc names
 * are the shim's wrappers (kernel/mm.h).
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel/pte_table.h"

#define PAGE_SHIFT 12
#define LEAF_SLOTS (1ul << (SGX_PTE_LEAF_SHIFT - PAGE_SHIFT))
#define LEAF_BYTES (LEAF_SLOTS * sizeof(_Atomic uint64_t))

static void *map_zeroed(size_t len)
{
	long p = syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	/* syscall() turned -errno into -1. */
	return p == -1 ? NULL : (void *)p;
}

struct sgx_pte_table *sgx_pte_table_create(void)
{
	return map_zeroed(sizeof(struct sgx_pte_table));
}

void sgx_pte_table_destroy(struct sgx_pte_table *t)
{
	if (!t)
		return;
	for (unsigned long i = 0; i < SGX_PTE_TOP_SLOTS; i++) {
		_Atomic uint64_t *leaf = atomic_load_explicit(&t->top[i], memory_order_relaxed);

		if (leaf)
			syscall(SYS_munmap, leaf, LEAF_BYTES);
	}
	syscall(SYS_munmap, t, sizeof(*t));
}

static _Atomic uint64_t *leaf_of(struct sgx_pte_table *t, uint64_t addr, bool create)
{
	uint64_t slot = addr >> SGX_PTE_LEAF_SHIFT;
	_Atomic uint64_t *leaf, *expected = NULL;

	if (slot >= SGX_PTE_TOP_SLOTS)
		return NULL;
	leaf = atomic_load_explicit(&t->top[slot], memory_order_acquire);
	if (leaf || !create)
		return leaf;
	leaf = map_zeroed(LEAF_BYTES);
	if (!leaf)
		return NULL;
	if (!atomic_compare_exchange_strong_explicit(&t->top[slot], &expected, leaf,
						     memory_order_acq_rel, memory_order_acquire)) {
		syscall(SYS_munmap, leaf, LEAF_BYTES);
		leaf = expected;
	}
	return leaf;
}

bool sgx_pte_set(struct sgx_pte_table *t, uint64_t addr, uint64_t pte)
{
	_Atomic uint64_t *leaf = leaf_of(t, addr, true);

	if (!leaf)
		return false;
	atomic_store_explicit(&leaf[(addr >> PAGE_SHIFT) & (LEAF_SLOTS - 1)], pte,
			      memory_order_release);
	return true;
}

void sgx_pte_clear(struct sgx_pte_table *t, uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;

	if (end < addr)
		end = UINT64_MAX;
	addr &= ~((1ull << PAGE_SHIFT) - 1);
	while (addr < end) {
		uint64_t leaf_end = ((addr >> SGX_PTE_LEAF_SHIFT) + 1) << SGX_PTE_LEAF_SHIFT;
		_Atomic uint64_t *leaf = leaf_of(t, addr, false);

		if (!leaf_end || leaf_end > end)
			leaf_end = end;
		/* A GiB never mapped has nothing to clear: large ranges cost per GiB. */
		for (; leaf && addr < leaf_end; addr += 1ull << PAGE_SHIFT) {
			_Atomic uint64_t *e = &leaf[(addr >> PAGE_SHIFT) & (LEAF_SLOTS - 1)];

			if (atomic_load_explicit(e, memory_order_relaxed))
				atomic_store_explicit(e, 0, memory_order_release);
		}
		addr = leaf_end;
		if (addr >> SGX_PTE_LEAF_SHIFT >= SGX_PTE_TOP_SLOTS)
			break;
	}
}
