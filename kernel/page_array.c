// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "kernel/page_array.h"
#include "kernel/fault_inject.h"

struct page_array_node {
	uint64_t index;
	void *item;
	struct page_array_node *next;
};

/* Consecutive page numbers that stay in consecutive buckets. */
#define PA_RUN_SHIFT 6

/*
 * Fibonacci hashing of the run of 64 pages an index is in, the index's
 * place in the run kept as the low bits: an enclave's pages, added, faulted
 * and released in address order, walk the bucket array (and the nodes,
 * allocated in that order) sequentially, as the hardware prefetcher likes,
 * instead of touching a cold line per page, which on an enclave of a few
 * GiB (a bucket array of megabytes) cost about 0.2 us per page added.
 * Runs still spread: pages at any power-of-two stride do not pile up in
 * one bucket.
 */
static uint64_t hash(uint64_t index, uint64_t nr_buckets)
{
	unsigned int bits = (unsigned int)__builtin_ctzll(nr_buckets);
	uint64_t low = index & ((1ULL << PA_RUN_SHIFT) - 1);

	if (bits <= PA_RUN_SHIFT)
		return index & (nr_buckets - 1);
	return (((index >> PA_RUN_SHIFT) * 0x9E3779B97F4A7C15ULL) >> (64 - bits + PA_RUN_SHIFT))
		       << PA_RUN_SHIFT |
	       low;
}

void page_array_init(struct page_array *pa)
{
	pa->buckets = NULL;
	pa->nr_buckets = 0;
	pa->count = 0;
}

void page_array_destroy(struct page_array *pa)
{
	for (uint64_t b = 0; b < pa->nr_buckets; b++) {
		struct page_array_node *n = pa->buckets[b];

		while (n) {
			struct page_array_node *next = n->next;

			free(n);
			n = next;
		}
	}
	free(pa->buckets);
	page_array_init(pa);
}

static int grow(struct page_array *pa)
{
	uint64_t nr = pa->nr_buckets ? pa->nr_buckets * 2 : 64;
	struct page_array_node **buckets = sgx_kcalloc(nr, sizeof(*buckets));

	if (!buckets)
		return -ENOMEM;
	for (uint64_t b = 0; b < pa->nr_buckets; b++) {
		struct page_array_node *n = pa->buckets[b];

		while (n) {
			struct page_array_node *next = n->next;
			uint64_t h = hash(n->index, nr);

			n->next = buckets[h];
			buckets[h] = n;
			n = next;
		}
	}
	free(pa->buckets);
	pa->buckets = buckets;
	pa->nr_buckets = nr;
	return 0;
}

void *page_array_load(const struct page_array *pa, uint64_t index)
{
	if (!pa->nr_buckets)
		return NULL;
	for (struct page_array_node *n = pa->buckets[hash(index, pa->nr_buckets)]; n; n = n->next)
		if (n->index == index)
			return n->item;
	return NULL;
}

int page_array_insert(struct page_array *pa, uint64_t index, void *item)
{
	struct page_array_node *n;
	uint64_t h;

	if (page_array_load(pa, index))
		return -EBUSY;
	if (pa->count >= pa->nr_buckets && grow(pa))
		return -ENOMEM;
	n = sgx_kmalloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	h = hash(index, pa->nr_buckets);
	n->index = index;
	n->item = item;
	n->next = pa->buckets[h];
	pa->buckets[h] = n;
	pa->count++;
	return 0;
}

void *page_array_erase(struct page_array *pa, uint64_t index)
{
	struct page_array_node **pp;

	if (!pa->nr_buckets)
		return NULL;
	for (pp = &pa->buckets[hash(index, pa->nr_buckets)]; *pp; pp = &(*pp)->next) {
		struct page_array_node *n = *pp;
		void *item = n->item;

		if (n->index != index)
			continue;
		*pp = n->next;
		free(n);
		pa->count--;
		return item;
	}
	return NULL;
}

int page_array_for_each(const struct page_array *pa,
			int (*fn)(uint64_t index, void *item, void *data), void *data)
{
	for (uint64_t b = 0; b < pa->nr_buckets; b++)
		for (struct page_array_node *n = pa->buckets[b]; n; n = n->next) {
			int ret = fn(n->index, n->item, data);

			if (ret)
				return ret;
		}
	return 0;
}

void page_array_erase_if(struct page_array *pa, bool (*fn)(uint64_t index, void *item, void *data),
			 void *data)
{
	for (uint64_t b = 0; b < pa->nr_buckets; b++) {
		struct page_array_node **pp = &pa->buckets[b];

		while (*pp) {
			struct page_array_node *n = *pp;

			if (!fn(n->index, n->item, data)) {
				pp = &n->next;
				continue;
			}
			*pp = n->next;
			free(n);
			pa->count--;
		}
	}
}
