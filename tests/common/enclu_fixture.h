/* SPDX-License-Identifier: MIT */
/*
 * Enclaves for the tests of the ENCLU leaves: built and initialized at the hw
 * level (ECREATE, EADD, EEXTEND, EINIT), with a test MMU that maps the
 * enclave's linear pages to their EPC pages, as the caller's page tables
 * would.
 *
 * Layout, in pages from FX_BASE: TCS, code, EF_NSSA one-page SSA frames, a
 * writable data page, a read-only data page, and a last linear page inside
 * ELRANGE that the MMU does not map.
 */
#ifndef SOFTSGX_ENCLU_FIXTURE_H
#define SOFTSGX_ENCLU_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/enclu.h"
#include "tests/common/hw_fixture.h"

#define EF_NSSA	    2
#define EF_TCS	    0
#define EF_CODE	    1
#define EF_SSA	    2 /* EF_NSSA frames */
#define EF_DATA	    (EF_SSA + EF_NSSA)
#define EF_RODATA   (EF_DATA + 1)
#define EF_PAGES    (EF_RODATA + 1)
#define EF_UNMAPPED EF_PAGES /* linear page in ELRANGE without a mapping */
/* EPC pages an enclave uses: its SECS and EF_PAGES pages. */
#define EF_EPC_PAGES (EF_PAGES + 1)

#define EF_OENTRY  (EF_CODE * SGX_PAGE_SIZE + 0x10)
#define EF_OFSBASE (EF_DATA * SGX_PAGE_SIZE)
#define EF_OGSBASE (EF_RODATA * SGX_PAGE_SIZE)

/* What distinguishes one fixture enclave from another. */
struct ef_params {
	uint64_t attributes; /* SECS.ATTRIBUTES for ECREATE */
	uint64_t xfrm;
	uint32_t miscselect;
	uint8_t code_byte; /* fill of the code page: MRENCLAVE */
	uint16_t isvprodid, isvsvn;
	bool other_signer; /* sign with SOFTSGX_TEST_KEY2 */
	bool no_einit;	   /* leave the enclave uninitialized */
	uint8_t config_id[64];
	uint16_t config_svn;
	uint64_t tcs_flags;
	/* SECS.SSAFRAMESIZE, 0 for 1. Frame 0 then spans the SSA pages and the data page. */
	uint32_t ssa_frame_size;
};

struct ef_mmu {
	uint64_t base;
	void *map[EF_PAGES + 1]; /* EPC page behind each linear page, or NULL */
	int prot[EF_PAGES + 1];	 /* enum hw_mmu_access bits the mapping allows */
};

struct ef_enclave {
	struct sgx_hw *hw;
	void *secs;
	void *page[EF_PAGES]; /* EPC page of each linear page */
	struct ef_mmu mmu_state;
	struct hw_mmu mmu;
};

/* DEBUG|MODE64BIT, XFRM x87|SSE, code byte 0xC3, ISVPRODID 1, ISVSVN 2. */
void ef_params_default(struct ef_params *p);

/*
 * Build (and unless p->no_einit, EINIT) an enclave at FX_BASE in EPC pages
 * @first .. @first + EF_EPC_PAGES - 1 of @hw. Asserts success.
 */
void ef_build(struct ef_enclave *e, struct sgx_hw *hw, uint64_t first, const struct ef_params *p);

/* Linear address of layout page @n. */
static inline uint64_t ef_la(unsigned int n)
{
	return FX_BASE + (uint64_t)n * SGX_PAGE_SIZE;
}

/* The test MMU's translate(): a missing or forbidden mapping is a #PF. */
bool ef_translate(void *ctx, uint64_t linaddr, int access, void **epc, uint32_t *pf_errcode);

/* Registers of an outside thread about to run ENCLU[EENTER] on the TCS. */
void ef_regs_outside(struct sgx_cpu_regs *regs, uint64_t leaf);

/* EENTER on the fixture's TCS with ef_regs_outside() registers; asserts success. */
void ef_enter(struct ef_enclave *e, struct sgx_lp *lp, struct sgx_cpu_regs *regs);
/* EEXIT to an outside address; asserts success. */
void ef_exit(struct ef_enclave *e, struct sgx_lp *lp, struct sgx_cpu_regs *regs);

#define EF_OUTSIDE_RIP 0x401000ULL /* the ENCLU instruction outside */
#define EF_AEP	       0x401100ULL
#define EF_OUTSIDE_RSP 0x7ffff000ULL
#define EF_OUTSIDE_RBP 0x7ffff800ULL
#define EF_OUTSIDE_FS  0x7f0000001000ULL
#define EF_OUTSIDE_GS  0x7f0000002000ULL
#define EF_EXIT_TARGET 0x401200ULL

#endif /* SOFTSGX_ENCLU_FIXTURE_H */
