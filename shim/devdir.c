// SPDX-License-Identifier: MIT
/*
 * Directory listings with our files in them: readdir() of /dev shows
 * sgx_enclave, sgx_provision, sgx_vepc and sgx after the host's entries;
 * /dev/sgx (which the host lacks) opens as a directory listing ".", "..",
 * enclave and provision; nodeN shows x86, and nodeN/x86 sgx_total_bytes.
 *
 * One of our directories is opened as a descriptor of an empty host
 * directory made and removed at once (a removed directory lists nothing),
 * registered with shim/devfs.c so that paths relative to it resolve in
 * ours. Only listings through libc's public opendir/readdir are seen;
 * glob() and scandir() read directories with libc's internal calls.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/devfs.h"
#include "shim/shim.h"

#define MAX_DIRS 64
#define MAX_ENTS 8

struct tracked {
	DIR *d;
	bool ours;	/* one of our directories: nothing of the host's in it */
	bool host_done; /* the host's entries are all out */
	int n, next;	/* our entries ("." and ".." first for ours) */
	struct devfs_dirent ents[MAX_ENTS + 2];
	struct dirent ent;
};

static struct tracked *dirs[MAX_DIRS];
static _Atomic int nr_dirs;
static pthread_mutex_t dirs_lock = PTHREAD_MUTEX_INITIALIZER;

static void track(DIR *d, const char *canon, bool ours)
{
	struct tracked *t = calloc(1, sizeof(*t));

	if (!t)
		return;
	t->d = d;
	t->ours = ours;
	t->host_done = ours;
	if (ours) {
		t->ents[t->n++] = (struct devfs_dirent){".", DT_DIR, 0};
		t->ents[t->n++] = (struct devfs_dirent){"..", DT_DIR, 0};
	}
	t->n += devfs_dir_entries(canon, t->ents + t->n, MAX_ENTS);
	if (!ours && !t->n) {
		free(t);
		return;
	}
	pthread_mutex_lock(&dirs_lock);
	for (int i = 0; i < MAX_DIRS; i++) {
		if (!dirs[i]) {
			dirs[i] = t;
			t = NULL;
			atomic_fetch_add(&nr_dirs, 1);
			break;
		}
	}
	pthread_mutex_unlock(&dirs_lock);
	free(t);
}

static struct tracked *find(DIR *d, bool remove)
{
	struct tracked *t = NULL;

	if (!atomic_load(&nr_dirs))
		return NULL;
	pthread_mutex_lock(&dirs_lock);
	for (int i = 0; i < MAX_DIRS; i++) {
		if (dirs[i] && dirs[i]->d == d) {
			t = dirs[i];
			if (remove) {
				dirs[i] = NULL;
				atomic_fetch_sub(&nr_dirs, 1);
			}
			break;
		}
	}
	pthread_mutex_unlock(&dirs_lock);
	return t;
}

/* A host directory stream: ours to add to when it is /dev or a NUMA node's. */
static DIR *watch(DIR *d)
{
	char link[32], canon[PATH_MAX];
	long n;

	if (!d)
		return NULL;
	/* A descriptor of ours that open() made (find(1) opens, then fdopendir()s). */
	if (devfs_vdir_path(dirfd(d), canon)) {
		track(d, canon, true);
		return d;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd(d));
	n = devfs_sys(SYS_readlinkat, AT_FDCWD, (long)link, (long)canon, sizeof(canon) - 1, 0, 0);
	if (n > 0) {
		canon[n] = '\0';
		track(d, canon, false);
	}
	return d;
}

int devfs_open_vdir(const char *canon, int flags)
{
	char tmp[] = "/tmp/.softsgx-dir-XXXXXX";
	long fd;

	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EISDIR;
	if (!mkdtemp(tmp))
		return -EACCES;
	fd = devfs_sys(SYS_openat, AT_FDCWD, (long)tmp,
		       O_RDONLY | O_DIRECTORY | (flags & O_CLOEXEC), 0, 0, 0);
	devfs_sys(SYS_rmdir, (long)tmp, 0, 0, 0, 0, 0);
	if (fd < 0)
		return -EACCES;
	if (!devfs_vdir_register((int)fd, canon)) {
		devfs_sys(SYS_close, fd, 0, 0, 0, 0, 0);
		return -EMFILE;
	}
	return (int)fd;
}

/* One of our directories, @canon, as a stream; NULL with errno on failure. */
static DIR *open_ours(const char *canon)
{
	int fd = devfs_open_vdir(canon, O_CLOEXEC);
	DIR *d;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	d = real.fdopendir(fd);
	if (!d) {
		devfs_vdir_unregister(fd);
		devfs_sys(SYS_close, fd, 0, 0, 0, 0, 0);
		errno = EACCES;
		return NULL;
	}
	track(d, canon, true);
	return d;
}

DIR *opendir(const char *path)
{
	char canon[PATH_MAX];
	struct devfs_node node;
	DIR *d;
	int err, r;

	shim_resolve_real();
	d = real.opendir(path);
	/* The model's own listings (kernel/fork.c, in fork handlers) stay the host's. */
	if (shim_from_self(__builtin_return_address(0)))
		return d;
	if (d)
		return watch(d);
	err = errno;
	if (err != ENOENT)
		return NULL;
	r = devfs_lookup(AT_FDCWD, path, false, &node, canon);
	if (r == 2)
		return watch(real.opendir(canon));
	if (r <= 0 || node.kind != DEVFS_DIR) {
		errno = r < 0 ? -r : r > 0 ? ENOTDIR : err;
		return NULL;
	}
	return open_ours(canon);
}

DIR *fdopendir(int fd)
{
	shim_resolve_real();
	return watch(real.fdopendir(fd));
}

struct dirent *readdir(DIR *d)
{
	struct tracked *t;
	struct dirent *de;
	int err = errno;

	shim_resolve_real();
	if (shim_from_self(__builtin_return_address(0)))
		return real.readdir(d);
	t = find(d, false);
	if (!t)
		return real.readdir(d);
	if (!t->host_done) {
		errno = 0;
		de = real.readdir(d);
		if (de || errno)
			return de;
		errno = err;
		t->host_done = true;
	}
	if (t->next >= t->n)
		return NULL;
	memset(&t->ent, 0, sizeof(t->ent));
	t->ent.d_ino = t->ents[t->next].ino ? t->ents[t->next].ino : 1;
	t->ent.d_off = 0x7fff0000 + t->next + 1;
	t->ent.d_reclen = sizeof(t->ent);
	t->ent.d_type = t->ents[t->next].type;
	strcpy(t->ent.d_name, t->ents[t->next].name);
	t->next++;
	return &t->ent;
}

struct dirent64 *readdir64(DIR *d)
{
	/* The same structure on x86-64. */
	return (struct dirent64 *)readdir(d);
}

void rewinddir(DIR *d)
{
	struct tracked *t;

	shim_resolve_real();
	real.rewinddir(d);
	t = find(d, false);
	if (t) {
		t->next = 0;
		t->host_done = t->ours;
	}
}

int closedir(DIR *d)
{
	struct tracked *t;

	shim_resolve_real();
	if (shim_from_self(__builtin_return_address(0)))
		return real.closedir(d);
	t = find(d, true);
	if (t && t->ours)
		devfs_vdir_unregister(dirfd(d));
	free(t);
	return real.closedir(d);
}
