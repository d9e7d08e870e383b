/* SPDX-License-Identifier: MIT */
/*
 * Shared memory of the model (EPC sections, enclave backing stores) held
 * without a file descriptor.
 *
 * The model runs inside the program's process, and a program may close every
 * descriptor it did not open itself (closefrom(3), close_range(), dup2() over
 * them) or reuse their numbers. So an object is a memfd only for as long as
 * it takes to map it: afterwards the mappings are the object. Another
 * mapping of the same pages comes from mremap(view, 0, len, MREMAP_MAYMOVE |
 * MREMAP_FIXED, addr), which on a MAP_SHARED mapping duplicates it (mremap(2),
 * "old_size is zero"); one view per protection keeps that one system call.
 *
 * Every object is on a process-wide list, so that the child of a fork() can
 * give itself a copy of each (sgx_shm_unshare_all()).
 *
 * The exception is a platform service (service/server.c): it is no
 * program's process, nobody closes its descriptors, and it must hand the EPC
 * to its clients (SCM_RIGHTS). It asks to keep the memfd
 * (sgx_shm_create_fd()).
 */
#ifndef SOFTSGX_HW_SHM_H
#define SOFTSGX_HW_SHM_H

#include <stdbool.h>
#include <stdint.h>

/* Called with runs of pages [first, first + count) that hold data. */
typedef void (*sgx_shm_range_fn)(void *arg, uint64_t first, uint64_t count);
/* Reports every page of the object whose contents matter, in any order. */
typedef void (*sgx_shm_data_fn)(void *ctx, sgx_shm_range_fn fn, void *arg);

#define SGX_SHM_NR_VIEWS 8 /* indexed by PROT_READ | PROT_WRITE | PROT_EXEC */

struct sgx_shm {
	uint8_t *map;	/* PROT_READ | PROT_WRITE, the whole object */
	/* view[prot]: the object mapped with @prot; view[RW] is @map, view[0] NULL. */
	uint8_t *view[SGX_SHM_NR_VIEWS];
	uint64_t size;
	uint64_t dev, ino; /* identity of the pages in /proc/self/maps */
	char name[32];	   /* memfd name: "memfd:NAME" in /proc/self/maps */
	int fd;		   /* the memfd when kept (sgx_shm_create_fd()), else -1 */
	sgx_shm_data_fn data;
	void *ctx;
	struct sgx_shm *prev, *next; /* the process-wide list */
};

/*
 * A sparse object of @size bytes (a page multiple) mapped read-write at
 * m->map, and with @views once per other protection. @data tells fork()
 * which pages to copy; NULL copies none. Returns 0 or -errno; on failure
 * nothing is left mapped or open.
 */
int sgx_shm_create(struct sgx_shm *m, const char *name, uint64_t size, bool views,
		   sgx_shm_data_fn data, void *ctx);
/* Same, keeping the memfd open in m->fd (close-on-exec) when @keep_fd. */
int sgx_shm_create_fd(struct sgx_shm *m, const char *name, uint64_t size, bool views,
		      sgx_shm_data_fn data, void *ctx, bool keep_fd);
/*
 * Map @size bytes of an object another process created (@fd, which stays
 * the caller's) read-write at m->map, in the arena like every object here:
 * a view of a platform (hw/share.c). No other view, no descriptor kept, and
 * not on the fork list: a fork() child shares it with its owner, as the
 * owner's object, not a copy. -EINVAL when @fd is not @size bytes long.
 * 0 or -errno.
 */
int sgx_shm_attach(struct sgx_shm *m, const char *name, int fd, uint64_t size);
/* Unmaps the views and closes a kept memfd; other mappings of the pages (PTEs) keep them alive. */
void sgx_shm_destroy(struct sgx_shm *m);

/*
 * Map the page at @offset of @m at @addr with @prot (PROT_* bits) in one
 * system call: the model's page-table entry. 0 or -errno.
 */
int sgx_shm_map_page(const struct sgx_shm *m, uint64_t offset, uint64_t addr, int prot);
/* Same, from a page of a view (what sgx_shm_map_page() passes on). */
int sgx_shm_map_from(void *src, uint64_t addr, int prot);

/*
 * In the child of a fork(), single-threaded: give every object a private
 * copy of the pages that hold data, mapped wherever the original was
 * (views, PTEs, anyone's mapping of it), with the same protection. The
 * parent's pages are not touched. 0 or -errno.
 */
int sgx_shm_unshare_all(void);

#endif /* SOFTSGX_HW_SHM_H */
