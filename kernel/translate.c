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
 */
#include <errno.h>
#include <sys/mman.h>

#include "kernel/driver.h"
#include "kernel/encl.h"

int sgx_translate(struct sgx_kernel *k, uint64_t addr, int access, void **epc)
{
	return sgx_translate_mm(k, &k->mm, addr, access, epc);
}

int sgx_translate_mm(struct sgx_kernel *k, struct sgx_mm *mm, uint64_t addr, int access, void **epc)
{
	struct sgx_encl_page *entry;
	struct sgx_encl *encl;
	struct sgx_vma *vma;
	int ret = -EFAULT;

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
	}
	pthread_mutex_unlock(&encl->lock);
out:
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}
