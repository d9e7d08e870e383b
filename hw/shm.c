// SPDX-License-Identifier: MIT
/*
 * Shared memory of the model held without a file descriptor (shm.h says
 * why). The descriptor of a memfd lives only while the object is created,
 * and in a fork() child while the copy is made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "hw/shm.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define PAGE 4096ULL

/* The list of objects and the arena's free extents. */
static pthread_mutex_t shm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sgx_shm *shm_list;

/*
 * System calls throughout, not the libc names: under the LD_PRELOAD shim
 * those may be the shim's wrappers, which the model must never enter
 * (kernel/mm.h), least of all in a fork() child.
 */
static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long ret = syscall(SYS_mmap, addr, len, prot, flags, fd, off);

	return ret == -1 ? MAP_FAILED : (void *)ret;
}

static int raw_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

/*
 * A memfd whose pages may be mapped executable (enclave code runs from
 * them). MFD_EXEC says so where vm.memfd_noexec would otherwise seal it
 * (Linux 6.3+); older kernels do not know the flag and allow exec anyway.
 */
static int memfd_new(const char *name, uint64_t size)
{
	int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_EXEC);

	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Sparse: the object costs memory only for pages written. */
	if (syscall(SYS_ftruncate, fd, (off_t)size)) {
		int ret = -errno;

		raw_close(fd);
		return ret;
	}
	return fd;
}

/*
 * Where the objects go. A program may pick an enclave's address with mmap(),
 * munmap() it, run ECREATE and only then mmap(MAP_FIXED) the enclave there:
 * safe on Linux, which maps nothing in the process at ECREATE, but a backing
 * store mapped by ECREATE into that hole would be replaced under the model.
 * So objects are carved from reservations (PROT_NONE, no memory) of
 * ARENA_CHUNK bytes each, the first made at power-on, which the program never
 * had and no hole it made can hold. An object larger than a chunk gets a
 * reservation of its own, as large.
 */
#define ARENA_CHUNK (64ULL << 30)

struct extent {
	uintptr_t start;
	uint64_t len;
	struct extent *next; /* free extents, by address */
};

static struct extent *arena_free;

static int reserve(uintptr_t addr, uint64_t len)
{
	void *p = raw_mmap((void *)addr, len, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (addr ? MAP_FIXED : 0), -1, 0);

	return p == MAP_FAILED ? -errno : 0;
}

/* Give [start, start + len) back to the free extents, merging neighbours. With shm_lock. */
static void arena_put(uintptr_t start, uint64_t len)
{
	struct extent **pp = &arena_free, *e, *prev = NULL;

	while (*pp && (*pp)->start < start) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (prev && prev->start + prev->len == start) {
		prev->len += len;
		e = prev;
	} else {
		e = malloc(sizeof(*e));
		if (!e)
			return; /* the address space stays reserved, unused */
		e->start = start;
		e->len = len;
		e->next = *pp;
		*pp = e;
	}
	if (e->next && e->start + e->len == e->next->start) {
		struct extent *n = e->next;

		e->len += n->len;
		e->next = n->next;
		free(n);
	}
}

/* First fit; a new reservation when nothing fits. 0 when none can be had. With shm_lock. */
static uintptr_t arena_get(uint64_t len)
{
	struct extent **pp;
	uintptr_t start;

	for (int tries = 0; tries < 2; tries++) {
		uint64_t chunk = len > ARENA_CHUNK ? len : ARENA_CHUNK;
		void *p;

		for (pp = &arena_free; *pp; pp = &(*pp)->next) {
			struct extent *e = *pp;

			if (e->len < len)
				continue;
			start = e->start;
			e->start += len;
			e->len -= len;
			if (!e->len) {
				*pp = e->next;
				free(e);
			}
			return start;
		}
		p = raw_mmap(NULL, chunk, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			     -1, 0);
		if (p == MAP_FAILED)
			return 0;
		arena_put((uintptr_t)p, chunk);
	}
	return 0;
}

/* @fd mapped with @prot at a place of the arena, or MAP_FAILED with errno set. */
static uint8_t *place(int fd, uint64_t size, int prot)
{
	uintptr_t addr;
	void *p;

	pthread_mutex_lock(&shm_lock);
	addr = arena_get(size);
	pthread_mutex_unlock(&shm_lock);
	if (!addr) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	p = raw_mmap((void *)addr, size, prot, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		int err = errno;

		if (!reserve(addr, size)) {
			pthread_mutex_lock(&shm_lock);
			arena_put(addr, size);
			pthread_mutex_unlock(&shm_lock);
		}
		errno = err;
	}
	return p;
}

/*
 * The place goes back to the arena, reserved again: never a hole in the
 * process. An object larger than a chunk had a reservation of its own: that
 * goes back to the process.
 */
static void unplace(void *addr, uint64_t size)
{
	if (size > ARENA_CHUNK) {
		syscall(SYS_munmap, addr, size);
		return;
	}
	if (reserve((uintptr_t)addr, size))
		return;
	pthread_mutex_lock(&shm_lock);
	arena_put((uintptr_t)addr, size);
	pthread_mutex_unlock(&shm_lock);
}

static void unmap_views(struct sgx_shm *m)
{
	for (int prot = 0; prot < SGX_SHM_NR_VIEWS; prot++) {
		if (m->view[prot] && m->view[prot] != m->map)
			unplace(m->view[prot], m->size);
		m->view[prot] = NULL;
	}
	if (m->map)
		unplace(m->map, m->size);
	m->map = NULL;
}

static void list_add_shm(struct sgx_shm *m)
{
	pthread_mutex_lock(&shm_lock);
	m->prev = NULL;
	m->next = shm_list;
	if (shm_list)
		shm_list->prev = m;
	shm_list = m;
	pthread_mutex_unlock(&shm_lock);
}

static void list_del_shm(struct sgx_shm *m)
{
	pthread_mutex_lock(&shm_lock);
	if (m->prev)
		m->prev->next = m->next;
	else if (shm_list == m)
		shm_list = m->next;
	if (m->next)
		m->next->prev = m->prev;
	m->prev = m->next = NULL;
	pthread_mutex_unlock(&shm_lock);
}

int sgx_shm_create(struct sgx_shm *m, const char *name, uint64_t size, bool views,
		   sgx_shm_data_fn data, void *ctx)
{
	return sgx_shm_create_fd(m, name, size, views, data, ctx, false);
}

int sgx_shm_create_fd(struct sgx_shm *m, const char *name, uint64_t size, bool views,
		      sgx_shm_data_fn data, void *ctx, bool keep_fd)
{
	const int rw = PROT_READ | PROT_WRITE;
	struct stat st;
	int fd, ret = 0;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (!size || size % PAGE)
		return -EINVAL;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->size = size;
	m->data = data;
	m->ctx = ctx;
	fd = memfd_new(name, size);
	if (fd < 0)
		return fd;
	if (syscall(SYS_fstat, fd, &st)) {
		ret = -errno;
		goto out;
	}
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	/* NORESERVE: an EPC of 1 TiB commits nothing until pages are used. */
	m->map = place(fd, size, rw);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		ret = -errno;
		goto out;
	}
	m->view[rw] = m->map;
	for (int prot = 1; views && prot < SGX_SHM_NR_VIEWS; prot++) {
		if (prot == rw)
			continue;
		m->view[prot] = place(fd, size, prot);
		if (m->view[prot] == MAP_FAILED) {
			m->view[prot] = NULL;
			ret = -errno;
			goto out;
		}
	}
out:
	/* From here on the mappings are the object: nothing for the program to close. */
	if (ret || !keep_fd)
		raw_close(fd);
	else
		m->fd = fd;
	if (ret) {
		unmap_views(m);
		return ret;
	}
	list_add_shm(m);
	return 0;
}

int sgx_shm_attach(struct sgx_shm *m, const char *name, int fd, uint64_t size)
{
	struct stat st;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (!size || size % PAGE)
		return -EINVAL;
	if (syscall(SYS_fstat, fd, &st))
		return -errno;
	/* A peer's object of another size is another platform's: refuse it. */
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return -EINVAL;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->size = size;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->map = place(fd, size, PROT_READ | PROT_WRITE);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		return -errno;
	}
	m->view[PROT_READ | PROT_WRITE] = m->map;
	return 0;
}

void sgx_shm_destroy(struct sgx_shm *m)
{
	if (!m->map)
		return;
	list_del_shm(m);
	unmap_views(m);
	if (m->fd >= 0)
		raw_close(m->fd);
	m->fd = -1;
}

int sgx_shm_map_from(void *src, uint64_t addr, int prot)
{
	/*
	 * A new mapping of the same pages, replacing whatever was at @addr,
	 * with the source view's protection and file offset: the VMA is the
	 * same as mmap() of the memfd would make, so neighbours still merge.
	 */
	long ret = syscall(SYS_mremap, src, 0, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, addr);

	if (ret == -1)
		return -errno;
	/* No view is inaccessible: a PROT_NONE entry takes two calls (rare). */
	if (!(prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) &&
	    syscall(SYS_mprotect, addr, PAGE, PROT_NONE))
		return -errno;
	return 0;
}

int sgx_shm_map_page(const struct sgx_shm *m, uint64_t offset, uint64_t addr, int prot)
{
	uint8_t *view = m->view[prot & (SGX_SHM_NR_VIEWS - 1)];

	if (!view)
		view = m->map;
	if (!view || offset >= m->size)
		return -EFAULT;
	return sgx_shm_map_from(view + offset, addr, prot);
}

/* fork(): a copy of one object in a new memfd. */
struct shm_copy {
	struct sgx_shm *m;
	int fd;
	int err;
	uint64_t dev, ino;
};

static void copy_range(void *arg, uint64_t first, uint64_t count)
{
	struct shm_copy *c = arg;
	uint64_t off = first * PAGE, len = count * PAGE;

	if (c->err || off >= c->m->size)
		return;
	if (len > c->m->size - off)
		len = c->m->size - off;
	/* Reading through the old mapping brings back pages the host swapped out. */
	while (len) {
		ssize_t n = syscall(SYS_pwrite64, c->fd, c->m->map + off, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			c->err = n ? -errno : -EIO;
			return;
		}
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
}

static int read_maps(char **text)
{
	size_t cap = 256 * 1024, len = 0;
	char *buf = malloc(cap);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ssize_t n = 0;

	if (!buf || fd < 0)
		goto fail;
	while ((n = syscall(SYS_read, fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger)
				goto fail;
			buf = bigger;
			cap *= 2;
		}
	}
	if (n < 0)
		goto fail;
	raw_close(fd);
	buf[len] = '\0';
	*text = buf;
	return 0;
fail:
	if (fd >= 0)
		raw_close(fd);
	free(buf);
	return -ENOMEM;
}

/* Every mapping of an original, found by its identity, now maps its copy. */
static int remap_copies(struct shm_copy *c, unsigned int n)
{
	char *maps, *line, *save;
	int ret = read_maps(&maps);

	if (ret)
		return ret;
	for (line = strtok_r(maps, "\n", &save); line && !ret;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long start, end, off, ino;
		unsigned int major, minor;
		char perms[5];
		int prot = 0;

		if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu", &start, &end, perms, &off, &major,
			   &minor, &ino) != 7 || perms[3] != 's')
			continue;
		prot |= perms[0] == 'r' ? PROT_READ : 0;
		prot |= perms[1] == 'w' ? PROT_WRITE : 0;
		prot |= perms[2] == 'x' ? PROT_EXEC : 0;
		for (unsigned int i = 0; i < n; i++) {
			if (c[i].m->ino != ino || c[i].m->dev != makedev(major, minor))
				continue;
			if (raw_mmap((void *)start, end - start, prot,
				     MAP_SHARED | MAP_FIXED | MAP_NORESERVE, c[i].fd,
				     (off_t)off) == MAP_FAILED)
				ret = -errno;
			break;
		}
	}
	free(maps);
	return ret;
}

int sgx_shm_unshare_all(void)
{
	struct shm_copy *c = NULL;
	unsigned int n = 0, i = 0;
	struct sgx_shm *m;
	int ret = 0;

	/* Single-threaded child: a holder of the lock in the parent is gone. */
	pthread_mutex_init(&shm_lock, NULL);
	for (m = shm_list; m; m = m->next)
		n++;
	if (!n)
		return 0;
	c = calloc(n, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (m = shm_list; m; m = m->next, i++) {
		struct stat st;

		c[i].m = m;
		c[i].fd = memfd_new(m->name, m->size);
		if (c[i].fd < 0) {
			ret = c[i].fd;
			break;
		}
		if (syscall(SYS_fstat, c[i].fd, &st)) {
			ret = -errno;
			break;
		}
		c[i].dev = st.st_dev;
		c[i].ino = st.st_ino;
		/* Only the pages that hold data: an EPC of 1 TiB is mostly holes. */
		if (m->data)
			m->data(m->ctx, copy_range, &c[i]);
		ret = c[i].err;
		if (ret)
			break;
	}
	if (!ret)
		ret = remap_copies(c, n);
	if (!ret) {
		for (i = 0; i < n; i++) {
			c[i].m->dev = c[i].dev;
			c[i].m->ino = c[i].ino;
			/* A kept descriptor is the parent's object: the child keeps its copy's. */
			if (c[i].m->fd >= 0) {
				raw_close(c[i].m->fd);
				c[i].m->fd = c[i].fd;
				c[i].fd = -1;
			}
		}
	}
	for (i = 0; i < n; i++)
		if (c[i].m && c[i].fd >= 0)
			raw_close(c[i].fd);
	free(c);
	return ret;
}
