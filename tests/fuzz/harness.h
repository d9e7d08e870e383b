/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the libFuzzer harnesses (tests/fuzz/fuzz_*.c): a cursor
 * that turns the fuzzer's bytes into operations and operands, and the checks
 * every harness makes after every step. A failed check prints what broke and
 * abort()s, so that libFuzzer (or the corpus replay of `make check`) reports
 * the input.
 */
#ifndef SOFTSGX_FUZZ_HARNESS_H
#define SOFTSGX_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "softsgx/softsgx.h"

/* The entry point libFuzzer calls; replay.c calls it for each corpus file. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input, consumed front to back; reads past the end give zeros. */
struct fz {
	const uint8_t *data;
	size_t size, pos;
};

static inline void fz_init(struct fz *f, const uint8_t *data, size_t size)
{
	f->data = data;
	f->size = size;
	f->pos = 0;
}

static inline bool fz_done(const struct fz *f)
{
	return f->pos >= f->size;
}

void fz_bytes(struct fz *f, void *out, size_t n);
uint8_t fz_u8(struct fz *f);
uint16_t fz_u16(struct fz *f);
uint32_t fz_u32(struct fz *f);
uint64_t fz_u64(struct fz *f);

/* Print the failed check and abort(). */
void fz_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
#define FZ_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fz_fail(__FILE__, __LINE__, __VA_ARGS__);                                  \
	} while (0)

/* With FUZZ_TRACE set in the environment: print what each step did (writing seeds). */
extern int fz_tracing;
void fz_trace_init(void);
#define FZ_TRACE(...)                                                                              \
	do {                                                                                       \
		if (fz_tracing > 0)                                                                \
			fprintf(stderr, __VA_ARGS__);                                              \
	} while (0)

/*
 * The enclave signing key: $SOFTSGX_TEST_KEY when set (make passes the test
 * key), else a fresh RSA-3072 key with e = 3. Made once per process.
 */
struct evp_pkey_st;
struct evp_pkey_st *fz_signer(void);

/*
 * @size bytes of PROT_NONE address space aligned to @size (a power of two),
 * so every power-of-two ELRANGE inside it is naturally aligned.
 */
uint8_t *fz_arena_new(size_t size);

/* free + in use + leaked + zombie == total EPC pages, and nothing leaked. */
void fz_check_invariant(struct softsgx_platform *p, const char *after);

/*
 * @ret is a success (>= 0) or one of the negative errnos listed after @what
 * (the call, for the message), terminated by 0: the errnos docs/errno.md
 * documents for that call.
 */
void fz_check_errno_list(long ret, const char *what, ...);
#define fz_check_errno(ret, what, ...) fz_check_errno_list((ret), (what), __VA_ARGS__, 0)

#endif /* SOFTSGX_FUZZ_HARNESS_H */
