// SPDX-License-Identifier: MIT
/*
 * Reclaim under an EPC cgroup limit against global reclaim, same run
 * (kernel/epc_cgroup.h, issue 17).
 *
 * One enclave of ENCL_PAGES REG pages is read page after page, round after
 * round, with room for only half of it:
 *   global: the EPC itself holds LIMIT_PAGES (plus the SECS and VA pages):
 *     every reload finds the EPC full and reclaims from the global LRU;
 *   cgroup: the EPC is four times larger, but the process sits in a cgroup
 *     whose misc.max is the same LIMIT_PAGES (plus SECS and VA): every
 *     reload finds the cgroup at its max and reclaims from its LRU; a
 *     sibling cgroup holds another enclave's pages, resident and untouched,
 *     on an LRU of its own the cgroup's reclaim must walk past.
 * Both touch the same pages in the same order, so each reload costs one
 * ELDU and one EWB (a batch of 16 at a time) in either. No ksgxd: when a
 * fault answers "retry" without a page (an allocation that may not reclaim
 * under the enclave's lock), the thread does ksgxd's share itself (the
 * global batch, or the cgroup's pending reclaim), so all work lands on
 * one thread's CPU clock. Best of REPS rounds, the two alternating.
 *
 * Output: "| figure | value | limit | ratio |" with the cgroup's evict+reload
 * rate as value and the global one, measured in the same run, as limit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>

#define BENCH_NAME "bench_cgroup"
#include "bench/bench_platform.h"
#include "kernel/api_internal.h"
#include "kernel/epc_cgroup.h"
#include "kernel/sgx.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/softsgx.h"

#define ENCL_PAGES  2048ULL
#define ENCL_SIZE   (ENCL_PAGES * SGX_PAGE_SIZE)
#define LIMIT_PAGES (ENCL_PAGES / 2)
#define OVERHEAD    (1 + ENCL_PAGES / 512) /* SECS and VA pages: never reclaimed here */
#define SIBLING_PAGES 512ULL
#define REPS	    5

struct setup {
	struct softsgx_platform *p;
	struct sgx_epc_cgroup *cg; /* NULL: global reclaim */
	uint8_t *base;
};

static struct setup *active;
static void *last_fault;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int die(const char *what, long ret)
{
	fprintf(stderr, "bench_cgroup: %s failed: %ld\n", what, ret);
	return 1;
}

/*
 * The shim's fault entry. The same address faulting again right after a
 * "retry" means the allocation was refused for want of room: do ksgxd's
 * share, as it would have been woken to.
 */
static void on_segv(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	int access = (uc->uc_mcontext.gregs[REG_ERR] & 0x2) ? PROT_WRITE : PROT_READ;
	struct sgx_kernel *k;

	(void)sig;
	if (!active) {
		signal(SIGSEGV, SIG_DFL);
		return;
	}
	k = softsgx_kernel(active->p);
	if (si->si_addr == last_fault) {
		if (active->cg)
			sgx_epc_cgroup_reclaim_pending(k);
		else
			sgx_reclaim_pages(k);
	}
	last_fault = si->si_addr;
	if (softsgx_handle_fault(active->p, si->si_addr, access) != SOFTSGX_FAULT_RETRY)
		signal(SIGSEGV, SIG_DFL); /* SIGBUS: a bug in the model; die loudly */
}

static int setup(struct setup *s, bool cgroup)
{
	struct softsgx_config cfg;
	struct sgx_kernel *k;
	uint8_t *sibling;
	int err, fd;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.no_ksgxd = true;
	cfg.section_size[0] = (cgroup ? 4 * (LIMIT_PAGES + OVERHEAD) + SIBLING_PAGES + 64
				      : LIMIT_PAGES + OVERHEAD) *
			      SGX_PAGE_SIZE;
	s->p = softsgx_platform_new(&cfg);
	if (!s->p)
		return die("softsgx_platform_new", -ENOMEM);
	k = softsgx_kernel(s->p);
	s->cg = NULL;
	if (!cgroup)
		return bench_platform_build(s->p, ENCL_PAGES, &s->base, &fd);
	/* The sibling's enclave first, resident; then the limited cgroup's. */
	sgx_mm_set_cgroup(&k->mm, sgx_epc_cgroup_create(k, "/other", &err));
	if (bench_platform_build(s->p, SIBLING_PAGES, &sibling, &fd))
		return 1;
	s->cg = sgx_epc_cgroup_create(k, "/limited", &err);
	if (!s->cg)
		return die("cgroup", err);
	err = sgx_epc_cgroup_set_max(s->cg, (LIMIT_PAGES + OVERHEAD) * SGX_PAGE_SIZE);
	if (err)
		return die("misc.max", err);
	sgx_mm_set_cgroup(&k->mm, s->cg);
	return bench_platform_build(s->p, ENCL_PAGES, &s->base, &fd);
}

/* One round: every page read once; returns seconds, or < 0 on a wrong page. */
static double round_once(struct setup *s)
{
	double t0;

	active = s;
	last_fault = NULL;
	t0 = now();
	for (uint64_t i = 0; i < ENCL_PAGES; i++)
		if (*(volatile uint64_t *)(s->base + i * SGX_PAGE_SIZE) != i)
			return -1;
	t0 = now() - t0;
	active = NULL;
	return t0;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER };
	struct setup g, c;
	double best_g = 1e9, best_c = 1e9;
	struct softsgx_stats sg, sc;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	if (setup(&g, false) || setup(&c, true))
		return 1;
	/* A first round each settles the LRUs into the steady state. */
	if (round_once(&g) < 0 || round_once(&c) < 0)
		return die("content check", -EIO);
	for (int r = 0; r < REPS; r++) {
		double tg = round_once(&g), tc = round_once(&c);

		if (tg < 0 || tc < 0)
			return die("content check", -EIO);
		if (tg < best_g)
			best_g = tg;
		if (tc < best_c)
			best_c = tc;
	}
	softsgx_get_stats(g.p, &sg);
	softsgx_get_stats(c.p, &sc);
	printf("enclave of %llu pages read in order, room for %llu; best of %d rounds\n",
	       ENCL_PAGES, LIMIT_PAGES, REPS);
	printf("global: %llu evictions, %llu reloads; cgroup: %llu evictions, %llu reloads, "
	       "%llu max events, sibling cgroup %llu pages untouched\n",
	       (unsigned long long)sg.evictions, (unsigned long long)sg.reloads,
	       (unsigned long long)sc.evictions, (unsigned long long)sc.reloads,
	       (unsigned long long)atomic_load(&c.cg->events), SIBLING_PAGES);
	printf("| evict+reload under a cgroup limit | %.0f pages/s | %.0f pages/s "
	       "(global reclaim, EPC full) | %.2f |\n",
	       ENCL_PAGES / best_c, ENCL_PAGES / best_g, best_g / best_c);
	softsgx_platform_free(g.p);
	softsgx_platform_free(c.p);
	return 0;
}
