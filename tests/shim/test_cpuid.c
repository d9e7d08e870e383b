// SPDX-License-Identifier: MIT
/*
 * A program's own CPUID instruction under `softsgx run` (shim/cpuid.c):
 * leaves 7 and 0x12 are the model's CPU (hw/hw_cpuid.h) in the main thread, in
 * a new thread, in a child after fork() and after exec, with the default
 * platform and with --sgx1; they agree with `softsgx info --json` on every
 * subleaf; leaves 0 and 1 stay the host's (vendor string as in
 * /proc/cpuinfo, the APIC ID of the CPU the thread runs on); CPUID inside an
 * enclave raises #UD, reported through the vDSO. Skipped, with the reason
 * printed, on a host without CPUID faulting. Prints the cost of an emulated
 * CPUID against a native one.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "hw/hw_cpuid.h"
#include "hw/hw.h"
#include "tools/lib/enclave_image.h"
#include "tools/lib/parse_size.h"
#include "tests/shim/new_thread.h"
#include "tests/shim/asm_frame.h"
#include "tests/shim/shim_test.h"
#include "softsgx/sgx_arch.h"
#include "softsgx/sgx_uapi.h"
#include "tests/shim/test_image.h"
#include "tests/shim/vdso_call.h"
#include "tests/shim/vdso_record.h"
#include "tests/enclaves/test_enclave.h"

#define X86_TRAP_UD 6
/* EXITINFO of a hardware exception (type 3) with @vector, valid. */
#define EXITINFO_HW(vector) (SGX_EXITINFO_VALID | (3u << SGX_EXITINFO_TYPE_SHIFT) | (vector))

/* The execution of this program that checks and exits (after exec, --sgx1). */
#define CHECK_ARG "--check"
/* The execution on a host without CPUID faulting (simulated), and its exec'd child. */
#define NO_FAULTING_ARG "--no-faulting"
#define NO_FAULTING_LEAF_ARG "--no-faulting-leaf"
/* Set in the run of this suite without CPUID faulting. */
#define NO_FAULTING_ENV "SOFTSGX_TEST_CPUID_NO_FAULTING"
/* shim/cpuid.c's "notice given" marker and its text. */
#define NOTICE_ENV "SOFTSGX_CPUID_NOTICE_GIVEN"
#define NOTICE_TEXT "programs will not see SGX in CPUID"

extern char **environ;

static struct sgx_hw *model_hw; /* the platform of this run, from its environment */
static uint32_t host_max_basic;
static bool have_faulting;
static const char *no_faulting_reason;

static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(subleaf));
}

/* The host CPU's own answer: CPUID faulting off for this thread around it. */
static void host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	bool faulting = syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0) == 0;

	if (faulting)
		syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
	cpuid(leaf, subleaf, r);
	if (faulting)
		syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
}

/* The platform `softsgx run` exported: SOFTSGX_EPC split evenly, SOFTSGX_SGX1. */
static struct sgx_hw *platform_from_env(void)
{
	const char *sgx1 = getenv("SOFTSGX_SGX1");
	uint64_t epc = 0, sections = 0;
	struct sgx_hw_config cfg;

	sgx_hw_default_config(&cfg);
	if (sgx_parse_size(getenv("SOFTSGX_EPC") ?: "", &epc) ||
	    sgx_parse_size(getenv("SOFTSGX_SECTIONS") ?: "", &sections) || !sections ||
	    sections > SGX_HW_MAX_SECTIONS) {
		fprintf(stderr, "SOFTSGX_EPC or SOFTSGX_SECTIONS missing: not under softsgx run?\n");
		return NULL;
	}
	cfg.nr_sections = (unsigned int)sections;
	for (unsigned int i = 0; i < cfg.nr_sections; i++)
		cfg.section_size[i] = epc / sections;
	cfg.sgx2 = !(sgx1 && !strcmp(sgx1, "1"));
	return sgx_hw_new(&cfg);
}

/* What this program's CPUID must return: hw_cpuid() on the host's answer. */
static void expected(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	uint32_t host[4];

	host_cpuid(leaf, subleaf, host);
	hw_cpuid(model_hw, leaf, subleaf, host_max_basic, host, out);
}

/* Own CPUID against hw_cpuid(); counts and prints mismatches. */
static unsigned int compare(uint32_t leaf, uint32_t subleaf)
{
	uint32_t got[4], want[4];

	cpuid(leaf, subleaf, got);
	expected(leaf, subleaf, want);
	if (!memcmp(got, want, sizeof(got)))
		return 0;
	fprintf(stderr,
		"CPUID 0x%x.%u: got %08x %08x %08x %08x, model says %08x %08x %08x %08x\n", leaf,
		subleaf, got[0], got[1], got[2], got[3], want[0], want[1], want[2], want[3]);
	return 1;
}

/*
 * Leaf 0, every subleaf of 7 (and one past its maximum), and of 0x12 up to
 * two past the invalid one; the SGX bits explicitly. Usable from any
 * thread or process: returns the number of mismatches.
 */
static unsigned int check_model_cpuid(void)
{
	unsigned int bad = 0, sections = 0;
	uint32_t r[4];

	if (syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0) != 0) {
		fprintf(stderr, "CPUID faulting is off in this thread\n");
		return 1;
	}
	bad += compare(0, 0);
	cpuid(7, 0, r);
	for (uint32_t s = 0; s <= r[0] + 1; s++)
		bad += compare(7, s);
	if (!(r[1] & HW_CPUID_7_EBX_SGX) || !(r[2] & HW_CPUID_7_ECX_SGX_LC)) {
		fprintf(stderr, "CPUID 7.0: SGX or SGX_LC clear (EBX %08x ECX %08x)\n", r[1], r[2]);
		bad++;
	}
	for (struct sgx_hw_section s; hw_epc_section(model_hw, sections, &s);)
		sections++;
	for (uint32_t s = 0; s < sections + 5; s++)
		bad += compare(0x12, s);
	cpuid(0x12, 0, r);
	if ((r[0] & 3) != (sgx_hw_config(model_hw)->sgx2 ? 3u : 1u)) {
		fprintf(stderr, "CPUID 0x12.0: EAX %08x for this platform's SGX1/SGX2\n", r[0]);
		bad++;
	}
	cpuid(0x12, 2 + sections, r);
	if (r[0] & 0xF) {
		fprintf(stderr, "CPUID 0x12.%u: not the invalid subleaf\n", 2 + sections);
		bad++;
	}
	return bad;
}

/* ------------------------------------------------------------------------ */
/* Child processes: `softsgx info --json`, and this program again.          */

/* The environment without LD_PRELOAD: the sanitized softsgx takes no shim. */
static char **env_without_preload(void)
{
	size_t n = 0, k = 0;
	char **envp;

	while (environ[n])
		n++;
	envp = calloc(n + 1, sizeof(*envp));
	assert_non_null(envp);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11))
			envp[k++] = environ[i];
	return envp;
}

/* Run @args with @envp; its stdout (and stderr) into @out, NUL-terminated; its wait status. */
static int spawn_out(char *const args[], char **envp, char *out, size_t len, bool with_stderr)
{
	posix_spawn_file_actions_t fa;
	size_t used = 0;
	int pipefd[2], status = -1;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO), 0);
	if (with_stderr)
		assert_int_equal(posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO), 0);
	fflush(NULL);
	assert_int_equal(posix_spawn(&pid, args[0], &fa, NULL, args, envp), 0);
	close(pipefd[1]);
	while (used + 1 < len && (n = read(pipefd[0], out + used, len - used - 1)) > 0)
		used += (size_t)n;
	out[used] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	posix_spawn_file_actions_destroy(&fa);
	return status;
}

static int spawn(char *const args[], char **envp, char *out, size_t len)
{
	return spawn_out(args, envp, out, len, false);
}

/*
 * The subleaves `softsgx info --json` lists under "leaf_@leaf" against this
 * program's CPUID; the number of mismatches. Every subleaf info lists is
 * compared, and info must list the whole of leaf 0x12 (to the invalid one).
 */
static unsigned int compare_leaf_with_info(const char *json, const char *key, uint32_t leaf,
					   unsigned int *listed)
{
	const char *p = strstr(json, key);
	unsigned int bad = 0, sub;
	uint32_t want[4], got[4];

	*listed = 0;
	if (!p) {
		fprintf(stderr, "softsgx info --json has no %s\n", key);
		return 1;
	}
	while ((p = strstr(p, "{\"subleaf\": ")) &&
	       sscanf(p, "{\"subleaf\": %u, \"eax\": \"0x%x\", \"ebx\": \"0x%x\", \"ecx\": \"0x%x\", "
			 "\"edx\": \"0x%x\"}",
		      &sub, &want[0], &want[1], &want[2], &want[3]) == 5) {
		if (sub != *listed)
			break; /* the next leaf's list */
		cpuid(leaf, sub, got);
		if (memcmp(got, want, sizeof(got))) {
			fprintf(stderr,
				"CPUID 0x%x.%u: got %08x %08x %08x %08x, softsgx info says %08x "
				"%08x %08x %08x\n",
				leaf, sub, got[0], got[1], got[2], got[3], want[0], want[1], want[2],
				want[3]);
			bad++;
		}
		(*listed)++;
		p++;
	}
	return bad;
}

/* `softsgx info --json` for the platform in this environment against own CPUID. */
static unsigned int check_against_info(void)
{
	char *args[] = { getenv("SOFTSGX_BIN"), "info", "--json", NULL };
	static char out[65536];
	unsigned int bad = 0, n7, n12, sections = 0;
	char **envp = env_without_preload();
	uint32_t got[4], want[4];
	const char *p;
	int status;

	status = spawn(args, envp, out, sizeof(out));
	free(envp);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "softsgx info --json failed (status 0x%x)\n", status);
		return 1;
	}
	p = strstr(out, "\"leaf_0x0\": ");
	cpuid(0, 0, got);
	if (!p || sscanf(p, "\"leaf_0x0\": {\"eax\": \"0x%x\", \"ebx\": \"0x%x\", \"ecx\": \"0x%x\", "
			    "\"edx\": \"0x%x\"}",
			 &want[0], &want[1], &want[2], &want[3]) != 4 ||
	    memcmp(got, want, sizeof(got))) {
		fprintf(stderr, "CPUID 0: not as softsgx info says\n");
		bad++;
	}
	bad += compare_leaf_with_info(out, "\"leaf_0x7\": [", 7, &n7);
	bad += compare_leaf_with_info(out, "\"leaf_0x12\": [", 0x12, &n12);
	cpuid(7, 0, got);
	for (struct sgx_hw_section s; hw_epc_section(model_hw, sections, &s);)
		sections++;
	if (n7 != got[0] + 1 || n12 != sections + 3) {
		fprintf(stderr, "softsgx info lists %u subleaves of 7 and %u of 0x12\n", n7, n12);
		bad++;
	}
	return bad;
}

/* This program again, under `softsgx run @opts` (NULL: exec'd directly); its status. */
static int run_self_check(const char *const *opts)
{
	char self[PATH_MAX], out[4096];
	char *args[16];
	char **envp = env_without_preload();
	size_t n = 0;
	ssize_t len;
	int status;

	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(len > 0);
	self[len] = '\0';
	if (opts) {
		args[n++] = getenv("SOFTSGX_BIN");
		args[n++] = "run";
		while (*opts)
			args[n++] = (char *)*opts++;
		args[n++] = "--";
	}
	args[n++] = self;
	args[n++] = CHECK_ARG;
	args[n] = NULL;
	/* Exec'd directly, it keeps LD_PRELOAD: the shim loads again in it. */
	status = spawn(args, opts ? envp : environ, out, sizeof(out));
	free(envp);
	return status;
}

/* The --check execution: model CPUID and softsgx info agree with own CPUID. */
static int check_main(void)
{
	unsigned int bad;
	uint32_t r[4];

	model_hw = platform_from_env();
	if (!model_hw)
		return 2;
	host_cpuid(0, 0, r);
	host_max_basic = r[0];
	bad = check_model_cpuid() + check_against_info();
	sgx_hw_free(model_hw);
	return bad ? 1 : 0;
}

/* ------------------------------------------------------------------------ */

#define SKIP_WITHOUT_FAULTING()                                                        \
	do {                                                                           \
		if (!have_faulting) {                                                  \
			fprintf(stderr, "skipped: %s\n", no_faulting_reason);          \
			skip();                                                        \
		}                                                                      \
	} while (0)

static void test_main_thread(void **state)
{
	(void)state;
	SKIP_WITHOUT_FAULTING();
	assert_int_equal(check_model_cpuid(), 0);
}

static void *thread_check(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)check_model_cpuid();
}

static void test_new_thread(void **state)
{
	(void)state;
	SKIP_WITHOUT_FAULTING();
	assert_int_equal((uintptr_t)run_on_new_thread(thread_check, NULL), 0);
}

static void test_fork_child(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	SKIP_WITHOUT_FAULTING();
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(check_model_cpuid() ? 1 : 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* execve() clears CPUID faulting; the shim, loaded again, sets it again. */
static void test_after_exec(void **state)
{
	int status;

	(void)state;
	SKIP_WITHOUT_FAULTING();
	status = run_self_check(NULL);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The acceptance check: `softsgx info` and the program agree, on both platforms. */
static void test_agrees_with_info(void **state)
{
	(void)state;
	SKIP_WITHOUT_FAULTING();
	assert_int_equal(check_against_info(), 0);
}

static void test_sgx1_platform(void **state)
{
	static const char *const opts[] = { "--sgx1", "--epc", "12M", "--sections", "3", NULL };
	int status;

	(void)state;
	SKIP_WITHOUT_FAULTING();
	status = run_self_check(opts);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * A thread that blocks every signal (worker pools do) and then runs CPUID:
 * the #GP of faulting must still reach the shim. A blocked synchronous
 * SIGSEGV makes the kernel kill the process instead, so the shim must keep
 * its signals out of the real mask while the program's view of the mask
 * stays what it set (shim/sigmask.c on the signals branch).
 */
static void test_all_signals_blocked(void **state)
{
	sigset_t all, back;
	int status;
	pid_t pid;

	(void)state;
	SKIP_WITHOUT_FAULTING();
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, NULL);
		if (check_model_cpuid())
			_exit(1);
		pthread_sigmask(SIG_BLOCK, NULL, &back);
		_exit(sigismember(&back, SIGSEGV) ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The "vendor_id" line of /proc/cpuinfo. */
static void cpuinfo_vendor(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	assert_non_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "vendor_id : %63s", out) == 1)
			break;
	fclose(f);
	assert_true(len > 0 && out[0]);
}

static void test_host_leaves(void **state)
{
	uint32_t r[4], h[4];
	char vendor[13], want[64];
	cpu_set_t one, old;
	int cpu;

	(void)state;
	SKIP_WITHOUT_FAULTING();
	cpuid(0, 0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = '\0';
	cpuinfo_vendor(want, sizeof(want));
	assert_string_equal(vendor, want);
	host_cpuid(0, 0, h);
	assert_int_equal(r[0], h[0] < 0x12 ? 0x12 : h[0]);

	/*
	 * Leaf 1 (initial APIC ID in EBX[31:24]) and 0xB (x2APIC ID in EDX)
	 * are the CPU's own: pinned to one CPU, the emulated answer is that
	 * CPU's, on each CPU in turn. A cached answer would be one CPU's.
	 */
	assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &old))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
		cpuid(1, 0, r);
		host_cpuid(1, 0, h);
		assert_memory_equal(r, h, sizeof(r));
		if (host_max_basic >= 0xB) {
			cpuid(0xB, 0, r);
			host_cpuid(0xB, 0, h);
			assert_memory_equal(r, h, sizeof(r));
		}
		cpuid(0x80000000, 0, r);
		host_cpuid(0x80000000, 0, h);
		assert_memory_equal(r, h, sizeof(r));
	}
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
}

/* ------------------------------------------------------------------------ */
/* A host without CPUID faulting, simulated with seccomp.                   */

/*
 * From here on, in this process and whatever it executes,
 * arch_prctl(ARCH_SET_CPUID) fails with ENODEV, as on a CPU without CPUID
 * faulting.
 */
static int deny_cpuid_faulting(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_arch_prctl, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_SET_CPUID, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENODEV),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/*
 * `softsgx run` of this program with @arg, without CPUID faulting; its
 * output and error output into @out; its wait status.
 */
static int run_without_faulting(const char *arg, char *out, size_t len)
{
	char self[PATH_MAX], env_flag[] = NO_FAULTING_ENV "=1";
	char *args[] = { getenv("SOFTSGX_BIN"), "run", "--", self, (char *)arg, NULL };
	char **envp = env_without_preload(), **e;
	size_t n = 0, k = 0;
	ssize_t l;
	int status, pipefd[2];
	pid_t pid;

	l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(l > 0);
	self[l] = '\0';
	/* Without the notice marker, with the flag. */
	while (envp[n])
		n++;
	e = calloc(n + 2, sizeof(*e));
	assert_non_null(e);
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], NOTICE_ENV "=", sizeof(NOTICE_ENV)))
			e[k++] = envp[i];
	e[k++] = env_flag;
	free(envp);

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		if (deny_cpuid_faulting())
			_exit(120);
		execve(args[0], args, e);
		_exit(121);
	}
	close(pipefd[1]);
	n = 0;
	while (n + 1 < len && (l = read(pipefd[0], out + n, len - n - 1)) > 0)
		n += (size_t)l;
	out[n] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	free(e);
	return status;
}

static void cli_contains(const char *s, const char *needle)
{
	if (!strstr(s, needle))
		fail_msg("\"%s\" not in:\n%s", needle, s);
}

static unsigned int count_of(const char *s, const char *needle)
{
	unsigned int n = 0;

	while ((s = strstr(s, needle))) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/*
 * The program sees the host's CPUID; the process tree gets one notice on
 * stderr, not one per process (its child, exec'd, stays quiet).
 */
static int no_faulting_main(bool leaf)
{
	char self[PATH_MAX];
	char *args[] = { self, NO_FAULTING_LEAF_ARG, NULL };
	uint32_t r[4];
	ssize_t l;
	int status;
	pid_t pid;

	if (syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0) != 1) {
		fprintf(stderr, "CPUID faults although the host cannot fault it\n");
		return 1;
	}
	cpuid(0x12, 0, r);
	printf("%s: leaf 0x12.0 EAX 0x%08x\n", leaf ? "child" : "parent", r[0]);
	if (leaf)
		return 0;
	l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (l <= 0)
		return 1;
	self[l] = '\0';
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		execv(self, args); /* LD_PRELOAD stays: the shim loads again */
		_exit(1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return 1;
	return 0;
}

static void test_no_faulting_notice_once(void **state)
{
	static char out[65536];
	uint32_t host[4];
	char want[64];
	int status;

	(void)state;
	if (getenv(NO_FAULTING_ENV))
		skip(); /* this is the suite's run without faulting already */
	status = run_without_faulting(NO_FAULTING_ARG, out, sizeof(out));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("status 0x%x:\n%s", status, out);
	assert_int_equal(count_of(out, NOTICE_TEXT), 1);
	cli_contains(out, "softsgx: this CPU or kernel has no CPUID faulting");
	/* Both processes read the host's leaf 0x12. */
	host_cpuid(0x12, 0, host);
	snprintf(want, sizeof(want), "parent: leaf 0x12.0 EAX 0x%08x\n", host[0]);
	cli_contains(out, want);
	snprintf(want, sizeof(want), "child: leaf 0x12.0 EAX 0x%08x\n", host[0]);
	cli_contains(out, want);
}

/* This suite on a host without faulting: every test skipped with the reason, none passed. */
static void test_suite_skips_without_faulting(void **state)
{
	static char out[262144];
	int status;

	(void)state;
	if (getenv(NO_FAULTING_ENV))
		skip();
	status = run_without_faulting(NULL, out, sizeof(out));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("status 0x%x:\n%s", status, out);
	cli_contains(out, "skipped: no CPUID faulting on this CPU (arch_prctl(ARCH_SET_CPUID): "
			  "ENODEV)");
	cli_contains(out, "[  SKIPPED ] test_main_thread");
	cli_contains(out, "[  SKIPPED ] test_cpuid_in_enclave_is_ud");
	if (strstr(out, "[  PASSED  ]") && !strstr(out, "[  PASSED  ] 0 test(s)."))
		fail_msg("tests passed without CPUID faulting:\n%s", out);
}

/* ------------------------------------------------------------------------ */
/* Inside an enclave: #UD through an AEX, reported by the vDSO.             */

static vdso_sgx_enter_enclave_t vdso_enter;
static struct enclave_image image;
static struct sgx_sigstruct *sig;

static int ecall(const struct enclave_handle *h, unsigned int tcs, uint64_t op, uint64_t a1,
		 uint64_t a2, struct vdso_record *c, struct sgx_enclave_run *run)
{
	vdso_record_start(c, run, h->base + enclave_image_tcs_offset(&image, tcs));
	return vdso_call(op, a1, a2, SGX_EENTER, run, vdso_enter);
}

/* CPUID on TCS @tcs: #UD, then the exception entry reports it in EXITINFO. */
static unsigned int enclave_cpuid_ud(const struct enclave_handle *h, unsigned int tcs)
{
	struct sgx_enclave_run run;
	struct vdso_record c = {0};
	unsigned int bad = 0;

	if (ecall(h, tcs, TEST_ENCL_OP_CPUID, 0x12, 0, &c, &run) != 0 ||
	    run.function != SGX_ERESUME || run.exception_vector != X86_TRAP_UD ||
	    run.exception_error_code != 0 || run.exception_addr != 0 || c.exceptions != 1 ||
	    c.exits != 0) {
		fprintf(stderr,
			"enclave CPUID: function %u vector %u error %u addr 0x%llx, %u exits "
			"(value 0x%lx)\n",
			run.function, run.exception_vector, run.exception_error_code,
			(unsigned long long)run.exception_addr, c.exits, c.value);
		bad++;
	}
	/* CSSA is 1: the enclave's exception entry reports EXITINFO of the #UD. */
	if (ecall(h, tcs, TEST_ENCL_OP_NOP, 0, 0, &c, &run) != 0 || c.exits != 1 ||
	    c.status != TEST_ENCL_EXCEPTION_ENTRY ||
	    (unsigned long)c.value != EXITINFO_HW(X86_TRAP_UD)) {
		fprintf(stderr, "exception entry after CPUID: status %ld value 0x%lx\n", c.status,
			c.value);
		bad++;
	}
	return bad;
}

/* CPUID inside the enclave from a thread that brings no alternate stack of its own. */
static void *thread_enclave_cpuid(void *arg)
{
	return (void *)(uintptr_t)enclave_cpuid_ud(arg, 1);
}

static void test_cpuid_in_enclave_is_ud(void **state)
{
	struct enclave_handle h;
	int ret;

	(void)state;
	SKIP_WITHOUT_FAULTING();
	if (!vdso_enter) {
		fprintf(stderr, "no __vdso_sgx_enter_enclave in the vDSO\n");
		fail();
	}
	ret = enclave_build(&enclave_sys_native, &image, sig, &h);
	if (ret)
		fail_msg("enclave_build: %d: %s", ret, enclave_image_error());
	assert_int_equal(enclave_cpuid_ud(&h, 0), 0);
	/* From a thread that never entered an enclave before. */
	assert_int_equal((uintptr_t)run_on_new_thread(thread_enclave_cpuid, &h), 0);
	/* Outside again, CPUID is the model's. */
	assert_int_equal(check_model_cpuid(), 0);
	enclave_unload(&enclave_sys_native, &h);
}

/*
 * raw_eenter(tcs, op, arg1, arg2): EENTER by the program's own ENCLU, with
 * the instruction after it as both the AEP and the exit address: a program
 * with its own AEP and no vDSO, which gets an enclave exception as a signal.
 */
extern void raw_eenter(uint64_t tcs, uint64_t op, uint64_t arg1, uint64_t arg2);
extern const char raw_aep[];
__asm__(".text\n"
	".globl raw_eenter, raw_aep\n"
	".hidden raw_eenter, raw_aep\n"
	".type raw_eenter, @function\n"
	"raw_eenter:\n"
	ASM_SAVE_CALLEE_SAVED
	"	mov %rdi, %rbx\n"
	"	mov %rsi, %rdi\n"
	"	mov %rdx, %rsi\n"
	"	mov %rcx, %rdx\n"
	"	lea raw_aep(%rip), %rcx\n"
	"	mov $2, %eax\n"
	"	.byte 0x0f, 0x01, 0xd7\n"
	"raw_aep:\n"
	ASM_RESTORE_CALLEE_SAVED
	"	ret\n"
	".size raw_eenter, .-raw_eenter\n");

static sigjmp_buf sigill_jmp;
static siginfo_t sigill_info;
static uint64_t sigill_rip;

static void on_sigill(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	sigill_info = *si;
	sigill_rip = (uint64_t)((ucontext_t *)ucv)->uc_mcontext.gregs[REG_RIP];
	siglongjmp(sigill_jmp, 1);
}

/* Without the vDSO: SIGILL at the AEP, ILL_ILLOPN, as Linux reports a #UD after an AEX. */
static void test_cpuid_in_enclave_sigill_at_aep(void **state)
{
	struct sigaction sa = { .sa_sigaction = on_sigill, .sa_flags = SA_SIGINFO }, old;
	struct enclave_handle h;
	int ret;

	(void)state;
	SKIP_WITHOUT_FAULTING();
	ret = enclave_build(&enclave_sys_native, &image, sig, &h);
	if (ret)
		fail_msg("enclave_build: %d: %s", ret, enclave_image_error());
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGILL, &sa, &old), 0);
	memset(&sigill_info, 0, sizeof(sigill_info));
	if (!sigsetjmp(sigill_jmp, 1)) {
		raw_eenter(h.base + enclave_image_tcs_offset(&image, 0), TEST_ENCL_OP_CPUID, 7, 0);
		fail_msg("CPUID inside the enclave did not fault");
	}
	assert_int_equal(sigaction(SIGILL, &old, NULL), 0);
	assert_int_equal(sigill_info.si_signo, SIGILL);
	assert_int_equal(sigill_info.si_code, ILL_ILLOPN);
	assert_ptr_equal(sigill_info.si_addr, raw_aep);
	assert_int_equal(sigill_rip, (uintptr_t)raw_aep);
	enclave_unload(&enclave_sys_native, &h);
}

/* ------------------------------------------------------------------------ */

static double ns_per_cpuid(uint32_t leaf, unsigned int n, bool native)
{
	struct timespec a, b;
	uint32_t r[4];

	if (native)
		syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned int i = 0; i < n; i++)
		cpuid(leaf, 0, r);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (native)
		syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
}

/* A note for the reader: what CPUID faulting costs. No assertion on time. */
static void test_cost(void **state)
{
	(void)state;
	SKIP_WITHOUT_FAULTING();
	printf("CPUID cost (ns per instruction): native %.0f; emulated: leaf 0x12 (model only) "
	       "%.0f, leaf 7 (host + model) %.0f, leaf 1 (host) %.0f\n",
	       ns_per_cpuid(1, 2000, true), ns_per_cpuid(0x12, 2000, false),
	       ns_per_cpuid(7, 2000, false), ns_per_cpuid(1, 2000, false));
}

static int group_setup(void **state)
{
	uint32_t r[4];
	long ret;

	(void)state;
	model_hw = platform_from_env();
	if (!model_hw)
		return -1;
	host_cpuid(0, 0, r);
	host_max_basic = r[0];
	/*
	 * The shim turns faulting on at load. Off here means it could not:
	 * then faulting must be missing on this host, which is a skip, not
	 * a failure.
	 */
	have_faulting = syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0) == 0;
	if (!have_faulting) {
		ret = syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
		if (ret == 0) {
			fprintf(stderr, "the host has CPUID faulting but the shim did not turn it on\n");
			return -1;
		}
		no_faulting_reason = errno == ENODEV
			? "no CPUID faulting on this CPU (arch_prctl(ARCH_SET_CPUID): ENODEV)"
			: "no CPUID faulting in this kernel (arch_prctl(ARCH_SET_CPUID) failed)";
	}
	return test_image_prepare("SOFTSGX_TEST_ENCLAVE", &image, &sig);
}

static int group_teardown(void **state)
{
	(void)state;
	sgx_hw_free(model_hw);
	test_image_free(&image, &sig);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_main_thread),
		cmocka_unit_test(test_new_thread),
		cmocka_unit_test(test_fork_child),
		cmocka_unit_test(test_after_exec),
		cmocka_unit_test(test_agrees_with_info),
		cmocka_unit_test(test_sgx1_platform),
		cmocka_unit_test(test_host_leaves),
		cmocka_unit_test(test_all_signals_blocked),
		cmocka_unit_test(test_cpuid_in_enclave_is_ud),
		cmocka_unit_test(test_cpuid_in_enclave_sigill_at_aep),
		cmocka_unit_test(test_no_faulting_notice_once),
		cmocka_unit_test(test_suite_skips_without_faulting),
		cmocka_unit_test(test_cost),
	};
	static const char *const run_opts[] = { NULL };

	if (argc == 2 && !strcmp(argv[1], CHECK_ARG))
		return check_main();
	if (argc == 2 && !strcmp(argv[1], NO_FAULTING_ARG))
		return no_faulting_main(false);
	if (argc == 2 && !strcmp(argv[1], NO_FAULTING_LEAF_ARG))
		return no_faulting_main(true);
	shim_test_reexec(argc, argv, run_opts);
	vdso_enter = (vdso_sgx_enter_enclave_t)vdso_sym("__vdso_sgx_enter_enclave");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
