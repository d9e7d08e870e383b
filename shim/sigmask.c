// SPDX-License-Identifier: MIT
/*
 * The program's signal mask, as the program sets it. The signals the shim
 * relies on (the faults of ENCLU and of enclave code, SIGBUS, SIGSYS and
 * the model's IPI) must never be blocked in the kernel: a blocked
 * synchronous fault is fatal there (force_sig_fault() resets the handler),
 * a blocked kick stalls the reclaimer. For those the shim keeps a
 * per-thread virtual mask; every other signal is blocked for real, so the
 * kernel keeps doing the work (pending, delivery order, sigwait).
 *
 * Masks inherited over exec are taken over at load: what the kernel
 * reports blocked among ours becomes virtual and is unblocked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/shim.h"
#include "shim/thread.h"

#define BIT(sig) (1ULL << ((sig) - 1))
/* glibc's SIGCANCEL and SIGSETXID: its sigprocmask() never blocks them. */
#define GLIBC_INTERNAL (BIT(32) | BIT(33))

static uint64_t owned_mask; /* never blocked in the kernel */
static uint64_t virtual_ok; /* of those, the ones the program may block virtually */

static __thread uint64_t vmask __attribute__((tls_model("initial-exec")));
static __thread uint64_t vpending __attribute__((tls_model("initial-exec")));

uint64_t shim_sig_owned(void)
{
	return owned_mask;
}

uint64_t shim_sigmask_virtual(void)
{
	return vmask;
}

static void raise_pending(void)
{
	uint64_t due = vpending & ~vmask;

	if (!due)
		return;
	vpending &= ~due;
	for (int sig = 1; sig < 64; sig++)
		if (due & BIT(sig))
			shim_raw_syscall(SYS_tgkill, getpid(), gettid(), sig);
}

void shim_sigmask_set_virtual(uint64_t m)
{
	vmask = m & virtual_ok;
	raise_pending();
}

bool shim_sig_blocked(int sig)
{
	return sig > 0 && sig < 65 && (vmask & BIT(sig));
}

void shim_sig_pend(int sig)
{
	vpending |= BIT(sig);
}

static int do_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	uint64_t v = vmask, nv = v, s = 0, real_set;
	long ret;

	if (set) {
		memcpy(&s, set, sizeof(s));
		switch (how) {
		case SIG_BLOCK:
			nv = v | (s & virtual_ok);
			break;
		case SIG_UNBLOCK:
			nv = v & ~(s & virtual_ok);
			break;
		case SIG_SETMASK:
			nv = s & virtual_ok;
			break;
		default:
			return EINVAL;
		}
	}
	real_set = s & ~owned_mask & ~GLIBC_INTERNAL;
	/* @old may be @set: cleared only now that @set has been read. */
	if (old)
		sigemptyset(old);
	ret = shim_raw_syscall6(SYS_rt_sigprocmask, how, set ? (long)&real_set : 0, (long)old, 8,
			0, 0);
	if (ret)
		return (int)-ret;
	if (old) {
		uint64_t o;

		memcpy(&o, old, sizeof(o));
		o |= v;
		memcpy(old, &o, sizeof(o));
	}
	if (set)
		shim_sigmask_set_virtual(nv);
	return 0;
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	return do_sigmask(how, set, old);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int ret = pthread_sigmask(how, set, old);

	if (ret) {
		errno = ret;
		return -1;
	}
	return 0;
}

int sigpending(sigset_t *set)
{
	uint64_t p = 0;
	long ret;

	sigemptyset(set);
	ret = shim_raw_syscall(SYS_rt_sigpending, (long)set, 8, 0);
	if (ret) {
		errno = (int)-ret;
		return -1;
	}
	memcpy(&p, set, sizeof(p));
	p |= vpending;
	memcpy(set, &p, sizeof(p));
	return 0;
}

int sigsuspend(const sigset_t *mask)
{
	uint64_t m, saved = vmask;
	long ret;

	memcpy(&m, mask, sizeof(m));
	vmask = m & virtual_ok;
	m &= ~owned_mask & ~GLIBC_INTERNAL;
	/* A pending virtual signal the new mask lets through ends the wait at once. */
	raise_pending();
	ret = shim_raw_syscall(SYS_rt_sigsuspend, (long)&m, 8, 0);
	vmask = saved;
	errno = (int)-ret;
	return -1;
}

void shim_sigmask_init(void)
{
	int sigs[] = { SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGSYS, SHIM_SIG_KICK };
	uint64_t cur = 0;

	for (unsigned int i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		owned_mask |= BIT(sigs[i]);
	virtual_ok = owned_mask;
	/* Whatever the exec'ing program blocked among ours stays blocked, virtually. */
	shim_raw_syscall6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&owned_mask, (long)&cur, 8, 0, 0);
	vmask = cur & virtual_ok;
}
