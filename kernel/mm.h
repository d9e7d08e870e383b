/* SPDX-License-Identifier: MIT */
/*
 * The address spaces the kernel model serves (Linux's struct mm_struct, cut
 * down to what SGX needs): VMAs created by mmap() of an SGX file, the files
 * the process has open, and page-table entries, which are real mappings.
 *
 * An mm is a reference-counted object with a small table of operations for
 * the four things that touch the real address space: reserve a VMA's range,
 * install a PTE (map EPC page P of section S at an address), zap PTEs,
 * unmap a range. The default operations act on this process (installing a
 * PTE duplicates the EPC page from a view of its section at the enclave
 * address, kernel/epc_map.c; zapping replaces it with an inaccessible
 * mapping, so the next touch faults). A platform service gives each client
 * process an mm whose operations send it a message instead.
 *
 * struct sgx_kernel embeds the mm of the process it runs in (k->mm): private
 * mode serves that one only. Others come from sgx_mm_create() and
 * sgx_mm_fork(), and leave through sgx_mm_exit() and sgx_mm_put(). Whoever
 * calls into the model for an mm holds a reference to it meanwhile; the
 * enclaves that list it and the files it opened hold their own.
 */
#ifndef SOFTSGX_MM_H
#define SOFTSGX_MM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel/list.h"

struct sgx_file;
struct sgx_mm;
struct sgx_kernel;
struct sgx_epc_page;
struct sgx_epc_cgroup;
struct sgx_pte_table;

struct sgx_vma {
	uint64_t start, end;
	int prot; /* PROT_READ | PROT_WRITE | PROT_EXEC */
	uint64_t file_base; /* the address file offset 0 would have: survives splits */
	struct sgx_file *file;
	struct sgx_mm *mm;
	/*
	 * An enclave VMA's bit in its pages' PTE masks (struct sgx_encl_mm):
	 * which mm a page is mapped in. 0 for other files.
	 */
	uint64_t pte_bit;
	struct list_head list;
};

/*
 * What touches the real address space. Every operation returns 0 or
 * -errno. install and zap are called with the owning enclave's or vEPC's
 * lock held and must not call back into the model.
 */
struct sgx_mm_ops {
	/* Address space for a new VMA, PROT_NONE; *addr a hint unless @fixed. */
	int (*reserve)(struct sgx_mm *mm, uint64_t *addr, uint64_t len, bool fixed);
	/*
	 * A PTE: EPC page @page (its section and index) at @addr with @prot,
	 * what the host's page table allows (native enclave code is checked
	 * against it alone, so for an enclave page no more than the EPCM
	 * allows); @walk_prot is what the CPU model's walk of an ENCLU operand
	 * finds there (the VMA's protection), at least @prot. A process whose
	 * model walks the kernel's structures (private mode) needs only @prot.
	 */
	int (*install)(struct sgx_mm *mm, struct sgx_kernel *k, const struct sgx_epc_page *page,
		       uint64_t addr, int prot, int walk_prot);
	/*
	 * Drop the PTEs of the @n pages at @addrs: the next touch faults. The
	 * reclaimer passes all the pages of a batch this mm maps at once, in
	 * address order (a service's client: one message and one ack).
	 */
	int (*zap)(struct sgx_mm *mm, const uint64_t *addrs, unsigned int n);
	/* munmap(2) of [addr, addr + len). */
	int (*unmap)(struct sgx_mm *mm, uint64_t addr, uint64_t len);
	/*
	 * copy_from_user/copy_to_user of an ioctl made for this mm: @n bytes
	 * between @local and the process's @remote; 0 or -EFAULT. NULL: the
	 * process the model runs in.
	 */
	int (*access_user)(struct sgx_mm *mm, void *local, uint64_t remote, size_t n, bool write);
};

/* The operations on this process's own address space. */
extern const struct sgx_mm_ops sgx_mm_local_ops;

/*
 * Lock order, as Linux: mm->lock (the mmap_lock) before encl->lock; the
 * enclave's lock guards its mm_list and its pages' PTE masks, so zapping a
 * page in every mm that maps it takes no mm lock. files_lock is taken alone.
 */
struct sgx_mm {
	pthread_rwlock_t lock;
	struct list_head vmas;
	uint64_t nr_vmas;
	_Atomic long refcount;
	const struct sgx_mm_ops *ops;
	void *ops_data; /* the ops' own: a client connection, a test's record */
	bool embedded;	/* k->mm: never freed by sgx_mm_put() */
	/* Files the process has open (its descriptors), each with a reference. */
	pthread_mutex_t files_lock;
	struct list_head files;
	/* The EPC cgroup its allocations charge (epc_cgroup.h); NULL: the root. */
	struct sgx_epc_cgroup *_Atomic cg;
	/*
	 * The walk's own page table (kernel/translate.c): k->mm's only, NULL
	 * for the others. The local operations clear it where they zap,
	 * unmap or reserve over PTEs.
	 */
	struct sgx_pte_table *walk;
};

/* k->mm: the local process's mm, one reference (the kernel's). */
void sgx_mm_init(struct sgx_mm *mm);
/* Unmaps every VMA; their files must already be released. */
void sgx_mm_destroy(struct sgx_mm *mm);

/* A new, empty mm with one reference; NULL for want of memory. */
struct sgx_mm *sgx_mm_create(const struct sgx_mm_ops *ops, void *ops_data);
void sgx_mm_get(struct sgx_mm *mm);
/* The last reference frees the mm: sgx_mm_exit() it first. */
void sgx_mm_put(struct sgx_mm *mm);

/*
 * fork(): a child mm (ops @ops, @ops_data) whose SGX VMAs are copies of
 * @parent's, on the same files with extra references, as Linux's fork()
 * copies VMAs and calls vm_ops->open; every enclave gains the child. PTEs
 * are copied too (Linux copies VM_PFNMAP entries): a page present in the
 * parent is present in the child, and zapped in both. The open files are
 * shared, as descriptors are. NULL and *err = -errno on failure.
 */
struct sgx_mm *sgx_mm_fork(struct sgx_mm *parent, const struct sgx_mm_ops *ops, void *ops_data,
			   int *err);
/*
 * The process is gone: unmap its VMAs and close its files. The last
 * reference to an enclave or vEPC releases it as Linux's last close does.
 * The caller's reference stays (sgx_mm_put() it).
 */
void sgx_mm_exit(struct sgx_mm *mm);

/* Descriptor @fd of the process now refers to @f: takes over one reference. 0 or -EBUSY/-ENOMEM. */
int sgx_mm_fd_install(struct sgx_mm *mm, int fd, struct sgx_file *f);
/* The file behind @fd with a reference (sgx_file_put() it), or NULL. */
struct sgx_file *sgx_mm_fget(struct sgx_mm *mm, int fd);
/* close(2): 0 or -EBADF. */
int sgx_mm_fd_close(struct sgx_mm *mm, int fd);

/*
 * The usage ids (kernel/usage.h) of the enclaves and vEPCs the process has
 * open or mapped, each once: at most @max in @ids; returns how many there
 * are (which may exceed @max). For `softsgx top`'s view of a service's
 * clients.
 */
unsigned int sgx_mm_usage_ids(struct sgx_mm *mm, uint64_t *ids, unsigned int max);

/*
 * The mm a system call is being made for (Linux's current->mm), set by
 * sgx_file_ioctl_mm() for the call's duration: its user memory and its
 * descriptors are the ones the ioctl reads. NULL: the process the model
 * runs in (k->mm, and the embedder's descriptor table, k->fget).
 */
struct sgx_mm *sgx_current_mm(void);
/* Returns the previous one, to be put back. */
struct sgx_mm *sgx_set_current_mm(struct sgx_mm *mm);

/* With mm->lock held. */
struct sgx_vma *sgx_find_vma(struct sgx_mm *mm, uint64_t addr);
/*
 * Record a VMA, attached to its enclave's mm_list; 0, -ENOMEM. With
 * mm->lock held for writing. The caller gives the VMA its file reference.
 */
int sgx_vma_insert(struct sgx_mm *mm, uint64_t start, uint64_t end, int prot,
		   uint64_t file_base, struct sgx_file *file);
/* Move @vma's bounds (a split, a partial munmap); mm->lock write-locked. */
void sgx_vma_set_range(struct sgx_vma *vma, uint64_t start, uint64_t end);
/* Take @vma off the list and its enclave's mm_list; mm->lock write-locked. Then put + free. */
void sgx_vma_unlink(struct sgx_mm *mm, struct sgx_vma *vma);

/* True when [start, end) overlaps any VMA. Takes mm->lock. */
bool sgx_mm_overlaps(struct sgx_mm *mm, uint64_t start, uint64_t end);

/* The local reserve: address space for a new VMA, PROT_NONE until faults fill it. */
int sgx_mm_reserve(uint64_t *addr, uint64_t len, bool fixed);

/*
 * mmap/munmap/close as system calls: under the LD_PRELOAD shim the libc
 * names are the shim's own wrappers, which must never see the kernel
 * model's calls (they take the shim's model lock, which fork() may hold
 * while it waits for ksgxd: a ksgxd in a wrapper would never come back).
 */
void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int sys_munmap(void *addr, size_t len);
int sys_close(int fd);

/* The local zap of one page, and of the pages of [addr, addr + len). */
int sgx_pte_zap(uint64_t addr);
int sgx_pte_zap_range(uint64_t addr, uint64_t len);

#endif /* SOFTSGX_MM_H */
