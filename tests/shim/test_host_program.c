// SPDX-License-Identifier: MIT
/*
 * The acceptance program of "Run unmodified SGX programs": a host program
 * written as one is written for SGX on Linux, run under `softsgx run` on a
 * 128-page EPC. It uses the Linux uAPI only: the loader's native system
 * calls (open, ioctl, mmap of /dev/sgx_enclave), __vdso_sgx_enter_enclave
 * found through getauxval(AT_SYSINFO_EHDR), and ENCLU executed by the
 * program itself. The enclave is the project's test enclave
 * (SOFTSGX_TEST_ENCLAVE, docs/enclave-abi.md).
 *
 * 1. build and EINIT through real system calls, enter both TCSs through the
 *    vDSO and through raw ENCLU;
 * 2. a buffer round trip through the enclave;
 * 3. #UD and #DE reported through struct sgx_enclave_run, ERESUME, the
 *    enclave's exception entry; a #PF the host resolves from the vDSO's
 *    user handler;
 * 4. pages of one enclave evicted by the reclaimer while other enclaves
 *    fill the EPC, then touched again from inside the enclave;
 * 5. sealing keys: stable within a run, across two runs (a second execution
 *    of this program, the key kept in a file under SOFTSGX_STATE_DIR), bound
 *    to MRENCLAVE or MRSIGNER as the key policy says;
 * 6. a REPORT from one enclave verified with the REPORT key of the enclave
 *    it targets, by AES-CMAC computed here with OpenSSL.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "tests/common/test_cmac.h"
#include "tools/lib/enclave_image.h"
#include "tests/shim/asm_frame.h"
#include "tests/shim/shim_test.h"
#include "tests/shim/test_image.h"
#include "tests/shim/vdso_call.h"
#include "tests/shim/vdso_record.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "tests/enclaves/test_enclave.h"

#define PAGE SGX_PAGE_SIZE

/* The second execution of test_seal_key_survives_restart: the key file. */
#define SEAL_PROBE_ENV "SOFTSGX_HOST_PROGRAM_SEAL_PROBE"

/*
 * Copies of the test enclave (25 pages and the SECS each) built after the
 * first one: with it, 338 pages for a 128-page EPC, over twice what it holds, so
 * that the reclaimer's second chance cannot keep the first one's pages.
 */
#define NR_PRESSURE 12

/* EXITINFO of a hardware exception (type 3) with @vector, valid. */
#define EXITINFO_HW(vector) (SGX_EXITINFO_VALID | (3u << SGX_EXITINFO_TYPE_SHIFT) | (vector))

#define X86_TRAP_DE 0
#define X86_TRAP_UD 6
#define X86_TRAP_PF 14
#define X86_PF_USER 0x4

extern char **environ;

/* A 128-page EPC in one section, so that four enclaves fill it. */
static const char *const run_opts[] = { "--epc", "512K", "--sections", "1", NULL };

static vdso_sgx_enter_enclave_t vdso_enter;

static struct enclave_image image;   /* the test enclave */
static struct enclave_image variant; /* the same with one stack byte changed */
static struct sgx_sigstruct *sig_image;	  /* image, SOFTSGX_TEST_KEY */
static struct sgx_sigstruct *sig_variant; /* variant, SOFTSGX_TEST_KEY */
static struct sgx_sigstruct *sig_image2;  /* image, SOFTSGX_TEST_KEY2 */
static uint8_t mrsigner1[SGX_HASH_SIZE], mrsigner2[SGX_HASH_SIZE];

/* ------------------------------------------------------------------------ */
/* Raw ENCLU: EENTER by the program's own instruction.                      */

/* Registers at the instruction after EENTER once the enclave has left. */
struct raw_exit {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/* What raw_eenter() puts in R8-R15 before EENTER. */
#define RAW_R8	0x0808080808080808
#define RAW_R9	0x0909090909090909
#define RAW_R10 0x1010101010101010
#define RAW_R11 0x1111111111111111
#define RAW_R12 0x1212121212121212
#define RAW_R13 0x1313131313131313
#define RAW_R14 0x1414141414141414
#define RAW_R15 0x1515151515151515
#define STR_(x) #x
#define STR(x)	STR_(x)

/*
 * raw_eenter(tcs, op, arg1, arg2, out): EENTER with RDI = op, RSI = arg1,
 * RDX = arg2 and the markers above in R8-R15; the registers at the exit go
 * to @out. The AEP is an ENCLU: an interrupt's AEX lands there with RAX =
 * ERESUME, RBX = TCS, RCX = AEP, which resumes the enclave, as SGX runtimes
 * do. EEXIT returns to raw_enclu_exit, the instruction after EENTER.
 */
extern void raw_eenter(uint64_t tcs, uint64_t op, uint64_t arg1, uint64_t arg2,
		       struct raw_exit *out);
extern const char raw_enclu_exit[], raw_enclu_aep[];
__asm__(".text\n"
	".globl raw_eenter, raw_enclu_exit, raw_enclu_aep\n"
	".hidden raw_eenter, raw_enclu_exit, raw_enclu_aep\n"
	".type raw_eenter, @function\n"
	"raw_eenter:\n"
	ASM_SAVE_CALLEE_SAVED
	"	push %r8\n"
	"	mov %rdi, %rbx\n"
	"	mov %rsi, %rdi\n"
	"	mov %rdx, %rsi\n"
	"	mov %rcx, %rdx\n"
	"	movabs $" STR(RAW_R8) ", %r8\n"
	"	movabs $" STR(RAW_R9) ", %r9\n"
	"	movabs $" STR(RAW_R10) ", %r10\n"
	"	movabs $" STR(RAW_R11) ", %r11\n"
	"	movabs $" STR(RAW_R12) ", %r12\n"
	"	movabs $" STR(RAW_R13) ", %r13\n"
	"	movabs $" STR(RAW_R14) ", %r14\n"
	"	movabs $" STR(RAW_R15) ", %r15\n"
	"	lea raw_enclu_aep(%rip), %rcx\n"
	"	mov $2, %eax\n" /* EENTER */
	"	.byte 0x0f, 0x01, 0xd7\n"
	"raw_enclu_exit:\n"
	"	jmp 1f\n"
	"raw_enclu_aep:\n"
	"	.byte 0x0f, 0x01, 0xd7\n"
	"1:	xchg %rax, (%rsp)\n" /* RAX = out; the exit's RAX on the stack */
	"	mov %rbx, 8(%rax)\n"
	"	mov %rcx, 16(%rax)\n"
	"	mov %rdx, 24(%rax)\n"
	"	mov %rsi, 32(%rax)\n"
	"	mov %rdi, 40(%rax)\n"
	"	mov %r8, 48(%rax)\n"
	"	mov %r9, 56(%rax)\n"
	"	mov %r10, 64(%rax)\n"
	"	mov %r11, 72(%rax)\n"
	"	mov %r12, 80(%rax)\n"
	"	mov %r13, 88(%rax)\n"
	"	mov %r14, 96(%rax)\n"
	"	mov %r15, 104(%rax)\n"
	"	pop %rbx\n"
	"	mov %rbx, 0(%rax)\n"
	ASM_RESTORE_CALLEE_SAVED
	"	ret\n"
	".size raw_eenter, .-raw_eenter\n");

_Static_assert(offsetof(struct raw_exit, r15) == 104, "raw_exit layout used by raw_eenter");

/* ------------------------------------------------------------------------ */
/* Enclaves built by the loader through real system calls.                 */

struct encl {
	struct enclave_handle h;
	const struct enclave_image *img;
};

static void encl_build(struct encl *e, const struct enclave_image *img,
		       const struct sgx_sigstruct *sig)
{
	int ret = enclave_build(&enclave_sys_native, img, sig, &e->h);

	if (ret)
		fail_msg("enclave_build: %d: %s", ret, enclave_image_error());
	e->img = img;
	assert_true(e->h.fd >= 0);
	assert_int_equal(e->h.size, img->secs->size);
	assert_int_equal(e->h.base % e->h.size, 0);
}

static void encl_unload(struct encl *e)
{
	enclave_unload(&enclave_sys_native, &e->h);
	assert_int_equal(e->h.fd, -1);
}

static uint64_t encl_tcs(const struct encl *e, unsigned int i)
{
	return e->h.base + enclave_image_tcs_offset(e->img, i);
}

/* How the user handler answers exceptions (vdso_record's hook). */
struct answer {
	/* A page to make read-write again, then ERESUME, on a #PF. */
	void *restore;
	/* How many other exceptions to answer with ERESUME. */
	unsigned int resume;
};

static int answer_exception(struct vdso_record *c)
{
	struct answer *ans = c->ctx;

	if (ans->restore && c->vector == X86_TRAP_PF) {
		if (mprotect(ans->restore, PAGE, PROT_READ | PROT_WRITE))
			return -errno;
		return SGX_ERESUME;
	}
	if (ans->resume) {
		ans->resume--;
		return SGX_ERESUME;
	}
	return 0;
}

/*
 * @leaf on TCS @tcs through the vDSO with a recording user handler; its
 * return value. The hook of @c stays, what it recorded is reset.
 */
static int ecall(struct encl *e, unsigned int tcs, unsigned int leaf, uint64_t op, uint64_t arg1,
		 uint64_t arg2, struct vdso_record *c, struct sgx_enclave_run *run)
{
	vdso_record_start(c, run, encl_tcs(e, tcs));
	return vdso_call(op, arg1, arg2, leaf, run, vdso_enter);
}

/* EENTER for an operation that must succeed without exceptions; its value. */
static uint64_t ecall_ok(struct encl *e, unsigned int tcs, uint64_t op, uint64_t arg1,
			 uint64_t arg2)
{
	struct sgx_enclave_run run;
	struct vdso_record c = { 0 };

	assert_int_equal(ecall(e, tcs, SGX_EENTER, op, arg1, arg2, &c, &run), 0);
	assert_int_equal(run.function, SGX_EEXIT);
	assert_int_equal(c.exceptions, 0);
	assert_int_equal(c.exits, 1);
	assert_int_equal(c.status, TEST_ENCL_OK);
	return (uint64_t)c.value;
}

/* EENTER for an operation that must fail with @status. */
static void ecall_status(struct encl *e, unsigned int tcs, uint64_t op, uint64_t arg1,
			 uint64_t arg2, long status)
{
	struct sgx_enclave_run run;
	struct vdso_record c = { 0 };

	assert_int_equal(ecall(e, tcs, SGX_EENTER, op, arg1, arg2, &c, &run), 0);
	assert_int_equal(run.function, SGX_EEXIT);
	assert_int_equal(c.exits, 1);
	assert_int_equal(c.status, status);
}

/* ENCLU[EGETKEY] inside @e for @req. */
static void egetkey(struct encl *e, unsigned int tcs, const struct sgx_keyrequest *req,
		    uint8_t key[16])
{
	memset(key, 0, 16);
	assert_int_equal(ecall_ok(e, tcs, TEST_ENCL_OP_EGETKEY, (uintptr_t)req, (uintptr_t)key), 0);
}

static void seal_key(struct encl *e, unsigned int tcs, uint16_t policy, uint8_t key[16])
{
	struct sgx_keyrequest req;

	memset(&req, 0, sizeof(req));
	req.keyname = SGX_KEYNAME_SEAL;
	req.keypolicy = policy;
	req.attribute_mask = SGX_ATTR_INIT | SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	req.xfrm_mask = 0;
	req.misc_mask = 0xFFFFFFFF;
	egetkey(e, tcs, &req, key);
}

/* ENCLU[EREPORT] inside @e for @ti and @data. */
static void ereport(struct encl *e, const struct sgx_targetinfo *ti, const uint8_t data[64],
		    struct sgx_report *report)
{
	struct test_encl_report_args args;

	memset(&args, 0, sizeof(args));
	if (ti)
		memcpy(args.targetinfo, ti, sizeof(args.targetinfo));
	if (data)
		memcpy(args.report_data, data, sizeof(args.report_data));
	assert_int_equal(ecall_ok(e, 0, TEST_ENCL_OP_EREPORT, (uintptr_t)&args, 0), 0);
	memcpy(report, args.report, sizeof(*report));
}

/* The TARGETINFO naming @e, from a REPORT @e makes of itself. */
static void targetinfo_of(struct encl *e, struct sgx_targetinfo *ti)
{
	struct sgx_report self;

	ereport(e, NULL, NULL, &self);
	memset(ti, 0, sizeof(*ti));
	memcpy(ti->mrenclave, self.body.mrenclave, sizeof(ti->mrenclave));
	ti->attributes = self.body.attributes;
	ti->xfrm = self.body.xfrm;
	ti->miscselect = self.body.miscselect;
	ti->config_svn = self.body.config_svn;
	memcpy(ti->config_id, self.body.config_id, sizeof(ti->config_id));
}

/* Whether @page's PTE is present: the reclaimer zaps it when it evicts the page. */
static int resident(const void *page)
{
	unsigned char vec = 0;

	assert_int_equal(mincore((void *)(uintptr_t)page, PAGE, &vec), 0);
	return vec & 1;
}

static uint64_t page_up(uint64_t addr)
{
	return (addr + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

/* ------------------------------------------------------------------------ */
/* 1. Build, EINIT, enter.                                                   */

static void test_build_and_enter_vdso(void **state)
{
	struct encl e;
	uint64_t magic0, magic1;

	(void)state;
	encl_build(&e, &image, sig_image);
	/* Both TCSs, each on its own stack; the enclave's data is shared. */
	assert_int_equal(ecall_ok(&e, 0, TEST_ENCL_OP_NOP, 0, 0), 0);
	assert_int_equal(ecall_ok(&e, 1, TEST_ENCL_OP_NOP, 0, 0), 0);
	magic0 = ecall_ok(&e, 0, TEST_ENCL_OP_MAGIC, 0, 0);
	magic1 = ecall_ok(&e, 1, TEST_ENCL_OP_MAGIC, 0, 0);
	assert_int_equal(magic0, magic1);
	assert_true(magic0 >= e.h.base && magic0 + 8 <= e.h.base + e.h.size);
	assert_int_equal(ecall_ok(&e, 1, TEST_ENCL_OP_READ_U64, magic0, 0), TEST_ENCL_MAGIC);
	ecall_status(&e, 0, 99, 0, 0, TEST_ENCL_BAD_OP);
	/* Written through TCS 0, read through TCS 1. */
	assert_int_equal(ecall_ok(&e, 0, TEST_ENCL_OP_WRITE_U64, magic0, 0x0123456789ABCDEF), 0);
	assert_int_equal(ecall_ok(&e, 1, TEST_ENCL_OP_READ_U64, magic0, 0), 0x0123456789ABCDEF);
	encl_unload(&e);
}

static void check_raw_exit(const struct raw_exit *x, uint64_t status, uint64_t value)
{
	assert_int_equal(x->rdi, status);
	assert_int_equal(x->rsi, value);
	assert_int_equal(x->rax, SGX_EEXIT);
	assert_int_equal(x->rbx, (uintptr_t)raw_enclu_exit);
	assert_int_equal(x->rcx, (uintptr_t)raw_enclu_aep);
	assert_int_equal(x->rdx, 0);
	assert_int_equal(x->r8, 0);
	assert_int_equal(x->r9, 0);
	assert_int_equal(x->r10, 0);
	assert_int_equal(x->r11, 0);
	assert_int_equal(x->r12, RAW_R12);
	assert_int_equal(x->r13, RAW_R13);
	assert_int_equal(x->r14, RAW_R14);
	assert_int_equal(x->r15, RAW_R15);
}

static void test_build_and_enter_raw_enclu(void **state)
{
	struct raw_exit x;
	struct encl e;
	uint64_t magic = 0;

	(void)state;
	encl_build(&e, &image, sig_image);
	for (unsigned int tcs = 0; tcs < TEST_ENCL_NR_TCS; tcs++) {
		memset(&x, 0xEE, sizeof(x));
		raw_eenter(encl_tcs(&e, tcs), TEST_ENCL_OP_MAGIC, 0, 0, &x);
		magic = x.rsi;
		check_raw_exit(&x, TEST_ENCL_OK, magic);
		assert_true(magic >= e.h.base && magic + 8 <= e.h.base + e.h.size);

		memset(&x, 0xEE, sizeof(x));
		raw_eenter(encl_tcs(&e, tcs), TEST_ENCL_OP_READ_U64, magic, 0, &x);
		check_raw_exit(&x, TEST_ENCL_OK, TEST_ENCL_MAGIC);

		/* A host address where an enclave address belongs. */
		memset(&x, 0xEE, sizeof(x));
		raw_eenter(encl_tcs(&e, tcs), TEST_ENCL_OP_READ_U64, (uintptr_t)&x, 0, &x);
		check_raw_exit(&x, TEST_ENCL_BAD_ARG, 0);
	}
	/* The vDSO and raw ENCLU mix on one enclave. */
	assert_int_equal(ecall_ok(&e, 0, TEST_ENCL_OP_READ_U64, magic, 0), TEST_ENCL_MAGIC);
	encl_unload(&e);
}

/* ------------------------------------------------------------------------ */
/* 2. A buffer round trip.                                                  */

static void test_buffer_round_trip(void **state)
{
	uint8_t *in = malloc(TEST_ENCL_BUFFER_SIZE), *out = malloc(TEST_ENCL_BUFFER_SIZE);
	static const uint64_t offsets[] = { 0, 8, 4096, TEST_ENCL_BUFFER_SIZE - 8 };
	struct encl e;
	uint64_t buf, v;

	(void)state;
	assert_non_null(in);
	assert_non_null(out);
	for (size_t i = 0; i < TEST_ENCL_BUFFER_SIZE; i++)
		in[i] = (uint8_t)(i * 131 + 7);
	encl_build(&e, &image, sig_image);
	buf = ecall_ok(&e, 0, TEST_ENCL_OP_BUFFER, 0, 0);
	assert_true(buf >= e.h.base && buf + TEST_ENCL_BUFFER_SIZE <= e.h.base + e.h.size);

	assert_int_equal(ecall_ok(&e, 0, TEST_ENCL_OP_COPY_IN, (uintptr_t)in,
				  TEST_ENCL_BUFFER_SIZE),
			 0);
	/* The enclave reads what came in, then changes four words of it. */
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		memcpy(&v, in + offsets[i], 8);
		assert_int_equal(ecall_ok(&e, 1, TEST_ENCL_OP_READ_U64, buf + offsets[i], 0), v);
		v = 0xC0FFEE0000000000ULL | offsets[i];
		assert_int_equal(ecall_ok(&e, 1, TEST_ENCL_OP_WRITE_U64, buf + offsets[i], v), 0);
		memcpy(in + offsets[i], &v, 8);
	}
	memset(out, 0, TEST_ENCL_BUFFER_SIZE);
	assert_int_equal(ecall_ok(&e, 0, TEST_ENCL_OP_COPY_OUT, (uintptr_t)out,
				  TEST_ENCL_BUFFER_SIZE),
			 0);
	assert_memory_equal(out, in, TEST_ENCL_BUFFER_SIZE);

	/* A short copy out changes only what it covers. */
	memset(out, 0xAA, TEST_ENCL_BUFFER_SIZE);
	assert_int_equal(ecall_ok(&e, 0, TEST_ENCL_OP_COPY_OUT, (uintptr_t)out, 100), 0);
	assert_memory_equal(out, in, 100);
	assert_int_equal(out[100], 0xAA);

	/* Too long, or a "host" buffer inside the enclave: refused, nothing copied. */
	ecall_status(&e, 0, TEST_ENCL_OP_COPY_IN, (uintptr_t)in, TEST_ENCL_BUFFER_SIZE + 1,
		     TEST_ENCL_BAD_ARG);
	ecall_status(&e, 0, TEST_ENCL_OP_COPY_OUT, buf, 64, TEST_ENCL_BAD_ARG);
	ecall_status(&e, 0, TEST_ENCL_OP_COPY_IN, e.h.base - 32, 64, TEST_ENCL_BAD_ARG);
	assert_int_equal(ecall_ok(&e, 0, TEST_ENCL_OP_READ_U64, buf, 0), 0xC0FFEE0000000000ULL);
	encl_unload(&e);
	free(in);
	free(out);
}

/* ------------------------------------------------------------------------ */
/* 3. Exceptions: reported, ERESUME, exception entry, a #PF the host fixes. */

static void test_ud2_reported_eresume_exception_entry(void **state)
{
	struct sgx_enclave_run run;
	struct answer ans = { 0 };
	struct vdso_record c = { .on_exception = answer_exception, .ctx = &ans };
	struct encl e;

	(void)state;
	encl_build(&e, &image, sig_image);
	assert_int_equal(ecall(&e, 0, SGX_EENTER, TEST_ENCL_OP_UD2, 0, 0, &c, &run), 0);
	assert_int_equal(run.function, SGX_ERESUME);
	assert_int_equal(run.exception_vector, X86_TRAP_UD);
	assert_int_equal(run.exception_error_code, 0);
	assert_int_equal(run.exception_addr, 0);
	assert_int_equal(c.exceptions, 1);
	assert_int_equal(c.exits, 0);
	assert_int_equal(c.vector, X86_TRAP_UD);

	/*
	 * The user handler answers ERESUME: ud2 runs again and faults again.
	 * (An AEX restores the RSP and RBP that EENTER saved and ERESUME does
	 * not update, so the resuming vDSO call must be the entering one.)
	 */
	ans.resume = 1;
	assert_int_equal(ecall(&e, 1, SGX_EENTER, TEST_ENCL_OP_UD2, 0, 0, &c, &run), 0);
	assert_int_equal(run.function, SGX_ERESUME);
	assert_int_equal(run.exception_vector, X86_TRAP_UD);
	assert_int_equal(c.exceptions, 2);
	assert_int_equal(ans.resume, 0);
	assert_int_equal(c.exits, 0);
	ans.resume = 0;

	/* CSSA is 1: EENTER is the enclave's exception entry, which reports EXITINFO. */
	assert_int_equal(ecall(&e, 0, SGX_EENTER, TEST_ENCL_OP_NOP, 0, 0, &c, &run), 0);
	assert_int_equal(run.function, SGX_EEXIT);
	assert_int_equal(c.exceptions, 0);
	assert_int_equal(c.exits, 1);
	assert_int_equal(c.status, TEST_ENCL_EXCEPTION_ENTRY);
	assert_int_equal(c.value, EXITINFO_HW(X86_TRAP_UD));
	assert_int_equal(c.value, 0x80000306);

	/* TCS 1 went through ERESUME: back at CSSA 1 after the second #UD. */
	assert_int_equal(ecall(&e, 1, SGX_EENTER, TEST_ENCL_OP_NOP, 0, 0, &c, &run), 0);
	assert_int_equal(c.exits, 1);
	assert_int_equal(c.status, TEST_ENCL_EXCEPTION_ENTRY);
	assert_int_equal(c.value, 0x80000306);
	encl_unload(&e);
}

static void test_div_zero_reported_exception_entry(void **state)
{
	struct sgx_enclave_run run;
	struct vdso_record c = { 0 };
	struct encl e;

	(void)state;
	encl_build(&e, &image, sig_image);
	assert_int_equal(ecall(&e, 1, SGX_EENTER, TEST_ENCL_OP_DIV_ZERO, 0, 0, &c, &run), 0);
	assert_int_equal(run.function, SGX_ERESUME);
	assert_int_equal(run.exception_vector, X86_TRAP_DE);
	assert_int_equal(run.exception_error_code, 0);
	assert_int_equal(run.exception_addr, 0);
	assert_int_equal(c.exceptions, 1);
	assert_int_equal(c.exits, 0);

	assert_int_equal(ecall(&e, 1, SGX_EENTER, TEST_ENCL_OP_NOP, 0, 0, &c, &run), 0);
	assert_int_equal(run.function, SGX_EEXIT);
	assert_int_equal(c.exits, 1);
	assert_int_equal(c.status, TEST_ENCL_EXCEPTION_ENTRY);
	assert_int_equal(c.value, EXITINFO_HW(X86_TRAP_DE));

	assert_int_equal(ecall_ok(&e, 0, TEST_ENCL_OP_NOP, 0, 0), 0);
	encl_unload(&e);
}

static void test_page_fault_resolved_by_host(void **state)
{
	const uint64_t value = 0x5EA1ED0FF1CE5EA1ULL;
	struct sgx_enclave_run run;
	struct answer ans = { 0 };
	struct vdso_record c = { .on_exception = answer_exception, .ctx = &ans };
	struct encl e;
	uint64_t page;

	(void)state;
	encl_build(&e, &image, sig_image);
	/* A whole page inside the enclave's 8 KiB buffer. */
	page = page_up(ecall_ok(&e, 0, TEST_ENCL_OP_BUFFER, 0, 0));
	assert_int_equal(ecall_ok(&e, 0, TEST_ENCL_OP_WRITE_U64, page, value), 0);

	/* The host takes the page away; the enclave's read of it faults. */
	assert_int_equal(mprotect((void *)(uintptr_t)page, PAGE, PROT_NONE), 0);
	ans.restore = (void *)(uintptr_t)page;
	assert_int_equal(ecall(&e, 0, SGX_EENTER, TEST_ENCL_OP_READ_U64, page, 0, &c, &run), 0);
	/* The handler saw the #PF, gave the page back and resumed the read. */
	assert_int_equal(c.exceptions, 1);
	assert_int_equal(c.vector, X86_TRAP_PF);
	assert_int_equal(c.addr, page);
	assert_int_equal(c.error_code, X86_PF_USER); /* a read of a page not present */
	assert_int_equal(c.exits, 1);
	assert_int_equal(c.status, TEST_ENCL_OK);
	assert_int_equal(c.value, value);
	assert_int_equal(run.function, SGX_EEXIT);

	/* ERESUME brought CSSA back to 0: EENTER is an ordinary call again. */
	assert_int_equal(ecall_ok(&e, 0, TEST_ENCL_OP_READ_U64, page, 0), value);
	encl_unload(&e);
}

/* ------------------------------------------------------------------------ */
/* 4. Pages evicted by the reclaimer, touched again from inside.            */

static void test_evicted_pages_touched_inside(void **state)
{
	const uint64_t value = 0xE71C7EDBACC0FFEEULL;
	uint8_t *pattern = malloc(TEST_ENCL_BUFFER_SIZE), *back = malloc(TEST_ENCL_BUFFER_SIZE);
	struct encl a, other[NR_PRESSURE];
	uint64_t buf, page, magic;

	(void)state;
	assert_non_null(pattern);
	assert_non_null(back);
	for (size_t i = 0; i < TEST_ENCL_BUFFER_SIZE; i++)
		pattern[i] = (uint8_t)(i ^ (i >> 8) ^ 0x5C);
	encl_build(&a, &image, sig_image);
	buf = ecall_ok(&a, 0, TEST_ENCL_OP_BUFFER, 0, 0);
	page = page_up(buf);
	magic = ecall_ok(&a, 0, TEST_ENCL_OP_MAGIC, 0, 0);
	assert_int_equal(ecall_ok(&a, 0, TEST_ENCL_OP_COPY_IN, (uintptr_t)pattern,
				  TEST_ENCL_BUFFER_SIZE),
			 0);
	assert_int_equal(ecall_ok(&a, 0, TEST_ENCL_OP_WRITE_U64, page, value), 0);
	memcpy(pattern + (page - buf), &value, 8);
	assert_int_equal(resident((void *)(uintptr_t)page), 1);

	/* More enclaves than the EPC holds, each touched after the first. */
	for (unsigned int i = 0; i < NR_PRESSURE; i++) {
		encl_build(&other[i], &image, sig_image);
		assert_int_equal(ecall_ok(&other[i], i % 2, TEST_ENCL_OP_WRITE_U64, magic - a.h.base +
						  other[i].h.base, i),
				 0);
	}
	/* The first enclave's page went out: its PTE is gone. */
	assert_int_equal(resident((void *)(uintptr_t)page), 0);

	/* From inside (TCS, code, stack, data come back as it touches them). */
	assert_int_equal(ecall_ok(&a, 1, TEST_ENCL_OP_READ_U64, page, 0), value);
	assert_int_equal(resident((void *)(uintptr_t)page), 1);
	assert_int_equal(ecall_ok(&a, 0, TEST_ENCL_OP_READ_U64, magic, 0), TEST_ENCL_MAGIC);
	memset(back, 0, TEST_ENCL_BUFFER_SIZE);
	assert_int_equal(ecall_ok(&a, 0, TEST_ENCL_OP_COPY_OUT, (uintptr_t)back,
				  TEST_ENCL_BUFFER_SIZE),
			 0);
	assert_memory_equal(back, pattern, TEST_ENCL_BUFFER_SIZE);

	/* The others kept their own data through the same churn. */
	for (unsigned int i = 0; i < NR_PRESSURE; i++) {
		assert_int_equal(ecall_ok(&other[i], 0, TEST_ENCL_OP_READ_U64,
					  magic - a.h.base + other[i].h.base, 0),
				 i);
		encl_unload(&other[i]);
	}
	encl_unload(&a);
	free(pattern);
	free(back);
}

/* ------------------------------------------------------------------------ */
/* 5. Sealing keys.                                                         */

static void test_seal_key_policies(void **state)
{
	uint8_t k0[16], k1[16], k2[16], zero[16] = { 0 };
	uint8_t signer[16], signer_v[16], enclave_v[16], signer_2[16], enclave_2[16];
	uint8_t mr[SGX_HASH_SIZE], mr_v[SGX_HASH_SIZE];
	struct encl a, v, b;

	(void)state;
	enclave_image_mrenclave(&image, mr);
	enclave_image_mrenclave(&variant, mr_v);
	assert_memory_not_equal(mr, mr_v, SGX_HASH_SIZE);
	assert_memory_not_equal(mrsigner1, mrsigner2, SGX_HASH_SIZE);

	encl_build(&a, &image, sig_image);
	/* The same request twice, and through the other TCS: one key. */
	seal_key(&a, 0, SGX_KEYPOLICY_MRENCLAVE, k0);
	seal_key(&a, 0, SGX_KEYPOLICY_MRENCLAVE, k1);
	seal_key(&a, 1, SGX_KEYPOLICY_MRENCLAVE, k2);
	assert_memory_not_equal(k0, zero, 16);
	assert_memory_equal(k0, k1, 16);
	assert_memory_equal(k0, k2, 16);
	seal_key(&a, 0, SGX_KEYPOLICY_MRSIGNER, signer);
	assert_memory_not_equal(signer, k0, 16);

	/* Another MRENCLAVE, the same signer. */
	encl_build(&v, &variant, sig_variant);
	seal_key(&v, 0, SGX_KEYPOLICY_MRENCLAVE, enclave_v);
	seal_key(&v, 0, SGX_KEYPOLICY_MRSIGNER, signer_v);
	assert_memory_not_equal(enclave_v, k0, 16);
	assert_memory_equal(signer_v, signer, 16);

	/* The same MRENCLAVE, another signer. */
	encl_build(&b, &image, sig_image2);
	seal_key(&b, 0, SGX_KEYPOLICY_MRENCLAVE, enclave_2);
	seal_key(&b, 0, SGX_KEYPOLICY_MRSIGNER, signer_2);
	assert_memory_equal(enclave_2, k0, 16);
	assert_memory_not_equal(signer_2, signer, 16);

	encl_unload(&b);
	encl_unload(&v);
	encl_unload(&a);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void read_file(const char *path, void *data, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/*
 * The second execution: `softsgx run` again, a new platform booted from the
 * same state directory, this program with SEAL_PROBE_ENV=@file. It gets its
 * own environment without LD_PRELOAD: `softsgx run` sets that itself.
 */
static int run_probe(const char *file)
{
	const char *bin = getenv("SOFTSGX_BIN");
	char self[PATH_MAX], probe_env[PATH_MAX + 64];
	char *args[16], **envp;
	posix_spawnattr_t attr;
	sigset_t none;
	size_t n = 0, nenv = 0;
	ssize_t len;
	pid_t pid;
	int status = -1;

	assert_non_null(bin);
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(len > 0);
	self[len] = '\0';
	args[n++] = (char *)bin;
	args[n++] = (char *)"run";
	for (const char *const *o = run_opts; *o; o++)
		args[n++] = (char *)*o;
	args[n++] = (char *)"--";
	args[n++] = self;
	args[n] = NULL;

	while (environ[nenv])
		nenv++;
	envp = calloc(nenv + 2, sizeof(*envp));
	assert_non_null(envp);
	n = 0;
	for (size_t i = 0; i < nenv; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) &&
		    strncmp(environ[i], SEAL_PROBE_ENV "=", sizeof(SEAL_PROBE_ENV)))
			envp[n++] = environ[i];
	snprintf(probe_env, sizeof(probe_env), "%s=%s", SEAL_PROBE_ENV, file);
	envp[n++] = probe_env;
	envp[n] = NULL;

	assert_int_equal(posix_spawnattr_init(&attr), 0);
	sigemptyset(&none);
	assert_int_equal(posix_spawnattr_setsigmask(&attr, &none), 0);
	assert_int_equal(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK), 0);
	fflush(NULL);
	assert_int_equal(posix_spawn(&pid, bin, NULL, &attr, args, envp), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	posix_spawnattr_destroy(&attr);
	free(envp);
	return status;
}

/* The probe's side: the key of this run into @file.2; 0 when it equals @file's. */
static int seal_probe(const char *file)
{
	uint8_t before[16], now[16];
	char path[PATH_MAX];
	struct encl e;

	read_file(file, before, sizeof(before));
	encl_build(&e, &image, sig_image);
	seal_key(&e, 0, SGX_KEYPOLICY_MRENCLAVE, now);
	encl_unload(&e);
	snprintf(path, sizeof(path), "%s.2", file);
	write_file(path, now, sizeof(now));
	return memcmp(before, now, sizeof(now)) ? 3 : 0;
}

static void test_seal_key_survives_restart(void **state)
{
	const char *dir = getenv("SOFTSGX_STATE_DIR");
	char file[PATH_MAX], file2[PATH_MAX + 2];
	uint8_t first[16], second[16];
	struct encl e;
	int status;

	(void)state;
	assert_non_null(dir);
	snprintf(file, sizeof(file), "%s/host-program-seal-key.%ld", dir, (long)getpid());
	snprintf(file2, sizeof(file2), "%s.2", file);
	unlink(file);
	unlink(file2);

	encl_build(&e, &image, sig_image);
	seal_key(&e, 0, SGX_KEYPOLICY_MRENCLAVE, first);
	encl_unload(&e);
	write_file(file, first, sizeof(first));

	status = run_probe(file);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	read_file(file2, second, sizeof(second));
	assert_memory_equal(first, second, sizeof(first));
	assert_int_equal(unlink(file), 0);
	assert_int_equal(unlink(file2), 0);
}

/* ------------------------------------------------------------------------ */
/* 6. EREPORT, verified with the target enclave's REPORT key.               */

static void test_report_verified_by_target(void **state)
{
	struct sgx_targetinfo ti_b;
	struct sgx_report self_b, report;
	struct sgx_keyrequest req;
	uint8_t data[64], key_b[16], key_a[16], mac[16];
	uint8_t mr_a[SGX_HASH_SIZE], mr_b[SGX_HASH_SIZE];
	struct encl a, b;

	(void)state;
	enclave_image_mrenclave(&image, mr_a);
	enclave_image_mrenclave(&variant, mr_b);
	encl_build(&a, &image, sig_image);
	encl_build(&b, &variant, sig_variant);

	/* B's identity, as B reports it. */
	ereport(&b, NULL, NULL, &self_b);
	assert_memory_equal(self_b.body.mrenclave, mr_b, SGX_HASH_SIZE);
	assert_memory_equal(self_b.body.mrsigner, mrsigner1, SGX_HASH_SIZE);
	assert_int_equal(self_b.body.attributes, ENCLAVE_IMAGE_ATTRIBUTES | SGX_ATTR_INIT);
	assert_int_equal(self_b.body.xfrm, ENCLAVE_IMAGE_XFRM);
	assert_int_equal(self_b.body.miscselect, ENCLAVE_IMAGE_MISCSELECT);
	targetinfo_of(&b, &ti_b);

	/* A reports to B. */
	for (unsigned int i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xA0 + i);
	ereport(&a, &ti_b, data, &report);
	assert_memory_equal(report.body.mrenclave, mr_a, SGX_HASH_SIZE);
	assert_memory_equal(report.body.mrsigner, mrsigner1, SGX_HASH_SIZE);
	assert_int_equal(report.body.attributes, ENCLAVE_IMAGE_ATTRIBUTES | SGX_ATTR_INIT);
	assert_memory_equal(report.body.report_data, data, sizeof(data));

	/* B's REPORT key for the report's KEYID verifies the MAC over the body. */
	memset(&req, 0, sizeof(req));
	req.keyname = SGX_KEYNAME_REPORT;
	memcpy(req.keyid, report.keyid, sizeof(req.keyid));
	egetkey(&b, 1, &req, key_b);
	test_cmac(key_b, &report.body, sizeof(report.body), mac);
	assert_int_equal(sizeof(report.body), 384);
	assert_memory_equal(mac, report.mac, 16);

	/* One bit of REPORTDATA changed: the MAC no longer verifies. */
	report.body.report_data[17] ^= 0x01;
	test_cmac(key_b, &report.body, sizeof(report.body), mac);
	assert_memory_not_equal(mac, report.mac, 16);
	report.body.report_data[17] ^= 0x01;

	/* The report was for B: A's own REPORT key does not verify it. */
	egetkey(&a, 1, &req, key_a);
	assert_memory_not_equal(key_a, key_b, 16);
	test_cmac(key_a, &report.body, sizeof(report.body), mac);
	assert_memory_not_equal(mac, report.mac, 16);

	encl_unload(&b);
	encl_unload(&a);
}

/* ------------------------------------------------------------------------ */

/* The test enclave, a variant with another MRENCLAVE, and their signatures. */
static int prepare(void)
{
	bool changed = false;

	if (test_image_load("SOFTSGX_TEST_ENCLAVE", &image) ||
	    test_image_load("SOFTSGX_TEST_ENCLAVE", &variant))
		return -1;
	/* The bottom of TCS 0's stack, which the enclave never reaches. */
	for (size_t i = 0; i < variant.nr_pages; i++) {
		if (variant.pages[i].offset == variant.layout.stack_offset) {
			variant.pages[i].contents[0] ^= 0x5A;
			changed = true;
		}
	}
	if (!changed) {
		fprintf(stderr, "the test enclave has no stack page\n");
		return -1;
	}
	if (test_image_sign_with("SOFTSGX_TEST_KEY", &image, &sig_image, mrsigner1) ||
	    test_image_sign_with("SOFTSGX_TEST_KEY", &variant, &sig_variant, NULL) ||
	    test_image_sign_with("SOFTSGX_TEST_KEY2", &image, &sig_image2, mrsigner2))
		return -1;
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	return prepare();
}

static int group_teardown(void **state)
{
	(void)state;
	test_image_free(&image, &sig_image);
	test_image_free(&variant, &sig_variant);
	free(sig_image2);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_and_enter_vdso),
		cmocka_unit_test(test_build_and_enter_raw_enclu),
		cmocka_unit_test(test_buffer_round_trip),
		cmocka_unit_test(test_ud2_reported_eresume_exception_entry),
		cmocka_unit_test(test_div_zero_reported_exception_entry),
		cmocka_unit_test(test_page_fault_resolved_by_host),
		cmocka_unit_test(test_evicted_pages_touched_inside),
		cmocka_unit_test(test_seal_key_policies),
		cmocka_unit_test(test_seal_key_survives_restart),
		cmocka_unit_test(test_report_verified_by_target),
	};
	const char *probe;
	int ret;

	shim_test_reexec(argc, argv, run_opts);
	vdso_enter = vdso_find_enter();
	if (!vdso_enter)
		return 1;
	probe = getenv(SEAL_PROBE_ENV);
	if (probe) {
		if (prepare())
			return 1;
		ret = seal_probe(probe);
		group_teardown(NULL);
		return ret;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
