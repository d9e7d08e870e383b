// SPDX-License-Identifier: MIT
/*
 * fork() of a process with a platform. The platform is memory of the
 * process, so the child of a fork gets its own copy of it, taken at the
 * fork, and parent and child go on separately. (Linux shares an enclave
 * between parent and child; docs/architecture.md says why this differs.)
 *
 * Ordinary memory is copied by fork() itself. What is not: EPC sections and
 * enclave backing stores are memfds mapped MAP_SHARED, which parent and
 * child would share, each with its own idea of what they hold. The child
 * copies each (its data only: they are sparse) into a new memfd, maps the
 * copy wherever the original was mapped, with the same protection, and
 * moves it onto the original's descriptor number. Every platform memfd is
 * named softsgx-*.
 *
 * The parent waits until the child's copy is done, so the model it changes
 * afterwards is never half copied; ksgxd is stopped around the fork, and
 * both restart it. Which other threads may be in the model during the fork
 * is the caller's business (the shim holds them off with its model lock).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mm.h"
#include "sgx.h"

#define PLATFORM_MEMFD_LINK "/memfd:softsgx-"
#define COPY_CHUNK	    (256 * 1024)

struct platform_memfd {
	int fd, copy;
	dev_t dev;
	ino_t ino;
};

static int copy_range(int from, int to, off_t start, off_t end, char *buf)
{
	while (start < end) {
		size_t len = (size_t)(end - start) < COPY_CHUNK ? (size_t)(end - start) : COPY_CHUNK;
		ssize_t n = pread(from, buf, len, start);

		if (n <= 0)
			return n ? -errno : -EIO;
		if (pwrite(to, buf, (size_t)n, start) != n)
			return -EIO;
		start += n;
	}
	return 0;
}

/* A private memfd with @m's name and contents; only the data is copied (it is sparse). */
static int copy_memfd(struct platform_memfd *m, const char *name)
{
	char *buf = malloc(COPY_CHUNK);
	struct stat st;
	off_t data, hole;
	int ret = 0;

	if (!buf || fstat(m->fd, &st)) {
		free(buf);
		return -ENOMEM;
	}
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->copy = memfd_create(name, MFD_CLOEXEC);
	if (m->copy < 0 || ftruncate(m->copy, st.st_size)) {
		free(buf);
		return -errno;
	}
	for (data = lseek(m->fd, 0, SEEK_DATA); data >= 0 && data < st.st_size && !ret;
	     data = lseek(m->fd, hole, SEEK_DATA)) {
		hole = lseek(m->fd, data, SEEK_HOLE);
		if (hole < 0)
			hole = st.st_size;
		ret = copy_range(m->fd, m->copy, data, hole, buf);
	}
	free(buf);
	return ret;
}

static int read_whole(const char *path, char **text)
{
	size_t cap = 64 * 1024, len = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (!buf || fd < 0)
		goto fail;
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
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
	sys_close(fd);
	buf[len] = '\0';
	*text = buf;
	return 0;
fail:
	if (fd >= 0)
		sys_close(fd);
	free(buf);
	return -ENOMEM;
}

/* Map each copy wherever its original is mapped, with the same protection. */
static int remap_copies(struct platform_memfd *m, unsigned int n)
{
	char *maps, *line, *save;

	if (read_whole("/proc/self/maps", &maps))
		return -ENOMEM;
	for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long start, end, off, ino;
		unsigned int major, minor;
		char perms[5];
		int prot = 0;

		if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu", &start, &end, perms, &off, &major,
			   &minor, &ino) != 7)
			continue;
		prot |= perms[0] == 'r' ? PROT_READ : 0;
		prot |= perms[1] == 'w' ? PROT_WRITE : 0;
		prot |= perms[2] == 'x' ? PROT_EXEC : 0;
		for (unsigned int i = 0; i < n; i++) {
			if (m[i].ino != ino || m[i].dev != makedev(major, minor) || perms[3] != 's')
				continue;
			if (sys_mmap((void *)start, end - start, prot, MAP_SHARED | MAP_FIXED, m[i].copy,
				     (off_t)off) == MAP_FAILED) {
				free(maps);
				return -errno;
			}
		}
	}
	free(maps);
	return 0;
}

/* The platform memfds among this process's descriptors: at most @max. */
static unsigned int find_platform_memfds(struct platform_memfd *m, unsigned int max,
					 char (*names)[64])
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned int n = 0;

	if (!dir)
		return 0;
	while ((de = readdir(dir)) && n < max) {
		char path[64], link[128];
		ssize_t len;
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd == dirfd(dir))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (strncmp(link, PLATFORM_MEMFD_LINK, strlen(PLATFORM_MEMFD_LINK)))
			continue;
		/* "/memfd:NAME (deleted)": the copy gets NAME. */
		snprintf(names[n], sizeof(names[n]), "%.63s", link + strlen("/memfd:"));
		names[n][strcspn(names[n], " ")] = '\0';
		m[n].fd = fd;
		m[n].copy = -1;
		n++;
	}
	closedir(dir);
	return n;
}

/* The child's copy of the platform: its own EPC and backing stores. */
static int unshare_platform_memory(void)
{
	enum { MAX_MEMFDS = 4096 };
	struct platform_memfd *m = calloc(MAX_MEMFDS, sizeof(*m));
	char(*names)[64] = calloc(MAX_MEMFDS, sizeof(*names));
	unsigned int n = 0;
	int ret = -ENOMEM;

	if (!m || !names)
		goto out;
	n = find_platform_memfds(m, MAX_MEMFDS, names);
	ret = 0;
	for (unsigned int i = 0; i < n && !ret; i++)
		ret = copy_memfd(&m[i], names[i]);
	if (!ret)
		ret = remap_copies(m, n);
	/* The copy takes over the original's number: the model keeps its fds. */
	for (unsigned int i = 0; i < n && !ret; i++) {
		int cloexec = fcntl(m[i].fd, F_GETFD) & FD_CLOEXEC;

		if (syscall(SYS_dup3, m[i].copy, m[i].fd, cloexec ? O_CLOEXEC : 0) < 0)
			ret = -errno;
	}
out:
	for (unsigned int i = 0; i < n; i++)
		if (m && m[i].copy >= 0)
			syscall(SYS_close, m[i].copy);
	free(m);
	free(names);
	return ret;
}

void sgx_fork_prepare(struct sgx_kernel *k)
{
	k->fork_ksgxd = k->ksgxd_running;
	sgx_kernel_stop_ksgxd(k);
	if (pipe2(k->fork_pipe, O_CLOEXEC))
		k->fork_pipe[0] = k->fork_pipe[1] = -1;
}

static void restart_ksgxd(struct sgx_kernel *k)
{
	if (k->fork_ksgxd && sgx_kernel_start_ksgxd(k))
		fprintf(stderr, "softsgx: cannot restart the reclaimer after fork()\n");
}

void sgx_fork_parent(struct sgx_kernel *k)
{
	char done;

	if (k->fork_pipe[0] >= 0) {
		syscall(SYS_close, k->fork_pipe[1]);
		/* A byte when the child's copy is done; EOF if it died, or fork() failed. */
		while (read(k->fork_pipe[0], &done, 1) < 0 && errno == EINTR)
			;
		syscall(SYS_close, k->fork_pipe[0]);
		k->fork_pipe[0] = k->fork_pipe[1] = -1;
	}
	restart_ksgxd(k);
}

int sgx_fork_child(struct sgx_kernel *k)
{
	int ret = unshare_platform_memory();

	if (k->fork_pipe[1] >= 0) {
		(void)!write(k->fork_pipe[1], "", 1);
		syscall(SYS_close, k->fork_pipe[0]);
		syscall(SYS_close, k->fork_pipe[1]);
		k->fork_pipe[0] = k->fork_pipe[1] = -1;
	}
	if (ret)
		return ret;
	restart_ksgxd(k);
	return 0;
}
