// SPDX-License-Identifier: MIT
/*
 * The boundary of libsoftsgx.so (issue 19): a program linked against the
 * shared library, as an embedder's is, sees the functions of the public
 * headers (softsgx.h, loader.h, sign.h) and nothing else (libsoftsgx.map),
 * each in the version node of the release that added it, and its own
 * functions cannot capture the library's internal calls.
 *
 * Environment (the Makefile's check target): SOFTSGX_SO, the library;
 * SOFTSGX_HEADER, include/softsgx/softsgx.h (the other headers are read
 * from its directory); SOFTSGX_CXX_CONSUMER, a C++ program that includes
 * every public header and links against the library.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/softsgx.h"

/*
 * The model's own name for reading a user buffer (kernel/uaccess.h). Before
 * the version script the library's ENCLAVE_CREATE bound to this one, read
 * nothing, and returned -EFAULT.
 */
int copy_from_user(void *to, uint64_t from, size_t n);
int copy_from_user(void *to, uint64_t from, size_t n)
{
	(void)to;
	(void)from;
	return (int)n;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (!v)
		fail_msg("%s is not set (run through `make check`)", name);
	return v;
}

/* The headers that declare the library's functions. */
static const char *const fn_headers[] = {"softsgx.h", "loader.h", "sign.h"};

/* Every header of fn_headers, one after another. */
static char *read_header(void)
{
	const char *main_header = env("SOFTSGX_HEADER");
	const char *slash = strrchr(main_header, '/');
	int dir_len = slash ? (int)(slash - main_header + 1) : 0;
	char *text = calloc(1, 1 << 20);
	size_t used = 0;

	assert_non_null(text);
	for (size_t i = 0; i < sizeof(fn_headers) / sizeof(fn_headers[0]); i++) {
		char path[4096];
		FILE *f;
		size_t n;

		snprintf(path, sizeof(path), "%.*s%s", dir_len, main_header, fn_headers[i]);
		f = fopen(path, "r");
		if (!f)
			fail_msg("cannot open %s", path);
		n = fread(text + used, 1, (1 << 20) - 1 - used, f);
		assert_true(n > 0);
		used += n;
		fclose(f);
	}
	return text;
}

/* Whether @text declares a function @name: "name(" after a non-identifier character. */
static int declares(const char *text, const char *name)
{
	size_t len = strlen(name);

	for (const char *s = strstr(text, name); s; s = strstr(s + 1, name)) {
		char before = s == text ? ' ' : s[-1];

		if (s[len] == '(' && before != '_' && !(before >= 'a' && before <= 'z') &&
		    !(before >= 'A' && before <= 'Z') && !(before >= '0' && before <= '9'))
			return 1;
	}
	return 0;
}

static void test_every_export_is_public(void **state)
{
	char cmd[4096], line[512];
	char *header = read_header();
	unsigned int nr = 0;
	FILE *nm;

	(void)state;
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only --format=posix '%s'", env("SOFTSGX_SO"));
	nm = popen(cmd, "r");
	if (!nm) {
		print_message("skipped: cannot run nm\n");
		skip();
	}
	while (fgets(line, sizeof(line), nm)) {
		char name[256], type;
		char *at;

		if (sscanf(line, "%255s %c", name, &type) != 2)
			continue;
		if (type == 'A') /* the version node itself (SOFTSGX_0.1) */
			continue;
		at = strchr(name, '@');
		if (at)
			*at = '\0';
		if (strncmp(name, "softsgx_", 8) || !declares(header, name))
			fail_msg("libsoftsgx.so exports %s, which no public header declares", name);
		nr++;
	}
	assert_int_equal(pclose(nm), 0);
	assert_true(nr >= 20);
	free(header);
}

/*
 * The names of release 0.2 (softsgx/loader.h and softsgx/sign.h), exactly,
 * in their own version node; 0.1's stay in theirs.
 */
static const char *const names_0_2[] = {
	"softsgx_image_load_file", "softsgx_image_load_mem", "softsgx_image_new",
	"softsgx_image_add_pages", "softsgx_image_free", "softsgx_image_get_info",
	"softsgx_image_tcs_offset", "softsgx_enclave_build", "softsgx_enclave_build_fd",
	"softsgx_enclave_free", "softsgx_enclave_forget", "softsgx_enclave_base",
	"softsgx_enclave_size", "softsgx_enclave_nr_tcs", "softsgx_enclave_tcs",
	"softsgx_error_detail", "softsgx_key_load", "softsgx_key_generate", "softsgx_key_free",
	"softsgx_key_mrsigner", "softsgx_image_mrenclave", "softsgx_sign",
	"softsgx_sigstruct_mrsigner",
};

static void test_version_nodes(void **state)
{
	const size_t nr_new = sizeof(names_0_2) / sizeof(names_0_2[0]);
	unsigned int seen[sizeof(names_0_2) / sizeof(names_0_2[0])] = {0};
	unsigned int nr_0_1 = 0;
	char cmd[4096], line[512];
	FILE *nm;

	(void)state;
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only --format=posix '%s'", env("SOFTSGX_SO"));
	nm = popen(cmd, "r");
	if (!nm) {
		print_message("skipped: cannot run nm\n");
		skip();
	}
	while (fgets(line, sizeof(line), nm)) {
		char name[256], type;
		char *at, *node;
		size_t i;

		if (sscanf(line, "%255s %c", name, &type) != 2 || type == 'A')
			continue;
		at = strchr(name, '@');
		if (!at)
			fail_msg("%s has no version", name);
		*at = '\0';
		node = at + 1 + (at[1] == '@');
		for (i = 0; i < nr_new; i++)
			if (!strcmp(name, names_0_2[i]))
				break;
		if (i < nr_new) {
			if (strcmp(node, "SOFTSGX_0.2"))
				fail_msg("%s is in %s, not SOFTSGX_0.2", name, node);
			seen[i]++;
		} else if (!strcmp(node, "SOFTSGX_0.1")) {
			nr_0_1++;
		} else {
			fail_msg("%s is in %s, which only 0.2's names may be", name, node);
		}
	}
	assert_int_equal(pclose(nm), 0);
	for (size_t i = 0; i < nr_new; i++)
		if (seen[i] != 1)
			fail_msg("%s is exported %u times in SOFTSGX_0.2", names_0_2[i], seen[i]);
	/* Release 0.1's 24 functions, none moved. */
	assert_int_equal(nr_0_1, 24);
}

static void *open_so(void)
{
	void *h = dlopen(env("SOFTSGX_SO"), RTLD_NOW | RTLD_LOCAL);

	if (!h)
		fail_msg("dlopen: %s", dlerror());
	return h;
}

static void test_every_public_function_is_exported(void **state)
{
	char *header = read_header();
	void *h = open_so();
	unsigned int nr = 0;

	(void)state;
	for (char *s = strstr(header, "softsgx_"); s; s = strstr(s + 1, "softsgx_")) {
		char name[128];
		size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyz_0123456789");

		if (s[len] != '(' || len >= sizeof(name) || (s > header && s[-1] == '_'))
			continue;
		memcpy(name, s, len);
		name[len] = '\0';
		if (!dlsym(h, name))
			fail_msg("a public header declares %s, which libsoftsgx.so does not export", name);
		nr++;
	}
	assert_true(nr >= 20);
	dlclose(h);
	free(header);
}

static void test_internal_names_are_hidden(void **state)
{
	static const char *const internal[] = {
		"copy_from_user", "copy_to_user", "ksgxd", "sys_mmap", "leaf_ewb",
		"softsgx_hw", "softsgx_kernel", "softsgx_fget", "sgx_hw_new",
		/* the loader and signer behind softsgx/loader.h and sign.h */
		"enclave_build", "enclave_image_load_file", "sgx_sign_sigstruct", "api_fail",
		"api_image",
	};
	void *h = open_so();

	(void)state;
	for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++)
		if (dlsym(h, internal[i]))
			fail_msg("libsoftsgx.so exports the internal %s", internal[i]);
	dlclose(h);
}

struct create_result {
	long ret;
};

/* ENCLAVE_CREATE of a 4-page enclave; the program's copy_from_user() above must not matter. */
static void *create_enclave(void *arg)
{
	const uint64_t size = 4 * SGX_PAGE_SIZE;
	struct create_result *r = arg;
	struct softsgx_config cfg;
	struct softsgx_platform *p;
	struct sgx_secs *secs;
	struct sgx_enclave_create create;
	uint8_t *m;
	uint64_t base;
	int fd;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 64 * SGX_PAGE_SIZE;
	cfg.no_ksgxd = true;
	p = softsgx_platform_new(&cfg);
	assert_non_null(p);
	/* ELRANGE: size-aligned, reserved as a runtime reserves it. */
	m = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(m != MAP_FAILED);
	base = ((uintptr_t)m + size - 1) & ~(size - 1);
	secs = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	assert_non_null(secs);
	memset(secs, 0, sizeof(*secs));
	secs->base = base;
	secs->size = size;
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	secs->xfrm = 0x3;
	create.src = (uintptr_t)secs;
	fd = softsgx_open(p, "/dev/sgx_enclave", 0);
	assert_true(fd >= 0);
	r->ret = softsgx_ioctl(p, fd, SGX_IOC_ENCLAVE_CREATE, &create);
	assert_int_equal(softsgx_close(p, fd), 0);
	free(secs);
	munmap(m, 2 * size);
	softsgx_platform_free(p);
	return NULL;
}

static void test_own_copy_from_user_does_not_interpose(void **state)
{
	struct create_result r = { .ret = -1 };
	pthread_t t;

	(void)state;
	create_enclave(&r);
	assert_int_equal(r.ret, 0);
	/* And from a freshly created thread. */
	r.ret = -1;
	assert_int_equal(pthread_create(&t, NULL, create_enclave, &r), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.ret, 0);
}

static void test_version(void **state)
{
	const char *so = env("SOFTSGX_SO");
	const char *suffix = "libsoftsgx.so." SOFTSGX_VERSION;
	size_t n = strlen(so), m = strlen(suffix);

	(void)state;
	assert_string_equal(softsgx_version(), SOFTSGX_VERSION);
	/* The Makefile names the library after the header's version. */
	assert_true(n >= m);
	assert_string_equal(so + n - m, suffix);
}

static void test_cxx_consumer_runs(void **state)
{
	char cmd[4096];
	int status;

	(void)state;
	snprintf(cmd, sizeof(cmd), "'%s'", env("SOFTSGX_CXX_CONSUMER"));
	status = system(cmd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_export_is_public),
		cmocka_unit_test(test_every_public_function_is_exported),
		cmocka_unit_test(test_version_nodes),
		cmocka_unit_test(test_internal_names_are_hidden),
		cmocka_unit_test(test_own_copy_from_user_does_not_interpose),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_cxx_consumer_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
