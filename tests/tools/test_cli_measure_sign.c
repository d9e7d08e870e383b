// SPDX-License-Identifier: MIT
/*
 * softsgx measure and softsgx sign, run as programs ($SOFTSGX_BIN) on the
 * project's test enclave ($SOFTSGX_TEST_ENCLAVE): usage and exit codes, the
 * measurement against the loader library's, the JSON output, and a SIGSTRUCT
 * that EINIT accepts on a platform of the embedding API, giving the enclave
 * the MRSIGNER that `softsgx keygen` printed. Keys SGX cannot use and outputs
 * that cannot be written fail with exit status 1 and leave no file behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tests/common/cli_fixture.h"
#include "tests/common/encl_fixture.h"
#include "tools/lib/enclave_image.h"
#include "tools/lib/sigstruct_sign.h"
#include "softsgx/softsgx.h"
#include "tests/common/test_keys.h"
#include "tests/common/leak_guard.h"

#define TEST_ENCLAVE_ENV "SOFTSGX_TEST_ENCLAVE"
#define PAGE		 SGX_PAGE_SIZE
#define HEX_LEN		 (2 * SGX_HASH_SIZE)

static const char *enclave_path(void)
{
	return cli_env_path(TEST_ENCLAVE_ENV);
}

static void hex(char out[HEX_LEN + 1], const uint8_t in[SGX_HASH_SIZE])
{
	for (int i = 0; i < SGX_HASH_SIZE; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

/* The test enclave as the library lays it out, and its MRENCLAVE in hex. */
static void library_image(struct enclave_image *img, char mr[HEX_LEN + 1])
{
	uint8_t m[SGX_HASH_SIZE];
	int ret = enclave_image_load_file(enclave_path(), img);

	if (ret)
		fail_msg("loading %s: %s", enclave_path(), enclave_image_error());
	enclave_image_mrenclave(img, m);
	hex(mr, m);
}

/* The 64 hex digits after "@label: " at the start of a line of @out. */
static void value_after(const char *out, const char *label, char v[HEX_LEN + 1])
{
	char needle[32];
	const char *p;

	snprintf(needle, sizeof(needle), "%s: ", label);
	p = strstr(out, needle);
	if (!p || (p != out && p[-1] != '\n'))
		fail_msg("no \"%s\" line in:\n%s", needle, out);
	p += strlen(needle);
	assert_true(strspn(p, "0123456789abcdef") == HEX_LEN);
	assert_true(p[HEX_LEN] == '\n');
	memcpy(v, p, HEX_LEN);
	v[HEX_LEN] = '\0';
}

static void test_help(void **state)
{
	struct cli_result r;

	(void)state;
	cli_assert_help("measure");
	cli_assert_help("sign");
	cli_exec(&r, CLI_ARGS("help"));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "\n  measure  ");
	cli_assert_contains(r.out, "\n  sign     ");
	cli_result_free(&r);
	/* The options and what the SIGSTRUCT asks for are documented. */
	cli_exec(&r, CLI_ARGS("sign", "--help"));
	cli_assert_contains(r.out, "--isvprodid N");
	cli_assert_contains(r.out, "--isvsvn N");
	cli_assert_contains(r.out, "--date YYYYMMDD");
	cli_assert_contains(r.out, "DEBUG");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("measure", "--help"));
	cli_assert_contains(r.out, "--json");
	cli_result_free(&r);
}

static void test_measure_bad_arguments(void **state)
{
	struct cli_result r;

	(void)state;
	cli_exec(&r, CLI_ARGS("measure"));
	cli_assert_usage_error(&r, "measure", "missing ENCLAVE");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("measure", enclave_path(), "other.elf"));
	cli_assert_usage_error(&r, "measure", "unexpected argument 'other.elf'");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("measure", "--bogus", enclave_path()));
	cli_assert_usage_error(&r, "measure", "unknown option '--bogus'");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("measure", "--json=yes", enclave_path()));
	cli_assert_usage_error(&r, "measure", "option '--json' takes no argument");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("measure", "--json", "-q", enclave_path()));
	cli_assert_usage_error(&r, "measure", "--json and --quiet exclude each other");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("measure", ""));
	cli_assert_usage_error(&r, "measure", "not an empty string");
	cli_result_free(&r);
}

/* Exit 1, nothing on stdout, one line on stderr containing @what. */
static void assert_runtime_failure(const struct cli_result *r, const char *cmd, const char *what)
{
	char prefix[32];

	cli_assert_status(r, 1);
	assert_string_equal(r->out, "");
	snprintf(prefix, sizeof(prefix), "softsgx %s: ", cmd);
	if (strncmp(r->err, prefix, strlen(prefix)))
		fail_msg("stderr does not start with \"%s\":\n%s", prefix, r->err);
	cli_assert_contains(r->err, what);
	assert_non_null(strchr(r->err, '\n'));
	assert_string_equal(strchr(r->err, '\n'), "\n");
}

static void test_measure_not_an_enclave(void **state)
{
	char dir[64], text[96];
	struct cli_result r;
	FILE *f;

	(void)state;
	cli_tmpdir_make(dir, sizeof(dir), "test-sign");
	cli_exec(&r, CLI_ARGS("measure", "/nonexistent/enclave.elf"));
	assert_runtime_failure(&r, "measure",
			       "/nonexistent/enclave.elf: No such file or directory");
	cli_result_free(&r);

	snprintf(text, sizeof(text), "%s/notes.txt", dir);
	f = fopen(text, "w");
	assert_non_null(f);
	fputs("not an enclave\n", f);
	fclose(f);
	cli_exec(&r, CLI_ARGS("measure", text));
	assert_runtime_failure(&r, "measure", "not an ELF file");
	cli_result_free(&r);

	/* An ELF, but a dynamically linked program, not an enclave. */
	cli_exec(&r, CLI_ARGS("measure", cli_bin()));
	assert_runtime_failure(&r, "measure", "program interpreter");
	cli_result_free(&r);

	cli_exec(&r, CLI_ARGS("measure", dir));
	assert_runtime_failure(&r, "measure", "not a regular file");
	cli_result_free(&r);
	cli_tmpdir_remove(dir);
}

static void test_measure(void **state)
{
	struct enclave_image img;
	char mr[HEX_LEN + 1], got[HEX_LEN + 1], line[128];
	struct cli_result r;

	(void)state;
	library_image(&img, mr);
	cli_exec(&r, CLI_ARGS("measure", enclave_path()));
	cli_assert_status(&r, 0);
	assert_string_equal(r.err, "");
	/* MRENCLAVE comes first, as the library computes it. */
	assert_int_equal(strncmp(r.out, "MRENCLAVE: ", 11), 0);
	value_after(r.out, "MRENCLAVE", got);
	assert_string_equal(got, mr);
	snprintf(line, sizeof(line), "(SECS.SIZE %#llx)\n", (unsigned long long)img.secs->size);
	cli_assert_contains(r.out, line);
	snprintf(line, sizeof(line), "Pages:     %zu added and measured (%u TCS, %zu regular)\n",
		 img.nr_pages, img.layout.nr_tcs, img.nr_pages - img.layout.nr_tcs);
	cli_assert_contains(r.out, line);
	snprintf(line, sizeof(line), "TCS:       %u, each with %u SSA frame", img.layout.nr_tcs,
		 img.layout.nssa);
	cli_assert_contains(r.out, line);
	cli_assert_contains(r.out, "ATTRIBUTES 0x6 (DEBUG MODE64BIT)");
	cli_result_free(&r);

	/* --quiet: the digits alone, for scripts. */
	cli_exec(&r, CLI_ARGS("measure", "-q", enclave_path()));
	cli_assert_status(&r, 0);
	snprintf(line, sizeof(line), "%s\n", mr);
	assert_string_equal(r.out, line);
	cli_result_free(&r);
	enclave_image_free(&img);
}

static void test_measure_json(void **state)
{
	struct enclave_image img;
	char mr[HEX_LEN + 1], member[128];
	struct cli_result r;

	(void)state;
	library_image(&img, mr);
	cli_exec(&r, CLI_ARGS("measure", "--json", enclave_path()));
	cli_assert_status(&r, 0);
	assert_string_equal(r.err, "");
	if (!cli_json_is_object(r.out))
		fail_msg("not one JSON object:\n%s", r.out);
	snprintf(member, sizeof(member), "\"mrenclave\": \"%s\",", mr);
	cli_assert_contains(r.out, member);
	snprintf(member, sizeof(member), "\"file\": \"%s\",", enclave_path());
	cli_assert_contains(r.out, member);
	snprintf(member, sizeof(member), "\"size\": %llu,", (unsigned long long)img.secs->size);
	cli_assert_contains(r.out, member);
	snprintf(member, sizeof(member), "\"pages\": %zu,", img.nr_pages);
	cli_assert_contains(r.out, member);
	snprintf(member, sizeof(member), "\"tcs\": %u,", img.layout.nr_tcs);
	cli_assert_contains(r.out, member);
	snprintf(member, sizeof(member), "\"nssa\": %u,", img.layout.nssa);
	cli_assert_contains(r.out, member);
	snprintf(member, sizeof(member), "\"stack_size\": %llu,",
		 (unsigned long long)img.layout.stack_size);
	cli_assert_contains(r.out, member);
	snprintf(member, sizeof(member), "\"entry\": \"0x%llx\",", (unsigned long long)img.entry);
	cli_assert_contains(r.out, member);
	cli_assert_contains(r.out, "\"attributes\": \"0x0000000000000006\"");
	cli_assert_contains(r.out, "\"xfrm\": \"0x0000000000000003\"");
	cli_assert_contains(r.out, "\"miscselect\": \"0x00000001\"\n}\n");
	cli_result_free(&r);
	enclave_image_free(&img);
}

static void test_sign_bad_arguments(void **state)
{
	static const char *const bad_dates[] = {"2026-01-01", "2026011",  "202601011", "20261301",
						"20260132",   "20230229", "00000101",  "2026013a"};
	const char *e = enclave_path(), *k = getenv(TEST_KEY_ENV);
	struct cli_result r;

	(void)state;
	assert_non_null(k);
	cli_exec(&r, CLI_ARGS("sign", "-o", "/tmp/x.sig", e));
	cli_assert_usage_error(&r, "sign", "missing -k KEY");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("sign", "--key", k, e));
	cli_assert_usage_error(&r, "sign", "missing -o FILE");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("sign", "-k", k, "-o", "/tmp/x.sig"));
	cli_assert_usage_error(&r, "sign", "missing ENCLAVE");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("sign", "-k", k, "-o", "/tmp/x.sig", e, e));
	cli_assert_usage_error(&r, "sign", "unexpected argument");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("sign", "-k"));
	cli_assert_usage_error(&r, "sign", "option '-k' needs an argument");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("sign", "--isvsvn"));
	cli_assert_usage_error(&r, "sign", "option '--isvsvn' needs an argument");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("sign", "--isvprodid", "65536"));
	cli_assert_usage_error(&r, "sign", "--isvprodid '65536' is not a number from 0 to 65535");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("sign", "--isvsvn", "-1"));
	cli_assert_usage_error(&r, "sign", "--isvsvn '-1'");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("sign", "--isvsvn", "3x"));
	cli_assert_usage_error(&r, "sign", "--isvsvn '3x'");
	cli_result_free(&r);
	/* Dates: eight digits of a day that exists. */
	for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
		cli_exec(&r, CLI_ARGS("sign", "--date", bad_dates[i], "-k", k, "-o", "x", e));
		cli_assert_usage_error(&r, "sign", "is not YYYYMMDD");
		cli_assert_contains(r.err, bad_dates[i]);
		cli_result_free(&r);
	}
	cli_exec(&r, CLI_ARGS("sign", "-k", "", "-o", "x", e));
	cli_assert_usage_error(&r, "sign", "not empty strings");
	cli_result_free(&r);
	/* The output may not replace the key or the enclave. */
	cli_exec(&r, CLI_ARGS("sign", "-k", k, "-o", k, e));
	cli_assert_usage_error(&r, "sign", "is the key itself");
	cli_result_free(&r);
	cli_exec(&r, CLI_ARGS("sign", "-k", k, "-o", e, e));
	cli_assert_usage_error(&r, "sign", "is the enclave itself");
	cli_result_free(&r);
}

static struct sgx_sigstruct *read_sigstruct(const char *path)
{
	struct sgx_sigstruct *sig = aligned_alloc(PAGE, PAGE);
	struct stat st;
	FILE *f;

	assert_non_null(sig);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 1808);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(sig, 1, sizeof(*sig), f), sizeof(*sig));
	fclose(f);
	return sig;
}

/*
 * Build the test enclave with @sig on a fresh platform and return the SECS
 * EINIT left, or fail with the loader's reason.
 */
static void einit_with(const struct sgx_sigstruct *sig, struct sgx_secs *secs)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;
	struct enclave_sys sys;
	struct enclave_image img;
	struct enclave_handle h;
	char mr[HEX_LEN + 1];
	int ret;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 256 * PAGE;
	cfg.no_ksgxd = true; /* nothing evicts the SECS under the white-box read */
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	sys = enclave_sys_softsgx(p);
	library_image(&img, mr);
	ret = enclave_build(&sys, &img, sig, &h);
	if (ret)
		fail_msg("building with the command's SIGSTRUCT: %d: %s", ret,
			 enclave_image_error());
	ek_secs_of(p, h.fd, secs);
	assert_true(secs->attributes & SGX_ATTR_INIT);
	enclave_unload(&sys, &h);
	enclave_image_free(&img);
	lg_platform_free(p);
}

static void test_sign_einit(void **state)
{
	struct sgx_secs *secs = aligned_alloc(PAGE, PAGE);
	struct sgx_sigstruct *sig;
	struct enclave_image img;
	char dir[64], key[96], out[96], mr[HEX_LEN + 1], signer[HEX_LEN + 1], got[HEX_LEN + 1];
	struct cli_result r;
	struct stat st;
	mode_t mask;

	(void)state;
	assert_non_null(secs);
	cli_tmpdir_make(dir, sizeof(dir), "test-sign");
	snprintf(key, sizeof(key), "%s/signer.pem", dir);
	snprintf(out, sizeof(out), "%s/enclave.sig", dir);
	library_image(&img, mr);

	cli_exec(&r, CLI_ARGS("keygen", "-o", key));
	cli_assert_status(&r, 0);
	value_after(r.out, "MRSIGNER", signer);
	cli_result_free(&r);

	/* Numbers as C writes them (issue 19): 0x10 is 16. */
	cli_exec(&r, CLI_ARGS("sign", "--key", key, "--isvprodid", "0x10", "--isvsvn", "3", "--date",
			      "20240229", enclave_path(), "--output", out));
	cli_assert_status(&r, 0);
	assert_string_equal(r.err, "");
	cli_assert_contains(r.out, "(1808 bytes)");
	value_after(r.out, "MRENCLAVE", got);
	assert_string_equal(got, mr);
	value_after(r.out, "MRSIGNER", got);
	assert_string_equal(got, signer);
	cli_assert_contains(r.out, "ISVPRODID: 16, ISVSVN: 3, DATE: 20240229\n");
	cli_result_free(&r);

	/* A public file: 0666 under the umask; only the SIGSTRUCT in the directory. */
	mask = umask(0);
	umask(mask);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666 & ~mask);
	assert_int_equal(cli_dir_entries(dir), 2);

	sig = read_sigstruct(out);
	assert_int_equal(sig->header.date, 0x20240229);
	assert_int_equal(sig->header.vendor, 0);
	assert_int_equal(sig->exponent, 3);
	assert_int_equal(sig->body.isvprodid, 16);
	assert_int_equal(sig->body.isvsvn, 3);
	assert_int_equal(sig->body.attributes, SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT);
	assert_int_equal(sig->body.attributes_mask, ~(uint64_t)SGX_ATTR_INIT);
	assert_int_equal(sig->body.xfrm, 0x3);
	assert_int_equal(sig->body.miscselect, SGX_MISC_EXINFO);
	hex(got, sig->body.mrenclave);
	assert_string_equal(got, mr);

	/* EINIT accepts it: the enclave gets keygen's MRSIGNER and the chosen IDs. */
	einit_with(sig, secs);
	hex(got, secs->mrsigner);
	assert_string_equal(got, signer);
	hex(got, secs->mrenclave);
	assert_string_equal(got, mr);
	assert_int_equal(secs->isv_prod_id, 16);
	assert_int_equal(secs->isv_svn, 3);
	free(sig);

	/* Signing again replaces the file; the defaults are 0 and today's date. */
	cli_exec(&r, CLI_ARGS("sign", "-k", key, "-o", out, enclave_path()));
	cli_assert_status(&r, 0);
	cli_assert_contains(r.out, "ISVPRODID: 0, ISVSVN: 0, DATE: 20");
	cli_result_free(&r);
	assert_int_equal(cli_dir_entries(dir), 2);
	sig = read_sigstruct(out);
	assert_int_equal(sig->body.isvsvn, 0);
	assert_int_equal(sig->header.date >> 24, 0x20);
	einit_with(sig, secs);
	assert_int_equal(secs->isv_svn, 0);
	free(sig);

	enclave_image_free(&img);
	free(secs);
	cli_tmpdir_remove(dir);
}

static void write_pem(const char *path, EVP_PKEY *key, bool private)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (private)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_PUBKEY(f, key), 1);
	assert_int_equal(fclose(f), 0);
	EVP_PKEY_free(key);
}

enum key_form { KEY_ENCRYPTED, KEY_DER_PRIVATE, KEY_DER_PUBLIC };

/* @key written to @path in @form; @key is freed. */
static void write_key_as(const char *path, EVP_PKEY *key, enum key_form form)
{
	static char pass[] = "secret";
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	switch (form) {
	case KEY_ENCRYPTED:
		assert_int_equal(PEM_write_PrivateKey(f, key, EVP_aes_256_cbc(), NULL, 0, NULL,
						      pass),
				 1);
		break;
	case KEY_DER_PRIVATE:
		assert_int_equal(i2d_PrivateKey_fp(f, key), 1);
		break;
	case KEY_DER_PUBLIC:
		assert_int_equal(i2d_PUBKEY_fp(f, key), 1);
		break;
	}
	assert_int_equal(fclose(f), 0);
	EVP_PKEY_free(key);
}

/* sign with the key at @key: exit 1 naming @why, and no output file. */
static void expect_key_refused(const char *dir, const char *key, const char *why)
{
	char out[96];
	unsigned int before = cli_dir_entries(dir);
	struct cli_result r;

	snprintf(out, sizeof(out), "%s/enclave.sig", dir);
	cli_exec(&r, CLI_ARGS("sign", "-k", key, "-o", out, enclave_path()));
	assert_runtime_failure(&r, "sign", why);
	cli_assert_contains(r.err, key);
	cli_result_free(&r);
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(cli_dir_entries(dir), before);
}

static void test_sign_wrong_keys(void **state)
{
	char dir[64], path[96];

	(void)state;
	cli_tmpdir_make(dir, sizeof(dir), "test-sign");
	/* OpenSSL's default exponent is 65537. */
	snprintf(path, sizeof(path), "%s/rsa2048.pem", dir);
	write_pem(path, EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), true);
	expect_key_refused(dir, path, "the RSA key has 2048 bits, SGX needs 3072");

	snprintf(path, sizeof(path), "%s/rsa3072-65537.pem", dir);
	write_pem(path, EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072), true);
	expect_key_refused(dir, path, "the RSA public exponent is 0x010001, SGX needs 3");

	snprintf(path, sizeof(path), "%s/ec.pem", dir);
	write_pem(path, EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), true);
	expect_key_refused(dir, path, "the key is EC, SGX needs RSA-3072 with exponent 3");

	/* The public half of a good key cannot sign; each form said in words (issue 19). */
	snprintf(path, sizeof(path), "%s/public.pem", dir);
	write_pem(path, test_key(), false);
	expect_key_refused(dir, path, "public.pem is a public key; signing needs the private key");

	snprintf(path, sizeof(path), "%s/encrypted.pem", dir);
	write_key_as(path, test_key(), KEY_ENCRYPTED);
	expect_key_refused(dir, path,
			   "encrypted.pem is an encrypted private key, and softsgx does not ask "
			   "for passphrases");

	snprintf(path, sizeof(path), "%s/private.der", dir);
	write_key_as(path, test_key(), KEY_DER_PRIVATE);
	expect_key_refused(dir, path, "private.der is a DER private key; softsgx reads PEM");

	snprintf(path, sizeof(path), "%s/public.der", dir);
	write_key_as(path, test_key(), KEY_DER_PUBLIC);
	expect_key_refused(dir, path, "public.der is a DER public key");

	expect_key_refused(dir, enclave_path(), "no unencrypted PEM private key");
	snprintf(path, sizeof(path), "%s/missing.pem", dir);
	expect_key_refused(dir, path, "No such file or directory");
	cli_tmpdir_remove(dir);
}

static void test_sign_unwritable_output(void **state)
{
	const char *k = getenv(TEST_KEY_ENV);
	char dir[64], out[96], sub[96];
	struct cli_result r;

	(void)state;
	assert_non_null(k);
	cli_tmpdir_make(dir, sizeof(dir), "test-sign");

	/* A directory that does not exist. */
	snprintf(out, sizeof(out), "%s/missing/enclave.sig", dir);
	cli_exec(&r, CLI_ARGS("sign", "-k", k, "-o", out, enclave_path()));
	assert_runtime_failure(&r, "sign", "No such file or directory");
	cli_assert_contains(r.err, out);
	cli_result_free(&r);
	assert_int_equal(cli_dir_entries(dir), 0);

	/*
	 * A directory in the way: the SIGSTRUCT is complete in its temporary
	 * file before the rename fails, and that file is removed.
	 */
	snprintf(sub, sizeof(sub), "%s/enclave.sig", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	cli_exec(&r, CLI_ARGS("sign", "-k", k, "-o", sub, enclave_path()));
	assert_runtime_failure(&r, "sign", "Is a directory");
	cli_result_free(&r);
	assert_int_equal(cli_dir_entries(dir), 1);
	assert_int_equal(cli_dir_entries(sub), 0);

	/* An enclave the loader refuses: nothing is written. */
	snprintf(out, sizeof(out), "%s/other.sig", dir);
	cli_exec(&r, CLI_ARGS("sign", "-k", k, "-o", out, cli_bin()));
	assert_runtime_failure(&r, "sign", "program interpreter");
	cli_result_free(&r);
	assert_int_equal(cli_dir_entries(dir), 1);
	cli_tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_measure_bad_arguments),
		cmocka_unit_test(test_measure_not_an_enclave),
		cmocka_unit_test(test_measure),
		cmocka_unit_test(test_measure_json),
		cmocka_unit_test(test_sign_bad_arguments),
		cmocka_unit_test(test_sign_einit),
		cmocka_unit_test(test_sign_wrong_keys),
		cmocka_unit_test(test_sign_unwritable_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
