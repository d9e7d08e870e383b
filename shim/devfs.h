/* SPDX-License-Identifier: MIT */
/*
 * The files an SGX host has and this one lacks, as the shim shows them:
 * the device nodes udev makes (/dev/sgx_enclave, /dev/sgx_provision,
 * /dev/sgx_vepc, the /dev/sgx/ links), the per-node sysfs attribute
 * x86/sgx_total_bytes, and /proc/cpuinfo's SGX flags (shim/procfs.c).
 * Paths are resolved as the kernel would (dirfd or cwd, "." and "..",
 * repeated slashes, symbolic links on the host and in this namespace).
 */
#ifndef SOFTSGX_SHIM_DEVFS_H
#define SOFTSGX_SHIM_DEVFS_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "kernel/driver.h"

enum devfs_kind {
	DEVFS_CHR = 1, /* an SGX device node */
	DEVFS_DIR,     /* /dev/sgx, /sys/devices/system/node/nodeN/x86 */
	DEVFS_LNK,     /* /dev/sgx/enclave -> ../sgx_enclave */
	DEVFS_REG,     /* nodeN/x86/sgx_total_bytes */
};

struct devfs_node {
	enum devfs_kind kind;
	enum sgx_file_type type; /* DEVFS_CHR */
	int numa_node;		 /* the sysfs nodes */
	const char *link;	 /* DEVFS_LNK: the link's target */
	bool sys;		 /* under /sys (else /dev) */
	unsigned int ino;	 /* fixed inode number */
};

/*
 * Cheap filter for the wrappers: whether @path may name one of our files.
 * Paths that do not contain "sgx" reach ours only through a host symbolic
 * link; callers try those after the host answered ENOENT.
 */
bool devfs_maybe(const char *path);
/* devfs_maybe(), or @path is relative to one of our directories. */
bool devfs_maybe_at(int dirfd, const char *path);

/*
 * Resolve @path relative to @dirfd (AT_FDCWD: the cwd), following a final
 * symbolic link unless @nofollow. 1: one of our files, in *@node. 0: a host
 * file or none at all (the host's call gives the answer); *@canon, when not
 * NULL, then holds the resolved path if every component exists (else "").
 * Negative errno: resolution failed inside our namespace (ENOENT, ENOTDIR,
 * ELOOP), an answer in itself. @canon is PATH_MAX bytes or NULL; on 1 it
 * holds the file's canonical path. 2 (only with @canon): a host file whose
 * path went through our namespace ("/dev/sgx/.."): ask the host about
 * @canon instead, which it can resolve.
 */
int devfs_lookup(int dirfd, const char *path, bool nofollow, struct devfs_node *node, char *canon);

/* The node behind an open SGX descriptor of type @type. */
void devfs_node_of_type(enum sgx_file_type type, struct devfs_node *node);
/* Its path, as readlink("/proc/self/fd/N") names it. */
const char *devfs_dev_path(enum sgx_file_type type);

void devfs_fill_stat(const struct devfs_node *node, struct stat *st);
struct statx;
void devfs_fill_statx(const struct devfs_node *node, struct statx *stx);
/*
 * access(2) of @node for @mode (R_OK...), with the real IDs or, when
 * @effective, the effective ones: 0 or -EACCES.
 */
int devfs_access(const struct devfs_node *node, int mode, bool effective);

/*
 * The target of /proc/self/fd/N (or /proc/PID/fd/N, /dev/fd/N, N relative
 * to a descriptor of such a directory) when N is an SGX descriptor: its
 * device path, else NULL.
 */
const char *devfs_fd_link(int dirfd, const char *path);

/* The entries of our files in directory @dir (canonical): at most @max. */
struct devfs_dirent {
	const char *name;
	unsigned char type; /* DT_* */
	unsigned int ino;
};
int devfs_dir_entries(const char *dir, struct devfs_dirent *out, int max);
/*
 * @fd, a descriptor of an empty removed host directory, stands for our
 * directory @path (shim/devdir.c) until unregistered: paths relative to it
 * resolve in @path.
 */
bool devfs_vdir_register(int fd, const char *path);
void devfs_vdir_unregister(int fd);
/* @newfd is a dup of @oldfd: ours too when @oldfd is (else no longer). */
void devfs_vdir_dup(int oldfd, int newfd);
/* The node of our directory open at @fd, or false. */
bool devfs_vdir_node(int fd, struct devfs_node *node);
/* The path of our directory open at @fd into @out (PATH_MAX), or false. */
bool devfs_vdir_path(int fd, char *out);
/* A descriptor (O_CLOEXEC from @flags) of our directory @canon, or -errno. */
int devfs_open_vdir(const char *canon, int flags);

/* shim/procfs.c: the contents we give, as a read-only descriptor. */
/* /proc/cpuinfo with the sgx and sgx_lc flags; -errno on failure. */
int procfs_open_cpuinfo(int flags);
/* A regular file of ours (sgx_total_bytes) opened with @flags. */
int procfs_open_node(const struct devfs_node *node, int flags);
/* Bytes of EPC on NUMA node @nid, as nodeN/x86/sgx_total_bytes reports them. */
unsigned long long procfs_sgx_total_bytes(int nid);

/* The program's stat family and readlink, for syscall() (shim/stat.c). */
int devfs_stat_at(int dirfd, const char *path, struct stat *st, int flags);
int devfs_fstat(int fd, struct stat *st);
ssize_t devfs_readlinkat(int dirfd, const char *path, char *buf, size_t size);

/* faccessat() (@raw2: the faccessat2 system call, as syscall() makes it). */
int devfs_faccessat(int dirfd, const char *path, int mode, int flags, bool raw2);

/* Whether @addr (a return address) is code of the shim library itself. */
bool shim_from_self(const void *addr);

/* Raw system calls: the shim's own file work must not re-enter its wrappers. */
long devfs_sys(long nr, long a, long b, long c, long d, long e, long f);
/* -errno into errno and -1; a result >= 0 as it is. */
long devfs_ret(long ret);

#endif /* SOFTSGX_SHIM_DEVFS_H */
