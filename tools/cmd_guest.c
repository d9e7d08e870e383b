// SPDX-License-Identifier: MIT
/*
 * softsgx guest: the reboot cycle of an SGX guest as a VMM drives it, on a
 * host platform with two /dev/sgx_vepc instances:
 *
 *   A (2 pages) and B (N pages) become the guest's EPC sections 0 and 1; an
 *   enclave built in the guest puts ENCLAVE_CREATE's VA page and the SECS
 *   in A and its TCS and REG pages in B; the guest is reset (its kernel
 *   vanishes without ENCLS); the VMM runs SGX_IOC_VEPC_REMOVE_ALL on every
 *   instance (A reports the SECS, whose children were still in B), then
 *   again on those that returned non-zero; the guest boots again and its
 *   sanitization finds no valid page.
 *
 * Each step is printed as a sentence with the numbers observed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "tools/cli.h"
#include "hw/hw.h"
#include "softsgx/loader.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/sign.h"

#define NAME		      "guest"
#define DEFAULT_PAGES	      256
#define DEFAULT_ENCLAVE_PAGES 16
#define A_PAGES		      2

static void usage(FILE *out)
{
	fputs("Usage: softsgx guest [--pages N] [--enclave-pages N] [--trace FILE]\n"
	      "                     [PLATFORM OPTIONS]\n"
	      "\n"
	      "Run the guest-reboot cycle of a VMM on a host platform and say what happens\n"
	      "at each step: open two /dev/sgx_vepc instances (A: 2 pages, B: N pages),\n"
	      "boot a model guest on them, build, sign and EINIT an enclave in the guest,\n"
	      "count the valid EPCM pages in A and B, reset the guest, run\n"
	      "SGX_IOC_VEPC_REMOVE_ALL on each instance (and again on those that returned\n"
	      "non-zero), boot the guest again and check that it finds no valid page.\n"
	      "\n"
	      "Options:\n"
	      "  --pages N          pages of vEPC instance B (default 256)\n"
	      "  --enclave-pages N  REG pages of the guest enclave, which also has a TCS;\n"
	      "                     at most N-1 of --pages (default 16)\n"
	      "  --trace FILE       write a timeline of the host platform, whose CPU model\n"
	      "                     the guest shares, to FILE (Chrome/Perfetto trace-event\n"
	      "                     JSON: open it in ui.perfetto.dev or chrome://tracing)\n"
	      "  -h, --help         show this help and exit\n"
	      "\n" CLI_PLATFORM_USAGE "\n" CLI_EXIT_USAGE_TEXT,
	      out);
}

struct vepc {
	const char *name;
	int fd;
	uint8_t *base;
	uint64_t pages;
};

struct guest_enclave {
	struct softsgx_enclave *encl; /* built by the public loader */
	uint64_t base, size, nr_reg;
	uint8_t mrenclave[SGX_HASH_SIZE];
	uint8_t mrsigner[SGX_HASH_SIZE];
};

static struct softsgx_stats stats(struct softsgx_platform *p)
{
	struct softsgx_stats st;

	softsgx_get_stats(p, &st);
	return st;
}

static unsigned long long ull(uint64_t v)
{
	return (unsigned long long)v;
}

static int vepc_open(struct softsgx_platform *host, struct vepc *v)
{
	void *addr = NULL;
	int ret;

	v->fd = softsgx_open(host, "/dev/sgx_vepc", O_RDWR);
	if (v->fd < 0)
		return cli_fail(NAME, "open of /dev/sgx_vepc (%s) failed: %s", v->name,
				strerror(-v->fd));
	ret = softsgx_mmap(host, &addr, v->pages * SGX_PAGE_SIZE, PROT_READ | PROT_WRITE,
			   MAP_SHARED, v->fd, 0);
	if (ret)
		return cli_fail(NAME, "mmap of vEPC instance %s failed: %s", v->name,
				strerror(-ret));
	v->base = addr;
	return 0;
}

static uint64_t count_valid(struct softsgx_platform *host, const struct vepc *v)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < v->pages; i++)
		n += softsgx_epc_page_valid(host, v->base + i * SGX_PAGE_SIZE);
	return n;
}

static struct softsgx_platform *boot(struct softsgx_platform *host, const struct vepc *a,
				     const struct vepc *b)
{
	void *base[2] = {a->base, b->base};
	size_t size[2] = {a->pages * SGX_PAGE_SIZE, b->pages * SGX_PAGE_SIZE};

	return softsgx_guest_boot(host, 2, base, size);
}

/* The first 8 bytes of REG page @i hold @i; the rest is a pattern of @i. */
static uint8_t page_pattern(uint64_t i)
{
	return (uint8_t)(0xA5 ^ (i * 29));
}

/*
 * The guest enclave's image, laid out by hand: page 0 the TCS (its SSA
 * frame and entry point in page 1), then @e->nr_reg REG pages, read-write,
 * whose first 8 bytes hold their number; all measured.
 */
static int make_image(const struct guest_enclave *e, struct softsgx_image **img)
{
	struct sgx_tcs *tcs = aligned_alloc(SGX_PAGE_SIZE, sizeof(*tcs));
	uint8_t *src = malloc(e->nr_reg * SGX_PAGE_SIZE);
	int ret = -ENOMEM;

	*img = NULL;
	if (!tcs || !src)
		goto out;
	memset(tcs, 0, sizeof(*tcs));
	tcs->ssa_offset = SGX_PAGE_SIZE;
	tcs->nr_ssa_frames = 1;
	tcs->entry_offset = SGX_PAGE_SIZE;
	tcs->fs_limit = 0xFFF;
	tcs->gs_limit = 0xFFF;
	for (uint64_t i = 1; i <= e->nr_reg; i++) {
		uint8_t *page = src + (i - 1) * SGX_PAGE_SIZE;

		memset(page, page_pattern(i), SGX_PAGE_SIZE);
		memcpy(page, &i, sizeof(i));
	}
	ret = softsgx_image_new(e->size, 1, img);
	if (!ret)
		ret = softsgx_image_add_pages(*img, 0, tcs, SGX_PAGE_SIZE, SGX_SECINFO_TCS,
					      SOFTSGX_PAGE_MEASURE);
	if (!ret)
		ret = softsgx_image_add_pages(*img, SGX_PAGE_SIZE, src, e->nr_reg * SGX_PAGE_SIZE,
					      SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
					      SOFTSGX_PAGE_MEASURE);
out:
	free(src);
	free(tcs);
	return ret;
}

/* The public loader and signer: ECREATE, EADD+EEXTEND, SIGSTRUCT, EINIT, mmap. */
static int build_enclave(struct softsgx_platform *g, struct guest_enclave *e,
			 const struct softsgx_key *key)
{
	struct sgx_sigstruct *sig = malloc(sizeof(*sig));
	struct softsgx_image *img = NULL;
	int ret = -ENOMEM;

	if (sig)
		ret = make_image(e, &img);
	if (ret) {
		cli_fail(NAME, "laying out the guest enclave failed: %s",
			 ret == -ENOMEM ? "out of memory" : softsgx_error_detail());
		goto out;
	}
	if (softsgx_sign(img, key, NULL, sig) || softsgx_sigstruct_mrsigner(sig, e->mrsigner)) {
		cli_fail(NAME, "signing the SIGSTRUCT failed: %s", softsgx_error_detail());
		goto out;
	}
	memcpy(e->mrenclave, sig->body.mrenclave, sizeof(e->mrenclave));
	ret = softsgx_enclave_build(g, img, sig, &e->encl);
	if (ret) {
		cli_fail(NAME, "building the enclave in the guest failed: %s",
			 softsgx_error_detail());
		goto out;
	}
	e->base = softsgx_enclave_base(e->encl);
out:
	softsgx_image_free(img);
	free(sig);
	return ret ? CLI_EXIT_FAILURE : 0;
}

/*
 * Page faults on the guest enclave arrive as SIGSEGV; the handler hands them
 * to the guest kernel's fault path (and to the host's for vEPC pages the
 * guest has not touched yet), exactly where Linux would call vm_ops->fault.
 */
static struct softsgx_platform *fault_guest, *fault_host;
static struct sigaction old_segv;
static sigjmp_buf *fault_env;

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	/* x86 page-fault error code: bit 1 = write, bit 4 = instruction fetch. */
	long err = uc->uc_mcontext.gregs[REG_ERR];
	int access = (err & 0x10) ? PROT_EXEC : (err & 0x2) ? PROT_WRITE : PROT_READ;
	enum softsgx_fault r = softsgx_handle_fault(fault_guest, si->si_addr, access);

	if (r == SOFTSGX_FAULT_NOT_OURS)
		r = softsgx_handle_fault(fault_host, si->si_addr, access);
	if (r == SOFTSGX_FAULT_RETRY)
		return;
	if (fault_env && r != SOFTSGX_FAULT_NOT_OURS)
		siglongjmp(*fault_env, (int)r);
	/* Not an SGX fault: restore the old action and let the access fault again. */
	sigaction(sig, &old_segv, NULL);
}

static int fault_handler_install(struct softsgx_platform *guest, struct softsgx_platform *host)
{
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};

	fault_guest = guest;
	fault_host = host;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv))
		return cli_fail(NAME, "sigaction(SIGSEGV): %m");
	return 0;
}

static void fault_handler_remove(void)
{
	sigaction(SIGSEGV, &old_segv, NULL);
	fault_guest = NULL;
	fault_host = NULL;
}

/* Read every REG page through the enclave mapping; 0 when all are right. */
static int touch_pages(const struct guest_enclave *e, uint64_t *bad_page)
{
	sigjmp_buf env;
	volatile uint64_t i = 1;
	int r;

	r = sigsetjmp(env, 1);
	if (r) {
		fault_env = NULL;
		*bad_page = i;
		return r;
	}
	fault_env = &env;
	for (; i <= e->nr_reg; i++) {
		const volatile uint8_t *page =
			(const volatile uint8_t *)(uintptr_t)(e->base + i * SGX_PAGE_SIZE);
		uint64_t word = 0;

		for (unsigned int b = 0; b < sizeof(word); b++)
			word |= (uint64_t)page[b] << (8 * b);
		if (word != i || page[SGX_PAGE_SIZE - 1] != page_pattern(i)) {
			fault_env = NULL;
			*bad_page = i;
			return -1;
		}
	}
	fault_env = NULL;
	return 0;
}

static int read_enclave(struct softsgx_platform *g, struct softsgx_platform *host,
			const struct guest_enclave *e)
{
	uint64_t faults = stats(g).faults, bad = 0;
	int r;

	if (fault_handler_install(g, host))
		return CLI_EXIT_FAILURE;
	r = touch_pages(e, &bad);
	fault_handler_remove();
	if (r == SOFTSGX_FAULT_SIGBUS || r == SOFTSGX_FAULT_SIGSEGV)
		return cli_fail(NAME, "the fault on REG page %llu ended in %s", ull(bad),
				r == SOFTSGX_FAULT_SIGBUS ? "SIGBUS" : "SIGSEGV");
	if (r)
		return cli_fail(NAME, "REG page %llu does not hold what EADD put there", ull(bad));
	faults = stats(g).faults - faults;
	printf("4. Read every REG page through the enclave mapping: %llu page fault%s went "
	       "through the guest kernel's fault handler, and all %llu pages hold what EADD "
	       "put there.\n",
	       ull(faults), faults == 1 ? "" : "s", ull(e->nr_reg));
	return 0;
}

static long remove_all(struct softsgx_platform *host, struct vepc *v)
{
	return softsgx_ioctl(host, v->fd, SGX_IOC_VEPC_REMOVE_ALL, NULL);
}

static int remove_all_rounds(struct softsgx_platform *host, struct vepc *v[2])
{
	long r1[2], r2[2] = {0, 0};
	unsigned int again = 0;
	char round2[128] = "";

	for (int i = 0; i < 2; i++) {
		r1[i] = remove_all(host, v[i]);
		if (r1[i] < 0)
			return cli_fail(NAME, "SGX_IOC_VEPC_REMOVE_ALL on %s failed: %s",
					v[i]->name, strerror((int)-r1[i]));
	}
	printf("7. The VMM ran SGX_IOC_VEPC_REMOVE_ALL on each instance: A returned %ld, B "
	       "returned %ld. A non-zero value counts SECS pages whose EREMOVE failed with "
	       "SGX_CHILD_PRESENT because their children were still in another instance.\n",
	       r1[0], r1[1]);
	for (int i = 0; i < 2; i++) {
		size_t len = strlen(round2);

		if (!r1[i])
			continue;
		r2[i] = remove_all(host, v[i]);
		if (r2[i] < 0)
			return cli_fail(NAME, "second SGX_IOC_VEPC_REMOVE_ALL on %s failed: %s",
					v[i]->name, strerror((int)-r2[i]));
		snprintf(round2 + len, sizeof(round2) - len, "%s%s returned %ld", again ? ", " : "",
			 v[i]->name, r2[i]);
		again++;
	}
	if (again)
		printf("8. Second round on the %u instance%s that returned non-zero: %s. Valid "
		       "EPCM pages now: %llu in A, %llu in B.\n",
		       again, again == 1 ? "" : "s", round2, ull(count_valid(host, v[0])),
		       ull(count_valid(host, v[1])));
	else
		printf("8. No instance returned non-zero, so no second round. Valid EPCM pages "
		       "now: %llu in A, %llu in B.\n",
		       ull(count_valid(host, v[0])), ull(count_valid(host, v[1])));
	if (r2[0] || r2[1])
		return cli_fail(NAME, "SECS pages are still in the EPC after the second round");
	printf("   REMOVE_ALL results: round 1 A=%ld B=%ld", r1[0], r1[1]);
	for (int i = 0; i < 2; i++)
		if (r1[i])
			printf("; round 2 %s=%ld", v[i]->name, r2[i]);
	printf(".\n");
	return 0;
}

static int guest_cycle(const struct softsgx_config *cfg, uint64_t pages, uint64_t nr_reg,
		       const char *trace)
{
	struct vepc a = {.name = "A", .fd = -1, .pages = A_PAGES};
	struct vepc b = {.name = "B", .fd = -1, .pages = pages};
	struct vepc *v[2] = {&a, &b};
	struct guest_enclave e = {.nr_reg = nr_reg, .size = 2 * SGX_PAGE_SIZE};
	struct softsgx_platform *host, *g = NULL;
	char hex[2 * SGX_HASH_SIZE + 1], buf[32];
	uint64_t guest_pages = A_PAGES + pages, valid_a, valid_b;
	struct softsgx_stats hs, gs;
	struct softsgx_key *key = NULL;
	int ret = CLI_EXIT_FAILURE;

	host = softsgx_platform_new(cfg);
	if (!host)
		return cli_fail(NAME, "the host platform did not boot: %m");
	if (trace) {
		int err = softsgx_trace_start(host, 0);

		if (err) {
			softsgx_platform_free(host);
			return cli_fail(NAME, "cannot trace the platform: %s", strerror(-err));
		}
	}
	hs = stats(host);
	printf("Host: a platform with %llu EPC pages in %u section%s, %s.\n", ull(hs.total_pages),
	       cfg->nr_sections, cfg->nr_sections == 1 ? "" : "s",
	       cfg->sgx2 ? "SGX1+SGX2" : "SGX1 only");

	if (vepc_open(host, &a) || vepc_open(host, &b))
		goto out;
	printf("1. Opened /dev/sgx_vepc twice and mapped both instances into the VMM: A with "
	       "%llu pages, B with %llu. No EPC is allocated before a page is touched: the "
	       "host has %llu pages in use.\n",
	       ull(a.pages), ull(b.pages), ull(stats(host).in_use_pages));

	g = boot(host, &a, &b);
	if (!g) {
		cli_fail(NAME, "the guest did not boot: %m");
		goto out;
	}
	gs = stats(g);
	printf("2. Booted a model guest whose EPC section 0 is A and section 1 is B (%llu "
	       "pages). Its sanitization EREMOVEd every page, which faulted all of them into "
	       "host EPC (%llu vEPC faults, %llu host pages in use); it found %llu valid.\n",
	       ull(gs.total_pages), ull(stats(host).vepc_faults), ull(stats(host).in_use_pages),
	       ull(gs.sanitize_valid_pages));

	if (softsgx_key_generate(&key)) {
		cli_fail(NAME, "generating the signing key failed: %s", softsgx_error_detail());
		goto out;
	}
	while (e.size < (nr_reg + 1) * SGX_PAGE_SIZE)
		e.size *= 2;
	if (build_enclave(g, &e, key))
		goto out;
	cli_hex(hex, e.mrenclave, sizeof(e.mrenclave));
	printf("3. Built an enclave in the guest through its /dev/sgx_enclave: ECREATE of a "
	       "%s ELRANGE at 0x%llx, EADD+EEXTEND of 1 TCS and %llu REG pages, a SIGSTRUCT "
	       "signed with an ephemeral RSA-3072 key (exponent 3) generated in memory, and "
	       "EINIT succeeded.\n",
	       cli_format_size(e.size, buf), ull(e.base), ull(nr_reg));
	printf("   MRENCLAVE %s\n", hex);
	cli_hex(hex, e.mrsigner, sizeof(e.mrsigner));
	printf("   MRSIGNER  %s\n", hex);

	if (read_enclave(g, host, &e))
		goto out;

	valid_a = count_valid(host, &a);
	valid_b = count_valid(host, &b);
	printf("5. Valid EPCM pages: %llu of %llu in A, %llu of %llu in B.", ull(valid_a),
	       ull(a.pages), ull(valid_b), ull(b.pages));
	if (stats(g).evictions == 0 && valid_a == 2 && valid_b == nr_reg + 1)
		printf(" A holds ENCLAVE_CREATE's VA page and the SECS (A has room for exactly "
		       "those two); B holds the TCS and the %llu REG pages.",
		       ull(nr_reg));
	else if (stats(g).evictions)
		printf(" The guest's reclaimer evicted %llu pages to its own memory, so they are "
		       "not in the EPC.",
		       ull(stats(g).evictions));
	printf("\n");

	/* The enclave stays as it is in the guest's EPC: the reset takes it away. */
	softsgx_enclave_forget(e.encl);
	e.encl = NULL;
	softsgx_guest_reset(g);
	g = NULL;
	printf("6. Reset the guest: its kernel vanished without running ENCLS, so the EPCM "
	       "still has %llu valid pages in A and %llu in B.\n",
	       ull(count_valid(host, &a)), ull(count_valid(host, &b)));

	if (remove_all_rounds(host, v))
		goto out;

	g = boot(host, &a, &b);
	if (!g) {
		cli_fail(NAME, "the guest did not boot again: %m");
		goto out;
	}
	gs = stats(g);
	printf("9. Booted the guest again on the same vEPC: sanitization found %llu valid "
	       "pages of %llu, and the guest has %llu free EPC pages.\n",
	       ull(gs.sanitize_valid_pages), ull(gs.total_pages), ull(gs.free_pages));
	if (gs.sanitize_valid_pages || gs.free_pages != guest_pages) {
		cli_fail(NAME, "the rebooted guest found EPC state the VMM should have removed");
		goto out;
	}

	softsgx_platform_free(g);
	g = NULL;
	for (int i = 0; i < 2; i++) {
		softsgx_munmap(host, v[i]->base, v[i]->pages * SGX_PAGE_SIZE);
		softsgx_close(host, v[i]->fd);
		v[i]->fd = -1;
	}
	hs = stats(host);
	printf("10. Shut the guest down and closed both instances: the host has %llu of %llu "
	       "EPC pages free, %llu zombie SECS pages and %llu EREMOVE warnings.\n",
	       ull(hs.free_pages), ull(hs.total_pages), ull(hs.zombie_pages),
	       ull(hs.vepc_eremove_warnings));
	if (hs.free_pages != hs.total_pages || hs.vepc_eremove_warnings) {
		cli_fail(NAME, "the host did not get all of its EPC back cleanly");
		goto out;
	}
	printf("Summary: guest reboot cycle complete; the enclave's %llu EPC pages were removed "
	       "by REMOVE_ALL, the rebooted guest found 0 valid pages, and all %llu host EPC "
	       "pages are free.\n",
	       ull(valid_a + valid_b), ull(hs.total_pages));
	ret = CLI_EXIT_OK;
out:
	/* A clean shutdown of a live guest, then the host closes what is left. */
	softsgx_enclave_free(e.encl);
	softsgx_platform_free(g);
	if (trace) {
		int err = softsgx_trace_save(host, trace);

		if (err)
			ret = cli_fail(NAME, "cannot write the trace to %s: %s", trace,
				       strerror(-err));
	}
	softsgx_platform_free(host);
	softsgx_key_free(key);
	return ret;
}

static int run(int argc, char **argv)
{
	enum { OPT_PAGES = CLI_OPT_FIRST_FREE, OPT_ENCLAVE_PAGES, OPT_TRACE };
	static const char optstring[] = ":h";
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"pages", required_argument, NULL, OPT_PAGES},
		{"enclave-pages", required_argument, NULL, OPT_ENCLAVE_PAGES},
		{"trace", required_argument, NULL, OPT_TRACE},
		CLI_PLATFORM_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct cli_platform_opts popts = {0};
	uint64_t pages = DEFAULT_PAGES, nr_reg = DEFAULT_ENCLAVE_PAGES;
	bool nr_reg_given = false;
	struct softsgx_config cfg;
	const char *trace_arg = NULL;
	char *trace = NULL;
	int opt, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		if (cli_platform_option(&popts, opt, optarg))
			continue;
		switch (opt) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case OPT_PAGES:
			if (cli_parse_uint(optarg, 2, SGX_HW_MAX_EPC_PAGES, &pages))
				return cli_usage_error(
					NAME, "--pages '%s' is not a page count from 2 to %llu",
					optarg, ull(SGX_HW_MAX_EPC_PAGES));
			break;
		case OPT_ENCLAVE_PAGES:
			if (cli_parse_uint(optarg, 1, SGX_HW_MAX_EPC_PAGES, &nr_reg))
				return cli_usage_error(
					NAME,
					"--enclave-pages '%s' is not a page count of "
					"at least 1",
					optarg);
			nr_reg_given = true;
			break;
		case OPT_TRACE:
			trace_arg = optarg;
			break;
		default:
			return cli_getopt_error(NAME, opt, argv, optstring, longopts);
		}
	}
	ret = cli_no_operands(NAME, argc, argv);
	if (ret)
		return ret;
	if (!nr_reg_given && nr_reg + 1 > pages)
		nr_reg = pages - 1;
	if (nr_reg + 1 > pages)
		return cli_usage_error(NAME,
				       "--enclave-pages %llu does not fit in instance B: the TCS "
				       "and %llu REG pages need %llu pages, --pages is %llu",
				       ull(nr_reg), ull(nr_reg), ull(nr_reg + 1), ull(pages));
	ret = cli_platform_config(NAME, &popts, &cfg);
	if (ret)
		return ret;
	if (A_PAGES + pages > cli_config_pages(&cfg))
		return cli_usage_error(NAME,
				       "instances A and B need %llu EPC pages but the host EPC has "
				       "%llu; raise --epc or lower --pages",
				       ull(A_PAGES + pages), ull(cli_config_pages(&cfg)));
	if (trace_arg) {
		ret = cli_trace_file(NAME, trace_arg, &trace);
		if (ret)
			return ret;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = guest_cycle(&cfg, pages, nr_reg, trace);
	free(trace);
	return ret;
}

const struct cli_cmd cmd_guest = {
	.name = NAME,
	.summary = "run a VMM's guest-reboot cycle on /dev/sgx_vepc, step by step",
	.usage = usage,
	.run = run,
};
