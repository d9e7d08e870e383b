// SPDX-License-Identifier: MIT
/*
 * Paging throughput of the kernel model: pages evicted by the reclaimer
 * (age, zap the PTE, EBLOCK, ETRACK, EWB into backing storage) and loaded
 * back by touching them (SIGSEGV, fault path, ELDU, PTE installed), against
 * the physical limit measured in the same run:
 *
 *   evict+reload   vs  AES-128-GCM seal + open of one 4 KiB page with 128
 *                      bytes of AAD (OpenSSL EVP, one reused context each),
 *                      the cryptography EWB and ELDU cannot avoid.
 *   evict alone    vs  seal alone;  reload alone  vs  open alone.
 *   page_seal + page_unseal of hw/page_crypto.c (a fresh context per call,
 *                      so leaves stay reentrant) vs the same raw seal + open.
 *   evict+reload   vs  the mechanism underneath, without SGX: per page an
 *                      mmap() that zaps it, then a touch that faults, a
 *                      SIGSEGV handler that maps a memfd page there, the retry.
 *                      Both PTE changes and the signal are system-bound; on a
 *                      virtual machine they cost far more than the crypto.
 *
 * The enclave has ENCL_PAGES REG pages in an EPC twice that size, so every
 * eviction is forced with softsgx_reclaim() (no ksgxd) and every reload is a
 * fault. It is not initialized: EINIT would need a signing key and changes
 * nothing for the children; the SECS stays resident, so the figures are
 * child pages only. Each figure is the best of REPS rounds. Output: context
 * lines and one markdown row per figure, "| figure | value | limit | ratio |",
 * which bench/run-benchmarks collects into bench/results.md.
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
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "page_crypto.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/softsgx.h"

#define ENCL_PAGES 4096ULL
#define ENCL_SIZE  (ENCL_PAGES * SGX_PAGE_SIZE) /* 16 MiB, a power of two */
#define EPC_PAGES  (2 * ENCL_PAGES)
#define AAD_SIZE   128 /* the MAC header EWB authenticates with the page */
#define REPS	   5

static struct softsgx_platform *platform;
/* Raw mode of the fault handler: map this memfd's page at the fault address. */
static int raw_memfd = -1;
static uint8_t *raw_base;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void row(const char *figure, double value, const char *limit_name, double limit)
{
	printf("| %s | %.0f pages/s | %.0f pages/s (%s) | %.2f |\n", figure, value, limit,
	       limit_name, value / limit);
}

static int die(const char *what, long ret)
{
	fprintf(stderr, "bench_reclaim: %s failed: %ld\n", what, ret);
	return 1;
}

/* The page-fault entry a runtime's shim would have: SGX mappings go to the model. */
static void on_segv(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	long err = uc->uc_mcontext.gregs[REG_ERR];
	int access = (err & 0x2) ? PROT_WRITE : PROT_READ;

	(void)sig;
	if (raw_memfd >= 0) {
		uintptr_t page = (uintptr_t)si->si_addr & ~(uintptr_t)(SGX_PAGE_SIZE - 1);

		if (mmap((void *)page, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, raw_memfd,
			 (off_t)(page - (uintptr_t)raw_base)) != MAP_FAILED)
			return;
	} else if (softsgx_handle_fault(platform, si->si_addr, access) == SOFTSGX_FAULT_RETRY) {
		return;
	}
	/* Not ours, or SIGBUS: a bug in the model; die loudly. */
	signal(SIGSEGV, SIG_DFL);
}

/* An ELRANGE base aligned to its size that is free right now. */
static uint64_t free_base(uint64_t size)
{
	void *p =
		mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint64_t base;

	if (p == MAP_FAILED)
		return 0;
	base = ((uintptr_t)p + size - 1) & ~(size - 1);
	munmap(p, 2 * size);
	return base;
}

/* Open, ECREATE, EADD ENCL_PAGES pages (page i starts with i), mmap. */
static int build(uint8_t **base_out, int *fd_out)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {
		.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
	};
	struct sgx_secs *secs = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	uint8_t *src = aligned_alloc(SGX_PAGE_SIZE, ENCL_SIZE);
	struct sgx_enclave_create create;
	struct sgx_enclave_add_pages add;
	uint64_t base = free_base(ENCL_SIZE);
	void *addr = (void *)(uintptr_t)base;
	long ret;
	int fd;

	if (!secs || !src || !base)
		return die("allocation", -ENOMEM);
	memset(secs, 0, sizeof(*secs));
	secs->base = base;
	secs->size = ENCL_SIZE;
	secs->ssa_frame_size = 1;
	secs->attributes = SGX_ATTR_DEBUG | SGX_ATTR_MODE64BIT;
	secs->xfrm = 0x3;
	for (uint64_t i = 0; i < ENCL_PAGES; i++) {
		memset(src + i * SGX_PAGE_SIZE, (int)(i & 0xFF), SGX_PAGE_SIZE);
		memcpy(src + i * SGX_PAGE_SIZE, &i, sizeof(i));
	}
	fd = softsgx_open(platform, "/dev/sgx_enclave", 0);
	if (fd < 0)
		return die("open", fd);
	create.src = (uintptr_t)secs;
	ret = softsgx_ioctl(platform, fd, SGX_IOC_ENCLAVE_CREATE, &create);
	if (ret)
		return die("ENCLAVE_CREATE", ret);
	add = (struct sgx_enclave_add_pages){
		.src = (uintptr_t)src,
		.offset = 0,
		.length = ENCL_SIZE,
		.secinfo = (uintptr_t)&secinfo,
	};
	ret = softsgx_ioctl(platform, fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add);
	if (ret)
		return die("ENCLAVE_ADD_PAGES", ret);
	ret = softsgx_mmap(platform, &addr, ENCL_SIZE, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_FIXED, fd, 0);
	if (ret)
		return die("mmap", ret);
	free(src);
	free(secs);
	*base_out = addr;
	*fd_out = fd;
	return 0;
}

static uint64_t evictions(void)
{
	struct softsgx_stats st;

	softsgx_get_stats(platform, &st);
	return st.evictions;
}

/* Touch every page: a fault (and ELDU when evicted) per page. */
static int touch_all(uint8_t *base)
{
	for (uint64_t i = 0; i < ENCL_PAGES; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(base + i * SGX_PAGE_SIZE);

		if (*p != i)
			return die("content check", (long)i);
	}
	return 0;
}

static int paging_rounds(uint8_t *base, double *best_evict, double *best_reload)
{
	*best_evict = *best_reload = 1e30;
	/* Map every page first, so each round evicts pages that are mapped. */
	if (touch_all(base))
		return 1;
	for (int r = 0; r < REPS; r++) {
		uint64_t target = evictions() + ENCL_PAGES;
		double t0 = now(), t1, t2;

		/* Two passes per page: the first only takes its young bit. */
		for (uint64_t batches = 0; evictions() < target; batches++)
			if (batches > 4 * ENCL_PAGES)
				return die("eviction (no progress)", (long)(target - evictions()));
			else
				softsgx_reclaim(platform);
		t1 = now();
		if (touch_all(base))
			return 1;
		t2 = now();
		if (t1 - t0 < *best_evict)
			*best_evict = t1 - t0;
		if (t2 - t1 < *best_reload)
			*best_reload = t2 - t1;
	}
	return 0;
}

/* The zap + fault + map + retry cycle alone, on a memfd of ENCL_PAGES pages. */
static int raw_rounds(double *best)
{
	int ret = 1;

	*best = 1e30;
	raw_memfd = memfd_create("bench_reclaim", MFD_CLOEXEC);
	if (raw_memfd < 0 || ftruncate(raw_memfd, ENCL_SIZE))
		return die("memfd", -errno);
	raw_base = mmap(NULL, ENCL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, raw_memfd, 0);
	if (raw_base == MAP_FAILED) {
		die("mmap", -errno);
		goto out;
	}
	for (uint64_t i = 0; i < ENCL_PAGES; i++)
		memcpy(raw_base + i * SGX_PAGE_SIZE, &i, sizeof(i));
	for (int r = 0; r < REPS; r++) {
		double t0 = now(), t;

		for (uint64_t i = 0; i < ENCL_PAGES; i++)
			if (mmap(raw_base + i * SGX_PAGE_SIZE, SGX_PAGE_SIZE, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
				 0) == MAP_FAILED) {
				die("zap", -errno);
				goto out;
			}
		if (touch_all(raw_base))
			goto out;
		t = now() - t0;
		if (t < *best)
			*best = t;
	}
	ret = 0;
out:
	if (raw_base && raw_base != MAP_FAILED)
		munmap(raw_base, ENCL_SIZE);
	close(raw_memfd);
	raw_memfd = -1;
	return ret;
}

struct gcm {
	EVP_CIPHER_CTX *enc, *dec;
	uint8_t key[16];
	uint8_t aad[AAD_SIZE];
	uint8_t *plain, *cipher, *out;
	uint8_t tag[16];
};

static int gcm_seal(struct gcm *g, uint64_t nonce)
{
	uint8_t iv[12] = {0};
	int len, ok;

	memcpy(iv, &nonce, sizeof(nonce));
	ok = EVP_EncryptInit_ex(g->enc, NULL, NULL, NULL, iv) == 1 &&
	     EVP_EncryptUpdate(g->enc, NULL, &len, g->aad, AAD_SIZE) == 1 &&
	     EVP_EncryptUpdate(g->enc, g->cipher, &len, g->plain, SGX_PAGE_SIZE) == 1 &&
	     EVP_EncryptFinal_ex(g->enc, g->cipher + len, &len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(g->enc, EVP_CTRL_GCM_GET_TAG, 16, g->tag) == 1;
	return ok ? 0 : -1;
}

static int gcm_open(struct gcm *g, uint64_t nonce)
{
	uint8_t iv[12] = {0};
	int len, ok;

	memcpy(iv, &nonce, sizeof(nonce));
	ok = EVP_DecryptInit_ex(g->dec, NULL, NULL, NULL, iv) == 1 &&
	     EVP_DecryptUpdate(g->dec, NULL, &len, g->aad, AAD_SIZE) == 1 &&
	     EVP_DecryptUpdate(g->dec, g->out, &len, g->cipher, SGX_PAGE_SIZE) == 1 &&
	     EVP_CIPHER_CTX_ctrl(g->dec, EVP_CTRL_GCM_SET_TAG, 16, g->tag) == 1 &&
	     EVP_DecryptFinal_ex(g->dec, g->out + len, &len) == 1;
	return ok ? 0 : -1;
}

enum gcm_mode { SEAL_OPEN, SEAL, OPEN, MODEL };

/* Best time over REPS for ENCL_PAGES pages of @mode. */
static int gcm_rounds(struct gcm *g, enum gcm_mode mode, double *best)
{
	uint64_t nonce = 1;

	*best = 1e30;
	if (gcm_seal(g, nonce)) /* OPEN needs a valid tag to check */
		return die("AES-GCM seal", 0);
	for (int r = 0; r < REPS; r++) {
		double t0 = now(), t;

		for (uint64_t i = 0; i < ENCL_PAGES; i++) {
			int bad = 0;

			switch (mode) {
			case SEAL_OPEN:
				bad = gcm_seal(g, ++nonce) || gcm_open(g, nonce);
				break;
			case SEAL:
				bad = gcm_seal(g, ++nonce);
				break;
			case OPEN:
				bad = gcm_open(g, nonce);
				break;
			case MODEL:
				nonce++;
				bad = page_seal(g->key, nonce, g->aad, AAD_SIZE, g->plain,
						g->cipher, g->tag) != PAGE_CRYPTO_OK ||
				      page_unseal(g->key, nonce, g->aad, AAD_SIZE, g->cipher,
						  g->tag, g->out) != PAGE_CRYPTO_OK;
				break;
			}
			if (bad)
				return die("AES-GCM", (long)mode);
		}
		t = now() - t0;
		if (t < *best)
			*best = t;
	}
	return 0;
}

int main(void)
{
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER};
	struct softsgx_config cfg;
	struct gcm g = {0};
	double t_evict, t_reload, t_both, t_seal, t_open, t_model, t_raw;
	uint8_t *base;
	int fd, ret = 1;

	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = EPC_PAGES * SGX_PAGE_SIZE;
	cfg.no_ksgxd = true;
	platform = softsgx_platform_new(&cfg);
	if (!platform) {
		perror("bench_reclaim: softsgx_platform_new");
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	if (build(&base, &fd) || paging_rounds(base, &t_evict, &t_reload) || raw_rounds(&t_raw))
		goto out;

	g.enc = EVP_CIPHER_CTX_new();
	g.dec = EVP_CIPHER_CTX_new();
	g.plain = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	g.cipher = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	g.out = aligned_alloc(SGX_PAGE_SIZE, SGX_PAGE_SIZE);
	if (!g.enc || !g.dec || !g.plain || !g.cipher || !g.out ||
	    RAND_bytes(g.key, sizeof(g.key)) != 1 || RAND_bytes(g.plain, SGX_PAGE_SIZE) != 1 ||
	    RAND_bytes(g.aad, sizeof(g.aad)) != 1 ||
	    EVP_EncryptInit_ex(g.enc, EVP_aes_128_gcm(), NULL, g.key, NULL) != 1 ||
	    EVP_DecryptInit_ex(g.dec, EVP_aes_128_gcm(), NULL, g.key, NULL) != 1) {
		die("OpenSSL set-up", 0);
		goto out;
	}
	if (gcm_rounds(&g, SEAL_OPEN, &t_both) || gcm_rounds(&g, SEAL, &t_seal) ||
	    gcm_rounds(&g, OPEN, &t_open) || gcm_rounds(&g, MODEL, &t_model))
		goto out;

	printf("bench_reclaim: %llu REG pages (%llu MiB) in an EPC of %llu pages, best of %d "
	       "rounds\n",
	       ENCL_PAGES, ENCL_SIZE >> 20, (unsigned long long)EPC_PAGES, REPS);
	printf("bench_reclaim: evict %.3f s, reload %.3f s; AES-128-GCM seal+open %.3f s, seal "
	       "%.3f s, open %.3f s, page_seal+page_unseal %.3f s, zap+fault+map %.3f s\n",
	       t_evict, t_reload, t_both, t_seal, t_open, t_model, t_raw);
	row("evict+reload (reclaimer EWB, then fault + ELDU), 4 KiB pages",
	    ENCL_PAGES / (t_evict + t_reload), "AES-128-GCM seal+open of 4 KiB, OpenSSL EVP",
	    ENCL_PAGES / t_both);
	row("evict only (softsgx_reclaim until every page is out)", ENCL_PAGES / t_evict,
	    "AES-128-GCM seal of 4 KiB", ENCL_PAGES / t_seal);
	row("reload only (touch: SIGSEGV, fault path, ELDU, PTE)", ENCL_PAGES / t_reload,
	    "AES-128-GCM open of 4 KiB", ENCL_PAGES / t_open);
	row("evict+reload, against the mechanism", ENCL_PAGES / (t_evict + t_reload),
	    "zap by mmap, SIGSEGV, mmap of a memfd page, retry", ENCL_PAGES / t_raw);
	row("page_seal+page_unseal of the CPU model (fresh context per call)", ENCL_PAGES / t_model,
	    "AES-128-GCM seal+open of 4 KiB, reused contexts", ENCL_PAGES / t_both);
	ret = 0;
	softsgx_close(platform, fd);
	softsgx_munmap(platform, base, ENCL_SIZE);
out:
	EVP_CIPHER_CTX_free(g.enc);
	EVP_CIPHER_CTX_free(g.dec);
	free(g.plain);
	free(g.cipher);
	free(g.out);
	softsgx_platform_free(platform);
	return ret;
}
