// SPDX-License-Identifier: MIT
/*
 * ECALLs in a loop while the reclaimer evicts the enclave's pages: the
 * vDSO's EENTER walks the TCS and the SSA through the kernel model's page
 * table (kernel/translate.c), which must never hand it a page that is no
 * longer the one at that address. A second, larger enclave read in a loop
 * by another thread keeps a 128-page EPC full, so the TCS, the SSA, the
 * code and the data page of the small one come and go; every ECALL stores
 * a new value in its data page and loads it back. From a fresh thread, and
 * from the main thread.
 *
 * Layout (mini_encl.h): 0 TCS, 1 code, 2 data, 3-4 SSA, 5 FS/GS page.
 * Entry: RDI 1 stores RSI in the data page; any RDI: RDX = the data page's
 * first quadword. Entered with CSSA > 0 it exits at once with RDX = 0xE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "softsgx/sgx_arch.h"
#include "tests/shim/mini_encl.h"
#include "tests/shim/shim_test.h"
#include "tests/shim/vdso_call.h"
#include "softsgx/sgx_uapi.h"

extern const uint8_t encl_code[], encl_code_end[];
__asm__(".pushsection .rodata\n"
	".balign 16\n"
	"encl_code:\n"
	"	test %rax, %rax\n"
	"	jnz 9f\n"
	"	mov %rcx, %rbx\n"
	"	lea encl_code+0x1000(%rip), %rax\n"
	"	cmp $1, %rdi\n"
	"	jne 2f\n"
	"	mov %rsi, (%rax)\n"
	"2:	mov (%rax), %rdx\n"
	"	jmp 8f\n"
	"9:	mov %rcx, %rbx\n"
	"	mov $0xE, %rdx\n"
	"8:	mov $4, %eax\n"
	"	.byte 0x0f, 0x01, 0xd7\n"
	"encl_code_end:\n"
	".popsection\n");

#define ENCL_PAGES 8
#define BIG_EXTRA  200 /* more than the 128-page EPC of this test */
#define FS_MARKER  0x5afe5afe12345678ULL

struct enclave {
	int fd;
	uint8_t *base;
	uint64_t size;
};

static struct sgx_sigstruct sig_buf __attribute__((aligned(4096)));
static vdso_sgx_enter_enclave_t vdso_enter;

static void build_enclave(struct enclave *e, uint64_t extra_pages)
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

	e->size = ENCL_PAGES * SGX_PAGE_SIZE;
	while (e->size < (ENCL_PAGES + extra_pages) * SGX_PAGE_SIZE)
		e->size *= 2;
	e->base = mini_encl_reserve(e->size, false);
	assert_non_null(e->base);
	e->fd = open("/dev/sgx_enclave", O_RDWR);
	assert_true(e->fd >= 0);
	assert_int_equal(mini_encl_create(e->fd, e->base, e->size, desc.attributes, &m), 0);
	assert_int_equal(mini_encl_add_layout(e->fd, encl_code,
					      (size_t)(encl_code_end - encl_code), FS_MARKER,
					      ENCL_PAGES, extra_pages, &m),
			 0);
	assert_int_equal(mini_encl_sign(&desc, &m, &sig_buf), 0);
	assert_int_equal(ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init), 0);
	assert_int_equal(mini_encl_map_layout(e->fd, e->base, e->size), 0);
}

static void close_enclave(struct enclave *e)
{
	munmap(e->base, e->size);
	close(e->fd);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct loop {
	struct enclave *small, *big;
	double seconds;
	atomic_bool stop;
	/* What the ECALL loop saw: calls made, wrong values, failed calls. */
	unsigned long calls, wrong, failed;
	/* The pressure thread's: sweeps made, bytes of the big enclave not as added. */
	unsigned long sweeps, big_wrong;
};

/* One ECALL: 0 and *rdx, or -1 (no cmocka outside the main thread). */
static int ecall(struct enclave *e, long op, long arg, long *rdx)
{
	struct sgx_enclave_run run = { 0 };

	run.tcs = (uintptr_t)e->base;
	run.user_handler = (uintptr_t)mini_encl_keep_rdx;
	run.user_data = (uintptr_t)rdx;
	if (vdso_call(op, arg, 0, SGX_EENTER, &run, vdso_enter) || run.function != SGX_EEXIT)
		return -1;
	return 0;
}

static void *ecall_loop(void *arg)
{
	struct loop *l = arg;
	double end = now() + l->seconds;

	for (long v = 1; now() < end; v++) {
		long got = 0;

		if (ecall(l->small, 1, v, &got) || ecall(l->small, 2, 0, &got)) {
			l->failed++;
			break;
		}
		l->calls += 2;
		if (got != v)
			l->wrong++;
	}
	atomic_store(&l->stop, true);
	return NULL;
}

/* Read every page of the big enclave, again and again: the EPC stays full. */
static void *pressure(void *arg)
{
	struct loop *l = arg;

	while (!atomic_load(&l->stop)) {
		for (uint64_t i = 0; i < BIG_EXTRA; i++)
			if (l->big->base[(ENCL_PAGES + i) * SGX_PAGE_SIZE + 9] != 0x77)
				l->big_wrong++;
		l->sweeps++;
	}
	return NULL;
}

static void check(const struct loop *l, const char *who)
{
	print_message("%s: %lu ECALLs, %lu sweeps of the big enclave\n", who, l->calls, l->sweeps);
	assert_int_equal(l->failed, 0);
	assert_int_equal(l->wrong, 0);
	assert_int_equal(l->big_wrong, 0);
	assert_true(l->calls > 0);
	assert_true(l->sweeps > 0);
}

static void test_ecalls_while_evicted(void **state)
{
	const double seconds = getenv("SOFTSGX_STRESS") ? 10 : 1;
	struct enclave small, big;
	struct loop l = { .small = &small, .big = &big, .seconds = seconds };
	pthread_t t;
	long got;

	(void)state;
	build_enclave(&small, 0);
	build_enclave(&big, BIG_EXTRA);
	assert_int_equal(ecall(&small, 2, 0, &got), 0);
	assert_int_equal(got, 0);

	/* ECALLs from a fresh thread, pressure from this one. */
	assert_int_equal(pthread_create(&t, NULL, ecall_loop, &l), 0);
	pressure(&l);
	assert_int_equal(pthread_join(t, NULL), 0);
	check(&l, "fresh thread");

	/* And the other way round. */
	l = (struct loop){ .small = &small, .big = &big, .seconds = seconds };
	assert_int_equal(pthread_create(&t, NULL, pressure, &l), 0);
	ecall_loop(&l);
	assert_int_equal(pthread_join(t, NULL), 0);
	check(&l, "main thread");

	close_enclave(&big);
	close_enclave(&small);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecalls_while_evicted),
	};
	/* A small EPC, which the big enclave alone overfills. */
	static const char *const run_opts[] = { "--epc", "512K", "--sections", "1", NULL };

	shim_test_reexec(argc, argv, run_opts);
	vdso_enter = vdso_find_enter();
	if (!vdso_enter)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
