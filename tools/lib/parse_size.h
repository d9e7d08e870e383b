/* SPDX-License-Identifier: MIT */
#ifndef SOFTSGX_PARSE_SIZE_H
#define SOFTSGX_PARSE_SIZE_H

#include <stdint.h>

/*
 * A size in bytes: decimal digits with an optional binary suffix K, M, G or
 * T (case-insensitive, optionally followed by "B" or "iB"): 4096, 64M, 1GiB.
 * Returns 0, or -EINVAL for anything else, overflow included.
 */
int sgx_parse_size(const char *s, uint64_t *bytes);

#endif /* SOFTSGX_PARSE_SIZE_H */
