// SPDX-License-Identifier: MIT
/*
 * Conformance (a): an SGX test program written the way Linux's kernel
 * selftests (tools/testing/selftests/sgx) are, run unchanged under
 * `softsgx run --epc 1M --sections 2`. Written for this project from the
 * public description of what those tests do; no code is taken from them.
 *
 * What such a program does and expects from Linux on SGX hardware:
 *  - /dev/sgx_enclave exists and is a character device (misc major 10);
 *  - CPUID leaf 7 says SGX, and the EPC size is the sum of the sections
 *    that CPUID leaf 0x12 subleaves 2.. describe (here 1 MiB in 2);
 *  - __vdso_sgx_enter_enclave is found by reading the vDSO's ELF image at
 *    getauxval(AT_SYSINFO_EHDR) (conform.h), and enters the enclave from
 *    the main thread and from new threads;
 *  - enclaves 1.5 times the EPC are entered page by page (the selftests'
 *    "oversubscribed" case): every page comes back through reclaim;
 *  - PTE permissions: after mprotect(PROT_READ) a write from inside the
 *    enclave is a #PF with error code 0x7 (present, write, user) at the
 *    page, reported in struct sgx_enclave_run; restoring PROT_WRITE and
 *    ERESUME completes the write;
 *  - EPCM permissions: a write to a TCS page (mapped read-write, as Linux
 *    maps TCS pages, but not accessible to enclave software) is a #PF with
 *    the SGX bit, 0x8007; a read 0x8005. A write to the text page is a PTE
 *    fault (0x7): Linux refuses PROT_WRITE on it (EACCES), so the EPCM
 *    check is never reached through the page tables;
 *  - a signal (interval timer) arriving while the enclave runs: its
 *    handler runs (with working libc) and the enclave goes on with its
 *    registers intact, as the AEX and the vDSO's ERESUME give on hardware.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <time.h>

#include "tests/conformance/conform.h"

#define EPC_EXPECTED  (1024 * 1024)
#define SECTIONS_EXPECTED 2
#define MAGIC 0x1122334455667788ULL

static struct conform_encl encl;

/* ---- The device and CPUID. ---- */

static void test_device_node(void **state)
{
	struct stat st, fst;
	int fd;

	(void)state;
	assert_int_equal(stat("/dev/sgx_enclave", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 10);
	fd = open("/dev/sgx_enclave", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &fst), 0);
	assert_true(S_ISCHR(fst.st_mode));
	assert_int_equal(fst.st_rdev, st.st_rdev);
	close(fd);
}

static void test_epc_size_from_cpuid(void **state)
{
	struct cpuid_regs r7 = conform_cpuid(7, 0), r12 = conform_cpuid(0x12, 0);
	unsigned int sections = 0;
	uint64_t epc;

	(void)state;
	if (!conform_have_cpuid_faulting())
		conform_skip("no CPUID faulting on this host: a program's own CPUID cannot see SGX");
	assert_true(r7.ebx & (1u << 2));  /* SGX */
	assert_true(r7.ecx & (1u << 30)); /* SGX_LC: /dev/sgx_enclave needs it */
	assert_true(r12.eax & 1);	  /* SGX1 */
	epc = conform_epc_size(&sections);
	assert_int_equal(epc, EPC_EXPECTED);
	assert_int_equal(sections, SECTIONS_EXPECTED);
}

/* ---- Entry through the vDSO. ---- */

static const char *simple_calls(void *arg)
{
	struct conform_encl *e = arg;
	struct sgx_enclave_run run;
	struct conform_result res;
	uint64_t magic_addr;

	CHECK(conform_ecall(e, 0, TEST_ENCL_OP_MAGIC, 0, 0, &run, &res) == 0, "vDSO");
	CHECK(run.function == SGX_EEXIT && res.status == TEST_ENCL_OK, "status %llu",
	      (unsigned long long)res.status);
	magic_addr = res.value;
	CHECK(conform_ecall(e, 0, TEST_ENCL_OP_READ_U64, magic_addr, 0, &run, &res) == 0, "vDSO");
	CHECK(res.status == TEST_ENCL_OK && res.value == TEST_ENCL_MAGIC, "magic %#llx",
	      (unsigned long long)res.value);
	CHECK(conform_ecall(e, 1, TEST_ENCL_OP_NOP, 0, 0, &run, &res) == 0, "vDSO");
	CHECK(run.function == SGX_EEXIT && res.status == TEST_ENCL_OK, "TCS 1");
	/* The program's own TLS is intact after the call. */
	errno = 0;
	CHECK(errno == 0, "errno");
	return NULL;
}

static void test_unclobbered_vdso(void **state)
{
	(void)state;
	assert_int_equal(conform_build(&encl), 0);
	conform_check(simple_calls, &encl);
	conform_unload(&encl);
}

/* ---- Enclaves 1.5 times the EPC, entered page by page. ---- */

struct oversub {
	struct conform_encl *copies;
	unsigned int nr;
};

static bool is_readable_reg(const struct enclave_page *pg)
{
	return ((pg->secinfo >> 8) & 0xff) == SGX_PAGE_TYPE_REG && (pg->secinfo & SGX_SECINFO_R);
}

static const char *oversub_walk(void *arg)
{
	struct oversub *o = arg;
	struct sgx_enclave_run run;
	struct conform_result res;

	/* Store a marker per copy in both pages of its copy buffer... */
	for (unsigned int c = 0; c < o->nr; c++) {
		struct conform_encl *e = &o->copies[c];
		uint64_t buf;

		CHECK(conform_ecall(e, c % 2, TEST_ENCL_OP_BUFFER, 0, 0, &run, &res) == 0 &&
			      res.status == TEST_ENCL_OK, "BUFFER on copy %u", c);
		buf = res.value;
		for (uint64_t off = 0; off < TEST_ENCL_BUFFER_SIZE; off += 4096) {
			CHECK(conform_ecall(e, c % 2, TEST_ENCL_OP_WRITE_U64, buf + off,
					    MAGIC ^ (c << 16 | off), &run, &res) == 0, "vDSO");
			CHECK(run.function == SGX_EEXIT && res.status == TEST_ENCL_OK,
			      "write copy %u: function %u vector %u", c, run.function,
			      run.exception_vector);
		}
	}
	/* ...then read every readable page of every copy, and the markers. */
	for (unsigned int c = 0; c < o->nr; c++) {
		struct conform_encl *e = &o->copies[c];
		uint64_t buf;

		for (size_t i = 0; i < e->img.nr_pages; i++) {
			if (!is_readable_reg(&e->img.pages[i]))
				continue;
			CHECK(conform_ecall(e, c % 2, TEST_ENCL_OP_READ_U64,
					    e->h.base + e->img.pages[i].offset, 0, &run, &res) == 0,
			      "vDSO");
			CHECK(run.function == SGX_EEXIT && res.status == TEST_ENCL_OK,
			      "read copy %u page %#llx: function %u vector %u code %#x", c,
			      (unsigned long long)e->img.pages[i].offset, run.function,
			      run.exception_vector, run.exception_error_code);
		}
		CHECK(conform_ecall(e, c % 2, TEST_ENCL_OP_BUFFER, 0, 0, &run, &res) == 0, "vDSO");
		buf = res.value;
		for (uint64_t off = 0; off < TEST_ENCL_BUFFER_SIZE; off += 4096) {
			CHECK(conform_ecall(e, c % 2, TEST_ENCL_OP_READ_U64, buf + off, 0, &run,
					    &res) == 0, "vDSO");
			CHECK(res.status == TEST_ENCL_OK && res.value == (MAGIC ^ (c << 16 | off)),
			      "marker of copy %u at +%#llx: %#llx", c, (unsigned long long)off,
			      (unsigned long long)res.value);
		}
	}
	return NULL;
}

static void test_unclobbered_vdso_oversubscribed(void **state)
{
	uint64_t epc = conform_epc_size(NULL), want_pages;
	struct oversub o;

	(void)state;
	/*
	 * The selftests size their enclave from CPUID. Where the program sees
	 * no EPC there, test_epc_size_from_cpuid says so; this test still
	 * oversubscribes the EPC the program was run with.
	 */
	if (!epc) {
		fprintf(stderr, "note: CPUID leaf 0x12 reports no EPC (test_epc_size_from_cpuid "
				"fails for that); using the 1 MiB the program was run with\n");
		epc = EPC_EXPECTED;
	}
	want_pages = epc / 4096 * 3 / 2;
	o.nr = (unsigned int)((want_pages + encl.img.nr_pages - 1) / encl.img.nr_pages);
	o.copies = calloc(o.nr, sizeof(*o.copies));
	assert_non_null(o.copies);
	for (unsigned int c = 0; c < o.nr; c++) {
		/* Copies share the loaded and signed image; each gets its own build. */
		o.copies[c] = encl;
		assert_int_equal(conform_build(&o.copies[c]), 0);
	}
	conform_check(oversub_walk, &o);
	for (unsigned int c = 0; c < o.nr; c++)
		conform_unload(&o.copies[c]);
	free(o.copies);
}

/* ---- Page-table and EPCM permissions, with exact #PF error codes. ---- */

/* The first whole page of the copy buffer, as an enclave address. */
static uint64_t buffer_page(const struct conform_encl *e)
{
	struct sgx_enclave_run run;
	struct conform_result res;

	if (conform_ecall(e, 0, TEST_ENCL_OP_BUFFER, 0, 0, &run, &res) || res.status)
		return 0;
	return (res.value + 4095) & ~4095ULL;
}

static const char *pte_permissions(void *arg)
{
	struct conform_encl *e = arg;
	struct sgx_enclave_run run;
	struct conform_result res;
	uint64_t page = buffer_page(e);

	CHECK(page, "no buffer page");
	CHECK(conform_ecall(e, 0, TEST_ENCL_OP_WRITE_U64, page, MAGIC, &run, &res) == 0 &&
		      res.status == TEST_ENCL_OK, "first write");
	CHECK(mprotect((void *)(uintptr_t)page, 4096, PROT_READ) == 0, "mprotect: %s",
	      strerror(errno));
	/* Reading is still allowed. */
	CHECK(conform_ecall(e, 0, TEST_ENCL_OP_READ_U64, page, 0, &run, &res) == 0 &&
		      run.function == SGX_EEXIT && res.value == MAGIC,
	      "read of a PROT_READ page: function %u vector %u", run.function, run.exception_vector);
	/* A write is a #PF on a present page: P | W | U = 0x7, at the page. */
	CHECK(conform_ecall(e, 0, TEST_ENCL_OP_WRITE_U64, page, ~MAGIC, &run, &res) == 0, "vDSO");
	CHECK(run.function == SGX_ERESUME, "function %u after the write", run.function);
	CHECK(run.exception_vector == 14, "vector %u", run.exception_vector);
	CHECK(run.exception_error_code == 0x7, "error code %#x, Linux reports 0x7",
	      run.exception_error_code);
	CHECK(run.exception_addr == page, "address %#llx, page %#llx",
	      (unsigned long long)run.exception_addr, (unsigned long long)page);
	/* Give the write permission back and resume: the write completes. */
	CHECK(mprotect((void *)(uintptr_t)page, 4096, PROT_READ | PROT_WRITE) == 0, "mprotect");
	memset(&res, 0, sizeof(res));
	res.status = ~0ULL;
	CHECK(vdso_call(0, 0, 0, SGX_ERESUME, &run, conform_vdso_enter) == 0, "ERESUME");
	CHECK(run.function == SGX_EEXIT && res.status == TEST_ENCL_OK,
	      "after ERESUME: function %u status %llu", run.function,
	      (unsigned long long)res.status);
	CHECK(conform_ecall(e, 0, TEST_ENCL_OP_READ_U64, page, 0, &run, &res) == 0 &&
		      res.value == ~MAGIC, "value %#llx", (unsigned long long)res.value);
	return NULL;
}

static void test_pte_permissions(void **state)
{
	(void)state;
	assert_int_equal(conform_build(&encl), 0);
	conform_check(pte_permissions, &encl);
	conform_unload(&encl);
}

static const char *epcm_permissions(void *arg)
{
	struct conform_encl *e = arg;
	struct sgx_enclave_run run;
	struct conform_result res;
	uint64_t tcs1 = conform_tcs(e, 1), text = 0;

	for (size_t i = 0; i < e->img.nr_pages && !text; i++)
		if (e->img.pages[i].secinfo & SGX_SECINFO_X)
			text = e->h.base + e->img.pages[i].offset;
	CHECK(text, "no text page");

	/* Linux refuses write permission on a page whose EPCM lacks W. */
	errno = 0;
	CHECK(mprotect((void *)(uintptr_t)text, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) == -1 &&
		      errno == EACCES, "mprotect RWX of text: %s", strerror(errno));
	/* So a write to text faults on the page tables: 0x7, no SGX bit. */
	CHECK(conform_ecall(e, 0, TEST_ENCL_OP_WRITE_U64, text, 0, &run, &res) == 0, "vDSO");
	CHECK(run.function == SGX_ERESUME && run.exception_vector == 14 &&
		      run.exception_error_code == 0x7 && run.exception_addr == text,
	      "write to text: function %u vector %u code %#x addr %#llx", run.function,
	      run.exception_vector, run.exception_error_code,
	      (unsigned long long)run.exception_addr);
	/* TCS 0 is at CSSA 1 now: an EENTER is the exception entry (EXITINFO #PF). */
	CHECK(conform_ecall(e, 0, TEST_ENCL_OP_NOP, 0, 0, &run, &res) == 0 &&
		      res.status == TEST_ENCL_EXCEPTION_ENTRY, "exception entry: status %llu",
	      (unsigned long long)res.status);
	CHECK(res.value == 0x8000030e, "EXITINFO %#llx", (unsigned long long)res.value);

	/*
	 * TCS pages are mapped read-write, as Linux maps them, but the EPCM
	 * makes them inaccessible to enclave software: #PF with the SGX bit.
	 */
	CHECK(conform_ecall(e, 1, TEST_ENCL_OP_WRITE_U64, tcs1, 0, &run, &res) == 0, "vDSO");
	CHECK(run.function == SGX_ERESUME && run.exception_vector == 14 &&
		      run.exception_error_code == 0x8007 && run.exception_addr == tcs1,
	      "write to a TCS: function %u vector %u code %#x (want 0x8007) addr %#llx",
	      run.function, run.exception_vector, run.exception_error_code,
	      (unsigned long long)run.exception_addr);
	return NULL;
}

static const char *epcm_read(void *arg)
{
	struct conform_encl *e = arg;
	struct sgx_enclave_run run;
	struct conform_result res;
	uint64_t tcs0 = conform_tcs(e, 0);

	CHECK(conform_ecall(e, 1, TEST_ENCL_OP_READ_U64, tcs0, 0, &run, &res) == 0, "vDSO");
	CHECK(run.function == SGX_ERESUME && run.exception_vector == 14 &&
		      run.exception_error_code == 0x8005 && run.exception_addr == tcs0,
	      "read of a TCS: function %u vector %u code %#x (want 0x8005)", run.function,
	      run.exception_vector, run.exception_error_code);
	return NULL;
}

static void test_epcm_permissions(void **state)
{
	(void)state;
	/* Each check leaves TCSs at CSSA 1: a fresh enclave each time. */
	assert_int_equal(conform_build(&encl), 0);
	conform_check_here(epcm_permissions, &encl);
	conform_unload(&encl);
	assert_int_equal(conform_build(&encl), 0);
	conform_check_on_thread(epcm_permissions, &encl);
	conform_unload(&encl);
	assert_int_equal(conform_build(&encl), 0);
	conform_check_on_thread(epcm_read, &encl);
	conform_unload(&encl);
}

/* ---- A timer signal while the enclave runs. ---- */

static atomic_uint_fast64_t ticks;
static volatile uint64_t spin_stop;
static atomic_bool libc_broken;

#define TICKS_WANTED 50

static void on_tick(int sig)
{
	int saved = errno;
	char line[64];
	void *p;

	(void)sig;
	/* What a program's handler may well do: libc, with its TLS. */
	p = malloc(32);
	if (!p || snprintf(line, sizeof(line), "tick %d", (int)atomic_load(&ticks)) <= 0)
		atomic_store(&libc_broken, true);
	free(p);
	if (atomic_fetch_add(&ticks, 1) + 1 >= TICKS_WANTED)
		spin_stop = 1;
	errno = saved;
}

struct spin_arg {
	struct conform_encl *e;
	unsigned int tcs;
	bool per_thread_timer;
};

static const char *spin_under_timer(void *arg)
{
	struct spin_arg *a = arg;
	struct sgx_enclave_run run;
	struct conform_result res;
	struct itimerspec its = { .it_interval = { 0, 200000 }, .it_value = { 0, 200000 } };
	struct itimerval itv = { .it_interval = { 0, 200 }, .it_value = { 0, 200 } };
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGALRM };
	timer_t timer;
	int ret;

	atomic_store(&ticks, 0);
	spin_stop = 0;
	if (a->per_thread_timer) {
		sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
		CHECK(timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0, "timer_create");
		CHECK(timer_settime(timer, 0, &its, NULL) == 0, "timer_settime");
	} else {
		CHECK(setitimer(ITIMER_REAL, &itv, NULL) == 0, "setitimer");
	}
	/* Spin until the handler has run TICKS_WANTED times (or 2^31 rounds). */
	ret = conform_ecall(a->e, a->tcs, TEST_ENCL_OP_SPIN, (uintptr_t)&spin_stop, 1ULL << 31,
			    &run, &res);
	if (a->per_thread_timer) {
		timer_delete(timer);
	} else {
		memset(&itv, 0, sizeof(itv));
		setitimer(ITIMER_REAL, &itv, NULL);
	}
	CHECK(ret == 0, "vDSO %d", ret);
	CHECK(run.function == SGX_EEXIT, "function %u vector %u: the signal became an exception",
	      run.function, run.exception_vector);
	CHECK(res.status == TEST_ENCL_OK, "status %llu (5: registers changed under the enclave)",
	      (unsigned long long)res.status);
	CHECK(atomic_load(&ticks) >= TICKS_WANTED, "only %u ticks", (unsigned)atomic_load(&ticks));
	CHECK(!atomic_load(&libc_broken), "libc failed in the handler");
	return NULL;
}

static void test_timer_signal_during_enclave(void **state)
{
	struct sigaction sa = { .sa_handler = on_tick, .sa_flags = SA_RESTART };
	struct spin_arg a = { .e = &encl };

	(void)state;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(conform_build(&encl), 0);
	conform_check_here(spin_under_timer, &a);
	a.tcs = 1;
	a.per_thread_timer = true;
	conform_check_on_thread(spin_under_timer, &a);
	conform_unload(&encl);
	signal(SIGALRM, SIG_DFL);
}

int main(int argc, char **argv)
{
	static const char *const run_opts[] = { "--epc", "1M", "--sections", "2", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_node),
		cmocka_unit_test(test_epc_size_from_cpuid),
		cmocka_unit_test(test_unclobbered_vdso),
		cmocka_unit_test(test_unclobbered_vdso_oversubscribed),
		cmocka_unit_test(test_pte_permissions),
		cmocka_unit_test(test_epcm_permissions),
		cmocka_unit_test(test_timer_signal_during_enclave),
	};

	shim_test_reexec(argc, argv, run_opts);
	conform_find_vdso();
	return conform_main_encl("selftest_style", tests, sizeof(tests) / sizeof(tests[0]), &encl,
				 "SOFTSGX_TEST_ENCLAVE");
}
