/* SPDX-License-Identifier: MIT */
/*
 * The file operations of /dev/sgx_enclave, /dev/sgx_provision and
 * /dev/sgx_vepc (Linux driver.c and virt.c), and the memory-management calls
 * that reach them: mmap, munmap, mprotect and page faults.
 *
 * Every function returns 0 or a negative errno exactly where Linux does.
 */
#ifndef SOFTSGX_DRIVER_H
#define SOFTSGX_DRIVER_H

#include <stdint.h>

#include "kernel/sgx.h"

enum sgx_file_type {
	SGX_FILE_ENCLAVE = 1,
	SGX_FILE_PROVISION,
	SGX_FILE_VEPC,
};

struct sgx_encl;

/*
 * An open file: shared by dup()ed descriptors and by the VMAs mapping it,
 * in its process and in children that inherited it.
 */
struct sgx_file {
	struct sgx_kernel *k;
	struct sgx_mm *mm; /* the process that opened it (a reference) */
	enum sgx_file_type type;
	_Atomic long refcount;
	void *private_data;
};

/*
 * The calls that act for a process take its mm (the *_mm() names); the
 * others act for the process the model runs in (k->mm).
 */
struct sgx_file *sgx_file_open(struct sgx_kernel *k, enum sgx_file_type type, int *err);
struct sgx_file *sgx_file_open_mm(struct sgx_kernel *k, struct sgx_mm *mm, enum sgx_file_type type,
				  int *err);
void sgx_file_get(struct sgx_file *f);
/* The last reference runs release: the enclave goes when nothing maps it. */
void sgx_file_put(struct sgx_file *f);
struct sgx_encl *sgx_file_encl(const struct sgx_file *f);

/*
 * ioctl(2). @arg is the user pointer; a bad one gives -EFAULT. Unknown
 * commands give -ENOTTY, as userspace sees Linux's -ENOIOCTLCMD.
 */
long sgx_file_ioctl(struct sgx_file *f, unsigned long cmd, unsigned long arg);
/* ioctl(2) made by the process of @mm: its memory, its descriptors (sgx_current_mm()). */
long sgx_file_ioctl_mm(struct sgx_file *f, struct sgx_mm *mm, unsigned long cmd, unsigned long arg);
/*
 * The file behind descriptor @fd of the calling process, with a reference:
 * sgx_current_mm()'s descriptors, or the embedder's (k->fget). NULL if none.
 */
struct sgx_file *sgx_fget(struct sgx_kernel *k, int fd);

/*
 * mmap(2) of @f: @flags are MAP_* (MAP_SHARED required, MAP_FIXED honoured),
 * @prot PROT_*, @offset the file offset (page aligned; vEPC page index).
 * On success *@addr is the start of the new VMA.
 */
int sgx_file_mmap(struct sgx_file *f, uint64_t *addr, uint64_t len, int prot, int flags,
		  uint64_t offset);
int sgx_file_mmap_mm(struct sgx_file *f, struct sgx_mm *mm, uint64_t *addr, uint64_t len, int prot,
		     int flags, uint64_t offset);
int sgx_munmap(struct sgx_kernel *k, uint64_t addr, uint64_t len);
int sgx_munmap_mm(struct sgx_kernel *k, struct sgx_mm *mm, uint64_t addr, uint64_t len);
int sgx_mprotect(struct sgx_kernel *k, uint64_t addr, uint64_t len, int prot);
int sgx_mprotect_mm(struct sgx_mm *mm, uint64_t addr, uint64_t len, int prot);
/*
 * The PTEs of [start, end) of @vma are going with the mapping (munmap, an
 * mmap over them, the process's exit), as zap_page_range() leaves them on
 * Linux: the enclave forgets them. mm write-locked.
 */
void sgx_vma_forget_ptes(struct sgx_vma *vma, uint64_t start, uint64_t end);

enum sgx_fault_result {
	SGX_FAULT_NOT_OURS, /* no SGX VMA there: the process's own fault */
	SGX_FAULT_RETRY,    /* PTE installed, or try again (VM_FAULT_NOPAGE) */
	SGX_FAULT_SIGBUS,
	SGX_FAULT_SIGSEGV,  /* the VMA does not allow this access */
	/*
	 * SGX2: the page is there but its EPCM refuses the access (PENDING,
	 * MODIFIED, TRIM, permissions restricted): on hardware a #PF with
	 * X86_PF_SGX after the PTE was found present, which Linux never
	 * resolves (access_error()): SIGSEGV, or the vDSO's exception fixup.
	 */
	SGX_FAULT_EPCM,
};

/*
 * Or'ed into @access of sgx_handle_fault(): enclave code made the access
 * (the thread left the enclave by an AEX for it), so the EPCM check that
 * follows the page walk on hardware applies (sgx_encl_pte_prot()). Without
 * it the access came from outside the enclave, which on hardware sees the
 * abort page and never faults on the EPCM: the page is mapped as the VMA
 * allows.
 */
#define SGX_FAULT_ENCLAVE_MODE 0x100
/*
 * Or'ed into @access instead: the page walk of an ENCLU leaf (an operand,
 * EENTER's TCS and SSA) missed. The leaf makes its own EPCM checks once the
 * walk finds the page, so the fault maps it for the walk as the VMA allows;
 * but enclave code may touch the same page natively later, and there only
 * the host PTE stands for the EPCM check: that PTE allows no more than the
 * EPCM does (maybe nothing), as for SGX_FAULT_ENCLAVE_MODE.
 */
#define SGX_FAULT_OPERAND 0x200

/* A page fault at @addr for an access of kind @access (PROT_READ/WRITE/EXEC). */
enum sgx_fault_result sgx_handle_fault(struct sgx_kernel *k, uint64_t addr, int access);
enum sgx_fault_result sgx_handle_fault_mm(struct sgx_kernel *k, struct sgx_mm *mm, uint64_t addr,
					  int access);

/*
 * The EPC page (direct-map address) behind enclave address @addr for an
 * access of kind @access (PROT_*): 0, -EFAULT when nothing resident is
 * mapped there (a not-present PTE), -EACCES when the VMA forbids the access
 * and the PTE is present (the CPU's P bit in the #PF error code).
 */
int sgx_translate(struct sgx_kernel *k, uint64_t addr, int access, void **epc);
int sgx_translate_mm(struct sgx_kernel *k, struct sgx_mm *mm, uint64_t addr, int access, void **epc);
/*
 * @entry of @encl is being reclaimed: no walk finds it from now on
 * (kernel/translate.c). encl->lock held.
 */
struct sgx_encl_page;
void sgx_encl_walk_forget(struct sgx_encl *encl, struct sgx_encl_page *entry);

/* ioctl handlers of /dev/sgx_enclave, in ioctl.c. */
long sgx_encl_ioctl(struct sgx_file *f, unsigned long cmd, unsigned long arg);
/* The enclave driver's own mmap checks (sgx_encl_may_map). */
int sgx_encl_may_map(struct sgx_encl *encl, uint64_t start, uint64_t end, int prot);
enum sgx_fault_result sgx_encl_fault(struct sgx_encl *encl, struct sgx_vma *vma, uint64_t addr,
				     int access);
/* SGX2: EAUG a page at @addr, where the enclave has none (encl.c). mm read-locked. */
enum sgx_fault_result sgx_encl_eaug_page(struct sgx_encl *encl, uint64_t addr);
/* SGX_IOC_ENCLAVE_RESTRICT_PERMISSIONS, MODIFY_TYPES, REMOVE_PAGES (ioctl_sgx2.c). */
long sgx_ioc_enclave_restrict_permissions(struct sgx_encl *encl, unsigned long arg);
long sgx_ioc_enclave_modify_types(struct sgx_encl *encl, unsigned long arg);
long sgx_ioc_enclave_remove_pages(struct sgx_encl *encl, unsigned long arg);
/* Linux's validate_offset_length() of the enclave ioctls: 0 or -EINVAL. */
int sgx_validate_offset_length(struct sgx_encl *encl, uint64_t offset, uint64_t length);

#endif /* SOFTSGX_DRIVER_H */
