// SPDX-License-Identifier: MIT
/*
 * The trace recorder and its JSON writer (trace.h). Slots are reserved with
 * one atomic add and published with a release store of their ready flag, so
 * the writer can run while threads still record and sees only whole events.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hw/hw.h"
#include "obs/trace.h"

struct trace_slot {
	_Atomic uint32_t ready;
	struct sgx_trace_event ev;
};

struct sgx_trace {
	struct trace_slot *slots; /* mapped lazily: untouched slots cost nothing */
	size_t cap;
	size_t map_len;
	uint32_t pid;
	_Atomic uint64_t next;	  /* slots reserved, may exceed cap */
	_Atomic uint64_t dropped; /* events that found the recorder full */
	char process_name[64];	  /* "" for none */
};

/*
 * The thread ID, cached: a system call per event would cost more than the
 * leaves it records. Thread-local storage is safe here because every caller
 * runs with the host's FS (the shim restores it before anything else); a
 * fork() child forgets the parent's value.
 */
static __thread uint32_t cached_tid;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_tid(void)
{
	cached_tid = 0;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_tid);
}

static uint32_t current_tid(void)
{
	if (__builtin_expect(!cached_tid, 0))
		cached_tid = (uint32_t)syscall(SYS_gettid);
	return cached_tid;
}

struct sgx_trace *sgx_trace_new(size_t max_events)
{
	struct sgx_trace *t;

	if (!max_events)
		max_events = SGX_TRACE_DEFAULT_EVENTS;
	if (max_events > SIZE_MAX / 2 / sizeof(struct trace_slot)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cap = max_events;
	t->map_len = max_events * sizeof(struct trace_slot);
	/* Raw mmap: no malloc arena keeps the pages, and NORESERVE commits nothing yet. */
	t->slots = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t->slots == MAP_FAILED) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->pid = (uint32_t)getpid();
	pthread_once(&atfork_once, register_atfork);
	return t;
}

void sgx_trace_free(struct sgx_trace *t)
{
	if (!t)
		return;
	munmap(t->slots, t->map_len);
	free(t);
}

void sgx_trace_set_process_name(struct sgx_trace *t, const char *name)
{
	snprintf(t->process_name, sizeof(t->process_name), "%s", name);
}

uint64_t sgx_trace_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sgx_trace_event_init(struct sgx_trace_event *ev, char ph, const char *name, const char *cat,
			  uint64_t ts_ns)
{
	ev->name = name;
	ev->cat = cat;
	ev->ph = ph;
	ev->nargs = 0;
	ev->tid = current_tid();
	ev->ts_ns = ts_ns;
	ev->dur_ns = 0;
}

static struct sgx_trace_arg *next_arg(struct sgx_trace_event *ev, const char *key)
{
	struct sgx_trace_arg *a;

	if (ev->nargs >= SGX_TRACE_MAX_ARGS)
		return NULL;
	a = &ev->args[ev->nargs++];
	a->key = key;
	return a;
}

void sgx_trace_arg_int(struct sgx_trace_event *ev, const char *key, int64_t v)
{
	struct sgx_trace_arg *a = next_arg(ev, key);

	if (a) {
		a->kind = SGX_TRACE_ARG_INT;
		a->i = v;
	}
}

void sgx_trace_arg_hex(struct sgx_trace_event *ev, const char *key, uint64_t v)
{
	struct sgx_trace_arg *a = next_arg(ev, key);

	if (a) {
		a->kind = SGX_TRACE_ARG_HEX;
		a->u = v;
	}
}

void sgx_trace_arg_str(struct sgx_trace_event *ev, const char *key, const char *s)
{
	struct sgx_trace_arg *a = next_arg(ev, key);

	if (a) {
		a->kind = SGX_TRACE_ARG_STR;
		a->s = s;
	}
}

void sgx_trace_record(struct sgx_trace *t, const struct sgx_trace_event *ev)
{
	uint64_t idx = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
	struct trace_slot *s;

	if (idx >= t->cap) {
		atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
		return;
	}
	s = &t->slots[idx];
	s->ev = *ev;
	atomic_store_explicit(&s->ready, 1, memory_order_release);
}

void sgx_trace_record_span(struct sgx_trace *t, struct sgx_trace_event *ev)
{
	uint64_t now = sgx_trace_now();

	ev->ph = 'X';
	ev->dur_ns = now > ev->ts_ns ? now - ev->ts_ns : 0;
	sgx_trace_record(t, ev);
}

size_t sgx_trace_count(const struct sgx_trace *t)
{
	uint64_t n = atomic_load_explicit(&t->next, memory_order_relaxed);

	return n < t->cap ? (size_t)n : t->cap;
}

uint64_t sgx_trace_dropped(const struct sgx_trace *t)
{
	return atomic_load_explicit(&t->dropped, memory_order_relaxed);
}

size_t sgx_trace_capacity(const struct sgx_trace *t)
{
	return t->cap;
}

/*
 * A JSON string. Control characters are escaped; bytes outside ASCII become
 * '?' so the file stays valid UTF-8 whatever a name holds.
 */
static void put_string(FILE *out, const char *s)
{
	putc('"', out);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else if (*p >= 0x80)
			putc('?', out);
		else
			putc(*p, out);
	}
	putc('"', out);
}

/* Microseconds with the nanoseconds as a fraction, as the format wants. */
static void put_us(FILE *out, uint64_t ns)
{
	fprintf(out, "%llu.%03llu", (unsigned long long)(ns / 1000),
		(unsigned long long)(ns % 1000));
}

static void put_event(FILE *out, const struct sgx_trace_event *ev, uint32_t pid)
{
	fputs("{\"name\":", out);
	put_string(out, ev->name);
	fputs(",\"cat\":", out);
	put_string(out, ev->cat);
	fprintf(out, ",\"ph\":\"%c\",\"ts\":", ev->ph);
	put_us(out, ev->ts_ns);
	if (ev->ph == 'X') {
		fputs(",\"dur\":", out);
		put_us(out, ev->dur_ns);
	}
	if (ev->ph == 'i')
		fputs(",\"s\":\"t\"", out); /* an instant on its thread's track */
	fprintf(out, ",\"pid\":%u,\"tid\":%u,\"args\":{", pid, ev->tid);
	for (unsigned int i = 0; i < ev->nargs && i < SGX_TRACE_MAX_ARGS; i++) {
		const struct sgx_trace_arg *a = &ev->args[i];

		if (i)
			putc(',', out);
		put_string(out, a->key);
		putc(':', out);
		if (a->kind == SGX_TRACE_ARG_INT)
			fprintf(out, "%lld", (long long)a->i);
		else if (a->kind == SGX_TRACE_ARG_HEX)
			fprintf(out, "\"0x%llx\"", (unsigned long long)a->u);
		else
			put_string(out, a->s);
	}
	fputs("}}", out);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * A "thread_name" metadata event for every thread that recorded and still
 * runs, with the name it has now (/proc/self/task/TID/comm): ksgxd and the
 * program's named threads get named tracks. Threads that ended are left
 * unnamed (Perfetto shows their tid). Returns false when nothing was written.
 */
static bool put_thread_names(FILE *out, const struct sgx_trace *t, size_t n, bool first)
{
	uint32_t *tids = malloc((n ? n : 1) * sizeof(*tids));
	size_t nr = 0;

	if (!tids)
		return !first; /* names are a nicety: the events matter */
	for (size_t i = 0; i < n; i++)
		if (atomic_load_explicit(&t->slots[i].ready, memory_order_acquire))
			tids[nr++] = t->slots[i].ev.tid;
	qsort(tids, nr, sizeof(*tids), cmp_u32);
	for (size_t i = 0; i < nr; i++) {
		char path[64], name[32] = "";
		struct sgx_trace_event ev = {
			.name = "thread_name",
			.cat = "__metadata",
			.ph = 'M',
		};
		FILE *f;

		if (i && tids[i] == tids[i - 1])
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%u/comm", tids[i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f))
			name[strcspn(name, "\n")] = '\0';
		fclose(f);
		if (!name[0])
			continue;
		ev.tid = tids[i];
		sgx_trace_arg_str(&ev, "name", name);
		fputs(first ? "\n" : ",\n", out);
		put_event(out, &ev, t->pid);
		first = false;
	}
	free(tids);
	return !first;
}

int sgx_trace_write_json(const struct sgx_trace *t, FILE *out)
{
	size_t n = sgx_trace_count(t);
	uint64_t dropped = sgx_trace_dropped(t), last = 0;
	bool first = true;

	fputs("{\"traceEvents\":[", out);
	{
		struct sgx_trace_event ev = {
			.name = "process_name",
			.cat = "__metadata",
			.ph = 'M',
		};

		/* Unnamed (a program of the embedding API): the program's own name. */
		sgx_trace_arg_str(&ev, "name",
				  t->process_name[0] ? t->process_name
						     : program_invocation_short_name);
		putc('\n', out);
		put_event(out, &ev, t->pid);
		first = false;
	}
	first = !put_thread_names(out, t, n, first);
	for (size_t i = 0; i < n; i++) {
		const struct trace_slot *s = &t->slots[i];
		uint64_t end;

		if (!atomic_load_explicit(&s->ready, memory_order_acquire))
			continue; /* still being filled in by its thread */
		if (!first)
			putc(',', out);
		first = false;
		putc('\n', out);
		put_event(out, &s->ev, t->pid);
		end = s->ev.ts_ns + s->ev.dur_ns;
		if (end > last)
			last = end;
	}
	if (dropped) {
		struct sgx_trace_event ev = {
			.name = "trace truncated",
			.cat = "softsgx",
			.ph = 'i',
			.ts_ns = last,
		};

		sgx_trace_arg_int(&ev, "max_events", (int64_t)t->cap);
		sgx_trace_arg_int(&ev, "dropped_events", (int64_t)dropped);
		fputs(first ? "\n" : ",\n", out);
		put_event(out, &ev, t->pid);
	}
	fputs("\n],\"displayTimeUnit\":\"ns\"}\n", out);
	if (fflush(out) || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

int sgx_trace_write_file(const struct sgx_trace *t, const char *path)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + 32);
	FILE *out;
	int fd, ret;

	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, len + 32, "%s.tmp.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		free(tmp);
		return ret;
	}
	/* mkstemp makes the file 0600; a trace is no secret, give it the usual mode. */
	fchmod(fd, 0644);
	out = fdopen(fd, "w");
	if (!out) {
		ret = -errno;
		close(fd);
		goto fail;
	}
	ret = sgx_trace_write_json(t, out);
	if (fclose(out) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (!ret) {
		free(tmp);
		return 0;
	}
fail:
	unlink(tmp);
	free(tmp);
	return ret;
}

const char *sgx_trace_ret_name(int ret)
{
	static const char *const names[] = {
		[SGX_SUCCESS] = "SUCCESS",
		[SGX_INVALID_SIG_STRUCT] = "INVALID_SIG_STRUCT",
		[SGX_INVALID_ATTRIBUTE] = "INVALID_ATTRIBUTE",
		[SGX_BLKSTATE] = "BLKSTATE",
		[SGX_INVALID_MEASUREMENT] = "INVALID_MEASUREMENT",
		[SGX_NOTBLOCKABLE] = "NOTBLOCKABLE",
		[SGX_PG_INVLD] = "PG_INVLD",
		[SGX_EPC_PAGE_CONFLICT] = "EPC_PAGE_CONFLICT",
		[SGX_INVALID_SIGNATURE] = "INVALID_SIGNATURE",
		[SGX_MAC_COMPARE_FAIL] = "MAC_COMPARE_FAIL",
		[SGX_PAGE_NOT_BLOCKED] = "PAGE_NOT_BLOCKED",
		[SGX_NOT_TRACKED] = "NOT_TRACKED",
		[SGX_VA_SLOT_OCCUPIED] = "VA_SLOT_OCCUPIED",
		[SGX_CHILD_PRESENT] = "CHILD_PRESENT",
		[SGX_ENCLAVE_ACT] = "ENCLAVE_ACT",
		[SGX_ENTRYEPOCH_LOCKED] = "ENTRYEPOCH_LOCKED",
		[SGX_INVALID_EINITTOKEN] = "INVALID_EINITTOKEN",
		[SGX_PREV_TRK_INCMPL] = "PREV_TRK_INCMPL",
		[SGX_PG_IS_SECS] = "PG_IS_SECS",
		[SGX_PAGE_ATTRIBUTES_MISMATCH] = "PAGE_ATTRIBUTES_MISMATCH",
		[SGX_PAGE_NOT_MODIFIABLE] = "PAGE_NOT_MODIFIABLE",
		[SGX_PAGE_NOT_DEBUGGABLE] = "PAGE_NOT_DEBUGGABLE",
	};

	if (encls_faulted(ret)) {
		switch (ENCLS_TRAPNR(ret)) {
		case X86_TRAP_GP:
			return "#GP";
		case X86_TRAP_PF:
			return "#PF";
		default:
			return "fault";
		}
	}
	if (ret >= 0 && (size_t)ret < sizeof(names) / sizeof(names[0]) && names[ret])
		return names[ret];
	switch (ret) {
	case SGX_INVALID_CPUSVN:
		return "INVALID_CPUSVN";
	case SGX_INVALID_ISVSVN:
		return "INVALID_ISVSVN";
	case SGX_UNMASKED_EVENT:
		return "UNMASKED_EVENT";
	case SGX_INVALID_KEYNAME:
		return "INVALID_KEYNAME";
	default:
		return "unknown";
	}
}
