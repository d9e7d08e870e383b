/* SPDX-License-Identifier: MIT */
/*
 * EPC cgroups: the misc controller's "sgx_epc" resource as the upstream
 * series "Add Cgroup support for SGX EPC memory" (Kristen Carlson Accardi,
 * Haitao Huang; v1 2022 .. v16 2024, never merged) specified it, in the
 * kernel model's own hierarchy shaped like cgroupfs ("/", "/a", "/a/b").
 *
 * Each cgroup has a usage (misc.current), a limit (misc.max, "max" by
 * default), a count of charges refused at its limit (misc.events,
 * hierarchical, and misc.events.local), a high-water mark (misc.peak) and
 * an LRU of the reclaimable EPC pages charged to it. The root has no limit;
 * misc.capacity there is the EPC's size.
 *
 * Charging (epc.c): every EPC page is charged, one page at a time, to the
 * cgroup of the mm the allocation is made for (sgx_current_mm(): the
 * ioctl's caller, the faulting mm for ELDU and EAUG, the populating mm for a
 * vEPC prefault; the model's own mm, k->mm, otherwise), in that cgroup and
 * every ancestor, as misc_cg_try_charge() does. ksgxd never allocates. The
 * page remembers the cgroup; freeing, reclaiming or leaking it uncharges.
 *
 * Cgroups are created, never freed while the kernel lives: a removed one
 * (sgx_epc_cgroup_remove(), rmdir's rules) leaves the tree but its memory
 * stays, so an mm or a page may point at a cgroup without a reference.
 *
 * Locks: k->cg_lock guards the tree's shape (children, names, mm counts);
 * k->lru_lock guards every cgroup's LRU and isolation counts, and a change
 * of shape takes it too, so reclaim walks the tree under lru_lock alone.
 * Order: cg_lock, then lru_lock. Usage, limits and events are atomics.
 */
#ifndef SOFTSGX_EPC_CGROUP_H
#define SOFTSGX_EPC_CGROUP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/list.h"

struct sgx_kernel;
struct sgx_mm;
struct sgx_epc_page;

#define SGX_EPC_CG_MAX UINT64_MAX /* "max": no limit */
#define SGX_EPC_CG_NAME_MAX 255
#define SGX_EPC_CG_DEPTH_MAX 64 /* levels below the root */

struct sgx_epc_cgroup {
	struct sgx_kernel *k;
	struct sgx_epc_cgroup *parent; /* NULL at the root */
	char name[SGX_EPC_CG_NAME_MAX + 1];
	struct list_head children;
	struct list_head sibling;
	struct list_head all; /* on k->cg_all, every cgroup ever created */
	bool removed;
	unsigned long nr_mms; /* mms attached (cg_lock) */

	_Atomic uint64_t usage; /* bytes, this cgroup and its descendants */
	_Atomic uint64_t max;	/* bytes */
	_Atomic uint64_t peak;
	_Atomic uint64_t events, events_local;

	/* Under k->lru_lock. */
	struct list_head lru;	    /* reclaimable pages charged here, oldest first */
	uint64_t nr_lru;	    /* pages on lru */
	unsigned int nr_isolated;   /* of them, in a reclaimer batch right now */
	struct list_head reclaim_link; /* on k->cg_reclaim: ksgxd brings it under max */
};

/* Boot and teardown of the hierarchy (epc.c calls them). */
int sgx_epc_cgroup_init(struct sgx_kernel *k);
void sgx_epc_cgroup_destroy(struct sgx_kernel *k);

struct sgx_epc_cgroup *sgx_epc_cgroup_root(struct sgx_kernel *k);
/* The cgroup at @path ("/" or "/a/b"), or NULL. */
struct sgx_epc_cgroup *sgx_epc_cgroup_find(struct sgx_kernel *k, const char *path);
/*
 * The cgroup at @path, created with any missing ancestors (mkdir -p).
 * NULL and *err = -EINVAL (bad path), -ENOMEM.
 */
struct sgx_epc_cgroup *sgx_epc_cgroup_create(struct sgx_kernel *k, const char *path, int *err);
/* rmdir: 0, -ENOENT, -EBUSY (children, mms attached, or pages charged), -EINVAL (root). */
int sgx_epc_cgroup_remove(struct sgx_kernel *k, const char *path);
/* "/a/b" into @buf; the length written (snprintf's). */
int sgx_epc_cgroup_path(const struct sgx_epc_cgroup *cg, char *buf, size_t len);

/*
 * Attach @cg (NULL: the root) to @mm: its allocations from now on charge
 * @cg. Pages charged before stay charged where they were, as a migrated
 * task's misc charges stay. sgx_mm_put() detaches a freed mm.
 */
void sgx_mm_set_cgroup(struct sgx_mm *mm, struct sgx_epc_cgroup *cg);
/* The cgroup @mm charges (the root when none was attached). */
struct sgx_epc_cgroup *sgx_mm_cgroup(struct sgx_kernel *k, struct sgx_mm *mm);

/*
 * misc.max: set @cg's limit to @bytes (SGX_EPC_CG_MAX: none). A limit
 * below the usage is kept and then reclaimed down to, synchronously, from
 * @cg's subtree: 0 once usage <= max, -EBUSY when what is left cannot be
 * reclaimed (VA pages, SECS with children, vEPC pages); the limit stays set
 * either way and bounds every later allocation. -EINVAL at the root.
 */
int sgx_epc_cgroup_set_max(struct sgx_epc_cgroup *cg, uint64_t bytes);
/* A write to misc.max: "sgx_epc max" or "sgx_epc BYTES" (a trailing newline allowed). */
int sgx_epc_cgroup_write_max(struct sgx_epc_cgroup *cg, const char *text);

/*
 * A misc file of @cg as text, in the misc controller's formats:
 * "misc.capacity" (root only), "misc.current", "misc.peak", "misc.max"
 * and "misc.events", "misc.events.local" (not on the root). Returns the
 * length (snprintf's), -ENOENT for a file the cgroup does not have.
 */
int sgx_epc_cgroup_read(struct sgx_epc_cgroup *cg, const char *file, char *buf, size_t len);

/* Usage per cgroup, for `softsgx top`. */
struct sgx_epc_cgroup_usage {
	char path[4096];
	uint64_t current, max, peak, events; /* bytes, bytes (SGX_EPC_CG_MAX), bytes, count */
	uint64_t reclaimable;		      /* bytes on its own LRU */
	unsigned long nr_mms;
};
/* Every live cgroup, the root first (pre-order): how many there are, at most @max filled. */
size_t sgx_epc_cgroup_usage(struct sgx_kernel *k, struct sgx_epc_cgroup_usage *out, size_t max);

/*
 * The allocator's side (epc.c). Charge one page to @cg and its ancestors,
 * reclaiming from the subtree of the cgroup at its limit when @reclaim:
 * 0; -ENOMEM when that subtree holds nothing reclaimable; -EBUSY when
 * !@reclaim (ksgxd is asked to bring that cgroup under its limit).
 */
int sgx_epc_cgroup_try_charge(struct sgx_epc_cgroup *cg, bool reclaim);
void sgx_epc_cgroup_uncharge(struct sgx_epc_cgroup *cg);
/*
 * @n pages at once, for sgx_alloc_epc_pages(): true when every level took
 * them within its limit. A level they would take past it refuses them
 * all, quietly (no event: the caller falls back to one page at a time,
 * whose refusals count), and no level is seen above its limit meanwhile.
 */
bool sgx_epc_cgroup_try_charge_many(struct sgx_epc_cgroup *cg, unsigned int n);
void sgx_epc_cgroup_uncharge_many(struct sgx_epc_cgroup *cg, unsigned int n);
/* The page no longer counts anywhere (freed, leaked, a zombie). */
void sgx_epc_page_uncharge(struct sgx_epc_page *page);

/* Reclaimable pages in @cg's subtree (on LRUs, or in a batch): with lru_lock. */
uint64_t sgx_epc_cgroup_subtree_lru(struct sgx_epc_cgroup *cg, uint64_t *isolated);

/*
 * ksgxd's share: bring every cgroup that an allocation without reclaim
 * found at its limit back under it. Returns pages reclaimed.
 */
unsigned int sgx_epc_cgroup_reclaim_pending(struct sgx_kernel *k);

/* Sum of children's usage <= parent's usage, everywhere; the root's usage == in-use pages. */
bool sgx_epc_cgroup_check(struct sgx_kernel *k);

#endif /* SOFTSGX_EPC_CGROUP_H */
