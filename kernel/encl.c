// SPDX-License-Identifier: MIT
/*
 * Enclave lifetime, Version Array slots, backing storage and ELDU.
 *
 * Backing storage is shared memory laid out as Linux's shmem backing: the
 * contents of page i at i * 4096 (the SECS is page size/4096), then the
 * 128-byte PCMD of page i at (size + 4096) + i * 128. It is mapped once and
 * held without a descriptor (hw/shm.h): the program may close every
 * descriptor it did not open.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernel/driver.h"
#include "kernel/encl.h"
#include "kernel/mm.h"
#include "kernel/fault_inject.h"
#include "kernel/usage.h"

struct sgx_encl *sgx_encl_alloc(struct sgx_kernel *k)
{
	struct sgx_encl *encl = sgx_kcalloc(1, sizeof(*encl));

	if (!encl)
		return NULL;
	encl->k = k;
	atomic_store(&encl->refcount, 1);
	pthread_mutex_init(&encl->lock, NULL);
	page_array_init(&encl->page_array);
	INIT_LIST_HEAD(&encl->va_pages);
	INIT_LIST_HEAD(&encl->mm_list);
	encl->secs.encl = encl;
	encl->secs.type = SGX_PAGE_TYPE_SECS;
	sgx_usage_add_encl(k, encl);
	return encl;
}

void sgx_encl_get(struct sgx_encl *encl)
{
	atomic_fetch_add(&encl->refcount, 1);
}

bool sgx_encl_tryget(struct sgx_encl *encl)
{
	long v = atomic_load(&encl->refcount);

	do {
		if (v == 0)
			return false;
	} while (!atomic_compare_exchange_weak(&encl->refcount, &v, v + 1));
	return true;
}

/*
 * A page of an enclave whose last user is gone. In a platform service its
 * threads ran in client processes, and one killed in mid-leaf left a lock
 * of the page held, which no atomic instruction of a CPU would: nobody can
 * reach the page any more, so its locks go before EREMOVE.
 */
static void release_epc_page(struct sgx_kernel *k, struct sgx_epc_page *page)
{
	if (k->lps_elsewhere)
		hw_epcm_locks_reset(k->hw, sgx_get_epc_virt_addr(k, page));
	sgx_encl_free_epc_page(k, page);
}

/* Pages the reclaimer holds right now are its to free; leave them. */
static int release_page(uint64_t index, void *item, void *data)
{
	struct sgx_encl_page *entry = item;
	struct sgx_encl *encl = data;

	(void)index;
	if (entry->epc_page) {
		if (!sgx_unmark_page_reclaimable(encl->k, entry->epc_page)) {
			release_epc_page(encl->k, entry->epc_page);
			encl->secs_child_cnt--;
			entry->epc_page = NULL;
		}
	}
	free(entry);
	return 0;
}

static void sgx_encl_release(struct sgx_encl *encl)
{
	struct sgx_kernel *k = encl->k;

	sgx_usage_del_encl(k, encl);
	page_array_for_each(&encl->page_array, release_page, encl);
	page_array_destroy(&encl->page_array);
	/* The SECS goes last: EREMOVE refuses it while children exist. */
	if (!encl->secs_child_cnt && encl->secs.epc_page) {
		release_epc_page(k, encl->secs.epc_page);
		encl->secs.epc_page = NULL;
	}
	while (!list_empty(&encl->va_pages)) {
		struct sgx_va_page *va = list_first_entry(&encl->va_pages, struct sgx_va_page, list);

		list_del_init(&va->list);
		release_epc_page(k, va->epc_page);
		free(va);
	}
	close_backing(encl);
	/*
	 * Left only when the VMAs' files were dropped without unmapping them
	 * (a platform torn down whole): nothing maps the enclave any more.
	 */
	while (!list_empty(&encl->mm_list)) {
		struct sgx_encl_mm *em = list_first_entry(&encl->mm_list, struct sgx_encl_mm, list);

		list_del_init(&em->list);
		sgx_mm_put(em->mm);
		free(em);
	}
	pthread_mutex_destroy(&encl->lock);
	free(encl);
}

void sgx_encl_put(struct sgx_encl *encl)
{
	if (atomic_fetch_sub(&encl->refcount, 1) == 1)
		sgx_encl_release(encl);
}

static struct sgx_epc_page *sgx_alloc_va_page(struct sgx_encl *encl, bool reclaim, int *err)
{
	struct sgx_epc_page *epc_page = sgx_alloc_epc_page(encl->k, NULL, reclaim, err);
	int ret;

	if (!epc_page)
		return NULL;
	ret = encls_epa(encl->k->hw, sgx_get_epc_virt_addr(encl->k, epc_page));
	if (ret) {
		sgx_encl_free_epc_page(encl->k, epc_page);
		*err = -EFAULT;
		return NULL;
	}
	return epc_page;
}

struct sgx_va_page *sgx_encl_grow(struct sgx_encl *encl, bool reclaim, int *err)
{
	struct sgx_va_page *va_page = NULL;

	*err = 0;
	if (!(encl->page_cnt % SGX_VA_SLOT_COUNT)) {
		va_page = sgx_kcalloc(1, sizeof(*va_page));
		if (!va_page) {
			*err = -ENOMEM;
			return NULL;
		}
		INIT_LIST_HEAD(&va_page->list);
		va_page->epc_page = sgx_alloc_va_page(encl, reclaim, err);
		if (!va_page->epc_page) {
			free(va_page);
			return NULL;
		}
		va_page->epc_page->owner = va_page;
	}
	encl->page_cnt++;
	return va_page;
}

void sgx_encl_shrink(struct sgx_encl *encl, struct sgx_va_page *va_page)
{
	encl->page_cnt--;
	if (va_page) {
		sgx_encl_free_epc_page(encl->k, va_page->epc_page);
		list_del_init(&va_page->list);
		free(va_page);
	}
}

struct backing_walk {
	struct sgx_encl *encl;
	sgx_shm_range_fn fn;
	void *arg;
};

static int report_evicted(uint64_t key, void *item, void *data)
{
	struct sgx_encl_page *entry = item;
	struct backing_walk *w = data;
	uint64_t index;

	(void)key;
	if (entry->epc_page || !entry->va_page)
		return 0;
	index = sgx_encl_page_index(w->encl, entry);
	w->fn(w->arg, index, 1);
	w->fn(w->arg, sgx_encl_pcmd_offset(w->encl, index) / SGX_PAGE_SIZE, 1);
	return 0;
}

/*
 * fork() copies what an ELDU may read: evicted pages and their PCMDs. A
 * reloaded page's old copy is garbage its version slot no longer accepts.
 */
static void backing_data(void *ctx, sgx_shm_range_fn fn, void *arg)
{
	struct backing_walk w = { .encl = ctx, .fn = fn, .arg = arg };

	page_array_for_each(&w.encl->page_array, report_evicted, &w);
	if (!w.encl->secs.epc_page && w.encl->secs.va_page)
		report_evicted(0, &w.encl->secs, &w);
}

int sgx_encl_backing_create(struct sgx_encl *encl)
{
	uint64_t encl_size = encl->size + SGX_PAGE_SIZE;
	uint64_t size = encl_size + (encl_size >> 5);

	/* Linux's shmem_file_setup() fails for want of memory. */
	if (sgx_fi_should_fail(SGX_FI_HOST_ALLOC))
		return -ENOMEM;
	/* Sparse: backing costs memory only for pages actually evicted. */
	size = (size + SGX_PAGE_SIZE - 1) & ~(uint64_t)(SGX_PAGE_SIZE - 1);
	return sgx_shm_create(&encl->backing, "softsgx-backing", size, false, backing_data, encl);
}

/* Linux 5.14; older headers lack it, older kernels answer EINVAL. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/*
 * Allocate the backing pages of [off, off + len) now (fallocate() for a
 * descriptor): MADV_POPULATE_WRITE fails with an errno where a later store
 * would take SIGBUS. Before Linux 5.14 there is no such advice, and the
 * store allocates the page (its failure being the host's out-of-memory).
 */
static int populate(struct sgx_encl *encl, uint64_t off, uint64_t len)
{
	uintptr_t start = (uintptr_t)encl->backing.map + (off & ~(uint64_t)(SGX_PAGE_SIZE - 1));
	uintptr_t end = (uintptr_t)encl->backing.map + off + len;

	if (!madvise((void *)start, end - start, MADV_POPULATE_WRITE) || errno == EINVAL)
		return 0;
	return errno == EFAULT || errno == EHWPOISON ? -ENOSPC : -errno;
}

int sgx_encl_alloc_backing(struct sgx_encl *encl, uint64_t index, struct sgx_backing *backing)
{
	uint64_t pcmd_off = sgx_encl_pcmd_offset(encl, index);
	int ret = 0;

	backing->index = index;
	backing->contents = NULL;
	backing->pcmd = NULL;
	if (!encl->backing.map)
		return -ENOMEM;
	if (sgx_fi_should_fail(SGX_FI_BACKING))
		ret = -ENOSPC;
	if (!ret)
		ret = populate(encl, index * SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	if (!ret)
		ret = populate(encl, pcmd_off, sizeof(struct sgx_pcmd));
	if (ret)
		return ret;
	backing->contents = encl->backing.map + index * SGX_PAGE_SIZE;
	backing->pcmd = (struct sgx_pcmd *)(encl->backing.map + pcmd_off);
	return 0;
}

void sgx_encl_put_backing(struct sgx_backing *backing)
{
	backing->contents = NULL;
	backing->pcmd = NULL;
}

void close_backing(struct sgx_encl *encl)
{
	sgx_shm_destroy(&encl->backing);
}

uint64_t sgx_encl_page_index(struct sgx_encl *encl, struct sgx_encl_page *page)
{
	if (page == &encl->secs)
		return encl->size / SGX_PAGE_SIZE;
	return (page->desc - encl->base) / SGX_PAGE_SIZE;
}

uint64_t sgx_encl_pcmd_offset(struct sgx_encl *encl, uint64_t page_index)
{
	return encl->size + SGX_PAGE_SIZE + page_index * sizeof(struct sgx_pcmd);
}

/* ELDU @encl_page from backing storage into a new EPC page. With encl->lock. */
static struct sgx_epc_page *sgx_encl_eldu(struct sgx_encl_page *encl_page,
					  struct sgx_epc_page *secs_page, int *err)
{
	struct sgx_encl *encl = encl_page->encl;
	struct sgx_kernel *k = encl->k;
	uint64_t index = sgx_encl_page_index(encl, encl_page);
	struct sgx_pageinfo pginfo;
	struct sgx_epc_page *epc_page;
	int ret;

	/* Never reclaim here: the caller holds encl->lock, the reclaimer needs it. */
	epc_page = sgx_alloc_epc_page(k, encl_page, false, err);
	if (!epc_page)
		return NULL;
	/* Linux: sgx_encl_get_backing() cannot get the shmem page. The copy stays. */
	if (sgx_fi_should_fail(SGX_FI_BACKING) || !encl->backing.map) {
		*err = -ENOMEM;
		goto err_free;
	}
	/* ELDU reads the copy where EWB wrote it, as Linux passes its shmem pages. */
	pginfo.addr = encl_page == &encl->secs ? 0 : encl_page->desc;
	pginfo.contents = (uintptr_t)(encl->backing.map + index * SGX_PAGE_SIZE);
	pginfo.metadata = (uintptr_t)(encl->backing.map + sgx_encl_pcmd_offset(encl, index));
	pginfo.secs = secs_page ? (uintptr_t)sgx_get_epc_virt_addr(k, secs_page) : 0;
	ret = encls_eldu(k->hw, &pginfo, sgx_get_epc_virt_addr(k, epc_page),
			 (uint8_t *)sgx_get_epc_virt_addr(k, encl_page->va_page->epc_page) +
				 encl_page->va_offset);
	if (ret) {
		/* A tampered or replayed copy: this page is lost, others are not. */
		*err = -EFAULT;
		goto err_free;
	}
	sgx_free_va_slot(encl_page->va_page, encl_page->va_offset);
	/* The VA page has a free slot now: keep such pages first. */
	list_del_init(&encl_page->va_page->list);
	list_add(&encl_page->va_page->list, &encl->va_pages);
	encl_page->va_page = NULL;
	encl_page->va_offset = 0;
	encl_page->epc_page = epc_page;
	atomic_fetch_add(&k->stats.reloads, 1);
	return epc_page;

err_free:
	sgx_encl_free_epc_page(k, epc_page);
	return NULL;
}

struct sgx_encl_page *sgx_encl_load_page(struct sgx_encl *encl, uint64_t addr, int *err)
{
	struct sgx_encl_page *entry = page_array_load(&encl->page_array, addr / SGX_PAGE_SIZE);

	if (!entry || entry->lost || encl->secs.lost) {
		*err = -EFAULT;
		return NULL;
	}
	if (entry->epc_page) {
		if (entry->being_reclaimed) {
			*err = -EBUSY;
			return NULL;
		}
		return entry;
	}
	if (!encl->secs.epc_page && !sgx_encl_eldu(&encl->secs, NULL, err))
		return NULL;
	if (!sgx_encl_eldu(entry, encl->secs.epc_page, err))
		return NULL;
	encl->secs_child_cnt++;
	sgx_mark_page_reclaimable(encl->k, entry->epc_page);
	return entry;
}

unsigned int sgx_alloc_va_slot(struct sgx_va_page *va_page)
{
	for (unsigned int w = 0; w < SGX_VA_SLOT_COUNT / 64; w++) {
		if (va_page->slots[w] == UINT64_MAX)
			continue;
		unsigned int bit = (unsigned int)__builtin_ctzll(~va_page->slots[w]);

		va_page->slots[w] |= 1ULL << bit;
		return (w * 64 + bit) * 8;
	}
	return SGX_PAGE_SIZE; /* full: callers keep one slot per page, so never */
}

void sgx_free_va_slot(struct sgx_va_page *va_page, unsigned int offset)
{
	unsigned int slot = offset / 8;

	va_page->slots[slot / 64] &= ~(1ULL << (slot % 64));
}

bool sgx_va_page_full(struct sgx_va_page *va_page)
{
	for (unsigned int w = 0; w < SGX_VA_SLOT_COUNT / 64; w++)
		if (va_page->slots[w] != UINT64_MAX)
			return false;
	return true;
}

bool sgx_encl_sgx2(const struct sgx_encl *encl)
{
	return sgx_hw_config(encl->k->hw)->sgx2;
}

int sgx_encl_pte_prot(struct sgx_encl *encl, const struct sgx_encl_page *entry, int prot)
{
	void *epc;
	int out = 0;

	if (!entry->epc_page)
		return prot;
	/*
	 * On hardware the EPCM check follows the page walk: an enclave access
	 * the EPCM refuses (a TCS, a page PENDING after EAUG, MODIFIED after
	 * EMODT, restricted by EMODPR) is a #PF with the SGX bit even though
	 * the PTE allows it. Enclave code runs natively here, so the PTE
	 * itself carries the EPCM's verdict: it never allows more than the
	 * EPCM does.
	 */
	epc = sgx_get_epc_virt_addr(encl->k, entry->epc_page);
	if ((prot & PROT_READ) && hw_epcm_accessible(encl->k->hw, epc, PROT_READ))
		out |= PROT_READ;
	if ((prot & PROT_WRITE) && hw_epcm_accessible(encl->k->hw, epc, PROT_WRITE))
		out |= PROT_WRITE;
	if ((prot & PROT_EXEC) && hw_epcm_accessible(encl->k->hw, epc, PROT_EXEC))
		out |= PROT_EXEC;
	return out;
}

int sgx_encl_zap_page(struct sgx_encl *encl, struct sgx_encl_page *entry)
{
	uint64_t kept = 0;
	struct list_head *pos;
	int ret = 0;

	for (pos = encl->mm_list.next; pos != &encl->mm_list && entry->mapped; pos = pos->next) {
		struct sgx_encl_mm *em = list_entry(pos, struct sgx_encl_mm, list);
		int err;

		if (!(entry->mapped & em->bit))
			continue;
		err = em->mm->ops->zap(em->mm, &entry->desc, 1);
		entry->mapped &= ~em->bit;
		if (err) {
			/* The PTE may still be there: the bit stays, the page must too. */
			kept |= em->bit;
			ret = ret ? ret : err;
		}
	}
	entry->mapped = kept;
	return ret;
}

struct sgx_encl_mm *sgx_encl_mm_find(struct sgx_encl *encl, struct sgx_mm *mm)
{
	struct list_head *pos;

	list_for_each(pos, &encl->mm_list) {
		struct sgx_encl_mm *em = list_entry(pos, struct sgx_encl_mm, list);

		if (em->mm == mm)
			return em;
	}
	return NULL;
}

struct sgx_encl_mm *sgx_encl_mm_of_bit(struct sgx_encl *encl, uint64_t bit)
{
	struct list_head *pos;

	list_for_each(pos, &encl->mm_list) {
		struct sgx_encl_mm *em = list_entry(pos, struct sgx_encl_mm, list);

		if (em->bit == bit)
			return em;
	}
	return NULL;
}

int sgx_encl_mm_add(struct sgx_encl *encl, struct sgx_mm *mm, uint64_t *bit)
{
	struct sgx_encl_mm *em;
	int ret = 0;

	pthread_mutex_lock(&encl->lock);
	em = sgx_encl_mm_find(encl, mm);
	if (!em) {
		if (encl->mm_bits == UINT64_MAX || !(em = sgx_kcalloc(1, sizeof(*em)))) {
			ret = -ENOMEM;
			goto out;
		}
		em->mm = mm;
		em->bit = 1ULL << __builtin_ctzll(~encl->mm_bits);
		encl->mm_bits |= em->bit;
		sgx_mm_get(mm);
		list_add_tail(&em->list, &encl->mm_list);
	}
	em->nr_vmas++;
	*bit = em->bit;
out:
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

/* A page's bit of a departed mm must not name the next mm that gets it. */
static int clear_pte_bit(uint64_t index, void *item, void *data)
{
	struct sgx_encl_page *entry = item;

	(void)index;
	entry->mapped &= ~*(uint64_t *)data;
	return 0;
}

void sgx_encl_mm_remove(struct sgx_encl *encl, struct sgx_mm *mm)
{
	struct sgx_encl_mm *em;

	pthread_mutex_lock(&encl->lock);
	em = sgx_encl_mm_find(encl, mm);
	if (em && !--em->nr_vmas) {
		list_del_init(&em->list);
		encl->mm_bits &= ~em->bit;
		page_array_for_each(&encl->page_array, clear_pte_bit, &em->bit);
	} else {
		em = NULL;
	}
	pthread_mutex_unlock(&encl->lock);
	if (em) {
		sgx_mm_put(mm);
		free(em);
	}
}

struct copy_ptes_ctx {
	uint64_t from, to;
};

static int copy_pte_bit(uint64_t index, void *item, void *data)
{
	struct sgx_encl_page *entry = item;
	struct copy_ptes_ctx *c = data;

	(void)index;
	if (entry->mapped & c->from)
		entry->mapped |= c->to;
	return 0;
}

void sgx_encl_mm_copy_ptes(struct sgx_encl *encl, uint64_t from, uint64_t to)
{
	struct copy_ptes_ctx c = { from, to };

	pthread_mutex_lock(&encl->lock);
	page_array_for_each(&encl->page_array, copy_pte_bit, &c);
	pthread_mutex_unlock(&encl->lock);
}

int sgx_encl_install_pte(struct sgx_encl *encl, struct sgx_vma *vma, struct sgx_encl_page *entry,
			 uint64_t addr, int prot)
{
	int ret = vma->mm->ops->install(vma->mm, encl->k, entry->epc_page, addr, prot, vma->prot);

	if (!ret)
		entry->mapped |= vma->pte_bit;
	return ret;
}

/*
 * Linux sgx_encl_eaug_page(): a fault on an address of an initialized
 * enclave with no page there adds one (SGX2). Its kernel-side permissions
 * are RWX: the enclave decides the real ones with EACCEPT, EACCEPTCOPY and
 * EMODPE. No PTE is installed: the page is PENDING, which the EPCM refuses
 * to enclave code until EACCEPT (see sgx_encl_pte_prot()); the next fault
 * installs it once the EPCM allows. mm read-locked, encl->lock not held.
 */
enum sgx_fault_result sgx_encl_eaug_page(struct sgx_encl *encl, uint64_t addr)
{
	struct sgx_kernel *k = encl->k;
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };
	enum sgx_fault_result vmret = SGX_FAULT_SIGBUS;
	struct sgx_encl_page *encl_page;
	struct sgx_epc_page *epc_page;
	struct sgx_va_page *va_page;
	int ret;

	if (!(atomic_load(&encl->flags) & SGX_ENCL_INITIALIZED))
		return SGX_FAULT_SIGBUS;
	encl_page = sgx_kcalloc(1, sizeof(*encl_page));
	if (!encl_page)
		return SGX_FAULT_SIGBUS; /* VM_FAULT_OOM: the process gets no signal it could handle either */
	encl_page->desc = addr;
	encl_page->encl = encl;
	encl_page->vm_max_prot_bits = PROT_READ | PROT_WRITE | PROT_EXEC;

	pthread_mutex_lock(&encl->lock);
	/* Never reclaim here: the reclaimer needs encl->lock. Busy: retry the access. */
	epc_page = sgx_alloc_epc_page(k, encl_page, false, &ret);
	if (!epc_page) {
		if (ret == -EBUSY)
			vmret = SGX_FAULT_RETRY;
		goto err_out_unlock;
	}
	va_page = sgx_encl_grow(encl, false, &ret);
	if (ret)
		goto err_out_epc;
	if (va_page)
		list_add(&va_page->list, &encl->va_pages);
	/* Another thread's fault added it while encl->lock was not held. */
	if (page_array_insert(&encl->page_array, addr / SGX_PAGE_SIZE, encl_page))
		goto err_out_shrink;
	/*
	 * EAUG names the SECS: bring it back if the reclaimer took it with
	 * the last child (Linux assumes it resident here).
	 */
	if (!encl->secs.epc_page && !sgx_encl_eldu(&encl->secs, NULL, &ret)) {
		if (ret == -EBUSY)
			vmret = SGX_FAULT_RETRY;
		goto err_out;
	}
	pginfo.secs = (uintptr_t)sgx_get_epc_virt_addr(k, encl->secs.epc_page);
	pginfo.addr = addr;
	pginfo.metadata = 0;
	pginfo.contents = 0;
	if (encls_eaug(k->hw, &pginfo, sgx_get_epc_virt_addr(k, epc_page)))
		goto err_out;
	encl_page->epc_page = epc_page;
	encl_page->type = SGX_PAGE_TYPE_REG;
	encl->secs_child_cnt++;
	sgx_mark_page_reclaimable(k, epc_page);
	pthread_mutex_unlock(&encl->lock);
	return SGX_FAULT_RETRY;

err_out:
	page_array_erase(&encl->page_array, addr / SGX_PAGE_SIZE);
err_out_shrink:
	sgx_encl_shrink(encl, va_page);
err_out_epc:
	sgx_encl_free_epc_page(k, epc_page);
err_out_unlock:
	pthread_mutex_unlock(&encl->lock);
	free(encl_page);
	return vmret;
}
