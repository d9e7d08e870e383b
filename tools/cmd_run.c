// SPDX-License-Identifier: MIT
/*
 * softsgx run: run an unmodified program on the emulated platform. The
 * program gets libsoftsgx-preload.so in LD_PRELOAD and the platform
 * configuration in the SOFTSGX_* environment, which the shim reads when it
 * loads; then this process becomes the program (exec), so its exit status
 * is the program's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "service/client.h"
#include "service/proto.h"
#include "tools/run_reach.h"

#define NAME "run"
#define PRELOAD_NAME "libsoftsgx-preload.so"
/* As a shell reports a command it cannot run or cannot find. */
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND 127

static void usage(FILE *out)
{
	fputs("Usage: softsgx run [PLATFORM OPTIONS] [--] PROGRAM [ARGS...]\n"
	      "\n"
	      "Run PROGRAM with /dev/sgx_enclave, /dev/sgx_provision and /dev/sgx_vepc\n"
	      "working on the emulated platform: the shim library is preloaded into it,\n"
	      "enclave code runs natively, ENCLU is emulated, and the vDSO found through\n"
	      "the auxiliary vector exports __vdso_sgx_enter_enclave. The program needs\n"
	      "no change. softsgx gives no confidentiality: enclave memory is ordinary\n"
	      "memory of the program.\n"
	      "\n"
	      "Options:\n"
	      CLI_TRACE_USAGE
	      "                   FILE is written when PROGRAM exits; %p in FILE stands\n"
	      "                   for the process ID (for programs that run other SGX\n"
	      "                   programs)\n"
	      "      --force      run PROGRAM even when the shim cannot reach it (a\n"
	      "                   statically linked or set-ID program: see below)\n"
	      "      --cgroup PATH  charge PROGRAM's EPC to the EPC cgroup PATH of the\n"
	      "                   platform service (softsgx cgroup; created if missing;\n"
	      "                   default: its cgroup v2 path); exported as\n"
	      "                   SOFTSGX_CGROUP, read where the program connects to\n"
	      "                   the service\n"
	      "      --service    PROGRAM uses the per-user platform service (softsgx\n"
	      "                   platform), started on demand with the platform\n"
	      "                   options below; one that runs with another\n"
	      "                   configuration is an error (exit 2). The default,\n"
	      "                   unless --trace is given: one EPC for every program,\n"
	      "                   as on Linux (docs/platform-service.md)\n"
	      "      --private    PROGRAM gets a platform of its own, booted in its\n"
	      "                   process: hermetic, with a stats file for softsgx top\n"
	      "                   and tracing; a forked child gets a copy of the EPC\n"
	      "  -h, --help       show this help and exit\n"
	      "\n" CLI_PLATFORM_USAGE
	      "\n"
	      "Environment:\n"
	      "  SOFTSGX_PRELOAD  the shim library to use (default: " PRELOAD_NAME "\n"
	      "                   next to the softsgx executable, else in\n"
	      "                   ../lib/softsgx/ relative to it)\n"
	      "  SOFTSGX_SERVICE  0: as --private, 1: as --service, when neither is given\n"
	      "  SOFTSGX_TRACE    as --trace FILE, when --trace is not given\n"
	      "  SOFTSGX_TRACE_MAX_EVENTS  events a trace keeps, 1-4294967296 (default\n"
	      "                   1048576); later ones are dropped and counted\n"
	      "  SOFTSGX_STATE_DIR  where the platform's root key is kept (sealing keys\n"
	      "                   stay the same across runs); default\n"
	      "                   $XDG_STATE_HOME/softsgx or ~/.local/state/softsgx. It\n"
	      "                   must exist, or its parent must be a writable directory\n"
	      "                   of yours: then softsgx run creates it (mode 0700)\n"
	      "\n"
	      "PROGRAM (found in PATH as a shell finds it, through #! interpreters) must\n"
	      "be one the dynamic loader preloads the shim into: dynamically linked,\n"
	      "64-bit, and not set-user-ID, set-group-ID or with file capabilities that\n"
	      "change its IDs or privileges (the loader's secure mode ignores\n"
	      "LD_PRELOAD). Otherwise softsgx run says why and exits 126 without running\n"
	      "it; with --force it runs it anyway (useful when it only starts other\n"
	      "programs, which inherit the shim through the environment).\n"
	      "\n"
	      "Exit status: PROGRAM's own; 126 when it cannot be executed or the shim\n"
	      "cannot reach it, 127 when it is not found, 1 when the shim is missing, 2\n"
	      "for bad arguments or environment (a trace file that cannot be written, a\n"
	      "bad SOFTSGX_TRACE_MAX_EVENTS or SOFTSGX_STATE_DIR; with --service, a\n"
	      "platform service that cannot be reached or runs with another\n"
	      "configuration): then PROGRAM is not started.\n",
	      out);
}

/*
 * The shim next to our own executable (the build tree), else in
 * ../lib/softsgx/ (an installed tree), unless SOFTSGX_PRELOAD names one.
 */
static int find_preload(char *out, size_t len)
{
	const char *env = getenv("SOFTSGX_PRELOAD");
	char self[PATH_MAX];
	const char *dir;
	ssize_t n;

	if (env && *env) {
		if (snprintf(out, len, "%s", env) >= (int)len)
			return -ENAMETOOLONG;
		return access(out, R_OK) ? -errno : 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	dir = dirname(self);
	if (snprintf(out, len, "%s/%s", dir, PRELOAD_NAME) >= (int)len)
		return -ENAMETOOLONG;
	if (!access(out, R_OK))
		return 0;
	if (snprintf(out, len, "%s/../lib/softsgx/%s", dir, PRELOAD_NAME) >= (int)len)
		return -ENAMETOOLONG;
	return access(out, R_OK) ? -errno : 0;
}

/* Prepend @lib to LD_PRELOAD, keeping what the user had there. */
static int set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *v;
	int ret;

	if (!old || !*old)
		return setenv("LD_PRELOAD", lib, 1);
	if (asprintf(&v, "%s:%s", lib, old) < 0)
		return -1;
	ret = setenv("LD_PRELOAD", v, 1);
	free(v);
	return ret;
}

static int export_platform(const struct softsgx_config *cfg)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(cli_config_pages(cfg) * 4096));
	if (setenv("SOFTSGX_EPC", buf, 1))
		return -1;
	snprintf(buf, sizeof(buf), "%u", cfg->nr_sections);
	if (setenv("SOFTSGX_SECTIONS", buf, 1))
		return -1;
	return setenv("SOFTSGX_SGX1", cfg->sgx2 ? "0" : "1", 1);
}

/*
 * --service: the platform service answers with @cfg (started now when
 * none runs), checked before PROGRAM starts so a failure is ours, not a
 * program's missing device. The shim finds the command to start the
 * service with in SOFTSGX_BIN_PATH, should it have gone meanwhile.
 */
static int check_service(const struct softsgx_config *cfg)
{
	struct svc_hello_rep info;
	struct svc_client c = {0};
	struct svc_config want;
	char self[PATH_MAX], have_s[96], want_s[96];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int ret;

	if (n < 0)
		return cli_fail(NAME, "cannot find the softsgx command: %m");
	self[n] = '\0';
	ret = svc_connect_or_start(&c, NULL, self, cfg, SVC_HELLO_CONTROL, &info);
	if (ret == -EBUSY) {
		svc_config_from(&want, cfg);
		fprintf(stderr,
			"softsgx %s: the platform service (pid %u) runs with %s, not %s: stop it "
			"(softsgx platform stop) or run with its configuration\n",
			NAME, info.service_pid, svc_config_describe(&info.cfg, have_s),
			svc_config_describe(&want, want_s));
		return CLI_EXIT_USAGE;
	}
	if (ret) {
		fprintf(stderr, "softsgx %s: cannot reach the platform service: %s\n", NAME,
			ret == -ECHILD ? "it did not start (see above)" : strerror(-ret));
		return CLI_EXIT_USAGE;
	}
	svc_close(&c);
	if (setenv("SOFTSGX_BIN_PATH", self, 1) || setenv("SOFTSGX_SERVICE", "1", 1))
		return cli_fail(NAME, "cannot set up the environment: %m");
	return 0;
}

/*
 * --trace FILE, or else a SOFTSGX_TRACE already in the environment (which
 * the shim would use just the same): checked, and exported absolute.
 */
static int check_trace(const char *arg)
{
	const char *env = getenv("SOFTSGX_TRACE");
	char *path;
	int ret;

	if (!arg)
		arg = env && *env ? env : NULL;
	if (!arg)
		return 0;
	ret = cli_trace_file(NAME, arg, &path);
	if (ret)
		return ret;
	ret = setenv("SOFTSGX_TRACE", path, 1);
	free(path);
	if (ret)
		return cli_fail(NAME, "cannot set up the environment: %m");
	return 0;
}

static int run(int argc, char **argv)
{
	/* '+': stop at PROGRAM, its options are its own. */
	static const char optstring[] = "+:h";
	enum { OPT_TRACE = CLI_OPT_FIRST_FREE, OPT_FORCE, OPT_CGROUP, OPT_SERVICE, OPT_PRIVATE };
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"trace", required_argument, NULL, OPT_TRACE},
		{"force", no_argument, NULL, OPT_FORCE},
		{"cgroup", required_argument, NULL, OPT_CGROUP},
		{"service", no_argument, NULL, OPT_SERVICE},
		{"private", no_argument, NULL, OPT_PRIVATE},
		CLI_PLATFORM_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct cli_platform_opts popts = {0};
	struct softsgx_config cfg;
	const char *trace = NULL;
	char lib[PATH_MAX], prog[PATH_MAX], why[256], state_dir[PATH_MAX];
	const char *env_service = getenv("SOFTSGX_SERVICE");
	/* -1: neither option; then SOFTSGX_SERVICE=1 asks for the service. */
	int service = -1;
	bool force = false;
	int opt, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		if (cli_platform_option(&popts, opt, optarg))
			continue;
		if (opt == 'h') {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		if (opt == OPT_TRACE) {
			trace = optarg;
			continue;
		}
		if (opt == OPT_FORCE) {
			force = true;
			continue;
		}
		if (opt == OPT_CGROUP) {
			/* The service's HELLO check, said here before anything runs. */
			if (strlen(optarg) >= SVC_CGROUP_PATH_MAX ||
			    !svc_cgroup_path_valid(optarg, SVC_CGROUP_PATH_MAX))
				return cli_usage_error(NAME,
						       "--cgroup '%s' is not a cgroup path "
						       "(\"/a/b\": absolute, no empty, \".\" or "
						       "\"..\" components)",
						       optarg);
			if (setenv("SOFTSGX_CGROUP", optarg, 1))
				return cli_fail(NAME, "cannot set up the environment: %m");
			continue;
		}
		if (opt == OPT_SERVICE || opt == OPT_PRIVATE) {
			if (service >= 0 && service != (opt == OPT_SERVICE))
				return cli_usage_error(NAME, "--service and --private exclude each other");
			service = opt == OPT_SERVICE;
			continue;
		}
		return cli_getopt_error(NAME, opt, argv, optstring, longopts);
	}
	if (optind >= argc)
		return cli_usage_error(NAME, "no program to run");
	ret = cli_platform_config(NAME, &popts, &cfg);
	if (ret)
		return ret;
	/*
	 * Everything the shim reads only as the program starts is checked now:
	 * afterwards a bad value could only be a warning once the run is over.
	 */
	ret = check_trace(trace);
	if (!ret)
		ret = cli_trace_max_events(NAME);
	if (!ret)
		ret = cli_state_dir(NAME, state_dir, sizeof(state_dir));
	if (ret)
		return ret;
	/* Said plainly here, rather than the program finding no SGX device. */
	if (!force && run_reach_check(argv[optind], prog, sizeof(prog), why, sizeof(why))) {
		fprintf(stderr,
			"softsgx %s: %s %s, so it would not see the SGX devices; "
			"not running it (--force runs it anyway)\n",
			NAME, prog, why);
		return EXIT_CANNOT_EXECUTE;
	}
	ret = find_preload(lib, sizeof(lib));
	if (ret)
		return cli_fail(NAME, "cannot use the shim library %s: %s", lib, strerror(-ret));
	/*
	 * The service by default (one EPC for the machine, as on Linux); a
	 * trace records a platform in the program's own process.
	 */
	if (service < 0 && env_service && (!strcmp(env_service, "0") || !strcmp(env_service, "1")))
		service = env_service[0] == '1';
	if (service < 0)
		service = !getenv("SOFTSGX_TRACE");
	else if (service && getenv("SOFTSGX_TRACE"))
		return cli_usage_error(NAME, "--trace (or SOFTSGX_TRACE) needs --private: the "
					     "service's platform is not traced");
	/* Before LD_PRELOAD is set: the service it may start runs without the shim. */
	if (service) {
		ret = check_service(&cfg);
		if (ret)
			return ret;
	} else if (setenv("SOFTSGX_SERVICE", "0", 1)) {
		/* "0", not unset: its own `softsgx run`s stay private too. */
		return cli_fail(NAME, "cannot set up the environment: %m");
	}
	if (set_preload(lib) || export_platform(&cfg))
		return cli_fail(NAME, "cannot set up the environment: %m");
	/* Last: a directory made for a program that then did not run would be litter. */
	ret = cli_state_dir_create(NAME, state_dir);
	if (ret)
		return ret;
	fflush(NULL);
	execvp(argv[optind], argv + optind);
	ret = errno;
	fprintf(stderr, "softsgx %s: %s: %s\n", NAME, argv[optind], strerror(ret));
	return ret == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
}

const struct cli_cmd cmd_run = {
	.name = NAME,
	.summary = "run a program on the emulated SGX platform",
	.usage = usage,
	.run = run,
};
