// SPDX-License-Identifier: MIT
/*
 * EPC sections, page descriptors and the page allocator. A section hands out
 * pages from its free list first, then from the range of pages never used
 * since boot, so descriptors exist only for pages that were ever allocated.
 * Sanitization (sanitize.c) runs in ksgxd; a page it has not reached yet is
 * sanitized by the allocation that takes it.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "hw/lsan.h"
#include "kernel/epc_cgroup.h"
#include "kernel/epc_internal.h"
#include "kernel/fault_inject.h"
#include "kernel/usage.h"

struct sgx_epc_page *sgx_epc_desc_get(struct sgx_kernel *k, unsigned int section,
				      uint64_t index)
{
	struct sgx_epc_section *s = &k->sections[section];
	_Atomic(struct sgx_epc_page *) *slot = &s->desc_chunks[index / SGX_EPC_DESC_CHUNK];
	struct sgx_epc_page *chunk = atomic_load(slot);
	struct sgx_epc_page *expected = NULL;

	if (!chunk) {
		chunk = sgx_kcalloc(SGX_EPC_DESC_CHUNK, sizeof(*chunk));
		if (!chunk)
			return NULL;
		for (unsigned int i = 0; i < SGX_EPC_DESC_CHUNK; i++) {
			chunk[i].section = section;
			chunk[i].index = index - index % SGX_EPC_DESC_CHUNK + i;
			INIT_LIST_HEAD(&chunk[i].list);
		}
		if (!atomic_compare_exchange_strong(slot, &expected, chunk)) {
			free(chunk);
			chunk = expected;
		} else {
			uint64_t end = atomic_load(&s->desc_chunks_end);
			uint64_t want = index / SGX_EPC_DESC_CHUNK + 1;

			while (end < want &&
			       !atomic_compare_exchange_weak(&s->desc_chunks_end, &end, want))
				;
		}
	}
	return &chunk[index % SGX_EPC_DESC_CHUNK];
}

void *sgx_get_epc_virt_addr(struct sgx_kernel *k, const struct sgx_epc_page *page)
{
	return k->sections[page->section].virt_addr + page->index * SGX_PAGE_SIZE;
}

uint64_t sgx_get_epc_phys_addr(struct sgx_kernel *k, const struct sgx_epc_page *page)
{
	return k->sections[page->section].phys_addr + page->index * SGX_PAGE_SIZE;
}

void sgx_kernel_config_from_hw(struct sgx_kernel_config *cfg, struct sgx_hw *hw)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hw = hw;
	while (cfg->nr_sections < SGX_HW_MAX_SECTIONS &&
	       hw_epc_section(hw, cfg->nr_sections, &cfg->sections[cfg->nr_sections]))
		cfg->nr_sections++;
}

/*
 * Take a section's next never-used page, skipping pages sanitization kept.
 * Pages below san_next were sanitized, pages from san_end up need none; a
 * page in between is sanitized here first: EREMOVE of one page costs the
 * allocation less than waiting for ksgxd to get there.
 */
static struct sgx_epc_page *take_fresh(struct sgx_kernel *k, unsigned int i)
{
	struct sgx_epc_section *s = &k->sections[i];

	while (s->fresh_next < s->npages) {
		struct sgx_epc_page *page;

		if (s->fresh_next == s->san_next && s->san_next < s->san_end &&
		    sgx_sanitize_next_locked(k, i))
			return NULL;
		page = sgx_epc_desc_get(k, i, s->fresh_next);
		if (!page)
			return NULL;
		s->fresh_next++;
		if (!(page->flags & SGX_EPC_PAGE_TOUCHED)) {
			page->flags |= SGX_EPC_PAGE_TOUCHED;
			return page;
		}
	}
	return NULL;
}

/* A free page of section @i, with its lock held: freed ones first, then never-used ones. */
static struct sgx_epc_page *take_free(struct sgx_kernel *k, unsigned int i)
{
	struct sgx_epc_section *s = &k->sections[i];
	struct sgx_epc_page *page;

	if (!list_empty(&s->free_list)) {
		page = list_first_entry(&s->free_list, struct sgx_epc_page, list);
		list_del_init(&page->list);
	} else {
		page = take_fresh(k, i);
	}
	if (page)
		page->flags &= ~SGX_EPC_PAGE_IS_FREE;
	return page;
}

/* Pages that stopped being free, counted where they moved (with the section's lock). */
static void count_taken(struct sgx_kernel *k, unsigned int n)
{
	atomic_fetch_sub(&k->nr_free_pages, n);
	atomic_fetch_add(&k->nr_in_use_pages, n);
}

static struct sgx_epc_page *__sgx_alloc_epc_page_from_section(struct sgx_kernel *k,
							       unsigned int i)
{
	struct sgx_epc_section *s = &k->sections[i];
	struct sgx_epc_page *page;

	pthread_mutex_lock(&s->lock);
	page = take_free(k, i);
	if (page)
		count_taken(k, 1);
	pthread_mutex_unlock(&s->lock);
	return page;
}

static struct sgx_epc_page *__sgx_alloc_epc_page(struct sgx_kernel *k)
{
	for (unsigned int i = 0; i < k->nr_sections; i++) {
		struct sgx_epc_page *page = __sgx_alloc_epc_page_from_section(k, i);

		if (page)
			return page;
	}
	return NULL;
}

/*
 * The cgroup an allocation charges: that of the mm the call is made for,
 * as the series charges the current task's misc cgroup (epc_cgroup.h).
 */
static struct sgx_epc_cgroup *alloc_cgroup(struct sgx_kernel *k)
{
	struct sgx_mm *mm = sgx_current_mm();

	return sgx_mm_cgroup(k, mm ? mm : &k->mm);
}

struct sgx_epc_page *sgx_alloc_epc_page(struct sgx_kernel *k, void *owner, bool reclaim,
					int *err)
{
	struct sgx_epc_cgroup *cg = alloc_cgroup(k);
	struct sgx_epc_page *page;
	int ret;

	/* The cgroup first, as the series: a cgroup at its max reclaims its own pages. */
	ret = sgx_epc_cgroup_try_charge(cg, reclaim);
	if (ret) {
		*err = ret;
		return NULL;
	}
	for (;;) {
		/* Injected exhaustion: this look finds every free list empty. */
		bool injected = sgx_fi_should_fail(SGX_FI_EPC_ALLOC);

		page = injected ? NULL : __sgx_alloc_epc_page(k);
		if (page) {
			page->owner = owner;
			page->cg = cg;
			atomic_fetch_add(&k->stats.allocs, 1);
			break;
		}
		/*
		 * Free pages may still wait for sanitization's second pass (or,
		 * on the rare -ENOMEM of a descriptor, its first): do ksgxd's
		 * work rather than report an EPC that is not full as full.
		 */
		if (!injected && !sgx_sanitize_done(k)) {
			int ret = sgx_sanitize_step(k, SGX_NR_HIGH_PAGES);

			if (ret < 0) {
				*err = ret;
				break;
			}
			continue;
		}
		pthread_mutex_lock(&k->lru_lock);
		bool nothing_to_reclaim = k->nr_lru == 0;
		bool in_flight = k->nr_isolated != 0;
		pthread_mutex_unlock(&k->lru_lock);
		/*
		 * Nothing can ever come back: the EPC is full of unreclaimable
		 * pages. Linux looks at the LRU alone; pages a batch holds are
		 * off it for a moment, and on a small EPC (a few dozen pages,
		 * several enclaves) batches could hold all the rest: the fault
		 * path's ELDU answered SIGBUS (issue 14). They are freed or put
		 * back shortly, so that is "busy", not "out of memory".
		 */
		if (nothing_to_reclaim && !in_flight) {
			*err = -ENOMEM;
			break;
		}
		if (!reclaim) {
			*err = -EBUSY;
			break;
		}
		if (nothing_to_reclaim)
			sched_yield(); /* another reclaimer is writing them out */
		else
			sgx_reclaim_pages(k);
	}
	if (!page)
		sgx_epc_cgroup_uncharge(cg);
	if (sgx_should_reclaim(k, SGX_NR_LOW_PAGES))
		sgx_wake_ksgxd(k);
	return page;
}

/**
 * sgx_alloc_epc_pages() - take up to @n free EPC pages at once, never reclaiming
 * @k:     the kernel model
 * @pages: where the pages go
 * @n:     how many are wanted
 *
 * What @n calls of sgx_alloc_epc_page() without reclaim would take, in the
 * same order, up to the first that would fail, but with one cgroup charge,
 * one acquisition of each section's lock and one update of the counters
 * for all of them: an enclave build (SGX_IOC_ENCLAVE_ADD_PAGES) allocates
 * a batch of pages this way. The pages are charged to the caller's
 * cgroup and have no owner yet; one not used goes back with
 * sgx_free_epc_page(). A cgroup that cannot take all @n within its limit
 * gives none, and counts no event: the caller then allocates page by page.
 *
 * Return: the number of pages taken, 0 to @n.
 */
unsigned int sgx_alloc_epc_pages(struct sgx_kernel *k, struct sgx_epc_page **pages, unsigned int n)
{
	struct sgx_epc_cgroup *cg = alloc_cgroup(k);
	bool asked = false, injected = false;
	unsigned int got = 0;

	if (!n || !sgx_epc_cgroup_try_charge_many(cg, n))
		return 0;
	for (unsigned int i = 0; i < k->nr_sections && got < n && !injected; i++) {
		struct sgx_epc_section *s = &k->sections[i];
		unsigned int from = got;

		pthread_mutex_lock(&s->lock);
		while (got < n) {
			struct sgx_epc_page *page;

			/*
			 * Injected exhaustion ends the batch, as it fails a
			 * single allocation: asked once per page taken.
			 */
			if (!asked && sgx_fi_should_fail(SGX_FI_EPC_ALLOC)) {
				injected = true;
				break;
			}
			asked = true;
			page = take_free(k, i);
			if (!page)
				break;
			asked = false;
			page->owner = NULL;
			page->cg = cg;
			pages[got++] = page;
		}
		if (got > from)
			count_taken(k, got - from);
		pthread_mutex_unlock(&s->lock);
	}
	atomic_fetch_add(&k->stats.allocs, got);
	if (got < n)
		sgx_epc_cgroup_uncharge_many(cg, n - got);
	if (sgx_should_reclaim(k, SGX_NR_LOW_PAGES))
		sgx_wake_ksgxd(k);
	return got;
}

void sgx_epc_put_free(struct sgx_kernel *k, struct sgx_epc_page *page, bool count)
{
	struct sgx_epc_section *s = &k->sections[page->section];

	pthread_mutex_lock(&s->lock);
	page->owner = NULL;
	page->flags = SGX_EPC_PAGE_TOUCHED | SGX_EPC_PAGE_IS_FREE;
	list_add_tail(&page->list, &s->free_list);
	if (count)
		atomic_fetch_add(&k->nr_free_pages, 1);
	pthread_mutex_unlock(&s->lock);
}

void sgx_free_epc_page(struct sgx_kernel *k, struct sgx_epc_page *page)
{
	sgx_epc_page_uncharge(page);
	atomic_fetch_sub(&k->nr_in_use_pages, 1);
	atomic_fetch_add(&k->stats.frees, 1);
	sgx_epc_put_free(k, page, true);
}

void sgx_encl_free_epc_page(struct sgx_kernel *k, struct sgx_epc_page *page)
{
	int ret;

	/* After a reset nothing executes: the EPC state stays for the VMM to remove. */
	if (k->powered_off) {
		sgx_free_epc_page(k, page);
		return;
	}
	ret = encls_eremove(k->hw, sgx_get_epc_virt_addr(k, page));
	if (ret) {
		/* Linux warns and leaks the page: it still holds EPCM state. */
		atomic_fetch_add(&k->stats.eremove_failures, 1);
		atomic_fetch_sub(&k->nr_in_use_pages, 1);
		atomic_fetch_add(&k->nr_leaked_pages, 1);
		fprintf(stderr, "softsgx: EREMOVE returned %#x, EPC page %#llx leaked\n", ret,
			(unsigned long long)sgx_get_epc_phys_addr(k, page));
		page->flags |= SGX_EPC_PAGE_LEAKED;
		page->owner = NULL;
		/* Leaked pages are not in use: no cgroup keeps paying for them. */
		sgx_epc_page_uncharge(page);
		return;
	}
	sgx_free_epc_page(k, page);
}

/*
 * The table of descriptor chunks: a pointer per SGX_EPC_DESC_CHUNK pages,
 * mapped rather than calloc()ed (a heap calloc() of a size freed before
 * clears it all: boot would cost time and memory per EPC page). A host
 * allocation all the same, for fault injection.
 */
static _Atomic(struct sgx_epc_page *) *desc_table_new(uint64_t nr)
{
	void *p;

	if (sgx_fi_should_fail(SGX_FI_HOST_ALLOC))
		return NULL;
	p = mmap(NULL, nr * sizeof(struct sgx_epc_page *), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	sgx_lsan_root_add(p, nr * sizeof(struct sgx_epc_page *));
	return p;
}

static void sections_destroy(struct sgx_kernel *k)
{
	for (unsigned int i = 0; i < k->nr_sections; i++) {
		struct sgx_epc_section *s = &k->sections[i];

		if (s->desc_chunks) {
			uint64_t end = atomic_load(&s->desc_chunks_end);

			/* Chunks past the last one created were never allocated. */
			for (uint64_t c = 0; c < end; c++)
				free(atomic_load(&s->desc_chunks[c]));
			sgx_lsan_root_del(s->desc_chunks, s->nr_chunks * sizeof(*s->desc_chunks));
			munmap(s->desc_chunks, s->nr_chunks * sizeof(*s->desc_chunks));
		}
		pthread_mutex_destroy(&s->lock);
	}
	pthread_mutex_destroy(&k->sanitize_lock);
}

void *ksgxd(void *arg);

int sgx_kernel_init(struct sgx_kernel *k, const struct sgx_kernel_config *cfg)
{
	int ret;

	memset(k, 0, sizeof(*k));
	if (!cfg->hw || cfg->nr_sections == 0 || cfg->nr_sections > SGX_HW_MAX_SECTIONS)
		return -EINVAL;
	k->hw = cfg->hw;
	sgx_mm_init(&k->mm);
	pthread_mutex_init(&k->lru_lock, NULL);
	ret = sgx_epc_cgroup_init(k);
	if (ret) {
		pthread_mutex_destroy(&k->lru_lock);
		sgx_mm_destroy(&k->mm);
		return ret;
	}
	pthread_mutex_init(&k->zombie_lock, NULL);
	INIT_LIST_HEAD(&k->zombie_secs_pages);
	pthread_mutex_init(&k->ksgxd_lock, NULL);
	pthread_cond_init(&k->ksgxd_waitq, NULL);
	pthread_mutex_init(&k->sanitize_lock, NULL);
	sgx_usage_init(k);

	for (unsigned int i = 0; i < cfg->nr_sections; i++) {
		struct sgx_epc_section *s = &k->sections[i];
		const struct sgx_hw_section *src = &cfg->sections[i];

		pthread_mutex_init(&s->lock, NULL);
		INIT_LIST_HEAD(&s->free_list);
		k->nr_sections = i + 1;
		s->phys_addr = src->phys;
		s->virt_addr = src->virt;
		s->npages = src->size / SGX_PAGE_SIZE;
		memcpy(s->view, src->view, sizeof(s->view));
		s->nr_chunks = (s->npages + SGX_EPC_DESC_CHUNK - 1) / SGX_EPC_DESC_CHUNK;
		s->desc_chunks = desc_table_new(s->nr_chunks);
		if (!s->desc_chunks) {
			ret = -ENOMEM;
			goto err;
		}
		k->total_pages += s->npages;
		sgx_sanitize_section_init(k, i);
	}
	/* Not yet sanitized counts as free: whoever takes such a page sanitizes it. */
	atomic_store(&k->nr_free_pages, (int64_t)k->total_pages);
	/* Budget 0: only notes an EPC with nothing to sanitize (a fresh one) as done. */
	sgx_sanitize_step(k, 0);
	if (cfg->no_ksgxd && !cfg->sanitize_on_demand) {
		/* Nothing would do it in the background. */
		ret = sgx_sanitize_wait(k);
		if (ret)
			goto err;
	}
	if (!cfg->no_ksgxd && !cfg->sanitize_on_demand) {
		ret = sgx_kernel_start_ksgxd(k);
		if (ret)
			goto err;
	}
	return 0;
err:
	sections_destroy(k);
	sgx_mm_destroy(&k->mm);
	sgx_epc_cgroup_destroy(k);
	return ret;
}

int sgx_kernel_start_ksgxd(struct sgx_kernel *k)
{
	sigset_t all, old;
	int ret;

	if (k->ksgxd_running)
		return 0;
	k->ksgxd_stop = false;
	/*
	 * Linux's ksgxd is a kernel thread: no signal of the program can land
	 * on it. Ours inherits the mask it is created with: all blocked.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&k->ksgxd, NULL, ksgxd, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return ret;
	/* As ps, top, gdb and a trace's thread tracks show Linux's reclaimer. */
	pthread_setname_np(k->ksgxd, "ksgxd");
	k->ksgxd_running = true;
	/* Whatever fell below the watermark while it was away. */
	if (sgx_should_reclaim(k, SGX_NR_LOW_PAGES))
		sgx_wake_ksgxd(k);
	return 0;
}

void sgx_kernel_stop_ksgxd(struct sgx_kernel *k)
{
	if (!k->ksgxd_running)
		return;
	pthread_mutex_lock(&k->ksgxd_lock);
	k->ksgxd_stop = true;
	pthread_cond_signal(&k->ksgxd_waitq);
	pthread_mutex_unlock(&k->ksgxd_lock);
	pthread_join(k->ksgxd, NULL);
	k->ksgxd_running = false;
}

void sgx_kernel_destroy(struct sgx_kernel *k)
{
	sgx_kernel_stop_ksgxd(k);
	sections_destroy(k);
	sgx_mm_destroy(&k->mm);
	sgx_epc_cgroup_destroy(k);
	pthread_mutex_destroy(&k->lru_lock);
	pthread_mutex_destroy(&k->ksgxd_lock);
	pthread_cond_destroy(&k->ksgxd_waitq);
	sgx_usage_destroy(k);
}

/*
 * A page moves from one count to another in two steps (a free takes it out
 * of in_use, then puts it on a free list and counts it free, under that
 * list's lock), so a reader between them sees it in neither. Read again
 * until the counts account for every page: a snapshot of a moment when no
 * page was in between. A page lost for good (a bug) still shows after a
 * bounded number of tries.
 */
void sgx_epc_usage(struct sgx_kernel *k, struct sgx_epc_usage *u)
{
	for (unsigned int tries = 0; tries < 1000; tries++) {
		u->total = k->total_pages;
		u->free = (uint64_t)atomic_load(&k->nr_free_pages);
		u->leaked = (uint64_t)atomic_load(&k->nr_leaked_pages);
		u->in_use = (uint64_t)atomic_load(&k->nr_in_use_pages);
		u->zombie = (uint64_t)atomic_load(&k->nr_zombie_pages);
		if (u->free + u->leaked + u->in_use + u->zombie == u->total)
			return;
		if (tries >= 10)
			sched_yield();
	}
}
