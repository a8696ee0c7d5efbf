/* SPDX-License-Identifier: MIT */
/*
 * Trace: what the tracer's BPF program reports (src/bpf/trace.bpf.c),
 * made into events; the filter; the summary; and the tracer object that
 * loads the program, follows TIME_WAITs to their end (the kernel reports
 * none) and keeps the record (history.c).
 *
 * The loader (src/bpf/trace.c) is built only with the tracer (-Dbpf);
 * without it eph_tracer_new() says so, and everything else here still
 * works, so that front ends and tests do not depend on the build.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/magic.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include "config.h"
#include "internal.h"
#include "../bpf/trace.h"

#define TRACEFS "/sys/kernel/tracing"
/* The range that tells which accepted connections matter is read again
 * this often. */
#define RANGE_NS (10ull * 1000000000ull)

/* ---- Events ---- */

EPH_EXPORT const char *eph_trace_kind_code(enum eph_trace_kind kind)
{
	static const char *const codes[EPH_TRACE__COUNT] = {
		"connect",   "bind",	       "listen",
		"accept",    "connect-failed", "bind-failed",
		"time-wait", "time-wait-end",  "close",
	};

	return (unsigned int)kind < EPH_TRACE__COUNT ? codes[kind] : "?";
}

EPH_EXPORT bool eph_trace_kind_is_failure(enum eph_trace_kind kind)
{
	return kind == EPH_TRACE_CONNECT_FAILED ||
	       kind == EPH_TRACE_BIND_FAILED;
}

EPH_EXPORT bool eph_trace_filter_match(const struct eph_trace_filter *f,
				       const struct eph_trace_event *e)
{
	if (f->failures && !eph_trace_kind_is_failure(e->kind))
		return false;
	if (f->pid && e->pid != f->pid)
		return false;
	if (f->port && e->local_port != f->port && e->remote_port != f->port)
		return false;
	return true;
}

bool tracer_convert(const struct ephtrace_event *raw, int64_t wall_offset_ns,
		    struct eph_trace_event *ret)
{
	static const enum eph_trace_kind kinds[] = {
		[EPHTRACE_CONNECT] = EPH_TRACE_CONNECT,
		[EPHTRACE_BIND] = EPH_TRACE_BIND,
		[EPHTRACE_LISTEN] = EPH_TRACE_LISTEN,
		[EPHTRACE_ACCEPT] = EPH_TRACE_ACCEPT,
		[EPHTRACE_CONNECT_FAIL] = EPH_TRACE_CONNECT_FAILED,
		[EPHTRACE_BIND_FAIL] = EPH_TRACE_BIND_FAILED,
		[EPHTRACE_TIME_WAIT] = EPH_TRACE_TIME_WAIT,
		[EPHTRACE_CLOSE] = EPH_TRACE_CLOSE,
	};
	struct eph_trace_event *e = ret;

	if (raw->type == 0 || raw->type >= ARRAY_SIZE(kinds))
		return false;
	memset(e, 0, sizeof(*e));
	e->kind = kinds[raw->type];
	e->boot_ns = raw->ts_ns;
	e->wall_ns = (int64_t)raw->ts_ns + wall_offset_ns;
	e->netns = raw->netns;
	e->proto = raw->proto;
	e->family = raw->family;
	e->local_port = raw->lport;
	e->remote_port = raw->rport;
	memcpy(e->local, raw->laddr, 16);
	memcpy(e->remote, raw->raddr, 16);
	/* The flags' bits are the same on both sides. */
	e->flags = raw->flags & (EPH_TRACE_BOUND_FIRST | EPH_TRACE_ACCEPTED |
				 EPH_TRACE_TIMESTAMPS | EPH_TRACE_OWNER |
				 EPH_TRACE_ANY_PORT | EPH_TRACE_NO_PORT);
	if (e->flags & EPH_TRACE_OWNER) {
		e->pid = raw->pid;
		e->uid = raw->uid;
		e->cgroup_id = raw->cgroup_id;
		memcpy(e->comm, raw->comm, sizeof(e->comm));
		e->comm[sizeof(e->comm) - 1] = '\0';
	} else {
		e->pid = -1;
	}
	e->err = raw->err;
	/* The program keeps when a connection was made with its maker; it
	 * means something for the ends of connections only. */
	if (e->kind == EPH_TRACE_TIME_WAIT || e->kind == EPH_TRACE_CLOSE)
		e->opened_boot_ns = raw->opened_ns;
	return true;
}

/* ---- The summary ---- */

struct table {
	struct eph_trace_row *rows;
	uint32_t n;
	uint32_t index[2 * EPH_TRACE_SUMMARY_ROWS]; /* row + 1, 0: empty */
	uint64_t other;
	bool sorted;
};

struct eph_trace_summary {
	uint64_t kinds[EPH_TRACE__COUNT];
	struct table t[EPH_TRACE_TABLE__COUNT];
};

EPH_EXPORT int eph_trace_summary_new(struct eph_trace_summary **ret)
{
	struct eph_trace_summary *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (int i = 0; i < EPH_TRACE_TABLE__COUNT; i++) {
		s->t[i].rows =
			calloc(EPH_TRACE_SUMMARY_ROWS, sizeof(*s->t[i].rows));
		if (!s->t[i].rows) {
			eph_trace_summary_free(s);
			return -ENOMEM;
		}
	}
	*ret = s;
	return 0;
}

EPH_EXPORT void eph_trace_summary_free(struct eph_trace_summary *s)
{
	if (!s)
		return;
	for (int i = 0; i < EPH_TRACE_TABLE__COUNT; i++)
		free(s->t[i].rows);
	free(s);
}

static uint64_t row_hash(const struct eph_trace_row *r)
{
	const uint8_t *p = (const uint8_t *)r;
	uint64_t h = 0xcbf29ce484222325ull;

	/* Rows are zeroed before their keys are set: hash the whole key. */
	for (size_t i = 0; i < offsetof(struct eph_trace_row, count); i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static bool row_same(const struct eph_trace_row *a,
		     const struct eph_trace_row *b)
{
	return memcmp(a, b, offsetof(struct eph_trace_row, count)) == 0;
}

static void table_count(struct table *t, const struct eph_trace_row *key)
{
	const size_t mask = ARRAY_SIZE(t->index) - 1;
	size_t i = row_hash(key) & mask;

	for (; t->index[i]; i = (i + 1) & mask) {
		if (row_same(&t->rows[t->index[i] - 1], key)) {
			t->rows[t->index[i] - 1].count++;
			t->sorted = false;
			return;
		}
	}
	if (t->n == EPH_TRACE_SUMMARY_ROWS) {
		t->other++;
		return;
	}
	t->rows[t->n] = *key;
	t->rows[t->n].count = 1;
	t->index[i] = ++t->n;
	t->sorted = false;
}

EPH_EXPORT int eph_trace_summary_add(struct eph_trace_summary *s,
				     const struct eph_trace_event *e)
{
	struct eph_trace_row key;

	if ((unsigned int)e->kind < EPH_TRACE__COUNT)
		s->kinds[e->kind]++;
	if (eph_trace_kind_is_failure(e->kind)) {
		memset(&key, 0, sizeof(key));
		key.err = e->err;
		table_count(&s->t[EPH_TRACE_BY_ERRNO], &key);
		memcpy(key.comm, e->comm, sizeof(key.comm));
		key.comm[sizeof(key.comm) - 1] = '\0';
		/* Bytes after the name's end must not split a row. */
		memset(key.comm + strlen(key.comm), 0,
		       sizeof(key.comm) - strlen(key.comm));
		table_count(&s->t[EPH_TRACE_BY_COMMAND], &key);
	} else if (e->kind == EPH_TRACE_CONNECT) {
		memset(&key, 0, sizeof(key));
		key.proto = e->proto;
		memcpy(key.remote, e->remote, 16);
		key.remote_port = e->remote_port;
		table_count(&s->t[EPH_TRACE_BY_DESTINATION], &key);
	}
	return 0;
}

EPH_EXPORT uint64_t eph_trace_summary_kind(const struct eph_trace_summary *s,
					   enum eph_trace_kind kind)
{
	return (unsigned int)kind < EPH_TRACE__COUNT ? s->kinds[kind] : 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct eph_trace_row *x = a, *y = b;
	int c;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->err != y->err)
		return x->err < y->err ? -1 : 1;
	c = strcmp(x->comm, y->comm);
	if (c)
		return c;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	c = memcmp(x->remote, y->remote, 16);
	if (c)
		return c;
	return (int)x->remote_port - (int)y->remote_port;
}

static void table_sort(struct table *t)
{
	const size_t mask = ARRAY_SIZE(t->index) - 1;

	if (t->sorted)
		return;
	qsort(t->rows, t->n, sizeof(*t->rows), row_cmp);
	memset(t->index, 0, sizeof(t->index));
	for (uint32_t r = 0; r < t->n; r++) {
		size_t i = row_hash(&t->rows[r]) & mask;

		while (t->index[i])
			i = (i + 1) & mask;
		t->index[i] = r + 1;
	}
	t->sorted = true;
}

EPH_EXPORT size_t eph_trace_summary_count(struct eph_trace_summary *s,
					  enum eph_trace_table t)
{
	return (unsigned int)t < EPH_TRACE_TABLE__COUNT ? s->t[t].n : 0;
}

EPH_EXPORT const struct eph_trace_row *
eph_trace_summary_row(struct eph_trace_summary *s, enum eph_trace_table t,
		      size_t i)
{
	if ((unsigned int)t >= EPH_TRACE_TABLE__COUNT || i >= s->t[t].n)
		return NULL;
	table_sort(&s->t[t]);
	return &s->t[t].rows[i];
}

EPH_EXPORT uint64_t eph_trace_summary_other(const struct eph_trace_summary *s,
					    enum eph_trace_table t)
{
	return (unsigned int)t < EPH_TRACE_TABLE__COUNT ? s->t[t].other : 0;
}

/* ---- Failure counters for an exporter ---- */

/*
 * A command's failures of one call with one errno in one namespace. TOTAL
 * ranks it; SERIES is what its counter holds, the failures since it got
 * one.
 */
struct cmd {
	uint64_t netns;
	enum eph_trace_kind kind;
	int err;
	char comm[16];
	uint32_t group;
	bool exposed;
	uint64_t total, series;
};

/* The commands of one (namespace, call, errno). */
struct group {
	uint64_t netns;
	enum eph_trace_kind kind;
	int err;
	uint32_t nseries;
	uint64_t other;
	uint32_t *cmds; /* indices into the commands */
	uint32_t ncmds, cap;
};

struct eph_trace_counters {
	uint32_t top;
	struct cmd *cmds;
	uint32_t ncmds;
	uint32_t index[2 * EPH_TRACE_COUNTERS_COMMANDS]; /* cmd + 1, 0: empty */
	struct group *groups;
	uint32_t ngroups, groups_cap;
	struct eph_trace_counter *rows;
	size_t nrows;
	bool dirty;
};

EPH_EXPORT int eph_trace_counters_new(uint32_t top,
				      struct eph_trace_counters **ret)
{
	struct eph_trace_counters *c;

	if (top == 0 || top > EPH_TRACE_COUNTERS_COMMANDS)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cmds = calloc(EPH_TRACE_COUNTERS_COMMANDS, sizeof(*c->cmds));
	if (!c->cmds) {
		free(c);
		return -ENOMEM;
	}
	c->top = top;
	*ret = c;
	return 0;
}

EPH_EXPORT void eph_trace_counters_free(struct eph_trace_counters *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->ngroups; i++)
		free(c->groups[i].cmds);
	free(c->groups);
	free(c->cmds);
	free(c->rows);
	free(c);
}

static uint64_t cmd_hash(uint64_t netns, enum eph_trace_kind kind, int err,
			 const char comm[16])
{
	uint64_t h = 0xcbf29ce484222325ull ^ netns;

	h = (h ^ (uint64_t)kind) * 0x100000001b3ull;
	h = (h ^ (uint64_t)(uint32_t)err) * 0x100000001b3ull;
	for (size_t i = 0; i < 16 && comm[i]; i++)
		h = (h ^ (uint8_t)comm[i]) * 0x100000001b3ull;
	return h;
}

/* The group of E into *RET, made if new. Returns 0, -ENOSPC or -ENOMEM. */
static int group_of(struct eph_trace_counters *c,
		    const struct eph_trace_event *e, struct group **ret)
{
	struct group *g;

	for (uint32_t i = 0; i < c->ngroups; i++) {
		g = &c->groups[i];
		if (g->netns == e->netns && g->kind == e->kind &&
		    g->err == e->err) {
			*ret = g;
			return 0;
		}
	}
	if (c->ngroups == EPH_TRACE_COUNTERS_COMMANDS)
		return -ENOSPC;
	if (c->ngroups == c->groups_cap) {
		uint32_t cap = c->groups_cap ? c->groups_cap * 2 : 8;

		g = realloc(c->groups, cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		c->groups = g;
		c->groups_cap = cap;
	}
	g = &c->groups[c->ngroups++];
	memset(g, 0, sizeof(*g));
	g->netns = e->netns;
	g->kind = e->kind;
	g->err = e->err;
	*ret = g;
	return 0;
}

/* Is command X among the TOP of its group by failures? */
static bool cmd_in_top(const struct eph_trace_counters *c,
		       const struct group *g, const struct cmd *x)
{
	uint32_t above = 0;

	for (uint32_t i = 0; i < g->ncmds && above < c->top; i++)
		if (c->cmds[g->cmds[i]].total > x->total)
			above++;
	return above < c->top;
}

EPH_EXPORT int eph_trace_counters_add(struct eph_trace_counters *c,
				      const struct eph_trace_event *e)
{
	const size_t mask = ARRAY_SIZE(c->index) - 1;
	char comm[16] = "";
	struct group *g;
	struct cmd *x = NULL;
	size_t i;
	int r;

	if (!eph_trace_kind_is_failure(e->kind))
		return 0;
	/* Bytes after the name's end must not split a command. */
	memcpy(comm, e->comm, strnlen(e->comm, sizeof(comm) - 1));
	for (i = cmd_hash(e->netns, e->kind, e->err, comm) & mask; c->index[i];
	     i = (i + 1) & mask) {
		struct cmd *y = &c->cmds[c->index[i] - 1];

		if (y->netns == e->netns && y->kind == e->kind &&
		    y->err == e->err && memcmp(y->comm, comm, 16) == 0) {
			x = y;
			break;
		}
	}
	c->dirty = true;
	if (x) {
		g = &c->groups[x->group];
	} else {
		r = group_of(c, e, &g);
		if (r < 0)
			return r;
		if (c->ncmds == EPH_TRACE_COUNTERS_COMMANDS) {
			/* No command followed any more: the others. */
			g->other++;
			return 1;
		}
		if (g->ncmds == g->cap) {
			uint32_t cap = g->cap ? g->cap * 2 : 8;
			uint32_t *n = realloc(g->cmds, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			g->cmds = n;
			g->cap = cap;
		}
		x = &c->cmds[c->ncmds];
		memset(x, 0, sizeof(*x));
		x->netns = e->netns;
		x->kind = e->kind;
		x->err = e->err;
		memcpy(x->comm, comm, 16);
		x->group = (uint32_t)(g - c->groups);
		g->cmds[g->ncmds++] = c->ncmds;
		c->index[i] = ++c->ncmds;
	}
	x->total++;
	/*
	 * A command among the top of its group gets a counter of its own,
	 * and keeps it: a counter that vanished, or an "other" that gave
	 * back what a command took away, would not be a counter. So the
	 * counters of a group are at most twice TOP, and a counter holds
	 * what came after it was made: what came before stays in "other".
	 */
	if (!x->exposed && g->nseries < 2 * c->top &&
	    (g->nseries < c->top || cmd_in_top(c, g, x))) {
		x->exposed = true;
		g->nseries++;
	}
	if (x->exposed)
		x->series++;
	else
		g->other++;
	return 1;
}

static int counter_cmp(const void *a, const void *b)
{
	const struct eph_trace_counter *x = a, *y = b;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->err != y->err)
		return x->err < y->err ? -1 : 1;
	if (x->other != y->other)
		return x->other ? 1 : -1;
	return strcmp(x->comm, y->comm);
}

/* The counters as rows, sorted, made again after a change. */
static int counters_rows(struct eph_trace_counters *c)
{
	struct eph_trace_counter *rows;
	size_t n = 0;

	if (!c->dirty)
		return 0;
	rows = realloc(c->rows,
		       ((size_t)c->ncmds + c->ngroups + 1) * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	c->rows = rows;
	for (uint32_t i = 0; i < c->ncmds; i++) {
		const struct cmd *x = &c->cmds[i];

		if (!x->exposed)
			continue;
		memset(&rows[n], 0, sizeof(rows[n]));
		rows[n].netns = x->netns;
		rows[n].kind = x->kind;
		rows[n].err = x->err;
		memcpy(rows[n].comm, x->comm, 16);
		rows[n++].count = x->series;
	}
	for (uint32_t i = 0; i < c->ngroups; i++) {
		const struct group *g = &c->groups[i];

		if (!g->other)
			continue;
		memset(&rows[n], 0, sizeof(rows[n]));
		rows[n].netns = g->netns;
		rows[n].kind = g->kind;
		rows[n].err = g->err;
		rows[n].other = true;
		rows[n++].count = g->other;
	}
	qsort(rows, n, sizeof(*rows), counter_cmp);
	c->nrows = n;
	c->dirty = false;
	return 0;
}

EPH_EXPORT size_t eph_trace_counters_count(struct eph_trace_counters *c)
{
	return counters_rows(c) < 0 ? 0 : c->nrows;
}

EPH_EXPORT const struct eph_trace_counter *
eph_trace_counters_get(struct eph_trace_counters *c, size_t i)
{
	if (counters_rows(c) < 0 || i >= c->nrows)
		return NULL;
	return &c->rows[i];
}

/* ---- The tracer ---- */

struct eph_tracer {
	struct eph_ctx *ctx;
	struct eph_tracer_opts o;
	char record_path[4096];
	uint64_t netns; /* 0: every namespace */
	bool mounted;
	struct trace_loader *loader;
	struct eph_record *follow; /* TIME_WAITs, to report their end */
	struct eph_record *rec;	   /* the record, with o.record */
	uint64_t tw_untracked;
	uint64_t range_due;
	int64_t wall_offset;

	/* During a poll or a feed. */
	int (*cb)(const struct eph_trace_event *e, void *data);
	void *data;
	int delivered;
	int stop;
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void deliver(struct eph_tracer *t, const struct eph_trace_event *e)
{
	int r;

	if (t->stop || !t->cb || !eph_trace_filter_match(&t->o.filter, e))
		return;
	r = t->cb(e, t->data);
	if (r < 0)
		t->stop = r;
	else
		t->delivered++;
}

/* A TIME_WAIT followed since it began has ended. */
static void on_end(void *data, const struct history_end *end)
{
	struct eph_tracer *t = data;
	struct eph_trace_event e;

	if (end->why == HISTORY_END_EVICTED) {
		t->tw_untracked++;
		return;
	}
	memset(&e, 0, sizeof(e));
	e.kind = EPH_TRACE_TIME_WAIT_END;
	e.boot_ns = end->boot_ns;
	e.wall_ns = (int64_t)end->boot_ns + t->wall_offset;
	e.netns = end->netns;
	e.proto = IPPROTO_TCP;
	e.family = end->family;
	e.local_port = end->local_port;
	e.remote_port = end->remote_port;
	memcpy(e.local, end->local, 16);
	memcpy(e.remote, end->remote, 16);
	e.pid = end->pid;
	memcpy(e.comm, end->comm, sizeof(e.comm));
	e.uid = end->uid;
	e.cgroup_id = end->cgroup_id;
	e.opened_boot_ns = end->opened_boot_ns;
	e.tw_boot_ns = end->tw_boot_ns;
	/* The table keeps the event's meaning in its own bits. */
	if (end->pid >= 0)
		e.flags |= EPH_TRACE_OWNER;
	if (end->why == HISTORY_END_REUSED)
		e.flags |= EPH_TRACE_REUSED;
	e.flags |= end->flags & (EPH_TRACE_BOUND_FIRST | EPH_TRACE_ACCEPTED |
				 EPH_TRACE_TIMESTAMPS);
	deliver(t, &e);
}

static void read_range(struct eph_tracer *t)
{
	struct eph_policy *p;
	uint16_t lo, hi;

	if (!t->rec || eph_policy_read(t->ctx, &p) < 0)
		return;
	eph_policy_range(p, &lo, &hi);
	eph_policy_free(p);
	history_set_keep_range(t->rec, lo, hi);
}

static int tracer_alloc(struct eph_ctx *ctx, const struct eph_tracer_opts *o,
			struct eph_tracer **ret)
{
	struct eph_tracer *t = calloc(1, sizeof(*t));
	uint64_t dev;
	int r;

	if (!t)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	t->ctx = ctx;
	t->o = *o;
	if (!o->all_netns) {
		r = eph_ctx_netns_id(ctx, &dev, &t->netns);
		if (r < 0)
			goto fail;
	}
	r = history_new(ctx, HISTORY_FOLLOW, t->netns, t->netns,
			EPH_TRACER_TIME_WAITS, &t->follow);
	if (r < 0)
		goto fail;
	history_set_on_end(t->follow, on_end, t);
	if (o->record) {
		snprintf(t->record_path, sizeof(t->record_path), "%s",
			 o->record_path ? o->record_path
					: eph_ctx_record_path(ctx));
		t->o.record_path = t->record_path;
		r = history_open_writer(ctx, t->record_path,
					o->record_entries ? o->record_entries
							  : EPH_RECORD_ENTRIES,
					t->netns, &t->rec);
		if (r < 0)
			goto fail;
		read_range(t);
		t->range_due = clock_ns(CLOCK_BOOTTIME) + RANGE_NS;
	}
	t->wall_offset =
		(int64_t)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME));
	*ret = t;
	return 0;
fail:
	eph_tracer_free(t);
	return r;
}

int tracer_new_fed(struct eph_ctx *ctx, const struct eph_tracer_opts *o,
		   struct eph_tracer **ret)
{
	ctx_clear_error(ctx);
	return tracer_alloc(ctx, o, ret);
}

int tracer_feed(struct eph_tracer *t, const struct eph_trace_event *e,
		int (*cb)(const struct eph_trace_event *e, void *data),
		void *data)
{
	int r;

	t->cb = cb;
	t->data = data;
	/* The range is read again by the events' clock, not a timer's: a
	 * reader that waits for events alone must find it current. */
	if (t->rec && e->boot_ns >= t->range_due) {
		read_range(t);
		t->range_due = e->boot_ns + RANGE_NS;
	}
	/* A TIME_WAIT taken over ends before the connection that took it
	 * is shown. */
	r = history_add(t->follow, e);
	if (r == 0 && t->rec)
		r = history_add(t->rec, e);
	if (r < 0)
		return ctx_error(t->ctx, r, "out of memory");
	deliver(t, e);
	return t->stop;
}

int tracer_tick(struct eph_tracer *t, uint64_t now_boot,
		int (*cb)(const struct eph_trace_event *e, void *data),
		void *data)
{
	int r = 0;

	t->cb = cb;
	t->data = data;
	history_expire(t->follow, now_boot);
	if (t->rec) {
		history_expire(t->rec, now_boot);
		history_set_lost(t->rec, eph_tracer_lost(t));
		r = history_flush(t->rec, false);
	}
	return t->stop ? t->stop : r;
}

#if EPHPORT_BPF
static int on_raw(void *data, const struct ephtrace_event *raw)
{
	struct eph_tracer *t = data;
	struct eph_trace_event e;

	if (!tracer_convert(raw, t->wall_offset, &e))
		return 0;
	return tracer_feed(t, &e, t->cb, t->data);
}

/* libbpf attaches tracepoints through tracefs. */
static int mount_tracefs(struct eph_tracer *t)
{
	struct statfs sf;

	if (statfs(TRACEFS, &sf) == 0 && sf.f_type == TRACEFS_MAGIC)
		return 0;
	if (mount("tracefs", TRACEFS, "tracefs",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return ctx_error(t->ctx, -errno,
				 "tracefs is not mounted and cannot be: mount "
				 "-t tracefs tracefs %s: %s",
				 TRACEFS, strerror(errno));
	t->mounted = true;
	return 0;
}
#endif

EPH_EXPORT int eph_tracer_new(struct eph_ctx *ctx,
			      const struct eph_tracer_opts *o,
			      struct eph_tracer **ret)
{
#if EPHPORT_BPF
	struct trace_config c = { 0 };
	struct eph_tracer *t;
	int r;

	ctx_clear_error(ctx);
	r = tracer_alloc(ctx, o, &t);
	if (r < 0)
		return r;
	r = mount_tracefs(t);
	if (r < 0)
		goto fail;
	c.netns = (uint32_t)t->netns;
	c.closes = o->record;
	/* The record needs every event: then the filter works here. */
	if (!o->record) {
		c.port = o->filter.port;
		c.pid = o->filter.pid;
		c.failures = o->filter.failures;
	}
	r = trace_open(ctx, &c, on_raw, t, &t->loader);
	if (r < 0)
		goto fail;
	*ret = t;
	return 0;
fail:
	eph_tracer_free(t);
	return r;
#else
	(void)o;
	(void)ret;
	ctx_clear_error(ctx);
	return ctx_error(ctx, -EOPNOTSUPP,
			 "this ephport was built without the tracer (it needs "
			 "libbpf, bpftool and clang at build time)");
#endif
}

EPH_EXPORT void eph_tracer_free(struct eph_tracer *t)
{
	if (!t)
		return;
	if (t->rec) {
		history_set_lost(t->rec, eph_tracer_lost(t));
		(void)history_flush(t->rec, true);
	}
#if EPHPORT_BPF
	trace_close(t->loader);
#endif
	history_free(t->rec);
	history_free(t->follow);
	free(t);
}

EPH_EXPORT int eph_tracer_poll(struct eph_tracer *t, int timeout_ms,
			       int (*cb)(const struct eph_trace_event *e,
					 void *data),
			       void *data)
{
	int r = 0, tick;

	ctx_clear_error(t->ctx);
	t->cb = cb;
	t->data = data;
	t->delivered = 0;
	t->stop = 0;
	t->wall_offset =
		(int64_t)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME));
#if EPHPORT_BPF
	if (t->loader)
		r = trace_poll(t->loader, timeout_ms);
#else
	(void)timeout_ms;
#endif
	if (t->stop)
		return t->stop;
	if (r < 0 && r != -EINTR)
		return ctx_error(t->ctx, r, "reading the tracer's events: %s",
				 strerror(-r));
	tick = tracer_tick(t, clock_ns(CLOCK_BOOTTIME), cb, data);
	if (tick < 0)
		return tick;
	return r == -EINTR ? -EINTR : t->delivered;
}

uint64_t tracer_due(const struct eph_tracer *t)
{
	uint64_t due = history_due(t->follow);

	if (t->rec && history_due(t->rec) < due)
		due = history_due(t->rec);
	return due;
}

EPH_EXPORT int eph_tracer_timeout(const struct eph_tracer *t)
{
	uint64_t due = tracer_due(t), now;

	if (due == UINT64_MAX)
		return -1;
	now = clock_ns(CLOCK_BOOTTIME);
	if (due <= now)
		return 0;
	/* Rounded up: waking a little early would find nothing due yet. */
	return (due - now) / 1000000u >= INT_MAX
		       ? INT_MAX
		       : (int)((due - now + 999999u) / 1000000u);
}

EPH_EXPORT int eph_tracer_arm(struct eph_tracer *t)
{
#if EPHPORT_BPF
	if (t->loader)
		trace_arm(t->loader);
#else
	(void)t;
#endif
	return 0;
}

EPH_EXPORT int eph_tracer_fd(const struct eph_tracer *t)
{
#if EPHPORT_BPF
	if (t->loader)
		return trace_fd(t->loader);
#else
	(void)t;
#endif
	return -1;
}

EPH_EXPORT uint64_t eph_tracer_lost(const struct eph_tracer *t)
{
#if EPHPORT_BPF
	if (t->loader)
		return trace_lost(t->loader);
#else
	(void)t;
#endif
	return 0;
}

EPH_EXPORT uint64_t eph_tracer_tw_untracked(const struct eph_tracer *t)
{
	return t->tw_untracked;
}

EPH_EXPORT bool eph_tracer_mounted(const struct eph_tracer *t)
{
	return t->mounted;
}

EPH_EXPORT uint64_t eph_tracer_netns(const struct eph_tracer *t)
{
	return t->netns;
}

EPH_EXPORT const struct eph_record *
eph_tracer_record(const struct eph_tracer *t)
{
	return t->rec;
}
