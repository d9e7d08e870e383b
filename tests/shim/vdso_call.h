/* SPDX-License-Identifier: MIT */
/*
 * The vDSO as any program finds it (getauxval(AT_SYSINFO_EHDR), PT_DYNAMIC,
 * DT_HASH, DT_SYMTAB) and a caller of __vdso_sgx_enter_enclave that keeps
 * the callee-saved registers. For the shim test programs: include once per
 * program (it defines the assembly function vdso_call).
 */
#ifndef SOFTSGX_TESTS_VDSO_CALL_H
#define SOFTSGX_TESTS_VDSO_CALL_H

#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include "tests/shim/asm_frame.h"
#include "softsgx/sgx_uapi.h"

/* The SysV ELF hash of the gABI's "Hash Table" section. */
static inline uint32_t elf_hash(const char *name)
{
	uint32_t h = 0, g;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h = (h << 4) + *p;
		g = h & 0xf0000000u;
		if (g)
			h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

/* @name in the vDSO's dynamic symbol table through DT_HASH, or NULL. */
static inline void *vdso_sym(const char *name)
{
	const uint8_t *base = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	const Elf64_Sym *symtab = NULL;
	const Elf32_Word *hash = NULL;
	const char *strtab = NULL;
	uintptr_t bias = 0;
	bool have_load = false;

	if (!base || memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return NULL;
	ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !have_load) {
			bias = (uintptr_t)base + ph[i].p_offset - ph[i].p_vaddr;
			have_load = true;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const Elf64_Dyn *)(base + ph[i].p_offset);
		}
	}
	if (!have_load || !dyn)
		return NULL;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		if (dyn->d_tag == DT_SYMTAB)
			symtab = (const Elf64_Sym *)(bias + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_STRTAB)
			strtab = (const char *)(bias + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_HASH)
			hash = (const Elf32_Word *)(bias + dyn->d_un.d_ptr);
	}
	if (!symtab || !strtab || !hash || !hash[0])
		return NULL;
	/* hash[0] buckets, hash[1] chain entries, then the buckets and the chain. */
	for (Elf32_Word i = hash[2 + elf_hash(name) % hash[0]]; i != STN_UNDEF;
	     i = hash[2 + hash[0] + i]) {
		const Elf64_Sym *s = &symtab[i];

		if (i >= hash[1])
			return NULL;
		if (ELF64_ST_TYPE(s->st_info) == STT_FUNC && s->st_shndx != SHN_UNDEF &&
		    !strcmp(strtab + s->st_name, name))
			return (void *)(bias + s->st_value);
	}
	return NULL;
}

/* __vdso_sgx_enter_enclave, or NULL with a message. */
static inline vdso_sgx_enter_enclave_t vdso_find_enter(void)
{
	vdso_sgx_enter_enclave_t fn =
		(vdso_sgx_enter_enclave_t)vdso_sym("__vdso_sgx_enter_enclave");

	if (!fn)
		fprintf(stderr, "no __vdso_sgx_enter_enclave in the vDSO\n");
	return fn;
}

/*
 * vdso_call(rdi, rsi, rdx, function, run, fn) calls
 * fn(rdi, rsi, rdx, function, 0, 0, run) and keeps RBX, RBP and R12-R15 for
 * its caller: after an AEX the vDSO returns with R12-R15 as the CPU's
 * synthetic state left them (zero), as Linux's does.
 */
extern int vdso_call(unsigned long rdi, unsigned long rsi, unsigned long rdx,
		     unsigned int function, struct sgx_enclave_run *run,
		     vdso_sgx_enter_enclave_t fn);
__asm__(".text\n"
	".globl vdso_call\n"
	".hidden vdso_call\n"
	".type vdso_call, @function\n"
	"vdso_call:\n"
	ASM_SAVE_CALLEE_SAVED
	/* The 7th argument on the stack, which is 16-byte aligned at the call. */
	"	push %r8\n"
	"	mov %r9, %rax\n"
	"	xor %r8d, %r8d\n"
	"	xor %r9d, %r9d\n"
	"	call *%rax\n"
	"	add $8, %rsp\n"
	ASM_RESTORE_CALLEE_SAVED
	"	ret\n"
	".size vdso_call, .-vdso_call\n");


#endif /* SOFTSGX_TESTS_VDSO_CALL_H */
