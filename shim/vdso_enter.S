/* SPDX-License-Identifier: MIT */
/*
 * __vdso_sgx_enter_enclave() of the synthetic vDSO, with the ABI of Linux's
 * (arch/x86/entry/vdso/vsgx.S, documented in <asm/sgx.h>):
 *
 *	int __vdso_sgx_enter_enclave(unsigned long rdi, unsigned long rsi,
 *				     unsigned long rdx, unsigned int function,
 *				     unsigned long r8, unsigned long r9,
 *				     struct sgx_enclave_run *run);
 *
 * The image of vdso_image.c exports it under that name; inside the preload
 * library it is softsgx_vdso_sgx_enter_enclave. vdso.h documents the frame
 * and the labels the ENCLU emulation relies on.
 */
#include "shim/vdso.h"

#define EINVAL		22

#define LEAF_EENTER	2
#define LEAF_ERESUME	3
#define LEAF_EEXIT	4

/* struct sgx_enclave_run, pinned by static assertions in sgx_uapi.h. */
#define RUN_TCS		0
#define RUN_FUNCTION	8
#define RUN_VECTOR	12
#define RUN_ERROR_CODE	14
#define RUN_ADDR	16
#define RUN_HANDLER	24
#define RUN_RESERVED	40
#define RUN_SIZE	256

#define RUN(reg)	SOFTSGX_VDSO_RUN_RBP_OFFSET(reg)

	.text
	.p2align 4
	.globl	softsgx_vdso_sgx_enter_enclave
	.hidden	softsgx_vdso_sgx_enter_enclave
	.type	softsgx_vdso_sgx_enter_enclave, @function
softsgx_vdso_sgx_enter_enclave:
	.cfi_startproc
	push	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	mov	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	push	%rbx
	.cfi_offset %rbx, -24

	mov	%ecx, %eax

.Lenter:
	/* EAX is the leaf: the argument, or what the user handler returned. */
	cmp	$LEAF_EENTER, %eax
	jb	.Linvalid
	cmp	$LEAF_ERESUME, %eax
	ja	.Linvalid

	/* Every reserved byte must be zero; walk them as quadwords. */
	mov	RUN(%rbp), %rcx
	mov	$(RUN_RESERVED - RUN_SIZE), %rbx
1:	cmpq	$0, RUN_SIZE(%rcx, %rbx)
	jne	.Linvalid
	add	$8, %rbx
	jnz	1b

	mov	RUN_TCS(%rcx), %rbx
	lea	softsgx_vdso_enclu(%rip), %rcx

	/*
	 * The direct entry (vdso.h, step 1a): into the enclave without a
	 * trap. It comes back, every register as it was, when the ENCLU
	 * below must trap instead.
	 */
	call	softsgx_vdso_direct

	/*
	 * ENCLU, the AEP as well as the entry. The enclave's EEXIT lands on
	 * the instruction after it; the exception fixup is two bytes further.
	 * Both distances are fixed here byte by byte because vdso.h and the
	 * ENCLU emulation rely on them.
	 */
	.globl	softsgx_vdso_enclu
	.hidden	softsgx_vdso_enclu
softsgx_vdso_enclu:
	.byte	0x0f, 0x01, 0xd7
	.globl	softsgx_vdso_eexit
	.hidden	softsgx_vdso_eexit
softsgx_vdso_eexit:
	.byte	0xeb, .Leexit - softsgx_vdso_fixup	/* jmp .Leexit (rel8) */
	.globl	softsgx_vdso_fixup
	.hidden	softsgx_vdso_fixup
softsgx_vdso_fixup:
	/* An exception: EAX the leaf, DI/SI/RDX vector, error code, address. */
	mov	RUN(%rbp), %rbx
	mov	%eax, RUN_FUNCTION(%rbx)
	mov	%di, RUN_VECTOR(%rbx)
	mov	%si, RUN_ERROR_CODE(%rbx)
	mov	%rdx, RUN_ADDR(%rbx)
	jmp	.Lexited

.Leexit:
	mov	RUN(%rbp), %rbx
	movl	$LEAF_EEXIT, RUN_FUNCTION(%rbx)

.Lexited:
	/* RBX is the run from here on. */
	cmpq	$0, RUN_HANDLER(%rbx)
	jne	.Lcall_handler
	xor	%eax, %eax

.Lreturn:
	/* The enclave may have moved RSP: restore through the frame. */
	mov	-8(%rbp), %rbx
	leave
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_def_cfa %rbp, 16

.Linvalid:
	mov	$-EINVAL, %eax
	jmp	.Lreturn

.Lcall_handler:
	/*
	 * handler(rdi, rsi, rdx, rsp at exit, r8, r9, run): RDI, RSI, RDX,
	 * R8 and R9 are as the enclave left them. Keep the exit RSP in RBX,
	 * which the handler preserves, and align the stack so that it is
	 * 16-byte aligned at the call with @run as the 7th argument on top.
	 */
	mov	%rsp, %rcx
	mov	%rbx, %rax
	mov	%rsp, %rbx
	and	$-16, %rsp
	sub	$8, %rsp
	push	%rax
	cld
	mov	RUN_HANDLER(%rax), %rax
	lfence
	call	*%rax
	mov	%rbx, %rsp

	/* <= 0: the result; > 0: the next leaf. */
	test	%eax, %eax
	jle	.Lreturn
	jmp	.Lenter
	.cfi_endproc

	.globl	softsgx_vdso_sgx_enter_enclave_end
	.hidden	softsgx_vdso_sgx_enter_enclave_end
softsgx_vdso_sgx_enter_enclave_end:
	.size	softsgx_vdso_sgx_enter_enclave, . - softsgx_vdso_sgx_enter_enclave

/*
 * The direct entry, called just before the vDSO's ENCLU with that ENCLU's
 * registers; the return address is the ENCLU (the RIP the model is given).
 * RSP + 8 is the RSP the enclave gets, as ENCLU would give it.
 *
 * 1. Save RFLAGS (first: the checks below change them) and every general
 *    register on the caller's stack. Find the thread's record through
 *    shim_direct_self; without one, or inside a shim handler (depth != 0),
 *    return at once and let ENCLU trap.
 * 2. Claim the record: depth = SHIM_DIRECT_DEPTH. From here a signal
 *    handler takes the thread for one running shim code (thread.h), and
 *    no code of the program runs on it until the claim ends, so the
 *    record's entry state cannot be overwritten by a nested ECALL.
 * 3. XSAVE the vector state C code may change, switch to the thread's
 *    alternate signal stack (the record lies right above it; a signal
 *    nests below on it) and run shim_vdso_direct_enter().
 * 4. It returned 0: XRSTOR, back to the caller's stack, end the claim,
 *    raise what was deferred meanwhile, restore every register, return.
 * 5. Else: XRSTOR with the mask it returned (the caller's state, and for
 *    ERESUME the enclave's from the SSA), end the claim. The window: a
 *    handler interrupting anything from here to the jump makes its context
 *    the enclave's first instruction (shim_vdso_direct_rollforward()), so
 *    every step below may be cut short. Raise what was deferred, set
 *    FS/GS, RDTSC faulting (--sgx1) and the SUD selector as a handler's
 *    return into the enclave would, then load the enclave's registers and
 *    jump, RIP and RFLAGS passing through the 16 bytes below its RSP (our
 *    own frame: the caller's stack below RSP is ours, as at any call).
 */
#define SYS_rt_sigprocmask	14
#define SYS_tkill		200
#define SYS_arch_prctl		158
#define SYS_prctl		157
#define ARCH_SET_GS		0x1001
#define ARCH_SET_FS		0x1002
#define PR_SET_TSC		26
#define PR_TSC_SIGSEGV		2
#define SIG_SETMASK		2
#define SIG_KICK		63	/* SHIM_SIG_KICK: SIGRTMAX - 1 */

#define T(field)	SHIM_T_##field(%rbx)
#define E(reg)		(SHIM_T_ENTRY + SHIM_R_##reg)(%rbx)

/* What a handler deferred while the claim held (RBX the record). */
.macro raise_deferred
	cmpb	$0, T(KICK_DEFERRED)
	je	1f
	movb	$0, T(KICK_DEFERRED)
	mov	$SYS_tkill, %eax
	mov	T(TID), %edi
	mov	$SIG_KICK, %esi
	syscall
1:	cmpb	$0, T(MASKED)
	je	2f
	movb	$0, T(MASKED)
	mov	$SYS_rt_sigprocmask, %eax
	mov	$SIG_SETMASK, %edi
	lea	T(SAVED_MASK), %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	syscall
2:
.endm

	.p2align 4
	.globl	softsgx_vdso_direct
	.hidden	softsgx_vdso_direct
	.type	softsgx_vdso_direct, @function
softsgx_vdso_direct:
	pushfq
	push	%rax
	push	%rcx
	push	%rdx
	push	%rbx
	push	%rbp
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	cmpb	$0, softsgx_vdso_direct_on(%rip)
	je	.Ldirect_pop
	mov	shim_direct_self@gottpoff(%rip), %rax
	mov	%fs:(%rax), %rbx
	test	%rbx, %rbx
	jz	.Ldirect_pop
	cmpl	$0, T(DEPTH)
	jne	.Ldirect_pop
	movl	$SHIM_DIRECT_DEPTH, T(DEPTH)

	mov	$SHIM_DIRECT_XMASK, %eax
	xor	%edx, %edx
	cmpb	$0, softsgx_vdso_xsaveopt(%rip)
	je	.Ldirect_xsave
	xsaveopt64 E(XSAVE)
	jmp	.Ldirect_saved
.Ldirect_xsave:
	xsave64	E(XSAVE)
.Ldirect_saved:
	mov	%rsp, %r12
	mov	%rbx, %rdi
	mov	%rsp, %rsi
	mov	%rbx, %rsp
	call	shim_vdso_direct_enter
	test	%rax, %rax
	jz	.Ldirect_trap
	mov	%rax, %rdx
	shr	$32, %rdx
	xrstor64 E(XSAVE)
	movl	$0, T(DEPTH)

	.globl	softsgx_vdso_direct_window
	.hidden	softsgx_vdso_direct_window
softsgx_vdso_direct_window:
	raise_deferred
	cmpb	$0, T(PLAN_FSGSBASE)
	je	.Ldirect_base_syscall
	mov	E(FSBASE), %rax
	wrfsbase %rax
	mov	E(GSBASE), %rax
	wrgsbase %rax
.Ldirect_tsc:
	cmpb	$0, T(PLAN_TSC)
	jne	.Ldirect_tsc_off
.Ldirect_selector:
	movzbl	T(PLAN_SELECTOR), %eax
	movb	%al, T(SELECTOR)

	mov	E(RSP), %rax
	mov	E(RIP), %rcx
	mov	%rcx, -8(%rax)
	mov	E(RFLAGS), %rcx
	mov	%rcx, -16(%rax)
	lea	-16(%rax), %rsp
	mov	E(RAX), %rax
	mov	E(RCX), %rcx
	mov	E(RDX), %rdx
	mov	E(RBP), %rbp
	mov	E(RSI), %rsi
	mov	E(RDI), %rdi
	mov	E(R8), %r8
	mov	E(R9), %r9
	mov	E(R10), %r10
	mov	E(R11), %r11
	mov	E(R12), %r12
	mov	E(R13), %r13
	mov	E(R14), %r14
	mov	E(R15), %r15
	mov	E(RBX), %rbx
	popfq
	lea	8(%rsp), %rsp
	jmp	*-8(%rsp)

.Ldirect_base_syscall:
	mov	$SYS_arch_prctl, %eax
	mov	$ARCH_SET_FS, %edi
	mov	E(FSBASE), %rsi
	syscall
	mov	$SYS_arch_prctl, %eax
	mov	$ARCH_SET_GS, %edi
	mov	E(GSBASE), %rsi
	syscall
	jmp	.Ldirect_tsc

.Ldirect_tsc_off:
	/* Marked first: a handler from here on switches it back on. */
	movb	$1, T(TSC_OFF)
	mov	$SYS_prctl, %eax
	mov	$PR_SET_TSC, %edi
	mov	$PR_TSC_SIGSEGV, %esi
	syscall
	jmp	.Ldirect_selector
	.globl	softsgx_vdso_direct_window_end
	.hidden	softsgx_vdso_direct_window_end
softsgx_vdso_direct_window_end:

.Ldirect_trap:
	mov	$SHIM_DIRECT_XMASK, %eax
	xor	%edx, %edx
	xrstor64 E(XSAVE)
	mov	%r12, %rsp
	movl	$0, T(DEPTH)
	raise_deferred
.Ldirect_pop:
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rbp
	pop	%rbx
	pop	%rdx
	pop	%rcx
	pop	%rax
	popfq
	ret
	.size	softsgx_vdso_direct, . - softsgx_vdso_direct

	.section .note.GNU-stack, "", @progbits
