// SPDX-License-Identifier: MIT
/*
 * An ECALL under `softsgx run --service` against the same ECALL under
 * `softsgx run --private`, in the same run (issue 16: "ECALL ≤ 1.1×"; issue
 * 18 item 6). In service mode the ENCLU leaves run in the program's own
 * threads on a view of the service's CPU model (the EPC and EPCM are shared
 * memory), so an ECALL makes no round trip to the service; what may differ
 * is the model's page walk (the client's own PTE table instead of the
 * kernel model's) and the EPCM living in a shared mapping.
 *
 * The program runs itself as a child under the command, in pairs of one
 * child per mode (ROUNDS pairs, the mode that goes first alternating): the
 * child builds the EEXIT enclave of bench_ecall through /dev/sgx_enclave,
 * takes the median of BENCH_ROUNDS batches of BATCH ECALLs through
 * __vdso_sgx_enter_enclave, and prints it. The figure and the limit are the
 * median of the children's medians per mode; the ratio is the median of
 * the pairs' ratios. A child runs for a fraction of a second, and a VM's
 * speed may change by 10-20% for seconds at a time: the two children of a
 * pair run within the same second, where the medians per mode may come
 * from different periods. Measured on one build in a 2-CPU VM: the ratio
 * of the medians of 5 children per mode gave 0.77 to 1.13, the median of 9
 * paired ratios 0.97 to 1.06. The service is started for the run in a
 * private runtime directory and stopped at the end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BENCH_NAME	"bench_service_ecall"
#define BENCH_CHILD_ENV "SOFTSGX_BENCH_SERVICE_ECALL_CHILD"
#define BENCH_EEXIT_ENCLAVE
#include "bench/bench_enclave.h"
#include "bench/bench_runtime_dir.h"

#define BATCH  2000
#define ROUNDS 9
#define EPC    "16M"

#define ENCL_SIZE (BENCH_IMAGE_PAGES * SGX_PAGE_SIZE)

/* Under the shim (either mode): the median µs of an ECALL, on stdout. */
static int child(void)
{
	struct bench_figure fig[1] = {{.run = bench_ecall_vdso, .batch = BATCH}};
	struct bench_enclave e = {.fd = -1};
	int ret;

	ret = bench_setup(&e, ENCL_SIZE, bench_encl_entry,
			  (size_t)(bench_encl_entry_end - bench_encl_entry), NULL, 0);
	if (!ret)
		ret = bench_measure(&e, fig, 1);
	bench_teardown(&e, ENCL_SIZE);
	if (ret)
		return 1;
	printf("ecall_us %.6f\n", fig[0].median);
	return 0;
}

/* The softsgx command next to the benchmarks (build/release/bench/..), or $SOFTSGX_BIN. */
static const char *softsgx_bin(void)
{
	static char path[PATH_MAX + 16];
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (getenv("SOFTSGX_BIN"))
		return getenv("SOFTSGX_BIN");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "softsgx";
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/../softsgx", self);
	return path;
}

/* `softsgx ARGS...`, its stdout into @out (when not NULL); its exit status, -1 on failure. */
static int command(const char *const *args, char *out, size_t cap)
{
	int p[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		/* No reader for its output: /dev/null, not a pipe nobody reads (SIGPIPE). */
		dup2(out ? p[1] : open("/dev/null", O_WRONLY), STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execv(softsgx_bin(), (char *const *)args);
		_exit(127);
	}
	close(p[1]);
	while (out && (size_t)got + 1 < cap && (n = read(p[0], out + got, cap - 1 - (size_t)got)) > 0)
		got += n;
	if (out)
		out[got] = '\0';
	close(p[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* One child under `softsgx run @mode`: its median ECALL in µs, or a negative value. */
static double run_child(const char *mode)
{
	const char *args[] = {"softsgx", "run", mode, "--epc", EPC, "--sections", "1", "--",
			      "/proc/self/exe", NULL};
	char self[PATH_MAX], out[256];
	double us;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -1;
	self[n] = '\0';
	args[8] = self;
	if (command(args, out, sizeof(out)) || sscanf(out, "ecall_us %lf", &us) != 1) {
		fail("the %s child failed (output: %s)", mode, out);
		return -1;
	}
	return us;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), bench_cmp_double);
	return v[n / 2];
}

int main(void)
{
	const char *start[] = {"softsgx", "platform", "start", "--epc", EPC, "--sections", "1", NULL};
	const char *stop[] = {"softsgx", "platform", "stop", NULL};
	double priv[ROUNDS], svc[ROUNDS], ratio[ROUNDS], p, s, q;
	char dir[] = "/tmp/softsgx-bench-XXXXXX";
	int ret = 1;

	if (getenv(BENCH_CHILD_ENV))
		return child();
	if (!mkdtemp(dir) || setenv("SOFTSGX_RUNTIME_DIR", dir, 1) ||
	    setenv(BENCH_CHILD_ENV, "1", 1))
		return fail("a runtime directory: %m");
	if (command(start, NULL, 0)) {
		fail("softsgx platform start failed");
		goto out;
	}
	for (int r = 0; r < ROUNDS; r++) {
		if (r % 2) {
			svc[r] = run_child("--service");
			priv[r] = run_child("--private");
		} else {
			priv[r] = run_child("--private");
			svc[r] = run_child("--service");
		}
		if (priv[r] < 0 || svc[r] < 0)
			goto out;
		ratio[r] = svc[r] / priv[r];
	}
	p = median(priv, ROUNDS);
	s = median(svc, ROUNDS);
	q = median(ratio, ROUNDS);
	printf("bench_service_ecall: ECALL through the vDSO, median of %d programs' medians of %d "
	       "batches of %d: service mode %.3f µs, private mode %.3f µs; median of the %d pairs' "
	       "ratios %.3f\n",
	       ROUNDS, BENCH_ROUNDS, BATCH, s, p, ROUNDS, q);
	printf("| ECALL round trip through the vDSO under `softsgx run --service` | %.3g µs | %.3g µs "
	       "(the same under `softsgx run --private`) | %.3g (service time / private time, median "
	       "of %d pairs run side by side; goal <= 1.1) |\n",
	       s, p, q, ROUNDS);
	ret = 0;
out:
	command(stop, NULL, 0);
	bench_runtime_dir_remove(dir);
	return ret;
}
