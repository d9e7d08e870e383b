// SPDX-License-Identifier: MIT
#include "kernel/fault_inject.h"

struct sgx_fi_state {
	_Atomic uint64_t calls;
	_Atomic uint64_t failures;
	uint64_t n;
	bool after; /* fail every call past n, not only call n */
};

_Atomic unsigned int sgx_fi_armed;
static struct sgx_fi_state fi[SGX_FI_NR];

bool __sgx_fi_should_fail(enum sgx_fi_point point)
{
	struct sgx_fi_state *s = &fi[point];
	uint64_t call;

	if (!(atomic_load(&sgx_fi_armed) & (1u << point)))
		return false;
	call = atomic_fetch_add(&s->calls, 1) + 1;
	if (s->after ? call <= s->n : call != s->n)
		return false;
	atomic_fetch_add(&s->failures, 1);
	return true;
}

static void arm(enum sgx_fi_point point, uint64_t n, bool after)
{
	sgx_fi_disarm(point);
	atomic_store(&fi[point].calls, 0);
	atomic_store(&fi[point].failures, 0);
	fi[point].n = n;
	fi[point].after = after;
	atomic_fetch_or(&sgx_fi_armed, 1u << point);
}

void sgx_fi_fail_nth(enum sgx_fi_point point, uint64_t n)
{
	arm(point, n, false);
}

void sgx_fi_fail_after(enum sgx_fi_point point, uint64_t n)
{
	arm(point, n, true);
}

void sgx_fi_disarm(enum sgx_fi_point point)
{
	atomic_fetch_and(&sgx_fi_armed, ~(1u << point));
}

void sgx_fi_disarm_all(void)
{
	atomic_store(&sgx_fi_armed, 0);
}

uint64_t sgx_fi_calls(enum sgx_fi_point point)
{
	return atomic_load(&fi[point].calls);
}

uint64_t sgx_fi_failures(enum sgx_fi_point point)
{
	return atomic_load(&fi[point].failures);
}
