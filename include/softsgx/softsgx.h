/* SPDX-License-Identifier: MIT */
/*
 * libsoftsgx embedding API: a whole SGX platform (CPU model + Linux SGX
 * kernel model) inside the calling process, driven through calls that mirror
 * the device files. Every call returns 0 (or a count) or a negative errno,
 * the value Linux would give the corresponding system call.
 *
 * Building enclaves from an ELF and signing them: softsgx/loader.h and
 * softsgx/sign.h (since 0.2).
 */
#ifndef SOFTSGX_SOFTSGX_H
#define SOFTSGX_SOFTSGX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "softsgx/compiler.h"

/*
 * The version of this header. The Makefile reads these three numbers for the
 * shared library's file name (libsoftsgx.so.MAJOR.MINOR.PATCH, soname
 * libsoftsgx.so.MAJOR) and for softsgx.pc, so they are the one place the
 * version is written.
 */
#define SOFTSGX_VERSION_MAJOR 0
#define SOFTSGX_VERSION_MINOR 2
#define SOFTSGX_VERSION_PATCH 0
#define SOFTSGX_VERSION_STRINGIFY_(x) #x
#define SOFTSGX_VERSION_STRINGIFY(x) SOFTSGX_VERSION_STRINGIFY_(x)
#define SOFTSGX_VERSION                                                        \
	SOFTSGX_VERSION_STRINGIFY(SOFTSGX_VERSION_MAJOR)                       \
	"." SOFTSGX_VERSION_STRINGIFY(SOFTSGX_VERSION_MINOR) "."             \
	SOFTSGX_VERSION_STRINGIFY(SOFTSGX_VERSION_PATCH)

SOFTSGX_BEGIN_DECLS

/*
 * The version of the library actually loaded, "MAJOR.MINOR.PATCH": compare
 * it with SOFTSGX_VERSION to find a program running on another library than
 * the one it was compiled against.
 */
const char *softsgx_version(void);

#define SOFTSGX_MAX_SECTIONS 8

struct softsgx_config {
	unsigned int nr_sections;
	uint64_t section_size[SOFTSGX_MAX_SECTIONS]; /* bytes, multiple of 4096 */
	bool sgx2;
	bool flc;
	bool no_ksgxd; /* no background reclaimer (tests that drive reclaim) */
};

/* Two EPC sections of 64 MiB, SGX1 and SGX2, flexible launch control. */
void softsgx_default_config(struct softsgx_config *cfg);

struct softsgx_platform;

/* Boots the platform (EPC sanitization included). NULL with errno set on failure. */
struct softsgx_platform *softsgx_platform_new(const struct softsgx_config *cfg);
/* Closes every descriptor and unmaps every SGX mapping, then powers off. */
void softsgx_platform_free(struct softsgx_platform *p);

/*
 * open(2) of "/dev/sgx_enclave", "/dev/sgx_provision" or "/dev/sgx_vepc"
 * (the last only on a host, not in a model guest). Returns a
 * descriptor (a small non-negative number in the platform's own table) or
 * -ENOENT for other paths, and for "/dev/sgx_enclave" on a platform without
 * flexible launch control, where Linux does not register the enclave driver
 * (it still registers /dev/sgx_provision and /dev/sgx_vepc).
 */
int softsgx_open(struct softsgx_platform *p, const char *path, int flags);
int softsgx_close(struct softsgx_platform *p, int fd);
int softsgx_dup(struct softsgx_platform *p, int fd);
long softsgx_ioctl(struct softsgx_platform *p, int fd, unsigned long cmd, void *arg);

/*
 * mmap(2) of an SGX descriptor; *@addr in: hint or fixed address, out: start.
 * @offset: file offset, page aligned (the first vEPC page of the mapping).
 */
int softsgx_mmap(struct softsgx_platform *p, void **addr, size_t len, int prot, int flags, int fd,
		 uint64_t offset);
int softsgx_munmap(struct softsgx_platform *p, void *addr, size_t len);
int softsgx_mprotect(struct softsgx_platform *p, void *addr, size_t len, int prot);

enum softsgx_fault {
	SOFTSGX_FAULT_NOT_OURS = 0, /* not an SGX mapping: the program's own fault */
	SOFTSGX_FAULT_RETRY = 1,    /* handled: retry the access */
	SOFTSGX_FAULT_SIGBUS = 2,
	SOFTSGX_FAULT_SIGSEGV = 3,
};

/* The page-fault path: @access is PROT_READ, PROT_WRITE or PROT_EXEC. */
enum softsgx_fault softsgx_handle_fault(struct softsgx_platform *p, void *addr, int access);

struct softsgx_stats {
	/* Always total == free + in use + leaked + zombie. */
	uint64_t total_pages, free_pages, in_use_pages, leaked_pages, zombie_pages;
	uint64_t allocs, frees, evictions, reloads, faults, sigbus;
	uint64_t reclaim_batches, etrack_retries, ipis, eremove_failures, lost_pages;
	uint64_t vepc_faults, vepc_remove_all, vepc_eremove_warnings;
	uint64_t sanitize_valid_pages; /* pages boot found in use (e.g. after a guest reset) */
};
void softsgx_get_stats(struct softsgx_platform *p, struct softsgx_stats *st);

/*
 * fork() of a process with a platform. The child gets its own copy of the
 * platform, taken at the fork; afterwards parent and child go on separately
 * (on Linux they would share the enclave). Call the three around fork(),
 * e.g. from pthread_atfork() handlers, with no other thread inside a
 * softsgx_* call meanwhile: prepare before, parent in the parent after,
 * child in the child after. Without them the child shares the EPC and
 * backing memory with the parent, and its use of the platform corrupts the
 * parent's. softsgx_fork_child() returns 0 or -errno (then the child must
 * not use the platform). The shim does all this by itself.
 */
void softsgx_fork_prepare(struct softsgx_platform *p);
void softsgx_fork_parent(struct softsgx_platform *p);
int softsgx_fork_child(struct softsgx_platform *p);

/* Flags of struct softsgx_enclave_usage. */
#define SOFTSGX_ENCL_CREATED	 0x1 /* ECREATE done: base and size are valid */
#define SOFTSGX_ENCL_INITIALIZED 0x2 /* EINIT done */
#define SOFTSGX_ENCL_DEBUG	 0x4

/* One enclave's EPC use. Every field is 64 bits wide (the stats file stores rows as is). */
struct softsgx_enclave_usage {
	uint64_t id;		/* per platform, in creation order; never reused */
	uint64_t flags;		/* SOFTSGX_ENCL_* */
	uint64_t base, size;	/* ELRANGE; 0 before ECREATE */
	uint64_t epc_pages;	/* resident EPC pages: SECS, TCS/REG and VA pages */
	uint64_t va_pages;	/* Version Array pages (counted in epc_pages too) */
	uint64_t evicted_pages; /* pages (SECS included) whose contents are in backing storage */
	uint64_t lost_pages;	/* pages whose eviction failed: a touch gets SIGBUS */
	uint64_t added_pages;	/* TCS/REG pages the enclave has, resident or not */
};

/* One open /dev/sgx_vepc instance. */
struct softsgx_vepc_usage {
	uint64_t id;	       /* shares the numbering of enclaves */
	uint64_t epc_pages;    /* EPC pages it holds (allocated on first touch) */
	uint64_t mapped_bytes; /* bytes of the process mapped onto it */
};

/*
 * EPC use per enclave and per vEPC instance, each in creation order: fills
 * up to @max_encls rows of @encls and @max_vepcs of @vepcs and stores the
 * totals in *@nr_encls and *@nr_vepcs (larger than the maximum when rows
 * did not fit). Takes each enclave's lock briefly; the rows of one enclave
 * are consistent, the set of rows is not one atomic snapshot of the EPC.
 */
void softsgx_get_usage(struct softsgx_platform *p, struct softsgx_enclave_usage *encls,
		       unsigned int max_encls, unsigned int *nr_encls,
		       struct softsgx_vepc_usage *vepcs, unsigned int max_vepcs,
		       unsigned int *nr_vepcs);

/* Run one reclaimer batch now; returns the pages written out. */
unsigned int softsgx_reclaim(struct softsgx_platform *p);

/*
 * A model guest on @host: a second kernel model, on the same CPU model, whose
 * EPC sections are host vEPC mappings (@base[i], @size[i]: softsgx_mmap of a
 * /dev/sgx_vepc descriptor of @host). The host first backs every page with
 * EPC, as a VMM preallocates guest EPC (reclaiming host enclave pages if
 * needed); then the guest boots like a machine: sanitization EREMOVEs every
 * page of its EPC. NULL with errno set on failure: ENOMEM when the host has
 * no EPC for a page, EINVAL when a range is not a vEPC mapping.
 */
struct softsgx_platform *softsgx_guest_boot(struct softsgx_platform *host, unsigned int nr,
					    void *const base[], const size_t size[]);
/*
 * Reset a guest: its kernel vanishes without running ENCLS, so the EPC state
 * it built stays in the vEPC pages until the VMM runs SGX_IOC_VEPC_REMOVE_ALL.
 * Frees @guest. (softsgx_platform_free() is a clean guest shutdown.)
 */
void softsgx_guest_reset(struct softsgx_platform *guest);

/*
 * Observability: true when the EPC page at @addr (an EPC direct-map address,
 * or an address in one of @p's vEPC mappings) holds a valid EPCM entry.
 * Allocates nothing.
 */
bool softsgx_epc_page_valid(struct softsgx_platform *p, void *addr);

/*
 * Tracing: record a timeline of @p in the Chrome/Perfetto trace-event
 * format (ENCLS and ENCLU leaves, page faults, reclaim, SGX_IOC_VEPC_REMOVE_ALL).
 * A guest's events are its host's (they share the CPU model), so only a host
 * can be traced: -EINVAL on a guest. At most @max_events events are kept (0:
 * about a million); later ones are counted and dropped. Starting again after
 * softsgx_trace_stop() appends to the same timeline. 0 or -ENOMEM.
 */
int softsgx_trace_start(struct softsgx_platform *p, size_t max_events);
/* Stop recording; the events so far stay until the platform is freed. */
void softsgx_trace_stop(struct softsgx_platform *p);
/*
 * Write the events recorded so far to @path as JSON, atomically (a temporary
 * file in the same directory, then rename). 0, -ENOENT when @p was never
 * traced, or the -errno of creating or writing the file.
 */
int softsgx_trace_save(struct softsgx_platform *p, const char *path);

SOFTSGX_END_DECLS

#endif /* SOFTSGX_SOFTSGX_H */
