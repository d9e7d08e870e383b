/* SPDX-License-Identifier: MIT */
/*
 * A user handler for __vdso_sgx_enter_enclave that records what one call
 * saw: the enclave's RDI and RSI at EEXIT, or the exception the vDSO
 * reported. A test that must act on an exception (fix a page and resume,
 * say) gives a hook, so that each program keeps only what is its own.
 */
#ifndef SOFTSGX_TESTS_VDSO_RECORD_H
#define SOFTSGX_TESTS_VDSO_RECORD_H

#include <stdint.h>
#include <string.h>

#include "softsgx/sgx_uapi.h"

struct vdso_record {
	long status, value; /* RDI and RSI at EEXIT; -1 until then */
	unsigned int exits, exceptions;
	uint16_t vector, error_code; /* of the last exception */
	uint64_t addr;
	/*
	 * In, optional: called after each exception is recorded; the handler
	 * returns what it returns (0: back to the caller; SGX_ERESUME: resume
	 * the enclave; negative: an error the vDSO returns).
	 */
	int (*on_exception)(struct vdso_record *r);
	void *ctx; /* in: for on_exception */
};

static inline int vdso_record_handler(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
				      struct sgx_enclave_run *run)
{
	struct vdso_record *r = (struct vdso_record *)(uintptr_t)run->user_data;

	(void)rdx, (void)rsp, (void)r8, (void)r9;
	if (run->function == SGX_EEXIT) {
		r->exits++;
		r->status = rdi;
		r->value = rsi;
		return 0;
	}
	r->exceptions++;
	r->vector = run->exception_vector;
	r->error_code = run->exception_error_code;
	r->addr = run->exception_addr;
	return r->on_exception ? r->on_exception(r) : 0;
}

/*
 * Reset what @r records (keeping its hook) and set up @run to enter the
 * TCS at @tcs with vdso_record_handler recording into @r.
 */
static inline void vdso_record_start(struct vdso_record *r, struct sgx_enclave_run *run,
				     uint64_t tcs)
{
	int (*on_exception)(struct vdso_record *) = r->on_exception;
	void *ctx = r->ctx;

	memset(r, 0, sizeof(*r));
	r->status = r->value = -1;
	r->on_exception = on_exception;
	r->ctx = ctx;
	memset(run, 0, sizeof(*run));
	run->tcs = tcs;
	run->user_handler = (uintptr_t)vdso_record_handler;
	run->user_data = (uintptr_t)r;
}

#endif /* SOFTSGX_TESTS_VDSO_RECORD_H */
