// SPDX-License-Identifier: MIT
/*
 * The kernel model's copies from and to the program's memory in private
 * mode (copy_from_user(), copy_to_user(), kernel/uaccess.h), done as Linux
 * does them: a plain copy that the fault handler stops at a bad address.
 * Linux's copy_from_user() runs a `rep movs` that an exception-table entry
 * covers; a fault on it returns -EFAULT instead of an oops. Here the copy
 * is shim_uaccess_copy()'s one `rep movsb`, and on_signal() (signals.c),
 * seeing SIGSEGV or SIGBUS on exactly that instruction, moves RIP to its
 * failure exit before anything else. Without it each copy was a
 * process_vm_readv() on ourselves, which pins every page: about 0.7 us per
 * page, as much as a sixth of a measured EADD.
 *
 * What the program sees is Linux's: -EFAULT for a source or destination
 * that is not mapped, PROT_NONE, or not readable (writable); never a
 * signal. A page under userfaultfd is resolved by its handler, as for any
 * access. A file mapping whose file was truncated under it raises SIGBUS,
 * which the shim does not own: a program without a SIGBUS handler is
 * killed where Linux would have failed the ioctl with -EFAULT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <ucontext.h>

#include "kernel/uaccess.h"
#include "shim/shim.h"

extern int shim_uaccess_copy(void *to, const void *from, size_t n);
extern const char shim_uaccess_copy_insn[], shim_uaccess_copy_fail[];
__asm__(".text\n"
	".globl shim_uaccess_copy\n"
	".hidden shim_uaccess_copy\n"
	".type shim_uaccess_copy, @function\n"
	"shim_uaccess_copy:\n"
	"	mov %rdx, %rcx\n"
	".globl shim_uaccess_copy_insn\n"
	".hidden shim_uaccess_copy_insn\n"
	"shim_uaccess_copy_insn:\n"
	"	rep movsb\n"
	"	xor %eax, %eax\n"
	"	ret\n"
	".globl shim_uaccess_copy_fail\n"
	".hidden shim_uaccess_copy_fail\n"
	"shim_uaccess_copy_fail:\n"
	"	mov $-14, %eax\n" /* -EFAULT */
	"	ret\n"
	".size shim_uaccess_copy, .-shim_uaccess_copy\n");

_Static_assert(EFAULT == 14, "the failure exit returns -EFAULT");

bool shim_uaccess_fixup(ucontext_t *uc)
{
	if ((uintptr_t)uc->uc_mcontext.gregs[REG_RIP] != (uintptr_t)shim_uaccess_copy_insn)
		return false;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)shim_uaccess_copy_fail;
	return true;
}

void shim_uaccess_init(void)
{
	sgx_uaccess_set_local_copy(shim_uaccess_copy);
}
