// SPDX-License-Identifier: MIT
/*
 * Enclave build throughput of the CPU model: EADD and EEXTEND of a 64 MiB
 * enclave (16384 REG pages, every page measured), against the limits for the
 * same work measured in the same run:
 *
 *   EADD+EEXTEND   vs  SHA-256 of the exact byte stream MRENCLAVE hashes for
 *                      these pages: per page the 64-byte EADD block, then for
 *                      each 256-byte chunk its 64-byte EEXTEND block and the
 *                      chunk (5184 bytes per 4096), built beforehand in one
 *                      buffer and hashed in one SHA256_Update() -- the
 *                      interface measure.c uses. The run checks that this
 *                      stream, after the ECREATE block, gives the model's
 *                      MRENCLAVE.
 *   EADD+EEXTEND   vs  that hash plus a memcpy of the 64 MiB into the EPC:
 *                      all the work a build has to do.
 *   EADD alone     vs  memcpy of the same 64 MiB into the same EPC memory.
 *   ADD_PAGES      SGX_IOC_ENCLAVE_ADD_PAGES of the same 64 MiB, measured,
 *                  1 MiB per call, on a platform (kernel model and CPU
 *                  model) through the embedding API, vs the same two
 *                  limits: the kernel copies the source in (copy_from_user()
 *                  as process_vm_readv(), which pins every page), allocates
 *                  the EPC and the kernel's page state, and issues EADD and
 *                  the sixteen EEXTENDs per page (four calls of four
 *                  chunks, each taking the EPCM locks once). It takes the
 *                  mm and enclave locks once per 16-page batch, not per
 *                  page, and puts a batch's pages on the reclaimer's LRU
 *                  under one acquisition of its lock.
 *   under the shim the same ADD_PAGES calls made by a child of this program
 *                  with the shim preloaded (private mode, SOFTSGX_EPC=192M),
 *                  by open() and ioctl() of /dev/sgx_enclave, against
 *                  SHA-256 of the stream measured in that child: the build
 *                  a program gets under `softsgx run`, and the goal row
 *                  (>= 0.8). The difference from the row above is the
 *                  copy-in: the shim's fault-proof copy (shim/uaccess.c), a
 *                  `rep movsb` that its fault handler stops at a bad
 *                  address, straight into each EPC page (EADD then copies
 *                  nothing: encls_eadd_staged()), instead of
 *                  process_vm_readv() into a buffer; about 0.05-0.1 of the
 *                  ratio here.
 *   ADD_PAGES, not measured, vs the memcpy: the kernel's work and the copies
 *                  without the hash. A context line breaks a page's time
 *                  down (measured = unmeasured + EEXTENDs) beside the
 *                  SHA-256, the memcpy and the kernel's way of copying the
 *                  source in (process_vm_readv() of 64 KiB batches), each
 *                  measured alone.
 *
 * Each figure is the best of REPS runs, so first-touch faults of the EPC
 * memfd do not count; the model's runs and the limits alternate, so that a
 * load that comes and goes weighs on both. Output: a few lines of context and
 * one markdown table row per figure, "| figure | value | limit | ratio |",
 * which bench/run-benchmarks collects into bench/results.md. Times are the
 * thread's CPU time (see now()). Rates are of
 * enclave bytes (64 MiB per build) for every row, so ratios compare times.
 *
 * Because only this thread's time counts, work the kernel model moved to a
 * thread of its own would vanish from the ADD_PAGES rows without the build
 * getting faster. That was measured for the copy-in (a thread copying batch
 * N+1 while batch N is measured): the goal row rose by about 0.02, but the
 * wall-clock time of the build stayed the same and the process's CPU time
 * per page grew by about 1 us (the helper reads the source cold, and this
 * thread then reads the batch from the other core's cache instead of from
 * its own prefetches). The copy-in therefore stays on the caller's thread;
 * a figure here must come from doing less work, not from moving it.
 */
#define _GNU_SOURCE
/* SHA256_Update(), as measure.c, which says why; deprecated in OpenSSL 3. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "hw/hw.h"
#include "hw/hw_internal.h" /* secs_hidden(): the model's running MRENCLAVE */
#include "hw/measure.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/softsgx.h"

#define ENCL_PAGES    16384ULL
#define ENCL_SIZE     (ENCL_PAGES * SGX_PAGE_SIZE) /* 64 MiB: a power of two, as ELRANGE needs */
#define ENCL_BASE     0x100000000ULL
#define CHUNK	      256
#define REPS	      7
#define BLOCK	      64
#define ADD_CALL      (1ULL << 20)  /* bytes per ADD_PAGES call */
#define COPY_IN_BATCH (64ULL << 10) /* ADD_PAGES copies the source in 16 pages at a time */
/* The bytes MRENCLAVE hashes per page: EADD block, 16 x (EEXTEND block + chunk). */
#define STREAM_PER_PAGE (BLOCK + (SGX_PAGE_SIZE / CHUNK) * (BLOCK + CHUNK))

/*
 * The thread's CPU time (user and system): every figure here is the work of
 * this one thread, and on a machine shared with other jobs a wall clock also
 * counts the time slices they take from it.
 */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double mbps(uint64_t bytes, double seconds)
{
	return (double)bytes / seconds / 1e6;
}

static void row(const char *figure, double value, const char *limit_name, double limit)
{
	printf("| %s | %.1f MB/s | %.1f MB/s (%s) | %.2f |\n", figure, value, limit, limit_name,
	       value / limit);
}

struct bench {
	struct sgx_hw *hw;
	uint8_t *epc; /* direct map of the single section */
	uint8_t *src; /* 64 MiB of enclave content */
	struct sgx_secs *secs_src;
	struct sgx_secinfo secinfo;	  /* of every page */
	uint8_t *stream;		  /* what MRENCLAVE hashes after ECREATE */
	uint8_t mrenclave[SGX_HASH_SIZE]; /* the model's, from the last measured build */
};

static int die(const char *what, int ret)
{
	fprintf(stderr, "bench_build: %s failed: %#x\n", what, ret);
	return 1;
}

/* EPC page 0 is the SECS, pages 1..ENCL_PAGES the enclave. */
static int build(struct bench *b, bool measure, double *seconds)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = SGX_SECINFO_SECS};
	struct sgx_pageinfo pginfo = {
		.contents = (uintptr_t)b->secs_src,
		.metadata = (uintptr_t)&secinfo,
	};
	uint8_t *secs = b->epc;
	double t0;
	int ret;

	ret = encls_ecreate(b->hw, &pginfo, secs);
	if (ret)
		return die("ECREATE", ret);
	secinfo = b->secinfo;
	pginfo.secs = (uintptr_t)secs;

	t0 = now();
	for (uint64_t i = 0; i < ENCL_PAGES; i++) {
		uint8_t *page = b->epc + (i + 1) * SGX_PAGE_SIZE;

		pginfo.addr = ENCL_BASE + i * SGX_PAGE_SIZE;
		pginfo.contents = (uintptr_t)(b->src + i * SGX_PAGE_SIZE);
		ret = encls_eadd(b->hw, &pginfo, page);
		if (ret)
			return die("EADD", ret);
		if (!measure)
			continue;
		/* The sixteen EEXTENDs in one call: one taking of the EPCM locks. */
		ret = encls_eextend_chunks(b->hw, secs, page, SGX_PAGE_SIZE / CHUNK);
		if (ret)
			return die("EEXTEND", ret);
	}
	*seconds = now() - t0;
	if (measure)
		sgx_measure_final(&secs_hidden(secs)->mrenclave, b->mrenclave);

	/* Tear down, untimed, so the next run starts from free pages. */
	for (uint64_t i = 1; i <= ENCL_PAGES; i++) {
		ret = encls_eremove(b->hw, b->epc + i * SGX_PAGE_SIZE);
		if (ret)
			return die("EREMOVE", ret);
	}
	ret = encls_eremove(b->hw, secs);
	return ret ? die("EREMOVE of the SECS", ret) : 0;
}

/*
 * What a measured page costs the leaves besides the hash and the copy: the
 * EEXTENDs' operand checks and EPCM locks (the SDM's concurrency rules: the
 * page shared, the SECS exclusive), taken once for the page's sixteen
 * chunks as build() issues them. Measured alone as one such call per page
 * that the model refuses with #GP after taking both locks and checking the
 * page, because the page belongs to another SECS: the same work up to the
 * hash. Enclave A is EPC page 0 (SECS) and page 1; enclave B's SECS is
 * page 2.
 */
static int time_eextend_floor(struct bench *b, double *seconds)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {.flags = SGX_SECINFO_SECS};
	struct sgx_pageinfo pginfo = {
		.contents = (uintptr_t)b->secs_src,
		.metadata = (uintptr_t)&secinfo,
	};
	uint8_t *secs_a = b->epc, *page = b->epc + SGX_PAGE_SIZE,
		*secs_b = b->epc + 2 * SGX_PAGE_SIZE;
	int ret;
	double t0;

	if ((ret = encls_ecreate(b->hw, &pginfo, secs_a)) ||
	    (ret = encls_ecreate(b->hw, &pginfo, secs_b)))
		return die("ECREATE", ret);
	secinfo = b->secinfo;
	pginfo.secs = (uintptr_t)secs_a;
	pginfo.addr = ENCL_BASE;
	ret = encls_eadd(b->hw, &pginfo, page);
	if (ret)
		return die("EADD", ret);
	t0 = now();
	for (uint64_t i = 0; i < ENCL_PAGES; i++)
		if (encls_eextend_chunks(b->hw, secs_b, page, SGX_PAGE_SIZE / CHUNK) !=
		    ENCLS_FAULT(X86_TRAP_GP))
			return die("EEXTEND against another SECS", 0);
	*seconds = now() - t0;
	if ((ret = encls_eremove(b->hw, page)) || (ret = encls_eremove(b->hw, secs_a)) ||
	    (ret = encls_eremove(b->hw, secs_b)))
		return die("EREMOVE", ret);
	return 0;
}

/*
 * The byte stream MRENCLAVE hashes for the pages after ECREATE (SDM Vol. 3D,
 * "EADD", "EEXTEND"), written out independently of measure.c.
 */
static void make_stream(struct bench *b)
{
	uint8_t *p = b->stream;

	for (uint64_t i = 0; i < ENCL_PAGES; i++) {
		uint64_t off = i * SGX_PAGE_SIZE;

		memset(p, 0, BLOCK);
		memcpy(p, "EADD", 4);
		memcpy(p + 8, &off, 8);
		memcpy(p + 16, &b->secinfo, 48);
		p += BLOCK;
		for (unsigned int c = 0; c < SGX_PAGE_SIZE; c += CHUNK) {
			uint64_t coff = off + c;

			memset(p, 0, BLOCK);
			memcpy(p, "EEXTEND", 7);
			memcpy(p + 8, &coff, 8);
			memcpy(p + BLOCK, b->src + off + c, CHUNK);
			p += BLOCK + CHUNK;
		}
	}
}

/* ECREATE's block, then the stream, must give the model's MRENCLAVE. */
static int check_stream(struct bench *b)
{
	uint8_t block[BLOCK] = "ECREATE", md[SGX_HASH_SIZE];
	uint32_t ssa = b->secs_src->ssa_frame_size;
	uint64_t size = b->secs_src->size;
	SHA256_CTX ctx;

	memcpy(block + 8, &ssa, sizeof(ssa));
	memcpy(block + 12, &size, sizeof(size));
	SHA256_Init(&ctx);
	SHA256_Update(&ctx, block, sizeof(block));
	SHA256_Update(&ctx, b->stream, ENCL_PAGES * STREAM_PER_PAGE);
	SHA256_Final(md, &ctx);
	if (memcmp(md, b->mrenclave, sizeof(md))) {
		fprintf(stderr, "bench_build: the stream is not what MRENCLAVE hashes\n");
		return 1;
	}
	return 0;
}

/*
 * /dev/sgx_enclave of @p through the embedding API, or with @p NULL the
 * process's own, which the shim serves when it is preloaded: 0 or -errno.
 */
static int dev_open(struct softsgx_platform *p)
{
	int fd = p ? softsgx_open(p, "/dev/sgx_enclave", O_RDWR) : open("/dev/sgx_enclave", O_RDWR);

	return fd < 0 && !p ? -errno : fd;
}

static long dev_ioctl(struct softsgx_platform *p, int fd, unsigned long cmd, void *arg)
{
	if (p)
		return softsgx_ioctl(p, fd, cmd, arg);
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static void dev_close(struct softsgx_platform *p, int fd)
{
	if (p)
		softsgx_close(p, fd);
	else
		close(fd);
}

/*
 * ECREATE (untimed), ADD_PAGES of the 64 MiB, every page measured or none (timed),
 * and the enclave's release (untimed) through /dev/sgx_enclave (dev_open()).
 */
static int build_ioctl(struct softsgx_platform *p, struct bench *b, bool measure, double *seconds)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = b->secinfo;
	struct sgx_enclave_create create = {.src = (uintptr_t)b->secs_src};
	double t0;
	long ret;
	int fd;

	fd = dev_open(p);
	if (fd < 0)
		return die("open /dev/sgx_enclave", fd);
	ret = dev_ioctl(p, fd, SGX_IOC_ENCLAVE_CREATE, &create);
	if (ret) {
		dev_close(p, fd);
		return die("SGX_IOC_ENCLAVE_CREATE", (int)ret);
	}
	t0 = now();
	for (uint64_t off = 0; off < ENCL_SIZE; off += ADD_CALL) {
		struct sgx_enclave_add_pages add = {
			.src = (uintptr_t)(b->src + off),
			.offset = off,
			.length = ADD_CALL,
			.secinfo = (uintptr_t)&secinfo,
			.flags = measure ? SGX_PAGE_MEASURE : 0,
		};

		ret = dev_ioctl(p, fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add);
		if (ret || add.count != ADD_CALL) {
			dev_close(p, fd);
			return die("SGX_IOC_ENCLAVE_ADD_PAGES", (int)ret);
		}
	}
	*seconds = now() - t0;
	dev_close(p, fd);
	return 0;
}

/* A platform whose EPC holds the enclave, its SECS and VA pages without reclaim. */
static struct softsgx_platform *platform(void)
{
	struct softsgx_config cfg;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 2;
	cfg.section_size[0] = 2 * ENCL_SIZE;
	cfg.section_size[1] = 2 * ENCL_SIZE;
	return softsgx_platform_new(&cfg);
}

static double time_stream_sha256(struct bench *b)
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	SHA256_CTX ctx;
	double t0 = now();

	SHA256_Init(&ctx);
	SHA256_Update(&ctx, b->stream, ENCL_PAGES * STREAM_PER_PAGE);
	SHA256_Final(md, &ctx);
	/* Keep the hash from being optimised away. */
	__asm__ volatile("" : : "r"(md) : "memory");
	return now() - t0;
}

/* The copy EADD has to do at least: the same bytes into the same EPC pages. */
static double time_memcpy(struct bench *b)
{
	double t0 = now();

	memcpy(b->epc + SGX_PAGE_SIZE, b->src, ENCL_SIZE);
	/* Keep the copy from being optimised away. */
	__asm__ volatile("" : : "r"(b->epc) : "memory");
	return now() - t0;
}

/*
 * The kernel model's copy-in of the source, as ADD_PAGES does it: one
 * process_vm_readv() of each 64 KiB batch into one reused buffer (context
 * for the ADD_PAGES rows: a cost a kernel that pins the source avoids, and
 * the model needs to turn a bad source into -EFAULT).
 */
static double time_copy_in(struct bench *b, uint8_t *bounce)
{
	double t0 = now();

	for (uint64_t off = 0; off < ENCL_SIZE; off += COPY_IN_BATCH) {
		struct iovec l = {.iov_base = bounce, .iov_len = COPY_IN_BATCH};
		struct iovec r = {.iov_base = b->src + off, .iov_len = COPY_IN_BATCH};

		if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != (ssize_t)COPY_IN_BATCH)
			return -1;
	}
	return now() - t0;
}

static void keep_best(double *best, double t)
{
	if (t < *best)
		*best = t;
}

/*
 * The build a program gets under `softsgx run` (private mode): the same
 * ECREATE and ADD_PAGES calls made by this process with open() and ioctl()
 * of /dev/sgx_enclave (build_ioctl() without a platform), which the shim
 * serves. Runs in a child started with
 * the shim preloaded (run_under_shim()); its ADD_PAGES copies the source
 * in with the shim's fault-proof copy (shim/uaccess.c), not
 * process_vm_readv(). CPU time of this thread, as every row here.
 */
#define SHIM_CHILD_ENV "SOFTSGX_BENCH_BUILD_SHIM_CHILD"

static int shim_child(struct bench *b)
{
	double t_shim = 1e30, t_sha = 1e30, t;

	/* Untimed: the platform's EPC memory is touched for the first time. */
	if (build_ioctl(NULL, b, true, &t))
		return 1;
	for (int r = 0; r < REPS; r++) {
		if (build_ioctl(NULL, b, true, &t))
			return 1;
		keep_best(&t_shim, t);
		keep_best(&t_sha, time_stream_sha256(b));
	}
	printf("bench_build: under the shim: ADD_PAGES %.4f s, SHA-256 of the measured stream "
	       "%.4f s, best of %d runs\n",
	       t_shim, t_sha, REPS);
	row("enclave build under `softsgx run` (a program's ioctl() through the shim), ADD_PAGES "
	    "(EADD+EEXTEND), 64 MiB, all measured (goal >= 0.8)",
	    mbps(ENCL_SIZE, t_shim), "SHA-256 of the exact measured stream, 5184 bytes per page",
	    mbps(ENCL_SIZE, t_sha));
	return 0;
}

/*
 * This program again, with the shim preloaded and a private platform whose
 * EPC holds the enclave: shim_child()'s rows. Without SOFTSGX_PRELOAD
 * (make bench sets it) a line says why there are none.
 */
static int run_under_shim(void)
{
	const char *lib = getenv("SOFTSGX_PRELOAD");
	int status;
	pid_t pid;

	if (!lib || !*lib) {
		printf("bench_build: SOFTSGX_PRELOAD not set: no row under the shim\n");
		return 0;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return die("fork", -errno);
	if (!pid) {
		char *argv[] = {"bench_build", NULL};

		if (setenv("LD_PRELOAD", lib, 1) || setenv(SHIM_CHILD_ENV, "1", 1) ||
		    setenv("SOFTSGX_SERVICE", "0", 1) || setenv("SOFTSGX_EPC", "192M", 1) ||
		    setenv("SOFTSGX_SECTIONS", "1", 1))
			_exit(1);
		execv("/proc/self/exe", argv);
		_exit(1);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return die("the build under the shim", status);
	return 0;
}

int main(void)
{
	struct sgx_hw_config cfg;
	struct sgx_hw_section s;
	struct bench b = {0};
	double t_build = 1e30, t_add = 1e30, t_sha = 1e30, t_copy = 1e30, t_ioctl = 1e30, t;
	double t_ioctl_add = 1e30, t_copy_in = 1e30, t_floor = 1e30;
	uint8_t *bounce = aligned_alloc(SGX_PAGE_SIZE, COPY_IN_BATCH);
	struct softsgx_platform *p = NULL;
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	int ret = 1;

	b.src = aligned_alloc(SGX_PAGE_SIZE, ENCL_SIZE);
	b.secs_src = aligned_alloc(SGX_PAGE_SIZE, sizeof(*b.secs_src));
	b.stream = aligned_alloc(SGX_PAGE_SIZE, ENCL_PAGES * STREAM_PER_PAGE);
	if (!b.src || !b.secs_src || !b.stream || !bounce) {
		perror("bench_build: aligned_alloc");
		goto out;
	}
	/* Content that no layer can shortcut: xorshift64 noise. */
	for (uint64_t i = 0; i < ENCL_SIZE / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b.src + 8 * i, &x, 8);
	}
	memset(b.secs_src, 0, sizeof(*b.secs_src));
	b.secs_src->base = ENCL_BASE;
	b.secs_src->size = ENCL_SIZE;
	b.secs_src->ssa_frame_size = 1;
	b.secs_src->attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	b.secs_src->xfrm = 0x3;
	b.secinfo.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W;
	make_stream(&b);
	if (getenv(SHIM_CHILD_ENV))
		return shim_child(&b);

	sgx_hw_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = (ENCL_PAGES + 1) * SGX_PAGE_SIZE;
	b.hw = sgx_hw_new(&cfg);
	if (!b.hw) {
		perror("bench_build: sgx_hw_new");
		goto out;
	}
	hw_epc_section(b.hw, 0, &s);
	b.epc = s.virt;
	p = platform();
	if (!p) {
		perror("bench_build: softsgx_platform_new");
		goto out;
	}
	/* Untimed: the platform's EPC memory is touched for the first time. */
	if (build_ioctl(p, &b, true, &t))
		goto out;

	for (int r = 0; r < REPS; r++) {
		if (build(&b, true, &t))
			goto out;
		keep_best(&t_build, t);
		keep_best(&t_sha, time_stream_sha256(&b));
		if (build(&b, false, &t))
			goto out;
		keep_best(&t_add, t);
		keep_best(&t_copy, time_memcpy(&b));
		if (build_ioctl(p, &b, true, &t))
			goto out;
		keep_best(&t_ioctl, t);
		if (build_ioctl(p, &b, false, &t))
			goto out;
		keep_best(&t_ioctl_add, t);
		t = time_copy_in(&b, bounce);
		if (t < 0) {
			perror("bench_build: process_vm_readv");
			goto out;
		}
		keep_best(&t_copy_in, t);
		if (time_eextend_floor(&b, &t))
			goto out;
		keep_best(&t_floor, t);
	}
	if (check_stream(&b))
		goto out;

	printf("bench_build: %llu REG pages (%llu MiB), best of %d runs, MB = 10^6 bytes\n",
	       ENCL_PAGES, ENCL_SIZE >> 20, REPS);
	printf("bench_build: ADD_PAGES %.4f s, EADD+EEXTEND %.4f s, EADD %.4f s, SHA-256 of the "
	       "%llu-byte measured stream %.4f s (MRENCLAVE checked), memcpy %.4f s\n",
	       t_ioctl, t_build, t_add, ENCL_PAGES * STREAM_PER_PAGE, t_sha, t_copy);
	row("enclave build through the embedding API, ADD_PAGES ioctl (EADD+EEXTEND), 64 MiB, all "
	    "measured (copy-in by process_vm_readv())",
	    mbps(ENCL_SIZE, t_ioctl), "SHA-256 of the exact measured stream, 5184 bytes per page",
	    mbps(ENCL_SIZE, t_sha));
	row("enclave build through the embedding API, ADD_PAGES ioctl, against all its work",
	    mbps(ENCL_SIZE, t_ioctl),
	    "SHA-256 of that stream + memcpy of 64 MiB into the EPC",
	    mbps(ENCL_SIZE, t_sha + t_copy));
	row("EADD+EEXTEND leaves (CPU model alone), 64 MiB enclave, all measured",
	    mbps(ENCL_SIZE, t_build), "SHA-256 of the exact measured stream, 5184 bytes per page",
	    mbps(ENCL_SIZE, t_sha));
	row("EADD+EEXTEND leaves, against all its work", mbps(ENCL_SIZE, t_build),
	    "SHA-256 of that stream + memcpy of 64 MiB into the EPC",
	    mbps(ENCL_SIZE, t_sha + t_copy));
	row("EADD+EEXTEND leaves, against all its work and the EEXTENDs' own checks and locks",
	    mbps(ENCL_SIZE, t_build),
	    "SHA-256 of the stream + memcpy into the EPC + a page's EEXTENDs refused after "
	    "their EPCM checks and locks, per page",
	    mbps(ENCL_SIZE, t_sha + t_copy + t_floor));
	row("EADD only, 64 MiB enclave", mbps(ENCL_SIZE, t_add), "memcpy of 64 MiB into the EPC",
	    mbps(ENCL_SIZE, t_copy));
	row("ADD_PAGES ioctl, not measured (EADD only), 64 MiB", mbps(ENCL_SIZE, t_ioctl_add),
	    "memcpy of 64 MiB into the EPC", mbps(ENCL_SIZE, t_copy));
	/*
	 * Where a measured build's time goes, per page: what the unmeasured
	 * build costs (the kernel's work and the copies), and what the
	 * sixteen EEXTENDs add above the hash of their bytes (the leaves'
	 * checks and EPCM locks).
	 */
	printf("bench_build: per page: ADD_PAGES measured %.2f us = unmeasured %.2f us + EEXTENDs "
	       "%.2f us; SHA-256 of the page's stream %.2f us; memcpy into the EPC %.2f us; "
	       "copy-in of the source (process_vm_readv, 64 KiB batches) %.2f us; leaves %.2f us "
	       "= EADD %.2f us + EEXTENDs %.2f us; a page's EEXTENDs without their hash (refused "
	       "after the checks and locks) %.2f us\n",
	       t_ioctl / ENCL_PAGES * 1e6, t_ioctl_add / ENCL_PAGES * 1e6,
	       (t_ioctl - t_ioctl_add) / ENCL_PAGES * 1e6, t_sha / ENCL_PAGES * 1e6,
	       t_copy / ENCL_PAGES * 1e6, t_copy_in / ENCL_PAGES * 1e6, t_build / ENCL_PAGES * 1e6,
	       t_add / ENCL_PAGES * 1e6, (t_build - t_add) / ENCL_PAGES * 1e6,
	       t_floor / ENCL_PAGES * 1e6);
	if (run_under_shim())
		goto out;
	ret = 0;
out:
	free(b.src);
	free(b.secs_src);
	free(b.stream);
	free(bounce);
	if (p)
		softsgx_platform_free(p);
	sgx_hw_free(b.hw);
	return ret;
}
