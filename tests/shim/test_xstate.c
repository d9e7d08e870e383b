// SPDX-License-Identifier: MIT
/*
 * Extended state of an enclave whose XFRM is the host's XCR0, under
 * `softsgx run`, with build/enclaves/test_enclave_xsave.elf (SSA frames of
 * 4 pages):
 * - XSAVE with a full mask inside the enclave, into a buffer of the size
 *   CPUID.(0DH,0):EBX gives for XCR0 (what a runtime sizes for XFRM = XCR0),
 *   writes nothing past it, and XRSTOR takes it back;
 * - vector registers (ZMM0-31 with AVX-512, else YMM0-15) survive an AEX and
 *   ERESUME inside the enclave: once resolved by the shim itself (a page
 *   that was not mapped in), once through the vDSO's exception path, where
 *   the caller sees the AEX's synthetic state (XFRM components in their
 *   init configuration) and ERESUMEs with other values in the registers.
 * Each runs on the main thread and on a freshly created one. A host without
 * AVX is reported as skipped.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/lib/enclave_image.h"
#include "tests/shim/new_thread.h"
#include "tests/shim/asm_frame.h"
#include "tests/shim/shim_test.h"
#include "tests/shim/test_image.h"
#include "tests/shim/vdso_call.h"
#include "tests/shim/vdso_record.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "tests/enclaves/test_enclave.h"

#define PAGE SGX_PAGE_SIZE

static const char *const run_opts[] = {"--epc", "1M", "--sections", "1", NULL};
static vdso_sgx_enter_enclave_t vdso_enter;
static struct enclave_image image;
static struct sgx_sigstruct *sig;
static uint64_t xcr0;
static uint32_t xsave_size; /* CPUID.(0DH,0):EBX: the XSAVE area of XCR0 */

enum vec_kind { VEC_NONE, VEC_YMM, VEC_ZMM };
static enum vec_kind vec_kind;

/* One enclave call with vector registers loaded before and stored after. */
struct xs_ctx {
	uint64_t fn;	   /* 0 */
	uint64_t run;	   /* 8 */
	uint64_t rdi;	   /* 16 */
	uint64_t rsi;	   /* 24 */
	uint64_t rdx;	   /* 32 */
	uint64_t function; /* 40 */
	uint64_t in;	   /* 48 */
	uint64_t out;	   /* 56 */
	uint64_t kind;	   /* 64 */
	uint64_t ret;	   /* 72 */
};

_Static_assert(offsetof(struct xs_ctx, ret) == 72, "xs_ctx layout used by xs_call");

/*
 * xs_call(ctx): load YMM0-15 or ZMM0-31 from ctx->in, call the vDSO entry
 * ctx->fn(rdi, rsi, rdx, function, 0, 0, run) with nothing in between,
 * store the registers to ctx->out. Keeps the callee-saved registers.
 */
extern void xs_call(struct xs_ctx *ctx);
__asm__(".text\n"
	".globl xs_call\n"
	".hidden xs_call\n"
	".type xs_call, @function\n"
	"xs_call:\n"
	ASM_SAVE_CALLEE_SAVED
	"	push %rdi\n"
	"	mov 48(%rdi), %rax\n"
	"	cmpq $2, 64(%rdi)\n"
	"	jne 1f\n"
	"	.irp "
	"r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
	"	vmovdqu64 \\r*64(%rax), %zmm\\r\n"
	"	.endr\n"
	"	jmp 2f\n"
	"1:	.irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vmovdqu \\r*32(%rax), %ymm\\r\n"
	"	.endr\n"
	"2:	sub $8, %rsp\n"
	"	pushq 8(%rdi)\n"
	"	mov 0(%rdi), %r10\n"
	"	mov 40(%rdi), %rcx\n"
	"	mov 24(%rdi), %rsi\n"
	"	mov 32(%rdi), %rdx\n"
	"	mov 16(%rdi), %rdi\n"
	"	xor %r8d, %r8d\n"
	"	xor %r9d, %r9d\n"
	"	call *%r10\n"
	"	add $16, %rsp\n"
	"	mov (%rsp), %rdi\n"
	"	mov %rax, 72(%rdi)\n"
	"	mov 56(%rdi), %rax\n"
	"	cmpq $2, 64(%rdi)\n"
	"	jne 3f\n"
	"	.irp "
	"r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
	"	vmovdqu64 %zmm\\r, \\r*64(%rax)\n"
	"	.endr\n"
	"	jmp 4f\n"
	"3:	.irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vmovdqu %ymm\\r, \\r*32(%rax)\n"
	"	.endr\n"
	"4:	vzeroupper\n"
	"	add $8, %rsp\n"
	ASM_RESTORE_CALLEE_SAVED
	"	ret\n"
	".size xs_call, .-xs_call\n");

struct encl {
	struct enclave_handle h;
};

static uint64_t tcs0(const struct encl *e)
{
	return e->h.base + enclave_image_tcs_offset(&image, 0);
}

static void ecall(const struct encl *e, long op, long a, long b, struct vdso_record *c)
{
	struct sgx_enclave_run run;

	vdso_record_start(c, &run, tcs0(e));
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

static uint64_t buffer(const struct encl *e)
{
	struct vdso_record c = {0};

	ecall(e, TEST_ENCL_OP_BUFFER, 0, 0, &c);
	assert_int_equal(c.status, TEST_ENCL_OK);
	return (uint64_t)c.value;
}

/* XSAVE with mask ~0 into a slot sized for XCR0, then XRSTOR: no overrun. */
static void xsave_in_enclave(const struct encl *e)
{
	for (uint64_t slot = 0; slot < TEST_ENCL_XSAVE_SLOTS; slot++) {
		struct vdso_record c = {0};

		ecall(e, TEST_ENCL_OP_XSAVE, -1, (long)(slot << 32 | xsave_size), &c);
		if (c.status == TEST_ENCL_OVERRUN)
			fail_msg("XSAVE wrote past %u bytes, at offset %ld", xsave_size, c.value);
		assert_int_equal(c.status, TEST_ENCL_OK);
		/* x87 and SSE are always in XSTATE_BV's reach; nothing beyond XCR0. */
		assert_int_equal((uint64_t)c.value & ~xcr0, 0);
		ecall(e, TEST_ENCL_OP_XRSTOR, -1, (long)(slot << 32 | xsave_size), &c);
		assert_int_equal(c.status, TEST_ENCL_OK);
	}
}

/* A page of the enclave replaced by a fresh mapping: nothing mapped in. */
static void remap(const struct encl *e, uint64_t page, int prot)
{
	void *p = mmap((void *)(uintptr_t)page, PAGE, prot, MAP_SHARED | MAP_FIXED, e->h.fd, 0);

	assert_ptr_equal(p, (void *)(uintptr_t)page);
}

/* Load @in into the vector registers, enter with @function, store them to @out. */
static void vec_call(const struct encl *e, struct sgx_enclave_run *run, uint64_t function, long op,
		     uint64_t arg, const uint8_t *in, uint8_t *out)
{
	struct xs_ctx x = {0};

	x.fn = (uintptr_t)vdso_enter;
	x.run = (uintptr_t)run;
	x.rdi = (uint64_t)op;
	x.rsi = arg;
	x.function = function;
	x.in = (uintptr_t)in;
	x.out = (uintptr_t)out;
	x.kind = vec_kind;
	run->tcs = tcs0(e);
	xs_call(&x);
	assert_int_equal(x.ret, 0);
}

static void expect_same(const uint8_t *want, const uint8_t *got, size_t len, const char *what)
{
	size_t i = 0;

	if (!memcmp(want, got, len))
		return;
	while (want[i] == got[i])
		i++;
	fail_msg("%s: vector register byte %zu is %#x, expected %#x", what, i, got[i], want[i]);
}

/*
 * No user handler: the vDSO returns straight to xs_call, so nothing but the
 * enclave and the CPU model touches the vector registers in between.
 */
static void vectors_survive(const struct encl *e, bool through_vdso)
{
	static __thread uint8_t in[32 * 64] __attribute__((aligned(64)));
	static __thread uint8_t in2[32 * 64] __attribute__((aligned(64)));
	static __thread uint8_t out[32 * 64] __attribute__((aligned(64)));
	static const uint8_t zero[32 * 64];
	size_t len = vec_kind == VEC_ZMM ? 32 * 64 : 16 * 32;
	uint64_t buf = buffer(e), page = buf & ~(uint64_t)(PAGE - 1);
	struct sgx_enclave_run run;

	for (size_t i = 0; i < len; i++) {
		in[i] = (uint8_t)(i * 13 + 7);
		in2[i] = (uint8_t)(i * 5 + 1);
	}
	memset(out, 0xEE, sizeof(out));
	memset(&run, 0, sizeof(run));
	if (!through_vdso) {
		/* Not mapped in: the shim resolves the #PF and ERESUMEs itself. */
		remap(e, page, PROT_READ | PROT_WRITE);
		vec_call(e, &run, SGX_EENTER, TEST_ENCL_OP_READ_U64, buf, in, out);
		assert_int_equal(run.function, SGX_EEXIT);
		expect_same(in, out, len, "AEX and ERESUME in the shim");
		return;
	}
	/* #PF reported through the vDSO: the AEX's synthetic state, all init. */
	assert_int_equal(mprotect((void *)(uintptr_t)page, PAGE, PROT_NONE), 0);
	vec_call(e, &run, SGX_EENTER, TEST_ENCL_OP_READ_U64, buf, in, out);
	assert_int_equal(run.function, SGX_ERESUME);
	assert_int_equal(run.exception_vector, 14);
	expect_same(zero, out, len, "synthetic state after the AEX");
	/* ERESUME with other values in the registers: the SSA's come back. */
	assert_int_equal(mprotect((void *)(uintptr_t)page, PAGE, PROT_READ | PROT_WRITE), 0);
	vec_call(e, &run, SGX_ERESUME, 0, 0, in2, out);
	assert_int_equal(run.function, SGX_EEXIT);
	expect_same(in, out, len, "ERESUME from the SSA");
}

static void all_cases(void)
{
	struct encl e;

	build(&e);
	xsave_in_enclave(&e);
	vectors_survive(&e, false);
	vectors_survive(&e, true);
	xsave_in_enclave(&e);
	enclave_unload(&enclave_sys_native, &e.h);
}

static void need_avx(void)
{
	if (vec_kind == VEC_NONE) {
		printf("skipped: this CPU has no AVX enabled in XCR0\n");
		skip();
	}
}

static void test_xstate(void **state)
{
	(void)state;
	need_avx();
	all_cases();
}

/*
 * An enclave whose XFRM leaves out part of XCR0 (here AVX only, on a host
 * with more) gets one warning on stderr at its first EENTER, no more.
 */
static void test_narrow_xfrm_warns_once(void **state)
{
	struct enclave_image narrow = {0};
	struct sgx_sigstruct *nsig = NULL;
	char out[4096] = "";
	struct encl e;
	int fds[2], saved;
	ssize_t n;

	(void)state;
	need_avx();
	if (xcr0 == 0x7) {
		printf("skipped: XCR0 is x87|SSE|AVX, nothing narrower with AVX to try\n");
		skip();
	}
	assert_int_equal(test_image_load("SOFTSGX_TEST_ENCLAVE", &narrow), 0);
	narrow.secs->xfrm = 0x7;
	assert_int_equal(test_image_sign(&narrow, &nsig), 0);
	if (enclave_build(&enclave_sys_native, &narrow, nsig, &e.h))
		fail_msg("enclave_build: %s", enclave_image_error());

	assert_int_equal(pipe(fds), 0);
	fflush(stderr);
	saved = dup(2);
	assert_int_equal(dup2(fds[1], 2), 2);
	close(fds[1]);
	for (int i = 0; i < 2; i++) {
		struct vdso_record c = {0};
		struct sgx_enclave_run run;

		vdso_record_start(&c, &run, e.h.base + enclave_image_tcs_offset(&narrow, 0));
		assert_int_equal(vdso_call(TEST_ENCL_OP_NOP, 0, 0, SGX_EENTER, &run, vdso_enter),
				 0);
		assert_int_equal(c.status, TEST_ENCL_OK);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "XFRM 0x7 is narrower than this CPU's XCR0"));
	assert_null(strstr(strstr(out, "narrower") + 1, "narrower"));
	enclave_unload(&enclave_sys_native, &e.h);
	test_image_free(&narrow, &nsig);
}

static void all_cases_body(void *arg)
{
	(void)arg;
	all_cases();
}

static void test_xstate_new_thread(void **state)
{
	(void)state;
	need_avx();
	run_body_on_new_thread(all_cases_body, NULL);
}

static void probe_host(void)
{
	unsigned int a, b, c, d, lo, hi;

	vec_kind = VEC_NONE;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	xcr0 = (uint64_t)hi << 32 | lo;
	__cpuid_count(0xD, 0, a, b, c, d);
	xsave_size = b;
	if ((c & bit_AVX) && (xcr0 & 0x6) == 0x6)
		vec_kind = VEC_YMM;
	__cpuid_count(7, 0, a, b, c, d);
	if ((b & bit_AVX512F) && (xcr0 & 0xE6) == 0xE6)
		vec_kind = VEC_ZMM;
}

static int group_setup(void **state)
{
	(void)state;
	probe_host();
	if (test_image_load("SOFTSGX_TEST_ENCLAVE_XSAVE", &image))
		return -1;
	/* XFRM = XCR0, as an SDK loader picks it on this CPU. */
	if (vec_kind != VEC_NONE)
		image.secs->xfrm = xcr0;
	return test_image_sign(&image, &sig);
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
		cmocka_unit_test(test_xstate),
		cmocka_unit_test(test_xstate_new_thread),
		cmocka_unit_test(test_narrow_xfrm_warns_once),
	};

	shim_test_reexec(argc, argv, run_opts);
	vdso_enter = vdso_find_enter();
	if (!vdso_enter)
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
