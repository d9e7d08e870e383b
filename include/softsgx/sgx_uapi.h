/* SPDX-License-Identifier: MIT */
/*
 * The Linux SGX user-space ABI (<asm/sgx.h>): ioctl numbers, their argument
 * structures, struct sgx_enclave_run and the vDSO entry function type.
 *
 * Written from the documented layouts so that a program built against the
 * kernel's header and one built against this header exchange the same bytes.
 * Every layout is pinned by static assertions at the end of the file.
 */
#ifndef SOFTSGX_SGX_UAPI_H
#define SOFTSGX_SGX_UAPI_H

#include <stddef.h>
#include <stdint.h>
#include <linux/ioctl.h>

#include "softsgx/compiler.h"

SOFTSGX_BEGIN_DECLS

/* Flags of struct sgx_enclave_add_pages.flags. */
enum sgx_page_flags {
	SGX_PAGE_MEASURE = 0x01,
};

#define SGX_MAGIC 0xA4

#define SGX_IOC_ENCLAVE_CREATE _IOW(SGX_MAGIC, 0x00, struct sgx_enclave_create)
#define SGX_IOC_ENCLAVE_ADD_PAGES _IOWR(SGX_MAGIC, 0x01, struct sgx_enclave_add_pages)
#define SGX_IOC_ENCLAVE_INIT _IOW(SGX_MAGIC, 0x02, struct sgx_enclave_init)
#define SGX_IOC_ENCLAVE_PROVISION _IOW(SGX_MAGIC, 0x03, struct sgx_enclave_provision)
#define SGX_IOC_VEPC_REMOVE_ALL _IO(SGX_MAGIC, 0x04)
#define SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS                                   \
	_IOWR(SGX_MAGIC, 0x05, struct sgx_enclave_restrict_permissions)
#define SGX_IOC_ENCLAVE_MODIFY_TYPES _IOWR(SGX_MAGIC, 0x06, struct sgx_enclave_modify_types)
#define SGX_IOC_ENCLAVE_REMOVE_PAGES _IOWR(SGX_MAGIC, 0x07, struct sgx_enclave_remove_pages)

/* Argument of SGX_IOC_ENCLAVE_CREATE: @src is the address of a SECS page. */
struct sgx_enclave_create {
	uint64_t src;
};

/*
 * Argument of SGX_IOC_ENCLAVE_ADD_PAGES. @count reports how many bytes were
 * processed, so a caller can resume after a partial failure.
 */
struct sgx_enclave_add_pages {
	uint64_t src;
	uint64_t offset;
	uint64_t length;
	uint64_t secinfo;
	uint64_t flags;
	uint64_t count;
};

/* Argument of SGX_IOC_ENCLAVE_INIT: @sigstruct is the address of a SIGSTRUCT. */
struct sgx_enclave_init {
	uint64_t sigstruct;
};

/* Argument of SGX_IOC_ENCLAVE_PROVISION: an open /dev/sgx_provision fd. */
struct sgx_enclave_provision {
	uint64_t fd;
};

struct sgx_enclave_restrict_permissions {
	uint64_t offset;
	uint64_t length;
	uint64_t permissions;
	uint64_t result;
	uint64_t count;
};

struct sgx_enclave_modify_types {
	uint64_t offset;
	uint64_t length;
	uint64_t page_type;
	uint64_t result;
	uint64_t count;
};

struct sgx_enclave_remove_pages {
	uint64_t offset;
	uint64_t length;
	uint64_t count;
};

struct sgx_enclave_run;

/*
 * Called by __vdso_sgx_enter_enclave() after an EEXIT or an exception (AEX);
 * a return value of zero or less is returned to the caller of the vDSO, a
 * positive value must be EENTER or ERESUME and re-enters the enclave.
 */
typedef int (*sgx_enclave_user_handler_t)(long rdi, long rsi, long rdx, long rsp,
					  long r8, long r9,
					  struct sgx_enclave_run *run);

/* The control block of __vdso_sgx_enter_enclave(). */
struct sgx_enclave_run {
	uint64_t tcs;
	uint32_t function;
	uint16_t exception_vector;
	uint16_t exception_error_code;
	uint64_t exception_addr;
	uint64_t user_handler;
	uint64_t user_data;
	uint8_t reserved[216];
};

/* The type of __vdso_sgx_enter_enclave(). */
typedef int (*vdso_sgx_enter_enclave_t)(unsigned long rdi, unsigned long rsi,
					unsigned long rdx, unsigned int function,
					unsigned long r8, unsigned long r9,
					struct sgx_enclave_run *run);

SOFTSGX_STATIC_ASSERT(sizeof(struct sgx_enclave_create) == 8, "sgx_enclave_create");
SOFTSGX_STATIC_ASSERT(sizeof(struct sgx_enclave_add_pages) == 48, "sgx_enclave_add_pages");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_add_pages, offset) == 8, "add_pages.offset");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_add_pages, length) == 16, "add_pages.length");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_add_pages, secinfo) == 24, "add_pages.secinfo");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_add_pages, flags) == 32, "add_pages.flags");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_add_pages, count) == 40, "add_pages.count");
SOFTSGX_STATIC_ASSERT(sizeof(struct sgx_enclave_init) == 8, "sgx_enclave_init");
SOFTSGX_STATIC_ASSERT(sizeof(struct sgx_enclave_provision) == 8, "sgx_enclave_provision");
SOFTSGX_STATIC_ASSERT(sizeof(struct sgx_enclave_restrict_permissions) == 40, "restrict_permissions");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_restrict_permissions, permissions) == 16,
		      "restrict_permissions.permissions");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_restrict_permissions, result) == 24,
		      "restrict_permissions.result");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_restrict_permissions, count) == 32,
		      "restrict_permissions.count");
SOFTSGX_STATIC_ASSERT(sizeof(struct sgx_enclave_modify_types) == 40, "modify_types");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_modify_types, page_type) == 16, "modify_types.page_type");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_modify_types, result) == 24, "modify_types.result");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_modify_types, count) == 32, "modify_types.count");
SOFTSGX_STATIC_ASSERT(sizeof(struct sgx_enclave_remove_pages) == 24, "remove_pages");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_remove_pages, count) == 16, "remove_pages.count");
SOFTSGX_STATIC_ASSERT(sizeof(struct sgx_enclave_run) == 256, "sgx_enclave_run");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_run, function) == 8, "run.function");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_run, exception_vector) == 12, "run.exception_vector");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_run, exception_error_code) == 14,
		      "run.exception_error_code");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_run, exception_addr) == 16, "run.exception_addr");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_run, user_handler) == 24, "run.user_handler");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_run, user_data) == 32, "run.user_data");
SOFTSGX_STATIC_ASSERT(offsetof(struct sgx_enclave_run, reserved) == 40, "run.reserved");

SOFTSGX_END_DECLS

#endif /* SOFTSGX_SGX_UAPI_H */
