/* SPDX-License-Identifier: MIT */
#ifndef SOFTSGX_PARSE_SIZE_H
#define SOFTSGX_PARSE_SIZE_H

#include <stdint.h>

/*
 * A decimal byte count with an optional suffix K, M, G or T (powers of
 * 1024; "KiB"/"KB" spellings too, any case): 0, or -EINVAL for anything
 * else, including overflow.
 */
int sgx_parse_size(const char *s, uint64_t *bytes);

#endif /* SOFTSGX_PARSE_SIZE_H */
