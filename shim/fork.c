// SPDX-License-Identifier: MIT
/*
 * fork() of a process with SGX state. The emulated platform is ordinary
 * memory of this process, so the child of a fork gets its own copy of it: a
 * snapshot of the platform at the moment of the fork, with every enclave,
 * vEPC mapping and SGX descriptor the parent had, which the child goes on
 * using on its own. (On Linux parent and child share the enclave; here they
 * diverge from the fork on. docs/architecture.md says why.)
 *
 * Two things would otherwise tie the child to the parent, or hang it:
 * - EPC sections and enclave backing stores are memfds mapped MAP_SHARED,
 *   shared across fork(): the child copies each into a new memfd, maps the
 *   copy where the original was mapped and takes over its descriptor
 *   number. The parent waits for that copy, so the model it changes
 *   afterwards is never half-copied.
 * - A lock held by another thread at the fork would stay locked in the
 *   child forever. Every entry into the kernel model from the shim holds
 *   the model lock shared (shim_model_get()); fork() takes it exclusively
 *   and stops ksgxd, so no model lock is held when the address space is
 *   copied. Parent and child then start a ksgxd of their own.
 *
 * Threads that were inside an enclave at the fork do not exist in the
 * child: their TCSs stay busy there, as they would after any thread is
 * lost inside an enclave.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shim.h"
#include "thread.h"

/* Every memfd of the platform is named softsgx-*: EPC sections, backing stores. */
#define PLATFORM_MEMFD_LINK "/memfd:softsgx-"
#define COPY_CHUNK	    (256 * 1024)

/*
 * The model lock, built from atomics rather than pthread_rwlock_t: it is
 * taken in signal handlers, nested (a fault inside an ioctl's user copy, a
 * kick inside a fault), where a pthread lock is not safe.
 */
static _Atomic unsigned int model_readers;
static _Atomic bool model_frozen;
static pthread_mutex_t fork_serial = PTHREAD_MUTEX_INITIALIZER;
static __thread unsigned int held __attribute__((tls_model("initial-exec")));
/* The child tells the parent through this pipe that its copy is done. */
static int copied_pipe[2] = { -1, -1 };
static bool ksgxd_was_running;

void shim_model_get(void)
{
	/* Nested inside this thread's own hold: a fork waits for the outer one. */
	if (held++)
		return;
	for (;;) {
		while (atomic_load(&model_frozen))
			sched_yield();
		atomic_fetch_add(&model_readers, 1);
		if (!atomic_load(&model_frozen))
			return;
		atomic_fetch_sub(&model_readers, 1);
	}
}

void shim_model_put(void)
{
	if (!--held)
		atomic_fetch_sub(&model_readers, 1);
}

static void freeze_model(void)
{
	pthread_mutex_lock(&fork_serial);
	atomic_store(&model_frozen, true);
	while (atomic_load(&model_readers))
		sched_yield();
	/* The forking thread itself still goes through the shim (close() of the pipe). */
	held++;
}

static void thaw_model(void)
{
	held--;
	atomic_store(&model_frozen, false);
	pthread_mutex_unlock(&fork_serial);
}

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
	close(fd);
	buf[len] = '\0';
	*text = buf;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
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
			if (mmap((void *)start, end - start, prot, MAP_SHARED | MAP_FIXED, m[i].copy,
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
static int unshare_platform(void)
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

		if (dup3(m[i].copy, m[i].fd, cloexec ? O_CLOEXEC : 0) < 0)
			ret = -errno;
	}
out:
	for (unsigned int i = 0; i < n; i++)
		if (m && m[i].copy >= 0)
			close(m[i].copy);
	free(m);
	free(names);
	return ret;
}

static void prepare(void)
{
	struct sgx_kernel *k = shim_kernel_if_up();

	freeze_model();
	shim_threads_before_fork();
	if (!k)
		return;
	ksgxd_was_running = k->ksgxd_running;
	sgx_kernel_stop_ksgxd(k);
	if (pipe2(copied_pipe, O_CLOEXEC))
		copied_pipe[0] = copied_pipe[1] = -1;
}

static void restart_ksgxd(struct sgx_kernel *k)
{
	if (ksgxd_was_running && sgx_kernel_start_ksgxd(k))
		fprintf(stderr, "softsgx: cannot restart the reclaimer after fork()\n");
}

static void in_parent(void)
{
	struct sgx_kernel *k = shim_kernel_if_up();
	char done;

	if (k && copied_pipe[0] >= 0) {
		close(copied_pipe[1]);
		/* One byte when the child's copy is done; EOF if it died (or fork failed). */
		while (read(copied_pipe[0], &done, 1) < 0 && errno == EINTR)
			;
		close(copied_pipe[0]);
		copied_pipe[0] = copied_pipe[1] = -1;
	}
	if (k)
		restart_ksgxd(k);
	thaw_model();
}

static void in_child(void)
{
	struct sgx_kernel *k = shim_kernel_if_up();
	int ret;

	/*
	 * Unlocked: this is the only thread, and the copy below goes through
	 * the shim's own close(), mmap() and dup3().
	 */
	atomic_store(&model_readers, 0);
	atomic_store(&model_frozen, false);
	pthread_mutex_init(&fork_serial, NULL);
	held = 0;
	if (k) {
		ret = unshare_platform();
		if (copied_pipe[1] >= 0) {
			(void)!write(copied_pipe[1], "", 1);
			close(copied_pipe[0]);
			close(copied_pipe[1]);
			copied_pipe[0] = copied_pipe[1] = -1;
		}
		if (ret) {
			/* A child sharing the parent's EPC would corrupt it: stop here. */
			fprintf(stderr, "softsgx: fork: cannot copy the platform: %s\n",
				strerror(-ret));
			_exit(127);
		}
		shim_threads_after_fork();
		restart_ksgxd(k);
	}
}

void shim_fork_init(void)
{
	pthread_atfork(prepare, in_parent, in_child);
}
