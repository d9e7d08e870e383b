/* SPDX-License-Identifier: MIT */
/*
 * Client processes of the platform service in tests (tests/service/): the
 * SIGSEGV handler that sends faults on SGX mappings to svc_remote_fault()
 * (as the shim will), reads that survive SIGBUS, and the fixture enclave
 * built, signed, initialized and mapped through the service, with the
 * page patterns the tests write and check.
 */
#ifndef SOFTSGX_TESTS_REMOTE_FIXTURE_H
#define SOFTSGX_TESTS_REMOTE_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "tests/common/encl_fixture.h"
#include "hw/measure.h"
#include "service/proto.h"
#include "service/remote.h"
#include "softsgx/sgx_uapi.h"

#define PAGE 4096ul

/* ---- faults ---- */

/*
 * Volatile: the store before the access that may fault and the one after
 * it would otherwise be merged (nothing in between reads it but the signal
 * handler), and the handler would jump through a stale pointer.
 */
static __thread sigjmp_buf *volatile try_env __attribute__((unused));

static inline void on_segv(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	/* x86 page-fault error code: bit 1 = write, bit 4 = instruction fetch. */
	long err = uc->uc_mcontext.gregs[REG_ERR];
	int access = (err & 0x10) ? PROT_EXEC : (err & 0x2) ? PROT_WRITE : PROT_READ;

	switch (svc_remote_fault(si->si_addr, access)) {
	case SVC_FAULT_RETRY:
		return;
	case SVC_FAULT_SIGBUS:
		if (try_env)
			siglongjmp(*try_env, 1);
		break;
	default:
		break;
	}
	/* Not an access the service resolves: crash on the retry, with a core. */
	signal(sig, SIG_DFL);
}

static inline void handler_install(void)
{
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
}

static inline void handler_remove(void)
{
	signal(SIGSEGV, SIG_DFL);
}

/* Read the u64 at @p; false when the fault path answered SIGBUS. */
static inline bool try_read(volatile uint64_t *p, uint64_t *out)
{
	sigjmp_buf env;
	volatile bool ok = false;

	if (!sigsetjmp(env, 1)) {
		try_env = &env;
		*out = *p;
		ok = true;
	}
	try_env = NULL;
	return ok;
}

/* Write @v at @p; false when the fault path answered SIGBUS. */
static inline bool try_write(volatile uint64_t *p, uint64_t v)
{
	sigjmp_buf env;
	volatile bool ok = false;

	if (!sigsetjmp(env, 1)) {
		try_env = &env;
		*p = v;
		ok = true;
	}
	try_env = NULL;
	return ok;
}

/* ---- an enclave built through the service ---- */

/* A failed check in a forked client: its exit status says which line. */
#define CHILD_CHECK(x)                                                                             \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "client %d: check failed at line %d: %s\n", (int)getpid(), \
				__LINE__, #x);                                                     \
			_exit(2);                                                                  \
		}                                                                                  \
	} while (0)

static inline void tcs_page(uint8_t *page)
{
	struct sgx_tcs *tcs = (struct sgx_tcs *)page;

	memset(page, 0, PAGE);
	tcs->ssa_offset = PAGE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = PAGE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
}

static inline long add(int h, void *src, uint64_t offset, uint64_t len, uint64_t flags,
		struct sgx_measurement *m)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = flags};
	struct sgx_enclave_add_pages a = {
		.src = (uintptr_t)src,
		.offset = offset,
		.length = len,
		.secinfo = (uintptr_t)&secinfo,
		.flags = SGX_PAGE_MEASURE,
	};
	long ret = svc_remote_ioctl(h, SGX_IOC_ENCLAVE_ADD_PAGES, &a);

	if (ret)
		return ret;
	if (a.count != len)
		return -ERANGE;
	for (uint64_t o = 0; o < len; o += PAGE) {
		sgx_measure_eadd(m, offset + o, &secinfo);
		for (unsigned int c = 0; c < PAGE; c += 256)
			sgx_measure_eextend(m, offset + o + c, (uint8_t *)src + o + c);
	}
	return 0;
}

/*
 * The fixture enclave (a TCS and @nr_reg RW pages, page i starting with i
 * and filled with ek_pattern(i)) through the service: CREATE, ADD_PAGES of
 * all regular pages in one call (the library batches it), INIT with a
 * SIGSTRUCT of the test key, mmap of the ELRANGE. 0 or the failing step's
 * -errno; in a forked client too (no cmocka assertion on the way but the
 * signing).
 */
static inline long remote_build(struct ek_enclave *e, uint64_t nr_reg)
{
	struct sgx_secs *secs = aligned_alloc(PAGE, PAGE);
	uint8_t *buf = aligned_alloc(PAGE, nr_reg * PAGE);
	struct sgx_enclave_create create;
	struct sgx_enclave_init init;
	struct sgx_measurement m;
	uint64_t size = 2 * PAGE;
	void *addr;
	long ret;

	if (!secs || !buf)
		return -ENOMEM;
	while (size < (nr_reg + 1) * PAGE)
		size *= 2;
	memset(e, 0, offsetof(struct ek_enclave, sigstruct));
	e->size = size;
	e->base = ek_free_base(size);
	e->nr_pages = nr_reg + 1;
	e->fd = svc_remote_open(SVC_OPEN_ENCLAVE);
	ret = e->fd < 0 ? e->fd : 0;
	if (ret)
		goto out;
	ek_secs(secs, e->base, e->size);
	create.src = (uintptr_t)secs;
	ret = svc_remote_ioctl(e->fd, SGX_IOC_ENCLAVE_CREATE, &create);
	if (ret)
		goto out;
	sgx_measure_ecreate(&m, secs->ssa_frame_size, secs->size);
	tcs_page(buf);
	ret = add(e->fd, buf, 0, PAGE, SGX_SECINFO_TCS, &m);
	if (ret)
		goto out;
	for (uint64_t i = 1; i <= nr_reg; i++) {
		uint8_t *p = buf + (i - 1) * PAGE;

		memset(p, ek_pattern(i), PAGE);
		memcpy(p, &i, sizeof(i));
	}
	ret = add(e->fd, buf, PAGE, nr_reg * PAGE, SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
		  &m);
	if (ret)
		goto out;
	sgx_measure_final(&m, e->mrenclave);
	ek_sign(e);
	init.sigstruct = (uintptr_t)&e->sigstruct;
	ret = svc_remote_ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init);
	if (ret)
		goto out;
	addr = (void *)(uintptr_t)e->base;
	ret = svc_remote_mmap(&addr, e->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e->fd,
			      0);
	if (!ret && addr != (void *)(uintptr_t)e->base)
		ret = -EADDRNOTAVAIL;
out:
	free(buf);
	free(secs);
	return ret;
}

static inline volatile uint64_t *page_at(const struct ek_enclave *e, uint64_t i)
{
	return (volatile uint64_t *)(uintptr_t)(e->base + i * PAGE);
}

/* Every regular page still holds what the build put there; 0 or the first page that does not. */
static inline uint64_t check_built(const struct ek_enclave *e)
{
	for (uint64_t i = 1; i < e->nr_pages; i++) {
		volatile uint8_t *b = (volatile uint8_t *)page_at(e, i);

		if (page_at(e, i)[0] != i || b[PAGE - 1] != ek_pattern(i))
			return i;
	}
	return 0;
}

/* Round @r: write a word per page, then read them all back; 0 or the first page wrong. */
static inline uint64_t pattern_round(const struct ek_enclave *e, uint64_t tag, uint64_t r)
{
	for (uint64_t i = 1; i < e->nr_pages; i++)
		page_at(e, i)[1] = tag ^ (r << 32) ^ i;
	for (uint64_t i = 1; i < e->nr_pages; i++)
		if (page_at(e, i)[1] != (tag ^ (r << 32) ^ i) || page_at(e, i)[0] != i)
			return i;
	return 0;
}

/* Round @r's words are still there (nothing written); 0 or the first page wrong. */
static inline uint64_t verify_round(const struct ek_enclave *e, uint64_t tag, uint64_t r)
{
	for (uint64_t i = 1; i < e->nr_pages; i++)
		if (page_at(e, i)[1] != (tag ^ (r << 32) ^ i) || page_at(e, i)[0] != i)
			return i;
	return 0;
}

#endif /* SOFTSGX_TESTS_REMOTE_FIXTURE_H */
