// SPDX-License-Identifier: MIT
/*
 * stat, access, readlink and realpath in every spelling glibc exports, so
 * the SGX device nodes and sysfs files (shim/devfs.c) and open SGX
 * descriptors look as they do on an SGX host. Everything else goes to the
 * host: by raw system call where the result is the kernel's alone (struct
 * stat and struct statx are the kernel's layouts on x86-64), through libc
 * where libc adds behaviour (faccessat's emulation of flags on old kernels,
 * realpath).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shim/devfs.h"
#include "shim/shim.h"

static int fail(int err)
{
	errno = err;
	return -1;
}

/* The node of open SGX file @f, whose reference this puts; false for NULL. */
static bool file_node(struct sgx_file *f, struct devfs_node *node)
{
	if (!f)
		return false;
	devfs_node_of_type(f->type, node);
	shim_model_get();
	sgx_file_put(f);
	shim_model_put();
	return true;
}

/* The node of SGX descriptor @fd, or false. */
static bool fd_node(int fd, struct devfs_node *node)
{
	enum sgx_file_type type;

	if (shim_service_mode() && shim_svc_fd_type(fd, &type)) {
		devfs_node_of_type(type, node);
		return true;
	}
	return file_node(shim_fget(fd), node) || devfs_vdir_node(fd, node);
}

/*
 * Which of our files @dirfd/@path names: 1 and *@node, 0 for the host's, or
 * -errno. A path without "sgx" is looked at only after the host's ENOENT
 * (via_host_link()).
 */
static int which(int *dirfd, const char **path, int flags, bool nofollow, struct devfs_node *node,
		 char *canon)
{
	int r;

	if (*path && !**path && (flags & AT_EMPTY_PATH))
		return *dirfd != AT_FDCWD && fd_node(*dirfd, node) ? 1 : 0;
	if (!devfs_maybe_at(*dirfd, *path))
		return 0;
	r = devfs_lookup(*dirfd, *path, nofollow, node, canon);
	if (r != 2)
		return r;
	/* The host's name for a host file reached through ours. */
	*dirfd = AT_FDCWD;
	*path = canon;
	return 0;
}

/* After the host said ENOENT: a host link into our namespace? */
static bool via_host_link(int dirfd, const char *path, bool nofollow, struct devfs_node *node)
{
	return path && *path && !devfs_maybe(path) &&
	       devfs_lookup(dirfd, path, nofollow, node, NULL) > 0;
}

static bool empty_path(const char *path, int flags)
{
	return path && !*path && (flags & AT_EMPTY_PATH);
}

/* @fd, whose identity the host gave in @st, is a raw copy of an SGX descriptor. */
static bool untracked_copy(int fd, const struct stat *st, struct devfs_node *node)
{
	return fd >= 0 && file_node(shim_fget_by_identity(fd, st), node);
}

int devfs_stat_at(int dirfd, const char *path, struct stat *st, int flags)
{
	bool nofollow = flags & AT_SYMLINK_NOFOLLOW;
	struct devfs_node node;
	char canon[PATH_MAX];
	int r = which(&dirfd, &path, flags, nofollow, &node, canon);
	long ret;

	if (r < 0)
		return fail(-r);
	if (r == 0) {
		ret = devfs_sys(SYS_newfstatat, dirfd, (long)path, (long)st, flags, 0, 0);
		if (!ret && empty_path(path, flags) && untracked_copy(dirfd, st, &node))
			r = 1;
		else if (ret != -ENOENT || !via_host_link(dirfd, path, nofollow, &node))
			return (int)devfs_ret(ret);
	}
	devfs_fill_stat(&node, st);
	return 0;
}

int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return devfs_stat_at(dirfd, path, st, flags);
}

int stat(const char *path, struct stat *st)
{
	/* The shim's own calls (obs/stats_file.c) see the host. */
	if (shim_from_self(__builtin_return_address(0)))
		return (int)devfs_ret(
			devfs_sys(SYS_newfstatat, AT_FDCWD, (long)path, (long)st, 0, 0, 0));
	return devfs_stat_at(AT_FDCWD, path, st, 0);
}

int lstat(const char *path, struct stat *st)
{
	return devfs_stat_at(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int devfs_fstat(int fd, struct stat *st)
{
	struct devfs_node node;
	long ret;

	if (fd_node(fd, &node)) {
		devfs_fill_stat(&node, st);
		return 0;
	}
	ret = devfs_sys(SYS_fstat, fd, (long)st, 0, 0, 0, 0);
	/* A raw copy of an SGX descriptor: the host just told us its identity. */
	if (!ret && untracked_copy(fd, st, &node)) {
		devfs_fill_stat(&node, st);
		return 0;
	}
	return (int)devfs_ret(ret);
}

int fstat(int fd, struct stat *st)
{
	/* The model's fstat() of its own memfds (kernel/fork.c) must see them. */
	if (shim_from_self(__builtin_return_address(0)))
		return (int)devfs_ret(devfs_sys(SYS_fstat, fd, (long)st, 0, 0, 0, 0));
	return devfs_fstat(fd, st);
}

/* The 64 spellings: the same struct on x86-64. */
int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	return devfs_stat_at(dirfd, path, (struct stat *)st, flags);
}

int stat64(const char *path, struct stat64 *st)
{
	return devfs_stat_at(AT_FDCWD, path, (struct stat *)st, 0);
}

int lstat64(const char *path, struct stat64 *st)
{
	return devfs_stat_at(AT_FDCWD, path, (struct stat *)st, AT_SYMLINK_NOFOLLOW);
}

int fstat64(int fd, struct stat64 *st)
{
	return devfs_fstat(fd, (struct stat *)st);
}

/*
 * Before glibc 2.33 programs called stat() through these, with a version
 * number of struct stat (1 on x86-64); old binaries still do.
 */
int __xstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __fxstat(int ver, int fd, struct stat *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __xstat64(int ver, const char *path, struct stat *st);
int __lxstat64(int ver, const char *path, struct stat *st);
int __fxstat64(int ver, int fd, struct stat *st);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat *st, int flags);

int __xstat(int ver, const char *path, struct stat *st)
{
	(void)ver;
	return devfs_stat_at(AT_FDCWD, path, st, 0);
}

int __lxstat(int ver, const char *path, struct stat *st)
{
	(void)ver;
	return devfs_stat_at(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int __fxstat(int ver, int fd, struct stat *st)
{
	(void)ver;
	return devfs_fstat(fd, st);
}

int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	(void)ver;
	return devfs_stat_at(dirfd, path, st, flags);
}

int __xstat64(int ver, const char *path, struct stat *st)
{
	return __xstat(ver, path, st);
}

int __lxstat64(int ver, const char *path, struct stat *st)
{
	return __lxstat(ver, path, st);
}

int __fxstat64(int ver, int fd, struct stat *st)
{
	return __fxstat(ver, fd, st);
}

int __fxstatat64(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	return __fxstatat(ver, dirfd, path, st, flags);
}

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx)
{
	bool nofollow = flags & AT_SYMLINK_NOFOLLOW;
	struct devfs_node node;
	char canon[PATH_MAX];
	int r = which(&dirfd, &path, flags, nofollow, &node, canon);
	long ret;

	if (r < 0)
		return fail(-r);
	if (r == 0) {
		ret = devfs_sys(SYS_statx, dirfd, (long)path, flags, mask, (long)stx, 0);
		if (!ret && empty_path(path, flags)) {
			struct stat st = {
				.st_dev = makedev(stx->stx_dev_major, stx->stx_dev_minor),
				.st_ino = stx->stx_ino,
			};

			if (untracked_copy(dirfd, &st, &node)) {
				devfs_fill_statx(&node, stx);
				return 0;
			}
		}
		if (ret != -ENOENT || !via_host_link(dirfd, path, nofollow, &node))
			return (int)devfs_ret(ret);
	}
	devfs_fill_statx(&node, stx);
	return 0;
}

/* faccessat(2)/faccessat2(2): @flags AT_EACCESS, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH. */
int devfs_faccessat(int dirfd, const char *path, int mode, int flags, bool raw2)
{
	bool nofollow = flags & AT_SYMLINK_NOFOLLOW;
	struct devfs_node node;
	char canon[PATH_MAX];
	int r = which(&dirfd, &path, flags, nofollow, &node, canon);

	if (r < 0)
		return fail(-r);
	if (r == 0) {
		long ret;

		if (raw2) {
			ret = devfs_sys(SYS_faccessat2, dirfd, (long)path, mode, flags, 0, 0);
		} else {
			shim_resolve_real();
			ret = real.faccessat(dirfd, path, mode, flags) ? -errno : 0;
		}
		if (ret != -ENOENT || !via_host_link(dirfd, path, nofollow, &node))
			return (int)devfs_ret(ret);
	}
	r = devfs_access(&node, mode, flags & AT_EACCESS);
	return r ? fail(-r) : 0;
}

int faccessat(int dirfd, const char *path, int mode, int flags)
{
	return devfs_faccessat(dirfd, path, mode, flags, false);
}

int access(const char *path, int mode)
{
	return devfs_faccessat(AT_FDCWD, path, mode, 0, false);
}

int euidaccess(const char *path, int mode)
{
	return devfs_faccessat(AT_FDCWD, path, mode, AT_EACCESS, false);
}

int eaccess(const char *path, int mode)
{
	return devfs_faccessat(AT_FDCWD, path, mode, AT_EACCESS, false);
}

static ssize_t copy_link(const char *target, char *buf, size_t size)
{
	size_t len = strlen(target);

	if (!size)
		return fail(EINVAL);
	if (len > size)
		len = size;
	memcpy(buf, target, len);
	return (ssize_t)len;
}

ssize_t devfs_readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
	const char *target = devfs_fd_link(dirfd, path);
	char canon[PATH_MAX];
	struct devfs_node node;
	long ret;
	int r;

	if (target)
		return copy_link(target, buf, size);
	r = devfs_maybe_at(dirfd, path) ? devfs_lookup(dirfd, path, true, &node, canon) : 0;
	if (r < 0)
		return fail(-r);
	if (r == 2) {
		/* A host file reached through ours: the host knows its own name. */
		dirfd = AT_FDCWD;
		path = canon;
		r = 0;
	}
	if (r == 0) {
		ret = devfs_sys(SYS_readlinkat, dirfd, (long)path, (long)buf, (long)size, 0, 0);
		if (ret != -ENOENT || !via_host_link(dirfd, path, true, &node))
			return devfs_ret(ret);
	}
	if (node.kind != DEVFS_LNK)
		return fail(EINVAL);
	return copy_link(node.link, buf, size);
}

/* The model's readlink() of /proc/self/fd/N (kernel/fork.c) must see its memfds. */
ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
	if (shim_from_self(__builtin_return_address(0)))
		return devfs_ret(
			devfs_sys(SYS_readlinkat, dirfd, (long)path, (long)buf, (long)size, 0, 0));
	return devfs_readlinkat(dirfd, path, buf, size);
}

ssize_t readlink(const char *path, char *buf, size_t size)
{
	if (shim_from_self(__builtin_return_address(0)))
		return devfs_ret(devfs_sys(SYS_readlinkat, AT_FDCWD, (long)path, (long)buf,
					   (long)size, 0, 0));
	return devfs_readlinkat(AT_FDCWD, path, buf, size);
}

/* _FORTIFY_SOURCE builds call these with the buffer's size. */
ssize_t __readlink_chk(const char *path, char *buf, size_t size, size_t buflen);
ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t size, size_t buflen);
char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen);
void __chk_fail(void) __attribute__((noreturn));

ssize_t __readlink_chk(const char *path, char *buf, size_t size, size_t buflen)
{
	if (size > buflen)
		__chk_fail();
	return devfs_readlinkat(AT_FDCWD, path, buf, size);
}

ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t size, size_t buflen)
{
	if (size > buflen)
		__chk_fail();
	return devfs_readlinkat(dirfd, path, buf, size);
}

char *realpath(const char *path, char *resolved)
{
	char canon[PATH_MAX];
	struct devfs_node node;
	int r = 0;
	char *ret;

	if (devfs_maybe(path))
		r = devfs_lookup(AT_FDCWD, path, false, &node, canon);
	if (r == 0) {
		shim_resolve_real();
		ret = real.realpath(path, resolved);
		if (ret || errno != ENOENT || !path || devfs_maybe(path) ||
		    devfs_lookup(AT_FDCWD, path, false, &node, canon) <= 0)
			return ret;
		r = 1;
	}
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	if (!resolved)
		return strdup(canon);
	return strcpy(resolved, canon);
}

char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen)
{
	if (resolvedlen < PATH_MAX)
		__chk_fail();
	return realpath(path, resolved);
}

char *canonicalize_file_name(const char *path)
{
	return realpath(path, NULL);
}

/*
 * Extended attributes, which ls -l asks for (SELinux label, ACLs): our
 * nodes have none, as devtmpfs and sysfs nodes on a host without SELinux.
 */
static ssize_t xattr_at(const char *path, bool nofollow, long nr, const char *name, void *value,
			size_t size)
{
	struct devfs_node node;
	char canon[PATH_MAX];
	int r = devfs_maybe(path) ? devfs_lookup(AT_FDCWD, path, nofollow, &node, canon) : 0;
	long ret;

	if (r < 0)
		return fail(-r);
	if (r == 2) {
		path = canon;
		r = 0;
	}
	if (r == 0) {
		ret = name ? devfs_sys(nr, (long)path, (long)name, (long)value, (long)size, 0, 0)
			   : devfs_sys(nr, (long)path, (long)value, (long)size, 0, 0, 0);
		if (ret != -ENOENT || !via_host_link(AT_FDCWD, path, nofollow, &node))
			return devfs_ret(ret);
	}
	return name ? fail(ENODATA) : 0;
}

ssize_t getxattr(const char *path, const char *name, void *value, size_t size)
{
	return xattr_at(path, false, SYS_getxattr, name, value, size);
}

ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	return xattr_at(path, true, SYS_lgetxattr, name, value, size);
}

ssize_t listxattr(const char *path, char *list, size_t size)
{
	return xattr_at(path, false, SYS_listxattr, NULL, list, size);
}

ssize_t llistxattr(const char *path, char *list, size_t size)
{
	return xattr_at(path, true, SYS_llistxattr, NULL, list, size);
}
