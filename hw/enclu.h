/* SPDX-License-Identifier: MIT */
/*
 * The ENCLU leaves of the CPU model (SDM Vol. 3D, "Intel SGX Instruction
 * References" and "Enclave Exiting Events"): EENTER, ERESUME, EEXIT, the
 * asynchronous enclave exit, EREPORT and EGETKEY; with SGX2, EACCEPT,
 * EACCEPTCOPY and EMODPE.
 *
 * The model has no signals and switches no real context. A logical processor
 * is a struct sgx_lp plus a struct sgx_cpu_regs that the caller owns: a leaf
 * reads the registers the SDM names as inputs and leaves in them exactly what
 * the instruction would, including RIP. The caller (the LD_PRELOAD shim)
 * moves state between a signal context and these structures.
 *
 * Linear addresses (the TCS in RBX, the operands of EREPORT and EGETKEY, the
 * SSA frame) go through the caller's page tables, struct hw_mmu, and then
 * through the EPCM checks of the SDM.
 *
 * Every leaf returns SGX_SUCCESS, an SGX return code (EGETKEY, which also
 * puts it in RAX), or a fault encoded as for ENCLS: ENCLS_FAULT(X86_TRAP_GP)
 * or ENCLS_FAULT(X86_TRAP_PF), with the faulting address and error code in
 * the sgx_lp. A faulting leaf changes no register and no memory.
 */
#ifndef SOFTSGX_ENCLU_H
#define SOFTSGX_ENCLU_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"

/* Exception vectors the ENCLU model reports or raises. */
#define X86_TRAP_DE 0
#define X86_TRAP_DB 1
#define X86_TRAP_BP 3
#define X86_TRAP_OF 4
#define X86_TRAP_BR 5
#define X86_TRAP_UD 6
#define X86_TRAP_MF 16
#define X86_TRAP_AC 17
#define X86_TRAP_XM 19
/* hw_aex() with a vector of 32 or more: an interrupt, not an exception. */
#define X86_FIRST_INTERRUPT_VECTOR 32

/* Page-fault error code bits. */
#define X86_PF_PROT  0x1u /* the page was present */
#define X86_PF_WRITE 0x2u
#define X86_PF_USER  0x4u
#define X86_PF_INSTR 0x10u
#define X86_PF_SGX   0x8000u /* an EPCM check failed */

/* RFLAGS bits. */
#define X86_EFLAGS_CF 0x00000001ULL
#define X86_EFLAGS_PF 0x00000004ULL
#define X86_EFLAGS_AF 0x00000010ULL
#define X86_EFLAGS_ZF 0x00000040ULL
#define X86_EFLAGS_SF 0x00000080ULL
#define X86_EFLAGS_TF 0x00000100ULL
#define X86_EFLAGS_IF 0x00000200ULL
#define X86_EFLAGS_DF 0x00000400ULL
#define X86_EFLAGS_OF 0x00000800ULL
#define X86_EFLAGS_NT 0x00004000ULL
#define X86_EFLAGS_RF 0x00010000ULL
#define X86_EFLAGS_AC 0x00040000ULL
#define X86_EFLAGS_ID 0x00200000ULL

/* Length of the ENCLU instruction, 0F 01 D7. */
#define SGX_ENCLU_LEN 3

/*
 * The extended state as XSAVE writes it in the standard (non-compacted)
 * format: legacy region (x87 and SSE) at 0, XSAVE header at 512, then every
 * other component at the offset the host's CPUID.(0DH,i):EBX gives (AVX
 * upper halves at 576). The SSA's XSAVE region has the same format. The
 * area holds every user component of current CPUs (AVX-512 and AMX: about
 * 11 KiB); components that would not fit are not offered in XFRM.
 */
#define SGX_XSAVE_AREA_SIZE	16384
/* Pages an SSA frame's XSAVE region can span. */
#define SGX_XSAVE_MAX_PAGES	(SGX_XSAVE_AREA_SIZE / 4096)
#define SGX_XSAVE_LEGACY_SIZE	512
#define SGX_XSAVE_HEADER_OFFSET 512
#define SGX_XSAVE_HEADER_SIZE	64
#define SGX_XSAVE_AVX_OFFSET	576
#define SGX_XSAVE_AVX_SIZE	256
/* Offsets in the legacy region. */
#define SGX_XSAVE_FCW	  0
#define SGX_XSAVE_FSW	  2
#define SGX_XSAVE_FTW	  4
#define SGX_XSAVE_MXCSR	  24
#define SGX_XSAVE_ST0	  32
#define SGX_XSAVE_XMM0	  160
#define SGX_XSAVE_XMM_END 416
/* Init values of the x87 control word and of MXCSR. */
#define SGX_FCW_INIT   0x037F
#define SGX_MXCSR_INIT 0x1F80

/* The register file of a logical processor, as the leaves see it. */
struct sgx_cpu_regs {
	uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	/* On entry to a leaf: the address of the ENCLU instruction. */
	uint64_t rip;
	uint64_t rflags;
	uint64_t fsbase;
	uint64_t gsbase;
	/*
	 * Bytes of @xsave that hold state (the XSAVE area size of the caller's
	 * XCR0: the signal frame's). Leaves that load components extend it to
	 * cover them. Components whose XSTATE_BV bit is clear are in their
	 * init configuration whatever the bytes say.
	 */
	uint32_t xsave_len;
	uint8_t xsave[SGX_XSAVE_AREA_SIZE] __attribute__((aligned(64)));
};

/* Zero registers, and extended state in its init configuration. */
void sgx_cpu_regs_init(struct sgx_cpu_regs *regs);

enum hw_mmu_access {
	HW_MMU_READ = 0x1,
	HW_MMU_WRITE = 0x2,
	HW_MMU_EXEC = 0x4,
};

/*
 * The caller's page tables. @translate maps the page-aligned linear address
 * @linaddr, accessed as @access (enum hw_mmu_access bits), to the address of
 * the page behind it, which for an enclave page is its EPC page in the direct
 * map (or in an EPC alias). It returns false when the access would fault,
 * with the page-fault error code in *@pf_errcode; the leaf then reports #PF
 * at the operand's address with that code.
 */
struct hw_mmu {
	bool (*translate)(void *ctx, uint64_t linaddr, int access, void **epc,
			  uint32_t *pf_errcode);
	void *ctx;
	/*
	 * Optional (NULL: nothing cached). Forget any translation remembered
	 * from an earlier walk of this leaf, as a TLB shootdown would: a leaf
	 * calls it before walking again to tell a page the OS has meanwhile
	 * unmapped from an EPCM violation (enclu_enclave_page()).
	 */
	void (*flush)(void *ctx);
};

/*
 * One logical processor (one thread of the process). Zero it with
 * sgx_lp_init() before first use; only the leaves change it.
 */
struct sgx_lp {
	/* Readable by the caller. */
	bool inside;		/* enclave mode (CR_ENCLAVE_MODE) */
	/*
	 * EENTER or ERESUME in progress: from before the SECS counts the
	 * thread in (which an ETRACK may then see) until @inside is set or
	 * the leaf fails. On hardware an IPI cannot fall between the two;
	 * here whoever interrupts the threads inside (the model's IPI) must
	 * interrupt a thread in this window too, once it has finished.
	 */
	_Atomic bool entering;
	uint64_t tcs_la;	/* TCS of the current or last entry (CR_TCS_LA) */
	uint64_t aep;		/* AEP of the current or last entry */
	uint64_t xfrm;		/* SECS.ATTRIBUTES.XFRM of the current or last entry */
	uint64_t fault_addr;	/* of the last leaf that faulted: CR2 for #PF */
	uint32_t fault_errcode; /* its error code (0 for #GP) */

	/* The processor's internal registers (the SDM's CR_*): hw/ only. */
	struct {
		void *tcs;			   /* CR_TCS_PA: direct-map address of the TCS */
		uint64_t secs_pfn;		   /* CR_ACTIVE_SECS */
		uint64_t base, size;		   /* CR_ELRANGE */
		/* CR_XSAVE_PAGE_n: the pages of the SSA frame's XSAVE region. */
		uint8_t *xsave_pages[SGX_XSAVE_MAX_PAGES];
		struct sgx_ssa_gpr *gpr;	   /* CR_GPR_PA: SSA frame's GPR area */
		uint64_t save_fsbase, save_gsbase; /* CR_SAVE_FS, CR_SAVE_GS */
		bool dbgoptin;			   /* CR_DBGOPTIN */
		bool save_tf;			   /* CR_SAVE_TF */
	} cr;
};

void sgx_lp_init(struct sgx_lp *lp);

/*
 * A logical processor that no longer exists while inside an enclave (the
 * thread is not in a fork's child, which never had it): the enclave counts
 * it out and its TCS is free, as if it had left; @lp is reset.
 */
void sgx_lp_vanish(struct sgx_hw *hw, struct sgx_lp *lp);

/*
 * ENCLU[EENTER]: RBX = linear address of a TCS, RCX = AEP. On success RAX =
 * TCS.CSSA, RCX = RIP + 3 (the instruction after ENCLU), RIP = enclave base +
 * TCS.OENTRY, FS/GS bases = base + TCS.OFSBASE/OGSBASE; the outside RSP and
 * RBP are saved in the current SSA frame (URSP/URBP) and the outside FS/GS
 * bases in @lp. #GP: RBX not page aligned, AEP not canonical, already inside
 * an enclave, TCS busy, enclave not initialized or not 64-bit, reserved
 * TCS.FLAGS, CSSA >= NSSA, a target or FS/GS base not canonical. #PF: RBX not
 * mapped (the MMU's error code), not a valid TCS of an enclave at that
 * address, or an SSA frame page that is not a valid readable and writable
 * REG page of the same enclave (error code with X86_PF_SGX).
 */
int enclu_eenter(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		 struct sgx_cpu_regs *regs);

/*
 * ENCLU[ERESUME]: RBX = TCS, RCX = AEP. Restores the GPRs, RIP, the
 * arithmetic and control flags and the extended state from SSA frame
 * CSSA - 1, then decrements CSSA; FS/GS bases come from the TCS as on
 * EENTER. The checks of EENTER, except that CSSA must be above 0, plus #GP
 * for an XSAVE header in the frame that XRSTOR would refuse.
 */
int enclu_eresume(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		  struct sgx_cpu_regs *regs);

/*
 * ENCLU[EEXIT]: RBX = target. RIP = RBX, RCX = the AEP of the current entry
 * (the SDM's "RCX receives the current AEP"), FS/GS bases restored; the TCS
 * is free again. Other registers and the extended state stay as the enclave
 * left them. #GP outside an enclave or for a target that is not canonical.
 */
int enclu_eexit(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		struct sgx_cpu_regs *regs);

/*
 * The asynchronous enclave exit for an exception or interrupt that occurs
 * with @regs the enclave's state at the faulting instruction. Saves the GPRs,
 * RIP, RFLAGS (TF cleared), FS/GS bases and EXITINFO into SSA frame CSSA, the
 * extended state of the enclave's XFRM into its XSAVE region, and for #PF
 * (@fault_addr, @error_code) or #GP (@error_code) MISC.EXINFO when
 * SECS.MISCSELECT has EXINFO; increments CSSA; then loads the synthetic
 * state: RAX = 3 (ERESUME), RBX = TCS, RCX = RIP = AEP, RSP/RBP = URSP/URBP,
 * RDX, RSI, RDI, R8-R15 = 0, CF/PF/AF/ZF/SF/OF/RF cleared, outside FS/GS
 * bases, XFRM components of the extended state in their init configuration.
 * EXITINFO is valid for #DE, #DB, #BP (type 6, software exception), #BR,
 * #UD, #MF, #AC, #XM (type 3, hardware exception), and for #PF and #GP only
 * with MISCSELECT.EXINFO. A vector of 32 or above is an interrupt. Returns
 * #GP, changing nothing, when @lp is not inside an enclave.
 */
int hw_aex(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
	   struct sgx_cpu_regs *regs, unsigned int vector, uint32_t error_code,
	   uint64_t fault_addr);

/*
 * ENCLU[EREPORT]: RBX = TARGETINFO (512-byte aligned), RCX = REPORTDATA (64
 * bytes, 128-byte aligned), RDX = REPORT output (512-byte aligned), all
 * inside the enclave. Writes a REPORT of the current enclave whose MAC is an
 * AES-CMAC over the body with the REPORT key of the target enclave.
 * RIP advances past ENCLU. #GP for alignment or an operand outside ELRANGE;
 * #PF when an operand page is not mapped or fails the EPCM checks (REG page
 * of this enclave, readable; the output also writable).
 */
int enclu_ereport(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		  struct sgx_cpu_regs *regs);

/*
 * ENCLU[EGETKEY]: RBX = KEYREQUEST (512-byte aligned), RCX = 16-byte key
 * output (16-byte aligned), both inside the enclave. Returns and puts in RAX
 * SGX_SUCCESS, SGX_INVALID_KEYNAME, SGX_INVALID_ATTRIBUTE (PROVISION keys
 * without ATTRIBUTES.PROVISIONKEY, the EINITTOKEN key without
 * EINITTOKENKEY), SGX_INVALID_CPUSVN (a CPUSVN beyond the platform's) or
 * SGX_INVALID_ISVSVN (ISVSVN above the enclave's); ZF is set on error and
 * CF/PF/AF/OF/SF are cleared; RIP advances past ENCLU. #GP for alignment, an
 * operand outside ELRANGE, nonzero reserved fields, reserved KEYPOLICY bits,
 * or the key-sharing policy bits (NOISVPRODID, CONFIGID, ISVFAMILYID,
 * ISVEXTPRODID) or CONFIGSVN in an enclave without ATTRIBUTES.KSS. #PF as
 * for EREPORT (KEYREQUEST readable, output writable).
 */
int enclu_egetkey(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		  struct sgx_cpu_regs *regs);

/*
 * ENCLU[EACCEPT] (SGX2): RBX = SECINFO (64-byte aligned), RCX = an enclave
 * page (4 KiB aligned), both inside ELRANGE. Accepts what EAUG (REG, RW,
 * PENDING), EMODPR (REG, PR) or EMODT (TCS or TRIM, MODIFIED) did to the
 * page: SECINFO.FLAGS must give exactly the page's type, R/W/X, PENDING and
 * MODIFIED (PR is not compared), else SGX_PAGE_ATTRIBUTES_MISMATCH; after
 * EMODPR or EMODT, SGX_NOT_TRACKED until an ETRACK begun after the change
 * has seen every thread then inside leave. SGX_SUCCESS clears PENDING,
 * MODIFIED and PR. The code goes in RAX, ZF set on error, CF/PF/AF/OF/SF
 * cleared, RIP past ENCLU. #GP: outside an enclave, alignment, an operand
 * outside ELRANGE, reserved SECINFO bits, an illegal request (REG without
 * PENDING or PR or with MODIFIED; TCS/TRIM without MODIFIED or with PENDING
 * or PR; another type), the page in use by another leaf, or for a new TCS:
 * nonzero reserved bytes or FLAGS, CSSA >= NSSA, AEP or STATE nonzero, or
 * FS/GS limits of a 32-bit enclave. #PF: either operand not mapped (MMU's
 * code), SECINFO not on a readable, accepted REG page of this enclave, the
 * page not a valid unblocked REG/TCS/TRIM page of this enclave (X86_PF_SGX).
 */
int enclu_eaccept(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		  struct sgx_cpu_regs *regs);

/*
 * ENCLU[EACCEPTCOPY] (SGX2): RBX = SECINFO, RCX = a page EAUG added (REG,
 * RW, PENDING), RDX = a source page, all inside ELRANGE. Copies the source
 * into the page, gives it SECINFO's R/W/X and clears PENDING. RAX/ZF as
 * EACCEPT: SGX_PAGE_ATTRIBUTES_MISMATCH when the destination is not such a
 * page (also when it is invalid). #GP: outside an enclave, alignment,
 * ELRANGE, reserved SECINFO bits, W without R, a type other than REG, the
 * destination in use. #PF: an operand not mapped, SECINFO or the source not
 * a readable, accepted, unblocked REG page of this enclave at its address.
 */
int enclu_eacceptcopy(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		      struct sgx_cpu_regs *regs);

/*
 * ENCLU[EMODPE] (SGX2): RBX = SECINFO, RCX = a REG page of this enclave.
 * ORs SECINFO's R/W/X into the page's EPCM permissions (the OS's page
 * tables still apply). No return code: RAX and RFLAGS are unchanged, RIP
 * moves past ENCLU. #GP: outside an enclave, alignment, ELRANGE, reserved
 * SECINFO bits, W without R in both the page and SECINFO, the page in use
 * by another SGX2 leaf. #PF: an operand not mapped, SECINFO as for
 * EACCEPT, the page not a valid, unblocked REG page of this enclave at its
 * address, or PENDING or MODIFIED.
 */
int enclu_emodpe(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		 struct sgx_cpu_regs *regs);

/*
 * ENCLU as the instruction: dispatch on EAX. #GP for EENTER/ERESUME inside an
 * enclave, for EREPORT/EGETKEY/EEXIT/EACCEPT/EMODPE/EACCEPTCOPY outside one,
 * for the SGX2 leaves on a platform configured without SGX2, and for a leaf
 * the model does not have.
 */
int enclu(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
	  struct sgx_cpu_regs *regs);

#endif /* SOFTSGX_ENCLU_H */
