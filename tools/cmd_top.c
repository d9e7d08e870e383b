// SPDX-License-Identifier: MIT
/*
 * softsgx top: EPC use of every program running under `softsgx run` on this
 * machine, per platform, per enclave and per vEPC instance, with fault,
 * eviction and reload rates. Reads the stats files the shim publishes
 * (obs/stats_file.h); rates are differences between two samples divided
 * by the time between the writer's own updates.
 *
 * When the per-user platform service runs (docs/platform-service.md), its
 * machine-wide view comes too: the EPC it owns and its client processes
 * ("service" in the JSON, a block above the programs in the text view). A
 * service that is not running is not started for this.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "service/client.h"
#include "obs/stats_file.h"

#define NAME "top"
/* A writer refreshes every 200 ms: this long without an update means it is stuck or gone. */
#define STALE_NS 2000000000ULL

static void usage(FILE *out)
{
	fputs("Usage: softsgx top [--once] [--interval SEC] [--iterations N] [--pid PID] [--json]\n"
	      "\n"
	      "Show the EPC use of every program running under 'softsgx run' on this\n"
	      "machine (for this user): EPC pages total, free and in use, fault,\n"
	      "eviction and reload rates, and one row per enclave and per vEPC instance.\n"
	      "Refreshes until interrupted (Ctrl-C); the screen is cleared between\n"
	      "refreshes when the output is a terminal.\n"
	      "\n"
	      "Options:\n"
	      "  --once           sample twice, --interval apart, print once and exit\n"
	      "  -d, --interval SEC\n"
	      "                   seconds between refreshes, 0.1-3600 (default 1)\n"
	      "  -n, --iterations N\n"
	      "                   exit after N refreshes\n"
	      "  -p, --pid PID    only the program with process id PID\n"
	      "  --json           JSON Lines instead of text: one JSON object on one line\n"
	      "                   per refresh, with the Unix time of the sample\n"
	      "  -h, --help       show this help and exit\n"
	      "\n"
	      "Programs publish their statistics in $XDG_RUNTIME_DIR/softsgx/PID.stats\n"
	      "(/tmp/softsgx-UID/ without an XDG_RUNTIME_DIR); files of programs that\n"
	      "are gone are deleted. SOFTSGX_STATS=0 in a program's environment hides it.\n"
	      "\n"
	      "Exit status: 0 success (also when no program is running), 1 when --pid\n"
	      "names no running program at the last refresh or the directory cannot be\n"
	      "read, 2 bad arguments.\n",
	      out);
}

struct platform {
	struct sgx_stats_header hdr;
	struct sgx_stats_snapshot snap;
};

struct sample {
	struct platform *v;
	size_t n, cap;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int add_platform(const char *path, const struct sgx_stats_header *hdr,
			const struct sgx_stats_snapshot *snap, void *data)
{
	struct sample *s = data;

	(void)path;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 4;
		struct platform *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].hdr = *hdr;
	s->v[s->n].snap = *snap;
	s->n++;
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	const struct platform *x = a, *y = b;

	return (x->hdr.pid > y->hdr.pid) - (x->hdr.pid < y->hdr.pid);
}

static int take_sample(const char *dir, pid_t pid, struct sample *s)
{
	int ret;

	s->n = 0;
	ret = sgx_stats_scan(dir, pid, add_platform, s);
	if (ret)
		return ret;
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), by_pid);
	return 0;
}

/* The same platform in @prev: same process and same boot (exec boots anew). */
static const struct platform *find_prev(const struct sample *prev, const struct platform *p)
{
	for (size_t i = 0; prev && i < prev->n; i++)
		if (prev->v[i].hdr.pid == p->hdr.pid &&
		    prev->v[i].hdr.proc_start == p->hdr.proc_start &&
		    prev->v[i].hdr.start_monotonic_ns == p->hdr.start_monotonic_ns)
			return &prev->v[i];
	return NULL;
}

struct rates {
	bool valid;
	double seconds;
	double faults, evictions, reloads, vepc_faults;
};

static double per_second(uint64_t now, uint64_t before, double seconds)
{
	return now >= before ? (double)(now - before) / seconds : 0;
}

static struct rates rates_of(const struct platform *p, const struct platform *prev)
{
	struct rates r = {0};

	if (!prev || p->snap.updated_ns <= prev->snap.updated_ns)
		return r;
	r.valid = true;
	r.seconds = (double)(p->snap.updated_ns - prev->snap.updated_ns) / 1e9;
	r.faults = per_second(p->snap.stats.faults, prev->snap.stats.faults, r.seconds);
	r.evictions = per_second(p->snap.stats.evictions, prev->snap.stats.evictions, r.seconds);
	r.reloads = per_second(p->snap.stats.reloads, prev->snap.stats.reloads, r.seconds);
	r.vepc_faults =
		per_second(p->snap.stats.vepc_faults, prev->snap.stats.vepc_faults, r.seconds);
	return r;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double age_s(uint64_t then_ns, uint64_t now_ns)
{
	return now_ns > then_ns ? (double)(now_ns - then_ns) / 1e9 : 0;
}

static const char *encl_state(uint64_t flags)
{
	if (flags & SOFTSGX_ENCL_INITIALIZED)
		return flags & SOFTSGX_ENCL_DEBUG ? "initialized,debug" : "initialized";
	if (flags & SOFTSGX_ENCL_CREATED)
		return flags & SOFTSGX_ENCL_DEBUG ? "created,debug" : "created";
	return "open";
}

static unsigned int rows(uint64_t nr, unsigned int max)
{
	return nr < max ? (unsigned int)nr : max;
}

static void print_text_platform(const struct platform *p, const struct rates *r, uint64_t now)
{
	const struct softsgx_stats *st = &p->snap.stats;
	double up = age_s(p->hdr.start_monotonic_ns, now);
	double quiet = age_s(p->snap.updated_ns, now);
	char buf[32];

	printf("PID %llu  %s  up %.1f s", (unsigned long long)p->hdr.pid, p->hdr.program, up);
	if (p->snap.updated_ns + STALE_NS < now)
		printf("  (stale: no update for %.1f s)", quiet);
	printf("\n  EPC    %llu pages (%s): %llu free, %llu in use, %llu leaked, %llu zombie\n",
	       (unsigned long long)st->total_pages, cli_format_size(st->total_pages * 4096, buf),
	       (unsigned long long)st->free_pages, (unsigned long long)st->in_use_pages,
	       (unsigned long long)st->leaked_pages, (unsigned long long)st->zombie_pages);
	if (r->valid)
		printf("  rate   %.1f faults/s, %.1f evictions/s, %.1f reloads/s, "
		       "%.1f vEPC faults/s\n",
		       r->faults, r->evictions, r->reloads, r->vepc_faults);
	else
		printf("  rate   - (needs two updates of the program)\n");
	printf("  total  %llu faults, %llu evictions, %llu reloads, %llu reclaim batches, "
	       "%llu SIGBUS\n",
	       (unsigned long long)st->faults, (unsigned long long)st->evictions,
	       (unsigned long long)st->reloads, (unsigned long long)st->reclaim_batches,
	       (unsigned long long)st->sigbus);
	if (!p->snap.nr_encls && !p->snap.nr_vepcs) {
		printf("  no enclaves, no vEPC instances\n");
		return;
	}
	if (p->snap.nr_encls) {
		printf("  %-8s %-18s %10s %8s %8s %5s %6s  %s\n", "ENCLAVE", "BASE", "SIZE", "EPC",
		       "EVICTED", "VA", "LOST", "STATE");
		for (unsigned int i = 0; i < rows(p->snap.nr_encls, SGX_STATS_MAX_ENCLS); i++) {
			const struct softsgx_enclave_usage *e = &p->snap.encls[i];

			printf("  %-8llu 0x%016llx %10s %8llu %8llu %5llu %6llu  %s\n",
			       (unsigned long long)e->id, (unsigned long long)e->base,
			       cli_format_size(e->size, buf), (unsigned long long)e->epc_pages,
			       (unsigned long long)e->evicted_pages,
			       (unsigned long long)e->va_pages, (unsigned long long)e->lost_pages,
			       encl_state(e->flags));
		}
		if (p->snap.nr_encls > SGX_STATS_MAX_ENCLS)
			printf("  ... and %llu more enclaves\n",
			       (unsigned long long)(p->snap.nr_encls - SGX_STATS_MAX_ENCLS));
	}
	if (p->snap.nr_vepcs) {
		printf("  %-8s %-18s %10s %8s\n", "VEPC", "", "MAPPED", "EPC");
		for (unsigned int i = 0; i < rows(p->snap.nr_vepcs, SGX_STATS_MAX_VEPCS); i++) {
			const struct softsgx_vepc_usage *v = &p->snap.vepcs[i];

			printf("  %-8llu %-18s %10s %8llu\n", (unsigned long long)v->id, "",
			       cli_format_size(v->mapped_bytes, buf),
			       (unsigned long long)v->epc_pages);
		}
		if (p->snap.nr_vepcs > SGX_STATS_MAX_VEPCS)
			printf("  ... and %llu more vEPC instances\n",
			       (unsigned long long)(p->snap.nr_vepcs - SGX_STATS_MAX_VEPCS));
	}
}

/* A connection to the running service, or false when none runs. */
static bool service_connect(struct svc_client *c)
{
	return svc_connect(c, NULL, NULL, SVC_HELLO_CONTROL, NULL) == 0;
}

/*
 * A line per EPC cgroup (issue 17): usage, limit and max events, from a
 * CGROUP_LIST of the same connection.
 */
static void print_text_cgroups(struct svc_client *c)
{
	struct svc_cgroup_list_rep *rep;
	const struct svc_cgroup_entry *e;
	char cur[32], max[32];

	if (svc_cgroup_list(c, &rep))
		return;
	e = (const void *)(rep + 1);
	for (uint32_t i = 0; i < rep->nr; i++) {
		cli_format_size(e[i].current, cur);
		if (e[i].max == SVC_CGROUP_MAX)
			snprintf(max, sizeof(max), "max");
		else
			cli_format_size(e[i].max, max);
		printf("  cgroup %-24s %12s of %-12s %llu max event%s, %u client%s\n", e[i].path,
		       cur, max, (unsigned long long)e[i].events, e[i].events == 1 ? "" : "s",
		       e[i].nr_clients, e[i].nr_clients == 1 ? "" : "s");
	}
	free(rep);
}

static void print_text_service(void)
{
	struct svc_client c = {0};
	struct svc_status_rep st;

	if (!service_connect(&c))
		return;
	if (!svc_status(&c, &st)) {
		printf("platform service: pid %u, up %.0f s, %u client%s\n", st.service_pid,
		       (double)st.uptime_ms / 1000.0, st.clients, st.clients == 1 ? "" : "s");
		printf("  EPC %llu pages: %llu free, %llu in use, %llu leaked, %llu zombie; "
		       "%u enclave%s, %u vEPC%s\n",
		       (unsigned long long)st.total_pages, (unsigned long long)st.free_pages,
		       (unsigned long long)st.in_use_pages, (unsigned long long)st.leaked_pages,
		       (unsigned long long)st.zombie_pages, st.enclaves, st.enclaves == 1 ? "" : "s",
		       st.vepcs, st.vepcs == 1 ? "" : "s");
		print_text_cgroups(&c);
	}
	svc_close(&c);
}

/*
 * The service's TOP object, on the line being printed: its JSON has line
 * breaks between members (never inside strings, which escape control
 * characters), which JSON Lines cannot carry.
 */
static void print_json_service(void)
{
	struct svc_client c = {0};
	char *json = NULL;

	fputs(", \"service\": ", stdout);
	if (!service_connect(&c)) {
		fputs("null", stdout);
		return;
	}
	if (svc_top(&c, &json) || !json) {
		fputs("null", stdout);
	} else {
		for (char *q = json; *q; q++)
			if (*q == '\n')
				*q = ' ';
		/* Without the trailing break the service ends its text with. */
		for (size_t n = strlen(json); n && json[n - 1] == ' ';)
			json[--n] = '\0';
		fputs(json, stdout);
	}
	free(json);
	svc_close(&c);
}

static void print_text(const struct sample *cur, const struct sample *prev, pid_t pid, bool clear)
{
	uint64_t now = monotonic_ns();
	time_t t = time(NULL);
	char clock[16];
	struct tm tm;

	if (clear)
		fputs("\033[H\033[2J", stdout);
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime_r(&t, &tm));
	if (!cur->n) {
		if (pid > 0)
			printf("softsgx top - %s: no softsgx platform with pid %d\n", clock,
			       (int)pid);
		else
			printf("softsgx top - %s: no softsgx platforms running\n", clock);
		print_text_service();
		return;
	}
	printf("softsgx top - %s: %zu platform%s\n", clock, cur->n, cur->n == 1 ? "" : "s");
	print_text_service();
	for (size_t i = 0; i < cur->n; i++) {
		struct rates r = rates_of(&cur->v[i], find_prev(prev, &cur->v[i]));

		putchar('\n');
		print_text_platform(&cur->v[i], &r, now);
	}
}

static void json_rate(const char *key, bool valid, double v)
{
	if (valid)
		printf("\"%s\": %.3f", key, v);
	else
		printf("\"%s\": null", key);
}

static void print_json_platform(const struct platform *p, const struct rates *r, uint64_t now)
{
	const struct softsgx_stats *st = &p->snap.stats;

	printf("{\"pid\": %llu, \"program\": ", (unsigned long long)p->hdr.pid);
	cli_json_string(p->hdr.program);
	printf(", \"uptime_s\": %.3f, \"updates\": %llu, \"stale\": %s, ",
	       age_s(p->hdr.start_monotonic_ns, now), (unsigned long long)p->snap.updates,
	       p->snap.updated_ns + STALE_NS < now ? "true" : "false");
	printf("\"epc\": {\"total_pages\": %llu, \"free_pages\": %llu, \"in_use_pages\": %llu, "
	       "\"leaked_pages\": %llu, \"zombie_pages\": %llu}, ",
	       (unsigned long long)st->total_pages, (unsigned long long)st->free_pages,
	       (unsigned long long)st->in_use_pages, (unsigned long long)st->leaked_pages,
	       (unsigned long long)st->zombie_pages);
	printf("\"rates\": {");
	json_rate("interval_s", r->valid, r->seconds);
	printf(", ");
	json_rate("faults_per_s", r->valid, r->faults);
	printf(", ");
	json_rate("evictions_per_s", r->valid, r->evictions);
	printf(", ");
	json_rate("reloads_per_s", r->valid, r->reloads);
	printf(", ");
	json_rate("vepc_faults_per_s", r->valid, r->vepc_faults);
	printf("}, ");
	printf("\"counters\": {\"allocs\": %llu, \"frees\": %llu, \"evictions\": %llu, "
	       "\"reloads\": %llu, \"faults\": %llu, \"sigbus\": %llu, \"reclaim_batches\": %llu, "
	       "\"etrack_retries\": %llu, \"ipis\": %llu, \"eremove_failures\": %llu, "
	       "\"lost_pages\": %llu, \"vepc_faults\": %llu, \"vepc_remove_all\": %llu, "
	       "\"vepc_eremove_warnings\": %llu, \"sanitize_valid_pages\": %llu}, ",
	       (unsigned long long)st->allocs, (unsigned long long)st->frees,
	       (unsigned long long)st->evictions, (unsigned long long)st->reloads,
	       (unsigned long long)st->faults, (unsigned long long)st->sigbus,
	       (unsigned long long)st->reclaim_batches, (unsigned long long)st->etrack_retries,
	       (unsigned long long)st->ipis, (unsigned long long)st->eremove_failures,
	       (unsigned long long)st->lost_pages, (unsigned long long)st->vepc_faults,
	       (unsigned long long)st->vepc_remove_all,
	       (unsigned long long)st->vepc_eremove_warnings,
	       (unsigned long long)st->sanitize_valid_pages);
	printf("\"enclaves\": [");
	for (unsigned int i = 0; i < rows(p->snap.nr_encls, SGX_STATS_MAX_ENCLS); i++) {
		const struct softsgx_enclave_usage *e = &p->snap.encls[i];

		printf("%s{\"id\": %llu, \"base\": \"0x%016llx\", \"size\": %llu, "
		       "\"epc_pages\": %llu, \"va_pages\": %llu, \"evicted_pages\": %llu, "
		       "\"lost_pages\": %llu, \"added_pages\": %llu, \"state\": \"%s\"}",
		       i ? ", " : "", (unsigned long long)e->id, (unsigned long long)e->base,
		       (unsigned long long)e->size, (unsigned long long)e->epc_pages,
		       (unsigned long long)e->va_pages, (unsigned long long)e->evicted_pages,
		       (unsigned long long)e->lost_pages, (unsigned long long)e->added_pages,
		       encl_state(e->flags));
	}
	printf("], \"enclaves_total\": %llu, \"vepcs\": [", (unsigned long long)p->snap.nr_encls);
	for (unsigned int i = 0; i < rows(p->snap.nr_vepcs, SGX_STATS_MAX_VEPCS); i++) {
		const struct softsgx_vepc_usage *v = &p->snap.vepcs[i];

		printf("%s{\"id\": %llu, \"mapped_bytes\": %llu, \"epc_pages\": %llu}",
		       i ? ", " : "", (unsigned long long)v->id,
		       (unsigned long long)v->mapped_bytes, (unsigned long long)v->epc_pages);
	}
	printf("], \"vepcs_total\": %llu}", (unsigned long long)p->snap.nr_vepcs);
}

/*
 * One refresh as one line (JSON Lines): `softsgx top --json | jq -c ...` or
 * any line reader follows the stream as it comes. "time" is the Unix time of
 * the sample, for plotting a stream.
 */
static void print_json(const struct sample *cur, const struct sample *prev)
{
	uint64_t now = monotonic_ns();
	struct timespec wall;

	clock_gettime(CLOCK_REALTIME, &wall);
	printf("{\"time\": %lld.%03ld, \"platforms\": [", (long long)wall.tv_sec,
	       wall.tv_nsec / 1000000);
	for (size_t i = 0; i < cur->n; i++) {
		struct rates r = rates_of(&cur->v[i], find_prev(prev, &cur->v[i]));

		printf("%s", i ? ", " : "");
		print_json_platform(&cur->v[i], &r, now);
	}
	putchar(']');
	print_json_service();
	printf("}\n");
}

/* Sleep @seconds; false when a signal asked us to stop. */
static bool pause_for(double seconds)
{
	struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};

	while (!interrupted && nanosleep(&ts, &ts) && errno == EINTR)
		;
	return !interrupted;
}

static int parse_interval(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* Written so that NaN fails too. */
	if (errno || end == s || *end || !(v >= 0.1 && v <= 3600))
		return -EINVAL;
	*out = v;
	return 0;
}

struct top_opts {
	bool once, json;
	double interval;
	uint64_t iterations; /* 0: until interrupted */
	pid_t pid;
};

static int parse(int argc, char **argv, struct top_opts *o)
{
	enum { OPT_ONCE = CLI_OPT_FIRST_FREE, OPT_JSON };
	static const char optstring[] = ":hd:n:p:";
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"once", no_argument, NULL, OPT_ONCE},
		{"interval", required_argument, NULL, 'd'},
		{"iterations", required_argument, NULL, 'n'},
		{"pid", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, OPT_JSON},
		{NULL, 0, NULL, 0},
	};
	uint64_t v;
	int opt;

	*o = (struct top_opts){.interval = 1.0};
	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return -1;
		case OPT_ONCE:
			o->once = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'd':
			if (parse_interval(optarg, &o->interval))
				return cli_usage_error(NAME,
						       "bad interval '%s': seconds from 0.1 "
						       "to 3600",
						       optarg);
			break;
		case 'n':
			if (cli_parse_uint(optarg, 1, UINT32_MAX, &o->iterations))
				return cli_usage_error(NAME, "bad iteration count '%s'", optarg);
			break;
		case 'p':
			if (cli_parse_uint(optarg, 1, INT32_MAX, &v))
				return cli_usage_error(NAME, "bad pid '%s'", optarg);
			o->pid = (pid_t)v;
			break;
		default:
			return cli_getopt_error(NAME, opt, argv, optstring, longopts);
		}
	}
	if (o->once && o->iterations)
		return cli_usage_error(NAME, "--once and --iterations contradict each other");
	return cli_no_operands(NAME, argc, argv);
}

static int run(int argc, char **argv)
{
	struct sample a = {0}, b = {0}, *cur = &a, *prev = NULL;
	struct sigaction sa = {.sa_handler = on_signal};
	bool clear = isatty(STDOUT_FILENO);
	struct top_opts o;
	uint64_t frames = 0;
	char dir[4096];
	int ret;

	ret = parse(argc, argv, &o);
	if (ret)
		return ret < 0 ? CLI_EXIT_OK : ret;
	if (sgx_stats_dir(dir, sizeof(dir)))
		return cli_fail(NAME, "the stats directory name is too long");
	/* No SA_RESTART: Ctrl-C ends the sleep between refreshes at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (o.once) {
		clear = false;
		o.iterations = 1;
		/* The first sample only gives the rates a starting point. */
		ret = take_sample(dir, o.pid, &b);
		if (ret)
			goto fail;
		prev = &b;
		if (!pause_for(o.interval))
			goto out;
	}
	for (;;) {
		ret = take_sample(dir, o.pid, cur);
		if (ret)
			goto fail;
		if (o.json)
			print_json(cur, prev);
		else
			print_text(cur, prev, o.pid, clear);
		fflush(stdout);
		if (o.iterations && ++frames >= o.iterations)
			break;
		if (!pause_for(o.interval))
			break;
		prev = cur;
		cur = cur == &a ? &b : &a;
	}
	ret = o.pid > 0 && !cur->n ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
	if (ret && o.json)
		fprintf(stderr, "softsgx %s: no softsgx platform with pid %d\n", NAME, (int)o.pid);
	goto out;
fail:
	ret = cli_fail(NAME, "cannot read %s: %s", dir, strerror(-ret));
out:
	free(a.v);
	free(b.v);
	if (fflush(stdout))
		return cli_fail(NAME, "writing the output failed: %m");
	return ret;
}

const struct cli_cmd cmd_top = {
	.name = NAME,
	.summary = "show EPC use and paging rates of programs under 'softsgx run'",
	.usage = usage,
	.run = run,
};
