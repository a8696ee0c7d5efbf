/* SPDX-License-Identifier: MIT */
/* Audit: server ports the kernel may hand to an outgoing connection. */
#ifndef EPHPORT_AUDIT_H
#define EPHPORT_AUDIT_H

#include "common.h"
#include "owners.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A server port at risk: a listening TCP socket or a bound UDP socket (or
 * a planned port) inside this host's ephemeral range and not reserved,
 * where a restart can find it taken by an outgoing connection; or inside
 * the default range of another system asked about.
 */
struct eph_risk {
	uint16_t port;
	uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP, or 0 for a planned port */
	bool in_range; /* inside this host's range and not reserved: the
			  reservation fixes it */
	uint64_t os_mask; /* the systems asked about (bit I: eph_os_get(I))
			     whose default range holds the port */
	/* The first socket seen on the port (zero for a planned port). */
	uint8_t family;
	uint8_t local[16];
	uint32_t inode, uid;
	uint64_t cgroup_id;
	struct eph_owner owner; /* pid -1 when not found; looked_up false when
				   not looked up; procs live as long as the
				   audit */
};

struct eph_audit_request {
	const struct eph_portset *planned; /* ports to check too, or NULL */
	uint64_t os_mask;		   /* other systems to check against */
	bool owners;			   /* look up the processes */
};

struct eph_audit;

/*
 * Audits CTX's namespace under policy P: one dump of the listeners and
 * one of the UDP sockets bound to a port they named, then the planned
 * ports, then (with REQ->owners) one walk for the processes. One risk per
 * port and protocol: a dual-stack pair is one service. Returns 0 or a
 * negative errno.
 */
int eph_audit_run(struct eph_ctx *ctx, const struct eph_policy *p,
		  const struct eph_audit_request *req, struct eph_audit **ret);
void eph_audit_free(struct eph_audit *a);

/* The risks, by port then protocol. */
size_t eph_audit_count(const struct eph_audit *a);
const struct eph_risk *eph_audit_get(const struct eph_audit *a, size_t i);

/* The ports inside this host's range to reserve (possibly none). */
const struct eph_portset *eph_audit_fix(const struct eph_audit *a);

/*
 * The whole ip_local_reserved_ports value that protects them and keeps
 * what is reserved now.
 */
const struct eph_portset *eph_audit_merged(const struct eph_audit *a);

#ifdef __cplusplus
}
#endif

#endif
