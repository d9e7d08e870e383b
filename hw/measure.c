// SPDX-License-Identifier: MIT
/*
 * MRENCLAVE block construction. The measurement must stay a plain struct that
 * can live inside a SECS page across EWB/ELDU, which only the low-level
 * SHA256_CTX interface offers; OpenSSL 3 marks it deprecated, hence the
 * suppression below, limited to this file.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <string.h>

#include "hw/measure.h"

#define BLOCK 64

_Static_assert(SGX_MEASURE_PENDING % BLOCK == 0, "held-back bytes are whole blocks");

/*
 * How many held-back bytes there are. The count lives in the SECS page, so
 * bound it: a corrupted page must not make the hash read past the buffer.
 */
static uint32_t pending(const struct sgx_measurement *m)
{
	return m->npend < sizeof(m->pend) ? m->npend : sizeof(m->pend);
}

/* Hash what was held back. */
static void flush(struct sgx_measurement *m)
{
	SHA256_Update(&m->ctx, m->pend, pending(m));
	m->npend = 0;
}

/* Room for @n more bytes at the end of the held-back ones, hashing them if need be. */
static uint8_t *reserve(struct sgx_measurement *m, uint32_t n)
{
	uint8_t *p;

	if (pending(m) + n > sizeof(m->pend))
		flush(m);
	p = m->pend + m->npend;
	m->npend += n;
	return p;
}

void sgx_measure_ecreate(struct sgx_measurement *m, uint32_t ssa_frame_size,
			 uint64_t size)
{
	uint8_t *block;

	SHA256_Init(&m->ctx);
	m->npend = 0;
	block = reserve(m, BLOCK);
	memset(block, 0, BLOCK);
	memcpy(block, "ECREATE", 7);
	memcpy(block + 8, &ssa_frame_size, sizeof(ssa_frame_size));
	memcpy(block + 12, &size, sizeof(size));
}

void sgx_measure_eadd(struct sgx_measurement *m, uint64_t offset,
		      const struct sgx_secinfo *secinfo)
{
	uint8_t *block = reserve(m, BLOCK);

	memcpy(block, "EADD\0\0\0\0", 8);
	memcpy(block + 8, &offset, sizeof(offset));
	memcpy(block + 16, secinfo, 48);
}

void sgx_measure_eextend(struct sgx_measurement *m, uint64_t offset,
			 const uint8_t chunk[SGX_EEXTEND_CHUNK])
{
	uint8_t *block = reserve(m, BLOCK + SGX_EEXTEND_CHUNK);

	memset(block, 0, BLOCK);
	memcpy(block, "EEXTEND", 7);
	memcpy(block + 8, &offset, sizeof(offset));
	memcpy(block + BLOCK, chunk, SGX_EEXTEND_CHUNK);
}

void sgx_measure_final(const struct sgx_measurement *m, uint8_t out[SGX_HASH_SIZE])
{
	SHA256_CTX copy = m->ctx;

	SHA256_Update(&copy, m->pend, pending(m));
	SHA256_Final(out, &copy);
}
