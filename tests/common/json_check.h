/* SPDX-License-Identifier: MIT */
/*
 * A strict JSON validator (RFC 8259) for the tests of the trace writer, with
 * a summary of a trace-event file. No library: the project depends on
 * nothing but libc, OpenSSL and cmocka.
 */
#ifndef SOFTSGX_JSON_CHECK_H
#define SOFTSGX_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* true when @s (@len bytes) is exactly one JSON value, with optional whitespace around. */
bool json_valid(const char *s, size_t len);

/*
 * A trace in the trace-event "JSON Object Format": valid JSON whose top
 * level is an object with a "traceEvents" array of objects, each with a
 * string "name" and "ph", numbers "ts", "pid" and "tid" (and "dur" for 'X').
 */
struct trace_summary {
	size_t events;
	bool display_ns; /* "displayTimeUnit":"ns" */
};
/* true when @s is such a trace; fills @sum. */
bool trace_json_check(const char *s, size_t len, struct trace_summary *sum);

/* Events of @s (a valid trace) whose "name" is @name. */
size_t trace_json_count(const char *s, const char *name);

#endif /* SOFTSGX_JSON_CHECK_H */
