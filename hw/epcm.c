// SPDX-License-Identifier: MIT
/*
 * The EPCM: per-page metadata allocated lazily in chunks, so an EPC of
 * 2^28 pages costs host memory only for the pages leaves have touched; and
 * the per-page locks whose contention makes leaves fault the way the SDM's
 * concurrency rules say.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw_internal.h"

/* An atomic max: chunks are created concurrently by leaves on any thread. */
static void raise_chunks_end(struct hw_section *s, uint64_t end)
{
	uint64_t cur = atomic_load(&s->chunks_end);

	while (cur < end && !atomic_compare_exchange_weak(&s->chunks_end, &cur, end))
		;
}

static struct epcm_entry *chunk_get(struct hw_section *s, uint64_t index, bool alloc)
{
	_Atomic(struct epcm_entry *) *slot = &s->chunks[index / EPCM_CHUNK_PAGES];
	struct epcm_entry *chunk = atomic_load_explicit(slot, memory_order_acquire);
	struct epcm_entry *expected = NULL;

	if (!chunk && alloc) {
		chunk = calloc(EPCM_CHUNK_PAGES, sizeof(*chunk));
		if (!chunk)
			return NULL;
		for (unsigned int i = 0; i < EPCM_CHUNK_PAGES; i++)
			chunk[i].secs_pfn = NO_PFN;
		/* Another leaf may have raced us to this chunk: keep the first. */
		if (!atomic_compare_exchange_strong_explicit(slot, &expected, chunk,
							     memory_order_acq_rel,
							     memory_order_acquire)) {
			free(chunk);
			chunk = expected;
		} else {
			raise_chunks_end(s, index / EPCM_CHUNK_PAGES + 1);
		}
	}
	return chunk ? &chunk[index % EPCM_CHUNK_PAGES] : NULL;
}

static bool resolve_in(struct hw_section *s, uint64_t index, bool alloc,
		       struct epc_ref *ref)
{
	ref->sec = s;
	ref->pfn = s->first_pfn + index;
	ref->page = s->virt + (index << SGX_PAGE_SHIFT);
	ref->e = chunk_get(s, index, alloc);
	/* Host memory ran out for the EPCM: report it as "not EPC". */
	return ref->e || !alloc;
}

bool epc_resolve(struct sgx_hw *hw, const void *addr, bool alloc, struct epc_ref *ref)
{
	const uint8_t *p = addr;

	for (unsigned int i = 0; i < hw->nr_sections; i++) {
		struct hw_section *s = &hw->sec[i];

		if (p >= s->virt && p < s->virt + s->size) {
			uint64_t off = (uint64_t)(p - s->virt);

			ref->offset = off & (SGX_PAGE_SIZE - 1);
			return resolve_in(s, off >> SGX_PAGE_SHIFT, alloc, ref);
		}
	}
	return epc_resolve_alias(hw, addr, alloc, ref);
}

bool epc_resolve_pfn(struct sgx_hw *hw, uint64_t pfn, struct epc_ref *ref)
{
	for (unsigned int i = 0; i < hw->nr_sections; i++) {
		struct hw_section *s = &hw->sec[i];

		if (pfn >= s->first_pfn && pfn < s->first_pfn + s->npages) {
			ref->offset = 0;
			return resolve_in(s, pfn - s->first_pfn, true, ref);
		}
	}
	return false;
}

uint64_t hw_epc_used_pages(struct sgx_hw *hw, const void *addr, uint64_t npages)
{
	const uint8_t *p = addr;

	for (unsigned int i = 0; i < hw->nr_sections; i++) {
		struct hw_section *s = &hw->sec[i];
		uint64_t first, end;

		if (p < s->virt || p >= s->virt + s->size)
			continue;
		first = (uint64_t)(p - s->virt) >> SGX_PAGE_SHIFT;
		end = atomic_load(&s->chunks_end) * EPCM_CHUNK_PAGES;
		if (end <= first)
			return 0;
		return end - first < npages ? end - first : npages;
	}
	return npages; /* an alias, or no EPC: every page may be in use */
}

bool epcm_trylock_excl(struct epcm_entry *e)
{
	uint32_t expected = 0;

	return atomic_compare_exchange_strong_explicit(&e->lock, &expected, EPCM_LOCK_EXCL,
						       memory_order_acquire,
						       memory_order_relaxed);
}

bool epcm_trylock_shared(struct epcm_entry *e)
{
	uint32_t v = atomic_load_explicit(&e->lock, memory_order_relaxed);

	do {
		if (v & EPCM_LOCK_EXCL)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&e->lock, &v, v + 1,
							memory_order_acquire,
							memory_order_relaxed));
	return true;
}

void epcm_unlock_excl(struct epcm_entry *e)
{
	atomic_store_explicit(&e->lock, 0, memory_order_release);
}

void epcm_unlock_shared(struct epcm_entry *e)
{
	atomic_fetch_sub_explicit(&e->lock, 1, memory_order_release);
}

void epcm_invalidate(struct epcm_entry *e)
{
	e->valid = 0;
	e->type = 0;
	e->blocked = 0;
	e->flags = 0;
	e->linaddr = 0;
	e->secs_pfn = NO_PFN;
	e->blk_epoch = 0;
	e->mod_untracked = 0;
	e->mod_epoch = 0;
	atomic_store(&e->child_cnt, 0);
	atomic_store(&e->threads, 0);
	atomic_store(&e->trk_pending, 0);
	atomic_store(&e->epoch, 0);
	atomic_store(&e->tcs_busy, 0);
	e->entry_epoch = 0;
}

bool epcm_lock_secs_shared(struct sgx_hw *hw, const struct epcm_entry *e,
			   struct epc_ref *secs)
{
	if (!epc_resolve_pfn(hw, e->secs_pfn, secs))
		return false;
	return epcm_trylock_shared(secs->e);
}

bool epcm_epoch_tracked(const struct epcm_entry *secs, uint64_t since)
{
	uint64_t epoch = atomic_load(&secs->epoch);

	if (epoch <= since)
		return false; /* no ETRACK since then */
	if (epoch > since + 1)
		return true; /* a later ETRACK succeeded, so the first one finished */
	return atomic_load(&secs->trk_pending) == 0;
}

bool epcm_tracking_done(const struct epcm_entry *secs, const struct epcm_entry *e)
{
	return epcm_epoch_tracked(secs, e->blk_epoch);
}

bool epcm_sgx2_trylock(struct epcm_entry *e)
{
	uint8_t idle = 0;

	return atomic_compare_exchange_strong_explicit(&e->sgx2_busy, &idle, 1,
						       memory_order_acquire,
						       memory_order_relaxed);
}

void epcm_sgx2_unlock(struct epcm_entry *e)
{
	atomic_store_explicit(&e->sgx2_busy, 0, memory_order_release);
}

void epcm_hold_shared(struct epcm_entry *e)
{
	while (!epcm_trylock_shared(e))
		sched_yield();
}

bool epcm_lock_excl_over_shared(struct epcm_entry *e)
{
	for (;;) {
		uint32_t v = atomic_load_explicit(&e->lock, memory_order_relaxed);

		if (v & EPCM_LOCK_EXCL)
			return false;
		if (!v && epcm_trylock_excl(e))
			return true;
		sched_yield();
	}
}
