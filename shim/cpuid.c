// SPDX-License-Identifier: MIT
/*
 * A program's own CPUID instruction answered by the model's CPU
 * (hw/hw_cpuid.h), through CPUID faulting: with arch_prctl(ARCH_SET_CPUID, 0)
 * every CPUID of the thread raises #GP, which Linux delivers as SIGSEGV
 * with si_code SI_KERNEL at the instruction (0F A2). The shim's handler
 * then writes the model's EAX, EBX, ECX and EDX into the context and steps
 * over the instruction. Inside an enclave CPUID is illegal (#UD, SDM Vol.
 * 3D "Instructions illegal in enclave mode"), which the shim's handler
 * turns into an AEX as hardware would (inside_fault() in shim/signals.c),
 * before this file is asked.
 *
 * CPUID faulting is a flag of each thread (TIF_NOCPUID): clone() and fork()
 * copy it, execve() clears it. So turning it on once, at load, reaches
 * every thread and child process the program creates afterwards, raw
 * clone() included; an exec'd program loads the shim again and turns it on
 * again. Threads that exist before the shim's constructor runs (another
 * preloaded library's constructor that starts one) keep the host's CPUID.
 * So does the dynamic loader and libc's start-up, which run CPUID before
 * any constructor: they see the host's features, which is what they must
 * use anyway.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "hw/hw_cpuid.h"
#include "hw/enclu.h"
#include "shim/shim.h"
#include "shim/thread.h" /* shim_raw_syscall(): no errno, usable before FS is the host's */

#define CPUID_OPCODE_0 0x0F
#define CPUID_OPCODE_1 0xA2
#define CPUID_INSN_LEN 2

/* Set once faulting is on for the loading thread; read by the handler. */
static bool cpuid_faulting;
/* Host CPUID.0:EAX, read natively before faulting is on; the same on every CPU. */
static uint32_t host_max_basic;

/* Exported to the environment once the notice has been given in a process tree. */
#define NOTICE_ENV "SOFTSGX_CPUID_NOTICE_GIVEN"

static inline void native_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(subleaf));
}

static long set_cpuid_faulting(bool on)
{
	/* ARCH_SET_CPUID's argument is "CPUID enabled": 0 turns faulting on. */
	return shim_raw_syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1, 0);
}

/*
 * The host CPU's answer: faulting off for this thread around one native
 * CPUID. Not cached: leaves 1, 0xB, 0x1F (x2APIC IDs), 0x1A (hybrid core
 * type) and AMD's 0x8000001E differ from one CPU to the next, and the
 * thread may have moved since the last one. Signals stay blocked meanwhile,
 * so no handler of the program runs with faulting off.
 */
static void host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	uint64_t all = ~0ULL, old;

	shim_raw_syscall6(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, (long)&old, sizeof(all), 0, 0);
	set_cpuid_faulting(false);
	native_cpuid(leaf, subleaf, r);
	set_cpuid_faulting(true);
	shim_raw_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, sizeof(old), 0, 0);
}

bool shim_cpuid_active(void)
{
	return cpuid_faulting;
}

bool shim_cpuid_trapped(int sig, const siginfo_t *si, const ucontext_t *uc)
{
	const uint8_t *ip = (const uint8_t *)uc->uc_mcontext.gregs[REG_RIP];

	/*
	 * #GP reaches user space as SIGSEGV with SI_KERNEL (sent by kill() it
	 * would be SI_USER or SI_QUEUE). CPUID raises #GP only when faulting is
	 * on (SDM Vol. 3A, "CPUID Faulting"; MSR_MISC_FEATURES_ENABLES bit 0),
	 * so a #GP whose instruction is CPUID is ours to answer. An ENCLU
	 * (0F 01 D7) or a fault on an SGX mapping never matches.
	 */
	if (sig != SIGSEGV || si->si_code != SI_KERNEL ||
	    uc->uc_mcontext.gregs[REG_TRAPNO] != X86_TRAP_GP)
		return false;
	return ip && ip[0] == CPUID_OPCODE_0 && ip[1] == CPUID_OPCODE_1;
}

int shim_cpuid_emulate(ucontext_t *uc)
{
	greg_t *gregs = uc->uc_mcontext.gregs;
	uint32_t leaf = (uint32_t)gregs[REG_RAX], subleaf = (uint32_t)gregs[REG_RCX];
	const struct shim_cpu *cpu = shim_cpu();
	uint32_t host[4] = { 0 }, out[4];

	if (!cpu) {
		/*
		 * Faulting is only ever on once there is a CPU model; a forked
		 * child of a service client that could not connect has none
		 * any more: the host's answer, as without faulting.
		 */
		host_cpuid(leaf, subleaf, out);
	} else {
		if (hw_cpuid_needs_host(leaf, host_max_basic))
			host_cpuid(leaf, subleaf, host);
		hw_cpuid(cpu->hw, leaf, subleaf, host_max_basic, host, out);
	}
	/* In 64-bit mode CPUID's 32-bit results clear the registers' upper halves. */
	gregs[REG_RAX] = (greg_t)out[HW_CPUID_EAX];
	gregs[REG_RBX] = (greg_t)out[HW_CPUID_EBX];
	gregs[REG_RCX] = (greg_t)out[HW_CPUID_ECX];
	gregs[REG_RDX] = (greg_t)out[HW_CPUID_EDX];
	gregs[REG_RIP] += CPUID_INSN_LEN;
	return 0;
}

/* Once per process tree: the first process that finds no CPUID faulting says so. */
static void notice_no_faulting(long err)
{
	if (getenv(NOTICE_ENV))
		return;
	fprintf(stderr,
		"softsgx: this CPU or kernel has no CPUID faulting (arch_prctl(ARCH_SET_CPUID): "
		"%s): programs will not see SGX in CPUID, and CPUID inside an enclave runs "
		"instead of raising #UD\n",
		err == -ENODEV ? "ENODEV" : err == -EINVAL ? "EINVAL" : "failed");
	setenv(NOTICE_ENV, "1", 1);
}

/*
 * After the platform's constructor has booted the model and installed the
 * shim's SIGSEGV handler (shim_kernel() boots it when this runs first):
 * faulting without that handler would kill the program at its first CPUID.
 */
__attribute__((constructor)) static void shim_cpuid_init(void)
{
	uint32_t r[4];
	long ret;

	/* The model boots here, or the service's view comes with the connection. */
	shim_kernel();
	if (!shim_cpu())
		return;
	/* ARCH_GET_CPUID: 1 when CPUID runs, 0 when it faults. */
	if (shim_raw_syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0, 0) == 0)
		host_cpuid(HW_CPUID_LEAF_BASIC, 0, r);
	else
		native_cpuid(HW_CPUID_LEAF_BASIC, 0, r);
	host_max_basic = r[HW_CPUID_EAX];
	ret = set_cpuid_faulting(true);
	if (ret) {
		notice_no_faulting(ret);
		return;
	}
	cpuid_faulting = true;
}
