// SPDX-License-Identifier: MIT
/*
 * Sizes as users write them, for the command line and for the environment
 * the shim reads: one parser, so `softsgx run --epc X` and SOFTSGX_EPC=X
 * accept the same X.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include "tools/lib/parse_size.h"

int sgx_parse_size(const char *s, uint64_t *bytes)
{
	unsigned int shift = 0;
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (tolower((unsigned char)*end)) {
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	case 't':
		shift = 40;
		break;
	default:
		break;
	}
	if (shift) {
		end++;
		if (!strcasecmp(end, "ib"))
			end += 2;
		else if (!strcasecmp(end, "b"))
			end += 1;
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}
