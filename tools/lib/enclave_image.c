// SPDX-License-Identifier: MIT
/*
 * The enclave loader (enclave_image.h). The ELF is read through its program
 * headers only, as a kernel's ELF loader does; every field is copied out with
 * memcpy() because the caller's buffer need not be aligned.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/lib/enclave_image.h"
#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/softsgx.h"

/* Relative relocations (DT_RELR); newer than some <elf.h>. */
#ifndef DT_RELRSZ
#define DT_RELRSZ 35
#endif
#ifndef DT_RELR
#define DT_RELR 36
#endif

#define PAGE_MASK (SGX_PAGE_SIZE - 1)

static _Thread_local char image_error[256];

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(image_error, sizeof(image_error), fmt, ap);
	va_end(ap);
	return err;
}

const char *enclave_image_error(void)
{
	return image_error;
}

static uint64_t page_down(uint64_t x)
{
	return x & ~PAGE_MASK;
}

/* Round @x up to a page; false on overflow. */
static bool page_up(uint64_t x, uint64_t *out)
{
	if (x > UINT64_MAX - PAGE_MASK)
		return false;
	*out = (x + PAGE_MASK) & ~PAGE_MASK;
	return true;
}

/* [off, off + n) lies within a buffer of @len bytes. */
static bool in_file(uint64_t off, uint64_t n, size_t len)
{
	return off <= len && n <= len - off;
}

/* A PT_LOAD segment as the loader uses it: whole pages. */
struct segment {
	uint64_t start, end; /* page-aligned offsets from the enclave base */
	uint64_t vaddr, memsz, offset, filesz;
	uint32_t flags; /* PF_R, PF_W, PF_X */
	unsigned int index;
};

struct elf_info {
	const uint8_t *buf;
	size_t len;
	Elf64_Ehdr eh;
	struct segment *segs;
	unsigned int nr_segs;
	bool have_layout;
	struct enclave_layout_note layout;
};

static int check_ehdr(struct elf_info *e)
{
	const Elf64_Ehdr *eh = &e->eh;

	if (e->len < SELFMAG || memcmp(e->buf, ELFMAG, SELFMAG))
		return fail(-ENOEXEC, "not an ELF file (no \\177ELF magic)");
	if (e->len < EI_NIDENT)
		return fail(-ENOEXEC, "truncated ELF header (%zu bytes)", e->len);
	if (e->buf[EI_CLASS] == ELFCLASS32)
		return fail(-ENOEXEC, "32-bit ELF (ELFCLASS32): an enclave must be a 64-bit ELF");
	if (e->buf[EI_CLASS] != ELFCLASS64)
		return fail(-ENOEXEC, "unknown ELF class %u", e->buf[EI_CLASS]);
	if (e->len < sizeof(*eh))
		return fail(-ENOEXEC, "truncated ELF header (%zu of %zu bytes)", e->len,
			    sizeof(*eh));
	memcpy(&e->eh, e->buf, sizeof(e->eh));
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(-ENOEXEC, "not a little-endian ELF");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return fail(-ENOEXEC, "unknown ELF version");
	if (eh->e_machine != EM_X86_64)
		return fail(-ENOEXEC, "ELF machine %u is not x86-64", eh->e_machine);
	if (eh->e_type == ET_EXEC)
		return fail(-ENOEXEC, "ELF type EXEC is not position independent: "
				      "link the enclave with -static-pie");
	if (eh->e_type != ET_DYN)
		return fail(-ENOEXEC, "ELF type %u is not an executable", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(-ENOEXEC, "program header size %u, expected %zu", eh->e_phentsize,
			    sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum == PN_XNUM)
		return fail(-ENOEXEC, "no program headers");
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), e->len))
		return fail(-ENOEXEC, "truncated: program headers end past the file (%zu bytes)",
			    e->len);
	return 0;
}

static void read_phdr(const struct elf_info *e, unsigned int i, Elf64_Phdr *ph)
{
	memcpy(ph, e->buf + e->eh.e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

/* PT_DYNAMIC: refuse libraries and relocations, which no one would apply. */
static int check_dynamic(const struct elf_info *e, const Elf64_Phdr *ph)
{
	Elf64_Dyn d;

	if (!in_file(ph->p_offset, ph->p_filesz, e->len))
		return fail(-ENOEXEC, "truncated: the dynamic segment ends past the file");
	for (uint64_t off = 0; off + sizeof(d) <= ph->p_filesz; off += sizeof(d)) {
		memcpy(&d, e->buf + ph->p_offset + off, sizeof(d));
		switch (d.d_tag) {
		case DT_NULL:
			return 0;
		case DT_NEEDED:
			return fail(-ENOEXEC, "needs shared libraries (DT_NEEDED): "
					      "an enclave must be a static PIE");
		case DT_TEXTREL:
			return fail(-ENOEXEC, "has text relocations (DT_TEXTREL)");
		case DT_RELA:
		case DT_RELASZ:
		case DT_REL:
		case DT_RELSZ:
		case DT_JMPREL:
		case DT_PLTRELSZ:
		case DT_RELR:
		case DT_RELRSZ:
			if (d.d_tag == DT_RELASZ || d.d_tag == DT_RELSZ || d.d_tag == DT_PLTRELSZ ||
			    d.d_tag == DT_RELRSZ) {
				if (!d.d_un.d_val)
					break;
			}
			return fail(-ENOEXEC,
				    "has dynamic relocations (dynamic tag %lld): nothing applies "
				    "them in an enclave; avoid pointers in initialized data",
				    (long long)d.d_tag);
		default:
			break;
		}
	}
	return 0;
}

/* PT_NOTE: look for the layout note. */
static int parse_notes(struct elf_info *e, const Elf64_Phdr *ph)
{
	uint64_t align = ph->p_align == 8 ? 8 : 4;
	uint64_t off = ph->p_offset, end;
	Elf64_Nhdr nh;

	if (!in_file(ph->p_offset, ph->p_filesz, e->len))
		return fail(-ENOEXEC, "truncated: a note segment ends past the file");
	end = ph->p_offset + ph->p_filesz;
	while (end - off >= sizeof(nh)) {
		uint64_t name, desc, next;

		memcpy(&nh, e->buf + off, sizeof(nh));
		name = off + sizeof(nh);
		desc = name + ((nh.n_namesz + align - 1) & ~(align - 1));
		next = desc + ((nh.n_descsz + align - 1) & ~(align - 1));
		if (desc > end || next > end || next < desc)
			return fail(-ENOEXEC, "malformed note at file offset %llu",
				    (unsigned long long)off);
		if (nh.n_namesz == sizeof(ENCLAVE_NOTE_NAME) &&
		    !memcmp(e->buf + name, ENCLAVE_NOTE_NAME, sizeof(ENCLAVE_NOTE_NAME)) &&
		    nh.n_type == ENCLAVE_NOTE_LAYOUT) {
			if (e->have_layout)
				return fail(-ENOEXEC, "more than one layout note");
			if (nh.n_descsz != sizeof(e->layout))
				return fail(-ENOEXEC, "layout note of %u bytes, expected %zu",
					    nh.n_descsz, sizeof(e->layout));
			memcpy(&e->layout, e->buf + desc, sizeof(e->layout));
			if (e->layout.version != ENCLAVE_NOTE_VERSION)
				return fail(-ENOEXEC, "layout note version %u, expected %u",
					    e->layout.version, ENCLAVE_NOTE_VERSION);
			e->have_layout = true;
		}
		off = next;
	}
	return 0;
}

static int add_segment(struct elf_info *e, const Elf64_Phdr *ph, unsigned int index)
{
	struct segment *s;
	uint64_t end;

	if (!ph->p_memsz)
		return 0;
	if (ph->p_filesz > ph->p_memsz)
		return fail(-ENOEXEC, "segment %u: file size larger than memory size", index);
	if (!in_file(ph->p_offset, ph->p_filesz, e->len))
		return fail(-ENOEXEC, "truncated: segment %u ends past the file (%zu bytes)", index,
			    e->len);
	if (ph->p_vaddr > ENCLAVE_IMAGE_MAX_SIZE || ph->p_memsz > ENCLAVE_IMAGE_MAX_SIZE ||
	    !page_up(ph->p_vaddr + ph->p_memsz, &end) || end > ENCLAVE_IMAGE_MAX_SIZE)
		return fail(-EFBIG, "segment %u ends past the largest enclave (%llu bytes)", index,
			    (unsigned long long)ENCLAVE_IMAGE_MAX_SIZE);
	if ((ph->p_flags & PF_W) && !(ph->p_flags & PF_R))
		return fail(-ENOEXEC, "segment %u is writable but not readable, which SGX refuses",
			    index);
	if (e->nr_segs && page_down(ph->p_vaddr) < e->segs[e->nr_segs - 1].end)
		return fail(-ENOEXEC,
			    "segment %u: PT_LOAD segments must ascend and not share pages", index);
	s = &e->segs[e->nr_segs++];
	s->start = page_down(ph->p_vaddr);
	s->end = end;
	s->vaddr = ph->p_vaddr;
	s->memsz = ph->p_memsz;
	s->offset = ph->p_offset;
	s->filesz = ph->p_filesz;
	s->flags = ph->p_flags;
	s->index = index;
	return 0;
}

static int parse_phdrs(struct elf_info *e)
{
	Elf64_Phdr ph;
	int ret;

	e->segs = calloc(e->eh.e_phnum, sizeof(*e->segs));
	if (!e->segs)
		return fail(-ENOMEM, "out of memory");
	for (unsigned int i = 0; i < e->eh.e_phnum; i++) {
		read_phdr(e, i, &ph);
		switch (ph.p_type) {
		case PT_INTERP:
			return fail(-ENOEXEC, "has a program interpreter (PT_INTERP): "
					      "an enclave must be a static PIE");
		case PT_TLS:
			return fail(-ENOEXEC, "has thread-local storage (PT_TLS), "
					      "which the loader does not set up");
		case PT_DYNAMIC:
			ret = check_dynamic(e, &ph);
			break;
		case PT_NOTE:
			ret = parse_notes(e, &ph);
			break;
		case PT_LOAD:
			ret = add_segment(e, &ph, i);
			break;
		default:
			ret = 0; /* PT_GNU_STACK and friends say nothing to an enclave */
			break;
		}
		if (ret)
			return ret;
	}
	if (!e->nr_segs)
		return fail(-ENOEXEC, "no loadable segments");
	return 0;
}

/* The segment that holds all of [start, start + len), or NULL. */
static const struct segment *segment_of(const struct elf_info *e, uint64_t start, uint64_t len)
{
	for (unsigned int i = 0; i < e->nr_segs; i++)
		if (start >= e->segs[i].start && start < e->segs[i].end &&
		    len <= e->segs[i].end - start)
			return &e->segs[i];
	return NULL;
}

/* An area of the layout note: @n blocks of @each bytes at @start, in one segment. */
static int check_area(const struct elf_info *e, const char *what, uint64_t start, uint64_t n,
		      uint64_t each, uint32_t need_flags)
{
	const struct segment *s;
	uint64_t len;

	if (!n || !each || (start & PAGE_MASK) || (each & PAGE_MASK))
		return fail(-ENOEXEC, "layout note: %s area empty or not page aligned", what);
	if (__builtin_mul_overflow(n, each, &len) || len > ENCLAVE_IMAGE_MAX_SIZE)
		return fail(-ENOEXEC, "layout note: %s area too large", what);
	s = segment_of(e, start, len);
	if (!s)
		return fail(-ENOEXEC,
			    "layout note: %s area [%#llx, %#llx) is not inside one "
			    "loadable segment",
			    what, (unsigned long long)start, (unsigned long long)(start + len));
	if ((s->flags & need_flags) != need_flags)
		return fail(-ENOEXEC, "layout note: %s area is in a segment without %s", what,
			    need_flags & PF_W ? "read-write permission" : "read permission");
	return 0;
}

static int check_layout(const struct elf_info *e)
{
	const struct enclave_layout_note *l = &e->layout;
	const struct segment *s;
	uint64_t frame, ssa_per_tcs;
	int ret;

	if (!e->have_layout)
		return fail(-ENOEXEC,
			    "no layout note (PT_NOTE \"%s\" type %u): link the enclave "
			    "with tests/enclaves/enclave.lds or an equivalent script",
			    ENCLAVE_NOTE_NAME, ENCLAVE_NOTE_LAYOUT);
	if (!l->nssa || !l->ssa_frame_pages || l->ssa_frame_pages > ENCLAVE_IMAGE_MAX_SIZE >> 12)
		return fail(-ENOEXEC, "layout note: %u SSA frames of %u pages", l->nssa,
			    l->ssa_frame_pages);
	frame = (uint64_t)l->ssa_frame_pages * SGX_PAGE_SIZE;
	ssa_per_tcs = l->nssa * frame;
	ret = check_area(e, "TCS", l->tcs_offset, l->nr_tcs, SGX_PAGE_SIZE, 0) ?:
	      check_area(e, "SSA", l->ssa_offset, l->nr_tcs, ssa_per_tcs, PF_R | PF_W) ?:
	      check_area(e, "stack", l->stack_offset, l->nr_tcs, l->stack_size, PF_R | PF_W);
	if (ret)
		return ret;
	/* TCS pages must not double as SSA or stack pages. */
	if ((l->ssa_offset < l->tcs_offset + l->nr_tcs * SGX_PAGE_SIZE &&
	     l->tcs_offset < l->ssa_offset + l->nr_tcs * ssa_per_tcs) ||
	    (l->stack_offset < l->tcs_offset + l->nr_tcs * SGX_PAGE_SIZE &&
	     l->tcs_offset < l->stack_offset + l->nr_tcs * l->stack_size))
		return fail(-ENOEXEC, "layout note: the TCS area overlaps the SSA or stack area");
	s = segment_of(e, e->eh.e_entry, 1);
	if (!s || !(s->flags & PF_X))
		return fail(-ENOEXEC, "entry point %#llx is not in an executable segment",
			    (unsigned long long)e->eh.e_entry);
	return 0;
}

static uint64_t secinfo_perms(uint32_t pf)
{
	return (pf & PF_R ? SGX_SECINFO_R : 0) | (pf & PF_W ? SGX_SECINFO_W : 0) |
	       (pf & PF_X ? SGX_SECINFO_X : 0);
}

static struct enclave_page *page_at(struct enclave_image *img, uint64_t offset)
{
	size_t lo = 0, hi = img->nr_pages;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->pages[mid].offset == offset)
			return &img->pages[mid];
		if (img->pages[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void write_tcs(struct enclave_image *img, unsigned int i)
{
	const struct enclave_layout_note *l = &img->layout;
	struct enclave_page *pg = page_at(img, enclave_image_tcs_offset(img, i));
	struct sgx_tcs tcs;
	uint64_t frame = (uint64_t)l->ssa_frame_pages * SGX_PAGE_SIZE;

	memset(&tcs, 0, sizeof(tcs));
	tcs.ssa_offset = l->ssa_offset + (uint64_t)i * l->nssa * frame;
	tcs.nr_ssa_frames = l->nssa;
	tcs.entry_offset = img->entry;
	/* A per-thread anchor for FS and GS: the bottom of the thread's stack area. */
	tcs.fs_offset = l->stack_offset + (uint64_t)i * l->stack_size;
	tcs.gs_offset = tcs.fs_offset;
	tcs.fs_limit = 0xFFF;
	tcs.gs_limit = 0xFFF;
	memcpy(pg->contents, &tcs, sizeof(tcs));
	pg->secinfo = SGX_SECINFO_TCS;
}

static int build_image(const struct elf_info *e, struct enclave_image *img)
{
	uint64_t nr_pages = 0, end = e->segs[e->nr_segs - 1].end, size = 2 * SGX_PAGE_SIZE;
	size_t n = 0;

	for (unsigned int i = 0; i < e->nr_segs; i++)
		nr_pages += (e->segs[i].end - e->segs[i].start) / SGX_PAGE_SIZE;
	while (size < end)
		size *= 2;
	if (size > ENCLAVE_IMAGE_MAX_SIZE)
		return fail(-EFBIG, "enclave of %llu bytes, more than the loader builds",
			    (unsigned long long)size);

	img->layout = e->layout;
	img->entry = e->eh.e_entry;
	img->secs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*img->secs));
	img->data = aligned_alloc(SGX_PAGE_SIZE, nr_pages * SGX_PAGE_SIZE);
	img->pages = calloc(nr_pages, sizeof(*img->pages));
	if (!img->secs || !img->data || !img->pages)
		return fail(-ENOMEM, "out of memory for %llu pages", (unsigned long long)nr_pages);
	memset(img->data, 0, nr_pages * SGX_PAGE_SIZE);
	img->nr_pages = nr_pages;

	for (unsigned int i = 0; i < e->nr_segs; i++) {
		const struct segment *s = &e->segs[i];
		uint8_t *first = img->data + n * SGX_PAGE_SIZE;

		memcpy(first + (s->vaddr - s->start), e->buf + s->offset, s->filesz);
		for (uint64_t off = s->start; off < s->end; off += SGX_PAGE_SIZE, n++) {
			img->pages[n].offset = off;
			img->pages[n].secinfo = SGX_SECINFO_REG | secinfo_perms(s->flags);
			img->pages[n].measure = true;
			img->pages[n].contents = img->data + n * SGX_PAGE_SIZE;
		}
	}
	for (unsigned int i = 0; i < img->layout.nr_tcs; i++)
		write_tcs(img, i);

	memset(img->secs, 0, sizeof(*img->secs));
	img->secs->size = size;
	img->secs->base = 0;
	img->secs->ssa_frame_size = img->layout.ssa_frame_pages;
	img->secs->miscselect = ENCLAVE_IMAGE_MISCSELECT;
	img->secs->attributes = ENCLAVE_IMAGE_ATTRIBUTES;
	img->secs->xfrm = ENCLAVE_IMAGE_XFRM;
	return 0;
}

int enclave_image_load_mem(const void *elf, size_t len, struct enclave_image *img)
{
	struct elf_info e = {.buf = elf, .len = len};
	int ret;

	memset(img, 0, sizeof(*img));
	image_error[0] = '\0';
	if (!elf)
		return fail(-EINVAL, "no ELF image");
	ret = check_ehdr(&e) ?: parse_phdrs(&e) ?: check_layout(&e) ?: build_image(&e, img);
	free(e.segs);
	if (ret)
		enclave_image_free(img);
	return ret;
}

int enclave_image_load_file(const char *path, struct enclave_image *img)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd, ret;

	memset(img, 0, sizeof(*img));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(-errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		ret = fail(-errno, "%s: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = fail(-ENOEXEC, "%s: not a regular file", path);
		goto out_close;
	}
	if ((uint64_t)st.st_size > ENCLAVE_IMAGE_MAX_SIZE) {
		ret = fail(-EFBIG, "%s: %lld bytes, larger than any enclave the loader builds",
			   path, (long long)st.st_size);
		goto out_close;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		ret = fail(-ENOMEM, "out of memory");
		goto out_close;
	}
	while (done < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + done, (size_t)st.st_size - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = fail(-errno, "%s: %s", path, strerror(errno));
			goto out_free;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	ret = enclave_image_load_mem(buf, done, img);
	if (ret) {
		/* Name the file in front of the reason. */
		char why[sizeof(image_error)];

		snprintf(why, sizeof(why), "%s", image_error);
		fail(ret, "%s: %s", path, why);
	}
out_free:
	free(buf);
out_close:
	close(fd);
	return ret;
}

void enclave_image_free(struct enclave_image *img)
{
	free(img->secs);
	free(img->pages);
	free(img->data);
	memset(img, 0, sizeof(*img));
}

uint64_t enclave_image_tcs_offset(const struct enclave_image *img, unsigned int i)
{
	return img->layout.tcs_offset + (uint64_t)i * SGX_PAGE_SIZE;
}

void enclave_image_mrenclave(const struct enclave_image *img, uint8_t out[SGX_HASH_SIZE])
{
	struct sgx_secinfo secinfo __attribute__((aligned(64)));
	struct sgx_measurement m;

	sgx_measure_ecreate(&m, img->secs->ssa_frame_size, img->secs->size);
	for (size_t i = 0; i < img->nr_pages; i++) {
		const struct enclave_page *pg = &img->pages[i];

		memset(&secinfo, 0, sizeof(secinfo));
		secinfo.flags = pg->secinfo;
		sgx_measure_eadd(&m, pg->offset, &secinfo);
		if (!pg->measure)
			continue;
		for (unsigned int c = 0; c < SGX_PAGE_SIZE; c += SGX_EEXTEND_CHUNK)
			sgx_measure_eextend(&m, pg->offset + c, pg->contents + c);
	}
	sgx_measure_final(&m, out);
}

static uint32_t bcd_date_today(void)
{
	time_t now = time(NULL);
	struct tm tm;
	unsigned int v[3];
	uint32_t bcd = 0;

	if (!gmtime_r(&now, &tm))
		return 0;
	v[0] = (unsigned int)tm.tm_year + 1900;
	v[1] = (unsigned int)tm.tm_mon + 1;
	v[2] = (unsigned int)tm.tm_mday;
	for (int d = 1000; d; d /= 10)
		bcd = bcd << 4 | (v[0] / d % 10);
	for (int i = 1; i < 3; i++)
		bcd = bcd << 8 | (v[i] / 10) << 4 | (v[i] % 10);
	return bcd;
}

int enclave_image_sign(const struct enclave_image *img, EVP_PKEY *key,
		       const struct enclave_sign_opts *opts, struct sgx_sigstruct *out)
{
	struct sgx_sign_enclave desc;
	int ret;

	memset(&desc, 0, sizeof(desc));
	enclave_image_mrenclave(img, desc.mrenclave);
	desc.attributes = opts && opts->attributes ? opts->attributes : img->secs->attributes;
	desc.attributes_mask = ~(uint64_t)SGX_ATTR_INIT;
	desc.xfrm = opts && opts->xfrm ? opts->xfrm : img->secs->xfrm;
	desc.xfrm_mask = desc.xfrm;
	desc.miscselect = img->secs->miscselect;
	desc.misc_mask = ~(uint32_t)0;
	desc.isvprodid = opts ? opts->isvprodid : 0;
	desc.isvsvn = opts ? opts->isvsvn : 0;
	desc.date = opts && opts->date ? opts->date : bcd_date_today();
	ret = sgx_sign_sigstruct(&desc, key, out);
	if (ret)
		return fail(ret, "signing: %s", sgx_sign_error());
	return 0;
}

/* Real system calls. */

static int native_open(void *ctx, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	(void)ctx;
	return fd < 0 ? -errno : fd;
}

static int native_close(void *ctx, int fd)
{
	(void)ctx;
	return close(fd) ? -errno : 0;
}

static long native_ioctl(void *ctx, int fd, unsigned long cmd, void *arg)
{
	long ret = ioctl(fd, cmd, arg);

	(void)ctx;
	return ret < 0 ? -errno : ret;
}

static int native_mmap(void *ctx, void **addr, size_t len, int prot, int flags, int fd,
		       uint64_t offset)
{
	void *p = mmap(*addr, len, prot, flags, fd, (off_t)offset);

	(void)ctx;
	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

static int native_munmap(void *ctx, void *addr, size_t len)
{
	(void)ctx;
	return munmap(addr, len) ? -errno : 0;
}

const struct enclave_sys enclave_sys_native = {
	.ctx = NULL,
	.open = native_open,
	.close = native_close,
	.ioctl = native_ioctl,
	.mmap = native_mmap,
	.munmap = native_munmap,
};

/* The embedding API. */

static int softsgx_sys_open(void *ctx, const char *path, int flags)
{
	return softsgx_open(ctx, path, flags);
}

static int softsgx_sys_close(void *ctx, int fd)
{
	return softsgx_close(ctx, fd);
}

static long softsgx_sys_ioctl(void *ctx, int fd, unsigned long cmd, void *arg)
{
	return softsgx_ioctl(ctx, fd, cmd, arg);
}

static int softsgx_sys_mmap(void *ctx, void **addr, size_t len, int prot, int flags, int fd,
			    uint64_t offset)
{
	return softsgx_mmap(ctx, addr, len, prot, flags, fd, offset);
}

static int softsgx_sys_munmap(void *ctx, void *addr, size_t len)
{
	return softsgx_munmap(ctx, addr, len);
}

struct enclave_sys enclave_sys_softsgx(struct softsgx_platform *p)
{
	struct enclave_sys sys = {
		.ctx = p,
		.open = softsgx_sys_open,
		.close = softsgx_sys_close,
		.ioctl = softsgx_sys_ioctl,
		.mmap = softsgx_sys_mmap,
		.munmap = softsgx_sys_munmap,
	};

	return sys;
}

/* Building. */

/* An address range of @size bytes aligned to @size, reserved inaccessible. */
static int reserve_elrange(uint64_t size, uint64_t *base)
{
	uint8_t *p =
		mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint64_t start, head, tail;

	if (p == MAP_FAILED)
		return fail(-errno, "reserving %llu bytes of address space: %s",
			    (unsigned long long)(2 * size), strerror(errno));
	start = ((uintptr_t)p + size - 1) & ~(size - 1);
	head = start - (uintptr_t)p;
	tail = size - head;
	if (head)
		munmap(p, head);
	if (tail)
		munmap((void *)(uintptr_t)(start + size), tail);
	*base = start;
	return 0;
}

/* mmap protection of a page: its SECINFO permissions; a TCS is read-write. */
static int page_prot(const struct enclave_page *pg)
{
	if (SGX_SECINFO_PAGE_TYPE(pg->secinfo) == SGX_PAGE_TYPE_TCS)
		return PROT_READ | PROT_WRITE;
	return (pg->secinfo & SGX_SECINFO_R ? PROT_READ : 0) |
	       (pg->secinfo & SGX_SECINFO_W ? PROT_WRITE : 0) |
	       (pg->secinfo & SGX_SECINFO_X ? PROT_EXEC : 0);
}

/* Pages @i .. @j - 1 form a run for ENCLAVE_ADD_PAGES or for one mmap. */
static size_t run_end(const struct enclave_image *img, size_t i, bool for_mmap)
{
	size_t j = i + 1;

	for (; j < img->nr_pages; j++) {
		const struct enclave_page *a = &img->pages[j - 1], *b = &img->pages[j];

		if (b->offset != a->offset + SGX_PAGE_SIZE)
			break;
		if (for_mmap ? page_prot(a) != page_prot(b)
			     : a->secinfo != b->secinfo || a->measure != b->measure)
			break;
	}
	return j;
}

static int add_run(const struct enclave_sys *sys, int fd, const struct enclave_page *first,
		   uint64_t len)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64)));
	struct sgx_enclave_add_pages add;
	uint64_t done = 0;
	long ret;

	memset(&secinfo, 0, sizeof(secinfo));
	secinfo.flags = first->secinfo;
	while (done < len) {
		add.src = (uintptr_t)first->contents + done;
		add.offset = first->offset + done;
		add.length = len - done;
		add.secinfo = (uintptr_t)&secinfo;
		add.flags = first->measure ? SGX_PAGE_MEASURE : 0;
		add.count = 0;
		ret = sys->ioctl(sys->ctx, fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add);
		done += add.count;
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret)
			return fail((int)ret, "ENCLAVE_ADD_PAGES at offset %#llx: %s",
				    (unsigned long long)(first->offset + done),
				    strerror((int)-ret));
		if (!add.count)
			return fail(-EIO, "ENCLAVE_ADD_PAGES at offset %#llx made no progress",
				    (unsigned long long)(first->offset + done));
	}
	return 0;
}

int enclave_build_fd(const struct enclave_sys *sys, int fd, const struct enclave_image *img,
		     const struct sgx_secs *secs_in, const struct sgx_sigstruct *sig,
		     struct enclave_handle *h)
{
	struct sgx_enclave_create create;
	struct sgx_enclave_init init;
	struct sgx_secs *secs;
	uint64_t base = 0;
	long ret;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	image_error[0] = '\0';
	if (!img->nr_pages || !img->secs)
		return fail(-EINVAL, "empty enclave image");
	ret = reserve_elrange(img->secs->size, &base);
	if (ret)
		return (int)ret;

	secs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*secs));
	if (!secs) {
		ret = fail(-ENOMEM, "out of memory");
		goto err_unmap;
	}
	memcpy(secs, secs_in ? secs_in : img->secs, sizeof(*secs));
	secs->base = base;
	create.src = (uintptr_t)secs;
	ret = sys->ioctl(sys->ctx, fd, SGX_IOC_ENCLAVE_CREATE, &create);
	free(secs);
	if (ret) {
		ret = fail((int)ret, "ENCLAVE_CREATE: %s", strerror((int)-ret));
		goto err_unmap;
	}

	for (size_t i = 0, j; i < img->nr_pages; i = j) {
		j = run_end(img, i, false);
		ret = add_run(sys, fd, &img->pages[i], (j - i) * SGX_PAGE_SIZE);
		if (ret)
			goto err_unmap;
	}

	init.sigstruct = (uintptr_t)sig;
	ret = sys->ioctl(sys->ctx, fd, SGX_IOC_ENCLAVE_INIT, &init);
	if (ret > 0) {
		/* Drivers before Linux 5.11 return EINIT's SGX error code itself. */
		ret = fail(-EPERM, "ENCLAVE_INIT: EINIT refused the SIGSTRUCT (SGX error %ld)",
			   ret);
		goto err_unmap;
	}
	if (ret) {
		ret = fail((int)ret, "ENCLAVE_INIT: %s%s", strerror((int)-ret),
			   ret == -EPERM ? " (EINIT refused the SIGSTRUCT)" : "");
		goto err_unmap;
	}

	for (size_t i = 0, j; i < img->nr_pages; i = j) {
		void *addr = (void *)(uintptr_t)(base + img->pages[i].offset);
		int prot = page_prot(&img->pages[i]);

		j = run_end(img, i, true);
		ret = sys->mmap(sys->ctx, &addr, (j - i) * SGX_PAGE_SIZE, prot,
				MAP_SHARED | MAP_FIXED, fd, 0);
		if (ret) {
			ret = fail((int)ret, "mmap of offset %#llx: %s",
				   (unsigned long long)img->pages[i].offset, strerror((int)-ret));
			goto err_unmap;
		}
	}
	h->fd = fd;
	h->base = base;
	h->size = img->secs->size;
	return 0;

err_unmap:
	sys->munmap(sys->ctx, (void *)(uintptr_t)base, img->secs->size);
	return (int)ret;
}

int enclave_build(const struct enclave_sys *sys, const struct enclave_image *img,
		  const struct sgx_sigstruct *sig, struct enclave_handle *h)
{
	int fd, ret;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	image_error[0] = '\0';
	if (!img->nr_pages || !img->secs)
		return fail(-EINVAL, "empty enclave image");
	fd = sys->open(sys->ctx, "/dev/sgx_enclave", O_RDWR);
	if (fd < 0)
		return fail(fd, "open /dev/sgx_enclave: %s", strerror(-fd));
	ret = enclave_build_fd(sys, fd, img, NULL, sig, h);
	if (ret)
		sys->close(sys->ctx, fd);
	return ret;
}

void enclave_unload(const struct enclave_sys *sys, struct enclave_handle *h)
{
	if (h->size)
		sys->munmap(sys->ctx, (void *)(uintptr_t)h->base, h->size);
	if (h->fd >= 0)
		sys->close(sys->ctx, h->fd);
	memset(h, 0, sizeof(*h));
	h->fd = -1;
}
