// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: ENCLS[ELDU] and ENCLS[ELDB] of the CPU model (hw/)
 * with arbitrary backing-store bytes, PCMD and VA slot contents.
 *
 * Each input starts from the same platform: an enclave (SECS, TCS, two REG
 * pages) and a second, childless enclave, a VA page, and three pages that
 * were really evicted with EBLOCK/ETRACK/EWB (a REG page, the TCS, the
 * second SECS). The input then makes up to eight load attempts, each with
 * its own choice of evicted copy, bit flips in the contents and the PCMD, a
 * LINADDR, a VA slot (the right one, another one, or a slot the input fills
 * with any version), a destination page, a SECS operand, the leaf and
 * operand alignment.
 *
 * Checked on every attempt: the leaf returns SGX_SUCCESS,
 * SGX_MAC_COMPARE_FAIL, #GP or #PF and nothing else; a failure leaves the
 * whole EPC, the whole EPCM, the VA page and the backing copy unchanged; an
 * attempt that altered anything the MAC covers (contents, PCMD, LINADDR,
 * version) never succeeds; a success loads exactly the evicted page.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "hw/hw.h"
#include "hw/hw_internal.h"

#define SECTION_PAGES 16
#define SECS_PAGE     0
#define TCS_PAGE      1
#define REG_PAGE      2
#define REG2_PAGE     3
#define VA_PAGE	      4
#define SECS2_PAGE    5
#define FREE_PAGE     6 /* 6..15 are free */
#define BASE	      0x100000000ULL
#define BASE2	      0x200000000ULL
#define ENCL_SIZE     (16 * SGX_PAGE_SIZE)
#define MAX_TRIES     8

#define GP ENCLS_FAULT(X86_TRAP_GP)
#define PF ENCLS_FAULT(X86_TRAP_PF)

enum { BK_REG, BK_TCS, BK_SECS, NR_BK };

/* An evicted page as EWB left it. */
struct backing {
	uint8_t contents[SGX_PAGE_SIZE] __attribute__((aligned(4096)));
	struct sgx_pcmd pcmd;
	uint64_t linaddr;
	unsigned int slot;
	uint64_t version; /* what EWB put in the VA slot */
	uint8_t plain[SGX_PAGE_SIZE];
	uint8_t type;
};

struct world {
	uint8_t epc[SECTION_PAGES][SGX_PAGE_SIZE];
	struct epcm_entry epcm[SECTION_PAGES];
	uint8_t bk[NR_BK][SGX_PAGE_SIZE + sizeof(struct sgx_pcmd)];
};

struct eldu_run {
	struct sgx_hw *hw;
	struct backing bk[NR_BK];
	/* An operand copy the input mutates: aligned, and one byte off. */
	uint8_t contents[SGX_PAGE_SIZE + 64] __attribute__((aligned(4096)));
	uint8_t pcmd_buf[2 * sizeof(struct sgx_pcmd)] __attribute__((aligned(128)));
	struct world before, after;
};

static uint8_t *page(struct sgx_hw *hw, unsigned int n)
{
	struct sgx_hw_section s;

	FZ_CHECK(hw_epc_section(hw, 0, &s) && n < s.size / SGX_PAGE_SIZE, "no EPC page %u", n);
	return (uint8_t *)s.virt + (uint64_t)n * SGX_PAGE_SIZE;
}

static uint64_t *va_slot(struct sgx_hw *hw, unsigned int i)
{
	return (uint64_t *)page(hw, VA_PAGE) + i;
}

static void world_take(struct eldu_run *r, struct world *w)
{
	for (unsigned int n = 0; n < SECTION_PAGES; n++) {
		struct epc_ref ref;

		memcpy(w->epc[n], page(r->hw, n), SGX_PAGE_SIZE);
		FZ_CHECK(epc_resolve(r->hw, page(r->hw, n), false, &ref), "EPC page %u", n);
		if (ref.e)
			memcpy(&w->epcm[n], ref.e, sizeof(*ref.e));
		else
			memset(&w->epcm[n], 0, sizeof(w->epcm[n]));
		atomic_store(&w->epcm[n].lock, 0);
	}
	for (unsigned int i = 0; i < NR_BK; i++) {
		memcpy(w->bk[i], r->bk[i].contents, SGX_PAGE_SIZE);
		memcpy(w->bk[i] + SGX_PAGE_SIZE, &r->bk[i].pcmd, sizeof(r->bk[i].pcmd));
	}
}

static void world_check(struct eldu_run *r, int ret)
{
	world_take(r, &r->after);
	for (unsigned int n = 0; n < SECTION_PAGES; n++) {
		FZ_CHECK(!memcmp(r->before.epc[n], r->after.epc[n], SGX_PAGE_SIZE),
			 "failed load (%#x) changed EPC page %u", ret, n);
		/* An entry created only to look at it is still an invalid one. */
		if (!r->before.epcm[n].valid && !r->after.epcm[n].valid)
			continue;
		FZ_CHECK(!memcmp(&r->before.epcm[n], &r->after.epcm[n], sizeof(r->after.epcm[n])),
			 "failed load (%#x) changed the EPCM entry of page %u", ret, n);
	}
	FZ_CHECK(!memcmp(r->before.bk, r->after.bk, sizeof(r->after.bk)),
		 "failed load (%#x) changed the backing store", ret);
}

static void must(int ret, const char *what)
{
	FZ_CHECK(ret == SGX_SUCCESS, "setup: %s returned %#x", what, ret);
}

static void ecreate(struct sgx_hw *hw, unsigned int n, uint64_t base)
{
	static struct sgx_secs secs __attribute__((aligned(4096)));
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = SGX_SECINFO_SECS};
	struct sgx_pageinfo pi = {.contents = (uintptr_t)&secs, .metadata = (uintptr_t)&secinfo};

	memset(&secs, 0, sizeof(secs));
	secs.base = base;
	secs.size = ENCL_SIZE;
	secs.ssa_frame_size = 1;
	secs.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	secs.xfrm = 3;
	must(encls_ecreate(hw, &pi, page(hw, n)), "ECREATE");
}

static void eadd(struct sgx_hw *hw, unsigned int n, uint64_t linaddr, const void *src,
		 uint64_t flags)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = flags};
	struct sgx_pageinfo pi = {
		.addr = linaddr,
		.contents = (uintptr_t)src,
		.metadata = (uintptr_t)&secinfo,
		.secs = (uintptr_t)page(hw, SECS_PAGE),
	};

	must(encls_eadd(hw, &pi, page(hw, n)), "EADD");
}

static void evict(struct eldu_run *r, unsigned int n, struct backing *b, unsigned int slot,
		  uint8_t type)
{
	struct sgx_pageinfo pi = {
		.contents = (uintptr_t)b->contents,
		.metadata = (uintptr_t)&b->pcmd,
	};

	memcpy(b->plain, page(r->hw, n), SGX_PAGE_SIZE);
	if (type != SGX_PAGE_TYPE_SECS) {
		must(encls_eblock(r->hw, page(r->hw, n)), "EBLOCK");
		must(encls_etrack(r->hw, page(r->hw, SECS_PAGE)), "ETRACK");
	}
	must(encls_ewb(r->hw, &pi, page(r->hw, n), va_slot(r->hw, slot)), "EWB");
	b->linaddr = pi.addr;
	b->slot = slot;
	b->version = *va_slot(r->hw, slot);
	FZ_CHECK(b->version, "setup: EWB left the VA slot empty");
	b->type = type;
}

static void setup(struct eldu_run *r)
{
	struct sgx_hw_config cfg;
	static uint8_t src[SGX_PAGE_SIZE] __attribute__((aligned(4096)));
	struct sgx_tcs *tcs = (struct sgx_tcs *)src;

	sgx_hw_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = SECTION_PAGES * SGX_PAGE_SIZE;
	r->hw = sgx_hw_new(&cfg);
	FZ_CHECK(r->hw, "no platform");
	ecreate(r->hw, SECS_PAGE, BASE);
	ecreate(r->hw, SECS2_PAGE, BASE2);
	memset(src, 0, sizeof(src));
	tcs->ssa_offset = 2 * SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = SGX_PAGE_SIZE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	eadd(r->hw, TCS_PAGE, BASE, src, SGX_SECINFO_TCS);
	for (unsigned int i = 0; i < SGX_PAGE_SIZE; i++)
		src[i] = (uint8_t)(i * 7 + 1);
	eadd(r->hw, REG_PAGE, BASE + SGX_PAGE_SIZE, src,
	     SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W);
	eadd(r->hw, REG2_PAGE, BASE + 2 * SGX_PAGE_SIZE, src,
	     SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X);
	must(encls_epa(r->hw, page(r->hw, VA_PAGE)), "EPA");
	evict(r, REG_PAGE, &r->bk[BK_REG], 0, SGX_PAGE_TYPE_REG);
	evict(r, TCS_PAGE, &r->bk[BK_TCS], 1, SGX_PAGE_TYPE_TCS);
	evict(r, SECS2_PAGE, &r->bk[BK_SECS], 2, SGX_PAGE_TYPE_SECS);
}

/* XOR @n input-chosen bytes of @buf (two flips of one byte may cancel out). */
static void flip(struct fz *in, uint8_t *buf, size_t size, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint16_t off = fz_u16(in) % size;

		buf[off] ^= fz_u8(in) | 1;
	}
}

static void attempt(struct eldu_run *r, struct fz *in)
{
	uint8_t ctl = fz_u8(in), ops = fz_u8(in), dst_sel = fz_u8(in);
	struct backing *b = &r->bk[(ctl & 3) % NR_BK];
	struct sgx_pcmd *pcmd = (struct sgx_pcmd *)r->pcmd_buf;
	bool block = ctl & 4, tampered = false;
	unsigned int slot = b->slot;
	struct sgx_pageinfo pi __attribute__((aligned(32)));
	uint8_t *dst;
	uint64_t *slotp, version;
	int ret;

	memcpy(r->contents, b->contents, SGX_PAGE_SIZE);
	memcpy(pcmd, &b->pcmd, sizeof(*pcmd));
	flip(in, r->contents, SGX_PAGE_SIZE, ops & 3);
	flip(in, (uint8_t *)pcmd, sizeof(*pcmd), (ops >> 2) & 3);
	/*
	 * The MAC covers PCMD.ENCLAVEID only for SECS and VA pages: an
	 * enclave page is bound to the EID of the SECS it is loaded into (SDM
	 * ELDB/ELDU: TMP_HEADER.EID <- TMP_SECS.EID), so that field may change.
	 */
	tampered = memcmp(r->contents, b->contents, SGX_PAGE_SIZE) ||
		   memcmp(pcmd, &b->pcmd, offsetof(struct sgx_pcmd, enclave_id)) ||
		   memcmp(pcmd->reserved, b->pcmd.reserved,
			  sizeof(*pcmd) - offsetof(struct sgx_pcmd, reserved)) ||
		   (b->type == SGX_PAGE_TYPE_SECS && pcmd->enclave_id != b->pcmd.enclave_id);
	memset(&pi, 0, sizeof(pi));
	pi.addr = b->linaddr;
	pi.contents = (uintptr_t)r->contents;
	pi.metadata = (uintptr_t)pcmd;
	if (ops & 0x10)
		pi.addr ^= fz_u64(in) | 1;
	tampered |= pi.addr != b->linaddr;
	if (ops & 0x20) {
		/* Another slot; when it is empty or unused, the input's version. */
		slot = fz_u16(in) % (SGX_PAGE_SIZE / 8);
		if (slot >= NR_BK)
			*va_slot(r->hw, slot) = (fz_u8(in) & 1) ? b->version : fz_u64(in);
	}
	/* Operands one byte off: #GP before anything else. */
	if (ops & 0x40)
		pi.contents += 1 + fz_u8(in) % 63;
	if (ops & 0x80)
		pi.metadata += 1 + fz_u8(in) % 127;
	/* Any enclave page needs its SECS; SECS and VA pages need none. */
	switch ((ctl >> 3) & 7) {
	case 0:
	case 1:
	case 2:
		pi.secs = b->type == SGX_PAGE_TYPE_SECS ? 0 : (uintptr_t)page(r->hw, SECS_PAGE);
		break;
	case 3:
		pi.secs = (uintptr_t)page(r->hw, SECS_PAGE);
		break;
	case 4:
		pi.secs = (uintptr_t)page(r->hw, SECS2_PAGE); /* other enclave, or now free */
		break;
	case 5:
		pi.secs = (uintptr_t)page(r->hw, fz_u8(in) % SECTION_PAGES);
		break;
	case 6:
		pi.secs = (uintptr_t)page(r->hw, SECS_PAGE) + (fz_u8(in) | 1);
		break;
	default:
		pi.secs = (uintptr_t)r->contents; /* not EPC */
		break;
	}
	if (dst_sel < 0xC0)
		dst = page(r->hw, FREE_PAGE + dst_sel % (SECTION_PAGES - FREE_PAGE));
	else if (dst_sel < 0xE0)
		dst = page(r->hw, dst_sel % FREE_PAGE); /* valid, or one EWB freed */
	else if (dst_sel < 0xF0)
		dst = page(r->hw, FREE_PAGE) + (dst_sel & 0xF) + 1;
	else
		dst = r->contents; /* not EPC */
	slotp = va_slot(r->hw, slot);
	if (ctl & 0x40)
		slotp = (uint64_t *)((uint8_t *)slotp + 1 + (ctl >> 7)); /* misaligned */
	if (ctl & 0x80)
		slotp = (uint64_t *)page(r->hw, REG2_PAGE) + slot; /* not a VA page */

	world_take(r, &r->before);
	version = (uintptr_t)slotp % 8 ? 0 : *slotp;
	ret = block ? encls_eldb(r->hw, &pi, dst, slotp) : encls_eldu(r->hw, &pi, dst, slotp);
	FZ_TRACE("%s bk %ld slot %u tampered %d -> %#x\n", block ? "ELDB" : "ELDU",
		 (long)(b - r->bk), slot, tampered, ret);
	FZ_CHECK(ret == SGX_SUCCESS || ret == SGX_MAC_COMPARE_FAIL || ret == GP || ret == PF,
		 "%s returned %#x, not an SDM outcome", block ? "ELDB" : "ELDU", ret);
	if (ret != SGX_SUCCESS) {
		world_check(r, ret);
		return;
	}
	/* What the MAC covers was exactly what EWB wrote, and the version was right. */
	FZ_CHECK(!tampered, "%s accepted a tampered page", block ? "ELDB" : "ELDU");
	/* The slot held this page's version (a VA slot only software in the model can write). */
	FZ_CHECK(version == b->version, "loaded with version %#llx, EWB wrote %#llx",
		 (unsigned long long)version, (unsigned long long)b->version);
	FZ_CHECK(!memcmp(dst, b->plain, SGX_PAGE_SIZE), "loaded page differs from the evicted one");
	FZ_CHECK(*slotp == 0, "VA slot %u not emptied", slot);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct eldu_run *r;
	struct fz in;

	fz_trace_init();
	if (!r) {
		r = aligned_alloc(4096, sizeof(*r));
		FZ_CHECK(r, "no memory");
	}
	memset(r, 0, sizeof(*r));
	setup(r);
	fz_init(&in, data, size);
	for (int i = 0; i < MAX_TRIES && !fz_done(&in); i++)
		attempt(r, &in);
	sgx_hw_free(r->hw);
	return 0;
}
