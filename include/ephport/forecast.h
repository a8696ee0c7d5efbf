/* SPDX-License-Identifier: MIT */
/*
 * Forecast: how fast each destination's free ports shrink and when none
 * will be left, from a short window of snapshots; and how many connections
 * were opened toward it (sockets whose cookie no earlier scan had seen, or
 * the connect() calls a tracer saw). A daemon or a watch loop keeps one
 * forecast and feeds it every scan.
 */
#ifndef EPHPORT_FORECAST_H
#define EPHPORT_FORECAST_H

#include "common.h"
#include "snapshot.h"
#include "usage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One point of a destination's series. */
struct eph_sample {
	uint64_t time_ns; /* CLOCK_MONOTONIC, as eph_snapshot_time_ns() */
	uint32_t free;
};

/* A destination's trend over the window. */
struct eph_trend {
	uint32_t samples; /* points in the window */
	double span_s;	  /* seconds from the first of them to the last */
	double rate; /* ports per second by which free shrinks (negative: it
			grows), fitted by least squares; 0 below 2 points */
	double seconds_left;  /* at that rate, until no port is free: 0 when
				 none is free now; INFINITY when free does
				 not shrink or there are fewer than 2 points */
	uint32_t free;	      /* at the last point */
	uint64_t opened;      /* connections first seen toward it since the
				 forecast began (a counter: it never goes
				 down while the forecast lives) */
	uint32_t opened_last; /* of them, first seen by the last scan */
};

/* The number of snapshots a forecast keeps per destination by default. */
#define EPH_FORECAST_WINDOW 8u
#define EPH_FORECAST_WINDOW_MAX 256u

/*
 * Fits the trend of the N points S (oldest first) into *RET, leaving its
 * opened counters zero. Pure. The free count of the last point is the
 * one the time left is counted from.
 */
void eph_trend_fit(const struct eph_sample *s, size_t n, struct eph_trend *ret);

struct eph_forecast;

/*
 * Makes a forecast bound to CTX that keeps the last WINDOW snapshots of
 * each destination (0: EPH_FORECAST_WINDOW; at most
 * EPH_FORECAST_WINDOW_MAX). Returns 0, -EINVAL or -ENOMEM.
 */
int eph_forecast_new(struct eph_ctx *ctx, uint32_t window,
		     struct eph_forecast **ret);
void eph_forecast_free(struct eph_forecast *f);

/*
 * Takes snapshot S (bound to the forecast's context) with FLAGS and adds
 * it as one more point of every destination it shows; the sockets it
 * counts toward a destination are checked against those the earlier
 * takes saw. Returns what eph_snapshot_take() returned; a failed take
 * adds no point.
 */
int eph_forecast_take(struct eph_forecast *f, struct eph_snapshot *s,
		      uint32_t flags);

/*
 * Scans fleet FL with FLAGS (eph_fleet_scan()) and adds every namespace
 * read, keyed by its inode (struct eph_netns.ino). Returns what
 * eph_fleet_scan() returned.
 */
int eph_forecast_scan(struct eph_forecast *f, struct eph_fleet *fl,
		      uint32_t flags);

/*
 * The same by hand (tests; a tracer replaying its record). Watch makes
 * the forecast see the sockets that S's usage counts from then on; a
 * round is begin, the takes or usage feeds, one add per namespace read
 * (SOURCE: its inode, as eph_ctx_netns_id() gives it for the context the
 * usage is bound to), end. Freeing F stops its watching. Watch returns
 * 0, -ENOSPC (too many watchers on one scan) or -ENOMEM; add 0 or
 * -ENOMEM.
 */
int eph_forecast_watch(struct eph_forecast *f, struct eph_snapshot *s);
int eph_forecast_watch_fleet(struct eph_forecast *f, struct eph_fleet *fl);
void eph_forecast_begin(struct eph_forecast *f);
int eph_forecast_add(struct eph_forecast *f, uint64_t source,
		     const struct eph_snapshot *s);
void eph_forecast_end(struct eph_forecast *f);

/*
 * The trend of destination T (of the namespace SOURCE) into *RET. Returns
 * 0, or -ENOENT when the forecast has no point of it (then *RET has no
 * samples, no rate and an infinite time left).
 */
int eph_forecast_get(const struct eph_forecast *f, uint64_t source,
		     const struct eph_usage_tuple *t, struct eph_trend *ret);

/*
 * The connections first seen in namespace SOURCE since the forecast
 * began, toward every destination (a counter).
 */
uint64_t eph_forecast_opened(const struct eph_forecast *f, uint64_t source);

/* The namespace key eph_forecast_take() uses: its context's inode. */
uint64_t eph_forecast_source(const struct eph_forecast *f);

/* ---- Connections opened, from a tracer ---- */

struct eph_trace_event;

/* Where the opened counters come from. */
enum eph_forecast_opened {
	/* The default: sockets a scan counts toward a destination whose
	 * cookie no earlier scan saw. The first scan counts every
	 * connection there is; one that comes and goes between two scans
	 * without a TIME_WAIT on this side is missed. */
	EPH_FORECAST_OPENED_COOKIES,
	/* The connect() events given to eph_forecast_add_event(), from a
	 * tracer: every connection since the tracer started, those that
	 * lived between two scans too. Scans then keep no cookies. */
	EPH_FORECAST_OPENED_EVENTS,
};

/*
 * Sets where F's opened counters come from, best before the first take;
 * what the other way had counted but not yet added is dropped. Returns 0
 * or -EINVAL.
 */
int eph_forecast_set_opened(struct eph_forecast *f,
			    enum eph_forecast_opened from);

/* Destinations whose events may wait for a round's end at most. */
#define EPH_FORECAST_PENDING 65536u

/*
 * Counts tracer event E (trace.h), when it is a TCP connect(), as one
 * connection opened toward its destination (its local address, remote
 * address and remote port) in its namespace (E->netns: the key of
 * eph_forecast_get(), a namespace's inode), unless its source port lies
 * outside the range the last read of that namespace found (such a
 * connection takes nothing from the range). The count joins the opened
 * counters at the next eph_forecast_end() (the end of the next take or
 * scan); a destination no scan shows counts in eph_forecast_opened() all
 * the same.
 * Unlike any other call on F, this one may come from another thread (a
 * tracer's reader) while F's own thread scans: the events wait under a
 * lock of F's own. Returns 1 (counted), 0 (not a TCP connect(), a port
 * outside the range, or F counts cookies), -ENOSPC (EPH_FORECAST_PENDING
 * other destinations wait already: not counted) or -ENOMEM.
 */
int eph_forecast_add_event(struct eph_forecast *f,
			   const struct eph_trace_event *e);

#ifdef __cplusplus
}
#endif

#endif
