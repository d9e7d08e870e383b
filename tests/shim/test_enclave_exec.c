// SPDX-License-Identifier: MIT
/*
 * Enclave code running natively under the shim, driven as an unmodified
 * program drives real SGX: open/ioctl/mmap, the vDSO entry found through the
 * auxiliary vector, and raw ENCLU. The enclave is a few hand-written
 * instructions copied into its code page.
 *
 * Layout (8 pages): 0 TCS, 1 code (RX), 2 data (RW), 3-4 SSA (NSSA 2),
 * 5 FS/GS page (RW, a marker at offset 0).
 * Entry: RDI = operation; RAX = CSSA. Operations: 1 store RSI in the data
 * page, 2 load it into RDX, 3 ud2, 4 load (RSI) into RDX, 5 RDX = FS:0.
 * Entered with CSSA > 0 it exits at once with RDX = 0xE.
 */
#define _GNU_SOURCE
#include <elf.h>
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
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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

extern const uint8_t encl_code[], encl_code_end[];
__asm__(".pushsection .rodata\n"
	".balign 16\n"
	"encl_code:\n"
	"	test %rax, %rax\n"
	"	jnz 9f\n"
	"	mov %rcx, %rbx\n"
	"	cmp $1, %rdi\n"
	"	jne 2f\n"
	"	lea encl_code+0x1000(%rip), %rax\n"
	"	mov %rsi, (%rax)\n"
	"	jmp 8f\n"
	"2:	cmp $2, %rdi\n"
	"	jne 3f\n"
	"	lea encl_code+0x1000(%rip), %rax\n"
	"	mov (%rax), %rdx\n"
	"	jmp 8f\n"
	"3:	cmp $3, %rdi\n"
	"	jne 4f\n"
	"	ud2\n"
	"4:	cmp $4, %rdi\n"
	"	jne 5f\n"
	"	mov (%rsi), %rdx\n"
	"	jmp 8f\n"
	"5:	cmp $5, %rdi\n"
	"	jne 8f\n"
	"	mov %fs:0, %rdx\n"
	"	jmp 8f\n"
	"9:	mov %rcx, %rbx\n"
	"	mov $0xE, %rdx\n"
	"8:	mov $4, %eax\n"
	"	.byte 0x0f, 0x01, 0xd7\n"
	"encl_code_end:\n"
	".popsection\n");

#define ENCL_PAGES 8
#define FS_MARKER 0x5afe5afe12345678ULL

struct enclave {
	int fd;
	uint8_t *base;
};

static struct sgx_sigstruct sig_buf __attribute__((aligned(4096)));
static vdso_sgx_enter_enclave_t vdso_enter;

static void build_enclave(struct enclave *e, uint64_t extra_pages)
{
	uint64_t size = ENCL_PAGES * SGX_PAGE_SIZE;
	struct sgx_sign_enclave desc = {
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 3,
		.xfrm_mask = 3,
		.date = 0x20261122,
	};
	struct sgx_enclave_init init = { .sigstruct = (uintptr_t)&sig_buf };
	struct sgx_measurement m;

	while (size < (ENCL_PAGES + extra_pages) * SGX_PAGE_SIZE)
		size *= 2;
	e->base = mini_encl_reserve(size, false);
	assert_non_null(e->base);
	e->fd = open("/dev/sgx_enclave", O_RDWR);
	assert_true(e->fd >= 0);
	assert_int_equal(mini_encl_create(e->fd, e->base, size, desc.attributes, &m), 0);

	assert_int_equal(mini_encl_add_layout(e->fd, encl_code,
					      (size_t)(encl_code_end - encl_code), FS_MARKER,
					      ENCL_PAGES, extra_pages, &m),
			 0);
	assert_int_equal(mini_encl_sign(&desc, &m, &sig_buf), 0);
	assert_int_equal(ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init), 0);
	assert_int_equal(mini_encl_map_layout(e->fd, e->base, size), 0);
}

static void close_enclave(struct enclave *e, uint64_t size)
{
	munmap(e->base, size);
	close(e->fd);
}

static long call(struct enclave *e, unsigned int leaf, long op, long arg, struct sgx_enclave_run *run)
{
	long rdx = -1;
	int ret;

	memset(run, 0, sizeof(*run));
	run->tcs = (uintptr_t)e->base;
	run->user_handler = (uintptr_t)mini_encl_keep_rdx;
	run->user_data = (uintptr_t)&rdx;
	ret = vdso_call(op, arg, 0, leaf, run, vdso_enter);
	assert_int_equal(ret, 0);
	return rdx;
}

static void test_vdso_eenter_eexit(void **state)
{
	struct sgx_enclave_run run;
	struct enclave e;

	(void)state;
	build_enclave(&e, 0);
	call(&e, SGX_EENTER, 1, 0x1122334455667788, &run);
	assert_int_equal(run.function, SGX_EEXIT);
	assert_int_equal(call(&e, SGX_EENTER, 2, 0, &run), 0x1122334455667788);
	assert_int_equal(run.function, SGX_EEXIT);
	/* The host sees what the enclave wrote, as on real hardware it would not. */
	assert_int_equal(*(uint64_t *)(e.base + 2 * SGX_PAGE_SIZE), 0x1122334455667788);
	/* FS inside is the TCS's FS base. */
	assert_int_equal(call(&e, SGX_EENTER, 5, 0, &run), (long)FS_MARKER);
	/* And the host's FS is back: TLS works. */
	errno = 0;
	assert_int_equal(errno, 0);
	close_enclave(&e, ENCL_PAGES * SGX_PAGE_SIZE);
}

static void test_raw_enclu(void **state)
{
	struct enclave e;
	uint64_t rdx;

	(void)state;
	build_enclave(&e, 0);
	/* EENTER by the program's own instruction; the enclave EEXITs to RCX. */
	__asm__ volatile("lea 1f(%%rip), %%rcx\n"
			 "mov $2, %%eax\n"
			 ".byte 0x0f, 0x01, 0xd7\n"
			 "1:\n"
			 : "=d"(rdx)
			 : "b"(e.base), "D"(1L), "S"(0xABCDL)
			 : "rax", "rcx", "memory", "cc");
	__asm__ volatile("lea 1f(%%rip), %%rcx\n"
			 "mov $2, %%eax\n"
			 ".byte 0x0f, 0x01, 0xd7\n"
			 "1:\n"
			 : "=d"(rdx), "+b"(e.base)
			 : "D"(2L), "S"(0L)
			 : "rax", "rcx", "memory", "cc");
	assert_int_equal(rdx, 0xABCD);
	close_enclave(&e, ENCL_PAGES * SGX_PAGE_SIZE);
}

static void test_exception_reported_and_exception_entry(void **state)
{
	struct sgx_enclave_run run;
	struct enclave e;

	(void)state;
	build_enclave(&e, 0);
	call(&e, SGX_EENTER, 3, 0, &run);
	assert_int_equal(run.function, SGX_ERESUME);
	assert_int_equal(run.exception_vector, 6); /* #UD */
	/* CSSA is 1 now: a new EENTER takes the enclave's exception entry. */
	assert_int_equal(call(&e, SGX_EENTER, 0, 0, &run), 0xE);
	assert_int_equal(run.function, SGX_EEXIT);
	close_enclave(&e, ENCL_PAGES * SGX_PAGE_SIZE);
}

struct fixing {
	uint8_t *page;
	int exceptions;
	uint16_t vector;
	uint64_t addr;
	long rdx;
};

/*
 * The vDSO protocol for a fault the program can fix: the handler sees the
 * exception, gives the page back and returns ERESUME, so the enclave resumes
 * within the same call (and its EEXIT lands in this vDSO frame).
 */
static int fix_and_resume(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
			  struct sgx_enclave_run *run)
{
	struct fixing *f = (struct fixing *)(uintptr_t)run->user_data;

	(void)rdi, (void)rsi, (void)rsp, (void)r8, (void)r9;
	if (run->function == SGX_ERESUME) {
		f->exceptions++;
		f->vector = run->exception_vector;
		f->addr = run->exception_addr;
		if (mprotect(f->page, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE))
			return -1;
		return SGX_ERESUME;
	}
	f->rdx = rdx;
	return 0;
}

static void test_page_fault_then_eresume(void **state)
{
	struct sgx_enclave_run run;
	struct fixing f = { 0 };
	struct enclave e;

	(void)state;
	build_enclave(&e, 0);
	f.page = e.base + 2 * SGX_PAGE_SIZE;
	call(&e, SGX_EENTER, 1, 0x600D, &run);
	/* The host takes the page away: the enclave's load faults. */
	assert_int_equal(mprotect(f.page, SGX_PAGE_SIZE, PROT_NONE), 0);
	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e.base;
	run.user_handler = (uintptr_t)fix_and_resume;
	run.user_data = (uintptr_t)&f;
	assert_int_equal(vdso_call(4, (uintptr_t)f.page, 0, SGX_EENTER, &run, vdso_enter), 0);
	assert_int_equal(f.exceptions, 1);
	assert_int_equal(f.vector, 14);
	assert_int_equal(f.addr, (uintptr_t)f.page);
	/* Resumed at the faulting load, which then completed. */
	assert_int_equal(f.rdx, 0x600D);
	assert_int_equal(run.function, SGX_EEXIT);
	close_enclave(&e, ENCL_PAGES * SGX_PAGE_SIZE);
}

struct results {
	int calls;
	int reply[3]; /* what the handler returns on its 1st, 2nd, 3rd call */
};

static int scripted_handler(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
			    struct sgx_enclave_run *run)
{
	struct results *r = (struct results *)(uintptr_t)run->user_data;

	(void)rdi, (void)rsi, (void)rdx, (void)rsp, (void)r8, (void)r9;
	return r->reply[r->calls++];
}

/* The vDSO's user-handler protocol with a real enclave behind it. */
static void test_handler_results(void **state)
{
	struct sgx_enclave_run run;
	struct enclave e;
	struct results r;

	(void)state;
	build_enclave(&e, 0);
	/* EENTER again (twice), then 0: three exits, three handler calls. */
	r = (struct results){ .reply = { SGX_EENTER, SGX_EENTER, 0 } };
	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e.base;
	run.user_handler = (uintptr_t)scripted_handler;
	run.user_data = (uintptr_t)&r;
	assert_int_equal(vdso_call(0, 0, 0, SGX_EENTER, &run, vdso_enter), 0);
	assert_int_equal(r.calls, 3);
	/* A negative result is returned as is. */
	r = (struct results){ .reply = { -7 } };
	assert_int_equal(vdso_call(0, 0, 0, SGX_EENTER, &run, vdso_enter), -7);
	/* A positive result that is no leaf is -EINVAL. */
	r = (struct results){ .reply = { 42 } };
	assert_int_equal(vdso_call(0, 0, 0, SGX_EENTER, &run, vdso_enter), -EINVAL);
	assert_int_equal(r.calls, 1);
	close_enclave(&e, ENCL_PAGES * SGX_PAGE_SIZE);
}

static void test_evicted_pages_come_back_inside(void **state)
{
	struct sgx_enclave_run run;
	struct enclave e, big;
	uint64_t big_pages = 200; /* more than the 128-page EPC of this test */

	(void)state;
	build_enclave(&e, 0);
	call(&e, SGX_EENTER, 1, 0xBACC, &run);
	/* A second, larger enclave pushes the first one out of the EPC. */
	build_enclave(&big, big_pages);
	for (uint64_t i = 0; i < big_pages; i++)
		assert_int_equal(big.base[(ENCL_PAGES + i) * SGX_PAGE_SIZE + 9], 0x77);
	/* TCS, code and data are reloaded as the enclave touches them. */
	assert_int_equal(call(&e, SGX_EENTER, 2, 0, &run), 0xBACC);
	assert_int_equal(run.function, SGX_EEXIT);
	close_enclave(&big, 256 * SGX_PAGE_SIZE);
	close_enclave(&e, ENCL_PAGES * SGX_PAGE_SIZE);
}

/* call() for a forked child: no cmocka there, -1 on any failure. */
static long child_call(struct enclave *e, long op, long arg)
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

/*
 * The child's work after fork(): its copy of the enclave holds what the
 * parent stored, takes its own stores, and pages under its own reclaimer.
 * The exit status says which step failed.
 */
static int child_uses_its_copy(struct enclave *e)
{
	if (child_call(e, 2, 0) != 0xAAAA)
		return 10;
	child_call(e, 1, 0xC41D);
	if (child_call(e, 2, 0) != 0xC41D)
		return 11;
	/* Fill the child's EPC with a second enclave, then reload the first. */
	for (int i = 0; i < 3; i++) {
		struct enclave big;

		build_enclave(&big, 200);
		for (uint64_t p = 0; p < 200; p++)
			if (big.base[(ENCL_PAGES + p) * SGX_PAGE_SIZE + 9] != 0x77)
				return 12;
		close_enclave(&big, 256 * SGX_PAGE_SIZE);
		if (child_call(e, 2, 0) != 0xC41D)
			return 13;
	}
	return 0;
}

/*
 * fork(): the child gets a copy of the platform taken at the fork, and what
 * either does afterwards stays its own. The parent's enclave is untouched
 * by the child's stores, evictions and exit, and it pages as before.
 */
static void test_fork_child_gets_its_own_copy(void **state)
{
	struct sgx_enclave_run run;
	struct enclave e, big;
	int status;
	pid_t pid;

	(void)state;
	build_enclave(&e, 0);
	call(&e, SGX_EENTER, 1, 0xAAAA, &run);

	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		_exit(child_uses_its_copy(&e));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	assert_int_equal(call(&e, SGX_EENTER, 2, 0, &run), 0xAAAA);
	/* The parent's reclaimer runs again: evict the enclave, reload it. */
	build_enclave(&big, 200);
	assert_int_equal(big.base[(ENCL_PAGES + 199) * SGX_PAGE_SIZE + 9], 0x77);
	assert_int_equal(call(&e, SGX_EENTER, 2, 0, &run), 0xAAAA);
	close_enclave(&big, 256 * SGX_PAGE_SIZE);

	/* A child that leaves through exit() (atexit, destructors) changes nothing either. */
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		child_call(&e, 1, 0xDEAD);
		exit(child_call(&e, 2, 0) == 0xDEAD ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(call(&e, SGX_EENTER, 2, 0, &run), 0xAAAA);
	close_enclave(&e, ENCL_PAGES * SGX_PAGE_SIZE);
}

/* fork()+exec() and system() from a process with an enclave. */
static void test_fork_exec_and_system(void **state)
{
	struct sgx_enclave_run run;
	struct enclave e;
	int status;
	pid_t pid;

	(void)state;
	build_enclave(&e, 0);
	call(&e, SGX_EENTER, 1, 0x5151, &run);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		execl("/bin/sh", "sh", "-c", "exit 7", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	status = system("exit 3");
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	assert_int_equal(call(&e, SGX_EENTER, 2, 0, &run), 0x5151);
	close_enclave(&e, ENCL_PAGES * SGX_PAGE_SIZE);
}

struct looper {
	struct enclave *e;
	atomic_bool stop;
	long calls, bad;
};

static void *call_in_a_loop(void *arg)
{
	struct looper *l = arg;

	while (!atomic_load(&l->stop)) {
		l->bad += child_call(l->e, 2, 0) != 0xF00D;
		l->calls++;
	}
	return NULL;
}

/*
 * fork() while another thread enters and leaves an enclave all the time:
 * neither the child nor the parent may hang on a lock that thread held, and
 * the thread's calls go on unharmed. A child may find the TCS busy (the
 * thread was inside at the fork, and does not exist in the child).
 */
static void test_fork_beside_a_thread_in_an_enclave(void **state)
{
	struct looper l = { 0 };
	struct sgx_enclave_run run;
	struct enclave e;
	pthread_t thread;

	(void)state;
	build_enclave(&e, 0);
	call(&e, SGX_EENTER, 1, 0xF00D, &run);
	l.e = &e;
	assert_int_equal(pthread_create(&thread, NULL, call_in_a_loop, &l), 0);
	for (int i = 0; i < 20; i++) {
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (!pid) {
			alarm(10); /* a hang fails the test instead of stalling it */
			if (i % 2)
				exit(child_call(&e, 2, 0) == 0xF00D || child_call(&e, 2, 0) == -1 ? 0 : 1);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	atomic_store(&l.stop, true);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_true(l.calls > 0);
	assert_int_equal(l.bad, 0);
	assert_int_equal(call(&e, SGX_EENTER, 2, 0, &run), 0xF00D);
	close_enclave(&e, ENCL_PAGES * SGX_PAGE_SIZE);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vdso_eenter_eexit),
		cmocka_unit_test(test_raw_enclu),
		cmocka_unit_test(test_exception_reported_and_exception_entry),
		cmocka_unit_test(test_page_fault_then_eresume),
		cmocka_unit_test(test_handler_results),
		cmocka_unit_test(test_evicted_pages_come_back_inside),
		cmocka_unit_test(test_fork_child_gets_its_own_copy),
		cmocka_unit_test(test_fork_exec_and_system),
		cmocka_unit_test(test_fork_beside_a_thread_in_an_enclave),
	};

	/* A small EPC, so the eviction test can fill it. */
	static const char *const run_opts[] = { "--epc", "512K", "--sections", "1", NULL };

	shim_test_reexec(argc, argv, run_opts);
	vdso_enter = vdso_find_enter();
	if (!vdso_enter)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
