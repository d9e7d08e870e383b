// SPDX-License-Identifier: MIT
/*
 * The cost of an ECALL on the emulated platform: EENTER into an enclave whose
 * entry point EEXITs at once, back to the caller. The program is an ordinary
 * one, as a user's is: it re-executes itself with SOFTSGX_PRELOAD (the shim,
 * libsoftsgx-preload.so) in LD_PRELOAD, builds the enclave through
 * open/ioctl/mmap of /dev/sgx_enclave, and enters it
 *
 *   through the vDSO   __vdso_sgx_enter_enclave, found through
 *                      getauxval(AT_SYSINFO_EHDR), as the SDK's urts does;
 *   by raw ENCLU       EENTER by the program's own instruction, the enclave
 *                      EEXITs to the instruction after it.
 *
 * The vDSO is the shim's own code: it enters the enclave by a direct call
 * into the model (shim/vdso_direct.c), so an ECALL through it costs one
 * trap, the enclave's EEXIT; a program's own ENCLU costs two (EENTER and
 * EEXIT). The limits, measured in the same run and process:
 *
 *   ENCLU trap         ENCLU with an undefined leaf, a handler that steps RIP
 *                      over it, rt_sigreturn, handler installed straight in
 *                      the kernel: exactly the trap every emulated ENCLU pays
 *                      on this CPU (#UD, SIGILL, without SGX; #GP, SIGSEGV,
 *                      with SGX present but disabled, as in many VMs). Goal
 *                      for the vDSO's ECALL: at most 1.2 times it; the raw
 *                      ENCLU's ideal is 2.
 *   SIGSEGV round trip HLT (#GP in user mode, SIGSEGV), the same kind of
 *                      handler: the mechanism's floor, against which the
 *                      ENCLU trap itself is measured (ideal 1).
 *   SIGILL round trip  ud2 to such a handler, and the same ud2 to a handler
 *                      installed with sigaction(), which the shim owns and
 *                      passes on: the shim's share of a foreign trap.
 *   function call      a noinline function called through a volatile
 *                      pointer: what an ECALL is to the program's code.
 *
 * Each figure is the median of BENCH_ROUNDS batches (BATCH round trips each; the
 * function call CALL_BATCH), a batch of every figure in turn per round so
 * that all see the same machine. Times are per round trip, in µs. Output:
 * context lines and one markdown row per figure, "| figure | value | limit |
 * ratio |", collected into bench/results.md by bench/run-benchmarks; since
 * the values are times, the ratio is value time / limit time: how many
 * times the limit the figure costs.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define BENCH_NAME	"bench_ecall"
#define BENCH_CHILD_ENV "SOFTSGX_BENCH_ECALL_CHILD"
#define BENCH_EEXIT_ENCLAVE
#include "bench/bench_enclave.h"

#define BATCH	   2000
#define CALL_BATCH 1000000

/* ELRANGE of the image's 4 pages: 0 TCS, 1 code (RX), 2 SSA, 3 FS/GS page. */
#define ENCL_SIZE (BENCH_IMAGE_PAGES * SGX_PAGE_SIZE)

static volatile unsigned long sink;

static int ecall_raw(struct bench_enclave *e, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		void *rbx = e->base;

		/* EENTER with RCX = the AEP; the enclave EEXITs to RCX as entered. */
		__asm__ volatile("lea	1f(%%rip), %%rcx\n\t"
				 "mov	$2, %%eax\n\t"
				 ".byte	0x0f, 0x01, 0xd7\n"
				 "1:"
				 : "+b"(rbx)
				 :
				 : "rax", "rcx", "r12", "r13", "r14", "r15", "memory", "cc");
	}
	return 0;
}

static void skip_ud2(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_RIP] += 2;
}

static void skip_hlt(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_RIP] += 1;
}

/* HLT in user mode: #GP, SIGSEGV, straight to skip_hlt(). */
static int sigsegv_kernel(struct bench_enclave *e, unsigned int n)
{
	struct kernel_sigaction shim;

	(void)e;
	if (swap_handler(SIGSEGV, (void *)skip_hlt, &shim))
		return -1;
	for (unsigned int i = 0; i < n; i++)
		__asm__ volatile("hlt" ::: "memory");
	return restore_handler(SIGSEGV, &shim);
}

static void ud2_loop(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		__asm__ volatile("ud2" ::: "memory");
}

/* SIGILL delivered by the kernel straight to skip_ud2(), the shim out of the way. */
static int sigill_kernel(struct bench_enclave *e, unsigned int n)
{
	struct kernel_sigaction shim;

	(void)e;
	if (swap_handler(SIGILL, (void *)skip_ud2, &shim))
		return -1;
	ud2_loop(n);
	return restore_handler(SIGILL, &shim);
}

/* SIGILL to a handler installed as programs do; the shim passes it on. */
static int sigill_shim(struct bench_enclave *e, unsigned int n)
{
	struct sigaction sa = {.sa_sigaction = skip_ud2, .sa_flags = SA_SIGINFO};
	struct sigaction old;

	(void)e;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGILL, &sa, &old))
		return fail("sigaction: %m");
	ud2_loop(n);
	if (sigaction(SIGILL, &old, NULL))
		return fail("sigaction: %m");
	return 0;
}

static __attribute__((noinline)) unsigned long plain_function(unsigned long x)
{
	__asm__ volatile("");
	return x + 1;
}

static unsigned long (*volatile plain_function_ptr)(unsigned long) = plain_function;

static int function_call(struct bench_enclave *e, unsigned int n)
{
	unsigned long x = 0;

	(void)e;
	for (unsigned int i = 0; i < n; i++)
		x = plain_function_ptr(x);
	sink = x;
	return 0;
}

enum { VDSO, RAW, ENCLU_TRAP, SIGSEGV_KERNEL, SIGILL_KERNEL, SIGILL_SHIM, CALL, NR_FIGURES };

static struct bench_figure figures[NR_FIGURES] = {
	[VDSO] = {bench_ecall_vdso, BATCH},
	[RAW] = {ecall_raw, BATCH},
	[ENCLU_TRAP] = {bench_enclu_trap, BATCH}, /* ENCLU trap, kernel only */
	[SIGSEGV_KERNEL] = {sigsegv_kernel, BATCH},
	[SIGILL_KERNEL] = {sigill_kernel, BATCH},
	[SIGILL_SHIM] = {sigill_shim, BATCH}, /* SIGILL through the shim */
	[CALL] = {function_call, CALL_BATCH},
};

/* Times: the ratio is value / limit, the figure's cost in limits. */
static void row(const char *figure, int value, const char *limit_name, int limit, const char *note)
{
	printf("| %s | %.3g µs | %.3g µs (%s) | %.3g (value time / limit time%s) |\n", figure,
	       figures[value].median, figures[limit].median, limit_name,
	       figures[value].median / figures[limit].median, note);
}

int main(int argc, char **argv)
{
	struct bench_enclave e = {.fd = -1};
	const char *profile;
	int ret;

	(void)argc;
	reexec_under_shim(argv);
	ret = bench_setup(&e, ENCL_SIZE, bench_encl_entry,
			  (size_t)(bench_encl_entry_end - bench_encl_entry), NULL, 0);
	if (!ret && (profile = getenv("SOFTSGX_BENCH_ECALL_PROFILE"))) {
		/*
		 * `perf record` of the ECALL alone: that many vDSO ECALLs and
		 * nothing else (the enclave's signing key dominates the rest).
		 */
		unsigned int n = (unsigned int)strtoul(profile, NULL, 0);
		double t0 = now();

		ret = bench_ecall_vdso(&e, n);
		if (!ret && n)
			printf("bench_ecall: %u ECALLs through the vDSO, %.3f µs each\n", n,
			       (now() - t0) * 1e6 / n);
		bench_teardown(&e, ENCL_SIZE);
		return ret ? 1 : 0;
	}
	if (!ret)
		ret = bench_measure(&e, figures, NR_FIGURES);
	bench_teardown(&e, ENCL_SIZE);
	if (ret)
		return 1;

	printf("bench_ecall: median of %d batches of %d round trips (function call: %d), "
	       "µs per round trip\n",
	       BENCH_ROUNDS, BATCH, CALL_BATCH);
	printf("bench_ecall: ECALL via the vDSO %.3f, by raw ENCLU %.3f; ENCLU trap kernel only "
	       "%.3f; SIGSEGV (hlt) kernel only %.3f; SIGILL kernel only %.3f, through the shim "
	       "%.3f; function call %.5f\n",
	       figures[VDSO].median, figures[RAW].median, figures[ENCLU_TRAP].median,
	       figures[SIGSEGV_KERNEL].median, figures[SIGILL_KERNEL].median,
	       figures[SIGILL_SHIM].median, figures[CALL].median);
	printf("bench_ecall: through the vDSO an ECALL is one trap (EEXIT; EENTER is a call into "
	       "the model), by raw ENCLU two (EENTER, EEXIT)\n");
	row("ECALL round trip through __vdso_sgx_enter_enclave (direct entry, EEXIT trap)", VDSO,
	    "one ENCLU trap round trip: undefined leaf, handler steps RIP, rt_sigreturn",
	    ENCLU_TRAP, "; goal <= 1.2");
	row("ECALL round trip by raw ENCLU (EENTER and EEXIT trap)", RAW,
	    "one ENCLU trap round trip: undefined leaf, handler steps RIP, rt_sigreturn",
	    ENCLU_TRAP, "; ideal 2");
	row("One ENCLU trap round trip (undefined leaf, handler steps RIP)", ENCLU_TRAP,
	    "one bare SIGSEGV round trip: hlt (#GP), handler steps RIP, rt_sigreturn",
	    SIGSEGV_KERNEL, "; floor 1");
	row("ECALL round trip through the vDSO, against a plain call", VDSO,
	    "noinline function call through a volatile pointer", CALL, "");
	row("SIGILL round trip to the program's sigaction handler (the shim passes it on)",
	    SIGILL_SHIM, "the same SIGILL round trip, handler installed straight in the kernel",
	    SIGILL_KERNEL, "; ideal 1");
	return 0;
}
