/* SPDX-License-Identifier: MIT */
/*
 * The stats file: how a running platform publishes its EPC use to other
 * processes (`softsgx top`), the model's counterpart of the counters Linux
 * shows in procfs and sysfs. One file per process,
 *
 *   $XDG_RUNTIME_DIR/softsgx/<pid>.stats    (else /tmp/softsgx-<uid>/<pid>.stats)
 *
 * mapped MAP_SHARED by its writer and by any reader. The file is a struct
 * sgx_stats_file: a header written once before the file appears under its
 * name (it is created under a temporary name and renamed), then a snapshot
 * the writer rewrites under a sequence counter: odd while a write is in
 * progress, so a reader retries until it copied the snapshot between two
 * equal even values. The snapshot is copied word by word with atomic
 * stores (release) and loads (acquire), plain moves on x86, so writer and
 * reader never race in the C11 sense.
 *
 * This header is the one definition of the format, for the writer (the
 * shim) and the readers (softsgx top, tests). Any change to the layout
 * bumps SGX_STATS_VERSION; readers refuse other versions and sizes.
 */
#ifndef SOFTSGX_STATS_FILE_H
#define SOFTSGX_STATS_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "softsgx/softsgx.h"

#define SGX_STATS_MAGIC	      0x5354415453584753ULL /* "SGXSTATS" in little endian */
#define SGX_STATS_VERSION     1
#define SGX_STATS_MAX_ENCLS   64 /* rows beyond these are counted, not listed */
#define SGX_STATS_MAX_VEPCS   16
#define SGX_STATS_PROGRAM_LEN 64

struct sgx_stats_header {
	uint64_t magic;
	uint32_t version;
	uint32_t file_size; /* sizeof(struct sgx_stats_file) */
	uint64_t pid;
	uint64_t proc_start; /* start of the process, in clock ticks since boot (/proc/PID/stat) */
	uint64_t start_realtime_ns;	     /* when the platform booted, CLOCK_REALTIME */
	uint64_t start_monotonic_ns;	     /* the same, CLOCK_MONOTONIC */
	char program[SGX_STATS_PROGRAM_LEN]; /* NUL-terminated */
	uint64_t seq;			     /* the sequence counter; accessed only atomically */
};

/* What the writer rewrites: all 64-bit words, copied one word at a time. */
struct sgx_stats_snapshot {
	uint64_t updated_ns; /* CLOCK_MONOTONIC at this update (system-wide) */
	uint64_t updates;    /* number of this update, from 1 */
	struct softsgx_stats stats;
	uint64_t nr_encls, nr_vepcs; /* totals: more than the tables hold when they overflow */
	struct softsgx_enclave_usage encls[SGX_STATS_MAX_ENCLS];
	struct softsgx_vepc_usage vepcs[SGX_STATS_MAX_VEPCS];
};

struct sgx_stats_file {
	struct sgx_stats_header hdr;
	struct sgx_stats_snapshot snap;
};

/*
 * The directory of stats files into @buf: $XDG_RUNTIME_DIR/softsgx when
 * XDG_RUNTIME_DIR is an absolute path to an existing directory, else
 * /tmp/softsgx-<uid>.
 * 0 or -ENAMETOOLONG.
 */
int sgx_stats_dir(char *buf, size_t len);

/* Start time of process @pid in clock ticks since boot; 0 or -errno. */
int sgx_stats_proc_start(pid_t pid, uint64_t *ticks);

struct sgx_stats_writer {
	struct sgx_stats_file *file; /* the shared mapping; NULL when closed */
	char path[4096];
};

/*
 * Create (mode 0700) @dir if missing, refusing one that is not a directory
 * of ours, and publish @dir/<pid>.stats with the header filled and an empty
 * first snapshot. Replaces a file of the same name (a process that called
 * exec). 0 or -errno.
 */
int sgx_stats_writer_open(struct sgx_stats_writer *w, const char *dir, pid_t pid,
			  const char *program);
/* Rewrite the snapshot (updated_ns and updates are set here). */
void sgx_stats_writer_publish(struct sgx_stats_writer *w, const struct sgx_stats_snapshot *snap);
/* The two halves of a publish, for tests that stop a writer half-way. */
void sgx_stats_write_begin(struct sgx_stats_writer *w);
void sgx_stats_write_end(struct sgx_stats_writer *w);
/* Unmap; with @remove also delete the file (a normal exit). */
void sgx_stats_writer_close(struct sgx_stats_writer *w, bool remove);

/*
 * Read @path into @hdr and @snap, a consistent snapshot. 0, or:
 *   -EPROTO  not a stats file of this version (bad magic, version or size)
 *   -EAGAIN  the writer stayed in the middle of a write for every attempt
 *   -errno   the file could not be opened, mapped or read
 */
int sgx_stats_read(const char *path, struct sgx_stats_header *hdr, struct sgx_stats_snapshot *snap);

/*
 * Whether the process that wrote @hdr still runs: its pid exists and, when
 * /proc tells, it started at hdr->proc_start (not a reused pid).
 */
bool sgx_stats_writer_alive(const struct sgx_stats_header *hdr);

/* Called by sgx_stats_scan() for each live platform. Non-zero stops the scan. */
typedef int (*sgx_stats_scan_fn)(const char *path, const struct sgx_stats_header *hdr,
				 const struct sgx_stats_snapshot *snap, void *data);

/*
 * Every <pid>.stats file of @dir (0 when @dir does not exist), in no
 * particular order; @only_pid > 0 limits it to that pid. Files of processes
 * that are gone are deleted and skipped; files that cannot be read are
 * skipped. Returns what @fn returned last, or -errno when @dir cannot be read.
 */
int sgx_stats_scan(const char *dir, pid_t only_pid, sgx_stats_scan_fn fn, void *data);

#endif /* SOFTSGX_STATS_FILE_H */
