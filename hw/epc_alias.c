// SPDX-License-Identifier: MIT
/*
 * Aliases of EPC: what extended page tables give a virtual machine. A guest
 * kernel passes addresses of its own EPC section (a host vEPC mapping) to
 * ENCLS; the CPU reaches the host EPC page behind each one, and a page not
 * yet backed is backed on the spot by the host's vEPC fault path.
 */
#include <errno.h>

#include "hw/hw_internal.h"

int hw_alias_add(struct sgx_hw *hw, void *base, uint64_t size, hw_alias_fn translate,
		 void *ctx)
{
	int ret = -ENOSPC;

	if (!base || !size || !is_aligned(base, SGX_PAGE_SIZE) || (size & (SGX_PAGE_SIZE - 1)) ||
	    !translate)
		return -EINVAL;
	pthread_rwlock_wrlock(&hw->alias_lock);
	for (unsigned int i = 0; i < SGX_HW_MAX_ALIASES; i++) {
		struct hw_alias *a = &hw->aliases[i];

		if (a->base)
			continue;
		a->base = (uintptr_t)base;
		a->size = size;
		a->translate = translate;
		a->ctx = ctx;
		ret = 0;
		break;
	}
	pthread_rwlock_unlock(&hw->alias_lock);
	return ret;
}

void hw_alias_remove(struct sgx_hw *hw, void *base)
{
	pthread_rwlock_wrlock(&hw->alias_lock);
	for (unsigned int i = 0; i < SGX_HW_MAX_ALIASES; i++)
		if (hw->aliases[i].base == (uintptr_t)base)
			hw->aliases[i].base = 0;
	pthread_rwlock_unlock(&hw->alias_lock);
}

bool epc_resolve_alias(struct sgx_hw *hw, const void *addr, bool alloc, struct epc_ref *ref)
{
	uintptr_t p = (uintptr_t)addr;
	uint8_t *host = NULL;

	pthread_rwlock_rdlock(&hw->alias_lock);
	for (unsigned int i = 0; i < SGX_HW_MAX_ALIASES; i++) {
		struct hw_alias *a = &hw->aliases[i];

		if (a->base && p >= a->base && p - a->base < a->size) {
			host = a->translate(a->ctx, p & ~(SGX_PAGE_SIZE - 1));
			break;
		}
	}
	pthread_rwlock_unlock(&hw->alias_lock);
	/* Only direct-map results: an alias never points at another alias. */
	for (unsigned int i = 0; host && i < hw->nr_sections; i++) {
		struct hw_section *s = &hw->sec[i];

		if (host >= s->virt && host < s->virt + s->size) {
			uint64_t index = (uint64_t)(host - s->virt) >> SGX_PAGE_SHIFT;
			bool ok;

			ref->sec = s;
			ref->pfn = s->first_pfn + index;
			ref->page = s->virt + (index << SGX_PAGE_SHIFT);
			ref->offset = p & (SGX_PAGE_SIZE - 1);
			ref->e = NULL;
			ok = epc_resolve_pfn(hw, ref->pfn, ref);
			ref->offset = p & (SGX_PAGE_SIZE - 1);
			if (!ok)
				return false;
			/* A page the leaf need not create stays absent, as in epc_resolve(). */
			(void)alloc;
			return true;
		}
	}
	return false;
}

void *hw_epc_view(struct sgx_hw *hw, const void *addr, int prot)
{
	struct epc_ref ref;
	uint8_t *view;

	if (!epc_resolve(hw, addr, false, &ref))
		return NULL;
	view = ref.sec->shm.view[prot & (SGX_SHM_NR_VIEWS - 1)];
	if (!view)
		view = ref.sec->shm.map;
	return view + ((ref.pfn - ref.sec->first_pfn) << SGX_PAGE_SHIFT);
}

bool hw_epc_page_valid(struct sgx_hw *hw, const void *addr)
{
	struct epc_ref ref;

	return epc_resolve(hw, addr, false, &ref) && ref.e && ref.e->valid;
}
