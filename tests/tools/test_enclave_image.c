// SPDX-License-Identifier: MIT
/*
 * The enclave loader on the project's test enclave (SOFTSGX_TEST_ENCLAVE):
 * layout checked against the ELF's program headers read here, MRENCLAVE
 * recomputed here with plain SHA-256 over the SDM's blocks, the enclave built
 * through the embedding API up to EINIT, and malformed ELF inputs refused
 * with the documented errno and a message that says why.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "tests/common/cli_fixture.h"
#include "tests/common/encl_fixture.h"
#include "tools/lib/enclave_image.h"
#include "softsgx/softsgx.h"
#include "tests/common/test_keys.h"
#include "tests/enclaves/test_enclave.h"
#include "tests/common/leak_guard.h"

#define TEST_ENCLAVE_ENV "SOFTSGX_TEST_ENCLAVE"
#define PAGE		 SGX_PAGE_SIZE

static uint8_t *elf;
static size_t elf_len;

static const char *enclave_path(void)
{
	return cli_env_path(TEST_ENCLAVE_ENV);
}

static int group_setup(void **state)
{
	(void)state;
	elf = (uint8_t *)cli_read_file(enclave_path(), &elf_len);
	assert_true(elf_len > 0);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	free(elf);
	return 0;
}

/* A private copy of the test enclave's ELF to damage. */
static uint8_t *elf_copy(void)
{
	uint8_t *c = malloc(elf_len);

	assert_non_null(c);
	memcpy(c, elf, elf_len);
	return c;
}

static Elf64_Ehdr *ehdr(uint8_t *buf)
{
	return (Elf64_Ehdr *)buf;
}

static Elf64_Phdr *phdr(uint8_t *buf, unsigned int i)
{
	return (Elf64_Phdr *)(buf + ehdr(buf)->e_phoff) + i;
}

/* The first program header of @type, or NULL. */
static Elf64_Phdr *find_phdr(uint8_t *buf, uint32_t type)
{
	for (unsigned int i = 0; i < ehdr(buf)->e_phnum; i++)
		if (phdr(buf, i)->p_type == type)
			return phdr(buf, i);
	return NULL;
}

/* The layout note's descriptor inside @buf. */
static struct enclave_layout_note *note_desc(uint8_t *buf)
{
	Elf64_Phdr *ph = find_phdr(buf, PT_NOTE);

	assert_non_null(ph);
	/* Elf64_Nhdr (12 bytes) and the name "SoftSGX\0" (8 bytes). */
	assert_memory_equal(buf + ph->p_offset + 12, "SoftSGX", 8);
	return (struct enclave_layout_note *)(buf + ph->p_offset + 20);
}

static void load(struct enclave_image *img)
{
	int ret = enclave_image_load_file(enclave_path(), img);

	if (ret)
		fail_msg("load: %d: %s", ret, enclave_image_error());
}

/* Load @len bytes of @buf and expect @err with @why in the message. */
static void expect_refused(const void *buf, size_t len, int err, const char *why)
{
	struct enclave_image img;
	int ret = enclave_image_load_mem(buf, len, &img);

	if (ret != err || !strstr(enclave_image_error(), why))
		fail_msg("got %d \"%s\", expected %d with \"%s\"", ret, enclave_image_error(), err,
			 why);
	assert_null(img.pages);
	assert_null(img.data);
	assert_null(img.secs);
}

static void test_loads(void **state)
{
	struct enclave_image img;

	(void)state;
	load(&img);
	assert_string_equal(enclave_image_error(), "");
	assert_true(img.nr_pages > 0);
	enclave_image_free(&img);
	assert_null(img.pages);
	enclave_image_free(&img); /* twice is harmless */
}

static void test_secs_template(void **state)
{
	struct enclave_image img;
	uint64_t end;

	(void)state;
	load(&img);
	end = img.pages[img.nr_pages - 1].offset + PAGE;
	assert_int_equal(img.secs->base, 0);
	assert_int_equal(img.secs->size & (img.secs->size - 1), 0);
	assert_true(img.secs->size >= end);
	assert_true(img.secs->size / 2 < end);
	assert_int_equal(img.secs->ssa_frame_size, TEST_ENCL_SSA_FRAME_PAGES);
	assert_int_equal(img.secs->attributes, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(img.secs->xfrm, 0x3);
	assert_int_equal(img.secs->miscselect, SGX_MISC_EXINFO);
	enclave_image_free(&img);
}

static void test_layout_note(void **state)
{
	struct enclave_image img;
	const struct enclave_layout_note *l = &img.layout;

	(void)state;
	load(&img);
	assert_int_equal(l->version, ENCLAVE_NOTE_VERSION);
	assert_int_equal(l->nr_tcs, TEST_ENCL_NR_TCS);
	assert_int_equal(l->nssa, TEST_ENCL_NSSA);
	assert_int_equal(l->ssa_frame_pages, TEST_ENCL_SSA_FRAME_PAGES);
	assert_int_equal(l->tcs_offset, 0);
	assert_int_equal(l->ssa_offset, TEST_ENCL_NR_TCS * PAGE);
	assert_int_equal(l->stack_size, TEST_ENCL_STACK_SIZE);
	/* The stacks end the image. */
	assert_int_equal(l->stack_offset + TEST_ENCL_NR_TCS * TEST_ENCL_STACK_SIZE,
			 img.pages[img.nr_pages - 1].offset + PAGE);
	assert_int_equal(img.entry, ehdr(elf)->e_entry);
	enclave_image_free(&img);
}

static void test_pages_aligned_and_ordered(void **state)
{
	struct enclave_image img;

	(void)state;
	load(&img);
	for (size_t i = 0; i < img.nr_pages; i++) {
		assert_int_equal(img.pages[i].offset % PAGE, 0);
		assert_int_equal((uintptr_t)img.pages[i].contents % PAGE, 0);
		assert_ptr_equal(img.pages[i].contents, img.data + i * PAGE);
		assert_true(img.pages[i].measure);
		assert_true(img.pages[i].offset < img.secs->size);
		if (i)
			assert_true(img.pages[i].offset > img.pages[i - 1].offset);
	}
	enclave_image_free(&img);
}

static const struct enclave_page *page_at(const struct enclave_image *img, uint64_t off)
{
	for (size_t i = 0; i < img->nr_pages; i++)
		if (img->pages[i].offset == off)
			return &img->pages[i];
	return NULL;
}

static void test_tcs_pages(void **state)
{
	struct enclave_image img;
	const struct enclave_layout_note *l = &img.layout;

	(void)state;
	load(&img);
	for (unsigned int i = 0; i < TEST_ENCL_NR_TCS; i++) {
		const struct enclave_page *pg = page_at(&img, i * PAGE);
		const struct sgx_tcs *tcs;
		const struct enclave_page *entry_pg;

		assert_non_null(pg);
		assert_int_equal(enclave_image_tcs_offset(&img, i), i * PAGE);
		/* A TCS page: type TCS, no permissions (the driver refuses others). */
		assert_int_equal(pg->secinfo, SGX_SECINFO_TCS);
		tcs = (const struct sgx_tcs *)pg->contents;
		assert_int_equal(tcs->state, 0);
		assert_int_equal(tcs->flags, 0);
		assert_int_equal(tcs->ssa_index, 0);
		assert_int_equal(tcs->ssa_offset, l->ssa_offset + i * TEST_ENCL_SSA_PER_TCS);
		assert_int_equal(tcs->nr_ssa_frames, TEST_ENCL_NSSA);
		assert_int_equal(tcs->entry_offset, ehdr(elf)->e_entry);
		assert_int_equal(tcs->fs_offset, l->stack_offset + i * TEST_ENCL_STACK_SIZE);
		assert_int_equal(tcs->gs_offset, tcs->fs_offset);
		assert_int_equal(tcs->fs_limit, 0xFFF);
		assert_int_equal(tcs->gs_limit, 0xFFF);
		for (size_t b = 0; b < sizeof(tcs->reserved); b++)
			assert_int_equal(tcs->reserved[b], 0);
		/* The SSA frames are read-write regular pages. */
		for (unsigned int f = 0; f < TEST_ENCL_NSSA * TEST_ENCL_SSA_FRAME_PAGES; f++) {
			const struct enclave_page *ssa = page_at(&img, tcs->ssa_offset + f * PAGE);

			assert_non_null(ssa);
			assert_int_equal(ssa->secinfo,
					 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W);
		}
		/* The entry point is in an R|X page. */
		entry_pg = page_at(&img, tcs->entry_offset & ~(PAGE - 1));
		assert_non_null(entry_pg);
		assert_int_equal(entry_pg->secinfo,
				 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_X);
	}
	enclave_image_free(&img);
}

/* Page permissions against the p_flags of the PT_LOAD that covers them. */
static void test_permissions_per_segment(void **state)
{
	struct enclave_image img;
	size_t covered = 0;
	unsigned int rx = 0, r = 0, rw = 0;

	(void)state;
	load(&img);
	for (unsigned int i = 0; i < ehdr(elf)->e_phnum; i++) {
		const Elf64_Phdr *ph = phdr(elf, i);
		uint64_t perm = 0;

		if (ph->p_type != PT_LOAD || !ph->p_memsz)
			continue;
		perm |= ph->p_flags & PF_R ? SGX_SECINFO_R : 0;
		perm |= ph->p_flags & PF_W ? SGX_SECINFO_W : 0;
		perm |= ph->p_flags & PF_X ? SGX_SECINFO_X : 0;
		rx += perm == (SGX_SECINFO_R | SGX_SECINFO_X);
		r += perm == SGX_SECINFO_R;
		rw += perm == (SGX_SECINFO_R | SGX_SECINFO_W);
		for (uint64_t off = ph->p_vaddr & ~(PAGE - 1); off < ph->p_vaddr + ph->p_memsz;
		     off += PAGE) {
			const struct enclave_page *pg = page_at(&img, off);

			assert_non_null(pg);
			covered++;
			if (off < TEST_ENCL_NR_TCS * PAGE)
				assert_int_equal(pg->secinfo, SGX_SECINFO_TCS);
			else
				assert_int_equal(pg->secinfo, SGX_SECINFO_REG | perm);
			/* The file's bytes are there. */
			if (ph->p_filesz && off == ph->p_vaddr)
				assert_memory_equal(pg->contents, elf + ph->p_offset,
						    ph->p_filesz < PAGE ? ph->p_filesz : PAGE);
		}
	}
	/* Text, rodata, TCS+SSA and data+bss+stacks: nothing else. */
	assert_int_equal(rx, 1);
	assert_int_equal(r, 1);
	assert_int_equal(rw, 2);
	assert_int_equal(covered, img.nr_pages);
	enclave_image_free(&img);
}

/* The initialized data made it: the magic u64 sits in a read-write page. */
static void test_data_contents(void **state)
{
	struct enclave_image img;
	uint64_t magic = TEST_ENCL_MAGIC;
	bool found = false;

	(void)state;
	load(&img);
	for (size_t i = 0; i < img.nr_pages && !found; i++) {
		if (!memmem(img.pages[i].contents, PAGE, &magic, sizeof(magic)))
			continue;
		assert_int_equal(img.pages[i].secinfo,
				 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W);
		found = true;
	}
	assert_true(found);
	enclave_image_free(&img);
}

/* MRENCLAVE from the SDM's blocks, with nothing of the project's but the page list. */
static void independent_mrenclave(const struct enclave_image *img, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t block[64];
	unsigned int len = 0;

	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);

	/* ECREATE: "ECREATE\0", SSAFRAMESIZE (u32), SIZE (u64), zeros. */
	memset(block, 0, sizeof(block));
	memcpy(block, "ECREATE\0", 8);
	memcpy(block + 8, &img->secs->ssa_frame_size, 4);
	memcpy(block + 12, &img->secs->size, 8);
	assert_int_equal(EVP_DigestUpdate(md, block, 64), 1);

	for (size_t i = 0; i < img->nr_pages; i++) {
		const struct enclave_page *pg = &img->pages[i];

		/* EADD: "EADD\0\0\0\0", offset (u64), first 48 bytes of SECINFO. */
		memset(block, 0, sizeof(block));
		memcpy(block, "EADD\0\0\0\0", 8);
		memcpy(block + 8, &pg->offset, 8);
		memcpy(block + 16, &pg->secinfo, 8);
		assert_int_equal(EVP_DigestUpdate(md, block, 64), 1);
		if (!pg->measure)
			continue;
		/* EEXTEND: "EEXTEND\0", chunk offset (u64), zeros, then 256 bytes. */
		for (uint64_t c = 0; c < PAGE; c += 256) {
			uint64_t off = pg->offset + c;

			memset(block, 0, sizeof(block));
			memcpy(block, "EEXTEND\0", 8);
			memcpy(block + 8, &off, 8);
			assert_int_equal(EVP_DigestUpdate(md, block, 64), 1);
			assert_int_equal(EVP_DigestUpdate(md, pg->contents + c, 256), 1);
		}
	}
	assert_int_equal(EVP_DigestFinal_ex(md, out, &len), 1);
	assert_int_equal(len, 32);
	EVP_MD_CTX_free(md);
}

static void test_mrenclave_independent(void **state)
{
	struct enclave_image img;
	uint8_t lib[32], mine[32];

	(void)state;
	load(&img);
	enclave_image_mrenclave(&img, lib);
	independent_mrenclave(&img, mine);
	assert_memory_equal(lib, mine, 32);
	/* One byte of one page changes it. */
	img.pages[img.nr_pages / 2].contents[7] ^= 1;
	enclave_image_mrenclave(&img, lib);
	assert_memory_not_equal(lib, mine, 32);
	enclave_image_free(&img);
}

static void test_sign(void **state)
{
	struct enclave_sign_opts opts = {.isvprodid = 7, .isvsvn = 3, .date = 0x20260101};
	struct sgx_sigstruct *sig = aligned_alloc(PAGE, PAGE);
	struct enclave_image img;
	uint8_t mr[32];
	EVP_PKEY *key = test_key();

	(void)state;
	assert_non_null(sig);
	load(&img);
	assert_int_equal(enclave_image_sign(&img, key, &opts, sig), 0);
	enclave_image_mrenclave(&img, mr);
	assert_memory_equal(sig->body.mrenclave, mr, 32);
	assert_int_equal(sig->body.attributes, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(sig->body.xfrm, 0x3);
	assert_int_equal(sig->body.miscselect, SGX_MISC_EXINFO);
	assert_int_equal(sig->body.isvprodid, 7);
	assert_int_equal(sig->body.isvsvn, 3);
	assert_int_equal(sig->header.date, 0x20260101);
	/* Without options: product 0, SVN 0, a BCD date of this century. */
	assert_int_equal(enclave_image_sign(&img, key, NULL, sig), 0);
	assert_int_equal(sig->body.isvprodid, 0);
	assert_int_equal(sig->header.date >> 24, 0x20);
	for (unsigned int d = 0; d < 8; d++)
		assert_true(((sig->header.date >> (4 * d)) & 0xF) <= 9);
	enclave_image_free(&img);
	EVP_PKEY_free(key);
	free(sig);
}

static struct softsgx_platform *platform(void)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 256 * PAGE;
	cfg.no_ksgxd = true; /* nothing evicts the SECS under the white-box read */
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

static void test_build_through_embedding_api(void **state)
{
	struct softsgx_platform *p = platform();
	struct enclave_sys sys = enclave_sys_softsgx(p);
	struct sgx_sigstruct *sig = aligned_alloc(PAGE, PAGE);
	struct sgx_secs *secs = aligned_alloc(PAGE, PAGE);
	struct enclave_image img;
	struct enclave_handle h;
	struct softsgx_stats st;
	uint8_t mr[32];
	EVP_PKEY *key = test_key();
	int ret;

	(void)state;
	assert_non_null(sig);
	assert_non_null(secs);
	load(&img);
	assert_int_equal(enclave_image_sign(&img, key, NULL, sig), 0);
	ret = enclave_build(&sys, &img, sig, &h);
	if (ret)
		fail_msg("build: %d: %s", ret, enclave_image_error());
	assert_true(h.fd >= 0);
	assert_int_equal(h.size, img.secs->size);
	assert_int_equal(h.base % h.size, 0);

	/* EINIT accepted the SIGSTRUCT, so the SECS holds its MRENCLAVE. */
	enclave_image_mrenclave(&img, mr);
	ek_secs_of(p, h.fd, secs);
	assert_memory_equal(secs->mrenclave, mr, 32);
	assert_int_equal(secs->base, h.base);
	assert_int_equal(secs->size, h.size);
	assert_true(secs->attributes & SGX_ATTR_INIT);

	/* Every page is in the EPC, plus the SECS. */
	softsgx_get_stats(p, &st);
	assert_true(st.in_use_pages >= img.nr_pages + 1);

	/* The mappings carry the pages' permissions: text cannot become writable. */
	assert_int_equal(
		softsgx_mprotect(p, (void *)(uintptr_t)(h.base + img.entry - img.entry % PAGE),
				 PAGE, PROT_READ | PROT_WRITE),
		-EACCES);
	assert_int_equal(softsgx_mprotect(p, (void *)(uintptr_t)(h.base + img.layout.stack_offset),
					  PAGE, PROT_READ | PROT_EXEC),
			 -EACCES);

	enclave_unload(&sys, &h);
	assert_int_equal(h.fd, -1);
	softsgx_get_stats(p, &st);
	assert_int_equal(st.in_use_pages, 0);
	ek_assert_invariant(p);
	enclave_image_free(&img);
	EVP_PKEY_free(key);
	free(secs);
	free(sig);
	lg_platform_free(p);
}

/* Two enclaves from one image: separate ELRANGEs, both initialized. */
static void test_build_twice(void **state)
{
	struct softsgx_platform *p = platform();
	struct enclave_sys sys = enclave_sys_softsgx(p);
	struct sgx_sigstruct *sig = aligned_alloc(PAGE, PAGE);
	struct enclave_image img;
	struct enclave_handle a, b;
	EVP_PKEY *key = test_key();

	(void)state;
	load(&img);
	assert_int_equal(enclave_image_sign(&img, key, NULL, sig), 0);
	assert_int_equal(enclave_build(&sys, &img, sig, &a), 0);
	assert_int_equal(enclave_build(&sys, &img, sig, &b), 0);
	assert_true(a.base + a.size <= b.base || b.base + b.size <= a.base);
	enclave_unload(&sys, &a);
	enclave_unload(&sys, &b);
	ek_assert_invariant(p);
	enclave_image_free(&img);
	EVP_PKEY_free(key);
	free(sig);
	lg_platform_free(p);
}

/* EINIT checks the measurement: a page changed after signing fails with EPERM. */
static void test_build_wrong_measurement(void **state)
{
	struct softsgx_platform *p = platform();
	struct enclave_sys sys = enclave_sys_softsgx(p);
	struct sgx_sigstruct *sig = aligned_alloc(PAGE, PAGE);
	struct enclave_image img;
	struct enclave_handle h;
	struct softsgx_stats st;
	EVP_PKEY *key = test_key();

	(void)state;
	load(&img);
	assert_int_equal(enclave_image_sign(&img, key, NULL, sig), 0);
	img.pages[img.nr_pages - 1].contents[0] ^= 0x80;
	assert_int_equal(enclave_build(&sys, &img, sig, &h), -EPERM);
	assert_non_null(strstr(enclave_image_error(), "ENCLAVE_INIT"));
	assert_int_equal(h.fd, -1);
	/* Nothing left behind: descriptor closed, pages freed. */
	softsgx_get_stats(p, &st);
	assert_int_equal(st.in_use_pages, 0);
	ek_assert_invariant(p);
	enclave_image_free(&img);
	EVP_PKEY_free(key);
	free(sig);
	lg_platform_free(p);
}

/* A platform without flexible launch control has no /dev/sgx_enclave. */
static void test_build_no_device(void **state)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;
	struct enclave_sys sys;
	struct sgx_sigstruct *sig = aligned_alloc(PAGE, PAGE);
	struct enclave_image img;
	struct enclave_handle h;
	EVP_PKEY *key = test_key();

	(void)state;
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 64 * PAGE;
	cfg.flc = false;
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	sys = enclave_sys_softsgx(p);
	load(&img);
	assert_int_equal(enclave_image_sign(&img, key, NULL, sig), 0);
	assert_int_equal(enclave_build(&sys, &img, sig, &h), -ENOENT);
	assert_non_null(strstr(enclave_image_error(), "/dev/sgx_enclave"));
	enclave_image_free(&img);
	EVP_PKEY_free(key);
	free(sig);
	lg_platform_free(p);
}

static void test_refuse_not_elf(void **state)
{
	static const char text[] = "#!/bin/sh\necho this is not an enclave\n";

	(void)state;
	expect_refused(text, sizeof(text), -ENOEXEC, "not an ELF");
	expect_refused(text, 0, -ENOEXEC, "not an ELF");
	expect_refused(elf, 3, -ENOEXEC, "not an ELF");
}

static void test_refuse_32bit(void **state)
{
	uint8_t *c = elf_copy();

	(void)state;
	c[EI_CLASS] = ELFCLASS32;
	expect_refused(c, elf_len, -ENOEXEC, "32-bit");
	c[EI_CLASS] = 7;
	expect_refused(c, elf_len, -ENOEXEC, "class");
	free(c);
}

static void test_refuse_wrong_header(void **state)
{
	uint8_t *c = elf_copy();

	(void)state;
	c[EI_DATA] = ELFDATA2MSB;
	expect_refused(c, elf_len, -ENOEXEC, "little-endian");
	memcpy(c, elf, elf_len);
	ehdr(c)->e_machine = EM_AARCH64;
	expect_refused(c, elf_len, -ENOEXEC, "x86-64");
	memcpy(c, elf, elf_len);
	ehdr(c)->e_type = ET_EXEC;
	expect_refused(c, elf_len, -ENOEXEC, "-static-pie");
	memcpy(c, elf, elf_len);
	ehdr(c)->e_type = ET_REL;
	expect_refused(c, elf_len, -ENOEXEC, "not an executable");
	memcpy(c, elf, elf_len);
	ehdr(c)->e_phentsize = 32;
	expect_refused(c, elf_len, -ENOEXEC, "program header size");
	memcpy(c, elf, elf_len);
	ehdr(c)->e_phnum = 0xFFF0;
	expect_refused(c, elf_len, -ENOEXEC, "truncated");
	memcpy(c, elf, elf_len);
	ehdr(c)->e_phoff = UINT64_MAX - 8;
	expect_refused(c, elf_len, -ENOEXEC, "truncated");
	free(c);
}

/* Every prefix of the file that cuts into what the program headers use is refused. */
static void test_refuse_truncated(void **state)
{
	uint64_t needed = sizeof(Elf64_Ehdr);
	struct enclave_image img;

	(void)state;
	for (unsigned int i = 0; i < ehdr(elf)->e_phnum; i++) {
		const Elf64_Phdr *ph = phdr(elf, i);
		uint64_t end = ph->p_offset + ph->p_filesz;

		if (end > needed)
			needed = end;
	}
	if (ehdr(elf)->e_phoff + ehdr(elf)->e_phnum * sizeof(Elf64_Phdr) > needed)
		needed = ehdr(elf)->e_phoff + ehdr(elf)->e_phnum * sizeof(Elf64_Phdr);
	assert_true(needed <= elf_len);
	expect_refused(elf, 40, -ENOEXEC, "truncated ELF header");
	expect_refused(elf, sizeof(Elf64_Ehdr), -ENOEXEC, "truncated");
	for (size_t len = 0; len < needed; len++) {
		int ret = enclave_image_load_mem(elf, len, &img);

		if (ret != -ENOEXEC)
			fail_msg("%zu bytes: %d (%s)", len, ret, enclave_image_error());
	}
	/* What follows (section headers, symbols) is not the loader's business. */
	assert_int_equal(enclave_image_load_mem(elf, needed, &img), 0);
	enclave_image_free(&img);
}

static void test_refuse_interp(void **state)
{
	uint8_t *c = elf_copy();

	(void)state;
	find_phdr(c, PT_DYNAMIC)->p_type = PT_INTERP;
	expect_refused(c, elf_len, -ENOEXEC, "interpreter (PT_INTERP)");
	free(c);
}

static void test_refuse_tls(void **state)
{
	uint8_t *c = elf_copy();

	(void)state;
	find_phdr(c, PT_DYNAMIC)->p_type = PT_TLS;
	expect_refused(c, elf_len, -ENOEXEC, "PT_TLS");
	free(c);
}

/* Replace the first dynamic entry that is not DT_NULL with @tag = @val. */
static void set_dynamic(uint8_t *c, int64_t tag, uint64_t val)
{
	Elf64_Phdr *ph = find_phdr(c, PT_DYNAMIC);
	Elf64_Dyn *d;

	assert_non_null(ph);
	d = (Elf64_Dyn *)(c + ph->p_offset);
	assert_int_not_equal(d->d_tag, DT_NULL);
	d->d_tag = tag;
	d->d_un.d_val = val;
}

static void test_refuse_dynamic_relocations(void **state)
{
	uint8_t *c = elf_copy();

	(void)state;
	set_dynamic(c, DT_RELASZ, 24);
	expect_refused(c, elf_len, -ENOEXEC, "dynamic relocations");
	memcpy(c, elf, elf_len);
	set_dynamic(c, DT_RELA, 0x7000);
	expect_refused(c, elf_len, -ENOEXEC, "dynamic relocations");
	memcpy(c, elf, elf_len);
	set_dynamic(c, DT_REL, 0x7000);
	expect_refused(c, elf_len, -ENOEXEC, "dynamic relocations");
	memcpy(c, elf, elf_len);
	set_dynamic(c, DT_JMPREL, 0x7000);
	expect_refused(c, elf_len, -ENOEXEC, "dynamic relocations");
	memcpy(c, elf, elf_len);
	set_dynamic(c, DT_NEEDED, 1);
	expect_refused(c, elf_len, -ENOEXEC, "shared libraries");
	memcpy(c, elf, elf_len);
	set_dynamic(c, DT_TEXTREL, 0);
	expect_refused(c, elf_len, -ENOEXEC, "text relocations");
	/* A zero-sized relocation table is no relocation. */
	memcpy(c, elf, elf_len);
	set_dynamic(c, DT_RELASZ, 0);
	{
		struct enclave_image img;

		assert_int_equal(enclave_image_load_mem(c, elf_len, &img), 0);
		enclave_image_free(&img);
	}
	/* A dynamic segment past the end of the file. */
	memcpy(c, elf, elf_len);
	find_phdr(c, PT_DYNAMIC)->p_offset = elf_len;
	expect_refused(c, elf_len, -ENOEXEC, "truncated");
	free(c);
}

static void test_refuse_bad_layout(void **state)
{
	uint8_t *c = elf_copy();

	(void)state;
	find_phdr(c, PT_NOTE)->p_type = PT_NULL;
	expect_refused(c, elf_len, -ENOEXEC, "no layout note");

	memcpy(c, elf, elf_len);
	note_desc(c)->version = 2;
	expect_refused(c, elf_len, -ENOEXEC, "version");

	memcpy(c, elf, elf_len);
	note_desc(c)->nr_tcs = 0;
	expect_refused(c, elf_len, -ENOEXEC, "TCS area");

	memcpy(c, elf, elf_len);
	note_desc(c)->nssa = 0;
	expect_refused(c, elf_len, -ENOEXEC, "SSA frames");

	memcpy(c, elf, elf_len);
	note_desc(c)->stack_offset += 64 * PAGE;
	expect_refused(c, elf_len, -ENOEXEC, "stack area");

	memcpy(c, elf, elf_len);
	note_desc(c)->tcs_offset = 123;
	expect_refused(c, elf_len, -ENOEXEC, "not page aligned");

	/* SSA frames in the code: not writable. */
	memcpy(c, elf, elf_len);
	note_desc(c)->ssa_offset = ehdr(elf)->e_entry & ~(PAGE - 1);
	note_desc(c)->nr_tcs = 1;
	note_desc(c)->nssa = 1;
	expect_refused(c, elf_len, -ENOEXEC, "read-write");

	memcpy(c, elf, elf_len);
	note_desc(c)->nr_tcs = 0xFFFFFFFF;
	expect_refused(c, elf_len, -ENOEXEC, "too large");

	/* TCS pages that are also SSA frames. */
	memcpy(c, elf, elf_len);
	note_desc(c)->ssa_offset = 0;
	expect_refused(c, elf_len, -ENOEXEC, "overlaps");

	/* An entry point outside the code. */
	memcpy(c, elf, elf_len);
	ehdr(c)->e_entry = note_desc(elf)->stack_offset;
	expect_refused(c, elf_len, -ENOEXEC, "entry point");
	free(c);
}

static void test_refuse_bad_segments(void **state)
{
	uint8_t *c = elf_copy();
	Elf64_Phdr *text = NULL;

	(void)state;
	for (unsigned int i = 0; i < ehdr(c)->e_phnum; i++)
		if (phdr(c, i)->p_type == PT_LOAD && (phdr(c, i)->p_flags & PF_X))
			text = phdr(c, i);
	assert_non_null(text);
	text->p_flags = PF_W | PF_X;
	expect_refused(c, elf_len, -ENOEXEC, "writable but not readable");

	memcpy(c, elf, elf_len);
	text->p_filesz = text->p_memsz + 1;
	expect_refused(c, elf_len, -ENOEXEC, "file size larger");

	memcpy(c, elf, elf_len);
	text->p_vaddr = 0; /* on top of the TCS pages */
	expect_refused(c, elf_len, -ENOEXEC, "not share pages");

	memcpy(c, elf, elf_len);
	text->p_offset = elf_len - 1;
	expect_refused(c, elf_len, -ENOEXEC, "truncated");

	memcpy(c, elf, elf_len);
	text->p_memsz = UINT64_MAX - 100;
	expect_refused(c, elf_len, -EFBIG, "largest enclave");

	/* Nothing loadable at all. */
	memcpy(c, elf, elf_len);
	for (unsigned int i = 0; i < ehdr(c)->e_phnum; i++)
		if (phdr(c, i)->p_type == PT_LOAD)
			phdr(c, i)->p_type = PT_NULL;
	expect_refused(c, elf_len, -ENOEXEC, "no loadable segments");

	/* A note whose size runs past its segment. */
	memcpy(c, elf, elf_len);
	{
		Elf64_Nhdr *nh = (Elf64_Nhdr *)(c + find_phdr(c, PT_NOTE)->p_offset);

		nh->n_descsz = 0x10000;
		expect_refused(c, elf_len, -ENOEXEC, "malformed note");
	}
	free(c);
}

static void test_refuse_files(void **state)
{
	struct enclave_image img;
	char path[] = "/tmp/softsgx-encl-XXXXXX";
	int fd;

	(void)state;
	assert_int_equal(enclave_image_load_file("/nonexistent/enclave.elf", &img), -ENOENT);
	assert_non_null(strstr(enclave_image_error(), "/nonexistent/enclave.elf"));
	assert_int_equal(enclave_image_load_file("/", &img), -ENOEXEC);
	assert_non_null(strstr(enclave_image_error(), "not a regular file"));

	/* The reason comes with the file's name. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, elf, 100), 100);
	close(fd);
	assert_int_equal(enclave_image_load_file(path, &img), -ENOEXEC);
	assert_non_null(strstr(enclave_image_error(), path));
	assert_non_null(strstr(enclave_image_error(), "truncated"));
	unlink(path);
}

/*
 * Random damage to the headers: refused or loaded, never a crash (ASan
 * watches). p_memsz is spared: a plausible one makes the loader allocate up
 * to ENCLAVE_IMAGE_MAX_SIZE, which is correct and slow.
 */
static void test_damage_never_crashes(void **state)
{
	uint8_t *c = malloc(elf_len);
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	size_t span = ehdr(elf)->e_phoff + ehdr(elf)->e_phnum * sizeof(Elf64_Phdr);
	Elf64_Phdr *note = find_phdr(elf, PT_NOTE), *dyn = find_phdr(elf, PT_DYNAMIC);

	(void)state;
	assert_non_null(c);
	for (unsigned int round = 0; round < 3000; round++) {
		struct enclave_image img;
		int ret;

		memcpy(c, elf, elf_len);
		for (unsigned int k = 0; k < 1 + round % 4; k++) {
			size_t at;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* Headers, the note or the dynamic section. */
			switch (x % 3) {
			case 0:
				at = (x >> 8) % span;
				if (at >= ehdr(elf)->e_phoff &&
				    (at - ehdr(elf)->e_phoff) % sizeof(Elf64_Phdr) >=
					    offsetof(Elf64_Phdr, p_memsz) &&
				    (at - ehdr(elf)->e_phoff) % sizeof(Elf64_Phdr) <
					    offsetof(Elf64_Phdr, p_align))
					continue;
				break;
			case 1:
				at = note->p_offset + (x >> 8) % note->p_filesz;
				break;
			default:
				at = dyn->p_offset + (x >> 8) % dyn->p_filesz;
				break;
			}
			c[at] = (uint8_t)(x >> 40);
		}
		ret = enclave_image_load_mem(c, elf_len, &img);
		if (ret) {
			assert_true(ret < 0);
			assert_true(enclave_image_error()[0] != '\0');
		} else {
			enclave_image_free(&img);
		}
	}
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loads),
		cmocka_unit_test(test_secs_template),
		cmocka_unit_test(test_layout_note),
		cmocka_unit_test(test_pages_aligned_and_ordered),
		cmocka_unit_test(test_tcs_pages),
		cmocka_unit_test(test_permissions_per_segment),
		cmocka_unit_test(test_data_contents),
		cmocka_unit_test(test_mrenclave_independent),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_build_through_embedding_api),
		cmocka_unit_test(test_build_twice),
		cmocka_unit_test(test_build_wrong_measurement),
		cmocka_unit_test(test_build_no_device),
		cmocka_unit_test(test_refuse_not_elf),
		cmocka_unit_test(test_refuse_32bit),
		cmocka_unit_test(test_refuse_wrong_header),
		cmocka_unit_test(test_refuse_truncated),
		cmocka_unit_test(test_refuse_interp),
		cmocka_unit_test(test_refuse_tls),
		cmocka_unit_test(test_refuse_dynamic_relocations),
		cmocka_unit_test(test_refuse_bad_layout),
		cmocka_unit_test(test_refuse_bad_segments),
		cmocka_unit_test(test_refuse_files),
		cmocka_unit_test(test_damage_never_crashes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
