// SPDX-License-Identifier: MIT
/*
 * An unmodified-style SGX host program: it knows nothing of softsgx and uses
 * only open/ioctl/mmap/mprotect/munmap/close/dup with <asm/sgx.h>-style
 * structures. It re-executes itself under LD_PRELOAD=libsoftsgx-preload.so
 * (SOFTSGX_PRELOAD), as `softsgx run` will, and checks that the device files
 * behave as on Linux, that enclave memory faults in, and that the program's
 * own SIGSEGV/SIGBUS handlers keep working for faults that are not the
 * shim's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "softsgx/sgx_arch.h"
#include "tests/shim/mini_encl.h"
#include "tests/shim/shim_test.h"
#include "softsgx/sgx_uapi.h"

#define NR_REG 8

struct enclave {
	int fd;
	uint8_t *base;
	uint64_t size;
};

static uint8_t page_buf[SGX_PAGE_SIZE] __attribute__((aligned(4096)));
static struct sgx_sigstruct sig_buf __attribute__((aligned(4096)));

static void add(int fd, uint64_t offset, uint64_t flags, struct sgx_measurement *m)
{
	/* The whole page, or -1: a short ADD_PAGES count fails too. */
	assert_int_equal(mini_encl_add(fd, offset, flags, page_buf, m), 0);
}

static void build(struct enclave *e)
{
	struct sgx_sign_enclave desc = {
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 3,
		.xfrm_mask = 3,
		.date = 0x20261122,
	};
	struct sgx_tcs *tcs = (struct sgx_tcs *)page_buf;
	struct sgx_enclave_init init = { .sigstruct = (uintptr_t)&sig_buf };
	struct sgx_measurement m;

	e->size = 16 * SGX_PAGE_SIZE;
	e->base = mini_encl_reserve(e->size, false);
	assert_non_null(e->base);
	e->fd = open("/dev/sgx_enclave", O_RDWR | O_CLOEXEC);
	assert_true(e->fd >= 0);
	assert_int_equal(mini_encl_create(e->fd, e->base, e->size, desc.attributes, &m), 0);

	memset(page_buf, 0, sizeof(page_buf));
	tcs->ssa_offset = SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	add(e->fd, 0, SGX_SECINFO_TCS, &m);
	for (uint64_t i = 1; i <= NR_REG; i++) {
		memset(page_buf, (int)(0x40 + i), sizeof(page_buf));
		add(e->fd, i * SGX_PAGE_SIZE, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, &m);
	}
	assert_int_equal(mini_encl_sign(&desc, &m, &sig_buf), 0);
	assert_int_equal(ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init), 0);
	assert_ptr_equal(mmap(e->base, e->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			      e->fd, 0),
			 e->base);
}

static void test_open_is_interposed(void **state)
{
	int fd = open("/dev/sgx_enclave", O_RDWR);
	int pfd = open("/dev/sgx_provision", O_RDONLY);
	int null = open("/dev/null", O_RDONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_true(pfd >= 0);
	assert_true(null >= 0);
	/* Calls on other files still reach libc: /dev/null is no enclave. */
	assert_int_equal(ioctl(null, SGX_IOC_ENCLAVE_CREATE, NULL), -1);
	assert_int_equal(errno, ENOTTY);
	/* Linux's errno values come through. */
	assert_int_equal(ioctl(fd, _IO(SGX_MAGIC, 0x42), NULL), -1);
	assert_int_equal(errno, ENOTTY);
	assert_int_equal(ioctl(fd, SGX_IOC_ENCLAVE_CREATE, (void *)16), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(ioctl(pfd, SGX_IOC_ENCLAVE_CREATE, NULL), -1);
	assert_int_equal(errno, ENOTTY);
	assert_int_equal(close(fd), 0);
	assert_int_equal(close(pfd), 0);
	assert_int_equal(close(null), 0);
}

static void test_build_map_read(void **state)
{
	struct enclave e;
	void *p;

	(void)state;
	build(&e);
	for (uint64_t i = 1; i <= NR_REG; i++)
		assert_int_equal(e.base[i * SGX_PAGE_SIZE + 17], 0x40 + i);
	e.base[3 * SGX_PAGE_SIZE] = 0x99;
	assert_int_equal(e.base[3 * SGX_PAGE_SIZE], 0x99);
	/* mmap rules and errno. */
	p = mmap(NULL, SGX_PAGE_SIZE, PROT_READ, MAP_PRIVATE, e.fd, 0);
	assert_ptr_equal(p, MAP_FAILED);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mprotect(e.base + SGX_PAGE_SIZE, SGX_PAGE_SIZE, PROT_EXEC), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(mprotect(e.base + SGX_PAGE_SIZE, SGX_PAGE_SIZE, PROT_READ), 0);
	assert_int_equal(e.base[SGX_PAGE_SIZE], 0x41);
	assert_int_equal(munmap(e.base, e.size), 0);
	assert_int_equal(close(e.fd), 0);
}

static void test_dup_keeps_enclave(void **state)
{
	struct enclave e;
	int fd2, fd3;

	(void)state;
	build(&e);
	fd2 = dup(e.fd);
	fd3 = fcntl(e.fd, F_DUPFD_CLOEXEC, 100);
	assert_true(fd2 >= 0 && fd3 >= 100);
	assert_int_equal(munmap(e.base, e.size), 0);
	assert_int_equal(close(e.fd), 0);
	/* The enclave belongs to the open file: still there behind fd2. */
	assert_ptr_equal(mmap(e.base, e.size, PROT_READ, MAP_SHARED | MAP_FIXED, fd2, 0), e.base);
	assert_int_equal(e.base[2 * SGX_PAGE_SIZE], 0x42);
	/* It is initialized: a second INIT is refused as on Linux. */
	{
		struct sgx_enclave_init init = { .sigstruct = (uintptr_t)&sig_buf };

		assert_int_equal(ioctl(fd3, SGX_IOC_ENCLAVE_INIT, &init), -1);
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(munmap(e.base, e.size), 0);
	assert_int_equal(close(fd2), 0);
	assert_int_equal(close(fd3), 0);
}

/*
 * SGX2 as loaders detect EDMM: RESTRICT_PERMISSIONS with zeroed arguments
 * fails with EINVAL on an SGX2 CPU and ENODEV without SGX2 (not CPUID, which
 * is the host's where the host has no CPUID faulting).
 */
static bool cpu_has_sgx2(int encl_fd)
{
	struct sgx_enclave_restrict_permissions rp;

	memset(&rp, 0, sizeof(rp));
	return ioctl(encl_fd, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, &rp) < 0 && errno == EINVAL;
}

static sigjmp_buf jump;
static volatile sig_atomic_t app_segv, app_bus;

static void app_on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	app_segv++;
	siglongjmp(jump, 1);
}

static void app_on_bus(int sig)
{
	(void)sig;
	app_bus++;
	siglongjmp(jump, 1);
}

static void test_program_signal_handlers_chain(void **state)
{
	struct sigaction sa = { .sa_sigaction = app_on_segv, .sa_flags = SA_SIGINFO };
	struct sigaction old;
	uint8_t *own = mmap(NULL, SGX_PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct enclave e;

	(void)state;
	build(&e);
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, &old), 0);
	sighandler_t old_bus = signal(SIGBUS, app_on_bus); /* cmocka has one installed */

	assert_true(old_bus != SIG_ERR);

	/* The program's own fault reaches the program's own handler. */
	if (!sigsetjmp(jump, 1))
		(void)*(volatile uint8_t *)own;
	assert_int_equal(app_segv, 1);
	/* Enclave faults are still the shim's: no handler call. */
	assert_int_equal(e.base[4 * SGX_PAGE_SIZE], 0x44);
	assert_int_equal(app_segv, 1);
	/*
	 * An ELRANGE address with no enclave page: Linux's fault handler
	 * sends SIGBUS on an SGX1 CPU; with SGX2 (CPUID.(12H,0):EAX[1], the
	 * default platform) it adds the page with EAUG and nothing is raised.
	 */
	if (!sigsetjmp(jump, 1))
		(void)*(volatile uint8_t *)(e.base + 12 * SGX_PAGE_SIZE);
	assert_int_equal(app_bus, cpu_has_sgx2(e.fd) ? 0 : 1);
	/* sigaction reports the program's handler, not the shim's. */
	{
		struct sigaction cur;

		assert_int_equal(sigaction(SIGSEGV, NULL, &cur), 0);
		assert_ptr_equal(cur.sa_sigaction, app_on_segv);
	}
	assert_int_equal(sigaction(SIGSEGV, &old, NULL), 0);
	signal(SIGBUS, old_bus);
	munmap(own, SGX_PAGE_SIZE);
	assert_int_equal(munmap(e.base, e.size), 0);
	assert_int_equal(close(e.fd), 0);
}

static volatile sig_atomic_t app_ill;

static void app_on_ill(int sig)
{
	(void)sig;
	app_ill++;
	siglongjmp(jump, 1);
}

static void enclu_leaf(uint64_t leaf, void *rbx)
{
	__asm__ volatile(".byte 0x0f, 0x01, 0xd7" : : "a"(leaf), "b"(rbx), "c"(0) : "memory");
}

/*
 * What the program sees of ENCLU is what the SDM says, whichever trap the
 * host CPU raises for the instruction (#UD without SGX, #GP or #PF with SGX
 * present but disabled): an unknown leaf and an EENTER on memory that is
 * not a TCS are #GP, SIGSEGV. A SIGILL that is not ENCLU, and signals sent
 * with kill(), are the program's.
 */
static void test_enclu_faults_as_the_sdm_says(void **state)
{
	struct sigaction sa = { .sa_sigaction = app_on_segv, .sa_flags = SA_SIGINFO };
	struct sigaction old_segv;
	sighandler_t old_ill;
	uint8_t *plain = mmap(NULL, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct enclave e;

	(void)state;
	assert_true(plain != MAP_FAILED);
	build(&e); /* the platform is up */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, &old_segv), 0);
	old_ill = signal(SIGILL, app_on_ill);
	assert_true(old_ill != SIG_ERR);
	app_segv = app_ill = 0;

	if (!sigsetjmp(jump, 1))
		enclu_leaf(0xff, NULL);
	assert_int_equal(app_segv, 1);
	if (!sigsetjmp(jump, 1))
		enclu_leaf(SGX_EENTER, plain);
	assert_int_equal(app_segv, 2);
	if (!sigsetjmp(jump, 1))
		enclu_leaf(SGX_ERESUME, plain);
	assert_int_equal(app_segv, 3);
	assert_int_equal(app_ill, 0);

	if (!sigsetjmp(jump, 1))
		__asm__ volatile("ud2");
	assert_int_equal(app_ill, 1);
	if (!sigsetjmp(jump, 1))
		kill(getpid(), SIGILL);
	assert_int_equal(app_ill, 2);
	if (!sigsetjmp(jump, 1))
		kill(getpid(), SIGSEGV);
	assert_int_equal(app_segv, 4);

	assert_int_equal(sigaction(SIGSEGV, &old_segv, NULL), 0);
	signal(SIGILL, old_ill);
	munmap(plain, SGX_PAGE_SIZE);
	assert_int_equal(munmap(e.base, e.size), 0);
	assert_int_equal(close(e.fd), 0);
}

static void test_vepc(void **state)
{
	int fd = open("/dev/sgx_vepc", O_RDWR);
	uint8_t *p;

	(void)state;
	assert_true(fd >= 0);
	p = mmap(NULL, 8 * SGX_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	for (int i = 0; i < 8; i++)
		p[i * SGX_PAGE_SIZE] = (uint8_t)i;
	assert_int_equal(ioctl(fd, SGX_IOC_VEPC_REMOVE_ALL, 0), 0);
	assert_int_equal(ioctl(fd, SGX_IOC_VEPC_REMOVE_ALL, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(munmap(p, 8 * SGX_PAGE_SIZE), 0);
	assert_int_equal(close(fd), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_is_interposed),
		cmocka_unit_test(test_build_map_read),
		cmocka_unit_test(test_dup_keeps_enclave),
		cmocka_unit_test(test_program_signal_handlers_chain),
		cmocka_unit_test(test_enclu_faults_as_the_sdm_says),
		cmocka_unit_test(test_vepc),
	};

	shim_test_reexec(argc, argv, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
