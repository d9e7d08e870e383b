// SPDX-License-Identifier: MIT
/*
 * The signals the shim owns: SIGSEGV (page faults on SGX mappings,
 * exceptions inside enclaves, and ENCLU on a CPU whose SGX is disabled),
 * SIGILL (ENCLU on a CPU without SGX, and #UD inside enclaves) and SIGFPE
 * (#DE/#MF/#XM inside enclaves). Whatever the shim does not consume goes to
 * the handler the program installed, which the shim keeps behind its own:
 * sigaction() and signal() are interposed for these.
 *
 * A handler may run while FS holds an enclave's base: shim_handler_enter()
 * restores the host's before anything touches thread-local storage (errno
 * included), shim_handler_exit() puts the enclave's back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "shim.h"
#include "thread.h"

static const int owned_signals[] = { SIGSEGV, SIGILL, SIGFPE };
#define NR_OWNED (sizeof(owned_signals) / sizeof(owned_signals[0]))

static pthread_mutex_t app_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction app_act[NR_OWNED]; /* the program's dispositions */
static bool owned;

static int owned_index(int sig)
{
	for (unsigned int i = 0; i < NR_OWNED; i++)
		if (owned_signals[i] == sig)
			return (int)i;
	return -1;
}

/* x86 page-fault error code: bit 1 write, bit 4 instruction fetch. */
static int fault_access(const ucontext_t *uc)
{
	long err = uc->uc_mcontext.gregs[REG_ERR];

	return (err & 0x10) ? PROT_EXEC : (err & 0x2) ? PROT_WRITE : PROT_READ;
}

/* What the kernel does when it delivers @sig for a fault: handler or default action. */
static void deliver(int sig, siginfo_t *si, void *uc, const struct sigaction *sa)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t set;

	if (sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN) {
		/*
		 * The thread is outside any enclave now; the program's handler
		 * may enter one (runtimes handle exceptions that way) and must
		 * then answer kicks, which the shim's handler blocks.
		 */
		sigemptyset(&set);
		sigaddset(&set, SHIM_SIG_KICK);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		if (sa->sa_flags & SA_SIGINFO)
			sa->sa_sigaction(sig, si, uc);
		else
			sa->sa_handler(sig);
		return;
	}
	/* Default action (a faulting signal cannot be ignored): terminate. */
	sigemptyset(&dfl.sa_mask);
	real.sigaction(sig, &dfl, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}

static void deliver_to_program(int sig, siginfo_t *si, void *uc)
{
	int i = owned_index(sig);
	struct sigaction app;

	if (i < 0) {
		real.sigaction(sig, NULL, &app);
	} else {
		app = app_act[i];
		if (app.sa_flags & SA_RESETHAND)
			app_act[i].sa_handler = SIG_DFL;
	}
	deliver(sig, si, uc, &app);
}

/* SIGSEGV outside any enclave: a fault on an SGX mapping, or the program's own. */
static int sgx_mapping_fault(siginfo_t *si, ucontext_t *uc)
{
	struct sgx_kernel *k = shim_kernel_if_up();

	if (!k || si->si_code <= 0)
		return SIGSEGV;
	switch (sgx_handle_fault(k, (uintptr_t)si->si_addr, fault_access(uc))) {
	case SGX_FAULT_RETRY:
		return 0;
	case SGX_FAULT_SIGBUS:
		return SIGBUS;
	default:
		return SIGSEGV;
	}
}

static void on_kick(int sig, siginfo_t *si, void *ucv)
{
	struct shim_thread *t = shim_handler_enter();
	int saved_errno = errno;

	(void)sig;
	(void)si;
	shim_model_get();
	shim_enclave_kicked(ucv, t);
	shim_model_put();
	errno = saved_errno;
	shim_handler_exit(t);
}

static void on_signal(int sig, siginfo_t *si, void *ucv)
{
	struct shim_thread *t = shim_handler_enter();
	ucontext_t *uc = ucv;
	int saved_errno = errno;
	bool inside = t && t->lp.inside;
	int deliver_sig;

	/* Not held into the program's handler, which may never return. */
	shim_model_get();
	/* CPUID faulting (shim/cpuid.c); *si and sig become the #UD's inside an enclave. */
	if (shim_cpuid_trapped(sig, si, uc)) {
		deliver_sig = shim_cpuid_trap(si, uc, t, inside);
		sig = si->si_signo;
	} else if (shim_enclu_trapped(sig, si, uc))
		deliver_sig = shim_enclu_trap(sig, uc, &t);
	else if (inside)
		deliver_sig = shim_enclave_fault(sig, si, uc, t);
	else if (sig == SIGSEGV)
		deliver_sig = sgx_mapping_fault(si, uc);
	else
		deliver_sig = sig;
	shim_model_put();

	if (deliver_sig) {
		siginfo_t info = *si;

		if (deliver_sig != sig) {
			info.si_signo = deliver_sig;
			info.si_code = BUS_ADRERR;
		}
		deliver_to_program(deliver_sig, &info, uc);
	}
	errno = saved_errno;
	shim_handler_exit(t);
}

void shim_signals_init(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal,
				.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER };

	/*
	 * A kick must interrupt enclave code, never the shim's own handler
	 * while it emulates an instruction or resolves a fault for a thread
	 * that is inside: its AEX would take the handler's registers for the
	 * enclave's and abandon the handler halfway (with the kernel model's
	 * locks held). Blocked here, the kick arrives once the handler has
	 * returned: to enclave code, which takes the AEX, or outside.
	 */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SHIM_SIG_KICK);
	pthread_mutex_lock(&app_lock);
	/* Whatever the program installed before the first SGX open stays behind us. */
	for (unsigned int i = 0; i < NR_OWNED; i++)
		real.sigaction(owned_signals[i], &sa, &app_act[i]);
	sa.sa_sigaction = on_kick;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	real.sigaction(SHIM_SIG_KICK, &sa, NULL);
	owned = true;
	pthread_mutex_unlock(&app_lock);
}

bool shim_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	int i = owned_index(sig);

	if (i < 0)
		return false;
	pthread_mutex_lock(&app_lock);
	if (!owned) {
		pthread_mutex_unlock(&app_lock);
		return false;
	}
	if (old)
		*old = app_act[i];
	if (act)
		app_act[i] = *act;
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
