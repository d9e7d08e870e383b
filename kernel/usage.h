/* SPDX-License-Identifier: MIT */
/*
 * Who uses the EPC: the kernel model's registry of enclaves and vEPC
 * instances, the per-instance page counts built from it, and the global
 * counters in the embedding API's form. What Linux shows through
 * /proc/meminfo-like files and debugfs, the model reports through these.
 */
#ifndef SOFTSGX_USAGE_H
#define SOFTSGX_USAGE_H

#include "kernel/sgx.h"
#include "softsgx/softsgx.h"

struct sgx_encl;
struct sgx_vepc;

void sgx_usage_init(struct sgx_kernel *k);
void sgx_usage_destroy(struct sgx_kernel *k);

/* Registry: at allocation, and first thing at release. */
void sgx_usage_add_encl(struct sgx_kernel *k, struct sgx_encl *encl);
void sgx_usage_del_encl(struct sgx_kernel *k, struct sgx_encl *encl);
void sgx_usage_add_vepc(struct sgx_kernel *k, struct sgx_vepc *vepc);
void sgx_usage_del_vepc(struct sgx_kernel *k, struct sgx_vepc *vepc);

/* softsgx_get_usage() on the kernel model: see include/softsgx/softsgx.h. */
void sgx_usage(struct sgx_kernel *k, struct softsgx_enclave_usage *encls, unsigned int max_encls,
	       unsigned int *nr_encls, struct softsgx_vepc_usage *vepcs, unsigned int max_vepcs,
	       unsigned int *nr_vepcs);

/* softsgx_get_stats() on the kernel model. */
void sgx_get_stats(struct sgx_kernel *k, struct softsgx_stats *st);

#endif /* SOFTSGX_USAGE_H */
