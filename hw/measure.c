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

void sgx_measure_ecreate(struct sgx_measurement *m, uint32_t ssa_frame_size,
			 uint64_t size)
{
	uint8_t block[BLOCK] = "ECREATE";

	memcpy(block + 8, &ssa_frame_size, sizeof(ssa_frame_size));
	memcpy(block + 12, &size, sizeof(size));
	SHA256_Init(&m->ctx);
	SHA256_Update(&m->ctx, block, sizeof(block));
}

void sgx_measure_eadd(struct sgx_measurement *m, uint64_t offset,
		      const struct sgx_secinfo *secinfo)
{
	uint8_t block[BLOCK] = "EADD";

	memcpy(block + 8, &offset, sizeof(offset));
	memcpy(block + 16, secinfo, 48);
	SHA256_Update(&m->ctx, block, sizeof(block));
}

void sgx_measure_eextend(struct sgx_measurement *m, uint64_t offset,
			 const uint8_t chunk[SGX_EEXTEND_CHUNK])
{
	uint8_t block[BLOCK] = "EEXTEND";

	memcpy(block + 8, &offset, sizeof(offset));
	SHA256_Update(&m->ctx, block, sizeof(block));
	SHA256_Update(&m->ctx, chunk, SGX_EEXTEND_CHUNK);
}

void sgx_measure_final(const struct sgx_measurement *m, uint8_t out[SGX_HASH_SIZE])
{
	SHA256_CTX copy = m->ctx;

	SHA256_Final(out, &copy);
}
