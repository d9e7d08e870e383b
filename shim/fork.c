// SPDX-License-Identifier: MIT
/*
 * fork() under the shim: the child gets its own copy of the platform
 * (kernel/fork.c says how). What the shim adds: no lock of the model may be
 * held by another thread when the address space is copied, or it stays
 * locked in the child forever. Every entry into the kernel model from the
 * shim holds the model lock shared (shim_model_get()); fork() takes it
 * exclusively, so the model is quiet while it is copied. The shim's thread
 * records follow: threads that were inside an enclave at the fork do not
 * exist in the child, which counts them out of their enclaves and frees
 * their TCSs (shim_threads_after_fork()), as if they had left.
 *
 * Service mode (shim/service.c) has no model here, but the same lock: its
 * entries hold it shared, so no call to the service is half done at the
 * fork, and its fork handlers run inside these (registered before them),
 * the parent's waiting, lock held, until its child shares its enclaves.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim/shim.h"
#include "shim/thread.h"

/*
 * The model lock, built from atomics rather than pthread_rwlock_t: it is
 * taken in signal handlers, nested (a fault inside an ioctl's user copy, a
 * kick inside a fault), where a pthread lock is not safe.
 *
 * Every ECALL takes it twice (the vDSO's entry and the EEXIT's handler),
 * and fork() almost never: so a reader only marks its own slot and reads
 * the frozen flag, with no locked instruction, and fork() pays for the
 * ordering with membarrier(), which runs a full barrier on every thread of
 * the process. A reader that read "not frozen" had its mark visible by
 * the time membarrier() returned, and one that reads after it sees
 * "frozen". Without membarrier() (an old kernel, a seccomp filter), and for
 * threads beyond the slots, readers count themselves in one shared counter
 * with locked instructions, as fork() then needs.
 */
#define MODEL_SLOTS 256

static _Atomic unsigned int model_readers;
static _Atomic bool model_frozen;
static _Atomic unsigned char model_slot[MODEL_SLOTS];
static _Atomic int model_slots_used;
static _Atomic bool model_barrier; /* membarrier() registered: slots may be used */
static pthread_mutex_t fork_serial = PTHREAD_MUTEX_INITIALIZER;
static __thread unsigned int held __attribute__((tls_model("initial-exec")));
/* This thread's slot + 1; 0 before its first hold, -1 for the shared counter. */
static __thread int slot __attribute__((tls_model("initial-exec")));

#define MEMBARRIER_GLOBAL		      (1 << 0)
#define MEMBARRIER_PRIVATE_EXPEDITED	      (1 << 3)
#define MEMBARRIER_REGISTER_PRIVATE_EXPEDITED (1 << 4)

static bool register_barrier(void)
{
	return !syscall(SYS_membarrier, MEMBARRIER_REGISTER_PRIVATE_EXPEDITED, 0, 0);
}

static int my_slot(void)
{
	if (!slot) {
		int i = atomic_fetch_add(&model_slots_used, 1);

		slot = atomic_load(&model_barrier) && i < MODEL_SLOTS ? i + 1 : -1;
	}
	return slot;
}

void shim_model_get(void)
{
	int s;

	/* Nested inside this thread's own hold: a fork waits for the outer one. */
	if (held++)
		return;
	s = my_slot();
	for (;;) {
		while (atomic_load(&model_frozen))
			sched_yield();
		if (s > 0 && atomic_load_explicit(&model_barrier, memory_order_relaxed)) {
			atomic_store_explicit(&model_slot[s - 1], 1, memory_order_relaxed);
			/* Mark, then look: membarrier() in fork() orders the two. */
			atomic_signal_fence(memory_order_seq_cst);
			if (!atomic_load_explicit(&model_frozen, memory_order_relaxed))
				return;
			atomic_store_explicit(&model_slot[s - 1], 0, memory_order_relaxed);
			continue;
		}
		atomic_fetch_add(&model_readers, 1);
		if (!atomic_load(&model_frozen))
			return;
		atomic_fetch_sub(&model_readers, 1);
	}
}

void shim_model_put(void)
{
	if (--held)
		return;
	/* As it was taken: a marked slot, or the counter. */
	if (slot > 0 && atomic_load_explicit(&model_slot[slot - 1], memory_order_relaxed))
		atomic_store_explicit(&model_slot[slot - 1], 0, memory_order_release);
	else
		atomic_fetch_sub(&model_readers, 1);
}

static bool model_slots_busy(void)
{
	int used = atomic_load(&model_slots_used);

	for (int i = 0; i < used && i < MODEL_SLOTS; i++)
		if (atomic_load_explicit(&model_slot[i], memory_order_acquire))
			return true;
	return false;
}

static void freeze_model(void)
{
	pthread_mutex_lock(&fork_serial);
	atomic_store(&model_frozen, true);
	/*
	 * Registered before any slot was handed out, or no slot is in use.
	 * The global barrier (an RCU grace period, slower) if the expedited
	 * one is refused after all. Refused both (a seccomp filter the
	 * program installed since): readers go back to the counter, and a
	 * mark still in flight has a millisecond to show before the wait.
	 */
	if (atomic_load(&model_barrier) &&
	    syscall(SYS_membarrier, MEMBARRIER_PRIVATE_EXPEDITED, 0, 0) &&
	    syscall(SYS_membarrier, MEMBARRIER_GLOBAL, 0, 0)) {
		struct timespec ms = {0, 1000000};

		atomic_store(&model_barrier, false);
		nanosleep(&ms, NULL);
	}
	while (atomic_load(&model_readers) || model_slots_busy())
		sched_yield();
	/* The forking thread itself still goes through the shim (close() of the pipe). */
	held++;
}

static void thaw_model(void)
{
	held--;
	atomic_store(&model_frozen, false);
	pthread_mutex_unlock(&fork_serial);
}

static void prepare(void)
{
	struct sgx_kernel *k = shim_kernel_if_up();

	freeze_model();
	shim_threads_before_fork();
	if (k)
		sgx_fork_prepare(k);
}

static void in_parent(void)
{
	struct sgx_kernel *k = shim_kernel_if_up();

	if (k)
		sgx_fork_parent(k);
	thaw_model();
}

static void in_child(void)
{
	struct sgx_kernel *k = shim_kernel_if_up();
	int ret;

	/*
	 * Unlocked: this is the only thread. The parent's readers were out,
	 * but one waiting for the thaw may have marked its slot and unmarked
	 * it again while the address space was being copied: the copy can
	 * hold such a mark, and the counter such a count. membarrier()'s
	 * registration belongs to the address space: this one's is asked for
	 * again, and the slots handed out afresh.
	 */
	atomic_store(&model_barrier, register_barrier());
	for (unsigned int i = 0; i < MODEL_SLOTS; i++)
		atomic_store_explicit(&model_slot[i], 0, memory_order_relaxed);
	atomic_store(&model_slots_used, 0);
	slot = 0;
	atomic_store(&model_readers, 0);
	atomic_store(&model_frozen, false);
	pthread_mutex_init(&fork_serial, NULL);
	held = 0;
	if (!k) {
		/*
		 * No model here (service mode, or none booted yet): the other
		 * threads' records are free all the same, and one that was
		 * inside an enclave is not inside in the child.
		 */
		shim_threads_after_fork();
		return;
	}
	ret = sgx_fork_child(k);
	if (ret) {
		/* A child sharing the parent's EPC would corrupt it: stop here. */
		fprintf(stderr, "softsgx: fork: cannot copy the platform: %s\n", strerror(-ret));
		_exit(127);
	}
	shim_threads_after_fork();
}

static void register_handlers(void)
{
	/* A thread that took its slot before this uses the shared counter. */
	atomic_store(&model_barrier, register_barrier());
	pthread_atfork(prepare, in_parent, in_child);
}

/* Once: a second registration would take the lock twice at a fork. */
void shim_fork_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_handlers);
}
