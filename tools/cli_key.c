// SPDX-License-Identifier: MIT
/*
 * What is wrong with a file given as a signing key, said in words: the
 * loader (sgx_sign_load_key) only knows that it found no unencrypted PEM
 * private key, which does not tell a user holding a public key, an
 * encrypted key or a DER file what to do.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tools/cli.h"

/* Keys are a few KiB; a file much larger than this is no key at all. */
#define KEY_FILE_MAX (1 << 20)

static char *read_small_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(KEY_FILE_MAX + 1);
	if (buf) {
		*len = fread(buf, 1, KEY_FILE_MAX, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

static bool has(const char *buf, size_t len, const char *s)
{
	return memmem(buf, len, s, strlen(s)) != NULL;
}

/* A DER (binary ASN.1) private or public key: which, or NULL. */
static const char *der_kind(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	EVP_PKEY *k;

	/* Every DER key is an ASN.1 SEQUENCE. */
	if (!len || p[0] != 0x30)
		return NULL;
	ERR_set_mark();
	k = d2i_AutoPrivateKey(NULL, &p, (long)len);
	if (k) {
		EVP_PKEY_free(k);
		ERR_pop_to_mark();
		return "private";
	}
	p = (const unsigned char *)buf;
	k = d2i_PUBKEY(NULL, &p, (long)len);
	ERR_pop_to_mark();
	if (k) {
		EVP_PKEY_free(k);
		return "public";
	}
	return NULL;
}

const char *cli_key_problem(const char *path, char *out, size_t size)
{
	const char *der;
	size_t len = 0;
	char *buf = read_small_file(path, &len);

	if (!buf)
		return NULL;
	if (has(buf, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
	    (has(buf, len, "PRIVATE KEY-----") && has(buf, len, "Proc-Type: 4,ENCRYPTED")))
		snprintf(out, size,
			 "%s is an encrypted private key, and softsgx does not ask for "
			 "passphrases; decrypt a copy with 'openssl pkey -in %s -out PLAIN.pem'",
			 path, path);
	else if (has(buf, len, "-----BEGIN PUBLIC KEY-----") ||
		 has(buf, len, "-----BEGIN RSA PUBLIC KEY-----"))
		snprintf(out, size,
			 "%s is a public key; signing needs the private key (the file "
			 "'softsgx keygen' wrote)",
			 path);
	else if (has(buf, len, "-----BEGIN CERTIFICATE-----"))
		snprintf(out, size,
			 "%s is a certificate; signing needs the private key it was made for",
			 path);
	else if (has(buf, len, "-----BEGIN OPENSSH PRIVATE KEY-----"))
		snprintf(out, size,
			 "%s is an OpenSSH key; SGX needs an RSA-3072 key with exponent 3 in "
			 "PEM ('softsgx keygen' makes one)",
			 path);
	else if ((der = der_kind(buf, len)) && !strcmp(der, "private"))
		snprintf(out, size,
			 "%s is a DER private key; softsgx reads PEM: convert it with 'openssl "
			 "pkey -inform DER -in %s -out KEY.pem'",
			 path, path);
	else if (der)
		snprintf(out, size, "%s is a DER public key; signing needs the private key, in PEM",
			 path);
	else
		out = NULL;
	free(buf);
	return out;
}
