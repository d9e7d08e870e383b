/* SPDX-License-Identifier: MIT */
/*
 * The kernel model's core: EPC sections and their page descriptors, the page
 * allocator, the reclaimer's LRU and the ksgxd thread. Vocabulary follows
 * Linux arch/x86/kernel/cpu/sgx so a reader of one finds the other.
 *
 * Unlike Linux, page descriptors are created lazily in chunks: an EPC of 2^28
 * pages costs memory only for the pages ever handed out; and sanitization
 * (sanitize.c) walks only the pages the CPU model says may hold EPCM state.
 */
#ifndef SOFTSGX_KERNEL_SGX_H
#define SOFTSGX_KERNEL_SGX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"
#include "kernel/list.h"
#include "kernel/mm.h"

/* Linux's watermarks: wake ksgxd below LOW, reclaim until HIGH. */
#define SGX_NR_LOW_PAGES 32
#define SGX_NR_HIGH_PAGES 64
/* Pages per reclaimer batch, as Linux. */
#define SGX_NR_TO_SCAN 16

#define SGX_EPC_DESC_CHUNK 512

enum sgx_epc_page_flags {
	SGX_EPC_PAGE_RECLAIMER_TRACKED = 0x1, /* on the LRU */
	SGX_EPC_PAGE_IS_FREE = 0x2,
	SGX_EPC_PAGE_TOUCHED = 0x4,	      /* left the never-used pool */
	SGX_EPC_PAGE_LEAKED = 0x8,	      /* sanitization could not EREMOVE it */
};

struct sgx_epc_page {
	uint32_t section;
	uint16_t flags;
	uint64_t index; /* within the section */
	void *owner;	/* struct sgx_encl_page, struct sgx_vepc... */
	struct list_head list;
	/* The EPC cgroup charged for it (epc_cgroup.h); NULL while free. */
	struct sgx_epc_cgroup *cg;
	uint64_t lru_seq; /* when it joined its cgroup's LRU: global reclaim takes the oldest */
};

struct sgx_epc_section {
	uint64_t phys_addr;
	uint8_t *virt_addr;
	uint64_t npages;
	/* The CPU model's views of the section (hw_epc_section()); NULL in a guest. */
	uint8_t *view[8];
	pthread_mutex_t lock;
	struct list_head free_list; /* pages freed after use */
	uint64_t fresh_next;	    /* pages from here up were never handed out */
	/*
	 * Sanitization (sanitize.c), under @lock: its first pass has looked at
	 * the pages below san_next; pages from san_end up held no EPCM state
	 * at boot. Pages whose first EREMOVE failed wait on dirty_list.
	 */
	uint64_t san_next, san_end;
	struct list_head dirty_list;
	_Atomic(struct sgx_epc_page *) *desc_chunks;
	uint64_t nr_chunks;
	_Atomic uint64_t desc_chunks_end; /* one past the highest chunk created */
};

struct sgx_stats {
	_Atomic uint64_t allocs, frees;
	_Atomic uint64_t evictions, reloads, faults, sigbus;
	_Atomic uint64_t reclaim_batches, etrack_retries, ipis;
	_Atomic uint64_t reclaim_conflict_backoffs; /* batches that found pages locked (reclaim.c) */
	_Atomic uint64_t eremove_failures, lost_pages;
	_Atomic uint64_t vepc_faults, vepc_remove_all, vepc_eremove_warnings;
	_Atomic uint64_t sanitize_valid_pages; /* pages boot found still in use */
};

struct sgx_kernel;
struct sgx_epc_cgroup;

/*
 * Makes threads that are inside an enclave leave it (an IPI on Linux, which
 * forces an AEX). Installed by whoever runs enclave code; may be NULL.
 */
typedef void (*sgx_kick_fn)(struct sgx_kernel *k, void *data);

struct sgx_kernel_config {
	struct sgx_hw *hw;
	unsigned int nr_sections;
	struct sgx_hw_section sections[SGX_HW_MAX_SECTIONS];
	bool no_ksgxd; /* tests that drive reclaim by hand: boot sanitizes at once */
	/* Tests: no ksgxd and no sanitization at boot, allocations sanitize what they take. */
	bool sanitize_on_demand;
};

struct sgx_kernel {
	struct sgx_hw *hw;
	unsigned int nr_sections;
	struct sgx_epc_section sections[SGX_HW_MAX_SECTIONS];
	uint64_t total_pages;

	/* Always free + in use + leaked == total_pages; tests check it. */
	_Atomic int64_t nr_free_pages;
	_Atomic int64_t nr_in_use_pages;
	_Atomic int64_t nr_leaked_pages;
	_Atomic int64_t nr_zombie_pages; /* vEPC SECS pages no release could remove */

	pthread_mutex_t zombie_lock;
	struct list_head zombie_secs_pages;

	/*
	 * The machine this kernel ran on is gone (a guest reset): teardown
	 * frees the kernel's own structures and runs no ENCLS.
	 */
	bool powered_off;

	/*
	 * The reclaimable pages are on the LRUs of the EPC cgroups they are
	 * charged to (epc_cgroup.h), each oldest first; lru_seq orders them
	 * across cgroups, nr_lru counts them all.
	 */
	pthread_mutex_t lru_lock;
	uint64_t lru_seq, nr_lru;
	/*
	 * Pages a reclaimer batch has taken off an LRU and not yet
	 * freed or put back (lru_lock): still reclaimable, as far as an
	 * allocation that finds the list empty is concerned.
	 */
	unsigned int nr_isolated;

	/* Serializes sanitization steps; sanitized: both passes are over. */
	pthread_mutex_t sanitize_lock;
	_Atomic bool sanitized;

	pthread_t ksgxd;
	bool ksgxd_running;
	pthread_mutex_t ksgxd_lock;
	pthread_cond_t ksgxd_waitq;
	bool ksgxd_stop;
	bool ksgxd_wake;

	sgx_kick_fn kick;
	void *kick_data;
	/*
	 * The threads that run enclaves are in other processes (a platform
	 * service's clients), any of which may be killed inside an ENCLU
	 * leaf: an enclave's release clears its pages' EPCM locks before
	 * EREMOVE (hw_epcm_locks_reset()).
	 */
	bool lps_elsewhere;

	/*
	 * The process the model runs in: the one private mode serves. A
	 * service's clients have mms of their own (sgx_mm_create()).
	 */
	struct sgx_mm mm;

	/* fd -> open file with a reference, for SGX_IOC_ENCLAVE_PROVISION. */
	struct sgx_file *(*fget)(struct sgx_kernel *k, int fd, void *data);
	void *fget_data;
	/* True when the calling thread has a signal to handle (-EINTR paths). */
	bool (*signal_pending)(struct sgx_kernel *k);

	struct sgx_stats stats;

	/* fork(): the child's "copy done" pipe; whether ksgxd ran before. */
	int fork_pipe[2];
	bool fork_ksgxd;
	/*
	 * Every enclave and vEPC instance, for usage reports (usage.c).
	 * Lock order: mm.lock, then usage_lock, then an enclave's or vEPC's lock.
	 */
	pthread_mutex_t usage_lock;
	struct list_head encls, vepcs;
	uint64_t next_usage_id;

	/* EPC cgroups (epc_cgroup.h): the tree, every cgroup, those ksgxd must bring under max. */
	pthread_mutex_t cg_lock;
	struct sgx_epc_cgroup *cg_root;
	struct list_head cg_all;
	struct list_head cg_reclaim;
};

/*
 * Boot: take the sections, start ksgxd, which sanitizes in the background:
 * EREMOVE of every page that may hold EPCM state (a second pass for SECS
 * pages whose children came later in the first), leaks counted. Pages the
 * CPU model never used are free at once. Without ksgxd, sanitization runs
 * here. Returns 0 or -errno.
 */
int sgx_kernel_init(struct sgx_kernel *k, const struct sgx_kernel_config *cfg);
void sgx_kernel_destroy(struct sgx_kernel *k);
/*
 * Stop ksgxd at the end of its batch and join it; start a new one (also in
 * the child of a fork, where the thread is gone). Start returns 0 or -errno.
 */
void sgx_kernel_stop_ksgxd(struct sgx_kernel *k);
int sgx_kernel_start_ksgxd(struct sgx_kernel *k);

/*
 * fork() (kernel/fork.c), as pthread_atfork() handlers: prepare stops
 * ksgxd; in the child, copy the platform's shared memory (0 or -errno: on
 * failure the child must not use the platform); the parent waits for that
 * copy. Both restart ksgxd. No other thread may be in the model meanwhile.
 */
void sgx_fork_prepare(struct sgx_kernel *k);
void sgx_fork_parent(struct sgx_kernel *k);
int sgx_fork_child(struct sgx_kernel *k);

/*
 * Sanitization (sanitize.c). A step EREMOVEs up to @budget pages: returns 1
 * when both passes are over, 0 when pages remain, -ENOMEM. ksgxd runs steps
 * at start; an allocation that finds nothing free runs one; wait runs them
 * until the end (0 or -ENOMEM).
 */
int sgx_sanitize_step(struct sgx_kernel *k, uint64_t budget);
int sgx_sanitize_wait(struct sgx_kernel *k);
bool sgx_sanitize_done(struct sgx_kernel *k);
/* ksgxd's first work: steps until done, or until @should_stop says so (it resumes on restart). */
void sgx_sanitize_background(struct sgx_kernel *k, bool (*should_stop)(struct sgx_kernel *k));

/* Host configuration: every section of the CPU model. */
void sgx_kernel_config_from_hw(struct sgx_kernel_config *cfg, struct sgx_hw *hw);

struct sgx_epc_page *sgx_alloc_epc_page(struct sgx_kernel *k, void *owner, bool reclaim,
					int *err);
unsigned int sgx_alloc_epc_pages(struct sgx_kernel *k, struct sgx_epc_page **pages,
				 unsigned int n);
/* EREMOVE the page and free it; a failing EREMOVE is counted, never hidden. */
void sgx_encl_free_epc_page(struct sgx_kernel *k, struct sgx_epc_page *page);
/* Return a page that holds no EPCM state (after EREMOVE or never used). */
void sgx_free_epc_page(struct sgx_kernel *k, struct sgx_epc_page *page);

void *sgx_get_epc_virt_addr(struct sgx_kernel *k, const struct sgx_epc_page *page);
uint64_t sgx_get_epc_phys_addr(struct sgx_kernel *k, const struct sgx_epc_page *page);

void sgx_mark_page_reclaimable(struct sgx_kernel *k, struct sgx_epc_page *page);
/* The @n pages onto the LRU, in this order, under one acquisition of lru_lock. */
void sgx_mark_pages_reclaimable(struct sgx_kernel *k, struct sgx_epc_page *const *pages,
				unsigned int n);
/* 0, or -EBUSY when the reclaimer holds the page in a batch right now. */
int sgx_unmark_page_reclaimable(struct sgx_kernel *k, struct sgx_epc_page *page);

bool sgx_should_reclaim(struct sgx_kernel *k, int64_t watermark);
void sgx_wake_ksgxd(struct sgx_kernel *k);
/* One reclaimer batch (up to SGX_NR_TO_SCAN pages); returns pages reclaimed. */
unsigned int sgx_reclaim_pages(struct sgx_kernel *k);
/*
 * One batch from the LRUs of @cg and its descendants, oldest first
 * (@cg NULL or the root: every cgroup, the global reclaimer's order).
 */
unsigned int sgx_reclaim_pages_cg(struct sgx_kernel *k, struct sgx_epc_cgroup *cg);

/*
 * The local mm's install (sgx_mm_local_ops): a PTE mapping @page at @addr,
 * a duplicate of its page in a view of its section.
 */
int sgx_epc_page_map(struct sgx_kernel *k, const struct sgx_epc_page *page, uint64_t addr,
		     int prot);

struct sgx_epc_usage {
	uint64_t total, free, in_use, leaked, zombie;
};
void sgx_epc_usage(struct sgx_kernel *k, struct sgx_epc_usage *u);

#endif /* SOFTSGX_KERNEL_SGX_H */
