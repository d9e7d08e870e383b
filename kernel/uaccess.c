// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kernel/mm.h"
#include "kernel/uaccess.h"

static _Atomic(sgx_local_copy_fn) local_copy;

void sgx_uaccess_set_local_copy(sgx_local_copy_fn copy)
{
	atomic_store_explicit(&local_copy, copy, memory_order_release);
}

bool sgx_uaccess_plain(void)
{
	struct sgx_mm *mm = sgx_current_mm();

	return (mm && mm->ops->access_user) ||
	       atomic_load_explicit(&local_copy, memory_order_acquire);
}

static int copy_user(void *local, uint64_t remote, size_t n, bool write)
{
	struct iovec l = { .iov_base = local, .iov_len = n };
	struct iovec r = { .iov_base = (void *)(uintptr_t)remote, .iov_len = n };
	struct sgx_mm *mm = sgx_current_mm();
	sgx_local_copy_fn copy;
	ssize_t done;

	if (n == 0)
		return 0;
	if (remote + n < remote)
		return -EFAULT;
	/* An ioctl made for another process: its memory, through its mm. */
	if (mm && mm->ops->access_user)
		return mm->ops->access_user(mm, local, remote, n, write);
	copy = atomic_load_explicit(&local_copy, memory_order_acquire);
	if (copy)
		return write ? copy((void *)(uintptr_t)remote, local, n)
			     : copy(local, (const void *)(uintptr_t)remote, n);
	done = write ? process_vm_writev(getpid(), &l, 1, &r, 1, 0)
		     : process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	return done == (ssize_t)n ? 0 : -EFAULT;
}

int copy_from_user(void *to, uint64_t from, size_t n)
{
	return copy_user(to, from, n, false);
}

int copy_to_user(uint64_t to, const void *from, size_t n)
{
	return copy_user((void *)from, to, n, true);
}
