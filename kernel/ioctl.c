// SPDX-License-Identifier: MIT
/*
 * The ioctls of /dev/sgx_enclave (Linux ioctl.c): ENCLAVE_CREATE,
 * ENCLAVE_ADD_PAGES, ENCLAVE_INIT and ENCLAVE_PROVISION, with the errno
 * values Linux returns (see docs/errno.md). The SGX2 ones are in
 * ioctl_sgx2.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <openssl/evp.h>

#include "kernel/driver.h"
#include "kernel/encl.h"
#include "softsgx/sgx_uapi.h"
#include "kernel/uaccess.h"
#include "kernel/fault_inject.h"

/* Attributes any enclave may have; PROVISIONKEY needs ENCLAVE_PROVISION. */
#define SGX_ATTR_UNPRIV_MASK                                                   \
	(SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT | SGX_ATTR_KSS | SGX_ATTR_AEXNOTIFY)

/* EINIT retry schedule on SGX_UNMASKED_EVENT, as Linux. */
#define SGX_EINIT_SPIN_COUNT 20
#define SGX_EINIT_SLEEP_COUNT 50
#define SGX_EINIT_SLEEP_MS 20

static bool signal_pending(struct sgx_kernel *k)
{
	return k->signal_pending && k->signal_pending(k);
}

static int sgx_encl_create(struct sgx_encl *encl, struct sgx_secs *secs)
{
	struct sgx_kernel *k = encl->k;
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { 0 };
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = { 0 };
	struct sgx_epc_page *secs_epc;
	struct sgx_va_page *va_page;
	int ret;

	/* ECREATE checks it too; checking here keeps the size arithmetic safe. */
	if (!secs->size || (secs->size & (secs->size - 1)))
		return -EINVAL;

	va_page = sgx_encl_grow(encl, true, &ret);
	if (ret)
		return ret;
	if (va_page)
		list_add(&va_page->list, &encl->va_pages);

	encl->size = secs->size;
	ret = sgx_encl_backing_create(encl);
	if (ret)
		goto err_out_shrink;

	secs_epc = sgx_alloc_epc_page(k, &encl->secs, true, &ret);
	if (!secs_epc)
		goto err_out_backing;
	encl->secs.epc_page = secs_epc;

	pginfo.contents = (uintptr_t)secs;
	pginfo.metadata = (uintptr_t)&secinfo;
	if (encls_ecreate(k->hw, &pginfo, sgx_get_epc_virt_addr(k, secs_epc))) {
		ret = -EIO;
		goto err_out;
	}
	if (secs->attributes & SGX_ATTR_DEBUG)
		atomic_fetch_or(&encl->flags, SGX_ENCL_DEBUG);
	encl->base = secs->base;
	encl->attributes = secs->attributes;
	encl->attributes_mask = SGX_ATTR_UNPRIV_MASK;
	atomic_fetch_or(&encl->flags, SGX_ENCL_CREATED);
	return 0;

err_out:
	sgx_encl_free_epc_page(k, encl->secs.epc_page);
	encl->secs.epc_page = NULL;
err_out_backing:
	close_backing(encl);
err_out_shrink:
	encl->size = 0;
	sgx_encl_shrink(encl, va_page);
	return ret;
}

static long sgx_ioc_enclave_create(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_enclave_create create_arg;
	struct sgx_secs *secs;
	int ret;

	if (atomic_load(&encl->flags) & SGX_ENCL_CREATED)
		return -EINVAL;
	if (copy_from_user(&create_arg, arg, sizeof(create_arg)))
		return -EFAULT;
	secs = sgx_kaligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	if (!secs)
		return -ENOMEM;
	if (copy_from_user(secs, create_arg.src, SGX_PAGE_SIZE))
		ret = -EFAULT;
	else
		ret = sgx_encl_create(encl, secs);
	free(secs);
	return ret;
}

static int sgx_validate_secinfo(const struct sgx_secinfo *secinfo)
{
	uint64_t perm = secinfo->flags & SGX_SECINFO_PERMISSION_MASK;
	uint64_t pt = secinfo->flags & SGX_SECINFO_PAGE_TYPE_MASK;

	if (pt != SGX_SECINFO_REG && pt != SGX_SECINFO_TCS)
		return -EINVAL;
	if ((perm & SGX_SECINFO_W) && !(perm & SGX_SECINFO_R))
		return -EINVAL;
	/* The CPU zeroes TCS permissions; anything else would skew MRENCLAVE. */
	if (pt == SGX_SECINFO_TCS && perm)
		return -EINVAL;
	if (secinfo->flags & SGX_SECINFO_RESERVED_MASK)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(secinfo->reserved); i++)
		if (secinfo->reserved[i])
			return -EINVAL;
	return 0;
}

static struct sgx_encl_page *sgx_encl_page_alloc(struct sgx_encl *encl, uint64_t offset,
						  uint64_t secinfo_flags)
{
	struct sgx_encl_page *page = sgx_kcalloc(1, sizeof(*page));
	int prot = 0;

	if (!page)
		return NULL;
	page->desc = encl->base + offset;
	page->encl = encl;
	page->type = (uint8_t)SGX_SECINFO_PAGE_TYPE(secinfo_flags);
	if (secinfo_flags & SGX_SECINFO_R)
		prot |= PROT_READ;
	if (secinfo_flags & SGX_SECINFO_W)
		prot |= PROT_WRITE;
	if (secinfo_flags & SGX_SECINFO_X)
		prot |= PROT_EXEC;
	/* The CPU reaches a TCS by read and write whatever SECINFO said. */
	if (page->type == SGX_PAGE_TYPE_TCS)
		prot |= PROT_READ | PROT_WRITE;
	page->vm_max_prot_bits = prot;
	return page;
}

static int __sgx_encl_add_page(struct sgx_encl *encl, struct sgx_encl_page *encl_page,
			       struct sgx_epc_page *epc_page, struct sgx_secinfo *secinfo,
			       const void *contents)
{
	struct sgx_kernel *k = encl->k;
	struct sgx_pageinfo pginfo __attribute__((aligned(32)));
	void *epc = sgx_get_epc_virt_addr(k, epc_page);
	int ret;

	pginfo.secs = (uintptr_t)sgx_get_epc_virt_addr(k, encl->secs.epc_page);
	pginfo.addr = encl_page->desc;
	pginfo.metadata = (uintptr_t)secinfo;
	pginfo.contents = (uintptr_t)contents;
	/* No copy: the contents are in the EPC page already (sgx_encl_add_page()). */
	if (!contents)
		ret = encls_eadd_staged(k->hw, &pginfo, epc);
	else
		ret = encls_eadd(k->hw, &pginfo, epc);
	return ret ? -EIO : 0;
}

/*
 * What the ADD_PAGES loop will read and write next, to ask into the cache
 * while the current page is hashed (see __sgx_encl_extend()).
 */
struct sgx_add_ahead {
	struct sgx_epc_page *epc_page; /* the next EADD's target, or NULL */
	uint64_t src;		       /* a source page of the next batch, or 0 */
};

/*
 * EEXTEND of the page's sixteen chunks, a quarter of the page per call
 * (one acquisition of the EPCM locks per call; see encls_eextend_chunks()).
 * Hashing is compute-bound (SHA-256 of 5184 bytes per page) and leaves the
 * memory system idle, so before each quarter this also asks a quarter of
 * a page's lines of @ahead into the cache: the next EADD then finds its EPC
 * page (and its EPCM entry) there instead of waiting for 64 write-allocates
 * from memory, and the next batch's copy_from_user() its source. On a large
 * enclave, whose EPC pages are cold, that was most of the cost per page
 * above a small enclave's. A quarter at a time stays near what the line
 * fill buffers take; the whole page at once before the hash was slower. A
 * prefetch never faults, so a source address that is not mapped is
 * harmless.
 */
#define SGX_ADD_EXTEND_RUN 1024

static int __sgx_encl_extend(struct sgx_encl *encl, struct sgx_epc_page *epc_page,
			     const struct sgx_add_ahead *ahead)
{
	struct sgx_kernel *k = encl->k;
	uint8_t *secs = sgx_get_epc_virt_addr(k, encl->secs.epc_page);
	uint8_t *page = sgx_get_epc_virt_addr(k, epc_page);
	uint8_t *next = ahead->epc_page ? sgx_get_epc_virt_addr(k, ahead->epc_page) : NULL;
	const uint8_t *src = (const uint8_t *)(uintptr_t)ahead->src;

	if (next)
		hw_epc_prefetch(k->hw, next);
	for (unsigned int off = 0; off < SGX_PAGE_SIZE; off += SGX_ADD_EXTEND_RUN) {
		for (unsigned int l = 0; l < SGX_ADD_EXTEND_RUN; l += 64) {
			if (next)
				__builtin_prefetch(next + off + l, 1, 3);
			if (src)
				__builtin_prefetch(src + off + l, 0, 2);
		}
		/* EEXTEND measures 256 bytes per leaf (SDM Vol. 3D, EEXTEND). */
		if (encls_eextend_chunks(k->hw, secs, page + off, SGX_ADD_EXTEND_RUN / 256))
			return -EIO;
	}
	return 0;
}

/*
 * The host memory of one page to add. The loop below allocates page N+1
 * before it adds page N, so that page N's EEXTENDs can bring page N+1's EPC
 * memory into the cache; that early allocation only takes a page that is
 * free (no reclaim), and if there is none page N+1 is allocated in its turn,
 * as before: the early one never evicts anything or fails the call.
 */
struct sgx_add_slot {
	struct sgx_encl_page *encl_page;
	struct sgx_epc_page *epc_page;
};

/*
 * ADD_PAGES works in batches of this many pages: the locks (struct
 * sgx_add_hold), the EPC allocation (struct sgx_add_pool) and, where a
 * copy_from_user() is a process_vm_readv() (uaccess.h), the copy-in: one
 * per batch into one buffer that stays in the cache instead of one system
 * call per page. 64 KiB keeps the buffer and the page being measured well
 * inside L2. Where copies are plain (the shim's fault-proof copy, a
 * service client's request), each page goes straight into its EPC page.
 */
#define SGX_ADD_BATCH_PAGES 16

/*
 * EPC pages for the call's next pages, taken together with
 * sgx_alloc_epc_pages() (one cgroup charge, section lock and counter
 * update for up to a batch instead of one each per page); those the call
 * does not use go back when it ends (sgx_add_pool_drain()). Once a refill
 * finds nothing free, the call allocates page by page, reclaiming.
 */
struct sgx_add_pool {
	struct sgx_epc_page *pages[SGX_ADD_BATCH_PAGES];
	unsigned int nr, next;
	bool dry;
};

/* An EPC page from @pool for @owner; @want pages are left to add in the call, this one included. */
static struct sgx_epc_page *sgx_add_pool_take(struct sgx_kernel *k, struct sgx_add_pool *pool,
					      void *owner, uint64_t want)
{
	struct sgx_epc_page *page;

	if (pool->next == pool->nr && !pool->dry) {
		pool->nr = sgx_alloc_epc_pages(k, pool->pages,
					       want < SGX_ADD_BATCH_PAGES ? (unsigned int)want
									  : SGX_ADD_BATCH_PAGES);
		pool->next = 0;
		pool->dry = !pool->nr;
	}
	if (pool->next == pool->nr)
		return NULL;
	page = pool->pages[pool->next++];
	page->owner = owner;
	return page;
}

static void sgx_add_pool_drain(struct sgx_kernel *k, struct sgx_add_pool *pool)
{
	while (pool->next < pool->nr)
		sgx_free_epc_page(k, pool->pages[pool->next++]);
}

static int sgx_add_prepare(struct sgx_encl *encl, struct sgx_add_pool *pool, uint64_t offset,
			   uint64_t secinfo_flags, uint64_t want, bool reclaim,
			   struct sgx_add_slot *slot)
{
	int ret = -EBUSY;

	slot->encl_page = sgx_encl_page_alloc(encl, offset, secinfo_flags);
	if (!slot->encl_page)
		return -ENOMEM;
	/* Allocate before taking locks: reclaim needs the enclave's lock. */
	slot->epc_page = sgx_add_pool_take(encl->k, pool, slot->encl_page, want);
	if (!slot->epc_page && reclaim)
		slot->epc_page = sgx_alloc_epc_page(encl->k, slot->encl_page, true, &ret);
	if (!slot->epc_page) {
		free(slot->encl_page);
		slot->encl_page = NULL;
		return ret;
	}
	return 0;
}

/* A prepared page that will not be added. */
static void sgx_add_discard(struct sgx_encl *encl, struct sgx_add_slot *slot)
{
	if (slot->epc_page)
		sgx_encl_free_epc_page(encl->k, slot->epc_page);
	free(slot->encl_page);
	slot->epc_page = NULL;
	slot->encl_page = NULL;
}

/*
 * The locks the add of a page takes, k->mm.lock for read and then
 * encl->lock, as Linux's sgx_encl_add_page() takes mmap_read_lock() and
 * encl->lock. The ADD_PAGES loop holds them across the pages of a batch
 * (see sgx_ioc_enclave_add_pages()), not page by page, and puts the pages
 * it added under them on the reclaimer's LRU together, in their order,
 * before it lets the locks go: the reclaimer, which needs encl->lock,
 * finds them all there as it would have page by page.
 */
struct sgx_add_hold {
	bool locked;
	unsigned int nr; /* pages added under this hold, not yet on the LRU */
	struct sgx_epc_page *added[SGX_ADD_BATCH_PAGES];
};

static void sgx_add_lock(struct sgx_encl *encl, struct sgx_add_hold *h)
{
	if (h->locked)
		return;
	pthread_rwlock_rdlock(&encl->k->mm.lock);
	pthread_mutex_lock(&encl->lock);
	h->locked = true;
}

static void sgx_add_unlock(struct sgx_encl *encl, struct sgx_add_hold *h)
{
	if (!h->locked)
		return;
	if (h->nr)
		sgx_mark_pages_reclaimable(encl->k, h->added, h->nr);
	h->nr = 0;
	pthread_mutex_unlock(&encl->lock);
	pthread_rwlock_unlock(&encl->k->mm.lock);
	h->locked = false;
}

/*
 * EADD (and EEXTEND) of the page @slot holds, under @h's locks, from
 * @contents, a copy of the source, or, when that is NULL, from the
 * program's page at @src, copied straight into the EPC page where Linux
 * reads the page it pinned (encls_eadd_staged()): -EFAULT if it cannot
 * be read, after the checks Linux makes before it pins. On success the
 * page is the enclave's (on the LRU when @h lets the locks go) and @slot
 * is emptied; on failure nothing of it is left in the enclave and @slot
 * still holds its memory, for the caller to free once it dropped the locks.
 */
static int sgx_encl_add_page(struct sgx_encl *encl, struct sgx_add_hold *h,
			     struct sgx_add_slot *slot, struct sgx_va_page *va_page,
			     const void *contents, uint64_t src, struct sgx_secinfo *secinfo,
			     uint64_t flags, const struct sgx_add_ahead *ahead)
{
	struct sgx_encl_page *encl_page = slot->encl_page;
	struct sgx_epc_page *epc_page = slot->epc_page;
	int ret;

	if (va_page)
		list_add(&va_page->list, &encl->va_pages);
	/* Insert before EADD: EADD changes MRENCLAVE and cannot be undone. */
	ret = page_array_insert(&encl->page_array, encl_page->desc / SGX_PAGE_SIZE, encl_page);
	if (ret)
		goto err_out_shrink;
	if (!contents &&
	    copy_from_user(sgx_get_epc_virt_addr(encl->k, epc_page), src, SGX_PAGE_SIZE)) {
		ret = -EFAULT;
		goto err_out;
	}
	ret = __sgx_encl_add_page(encl, encl_page, epc_page, secinfo, contents);
	if (ret)
		goto err_out;
	encl_page->epc_page = epc_page;
	encl->secs_child_cnt++;
	if (flags & SGX_PAGE_MEASURE) {
		ret = __sgx_encl_extend(encl, epc_page, ahead);
		if (ret) {
			encl->secs_child_cnt--;
			encl_page->epc_page = NULL;
			goto err_out;
		}
	}
	h->added[h->nr++] = epc_page;
	slot->encl_page = NULL;
	slot->epc_page = NULL;
	return 0;

err_out:
	page_array_erase(&encl->page_array, encl_page->desc / SGX_PAGE_SIZE);
err_out_shrink:
	sgx_encl_shrink(encl, va_page);
	return ret;
}

int sgx_validate_offset_length(struct sgx_encl *encl, uint64_t offset, uint64_t length)
{
	if (offset & (SGX_PAGE_SIZE - 1))
		return -EINVAL;
	if (!length || (length & (SGX_PAGE_SIZE - 1)))
		return -EINVAL;
	if (offset + length < offset)
		return -EINVAL;
	if (offset + length - SGX_PAGE_SIZE >= encl->size)
		return -EINVAL;
	return 0;
}

static long sgx_ioc_enclave_add_pages(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_enclave_add_pages add_arg;
	struct sgx_secinfo secinfo __attribute__((aligned(64)));
	unsigned int flags = atomic_load(&encl->flags);
	struct sgx_add_slot cur = { 0 }, next = { 0 };
	struct sgx_add_pool pool = { 0 };
	struct sgx_mm *mm = sgx_current_mm();
	/* The source is in this process's memory: it can be prefetched. */
	bool local_src = !mm || !mm->ops->access_user;
	/*
	 * Each page copied straight into its EPC page (sgx_encl_add_page())
	 * where a copy costs no system call; otherwise a batch at a time into
	 * a buffer, with one process_vm_readv() (about 0.7 us a page).
	 */
	bool per_page = sgx_uaccess_plain();
	struct sgx_add_ahead ahead;
	struct sgx_va_page *va_page;
	struct sgx_add_hold hold = { 0 };
	bool whole = true;
	uint64_t c, batch, i;
	uint8_t *buf = NULL;
	int ret = 0;

	if (!(flags & SGX_ENCL_CREATED) || (flags & SGX_ENCL_INITIALIZED))
		return -EINVAL;
	if (copy_from_user(&add_arg, arg, sizeof(add_arg)))
		return -EFAULT;
	if (add_arg.src & (SGX_PAGE_SIZE - 1))
		return -EINVAL;
	if (sgx_validate_offset_length(encl, add_arg.offset, add_arg.length))
		return -EINVAL;
	if (copy_from_user(&secinfo, add_arg.secinfo, sizeof(secinfo)))
		return -EFAULT;
	if (sgx_validate_secinfo(&secinfo))
		return -EINVAL;

	batch = add_arg.length < SGX_ADD_BATCH_PAGES * SGX_PAGE_SIZE
			? add_arg.length
			: SGX_ADD_BATCH_PAGES * SGX_PAGE_SIZE;
	if (!per_page) {
		buf = sgx_kaligned_alloc(SGX_PAGE_SIZE, batch);
		if (!buf)
			return -ENOMEM;
	}
	for (c = 0; c < add_arg.length;) {
		uint64_t n = add_arg.length - c < batch ? add_arg.length - c : batch;

		/*
		 * Linux pins each source page as it adds it: a bad page
		 * fails with -EFAULT after the pages before it went in. A
		 * batch that does not copy whole is redone page by page to
		 * find that page.
		 */
		if (!per_page)
			whole = !copy_from_user(buf, add_arg.src + c, n);
		for (i = 0; i < n; i += SGX_PAGE_SIZE, c += SGX_PAGE_SIZE) {
			bool more = c + SGX_PAGE_SIZE < add_arg.length;

			if (signal_pending(encl->k)) {
				if (!c)
					ret = -EINTR;
				goto out;
			}
			if (!whole && copy_from_user(buf + i, add_arg.src + c, SGX_PAGE_SIZE)) {
				ret = -EFAULT;
				goto out;
			}
			/*
			 * An allocation that may reclaim runs without the
			 * locks (the reclaimer takes encl->lock): that of a
			 * page the last one could not take early, and that of
			 * a VA page (one per SGX_VA_SLOT_COUNT pages).
			 */
			if (!cur.epc_page) {
				sgx_add_unlock(encl, &hold);
				ret = sgx_add_prepare(encl, &pool, add_arg.offset + c, secinfo.flags,
						      (add_arg.length - c) / SGX_PAGE_SIZE, true,
						      &cur);
				if (ret)
					goto out;
			}
			if (!(encl->page_cnt % SGX_VA_SLOT_COUNT))
				sgx_add_unlock(encl, &hold);
			va_page = sgx_encl_grow(encl, true, &ret);
			if (ret)
				goto out;
			/* Never reclaims: allowed under encl->lock, as EAUG's. */
			if (more)
				sgx_add_prepare(encl, &pool, add_arg.offset + c + SGX_PAGE_SIZE,
						secinfo.flags,
						(add_arg.length - c) / SGX_PAGE_SIZE - 1, false,
						&next);
			ahead.epc_page = next.epc_page;
			ahead.src = local_src && c + batch < add_arg.length ? add_arg.src + c + batch : 0;
			sgx_add_lock(encl, &hold);
			ret = sgx_encl_add_page(encl, &hold, &cur, va_page,
						per_page ? NULL : buf + i, add_arg.src + c,
						&secinfo, add_arg.flags, &ahead);
			if (ret)
				goto out;
			cur = next;
			next = (struct sgx_add_slot){ 0 };
		}
		/* Between batches the reclaimer and mmap() may have them. */
		sgx_add_unlock(encl, &hold);
	}
out:
	sgx_add_unlock(encl, &hold);
	sgx_add_discard(encl, &cur);
	sgx_add_discard(encl, &next);
	sgx_add_pool_drain(encl->k, &pool);
	free(buf);
	add_arg.count = c;
	if (copy_to_user(arg, &add_arg, sizeof(add_arg)))
		return -EFAULT;
	return ret;
}

static int sgx_get_key_hash(const uint8_t *modulus, uint8_t hash[32])
{
	unsigned int len = 32;

	return EVP_Digest(modulus, SGX_MODULUS_SIZE, hash, &len, EVP_sha256(), NULL) == 1
		       ? 0
		       : -ENOMEM;
}

static void sgx_update_lepubkeyhash(struct sgx_kernel *k, const uint8_t hash[32])
{
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t v;

		memcpy(&v, hash + 8 * i, sizeof(v));
		hw_wrmsr(k->hw, MSR_IA32_SGXLEPUBKEYHASH0 + i, v);
	}
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int sgx_encl_init(struct sgx_encl *encl, struct sgx_sigstruct *sigstruct, void *token)
{
	struct sgx_kernel *k = encl->k;
	uint32_t leaf0[4], leaf1[4];
	uint64_t attr_reserved, xfrm_reserved;
	uint32_t misc_reserved;
	uint8_t mrsigner[32];
	int ret = SGX_UNMASKED_EVENT;

	/* Attributes, namely PROVISIONKEY, that were not explicitly allowed. */
	if (encl->attributes & ~encl->attributes_mask)
		return -EACCES;

	hw_cpuid_sgx(k->hw, 0, leaf0);
	hw_cpuid_sgx(k->hw, 1, leaf1);
	attr_reserved = ~((uint64_t)leaf1[1] << 32 | leaf1[0]);
	xfrm_reserved = ~((uint64_t)leaf1[3] << 32 | leaf1[2]);
	misc_reserved = ~leaf0[1];
	if (sigstruct->body.attributes & sigstruct->body.attributes_mask & attr_reserved)
		return -EINVAL;
	if (sigstruct->body.miscselect & sigstruct->body.misc_mask & misc_reserved)
		return -EINVAL;
	if (sigstruct->body.xfrm & sigstruct->body.xfrm_mask & xfrm_reserved)
		return -EINVAL;

	ret = sgx_get_key_hash(sigstruct->modulus, mrsigner);
	if (ret)
		return ret;

	pthread_mutex_lock(&encl->lock);
	/* EINIT is interruptible: retry on UNMASKED_EVENT, sleeping between rounds. */
	for (int i = 0; i < SGX_EINIT_SLEEP_COUNT; i++) {
		for (int j = 0; j < SGX_EINIT_SPIN_COUNT; j++) {
			sgx_update_lepubkeyhash(k, mrsigner);
			ret = encls_einit(k->hw, sigstruct, token,
					  sgx_get_epc_virt_addr(k, encl->secs.epc_page));
			if (ret != SGX_UNMASKED_EVENT)
				break;
		}
		if (ret != SGX_UNMASKED_EVENT)
			break;
		sleep_ms(SGX_EINIT_SLEEP_MS);
		if (signal_pending(k)) {
			ret = -EINTR;
			goto out;
		}
	}
	if (encls_faulted(ret))
		ret = -EIO;
	else if (ret)
		ret = -EPERM;
	else
		atomic_fetch_or(&encl->flags, SGX_ENCL_INITIALIZED);
out:
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

static long sgx_ioc_enclave_init(struct sgx_encl *encl, unsigned long arg)
{
	unsigned int flags = atomic_load(&encl->flags);
	struct sgx_enclave_init init_arg;
	struct sgx_sigstruct *sigstruct;
	void *token;
	int ret;

	if (!(flags & SGX_ENCL_CREATED) || (flags & SGX_ENCL_INITIALIZED))
		return -EINVAL;
	if (copy_from_user(&init_arg, arg, sizeof(init_arg)))
		return -EFAULT;
	/* SIGSTRUCT on a page boundary, the token 512-byte aligned behind it. */
	sigstruct = sgx_kaligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	if (!sigstruct)
		return -ENOMEM;
	token = (uint8_t *)sigstruct + SGX_PAGE_SIZE / 2;
	memset(token, 0, sizeof(struct sgx_einittoken));
	if (copy_from_user(sigstruct, init_arg.sigstruct, sizeof(*sigstruct))) {
		ret = -EFAULT;
		goto out;
	}
	/* Legacy vendor field: the CPU accepts only these two values. */
	if (sigstruct->header.vendor != 0x0000 && sigstruct->header.vendor != 0x8086) {
		ret = -EINVAL;
		goto out;
	}
	ret = sgx_encl_init(encl, sigstruct, token);
out:
	free(sigstruct);
	return ret;
}

static long sgx_ioc_enclave_provision(struct sgx_encl *encl, unsigned long arg)
{
	struct sgx_enclave_provision params;
	struct sgx_kernel *k = encl->k;
	struct sgx_file *pf;

	if (copy_from_user(&params, arg, sizeof(params)))
		return -EFAULT;
	pf = sgx_fget(k, (int)params.fd);
	if (!pf)
		return -EINVAL;
	if (pf->type != SGX_FILE_PROVISION) {
		sgx_file_put(pf);
		return -EINVAL;
	}
	sgx_file_put(pf);
	encl->attributes_mask |= SGX_ATTR_PROVISIONKEY;
	return 0;
}

long sgx_encl_ioctl(struct sgx_file *f, unsigned long cmd, unsigned long arg)
{
	struct sgx_encl *encl = f->private_data;
	long ret;

	/* One ioctl at a time per enclave. */
	if (atomic_fetch_or(&encl->flags, SGX_ENCL_IOCTL) & SGX_ENCL_IOCTL)
		return -EBUSY;
	switch (cmd) {
	case SGX_IOC_ENCLAVE_CREATE:
		ret = sgx_ioc_enclave_create(encl, arg);
		break;
	case SGX_IOC_ENCLAVE_ADD_PAGES:
		ret = sgx_ioc_enclave_add_pages(encl, arg);
		break;
	case SGX_IOC_ENCLAVE_INIT:
		ret = sgx_ioc_enclave_init(encl, arg);
		break;
	case SGX_IOC_ENCLAVE_PROVISION:
		ret = sgx_ioc_enclave_provision(encl, arg);
		break;
	case SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS:
		ret = sgx_ioc_enclave_restrict_permissions(encl, arg);
		break;
	case SGX_IOC_ENCLAVE_MODIFY_TYPES:
		ret = sgx_ioc_enclave_modify_types(encl, arg);
		break;
	case SGX_IOC_ENCLAVE_REMOVE_PAGES:
		ret = sgx_ioc_enclave_remove_pages(encl, arg);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	atomic_fetch_and(&encl->flags, ~(unsigned int)SGX_ENCL_IOCTL);
	return ret;
}
