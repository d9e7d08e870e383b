// SPDX-License-Identifier: MIT
/*
 * The page-table walk the CPU does for enclave code and ENCLU operands: the
 * EPC page a process address maps right now. A page that is not resident,
 * or a VMA that forbids the access, is a page fault the caller resolves
 * through sgx_handle_fault() before trying again, as the CPU would.
 */
#include <errno.h>
#include <sys/mman.h>

#include "driver.h"
#include "encl.h"

int sgx_translate(struct sgx_kernel *k, uint64_t addr, int access, void **epc)
{
	struct sgx_encl_page *entry;
	struct sgx_encl *encl;
	struct sgx_vma *vma;
	int ret = -EFAULT;

	pthread_rwlock_rdlock(&k->mm.lock);
	vma = sgx_find_vma(&k->mm, addr);
	if (!vma || !vma->file)
		goto out;
	if ((vma->prot & access) != access) {
		ret = -EACCES;
		goto out;
	}
	encl = sgx_file_encl(vma->file);
	if (!encl)
		goto out;
	pthread_mutex_lock(&encl->lock);
	entry = page_array_load(&encl->page_array, addr / SGX_PAGE_SIZE);
	if (entry && entry->epc_page && !entry->being_reclaimed) {
		*epc = sgx_get_epc_virt_addr(k, entry->epc_page);
		ret = 0;
	}
	pthread_mutex_unlock(&encl->lock);
out:
	pthread_rwlock_unlock(&k->mm.lock);
	return ret;
}
