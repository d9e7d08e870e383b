/* SPDX-License-Identifier: MIT */
/*
 * Access to the models behind a platform of the embedding API, for the
 * tools and the white-box tests (which link libsoftsgx.a): they reach the
 * CPU model, the EPC manager and an open file's enclave through these. Not
 * part of the public API (include/softsgx/softsgx.h), and not exported by
 * libsoftsgx.so (libsoftsgx.map).
 */
#ifndef SOFTSGX_API_INTERNAL_H
#define SOFTSGX_API_INTERNAL_H

#include "kernel/driver.h"
#include "kernel/sgx.h"

struct softsgx_platform;
struct sgx_hw;

/* The CPU model underneath @p (hw/hw.h). */
struct sgx_hw *softsgx_hw(struct softsgx_platform *p);

/* The kernel model of @p. */
struct sgx_kernel *softsgx_kernel(struct softsgx_platform *p);
/* The open file behind descriptor @fd with a reference (sgx_file_put() it), or NULL. */
struct sgx_file *softsgx_fget(struct softsgx_platform *p, int fd);

#endif /* SOFTSGX_API_INTERNAL_H */
