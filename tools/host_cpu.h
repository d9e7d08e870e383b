/* SPDX-License-Identifier: MIT */
/*
 * The host CPU and kernel as `softsgx info` reports them: the host's own
 * CPUID (even under `softsgx run`, where the program's CPUID is the
 * model's), and which of the mechanisms the shim relies on this machine
 * offers, probed at run time.
 */
#ifndef SOFTSGX_TOOLS_HOST_CPU_H
#define SOFTSGX_TOOLS_HOST_CPU_H

#include <stdbool.h>
#include <stdint.h>

/* The host CPU's answer to CPUID @leaf/@subleaf, with CPUID faulting off if it was on. */
void host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

struct host_mechanisms {
	/* arch_prctl(ARCH_SET_CPUID, 0) works: the shim can answer CPUID. */
	bool cpuid_faulting;
	/* prctl(PR_SET_SYSCALL_USER_DISPATCH) works. */
	bool syscall_user_dispatch;
	/* AT_HWCAP2 bit 1: the kernel lets user space run WRFSBASE/WRGSBASE. */
	bool fsgsbase;
	/* XGETBV(0), when the OS enabled XSAVE (CPUID.1:ECX.OSXSAVE). */
	bool osxsave;
	uint64_t xcr0;
	/* The host's CPUID.(7,0):EBX[2] and CPUID.(12H,0):EAX. */
	bool host_sgx;
	uint32_t host_sgx_leaf0_eax;
};

/*
 * Probe every mechanism. Faulting and Syscall User Dispatch are tried in a
 * child process, so this process's own settings (under `softsgx run`, the
 * shim's) stay as they are.
 */
void host_mechanisms_probe(struct host_mechanisms *m);

#endif /* SOFTSGX_TOOLS_HOST_CPU_H */
