/* SPDX-License-Identifier: MIT */
/*
 * What the enclave benchmarks (bench_ecall, bench_eaug) share: each is one
 * translation unit that defines BENCH_NAME (the program's name, prefixed to
 * its messages) and BENCH_CHILD_ENV (the variable that marks the re-executed
 * child) and then includes this header. Everything here is static; each
 * program keeps its own enclave code and its own figures.
 *
 * The shared parts: re-executing under the shim, finding
 * __vdso_sgx_enter_enclave, the signing key, building a four-page enclave
 * image (0 TCS, 1 code RX, 2 SSA, 3 data for FS/GS) over a larger ELRANGE,
 * entering it through the vDSO, swapping a signal handler in the kernel
 * under the shim, the ENCLU trap limit, and the median of timed batches.
 */
#ifndef SOFTSGX_BENCH_ENCLAVE_H
#define SOFTSGX_BENCH_ENCLAVE_H

#if !defined(BENCH_NAME) || !defined(BENCH_CHILD_ENV)
#error "define BENCH_NAME and BENCH_CHILD_ENV before including bench_enclave.h"
#endif

#include <elf.h>
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

#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"

/*
 * Each figure is the median of this many timed batches. With 15 the
 * ECALL's ratio to the trap moved by +-0.02 from one run to the next on a
 * 2-CPU VM; 41 rounds take about 3 s and move it by about half that.
 */
#define BENCH_ROUNDS 41

/* The image's pages; the rest of ELRANGE is left to the program (EAUG). */
#define BENCH_IMAGE_PAGES 4

struct bench_enclave {
	int fd;
	uint8_t *base;
	unsigned int next; /* bench_eaug: the next heap page to grow */
};

static uint8_t bench_page_buf[SGX_PAGE_SIZE] __attribute__((aligned(SGX_PAGE_SIZE)));
static struct sgx_sigstruct bench_sigstruct __attribute__((aligned(SGX_PAGE_SIZE)));
static vdso_sgx_enter_enclave_t vdso_eenter;

/*
 * long bench_vdso_eenter(fn, run, rdi, rsi, rdx): fn(rdi, rsi, rdx, EENTER,
 * 0, 0, run); returns the enclave's RSI at EEXIT when the vDSO returned 0,
 * else -1. An AEX would zero R12-R15 and the vDSO keeps only RBX and RBP, so
 * the callee-saved registers are kept here.
 */
extern long bench_vdso_eenter(vdso_sgx_enter_enclave_t fn, struct sgx_enclave_run *run,
			      uint64_t rdi, uint64_t rsi, uint64_t rdx);
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
	"	mov	%rdx, %rdi\n"
	"	mov	%rcx, %rsi\n"
	"	mov	%r8, %rdx\n"
	"	mov	$2, %ecx\n" /* EENTER */
	"	xor	%r8d, %r8d\n"
	"	xor	%r9d, %r9d\n"
	"	call	*%rax\n"
	"	add	$8, %rsp\n"
	"	test	%eax, %eax\n"
	"	jnz	1f\n"
	"	mov	%rsi, %rax\n"
	"	jmp	2f\n"
	"1:	mov	$-1, %rax\n"
	"2:	pop	%r15\n"
	"	pop	%r14\n"
	"	pop	%r13\n"
	"	pop	%r12\n"
	"	pop	%rbx\n"
	"	pop	%rbp\n"
	"	ret\n"
	".size	bench_vdso_eenter, .-bench_vdso_eenter\n");

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs(BENCH_NAME ": ", stderr);
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
static __attribute__((unused)) void reexec_under_shim(char **argv)
{
	const char *lib = getenv("SOFTSGX_PRELOAD");
	const char *old = getenv("LD_PRELOAD");
	char *preload;

	if (getenv(BENCH_CHILD_ENV))
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
	if (!preload || setenv("LD_PRELOAD", preload, 1) || setenv(BENCH_CHILD_ENV, "1", 1)) {
		perror(BENCH_NAME ": setenv");
		exit(1);
	}
	fflush(NULL);
	execv("/proc/self/exe", argv);
	perror(BENCH_NAME ": execv /proc/self/exe");
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
		if (dyn->d_tag == DT_HASH)
			hash = (const Elf64_Word *)(bias + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_SYMTAB)
			symtab = (const Elf64_Sym *)(bias + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_STRTAB)
			strtab = (const char *)(bias + dyn->d_un.d_ptr);
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

/* @size bytes of PROT_NONE address space aligned to @size (a power of two). */
static uint8_t *reserve_aligned(size_t size)
{
	uint8_t *area, *base;

	area = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return NULL;
	base = (uint8_t *)(((uintptr_t)area + size - 1) & ~(uintptr_t)(size - 1));
	if (base > area)
		munmap(area, (size_t)(base - area));
	if (area + 2 * size > base + size)
		munmap(base + size, (size_t)(area + 2 * size - (base + size)));
	return base;
}

/* EADD + EEXTEND of bench_page_buf as page @page, measured into @m. */
static int bench_add_page(struct bench_enclave *e, unsigned int page, uint64_t flags,
			  struct sgx_measurement *m)
{
	struct sgx_secinfo secinfo = {.flags = flags};
	struct sgx_enclave_add_pages add = {
		.src = (uintptr_t)bench_page_buf,
		.offset = (uint64_t)page * SGX_PAGE_SIZE,
		.length = SGX_PAGE_SIZE,
		.secinfo = (uintptr_t)&secinfo,
		.flags = SGX_PAGE_MEASURE,
	};

	if (ioctl(e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add))
		return fail("SGX_IOC_ENCLAVE_ADD_PAGES of page %u: %m", page);
	sgx_measure_eadd(m, add.offset, &secinfo);
	for (unsigned int off = 0; off < SGX_PAGE_SIZE; off += SGX_EEXTEND_CHUNK)
		sgx_measure_eextend(m, add.offset + off, bench_page_buf + off);
	return 0;
}

/*
 * The enclave of @size bytes (a power of two) through /dev/sgx_enclave:
 * page 0 the TCS (entry at page 1, one SSA frame at page 2, FS/GS at page
 * 3), page 1 @code, page 2 the SSA, page 3 data beginning with @data. The
 * rest of ELRANGE gets no pages but is mapped with the SSA and data pages,
 * RW, so that a program can grow a heap there by fault.
 */
static int bench_build_enclave(struct bench_enclave *e, EVP_PKEY *key, size_t size,
			       const uint8_t *code, size_t code_len, const void *data,
			       size_t data_len)
{
	struct sgx_sign_enclave desc = {
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 0x3,
		.xfrm_mask = 0x3,
		.date = 0x20261206,
	};
	struct sgx_secs secs = {
		.size = size,
		.ssa_frame_size = 1,
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.xfrm = 0x3,
	};
	struct sgx_enclave_create create = {.src = (uintptr_t)&secs};
	struct sgx_enclave_init init = {.sigstruct = (uintptr_t)&bench_sigstruct};
	struct sgx_tcs *tcs = (struct sgx_tcs *)bench_page_buf;
	const uint64_t rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	uint8_t *base;
	struct sgx_measurement m;
	int ret;

	e->base = reserve_aligned(size);
	if (!e->base)
		return fail("cannot reserve an ELRANGE: %m");
	base = e->base;
	e->fd = open("/dev/sgx_enclave", O_RDWR);
	if (e->fd < 0)
		return fail("open /dev/sgx_enclave: %m (is the shim preloaded?)");
	secs.base = (uintptr_t)base;
	if (ioctl(e->fd, SGX_IOC_ENCLAVE_CREATE, &create))
		return fail("SGX_IOC_ENCLAVE_CREATE: %m");
	sgx_measure_ecreate(&m, secs.ssa_frame_size, secs.size);

	memset(bench_page_buf, 0, sizeof(bench_page_buf));
	tcs->ssa_offset = 2 * SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = SGX_PAGE_SIZE;
	tcs->fs_offset = 3 * SGX_PAGE_SIZE;
	tcs->gs_offset = 3 * SGX_PAGE_SIZE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	ret = bench_add_page(e, 0, SGX_SECINFO_TCS, &m);
	memset(bench_page_buf, 0xCC, sizeof(bench_page_buf)); /* int3 behind the code */
	memcpy(bench_page_buf, code, code_len);
	ret = ret ?: bench_add_page(e, 1, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X, &m);
	memset(bench_page_buf, 0, sizeof(bench_page_buf));
	ret = ret ?: bench_add_page(e, 2, rw, &m);
	if (data_len)
		memcpy(bench_page_buf, data, data_len);
	ret = ret ?: bench_add_page(e, 3, rw, &m);
	if (ret)
		return ret;

	sgx_measure_final(&m, desc.mrenclave);
	if (sgx_sign_sigstruct(&desc, key, &bench_sigstruct))
		return fail("signing: %s", sgx_sign_error());
	if (ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init))
		return fail("SGX_IOC_ENCLAVE_INIT: %m");

	if (mmap(base, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e->fd, 0) !=
		    base ||
	    mmap(base + SGX_PAGE_SIZE, SGX_PAGE_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED,
		 e->fd, 0) != base + SGX_PAGE_SIZE ||
	    mmap(base + 2 * SGX_PAGE_SIZE, size - 2 * SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, e->fd, 0) != base + 2 * SGX_PAGE_SIZE)
		return fail("mmap of the enclave: %m");
	e->next = BENCH_IMAGE_PAGES;
	return 0;
}

/* Find the vDSO entry, build the enclave; on failure the message is out. */
static int bench_setup(struct bench_enclave *e, size_t size, const uint8_t *code, size_t code_len,
		       const void *data, size_t data_len)
{
	EVP_PKEY *key;
	int ret;

	vdso_eenter = (vdso_sgx_enter_enclave_t)vdso_sym("__vdso_sgx_enter_enclave");
	if (!vdso_eenter)
		return fail("no __vdso_sgx_enter_enclave in the vDSO (is the shim preloaded?)");
	key = signing_key();
	if (!key)
		return -1;
	ret = bench_build_enclave(e, key, size, code, code_len, data, data_len);
	EVP_PKEY_free(key);
	return ret;
}

static void bench_teardown(struct bench_enclave *e, size_t size)
{
	if (e->fd >= 0) {
		munmap(e->base, size);
		close(e->fd);
	}
}

/* x86-64 struct sigaction of rt_sigaction(2), as the kernel takes it. */
struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

#define KERNEL_SA_RESTORER 0x04000000UL

/*
 * Swap the handler of @sig in the kernel, keeping the shim's flags and
 * restorer: the limits measure the host's own signal round trip, the shim
 * out of the way.
 */
static int swap_handler(int sig, void *handler, struct kernel_sigaction *old)
{
	struct kernel_sigaction mine;

	if (syscall(SYS_rt_sigaction, sig, NULL, old, sizeof(old->mask)))
		return fail("rt_sigaction: %m");
	if (!(old->flags & KERNEL_SA_RESTORER))
		return fail("the shim's handler in the kernel has no restorer");
	mine = *old;
	mine.handler = handler;
	mine.flags |= SA_SIGINFO;
	if (syscall(SYS_rt_sigaction, sig, &mine, NULL, sizeof(mine.mask)))
		return fail("rt_sigaction: %m");
	return 0;
}

static int restore_handler(int sig, const struct kernel_sigaction *old)
{
	if (syscall(SYS_rt_sigaction, sig, old, NULL, sizeof(old->mask)))
		return fail("rt_sigaction, putting the shim's handler back: %m");
	return 0;
}

static void skip_enclu(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_RIP] += 3;
}

/*
 * @n ENCLU[undefined leaf] trapping straight to skip_enclu(): #UD (SIGILL)
 * without SGX, #GP (SIGSEGV) with SGX present but disabled.
 */
static __attribute__((unused)) int bench_enclu_trap(struct bench_enclave *e, unsigned int n)
{
	struct kernel_sigaction shim[2];

	(void)e;
	if (swap_handler(SIGILL, (void *)skip_enclu, &shim[0]) ||
	    swap_handler(SIGSEGV, (void *)skip_enclu, &shim[1]))
		return -1;
	for (unsigned int i = 0; i < n; i++)
		__asm__ volatile(".byte 0x0f, 0x01, 0xd7" : : "a"(0xffu) : "memory");
	return restore_handler(SIGILL, &shim[0]) ?: restore_handler(SIGSEGV, &shim[1]);
}

/* A figure: @run does @n round trips (or pages); nonzero when one went wrong. */
struct bench_figure {
	int (*run)(struct bench_enclave *e, unsigned int n);
	unsigned int batch;
	double us[BENCH_ROUNDS];
	double median;
};

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The median of BENCH_ROUNDS batches of each figure, in µs per unit; a batch
 * of every figure in turn per round, so that all see the same machine.
 */
static int bench_measure(struct bench_enclave *e, struct bench_figure *figures, int nr)
{
	/* One untimed batch each: first touches, page faults, lazy binding. */
	for (int f = 0; f < nr; f++)
		if (figures[f].run(e, figures[f].batch))
			return -1;
	for (int r = 0; r < BENCH_ROUNDS; r++) {
		for (int f = 0; f < nr; f++) {
			struct bench_figure *fig = &figures[f];
			double t0 = now();

			if (fig->run(e, fig->batch))
				return -1;
			fig->us[r] = (now() - t0) * 1e6 / fig->batch;
		}
	}
	for (int f = 0; f < nr; f++) {
		qsort(figures[f].us, BENCH_ROUNDS, sizeof(double), bench_cmp_double);
		figures[f].median = figures[f].us[BENCH_ROUNDS / 2];
	}
	return 0;
}

/*
 * The EEXIT enclave of the ECALL benchmarks (bench_ecall, bench_service_ecall),
 * for those that define BENCH_EEXIT_ENCLAVE: its whole code is RBX = RCX
 * (the instruction after EENTER), EEXIT; built with bench_setup() on
 * BENCH_IMAGE_PAGES pages.
 */
#ifdef BENCH_EEXIT_ENCLAVE
extern const uint8_t bench_encl_entry[], bench_encl_entry_end[];
__asm__(".pushsection .rodata\n"
	"bench_encl_entry:\n"
	"	mov	%rcx, %rbx\n"
	"	mov	$4, %eax\n"	    /* EEXIT */
	"	.byte	0x0f, 0x01, 0xd7\n" /* ENCLU */
	"bench_encl_entry_end:\n"
	".popsection\n");

/* @n ECALLs of the EEXIT enclave @e through __vdso_sgx_enter_enclave. */
static int bench_ecall_vdso(struct bench_enclave *e, unsigned int n)
{
	struct sgx_enclave_run run;

	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e->base;
	for (unsigned int i = 0; i < n; i++) {
		if (bench_vdso_eenter(vdso_eenter, &run, 0, 0, 0) || run.function != SGX_EEXIT)
			return fail("vDSO EENTER returned with leaf %u, vector %u", run.function,
				    run.exception_vector);
	}
	return 0;
}
#endif

#endif /* SOFTSGX_BENCH_ENCLAVE_H */
