/* SPDX-License-Identifier: MIT */
/* What every unit test shares: one context for the whole group. */
#ifndef EPHPORT_TEST_UNIT_H
#define EPHPORT_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "../helpers.h"

static struct eph_ctx *ctx;

static int setup(void **state)
{
	(void)state;
	ctx = ctx_new();
	return ctx ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	eph_ctx_free(ctx);
	return 0;
}

/*
 * Makes a fresh directory /tmp/ephport-NAME-?????? for a test, its name in
 * BUF (SIZE bytes). Returns BUF, or NULL with errno set.
 */
static inline char *unit_tmpdir(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "/tmp/ephport-%s-", name);

	/* mkdtemp() fills in the six letters that end the template. */
	if (n < 0 || (size_t)n + 7 > size) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	memset(buf + n, 'X', 6);
	buf[n + 6] = '\0';
	return mkdtemp(buf);
}

/* Brings up the loopback of a namespace the test made its own. */
static inline void unit_lo_up(void)
{
	struct ifreq ifr;
	int fd;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
}

#endif
