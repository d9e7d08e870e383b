// SPDX-License-Identifier: MIT
/*
 * The EPC reclaimer: an LRU of enclave pages, batches of SGX_NR_TO_SCAN
 * taken off its head, each page aged, blocked (PTEs zapped, EBLOCK), then
 * written out (ETRACK as needed, EWB into a VA slot and backing storage).
 * The batch's zaps go out together, one zap op per mm for all the pages it
 * maps (a service's client: one ZAP message and one acknowledgement per
 * batch), before any of them is blocked, as Linux zaps before EBLOCK.
 * A SECS follows its last resident child out of an initialized enclave.
 * ksgxd runs batches whenever free pages fall below SGX_NR_LOW_PAGES.
 *
 * The LRU is split by EPC cgroup (epc_cgroup.h): a page sits on the list of
 * the cgroup it is charged to, stamped with a global sequence number. A
 * batch for a cgroup takes the oldest pages of its subtree; the global
 * reclaimer's batch is the root's, so it still takes the oldest pages of
 * the machine, whatever their cgroup (the series walked cgroups in turn
 * instead; exact age order costs us a look at each cgroup's head per page).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernel/driver.h"
#include "kernel/encl.h"
#include "kernel/epc_cgroup.h"
#include "kernel/fault_inject.h"
#include "kernel/mm.h"
#include "obs/trace.h"

/* The LRU of the cgroup @page is charged to (the root for an uncharged one). */
static struct sgx_epc_cgroup *page_lru_cg(struct sgx_kernel *k, struct sgx_epc_page *page)
{
	return page->cg ? page->cg : k->cg_root;
}

/* The youngest end of its cgroup's LRU. With lru_lock. */
static void lru_add(struct sgx_kernel *k, struct sgx_epc_page *page)
{
	struct sgx_epc_cgroup *cg = page_lru_cg(k, page);

	page->lru_seq = k->lru_seq++;
	list_add_tail(&page->list, &cg->lru);
	cg->nr_lru++;
	k->nr_lru++;
}

/* Off its cgroup's LRU. With lru_lock. */
static void lru_del(struct sgx_kernel *k, struct sgx_epc_page *page)
{
	list_del_init(&page->list);
	page_lru_cg(k, page)->nr_lru--;
	k->nr_lru--;
}

void sgx_mark_page_reclaimable(struct sgx_kernel *k, struct sgx_epc_page *page)
{
	sgx_mark_pages_reclaimable(k, &page, 1);
}

void sgx_mark_pages_reclaimable(struct sgx_kernel *k, struct sgx_epc_page *const *pages,
				unsigned int n)
{
	pthread_mutex_lock(&k->lru_lock);
	for (unsigned int i = 0; i < n; i++) {
		pages[i]->flags |= SGX_EPC_PAGE_RECLAIMER_TRACKED;
		lru_add(k, pages[i]);
	}
	pthread_mutex_unlock(&k->lru_lock);
}

int sgx_unmark_page_reclaimable(struct sgx_kernel *k, struct sgx_epc_page *page)
{
	int ret = 0;

	pthread_mutex_lock(&k->lru_lock);
	if (page->flags & SGX_EPC_PAGE_RECLAIMER_TRACKED) {
		/* Off the list means a reclaimer batch has it in hand. */
		if (list_empty(&page->list))
			ret = -EBUSY;
		else {
			lru_del(k, page);
			page->flags &= ~SGX_EPC_PAGE_RECLAIMER_TRACKED;
		}
	}
	pthread_mutex_unlock(&k->lru_lock);
	return ret;
}

bool sgx_should_reclaim(struct sgx_kernel *k, int64_t watermark)
{
	bool ret;

	/* Above the watermark the LRU does not matter: no lock (every allocation asks). */
	if (atomic_load(&k->nr_free_pages) >= watermark)
		return false;
	pthread_mutex_lock(&k->lru_lock);
	ret = atomic_load(&k->nr_free_pages) < watermark && k->nr_lru != 0;
	pthread_mutex_unlock(&k->lru_lock);
	return ret;
}

void sgx_wake_ksgxd(struct sgx_kernel *k)
{
	pthread_mutex_lock(&k->ksgxd_lock);
	k->ksgxd_wake = true;
	pthread_cond_signal(&k->ksgxd_waitq);
	pthread_mutex_unlock(&k->ksgxd_lock);
}

static bool ksgxd_should_stop(struct sgx_kernel *k)
{
	bool stop;

	pthread_mutex_lock(&k->ksgxd_lock);
	stop = k->ksgxd_stop;
	pthread_mutex_unlock(&k->ksgxd_lock);
	return stop;
}

void *ksgxd(void *arg)
{
	struct sgx_kernel *k = arg;

	/* As Linux's ksgxd: sanitize the EPC first (kernel/sanitize.c). */
	sgx_sanitize_background(k, ksgxd_should_stop);
	pthread_mutex_lock(&k->ksgxd_lock);
	while (!k->ksgxd_stop) {
		if (!k->ksgxd_wake) {
			pthread_cond_wait(&k->ksgxd_waitq, &k->ksgxd_lock);
			continue;
		}
		k->ksgxd_wake = false;
		pthread_mutex_unlock(&k->ksgxd_lock);
		/*
		 * As Linux: keep going while below the high watermark, even
		 * through batches that write nothing because every page in
		 * them was young (the next look takes them).
		 */
		while (sgx_should_reclaim(k, SGX_NR_HIGH_PAGES) && !ksgxd_should_stop(k))
			sgx_reclaim_pages(k);
		/* Cgroups that allocations without reclaim found at their max. */
		sgx_epc_cgroup_reclaim_pending(k);
		pthread_mutex_lock(&k->ksgxd_lock);
	}
	pthread_mutex_unlock(&k->ksgxd_lock);
	return NULL;
}

/*
 * Second chance in place of the accessed bit: a page faulted in since the
 * last look is skipped once.
 */
bool sgx_reclaimer_age(struct sgx_encl_page *page)
{
	struct sgx_encl *encl = page->encl;
	bool old;

	pthread_mutex_lock(&encl->lock);
	old = !page->young;
	page->young = false;
	pthread_mutex_unlock(&encl->lock);
	return old;
}

/*
 * Get the page's backing before blocking it, as Linux does: without it the
 * page is not touched and goes back on the LRU, resident and intact.
 */
static bool sgx_reclaimer_prepare(struct sgx_encl_page *page, struct sgx_backing *backing)
{
	struct sgx_encl *encl = page->encl;
	int ret;

	pthread_mutex_lock(&encl->lock);
	ret = sgx_encl_alloc_backing(encl, sgx_encl_page_index(encl, page), backing);
	if (!ret) {
		page->being_reclaimed = true;
		sgx_encl_walk_forget(encl, page);
	}
	pthread_mutex_unlock(&encl->lock);
	return !ret;
}

/* At most this many mms are zapped for one batch; pages mapped in more stay resident. */
#define SGX_RECLAIM_MAX_MMS 16

static void batch_lock(struct sgx_encl **encls, unsigned int nr)
{
	for (unsigned int e = 0; e < nr; e++)
		pthread_mutex_lock(&encls[e]->lock);
}

static void batch_unlock(struct sgx_encl **encls, unsigned int nr)
{
	for (unsigned int e = nr; e-- > 0;)
		pthread_mutex_unlock(&encls[e]->lock);
}

/*
 * The zaps of a batch (Linux sgx_reclaimer_block()'s sgx_zap_enclave_ptes(),
 * for all the batch's pages at once): each mm that maps any of @pages gets
 * one zap op with every one of them it maps, in address order, so that a
 * service's client gets one ZAP message and acknowledges once per batch
 * instead of once per page, and private mode drops runs of adjacent pages
 * with one mmap. A page whose zap failed in some mm (a client that did not
 * acknowledge in time) keeps that mm's bit, as its PTE may still be there,
 * and is marked in @failed. Called and returns with the lock of every
 * page's enclave held (@encls); the mms to put afterwards go to @mms.
 *
 * The enclave locks are dropped while an mm's zap runs (a service's client
 * answers in tens of microseconds, or a second when stalled), so faults on
 * the enclaves' other pages go on meanwhile, as Linux's faults do while its
 * reclaimer waits for a TLB shootdown. That is safe because nothing can map
 * these pages again meanwhile: each is being_reclaimed (a fault answers
 * -EBUSY and retries), and its bit in that mm is cleared before the locks
 * go (mprotect re-installs only pages whose bit is set; a failed zap puts
 * the bit back). The zap itself runs under the mm's lock, read (Linux's
 * mmap_read_lock()), and only on addresses that a VMA of the page's enclave
 * still covers in that mm: a range unmapped meanwhile may hold something
 * else by now.
 */
static unsigned int sgx_reclaimer_zap(struct sgx_encl_page **pages, unsigned int cnt, bool *failed,
				      struct sgx_encl **encls, unsigned int nr_encls,
				      struct sgx_mm **mms)
{
	uint64_t kept[SGX_NR_TO_SCAN], addrs[SGX_NR_TO_SCAN], bits[SGX_NR_TO_SCAN];
	unsigned int idx[SGX_NR_TO_SCAN], nr_mms = 0;

	for (unsigned int i = 0; i < cnt; i++) {
		kept[i] = 0; /* bits whose zap failed: not tried again */
		failed[i] = false;
	}
	for (unsigned int i = 0; i < cnt; i++) {
		uint64_t pending;

		while (pages[i] && (pending = pages[i]->mapped & ~kept[i])) {
			uint64_t bit = pending & -pending;
			struct sgx_encl_mm *em = sgx_encl_mm_of_bit(pages[i]->encl, bit);
			unsigned int n = 0, z = 0;
			struct sgx_mm *mm;
			int err = 0;

			if (!em) {
				/* No mm behind the bit: no PTE either (cannot happen). */
				pages[i]->mapped &= ~bit;
				continue;
			}
			mm = em->mm;
			/* Every page of the batch this mm maps, whichever enclave it is of. */
			for (unsigned int j = i; j < cnt; j++) {
				struct sgx_encl_mm *ej;
				unsigned int at;

				if (!pages[j])
					continue;
				ej = pages[j]->encl == pages[i]->encl
					     ? em
					     : sgx_encl_mm_find(pages[j]->encl, mm);
				if (!ej || !(pages[j]->mapped & ~kept[j] & ej->bit))
					continue;
				/* Sorted by address, so that runs of pages coalesce. */
				for (at = n; at && addrs[at - 1] > pages[j]->desc; at--) {
					addrs[at] = addrs[at - 1];
					bits[at] = bits[at - 1];
					idx[at] = idx[at - 1];
				}
				addrs[at] = pages[j]->desc;
				bits[at] = ej->bit;
				idx[at] = j;
				n++;
			}
			if (nr_mms == SGX_RECLAIM_MAX_MMS) {
				/* Too many processes map the batch: these pages stay. */
				for (unsigned int k = 0; k < n; k++) {
					kept[idx[k]] |= bits[k];
					failed[idx[k]] = true;
				}
				continue;
			}
			for (unsigned int k = 0; k < n; k++)
				pages[idx[k]]->mapped &= ~bits[k];
			sgx_mm_get(mm);
			mms[nr_mms++] = mm;

			batch_unlock(encls, nr_encls);
			pthread_rwlock_rdlock(&mm->lock);
			for (unsigned int k = 0; k < n; k++) {
				struct sgx_vma *vma = sgx_find_vma(mm, addrs[k]);

				if (vma && vma->file && sgx_file_encl(vma->file) == pages[idx[k]]->encl)
					addrs[z++] = addrs[k];
			}
			if (z)
				err = mm->ops->zap(mm, addrs, z);
			pthread_rwlock_unlock(&mm->lock);
			batch_lock(encls, nr_encls);

			if (!err)
				continue;
			for (unsigned int k = 0; k < n; k++) {
				struct sgx_encl_page *page = pages[idx[k]];
				struct sgx_encl_mm *still = sgx_encl_mm_find(page->encl, mm);

				/* The PTE may still be there: the bit comes back, the page stays. */
				if (still && still->bit == bits[k])
					page->mapped |= bits[k];
				kept[idx[k]] |= bits[k];
				failed[idx[k]] = true;
			}
		}
	}
	return nr_mms;
}

/* The enclaves of the batch, each once, in address order: the order their locks are taken in. */
static unsigned int batch_encls(struct sgx_encl_page **pages, unsigned int cnt,
				struct sgx_encl **encls)
{
	unsigned int nr = 0;

	for (unsigned int i = 0; i < cnt; i++) {
		struct sgx_encl *encl = pages[i] ? pages[i]->encl : NULL;
		unsigned int at;

		if (!encl)
			continue;
		for (at = 0; at < nr && encls[at] < encl; at++)
			;
		if (at < nr && encls[at] == encl)
			continue;
		memmove(&encls[at + 1], &encls[at], (nr - at) * sizeof(*encls));
		encls[at] = encl;
		nr++;
	}
	return nr;
}

/*
 * Zap the batch's pages' PTEs, then EBLOCK each (Linux sgx_reclaimer_block(),
 * zap before EBLOCK). @pages[i] is NULL for a page no longer in the batch;
 * @blocked[i] says whether page i was blocked. A page is not blocked when
 * its zap failed in some mm (it may still be written there) or EBLOCK
 * refused it: then it is still valid and resident, and must not be written
 * out (EWB would answer PAGE_NOT_BLOCKED and the page would be lost); the
 * caller puts it back on the LRU. BLKSTATE means blocked already, which is
 * what we want. Linux only warns about EBLOCK, as it cannot fail on the
 * processor for a page the kernel owns; the model's leaf can still answer
 * ENTRYEPOCH_LOCKED or EPC_PAGE_CONFLICT, so no page is risked on it.
 *
 * The locks of all the batch's enclaves are held together (but while an
 * mm's zap runs, see sgx_reclaimer_zap()), taken in address order (nothing
 * else holds two enclave locks), so that one zap per mm covers the whole
 * batch: a PTE bit set under encl->lock means that mm still maps the page
 * and is still listed (sgx_encl_zap_page()).
 */
static unsigned int sgx_reclaimer_block_batch(struct sgx_kernel *k, struct sgx_encl_page **pages,
					      unsigned int cnt, bool *blocked)
{
	unsigned int conflicts = 0;
	struct sgx_encl *encls[SGX_NR_TO_SCAN];
	struct sgx_mm *mms[SGX_RECLAIM_MAX_MMS];
	bool failed[SGX_NR_TO_SCAN];
	unsigned int nr_encls = batch_encls(pages, cnt, encls), nr_mms;

	batch_lock(encls, nr_encls);
	nr_mms = sgx_reclaimer_zap(pages, cnt, failed, encls, nr_encls, mms);
	for (unsigned int i = 0; i < cnt; i++) {
		struct sgx_encl_page *page = pages[i];
		int ret;

		blocked[i] = false;
		if (!page)
			continue;
		if (failed[i]) {
			page->being_reclaimed = false;
			continue;
		}
		ret = encls_eblock(k->hw, sgx_get_epc_virt_addr(k, page->epc_page));
		if (ret == SGX_BLKSTATE)
			ret = SGX_SUCCESS;
		/*
		 * Not valid: the EPC was taken away under this kernel (a guest's
		 * vEPC after the host's REMOVE_ALL). No leaf will ever block it, and
		 * kept it would be picked again forever, each allocation reclaiming
		 * in a loop. Go on, as Linux does after EBLOCK's warning: EWB fails
		 * too and the page is lost (SIGBUS at its next touch).
		 */
		if (ret == SGX_PG_INVLD) {
			fprintf(stderr, "softsgx: EBLOCK of an invalid page: its contents are gone\n");
			ret = SGX_SUCCESS;
		}
		if (ret) {
			fprintf(stderr, "softsgx: EBLOCK returned %#x, page kept\n", ret);
			page->being_reclaimed = false;
			conflicts += ret == SGX_EPC_PAGE_CONFLICT;
		}
		blocked[i] = !ret;
	}
	batch_unlock(encls, nr_encls);
	/* No lock held: the last reference to an mm that exited meanwhile frees it. */
	for (unsigned int m = 0; m < nr_mms; m++)
		sgx_mm_put(mms[m]);
	return conflicts;
}

/*
 * How long a reclaimer waits, holding nothing, after a batch in which
 * EBLOCK found pages locked by another leaf. Such a lock is held for
 * microseconds by a live thread, but for good by the thread of a
 * service client killed inside a leaf, until the enclave's release
 * clears its EPCM locks (hw_epcm_locks_reset()). That release needs the
 * enclave's lock, which each batch holds while EBLOCK waits out the
 * holder (SGX_HW_LEAF_WAIT_NS a page) and took again at once for the
 * next: the service's main thread, which releases the dead client's
 * enclave and answers every other client, waited behind ksgxd for tens of
 * seconds and new clients' HELLOs timed out (svc:test_exit in make check;
 * one run in six after the two service-mode tests before it). The
 * back-off is as long as that wait, so that the lock is free at least half
 * the time even for a waiter the scheduler is slow to run; 5 ms still let
 * one wait a second on a loaded machine.
 */
#define SGX_RECLAIM_CONFLICT_BACKOFF_NS SGX_HW_LEAF_WAIT_NS

static int __sgx_encl_ewb(struct sgx_encl_page *page, void *va_slot, struct sgx_backing *backing)
{
	struct sgx_encl *encl = page->encl;
	struct sgx_kernel *k = encl->k;
	struct sgx_pageinfo pginfo = { 0 };

	/* Straight into backing storage, populated beforehand: nothing runs out of space. */
	pginfo.contents = (uintptr_t)backing->contents;
	pginfo.metadata = (uintptr_t)backing->pcmd;
	return encls_ewb(k->hw, &pginfo, sgx_get_epc_virt_addr(k, page->epc_page), va_slot);
}

/*
 * Linux sgx_encl_ewb()'s ETRACK step. Its result matters: an ETRACK that did
 * not start a cycle leaves the EWB after it NOT_TRACKED whatever the kick
 * does, as no cycle begun after the EBLOCK exists. PREV_TRK_INCMPL (the last
 * cycle still has threads inside) is ended by kicking them out, as Linux's
 * sgx_enclave_etrack() does, and ETRACK tried again.
 */
static void sgx_encl_etrack(struct sgx_encl *encl)
{
	struct sgx_kernel *k = encl->k;
	void *secs = sgx_get_epc_virt_addr(k, encl->secs.epc_page);
	int ret;

	atomic_fetch_add(&k->stats.etrack_retries, 1);
	ret = encls_etrack(k->hw, secs);
	if (ret && k->kick) {
		atomic_fetch_add(&k->stats.ipis, 1);
		k->kick(k, k->kick_data);
		ret = encls_etrack(k->hw, secs);
	}
	if (ret)
		fprintf(stderr, "softsgx: ETRACK returned %#x\n", ret);
}

/* EWB with Linux's retry ladder for NOT_TRACKED: ETRACK, then kick threads out. */
static int sgx_encl_ewb(struct sgx_encl_page *page, struct sgx_backing *backing)
{
	struct sgx_encl *encl = page->encl;
	struct sgx_kernel *k = encl->k;
	struct sgx_va_page *va_page;
	unsigned int va_offset;
	void *va_slot;
	int ret;

	page->being_reclaimed = false;
	va_page = list_first_entry(&encl->va_pages, struct sgx_va_page, list);
	va_offset = sgx_alloc_va_slot(va_page);
	va_slot = (uint8_t *)sgx_get_epc_virt_addr(k, va_page->epc_page) + va_offset;
	if (sgx_va_page_full(va_page))
		list_move_tail(&va_page->list, &encl->va_pages);

	ret = __sgx_encl_ewb(page, va_slot, backing);
	if (ret == SGX_NOT_TRACKED) {
		/* Another ETRACK (SGX2, a parallel reclaimer) may still have done it. */
		sgx_encl_etrack(encl);
		ret = __sgx_encl_ewb(page, va_slot, backing);
		if (ret == SGX_NOT_TRACKED && k->kick) {
			/* After ETRACK, so threads entering later are not missed. */
			atomic_fetch_add(&k->stats.ipis, 1);
			k->kick(k, k->kick_data);
			ret = __sgx_encl_ewb(page, va_slot, backing);
		}
	}
	if (ret == -EIO) {
		/*
		 * EWB succeeded but the backing store refused the copy: the
		 * page is gone and the hardware slot holds its version, so the
		 * slot stays taken until the enclave goes.
		 */
		fprintf(stderr, "softsgx: backing store write failed, enclave page lost\n");
	} else if (ret) {
		fprintf(stderr, "softsgx: EWB returned %#x\n", ret);
		sgx_free_va_slot(va_page, va_offset);
	} else {
		page->va_page = va_page;
		page->va_offset = va_offset;
	}
	return ret;
}

/*
 * The SECS follows its last child out of an initialized enclave, when its
 * backing can be had (Linux: otherwise it stays resident). With encl->lock.
 */
static void sgx_reclaimer_write_secs(struct sgx_encl *encl)
{
	struct sgx_kernel *k = encl->k;
	struct sgx_backing backing;
	int ret;

	if (sgx_encl_alloc_backing(encl, encl->size / SGX_PAGE_SIZE, &backing))
		return;
	ret = sgx_encl_ewb(&encl->secs, &backing);
	sgx_encl_put_backing(&backing);
	if (!ret) {
		sgx_free_epc_page(k, encl->secs.epc_page);
		atomic_fetch_add(&k->stats.evictions, 1);
	} else if (ret == -EIO) {
		/* Written out by EWB, copy lost: no child can ever be loaded again. */
		encl->secs.lost = true;
		sgx_free_epc_page(k, encl->secs.epc_page);
		atomic_fetch_add(&k->stats.lost_pages, 1);
	} else {
		return; /* EWB refused: the SECS is still valid and stays */
	}
	encl->secs.epc_page = NULL;
}

void sgx_reclaimer_write(struct sgx_encl_page *page, struct sgx_backing *backing)
{
	struct sgx_encl *encl = page->encl;
	struct sgx_kernel *k = encl->k;
	struct sgx_epc_page *epc_page = page->epc_page;

	pthread_mutex_lock(&encl->lock);
	epc_page->flags &= ~SGX_EPC_PAGE_RECLAIMER_TRACKED;
	if (sgx_encl_ewb(page, backing)) {
		/*
		 * Blocked and not written out: no leaf can unblock it, so its
		 * contents are gone. Remove it; a later touch gets SIGBUS.
		 */
		page->lost = true;
		sgx_encl_free_epc_page(k, epc_page);
		atomic_fetch_add(&k->stats.lost_pages, 1);
	} else {
		sgx_free_epc_page(k, epc_page);
		atomic_fetch_add(&k->stats.evictions, 1);
	}
	sgx_encl_put_backing(backing);
	page->epc_page = NULL;
	encl->secs_child_cnt--;

	if (!encl->secs_child_cnt && (atomic_load(&encl->flags) & SGX_ENCL_INITIALIZED))
		sgx_reclaimer_write_secs(encl);
	pthread_mutex_unlock(&encl->lock);
}

/* A page of a batch is no longer in it. With lru_lock. */
static void isolated_dec(struct sgx_kernel *k, struct sgx_epc_page *epc_page)
{
	k->nr_isolated--;
	page_lru_cg(k, epc_page)->nr_isolated--;
}

/* A page the batch keeps after all: back on the LRU, its enclave let go. */
static void sgx_reclaimer_putback(struct sgx_kernel *k, struct sgx_epc_page *epc_page)
{
	struct sgx_encl_page *page = epc_page->owner;
	struct sgx_encl *encl = page->encl;

	pthread_mutex_lock(&k->lru_lock);
	lru_add(k, epc_page);
	isolated_dec(k, epc_page);
	pthread_mutex_unlock(&k->lru_lock);
	sgx_encl_put(encl);
}

/*
 * The cgroup under @cg (itself included) whose LRU starts with the oldest
 * page, or NULL when every LRU there is empty. With lru_lock.
 */
static struct sgx_epc_cgroup *oldest_in(struct sgx_epc_cgroup *cg, struct sgx_epc_cgroup *best)
{
	struct list_head *pos;

	if (!list_empty(&cg->lru)) {
		struct sgx_epc_page *head = list_first_entry(&cg->lru, struct sgx_epc_page, list);

		if (!best || head->lru_seq <
				     list_first_entry(&best->lru, struct sgx_epc_page, list)->lru_seq)
			best = cg;
	}
	list_for_each(pos, &cg->children)
		best = oldest_in(list_entry(pos, struct sgx_epc_cgroup, sibling), best);
	return best;
}

unsigned int sgx_reclaim_pages(struct sgx_kernel *k)
{
	return sgx_reclaim_pages_cg(k, NULL);
}

unsigned int sgx_reclaim_pages_cg(struct sgx_kernel *k, struct sgx_epc_cgroup *scan)
{
	struct sgx_epc_page *chunk[SGX_NR_TO_SCAN];
	struct sgx_backing backing[SGX_NR_TO_SCAN];
	struct sgx_encl_page *pages[SGX_NR_TO_SCAN];
	bool blocked[SGX_NR_TO_SCAN];
	unsigned int cnt = 0, done = 0, conflicts;
	struct sgx_trace *trace = hw_trace(k->hw);
	struct sgx_trace_event ev;

	if (trace)
		sgx_trace_event_init(&ev, 'X', "reclaim", "reclaim", sgx_trace_now());

	if (!scan)
		scan = k->cg_root;
	pthread_mutex_lock(&k->lru_lock);
	while (cnt < SGX_NR_TO_SCAN) {
		struct sgx_epc_cgroup *cg = oldest_in(scan, NULL);
		struct sgx_epc_page *epc_page;
		struct sgx_encl_page *page;

		if (!cg)
			break;
		epc_page = list_first_entry(&cg->lru, struct sgx_epc_page, list);
		page = epc_page->owner;
		lru_del(k, epc_page);
		/* Hold the enclave so a concurrent close cannot free it under us. */
		if (sgx_encl_tryget(page->encl)) {
			chunk[cnt++] = epc_page;
			k->nr_isolated++;
			cg->nr_isolated++;
		} else {
			epc_page->flags &= ~SGX_EPC_PAGE_RECLAIMER_TRACKED;
		}
	}
	pthread_mutex_unlock(&k->lru_lock);
	if (cnt)
		atomic_fetch_add(&k->stats.reclaim_batches, 1);

	for (unsigned int i = 0; i < cnt; i++) {
		struct sgx_encl_page *page = chunk[i]->owner;

		if (sgx_reclaimer_age(page) && sgx_reclaimer_prepare(page, &backing[i]))
			continue;
		sgx_reclaimer_putback(k, chunk[i]);
		chunk[i] = NULL;
	}
	for (unsigned int i = 0; i < cnt; i++)
		pages[i] = chunk[i] ? chunk[i]->owner : NULL;
	conflicts = sgx_reclaimer_block_batch(k, pages, cnt, blocked);
	for (unsigned int i = 0; i < cnt; i++) {
		if (!chunk[i] || blocked[i])
			continue;
		/* Not blocked: resident and intact, it goes back on the LRU. */
		sgx_encl_put_backing(&backing[i]);
		sgx_reclaimer_putback(k, chunk[i]);
		chunk[i] = NULL;
	}
	for (unsigned int i = 0; i < cnt; i++) {
		struct sgx_encl_page *page;
		struct sgx_epc_cgroup *cg;
		struct sgx_encl *encl;

		if (!chunk[i])
			continue;
		page = chunk[i]->owner;
		encl = page->encl;
		/*
		 * The EPC page is freed whether written out or lost. Do not look
		 * at page->epc_page to count: once encl->lock is dropped, a
		 * fault may already have loaded the page back.
		 */
		/* Freeing the page uncharges it: note its cgroup first. */
		cg = page_lru_cg(k, chunk[i]);
		sgx_reclaimer_write(page, &backing[i]);
		pthread_mutex_lock(&k->lru_lock);
		k->nr_isolated--;
		cg->nr_isolated--;
		pthread_mutex_unlock(&k->lru_lock);
		done++;
		sgx_encl_put(encl);
	}
	if (conflicts) {
		struct timespec nap = {0, SGX_RECLAIM_CONFLICT_BACKOFF_NS};

		atomic_fetch_add(&k->stats.reclaim_conflict_backoffs, 1);
		nanosleep(&nap, NULL);
	}
	/* A batch that found pages to scan: its EBLOCKs, ETRACK and EWBs nest inside. */
	if (trace && cnt) {
		sgx_trace_arg_int(&ev, "scanned", cnt);
		sgx_trace_arg_int(&ev, "written", done);
		sgx_trace_record_span(trace, &ev);
	}
	return done;
}
