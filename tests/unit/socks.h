/* SPDX-License-Identifier: MIT */
/* Sockets made by hand, as the scanner would report them, for the tests. */
#ifndef EPHPORT_TEST_SOCKS_H
#define EPHPORT_TEST_SOCKS_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "unit.h"

static inline void v4(uint8_t a[16], const char *s)
{
	memset(a, 0, 10);
	a[10] = a[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, s, a + 12), 1);
}

/* A TCP socket LOCAL:LPORT -> REMOTE:RPORT in STATE; its inode is LPORT. */
static inline struct eph_sock sk(const char *local, uint16_t lport,
				 const char *remote, uint16_t rport,
				 uint8_t state)
{
	struct eph_sock s;

	memset(&s, 0, sizeof(s));
	s.family = AF_INET;
	s.proto = IPPROTO_TCP;
	s.state = state;
	s.local_port = lport;
	s.remote_port = rport;
	v4(s.local, local);
	v4(s.remote, remote);
	s.inode = lport;
	return s;
}

/* A TIME_WAIT AGE_MS old: no inode, the timer running. */
static inline struct eph_sock tw(const char *local, uint16_t lport,
				 const char *remote, uint16_t rport,
				 uint32_t age_ms)
{
	struct eph_sock s = sk(local, lport, remote, rport, EPH_TCP_TIME_WAIT);

	s.timer = 3;
	s.inode = 0;
	s.expires_ms = 60000 - age_ms;
	return s;
}

#endif
