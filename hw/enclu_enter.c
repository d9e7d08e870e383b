// SPDX-License-Identifier: MIT
/*
 * Entering and leaving an enclave: ENCLU[EENTER], ENCLU[ERESUME],
 * ENCLU[EEXIT] and the asynchronous enclave exit (SDM Vol. 3D, the leaf
 * descriptions and "Enclave Exiting Events"), plus ENCLU itself.
 *
 * As on the processor, EENTER and ERESUME check the SSA frame and cache where
 * it lives (the SDM's CR_GPR_PA and CR_XSAVE_PAGE_n, here in the sgx_lp), so
 * that an AEX never has to translate or fault: a thread inside keeps the
 * enclave's tracking epoch open, which keeps those pages from being evicted.
 * The TCS-busy flag, the count of threads inside and the ETRACK epoch are
 * hw_enclave_enter() and hw_enclave_leave().
 */
#include <string.h>

#include "hw/enclu_internal.h"

#define GPR_SIZE	sizeof(struct sgx_ssa_gpr)
#define XSAVE_XSTATE_BV SGX_XSAVE_HEADER_OFFSET
/* Header bytes 8..23 (XCOMP_BV and the next reserved quadword). */
#define XSAVE_HEADER_RSVD      (SGX_XSAVE_HEADER_OFFSET + 8)
#define XSAVE_HEADER_RSVD_SIZE 16
/* MXCSR bits that XRSTOR refuses (MXCSR_MASK of this model's CPU is 0xFFFF). */
#define MXCSR_RESERVED 0xFFFF0000u

/* Flags ERESUME takes from the SSA frame. */
#define RESUME_FLAGS                                                                               \
	(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | X86_EFLAGS_SF |           \
	 X86_EFLAGS_DF | X86_EFLAGS_OF | X86_EFLAGS_NT | X86_EFLAGS_AC | X86_EFLAGS_ID |           \
	 X86_EFLAGS_RF)
/* Flags the AEX synthetic state clears. */
#define AEX_CLEAR_FLAGS                                                                            \
	(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | X86_EFLAGS_SF |           \
	 X86_EFLAGS_OF | X86_EFLAGS_RF)

/* Synthetic x87/SSE values for an AEX on #MF or #XM (SDM Table "Synthetic State"). */
#define FCW_ON_MF   0x037E
#define FSW_ON_MF   0x8081
#define MXCSR_ON_XM 0x1F01

/* EXITINFO.EXIT_TYPE */
#define EXIT_TYPE_HW_EXCEPTION 3
#define EXIT_TYPE_SW_EXCEPTION 6

_Static_assert(SGX_XSAVE_HEADER_OFFSET + SGX_XSAVE_HEADER_SIZE <= SGX_PAGE_SIZE,
	       "the legacy region and the XSAVE header are in the SSA frame's first page");

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

/*
 * The SSA frame's XSAVE region is linear memory over several EPC pages that
 * need not be contiguous in the EPC: copy [@off, @off + @len) of it.
 */
static void region_write(uint8_t *const *pages, uint32_t off, const uint8_t *src, uint32_t len)
{
	while (len) {
		uint32_t in = off % SGX_PAGE_SIZE, n = SGX_PAGE_SIZE - in;

		if (n > len)
			n = len;
		memcpy(pages[off / SGX_PAGE_SIZE] + in, src, n);
		off += n;
		src += n;
		len -= n;
	}
}

static void region_read(uint8_t *dst, uint8_t *const *pages, uint32_t off, uint32_t len)
{
	while (len) {
		uint32_t in = off % SGX_PAGE_SIZE, n = SGX_PAGE_SIZE - in;

		if (n > len)
			n = len;
		memcpy(dst, pages[off / SGX_PAGE_SIZE] + in, n);
		off += n;
		dst += n;
		len -= n;
	}
}

/* Component @i (2 and up) of @xfrm, with its place in a standard-format image. */
static bool component(const struct hw_xstate *x, uint64_t xfrm, unsigned int i, uint32_t *off,
		      uint32_t *size)
{
	if (!(xfrm & (1ULL << i)) || !x->size[i] ||
	    x->offset[i] + x->size[i] > SGX_XSAVE_AREA_SIZE)
		return false;
	*off = x->offset[i];
	*size = x->size[i];
	return true;
}

/*
 * Put the components in @mask of the XSAVE image @buf in their init
 * configuration (SDM Vol. 1, "XSAVE-Supported Features and State-Component
 * Bitmaps": every component but x87 initializes to zeros; MXCSR is separate).
 */
static void xsave_init_components(const struct hw_xstate *x, uint8_t *buf, uint64_t mask)
{
	uint32_t off, size;

	if (mask & 0x1) {
		/* FCW, FSW, FTW, FOP, FIP, FDP and ST0-ST7; MXCSR (bytes 24-31) is SSE. */
		memset(buf, 0, SGX_XSAVE_MXCSR);
		put16(buf + SGX_XSAVE_FCW, SGX_FCW_INIT);
		memset(buf + SGX_XSAVE_ST0, 0, SGX_XSAVE_XMM0 - SGX_XSAVE_ST0);
	}
	if (mask & 0x2)
		memset(buf + SGX_XSAVE_XMM0, 0, SGX_XSAVE_XMM_END - SGX_XSAVE_XMM0);
	for (unsigned int i = 2; i < HW_XSTATE_MAX; i++)
		if (component(x, mask, i, &off, &size))
			memset(buf + off, 0, size);
}

/*
 * XSAVE with RFBM = XFRM of @regs into the SSA frame's XSAVE region (the
 * AEX). A component in its init configuration (XSTATE_BV bit clear) is only
 * marked so, as XSAVE's init optimization may do.
 */
static void xsave_to_ssa(const struct hw_xstate *x, uint8_t *const *pages,
			 const struct sgx_cpu_regs *regs, uint64_t xfrm)
{
	uint64_t regs_bv = get64(regs->xsave + XSAVE_XSTATE_BV);
	uint64_t bv = get64(pages[0] + XSAVE_XSTATE_BV);
	uint32_t off, size;

	/* XFRM always holds x87 and SSE: the whole x87/SSE part of the legacy region. */
	memcpy(pages[0], regs->xsave, SGX_XSAVE_XMM_END);
	bv = (bv & ~xfrm) | (regs_bv & xfrm);
	put64(pages[0] + XSAVE_XSTATE_BV, bv);
	/* "Clear bytes 8 to 23 of XSAVE_HEADER". */
	memset(pages[0] + XSAVE_HEADER_RSVD, 0, XSAVE_HEADER_RSVD_SIZE);
	for (unsigned int i = 2; i < HW_XSTATE_MAX; i++)
		if ((regs_bv & (1ULL << i)) && component(x, xfrm, i, &off, &size))
			region_write(pages, off, regs->xsave + off, size);
}

/* Would XRSTOR with RFBM = XFRM accept the SSA frame's XSAVE region? */
static bool xrstor_ok(const uint8_t *ssa, uint64_t xfrm)
{
	static const uint8_t zero[XSAVE_HEADER_RSVD_SIZE];

	if (get64(ssa + XSAVE_XSTATE_BV) & ~xfrm)
		return false;
	if (memcmp(ssa + XSAVE_HEADER_RSVD, zero, sizeof(zero)))
		return false;
	return !(get32(ssa + SGX_XSAVE_MXCSR) & MXCSR_RESERVED);
}

/* XRSTOR with RFBM = XFRM from the SSA frame into @regs; other components stay. */
static void xrstor_from_ssa(const struct hw_xstate *x, struct sgx_cpu_regs *regs,
			    uint8_t *const *pages, uint64_t xfrm)
{
	uint64_t ssa_bv = get64(pages[0] + XSAVE_XSTATE_BV);
	uint64_t bv = get64(regs->xsave + XSAVE_XSTATE_BV);
	uint32_t off, size;

	memcpy(regs->xsave, pages[0], SGX_XSAVE_XMM_END);
	for (unsigned int i = 2; i < HW_XSTATE_MAX; i++)
		if ((ssa_bv & (1ULL << i)) && component(x, xfrm, i, &off, &size))
			region_read(regs->xsave + off, pages, off, size);
	/* A component whose XSTATE_BV bit is clear is loaded in its init configuration. */
	xsave_init_components(x, regs->xsave, xfrm & ~ssa_bv);
	put64(regs->xsave + XSAVE_XSTATE_BV, (bv & ~xfrm) | ssa_bv);
	if (regs->xsave_len < hw_xsave_size(x, xfrm))
		regs->xsave_len = hw_xsave_size(x, xfrm);
}

/* The extended part of the AEX synthetic state. */
static void xsave_synthetic(const struct hw_xstate *x, struct sgx_cpu_regs *regs, uint64_t xfrm,
			    unsigned int vector)
{
	uint64_t bv = get64(regs->xsave + XSAVE_XSTATE_BV) & ~xfrm;

	xsave_init_components(x, regs->xsave, xfrm);
	put32(regs->xsave + SGX_XSAVE_MXCSR, vector == X86_TRAP_XM ? MXCSR_ON_XM : SGX_MXCSR_INIT);
	if (vector == X86_TRAP_MF) {
		put16(regs->xsave + SGX_XSAVE_FCW, FCW_ON_MF);
		put16(regs->xsave + SGX_XSAVE_FSW, FSW_ON_MF);
		bv |= 0x1; /* x87 is not in its init configuration */
	}
	put64(regs->xsave + XSAVE_XSTATE_BV, bv);
	if (regs->xsave_len < hw_xsave_size(x, xfrm))
		regs->xsave_len = hw_xsave_size(x, xfrm);
}

/* What EENTER and ERESUME find out before they commit. */
struct entry {
	struct epc_ref tcs;
	struct sgx_tcs *t;
	struct sgx_secs *s;
	uint64_t secs_pfn;
	uint64_t fsbase, gsbase;
	uint8_t *xsave[SGX_XSAVE_MAX_PAGES]; /* pages of the SSA frame's XSAVE region */
	struct sgx_ssa_gpr *gpr; /* GPR area of the SSA frame */
};

/*
 * The checks of the SSA frame @frame (SDM EENTER/ERESUME: "Check for
 * mis-configured SSA"), with the TCS held busy.
 */
static int ssa_frame_checks(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
			    struct entry *en, uint32_t frame)
{
	const int rw = HW_MMU_READ | HW_MMU_WRITE;
	const uint8_t perms = SGX_SECINFO_R | SGX_SECINFO_W;
	uint64_t frame_bytes, off, ssa, gpr_la, gpr_page;
	uint32_t xsize = hw_xsave_size(&hw->xstate, en->s->xfrm);
	struct epc_ref ref;
	int ret;

	frame_bytes = (uint64_t)en->s->ssa_frame_size * SGX_PAGE_SIZE;
	if (__builtin_mul_overflow(frame_bytes, (uint64_t)frame, &off) ||
	    __builtin_add_overflow(off, en->t->ssa_offset, &off) ||
	    __builtin_add_overflow(off, en->s->base, &ssa) ||
	    __builtin_add_overflow(ssa, frame_bytes - GPR_SIZE, &gpr_la) || !enclu_canonical(ssa) ||
	    !enclu_canonical(gpr_la))
		return enclu_gp(lp);

	/*
	 * The XSAVE region, compute_XSAVE_frame_size(XFRM) bytes from the frame
	 * base: each of its pages (the SDM's CR_XSAVE_PAGE_n). ECREATE made
	 * the frame big enough; XFRM only has components that fit the model.
	 */
	memset(en->xsave, 0, sizeof(en->xsave));
	for (uint32_t p = 0; p * SGX_PAGE_SIZE < xsize && p < SGX_XSAVE_MAX_PAGES; p++) {
		ret = enclu_enclave_page(hw, lp, mmu, ssa + p * SGX_PAGE_SIZE, rw,
					 SGX_PAGE_TYPE_REG, en->secs_pfn, perms, &ref);
		if (ret)
			return ret;
		en->xsave[p] = ref.page;
	}

	/*
	 * The GPR area is at the end of the frame: in its last XSAVE page
	 * when the frame is one page (or the XSAVE region reaches its last
	 * page), which was checked just now, the same page with the same
	 * access and the same EPCM conditions.
	 */
	gpr_page = (gpr_la - ssa) >> SGX_PAGE_SHIFT;
	if (gpr_page * SGX_PAGE_SIZE < xsize && gpr_page < SGX_XSAVE_MAX_PAGES) {
		en->gpr = (struct sgx_ssa_gpr *)(en->xsave[gpr_page] +
						 (gpr_la & (SGX_PAGE_SIZE - 1)));
		return SGX_SUCCESS;
	}
	ret = enclu_enclave_page(hw, lp, mmu, gpr_la, rw, SGX_PAGE_TYPE_REG, en->secs_pfn, perms,
				 &ref);
	if (ret)
		return ret;
	en->gpr = (struct sgx_ssa_gpr *)(ref.page + (gpr_la & (SGX_PAGE_SIZE - 1)));
	return SGX_SUCCESS;
}

/* With the TCS held busy: everything EENTER/ERESUME check after the TCS itself. */
static int entry_checks_busy(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
			     bool resume, const struct epc_ref *secs, struct entry *en)
{
	uint32_t frame;

	en->secs_pfn = secs->pfn;
	en->s = (struct sgx_secs *)secs->page;
	en->t = (struct sgx_tcs *)en->tcs.page;

	en->fsbase = en->s->base + en->t->fs_offset;
	en->gsbase = en->s->base + en->t->gs_offset;
	if (!enclu_canonical(en->fsbase) || !enclu_canonical(en->gsbase))
		return enclu_gp(lp);
	if (en->t->flags & SGX_TCS_RESERVED_MASK)
		return enclu_gp(lp);
	/* The model's processor always runs in 64-bit mode. */
	if (!(en->s->attributes & SGX_ATTR_MODE64BIT))
		return enclu_gp(lp);

	if (resume) {
		if (en->t->ssa_index == 0)
			return enclu_gp(lp);
		frame = en->t->ssa_index - 1;
	} else {
		if (en->t->ssa_index >= en->t->nr_ssa_frames)
			return enclu_gp(lp);
		frame = en->t->ssa_index;
	}
	return ssa_frame_checks(hw, lp, mmu, en, frame);
}

/*
 * Find the TCS and hold its EPCM entry shared, which keeps EBLOCK and EWB
 * off it (they wait for, or fault on, the holder). The check before the
 * lock is a model artefact, not the processor's: EBLOCK or EWB may come
 * between it and the lock, and the TCS is then checked again, walk
 * included, so a TCS the kernel took away meanwhile gets the not-present
 * #PF (enclu_enclave_page()) it gets on hardware, not a #GP. A leaf that
 * holds the TCS alone for another reason still makes this one #GP.
 */
static int tcs_hold(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		    uint64_t tcs_la, struct epc_ref *tcs)
{
	for (int tries = 0; tries < 2; tries++) {
		int ret = enclu_enclave_page(hw, lp, mmu, tcs_la, HW_MMU_READ, SGX_PAGE_TYPE_TCS,
					     ENCLU_ANY_SECS, 0, tcs);

		if (ret)
			return ret;
		if (!epcm_trylock_shared(tcs->e))
			continue;
		if (enclu_epcm_usable(tcs->e, tcs_la, SGX_PAGE_TYPE_TCS, ENCLU_ANY_SECS, 0))
			return SGX_SUCCESS;
		epcm_unlock_shared(tcs->e);
	}
	return enclu_gp(lp);
}

/*
 * The first half of EENTER and ERESUME. On success the TCS is busy (counted
 * by hw_enclave_enter()) and its EPCM entry held shared until entry_done().
 */
static int entry_checks(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
			const struct sgx_cpu_regs *regs, bool resume, struct entry *en)
{
	struct epc_ref secs;
	int ret;

	/* ENCLU: EENTER and ERESUME are not allowed in enclave mode. */
	if (lp->inside)
		return enclu_gp(lp);
	if ((regs->rbx & (SGX_PAGE_SIZE - 1)) || !enclu_canonical(regs->rcx))
		return enclu_gp(lp);
	ret = tcs_hold(hw, lp, mmu, regs->rbx, &en->tcs);
	if (ret)
		return ret;
	/*
	 * TCS busy, or the enclave not initialized. The TCS was found and
	 * checked just now, and is held: only its SECS is left to find.
	 */
	if (!epc_resolve_pfn(hw, en->tcs.e->secs_pfn, &secs) ||
	    hw_enclave_enter_resolved(hw, en->tcs.e, &secs)) {
		epcm_unlock_shared(en->tcs.e);
		return enclu_gp(lp);
	}
	ret = entry_checks_busy(hw, lp, mmu, resume, &secs, en);
	if (ret) {
		hw_enclave_leave(hw, en->tcs.page);
		epcm_unlock_shared(en->tcs.e);
	}
	return ret;
}

/* The part of the commit that EENTER and ERESUME share. */
static void entry_done(struct sgx_lp *lp, struct sgx_cpu_regs *regs, struct entry *en,
		       uint64_t tcs_la, uint64_t aep)
{
	/* EENTER and ERESUME store the AEP into the TCS for use by AEXs. */
	en->t->exit_addr = aep;

	lp->inside = true;
	lp->tcs_la = tcs_la;
	lp->aep = aep;
	lp->cr.tcs = en->tcs.page;
	lp->cr.secs_pfn = en->secs_pfn;
	lp->cr.base = en->s->base;
	lp->cr.size = en->s->size;
	lp->xfrm = en->s->xfrm;
	memcpy(lp->cr.xsave_pages, en->xsave, sizeof(lp->cr.xsave_pages));
	lp->cr.gpr = en->gpr;
	lp->cr.save_fsbase = regs->fsbase;
	lp->cr.save_gsbase = regs->gsbase;
	lp->cr.dbgoptin = en->t->flags & SGX_TCS_DBGOPTIN;
	/* An opt-out entry saves TF and runs the enclave with it clear. */
	lp->cr.save_tf = !lp->cr.dbgoptin && (regs->rflags & X86_EFLAGS_TF);
	if (!lp->cr.dbgoptin)
		regs->rflags &= ~X86_EFLAGS_TF;

	regs->fsbase = en->fsbase;
	regs->gsbase = en->gsbase;
	epcm_unlock_shared(en->tcs.e);
}

static int eenter(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		  struct sgx_cpu_regs *regs)
{
	uint64_t tcs_la = regs->rbx, aep = regs->rcx, target;
	struct entry en;
	int ret;

	ret = entry_checks(hw, lp, mmu, regs, false, &en);
	if (ret)
		return ret;
	/* "Validate TCS.OENTRY" */
	if (__builtin_add_overflow(en.s->base, en.t->entry_offset, &target) ||
	    !enclu_canonical(target)) {
		hw_enclave_leave(hw, en.tcs.page);
		epcm_unlock_shared(en.tcs.e);
		return enclu_gp(lp);
	}

	/* Saved for EEXIT and the AEX synthetic state. */
	en.gpr->ursp = regs->rsp;
	en.gpr->urbp = regs->rbp;
	regs->rax = en.t->ssa_index;
	regs->rcx = regs->rip + SGX_ENCLU_LEN;
	regs->rip = target;
	entry_done(lp, regs, &en, tcs_la, aep);
	return SGX_SUCCESS;
}

static int eresume(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		   struct sgx_cpu_regs *regs)
{
	uint64_t tcs_la = regs->rbx, aep = regs->rcx;
	const struct sgx_ssa_gpr *gpr;
	struct entry en;
	int ret;

	ret = entry_checks(hw, lp, mmu, regs, true, &en);
	if (ret)
		return ret;
	gpr = en.gpr;
	if (!enclu_canonical(gpr->rip) || !xrstor_ok(en.xsave[0], en.s->xfrm)) {
		hw_enclave_leave(hw, en.tcs.page);
		epcm_unlock_shared(en.tcs.e);
		return enclu_gp(lp);
	}

	/* TF of the outside is saved first (entry_done()); the frame does not hold it. */
	entry_done(lp, regs, &en, tcs_la, aep);
	regs->rax = gpr->rax;
	regs->rcx = gpr->rcx;
	regs->rdx = gpr->rdx;
	regs->rbx = gpr->rbx;
	regs->rsp = gpr->rsp;
	regs->rbp = gpr->rbp;
	regs->rsi = gpr->rsi;
	regs->rdi = gpr->rdi;
	regs->r8 = gpr->r8;
	regs->r9 = gpr->r9;
	regs->r10 = gpr->r10;
	regs->r11 = gpr->r11;
	regs->r12 = gpr->r12;
	regs->r13 = gpr->r13;
	regs->r14 = gpr->r14;
	regs->r15 = gpr->r15;
	regs->rip = gpr->rip;
	regs->rflags = (regs->rflags & ~RESUME_FLAGS) | (gpr->rflags & RESUME_FLAGS);
	xrstor_from_ssa(&hw->xstate, regs, en.xsave, en.s->xfrm);
	/* Pop the SSA stack. */
	en.t->ssa_index--;
	return SGX_SUCCESS;
}

/*
 * lp->entering spans the whole leaf: it is set before hw_enclave_enter()
 * counts the thread (so an ETRACK that counts it is followed, in whoever
 * issued it, by a look that sees the flag) and cleared after lp->inside is
 * set or the leaf has failed. Release stores are enough: the count is
 * made under the SECS's lock, whose release the ETRACK acquires, so the
 * flag is visible to it and to whatever follows it; an exchange on each
 * store would cost two locked instructions per ECALL.
 */
int enclu_eenter(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		 struct sgx_cpu_regs *regs)
{
	int ret;

	atomic_store_explicit(&lp->entering, true, memory_order_release);
	ret = eenter(hw, lp, mmu, regs);
	atomic_store_explicit(&lp->entering, false, memory_order_release);
	return ret;
}

int enclu_eresume(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		  struct sgx_cpu_regs *regs)
{
	int ret;

	atomic_store_explicit(&lp->entering, true, memory_order_release);
	ret = eresume(hw, lp, mmu, regs);
	atomic_store_explicit(&lp->entering, false, memory_order_release);
	return ret;
}

/* The logical processor leaves enclave mode; the TCS is free again. */
static void leave_enclave(struct sgx_hw *hw, struct sgx_lp *lp, struct sgx_cpu_regs *regs)
{
	regs->fsbase = lp->cr.save_fsbase;
	regs->gsbase = lp->cr.save_gsbase;
	if (!lp->cr.dbgoptin)
		regs->rflags =
			(regs->rflags & ~X86_EFLAGS_TF) | (lp->cr.save_tf ? X86_EFLAGS_TF : 0);
	hw_enclave_leave(hw, lp->cr.tcs);
	lp->inside = false;
	memset(&lp->cr, 0, sizeof(lp->cr));
	lp->cr.secs_pfn = NO_PFN;
}

int enclu_eexit(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
		struct sgx_cpu_regs *regs)
{
	(void)mmu;
	/* ENCLU: EEXIT outside enclave mode is #GP(0). */
	if (!lp->inside || !enclu_canonical(regs->rbx))
		return enclu_gp(lp);
	regs->rip = regs->rbx;
	regs->rcx = lp->aep;
	leave_enclave(hw, lp, regs);
	return SGX_SUCCESS;
}

/* EXITINFO for an AEX caused by @vector (SDM "AEX Operational Detail"). */
static uint32_t exitinfo(unsigned int vector, uint32_t miscselect)
{
	uint32_t type = EXIT_TYPE_HW_EXCEPTION;

	switch (vector) {
	case X86_TRAP_BP:
		type = EXIT_TYPE_SW_EXCEPTION;
		break;
	case X86_TRAP_DE:
	case X86_TRAP_DB:
	case X86_TRAP_BR:
	case X86_TRAP_UD:
	case X86_TRAP_MF:
	case X86_TRAP_AC:
	case X86_TRAP_XM:
		break;
	case X86_TRAP_GP:
	case X86_TRAP_PF:
		/* Reported only to enclaves that asked for EXINFO. */
		if (!(miscselect & SGX_MISC_EXINFO))
			return 0;
		break;
	default:
		/* Interrupts and the exceptions not reported inside an enclave. */
		return 0;
	}
	return vector | (type << SGX_EXITINFO_TYPE_SHIFT) | SGX_EXITINFO_VALID;
}

int hw_aex(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu,
	   struct sgx_cpu_regs *regs, unsigned int vector, uint32_t error_code, uint64_t fault_addr)
{
	struct sgx_tcs *tcs = lp->cr.tcs;
	struct sgx_ssa_gpr *gpr = lp->cr.gpr;
	const struct sgx_secs *secs;

	(void)mmu;
	if (!lp->inside)
		return enclu_gp(lp);
	secs = enclu_current_secs(hw, lp);
	if (!secs)
		return enclu_gp(lp);

	/* Save the enclave's state into SSA frame CSSA, through CR_GPR_PA. */
	gpr->rax = regs->rax;
	gpr->rcx = regs->rcx;
	gpr->rdx = regs->rdx;
	gpr->rbx = regs->rbx;
	gpr->rsp = regs->rsp;
	gpr->rbp = regs->rbp;
	gpr->rsi = regs->rsi;
	gpr->rdi = regs->rdi;
	gpr->r8 = regs->r8;
	gpr->r9 = regs->r9;
	gpr->r10 = regs->r10;
	gpr->r11 = regs->r11;
	gpr->r12 = regs->r12;
	gpr->r13 = regs->r13;
	gpr->r14 = regs->r14;
	gpr->r15 = regs->r15;
	gpr->rflags = regs->rflags & ~X86_EFLAGS_TF;
	gpr->rip = regs->rip;
	gpr->fsbase = regs->fsbase;
	gpr->gsbase = regs->gsbase;
	gpr->exitinfo = exitinfo(vector, secs->miscselect);
	if ((secs->miscselect & SGX_MISC_EXINFO) &&
	    (vector == X86_TRAP_PF || vector == X86_TRAP_GP)) {
		/* MISC.EXINFO sits just below the GPR area. */
		struct sgx_ssa_exinfo *exinfo = (struct sgx_ssa_exinfo *)gpr - 1;

		exinfo->maddr = vector == X86_TRAP_PF ? fault_addr : 0;
		exinfo->errcd = error_code;
		exinfo->reserved = 0;
	}
	xsave_to_ssa(&hw->xstate, lp->cr.xsave_pages, regs, secs->xfrm);
	tcs->ssa_index++;

	/* The synthetic state. */
	regs->rax = SGX_ERESUME;
	regs->rbx = lp->tcs_la;
	regs->rcx = lp->aep;
	regs->rdx = 0;
	regs->rsi = 0;
	regs->rdi = 0;
	regs->rsp = gpr->ursp;
	regs->rbp = gpr->urbp;
	regs->r8 = regs->r9 = regs->r10 = regs->r11 = 0;
	regs->r12 = regs->r13 = regs->r14 = regs->r15 = 0;
	regs->rip = lp->aep;
	regs->rflags &= ~AEX_CLEAR_FLAGS;
	xsave_synthetic(&hw->xstate, regs, secs->xfrm, vector);
	leave_enclave(hw, lp, regs);
	return SGX_SUCCESS;
}

int enclu(struct sgx_hw *hw, struct sgx_lp *lp, const struct hw_mmu *mmu, struct sgx_cpu_regs *regs)
{
	/* In 64-bit mode ENCLU ignores the upper half of RAX. */
	switch ((uint32_t)regs->rax) {
	case SGX_EREPORT:
		return enclu_ereport(hw, lp, mmu, regs);
	case SGX_EGETKEY:
		return enclu_egetkey(hw, lp, mmu, regs);
	case SGX_EENTER:
		return enclu_eenter(hw, lp, mmu, regs);
	case SGX_ERESUME:
		return enclu_eresume(hw, lp, mmu, regs);
	case SGX_EEXIT:
		return enclu_eexit(hw, lp, mmu, regs);
	case SGX_EACCEPT:
		return sgx_hw_config(hw)->sgx2 ? enclu_eaccept(hw, lp, mmu, regs) : enclu_gp(lp);
	case SGX_EMODPE:
		return sgx_hw_config(hw)->sgx2 ? enclu_emodpe(hw, lp, mmu, regs) : enclu_gp(lp);
	case SGX_EACCEPTCOPY:
		return sgx_hw_config(hw)->sgx2 ? enclu_eacceptcopy(hw, lp, mmu, regs)
					       : enclu_gp(lp);
	default:
		/* A leaf this CPU does not have. */
		return enclu_gp(lp);
	}
}
