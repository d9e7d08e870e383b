/* SPDX-License-Identifier: MIT */
/*
 * Per-thread logical-processor state. Inside an enclave, FS and GS hold the
 * enclave's bases, so a signal handler cannot touch thread-local storage
 * (errno, glibc internals) until it has put the host's FS back: records are
 * found by thread ID through raw system calls, never through TLS.
 *
 * Records live on one list that only grows and are never freed: a signal
 * handler of any thread, or shim_kick() walking the list, may hold one at
 * any time. A record is recycled when its thread exits (a pthread key
 * destructor) or when its thread ID is found dead; its alternate signal
 * stack goes with it.
 */
#ifndef SOFTSGX_SHIM_THREAD_H
#define SOFTSGX_SHIM_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <signal.h>
#include <stdatomic.h>
#include <ucontext.h>

#include "hw/enclu.h"
#include "kernel/sgx.h"

struct shim_thread {
	/*
	 * First, at offsets vdso_enter.S uses (SHIM_T_* in vdso.h, checked by
	 * static assertions in vdso_direct.c): what the vDSO's direct entry
	 * reads and writes.
	 */
	unsigned int depth;		 /* shim signal handlers running on this thread */
	volatile uint8_t sud_selector;	 /* Syscall User Dispatch (sud.c) */
	bool kick_deferred;		 /* a kick a nested handler got: raised again (signals.c) */
	bool direct_masked;		 /* the direct entry deferred a signal (vdso_direct.c) */
	bool tsc_off;			 /* PR_TSC_SIGSEGV set for enclave code (tsc.c) */
	_Atomic int tid;		 /* 0: free for another thread */
	uint8_t plan_fsgsbase;		 /* direct entry: WRFSBASE/WRGSBASE usable */
	uint8_t plan_tsc;		 /* direct entry: PR_SET_TSC(PR_TSC_SIGSEGV) on the way in */
	uint8_t plan_selector;		 /* direct entry: the selector enclave code runs with */
	uint64_t direct_saved_mask;	 /* the real signal mask a deferral replaced */
	struct sgx_cpu_regs entry;	 /* direct entry: the caller's state, then the enclave's */

	struct shim_thread *next;	 /* on the list of every record, never unlinked */
	uint64_t host_fs, host_gs;	 /* glibc's thread pointer; GS as it was */
	uint64_t enclave_fs, enclave_gs;
	struct sgx_lp lp;
	_Atomic unsigned int kicks_done; /* AEXs forced by shim_kick() */
	bool sud_on;
	bool sud_hold_allow;		 /* once: return into the enclave at ALLOW */
	void *altstack;			 /* the shim's alternate signal stack */
	size_t altstack_size;
	uint64_t trace_entered_ns; /* traced: when the thread last entered its enclave */
	struct sgx_cpu_regs regs;  /* scratch for the leaves: too big for the altstack */
};

/*
 * t->depth while the vDSO's direct entry runs the model for the thread
 * (vdso_direct.c): not 1, so a handler that interrupts it is taken for a
 * nested one, and marked, so that it defers what it cannot do there.
 */
#define SHIM_DEPTH_DIRECT 0x10001u
static inline bool shim_in_direct_entry(const struct shim_thread *t)
{
	return t && (t->depth & 0x10000u);
}

/*
 * The calling thread's record, created (or recycled) on first use, with
 * the shim's alternate signal stack installed (host FS must be live).
 */
struct shim_thread *shim_thread_self(void);
/* The calling thread's record, or NULL; async-signal-safe, FS not needed. */
struct shim_thread *shim_thread_lookup(void);
/* Records on the list and records in use, for tests and `softsgx top`. */
void shim_thread_count(unsigned int *total, unsigned int *in_use);

/*
 * First thing in every shim signal handler: the record of this thread if it
 * has one, with the host FS/GS restored when the interrupted code was
 * enclave code. Only the outermost handler of a thread switches bases: a
 * handler nested in another interrupted the shim, which runs on host FS.
 * The record is found without a system call when the kernel reports one of
 * the shim's alternate stacks in @uc (uc_stack: the thread's own setting,
 * which only the record's owner installs), else by thread ID.
 */
struct shim_thread *shim_handler_enter(const ucontext_t *uc);
/* Last thing: the enclave's FS/GS again if the outermost handler resumes the enclave. */
void shim_handler_exit(struct shim_thread *t);

/*
 * The IPI of the model: make every thread that is inside an enclave take an
 * AEX (SHIM_SIG_KICK) and wait until each has, so an ETRACK cycle can
 * complete. Bounded: a thread that does not answer within 2 s is left.
 */
void shim_kick(struct sgx_kernel *k, void *data);
#define SHIM_SIG_KICK (SIGRTMAX - 1)

/*
 * fork(): note the forking thread; in the child, forget every other thread
 * (they do not exist there) and re-key the forking thread's record.
 */
void shim_threads_before_fork(void);
void shim_threads_after_fork(void);

/*
 * Syscall User Dispatch (shim/sud.c): SYSCALL, SYSENTER and INT 0x80 in
 * enclave code raise SIGSYS (SYS_USER_DISPATCH) instead of entering the
 * kernel. shim_sud_init() with the main thread's record, once.
 */
#define SHIM_SUD_ALLOW 0
#define SHIM_SUD_BLOCK 1
void shim_sud_init(struct shim_thread *main_thread);
void shim_sud_thread_on(struct shim_thread *t);
void shim_sud_thread_off(struct shim_thread *t);

/*
 * RDTSC/RDTSCP fault in enclave code on a platform without SGX2 (shim/tsc.c):
 * around each return into an enclave and each handler's start.
 */
void shim_tsc_enclave_resumes(struct shim_thread *t);
void shim_tsc_host_runs(struct shim_thread *t);

/*
 * The calling thread's record for the vDSO's direct entry (vdso_enter.S
 * reads it through FS, which is the host's whenever a program calls the
 * vDSO), or NULL: not made yet, or the direct entry is off (threads that
 * share their thread-local storage, see thread.c).
 */
extern __thread struct shim_thread *shim_direct_self __attribute__((tls_model("initial-exec")));
/* WRFSBASE and WRGSBASE are usable (AT_HWCAP2 FSGSBASE). */
bool shim_thread_fsgsbase(void);
/* RDTSC must fault in enclave code (tsc.c): PR_SET_TSC around every entry. */
bool shim_tsc_traps(void);

/* Raw system calls: no errno, usable while FS is the enclave's. */
long shim_raw_syscall6(long nr, long a, long b, long c, long d, long e, long f);
#define shim_raw_syscall(nr, a, b, c) shim_raw_syscall6(nr, a, b, c, 0, 0, 0)

#endif /* SOFTSGX_SHIM_THREAD_H */
