// SPDX-License-Identifier: MIT
/*
 * EPC cgroups: the hierarchy, charging, limits, the misc files. The LRU
 * walks live in reclaim.c. See epc_cgroup.h for what is charged when.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/epc_cgroup.h"
#include "kernel/fault_inject.h"
#include "kernel/sgx.h"

static struct sgx_epc_cgroup *cg_new(struct sgx_kernel *k, struct sgx_epc_cgroup *parent,
				     const char *name, size_t len)
{
	struct sgx_epc_cgroup *cg = sgx_kcalloc(1, sizeof(*cg));

	if (!cg)
		return NULL;
	cg->k = k;
	cg->parent = parent;
	memcpy(cg->name, name, len);
	cg->name[len] = '\0';
	INIT_LIST_HEAD(&cg->children);
	INIT_LIST_HEAD(&cg->sibling);
	INIT_LIST_HEAD(&cg->lru);
	INIT_LIST_HEAD(&cg->reclaim_link);
	atomic_store(&cg->max, SGX_EPC_CG_MAX);
	return cg;
}

int sgx_epc_cgroup_init(struct sgx_kernel *k)
{
	pthread_mutex_init(&k->cg_lock, NULL);
	INIT_LIST_HEAD(&k->cg_all);
	INIT_LIST_HEAD(&k->cg_reclaim);
	k->cg_root = cg_new(k, NULL, "", 0);
	if (!k->cg_root) {
		pthread_mutex_destroy(&k->cg_lock);
		return -ENOMEM;
	}
	list_add_tail(&k->cg_root->all, &k->cg_all);
	return 0;
}

void sgx_epc_cgroup_destroy(struct sgx_kernel *k)
{
	struct list_head *pos, *tmp;

	if (!k->cg_root)
		return;
	list_for_each_safe(pos, tmp, &k->cg_all)
		free(list_entry(pos, struct sgx_epc_cgroup, all));
	k->cg_root = NULL;
	pthread_mutex_destroy(&k->cg_lock);
}

struct sgx_epc_cgroup *sgx_epc_cgroup_root(struct sgx_kernel *k)
{
	return k->cg_root;
}

static struct sgx_epc_cgroup *child_named(struct sgx_epc_cgroup *cg, const char *name, size_t len)
{
	struct list_head *pos;

	list_for_each(pos, &cg->children) {
		struct sgx_epc_cgroup *c = list_entry(pos, struct sgx_epc_cgroup, sibling);

		if (strlen(c->name) == len && !memcmp(c->name, name, len))
			return c;
	}
	return NULL;
}

/*
 * Walk @path from the root, creating what is missing when @create. With
 * cg_lock. Components as cgroupfs names: no "." or "..", no empty one
 * except the slashes' own ("/a//b" is "/a/b", as a path lookup has it).
 */
static struct sgx_epc_cgroup *walk(struct sgx_kernel *k, const char *path, bool create, int *err)
{
	struct sgx_epc_cgroup *cg = k->cg_root;
	unsigned int depth = 0;

	*err = 0;
	if (!path || path[0] != '/') {
		*err = -EINVAL;
		return NULL;
	}
	while (*path) {
		const char *name;
		struct sgx_epc_cgroup *c;
		size_t len;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		name = path;
		len = strcspn(name, "/");
		path += len;
		if (len > SGX_EPC_CG_NAME_MAX || ++depth > SGX_EPC_CG_DEPTH_MAX || (len == 1 && name[0] == '.') ||
		    (len == 2 && name[0] == '.' && name[1] == '.')) {
			*err = -EINVAL;
			return NULL;
		}
		c = child_named(cg, name, len);
		if (!c && create) {
			c = cg_new(k, cg, name, len);
			if (!c) {
				*err = -ENOMEM;
				return NULL;
			}
			pthread_mutex_lock(&k->lru_lock);
			list_add_tail(&c->sibling, &cg->children);
			list_add_tail(&c->all, &k->cg_all);
			pthread_mutex_unlock(&k->lru_lock);
		}
		if (!c) {
			*err = -ENOENT;
			return NULL;
		}
		cg = c;
	}
	return cg;
}

struct sgx_epc_cgroup *sgx_epc_cgroup_find(struct sgx_kernel *k, const char *path)
{
	struct sgx_epc_cgroup *cg;
	int err;

	pthread_mutex_lock(&k->cg_lock);
	cg = walk(k, path, false, &err);
	pthread_mutex_unlock(&k->cg_lock);
	return cg;
}

struct sgx_epc_cgroup *sgx_epc_cgroup_create(struct sgx_kernel *k, const char *path, int *err)
{
	struct sgx_epc_cgroup *cg;

	pthread_mutex_lock(&k->cg_lock);
	cg = walk(k, path, true, err);
	pthread_mutex_unlock(&k->cg_lock);
	return cg;
}

int sgx_epc_cgroup_remove(struct sgx_kernel *k, const char *path)
{
	struct sgx_epc_cgroup *cg;
	int err;

	pthread_mutex_lock(&k->cg_lock);
	cg = walk(k, path, false, &err);
	if (cg == k->cg_root)
		err = -EINVAL;
	else if (cg && (!list_empty(&cg->children) || cg->nr_mms || atomic_load(&cg->usage)))
		err = -EBUSY; /* rmdir of a cgroup with children or tasks; pages: ours */
	if (cg && !err) {
		pthread_mutex_lock(&k->lru_lock);
		list_del_init(&cg->sibling);
		list_del_init(&cg->reclaim_link);
		cg->removed = true;
		pthread_mutex_unlock(&k->lru_lock);
	}
	pthread_mutex_unlock(&k->cg_lock);
	return err;
}

int sgx_epc_cgroup_path(const struct sgx_epc_cgroup *cg, char *buf, size_t len)
{
	const struct sgx_epc_cgroup *chain[SGX_EPC_CG_DEPTH_MAX];
	unsigned int n = 0;
	size_t off = 0;

	if (!cg->parent)
		return snprintf(buf, len, "/");
	for (; cg->parent && n < SGX_EPC_CG_DEPTH_MAX; cg = cg->parent)
		chain[n++] = cg;
	while (n--)
		off += (size_t)snprintf(off < len ? buf + off : NULL, off < len ? len - off : 0,
					"/%s", chain[n]->name);
	return (int)off;
}

void sgx_mm_set_cgroup(struct sgx_mm *mm, struct sgx_epc_cgroup *cg)
{
	struct sgx_epc_cgroup *old = atomic_load(&mm->cg);
	struct sgx_kernel *k = cg ? cg->k : old ? old->k : NULL;

	if (!k)
		return; /* the root to the root */
	pthread_mutex_lock(&k->cg_lock);
	old = atomic_load(&mm->cg); /* another setter may have been first */
	if (old)
		old->nr_mms--;
	if (cg)
		cg->nr_mms++;
	atomic_store(&mm->cg, cg);
	pthread_mutex_unlock(&k->cg_lock);
}

struct sgx_epc_cgroup *sgx_mm_cgroup(struct sgx_kernel *k, struct sgx_mm *mm)
{
	struct sgx_epc_cgroup *cg = mm ? atomic_load(&mm->cg) : NULL;

	return cg ? cg : k->cg_root;
}

/* Raise @cg's high-water mark to @usage. */
static void note_peak(struct sgx_epc_cgroup *cg, uint64_t usage)
{
	uint64_t peak = atomic_load(&cg->peak);

	while (peak < usage && !atomic_compare_exchange_weak(&cg->peak, &peak, usage))
		;
}

/*
 * misc_cg_try_charge(): add a page at every level, from @cg up; a level
 * the page takes past its max refuses it, and every level charged so far
 * gives it back. Returns the refusing cgroup (its events and events_local
 * counted, the ancestors' events too), or NULL when charged.
 */
static struct sgx_epc_cgroup *charge(struct sgx_epc_cgroup *cg)
{
	struct sgx_epc_cgroup *i, *j;

	for (i = cg; i; i = i->parent) {
		uint64_t usage = atomic_fetch_add(&i->usage, SGX_PAGE_SIZE) + SGX_PAGE_SIZE;

		if (i->parent && usage > atomic_load(&i->max))
			break;
		note_peak(i, usage);
	}
	if (!i)
		return NULL;
	for (j = cg; j != i->parent; j = j->parent)
		atomic_fetch_sub(&j->usage, SGX_PAGE_SIZE);
	atomic_fetch_add(&i->events_local, 1);
	for (j = i; j; j = j->parent)
		atomic_fetch_add(&j->events, 1);
	return i;
}

void sgx_epc_cgroup_uncharge(struct sgx_epc_cgroup *cg)
{
	sgx_epc_cgroup_uncharge_many(cg, 1);
}

bool sgx_epc_cgroup_try_charge_many(struct sgx_epc_cgroup *cg, unsigned int n)
{
	uint64_t bytes = (uint64_t)n * SGX_PAGE_SIZE;
	struct sgx_epc_cgroup *i;

	for (i = cg; i; i = i->parent) {
		uint64_t usage = atomic_load(&i->usage);

		/* Only a usage that stays within the limit is stored (the root has none). */
		do {
			if (i->parent && usage + bytes > atomic_load(&i->max))
				goto refuse;
		} while (!atomic_compare_exchange_weak(&i->usage, &usage, usage + bytes));
		note_peak(i, usage + bytes);
	}
	return true;
refuse:
	for (; cg != i; cg = cg->parent)
		atomic_fetch_sub(&cg->usage, bytes);
	return false;
}

void sgx_epc_cgroup_uncharge_many(struct sgx_epc_cgroup *cg, unsigned int n)
{
	for (; cg; cg = cg->parent)
		atomic_fetch_sub(&cg->usage, (uint64_t)n * SGX_PAGE_SIZE);
}

void sgx_epc_page_uncharge(struct sgx_epc_page *page)
{
	sgx_epc_cgroup_uncharge(page->cg);
	page->cg = NULL;
}

uint64_t sgx_epc_cgroup_subtree_lru(struct sgx_epc_cgroup *cg, uint64_t *isolated)
{
	uint64_t n = cg->nr_lru;
	struct list_head *pos;

	*isolated += cg->nr_isolated;
	list_for_each(pos, &cg->children)
		n += sgx_epc_cgroup_subtree_lru(list_entry(pos, struct sgx_epc_cgroup, sibling),
						isolated);
	return n;
}

/* Anything to reclaim below @cg: 1 on an LRU, 0 only in batches now (busy), -1 nothing. */
static int subtree_reclaimable(struct sgx_epc_cgroup *cg)
{
	struct sgx_kernel *k = cg->k;
	uint64_t isolated = 0, lru;

	pthread_mutex_lock(&k->lru_lock);
	lru = sgx_epc_cgroup_subtree_lru(cg, &isolated);
	pthread_mutex_unlock(&k->lru_lock);
	return lru ? 1 : isolated ? 0 : -1;
}

/* ksgxd is to bring @cg under its max (an allocation that may not reclaim found it there). */
static void want_reclaim(struct sgx_epc_cgroup *cg)
{
	struct sgx_kernel *k = cg->k;

	pthread_mutex_lock(&k->lru_lock);
	if (list_empty(&cg->reclaim_link) && !cg->removed)
		list_add_tail(&cg->reclaim_link, &k->cg_reclaim);
	pthread_mutex_unlock(&k->lru_lock);
	sgx_wake_ksgxd(k);
}

/*
 * As the series' sgx_cgroup_try_charge(): charge, and while a level
 * refuses, reclaim a batch from that level's subtree (the series reclaims
 * from the charging cgroup's; a limit on an ancestor is bounded by pages
 * anywhere below the ancestor, so we look there). -ENOMEM only when that
 * subtree holds nothing that could ever be reclaimed.
 */
int sgx_epc_cgroup_try_charge(struct sgx_epc_cgroup *cg, bool reclaim)
{
	for (;;) {
		struct sgx_epc_cgroup *over = charge(cg);
		int r;

		if (!over)
			return 0;
		r = subtree_reclaimable(over);
		if (r < 0)
			return -ENOMEM;
		if (!reclaim) {
			want_reclaim(over);
			return -EBUSY;
		}
		if (r == 0)
			sched_yield(); /* another reclaimer is writing them out */
		else
			sgx_reclaim_pages_cg(cg->k, over);
	}
}

/*
 * Reclaim from @cg's subtree until its usage is at most @target. 0, or
 * -EBUSY when nothing reclaimable is left (or pages keep being touched
 * faster than batches take them: a bounded number of empty batches).
 */
static int reclaim_to(struct sgx_epc_cgroup *cg, uint64_t target, unsigned int *done)
{
	unsigned int idle = 0;

	while (atomic_load(&cg->usage) > target) {
		int r = subtree_reclaimable(cg);
		unsigned int n;

		if (r < 0)
			return -EBUSY;
		if (r == 0) {
			sched_yield();
			continue;
		}
		n = sgx_reclaim_pages_cg(cg->k, cg);
		*done += n;
		/* A young page survives one look: two empty batches per page are normal. */
		idle = n ? 0 : idle + 1;
		if (idle > 64)
			return -EBUSY;
	}
	return 0;
}

/*
 * The final series made misc.max writes non-preemptive (usage above a new
 * limit only stops growing); its earlier versions reclaimed down to the
 * new limit from a work queue. We reclaim here, synchronously, and say
 * whether it got there; the write itself, as misc's, always takes.
 */
int sgx_epc_cgroup_set_max(struct sgx_epc_cgroup *cg, uint64_t bytes)
{
	unsigned int done = 0;

	if (!cg->parent)
		return -EINVAL; /* misc.max does not exist on the root */
	atomic_store(&cg->max, bytes);
	return reclaim_to(cg, bytes, &done);
}

int sgx_epc_cgroup_write_max(struct sgx_epc_cgroup *cg, const char *text)
{
	static const char res[] = "sgx_epc";
	char *end;
	uint64_t v;

	while (*text == ' ' || *text == '\t')
		text++;
	if (strncmp(text, res, sizeof(res) - 1) || (text[sizeof(res) - 1] != ' ' &&
						    text[sizeof(res) - 1] != '\t'))
		return -EINVAL;
	text += sizeof(res) - 1;
	while (*text == ' ' || *text == '\t')
		text++;
	if (!strncmp(text, "max", 3)) {
		v = SGX_EPC_CG_MAX;
		end = (char *)text + 3;
	} else {
		/* kstrtou64(buf, 0, ...) as misc_cg_max_write(): decimal, 0x hex, 0 octal. */
		if (*text < '0' || *text > '9')
			return -EINVAL;
		errno = 0;
		v = strtoull(text, &end, 0);
		if (errno)
			return -EINVAL;
	}
	if (*end == '\n')
		end++;
	if (*end)
		return -EINVAL;
	return sgx_epc_cgroup_set_max(cg, v);
}

int sgx_epc_cgroup_read(struct sgx_epc_cgroup *cg, const char *file, char *buf, size_t len)
{
	bool root = !cg->parent;

	if (!strcmp(file, "misc.capacity") && root)
		return snprintf(buf, len, "sgx_epc %" PRIu64 "\n",
				cg->k->total_pages * SGX_PAGE_SIZE);
	if (!strcmp(file, "misc.current"))
		return snprintf(buf, len, "sgx_epc %" PRIu64 "\n", atomic_load(&cg->usage));
	if (!strcmp(file, "misc.peak"))
		return snprintf(buf, len, "sgx_epc %" PRIu64 "\n", atomic_load(&cg->peak));
	if (root)
		return -ENOENT;
	if (!strcmp(file, "misc.max")) {
		uint64_t max = atomic_load(&cg->max);

		if (max == SGX_EPC_CG_MAX)
			return snprintf(buf, len, "sgx_epc max\n");
		return snprintf(buf, len, "sgx_epc %" PRIu64 "\n", max);
	}
	/* misc's __misc_events_show(): the resource's name, ".max", the count. */
	if (!strcmp(file, "misc.events"))
		return snprintf(buf, len, "sgx_epc.max %" PRIu64 "\n", atomic_load(&cg->events));
	if (!strcmp(file, "misc.events.local"))
		return snprintf(buf, len, "sgx_epc.max %" PRIu64 "\n",
				atomic_load(&cg->events_local));
	return -ENOENT;
}

static void usage_walk(struct sgx_epc_cgroup *cg, struct sgx_epc_cgroup_usage *out, size_t max,
		       size_t *n)
{
	struct list_head *pos;

	if (*n < max) {
		struct sgx_epc_cgroup_usage *u = &out[*n];

		sgx_epc_cgroup_path(cg, u->path, sizeof(u->path));
		u->current = atomic_load(&cg->usage);
		u->max = atomic_load(&cg->max);
		u->peak = atomic_load(&cg->peak);
		u->events = atomic_load(&cg->events);
		pthread_mutex_lock(&cg->k->lru_lock);
		u->reclaimable = cg->nr_lru * SGX_PAGE_SIZE;
		pthread_mutex_unlock(&cg->k->lru_lock);
		u->nr_mms = cg->nr_mms;
	}
	(*n)++;
	list_for_each(pos, &cg->children)
		usage_walk(list_entry(pos, struct sgx_epc_cgroup, sibling), out, max, n);
}

size_t sgx_epc_cgroup_usage(struct sgx_kernel *k, struct sgx_epc_cgroup_usage *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&k->cg_lock);
	usage_walk(k->cg_root, out, max, &n);
	pthread_mutex_unlock(&k->cg_lock);
	return n;
}

unsigned int sgx_epc_cgroup_reclaim_pending(struct sgx_kernel *k)
{
	unsigned int done = 0;

	for (;;) {
		struct sgx_epc_cgroup *cg = NULL;
		uint64_t max;

		pthread_mutex_lock(&k->lru_lock);
		if (!list_empty(&k->cg_reclaim)) {
			cg = list_first_entry(&k->cg_reclaim, struct sgx_epc_cgroup, reclaim_link);
			list_del_init(&cg->reclaim_link);
		}
		pthread_mutex_unlock(&k->lru_lock);
		if (!cg)
			return done;
		/* Room for the allocation that asked (a batch usually frees more). */
		max = atomic_load(&cg->max);
		if (max != SGX_EPC_CG_MAX)
			reclaim_to(cg, max > SGX_PAGE_SIZE ? max - SGX_PAGE_SIZE : 0, &done);
	}
}

static bool check_walk(struct sgx_epc_cgroup *cg)
{
	uint64_t sum = 0;
	struct list_head *pos;

	list_for_each(pos, &cg->children) {
		struct sgx_epc_cgroup *c = list_entry(pos, struct sgx_epc_cgroup, sibling);

		if (!check_walk(c))
			return false;
		sum += atomic_load(&c->usage);
	}
	return sum <= atomic_load(&cg->usage);
}

bool sgx_epc_cgroup_check(struct sgx_kernel *k)
{
	bool ok;

	pthread_mutex_lock(&k->cg_lock);
	ok = check_walk(k->cg_root) && atomic_load(&k->cg_root->usage) ==
					       (uint64_t)atomic_load(&k->nr_in_use_pages) *
						       SGX_PAGE_SIZE;
	pthread_mutex_unlock(&k->cg_lock);
	return ok;
}
