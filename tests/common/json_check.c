// SPDX-License-Identifier: MIT
/*
 * Recursive-descent JSON validation. The trace check walks the same grammar
 * and, for each object directly inside the "traceEvents" array, notes which
 * members it has and their types.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/common/json_check.h"

#define MAX_DEPTH 64

struct parser {
	const char *s;
	size_t len, pos;
	int depth;
	/* Trace check: where we are, and what the current event has. */
	bool in_events;		 /* parsing the elements of "traceEvents" */
	unsigned int ev_members; /* bits of EV_* seen in the current event */
	bool ev_is_x;
	bool bad_event;
	size_t events;
	bool have_events, display_ns;
};

enum {
	EV_NAME = 1,
	EV_PH = 2,
	EV_TS = 4,
	EV_PID = 8,
	EV_TID = 16,
	EV_DUR = 32,
};

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static bool lit(struct parser *p, const char *w)
{
	size_t n = strlen(w);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n))
		return false;
	p->pos += n;
	return true;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* One UTF-8 sequence starting at p->pos (a byte >= 0x80), strictly. */
static bool utf8_seq(struct parser *p)
{
	unsigned char c = (unsigned char)p->s[p->pos];
	unsigned int n, cp;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
	} else {
		return false;
	}
	if (p->len - p->pos <= n)
		return false;
	for (unsigned int i = 1; i <= n; i++) {
		unsigned char d = (unsigned char)p->s[p->pos + i];

		if ((d & 0xc0) != 0x80)
			return false;
		cp = (cp << 6) | (d & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	p->pos += n + 1;
	return true;
}

/* A string; its raw contents (escapes not decoded) in *@start, *@n. */
static bool string(struct parser *p, const char **start, size_t *n)
{
	if (p->pos >= p->len || p->s[p->pos] != '"')
		return false;
	p->pos++;
	*start = p->s + p->pos;
	while (p->pos < p->len) {
		unsigned char c = (unsigned char)p->s[p->pos];

		if (c == '"') {
			*n = (size_t)(p->s + p->pos - *start);
			p->pos++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			char e;

			if (++p->pos >= p->len)
				return false;
			e = p->s[p->pos];
			if (e == 'u') {
				if (p->len - p->pos < 5)
					return false;
				for (int i = 1; i <= 4; i++)
					if (!is_hex(p->s[p->pos + i]))
						return false;
				p->pos += 5;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || !e)
				return false;
			p->pos++;
			continue;
		}
		if (c >= 0x80) {
			if (!utf8_seq(p))
				return false;
			continue;
		}
		p->pos++;
	}
	return false;
}

static bool digits(struct parser *p)
{
	size_t start = p->pos;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
	return p->pos > start;
}

static bool number(struct parser *p)
{
	if (p->pos < p->len && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '0')
		p->pos++;
	else if (!digits(p))
		return false;
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (!digits(p))
			return false;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (!digits(p))
			return false;
	}
	return true;
}

enum vtype { V_NONE, V_STRING, V_NUMBER, V_OTHER, V_ARRAY, V_OBJECT };

static bool value(struct parser *p, enum vtype *type, bool events_array);

static bool key_is(const char *k, size_t n, const char *want)
{
	return n == strlen(want) && !memcmp(k, want, n);
}

/* A member of an event object: note the ones the format requires. */
static void event_member(struct parser *p, const char *k, size_t kn, enum vtype t, const char *v,
			 size_t vn)
{
	static const struct {
		const char *key;
		unsigned int bit;
		enum vtype type;
	} req[] = {
		{"name", EV_NAME, V_STRING}, {"ph", EV_PH, V_STRING},	{"ts", EV_TS, V_NUMBER},
		{"pid", EV_PID, V_NUMBER},   {"tid", EV_TID, V_NUMBER}, {"dur", EV_DUR, V_NUMBER},
	};

	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		if (!key_is(k, kn, req[i].key))
			continue;
		if (t != req[i].type)
			p->bad_event = true;
		p->ev_members |= req[i].bit;
	}
	if (key_is(k, kn, "ph") && t == V_STRING && vn == 1 && v[0] == 'X')
		p->ev_is_x = true;
}

static bool object(struct parser *p, bool is_event)
{
	bool top = p->depth == 1;

	p->pos++; /* '{' */
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		return true;
	}
	for (;;) {
		const char *k, *v = NULL;
		size_t kn, vn = 0, vstart;
		enum vtype t;
		bool events;

		skip_ws(p);
		if (!string(p, &k, &kn))
			return false;
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':')
			return false;
		p->pos++;
		skip_ws(p);
		vstart = p->pos;
		events = top && key_is(k, kn, "traceEvents");
		if (!value(p, &t, events))
			return false;
		if (t == V_STRING) {
			v = p->s + vstart + 1;
			vn = p->pos - vstart - 2;
		}
		if (events)
			p->have_events = t == V_ARRAY;
		if (top && key_is(k, kn, "displayTimeUnit") && t == V_STRING && vn == 2 &&
		    !memcmp(v, "ns", 2))
			p->display_ns = true;
		if (is_event)
			event_member(p, k, kn, t, v, vn);
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}') {
			p->pos++;
			return true;
		}
		return false;
	}
}

static bool array(struct parser *p, bool events_array)
{
	p->pos++; /* '[' */
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
		return true;
	}
	for (;;) {
		enum vtype t;

		skip_ws(p);
		if (events_array) {
			p->ev_members = 0;
			p->ev_is_x = false;
			if (p->pos >= p->len || p->s[p->pos] != '{') {
				p->bad_event = true;
				return false;
			}
			p->depth++;
			if (p->depth > MAX_DEPTH || !object(p, true))
				return false;
			p->depth--;
			if ((p->ev_members & (EV_NAME | EV_PH | EV_TS | EV_PID | EV_TID)) !=
				    (EV_NAME | EV_PH | EV_TS | EV_PID | EV_TID) ||
			    (p->ev_is_x && !(p->ev_members & EV_DUR)))
				p->bad_event = true;
			p->events++;
		} else if (!value(p, &t, false)) {
			return false;
		}
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == ']') {
			p->pos++;
			return true;
		}
		return false;
	}
}

static bool value(struct parser *p, enum vtype *type, bool events_array)
{
	const char *k;
	size_t n;
	bool ok;

	*type = V_NONE;
	if (p->pos >= p->len)
		return false;
	switch (p->s[p->pos]) {
	case '{':
		if (++p->depth > MAX_DEPTH)
			return false;
		ok = object(p, false);
		p->depth--;
		*type = V_OBJECT;
		return ok;
	case '[':
		if (++p->depth > MAX_DEPTH)
			return false;
		ok = array(p, events_array);
		p->depth--;
		*type = V_ARRAY;
		return ok;
	case '"':
		*type = V_STRING;
		return string(p, &k, &n);
	case 't':
		*type = V_OTHER;
		return lit(p, "true");
	case 'f':
		*type = V_OTHER;
		return lit(p, "false");
	case 'n':
		*type = V_OTHER;
		return lit(p, "null");
	default:
		*type = V_NUMBER;
		return number(p);
	}
}

static bool parse(struct parser *p, enum vtype *t)
{
	skip_ws(p);
	if (!value(p, t, false))
		return false;
	skip_ws(p);
	return p->pos == p->len;
}

bool json_valid(const char *s, size_t len)
{
	struct parser p = {.s = s, .len = len};
	enum vtype t;

	return parse(&p, &t);
}

bool trace_json_check(const char *s, size_t len, struct trace_summary *sum)
{
	struct parser p = {.s = s, .len = len};
	enum vtype t;

	if (!parse(&p, &t) || t != V_OBJECT || !p.have_events || p.bad_event)
		return false;
	sum->events = p.events;
	sum->display_ns = p.display_ns;
	return true;
}

/*
 * In valid JSON a quote inside a string is escaped, so "name":"X" can only
 * be a member named name whose value is X (the writer puts no space there).
 */
size_t trace_json_count(const char *s, const char *name)
{
	char pat[128];
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"name\":\"%s\"", name);
	for (const char *q = s; (q = strstr(q, pat)); q += strlen(pat))
		n++;
	return n;
}
