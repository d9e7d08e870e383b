// SPDX-License-Identifier: MIT
/*
 * /dev/sgx_vepc on a 64 MiB instance (16384 pages): how fast the fault path
 * hands out EPC pages and how fast SGX_IOC_VEPC_REMOVE_ALL empties them,
 * each beside a limit measured in the same run:
 *
 *   fault, direct call   softsgx_handle_fault() on every page, vs one 4 KiB
 *                        mmap(MAP_FIXED) of a memfd page per page: the
 *                        model installs a "PTE" that way, so no fault path
 *                        of this design can be faster.
 *   fault via SIGSEGV    a store to every page of the VMM's mapping, faults
 *                        delivered as SIGSEGV to a handler that calls
 *                        softsgx_handle_fault(), vs the same store with a
 *                        SIGSEGV handler that only does the one mmap.
 *   REMOVE_ALL, idle     pages the guest never used, vs the CPU model's
 *                        EREMOVE called in a bare loop on as many
 *                        never-used pages: EREMOVE of every page is the work
 *                        REMOVE_ALL cannot avoid; the ratio is the kernel
 *                        model's overhead (page walk, locking).
 *   REMOVE_ALL, in use   after a guest built a 16000-page enclave in the
 *                        instance and was reset, vs a bare EREMOVE loop on
 *                        16000 valid REG pages built with the CPU model.
 *
 * Each figure is the best of REPS runs; a run of the model and a run of its
 * limit alternate, so both see the same machine (other load, CPU frequency).
 * Set-up and tear-down are untimed.
 * Output: context lines and one markdown row per figure, which
 * bench/run-benchmarks collects into bench/results.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "hw/hw.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/softsgx.h"

#define VEPC_PAGES 16384ULL
#define VEPC_SIZE  (VEPC_PAGES * SGX_PAGE_SIZE)
#define ENCL_PAGES 16000ULL		  /* REG pages of the guest enclave */
#define ENCL_BASE  0x10000000000ULL	  /* ELRANGE of the guest enclave, never mapped */
#define HOST_PAGES (VEPC_PAGES + 2 + 512) /* the instance, the guest's A, headroom */
#define REPS	   5

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Plain pages/s, as the other benchmarks print rates. */
static void row(const char *figure, uint64_t pages, double t, const char *limit_name,
		double t_limit)
{
	double v = (double)pages / t, l = (double)pages / t_limit;

	printf("| %s | %.0f pages/s | %.0f pages/s (%s) | %.2f |\n", figure, v, l, limit_name,
	       v / l);
}

static int die(const char *what, long ret)
{
	fprintf(stderr, "bench_vepc: %s failed: %ld (%s)\n", what, ret,
		ret < 0 ? strerror((int)-ret) : "SGX return code or fault");
	return 1;
}

/* One SIGSEGV handler for both fault figures, switched by @fault_mode. */
static enum { FAULT_MODEL, FAULT_LIMIT } fault_mode;
static struct softsgx_platform *fault_platform;
static uint8_t *fault_base; /* FAULT_LIMIT: the reservation @fault_memfd fills */
static int fault_memfd;

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t page = (uintptr_t)si->si_addr & ~(SGX_PAGE_SIZE - 1);

	(void)sig;
	if (fault_mode == FAULT_MODEL) {
		long err = uc->uc_mcontext.gregs[REG_ERR];
		int access = (err & 0x2) ? PROT_WRITE : PROT_READ;

		if (softsgx_handle_fault(fault_platform, si->si_addr, access) ==
		    SOFTSGX_FAULT_RETRY)
			return;
	} else if (mmap((void *)page, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			fault_memfd, (off_t)(page - (uintptr_t)fault_base)) != MAP_FAILED) {
		return;
	}
	abort(); /* a fault the benchmark did not expect */
}

struct vepc {
	int fd;
	uint8_t *base;
	uint64_t pages;
};

static int vepc_open(struct softsgx_platform *p, struct vepc *v, uint64_t pages)
{
	void *addr = NULL;
	int ret;

	v->pages = pages;
	v->fd = softsgx_open(p, "/dev/sgx_vepc", O_RDWR);
	if (v->fd < 0)
		return die("open(/dev/sgx_vepc)", v->fd);
	ret = softsgx_mmap(p, &addr, pages * SGX_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			   v->fd, 0);
	if (ret)
		return die("mmap of the vEPC", ret);
	v->base = addr;
	return 0;
}

static void vepc_close(struct softsgx_platform *p, struct vepc *v)
{
	softsgx_munmap(p, v->base, v->pages * SGX_PAGE_SIZE);
	softsgx_close(p, v->fd);
}

static void best(double *b, double t)
{
	if (t < *b)
		*b = t;
}

struct times {
	double fault, mmap, segv_model, segv_limit;
	double rm_idle, er_idle, rm_used, er_used;
};

/* The limits' own memory: a memfd as large as the instance, and a hole for it. */
struct limit {
	int memfd;
	uint8_t *base;
};

static int limit_init(struct limit *l)
{
	l->memfd = memfd_create("bench-vepc-limit", MFD_CLOEXEC);
	if (l->memfd < 0 || ftruncate(l->memfd, (off_t)VEPC_SIZE)) {
		perror("bench_vepc: memfd");
		return 1;
	}
	l->base = mmap(NULL, VEPC_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		       0);
	if (l->base == MAP_FAILED) {
		perror("bench_vepc: mmap");
		return 1;
	}
	return 0;
}

/* Put the hole back: PROT_NONE, nothing mapped. */
static int limit_reset(struct limit *l)
{
	if (mmap(l->base, VEPC_SIZE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
		perror("bench_vepc: mmap of the hole");
		return 1;
	}
	return 0;
}

static void limit_destroy(struct limit *l)
{
	if (l->base && l->base != MAP_FAILED)
		munmap(l->base, VEPC_SIZE);
	if (l->memfd >= 0)
		close(l->memfd);
}

/* Model: softsgx_handle_fault() on every page of a fresh instance. */
static int run_fault_direct(struct softsgx_platform *p, double *t_best)
{
	struct vepc v;
	double t0;

	if (vepc_open(p, &v, VEPC_PAGES))
		return 1;
	t0 = now();
	for (uint64_t i = 0; i < VEPC_PAGES; i++)
		if (softsgx_handle_fault(p, v.base + i * SGX_PAGE_SIZE, PROT_WRITE) !=
		    SOFTSGX_FAULT_RETRY)
			return die("vEPC fault", (long)i);
	best(t_best, now() - t0);
	vepc_close(p, &v);
	return 0;
}

/* Limit: one 4 KiB mmap(MAP_FIXED) of a memfd page per page. */
static int run_fault_mmap(struct limit *l, double *t_best)
{
	double t0 = now();

	for (uint64_t i = 0; i < VEPC_PAGES; i++)
		if (mmap(l->base + i * SGX_PAGE_SIZE, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, l->memfd,
			 (off_t)(i * SGX_PAGE_SIZE)) == MAP_FAILED) {
			perror("bench_vepc: mmap(MAP_FIXED)");
			return 1;
		}
	best(t_best, now() - t0);
	return limit_reset(l);
}

/* Model: a store to every page of a fresh instance; faults come as SIGSEGV. */
static int run_segv_model(struct softsgx_platform *p, double *t_best)
{
	struct vepc v;
	double t0;

	if (vepc_open(p, &v, VEPC_PAGES))
		return 1;
	fault_mode = FAULT_MODEL;
	fault_platform = p;
	t0 = now();
	for (uint64_t i = 0; i < VEPC_PAGES; i++)
		((volatile uint8_t *)v.base)[i * SGX_PAGE_SIZE] = (uint8_t)i;
	best(t_best, now() - t0);
	vepc_close(p, &v);
	return 0;
}

/* Limit: the same stores, the handler only mmaps the memfd page. */
static int run_segv_limit(struct limit *l, double *t_best)
{
	double t0;

	fault_mode = FAULT_LIMIT;
	fault_base = l->base;
	fault_memfd = l->memfd;
	t0 = now();
	for (uint64_t i = 0; i < VEPC_PAGES; i++)
		((volatile uint8_t *)l->base)[i * SGX_PAGE_SIZE] = (uint8_t)i;
	best(t_best, now() - t0);
	return limit_reset(l);
}

static int fault_figures(struct softsgx_platform *p, struct times *t)
{
	struct limit l = {.memfd = -1};
	int ret = 1;

	if (limit_init(&l))
		goto out;
	for (int r = 0; r < REPS; r++)
		if (run_fault_direct(p, &t->fault) || run_fault_mmap(&l, &t->mmap) ||
		    run_segv_model(p, &t->segv_model) || run_segv_limit(&l, &t->segv_limit))
			goto out;
	ret = 0;
out:
	limit_destroy(&l);
	return ret;
}

/* The CPU model alone, on a platform of its own, for the EREMOVE loops. */
struct raw {
	struct sgx_hw *hw;
	uint8_t *epc;
	struct sgx_secs *secs_src;
};

static void enclave_secs(struct sgx_secs *secs)
{
	memset(secs, 0, sizeof(*secs));
	secs->base = ENCL_BASE;
	secs->size = VEPC_SIZE;
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	secs->xfrm = 0x3;
}

static int raw_init(struct raw *raw)
{
	struct sgx_hw_config cfg;
	struct sgx_hw_section s;

	sgx_hw_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = (VEPC_PAGES + 1) * SGX_PAGE_SIZE;
	raw->secs_src = aligned_alloc(SGX_PAGE_SIZE, sizeof(*raw->secs_src));
	raw->hw = sgx_hw_new(&cfg);
	if (!raw->hw || !raw->secs_src) {
		perror("bench_vepc: sgx_hw_new");
		return 1;
	}
	hw_epc_section(raw->hw, 0, &s);
	raw->epc = s.virt;
	enclave_secs(raw->secs_src);
	return 0;
}

static void raw_destroy(struct raw *raw)
{
	sgx_hw_free(raw->hw);
	free(raw->secs_src);
}

/* Limit: EREMOVE of as many pages that were never used (no EPCM entry yet). */
static int run_eremove_idle(struct raw *raw, double *t_best)
{
	double t0 = now();

	for (uint64_t i = 0; i < VEPC_PAGES; i++) {
		int err = encls_eremove(raw->hw, raw->epc + i * SGX_PAGE_SIZE);

		if (err)
			return die("EREMOVE of a never-used page", err);
	}
	best(t_best, now() - t0);
	return 0;
}

/* Limit: ECREATE and EADD of ENCL_PAGES REG pages (untimed), EREMOVE of them. */
static int run_eremove_used(struct raw *raw, const uint8_t *src, double *t_best)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = SGX_SECINFO_SECS};
	struct sgx_pageinfo pginfo __attribute__((aligned(32))) = {
		.contents = (uintptr_t)raw->secs_src,
		.metadata = (uintptr_t)&secinfo,
	};
	uint8_t *secs = raw->epc;
	double t0;
	int err;

	err = encls_ecreate(raw->hw, &pginfo, secs);
	if (err)
		return die("ECREATE", err);
	secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	pginfo.secs = (uintptr_t)secs;
	for (uint64_t i = 0; i < ENCL_PAGES; i++) {
		pginfo.addr = ENCL_BASE + i * SGX_PAGE_SIZE;
		pginfo.contents = (uintptr_t)(src + i * SGX_PAGE_SIZE);
		err = encls_eadd(raw->hw, &pginfo, raw->epc + (i + 1) * SGX_PAGE_SIZE);
		if (err)
			return die("EADD", err);
	}
	t0 = now();
	for (uint64_t i = 0; i < ENCL_PAGES; i++) {
		err = encls_eremove(raw->hw, raw->epc + (i + 1) * SGX_PAGE_SIZE);
		if (err)
			return die("EREMOVE of a REG page", err);
	}
	best(t_best, now() - t0);
	err = encls_eremove(raw->hw, secs);
	return err ? die("EREMOVE of the SECS", err) : 0;
}

/* Model: REMOVE_ALL on an instance whose pages are allocated but never used. */
static int run_remove_all_idle(struct softsgx_platform *p, struct vepc *v, double *t_best)
{
	double t0 = now();
	long ret = softsgx_ioctl(p, v->fd, SGX_IOC_VEPC_REMOVE_ALL, NULL);

	best(t_best, now() - t0);
	return ret ? die("SGX_IOC_VEPC_REMOVE_ALL", ret) : 0;
}

/*
 * Model: a guest on A (2 pages: VA + SECS) and B (the 64 MiB instance)
 * builds an enclave of ENCL_PAGES REG pages in B (ECREATE and EADD, no
 * EINIT: REMOVE_ALL does not care) and is reset; REMOVE_ALL on B is timed.
 */
static int run_remove_all_used(struct softsgx_platform *p, const uint8_t *src,
			       struct sgx_secs *secs, double *t_best)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {
		.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
	};
	struct sgx_enclave_create create = {.src = (uintptr_t)secs};
	struct softsgx_platform *g;
	struct vepc a, b;
	void *base[2];
	size_t size[2];
	uint64_t done = 0;
	long err;
	int fd;
	double t0;

	if (vepc_open(p, &a, 2) || vepc_open(p, &b, VEPC_PAGES))
		return 1;
	base[0] = a.base;
	base[1] = b.base;
	size[0] = 2 * SGX_PAGE_SIZE;
	size[1] = VEPC_SIZE;
	g = softsgx_guest_boot(p, 2, base, size);
	if (!g)
		return die("softsgx_guest_boot", -errno);
	fd = softsgx_open(g, "/dev/sgx_enclave", O_RDWR);
	err = fd < 0 ? fd : softsgx_ioctl(g, fd, SGX_IOC_ENCLAVE_CREATE, &create);
	if (err)
		return die("guest SGX_IOC_ENCLAVE_CREATE", err);
	while (done < ENCL_PAGES * SGX_PAGE_SIZE) {
		struct sgx_enclave_add_pages add = {
			.src = (uintptr_t)(src + done),
			.offset = done,
			.length = ENCL_PAGES * SGX_PAGE_SIZE - done,
			.secinfo = (uintptr_t)&secinfo,
		};

		err = softsgx_ioctl(g, fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add);
		if (err && err != -EINTR)
			return die("guest SGX_IOC_ENCLAVE_ADD_PAGES", err);
		done += add.count;
	}
	softsgx_guest_reset(g);

	t0 = now();
	err = softsgx_ioctl(p, b.fd, SGX_IOC_VEPC_REMOVE_ALL, NULL);
	best(t_best, now() - t0);
	if (err)
		return die("SGX_IOC_VEPC_REMOVE_ALL on the children", err);
	/* The SECS in A has no children left. */
	err = softsgx_ioctl(p, a.fd, SGX_IOC_VEPC_REMOVE_ALL, NULL);
	if (err)
		return die("SGX_IOC_VEPC_REMOVE_ALL on the SECS", err);
	vepc_close(p, &b);
	vepc_close(p, &a);
	return 0;
}

static int remove_all_figures(struct softsgx_platform *p, const uint8_t *src, struct times *t)
{
	struct sgx_secs *secs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*secs));
	struct raw raw = {0};
	struct vepc v;
	int ret = 1;

	if (!secs) {
		perror("bench_vepc: aligned_alloc");
		return 1;
	}
	enclave_secs(secs);
	if (raw_init(&raw) || vepc_open(p, &v, VEPC_PAGES))
		goto out;
	for (uint64_t i = 0; i < VEPC_PAGES; i++)
		if (softsgx_handle_fault(p, v.base + i * SGX_PAGE_SIZE, PROT_READ) !=
		    SOFTSGX_FAULT_RETRY) {
			die("vEPC fault", (long)i);
			goto out;
		}
	for (int r = 0; r < REPS; r++)
		if (run_remove_all_idle(p, &v, &t->rm_idle) || run_eremove_idle(&raw, &t->er_idle))
			goto out;
	vepc_close(p, &v);
	for (int r = 0; r < REPS; r++)
		if (run_remove_all_used(p, src, secs, &t->rm_used) ||
		    run_eremove_used(&raw, src, &t->er_used))
			goto out;
	ret = 0;
out:
	raw_destroy(&raw);
	free(secs);
	return ret;
}

int main(void)
{
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
	struct times t = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30, 1e30, 1e30};
	struct softsgx_config cfg;
	struct softsgx_platform *p;
	uint8_t *src;
	int ret = 1;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL)) {
		perror("bench_vepc: sigaction");
		return 1;
	}
	src = aligned_alloc(SGX_PAGE_SIZE, ENCL_PAGES * SGX_PAGE_SIZE);
	if (!src) {
		perror("bench_vepc: aligned_alloc");
		return 1;
	}
	for (uint64_t i = 0; i < ENCL_PAGES; i++)
		memset(src + i * SGX_PAGE_SIZE, (int)(i * 7 + 1), SGX_PAGE_SIZE);

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = HOST_PAGES * SGX_PAGE_SIZE;
	cfg.no_ksgxd = true; /* nothing here is reclaimable; keep the timings quiet */
	p = softsgx_platform_new(&cfg);
	if (!p) {
		perror("bench_vepc: softsgx_platform_new");
		free(src);
		return 1;
	}
	if (fault_figures(p, &t) || remove_all_figures(p, src, &t))
		goto out;

	printf("bench_vepc: vEPC instance of %llu pages (%llu MiB), best of %d runs, model and "
	       "limit runs alternating\n",
	       VEPC_PAGES, VEPC_SIZE >> 20, REPS);
	printf("bench_vepc: fault %.3f s (mmap limit %.3f s), via SIGSEGV %.3f s (limit %.3f s)\n",
	       t.fault, t.mmap, t.segv_model, t.segv_limit);
	printf("bench_vepc: REMOVE_ALL idle %.4f s (EREMOVE loop %.4f s), %llu in-use pages "
	       "%.4f s (EREMOVE loop %.4f s)\n",
	       t.rm_idle, t.er_idle, ENCL_PAGES, t.rm_used, t.er_used);
	printf("bench_vepc: limits: one 4 KiB mmap(MAP_FIXED) of a memfd page per page (how the "
	       "model maps EPC); the CPU model's EREMOVE in a bare loop over as many pages in "
	       "the same state (never used / valid REG)\n");
	row("vEPC fault allocation, 64 MiB, softsgx_handle_fault per page", VEPC_PAGES, t.fault,
	    "4 KiB mmap(MAP_FIXED) of a memfd page, per page", t.mmap);
	row("vEPC first touch through SIGSEGV, 64 MiB", VEPC_PAGES, t.segv_model,
	    "SIGSEGV handler doing one 4 KiB mmap(MAP_FIXED), per page", t.segv_limit);
	row("VEPC_REMOVE_ALL, 64 MiB of pages the guest never used", VEPC_PAGES, t.rm_idle,
	    "bare EREMOVE loop of the CPU model, never-used pages", t.er_idle);
	row("VEPC_REMOVE_ALL after a guest reset, 16000 valid REG pages", ENCL_PAGES, t.rm_used,
	    "bare EREMOVE loop of the CPU model, valid REG pages", t.er_used);
	ret = 0;
out:
	softsgx_platform_free(p);
	free(src);
	return ret;
}
