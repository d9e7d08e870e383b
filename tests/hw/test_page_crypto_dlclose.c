// SPDX-License-Identifier: MIT
/*
 * hw/page_crypto.c frees a thread's cipher contexts through a pthread key
 * destructor. A program may dlopen() libsoftsgx.so, page on a thread, and
 * dlclose() it while that thread lives on: the thread's exit must then not
 * call a destructor that went with the library (it crashed before
 * tls_key_fini()).
 *
 * Environment (the Makefile's check target): SOFTSGX_SO, the shared library;
 * skipped without it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/softsgx.h"
#include "tests/common/leak_guard.h"

#define NR_PAGES  32ULL
#define ENCL_SIZE (NR_PAGES * SGX_PAGE_SIZE)

static struct {
	void *lib;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stage; /* 1: the worker has paged; 2: the library is closed */
	char error[128];
} t = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void set_stage(int stage)
{
	pthread_mutex_lock(&t.lock);
	t.stage = stage;
	pthread_cond_broadcast(&t.cond);
	pthread_mutex_unlock(&t.lock);
}

static void wait_stage(int stage)
{
	pthread_mutex_lock(&t.lock);
	while (t.stage < stage)
		pthread_cond_wait(&t.cond, &t.lock);
	pthread_mutex_unlock(&t.lock);
}

#define SYM(name) __typeof__(name) *p_##name = (__typeof__(name) *)dlsym(t.lib, #name)

/* An enclave of NR_PAGES pages, every page evicted: EWB seals on this thread. */
static void page_out(void)
{
	SYM(softsgx_default_config);
	SYM(softsgx_platform_new);
	SYM(softsgx_platform_free);
	SYM(softsgx_open);
	SYM(softsgx_close);
	SYM(softsgx_ioctl);
	SYM(softsgx_reclaim);
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {
		.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
	};
	struct sgx_secs *secs = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	uint8_t *src = aligned_alloc(SGX_PAGE_SIZE, ENCL_SIZE);
	struct softsgx_platform *pf = NULL;
	struct sgx_enclave_create create;
	struct sgx_enclave_add_pages add;
	struct softsgx_config cfg;
	unsigned int evicted = 0;
	void *p;
	int fd = -1;

	if (!p_softsgx_default_config || !p_softsgx_platform_new || !p_softsgx_platform_free ||
	    !p_softsgx_open || !p_softsgx_close || !p_softsgx_ioctl || !p_softsgx_reclaim ||
	    !secs || !src) {
		snprintf(t.error, sizeof(t.error), "set-up: %s", dlerror());
		goto out;
	}
	p_softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 2 * ENCL_SIZE;
	cfg.no_ksgxd = true;
	pf = p_softsgx_platform_new(&cfg);
	/* An ELRANGE aligned to its size, free right now. */
	p = mmap(NULL, 2 * ENCL_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		 0);
	if (!pf || p == MAP_FAILED) {
		snprintf(t.error, sizeof(t.error), "platform or address space");
		goto out;
	}
	munmap(p, 2 * ENCL_SIZE);
	memset(secs, 0, SGX_PAGE_SIZE);
	secs->base = ((uintptr_t)p + ENCL_SIZE - 1) & ~(ENCL_SIZE - 1);
	secs->size = ENCL_SIZE;
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	secs->xfrm = 0x3;
	memset(src, 0x5A, ENCL_SIZE);
	fd = p_softsgx_open(pf, "/dev/sgx_enclave", 0);
	create.src = (uintptr_t)secs;
	add = (struct sgx_enclave_add_pages){
		.src = (uintptr_t)src,
		.length = ENCL_SIZE,
		.secinfo = (uintptr_t)&secinfo,
	};
	if (fd < 0 || p_softsgx_ioctl(pf, fd, SGX_IOC_ENCLAVE_CREATE, &create) ||
	    p_softsgx_ioctl(pf, fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add)) {
		snprintf(t.error, sizeof(t.error), "enclave build");
		goto out;
	}
	/* Two passes per page: the first only takes its young bit. */
	for (int i = 0; i < 8 && evicted < NR_PAGES; i++)
		evicted += p_softsgx_reclaim(pf);
	if (evicted < NR_PAGES)
		snprintf(t.error, sizeof(t.error), "only %u pages evicted", evicted);
out:
	if (fd >= 0)
		p_softsgx_close(pf, fd);
	if (pf)
		p_softsgx_platform_free(pf);
	free(secs);
	free(src);
}

static void *worker(void *arg)
{
	(void)arg;
#ifdef __SANITIZE_ADDRESS__
	/*
	 * What the library holds for this thread (its cipher contexts, the
	 * free list of its shared-memory arena) is lost by design when the
	 * library goes first: not a leak this test is about.
	 */
	__lsan_disable();
#endif
	page_out();
#ifdef __SANITIZE_ADDRESS__
	__lsan_enable();
#endif
	set_stage(1);
	/* Exits only once the library is gone, with its contexts still registered. */
	wait_stage(2);
	return NULL;
}

static void test_thread_outlives_library(void **state)
{
	const char *so = getenv("SOFTSGX_SO");
	pthread_t tid;

	(void)state;
	if (!so) {
		print_message("skipped: SOFTSGX_SO is not set (make check sets it)\n");
		skip();
	}
	t.lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!t.lib)
		fail_msg("dlopen %s: %s", so, dlerror());
	assert_int_equal(pthread_create(&tid, NULL, worker, NULL), 0);
	wait_stage(1);
	assert_int_equal(dlclose(t.lib), 0);
	set_stage(2);
	assert_int_equal(pthread_join(tid, NULL), 0);
	if (t.error[0])
		fail_msg("%s", t.error);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_thread_outlives_library),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
