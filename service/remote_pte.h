/* SPDX-License-Identifier: MIT */
/*
 * The page table of a client process as the CPU model walks it
 * (service/remote_pte.c, a table of kernel/pte_table.h). A client's PTEs
 * are MAP_SHARED mappings of EPC section memfds made from the service's
 * PTE operations; the host's page tables know them, but an ENCLU leaf run
 * by this process (EENTER's TCS, the SSA, EREPORT's operands) needs the EPC
 * page behind an address, which only the operation that installed it
 * named. Every install and every removal of the client library goes
 * through here too.
 *
 * Lock-free and async-signal-safe: a leaf walks it in a signal handler,
 * the notify thread zaps while it does; an entry is one atomic word.
 */
#ifndef SOFTSGX_SERVICE_REMOTE_PTE_H
#define SOFTSGX_SERVICE_REMOTE_PTE_H

#include <stdbool.h>
#include <stdint.h>

/* Page @index of section @section is mapped at @addr with @prot (PROT_* bits). */
void svc_pte_set(uint64_t addr, unsigned int section, uint64_t index, int prot);
/* Nothing of [@addr, @addr + @len) is mapped any more. */
void svc_pte_clear(uint64_t addr, uint64_t len);
/* The PTE at @addr (page aligned): false when none. */
bool svc_pte_get(uint64_t addr, unsigned int *section, uint64_t *index, int *prot);

#endif /* SOFTSGX_SERVICE_REMOTE_PTE_H */
