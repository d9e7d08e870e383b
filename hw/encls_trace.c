// SPDX-License-Identifier: MIT
/*
 * The ENCLS entry points of hw.h: each runs its leaf and, when a trace
 * recorder is attached, records it as a complete event with its operands
 * and SGX return code. Untraced, a leaf costs one extra load and branch.
 *
 * EPC operands are shown as physical addresses (CPUID 0x12 numbering) when
 * they are in the direct map; an operand inside a guest's EPC alias is shown
 * as the address it was passed as ("epc_va"): resolving it could allocate.
 */
#include <stdatomic.h>

#include "hw/hw_internal.h"
#include "obs/trace.h"

#define CAT_ENCLS "encls"
/* The leaves of EPC paging also belong to the reclaim timeline. */
#define CAT_PAGING "encls,reclaim"

struct leaf_trace {
	struct sgx_trace *t;
	struct sgx_trace_event ev;
};

void hw_set_trace(struct sgx_hw *hw, struct sgx_trace *t)
{
	atomic_store_explicit(&hw->trace, t, memory_order_release);
}

struct sgx_trace *hw_trace(const struct sgx_hw *hw)
{
	return atomic_load_explicit(&((struct sgx_hw *)hw)->trace, memory_order_acquire);
}

static bool leaf_begin(struct sgx_hw *hw, struct leaf_trace *lt, const char *name, const char *cat)
{
	lt->t = atomic_load_explicit(&hw->trace, memory_order_acquire);
	if (__builtin_expect(!lt->t, 1))
		return false;
	sgx_trace_event_init(&lt->ev, 'X', name, cat, sgx_trace_now());
	return true;
}

/* The leaf returned: its duration ends here, before the arguments are formatted. */
static void leaf_done(struct leaf_trace *lt)
{
	uint64_t now = sgx_trace_now();

	lt->ev.dur_ns = now > lt->ev.ts_ns ? now - lt->ev.ts_ns : 0;
}

static void arg_epc(struct sgx_hw *hw, struct leaf_trace *lt, const char *key,
		    const char *alias_key, const void *addr)
{
	const uint8_t *p = addr;

	for (unsigned int i = 0; i < hw->nr_sections; i++) {
		const struct hw_section *s = &hw->sec[i];

		if (p >= s->virt && p < s->virt + s->size) {
			sgx_trace_arg_hex(&lt->ev, key, s->phys + (uint64_t)(p - s->virt));
			return;
		}
	}
	sgx_trace_arg_hex(&lt->ev, alias_key, (uintptr_t)addr);
}

static int leaf_end(struct leaf_trace *lt, int ret)
{
	sgx_trace_arg_str(&lt->ev, "ret", sgx_trace_ret_name(ret));
	sgx_trace_record(lt->t, &lt->ev);
	return ret;
}

/* A leaf on one EPC page: EREMOVE, EPA, EBLOCK, ETRACK, EDBGRD/WR. */
static int page_leaf_end(struct sgx_hw *hw, struct leaf_trace *lt, void *epc, int ret)
{
	leaf_done(lt);
	arg_epc(hw, lt, "epc", "epc_va", epc);
	return leaf_end(lt, ret);
}

/* A leaf with a PAGEINFO: the page, its SECS and its linear address. */
static int pageinfo_leaf_end(struct sgx_hw *hw, struct leaf_trace *lt, void *epc,
			     const struct sgx_pageinfo *pginfo, int ret)
{
	leaf_done(lt);
	arg_epc(hw, lt, "epc", "epc_va", epc);
	if (pginfo->secs)
		arg_epc(hw, lt, "secs", "secs_va", op_ptr(pginfo->secs));
	/* None for a SECS, nor for an EWB that did not complete (EWB fills it in). */
	if (pginfo->addr)
		sgx_trace_arg_hex(&lt->ev, "linaddr", pginfo->addr);
	return leaf_end(lt, ret);
}

int encls_ecreate(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *secs)
{
	const struct sgx_secs *src;
	struct leaf_trace lt;
	int ret;

	if (!leaf_begin(hw, &lt, "ECREATE", CAT_ENCLS))
		return leaf_ecreate(hw, pginfo, secs);
	ret = leaf_ecreate(hw, pginfo, secs);
	leaf_done(&lt);
	arg_epc(hw, &lt, "epc", "epc_va", secs);
	src = op_ptr(pginfo->contents);
	if (src) {
		sgx_trace_arg_hex(&lt.ev, "base", src->base);
		sgx_trace_arg_hex(&lt.ev, "size", src->size);
	}
	return leaf_end(&lt, ret);
}

int encls_eadd(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EADD", CAT_ENCLS))
		return leaf_eadd(hw, pginfo, epc);
	return pageinfo_leaf_end(hw, &lt, epc, pginfo, leaf_eadd(hw, pginfo, epc));
}

int encls_eadd_staged(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EADD", CAT_ENCLS))
		return leaf_eadd_staged(hw, pginfo, epc);
	return pageinfo_leaf_end(hw, &lt, epc, pginfo, leaf_eadd_staged(hw, pginfo, epc));
}

int encls_eextend(struct sgx_hw *hw, void *secs, void *chunk)
{
	struct leaf_trace lt;
	int ret;

	if (!leaf_begin(hw, &lt, "EEXTEND", CAT_ENCLS))
		return leaf_eextend(hw, secs, chunk);
	ret = leaf_eextend(hw, secs, chunk);
	leaf_done(&lt);
	arg_epc(hw, &lt, "epc", "epc_va", chunk);
	arg_epc(hw, &lt, "secs", "secs_va", secs);
	return leaf_end(&lt, ret);
}

int encls_eextend_chunks(struct sgx_hw *hw, void *secs, void *chunk, unsigned int n)
{
	int ret = 0;

	/* Untraced, or a run the leaf refuses whole (#GP, no chunk measured). */
	if (__builtin_expect(!atomic_load_explicit(&hw->trace, memory_order_acquire), 1) ||
	    !eextend_run_fits(chunk, n))
		return leaf_eextend_chunks(hw, secs, chunk, n);
	/* Traced: each leaf its own event, as on the hardware. */
	for (unsigned int i = 0; i < n && !ret; i++)
		ret = encls_eextend(hw, secs, (uint8_t *)chunk + i * SGX_EEXTEND_CHUNK);
	return ret;
}

int encls_einit(struct sgx_hw *hw, const struct sgx_sigstruct *sigstruct,
		const struct sgx_einittoken *token, void *secs)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EINIT", CAT_ENCLS))
		return leaf_einit(hw, sigstruct, token, secs);
	return page_leaf_end(hw, &lt, secs, leaf_einit(hw, sigstruct, token, secs));
}

int encls_eremove(struct sgx_hw *hw, void *epc)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EREMOVE", CAT_ENCLS))
		return leaf_eremove(hw, epc);
	return page_leaf_end(hw, &lt, epc, leaf_eremove(hw, epc));
}

int encls_edbgrd(struct sgx_hw *hw, void *epc, uint64_t *data)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EDBGRD", CAT_ENCLS))
		return leaf_edbgrd(hw, epc, data);
	return page_leaf_end(hw, &lt, epc, leaf_edbgrd(hw, epc, data));
}

int encls_edbgwr(struct sgx_hw *hw, void *epc, uint64_t data)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EDBGWR", CAT_ENCLS))
		return leaf_edbgwr(hw, epc, data);
	return page_leaf_end(hw, &lt, epc, leaf_edbgwr(hw, epc, data));
}

int encls_epa(struct sgx_hw *hw, void *epc)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EPA", CAT_ENCLS))
		return leaf_epa(hw, epc);
	return page_leaf_end(hw, &lt, epc, leaf_epa(hw, epc));
}

int encls_eblock(struct sgx_hw *hw, void *epc)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EBLOCK", CAT_PAGING))
		return leaf_eblock(hw, epc);
	return page_leaf_end(hw, &lt, epc, leaf_eblock(hw, epc));
}

int encls_etrack(struct sgx_hw *hw, void *secs)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "ETRACK", CAT_PAGING))
		return leaf_etrack(hw, secs);
	return page_leaf_end(hw, &lt, secs, leaf_etrack(hw, secs));
}

int encls_ewb(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EWB", CAT_PAGING))
		return leaf_ewb(hw, pginfo, epc, va_slot);
	/* EWB fills in PAGEINFO.LINADDR and SECS: read them afterwards. */
	return pageinfo_leaf_end(hw, &lt, epc, pginfo, leaf_ewb(hw, pginfo, epc, va_slot));
}

int encls_eldu(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "ELDU", CAT_PAGING))
		return leaf_eldu(hw, pginfo, epc, va_slot);
	return pageinfo_leaf_end(hw, &lt, epc, pginfo, leaf_eldu(hw, pginfo, epc, va_slot));
}

int encls_eldb(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "ELDB", CAT_PAGING))
		return leaf_eldb(hw, pginfo, epc, va_slot);
	return pageinfo_leaf_end(hw, &lt, epc, pginfo, leaf_eldb(hw, pginfo, epc, va_slot));
}

int encls_eaug(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EAUG", CAT_ENCLS))
		return leaf_eaug(hw, pginfo, epc);
	return pageinfo_leaf_end(hw, &lt, epc, pginfo, leaf_eaug(hw, pginfo, epc));
}

int encls_emodpr(struct sgx_hw *hw, const struct sgx_secinfo *secinfo, void *epc)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EMODPR", CAT_ENCLS))
		return leaf_emodpr(hw, secinfo, epc);
	return page_leaf_end(hw, &lt, epc, leaf_emodpr(hw, secinfo, epc));
}

int encls_emodt(struct sgx_hw *hw, const struct sgx_secinfo *secinfo, void *epc)
{
	struct leaf_trace lt;

	if (!leaf_begin(hw, &lt, "EMODT", CAT_ENCLS))
		return leaf_emodt(hw, secinfo, epc);
	return page_leaf_end(hw, &lt, epc, leaf_emodt(hw, secinfo, epc));
}
