/* SPDX-License-Identifier: MIT */
/*
 * serve --trace: the exporter runs the tracer itself, in a thread of its
 * own, keeping the record that `usage`, `why` and the overview read (the
 * one `trace --record` keeps), counting bind() and connect() failures and
 * handing every connect() to the forecast as a connection opened.
 */
#ifndef EPHPORT_SERVE_TRACING_H
#define EPHPORT_SERVE_TRACING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ephport/ephport.h"

struct tracing;

struct tracing_opts {
	bool all_netns;		 /* every namespace, else the context's */
	uint32_t top;		 /* commands with counters of their own */
	struct eph_forecast *fc; /* connections opened go there (NULL:
				    nowhere); it must outlive the tracing */
};

/*
 * Loads the tracer for CTX's namespace (a copy of CTX: the thread has its
 * own), opens the record and starts the thread. Returns 0, or a negative
 * errno (-EBUSY: another recorder keeps the record) with the library's
 * detail in ERR.
 */
int tracing_start(struct eph_ctx *ctx, const struct tracing_opts *o,
		  struct tracing **ret, char *err, size_t size);

/* Stops the thread and the tracer, which writes the record a last time. */
void tracing_stop(struct tracing *t);

/*
 * Waits until the thread has read every event that waited when it was
 * called: a scan after it sees every connect() and failure made before.
 */
void tracing_sync(struct tracing *t);

/*
 * Copies the failure counters into *ROWS (grown as needed, *CAP its
 * room) and sets *N, and *LOST to the events the tracer lost. Returns 0
 * or -ENOMEM.
 */
int tracing_copy(struct tracing *t, struct eph_trace_counter **rows,
		 size_t *cap, size_t *n, uint64_t *lost);

#endif
