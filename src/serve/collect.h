/* SPDX-License-Identifier: MIT */
/*
 * The exporter's view of the host: one scan of one namespace or of every
 * namespace (the library's snapshot and fleet walker), the forecast fed
 * by every scan, the fullest destinations per namespace with the rest
 * rolled up, and the scan errors counted per namespace. `serve` keeps one
 * collector for its whole life; `metrics` makes one scan.
 */
#ifndef EPHPORT_SERVE_COLLECT_H
#define EPHPORT_SERVE_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "ephport/ephport.h"

/* One namespace as the last scan left it. */
struct view_ns {
	char label[256]; /* "host", a name under /run/netns, "pid:PID" */
	uint64_t source; /* its inode: the forecast's key */
	const struct eph_netns *netns;	 /* with --all-netns, else NULL */
	const struct eph_snapshot *snap; /* NULL: the last scan failed */
	struct eph_ranking *rank;	 /* its destinations: top N, the rest */
	uint64_t errors;		 /* scans that could not read it */
	int err;			 /* the last scan's failure, or 0 */
	char error[512];
	uint32_t absent; /* scans since it was last listed */
};

/* What the renderers need: the namespaces and what the scans add. */
struct view {
	const struct view_ns *ns;
	size_t n;
	bool label_netns;  /* every namespace's series carry netns="..." */
	const char *netns; /* --netns as given, or NULL */
	const struct eph_forecast *fc;	/* NULL: one scan, no trend */
	const struct eph_ranking *rank; /* every namespace's, the top N */
	/* Who holds each destination's ports (NULL: not counted), by BY. */
	const struct eph_consumers *consumers;
	enum eph_by by;
	uint64_t scans;	     /* made since the start */
	double scan_seconds; /* the last one took */
	double scan_time;    /* when it started, Unix seconds */
	uint32_t interval;   /* seconds between scans, 0: one */
	const char *version;
	/* With --trace: the failure counters and the events the tracer
	 * lost, as the last scan found them. */
	bool traced;
	const struct eph_trace_counter *failures;
	size_t nfailures;
	uint64_t trace_lost;
};

struct collector;
struct tracing;

struct collector_opts {
	bool all_netns;
	size_t top;	/* destinations with their own series (0: all) */
	bool forecast;	/* keep a forecast across scans */
	uint32_t flags; /* EPH_SNAPSHOT_* */
	bool by_set;	/* count who holds the ports, by BY */
	enum eph_by by;
	struct eph_thresholds th;
	uint32_t interval; /* seconds between scans, for the view */
	bool trace;	   /* serve --trace: run the tracer (http.c) */
};

/* Makes a collector on CTX (already aimed at --netns). Returns 0 or a
 * negative errno, with a detail in CTX. */
int collector_new(struct eph_ctx *ctx, const char *netns,
		  const struct collector_opts *o, struct collector **ret);
void collector_free(struct collector *c);

/*
 * Scans: a namespace that cannot be read counts an error and stays in
 * the view without a snapshot. Returns 0, or a negative errno when not
 * one namespace could be read (the view shows why).
 */
int collector_scan(struct collector *c);

/* The view of the last scan; valid until the next scan or the free. */
const struct view *collector_view(const struct collector *c);

/* The forecast the scans feed, or NULL. */
struct eph_forecast *collector_forecast(struct collector *c);

/*
 * Takes its failures from tracing T (NULL: none) from now on, and before
 * each scan waits for T to have read every event made before it (the
 * connections opened that T hands the forecast). T must outlive the
 * collector's scans.
 */
void collector_trace(struct collector *c, struct tracing *t);

#endif
