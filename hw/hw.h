/* SPDX-License-Identifier: MIT */
/*
 * The SGX CPU model: the one interface through which the kernel model touches
 * hardware state, as Linux does through encls.h.
 *
 * Leaves return an SGX return code (enum sgx_return_code, >= 0) or a fault,
 * encoded as ENCLS_FAULT(trapnr) exactly like Linux's SGX_ENCLS_FAULT_FLAG
 * convention. The model never returns errno values.
 *
 * EPC page operands are addresses inside the "direct map" of an EPC section
 * (hw_epc_section()), the same way Linux passes sgx_get_epc_virt_addr().
 */
#ifndef SOFTSGX_HW_H
#define SOFTSGX_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "softsgx/sgx_arch.h"

#define SGX_ENCLS_FAULT_FLAG 0x40000000
#define ENCLS_FAULT(trapnr) (SGX_ENCLS_FAULT_FLAG | (trapnr))
#define encls_faulted(ret) (((ret) & SGX_ENCLS_FAULT_FLAG) != 0)
#define ENCLS_TRAPNR(ret) ((ret) & ~SGX_ENCLS_FAULT_FLAG)

#define X86_TRAP_GP 13
#define X86_TRAP_PF 14

#define SGX_HW_MAX_SECTIONS 8

/*
 * The longest a leaf waits out other leaves' hold on an EPCM entry before
 * it answers as for a page in use (SGX_EPC_PAGE_CONFLICT, #GP): a holder
 * may be a killed service client's thread, whose hold never ends.
 */
#define SGX_HW_LEAF_WAIT_NS 50000000LL
/* 2^28 pages = 1 TiB, the largest EPC the model accepts. */
#define SGX_HW_MAX_EPC_PAGES (1ULL << 28)

struct sgx_hw;

struct sgx_hw_config {
	unsigned int nr_sections;
	uint64_t section_size[SGX_HW_MAX_SECTIONS]; /* bytes, page multiple */
	bool sgx2;				     /* EAUG/EMODPR/EMODT/EACCEPT... */
	bool flc;				     /* flexible launch control */
	/*
	 * Keep each section's memfd open (struct sgx_hw_section.fd), to pass
	 * to other processes: a platform service only. A platform inside a
	 * program holds no descriptor the program could close (hw/shm.h).
	 */
	bool keep_fds;
};

/*
 * Two sections of 64 MiB, SGX1 and SGX2, flexible launch control.
 */
void sgx_hw_default_config(struct sgx_hw_config *cfg);

/*
 * Every platform this process powers on from now keeps its fds, as if its
 * config said keep_fds: the platform service calls it before it boots its
 * platform through the embedding API (whose config has no such field).
 */
void sgx_hw_keep_fds_default(bool keep);

/*
 * Power on a CPU model: creates the memory of each EPC section, maps it as
 * the direct map and once per other protection (views, to map pages into
 * the process from), keeps no file descriptor, draws fresh platform keys. Returns NULL with errno set on
 * failure (EINVAL for a bad configuration, ENOMEM...).
 */
struct sgx_hw *sgx_hw_new(const struct sgx_hw_config *cfg);
void sgx_hw_free(struct sgx_hw *hw);

const struct sgx_hw_config *sgx_hw_config(const struct sgx_hw *hw);

struct sgx_hw_section {
	void *virt;	/* direct map of the section */
	uint64_t phys;	/* physical base reported by CPUID 0x12 */
	uint64_t size;	/* bytes */
	/*
	 * view[prot]: the section mapped with protection @prot (PROT_* bits);
	 * view[PROT_READ | PROT_WRITE] is @virt, view[0] NULL. A page-table
	 * entry is a duplicate of a view's page (hw/shm.h).
	 */
	uint8_t *view[8];
	int fd; /* the section's memfd when the config keeps fds, else -1 */
};

/* Returns false when @index is not a section. */
bool hw_epc_section(const struct sgx_hw *hw, unsigned int index,
		    struct sgx_hw_section *out);
uint64_t hw_epc_total_pages(const struct sgx_hw *hw);

/* CPUID leaf 0x12: @out receives EAX, EBX, ECX, EDX. */
void hw_cpuid_sgx(const struct sgx_hw *hw, uint32_t subleaf, uint32_t out[4]);

/*
 * The XFRM bits ECREATE accepts, CPUID.(12H,1):ECX:EDX: the host's XCR0
 * (read with XGETBV at power-on) limited to the user components whose
 * standard-format XSAVE image fits struct sgx_cpu_regs (docs/xsave.md).
 */
uint64_t hw_xfrm_supported(const struct sgx_hw *hw);
/* The host's XCR0 as read at power-on (x87|SSE on a CPU without OSXSAVE). */
uint64_t hw_host_xcr0(const struct sgx_hw *hw);
/* Whether the host has XSAVEOPT (CPUID.(0DH,1):EAX[0]), read at power-on. */
bool hw_host_xsaveopt(const struct sgx_hw *hw);
/*
 * compute_XSAVE_frame_size(@xfrm): bytes of the standard-format XSAVE image
 * of the components in @xfrm on this host (CPUID leaf 0xD offsets). What an
 * SSA frame's XSAVE region needs and what XSAVE with that XCR0 writes.
 */
uint32_t hw_xfrm_xsave_size(const struct sgx_hw *hw, uint64_t xfrm);

/*
 * WRMSR/RDMSR of IA32_SGXLEPUBKEYHASH0..3. Writing needs flexible launch
 * control; otherwise, or for another MSR, the result is ENCLS_FAULT(#GP).
 */
int hw_wrmsr(struct sgx_hw *hw, uint32_t msr, uint64_t value);
int hw_rdmsr(const struct sgx_hw *hw, uint32_t msr, uint64_t *value);

/* ENCLS leaves, named after the SDM. Operands as in the SDM's register use. */
int encls_ecreate(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *secs);
int encls_eadd(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc);
/*
 * EADD of a page whose contents are already in @epc: the kernel model's
 * stand-in for EADD reading a source page the kernel pinned. Linux's
 * ADD_PAGES pins the program's page and EADD reads it; the model cannot
 * pin, so it copies the page with a copy that turns a bad address into
 * -EFAULT, and copies it straight into the free EPC page it allocated,
 * which nothing can see until EADD makes it valid. Everything else is
 * EADD's (checks, EPCM, TCS fields, MRENCLAVE, return codes, trace);
 * pginfo->contents is not read. Not an ENCLS operand form: a source in
 * the EPC reads as the abort page on hardware.
 */
int encls_eadd_staged(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc);
int encls_eextend(struct sgx_hw *hw, void *secs, void *chunk);
/*
 * EEXTEND of each of the @n chunks from @chunk on, all in one page, in
 * turn with no other leaf between them: the first that fails stops them
 * and gives the return code. More chunks than the page has left: #GP.
 */
int encls_eextend_chunks(struct sgx_hw *hw, void *secs, void *chunk, unsigned int n);
int encls_einit(struct sgx_hw *hw, const struct sgx_sigstruct *sigstruct,
		const struct sgx_einittoken *token, void *secs);
int encls_eremove(struct sgx_hw *hw, void *epc);
int encls_edbgrd(struct sgx_hw *hw, void *epc, uint64_t *data);
int encls_edbgwr(struct sgx_hw *hw, void *epc, uint64_t data);
int encls_epa(struct sgx_hw *hw, void *epc);
int encls_eblock(struct sgx_hw *hw, void *epc);
int encls_etrack(struct sgx_hw *hw, void *secs);
int encls_ewb(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot);
int encls_eldu(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot);
int encls_eldb(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc, void *va_slot);

/*
 * The SGX2 ENCLS leaves (SDM Vol. 3D: EAUG, EMODPR, EMODT). On a platform
 * without sgx2 in its configuration they are not there: ENCLS_FAULT(#GP),
 * like any other unsupported leaf.
 */

/**
 * encls_eaug() - add a page to an initialized enclave (ENCLS[EAUG], 0x0D).
 * @pginfo: PAGEINFO (32-byte aligned); LINADDR = the page's linear address,
 *	    SECS = the enclave's SECS; SRCPGE must be 0; SECINFO must be 0 (the
 *	    SDM allows a SECINFO only for the CET shadow-stack page types, which
 *	    the model does not offer, so a nonzero SECINFO is #GP).
 * @epc: the free EPC page (4 KiB aligned).
 *
 * The page becomes a zeroed REG page, RW, PENDING, of the SECS's enclave at
 * LINADDR. Enclave code cannot use it until EACCEPT or EACCEPTCOPY.
 *
 * Return: SGX_SUCCESS (EAUG has no error codes).
 * ENCLS_FAULT(X86_TRAP_GP): no sgx2; @pginfo or @epc misaligned; SECS or
 * LINADDR not page aligned; SRCPGE or SECINFO nonzero; @epc or the SECS in
 * use by another leaf (the SDM's concurrency rules); the enclave not
 * initialized; LINADDR outside its ELRANGE.
 * ENCLS_FAULT(X86_TRAP_PF): @epc or SECS not an EPC page; @epc already
 * valid; SECS not a valid SECS.
 */
int encls_eaug(struct sgx_hw *hw, struct sgx_pageinfo *pginfo, void *epc);

/**
 * encls_emodpr() - restrict the permissions of an EPC page (ENCLS[EMODPR], 0x0E).
 * @secinfo: SECINFO (64-byte aligned); FLAGS.R/W/X are a mask of the
 *	     permissions to keep (new = old & SECINFO); PENDING, MODIFIED, PR
 *	     and the type are ignored; other bits are reserved.
 * @epc: a REG page of an initialized enclave (4 KiB aligned).
 *
 * Sets EPCM.PR and records the enclave's current ETRACK epoch: EACCEPT of
 * the page answers SGX_NOT_TRACKED until an ETRACK cycle begun after this
 * leaf has completed.
 *
 * Return: SGX_SUCCESS; SGX_PAGE_NOT_MODIFIABLE when the page is PENDING or
 * MODIFIED (checked before the type: a TRIM page not yet accepted);
 * SGX_EPC_PAGE_CONFLICT when another SGX2 leaf (EACCEPT...) uses the page.
 * ENCLS_FAULT(X86_TRAP_GP): no sgx2; misaligned operands; reserved SECINFO
 * bits or W without R in SECINFO; the page in use by an SGX1 leaf (EWB...);
 * its SECS held exclusively by another leaf; the enclave not initialized.
 * ENCLS_FAULT(X86_TRAP_PF): @epc not an EPC page, not valid, or (after the
 * state check) not a REG page: Linux's REMOVE_PAGES reads "#PF" as "the
 * trimmed page was accepted".
 */
int encls_emodpr(struct sgx_hw *hw, const struct sgx_secinfo *secinfo, void *epc);

/**
 * encls_emodt() - change the type of an EPC page (ENCLS[EMODT], 0x0F).
 * @secinfo: SECINFO (64-byte aligned); FLAGS.PAGE_TYPE = TCS or TRIM;
 *	     R/W/X and the state bits are ignored; other bits reserved.
 * @epc: a REG page of an initialized enclave, or a TCS page to trim.
 *
 * Sets the new type and EPCM.MODIFIED, clears R/W/X and PR, records the
 * enclave's current ETRACK epoch (see encls_emodpr()).
 *
 * Return: SGX_SUCCESS; SGX_PAGE_NOT_MODIFIABLE when the page is PENDING or
 * MODIFIED; SGX_EPC_PAGE_CONFLICT when any other leaf uses the page.
 * ENCLS_FAULT(X86_TRAP_GP): no sgx2; misaligned operands; reserved SECINFO
 * bits; a type other than TCS or TRIM; the SECS held exclusively by another
 * leaf; the enclave not initialized.
 * ENCLS_FAULT(X86_TRAP_PF): @epc not an EPC page or not valid; the page
 * neither REG nor a TCS to become TRIM (checked before the state).
 */
int encls_emodt(struct sgx_hw *hw, const struct sgx_secinfo *secinfo, void *epc);

/*
 * A logical processor enters or leaves an enclave through the TCS at @tcs
 * (EPC address). These carry the architectural bookkeeping that EENTER,
 * ERESUME, EEXIT and AEX share: TCS busy, threads inside the enclave (for
 * EREMOVE's ENCLAVE_ACT) and the ETRACK epoch (for EWB's NOT_TRACKED).
 * hw_enclave_enter() returns SGX_SUCCESS or a fault (#GP for a TCS that is
 * busy, not a TCS, or of an uninitialized enclave).
 */
int hw_enclave_enter(struct sgx_hw *hw, void *tcs);
void hw_enclave_leave(struct sgx_hw *hw, void *tcs);

/*
 * Guest-physical aliases of EPC, the model's EPT: a range of process
 * addresses (a guest's EPC section, which is a host vEPC mapping) whose pages
 * @translate maps to EPC pages of the direct map, allocating on first use as
 * an EPT violation would. Leaves accept addresses inside an alias as EPC
 * operands. @translate returns the page's direct-map address, or NULL when
 * there is none (the leaf then faults with #PF).
 */
#define SGX_HW_MAX_ALIASES 16
typedef void *(*hw_alias_fn)(void *ctx, uintptr_t page_addr);
/* 0, -ENOSPC when all alias slots are used, -EINVAL for a bad range. */
int hw_alias_add(struct sgx_hw *hw, void *base, uint64_t size, hw_alias_fn translate,
		 void *ctx);
void hw_alias_remove(struct sgx_hw *hw, void *base);

/*
 * Where the EPC page holding @addr (direct map or alias) is in the view of
 * its section with protection @prot, for mapping it into a process with
 * sgx_shm_map_from(); for @prot 0 the read-write view. NULL when @addr is no
 * EPC page.
 */
void *hw_epc_view(struct sgx_hw *hw, const void *addr, int prot);

/*
 * Observability, not architecture (a debugger's view of the EPCM): true when
 * the EPC page at @addr holds a valid EPCM entry.
 */
bool hw_epc_page_valid(struct sgx_hw *hw, const void *addr);

/*
 * A hint, no architectural effect (like a PREFETCH instruction): start
 * bringing the EPCM entry of the EPC page at @epc (direct map) into the
 * cache, for a kernel that knows which page its next leaf will use.
 */
void hw_epc_prefetch(struct sgx_hw *hw, const void *epc);

/*
 * Observability, like hw_epc_page_valid(): how many pages from @addr (a page
 * of a section's direct map or of an alias, @npages of them) may hold EPCM
 * state. The pages after that many were never valid since power-on. The
 * model knows it from its lazily created EPCM chunks; an alias (a guest's
 * EPC) gives no such answer: all @npages. Lets a kernel sanitize only the
 * part of the EPC a previous owner can have used.
 */
uint64_t hw_epc_used_pages(struct sgx_hw *hw, const void *addr, uint64_t npages);

/*
 * Whether enclave code may access the EPC page at @addr (direct map or
 * alias) as @access (enum hw_mmu_access bits of enclu.h: read 1, write 2,
 * exec 4) by its EPCM entry: valid, not blocked, REG, neither PENDING nor
 * MODIFIED, with the EPCM permissions for @access. On hardware a failing
 * check is a #PF with the SGX bit (X86_PF_SGX); the kernel model keeps the
 * host PTE of such a page non-present and asks this when the fault comes.
 */
bool hw_epcm_accessible(struct sgx_hw *hw, const void *addr, int access);

/*
 * The root of the platform's key hierarchy (the model's fuse key): EGETKEY
 * and EREPORT derive every key from it. Power-on draws a random one; whoever
 * wants sealed data to survive a restart saves it with hw_get_root_key() and
 * restores it with hw_set_root_key() before any enclave asks for a key.
 */
#define SGX_ROOT_KEY_SIZE 16
void hw_set_root_key(struct sgx_hw *hw, const uint8_t key[SGX_ROOT_KEY_SIZE]);
void hw_get_root_key(const struct sgx_hw *hw, uint8_t key[SGX_ROOT_KEY_SIZE]);

/* The processor's security version number, fixed for the model. */
#define SGX_CPUSVN_SIZE 16
void hw_get_cpusvn(const struct sgx_hw *hw, uint8_t cpusvn[SGX_CPUSVN_SIZE]);

/*
 * Sharing the CPU model with other processes (the platform service, issue
 * 16, docs/platform-service.md). The service's platform owns the EPC and
 * runs every ENCLS leaf; each client process runs the ENCLU leaves of its
 * own threads on a view of the same hardware: the sections' memory and the
 * EPCM, both shared memory (memfds) holding page numbers and offsets, never
 * pointers, and the keys ENCLU derives from.
 *
 * struct sgx_hw_share is plain data, sent as bytes over a socket; the
 * descriptors travel beside it (SCM_RIGHTS): for section i, fds[2 * i] is
 * its memory and fds[2 * i + 1] its EPCM.
 */
struct sgx_hw_share {
	struct sgx_hw_config cfg; /* keep_fds as the owner's */
	uint64_t section_phys[SGX_HW_MAX_SECTIONS];
	uint8_t root_key[SGX_ROOT_KEY_SIZE];
	uint8_t report_keyid[32];
	uint64_t lepubkeyhash[4];
};

/*
 * What a view of @hw needs: fills @out and @fds (the platform's own
 * descriptors, not duplicated: they stay @hw's). 0, or -ENOENT when @hw
 * keeps no descriptors (its config did not ask for keep_fds).
 */
int sgx_hw_share_get(struct sgx_hw *hw, struct sgx_hw_share *out,
		     int fds[2 * SGX_HW_MAX_SECTIONS]);

/*
 * A view, in this process, of the platform @share describes: the same EPC
 * pages and EPCM entries, mapped from @fds (which stay the caller's). It
 * runs ENCLU leaves (enclu(), hw_aex(), hw_enclave_enter/leave) and the
 * read-only queries; an ENCLS leaf on a view is a programming error. It
 * never creates EPCM state: a page the owner never used is invalid here.
 * @owner (nonzero, not 1, unique among the live views of the platform)
 * marks the TCS pages this view's threads hold, for sgx_hw_owner_gone().
 * The view maps each section once, read-write (hw_epc_section(): view[]
 * holds only that, fd is -1), and its EPCM; it copies the keys at attach
 * (a later hw_set_root_key() on the owner is not seen), keeps no trace and
 * no alias. Its mappings are not copied by sgx_shm_unshare_all(): a fork()
 * child shares them with the owner. Freed with sgx_hw_free(), which unmaps
 * only the view. NULL with errno set on failure: EINVAL for a bad @owner
 * or configuration, or descriptors whose sizes are not the configuration's.
 */
struct sgx_hw *sgx_hw_attach(const struct sgx_hw_share *share,
			     const int fds[2 * SGX_HW_MAX_SECTIONS], uint32_t owner);

/* The owner token of @hw's threads: 1 for a platform powered on here. */
uint32_t sgx_hw_owner(const struct sgx_hw *hw);

/*
 * The direct-map address of page @index of section @section, or NULL when
 * there is no such page: where a view finds the EPC page a PTE of its
 * process maps (the PTE names section and page, not an address).
 */
void *hw_epc_page_addr(struct sgx_hw *hw, unsigned int section, uint64_t index);

/*
 * The process of view @owner is gone (killed inside an enclave, say): each
 * TCS its threads held busy is released as an AEX would leave it (the SECS
 * no longer counts the thread inside, nor a tracking cycle waits for it).
 * On hardware the OS interrupts every thread before the process goes, so
 * no TCS stays busy. Returns the number of TCS pages released.
 */
unsigned int sgx_hw_owner_gone(struct sgx_hw *hw, uint32_t owner);

/*
 * Leaves of the ENCLU side take EPCM page locks in the views' processes; a
 * process killed inside a leaf leaves a lock word held, which a CPU's
 * atomic instruction never does. For the EPC page at @epc, which no live
 * process can reach any more (its enclave's last user is gone), clear the
 * page lock words, SGX2 lock and TCS busy flag so that EREMOVE can take it.
 * Nothing else changes, no counter is decremented: call
 * sgx_hw_owner_gone() first, which counts the gone threads out of their
 * SECS. Never on a page a live thread may be using.
 */
void hw_epcm_locks_reset(struct sgx_hw *hw, void *epc);

/*
 * Test hook: the next @count EINITs end with SGX_UNMASKED_EVENT before doing
 * anything, as when an interrupt arrives during EINIT on real hardware.
 */
void hw_inject_einit_interrupts(struct sgx_hw *hw, unsigned int count);

#endif /* SOFTSGX_HW_H */
