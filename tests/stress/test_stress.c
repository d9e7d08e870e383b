// SPDX-License-Identifier: MIT
/*
 * Stress through the embedding API, bounded in time and operations:
 *  - threads that build (CREATE, ADD, INIT), map, touch, evict, reload and
 *    close enclaves on a 96-page EPC while ksgxd and a reclaimer thread run;
 *    every page's data is checked after it came back from eviction;
 *  - SGX_IOC_VEPC_REMOVE_ALL racing faults, munmap and close of
 *    /dev/sgx_vepc instances;
 *  - fork() of a process with a live platform and a mapped enclave.
 * After each: free + in use + leaked + zombie == total, and every page free.
 *
 * `make check` runs the short version (SOFTSGX_STRESS unset: about a second
 * per test); `make check-stress` sets SOFTSGX_STRESS=long and runs it under
 * ASan and TSan.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/encl_fixture.h"
#include "softsgx/sgx_uapi.h"
#include "tests/common/leak_guard.h"

#define EPC_PAGES   96
#define NR_BUILDERS 4
#define ENCL_REG    24 /* 4 enclaves of 25 pages + VA + SECS oversubscribe 96 pages */
#define MARK_OFF    3000

static bool long_run(void)
{
	const char *v = getenv("SOFTSGX_STRESS");

	return v && !strcmp(v, "long");
}

/* Seconds and operation cap of one test. */
static double run_seconds(void)
{
	return long_run() ? 20.0 : 1.0;
}

static unsigned long max_ops(void)
{
	return long_run() ? 1000000 : 20000;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void wait_all_free(struct softsgx_platform *p)
{
	struct softsgx_stats st;
	double deadline = now() + 10;

	/* ksgxd may hold the last enclave for the rest of a batch. */
	while ((softsgx_get_stats(p, &st), st.free_pages != st.total_pages) && now() < deadline)
		usleep(1000);
	assert_int_equal(st.free_pages, st.total_pages);
	ek_assert_invariant(p);
}

/* ---- 1. enclave lifecycles under reclaim ---- */

struct life_run {
	struct softsgx_platform *p;
	struct ek_enclave *signed_e; /* SIGSTRUCT for every enclave of ENCL_REG pages */
	double deadline;
	atomic_bool stop;
	atomic_ulong ops, enclaves, errors, sigbus, transient_sigbus;
};

struct builder {
	struct life_run *r;
	unsigned int id;
	pthread_t thread;
};

struct access {
	volatile uint64_t *first, *mark;
	uint64_t expect_first, expect_mark, write;
	bool check, ok;
};

static void access_page(void *arg)
{
	struct access *a = arg;

	a->ok = *a->first == a->expect_first && (!a->check || *a->mark == a->expect_mark);
	*a->mark = a->write;
}

static uint64_t mark(unsigned int id, uint64_t round, uint64_t page, unsigned int pass)
{
	return (uint64_t)id << 56 ^ round << 20 ^ page << 4 ^ pass;
}

/* Write pass 0 marks, evict, read them back and write pass 1, evict, read again. */
static void use_enclave(struct life_run *r, struct ek_enclave *e, unsigned int id, uint64_t round)
{
	for (unsigned int pass = 0; pass < 3; pass++) {
		for (uint64_t i = 1; i <= ENCL_REG; i++) {
			uint8_t *page = (uint8_t *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE);
			struct access a = {
				.first = (volatile uint64_t *)page,
				.mark = (volatile uint64_t *)(page + MARK_OFF),
				.expect_first = i,
				.expect_mark = pass ? mark(id, round, i, pass - 1) : 0,
				.write = mark(id, round, i, pass),
				.check = pass > 0,
			};

			/*
			 * A reload allocates without reclaim: while the
			 * reclaimers' batches hold every reclaimable page,
			 * the LRU looks empty and the fault gets SIGBUS
			 * (-ENOMEM), as on Linux. It must pass on a retry.
			 */
			if (!ek_try(access_page, &a)) {
				atomic_fetch_add(&r->transient_sigbus, 1);
				if (!ek_try(access_page, &a))
					atomic_fetch_add(&r->sigbus, 1);
			}
			if (!a.ok)
				atomic_fetch_add(&r->errors, 1);
			atomic_fetch_add(&r->ops, 1);
		}
		/* Push this enclave's pages out so that the next pass reloads them. */
		for (int b = 0; b < 4; b++)
			softsgx_reclaim(r->p);
	}
}

static void *builder_fn(void *arg)
{
	struct builder *b = arg;
	struct life_run *r = b->r;
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));

	for (uint64_t round = 0; now() < r->deadline && atomic_load(&r->ops) < max_ops(); round++) {
		struct sgx_enclave_init init;
		void *addr;

		ek_create_and_add(r->p, e, ENCL_REG);
		memcpy(&e->sigstruct, &r->signed_e->sigstruct, sizeof(e->sigstruct));
		init.sigstruct = (uintptr_t)&e->sigstruct;
		addr = (void *)(uintptr_t)e->base;
		if (softsgx_ioctl(r->p, e->fd, SGX_IOC_ENCLAVE_INIT, &init) ||
		    softsgx_mmap(r->p, &addr, e->size, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_FIXED, e->fd, 0)) {
			atomic_fetch_add(&r->errors, 1);
			softsgx_close(r->p, e->fd);
			munmap((void *)(uintptr_t)e->base, e->size);
			continue;
		}
		/* Every other round closes first: the mapping keeps the enclave alive. */
		if (round % 2)
			softsgx_close(r->p, e->fd);
		use_enclave(r, e, b->id, round);
		if (softsgx_munmap(r->p, (void *)(uintptr_t)e->base, e->size))
			atomic_fetch_add(&r->errors, 1);
		if (!(round % 2))
			softsgx_close(r->p, e->fd);
		atomic_fetch_add(&r->enclaves, 1);
	}
	free(e);
	return NULL;
}

static void *reclaimer_fn(void *arg)
{
	struct life_run *r = arg;

	while (!atomic_load(&r->stop)) {
		softsgx_reclaim(r->p);
		usleep(100);
	}
	return NULL;
}

static void test_enclave_lifecycles_under_reclaim(void **state)
{
	struct life_run r = {0};
	struct builder b[NR_BUILDERS];
	struct softsgx_stats st;
	pthread_t reclaimer;
	double start = now();

	(void)state;
	r.p = ek_platform(1, EPC_PAGES);
	r.signed_e = aligned_alloc(4096, sizeof(*r.signed_e));
	assert_non_null(r.signed_e);
	/* MRENCLAVE does not cover the base: one signature serves every copy. */
	ek_create_and_add(r.p, r.signed_e, ENCL_REG);
	ek_sign(r.signed_e);
	assert_int_equal(softsgx_close(r.p, r.signed_e->fd), 0);
	munmap((void *)(uintptr_t)r.signed_e->base, r.signed_e->size);

	ek_fault_handler_install(r.p);
	r.deadline = start + run_seconds();
	assert_int_equal(pthread_create(&reclaimer, NULL, reclaimer_fn, &r), 0);
	for (unsigned int i = 0; i < NR_BUILDERS; i++) {
		b[i] = (struct builder){.r = &r, .id = i};
		assert_int_equal(pthread_create(&b[i].thread, NULL, builder_fn, &b[i]), 0);
	}
	for (unsigned int i = 0; i < NR_BUILDERS; i++)
		assert_int_equal(pthread_join(b[i].thread, NULL), 0);
	atomic_store(&r.stop, true);
	assert_int_equal(pthread_join(reclaimer, NULL), 0);
	ek_fault_handler_remove();

	softsgx_get_stats(r.p, &st);
	print_message("lifecycles: %d threads, %.1f s, %lu enclaves built and closed, %lu page "
		      "accesses checked, %llu evictions, %llu reloads, %llu faults, %lu errors, "
		      "%lu SIGBUS (%lu passed on retry), %llu pages lost\n",
		      NR_BUILDERS, now() - start, atomic_load(&r.enclaves), atomic_load(&r.ops),
		      (unsigned long long)st.evictions, (unsigned long long)st.reloads,
		      (unsigned long long)st.faults, atomic_load(&r.errors),
		      atomic_load(&r.sigbus) + atomic_load(&r.transient_sigbus),
		      atomic_load(&r.transient_sigbus), (unsigned long long)st.lost_pages);
	assert_int_equal(atomic_load(&r.errors), 0);
	assert_int_equal(atomic_load(&r.sigbus), 0);
	assert_true(atomic_load(&r.enclaves) >= NR_BUILDERS);
	assert_true(st.reloads > 0);
	assert_int_equal(st.lost_pages, 0);
	assert_int_equal(st.eremove_failures, 0);
	wait_all_free(r.p);
	lg_platform_free(r.p);
	free(r.signed_e);
}

/* ---- 2. REMOVE_ALL racing faults, munmap and close on /dev/sgx_vepc ---- */

#define VEPC_PAGES 32

struct vepc_run {
	struct softsgx_platform *p;
	_Atomic int fd;
	_Atomic(uint8_t *) base;
	atomic_bool stop;
	atomic_ulong faults, removes, remove_errors, bad;
};

static void *vepc_faulter(void *arg)
{
	struct vepc_run *r = arg;
	unsigned int i = 0;

	while (!atomic_load(&r->stop)) {
		uint8_t *base = atomic_load(&r->base);
		enum softsgx_fault f;

		if (!base)
			continue;
		f = softsgx_handle_fault(r->p, base + (i++ % VEPC_PAGES) * SGX_PAGE_SIZE,
					 PROT_WRITE);
		/* Mapped: the page is allocated; unmapped already: not ours. */
		if (f != SOFTSGX_FAULT_RETRY && f != SOFTSGX_FAULT_NOT_OURS)
			atomic_fetch_add(&r->bad, 1);
		atomic_fetch_add(&r->faults, 1);
	}
	return NULL;
}

static void *vepc_remover(void *arg)
{
	struct vepc_run *r = arg;

	while (!atomic_load(&r->stop)) {
		int fd = atomic_load(&r->fd);
		long ret;

		if (fd < 0)
			continue;
		ret = softsgx_ioctl(r->p, fd, SGX_IOC_VEPC_REMOVE_ALL, NULL);
		/* No guest ran: no SECS, nothing inside. Closed under us: EBADF. */
		if (ret && ret != -EBADF)
			atomic_fetch_add(&r->remove_errors, 1);
		atomic_fetch_add(&r->removes, 1);
	}
	return NULL;
}

static void test_vepc_remove_all_races(void **state)
{
	struct vepc_run r = {0};
	struct softsgx_stats st;
	pthread_t faulter, remover;
	double start = now(), deadline = start + run_seconds();
	unsigned long rounds = 0;

	(void)state;
	r.p = ek_platform(1, EPC_PAGES);
	atomic_store(&r.fd, -1);
	assert_int_equal(pthread_create(&faulter, NULL, vepc_faulter, &r), 0);
	assert_int_equal(pthread_create(&remover, NULL, vepc_remover, &r), 0);
	while (now() < deadline && rounds < max_ops() / 10) {
		void *addr = NULL;
		int fd = softsgx_open(r.p, "/dev/sgx_vepc", 0);

		assert_true(fd >= 0);
		assert_int_equal(softsgx_mmap(r.p, &addr, VEPC_PAGES * SGX_PAGE_SIZE,
					      PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
				 0);
		atomic_store(&r.fd, fd);
		atomic_store(&r.base, addr);
		usleep(200);
		/* Alternate the order: close with the mapping alive, or unmap first. */
		if (rounds % 2) {
			atomic_store(&r.fd, -1);
			assert_int_equal(softsgx_close(r.p, fd), 0);
			assert_int_equal(softsgx_munmap(r.p, addr, VEPC_PAGES * SGX_PAGE_SIZE), 0);
		} else {
			assert_int_equal(softsgx_munmap(r.p, addr, VEPC_PAGES * SGX_PAGE_SIZE), 0);
			atomic_store(&r.fd, -1);
			assert_int_equal(softsgx_close(r.p, fd), 0);
		}
		/*
		 * The faulter may still hold the old address: a fault there is
		 * not ours, or hits the next round's mapping if the host reuses it.
		 */
		rounds++;
	}
	atomic_store(&r.stop, true);
	assert_int_equal(pthread_join(faulter, NULL), 0);
	assert_int_equal(pthread_join(remover, NULL), 0);

	softsgx_get_stats(r.p, &st);
	print_message("vEPC: %.1f s, %lu instances opened, mapped, unmapped and closed, %lu "
		      "faults, %lu REMOVE_ALL; %llu pages allocated by faults\n",
		      now() - start, rounds, atomic_load(&r.faults), atomic_load(&r.removes),
		      (unsigned long long)st.vepc_faults);
	assert_int_equal(atomic_load(&r.bad), 0);
	assert_int_equal(atomic_load(&r.remove_errors), 0);
	assert_int_equal(st.vepc_eremove_warnings, 0);
	assert_true(rounds > 1 && st.vepc_faults > 0);
	assert_int_equal(st.zombie_pages, 0);
	wait_all_free(r.p);
	lg_platform_free(r.p);
}

/* ---- 3. fork() with a live platform and a mapped enclave ---- */

#define FORK_REG 16

enum child_act {
	CHILD_EXIT,	     /* _exit at once */
	CHILD_READ_RESIDENT, /* read the resident pages, exit */
	CHILD_RELOAD,	     /* touch the evicted pages (ELDU in the child's model), exit */
	CHILD_WRITE,	     /* write a resident page, exit */
};

static uint64_t read_mark(struct ek_enclave *e, uint64_t i)
{
	return *(volatile uint64_t *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE + MARK_OFF);
}

static void write_mark(struct ek_enclave *e, uint64_t i, uint64_t v)
{
	*(volatile uint64_t *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE + MARK_OFF) = v;
}

struct touch_arg {
	struct ek_enclave *e;
	uint64_t i, v;
};

static void touch_read(void *arg)
{
	struct touch_arg *t = arg;

	t->v = read_mark(t->e, t->i);
}

/*
 * Status of a child: its exit code, 128 + signal when killed (SIGALRM: it
 * hung on a lock some other thread held at fork()).
 */
static int run_child(struct softsgx_platform *p, struct ek_enclave *e, enum child_act act,
		     bool handlers)
{
	int status;
	pid_t pid;

	if (handlers)
		softsgx_fork_prepare(p);
	pid = fork();
	if (handlers && pid)
		softsgx_fork_parent(p);
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;

		alarm(5);
		if (handlers && softsgx_fork_child(p))
			_exit(62);
		switch (act) {
		case CHILD_EXIT:
			break;
		case CHILD_READ_RESIDENT:
			for (uint64_t i = 1; i <= FORK_REG / 2; i++)
				bad += read_mark(e, i) != ~i;
			break;
		case CHILD_RELOAD:
			for (uint64_t i = FORK_REG / 2 + 1; i <= FORK_REG; i++) {
				struct touch_arg t = {e, i, 0};

				if (!ek_try(touch_read, &t))
					bad |= 0x40;
				else
					bad += t.v != ~i;
			}
			break;
		case CHILD_WRITE:
			write_mark(e, 1, 0xC0FFEE);
			break;
		}
		_exit(bad > 61 ? 61 : bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Pages 1..FORK_REG/2 resident and marked ~i, the rest evicted with mark ~i. */
static void fork_setup(struct softsgx_platform *p, struct ek_enclave *e)
{
	struct softsgx_stats st;

	ek_build(p, e, FORK_REG);
	for (uint64_t i = FORK_REG / 2 + 1; i <= FORK_REG; i++)
		write_mark(e, i, ~i);
	for (int b = 0; b < 8; b++)
		softsgx_reclaim(p);
	for (uint64_t i = 1; i <= FORK_REG / 2; i++)
		write_mark(e, i, ~i);
	softsgx_get_stats(p, &st);
	assert_true(st.evictions >= FORK_REG / 2);
}

/* The parent's view after the child: how many pages lost their mark, or SIGBUS. */
static unsigned int parent_bad_pages(struct ek_enclave *e, uint64_t *sigbus)
{
	unsigned int bad = 0;

	*sigbus = 0;
	for (uint64_t i = 1; i <= FORK_REG; i++) {
		struct touch_arg t = {e, i, 0};

		if (!ek_try(touch_read, &t))
			(*sigbus)++;
		else
			bad += t.v != ~i;
	}
	return bad;
}

static void fork_case(enum child_act act, bool handlers, const char *name, int *child,
		      unsigned int *bad, uint64_t *sigbus)
{
	struct softsgx_config cfg;
	struct softsgx_platform *p;
	struct ek_enclave *e = aligned_alloc(4096, sizeof(*e));

	assert_non_null(e);
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = 64 * SGX_PAGE_SIZE;
	cfg.no_ksgxd = true; /* the child would inherit no ksgxd anyway; keep locks free */
	p = lg_platform_new(&cfg);
	assert_non_null(p);
	ek_fault_handler_install(p);
	fork_setup(p, e);
	*child = run_child(p, e, act, handlers);
	*bad = parent_bad_pages(e, sigbus);
	print_message("fork%s, child %s: child status %d; parent: %u of %d pages changed, %llu "
		      "SIGBUS\n",
		      handlers ? " with softsgx_fork_*()" : "", name, *child, *bad, FORK_REG,
		      (unsigned long long)*sigbus);
	assert_int_equal(softsgx_munmap(p, (void *)(uintptr_t)e->base, e->size), 0);
	assert_int_equal(softsgx_close(p, e->fd), 0);
	wait_all_free(p);
	ek_fault_handler_remove();
	lg_platform_free(p);
	free(e);
}

static void test_fork_with_live_platform(void **state)
{
	unsigned int bad;
	uint64_t sigbus;
	int child;

	(void)state;
	/* A child that exits or only reads leaves the parent's enclave intact. */
	fork_case(CHILD_EXIT, false, "exits", &child, &bad, &sigbus);
	assert_int_equal(child, 0);
	assert_int_equal(bad, 0);
	assert_int_equal(sigbus, 0);

	/* EPC is shared memory: the child sees the parent's resident pages. */
	fork_case(CHILD_READ_RESIDENT, false, "reads resident pages", &child, &bad, &sigbus);
	assert_int_equal(child, 0);
	assert_int_equal(bad, 0);
	assert_int_equal(sigbus, 0);

	/*
	 * What the current model does, pinned so that a change is noticed
	 * (docs/reliability.md): the child gets a private copy of the kernel
	 * model but shares the EPC memfd (VA pages included) and the backing
	 * memfd. Its ELDU consumes the version slots the parent's evicted pages
	 * need, so each of those pages faults SIGBUS in the parent afterwards;
	 * Linux shares one enclave between both processes and loses nothing.
	 */
	fork_case(CHILD_RELOAD, false, "reloads evicted pages", &child, &bad, &sigbus);
	assert_int_equal(child, 0);
	assert_int_equal(bad, 0);
	assert_int_equal(sigbus, FORK_REG / 2);
	/* A store by the child lands in the parent's EPC page (shared memory). */
	fork_case(CHILD_WRITE, false, "writes a resident page", &child, &bad, &sigbus);
	assert_int_equal(child, 0);
	assert_int_equal(bad, 1);
	assert_int_equal(sigbus, 0);

	/*
	 * With softsgx_fork_*() the child has its own copy: it reloads and
	 * writes its pages, and the parent's enclave is untouched.
	 */
	fork_case(CHILD_RELOAD, true, "reloads evicted pages", &child, &bad, &sigbus);
	assert_int_equal(child, 0);
	assert_int_equal(bad, 0);
	assert_int_equal(sigbus, 0);
	fork_case(CHILD_WRITE, true, "writes a resident page", &child, &bad, &sigbus);
	assert_int_equal(child, 0);
	assert_int_equal(bad, 0);
	assert_int_equal(sigbus, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enclave_lifecycles_under_reclaim),
		cmocka_unit_test(test_vepc_remove_all_races),
		cmocka_unit_test(test_fork_with_live_platform),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
