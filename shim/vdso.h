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
 * 1a. Direct entry. Before the ENCLU of step 1 the entry function calls
 *    softsgx_vdso_direct with the registers of step 1 (its return address
 *    is softsgx_vdso_enclu, the ENCLU it stands for). It saves them, runs
 *    the model's EENTER or ERESUME in C (shim_vdso_direct_enter(),
 *    vdso_direct.c) and, on success, loads the enclave's registers and
 *    jumps to the enclave: ENCLU is never executed and the entry costs no
 *    trap. It returns, with every register as it found it, only when the
 *    leaf faults or cannot run here (no model, a nested call, the thread
 *    unknown): ENCLU then traps and the shim's handler does it all, as
 *    before. Either way the enclave starts in the same state, and steps 2
 *    to 4 are unchanged: EEXIT and every AEX trap as before.
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

/*
 * Offsets into struct shim_thread (thread.h) and struct sgx_cpu_regs
 * (enclu.h) for vdso_enter.S; vdso_direct.c checks each one.
 */
#define SHIM_T_DEPTH		0
#define SHIM_T_SELECTOR		4
#define SHIM_T_KICK_DEFERRED	5
#define SHIM_T_MASKED		6
#define SHIM_T_TSC_OFF		7
#define SHIM_T_TID		8
#define SHIM_T_PLAN_FSGSBASE	12
#define SHIM_T_PLAN_TSC		13
#define SHIM_T_PLAN_SELECTOR	14
#define SHIM_T_SAVED_MASK	16
#define SHIM_T_ENTRY		64
#define SHIM_R_RAX	0
#define SHIM_R_RCX	8
#define SHIM_R_RDX	16
#define SHIM_R_RBX	24
#define SHIM_R_RSP	32
#define SHIM_R_RBP	40
#define SHIM_R_RSI	48
#define SHIM_R_RDI	56
#define SHIM_R_R8	64
#define SHIM_R_R9	72
#define SHIM_R_R10	80
#define SHIM_R_R11	88
#define SHIM_R_R12	96
#define SHIM_R_R13	104
#define SHIM_R_R14	112
#define SHIM_R_R15	120
#define SHIM_R_RIP	128
#define SHIM_R_RFLAGS	136
#define SHIM_R_FSBASE	144
#define SHIM_R_GSBASE	152
#define SHIM_R_XSAVE	192
/* The value t->depth takes during a direct entry (SHIM_DEPTH_DIRECT, thread.h). */
#define SHIM_DIRECT_DEPTH	0x10001
/*
 * The XSAVE components the direct entry saves before it runs C code and
 * loads again before it enters: those compiled code and libc's string
 * functions may change (SSE with MXCSR, AVX, the AVX-512 opmask and upper
 * ZMM state). x87, PKRU, AMX and the rest stay in the CPU untouched.
 */
#define SHIM_DIRECT_XMASK	0xe6

/* The version every vDSO symbol of x86-64 Linux carries. */
#define SOFTSGX_VDSO_VERSION "LINUX_2.6"

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
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

/* The direct entry (step 1a): vdso_enter.S, and the window it loads the enclave's state in. */
extern const char softsgx_vdso_direct[];
extern const char softsgx_vdso_direct_window[];
extern const char softsgx_vdso_direct_window_end[];

/* Nonzero once the direct entry may run (shim_vdso_direct_allow()). */
extern unsigned char softsgx_vdso_direct_on __attribute__((visibility("hidden")));
extern unsigned char softsgx_vdso_xsaveopt __attribute__((visibility("hidden")));

struct shim_thread;
struct shim_cpu;
struct sgx_hw;
/*
 * After an ENCLU the shim emulated: the model is up, so let the direct
 * entry run from now on if this CPU has what it uses (XSAVE, with AVX in
 * XCR0 as the sign that the OS enabled it).
 */
void shim_vdso_direct_allow(struct sgx_hw *hw);
struct sgx_cpu_regs;
/*
 * One ENCLU leaf for @t with @regs (RAX the leaf, RIP the ENCLU), traced,
 * model lock held: what the trap path (shim_enclu_trap()) and the direct
 * entry share (enclave.c). Returns what enclu() returned; a fault is traced
 * only if @trace_fault (the direct entry leaves a faulting leaf to the trap,
 * which traces it).
 */
int shim_enclu_leaf(const struct shim_cpu *cpu, struct shim_thread *t, struct sgx_cpu_regs *regs,
		    bool trace_fault);

/*
 * Step 1a in C, for vdso_enter.S: @frame holds the caller's R15 ... RAX
 * (pushed in the order RAX ... R15), RFLAGS and the return address. Runs
 * the leaf; returns the XRSTOR mask the enclave's vector state is loaded
 * with, or 0 when the ENCLU must trap instead.
 */
uint64_t shim_vdso_direct_enter(struct shim_thread *t, const uint64_t *frame);

/*
 * For a signal handler, the thread's outermost one: if @uc was interrupted
 * inside the direct entry's window (the enclave's state half loaded), make
 * @uc the enclave's state at its first instruction, as if the entry had
 * completed, and return true.
 */
bool shim_vdso_direct_rollforward(ucontext_t *uc, struct shim_thread *t);

/*
 * For a handler of an asynchronous signal that interrupted the direct
 * entry's C part (shim_in_direct_entry()): queue @sig again and keep every
 * asynchronous signal blocked until the entry is done, when the signal
 * arrives as an interrupt of the enclave (@async the set of those signals).
 */
void shim_vdso_direct_defer(int sig, const siginfo_t *si, ucontext_t *uc, struct shim_thread *t,
			    const sigset_t *async);

/*
 * For the shim's SIGSEGV handler: a fault of the instruction probe of
 * shim_enclave_insn() (enclave.c), skipped; true if @uc was one.
 */
bool shim_insn_probe_fixup(ucontext_t *uc);

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
