/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the conformance programs (tests/conformance/): what a
 * program written for SGX hardware on Linux does before its first enclave,
 * written for this project from public descriptions of those stacks (the
 * kernel selftests, the Intel SGX SDK loader, runtimes with their own AEP):
 *
 *  - host feature probes (tests/shim/host_probe.h), so that a check the
 *    host cannot support is reported as skipped with its reason, never
 *    passed;
 *  - CPUID and XGETBV as the program executes them itself;
 *  - the vDSO's __vdso_sgx_enter_enclave found by reading the ELF image at
 *    getauxval(AT_SYSINFO_EHDR): DT_GNU_HASH and DT_HASH, and the symbol
 *    version (LINUX_2.6) through DT_VERSYM and DT_VERDEF;
 *  - the test enclave (docs/enclave-abi.md) built with the project's loader
 *    through real system calls (open, ioctl, mmap), which the shim serves.
 *
 * Include once per program: it defines static functions, and through
 * tests/shim/vdso_call.h the assembly caller of the vDSO (vdso_call).
 */
#ifndef SOFTSGX_TESTS_CONFORM_H
#define SOFTSGX_TESTS_CONFORM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stddef.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#ifdef __SANITIZE_ADDRESS__
/*
 * The ASan builds of the stress programs run under the preload shim: the
 * shim is not the first library (verify_asan_link_order=0), and its SIGSEGV,
 * SIGILL and SIGBUS handlers are the model's fault and ENCLU paths, which
 * ASan must leave alone. Built in, so that `make check` runs these programs
 * beside every other test with one closing line.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "verify_asan_link_order=0:handle_segv=0:handle_sigill=0:handle_sigbus=0:"
	       "allow_user_segv_handler=1:detect_leaks=0";
}
#endif
#include <openssl/pem.h>

#include "tests/shim/host_probe.h"
#include "tools/lib/enclave_image.h"
#include "tests/shim/new_thread.h"
#include "tests/shim/shim_test.h"
#include "softsgx/sgx_uapi.h"
#include "tests/enclaves/test_enclave.h"
#include "tests/shim/vdso_call.h"


/*
 * Checks that run on any thread: cmocka's assertions may only fail on the
 * thread that runs the test, so a body returns NULL or a message, and the
 * test asserts on that (conform_check_here(), conform_check_on_thread()).
 */
static __thread char conform_msg[512] __attribute__((unused));

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			int n_ = snprintf(conform_msg, sizeof(conform_msg),    \
					  "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
			if (n_ > 0 && (size_t)n_ < sizeof(conform_msg))         \
				snprintf(conform_msg + n_, sizeof(conform_msg) - (size_t)n_, \
					 __VA_ARGS__);                          \
			return conform_msg;                                     \
		}                                                               \
	} while (0)

typedef const char *(*conform_body)(void *arg);

struct conform_thread_arg {
	conform_body body;
	void *arg;
	char msg[512];
	bool failed;
};

static inline void *conform_thread_main(void *p)
{
	struct conform_thread_arg *t = p;
	const char *msg = t->body(t->arg);

	if (msg) {
		t->failed = true;
		snprintf(t->msg, sizeof(t->msg), "%s", msg);
	}
	return NULL;
}

/* Run @body on this thread; fail the test with its message. */
static inline void conform_check_here(conform_body body, void *arg)
{
	const char *msg = body(arg);

	if (msg)
		fail_msg("on the main thread: %s", msg);
}

/* Run @body on a thread created for it (a fresh thread enters the enclave). */
static inline void conform_check_on_thread(conform_body body, void *arg)
{
	struct conform_thread_arg t = { .body = body, .arg = arg };

	run_on_new_thread(conform_thread_main, &t);
	if (t.failed)
		fail_msg("on a new thread: %s", t.msg);
}

/* Run @body on the main thread, then on a new thread. */
static inline void conform_check(conform_body body, void *arg)
{
	conform_check_here(body, arg);
	fprintf(stderr, "[  NOTE    ] main thread passed; now on a new thread\n");
	conform_check_on_thread(body, arg);
}

/*
 * One process per test. A check may crash the program where Linux would
 * not (that is what some of them look for); so that it fails only its own
 * test, the program runs each test in a fresh process: itself again, with
 * CONFORM_ONLY naming the test, under the same `softsgx run` (the
 * environment carries the preload and the platform options). A test that
 * skips itself says why on stderr and its process exits CONFORM_EXIT_SKIP,
 * 77 as automake's skip status (tests/run-tests counts it the same way for
 * programs that are not cmocka binaries); the parent reports the test as
 * skipped.
 */
#define CONFORM_EXIT_SKIP 77
#define conform_skip(...)                                                       \
	do {                                                                    \
		fprintf(stderr, "[  REASON  ] " __VA_ARGS__);                   \
		fprintf(stderr, "\n");                                          \
		if (getenv("CONFORM_ONLY")) {                                   \
			fflush(NULL);                                           \
			exit(CONFORM_EXIT_SKIP);                                \
		}                                                               \
		skip();                                                         \
	} while (0)

static inline void conform_spawn(void **state)
{
	const char *name = *state;
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		setenv("CONFORM_ONLY", name, 1);
		execl("/proc/self/exe", "conformance-test", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("%s: the program was killed by signal %d (%s)", name, WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	if (WIFEXITED(status) && WEXITSTATUS(status) == CONFORM_EXIT_SKIP)
		skip();
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("%s failed (exit %d)", name, WEXITSTATUS(status));
}

/*
 * main() of a conformance program, after shim_test_reexec(): with
 * CONFORM_ONLY set, run that test here; otherwise run every test in a
 * process of its own (conform_spawn) and print the totals.
 */
static inline int conform_main(const char *group, const struct CMUnitTest *tests, size_t n,
			       CMFixtureFunction setup, CMFixtureFunction teardown)
{
	const char *only = getenv("CONFORM_ONLY");
	struct CMUnitTest *spawn;
	int ret;

	if (only) {
		cmocka_set_test_filter(only);
		return _cmocka_run_group_tests(group, tests, n, setup, teardown);
	}
	spawn = calloc(n, sizeof(*spawn));
	if (!spawn)
		return 1;
	for (size_t i = 0; i < n; i++) {
		spawn[i].name = tests[i].name;
		spawn[i].test_func = conform_spawn;
		spawn[i].initial_state = (void *)tests[i].name;
	}
	ret = _cmocka_run_group_tests(group, spawn, n, NULL, NULL);
	free(spawn);
	return ret;
}

/* ---- CPUID and XGETBV, executed by the program itself. ---- */

struct cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs conform_cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r;

	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(subleaf));
	return r;
}

static inline uint64_t conform_xgetbv(uint32_t index)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(index));
	return (uint64_t)hi << 32 | lo;
}

/* The host probes under the names these programs have always used. */
static inline bool conform_have_cpuid_faulting(void)
{
	return host_has_cpuid_faulting();
}

static inline bool conform_have_sud(void)
{
	return host_has_sud();
}

/*
 * EPC size as the kernel selftests compute it: the sum of the sizes of the
 * EPC sections that CPUID leaf 0x12 subleaves 2, 3, ... describe, up to the
 * first invalid one (EAX[3:0] == 0). Size: ECX[31:12] and EDX[19:0] << 32.
 */
static inline uint64_t conform_epc_size(unsigned int *nr_sections)
{
	uint64_t total = 0;
	unsigned int n = 0;

	for (uint32_t sub = 2; sub < 2 + 64; sub++) {
		struct cpuid_regs r = conform_cpuid(0x12, sub);

		if ((r.eax & 0xf) == 0)
			break;
		if ((r.eax & 0xf) != 1)
			continue;
		total += (r.ecx & 0xfffff000u) | (uint64_t)(r.edx & 0xfffffu) << 32;
		n++;
	}
	if (nr_sections)
		*nr_sections = n;
	return total;
}

/* ---- The vDSO, as a program finds it without the dynamic loader. ---- */

struct conform_vdso {
	uintptr_t bias;
	const Elf64_Sym *symtab;
	const char *strtab;
	const Elf32_Word *hash;	   /* DT_HASH or NULL */
	const Elf32_Word *gnu_hash; /* DT_GNU_HASH or NULL */
	const Elf64_Half *versym;   /* DT_VERSYM or NULL */
	const Elf64_Verdef *verdef; /* DT_VERDEF or NULL */
};

static inline bool conform_vdso_open(struct conform_vdso *v)
{
	const uint8_t *base = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	bool have_load = false;

	memset(v, 0, sizeof(*v));
	if (!base || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return false;
	ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		/* The first PT_LOAD gives the load bias; PT_DYNAMIC the tables. */
		if (ph[i].p_type == PT_LOAD && !have_load) {
			v->bias = (uintptr_t)base + ph[i].p_offset - ph[i].p_vaddr;
			have_load = true;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const Elf64_Dyn *)(base + ph[i].p_offset);
		}
	}
	if (!have_load || !dyn)
		return false;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		uintptr_t p = v->bias + dyn->d_un.d_ptr;

		switch (dyn->d_tag) {
		case DT_SYMTAB: v->symtab = (const Elf64_Sym *)p; break;
		case DT_STRTAB: v->strtab = (const char *)p; break;
		case DT_HASH: v->hash = (const Elf32_Word *)p; break;
		case DT_GNU_HASH: v->gnu_hash = (const Elf32_Word *)p; break;
		case DT_VERSYM: v->versym = (const Elf64_Half *)p; break;
		case DT_VERDEF: v->verdef = (const Elf64_Verdef *)p; break;
		}
	}
	return v->symtab && v->strtab && (v->hash || v->gnu_hash);
}

/* Does symbol @i carry version @version (DT_VERSYM -> DT_VERDEF)? */
static inline bool conform_vdso_version_ok(const struct conform_vdso *v, Elf32_Word i,
				    const char *version)
{
	const Elf64_Verdef *d = v->verdef;
	Elf64_Half want;

	if (!version || !v->versym)
		return true;
	want = v->versym[i] & 0x7fff;
	while (d) {
		if (!(d->vd_flags & VER_FLG_BASE) && d->vd_ndx == want) {
			const Elf64_Verdaux *a =
				(const Elf64_Verdaux *)((const char *)d + d->vd_aux);

			return !strcmp(v->strtab + a->vda_name, version);
		}
		d = d->vd_next ? (const Elf64_Verdef *)((const char *)d + d->vd_next) : NULL;
	}
	return false;
}

static inline bool conform_vdso_sym_matches(const struct conform_vdso *v, Elf32_Word i,
				     const char *name, const char *version)
{
	const Elf64_Sym *s = &v->symtab[i];

	return ELF64_ST_TYPE(s->st_info) == STT_FUNC && s->st_shndx != SHN_UNDEF &&
	       !strcmp(v->strtab + s->st_name, name) && conform_vdso_version_ok(v, i, version);
}

/* The System V hash of the gABI (DT_HASH). */
static inline uint32_t conform_sysv_hash(const char *name)
{
	uint32_t h = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h = (h << 4) + *p;
		h ^= (h >> 24) & 0xf0;
		h &= 0x0fffffff;
	}
	return h;
}

/* The GNU hash (DT_GNU_HASH): h = h * 33 + c, from 5381. */
static inline uint32_t conform_gnu_hash(const char *name)
{
	uint32_t h = 5381;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = h * 33 + *p;
	return h;
}

/* Look @name up through DT_HASH only; NULL if absent. */
static inline void *conform_vdso_sym_sysv(const struct conform_vdso *v, const char *name,
				   const char *version)
{
	const Elf32_Word *h = v->hash;
	Elf32_Word nbucket, nchain;

	if (!h || !h[0])
		return NULL;
	nbucket = h[0];
	nchain = h[1];
	for (Elf32_Word i = h[2 + conform_sysv_hash(name) % nbucket]; i != STN_UNDEF && i < nchain;
	     i = h[2 + nbucket + i])
		if (conform_vdso_sym_matches(v, i, name, version))
			return (void *)(v->bias + v->symtab[i].st_value);
	return NULL;
}

/*
 * Look @name up through DT_GNU_HASH only: header (nbuckets, symoffset,
 * bloom_size, bloom_shift), the Bloom filter (64-bit words), the buckets,
 * then the chain of hash values whose bit 0 ends a chain.
 */
static inline void *conform_vdso_sym_gnu(const struct conform_vdso *v, const char *name,
				  const char *version)
{
	const Elf32_Word *g = v->gnu_hash;
	const uint64_t *bloom;
	const Elf32_Word *buckets, *chain;
	uint32_t nbuckets, symoffset, bloom_size, shift, h;
	uint64_t word, mask;

	if (!g)
		return NULL;
	nbuckets = g[0];
	symoffset = g[1];
	bloom_size = g[2];
	shift = g[3];
	if (!nbuckets || !bloom_size)
		return NULL;
	bloom = (const uint64_t *)&g[4];
	buckets = (const Elf32_Word *)&bloom[bloom_size];
	chain = &buckets[nbuckets];
	h = conform_gnu_hash(name);
	word = bloom[(h / 64) % bloom_size];
	mask = (1ULL << (h % 64)) | (1ULL << ((h >> shift) % 64));
	if ((word & mask) != mask)
		return NULL;
	for (Elf32_Word i = buckets[h % nbuckets]; i >= symoffset && i; i++) {
		uint32_t ch = chain[i - symoffset];

		if ((ch | 1) == (h | 1) && conform_vdso_sym_matches(v, i, name, version))
			return (void *)(v->bias + v->symtab[i].st_value);
		if (ch & 1)
			break;
	}
	return NULL;
}

/* The way glibc's loader would: GNU hash when present, else SysV. */
static inline void *conform_vdso_sym(const char *name, const char *version)
{
	struct conform_vdso v;

	if (!conform_vdso_open(&v))
		return NULL;
	return v.gnu_hash ? conform_vdso_sym_gnu(&v, name, version)
			  : conform_vdso_sym_sysv(&v, name, version);
}

/* ---- The test enclave. ---- */

struct conform_encl {
	struct enclave_image img;
	struct sgx_sigstruct sig;
	struct enclave_handle h;
	bool built;
};

/* The device path the loader opens (SDK loaders probe for it first). */
static const char *conform_device = "/dev/sgx_enclave";

static inline int conform_open(void *ctx, const char *path, int flags)
{
	int fd;

	(void)ctx;
	(void)path;
	fd = open(conform_device, flags);
	return fd < 0 ? -errno : fd;
}

/*
 * Load the enclave ELF named by environment variable @env, give it @xfrm
 * (0: the loader's default) and sign it with SOFTSGX_TEST_KEY; the image can
 * then be built any number of times with conform_build().
 */
static inline void conform_load(struct conform_encl *e, const char *env, uint64_t xfrm)
{
	const char *path = getenv(env), *keyfile = getenv("SOFTSGX_TEST_KEY");
	EVP_PKEY *key = NULL;
	FILE *f;
	int ret;

	memset(e, 0, sizeof(*e));
	if (!path || !keyfile)
		fail_msg("%s and SOFTSGX_TEST_KEY must be set: run with `make check`", env);
	ret = enclave_image_load_file(path, &e->img);
	if (ret)
		fail_msg("load %s: %s", path, enclave_image_error());
	if (xfrm)
		e->img.secs->xfrm = xfrm;
	f = fopen(keyfile, "r");
	if (f) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!key)
		fail_msg("cannot read the key %s", keyfile);
	ret = enclave_image_sign(&e->img, key, NULL, &e->sig);
	EVP_PKEY_free(key);
	if (ret)
		fail_msg("sign: %d", ret);
}

/* Build (open, CREATE, ADD_PAGES, INIT, mmap) through real system calls. */
static inline int conform_build(struct conform_encl *e)
{
	struct enclave_sys sys = enclave_sys_native;
	int ret;

	sys.open = conform_open;
	ret = enclave_build(&sys, &e->img, &e->sig, &e->h);
	if (ret)
		fprintf(stderr, "enclave_build: %s\n", enclave_image_error());
	e->built = !ret;
	return ret;
}

static inline void conform_unload(struct conform_encl *e)
{
	if (e->built)
		enclave_unload(&enclave_sys_native, &e->h);
	e->built = false;
}

static inline void conform_free(struct conform_encl *e)
{
	conform_unload(e);
	enclave_image_free(&e->img);
}

static inline uint64_t conform_tcs(const struct conform_encl *e, unsigned int i)
{
	return e->h.base + enclave_image_tcs_offset(&e->img, i);
}

/* What the enclave left in RDI and RSI at EEXIT (docs/enclave-abi.md). */
struct conform_result {
	uint64_t status, value;
	bool exited;
};

/* A vDSO user handler that keeps the status and value of an EEXIT. */
static inline int conform_keep_result(long rdi, long rsi, long rdx, long ursp, long r8, long r9,
			       struct sgx_enclave_run *run)
{
	struct conform_result *r = (struct conform_result *)(uintptr_t)run->user_data;

	(void)rdx, (void)ursp, (void)r8, (void)r9;
	if (run->function == SGX_EEXIT) {
		r->status = (uint64_t)rdi;
		r->value = (uint64_t)rsi;
		r->exited = true;
	}
	return 0;
}

static vdso_sgx_enter_enclave_t conform_vdso_enter;

/*
 * One ECALL through the vDSO on TCS @tcs: returns the vDSO's result; @run
 * keeps the exception information, @res the status and value.
 */
static inline int conform_ecall(const struct conform_encl *e, unsigned int tcs, uint64_t op,
			 uint64_t a1, uint64_t a2, struct sgx_enclave_run *run,
			 struct conform_result *res)
{
	memset(run, 0, sizeof(*run));
	memset(res, 0, sizeof(*res));
	res->status = ~0ULL;
	run->tcs = conform_tcs(e, tcs);
	run->user_handler = (uintptr_t)conform_keep_result;
	run->user_data = (uintptr_t)res;
	return vdso_call(op, a1, a2, SGX_EENTER, run, conform_vdso_enter);
}

/* Find __vdso_sgx_enter_enclave or fail the program. */
static inline void conform_find_vdso(void)
{
	conform_vdso_enter = (vdso_sgx_enter_enclave_t)conform_vdso_sym("__vdso_sgx_enter_enclave",
									 "LINUX_2.6");
	if (!conform_vdso_enter) {
		fprintf(stderr, "no __vdso_sgx_enter_enclave (LINUX_2.6) in the vDSO\n");
		exit(1);
	}
}

/*
 * conform_main() for a program whose tests share @e, the test enclave that
 * the variable @env names: loaded and signed before the group (in the
 * process that runs the tests), freed after.
 */
static struct conform_encl *conform_group_encl;
static const char *conform_group_env;

static inline int conform_group_setup(void **state)
{
	(void)state;
	conform_load(conform_group_encl, conform_group_env, 0);
	return 0;
}

static inline int conform_group_teardown(void **state)
{
	(void)state;
	conform_free(conform_group_encl);
	return 0;
}

static inline int conform_main_encl(const char *group, const struct CMUnitTest *tests, size_t n,
				    struct conform_encl *e, const char *env)
{
	conform_group_encl = e;
	conform_group_env = env;
	return conform_main(group, tests, n, conform_group_setup, conform_group_teardown);
}

#endif /* SOFTSGX_TESTS_CONFORM_H */
