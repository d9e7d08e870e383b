// SPDX-License-Identifier: MIT
/*
 * The SGX device nodes as a program written for an SGX host probes them:
 * stat, lstat, fstat, fstatat, statx, access and its relatives, readlink
 * of /proc/self/fd/N, realpath, fopen, in every spelling of the path that
 * the kernel resolves to the node, and the glibc names older binaries bind
 * to. It re-executes itself under `softsgx run`.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/shim/shim_test.h"
#include "softsgx/sgx_uapi.h"

static const struct {
	const char *path;
	unsigned int minor;
	const char *group;
} nodes[] = {
	{"/dev/sgx_enclave", 125, "sgx"},
	{"/dev/sgx_provision", 124, "sgx_prv"},
	{"/dev/sgx_vepc", 123, "sgx"},
};

/* udev leaves a node whose group does not exist with root's. */
static gid_t group_of(const char *name)
{
	struct group *g = getgrnam(name);

	return g ? g->gr_gid : 0;
}

static void check_node(const struct stat *st, unsigned int i)
{
	struct stat dev;

	assert_int_equal(stat("/dev", &dev), 0);
	assert_true(S_ISCHR(st->st_mode));
	assert_int_equal(st->st_mode & 07777, 0660);
	assert_int_equal(major(st->st_rdev), 10);
	assert_int_equal(minor(st->st_rdev), nodes[i].minor);
	assert_int_equal(st->st_uid, 0);
	assert_int_equal(st->st_gid, group_of(nodes[i].group));
	assert_int_equal(st->st_nlink, 1);
	assert_int_equal(st->st_size, 0);
	assert_int_equal(st->st_dev, dev.st_dev);
	assert_true(st->st_mtime > 0 && st->st_mtime <= time(NULL));
}

static void test_stat_device_nodes(void **state)
{
	struct stat st, lst;

	(void)state;
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(stat(nodes[i].path, &st), 0);
		check_node(&st, i);
		assert_int_equal(lstat(nodes[i].path, &lst), 0);
		assert_memory_equal(&st, &lst, sizeof(st));
		assert_int_equal(fstatat(AT_FDCWD, nodes[i].path, &lst, AT_SYMLINK_NOFOLLOW), 0);
		assert_memory_equal(&st, &lst, sizeof(st));
		assert_int_equal(stat64(nodes[i].path, (struct stat64 *)&lst), 0);
		assert_memory_equal(&st, &lst, sizeof(st));
	}
	/* Other files are the host's. */
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_int_equal(major(st.st_rdev), 1);
	assert_int_equal(stat("/dev/sgx_nothing", &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_dev_sgx_links(void **state)
{
	struct stat st, target;
	char buf[PATH_MAX];
	char *p;

	(void)state;
	assert_int_equal(stat("/dev/sgx", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);

	assert_int_equal(lstat("/dev/sgx/enclave", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_size, strlen("../sgx_enclave"));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(readlink("/dev/sgx/enclave", buf, sizeof(buf)), strlen("../sgx_enclave"));
	assert_string_equal(buf, "../sgx_enclave");
	/* readlink() never terminates, and truncates silently. */
	assert_int_equal(readlink("/dev/sgx/provision", buf, 3), 3);
	assert_memory_equal(buf, "../", 3);
	assert_int_equal(readlink("/dev/sgx_enclave", buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);

	assert_int_equal(stat("/dev/sgx/enclave", &st), 0);
	assert_int_equal(stat("/dev/sgx_enclave", &target), 0);
	assert_memory_equal(&st, &target, sizeof(st));
	assert_int_equal(stat("/dev/sgx/provision", &st), 0);
	check_node(&st, 1);

	p = realpath("/dev/sgx/enclave", buf);
	assert_ptr_equal(p, buf);
	assert_string_equal(buf, "/dev/sgx_enclave");
	p = realpath("/dev/../dev/sgx/./provision", NULL);
	assert_non_null(p);
	assert_string_equal(p, "/dev/sgx_provision");
	free(p);
	p = canonicalize_file_name("//dev//sgx_vepc");
	assert_non_null(p);
	assert_string_equal(p, "/dev/sgx_vepc");
	free(p);
	assert_null(realpath("/dev/sgx/nothing", buf));
	assert_int_equal(errno, ENOENT);

	assert_int_equal(stat("/dev/sgx/nothing", &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat("/dev/sgx_enclave/", &st), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(stat("/dev/sgx_enclave/x", &st), -1);
	assert_int_equal(errno, ENOTDIR);
}

/* Every spelling the kernel resolves to /dev/sgx_enclave reaches it. */
static void test_spellings(void **state)
{
	static const char *const paths[] = {
		"/dev/../dev/sgx_enclave",   "//dev//sgx_enclave", "/dev/./sgx_enclave",
		"/./dev/sgx/../sgx_enclave", "/dev/sgx/enclave",   "/dev/sgx/./enclave",
	};
	char tmp[] = "/tmp/softsgx-devfs-XXXXXX", link[PATH_MAX], cwd[PATH_MAX];
	struct stat ref, st;
	int devfd, fd;

	(void)state;
	assert_int_equal(stat("/dev/sgx_enclave", &ref), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		assert_int_equal(stat(paths[i], &st), 0);
		assert_int_equal(st.st_ino, ref.st_ino);
		fd = open(paths[i], O_RDWR);
		assert_true(fd >= 0);
		/* It is an enclave file: a bad SECS pointer is EFAULT, not ENOTTY. */
		assert_int_equal(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, (void *)16), -1);
		assert_int_equal(errno, EFAULT);
		assert_int_equal(close(fd), 0);
	}

	devfd = open("/dev", O_RDONLY | O_DIRECTORY);
	assert_true(devfd >= 0);
	assert_int_equal(fstatat(devfd, "sgx_enclave", &st, 0), 0);
	assert_int_equal(st.st_ino, ref.st_ino);
	assert_int_equal(fstatat(devfd, "sgx/enclave", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	fd = openat(devfd, "sgx_enclave", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, (void *)16), -1);
	assert_int_equal(errno, EFAULT);
	close(fd);
	fd = openat(devfd, "../dev/sgx/enclave", O_RDWR);
	assert_true(fd >= 0);
	close(fd);

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(fchdir(devfd), 0);
	assert_int_equal(stat("sgx_enclave", &st), 0);
	assert_int_equal(st.st_ino, ref.st_ino);
	fd = open("sgx/enclave", O_RDWR);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chdir(cwd), 0);
	close(devfd);

	/* Through links of the host: to the node, and to /dev. */
	assert_non_null(mkdtemp(tmp));
	snprintf(link, sizeof(link), "%s/enclave-link", tmp);
	assert_int_equal(symlink("/dev/sgx_enclave", link), 0);
	assert_int_equal(stat(link, &st), 0);
	assert_int_equal(st.st_ino, ref.st_ino);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	fd = open(link, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, (void *)16), -1);
	assert_int_equal(errno, EFAULT);
	close(fd);
	unlink(link);
	snprintf(link, sizeof(link), "%s/d", tmp);
	assert_int_equal(symlink("/dev", link), 0);
	strcat(link, "/sgx/enclave");
	assert_int_equal(stat(link, &st), 0);
	assert_int_equal(st.st_ino, ref.st_ino);
	snprintf(link, sizeof(link), "%s/d", tmp);
	unlink(link);
	rmdir(tmp);
}

static void test_fstat_agrees(void **state)
{
	static const char *const open_paths[] = {"/dev/sgx_enclave", "/dev/sgx/provision",
						 "/dev/sgx_vepc"};
	struct statx stx, fstx;
	struct stat st, fst;

	(void)state;
	for (unsigned int i = 0; i < 3; i++) {
		int fd = open(open_paths[i], O_RDWR | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(stat(nodes[i].path, &st), 0);
		assert_int_equal(fstat(fd, &fst), 0);
		assert_memory_equal(&st, &fst, sizeof(st));
		assert_int_equal(fstatat(fd, "", &fst, AT_EMPTY_PATH), 0);
		assert_memory_equal(&st, &fst, sizeof(st));
		assert_int_equal(fstat64(fd, (struct stat64 *)&fst), 0);
		assert_memory_equal(&st, &fst, sizeof(st));
		/* A program that makes the system call itself. */
		assert_int_equal(syscall(SYS_fstat, fd, &fst), 0);
		assert_memory_equal(&st, &fst, sizeof(st));

		assert_int_equal(statx(AT_FDCWD, nodes[i].path, 0, STATX_BASIC_STATS, &stx), 0);
		assert_int_equal(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &fstx), 0);
		assert_memory_equal(&stx, &fstx, sizeof(stx));
		assert_true((stx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
		assert_int_equal(stx.stx_mode, st.st_mode);
		assert_int_equal(stx.stx_ino, st.st_ino);
		assert_int_equal(stx.stx_rdev_major, 10);
		assert_int_equal(stx.stx_rdev_minor, nodes[i].minor);
		assert_int_equal(stx.stx_dev_major, major(st.st_dev));
		assert_int_equal(stx.stx_gid, st.st_gid);
		assert_int_equal(close(fd), 0);
	}
}

/* glibc before 2.33 compiled stat() into calls of these; old binaries still make them. */
static void test_legacy_glibc_names(void **state)
{
	int (*xstat)(int, const char *, struct stat *) = dlsym(RTLD_DEFAULT, "__xstat");
	int (*lxstat)(int, const char *, struct stat *) = dlsym(RTLD_DEFAULT, "__lxstat");
	int (*fxstat)(int, int, struct stat *) = dlsym(RTLD_DEFAULT, "__fxstat");
	int (*fxstatat)(int, int, const char *, struct stat *, int) =
		dlsym(RTLD_DEFAULT, "__fxstatat64");
	struct stat ref, st;
	int fd;

	(void)state;
	assert_non_null(xstat);
	assert_non_null(lxstat);
	assert_non_null(fxstat);
	assert_non_null(fxstatat);
	assert_int_equal(stat("/dev/sgx_enclave", &ref), 0);
	assert_int_equal(xstat(1, "/dev/sgx/enclave", &st), 0);
	assert_memory_equal(&st, &ref, sizeof(st));
	assert_int_equal(lxstat(1, "/dev/sgx/enclave", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(fxstatat(1, AT_FDCWD, "/dev/sgx_enclave", &st, 0), 0);
	assert_memory_equal(&st, &ref, sizeof(st));
	fd = open("/dev/sgx_enclave", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(fxstat(1, fd, &st), 0);
	assert_memory_equal(&st, &ref, sizeof(st));
	close(fd);
	assert_int_equal(syscall(SYS_newfstatat, AT_FDCWD, "/dev/sgx_enclave", &st, 0), 0);
	assert_memory_equal(&st, &ref, sizeof(st));
}

static void test_access(void **state)
{
	bool root = geteuid() == 0;
	int devfd = open("/dev", O_RDONLY | O_DIRECTORY);

	(void)state;
	assert_true(devfd >= 0);
	for (unsigned int i = 0; i < 3; i++) {
		bool member = root || getegid() == group_of(nodes[i].group);
		int rw = member ? 0 : -1;

		assert_int_equal(access(nodes[i].path, F_OK), 0);
		assert_int_equal(access(nodes[i].path, R_OK | W_OK), rw);
		if (rw)
			assert_int_equal(errno, EACCES);
		assert_int_equal(euidaccess(nodes[i].path, R_OK), rw);
		assert_int_equal(eaccess(nodes[i].path, W_OK), rw);
		assert_int_equal(faccessat(devfd, nodes[i].path + 5, R_OK, AT_EACCESS), rw);
		assert_int_equal(syscall(SYS_faccessat2, AT_FDCWD, nodes[i].path, W_OK, 0), rw);
		/* No execute bit for anyone: even root may not. */
		assert_int_equal(access(nodes[i].path, X_OK), -1);
		assert_int_equal(errno, EACCES);
	}
	assert_int_equal(access("/dev/sgx/enclave", R_OK), root ? 0 : -1);
	assert_int_equal(faccessat(AT_FDCWD, "/dev/sgx/enclave", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(access("/dev/sgx", X_OK), 0);
	assert_int_equal(access("/dev/sgx/nothing", F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(access("/dev/sgx_enclave", 0x100), -1);
	assert_int_equal(errno, EINVAL);
	close(devfd);
}

static void expect_link(const char *path, const char *want)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_readlink_of_descriptors(void **state)
{
	static const char *const open_paths[] = {"/dev/sgx/enclave", "/dev/sgx_provision",
						 "/dev/sgx_vepc"};
	char path[64], buf[PATH_MAX];
	int fdir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);

	(void)state;
	assert_true(fdir >= 0);
	for (unsigned int i = 0; i < 3; i++) {
		int fd = open(open_paths[i], O_RDWR);
		ssize_t n;

		assert_true(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		expect_link(path, nodes[i].path);
		snprintf(path, sizeof(path), "/dev/fd/%d", fd);
		expect_link(path, nodes[i].path);
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)getpid(), fd);
		expect_link(path, nodes[i].path);
		snprintf(path, sizeof(path), "/proc/thread-self/fd/%d", fd);
		expect_link(path, nodes[i].path);
		snprintf(path, sizeof(path), "%d", fd);
		n = readlinkat(fdir, path, buf, sizeof(buf) - 1);
		assert_int_equal(n, strlen(nodes[i].path));
		buf[n] = '\0';
		assert_string_equal(buf, nodes[i].path);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = syscall(SYS_readlink, path, buf, sizeof(buf) - 1);
		assert_int_equal(n, strlen(nodes[i].path));
		/* realpath() of the descriptor's link names the device too. */
		assert_non_null(realpath(path, buf));
		assert_string_equal(buf, nodes[i].path);
		assert_int_equal(close(fd), 0);
	}
	close(fdir);
}

static void test_fopen_device(void **state)
{
	FILE *fp = fopen("/dev/sgx/enclave", "r+e");
	struct stat st;

	(void)state;
	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	assert_int_equal(minor(st.st_rdev), 125);
	assert_int_equal(ioctl(fileno(fp), SGX_IOC_ENCLAVE_CREATE, (void *)16), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(fclose(fp), 0);
}

/* The names of @d's entries, "name/type;" each, in order. */
static void list(DIR *d, char *out, size_t len)
{
	struct dirent *de;

	out[0] = '\0';
	while ((de = readdir(d)))
		snprintf(out + strlen(out), len - strlen(out), "%s/%d;", de->d_name, de->d_type);
}

static void test_directory_listings(void **state)
{
	char names[16384], again[16384], buf[64];
	struct stat st, dst;
	DIR *d;
	int dfd, fd, copy;

	(void)state;
	d = opendir("/dev");
	assert_non_null(d);
	list(d, names, sizeof(names));
	assert_non_null(strstr(names, ";sgx_enclave/2;"));
	assert_non_null(strstr(names, ";sgx_provision/2;"));
	assert_non_null(strstr(names, ";sgx_vepc/2;"));
	assert_non_null(strstr(names, ";sgx/4;"));
	assert_null(strstr(strstr(names, ";sgx_enclave/") + 1, ";sgx_enclave/"));
	rewinddir(d);
	list(d, again, sizeof(again));
	assert_string_equal(names, again);
	closedir(d);

	d = opendir("/dev/sgx");
	assert_non_null(d);
	list(d, names, sizeof(names));
	assert_string_equal(names, "./4;../4;enclave/10;provision/10;");
	closedir(d);
	d = opendir("/dev/sgx_enclave");
	assert_null(d);
	assert_int_equal(errno, ENOTDIR);

	/* As find(1) does: open the directory, work relative to it, list a dup. */
	dfd = open("/dev/sgx", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(fstat(dfd, &dst), 0);
	assert_int_equal(stat("/dev/sgx", &st), 0);
	assert_memory_equal(&st, &dst, sizeof(st));
	assert_int_equal(fstatat(dfd, "enclave", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(readlinkat(dfd, "provision", buf, sizeof(buf)), 16);
	assert_memory_equal(buf, "../sgx_provision", 16);
	fd = openat(dfd, "enclave", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, (void *)16), -1);
	assert_int_equal(errno, EFAULT);
	close(fd);
	assert_int_equal(fstatat(dfd, "../null", &st, 0), 0);
	assert_int_equal(major(st.st_rdev), 1);
	copy = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	assert_true(copy >= 0);
	assert_int_equal(close(dfd), 0);
	d = fdopendir(copy);
	assert_non_null(d);
	list(d, names, sizeof(names));
	assert_string_equal(names, "./4;../4;enclave/10;provision/10;");
	closedir(d);
	assert_int_equal(open("/dev/sgx", O_RDWR | O_DIRECTORY), -1);
	assert_int_equal(errno, EISDIR);

	/* A host file reached through ours. */
	assert_int_equal(stat("/dev/sgx/../null", &st), 0);
	assert_int_equal(major(st.st_rdev), 1);
	fd = open("/dev/sgx/../null", O_WRONLY);
	assert_true(fd >= 0);
	close(fd);

	if (!access("/sys/devices/system/node/node0", F_OK)) {
		d = opendir("/sys/devices/system/node/node0");
		assert_non_null(d);
		list(d, names, sizeof(names));
		assert_non_null(strstr(names, ";x86/4;"));
		closedir(d);
		d = opendir("/sys/devices/system/node/node0/x86");
		assert_non_null(d);
		list(d, names, sizeof(names));
		assert_string_equal(names, "./4;../4;sgx_total_bytes/8;");
		closedir(d);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_device_nodes),
		cmocka_unit_test(test_dev_sgx_links),
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_fstat_agrees),
		cmocka_unit_test(test_legacy_glibc_names),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_readlink_of_descriptors),
		cmocka_unit_test(test_fopen_device),
		cmocka_unit_test(test_directory_listings),
	};

	shim_test_reexec(argc, argv, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
