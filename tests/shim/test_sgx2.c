// SPDX-License-Identifier: MIT
/*
 * SGX2 end to end under `softsgx run` (the default platform has SGX2), with
 * the project's test enclave on a
 * small EPC so that the reclaimer runs, as Linux's selftests and the SDKs
 * use dynamic memory:
 *   - EDMM detected as loaders do (RESTRICT_PERMISSIONS with zeroed
 *     arguments fails with EINVAL, not ENOTTY or ENODEV);
 *   - a heap grown page by page: EACCEPT faults, the kernel EAUGs, EACCEPT
 *     succeeds on the retry; more pages than the EPC holds;
 *   - a write to a page not yet accepted: #PF with P|W|U|SGX (0x8007), as
 *     Linux reports it, then EACCEPT through the other TCS and ERESUME;
 *   - EACCEPTCOPY of initialized content;
 *   - a TCS made at run time (DYN_WRITE of its fields, MODIFY_TYPES to TCS,
 *     EACCEPT) and entered;
 *   - RESTRICT_PERMISSIONS + EACCEPT, a write refused (0x8007), EMODPE;
 *   - a page trimmed (MODIFY_TYPES TRIM), read (0x8005), REMOVE_PAGES
 *     refused before EACCEPT and done after, then added again (zeroed).
 * Each scenario runs on the main thread and on a freshly created one.
 *
 * ELRANGE is 1 MiB, the image 100 KiB: everything from 128 KiB up is
 * dynamic. The test enclave finds the stack of the TCS at offset T at
 * __encl_stack + (T / 4096 + 1) * stack size; the dynamic TCS gets that.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <asm/prctl.h>

#include <cmocka.h>

#include "tools/lib/enclave_image.h"
#include "tests/shim/new_thread.h"
#include "tests/shim/shim_test.h"
#include "tests/shim/test_image.h"
#include "tests/shim/vdso_call.h"
#include "tests/shim/vdso_record.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "tests/enclaves/test_enclave.h"

#define PAGE	SGX_PAGE_SIZE
#define TRAP_PF 14

#define ELRANGE	 0x100000ULL
#define DYN	 0x20000ULL /* first dynamic offset: the image ends below */
#define TCS_DYN	 DYN	    /* the run-time TCS, then its two SSA frames and FS page */
#define SSA_DYN	 (DYN + PAGE)
#define FS_DYN	 (DYN + 3 * PAGE)
#define COPY_SRC (DYN + 4 * PAGE)
#define COPY_DST (DYN + 5 * PAGE)
#define RESTRICT (DYN + 6 * PAGE)
#define TRIM	 (DYN + 7 * PAGE)
#define AUGMENT	 (DYN + 8 * PAGE)
#define TRACKED	 (DYN + 9 * PAGE)
#define HEAP	 0x98000ULL
#define HEAP_PAGES 96

#define PENDING_RW (SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_PENDING | SGX_SECINFO_REG)

static const char *const run_opts[] = {"--epc", "512K", "--sections", "1", NULL};
static vdso_sgx_enter_enclave_t vdso_enter;
static struct enclave_image image;
static struct sgx_sigstruct *sig;

struct encl;

/*
 * On the first exception of a call: @fix(@e), then ERESUME from the
 * handler, as a runtime's exception handler resumes (the enclave goes back
 * out through the frame it came in by).
 */
struct fix {
	void (*fix)(const struct encl *e);
	const struct encl *e;
};

static int fix_first(struct vdso_record *c)
{
	const struct fix *f = c->ctx;

	if (f && c->exceptions == 1) {
		f->fix(f->e);
		return SGX_ERESUME;
	}
	/* Otherwise the TCS stays interrupted (CSSA 1). */
	return 0;
}

static void enter(uint64_t tcs, unsigned int function, long op, long a, long b,
		  struct vdso_record *c)
{
	struct sgx_enclave_run run;

	vdso_record_start(c, &run, tcs);
	assert_int_equal(vdso_call((unsigned long)op, (unsigned long)a, (unsigned long)b, function,
				   &run, vdso_enter),
			 0);
}

/* An ecall that must end in EEXIT with TEST_ENCL_OK; returns its value. */
static long call_ok(uint64_t tcs, long op, long a, long b)
{
	struct vdso_record c = {0};

	enter(tcs, SGX_EENTER, op, a, b, &c);
	if (c.exceptions)
		fail_msg("op %ld at %#lx: exception %u, error code %#x at %#lx", op,
			 (unsigned long)a, c.vector, c.error_code, (unsigned long)c.addr);
	if (c.status != TEST_ENCL_OK)
		fail_msg("op %ld at %#lx: status %ld value %#lx", op, (unsigned long)a, c.status,
			 (unsigned long)c.value);
	return c.value;
}

/*
 * An ecall that must take one #PF with @code at @addr, which @fix resolves
 * before the handler resumes; the operation then completes: its value.
 */
static long call_pf(const struct encl *e, uint64_t tcs, long op, long a, long b, uint16_t code,
		    uint64_t addr, void (*fix)(const struct encl *e))
{
	struct fix f = { .fix = fix, .e = e };
	struct vdso_record c = { .on_exception = fix_first, .ctx = &f };

	enter(tcs, SGX_EENTER, op, a, b, &c);
	assert_int_equal(c.exceptions, 1);
	assert_int_equal(c.vector, TRAP_PF);
	if (c.error_code != code)
		fail_msg("error code %#x, Linux reports %#x", c.error_code, code);
	assert_int_equal(c.addr, addr);
	assert_int_equal(c.status, TEST_ENCL_OK);
	return c.value;
}

struct encl {
	struct enclave_handle h;
	uint64_t tcs0, tcs1;
};

static uint64_t at(const struct encl *e, uint64_t off)
{
	return e->h.base + off;
}

static void build(struct encl *e)
{
	void *dyn;
	int ret = enclave_build(&enclave_sys_native, &image, sig, &e->h);

	if (ret)
		fail_msg("enclave_build: %d: %s", ret, enclave_image_error());
	e->tcs0 = e->h.base + enclave_image_tcs_offset(&image, 0);
	e->tcs1 = e->h.base + enclave_image_tcs_offset(&image, 1);
	/* The dynamic part of ELRANGE, mapped as a runtime maps its heap: no pages yet. */
	dyn = mmap((void *)(uintptr_t)at(e, DYN), ELRANGE - DYN, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_FIXED, e->h.fd, 0);
	assert_ptr_equal(dyn, (void *)(uintptr_t)at(e, DYN));
}

static long ioctl_errno(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static void accept_page(const struct encl *e, uint64_t tcs, uint64_t off)
{
	assert_int_equal(call_ok(tcs, TEST_ENCL_OP_EACCEPT, (long)at(e, off), PENDING_RW), 0);
}

/* ---- Scenarios ---- */

static void detect_edmm(const struct encl *e)
{
	struct sgx_enclave_restrict_permissions rp;
	uint32_t eax = 0x12, ebx, ecx = 0, edx;

	/* CPUID.(12H,0):EAX[1], when the shim can answer CPUID (CPUID faulting). */
	if (syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0) == 0) {
		__asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
		assert_int_equal(eax & 3, 3);
	} else {
		fprintf(stderr, "no CPUID faulting here: leaf 0x12 not checked\n");
	}

	/* What loaders do: zeroed arguments, any errno but ENOTTY means EDMM is there. */
	memset(&rp, 0, sizeof(rp));
	assert_int_equal(ioctl_errno(e->h.fd, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, &rp),
			 -EINVAL);
}

static void heap_grow(const struct encl *e)
{
	/* Page by page, more than the EPC holds: EAUG'd pages are reclaimed too. */
	for (uint64_t i = 0; i < HEAP_PAGES; i++) {
		uint64_t a = at(e, HEAP + i * PAGE);

		accept_page(e, e->tcs0, HEAP + i * PAGE);
		call_ok(e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)(a + 8), (long)(0x5a5a0000 + i));
	}
	for (uint64_t i = 0; i < HEAP_PAGES; i++) {
		uint64_t a = at(e, HEAP + i * PAGE);

		assert_int_equal(call_ok(e->tcs1, TEST_ENCL_OP_DYN_READ, (long)(a + 8), 0),
				 0x5a5a0000 + i);
		assert_int_equal(call_ok(e->tcs1, TEST_ENCL_OP_DYN_READ, (long)a, 0), 0);
	}
	/* Accepting again: the page is no longer PENDING (SGX_PAGE_ATTRIBUTES_MISMATCH). */
	{
		struct vdso_record c = {0};

		enter(e->tcs0, SGX_EENTER, TEST_ENCL_OP_EACCEPT, (long)at(e, HEAP), PENDING_RW, &c);
		assert_int_equal(c.status, TEST_ENCL_SGX_ERROR);
		assert_int_equal(c.value, SGX_PAGE_ATTRIBUTES_MISMATCH);
	}
}

static void fix_augment(const struct encl *e)
{
	accept_page(e, e->tcs1, AUGMENT);
}

static void augment_by_write(const struct encl *e)
{
	uint64_t a = at(e, AUGMENT);

	/*
	 * The first fault EAUGs the page; the write cannot complete before
	 * EACCEPT, so the second #PF has the SGX bit (Linux's selftest
	 * "augment"): P | W | U | SGX. The other TCS accepts it meanwhile.
	 */
	call_pf(e, e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)a, 0x1234, 0x8007, a, fix_augment);
	assert_int_equal(call_ok(e->tcs1, TEST_ENCL_OP_DYN_READ, (long)a, 0), 0x1234);
}

static void accept_copy(const struct encl *e)
{
	uint64_t src = at(e, COPY_SRC), dst = at(e, COPY_DST);

	accept_page(e, e->tcs0, COPY_SRC);
	call_ok(e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)src, 0x1111);
	call_ok(e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)(src + PAGE - 8), 0x2222);
	/* The destination was never touched: EACCEPTCOPY's fault EAUGs it. */
	assert_int_equal(call_ok(e->tcs0, TEST_ENCL_OP_EACCEPTCOPY, (long)dst,
				 (long)(src | SGX_SECINFO_R | SGX_SECINFO_W)),
			 0);
	assert_int_equal(call_ok(e->tcs1, TEST_ENCL_OP_DYN_READ, (long)dst, 0), 0x1111);
	assert_int_equal(call_ok(e->tcs1, TEST_ENCL_OP_DYN_READ, (long)(dst + PAGE - 8), 0),
			 0x2222);
	call_ok(e->tcs1, TEST_ENCL_OP_DYN_WRITE, (long)dst, 0x3333);
	assert_int_equal(call_ok(e->tcs1, TEST_ENCL_OP_DYN_READ, (long)src, 0), 0x1111);
}

static void tcs_at_run_time(const struct encl *e)
{
	const uint64_t stack_top = 0x11000 + (TCS_DYN / PAGE + 1) * TEST_ENCL_STACK_SIZE;
	struct sgx_enclave_modify_types mt = { TCS_DYN, PAGE, SGX_PAGE_TYPE_TCS, 0, 0 };
	uint64_t t = at(e, TCS_DYN);

	/* The TCS page, its NSSA frames, its FS/GS page and its stack. */
	for (uint64_t off = TCS_DYN; off <= FS_DYN; off += PAGE)
		accept_page(e, e->tcs0, off);
	accept_page(e, e->tcs0, stack_top - PAGE);
	accept_page(e, e->tcs0, stack_top - 2 * PAGE);
	call_ok(e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)(t + offsetof(struct sgx_tcs, ssa_offset)),
		SSA_DYN);
	call_ok(e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)(t + offsetof(struct sgx_tcs, ssa_index)),
		(long)((uint64_t)TEST_ENCL_NSSA << 32));
	call_ok(e->tcs0, TEST_ENCL_OP_DYN_WRITE,
		(long)(t + offsetof(struct sgx_tcs, entry_offset)), (long)image.entry);
	call_ok(e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)(t + offsetof(struct sgx_tcs, fs_offset)),
		FS_DYN);
	call_ok(e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)(t + offsetof(struct sgx_tcs, gs_offset)),
		FS_DYN);
	call_ok(e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)(t + offsetof(struct sgx_tcs, fs_limit)),
		(long)0x00000FFF00000FFFULL);

	assert_int_equal(ioctl_errno(e->h.fd, SGX_IOC_ENCLAVE_MODIFY_TYPES, &mt), 0);
	assert_int_equal(mt.count, PAGE);
	assert_int_equal(mt.result, 0);
	/* Not a TCS for EENTER before the enclave accepts it. */
	{
		struct vdso_record c = {0};

		enter(t, SGX_EENTER, TEST_ENCL_OP_NOP, 0, 0, &c);
		assert_int_equal(c.exceptions, 1);
		assert_int_equal(c.vector, TRAP_PF);
		assert_int_equal(c.error_code & 0x8000, 0x8000);
	}
	assert_int_equal(call_ok(e->tcs0, TEST_ENCL_OP_EACCEPT, (long)t,
				 SGX_SECINFO_MODIFIED | SGX_SECINFO_TCS),
			 0);
	/* Entered through it: its own stack, the enclave's code. */
	call_ok(t, TEST_ENCL_OP_NOP, 0, 0);
	call_ok(t, TEST_ENCL_OP_DYN_WRITE, (long)at(e, FS_DYN), 0x7c5);
	assert_int_equal(call_ok(e->tcs1, TEST_ENCL_OP_DYN_READ, (long)at(e, FS_DYN), 0), 0x7c5);
	/* mprotect cannot make a TCS executable: its kernel permissions are RW now. */
	assert_int_equal(mprotect((void *)(uintptr_t)t, PAGE, PROT_READ | PROT_EXEC), -1);
	assert_int_equal(errno, EACCES);
}

static void fix_restrict(const struct encl *e)
{
	/* The enclave extends its permissions itself. */
	call_ok(e->tcs1, TEST_ENCL_OP_EMODPE, (long)at(e, RESTRICT), SGX_SECINFO_R | SGX_SECINFO_W);
}

static void restrict_then_extend(const struct encl *e)
{
	struct sgx_enclave_restrict_permissions rp = { RESTRICT, PAGE, SGX_SECINFO_R, 0, 0 };
	uint64_t a = at(e, RESTRICT);

	accept_page(e, e->tcs0, RESTRICT);
	call_ok(e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)a, 1);
	assert_int_equal(ioctl_errno(e->h.fd, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, &rp), 0);
	assert_int_equal(rp.count, PAGE);
	assert_int_equal(rp.result, 0);
	assert_int_equal(call_ok(e->tcs0, TEST_ENCL_OP_EACCEPT, (long)a,
				 SGX_SECINFO_R | SGX_SECINFO_PR | SGX_SECINFO_REG),
			 0);
	/* Readable, not writable: the EPCM refuses the write, P | W | U | SGX; EMODPE. */
	assert_int_equal(call_ok(e->tcs1, TEST_ENCL_OP_DYN_READ, (long)a, 0), 1);
	call_pf(e, e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)a, 2, 0x8007, a, fix_restrict);
	assert_int_equal(call_ok(e->tcs1, TEST_ENCL_OP_DYN_READ, (long)a, 0), 2);
}

static void fix_trim(const struct encl *e)
{
	struct sgx_enclave_remove_pages rm = { TRIM, PAGE, 0 };
	uint64_t a = at(e, TRIM);

	assert_int_equal(call_ok(e->tcs1, TEST_ENCL_OP_EACCEPT, (long)a,
				 SGX_SECINFO_MODIFIED | SGX_SECINFO_TRIM),
			 0);
	assert_int_equal(ioctl_errno(e->h.fd, SGX_IOC_ENCLAVE_REMOVE_PAGES, &rm), 0);
	assert_int_equal(rm.count, PAGE);
	/* Gone; the next EACCEPT's fault adds a fresh, zeroed page. */
	accept_page(e, e->tcs1, TRIM);
	assert_int_equal(call_ok(e->tcs1, TEST_ENCL_OP_DYN_READ, (long)a, 0), 0);
	call_ok(e->tcs1, TEST_ENCL_OP_DYN_WRITE, (long)a, 0x99);
}

static void trim_and_add_again(const struct encl *e)
{
	struct sgx_enclave_modify_types mt = { TRIM, PAGE, SGX_PAGE_TYPE_TRIM, 0, 0 };
	struct sgx_enclave_remove_pages rm = { TRIM, PAGE, 0 };
	uint64_t a = at(e, TRIM);

	accept_page(e, e->tcs0, TRIM);
	call_ok(e->tcs0, TEST_ENCL_OP_DYN_WRITE, (long)a, 0x77);
	assert_int_equal(ioctl_errno(e->h.fd, SGX_IOC_ENCLAVE_MODIFY_TYPES, &mt), 0);
	assert_int_equal(mt.count, PAGE);
	/* Not accepted yet: the kernel keeps it. */
	assert_int_equal(ioctl_errno(e->h.fd, SGX_IOC_ENCLAVE_REMOVE_PAGES, &rm), -EPERM);
	assert_int_equal(rm.count, 0);
	/*
	 * Trimmed: a read is refused by the EPCM, P | U | SGX. The handler
	 * has the page accepted, removed and added again; the read then
	 * completes on the new page.
	 */
	assert_int_equal(call_pf(e, e->tcs0, TEST_ENCL_OP_DYN_READ, (long)a, 0, 0x8005, a,
				 fix_trim),
			 0x99);
}

struct spinner {
	const struct encl *e;
	_Atomic uint64_t flag;
	long status;
	long iterations;
};

static void *spin_main(void *arg)
{
	static char altstack[65536];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	struct spinner *sp = arg;
	struct vdso_record c = {0};

	/* As run_body_on_new_thread(): until the shim gives new threads one. */
	if (sigaltstack(&ss, NULL))
		return NULL;
	enter(sp->e->tcs1, SGX_EENTER, TEST_ENCL_OP_SPIN, (long)(uintptr_t)&sp->flag, 0, &c);
	sp->status = c.exceptions ? -2 : c.status;
	sp->iterations = c.value;
	return NULL;
}

/*
 * RESTRICT_PERMISSIONS while another thread runs inside: the kernel's
 * ETRACK and the kicks that follow it (Linux's IPIs) end the tracking
 * round, so the enclave's EACCEPT succeeds at once instead of answering
 * SGX_NOT_TRACKED; the spinning thread comes back with its registers intact.
 */
static void restrict_while_inside(const struct encl *e)
{
	struct sgx_enclave_restrict_permissions rp = { TRACKED, PAGE, SGX_SECINFO_R, 0, 0 };
	struct spinner sp = { .e = e };
	pthread_t t;

	accept_page(e, e->tcs0, TRACKED);
	assert_int_equal(pthread_create(&t, NULL, spin_main, &sp), 0);
	usleep(20000); /* let it enter; the check below holds either way */
	assert_int_equal(ioctl_errno(e->h.fd, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, &rp), 0);
	assert_int_equal(call_ok(e->tcs0, TEST_ENCL_OP_EACCEPT, (long)at(e, TRACKED),
				 SGX_SECINFO_R | SGX_SECINFO_PR | SGX_SECINFO_REG),
			 0);
	atomic_store(&sp.flag, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(sp.status, TEST_ENCL_OK);
}

static void all_scenarios(struct encl *e)
{
	static void (*const fns[])(const struct encl *) = {
		detect_edmm, augment_by_write, accept_copy, tcs_at_run_time,
		restrict_then_extend, trim_and_add_again, restrict_while_inside, heap_grow,
	};

	for (unsigned int i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		fns[i](e);
}

static void test_sgx2(void **state)
{
	struct encl e;

	(void)state;
	build(&e);
	all_scenarios(&e);
	enclave_unload(&enclave_sys_native, &e.h);
}

static void all_scenarios_body(void *e)
{
	all_scenarios(e);
}

static void test_sgx2_new_thread(void **state)
{
	struct encl e;

	(void)state;
	build(&e);
	run_body_on_new_thread(all_scenarios_body, &e);
	enclave_unload(&enclave_sys_native, &e.h);
}

static int group_setup(void **state)
{
	(void)state;
	if (test_image_load("SOFTSGX_TEST_ENCLAVE", &image))
		return -1;
	/* Room past the image for dynamic pages: ELRANGE is measured, so before signing. */
	if (image.secs->size > DYN) {
		fprintf(stderr, "the test enclave grew past %#llx\n", DYN);
		return -1;
	}
	image.secs->size = ELRANGE;
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
		cmocka_unit_test(test_sgx2),
		cmocka_unit_test(test_sgx2_new_thread),
	};

	/* The default platform, whatever the caller's environment says. */
	if (!getenv("SOFTSGX_SHIM_TEST_CHILD"))
		unsetenv("SOFTSGX_SGX1");
	shim_test_reexec(argc, argv, run_opts);
	vdso_enter = vdso_find_enter();
	if (!vdso_enter)
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
