// SPDX-License-Identifier: MIT
/*
 * EPC use per enclave and per vEPC instance. The kernel keeps no per-enclave
 * counters on the hot paths (EADD, EWB, ELDU): a report walks the enclave's
 * pages under its lock instead, which costs O(pages) per report and nothing
 * otherwise.
 */
#include <stdatomic.h>

#include "kernel/driver.h"
#include "kernel/encl.h"
#include "kernel/usage.h"
#include "kernel/virt.h"

void sgx_usage_init(struct sgx_kernel *k)
{
	pthread_mutex_init(&k->usage_lock, NULL);
	INIT_LIST_HEAD(&k->encls);
	INIT_LIST_HEAD(&k->vepcs);
}

void sgx_usage_destroy(struct sgx_kernel *k)
{
	pthread_mutex_destroy(&k->usage_lock);
}

static void usage_add(struct sgx_kernel *k, struct list_head *link, struct list_head *head,
		      uint64_t *id)
{
	pthread_mutex_lock(&k->usage_lock);
	*id = ++k->next_usage_id;
	list_add_tail(link, head);
	pthread_mutex_unlock(&k->usage_lock);
}

static void usage_del(struct sgx_kernel *k, struct list_head *link)
{
	pthread_mutex_lock(&k->usage_lock);
	list_del_init(link);
	pthread_mutex_unlock(&k->usage_lock);
}

void sgx_usage_add_encl(struct sgx_kernel *k, struct sgx_encl *encl)
{
	usage_add(k, &encl->usage_link, &k->encls, &encl->usage_id);
}

void sgx_usage_del_encl(struct sgx_kernel *k, struct sgx_encl *encl)
{
	usage_del(k, &encl->usage_link);
}

void sgx_usage_add_vepc(struct sgx_kernel *k, struct sgx_vepc *vepc)
{
	usage_add(k, &vepc->usage_link, &k->vepcs, &vepc->usage_id);
}

void sgx_usage_del_vepc(struct sgx_kernel *k, struct sgx_vepc *vepc)
{
	usage_del(k, &vepc->usage_link);
}

static int count_page(uint64_t index, void *item, void *data)
{
	struct sgx_encl_page *page = item;
	struct softsgx_enclave_usage *u = data;

	(void)index;
	u->added_pages++;
	if (page->epc_page)
		u->epc_pages++;
	else if (page->lost)
		u->lost_pages++;
	else if (page->va_page)
		u->evicted_pages++;
	return 0;
}

/* One enclave's row. usage_lock held: @encl cannot be released meanwhile. */
static void encl_usage(struct sgx_encl *encl, struct softsgx_enclave_usage *u)
{
	unsigned int flags = atomic_load(&encl->flags);
	struct list_head *pos;

	*u = (struct softsgx_enclave_usage){.id = encl->usage_id};
	/*
	 * ECREATE sets base, size, the SECS and the first VA page before it
	 * sets CREATED, without the enclave lock (the ioctl flag excludes
	 * other ioctls); the acquire above orders them before our reads.
	 */
	if (!(flags & SGX_ENCL_CREATED))
		return;
	u->flags = SOFTSGX_ENCL_CREATED;
	if (flags & SGX_ENCL_INITIALIZED)
		u->flags |= SOFTSGX_ENCL_INITIALIZED;
	if (flags & SGX_ENCL_DEBUG)
		u->flags |= SOFTSGX_ENCL_DEBUG;
	pthread_mutex_lock(&encl->lock);
	u->base = encl->base;
	u->size = encl->size;
	page_array_for_each(&encl->page_array, count_page, u);
	if (encl->secs.epc_page)
		u->epc_pages++;
	else
		u->evicted_pages++;
	for (pos = encl->va_pages.next; pos != &encl->va_pages; pos = pos->next)
		u->va_pages++;
	u->epc_pages += u->va_pages;
	pthread_mutex_unlock(&encl->lock);
}

void sgx_usage(struct sgx_kernel *k, struct softsgx_enclave_usage *encls, unsigned int max_encls,
	       unsigned int *nr_encls, struct softsgx_vepc_usage *vepcs, unsigned int max_vepcs,
	       unsigned int *nr_vepcs)
{
	struct list_head *pos;
	unsigned int n = 0;

	/* mm.lock first: unmapping (mm.lock held) can release an enclave (usage_lock). */
	pthread_rwlock_rdlock(&k->mm.lock);
	pthread_mutex_lock(&k->usage_lock);
	for (pos = k->encls.next; pos != &k->encls; pos = pos->next) {
		if (n < max_encls)
			encl_usage(list_entry(pos, struct sgx_encl, usage_link), &encls[n]);
		n++;
	}
	*nr_encls = n;
	n = 0;
	for (pos = k->vepcs.next; pos != &k->vepcs; pos = pos->next) {
		struct sgx_vepc *vepc = list_entry(pos, struct sgx_vepc, usage_link);

		if (n < max_vepcs) {
			vepcs[n].id = vepc->usage_id;
			/* In every mm that maps it (struct sgx_vma accounting). */
			vepcs[n].mapped_bytes = (uint64_t)atomic_load(&vepc->mapped_bytes);
			pthread_mutex_lock(&vepc->lock);
			vepcs[n].epc_pages = vepc->page_array.count;
			pthread_mutex_unlock(&vepc->lock);
		}
		n++;
	}
	*nr_vepcs = n;
	pthread_mutex_unlock(&k->usage_lock);
	pthread_rwlock_unlock(&k->mm.lock);
}

void sgx_get_stats(struct sgx_kernel *k, struct softsgx_stats *st)
{
	struct sgx_epc_usage u;
	struct sgx_stats *s = &k->stats;

	sgx_epc_usage(k, &u);
	st->total_pages = u.total;
	st->free_pages = u.free;
	st->in_use_pages = u.in_use;
	st->leaked_pages = u.leaked;
	st->zombie_pages = u.zombie;
	st->allocs = atomic_load(&s->allocs);
	st->frees = atomic_load(&s->frees);
	st->evictions = atomic_load(&s->evictions);
	st->reloads = atomic_load(&s->reloads);
	st->faults = atomic_load(&s->faults);
	st->sigbus = atomic_load(&s->sigbus);
	st->reclaim_batches = atomic_load(&s->reclaim_batches);
	st->etrack_retries = atomic_load(&s->etrack_retries);
	st->ipis = atomic_load(&s->ipis);
	st->eremove_failures = atomic_load(&s->eremove_failures);
	st->lost_pages = atomic_load(&s->lost_pages);
	st->vepc_faults = atomic_load(&s->vepc_faults);
	st->vepc_remove_all = atomic_load(&s->vepc_remove_all);
	st->vepc_eremove_warnings = atomic_load(&s->vepc_eremove_warnings);
	st->sanitize_valid_pages = atomic_load(&s->sanitize_valid_pages);
}
