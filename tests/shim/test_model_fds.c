// SPDX-License-Identifier: MIT
/*
 * The model holds no descriptor the program can reach (issue 14, item 4).
 * Daemons start with closefrom(3) or close_range(3, ~0U, 0); others dup2()
 * files over descriptors they think are free. On Linux none of that touches
 * SGX: EPC is not behind any descriptor of the process. Under the shim the
 * EPC and the enclaves' backing storage are the model's memory, and the
 * program must not be able to close it, nor to slip a file in its place
 * (the enclave would then run the file's bytes).
 *
 * The enclave (a few instructions, as in test_enclave_exec.c): 0 TCS, 1 code
 * (RX), 2 data (RW), 3-4 SSA, 5 FS/GS page (a marker at offset 0), then
 * extra RW pages filled with 0x77. Entry: RDI = operation; 1 stores RSI in
 * the data page, 2 loads it into RDX, 5 loads FS:0 into RDX. Entered with
 * CSSA > 0 it exits at once with RDX = 0xE. The EPC is 512 KiB (128 pages),
 * so a second enclave of 100 pages pushes the first out, and it pages back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "softsgx/sgx_arch.h"
#include "tests/shim/mini_encl.h"
#include "tests/shim/shim_test.h"
#include "tests/shim/vdso_call.h"
#include "softsgx/sgx_uapi.h"

extern const uint8_t fds_encl_code[], fds_encl_code_end[];
__asm__(".pushsection .rodata\n"
	".balign 16\n"
	"fds_encl_code:\n"
	"	test %rax, %rax\n"
	"	jnz 9f\n"
	"	mov %rcx, %rbx\n"
	"	cmp $1, %rdi\n"
	"	jne 2f\n"
	"	lea fds_encl_code+0x1000(%rip), %rax\n"
	"	mov %rsi, (%rax)\n"
	"	jmp 8f\n"
	"2:	cmp $2, %rdi\n"
	"	jne 5f\n"
	"	lea fds_encl_code+0x1000(%rip), %rax\n"
	"	mov (%rax), %rdx\n"
	"	jmp 8f\n"
	"5:	cmp $5, %rdi\n"
	"	jne 8f\n"
	"	mov %fs:0, %rdx\n"
	"	jmp 8f\n"
	"9:	mov %rcx, %rbx\n"
	"	mov $0xE, %rdx\n"
	"8:	mov $4, %eax\n"
	"	.byte 0x0f, 0x01, 0xd7\n"
	"fds_encl_code_end:\n"
	".popsection\n");

#define ENCL_PAGES 8
#define BIG_PAGES 100
#define FS_MARKER 0x5afe5afe87654321ULL

struct enclave {
	int fd;
	uint8_t *base;
	uint64_t size;
};

static uint8_t page_buf[SGX_PAGE_SIZE] __attribute__((aligned(4096)));
static struct sgx_sigstruct sig_buf __attribute__((aligned(4096)));
static vdso_sgx_enter_enclave_t vdso_enter;

/*
 * With @release the address is picked with mmap() and given back before
 * ECREATE, the enclave's mmap(MAP_FIXED) taking it again afterwards (fine on
 * Linux, which maps nothing at ECREATE); otherwise it stays reserved.
 */
static int build_enclave_at(struct enclave *e, uint64_t extra_pages, bool release)
{
	struct sgx_sign_enclave desc = {
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 3,
		.xfrm_mask = 3,
		.date = 0x20261206,
	};
	struct sgx_enclave_init init = { .sigstruct = (uintptr_t)&sig_buf };
	struct sgx_measurement m;
	uint64_t size = ENCL_PAGES * SGX_PAGE_SIZE;

	while (size < (ENCL_PAGES + extra_pages) * SGX_PAGE_SIZE)
		size *= 2;
	e->size = size;
	e->base = mini_encl_reserve(size, release);
	if (!e->base)
		return -1;
	e->fd = open("/dev/sgx_enclave", O_RDWR);
	if (e->fd < 0 || mini_encl_create(e->fd, e->base, size, desc.attributes, &m))
		return -1;

	if (mini_encl_add_layout(e->fd, fds_encl_code,
				 (size_t)(fds_encl_code_end - fds_encl_code), FS_MARKER, ENCL_PAGES,
				 extra_pages, &m) ||
	    mini_encl_sign(&desc, &m, &sig_buf) || ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init) ||
	    mini_encl_map_layout(e->fd, e->base, size))
		return -1;
	return 0;
}

static int build_enclave(struct enclave *e, uint64_t extra_pages)
{
	return build_enclave_at(e, extra_pages, false);
}

static void close_enclave(struct enclave *e)
{
	munmap(e->base, e->size);
	close(e->fd);
}

/* RDX at EEXIT, or -1 when the enclave did not leave through EEXIT. */
static long ecall(struct enclave *e, long op, long arg)
{
	struct sgx_enclave_run run = { 0 };
	long rdx = -1;

	run.tcs = (uintptr_t)e->base;
	run.user_handler = (uintptr_t)mini_encl_keep_rdx;
	run.user_data = (uintptr_t)&rdx;
	if (vdso_call(op, arg, 0, SGX_EENTER, &run, vdso_enter) || run.function != SGX_EEXIT)
		return -1;
	return rdx;
}

struct thread_call {
	struct enclave *e;
	long op, arg, result;
};

static void *thread_ecall(void *arg)
{
	struct thread_call *c = arg;

	c->result = ecall(c->e, c->op, c->arg);
	return NULL;
}

/* The same call from a thread created for it. */
static long ecall_from_new_thread(struct enclave *e, long op, long arg)
{
	struct thread_call c = { .e = e, .op = op, .arg = arg, .result = -1 };
	pthread_t t;

	if (pthread_create(&t, NULL, thread_ecall, &c) || pthread_join(t, NULL))
		return -1;
	return c.result;
}

/* How many descriptors of this process are the model's ("memfd:softsgx-..."). */
static int model_descriptors(void)
{
	int found = 0;

	for (int fd = 0; fd < 4096; fd++) {
		char path[64], link[256];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strstr(link, "softsgx")) {
			fprintf(stderr, "fd %d is the model's: %s\n", fd, link);
			found++;
		}
	}
	return found;
}

static int close_all_from_3(void)
{
	return (int)syscall(SYS_close_range, 3, ~0U, 0);
}

/*
 * The enclave work every test does after losing descriptors: an enclave
 * stores a value, a bigger one pushes it out of the EPC (evictions into
 * backing storage), its own code reads the value back (reloads), from this
 * thread and from a new one. 0 or the number of the step that failed.
 */
static int enclaves_work(void)
{
	struct enclave small, big;

	if (build_enclave(&small, 0))
		return 1;
	if (ecall(&small, 1, 0x5EED) != 0 || ecall(&small, 5, 0) != (long)FS_MARKER)
		return 2;
	for (int round = 0; round < 2; round++) {
		if (build_enclave(&big, BIG_PAGES))
			return 3;
		for (uint64_t p = 0; p < BIG_PAGES; p++)
			if (big.base[(ENCL_PAGES + p) * SGX_PAGE_SIZE + 9] != 0x77)
				return 4;
		if (ecall(&small, 2, 0) != 0x5EED)
			return 5;
		if (ecall_from_new_thread(&small, 2, 0) != 0x5EED ||
		    ecall_from_new_thread(&small, 5, 0) != (long)FS_MARKER)
			return 6;
		close_enclave(&big);
	}
	close_enclave(&small);
	return 0;
}

/* Not a single descriptor of the model, booted or with enclaves paging. */
static void test_no_model_descriptor(void **state)
{
	struct enclave small, big;

	(void)state;
	assert_int_equal(model_descriptors(), 0);
	assert_int_equal(build_enclave(&small, 0), 0);
	assert_int_equal(build_enclave(&big, BIG_PAGES), 0);
	assert_int_equal(ecall(&small, 1, 0x1234), 0); /* reloads what big pushed out */
	assert_int_equal(model_descriptors(), 0);
	close_enclave(&big);
	close_enclave(&small);
}

/* close_range(3, ~0U, 0) first, as daemons do; then SGX works as on Linux. */
static void test_close_range_then_enclaves(void **state)
{
	(void)state;
	if (close_all_from_3() && errno == ENOSYS) {
		fprintf(stderr, "skipped: close_range() is not in this kernel (Linux 5.9+)\n");
		skip();
	}
	assert_int_equal(enclaves_work(), 0);
	assert_int_equal(close_all_from_3(), 0);
	assert_int_equal(enclaves_work(), 0);
}

/* glibc's closefrom(3) (close_range, or /proc/self/fd one by one). */
static void test_closefrom_then_enclaves(void **state)
{
	(void)state;
	closefrom(3);
	assert_int_equal(enclaves_work(), 0);
}

/*
 * A regular file over every descriptor from 3 up, and it stays there while
 * enclaves are built, evicted and reloaded: each enclave runs its own code
 * and reads its own data, never the file's bytes (0xCC, int3, everywhere).
 */
static void test_files_over_every_descriptor(void **state)
{
	char path[] = "/tmp/softsgx-test-model-fds-XXXXXX";
	int file, limit = 256;

	(void)state;
	file = mkstemp(path);
	assert_true(file >= 0);
	unlink(path);
	memset(page_buf, 0xCC, sizeof(page_buf));
	for (int i = 0; i < 1024; i++)
		assert_int_equal(write(file, page_buf, sizeof(page_buf)), sizeof(page_buf));
	for (int fd = 3; fd < limit; fd++)
		if (fd != file)
			assert_int_equal(dup2(file, fd), fd);
	assert_int_equal(enclaves_work(), 0);
	/* And the same once the program has opened many files on fresh numbers. */
	assert_int_equal(close_all_from_3(), 0);
	for (int i = 0; i < 64; i++)
		assert_true(open("/proc/self/exe", O_RDONLY) >= 0);
	assert_int_equal(enclaves_work(), 0);
	assert_int_equal(close_all_from_3(), 0);
}

/*
 * The model maps nothing where the program may have just been: an enclave
 * whose address was picked, released before ECREATE and mapped again with
 * MAP_FIXED after it pages like any other (its backing storage is not in
 * that hole).
 */
static void test_address_released_before_ecreate(void **state)
{
	struct enclave e[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(build_enclave_at(&e[i], 60, true), 0);
		assert_int_equal(ecall(&e[i], 1, 0x100 + i), 0);
	}
	/* 3 x 69 pages in an EPC of 128: each comes back from backing storage. */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3; i++) {
			for (uint64_t p = 0; p < 60; p++)
				assert_int_equal(e[i].base[(ENCL_PAGES + p) * SGX_PAGE_SIZE + 9], 0x77);
			assert_int_equal(ecall(&e[i], 2, 0), 0x100 + i);
		}
	}
	assert_int_equal(ecall_from_new_thread(&e[0], 2, 0), 0x100);
	for (int i = 0; i < 3; i++)
		close_enclave(&e[i]);
}

/* fork() after close_range(): the child copies the model without descriptors. */
static void test_fork_after_close_range(void **state)
{
	struct enclave e;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(close_all_from_3(), 0);
	assert_int_equal(build_enclave(&e, 0), 0);
	assert_int_equal(ecall(&e, 1, 0xAAAA), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		alarm(30);
		if (ecall(&e, 2, 0) != 0xAAAA)
			_exit(10);
		if (ecall(&e, 1, 0xC41D) != 0 || ecall_from_new_thread(&e, 2, 0) != 0xC41D)
			_exit(11);
		if (close_all_from_3())
			_exit(12);
		if (enclaves_work())
			_exit(13);
		if (ecall(&e, 2, 0) != 0xC41D)
			_exit(14);
		_exit(model_descriptors() ? 15 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fprintf(stderr, "child killed by signal %d\n", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(ecall(&e, 2, 0), 0xAAAA);
	assert_int_equal(enclaves_work(), 0);
	assert_int_equal(ecall_from_new_thread(&e, 2, 0), 0xAAAA);
	close_enclave(&e);
	assert_int_equal(model_descriptors(), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_model_descriptor),
		cmocka_unit_test(test_close_range_then_enclaves),
		cmocka_unit_test(test_closefrom_then_enclaves),
		cmocka_unit_test(test_files_over_every_descriptor),
		cmocka_unit_test(test_address_released_before_ecreate),
		cmocka_unit_test(test_fork_after_close_range),
	};
	/* A tiny EPC: every test pages. */
	static const char *const run_opts[] = { "--epc", "512K", "--sections", "1", NULL };

	shim_test_reexec(argc, argv, run_opts);
	vdso_enter = vdso_find_enter();
	if (!vdso_enter)
		return 1;
	/* One test by name: each may kill the process where the model is reachable. */
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
