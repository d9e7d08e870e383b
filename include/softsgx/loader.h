/* SPDX-License-Identifier: MIT */
/*
 * libsoftsgx enclave loader: parse an enclave ELF into the pages that
 * SGX_IOC_ENCLAVE_ADD_PAGES adds, and build it (ECREATE, ADD_PAGES, EINIT
 * through the /dev/sgx_enclave ioctls, then mmap) either on a platform of the
 * embedding API or through a real /dev/sgx_enclave descriptor: Linux's
 * driver, or the one `softsgx run` provides.
 *
 * The ELF: a 64-bit x86 static PIE linked at 0, no interpreter, no dynamic
 * relocations, with a layout note (PT_NOTE "SoftSGX", type 1) that says
 * where the TCS pages, SSA frames and stacks are; docs/enclave-abi.md
 * describes it and tests/enclaves/enclave.lds makes one. Every page of every
 * PT_LOAD segment is added and measured (EADD, then EEXTEND of its 16
 * chunks), with its segment's permissions; the TCS pages the loader writes.
 *
 * Every function that can fail returns 0 or a negative errno (the same
 * values as the ioctls and system calls behind it): -ENOEXEC for an ELF the
 * loader does not accept, -EFBIG for an enclave larger than
 * SOFTSGX_IMAGE_MAX_SIZE, -EINVAL for a bad argument, -ENOMEM, the errno of
 * reading the file, or the errno of the failing ioctl or mmap when
 * building (-EPERM when EINIT refuses the SIGSTRUCT). Objects come back
 * through a pointer argument, set to NULL on failure, so "no object" and
 * "failed, and why" never share a return value. softsgx_error_detail() says
 * why in words.
 */
#ifndef SOFTSGX_LOADER_H
#define SOFTSGX_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "softsgx/compiler.h"
#include "softsgx/sgx_arch.h"

SOFTSGX_BEGIN_DECLS

struct softsgx_platform;

/* An enclave image: its SECS, its pages and their contents. */
struct softsgx_image;

/* The largest enclave (ELRANGE) the loader builds: 1 GiB. */
#define SOFTSGX_IMAGE_MAX_SIZE (1ULL << 30)

/* Parse the enclave ELF at @path; *@img is NULL on failure. */
int softsgx_image_load_file(const char *path, struct softsgx_image **img);
/* The same from @len bytes at @elf, which the image does not keep. */
int softsgx_image_load_mem(const void *elf, size_t len, struct softsgx_image **img);

/*
 * An image without an ELF, for enclaves laid out by hand: ELRANGE of @size
 * bytes (a power of two, from 2 pages to SOFTSGX_IMAGE_MAX_SIZE) and SSA
 * frames of @ssa_frame_pages pages (SECS.SSAFRAMESIZE, 1 or more). Pages
 * come from softsgx_image_add_pages(). -EINVAL for a size or frame size
 * out of range.
 */
int softsgx_image_new(uint64_t size, uint32_t ssa_frame_pages, struct softsgx_image **img);

/* softsgx_image_add_pages() flag: EEXTEND the pages after EADD (SGX_PAGE_MEASURE). */
#define SOFTSGX_PAGE_MEASURE 0x1u

/*
 * Add @len bytes at @src (whole pages) at enclave offset @offset with
 * SECINFO.FLAGS @secinfo (SGX_SECINFO_TCS, or SGX_SECINFO_REG with
 * SGX_SECINFO_R/W/X), copying them. Pages must come in ascending offsets,
 * inside the ELRANGE. -EINVAL for an offset or length that is not page
 * aligned, zero, out of the ELRANGE or below a page already added, for
 * another page type or a reserved SECINFO bit, or an unknown flag; -ENOMEM.
 * Only images from softsgx_image_new() take pages (-EINVAL for ELF images).
 */
int softsgx_image_add_pages(struct softsgx_image *img, uint64_t offset, const void *src, size_t len,
			    uint64_t secinfo, unsigned int flags);

/* Frees @img; NULL is fine. */
void softsgx_image_free(struct softsgx_image *img);

/* What an image is, as softsgx_image_get_info() reports it. */
struct softsgx_image_info {
	uint64_t size;		  /* ELRANGE (SECS.SIZE) */
	uint64_t nr_pages;	  /* pages added, TCS pages included */
	uint64_t entry;		  /* TCS.OENTRY, the ELF entry point; 0 without ELF */
	uint64_t stack_size;	  /* per TCS, from the layout note; 0 without ELF */
	uint64_t attributes;	  /* SECS.ATTRIBUTES unless the signer sets others */
	uint64_t xfrm;		  /* SECS.XFRM unless the signer sets another */
	uint32_t miscselect;	  /* SECS.MISCSELECT */
	uint32_t ssa_frame_pages; /* SECS.SSAFRAMESIZE */
	uint32_t nr_tcs;	  /* TCS pages */
	uint32_t nssa;		  /* SSA frames per TCS (TCS.NSSA); 0 without ELF */
	uint64_t reserved[4];	  /* zero; room for later fields */
};

SOFTSGX_STATIC_ASSERT(sizeof(struct softsgx_image_info) == 96, "softsgx_image_info");
SOFTSGX_STATIC_ASSERT(offsetof(struct softsgx_image_info, miscselect) == 48,
		      "softsgx_image_info.miscselect");
SOFTSGX_STATIC_ASSERT(offsetof(struct softsgx_image_info, reserved) == 64,
		      "softsgx_image_info.reserved");

/* Fill @info. -EINVAL when @img or @info is NULL. */
int softsgx_image_get_info(const struct softsgx_image *img, struct softsgx_image_info *info);

/*
 * Offset of TCS @i (in offset order) from the enclave base in *@offset;
 * -ERANGE when the image has no TCS @i.
 */
int softsgx_image_tcs_offset(const struct softsgx_image *img, unsigned int i, uint64_t *offset);

/* A built, initialized and mapped enclave. */
struct softsgx_enclave;

/*
 * Build @img on @p: open /dev/sgx_enclave, reserve an ELRANGE aligned to
 * its size in this process, ENCLAVE_CREATE there, ENCLAVE_ADD_PAGES for
 * each run of pages, ENCLAVE_INIT with @sig, and map each run of pages
 * MAP_SHARED | MAP_FIXED with its permissions (TCS pages read-write). The
 * SECS takes ATTRIBUTES, XFRM and MISCSELECT from @sig, as SGX loaders do,
 * so softsgx_sign()'s options decide them. On failure nothing is left open
 * or mapped and *@encl is NULL. The enclave holds a descriptor of @p: free
 * it before the platform.
 */
int softsgx_enclave_build(struct softsgx_platform *p, const struct softsgx_image *img,
			  const struct sgx_sigstruct *sig, struct softsgx_enclave **encl);

/*
 * The same through the real system calls on @fd, an open /dev/sgx_enclave
 * with no enclave yet (Linux's, or the one under `softsgx run`). @fd stays
 * the caller's: the enclave does not close it, and the caller closes it
 * after softsgx_enclave_free().
 */
int softsgx_enclave_build_fd(int fd, const struct softsgx_image *img,
			     const struct sgx_sigstruct *sig, struct softsgx_enclave **encl);

/* Unmap the ELRANGE and close the descriptor the enclave opened; NULL is fine. */
void softsgx_enclave_free(struct softsgx_enclave *encl);
/*
 * Free @encl alone, leaving its mapping and descriptor as they are: for an
 * enclave whose platform goes first and takes them along
 * (softsgx_guest_reset() keeps the enclave's EPC pages as a reset guest
 * leaves them). NULL is fine.
 */
void softsgx_enclave_forget(struct softsgx_enclave *encl);

/* The ELRANGE: its base address and size in bytes. */
uint64_t softsgx_enclave_base(const struct softsgx_enclave *encl);
uint64_t softsgx_enclave_size(const struct softsgx_enclave *encl);
/* The number of TCS pages, and the address of TCS @i (0 when there is none: i >= number). */
unsigned int softsgx_enclave_nr_tcs(const struct softsgx_enclave *encl);
uint64_t softsgx_enclave_tcs(const struct softsgx_enclave *encl, unsigned int i);

/*
 * Why the last failing softsgx_image_*, softsgx_enclave_*, softsgx_key_* or
 * softsgx_sign* call of this thread failed, in words for a user ("" when
 * none has). The string stays valid until the next failing call.
 */
const char *softsgx_error_detail(void);

SOFTSGX_END_DECLS

#endif /* SOFTSGX_LOADER_H */
