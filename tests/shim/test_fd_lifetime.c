// SPDX-License-Identifier: MIT
/*
 * An SGX descriptor closed or replaced where the shim's wrappers do not
 * see it: close_range(), closefrom(), syscall(SYS_close), a raw close
 * instruction sequence, fclose(fdopen()), a raw dup2() of another file
 * over it. Afterwards the number, now a regular file, behaves as one
 * (ioctl ENOTTY, mmap maps the file), and the enclave is released, as
 * Linux releases it on the last fput: the platform's stats file
 * ($XDG_RUNTIME_DIR/softsgx/PID.stats) shows no enclave and no EPC in use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/close_range.h>

#include <cmocka.h>

#include "tests/shim/shim_test.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "obs/stats_file.h"

#define ENCL_SIZE (16 * SGX_PAGE_SIZE)

static char data_path[PATH_MAX];
static struct sgx_secs secs __attribute__((aligned(4096)));

/* System calls the shim cannot interpose: no libc function in between. */
static long raw_syscall(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The platform's enclaves and EPC pages in use, from its stats file, once it has refreshed. */
static void usage_now(uint64_t *encls, uint64_t *in_use)
{
	struct sgx_stats_header hdr;
	struct sgx_stats_snapshot snap, first;
	char dir[PATH_MAX], path[PATH_MAX + 32];

	assert_int_equal(sgx_stats_dir(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/%d.stats", dir, (int)getpid());
	assert_int_equal(sgx_stats_read(path, &hdr, &first), 0);
	/* Two refreshes later: a snapshot taken after what the caller did. */
	do {
		usleep(20000);
		assert_int_equal(sgx_stats_read(path, &hdr, &snap), 0);
	} while (snap.updates < first.updates + 2);
	*encls = snap.nr_encls;
	*in_use = snap.stats.in_use_pages;
}

/* Wait up to 5 s for @encls enclaves. */
static void wait_encls(uint64_t want, uint64_t *in_use)
{
	uint64_t encls = ~0ull;

	for (int i = 0; i < 25 && encls != want; i++)
		usage_now(&encls, in_use);
	assert_int_equal(encls, want);
}

/* An enclave file holding EPC (its SECS and a VA page). */
static int open_enclave(void)
{
	struct sgx_enclave_create create = {.src = (uintptr_t)&secs};
	uint8_t *p = mmap(NULL, 2 * ENCL_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/dev/sgx_enclave", O_RDWR);

	assert_true(p != MAP_FAILED);
	assert_true(fd >= 0);
	memset(&secs, 0, sizeof(secs));
	secs.base = ((uintptr_t)p + ENCL_SIZE - 1) & ~(uintptr_t)(ENCL_SIZE - 1);
	secs.size = ENCL_SIZE;
	secs.ssa_frame_size = 1;
	secs.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_DEBUG;
	secs.xfrm = 3;
	assert_int_equal(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create), 0);
	munmap(p, 2 * ENCL_SIZE);
	return fd;
}

/* @fd is a regular file again to every call the program makes on it. */
static void expect_regular(int fd)
{
	struct sgx_enclave_create create = {.src = (uintptr_t)&secs};
	struct stat st;
	uint8_t *p;

	assert_int_equal(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create), -1);
	assert_int_equal(errno, ENOTTY);
	p = mmap(NULL, SGX_PAGE_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(p[0], 'S');
	munmap(p, SGX_PAGE_SIZE);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

/* A regular file at number @fd, put there behind the shim's back. */
static void file_at(int fd)
{
	int data = open(data_path, O_RDONLY);

	/* Usually the lowest free number is @fd: the case that matters. */
	assert_true(data >= 0);
	if (data == fd)
		return;
	assert_int_equal(raw_syscall(SYS_dup2, data, fd, 0), fd);
	close(data);
}

enum route { CLOSE_RANGE, CLOSEFROM, SYSCALL_CLOSE, RAW_CLOSE, FCLOSE, RAW_DUP2 };

static void hidden_close(enum route route)
{
	uint64_t base, in_use;
	int fd;

	wait_encls(0, &base);
	fd = open_enclave();
	wait_encls(1, &in_use);
	assert_true(in_use > base);
	switch (route) {
	case CLOSE_RANGE:
		assert_int_equal(close_range(fd, fd, 0), 0);
		break;
	case CLOSEFROM:
		/*
		 * From a number above the platform's own descriptors (the
		 * enclave's backing store), which are not this test's subject.
		 */
		assert_int_equal(dup2(fd, 900), 900);
		assert_int_equal(close(fd), 0);
		fd = 900;
		closefrom(fd);
		break;
	case SYSCALL_CLOSE:
		assert_int_equal(syscall(SYS_close, fd), 0);
		break;
	case RAW_CLOSE:
		assert_int_equal(raw_syscall(SYS_close, fd, 0, 0), 0);
		break;
	case FCLOSE:
		assert_int_equal(fclose(fdopen(fd, "r+")), 0);
		break;
	case RAW_DUP2:
		break; /* file_at() replaces it */
	}
	file_at(fd);
	expect_regular(fd);
	wait_encls(0, &in_use);
	assert_int_equal(in_use, base);
	assert_int_equal(close(fd), 0);
}

static void test_close_range(void **state)
{
	(void)state;
	hidden_close(CLOSE_RANGE);
}

static void test_closefrom(void **state)
{
	(void)state;
	hidden_close(CLOSEFROM);
}

static void test_syscall_close(void **state)
{
	(void)state;
	hidden_close(SYSCALL_CLOSE);
}

static void test_raw_close(void **state)
{
	(void)state;
	hidden_close(RAW_CLOSE);
}

static void test_fclose_fdopen(void **state)
{
	(void)state;
	hidden_close(FCLOSE);
}

static void test_raw_dup2_over(void **state)
{
	(void)state;
	hidden_close(RAW_DUP2);
}

/* Not too eager: CLOSE_RANGE_CLOEXEC closes nothing, and a dup keeps the enclave. */
static void test_still_open_is_kept(void **state)
{
	uint64_t base, in_use;
	int fd, fd2;

	(void)state;
	wait_encls(0, &base);
	fd = open_enclave();
	assert_int_equal(close_range(fd, fd, CLOSE_RANGE_CLOEXEC), 0);
	assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
	/* Still the enclave: a second CREATE is EINVAL, not ENOTTY. */
	assert_int_equal(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &(struct sgx_enclave_create){0}), -1);
	assert_int_equal(errno, EINVAL);
	fd2 = dup(fd);
	assert_true(fd2 >= 0);
	assert_int_equal(raw_syscall(SYS_close, fd, 0, 0), 0);
	wait_encls(1, &in_use);
	assert_int_equal(ioctl(fd2, SGX_IOC_ENCLAVE_CREATE, &(struct sgx_enclave_create){0}), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(close(fd2), 0);
	wait_encls(0, &in_use);
	assert_int_equal(in_use, base);
}

/* A raw dup is the same open file: the copy is the enclave, and keeps it. */
static void test_raw_dup_is_the_enclave(void **state)
{
	struct sgx_enclave_create create = {.src = (uintptr_t)&secs};
	uint64_t base, in_use;
	struct stat st;
	int fd, copy;

	(void)state;
	wait_encls(0, &base);
	fd = open_enclave();
	copy = (int)raw_syscall(SYS_dup, fd, 0, 0);
	assert_true(copy >= 0);
	assert_int_equal(fstat(copy, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	{
		struct statx stx;
		int other = (int)raw_syscall(SYS_dup, fd, 0, 0);

		assert_int_equal(statx(other, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx), 0);
		assert_true(S_ISCHR(stx.stx_mode));
		assert_int_equal(fstatat(other, "", &st, AT_EMPTY_PATH), 0);
		assert_true(S_ISCHR(st.st_mode));
		assert_int_equal(close(other), 0);
	}
	assert_int_equal(ioctl(copy, SGX_IOC_ENCLAVE_CREATE, &create), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(close(fd), 0);
	wait_encls(1, &in_use);
	fd = (int)raw_syscall(SYS_dup, copy, 0, 0);
	assert_int_equal(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(close(copy), 0);
	assert_int_equal(close(fd), 0);
	wait_encls(0, &in_use);
	assert_int_equal(in_use, base);
}

static int setup(void **state)
{
	char page[SGX_PAGE_SIZE];
	int fd;

	(void)state;
	snprintf(data_path, sizeof(data_path), "/tmp/softsgx-fd-lifetime-%d", (int)getpid());
	fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	memset(page, 'S', sizeof(page));
	if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page))
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(data_path);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const run_options[] = {"--epc", "1M", "--sections", "1", NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_range),
		cmocka_unit_test(test_closefrom),
		cmocka_unit_test(test_syscall_close),
		cmocka_unit_test(test_raw_close),
		cmocka_unit_test(test_fclose_fdopen),
		cmocka_unit_test(test_raw_dup2_over),
		cmocka_unit_test(test_still_open_is_kept),
		cmocka_unit_test(test_raw_dup_is_the_enclave),
	};

	shim_test_reexec(argc, argv, run_options);
	return cmocka_run_group_tests(tests, setup, teardown);
}
