// SPDX-License-Identifier: MIT
/*
 * The public loader and signer (softsgx/loader.h, softsgx/sign.h, issue 19)
 * as an embedder uses them: linked against libsoftsgx.so, nothing internal.
 * An ELF is measured as `softsgx measure` measures it, signed, built and
 * EINITed on a platform (also from a fresh thread) and through a real
 * /dev/sgx_enclave descriptor under `softsgx run`; images laid out by hand
 * build too; bad ELFs, keys, sizes and options give the documented errno.
 *
 * Environment (the Makefile's check target): SOFTSGX_TEST_ENCLAVE,
 * SOFTSGX_TEST_KEY, SOFTSGX_TEST_KEY2, SOFTSGX_BIN, SOFTSGX_PRELOAD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "softsgx/loader.h"
#include "softsgx/sign.h"
#include "softsgx/softsgx.h"

/* The child mode: build through /dev/sgx_enclave under `softsgx run`. */
#define CHILD_ARG "--build-fd-child"

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (!v)
		fail_msg("%s is not set (run through `make check`)", name);
	return v;
}

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static struct softsgx_platform *platform(void)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 256 * SGX_PAGE_SIZE;
	cfg.no_ksgxd = true;
	p = softsgx_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

/* The first line of @cmd's output, without its newline; its exit status must be 0. */
static void run_line(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	assert_non_null(fgets(out, (int)len, f));
	out[strcspn(out, "\n")] = '\0';
	assert_int_equal(pclose(f), 0);
}

static void test_measure_matches_command(void **state)
{
	struct softsgx_image *img;
	struct softsgx_image_info info;
	uint8_t mr[SGX_HASH_SIZE];
	char mine[2 * SGX_HASH_SIZE + 1], cmd[4096], theirs[256];
	uint64_t off0, off1, off2 = 0;

	(void)state;
	assert_int_equal(softsgx_image_load_file(env("SOFTSGX_TEST_ENCLAVE"), &img), 0);
	assert_int_equal(softsgx_image_mrenclave(img, mr), 0);
	hex(mine, mr, sizeof(mr));
	snprintf(cmd, sizeof(cmd), "'%s' measure -q '%s'", env("SOFTSGX_BIN"),
		 env("SOFTSGX_TEST_ENCLAVE"));
	run_line(cmd, theirs, sizeof(theirs));
	assert_string_equal(mine, theirs);

	/* The layout docs/enclave-abi.md gives the test enclave. */
	assert_int_equal(softsgx_image_get_info(img, &info), 0);
	assert_true(info.size >= 2 * SGX_PAGE_SIZE && !(info.size & (info.size - 1)));
	assert_true(info.nr_pages > info.nr_tcs && info.nr_tcs >= 1);
	assert_int_equal(info.attributes, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(info.xfrm, 0x3);
	assert_int_equal(info.miscselect, SGX_MISC_EXINFO);
	assert_true(info.nssa >= 1 && info.ssa_frame_pages >= 1 && info.stack_size && info.entry);
	for (size_t i = 0; i < sizeof(info.reserved) / sizeof(info.reserved[0]); i++)
		assert_int_equal(info.reserved[i], 0);
	snprintf(cmd, sizeof(cmd),
		 "'%s' measure --json '%s' | sed -n 's/^  \"tcs\": \\([0-9]*\\),$/\\1/p'",
		 env("SOFTSGX_BIN"), env("SOFTSGX_TEST_ENCLAVE"));
	run_line(cmd, theirs, sizeof(theirs));
	assert_int_equal(strtoul(theirs, NULL, 10), info.nr_tcs);

	assert_int_equal(softsgx_image_tcs_offset(img, 0, &off0), 0);
	if (info.nr_tcs > 1) {
		assert_int_equal(softsgx_image_tcs_offset(img, 1, &off1), 0);
		assert_int_equal(off1, off0 + SGX_PAGE_SIZE);
	}
	assert_int_equal(softsgx_image_tcs_offset(img, info.nr_tcs, &off2), -ERANGE);
	assert_int_equal(off2, 0);
	softsgx_image_free(img);
}

struct build_result {
	int err;
	uint64_t base, size, tcs0;
	unsigned int nr_tcs;
};

/* ELF, key, SIGSTRUCT, platform build, as README.md's snippet does. */
static void *build_on_platform(void *arg)
{
	struct build_result *r = arg;
	struct softsgx_platform *p = platform();
	struct softsgx_image *img = NULL;
	struct softsgx_key *key = NULL;
	struct softsgx_enclave *encl = NULL;
	struct sgx_sigstruct sig;
	struct softsgx_stats st;
	uint64_t off;

	r->err = softsgx_image_load_file(env("SOFTSGX_TEST_ENCLAVE"), &img);
	if (!r->err)
		r->err = softsgx_key_load(env("SOFTSGX_TEST_KEY"), &key);
	if (!r->err)
		r->err = softsgx_sign(img, key, NULL, &sig);
	if (!r->err)
		r->err = softsgx_enclave_build(p, img, &sig, &encl);
	if (!r->err) {
		r->base = softsgx_enclave_base(encl);
		r->size = softsgx_enclave_size(encl);
		r->nr_tcs = softsgx_enclave_nr_tcs(encl);
		r->tcs0 = softsgx_enclave_tcs(encl, 0);
		if (softsgx_image_tcs_offset(img, 0, &off) || r->tcs0 != r->base + off ||
		    softsgx_enclave_tcs(encl, r->nr_tcs) != 0)
			r->err = -EBADMSG;
	}
	softsgx_enclave_free(encl);
	/* The enclave's descriptor closed with it: all of its EPC is back. */
	softsgx_get_stats(p, &st);
	if (!r->err && st.free_pages != st.total_pages)
		r->err = -EBUSY;
	softsgx_key_free(key);
	softsgx_image_free(img);
	softsgx_platform_free(p);
	return NULL;
}

static void test_build_on_platform(void **state)
{
	struct build_result r = {0};
	pthread_t t;

	(void)state;
	build_on_platform(&r);
	if (r.err)
		fail_msg("build: %d %s", r.err, softsgx_error_detail());
	assert_true(r.base && !(r.base & (r.size - 1)));
	assert_true(r.nr_tcs >= 1);
	/* And from a freshly created thread. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(pthread_create(&t, NULL, build_on_platform, &r), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.err, 0);
}

static void test_sign_options(void **state)
{
	struct softsgx_platform *p = platform();
	struct softsgx_image *img;
	struct softsgx_key *key, *key2;
	struct softsgx_enclave *encl;
	struct sgx_sigstruct sig;
	struct softsgx_sign_opts o = {
		.attributes = SGX_ATTR_MODE64BIT, /* a production enclave: no DEBUG */
		.isvprodid = 0x10,
		.isvsvn = 7,
		.date = 0x20261206,
	};
	uint8_t a[SGX_HASH_SIZE], b[SGX_HASH_SIZE], mr[SGX_HASH_SIZE];

	(void)state;
	assert_int_equal(softsgx_image_load_file(env("SOFTSGX_TEST_ENCLAVE"), &img), 0);
	assert_int_equal(softsgx_key_load(env("SOFTSGX_TEST_KEY"), &key), 0);
	assert_int_equal(softsgx_key_load(env("SOFTSGX_TEST_KEY2"), &key2), 0);
	assert_int_equal(softsgx_sign(img, key2, &o, &sig), 0);
	assert_int_equal(sig.body.attributes, SGX_ATTR_MODE64BIT);
	assert_int_equal(sig.body.attributes_mask, ~(uint64_t)SGX_ATTR_INIT);
	assert_int_equal(sig.body.xfrm, 0x3);
	assert_int_equal(sig.body.isvprodid, 0x10);
	assert_int_equal(sig.body.isvsvn, 7);
	assert_int_equal(sig.header.date, 0x20261206);
	assert_int_equal(softsgx_image_mrenclave(img, mr), 0);
	assert_memory_equal(sig.body.mrenclave, mr, sizeof(mr));
	assert_int_equal(softsgx_key_mrsigner(key2, a), 0);
	assert_int_equal(softsgx_sigstruct_mrsigner(&sig, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(softsgx_key_mrsigner(key, b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	/* The SECS follows the SIGSTRUCT: a non-debug enclave EINITs. */
	assert_int_equal(softsgx_enclave_build(p, img, &sig, &encl), 0);
	softsgx_enclave_free(encl);

	/* A SIGSTRUCT for another enclave: EINIT refuses it, nothing is left behind. */
	sig.body.isvsvn = 8;
	encl = (struct softsgx_enclave *)&sig;
	assert_int_equal(softsgx_enclave_build(p, img, &sig, &encl), -EPERM);
	assert_null(encl);
	assert_non_null(strstr(softsgx_error_detail(), "ENCLAVE_INIT"));

	softsgx_key_free(key2);
	softsgx_key_free(key);
	softsgx_image_free(img);
	softsgx_platform_free(p);
}

static void test_generated_key(void **state)
{
	struct softsgx_image *img;
	struct softsgx_key *key;
	struct sgx_sigstruct sig;
	uint8_t a[SGX_HASH_SIZE], b[SGX_HASH_SIZE];

	(void)state;
	assert_int_equal(softsgx_key_generate(&key), 0);
	assert_int_equal(softsgx_image_load_file(env("SOFTSGX_TEST_ENCLAVE"), &img), 0);
	assert_int_equal(softsgx_sign(img, key, NULL, &sig), 0);
	assert_int_equal(softsgx_key_mrsigner(key, a), 0);
	assert_int_equal(softsgx_sigstruct_mrsigner(&sig, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	softsgx_key_free(key);
	softsgx_image_free(img);
}

/* A TCS and three REG pages, as softsgx guest lays its enclave out. */
static struct softsgx_image *hand_image(void)
{
	static uint8_t tcs[SGX_PAGE_SIZE], reg[3 * SGX_PAGE_SIZE];
	struct softsgx_image *img;
	struct sgx_tcs t = {0};

	t.ssa_offset = SGX_PAGE_SIZE;
	t.nr_ssa_frames = 1;
	t.entry_offset = SGX_PAGE_SIZE;
	/* EADD wants the low 12 bits of both limits set (SDM Vol. 3D, TCS). */
	t.fs_limit = 0xFFF;
	t.gs_limit = 0xFFF;
	memcpy(tcs, &t, sizeof(t));
	memset(reg, 0x5A, sizeof(reg));
	assert_int_equal(softsgx_image_new(8 * SGX_PAGE_SIZE, 1, &img), 0);
	assert_int_equal(softsgx_image_add_pages(img, 0, tcs, SGX_PAGE_SIZE, SGX_SECINFO_TCS,
						 SOFTSGX_PAGE_MEASURE),
			 0);
	assert_int_equal(softsgx_image_add_pages(img, SGX_PAGE_SIZE, reg, sizeof(reg),
						 SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
						 SOFTSGX_PAGE_MEASURE),
			 0);
	return img;
}

static void test_hand_built_image(void **state)
{
	struct softsgx_platform *p = platform();
	struct softsgx_image *img = hand_image(), *again = hand_image();
	struct softsgx_image_info info;
	struct softsgx_key *key;
	struct softsgx_enclave *encl;
	struct sgx_sigstruct sig;
	uint8_t a[SGX_HASH_SIZE], b[SGX_HASH_SIZE];

	(void)state;
	assert_int_equal(softsgx_image_get_info(img, &info), 0);
	assert_int_equal(info.size, 8 * SGX_PAGE_SIZE);
	assert_int_equal(info.nr_pages, 4);
	assert_int_equal(info.nr_tcs, 1);
	assert_int_equal(info.entry, 0);
	assert_int_equal(info.nssa, 0);
	assert_int_equal(softsgx_image_mrenclave(img, a), 0);
	assert_int_equal(softsgx_image_mrenclave(again, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	/* Unmeasured pages change MRENCLAVE. */
	softsgx_image_free(again);
	assert_int_equal(softsgx_image_new(8 * SGX_PAGE_SIZE, 1, &again), 0);
	assert_int_equal(softsgx_image_add_pages(again, 0, a, 0, SGX_SECINFO_TCS, 0), -EINVAL);
	{
		static uint8_t page[SGX_PAGE_SIZE];

		assert_int_equal(
			softsgx_image_add_pages(again, 0, page, sizeof(page), SGX_SECINFO_TCS, 0),
			0);
	}
	assert_int_equal(softsgx_image_mrenclave(again, b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	softsgx_image_free(again);

	assert_int_equal(softsgx_key_load(env("SOFTSGX_TEST_KEY"), &key), 0);
	assert_int_equal(softsgx_sign(img, key, NULL, &sig), 0);
	if (softsgx_enclave_build(p, img, &sig, &encl))
		fail_msg("build: %s", softsgx_error_detail());
	assert_int_equal(softsgx_enclave_nr_tcs(encl), 1);
	assert_int_equal(softsgx_enclave_tcs(encl, 0), softsgx_enclave_base(encl));
	assert_int_equal(softsgx_enclave_size(encl), 8 * SGX_PAGE_SIZE);
	softsgx_enclave_free(encl);
	softsgx_key_free(key);
	softsgx_image_free(img);
	softsgx_platform_free(p);
}

static void test_bad_elf(void **state)
{
	static const char garbage[] = "\177ELF but not really an enclave";
	struct softsgx_image *img = (struct softsgx_image *)&img;

	(void)state;
	assert_int_equal(softsgx_image_load_mem(garbage, sizeof(garbage), &img), -ENOEXEC);
	assert_null(img);
	assert_true(strlen(softsgx_error_detail()) > 0);
	img = (struct softsgx_image *)&img;
	assert_int_equal(softsgx_image_load_mem("MZ", 2, &img), -ENOEXEC);
	assert_null(img);
	assert_non_null(strstr(softsgx_error_detail(), "not an ELF"));
	assert_int_equal(softsgx_image_load_file("/nonexistent/enclave.elf", &img), -ENOENT);
	assert_null(img);
	assert_non_null(strstr(softsgx_error_detail(), "/nonexistent/enclave.elf"));
	/* A key is not an enclave. */
	assert_int_equal(softsgx_image_load_file(env("SOFTSGX_TEST_KEY"), &img), -ENOEXEC);
	assert_int_equal(softsgx_image_load_file("/", &img), -ENOEXEC);
	assert_int_equal(softsgx_image_load_mem(NULL, 0, &img), -EINVAL);
	assert_int_equal(softsgx_image_load_file(NULL, &img), -EINVAL);
	assert_int_equal(softsgx_image_load_file(env("SOFTSGX_TEST_ENCLAVE"), NULL), -EINVAL);
}

static void test_bad_key(void **state)
{
	struct softsgx_key *key = (struct softsgx_key *)&key;
	uint8_t mr[SGX_HASH_SIZE];

	(void)state;
	/* Not a key: the enclave itself. */
	assert_int_equal(softsgx_key_load(env("SOFTSGX_TEST_ENCLAVE"), &key), -EINVAL);
	assert_null(key);
	assert_true(strlen(softsgx_error_detail()) > 0);
	assert_int_equal(softsgx_key_load("/nonexistent/key.pem", &key), -ENOENT);
	assert_null(key);
	assert_int_equal(softsgx_key_load(NULL, &key), -EINVAL);
	assert_int_equal(softsgx_key_generate(NULL), -EINVAL);
	assert_int_equal(softsgx_key_mrsigner(NULL, mr), -EINVAL);
	softsgx_key_free(NULL);
}

static void test_wrong_sizes(void **state)
{
	static uint8_t pages[2 * SGX_PAGE_SIZE];
	struct softsgx_image *img = (struct softsgx_image *)&img;
	const uint64_t rw = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;

	(void)state;
	/* ELRANGE: a power of two, at least two pages, at most SOFTSGX_IMAGE_MAX_SIZE. */
	assert_int_equal(softsgx_image_new(3 * SGX_PAGE_SIZE, 1, &img), -EINVAL);
	assert_null(img);
	assert_int_equal(softsgx_image_new(SGX_PAGE_SIZE, 1, &img), -EINVAL);
	assert_int_equal(softsgx_image_new(2 * SOFTSGX_IMAGE_MAX_SIZE, 1, &img), -EINVAL);
	assert_int_equal(softsgx_image_new(4 * SGX_PAGE_SIZE, 0, &img), -EINVAL);
	assert_int_equal(softsgx_image_new(4 * SGX_PAGE_SIZE, 5, &img), -EINVAL);

	assert_int_equal(softsgx_image_new(4 * SGX_PAGE_SIZE, 1, &img), 0);
	/* Whole pages only. */
	assert_int_equal(softsgx_image_add_pages(img, 0, pages, 100, rw, 0), -EINVAL);
	assert_int_equal(softsgx_image_add_pages(img, 8, pages, SGX_PAGE_SIZE, rw, 0), -EINVAL);
	/* Inside the ELRANGE, with no overflow. */
	assert_int_equal(
		softsgx_image_add_pages(img, 3 * SGX_PAGE_SIZE, pages, sizeof(pages), rw, 0),
		-EINVAL);
	assert_int_equal(softsgx_image_add_pages(img, UINT64_MAX & ~(SGX_PAGE_SIZE - 1), pages,
						 sizeof(pages), rw, 0),
			 -EINVAL);
	/* Page types, SECINFO bits and flags ENCLAVE_ADD_PAGES takes. */
	assert_int_equal(softsgx_image_add_pages(img, 0, pages, SGX_PAGE_SIZE, SGX_SECINFO_VA, 0),
			 -EINVAL);
	assert_int_equal(softsgx_image_add_pages(img, 0, pages, SGX_PAGE_SIZE,
						 SGX_SECINFO_TCS | SGX_SECINFO_R, 0),
			 -EINVAL);
	assert_int_equal(softsgx_image_add_pages(img, 0, pages, SGX_PAGE_SIZE,
						 SGX_SECINFO_REG | SGX_SECINFO_W, 0),
			 -EINVAL);
	assert_int_equal(
		softsgx_image_add_pages(img, 0, pages, SGX_PAGE_SIZE, rw | SGX_SECINFO_PENDING, 0),
		-EINVAL);
	assert_int_equal(softsgx_image_add_pages(img, 0, pages, SGX_PAGE_SIZE, rw, 2), -EINVAL);
	/* Ascending offsets. */
	assert_int_equal(softsgx_image_add_pages(img, SGX_PAGE_SIZE, pages, SGX_PAGE_SIZE, rw, 0),
			 0);
	assert_int_equal(softsgx_image_add_pages(img, SGX_PAGE_SIZE, pages, SGX_PAGE_SIZE, rw, 0),
			 -EINVAL);
	assert_int_equal(softsgx_image_add_pages(img, 0, pages, SGX_PAGE_SIZE, rw, 0), -EINVAL);
	softsgx_image_free(img);

	/* An image from an ELF takes no pages. */
	assert_int_equal(softsgx_image_load_file(env("SOFTSGX_TEST_ENCLAVE"), &img), 0);
	assert_int_equal(softsgx_image_add_pages(img, 0, pages, SGX_PAGE_SIZE, rw, 0), -EINVAL);
	softsgx_image_free(img);
	softsgx_image_free(NULL);
}

static void test_bad_sign_options(void **state)
{
	struct softsgx_image *img;
	struct softsgx_key *key;
	struct sgx_sigstruct sig;
	struct softsgx_sign_opts o;

	(void)state;
	assert_int_equal(softsgx_image_load_file(env("SOFTSGX_TEST_ENCLAVE"), &img), 0);
	assert_int_equal(softsgx_key_load(env("SOFTSGX_TEST_KEY"), &key), 0);
	o = (struct softsgx_sign_opts){.date = 0x2026123A};
	assert_int_equal(softsgx_sign(img, key, &o, &sig), -EINVAL);
	o = (struct softsgx_sign_opts){.attributes = SGX_ATTR_MODE64BIT | SGX_ATTR_INIT};
	assert_int_equal(softsgx_sign(img, key, &o, &sig), -EINVAL);
	o = (struct softsgx_sign_opts){.attributes = SGX_ATTR_MODE64BIT | (1ULL << 60)};
	assert_int_equal(softsgx_sign(img, key, &o, &sig), -EINVAL);
	o = (struct softsgx_sign_opts){.reserved = {0, 1}};
	assert_int_equal(softsgx_sign(img, key, &o, &sig), -EINVAL);
	assert_int_equal(softsgx_sign(NULL, key, NULL, &sig), -EINVAL);
	assert_int_equal(softsgx_sign(img, NULL, NULL, &sig), -EINVAL);
	assert_int_equal(softsgx_sign(img, key, NULL, NULL), -EINVAL);
	softsgx_key_free(key);
	softsgx_image_free(img);
}

static void test_bad_build_arguments(void **state)
{
	struct softsgx_platform *p = platform();
	struct softsgx_image *img, *empty;
	struct softsgx_key *key;
	struct softsgx_enclave *encl = (struct softsgx_enclave *)&encl;
	struct sgx_sigstruct sig;

	(void)state;
	assert_int_equal(softsgx_image_load_file(env("SOFTSGX_TEST_ENCLAVE"), &img), 0);
	assert_int_equal(softsgx_key_load(env("SOFTSGX_TEST_KEY"), &key), 0);
	assert_int_equal(softsgx_sign(img, key, NULL, &sig), 0);
	assert_int_equal(softsgx_enclave_build_fd(-1, img, &sig, &encl), -EBADF);
	assert_null(encl);
	assert_int_equal(softsgx_enclave_build(NULL, img, &sig, &encl), -EINVAL);
	assert_int_equal(softsgx_enclave_build(p, NULL, &sig, &encl), -EINVAL);
	assert_int_equal(softsgx_enclave_build(p, img, NULL, &encl), -EINVAL);
	assert_int_equal(softsgx_enclave_build(p, img, &sig, NULL), -EINVAL);
	assert_int_equal(softsgx_image_new(4 * SGX_PAGE_SIZE, 1, &empty), 0);
	assert_int_equal(softsgx_enclave_build(p, empty, &sig, &encl), -EINVAL);
	/* A descriptor that is not /dev/sgx_enclave: its ioctl fails (ENOTTY). */
	{
		int fd = open("/dev/null", O_RDWR);

		assert_true(fd >= 0);
		assert_int_equal(softsgx_enclave_build_fd(fd, img, &sig, &encl), -ENOTTY);
		assert_null(encl);
		assert_int_equal(close(fd), 0);
	}
	assert_int_equal(softsgx_enclave_base(NULL), 0);
	assert_int_equal(softsgx_enclave_nr_tcs(NULL), 0);
	softsgx_enclave_free(NULL);
	softsgx_enclave_forget(NULL);
	softsgx_image_free(empty);
	softsgx_key_free(key);
	softsgx_image_free(img);
	softsgx_platform_free(p);
}

/* Under `softsgx run`: the real system calls on /dev/sgx_enclave. 0 on success. */
static void *build_fd(void *arg)
{
	int *ret = arg;
	struct softsgx_image *img = NULL;
	struct softsgx_key *key = NULL;
	struct softsgx_enclave *encl = NULL;
	struct sgx_sigstruct sig;
	int fd = open("/dev/sgx_enclave", O_RDWR);

	*ret = fd < 0 ? -errno : 0;
	if (!*ret)
		*ret = softsgx_image_load_file(env("SOFTSGX_TEST_ENCLAVE"), &img);
	if (!*ret)
		*ret = softsgx_key_load(env("SOFTSGX_TEST_KEY"), &key);
	if (!*ret)
		*ret = softsgx_sign(img, key, NULL, &sig);
	if (!*ret)
		*ret = softsgx_enclave_build_fd(fd, img, &sig, &encl);
	if (!*ret && (!softsgx_enclave_base(encl) || softsgx_enclave_nr_tcs(encl) < 1))
		*ret = -EBADMSG;
	if (*ret)
		fprintf(stderr, "build_fd: %d %s\n", *ret, softsgx_error_detail());
	softsgx_enclave_free(encl);
	/* The descriptor stayed the caller's. */
	if (fd >= 0 && close(fd) && !*ret)
		*ret = -errno;
	softsgx_key_free(key);
	softsgx_image_free(img);
	return NULL;
}

static int child_main(void)
{
	int r1 = -1, r2 = -1;
	pthread_t t;

	build_fd(&r1);
	if (pthread_create(&t, NULL, build_fd, &r2) || pthread_join(t, NULL))
		return 1;
	return r1 || r2 ? 1 : 0;
}

static void test_build_through_device(void **state)
{
	char self[PATH_MAX], cmd[3 * PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int status;

	(void)state;
	assert_true(len > 0);
	self[len] = '\0';
	env("SOFTSGX_PRELOAD");
	snprintf(cmd, sizeof(cmd), "'%s' run -- '%s' " CHILD_ARG, env("SOFTSGX_BIN"), self);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_measure_matches_command),
		cmocka_unit_test(test_build_on_platform),
		cmocka_unit_test(test_sign_options),
		cmocka_unit_test(test_generated_key),
		cmocka_unit_test(test_hand_built_image),
		cmocka_unit_test(test_bad_elf),
		cmocka_unit_test(test_bad_key),
		cmocka_unit_test(test_wrong_sizes),
		cmocka_unit_test(test_bad_sign_options),
		cmocka_unit_test(test_bad_build_arguments),
		cmocka_unit_test(test_build_through_device),
	};

	if (argc == 2 && !strcmp(argv[1], CHILD_ARG))
		return child_main();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
