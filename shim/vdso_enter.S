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
#include "vdso.h"

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

	.section .note.GNU-stack, "", @progbits
