/* SPDX-License-Identifier: MIT */
/*
 * Run part of a test on a freshly created thread, which has never entered
 * an enclave (every test that enters one also does so from a new thread):
 * create it, wait for it, and give back what it returned. For the shim test
 * programs and the conformance programs; include after cmocka.h.
 */
#ifndef SOFTSGX_TESTS_NEW_THREAD_H
#define SOFTSGX_TESTS_NEW_THREAD_H

#include <pthread.h>
#include <signal.h>

/* @fn(@arg) on a new thread, joined: what it returned. */
static inline void *run_on_new_thread(void *(*fn)(void *), void *arg)
{
	pthread_t th;
	void *ret;

	assert_int_equal(pthread_create(&th, NULL, fn, arg), 0);
	assert_int_equal(pthread_join(th, &ret), 0);
	return ret;
}

struct body_thread {
	void (*body)(void *);
	void *arg;
};

static inline void *body_thread_main(void *p)
{
	const struct body_thread *t = p;

	t->body(t->arg);
	return NULL;
}

/*
 * @body(@arg) on a new thread that brings nothing of its own: no alternate
 * signal stack (the shim gives every thread one before its first ENCLU).
 */
static inline void run_body_on_new_thread(void (*body)(void *), void *arg)
{
	struct body_thread t = { .body = body, .arg = arg };

	run_on_new_thread(body_thread_main, &t);
}

#endif /* SOFTSGX_TESTS_NEW_THREAD_H */
