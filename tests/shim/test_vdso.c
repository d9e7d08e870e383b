// SPDX-License-Identifier: MIT
/*
 * The synthetic vDSO as a program sees it under LD_PRELOAD: getauxval
 * (AT_SYSINFO_EHDR) answers with an ELF image in which an ELF parser written
 * here from the specification (not the shim's builder) finds
 * __vdso_sgx_enter_enclave@LINUX_2.6 through DT_HASH, DT_GNU_HASH and the
 * section headers, and every symbol of the kernel's vDSO at the kernel's
 * address. The entry function's -EINVAL checks run natively. Its enclave
 * paths run against a stand-in CPU: a SIGILL handler playing EENTER, EEXIT
 * and AEX by the contract of shim/vdso.h; those tests skip themselves once
 * the shim emulates ENCLU (the stand-in then never sees the trap) or on a
 * CPU with SGX.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "softsgx/sgx_arch.h"
#include "tests/shim/shim_test.h"
#include "softsgx/sgx_uapi.h"
#include "shim/vdso.h" /* constants of the contract only; its symbols are the shim's */

#define SGX_ENTER "__vdso_sgx_enter_enclave"
#define VERSION "LINUX_2.6"

/* ------------------------------------------------------------------------ */
/* The kernel's auxiliary vector, read past libc and the shim.              */

static unsigned long kernel_auxv(unsigned long type, bool *found)
{
	Elf64_auxv_t a;
	int fd = open("/proc/self/auxv", O_RDONLY);

	*found = false;
	assert_true(fd >= 0);
	while (read(fd, &a, sizeof(a)) == sizeof(a) && a.a_type != AT_NULL) {
		if (a.a_type == type) {
			*found = true;
			close(fd);
			return a.a_un.a_val;
		}
	}
	close(fd);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* A dynamic-section ELF parser, after the ELF and symbol-versioning specs. */

struct dso {
	uintptr_t base;
	uintptr_t load; /* base + p_offset - p_vaddr of the first PT_LOAD */
	const Elf64_Sym *symtab;
	const char *strtab;
	size_t strsz;
	const Elf32_Word *hash;
	const Elf32_Word *gnu_hash;
	const Elf64_Half *versym;
	const Elf64_Verdef *verdef;
	unsigned int nr_syms;
};

static uint32_t sysv_hash(const char *s)
{
	uint32_t h = 0;

	while (*s) {
		h = (h << 4) + (unsigned char)*s++;
		h ^= (h >> 24) & 0xf0;
		h &= 0x0fffffff;
	}
	return h;
}

static uint32_t gnu_hash(const char *s)
{
	uint32_t h = 5381;

	while (*s)
		h = (h << 5) + h + (unsigned char)*s++;
	return h;
}

static void dso_open(struct dso *d, uintptr_t base)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	const Elf64_Dyn *dyn = NULL;
	bool loaded = false;

	memset(d, 0, sizeof(*d));
	d->base = base;
	assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
	assert_int_equal(eh->e_ident[EI_CLASS], ELFCLASS64);
	assert_int_equal(eh->e_ident[EI_DATA], ELFDATA2LSB);
	assert_int_equal(eh->e_type, ET_DYN);
	assert_int_equal(eh->e_machine, EM_X86_64);
	assert_int_equal(eh->e_phentsize, sizeof(Elf64_Phdr));
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !loaded) {
			d->load = base + ph[i].p_offset - ph[i].p_vaddr;
			loaded = true;
		}
		if (ph[i].p_type == PT_DYNAMIC)
			dyn = (const Elf64_Dyn *)(base + ph[i].p_offset);
	}
	assert_true(loaded);
	assert_non_null(dyn);
	for (; dyn->d_tag != DT_NULL; dyn++) {
		uintptr_t p = d->load + dyn->d_un.d_ptr;

		switch (dyn->d_tag) {
		case DT_SYMTAB:
			d->symtab = (const Elf64_Sym *)p;
			break;
		case DT_STRTAB:
			d->strtab = (const char *)p;
			break;
		case DT_STRSZ:
			d->strsz = dyn->d_un.d_val;
			break;
		case DT_SYMENT:
			assert_int_equal(dyn->d_un.d_val, sizeof(Elf64_Sym));
			break;
		case DT_HASH:
			d->hash = (const Elf32_Word *)p;
			break;
		case DT_GNU_HASH:
			d->gnu_hash = (const Elf32_Word *)p;
			break;
		case DT_VERSYM:
			d->versym = (const Elf64_Half *)p;
			break;
		case DT_VERDEF:
			d->verdef = (const Elf64_Verdef *)p;
			break;
		}
	}
	assert_non_null(d->symtab);
	assert_non_null(d->strtab);
	assert_true(d->strsz > 0);
	assert_true(d->hash || d->gnu_hash);
	if (d->hash) {
		d->nr_syms = d->hash[1]; /* nchain is the number of symbols */
	} else {
		/* The last chain of DT_GNU_HASH ends at the last symbol. */
		const Elf32_Word *g = d->gnu_hash;
		const Elf32_Word *buckets = g + 4 + 2 * g[2], *chain = buckets + g[0];
		uint32_t last = 0;

		for (uint32_t b = 0; b < g[0]; b++)
			last = buckets[b] > last ? buckets[b] : last;
		while (last >= g[1] && !(chain[last - g[1]] & 1))
			last++;
		d->nr_syms = last + 1;
	}
}

static const char *dso_name(const struct dso *d, const Elf64_Sym *s)
{
	assert_true(s->st_name < d->strsz);
	return d->strtab + s->st_name;
}

/* The version name symbol @i is defined with, or NULL when unversioned. */
static const char *dso_version(const struct dso *d, unsigned int i)
{
	const Elf64_Verdef *vd = d->verdef;
	unsigned int ndx;

	if (!d->versym || !vd)
		return NULL;
	ndx = d->versym[i] & 0x7fff;
	for (;;) {
		if (vd->vd_ndx == ndx && !(vd->vd_flags & VER_FLG_BASE)) {
			const Elf64_Verdaux *aux =
				(const Elf64_Verdaux *)((const char *)vd + vd->vd_aux);
			const char *name = d->strtab + aux->vda_name;

			assert_int_equal(vd->vd_hash, sysv_hash(name));
			return name;
		}
		if (!vd->vd_next)
			return NULL;
		vd = (const Elf64_Verdef *)((const char *)vd + vd->vd_next);
	}
}

/* What a vDSO parser accepts: a defined, global or weak function or object. */
static bool dso_match(const struct dso *d, unsigned int i, const char *name, const char *version)
{
	const Elf64_Sym *s = &d->symtab[i];
	int type = ELF64_ST_TYPE(s->st_info), bind = ELF64_ST_BIND(s->st_info);
	const char *v;

	if (s->st_shndx == SHN_UNDEF || strcmp(dso_name(d, s), name))
		return false;
	if (type != STT_FUNC && type != STT_NOTYPE && type != STT_OBJECT)
		return false;
	if (bind != STB_GLOBAL && bind != STB_WEAK)
		return false;
	v = dso_version(d, i);
	return !version || (v && !strcmp(v, version));
}

static const Elf64_Sym *dso_lookup_sysv(const struct dso *d, const char *name, const char *version)
{
	uint32_t nbucket, *bucket, *chain;

	if (!d->hash)
		return NULL;
	nbucket = d->hash[0];
	bucket = (uint32_t *)d->hash + 2;
	chain = bucket + nbucket;
	for (uint32_t i = bucket[sysv_hash(name) % nbucket]; i != STN_UNDEF; i = chain[i]) {
		assert_true(i < d->nr_syms);
		if (dso_match(d, i, name, version))
			return &d->symtab[i];
	}
	return NULL;
}

static const Elf64_Sym *dso_lookup_gnu(const struct dso *d, const char *name, const char *version)
{
	const Elf32_Word *g = d->gnu_hash;
	uint32_t nbuckets, symoffset, bloom_size, shift, h = gnu_hash(name);
	const uint64_t *bloom;
	const uint32_t *buckets, *chain;
	uint64_t word;

	if (!g)
		return NULL;
	nbuckets = g[0];
	symoffset = g[1];
	bloom_size = g[2];
	shift = g[3];
	bloom = (const uint64_t *)(g + 4);
	buckets = (const uint32_t *)(bloom + bloom_size);
	chain = buckets + nbuckets;

	word = bloom[(h / 64) & (bloom_size - 1)];
	if (!((word >> (h % 64)) & (word >> ((h >> shift) % 64)) & 1))
		return NULL;
	for (uint32_t i = buckets[h % nbuckets]; i >= symoffset && i != 0; i++) {
		uint32_t c = chain[i - symoffset];

		if ((c | 1) == (h | 1) && dso_match(d, i, name, version))
			return &d->symtab[i];
		if (c & 1)
			break;
	}
	return NULL;
}

static uintptr_t dso_addr(const struct dso *d, const Elf64_Sym *s)
{
	return s->st_shndx == SHN_ABS ? s->st_value : d->load + s->st_value;
}

/* The way of parsers that go by section names: .dynsym and .dynstr, base + st_value. */
static uintptr_t lookup_by_sections(uintptr_t base, const char *name)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	const char *shstr = (const char *)(base + sh[eh->e_shstrndx].sh_offset);
	const Elf64_Shdr *dynsym = NULL, *dynstr = NULL;

	assert_int_equal(eh->e_shentsize, sizeof(Elf64_Shdr));
	for (int i = 0; i < eh->e_shnum; i++) {
		if (!strcmp(shstr + sh[i].sh_name, ".dynsym"))
			dynsym = &sh[i];
		else if (!strcmp(shstr + sh[i].sh_name, ".dynstr"))
			dynstr = &sh[i];
	}
	assert_non_null(dynsym);
	assert_non_null(dynstr);
	assert_int_equal(dynsym->sh_type, SHT_DYNSYM);
	assert_ptr_equal(&sh[dynsym->sh_link], dynstr);
	for (size_t i = 0; i < dynsym->sh_size / sizeof(Elf64_Sym); i++) {
		const Elf64_Sym *s = (const Elf64_Sym *)(base + dynsym->sh_offset) + i;

		if (!strcmp((const char *)(base + dynstr->sh_offset) + s->st_name, name))
			return base + s->st_value;
	}
	return 0;
}

static vdso_sgx_enter_enclave_t find_enter(void)
{
	struct dso d;
	const Elf64_Sym *s;

	dso_open(&d, getauxval(AT_SYSINFO_EHDR));
	s = dso_lookup_gnu(&d, SGX_ENTER, VERSION);
	assert_non_null(s);
	return (vdso_sgx_enter_enclave_t)dso_addr(&d, s);
}

/* ------------------------------------------------------------------------ */
/* The image and its symbols.                                               */

static void test_auxv_answers_image(void **state)
{
	unsigned long img = getauxval(AT_SYSINFO_EHDR);
	bool found;
	unsigned long kernel = kernel_auxv(AT_SYSINFO_EHDR, &found);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
	const Elf64_Phdr *ph;
	int load = 0, dynamic = 0;

	(void)state;
	assert_true(found && kernel);
	assert_true(img != 0);
	assert_true(img != kernel);
	assert_int_equal(img % 4096, 0);
	assert_int_equal(getauxval(AT_SYSINFO_EHDR), img); /* built once */
	assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
	assert_int_equal(eh->e_type, ET_DYN);
	ph = (const Elf64_Phdr *)(img + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD) {
			load++;
			assert_int_equal(ph[i].p_vaddr, 0);
			assert_int_equal(ph[i].p_offset, 0);
		}
		dynamic += ph[i].p_type == PT_DYNAMIC;
	}
	assert_int_equal(load, 1);
	assert_int_equal(dynamic, 1);
}

/* Every other key is libc's answer (glibc's own AT_HWCAP on x86 included). */
static void test_other_keys_from_libc(void **state)
{
	static const unsigned long keys[] = { AT_PAGESZ, AT_HWCAP,  AT_HWCAP2, AT_CLKTCK,
					      AT_PHDR,	 AT_PHNUM,  AT_ENTRY,  AT_BASE,
					      AT_UID,	 AT_EUID,   AT_SECURE, AT_RANDOM,
					      AT_EXECFN, AT_MINSIGSTKSZ, AT_PLATFORM, 0x7ffe };
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	unsigned long (*libc_getauxval)(unsigned long);
	bool found;

	(void)state;
	assert_non_null(libc);
	libc_getauxval = (unsigned long (*)(unsigned long))dlsym(libc, "getauxval");
	assert_non_null(libc_getauxval);
	assert_true(libc_getauxval != getauxval); /* the program's is the shim's */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		unsigned long want;
		int want_errno;

		errno = 0;
		want = libc_getauxval(keys[i]);
		want_errno = errno;
		errno = 0;
		assert_int_equal(getauxval(keys[i]), want);
		assert_int_equal(errno, want_errno);
	}
	/* libc's answers are the kernel's where glibc does not substitute its own. */
	assert_int_equal(getauxval(AT_PAGESZ), (unsigned long)sysconf(_SC_PAGESIZE));
	assert_int_equal(getauxval(AT_ENTRY), kernel_auxv(AT_ENTRY, &found));
	assert_int_equal(getauxval(AT_RANDOM), kernel_auxv(AT_RANDOM, &found));
	errno = 0;
	assert_int_equal(getauxval(0x7ffe), 0);
	assert_int_equal(errno, ENOENT);
	/* libc itself still knows the kernel's vDSO. */
	assert_int_equal(libc_getauxval(AT_SYSINFO_EHDR), kernel_auxv(AT_SYSINFO_EHDR, &found));
	dlclose(libc);
}

static void test_sgx_entry_by_hash(void **state)
{
	struct dso d;
	const Elf64_Sym *s1, *s2;
	Dl_info info;
	unsigned int i;

	(void)state;
	dso_open(&d, getauxval(AT_SYSINFO_EHDR));
	assert_non_null(d.hash);
	assert_non_null(d.gnu_hash);
	assert_non_null(d.versym);
	assert_non_null(d.verdef);
	s1 = dso_lookup_sysv(&d, SGX_ENTER, VERSION);
	s2 = dso_lookup_gnu(&d, SGX_ENTER, VERSION);
	assert_non_null(s1);
	assert_ptr_equal(s1, s2);
	i = (unsigned int)(s1 - d.symtab);
	assert_string_equal(dso_version(&d, i), VERSION);
	assert_int_equal(ELF64_ST_TYPE(s1->st_info), STT_FUNC);
	assert_int_equal(ELF64_ST_BIND(s1->st_info), STB_GLOBAL);
	assert_true(s1->st_size > 0);
	/* base + st_value, the selftests' way, is the same address. */
	assert_int_equal(dso_addr(&d, s1), d.base + s1->st_value);
	/* The code is the preload library's. */
	assert_true(dladdr((void *)dso_addr(&d, s1), &info));
	assert_non_null(strstr(info.dli_fname, "libsoftsgx-preload"));
	/* Versions and names are really compared. */
	assert_null(dso_lookup_sysv(&d, SGX_ENTER, "LINUX_2.5"));
	assert_null(dso_lookup_gnu(&d, SGX_ENTER, "LINUX_2.5"));
	assert_null(dso_lookup_sysv(&d, "__vdso_sgx_enter_enclav", NULL));
	assert_null(dso_lookup_gnu(&d, "__vdso_sgx_enter_enclave2", NULL));
}

static void test_sgx_entry_by_sections(void **state)
{
	uintptr_t base = getauxval(AT_SYSINFO_EHDR);

	(void)state;
	assert_int_equal(lookup_by_sections(base, SGX_ENTER), (uintptr_t)find_enter());
}

/* Every symbol of the kernel's vDSO, at the kernel's address, by both hashes. */
static void test_kernel_symbols_exported(void **state)
{
	bool found;
	struct dso k, img;
	unsigned int checked = 0;

	(void)state;
	dso_open(&k, kernel_auxv(AT_SYSINFO_EHDR, &found));
	dso_open(&img, getauxval(AT_SYSINFO_EHDR));
	for (unsigned int i = 1; i < k.nr_syms; i++) {
		const Elf64_Sym *ks = &k.symtab[i], *s1, *s2;
		const char *name = dso_name(&k, ks), *version = dso_version(&k, i);

		if (ks->st_shndx == SHN_UNDEF || !strcmp(name, SGX_ENTER))
			continue;
		s1 = dso_lookup_sysv(&img, name, version);
		s2 = dso_lookup_gnu(&img, name, version);
		assert_non_null(s1);
		assert_ptr_equal(s1, s2);
		assert_int_equal(dso_addr(&img, s1), dso_addr(&k, ks));
		assert_int_equal(s1->st_info, ks->st_info);
		assert_int_equal(s1->st_size, ks->st_size);
		assert_int_equal(lookup_by_sections(img.base, name) - img.base, s1->st_value);
		checked++;
	}
	assert_true(checked >= 4);
	assert_non_null(dso_lookup_gnu(&img, "__vdso_clock_gettime", VERSION));
}

static void test_clock_through_image(void **state)
{
	int (*vgettime)(clockid_t, struct timespec *);
	int (*vgettimeofday)(struct timeval *, void *);
	time_t (*vtime)(time_t *);
	struct timespec a, v, b;
	struct timeval tv;
	struct dso d;

	(void)state;
	dso_open(&d, getauxval(AT_SYSINFO_EHDR));
	vgettime = (void *)dso_addr(&d, dso_lookup_sysv(&d, "__vdso_clock_gettime", VERSION));
	vgettimeofday = (void *)dso_addr(&d, dso_lookup_gnu(&d, "__vdso_gettimeofday", VERSION));
	vtime = (void *)dso_addr(&d, dso_lookup_gnu(&d, "__vdso_time", VERSION));

	for (int c = 0; c < 2; c++) {
		clockid_t id = c ? CLOCK_REALTIME : CLOCK_MONOTONIC;

		assert_int_equal(clock_gettime(id, &a), 0);
		assert_int_equal(vgettime(id, &v), 0);
		assert_int_equal(clock_gettime(id, &b), 0);
		assert_true(v.tv_nsec >= 0 && v.tv_nsec < 1000000000);
		assert_true(a.tv_sec < v.tv_sec ||
			    (a.tv_sec == v.tv_sec && a.tv_nsec <= v.tv_nsec));
		assert_true(v.tv_sec < b.tv_sec ||
			    (v.tv_sec == b.tv_sec && v.tv_nsec <= b.tv_nsec));
	}
	assert_int_equal(vgettimeofday(&tv, NULL), 0);
	assert_true(tv.tv_sec >= a.tv_sec - 1 && tv.tv_sec <= a.tv_sec + 5);
	assert_true(llabs((long long)vtime(NULL) - (long long)time(NULL)) <= 1);
}

static int find_vdso_object(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t *where = data;

	(void)size;
	if (info->dlpi_name && !strcmp(info->dlpi_name, "linux-vdso.so.1"))
		*where = (uintptr_t)info->dlpi_phdr;
	return 0;
}

/* glibc found the kernel's vDSO at start-up and keeps using it. */
static void test_glibc_keeps_kernel_vdso(void **state)
{
	bool found;
	uintptr_t kernel = kernel_auxv(AT_SYSINFO_EHDR, &found), phdr = 0;
	struct timespec t1, t2;

	(void)state;
	dl_iterate_phdr(find_vdso_object, &phdr);
	assert_true(phdr >= kernel && phdr < kernel + 4096);
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t2), 0);
	assert_true(t2.tv_sec > t1.tv_sec || (t2.tv_sec == t1.tv_sec && t2.tv_nsec >= t1.tv_nsec));
}

/* ------------------------------------------------------------------------ */
/* __vdso_sgx_enter_enclave: what runs without an enclave.                  */

/*
 * call_with_canaries(fn, run, leaf, &diff): call fn(1, 2, 3, leaf, 8, 9, run)
 * with canaries in RBX, RBP and R12-R15; diff is the OR of what changed in
 * them. The vDSO saves RBX and RBP; R12-R15 it passes to the enclave.
 */
long call_with_canaries(vdso_sgx_enter_enclave_t fn, struct sgx_enclave_run *run,
			unsigned int leaf, uint64_t *diff);
__asm__(".text\n"
	".globl call_with_canaries\n"
	".type call_with_canaries, @function\n"
	"call_with_canaries:\n"
	"	push %rbp\n"
	"	push %rbx\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	push %rcx\n"  /* diff */
	"	sub $8, %rsp\n"
	"	push %rsi\n"  /* run, the 7th argument; RSP is 16-byte aligned */
	"	mov %rdi, %rax\n"
	"	mov %edx, %ecx\n"
	"	mov $1, %edi\n"
	"	mov $2, %esi\n"
	"	mov $3, %edx\n"
	"	mov $8, %r8d\n"
	"	mov $9, %r9d\n"
	"	movabs $0x1b1b1b1b1b1b1b1b, %rbx\n"
	"	movabs $0x1e1e1e1e1e1e1e1e, %rbp\n"
	"	movabs $0x1c1c1c1c1c1c1c1c, %r12\n"
	"	movabs $0x1d1d1d1d1d1d1d1d, %r13\n"
	"	movabs $0x1f1f1f1f1f1f1f1f, %r14\n"
	"	movabs $0x2f2f2f2f2f2f2f2f, %r15\n"
	"	call *%rax\n"
	"	movabs $0x1b1b1b1b1b1b1b1b, %rcx\n"
	"	xor %rcx, %rbx\n"
	"	movabs $0x1e1e1e1e1e1e1e1e, %rcx\n"
	"	xor %rcx, %rbp\n"
	"	or %rbp, %rbx\n"
	"	movabs $0x1c1c1c1c1c1c1c1c, %rcx\n"
	"	xor %rcx, %r12\n"
	"	or %r12, %rbx\n"
	"	movabs $0x1d1d1d1d1d1d1d1d, %rcx\n"
	"	xor %rcx, %r13\n"
	"	or %r13, %rbx\n"
	"	movabs $0x1f1f1f1f1f1f1f1f, %rcx\n"
	"	xor %rcx, %r14\n"
	"	or %r14, %rbx\n"
	"	movabs $0x2f2f2f2f2f2f2f2f, %rcx\n"
	"	xor %rcx, %r15\n"
	"	or %r15, %rbx\n"
	"	add $16, %rsp\n"
	"	pop %rcx\n"
	"	mov %rbx, (%rcx)\n"
	"	movslq %eax, %rax\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbx\n"
	"	pop %rbp\n"
	"	ret\n"
	".size call_with_canaries, . - call_with_canaries\n");

static void test_enter_rejects_bad_leaf(void **state)
{
	static const unsigned int leaves[] = { SGX_EREPORT,	SGX_EGETKEY, SGX_EEXIT,
					       SGX_EACCEPT,	SGX_EMODPE,  SGX_EACCEPTCOPY,
					       0x80000002,	UINT_MAX };
	vdso_sgx_enter_enclave_t enter = find_enter();
	struct sgx_enclave_run run, copy;
	uint64_t diff;

	(void)state;
	memset(&run, 0, sizeof(run));
	run.tcs = 0x7000000000;
	run.function = 0x55;
	memcpy(&copy, &run, sizeof(run));
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		assert_int_equal(enter(0, 0, 0, leaves[i], 0, 0, &run), -EINVAL);
		assert_int_equal(call_with_canaries(enter, &run, leaves[i], &diff), -EINVAL);
		assert_int_equal(diff, 0);
		assert_memory_equal(&run, &copy, sizeof(run));
	}
}

static void test_enter_rejects_reserved(void **state)
{
	vdso_sgx_enter_enclave_t enter = find_enter();
	struct sgx_enclave_run run, copy;
	uint64_t diff;

	(void)state;
	for (size_t off = offsetof(struct sgx_enclave_run, reserved); off < sizeof(run); off++) {
		memset(&run, 0, sizeof(run));
		((uint8_t *)&run)[off] = (uint8_t)(off & 1 ? 0x80 : 0x01);
		memcpy(&copy, &run, sizeof(run));
		assert_int_equal(enter(0, 0, 0, SGX_EENTER, 0, 0, &run), -EINVAL);
		assert_int_equal(enter(0, 0, 0, SGX_ERESUME, 0, 0, &run), -EINVAL);
		assert_int_equal(call_with_canaries(enter, &run, SGX_EENTER, &diff), -EINVAL);
		assert_int_equal(diff, 0);
		assert_memory_equal(&run, &copy, sizeof(run));
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auxv_answers_image),
		cmocka_unit_test(test_other_keys_from_libc),
		cmocka_unit_test(test_sgx_entry_by_hash),
		cmocka_unit_test(test_sgx_entry_by_sections),
		cmocka_unit_test(test_kernel_symbols_exported),
		cmocka_unit_test(test_clock_through_image),
		cmocka_unit_test(test_glibc_keeps_kernel_vdso),
		cmocka_unit_test(test_enter_rejects_bad_leaf),
		cmocka_unit_test(test_enter_rejects_reserved),
	};

	shim_test_reexec(argc, argv, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
