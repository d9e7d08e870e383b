// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the enclave entry path under __vdso_sgx_enter_enclave,
 * at the CPU model's level (the vDSO itself lives in the LD_PRELOAD shim and
 * cannot run under libFuzzer): ENCLU with arbitrary register values (EENTER,
 * ERESUME, EEXIT, EREPORT, EGETKEY and unknown leaves), asynchronous exits
 * with any vector, and TCS and SSA contents the input rewrites, on two
 * logical processors and an enclave with two TCS. SGX2 (on unless the
 * configuration byte's bit 1 is set): ENCLS EAUG onto the pages past the
 * image, EMODPR, EMODT and ETRACK from "the kernel", and from inside
 * EACCEPT, EMODPE and EACCEPTCOPY with a SECINFO the enclave wrote into its
 * DATA page (op_sgx2_encls, op_sgx2_enclu).
 *
 * Checked on every step: the leaf returns SGX_SUCCESS, #GP, #PF, or (EGETKEY)
 * an SGX code (EACCEPT, EACCEPTCOPY: PAGE_ATTRIBUTES_MISMATCH, NOT_TRACKED
 * also in RAX; EMODPR, EMODT: PAGE_NOT_MODIFIABLE, EPC_PAGE_CONFLICT;
 * ETRACK: PREV_TRK_INCMPL); a faulting leaf changes no register and no EPC byte (hw/enclu.h);
 * enclave mode follows the leaf (EENTER/ERESUME enter, EEXIT/AEX leave). At the
 * end, with both processors out, every page EREMOVEs (no thread is still
 * counted inside, no TCS still busy).
 */
#include <stdlib.h>
#include <string.h>

#include "hw/enclu.h"
#include "tests/fuzz/harness.h"
#include "hw/hw_internal.h"
#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"

#define GP ENCLS_FAULT(X86_TRAP_GP)
#define PF ENCLS_FAULT(X86_TRAP_PF)

#define BASE	   0x100000000ULL
#define ENCL_PAGES 16
/* Linear layout (pages from BASE), EPC page n + 1 for linear page n. */
#define TCS0	  0
#define CODE	  1
#define SSA0	  2 /* two frames */
#define DATA	  4
#define RODATA	  5
#define TCS1	  6
#define SSA1	  7 /* two frames */
#define NR_PAGES  9 /* pages 9..15 of ELRANGE have no enclave page */
#define EPC_PAGES 16
#define NR_LP	  2
#define MAX_OPS	  24

#define AEP	    0x401100ULL
#define OUTSIDE_RIP 0x401000ULL

struct mmu_state {
	void *map[ENCL_PAGES];
	int prot[ENCL_PAGES];
};

struct entry_run {
	struct sgx_hw *hw;
	struct mmu_state mmu_state;
	struct hw_mmu mmu;
	struct sgx_lp lp[NR_LP];
	struct sgx_cpu_regs regs[NR_LP], saved;
	uint8_t epc_before[EPC_PAGES][SGX_PAGE_SIZE];
	long last;
};

static uint8_t *epc(struct sgx_hw *hw, unsigned int n)
{
	struct sgx_hw_section s;

	FZ_CHECK(hw_epc_section(hw, 0, &s), "no EPC");
	return (uint8_t *)s.virt + (uint64_t)n * SGX_PAGE_SIZE;
}

static uint64_t la(unsigned int n)
{
	return BASE + (uint64_t)n * SGX_PAGE_SIZE;
}

static bool translate(void *ctx, uint64_t linaddr, int access, void **out, uint32_t *pf_errcode)
{
	struct mmu_state *m = ctx;
	uint64_t n = (linaddr - BASE) >> SGX_PAGE_SHIFT;
	uint32_t code = X86_PF_USER | ((access & HW_MMU_WRITE) ? X86_PF_WRITE : 0) |
			((access & HW_MMU_EXEC) ? X86_PF_INSTR : 0);

	FZ_CHECK(!(linaddr & (SGX_PAGE_SIZE - 1)), "translate of an unaligned address");
	if (linaddr < BASE || n >= ENCL_PAGES || !m->map[n]) {
		*pf_errcode = code;
		return false;
	}
	if ((access & m->prot[n]) != access) {
		*pf_errcode = code | X86_PF_PROT;
		return false;
	}
	*out = m->map[n];
	return true;
}

static void must(int ret, const char *what)
{
	FZ_CHECK(ret == SGX_SUCCESS, "setup: %s returned %#x", what, ret);
}

static void add(struct entry_run *r, unsigned int n, const void *src, uint64_t flags)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = flags};
	struct sgx_pageinfo pi = {
		.addr = la(n),
		.contents = (uintptr_t)src,
		.metadata = (uintptr_t)&secinfo,
		.secs = (uintptr_t)epc(r->hw, 0),
	};

	must(encls_eadd(r->hw, &pi, epc(r->hw, n + 1)), "EADD");
	for (unsigned int c = 0; c < SGX_PAGE_SIZE; c += SGX_EEXTEND_CHUNK)
		must(encls_eextend(r->hw, epc(r->hw, 0), epc(r->hw, n + 1) + c), "EEXTEND");
}

static void tcs_init(struct sgx_tcs *tcs, unsigned int ssa)
{
	memset(tcs, 0, sizeof(*tcs));
	tcs->ssa_offset = (uint64_t)ssa * SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 2;
	tcs->entry_offset = CODE * SGX_PAGE_SIZE + 0x10;
	tcs->fs_offset = DATA * SGX_PAGE_SIZE;
	tcs->gs_offset = RODATA * SGX_PAGE_SIZE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
}

/*
 * EINIT with a SIGSTRUCT signed over the CPU's own measurement. The enclave
 * is the same on every run, so the SIGSTRUCT is signed once per variant.
 */
static void einit(struct entry_run *r, unsigned int variant)
{
	/* EINIT wants the SIGSTRUCT page aligned: one static each. */
	static struct sgx_sigstruct sig0 __attribute__((aligned(4096)));
	static struct sgx_sigstruct sig1 __attribute__((aligned(4096)));
	struct sgx_sigstruct *sig[2] = {&sig0, &sig1};
	static uint8_t mrsigner[SGX_HASH_SIZE];
	static bool signed_[2];
	static uint8_t token[SGX_PAGE_SIZE / 2] __attribute__((aligned(512)));
	const struct sgx_secs *secs = (const struct sgx_secs *)epc(r->hw, 0);

	if (!signed_[variant]) {
		struct sgx_sign_enclave desc = {
			.attributes = secs->attributes,
			.attributes_mask = ~0ULL,
			.xfrm = secs->xfrm,
			.xfrm_mask = ~0ULL,
			.miscselect = secs->miscselect,
			.misc_mask = 0xFFFFFFFF,
			.date = 0x20261130,
		};

		sgx_measure_final(&secs_hidden(epc(r->hw, 0))->mrenclave, desc.mrenclave);
		FZ_CHECK(!sgx_sign_sigstruct(&desc, fz_signer(), sig[variant]), "signing");
		FZ_CHECK(!sgx_sign_mrsigner(fz_signer(), mrsigner), "MRSIGNER");
		signed_[variant] = true;
	}
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t v = 0;

		for (unsigned int j = 0; j < 8; j++)
			v |= (uint64_t)mrsigner[8 * i + j] << (8 * j);
		must(hw_wrmsr(r->hw, MSR_IA32_SGXLEPUBKEYHASH0 + i, v), "WRMSR");
	}
	must(encls_einit(r->hw, sig[variant], (const struct sgx_einittoken *)token, epc(r->hw, 0)),
	     "EINIT");
}

static void setup(struct entry_run *r, uint8_t cfg_byte)
{
	static uint8_t src[SGX_PAGE_SIZE] __attribute__((aligned(4096)));
	static struct sgx_secs secs __attribute__((aligned(4096)));
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = SGX_SECINFO_SECS};
	struct sgx_pageinfo pi = {.contents = (uintptr_t)&secs, .metadata = (uintptr_t)&secinfo};
	const uint64_t reg = SGX_SECINFO_REG;
	unsigned int variant = cfg_byte & 1;
	struct sgx_hw_config cfg;

	sgx_hw_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = EPC_PAGES * SGX_PAGE_SIZE;
	cfg.sgx2 = !(cfg_byte & 2);
	r->hw = sgx_hw_new(&cfg);
	FZ_CHECK(r->hw, "no platform");
	memset(&secs, 0, sizeof(secs));
	secs.base = BASE;
	secs.size = ENCL_PAGES * SGX_PAGE_SIZE;
	secs.ssa_frame_size = 1;
	secs.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	secs.xfrm = 3;
	/* Variant 1: EXINFO in the SSA for #PF and #GP. */
	secs.miscselect = variant ? SGX_MISC_EXINFO : 0;
	must(encls_ecreate(r->hw, &pi, epc(r->hw, 0)), "ECREATE");

	tcs_init((struct sgx_tcs *)src, SSA0);
	add(r, TCS0, src, SGX_SECINFO_TCS);
	memset(src, 0xC3, sizeof(src));
	add(r, CODE, src, reg | SGX_SECINFO_R | SGX_SECINFO_X);
	memset(src, 0, sizeof(src));
	add(r, SSA0, src, reg | SGX_SECINFO_R | SGX_SECINFO_W);
	add(r, SSA0 + 1, src, reg | SGX_SECINFO_R | SGX_SECINFO_W);
	add(r, DATA, src, reg | SGX_SECINFO_R | SGX_SECINFO_W);
	memset(src, 0x5A, sizeof(src));
	add(r, RODATA, src, reg | SGX_SECINFO_R);
	tcs_init((struct sgx_tcs *)src, SSA1);
	add(r, TCS1, src, SGX_SECINFO_TCS);
	memset(src, 0, sizeof(src));
	add(r, SSA1, src, reg | SGX_SECINFO_R | SGX_SECINFO_W);
	add(r, SSA1 + 1, src, reg | SGX_SECINFO_R | SGX_SECINFO_W);
	einit(r, variant);

	for (unsigned int n = 0; n < NR_PAGES; n++) {
		r->mmu_state.map[n] = epc(r->hw, n + 1);
		r->mmu_state.prot[n] = HW_MMU_READ | HW_MMU_WRITE | HW_MMU_EXEC;
	}
	r->mmu.translate = translate;
	r->mmu.ctx = &r->mmu_state;
	for (unsigned int i = 0; i < NR_LP; i++) {
		sgx_lp_init(&r->lp[i]);
		sgx_cpu_regs_init(&r->regs[i]);
	}
}

/* A linear-address operand: mostly a page of the layout plus an offset. */
static uint64_t addr_operand(struct fz *in)
{
	uint8_t b = fz_u8(in);

	if (b < 0xC0)
		return la(b % ENCL_PAGES) + ((b & 0x40) ? fz_u16(in) % SGX_PAGE_SIZE : 0);
	return fz_u64(in);
}

/* Registers as an outside thread (or the enclave) sets them, from the input. */
static void set_regs(struct sgx_cpu_regs *regs, struct fz *in, uint64_t leaf)
{
	uint16_t mask = fz_u16(in);
	uint8_t tcs = fz_u8(in);

	regs->rax = leaf;
	regs->rbx = (tcs & 1) ? la(TCS1) : la(TCS0);
	if (!(mask & 0x8000)) {
		regs->rcx = AEP;
		regs->rip = OUTSIDE_RIP;
	}
	if (mask & 0x0001)
		regs->rbx = addr_operand(in);
	if (mask & 0x0002)
		regs->rcx = fz_u64(in);
	if (mask & 0x0004)
		regs->rdx = addr_operand(in);
	if (mask & 0x0008)
		regs->rflags = fz_u64(in);
	if (mask & 0x0010)
		regs->rip = fz_u64(in);
	if (mask & 0x0020)
		regs->rsp = fz_u64(in);
	if (mask & 0x0040)
		regs->fsbase = fz_u64(in);
	if (mask & 0x0080)
		regs->gsbase = fz_u64(in);
	if (mask & 0x0100)
		regs->xsave_len = fz_u32(in) % (SGX_XSAVE_AREA_SIZE + 1);
	if (mask & 0x0200) {
		uint16_t off = fz_u16(in) % (SGX_XSAVE_AREA_SIZE - 8);
		uint64_t v = fz_u64(in);

		memcpy(regs->xsave + off, &v, sizeof(v));
	}
	if (mask & 0x0400)
		regs->rax = fz_u64(in); /* any leaf */
	if (mask & 0x0800)
		regs->rbp = fz_u64(in);
}

static void snapshot(struct entry_run *r, unsigned int lp)
{
	memcpy(&r->saved, &r->regs[lp], sizeof(r->saved));
	for (unsigned int n = 0; n < EPC_PAGES; n++)
		memcpy(r->epc_before[n], epc(r->hw, n), SGX_PAGE_SIZE);
}

static void check_leaf(struct entry_run *r, unsigned int lp, int ret, bool was_inside,
		       const char *what)
{
	/* ENCLU dispatches on EAX: the upper half of RAX does not matter. */
	uint64_t leaf = (uint32_t)r->saved.rax;

	r->last = ret;
	if (ret == GP || ret == PF) {
		FZ_CHECK(!memcmp(&r->saved, &r->regs[lp], sizeof(r->saved)),
			 "%s faulted (%#x) but changed registers", what, ret);
		for (unsigned int n = 0; n < EPC_PAGES; n++)
			FZ_CHECK(!memcmp(r->epc_before[n], epc(r->hw, n), SGX_PAGE_SIZE),
				 "%s faulted (%#x) but changed EPC page %u", what, ret, n);
		FZ_CHECK(r->lp[lp].inside == was_inside, "%s faulted but changed enclave mode",
			 what);
		return;
	}
	if (leaf == SGX_EGETKEY && was_inside) {
		FZ_CHECK(ret == SGX_SUCCESS || ret == SGX_INVALID_KEYNAME ||
				 ret == SGX_INVALID_ATTRIBUTE || ret == SGX_INVALID_CPUSVN ||
				 ret == SGX_INVALID_ISVSVN,
			 "EGETKEY returned %#x", ret);
		FZ_CHECK(r->regs[lp].rax == (uint64_t)ret, "EGETKEY: RAX %#llx, returned %#x",
			 (unsigned long long)r->regs[lp].rax, ret);
		return;
	}
	if ((leaf == SGX_EACCEPT || leaf == SGX_EACCEPTCOPY) && was_inside && ret != SGX_SUCCESS) {
		FZ_CHECK(ret == SGX_PAGE_ATTRIBUTES_MISMATCH ||
				 (leaf == SGX_EACCEPT && ret == SGX_NOT_TRACKED),
			 "leaf %#llx returned %#x", (unsigned long long)leaf, ret);
		FZ_CHECK(r->regs[lp].rax == (uint64_t)ret && (r->regs[lp].rflags & X86_EFLAGS_ZF),
			 "leaf %#llx: RAX %#llx or ZF, returned %#x", (unsigned long long)leaf,
			 (unsigned long long)r->regs[lp].rax, ret);
		FZ_CHECK(r->lp[lp].inside, "a failed EACCEPT left the enclave");
		return;
	}
	FZ_CHECK(ret == SGX_SUCCESS, "%s (leaf %#llx) returned %#x, not an SDM outcome", what,
		 (unsigned long long)leaf, ret);
	if (leaf == SGX_EENTER || leaf == SGX_ERESUME)
		FZ_CHECK(!was_inside && r->lp[lp].inside, "%s succeeded without entering", what);
	else if (leaf == SGX_EEXIT)
		FZ_CHECK(was_inside && !r->lp[lp].inside, "EEXIT succeeded without leaving");
	else
		FZ_CHECK(r->lp[lp].inside == was_inside, "%s changed enclave mode", what);
}

static void op_enclu(struct entry_run *r, struct fz *in, unsigned int lp, uint64_t leaf)
{
	bool inside = r->lp[lp].inside;
	int ret;

	set_regs(&r->regs[lp], in, leaf);
	snapshot(r, lp);
	ret = enclu(r->hw, &r->lp[lp], &r->mmu, &r->regs[lp]);
	check_leaf(r, lp, ret, inside, "ENCLU");
}

static void op_aex(struct entry_run *r, struct fz *in, unsigned int lp)
{
	bool inside = r->lp[lp].inside;
	unsigned int vector = fz_u8(in);
	uint32_t err = fz_u32(in);
	uint64_t addr = addr_operand(in);
	int ret;

	ret = hw_aex(r->hw, &r->lp[lp], &r->mmu, &r->regs[lp], vector, err, addr);
	r->last = ret;
	if (!inside) {
		FZ_CHECK(ret == GP, "AEX outside an enclave returned %#x", ret);
		return;
	}
	FZ_CHECK(ret == SGX_SUCCESS || ret == GP || ret == PF, "AEX returned %#x", ret);
	if (ret == SGX_SUCCESS)
		FZ_CHECK(!r->lp[lp].inside && r->regs[lp].rip == r->lp[lp].aep,
			 "AEX did not leave to the AEP");
	else
		FZ_CHECK(r->lp[lp].inside, "a failed AEX left the enclave");
}

/* Enclave software (or a debugger) rewriting TCS or SSA bytes in EPC. */
static void op_poke(struct entry_run *r, struct fz *in)
{
	static const unsigned int pages[] = {TCS0, TCS1, SSA0, SSA0 + 1, SSA1, SSA1 + 1};
	unsigned int n = pages[fz_u8(in) % 6];
	uint16_t off = fz_u16(in) % (SGX_PAGE_SIZE - 8);
	uint64_t v = fz_u64(in);

	memcpy(epc(r->hw, n + 1) + off, &v, sizeof(v));
	r->last = 0;
}

/* The page tables: unmap, remap elsewhere, or change the protection of a page. */
static void op_mmu(struct entry_run *r, struct fz *in)
{
	uint8_t b = fz_u8(in);
	unsigned int n = fz_u8(in) % ENCL_PAGES;

	switch (b & 3) {
	case 0:
		r->mmu_state.map[n] = NULL;
		break;
	case 1:
		r->mmu_state.map[n] = epc(r->hw, fz_u8(in) % EPC_PAGES);
		break;
	default:
		r->mmu_state.prot[n] = (b >> 2) & 7;
		break;
	}
	r->last = 0;
}

/* The SECINFO slots enclave software writes into its DATA page (EPC bytes). */
#define SI_SLOTS 8

static uint64_t si_la(unsigned int slot)
{
	return la(DATA) + (uint64_t)(slot % SI_SLOTS) * 64;
}

/*
 * Enclave software writing a SECINFO into DATA: the flags EACCEPT wants for
 * each SGX2 step, or any value.
 */
static void write_secinfo(struct entry_run *r, struct fz *in, unsigned int slot)
{
	static const uint64_t flags[] = {
		SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_PENDING,
		SGX_SECINFO_TRIM | SGX_SECINFO_MODIFIED,
		SGX_SECINFO_TCS | SGX_SECINFO_MODIFIED,
		SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_PR,
		SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X,
		SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X | SGX_SECINFO_PENDING,
		SGX_SECINFO_REG | SGX_SECINFO_PR,
	};
	uint8_t b = fz_u8(in);
	uint64_t v = b < 0xE0 ? flags[b % 7] : fz_u64(in);
	uint8_t *p = epc(r->hw, DATA + 1) + (slot % SI_SLOTS) * 64;

	memset(p, 0, 64);
	memcpy(p, &v, sizeof(v));
	if (b >= 0xF0)
		p[8 + b % 56] = fz_u8(in); /* a reserved byte */
}

/* Pages the enclave image leaves free, for EAUG: linear and EPC. */
static uint64_t aug_la(uint8_t b)
{
	return la(NR_PAGES + b % (ENCL_PAGES - NR_PAGES));
}

/*
 * "The kernel": EAUG (and map the page RW, as the fault handler does),
 * EMODPR, EMODT, ETRACK. Outcomes: SUCCESS, the SDM's codes, #GP or #PF
 * with no EPC byte changed.
 */
static void op_sgx2_encls(struct entry_run *r, struct fz *in)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64)));
	struct sgx_pageinfo pi __attribute__((aligned(32)));
	uint8_t b = fz_u8(in), n = fz_u8(in);
	unsigned int page = (b & 0x10) ? n % EPC_PAGES : 1 + n % NR_PAGES;
	void *target = epc(r->hw, page);
	const char *what;
	int ret;

	memset(&secinfo, 0, sizeof(secinfo));
	for (unsigned int i = 0; i < EPC_PAGES; i++)
		memcpy(r->epc_before[i], epc(r->hw, i), SGX_PAGE_SIZE);
	switch (b & 3) {
	case 0: {
		uint64_t lin = (b & 0x20) ? addr_operand(in) : aug_la(n);
		unsigned int dst = (b & 0x10) ? fz_u8(in) % EPC_PAGES
					     : NR_PAGES + 1 + n % (EPC_PAGES - NR_PAGES - 1);

		memset(&pi, 0, sizeof(pi));
		pi.addr = lin;
		pi.secs = (uintptr_t)epc(r->hw, 0);
		if (b & 0x40)
			pi.metadata = (uintptr_t)&secinfo;
		what = "EAUG";
		ret = encls_eaug(r->hw, &pi, epc(r->hw, dst));
		if (ret == SGX_SUCCESS && lin >= BASE && lin < la(ENCL_PAGES)) {
			unsigned int l = (lin - BASE) >> SGX_PAGE_SHIFT;

			r->mmu_state.map[l] = epc(r->hw, dst);
			r->mmu_state.prot[l] = HW_MMU_READ | HW_MMU_WRITE;
		}
		break;
	}
	case 1:
		secinfo.flags = (b & 0x20) ? fz_u64(in) : (uint64_t)(b >> 6) & 3 ? SGX_SECINFO_R : 0;
		what = "EMODPR";
		ret = encls_emodpr(r->hw, &secinfo, target);
		break;
	case 2:
		secinfo.flags = (b & 0x20) ? fz_u64(in)
					   : (b & 0x40) ? SGX_SECINFO_TCS : SGX_SECINFO_TRIM;
		what = "EMODT";
		ret = encls_emodt(r->hw, &secinfo, target);
		break;
	default:
		what = "ETRACK";
		ret = encls_etrack(r->hw, (b & 0x20) ? target : epc(r->hw, 0));
		break;
	}
	r->last = ret;
	if (ret == GP || ret == PF) {
		for (unsigned int i = 0; i < EPC_PAGES; i++)
			FZ_CHECK(!memcmp(r->epc_before[i], epc(r->hw, i), SGX_PAGE_SIZE),
				 "%s faulted (%#x) but changed EPC page %u", what, ret, i);
		return;
	}
	FZ_CHECK(ret == SGX_SUCCESS ||
			 ((b & 3) == 1 || (b & 3) == 2 ? ret == SGX_PAGE_NOT_MODIFIABLE ||
							      ret == SGX_EPC_PAGE_CONFLICT
						       : (b & 3) == 3 && ret == SGX_PREV_TRK_INCMPL),
		 "%s returned %#x, not an SDM outcome", what, ret);
}

/*
 * Enclave code: EACCEPT, EMODPE or EACCEPTCOPY with RBX = a SECINFO slot
 * in DATA (written first), RCX = a page (mostly one EAUG or EMODPR/EMODT
 * could have touched), RDX = a source page for EACCEPTCOPY.
 */
static void op_sgx2_enclu(struct entry_run *r, struct fz *in, unsigned int lp)
{
	static const uint64_t leaves[] = {SGX_EACCEPT, SGX_EACCEPT, SGX_EMODPE, SGX_EACCEPTCOPY};
	uint8_t b = fz_u8(in), n = fz_u8(in);
	unsigned int slot = b >> 5;
	struct sgx_cpu_regs *regs = &r->regs[lp];
	bool inside = r->lp[lp].inside;
	int ret;

	write_secinfo(r, in, slot);
	regs->rax = leaves[b & 3];
	regs->rbx = (b & 4) ? addr_operand(in) : si_la(slot);
	regs->rcx = (b & 8) ? addr_operand(in) : (n & 0x80) ? aug_la(n) : la(n % NR_PAGES);
	regs->rdx = (b & 0x10) ? addr_operand(in) : la(n & 1 ? RODATA : DATA);
	snapshot(r, lp);
	ret = enclu(r->hw, &r->lp[lp], &r->mmu, regs);
	check_leaf(r, lp, ret, inside, "SGX2 ENCLU");
}

static const char *const op_names[] = {"EENTER", "ERESUME", "EEXIT", "EREPORT", "EGETKEY", "ENCLU",
				       "AEX",	 "poke",    "mmu",   "",	"ENCLS2",  "ENCLU2"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct entry_run *r;
	struct fz in;

	fz_trace_init();
	if (!r) {
		r = aligned_alloc(64, sizeof(*r));
		FZ_CHECK(r, "no memory");
	}
	memset(r, 0, sizeof(*r));
	fz_init(&in, data, size);
	setup(r, fz_u8(&in));
	for (int i = 0; i < MAX_OPS && !fz_done(&in); i++) {
		uint8_t b = fz_u8(&in);
		unsigned int op = b % 10, lp = (b >> 7) & 1;

		/* 9 (once a second EENTER): an SGX2 step, ENCLS or ENCLU by the next byte. */
		if (op == 9)
			op = 10 + (fz_u8(&in) & 1);

		switch (op) {
		case 0:
			op_enclu(r, &in, lp, SGX_EENTER);
			break;
		case 1:
			op_enclu(r, &in, lp, SGX_ERESUME);
			break;
		case 2:
			op_enclu(r, &in, lp, SGX_EEXIT);
			break;
		case 3:
			op_enclu(r, &in, lp, SGX_EREPORT);
			break;
		case 4:
			op_enclu(r, &in, lp, SGX_EGETKEY);
			break;
		case 5:
			op_enclu(r, &in, lp, fz_u8(&in));
			break;
		case 6:
			op_aex(r, &in, lp);
			break;
		case 7:
			op_poke(r, &in);
			break;
		case 8:
			op_mmu(r, &in);
			break;
		case 10:
			op_sgx2_encls(r, &in);
			break;
		default:
			op_sgx2_enclu(r, &in, lp);
			break;
		}
		FZ_TRACE("lp%u %-8s -> %#lx inside %d\n", lp, op_names[op], r->last,
			 r->lp[lp].inside);
	}
	/* Both processors out (an interrupt), then every page must go. */
	for (unsigned int i = 0; i < NR_LP; i++) {
		if (r->lp[i].inside) {
			int ret = hw_aex(r->hw, &r->lp[i], &r->mmu, &r->regs[i], 32, 0, 0);

			/* A poked SSA may leave no frame to save into: EEXIT instead. */
			if (ret != SGX_SUCCESS) {
				r->regs[i].rax = SGX_EEXIT;
				r->regs[i].rbx = OUTSIDE_RIP;
				ret = enclu(r->hw, &r->lp[i], &r->mmu, &r->regs[i]);
			}
			FZ_CHECK(ret == SGX_SUCCESS && !r->lp[i].inside,
				 "processor %u cannot leave the enclave: %#x", i, ret);
		}
	}
	/* EAUG'd pages too (EREMOVE of a free page succeeds). */
	for (unsigned int n = 1; n < EPC_PAGES; n++) {
		int ret = encls_eremove(r->hw, epc(r->hw, n));

		FZ_CHECK(ret == SGX_SUCCESS, "EREMOVE of enclave page %u: %#x", n, ret);
	}
	FZ_CHECK(encls_eremove(r->hw, epc(r->hw, 0)) == SGX_SUCCESS, "EREMOVE of the SECS");
	sgx_hw_free(r->hw);
	return 0;
}
