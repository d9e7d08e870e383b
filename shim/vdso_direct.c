// SPDX-License-Identifier: MIT
/*
 * The direct entry of __vdso_sgx_enter_enclave (shim/vdso.h, step 1a): the
 * vDSO is the shim's own code, so instead of executing ENCLU and trapping
 * into the shim's handler it calls the model's EENTER or ERESUME and jumps
 * into the enclave itself. An ECALL then costs one trap, the enclave's
 * EEXIT. vdso_enter.S saves and loads the registers; here is what the
 * trap path's handler does on the way in, for the same leaf, with the same
 * state: the record's lp, the model lock, tracing (shim_enclu_leaf(), which
 * the trap path calls too), the enclave's FS/GS, and the plan of what a
 * handler's return into the enclave does (shim_handler_exit()): RDTSC
 * faulting for --sgx1 and the SUD selector.
 *
 * Signals. The trap path runs with every asynchronous signal blocked by the
 * kernel, for free; blocking them here would cost two system calls per
 * ECALL. Instead the direct entry marks the thread (t->depth =
 * SHIM_DEPTH_DIRECT) while it runs C code, and a handler that interrupts it
 *  - for a kick (the model's IPI) defers it, as a nested handler does
 *    (signals.c: interrupt()), and
 *  - for any other asynchronous signal queues it again, blocked, with all
 *    the others blocked until the entry is done (shim_vdso_direct_defer()),
 * and vdso_enter.S raises the kick and unblocks once the enclave's state is
 * complete: the signal then arrives as an interrupt of the enclave at its
 * first instruction, an AEX, exactly as if it had come just after a
 * trapped EENTER's sigreturn. Synchronous faults in the shim's own code are
 * nested faults, as in the trap path. Once the claim ends the assembly only
 * loads registers: a handler that interrupts it completes the entry in its
 * context (shim_vdso_direct_rollforward()) and handles what interrupted
 * the enclave's first instruction.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "shim/shim.h"
#include "shim/thread.h"
#include "shim/vdso.h"

#define CHECK_T(field, off) _Static_assert(offsetof(struct shim_thread, field) == (off), #field)
#define CHECK_R(field, off) _Static_assert(offsetof(struct sgx_cpu_regs, field) == (off), #field)
CHECK_T(depth, SHIM_T_DEPTH);
CHECK_T(sud_selector, SHIM_T_SELECTOR);
CHECK_T(kick_deferred, SHIM_T_KICK_DEFERRED);
CHECK_T(direct_masked, SHIM_T_MASKED);
CHECK_T(tsc_off, SHIM_T_TSC_OFF);
CHECK_T(tid, SHIM_T_TID);
CHECK_T(plan_fsgsbase, SHIM_T_PLAN_FSGSBASE);
CHECK_T(plan_tsc, SHIM_T_PLAN_TSC);
CHECK_T(plan_selector, SHIM_T_PLAN_SELECTOR);
CHECK_T(direct_saved_mask, SHIM_T_SAVED_MASK);
CHECK_T(entry, SHIM_T_ENTRY);
CHECK_R(rax, SHIM_R_RAX);
CHECK_R(rcx, SHIM_R_RCX);
CHECK_R(rdx, SHIM_R_RDX);
CHECK_R(rbx, SHIM_R_RBX);
CHECK_R(rsp, SHIM_R_RSP);
CHECK_R(rbp, SHIM_R_RBP);
CHECK_R(rsi, SHIM_R_RSI);
CHECK_R(rdi, SHIM_R_RDI);
CHECK_R(r8, SHIM_R_R8);
CHECK_R(r15, SHIM_R_R15);
CHECK_R(rip, SHIM_R_RIP);
CHECK_R(rflags, SHIM_R_RFLAGS);
CHECK_R(fsbase, SHIM_R_FSBASE);
CHECK_R(gsbase, SHIM_R_GSBASE);
CHECK_R(xsave, SHIM_R_XSAVE);
_Static_assert(SHIM_DEPTH_DIRECT == SHIM_DIRECT_DEPTH, "one value for the direct entry's depth");

/* The frame vdso_enter.S pushed: R15 first ... RAX, then RFLAGS, then the return address. */
enum { F_R15, F_R14, F_R13, F_R12, F_R11, F_R10, F_R9, F_R8, F_RDI, F_RSI, F_RBP, F_RBX,
       F_RDX, F_RCX, F_RAX, F_RFLAGS, F_RET, F_SIZE };

#define XFEATURE_AVX 0x4ULL
#define XSAVE_MIN    (SGX_XSAVE_LEGACY_SIZE + SGX_XSAVE_HEADER_SIZE)

static void regs_from_frame(struct sgx_cpu_regs *r, const uint64_t *f, const struct shim_thread *t)
{
	r->rax = f[F_RAX];
	r->rcx = f[F_RCX];
	r->rdx = f[F_RDX];
	r->rbx = f[F_RBX];
	r->rsp = (uintptr_t)(f + F_SIZE);
	r->rbp = f[F_RBP];
	r->rsi = f[F_RSI];
	r->rdi = f[F_RDI];
	r->r8 = f[F_R8];
	r->r9 = f[F_R9];
	r->r10 = f[F_R10];
	r->r11 = f[F_R11];
	r->r12 = f[F_R12];
	r->r13 = f[F_R13];
	r->r14 = f[F_R14];
	r->r15 = f[F_R15];
	/* The ENCLU this call stands for: its return address. */
	r->rip = f[F_RET];
	r->rflags = f[F_RFLAGS];
	/* Outside an enclave, FS and GS are the host's (regs_from_uc() in enclave.c). */
	r->fsbase = t->host_fs;
	r->gsbase = t->host_gs;
	/*
	 * The XSAVE image holds SHIM_DIRECT_XMASK only, which EENTER never
	 * reads; ERESUME fills in the enclave's XFRM components and extends
	 * the length to cover them.
	 */
	r->xsave_len = XSAVE_MIN;
}

__attribute__((visibility("hidden"))) unsigned char softsgx_vdso_direct_on;
/*
 * The direct entry saves the caller's vector state with XSAVEOPT where the
 * host has it: unlike XSAVE it leaves out components in their initial
 * state (AVX's upper halves, most often, after a VZEROUPPER), a few
 * hundred bytes fewer to write on every ECALL. The image stays in the
 * standard format, which XRSTOR reads either way.
 */
__attribute__((visibility("hidden"))) unsigned char softsgx_vdso_xsaveopt;

/*
 * User shadow stacks (CET, Linux 6.6, glibc's x86_shstk tunable): the
 * direct entry calls softsgx_vdso_direct and never returns from it, which
 * a shadow stack refuses at the vDSO's own return. Where they are on, every
 * entry traps as before.
 */
#define ARCH_SHSTK_STATUS 0x5005
#define ARCH_SHSTK_SHSTK  (1ULL << 0)

static bool shadow_stack_on(void)
{
	uint64_t features = 0;

	return !shim_raw_syscall(SYS_arch_prctl, ARCH_SHSTK_STATUS, (long)&features, 0) &&
	       (features & ARCH_SHSTK_SHSTK);
}

void shim_vdso_direct_allow(struct sgx_hw *hw)
{
	static _Atomic bool decided;

	/* Once per process: this runs on every emulated EENTER. */
	if (atomic_load_explicit(&decided, memory_order_relaxed) || atomic_exchange(&decided, true))
		return;
	if (shadow_stack_on())
		return;
	/* SIG_KICK of vdso_enter.S is SHIM_SIG_KICK, SIGRTMAX - 1 (a call into libc). */
	if (!(hw_host_xcr0(hw) & XFEATURE_AVX) || SHIM_SIG_KICK != 63)
		return;
	__atomic_store_n(&softsgx_vdso_xsaveopt, hw_host_xsaveopt(hw), __ATOMIC_RELAXED);
	__atomic_store_n(&softsgx_vdso_direct_on, 1, __ATOMIC_RELEASE);
}

uint64_t shim_vdso_direct_enter(struct shim_thread *t, const uint64_t *frame)
{
	const struct shim_cpu *cpu = shim_cpu();
	struct sgx_cpu_regs *r = &t->entry;
	uint64_t xcr0, rfbm;
	uint32_t leaf;
	int ret;

	/* Only when the shim emulates ENCLU, for EENTER and ERESUME, from outside. */
	if (!cpu || t->lp.inside)
		return 0;
	xcr0 = hw_host_xcr0(cpu->hw);
	leaf = (uint32_t)frame[F_RAX];
	if (leaf != SGX_EENTER && leaf != SGX_ERESUME)
		return 0;
	regs_from_frame(r, frame, t);
	shim_model_get();
	ret = shim_enclu_leaf(cpu, t, r, false);
	shim_model_put();
	/* A faulting leaf changed nothing: the ENCLU traps and the handler does it all. */
	if (ret)
		return 0;
	t->enclave_fs = r->fsbase;
	t->enclave_gs = r->gsbase;
	/* What shim_handler_exit() does when a handler returns into the enclave. */
	t->plan_fsgsbase = shim_thread_fsgsbase();
	t->plan_tsc = !t->tsc_off && shim_tsc_traps();
	t->plan_selector = t->sud_hold_allow ? SHIM_SUD_ALLOW : SHIM_SUD_BLOCK;
	t->sud_hold_allow = false;
	rfbm = SHIM_DIRECT_XMASK & xcr0;
	if (leaf == SGX_ERESUME)
		rfbm |= t->lp.xfrm & xcr0;
	return rfbm;
}

bool shim_vdso_direct_rollforward(ucontext_t *uc, struct shim_thread *t)
{
	uintptr_t rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	const struct sgx_cpu_regs *r = &t->entry;
	greg_t *g = uc->uc_mcontext.gregs;

	if (rip < (uintptr_t)softsgx_vdso_direct_window ||
	    rip >= (uintptr_t)softsgx_vdso_direct_window_end)
		return false;
	g[REG_RAX] = (greg_t)r->rax;
	g[REG_RCX] = (greg_t)r->rcx;
	g[REG_RDX] = (greg_t)r->rdx;
	g[REG_RBX] = (greg_t)r->rbx;
	g[REG_RSP] = (greg_t)r->rsp;
	g[REG_RBP] = (greg_t)r->rbp;
	g[REG_RSI] = (greg_t)r->rsi;
	g[REG_RDI] = (greg_t)r->rdi;
	g[REG_R8] = (greg_t)r->r8;
	g[REG_R9] = (greg_t)r->r9;
	g[REG_R10] = (greg_t)r->r10;
	g[REG_R11] = (greg_t)r->r11;
	g[REG_R12] = (greg_t)r->r12;
	g[REG_R13] = (greg_t)r->r13;
	g[REG_R14] = (greg_t)r->r14;
	g[REG_R15] = (greg_t)r->r15;
	g[REG_RIP] = (greg_t)r->rip;
	g[REG_EFL] = (greg_t)r->rflags;
	/* The vector state is the enclave's already: XRSTOR came before the window. */
	if (t->direct_masked) {
		/* sigreturn unblocks what the assembly had not yet. */
		memcpy(&uc->uc_sigmask, &t->direct_saved_mask, sizeof(t->direct_saved_mask));
		t->direct_masked = false;
	}
	/* The selector the entry planned: the handler's return sets it (shim_handler_exit()). */
	if (t->plan_selector == SHIM_SUD_ALLOW)
		t->sud_hold_allow = true;
	/* A deferred kick is raised by handler_return() (signals.c), at depth 1. */
	return true;
}

void shim_vdso_direct_defer(int sig, const siginfo_t *si, ucontext_t *uc, struct shim_thread *t,
			    const sigset_t *async)
{
	uint64_t m, a;

	memcpy(&m, &uc->uc_sigmask, sizeof(m));
	memcpy(&a, async, sizeof(a));
	if (!t->direct_masked) {
		t->direct_saved_mask = m;
		t->direct_masked = true;
	}
	m |= a;
	memcpy(&uc->uc_sigmask, &m, sizeof(m));
	/* Blocked while this handler runs, and by the mask it returns with: pending. */
	shim_raw_syscall6(SYS_rt_tgsigqueueinfo, shim_raw_syscall(SYS_getpid, 0, 0, 0), atomic_load(&t->tid), sig, (long)si, 0,
			  0);
}
