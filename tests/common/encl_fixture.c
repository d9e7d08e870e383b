// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "kernel/encl.h"
#include "tests/common/encl_fixture.h"
#include "tests/common/leak_guard.h"
#include "hw/measure.h"
#include "tools/lib/sigstruct_sign.h"
#include "softsgx/sgx_uapi.h"
#include "tests/common/test_keys.h"

#define EK_ATTRIBUTES (SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT)

struct softsgx_platform *ek_platform(unsigned int nr_sections, uint64_t pages)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;

	softsgx_default_config(&cfg);
	cfg.nr_sections = nr_sections;
	for (unsigned int i = 0; i < nr_sections; i++)
		cfg.section_size[i] = pages * SGX_PAGE_SIZE;
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	return p;
}

uint8_t ek_pattern(uint64_t i)
{
	return (uint8_t)(0x5A ^ (i * 37));
}

void ek_secs(struct sgx_secs *secs, uint64_t base, uint64_t size)
{
	memset(secs, 0, sizeof(*secs));
	secs->base = base;
	secs->size = size;
	secs->ssa_frame_size = 1;
	secs->attributes = EK_ATTRIBUTES;
	secs->xfrm = 0x3;
}

uint64_t ek_free_base(uint64_t size)
{
	uint8_t *p = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	uint64_t base;

	assert_true(p != MAP_FAILED);
	base = ((uintptr_t)p + size - 1) & ~(size - 1);
	/*
	 * Keep [base, base + size) reserved: freeing it would let another
	 * thread's mmap (ksgxd's malloc, ASan) land there before the enclave's
	 * MAP_FIXED mapping replaces the reservation.
	 */
	if (base > (uintptr_t)p)
		munmap(p, base - (uintptr_t)p);
	if ((uintptr_t)p + 2 * size > base + size)
		munmap((void *)(uintptr_t)(base + size), (uintptr_t)p + 2 * size - base - size);
	return base;
}

static void tcs_page(uint8_t *page)
{
	struct sgx_tcs *tcs = (struct sgx_tcs *)page;

	memset(page, 0, SGX_PAGE_SIZE);
	tcs->ssa_offset = SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = SGX_PAGE_SIZE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
}

static long add_pages(struct softsgx_platform *p, struct ek_enclave *e, void *src,
		      uint64_t offset, uint64_t len, uint64_t flags, struct sgx_measurement *m)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = { .flags = flags };
	struct sgx_enclave_add_pages add = {
		.src = (uintptr_t)src,
		.offset = offset,
		.length = len,
		.secinfo = (uintptr_t)&secinfo,
		.flags = SGX_PAGE_MEASURE,
	};
	long ret = softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add);

	assert_int_equal(ret, 0);
	assert_int_equal(add.count, len);
	for (uint64_t o = 0; o < len; o += SGX_PAGE_SIZE) {
		sgx_measure_eadd(m, offset + o, &secinfo);
		for (unsigned int c = 0; c < SGX_PAGE_SIZE; c += 256)
			sgx_measure_eextend(m, offset + o + c, (uint8_t *)src + o + c);
	}
	return ret;
}

void ek_create_and_add(struct softsgx_platform *p, struct ek_enclave *e, uint64_t nr_reg)
{
	struct sgx_secs *secs = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	uint8_t *buf = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	struct sgx_enclave_create create;
	struct sgx_measurement m;
	uint64_t size = 2 * SGX_PAGE_SIZE;

	assert_non_null(secs);
	assert_non_null(buf);
	while (size < (nr_reg + 1) * SGX_PAGE_SIZE)
		size *= 2;
	memset(e, 0, offsetof(struct ek_enclave, sigstruct));
	e->size = size;
	e->base = ek_free_base(size);
	e->nr_pages = nr_reg + 1;
	e->fd = softsgx_open(p, "/dev/sgx_enclave", 0);
	assert_true(e->fd >= 0);

	ek_secs(secs, e->base, e->size);
	create.src = (uintptr_t)secs;
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_CREATE, &create), 0);
	sgx_measure_ecreate(&m, secs->ssa_frame_size, secs->size);

	tcs_page(buf);
	add_pages(p, e, buf, 0, SGX_PAGE_SIZE, SGX_SECINFO_TCS, &m);
	for (uint64_t i = 1; i <= nr_reg; i++) {
		memset(buf, ek_pattern(i), SGX_PAGE_SIZE);
		memcpy(buf, &i, sizeof(i));
		add_pages(p, e, buf, i * SGX_PAGE_SIZE, SGX_PAGE_SIZE,
			  SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, &m);
	}
	sgx_measure_final(&m, e->mrenclave);
	free(buf);
	free(secs);
}

void ek_sign(struct ek_enclave *e)
{
	struct sgx_sign_enclave desc = {
		.attributes = EK_ATTRIBUTES,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 0x3,
		.xfrm_mask = 0x3,
		.date = 0x20261122,
	};

	EVP_PKEY *key = test_key();

	memcpy(desc.mrenclave, e->mrenclave, sizeof(desc.mrenclave));
	assert_int_equal(sgx_sign_sigstruct(&desc, key, &e->sigstruct), 0);
	EVP_PKEY_free(key);
}

void ek_build(struct softsgx_platform *p, struct ek_enclave *e, uint64_t nr_reg)
{
	struct sgx_enclave_init init;
	void *addr;

	ek_create_and_add(p, e, nr_reg);
	ek_sign(e);
	init.sigstruct = (uintptr_t)&e->sigstruct;
	assert_int_equal(softsgx_ioctl(p, e->fd, SGX_IOC_ENCLAVE_INIT, &init), 0);
	addr = (void *)(uintptr_t)e->base;
	assert_int_equal(softsgx_mmap(p, &addr, e->size, PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_FIXED, e->fd, 0),
			 0);
	assert_ptr_equal(addr, (void *)(uintptr_t)e->base);
}

static struct softsgx_platform *fault_platform;
static struct sigaction old_segv;
/* Volatile: its stores around the access that may fault must not be merged. */
static __thread sigjmp_buf *volatile try_env;

static void on_segv(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	/* x86 page-fault error code: bit 1 = write, bit 4 = instruction fetch. */
	long err = uc->uc_mcontext.gregs[REG_ERR];
	int access = (err & 0x10) ? PROT_EXEC : (err & 0x2) ? PROT_WRITE : PROT_READ;

	switch (softsgx_handle_fault(fault_platform, si->si_addr, access)) {
	case SOFTSGX_FAULT_RETRY:
		return;
	case SOFTSGX_FAULT_SIGBUS:
		if (try_env)
			siglongjmp(*try_env, 1);
		break;
	default:
		break;
	}
	sigaction(sig, &old_segv, NULL);
}

void ek_fault_handler_install(struct softsgx_platform *p)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER };

	fault_platform = p;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, &old_segv), 0);
}

void ek_fault_handler_remove(void)
{
	if (!fault_platform)
		return;
	sigaction(SIGSEGV, &old_segv, NULL);
	fault_platform = NULL;
}

bool ek_try(void (*fn)(void *arg), void *arg)
{
	sigjmp_buf env;
	volatile bool ok = false;

	if (!sigsetjmp(env, 1)) {
		try_env = &env;
		fn(arg);
		ok = true;
	}
	try_env = NULL;
	return ok;
}

void ek_assert_invariant(struct softsgx_platform *p)
{
	struct softsgx_stats st;

	/* A snapshot of the counters (sgx_epc_usage() waits out a page between two). */
	softsgx_get_stats(p, &st);
	assert_int_equal(st.free_pages + st.in_use_pages + st.leaked_pages + st.zombie_pages,
			 st.total_pages);
}

static void *reclaimer_main(void *arg)
{
	struct ek_reclaimer *r = arg;

	while (!atomic_load(&r->stop))
		softsgx_reclaim(r->p);
	return NULL;
}

void ek_reclaimer_start(struct ek_reclaimer *r, struct softsgx_platform *p)
{
	r->p = p;
	atomic_store(&r->stop, false);
	assert_int_equal(pthread_create(&r->thread, NULL, reclaimer_main, r), 0);
}

void ek_reclaimer_stop(struct ek_reclaimer *r)
{
	atomic_store(&r->stop, true);
	assert_int_equal(pthread_join(r->thread, NULL), 0);
}

void ek_secs_of(struct softsgx_platform *p, int fd, struct sgx_secs *out)
{
	struct sgx_file *f = softsgx_fget(p, fd);
	struct sgx_encl *encl;

	assert_non_null(f);
	encl = sgx_file_encl(f);
	assert_non_null(encl->secs.epc_page);
	memcpy(out, sgx_get_epc_virt_addr(softsgx_kernel(p), encl->secs.epc_page), sizeof(*out));
	sgx_file_put(f);
}
