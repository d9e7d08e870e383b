/* SPDX-License-Identifier: MIT */
/*
 * MRENCLAVE: SHA-256 over the 64-byte blocks that ECREATE, EADD and EEXTEND
 * contribute (SDM Vol. 3D, "ECREATE", "EADD", "EEXTEND"). Used by the CPU
 * model and by tools that precompute a measurement offline.
 */
#ifndef SOFTSGX_MEASURE_H
#define SOFTSGX_MEASURE_H

#include <stdint.h>

#include <openssl/sha.h>

#include "softsgx/sgx_arch.h"

#define SGX_EEXTEND_CHUNK 256

/*
 * Bytes of measured blocks held back before they are hashed: an EADD block
 * and four EEXTEND blocks with their chunks. One SHA256_Update() over them
 * instead of one per block and chunk (33 per page) saves the per-call cost
 * of OpenSSL's block function (state load and store, length bookkeeping),
 * about 8% of a measured page's hashing. A multiple of 64, as every block.
 * The SECS page's hidden area (hw_internal.h) must hold it.
 */
#define SGX_MEASURE_PENDING (64 + 4 * (64 + SGX_EEXTEND_CHUNK))

/*
 * A running measurement; a plain struct so a SECS can carry it in its page.
 * The hash is that of @pend[0..@npend) appended to what @ctx consumed; only
 * the functions below touch either.
 */
struct sgx_measurement {
	SHA256_CTX ctx;
	uint32_t npend;
	uint8_t pend[SGX_MEASURE_PENDING];
};

void sgx_measure_ecreate(struct sgx_measurement *m, uint32_t ssa_frame_size,
			 uint64_t size);
void sgx_measure_eadd(struct sgx_measurement *m, uint64_t offset,
		      const struct sgx_secinfo *secinfo);
void sgx_measure_eextend(struct sgx_measurement *m, uint64_t offset,
			 const uint8_t chunk[SGX_EEXTEND_CHUNK]);
/* Final hash of a copy of @m; @m itself can still be extended. */
void sgx_measure_final(const struct sgx_measurement *m, uint8_t out[SGX_HASH_SIZE]);

#endif /* SOFTSGX_MEASURE_H */
