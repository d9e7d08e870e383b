// SPDX-License-Identifier: MIT
/*
 * File operations and memory management of the SGX device files: open and
 * release, ioctl dispatch, mmap/munmap/mprotect over the model's VMAs, and
 * the page-fault entry that Linux reaches through vm_ops->fault.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/personality.h>

#include "kernel/driver.h"
#include "kernel/encl.h"
#include "obs/trace.h"
#include "kernel/virt.h"
#include "kernel/fault_inject.h"

#define PROT_ACCESS (PROT_READ | PROT_WRITE | PROT_EXEC)
#ifndef PROT_SEM
#define PROT_SEM 0x8 /* <asm-generic/mman-common.h>; glibc does not define it */
#endif

struct sgx_file *sgx_file_open(struct sgx_kernel *k, enum sgx_file_type type, int *err)
{
	return sgx_file_open_mm(k, &k->mm, type, err);
}

struct sgx_file *sgx_file_open_mm(struct sgx_kernel *k, struct sgx_mm *mm, enum sgx_file_type type,
				  int *err)
{
	struct sgx_file *f;

	if (type != SGX_FILE_ENCLAVE && type != SGX_FILE_PROVISION && type != SGX_FILE_VEPC) {
		*err = -ENODEV;
		return NULL;
	}
	f = sgx_kcalloc(1, sizeof(*f));
	if (!f) {
		*err = -ENOMEM;
		return NULL;
	}
	f->k = k;
	f->mm = mm;
	f->type = type;
	atomic_store(&f->refcount, 1);
	if (type == SGX_FILE_ENCLAVE || type == SGX_FILE_VEPC) {
		f->private_data = type == SGX_FILE_ENCLAVE ? (void *)sgx_encl_alloc(k)
							   : (void *)sgx_vepc_alloc(k);
		if (!f->private_data) {
			free(f);
			*err = -ENOMEM;
			return NULL;
		}
	}
	sgx_mm_get(mm);
	return f;
}

void sgx_file_get(struct sgx_file *f)
{
	atomic_fetch_add(&f->refcount, 1);
}

void sgx_file_put(struct sgx_file *f)
{
	if (atomic_fetch_sub(&f->refcount, 1) != 1)
		return;
	if (f->type == SGX_FILE_ENCLAVE)
		sgx_encl_put(f->private_data);
	else if (f->type == SGX_FILE_VEPC)
		sgx_vepc_release(f->private_data);
	sgx_mm_put(f->mm);
	free(f);
}

struct sgx_encl *sgx_file_encl(const struct sgx_file *f)
{
	return f->type == SGX_FILE_ENCLAVE ? f->private_data : NULL;
}

long sgx_file_ioctl(struct sgx_file *f, unsigned long cmd, unsigned long arg)
{
	/* ioctl(2) takes the command as an unsigned int: upper bits never arrive. */
	cmd = (unsigned int)cmd;
	switch (f->type) {
	case SGX_FILE_ENCLAVE:
		return sgx_encl_ioctl(f, cmd, arg);
	case SGX_FILE_VEPC:
		return sgx_vepc_ioctl(f->private_data, cmd, arg);
	default:
		return -ENOTTY; /* /dev/sgx_provision has no ioctls */
	}
}

long sgx_file_ioctl_mm(struct sgx_file *f, struct sgx_mm *mm, unsigned long cmd, unsigned long arg)
{
	struct sgx_mm *prev = sgx_set_current_mm(mm);
	long ret = sgx_file_ioctl(f, cmd, arg);

	sgx_set_current_mm(prev);
	return ret;
}

struct sgx_file *sgx_fget(struct sgx_kernel *k, int fd)
{
	struct sgx_mm *mm = sgx_current_mm();

	if (mm && mm != &k->mm)
		return sgx_mm_fget(mm, fd);
	return k->fget ? k->fget(k, fd, k->fget_data) : NULL;
}

/* Linux sgx_encl_may_map(): no page in range may allow less than @prot. */
struct may_map_ctx {
	uint64_t start, end;
	int prot;
};

static int may_map_page(uint64_t index, void *item, void *data)
{
	struct sgx_encl_page *page = item;
	struct may_map_ctx *c = data;
	uint64_t addr = index * SGX_PAGE_SIZE;

	if (addr < c->start || addr >= c->end)
		return 0;
	return (~page->vm_max_prot_bits & c->prot) ? -EACCES : 0;
}

int sgx_encl_may_map(struct sgx_encl *encl, uint64_t start, uint64_t end, int prot)
{
	struct may_map_ctx c = { start, end, prot & PROT_ACCESS };
	int ret;

	/* Once initialized, the enclave's range is fixed. */
	if ((atomic_load(&encl->flags) & SGX_ENCL_INITIALIZED) &&
	    (start < encl->base || end > encl->base + encl->size))
		return -EACCES;
	/* PROT_READ would silently become PROT_EXEC, above what pages allow. */
	if (personality(0xffffffff) & READ_IMPLIES_EXEC)
		return -EACCES;
	pthread_mutex_lock(&encl->lock);
	ret = page_array_for_each(&encl->page_array, may_map_page, &c);
	pthread_mutex_unlock(&encl->lock);
	return ret;
}

struct in_range {
	uint64_t first, last; /* page numbers, [first, last) */
	void (*fn)(struct sgx_encl_page *entry, uint64_t addr, void *data);
	void *data;
};

static int visit_in_range(uint64_t index, void *item, void *data)
{
	struct in_range *r = data;

	if (index >= r->first && index < r->last)
		r->fn(item, index * SGX_PAGE_SIZE, r->data);
	return 0;
}

/*
 * @fn on every page @encl has in [start, end), with encl->lock held: by
 * address when the range has fewer pages than the enclave, else by the
 * enclave's pages. An ELRANGE of 64 GiB holding a few pages would otherwise
 * cost 16M lookups per munmap or mprotect (as Linux walks only the page
 * tables that exist).
 */
static void encl_for_each_in(struct sgx_encl *encl, uint64_t start, uint64_t end,
			     void (*fn)(struct sgx_encl_page *entry, uint64_t addr, void *data),
			     void *data)
{
	struct in_range r = {start / SGX_PAGE_SIZE, end / SGX_PAGE_SIZE, fn, data};

	if (r.last - r.first > encl->page_array.count) {
		page_array_for_each(&encl->page_array, visit_in_range, &r);
		return;
	}
	for (uint64_t i = r.first; i < r.last; i++) {
		struct sgx_encl_page *entry = page_array_load(&encl->page_array, i);

		if (entry)
			fn(entry, i * SGX_PAGE_SIZE, data);
	}
}

static void forget_pte(struct sgx_encl_page *entry, uint64_t addr, void *data)
{
	(void)addr;
	entry->mapped &= ~((const struct sgx_vma *)data)->pte_bit;
}

/* The next touch faults and finds the page not present. */
void sgx_vma_forget_ptes(struct sgx_vma *vma, uint64_t start, uint64_t end)
{
	struct sgx_encl *encl = sgx_file_encl(vma->file);

	if (!encl)
		return;
	start = start > vma->start ? start : vma->start;
	end = end < vma->end ? end : vma->end;
	pthread_mutex_lock(&encl->lock);
	encl_for_each_in(encl, start, end, forget_pte, vma);
	pthread_mutex_unlock(&encl->lock);
}

/* sgx_vma_forget_ptes() for every VMA that [start, end) touches. mm write-locked. */
static void range_forget_ptes(struct sgx_mm *mm, uint64_t start, uint64_t end)
{
	struct list_head *pos;

	for (pos = mm->vmas.next; pos != &mm->vmas; pos = pos->next) {
		struct sgx_vma *vma = list_entry(pos, struct sgx_vma, list);

		if (vma->end > start && vma->start < end)
			sgx_vma_forget_ptes(vma, start, end);
	}
}

/*
 * Drop [start, end) from the VMA list, splitting VMAs it cuts. mm
 * write-locked. VMAs removed whole go to @dead when it is not NULL, their
 * file references still held (vma_put_dead()); else they are freed.
 */
static int vma_remove_range(struct sgx_mm *mm, uint64_t start, uint64_t end,
			    struct list_head *dead)
{
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &mm->vmas) {
		struct sgx_vma *vma = list_entry(pos, struct sgx_vma, list);

		if (vma->end <= start || vma->start >= end)
			continue;
		if (vma->start < start && vma->end > end) {
			int ret = sgx_vma_insert(mm, end, vma->end, vma->prot, vma->file_base,
						 vma->file);

			if (ret)
				return ret;
			sgx_file_get(vma->file);
			sgx_vma_set_range(vma, vma->start, start);
		} else if (vma->start < start) {
			sgx_vma_set_range(vma, vma->start, start);
		} else if (vma->end > end) {
			sgx_vma_set_range(vma, end, vma->end);
		} else {
			sgx_vma_unlink(mm, vma);
			if (dead) {
				list_add(&vma->list, dead);
				continue;
			}
			sgx_file_put(vma->file);
			free(vma);
		}
	}
	return 0;
}

/* Drop the file references of VMAs vma_remove_range() put on @dead. */
static void vma_put_dead(struct list_head *dead)
{
	while (!list_empty(dead)) {
		struct sgx_vma *vma = list_first_entry(dead, struct sgx_vma, list);

		list_del_init(&vma->list);
		sgx_file_put(vma->file);
		free(vma);
	}
}

int sgx_file_mmap(struct sgx_file *f, uint64_t *addr, uint64_t len, int prot, int flags,
		  uint64_t offset)
{
	return sgx_file_mmap_mm(f, &f->k->mm, addr, len, prot, flags, offset);
}

int sgx_file_mmap_mm(struct sgx_file *f, struct sgx_mm *mm, uint64_t *addr, uint64_t len, int prot,
		     int flags, uint64_t offset)
{
	/* MAP_FIXED_NOREPLACE is MAP_FIXED that fails with EEXIST instead of replacing. */
	bool noreplace = flags & MAP_FIXED_NOREPLACE;
	bool fixed = (flags & MAP_FIXED) || noreplace;
	uint64_t start;
	int ret;

	if (f->type != SGX_FILE_ENCLAVE && f->type != SGX_FILE_VEPC)
		return -ENODEV;
	/*
	 * Linux sgx_get_unmapped_area() and sgx_vepc_mmap(): a private
	 * mapping of EPC makes no sense. MAP_SHARED_VALIDATE is shared.
	 */
	if ((flags & MAP_TYPE) != MAP_SHARED && (flags & MAP_TYPE) != MAP_SHARED_VALIDATE)
		return -EINVAL;
	if (offset & (SGX_PAGE_SIZE - 1))
		return -EINVAL;
	if (!len)
		return -EINVAL;
	/* do_mmap(): a length that rounds up past the top of memory. */
	if (len + SGX_PAGE_SIZE - 1 < len)
		return -ENOMEM;
	len = (len + SGX_PAGE_SIZE - 1) & ~(SGX_PAGE_SIZE - 1);
	if (fixed && (*addr & (SGX_PAGE_SIZE - 1)))
		return -EINVAL;
	start = fixed ? *addr : *addr & ~(SGX_PAGE_SIZE - 1);

	if (fixed && f->type == SGX_FILE_ENCLAVE) {
		ret = sgx_encl_may_map(f->private_data, start, start + len, prot);
		if (ret)
			return ret;
	}
	pthread_rwlock_wrlock(&mm->lock);
	if (noreplace) {
		/* A hint the host honours only when the whole range is free. */
		uint64_t want = start;

		ret = mm->ops->reserve(mm, &start, len, false);
		if (ret)
			goto out;
		if (start != want) {
			mm->ops->unmap(mm, start, len);
			ret = -EEXIST;
			goto out;
		}
	} else {
		ret = mm->ops->reserve(mm, &start, len, fixed);
		if (ret)
			goto out;
	}
	if (!fixed && f->type == SGX_FILE_ENCLAVE) {
		ret = sgx_encl_may_map(f->private_data, start, start + len, prot);
		if (ret) {
			mm->ops->unmap(mm, start, len);
			goto out;
		}
	}
	/* MAP_FIXED replaced whatever was there, our VMAs and their PTEs included. */
	range_forget_ptes(mm, start, start + len);
	ret = vma_remove_range(mm, start, start + len, NULL);
	if (!ret)
		ret = sgx_vma_insert(mm, start, start + len, prot & PROT_ACCESS, start - offset, f);
	if (ret) {
		mm->ops->unmap(mm, start, len);
		goto out;
	}
	sgx_file_get(f);
	*addr = start;
out:
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

int sgx_munmap(struct sgx_kernel *k, uint64_t addr, uint64_t len)
{
	return sgx_munmap_mm(k, &k->mm, addr, len);
}

int sgx_munmap_mm(struct sgx_kernel *k, struct sgx_mm *mm, uint64_t addr, uint64_t len)
{
	struct list_head dead = LIST_HEAD_INIT(dead);
	int ret;

	if ((addr & (SGX_PAGE_SIZE - 1)) || !len)
		return -EINVAL;
	len = (len + SGX_PAGE_SIZE - 1) & ~(SGX_PAGE_SIZE - 1);
	pthread_rwlock_wrlock(&mm->lock);
	range_forget_ptes(mm, addr, addr + len);
	ret = vma_remove_range(mm, addr, addr + len, &dead);
	if (!ret)
		ret = mm->ops->unmap(mm, addr, len);
	pthread_rwlock_unlock(&mm->lock);
	/*
	 * Linux's munmap ends with a TLB shootdown whose IPI makes every
	 * thread inside an enclave take an AEX; with the PTEs gone, their
	 * ERESUME faults. Before the last reference to an enclave goes (its
	 * release EREMOVEs every page, which fails for a TCS still in use),
	 * the same here: the model's IPI, once the range is unmapped.
	 */
	if (!list_empty(&dead) && k->kick)
		k->kick(k, k->kick_data);
	vma_put_dead(&dead);
	return ret;
}

/* True when [start, end) is covered by VMAs without a hole. mm locked. */
static bool range_covered(struct sgx_mm *mm, uint64_t start, uint64_t end)
{
	while (start < end) {
		struct sgx_vma *vma = sgx_find_vma(mm, start);

		if (!vma)
			return false;
		start = vma->end;
	}
	return true;
}

/*
 * Change the protection of the PTEs in [addr, end) in place, as Linux's
 * change_protection() does: a present enclave page stays present with @prot
 * (a write to it then faults with P set, error code 0x7, not 0x6), the rest
 * stays not present. PROT_NONE leaves nothing present, as on x86. vEPC pages
 * are dropped and fault back. mm write-locked, so no fault runs in this mm;
 * the reclaimer (encl->lock only) may zap a page meanwhile, which clears its
 * bit, so the page is not re-installed, or zaps it again afterwards.
 */
struct reprotect {
	struct sgx_mm *mm;
	struct sgx_encl *encl;
	struct sgx_vma *vma;
	int prot, ret;
};

static void reprotect_pte(struct sgx_encl_page *entry, uint64_t addr, void *data)
{
	struct reprotect *r = data;
	int pte_prot;

	if (!(entry->mapped & r->vma->pte_bit))
		return;
	pte_prot = sgx_encl_pte_prot(r->encl, entry, r->prot);
	entry->mapped &= ~r->vma->pte_bit;
	if (pte_prot && entry->epc_page &&
	    sgx_encl_install_pte(r->encl, r->vma, entry, addr, pte_prot) && !r->ret)
		/* not present then: it faults back */
		r->ret = r->mm->ops->zap(r->mm, &addr, 1);
}

static int mprotect_ptes(struct sgx_mm *mm, uint64_t addr, uint64_t end, int prot)
{
	struct reprotect r = {.mm = mm, .prot = prot};
	struct list_head *pos;
	uint64_t a = addr;

	/* First nothing present (a fixed reservation), then the pages that were present. */
	r.ret = mm->ops->reserve(mm, &a, end - addr, true);
	if (r.ret)
		return r.ret;
	for (pos = mm->vmas.next; pos != &mm->vmas; pos = pos->next) {
		struct sgx_vma *vma = list_entry(pos, struct sgx_vma, list);

		r.encl = vma->file ? sgx_file_encl(vma->file) : NULL;
		if (!r.encl || vma->end <= addr || vma->start >= end)
			continue;
		r.vma = vma;
		pthread_mutex_lock(&r.encl->lock);
		encl_for_each_in(r.encl, addr > vma->start ? addr : vma->start,
				 end < vma->end ? end : vma->end, reprotect_pte, &r);
		pthread_mutex_unlock(&r.encl->lock);
	}
	return r.ret;
}

int sgx_mprotect(struct sgx_kernel *k, uint64_t addr, uint64_t len, int prot)
{
	return sgx_mprotect_mm(&k->mm, addr, len, prot);
}

int sgx_mprotect_mm(struct sgx_mm *mm, uint64_t addr, uint64_t len, int prot)
{
	uint64_t end, a;
	int ret = 0;

	/* do_mprotect_pkey()'s order of checks. */
	if (addr & (SGX_PAGE_SIZE - 1))
		return -EINVAL;
	if (!len)
		return 0;
	len = (len + SGX_PAGE_SIZE - 1) & ~(SGX_PAGE_SIZE - 1);
	end = addr + len;
	if (end <= addr)
		return -ENOMEM;
	/* PROT_SEM is accepted and means nothing on x86; PROT_GROWS* needs a stack VMA. */
	if (prot & ~(PROT_ACCESS | PROT_SEM))
		return -EINVAL;
	pthread_rwlock_wrlock(&mm->lock);
	if (!range_covered(mm, addr, end)) {
		ret = -ENOMEM;
		goto out;
	}
	for (a = addr; a < end;) {
		struct sgx_vma *vma = sgx_find_vma(mm, a);
		uint64_t seg_end = vma->end < end ? vma->end : end;
		struct sgx_encl *encl = sgx_file_encl(vma->file);

		/* Linux's sgx_vma_mprotect(): never above the enclave page permissions. */
		if (encl) {
			ret = sgx_encl_may_map(encl, a, seg_end, prot);
			if (ret)
				goto out;
		}
		a = seg_end;
	}
	for (a = addr; a < end;) {
		struct sgx_vma *vma = sgx_find_vma(mm, a);
		uint64_t seg_end = vma->end < end ? vma->end : end;
		struct sgx_file *f = vma->file;
		struct sgx_encl *encl = sgx_file_encl(f);
		uint64_t vstart = vma->start, vend = vma->end, base = vma->file_base, bit;
		int old = vma->prot;

		/*
		 * Split so the new protection applies to exactly [a, seg_end).
		 * The enclave keeps this mm on its mm_list meanwhile, with the
		 * same bit: its present pages stay present.
		 */
		sgx_file_get(f);
		ret = encl ? sgx_encl_mm_add(encl, mm, &bit) : 0;
		if (!ret)
			ret = vma_remove_range(mm, vstart, vend, NULL);
		if (!ret && vstart < a)
			ret = sgx_vma_insert(mm, vstart, a, old, base, f) ?: (sgx_file_get(f), 0);
		if (!ret)
			ret = sgx_vma_insert(mm, a, seg_end, prot & PROT_ACCESS, base, f) ?:
									(sgx_file_get(f), 0);
		if (!ret && seg_end < vend)
			ret = sgx_vma_insert(mm, seg_end, vend, old, base, f) ?: (sgx_file_get(f), 0);
		if (encl)
			sgx_encl_mm_remove(encl, mm);
		sgx_file_put(f);
		if (ret)
			goto out;
		a = seg_end;
	}
	ret = mprotect_ptes(mm, addr, end, prot & PROT_ACCESS);
out:
	pthread_rwlock_unlock(&mm->lock);
	return ret;
}

static bool sgx_vma_access_ok(int prot, int access);

/*
 * Linux sgx_vma_fault(). mm read-locked. On SGX2 a hole in an initialized
 * enclave is EAUG'd. For enclave code (SGX_FAULT_ENCLAVE_MODE in @access)
 * a page whose EPCM refuses the access gets a PTE with what the EPCM allows
 * (maybe none) and SGX_FAULT_EPCM.
 */
enum sgx_fault_result sgx_encl_fault(struct sgx_encl *encl, struct sgx_vma *vma, uint64_t addr,
				     int access)
{
	struct sgx_encl_page *entry;
	uint64_t page_addr = addr & ~(SGX_PAGE_SIZE - 1);
	int err, prot;

	pthread_mutex_lock(&encl->lock);
	entry = page_array_load(&encl->page_array, page_addr / SGX_PAGE_SIZE);
	if (!entry && sgx_encl_sgx2(encl)) {
		pthread_mutex_unlock(&encl->lock);
		return sgx_encl_eaug_page(encl, page_addr);
	}
	/* SGX1: a hole in the enclave is a SIGBUS. */
	if (!entry || (entry->vm_max_prot_bits & vma->prot) != vma->prot) {
		pthread_mutex_unlock(&encl->lock);
		return SGX_FAULT_SIGBUS;
	}
	entry = sgx_encl_load_page(encl, page_addr, &err);
	if (!entry) {
		pthread_mutex_unlock(&encl->lock);
		return err == -EBUSY ? SGX_FAULT_RETRY : SGX_FAULT_SIGBUS;
	}
	/*
	 * Enclave code and ENCLU operands: a host PTE no wider than the EPCM
	 * (native enclave code meets no other check); the operand's walk
	 * finds the page as the VMA allows (the install's walk protection)
	 * and the leaf checks the EPCM itself.
	 */
	prot = (access & (SGX_FAULT_ENCLAVE_MODE | SGX_FAULT_OPERAND))
		       ? sgx_encl_pte_prot(encl, entry, vma->prot)
		       : vma->prot;
	if ((access & SGX_FAULT_ENCLAVE_MODE) && prot != vma->prot &&
	    !sgx_vma_access_ok(prot, access & PROT_ACCESS)) {
		/* No EPCM verdict without a PTE the walk found: keep what it allows. */
		if (prot && !(entry->mapped & vma->pte_bit))
			sgx_encl_install_pte(encl, vma, entry, page_addr, prot);
		pthread_mutex_unlock(&encl->lock);
		return SGX_FAULT_EPCM;
	}
	if (sgx_encl_install_pte(encl, vma, entry, page_addr, prot)) {
		pthread_mutex_unlock(&encl->lock);
		return SGX_FAULT_SIGBUS;
	}
	entry->young = true;
	pthread_mutex_unlock(&encl->lock);
	return SGX_FAULT_RETRY;
}

/*
 * x86 access_error(): a write needs PROT_WRITE, an instruction fetch
 * PROT_EXEC; a read is allowed wherever the page tables are readable, which
 * on x86 includes a PROT_WRITE mapping. (PROT_EXEC alone is execute-only on
 * hosts with protection keys, so a read there stays refused.)
 */
static bool sgx_vma_access_ok(int prot, int access)
{
	if (access & PROT_WRITE)
		return prot & PROT_WRITE;
	if (access & PROT_EXEC)
		return prot & PROT_EXEC;
	return prot & (PROT_READ | PROT_WRITE);
}

static const char *fault_result_name(enum sgx_fault_result r)
{
	switch (r) {
	case SGX_FAULT_RETRY:
		return "retry";
	case SGX_FAULT_SIGBUS:
		return "SIGBUS";
	case SGX_FAULT_SIGSEGV:
		return "SIGSEGV";
	case SGX_FAULT_EPCM:
		return "EPCM";
	default:
		return "not ours";
	}
}

static const char *fault_access_name(int access)
{
	return (access & PROT_EXEC) ? "exec" : (access & PROT_WRITE) ? "write" : "read";
}

/* A fault the model handled, as one event spanning its ELDU, if any. */
static void trace_fault(struct sgx_trace *t, uint64_t t0, uint64_t addr, int access,
			enum sgx_fault_result ret)
{
	struct sgx_trace_event ev;

	if (ret == SGX_FAULT_NOT_OURS)
		return; /* not an SGX mapping: the program's own fault */
	sgx_trace_event_init(&ev, 'X', "fault", "fault", t0);
	sgx_trace_arg_hex(&ev, "addr", addr);
	sgx_trace_arg_str(&ev, "access", fault_access_name(access));
	sgx_trace_arg_str(&ev, "result", fault_result_name(ret));
	sgx_trace_record_span(t, &ev);
}

enum sgx_fault_result sgx_handle_fault(struct sgx_kernel *k, uint64_t addr, int access)
{
	return sgx_handle_fault_mm(k, &k->mm, addr, access);
}

enum sgx_fault_result sgx_handle_fault_mm(struct sgx_kernel *k, struct sgx_mm *mm, uint64_t addr,
					  int access)
{
	struct sgx_trace *trace = hw_trace(k->hw);
	uint64_t t0 = trace ? sgx_trace_now() : 0;
	enum sgx_fault_result ret;
	struct sgx_vma *vma;

	struct sgx_mm *prev;

	atomic_fetch_add(&k->stats.faults, 1);
	/* The faulting mm pays for what the fault allocates (its EPC cgroup). */
	prev = sgx_set_current_mm(mm);
	pthread_rwlock_rdlock(&mm->lock);
	vma = sgx_find_vma(mm, addr);
	if (!vma)
		ret = SGX_FAULT_NOT_OURS;
	else if (!sgx_vma_access_ok(vma->prot, access & PROT_ACCESS))
		ret = SGX_FAULT_SIGSEGV;
	else if (sgx_file_encl(vma->file))
		ret = sgx_encl_fault(sgx_file_encl(vma->file), vma, addr, access);
	else if (vma->file->type == SGX_FILE_VEPC)
		ret = sgx_vepc_fault(vma->file->private_data, vma, addr);
	else
		ret = SGX_FAULT_SIGBUS;
	pthread_rwlock_unlock(&mm->lock);
	sgx_set_current_mm(prev);
	if (ret == SGX_FAULT_SIGBUS)
		atomic_fetch_add(&k->stats.sigbus, 1);
	if (trace)
		trace_fault(trace, t0, addr, access & PROT_ACCESS, ret);
	return ret;
}
