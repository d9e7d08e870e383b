// SPDX-License-Identifier: MIT
/*
 * Mapping an EPC page into the process: the PTE of the model. The entry is
 * a duplicate of the page's mapping in the view of its section that has the
 * wanted protection (hw/shm.h): one mremap(), and no file descriptor the
 * program could close or replace under it.
 */
#include <errno.h>
#include <sys/mman.h>

#include "kernel/sgx.h"
#include "hw/shm.h"

int sgx_epc_page_map(struct sgx_kernel *k, const struct sgx_epc_page *page, uint64_t addr,
		     int prot)
{
	struct sgx_epc_section *s = &k->sections[page->section];
	int p = prot & (SGX_SHM_NR_VIEWS - 1);
	uint8_t *src = s->view[p] ? s->view[p] : s->view[PROT_READ | PROT_WRITE];

	if (src)
		src += page->index * SGX_PAGE_SIZE;
	else
		/* A guest's section is an alias (a host vEPC mapping): ask the CPU model. */
		src = hw_epc_view(k->hw, sgx_get_epc_virt_addr(k, page), p);
	if (!src)
		return -EFAULT;
	return sgx_shm_map_from(src, addr, prot);
}
