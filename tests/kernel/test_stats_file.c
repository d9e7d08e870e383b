// SPDX-License-Identifier: MIT
/*
 * The stats file (obs/stats_file.h): what the writer publishes is what a
 * reader gets, a reader never returns a snapshot torn by a concurrent or
 * unfinished write, files of processes that are gone (or whose pid was
 * reused) are deleted by the scan, and files that are not stats files of
 * this version are refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "obs/stats_file.h"

struct fixture {
	char dir[64];
	struct sgx_stats_header hdr;
	struct sgx_stats_snapshot snap;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/softsgx-test-stats-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void sample_snapshot(struct sgx_stats_snapshot *s, uint64_t v)
{
	memset(s, 0, sizeof(*s));
	s->stats.total_pages = 256;
	s->stats.free_pages = 100 + v;
	s->stats.in_use_pages = 156 - v;
	s->stats.evictions = 1000 * v;
	s->nr_encls = 2;
	s->encls[0] = (struct softsgx_enclave_usage){.id = 1,
						     .flags = SOFTSGX_ENCL_CREATED,
						     .base = 0x100000,
						     .size = 0x100000,
						     .epc_pages = 40 + v,
						     .va_pages = 1};
	s->encls[1] = (struct softsgx_enclave_usage){.id = 3, .epc_pages = v};
	s->nr_vepcs = 1;
	s->vepcs[0] = (struct softsgx_vepc_usage){.id = 2, .epc_pages = 7, .mapped_bytes = 65536};
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct sgx_stats_writer w;
	struct sgx_stats_snapshot want;
	uint64_t start, first_update;

	assert_int_equal(sgx_stats_writer_open(&w, f->dir, getpid(), "roundtrip"), 0);
	assert_non_null(w.file);
	/* Before the first publish: a valid, empty snapshot. */
	assert_int_equal(sgx_stats_read(w.path, &f->hdr, &f->snap), 0);
	assert_int_equal(f->snap.updates, 0);
	sample_snapshot(&want, 5);
	sgx_stats_writer_publish(&w, &want);
	assert_int_equal(sgx_stats_read(w.path, &f->hdr, &f->snap), 0);
	assert_int_equal(f->hdr.magic, SGX_STATS_MAGIC);
	assert_int_equal(f->hdr.version, SGX_STATS_VERSION);
	assert_int_equal(f->hdr.pid, getpid());
	assert_string_equal(f->hdr.program, "roundtrip");
	assert_int_equal(sgx_stats_proc_start(getpid(), &start), 0);
	assert_int_equal(f->hdr.proc_start, start);
	assert_int_equal(f->hdr.seq % 2, 0);
	assert_int_equal(f->snap.updates, 1);
	assert_true(f->snap.updated_ns >= f->hdr.start_monotonic_ns);
	first_update = f->snap.updated_ns;
	/* Everything but the two fields the writer sets itself. */
	want.updated_ns = f->snap.updated_ns;
	want.updates = f->snap.updates;
	assert_memory_equal(&f->snap, &want, sizeof(want));
	sample_snapshot(&want, 6);
	sgx_stats_writer_publish(&w, &want);
	assert_int_equal(sgx_stats_read(w.path, &f->hdr, &f->snap), 0);
	assert_int_equal(f->snap.updates, 2);
	assert_true(f->snap.updated_ns >= first_update);
	assert_int_equal(f->snap.encls[0].epc_pages, 46);
	assert_int_equal(f->snap.stats.evictions, 6000);
	assert_true(sgx_stats_writer_alive(&f->hdr));
	/* Closing with remove deletes the file. */
	sgx_stats_writer_close(&w, true);
	assert_null(w.file);
	assert_int_equal(access(w.path, F_OK), -1);
	assert_int_equal(sgx_stats_read(w.path, &f->hdr, &f->snap), -ENOENT);
}

/* A writer stopped between begin and end: readers give up, never return its half-write. */
static void test_unfinished_write_not_read(void **state)
{
	struct fixture *f = *state;
	struct sgx_stats_snapshot s;
	struct sgx_stats_writer w;

	assert_int_equal(sgx_stats_writer_open(&w, f->dir, getpid(), "torn"), 0);
	sample_snapshot(&s, 1);
	sgx_stats_writer_publish(&w, &s);
	sgx_stats_write_begin(&w);
	w.file->snap.stats.free_pages = 999; /* half of an update */
	assert_int_equal(sgx_stats_read(w.path, &f->hdr, &f->snap), -EAGAIN);
	w.file->snap.stats.in_use_pages = 256 - 999;
	sgx_stats_write_end(&w);
	assert_int_equal(sgx_stats_read(w.path, &f->hdr, &f->snap), 0);
	assert_int_equal(f->snap.stats.free_pages, 999);
	sgx_stats_writer_close(&w, true);
}

struct hammer {
	struct sgx_stats_writer *w;
	_Atomic bool stop;
	uint64_t writes;
};

/* Every word of every snapshot holds the same value: a mix of two is a torn read. */
static void *hammer_writer(void *arg)
{
	struct hammer *h = arg;
	struct sgx_stats_snapshot *s = malloc(sizeof(*s));

	assert_non_null(s);
	while (!atomic_load(&h->stop)) {
		uint64_t *words = (uint64_t *)s;

		h->writes++;
		for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
			words[i] = h->writes;
		sgx_stats_writer_publish(h->w, s);
	}
	free(s);
	return NULL;
}

static void test_concurrent_writes_never_torn(void **state)
{
	struct fixture *f = *state;
	struct hammer h = {0};
	struct sgx_stats_writer w;
	unsigned int ok = 0, busy = 0;
	uint64_t last = 0;
	pthread_t t;

	assert_int_equal(sgx_stats_writer_open(&w, f->dir, getpid(), "hammer"), 0);
	h.w = &w;
	assert_int_equal(pthread_create(&t, NULL, hammer_writer, &h), 0);
	for (int i = 0; i < 3000; i++) {
		const uint64_t *words = (const uint64_t *)&f->snap;
		int ret = sgx_stats_read(w.path, &f->hdr, &f->snap);

		if (ret == -EAGAIN) {
			busy++;
			continue;
		}
		assert_int_equal(ret, 0);
		ok++;
		/* Skip updated_ns and updates (set by the writer), then all equal. */
		for (size_t k = 3; k < sizeof(f->snap) / sizeof(uint64_t); k++)
			if (words[k] != words[2])
				fail_msg("torn snapshot: word %zu is %llu, word 2 is %llu", k,
					 (unsigned long long)words[k],
					 (unsigned long long)words[2]);
		assert_true(f->snap.updates >= last);
		last = f->snap.updates;
	}
	atomic_store(&h.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	print_message("%u consistent reads, %u gave up, %llu writes\n", ok, busy,
		      (unsigned long long)h.writes);
	assert_true(ok > 0);
	sgx_stats_writer_close(&w, true);
}

struct seen {
	int calls;
	uint64_t pid;
	char program[SGX_STATS_PROGRAM_LEN];
	uint64_t free_pages;
};

static int record(const char *path, const struct sgx_stats_header *hdr,
		  const struct sgx_stats_snapshot *snap, void *data)
{
	struct seen *s = data;

	(void)path;
	s->calls++;
	s->pid = hdr->pid;
	strcpy(s->program, hdr->program);
	s->free_pages = snap->stats.free_pages;
	return 0;
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return pid;
}

static void touch_file(const char *dir, const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
}

static bool exists(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* The scan: live platforms reported, dead ones deleted, other names left alone. */
static void test_scan_cleans_dead_platforms(void **state)
{
	struct fixture *f = *state;
	struct sgx_stats_writer live, dead, reused;
	struct sgx_stats_snapshot s;
	struct seen seen = {0};
	char name[64];
	pid_t gone = dead_pid();

	assert_int_equal(sgx_stats_writer_open(&live, f->dir, getpid(), "live"), 0);
	sample_snapshot(&s, 9);
	sgx_stats_writer_publish(&live, &s);
	/* A platform that died without removing its file (killed, say). */
	assert_int_equal(sgx_stats_writer_open(&dead, f->dir, gone, "dead"), 0);
	sgx_stats_writer_publish(&dead, &s);
	sgx_stats_writer_close(&dead, false);
	/* Our pid, another process's start time: the pid was reused since. */
	assert_int_equal(sgx_stats_writer_open(&reused, f->dir, getppid(), "reused"), 0);
	reused.file->hdr.proc_start += 12345;
	sgx_stats_writer_close(&reused, false);
	/* Names that are not stats files. */
	touch_file(f->dir, "notes.txt");
	touch_file(f->dir, "12x.stats");
	touch_file(f->dir, ".77.stats.tmp");

	assert_int_equal(sgx_stats_scan(f->dir, 0, record, &seen), 0);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.pid, getpid());
	assert_string_equal(seen.program, "live");
	assert_int_equal(seen.free_pages, 109);
	snprintf(name, sizeof(name), "%d.stats", (int)gone);
	assert_false(exists(f->dir, name));
	snprintf(name, sizeof(name), "%d.stats", (int)getppid());
	assert_false(exists(f->dir, name));
	snprintf(name, sizeof(name), "%d.stats", (int)getpid());
	assert_true(exists(f->dir, name));
	assert_true(exists(f->dir, "notes.txt"));
	assert_true(exists(f->dir, "12x.stats"));
	assert_true(exists(f->dir, ".77.stats.tmp"));

	/* Only one pid: ours, or one with no file. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(sgx_stats_scan(f->dir, getpid(), record, &seen), 0);
	assert_int_equal(seen.calls, 1);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(sgx_stats_scan(f->dir, getpid() + 100000, record, &seen), 0);
	assert_int_equal(seen.calls, 0);
	sgx_stats_writer_close(&live, true);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(sgx_stats_scan(f->dir, 0, record, &seen), 0);
	assert_int_equal(seen.calls, 0);
}

/* Not a stats file of this version: refused, and a live pid's file is left in place. */
static void test_bad_files_refused(void **state)
{
	struct fixture *f = *state;
	struct sgx_stats_writer w;
	struct seen seen = {0};
	char name[64];

	snprintf(name, sizeof(name), "%d.stats", (int)getpid());
	touch_file(f->dir, name);
	assert_int_equal(sgx_stats_scan(f->dir, 0, record, &seen), 0);
	assert_int_equal(seen.calls, 0);
	assert_true(exists(f->dir, name));

	assert_int_equal(sgx_stats_writer_open(&w, f->dir, getpid(), "v"), 0);
	assert_int_equal(sgx_stats_read(w.path, &f->hdr, &f->snap), 0);
	w.file->hdr.version = SGX_STATS_VERSION + 1;
	assert_int_equal(sgx_stats_read(w.path, &f->hdr, &f->snap), -EPROTO);
	w.file->hdr.version = SGX_STATS_VERSION;
	w.file->hdr.magic ^= 1;
	assert_int_equal(sgx_stats_read(w.path, &f->hdr, &f->snap), -EPROTO);
	assert_int_equal(sgx_stats_scan(f->dir, 0, record, &seen), 0);
	assert_int_equal(seen.calls, 0);
	sgx_stats_writer_close(&w, true);
	/* A missing directory is no platform, not an error. */
	assert_int_equal(sgx_stats_scan("/nonexistent/softsgx", 0, record, &seen), 0);
}

/* The directory: XDG_RUNTIME_DIR when it exists, else /tmp/softsgx-UID; only ours is used. */
static void test_directory(void **state)
{
	struct fixture *f = *state;
	struct sgx_stats_writer w;
	char buf[128], want[96], sub[96], link[96];
	const char *old = getenv("XDG_RUNTIME_DIR");
	char *saved = old ? strdup(old) : NULL;

	setenv("XDG_RUNTIME_DIR", f->dir, 1);
	assert_int_equal(sgx_stats_dir(buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "%s/softsgx", f->dir);
	assert_string_equal(buf, want);
	snprintf(want, sizeof(want), "/tmp/softsgx-%u", (unsigned int)getuid());
	setenv("XDG_RUNTIME_DIR", "relative", 1);
	assert_int_equal(sgx_stats_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	/* Set, but no such directory. */
	setenv("XDG_RUNTIME_DIR", "/nonexistent/run/user/4242", 1);
	assert_int_equal(sgx_stats_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	unsetenv("XDG_RUNTIME_DIR");
	assert_int_equal(sgx_stats_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	assert_int_equal(sgx_stats_dir(buf, 8), -ENAMETOOLONG);
	if (saved)
		setenv("XDG_RUNTIME_DIR", saved, 1);
	free(saved);

	/* Created with mode 0700 when missing. */
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	assert_int_equal(sgx_stats_writer_open(&w, sub, getpid(), "x"), 0);
	sgx_stats_writer_close(&w, true);
	struct stat st;
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* One that others may write into, or a symlink, is refused. */
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(sgx_stats_writer_open(&w, sub, getpid(), "x"), -EPERM);
	assert_null(w.file);
	assert_int_equal(chmod(sub, 0700), 0);
	snprintf(link, sizeof(link), "%s/link", f->dir);
	assert_int_equal(symlink(sub, link), 0);
	assert_int_equal(sgx_stats_writer_open(&w, link, getpid(), "x"), -ENOTDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unfinished_write_not_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writes_never_torn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_cleans_dead_platforms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_files_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
