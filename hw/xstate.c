// SPDX-License-Identifier: MIT
/*
 * The XSAVE features the model's CPU offers to enclaves: those of the host.
 *
 * On hardware EENTER loads XCR0 from SECS.ATTRIBUTES.XFRM. Enclave code here
 * runs natively under the host's XCR0, which user space cannot change, so
 * the model offers exactly the host's XCR0 in CPUID.(12H,1):ECX:EDX, lays
 * out the SSA's XSAVE region with the host's CPUID leaf 0xD offsets, and
 * sizes SSA frames with them (docs/xsave.md).
 */
#include <cpuid.h>
#include <string.h>

#include "hw/enclu.h"
#include "hw/hw_internal.h"

/* CPUID.1:ECX.OSXSAVE: the OS enabled XSAVE, XGETBV may run. */
#define CPUID1_ECX_OSXSAVE (1u << 27)
/* CPUID.(0DH,i):ECX bit 0: component i is supervisor state (IA32_XSS). */
#define CPUID_D_ECX_SUPERVISOR 0x1u

#define XFEATURE_X87	0x1ULL
#define XFEATURE_SSE	0x2ULL
#define XFEATURE_AVX	0x4ULL
#define XFEATURE_MPX	0x18ULL	   /* BNDREGS, BNDCSR */
#define XFEATURE_AVX512 0xE0ULL	   /* opmask, ZMM_Hi256, Hi16_ZMM */
#define XFEATURE_AMX	0x60000ULL /* XTILECFG, XTILEDATA */
#define XFEATURE_LEGACY (XFEATURE_X87 | XFEATURE_SSE)

/* The legacy region and the XSAVE header: the smallest XSAVE image. */
#define XSAVE_MIN_SIZE (SGX_XSAVE_LEGACY_SIZE + SGX_XSAVE_HEADER_SIZE)

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

/* Components that must come and go together (SDM Vol. 1, "XSETBV" #GP rules). */
static uint64_t drop_partial_groups(uint64_t m)
{
	static const uint64_t groups[] = {XFEATURE_MPX, XFEATURE_AVX512, XFEATURE_AMX};

	for (unsigned int i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if ((m & groups[i]) != groups[i])
			m &= ~groups[i];
	if (!(m & XFEATURE_AVX))
		m &= ~XFEATURE_AVX512;
	return m;
}

void hw_xstate_probe(struct hw_xstate *x)
{
	unsigned int a, b, c, d;

	memset(x, 0, sizeof(*x));
	x->xcr0 = XFEATURE_LEGACY;
	x->supported = XFEATURE_LEGACY;
	/* Without OSXSAVE an enclave may only have XFRM = 3 (FXSAVE state). */
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & CPUID1_ECX_OSXSAVE))
		return;
	x->xcr0 = xgetbv0();
	__cpuid_count(0xD, 1, a, b, c, d);
	x->xsaveopt = a & 1;
	for (unsigned int i = 2; i < HW_XSTATE_MAX; i++) {
		if (!(x->xcr0 & (1ULL << i)))
			continue;
		__cpuid_count(0xD, i, a, b, c, d);
		if (!a || (c & CPUID_D_ECX_SUPERVISOR))
			continue;
		x->size[i] = a;
		x->offset[i] = b;
		/* The model carries the image in struct sgx_cpu_regs. */
		if ((uint64_t)a + b <= SGX_XSAVE_AREA_SIZE)
			x->supported |= 1ULL << i;
	}
	x->supported = drop_partial_groups(x->supported);
}

bool hw_xfrm_acceptable(const struct hw_xstate *x, uint64_t xfrm)
{
	/* "Check lower 2 bits of XFRM are set" */
	if ((xfrm & XFEATURE_LEGACY) != XFEATURE_LEGACY)
		return false;
	if (xfrm & ~x->supported)
		return false;
	/* "XFRM is illegal": what XSETBV would refuse to put in XCR0. */
	return drop_partial_groups(xfrm) == xfrm;
}

uint32_t hw_xsave_size(const struct hw_xstate *x, uint64_t xfrm)
{
	uint32_t size = XSAVE_MIN_SIZE;
	uint64_t comps = xfrm & ~3ULL; /* HW_XSTATE_MAX is 64: every bit a component */

	/* Only the components XFRM has: every EENTER, ERESUME and AEX asks. */
	for (; comps; comps &= comps - 1) {
		unsigned int i = (unsigned int)__builtin_ctzll(comps);

		if (x->offset[i] + x->size[i] > size)
			size = x->offset[i] + x->size[i];
	}
	return size;
}

uint64_t hw_xfrm_supported(const struct sgx_hw *hw)
{
	return hw->xstate.supported;
}

uint64_t hw_host_xcr0(const struct sgx_hw *hw)
{
	return hw->xstate.xcr0;
}

bool hw_host_xsaveopt(const struct sgx_hw *hw)
{
	return hw->xstate.xsaveopt;
}

uint32_t hw_xfrm_xsave_size(const struct sgx_hw *hw, uint64_t xfrm)
{
	return hw_xsave_size(&hw->xstate, xfrm);
}
