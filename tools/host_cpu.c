// SPDX-License-Identifier: MIT
/*
 * Probes of the host CPU and kernel for `softsgx info` (tools/host_cpu.h).
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/host_cpu.h"

/* <linux/prctl.h> of Linux 5.11; older headers lack them. */
#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#endif
#define SUD_OFF 0
#define SUD_ON 1 /* PR_SYS_DISPATCH_ON, PR_SYS_DISPATCH_EXCLUSIVE_ON in Linux 6.16 */
#define SUD_FILTER_ALLOW 0

#define HWCAP2_FSGSBASE (1UL << 1)
#define CPUID_1_ECX_OSXSAVE (1u << 27)
#define CPUID_7_EBX_SGX (1u << 2)

/* Exit status bits of the probing child. */
#define PROBE_CPUID_FAULTING 1
#define PROBE_SUD 2

static void native_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(subleaf));
}

static long arch_prctl(int code, unsigned long arg)
{
	return syscall(SYS_arch_prctl, code, arg);
}

void host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	/* ARCH_GET_CPUID: 0 when CPUID faults (under `softsgx run`). */
	bool faulting = arch_prctl(ARCH_GET_CPUID, 0) == 0;

	if (faulting)
		arch_prctl(ARCH_SET_CPUID, 1);
	native_cpuid(leaf, subleaf, out);
	if (faulting)
		arch_prctl(ARCH_SET_CPUID, 0);
}

/* In the child: each mechanism switched on and off again. */
static int probe_child(void)
{
	volatile char selector = SUD_FILTER_ALLOW;
	int found = 0;

	/* ENODEV: no CPUID faulting in the CPU (or not exposed by a hypervisor). */
	if (arch_prctl(ARCH_SET_CPUID, 0) == 0) {
		found |= PROBE_CPUID_FAULTING;
		arch_prctl(ARCH_SET_CPUID, 1);
	}
	/*
	 * An empty always-allowed range and a selector that allows every
	 * system call: dispatch is armed but sends nothing to SIGSYS.
	 * EINVAL: a kernel before 5.11 or without it.
	 */
	if (prctl(PR_SET_SYSCALL_USER_DISPATCH, SUD_ON, 0, 0, &selector) == 0) {
		found |= PROBE_SUD;
		prctl(PR_SET_SYSCALL_USER_DISPATCH, SUD_OFF, 0, 0, 0);
	}
	return found;
}

void host_mechanisms_probe(struct host_mechanisms *m)
{
	uint32_t r[4];
	int status;
	pid_t pid;

	memset(m, 0, sizeof(*m));
	pid = fork();
	if (pid == 0)
		_exit(probe_child());
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
		m->cpuid_faulting = WEXITSTATUS(status) & PROBE_CPUID_FAULTING;
		m->syscall_user_dispatch = WEXITSTATUS(status) & PROBE_SUD;
	}
	m->fsgsbase = getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE;

	host_cpuid(1, 0, r);
	m->osxsave = r[2] & CPUID_1_ECX_OSXSAVE;
	if (m->osxsave) {
		uint32_t lo, hi;

		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		m->xcr0 = (uint64_t)hi << 32 | lo;
	}
	host_cpuid(0, 0, r);
	if (r[0] >= 7) {
		host_cpuid(7, 0, r);
		m->host_sgx = r[1] & CPUID_7_EBX_SGX;
	}
	if (m->host_sgx) {
		host_cpuid(0x12, 0, r);
		m->host_sgx_leaf0_eax = r[0];
	}
}
