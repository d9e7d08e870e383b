// SPDX-License-Identifier: MIT
/*
 * #PF error codes as Linux reports them through the vDSO
 * (struct sgx_enclave_run.exception_error_code) for the same access, with
 * the project's test enclave under `softsgx run`:
 *   not present (never mapped in)  0x4 | W | I
 *   write to a read-only present   0x7 (mprotect keeps present pages present)
 *   fetch from a present NX page   0x15
 *   PROT_NONE                      0x4 (no PTE is present on x86)
 *   EPCM violation (EENTER on a REG page as TCS): 0x8005, bit 15 = X86_PF_SGX
 * Every case runs on the main thread and on a freshly created one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/enclave_image.h"
#include "new_thread.h"
#include "shim_test.h"
#include "test_image.h"
#include "vdso_call.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "../enclaves/test_enclave.h"

#define PAGE	SGX_PAGE_SIZE
#define TRAP_PF 14
#define ERR_P	0x1
#define ERR_W	0x2
#define ERR_U	0x4
#define ERR_I	0x10
#define ERR_SGX 0x8000

static const char *const run_opts[] = {"--epc", "1M", "--sections", "1", NULL};
static vdso_sgx_enter_enclave_t vdso_enter;
static struct enclave_image image;
static struct sgx_sigstruct *sig;

struct encl {
	struct enclave_handle h;
};

struct ecall {
	long status, value;
	unsigned int exceptions;
	uint16_t vector, error_code;
	uint64_t addr;
	/* On an exception: mprotect this page to @prot, then ERESUME. */
	void *fix;
	int prot;
};

static int handler(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
		   struct sgx_enclave_run *run)
{
	struct ecall *c = (struct ecall *)(uintptr_t)run->user_data;

	(void)rdx, (void)rsp, (void)r8, (void)r9;
	if (run->function == SGX_EEXIT) {
		c->status = rdi;
		c->value = rsi;
		return 0;
	}
	c->exceptions++;
	c->vector = run->exception_vector;
	c->error_code = run->exception_error_code;
	c->addr = run->exception_addr;
	if (c->fix && c->exceptions == 1) {
		if (mprotect(c->fix, PAGE, c->prot))
			return -errno;
		return SGX_ERESUME;
	}
	return 0;
}

static void ecall(uint64_t tcs, long op, long a, long b, struct ecall *c)
{
	struct sgx_enclave_run run;

	memset(&run, 0, sizeof(run));
	run.tcs = tcs;
	run.user_handler = (uintptr_t)handler;
	run.user_data = (uintptr_t)c;
	c->status = c->value = -1;
	c->exceptions = 0;
	c->vector = c->error_code = 0;
	c->addr = 0;
	assert_int_equal(vdso_call((unsigned long)op, (unsigned long)a, (unsigned long)b,
				   SGX_EENTER, &run, vdso_enter),
			 0);
}

static void build(struct encl *e)
{
	int ret = enclave_build(&enclave_sys_native, &image, sig, &e->h);

	if (ret)
		fail_msg("enclave_build: %d: %s", ret, enclave_image_error());
}

static uint64_t tcs0(const struct encl *e)
{
	return e->h.base + enclave_image_tcs_offset(&image, 0);
}

static uint64_t buffer(const struct encl *e)
{
	struct ecall c = {0};

	ecall(tcs0(e), TEST_ENCL_OP_BUFFER, 0, 0, &c);
	assert_int_equal(c.status, TEST_ENCL_OK);
	return (uint64_t)c.value;
}

/* Replace the page at @addr by a fresh mapping of the enclave: no PTE present. */
static void remap(const struct encl *e, uint64_t addr, int prot)
{
	void *p = mmap((void *)(uintptr_t)addr, PAGE, prot, MAP_SHARED | MAP_FIXED, e->h.fd, 0);

	assert_ptr_equal(p, (void *)(uintptr_t)addr);
}

static void check_pf(const struct ecall *c, uint64_t addr, uint16_t code)
{
	assert_int_equal(c->exceptions, 1);
	assert_int_equal(c->vector, TRAP_PF);
	if (c->error_code != code)
		fail_msg("error code %#x, Linux reports %#x", c->error_code, code);
	assert_int_equal(c->addr, addr);
	/* The handler fixed the page and resumed: the operation completed. */
	assert_int_equal(c->status, TEST_ENCL_OK);
}

static void fault_codes(struct encl *ep)
{
	struct ecall c = {0};
	struct encl e = *ep;
	uint64_t buf, page, code;

	buf = buffer(&e);
	page = buf & ~(uint64_t)(PAGE - 1);

	/* Write to a present page made read-only: P | W | U. */
	ecall(tcs0(&e), TEST_ENCL_OP_WRITE_U64, (long)buf, 1, &c);
	assert_int_equal(c.status, TEST_ENCL_OK);
	assert_int_equal(mprotect((void *)(uintptr_t)page, PAGE, PROT_READ), 0);
	c.fix = (void *)(uintptr_t)page;
	c.prot = PROT_READ | PROT_WRITE;
	ecall(tcs0(&e), TEST_ENCL_OP_WRITE_U64, (long)buf, 2, &c);
	check_pf(&c, buf, ERR_P | ERR_W | ERR_U);

	/* A read of a present read-only page does not fault at all. */
	assert_int_equal(mprotect((void *)(uintptr_t)page, PAGE, PROT_READ), 0);
	c.fix = NULL;
	ecall(tcs0(&e), TEST_ENCL_OP_READ_U64, (long)buf, 0, &c);
	assert_int_equal(c.exceptions, 0);
	assert_int_equal(c.value, 2);

	/* Write to a page not mapped in yet: W | U. */
	remap(&e, page, PROT_READ);
	c.fix = (void *)(uintptr_t)page;
	ecall(tcs0(&e), TEST_ENCL_OP_WRITE_U64, (long)buf, 3, &c);
	check_pf(&c, buf, ERR_W | ERR_U);

	/* PROT_NONE: not present on x86, a read is U only. */
	assert_int_equal(mprotect((void *)(uintptr_t)page, PAGE, PROT_NONE), 0);
	c.prot = PROT_READ;
	ecall(tcs0(&e), TEST_ENCL_OP_READ_U64, (long)buf, 0, &c);
	check_pf(&c, buf, ERR_U);
	assert_int_equal(c.value, 3);

	/* Instruction fetch from the present entry page made NX: P | U | I. */
	code = (e.h.base + image.entry) & ~(uint64_t)(PAGE - 1);
	assert_int_equal(mprotect((void *)(uintptr_t)code, PAGE, PROT_READ), 0);
	c.fix = (void *)(uintptr_t)code;
	c.prot = PROT_READ | PROT_EXEC;
	ecall(tcs0(&e), TEST_ENCL_OP_NOP, 0, 0, &c);
	check_pf(&c, e.h.base + image.entry, ERR_P | ERR_U | ERR_I);

	/* The same page not present: U | I. */
	remap(&e, code, PROT_READ);
	ecall(tcs0(&e), TEST_ENCL_OP_NOP, 0, 0, &c);
	check_pf(&c, e.h.base + image.entry, ERR_U | ERR_I);

	/* EENTER on a REG page: the EPCM check fails, P | U | SGX. */
	c.fix = NULL;
	ecall(page, TEST_ENCL_OP_NOP, 0, 0, &c);
	assert_int_equal(c.exceptions, 1);
	assert_int_equal(c.vector, TRAP_PF);
	if (c.error_code != (ERR_SGX | ERR_P | ERR_U))
		fail_msg("EENTER on a REG page: error code %#x, Linux reports 0x8005",
			 c.error_code);
	assert_int_equal(c.addr, page);
}

static void test_fault_codes(void **state)
{
	struct encl e;

	(void)state;
	build(&e);
	fault_codes(&e);
	enclave_unload(&enclave_sys_native, &e.h);
}

static void fault_codes_body(void *e)
{
	fault_codes(e);
}

static void test_fault_codes_new_thread(void **state)
{
	struct encl e;

	(void)state;
	build(&e);
	run_on_new_thread_altstack(fault_codes_body, &e);
	enclave_unload(&enclave_sys_native, &e.h);
}

static int group_setup(void **state)
{
	(void)state;
	return test_image_prepare("SOFTSGX_TEST_ENCLAVE", &image, &sig);
}

static int group_teardown(void **state)
{
	(void)state;
	test_image_free(&image, &sig);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_codes),
		cmocka_unit_test(test_fault_codes_new_thread),
	};

	shim_test_reexec(argc, argv, run_opts);
	vdso_enter = vdso_find_enter();
	if (!vdso_enter)
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
