// SPDX-License-Identifier: MIT
/*
 * The SGX2 ioctls of /dev/sgx_enclave (Linux ioctl.c, since 6.0):
 * ENCLAVE_RESTRICT_PERMISSIONS (EMODPR), ENCLAVE_MODIFY_TYPES (EMODT) and
 * ENCLAVE_REMOVE_PAGES (EREMOVE of trimmed pages the enclave accepted).
 * Order of checks, errno values, partial progress in `count` and the SGX
 * code in `result` are Linux's (docs/errno.md).
 *
 * One model difference: the PTE of an enclave page carries the EPCM's
 * verdict (sgx_encl_pte_prot()), so every EPCM change made here drops the
 * page's PTE and the next access asks again. Linux leaves the PTE: the
 * hardware's EPCM check does that work.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "driver.h"
#include "encl.h"
#include "softsgx/sgx_uapi.h"
#include "uaccess.h"

/* Linux sgx_ioc_sgx2_ready(): before the argument is even read. */
static int sgx_ioc_sgx2_ready(struct sgx_encl *encl)
{
	if (!sgx_encl_sgx2(encl))
		return -ENODEV;
	if (!(atomic_load(&encl->flags) & SGX_ENCL_INITIALIZED))
		return -EINVAL;
	return 0;
}

/* Linux sgx_reclaim_direct(): one batch when free EPC runs low. No lock held. */
static void sgx_reclaim_direct(struct sgx_kernel *k)
{
	if (sgx_should_reclaim(k, SGX_NR_LOW_PAGES))
		sgx_reclaim_pages(k);
}

static void sgx_kick_all(struct sgx_kernel *k)
{
	if (!k->kick)
		return;
	atomic_fetch_add(&k->stats.ipis, 1);
	k->kick(k, k->kick_data);
}

/*
 * Linux sgx_enclave_etrack(): start tracking so that EACCEPT of the pages
 * just changed can succeed once every thread inside has left. A failing
 * ETRACK (a previous round not complete) gets the threads kicked out and
 * one more try; then the threads are kicked out once more, ending the round.
 * With encl->lock; the SECS is resident (a child of it is).
 */
static int sgx_enclave_etrack(struct sgx_encl *encl)
{
	struct sgx_kernel *k = encl->k;
	void *secs = sgx_get_epc_virt_addr(k, encl->secs.epc_page);

	if (encls_etrack(k->hw, secs)) {
		sgx_kick_all(k);
		if (encls_etrack(k->hw, secs))
			return -EFAULT;
	}
	sgx_kick_all(k);
	return 0;
}

/* The per-page lookup of the three loops: -EAGAIN while the reclaimer holds it. */
static struct sgx_encl_page *sgx2_load_page(struct sgx_encl *encl, uint64_t addr, int *ret)
{
	struct sgx_encl_page *entry = sgx_encl_load_page(encl, addr, ret);

	if (!entry)
		*ret = *ret == -EBUSY ? -EAGAIN : -EFAULT;
	return entry;
}

static void sgx2_lock(struct sgx_encl *encl)
{
	/* mm before encl, as everywhere: zapping a PTE needs the VMA list. */
	pthread_rwlock_rdlock(&encl->k->mm.lock);
	pthread_mutex_lock(&encl->lock);
}

static void sgx2_unlock(struct sgx_encl *encl)
{
	pthread_mutex_unlock(&encl->lock);
	pthread_rwlock_unlock(&encl->k->mm.lock);
}

static long sgx_enclave_restrict_permissions(struct sgx_encl *encl,
					     struct sgx_enclave_restrict_permissions *modp)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { 0 };
	struct sgx_kernel *k = encl->k;
	struct sgx_encl_page *entry;
	uint64_t c;
	int ret;

	secinfo.flags = modp->permissions & SGX_SECINFO_PERMISSION_MASK;
	for (c = 0; c < modp->length; c += SGX_PAGE_SIZE) {
		uint64_t addr = encl->base + modp->offset + c;

		sgx_reclaim_direct(k);
		sgx2_lock(encl);
		entry = sgx2_load_page(encl, addr, &ret);
		if (!entry)
			goto out_unlock;
		/* EMODPR works on REG pages only; anything else would fault. */
		if (entry->type != SGX_PAGE_TYPE_REG) {
			ret = -EINVAL;
			goto out_unlock;
		}
		/*
		 * The kernel's max permissions stay: the enclave may extend the
		 * EPCM ones again with EMODPE, which the kernel never sees.
		 */
		ret = encls_emodpr(k->hw, &secinfo, sgx_get_epc_virt_addr(k, entry->epc_page));
		if (encls_faulted(ret)) {
			ret = -EFAULT;
			goto out_unlock;
		}
		if (ret) {
			modp->result = (uint64_t)ret;
			ret = -EFAULT;
			goto out_unlock;
		}
		sgx_encl_zap_page(encl, entry);
		ret = sgx_enclave_etrack(encl);
		if (ret)
			goto out_unlock;
		sgx2_unlock(encl);
	}
	ret = 0;
	goto out;

out_unlock:
	sgx2_unlock(encl);
out:
	modp->count = c;
	return ret;
}

long sgx_ioc_enclave_restrict_permissions(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_enclave_restrict_permissions params;
	long ret;

	ret = sgx_ioc_sgx2_ready(encl);
	if (ret)
		return ret;
	if (copy_from_user(&params, arg, sizeof(params)))
		return -EFAULT;
	if (sgx_validate_offset_length(encl, params.offset, params.length))
		return -EINVAL;
	if (params.permissions & ~SGX_SECINFO_PERMISSION_MASK)
		return -EINVAL;
	/* EMODPR would #GP on W without R: refuse it before the first page. */
	if ((params.permissions & SGX_SECINFO_W) && !(params.permissions & SGX_SECINFO_R))
		return -EINVAL;
	if (params.result || params.count)
		return -EINVAL;
	ret = sgx_enclave_restrict_permissions(encl, &params);
	if (copy_to_user(arg, &params, sizeof(params)))
		return -EFAULT;
	return ret;
}

/*
 * REG -> TCS needs a page the kernel let be mapped RW (a TCS is read and
 * written by the CPU); from then on it may never be mapped executable.
 * The page stays off the LRU while its PTE goes, as Linux (which drops
 * encl->lock meanwhile). With the locks; -EPERM or -EAGAIN.
 */
static int sgx_encl_make_tcs(struct sgx_encl *encl, struct sgx_encl_page *entry)
{
	if (~entry->vm_max_prot_bits & (PROT_READ | PROT_WRITE))
		return -EPERM;
	entry->vm_max_prot_bits = PROT_READ | PROT_WRITE;
	if (sgx_unmark_page_reclaimable(encl->k, entry->epc_page))
		return -EAGAIN;
	sgx_encl_zap_page(encl, entry);
	sgx_mark_page_reclaimable(encl->k, entry->epc_page);
	return 0;
}

static long sgx_enclave_modify_types(struct sgx_encl *encl, struct sgx_enclave_modify_types *modt)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { 0 };
	struct sgx_kernel *k = encl->k;
	uint64_t page_type = modt->page_type & 0xFF;
	struct sgx_encl_page *entry;
	int max_prot_restore;
	uint64_t c;
	int ret;

	/* The only types EMODT makes. */
	if (page_type != SGX_PAGE_TYPE_TCS && page_type != SGX_PAGE_TYPE_TRIM)
		return -EINVAL;
	secinfo.flags = page_type << 8;
	for (c = 0; c < modt->length; c += SGX_PAGE_SIZE) {
		uint64_t addr = encl->base + modt->offset + c;

		sgx_reclaim_direct(k);
		sgx2_lock(encl);
		entry = sgx2_load_page(encl, addr, &ret);
		if (!entry)
			goto out_unlock;
		/* SDM: REG becomes TCS or TRIM, a TCS can only be trimmed. */
		if (!(entry->type == SGX_PAGE_TYPE_REG ||
		      (entry->type == SGX_PAGE_TYPE_TCS && page_type == SGX_PAGE_TYPE_TRIM))) {
			ret = -EINVAL;
			goto out_unlock;
		}
		max_prot_restore = entry->vm_max_prot_bits;
		if (entry->type == SGX_PAGE_TYPE_REG && page_type == SGX_PAGE_TYPE_TCS) {
			ret = sgx_encl_make_tcs(encl, entry);
			if (ret)
				goto out_entry_changed;
		}
		ret = encls_emodt(k->hw, &secinfo, sgx_get_epc_virt_addr(k, entry->epc_page));
		if (encls_faulted(ret)) {
			ret = -EFAULT;
			goto out_entry_changed;
		}
		if (ret) {
			modt->result = (uint64_t)ret;
			ret = -EFAULT;
			goto out_entry_changed;
		}
		/* MODIFIED now: the EPCM refuses enclave code until EACCEPT. */
		sgx_encl_zap_page(encl, entry);
		ret = sgx_enclave_etrack(encl);
		if (ret)
			goto out_unlock;
		entry->type = (uint8_t)page_type;
		sgx2_unlock(encl);
	}
	ret = 0;
	goto out;

out_entry_changed:
	entry->vm_max_prot_bits = max_prot_restore;
out_unlock:
	sgx2_unlock(encl);
out:
	modt->count = c;
	return ret;
}

long sgx_ioc_enclave_modify_types(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_enclave_modify_types params;
	long ret;

	ret = sgx_ioc_sgx2_ready(encl);
	if (ret)
		return ret;
	if (copy_from_user(&params, arg, sizeof(params)))
		return -EFAULT;
	if (sgx_validate_offset_length(encl, params.offset, params.length))
		return -EINVAL;
	/* The raw enum sgx_page_type, not SECINFO.FLAGS (not shifted by 8). */
	if (params.page_type & ~0xFFULL)
		return -EINVAL;
	if (params.result || params.count)
		return -EINVAL;
	ret = sgx_enclave_modify_types(encl, &params);
	if (copy_to_user(arg, &params, sizeof(params)))
		return -EFAULT;
	return ret;
}

static long sgx_encl_remove_pages(struct sgx_encl *encl, struct sgx_enclave_remove_pages *params)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { 0 };
	struct sgx_kernel *k = encl->k;
	struct sgx_encl_page *entry;
	uint64_t c;
	int ret;

	secinfo.flags = SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X;
	for (c = 0; c < params->length; c += SGX_PAGE_SIZE) {
		uint64_t addr = encl->base + params->offset + c;

		sgx_reclaim_direct(k);
		sgx2_lock(encl);
		entry = sgx2_load_page(encl, addr, &ret);
		if (!entry)
			goto out_unlock;
		if (entry->type != SGX_PAGE_TYPE_TRIM) {
			ret = -EPERM;
			goto out_unlock;
		}
		/*
		 * EMODPR as a probe, as Linux: on a TRIM page it answers
		 * PAGE_NOT_MODIFIABLE until the enclave has run EACCEPT, and
		 * #PF after (the page is no longer MODIFIED, but not REG).
		 */
		ret = encls_emodpr(k->hw, &secinfo, sgx_get_epc_virt_addr(k, entry->epc_page));
		if (!encls_faulted(ret) || ENCLS_TRAPNR(ret) != X86_TRAP_PF) {
			ret = -EPERM;
			goto out_unlock;
		}
		if (sgx_unmark_page_reclaimable(k, entry->epc_page)) {
			ret = -EBUSY;
			goto out_unlock;
		}
		sgx_encl_zap_page(encl, entry);
		sgx_encl_free_epc_page(k, entry->epc_page);
		encl->secs_child_cnt--;
		entry->epc_page = NULL;
		page_array_erase(&encl->page_array, addr / SGX_PAGE_SIZE);
		/* Its VA slot is given back, never the VA page (Linux). */
		sgx_encl_shrink(encl, NULL);
		free(entry);
		sgx2_unlock(encl);
	}
	ret = 0;
	goto out;

out_unlock:
	sgx2_unlock(encl);
out:
	params->count = c;
	return ret;
}

long sgx_ioc_enclave_remove_pages(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_enclave_remove_pages params;
	long ret;

	ret = sgx_ioc_sgx2_ready(encl);
	if (ret)
		return ret;
	if (copy_from_user(&params, arg, sizeof(params)))
		return -EFAULT;
	if (sgx_validate_offset_length(encl, params.offset, params.length))
		return -EINVAL;
	if (params.count)
		return -EINVAL;
	ret = sgx_encl_remove_pages(encl, &params);
	if (copy_to_user(arg, &params, sizeof(params)))
		return -EFAULT;
	return ret;
}
