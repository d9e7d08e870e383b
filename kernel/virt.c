// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "softsgx/sgx_uapi.h"
#include "kernel/epc_cgroup.h"
#include "kernel/usage.h"
#include "obs/trace.h"
#include "kernel/virt.h"
#include "kernel/fault_inject.h"

struct sgx_vepc *sgx_vepc_alloc(struct sgx_kernel *k)
{
	struct sgx_vepc *vepc = sgx_kcalloc(1, sizeof(*vepc));

	if (!vepc)
		return NULL;
	vepc->k = k;
	pthread_mutex_init(&vepc->lock, NULL);
	page_array_init(&vepc->page_array);
	sgx_usage_add_vepc(k, vepc);
	return vepc;
}

/*
 * A vEPC page backed on first touch (the counter vepc_faults): an instant
 * on the faulting thread's track, with the page's index in the file and the
 * host EPC page that now backs it.
 */
static void trace_vepc_fault(struct sgx_kernel *k, uint64_t index,
			     const struct sgx_epc_page *epc_page)
{
	struct sgx_trace *trace = hw_trace(k->hw);
	struct sgx_trace_event ev;

	if (!trace)
		return;
	sgx_trace_event_init(&ev, 'i', "vEPC fault", "vepc", sgx_trace_now());
	sgx_trace_arg_int(&ev, "index", (int64_t)index);
	sgx_trace_arg_hex(&ev, "epc", sgx_get_epc_phys_addr(k, epc_page));
	sgx_trace_record(trace, &ev);
}

/* The page at file index @index, allocated if absent. With vepc->lock. */
static struct sgx_epc_page *vepc_get_page(struct sgx_vepc *vepc, uint64_t index, int *err)
{
	struct sgx_epc_page *epc_page = page_array_load(&vepc->page_array, index);

	if (epc_page)
		return epc_page;
	/* Never reclaimed, so never allocated with reclaim either. */
	epc_page = sgx_alloc_epc_page(vepc->k, vepc, false, err);
	if (!epc_page)
		return NULL;
	*err = page_array_insert(&vepc->page_array, index, epc_page);
	if (*err) {
		sgx_free_epc_page(vepc->k, epc_page);
		return NULL;
	}
	atomic_fetch_add(&vepc->k->stats.vepc_faults, 1);
	trace_vepc_fault(vepc->k, index, epc_page);
	return epc_page;
}

enum sgx_fault_result sgx_vepc_fault(struct sgx_vepc *vepc, struct sgx_vma *vma, uint64_t addr)
{
	uint64_t page_addr = addr & ~(SGX_PAGE_SIZE - 1);
	struct sgx_epc_page *epc_page;
	int err = 0;

	pthread_mutex_lock(&vepc->lock);
	epc_page = vepc_get_page(vepc, (page_addr - vma->file_base) / SGX_PAGE_SIZE, &err);
	if (epc_page)
		err = vma->mm->ops->install(vma->mm, vepc->k, epc_page, page_addr, vma->prot,
					    vma->prot);
	pthread_mutex_unlock(&vepc->lock);
	if (!err)
		return SGX_FAULT_RETRY;
	/* -EBUSY: host enclaves hold reclaimable pages; ksgxd was woken, retry. */
	return err == -EBUSY ? SGX_FAULT_RETRY : SGX_FAULT_SIGBUS;
}

/* Back the page at @page_addr of a vEPC mapping. 0, -EINVAL, or the allocator's errno. */
static int vepc_populate_page(struct sgx_mm *mm, uintptr_t page_addr)
{
	struct sgx_vma *vma;
	int err = -EINVAL;

	pthread_rwlock_rdlock(&mm->lock);
	vma = sgx_find_vma(mm, page_addr);
	if (vma && vma->file && vma->file->type == SGX_FILE_VEPC) {
		struct sgx_vepc *vepc = vma->file->private_data;

		err = 0;
		pthread_mutex_lock(&vepc->lock);
		vepc_get_page(vepc, (page_addr - vma->file_base) / SGX_PAGE_SIZE, &err);
		pthread_mutex_unlock(&vepc->lock);
	}
	pthread_rwlock_unlock(&mm->lock);
	return err;
}

int sgx_vepc_populate(struct sgx_kernel *k, uintptr_t addr, uint64_t size)
{
	return sgx_vepc_populate_mm(k, &k->mm, addr, size);
}

int sgx_vepc_populate_mm(struct sgx_kernel *k, struct sgx_mm *mm, uintptr_t addr, uint64_t size)
{
	/* @mm's EPC cgroup pays for the pages. */
	struct sgx_mm *prev = sgx_set_current_mm(mm);
	int err = 0;

	for (uint64_t off = 0; off < size && !err; off += SGX_PAGE_SIZE) {
		err = vepc_populate_page(mm, addr + off);

		/*
		 * Host enclave pages are reclaimable: write some out, as ksgxd
		 * would; those of the cgroup at its max first, if that was it.
		 */
		while (err == -EBUSY) {
			if (!sgx_epc_cgroup_reclaim_pending(k) && !sgx_reclaim_pages(k)) {
				err = -ENOMEM;
				break;
			}
			err = vepc_populate_page(mm, addr + off);
		}
	}
	sgx_set_current_mm(prev);
	if (err)
		return err;
	return 0;
}

void *sgx_vepc_lookup(struct sgx_kernel *k, uintptr_t addr)
{
	return sgx_vepc_lookup_mm(k, &k->mm, addr);
}

void *sgx_vepc_lookup_mm(struct sgx_kernel *k, struct sgx_mm *mm, uintptr_t addr)
{
	struct sgx_epc_page *epc_page = NULL;
	struct sgx_vma *vma;

	pthread_rwlock_rdlock(&mm->lock);
	vma = sgx_find_vma(mm, addr);
	if (vma && vma->file && vma->file->type == SGX_FILE_VEPC) {
		struct sgx_vepc *vepc = vma->file->private_data;

		pthread_mutex_lock(&vepc->lock);
		epc_page = page_array_load(&vepc->page_array, (addr - vma->file_base) / SGX_PAGE_SIZE);
		pthread_mutex_unlock(&vepc->lock);
	}
	pthread_rwlock_unlock(&mm->lock);
	return epc_page ? sgx_get_epc_virt_addr(k, epc_page) : NULL;
}

void *sgx_vepc_translate(void *ctx, uintptr_t page_addr)
{
	struct sgx_kernel *k = ctx;
	struct sgx_epc_page *epc_page = NULL;
	struct sgx_vma *vma;
	int err;

	pthread_rwlock_rdlock(&k->mm.lock);
	vma = sgx_find_vma(&k->mm, page_addr);
	if (vma && vma->file && vma->file->type == SGX_FILE_VEPC) {
		struct sgx_vepc *vepc = vma->file->private_data;

		pthread_mutex_lock(&vepc->lock);
		epc_page = vepc_get_page(vepc, (page_addr - vma->file_base) / SGX_PAGE_SIZE, &err);
		pthread_mutex_unlock(&vepc->lock);
	}
	pthread_rwlock_unlock(&k->mm.lock);
	return epc_page ? sgx_get_epc_virt_addr(k, epc_page) : NULL;
}

/* EREMOVE unconditionally: the guest may have left the page in any state. */
static int sgx_vepc_remove_page(struct sgx_kernel *k, struct sgx_epc_page *epc_page)
{
	return encls_eremove(k->hw, sgx_get_epc_virt_addr(k, epc_page));
}

static int sgx_vepc_free_page(struct sgx_kernel *k, struct sgx_epc_page *epc_page)
{
	int ret = sgx_vepc_remove_page(k, epc_page);

	if (ret) {
		/*
		 * CHILD_PRESENT is expected for a SECS whose children go later.
		 * Anything else (a thread still inside a guest enclave) is the
		 * VMM's bug: count it and say so, as Linux's WARN does.
		 */
		if (ret != SGX_CHILD_PRESENT) {
			atomic_fetch_add(&k->stats.vepc_eremove_warnings, 1);
			fprintf(stderr, "softsgx: vEPC EREMOVE returned %d (%#x)\n", ret, ret);
		}
		return ret;
	}
	sgx_free_epc_page(k, epc_page);
	return 0;
}

struct remove_all_ctx {
	struct sgx_kernel *k;
	long failures;
	bool busy;
};

static int remove_all_one(uint64_t index, void *item, void *data)
{
	struct remove_all_ctx *c = data;
	int ret = sgx_vepc_remove_page(c->k, item);

	(void)index;
	if (!ret)
		return 0;
	if (ret == SGX_CHILD_PRESENT) {
		/* A SECS: userspace retries once its children are gone. */
		c->failures++;
		return 0;
	}
	/*
	 * ENCLAVE_ACT, or #GP from an EREMOVE racing on the same SECS: both
	 * are userspace's doing (a running guest, concurrent ioctls).
	 */
	c->busy = true;
	return 1;
}

static long sgx_vepc_remove_all(struct sgx_vepc *vepc)
{
	struct remove_all_ctx c = { .k = vepc->k };
	struct sgx_trace *trace = hw_trace(vepc->k->hw);
	struct sgx_trace_event ev;
	long ret;

	if (trace)
		sgx_trace_event_init(&ev, 'X', "REMOVE_ALL", "vepc", sgx_trace_now());
	atomic_fetch_add(&vepc->k->stats.vepc_remove_all, 1);
	pthread_mutex_lock(&vepc->lock);
	page_array_for_each(&vepc->page_array, remove_all_one, &c);
	pthread_mutex_unlock(&vepc->lock);
	ret = c.busy ? -EBUSY : c.failures;
	if (trace) {
		/* The ioctl's return: SECS pages left (children elsewhere), or -EBUSY. */
		sgx_trace_arg_int(&ev, "ret", ret);
		sgx_trace_record_span(trace, &ev);
	}
	return ret;
}

long sgx_vepc_ioctl(struct sgx_vepc *vepc, unsigned long cmd, unsigned long arg)
{
	switch (cmd) {
	case SGX_IOC_VEPC_REMOVE_ALL:
		if (arg)
			return -EINVAL;
		return sgx_vepc_remove_all(vepc);
	default:
		return -ENOTTY;
	}
}

struct release_ctx {
	struct sgx_vepc *vepc;
	struct list_head *secs_pages;
	bool second_pass;
};

/* True when the page left the instance (freed, or handed to the zombie list). */
static bool release_one(uint64_t index, void *item, void *data)
{
	struct release_ctx *c = data;
	struct sgx_epc_page *epc_page = item;
	struct sgx_kernel *k = c->vepc->k;

	(void)index;
	if (k->powered_off) {
		/* Nothing runs ENCLS any more: the page just goes back. */
		sgx_free_epc_page(k, epc_page);
	} else if (sgx_vepc_free_page(k, epc_page)) {
		/* First pass: a SECS with children, retried below. */
		if (!c->second_pass)
			return false;
		/*
		 * Its children live in another instance: a zombie for now. No
		 * cgroup pays for it any more (zombies are not in use).
		 */
		sgx_epc_page_uncharge(epc_page);
		atomic_fetch_sub(&k->nr_in_use_pages, 1);
		atomic_fetch_add(&k->nr_zombie_pages, 1);
		list_add_tail(&epc_page->list, c->secs_pages);
	}
	return true;
}

static void release_pass(struct sgx_vepc *vepc, struct list_head *secs_pages, bool second)
{
	struct release_ctx c = { vepc, secs_pages, second };

	/* Release cannot fail (Linux's file release returns nothing): no allocation here. */
	page_array_erase_if(&vepc->page_array, release_one, &c);
}

void sgx_vepc_release(struct sgx_vepc *vepc)
{
	struct sgx_kernel *k = vepc->k;
	struct list_head secs_pages = LIST_HEAD_INIT(secs_pages);
	struct list_head *pos, *tmp;

	sgx_usage_del_vepc(k, vepc);
	/* Children first; SECS pages fail with CHILD_PRESENT and stay. */
	release_pass(vepc, &secs_pages, false);
	/* SECS pages whose children were all in this instance go now. */
	release_pass(vepc, &secs_pages, true);

	/*
	 * A child removed above may have pinned a SECS that an earlier release
	 * left on the zombie list: retry them all.
	 */
	pthread_mutex_lock(&k->zombie_lock);
	list_for_each_safe(pos, tmp, &k->zombie_secs_pages) {
		struct sgx_epc_page *epc_page = list_entry(pos, struct sgx_epc_page, list);

		list_del_init(&epc_page->list);
		atomic_fetch_sub(&k->nr_zombie_pages, 1);
		atomic_fetch_add(&k->nr_in_use_pages, 1);
		if (sgx_vepc_free_page(k, epc_page)) {
			atomic_fetch_sub(&k->nr_in_use_pages, 1);
			atomic_fetch_add(&k->nr_zombie_pages, 1);
			list_add_tail(&epc_page->list, &secs_pages);
		}
	}
	list_for_each_safe(pos, tmp, &secs_pages)
		list_move_tail(pos, &k->zombie_secs_pages);
	pthread_mutex_unlock(&k->zombie_lock);

	page_array_destroy(&vepc->page_array);
	pthread_mutex_destroy(&vepc->lock);
	free(vepc);
}
