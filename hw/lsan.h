/* SPDX-License-Identifier: MIT */
/*
 * Memory the leak checker must search for pointers. The kernel model's
 * tables of page-descriptor chunk pointers (kernel/epc.c) are anonymous
 * mappings, not heap blocks (a calloc() of a size freed before may clear it
 * all, and a 1 TiB EPC's table is 4 MiB); LeakSanitizer searches the heap, stacks and
 * globals but no mapping it is not told about, so without this every chunk
 * would be reported leaked while the table still points at it. Nothing in
 * a build without AddressSanitizer.
 */
#ifndef SOFTSGX_HW_LSAN_H
#define SOFTSGX_HW_LSAN_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define SOFTSGX_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOFTSGX_LSAN 1
#endif
#endif

#ifdef SOFTSGX_LSAN
#include <sanitizer/lsan_interface.h>

static inline void sgx_lsan_root_add(const void *p, size_t size)
{
	__lsan_register_root_region(p, size);
}

static inline void sgx_lsan_root_del(const void *p, size_t size)
{
	__lsan_unregister_root_region(p, size);
}
#else
static inline void sgx_lsan_root_add(const void *p, size_t size)
{
	(void)p, (void)size;
}

static inline void sgx_lsan_root_del(const void *p, size_t size)
{
	(void)p, (void)size;
}
#endif

#endif /* SOFTSGX_HW_LSAN_H */
