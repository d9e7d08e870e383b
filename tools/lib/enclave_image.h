/* SPDX-License-Identifier: MIT */
/*
 * The enclave loader: turns an enclave ELF into the list of pages that
 * ENCLAVE_ADD_PAGES adds, computes the MRENCLAVE those additions produce,
 * signs it, and builds the enclave through /dev/sgx_enclave-style calls.
 *
 * Input: a 64-bit x86 static PIE linked at 0 with no interpreter and no
 * dynamic relocations, carrying a layout note (PT_NOTE, name "SoftSGX",
 * type ENCLAVE_NOTE_LAYOUT) that says where the TCS pages, SSA frames and
 * stacks are; tests/enclaves/enclave.lds produces one. Only the program
 * headers are read. docs/enclave-abi.md describes the layout.
 *
 * Pages: every page that a PT_LOAD segment covers, in offset order. The
 * SECINFO permissions of a page are its segment's p_flags (PF_R, PF_W, PF_X);
 * pages of the TCS area become TCS pages (SECINFO permissions 0) whose
 * contents the loader writes. Every page is measured: EADD and then EEXTEND of
 * all 16 chunks, so MRENCLAVE covers the zero pages (SSA, bss, stacks) too.
 *
 * Functions return 0 or a negative errno: -ENOEXEC for an ELF the loader
 * does not accept, -EFBIG for an image larger than ENCLAVE_IMAGE_MAX_SIZE,
 * -ENOMEM, the errno of reading the file, or the errno of the failing
 * system call when building. enclave_image_error() says why in words.
 */
#ifndef SOFTSGX_ENCLAVE_IMAGE_H
#define SOFTSGX_ENCLAVE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "softsgx/sgx_arch.h"

struct softsgx_platform;

/* The layout note: Elf64_Nhdr, name "SoftSGX\0", struct enclave_layout_note. */
#define ENCLAVE_NOTE_NAME    "SoftSGX"
#define ENCLAVE_NOTE_LAYOUT  1
#define ENCLAVE_NOTE_VERSION 1

struct enclave_layout_note {
	uint32_t version;	  /* ENCLAVE_NOTE_VERSION */
	uint32_t nr_tcs;	  /* TCS pages at tcs_offset, one after another */
	uint32_t nssa;		  /* SSA frames per TCS (TCS.NSSA) */
	uint32_t ssa_frame_pages; /* SECS.SSAFRAMESIZE */
	uint64_t tcs_offset;
	uint64_t ssa_offset;   /* frames of TCS i: ssa_offset + i * nssa * frame size */
	uint64_t stack_offset; /* stack of TCS i: stack_offset + i * stack_size */
	uint64_t stack_size;   /* per TCS */
} __attribute__((packed));

_Static_assert(sizeof(struct enclave_layout_note) == 48, "enclave_layout_note");

/* The largest enclave (ELRANGE) the loader builds. */
#define ENCLAVE_IMAGE_MAX_SIZE (1ULL << 30)

/* Attributes, XFRM and MISCSELECT of every enclave the loader builds. */
#define ENCLAVE_IMAGE_ATTRIBUTES (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT)
#define ENCLAVE_IMAGE_XFRM	 0x3ULL
#define ENCLAVE_IMAGE_MISCSELECT SGX_MISC_EXINFO

struct enclave_page {
	uint64_t offset;   /* from the enclave base */
	uint64_t secinfo;  /* SECINFO.FLAGS: page type and permissions */
	bool measure;	   /* SGX_PAGE_MEASURE: EEXTEND the page after EADD */
	uint8_t *contents; /* SGX_PAGE_SIZE bytes, inside enclave_image.data */
};

struct enclave_image {
	/* ECREATE's SECS with base 0: size, SSAFRAMESIZE, attributes, XFRM, MISCSELECT. */
	struct sgx_secs *secs;
	struct enclave_layout_note layout;
	uint64_t entry; /* TCS.OENTRY, the ELF entry point */
	size_t nr_pages;
	struct enclave_page *pages; /* ascending offsets */
	uint8_t *data;		    /* contents of all pages, page i at i * SGX_PAGE_SIZE */
};

/* Parse the ELF file at @path into @img (free with enclave_image_free()). */
int enclave_image_load_file(const char *path, struct enclave_image *img);
/* The same from @len bytes at @elf, which the image does not keep. */
int enclave_image_load_mem(const void *elf, size_t len, struct enclave_image *img);
/* Frees what a successful load allocated; a zeroed @img is fine too. */
void enclave_image_free(struct enclave_image *img);

/* Offset of TCS @i from the enclave base. */
uint64_t enclave_image_tcs_offset(const struct enclave_image *img, unsigned int i);

/*
 * MRENCLAVE of @img: ECREATE(SSAFRAMESIZE, SIZE), then for each page in
 * offset order EADD(offset, SECINFO) and, if measured, EEXTEND of its 16
 * chunks of 256 bytes; the sequence the kernel causes for
 * enclave_build()'s ioctls.
 */
void enclave_image_mrenclave(const struct enclave_image *img, uint8_t out[SGX_HASH_SIZE]);

struct enclave_sign_opts {
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint32_t date;	     /* yyyymmdd in BCD digits; 0: today (UTC) */
	uint64_t attributes; /* 0: the image's SECS attributes */
	uint64_t xfrm;	     /* 0: the image's SECS XFRM */
};

/*
 * SIGSTRUCT for @img signed with @key (RSA-3072, e = 3). The attributes
 * (@opts's, else the image's) are enforced under the mask ~INIT, XFRM under its own value's bits, MISCSELECT
 * under all bits. @opts may be NULL (product 0, SVN 0, today).
 */
int enclave_image_sign(const struct enclave_image *img, EVP_PKEY *key,
		       const struct enclave_sign_opts *opts, struct sgx_sigstruct *out);

/*
 * The system calls enclave_build() makes, as a table so that one loader
 * drives the embedding API (enclave_sys_softsgx()) and real system calls
 * (enclave_sys_native: the kernel's driver, or the LD_PRELOAD shim's).
 * All return 0 (or a descriptor, or a count) or a negative errno.
 */
struct enclave_sys {
	void *ctx;
	int (*open)(void *ctx, const char *path, int flags);
	int (*close)(void *ctx, int fd);
	long (*ioctl)(void *ctx, int fd, unsigned long cmd, void *arg);
	/* *@addr in: the fixed address, out: the mapping's start. */
	int (*mmap)(void *ctx, void **addr, size_t len, int prot, int flags, int fd,
		    uint64_t offset);
	int (*munmap)(void *ctx, void *addr, size_t len);
};

extern const struct enclave_sys enclave_sys_native;
/* The embedding API on @p. */
struct enclave_sys enclave_sys_softsgx(struct softsgx_platform *p);

/* A built enclave: its /dev/sgx_enclave descriptor and ELRANGE. */
struct enclave_handle {
	int fd;
	uint64_t base;
	uint64_t size;
};

/*
 * Build @img signed by @sig: open /dev/sgx_enclave, reserve an ELRANGE
 * aligned to its size in the address space, ENCLAVE_CREATE there,
 * ENCLAVE_ADD_PAGES for each run of contiguous pages with the same SECINFO,
 * ENCLAVE_INIT, and map each run of pages with the same permissions
 * MAP_SHARED | MAP_FIXED with those permissions (TCS pages read-write).
 * On failure nothing is left open or mapped; enclave_image_error() names the
 * step.
 */
int enclave_build(const struct enclave_sys *sys, const struct enclave_image *img,
		  const struct sgx_sigstruct *sig, struct enclave_handle *h);
/*
 * The same on @fd, an open /dev/sgx_enclave of @sys with no enclave yet,
 * which stays the caller's (not closed on failure; h->fd is @fd on
 * success). ECREATE gets @secs (its base replaced by the ELRANGE's), or
 * the image's SECS when @secs is NULL.
 */
int enclave_build_fd(const struct enclave_sys *sys, int fd, const struct enclave_image *img,
		     const struct sgx_secs *secs, const struct sgx_sigstruct *sig,
		     struct enclave_handle *h);
/* Unmap the ELRANGE and close the descriptor. */
void enclave_unload(const struct enclave_sys *sys, struct enclave_handle *h);

/*
 * Why the last failing call of this thread failed, for messages to the user;
 * "" when none has.
 */
const char *enclave_image_error(void);

#endif /* SOFTSGX_ENCLAVE_IMAGE_H */
