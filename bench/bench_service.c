// SPDX-License-Identifier: MIT
/*
 * The platform service against private mode, same run (issue 16; issue 18
 * item 6). One client process does the same work two ways:
 *
 * - private: the platform in this process (the embedding API: what every
 *   program under `softsgx run` had until the service), faults sent to
 *   softsgx_handle_fault();
 * - service: a platform service (`softsgx platform start --foreground`,
 *   started by this program in a directory of its own) reached through
 *   service/remote.c, faults sent to svc_remote_fault(): each ioctl and
 *   mmap a request on the socket, each fault a request in the fault
 *   channel (shared memory and a futex; SOFTSGX_FAULT_CHANNEL=0 sends them
 *   on the socket, for comparison), each reclaim batch that takes pages
 *   from us one ZAP message (all of the batch's pages) acknowledged by our
 *   notify thread.
 *
 * Figures (wall time, the service works in another process; median of
 * rounds that alternate between the modes):
 * - enclave build: ECREATE + ADD_PAGES (EADD + EEXTEND) of 16 MiB; goal
 *   service <= 1.3 x private;
 * - evict+reload: an enclave of twice the EPC read round-robin, every
 *   touch a fault and a reload, ksgxd and direct reclaim evicting; goal
 *   service <= 1.5 x private;
 * - client start-up: connecting to a running service (HELLO, the EPC's
 *   descriptors, the notify channel) against booting a private platform;
 * - service start with a 1 TiB EPC to the first EPC allocation (exec of the
 *   command, socket, HELLO, ECREATE), goal <= 50 ms, against the same with
 *   128 MiB.
 * No ECALL row: ENCLU needs the EPCM in the client, which the service does
 * not share yet (docs/platform-service.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define BENCH_NAME "bench_service"
#include "bench/bench_platform.h"
#include "bench/bench_runtime_dir.h"
#include "service/client.h"
#include "service/proto.h"
#include "service/remote.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "softsgx/softsgx.h"

#define PAGE		SGX_PAGE_SIZE
#define BUILD_PAGES	4096ULL /* 16 MiB */
#define EPC_PAGES	1024ULL /* the paging runs' EPC: 4 MiB */
#define PAGING_PAGES	(2 * EPC_PAGES)
#define ROUNDS		5

static struct softsgx_platform *platform; /* private mode, or NULL */
static bool service_mode;
static char run_dir[PATH_MAX];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int die(const char *what, long ret)
{
	fprintf(stderr, "bench_service: %s: %s\n", what, strerror(ret < 0 ? (int)-ret : EIO));
	return 1;
}

static void on_segv(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	int access = (uc->uc_mcontext.gregs[REG_ERR] & 0x2) ? PROT_WRITE : PROT_READ;

	if (service_mode ? svc_remote_fault(si->si_addr, access) == SVC_FAULT_RETRY
			 : softsgx_handle_fault(platform, si->si_addr, access) == SOFTSGX_FAULT_RETRY)
		return;
	signal(sig, SIG_DFL); /* a bug: die with a core */
}

/* The calls of one mode. */
static int x_open(void)
{
	return service_mode ? svc_remote_open(SVC_OPEN_ENCLAVE)
			    : softsgx_open(platform, "/dev/sgx_enclave", 0);
}

static long x_ioctl(int fd, unsigned long cmd, void *arg)
{
	return service_mode ? svc_remote_ioctl(fd, cmd, arg) : softsgx_ioctl(platform, fd, cmd, arg);
}

static int x_mmap(void **addr, size_t len, int fd)
{
	return service_mode ? svc_remote_mmap(addr, len, PROT_READ | PROT_WRITE,
					      MAP_SHARED | MAP_FIXED, fd, 0)
			    : softsgx_mmap(platform, addr, len, PROT_READ | PROT_WRITE,
					   MAP_SHARED | MAP_FIXED, fd, 0);
}

static void x_release(int fd, void *addr, size_t len)
{
	if (service_mode) {
		svc_remote_munmap(addr, len);
		svc_remote_close(fd);
	} else {
		softsgx_munmap(platform, addr, len);
		softsgx_close(platform, fd);
	}
	munmap(addr, len);
}

/* ECREATE + ADD_PAGES (measured) of @pages REG pages, page i starting with i; mmap'd at *@base. */
static int build(uint64_t pages, uint8_t *src, int *fd_out, uint8_t **base_out, double *t)
{
	struct sgx_secinfo secinfo __attribute__((aligned(64))) = {
		.flags = SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W,
	};
	static struct sgx_secs secs __attribute__((aligned(PAGE)));
	uint64_t size = pages * PAGE, base = bench_free_base(size);
	struct sgx_enclave_create create = {.src = (uintptr_t)&secs};
	struct sgx_enclave_add_pages add = {
		.src = (uintptr_t)src,
		.length = size,
		.secinfo = (uintptr_t)&secinfo,
		.flags = SGX_PAGE_MEASURE,
	};
	void *addr = (void *)(uintptr_t)base;
	double t0 = now();
	long ret;
	int fd;

	bench_secs_init(&secs, base, size);
	fd = x_open();
	if (fd < 0)
		return die("open", fd);
	ret = x_ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create);
	if (!ret)
		ret = x_ioctl(fd, SGX_IOC_ENCLAVE_ADD_PAGES, &add);
	if (ret)
		return die("CREATE/ADD_PAGES", ret);
	*t = now() - t0;
	ret = x_mmap(&addr, size, fd);
	if (ret)
		return die("mmap", ret);
	*fd_out = fd;
	*base_out = addr;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void row(const char *figure, double value, const char *unit, const char *limit_name,
		double limit, const char *goal)
{
	printf("| %s | %.4g %s | %.4g %s (%s) | %.2f%s |\n", figure, value, unit, limit, unit,
	       limit_name, value / limit, goal);
}

/* ---- the service ---- */

static const char *softsgx_bin(void)
{
	static char path[PATH_MAX + 16];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (getenv("SOFTSGX_BIN"))
		return getenv("SOFTSGX_BIN");
	if (n <= 0)
		return "softsgx";
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/../softsgx", self); /* build/release/bench/.. */
	return path;
}

/* `softsgx platform start --foreground --epc @epc ...` in run_dir. */
static pid_t service_start(const char *epc)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execl(softsgx_bin(), "softsgx", "platform", "start", "--foreground", "--epc", epc,
		      "--sections", "1", "--idle-timeout", "0", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void service_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Connect as a client, retrying while the service comes up (at most 5 s). */
static int service_connect(void)
{
	double end = now() + 5;
	int ret;

	do {
		ret = svc_remote_connect(run_dir, NULL, NULL);
		if (!ret || (ret != -ENOENT && ret != -ECONNREFUSED))
			return ret;
		usleep(200);
	} while (now() < end);
	return ret;
}

/* Exec to the first allocation (ECREATE) with an EPC of @epc. */
static int service_first_alloc(const char *epc, double *t)
{
	static struct sgx_secs secs __attribute__((aligned(PAGE)));
	struct sgx_enclave_create create = {.src = (uintptr_t)&secs};
	double t0 = now();
	pid_t pid = service_start(epc);
	long ret;
	int fd;

	ret = service_connect();
	if (ret)
		return die("connect", ret);
	fd = svc_remote_open(SVC_OPEN_ENCLAVE);
	bench_secs_init(&secs, 1ULL << 40, 2 * PAGE);
	ret = fd < 0 ? fd : svc_remote_ioctl(fd, SGX_IOC_ENCLAVE_CREATE, &create);
	if (ret)
		return die("first ECREATE", ret);
	*t = now() - t0;
	svc_remote_close(fd);
	svc_remote_disconnect();
	service_stop(pid);
	return 0;
}

/* ---- the paging round ---- */

/* Read every page of @base, twice round: each touch of an evicted page a fault and a reload. */
static int paging(uint8_t *base, double *t)
{
	double t0 = now();

	for (int pass = 0; pass < 2; pass++)
		for (uint64_t i = 0; i < PAGING_PAGES; i++)
			if (*(volatile uint64_t *)(base + i * PAGE) != i)
				return die("content check", -EIO);
	*t = now() - t0;
	return 0;
}

static int mode_begin(bool service)
{
	struct softsgx_config cfg;

	service_mode = service;
	if (service)
		return service_connect();
	softsgx_default_config(&cfg);
	cfg.nr_sections = 1;
	cfg.section_size[0] = EPC_PAGES * PAGE;
	platform = softsgx_platform_new(&cfg);
	return platform ? 0 : -ENOMEM;
}

static void mode_end(void)
{
	if (service_mode) {
		svc_remote_disconnect();
	} else {
		softsgx_platform_free(platform);
		platform = NULL;
	}
}

int main(void)
{
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER};
	double t_build[2][ROUNDS], t_page[2][ROUNDS], t_conn[2][ROUNDS], t_first[2];
	uint8_t *src = aligned_alloc(PAGE, BUILD_PAGES * PAGE), *base;
	pid_t svc;
	int fd, ret;

	if (!src)
		return die("allocation", -ENOMEM);
	bench_fill_pages(src, BUILD_PAGES);
	snprintf(run_dir, sizeof(run_dir), "/tmp/softsgx-bench-service-%d", (int)getpid());
	if (mkdir(run_dir, 0700))
		return die("mkdir", -errno);
	setenv("SOFTSGX_RUNTIME_DIR", run_dir, 1);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);

	/* A service big enough for the build, and the paging runs' EPC for both modes. */
	svc = service_start("16M");
	if (service_connect())
		return die("service start", -ETIMEDOUT);
	svc_remote_disconnect();
	for (int r = 0; r < ROUNDS; r++) {
		for (int m = 0; m < 2; m++) {
			struct softsgx_config cfg;
			double t0 = now();

			/* Start-up: a private platform booted, or a connection made. */
			if (m) {
				ret = service_connect();
			} else {
				softsgx_default_config(&cfg);
				cfg.nr_sections = 1;
				cfg.section_size[0] = 16 << 20;
				service_mode = false;
				platform = softsgx_platform_new(&cfg);
				ret = platform ? 0 : -ENOMEM;
			}
			if (ret)
				return die("start-up", ret);
			t_conn[m][r] = now() - t0;
			service_mode = m;
			ret = build(BUILD_PAGES, src, &fd, &base, &t_build[m][r]);
			if (ret)
				return ret;
			x_release(fd, base, BUILD_PAGES * PAGE);
			mode_end();
		}
	}
	service_stop(svc);

	/* Paging: an EPC of EPC_PAGES for both. */
	svc = service_start("4M");
	for (int r = 0; r < ROUNDS; r++) {
		for (int m = 0; m < 2; m++) {
			double t_unused;

			ret = mode_begin(m);
			if (ret)
				return die("paging set-up", ret);
			ret = build(PAGING_PAGES, src, &fd, &base, &t_unused);
			if (!ret)
				ret = paging(base, &t_page[m][r]);
			if (ret)
				return ret;
			x_release(fd, base, PAGING_PAGES * PAGE);
			mode_end();
		}
	}
	service_stop(svc);

	/* Service start to the first allocation. */
	if (service_first_alloc("128M", &t_first[0]) || service_first_alloc("1T", &t_first[1]))
		return 1;
	bench_runtime_dir_remove(run_dir);

	double build_p = median(t_build[0], ROUNDS), build_s = median(t_build[1], ROUNDS);
	double page_p = median(t_page[0], ROUNDS), page_s = median(t_page[1], ROUNDS);
	double conn_p = median(t_conn[0], ROUNDS), conn_s = median(t_conn[1], ROUNDS);

	printf("bench_service: median of %d rounds alternating private and service; build %llu "
	       "pages, paging %llu pages on an EPC of %llu\n",
	       ROUNDS, BUILD_PAGES, PAGING_PAGES, EPC_PAGES);
	row("enclave build through the service (ECREATE + ADD_PAGES, 16 MiB, measured; goal <= 1.3)",
	    build_s * 1e3, "ms", "private mode, same build", build_p * 1e3, " (time)");
	row("evict+reload through the service (2x EPC read round-robin, 2 passes; goal <= 1.5)",
	    page_s * 1e3, "ms", "private mode, same reads", page_p * 1e3, " (time)");
	row("client start-up: connect to a running service (HELLO, EPC descriptors, notify channel)",
	    conn_s * 1e3, "ms", "private mode: boot a 16 MiB platform", conn_p * 1e3, " (time)");
	row("service start, 1 TiB EPC, to the first allocation (goal <= 50 ms)", t_first[1] * 1e3,
	    "ms", "the same with 128 MiB", t_first[0] * 1e3, " (time)");
	return 0;
}
