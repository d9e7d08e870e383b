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
 * Each figure is the median of ROUNDS batches of BATCH pages (the enclave's
 * heap and the reservation grow by BATCH pages per batch; pages are never
 * given back, so every batch pays for fresh pages). Output as bench_ecall:
 * context lines and markdown rows for bench/run-benchmarks; times in µs per
 * page, ratio = limit time / value time.
 */
#define _GNU_SOURCE
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

#include "lib/sigstruct_sign.h"
#include "measure.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"

#define CHILD_ENV "SOFTSGX_BENCH_EAUG_CHILD"
#define BATCH	  128
#define ROUNDS	  15
#define TRAPS	  2000

/* Image: 0 TCS, 1 code (RX), 2 SSA, 3 data (SECINFO, FS/GS); the heap after. */
#define IMAGE_PAGES 4
#define HEAP_PAGES  ((ROUNDS + 1) * BATCH)
#define ENCL_SIZE   (16ULL << 20) /* a power of two above IMAGE_PAGES + HEAP_PAGES */
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

/*
 * long bench_eaug_enter(fn, run, first, count, secinfo): fn(first, count,
 * secinfo, EENTER, 0, 0, run); returns the enclave's RSI when the vDSO
 * returned 0, else -1. Callee-saved registers kept here (the vDSO keeps
 * only RBX and RBP).
 */
extern long bench_eaug_enter(vdso_sgx_enter_enclave_t fn, struct sgx_enclave_run *run,
			     uint64_t first, uint64_t count, uint64_t secinfo);
__asm__(".text\n"
	".globl	bench_eaug_enter\n"
	".hidden bench_eaug_enter\n"
	".type	bench_eaug_enter, @function\n"
	"bench_eaug_enter:\n"
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
	".size	bench_eaug_enter, .-bench_eaug_enter\n");

struct enclave {
	int fd;
	uint8_t *base;
	unsigned int next; /* the next heap page to grow */
};

static uint8_t page_buf[SGX_PAGE_SIZE] __attribute__((aligned(SGX_PAGE_SIZE)));
static struct sgx_sigstruct sigstruct __attribute__((aligned(SGX_PAGE_SIZE)));
static vdso_sgx_enter_enclave_t vdso_eenter;

/* The limit's own memory: a reservation, the memfd its pages come from. */
static uint8_t *plain_area;
static unsigned int plain_next;
static int plain_memfd = -1;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_eaug: ", stderr);
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
		perror("bench_eaug: setenv");
		exit(1);
	}
	fflush(NULL);
	execv("/proc/self/exe", argv);
	perror("bench_eaug: execv /proc/self/exe");
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

static int build_enclave(struct enclave *e, EVP_PKEY *key)
{
	struct sgx_sign_enclave desc = {
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 0x3,
		.xfrm_mask = 0x3,
		.date = 0x20261206,
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
	struct sgx_secinfo *si = (struct sgx_secinfo *)page_buf;
	struct sgx_measurement m;
	int ret;

	e->base = reserve_aligned(ENCL_SIZE);
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
	memset(page_buf, 0xCC, sizeof(page_buf)); /* int3 behind the code */
	memcpy(page_buf, bench_eaug_encl, (size_t)(bench_eaug_encl_end - bench_eaug_encl));
	ret = ret ?: add_page(e, 1, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X, &m);
	memset(page_buf, 0, sizeof(page_buf));
	ret = ret ?: add_page(e, 2, rw, &m);
	si->flags = PENDING_RW; /* the SECINFO of EACCEPT, at the data page's start */
	ret = ret ?: add_page(e, 3, rw, &m);
	if (ret)
		return ret;

	sgx_measure_final(&m, desc.mrenclave);
	if (sgx_sign_sigstruct(&desc, key, &sigstruct))
		return fail("signing: %s", sgx_sign_error());
	if (ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init))
		return fail("SGX_IOC_ENCLAVE_INIT: %m");

	/* One mapping over the whole ELRANGE: the heap faults in through it. */
	if (mmap(e->base, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e->fd,
		 0) != e->base ||
	    mmap(e->base + SGX_PAGE_SIZE, SGX_PAGE_SIZE, PROT_READ | PROT_EXEC,
		 MAP_SHARED | MAP_FIXED, e->fd, 0) != e->base + SGX_PAGE_SIZE ||
	    mmap(e->base + 2 * SGX_PAGE_SIZE, ENCL_SIZE - 2 * SGX_PAGE_SIZE,
		 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e->fd,
		 0) != e->base + 2 * SGX_PAGE_SIZE)
		return fail("mmap of the enclave: %m");
	e->next = IMAGE_PAGES;
	return 0;
}

/* BATCH heap pages EAUG'd by fault and EACCEPTed, in one ECALL. */
static int grow_enclave(struct enclave *e, unsigned int n)
{
	struct sgx_enclave_run run;
	long ret;

	if (e->next + n > IMAGE_PAGES + HEAP_PAGES)
		return fail("heap exhausted");
	memset(&run, 0, sizeof(run));
	run.tcs = (uintptr_t)e->base;
	ret = bench_eaug_enter(vdso_eenter, &run, (uintptr_t)e->base + (uint64_t)e->next * SGX_PAGE_SIZE,
			       n, (uintptr_t)e->base + 3 * SGX_PAGE_SIZE);
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

/* x86-64 struct sigaction of rt_sigaction(2), as the kernel takes it. */
struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

#define KERNEL_SA_RESTORER 0x04000000UL

/* Swap the handler of @sig in the kernel, keeping the shim's flags and restorer. */
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

static int grow_plain(struct enclave *e, unsigned int n)
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

static void skip_enclu(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_RIP] += 3;
}

/* ENCLU[undefined leaf] trapping straight to skip_enclu(), the shim out of the way. */
static int enclu_trap(struct enclave *e, unsigned int n)
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

struct figure {
	int (*run)(struct enclave *e, unsigned int n);
	unsigned int batch;
	double us[ROUNDS];
	double median;
};

enum { EAUG, PLAIN, TRAP, NR_FIGURES };

static struct figure figures[NR_FIGURES] = {
	[EAUG] = {grow_enclave, BATCH},
	[PLAIN] = {grow_plain, BATCH},
	[TRAP] = {enclu_trap, TRAPS},
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int measure(struct enclave *e)
{
	/* One untimed batch each: lazy binding, the first faults of the code. */
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

int main(int argc, char **argv)
{
	struct enclave e = {.fd = -1};
	double value, plain, with_traps;
	EVP_PKEY *key;
	int ret;

	(void)argc;
	reexec_under_shim(argv);
	vdso_eenter = (vdso_sgx_enter_enclave_t)vdso_sym("__vdso_sgx_enter_enclave");
	if (!vdso_eenter) {
		fail("no __vdso_sgx_enter_enclave in the vDSO (is the shim preloaded?)");
		return 1;
	}
	plain_area = reserve_aligned((size_t)HEAP_PAGES * SGX_PAGE_SIZE * 2);
	plain_memfd = memfd_create("bench_eaug", 0);
	if (!plain_area || plain_memfd < 0 ||
	    ftruncate(plain_memfd, (off_t)HEAP_PAGES * SGX_PAGE_SIZE)) {
		fail("the limit's memory: %m");
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

	value = figures[EAUG].median;
	plain = figures[PLAIN].median;
	with_traps = plain + 2 * figures[TRAP].median;
	printf("bench_eaug: median of %d batches of %d pages (ENCLU trap: %d), µs per page\n",
	       ROUNDS, BATCH, TRAPS);
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
