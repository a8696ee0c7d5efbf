/* SPDX-License-Identifier: MIT */
/*
 * Picking a server port: ten rules a port must pass, each verdict with the
 * numbers behind it, and a choice that is stable per service name.
 */
#ifndef EPHPORT_PICK_H
#define EPHPORT_PICK_H

#include "common.h"
#include "assignments.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The systems a pick stays clear of by default, for eph_os_parse_list(). */
#define EPH_PICK_SYSTEMS_DEFAULT "linux,freebsd,macos,windows,iana"

/* The common rule: nmap's most often open ports, as many as nmap scans. */
#define EPH_PICK_COMMON_TOP 1000u

/* The rules, in the order they are checked. */
enum eph_pick_rule {
	EPH_PICK_RULE_PRIVILEGED, /* not below ip_unprivileged_port_start */
	EPH_PICK_RULE_HOST_RANGE, /* outside this namespace's ephemeral range */
	EPH_PICK_RULE_OS_RANGE,	  /* outside every target system's range */
	EPH_PICK_RULE_REGISTERED, /* not registered for TCP or UDP (IANA) */
	EPH_PICK_RULE_BROWSER,	  /* not a port browsers refuse */
	EPH_PICK_RULE_COMMON,	  /* not among nmap's most often open ports */
	EPH_PICK_RULE_RESERVED,	  /* not in ip_local_reserved_ports */
	EPH_PICK_RULE_ASSIGNED,	  /* not assigned to another name */
	EPH_PICK_RULE_IN_USE,	  /* no TCP or UDP socket has it, any state */
	EPH_PICK_RULE_BINDABLE,	  /* TCP and UDP, IPv4 and IPv6 bind now */
	EPH_PICK_RULE__COUNT
};

/*
 * The rules before this one depend only on configuration (ranges, the
 * registries, the options), so they give the same candidates on every host
 * with the same settings: the stable choice indexes those.
 */
#define EPH_PICK_RULE__CONFIG EPH_PICK_RULE_RESERVED

/*
 * The stable code of RULE ("privileged", "host-range", "os-range",
 * "registered", "browser-blocked", "common", "reserved", "assigned",
 * "in-use", "bindable"), or NULL for an unknown rule. Static storage.
 */
const char *eph_pick_rule_name(enum eph_pick_rule rule);

/*
 * One rule's verdict on one port. Only the fields that belong to RULE are
 * set; the others are zero.
 */
struct eph_pick_verdict {
	enum eph_pick_rule rule;
	bool pass;
	/* COMMON without avoid_common: not checked; it passes. */
	bool skipped;
	/*
	 * The port fails the test but an option lets it pass: PRIVILEGED with
	 * privileged, REGISTERED with allow_registered.
	 */
	bool allowed;

	/* PRIVILEGED: ip_unprivileged_port_start. */
	uint32_t unprivileged_start;
	/* HOST_RANGE: this namespace's ephemeral range. */
	uint16_t host_low, host_high;
	/* OS_RANGE: the target systems whose range holds the port (a mask of
	 * eph_os_get() rows; 0 when it passes). */
	uint64_t systems;
	/* REGISTERED: the first name registered for the port (NULL when
	 * none), and the file read (NULL when none could be, which only
	 * allow_registered permits); both owned by the picker. */
	const char *service;
	const char *services_path;
	/* COMMON: how many of nmap's ports count as common. */
	uint32_t common_top;
	/* ASSIGNED, when it fails: the other name's assignment. */
	struct eph_assignment assignment;
	/* IN_USE: the sockets whose local port it was at the picker's scan
	 * (at most 65535). */
	uint32_t sockets;
	/* BINDABLE: what was tried (EPH_PROTO_*, EPH_FAMILY_*; IPv6 is left
	 * out where the namespace has none) and, when it fails, the first
	 * bind that failed: IPPROTO_TCP or IPPROTO_UDP, AF_INET or AF_INET6,
	 * and its errno. */
	uint32_t protos, families;
	uint8_t bind_proto;
	int bind_family;
	int bind_errno;
};

/* What a picker is made from. Zeroed fields take the defaults given. */
struct eph_pick_options {
	/* The systems whose default ephemeral ranges to stay out of, a mask
	 * from eph_os_parse_list() (EPH_PICK_SYSTEMS_DEFAULT is the usual
	 * one); 0: none. */
	uint64_t systems;
	/* The candidates; 0, 0: from ip_unprivileged_port_start (1 with
	 * privileged) to 65535. */
	uint16_t range_low, range_high;
	bool privileged;       /* ports below the threshold pass */
	bool allow_registered; /* registered ports pass */
	bool avoid_common;     /* check the common rule */
	/* The IANA registry; NULL: EPH_SERVICES_IANA, else EPH_SERVICES_ETC. */
	const char *services_path;
	/* nmap's table, read with avoid_common; NULL: EPH_SERVICES_NMAP. */
	const char *common_path;
	/* The host policy to judge by; NULL: read from the context's
	 * namespace. A copy is kept. */
	const struct eph_policy *policy;
	/* The store the assigned rule looks at, and a name's assignment comes
	 * from; NULL: nothing is assigned. Borrowed: it must outlive the
	 * picker. */
	const struct eph_assignments *assignments;
};

struct eph_pick;

/*
 * Makes a picker bound to CTX: reads the policy (unless given), the IANA
 * registry, nmap's table (with avoid_common) and the sockets in use (one
 * scan of the namespace). Returns 0, or a negative errno: -EINVAL (an
 * inverted range, unknown systems), -ENOENT when no registry could be read
 * (the detail names the files), the policy's or the scan's failure.
 */
int eph_pick_new(struct eph_ctx *ctx, const struct eph_pick_options *opts,
		 struct eph_pick **ret);
void eph_pick_free(struct eph_pick *p);

/* The policy the rules judge by; owned by P. */
const struct eph_policy *eph_pick_policy(const struct eph_pick *p);

/* The IANA registry file read, or NULL when none was; owned by P. */
const char *eph_pick_services_path(const struct eph_pick *p);

/* The candidates' window: the range given, or the default one. */
void eph_pick_window(const struct eph_pick *p, uint16_t *ret_low,
		     uint16_t *ret_high);

/*
 * Applies RULE to PORT for a service NAME (NULL: none; a port assigned to
 * NAME itself passes the assigned rule) and fills *RET. The bindable rule
 * makes and closes test sockets in the context's namespace; the others
 * look at what the picker loaded. Returns 1 (passes), 0 (fails), or a
 * negative errno (-EINVAL for an unknown rule, a bind probe that could not
 * make a socket).
 */
int eph_pick_check(struct eph_pick *p, uint16_t port, enum eph_pick_rule rule,
		   const char *name, struct eph_pick_verdict *ret);

/*
 * Applies every rule to PORT, in order, into RET[EPH_PICK_RULE__COUNT].
 * Returns the number of rules it fails (0: it passes them all), or a
 * negative errno.
 */
int eph_pick_explain(struct eph_pick *p, uint16_t port, const char *name,
		     struct eph_pick_verdict *ret);

enum eph_pick_outcome {
	EPH_PICK_DONE,	  /* every port asked for was found */
	EPH_PICK_COVERED, /* refused: the ranges leave no candidate at all */
	EPH_PICK_SHORT,	  /* refused: fewer candidates pass than asked */
};

/* What became of a name's assignment. */
enum eph_pick_keep {
	EPH_PICK_UNNAMED, /* no name was given */
	EPH_PICK_NEW,	  /* the name had no assignment */
	EPH_PICK_KEPT,	  /* its port still passes: it is the answer */
	EPH_PICK_MOVED,	  /* its port no longer passes: a new one */
};

struct eph_pick_result {
	enum eph_pick_outcome outcome;
	uint32_t found; /* ports written, COUNT when DONE */
	enum eph_pick_keep keep;
	/* KEPT, MOVED: the name's assignment as it was. */
	struct eph_assignment previous;
	/* MOVED: why, either its port lies outside the window, or the first
	 * rule of configuration it fails. */
	bool outside_window;
	enum eph_pick_rule moved_by;
	/* The window of candidates. */
	uint16_t window_low, window_high;
	/* COVERED: a smallest set of ranges that covers the window between
	 * them: the threshold below which ports are privileged when it is
	 * one (else 0), whether this host's range is one, and the target
	 * systems that are (a mask of eph_os_get() rows). */
	uint32_t floor;
	bool host_covers;
	uint64_t systems_covering;
	/* SHORT: for each rule, the ports of the window that fail it first;
	 * and the rule that eliminated the most. */
	uint32_t tally[EPH_PICK_RULE__COUNT];
	enum eph_pick_rule worst;
};

/*
 * Picks COUNT ports into RET_PORTS (room for COUNT). With NAME (then COUNT
 * is 1): NAME's assignment while its port lies in the window and passes
 * the rules of configuration (its service may listen on it, or have
 * reserved it: no reason to move); otherwise the first port that passes
 * every rule, walking the candidates that pass the rules of configuration
 * from the one a hash of NAME (FNV-1a) indexes, so that the same name gets
 * the same port on every host with the same settings where it is free.
 * Without NAME the walk starts at a random candidate. Nothing is recorded:
 * that is eph_assignments_set() and eph_assignments_commit().
 * Returns 0 and fills *RET (see its outcome), or a negative errno: -EINVAL
 * (COUNT 0, NAME with COUNT above 1, an invalid NAME), -ENOMEM, a bind
 * probe's failure.
 */
int eph_pick_run(struct eph_pick *p, const char *name, uint32_t count,
		 uint16_t *ret_ports, struct eph_pick_result *ret);

#ifdef __cplusplus
}
#endif

#endif
