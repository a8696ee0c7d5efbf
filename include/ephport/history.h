/* SPDX-License-Identifier: MIT */
/*
 * History: the record the tracer keeps (ephport trace --record) of the
 * sockets a socket dump cannot tell apart, so that usage and diagnose can:
 * - connections bound first (bind(P), or bind(0), then connect()), which
 *   block their port for every destination, and their TIME_WAITs;
 * - connections a listener accepted, which keep its port blocked after
 *   the listener has closed, TIME_WAITs included;
 * - whether each TIME_WAIT's connection used timestamps (only those can
 *   be reused), and which process made it.
 *
 * The record is a file under /run/ephport, replaced whole (written beside
 * it and renamed) at most twice a second while something changed, so a
 * reader sees one complete version. Its size has a bound, whatever the
 * churn: a header of EPH_RECORD_HEADER_SIZE bytes and at most
 * EPH_RECORD_ENTRIES entries (the recorder's --record-entries) of
 * EPH_RECORD_ENTRY_SIZE bytes each: 6 MiB by default. When it is full,
 * the TIME_WAITs kept only to name their process (plain outgoing
 * connections that used timestamps) make room first, oldest first; only
 * then the entries that matter to usage, and the record says it is no
 * longer complete. TIME_WAITs leave it after their 60 s. A recorder that
 * restarts reads the record back and goes on; a record from another boot,
 * or one that is malformed in any way, is refused, never trusted.
 */
#ifndef EPHPORT_HISTORY_H
#define EPHPORT_HISTORY_H

#include "common.h"
#include "diagnose.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EPH_RECORD_PATH "/run/ephport/history"
/* The default bound, and the largest one a recorder may be given. */
#define EPH_RECORD_ENTRIES 65536u
#define EPH_RECORD_ENTRIES_MAX (1u << 20)
#define EPH_RECORD_HEADER_SIZE 128u
#define EPH_RECORD_ENTRY_SIZE 96u

/* Can the record be used for the context's namespace? */
enum eph_record_state {
	EPH_RECORD_USABLE,	/* a recorder is running and records the
				   namespace: used */
	EPH_RECORD_MISSING,	/* no record: no recorder since boot */
	EPH_RECORD_STOPPED,	/* its recorder has stopped, so what
				   happened since is missing: not used */
	EPH_RECORD_OTHER_NETNS, /* it records another namespace only */
	EPH_RECORD_CORRUPT,	/* unreadable, malformed, or from another
				   boot: refused */
};

/* "usable", "missing", "stopped", "other-netns", "corrupt". */
const char *eph_record_state_code(enum eph_record_state state);

struct eph_record_info {
	enum eph_record_state state;
	char detail[256]; /* CORRUPT: why it was refused */
	int64_t created;  /* wall clock (s): when the record was begun */
	int64_t since;	  /* wall clock (s): recorded without a break since
			     then (a restarted recorder starts a new one) */
	int64_t written;  /* wall clock (s): last written */
	uint64_t netns;	  /* the namespace recorded, 0: every one */
	int32_t writer_pid;
	uint32_t entries, capacity;
	uint64_t lost;	  /* events lost since SINCE */
	uint64_t evicted; /* entries that matter dropped for room since */
	bool complete;	  /* nothing lost or evicted since SINCE */
	uint64_t bytes;	  /* the record's size */
};

struct eph_record;

/*
 * Reads the record at PATH (NULL: eph_ctx_record_path(), by default
 * EPH_RECORD_PATH) for CTX's namespace.
 * Returns 0 and sets *RET whatever the record's state (see
 * eph_record_info(): a missing or corrupt record is a state, not a
 * failure), or -ENOMEM.
 */
int eph_record_read(struct eph_ctx *ctx, const char *path,
		    struct eph_record **ret);
void eph_record_free(struct eph_record *r);

/* What R is: its state and its figures. */
void eph_record_info(const struct eph_record *r, struct eph_record_info *ret);

/*
 * The history source for struct eph_diag_request and eph_usage: lookups
 * of sockets in the context's namespace (by 4-tuple, a TIME_WAIT only
 * among TIME_WAITs, a live socket only among live ones). NULL unless the
 * state is EPH_RECORD_USABLE. Valid while R lives.
 */
const struct eph_history *eph_record_history(const struct eph_record *r);

struct eph_tracer;

/*
 * The record a tracer keeps (eph_tracer_opts.record), as it is in memory;
 * NULL when it keeps none. Valid until the tracer is freed; it changes at
 * each eph_tracer_poll().
 */
const struct eph_record *eph_tracer_record(const struct eph_tracer *t);

#ifdef __cplusplus
}
#endif

#endif
