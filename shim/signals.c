// SPDX-License-Identifier: MIT
/*
 * Signals under the shim. The kernel sees only the shim's handlers:
 *
 * - SIGSEGV, SIGILL, SIGFPE (on_signal): page faults on SGX mappings,
 *   exceptions inside enclaves, ENCLU on a CPU without (enabled) SGX.
 * - SHIM_SIG_KICK (on_kick): the model's IPI, an AEX for a thread inside.
 * - every other signal the program handles (on_async): when it interrupts
 *   enclave code, the AEX comes first, as an interrupt causes on hardware.
 *
 * The program's dispositions are kept here (sigaction() and signal() are
 * interposed) and its handlers run as Linux runs them, through a signal
 * frame the shim builds (sigframe.c) once its own handler is done: on host
 * FS/GS, on the program's stack or its own alternate stack, with the AEP
 * in the ucontext when the thread was inside. Ignored signals are passed
 * to the kernel as they are, so they stay invisible; default actions are
 * the kernel's.
 *
 * Every shim handler blocks every asynchronous signal while it runs: a
 * signal that interrupted the shim while it emulates an instruction for a
 * thread inside would take the handler's registers for the enclave's.
 * Blocked here, it arrives when the handler returns, to enclave code
 * (AEX) or to host code.
 *
 * A handler may run while FS holds an enclave's base: shim_handler_enter()
 * restores the host's before anything touches thread-local storage (errno
 * included), shim_handler_exit() puts the enclave's back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "shim/shim.h"
#include "shim/thread.h"
#include "shim/vdso.h"

#define NSIGS 65
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2 /* asm-generic/siginfo.h */
#endif

static const int owned_signals[] = { SIGSEGV, SIGILL, SIGFPE, SIGSYS };
#define NR_OWNED (sizeof(owned_signals) / sizeof(owned_signals[0]))

/*
 * The program's dispositions, read by handlers of any thread: a seqlock.
 * Writers hold app_lock with every asynchronous signal blocked, so a
 * handler never waits for a writer it interrupted.
 */
static pthread_mutex_t app_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction app_act[NSIGS];
static _Atomic unsigned int app_seq;
static bool owned;
static sigset_t async_set; /* every signal but the synchronous faults */

static bool is_owned(int sig)
{
	for (unsigned int i = 0; i < NR_OWNED; i++)
		if (owned_signals[i] == sig)
			return true;
	return false;
}

static void app_load(int sig, struct sigaction *out)
{
	unsigned int seq;

	do {
		while ((seq = atomic_load(&app_seq)) & 1)
			;
		memcpy(out, &app_act[sig], sizeof(*out));
	} while (atomic_load(&app_seq) != seq);
}

static void app_store(int sig, const struct sigaction *act)
{
	atomic_fetch_add(&app_seq, 1);
	memcpy(&app_act[sig], act, sizeof(*act));
	atomic_fetch_add(&app_seq, 1);
}

static bool is_handler(const struct sigaction *sa)
{
	return sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

static int fault_access(const ucontext_t *uc)
{
	return shim_pf_access((uint64_t)uc->uc_mcontext.gregs[REG_ERR]);
}

/*
 * The return from every shim handler: rt_sigreturn from inside the preload
 * library, which Syscall User Dispatch always lets through (sud.c), even
 * when the handler returns into an enclave with the selector at BLOCK.
 */
extern char shim_rt_restorer[];
__asm__(".text\n"
	".globl shim_rt_restorer\n"
	".hidden shim_rt_restorer\n"
	".type shim_rt_restorer, @function\n"
	"shim_rt_restorer:\n"
	"	mov $15, %eax\n" /* __NR_rt_sigreturn */
	"	syscall\n"
	"	hlt\n"
	".size shim_rt_restorer, .-shim_rt_restorer\n");

/* The kernel's struct sigaction for rt_sigaction(2) on x86-64. */
struct kernel_sigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

#define KSA_RESTORER 0x04000000UL

/* Register a shim handler by system call: glibc would impose its own restorer. */
static void register_handler(int sig, void (*fn)(int, siginfo_t *, void *), int flags,
			     const sigset_t *mask)
{
	struct kernel_sigaction ksa = { .handler = fn,
					.flags = (unsigned long)flags | KSA_RESTORER,
					.restorer = shim_rt_restorer };

	memcpy(&ksa.mask, mask, sizeof(ksa.mask));
	shim_raw_syscall6(SYS_rt_sigaction, sig, (long)&ksa, 0, sizeof(ksa.mask), 0, 0);
}

static int raw_tgkill_self(int sig)
{
	return (int)shim_raw_syscall(SYS_tgkill, getpid(), gettid(), sig);
}

static void install(int sig, const struct sigaction *act);

/* SA_RESETHAND: the disposition is the default once the handler is chosen. */
static void reset_hand(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	app_store(sig, &dfl);
	if (!is_owned(sig))
		install(sig, &dfl);
}

/* Run the program's handler @act for @sig once the shim's handler returns. */
static void to_handler(int sig, const siginfo_t *si, ucontext_t *uc, const struct sigaction *act)
{
	if (act->sa_flags & SA_RESETHAND)
		reset_hand(sig);
	if (shim_sigframe_deliver(sig, si, uc, act))
		return;
	/* A kernel frame of another layout: call it from here, as before. */
	if (act->sa_flags & SA_SIGINFO)
		act->sa_sigaction(sig, (siginfo_t *)si, uc);
	else
		act->sa_handler(sig);
}

/*
 * What the kernel does with a synchronous fault @sig it must deliver: the
 * handler, or the default action when there is none, or when the program
 * blocks or ignores it (force_sig_fault()).
 */
static void deliver_fault(int sig, const siginfo_t *si, ucontext_t *uc)
{
	struct sigaction app, dfl = { .sa_handler = SIG_DFL };

	app_load(sig, &app);
	if (is_handler(&app) && !shim_sig_blocked(sig)) {
		to_handler(sig, si, uc, &app);
		return;
	}
	/* Terminate (and dump core) as the kernel would: ours are never blocked for real. */
	sigemptyset(&dfl.sa_mask);
	real.sigaction(sig, &dfl, NULL);
	raw_tgkill_self(sig);
}

/* An asynchronous signal @sig for the program, after any AEX. */
static void deliver_async(int sig, const siginfo_t *si, ucontext_t *uc)
{
	struct sigaction app;

	app_load(sig, &app);
	if (app.sa_handler == SIG_IGN)
		return;
	if (shim_sig_blocked(sig)) {
		shim_sig_pend(sig);
		return;
	}
	if (!is_handler(&app)) {
		/* The default: the kernel's action, once it can deliver the signal again. */
		if (is_owned(sig))
			real.sigaction(sig, &app, NULL);
		else
			install(sig, &app);
		raw_tgkill_self(sig);
		return;
	}
	to_handler(sig, si, uc, &app);
}

/* SIGSEGV outside any enclave: a fault on an SGX mapping, or the program's own. */
static int sgx_mapping_fault(siginfo_t *si, ucontext_t *uc)
{
	struct sgx_kernel *k = shim_kernel_if_up();

	if (shim_service_mode())
		return shim_svc_fault(si, fault_access(uc));
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

/* What the kernel gives a #UD: SIGILL, ILL_ILLOPN at the instruction. */
static void illegal_info(siginfo_t *info, const ucontext_t *uc)
{
	memset(info, 0, sizeof(*info));
	info->si_signo = SIGILL;
	info->si_code = ILL_ILLOPN;
	info->si_addr = (void *)uc->uc_mcontext.gregs[REG_RIP];
}

/*
 * A #GP at RIP that enclave mode makes a #UD: INT imm8 (CD xx; INT3, INTO
 * and INT 0x80 do not come here), RDTSC (0F 31) and RDTSCP (0F 01 F9),
 * which fault only while tsc.c has them trapped, and CPUID (0F A2), which
 * faults while cpuid.c has CPUID faulting on.
 */
static bool illegal_in_enclave(const uint8_t *ip)
{
	return ip[0] == 0xcd || (ip[0] == 0x0f && ip[1] == 0x31) ||
	       (ip[0] == 0x0f && ip[1] == 0xa2) ||
	       (ip[0] == 0x0f && ip[1] == 0x01 && ip[2] == 0xf9);
}

/*
 * SIGSYS from Syscall User Dispatch: the kernel rolled the system call
 * back (RAX is the number again) and reports the address after the
 * instruction, all three of which (SYSCALL 0F 05, SYSENTER 0F 34,
 * INT 0x80 CD 80) are two bytes long. Inside an enclave that is #UD at the
 * instruction, through an AEX; outside (a selector left at BLOCK) the call
 * runs again, now allowed.
 */
static int dispatched_syscall(const siginfo_t *si, ucontext_t *uc, struct shim_thread *t,
			      siginfo_t *info)
{
	uintptr_t ip = (uintptr_t)si->si_call_addr - 2;

	int sig;

	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)ip;
	/*
	 * Not enclave code (a handler registered by glibc's own sigaction(),
	 * e.g. inside system(), returns through its restorer outside the
	 * allowed region): run the call again, allowed, and let the enclave
	 * it returns to run with the selector at ALLOW until its next exit.
	 */
	if (!t || !t->lp.inside || ip - t->lp.cr.base >= t->lp.cr.size) {
		if (t)
			t->sud_hold_allow = true;
		return 0;
	}
	shim_model_get();
	sig = shim_enclave_fault(SIGILL, (siginfo_t *)si, uc, t);
	shim_model_put();
	illegal_info(info, uc);
	return sig;
}

/*
 * A fault of enclave code (@t inside, this the outermost handler), model
 * lock held: ENCLU, an instruction enclave mode makes #UD, or an exception.
 * The instruction is read from the EPC, never through the process's
 * mapping (shim_enclave_insn()). Returns the signal to deliver (0: none)
 * with its siginfo in @info.
 */
static int inside_fault(int sig, siginfo_t *si, ucontext_t *uc, struct shim_thread *t,
			siginfo_t *info)
{
	uint8_t insn[3];
	int ret;

	*info = *si;
	/* A #PF is never an ENCLU, which raises #UD or #GP here before any access. */
	if (sig == SIGFPE || (sig == SIGSEGV && uc->uc_mcontext.gregs[REG_TRAPNO] == 14))
		return shim_enclave_fault(sig, si, uc, t);
	ret = shim_enclave_insn(uc, t, insn);
	if (ret == 1)
		return 0; /* not resident: an AEX, the instruction runs again */
	if (ret == 0 && insn[0] == 0x0f && insn[1] == 0x01 && insn[2] == 0xd7)
		return shim_enclu_trap(sig, uc, &t);
	if (ret == 0 && sig == SIGSEGV && si->si_code == SI_KERNEL && illegal_in_enclave(insn)) {
		/* #UD in enclave mode, #GP (or legal) outside. */
		illegal_info(info, uc);
		ret = shim_enclave_fault(SIGILL, si, uc, t);
		/* Reported at the AEP, as the kernel reports an exception there. */
		if (ret)
			illegal_info(info, uc);
		return ret;
	}
	return shim_enclave_fault(sig, si, uc, t);
}

/*
 * The real alternate stack stays the shim's: a thread whose first ENCLU
 * installed it from inside this handler would otherwise get its old
 * (disabled) setting back from rt_sigreturn.
 */
static void keep_altstack(ucontext_t *uc, const struct shim_thread *t)
{
	if (!t)
		return;
	uc->uc_stack.ss_sp = t->altstack;
	uc->uc_stack.ss_size = t->altstack_size;
	uc->uc_stack.ss_flags = 0;
}

/* An interrupt for a thread that may be inside: the AEX, under the model lock. */
static void interrupt(ucontext_t *uc, struct shim_thread *t, bool kick)
{
	if (!t || !t->lp.inside)
		return;
	/*
	 * Enclave code runs only under the outermost handler (see
	 * on_signal()): a nested one interrupted the shim, and has no
	 * enclave state to AEX. A kick is not lost there: shim_kick() waits
	 * for it to be answered, and ignored it cost the reclaimer its whole
	 * deadline. It is raised again when the outermost handler ends
	 * (handler_return()), and arrives as that handler returns: an AEX if
	 * it returns into the enclave, counted then.
	 */
	if (t->depth != 1) {
		if (kick)
			t->kick_deferred = true;
		return;
	}
	shim_model_get();
	shim_enclave_interrupted(uc, t, kick);
	shim_model_put();
}

/*
 * The end of every shim handler. The outermost raises a kick a nested one
 * deferred (interrupt()): blocked while this handler runs, it is
 * delivered as soon as rt_sigreturn restores the interrupted mask.
 */
static void handler_return(struct shim_thread *t)
{
	if (t && t->depth == 1 && t->kick_deferred) {
		t->kick_deferred = false;
		raw_tgkill_self(SHIM_SIG_KICK);
	}
	shim_handler_exit(t);
}

/*
 * shim_handler_enter(), and for the outermost handler of a thread inside an
 * enclave, the direct entry completed if it interrupted its last steps
 * (vdso_direct.c): from then on the context is the enclave's.
 */
static struct shim_thread *handler_enter(ucontext_t *uc)
{
	struct shim_thread *t = shim_handler_enter(uc);

	if (t && t->depth == 1 && t->lp.inside)
		shim_vdso_direct_rollforward(uc, t);
	return t;
}

static void on_kick(int sig, siginfo_t *si, void *ucv)
{
	struct shim_thread *t = handler_enter(ucv);
	int saved_errno = errno;

	(void)sig;
	(void)si;
	interrupt(ucv, t, true);
	keep_altstack(ucv, t);
	errno = saved_errno;
	handler_return(t);
}

static void on_async(int sig, siginfo_t *si, void *ucv)
{
	struct shim_thread *t = handler_enter(ucv);
	int saved_errno = errno;

	/*
	 * SIGBUS of a copy of the kernel model (uaccess.c) where the program
	 * has a handler, which makes it reach us: -EFAULT, as on Linux.
	 */
	if (sig == SIGBUS && si->si_code > 0 && shim_uaccess_fixup(ucv))
		goto out;
	/* The direct entry runs the model: the signal comes back once it is inside. */
	if (shim_in_direct_entry(t)) {
		shim_vdso_direct_defer(sig, si, ucv, t, &async_set);
		goto out;
	}
	interrupt(ucv, t, false);
	deliver_async(sig, si, ucv);
out:
	keep_altstack(ucv, t);
	errno = saved_errno;
	handler_return(t);
}

static void on_signal(int sig, siginfo_t *si, void *ucv)
{
	struct shim_thread *t = handler_enter(ucv);
	ucontext_t *uc = ucv;
	int saved_errno = errno;
	/*
	 * Enclave code was interrupted only if this is the thread's outermost
	 * shim handler: a nested one interrupted the shim, e.g. at_enclu()
	 * reading the instruction at an enclave RIP whose page the reclaimer
	 * just took. Taken for an enclave fault, that fault made an AEX of
	 * the shim's own registers and overwrote the outer handler's.
	 */
	bool inside = t && t->lp.inside && t->depth == 1;
	siginfo_t info;
	int deliver_sig;

	/* The instruction probe of an outer handler (enclave.c): it reads through the model. */
	if (sig == SIGSEGV && si->si_code > 0 && t && t->depth > 1 && shim_insn_probe_fixup(uc))
		goto out;
	/* The kernel model's copy of a bad user address (uaccess.c): -EFAULT, at any depth. */
	if (sig == SIGSEGV && si->si_code > 0 && shim_uaccess_fixup(uc))
		goto out;
	/* Sent by kill(), tgkill(), sigqueue(): an interrupt, not a fault. */
	if (si->si_code <= 0) {
		interrupt(uc, t, false);
		deliver_async(sig, si, uc);
		goto out;
	}
	if (sig == SIGSYS && si->si_code == SYS_USER_DISPATCH) {
		deliver_sig = dispatched_syscall(si, uc, t, &info);
		goto deliver;
	}
	/* Not held into the program's handler, which may never return. */
	shim_model_get();
	if (inside) {
		deliver_sig = inside_fault(sig, si, uc, t, &info);
		shim_model_put();
		goto deliver;
	} else {
		/* CPUID faulting (shim/cpuid.c): the model's answer. */
		if (shim_cpuid_trapped(sig, si, uc)) {
			deliver_sig = shim_cpuid_emulate(uc);
		} else if (shim_enclu_trapped(sig, si, uc)) {
			deliver_sig = shim_enclu_trap(sig, uc, &t);
			/* A record made by this first ENCLU counts this handler as running. */
			if (t && !t->depth)
				t->depth = 1;
		} else if (sig == SIGSEGV) {
			deliver_sig = sgx_mapping_fault(si, uc);
		} else {
			deliver_sig = sig;
		}
		shim_model_put();
	}

	info = *si;
	if (deliver_sig && deliver_sig != sig) {
		info.si_signo = deliver_sig;
		info.si_code = BUS_ADRERR;
	}
deliver:
	if (deliver_sig)
		deliver_fault(deliver_sig, &info, uc);
out:
	keep_altstack(uc, t);
	errno = saved_errno;
	handler_return(t);
}

/* Register with the kernel what stands for the program's @act on @sig. */
static void install(int sig, const struct sigaction *act)
{
	if (is_owned(sig) || sig == SHIM_SIG_KICK)
		return;
	if (!is_handler(act)) {
		/* Ignored and default: the kernel's own semantics, exactly. */
		real.sigaction(sig, act, NULL);
		return;
	}
	register_handler(sig, on_async,
			 SA_SIGINFO | SA_ONSTACK |
				 (act->sa_flags & (SA_RESTART | SA_NOCLDSTOP | SA_NOCLDWAIT)),
			 &async_set);
}

void shim_signals_init(void)
{
	const int sync_sigs[] = { SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGSYS, SIGTRAP };

	shim_sigmask_init();
	sigfillset(&async_set);
	for (unsigned int i = 0; i < sizeof(sync_sigs) / sizeof(sync_sigs[0]); i++)
		sigdelset(&async_set, sync_sigs[i]);
	/* The main thread's alternate stack, before anything can enter an enclave. */
	shim_sud_init(shim_thread_self());

	pthread_mutex_lock(&app_lock);
	/* Whatever the program installed before the first SGX open stays behind us. */
	for (int sig = 1; sig < NSIGS; sig++) {
		struct sigaction cur;

		if (sig == SIGKILL || sig == SIGSTOP || real.sigaction(sig, NULL, &cur))
			continue;
		app_act[sig] = cur;
		if (is_owned(sig))
			register_handler(sig, on_signal, SA_SIGINFO | SA_ONSTACK | SA_NODEFER,
					 &async_set);
		else if (sig != SHIM_SIG_KICK && is_handler(&cur))
			install(sig, &cur);
	}
	register_handler(SHIM_SIG_KICK, on_kick, SA_SIGINFO | SA_ONSTACK | SA_RESTART, &async_set);
	owned = true;
	pthread_mutex_unlock(&app_lock);
}

bool shim_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction copy;
	sigset_t saved;

	if (sig <= 0 || sig >= NSIGS || sig == SIGKILL || sig == SIGSTOP)
		return false;
	if (!owned)
		return false;
	/* glibc's own (SIGCANCEL, SIGSETXID): sigaction() refuses them. */
	if (sig == 32 || sig == 33)
		return false;
	/* Read before the seqlock is odd: a fault here must not find it so. */
	if (act)
		copy = *act;
	/* Not the synchronous faults, which would be fatal blocked. */
	shim_raw_syscall6(SYS_rt_sigprocmask, SIG_BLOCK, (long)&async_set, (long)&saved, 8, 0, 0);
	pthread_mutex_lock(&app_lock);
	if (old)
		*old = app_act[sig];
	if (act) {
		app_store(sig, &copy);
		install(sig, &copy);
	}
	pthread_mutex_unlock(&app_lock);
	shim_raw_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&saved, 0, 8, 0, 0);
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
