// SPDX-License-Identifier: MIT
/*
 * Extended state (x87, SSE, AVX, AVX-512, AMX...) between a signal frame and
 * the register file of the CPU model (struct sgx_cpu_regs).
 *
 * Linux saves the interrupted thread's extended state into the signal frame:
 * uc_mcontext.fpregs points at a standard-format XSAVE image when the kernel
 * uses XSAVE. Its legacy region's software-reserved bytes (offset 464,
 * struct _fpx_sw_bytes in the uAPI) say so: magic1 0x46505853, the
 * extended size, the features present (xfeatures) and the XSAVE image size
 * (xstate_size), followed by magic2 0x46505845 at fpregs + xstate_size.
 * Without them the frame holds only the 512-byte FXSAVE image. Whatever the
 * model leaves in the register file goes back into the frame, so that
 * sigreturn loads it: an AEX puts the enclave's XFRM components in their init
 * configuration, ERESUME gives the enclave back its vector registers.
 * docs/xsave.md has the whole model.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <signal.h> /* FP_XSTATE_MAGIC1/2, from the kernel uAPI sigcontext */
#include <ucontext.h>

#include "hw/enclu.h"
#include "shim/shim.h"

#define SW_BYTES_OFFSET	 464 /* struct _fpx_sw_bytes in the legacy region */
#define XSAVE_MIN	 (SGX_XSAVE_LEGACY_SIZE + SGX_XSAVE_HEADER_SIZE)
#define LEGACY_XFEATURES 0x3ULL

struct sw_bytes {
	uint32_t magic1;
	uint32_t extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

_Static_assert(sizeof(struct sw_bytes) == SGX_XSAVE_LEGACY_SIZE - SW_BYTES_OFFSET,
	       "_fpx_sw_bytes fills the end of the legacy region");

/* The XSAVE description of @fp, or false for an FXSAVE-only frame. */
static bool frame_xsave(const uint8_t *fp, struct sw_bytes *sw)
{
	uint32_t magic2;

	memcpy(sw, fp + SW_BYTES_OFFSET, sizeof(*sw));
	if (sw->magic1 != FP_XSTATE_MAGIC1 || sw->xstate_size < XSAVE_MIN ||
	    sw->extended_size < sw->xstate_size + sizeof(magic2))
		return false;
	memcpy(&magic2, fp + sw->xstate_size, sizeof(magic2));
	return magic2 == FP_XSTATE_MAGIC2;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

void shim_xstate_from_uc(struct sgx_cpu_regs *regs, const ucontext_t *uc)
{
	const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
	struct sw_bytes sw;
	uint64_t bv = LEGACY_XFEATURES;

	memset(regs->xsave + SGX_XSAVE_HEADER_OFFSET, 0, SGX_XSAVE_HEADER_SIZE);
	regs->xsave_len = XSAVE_MIN;
	if (!fp)
		goto header;
	if (!frame_xsave(fp, &sw)) {
		memcpy(regs->xsave, fp, SGX_XSAVE_LEGACY_SIZE);
		goto header;
	}
	/* The frame is the kernel's standard-format XSAVE image; its header is XSAVE's. */
	regs->xsave_len = min_u32(sw.xstate_size, SGX_XSAVE_AREA_SIZE);
	memcpy(regs->xsave, fp, regs->xsave_len);
	memcpy(&bv, fp + SGX_XSAVE_HEADER_OFFSET, sizeof(bv));
	bv &= sw.xfeatures;
	/* XCOMP_BV and the reserved header bytes: what XSAVE writes, zeros. */
	memset(regs->xsave + SGX_XSAVE_HEADER_OFFSET, 0, SGX_XSAVE_HEADER_SIZE);
header:
	memcpy(regs->xsave + SGX_XSAVE_HEADER_OFFSET, &bv, sizeof(bv));
}

void shim_xstate_to_uc(ucontext_t *uc, const struct sgx_cpu_regs *regs)
{
	uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;
	struct sw_bytes sw;
	uint64_t bv, frame_bv;
	uint32_t n;

	if (!fp)
		return;
	/* x87 and SSE; the software-reserved bytes stay the kernel's. */
	memcpy(fp, regs->xsave, SW_BYTES_OFFSET);
	if (!frame_xsave(fp, &sw))
		return;
	/*
	 * XSTATE_BV for the components the frame has: sigreturn's XRSTOR
	 * loads those whose bit is clear in their init configuration.
	 */
	memcpy(&bv, regs->xsave + SGX_XSAVE_HEADER_OFFSET, sizeof(bv));
	memcpy(&frame_bv, fp + SGX_XSAVE_HEADER_OFFSET, sizeof(frame_bv));
	frame_bv = (frame_bv & ~sw.xfeatures) | (bv & sw.xfeatures);
	memcpy(fp + SGX_XSAVE_HEADER_OFFSET, &frame_bv, sizeof(frame_bv));
	n = min_u32(sw.xstate_size, SGX_XSAVE_AREA_SIZE);
	if (n > XSAVE_MIN)
		memcpy(fp + XSAVE_MIN, regs->xsave + XSAVE_MIN, n - XSAVE_MIN);
}

bool shim_xfrm_overrun_risk(uint64_t xfrm, uint64_t host_xcr0)
{
	/*
	 * XFRM 3 is the SDK's FXSAVE path (trts: XSAVE only when XFRM is not
	 * legacy). Above it, a runtime sizes its XSAVE buffers for XFRM but
	 * its XSAVE with mask ~0 writes every component of XCR0.
	 */
	return xfrm != LEGACY_XFEATURES && (host_xcr0 & ~xfrm);
}

void shim_xstate_check_xfrm(uint64_t xfrm, uint64_t host_xcr0)
{
	static atomic_bool warned;

	if (!shim_xfrm_overrun_risk(xfrm, host_xcr0) || atomic_exchange(&warned, true))
		return;
	fprintf(stderr,
		"softsgx: enclave XFRM %#llx is narrower than this CPU's XCR0 %#llx: enclave code "
		"runs under XCR0, so an XSAVE with a full mask writes more than XFRM's area "
		"(docs/xsave.md)\n",
		(unsigned long long)xfrm, (unsigned long long)host_xcr0);
}
