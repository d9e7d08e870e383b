// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/common/encl_fixture.h"
#include "hw/hw.h"
#include "tests/common/leak_guard.h"
#include "softsgx/softsgx.h"

/* More than any test boots at once (hosts, guests, a VMM's several). */
#define LG_MAX 64

static pthread_mutex_t lg_lock = PTHREAD_MUTEX_INITIALIZER;
/* A platform, or a CPU model alone: freed by its own function. */
static struct alive {
	void *obj;
	bool hw;
} alive[LG_MAX];
static unsigned int nr_alive;

static void *remember(void *obj, bool hw)
{
	if (!obj)
		return NULL;
	pthread_mutex_lock(&lg_lock);
	/* Past the table the object is simply not guarded: never lost. */
	if (nr_alive < LG_MAX)
		alive[nr_alive++] = (struct alive){obj, hw};
	pthread_mutex_unlock(&lg_lock);
	return obj;
}

static void forget(void *obj)
{
	pthread_mutex_lock(&lg_lock);
	for (unsigned int i = nr_alive; i-- > 0;) {
		if (alive[i].obj == obj) {
			/* Keep the order: teardown frees newest first. */
			memmove(&alive[i], &alive[i + 1], (nr_alive - i - 1) * sizeof(alive[0]));
			nr_alive--;
			break;
		}
	}
	pthread_mutex_unlock(&lg_lock);
}

struct softsgx_platform *lg_platform_new(const struct softsgx_config *cfg)
{
	return remember(softsgx_platform_new(cfg), false);
}

struct softsgx_platform *lg_guest_boot(struct softsgx_platform *host, unsigned int nr,
				       void *const base[], const size_t size[])
{
	return remember(softsgx_guest_boot(host, nr, base, size), false);
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

struct sgx_hw *lg_hw_new(const struct sgx_hw_config *cfg)
{
	return remember(sgx_hw_new(cfg), true);
}

void lg_hw_free(struct sgx_hw *hw)
{
	forget(hw);
	sgx_hw_free(hw);
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
		struct alive a = {0};

		pthread_mutex_lock(&lg_lock);
		if (nr_alive)
			a = alive[--nr_alive]; /* newest first: guests before hosts */
		pthread_mutex_unlock(&lg_lock);
		if (!a.obj)
			break;
		if (a.hw)
			sgx_hw_free(a.obj);
		else
			softsgx_platform_free(a.obj);
		left++;
	}
	if (left)
		fprintf(stderr, "leak guard: the test left %u platform(s); freed\n", left);
	/* A test that passed must have freed what it booted. */
	return left ? -1 : 0;
}
