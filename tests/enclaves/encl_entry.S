/* SPDX-License-Identifier: MIT */
/*
 * Entry point of the test enclave and the areas whose size the ABI fixes:
 * TCS pages, SSA frames and stacks (placed by enclave.lds).
 *
 * EENTER arrives here (TCS.OENTRY) with, per the SDM:
 *   RAX = CSSA of the TCS, RBX = linear address of the TCS,
 *   RCX = address of the instruction after ENCLU[EENTER] (EEXIT goes back there),
 *   RSP, RBP and every other general register as the host left them.
 * Nothing of the host's state can be trusted except for being the host's.
 */
#include "test_enclave.h"

#define SGX_EEXIT 4
#define ENCLU .byte 0x0f, 0x01, 0xd7

	/* One page per TCS; the loader writes the TCS contents. */
	.section .encl.tcs, "aw", @nobits
	.balign TEST_ENCL_PAGE_SIZE
	.skip TEST_ENCL_NR_TCS * TEST_ENCL_PAGE_SIZE

	/* NSSA frames per TCS, the frames of TCS i after those of TCS i - 1. */
	.section .encl.ssa, "aw", @nobits
	.balign TEST_ENCL_PAGE_SIZE
	.skip TEST_ENCL_NR_TCS * TEST_ENCL_SSA_PER_TCS

	/* One stack per TCS, in TCS order; stacks grow down from their top. */
	.section .encl.stack, "aw", @nobits
	.balign TEST_ENCL_PAGE_SIZE
	.skip TEST_ENCL_NR_TCS * TEST_ENCL_STACK_SIZE

	/* Constants the linker script writes into the layout note. */
	.globl encl_nssa, encl_ssa_frame_pages
	.set encl_nssa, TEST_ENCL_NSSA
	.set encl_ssa_frame_pages, TEST_ENCL_SSA_FRAME_PAGES

	.section .text.encl_entry, "ax", @progbits
	.globl encl_entry
	.type encl_entry, @function
encl_entry:
	/* R11 = index of the TCS we entered through. */
	lea	__encl_tcs(%rip), %r10
	mov	%rbx, %r11
	sub	%r10, %r11
	shr	$12, %r11
	test	%rax, %rax
	jnz	.Lexception_entry

	/* Its stack: top = __encl_stack + (index + 1) * TEST_ENCL_STACK_SIZE. */
	inc	%r11
	imul	$TEST_ENCL_STACK_SIZE, %r11, %r11
	lea	__encl_stack(%rip), %r10
	add	%r10, %r11

	/* Switch to it and keep there what the way out needs. */
	mov	%rsp, %r10
	mov	%r11, %rsp
	push	%r10			/* host RSP */
	push	%rbp			/* host RBP */
	push	%rcx			/* exit address */
	push	$0			/* RSP is 16-byte aligned at the call */
	xor	%ebp, %ebp		/* the end of the enclave's frame chain */
	cld

	/* enclave_main(RDI = op, RSI = arg1, RDX = arg2) returns status:value in RAX:RDX. */
	call	enclave_main
	mov	%rax, %rdi
	mov	%rdx, %rsi
	add	$8, %rsp
	pop	%rbx			/* EEXIT's target */
	pop	%rbp
	pop	%rsp
	jmp	.Leexit

.Lexception_entry:
	/*
	 * The host entered to handle an exception: report the EXITINFO of the
	 * interrupted frame (CSSA - 1) and leave on the host's stack, which we
	 * never touched. The frame is at
	 * __encl_ssa + index * TEST_ENCL_SSA_PER_TCS + (CSSA - 1) * TEST_ENCL_SSA_FRAME_SIZE,
	 * its GPR area in its last TEST_ENCL_SSA_GPR_SIZE bytes.
	 */
	imul	$TEST_ENCL_SSA_PER_TCS, %r11, %r11
	lea	-1(%rax), %r10
	imul	$TEST_ENCL_SSA_FRAME_SIZE, %r10, %r10
	add	%r10, %r11
	lea	__encl_ssa(%rip), %r10
	add	%r10, %r11
	mov	TEST_ENCL_SSA_FRAME_SIZE - TEST_ENCL_SSA_GPR_SIZE + TEST_ENCL_SSA_EXITINFO(%r11), %esi
	mov	$TEST_ENCL_EXCEPTION_ENTRY, %edi
	mov	%rcx, %rbx

.Leexit:
	/* Leave nothing of the enclave's in the scratch registers. */
	xor	%edx, %edx
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
	mov	$SGX_EEXIT, %eax
	ENCLU
	ud2				/* EEXIT does not return */
	.size encl_entry, . - encl_entry

	.section .note.GNU-stack, "", @progbits
