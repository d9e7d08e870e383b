// SPDX-License-Identifier: MIT
/*
 * The `make run` demo: an ordinary SGX host program, written as one is
 * written for SGX on Linux. It uses the Linux uAPI only: the enclave loader's
 * real system calls (open, ioctl and mmap of /dev/sgx_enclave) and
 * __vdso_sgx_enter_enclave, found in the vDSO through
 * getauxval(AT_SYSINFO_EHDR). Nothing in it knows that the platform is
 * emulated; `softsgx run` provides the device and the vDSO entry.
 *
 * 1. Generate an RSA-3072 (e = 3) signing key in memory, load the test
 *    enclave's ELF, measure it, sign it, build and EINIT it.
 * 2. Enter it through the vDSO: a message copied in and back out, a REPORT
 *    checked with the enclave's REPORT key, a SEAL key, and a #UD raised
 *    inside the enclave, reported through struct sgx_enclave_run.
 * 3. Build more copies of the enclave than the EPC holds (twice its size),
 *    write a distinct value into each through an enclave operation, then
 *    read every value back through the enclaves: the driver evicts and
 *    reloads pages as they are needed.
 * 3b. With --seconds N, keep every enclave paging for N seconds: read every
 *    page of every enclave through the enclave, round after round, so the
 *    EPC stays oversubscribed and `softsgx top` in a second terminal shows
 *    live fault, eviction and reload rates. The read-only pages (code and
 *    constants) must come back as the image has them after every trip
 *    through EWB and ELDU.
 * 4. A one-line summary. Exit status 0, or 1 with a message on stderr at
 *    the first thing that goes wrong; 2 for bad arguments.
 *
 * The program cannot ask the platform for its EPC size (the EPC sections
 * are in CPUID leaf 0x12, which user space cannot trust to describe the
 * platform an emulator provides), so --epc tells it; `make run` passes the
 * size it gives `softsgx run`.
 *
 * The enclave's ABI is in docs/enclave-abi.md: operation in RDI, arguments
 * in RSI and RDX, status and value back in RDI and RSI, which the vDSO hands
 * to the user handler installed in struct sgx_enclave_run.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "tools/cli.h"
#include "tools/lib/enclave_image.h"
#include "tools/lib/parse_size.h"
#include "tools/lib/sigstruct_sign.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "tests/enclaves/test_enclave.h"

#define DEFAULT_ENCLAVE "build/enclaves/test_enclave.elf"
#define DEFAULT_EPC	"1M"
#define PAGE		SGX_PAGE_SIZE
/* Build enough copies that the enclaves need this many times the EPC. */
#define OVERSUBSCRIBE 2
#define MAX_COPIES    4096
/* --seconds: a day at most. */
#define MAX_SECONDS 86400
/* TCS 0 serves every operation; TCS 1 is given to the exception. */
#define TCS_WORK    0
#define TCS_FAULT   1
#define X86_TRAP_UD 6
/* Pages of the copy buffer and the magic value: those the writes touch. */
#define MAX_TOUCHED 4

static const char message[] = "Hello from the host, through an SGX enclave and back!";

static vdso_sgx_enter_enclave_t vdso_enter;

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	fflush(stdout);
	fputs("demo: ", stderr);
	errno = err; /* for %m */
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *hex(const uint8_t *p, size_t len)
{
	static char buf[2 * SGX_HASH_SIZE + 1];

	if (len > SGX_HASH_SIZE)
		len = SGX_HASH_SIZE;
	cli_hex(buf, p, len);
	return buf;
}

/* ------------------------------------------------------------------------ */
/* The vDSO entry.                                                           */

/*
 * __vdso_sgx_enter_enclave in the vDSO's dynamic symbol table. The vDSO is
 * mapped as one ELF image, section headers included, so the table is found
 * through its SHT_DYNSYM section and that section's string table.
 */
static void *vdso_symbol(const char *name)
{
	const uint8_t *base = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph;
	const Elf64_Shdr *sh;
	uintptr_t bias = 0;
	bool loaded = false;

	if (!base || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return NULL;
	ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (unsigned int i = 0; i < eh->e_phnum && !loaded; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		bias = (uintptr_t)base + ph[i].p_offset - ph[i].p_vaddr;
		loaded = true;
	}
	if (!loaded || !eh->e_shoff)
		return NULL;
	sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	for (unsigned int i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym;
		const char *str;
		size_t count;

		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum ||
		    sh[i].sh_entsize != sizeof(*sym))
			continue;
		sym = (const Elf64_Sym *)(base + sh[i].sh_offset);
		str = (const char *)(base + sh[sh[i].sh_link].sh_offset);
		count = sh[i].sh_size / sizeof(*sym);
		for (size_t j = 0; j < count; j++) {
			if (sym[j].st_shndx == SHN_UNDEF ||
			    ELF64_ST_TYPE(sym[j].st_info) != STT_FUNC)
				continue;
			if (!strcmp(str + sym[j].st_name, name))
				return (void *)(bias + sym[j].st_value);
		}
	}
	return NULL;
}

/* The arguments of one call of __vdso_sgx_enter_enclave(). */
struct vdso_args {
	uint64_t rdi, rsi, rdx; /* operation and its two arguments */
	uint64_t function;	/* EENTER or ERESUME */
	struct sgx_enclave_run *run;
	vdso_sgx_enter_enclave_t entry;
};

_Static_assert(offsetof(struct vdso_args, run) == 32, "vdso_args.run");
_Static_assert(offsetof(struct vdso_args, entry) == 40, "vdso_args.entry");

/*
 * vdso_enter_saved(a) returns a->entry(rdi, rsi, rdx, function, 0, 0, run).
 * After an exception inside the enclave the CPU leaves R12-R15 zero and the
 * vDSO, like Linux's, restores only RBX and RBP; this wrapper keeps every
 * callee-saved register for its C caller.
 */
extern int vdso_enter_saved(const struct vdso_args *a);
__asm__(".text\n"
	".globl vdso_enter_saved\n"
	".hidden vdso_enter_saved\n"
	".type vdso_enter_saved, @function\n"
	"vdso_enter_saved:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	mov %rdi, %rax\n"
	/* The 7th argument, run, goes on the stack: 16-byte aligned at the call. */
	"	pushq 32(%rax)\n"
	"	mov 0(%rax), %rdi\n"
	"	mov 8(%rax), %rsi\n"
	"	mov 16(%rax), %rdx\n"
	"	mov 24(%rax), %ecx\n"
	"	xor %r8d, %r8d\n"
	"	xor %r9d, %r9d\n"
	"	call *40(%rax)\n"
	"	add $8, %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".size vdso_enter_saved, .-vdso_enter_saved\n");

/* What the enclave left in RDI and RSI at EEXIT. */
struct exit_regs {
	bool exited;
	uint64_t status;
	uint64_t value;
};

static int on_exit_handler(long rdi, long rsi, long rdx, long rsp, long r8, long r9,
			   struct sgx_enclave_run *run)
{
	struct exit_regs *x = (struct exit_regs *)(uintptr_t)run->user_data;

	(void)rdx, (void)rsp, (void)r8, (void)r9;
	if (run->function == SGX_EEXIT) {
		x->exited = true;
		x->status = (uint64_t)rdi;
		x->value = (uint64_t)rsi;
	}
	/* Back to the caller, after an EEXIT as after an exception. */
	return 0;
}

static const char *const op_names[] = {
	[TEST_ENCL_OP_NOP] = "NOP",
	[TEST_ENCL_OP_COPY_IN] = "COPY_IN",
	[TEST_ENCL_OP_COPY_OUT] = "COPY_OUT",
	[TEST_ENCL_OP_READ_U64] = "READ_U64",
	[TEST_ENCL_OP_WRITE_U64] = "WRITE_U64",
	[TEST_ENCL_OP_UD2] = "UD2",
	[TEST_ENCL_OP_DIV_ZERO] = "DIV_ZERO",
	[TEST_ENCL_OP_EREPORT] = "EREPORT",
	[TEST_ENCL_OP_EGETKEY] = "EGETKEY",
	[TEST_ENCL_OP_BUFFER] = "BUFFER",
	[TEST_ENCL_OP_MAGIC] = "MAGIC",
};

struct encl {
	struct enclave_handle h;
	const struct enclave_image *img;
	unsigned int id; /* 0 for the first enclave, i for copy #i */
};

/* EENTER @op on TCS @tcs of @e; the vDSO's return value, @run and @x filled in. */
static int enter(struct encl *e, unsigned int tcs, uint64_t op, uint64_t arg1, uint64_t arg2,
		 struct sgx_enclave_run *run, struct exit_regs *x)
{
	struct vdso_args a = {
		.rdi = op,
		.rsi = arg1,
		.rdx = arg2,
		.function = SGX_EENTER,
		.run = run,
		.entry = vdso_enter,
	};

	memset(run, 0, sizeof(*run));
	memset(x, 0, sizeof(*x));
	run->tcs = e->h.base + enclave_image_tcs_offset(e->img, tcs);
	run->user_handler = (uintptr_t)on_exit_handler;
	run->user_data = (uintptr_t)x;
	return vdso_enter_saved(&a);
}

/* An operation that must leave by EEXIT with TEST_ENCL_OK; its value. */
static uint64_t ecall(struct encl *e, uint64_t op, uint64_t arg1, uint64_t arg2)
{
	struct sgx_enclave_run run;
	struct exit_regs x;
	int ret = enter(e, TCS_WORK, op, arg1, arg2, &run, &x);

	if (ret)
		die("enclave %u, %s: __vdso_sgx_enter_enclave returned %d (%s)", e->id,
		    op_names[op], ret, strerror(ret < 0 ? -ret : EINVAL));
	if (!x.exited)
		die("enclave %u, %s: exception vector %u at %#llx instead of EEXIT", e->id,
		    op_names[op], run.exception_vector, (unsigned long long)run.exception_addr);
	if (x.status != TEST_ENCL_OK)
		die("enclave %u, %s: status %llu (value %#llx)", e->id, op_names[op],
		    (unsigned long long)x.status, (unsigned long long)x.value);
	return x.value;
}

static void build(struct encl *e, const struct enclave_image *img, const struct sgx_sigstruct *sig,
		  unsigned int id)
{
	int ret = enclave_build(&enclave_sys_native, img, sig, &e->h);

	if (ret)
		die("building enclave %u failed: %s%s", id, enclave_image_error(),
		    ret == -ENOENT ? "; no SGX driver here: is this an SGX machine, or the "
				     "program run under `softsgx run`?"
				   : "");
	e->img = img;
	e->id = id;
}

/* ------------------------------------------------------------------------ */
/* Keys and reports.                                                         */

static void egetkey(struct encl *e, const struct sgx_keyrequest *req, uint8_t key[16])
{
	memset(key, 0, 16);
	ecall(e, TEST_ENCL_OP_EGETKEY, (uintptr_t)req, (uintptr_t)key);
}

/* The SEAL key bound to MRENCLAVE: the same for every copy on this platform. */
static void seal_key(struct encl *e, uint8_t key[16])
{
	struct sgx_keyrequest req;

	memset(&req, 0, sizeof(req));
	req.keyname = SGX_KEYNAME_SEAL;
	req.keypolicy = SGX_KEYPOLICY_MRENCLAVE;
	req.attribute_mask = SGX_ATTR_INIT | SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	req.misc_mask = 0xFFFFFFFF;
	egetkey(e, &req, key);
}

static void ereport(struct encl *e, const struct sgx_targetinfo *ti, const uint8_t data[64],
		    struct sgx_report *report)
{
	struct test_encl_report_args args;

	memset(&args, 0, sizeof(args));
	if (ti)
		memcpy(args.targetinfo, ti, sizeof(args.targetinfo));
	memcpy(args.report_data, data, sizeof(args.report_data));
	ecall(e, TEST_ENCL_OP_EREPORT, (uintptr_t)&args, 0);
	memcpy(report, args.report, sizeof(*report));
}

static void aes_cmac(const uint8_t key[16], const void *data, size_t len, uint8_t mac[16])
{
	char cipher[] = "AES-128-CBC";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *m = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
	size_t n = 0;
	bool ok;

	ok = ctx && EVP_MAC_init(ctx, key, 16, params) == 1 &&
	     EVP_MAC_update(ctx, data, len) == 1 && EVP_MAC_final(ctx, mac, &n, 16) == 1 && n == 16;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	if (!ok)
		die("AES-CMAC failed (OpenSSL)");
}

/*
 * A REPORT the enclave makes for itself, with @data as REPORTDATA: the
 * identity in it must be what the host computed, and the MAC must verify
 * with the enclave's REPORT key for the report's KEYID.
 */
static void check_report(struct encl *e, const uint8_t mrenclave[SGX_HASH_SIZE],
			 const uint8_t mrsigner[SGX_HASH_SIZE], const uint8_t data[64])
{
	struct sgx_targetinfo ti;
	struct sgx_report report;
	struct sgx_keyrequest req;
	uint8_t key[16], mac[16];

	/* A first REPORT (for nobody) gives the enclave's own TARGETINFO. */
	ereport(e, NULL, data, &report);
	memset(&ti, 0, sizeof(ti));
	memcpy(ti.mrenclave, report.body.mrenclave, sizeof(ti.mrenclave));
	ti.attributes = report.body.attributes;
	ti.xfrm = report.body.xfrm;
	ti.miscselect = report.body.miscselect;
	ereport(e, &ti, data, &report);

	if (memcmp(report.body.mrenclave, mrenclave, SGX_HASH_SIZE))
		die("the REPORT's MRENCLAVE %s is not the one computed from the ELF",
		    hex(report.body.mrenclave, SGX_HASH_SIZE));
	if (memcmp(report.body.mrsigner, mrsigner, SGX_HASH_SIZE))
		die("the REPORT's MRSIGNER %s is not the signing key's",
		    hex(report.body.mrsigner, SGX_HASH_SIZE));
	if (memcmp(report.body.report_data, data, 64))
		die("the REPORT's REPORTDATA is not what the host passed");

	memset(&req, 0, sizeof(req));
	req.keyname = SGX_KEYNAME_REPORT;
	memcpy(req.keyid, report.keyid, sizeof(req.keyid));
	egetkey(e, &req, key);
	aes_cmac(key, &report.body, sizeof(report.body), mac);
	if (memcmp(mac, report.mac, sizeof(mac)))
		die("the REPORT's MAC does not verify with the enclave's REPORT key");
	printf("  REPORT     MRENCLAVE and MRSIGNER as computed here; attributes %#llx;\n"
	       "             MAC verified with the enclave's REPORT key (AES-CMAC)\n",
	       (unsigned long long)report.body.attributes);
}

/* ------------------------------------------------------------------------ */
/* Paging.                                                                   */

/* The distinct value of enclave @id. */
static uint64_t value_of(unsigned int id)
{
	return 0x5EC0000000000000ULL ^ ((uint64_t)(id + 1) * 0x9E3779B97F4A7C15ULL);
}

/* The buffer contents of enclave @id: its value, varied along the buffer. */
static void fill_pattern(uint64_t *buf, unsigned int id)
{
	for (size_t i = 0; i < TEST_ENCL_BUFFER_SIZE / 8; i++)
		buf[i] = value_of(id) ^ (i * 0x0101010101010101ULL);
}

static bool resident(uint64_t addr)
{
	unsigned char vec = 0;

	if (mincore((void *)(uintptr_t)(addr & ~(uint64_t)(PAGE - 1)), PAGE, &vec))
		die("mincore: %m");
	return vec & 1;
}

/*
 * The pages (offsets from the base) that the writes touch: the copy buffer
 * and the magic value. Returns how many.
 */
static unsigned int touched_pages(uint64_t buf_off, uint64_t magic_off, uint64_t out[MAX_TOUCHED])
{
	unsigned int n = 0;

	for (uint64_t p = buf_off & ~(uint64_t)(PAGE - 1); p < buf_off + TEST_ENCL_BUFFER_SIZE;
	     p += PAGE)
		out[n++] = p;
	magic_off &= ~(uint64_t)(PAGE - 1);
	for (unsigned int i = 0; i < n; i++)
		if (out[i] == magic_off)
			return n;
	out[n++] = magic_off;
	return n;
}

/*
 * Read every readable regular page of every enclave, enclave after enclave,
 * for @seconds: the enclaves need twice the EPC, so each round evicts what
 * the last one loaded. A page that is not writable must read as the image
 * has it. One line per second.
 */
static void keep_paging(struct encl *e, unsigned int total, unsigned int seconds)
{
	const struct enclave_image *img = e[0].img;
	double start = now_ms(), next = start + 1000, end = start + seconds * 1000.0;
	unsigned long long reads = 0, last = 0, rounds = 0;

	printf("  paging     for %u s: every page of every enclave read through the enclave,"
	       " round after round\n"
	       "             (`softsgx top` in another terminal shows the rates)\n",
	       seconds);
	while (now_ms() < end) {
		for (unsigned int i = 0; i < total; i++) {
			for (size_t p = 0; p < img->nr_pages; p++) {
				const struct enclave_page *pg = &img->pages[p];
				uint64_t v, want;

				if (SGX_SECINFO_PAGE_TYPE(pg->secinfo) != SGX_PAGE_TYPE_REG ||
				    !(pg->secinfo & SGX_SECINFO_R))
					continue;
				v = ecall(&e[i], TEST_ENCL_OP_READ_U64, e[i].h.base + pg->offset,
					  0);
				reads++;
				memcpy(&want, pg->contents, sizeof(want));
				if (!(pg->secinfo & SGX_SECINFO_W) && v != want)
					die("enclave %u: read-only page at +%#llx reads %#llx, not"
					    " %#llx",
					    i, (unsigned long long)pg->offset,
					    (unsigned long long)v, (unsigned long long)want);
			}
		}
		rounds++;
		if (now_ms() >= next) {
			printf("  paging     %3.0f s: %llu rounds, %llu reads in the last second,"
			       " read-only pages intact\n",
			       (now_ms() - start) / 1000, rounds, reads - last);
			last = reads;
			next += 1000;
		}
	}
}

struct paging {
	unsigned int copies;   /* built after the first enclave */
	unsigned int seconds;  /* --seconds: how long to keep paging after the reads */
	uint64_t epc_pages;    /* of the whole platform */
	uint64_t pages_needed; /* by all the enclaves: image, SECS and VA page */
	uint64_t written;      /* pages the writes touched, over all enclaves */
	uint64_t evicted;      /* of those, evicted when their enclave came to read them */
	uint64_t reloaded;     /* of those, mapped again after their enclave's read */
	unsigned int intact;   /* enclaves whose value and buffer came back */
	double build_ms, write_ms, read_ms;
};

static void oversubscribe(struct encl *first, const struct enclave_image *img,
			  const struct sgx_sigstruct *sig, const uint8_t seal0[16],
			  struct paging *pg)
{
	unsigned int total = pg->copies + 1, n;
	uint64_t magic_off, buf_off, touched[MAX_TOUCHED];
	uint64_t *pattern, *back;
	struct encl *e;
	uint8_t seal[16];
	double t;

	e = calloc(total, sizeof(*e));
	pattern = malloc(TEST_ENCL_BUFFER_SIZE);
	back = malloc(TEST_ENCL_BUFFER_SIZE);
	if (!e || !pattern || !back)
		die("out of memory");
	e[0] = *first;
	magic_off = ecall(first, TEST_ENCL_OP_MAGIC, 0, 0) - first->h.base;
	buf_off = ecall(first, TEST_ENCL_OP_BUFFER, 0, 0) - first->h.base;
	n = touched_pages(buf_off, magic_off, touched);

	t = now_ms();
	for (unsigned int i = 1; i < total; i++)
		build(&e[i], img, sig, i);
	pg->build_ms = now_ms() - t;
	printf("  built      %u more copies in %.0f ms: %u enclaves needing %llu EPC pages"
	       " (%zu + SECS + VA each)\n",
	       pg->copies, pg->build_ms, total, (unsigned long long)pg->pages_needed,
	       img->nr_pages);

	/* Through the enclaves: WRITE_U64 of the value, COPY_IN of 8 KiB. */
	t = now_ms();
	for (unsigned int i = 0; i < total; i++) {
		ecall(&e[i], TEST_ENCL_OP_WRITE_U64, e[i].h.base + magic_off, value_of(i));
		fill_pattern(pattern, i);
		ecall(&e[i], TEST_ENCL_OP_COPY_IN, (uintptr_t)pattern, TEST_ENCL_BUFFER_SIZE);
	}
	pg->write_ms = now_ms() - t;
	printf("  wrote      a distinct value and 8 KiB pattern into each, through the"
	       " enclave (%.0f ms)\n",
	       pg->write_ms);

	/*
	 * Every written page was mapped when its enclave wrote it; one the
	 * reclaimer evicted since has no page-table entry any more, and the
	 * enclave's access faults it back in (ELDU) without the program's help.
	 */
	pg->written = (uint64_t)total * n;
	t = now_ms();
	for (unsigned int i = 0; i < total; i++) {
		uint64_t v;

		for (unsigned int j = 0; j < n; j++)
			pg->evicted += !resident(e[i].h.base + touched[j]);
		v = ecall(&e[i], TEST_ENCL_OP_READ_U64, e[i].h.base + magic_off, 0);

		memset(back, 0, TEST_ENCL_BUFFER_SIZE);
		ecall(&e[i], TEST_ENCL_OP_COPY_OUT, (uintptr_t)back, TEST_ENCL_BUFFER_SIZE);
		fill_pattern(pattern, i);
		if (v != value_of(i))
			die("enclave %u: read back %#llx, wrote %#llx", i, (unsigned long long)v,
			    (unsigned long long)value_of(i));
		if (memcmp(back, pattern, TEST_ENCL_BUFFER_SIZE))
			die("enclave %u: the 8 KiB buffer did not come back as written", i);
		pg->intact++;
		for (unsigned int j = 0; j < n; j++)
			pg->reloaded += resident(e[i].h.base + touched[j]);
	}
	pg->read_ms = now_ms() - t;
	printf("  read back  %u of %u values and buffers intact, through the enclaves"
	       " (%.0f ms)\n",
	       pg->intact, total, pg->read_ms);
	printf("  paging     %llu of the %llu written pages had been evicted when their enclave"
	       " read them;\n"
	       "             reloaded on demand: %llu of %llu mapped again after the reads\n",
	       (unsigned long long)pg->evicted, (unsigned long long)pg->written,
	       (unsigned long long)pg->reloaded, (unsigned long long)pg->written);

	if (pg->seconds)
		keep_paging(e, total, pg->seconds);

	/* The SEAL key depends on MRENCLAVE and the platform, not on the copy. */
	seal_key(&e[total - 1], seal);
	if (memcmp(seal, seal0, sizeof(seal)))
		die("enclave %u derived another SEAL key than the first enclave", total - 1);
	printf("  SEAL key   copy #%u derives the first enclave's SEAL key: %s...\n", total - 1,
	       hex(seal, 8));

	for (unsigned int i = 1; i < total; i++)
		enclave_unload(&enclave_sys_native, &e[i].h);
	free(back);
	free(pattern);
	free(e);
}

/* ------------------------------------------------------------------------ */

static void usage(FILE *out)
{
	fputs("Usage: demo [--epc SIZE] [--copies N] [--seconds N] [ENCLAVE]\n"
	      "\n"
	      "Build, sign, enter and oversubscribe the test enclave ENCLAVE through\n"
	      "/dev/sgx_enclave and the vDSO (default: " DEFAULT_ENCLAVE ").\n"
	      "\n"
	      "  --epc SIZE   the platform's EPC size (default: " DEFAULT_EPC ")\n"
	      "  --copies N   copies to build after the first enclave (default: enough for\n"
	      "               twice the EPC)\n"
	      "  --seconds N  then keep every enclave paging for N seconds, a line per\n"
	      "               second: for `softsgx top` in a second terminal\n"
	      "\n"
	      "Run it on an SGX machine, or under `softsgx run --epc SIZE -- demo --epc SIZE`.\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"epc", required_argument, NULL, 'e'},
		{"copies", required_argument, NULL, 'c'},
		{"seconds", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = DEFAULT_ENCLAVE, *epc = DEFAULT_EPC, *copies = NULL, *seconds = NULL;
	uint8_t mrenclave[SGX_HASH_SIZE], mrsigner[SGX_HASH_SIZE], seal[16], data[64];
	static struct sgx_sigstruct sig;
	struct enclave_image img = {0};
	struct paging pg = {0};
	struct sgx_enclave_run run;
	struct exit_regs x;
	char msg[sizeof(message)];
	EVP_PKEY *key = NULL;
	uint64_t epc_bytes, n, per_enclave, buf;
	struct encl first;
	char size[32];
	double t;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			epc = optarg;
			break;
		case 'c':
			copies = optarg;
			break;
		case 's':
			seconds = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "demo: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (sgx_parse_size(epc, &epc_bytes) || epc_bytes < PAGE) {
		fprintf(stderr, "demo: --epc: not a size of at least 4K: '%s'\n", epc);
		return 2;
	}
	if (copies && cli_parse_uint(copies, 1, MAX_COPIES, &n)) {
		fprintf(stderr, "demo: --copies: not a number from 1 to %d: '%s'\n", MAX_COPIES,
			copies);
		return 2;
	}
	if (seconds && cli_parse_uint(seconds, 1, MAX_SECONDS, &n)) {
		fprintf(stderr, "demo: --seconds: not a number from 1 to %d: '%s'\n", MAX_SECONDS,
			seconds);
		return 2;
	}
	pg.seconds = seconds ? (unsigned int)n : 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	pg.epc_pages = epc_bytes / PAGE;

	printf("An ordinary SGX host program: /dev/sgx_enclave and __vdso_sgx_enter_enclave.\n\n");

	/* 1. Key, image, signature, enclave. */
	printf("1. Build\n");
	ret = enclave_image_load_file(path, &img);
	if (ret)
		die("cannot load the enclave: %s", enclave_image_error());
	enclave_image_mrenclave(&img, mrenclave);
	printf("  enclave    %s: %zu pages, ELRANGE %s\n", path, img.nr_pages,
	       cli_format_size(img.secs->size, size));
	t = now_ms();
	if (cli_rsa3072_e3_keygen(&key) || sgx_sign_mrsigner(key, mrsigner))
		die("generating the RSA-3072 signing key failed (OpenSSL)");
	printf("  key        RSA-3072, e = 3, generated in memory (%.0f ms)\n", now_ms() - t);
	if (enclave_image_sign(&img, key, NULL, &sig))
		die("signing %s failed: %s", path, enclave_image_error());
	printf("  MRENCLAVE  %s\n", hex(mrenclave, SGX_HASH_SIZE));
	printf("  MRSIGNER   %s\n", hex(mrsigner, SGX_HASH_SIZE));
	t = now_ms();
	build(&first, &img, &sig, 0);
	printf("  EINIT      done: enclave at %#llx, built in %.1f ms\n",
	       (unsigned long long)first.h.base, now_ms() - t);

	/* 2. Into the enclave through the vDSO. */
	printf("\n2. Enter through __vdso_sgx_enter_enclave\n");
	vdso_enter = (vdso_sgx_enter_enclave_t)vdso_symbol("__vdso_sgx_enter_enclave");
	if (!vdso_enter)
		die("no __vdso_sgx_enter_enclave in the vDSO: the kernel has no SGX support");
	ecall(&first, TEST_ENCL_OP_COPY_IN, (uintptr_t)message, sizeof(message));
	memset(msg, 0, sizeof(msg));
	ecall(&first, TEST_ENCL_OP_COPY_OUT, (uintptr_t)msg, sizeof(msg));
	if (memcmp(msg, message, sizeof(message)))
		die("the message came back changed: \"%.*s\"", (int)sizeof(msg) - 1, msg);
	buf = ecall(&first, TEST_ENCL_OP_BUFFER, 0, 0);
	printf("  message    \"%s\"\n"
	       "             copied into the enclave's buffer at %#llx and back out\n",
	       msg, (unsigned long long)buf);

	memset(data, 0, sizeof(data));
	memcpy(data, "demo", 4);
	check_report(&first, mrenclave, mrsigner, data);
	seal_key(&first, seal);
	printf("  SEAL key   MRENCLAVE policy: %s... (first 8 of 16 bytes)\n", hex(seal, 8));

	ret = enter(&first, TCS_FAULT, TEST_ENCL_OP_UD2, 0, 0, &run, &x);
	if (ret || x.exited || run.function != SGX_ERESUME)
		die("ud2 inside the enclave: expected an exception, got return %d, function %u",
		    ret, run.function);
	if (run.exception_vector != X86_TRAP_UD)
		die("ud2 inside the enclave reported vector %u, not %u (#UD)", run.exception_vector,
		    X86_TRAP_UD);
	printf("  ud2        AEX reported in struct sgx_enclave_run: function ERESUME,"
	       " exception_vector %u (#UD)\n",
	       run.exception_vector);
	/* That TCS now has CSSA 1: entering it runs the enclave's exception entry. */
	ret = enter(&first, TCS_FAULT, TEST_ENCL_OP_NOP, 0, 0, &run, &x);
	if (ret || !x.exited || x.status != TEST_ENCL_EXCEPTION_ENTRY)
		die("EENTER after the #UD did not reach the enclave's exception entry");
	printf("             the next EENTER on that TCS reaches the exception entry:"
	       " EXITINFO %#llx\n",
	       (unsigned long long)x.value);

	/* 3. More enclaves than the EPC holds. */
	/* Each copy needs its image, a SECS and (Linux's driver) one VA page. */
	per_enclave = img.nr_pages + 2;
	if (!copies) {
		n = (OVERSUBSCRIBE * pg.epc_pages + per_enclave - 1) / per_enclave;
		n = n > 1 ? n - 1 : 1;
		if (n > MAX_COPIES)
			die("an EPC of %s would take more than %d copies to oversubscribe; try a"
			    " smaller platform or --copies",
			    epc, MAX_COPIES);
	}
	pg.copies = (unsigned int)n;
	pg.pages_needed = (n + 1) * per_enclave;
	printf("\n3. Oversubscribe a %llu-page EPC\n", (unsigned long long)pg.epc_pages);
	oversubscribe(&first, &img, &sig, seal, &pg);

	enclave_unload(&enclave_sys_native, &first.h);
	enclave_image_free(&img);
	EVP_PKEY_free(key);

	/* 4. In one line. */
	printf("\nSummary: built 1 + %u enclaves (%llu pages) on a %llu-page EPC; every value"
	       " came back intact; %llu of %llu written pages were evicted and reloaded on"
	       " demand.\n",
	       pg.copies, (unsigned long long)pg.pages_needed, (unsigned long long)pg.epc_pages,
	       (unsigned long long)pg.evicted, (unsigned long long)pg.written);
	if (fflush(stdout))
		die("writing the output failed: %m");
	return 0;
}
