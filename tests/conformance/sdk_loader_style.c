// SPDX-License-Identifier: MIT
/*
 * Conformance (b): an SGX host program written the way the Intel SGX SDK's
 * loader (the untrusted runtime on Linux) and its trusted runtime behave,
 * run unchanged under `softsgx run`. Written for this project from public
 * descriptions of that behaviour; no code is taken from the SDK.
 *
 * What such a program does and expects from Linux on SGX hardware:
 *  - it looks for the driver: /dev/sgx/enclave first (the name the SDK's
 *    udev rules and the out-of-tree driver give), then /dev/sgx_enclave;
 *    the node must open and stat as a character device;
 *  - it reads the CPU's SGX support from CPUID: leaf 7 (EBX[2] SGX,
 *    ECX[30] SGX_LC), leaf 0x12 subleaf 0 (EAX[0] SGX1, MISCSELECT in EBX,
 *    the maximum enclave size in EDX) and subleaf 1 (the ATTRIBUTES mask in
 *    EAX:EBX, the XFRM mask in ECX:EDX);
 *  - it chooses the enclave's XFRM as XCR0 (XGETBV) AND the CPUID XFRM
 *    mask, and its trusted runtime sizes XSAVE buffers from CPUID leaf 0xD
 *    for that XFRM: inside the enclave the CPU runs with XCR0 = XFRM, so an
 *    XSAVE/XRSTOR with an all-ones mask stays inside that size;
 *  - around each OCALL the trusted runtime saves the extended state with
 *    XSAVE and restores it with XRSTOR, while the host, in between, uses
 *    vector registers freely; threads share the enclave through its TCSs
 *    (two here) and take turns;
 *  - __vdso_sgx_enter_enclave is found by reading the vDSO's ELF image at
 *    getauxval(AT_SYSINFO_EHDR): DT_GNU_HASH and DT_HASH agree, version
 *    LINUX_2.6;
 *  - EDMM (SGX2) is detected as the SDK's uRTS does before it tells its
 *    trusted runtime to grow heaps dynamically: CPUID leaf 0 reaches 0x12,
 *    CPUID.(12H,0):EAX has SGX1 (bit 0) and SGX2 (bit 1), and the driver
 *    answers SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS with zeroed arguments on
 *    a freshly opened device with any errno but ENOTTY (Linux: EINVAL, the
 *    enclave is not initialized). The enclave's ELRANGE then reaches past
 *    its image, the loader maps that part read/write with no pages yet, and
 *    the trusted runtime grows its heap page by page: EACCEPT with
 *    PENDING | REG | R | W, which faults, the kernel EAUGs a page, the
 *    EACCEPT succeeds on the retry; then the page is used. Under
 *    `softsgx run --sgx1` the same checks say no EDMM (SGX2 bit clear, the
 *    ioctl ENODEV), and the uRTS would keep its heaps static.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>

#include "tests/conformance/conform.h"

/* The model's XFRM mask (`softsgx info`), used when CPUID does not say. */
#define FALLBACK_XFRM_MASK 0x7ULL
#define ROUNDS_PER_THREAD 200
#define NR_THREADS 4

static struct conform_encl encl;
static const char *device;

/* EDMM: ELRANGE of 1 MiB, the heap from 512 KiB up (the image ends below). */
#define EDMM_ELRANGE	0x100000ULL
#define EDMM_HEAP	0x80000ULL
#define EDMM_HEAP_STEP	48 /* pages grown per run (main thread, then a new one) */
#define PENDING_RW	(SGX_SECINFO_REG | SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_PENDING)

/* The probe an SDK loader makes: the first name that opens wins. */
static const char *probe_device(void)
{
	static const char *const names[] = { "/dev/sgx/enclave", "/dev/sgx_enclave" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int fd = open(names[i], O_RDWR);

		if (fd >= 0) {
			close(fd);
			return names[i];
		}
	}
	return NULL;
}

static void test_device_probe(void **state)
{
	static const char *const nodes[] = { "/dev/sgx/enclave", "/dev/sgx_enclave",
					     "/dev/sgx/provision", "/dev/sgx_provision" };
	struct stat st;

	(void)state;
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		int fd;

		if (stat(nodes[i], &st))
			fail_msg("stat %s: %s", nodes[i], strerror(errno));
		if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 10)
			fail_msg("%s: mode %o, device %u:%u; Linux has a misc character device",
				 nodes[i], st.st_mode, major(st.st_rdev), minor(st.st_rdev));
		fd = open(nodes[i], O_RDWR);
		if (fd < 0)
			fail_msg("open %s: %s", nodes[i], strerror(errno));
		close(fd);
	}
	assert_string_equal(probe_device(), "/dev/sgx/enclave");
}

static void test_cpuid_sgx_leaves(void **state)
{
	struct cpuid_regs r7, s0, s1;
	uint64_t attr_mask, xfrm_mask;

	(void)state;
	if (!conform_have_cpuid_faulting())
		conform_skip("no CPUID faulting on this host: a program's own CPUID cannot see SGX");
	r7 = conform_cpuid(7, 0);
	assert_true(r7.ebx & (1u << 2));  /* SGX */
	assert_true(r7.ecx & (1u << 30)); /* SGX_LC */
	s0 = conform_cpuid(0x12, 0);
	assert_true(s0.eax & 1);		 /* SGX1 */
	assert_true(s0.ebx & 1);		 /* MISCSELECT: EXINFO */
	assert_true(((s0.edx >> 8) & 0xff) >= 36); /* 64-bit enclaves of at least 64 GiB */
	s1 = conform_cpuid(0x12, 1);
	attr_mask = (uint64_t)s1.ebx << 32 | s1.eax;
	xfrm_mask = (uint64_t)s1.edx << 32 | s1.ecx;
	assert_int_equal(attr_mask & 0x6, 0x6); /* DEBUG, MODE64BIT */
	assert_int_equal(xfrm_mask & 0x3, 0x3); /* x87 and SSE are always allowed */
}

/* ---- XFRM, XSAVE sizes, and the trusted runtime's save around OCALLs. ---- */

static uint64_t choose_xfrm(void)
{
	struct cpuid_regs s1 = conform_cpuid(0x12, 1);
	uint64_t mask = (uint64_t)s1.edx << 32 | s1.ecx;

	if (!mask) {
		fprintf(stderr, "[  NOTE    ] CPUID leaf 0x12 has no XFRM mask "
				"(test_cpuid_sgx_leaves fails for that); using the model's %#llx\n",
			(unsigned long long)FALLBACK_XFRM_MASK);
		mask = FALLBACK_XFRM_MASK;
	}
	return conform_xgetbv(0) & mask;
}

/* Bytes an XSAVE (standard form) of the components in @xfrm writes. */
static uint32_t xsave_size(uint64_t xfrm)
{
	uint32_t size = 512 + 64; /* legacy area and XSAVE header */

	for (unsigned int i = 2; i < 63; i++) {
		struct cpuid_regs r;

		if (!(xfrm & (1ULL << i)))
			continue;
		r = conform_cpuid(0xd, i);
		if (r.ebx + r.eax > size)
			size = r.ebx + r.eax;
	}
	return size;
}

static uint64_t xfrm;
static uint32_t xsize;
static pthread_mutex_t tcs_lock[TEST_ENCL_NR_TCS] = { PTHREAD_MUTEX_INITIALIZER,
						       PTHREAD_MUTEX_INITIALIZER };

/* The untrusted side of an OCALL: libc and every vector register it likes. */
static void host_ocall_work(unsigned int round)
{
	char text[128];
	void *p = malloc(4096);
	unsigned int eax, ebx, ecx, edx;

	if (p) {
		memset(p, (int)round, 4096);
		free(p);
	}
	snprintf(text, sizeof(text), "ocall %u %f", round, round * 1.5);
	__asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\t"
			 "pxor %%xmm7, %%xmm7\n\t"
			 "movaps %%xmm0, %%xmm15" ::: "xmm0", "xmm7", "xmm15");
	if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 28)) && (ecx & (1u << 27)) &&
	    (conform_xgetbv(0) & 0x6) == 0x6)
		__asm__ volatile("vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n\t"
				 "vpxor %%ymm2, %%ymm2, %%ymm2\n\t"
				 "vzeroupper" ::: "xmm1", "xmm2");
}

static const char *ecall_with_ocalls(unsigned int tcs, unsigned int rounds)
{
	struct sgx_enclave_run run;
	struct conform_result res;
	uint64_t slot = (uint64_t)tcs << 32;

	for (unsigned int i = 0; i < rounds; i++) {
		CHECK(conform_ecall(&encl, tcs, TEST_ENCL_OP_XSAVE, ~0ULL, slot | xsize, &run, &res) ==
			      0, "vDSO");
		CHECK(run.function == SGX_EEXIT, "XSAVE: function %u vector %u", run.function,
		      run.exception_vector);
		CHECK(res.status != TEST_ENCL_OVERRUN,
		      "XSAVE with XFRM %#llx wrote at offset %llu, past the %u bytes CPUID 0xD gives "
		      "for it: the enclave runs under another XCR0",
		      (unsigned long long)xfrm, (unsigned long long)res.value, xsize);
		CHECK(res.status == TEST_ENCL_OK, "XSAVE status %llu", (unsigned long long)res.status);
		CHECK(!(res.value & ~xfrm), "XSTATE_BV %#llx outside XFRM %#llx",
		      (unsigned long long)res.value, (unsigned long long)xfrm);
		host_ocall_work(i);
		CHECK(conform_ecall(&encl, tcs, TEST_ENCL_OP_XRSTOR, ~0ULL, slot | xsize, &run, &res) ==
			      0, "vDSO");
		CHECK(run.function == SGX_EEXIT && res.status == TEST_ENCL_OK,
		      "XRSTOR: function %u vector %u status %llu", run.function, run.exception_vector,
		      (unsigned long long)res.status);
	}
	return NULL;
}

static const char *single_thread(void *arg)
{
	(void)arg;
	return ecall_with_ocalls(0, 20);
}

/* Threads take turns on the TCSs, as the SDK hands a free TCS to each ECALL. */
static const char *take_turns(void *arg)
{
	unsigned int me = (unsigned int)(uintptr_t)arg;

	for (unsigned int r = 0; r < ROUNDS_PER_THREAD / 10; r++) {
		unsigned int tcs = (me + r) % TEST_ENCL_NR_TCS;
		const char *msg;

		pthread_mutex_lock(&tcs_lock[tcs]);
		msg = ecall_with_ocalls(tcs, 10);
		pthread_mutex_unlock(&tcs_lock[tcs]);
		if (msg)
			return msg;
	}
	return NULL;
}

struct turn_thread {
	pthread_t th;
	unsigned int id;
	char msg[512];
	bool failed;
};

static void *turn_main(void *p)
{
	struct turn_thread *t = p;
	const char *msg = take_turns((void *)(uintptr_t)t->id);

	if (msg) {
		t->failed = true;
		snprintf(t->msg, sizeof(t->msg), "%s", msg);
	}
	return NULL;
}

static void build_with_xfrm(void)
{
	/* The loader reads XFRM's mask from CPUID leaf 0x12: without the model's, no SGX. */
	if (!conform_have_cpuid_faulting())
		conform_skip("no CPUID faulting on this host: the program's CPUID leaf 0x12 is the "
			     "host's, so a loader finds no SGX and no XFRM mask");
	xfrm = choose_xfrm();
	xsize = xsave_size(xfrm);
	assert_true((xfrm & 3) == 3);
	assert_true(xsize <= TEST_ENCL_XSAVE_SLOT_SIZE);
	conform_load(&encl, "SOFTSGX_TEST_ENCLAVE_XSAVE", xfrm);
	device = probe_device();
	if (!device)
		fail_msg("neither /dev/sgx/enclave nor /dev/sgx_enclave opens");
	conform_device = device;
	assert_int_equal(conform_build(&encl), 0);
}

static void test_xsave_around_ocalls(void **state)
{
	(void)state;
	build_with_xfrm();
	conform_check(single_thread, NULL);
	conform_free(&encl);
}

static void test_xsave_threads_take_turns(void **state)
{
	struct turn_thread t[NR_THREADS];

	(void)state;
	build_with_xfrm();
	for (unsigned int i = 0; i < NR_THREADS; i++) {
		t[i] = (struct turn_thread){ .id = i };
		assert_int_equal(pthread_create(&t[i].th, NULL, turn_main, &t[i]), 0);
	}
	for (unsigned int i = 0; i < NR_THREADS; i++)
		assert_int_equal(pthread_join(t[i].th, NULL), 0);
	for (unsigned int i = 0; i < NR_THREADS; i++)
		if (t[i].failed)
			fail_msg("thread %u: %s", i, t[i].msg);
	conform_free(&encl);
}

/* ---- EDMM detection and a heap that grows by EACCEPT. ---- */

/* The uRTS's CPU check: leaf 0x12 exists, SGX1 and SGX2 in its subleaf 0. */
static bool cpu_has_edmm(void)
{
	struct cpuid_regs r = conform_cpuid(0, 0);

	if (r.eax < 0x12)
		return false;
	r = conform_cpuid(0x12, 0);
	return (r.eax & 1) && (r.eax & 2);
}

/* The uRTS's driver check: the SGX2 ioctl exists unless it is ENOTTY. */
static int driver_edmm_errno(const char *path)
{
	struct sgx_enclave_restrict_permissions rp;
	int fd = open(path, O_RDWR), ret, err;

	if (fd < 0)
		return -1;
	memset(&rp, 0, sizeof(rp));
	ret = ioctl(fd, SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, &rp);
	err = errno;
	close(fd);
	return ret ? err : 0;
}

/*
 * The test enclave with room past its image: ELRANGE is part of the
 * measurement (ECREATE's SIZE), so it is set before signing.
 */
static void load_edmm_enclave(void)
{
	const char *path = getenv("SOFTSGX_TEST_ENCLAVE"), *keyfile = getenv("SOFTSGX_TEST_KEY");
	EVP_PKEY *key = NULL;
	FILE *f;
	uint64_t end;

	memset(&encl, 0, sizeof(encl));
	if (!path || !keyfile)
		fail_msg("SOFTSGX_TEST_ENCLAVE and SOFTSGX_TEST_KEY must be set: run with `make check`");
	if (enclave_image_load_file(path, &encl.img))
		fail_msg("load %s: %s", path, enclave_image_error());
	end = encl.img.pages[encl.img.nr_pages - 1].offset + SGX_PAGE_SIZE;
	if (end > EDMM_HEAP || encl.img.secs->size > EDMM_ELRANGE)
		fail_msg("the test enclave (%#llx bytes) grew into the heap at %#llx",
			 (unsigned long long)end, EDMM_HEAP);
	encl.img.secs->size = EDMM_ELRANGE;
	f = fopen(keyfile, "r");
	if (f) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!key)
		fail_msg("cannot read the key %s", keyfile);
	if (enclave_image_sign(&encl.img, key, NULL, &encl.sig))
		fail_msg("signing the enclave failed");
	EVP_PKEY_free(key);
}

static _Atomic unsigned int heap_pages; /* grown so far, by every run */

/* One ECALL that must EEXIT with @status; its value. */
static const char *ecall_status(unsigned int tcs, uint64_t op, uint64_t a1, uint64_t a2,
				uint64_t status, uint64_t *value)
{
	struct sgx_enclave_run run;
	struct conform_result res;
	int ret = conform_ecall(&encl, tcs, op, a1, a2, &run, &res);

	CHECK(ret == 0 && res.exited, "op %llu at %#llx: vDSO %d, leaf %u, vector %u, "
	      "error code %#x, address %#llx", (unsigned long long)op, (unsigned long long)a1,
	      ret, run.function, run.exception_vector, run.exception_error_code,
	      (unsigned long long)run.exception_addr);
	CHECK(res.status == status, "op %llu at %#llx: status %llu value %#llx, expected %llu",
	      (unsigned long long)op, (unsigned long long)a1, (unsigned long long)res.status,
	      (unsigned long long)res.value, (unsigned long long)status);
	if (value)
		*value = res.value;
	return NULL;
}

/*
 * The trusted runtime's heap growth: EDMM_HEAP_STEP fresh pages, each
 * EACCEPTed (the fault EAUGs it) and then written; all read back; a second
 * EACCEPT of a page is refused (no longer PENDING).
 */
static const char *grow_heap(void *arg)
{
	unsigned int first = atomic_fetch_add(&heap_pages, EDMM_HEAP_STEP);
	uint64_t heap = encl.h.base + EDMM_HEAP + (uint64_t)first * SGX_PAGE_SIZE, v;
	const char *msg;

	(void)arg;
	for (unsigned int i = 0; i < EDMM_HEAP_STEP; i++) {
		uint64_t page = heap + (uint64_t)i * SGX_PAGE_SIZE;

		msg = ecall_status(0, TEST_ENCL_OP_EACCEPT, page, PENDING_RW, TEST_ENCL_OK, &v);
		if (msg)
			return msg;
		CHECK(v == 0, "EACCEPT of heap page %u returned %#llx", first + i,
		      (unsigned long long)v);
		msg = ecall_status(0, TEST_ENCL_OP_DYN_WRITE, page + 16, 0xED330000 + first + i,
				   TEST_ENCL_OK, NULL);
		if (msg)
			return msg;
	}
	for (unsigned int i = 0; i < EDMM_HEAP_STEP; i++) {
		uint64_t page = heap + (uint64_t)i * SGX_PAGE_SIZE;

		msg = ecall_status(1, TEST_ENCL_OP_DYN_READ, page + 16, 0, TEST_ENCL_OK, &v);
		if (msg)
			return msg;
		CHECK(v == 0xED330000 + first + i, "heap page %u holds %#llx", first + i,
		      (unsigned long long)v);
		/* EAUG gave a zeroed page. */
		msg = ecall_status(1, TEST_ENCL_OP_DYN_READ, page, 0, TEST_ENCL_OK, &v);
		if (msg)
			return msg;
		CHECK(v == 0, "heap page %u was not zeroed: %#llx", first + i,
		      (unsigned long long)v);
	}
	msg = ecall_status(0, TEST_ENCL_OP_EACCEPT, heap, PENDING_RW, TEST_ENCL_SGX_ERROR, &v);
	if (msg)
		return msg;
	CHECK(v == SGX_PAGE_ATTRIBUTES_MISMATCH, "a second EACCEPT returned %#llx",
	      (unsigned long long)v);
	return NULL;
}

static void test_edmm_detect_and_grow_heap(void **state)
{
	void *dyn;
	int err;

	(void)state;
	if (!conform_have_cpuid_faulting())
		conform_skip("no CPUID faulting on this host: the SDK's CPUID check cannot see SGX2");
	if (!cpu_has_edmm())
		fail_msg("CPUID.(12H,0):EAX lacks SGX2 (bit 1) on the default platform");
	device = probe_device();
	if (!device)
		fail_msg("neither /dev/sgx/enclave nor /dev/sgx_enclave opens");
	err = driver_edmm_errno(device);
	if (err == ENOTTY)
		fail_msg("%s: RESTRICT_PERMISSIONS is ENOTTY: the SDK would turn EDMM off", device);
	/* Linux 6.0+ on an SGX2 CPU: the enclave is not initialized yet. */
	assert_int_equal(err, EINVAL);

	load_edmm_enclave();
	conform_device = device;
	assert_int_equal(conform_build(&encl), 0);
	/* The loader maps the dynamic part read/write, with no pages behind it yet. */
	dyn = mmap((void *)(uintptr_t)(encl.h.base + EDMM_HEAP), EDMM_ELRANGE - EDMM_HEAP,
		   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, encl.h.fd, 0);
	assert_ptr_equal(dyn, (void *)(uintptr_t)(encl.h.base + EDMM_HEAP));
	conform_check(grow_heap, NULL);
	conform_free(&encl);
}

/*
 * On an SGX1 CPU (`softsgx run --sgx1`) the same detection says no EDMM:
 * CPUID.(12H,0):EAX has SGX1 without SGX2, and the ioctl fails with ENODEV
 * (not ENOTTY: the driver has it, the CPU does not), so the uRTS keeps its
 * heaps static. Run as the program itself under a nested `softsgx run`.
 */
#define SGX1_PROBE_ENV "SDK_LOADER_STYLE_SGX1_PROBE"

static int sgx1_probe(void)
{
	struct cpuid_regs r = conform_cpuid(0x12, 0);
	const char *dev = probe_device();
	int err;

	if (!(r.eax & 1) || (r.eax & 2)) {
		fprintf(stderr, "--sgx1: CPUID.(12H,0):EAX = %#x, want SGX1 without SGX2\n", r.eax);
		return 1;
	}
	if (cpu_has_edmm()) {
		fprintf(stderr, "--sgx1: the uRTS's CPU check finds EDMM\n");
		return 1;
	}
	err = dev ? driver_edmm_errno(dev) : -1;
	if (err != ENODEV) {
		fprintf(stderr, "--sgx1: RESTRICT_PERMISSIONS on %s: errno %d, Linux gives ENODEV\n",
			dev ? dev : "(no device)", err);
		return 1;
	}
	return 0;
}

static void test_edmm_off_on_sgx1(void **state)
{
	char *bin = getenv("SOFTSGX_BIN"), probe_flag[] = SGX1_PROBE_ENV "=1";
	char self[PATH_MAX];
	/* A platform of its own: in service mode another configuration than the service's. */
	char *args[] = { bin, "run", "--private", "--sgx1", "--", self, NULL };
	char **envp;
	size_t n = 0, k = 0;
	ssize_t len;
	int status;
	pid_t pid;

	(void)state;
	if (!conform_have_cpuid_faulting())
		conform_skip("no CPUID faulting on this host: the SDK's CPUID check cannot see SGX");
	assert_non_null(bin);
	/* This program, by its path: /proc/self/exe would name `softsgx` there. */
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(len > 0);
	self[len] = '\0';
	/*
	 * A fresh `softsgx run`, as a user would start the program: an
	 * environment without the shim's LD_PRELOAD (an exec with the inherited
	 * environment keeps the shim loaded in the new program, as `softsgx
	 * run` wants for a program's children).
	 */
	while (environ[n])
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	assert_non_null(envp);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) && strncmp(environ[i], "CONFORM_ONLY=", 13))
			envp[k++] = environ[i];
	envp[k++] = probe_flag;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		/* The system call itself: the shim's execve() keeps it preloaded. */
		syscall(SYS_execve, bin, args, envp);
		_exit(127);
	}
	free(envp);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("the program under `softsgx run --sgx1` failed (status %#x)", status);
}

/* ---- The vDSO as the SDK finds it. ---- */

static void test_vdso_from_elf(void **state)
{
	struct conform_vdso v;
	void *gnu, *sysv;

	(void)state;
	assert_true(conform_vdso_open(&v));
	assert_non_null(v.gnu_hash);
	assert_non_null(v.hash);
	gnu = conform_vdso_sym_gnu(&v, "__vdso_sgx_enter_enclave", "LINUX_2.6");
	sysv = conform_vdso_sym_sysv(&v, "__vdso_sgx_enter_enclave", "LINUX_2.6");
	assert_non_null(gnu);
	assert_ptr_equal(gnu, sysv);
	/* The kernel's other entries are there too, and no made-up version. */
	assert_non_null(conform_vdso_sym_gnu(&v, "__vdso_clock_gettime", "LINUX_2.6"));
	assert_null(conform_vdso_sym_gnu(&v, "__vdso_sgx_enter_enclave", "LINUX_9.9"));
	assert_null(conform_vdso_sym_sysv(&v, "__vdso_no_such_function", NULL));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_probe),
		cmocka_unit_test(test_cpuid_sgx_leaves),
		cmocka_unit_test(test_vdso_from_elf),
		cmocka_unit_test(test_xsave_around_ocalls),
		cmocka_unit_test(test_xsave_threads_take_turns),
		cmocka_unit_test(test_edmm_detect_and_grow_heap),
		cmocka_unit_test(test_edmm_off_on_sgx1),
	};

	shim_test_reexec(argc, argv, NULL);
	if (getenv(SGX1_PROBE_ENV))
		return sgx1_probe();
	conform_find_vdso();
	return conform_main("sdk_loader_style", tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}
