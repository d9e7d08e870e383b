/* SPDX-License-Identifier: MIT */
/*
 * Tracing: a timeline of what the platform did (ENCLS and ENCLU leaves, page
 * faults, reclaim, vEPC ioctls), written in the Chrome/Perfetto trace-event
 * JSON format so chrome://tracing and ui.perfetto.dev draw it.
 *
 * Observability, not architecture: it lives in hw/ only because every layer
 * above records into it and arrows point down.
 *
 * The recorder is a fixed array of slots reserved with one atomic add, so
 * recording takes no lock and allocates nothing: it is safe in the shim's
 * signal handlers (ENCLU, AEX, the reclaimer's kick) and from any thread.
 * The slots are mapped lazily: a recorder for a million events costs memory
 * only for the events recorded. Once it is full, further events are counted
 * and dropped; the JSON then ends with a "trace truncated" event.
 *
 * A platform records only while a recorder is attached (hw_set_trace()); a
 * platform without one pays one load and one branch per event site.
 */
#ifndef SOFTSGX_HW_TRACE_H
#define SOFTSGX_HW_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sgx_hw;
struct sgx_trace;

/* Default capacity: at about 128 bytes per event, at most 128 MiB. */
#define SGX_TRACE_DEFAULT_EVENTS (1u << 20)
#define SGX_TRACE_MAX_ARGS	 4

enum sgx_trace_arg_kind {
	SGX_TRACE_ARG_INT, /* a JSON number */
	SGX_TRACE_ARG_HEX, /* a JSON string "0x..." (addresses exceed a double's precision) */
	SGX_TRACE_ARG_STR, /* a JSON string; the pointer must outlive the recorder */
};

struct sgx_trace_arg {
	const char *key; /* must outlive the recorder: a string literal */
	enum sgx_trace_arg_kind kind;
	union {
		int64_t i;
		uint64_t u;
		const char *s;
	};
};

/*
 * One event. @name and @cat are kept by pointer, so they must outlive the
 * recorder (string literals); the writer escapes them. @ph is the phase of
 * the trace-event format: 'X' (complete, with @dur_ns), 'i' (instant), 'B'
 * and 'E' (begin and end of a span on the thread).
 */
struct sgx_trace_event {
	const char *name;
	const char *cat;
	char ph;
	unsigned int nargs;
	uint32_t tid;
	uint64_t ts_ns; /* CLOCK_MONOTONIC */
	uint64_t dur_ns;
	struct sgx_trace_arg args[SGX_TRACE_MAX_ARGS];
};

/* A recorder for at most @max_events events (0: the default). NULL with errno set. */
struct sgx_trace *sgx_trace_new(size_t max_events);
/* Nothing may record into @t any more (detach it from every platform first). */
void sgx_trace_free(struct sgx_trace *t);

/*
 * The name the timeline shows for the process (a "process_name" metadata
 * event); ASCII, truncated to 63 bytes. Set it before recording starts.
 */
void sgx_trace_set_process_name(struct sgx_trace *t, const char *name);

/* CLOCK_MONOTONIC in nanoseconds; async-signal-safe. */
uint64_t sgx_trace_now(void);

/*
 * Start an event of phase @ph at time @ts_ns on the calling thread. Then add
 * up to SGX_TRACE_MAX_ARGS arguments (more are ignored) and record it.
 */
void sgx_trace_event_init(struct sgx_trace_event *ev, char ph, const char *name, const char *cat,
			  uint64_t ts_ns);
void sgx_trace_arg_int(struct sgx_trace_event *ev, const char *key, int64_t v);
void sgx_trace_arg_hex(struct sgx_trace_event *ev, const char *key, uint64_t v);
void sgx_trace_arg_str(struct sgx_trace_event *ev, const char *key, const char *s);

/* Record @ev as it is. Lock-free and async-signal-safe. */
void sgx_trace_record(struct sgx_trace *t, const struct sgx_trace_event *ev);
/* Record a complete ('X') event: its duration is from ev->ts_ns to now. */
void sgx_trace_record_span(struct sgx_trace *t, struct sgx_trace_event *ev);

/* Events recorded so far, and events dropped because the recorder was full. */
size_t sgx_trace_count(const struct sgx_trace *t);
uint64_t sgx_trace_dropped(const struct sgx_trace *t);
size_t sgx_trace_capacity(const struct sgx_trace *t);

/*
 * Write the events recorded so far as one JSON object
 * {"traceEvents":[...],"displayTimeUnit":"ns"}. Threads may keep recording
 * meanwhile; an event whose slot is not complete yet is left out. Returns 0,
 * or -errno when writing failed.
 */
int sgx_trace_write_json(const struct sgx_trace *t, FILE *out);
/*
 * sgx_trace_write_json() into @path, atomically: a temporary file in the same
 * directory, then rename(2). 0 or -errno.
 */
int sgx_trace_write_file(const struct sgx_trace *t, const char *path);

/*
 * Attach @t to @hw (NULL detaches). Every layer on @hw then records into it.
 * Detaching does not wait for events in flight; free the recorder only once
 * the platform is quiet.
 */
void hw_set_trace(struct sgx_hw *hw, struct sgx_trace *t);
/* The attached recorder, NULL when the platform is not traced. */
struct sgx_trace *hw_trace(const struct sgx_hw *hw);

/* An SGX return code or ENCLS fault as text ("SUCCESS", "#GP", "SGX_INVALID_SIG_STRUCT"...). */
const char *sgx_trace_ret_name(int ret);

#endif /* SOFTSGX_HW_TRACE_H */
