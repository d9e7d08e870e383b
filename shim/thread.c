// SPDX-License-Identifier: MIT
/*
 * Thread records (see thread.h): one per thread that entered, or may
 * enter, an enclave, with the shim's alternate signal stack. A record is
 * one anonymous mapping: a guard page, the stack, the record. It is
 * created with raw system calls only, because a thread that was not made
 * by pthread_create() gets its record inside the shim's SIGILL handler at
 * its first ENCLU, where malloc() is not safe.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim/shim.h"
#include "shim/thread.h"

#define ALTSTACK_SIZE (256 * 1024)
#define GUARD_SIZE 4096
#define KICK_DEADLINE_S 2
#define KICK_BATCH 256
#define HINTS 1024

/* Every record ever made, newest first; records are never unlinked. */
static struct shim_thread *_Atomic all_threads;
/* A cache of tid -> record: a hint only, checked against the record's tid. */
static struct shim_thread *_Atomic hint[HINTS];
/* altstack -> record: a hint only, checked against the record's altstack. */
static struct shim_thread *_Atomic stack_hint[HINTS];
static pthread_key_t exit_key;
static bool have_exit_key;

static unsigned int stack_slot(const void *sp)
{
	return (unsigned int)(((uintptr_t)sp >> 12) % HINTS);
}

long shim_raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static int raw_gettid(void)
{
	return (int)shim_raw_syscall(SYS_gettid, 0, 0, 0);
}

static int raw_getpid(void)
{
	return (int)shim_raw_syscall(SYS_getpid, 0, 0, 0);
}

/*
 * With FSGSBASE enabled by the kernel (AT_HWCAP2 bit 1, Linux 5.9 and
 * later) the bases are written by instruction; otherwise by arch_prctl().
 * Four writes per ECALL: the system call would cost more than the rest of
 * the shim's work. Decided once, before any thread enters an enclave.
 */
#define HWCAP2_FSGSBASE_BIT (1UL << 1)
static bool have_fsgsbase;

__thread struct shim_thread *shim_direct_self __attribute__((tls_model("initial-exec")));
/* Set for good once two threads were found to share their TLS. */
static _Atomic bool direct_off;

bool shim_thread_fsgsbase(void)
{
	return have_fsgsbase;
}

static void exit_destructor(void *p);

__attribute__((constructor)) static void thread_init(void)
{
	const char *direct = getenv("SOFTSGX_VDSO_DIRECT");

	have_fsgsbase = getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE_BIT;
	/* SOFTSGX_VDSO_DIRECT=0: every vDSO entry traps, as before the direct entry. */
	if (direct && !strcmp(direct, "0"))
		atomic_store(&direct_off, true);
	have_exit_key = !pthread_key_create(&exit_key, exit_destructor);
}

static uint64_t get_base(int code)
{
	uint64_t v = 0;

	shim_raw_syscall(SYS_arch_prctl, code, (long)&v, 0);
	return v;
}

static void set_base(int code, uint64_t v)
{
	if (have_fsgsbase && code == ARCH_SET_FS)
		__asm__ volatile("wrfsbase %0" : : "r"(v) : "memory");
	else if (have_fsgsbase && code == ARCH_SET_GS)
		__asm__ volatile("wrgsbase %0" : : "r"(v) : "memory");
	else
		shim_raw_syscall(SYS_arch_prctl, code, (long)v, 0);
}

static struct shim_thread *lookup(int tid)
{
	struct shim_thread *t = atomic_load(&hint[(unsigned int)tid % HINTS]);

	if (t && atomic_load(&t->tid) == tid)
		return t;
	for (t = atomic_load(&all_threads); t; t = t->next) {
		if (atomic_load(&t->tid) == tid) {
			atomic_store(&hint[(unsigned int)tid % HINTS], t);
			return t;
		}
	}
	return NULL;
}

struct shim_thread *shim_thread_lookup(void)
{
	return lookup(raw_gettid());
}

void shim_thread_count(unsigned int *total, unsigned int *in_use)
{
	*total = 0;
	*in_use = 0;
	for (struct shim_thread *t = atomic_load(&all_threads); t; t = t->next) {
		++*total;
		if (atomic_load(&t->tid))
			++*in_use;
	}
}

/* A record whose thread is gone, claimed for @tid; NULL when none is. */
static struct shim_thread *recycle(int tid)
{
	int pid = raw_getpid();

	for (struct shim_thread *t = atomic_load(&all_threads); t; t = t->next) {
		int old = 0;

		if (atomic_compare_exchange_strong(&t->tid, &old, tid))
			return t;
	}
	/* Threads that exited without our destructor (raw clone, a fork's other threads). */
	for (struct shim_thread *t = atomic_load(&all_threads); t; t = t->next) {
		int old = atomic_load(&t->tid);

		if (old && !t->lp.inside &&
		    shim_raw_syscall(SYS_tgkill, pid, old, 0) == -ESRCH &&
		    atomic_compare_exchange_strong(&t->tid, &old, tid))
			return t;
	}
	return NULL;
}

/*
 * Point this thread's shim_direct_self at @t (FS is the host's here). A
 * thread made by clone() without CLONE_SETTLS runs on its creator's TLS:
 * finding another live thread's record there, the direct entry is turned
 * off for the process, since it could not tell the two apart without a
 * system call; both then enter by the trap.
 */
static void direct_claim(struct shim_thread *t)
{
	struct shim_thread *cur = shim_direct_self;
	int tid = atomic_load(&t->tid);

	if (cur && cur != t) {
		int other = atomic_load(&cur->tid);

		if (other && other != tid && shim_raw_syscall(SYS_tgkill, raw_getpid(), other, 0) == 0)
			atomic_store(&direct_off, true);
	}
	shim_direct_self = atomic_load(&direct_off) ? NULL : t;
}

static struct shim_thread *make_record(int tid)
{
	size_t rec = (sizeof(struct shim_thread) + 4095) & ~(size_t)4095;
	size_t len = GUARD_SIZE + ALTSTACK_SIZE + rec;
	long p = shim_raw_syscall6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct shim_thread *t;

	if (p < 0 && p > -4096)
		return NULL;
	shim_raw_syscall(SYS_mprotect, p, GUARD_SIZE, PROT_NONE);
	t = (struct shim_thread *)(p + GUARD_SIZE + ALTSTACK_SIZE);
	t->altstack = (void *)(p + GUARD_SIZE);
	t->altstack_size = ALTSTACK_SIZE;
	atomic_store(&t->tid, tid);
	atomic_store(&stack_hint[stack_slot(t->altstack)], t);
	t->next = atomic_load(&all_threads);
	while (!atomic_compare_exchange_weak(&all_threads, &t->next, t))
		;
	return t;
}

/*
 * Install @t's stack as the thread's alternate signal stack: signals that
 * arrive while enclave code runs must not be pushed onto the enclave's
 * stack. The program's own sigaltstack() setting is kept apart (sigframe.c).
 */
static void install_altstack(struct shim_thread *t)
{
	stack_t ss = { .ss_sp = t->altstack, .ss_size = t->altstack_size, .ss_flags = 0 };

	shim_raw_syscall(SYS_sigaltstack, (long)&ss, 0, 0);
}

struct shim_thread *shim_thread_self(void)
{
	int tid = raw_gettid();
	struct shim_thread *t = lookup(tid);

	if (t) {
		/* Outside an enclave FS is the host's: a reused TID gets fresh bases. */
		if (!t->lp.inside) {
			t->host_fs = get_base(ARCH_GET_FS);
			t->host_gs = get_base(ARCH_GET_GS);
			direct_claim(t);
		}
		return t;
	}
	t = recycle(tid);
	if (!t)
		t = make_record(tid);
	if (!t)
		return NULL;
	atomic_store(&hint[(unsigned int)tid % HINTS], t);
	t->host_fs = get_base(ARCH_GET_FS);
	t->host_gs = get_base(ARCH_GET_GS);
	t->enclave_fs = t->enclave_gs = 0;
	t->depth = 0;
	t->kick_deferred = false;
	t->tsc_off = false;
	sgx_lp_init(&t->lp);
	direct_claim(t);
	install_altstack(t);
	shim_sud_thread_on(t);
	/* glibc threads: the destructor gives the record back at exit. */
	if (have_exit_key)
		pthread_setspecific(exit_key, t);
	return t;
}

static void exit_destructor(void *p)
{
	struct shim_thread *t = p;
	stack_t cur, off = { .ss_flags = SS_DISABLE };

	if (atomic_load(&t->tid) != raw_gettid() || t->lp.inside)
		return;
	/* A later destructor's ECALL takes the trap, which finds no record. */
	shim_direct_self = NULL;
	/* The selector goes too: the kernel must stop reading it for this thread. */
	shim_sud_thread_off(t);
	/* The stack goes to the next thread: this one must not take a signal on it. */
	if (!shim_raw_syscall(SYS_sigaltstack, 0, (long)&cur, 0) && cur.ss_sp == t->altstack)
		shim_raw_syscall(SYS_sigaltstack, (long)&off, 0, 0);
	atomic_store(&t->tid, 0);
}

/* The record whose alternate stack the kernel reports in @uc, or NULL. */
static struct shim_thread *by_altstack(const ucontext_t *uc)
{
	const stack_t *ss = &uc->uc_stack;
	struct shim_thread *t;

	if (ss->ss_flags & SS_DISABLE)
		return NULL;
	t = atomic_load(&stack_hint[stack_slot(ss->ss_sp)]);
	if (t && t->altstack == ss->ss_sp && t->altstack_size == ss->ss_size &&
	    atomic_load(&t->tid))
		return t;
	return NULL;
}

struct shim_thread *shim_handler_enter(const ucontext_t *uc)
{
	struct shim_thread *t = by_altstack(uc) ?: lookup(raw_gettid());

	if (!t)
		return NULL;
	/* Before anything outside the preload library makes a system call. */
	t->sud_selector = SHIM_SUD_ALLOW;
	if (!t->depth++ && t->lp.inside) {
		set_base(ARCH_SET_FS, t->host_fs);
		set_base(ARCH_SET_GS, t->host_gs);
	}
	/* Whatever it interrupted: host code (libc's clock_gettime()) may read the TSC. */
	shim_tsc_host_runs(t);
	return t;
}

void shim_handler_exit(struct shim_thread *t)
{
	/*
	 * Only the outermost handler returns to enclave code. A nested one
	 * returns into the shim's handler, which runs on host FS even when
	 * the thread is inside (between EENTER and the handler's return):
	 * the enclave's FS there made the outer handler's next TLS access
	 * (errno) fault, and with the thread by then outside (a faulting
	 * ERESUME) every later handler recursed on that fault.
	 */
	if (t && !--t->depth && t->lp.inside) {
		set_base(ARCH_SET_FS, t->enclave_fs);
		set_base(ARCH_SET_GS, t->enclave_gs);
		shim_tsc_enclave_resumes(t);
		/* Last: from here on only the return through shim_rt_restorer. */
		if (!t->sud_hold_allow)
			t->sud_selector = SHIM_SUD_BLOCK;
		t->sud_hold_allow = false;
	}
}

static int forking_tid;

void shim_threads_before_fork(void)
{
	forking_tid = raw_gettid();
}

void shim_threads_after_fork(void)
{
	struct shim_thread *self = lookup(forking_tid);
	const struct shim_cpu *cpu = shim_cpu();
	int tid = raw_gettid();

	/* The other threads do not exist here: their records are free. */
	for (unsigned int i = 0; i < HINTS; i++)
		atomic_store(&hint[i], NULL);
	for (struct shim_thread *t = atomic_load(&all_threads); t; t = t->next) {
		if (t == self)
			continue;
		/*
		 * One that was inside an enclave: Linux's child never had it.
		 * Left counted in the child's copy of the model, it kept its
		 * TCS busy and every ETRACK cycle of that enclave incomplete
		 * (EWB NOT_TRACKED, the pages never reclaimed).
		 */
		if (shim_service_mode())
			sgx_lp_init(&t->lp); /* the EPCM is shared: the parent's thread is still inside */
		else if (cpu)
			sgx_lp_vanish(cpu->hw, &t->lp);
		atomic_store(&t->tid, 0);
	}
	if (self) {
		atomic_store(&self->tid, tid);
		/* Syscall User Dispatch is not inherited by a fork's child. */
		self->sud_on = false;
		shim_sud_thread_on(self);
	}
}

/*
 * Inside, or in EENTER/ERESUME: an ETRACK may already count a thread whose
 * entry has not set lp.inside yet. Its handler blocks the kick, which then
 * arrives as the entry completes: an AEX, or nothing if the entry failed.
 */
static bool target_of_kick(struct shim_thread *t)
{
	return atomic_load(&t->lp.entering) || t->lp.inside;
}

static void wait_kicked(struct shim_thread *t, unsigned int before, int tid)
{
	struct timespec start, now;

	/*
	 * A thread inside answers as soon as it runs: it never waits for a
	 * lock of the model there (kernel/translate.c). The deadline only
	 * bounds the wait for one that cannot run: stopped by a debugger, or
	 * held in the shim's handler by a fork() in progress.
	 */
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (atomic_load(&t->kicks_done) == before && target_of_kick(t) &&
	       atomic_load(&t->tid) == tid) {
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > KICK_DEADLINE_S)
			break;
	}
}

void shim_kick(struct sgx_kernel *k, void *data)
{
	struct shim_thread *target[KICK_BATCH];
	unsigned int before[KICK_BATCH];
	int tids[KICK_BATCH];
	int self = raw_gettid(), pid = raw_getpid();
	struct shim_thread *t = atomic_load(&all_threads);

	(void)k;
	(void)data;
	while (t) {
		unsigned int n = 0;

		for (; t && n < KICK_BATCH; t = t->next) {
			int tid = atomic_load(&t->tid);

			if (!tid || tid == self || !target_of_kick(t))
				continue;
			before[n] = atomic_load(&t->kicks_done);
			tids[n] = tid;
			target[n++] = t;
			shim_raw_syscall(SYS_tgkill, pid, tid, SHIM_SIG_KICK);
		}
		for (unsigned int i = 0; i < n; i++)
			wait_kicked(target[i], before[i], tids[i]);
	}
}
