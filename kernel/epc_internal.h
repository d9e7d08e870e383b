/* SPDX-License-Identifier: MIT */
/*
 * What the page allocator (epc.c) and sanitization (sanitize.c) share:
 * descriptors, the free list, and the first pass's one-page step that both
 * run on pages nobody has looked at yet.
 */
#ifndef SOFTSGX_KERNEL_EPC_INTERNAL_H
#define SOFTSGX_KERNEL_EPC_INTERNAL_H

#include "kernel/sgx.h"

/* The descriptor of page @index of section @section, created with its chunk; NULL: -ENOMEM. */
struct sgx_epc_page *sgx_epc_desc_get(struct sgx_kernel *k, unsigned int section,
				      uint64_t index);

/* Put @page on its section's free list; @count: it was not counted free yet. */
void sgx_epc_put_free(struct sgx_kernel *k, struct sgx_epc_page *page, bool count);

/* Set up sanitization of section @i at boot: which pages it must look at. */
void sgx_sanitize_section_init(struct sgx_kernel *k, unsigned int i);

/*
 * First pass on page san_next of section @i (s->lock held, san_next <
 * san_end): EREMOVE it; a page that refuses goes to the dirty list for the
 * second pass. 0, or -ENOMEM (no descriptor: nothing changed).
 */
int sgx_sanitize_next_locked(struct sgx_kernel *k, unsigned int i);

#endif /* SOFTSGX_KERNEL_EPC_INTERNAL_H */
