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
 * The limits, measured in the same run and process:
 *
 *   ENCLU trap         ENCLU with an undefined leaf, a handler that steps RIP
 *                      over it, rt_sigreturn, handler installed straight in
 *                      the kernel: exactly the trap every emulated ENCLU pays
 *                      on this CPU (#UD, SIGILL, without SGX; #GP, SIGSEGV,
 *                      with SGX present but disabled, as in many VMs, where
 *                      #UD can cost several times more). An ECALL is two of
 *                      them (EENTER, EEXIT): a perfect emulation reaches 0.5.
 *   SIGILL round trip  ud2, a handler that steps RIP over it, rt_sigreturn,
 *                      with the handler installed straight in the kernel
 *                      (the shim's own flags and restorer, only the handler
 *                      swapped for a moment): the trap every emulated ENCLU
 *                      pays. An ECALL is two of them (EENTER, EEXIT), so a
 *                      perfect emulation reaches a ratio of 0.5.
 *   function call      a noinline function called through a volatile
 *                      pointer: what an ECALL is to the program's code.
 *
 * and, for the shim's own share of a foreign trap, the same ud2 round trip
 * to a handler installed with sigaction(): the shim owns SIGILL and passes
 * it on.
 *
 * Each figure is the median of ROUNDS batches (BATCH round trips each; the
 * function call CALL_BATCH), a batch of every figure in turn per round so
 * that all see the same machine. Times are per round trip, in µs. Output:
 * context lines and one markdown row per figure, "| figure | value | limit |
 * ratio |", collected into bench/results.md by bench/run-benchmarks; since
 * the values are times, the ratio is limit time / value time.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "lib/sigstruct_sign.h"
#include "measure.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"

#define CHILD_ENV  "SOFTSGX_BENCH_ECALL_CHILD"
#define BATCH	   2000
#define CALL_BATCH 1000000
#define ROUNDS	   15

/* ELRANGE of 4 pages: 0 TCS, 1 code (RX), 2 SSA, 3 FS/GS page. */
#define ENCL_PAGES 4
#define ENCL_SIZE  (ENCL_PAGES * SGX_PAGE_SIZE)

/* The whole enclave: RBX = RCX (the instruction after EENTER), EEXIT. */
extern const uint8_t bench_encl_entry[], bench_encl_entry_end[];
__asm__(".pushsection .rodata\n"
	"bench_encl_entry:\n"
	"	mov	%rcx, %rbx\n"
	"	mov	$4, %eax\n"	    /* EEXIT */
	"	.byte	0x0f, 0x01, 0xd7\n" /* ENCLU */
	"bench_encl_entry_end:\n"
	".popsection\n");

/*
 * int bench_vdso_eenter(vdso_sgx_enter_enclave_t fn, struct sgx_enclave_run *run):
 * fn(0, 0, 0, EENTER, 0, 0, run). An AEX would zero R12-R15, and the vDSO
 * keeps only RBX and RBP, so the callee-saved registers are kept here.
 */
extern int bench_vdso_eenter(vdso_sgx_enter_enclave_t fn, struct sgx_enclave_run *run);
__asm__(".text\n"
	".globl	bench_vdso_eenter\n"
	".hidden bench_vdso_eenter\n"
	".type	bench_vdso_eenter, @function\n"
	"bench_vdso_eenter:\n"
	"	push	%rbp\n"
	"	push	%rbx\n"
	"	push	%r12\n"
	"	push	%r13\n"
	"	push	%r14\n"
	"	push	%r15\n"
	"	push	%rsi\n" /* @run: the 7th argument, on top at the call */
	"	mov	%rdi, %rax\n"
	"	xor	%edi, %edi\n"
	"	xor	%esi, %esi\n"
	"	xor	%edx, %edx\n"
	"	mov	$2, %ecx\n" /* EENTER */
	"	xor	%r8d, %r8d\n"
	"	xor	%r9d, %r9d\n"
	"	call	*%rax\n"
	"	add	$8, %rsp\n"
	"	pop	%r15\n"
	"	pop	%r14\n"
	"	pop	%r13\n"
	"	pop	%r12\n"
	"	pop	%rbx\n"
	"	pop	%rbp\n"
	"	ret\n"
	".size	bench_vdso_eenter, .-bench_vdso_eenter\n");

struct enclave {
	int fd;
	uint8_t *base;
};

static uint8_t page_buf[SGX_PAGE_SIZE] __attribute__((aligned(SGX_PAGE_SIZE)));
static struct sgx_sigstruct sigstruct __attribute__((aligned(SGX_PAGE_SIZE)));
static vdso_sgx_enter_enclave_t vdso_eenter;
static volatile unsigned long sink;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_ecall: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Become this program again with the shim preloaded, as `softsgx run` does. */
static void reexec_under_shim(char **argv)
{
	const char *lib = getenv("SOFTSGX_PRELOAD");
	const char *old = getenv("LD_PRELOAD");
	char *preload;

	if (getenv(CHILD_ENV))
		return;
	if (!lib || !*lib) {
		fail("SOFTSGX_PRELOAD must name libsoftsgx-preload.so (make bench sets it)");
		exit(1);
	}
	if (old && *old) {
		if (asprintf(&preload, "%s:%s", lib, old) < 0)
			exit(1);
	} else {
		preload = strdup(lib);
	}
	if (!preload || setenv("LD_PRELOAD", preload, 1) || setenv(CHILD_ENV, "1", 1)) {
		perror("bench_ecall: setenv");
		exit(1);
	}
	fflush(NULL);
	execv("/proc/self/exe", argv);
	perror("bench_ecall: execv /proc/self/exe");
	exit(1);
}

/* A symbol of the vDSO: its ELF header from the auxiliary vector, then DT_HASH. */
static void *vdso_sym(const char *name)
{
	const Elf64_Ehdr *ehdr = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Phdr *phdr;
	const Elf64_Dyn *dyn = NULL;
	const Elf64_Word *hash = NULL;
	const Elf64_Sym *symtab = NULL;
	const char *strtab = NULL;
	uintptr_t bias = 0;
	bool have_bias = false;

	if (!ehdr)
		return NULL;
	phdr = (const Elf64_Phdr *)((uintptr_t)ehdr + ehdr->e_phoff);
	for (unsigned int i = 0; i < ehdr->e_phnum; i++) {
		if (phdr[i].p_type == PT_LOAD && !have_bias) {
			bias = (uintptr_t)ehdr + phdr[i].p_offset - phdr[i].p_vaddr;
			have_bias = true;
		} else if (phdr[i].p_type == PT_DYNAMIC) {
			dyn = (const Elf64_Dyn *)((uintptr_t)ehdr + phdr[i].p_offset);
		}
	}
	if (!dyn || !have_bias)
		return NULL;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_HASH:
			hash = (const Elf64_Word *)(bias + dyn->d_un.d_ptr);
			break;
		case DT_SYMTAB:
			symtab = (const Elf64_Sym *)(bias + dyn->d_un.d_ptr);
			break;
		case DT_STRTAB:
			strtab = (const char *)(bias + dyn->d_un.d_ptr);
			break;
		}
	}
	if (!hash || !symtab || !strtab)
		return NULL;
	/* hash[1] is nchain, the number of entries of the symbol table. */
	for (Elf64_Word i = 1; i < hash[1]; i++) {
		const Elf64_Sym *s = &symtab[i];

		if (ELF64_ST_TYPE(s->st_info) == STT_FUNC && s->st_shndx != SHN_UNDEF &&
		    !strcmp(strtab + s->st_name, name))
			return (void *)(bias + s->st_value);
	}
	return NULL;
}

/* SOFTSGX_TEST_KEY if set, else a fresh RSA-3072 key with e = 3, in memory. */
static EVP_PKEY *signing_key(void)
{
	const char *path = getenv("SOFTSGX_TEST_KEY");
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx;
	BIGNUM *e;

	if (path && *path) {
		if (sgx_sign_load_key(path, &key)) {
			fail("signing key %s: %s", path, sgx_sign_error());
			return NULL;
		}
		return key;
	}
	ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
	e = BN_new();
	if (!ctx || !e || !BN_set_word(e, SGX_SIGN_KEY_EXPONENT) ||
	    EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, SGX_SIGN_KEY_BITS) <= 0 ||
	    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) <= 0 || EVP_PKEY_keygen(ctx, &key) <= 0) {
		fail("RSA-%d key generation failed", SGX_SIGN_KEY_BITS);
		EVP_PKEY_free(key);
		key = NULL;
	}
	BN_free(e);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static int add_page(struct enclave *e, unsigned int page, uint64_t flags, struct sgx_measurement *m)
{
	struct sgx_secinfo secinfo = {.flags = flags};
	struct sgx_enclave_add_pages add = {
		.src = (uintptr_t)page_buf,
		.offset = (uint64_t)page * SGX_PAGE_SIZE,
		.length = SGX_PAGE_SIZE,
		.secinfo = (uintptr_t)&secinfo,
		.flags = SGX_PAGE_MEASURE,
	};

	if (ioctl(e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add))
		return fail("SGX_IOC_ENCLAVE_ADD_PAGES of page %u: %m", page);
	sgx_measure_eadd(m, add.offset, &secinfo);
	for (unsigned int off = 0; off < SGX_PAGE_SIZE; off += SGX_EEXTEND_CHUNK)
		sgx_measure_eextend(m, add.offset + off, page_buf + off);
	return 0;
}

/* An ELRANGE-aligned hole of ENCL_SIZE, kept reserved until the enclave maps it. */
static uint8_t *reserve_elrange(void)
{
	uint8_t *area, *base;

	area = mmap(NULL, 2 * ENCL_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return NULL;
	base = (uint8_t *)(((uintptr_t)area + ENCL_SIZE - 1) & ~(uintptr_t)(ENCL_SIZE - 1));
	if (base > area)
		munmap(area, (size_t)(base - area));
	if (area + 2 * ENCL_SIZE > base + ENCL_SIZE)
		munmap(base + ENCL_SIZE, (size_t)(area + 2 * ENCL_SIZE - (base + ENCL_SIZE)));
	return base;
}

static int map_pages(struct enclave *e, unsigned int first, unsigned int count, int prot)
{
	uint8_t *addr = e->base + (size_t)first * SGX_PAGE_SIZE;

	if (mmap(addr, (size_t)count * SGX_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED, e->fd, 0) !=
	    addr)
		return fail("mmap of enclave pages %u-%u: %m", first, first + count - 1);
	return 0;
}

static int build_enclave(struct enclave *e, EVP_PKEY *key)
{
	struct sgx_sign_enclave desc = {
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 0x3,
		.xfrm_mask = 0x3,
		.date = 0x20261123,
	};
	struct sgx_secs secs = {
		.size = ENCL_SIZE,
		.ssa_frame_size = 1,
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.xfrm = 0x3,
	};
	struct sgx_enclave_create create = {.src = (uintptr_t)&secs};
	struct sgx_enclave_init init = {.sigstruct = (uintptr_t)&sigstruct};
	struct sgx_tcs *tcs = (struct sgx_tcs *)page_buf;
	const uint64_t rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	struct sgx_measurement m;
	int ret;

	e->base = reserve_elrange();
	if (!e->base)
		return fail("cannot reserve an ELRANGE: %m");
	e->fd = open("/dev/sgx_enclave", O_RDWR);
	if (e->fd < 0)
		return fail("open /dev/sgx_enclave: %m (is the shim preloaded?)");
	secs.base = (uintptr_t)e->base;
	if (ioctl(e->fd, SGX_IOC_ENCLAVE_CREATE, &create))
		return fail("SGX_IOC_ENCLAVE_CREATE: %m");
	sgx_measure_ecreate(&m, secs.ssa_frame_size, secs.size);

	memset(page_buf, 0, sizeof(page_buf));
	tcs->ssa_offset = 2 * SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = SGX_PAGE_SIZE;
	tcs->fs_offset = 3 * SGX_PAGE_SIZE;
	tcs->gs_offset = 3 * SGX_PAGE_SIZE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	ret = add_page(e, 0, SGX_SECINFO_TCS, &m);
	memset(page_buf, 0xCC, sizeof(page_buf)); /* int3 behind the entry */
	memcpy(page_buf, bench_encl_entry, (size_t)(bench_encl_entry_end - bench_encl_entry));
	ret = ret ?: add_page(e, 1, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X, &m);
	memset(page_buf, 0, sizeof(page_buf));
	ret = ret ?: add_page(e, 2, rw, &m);
	ret = ret ?: add_page(e, 3, rw, &m);
	if (ret)
		return ret;

	sgx_measure_final(&m, desc.mrenclave);
	if (sgx_sign_sigstruct(&desc, key, &sigstruct))
		return fail("signing: %s", sgx_sign_error());
	if (ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init))
		return fail("SGX_IOC_ENCLAVE_INIT: %m");

	ret = map_pages(e, 0, 1, PROT_READ | PROT_WRITE);
	ret = ret ?: map_pages(e, 1, 1, PROT_READ | PROT_EXEC);
	return ret ?: map_pages(e, 2, ENCL_PAGES - 2, PROT_READ | PROT_WRITE);
}

/* The figures: each runs @n round trips; 0 or -1 when one went wrong. */
struct figure {
	const char *name;
	int (*run)(struct enclave *e, unsigned int n);
	unsigned int batch;
	double us[ROUNDS];
	double median;
};

static int ecall_vdso(struct enclave *e, unsigned int n)
{
	struct sgx_enclave_run run;

	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e->base;
	for (unsigned int i = 0; i < n; i++) {
		if (bench_vdso_eenter(vdso_eenter, &run) || run.function != SGX_EEXIT)
			return fail("vDSO EENTER returned with leaf %u, vector %u", run.function,
				    run.exception_vector);
	}
	return 0;
}

static int ecall_raw(struct enclave *e, unsigned int n)
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

static void skip_enclu(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_RIP] += 3;
}

static void ud2_loop(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		__asm__ volatile("ud2" ::: "memory");
}

/* x86-64 struct sigaction of rt_sigaction(2), as the kernel takes it. */
struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

#define KERNEL_SA_RESTORER 0x04000000UL

/* SIGILL delivered by the kernel straight to skip_ud2(), the shim out of the way. */
static int sigill_kernel(struct enclave *e, unsigned int n)
{
	struct kernel_sigaction shim, mine;

	(void)e;
	if (syscall(SYS_rt_sigaction, SIGILL, NULL, &shim, sizeof(shim.mask)))
		return fail("rt_sigaction: %m");
	if (!(shim.flags & KERNEL_SA_RESTORER))
		return fail("the SIGILL handler in the kernel has no restorer");
	mine = shim;
	mine.handler = (void *)skip_ud2;
	if (syscall(SYS_rt_sigaction, SIGILL, &mine, NULL, sizeof(mine.mask)))
		return fail("rt_sigaction: %m");
	ud2_loop(n);
	if (syscall(SYS_rt_sigaction, SIGILL, &shim, NULL, sizeof(shim.mask)))
		return fail("rt_sigaction, putting the shim's handler back: %m");
	return 0;
}

/* ENCLU[undefined leaf] trapping straight to skip_enclu(), the shim out of the way. */
static int enclu_trap_kernel(struct enclave *e, unsigned int n)
{
	static const int sigs[] = { SIGILL, SIGSEGV };
	struct kernel_sigaction shim[2], mine;

	(void)e;
	for (int i = 0; i < 2; i++) {
		if (syscall(SYS_rt_sigaction, sigs[i], NULL, &shim[i], sizeof(shim[i].mask)))
			return fail("rt_sigaction: %m");
		if (!(shim[i].flags & KERNEL_SA_RESTORER))
			return fail("the shim's handler in the kernel has no restorer");
		mine = shim[i];
		mine.handler = (void *)skip_enclu;
		if (syscall(SYS_rt_sigaction, sigs[i], &mine, NULL, sizeof(mine.mask)))
			return fail("rt_sigaction: %m");
	}
	for (unsigned int i = 0; i < n; i++)
		__asm__ volatile(".byte 0x0f, 0x01, 0xd7" : : "a"(0xffu) : "memory");
	for (int i = 0; i < 2; i++)
		if (syscall(SYS_rt_sigaction, sigs[i], &shim[i], NULL, sizeof(shim[i].mask)))
			return fail("rt_sigaction, putting the shim's handler back: %m");
	return 0;
}

/* SIGILL to a handler installed as programs do; the shim passes it on. */
static int sigill_shim(struct enclave *e, unsigned int n)
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

static int function_call(struct enclave *e, unsigned int n)
{
	unsigned long x = 0;

	(void)e;
	for (unsigned int i = 0; i < n; i++)
		x = plain_function_ptr(x);
	sink = x;
	return 0;
}

enum { VDSO, RAW, ENCLU_TRAP, SIGILL_KERNEL, SIGILL_SHIM, CALL, NR_FIGURES };

static struct figure figures[NR_FIGURES] = {
	[VDSO] = {"ECALL via the vDSO", ecall_vdso, BATCH},
	[RAW] = {"ECALL by raw ENCLU", ecall_raw, BATCH},
	[ENCLU_TRAP] = {"ENCLU trap, kernel only", enclu_trap_kernel, BATCH},
	[SIGILL_KERNEL] = {"SIGILL, kernel only", sigill_kernel, BATCH},
	[SIGILL_SHIM] = {"SIGILL through the shim", sigill_shim, BATCH},
	[CALL] = {"function call", function_call, CALL_BATCH},
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int measure(struct enclave *e)
{
	/* One untimed batch each: first touches, page faults, lazy binding. */
	for (int f = 0; f < NR_FIGURES; f++)
		if (figures[f].run(e, figures[f].batch))
			return -1;
	for (int r = 0; r < ROUNDS; r++) {
		for (int f = 0; f < NR_FIGURES; f++) {
			struct figure *fig = &figures[f];
			double t0 = now();

			if (fig->run(e, fig->batch))
				return -1;
			fig->us[r] = (now() - t0) * 1e6 / fig->batch;
		}
	}
	for (int f = 0; f < NR_FIGURES; f++) {
		qsort(figures[f].us, ROUNDS, sizeof(double), cmp_double);
		figures[f].median = figures[f].us[ROUNDS / 2];
	}
	return 0;
}

/* Times: the ratio is limit / value, 1 when the value reaches its limit. */
static void row(const char *figure, int value, const char *limit_name, int limit, const char *note)
{
	printf("| %s | %.3g µs | %.3g µs (%s) | %.2g (limit time / value time%s) |\n", figure,
	       figures[value].median, figures[limit].median, limit_name,
	       figures[limit].median / figures[value].median, note);
}

int main(int argc, char **argv)
{
	struct enclave e = {.fd = -1};
	EVP_PKEY *key;
	int ret;

	(void)argc;
	reexec_under_shim(argv);
	vdso_eenter = (vdso_sgx_enter_enclave_t)vdso_sym("__vdso_sgx_enter_enclave");
	if (!vdso_eenter) {
		fail("no __vdso_sgx_enter_enclave in the vDSO (is the shim preloaded?)");
		return 1;
	}
	key = signing_key();
	if (!key)
		return 1;
	ret = build_enclave(&e, key);
	EVP_PKEY_free(key);
	if (!ret)
		ret = measure(&e);
	if (e.fd >= 0) {
		munmap(e.base, ENCL_SIZE);
		close(e.fd);
	}
	if (ret)
		return 1;

	printf("bench_ecall: median of %d batches of %d round trips (function call: %d), "
	       "µs per round trip\n",
	       ROUNDS, BATCH, CALL_BATCH);
	printf("bench_ecall: ECALL via the vDSO %.3f, by raw ENCLU %.3f; ENCLU trap kernel only "
	       "%.3f; SIGILL kernel only %.3f, through the shim %.3f; function call %.5f\n",
	       figures[VDSO].median, figures[RAW].median, figures[ENCLU_TRAP].median,
	       figures[SIGILL_KERNEL].median, figures[SIGILL_SHIM].median, figures[CALL].median);
	printf("bench_ecall: an ECALL is two ENCLU traps (EENTER, EEXIT): against one ENCLU "
	       "trap round trip the ideal ratio is 0.5\n");
	row("ECALL round trip (EENTER+EEXIT) through __vdso_sgx_enter_enclave", VDSO,
	    "one ENCLU trap round trip: undefined leaf, handler steps RIP, rt_sigreturn",
	    ENCLU_TRAP, "; ideal 0.5");
	row("ECALL round trip (EENTER+EEXIT) by raw ENCLU", RAW,
	    "one ENCLU trap round trip: undefined leaf, handler steps RIP, rt_sigreturn",
	    ENCLU_TRAP, "; ideal 0.5");
	row("ECALL round trip through the vDSO, against one SIGILL round trip", VDSO,
	    "one SIGILL round trip: ud2, handler steps RIP, rt_sigreturn", SIGILL_KERNEL, "");
	row("ECALL round trip through the vDSO, against a plain call", VDSO,
	    "noinline function call through a volatile pointer", CALL, "");
	row("SIGILL round trip to the program's sigaction handler (the shim passes it on)",
	    SIGILL_SHIM, "the same SIGILL round trip, handler installed straight in the kernel",
	    SIGILL_KERNEL, "; ideal 1");
	return 0;
}
