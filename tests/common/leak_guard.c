// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "encl_fixture.h"
#include "leak_guard.h"
#include "softsgx/softsgx.h"

/* More than any test boots at once (hosts, guests, a VMM's several). */
#define LG_MAX 64

static pthread_mutex_t lg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct softsgx_platform *alive[LG_MAX];
static unsigned int nr_alive;

static struct softsgx_platform *remember(struct softsgx_platform *p)
{
	if (!p)
		return NULL;
	pthread_mutex_lock(&lg_lock);
	/* Past the table the platform is simply not guarded: never lost. */
	if (nr_alive < LG_MAX)
		alive[nr_alive++] = p;
	pthread_mutex_unlock(&lg_lock);
	return p;
}

static void forget(struct softsgx_platform *p)
{
	pthread_mutex_lock(&lg_lock);
	for (unsigned int i = nr_alive; i-- > 0;) {
		if (alive[i] == p) {
			alive[i] = alive[--nr_alive];
			break;
		}
	}
	pthread_mutex_unlock(&lg_lock);
}

struct softsgx_platform *lg_platform_new(const struct softsgx_config *cfg)
{
	return remember(softsgx_platform_new(cfg));
}

struct softsgx_platform *lg_guest_boot(struct softsgx_platform *host, unsigned int nr,
				       void *const base[], const size_t size[])
{
	return remember(softsgx_guest_boot(host, nr, base, size));
}

void lg_guest_reset(struct softsgx_platform *guest)
{
	forget(guest);
	softsgx_guest_reset(guest);
}

void lg_platform_free(struct softsgx_platform *p)
{
	forget(p);
	softsgx_platform_free(p);
}

unsigned int lg_platforms_alive(void)
{
	unsigned int n;

	pthread_mutex_lock(&lg_lock);
	n = nr_alive;
	pthread_mutex_unlock(&lg_lock);
	return n;
}

int lg_teardown(void **state)
{
	unsigned int left = 0;

	(void)state;
	/* The handler may point at a platform about to go. */
	ek_fault_handler_remove();
	for (;;) {
		struct softsgx_platform *p = NULL;

		pthread_mutex_lock(&lg_lock);
		if (nr_alive)
			p = alive[--nr_alive]; /* newest first: guests before hosts */
		pthread_mutex_unlock(&lg_lock);
		if (!p)
			break;
		softsgx_platform_free(p);
		left++;
	}
	if (left)
		fprintf(stderr, "leak guard: the test left %u platform(s); freed\n", left);
	/* A test that passed must have freed what it booted. */
	return left ? -1 : 0;
}
