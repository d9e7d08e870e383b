// SPDX-License-Identifier: MIT
/*
 * Page faults on SGX mappings arrive as SIGSEGV. The shim's handler sends
 * them to the kernel model's fault path, exactly where Linux runs
 * vm_ops->fault; faults that are not ours go to the program's own handler,
 * which the shim keeps behind its own (sigaction/signal are interposed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "shim.h"

static pthread_mutex_t app_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction app_segv; /* the program's SIGSEGV disposition */
static bool owned;

/* x86 page-fault error code: bit 1 write, bit 4 instruction fetch. */
static int fault_access(const ucontext_t *uc)
{
	long err = uc->uc_mcontext.gregs[REG_ERR];

	return (err & 0x10) ? PROT_EXEC : (err & 0x2) ? PROT_WRITE : PROT_READ;
}

static void call_handler(const struct sigaction *sa, int sig, siginfo_t *si, void *uc)
{
	if (sa->sa_flags & SA_SIGINFO)
		sa->sa_sigaction(sig, si, uc);
	else
		sa->sa_handler(sig);
}

/* What the kernel does when it delivers @sig for a fault: handler or default action. */
static void deliver(int sig, siginfo_t *si, void *uc, const struct sigaction *sa)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t set;

	if (sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN) {
		call_handler(sa, sig, si, uc);
		return;
	}
	/* Default action (a faulting signal cannot be ignored): terminate. */
	sigemptyset(&dfl.sa_mask);
	real.sigaction(sig, &dfl, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (sig == SIGSEGV)
		return; /* returning re-executes the access, which now kills */
	raise(sig);
}

static void on_sigsegv(int sig, siginfo_t *si, void *ucv)
{
	struct sgx_kernel *k = shim_kernel_if_up();
	int saved_errno = errno;
	struct sigaction app;

	if (k && si->si_code > 0) {
		switch (sgx_handle_fault(k, (uintptr_t)si->si_addr, fault_access(ucv))) {
		case SGX_FAULT_RETRY:
			errno = saved_errno;
			return;
		case SGX_FAULT_SIGBUS: {
			struct sigaction bus;
			siginfo_t bi = *si;

			bi.si_signo = SIGBUS;
			bi.si_code = BUS_ADRERR;
			real.sigaction(SIGBUS, NULL, &bus);
			deliver(SIGBUS, &bi, ucv, &bus);
			errno = saved_errno;
			return;
		}
		default:
			break; /* SIGSEGV or not ours: the program's own fault */
		}
	}
	app = app_segv;
	deliver(sig, si, ucv, &app);
	if (app.sa_flags & SA_RESETHAND)
		app_segv.sa_handler = SIG_DFL;
	errno = saved_errno;
}

void shim_signals_init(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsegv,
				.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	pthread_mutex_lock(&app_lock);
	/* Whatever the program installed before the first SGX open stays behind us. */
	real.sigaction(SIGSEGV, &sa, &app_segv);
	owned = true;
	pthread_mutex_unlock(&app_lock);
}

bool shim_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sig != SIGSEGV)
		return false;
	pthread_mutex_lock(&app_lock);
	if (!owned) {
		pthread_mutex_unlock(&app_lock);
		return false;
	}
	if (old)
		*old = app_segv;
	if (act)
		app_segv = *act;
	pthread_mutex_unlock(&app_lock);
	return true;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	shim_resolve_real();
	if (shim_sigaction(sig, act, old))
		return 0;
	return real.sigaction(sig, act, old);
}

sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction act = { .sa_handler = handler, .sa_flags = SA_RESTART };
	struct sigaction old;

	sigemptyset(&act.sa_mask);
	if (sigaction(sig, &act, &old))
		return SIG_ERR;
	return old.sa_handler;
}
