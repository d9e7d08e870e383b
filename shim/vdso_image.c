// SPDX-License-Identifier: MIT
/*
 * The vDSO a program finds through getauxval(AT_SYSINFO_EHDR) under the
 * shim: a small ELF shared object, built once on first use, that exports
 * every dynamic symbol of the kernel's vDSO (same names, versions, types and
 * sizes, pointing at the kernel's code) plus __vdso_sgx_enter_enclave
 * (LINUX_2.6), pointing at vdso_enter.S.
 *
 * The image is laid out like a linked vDSO: one PT_LOAD at virtual address
 * 0 and file offset 0, so every way of finding a symbol that programs use
 * (base + st_value; load offset base + p_offset - p_vaddr plus st_value;
 * DT_* pointers relative to the base) gives the same address. Symbol values
 * are the target minus the image base, modulo 2^64: the image is normally
 * mapped below the code it points at, so they come out positive, and
 * address arithmetic wraps back to the target if not. It has DT_HASH and
 * DT_GNU_HASH, DT_VERSYM/DT_VERDEF, the kernel's notes, and section headers
 * for parsers that look .dynsym up by name.
 *
 * glibc keeps using the kernel's vDSO, which it found before any of this.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/vdso.h"

/* glibc's own getauxval, under its other exported name. */
extern unsigned long __getauxval(unsigned long type);

#define SGX_ENTER_NAME "__vdso_sgx_enter_enclave"
#define VDSO_SONAME "linux-vdso.so.1"
#define MAX_SYMS 128
#define MAX_VERDEFS 16
#define STRTAB_SIZE 4096
#define GNU_BLOOM_WORDS 4
#define GNU_BLOOM_SHIFT 6

struct vsym {
	const char *name;
	uint64_t addr; /* absolute target, or the raw value of an SHN_ABS symbol */
	uint64_t size;
	unsigned char info, other;
	bool abs;
	uint16_t versym;
	uint32_t gnu_hash;
};

struct vverdef {
	const char *name;
	uint16_t flags, ndx;
};

/* What the builder keeps of the kernel's vDSO, and what it adds. */
struct vdso_desc {
	struct vsym syms[MAX_SYMS];
	unsigned int nr_syms;
	struct vverdef verdefs[MAX_VERDEFS];
	unsigned int nr_verdefs;
	const char *soname;
	const void *note;
	size_t note_size;
	unsigned char osabi;
};

static pthread_once_t image_once = PTHREAD_ONCE_INIT;
static unsigned long image_base;

static uint32_t elf_sysv_hash(const char *name)
{
	uint32_t h = 0, g;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h = (h << 4) + *p;
		g = h & 0xf0000000;
		if (g)
			h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

static uint32_t elf_gnu_hash(const char *name)
{
	uint32_t h = 5381;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = h * 33 + *p;
	return h;
}

/* ------------------------------------------------------------------------ */
/* Reading the kernel's vDSO.                                               */

struct real_vdso {
	uintptr_t load; /* base + p_offset - p_vaddr of the PT_LOAD */
	const Elf64_Sym *symtab;
	const char *strtab;
	const Elf64_Half *versym;
	const Elf64_Verdef *verdef;
	const Elf32_Word *hash;
	const Elf32_Word *gnu_hash;
	const char *soname;
	unsigned int nr_syms;
};

static unsigned int gnu_hash_nr_syms(const Elf32_Word *gh)
{
	uint32_t nbuckets = gh[0], symoffset = gh[1], bloom = gh[2];
	const Elf32_Word *buckets = gh + 4 + 2 * bloom;
	const Elf32_Word *chain = buckets + nbuckets;
	uint32_t last = 0;

	for (uint32_t b = 0; b < nbuckets; b++)
		if (buckets[b] > last)
			last = buckets[b];
	if (last < symoffset)
		return symoffset;
	while (!(chain[last - symoffset] & 1))
		last++;
	return last + 1;
}

static bool read_real_vdso(uintptr_t base, struct real_vdso *r, struct vdso_desc *d)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	bool have_load = false;

	memset(r, 0, sizeof(*r));
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phentsize != sizeof(Elf64_Phdr))
		return false;
	d->osabi = eh->e_ident[EI_OSABI];
	ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !have_load) {
			r->load = base + ph[i].p_offset - ph[i].p_vaddr;
			have_load = true;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const Elf64_Dyn *)(base + ph[i].p_offset);
		} else if (ph[i].p_type == PT_NOTE && !d->note) {
			d->note = (const void *)(base + ph[i].p_offset);
			d->note_size = ph[i].p_filesz;
		}
	}
	if (!have_load || !dyn)
		return false;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		const void *p = (const void *)(r->load + dyn->d_un.d_ptr);

		switch (dyn->d_tag) {
		case DT_SYMTAB:
			r->symtab = p;
			break;
		case DT_STRTAB:
			r->strtab = p;
			break;
		case DT_HASH:
			r->hash = p;
			break;
		case DT_GNU_HASH:
			r->gnu_hash = p;
			break;
		case DT_VERSYM:
			r->versym = p;
			break;
		case DT_VERDEF:
			r->verdef = p;
			break;
		case DT_SONAME:
			r->soname = (const char *)(uintptr_t)dyn->d_un.d_val; /* offset for now */
			break;
		}
	}
	if (!r->symtab || !r->strtab || (!r->hash && !r->gnu_hash))
		return false;
	if (r->soname)
		r->soname = r->strtab + (uintptr_t)r->soname;
	r->nr_syms = r->hash ? r->hash[1] : gnu_hash_nr_syms(r->gnu_hash);
	return true;
}

/* Collect the kernel vDSO's versions and symbols into @d. */
static void take_real_vdso(const struct real_vdso *r, struct vdso_desc *d)
{
	const Elf64_Verdef *vd = r->verdef;

	d->soname = r->soname;
	while (vd && d->nr_verdefs < MAX_VERDEFS) {
		const Elf64_Verdaux *aux = (const Elf64_Verdaux *)((const char *)vd + vd->vd_aux);

		d->verdefs[d->nr_verdefs++] = (struct vverdef){
			.name = r->strtab + aux->vda_name,
			.flags = vd->vd_flags,
			.ndx = vd->vd_ndx,
		};
		if (!vd->vd_next)
			break;
		vd = (const Elf64_Verdef *)((const char *)vd + vd->vd_next);
	}
	for (unsigned int i = 1; i < r->nr_syms && d->nr_syms < MAX_SYMS - 1; i++) {
		const Elf64_Sym *s = &r->symtab[i];
		const char *name = r->strtab + s->st_name;
		struct vsym *v;

		/* Undefined entries mean nothing here; ours replaces a kernel SGX entry. */
		if (s->st_shndx == SHN_UNDEF || !strcmp(name, SGX_ENTER_NAME))
			continue;
		v = &d->syms[d->nr_syms++];
		v->name = name;
		v->abs = s->st_shndx == SHN_ABS;
		v->addr = v->abs ? s->st_value : r->load + s->st_value;
		v->size = s->st_size;
		v->info = s->st_info;
		v->other = s->st_other;
		v->versym = r->versym ? r->versym[i] : 1;
	}
}

/* The version index of @name, defining it if the kernel's vDSO did not. */
static uint16_t version_index(struct vdso_desc *d, const char *name)
{
	uint16_t max = 1;

	if (!d->nr_verdefs) {
		d->verdefs[0] =
			(struct vverdef){ .name = d->soname, .flags = VER_FLG_BASE, .ndx = 1 };
		d->nr_verdefs = 1;
	}
	for (unsigned int i = 0; i < d->nr_verdefs; i++) {
		if (!(d->verdefs[i].flags & VER_FLG_BASE) && !strcmp(d->verdefs[i].name, name))
			return d->verdefs[i].ndx;
		if (d->verdefs[i].ndx > max)
			max = d->verdefs[i].ndx;
	}
	if (d->nr_verdefs == MAX_VERDEFS)
		return 1;
	d->verdefs[d->nr_verdefs++] = (struct vverdef){ .name = name, .ndx = (uint16_t)(max + 1) };
	return (uint16_t)(max + 1);
}

static void add_sgx_entry(struct vdso_desc *d)
{
	struct vsym *v = &d->syms[d->nr_syms++];

	v->name = SGX_ENTER_NAME;
	v->addr = (uintptr_t)softsgx_vdso_sgx_enter_enclave;
	v->size = (uintptr_t)softsgx_vdso_sgx_enter_enclave_end -
		  (uintptr_t)softsgx_vdso_sgx_enter_enclave;
	v->info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
	v->other = STV_DEFAULT;
	v->versym = version_index(d, SOFTSGX_VDSO_VERSION);
}

/* ------------------------------------------------------------------------ */
/* Writing the image.                                                       */

enum {
	SEC_NULL,
	SEC_HASH,
	SEC_GNU_HASH,
	SEC_DYNSYM,
	SEC_DYNSTR,
	SEC_VERSYM,
	SEC_VERDEF,
	SEC_DYNAMIC,
	SEC_NOTE,
	SEC_TEXT,
	SEC_SHSTRTAB,
	NR_SECS,
};

static const char *const sec_names[NR_SECS] = {
	[SEC_NULL] = "",
	[SEC_HASH] = ".hash",
	[SEC_GNU_HASH] = ".gnu.hash",
	[SEC_DYNSYM] = ".dynsym",
	[SEC_DYNSTR] = ".dynstr",
	[SEC_VERSYM] = ".gnu.version",
	[SEC_VERDEF] = ".gnu.version_d",
	[SEC_DYNAMIC] = ".dynamic",
	[SEC_NOTE] = ".note",
	[SEC_TEXT] = ".text",
	[SEC_SHSTRTAB] = ".shstrtab",
};

struct strtab {
	char buf[STRTAB_SIZE];
	size_t len;
	bool full;
};

static uint32_t str_add(struct strtab *t, const char *s)
{
	size_t n = strlen(s) + 1;
	uint32_t off;

	if (!*s)
		return 0;
	for (size_t i = 1; i + n <= t->len; i++) /* reuse an existing string */
		if (!memcmp(t->buf + i, s, n))
			return (uint32_t)i;
	if (t->len + n > sizeof(t->buf)) {
		t->full = true;
		return 0;
	}
	off = (uint32_t)t->len;
	memcpy(t->buf + off, s, n);
	t->len += n;
	return off;
}

struct layout {
	size_t off[NR_SECS], size[NR_SECS];
	size_t shdr_off, total;
	uint32_t sysv_nbuckets, gnu_nbuckets;
	unsigned int nr_dyn, nr_phdrs;
};

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static void plan(struct layout *l, const struct vdso_desc *d, const struct strtab *dynstr,
		 const struct strtab *shstr)
{
	unsigned int nsyms = d->nr_syms + 1; /* with the null symbol */
	static const size_t sec_align[NR_SECS] = {
		[SEC_HASH] = 8,	   [SEC_GNU_HASH] = 8, [SEC_DYNSYM] = 8, [SEC_DYNSTR] = 1,
		[SEC_VERSYM] = 2,  [SEC_VERDEF] = 8,   [SEC_DYNAMIC] = 8, [SEC_NOTE] = 4,
		[SEC_TEXT] = 16,   [SEC_SHSTRTAB] = 1,
	};
	size_t pos;

	l->nr_phdrs = d->note_size ? 3 : 2;
	/* Odd bucket counts spread the hashes better than powers of two. */
	l->sysv_nbuckets = (nsyms / 2) | 1;
	l->gnu_nbuckets = (nsyms / 4) | 1;
	/* SONAME HASH GNU_HASH STRTAB SYMTAB STRSZ SYMENT VERSYM VERDEF VERDEFNUM NULL */
	l->nr_dyn = 11;
	l->size[SEC_HASH] = (2 + l->sysv_nbuckets + nsyms) * sizeof(Elf32_Word);
	l->size[SEC_GNU_HASH] = 4 * sizeof(Elf32_Word) + GNU_BLOOM_WORDS * sizeof(Elf64_Xword) +
				(l->gnu_nbuckets + nsyms - 1) * sizeof(Elf32_Word);
	l->size[SEC_DYNSYM] = nsyms * sizeof(Elf64_Sym);
	l->size[SEC_DYNSTR] = dynstr->len;
	l->size[SEC_VERSYM] = nsyms * sizeof(Elf64_Half);
	l->size[SEC_VERDEF] = d->nr_verdefs * (sizeof(Elf64_Verdef) + sizeof(Elf64_Verdaux));
	l->size[SEC_DYNAMIC] = l->nr_dyn * sizeof(Elf64_Dyn);
	l->size[SEC_NOTE] = d->note_size;
	l->size[SEC_TEXT] = 0;
	l->size[SEC_SHSTRTAB] = shstr->len;

	pos = sizeof(Elf64_Ehdr) + l->nr_phdrs * sizeof(Elf64_Phdr);
	for (int s = SEC_HASH; s < NR_SECS; s++) {
		pos = align_up(pos, sec_align[s]);
		l->off[s] = pos;
		pos += l->size[s];
	}
	l->shdr_off = align_up(pos, 8);
	l->total = l->shdr_off + NR_SECS * sizeof(Elf64_Shdr);
}

/* Order the symbols by GNU hash bucket, as DT_GNU_HASH requires. */
static void sort_by_bucket(struct vdso_desc *d, uint32_t nbuckets)
{
	for (unsigned int i = 0; i < d->nr_syms; i++)
		d->syms[i].gnu_hash = elf_gnu_hash(d->syms[i].name);
	for (unsigned int i = 1; i < d->nr_syms; i++) {
		struct vsym v = d->syms[i];
		unsigned int j = i;

		while (j > 0 && d->syms[j - 1].gnu_hash % nbuckets > v.gnu_hash % nbuckets) {
			d->syms[j] = d->syms[j - 1];
			j--;
		}
		d->syms[j] = v;
	}
}

static void write_hash(char *img, const struct layout *l, const struct vdso_desc *d)
{
	Elf32_Word *h = (Elf32_Word *)(img + l->off[SEC_HASH]);
	uint32_t nb = l->sysv_nbuckets, nsyms = d->nr_syms + 1;
	Elf32_Word *bucket = h + 2, *chain = h + 2 + nb;

	h[0] = nb;
	h[1] = nsyms;
	/* Insert at the head of each chain; symbol i is dynsym index i + 1. */
	for (uint32_t i = 1; i < nsyms; i++) {
		uint32_t b = elf_sysv_hash(d->syms[i - 1].name) % nb;

		chain[i] = bucket[b];
		bucket[b] = i;
	}
}

static void write_gnu_hash(char *img, const struct layout *l, const struct vdso_desc *d)
{
	Elf32_Word *h = (Elf32_Word *)(img + l->off[SEC_GNU_HASH]);
	Elf64_Xword *bloom = (Elf64_Xword *)(h + 4);
	uint32_t nb = l->gnu_nbuckets;
	Elf32_Word *bucket = (Elf32_Word *)(bloom + GNU_BLOOM_WORDS);
	Elf32_Word *chain = bucket + nb;

	h[0] = nb;
	h[1] = 1; /* symoffset: every symbol but the null one is hashed */
	h[2] = GNU_BLOOM_WORDS;
	h[3] = GNU_BLOOM_SHIFT;
	for (unsigned int i = 0; i < d->nr_syms; i++) {
		uint32_t hv = d->syms[i].gnu_hash, b = hv % nb;
		bool last = i + 1 == d->nr_syms || d->syms[i + 1].gnu_hash % nb != b;

		bloom[(hv / 64) % GNU_BLOOM_WORDS] |=
			(1ULL << (hv % 64)) | (1ULL << ((hv >> GNU_BLOOM_SHIFT) % 64));
		if (!bucket[b])
			bucket[b] = i + 1;
		chain[i] = (hv & ~1U) | (last ? 1 : 0);
	}
}

static void write_symbols(char *img, const struct layout *l, const struct vdso_desc *d,
			  struct strtab *dynstr, uint64_t base)
{
	Elf64_Sym *sym = (Elf64_Sym *)(img + l->off[SEC_DYNSYM]);
	Elf64_Half *versym = (Elf64_Half *)(img + l->off[SEC_VERSYM]);

	for (unsigned int i = 0; i < d->nr_syms; i++) {
		const struct vsym *v = &d->syms[i];

		sym[i + 1] = (Elf64_Sym){
			.st_name = str_add(dynstr, v->name),
			.st_info = v->info,
			.st_other = v->other,
			.st_shndx = v->abs ? SHN_ABS : SEC_TEXT,
			/* Relative to the image; wraps modulo 2^64 below the base. */
			.st_value = v->abs ? v->addr : v->addr - base,
			.st_size = v->size,
		};
		versym[i + 1] = v->versym;
	}
}

static void write_verdefs(char *img, const struct layout *l, const struct vdso_desc *d,
			  struct strtab *dynstr)
{
	char *p = img + l->off[SEC_VERDEF];
	const size_t step = sizeof(Elf64_Verdef) + sizeof(Elf64_Verdaux);

	for (unsigned int i = 0; i < d->nr_verdefs; i++, p += step) {
		Elf64_Verdef *vd = (Elf64_Verdef *)p;
		Elf64_Verdaux *aux = (Elf64_Verdaux *)(p + sizeof(*vd));

		*vd = (Elf64_Verdef){
			.vd_version = VER_DEF_CURRENT,
			.vd_flags = d->verdefs[i].flags,
			.vd_ndx = d->verdefs[i].ndx,
			.vd_cnt = 1,
			.vd_hash = elf_sysv_hash(d->verdefs[i].name),
			.vd_aux = sizeof(*vd),
			.vd_next = i + 1 < d->nr_verdefs ? step : 0,
		};
		aux->vda_name = str_add(dynstr, d->verdefs[i].name);
		aux->vda_next = 0;
	}
}

static void write_dynamic(char *img, const struct layout *l, const struct vdso_desc *d,
			  const struct strtab *dynstr, uint32_t soname)
{
	Elf64_Dyn *dyn = (Elf64_Dyn *)(img + l->off[SEC_DYNAMIC]);
	const Elf64_Dyn entries[] = {
		{ DT_SONAME, { soname } },
		{ DT_HASH, { l->off[SEC_HASH] } },
		{ DT_GNU_HASH, { l->off[SEC_GNU_HASH] } },
		{ DT_STRTAB, { l->off[SEC_DYNSTR] } },
		{ DT_SYMTAB, { l->off[SEC_DYNSYM] } },
		{ DT_STRSZ, { dynstr->len } },
		{ DT_SYMENT, { sizeof(Elf64_Sym) } },
		{ DT_VERSYM, { l->off[SEC_VERSYM] } },
		{ DT_VERDEF, { l->off[SEC_VERDEF] } },
		{ DT_VERDEFNUM, { d->nr_verdefs } },
		{ DT_NULL, { 0 } },
	};

	_Static_assert(sizeof(entries) / sizeof(entries[0]) == 11, "layout.nr_dyn");
	memcpy(dyn, entries, sizeof(entries));
}

static void write_headers(char *img, const struct layout *l, const struct vdso_desc *d,
			  const uint32_t *sec_name)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));
	Elf64_Shdr *sh = (Elf64_Shdr *)(img + l->shdr_off);
	static const struct {
		uint32_t type;
		uint64_t flags, entsize;
		int link;
	} sec[NR_SECS] = {
		[SEC_HASH] = { SHT_HASH, SHF_ALLOC, sizeof(Elf32_Word), SEC_DYNSYM },
		[SEC_GNU_HASH] = { SHT_GNU_HASH, SHF_ALLOC, 0, SEC_DYNSYM },
		[SEC_DYNSYM] = { SHT_DYNSYM, SHF_ALLOC, sizeof(Elf64_Sym), SEC_DYNSTR },
		[SEC_DYNSTR] = { SHT_STRTAB, SHF_ALLOC, 0, 0 },
		[SEC_VERSYM] = { SHT_GNU_versym, SHF_ALLOC, sizeof(Elf64_Half), SEC_DYNSYM },
		[SEC_VERDEF] = { SHT_GNU_verdef, SHF_ALLOC, 0, SEC_DYNSTR },
		[SEC_DYNAMIC] = { SHT_DYNAMIC, SHF_ALLOC, sizeof(Elf64_Dyn), SEC_DYNSTR },
		[SEC_NOTE] = { SHT_NOTE, SHF_ALLOC, 0, 0 },
		[SEC_TEXT] = { SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 0, 0 },
		[SEC_SHSTRTAB] = { SHT_STRTAB, 0, 0, 0 },
	};
	unsigned int n = 0;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_ident[EI_OSABI] = d->osabi;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_shoff = l->shdr_off;
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = (Elf64_Half)l->nr_phdrs;
	eh->e_shentsize = sizeof(*sh);
	eh->e_shnum = NR_SECS;
	eh->e_shstrndx = SEC_SHSTRTAB;

	ph[n++] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R,
				.p_filesz = l->total, .p_memsz = l->total, .p_align = 4096 };
	ph[n++] = (Elf64_Phdr){ .p_type = PT_DYNAMIC, .p_flags = PF_R,
				.p_offset = l->off[SEC_DYNAMIC], .p_vaddr = l->off[SEC_DYNAMIC],
				.p_paddr = l->off[SEC_DYNAMIC], .p_filesz = l->size[SEC_DYNAMIC],
				.p_memsz = l->size[SEC_DYNAMIC], .p_align = 8 };
	if (d->note_size)
		ph[n++] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_flags = PF_R,
					.p_offset = l->off[SEC_NOTE], .p_vaddr = l->off[SEC_NOTE],
					.p_paddr = l->off[SEC_NOTE], .p_filesz = d->note_size,
					.p_memsz = d->note_size, .p_align = 4 };

	for (int s = SEC_HASH; s < NR_SECS; s++) {
		bool alloc = sec[s].flags & SHF_ALLOC;

		sh[s] = (Elf64_Shdr){
			.sh_name = sec_name[s],
			.sh_type = sec[s].type,
			.sh_flags = sec[s].flags,
			.sh_addr = alloc ? l->off[s] : 0,
			.sh_offset = l->off[s],
			.sh_size = l->size[s],
			.sh_link = (uint32_t)sec[s].link,
			.sh_addralign = s == SEC_DYNSTR || s == SEC_SHSTRTAB ? 1 : 8,
			.sh_entsize = sec[s].entsize,
		};
	}
	sh[SEC_DYNSYM].sh_info = 1; /* the first global symbol */
	sh[SEC_VERDEF].sh_info = d->nr_verdefs;
	sh[SEC_VERSYM].sh_addralign = 2;
	sh[SEC_NOTE].sh_addralign = 4;
	sh[SEC_TEXT].sh_addralign = 16;
}

static void build(void)
{
	static struct vdso_desc d;
	static struct strtab dynstr, shstr;
	uintptr_t real = __getauxval(AT_SYSINFO_EHDR);
	uint32_t sec_name[NR_SECS], soname;
	struct real_vdso r;
	struct layout l;
	size_t map_len;
	long mem;
	char *img;

	if (real && read_real_vdso(real, &r, &d))
		take_real_vdso(&r, &d);
	if (!d.soname)
		d.soname = VDSO_SONAME;
	add_sgx_entry(&d);

	/* Every string goes in before the layout: its size is part of it. */
	dynstr.len = 1;
	shstr.len = 1;
	soname = str_add(&dynstr, d.soname);
	for (unsigned int i = 0; i < d.nr_syms; i++)
		str_add(&dynstr, d.syms[i].name);
	for (unsigned int i = 0; i < d.nr_verdefs; i++)
		str_add(&dynstr, d.verdefs[i].name);
	for (int s = 0; s < NR_SECS; s++)
		sec_name[s] = str_add(&shstr, sec_names[s]);
	if (dynstr.full || shstr.full)
		return;

	plan(&l, &d, &dynstr, &shstr);
	sort_by_bucket(&d, l.gnu_nbuckets);

	/* Raw system calls: this may run before the shim's wrappers can. */
	map_len = align_up(l.total, 4096);
	mem = syscall(SYS_mmap, NULL, map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == -1)
		return;
	img = (char *)mem;

	write_hash(img, &l, &d);
	write_gnu_hash(img, &l, &d);
	write_symbols(img, &l, &d, &dynstr, (uintptr_t)img);
	write_verdefs(img, &l, &d, &dynstr);
	write_dynamic(img, &l, &d, &dynstr, soname);
	memcpy(img + l.off[SEC_DYNSTR], dynstr.buf, dynstr.len);
	memcpy(img + l.off[SEC_SHSTRTAB], shstr.buf, shstr.len);
	if (d.note_size)
		memcpy(img + l.off[SEC_NOTE], d.note, d.note_size);
	write_headers(img, &l, &d, sec_name);

	syscall(SYS_mprotect, img, map_len, PROT_READ);
	image_base = (uintptr_t)img;
}

unsigned long shim_vdso_image(void)
{
	pthread_once(&image_once, build);
	return image_base;
}

unsigned long getauxval(unsigned long type)
{
	unsigned long img;

	if (type == AT_SYSINFO_EHDR) {
		img = shim_vdso_image();
		if (img)
			return img;
	}
	return __getauxval(type);
}

bool shim_vdso_fixup_exception(ucontext_t *uc, unsigned int vector, unsigned int error_code,
			       uint64_t addr)
{
	greg_t *gregs = uc->uc_mcontext.gregs;

	/* #DB and #BP belong to debuggers and always arrive as signals. */
	if (vector == 1 || vector == 3)
		return false;
	if (!shim_vdso_is_enclu((uint64_t)gregs[REG_RIP]))
		return false;
	gregs[REG_RIP] = (greg_t)(uintptr_t)softsgx_vdso_fixup;
	gregs[REG_RDI] = vector;
	gregs[REG_RSI] = error_code;
	gregs[REG_RDX] = (greg_t)addr;
	return true;
}
