// SPDX-License-Identifier: MIT
/*
 * fork() of a process with a platform. The platform is memory of the
 * process, so the child of a fork gets its own copy of it, taken at the
 * fork, and parent and child go on separately. (Linux shares an enclave
 * between parent and child; docs/architecture.md says why this differs. A
 * platform service, which outlives its clients, forks an mm the Linux way:
 * sgx_mm_fork(), kernel/mm_process.c.)
 *
 * Ordinary memory is copied by fork() itself. What is not: EPC sections and
 * enclave backing stores are shared memory (hw/shm.h), which parent and
 * child would share, each with its own idea of what they hold. The child
 * gives each a private copy of the pages that hold data (they are sparse)
 * and maps it wherever the original was mapped, with the same protection:
 * direct map, views, page-table entries, vEPC mappings. The model holds no
 * descriptor for any of it, before or after.
 *
 * The parent waits until the child's copy is done, so the model it changes
 * afterwards is never half copied; ksgxd is stopped around the fork, and
 * both restart it. Which other threads may be in the model during the fork
 * is the caller's business (the shim holds them off with its model lock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel/mm.h"
#include "kernel/sgx.h"
#include "hw/shm.h"

/* The child's copy of the platform: its own EPC and backing stores. */
static int unshare_platform_memory(void)
{
	return sgx_shm_unshare_all();
}

void sgx_fork_prepare(struct sgx_kernel *k)
{
	k->fork_ksgxd = k->ksgxd_running;
	sgx_kernel_stop_ksgxd(k);
	if (pipe2(k->fork_pipe, O_CLOEXEC))
		k->fork_pipe[0] = k->fork_pipe[1] = -1;
}

static void restart_ksgxd(struct sgx_kernel *k)
{
	if (k->fork_ksgxd && sgx_kernel_start_ksgxd(k))
		fprintf(stderr, "softsgx: cannot restart the reclaimer after fork()\n");
}

void sgx_fork_parent(struct sgx_kernel *k)
{
	char done;

	if (k->fork_pipe[0] >= 0) {
		syscall(SYS_close, k->fork_pipe[1]);
		/* A byte when the child's copy is done; EOF if it died, or fork() failed. */
		while (read(k->fork_pipe[0], &done, 1) < 0 && errno == EINTR)
			;
		syscall(SYS_close, k->fork_pipe[0]);
		k->fork_pipe[0] = k->fork_pipe[1] = -1;
	}
	restart_ksgxd(k);
}

int sgx_fork_child(struct sgx_kernel *k)
{
	int ret = unshare_platform_memory();

	if (k->fork_pipe[1] >= 0) {
		(void)!write(k->fork_pipe[1], "", 1);
		syscall(SYS_close, k->fork_pipe[0]);
		syscall(SYS_close, k->fork_pipe[1]);
		k->fork_pipe[0] = k->fork_pipe[1] = -1;
	}
	if (ret)
		return ret;
	restart_ksgxd(k);
	return 0;
}
