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

#include "kernel/driver.h"
#include "kernel/encl.h"
#include "softsgx/sgx_uapi.h"
#include "kernel/uaccess.h"

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
	/*
	 * mm before encl, as everywhere. The zaps themselves need only
	 * encl->lock: they reach every mm on encl->mm_list (sgx_encl_zap_page()).
	 */
	pthread_rwlock_rdlock(&encl->k->mm.lock);
	pthread_mutex_lock(&encl->lock);
}

static void sgx2_unlock(struct sgx_encl *encl)
{
	pthread_mutex_unlock(&encl->lock);
	pthread_rwlock_unlock(&encl->k->mm.lock);
}

/* One page of an SGX2 ioctl, with both locks held: 0 or -errno. */
typedef int (*sgx2_page_fn)(struct sgx_encl *encl, struct sgx_encl_page *entry, void *arg);

/*
 * The loop the three ioctls share: page by page, direct reclaim with no
 * lock held, then the locks and the page. Stops at the first error; the
 * bytes done before it go to *count (Linux's partial progress).
 */
static long sgx2_for_each_page(struct sgx_encl *encl, uint64_t offset, uint64_t length,
			       uint64_t *count, sgx2_page_fn fn, void *arg)
{
	struct sgx_encl_page *entry;
	uint64_t c;
	int ret = 0;

	for (c = 0; c < length; c += SGX_PAGE_SIZE) {
		sgx_reclaim_direct(encl->k);
		sgx2_lock(encl);
		entry = sgx2_load_page(encl, encl->base + offset + c, &ret);
		if (entry)
			ret = fn(encl, entry, arg);
		sgx2_unlock(encl);
		if (ret)
			break;
	}
	*count = c;
	return ret;
}

static int sgx_restrict_page(struct sgx_encl *encl, struct sgx_encl_page *entry, void *arg)
{
	struct sgx_enclave_restrict_permissions *modp = arg;
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { 0 };
	struct sgx_kernel *k = encl->k;
	int ret;

	/* EMODPR works on REG pages only; anything else would fault. */
	if (entry->type != SGX_PAGE_TYPE_REG)
		return -EINVAL;
	/*
	 * The kernel's max permissions stay: the enclave may extend the
	 * EPCM ones again with EMODPE, which the kernel never sees.
	 */
	secinfo.flags = modp->permissions & SGX_SECINFO_PERMISSION_MASK;
	ret = encls_emodpr(k->hw, &secinfo, sgx_get_epc_virt_addr(k, entry->epc_page));
	if (encls_faulted(ret))
		return -EFAULT;
	if (ret) {
		modp->result = (uint64_t)ret;
		return -EFAULT;
	}
	sgx_encl_zap_page(encl, entry);
	return sgx_enclave_etrack(encl);
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
	ret = sgx2_for_each_page(encl, params.offset, params.length, &params.count,
				 sgx_restrict_page, &params);
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

static int sgx_modify_type_page(struct sgx_encl *encl, struct sgx_encl_page *entry, void *arg)
{
	struct sgx_enclave_modify_types *modt = arg;
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { 0 };
	struct sgx_kernel *k = encl->k;
	uint64_t page_type = modt->page_type;
	int max_prot_restore;
	int ret;

	/* SDM: REG becomes TCS or TRIM, a TCS can only be trimmed. */
	if (!(entry->type == SGX_PAGE_TYPE_REG ||
	      (entry->type == SGX_PAGE_TYPE_TCS && page_type == SGX_PAGE_TYPE_TRIM)))
		return -EINVAL;
	max_prot_restore = entry->vm_max_prot_bits;
	if (entry->type == SGX_PAGE_TYPE_REG && page_type == SGX_PAGE_TYPE_TCS) {
		ret = sgx_encl_make_tcs(encl, entry);
		if (ret)
			goto out_entry_changed;
	}
	secinfo.flags = page_type << 8;
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
		return ret;
	entry->type = (uint8_t)page_type;
	return 0;

out_entry_changed:
	entry->vm_max_prot_bits = max_prot_restore;
	return ret;
}

static long sgx_enclave_modify_types(struct sgx_encl *encl, struct sgx_enclave_modify_types *modt)
{
	/* The only types EMODT makes. */
	if (modt->page_type != SGX_PAGE_TYPE_TCS && modt->page_type != SGX_PAGE_TYPE_TRIM)
		return -EINVAL;
	return sgx2_for_each_page(encl, modt->offset, modt->length, &modt->count,
				  sgx_modify_type_page, modt);
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

static int sgx_remove_page(struct sgx_encl *encl, struct sgx_encl_page *entry, void *arg)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { 0 };
	struct sgx_kernel *k = encl->k;
	int ret;

	(void)arg;
	if (entry->type != SGX_PAGE_TYPE_TRIM)
		return -EPERM;
	/*
	 * EMODPR as a probe, as Linux: on a TRIM page it answers
	 * PAGE_NOT_MODIFIABLE until the enclave has run EACCEPT, and
	 * #PF after (the page is no longer MODIFIED, but not REG).
	 */
	secinfo.flags = SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X;
	ret = encls_emodpr(k->hw, &secinfo, sgx_get_epc_virt_addr(k, entry->epc_page));
	if (!encls_faulted(ret) || ENCLS_TRAPNR(ret) != X86_TRAP_PF)
		return -EPERM;
	if (sgx_unmark_page_reclaimable(k, entry->epc_page))
		return -EBUSY;
	sgx_encl_zap_page(encl, entry);
	sgx_encl_free_epc_page(k, entry->epc_page);
	encl->secs_child_cnt--;
	entry->epc_page = NULL;
	page_array_erase(&encl->page_array, entry->desc / SGX_PAGE_SIZE);
	/* Its VA slot is given back, never the VA page (Linux). */
	sgx_encl_shrink(encl, NULL);
	free(entry);
	return 0;
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
	ret = sgx2_for_each_page(encl, params.offset, params.length, &params.count, sgx_remove_page,
				 NULL);
	if (copy_to_user(arg, &params, sizeof(params)))
		return -EFAULT;
	return ret;
}
