// SPDX-License-Identifier: MIT
/*
 * The cost of a heap page that grows by fault on SGX2, per page: enclave
 * code EACCEPTs the next page past its image (PENDING | REG | R | W, as the
 * SDK's trts and Linux's selftests do), the EACCEPT faults because no page is
 * there yet, the kernel's fault handler EAUGs one (a zeroed PENDING page,
 * mapped), ERESUME retries the EACCEPT, which succeeds, and the enclave
 * writes the page. The program is an ordinary one: it re-executes itself with
 * SOFTSGX_PRELOAD in LD_PRELOAD, builds the enclave through /dev/sgx_enclave
 * and enters it through __vdso_sgx_enter_enclave.
 *
 * The limit, measured in the same run and process: the same mechanism with
 * no SGX work. A page of a PROT_NONE reservation is written; the fault
 * arrives as SIGSEGV at a handler installed straight in the kernel (the
 * shim's flags and restorer, only the handler swapped), which maps a fresh
 * page of a memfd there (mmap MAP_SHARED | MAP_FIXED, as the model's page
 * table entry is) and returns; the write retries, and the host kernel
 * allocates and zeroes the memfd page. That is what any user-space page
 * that appears on a fault costs on this machine: the signal round trip, one
 * mmap, one page allocation and zeroing. The emulated path adds at least the
 * two ENCLU traps of the EACCEPT (it traps, faults, and is executed again),
 * so a second row sets the value against the limit plus two ENCLU trap
 * round trips (undefined leaf, handler steps RIP, rt_sigreturn), also
 * measured here.
 *
 * Each figure is the median of BENCH_ROUNDS batches of BATCH pages (the enclave's
 * heap and the reservation grow by BATCH pages per batch; pages are never
 * given back, so every batch pays for fresh pages). Output as bench_ecall:
 * context lines and markdown rows for bench/run-benchmarks; times in µs per
 * page, ratio = limit time / value time.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BENCH_NAME	"bench_eaug"
#define BENCH_CHILD_ENV "SOFTSGX_BENCH_EAUG_CHILD"
#include "bench/bench_enclave.h"

#define BATCH 128
#define TRAPS 2000

/* Image: 0 TCS, 1 code (RX), 2 SSA, 3 data (SECINFO, FS/GS); the heap after. */
#define IMAGE_PAGES BENCH_IMAGE_PAGES
#define HEAP_PAGES  ((BENCH_ROUNDS + 1) * BATCH)
#define ENCL_SIZE   (32ULL << 20) /* a power of two above IMAGE_PAGES + HEAP_PAGES */
#define PENDING_RW  (SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_PENDING)

_Static_assert((IMAGE_PAGES + HEAP_PAGES) * SGX_PAGE_SIZE <= ENCL_SIZE, "heap beyond ELRANGE");

/*
 * The enclave: RDI = first heap page, RSI = pages, RDX = SECINFO. For each
 * page EACCEPT (RBX = SECINFO, RCX = page), stop on an error, write the
 * page. EEXIT to the caller with RSI = 0, or the EACCEPT error code.
 */
extern const uint8_t bench_eaug_encl[], bench_eaug_encl_end[];
__asm__(".pushsection .rodata\n"
	"bench_eaug_encl:\n"
	"	mov	%rcx, %r10\n" /* where EENTER came from */
	"	mov	%rdx, %r11\n"
	"1:	test	%rsi, %rsi\n"
	"	jz	2f\n"
	"	mov	%r11, %rbx\n"
	"	mov	%rdi, %rcx\n"
	"	mov	$5, %eax\n"		/* EACCEPT */
	"	.byte	0x0f, 0x01, 0xd7\n"	/* ENCLU */
	"	test	%eax, %eax\n"
	"	jnz	3f\n"
	"	movq	$1, (%rdi)\n"
	"	add	$4096, %rdi\n"
	"	dec	%rsi\n"
	"	jmp	1b\n"
	"3:	mov	%rax, %rsi\n"
	"2:	mov	%r10, %rbx\n"
	"	mov	$4, %eax\n"		/* EEXIT */
	"	.byte	0x0f, 0x01, 0xd7\n"
	"bench_eaug_encl_end:\n"
	".popsection\n");

/* The limit's own memory: a reservation, the memfd its pages come from. */
static uint8_t *plain_area;
static unsigned int plain_next;
static int plain_memfd = -1;

/* BATCH heap pages EAUG'd by fault and EACCEPTed, in one ECALL. */
static int grow_enclave(struct bench_enclave *e, unsigned int n)
{
	struct sgx_enclave_run run;
	long ret;

	if (e->next + n > IMAGE_PAGES + HEAP_PAGES)
		return fail("heap exhausted");
	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e->base;
	ret = bench_vdso_eenter(vdso_eenter, &run,
				(uintptr_t)e->base + (uint64_t)e->next * SGX_PAGE_SIZE, n,
				(uintptr_t)e->base + 3 * SGX_PAGE_SIZE);
	if (ret)
		return fail("growing the heap: %ld (vDSO leaf %u, vector %u, error code %#x, "
			    "address %#llx)",
			    ret, run.function, run.exception_vector, run.exception_error_code,
			    (unsigned long long)run.exception_addr);
	e->next += n;
	return 0;
}

/* The limit's fault: a fresh memfd page mapped where the write faulted. */
static void map_on_fault(int sig, siginfo_t *si, void *ucv)
{
	uint8_t *page = (uint8_t *)((uintptr_t)si->si_addr & ~(uintptr_t)(SGX_PAGE_SIZE - 1));

	(void)sig;
	(void)ucv;
	if (page < plain_area || page >= plain_area + (size_t)HEAP_PAGES * SGX_PAGE_SIZE ||
	    mmap(page, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, plain_memfd,
		 page - plain_area) != page)
		abort();
}

static int grow_plain(struct bench_enclave *e, unsigned int n)
{
	struct kernel_sigaction shim;

	(void)e;
	if (plain_next + n > HEAP_PAGES)
		return fail("reservation exhausted");
	if (swap_handler(SIGSEGV, (void *)map_on_fault, &shim))
		return -1;
	for (unsigned int i = 0; i < n; i++)
		*(volatile uint64_t *)(plain_area + (size_t)(plain_next + i) * SGX_PAGE_SIZE) = 1;
	plain_next += n;
	return restore_handler(SIGSEGV, &shim);
}

enum { EAUG, PLAIN, TRAP, NR_FIGURES };

static struct bench_figure figures[NR_FIGURES] = {
	[EAUG] = {grow_enclave, BATCH},
	[PLAIN] = {grow_plain, BATCH},
	[TRAP] = {bench_enclu_trap, TRAPS},
};

int main(int argc, char **argv)
{
	struct bench_enclave e = {.fd = -1};
	struct sgx_secinfo secinfo = {.flags = PENDING_RW};
	double value, plain, with_traps;
	int ret;

	(void)argc;
	reexec_under_shim(argv);
	plain_area = reserve_aligned((size_t)HEAP_PAGES * SGX_PAGE_SIZE * 2);
	plain_memfd = memfd_create("bench_eaug", 0);
	if (!plain_area || plain_memfd < 0 ||
	    ftruncate(plain_memfd, (off_t)HEAP_PAGES * SGX_PAGE_SIZE)) {
		fail("the limit's memory: %m");
		return 1;
	}
	/* The SECINFO of EACCEPT, at the data page's start. */
	ret = bench_setup(&e, ENCL_SIZE, bench_eaug_encl,
			  (size_t)(bench_eaug_encl_end - bench_eaug_encl), &secinfo,
			  sizeof(secinfo));
	if (!ret)
		ret = bench_measure(&e, figures, NR_FIGURES);
	bench_teardown(&e, ENCL_SIZE);
	if (ret)
		return 1;

	value = figures[EAUG].median;
	plain = figures[PLAIN].median;
	with_traps = plain + 2 * figures[TRAP].median;
	printf("bench_eaug: median of %d batches of %d pages (ENCLU trap: %d), µs per page\n",
	       BENCH_ROUNDS, BATCH, TRAPS);
	printf("bench_eaug: EAUG by fault + EACCEPT %.3f; fault + mmap of a fresh memfd page %.3f; "
	       "ENCLU trap round trip %.3f\n",
	       value, plain, figures[TRAP].median);
	printf("| EAUG+EACCEPT per page (a heap growing by fault: EACCEPT faults, EAUG, ERESUME, "
	       "EACCEPT, write) | %.3g µs | %.3g µs (the same growth without SGX: write to a "
	       "PROT_NONE page, SIGSEGV, mmap of a fresh memfd page, rt_sigreturn, write) | "
	       "%.2g (limit time / value time) |\n",
	       value, plain, plain / value);
	printf("| EAUG+EACCEPT per page, against the fault limit plus the two ENCLU traps of the "
	       "EACCEPT | %.3g µs | %.3g µs (the row above + 2 ENCLU trap round trips) | %.2g "
	       "(limit time / value time; ideal 1) |\n",
	       value, with_traps, with_traps / value);
	return 0;
}
