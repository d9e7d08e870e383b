/* SPDX-License-Identifier: MIT */
/*
 * copy_from_user/copy_to_user for a kernel that shares the process: the
 * copies go through process_vm_readv/writev on ourselves, so a wild pointer
 * from the application gives -EFAULT instead of a crash, as in Linux.
 */
#ifndef SOFTSGX_UACCESS_H
#define SOFTSGX_UACCESS_H

#include <stddef.h>
#include <stdint.h>

/*
 * 0, or -EFAULT when any byte of the user range is not accessible. The user
 * is sgx_current_mm()'s process when it has its own access_user op.
 */
int copy_from_user(void *to, uint64_t from, size_t n);
int copy_to_user(uint64_t to, const void *from, size_t n);

#endif /* SOFTSGX_UACCESS_H */
