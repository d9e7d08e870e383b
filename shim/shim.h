/* SPDX-License-Identifier: MIT */
/*
 * libsoftsgx-preload.so: the uAPI boundary for unmodified programs. It holds
 * no SGX logic; it translates the process's system calls on SGX device files
 * and its page faults into calls of the kernel model.
 */
#ifndef SOFTSGX_SHIM_H
#define SOFTSGX_SHIM_H

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>
#include <ucontext.h>

#include "kernel/driver.h"
/* The synthetic vDSO and __vdso_sgx_enter_enclave, with the ENCLU contract. */
#include "shim/vdso.h"

/*
 * The kernel model's fault-proof copies of the program's memory (uaccess.c):
 * shim_uaccess_init() registers them at boot; shim_uaccess_fixup() is the
 * fault handler's first question for SIGSEGV and SIGBUS, true when it moved
 * RIP of a faulting copy to the copy's -EFAULT exit.
 */
void shim_uaccess_init(void);
bool shim_uaccess_fixup(ucontext_t *uc);

/* The kernel model serving this process, created on first use of a device. */
struct sgx_kernel *shim_kernel(void);
/* NULL until something opened an SGX device. */
struct sgx_kernel *shim_kernel_if_up(void);

/*
 * Service mode (shim/service.c; `softsgx run --service`, SOFTSGX_SERVICE=1):
 * no platform in the process, no kernel model (shim_kernel() stays NULL);
 * SGX descriptors hold handles of the platform service. Each shim_svc_*
 * call returns false (or acts on nothing) for what is not an SGX descriptor
 * or mapping of the service; errors are -errno, or errno for mmap/munmap.
 */
bool shim_service_mode(void);
void shim_service_boot(void);
int shim_svc_open(enum sgx_file_type type, int flags);
bool shim_svc_fd_present(int fd);
/* The type of @fd when it is an SGX descriptor of the service (fstat, /proc/self/fd). */
bool shim_svc_fd_type(int fd, enum sgx_file_type *type);
/* @fd was closed: drop its entry (the last one closes the handle). */
void shim_svc_closed(int fd);
void shim_svc_dup(int oldfd, int newfd);
void shim_svc_forget_range(unsigned int first, unsigned int last, bool check);
bool shim_svc_ioctl(int fd, unsigned long request, unsigned long arg, long *ret);
bool shim_svc_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, void **out);
bool shim_svc_range(void *addr, size_t len, bool unmap, int prot, int *ret);
/* SIGSEGV outside any enclave (@access as shim_pf_access()): the signal to deliver, 0 for none. */
int shim_svc_fault(const siginfo_t *si, int access);

/*
 * The CPU an ENCLU of this process runs on (shim/cpu.c): the platform's
 * CPU model and the page tables its leaves walk. Private mode: the
 * process's own platform and kernel model; service mode: a view of the
 * service's CPU model over the shared EPC and EPCM, and this process's
 * PTEs (service/remote.h).
 */
struct shim_cpu {
	struct sgx_hw *hw;
	/* The walk: 0 and *@epc, -EFAULT (not present) or -EACCES, as sgx_translate(). */
	int (*translate)(uint64_t addr, int prot, void **epc);
	/* A #PF the OS resolves, as sgx_handle_fault() answers it. */
	enum sgx_fault_result (*fault)(uint64_t addr, int access);
};
/* NULL while there is none (no platform booted, no service connection). */
const struct shim_cpu *shim_cpu(void);

/* Descriptor table: real placeholder fd -> open SGX file. */
#define SHIM_MAX_FD 65536
/* The file behind @fd with a reference, or NULL when @fd is not ours. */
struct sgx_file *shim_fget(int fd);
/* Install @f (its reference moves to the table) at @fd. */
void shim_fd_install(int fd, struct sgx_file *f);
/* Remove @fd; returns the file whose reference the caller now owns, or NULL. */
struct sgx_file *shim_fd_remove(int fd);
/*
 * shim_fget() for callers inside the kernel model (SGX_IOC_ENCLAVE_PROVISION):
 * a stale entry it finds is released later, on the table's own thread.
 */
struct sgx_file *shim_fget_nested(int fd);
/* Whether @fd has an entry, without checking it (no lock, no system call). */
bool shim_fd_present(int fd);
/*
 * Descriptors [@first, @last] were closed behind the table (close_range,
 * closefrom): drop their entries, or, when @check, only those whose
 * descriptor is gone or another file now.
 */
void shim_fd_forget_range(unsigned int first, unsigned int last, bool check);
/*
 * @fd is in no entry but may be a raw copy of an SGX descriptor: when its
 * memfd (identity @st, or fstat()ed here) is an entry's, @fd gets an entry
 * too. The file with a reference, or NULL. Cheap when the table is empty.
 */
struct stat;
struct sgx_file *shim_fget_by_identity(int fd, const struct stat *st);
struct sgx_file *shim_fget_untracked(int fd);

/* libc's own functions, looked up behind the shim's wrappers. */
struct shim_real {
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	int (*mprotect)(void *, size_t, int);
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	int (*faccessat)(int, const char *, int, int);
	char *(*realpath)(const char *, char *);
	FILE *(*fopen)(const char *, const char *);
	FILE *(*fopen64)(const char *, const char *);
	int (*fclose)(FILE *);
	void (*closefrom)(int); /* NULL before glibc 2.34 */
	DIR *(*opendir)(const char *);
	DIR *(*fdopendir)(int);
	struct dirent *(*readdir)(DIR *);
	int (*closedir)(DIR *);
	void (*rewinddir)(DIR *);
};
extern struct shim_real real;
void shim_resolve_real(void);

/* Signals: our SIGSEGV handler, and the program's handlers kept behind it. */
void shim_signals_init(void);
/* true when @sig is one the shim owns; @act/@old as for sigaction(2). */
bool shim_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

struct shim_thread;
/*
 * Whether @sig was raised by an ENCLU instruction at RIP: SIGILL (#UD) on a
 * CPU without SGX, SIGSEGV (#GP, or #PF on the TCS) on one whose SGX is
 * present but disabled.
 */
bool shim_enclu_trapped(int sig, const siginfo_t *si, const ucontext_t *uc);
/*
 * @sig at an ENCLU instruction: run the leaf; 0 when handled, else the
 * signal to deliver. *@t is created for a thread's first ENCLU.
 */
int shim_enclu_trap(int sig, ucontext_t *uc, struct shim_thread **t);
/*
 * The first three bytes of the enclave instruction at @uc's RIP for @t,
 * inside, into @buf (0); or 1 when its page is not resident, after an AEX
 * that leaves the instruction to run again from the AEP; -1 when @t is not
 * inside.
 */
int shim_enclave_insn(ucontext_t *uc, struct shim_thread *t, uint8_t buf[3]);
/* A signal while @t is inside an enclave: 0 when handled, else the signal to deliver. */
int shim_enclave_fault(int sig, siginfo_t *si, ucontext_t *uc, struct shim_thread *t);
/* The access (PROT_READ, PROT_WRITE or PROT_EXEC) of a #PF error code (X86_PF_*). */
int shim_pf_access(uint64_t err);

/*
 * Extended state between a signal frame and the CPU model's register file
 * (xstate.c): the frame's XSAVE image (or FXSAVE image) into @regs, and
 * @regs back into the frame for sigreturn to load.
 */
struct sgx_cpu_regs;
void shim_xstate_from_uc(struct sgx_cpu_regs *regs, const ucontext_t *uc);
void shim_xstate_to_uc(ucontext_t *uc, const struct sgx_cpu_regs *regs);
/* An enclave with @xfrm under XCR0 @host_xcr0 may overrun XFRM-sized XSAVE buffers. */
bool shim_xfrm_overrun_risk(uint64_t xfrm, uint64_t host_xcr0);
/* Say so on stderr, once per process (call after a successful EENTER). */
void shim_xstate_check_xfrm(uint64_t xfrm, uint64_t host_xcr0);

/*
 * CPUID as the model's CPU (shim/cpuid.c). The shim turns CPUID faulting on
 * when it loads; shim_cpuid_active() says whether that worked.
 */
bool shim_cpuid_active(void);
/* Whether @sig is the #GP of a CPUID instruction at RIP under CPUID faulting. */
bool shim_cpuid_trapped(int sig, const siginfo_t *si, const ucontext_t *uc);
/* Outside an enclave: the model's answer into @uc, RIP past CPUID; 0 when done. */
int shim_cpuid_emulate(ucontext_t *uc);

/*
 * Whether SYSCALL, SYSENTER and INT 0x80 inside an enclave raise #UD as on
 * hardware (Syscall User Dispatch, shim/sud.c); without it they reach the
 * host kernel. For `softsgx info` and tests.
 */
bool shim_sud_active(void);

/*
 * An interrupt for @t, inside an enclave at @uc: the AEX to the AEP. @kick:
 * SHIM_SIG_KICK, counted for shim_kick(); else a signal of the program's.
 */
void shim_enclave_interrupted(ucontext_t *uc, struct shim_thread *t, bool kick);

/*
 * The program's signal mask (shim/sigmask.c). The signals the shim owns
 * (shim_sig_owned(), a bit per signal, bit 0 for signal 1) are never
 * blocked in the kernel; the program's blocking of them is per-thread
 * state here.
 */
void shim_sigmask_init(void);
uint64_t shim_sig_owned(void);
uint64_t shim_sigmask_virtual(void);
/* Set the virtual part; signals kept pending for it and now unblocked are raised. */
void shim_sigmask_set_virtual(uint64_t mask);
/* Whether the program blocks @sig, one of ours; keep an asynchronous one pending. */
bool shim_sig_blocked(int sig);
void shim_sig_pend(int sig);

/*
 * Make the shim's handler return into the program's handler @act for @sig
 * through a signal frame built as Linux builds one (shim/sigframe.c),
 * rewriting @uc; false when the kernel's frame is not the expected layout.
 */
bool shim_sigframe_deliver(int sig, const siginfo_t *si, ucontext_t *uc,
			   const struct sigaction *act);

/*
 * The model lock: held shared by every entry from the shim into the kernel
 * model, exclusively by fork() (shim/fork.c) so the child's copy of the
 * model has no lock held by a thread that does not exist there.
 */
void shim_model_get(void);
void shim_model_put(void);
void shim_fork_init(void);

/* Load the platform root key from the user's state directory, creating it once. */
struct sgx_hw;
void shim_root_key_load(struct sgx_hw *hw);

/*
 * Publish @k's EPC use in a stats file for `softsgx top` (shim/stats.c),
 * refreshed by a thread of ours until exit. Does nothing when
 * SOFTSGX_STATS=0; a failure is reported on stderr and is not fatal.
 */
void shim_stats_start(struct sgx_kernel *k);

/* Platform configuration from SOFTSGX_EPC, SOFTSGX_SECTIONS, SOFTSGX_SGX1. */
struct sgx_hw_config;
int shim_config_from_env(struct sgx_hw_config *cfg);

/* SOFTSGX_TRACE: attach a recorder to @hw and write it at exit (shim/trace.c). */
void shim_trace_init(struct sgx_hw *hw);
/* The start time of an event when @k is traced, else 0. */
uint64_t shim_trace_begin(struct sgx_hw *hw);
/*
 * ENCLU leaf @leaf ran for @t from @t0, with RBX = @rbx on entry, the thread
 * inside an enclave before it when @was_inside, and returned @ret.
 */
void shim_trace_enclu(struct sgx_hw *hw, struct shim_thread *t, uint64_t t0, uint32_t leaf,
		      uint64_t rbx, bool was_inside, int ret);
/* An AEX of @t for exception @vector (@addr: the #PF address) ran from @t0. */
void shim_trace_aex(struct sgx_hw *hw, struct shim_thread *t, uint64_t t0,
		    unsigned int vector, uint64_t addr);

#endif /* SOFTSGX_SHIM_H */
