/* SPDX-License-Identifier: MIT */
/*
 * Enclave pages by page number, the role of Linux's encl->page_array
 * xarray: a hash table with chaining that doubles when it fills.
 */
#ifndef SOFTSGX_PAGE_ARRAY_H
#define SOFTSGX_PAGE_ARRAY_H

#include <stdbool.h>
#include <stdint.h>

struct page_array_node;

struct page_array {
	struct page_array_node **buckets;
	uint64_t nr_buckets; /* power of two */
	uint64_t count;
};

void page_array_init(struct page_array *pa);
void page_array_destroy(struct page_array *pa);
/* 0, -EBUSY when @index is present, -ENOMEM. */
int page_array_insert(struct page_array *pa, uint64_t index, void *item);
void *page_array_load(const struct page_array *pa, uint64_t index);
void *page_array_erase(struct page_array *pa, uint64_t index);

/* Visit every item; @fn may not change the array. Stops when @fn returns non-zero. */
int page_array_for_each(const struct page_array *pa,
			int (*fn)(uint64_t index, void *item, void *data), void *data);

/*
 * Visit every item; where @fn returns true the item is erased (xa_erase()
 * inside xa_for_each()). Allocates nothing, so it cannot fail.
 */
void page_array_erase_if(struct page_array *pa, bool (*fn)(uint64_t index, void *item, void *data),
			 void *data);

#endif /* SOFTSGX_PAGE_ARRAY_H */
