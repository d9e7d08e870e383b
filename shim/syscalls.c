// SPDX-License-Identifier: MIT
/*
 * The system calls the shim interposes. Calls on SGX descriptors and SGX
 * mappings go to the kernel model and fail with its errno; everything else
 * goes straight to libc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>

#include "shim.h"

static const struct {
	const char *path;
	enum sgx_file_type type;
	const char *memfd_name;
} devices[] = {
	{ "/dev/sgx_enclave", SGX_FILE_ENCLAVE, "sgx_enclave" },
	{ "/dev/sgx_provision", SGX_FILE_PROVISION, "sgx_provision" },
	{ "/dev/sgx_vepc", SGX_FILE_VEPC, "sgx_vepc" },
	/* The links older udev rules made for out-of-tree drivers. */
	{ "/dev/sgx/enclave", SGX_FILE_ENCLAVE, "sgx_enclave" },
	{ "/dev/sgx/provision", SGX_FILE_PROVISION, "sgx_provision" },
};

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

/* -1 when @path names no SGX device, else the open descriptor or -1 with errno. */
static int open_device(const char *path, int flags, bool *ours)
{
	struct sgx_kernel *k;
	struct sgx_file *f;
	int err, fd;

	*ours = false;
	if (!path)
		return -1;
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		if (strcmp(path, devices[i].path))
			continue;
		*ours = true;
		k = shim_kernel();
		if (!k)
			return set_errno(-ENODEV);
		shim_model_get();
		f = sgx_file_open(k, devices[i].type, &err);
		shim_model_put();
		if (!f)
			return set_errno(err);
		/* A real descriptor number, so the program's bookkeeping holds. */
		fd = memfd_create(devices[i].memfd_name, (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
		if (fd < 0) {
			shim_file_put(f);
			return -1;
		}
		shim_fd_install(fd, f);
		return fd;
	}
	return -1;
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

int open(const char *path, int flags, ...)
{
	bool ours;
	mode_t mode;
	va_list ap;
	int fd;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	fd = open_device(path, flags, &ours);
	if (ours)
		return fd;
	shim_resolve_real();
	return real.open(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...)
{
	bool ours;
	mode_t mode;
	va_list ap;
	int fd;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	fd = open_device(path, flags, &ours);
	if (ours)
		return fd;
	shim_resolve_real();
	return real.openat(dirfd, path, flags, mode);
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

int close(int fd)
{
	struct sgx_file *f = shim_fd_remove(fd);
	int ret;

	shim_resolve_real();
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
	int ret;

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
