/* SPDX-License-Identifier: MIT */
/*
 * The shapes every front end prints: one JSON shape for an owner, a
 * socket, a policy, a namespace's usage and a server at risk, and the text
 * forms they share. The commands and the exporter print the same objects.
 */
#ifndef EPHPORT_CLI_SHAPES_H
#define EPHPORT_CLI_SHAPES_H

#include <stdio.h>

#include "ephport/ephport.h"
#include "json.h"

/* "ipv4" or "ipv6". */
const char *shape_family(uint8_t family);

/* The user name of UID, or its number, into BUF. Returns BUF. */
const char *shape_user(uint32_t uid, char *buf, size_t size);

/* "10.0.0.2:443" or "[2001:db8::1]:443". Returns BUF. */
const char *shape_endpoint(const uint8_t addr[16], uint16_t port, char *buf,
			   size_t size);

/* The systems of MASK, "freebsd 10000-65535, ...", into BUF. Returns BUF. */
const char *shape_systems(uint64_t mask, char *buf, size_t size);

/*
 * The N processes P, those of one name together ("nginx[100, 101],
 * sshd[5]"), the first MAX of them, then "and K more". Returns BUF.
 */
const char *shape_procs(const struct eph_owner_proc *p, size_t n, size_t max,
			char *buf, size_t size);
/* The same, onto F, whatever its length. */
void shape_procs_put(FILE *f, const struct eph_owner_proc *p, size_t n,
		     size_t max);

/*
 * The processes holding a socket ("comm[pid]", "comm[pid, pid]": every
 * one, the first four named), or "uid N (process not found)", or "uid N
 * (not looked up)". Returns BUF.
 */
const char *shape_process(const struct eph_owner *o, uint32_t uid, char *buf,
			  size_t size);

/*
 * {"pid","command","user","uid","cgroup","unit","container","processes",
 * "parent_first","looked_up"}: the processes holding a socket (O may be
 * NULL, looked_up then null, or have pid -1: not found) and the socket's
 * user. A TIME_WAIT has neither (HAS_UID false).
 */
void shape_owner(struct json *j, const char *key, const struct eph_owner *o,
		 bool has_uid, uint32_t uid);

/* KEY: [{"pid","ppid","command"}] for the N processes P. */
void shape_procs_json(struct json *j, const char *key,
		      const struct eph_owner_proc *p, size_t n);

/* The members of a socket, inside an object already open. */
void shape_sock_members(struct json *j, const struct eph_sock *s);

/* The policy's members (range, reserved, knobs, warnings; WITH_OS: the
 * other systems), inside an object already open. */
void shape_policy(struct json *j, const struct eph_policy *p, bool with_os);

/*
 * A namespace's usage (range, blocked ports with their owners, tcp, udp)
 * inside an object already open, from snapshot S.
 */
void shape_usage(struct json *j, const struct eph_snapshot *s);

/*
 * Who holds the ports (usage --by): the consumers counted, and the
 * snapshots of the ranking's sources they were counted from.
 */
struct shape_by {
	enum eph_by by;
	const struct eph_consumers *c;
	const struct eph_snapshot *const *snaps;
	size_t per_dest; /* text: consumers named under each destination */
};

/* One destination row; NETNS labels it when not NULL; BY (or NULL) adds
 * its "consumers". */
void shape_tuple(struct json *j, const struct eph_rank_row *row,
		 const char *netns, const struct shape_by *by);
/* A consumer's name as the tables print it ("nginx.service", "curl[42]",
 * "(TIME_WAIT, closed)"), into BUF. Returns BUF. */
const char *shape_consumer_name(enum eph_by by, const struct eph_consumer *x,
				char *buf, size_t size);
/* The same for text, with long hex ids cut ("docker-0123456789ab....scope"). */
const char *shape_consumer_label(enum eph_by by, const struct eph_consumer *x,
				 char *buf, size_t size);
/* {"kind","name",...,"sockets"[,"destinations"]}: SHARE (or NULL: its
 * totals) is its count toward one destination. */
void shape_consumer(struct json *j, enum eph_by by,
		    const struct eph_consumer *x, const uint32_t *share);
/* "by", "consumers" (the TOP fullest; 0: all), "other_consumers". */
void shape_consumers(struct json *j, const struct shape_by *by, size_t top);
/* Text: the consumers' table, the TOP fullest (0: all). */
void shape_consumers_text(const struct shape_by *by, size_t top, FILE *f);
/* "container docker:0123456789ab [of pod UID]", "unit nginx.service" or
 * "cgroup PATH" for a cgroup path, into BUF; NULL for "/" or "". */
const char *shape_cgroup_text(const char *path, char *buf, size_t size);
/* The same, short: "docker:0123456789ab", "nginx.service"; NULL when the
 * path names neither. */
const char *shape_cgroup_short(const char *path, char *buf, size_t size);
/* ROW's tuple as JSON members (its protocol, addresses, counts, level),
 * inside an object the caller opened and closes. */
void shape_tuple_members(struct json *j, const struct eph_rank_row *row,
			 const char *netns);

/* The audit's "at_risk" array, "reserve" and "reserve_ports" members. */
void shape_audit(struct json *j, const struct eph_audit *a,
		 const struct eph_policy *p);

/* Text: the summary lines of a policy, and its warnings. */
void shape_policy_text(const struct eph_policy *p, FILE *f);
void shape_warnings_text(const struct eph_policy *p, FILE *f);

/* Text: a namespace's usage lines (range, blockers, TCP, UDP). */
void shape_usage_text(const struct eph_snapshot *s, const char *indent,
		      FILE *f);

/* Text: the destinations table; WITH_NS adds a NETNS column from LABELS;
 * BY (or NULL) names who holds each destination's ports. */
void shape_table_text(const struct eph_ranking *r, const char *const *labels,
		      bool with_ns, const struct shape_by *by, FILE *f);

/* Text: the audit's table and the reservation that fixes it; PREFIX is
 * "ephport [--netns NS] ". Returns true when something is at risk. */
bool shape_audit_text(const struct eph_audit *a, const struct eph_policy *p,
		      uint64_t os_mask, bool persistent, const char *prefix,
		      FILE *f);

/* ---- The tracer's record: when history is used, and without it, what
 * could be off ---- */

/* What the blind spots of a socket dump can make wrong (a mask). */
/* Free counts: bound-first and accepted connections. */
#define HISTORY_DOUBT_BLOCKING EPH_USAGE_DOUBT_BLOCKING
/* TIME_WAIT reuse. */
#define HISTORY_DOUBT_TIMESTAMPS EPH_USAGE_DOUBT_TIMESTAMPS
/* Why: holder kinds, and a TIME_WAIT's process. */
#define HISTORY_DOUBT_KINDS (1u << 2)

/*
 * One paragraph on REC (NULL: none was read), wrapped after INDENT; with
 * the record unused, what DOUBTS could be off.
 */
void shape_history_text(FILE *f, const char *indent,
			const struct eph_record *rec, uint32_t doubts);

/* The "history" member: {"state","used","since","recorder_pid",...}. */
void shape_history(struct json *j, const struct eph_record *rec,
		   uint32_t doubts);

/* The same for snapshot S (taken with EPH_SNAPSHOT_HISTORY): its record,
 * and what its usage says could be off without it. */
void shape_snapshot_history(struct json *j, const struct eph_snapshot *s);
void shape_snapshot_history_text(const struct eph_snapshot *s,
				 const char *indent, FILE *f);

#endif
