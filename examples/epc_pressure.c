// SPDX-License-Identifier: MIT
/*
 * epc_pressure: one side of the EPC cgroup experiment (docs/epc-cgroups.md,
 * examples/cgroup-experiment.sh). A client of the running platform service
 * (service/remote.h: what the shim will do for an ordinary program under
 * `softsgx run --service`, which is not there yet), charged to the EPC
 * cgroup $SOFTSGX_CGROUP names:
 *
 *   --role vmm   a VMM: maps a vEPC of N MiB and prefaults it, then keeps
 *                touching every page for the run (a guest using its EPC);
 *                a page the service refuses is a SIGBUS, counted.
 *   --role host  host enclaves: builds enclaves of N MiB in all (4 MiB each;
 *                an ADD_PAGES refused with ENOMEM is counted and retried),
 *                then keeps writing and reading every page; the zaps this
 *                process receives are its pages the reclaimer took.
 *
 * At the end one JSON line on stdout: the role, the pages it holds, the
 * SIGBUS and ENOMEM counts, rounds over its memory, evictions seen (zaps),
 * build time and the time a round took.
 *
 * Usage: epc_pressure --role vmm|host --mib N --seconds S --key KEY.pem
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "tools/lib/sigstruct_sign.h"
#include "hw/measure.h"
#include "service/proto.h"
#include "service/remote.h"
#include "softsgx/sgx_uapi.h"

#define PAGE	      4096ul
#define ENCLAVE_PAGES 1024ul /* 4 MiB of regular pages per enclave */
#define BATCH	      64ul

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- faults go to the service, as the shim sends them ---- */

/*
 * volatile: the stores around the access must happen (a compiler may
 * otherwise drop the first as dead, the access being no call).
 */
static __thread sigjmp_buf *volatile try_env;

static void on_segv(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	long err = uc->uc_mcontext.gregs[REG_ERR]; /* bit 1: write, bit 4: fetch */
	int access = (err & 0x10) ? PROT_EXEC : (err & 0x2) ? PROT_WRITE : PROT_READ;

	switch (svc_remote_fault(si->si_addr, access)) {
	case SVC_FAULT_RETRY:
		return;
	case SVC_FAULT_SIGBUS:
		/* What Linux delivers as SIGBUS: the access is given up and counted. */
		if (try_env)
			siglongjmp(*try_env, 1);
		break;
	default:
		break;
	}
	signal(sig, SIG_DFL);
}

/* Write @v at @p and read it back; false for a SIGBUS. */
static bool touch(volatile uint64_t *p, uint64_t v)
{
	sigjmp_buf env;
	volatile bool ok = false; /* set between sigsetjmp() and a possible siglongjmp() */

	if (!sigsetjmp(env, 1)) {
		try_env = &env;
		*p = v;
		ok = *p == v;
	}
	try_env = NULL;
	return ok;
}

struct result {
	uint64_t ok_pages, sigbus, enomem, rounds, bad, build_ms, round_ms_max;
	uint64_t round_ms_sum, round_ms_last; /* the last round: the steady state at the end */
};

/* ---- the VMM side ---- */

static int vmm(uint64_t pages, unsigned int seconds, struct result *r)
{
	int h = svc_remote_open(SVC_OPEN_VEPC);
	uint8_t *mem = NULL;
	uint64_t t0 = now_ms(), end;
	int ret;

	if (h < 0)
		return h;
	ret = svc_remote_mmap((void **)&mem, pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, h,
			      0);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < pages; i++) {
		if (touch((volatile uint64_t *)(mem + i * PAGE), i))
			r->ok_pages++;
		else
			r->sigbus++;
	}
	r->build_ms = now_ms() - t0;
	/* The guest keeps using its EPC: every page, again and again. */
	for (end = now_ms() + seconds * 1000ull; now_ms() < end; r->rounds++) {
		uint64_t rt = now_ms(), ok = 0;

		for (uint64_t i = 0; i < pages; i++) {
			if (touch((volatile uint64_t *)(mem + i * PAGE), i ^ r->rounds))
				ok++;
			else
				r->sigbus++;
		}
		r->ok_pages = ok;
		rt = now_ms() - rt;
		r->round_ms_last = rt;
		r->round_ms_sum += rt;
		if (rt > r->round_ms_max)
			r->round_ms_max = rt;
		usleep(10000);
	}
	return 0;
}

/* ---- the host side ---- */

struct enclave {
	uint64_t base, size, pages;
	int fd;
};

/* A free, @size-aligned address range for an enclave (kept reserved). */
static uint64_t free_base(uint64_t size)
{
	uint8_t *p =
		mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint64_t base;

	if (p == MAP_FAILED)
		return 0;
	base = ((uintptr_t)p + size - 1) & ~(size - 1);
	if (base > (uintptr_t)p)
		munmap(p, base - (uintptr_t)p);
	if ((uintptr_t)p + 2 * size > base + size)
		munmap((void *)(uintptr_t)(base + size), (uintptr_t)p + 2 * size - (base + size));
	return base;
}

/* ADD_PAGES of @n pages at @offset from @src, measured; ENOMEM is retried and counted. */
static int add_pages(struct enclave *e, uint8_t *src, uint64_t offset, uint64_t n, uint64_t flags,
		     struct sgx_measurement *m, struct result *r)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = flags};
	uint64_t done = 0;

	while (done < n) {
		struct sgx_enclave_add_pages a = {
			.src = (uintptr_t)(src + done * PAGE),
			.offset = offset + done * PAGE,
			.length = (n - done) * PAGE,
			.secinfo = (uintptr_t)&secinfo,
			.flags = SGX_PAGE_MEASURE,
		};
		long ret = svc_remote_ioctl(e->fd, SGX_IOC_ENCLAVE_ADD_PAGES, &a);

		for (uint64_t o = 0; o < a.count; o += PAGE) {
			sgx_measure_eadd(m, a.offset + o, &secinfo);
			for (unsigned int c = 0; c < PAGE; c += 256)
				sgx_measure_eextend(m, a.offset + o + c, src + done * PAGE + o + c);
		}
		done += a.count / PAGE;
		if (ret == -ENOMEM) {
			r->enomem++;
			usleep(10000); /* its cgroup holds nothing reclaimable now */
			continue;
		}
		if (ret && ret != -EAGAIN && ret != -EINTR)
			return (int)ret;
	}
	return 0;
}

static int build(struct enclave *e, uint64_t nr_reg, EVP_PKEY *key, struct result *r)
{
	static struct sgx_secs secs __attribute__((aligned(4096)));
	struct sgx_enclave_create create = {.src = (uintptr_t)&secs};
	struct sgx_sign_enclave desc = {
		.attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT,
		.attributes_mask = ~(uint64_t)SGX_ATTR_INIT,
		.xfrm = 0x3,
		.xfrm_mask = 0x3,
		.date = 0x20261206,
	};
	static struct sgx_sigstruct sig;
	struct sgx_enclave_init init = {.sigstruct = (uintptr_t)&sig};
	struct sgx_measurement m;
	struct sgx_tcs *tcs;
	uint8_t *buf;
	void *addr;
	long ret;

	e->pages = nr_reg;
	for (e->size = 2 * PAGE; e->size < (nr_reg + 1) * PAGE; e->size *= 2)
		;
	e->base = free_base(e->size);
	buf = aligned_alloc(PAGE, BATCH * PAGE);
	if (!e->base || !buf)
		return -ENOMEM;
	e->fd = svc_remote_open(SVC_OPEN_ENCLAVE);
	if (e->fd < 0)
		return e->fd;
	memset(&secs, 0, sizeof(secs));
	secs.base = e->base;
	secs.size = e->size;
	secs.ssa_frame_size = 1;
	secs.attributes = desc.attributes;
	secs.xfrm = 0x3;
	/* A SECS refused for ENOMEM is the cgroup's limit with nothing to reclaim: wait. */
	while ((ret = svc_remote_ioctl(e->fd, SGX_IOC_ENCLAVE_CREATE, &create)) == -ENOMEM) {
		r->enomem++;
		usleep(10000);
	}
	if (ret)
		return (int)ret;
	sgx_measure_ecreate(&m, secs.ssa_frame_size, secs.size);
	memset(buf, 0, PAGE);
	tcs = (struct sgx_tcs *)buf;
	tcs->ssa_offset = PAGE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = PAGE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	ret = add_pages(e, buf, 0, 1, SGX_SECINFO_TCS, &m, r);
	for (uint64_t i = 0; !ret && i < nr_reg; i += BATCH) {
		uint64_t n = nr_reg - i < BATCH ? nr_reg - i : BATCH;

		for (uint64_t j = 0; j < n; j++) {
			memset(buf + j * PAGE, 0, PAGE);
			memcpy(buf + j * PAGE, &(uint64_t){i + j + 1}, 8);
		}
		ret = add_pages(e, buf, (i + 1) * PAGE, n,
				SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W, &m, r);
	}
	free(buf);
	if (ret)
		return (int)ret;
	sgx_measure_final(&m, desc.mrenclave);
	if (sgx_sign_sigstruct(&desc, key, &sig))
		return -EINVAL;
	ret = svc_remote_ioctl(e->fd, SGX_IOC_ENCLAVE_INIT, &init);
	if (ret)
		return (int)ret;
	addr = (void *)(uintptr_t)e->base;
	return svc_remote_mmap(&addr, e->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			       e->fd, 0);
}

static int host(uint64_t pages, unsigned int seconds, EVP_PKEY *key, struct result *r)
{
	uint64_t n = (pages + ENCLAVE_PAGES - 1) / ENCLAVE_PAGES, t0 = now_ms(), end;
	struct enclave *e = calloc(n, sizeof(*e));
	int ret = 0;

	if (!e)
		return -ENOMEM;
	for (uint64_t i = 0; i < n && !ret; i++)
		ret = build(&e[i], i + 1 < n ? ENCLAVE_PAGES : pages - i * ENCLAVE_PAGES, key, r);
	r->build_ms = now_ms() - t0;
	for (end = now_ms() + seconds * 1000ull; !ret && now_ms() < end; r->rounds++) {
		uint64_t rt = now_ms(), ok = 0;

		for (uint64_t i = 0; i < n; i++) {
			for (uint64_t p = 1; p <= e[i].pages; p++) {
				volatile uint64_t *w =
					(volatile uint64_t *)(uintptr_t)(e[i].base + p * PAGE);

				if (!touch(w + 1, r->rounds ^ p))
					r->sigbus++;
				else if (w[0] != p)
					r->bad++;
				else
					ok++;
			}
		}
		r->ok_pages = ok;
		rt = now_ms() - rt;
		r->round_ms_last = rt;
		r->round_ms_sum += rt;
		if (rt > r->round_ms_max)
			r->round_ms_max = rt;
	}
	free(e);
	return ret;
}

static void usage(FILE *f)
{
	fputs("Usage: epc_pressure --role vmm|host --mib N [--seconds S] [--key KEY.pem]\n"
	      "A client of the running platform service, charged to the EPC cgroup\n"
	      "$SOFTSGX_CGROUP names (else its own). --key (host role): an RSA-3072 e=3\n"
	      "key to sign its enclaves with (softsgx keygen).\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"role", required_argument, NULL, 'r'},	   {"mib", required_argument, NULL, 'm'},
		{"seconds", required_argument, NULL, 's'}, {"key", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},	   {NULL, 0, NULL, 0},
	};
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER};
	const char *role = NULL, *keypath = NULL, *cg = getenv("SOFTSGX_CGROUP");
	unsigned int seconds = 5;
	uint64_t mib = 0, t0;
	struct result r = {0};
	EVP_PKEY *key = NULL;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			role = optarg;
			break;
		case 'm':
			mib = strtoull(optarg, NULL, 0);
			break;
		case 's':
			seconds = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'k':
			keypath = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!role || !mib || (strcmp(role, "vmm") && strcmp(role, "host")) ||
	    (!strcmp(role, "host") && !keypath)) {
		usage(stderr);
		return 2;
	}
	if (keypath && sgx_sign_load_key(keypath, &key)) {
		fprintf(stderr, "epc_pressure: cannot load the key %s\n", keypath);
		return 2;
	}
	ret = svc_remote_connect(NULL, NULL, NULL);
	if (ret) {
		fprintf(stderr, "epc_pressure: no platform service: %s\n", strerror(-ret));
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	t0 = now_ms();
	ret = !strcmp(role, "vmm") ? vmm(mib << 8, seconds, &r) : host(mib << 8, seconds, key, &r);
	printf("{\"role\": \"%s\", \"cgroup\": \"%s\", \"mib\": %" PRIu64 ", \"error\": %d, "
	       "\"ok_pages\": %" PRIu64 ", \"sigbus\": %" PRIu64 ", \"enomem\": %" PRIu64
	       ", \"rounds\": %" PRIu64 ", \"bad\": %" PRIu64 ", \"evicted_zaps\": %" PRIu64
	       ", \"build_ms\": %" PRIu64 ", \"round_ms_avg\": %.1f, \"round_ms_max\": %" PRIu64
	       ", \"round_ms_last\": %" PRIu64 ", \"total_ms\": %" PRIu64 "}\n",
	       role, cg ? cg : "", mib, ret, r.ok_pages, r.sigbus, r.enomem, r.rounds, r.bad,
	       svc_remote_zaps(), r.build_ms,
	       r.rounds ? (double)r.round_ms_sum / (double)r.rounds : 0.0, r.round_ms_max,
	       r.round_ms_last, now_ms() - t0);
	fflush(stdout);
	svc_remote_disconnect();
	EVP_PKEY_free(key);
	return ret ? 1 : 0;
}
