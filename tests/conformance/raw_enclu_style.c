// SPDX-License-Identifier: MIT
/*
 * Conformance (c): a host program written the way runtimes with their own
 * asynchronous exit pointer are (the Intel SGX SDK's untrusted runtime,
 * Gramine's host side, Open Enclave's host): no vDSO, its own ENCLU, run
 * unchanged under `softsgx run`. Written for this project from public
 * descriptions of how those runtimes enter enclaves; no code is taken from
 * them.
 *
 * What such a program does and expects from Linux on SGX hardware:
 *  - EENTER is its own ENCLU with RAX = 2, RBX = the TCS, RCX = its AEP;
 *    the AEP is another ENCLU of its own, reached with RAX = 3 (ERESUME)
 *    and RBX = the TCS after an AEX; EEXIT returns after the EENTER;
 *  - its own SIGSEGV and SIGILL handlers (sigaction, SA_SIGINFO,
 *    SA_NODEFER as the SDK installs them) recognise an enclave exception
 *    by RIP == AEP in the signal context (with RAX = 3, RBX = TCS,
 *    RCX = AEP: the AEX's synthetic state); the handler may enter the
 *    enclave again on the same TCS (CSSA = 1: the enclave's exception
 *    entry, which reads EXITINFO in the SSA), fix the cause and return (the
 *    AEP's ERESUME continues the enclave), or give up;
 *  - instructions illegal in enclave mode raise #UD through an AEX: CPUID
 *    (runtimes emulate it by catching that #UD) and SYSCALL (an enclave
 *    that makes a system call fails on hardware; it must not succeed);
 *  - a timer signal during enclave execution interrupts it with an AEX: the
 *    handler sees RIP == AEP, and returning resumes the enclave with its
 *    registers intact.
 * Checks that need a host feature this machine lacks (CPUID faulting for
 * CPUID, Syscall User Dispatch for SYSCALL) are skipped with the reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/ucontext.h>
#include <time.h>

#include "tests/shim/asm_frame.h"
#include "tests/conformance/conform.h"

/*
 * long raw_ecall(tcs, op, arg1, arg2, out): EENTER on @tcs with RDI = op,
 * RSI = arg1, RDX = arg2; at EEXIT stores RDI (status) and RSI (value) in
 * out[0] and out[1] and returns 0. A signal handler that gives up on the
 * enclave sends the thread to raw_abandon instead, which returns -1: after
 * an AEX, RSP and RBP are those of the EENTER, so the frame is intact.
 */
extern long raw_ecall(uint64_t tcs, uint64_t op, uint64_t arg1, uint64_t arg2, uint64_t *out);
extern const char raw_aep[], raw_abandon[];
__asm__(".text\n"
	".globl raw_ecall\n"
	".type raw_ecall, @function\n"
	"raw_ecall:\n"
	ASM_SAVE_CALLEE_SAVED
	"	push %r8\n"
	"	mov %rdi, %rbx\n"
	"	mov %rsi, %rdi\n"
	"	mov %rdx, %rsi\n"
	"	mov %rcx, %rdx\n"
	"	lea raw_aep(%rip), %rcx\n"
	"	mov $2, %eax\n"
	"	.byte 0x0f, 0x01, 0xd7\n" /* ENCLU[EENTER] */
	"	mov (%rsp), %r8\n"
	"	mov %rdi, (%r8)\n"
	"	mov %rsi, 8(%r8)\n"
	"	xor %eax, %eax\n"
	"1:	pop %r8\n"
	ASM_RESTORE_CALLEE_SAVED
	"	ret\n"
	".globl raw_aep\n"
	"raw_aep:\n"
	"	.byte 0x0f, 0x01, 0xd7\n" /* ENCLU[ERESUME] */
	".globl raw_abandon\n"
	"raw_abandon:\n"
	"	mov $-1, %rax\n"
	"	jmp 1b\n"
	".size raw_ecall, .-raw_ecall\n");

static struct conform_encl encl;

/* What the program's handlers saw; one ECALL at a time uses them. */
struct seen {
	int signo, code;
	uint64_t rip, rax, rbx, rcx, addr;
	uint64_t exitinfo, entry_status;
	bool give_up;	 /* abandon the enclave (else return: ERESUME) */
	void *fix_page; /* SIGSEGV: give this page PROT_READ|PROT_WRITE back */
	int count;
	int foreign; /* signals not at the AEP */
};
static struct seen seen;

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t out[2] = { ~0ULL, ~0ULL };

	if ((uint64_t)g[REG_RIP] != (uintptr_t)raw_aep) {
		/* Not an enclave exception: the program's bug. */
		static const char msg[] = "raw_enclu_style: fault outside the enclave\n";

		if (write(2, msg, sizeof(msg) - 1) < 0)
			_exit(3);
		signal(sig, SIG_DFL);
		return;
	}
	seen.count++;
	seen.signo = sig;
	seen.code = si->si_code;
	seen.addr = (uintptr_t)si->si_addr;
	seen.rip = (uint64_t)g[REG_RIP];
	seen.rax = (uint64_t)g[REG_RAX];
	seen.rbx = (uint64_t)g[REG_RBX];
	seen.rcx = (uint64_t)g[REG_RCX];
	/* The SDK's way: ask the enclave, on the same TCS, through its exception entry. */
	if (raw_ecall(seen.rbx, TEST_ENCL_OP_NOP, 0, 0, out) == 0) {
		seen.entry_status = out[0];
		seen.exitinfo = out[1];
	}
	if (seen.fix_page) {
		mprotect(seen.fix_page, 4096, PROT_READ | PROT_WRITE);
		seen.fix_page = NULL;
	} else if (seen.give_up) {
		g[REG_RIP] = (greg_t)(uintptr_t)raw_abandon;
	}
}

static void install_handlers(void)
{
	struct sigaction sa = { .sa_sigaction = on_fault,
				.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART };

	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, NULL), 0);
	assert_int_equal(sigaction(SIGILL, &sa, NULL), 0);
}

/* Which TCS a body uses: 0 on the main thread, 1 on the new one. */
static __thread unsigned int my_tcs;

static const char *plain_calls(void *arg)
{
	uint64_t out[2];

	(void)arg;
	CHECK(raw_ecall(conform_tcs(&encl, my_tcs), TEST_ENCL_OP_MAGIC, 0, 0, out) == 0, "EENTER");
	CHECK(out[0] == TEST_ENCL_OK, "status %llu", (unsigned long long)out[0]);
	CHECK(raw_ecall(conform_tcs(&encl, my_tcs), TEST_ENCL_OP_READ_U64, out[1], 0, out) == 0,
	      "EENTER");
	CHECK(out[0] == TEST_ENCL_OK && out[1] == TEST_ENCL_MAGIC, "magic %#llx",
	      (unsigned long long)out[1]);
	errno = 0; /* the host's TLS is back */
	return NULL;
}

struct ud_case {
	uint64_t op, arg1, arg2;
	const char *what;
};

/*
 * @c raises an exception inside the enclave that the program's handler
 * cannot fix: SIGILL at the AEP with the AEX's registers, the exception
 * entry reports #UD in EXITINFO, and the handler gives up.
 */
static const char *expect_ud_at_aep(void *arg)
{
	const struct ud_case *c = arg;
	uint64_t tcs = conform_tcs(&encl, my_tcs), out[2] = { ~0ULL, ~0ULL };
	long ret;

	memset(&seen, 0, sizeof(seen));
	seen.give_up = true;
	ret = raw_ecall(tcs, c->op, c->arg1, c->arg2, out);
	CHECK(ret == -1, "%s completed inside the enclave (status %llu, value %#llx) instead of #UD",
	      c->what, (unsigned long long)out[0], (unsigned long long)out[1]);
	CHECK(seen.count == 1 && seen.signo == SIGILL, "%d signals, last %d", seen.count,
	      seen.signo);
	CHECK(seen.rip == (uintptr_t)raw_aep, "RIP %#llx", (unsigned long long)seen.rip);
	CHECK(seen.rax == SGX_ERESUME && seen.rbx == tcs && seen.rcx == (uintptr_t)raw_aep,
	      "AEX state RAX %#llx RBX %#llx RCX %#llx", (unsigned long long)seen.rax,
	      (unsigned long long)seen.rbx, (unsigned long long)seen.rcx);
	CHECK(seen.entry_status == TEST_ENCL_EXCEPTION_ENTRY, "exception entry status %llu",
	      (unsigned long long)seen.entry_status);
	CHECK(seen.exitinfo == 0x80000306, "EXITINFO %#llx, want #UD (0x80000306)",
	      (unsigned long long)seen.exitinfo);
	return NULL;
}

/* Run @body on the main thread with TCS 0, then on a new thread with TCS 1. */
struct tcs_body {
	conform_body body;
	void *arg;
};

static const char *with_tcs1(void *p)
{
	struct tcs_body *b = p;

	my_tcs = 1;
	return b->body(b->arg);
}

static void check_both(conform_body body, void *arg)
{
	struct tcs_body b = { body, arg };

	my_tcs = 0;
	conform_check_here(body, arg);
	fprintf(stderr, "[  NOTE    ] main thread passed; now on a new thread\n");
	conform_check_on_thread(with_tcs1, &b);
}

static void test_raw_eenter_eexit(void **state)
{
	(void)state;
	install_handlers();
	assert_int_equal(conform_build(&encl), 0);
	check_both(plain_calls, NULL);
}

static void test_ud2_sigill_at_aep(void **state)
{
	static const struct ud_case c = { TEST_ENCL_OP_UD2, 0, 0, "UD2" };

	(void)state;
	install_handlers();
	assert_int_equal(conform_build(&encl), 0);
	check_both(expect_ud_at_aep, (void *)&c);
}

static void test_cpuid_in_enclave_is_ud(void **state)
{
	static const struct ud_case c = { TEST_ENCL_OP_CPUID, 0x12, 0, "CPUID" };

	(void)state;
	if (!conform_have_cpuid_faulting())
		conform_skip("no CPUID faulting on this host: CPUID cannot fault inside the enclave");
	install_handlers();
	assert_int_equal(conform_build(&encl), 0);
	check_both(expect_ud_at_aep, (void *)&c);
}

static void test_syscall_in_enclave_is_ud(void **state)
{
	static const struct ud_case c = { TEST_ENCL_OP_SYSCALL, SYS_getppid, 0, "SYSCALL" };

	(void)state;
	if (!conform_have_sud())
		conform_skip("no Syscall User Dispatch on this host: SYSCALL cannot fault inside "
			     "the enclave");
	install_handlers();
	assert_int_equal(conform_build(&encl), 0);
	check_both(expect_ud_at_aep, (void *)&c);
}

/* A #PF the program's SIGSEGV handler fixes: it returns, the AEP resumes. */
static const char *fault_fixed_by_handler(void *arg)
{
	uint64_t tcs = conform_tcs(&encl, my_tcs), out[2] = { ~0ULL, ~0ULL }, page;

	(void)arg;
	CHECK(raw_ecall(tcs, TEST_ENCL_OP_BUFFER, 0, 0, out) == 0 && out[0] == TEST_ENCL_OK,
	      "BUFFER");
	page = (out[1] + 4095) & ~4095ULL;
	CHECK(raw_ecall(tcs, TEST_ENCL_OP_WRITE_U64, page, 0x5e6f, out) == 0 && out[0] == 0,
	      "write");
	CHECK(mprotect((void *)(uintptr_t)page, 4096, PROT_NONE) == 0, "mprotect");
	memset(&seen, 0, sizeof(seen));
	seen.fix_page = (void *)(uintptr_t)page;
	CHECK(raw_ecall(tcs, TEST_ENCL_OP_READ_U64, page, 0, out) == 0, "the enclave did not resume");
	CHECK(out[0] == TEST_ENCL_OK && out[1] == 0x5e6f, "status %llu value %#llx",
	      (unsigned long long)out[0], (unsigned long long)out[1]);
	CHECK(seen.count == 1 && seen.signo == SIGSEGV && seen.rip == (uintptr_t)raw_aep,
	      "%d signals, signal %d at %#llx", seen.count, seen.signo,
	      (unsigned long long)seen.rip);
	CHECK(seen.code == SEGV_ACCERR && seen.addr == page, "si_code %d si_addr %#llx",
	      seen.code, (unsigned long long)seen.addr);
	/*
	 * The handler's exception entry saw the #PF (EXITINFO vector 14,
	 * hardware exception), and the TCS is usable again after the ERESUME.
	 */
	CHECK(seen.entry_status == TEST_ENCL_EXCEPTION_ENTRY && seen.exitinfo == 0x8000030e,
	      "exception entry %llu EXITINFO %#llx", (unsigned long long)seen.entry_status,
	      (unsigned long long)seen.exitinfo);
	CHECK(raw_ecall(tcs, TEST_ENCL_OP_NOP, 0, 0, out) == 0 && out[0] == TEST_ENCL_OK,
	      "NOP after: status %llu", (unsigned long long)out[0]);
	return NULL;
}

static void test_page_fault_fixed_at_aep(void **state)
{
	(void)state;
	install_handlers();
	assert_int_equal(conform_build(&encl), 0);
	check_both(fault_fixed_by_handler, NULL);
}

/* ---- A timer signal while the enclave runs. ---- */

static atomic_int at_aep, elsewhere;
static volatile uint64_t spin_stop;

#define TICKS_AT_AEP 20

static void on_alarm(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig, (void)si;
	if ((uint64_t)uc->uc_mcontext.gregs[REG_RIP] == (uintptr_t)raw_aep)
		atomic_fetch_add(&at_aep, 1);
	else
		atomic_fetch_add(&elsewhere, 1);
	/* Enough seen, or clearly never at the AEP: let the enclave finish. */
	if (atomic_load(&at_aep) >= TICKS_AT_AEP || atomic_load(&elsewhere) >= 2000)
		spin_stop = 1;
}

static const char *spin_under_timer(void *arg)
{
	bool per_thread = arg != NULL;
	uint64_t tcs = conform_tcs(&encl, my_tcs), out[2] = { ~0ULL, ~0ULL };
	struct itimerspec its = { .it_interval = { 0, 200000 }, .it_value = { 0, 200000 } };
	struct itimerval itv = { .it_interval = { 0, 200 }, .it_value = { 0, 200 } };
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGALRM };
	timer_t timer;
	long ret;

	atomic_store(&at_aep, 0);
	atomic_store(&elsewhere, 0);
	spin_stop = 0;
	if (per_thread) {
		sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
		CHECK(timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0, "timer_create");
		CHECK(timer_settime(timer, 0, &its, NULL) == 0, "timer_settime");
	} else {
		CHECK(setitimer(ITIMER_REAL, &itv, NULL) == 0, "setitimer");
	}
	ret = raw_ecall(tcs, TEST_ENCL_OP_SPIN, (uintptr_t)&spin_stop, 1ULL << 31, out);
	if (per_thread) {
		timer_delete(timer);
	} else {
		memset(&itv, 0, sizeof(itv));
		setitimer(ITIMER_REAL, &itv, NULL);
	}
	CHECK(ret == 0, "the enclave did not finish");
	CHECK(out[0] == TEST_ENCL_OK, "status %llu (5: registers changed under the enclave)",
	      (unsigned long long)out[0]);
	CHECK(atomic_load(&at_aep) >= TICKS_AT_AEP,
	      "%d signals at the AEP, %d elsewhere: no AEX before the handler", atomic_load(&at_aep),
	      atomic_load(&elsewhere));
	return NULL;
}

static void test_timer_signal_at_aep(void **state)
{
	struct sigaction sa = { .sa_sigaction = on_alarm, .sa_flags = SA_SIGINFO | SA_RESTART };

	(void)state;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	install_handlers();
	assert_int_equal(conform_build(&encl), 0);
	my_tcs = 0;
	conform_check_here(spin_under_timer, NULL);
	fprintf(stderr, "[  NOTE    ] main thread passed; now on a new thread\n");
	{
		struct tcs_body b = { spin_under_timer, (void *)1 };

		conform_check_on_thread(with_tcs1, &b);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw_eenter_eexit),
		cmocka_unit_test(test_ud2_sigill_at_aep),
		cmocka_unit_test(test_cpuid_in_enclave_is_ud),
		cmocka_unit_test(test_syscall_in_enclave_is_ud),
		cmocka_unit_test(test_page_fault_fixed_at_aep),
		cmocka_unit_test(test_timer_signal_at_aep),
	};

	shim_test_reexec(argc, argv, NULL);
	return conform_main_encl("raw_enclu_style", tests, sizeof(tests) / sizeof(tests[0]), &encl,
				 "SOFTSGX_TEST_ENCLAVE");
}
