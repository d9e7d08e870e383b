/* SPDX-License-Identifier: MIT */
/*
 * copy_from_user/copy_to_user for a kernel that shares the process: the
 * copies go through process_vm_readv/writev on ourselves, so a wild pointer
 * from the application gives -EFAULT instead of a crash, as in Linux.
 */
#ifndef SOFTSGX_UACCESS_H
#define SOFTSGX_UACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * 0, or -EFAULT when any byte of the user range is not accessible. The user
 * is sgx_current_mm()'s process when it has its own access_user op.
 */
int copy_from_user(void *to, uint64_t from, size_t n);
int copy_to_user(uint64_t to, const void *from, size_t n);

/*
 * A copy within this process that a bad address cannot crash: 0, or
 * -EFAULT when it met a page it may not access. The shim has one (its
 * fault handler stops the copy at the faulting access, as Linux's
 * exception tables stop a kernel's copy_from_user()), and registers it
 * for the whole process; without one, the copies above are a
 * process_vm_readv() or process_vm_writev() on ourselves, which pins each
 * page (about 0.7 us per 4 KiB page, most of it not the copy).
 */
typedef int (*sgx_local_copy_fn)(void *to, const void *from, size_t n);
void sgx_uaccess_set_local_copy(sgx_local_copy_fn copy);

/*
 * Whether the copies above are plain copies for the current user (the
 * local copy, or another process's windows through its mm), with no
 * system call per copy: a caller may then copy page by page where it
 * would otherwise gather a batch into one call.
 */
bool sgx_uaccess_plain(void);

#endif /* SOFTSGX_UACCESS_H */
