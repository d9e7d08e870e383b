// SPDX-License-Identifier: MIT
/*
 * The system calls the shim interposes. Calls on SGX descriptors and SGX
 * mappings go to the kernel model and fail with its errno; everything else
 * goes straight to libc.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/close_range.h>

#include "shim/devfs.h"
#include "service/remote.h"
#include "shim/shim.h"
#include "softsgx/sgx_uapi.h"

/* Drop a file reference; the last one runs release() inside the model. */
static void shim_file_put(struct sgx_file *f)
{
	shim_model_get();
	sgx_file_put(f);
	shim_model_put();
}

static int set_errno(long ret)
{
	if (ret >= 0)
		return (int)ret;
	errno = (int)-ret;
	return -1;
}

/* A new open file of @type on a fresh placeholder descriptor. */
static int open_device(enum sgx_file_type type, int flags)
{
	struct sgx_kernel *k = shim_kernel();
	struct sgx_file *f;
	int err, fd;

	if (shim_service_mode())
		return set_errno(shim_svc_open(type, flags));
	if (!k)
		return set_errno(-ENODEV);
	if ((flags & O_CREAT) && (flags & O_EXCL))
		return set_errno(-EEXIST);
	if (flags & O_DIRECTORY)
		return set_errno(-ENOTDIR);
	shim_model_get();
	f = sgx_file_open(k, type, &err);
	shim_model_put();
	if (!f)
		return set_errno(err);
	/* A real descriptor number, so the program's bookkeeping holds. */
	fd = memfd_create(devfs_dev_path(type) + strlen("/dev/"),
			  (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
	if (fd < 0) {
		shim_file_put(f);
		return -1;
	}
	shim_fd_install(fd, f);
	return fd;
}

/* Open what devfs_lookup() answered (@r, @node, @canon); *@ours when it is ours. */
static int open_node(int r, const struct devfs_node *node, const char *canon, int flags,
		     bool *ours)
{
	*ours = r != 0;
	if (r < 0)
		return set_errno(r);
	if (r == 0) {
		if (strcmp(canon, "/proc/cpuinfo"))
			return -1;
		*ours = true;
		return set_errno(procfs_open_cpuinfo(flags));
	}
	switch (node->kind) {
	case DEVFS_CHR:
		return open_device(node->type, flags);
	case DEVFS_LNK:
		/* Only a final link with O_NOFOLLOW is left unfollowed. */
		return set_errno(-ELOOP);
	case DEVFS_DIR:
		if ((flags & O_CREAT) && (flags & O_EXCL))
			return set_errno(-EEXIST);
		return set_errno(devfs_open_vdir(canon, flags));
	default:
		return set_errno(procfs_open_node(node, flags));
	}
}

/*
 * -1 with *@ours false when @dirfd/@path is none of ours (the host opens
 * it), else the descriptor or -1 with errno. Every spelling the kernel
 * would resolve to our files counts; /proc/cpuinfo is ours too.
 */
static int open_ours(int dirfd, const char *path, int flags, mode_t mode, bool *ours)
{
	char canon[PATH_MAX];
	struct devfs_node node;
	int r;

	*ours = false;
	if (!devfs_maybe_at(dirfd, path) && !(path && strstr(path, "cpuinfo")))
		return -1;
	r = devfs_lookup(dirfd, path, flags & O_NOFOLLOW, &node, canon);
	if (r == 2) {
		/* A host file reached through ours: the host opens it by its name. */
		*ours = true;
		shim_resolve_real();
		return real.openat(AT_FDCWD, canon, flags, mode);
	}
	return open_node(r, &node, canon, flags, ours);
}

/* The host said ENOENT for @path: a host link to one of our files? */
static int open_via_link(int dirfd, const char *path, int flags, bool *ours)
{
	char canon[PATH_MAX];
	struct devfs_node node;
	int r;

	*ours = false;
	if (!path || !*path || devfs_maybe(path))
		return -1;
	r = devfs_lookup(dirfd, path, flags & O_NOFOLLOW, &node, canon);
	if (r != 1)
		return -1;
	return open_node(r, &node, canon, flags, ours);
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode, bool at)
{
	bool ours;
	int fd, err;

	fd = open_ours(dirfd, path, flags, mode, &ours);
	if (ours)
		return fd;
	shim_resolve_real();
	fd = at ? real.openat(dirfd, path, flags, mode) : real.open(path, flags, mode);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	err = errno;
	fd = open_via_link(dirfd, path, flags, &ours);
	if (ours)
		return fd;
	errno = err;
	return -1;
}

int open(const char *path, int flags, ...)
{
	mode_t mode;
	va_list ap;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return do_openat(AT_FDCWD, path, flags, mode, false);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode;
	va_list ap;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return do_openat(dirfd, path, flags, mode, true);
}

int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

/* _FORTIFY_SOURCE builds call these. */
int __open_2(const char *path, int flags)
{
	return open(path, flags);
}

int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));

int __openat_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags) __attribute__((alias("__openat_2")));

/* One of the service connection's own descriptors (service/remote.h): not the program's. */
static bool service_own_fd(int fd)
{
	int own[2 + SOFTSGX_MAX_SECTIONS];
	unsigned int n = shim_service_mode() ? svc_remote_fds(own, 2 + SOFTSGX_MAX_SECTIONS) : 0;

	for (unsigned int i = 0; i < n; i++)
		if (own[i] == fd)
			return true;
	return false;
}

/*
 * close_range(@first, @last, @flags) around the service connection's own
 * descriptors, which the program never opened: the pieces between them.
 */
static long close_range_around_own(unsigned int first, unsigned int last, int flags)
{
	int own[2 + SOFTSGX_MAX_SECTIONS];
	unsigned int n = shim_service_mode() ? svc_remote_fds(own, 2 + SOFTSGX_MAX_SECTIONS) : 0;
	unsigned int from = first;
	long ret = 0;

	/* In ascending order: a handful, insertion sort. */
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j > 0 && own[j - 1] > own[j]; j--) {
			int t = own[j];

			own[j] = own[j - 1];
			own[j - 1] = t;
		}
	for (unsigned int i = 0; i < n && !ret; i++) {
		unsigned int fd = (unsigned int)own[i];

		if (fd < from || fd > last)
			continue;
		if (fd > from)
			ret = devfs_sys(SYS_close_range, from, fd - 1, flags, 0, 0, 0);
		from = fd + 1;
	}
	if (!ret && from <= last)
		ret = devfs_sys(SYS_close_range, from, last, flags, 0, 0, 0);
	return ret;
}

int close(int fd)
{
	struct sgx_file *f;
	int ret;

	if (service_own_fd(fd)) {
		errno = EBADF; /* not open as far as the program knows */
		return -1;
	}
	f = shim_fd_remove(fd);

	devfs_vdir_unregister(fd);
	shim_resolve_real();
	if (shim_service_mode()) {
		/* Dropped first, as above: the number may be reused once it is closed. */
		shim_svc_closed(fd);
		return real.close(fd);
	}
	ret = real.close(fd);
	/* The last reference runs release(), as Linux's fput() does. */
	if (f)
		shim_file_put(f);
	return ret;
}

/* After a successful dup of @oldfd to @newfd, make @newfd ours too (or not). */
static int dup_follow(int oldfd, int newfd)
{
	struct sgx_file *f;

	if (newfd < 0 || newfd == oldfd)
		return newfd;
	devfs_vdir_dup(oldfd, newfd);
	if (shim_service_mode()) {
		shim_svc_dup(oldfd, newfd);
		return newfd;
	}
	f = shim_fget(oldfd);
	if (f) {
		shim_fd_install(newfd, f);
	} else {
		f = shim_fd_remove(newfd);
		if (f)
			shim_file_put(f);
	}
	return newfd;
}

int dup(int fd)
{
	shim_resolve_real();
	return dup_follow(fd, real.dup(fd));
}

int dup2(int oldfd, int newfd)
{
	shim_resolve_real();
	return dup_follow(oldfd, real.dup2(oldfd, newfd));
}

int dup3(int oldfd, int newfd, int flags)
{
	shim_resolve_real();
	return dup_follow(oldfd, real.dup3(oldfd, newfd, flags));
}

int fcntl(int fd, int cmd, ...)
{
	unsigned long arg;
	va_list ap;
	int ret;

	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	shim_resolve_real();
	ret = real.fcntl(fd, cmd, arg);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		ret = dup_follow(fd, ret);
	return ret;
}

int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

int ioctl(int fd, unsigned long request, ...)
{
	struct sgx_file *f = shim_fget(fd);
	unsigned long arg;
	va_list ap;
	long ret;

	va_start(ap, request);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	if (shim_service_mode() && shim_svc_ioctl(fd, request, arg, &ret))
		return set_errno(ret);
	/* An SGX ioctl on a descriptor copied behind our back. */
	if (!f && _IOC_TYPE(request) == SGX_MAGIC)
		f = shim_fget_untracked(fd);
	if (!f) {
		shim_resolve_real();
		return real.ioctl(fd, request, arg);
	}
	shim_model_get();
	ret = sgx_file_ioctl(f, request, arg);
	sgx_file_put(f);
	shim_model_put();
	return set_errno(ret);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct sgx_file *f = (flags & MAP_ANONYMOUS) ? NULL : shim_fget(fd);
	uint64_t a = (uintptr_t)addr;
	void *out;
	int ret;

	if (shim_service_mode() && shim_svc_mmap(addr, len, prot, flags, fd, off, &out))
		return out;

	/* Shared mappings of a descriptor copied behind our back (fstat only then). */
	if (!f && !(flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) != MAP_PRIVATE)
		f = shim_fget_untracked(fd);

	if (!f) {
		shim_resolve_real();
		return real.mmap(addr, len, prot, flags, fd, off);
	}
	shim_model_get();
	ret = off < 0 ? -EINVAL : sgx_file_mmap(f, &a, len, prot, flags, (uint64_t)off);
	sgx_file_put(f);
	shim_model_put();
	if (ret) {
		errno = -ret;
		return MAP_FAILED;
	}
	return (void *)(uintptr_t)a;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

/*
 * munmap (@unmap) or mprotect (to @prot) of a range that touches an SGX
 * mapping: the kernel model's, which returns true with the result in *@ret.
 * false when the range is none of the model's business.
 */
static bool model_range(void *addr, size_t len, bool unmap, int prot, int *ret)
{
	struct sgx_kernel *k = shim_kernel_if_up();
	uintptr_t start = (uintptr_t)addr;
	bool ours;

	if (shim_service_mode())
		return shim_svc_range(addr, len, unmap, prot, ret);
	if (!k)
		return false;
	shim_model_get();
	ours = sgx_mm_overlaps(&k->mm, start, start + len);
	if (ours)
		*ret = set_errno(unmap ? sgx_munmap(k, start, len) : sgx_mprotect(k, start, len, prot));
	shim_model_put();
	return ours;
}

int munmap(void *addr, size_t len)
{
	int ret;

	/* The kernel model drops any SGX VMA in the range, then unmaps it all. */
	if (model_range(addr, len, true, 0, &ret))
		return ret;
	shim_resolve_real();
	return real.munmap(addr, len);
}

int mprotect(void *addr, size_t len, int prot)
{
	int ret;

	if (model_range(addr, len, false, prot, &ret))
		return ret;
	shim_resolve_real();
	return real.mprotect(addr, len, prot);
}

/* fopen()'s mode as open() flags. */
static int fopen_flags(const char *mode)
{
	int flags;

	switch (*mode) {
	case 'r':
		flags = O_RDONLY;
		break;
	case 'w':
		flags = O_WRONLY | O_CREAT | O_TRUNC;
		break;
	case 'a':
		flags = O_WRONLY | O_CREAT | O_APPEND;
		break;
	default:
		return -1;
	}
	for (mode++; *mode; mode++) {
		if (*mode == '+')
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		else if (*mode == 'e')
			flags |= O_CLOEXEC;
		else if (*mode == 'x')
			flags |= O_EXCL;
	}
	return flags;
}

/*
 * libc's fopen() opens with its internal open, not ours: the devices,
 * /proc/cpuinfo and sgx_total_bytes get a stream over our descriptor.
 */
static FILE *do_fopen(const char *path, const char *mode, bool large)
{
	int flags = mode ? fopen_flags(mode) : -1;
	bool ours = false;
	int fd = -1, err;
	FILE *fp;

	shim_resolve_real();
	if (flags >= 0)
		fd = open_ours(AT_FDCWD, path, flags, 0666, &ours);
	if (!ours) {
		fp = large ? real.fopen64(path, mode) : real.fopen(path, mode);
		if (fp || errno != ENOENT || flags < 0)
			return fp;
		err = errno;
		fd = open_via_link(AT_FDCWD, path, flags, &ours);
		if (!ours) {
			errno = err;
			return NULL;
		}
	}
	if (fd < 0)
		return NULL;
	fp = fdopen(fd, mode);
	if (!fp) {
		err = errno;
		close(fd);
		errno = err;
	}
	return fp;
}

FILE *fopen(const char *path, const char *mode)
{
	return do_fopen(path, mode, false);
}

FILE *fopen64(const char *path, const char *mode)
{
	return do_fopen(path, mode, true);
}

/* libc closes the stream's descriptor with its internal close, not ours. */
int fclose(FILE *fp)
{
	int fd = fp ? fileno(fp) : -1;
	bool sgx = shim_fd_present(fd);
	int ret;

	shim_resolve_real();
	ret = real.fclose(fp);
	/* Gone now (unless another thread reused the number): drop the entry. */
	if (sgx)
		shim_fd_forget_range((unsigned int)fd, (unsigned int)fd, true);
	return ret;
}

int close_range(unsigned int first, unsigned int last, int flags)
{
	long ret = first > last ? -EINVAL : close_range_around_own(first, last, flags);

	/* CLOSE_RANGE_CLOEXEC only marks them; CLOSE_RANGE_UNSHARE closes too. */
	if (!ret && !(flags & CLOSE_RANGE_CLOEXEC))
		shim_fd_forget_range(first, last, false);
	return (int)devfs_ret(ret);
}

void closefrom(int lowfd)
{
	unsigned int first = lowfd < 0 ? 0 : (unsigned int)lowfd;

	shim_resolve_real();
	if (shim_service_mode())
		close_range_around_own(first, ~0u, 0);
	else if (real.closefrom)
		real.closefrom(lowfd);
	else
		devfs_sys(SYS_close_range, first, ~0u, 0, 0, 0, 0);
	shim_fd_forget_range(first, ~0u, true);
}

/*
 * Whether @addr is code of this library. The model's own raw system calls
 * (kernel/mm.c, kernel/fork.c) go through syscall() too, and must reach the
 * kernel untouched, with the model's locks held or in a signal handler; so
 * must its fstat() and readlink() of its own descriptors (kernel/fork.c),
 * which must never see an SGX descriptor's disguise or release one.
 */
extern const char __ehdr_start[] __attribute__((visibility("hidden")));

bool shim_from_self(const void *addr)
{
	static _Atomic uintptr_t lo, hi;
	uintptr_t a = (uintptr_t)addr;

	if (!atomic_load(&hi)) {
		const ElfW(Ehdr) *eh = (const void *)__ehdr_start;
		const ElfW(Phdr) *ph = (const void *)(__ehdr_start + eh->e_phoff);
		uintptr_t first = UINTPTR_MAX, end = 0;

		for (unsigned int i = 0; i < eh->e_phnum; i++) {
			if (ph[i].p_type != PT_LOAD)
				continue;
			if (ph[i].p_vaddr < first)
				first = ph[i].p_vaddr;
			if (ph[i].p_vaddr + ph[i].p_memsz > end)
				end = ph[i].p_vaddr + ph[i].p_memsz;
		}
		/* The ELF header is at the lowest load address plus the bias. */
		atomic_store(&lo, (uintptr_t)__ehdr_start - first);
		atomic_store(&hi, (uintptr_t)__ehdr_start - first + end);
	}
	return a >= atomic_load(&lo) && a < atomic_load(&hi);
}

/*
 * syscall(): programs close, duplicate and open through it too (older
 * glibc has no close_range wrapper). Those on SGX descriptors and paths
 * take the wrappers' route; everything else goes to the kernel as is.
 */
long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (shim_from_self(__builtin_return_address(0)))
		return devfs_ret(devfs_sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
	switch (nr) {
	case SYS_vfork:
		/*
		 * The child would return through this C frame on the parent's
		 * stack and clobber it; a fork is a valid vfork.
		 */
		nr = SYS_fork;
		break;
	case SYS_close:
		if (shim_fd_present((int)a[0]))
			return close((int)a[0]);
		break;
	case SYS_close_range:
		return close_range((unsigned int)a[0], (unsigned int)a[1], (int)a[2]);
	case SYS_dup:
		if (shim_fd_present((int)a[0]))
			return dup((int)a[0]);
		break;
	case SYS_dup2:
		if (shim_fd_present((int)a[0]) || shim_fd_present((int)a[1]))
			return dup2((int)a[0], (int)a[1]);
		break;
	case SYS_dup3:
		if (shim_fd_present((int)a[0]) || shim_fd_present((int)a[1]))
			return dup3((int)a[0], (int)a[1], (int)a[2]);
		break;
	case SYS_open:
		return open((const char *)a[0], (int)a[1], (mode_t)a[2]);
	case SYS_openat:
		return openat((int)a[0], (const char *)a[1], (int)a[2], (mode_t)a[3]);
	case SYS_ioctl:
		if (shim_fd_present((int)a[0]) || _IOC_TYPE(a[1]) == SGX_MAGIC)
			return ioctl((int)a[0], (unsigned long)a[1], a[2]);
		break;
	case SYS_fcntl:
		if (shim_fd_present((int)a[0]))
			return fcntl((int)a[0], (int)a[1], a[2]);
		break;
	case SYS_mmap:
		if (!(a[3] & MAP_ANONYMOUS) && shim_fd_present((int)a[4])) {
			void *p = mmap((void *)a[0], (size_t)a[1], (int)a[2], (int)a[3], (int)a[4],
				       (off_t)a[5]);

			return p == MAP_FAILED ? -1 : (long)p;
		}
		break;
	case SYS_stat:
		return devfs_stat_at(AT_FDCWD, (const char *)a[0], (struct stat *)a[1], 0);
	case SYS_lstat:
		return devfs_stat_at(AT_FDCWD, (const char *)a[0], (struct stat *)a[1],
				     AT_SYMLINK_NOFOLLOW);
	case SYS_fstat:
		return devfs_fstat((int)a[0], (struct stat *)a[1]);
	case SYS_newfstatat:
		return devfs_stat_at((int)a[0], (const char *)a[1], (struct stat *)a[2], (int)a[3]);
	case SYS_statx:
		return statx((int)a[0], (const char *)a[1], (int)a[2], (unsigned int)a[3],
			     (struct statx *)a[4]);
	case SYS_access:
		return access((const char *)a[0], (int)a[1]);
	case SYS_faccessat:
		return faccessat((int)a[0], (const char *)a[1], (int)a[2], 0);
	case SYS_faccessat2:
		return devfs_faccessat((int)a[0], (const char *)a[1], (int)a[2], (int)a[3], true);
	case SYS_readlink:
		return devfs_readlinkat(AT_FDCWD, (const char *)a[0], (char *)a[1], (size_t)a[2]);
	case SYS_readlinkat:
		return devfs_readlinkat((int)a[0], (const char *)a[1], (char *)a[2], (size_t)a[3]);
	default:
		break;
	}
	return devfs_ret(devfs_sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
}
