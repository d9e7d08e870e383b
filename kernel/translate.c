// SPDX-License-Identifier: MIT
/*
 * The page-table walk the CPU does for enclave code and ENCLU operands: the
 * EPC page a process address maps right now. A page that is not resident,
 * or a VMA that forbids the access, is a page fault the caller resolves
 * through sgx_handle_fault() before trying again, as the CPU would.
 *
 * The walk never waits for a lock: a CPU's walk does not wait for the OS
 * either. When the reclaimer (or munmap) holds the enclave or the VMA list,
 * the walk misses, the thread takes a #PF and an AEX, and waits in the fault
 * handler, outside the enclave. Waiting here, inside, would deadlock with a
 * reclaimer that holds the enclave's lock while it kicks every thread inside
 * out (the IPI of the model), this one included.
 *
 * Two steps, as a CPU's walk reads its page tables and not the OS's
 * structures. The fast one reads the mm's own page table (mm->walk,
 * kernel/pte_table.h: k->mm in private mode), one atomic load, no lock. The
 * slow one asks the OS's structures (the VMA, the enclave's page and its
 * state) under try-locks, and when it finds the page records it in the
 * table, with the VMA's protection, and marks the page as mapped in this mm
 * (its PTE bit, struct sgx_encl_page's mapped): the model's PTE is present
 * from then on, even if the host's duplicate mapping (kernel/epc_map.c) is
 * only filled at the first native touch. That bit is what makes the table
 * exact: every path that takes a page away from an mm (the reclaimer's zap,
 * EREMOVE and the SGX2 ioctls through sgx_encl_zap_page(), munmap, mprotect,
 * mmap MAP_FIXED over it) either zaps the mms whose bit is set or unmaps or
 * re-reserves the range, and the local operations of kernel/mm.c clear the
 * table there, before the host's mapping goes. The reclaimer clears it too
 * as soon as it marks a page being_reclaimed (sgx_encl_walk_forget()),
 * which the slow step refuses, so that both steps give the same answers.
 *
 * A hit with too little protection is not a verdict: the slow step decides
 * (-EACCES only on a present PTE, by the VMA's protection). A walk that
 * found a page and then lost it to the reclaimer is the hardware's race
 * with a TLB shootdown: the leaf's EPCM check sees the page blocked, gone
 * or someone else's, and walks again (hw/enclu_access.c).
 */
#include <errno.h>
#include <sys/mman.h>

#include "kernel/driver.h"
#include "kernel/encl.h"
#include "kernel/pte_table.h"

int sgx_translate(struct sgx_kernel *k, uint64_t addr, int access, void **epc)
{
	return sgx_translate_mm(k, &k->mm, addr, access, epc);
}

/* The walk's table says where the page is: the direct map's address. */
static void *pte_epc(struct sgx_kernel *k, uint64_t pte)
{
	return (uint8_t *)k->sections[sgx_pte_section(pte)].virt_addr +
	       sgx_pte_index(pte) * SGX_PAGE_SIZE;
}

int sgx_translate_mm(struct sgx_kernel *k, struct sgx_mm *mm, uint64_t addr, int access, void **epc)
{
	struct sgx_pte_table *walk = mm->walk;
	struct sgx_encl_page *entry;
	struct sgx_encl *encl;
	struct sgx_vma *vma;
	int ret = -EFAULT;

	if (walk) {
		uint64_t pte = sgx_pte_get(walk, addr & ~(uint64_t)(SGX_PAGE_SIZE - 1));

		if (pte && (sgx_pte_prot(pte) & access) == access) {
			*epc = pte_epc(k, pte);
			return 0;
		}
	}
	if (pthread_rwlock_tryrdlock(&mm->lock))
		return -EFAULT;
	vma = sgx_find_vma(mm, addr);
	if (!vma || !vma->file)
		goto out;
	encl = sgx_file_encl(vma->file);
	if (!encl)
		goto out;
	if (pthread_mutex_trylock(&encl->lock))
		goto out;
	entry = page_array_load(&encl->page_array, addr / SGX_PAGE_SIZE);
	if ((vma->prot & access) != access) {
		/*
		 * Protection fault (P set in the error code) only on a present
		 * PTE, as the CPU's walk; otherwise not present, and the fault
		 * handler decides (SIGSEGV by the VMA's protection).
		 */
		if (entry && (entry->mapped & vma->pte_bit) && entry->epc_page && vma->prot)
			ret = -EACCES;
	} else if (entry && entry->epc_page && !entry->being_reclaimed) {
		*epc = sgx_get_epc_virt_addr(k, entry->epc_page);
		ret = 0;
		/* The PTE is present now: the table and the bit, under both locks. */
		if (walk && sgx_pte_set(walk, addr & ~(uint64_t)(SGX_PAGE_SIZE - 1),
					sgx_pte_make(entry->epc_page->section,
						     entry->epc_page->index, vma->prot)))
			entry->mapped |= vma->pte_bit;
	}
	pthread_mutex_unlock(&encl->lock);
out:
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

void sgx_encl_walk_forget(struct sgx_encl *encl, struct sgx_encl_page *entry)
{
	struct list_head *pos;

	for (pos = encl->mm_list.next; pos != &encl->mm_list; pos = pos->next) {
		struct sgx_encl_mm *em = list_entry(pos, struct sgx_encl_mm, list);

		if (em->mm->walk && (entry->mapped & em->bit))
			sgx_pte_clear(em->mm->walk, entry->desc, SGX_PAGE_SIZE);
	}
}
