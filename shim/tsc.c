// SPDX-License-Identifier: MIT
/*
 * RDTSC and RDTSCP in enclave mode (SDM Vol. 3D, "RDTSC and RDTSCP"):
 * legal on processors with SGX2, #UD on those with SGX1 only. On a
 * platform modelled without SGX2 the shim makes them fault while enclave
 * code runs: PR_SET_TSC(PR_TSC_SIGSEGV) turns them into #GP (SIGSEGV,
 * SI_KERNEL) for the calling thread, set when a shim handler returns into
 * an enclave and cleared when the next one starts, so host code (the
 * vDSO's clock_gettime() included) never sees it. The signal handler
 * makes that fault the #UD of an AEX. SOFTSGX_RDTSC=1 leaves them legal.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "shim/shim.h"
#include "shim/thread.h"

/* -1: not decided yet; 0: RDTSC legal in enclaves; 1: it faults there. */
static int trap_mode = -1;

static bool trap_rdtsc(void)
{
	const struct shim_cpu *cpu;
	const char *env;

	if (trap_mode >= 0)
		return trap_mode;
	/* The platform's CPU: the process's own, or the service's view (shim/cpu.c). */
	cpu = shim_cpu();
	if (!cpu)
		return false;
	env = getenv("SOFTSGX_RDTSC");
	trap_mode = !(env && !strcmp(env, "1")) && !sgx_hw_config(cpu->hw)->sgx2;
	return trap_mode;
}

bool shim_tsc_traps(void)
{
	return trap_rdtsc();
}

void shim_tsc_enclave_resumes(struct shim_thread *t)
{
	if (t->tsc_off || !trap_rdtsc())
		return;
	if (!shim_raw_syscall(SYS_prctl, PR_SET_TSC, PR_TSC_SIGSEGV, 0))
		t->tsc_off = true;
}

void shim_tsc_host_runs(struct shim_thread *t)
{
	if (!t->tsc_off)
		return;
	shim_raw_syscall(SYS_prctl, PR_SET_TSC, PR_TSC_ENABLE, 0);
	t->tsc_off = false;
}
