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

struct altstack_thread {
	void (*body)(void *);
	void *arg;
};

static inline void *altstack_thread_main(void *p)
{
	static char altstack[65536];
	const struct altstack_thread *t = p;
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};

	/*
	 * Workaround, to be removed: without an alternate signal stack, the
	 * first exception inside the enclave on a thread the shim did not give
	 * one to kills the process (its SIGSEGV frame goes onto the enclave's
	 * stack). The signals/threads work owns the fix.
	 */
	assert_int_equal(sigaltstack(&ss, NULL), 0);
	t->body(t->arg);
	return NULL;
}

/*
 * @body(@arg) on a new thread with an alternate signal stack of its own
 * (one such thread at a time: they share the stack).
 */
static inline void run_on_new_thread_altstack(void (*body)(void *), void *arg)
{
	struct altstack_thread t = { .body = body, .arg = arg };

	run_on_new_thread(altstack_thread_main, &t);
}

#endif /* SOFTSGX_TESTS_NEW_THREAD_H */
