/* SPDX-License-Identifier: MIT */
/*
 * The synthetic vDSO: __vdso_sgx_enter_enclave() (vdso_enter.S) and the ELF
 * image that getauxval(AT_SYSINFO_EHDR) answers with (vdso_image.c).
 *
 * Contract between vdso_enter.S and the ENCLU emulation of the shim
 * ------------------------------------------------------------------
 * __vdso_sgx_enter_enclave(rdi, rsi, rdx, function, r8, r9, run) follows the
 * Linux ABI: it refuses a @function other than EENTER/ERESUME and a run whose
 * reserved bytes 40..255 are not all zero with -EINVAL, and otherwise returns
 * 0 ("ENCLU was executed") or what the user handler returned. Like Linux it
 * never returns -EFAULT: an exception is reported in run->exception_* with 0.
 * Like Linux it saves only RBX and RBP; every other register goes to the
 * enclave as the caller left it, and comes back as the enclave left it.
 *
 * Its frame, anchored by RBP from the prologue to the return:
 *
 *	16(%rbp)  struct sgx_enclave_run *run   (the 7th argument)
 *	 8(%rbp)  return address
 *	 0(%rbp)  caller's RBP
 *	-8(%rbp)  caller's RBX
 *
 * 1. Entry. ENCLU (0F 01 D7) at softsgx_vdso_enclu traps (SIGILL) with
 *	RAX = EENTER or ERESUME, RBX = run->tcs,
 *	RCX = AEP = softsgx_vdso_enclu (the ENCLU itself, as on Linux),
 *	RBP = the frame above, so run = *(u64 *)(RBP + SOFTSGX_VDSO_RUN_RBP_OFFSET),
 *	RDI, RSI, RDX, R8, R9 = the caller's pass-through values.
 *    EENTER hands the enclave RCX = softsgx_vdso_eexit (= softsgx_vdso_enclu
 *    + 3, the instruction after ENCLU), as the CPU does.
 *
 * 2. EEXIT. The enclave leaves to the address it chose, normally
 *    softsgx_vdso_eexit, with RBP restored by the enclave (the vDSO relies on
 *    it as on Linux). The code there sets run->function = EEXIT and goes on
 *    to the user handler or returns 0.
 *
 * 3. Exception (AEX, or a fault of ENCLU itself such as #GP on a bad TCS).
 *    The emulation first builds the AEX state the CPU would: RSP and RBP as
 *    they were at EENTER (the SSA's U_RSP/U_RBP), RAX = ERESUME, RBX = TCS,
 *    RCX = AEP; for a fault of ENCLU itself the registers stay as at the
 *    trap (RAX = the leaf). Then, as Linux's fixup_vdso_exception() does for
 *    a fault at the vDSO's ENCLU, it calls shim_vdso_fixup_exception(), which
 *    moves RIP to softsgx_vdso_fixup (= softsgx_vdso_enclu +
 *    SOFTSGX_VDSO_FIXUP_OFFSET) with
 *	RDI = exception vector, RSI = error code, RDX = faulting address.
 *    The code there stores run->function = EAX (ERESUME after an AEX),
 *    exception_vector = DI, exception_error_code = SI, exception_addr = RDX,
 *    and goes on to the user handler or returns 0. #DB and #BP are never
 *    fixed up (delivered as signals), as on Linux.
 *
 * 4. User handler (run->user_handler != 0): called as
 *    handler(rdi, rsi, rdx, rsp, r8, r9, run) with the registers as the
 *    enclave (or the fixup) left them and rsp = RSP at the exit, on a
 *    16-byte aligned stack below that RSP with DF clear. After it returns,
 *    RSP is the exit RSP again; a result <= 0 is returned, a positive one is
 *    taken as the next leaf (EENTER/ERESUME re-enter at step 1 with the same
 *    run, anything else gives -EINVAL).
 */
#ifndef SOFTSGX_SHIM_VDSO_H
#define SOFTSGX_SHIM_VDSO_H

/* Where the run pointer lives, relative to RBP inside the entry function. */
#define SOFTSGX_VDSO_RUN_RBP_OFFSET 16
/* softsgx_vdso_fixup - softsgx_vdso_enclu, fixed by the layout of vdso_enter.S. */
#define SOFTSGX_VDSO_FIXUP_OFFSET 5
/* The length of ENCLU: softsgx_vdso_eexit - softsgx_vdso_enclu. */
#define SOFTSGX_VDSO_ENCLU_LEN 3

/* The version every vDSO symbol of x86-64 Linux carries. */
#define SOFTSGX_VDSO_VERSION "LINUX_2.6"

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>

#include "softsgx/sgx_uapi.h"

/* The entry function itself and its labels (vdso_enter.S); hidden in the .so. */
int softsgx_vdso_sgx_enter_enclave(unsigned long rdi, unsigned long rsi, unsigned long rdx,
				   unsigned int function, unsigned long r8, unsigned long r9,
				   struct sgx_enclave_run *run);
extern const char softsgx_vdso_sgx_enter_enclave_end[];
extern const char softsgx_vdso_enclu[];
extern const char softsgx_vdso_eexit[];
extern const char softsgx_vdso_fixup[];

/*
 * The address getauxval(AT_SYSINFO_EHDR) reports: the synthetic image, built
 * on first use; 0 if it cannot be built (getauxval then answers as libc).
 */
unsigned long shim_vdso_image(void);

/* true when @rip is the vDSO's ENCLU, i.e. an exit there belongs to the vDSO. */
static inline bool shim_vdso_is_enclu(uint64_t rip)
{
	return rip == (uintptr_t)softsgx_vdso_enclu;
}

/* The run of the vDSO call whose frame @rbp anchors (step 1 and 3 above). */
static inline struct sgx_enclave_run *shim_vdso_run(uint64_t rbp)
{
	return *(struct sgx_enclave_run **)(uintptr_t)(rbp + SOFTSGX_VDSO_RUN_RBP_OFFSET);
}

/*
 * Step 3: when @uc stopped at the vDSO's ENCLU (RIP == softsgx_vdso_enclu)
 * and @vector is neither #DB nor #BP, redirect it to softsgx_vdso_fixup with
 * the exception in RDI/RSI/RDX and return true; else leave @uc alone and
 * return false (the exception is delivered as a signal).
 */
bool shim_vdso_fixup_exception(ucontext_t *uc, unsigned int vector, unsigned int error_code,
			       uint64_t addr);
#endif /* __ASSEMBLER__ */

#endif /* SOFTSGX_SHIM_VDSO_H */
