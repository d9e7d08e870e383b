// SPDX-License-Identifier: MIT
/*
 * The trace recorder and its JSON writer (obs/trace.c), and ENCLS leaves
 * recorded at the hw/ boundary (hw/encls_trace.c): events kept with their
 * arguments, strings escaped so any name gives valid JSON, the cap with its
 * "trace truncated" event, concurrent recording, the atomic file write, and
 * a platform that records only while a recorder is attached.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/common/hw_fixture.h"
#include "tests/common/json_check.h"
#include "obs/trace.h"
#include "tests/common/leak_guard.h"

/* The JSON of @t, NUL-terminated; free() it. */
static char *to_json(const struct sgx_trace *t, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	assert_int_equal(sgx_trace_write_json(t, f), 0);
	assert_int_equal(fclose(f), 0);
	if (len)
		*len = n;
	return buf;
}

/*
 * @json is a valid trace of @events events besides its metadata: the
 * process name, always first, and the names of threads that recorded.
 */
static void assert_trace(const char *json, size_t len, size_t events)
{
	struct trace_summary sum;

	assert_true(trace_json_check(json, len, &sum));
	assert_int_equal(trace_json_count(json, "process_name"), 1);
	assert_non_null(strstr(json, "[\n{\"name\":\"process_name\",\"cat\":\"__metadata\","));
	assert_int_equal(sum.events - 1 - trace_json_count(json, "thread_name"), events);
	assert_true(sum.display_ns);
}

/* A string literal, without its terminating NUL. */
#define VALID(lit) json_valid(lit, sizeof(lit) - 1)

static void test_json_checker(void **state)
{
	(void)state;
	/* The checker itself: it must refuse what a careless writer would produce. */
	assert_true(VALID("{\"a\":[1,-2.5e3,\"x\\u00e9\",true,null,{}]}"));
	assert_false(VALID("{\"a\":1,}"));
	assert_false(VALID("{\"a\":\"\n\"}"));
	assert_false(VALID("{\"a\":01}"));
	assert_false(VALID("{\"a\":\"\\x\"}"));
	assert_false(VALID("{\"a\":\"\xff\"}"));
	assert_false(VALID("{} {}"));
	assert_false(VALID("[1,2"));
}

static void test_events_and_args(void **state)
{
	struct sgx_trace *t = sgx_trace_new(16);
	struct sgx_trace_event ev;
	size_t len;
	char *json;

	(void)state;
	assert_non_null(t);
	sgx_trace_event_init(&ev, 'X', "EADD", "encls", 1234567);
	sgx_trace_arg_hex(&ev, "epc", 0x4000002000ull);
	sgx_trace_arg_int(&ev, "ret", -16);
	sgx_trace_arg_str(&ev, "result", "SUCCESS");
	ev.dur_ns = 2500;
	sgx_trace_record(t, &ev);
	sgx_trace_event_init(&ev, 'i', "mark", "test", 2000000);
	sgx_trace_record(t, &ev);
	sgx_trace_event_init(&ev, 'X', "span", "test", sgx_trace_now());
	sgx_trace_record_span(t, &ev);
	assert_int_equal(sgx_trace_count(t), 3);
	assert_int_equal(sgx_trace_dropped(t), 0);

	json = to_json(t, &len);
	assert_trace(json, len, 3);
	/* Microseconds with the nanoseconds as a fraction; hex as strings. */
	assert_non_null(strstr(json, "{\"name\":\"EADD\",\"cat\":\"encls\",\"ph\":\"X\","
				     "\"ts\":1234.567,\"dur\":2.500,"));
	assert_non_null(strstr(json, "\"args\":{\"epc\":\"0x4000002000\",\"ret\":-16,"
				     "\"result\":\"SUCCESS\"}"));
	assert_non_null(strstr(json, "\"name\":\"mark\",\"cat\":\"test\",\"ph\":\"i\","
				     "\"ts\":2000.000,\"s\":\"t\""));
	assert_int_equal(trace_json_count(json, "span"), 1);
	free(json);
	sgx_trace_free(t);
}

static void test_more_args_than_slots(void **state)
{
	struct sgx_trace_event ev;

	(void)state;
	sgx_trace_event_init(&ev, 'i', "n", "c", 0);
	for (int i = 0; i < SGX_TRACE_MAX_ARGS + 3; i++)
		sgx_trace_arg_int(&ev, "k", i);
	assert_int_equal(ev.nargs, SGX_TRACE_MAX_ARGS);
	assert_int_equal(ev.args[SGX_TRACE_MAX_ARGS - 1].i, SGX_TRACE_MAX_ARGS - 1);
}

static void test_escaping(void **state)
{
	static const char nasty[] = "q\"b\\s/n\nt\tc\x01\x1f"
				    "del\x7f"
				    "hi\xc3\xa9";
	struct sgx_trace *t = sgx_trace_new(4);
	struct sgx_trace_event ev;
	size_t len;
	char *json;

	(void)state;
	assert_non_null(t);
	sgx_trace_event_init(&ev, 'i', nasty, "c\"at", 1);
	sgx_trace_arg_str(&ev, nasty, nasty);
	sgx_trace_record(t, &ev);
	json = to_json(t, &len);
	assert_trace(json, len, 1);
	assert_non_null(
		strstr(json, "\"name\":\"q\\\"b\\\\s/n\\nt\\tc\\u0001\\u001fdel\\u007fhi??\""));
	assert_non_null(strstr(json, "\"cat\":\"c\\\"at\""));
	free(json);
	sgx_trace_free(t);
}

static void test_process_name(void **state)
{
	struct sgx_trace *t = sgx_trace_new(4);
	struct sgx_trace_event ev;
	size_t len;
	char *json;

	(void)state;
	assert_non_null(t);
	sgx_trace_set_process_name(t, "demo \"x\"");
	sgx_trace_event_init(&ev, 'i', "x", "y", 5);
	sgx_trace_record(t, &ev);
	json = to_json(t, &len);
	/* A metadata event first, then the recorded one. */
	assert_trace(json, len, 1);
	assert_non_null(strstr(json, "[\n{\"name\":\"process_name\",\"cat\":\"__metadata\","
				     "\"ph\":\"M\","));
	assert_non_null(strstr(json, "\"args\":{\"name\":\"demo \\\"x\\\"\"}}"));
	free(json);
	sgx_trace_free(t);
}

/* Without a name set, the process is named after the program (here, this test). */
static void test_default_process_name(void **state)
{
	struct sgx_trace *t = sgx_trace_new(4);
	char want[128];
	char *json;

	(void)state;
	assert_non_null(t);
	json = to_json(t, NULL);
	snprintf(want, sizeof(want),
		 "\"ph\":\"M\",\"ts\":0.000,\"pid\":%d,\"tid\":0,"
		 "\"args\":{\"name\":\"%s\"}}",
		 (int)getpid(), program_invocation_short_name);
	if (!strstr(json, want))
		fail_msg("no %s in\n%s", want, json);
	free(json);
	sgx_trace_free(t);
}

struct named {
	struct sgx_trace *t;
	pthread_barrier_t recorded, written;
};

static void *named_recorder(void *arg)
{
	struct named *n = arg;
	struct sgx_trace_event ev;

	pthread_setname_np(pthread_self(), "ksgxd");
	sgx_trace_event_init(&ev, 'X', "EWB", "reclaim", sgx_trace_now());
	sgx_trace_record_span(n->t, &ev);
	pthread_barrier_wait(&n->recorded);
	/* Alive while the trace is written: its name is read then. */
	pthread_barrier_wait(&n->written);
	return NULL;
}

/*
 * Threads that recorded and still run get their names as thread_name
 * metadata (ksgxd's track is called ksgxd); counter events ('C') keep their
 * arguments as numbers, one track per argument in Perfetto.
 */
static void test_thread_names_and_counters(void **state)
{
	struct sgx_trace *t = sgx_trace_new(16);
	struct named n = {.t = t};
	struct sgx_trace_event ev;
	pthread_t th;
	char *json;
	size_t len;

	(void)state;
	assert_non_null(t);
	pthread_barrier_init(&n.recorded, NULL, 2);
	pthread_barrier_init(&n.written, NULL, 2);
	assert_int_equal(pthread_create(&th, NULL, named_recorder, &n), 0);
	pthread_barrier_wait(&n.recorded);
	sgx_trace_event_init(&ev, 'C', "EPC pages", "epc", 7000);
	sgx_trace_arg_int(&ev, "free", 12);
	sgx_trace_arg_int(&ev, "in use", 52);
	sgx_trace_record(t, &ev);
	json = to_json(t, &len);
	pthread_barrier_wait(&n.written);
	pthread_join(th, NULL);

	assert_trace(json, len, 2);
	/* Both threads that recorded: this one and ksgxd. */
	assert_int_equal(trace_json_count(json, "thread_name"), 2);
	assert_non_null(strstr(json, "\"args\":{\"name\":\"ksgxd\"}}"));
	assert_non_null(strstr(json, "{\"name\":\"EPC pages\",\"cat\":\"epc\",\"ph\":\"C\","
				     "\"ts\":7.000,"));
	assert_non_null(strstr(json, "\"args\":{\"free\":12,\"in use\":52}}"));
	free(json);
	pthread_barrier_destroy(&n.recorded);
	pthread_barrier_destroy(&n.written);
	sgx_trace_free(t);
}

static void test_truncation(void **state)
{
	struct sgx_trace *t = sgx_trace_new(4);
	struct sgx_trace_event ev;
	size_t len;
	char *json;

	(void)state;
	assert_non_null(t);
	assert_int_equal(sgx_trace_capacity(t), 4);
	for (int i = 0; i < 10; i++) {
		sgx_trace_event_init(&ev, 'X', "EWB", "encls", 1000 * (uint64_t)i);
		ev.dur_ns = 100;
		sgx_trace_record(t, &ev);
	}
	assert_int_equal(sgx_trace_count(t), 4);
	assert_int_equal(sgx_trace_dropped(t), 6);
	json = to_json(t, &len);
	/* The 4 kept, then the marker at the end of the last one kept. */
	assert_trace(json, len, 5);
	assert_int_equal(trace_json_count(json, "EWB"), 4);
	assert_non_null(strstr(json, "{\"name\":\"trace truncated\",\"cat\":\"softsgx\","
				     "\"ph\":\"i\",\"ts\":3.100,"));
	assert_non_null(strstr(json, "\"args\":{\"max_events\":4,\"dropped_events\":6}"));
	free(json);
	sgx_trace_free(t);
}

static void test_empty(void **state)
{
	struct sgx_trace *t = sgx_trace_new(0);
	size_t len;
	char *json;

	(void)state;
	assert_non_null(t);
	assert_int_equal(sgx_trace_capacity(t), SGX_TRACE_DEFAULT_EVENTS);
	json = to_json(t, &len);
	assert_trace(json, len, 0);
	free(json);
	sgx_trace_free(t);
}

#define THREADS	   4
#define PER_THREAD 2000
#define CAP	   5000

static void *recorder(void *arg)
{
	struct sgx_trace *t = arg;
	struct sgx_trace_event ev;

	for (int i = 0; i < PER_THREAD; i++) {
		sgx_trace_event_init(&ev, 'X', "EENTER", "enclu", sgx_trace_now());
		sgx_trace_arg_int(&ev, "i", i);
		sgx_trace_record_span(t, &ev);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct sgx_trace *t = sgx_trace_new(CAP);
	pthread_t th[THREADS];
	size_t len, seen;
	char *json;

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, recorder, t), 0);
	/* The writer may run while threads record: whatever it sees is valid. */
	json = to_json(t, &len);
	assert_true(json_valid(json, len));
	seen = trace_json_count(json, "EENTER");
	assert_true(seen <= CAP);
	free(json);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(sgx_trace_count(t), CAP);
	assert_int_equal(sgx_trace_dropped(t), THREADS * PER_THREAD - CAP);
	json = to_json(t, &len);
	assert_trace(json, len, CAP + 1);
	assert_int_equal(trace_json_count(json, "EENTER"), CAP);
	free(json);
	sgx_trace_free(t);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_write_file(void **state)
{
	char dir[] = "/tmp/softsgx-trace-XXXXXX", path[64], bad[96], buf[65536];
	struct sgx_trace *t = sgx_trace_new(8);
	struct sgx_trace_event ev;
	FILE *f;
	size_t n;

	(void)state;
	assert_non_null(t);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.json", dir);
	sgx_trace_event_init(&ev, 'i', "x", "y", 5);
	sgx_trace_record(t, &ev);
	assert_int_equal(sgx_trace_write_file(t, path), 0);
	/* Written again over the old one; no temporary file is left behind. */
	assert_int_equal(sgx_trace_write_file(t, path), 0);
	assert_int_equal(count_entries(dir), 1);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_trace(buf, n, 1);

	snprintf(bad, sizeof(bad), "%s/missing/t.json", dir);
	assert_int_equal(sgx_trace_write_file(t, bad), -ENOENT);
	assert_int_equal(count_entries(dir), 1);
	unlink(path);
	rmdir(dir);
	sgx_trace_free(t);
}

static void test_ret_names(void **state)
{
	(void)state;
	assert_string_equal(sgx_trace_ret_name(SGX_SUCCESS), "SUCCESS");
	assert_string_equal(sgx_trace_ret_name(SGX_NOT_TRACKED), "NOT_TRACKED");
	assert_string_equal(sgx_trace_ret_name(SGX_INVALID_KEYNAME), "INVALID_KEYNAME");
	assert_string_equal(sgx_trace_ret_name(ENCLS_FAULT(X86_TRAP_GP)), "#GP");
	assert_string_equal(sgx_trace_ret_name(ENCLS_FAULT(X86_TRAP_PF)), "#PF");
	assert_string_equal(sgx_trace_ret_name(99), "unknown");
}

/* ENCLS leaves are recorded with their operands and result, only while attached. */
static void test_encls_recorded(void **state)
{
	struct sgx_hw *hw = fx_hw_new(1, 8);
	struct sgx_trace *t = sgx_trace_new(64);
	struct sgx_hw_section sec;
	char want[128];
	size_t len;
	char *json;

	(void)state;
	assert_non_null(t);
	assert_true(hw_epc_section(hw, 0, &sec));
	assert_null(hw_trace(hw));
	assert_int_equal(encls_epa(hw, fx_epc_page(hw, 0)), SGX_SUCCESS);
	assert_int_equal(sgx_trace_count(t), 0);

	hw_set_trace(hw, t);
	assert_ptr_equal(hw_trace(hw), t);
	assert_int_equal(encls_epa(hw, fx_epc_page(hw, 1)), SGX_SUCCESS);
	fx_ecreate_default(hw, fx_epc_page(hw, 2));
	/* EBLOCK of a VA page is refused, a misaligned EREMOVE faults, the SECS goes. */
	assert_int_equal(encls_eblock(hw, fx_epc_page(hw, 1)), SGX_NOTBLOCKABLE);
	assert_int_equal(encls_eremove(hw, (uint8_t *)fx_epc_page(hw, 2) + 8),
			 ENCLS_FAULT(X86_TRAP_GP));
	assert_int_equal(encls_eremove(hw, fx_epc_page(hw, 2)), SGX_SUCCESS);
	hw_set_trace(hw, NULL);
	assert_int_equal(encls_eremove(hw, fx_epc_page(hw, 1)), SGX_SUCCESS);
	assert_int_equal(sgx_trace_count(t), 5);

	json = to_json(t, &len);
	assert_trace(json, len, 5);
	assert_int_equal(trace_json_count(json, "EPA"), 1);
	assert_int_equal(trace_json_count(json, "ECREATE"), 1);
	assert_int_equal(trace_json_count(json, "EREMOVE"), 2);
	snprintf(want, sizeof(want), "\"args\":{\"epc\":\"0x%llx\",\"ret\":\"SUCCESS\"}",
		 (unsigned long long)sec.phys + SGX_PAGE_SIZE);
	assert_non_null(strstr(json, want));
	snprintf(want, sizeof(want), "\"name\":\"ECREATE\",\"cat\":\"encls\",\"ph\":\"X\"");
	assert_non_null(strstr(json, want));
	snprintf(want, sizeof(want),
		 "\"args\":{\"epc\":\"0x%llx\",\"base\":\"0x%llx\","
		 "\"size\":\"0x%llx\",\"ret\":\"SUCCESS\"}",
		 (unsigned long long)sec.phys + 2 * SGX_PAGE_SIZE, FX_BASE,
		 (unsigned long long)FX_SIZE);
	assert_non_null(strstr(json, want));
	assert_non_null(strstr(json, "\"name\":\"EBLOCK\",\"cat\":\"encls,reclaim\""));
	assert_non_null(strstr(json, "\"ret\":\"NOTBLOCKABLE\""));
	assert_non_null(strstr(json, "\"ret\":\"#GP\""));
	free(json);
	lg_hw_free(hw);
	sgx_trace_free(t);
}

/* A run of EEXTENDs is traced as its leaves, one event each. */
static void test_eextend_run_recorded(void **state)
{
	struct sgx_hw *hw = fx_hw_new(1, 8);
	struct sgx_trace *t = sgx_trace_new(64);
	void *secs = fx_epc_page(hw, 0), *page = fx_epc_page(hw, 1);
	void *src = fx_page_buf(0x11);
	const char *pf;
	size_t len;
	char *json;

	(void)state;
	assert_non_null(t);
	fx_ecreate_default(hw, secs);
	assert_int_equal(fx_eadd(hw, secs, page, FX_BASE, src,
				 SGX_SECINFO_REG | SGX_SECINFO_R),
			 SGX_SUCCESS);
	hw_set_trace(hw, t);
	assert_int_equal(encls_eextend_chunks(hw, secs, page, 16), SGX_SUCCESS);
	/* A refused run is one refused leaf, as the driver stops at the first. */
	assert_int_equal(encls_eextend_chunks(hw, page, page, 4), ENCLS_FAULT(X86_TRAP_PF));
	hw_set_trace(hw, NULL);
	assert_int_equal(sgx_trace_count(t), 17);
	json = to_json(t, &len);
	assert_trace(json, len, 17);
	assert_int_equal(trace_json_count(json, "EEXTEND"), 17);
	pf = strstr(json, "\"ret\":\"#PF\"");
	assert_non_null(pf);
	assert_null(strstr(pf + 1, "\"ret\":\"#PF\""));
	free(json);
	free(src);
	lg_hw_free(hw);
	sgx_trace_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LG_TEST(test_json_checker),
		LG_TEST(test_events_and_args),
		LG_TEST(test_more_args_than_slots),
		LG_TEST(test_escaping),
		LG_TEST(test_process_name),
		LG_TEST(test_default_process_name),
		LG_TEST(test_thread_names_and_counters),
		LG_TEST(test_truncation),
		LG_TEST(test_empty),
		LG_TEST(test_threads),
		LG_TEST(test_write_file),
		LG_TEST(test_ret_names),
		LG_TEST(test_encls_recorded),
		LG_TEST(test_eextend_run_recorded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
