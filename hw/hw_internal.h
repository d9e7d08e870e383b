/* SPDX-License-Identifier: MIT */
/*
 * State of the CPU model shared by the files of hw/: EPC sections, the EPCM,
 * EPCM page locks and the hidden part of a SECS. Not visible outside hw/.
 */
#ifndef SOFTSGX_HW_INTERNAL_H
#define SOFTSGX_HW_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hw/hw.h"
#include "hw/measure.h"
#include "hw/shm.h"

/*
 * EPCM entries are initialised in chunks of this many pages, on first use
 * (hw/epcm.c): the EPCM object is sparse shared memory, and a chunk costs
 * host memory only once a leaf touches one of its pages.
 */
#define EPCM_CHUNK_PAGES 512
#define NO_PFN UINT64_MAX

/* Permission and state bits kept in epcm_entry.flags (SECINFO encoding). */
#define EPCM_PERM_MASK (SGX_SECINFO_R | SGX_SECINFO_W | SGX_SECINFO_X)
#define EPCM_STATE_MASK (SGX_SECINFO_PENDING | SGX_SECINFO_MODIFIED | SGX_SECINFO_PR)

/*
 * One EPCM entry. Plain fields change only under the entry's exclusive lock
 * and are read under a shared or exclusive lock. The counters of a SECS entry
 * are atomics because leaves on its children update them holding only a
 * shared lock on the SECS.
 */
struct epcm_entry {
	_Atomic uint32_t lock; /* EPCM_LOCK_EXCL or a count of shared holders */
	/*
	 * The SDM's second level of page locking: an SGX2 leaf (EMODPR, EMODT,
	 * EACCEPT, EACCEPTCOPY, EMODPE) holds @lock shared against the SGX1
	 * leaves and this flag against the other SGX2 leaves, so that each
	 * conflict gets the answer of the SDM's "additional concurrency
	 * restrictions" tables. Fields change under lock shared + sgx2_busy
	 * only in the SGX2 leaves; no other shared holder writes them.
	 */
	_Atomic uint8_t sgx2_busy;
	uint8_t valid;
	uint8_t type;	 /* enum sgx_page_type */
	uint8_t blocked; /* EBLOCK ran; cleared by ELDU */
	uint8_t flags;	 /* R/W/X, PENDING, MODIFIED, PR */
	uint64_t linaddr;
	uint64_t secs_pfn; /* owning SECS, NO_PFN for SECS and VA pages */
	uint64_t blk_epoch; /* the enclave's epoch when EBLOCK ran */
	/*
	 * SGX2: EMODPR or EMODT ran at enclave epoch mod_epoch, and EACCEPT
	 * must wait (SGX_NOT_TRACKED) for a tracking cycle begun after it.
	 * Cleared by EACCEPT and by ELDU/ELDB: a page that went through EWB
	 * had its EBLOCK, so a tracking cycle, after the change.
	 */
	uint8_t mod_untracked;
	uint64_t mod_epoch;

	/* SECS pages only. */
	_Atomic uint64_t child_cnt;   /* resident pages that name this SECS */
	_Atomic uint32_t threads;     /* logical processors inside the enclave */
	_Atomic uint32_t trk_pending; /* threads counted by the last ETRACK, still inside */
	_Atomic uint64_t epoch;	      /* number of ETRACKs done */

	/* TCS pages only: 0, or the owner token of the entered thread's model (sgx_hw_owner()). */
	_Atomic uint32_t tcs_busy;
	uint64_t entry_epoch; /* enclave epoch when the thread entered */
};

#define EPCM_LOCK_EXCL 0x80000000u

/* A chunk's initialisation, epcm_header.state[]. */
#define EPCM_CHUNK_NONE 0  /* never used: every page invalid, nothing stored */
#define EPCM_CHUNK_INIT 1  /* the owner is initialising it */
#define EPCM_CHUNK_READY 2 /* entries usable (stored with release) */

/*
 * The start of a section's EPCM object: shared memory between a platform
 * and its views in other processes (hw/share.c), so no pointers, only
 * atomics at fixed offsets. The entries follow at epcm_header_size(), entry
 * i at i * sizeof(struct epcm_entry) from there: a chunk is a fixed range
 * of pages of the object.
 */
struct epcm_header {
	/*
	 * One past the highest chunk ever initialised: pages from
	 * chunks_end * EPCM_CHUNK_PAGES up never held EPCM state, so walks over
	 * "what might be in use" (sanitization, fork's copy, a gone view's
	 * TCS pages) stop there.
	 */
	_Atomic uint64_t chunks_end;
	uint8_t pad[56];
	_Atomic uint8_t state[]; /* per chunk, EPCM_CHUNK_* */
};

struct hw_section {
	uint8_t *virt;
	uint64_t phys;
	uint64_t size;
	uint64_t npages;
	uint64_t first_pfn; /* global page number of the first page */
	struct sgx_shm shm; /* the memory: virt is shm.map, one view per protection */
	uint64_t nr_chunks;
	/* The EPCM (hw/epcm.c): header, then entries, in one shared object. */
	struct sgx_shm epcm;
	struct epcm_header *epcm_hdr; /* epcm.map */
	struct epcm_entry *entries;   /* epcm.map + epcm_header_size() */
	/* Mapped from another process's platform (sgx_hw_attach()): never initialises a chunk. */
	bool view;
};

/* Where the entries start in a section's EPCM object: the header, page-rounded. */
uint64_t epcm_header_size(uint64_t nr_chunks);
/* The EPCM object of a section of @npages pages: header and every chunk's entries. */
uint64_t epcm_object_size(uint64_t npages);
/*
 * Create section @index's EPCM object (sparse: nothing is touched; the
 * memfd kept when @keep_fd) or, for a view, map the one @fd names.
 * 0 or -errno.
 */
int epcm_create(struct hw_section *s, unsigned int index, bool keep_fd);
int epcm_attach(struct hw_section *s, unsigned int index, int fd);
void epcm_destroy(struct hw_section *s);
/* Chunk @c's entries when initialised, else NULL. */
struct epcm_entry *epcm_chunk(const struct hw_section *s, uint64_t c);
/* epcm_header.chunks_end of @s. */
uint64_t epcm_chunks_end(const struct hw_section *s);

/* Size, base, page numbers and chunk count of a section (owner and views alike). */
void hw_section_geometry(struct hw_section *s, uint64_t size, uint64_t phys, uint64_t first_pfn);
/* 0 when @cfg describes a platform the model can be, else -EINVAL. */
int hw_config_valid(const struct sgx_hw_config *cfg);

/*
 * The XSAVE features of the host, read once at power-on (xstate.c): enclave
 * code runs natively under the host's XCR0, so the XFRM values the model
 * accepts and the layout of the SSA's XSAVE region are the host's.
 */
#define HW_XSTATE_MAX 64
struct hw_xstate {
	uint64_t xcr0;	    /* XGETBV(0); x87|SSE without OSXSAVE */
	uint64_t supported; /* CPUID.(12H,1):ECX:EDX, hw_xfrm_supported() */
	bool xsaveopt;	    /* CPUID.(0DH,1):EAX[0] */
	/* Standard-format offset and size of component i (CPUID.(0DH,i):EBX/EAX). */
	uint32_t offset[HW_XSTATE_MAX];
	uint32_t size[HW_XSTATE_MAX];
};

/* Fill @x from the host CPU (XGETBV, CPUID leaf 0xD). */
void hw_xstate_probe(struct hw_xstate *x);
/*
 * Whether XCR0 could hold @xfrm (the XSETBV rules ECREATE applies to XFRM,
 * SDM ECREATE "XFRM is illegal"), and @xfrm is within @x->supported.
 */
bool hw_xfrm_acceptable(const struct hw_xstate *x, uint64_t xfrm);
/*
 * compute_XSAVE_frame_size(XFRM) of the SDM: the bytes of a standard-format
 * XSAVE image holding the components of @xfrm (legacy region and header
 * at least).
 */
uint32_t hw_xsave_size(const struct hw_xstate *x, uint64_t xfrm);

struct hw_alias {
	uintptr_t base; /* 0: slot unused */
	uint64_t size;
	hw_alias_fn translate;
	void *ctx;
};

struct sgx_hw {
	struct sgx_hw_config cfg;
	unsigned int nr_sections;
	struct hw_section sec[SGX_HW_MAX_SECTIONS];
	uint64_t total_pages;

	_Atomic uint64_t lepubkeyhash[4];
	_Atomic uint64_t next_eid;
	/* EWB versions: globally unique, so they also serve as GCM nonces. */
	_Atomic uint64_t next_version;
	_Atomic uint32_t einit_interrupts;

	uint8_t paging_key[16]; /* drawn at power-on, never leaves hw/ */
	/* Key hierarchy (enclu_keys.c): the fuse key, and CR_REPORT_KEYID. */
	uint8_t root_key[SGX_ROOT_KEY_SIZE];
	uint8_t report_keyid[32];

	/* Guest-physical views of EPC (the model's EPT), see epc_alias.c. */
	pthread_rwlock_t alias_lock;
	struct hw_alias aliases[SGX_HW_MAX_ALIASES];

	/* The attached trace recorder (trace.h), NULL when not tracing. */
	_Atomic(struct sgx_trace *) trace;

	struct hw_xstate xstate;

	/*
	 * What EENTER stores in tcs_busy (sgx_hw_owner()): 1 for a platform
	 * powered on here, the attach argument for a view, so that
	 * sgx_hw_owner_gone() finds the TCS pages of a process that is gone.
	 */
	uint32_t owner;
	bool view; /* sgx_hw_attach(): maps another process's platform */
};

/*
 * The hidden part of a SECS, kept inside the page's reserved area so that
 * EWB/ELDU of a SECS carry it along, as on real hardware.
 */
struct secs_hidden {
	uint64_t eid;
	struct sgx_measurement mrenclave;
};

#define SECS_HIDDEN_OFFSET 2048
_Static_assert(SECS_HIDDEN_OFFSET >= 262 &&
		       SECS_HIDDEN_OFFSET + sizeof(struct secs_hidden) <= 4096,
	       "secs_hidden fits in SECS.RESERVED4");

static inline struct secs_hidden *secs_hidden(void *secs_page)
{
	return (struct secs_hidden *)((uint8_t *)secs_page + SECS_HIDDEN_OFFSET);
}

/* A resolved EPC operand. */
struct epc_ref {
	struct hw_section *sec;
	uint64_t pfn;	    /* global page number */
	uint8_t *page;	    /* direct-map address of the page */
	uint64_t offset;    /* offset of the operand inside the page */
	struct epcm_entry *e; /* NULL when never used and !alloc */
};

/*
 * Resolve @addr to an EPC page. Returns false when @addr is not inside any
 * EPC section. With @alloc the EPCM chunk is created if needed, so ref->e is
 * never NULL; without it ref->e is NULL for a page no leaf has touched, which
 * is an invalid page.
 */
bool epc_resolve(struct sgx_hw *hw, const void *addr, bool alloc, struct epc_ref *ref);

/* epc_resolve() for an address inside a registered alias range. */
bool epc_resolve_alias(struct sgx_hw *hw, const void *addr, bool alloc, struct epc_ref *ref);

/* Resolve a global page number (from epcm_entry.secs_pfn). */
bool epc_resolve_pfn(struct sgx_hw *hw, uint64_t pfn, struct epc_ref *ref);

/* An operand address as software passed it in a register or a PAGEINFO field. */
static inline void *op_ptr(uint64_t addr)
{
	return (void *)(uintptr_t)addr;
}

/* Reserved fields must be zero; the SDM checks many. */
static inline bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t acc = 0, w;
	size_t i = 0;

	/* Eight bytes a step: EADD checks SECINFO's 56 reserved bytes per page. */
	for (; i + sizeof(w) <= n; i += sizeof(w)) {
		memcpy(&w, b + i, sizeof(w));
		acc |= w;
	}
	for (; i < n; i++)
		acc |= b[i];
	return !acc;
}

static inline bool is_aligned(const void *p, uint64_t align)
{
	return ((uintptr_t)p & (align - 1)) == 0;
}

bool epcm_trylock_excl(struct epcm_entry *e);
bool epcm_trylock_shared(struct epcm_entry *e);
void epcm_unlock_excl(struct epcm_entry *e);
void epcm_unlock_shared(struct epcm_entry *e);

/* Forget everything of an entry except its lock (EREMOVE, EWB). */
void epcm_invalidate(struct epcm_entry *e);

/*
 * For the leaves that operate on an enclave page and its SECS: resolve
 * e->secs_pfn and take the SECS lock shared. Returns false (SECS busy) when
 * the SECS is locked exclusively.
 */
bool epcm_lock_secs_shared(struct sgx_hw *hw, const struct epcm_entry *e,
			   struct epc_ref *secs);

/* EPC tracking: true when an ETRACK cycle that began after @e's EBLOCK is done. */
bool epcm_tracking_done(const struct epcm_entry *secs, const struct epcm_entry *e);
/* True when an ETRACK cycle that began after the enclave was at @epoch is done. */
bool epcm_epoch_tracked(const struct epcm_entry *secs, uint64_t epoch);

/* The SGX2 page lock (epcm_entry.sgx2_busy). */
bool epcm_sgx2_trylock(struct epcm_entry *e);
void epcm_sgx2_unlock(struct epcm_entry *e);

/*
 * Hold the SECS lock shared for a brief read, waiting out the exclusive
 * holders (ETRACK); used where the SDM lets the leaf run concurrently
 * with them.
 */
void epcm_hold_shared(struct epcm_entry *e);

/*
 * Take the lock exclusively, waiting out shared holders but not an
 * exclusive one (false then). For the leaves the SDM runs concurrently with
 * the shared users of their page, which the model must nevertheless exclude
 * because it writes EPCM fields: EBLOCK next to EENTER/ERESUME on a TCS,
 * ETRACK next to entries, exits, EBLOCK, EWB and ELDU on the SECS. Failing
 * there instead would report conflicts the processor never reports. Every
 * shared holder is a leaf that holds briefly and never waits for a lock
 * its waiter could hold, so this cannot deadlock.
 *
 * The wait is bounded (EPCM_SHARED_WAIT_NS, then false as for an exclusive
 * holder): a shared holder may be a thread of a view's process (a service
 * client running ENCLU, hw/share.c) killed in mid-leaf, whose count never
 * goes away, and the platform's owner must not hang on it. The callers
 * answer as for a page in use (EBLOCK and ETRACK: SGX_EPC_PAGE_CONFLICT;
 * EWB: #GP). The reclaimer waits so with the enclave's lock held and tries
 * a kept page again in its next batch: with a bound of 1 s, a killed
 * client's stale hold kept the service's main thread off that lock for
 * tens of seconds (new clients' HELLOs timed out) until the enclave was
 * released, which resets the locks. A leaf holds for microseconds; 50 ms
 * covers a holder preempted for a few time slices, and a conflict the
 * bound ends is only a page not reclaimed this time. The reclaimer also
 * backs off after such a batch (kernel/reclaim.c), as long again.
 */
#define EPCM_SHARED_WAIT_NS SGX_HW_LEAF_WAIT_NS
bool epcm_lock_excl_over_shared(struct epcm_entry *e);

/* SECINFO.FLAGS bits the SGX2 leaves read: type, permissions and state. */
#define SECINFO_SGX2_FLAGS (SGX_SECINFO_PAGE_TYPE_MASK | EPCM_PERM_MASK | EPCM_STATE_MASK)
/* The reserved-fields check of the SGX2 leaves' SECINFO ("reserved fields are not zero"). */
static inline bool secinfo_sgx2_reserved(const struct sgx_secinfo *si)
{
	return (si->flags & ~(uint64_t)SECINFO_SGX2_FLAGS) ||
	       !all_zero(si->reserved, sizeof(si->reserved));
}

/*
 * The ENCLS leaves themselves; the public encls_*() of hw.h wrap them with
 * tracing (encls_trace.c).
 */
int leaf_ecreate(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *secs);
int leaf_eadd(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc);
int leaf_eadd_staged(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc);
int leaf_eextend(struct sgx_hw *hw, void *secs, void *chunk);
int leaf_eextend_chunks(struct sgx_hw *hw, void *secs, void *chunk, unsigned int n);
/* A run of @n EEXTEND chunks from @chunk that stays in @chunk's page (none is #GP). */
static inline bool eextend_run_fits(const void *chunk, unsigned int n)
{
	uint64_t in_page = (uintptr_t)chunk & (SGX_PAGE_SIZE - 1);

	return n && n <= (SGX_PAGE_SIZE - in_page) / SGX_EEXTEND_CHUNK;
}
int leaf_einit(struct sgx_hw *hw, const struct sgx_sigstruct *sigstruct,
	       const struct sgx_einittoken *token, void *secs);
int leaf_eremove(struct sgx_hw *hw, void *epc);
int leaf_edbgrd(struct sgx_hw *hw, void *epc, uint64_t *data);
int leaf_edbgwr(struct sgx_hw *hw, void *epc, uint64_t data);
int leaf_epa(struct sgx_hw *hw, void *epc);
int leaf_eblock(struct sgx_hw *hw, void *epc);
int leaf_etrack(struct sgx_hw *hw, void *secs);
int leaf_ewb(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot);
int leaf_eldu(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot);
int leaf_eldb(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot);
int leaf_eaug(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc);
int leaf_emodpr(struct sgx_hw *hw, const struct sgx_secinfo *secinfo, void *epc);
int leaf_emodt(struct sgx_hw *hw, const struct sgx_secinfo *secinfo, void *epc);

#endif /* SOFTSGX_HW_INTERNAL_H */
