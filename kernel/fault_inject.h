/* SPDX-License-Identifier: MIT */
/*
 * Fault injection for the kernel model: named points where a test can make
 * the model's next call fail as the host would (out of memory, a full
 * backing store, an exhausted EPC), to check that every failure returns the
 * errno Linux returns and leaves nothing behind.
 *
 * A point counts its calls only while armed. Armed with sgx_fi_fail_nth(),
 * exactly call N fails; with sgx_fi_fail_after(), every call after the Nth
 * fails. Disarmed, a check is one load of a global and a branch that is
 * always predicted right. State is process-wide and atomic; tests that
 * count calls run without ksgxd so that the count is deterministic.
 *
 * Not part of the public API: tests reach it through this header.
 */
#ifndef SOFTSGX_FAULT_INJECT_H
#define SOFTSGX_FAULT_INJECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

enum sgx_fi_point {
	/* malloc/calloc/aligned_alloc in kernel/, and creating a backing memfd: -ENOMEM. */
	SGX_FI_HOST_ALLOC,
	/*
	 * Backing store I/O: reserving an evicted page's space (the reclaimer,
	 * before EBLOCK) fails with -ENOSPC; reading it back (ELDU) with -ENOMEM.
	 */
	SGX_FI_BACKING,
	/* sgx_alloc_epc_page() finds no free EPC page on its first look. */
	SGX_FI_EPC_ALLOC,
	SGX_FI_NR,
};

/* Bit i set: point i is armed. The only thing a disarmed check reads. */
extern _Atomic unsigned int sgx_fi_armed;

bool __sgx_fi_should_fail(enum sgx_fi_point point);

static inline bool sgx_fi_should_fail(enum sgx_fi_point point)
{
	if (__builtin_expect(!atomic_load_explicit(&sgx_fi_armed, memory_order_relaxed), 1))
		return false;
	return __sgx_fi_should_fail(point);
}

/* Fail exactly the @n-th call (1-based) from now on. */
void sgx_fi_fail_nth(enum sgx_fi_point point, uint64_t n);
/* Let @n calls succeed, then fail every call. */
void sgx_fi_fail_after(enum sgx_fi_point point, uint64_t n);
void sgx_fi_disarm(enum sgx_fi_point point);
void sgx_fi_disarm_all(void);
/* Calls seen and calls failed since the point was last armed. */
uint64_t sgx_fi_calls(enum sgx_fi_point point);
uint64_t sgx_fi_failures(enum sgx_fi_point point);

/* Host allocations of the kernel model: NULL when the point says so. */
static inline void *sgx_kmalloc(size_t size)
{
	return sgx_fi_should_fail(SGX_FI_HOST_ALLOC) ? NULL : malloc(size);
}

static inline void *sgx_kcalloc(size_t n, size_t size)
{
	return sgx_fi_should_fail(SGX_FI_HOST_ALLOC) ? NULL : calloc(n, size);
}

static inline void *sgx_kaligned_alloc(size_t align, size_t size)
{
	return sgx_fi_should_fail(SGX_FI_HOST_ALLOC) ? NULL : aligned_alloc(align, size);
}

#endif /* SOFTSGX_FAULT_INJECT_H */
