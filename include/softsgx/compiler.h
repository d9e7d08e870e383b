/* SPDX-License-Identifier: MIT */
/*
 * What the public headers need to compile alone as C11 and as C++11 or
 * later: C linkage for their declarations, and static assertions spelled the
 * way each language spells them (C++ has no _Static_assert keyword, C11 has
 * no static_assert keyword without <assert.h>).
 */
#ifndef SOFTSGX_COMPILER_H
#define SOFTSGX_COMPILER_H

#ifdef __cplusplus
#define SOFTSGX_BEGIN_DECLS extern "C" {
#define SOFTSGX_END_DECLS }
#define SOFTSGX_STATIC_ASSERT(expr, msg) static_assert(expr, msg)
#else
#define SOFTSGX_BEGIN_DECLS
#define SOFTSGX_END_DECLS
#define SOFTSGX_STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)
#endif

#endif /* SOFTSGX_COMPILER_H */
