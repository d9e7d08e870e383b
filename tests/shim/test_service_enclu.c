// SPDX-License-Identifier: MIT
/*
 * ENCLU under `softsgx run --service` (issue 16, "ENCLU stays in the
 * client"): the leaves run in the program's own threads on a view of the
 * service's CPU model (shared EPC and EPCM), with no round trip per ECALL.
 * Workers (tests/shim/svc_worker.h) enter the test enclave through the
 * vDSO as an SDK's untrusted runtime does:
 * - ECALLs with data in and out, an exception inside (#UD through the
 *   vDSO), EREPORT, on the main thread and on a fresh thread with SIGALRM
 *   arriving all along;
 * - a program SIGKILLed while its thread is inside the enclave: the
 *   service frees the TCS the thread held and releases the enclave, every
 *   page back (nothing leaked);
 * - two programs whose enclaves, entered in a loop, overflow the EPC: the
 *   reclaimer evicts pages of enclaves the other program's threads are
 *   inside of (the KICK to the client), and every ECALL still sees its own
 *   data;
 * - a loop of programs SIGKILLed at random moments (starting, building,
 *   inside an enclave, in a fault, while the reclaimer evicts their pages
 *   for another program that pages all along): after each kill the EPC
 *   invariant holds with nothing leaked, and at the end nothing is in use
 *   (10 kills in `make check`, 1000 in `make check-stress`);
 * - a VMM-style program prefaults a vEPC while another builds and enters
 *   enclaves larger than what is left: the builder's pages are evicted, the
 *   vEPC keeps every page and its contents;
 * - the service killed under three programs that page: each ends within
 *   two seconds with the documented failure (SIGBUS on a page only the
 *   service could bring, or inside the enclave the vDSO's #PF report, as
 *   Linux reports such a fault there), none hangs;
 * - CPUID and sysfs as the service's platform has them (SGX in leaf 7,
 *   the EPC section in leaf 0x12, sgx_total_bytes), skipped with the reason
 *   where the host has no CPUID faulting.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include <cmocka.h>

#include "tests/shim/encl_helper.h"
#include "tests/shim/new_thread.h"
#include "tests/shim/svc_worker.h"

#define X86_TRAP_UD 6

/* ================= the workers: run under the shim ================= */

static _Atomic unsigned long ticks;

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

static void ticking(bool on)
{
	struct itimerval it = {{0, on ? 500 : 0}, {0, on ? 500 : 0}};
	struct sigaction sa = {.sa_handler = on_tick, .sa_flags = SA_RESTART};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * Set in a program that outlives its service: an ECALL that comes back with
 * a #PF (the vDSO's report of a fault inside the enclave that nobody could
 * answer, as Linux reports a SIGBUS-class fault there) ends it with 7.
 */
static bool pf_ends_worker;

/* th_ecall_ok(), but a #PF reported by the vDSO may end the worker (above). */
static long ecall_ok(const struct th_encl *e, unsigned int tcs, uint64_t op, uint64_t a1,
		     uint64_t a2)
{
	struct vdso_record c;

	assert_int_equal(th_ecall(e, tcs, op, a1, a2, &c), 0);
	if (pf_ends_worker && c.exceptions && c.vector == 14) {
		fprintf(stderr, "ECALL: #PF at %#llx reported by the vDSO\n",
			(unsigned long long)c.addr);
		_exit(7);
	}
	assert_int_equal(c.exceptions, 0);
	assert_int_equal(c.status, TEST_ENCL_OK);
	return c.value;
}

/*
 * th_build(), but in a program that outlives its service an SGX call that
 * fails with EIO (docs/platform-service.md: the service is gone) ends the
 * worker with 8: it was between two rounds, building, when the service died.
 */
static void wbuild(struct th_encl *e)
{
	int ret = enclave_build(&enclave_sys_native, &th_image, th_sig, &e->h);

	if (ret && pf_ends_worker && ret == -EIO) {
		fprintf(stderr, "build: %s\n", enclave_image_error());
		_exit(8);
	}
	if (ret)
		fail_msg("enclave_build: %s", enclave_image_error());
}

/* Data through the enclave's buffer: in, out, and the same bytes back. */
static void copy_round(const struct th_encl *e, unsigned int tcs, uint8_t seed)
{
	static _Thread_local uint8_t in[TEST_ENCL_BUFFER_SIZE], out[TEST_ENCL_BUFFER_SIZE];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(seed + i * 13);
	memset(out, 0, sizeof(out));
	ecall_ok(e, tcs, TEST_ENCL_OP_COPY_IN, (uintptr_t)in, sizeof(in));
	ecall_ok(e, tcs, TEST_ENCL_OP_COPY_OUT, (uintptr_t)out, sizeof(out));
	assert_memory_equal(in, out, sizeof(in));
}

/* One enclave's life: ECALLs, data, an exception inside and its handler's entry, EREPORT. */
static void ecall_body(void *arg)
{
	unsigned int rounds = (unsigned int)(uintptr_t)arg;
	struct test_encl_report_args ra;
	const struct sgx_report *report;
	struct vdso_record c;
	struct th_encl e;
	uint64_t magic;

	th_build(&e);
	magic = (uint64_t)th_ecall_ok(&e, 0, TEST_ENCL_OP_MAGIC, 0, 0);
	for (unsigned int r = 0; r < rounds; r++) {
		th_ecall_ok(&e, 0, TEST_ENCL_OP_NOP, 0, 0);
		assert_true(th_ecall_ok(&e, 1, TEST_ENCL_OP_READ_U64, magic, 0) ==
			    (long)TEST_ENCL_MAGIC);
		th_ecall_ok(&e, 0, TEST_ENCL_OP_WRITE_U64, magic, 0x1234 + r);
		assert_true(th_ecall_ok(&e, 1, TEST_ENCL_OP_READ_U64, magic, 0) == (long)(0x1234 + r));
		th_ecall_ok(&e, 0, TEST_ENCL_OP_WRITE_U64, magic, TEST_ENCL_MAGIC);
		copy_round(&e, r & 1, (uint8_t)r);
	}
	/* #UD inside: the AEX, the vDSO's exception report, then the handler's entry (CSSA 1). */
	assert_int_equal(th_ecall(&e, 1, TEST_ENCL_OP_UD2, 0, 0, &c), 0);
	assert_int_equal(c.exceptions, 1);
	assert_int_equal(c.vector, X86_TRAP_UD);
	assert_int_equal(th_ecall(&e, 1, TEST_ENCL_OP_NOP, 0, 0, &c), 0);
	assert_int_equal(c.status, TEST_ENCL_EXCEPTION_ENTRY);
	/* EREPORT: the keys of the service's platform, in this process. */
	memset(&ra, 0, sizeof(ra));
	th_ecall_ok(&e, 0, TEST_ENCL_OP_EREPORT, (uintptr_t)&ra, 0);
	report = (const struct sgx_report *)ra.report;
	assert_memory_equal(report->body.mrenclave, th_sig->body.mrenclave, 32);
	assert_false(report->mac[0] == 0 && !memcmp(report->mac, report->mac + 1, 15));
	th_unload(&e);
}

static int wecall(unsigned int rounds)
{
	ecall_body((void *)(uintptr_t)rounds);
	ticking(true);
	run_body_on_new_thread(ecall_body, (void *)(uintptr_t)rounds);
	/* Until signals did arrive, enclaves going on meanwhile. */
	while (ticks < 3)
		ecall_body((void *)(uintptr_t)2);
	ticking(false);
	return 0;
}

/* Built, "ready", then inside the enclave spinning until killed. */
static int wspin(void)
{
	static volatile uint64_t never;
	struct vdso_record c;
	struct th_encl e;

	th_build(&e);
	th_ecall_ok(&e, 0, TEST_ENCL_OP_NOP, 0, 0);
	printf("ready\n");
	fflush(stdout);
	th_ecall(&e, 0, TEST_ENCL_OP_SPIN, (uintptr_t)&never, 0, &c);
	fprintf(stderr, "the spin returned\n");
	return 5;
}

#define PRESSURE_ENCLAVES 4

/* @n enclaves entered in turn, each holding its own data, for @rounds rounds. */
static int wpressure(unsigned int rounds)
{
	struct th_encl e[PRESSURE_ENCLAVES];
	uint64_t magic[PRESSURE_ENCLAVES];

	ticking(true);
	for (unsigned int i = 0; i < PRESSURE_ENCLAVES; i++) {
		wbuild(&e[i]);
		magic[i] = (uint64_t)ecall_ok(&e[i], 0, TEST_ENCL_OP_MAGIC, 0, 0);
		ecall_ok(&e[i], 0, TEST_ENCL_OP_WRITE_U64, magic[i], 0x5000 + i);
	}
	for (unsigned int r = 0; r < rounds; r++)
		for (unsigned int i = 0; i < PRESSURE_ENCLAVES; i++) {
			assert_true(ecall_ok(&e[i], r & 1, TEST_ENCL_OP_READ_U64, magic[i], 0) ==
				    (long)(0x5000 + i + r));
			ecall_ok(&e[i], 0, TEST_ENCL_OP_WRITE_U64, magic[i], 0x5000 + i + r + 1);
			copy_round(&e[i], (r + 1) & 1, (uint8_t)(r + i));
		}
	ticking(false);
	for (unsigned int i = 0; i < PRESSURE_ENCLAVES; i++)
		th_unload(&e[i]);
	return 0;
}

static void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(subleaf));
}

/* The program's CPUID and sysfs show the service's EPC of @bytes, one section. */
static int wcpuid(uint64_t bytes)
{
	FILE *f = fopen("/sys/devices/system/node/node0/x86/sgx_total_bytes", "r");
	unsigned long long total = 0;
	uint32_t r[4];
	uint64_t size;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu", &total), 1);
	fclose(f);
	assert_true(total == bytes);
	cpuid(7, 0, r);
	assert_true(r[1] & (1u << 2)); /* EBX.SGX */
	cpuid(0x12, 2, r);
	assert_int_equal(r[0] & 0xf, 1); /* a valid EPC section */
	size = (r[2] & 0xfffff000ull) | ((uint64_t)(r[3] & 0xfffff) << 32);
	assert_true(size == bytes);
	cpuid(0x12, 3, r);
	assert_int_equal(r[0] & 0xf, 0); /* and no other */
	return 0;
}

/* wpressure() for ever, "ready" once the enclaves are built (killed by the test). */
static __attribute__((noreturn)) int wforever(void)
{
	pf_ends_worker = true;
	printf("ready\n");
	fflush(stdout);
	for (;;)
		wpressure(20);
}

/*
 * A VMM's guest memory: @pages of /dev/sgx_vepc prefaulted with a pattern,
 * "ready", then after SIGUSR1 every page checked (0: intact). A vEPC page
 * is never reclaimed, so nothing of it may change or fault.
 */
static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static int wvepc(unsigned int pages)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	size_t len = (size_t)pages * 4096;
	uint8_t *p;
	int fd;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	fd = open("/dev/sgx_vepc", O_RDWR);
	assert_true(fd >= 0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	for (unsigned int i = 0; i < pages; i++)
		memset(p + (size_t)i * 4096, (int)(0x40 + i % 64), 4096);
	printf("ready\n");
	fflush(stdout);
	while (!go)
		usleep(1000);
	for (unsigned int i = 0; i < pages; i++)
		for (size_t b = 0; b < 4096; b += 512)
			if (p[(size_t)i * 4096 + b] != (uint8_t)(0x40 + i % 64)) {
				fprintf(stderr, "vEPC page %u changed at %zu\n", i, b);
				return 6;
			}
	munmap(p, len);
	close(fd);
	return 0;
}

static int worker(int argc, char **argv)
{
	const char *what = argv[2];
	unsigned int n = argc > 3 ? (unsigned int)strtoul(argv[3], NULL, 0) : 0;

	if (th_prepare()) {
		fprintf(stderr, "worker: the test enclave did not load\n");
		return 4;
	}
	if (!strcmp(what, "ecall"))
		return wecall(n);
	if (!strcmp(what, "spin"))
		return wspin();
	if (!strcmp(what, "pressure"))
		return wpressure(n);
	if (!strcmp(what, "cpuid"))
		return wcpuid(n);
	if (!strcmp(what, "forever"))
		return wforever();
	if (!strcmp(what, "vepc"))
		return wvepc(n);
	fprintf(stderr, "worker: no scenario %s\n", what);
	return 4;
}

/* ================= the tests: run plainly ================= */

static void test_ecalls(void **state)
{
	struct svc_status_rep st;
	struct wproc w;

	(void)state;
	wstart(&fx, &w, "4M", CLI_ARGS("ecall", "50"));
	assert_int_equal(wwait(&w, 60000), 0);
	wait_released(&st);
}

/* SIGKILL while a thread is inside: its TCS is freed, the enclave released whole. */
static void test_killed_inside(void **state)
{
	struct svc_status_rep st;
	struct wproc w;

	(void)state;
	wstart(&fx, &w, "4M", CLI_ARGS("spin"));
	wready(&w);
	usleep(100000); /* inside by now: EENTER follows "ready" at once */
	fx_status(&fx, &st);
	assert_int_equal(st.enclaves, 1);
	kill(w.pid, SIGKILL);
	assert_int_equal(fx_wait_exit(w.pid, 5000), 128 + SIGKILL);
	wgone(w.pid);
	close(w.out);
	wait_released(&st);
	assert_int_equal(st.leaked_pages, 0);
}

/* Two programs entering enclaves that together overflow the EPC. */
static void test_pressure(void **state)
{
	struct svc_status_rep st;
	struct wproc a, b;

	(void)state;
	wstart(&fx, &a, "256K", CLI_ARGS("pressure", "40"));
	wstart(&fx, &b, "256K", CLI_ARGS("pressure", "40"));
	assert_int_equal(wwait(&a, 120000), 0);
	assert_int_equal(wwait(&b, 120000), 0);
	fx_status(&fx, &st);
	assert_true(st.evictions > 0);
	assert_int_equal(st.in_use_pages, 0);
	assert_int_equal(st.leaked_pages, 0);
}

static unsigned int nr_kills(void)
{
	const char *s = getenv("SOFTSGX_STRESS");

	return s && !strcmp(s, "long") ? 1000 : 10;
}

/*
 * Victims killed at random moments of their lives while a pager enters its
 * enclaves all along: each kill lands somewhere between `softsgx run`'s
 * start and an ECALL loop whose pages the reclaimer takes for the pager.
 */
static void test_kill_loop_inside(void **state)
{
	unsigned int kills = nr_kills(), inside = 0;
	struct svc_status_rep st;
	struct wproc pager;

	(void)state;
	srand((unsigned int)getpid());
	fx_start(&fx, CLI_ARGS("--epc", "256K", "--sections", "1"));
	wstart(&fx, &pager, "256K", CLI_ARGS("pressure", "1000000"));
	for (unsigned int i = 0; i < kills; i++) {
		struct wproc v;

		wstart(&fx, &v, "256K", CLI_ARGS("forever"));
		/* Half the kills after "ready": inside or paging for sure. */
		if (i & 1) {
			wready(&v);
			inside++;
		}
		usleep((useconds_t)(rand() % 30000));
		kill(v.pid, SIGKILL);
		assert_int_equal(fx_wait_exit(v.pid, 10000), 128 + SIGKILL);
		wgone(v.pid);
		close(v.out);
		fx_status(&fx, &st);
		fx_assert_invariant(&fx, &st);
		/* The pager is right all along (it exits non-zero on a wrong value). */
		assert_int_equal(fx_wait_exit(pager.pid, 0), -1);
	}
	kill(pager.pid, SIGKILL);
	assert_int_equal(fx_wait_exit(pager.pid, 10000), 128 + SIGKILL);
	wgone(pager.pid);
	close(pager.out);
	wait_released(&st);
	fx_assert_invariant(&fx, &st);
	printf("%u kills (%u of them after the build), %llu evictions\n", kills, inside,
	       (unsigned long long)st.evictions);
}

/* A VMM's vEPC and another program's enclaves on one EPC: only the enclaves page. */
static void test_vepc_never_evicted(void **state)
{
	struct svc_status_rep st;
	struct wproc vmm, builder;

	(void)state;
	/* 1 MiB: 256 pages, 160 of them the guest's; the builder's enclaves need more than the rest. */
	wstart(&fx, &vmm, "1M", CLI_ARGS("vepc", "160"));
	wready(&vmm);
	wstart(&fx, &builder, "1M", CLI_ARGS("pressure", "30"));
	assert_int_equal(wwait(&builder, 120000), 0);
	fx_status(&fx, &st);
	assert_true(st.evictions > 0);
	assert_int_equal(st.vepcs, 1);
	kill(vmm.pid, SIGUSR1);
	assert_int_equal(wwait(&vmm, 30000), 0);
	wait_released(&st);
	printf("%llu evictions of the builder's pages, the vEPC's 160 pages intact\n",
	       (unsigned long long)st.evictions);
}

/* The service killed under load: every program ends with the documented failure, soon. */
static void test_service_killed_under_load(void **state)
{
	struct svc_status_rep st;
	struct wproc w[3];
	uint64_t t0;
	pid_t svc;

	(void)state;
	for (int i = 0; i < 3; i++)
		wstart(&fx, &w[i], "256K", CLI_ARGS("forever"));
	for (int i = 0; i < 3; i++)
		wready(&w[i]);
	usleep(100000);
	fx_status(&fx, &st);
	assert_true(st.evictions > 0);
	svc = svc_lock_holder(fx.dir);
	assert_true(svc > 0);
	assert_int_equal(kill(svc, SIGKILL), 0);
	t0 = fx_now_ms();
	for (int i = 0; i < 3; i++) {
		int status = fx_wait_exit(w[i].pid, 2000);

		/*
		 * A fault only the service could answer (docs/platform-service.md):
		 * SIGBUS outside the enclave, the vDSO's #PF report inside (7); or,
		 * for a worker that was building its next round's enclaves, an
		 * ioctl or mmap that failed with EIO (8).
		 */
		if (status != 128 + SIGBUS && status != 7 && status != 8)
			fprintf(stderr, "worker %d: status %d\n", (int)w[i].pid, status);
		assert_true(status == 128 + SIGBUS || status == 7 || status == 8);
		wgone(w[i].pid);
		close(w[i].out);
	}
	printf("three paging programs ended (SIGBUS, the vDSO's #PF or EIO) %llu ms after the service "
	       "was killed\n",
	       (unsigned long long)(fx_now_ms() - t0));
}

#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012
#endif

/* Whether this host can make CPUID fault (what the shim needs to answer it). */
static bool cpuid_faulting(void)
{
	if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0))
		return false;
	syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
	return true;
}

static void test_cpuid_and_sysfs(void **state)
{
	struct wproc w;

	(void)state;
	if (!cpuid_faulting()) {
		fprintf(stderr, "skipped: no CPUID faulting on this host (arch_prctl(ARCH_SET_CPUID): "
				"%s)\n",
			strerror(errno));
		skip();
	}
	wstart(&fx, &w, "2M", CLI_ARGS("cpuid", "0x200000"));
	assert_int_equal(wwait(&w, 30000), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ecalls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpuid_and_sysfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_loop_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vepc_never_evicted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_killed_under_load, setup, teardown),
	};

	return svc_worker_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]), worker);
}
