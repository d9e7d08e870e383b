// SPDX-License-Identifier: MIT
/*
 * Instructions that are illegal in enclave mode and would enter the kernel
 * (issue 13, item 2): SYSCALL inside an enclave raises #UD through an AEX,
 * as on hardware (SDM Vol. 3D, "Illegal Instructions"), instead of making
 * the system call. Through the vDSO it is reported in struct
 * sgx_enclave_run (exception_vector 6); a program with its own AEP gets
 * SIGILL with the ucontext at its AEP. The mechanism is Syscall User
 * Dispatch: on a kernel without it the tests are skipped, saying so.
 *
 * Also the rule the shim follows for a fault the program blocks: an
 * exception inside an enclave entered by the program's own ENCLU, with
 * SIGILL blocked, kills it with SIGILL as Linux's force_sig_fault() does
 * (while the same program's ENCLU keeps working under that mask).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/shim/host_probe.h"
#include "tests/shim/new_thread.h"
#include "tests/shim/asm_frame.h"
#include "tests/shim/shim_test.h"
#include "tests/shim/encl_helper.h"

#define X86_TRAP_UD 6

static const char *const run_opts[] = { "--epc", "1M", "--sections", "1", NULL };

#define REQUIRE_SUD()                                                                       \
	do {                                                                                \
		if (!host_has_sud()) {                                                      \
			fprintf(stderr, "skipped: the kernel has no Syscall User Dispatch\n"); \
			skip();                                                             \
		}                                                                           \
	} while (0)

static void syscall_is_ud(unsigned int tcs)
{
	struct vdso_record c;

	assert_int_equal(th_ecall(&encl, tcs, TEST_ENCL_OP_SYSCALL, SYS_getpid, 0, &c), 0);
	if (c.exits)
		fail_msg("SYSCALL ran inside the enclave: status %ld value %ld", c.status, c.value);
	assert_int_equal(c.exceptions, 1);
	assert_int_equal(c.vector, X86_TRAP_UD);
	assert_int_equal(c.addr, 0);
}

static void test_syscall_in_enclave_is_ud_vdso(void **state)
{
	(void)state;
	REQUIRE_SUD();
	syscall_is_ud(0);
	/* The host's own system calls are untouched. */
	assert_int_equal(syscall(SYS_getpid), getpid());
	th_ecall_ok(&encl, 1, TEST_ENCL_OP_NOP, 0, 0);
}

static void *syscall_thread(void *arg)
{
	(void)arg;
	syscall_is_ud(1);
	assert_int_equal(syscall(SYS_gettid), gettid());
	return NULL;
}

static void test_syscall_in_enclave_is_ud_new_thread(void **state)
{
	(void)state;
	REQUIRE_SUD();
	run_on_new_thread(syscall_thread, NULL);
}

/*
 * raw_eenter(tcs, op, arg1): EENTER by the program's own ENCLU with
 * AEP = raw_aep (an ENCLU: ERESUME, as runtimes do); returns RDI at EEXIT.
 */
extern long raw_eenter(uint64_t tcs, uint64_t op, uint64_t arg1);
extern const char raw_aep[];
__asm__(".text\n"
	".globl raw_eenter, raw_aep\n"
	".hidden raw_eenter, raw_aep\n"
	".type raw_eenter, @function\n"
	"raw_eenter:\n"
	ASM_SAVE_CALLEE_SAVED
	"	mov %rdi, %rbx\n"
	"	mov %rsi, %rdi\n"
	"	mov %rdx, %rsi\n"
	"	xor %edx, %edx\n"
	"	lea raw_aep(%rip), %rcx\n"
	"	mov $2, %eax\n"
	"	.byte 0x0f, 0x01, 0xd7\n"
	"	jmp 1f\n"
	"raw_aep:\n"
	"	.byte 0x0f, 0x01, 0xd7\n"
	"1:	mov %rdi, %rax\n"
	ASM_RESTORE_CALLEE_SAVED
	"	ret\n"
	".size raw_eenter, .-raw_eenter\n");

static sigjmp_buf raw_env;
static struct {
	int sig, code;
	uintptr_t rip, rax, rbx, rcx;
} raw_seen;

static void raw_sigill(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	raw_seen.sig = sig;
	raw_seen.code = si->si_code;
	raw_seen.rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	raw_seen.rax = (uintptr_t)uc->uc_mcontext.gregs[REG_RAX];
	raw_seen.rbx = (uintptr_t)uc->uc_mcontext.gregs[REG_RBX];
	raw_seen.rcx = (uintptr_t)uc->uc_mcontext.gregs[REG_RCX];
	siglongjmp(raw_env, 1);
}

static void test_syscall_in_enclave_sigill_at_own_aep(void **state)
{
	struct sigaction sa = { .sa_sigaction = raw_sigill, .sa_flags = SA_SIGINFO }, old;
	uint64_t tcs = encl.h.base + enclave_image_tcs_offset(&th_image, 0);

	(void)state;
	REQUIRE_SUD();
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGILL, &sa, &old), 0);
	memset(&raw_seen, 0, sizeof(raw_seen));
	if (!sigsetjmp(raw_env, 1)) {
		long st = raw_eenter(tcs, TEST_ENCL_OP_SYSCALL, SYS_getpid);

		sigaction(SIGILL, &old, NULL);
		fail_msg("SYSCALL ran inside the enclave: status %ld", st);
	}
	assert_int_equal(sigaction(SIGILL, &old, NULL), 0);
	assert_int_equal(raw_seen.sig, SIGILL);
	assert_int_equal(raw_seen.code, ILL_ILLOPN);
	/* The AEX's synthetic state: RIP = RCX = AEP, RAX = ERESUME, RBX = TCS. */
	assert_int_equal(raw_seen.rip, (uintptr_t)raw_aep);
	assert_int_equal(raw_seen.rcx, (uintptr_t)raw_aep);
	assert_int_equal(raw_seen.rax, SGX_ERESUME);
	assert_int_equal(raw_seen.rbx, tcs);
}

static void test_blocked_fault_inside_kills(void **state)
{
	uint64_t tcs = encl.h.base + enclave_image_tcs_offset(&th_image, 0);
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		sigset_t ill;

		sigemptyset(&ill);
		sigaddset(&ill, SIGILL);
		sigprocmask(SIG_BLOCK, &ill, NULL);
		/* ENCLU works whatever the mask: a NOP round trip. */
		if (raw_eenter(tcs, TEST_ENCL_OP_NOP, 0) != TEST_ENCL_OK)
			_exit(2);
		raw_eenter(tcs, TEST_ENCL_OP_UD2, 0);
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGILL)
		fail_msg("child: status 0x%x, not killed by SIGILL", status);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		th_unit_test(test_syscall_in_enclave_is_ud_vdso),
		th_unit_test(test_syscall_in_enclave_is_ud_new_thread),
		th_unit_test(test_syscall_in_enclave_sigill_at_own_aep),
		th_unit_test(test_blocked_fault_inside_kills),
	};

	shim_test_reexec(argc, argv, run_opts);
	if (getenv("SOFTSGX_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SOFTSGX_TEST_FILTER"));
	if (th_prepare())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
