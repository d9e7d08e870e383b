/* SPDX-License-Identifier: MIT */
/*
 * An enclave as the driver keeps it (Linux encl.h): its pages by address,
 * Version Array pages, backing storage for evicted pages, and the fault,
 * eviction (EWB) and reload (ELDU) paths.
 */
#ifndef SOFTSGX_ENCL_H
#define SOFTSGX_ENCL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernel/list.h"
#include "kernel/page_array.h"
#include "kernel/sgx.h"
#include "hw/shm.h"

enum sgx_encl_flags {
	SGX_ENCL_IOCTL = 0x1,	    /* an ioctl is running: others get EBUSY */
	SGX_ENCL_DEBUG = 0x2,
	SGX_ENCL_CREATED = 0x4,
	SGX_ENCL_INITIALIZED = 0x8,
};

struct sgx_va_page {
	struct sgx_epc_page *epc_page;
	uint64_t slots[SGX_VA_SLOT_COUNT / 64]; /* bitmap of used slots */
	struct list_head list;
};

struct sgx_encl;

struct sgx_encl_page {
	uint64_t desc; /* linear address (page aligned) */
	int vm_max_prot_bits; /* PROT_* the page may ever be mapped with */
	uint8_t type;	      /* enum sgx_page_type */
	bool being_reclaimed;
	bool young;	      /* touched since the reclaimer last looked */
	bool lost;	      /* eviction failed after EBLOCK: contents gone */
	/*
	 * The mms with a PTE for it: one bit per struct sgx_encl_mm
	 * (encl->lock). Zapping goes to exactly those mms.
	 */
	uint64_t mapped;
	struct sgx_epc_page *epc_page; /* NULL while evicted */
	struct sgx_encl *encl;
	struct sgx_va_page *va_page; /* version slot of the evicted copy */
	unsigned int va_offset;
};

/*
 * An mm that maps the enclave (Linux's struct sgx_encl_mm), on encl->mm_list
 * from its first VMA of the enclave to its last. It holds a reference to
 * the mm. Its bit names it in the pages' PTE masks; 64 mms at most map one
 * enclave (a 65th mmap or fork gets -ENOMEM).
 */
struct sgx_encl_mm {
	struct sgx_mm *mm;
	uint64_t bit;
	unsigned long nr_vmas;
	struct list_head list;
};

#define SGX_ENCL_MAX_MMS 64

struct sgx_encl {
	struct sgx_kernel *k;
	_Atomic unsigned int flags;
	_Atomic long refcount; /* the file, and the reclaimer while it holds pages */
	pthread_mutex_t lock;
	unsigned int page_cnt;	     /* pages that need a VA slot, incl. SECS */
	unsigned int secs_child_cnt; /* resident children of the SECS */
	uint64_t base, size;
	uint64_t attributes, attributes_mask;
	struct sgx_encl_page secs;
	struct page_array page_array;
	struct list_head va_pages; /* a page with free slots first */
	struct sgx_shm backing;	   /* page contents, then PCMDs; map NULL until ECREATE */
	struct list_head mm_list; /* struct sgx_encl_mm, under encl->lock */
	uint64_t mm_bits;	  /* bits of the mms on mm_list */
	struct list_head usage_link; /* on k->encls */
	uint64_t usage_id;
};

struct sgx_encl *sgx_encl_alloc(struct sgx_kernel *k);
void sgx_encl_get(struct sgx_encl *encl);
/* A reference unless the enclave is already being released (kref_get_unless_zero). */
bool sgx_encl_tryget(struct sgx_encl *encl);
/* Drops a reference; the last one EREMOVEs every page (VA pages, SECS last). */
void sgx_encl_put(struct sgx_encl *encl);

/* One VA slot per enclave page: add a VA page every 512 pages (Linux sgx_encl_grow). */
struct sgx_va_page *sgx_encl_grow(struct sgx_encl *encl, bool reclaim, int *err);
void sgx_encl_shrink(struct sgx_encl *encl, struct sgx_va_page *va_page);

int sgx_encl_backing_create(struct sgx_encl *encl);

/*
 * What EWB of one page writes to, got before the page is blocked (Linux
 * sgx_encl_alloc_backing()): the page's and its PCMD's place in backing
 * storage, populated now so that EWB writing there has nowhere to fail for
 * want of memory. EWB writes straight into it, as Linux's EWB writes into
 * the shmem pages it got.
 */
struct sgx_backing {
	uint64_t index;
	void *contents;
	struct sgx_pcmd *pcmd;
};

/* 0, -ENOMEM (no buffer) or the backing store's -errno (-ENOSPC). With encl->lock. */
int sgx_encl_alloc_backing(struct sgx_encl *encl, uint64_t index, struct sgx_backing *backing);
void sgx_encl_put_backing(struct sgx_backing *backing);
void close_backing(struct sgx_encl *encl);
uint64_t sgx_encl_page_index(struct sgx_encl *encl, struct sgx_encl_page *page);
uint64_t sgx_encl_pcmd_offset(struct sgx_encl *encl, uint64_t page_index);

/* Slots are byte offsets into the VA page, 8 bytes each. */
unsigned int sgx_alloc_va_slot(struct sgx_va_page *va_page);
void sgx_free_va_slot(struct sgx_va_page *va_page, unsigned int offset);
bool sgx_va_page_full(struct sgx_va_page *va_page);

/* Resident page for @addr, ELDU'ing it (and the SECS) when evicted. With encl->lock. */
struct sgx_encl_page *sgx_encl_load_page(struct sgx_encl *encl, uint64_t addr, int *err);

/* The CPU has SGX2 (CPUID.(12H,0):EAX[1]): the kernel's cpu_feature_enabled(X86_FEATURE_SGX2). */
bool sgx_encl_sgx2(const struct sgx_encl *encl);
/*
 * The protection a PTE of resident @entry may have for enclave code in a
 * VMA of protection @prot: no more than the page's EPCM allows (kernel/encl.c
 * says why). With encl->lock.
 */
int sgx_encl_pte_prot(struct sgx_encl *encl, const struct sgx_encl_page *entry, int prot);
/*
 * Drop @entry's PTE in every mm that has one (Linux sgx_zap_enclave_ptes()
 * over encl->mm_list). With encl->lock; no mm lock needed: a PTE bit is
 * cleared under encl->lock before its VMA goes, so a set bit means the
 * address still maps this enclave in that mm.
 *
 * 0, or the first error of an mm's zap op (a client process of a service
 * that did not acknowledge in time): that mm keeps its bit, as its PTE may
 * still be there, and the caller must leave the page resident.
 */
int sgx_encl_zap_page(struct sgx_encl *encl, struct sgx_encl_page *entry);

/*
 * The entry of @mm, or the one whose PTE bit is @bit, on @encl's mm_list;
 * NULL if none. encl->lock held.
 */
struct sgx_encl_mm *sgx_encl_mm_find(struct sgx_encl *encl, struct sgx_mm *mm);
struct sgx_encl_mm *sgx_encl_mm_of_bit(struct sgx_encl *encl, uint64_t bit);

/*
 * A VMA of @mm maps the enclave now: add @mm to mm_list at its first one
 * and give its bit in *@bit. 0 or -ENOMEM. Takes encl->lock; mm->lock held.
 */
int sgx_encl_mm_add(struct sgx_encl *encl, struct sgx_mm *mm, uint64_t *bit);
/* One VMA of @mm less: off mm_list with its last. Takes encl->lock. */
void sgx_encl_mm_remove(struct sgx_encl *encl, struct sgx_mm *mm);
/* fork(): pages present in the mm of @from are present in the mm of @to. Takes encl->lock. */
void sgx_encl_mm_copy_ptes(struct sgx_encl *encl, uint64_t from, uint64_t to);
/* Install a PTE for resident @entry in @vma's mm; records it in entry->mapped. encl->lock. */
int sgx_encl_install_pte(struct sgx_encl *encl, struct sgx_vma *vma, struct sgx_encl_page *entry,
			 uint64_t addr, int prot);

/* Reclaimer steps for one page (reclaim.c drives them; it blocks a batch at once). */
bool sgx_reclaimer_age(struct sgx_encl_page *page);
void sgx_reclaimer_write(struct sgx_encl_page *page, struct sgx_backing *backing);

#endif /* SOFTSGX_ENCL_H */
