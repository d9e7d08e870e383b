// SPDX-License-Identifier: MIT
/*
 * softsgx keygen: a new enclave signing key, RSA-3072 with public exponent 3
 * (what SIGSTRUCT requires), written as an unencrypted PEM private key with
 * mode 0600, and the MRSIGNER that enclaves signed with it will have.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "tools/cli.h"
#include "tools/lib/sigstruct_sign.h"

#define NAME	 "keygen"
#define KEY_MODE 0600

static void usage(FILE *out)
{
	fputs("Usage: softsgx keygen -o FILE [--force]\n"
	      "\n"
	      "Generate an enclave signing key: RSA-3072 with public exponent 3, written\n"
	      "to FILE as an unencrypted PEM private key with mode 0600. Prints the\n"
	      "MRSIGNER of the key (SHA-256 of its modulus as 384 little-endian bytes).\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output FILE  where to write the key (required)\n"
	      "  -f, --force        replace FILE if it exists (atomically)\n"
	      "  -h, --help         show this help and exit\n"
	      "\n" CLI_EXIT_USAGE_TEXT,
	      out);
}

/* PEM of @key into @fd, which this closes. 0, or -1 with errno set. */
static int write_key(int fd, EVP_PKEY *key)
{
	FILE *f;
	int ok;

	if (fchmod(fd, KEY_MODE)) {
		close(fd);
		return -1;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -1;
	}
	errno = EIO;
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	ok = !fflush(f) && ok && !fsync(fileno(f));
	if (fclose(f))
		ok = 0;
	return ok ? 0 : -1;
}

/*
 * Without --force the file is created with O_EXCL before the key is made, so
 * an existing file is refused at once and never touched. With --force the
 * key goes to a temporary file next to @path, renamed over it at the end:
 * the old key stays intact if anything fails.
 */
static int keygen(const char *path, bool force)
{
	char *tmp = NULL;
	const char *target;
	EVP_PKEY *key = NULL;
	uint8_t mrsigner[SGX_HASH_SIZE];
	char hex[2 * SGX_HASH_SIZE + 1];
	int fd, ret = CLI_EXIT_FAILURE;

	if (force) {
		if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
			return cli_fail(NAME, "out of memory");
		fd = mkstemp(tmp);
		target = tmp;
	} else {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, KEY_MODE);
		target = path;
	}
	if (fd < 0) {
		if (errno == EEXIST)
			ret = cli_fail(NAME, "%s already exists; use --force to replace it", path);
		else if (force)
			ret = cli_fail(NAME, "cannot create a temporary file next to %s: %m", path);
		else
			ret = cli_fail(NAME, "cannot create %s: %m", path);
		free(tmp);
		return ret;
	}

	if (cli_rsa3072_e3_keygen(&key)) {
		close(fd);
		cli_fail(NAME, "RSA-3072 key generation failed (OpenSSL)");
		goto err_unlink;
	}
	if (sgx_sign_check_key(key) || sgx_sign_mrsigner(key, mrsigner)) {
		close(fd);
		cli_fail(NAME, "the new key is not usable for SIGSTRUCT: %s", sgx_sign_error());
		goto err_unlink;
	}
	if (write_key(fd, key)) {
		cli_fail(NAME, "writing %s failed: %m", path);
		goto err_unlink;
	}
	if (force && rename(tmp, path)) {
		cli_fail(NAME, "cannot replace %s: %m", path);
		goto err_unlink;
	}

	cli_hex(hex, mrsigner, sizeof(mrsigner));
	printf("Wrote an RSA-3072 private key (public exponent 3) to %s, mode 0600.\n", path);
	printf("MRSIGNER: %s\n", hex);
	ret = fflush(stdout) ? cli_fail(NAME, "writing the output failed: %m") : CLI_EXIT_OK;
	EVP_PKEY_free(key);
	free(tmp);
	return ret;

err_unlink:
	unlink(target);
	EVP_PKEY_free(key);
	free(tmp);
	return CLI_EXIT_FAILURE;
}

static int run(int argc, char **argv)
{
	static const char optstring[] = ":ho:f";
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"output", required_argument, NULL, 'o'},
		{"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	const char *output = NULL;
	bool force = false;
	int opt, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'o':
			output = optarg;
			break;
		case 'f':
			force = true;
			break;
		default:
			return cli_getopt_error(NAME, opt, argv, optstring, longopts);
		}
	}
	ret = cli_no_operands(NAME, argc, argv);
	if (ret)
		return ret;
	if (!output)
		return cli_usage_error(NAME, "missing -o FILE: where to write the key");
	if (!*output)
		return cli_usage_error(NAME, "-o needs a file name, not an empty string");
	return keygen(output, force);
}

const struct cli_cmd cmd_keygen = {
	.name = NAME,
	.summary = "generate an RSA-3072 e=3 enclave signing key and print its MRSIGNER",
	.usage = usage,
	.run = run,
};
