/* SPDX-License-Identifier: MIT */
/*
 * Test-only access to the kernel model behind a platform of the embedding
 * API: white-box tests reach the EPC manager and an open file's enclave
 * through these. Not part of the public API (include/softsgx/softsgx.h).
 */
#ifndef SOFTSGX_API_INTERNAL_H
#define SOFTSGX_API_INTERNAL_H

#include "driver.h"
#include "sgx.h"

struct softsgx_platform;

/* The kernel model of @p. */
struct sgx_kernel *softsgx_kernel(struct softsgx_platform *p);
/* The open file behind descriptor @fd with a reference (sgx_file_put() it), or NULL. */
struct sgx_file *softsgx_fget(struct softsgx_platform *p, int fd);

#endif /* SOFTSGX_API_INTERNAL_H */
