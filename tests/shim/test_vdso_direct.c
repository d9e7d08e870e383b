// SPDX-License-Identifier: MIT
/*
 * The vDSO's direct entry (shim/vdso_direct.c): __vdso_sgx_enter_enclave
 * enters the enclave by a call into the model instead of a trapped ENCLU.
 * What it must preserve, against small enclaves built here:
 *
 * - the state the enclave sees on entry (general registers, RFLAGS, the
 *   vector registers and MXCSR) is the same as through the trap, which a
 *   child process run with SOFTSGX_VDSO_DIRECT=0 reports for comparison;
 * - ECALLs stay correct under a storm of timer signals aimed at the thread,
 *   whose handler makes nested ECALLs;
 * - the user handler's EENTER (retry) and ERESUME after a fixed fault;
 * - an exception on the enclave's first instruction (AEX at its entry);
 * each from the main thread and from a fresh thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "softsgx/sgx_arch.h"
#include "tests/shim/mini_encl.h"
#include "tests/shim/new_thread.h"
#include "tests/shim/shim_test.h"
#include "tests/shim/vdso_call.h"
#include "softsgx/sgx_uapi.h"

/*
 * The enclave. On every entry it first records RFLAGS and every general
 * register in page 2 (the host reads enclave memory here, as on hardware
 * it could not), then by RDI:
 *   1 XSAVE64 of the SSE, AVX and AVX-512 state (mask 0xe6 of XCR0) at page 2 + 1024
 *   2 RDX = the u64 at host address RSI (a fault the host can fix)
 *   3 ud2
 *   4 store RSI at page 2 + 512
 *   5 RDX = the u64 at page 2 + 512
 * and with CSSA != 0 (exception entry) RDX = 0xE. It leaves to RCX as entered.
 * Nothing it decides on is read back from memory, which an entry nested in
 * a signal handler (an exception entry while this one is out after an AEX)
 * overwrites.
 */
#define DUMP_XSAVE 1024
#define DUMP_VALUE 512
extern const uint8_t encl_code[], encl_code_end[];
__asm__(".pushsection .rodata\n"
	".balign 16\n"
	"encl_code:\n"
	"	pushfq\n"
	"	mov %rax, encl_code+0x1000+0(%rip)\n"
	"	mov %rcx, encl_code+0x1000+8(%rip)\n"
	"	mov %rdx, encl_code+0x1000+16(%rip)\n"
	"	mov %rbx, encl_code+0x1000+24(%rip)\n"
	"	mov %rsp, encl_code+0x1000+32(%rip)\n"
	"	mov %rbp, encl_code+0x1000+40(%rip)\n"
	"	mov %rsi, encl_code+0x1000+48(%rip)\n"
	"	mov %rdi, encl_code+0x1000+56(%rip)\n"
	"	mov %r8, encl_code+0x1000+64(%rip)\n"
	"	mov %r9, encl_code+0x1000+72(%rip)\n"
	"	mov %r10, encl_code+0x1000+80(%rip)\n"
	"	mov %r11, encl_code+0x1000+88(%rip)\n"
	"	mov %r12, encl_code+0x1000+96(%rip)\n"
	"	mov %r13, encl_code+0x1000+104(%rip)\n"
	"	mov %r14, encl_code+0x1000+112(%rip)\n"
	"	mov %r15, encl_code+0x1000+120(%rip)\n"
	"	pop %r11\n"
	"	mov %r11, encl_code+0x1000+128(%rip)\n"
	"	test %rax, %rax\n"
	"	jnz 9f\n"
	"	cmp $1, %rdi\n"
	"	jne 2f\n"
	"	mov %rcx, %r9\n"
	"	xor %ecx, %ecx\n"
	"	xgetbv\n"
	"	and $0xe6, %eax\n"
	"	xor %edx, %edx\n"
	"	lea encl_code+0x1000+1024(%rip), %r8\n"
	"	xsave64 (%r8)\n"
	"	mov %r9, %rcx\n"
	"	jmp 8f\n"
	"2:	cmp $2, %rdi\n"
	"	jne 3f\n"
	"	mov (%rsi), %rdx\n"
	"	jmp 8f\n"
	"3:	cmp $3, %rdi\n"
	"	jne 4f\n"
	"	ud2\n"
	"4:	cmp $4, %rdi\n"
	"	jne 5f\n"
	"	mov %rsi, encl_code+0x1000+512(%rip)\n"
	"	jmp 8f\n"
	"5:	cmp $5, %rdi\n"
	"	jne 8f\n"
	"	mov encl_code+0x1000+512(%rip), %rdx\n"
	"	jmp 8f\n"
	"9:	mov $0xE, %rdx\n"
	"8:	mov %rcx, %rbx\n"
	"	mov $4, %eax\n"
	"	.byte 0x0f, 0x01, 0xd7\n"
	"encl_code_end:\n"
	/* An enclave whose first instruction raises #UD. */
	"ud2_code:\n"
	"	ud2\n"
	"ud2_code_end:\n"
	".popsection\n");
extern const uint8_t ud2_code[], ud2_code_end[];

#define ENCL_PAGES 8

/* What the enclave recorded: its registers on entry. */
struct entry_regs {
	uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rflags;
};

struct enclave {
	int fd;
	uint8_t *base;
};

static struct sgx_sigstruct sig_buf __attribute__((aligned(4096)));
static vdso_sgx_enter_enclave_t vdso_enter;

static void build(struct enclave *e, const uint8_t *code, size_t len)
{
	uint64_t size = ENCL_PAGES * SGX_PAGE_SIZE;
	struct sgx_sign_enclave desc = {
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 3,
		.xfrm_mask = 3,
		.date = 0x20261206,
	};
	struct sgx_enclave_init init = { .sigstruct = (uintptr_t)&sig_buf };
	struct sgx_measurement m;

	e->base = mini_encl_reserve(size, false);
	assert_non_null(e->base);
	e->fd = open("/dev/sgx_enclave", O_RDWR);
	assert_true(e->fd >= 0);
	assert_int_equal(mini_encl_create(e->fd, e->base, size, desc.attributes, &m), 0);
	assert_int_equal(mini_encl_add_layout(e->fd, code, len, 0, ENCL_PAGES, 0, &m), 0);
	assert_int_equal(mini_encl_sign(&desc, &m, &sig_buf), 0);
	assert_int_equal(ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init), 0);
	assert_int_equal(mini_encl_map_layout(e->fd, e->base, size), 0);
}

static void build_main(struct enclave *e)
{
	build(e, encl_code, (size_t)(encl_code_end - encl_code));
}

static void close_enclave(struct enclave *e)
{
	munmap(e->base, ENCL_PAGES * SGX_PAGE_SIZE);
	close(e->fd);
}

static const struct entry_regs *recorded(const struct enclave *e)
{
	return (const struct entry_regs *)(e->base + 2 * SGX_PAGE_SIZE);
}

/* One vDSO ECALL with a handler that keeps RDX: the vDSO's result in *ret. */
static long ecall(struct enclave *e, long op, long arg, int *ret)
{
	struct sgx_enclave_run run;
	long rdx = -1;

	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e->base;
	run.user_handler = (uintptr_t)mini_encl_keep_rdx;
	run.user_data = (uintptr_t)&rdx;
	*ret = vdso_call(op, arg, 0, SGX_EENTER, &run, vdso_enter);
	if (!*ret && run.function != SGX_EEXIT)
		*ret = -1000 - run.function;
	return rdx;
}

/* ------------------------------------------------------------------------ */
/* The entry state, by the direct entry and by the trap.                    */

/*
 * What call_with_state() loads before it calls the vDSO, and what it
 * reports: every register the vDSO passes through, the vector state (an
 * XSAVE image restored with @xmask), and the RSP at the call.
 */
struct call_state {
	uint64_t rdi, rsi, rdx, r8, r9, r10, r11, r12, r13, r14, r15; /* 0 .. 80 */
	uint64_t fn;		/* 88 */
	uint64_t run;		/* 96 */
	uint64_t xsave;		/* 104 */
	uint64_t xmask;		/* 112 */
	uint64_t rsp_at_call;	/* 120, out */
};

extern int call_with_state(struct call_state *s);
__asm__(".text\n"
	".globl call_with_state\n"
	".type call_with_state, @function\n"
	"call_with_state:\n"
	ASM_SAVE_CALLEE_SAVED
	"	mov %rdi, %rbx\n"
	"	mov 112(%rbx), %eax\n"
	"	xor %edx, %edx\n"
	"	mov 104(%rbx), %rcx\n"
	"	xrstor64 (%rcx)\n"
	"	push 96(%rbx)\n"
	"	mov %rsp, 120(%rbx)\n"
	"	mov 0(%rbx), %rdi\n"
	"	mov 8(%rbx), %rsi\n"
	"	mov 16(%rbx), %rdx\n"
	"	mov 24(%rbx), %r8\n"
	"	mov 32(%rbx), %r9\n"
	"	mov 40(%rbx), %r10\n"
	"	mov 48(%rbx), %r11\n"
	"	mov 56(%rbx), %r12\n"
	"	mov 64(%rbx), %r13\n"
	"	mov 72(%rbx), %r14\n"
	"	mov 80(%rbx), %r15\n"
	"	mov $2, %ecx\n" /* EENTER */
	"	mov 88(%rbx), %rax\n"
	"	call *%rax\n"
	"	add $8, %rsp\n"
	ASM_RESTORE_CALLEE_SAVED
	"	ret\n"
	".size call_with_state, .-call_with_state\n");

/* XSAVE image size the tests compare: SSE, AVX and AVX-512 fit in it. */
#define XIMAGE 3072

static uint64_t xcr0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

/*
 * Distinct values in XMM/YMM 0-15 (and ZMM 0-31 and k0-k7 when the OS
 * enabled AVX-512) and MXCSR, saved at once into @img with @mask.
 */
static void pattern_image(uint8_t *img, uint64_t mask)
{
	static uint8_t bytes[32 * 64] __attribute__((aligned(64)));
	uint32_t mxcsr = 0x7f80; /* round toward zero, every exception masked */

	for (unsigned int i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7 + 0x31);
	memset(img, 0, XIMAGE);
	if ((mask & 0xe0) == 0xe0) {
		__asm__ volatile(".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
				 "vmovdqu64 \\n*64(%0), %%zmm\\n\n"
				 ".endr\n"
				 ".irp n,0,1,2,3,4,5,6,7\n"
				 "kmovq \\n*8(%0), %%k\\n\n"
				 ".endr\n"
				 "ldmxcsr %1\n"
				 "xsave64 (%2)\n"
				 :
				 : "r"(bytes), "m"(mxcsr), "r"(img), "a"((uint32_t)mask), "d"(0)
				 : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
				   "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
				   "xmm15");
	} else {
		__asm__ volatile(".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
				 "vmovdqu \\n*32(%0), %%ymm\\n\n"
				 ".endr\n"
				 "ldmxcsr %1\n"
				 "xsave64 (%2)\n"
				 :
				 : "r"(bytes), "m"(mxcsr), "r"(img), "a"((uint32_t)mask), "d"(0)
				 : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
				   "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
				   "xmm15");
	}
	/* Back to the default MXCSR for the C code here; the image keeps the pattern. */
	mxcsr = 0x1f80;
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
}

/* What one entry reported, made comparable across processes. */
struct entry_report {
	struct entry_regs regs; /* addresses as offsets from what the caller knows */
	uint8_t xsave[XIMAGE];
	int ret;
};

static void entry_state(struct entry_report *out)
{
	static uint8_t img[XIMAGE] __attribute__((aligned(64)));
	uint64_t mask = xcr0() & 0xe6;
	struct sgx_enclave_run run;
	struct call_state s = {
		.rdi = 1, /* the enclave's XSAVE operation */
		.rsi = 0x5151515151515151,
		.rdx = 0xd1d1d1d1d1d1d1d1,
		.r8 = 0x0808080808080808,
		.r9 = 0x0909090909090909,
		.r10 = 0x1010101010101010,
		.r11 = 0x1111111111111111,
		.r12 = 0x1212121212121212,
		.r13 = 0x1313131313131313,
		.r14 = 0x1414141414141414,
		.r15 = 0x1515151515151515,
	};
	struct enclave e;

	build_main(&e);
	/* The first ENCLU of a process traps (the shim then knows the CPU): not this one. */
	ecall(&e, 0, 0, &out->ret);
	assert_int_equal(out->ret, 0);
	pattern_image(img, mask);
	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e.base;
	s.fn = (uintptr_t)vdso_enter;
	s.run = (uintptr_t)&run;
	s.xsave = (uintptr_t)img;
	s.xmask = mask;
	memset(out, 0, sizeof(*out));
	out->ret = call_with_state(&s);
	if (!out->ret && run.function != SGX_EEXIT)
		out->ret = -1000 - run.function;
	out->regs = *recorded(&e);
	/* The enclave pushed RFLAGS before it recorded RSP. */
	out->regs.rsp = out->regs.rsp + 8 - s.rsp_at_call;
	out->regs.rbp -= s.rsp_at_call;
	out->regs.rbx -= (uintptr_t)e.base;
	out->regs.rcx -= (uintptr_t)vdso_enter;
	memcpy(out->xsave, e.base + 2 * SGX_PAGE_SIZE + DUMP_XSAVE, XIMAGE);
	/* What the enclave saw must be the pattern: XMM, MXCSR, AVX and AVX-512 regions. */
	assert_memory_equal(out->xsave + 160, img + 160, 256);
	assert_memory_equal(out->xsave + 24, img + 24, 4);
	assert_memory_equal(out->xsave + 576, img + 576, XIMAGE - 576);
	close_enclave(&e);
}

/* The trap's report, from this program run with SOFTSGX_VDSO_DIRECT=0. */
#define CHILD_ARG "--entry-state-to-fd"

static void trap_entry_state(struct entry_report *out)
{
	char self[PATH_MAX], fdarg[16];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int fds[2], status;
	size_t got = 0;
	pid_t pid;

	assert_true(len > 0);
	self[len] = '\0';
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(fds[0]);
		snprintf(fdarg, sizeof(fdarg), "%d", fds[1]);
		setenv("SOFTSGX_VDSO_DIRECT", "0", 1);
		execl(self, self, CHILD_ARG, fdarg, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (got < sizeof(*out)) {
		ssize_t n = read(fds[0], (uint8_t *)out + got, sizeof(*out) - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(got, sizeof(*out));
}

static void entry_state_body(void *arg)
{
	struct entry_report direct, trap;
	const struct entry_regs *r = &direct.regs;

	(void)arg;
	entry_state(&direct);
	assert_int_equal(direct.ret, 0);
	/* EENTER's own: RAX = CSSA, RBX = TCS; RCX is in the vDSO (EEXIT's target). */
	assert_int_equal(r->rax, 0);
	assert_int_equal(r->rbx, 0);
	assert_true(r->rcx > 0 && r->rcx < 4096);
	/* The vDSO's frame: return address, RBP, RBX below the caller's RSP. */
	assert_int_equal((int64_t)r->rsp, -24);
	assert_int_equal((int64_t)r->rbp, -16);
	assert_int_equal(r->rdi, 1);
	assert_int_equal(r->rsi, 0x5151515151515151);
	assert_int_equal(r->rdx, 0xd1d1d1d1d1d1d1d1);
	assert_int_equal(r->r8, 0x0808080808080808);
	assert_int_equal(r->r9, 0x0909090909090909);
	assert_int_equal(r->r10, 0x1010101010101010);
	assert_int_equal(r->r11, 0x1111111111111111);
	assert_int_equal(r->r12, 0x1212121212121212);
	assert_int_equal(r->r13, 0x1313131313131313);
	assert_int_equal(r->r14, 0x1414141414141414);
	assert_int_equal(r->r15, 0x1515151515151515);
	assert_false(r->rflags & 0x100); /* TF */

	trap_entry_state(&trap);
	assert_int_equal(trap.ret, 0);
	/* Everything alike, RFLAGS included. */
	assert_int_equal(direct.regs.rflags, trap.regs.rflags);
	assert_memory_equal(&direct.regs, &trap.regs, sizeof(direct.regs));
	assert_memory_equal(direct.xsave + 160, trap.xsave + 160, 256);
	assert_memory_equal(direct.xsave + 576, trap.xsave + 576, XIMAGE - 576);
}

/* The patterns are loaded with AVX instructions; the direct entry needs AVX too. */
static bool have_avx(void)
{
	uint32_t c, d, b, a;

	/* OSXSAVE (CPUID.1:ECX[27]) before XGETBV; the shim answers CPUID here. */
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 27)) || (xcr0() & 0x6) != 0x6) {
		print_message("skipped: no AVX state enabled in XCR0 on this CPU\n");
		return false;
	}
	return true;
}

static void test_entry_state_same_by_both_paths(void **state)
{
	(void)state;
	if (!have_avx())
		skip();
	entry_state_body(NULL);
}

static void test_entry_state_same_by_both_paths_new_thread(void **state)
{
	(void)state;
	if (!have_avx())
		skip();
	run_body_on_new_thread(entry_state_body, NULL);
}

/* ------------------------------------------------------------------------ */
/* A storm of timer signals at this thread; the handler makes nested ECALLs. */

static struct enclave storm_encl;
static atomic_uint storm_signals, storm_nested, storm_bad;

static void on_alarm(int sig)
{
	int saved = errno, ret;
	unsigned int n = atomic_fetch_add(&storm_signals, 1);

	(void)sig;
	/* Every fourth: an ECALL from the handler, on whatever TCS state it interrupted. */
	if (n % 4 == 0) {
		long v = ecall(&storm_encl, 5, 0, &ret);

		(void)v;
		if (ret)
			atomic_fetch_add(&storm_bad, 1);
		else
			atomic_fetch_add(&storm_nested, 1);
	}
	errno = saved;
}

static void storm_body(void *arg)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGALRM };
	struct itimerspec its = { .it_interval = { 0, 20000 }, .it_value = { 0, 20000 } };
	struct timespec start, now;
	unsigned long calls = 0, wrong = 0;
	sigset_t alrm;
	timer_t timer;
	int ret;

	(void)arg;
	atomic_store(&storm_signals, 0);
	atomic_store(&storm_nested, 0);
	atomic_store(&storm_bad, 0);
	build_main(&storm_encl);
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &alrm, NULL), 0);
	sev._sigev_un._tid = (int)syscall(SYS_gettid);
	assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &timer), 0);
	assert_int_equal(timer_settime(timer, 0, &its, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		for (int i = 0; i < 200; i++, calls++) {
			long v = 0x5700000000 + (long)calls;

			long got;

			ecall(&storm_encl, 4, v, &ret);
			if (ret && wrong++ < 5)
				print_message("store %#lx: vDSO %d\n", v, ret);
			got = ecall(&storm_encl, 5, 0, &ret);
			if ((got != v || ret) && wrong++ < 5)
				print_message("load: %#lx for %#lx, vDSO %d\n", got, v, ret);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) <
		 700000000L);
	timer_delete(timer);
	sa.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	print_message("%lu ECALL pairs, %u signals, %u nested ECALLs\n", calls,
		      atomic_load(&storm_signals), atomic_load(&storm_nested));
	assert_int_equal(wrong, 0);
	assert_int_equal(atomic_load(&storm_bad), 0);
	assert_true(atomic_load(&storm_signals) > 0);
	assert_true(atomic_load(&storm_nested) > 0);
	close_enclave(&storm_encl);
}

static void test_ecalls_under_signal_storm(void **state)
{
	(void)state;
	storm_body(NULL);
}

static void test_ecalls_under_signal_storm_new_thread(void **state)
{
	(void)state;
	run_body_on_new_thread(storm_body, NULL);
}

/* ------------------------------------------------------------------------ */
/* The user handler: EENTER again (retry), and ERESUME after a fixed fault.  */

struct script {
	int exits, exceptions, retries;
	int give_up_after; /* exceptions; 0: resume every time */
	uint8_t *page;
	long rdx;
	uint16_t vector;
};

static int scripted(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
		    struct sgx_enclave_run *run)
{
	struct script *s = (struct script *)(uintptr_t)run->user_data;

	(void)rdi, (void)rsi, (void)rsp, (void)r8, (void)r9;
	if (run->function == SGX_ERESUME) {
		s->exceptions++;
		s->vector = run->exception_vector;
		if (s->page && mprotect(s->page, SGX_PAGE_SIZE, PROT_READ))
			return -1;
		if (s->give_up_after && s->exceptions >= s->give_up_after)
			return 0;
		return SGX_ERESUME;
	}
	s->exits++;
	s->rdx = rdx;
	if (s->retries) {
		s->retries--;
		return SGX_EENTER;
	}
	return 0;
}

static void handler_body(void *arg)
{
	static uint64_t host_value __attribute__((aligned(4096)));
	struct sgx_enclave_run run;
	struct script s = { .retries = 100 };
	struct enclave e;
	int ret;

	(void)arg;
	build_main(&e);
	/* EENTER again a hundred times from the handler, each an entry of its own. */
	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e.base;
	run.user_handler = (uintptr_t)scripted;
	run.user_data = (uintptr_t)&s;
	ecall(&e, 4, 0x2e2e, &ret);
	assert_int_equal(ret, 0);
	assert_int_equal(vdso_call(5, 0, 0, SGX_EENTER, &run, vdso_enter), 0);
	assert_int_equal(s.exits, 101);
	assert_int_equal(s.rdx, 0x2e2e);

	/* A load from a host page taken away: #PF, fixed, ERESUME completes it. */
	host_value = 0x4e5e;
	s = (struct script){ .page = (uint8_t *)&host_value };
	assert_int_equal(mprotect(&host_value, SGX_PAGE_SIZE, PROT_NONE), 0);
	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e.base;
	run.user_handler = (uintptr_t)scripted;
	run.user_data = (uintptr_t)&s;
	assert_int_equal(vdso_call(2, (uintptr_t)&host_value, 0, SGX_EENTER, &run, vdso_enter), 0);
	assert_int_equal(s.exceptions, 1);
	assert_int_equal(s.vector, 14);
	assert_int_equal(s.exits, 1);
	assert_int_equal(s.rdx, 0x4e5e);
	assert_int_equal(mprotect(&host_value, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
	/* CSSA is back to 0: an ordinary entry. */
	assert_int_equal(ecall(&e, 5, 0, &ret), 0x2e2e);
	assert_int_equal(ret, 0);
	close_enclave(&e);
}

static void test_handler_retry_and_eresume(void **state)
{
	(void)state;
	handler_body(NULL);
}

static void test_handler_retry_and_eresume_new_thread(void **state)
{
	(void)state;
	run_body_on_new_thread(handler_body, NULL);
}

/* ------------------------------------------------------------------------ */
/* An exception on the enclave's first instruction.                          */

static void first_insn_body(void *arg)
{
	struct sgx_enclave_run run;
	struct script s = { 0 };
	struct enclave e;

	(void)arg;
	build(&e, ud2_code, (size_t)(ud2_code_end - ud2_code));
	/* No handler: the vDSO returns 0 with the exception in the run. */
	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e.base;
	assert_int_equal(vdso_call(0, 0, 0, SGX_EENTER, &run, vdso_enter), 0);
	assert_int_equal(run.function, SGX_ERESUME);
	assert_int_equal(run.exception_vector, 6);
	assert_int_equal(run.exception_addr, 0);
	/* ERESUME by the caller (CSSA 1 -> 0): the same #UD again, at the same place. */
	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e.base;
	assert_int_equal(vdso_call(0, 0, 0, SGX_ERESUME, &run, vdso_enter), 0);
	assert_int_equal(run.function, SGX_ERESUME);
	assert_int_equal(run.exception_vector, 6);
	/* With a handler that resumes twice and then gives up: three exceptions. */
	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e.base;
	run.user_handler = (uintptr_t)scripted;
	run.user_data = (uintptr_t)&s;
	s.give_up_after = 3;
	assert_int_equal(vdso_call(0, 0, 0, SGX_ERESUME, &run, vdso_enter), 0);
	assert_int_equal(s.exceptions, 3);
	assert_int_equal(s.vector, 6);
	assert_int_equal(s.exits, 0);
	close_enclave(&e);
}

static void test_aex_on_first_instruction(void **state)
{
	(void)state;
	first_insn_body(NULL);
}

static void test_aex_on_first_instruction_new_thread(void **state)
{
	(void)state;
	run_body_on_new_thread(first_insn_body, NULL);
}

/* The child of trap_entry_state(): the report on fd @argv[2]. */
static int entry_state_child(const char *fdarg)
{
	struct entry_report r;
	int fd = atoi(fdarg);

	entry_state(&r);
	return write(fd, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_state_same_by_both_paths),
		cmocka_unit_test(test_entry_state_same_by_both_paths_new_thread),
		cmocka_unit_test(test_ecalls_under_signal_storm),
		cmocka_unit_test(test_ecalls_under_signal_storm_new_thread),
		cmocka_unit_test(test_handler_retry_and_eresume),
		cmocka_unit_test(test_handler_retry_and_eresume_new_thread),
		cmocka_unit_test(test_aex_on_first_instruction),
		cmocka_unit_test(test_aex_on_first_instruction_new_thread),
	};

	shim_test_reexec(argc, argv, NULL);
	vdso_enter = vdso_find_enter();
	if (!vdso_enter)
		return 1;
	if (argc == 3 && !strcmp(argv[1], CHILD_ARG))
		return entry_state_child(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
