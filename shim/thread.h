/* SPDX-License-Identifier: MIT */
/*
 * Per-thread logical-processor state. Inside an enclave, FS and GS hold the
 * enclave's bases, so a signal handler cannot touch thread-local storage
 * (errno, glibc internals) until it has put the host's FS back: records are
 * found by thread ID through raw system calls, never through TLS.
 */
#ifndef SOFTSGX_SHIM_THREAD_H
#define SOFTSGX_SHIM_THREAD_H

#include <stdbool.h>
#include <stdint.h>

#include <signal.h>
#include <stdatomic.h>

#include "enclu.h"
#include "sgx.h"

struct shim_thread {
	int tid;
	uint64_t host_fs, host_gs; /* glibc's thread pointer; GS as it was */
	uint64_t enclave_fs, enclave_gs;
	struct sgx_lp lp;
	_Atomic unsigned int kicks_done; /* AEXs forced by shim_kick() */
	uint64_t trace_entered_ns;	 /* traced: when the thread last entered its enclave */
	struct sgx_cpu_regs regs; /* scratch for the leaves: too big for the altstack */
};

/* The calling thread's record, created on first use (host FS must be live). */
struct shim_thread *shim_thread_self(void);

/*
 * First thing in every shim signal handler: the record of this thread if it
 * has one, with the host FS/GS restored when the thread was inside an enclave.
 */
struct shim_thread *shim_handler_enter(void);
/* Last thing: the enclave's FS/GS again if the thread is (still) inside. */
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

#endif /* SOFTSGX_SHIM_THREAD_H */
