/* SPDX-License-Identifier: MIT */
/*
 * Host features a test needs and some machines lack (other CPUs, other
 * kernels): asked at run time so that a test can skip, saying why, instead
 * of failing. For the shim test programs and the conformance programs.
 */
#ifndef SOFTSGX_TESTS_HOST_PROBE_H
#define SOFTSGX_TESTS_HOST_PROBE_H

#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012
#endif
#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF	     0
#endif

/*
 * Whether a child made by a raw fork (no atfork handlers: it makes one
 * system call and exits) exits 0 after @probe: so the probe changes nothing
 * in this process.
 */
static inline bool host_probe_in_child(long (*probe)(void))
{
	long pid;
	int status;

	pid = syscall(SYS_fork);
	if (pid == 0)
		syscall(SYS_exit_group, probe() ? 1 : 0);
	if (pid < 0 || waitpid((pid_t)pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static inline long host_probe_set_cpuid(void)
{
	return syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
}

/*
 * Is CPUID faulting available to this process? Under `softsgx run` it may
 * already be on (ARCH_GET_CPUID returns 0: CPUID faults); otherwise a child
 * tries to turn it on.
 */
static inline bool host_has_cpuid_faulting(void)
{
	if (syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0) == 0)
		return true;
	return host_probe_in_child(host_probe_set_cpuid);
}

static inline long host_probe_sud_off(void)
{
	return prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
}

/*
 * Syscall User Dispatch: turning it off succeeds where the kernel has it.
 * Asked in a child: in this thread it would turn off the dispatch that
 * whoever runs the program (the shim, as a debugger or Wine would) set up.
 */
static inline bool host_has_sud(void)
{
	return host_probe_in_child(host_probe_sud_off);
}

#endif /* SOFTSGX_TESTS_HOST_PROBE_H */
