/* SPDX-License-Identifier: MIT */
/*
 * A page table as the CPU model walks it: one atomic word per user page,
 * which a walk reads without any lock (kernel/pte_table.c). Two users:
 *
 *   private mode   the kernel model's own mm (k->mm, struct sgx_mm's walk)
 *                  remembers there what sgx_translate() found, so that the
 *                  next walk of the page is a load (kernel/translate.c);
 *   service mode   a client's table of the PTEs the service installed in it
 *                  (service/remote_pte.c), walked by the client's ENCLU.
 *
 * Lock-free and async-signal-safe: a leaf walks it in a signal handler
 * while another thread sets or clears entries. An entry: present bit,
 * PROT_* bits, the EPC section and the page's index in it.
 */
#ifndef SOFTSGX_KERNEL_PTE_TABLE_H
#define SOFTSGX_KERNEL_PTE_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* A two-level table over the 47-bit user address space: leaves of 1 GiB. */
#define SGX_PTE_LEAF_SHIFT 30
#define SGX_PTE_TOP_SLOTS  (1ul << (47 - SGX_PTE_LEAF_SHIFT))

struct sgx_pte_table {
	_Atomic(_Atomic uint64_t *) top[SGX_PTE_TOP_SLOTS];
};

#define SGX_PTE_PRESENT	     1ull
#define SGX_PTE_PROT_SHIFT   1
#define SGX_PTE_SECT_SHIFT   4
#define SGX_PTE_INDEX_SHIFT  12

static inline uint64_t sgx_pte_make(unsigned int section, uint64_t index, int prot)
{
	return SGX_PTE_PRESENT | ((uint64_t)(prot & 7) << SGX_PTE_PROT_SHIFT) |
	       ((uint64_t)(section & 0xff) << SGX_PTE_SECT_SHIFT) | (index << SGX_PTE_INDEX_SHIFT);
}

static inline int sgx_pte_prot(uint64_t pte)
{
	return (int)((pte >> SGX_PTE_PROT_SHIFT) & 7);
}

static inline unsigned int sgx_pte_section(uint64_t pte)
{
	return (unsigned int)((pte >> SGX_PTE_SECT_SHIFT) & 0xff);
}

static inline uint64_t sgx_pte_index(uint64_t pte)
{
	return pte >> SGX_PTE_INDEX_SHIFT;
}

/* A table of its own (mmap()ed, nothing touched until used); NULL for want of memory. */
struct sgx_pte_table *sgx_pte_table_create(void);
/* Unmap @t and its leaves: nobody may walk it any more. */
void sgx_pte_table_destroy(struct sgx_pte_table *t);

/*
 * Entry @pte (sgx_pte_make()) at page @addr. False when no leaf could be
 * had (address space or memory exhausted): the page then stays not present
 * in the table.
 */
bool sgx_pte_set(struct sgx_pte_table *t, uint64_t addr, uint64_t pte);
/* Nothing of [@addr, @addr + @len) is present any more. */
void sgx_pte_clear(struct sgx_pte_table *t, uint64_t addr, uint64_t len);

/* The entry at page-aligned @addr: 0 when not present. */
static inline uint64_t sgx_pte_get(struct sgx_pte_table *t, uint64_t addr)
{
	uint64_t slot = addr >> SGX_PTE_LEAF_SHIFT;
	_Atomic uint64_t *leaf;

	if (slot >= SGX_PTE_TOP_SLOTS)
		return 0;
	leaf = atomic_load_explicit(&t->top[slot], memory_order_acquire);
	if (!leaf)
		return 0;
	return atomic_load_explicit(&leaf[(addr >> 12) & ((1ul << (SGX_PTE_LEAF_SHIFT - 12)) - 1)],
				    memory_order_acquire);
}

#endif /* SOFTSGX_KERNEL_PTE_TABLE_H */
