// SPDX-License-Identifier: MIT
/*
 * Which real descriptors stand for SGX device files. Placeholders are real
 * (memfd) descriptors, so descriptor numbers, select/poll on them, and
 * close-on-exec behave as the program expects.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "shim.h"

static struct sgx_file *table[SHIM_MAX_FD];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

struct sgx_file *shim_fget(int fd)
{
	struct sgx_file *f;

	if (fd < 0 || fd >= SHIM_MAX_FD)
		return NULL;
	shim_model_get();
	pthread_mutex_lock(&table_lock);
	f = table[fd];
	if (f)
		sgx_file_get(f);
	pthread_mutex_unlock(&table_lock);
	shim_model_put();
	return f;
}

void shim_fd_install(int fd, struct sgx_file *f)
{
	struct sgx_file *old;

	shim_model_get();
	if (fd < 0 || fd >= SHIM_MAX_FD) {
		sgx_file_put(f);
		shim_model_put();
		return;
	}
	pthread_mutex_lock(&table_lock);
	old = table[fd];
	table[fd] = f;
	pthread_mutex_unlock(&table_lock);
	/* A dup2() onto one of ours closed it. Release outside the lock. */
	if (old)
		sgx_file_put(old);
	shim_model_put();
}

struct sgx_file *shim_fd_remove(int fd)
{
	struct sgx_file *f;

	if (fd < 0 || fd >= SHIM_MAX_FD)
		return NULL;
	shim_model_get();
	pthread_mutex_lock(&table_lock);
	f = table[fd];
	table[fd] = NULL;
	pthread_mutex_unlock(&table_lock);
	shim_model_put();
	return f;
}
