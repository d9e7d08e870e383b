// SPDX-License-Identifier: MIT
/*
 * The platform behind the shim: one CPU model and one kernel model per
 * process, booted the first time the program opens an SGX device.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/shim.h"
#include "shim/thread.h"

struct shim_real real;

static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;
static struct sgx_hw *hw;
static struct sgx_kernel kernel;
static _Atomic(struct sgx_kernel *) kernel_up;

static void resolve(void)
{
	real.open = dlsym(RTLD_NEXT, "open");
	real.openat = dlsym(RTLD_NEXT, "openat");
	real.close = dlsym(RTLD_NEXT, "close");
	real.dup = dlsym(RTLD_NEXT, "dup");
	real.dup2 = dlsym(RTLD_NEXT, "dup2");
	real.dup3 = dlsym(RTLD_NEXT, "dup3");
	real.fcntl = dlsym(RTLD_NEXT, "fcntl");
	real.ioctl = dlsym(RTLD_NEXT, "ioctl");
	real.mmap = dlsym(RTLD_NEXT, "mmap");
	real.munmap = dlsym(RTLD_NEXT, "munmap");
	real.mprotect = dlsym(RTLD_NEXT, "mprotect");
	real.sigaction = dlsym(RTLD_NEXT, "sigaction");
	real.faccessat = dlsym(RTLD_NEXT, "faccessat");
	real.realpath = dlsym(RTLD_NEXT, "realpath");
	real.fopen = dlsym(RTLD_NEXT, "fopen");
	real.fopen64 = dlsym(RTLD_NEXT, "fopen64");
	real.fclose = dlsym(RTLD_NEXT, "fclose");
	real.closefrom = dlsym(RTLD_NEXT, "closefrom");
	real.opendir = dlsym(RTLD_NEXT, "opendir");
	real.fdopendir = dlsym(RTLD_NEXT, "fdopendir");
	real.readdir = dlsym(RTLD_NEXT, "readdir");
	real.closedir = dlsym(RTLD_NEXT, "closedir");
	real.rewinddir = dlsym(RTLD_NEXT, "rewinddir");
}

void shim_resolve_real(void)
{
	pthread_once(&real_once, resolve);
}

/* SGX_IOC_ENCLAVE_PROVISION names a descriptor of this process. */
static struct sgx_file *shim_kernel_fget(struct sgx_kernel *k, int fd, void *data)
{
	(void)k;
	(void)data;
	return shim_fget_nested(fd);
}

static void boot(void)
{
	struct sgx_kernel_config kcfg;
	struct sgx_hw_config cfg;
	int ret;

	/*
	 * OpenSSL's first initialisation registers OPENSSL_cleanup() with
	 * atexit(): exit() would then free its library context and providers
	 * while ksgxd encrypts a page in EWB, or another thread of the program
	 * decrypts one in ELDU or derives a key, and that thread crashes
	 * (SIGSEGV in a fetch, on a freed lock) after the program's work is
	 * done. On Linux those threads just stop at exit. This is the first
	 * OpenSSL call of a process that loads the shim (its constructor runs
	 * before the program's): nothing is freed at exit, the kernel frees it.
	 */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	shim_resolve_real();
	/* The platform is the service's (shim/service.c): no model here. */
	if (shim_service_mode()) {
		shim_service_boot();
		return;
	}
	ret = shim_config_from_env(&cfg);
	if (ret) {
		fprintf(stderr, "softsgx: bad platform configuration in the environment\n");
		return;
	}
	hw = sgx_hw_new(&cfg);
	if (!hw) {
		fprintf(stderr, "softsgx: cannot power on the CPU model: %s\n", strerror(errno));
		return;
	}
	shim_root_key_load(hw);
	sgx_kernel_config_from_hw(&kcfg, hw);
	ret = sgx_kernel_init(&kernel, &kcfg);
	if (ret) {
		fprintf(stderr, "softsgx: cannot boot the kernel model: %s\n", strerror(-ret));
		sgx_hw_free(hw);
		hw = NULL;
		return;
	}
	kernel.fget = shim_kernel_fget;
	kernel.kick = shim_kick;
	/* Before the signal handlers: a fault in a copy needs them, but none runs yet. */
	shim_uaccess_init();
	/* After boot: the timeline starts with the program, not with sanitization. */
	shim_trace_init(hw);
	shim_signals_init();
	shim_fork_init();
	atomic_store(&kernel_up, &kernel);
}

/*
 * Boot when the library loads, not at the first open(): on Linux opening the
 * device takes no address space, so a program may pick an ELRANGE from
 * space it just freed and then open the device; a platform booted at that
 * moment could place its EPC mapping right there.
 */
__attribute__((constructor)) static void shim_boot_at_load(void)
{
	struct sgx_kernel *k = shim_kernel();

	/* After boot, not in it: the file's open() comes back through our wrappers. */
	if (k)
		shim_stats_start(k);
}

struct sgx_kernel *shim_kernel(void)
{
	pthread_once(&boot_once, boot);
	return atomic_load(&kernel_up);
}

struct sgx_kernel *shim_kernel_if_up(void)
{
	return atomic_load(&kernel_up);
}
