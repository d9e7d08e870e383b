/* SPDX-License-Identifier: MIT */
/*
 * What the public loader (tools/lib/loader.c) and signer (tools/lib/sign.c)
 * share: the words behind their -errno (softsgx_error_detail(), one per
 * thread) and the internal image behind a public one.
 */
#ifndef SOFTSGX_LIB_API_H
#define SOFTSGX_LIB_API_H

#include "tools/lib/enclave_image.h"
#include "softsgx/loader.h"

/* Record why a public call fails and return @err, for `return api_fail(...)`. */
int api_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The loader's image inside @img; NULL for NULL. */
const struct enclave_image *api_image(const struct softsgx_image *img);

#endif /* SOFTSGX_LIB_API_H */
