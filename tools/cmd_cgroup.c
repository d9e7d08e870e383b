// SPDX-License-Identifier: MIT
/*
 * softsgx cgroup [PATH] [--max SIZE|max | --remove] [--json]: the EPC
 * cgroups of the running platform service (issue 17; service/proto.h
 * CGROUP_*, kernel/epc_cgroup.h). The hierarchy is the service's own,
 * shaped like cgroupfs: nothing here reads or writes the host's cgroupfs.
 * A control connection: the command is no client of the EPC, and it never
 * starts a service (a limit on a platform nobody uses means nothing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "service/client.h"
#include "tools/lib/parse_size.h"

#define NAME "cgroup"

static void usage(FILE *out)
{
	fputs("Usage: softsgx cgroup [PATH] [--max SIZE|max | --remove] [--json]\n"
	      "\n"
	      "EPC cgroups of the platform service: the misc controller's sgx_epc resource,\n"
	      "in the service's own hierarchy (\"/\", \"/a\", \"/a/b\"; nothing is written to\n"
	      "the host's cgroupfs). Every EPC page a client allocates is charged to its\n"
	      "cgroup: `softsgx run --cgroup PATH`, else its own cgroup v2 path.\n"
	      "\n"
	      "  softsgx cgroup               every cgroup: usage, limit, peak, max events\n"
	      "  softsgx cgroup PATH          PATH's misc files (misc.capacity at the root;\n"
	      "                               misc.current, misc.max, misc.events,\n"
	      "                               misc.events.local, misc.peak)\n"
	      "  softsgx cgroup PATH --max SIZE|max\n"
	      "                               set PATH's limit (creating it and its\n"
	      "                               parents); a limit below the usage reclaims\n"
	      "                               down to it; parents bound their children\n"
	      "  softsgx cgroup PATH --remove remove PATH (no children, clients or charges)\n"
	      "\n"
	      "Options:\n"
	      "  --max SIZE|max   the limit: bytes with an optional K, M, G, T suffix, or\n"
	      "                   max for none\n"
	      "  --remove         remove the cgroup (rmdir)\n"
	      "  --json           print one JSON object\n"
	      "  -h, --help       show this help and exit\n"
	      "\n"
	      "Needs a running platform service (softsgx platform start).\n"
	      "\n" CLI_EXIT_USAGE_TEXT,
	      out);
}

enum { OPT_MAX = CLI_OPT_FIRST_FREE, OPT_REMOVE, OPT_JSON };

/* The files of a cgroup, in the order shown; misc.capacity only at the root. */
static const char *const root_files[] = {"misc.capacity", "misc.current", "misc.peak"};
static const char *const files[] = {"misc.current", "misc.max", "misc.events", "misc.events.local",
				    "misc.peak"};

static int connect_service(struct svc_client *c)
{
	int ret = svc_connect(c, NULL, NULL, SVC_HELLO_CONTROL, NULL);

	if (ret == -ENOENT || ret == -ECONNREFUSED)
		return cli_fail(NAME, "no platform service running (softsgx platform start)");
	if (ret == -EPERM)
		return cli_fail(NAME, "the platform service's socket belongs to another user");
	if (ret)
		return cli_fail(NAME, "cannot reach the platform service: %s", strerror(-ret));
	return 0;
}

/* The number of a misc file's text ("sgx_epc N", "sgx_epc.max N"); false for "max". */
static bool file_value(const char *text, uint64_t *v)
{
	const char *sp = strchr(text, ' ');

	if (!sp || !strncmp(sp + 1, "max", 3))
		return false;
	*v = strtoull(sp + 1, NULL, 10);
	return true;
}

static int show(struct svc_client *c, const char *path, bool json)
{
	bool root = !strcmp(path, "/");
	const char *const *names = root ? root_files : files;
	size_t n = root ? sizeof(root_files) / sizeof(root_files[0])
			: sizeof(files) / sizeof(files[0]);
	char text[8][128];
	uint64_t v;

	for (size_t i = 0; i < n; i++) {
		int ret = svc_cgroup_read(c, path, names[i], text[i], sizeof(text[i]));

		if (ret == -ENOENT)
			return cli_fail(NAME, "no cgroup %s", path);
		if (ret)
			return cli_fail(NAME, "%s: reading %s: %s", path, names[i], strerror(-ret));
	}
	if (!json) {
		for (size_t i = 0; i < n; i++)
			printf("%s:%s", names[i], text[i]); /* as `grep . misc.*` shows them */
		return CLI_EXIT_OK;
	}
	printf("{\"path\": ");
	cli_json_string(path);
	for (size_t i = 0; i < n; i++) {
		/* "misc.events.local" -> "events_local" */
		char key[32];

		snprintf(key, sizeof(key), "%s", names[i] + 5);
		for (char *p = key; *p; p++)
			if (*p == '.')
				*p = '_';
		if (file_value(text[i], &v))
			printf(", \"%s\": %" PRIu64, key, v);
		else
			printf(", \"%s\": null", key);
	}
	printf("}\n");
	return CLI_EXIT_OK;
}

static int list(struct svc_client *c, bool json)
{
	struct svc_cgroup_list_rep *rep;
	const struct svc_cgroup_entry *e;
	char cur[32], max[32], peak[32];
	int ret = svc_cgroup_list(c, &rep);

	if (ret)
		return cli_fail(NAME, "listing the cgroups: %s", strerror(-ret));
	e = (const void *)(rep + 1);
	if (json) {
		printf("{\"cgroups\": [");
		for (uint32_t i = 0; i < rep->nr; i++) {
			printf("%s\n  {\"path\": ", i ? "," : "");
			cli_json_string(e[i].path);
			printf(", \"current\": %" PRIu64 ", \"max\": ", e[i].current);
			if (e[i].max == SVC_CGROUP_MAX)
				printf("null");
			else
				printf("%" PRIu64, e[i].max);
			printf(", \"peak\": %" PRIu64 ", \"events\": %" PRIu64
			       ", \"reclaimable\": %" PRIu64 ", \"clients\": %u}",
			       e[i].peak, e[i].events, e[i].reclaimable, e[i].nr_clients);
		}
		printf("], \"total\": %u}\n", rep->total);
	} else {
		printf("%-24s %12s %12s %12s %8s %7s\n", "CGROUP", "CURRENT", "MAX", "PEAK",
		       "EVENTS", "CLIENTS");
		for (uint32_t i = 0; i < rep->nr; i++) {
			cli_format_size(e[i].current, cur);
			if (e[i].max == SVC_CGROUP_MAX)
				snprintf(max, sizeof(max), "max");
			else
				cli_format_size(e[i].max, max);
			cli_format_size(e[i].peak, peak);
			printf("%-24s %12s %12s %12s %8" PRIu64 " %7u\n", e[i].path, cur, max, peak,
			       e[i].events, e[i].nr_clients);
		}
		if (rep->nr < rep->total)
			printf("(%u more not shown)\n", rep->total - rep->nr);
	}
	free(rep);
	return CLI_EXIT_OK;
}

static int set_max(struct svc_client *c, const char *path, uint64_t max, bool json)
{
	char size[32], cur[128];
	int ret = svc_cgroup_set_max(c, path, max);

	if (max == SVC_CGROUP_MAX)
		snprintf(size, sizeof(size), "max");
	else
		cli_format_size(max, size);
	if (ret == -EBUSY) {
		/* The limit holds; the kernel's misc.max write would have said nothing. */
		if (svc_cgroup_read(c, path, "misc.current", cur, sizeof(cur)))
			snprintf(cur, sizeof(cur), "?\n");
		return cli_fail(NAME,
				"%s: limit set to %s, but the usage (misc.current: %.*s) could "
				"not be reclaimed under it: what is left is unreclaimable (VA "
				"pages, SECS with children, vEPC pages); new allocations fail "
				"until it drops",
				path, size, (int)strcspn(cur, "\n"), cur);
	}
	if (ret)
		return cli_fail(NAME, "%s: setting the limit: %s", path, strerror(-ret));
	if (json) {
		printf("{\"path\": ");
		cli_json_string(path);
		if (max == SVC_CGROUP_MAX)
			printf(", \"max\": null}\n");
		else
			printf(", \"max\": %" PRIu64 "}\n", max);
	} else {
		printf("%s: misc.max = sgx_epc %s\n", path, size);
	}
	return CLI_EXIT_OK;
}

static int remove_cg(struct svc_client *c, const char *path, bool json)
{
	int ret = svc_cgroup_remove(c, path);

	if (ret == -ENOENT)
		return cli_fail(NAME, "no cgroup %s", path);
	if (ret == -EBUSY)
		return cli_fail(NAME,
				"%s is in use: it has children, clients attached or EPC pages "
				"charged",
				path);
	if (ret)
		return cli_fail(NAME, "%s: removing: %s", path, strerror(-ret));
	if (json) {
		printf("{\"path\": ");
		cli_json_string(path);
		printf(", \"removed\": true}\n");
	} else {
		printf("%s: removed\n", path);
	}
	return CLI_EXIT_OK;
}

static int run(int argc, char **argv)
{
	static const char optstring[] = ":h";
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"max", required_argument, NULL, OPT_MAX},
		{"remove", no_argument, NULL, OPT_REMOVE},
		{"json", no_argument, NULL, OPT_JSON},
		{NULL, 0, NULL, 0},
	};
	bool json = false, remove = false, has_max = false;
	struct svc_client c = {0};
	const char *path = NULL;
	uint64_t max = 0;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case OPT_MAX:
			has_max = true;
			if (!strcmp(optarg, "max"))
				max = SVC_CGROUP_MAX;
			else if (sgx_parse_size(optarg, &max) || max == SVC_CGROUP_MAX)
				return cli_usage_error(
					NAME, "--max '%s' is not a size (e.g. 64M) or max", optarg);
			break;
		case OPT_REMOVE:
			remove = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return cli_getopt_error(NAME, opt, argv, optstring, longopts);
		}
	}
	if (optind < argc)
		path = argv[optind++];
	ret = cli_no_operands(NAME, argc, argv);
	if (ret)
		return ret;
	if (has_max && remove)
		return cli_usage_error(NAME, "--max and --remove exclude each other");
	if (!path && (has_max || remove))
		return cli_usage_error(NAME, "%s needs a cgroup PATH",
				       has_max ? "--max" : "--remove");
	if (path && (strlen(path) >= SVC_CGROUP_PATH_MAX ||
		     !svc_cgroup_path_valid(path, SVC_CGROUP_PATH_MAX)))
		return cli_usage_error(NAME,
				       "'%s' is not a cgroup path: absolute (\"/a/b\"), without "
				       "empty, \".\" or \"..\" components or a trailing \"/\"",
				       path);
	if (path && !strcmp(path, "/") && (has_max || remove))
		return cli_usage_error(NAME, "the root cgroup has no limit and cannot be removed");
	ret = connect_service(&c);
	if (ret)
		return ret;
	if (!path)
		ret = list(&c, json);
	else if (has_max)
		ret = set_max(&c, path, max, json);
	else if (remove)
		ret = remove_cg(&c, path, json);
	else
		ret = show(&c, path, json);
	svc_close(&c);
	return ret;
}

const struct cli_cmd cmd_cgroup = {
	.name = NAME,
	.summary = "show and limit the EPC cgroups of the platform service",
	.usage = usage,
	.run = run,
};
