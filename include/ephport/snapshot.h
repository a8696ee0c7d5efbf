/* SPDX-License-Identifier: MIT */
/*
 * Snapshot: policy, usage, servers at risk and their owners for one
 * namespace in one call; the fleet of every namespace; thresholds, alert
 * levels and the fullest destinations with the rest rolled up. The
 * overview, `usage` and the exporter are front ends on these.
 */
#ifndef EPHPORT_SNAPSHOT_H
#define EPHPORT_SNAPSHOT_H

#include "audit.h"
#include "common.h"
#include "history.h"
#include "owners.h"
#include "usage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Thresholds and alert levels ---- */

/* A threshold: a share used (percent) or a count of free ports. */
struct eph_threshold {
	bool percent;
	double pct;    /* alert at or above this share used */
	uint32_t free; /* alert when fewer ports than this are free */
};

struct eph_thresholds {
	struct eph_threshold warn, crit;
};

/* 66.7 % used for a warning, 90 % for critical. */
#define EPH_THRESHOLDS_DEFAULT                                                 \
	{                                                                      \
		{ true, 66.7, 0 },                                             \
		{                                                              \
			true, 90.0, 0                                          \
		}                                                              \
	}

/*
 * Parses "66.7%" (0-100, up to 3 decimals) or "1000" (free ports,
 * 0-65536). Returns 0 or -EINVAL with a detail.
 */
int eph_threshold_parse(struct eph_ctx *ctx, const char *s,
			struct eph_threshold *ret);

/* The levels of a monitoring plugin, with its exit codes as values. */
enum eph_level {
	EPH_LEVEL_OK = 0,
	EPH_LEVEL_WARNING = 1,
	EPH_LEVEL_CRITICAL = 2,
	EPH_LEVEL_UNKNOWN = 3,
};

/* "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char *eph_level_name(enum eph_level level);

/* The level of a budget PCT used with FREE ports left. */
enum eph_level eph_level_of(const struct eph_thresholds *th, double pct,
			    uint32_t free);

/* The share of a UDP budget in use, 0 to 100. */
double eph_usage_udp_percent(const struct eph_usage_udp *u);

/* ---- One namespace ---- */

#define EPH_SNAPSHOT_RISKS (1u << 0) /* audit the servers too */
#define EPH_SNAPSHOT_OWNERS                                                    \
	(1u << 1) /* look up blockers' and risks'                              \
		     processes (one walk of /proc) */
/* Use the tracer's record (history.h) when it is there and current. */
#define EPH_SNAPSHOT_HISTORY (1u << 2)

struct eph_snapshot;

/* Makes a snapshot bound to CTX; nothing is read yet. Returns 0 or
 * -ENOMEM. */
int eph_snapshot_new(struct eph_ctx *ctx, struct eph_snapshot **ret);
void eph_snapshot_free(struct eph_snapshot *s);

/*
 * Reads the policy, scans the usage (see eph_usage_scan(): a thread is
 * started for it), and with FLAGS audits the servers and looks up the
 * owners. The buffers are kept for the next take. On failure the previous
 * results are gone. Returns 0 or a negative errno.
 */
int eph_snapshot_take(struct eph_snapshot *s, uint32_t flags);

/* The results of the last successful take; NULL before one. */
const struct eph_policy *eph_snapshot_policy(const struct eph_snapshot *s);
const struct eph_usage *eph_snapshot_usage(const struct eph_snapshot *s);
/* NULL without EPH_SNAPSHOT_RISKS. */
const struct eph_audit *eph_snapshot_audit(const struct eph_snapshot *s);
/* The process holding socket INODE, or NULL (not found, or not asked). */
const struct eph_owner *eph_snapshot_owner(const struct eph_snapshot *s,
					   uint32_t inode);
/*
 * The tracer's record as the last take read it (eph_record_info() says
 * whether it was used; eph_usage_doubts() what could be off without it);
 * NULL without EPH_SNAPSHOT_HISTORY.
 */
const struct eph_record *eph_snapshot_record(const struct eph_snapshot *s);
/* CLOCK_MONOTONIC when the take started, and how long it took, in ns. */
uint64_t eph_snapshot_time_ns(const struct eph_snapshot *s);
uint64_t eph_snapshot_duration_ns(const struct eph_snapshot *s);

/* ---- Every namespace ---- */

struct eph_fleet;

/* Makes a fleet walker bound to CTX (whose namespace lists the others). */
int eph_fleet_new(struct eph_ctx *ctx, struct eph_fleet **ret);
void eph_fleet_free(struct eph_fleet *f);

/*
 * Lists every namespace (eph_netns_list()) and takes a snapshot of each
 * with FLAGS, keeping each namespace's buffers for the next scan. A
 * namespace that cannot be read keeps its error and does not stop the
 * others. Returns how many were read, or a negative errno when the
 * namespaces could not be listed.
 */
int eph_fleet_scan(struct eph_fleet *f, uint32_t flags);
size_t eph_fleet_count(const struct eph_fleet *f);
const struct eph_netns *eph_fleet_netns(const struct eph_fleet *f, size_t i);
/* Namespace I's snapshot, or NULL when it could not be read. */
const struct eph_snapshot *eph_fleet_snapshot(const struct eph_fleet *f,
					      size_t i);
/* Why namespace I could not be read: a negative errno and a detail. */
int eph_fleet_errno(const struct eph_fleet *f, size_t i);
const char *eph_fleet_error(const struct eph_fleet *f, size_t i);
/*
 * Whether namespace I, not read, went away between the listing and the
 * reading: a process's namespace whose process exited (its /proc/PID/ns/net
 * is gone or names another namespace). Nobody asked about such a one: it
 * does not count as unread. A named namespace never vanishes. False for a
 * namespace that was read.
 */
bool eph_fleet_vanished(const struct eph_fleet *f, size_t i);
/*
 * How many namespaces of the last scan were asked about and could not be
 * read: those not read that did not vanish. A monitor must not say all is
 * well while one of them is unknown (eph_check_level()).
 */
size_t eph_fleet_unread(const struct eph_fleet *f);

/* ---- The fullest destinations ---- */

struct eph_rank_row {
	size_t source; /* which of the snapshots given */
	const struct eph_usage_tuple *tuple;
	double percent;
	enum eph_level level;
};

/* Destinations past the top N, summed. */
struct eph_rollup {
	uint32_t tuples;
	uint64_t used, established, time_wait, other;
	double max_percent; /* the fullest of them */
	uint32_t min_free;  /* the fewest free of them (0 when none) */
};

struct eph_ranking;

/*
 * Ranks every destination of the N SNAPS (NULL entries are skipped),
 * fullest first, under TH, keeping the first TOP (0: all) and summing the
 * rest per snapshot. The snapshots must outlive the ranking. Returns 0 or
 * -ENOMEM.
 */
int eph_ranking_new(const struct eph_snapshot *const *snaps, size_t n,
		    const struct eph_thresholds *th, size_t top,
		    struct eph_ranking **ret);
void eph_ranking_free(struct eph_ranking *r);
/* Every destination ranked, and how many of them are within the top. */
size_t eph_ranking_count(const struct eph_ranking *r);
size_t eph_ranking_shown(const struct eph_ranking *r);
const struct eph_rank_row *eph_ranking_get(const struct eph_ranking *r,
					   size_t i);
/* The destinations past the top: of snapshot SOURCE, or all. */
const struct eph_rollup *eph_ranking_rest(const struct eph_ranking *r,
					  size_t source);
const struct eph_rollup *eph_ranking_rest_total(const struct eph_ranking *r);

/*
 * The worst level over every destination and every snapshot's UDP
 * budgets (both families); *RET_SOURCE and *RET_UDP (may be NULL) name the
 * snapshot and the UDP budget that are fullest.
 */
enum eph_level eph_ranking_level(const struct eph_ranking *r);
void eph_ranking_udp_fullest(const struct eph_ranking *r, size_t *ret_source,
			     const struct eph_usage_udp **ret_udp);

/*
 * The status of a check over ranking R of fleet F (NULL: R ranks
 * snapshots taken one by one, each read): EPH_LEVEL_UNKNOWN when a
 * namespace asked about could not be read (eph_fleet_unread()), else
 * eph_ranking_level(R). F must be the fleet whose snapshots R ranks.
 */
enum eph_level eph_check_level(const struct eph_ranking *r,
			       const struct eph_fleet *f);

#ifdef __cplusplus
}
#endif

#endif
