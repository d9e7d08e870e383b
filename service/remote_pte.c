// SPDX-License-Identifier: MIT
/*
 * The client's page table: one process-wide table of kernel/pte_table.h,
 * in .bss (its top level is 1 MiB of address space, touched sparsely).
 */
#include "kernel/pte_table.h"
#include "service/remote_pte.h"

static struct sgx_pte_table table;

void svc_pte_set(uint64_t addr, unsigned int section, uint64_t index, int prot)
{
	/*
	 * No leaf (address space or memory exhausted): the page is mapped
	 * but the model does not see it, so a leaf on it faults to the
	 * service, which answers "retry" for ever. Not reachable below 128 TiB
	 * with memory to spare.
	 */
	(void)sgx_pte_set(&table, addr, sgx_pte_make(section, index, prot));
}

void svc_pte_clear(uint64_t addr, uint64_t len)
{
	sgx_pte_clear(&table, addr, len);
}

bool svc_pte_get(uint64_t addr, unsigned int *section, uint64_t *index, int *prot)
{
	uint64_t v = sgx_pte_get(&table, addr);

	if (!v)
		return false;
	*prot = sgx_pte_prot(v);
	*section = sgx_pte_section(v);
	*index = sgx_pte_index(v);
	return true;
}
