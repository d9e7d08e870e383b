/* SPDX-License-Identifier: MIT */
/* Helpers for tests that drive the CPU model directly: small platforms, EPC
 * pages by number, and the boilerplate of ECREATE/EADD/EEXTEND. */
#ifndef SOFTSGX_HW_FIXTURE_H
#define SOFTSGX_HW_FIXTURE_H

#include <stdint.h>

#include "hw/hw.h"

#define FX_BASE 0x100000000ULL /* ELRANGE base of fixture enclaves */
#define FX_SIZE (64 * SGX_PAGE_SIZE)

/* A platform of @nr_sections sections of @pages pages each; asserts success. */
struct sgx_hw *fx_hw_new(unsigned int nr_sections, uint64_t pages);

/* The @n-th EPC page counting across sections, as a direct-map address. */
void *fx_epc_page(struct sgx_hw *hw, uint64_t n);

/* A SECS for ECREATE: 64-bit, one SSA page, XFRM x87|SSE, given attributes. */
void fx_secs_init(struct sgx_secs *secs, uint64_t base, uint64_t size, uint64_t attributes);
int fx_ecreate(struct sgx_hw *hw, void *secs_epc, const struct sgx_secs *src);
/* ECREATE with fx_secs_init(FX_BASE, FX_SIZE, DEBUG|MODE64BIT); asserts success. */
void fx_ecreate_default(struct sgx_hw *hw, void *secs_epc);

/* EADD @src (page-aligned) at @linaddr with SECINFO.FLAGS = @flags. */
int fx_eadd(struct sgx_hw *hw, void *secs_epc, void *epc, uint64_t linaddr,
	    const void *src, uint64_t flags);
/* EEXTEND all sixteen 256-byte chunks of @epc; asserts success. */
void fx_eextend_page(struct sgx_hw *hw, void *secs_epc, void *epc);

/* A TCS that EADD accepts. */
void fx_tcs_init(struct sgx_tcs *tcs);

/* A page-aligned 4 KiB buffer filled with @byte; free() it. */
void *fx_page_buf(uint8_t byte);

#endif /* SOFTSGX_HW_FIXTURE_H */
