// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/auxv.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "thread.h"

#define MAX_THREADS 4096
#define ALTSTACK_SIZE (256 * 1024)
#define KICK_DEADLINE_S 2

static struct shim_thread *_Atomic threads[MAX_THREADS];

/* System calls without errno: usable while FS is the enclave's. */
static long raw_syscall2(long nr, long a, long b)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return ret;
}

static long raw_syscall3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static int raw_gettid(void)
{
	return (int)raw_syscall2(SYS_gettid, 0, 0);
}

/*
 * With FSGSBASE enabled by the kernel (AT_HWCAP2 bit 1, Linux 5.9 and
 * later) the bases are written by instruction; otherwise by arch_prctl().
 * Four writes per ECALL: the system call would cost more than the rest of
 * the shim's work. Decided once, before any thread enters an enclave.
 */
#define HWCAP2_FSGSBASE_BIT (1UL << 1)
static bool have_fsgsbase;

__attribute__((constructor)) static void detect_fsgsbase(void)
{
	have_fsgsbase = getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE_BIT;
}

static uint64_t get_base(int code)
{
	uint64_t v = 0;

	raw_syscall2(SYS_arch_prctl, code, (long)&v);
	return v;
}

static void set_base(int code, uint64_t v)
{
	if (have_fsgsbase && code == ARCH_SET_FS)
		__asm__ volatile("wrfsbase %0" : : "r"(v) : "memory");
	else if (have_fsgsbase && code == ARCH_SET_GS)
		__asm__ volatile("wrgsbase %0" : : "r"(v) : "memory");
	else
		raw_syscall2(SYS_arch_prctl, code, (long)v);
}

static struct shim_thread *lookup(int tid)
{
	for (unsigned int i = 0; i < MAX_THREADS; i++) {
		struct shim_thread *t = threads[((unsigned int)tid + i) % MAX_THREADS];

		if (!t)
			return NULL;
		if (t->tid == tid)
			return t;
	}
	return NULL;
}

/*
 * Signals that arrive while enclave code runs must not be pushed onto the
 * enclave's stack: give the thread an alternate stack unless it has one.
 */
static void ensure_altstack(void)
{
	stack_t cur, ss;

	if (sigaltstack(NULL, &cur) || !(cur.ss_flags & SS_DISABLE))
		return;
	ss.ss_sp = malloc(ALTSTACK_SIZE);
	if (!ss.ss_sp)
		return;
	ss.ss_size = ALTSTACK_SIZE;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL))
		free(ss.ss_sp);
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
		}
		return t;
	}
	t = aligned_alloc(64, (sizeof(*t) + 63) & ~(size_t)63);
	if (!t)
		return NULL;
	t->tid = tid;
	t->host_fs = get_base(ARCH_GET_FS);
	t->host_gs = get_base(ARCH_GET_GS);
	sgx_lp_init(&t->lp);
	ensure_altstack();
	for (unsigned int i = 0; i < MAX_THREADS; i++) {
		struct shim_thread *expected = NULL;

		if (atomic_compare_exchange_strong(&threads[((unsigned int)tid + i) % MAX_THREADS],
						   &expected, t))
			return t;
	}
	free(t);
	return NULL;
}

struct shim_thread *shim_handler_enter(void)
{
	struct shim_thread *t = lookup(raw_gettid());

	if (t && t->lp.inside) {
		set_base(ARCH_SET_FS, t->host_fs);
		set_base(ARCH_SET_GS, t->host_gs);
	}
	return t;
}

void shim_handler_exit(struct shim_thread *t)
{
	if (t && t->lp.inside) {
		set_base(ARCH_SET_FS, t->enclave_fs);
		set_base(ARCH_SET_GS, t->enclave_gs);
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

	/* The other threads are gone; their records stay allocated, unreachable. */
	for (unsigned int i = 0; i < MAX_THREADS; i++)
		atomic_store(&threads[i], NULL);
	if (!self)
		return;
	self->tid = raw_gettid();
	threads[(unsigned int)self->tid % MAX_THREADS] = self;
}

void shim_kick(struct sgx_kernel *k, void *data)
{
	struct shim_thread *target[MAX_THREADS];
	unsigned int before[MAX_THREADS];
	unsigned int n = 0;
	int self = raw_gettid();

	(void)k;
	(void)data;
	for (unsigned int i = 0; i < MAX_THREADS; i++) {
		struct shim_thread *t = threads[i];

		if (!t || t->tid == self || !t->lp.inside)
			continue;
		before[n] = atomic_load(&t->kicks_done);
		target[n++] = t;
		raw_syscall3(SYS_tgkill, getpid(), t->tid, SHIM_SIG_KICK);
	}
	/*
	 * A thread inside answers as soon as it runs: it never waits for a
	 * lock of the model there (kernel/translate.c). The deadline only
	 * bounds the wait for one that cannot run: stopped by a debugger, or
	 * held in the shim's handler by a fork() in progress.
	 */
	for (unsigned int i = 0; i < n; i++) {
		struct timespec start, now;

		clock_gettime(CLOCK_MONOTONIC, &start);
		while (atomic_load(&target[i]->kicks_done) == before[i] && target[i]->lp.inside) {
			sched_yield();
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec > KICK_DEADLINE_S)
				break;
		}
	}
}
