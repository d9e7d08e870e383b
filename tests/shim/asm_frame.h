/* SPDX-License-Identifier: MIT */
/*
 * For the test programs' own assembly callers of ENCLU or of the vDSO:
 * what they save on entry and restore on return. After an AEX the CPU
 * leaves the general registers synthetic (zero) and the vDSO, as Linux
 * documents, keeps only RBX, RBP and RSP, so a caller that wants the SysV
 * callee-saved registers back keeps them itself (System V x86-64 ABI,
 * 3.2.1). String pieces for a top-level __asm__ statement.
 */
#ifndef SOFTSGX_TESTS_ASM_FRAME_H
#define SOFTSGX_TESTS_ASM_FRAME_H

#define ASM_SAVE_CALLEE_SAVED \
	"	push %rbx\n"          \
	"	push %rbp\n"          \
	"	push %r12\n"          \
	"	push %r13\n"          \
	"	push %r14\n"          \
	"	push %r15\n"

#define ASM_RESTORE_CALLEE_SAVED \
	"	pop %r15\n"              \
	"	pop %r14\n"              \
	"	pop %r13\n"              \
	"	pop %r12\n"              \
	"	pop %rbp\n"              \
	"	pop %rbx\n"

#endif /* SOFTSGX_TESTS_ASM_FRAME_H */
