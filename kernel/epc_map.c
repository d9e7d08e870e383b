// SPDX-License-Identifier: MIT
/* Mapping an EPC page into the process: the PTE of the model. */
#include <errno.h>

#include "sgx.h"

int sgx_epc_page_map(struct sgx_kernel *k, struct sgx_epc_page *page, uint64_t addr, int prot)
{
	struct sgx_epc_section *s = &k->sections[page->section];
	uint64_t offset = page->index * SGX_PAGE_SIZE;
	int fd = s->memfd;

	/* A guest's section is an alias (a host vEPC mapping): ask the CPU model where it lives. */
	if (fd < 0 && !hw_epc_backing(k->hw, sgx_get_epc_virt_addr(k, page), &fd, &offset))
		return -EFAULT;
	return sgx_pte_install(addr, fd, offset, prot);
}
