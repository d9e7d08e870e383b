// SPDX-License-Identifier: MIT
/*
 * softsgx platform start|stop|status: the per-user platform service
 * (service/server.h, issue 16). This stage runs the service and answers
 * these commands; programs under `softsgx run` still boot their own
 * platform in their process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "service/client.h"
#include "service/server.h"
#include "service/socket_dir.h"

#define NAME "platform"

static void usage_start(FILE *out)
{
	fputs("Usage: softsgx platform start [--foreground] [--idle-timeout S] [PLATFORM OPTIONS]\n"
	      "\n"
	      "Start the platform service of this user: one EPC, with its sanitization,\n"
	      "reclaimer and launch control, served on a socket in $XDG_RUNTIME_DIR/softsgx/\n"
	      "(else /tmp/softsgx-$UID/; env SOFTSGX_RUNTIME_DIR overrides). The service\n"
	      "detaches and logs to service.log there. If a service already runs with the\n"
	      "same platform, says so and succeeds; with another platform, fails.\n"
	      "\n"
	      "Options:\n"
	      "  --foreground     stay attached and log to stderr (for a service manager\n"
	      "                   or a container); fails when a service already runs\n"
	      "  --idle-timeout S exit after S seconds without clients, enclaves and\n"
	      "                   vEPCs (default 30; 0: never)\n"
	      "  -h, --help       show this help and exit\n"
	      "\n" CLI_PLATFORM_USAGE "\n" CLI_EXIT_USAGE_TEXT,
	      out);
}

static void usage_stop(FILE *out)
{
	fputs("Usage: softsgx platform stop [--force]\n"
	      "\n"
	      "Stop the platform service of this user and wait for it to exit. Refused\n"
	      "while clients are connected, unless --force. Succeeds when none runs.\n"
	      "\n"
	      "Options:\n"
	      "  --force          stop even with clients connected\n"
	      "  -h, --help       show this help and exit\n"
	      "\n" CLI_EXIT_USAGE_TEXT,
	      out);
}

static void usage_status(FILE *out)
{
	fputs("Usage: softsgx platform status [--json]\n"
	      "\n"
	      "Show the platform service of this user: its pid, platform, EPC pages (free,\n"
	      "in use, leaked, zombie), clients, enclaves and vEPCs. Exit status 1 when\n"
	      "no service runs.\n"
	      "\n"
	      "Options:\n"
	      "  --json           print one JSON object\n"
	      "  -h, --help       show this help and exit\n"
	      "\n" CLI_EXIT_USAGE_TEXT,
	      out);
}

static void usage(FILE *out)
{
	fputs("Usage: softsgx platform start|stop|status [OPTIONS]\n"
	      "\n"
	      "The per-user platform service: one EPC for the machine, shared by every\n"
	      "process (issue 16). In this version programs under `softsgx run` still\n"
	      "boot a platform of their own; the service and these commands come first.\n"
	      "\n"
	      "  start   start the service (see 'softsgx platform start --help')\n"
	      "  stop    stop it\n"
	      "  status  show it\n"
	      "\n" CLI_EXIT_USAGE_TEXT,
	      out);
}

/* The socket directory, checked; CLI_EXIT_* or 0. -ENOENT in *@missing. */
static int runtime_dir(const char *cmd, char *dir, size_t len, bool create, bool *missing)
{
	char why[300];
	int ret = svc_dir_path(dir, len);

	*missing = false;
	if (ret)
		return cli_fail(cmd, "the socket directory name is too long");
	ret = svc_dir_check(dir, create, why, sizeof(why));
	if (ret == -ENOENT && !create) {
		*missing = true;
		return 0;
	}
	if (ret == -EPERM)
		return cli_fail(cmd, "refusing the socket directory: %s", why);
	if (ret)
		return cli_fail(cmd, "%s: %s", dir, strerror(-ret));
	return 0;
}

static bool not_running(int err)
{
	return err == -ENOENT || err == -ECONNREFUSED;
}

static int connect_error(const char *cmd, const char *dir, int err)
{
	if (err == -EPERM)
		return cli_fail(cmd, "the socket in %s belongs to another user", dir);
	if (err == -EPROTO)
		return cli_fail(cmd, "the service in %s speaks another protocol version", dir);
	return cli_fail(cmd, "cannot reach the platform service in %s: %s", dir, strerror(-err));
}

/*
 * Connect to the running service as a control client (not counted, never
 * started for this): 0 with *@running true, or 0 with *@running false when
 * none runs; otherwise the exit status of a message already printed.
 */
static int connect_control(const char *cmd, char *dir, size_t len, struct svc_client *c,
			   struct svc_hello_rep *info, bool *running)
{
	bool missing;
	int ret = runtime_dir(cmd, dir, len, false, &missing);

	*running = false;
	if (ret)
		return ret;
	ret = missing ? -ENOENT : svc_connect(c, dir, NULL, SVC_HELLO_CONTROL, info);
	if (not_running(ret))
		return 0;
	if (ret)
		return connect_error(cmd, dir, ret);
	*running = true;
	return 0;
}

/*
 * The lock is held: tell the service's HELLO answer. -ENOENT (no socket
 * yet or no more: the holder is starting or exiting) lets the caller retry.
 */
static int already_running(const char *cmd, const char *dir, const struct softsgx_config *cfg,
			   bool foreground)
{
	struct svc_hello_rep info;
	struct svc_client c = {0};
	char have[96];
	int ret = svc_connect(&c, dir, cfg, SVC_HELLO_CONTROL, &info);

	if (not_running(ret))
		return -ENOENT;
	if (ret == -EBUSY)
		return cli_fail(cmd,
				"platform already running with %s (pid %u); stop it first "
				"(softsgx platform stop)",
				svc_config_describe(&info.cfg, have), info.service_pid);
	if (ret)
		return connect_error(cmd, dir, ret);
	svc_close(&c);
	if (foreground)
		return cli_fail(cmd, "a platform service already runs (pid %u)", info.service_pid);
	printf("softsgx platform: already running (pid %u) with %s\n", info.service_pid,
	       svc_config_describe(&info.cfg, have));
	return CLI_EXIT_OK;
}

enum { OPT_FOREGROUND = CLI_OPT_FIRST_FREE, OPT_IDLE, OPT_FORCE, OPT_JSON };

static int do_start(int argc, char **argv)
{
	static const char optstring[] = ":h";
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"foreground", no_argument, NULL, OPT_FOREGROUND},
		{"idle-timeout", required_argument, NULL, OPT_IDLE},
		CLI_PLATFORM_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	const char *cmd = NAME " start";
	struct svc_server_opts o = {.idle_timeout = SVC_DEFAULT_IDLE_TIMEOUT};
	struct cli_platform_opts po = {0};
	char dir[256], desc[96];
	uint64_t v;
	bool missing;
	pid_t pid;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		if (cli_platform_option(&po, opt, optarg))
			continue;
		switch (opt) {
		case 'h':
			usage_start(stdout);
			return CLI_EXIT_OK;
		case OPT_FOREGROUND:
			o.foreground = true;
			break;
		case OPT_IDLE:
			if (cli_parse_uint(optarg, 0, 86400 * 365, &v))
				return cli_usage_error(cmd,
						       "--idle-timeout '%s' is not a number of "
						       "seconds",
						       optarg);
			o.idle_timeout = (unsigned int)v;
			break;
		default:
			return cli_getopt_error(cmd, opt, argv, optstring, longopts);
		}
	}
	ret = cli_no_operands(cmd, argc, argv);
	if (ret)
		return ret;
	ret = cli_platform_config(cmd, &po, &o.cfg);
	if (ret)
		return ret;
	ret = runtime_dir(cmd, dir, sizeof(dir), true, &missing);
	if (ret)
		return ret;
	o.dir = dir;
	fflush(stdout);
	/*
	 * Between a holder's lock and its socket, or its socket and its lock
	 * at exit, neither serving nor starting is possible: retry for 5 s.
	 */
	for (int i = 0;; i++) {
		ret = svc_server_start(&o, &pid);
		if (ret != -EALREADY)
			break;
		ret = already_running(cmd, dir, &o.cfg, o.foreground);
		if (ret != -ENOENT)
			return ret;
		if (i == 500)
			return cli_fail(cmd,
					"another start holds the lock in %s (pid %d) but "
					"does not serve",
					dir, (int)pid);
		usleep(10000);
	}
	if (ret == -EPERM)
		return CLI_EXIT_FAILURE; /* svc_server_start() said why */
	if (ret)
		return cli_fail(cmd, "the service did not start: %s%s", strerror(-ret),
				o.foreground ? ""
					     : " (see " SVC_LOG_NAME " in the socket directory)");
	if (!o.foreground) {
		struct svc_config w;

		svc_config_from(&w, &o.cfg);
		printf("softsgx platform: started (pid %d) with %s, socket %s/%s\n", (int)pid,
		       svc_config_describe(&w, desc), dir, SVC_SOCK_NAME);
	}
	return CLI_EXIT_OK;
}

/* Wait for the service to let go of its lock (it exited); false after 5 s. */
static bool wait_gone(const char *dir)
{
	for (int i = 0; i < 500; i++) {
		if (!svc_lock_holder(dir))
			return true;
		usleep(10000);
	}
	return false;
}

static int do_stop(int argc, char **argv)
{
	static const char optstring[] = ":h";
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"force", no_argument, NULL, OPT_FORCE},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = NAME " stop";
	struct svc_hello_rep info;
	struct svc_client c = {0};
	unsigned int clients = 0;
	bool force = false, running;
	char dir[256];
	int opt, ret;

	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_stop(stdout);
			return CLI_EXIT_OK;
		case OPT_FORCE:
			force = true;
			break;
		default:
			return cli_getopt_error(cmd, opt, argv, optstring, longopts);
		}
	}
	ret = cli_no_operands(cmd, argc, argv);
	if (!ret)
		ret = connect_control(cmd, dir, sizeof(dir), &c, &info, &running);
	if (ret)
		return ret;
	if (!running) {
		printf("softsgx platform: not running\n");
		return CLI_EXIT_OK;
	}
	ret = svc_shutdown(&c, force, &clients);
	svc_close(&c);
	if (ret == -EBUSY)
		return cli_fail(cmd, "%u client%s connected; use --force to stop anyway", clients,
				clients == 1 ? " is" : "s are");
	if (ret)
		return cli_fail(cmd, "the service did not stop: %s", strerror(-ret));
	if (!wait_gone(dir))
		return cli_fail(cmd,
				"the service (pid %u) accepted to stop but still runs after 5 s",
				info.service_pid);
	printf("softsgx platform: stopped (pid %u)\n", info.service_pid);
	return CLI_EXIT_OK;
}

static void print_status_json(const char *dir, const struct svc_status_rep *st)
{
	char sock[300];

	snprintf(sock, sizeof(sock), "%s/%s", dir, SVC_SOCK_NAME);
	printf("{\"running\": true, \"pid\": %u, \"socket\": ", st->service_pid);
	cli_json_string(sock);
	printf(", \"uptime_s\": %.3f,\n \"config\": {\"epc_bytes\": %llu, \"sections\": %u, "
	       "\"sgx1\": %s},\n",
	       (double)st->uptime_ms / 1000.0, (unsigned long long)svc_config_epc_bytes(&st->cfg),
	       st->cfg.nr_sections, st->cfg.flags & SVC_CFG_SGX1 ? "true" : "false");
	printf(" \"epc\": {\"total_pages\": %llu, \"free_pages\": %llu, \"in_use_pages\": %llu, "
	       "\"leaked_pages\": %llu, \"zombie_pages\": %llu, \"evictions\": %llu, "
	       "\"reloads\": %llu},\n",
	       (unsigned long long)st->total_pages, (unsigned long long)st->free_pages,
	       (unsigned long long)st->in_use_pages, (unsigned long long)st->leaked_pages,
	       (unsigned long long)st->zombie_pages, (unsigned long long)st->evictions,
	       (unsigned long long)st->reloads);
	printf(" \"clients\": %u, \"enclaves\": %u, \"vepcs\": %u,\n", st->clients, st->enclaves,
	       st->vepcs);
	printf(" \"sanitization\": {\"done\": %s, \"pages_looked_at\": %llu, "
	       "\"pages_to_look_at\": %llu}}\n",
	       st->flags & SVC_STATUS_SANITIZED ? "true" : "false",
	       (unsigned long long)st->sanitized_pages,
	       (unsigned long long)st->sanitize_total_pages);
}

static void print_status(const char *dir, const struct svc_status_rep *st)
{
	char desc[96], size[32];

	printf("platform service: running, pid %u, up %.1f s\n", st->service_pid,
	       (double)st->uptime_ms / 1000.0);
	printf("  socket    %s/%s\n", dir, SVC_SOCK_NAME);
	printf("  platform  %s\n", svc_config_describe(&st->cfg, desc));
	printf("  EPC       %llu pages (%s): %llu free, %llu in use, %llu leaked, %llu zombie\n",
	       (unsigned long long)st->total_pages,
	       cli_format_size(svc_config_epc_bytes(&st->cfg), size),
	       (unsigned long long)st->free_pages, (unsigned long long)st->in_use_pages,
	       (unsigned long long)st->leaked_pages, (unsigned long long)st->zombie_pages);
	printf("  clients   %u, enclaves %u, vEPCs %u\n", st->clients, st->enclaves, st->vepcs);
	if (st->flags & SVC_STATUS_SANITIZED)
		printf("  sanitize  done (%llu pages could hold EPCM state)\n",
		       (unsigned long long)st->sanitize_total_pages);
	else
		printf("  sanitize  %llu of %llu pages looked at (ksgxd is at it)\n",
		       (unsigned long long)st->sanitized_pages,
		       (unsigned long long)st->sanitize_total_pages);
}

static int do_status(int argc, char **argv)
{
	static const char optstring[] = ":h";
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, OPT_JSON},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = NAME " status";
	struct svc_status_rep st;
	struct svc_client c = {0};
	bool json = false, running;
	char dir[256];
	int opt, ret;

	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_status(stdout);
			return CLI_EXIT_OK;
		case OPT_JSON:
			json = true;
			break;
		default:
			return cli_getopt_error(cmd, opt, argv, optstring, longopts);
		}
	}
	ret = cli_no_operands(cmd, argc, argv);
	if (!ret)
		ret = connect_control(cmd, dir, sizeof(dir), &c, NULL, &running);
	if (ret)
		return ret;
	if (!running) {
		if (json) {
			printf("{\"running\": false, \"socket\": ");
			cli_json_string(dir);
			printf("}\n");
		} else {
			printf("platform service: not running (directory %s)\n", dir);
		}
		return CLI_EXIT_FAILURE;
	}
	ret = svc_status(&c, &st);
	svc_close(&c);
	if (ret)
		return cli_fail(cmd, "STATUS failed: %s", strerror(-ret));
	if (json)
		print_status_json(dir, &st);
	else
		print_status(dir, &st);
	return CLI_EXIT_OK;
}

static int run(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(NAME, "missing action: start, stop or status");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	/* The action parses its own options: argv[0] becomes the action. */
	if (!strcmp(argv[1], "start"))
		return do_start(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stop"))
		return do_stop(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return do_status(argc - 1, argv + 1);
	return cli_usage_error(NAME, "unknown action '%s': start, stop or status", argv[1]);
}

const struct cli_cmd cmd_platform = {
	.name = NAME,
	.summary = "start, stop or show the per-user platform service",
	.usage = usage,
	.run = run,
};
