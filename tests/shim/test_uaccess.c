// SPDX-License-Identifier: MIT
/*
 * The kernel model's reads and writes of the program's memory
 * (copy_from_user(), copy_to_user()) meet bad addresses: the ioctl fails
 * with EFAULT, as on Linux, and nothing else happens to the program. Under
 * the shim in private mode the copy is a plain copy that the fault handler
 * stops (shim/uaccess.c); in service mode the service reads the client's
 * memory through the connection. Both must answer the same:
 *
 *   ADD_PAGES whose source is unmapped, PROT_NONE, or goes bad in its
 *   second batch of pages (count = the pages added before it, and the
 *   enclave goes on taking pages); a bad SECINFO pointer; the argument
 *   itself unreadable, or read-only (the page goes in, the count cannot be
 *   written back: EFAULT, and the page is there: EBUSY again); a source in a file truncated under
 * it, with the program's SIGBUS handler installed (which never runs); a source unmapped and mapped
 * again by another thread all along: each call succeeds or fails with EFAULT, and the process
 * lives; the bad-source calls again from a fresh thread with SIGALRM arriving.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "tests/shim/mini_encl.h"
#include "tests/shim/new_thread.h"
#include "tests/shim/shim_test.h"

#define PAGE	  SGX_PAGE_SIZE
#define ENCL_SIZE (8ULL << 20)
#define RW	  (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W)

struct encl {
	int fd;
	uint8_t *base;
	struct sgx_measurement m;
};

static void encl_open(struct encl *e)
{
	e->fd = open("/dev/sgx_enclave", O_RDWR);
	assert_true(e->fd >= 0);
	e->base = mini_encl_reserve(ENCL_SIZE, false);
	assert_non_null(e->base);
	assert_int_equal(mini_encl_create(e->fd, e->base, ENCL_SIZE,
					  SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT, &e->m),
			 0);
}

static void encl_close(struct encl *e)
{
	close(e->fd);
	munmap(e->base, ENCL_SIZE);
}

static struct sgx_secinfo secinfo_rw __attribute__((aligned(64))) = {.flags = RW};

/* ADD_PAGES of @len bytes from @src at @offset: the ioctl's return, errno, count. */
static int add(struct encl *e, const void *src, uint64_t offset, uint64_t len, uint64_t *count)
{
	struct sgx_enclave_add_pages a = {
		.src = (uintptr_t)src,
		.offset = offset,
		.length = len,
		.secinfo = (uintptr_t)&secinfo_rw,
		.flags = SGX_PAGE_MEASURE,
	};
	int ret = ioctl(e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a);

	*count = a.count;
	return ret;
}

static void expect_efault(struct encl *e, const void *src, uint64_t offset, uint64_t len,
			  uint64_t want_count)
{
	uint64_t count = ~0ULL;

	errno = 0;
	assert_int_equal(add(e, src, offset, len, &count), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(count, want_count);
}

/* @pages pages of 0x5A, readable. */
static uint8_t *source(size_t pages)
{
	uint8_t *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	assert_true(p != MAP_FAILED);
	memset(p, 0x5A, pages * PAGE);
	return p;
}

static void bad_sources(void *arg)
{
	struct encl e;
	uint8_t *src = source(40), *gone;
	uint64_t count;

	(void)arg;
	encl_open(&e);
	/* Unmapped. */
	gone = source(4);
	assert_int_equal(munmap(gone, 4 * PAGE), 0);
	expect_efault(&e, gone, 0, 4 * PAGE, 0);
	/* PROT_NONE. */
	assert_int_equal(mprotect(src, PAGE, PROT_NONE), 0);
	expect_efault(&e, src, 0, PAGE, 0);
	assert_int_equal(mprotect(src, PAGE, PROT_READ), 0);
	/* Bad at page 20, in the second batch of 16: the 20 before it are in. */
	assert_int_equal(mprotect(src + 20 * PAGE, PAGE, PROT_NONE), 0);
	expect_efault(&e, src, 0, 40 * PAGE, 20 * PAGE);
	/* The enclave takes the rest as if nothing had happened. */
	assert_int_equal(mprotect(src + 20 * PAGE, PAGE, PROT_READ), 0);
	assert_int_equal(add(&e, src + 20 * PAGE, 20 * PAGE, 20 * PAGE, &count), 0);
	assert_int_equal(count, 20 * PAGE);
	/* Page 0 went in: adding it again is Linux's xa_insert() EBUSY. */
	errno = 0;
	assert_int_equal(add(&e, src, 0, PAGE, &count), -1);
	assert_int_equal(errno, EBUSY);
	encl_close(&e);
	munmap(src, 40 * PAGE);
}

static void test_bad_source(void **state)
{
	(void)state;
	bad_sources(NULL);
}

static void test_bad_pointers(void **state)
{
	struct sgx_enclave_add_pages *ro;
	struct encl e;
	uint8_t *src = source(1);
	struct sgx_enclave_add_pages a = {
		.src = (uintptr_t)src,
		.offset = 0,
		.length = PAGE,
		.secinfo = (uintptr_t)(src + 2 * PAGE * 1024), /* nothing there */
		.flags = SGX_PAGE_MEASURE,
	};

	(void)state;
	encl_open(&e);
	errno = 0;
	assert_int_equal(ioctl(e.fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a), -1);
	assert_int_equal(errno, EFAULT);
	/* The argument itself unreadable. */
	errno = 0;
	assert_int_equal(ioctl(e.fd, SGX_IOC_ENCLAVE_ADD_PAGES, (void *)16), -1);
	assert_int_equal(errno, EFAULT);
	/* Read-only: the page goes in, the count cannot be written back. */
	ro = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(ro != MAP_FAILED);
	*ro = a;
	ro->secinfo = (uintptr_t)&secinfo_rw;
	assert_int_equal(mprotect(ro, PAGE, PROT_READ), 0);
	errno = 0;
	assert_int_equal(ioctl(e.fd, SGX_IOC_ENCLAVE_ADD_PAGES, ro), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(ro->count, 0);
	errno = 0;
	assert_int_equal(ioctl(e.fd, SGX_IOC_ENCLAVE_ADD_PAGES,
			       &(struct sgx_enclave_add_pages){.src = (uintptr_t)src,
							       .offset = 0,
							       .length = PAGE,
							       .secinfo = (uintptr_t)&secinfo_rw}),
			 -1);
	assert_int_equal(errno, EBUSY);
	munmap(ro, PAGE);
	encl_close(&e);
	munmap(src, PAGE);
}

static _Atomic unsigned int bus_handled;

static void on_bus(int sig)
{
	(void)sig;
	atomic_fetch_add(&bus_handled, 1);
}

static void test_truncated_file_source(void **state)
{
	struct sigaction sa = {.sa_handler = on_bus}, old;
	char path[] = "/tmp/softsgx-uaccess-XXXXXX";
	struct encl e;
	uint64_t count;
	uint8_t *src;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, 4 * PAGE), 0);
	src = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(src != MAP_FAILED);
	assert_int_equal(ftruncate(fd, PAGE), 0);
	assert_int_equal(sigaction(SIGBUS, &sa, &old), 0);
	encl_open(&e);
	/* Page 0 is there; page 1 is past the end of the file now. */
	expect_efault(&e, src, 0, 2 * PAGE, PAGE);
	assert_int_equal(add(&e, src, PAGE, PAGE, &count), 0);
	encl_close(&e);
	assert_int_equal(sigaction(SIGBUS, &old, NULL), 0);
	assert_int_equal(atomic_load(&bus_handled), 0);
	munmap(src, 4 * PAGE);
	close(fd);
}

#define RACE_CALLS 400

static _Atomic bool race_stop;

/* Take the source away and give it back, over and over. */
static void *flipper(void *arg)
{
	uint8_t *src = arg;

	while (!atomic_load(&race_stop)) {
		munmap(src, PAGE);
		sched_yield();
		mmap(src, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
		     0);
	}
	return NULL;
}

static void test_source_unmapped_meanwhile(void **state)
{
	unsigned int ok = 0, faulted = 0;
	uint64_t offset = 0, count;
	struct encl e;
	uint8_t *src = source(1);
	pthread_t th;

	(void)state;
	encl_open(&e);
	assert_int_equal(pthread_create(&th, NULL, flipper, src), 0);
	for (unsigned int i = 0; i < RACE_CALLS; i++) {
		int ret = add(&e, src, offset, PAGE, &count);

		if (!ret) {
			ok++;
			offset += PAGE;
		} else {
			assert_int_equal(errno, EFAULT);
			assert_int_equal(count, 0);
			faulted++;
		}
	}
	atomic_store(&race_stop, true);
	assert_int_equal(pthread_join(th, NULL), 0);
	print_message("%u added, %u EFAULT\n", ok, faulted);
	assert_int_equal(ok + faulted, RACE_CALLS);
	encl_close(&e);
	munmap(src, PAGE);
}

static _Atomic unsigned long alarms;

static void on_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add(&alarms, 1);
}

static void test_bad_source_fresh_thread_signals(void **state)
{
	struct itimerval tick = {.it_interval = {0, 200}, .it_value = {0, 200}}, off = {0};
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};

	(void)state;
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &tick, NULL), 0);
	for (int i = 0; i < 20; i++)
		run_body_on_new_thread(bad_sources, NULL);
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
	print_message("%lu SIGALRMs\n", atomic_load(&alarms));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_source),
		cmocka_unit_test(test_bad_pointers),
		cmocka_unit_test(test_truncated_file_source),
		cmocka_unit_test(test_source_unmapped_meanwhile),
		cmocka_unit_test(test_bad_source_fresh_thread_signals),
	};

	shim_test_reexec(argc, argv, NULL);
	if (getenv("SOFTSGX_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SOFTSGX_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
