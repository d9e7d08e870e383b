// SPDX-License-Identifier: MIT
/*
 * Sanitization of the EPC after boot, as Linux's ksgxd does it in the
 * background (__sgx_sanitize_pages() on the dirty list, then once more):
 * EREMOVE every page a previous owner may have left valid (a kernel before
 * kexec, a guest's earlier boot on the same vEPC), so no page is handed out
 * with EPCM state it did not get from its new owner.
 *
 * Two differences from Linux, both about cost, neither visible to software:
 * - Only pages that may hold state are looked at. The CPU model knows which
 *   pages never had an EPCM entry (hw_epc_used_pages(): its EPCM chunks are
 *   created on first use); those are free at once. A fresh 1 TiB EPC has
 *   nothing to sanitize; a guest's EPC (an alias) is looked at whole.
 * - Pages not yet looked at count as free, and an allocation that reaches
 *   one before ksgxd does sanitizes it itself (take_fresh() in epc.c), or,
 *   finding nothing else, runs a step of ksgxd's work: so an allocation never
 *   fails or waits for the whole EPC to be walked. On Linux the free lists
 *   just grow as ksgxd goes, and an early allocation may reclaim or fail.
 *
 * Order, as Linux: a first pass over every section; a SECS whose children
 * come later refuses with SGX_CHILD_PRESENT and goes to its section's dirty
 * list; after the first pass is over everywhere, a second pass retries the
 * dirty lists; what fails twice is leaked, counted and reported.
 */
#include <errno.h>
#include <stdio.h>

#include "kernel/epc_internal.h"

/* Pages per step: ksgxd holds a section's lock for at most this many EREMOVEs. */
#define SGX_SANITIZE_BATCH 256

void sgx_sanitize_section_init(struct sgx_kernel *k, unsigned int i)
{
	struct sgx_epc_section *s = &k->sections[i];

	INIT_LIST_HEAD(&s->dirty_list);
	s->san_next = 0;
	s->san_end = hw_epc_used_pages(k->hw, s->virt_addr, s->npages);
}

int sgx_sanitize_next_locked(struct sgx_kernel *k, unsigned int i)
{
	struct sgx_epc_section *s = &k->sections[i];
	uint64_t idx = s->san_next;
	void *addr = s->virt_addr + idx * SGX_PAGE_SIZE;
	/* Seen before EREMOVE: what a previous owner left behind. */
	bool valid = hw_epc_page_valid(k->hw, addr);

	if (encls_eremove(k->hw, addr)) {
		struct sgx_epc_page *page = sgx_epc_desc_get(k, i, idx);

		/* A failed EREMOVE changed nothing: the next try starts over. */
		if (!page)
			return -ENOMEM;
		page->flags |= SGX_EPC_PAGE_TOUCHED;
		list_add_tail(&page->list, &s->dirty_list);
	}
	if (valid)
		atomic_fetch_add(&k->stats.sanitize_valid_pages, 1);
	s->san_next++;
	return 0;
}

/* 1 when every section's first pass is over, 0 when @budget ran out first. */
static int first_pass(struct sgx_kernel *k, uint64_t *budget)
{
	for (unsigned int i = 0; i < k->nr_sections; i++) {
		struct sgx_epc_section *s = &k->sections[i];
		bool done;
		int ret = 0;

		pthread_mutex_lock(&s->lock);
		while (*budget && s->san_next < s->san_end) {
			ret = sgx_sanitize_next_locked(k, i);
			if (ret)
				break;
			(*budget)--;
		}
		done = s->san_next >= s->san_end;
		pthread_mutex_unlock(&s->lock);
		if (ret)
			return ret;
		if (!done)
			return 0;
	}
	return 1;
}

/*
 * The dirty lists, once every child the first pass could remove is gone.
 * The pages counted free all along: free on success, moved to leaked if not.
 */
static int second_pass(struct sgx_kernel *k, uint64_t *budget)
{
	for (unsigned int i = 0; i < k->nr_sections; i++) {
		struct sgx_epc_section *s = &k->sections[i];

		for (;;) {
			struct sgx_epc_page *page;
			int ret;

			pthread_mutex_lock(&s->lock);
			if (list_empty(&s->dirty_list)) {
				pthread_mutex_unlock(&s->lock);
				break;
			}
			if (!*budget) {
				pthread_mutex_unlock(&s->lock);
				return 0;
			}
			page = list_first_entry(&s->dirty_list, struct sgx_epc_page, list);
			list_del_init(&page->list);
			pthread_mutex_unlock(&s->lock);
			(*budget)--;

			ret = encls_eremove(k->hw, sgx_get_epc_virt_addr(k, page));
			if (!ret) {
				sgx_epc_put_free(k, page, false);
				continue;
			}
			fprintf(stderr, "softsgx: sanitization: EREMOVE returned %#x, "
					"EPC page %#llx leaked\n",
				ret, (unsigned long long)sgx_get_epc_phys_addr(k, page));
			page->flags |= SGX_EPC_PAGE_LEAKED;
			atomic_fetch_sub(&k->nr_free_pages, 1);
			atomic_fetch_add(&k->nr_leaked_pages, 1);
		}
	}
	return 1;
}

int sgx_sanitize_step(struct sgx_kernel *k, uint64_t budget)
{
	int ret;

	if (atomic_load(&k->sanitized))
		return 1;
	pthread_mutex_lock(&k->sanitize_lock);
	ret = first_pass(k, &budget);
	if (ret == 1)
		ret = second_pass(k, &budget);
	if (ret == 1)
		atomic_store(&k->sanitized, true);
	pthread_mutex_unlock(&k->sanitize_lock);
	return ret;
}

int sgx_sanitize_wait(struct sgx_kernel *k)
{
	int ret;

	while (!(ret = sgx_sanitize_step(k, SGX_SANITIZE_BATCH)))
		;
	return ret < 0 ? ret : 0;
}

bool sgx_sanitize_done(struct sgx_kernel *k)
{
	return atomic_load(&k->sanitized);
}

/* ksgxd's first work, in batches, as long as nobody stops it (fork, shutdown). */
void sgx_sanitize_background(struct sgx_kernel *k, bool (*should_stop)(struct sgx_kernel *k))
{
	while (!should_stop(k) && sgx_sanitize_step(k, SGX_SANITIZE_BATCH) == 0)
		;
}
