/* SPDX-License-Identifier: MIT */
/*
 * A client process's SGX through the platform service (issue 16): what the
 * shim will call where Linux enters the kernel. The enclave's kernel side
 * (its files, VMAs, EPC pages, the reclaimer) lives in the service; this
 * process keeps the real page tables: ranges reserved PROT_NONE, and PTEs
 * as MAP_SHARED mappings of the EPC sections' memfds (GET_EPC), made from
 * the PTE operations each reply lists and dropped by the service's zaps,
 * which a thread of this library receives on a second connection (the
 * notify channel) and acknowledges once they are applied.
 *
 * One connection per process, set up by svc_remote_connect(). Every call
 * returns 0 (or a handle) or -errno as Linux's system call would, and -EIO
 * once the service is gone (a connection reset is mapped); none waits
 * longer than the client's timeout. A fault whose answer needs a service
 * that is gone is SIGBUS.
 *
 * Async-signal-safety: svc_remote_fault() is meant for a SIGSEGV handler.
 * It and every call here use system calls only on the way (sendmsg, poll,
 * recvmsg, mmap, process_vm_readv/writev) and static buffers, no malloc and
 * no stdio; calls of different threads are serialized by a spinlock with
 * an owner, so a fault taken by a thread that is inside a call already
 * (a signal handler touching enclave memory while its thread was in an
 * ioctl) is refused (SIGBUS) instead of deadlocking.
 */
#ifndef SOFTSGX_SERVICE_REMOTE_H
#define SOFTSGX_SERVICE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "softsgx/softsgx.h"

/* The verdict of a fault, kernel/driver.h's enum sgx_fault_result. */
enum svc_fault_verdict {
	SVC_FAULT_NOT_OURS, /* no SGX VMA there */
	SVC_FAULT_RETRY,    /* the PTE is there now (or try again) */
	SVC_FAULT_SIGBUS,
	SVC_FAULT_SIGSEGV,
	SVC_FAULT_EPCM, /* SGX2: the EPCM refuses the access */
};

/*
 * Become a client of the service of @dir (NULL: the default directory),
 * started with @bin when none runs (svc_connect_or_start(); @bin NULL: no
 * start, -ENOENT/-ECONNREFUSED then), with @cfg (NULL: the platform as it
 * is). Maps nothing yet; starts the notify thread. -EALREADY when connected.
 * The EPC cgroup it is charged to is $SOFTSGX_CGROUP (`softsgx run
 * --cgroup`), or its own cgroup v2 path when that is unset; -EINVAL for a
 * path the protocol refuses.
 */
int svc_remote_connect(const char *dir, const char *bin, const struct softsgx_config *cfg);
/*
 * Drop the connection: the service releases what this process held, and
 * the SGX ranges mapped here become inaccessible (PROT_NONE), as at exit.
 */
void svc_remote_disconnect(void);
/*
 * In the child of a fork(), before anything else of this library: connect
 * on our own and share the parent's enclaves and vEPCs as Linux's fork()
 * does (the same handles, the same mappings, the EPC pages faulted back
 * in). 0 when the parent was not connected; -ESRCH when it has exited.
 */
int svc_remote_fork_child(const char *dir);

/* open(2) of /dev/sgx_enclave (SVC_OPEN_ENCLAVE), _provision or _vepc: a handle. */
int svc_remote_open(unsigned int type);
int svc_remote_close(int handle);
/*
 * ioctl(2): the memory the command reads travels with it (the SECS, an
 * ADD_PAGES batch of source pages and SECINFO, the SIGSTRUCT, the argument
 * struct), what it writes comes back. A pointer this process cannot read is
 * -EFAULT, as Linux's copy_from_user() gives.
 */
long svc_remote_ioctl(int handle, unsigned long cmd, void *arg);
/*
 * mmap(2) of @handle: the range is reserved here first (at *@addr with
 * MAP_FIXED / MAP_FIXED_NOREPLACE, else where the host puts it), then
 * recorded by the service; *@addr gets its start.
 */
int svc_remote_mmap(void **addr, size_t len, int prot, int flags, int handle, off_t offset);
int svc_remote_munmap(void *addr, size_t len);
int svc_remote_mprotect(void *addr, size_t len, int prot);
/*
 * A page fault at @addr for @access (PROT_READ/WRITE/EXEC, | 0x100 for an
 * access by enclave code, | 0x200 for the walk of an ENCLU operand: the
 * SGX_FAULT_* flags of kernel/driver.h): the PTEs are in place when it
 * returns RETRY.
 * Safe in a signal handler (see above). SIGBUS when the service is gone.
 * Through the fault channel when the service gave one at connect (no
 * socket message: svc_remote_channel_faults()), through the socket when not.
 */
enum svc_fault_verdict svc_remote_fault(void *addr, int access);

/*
 * ENCLU runs in this process, on a view of the service's CPU model (the
 * EPC and the EPCM are shared memory, hw/hw.h sgx_hw_attach()): the view,
 * NULL when not connected.
 */
struct sgx_hw;
struct sgx_hw *svc_remote_hw(void);
/*
 * The walk of this process's page tables an ENCLU leaf makes for an
 * operand at @addr accessed as @prot (one of PROT_READ/WRITE/EXEC): 0 with
 * *@epc the EPC page in the view; -EFAULT when no PTE maps it (a fault,
 * svc_remote_fault(), brings it); -EACCES when its PTE lacks @prot. Safe
 * in a signal handler; never waits.
 */
int svc_remote_translate(uint64_t addr, int prot, void **epc);

/*
 * Whether [@addr, @addr + @len) touches an SGX range mapped through the
 * service (or inherited from a parent, see below). Safe in a signal handler.
 */
bool svc_remote_maps(const void *addr, size_t len);
/*
 * In a child of fork(): the connection is the parent's. Drop this process's
 * copies of its descriptors without telling the service, make the inherited
 * SGX ranges inaccessible (a fault there is SIGBUS; munmap() unmaps them)
 * and become unconnected: svc_remote_connect() makes the child's own.
 */
void svc_remote_forget(void);

/*
 * The service's kick (the model's IPI: reclaim's ETRACK/EWB ladder, SGX2
 * ioctls, an mm's exit, each needing every thread inside an enclave to take
 * an AEX) arrives on the notify thread as a KICK, which calls @fn, then
 * acknowledges: @fn returns once this process's threads inside an enclave
 * have left it. NULL (the default): acknowledged at once. The thread has
 * every signal blocked; @fn must not call into this library.
 */
void svc_remote_set_kick(void (*fn)(void));
/* Tests: KICKs this process has received. */
uint64_t svc_remote_kicks(void);

/*
 * This library's own descriptors (its two connections, the EPC sections'
 * memfds), at most @cap into @out: kept at the top of the descriptor
 * space, and skipped by the shim when the program closes descriptors it
 * did not open (close, close_range, closefrom). The count.
 */
unsigned int svc_remote_fds(int *out, unsigned int cap);

/* Tests: the notify thread stops reading (a client that never acknowledges), or resumes. */
void svc_remote_notify_pause(bool pause);
/* Tests: zaps this process has applied. */
uint64_t svc_remote_zaps(void);
/*
 * Faults the service answered through this process's fault channel
 * (proto.h: struct svc_fchan) since it started; the others took the socket
 * (no channel: a service without them, SOFTSGX_FAULT_CHANNEL=0, or one
 * whose reply once timed out).
 */
uint64_t svc_remote_channel_faults(void);

#endif /* SOFTSGX_SERVICE_REMOTE_H */
