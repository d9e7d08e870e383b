// SPDX-License-Identifier: MIT
/*
 * SOFTSGX_TRACE=FILE: record the process's platform (obs/trace.h) and write
 * the timeline to FILE when the process exits (exit() or a return from
 * main; not _exit() or a fatal signal). A relative FILE is relative to the
 * directory the program started in. "%p" in FILE stands for the process
 * ID, for programs that start other SGX programs. A process that recorded
 * nothing (a shell that runs the SGX program, a forked child) writes
 * nothing, so it cannot overwrite the trace of the one that did.
 * SOFTSGX_TRACE_MAX_EVENTS bounds the events kept (default about a million).
 *
 * ENCLU leaves are recorded here: the shim runs them for the thread that
 * trapped. Each thread's time inside an enclave, from the end of EENTER or
 * ERESUME to the start of EEXIT or AEX, is an "enclave" event of its own.
 *
 * EPC pressure as counter tracks, which Perfetto draws as graphs over the
 * timeline: a thread of ours samples the kernel model's counters every
 * TRACE_SAMPLE_MS and records "EPC pages" (free, in use) and "EPC paging"
 * (evictions and reloads since boot; Perfetto's delta view gives the rates)
 * whenever they changed. It starts recording only once the process traced
 * something else, so a process that did nothing with SGX still writes no
 * file, and the counters then start from the last quiet sample.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim/shim.h"
#include "shim/thread.h"
#include "obs/trace.h"
#include "kernel/usage.h"

/* Often enough to draw a reclaim wave (ksgxd's batches take ~1 ms), cheap enough to leave on. */
#define TRACE_SAMPLE_MS 10

static struct sgx_trace *trace;
static char *trace_path;
static pid_t trace_owner;

/* @path with %p expanded, made absolute against the directory the program started in. */
static char *expand_path(const char *path)
{
	char pid[24], cwd[PATH_MAX] = "", *out, *o;
	size_t len;

	if (path[0] != '/' && getcwd(cwd, sizeof(cwd) - 1))
		strcat(cwd, "/");
	len = strlen(cwd) + strlen(path) + 1;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (const char *p = path; (p = strstr(p, "%p")); p += 2)
		len += strlen(pid);
	out = malloc(len);
	if (!out)
		return NULL;
	o = stpcpy(out, cwd);
	while (*path) {
		if (path[0] == '%' && path[1] == 'p') {
			o = stpcpy(o, pid);
			path += 2;
		} else {
			*o++ = *path++;
		}
	}
	*o = '\0';
	return out;
}

static void trace_write_at_exit(void)
{
	int ret;

	if (getpid() != trace_owner)
		return; /* a forked child: the parent writes its own */
	if (!sgx_trace_count(trace) && !sgx_trace_dropped(trace))
		return;
	ret = sgx_trace_write_file(trace, trace_path);
	if (ret)
		fprintf(stderr, "softsgx: cannot write the trace to %s: %s\n", trace_path,
			strerror(-ret));
}

/* The counters at @ts_ns as two counter events. */
static void record_counters(const struct softsgx_stats *st, uint64_t ts_ns)
{
	struct sgx_trace_event ev;

	sgx_trace_event_init(&ev, 'C', "EPC pages", "epc", ts_ns);
	sgx_trace_arg_int(&ev, "free", (int64_t)st->free_pages);
	sgx_trace_arg_int(&ev, "in use", (int64_t)st->in_use_pages);
	sgx_trace_record(trace, &ev);
	sgx_trace_event_init(&ev, 'C', "EPC paging", "epc", ts_ns);
	sgx_trace_arg_int(&ev, "evictions", (int64_t)st->evictions);
	sgx_trace_arg_int(&ev, "reloads", (int64_t)st->reloads);
	sgx_trace_record(trace, &ev);
}

static bool counters_changed(const struct softsgx_stats *a, const struct softsgx_stats *b)
{
	return a->free_pages != b->free_pages || a->in_use_pages != b->in_use_pages ||
	       a->evictions != b->evictions || a->reloads != b->reloads;
}

static void *trace_sampler(void *arg)
{
	const struct timespec period = {0, TRACE_SAMPLE_MS * 1000000L};
	struct softsgx_stats last = {0}, cur;
	uint64_t last_ns = 0, now;
	bool started = false;

	(void)arg;
	for (;; nanosleep(&period, NULL)) {
		/* The platform is up a moment after tracing is set up. */
		struct sgx_kernel *k = shim_kernel_if_up();

		if (!k)
			continue;
		shim_model_get();
		sgx_get_stats(k, &cur);
		shim_model_put();
		now = sgx_trace_now();
		if (!started && !sgx_trace_count(trace)) {
			/* Nothing traced yet: the starting point, if something comes. */
			last = cur;
			last_ns = now;
			continue;
		}
		if (!started) {
			started = true;
			if (last_ns)
				record_counters(&last, last_ns);
		} else if (!counters_changed(&cur, &last)) {
			continue;
		}
		record_counters(&cur, now);
		last = cur;
	}
	return NULL;
}

/* The sampler runs until the process ends; a failure only costs the counters. */
static void start_sampler(void)
{
	sigset_t all, old;
	pthread_t t;

	/* No signal of the program's may land on our thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (!pthread_create(&t, NULL, trace_sampler, NULL)) {
		pthread_setname_np(t, "softsgx-trace");
		pthread_detach(t);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void shim_trace_init(struct sgx_hw *hw)
{
	const char *path = getenv("SOFTSGX_TRACE");
	const char *max = getenv("SOFTSGX_TRACE_MAX_EVENTS");
	unsigned long long n = 0;
	char *end;

	if (!path || !*path)
		return;
	if (max && *max) {
		errno = 0;
		n = strtoull(max, &end, 10);
		if (errno || *end || !n) {
			fprintf(stderr,
				"softsgx: SOFTSGX_TRACE_MAX_EVENTS=%s is not a positive "
				"number; not tracing\n",
				max);
			return;
		}
	}
	trace_path = expand_path(path);
	trace = trace_path ? sgx_trace_new((size_t)n) : NULL;
	if (!trace) {
		fprintf(stderr, "softsgx: cannot set up tracing: %s\n", strerror(errno));
		free(trace_path);
		trace_path = NULL;
		return;
	}
	trace_owner = getpid();
	sgx_trace_set_process_name(trace, program_invocation_short_name);
	if (atexit(trace_write_at_exit)) {
		fprintf(stderr, "softsgx: cannot set up tracing: no atexit slot\n");
		sgx_trace_free(trace);
		trace = NULL;
		return;
	}
	hw_set_trace(hw, trace);
	start_sampler();
}

uint64_t shim_trace_begin(struct sgx_hw *hw)
{
	return hw_trace(hw) ? sgx_trace_now() : 0;
}

static const char *enclu_name(uint32_t leaf)
{
	switch (leaf) {
	case SGX_EREPORT:
		return "EREPORT";
	case SGX_EGETKEY:
		return "EGETKEY";
	case SGX_EENTER:
		return "EENTER";
	case SGX_ERESUME:
		return "ERESUME";
	case SGX_EEXIT:
		return "EEXIT";
	case SGX_EACCEPT:
		return "EACCEPT";
	case SGX_EMODPE:
		return "EMODPE";
	case SGX_EACCEPTCOPY:
		return "EACCEPTCOPY";
	default:
		return "ENCLU";
	}
}

/* The thread left the enclave at @exit_ns: its time inside as one event. */
static void trace_inside(struct sgx_trace *tr, struct shim_thread *t, uint64_t exit_ns)
{
	struct sgx_trace_event ev;

	if (!t->trace_entered_ns)
		return; /* entered before tracing began */
	sgx_trace_event_init(&ev, 'X', "enclave", "enclu", t->trace_entered_ns);
	ev.dur_ns = exit_ns > ev.ts_ns ? exit_ns - ev.ts_ns : 0;
	sgx_trace_arg_hex(&ev, "tcs", t->lp.tcs_la);
	sgx_trace_record(tr, &ev);
	t->trace_entered_ns = 0;
}

void shim_trace_enclu(struct sgx_hw *hw, struct shim_thread *t, uint64_t t0, uint32_t leaf,
		      uint64_t rbx, bool was_inside, int ret)
{
	struct sgx_trace *tr = hw_trace(hw);
	struct sgx_trace_event ev;

	if (!tr)
		return;
	sgx_trace_event_init(&ev, 'X', enclu_name(leaf), "enclu", t0);
	/* EENTER and ERESUME name the TCS in RBX; the others run on the current one. */
	sgx_trace_arg_hex(&ev, "tcs",
			  leaf == SGX_EENTER || leaf == SGX_ERESUME ? rbx : t->lp.tcs_la);
	sgx_trace_arg_str(&ev, "ret", sgx_trace_ret_name(ret));
	sgx_trace_record_span(tr, &ev);
	if (!was_inside && t->lp.inside)
		t->trace_entered_ns = ev.ts_ns + ev.dur_ns;
	else if (was_inside && !t->lp.inside)
		trace_inside(tr, t, t0);
}

void shim_trace_aex(struct sgx_hw *hw, struct shim_thread *t, uint64_t t0, unsigned int vector,
		    uint64_t addr)
{
	struct sgx_trace *tr = hw_trace(hw);
	struct sgx_trace_event ev;

	if (!tr)
		return;
	trace_inside(tr, t, t0);
	sgx_trace_event_init(&ev, 'X', "AEX", "enclu", t0);
	sgx_trace_arg_hex(&ev, "tcs", t->lp.tcs_la);
	sgx_trace_arg_int(&ev, "vector", vector);
	if (vector == X86_TRAP_PF)
		sgx_trace_arg_hex(&ev, "addr", addr);
	sgx_trace_record_span(tr, &ev);
}
