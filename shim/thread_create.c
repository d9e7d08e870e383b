// SPDX-License-Identifier: MIT
/*
 * pthread_create(), interposed: every new thread gets its record and the
 * shim's alternate signal stack before it runs any of the program's code,
 * so its first ENCLU (or its first signal inside an enclave) finds a stack
 * for the shim's handler; and it inherits its creator's virtual signal
 * mask (shim/sigmask.c), as it inherits the real one from the kernel.
 * Threads made otherwise (raw clone(), C11 thrd_create() inside glibc)
 * get both at their first ENCLU, from the shim's handler.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>

#include "shim/shim.h"
#include "shim/thread.h"

struct start {
	void *(*fn)(void *);
	void *arg;
	sigset_t mask; /* the creator's, real and virtual */
};

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static void *thread_start(void *p)
{
	struct start s = *(struct start *)p;

	free(p);
	shim_thread_self();
	pthread_sigmask(SIG_SETMASK, &s.mask, NULL);
	return s.fn(s.arg);
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static pthread_create_fn real_create;
	struct start *s;
	sigset_t all, saved;
	int ret;

	if (!real_create)
		real_create = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
	if (!real_create)
		return EAGAIN;
	s = malloc(sizeof(*s));
	if (!s)
		return EAGAIN;
	s->fn = fn;
	s->arg = arg;
	/* No signal before the new thread has its alternate stack. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	s->mask = saved;
	ret = real_create(th, attr, thread_start, s);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (ret)
		free(s);
	return ret;
}
