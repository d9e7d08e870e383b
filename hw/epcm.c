// SPDX-License-Identifier: MIT
/*
 * The EPCM: per-page metadata in one sparse shared-memory object per
 * section, initialised lazily in chunks, so an EPC of 2^28 pages costs host
 * memory only for the pages leaves have touched, and views of the platform
 * in other processes (hw/share.c) see the same entries; and the per-page
 * locks whose contention makes leaves fault the way the SDM's concurrency
 * rules say.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hw/hw_internal.h"

#define CHUNK_BYTES ((uint64_t)EPCM_CHUNK_PAGES * sizeof(struct epcm_entry))
_Static_assert(CHUNK_BYTES % SGX_PAGE_SIZE == 0,
	       "a chunk is whole pages of the EPCM object (fork copies pages)");
_Static_assert(sizeof(struct epcm_header) == 64, "chunk states start at byte 64");

static uint64_t page_round(uint64_t n)
{
	return (n + SGX_PAGE_SIZE - 1) & ~(uint64_t)(SGX_PAGE_SIZE - 1);
}

uint64_t epcm_header_size(uint64_t nr_chunks)
{
	return page_round(sizeof(struct epcm_header) + nr_chunks);
}

uint64_t epcm_object_size(uint64_t npages)
{
	uint64_t nr_chunks = (npages + EPCM_CHUNK_PAGES - 1) / EPCM_CHUNK_PAGES;

	return epcm_header_size(nr_chunks) + nr_chunks * CHUNK_BYTES;
}

uint64_t epcm_chunks_end(const struct hw_section *s)
{
	return atomic_load_explicit(&s->epcm_hdr->chunks_end, memory_order_acquire);
}

struct epcm_entry *epcm_chunk(const struct hw_section *s, uint64_t c)
{
	if (c >= s->nr_chunks ||
	    atomic_load_explicit(&s->epcm_hdr->state[c], memory_order_acquire) != EPCM_CHUNK_READY)
		return NULL;
	return &s->entries[c * EPCM_CHUNK_PAGES];
}

/*
 * fork() of a platform in private mode (sgx_shm_unshare_all()): the child
 * copies the header up to the last chunk used and every initialised chunk,
 * and so keeps its own EPCM. Never-used chunks are holes: O(pages used).
 */
static void epcm_data(void *ctx, sgx_shm_range_fn fn, void *arg)
{
	struct hw_section *s = ctx;
	uint64_t end = epcm_chunks_end(s);
	uint64_t hdr = epcm_header_size(s->nr_chunks);

	fn(arg, 0, page_round(sizeof(struct epcm_header) + end) / SGX_PAGE_SIZE);
	for (uint64_t c = 0; c < end; c++)
		if (epcm_chunk(s, c))
			fn(arg, (hdr + c * CHUNK_BYTES) / SGX_PAGE_SIZE, CHUNK_BYTES / SGX_PAGE_SIZE);
}

static void epcm_mapped(struct hw_section *s)
{
	s->epcm_hdr = (struct epcm_header *)s->epcm.map;
	s->entries = (struct epcm_entry *)(s->epcm.map + epcm_header_size(s->nr_chunks));
}

int epcm_create(struct hw_section *s, unsigned int index, bool keep_fd)
{
	char name[32];
	int ret;

	/* A fresh memfd reads as zeros: every chunk EPCM_CHUNK_NONE, chunks_end 0. */
	snprintf(name, sizeof(name), "softsgx-epcm%u", index);
	ret = sgx_shm_create_fd(&s->epcm, name, epcm_object_size(s->npages), false, epcm_data, s,
				keep_fd);
	if (ret)
		return ret;
	epcm_mapped(s);
	return 0;
}

int epcm_attach(struct hw_section *s, unsigned int index, int fd)
{
	char name[32];
	int ret;

	snprintf(name, sizeof(name), "softsgx-epcm%u", index);
	ret = sgx_shm_attach(&s->epcm, name, fd, epcm_object_size(s->npages));
	if (ret)
		return ret;
	epcm_mapped(s);
	s->view = true;
	return 0;
}

void epcm_destroy(struct hw_section *s)
{
	sgx_shm_destroy(&s->epcm);
	s->epcm_hdr = NULL;
	s->entries = NULL;
}

/* An atomic max: chunks are initialised concurrently by leaves on any thread. */
static void raise_chunks_end(struct hw_section *s, uint64_t end)
{
	uint64_t cur = atomic_load(&s->epcm_hdr->chunks_end);

	while (cur < end && !atomic_compare_exchange_weak(&s->epcm_hdr->chunks_end, &cur, end))
		;
}

/*
 * The entry of page @index. Its chunk is initialised on first use by the
 * platform's owner only: a view (another process) treats a chunk that is not
 * ready as never used, which it is as far as any leaf can tell (no page of
 * it was ever valid).
 */
static struct epcm_entry *chunk_get(struct hw_section *s, uint64_t index, bool alloc)
{
	uint64_t c = index / EPCM_CHUNK_PAGES;
	_Atomic uint8_t *state = &s->epcm_hdr->state[c];
	uint8_t st = atomic_load_explicit(state, memory_order_acquire);

	if (st == EPCM_CHUNK_READY)
		return &s->entries[index];
	if (!alloc || s->view)
		return NULL;
	st = EPCM_CHUNK_NONE;
	if (atomic_compare_exchange_strong_explicit(state, &st, EPCM_CHUNK_INIT,
						    memory_order_acq_rel, memory_order_acquire)) {
		struct epcm_entry *chunk = &s->entries[c * EPCM_CHUNK_PAGES];

		/* The rest of an entry reads as zeros in a fresh object. */
		for (unsigned int i = 0; i < EPCM_CHUNK_PAGES; i++)
			chunk[i].secs_pfn = NO_PFN;
		/* Before READY: a walk up to chunks_end never misses a usable chunk. */
		raise_chunks_end(s, c + 1);
		atomic_store_explicit(state, EPCM_CHUNK_READY, memory_order_release);
	} else {
		/* Another leaf of this process is initialising it: a few pages' writes. */
		while (atomic_load_explicit(state, memory_order_acquire) != EPCM_CHUNK_READY)
			sched_yield();
	}
	return &s->entries[index];
}

static bool resolve_in(struct hw_section *s, uint64_t index, bool alloc,
		       struct epc_ref *ref)
{
	ref->sec = s;
	ref->pfn = s->first_pfn + index;
	ref->page = s->virt + (index << SGX_PAGE_SHIFT);
	ref->e = chunk_get(s, index, alloc);
	/* A view never creates EPCM state: report it as "not EPC". */
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
		end = epcm_chunks_end(s) * EPCM_CHUNK_PAGES;
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

/*
 * Under the entry's exclusive lock: nobody reads the counters until the
 * unlock's release publishes them, so plain (relaxed) stores do; a
 * sequentially consistent store is a locked instruction each, and EADD
 * invalidates every page it adds.
 */
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
	atomic_store_explicit(&e->child_cnt, 0, memory_order_relaxed);
	atomic_store_explicit(&e->threads, 0, memory_order_relaxed);
	atomic_store_explicit(&e->trk_pending, 0, memory_order_relaxed);
	atomic_store_explicit(&e->epoch, 0, memory_order_relaxed);
	atomic_store_explicit(&e->tcs_busy, 0, memory_order_relaxed);
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

static int64_t elapsed_ns(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000000000LL + (now.tv_nsec - since->tv_nsec);
}

bool epcm_lock_excl_over_shared(struct epcm_entry *e)
{
	struct timespec start;
	unsigned int tries = 0;
	int64_t waited;

	for (;;) {
		uint32_t v = atomic_load_explicit(&e->lock, memory_order_relaxed);

		if (v & EPCM_LOCK_EXCL)
			return false;
		if (!v && epcm_trylock_excl(e))
			return true;
		/* Leaves hold briefly: yield first, look at the clock only after. */
		if (++tries < 64) {
			sched_yield();
			continue;
		}
		if (tries == 64) {
			clock_gettime(CLOCK_MONOTONIC, &start);
			continue;
		}
		waited = elapsed_ns(&start);
		if (waited >= EPCM_SHARED_WAIT_NS)
			return false; /* a holder that never lets go: a view's process killed */
		if (waited < 1000000) {
			sched_yield();
		} else {
			/* Long past any leaf's hold: stop burning a CPU on it. */
			struct timespec nap = {0, 100000};

			nanosleep(&nap, NULL);
		}
	}
}

void hw_epcm_locks_reset(struct sgx_hw *hw, void *epc)
{
	struct epc_ref ref;

	if (!epc_resolve(hw, epc, false, &ref) || !ref.e)
		return;
	/*
	 * No counter is touched: the holders that vanished were leaves of
	 * threads whose enclave nobody can reach any more, and
	 * sgx_hw_owner_gone() has already counted their threads out.
	 */
	atomic_store(&ref.e->tcs_busy, 0);
	atomic_store(&ref.e->sgx2_busy, 0);
	atomic_store_explicit(&ref.e->lock, 0, memory_order_release);
}
