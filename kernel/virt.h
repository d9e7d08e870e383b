/* SPDX-License-Identifier: MIT */
/*
 * /dev/sgx_vepc (Linux virt.c): raw EPC for virtual machines. Pages are
 * allocated when the VMM's mapping faults, never reclaimed, and EREMOVEd on
 * SGX_IOC_VEPC_REMOVE_ALL and on release; SECS pages that keep children in
 * another instance wait on the zombie list for a later release.
 */
#ifndef SOFTSGX_VIRT_H
#define SOFTSGX_VIRT_H

#include "kernel/driver.h"
#include "kernel/page_array.h"

struct sgx_vepc {
	struct sgx_kernel *k;
	pthread_mutex_t lock;
	struct page_array page_array; /* file page index -> struct sgx_epc_page */
	_Atomic int64_t mapped_bytes; /* VMAs onto it, in every mm (sgx_vma_set_range()) */
	struct list_head usage_link;  /* on k->vepcs */
	uint64_t usage_id;
};

struct sgx_vepc *sgx_vepc_alloc(struct sgx_kernel *k);
void sgx_vepc_release(struct sgx_vepc *vepc);
long sgx_vepc_ioctl(struct sgx_vepc *vepc, unsigned long cmd, unsigned long arg);
enum sgx_fault_result sgx_vepc_fault(struct sgx_vepc *vepc, struct sgx_vma *vma, uint64_t addr);

/*
 * The host side of a guest's EPT (an hw_alias_fn, @ctx the host kernel): the
 * EPC page behind @page_addr of a vEPC mapping, allocated on first use.
 */
void *sgx_vepc_translate(void *ctx, uintptr_t page_addr);

/*
 * The VMM's preallocation of guest EPC (as QEMU preallocates a vEPC memory
 * backend): back every page of [@addr, @addr + @size) with EPC now, reclaiming
 * host enclave pages if needed. 0; -EINVAL when a page is not in a vEPC
 * mapping; -ENOMEM when the host has no EPC left for it. Without this a
 * guest would meet the shortage as #PF from its own ENCLS.
 */
int sgx_vepc_populate(struct sgx_kernel *k, uintptr_t addr, uint64_t size);
int sgx_vepc_populate_mm(struct sgx_kernel *k, struct sgx_mm *mm, uintptr_t addr, uint64_t size);

/* The EPC page behind @addr of a vEPC mapping, or NULL; allocates nothing. */
void *sgx_vepc_lookup(struct sgx_kernel *k, uintptr_t addr);
void *sgx_vepc_lookup_mm(struct sgx_kernel *k, struct sgx_mm *mm, uintptr_t addr);

#endif /* SOFTSGX_VIRT_H */
