// SPDX-License-Identifier: MIT
/*
 * Instructions that are illegal in enclave mode and enter the kernel:
 * SYSCALL, SYSENTER and INT 0x80 (SDM Vol. 3D, "Illegal Instructions";
 * each raises #UD inside an enclave). Enclave code runs natively here, so
 * they would reach the host kernel. Syscall User Dispatch (Linux 5.11,
 * prctl(PR_SET_SYSCALL_USER_DISPATCH)) turns them into SIGSYS while a
 * per-thread selector byte says BLOCK: the selector is BLOCK exactly while
 * enclave code runs (shim_handler_exit() returning into the enclave) and
 * ALLOW from the first instruction of every shim handler. System calls
 * from inside the preload library (the allowed region: its executable
 * segment) always pass, which covers the shim's own raw system calls and
 * the return from its handlers (shim_rt_restorer: glibc's restorer lies
 * outside the region and would be blocked).
 *
 * Without SUD (an older kernel, or SOFTSGX_SUD=0) a SYSCALL inside an
 * enclave reaches the host kernel: shim_sud_active() says so.
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "shim/shim.h"
#include "shim/thread.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#endif

static uintptr_t region_start, region_len;
static bool sud_active;

bool shim_sud_active(void)
{
	return sud_active;
}

/* The executable PT_LOAD of the object that holds this function. */
static int find_region(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t self = (uintptr_t)data;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (self >= start && self - start < ph->p_memsz) {
			region_start = start;
			region_len = ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* Turn SUD on for the calling thread, whose record is @t. */
void shim_sud_thread_on(struct shim_thread *t)
{
	long ret;

	if (!region_len)
		return;
	t->sud_selector = SHIM_SUD_ALLOW;
	ret = shim_raw_syscall6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
				(long)region_start, (long)region_len, (long)&t->sud_selector, 0);
	t->sud_on = !ret;
}

void shim_sud_thread_off(struct shim_thread *t)
{
	if (!t->sud_on)
		return;
	shim_raw_syscall6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0,
			  0);
	t->sud_on = false;
}

void shim_sud_init(struct shim_thread *main_thread)
{
	const char *env = getenv("SOFTSGX_SUD");

	if (env && !strcmp(env, "0"))
		return;
	dl_iterate_phdr(find_region, (void *)(uintptr_t)shim_sud_init);
	if (!region_len || !main_thread)
		return;
	shim_sud_thread_on(main_thread);
	sud_active = main_thread->sud_on;
	if (!sud_active)
		region_len = 0;
}
