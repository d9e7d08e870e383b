// SPDX-License-Identifier: MIT
/*
 * A two-level table over the 47-bit user address space: a static top level
 * of one slot per GiB, and a leaf of 2^18 entries (2 MiB) per GiB that
 * holds a PTE, mapped on first use and kept (an ELRANGE touches few of
 * them). Leaves come from mmap(), which a signal handler may call; a slot
 * is filled by compare-and-swap, the loser unmapping its leaf.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "service/remote_pte.h"

#define PAGE_SHIFT  12
#define LEAF_SHIFT  30
#define LEAF_SLOTS  (1ul << (LEAF_SHIFT - PAGE_SHIFT))
#define TOP_SLOTS   (1ul << (47 - LEAF_SHIFT))
#define LEAF_BYTES  (LEAF_SLOTS * sizeof(_Atomic uint64_t))

/* An entry: present, PROT_* bits, the section, the page index. */
#define PTE_PRESENT	 1ull
#define PTE_PROT_SHIFT	 1
#define PTE_SECT_SHIFT	 4
#define PTE_INDEX_SHIFT	 12

static _Atomic(_Atomic uint64_t *) top[TOP_SLOTS];

static _Atomic uint64_t *leaf_of(uint64_t addr, bool create)
{
	uint64_t slot = addr >> LEAF_SHIFT;
	_Atomic uint64_t *leaf, *expected = NULL;

	if (slot >= TOP_SLOTS)
		return NULL;
	leaf = atomic_load_explicit(&top[slot], memory_order_acquire);
	if (leaf || !create)
		return leaf;
	/* Straight to the kernel: the shim's mmap() wrapper is not for us here. */
	leaf = (void *)syscall(SYS_mmap, NULL, LEAF_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (leaf == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong_explicit(&top[slot], &expected, leaf,
						     memory_order_acq_rel, memory_order_acquire)) {
		syscall(SYS_munmap, leaf, LEAF_BYTES);
		leaf = expected;
	}
	return leaf;
}

static _Atomic uint64_t *entry_of(uint64_t addr, bool create)
{
	_Atomic uint64_t *leaf = leaf_of(addr, create);

	return leaf ? &leaf[(addr >> PAGE_SHIFT) & (LEAF_SLOTS - 1)] : NULL;
}

void svc_pte_set(uint64_t addr, unsigned int section, uint64_t index, int prot)
{
	_Atomic uint64_t *e = entry_of(addr, true);

	/*
	 * No leaf (address space or memory exhausted): the page is mapped
	 * but the model does not see it, so a leaf on it faults to the
	 * service, which answers "retry" for ever. Not reachable below 128 TiB
	 * with memory to spare.
	 */
	if (!e)
		return;
	atomic_store_explicit(e,
			      PTE_PRESENT | ((uint64_t)(prot & 7) << PTE_PROT_SHIFT) |
				      ((uint64_t)section << PTE_SECT_SHIFT) |
				      (index << PTE_INDEX_SHIFT),
			      memory_order_release);
}

void svc_pte_clear(uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;

	addr &= ~((1ull << PAGE_SHIFT) - 1);
	while (addr < end) {
		uint64_t leaf_end = ((addr >> LEAF_SHIFT) + 1) << LEAF_SHIFT;
		_Atomic uint64_t *leaf = leaf_of(addr, false);

		if (leaf_end > end)
			leaf_end = end;
		/* A GiB never mapped has nothing to clear: large ranges cost per GiB. */
		for (; leaf && addr < leaf_end; addr += 1ull << PAGE_SHIFT) {
			_Atomic uint64_t *e = &leaf[(addr >> PAGE_SHIFT) & (LEAF_SLOTS - 1)];

			if (atomic_load_explicit(e, memory_order_relaxed))
				atomic_store_explicit(e, 0, memory_order_release);
		}
		addr = leaf_end;
	}
}

bool svc_pte_get(uint64_t addr, unsigned int *section, uint64_t *index, int *prot)
{
	_Atomic uint64_t *e = entry_of(addr, false);
	uint64_t v = e ? atomic_load_explicit(e, memory_order_acquire) : 0;

	if (!(v & PTE_PRESENT))
		return false;
	*prot = (int)((v >> PTE_PROT_SHIFT) & 7);
	*section = (unsigned int)((v >> PTE_SECT_SHIFT) & 0xff);
	*index = v >> PTE_INDEX_SHIFT;
	return true;
}
