/* SPDX-License-Identifier: MIT */
/*
 * Kernel-model test helpers: build, sign and initialize an enclave through
 * the embedding API exactly as a runtime would through /dev/sgx_enclave, and
 * a SIGSEGV handler that sends faults on SGX mappings to the kernel model's
 * fault path, so tests touch enclave memory with plain loads and stores.
 */
#ifndef SOFTSGX_ENCL_FIXTURE_H
#define SOFTSGX_ENCL_FIXTURE_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "softsgx/sgx_arch.h"
#include "softsgx/softsgx.h"

struct ek_enclave {
	int fd;
	uint64_t base, size;
	uint64_t nr_pages; /* TCS + REG pages added, at offsets 0 .. nr_pages-1 */
	uint8_t mrenclave[SGX_HASH_SIZE];
	struct sgx_sigstruct sigstruct __attribute__((aligned(4096)));
};

/* A small platform: @nr_sections sections of @pages pages, ksgxd on. */
struct softsgx_platform *ek_platform(unsigned int nr_sections, uint64_t pages);

/* The byte pattern page @i of fixture enclaves starts with. */
uint8_t ek_pattern(uint64_t i);

/* Open, ECREATE, ADD (TCS + @nr_reg RW measured pages), no EINIT, no mmap. */
void ek_create_and_add(struct softsgx_platform *p, struct ek_enclave *e, uint64_t nr_reg);
/* SIGSTRUCT for the fixture enclave, signed with the test key. */
void ek_sign(struct ek_enclave *e);
/* All of it: create, add, sign, EINIT, mmap the ELRANGE read-write. */
void ek_build(struct softsgx_platform *p, struct ek_enclave *e, uint64_t nr_reg);

/* A SECS page for ENCLAVE_CREATE at @base/@size with fixture attributes. */
void ek_secs(struct sgx_secs *secs, uint64_t base, uint64_t size);
/* An ELRANGE base aligned to @size, left reserved (PROT_NONE) for a MAP_FIXED mapping. */
uint64_t ek_free_base(uint64_t size);

/* Route faults on @p's mappings to its fault path (one platform at a time). */
void ek_fault_handler_install(struct softsgx_platform *p);
void ek_fault_handler_remove(void);
/*
 * Run @fn(@arg); returns true when it finished, false when the fault path
 * answered SIGBUS (the access is abandoned).
 */
bool ek_try(void (*fn)(void *arg), void *arg);

/* The SECS of the enclave behind @fd, read from the EPC (white box). */
void ek_secs_of(struct softsgx_platform *p, int fd, struct sgx_secs *out);

/* Assert free + in use + leaked + zombie == total EPC pages. */
void ek_assert_invariant(struct softsgx_platform *p);

/* A thread that reclaims on @p (softsgx_reclaim()) all along, until stopped. */
struct ek_reclaimer {
	struct softsgx_platform *p;
	atomic_bool stop;
	pthread_t thread;
};
void ek_reclaimer_start(struct ek_reclaimer *r, struct softsgx_platform *p);
void ek_reclaimer_stop(struct ek_reclaimer *r);

#endif /* SOFTSGX_ENCL_FIXTURE_H */
