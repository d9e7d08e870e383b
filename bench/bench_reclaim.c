// SPDX-License-Identifier: MIT
/*
 * Paging throughput of the kernel model: pages evicted by the reclaimer
 * (age, zap the PTE, EBLOCK, ETRACK, EWB into backing storage) and loaded
 * back by touching them (SIGSEGV, fault path, ELDU, PTE installed), each
 * against two limits measured in the same run:
 *
 * - The mechanism: what an eviction or a reload has to do at least, done by
 *   hand on a memfd standing for the EPC, without SGX or the model:
 *     evict, per page: one system call that removes the page's mapping
 *       (mmap of PROT_NONE over it, as the model's PTE zap) and the
 *       AES-128-GCM seal of the page (through a second mapping of the memfd,
 *       the model's EPC direct map) into a backing buffer, tag aside;
 *     reload, per page: the touch that faults, the SIGSEGV handler, the
 *       AES-128-GCM open of the backing copy into the memfd page, one system
 *       call that maps that page at the address (mmap of the memfd), return
 *       and retry.
 *   No copy beyond the cipher's own reads and writes, one reused cipher
 *   context per direction; backing pages exist already (after the first
 *   round the model's do too). evict+reload's mechanism is the sum.
 * - The cryptography alone: AES-128-GCM seal and/or open of one 4 KiB page
 *   with 128 bytes of AAD (OpenSSL EVP, one reused context each), on buffers
 *   in cache.
 *
 * A further row compares page_seal() + page_unseal() of hw/page_crypto.c
 * with that raw seal + open.
 *
 * The enclave has ENCL_PAGES REG pages in an EPC twice that size, so every
 * eviction is forced with softsgx_reclaim() (no ksgxd) and every reload is a
 * fault. It is not initialized: EINIT would need a signing key and changes
 * nothing for the children; the SECS stays resident, so the figures are
 * child pages only. Each figure is the best of REPS rounds; model and
 * mechanism rounds alternate. Output: context
 * lines and one markdown row per figure, "| figure | value | limit | ratio |",
 * which bench/run-benchmarks collects into bench/results.md. Times are the
 * thread's CPU time (see now()).
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

#define BENCH_NAME "bench_reclaim"
#include "bench/bench_platform.h"
#include "hw/page_crypto.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/softsgx.h"

#define ENCL_PAGES 4096ULL
#define ENCL_SIZE  (ENCL_PAGES * SGX_PAGE_SIZE) /* 16 MiB, a power of two */
#define EPC_PAGES  (2 * ENCL_PAGES)
#define AAD_SIZE   128 /* the MAC header EWB authenticates with the page */
#define REPS	   7

static struct softsgx_platform *platform;

struct gcm {
	EVP_CIPHER_CTX *enc, *dec;
	uint8_t key[16];
	uint8_t aad[AAD_SIZE];
	uint8_t *plain, *cipher, *out;
	uint8_t tag[16];
};

/*
 * The mechanism (raw_rounds()): ENCL_PAGES pages of a memfd mapped one by one
 * at @base, all of it at @epc, sealed copies in @backing. While @active,
 * the fault handler is the mechanism's reload.
 */
static struct raw {
	int memfd;
	uint8_t *base, *epc, *backing;
	uint8_t (*tags)[16];
	uint64_t round; /* nonce = round * ENCL_PAGES + page + 1: never repeats */
	struct gcm *g;
	bool active; /* the fault handler reloads for the mechanism */
	bool failed;
} raw = {.memfd = -1};

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

static int gcm_seal(struct gcm *g, uint64_t nonce, const uint8_t *plain, uint8_t *cipher,
		    uint8_t tag[16])
{
	uint8_t iv[12] = {0};
	int len, ok;

	memcpy(iv, &nonce, sizeof(nonce));
	ok = EVP_EncryptInit_ex(g->enc, NULL, NULL, NULL, iv) == 1 &&
	     EVP_EncryptUpdate(g->enc, NULL, &len, g->aad, AAD_SIZE) == 1 &&
	     EVP_EncryptUpdate(g->enc, cipher, &len, plain, SGX_PAGE_SIZE) == 1 &&
	     EVP_EncryptFinal_ex(g->enc, cipher + len, &len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(g->enc, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
	return ok ? 0 : -1;
}

static int gcm_open(struct gcm *g, uint64_t nonce, const uint8_t *cipher, const uint8_t tag[16],
		    uint8_t *out)
{
	uint8_t iv[12] = {0}, t[16];
	int len, ok;

	memcpy(iv, &nonce, sizeof(nonce));
	memcpy(t, tag, sizeof(t));
	ok = EVP_DecryptInit_ex(g->dec, NULL, NULL, NULL, iv) == 1 &&
	     EVP_DecryptUpdate(g->dec, NULL, &len, g->aad, AAD_SIZE) == 1 &&
	     EVP_DecryptUpdate(g->dec, out, &len, cipher, SGX_PAGE_SIZE) == 1 &&
	     EVP_CIPHER_CTX_ctrl(g->dec, EVP_CTRL_GCM_SET_TAG, 16, t) == 1 &&
	     EVP_DecryptFinal_ex(g->dec, out + len, &len) == 1;
	return ok ? 0 : -1;
}

/* The mechanism's reload of the page at @addr: open its copy, map it, retry. */
static bool raw_reload(void *addr)
{
	uintptr_t page = (uintptr_t)addr & ~(uintptr_t)(SGX_PAGE_SIZE - 1);
	uint64_t i = (page - (uintptr_t)raw.base) / SGX_PAGE_SIZE;

	if (page < (uintptr_t)raw.base || i >= ENCL_PAGES)
		return false;
	if (gcm_open(raw.g, raw.round * ENCL_PAGES + i + 1, raw.backing + i * SGX_PAGE_SIZE,
		     raw.tags[i], raw.epc + i * SGX_PAGE_SIZE)) {
		raw.failed = true;
		return false;
	}
	return mmap((void *)page, SGX_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		    raw.memfd, (off_t)(i * SGX_PAGE_SIZE)) != MAP_FAILED;
}

/* The page-fault entry a runtime's shim would have: SGX mappings go to the model. */
static void on_segv(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	long err = uc->uc_mcontext.gregs[REG_ERR];
	int access = (err & 0x2) ? PROT_WRITE : PROT_READ;

	(void)sig;
	if (raw.active) {
		if (raw_reload(si->si_addr))
			return;
	} else if (softsgx_handle_fault(platform, si->si_addr, access) == SOFTSGX_FAULT_RETRY) {
		return;
	}
	/* Not ours, or SIGBUS: a bug in the model; die loudly. */
	signal(SIGSEGV, SIG_DFL);
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

static void keep_best(double *best, double t)
{
	if (t < *best)
		*best = t;
}

/* One round of the model: evict every page, then touch every page back. */
static int paging_round(uint8_t *base, double *evict, double *reload)
{
	uint64_t target = evictions() + ENCL_PAGES;
	double t0 = now(), t1;

	/* Two passes per page: the first only takes its young bit. */
	for (uint64_t batches = 0; evictions() < target; batches++)
		if (batches > 4 * ENCL_PAGES)
			return die("eviction (no progress)", (long)(target - evictions()));
		else
			softsgx_reclaim(platform);
	t1 = now();
	if (touch_all(base))
		return 1;
	*evict = t1 - t0;
	*reload = now() - t1;
	return 0;
}

static void raw_teardown(void)
{
	if (raw.base && raw.base != MAP_FAILED)
		munmap(raw.base, ENCL_SIZE);
	if (raw.epc && raw.epc != MAP_FAILED)
		munmap(raw.epc, ENCL_SIZE);
	if (raw.memfd >= 0)
		close(raw.memfd);
	raw.memfd = -1;
	free(raw.backing);
	free(raw.tags);
}

/* The mechanism's memfd, both mappings, every page mapped and starting with its index. */
static int raw_setup(struct gcm *g)
{
	raw.g = g;
	raw.backing = aligned_alloc(SGX_PAGE_SIZE, ENCL_SIZE);
	raw.tags = calloc(ENCL_PAGES, sizeof(*raw.tags));
	raw.memfd = memfd_create("bench_reclaim", MFD_CLOEXEC);
	if (!raw.backing || !raw.tags || raw.memfd < 0 || ftruncate(raw.memfd, ENCL_SIZE))
		return die("mechanism set-up", -errno);
	raw.epc = mmap(NULL, ENCL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, raw.memfd, 0);
	raw.base = mmap(NULL, ENCL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, raw.memfd, 0);
	if (raw.epc == MAP_FAILED || raw.base == MAP_FAILED)
		return die("mmap", -errno);
	for (uint64_t i = 0; i < ENCL_PAGES; i++)
		memcpy(raw.epc + i * SGX_PAGE_SIZE, &i, sizeof(i));
	/* Backing pages exist, as the model's do after its first round. */
	memset(raw.backing, 0, ENCL_SIZE);
	return touch_all(raw.base);
}

/*
 * One round of the mechanism, like paging_round(): evict every page (zap its
 * mapping, seal it), then touch every page (fault, open, map, retry).
 */
static int raw_round(uint64_t round, double *evict, double *reload)
{
	double t0 = now(), t1;
	int ret;

	raw.round = round;
	for (uint64_t i = 0; i < ENCL_PAGES; i++) {
		uint8_t *page = raw.base + i * SGX_PAGE_SIZE;

		if (mmap(page, SGX_PAGE_SIZE, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
			 0) == MAP_FAILED)
			return die("zap", -errno);
		if (gcm_seal(raw.g, round * ENCL_PAGES + i + 1, raw.epc + i * SGX_PAGE_SIZE,
			     raw.backing + i * SGX_PAGE_SIZE, raw.tags[i]))
			return die("AES-GCM seal", 0);
	}
	t1 = now();
	raw.active = true;
	ret = touch_all(raw.base);
	raw.active = false;
	if (raw.failed)
		return die("AES-GCM open (mechanism)", 0);
	if (ret)
		return ret;
	*evict = t1 - t0;
	*reload = now() - t1;
	return 0;
}

/*
 * Model and mechanism round by round, so that a load that comes and goes on
 * the machine weighs on both alike; best of REPS each.
 */
static int rounds(uint8_t *base, struct gcm *g, double best[4])
{
	int ret;

	for (int i = 0; i < 4; i++)
		best[i] = 1e30;
	/* Map every page first, so each round evicts pages that are mapped. */
	ret = touch_all(base) || raw_setup(g);
	for (int r = 0; r < REPS && !ret; r++) {
		double t[4];

		ret = paging_round(base, &t[0], &t[1]) || raw_round((uint64_t)r, &t[2], &t[3]);
		for (int i = 0; i < 4 && !ret; i++)
			keep_best(&best[i], t[i]);
	}
	raw_teardown();
	return ret;
}

enum gcm_mode { SEAL_OPEN, SEAL, OPEN, MODEL };

/* Best time over REPS for ENCL_PAGES pages of @mode. */
static int gcm_rounds(struct gcm *g, enum gcm_mode mode, double *best)
{
	uint64_t nonce = 1;

	*best = 1e30;
	/* OPEN needs a valid tag to check */
	if (gcm_seal(g, nonce, g->plain, g->cipher, g->tag))
		return die("AES-GCM seal", 0);
	for (int r = 0; r < REPS; r++) {
		double t0 = now(), t;

		for (uint64_t i = 0; i < ENCL_PAGES; i++) {
			int bad = 0;

			switch (mode) {
			case SEAL_OPEN:
				bad = gcm_seal(g, ++nonce, g->plain, g->cipher, g->tag) ||
				      gcm_open(g, nonce, g->cipher, g->tag, g->out);
				break;
			case SEAL:
				bad = gcm_seal(g, ++nonce, g->plain, g->cipher, g->tag);
				break;
			case OPEN:
				bad = gcm_open(g, nonce, g->cipher, g->tag, g->out);
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
	double t_evict, t_reload, t_mevict, t_mreload;
	double t_both, t_seal, t_open, t_model, best[4];
	uint8_t *base = NULL;
	int fd = -1, ret = 1;

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
	if (bench_platform_build(platform, ENCL_PAGES, &base, &fd) || rounds(base, &g, best))
		goto out;
	t_evict = best[0];
	t_reload = best[1];
	t_mevict = best[2];
	t_mreload = best[3];
	if (gcm_rounds(&g, SEAL_OPEN, &t_both) || gcm_rounds(&g, SEAL, &t_seal) ||
	    gcm_rounds(&g, OPEN, &t_open) || gcm_rounds(&g, MODEL, &t_model))
		goto out;

	printf("bench_reclaim: %llu REG pages (%llu MiB) in an EPC of %llu pages, best of %d "
	       "rounds\n",
	       ENCL_PAGES, ENCL_SIZE >> 20, (unsigned long long)EPC_PAGES, REPS);
	printf("bench_reclaim: model evict %.4f s, reload %.4f s; mechanism evict %.4f s, "
	       "reload %.4f s; AES-128-GCM seal+open %.4f s, seal %.4f s, open %.4f s; "
	       "page_seal+page_unseal %.4f s\n",
	       t_evict, t_reload, t_mevict, t_mreload, t_both, t_seal, t_open, t_model);
	row("evict+reload (reclaimer EWB, then fault + ELDU), 4 KiB pages",
	    ENCL_PAGES / (t_evict + t_reload),
	    "mechanism: zap by mmap + GCM seal, then SIGSEGV + GCM open + mmap of a memfd page",
	    ENCL_PAGES / (t_mevict + t_mreload));
	row("evict only (softsgx_reclaim until every page is out)", ENCL_PAGES / t_evict,
	    "mechanism: zap by mmap + GCM seal into backing", ENCL_PAGES / t_mevict);
	row("reload only (touch: SIGSEGV, fault path, ELDU, PTE)", ENCL_PAGES / t_reload,
	    "mechanism: SIGSEGV + GCM open + mmap of a memfd page, retry", ENCL_PAGES / t_mreload);
	row("evict+reload, against its crypto", ENCL_PAGES / (t_evict + t_reload),
	    "AES-128-GCM seal+open of 4 KiB, OpenSSL EVP", ENCL_PAGES / t_both);
	row("evict only, against its crypto", ENCL_PAGES / t_evict, "AES-128-GCM seal of 4 KiB",
	    ENCL_PAGES / t_seal);
	row("reload only, against its crypto", ENCL_PAGES / t_reload, "AES-128-GCM open of 4 KiB",
	    ENCL_PAGES / t_open);
	row("page_seal+page_unseal of the CPU model (per-thread contexts)", ENCL_PAGES / t_model,
	    "AES-128-GCM seal+open of 4 KiB, reused contexts", ENCL_PAGES / t_both);
	ret = 0;
out:
	if (fd >= 0)
		softsgx_close(platform, fd);
	if (base)
		softsgx_munmap(platform, base, ENCL_SIZE);
	EVP_CIPHER_CTX_free(g.enc);
	EVP_CIPHER_CTX_free(g.dec);
	free(g.plain);
	free(g.cipher);
	free(g.out);
	softsgx_platform_free(platform);
	return ret;
}
