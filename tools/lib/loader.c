// SPDX-License-Identifier: MIT
/*
 * The public loader (include/softsgx/loader.h): opaque wrappers around the
 * loader of enclave_image.c, plus images laid out by hand. An image keeps
 * the internal layout whichever way it was made: page i's contents at
 * data + i * SGX_PAGE_SIZE, pages in ascending offsets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/lib/api.h"
#include "tools/lib/enclave_image.h"
#include "softsgx/loader.h"

_Static_assert(SOFTSGX_IMAGE_MAX_SIZE == ENCLAVE_IMAGE_MAX_SIZE, "one largest enclave");
_Static_assert(SOFTSGX_PAGE_MEASURE == 1, "the uAPI's SGX_PAGE_MEASURE");

struct softsgx_image {
	struct enclave_image img;
	bool by_hand; /* from softsgx_image_new(): takes pages */
	size_t cap;   /* pages img.pages and img.data have room for (by hand) */
};

struct softsgx_enclave {
	struct enclave_sys sys;
	struct enclave_handle h;
	bool own_fd; /* opened by softsgx_enclave_build(): closed by free */
	unsigned int nr_tcs;
	uint64_t *tcs; /* addresses */
};

static _Thread_local char detail[320];

int api_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return err;
}

const char *softsgx_error_detail(void)
{
	return detail;
}

static int image_alloc(struct softsgx_image **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : api_fail(-ENOMEM, "out of memory");
}

static int image_loaded(int ret, struct softsgx_image **img)
{
	if (!ret)
		return 0;
	api_fail(ret, "%s", enclave_image_error());
	free(*img);
	*img = NULL;
	return ret;
}

int softsgx_image_load_file(const char *path, struct softsgx_image **img)
{
	int ret;

	if (!img)
		return api_fail(-EINVAL, "no place for the image");
	*img = NULL;
	if (!path)
		return api_fail(-EINVAL, "no file name");
	ret = image_alloc(img);
	if (ret)
		return ret;
	return image_loaded(enclave_image_load_file(path, &(*img)->img), img);
}

int softsgx_image_load_mem(const void *elf, size_t len, struct softsgx_image **img)
{
	int ret;

	if (!img)
		return api_fail(-EINVAL, "no place for the image");
	*img = NULL;
	ret = image_alloc(img);
	if (ret)
		return ret;
	return image_loaded(enclave_image_load_mem(elf, len, &(*img)->img), img);
}

int softsgx_image_new(uint64_t size, uint32_t ssa_frame_pages, struct softsgx_image **img)
{
	struct sgx_secs *secs;
	int ret;

	if (!img)
		return api_fail(-EINVAL, "no place for the image");
	*img = NULL;
	/* ECREATE wants SECS.SIZE a power of two of at least two pages (SDM Vol. 3D). */
	if (size < 2 * SGX_PAGE_SIZE || size > SOFTSGX_IMAGE_MAX_SIZE || (size & (size - 1)))
		return api_fail(-EINVAL,
				"ELRANGE of %llu bytes: it must be a power of two from %lu to "
				"%llu bytes",
				(unsigned long long)size, 2 * SGX_PAGE_SIZE,
				(unsigned long long)SOFTSGX_IMAGE_MAX_SIZE);
	if (!ssa_frame_pages || ssa_frame_pages > size / SGX_PAGE_SIZE)
		return api_fail(-EINVAL, "SSA frames of %u pages in an ELRANGE of %llu pages",
				ssa_frame_pages, (unsigned long long)(size / SGX_PAGE_SIZE));
	ret = image_alloc(img);
	if (ret)
		return ret;
	secs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*secs));
	if (!secs) {
		free(*img);
		*img = NULL;
		return api_fail(-ENOMEM, "out of memory");
	}
	/* The SECS the ELF loader gives its images, with the caller's size and frames. */
	memset(secs, 0, sizeof(*secs));
	secs->size = size;
	secs->ssa_frame_size = ssa_frame_pages;
	secs->miscselect = ENCLAVE_IMAGE_MISCSELECT;
	secs->attributes = ENCLAVE_IMAGE_ATTRIBUTES;
	secs->xfrm = ENCLAVE_IMAGE_XFRM;
	(*img)->img.secs = secs;
	(*img)->img.layout.version = ENCLAVE_NOTE_VERSION;
	(*img)->img.layout.ssa_frame_pages = ssa_frame_pages;
	(*img)->by_hand = true;
	return 0;
}

/* Room for @more pages; contents pointers follow the data array when it moves. */
static int image_grow(struct softsgx_image *s, size_t more)
{
	struct enclave_image *img = &s->img;
	size_t need = img->nr_pages + more, cap = s->cap ? s->cap : 16;
	struct enclave_page *pages;
	uint8_t *data;

	if (need <= s->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	pages = realloc(img->pages, cap * sizeof(*pages));
	if (!pages)
		return api_fail(-ENOMEM, "out of memory for %zu pages", cap);
	img->pages = pages;
	data = aligned_alloc(SGX_PAGE_SIZE, cap * SGX_PAGE_SIZE);
	if (!data)
		return api_fail(-ENOMEM, "out of memory for %zu pages", cap);
	if (img->nr_pages)
		memcpy(data, img->data, img->nr_pages * SGX_PAGE_SIZE);
	free(img->data);
	img->data = data;
	for (size_t i = 0; i < img->nr_pages; i++)
		img->pages[i].contents = data + i * SGX_PAGE_SIZE;
	s->cap = cap;
	return 0;
}

int softsgx_image_add_pages(struct softsgx_image *s, uint64_t offset, const void *src, size_t len,
			    uint64_t secinfo, unsigned int flags)
{
	struct enclave_image *img = s ? &s->img : NULL;
	uint64_t type = SGX_SECINFO_PAGE_TYPE(secinfo), end;
	size_t n = len / SGX_PAGE_SIZE;
	int ret;

	if (!s || !src)
		return api_fail(-EINVAL, "no image or no contents");
	if (!s->by_hand)
		return api_fail(-EINVAL, "an image from an ELF takes no more pages");
	if (!len || (len % SGX_PAGE_SIZE) || (offset % SGX_PAGE_SIZE))
		return api_fail(-EINVAL, "offset %#llx and length %zu must be whole pages",
				(unsigned long long)offset, len);
	if (__builtin_add_overflow(offset, (uint64_t)len, &end) || end > img->secs->size)
		return api_fail(-EINVAL, "pages [%#llx, +%zu) end past the ELRANGE of %llu bytes",
				(unsigned long long)offset, len,
				(unsigned long long)img->secs->size);
	if (img->nr_pages && offset <= img->pages[img->nr_pages - 1].offset)
		return api_fail(-EINVAL, "offset %#llx is not above the last page added (%#llx)",
				(unsigned long long)offset,
				(unsigned long long)img->pages[img->nr_pages - 1].offset);
	/* The page types and SECINFO bits ENCLAVE_ADD_PAGES accepts. */
	if ((type != SGX_PAGE_TYPE_TCS && type != SGX_PAGE_TYPE_REG) ||
	    (secinfo & SGX_SECINFO_RESERVED_MASK) ||
	    (type == SGX_PAGE_TYPE_TCS && (secinfo & SGX_SECINFO_PERMISSION_MASK)))
		return api_fail(-EINVAL, "SECINFO flags %#llx: TCS, or REG with R/W/X, only",
				(unsigned long long)secinfo);
	if ((secinfo & SGX_SECINFO_W) && !(secinfo & SGX_SECINFO_R))
		return api_fail(-EINVAL, "writable pages must be readable");
	if (flags & ~SOFTSGX_PAGE_MEASURE)
		return api_fail(-EINVAL, "unknown flags %#x", flags);
	ret = image_grow(s, n);
	if (ret)
		return ret;
	memcpy(img->data + img->nr_pages * SGX_PAGE_SIZE, src, len);
	for (size_t i = 0; i < n; i++) {
		struct enclave_page *pg = &img->pages[img->nr_pages + i];

		pg->offset = offset + i * SGX_PAGE_SIZE;
		pg->secinfo = secinfo;
		pg->measure = flags & SOFTSGX_PAGE_MEASURE;
		pg->contents = img->data + (img->nr_pages + i) * SGX_PAGE_SIZE;
	}
	img->nr_pages += n;
	if (type == SGX_PAGE_TYPE_TCS)
		img->layout.nr_tcs += (uint32_t)n;
	return 0;
}

void softsgx_image_free(struct softsgx_image *img)
{
	if (!img)
		return;
	enclave_image_free(&img->img);
	free(img);
}

static bool is_tcs(const struct enclave_page *pg)
{
	return SGX_SECINFO_PAGE_TYPE(pg->secinfo) == SGX_PAGE_TYPE_TCS;
}

int softsgx_image_get_info(const struct softsgx_image *s, struct softsgx_image_info *info)
{
	const struct enclave_image *img = s ? &s->img : NULL;
	unsigned int nr_tcs = 0;

	if (!s || !info)
		return api_fail(-EINVAL, "no image or no place for its description");
	for (size_t i = 0; i < img->nr_pages; i++)
		nr_tcs += is_tcs(&img->pages[i]);
	memset(info, 0, sizeof(*info));
	info->size = img->secs->size;
	info->nr_pages = img->nr_pages;
	info->attributes = img->secs->attributes;
	info->xfrm = img->secs->xfrm;
	info->miscselect = img->secs->miscselect;
	info->ssa_frame_pages = img->secs->ssa_frame_size;
	info->nr_tcs = nr_tcs;
	if (!s->by_hand) {
		info->entry = img->entry;
		info->stack_size = img->layout.stack_size;
		info->nssa = img->layout.nssa;
	}
	return 0;
}

int softsgx_image_tcs_offset(const struct softsgx_image *s, unsigned int i, uint64_t *offset)
{
	if (!s || !offset)
		return api_fail(-EINVAL, "no image or no place for the offset");
	for (size_t p = 0; p < s->img.nr_pages; p++) {
		if (!is_tcs(&s->img.pages[p]))
			continue;
		if (!i--) {
			*offset = s->img.pages[p].offset;
			return 0;
		}
	}
	return api_fail(-ERANGE, "the image has fewer TCS pages");
}

const struct enclave_image *api_image(const struct softsgx_image *img)
{
	return img ? &img->img : NULL;
}

static int build(struct enclave_sys sys, int fd, bool own_fd, const struct softsgx_image *s,
		 const struct sgx_sigstruct *sig, struct softsgx_enclave **out)
{
	struct softsgx_enclave *e = calloc(1, sizeof(*e));
	struct sgx_secs *secs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*secs));
	int ret;

	if (!e || !secs) {
		ret = api_fail(-ENOMEM, "out of memory");
		goto err;
	}
	/* The signer decides attributes, XFRM and MISCSELECT; the SECS follows. */
	memcpy(secs, s->img.secs, sizeof(*secs));
	secs->attributes = sig->body.attributes & ~(uint64_t)SGX_ATTR_INIT;
	secs->xfrm = sig->body.xfrm;
	secs->miscselect = sig->body.miscselect;
	for (size_t i = 0; i < s->img.nr_pages; i++)
		e->nr_tcs += is_tcs(&s->img.pages[i]);
	e->tcs = calloc(e->nr_tcs ? e->nr_tcs : 1, sizeof(*e->tcs));
	if (!e->tcs) {
		ret = api_fail(-ENOMEM, "out of memory");
		goto err;
	}
	e->sys = sys;
	e->own_fd = own_fd;
	ret = enclave_build_fd(&e->sys, fd, &s->img, secs, sig, &e->h);
	if (ret) {
		api_fail(ret, "%s", enclave_image_error());
		goto err;
	}
	for (size_t i = 0, t = 0; i < s->img.nr_pages; i++)
		if (is_tcs(&s->img.pages[i]))
			e->tcs[t++] = e->h.base + s->img.pages[i].offset;
	free(secs);
	*out = e;
	return 0;

err:
	if (e)
		free(e->tcs);
	free(e);
	free(secs);
	return ret;
}

static int build_args(const struct softsgx_image *img, const struct sgx_sigstruct *sig,
		      struct softsgx_enclave **encl)
{
	if (!encl)
		return api_fail(-EINVAL, "no place for the enclave");
	*encl = NULL;
	if (!img || !sig)
		return api_fail(-EINVAL, "no image or no SIGSTRUCT");
	if (!img->img.nr_pages)
		return api_fail(-EINVAL, "the image has no pages");
	return 0;
}

int softsgx_enclave_build(struct softsgx_platform *p, const struct softsgx_image *img,
			  const struct sgx_sigstruct *sig, struct softsgx_enclave **encl)
{
	struct enclave_sys sys;
	int fd, ret;

	ret = build_args(img, sig, encl);
	if (ret)
		return ret;
	if (!p)
		return api_fail(-EINVAL, "no platform");
	sys = enclave_sys_softsgx(p);
	fd = sys.open(sys.ctx, "/dev/sgx_enclave", O_RDWR);
	if (fd < 0)
		return api_fail(fd, "open /dev/sgx_enclave: %s", strerror(-fd));
	ret = build(sys, fd, true, img, sig, encl);
	if (ret)
		sys.close(sys.ctx, fd);
	return ret;
}

int softsgx_enclave_build_fd(int fd, const struct softsgx_image *img,
			     const struct sgx_sigstruct *sig, struct softsgx_enclave **encl)
{
	int ret = build_args(img, sig, encl);

	if (ret)
		return ret;
	if (fd < 0)
		return api_fail(-EBADF, "descriptor %d", fd);
	return build(enclave_sys_native, fd, false, img, sig, encl);
}

void softsgx_enclave_free(struct softsgx_enclave *e)
{
	if (!e)
		return;
	if (!e->own_fd)
		e->h.fd = -1;
	enclave_unload(&e->sys, &e->h);
	free(e->tcs);
	free(e);
}

void softsgx_enclave_forget(struct softsgx_enclave *e)
{
	if (!e)
		return;
	free(e->tcs);
	free(e);
}

uint64_t softsgx_enclave_base(const struct softsgx_enclave *e)
{
	return e ? e->h.base : 0;
}

uint64_t softsgx_enclave_size(const struct softsgx_enclave *e)
{
	return e ? e->h.size : 0;
}

unsigned int softsgx_enclave_nr_tcs(const struct softsgx_enclave *e)
{
	return e ? e->nr_tcs : 0;
}

uint64_t softsgx_enclave_tcs(const struct softsgx_enclave *e, unsigned int i)
{
	return e && i < e->nr_tcs ? e->tcs[i] : 0;
}
