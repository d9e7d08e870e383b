// SPDX-License-Identifier: MIT
/*
 * Several address spaces racing the reclaimer: two mms map one enclave
 * larger than the EPC, a worker per mm writes and reads its own pages
 * through its mm while ksgxd and a reclaiming thread evict them, and a third
 * thread forks the first mm over and over, reads through the child and lets
 * it exit. Every mm is realized in this process at its own offset (a
 * "shadow"), and a SIGSEGV handler sends faults there to the owning mm's
 * fault path, as a client would send them to a service. Every value written
 * must read back; nothing may leak. `make check` also runs this test under
 * ThreadSanitizer (build/tsan/).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/api_internal.h"
#include "kernel/driver.h"
#include "tests/common/encl_fixture.h"
#include "kernel/mm.h"
#include "softsgx/sgx_uapi.h"
#include "tests/common/leak_guard.h"

#define PAGE	       SGX_PAGE_SIZE
#define EPC_PAGES      96
#define PAGES_PER_MM   64 /* two workers: the enclave is larger than the EPC */
#define NR_REG	       (2 * PAGES_PER_MM)
#define RUN_SECONDS    1.0
#define NR_SHADOWS     3 /* A, B, and the forked child */
#define MARK_OFF       2048

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* An mm's address space, realized at mm address + delta in this process. */
struct shadow {
	_Atomic(struct sgx_mm *) mm;
	int64_t delta;
};

static struct sgx_kernel *kern;
static uint64_t encl_base, encl_size;
static struct shadow shadows[NR_SHADOWS];

static uint64_t real(const struct shadow *s, uint64_t addr)
{
	return addr + (uint64_t)s->delta;
}

static int sh_reserve(struct sgx_mm *mm, uint64_t *addr, uint64_t len, bool fixed)
{
	struct shadow *s = mm->ops_data;
	uint64_t a = real(s, *addr);

	assert_true(fixed);
	return sgx_mm_reserve(&a, len, true);
}

static int sh_install(struct sgx_mm *mm, struct sgx_kernel *k, const struct sgx_epc_page *page,
		      uint64_t addr, int prot, int walk_prot)
{
	(void)walk_prot;
	return sgx_epc_page_map(k, page, real(mm->ops_data, addr), prot);
}

static int sh_zap(struct sgx_mm *mm, const uint64_t *addrs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (sgx_pte_zap(real(mm->ops_data, addrs[i])))
			return -errno;
	return 0;
}

static int sh_unmap(struct sgx_mm *mm, uint64_t addr, uint64_t len)
{
	uint64_t a = real(mm->ops_data, addr);

	/* Keep the shadow reserved for the next mm that uses it. */
	return sgx_mm_reserve(&a, len, true);
}

static const struct sgx_mm_ops shadow_ops = {
	.reserve = sh_reserve,
	.install = sh_install,
	.zap = sh_zap,
	.unmap = sh_unmap,
};

static struct sigaction old_segv;

/* The client side of a fault: whose address space, and ask that mm's fault path. */
static void on_segv(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	long err = uc->uc_mcontext.gregs[REG_ERR];
	int access = (err & 0x2) ? PROT_WRITE : PROT_READ;
	uint64_t addr = (uintptr_t)si->si_addr;

	for (int i = 0; i < NR_SHADOWS; i++) {
		struct sgx_mm *mm = atomic_load(&shadows[i].mm);
		uint64_t start = real(&shadows[i], encl_base);

		if (!mm || addr < start || addr >= start + encl_size)
			continue;
		if (sgx_handle_fault_mm(kern, mm, addr - (uint64_t)shadows[i].delta, access) ==
		    SGX_FAULT_RETRY)
			return;
		break;
	}
	sigaction(sig, &old_segv, NULL);
}

struct run {
	struct softsgx_platform *p;
	struct sgx_file *f;
	double deadline;
	atomic_bool stop;
	atomic_uint errors;
	atomic_uint forks;
};

struct worker {
	struct run *run;
	unsigned int id; /* its shadow, and its half of the enclave */
	uint64_t passes;
	pthread_t thread;
};

static uint64_t mark(unsigned int id, uint64_t page, uint64_t pass)
{
	return (uint64_t)(id + 1) << 56 ^ page << 32 ^ pass;
}

static volatile uint64_t *at(const struct shadow *s, uint64_t page, uint64_t off)
{
	return (volatile uint64_t *)(uintptr_t)real(s, encl_base + page * PAGE + off);
}

/* Each pass checks what the last one wrote through this mm, then writes the next. */
static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	struct shadow *s = &shadows[w->id];
	uint64_t first = 1 + (uint64_t)w->id * PAGES_PER_MM;

	/* At least one pass, however late the thread starts. */
	for (w->passes = 0; !w->passes || (!atomic_load(&r->stop) && now() < r->deadline);
	     w->passes++) {
		for (uint64_t i = first; i < first + PAGES_PER_MM; i++) {
			uint64_t expect;

			if (w->passes)
				expect = mark(w->id, i, w->passes);
			else
				memset(&expect, ek_pattern(i), sizeof(expect));
			if (*at(s, i, 0) != i || *at(s, i, MARK_OFF) != expect)
				atomic_fetch_add(&r->errors, 1);
			*at(s, i, MARK_OFF) = mark(w->id, i, w->passes + 1);
		}
	}
	return NULL;
}

static void *reclaim_fn(void *arg)
{
	struct run *r = arg;

	while (!atomic_load(&r->stop))
		sgx_reclaim_pages(kern);
	return NULL;
}

/* fork() of A, a look through the child at pages A's worker does not write, exit. */
static void *fork_fn(void *arg)
{
	struct run *r = arg;
	struct sgx_mm *a = atomic_load(&shadows[0].mm);
	struct shadow *s = &shadows[2];

	do {
		int err = 0;
		struct sgx_mm *child = sgx_mm_fork(a, &shadow_ops, s, &err);

		if (!child) {
			atomic_fetch_add(&r->errors, 1);
			break;
		}
		atomic_store(&s->mm, child);
		for (uint64_t i = 1; i <= NR_REG; i += 5)
			if (*at(s, i, 0) != i)
				atomic_fetch_add(&r->errors, 1);
		atomic_store(&s->mm, NULL);
		sgx_mm_exit(child);
		sgx_mm_put(child);
		atomic_fetch_add(&r->forks, 1);
	} while (!atomic_load(&r->stop) && now() < r->deadline);
	return NULL;
}

static struct sgx_mm *map_mm(struct run *r, unsigned int i)
{
	struct sgx_mm *mm = sgx_mm_create(&shadow_ops, &shadows[i]);
	uint64_t addr = encl_base;

	assert_non_null(mm);
	assert_int_equal(sgx_file_mmap_mm(r->f, mm, &addr, encl_size, PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_FIXED, 0),
			 0);
	atomic_store(&shadows[i].mm, mm);
	return mm;
}

static void test_mms_race_reclaim(void **state)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER };
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));
	struct sgx_enclave_init init;
	struct softsgx_config cfg;
	struct softsgx_stats st;
	struct worker w[2];
	struct sgx_mm *a, *b;
	pthread_t reclaimer, forker;
	struct run r = { 0 };
	double deadline;

	(void)state;
	assert_non_null(e);
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = EPC_PAGES * PAGE;
	r.p = lg_platform_new(&cfg);
	assert_non_null(r.p);
	kern = softsgx_kernel(r.p);
	ek_create_and_add(r.p, e, NR_REG);
	ek_sign(e);
	init.sigstruct = (uintptr_t)&e->sigstruct;
	assert_int_equal(softsgx_ioctl(r.p, e->fd, SGX_IOC_ENCLAVE_INIT, &init), 0);
	r.f = softsgx_fget(r.p, e->fd);
	assert_non_null(r.f);
	assert_int_equal(softsgx_close(r.p, e->fd), 0);
	encl_base = e->base;
	encl_size = e->size;
	for (int i = 0; i < NR_SHADOWS; i++)
		shadows[i].delta = (int64_t)(ek_free_base(encl_size) - encl_base);
	a = map_mm(&r, 0);
	b = map_mm(&r, 1);
	/* The mms hold the enclave now; A's descriptor too. */
	assert_int_equal(sgx_mm_fd_install(a, 3, r.f), 0);
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, &old_segv), 0);

	r.deadline = now() + RUN_SECONDS;
	assert_int_equal(pthread_create(&reclaimer, NULL, reclaim_fn, &r), 0);
	assert_int_equal(pthread_create(&forker, NULL, fork_fn, &r), 0);
	for (unsigned int i = 0; i < 2; i++) {
		w[i] = (struct worker){ .run = &r, .id = i };
		assert_int_equal(pthread_create(&w[i].thread, NULL, worker_fn, &w[i]), 0);
	}
	for (unsigned int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(w[i].thread, NULL), 0);
	assert_int_equal(pthread_join(forker, NULL), 0);
	atomic_store(&r.stop, true);
	assert_int_equal(pthread_join(reclaimer, NULL), 0);

	softsgx_get_stats(r.p, &st);
	print_message("passes %llu %llu, %u forks; %llu evictions, %llu reloads, %llu faults\n",
		      (unsigned long long)w[0].passes, (unsigned long long)w[1].passes,
		      atomic_load(&r.forks), (unsigned long long)st.evictions,
		      (unsigned long long)st.reloads, (unsigned long long)st.faults);
	assert_int_equal(atomic_load(&r.errors), 0);
	assert_true(w[0].passes >= 1 && w[1].passes >= 1);
	assert_true(atomic_load(&r.forks) >= 1);
	assert_true(st.evictions > 0 && st.reloads > 0);
	assert_int_equal(st.lost_pages, 0);
	assert_int_equal(st.eremove_failures, 0);
	ek_assert_invariant(r.p);

	/* What A's worker wrote, read through B: one enclave behind both. */
	for (uint64_t i = 1; i <= PAGES_PER_MM; i++)
		assert_int_equal(*at(&shadows[1], i, MARK_OFF), mark(0, i, w[0].passes));

	atomic_store(&shadows[0].mm, NULL);
	sgx_mm_exit(a);
	sgx_mm_put(a);
	atomic_store(&shadows[1].mm, NULL);
	sgx_mm_exit(b);
	sgx_mm_put(b);
	sigaction(SIGSEGV, &old_segv, NULL);
	/* ksgxd may still hold the enclave for the rest of a batch. */
	deadline = now() + 10;
	while ((softsgx_get_stats(r.p, &st), st.free_pages != st.total_pages) && now() < deadline)
		usleep(1000);
	assert_int_equal(st.free_pages, st.total_pages);
	ek_assert_invariant(r.p);
	lg_platform_free(r.p);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_mms_race_reclaim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
