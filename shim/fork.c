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
#include <unistd.h>

#include "shim/shim.h"
#include "shim/thread.h"

/*
 * The model lock, built from atomics rather than pthread_rwlock_t: it is
 * taken in signal handlers, nested (a fault inside an ioctl's user copy, a
 * kick inside a fault), where a pthread lock is not safe.
 */
static _Atomic unsigned int model_readers;
static _Atomic bool model_frozen;
static pthread_mutex_t fork_serial = PTHREAD_MUTEX_INITIALIZER;
static __thread unsigned int held __attribute__((tls_model("initial-exec")));

void shim_model_get(void)
{
	/* Nested inside this thread's own hold: a fork waits for the outer one. */
	if (held++)
		return;
	for (;;) {
		while (atomic_load(&model_frozen))
			sched_yield();
		atomic_fetch_add(&model_readers, 1);
		if (!atomic_load(&model_frozen))
			return;
		atomic_fetch_sub(&model_readers, 1);
	}
}

void shim_model_put(void)
{
	if (!--held)
		atomic_fetch_sub(&model_readers, 1);
}

static void freeze_model(void)
{
	pthread_mutex_lock(&fork_serial);
	atomic_store(&model_frozen, true);
	while (atomic_load(&model_readers))
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

	/* Unlocked: this is the only thread. */
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
	pthread_atfork(prepare, in_parent, in_child);
}

/* Once: a second registration would take the lock twice at a fork. */
void shim_fork_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_handlers);
}
