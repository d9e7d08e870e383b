/* SPDX-License-Identifier: MIT */
/*
 * The ABI of the project's test enclave, shared by the enclave itself
 * (freestanding C and assembly) and the host programs that drive it.
 * docs/enclave-abi.md describes it in prose.
 *
 * EENTER with:
 *   RDI = operation (enum test_encl_op)
 *   RSI = first argument, RDX = second argument
 * The enclave leaves with EEXIT and:
 *   RDI = status (enum test_encl_status)
 *   RSI = value (the operation's result; 0 when it has none)
 *   RDX, R8-R11 = 0
 *   RSP, RBP, R12-R15 = the host's values at EENTER
 *   RBX = the exit address (RCX at EENTER), RCX = the AEP, RAX = EEXIT
 * The vDSO passes RDI, RSI and RDX to its user handler as its first three
 * arguments; that is how a host program sees the status and the value.
 *
 * An EENTER with CSSA > 0 (the host entering to handle an exception) does
 * nothing but EEXIT with TEST_ENCL_EXCEPTION_ENTRY and RSI = EXITINFO of the
 * interrupted SSA frame.
 */
#ifndef SOFTSGX_TEST_ENCLAVE_H
#define SOFTSGX_TEST_ENCLAVE_H

/* Layout: the linker script takes these values from the entry file's symbols. */
#define TEST_ENCL_NR_TCS	  2
#define TEST_ENCL_NSSA		  2
/*
 * One page holds the SSA frame of an enclave whose XFRM is x87 and SSE.
 * build/enclaves/test_enclave_xsave.elf is the same enclave built with
 * -DTEST_ENCL_SSA_FRAME_PAGES=4, room for every XSAVE component a current
 * CPU has (AVX-512 and AMX: 11 KiB), for enclaves whose XFRM is the host's
 * XCR0.
 */
#ifndef TEST_ENCL_SSA_FRAME_PAGES
#define TEST_ENCL_SSA_FRAME_PAGES 1
#endif
#define TEST_ENCL_STACK_PAGES	  4
#define TEST_ENCL_PAGE_SIZE	  4096

#define TEST_ENCL_SSA_FRAME_SIZE (TEST_ENCL_SSA_FRAME_PAGES * TEST_ENCL_PAGE_SIZE)
#define TEST_ENCL_SSA_PER_TCS	 (TEST_ENCL_NSSA * TEST_ENCL_SSA_FRAME_SIZE)
#define TEST_ENCL_STACK_SIZE	 (TEST_ENCL_STACK_PAGES * TEST_ENCL_PAGE_SIZE)

/* The GPR area is the last 184 bytes of an SSA frame; EXITINFO is at 160 in it. */
#define TEST_ENCL_SSA_GPR_SIZE 184
#define TEST_ENCL_SSA_EXITINFO 160

/* Size of the enclave's copy buffer (TEST_ENCL_OP_COPY_IN/OUT). */
#define TEST_ENCL_BUFFER_SIZE 8192

/* The value of the initialized u64 at TEST_ENCL_OP_MAGIC's address. */
#define TEST_ENCL_MAGIC 0x2158475354464F53ULL /* "SOFTSGX!" in memory */

/* Operations, in RDI at EENTER. */
#define TEST_ENCL_OP_NOP       0  /* nothing; status OK */
#define TEST_ENCL_OP_COPY_IN   1  /* RSI: host source, RDX: length; into the buffer */
#define TEST_ENCL_OP_COPY_OUT  2  /* RSI: host destination, RDX: length; from the buffer */
#define TEST_ENCL_OP_READ_U64  3  /* RSI: enclave address; value = the u64 there */
#define TEST_ENCL_OP_WRITE_U64 4  /* RSI: enclave address, RDX: the u64 to store */
#define TEST_ENCL_OP_UD2       5  /* executes ud2 (#UD) */
#define TEST_ENCL_OP_DIV_ZERO  6  /* divides by zero (#DE) */
#define TEST_ENCL_OP_EREPORT   7  /* RSI: host struct test_encl_report_args */
#define TEST_ENCL_OP_EGETKEY   8  /* RSI: host KEYREQUEST (512 bytes), RDX: host key (16) */
#define TEST_ENCL_OP_BUFFER    9  /* value = enclave address of the copy buffer */
#define TEST_ENCL_OP_MAGIC     10 /* value = enclave address of the TEST_ENCL_MAGIC u64 */
/*
 * Instructions that are illegal in enclave mode (SDM Vol. 3D, "Illegal
 * Instructions"): on hardware each raises #UD, which reaches the host as an
 * AEX. Should one complete, the operation returns what it produced.
 */
#define TEST_ENCL_OP_CPUID     11 /* RSI: leaf, RDX: subleaf; value = EBX << 32 | EAX */
#define TEST_ENCL_OP_SYSCALL   12 /* RSI: system call number, no arguments; value = RAX after */
/*
 * Runs until the u64 at host address RSI is nonzero, or for RDX iterations
 * when RDX is nonzero; value = iterations done. Keeps a running sum in
 * callee-saved registers and checks it against one kept in enclave memory:
 * status TEST_ENCL_BAD_STATE when an AEX and ERESUME did not give back the
 * enclave's registers exactly.
 */
#define TEST_ENCL_OP_SPIN      13
/*
 * XSAVE64 / XRSTOR64 of slot (RDX >> 32) (one per TCS, TEST_ENCL_XSAVE_SLOTS)
 * with the instruction mask RSI (EDX:EAX), as a trusted runtime saves the
 * extended state around an OCALL. RDX & 0xffffffff is the size the caller
 * sized the buffer for: XSAVE fills the slot with TEST_ENCL_XSAVE_FILL
 * first, then checks that nothing past that size changed (status
 * TEST_ENCL_OVERRUN, value = offset of the first byte written past it).
 * XSAVE's value is the XSTATE_BV it wrote; XRSTOR's is 0.
 */
#define TEST_ENCL_OP_XSAVE     14
#define TEST_ENCL_OP_XRSTOR    15

/*
 * SGX2 (dynamic memory). Addresses here may lie anywhere in ELRANGE past the
 * image (pages the kernel adds with EAUG), not only in the image.
 * EACCEPT: RSI = page, RDX = SECINFO flags (R/W/X, PENDING, MODIFIED, PR,
 * page type << 8); value = its return code (status TEST_ENCL_SGX_ERROR when
 * nonzero). EMODPE: RSI = page, RDX = SECINFO flags (permissions to add).
 * EACCEPTCOPY: RSI = pending page, RDX = page-aligned source in the enclave
 * with the SECINFO permission flags in its low 12 bits; value = return code.
 * DYN_READ/DYN_WRITE: as READ_U64/WRITE_U64 for any address past the image.
 */
#define TEST_ENCL_OP_EACCEPT	 16
#define TEST_ENCL_OP_EMODPE	 17
#define TEST_ENCL_OP_EACCEPTCOPY 18
#define TEST_ENCL_OP_DYN_READ	 19
#define TEST_ENCL_OP_DYN_WRITE	 20

#define TEST_ENCL_XSAVE_SLOTS	  2
#define TEST_ENCL_XSAVE_SLOT_SIZE 12288
#define TEST_ENCL_XSAVE_FILL	  0xA5

/* Status, in RDI at EEXIT. */
#define TEST_ENCL_OK		  0
#define TEST_ENCL_BAD_OP	  1 /* unknown operation */
#define TEST_ENCL_BAD_ARG	  2 /* address or length outside what the operation allows */
#define TEST_ENCL_SGX_ERROR	  3 /* EGETKEY failed: value = its return code */
#define TEST_ENCL_EXCEPTION_ENTRY 4 /* entered with CSSA > 0: value = EXITINFO */
#define TEST_ENCL_BAD_STATE	  5 /* TEST_ENCL_OP_SPIN: registers changed under it */
#define TEST_ENCL_OVERRUN	  6 /* TEST_ENCL_OP_XSAVE wrote past the caller's size */

#ifndef __ASSEMBLER__
#include <stdint.h>

/*
 * Argument of TEST_ENCL_OP_EREPORT in host memory. The enclave copies
 * TARGETINFO and REPORTDATA into aligned enclave buffers, runs EREPORT and
 * copies the REPORT back into @report. Plain bytes so that the host needs no
 * particular alignment.
 */
struct test_encl_report_args {
	uint8_t targetinfo[512]; /* in: struct sgx_targetinfo */
	uint8_t report_data[64]; /* in */
	uint8_t report[432];	 /* out: struct sgx_report */
};

_Static_assert(sizeof(struct test_encl_report_args) == 1008, "test_encl_report_args");
#endif

#endif /* SOFTSGX_TEST_ENCLAVE_H */
