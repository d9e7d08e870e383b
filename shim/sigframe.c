// SPDX-License-Identifier: MIT
/*
 * Delivering a signal to the program's handler as Linux does
 * (arch/x86/kernel/signal.c, signal_64.c): the shim's own handler builds an
 * rt_sigframe where the kernel would have put it (the interrupted stack
 * below its 128-byte red zone, or the program's alternate stack for an
 * SA_ONSTACK handler), then rewrites its own ucontext so that its
 * rt_sigreturn "returns" into the program's handler. The program's handler
 * thus runs after the shim's handler has finished: on host state (after
 * the AEX when the signal interrupted enclave code), without the model's
 * lock, with the mask Linux gives it.
 *
 * The program's sigaltstack() setting is virtual: the thread's real
 * alternate stack is always the shim's (thread.c), because a signal that
 * interrupts enclave code must not be pushed onto the enclave's stack.
 * The frame's uc_stack shows the program's setting; the frame's return
 * address is shim_sig_restorer, which takes the program's changes to
 * uc_stack and uc_sigmask into the virtual state before rt_sigreturn, so
 * that the kernel never installs the program's stack or blocks our signals.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "shim/shim.h"
#include "shim/thread.h"

/* The kernel's struct ucontext (uapi/asm/ucontext.h): an 8-byte sigmask. */
struct kernel_ucontext {
	unsigned long uc_flags;
	void *uc_link;
	stack_t uc_stack;
	mcontext_t uc_mcontext; /* struct sigcontext */
	uint64_t uc_sigmask;
};

/* struct rt_sigframe of x86-64: the return address, then ucontext, then siginfo. */
struct kernel_sigframe {
	void *pretcode;
	struct kernel_ucontext uc;
	siginfo_t info;
};

_Static_assert(sizeof(struct kernel_ucontext) == 304, "kernel ucontext");
_Static_assert(offsetof(struct kernel_sigframe, info) == 312, "rt_sigframe");
_Static_assert(offsetof(ucontext_t, uc_sigmask) == offsetof(struct kernel_ucontext, uc_sigmask),
	       "glibc's ucontext_t starts as the kernel's");

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31) /* uapi/linux/signal.h */
#endif
#define RED_ZONE 128
#define HANDLER_STACK 8192
#define OWN_FRAMES (64 * 1024)
#define FXSAVE_SIZE 512
#define FPX_SW_OFFSET 464 /* struct _fpx_sw_bytes in the fxsave image's software area */
#define FP_XSTATE_MAGIC1 0x46505853U
#define XSTATE_BV_OFFSET 512
#define EFLAGS_TF 0x100
#define EFLAGS_DF 0x400
#define EFLAGS_RF 0x10000

/* The program's sigaltstack(), per thread. */
static __thread stack_t prog_ss __attribute__((tls_model("initial-exec"))) = {
	.ss_flags = SS_DISABLE
};

static bool prog_ss_on(uintptr_t sp)
{
	/* Linux on_sig_stack(): sp in (ss_sp, ss_sp + ss_size]. */
	return prog_ss.ss_size && sp > (uintptr_t)prog_ss.ss_sp &&
	       sp - (uintptr_t)prog_ss.ss_sp <= prog_ss.ss_size;
}

/* The program's stack becomes @ss (its SS_AUTODISARM kept), or none for NULL. */
static void prog_ss_set(const stack_t *ss)
{
	prog_ss.ss_sp = ss ? ss->ss_sp : NULL;
	prog_ss.ss_size = ss ? ss->ss_size : 0;
	prog_ss.ss_flags = ss ? ss->ss_flags & SS_AUTODISARM : SS_DISABLE;
}

/* Linux sas_ss_flags() for the program's stack at @sp. */
static int prog_ss_flags(uintptr_t sp)
{
	if (!prog_ss.ss_size)
		return SS_DISABLE;
	return prog_ss_on(sp) ? SS_ONSTACK : 0;
}

int sigaltstack(const stack_t *ss, stack_t *old)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	stack_t prev = prog_ss;

	/* A thread gets the shim's stack before the program sets its own. */
	shim_thread_self();
	prev.ss_flags = prog_ss_flags(sp) | (prog_ss.ss_flags & SS_AUTODISARM);
	if (ss) {
		int mode = ss->ss_flags & ~SS_AUTODISARM;

		if (prog_ss_on(sp)) {
			errno = EPERM;
			return -1;
		}
		if (mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK) {
			errno = EINVAL;
			return -1;
		}
		if (mode == SS_DISABLE) {
			prog_ss_set(NULL);
		} else {
			if (ss->ss_size < (size_t)MINSIGSTKSZ) {
				errno = ENOMEM;
				return -1;
			}
			prog_ss_set(ss);
		}
	}
	if (old) {
		*old = prev;
		if (!prev.ss_size) {
			old->ss_sp = NULL;
			old->ss_flags = SS_DISABLE;
		}
	}
	return 0;
}

/* Called by shim_sig_restorer with the frame's ucontext, before rt_sigreturn. */
__attribute__((visibility("hidden"))) void shim_sigreturn_fixup(struct kernel_ucontext *uc)
{
	struct shim_thread *t = shim_thread_lookup();
	uint64_t owned = shim_sig_owned() & ~(1ULL << (SHIM_SIG_KICK - 1));
	stack_t ss = uc->uc_stack;

	/* rt_sigreturn's restore_altstack(), which fails (ignored) while on it. */
	if (!prog_ss_on((uintptr_t)uc)) {
		if (ss.ss_flags & SS_DISABLE || !ss.ss_size)
			prog_ss_set(NULL);
		else if (ss.ss_size >= (size_t)MINSIGSTKSZ)
			prog_ss_set(&ss);
	}
	if (t) {
		uc->uc_stack.ss_sp = t->altstack;
		uc->uc_stack.ss_size = t->altstack_size;
		uc->uc_stack.ss_flags = 0;
	} else {
		shim_raw_syscall(SYS_sigaltstack, 0, (long)&uc->uc_stack, 0);
	}
	shim_sigmask_set_virtual(uc->uc_sigmask & owned);
	uc->uc_sigmask &= ~owned;
}

/*
 * The return address of every frame the shim builds: the program's handler
 * returns here with RSP at the frame's ucontext. RSP is then 16-byte
 * aligned (the frame was laid out for a call), as the call needs.
 */
extern char shim_sig_restorer[];
__asm__(".text\n"
	".globl shim_sig_restorer\n"
	".hidden shim_sig_restorer\n"
	".type shim_sig_restorer, @function\n"
	"shim_sig_restorer:\n"
	"	mov %rsp, %rdi\n"
	"	call shim_sigreturn_fixup\n"
	"	mov $" "15" ", %eax\n" /* __NR_rt_sigreturn */
	"	syscall\n"
	"	hlt\n"
	".size shim_sig_restorer, .-shim_sig_restorer\n");

/* The handler starts with the FPU as fpu__clear_user_states() leaves it. */
static void fpu_init_state(void *fp, bool xsave)
{
	struct _libc_fpstate *fx = fp;

	fx->cwd = 0x37f;
	fx->swd = 0;
	fx->ftw = 0;
	fx->mxcsr = 0x1f80;
	if (xsave)
		memset((char *)fp + XSTATE_BV_OFFSET, 0, 8);
}

bool shim_sigframe_deliver(int sig, const siginfo_t *si, ucontext_t *uc,
			   const struct sigaction *act)
{
	struct kernel_ucontext *kuc = (struct kernel_ucontext *)uc;
	greg_t *gregs = uc->uc_mcontext.gregs;
	uintptr_t isp = (uintptr_t)gregs[REG_RSP];
	uintptr_t sp = isp - RED_ZONE;
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	void *fp = uc->uc_mcontext.fpregs, *new_fp = NULL;
	uint64_t owned = shim_sig_owned(), restore, handler_mask, sa_mask;
	struct kernel_sigframe *f;
	size_t fpsize = 0;
	bool xsave = false;

	/* The frame we were given must be the layout we build. */
	if ((const char *)si - (const char *)uc !=
	    offsetof(struct kernel_sigframe, info) - offsetof(struct kernel_sigframe, uc))
		return false;
	/* get_sigframe(): the alternate stack for SA_ONSTACK unless already on it. */
	if ((act->sa_flags & SA_ONSTACK) && prog_ss_flags(isp) == 0)
		sp = (uintptr_t)prog_ss.ss_sp + prog_ss.ss_size;
	/*
	 * Just above this function lie the shim handler's own frames and the
	 * kernel's frame it was given. They are where Linux's frame would go
	 * when the target stack is the one this handler runs on: the shim's
	 * alternate stack (a fault in a shim handler delivered to the
	 * program), or the thread's own stack when it has no alternate one
	 * (a thread that is exiting, or made by a raw clone()). The frame goes
	 * below this handler's stack instead, far enough for the rest of it.
	 */
	if (sp > here - HANDLER_STACK && sp < here + OWN_FRAMES)
		sp = here - HANDLER_STACK;
	if (fp) {
		const uint32_t *sw = (const uint32_t *)((const char *)fp + FPX_SW_OFFSET);

		xsave = sw[0] == FP_XSTATE_MAGIC1;
		fpsize = xsave ? sw[1] : FXSAVE_SIZE;
		sp = (sp - fpsize) & ~(uintptr_t)63;
		new_fp = (void *)sp;
		memcpy(new_fp, fp, fpsize);
	}
	sp = ((sp - sizeof(*f)) & ~(uintptr_t)15) - 8;
	f = (struct kernel_sigframe *)sp;

	f->pretcode = shim_sig_restorer;
	f->uc.uc_flags = kuc->uc_flags;
	f->uc.uc_link = NULL;
	f->uc.uc_stack.ss_sp = prog_ss.ss_sp;
	f->uc.uc_stack.ss_size = prog_ss.ss_size;
	f->uc.uc_stack.ss_flags = prog_ss_flags(isp) | (prog_ss.ss_flags & SS_AUTODISARM);
	memcpy(&f->uc.uc_mcontext, &uc->uc_mcontext, sizeof(f->uc.uc_mcontext));
	f->uc.uc_mcontext.fpregs = new_fp;
	restore = kuc->uc_sigmask | shim_sigmask_virtual();
	f->uc.uc_sigmask = restore;
	memcpy(&f->info, si, sizeof(f->info));
	f->info.si_signo = sig;

	/* SS_AUTODISARM: the stack is the handler's alone until it returns. */
	if ((prog_ss.ss_flags & SS_AUTODISARM) && prog_ss_on(sp))
		prog_ss_set(NULL);

	memcpy(&sa_mask, &act->sa_mask, sizeof(sa_mask));
	handler_mask = restore | sa_mask;
	if (!(act->sa_flags & SA_NODEFER))
		handler_mask |= 1ULL << (sig - 1);
	shim_sigmask_set_virtual(handler_mask & owned);
	/* The kick included: a handler may enter an enclave, and must answer it there. */
	kuc->uc_sigmask = handler_mask & ~owned;

	gregs[REG_RIP] = (greg_t)(uintptr_t)act->sa_sigaction;
	gregs[REG_RSP] = (greg_t)sp;
	gregs[REG_RDI] = sig;
	gregs[REG_RSI] = (greg_t)(uintptr_t)&f->info;
	gregs[REG_RDX] = (greg_t)(uintptr_t)&f->uc;
	gregs[REG_RAX] = 0;
	gregs[REG_EFL] &= ~(greg_t)(EFLAGS_DF | EFLAGS_TF | EFLAGS_RF);
	if (fp)
		fpu_init_state(fp, xsave);
	return true;
}
