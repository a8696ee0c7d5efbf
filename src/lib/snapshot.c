/* SPDX-License-Identifier: MIT */
/*
 * Snapshot: one namespace's policy, usage, servers at risk and the owners
 * behind them, gathered in one call that a daemon can repeat without
 * allocating; the fleet of every namespace, each with its own snapshot and
 * its own error; and the ranking of the fullest destinations against
 * thresholds, with what is past the top summed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

/* ---- Thresholds ---- */

EPH_EXPORT int eph_threshold_parse(struct eph_ctx *ctx, const char *s,
				   struct eph_threshold *ret)
{
	size_t len = strlen(s), dot, fdigits;
	uint64_t whole, frac = 0, scale = 1;
	char q[64];

	ctx_clear_error(ctx);
	if (len == 0 || s[len - 1] != '%') {
		if (eph_num_parse_str(ctx, s, 0, EPH_PORT_COUNT, "free ports",
				      &whole) < 0)
			goto bad;
		ret->percent = false;
		ret->pct = 0;
		ret->free = (uint32_t)whole;
		return 0;
	}
	len--;
	dot = strcspn(s, ".");
	if (dot > len)
		dot = len;
	if (eph_num_parse(ctx, s, dot, 0, 100, "percentage", &whole) < 0)
		goto bad;
	if (dot < len) {
		fdigits = len - dot - 1;
		if (fdigits == 0 || fdigits > 3 ||
		    eph_num_parse(ctx, s + dot + 1, fdigits, 0, 999,
				  "percentage", &frac) < 0)
			goto bad;
		while (fdigits--)
			scale *= 10;
	}
	if ((double)whole + (double)frac / (double)scale > 100.0)
		goto bad;
	ret->percent = true;
	ret->pct = (double)whole + (double)frac / (double)scale;
	ret->free = 0;
	return 0;
bad:
	return ctx_error(ctx, -EINVAL,
			 "%s: give a percentage used (\"66.7%%\", 0-100, up "
			 "to 3 decimals) or a count of free ports (0-65536)",
			 num_quote(s, strlen(s), q, sizeof(q)));
}

EPH_EXPORT const char *eph_level_name(enum eph_level level)
{
	static const char *const names[] = { "OK", "WARNING", "CRITICAL",
					     "UNKNOWN" };

	return (unsigned int)level < 4 ? names[level] : "UNKNOWN";
}

static bool hit(const struct eph_threshold *t, double pct, uint32_t free)
{
	return t->percent ? pct >= t->pct : free < t->free;
}

EPH_EXPORT enum eph_level eph_level_of(const struct eph_thresholds *th,
				       double pct, uint32_t free)
{
	if (hit(&th->crit, pct, free))
		return EPH_LEVEL_CRITICAL;
	if (hit(&th->warn, pct, free))
		return EPH_LEVEL_WARNING;
	return EPH_LEVEL_OK;
}

EPH_EXPORT double eph_usage_udp_percent(const struct eph_usage_udp *u)
{
	return u->capacity ? 100.0 * u->used / u->capacity : 100.0;
}

/* ---- One namespace ---- */

struct eph_snapshot {
	struct eph_ctx *ctx;
	struct eph_policy *policy;
	struct eph_usage *usage;
	struct eph_audit *audit;
	struct eph_owners *owners;
	struct eph_record *record; /* with EPH_SNAPSHOT_HISTORY */
	bool owners_done;
	bool valid;
	uint64_t time_ns, duration_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

EPH_EXPORT int eph_snapshot_new(struct eph_ctx *ctx, struct eph_snapshot **ret)
{
	struct eph_snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	s->ctx = ctx;
	*ret = s;
	return 0;
}

EPH_EXPORT void eph_snapshot_free(struct eph_snapshot *s)
{
	if (!s)
		return;
	eph_policy_free(s->policy);
	eph_usage_free(s->usage);
	eph_audit_free(s->audit);
	eph_owners_free(s->owners);
	eph_record_free(s->record);
	free(s);
}

/* One walk of /proc for every socket the results name. */
static void resolve_owners(struct eph_snapshot *s)
{
	const struct eph_usage *u = s->usage;
	int r = 0;

	if (!s->owners && eph_owners_new(s->ctx, &s->owners) < 0)
		return;
	/* Naming a holder is enough here: no search for the others. */
	eph_owners_set_first_only(s->owners, true);
	eph_owners_clear(s->owners);
	for (size_t i = 0; r >= 0 && i < eph_usage_blocker_count(u); i++) {
		const struct eph_usage_blocker *b = eph_usage_blocker(u, i);
		struct eph_sock sk = { 0 };

		sk.inode = b->inode;
		sk.uid = b->uid;
		sk.cgroup_id = b->cgroup_id;
		r = eph_owners_want_sock(s->owners, &sk);
	}
	for (size_t i = 0; r >= 0 && s->audit && i < eph_audit_count(s->audit);
	     i++)
		r = audit_want_owner(s->owners, eph_audit_get(s->audit, i));
	/* Owners are a courtesy: without them the numbers still stand. */
	if (r < 0 || eph_owners_resolve(s->owners) < 0)
		return;
	s->owners_done = true;
	if (s->audit)
		audit_fill_owners(s->audit, s->owners);
}

EPH_EXPORT int eph_snapshot_take(struct eph_snapshot *s, uint32_t flags)
{
	struct eph_policy *p = NULL;
	int r;

	ctx_clear_error(s->ctx);
	s->valid = false;
	s->owners_done = false;
	s->time_ns = now_ns();
	eph_audit_free(s->audit);
	s->audit = NULL;
	r = eph_policy_read(s->ctx, &p);
	if (r < 0)
		return r;
	/* The usage keeps a pointer to the policy it was scanned under. */
	eph_policy_free(s->policy);
	s->policy = p;
	if (!s->usage && (r = eph_usage_new(s->ctx, &s->usage)) < 0)
		return r;
	/* The tracer's record, read anew: used when it is current. */
	eph_record_free(s->record);
	s->record = NULL;
	if ((flags & EPH_SNAPSHOT_HISTORY) &&
	    (r = eph_record_read(s->ctx, NULL, &s->record)) < 0)
		return r;
	eph_usage_set_history(s->usage, eph_record_history(s->record));
	r = eph_usage_scan(s->usage, s->policy);
	if (r < 0)
		return r;
	if (flags & EPH_SNAPSHOT_RISKS) {
		struct eph_audit_request req = { 0 };

		r = eph_audit_run(s->ctx, s->policy, &req, &s->audit);
		if (r < 0)
			return r;
	}
	if (flags & EPH_SNAPSHOT_OWNERS)
		resolve_owners(s);
	s->duration_ns = now_ns() - s->time_ns;
	s->valid = true;
	return 0;
}

int snapshot_wrap(struct eph_ctx *ctx, struct eph_policy *p,
		  struct eph_usage *u, struct eph_snapshot **ret)
{
	struct eph_snapshot *s;
	int r = eph_snapshot_new(ctx, &s);

	if (r < 0)
		return r;
	s->policy = p;
	s->usage = u;
	s->valid = true;
	*ret = s;
	return 0;
}

EPH_EXPORT const struct eph_policy *
eph_snapshot_policy(const struct eph_snapshot *s)
{
	return s->valid ? s->policy : NULL;
}

EPH_EXPORT const struct eph_usage *
eph_snapshot_usage(const struct eph_snapshot *s)
{
	return s->valid ? s->usage : NULL;
}

EPH_EXPORT const struct eph_audit *
eph_snapshot_audit(const struct eph_snapshot *s)
{
	return s->valid ? s->audit : NULL;
}

EPH_EXPORT const struct eph_owner *
eph_snapshot_owner(const struct eph_snapshot *s, uint32_t inode)
{
	if (!s->valid || !s->owners_done || !inode)
		return NULL;
	return eph_owners_find(s->owners, inode);
}

EPH_EXPORT const struct eph_record *
eph_snapshot_record(const struct eph_snapshot *s)
{
	return s->valid ? s->record : NULL;
}

EPH_EXPORT uint64_t eph_snapshot_time_ns(const struct eph_snapshot *s)
{
	return s->time_ns;
}

EPH_EXPORT uint64_t eph_snapshot_duration_ns(const struct eph_snapshot *s)
{
	return s->duration_ns;
}

int snapshot_observe(struct eph_snapshot *s, const struct usage_observer *o)
{
	int r;

	if (!s->usage && (r = eph_usage_new(s->ctx, &s->usage)) < 0)
		return r;
	return usage_observe(s->usage, o);
}

struct eph_ctx *snapshot_ctx(const struct eph_snapshot *s)
{
	return s->ctx;
}

void snapshot_unobserve(struct eph_snapshot *s, const struct usage_observer *o)
{
	if (s && s->usage)
		usage_unobserve(s->usage, o);
}

/* ---- Every namespace ---- */

struct member {
	struct eph_netns ns;
	struct eph_ctx *ctx;
	struct eph_snapshot *snap;
	int err;
	char error[512];
	bool gone; /* not read because it went away: not asked about */
	bool seen; /* listed by the current scan */
};

struct eph_fleet {
	struct eph_ctx *ctx;
	struct member *m;
	size_t n, cap;
	uint32_t flags; /* of the scan under way */
	int read;	/* namespaces read by it */
	/* Who watches every member's usage, the new ones too. */
	const struct usage_observer *observers[USAGE_OBSERVERS];
	size_t nobservers;
};

EPH_EXPORT int eph_fleet_new(struct eph_ctx *ctx, struct eph_fleet **ret)
{
	struct eph_fleet *f = calloc(1, sizeof(*f));

	if (!f)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	f->ctx = ctx;
	*ret = f;
	return 0;
}

static void member_free(struct member *m)
{
	eph_snapshot_free(m->snap);
	eph_ctx_free(m->ctx);
}

EPH_EXPORT void eph_fleet_free(struct eph_fleet *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		member_free(&f->m[i]);
	free(f->m);
	free(f);
}

static struct member *member_of(struct eph_fleet *f, const struct eph_netns *ns)
{
	struct member *m;

	for (size_t i = 0; i < f->n; i++)
		if (f->m[i].ns.dev == ns->dev && f->m[i].ns.ino == ns->ino)
			return &f->m[i];
	if (num_grow((void **)&f->m, &f->cap, f->n, sizeof(*f->m)) < 0)
		return NULL;
	m = &f->m[f->n++];
	memset(m, 0, sizeof(*m));
	return m;
}

bool fleet_netns_gone(const struct eph_netns *ns)
{
	char path[64];
	struct stat st;

	/* A name under /run/netns is there because someone asked for it. */
	if (ns->named || ns->pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)ns->pid);
	if (stat(path, &st) < 0)
		return errno == ENOENT || errno == ESRCH;
	/* The pid now names another namespace: its process exited and the
	 * number was handed out again, or it moved. */
	return (uint64_t)st.st_dev != ns->dev || (uint64_t)st.st_ino != ns->ino;
}

/* Records why member M could not be read, as CTX says. */
static int member_fail(struct member *m, const struct eph_ctx *ctx, int r)
{
	m->err = r;
	m->gone = fleet_netns_gone(&m->ns);
	snprintf(m->error, sizeof(m->error), "%s",
		 *eph_ctx_errmsg(ctx) ? eph_ctx_errmsg(ctx) : strerror(-r));
	return r == -ENOMEM ? r : 0;
}

static int fleet_one(struct eph_ctx *nctx, const struct eph_netns *ns,
		     void *data)
{
	struct eph_fleet *f = data;
	struct member *m = member_of(f, ns);
	int r;

	if (!m)
		return ctx_error(nctx, -ENOMEM, "out of memory");
	m->ns = *ns;
	m->seen = true;
	m->err = 0;
	m->gone = false;
	m->error[0] = '\0';
	r = eph_ctx_errno(nctx);
	if (r < 0)
		return member_fail(m, nctx, r);
	/* A member keeps its context (and the snapshot's buffers) from one
	 * scan to the next; NCTX is the walker's and goes away. */
	if (!m->ctx) {
		r = eph_ctx_new(&m->ctx);
		if (r < 0)
			return member_fail(m, nctx, r);
		r = eph_ctx_set_record_path(m->ctx,
					    eph_ctx_record_path(f->ctx));
		if (r >= 0)
			r = eph_ctx_set_netns(m->ctx, ns->spec);
		if (r >= 0)
			r = eph_snapshot_new(m->ctx, &m->snap);
		for (size_t i = 0; r >= 0 && i < f->nobservers; i++)
			r = snapshot_observe(m->snap, f->observers[i]);
		if (r < 0) {
			r = member_fail(m, m->ctx, r);
			member_free(m);
			m->ctx = NULL;
			m->snap = NULL;
			return r;
		}
	}
	r = eph_snapshot_take(m->snap, f->flags);
	if (r < 0)
		return member_fail(m, m->ctx, r);
	f->read++;
	return 0;
}

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;

	/* The order eph_netns_list() gives: named first, then by pid. */
	if (x->ns.named != y->ns.named)
		return x->ns.named ? -1 : 1;
	if (x->ns.named)
		return strcmp(x->ns.label, y->ns.label);
	return x->ns.pid < y->ns.pid ? -1 : x->ns.pid > y->ns.pid;
}

EPH_EXPORT int eph_fleet_scan(struct eph_fleet *f, uint32_t flags)
{
	size_t w = 0;
	int r;

	ctx_clear_error(f->ctx);
	for (size_t i = 0; i < f->n; i++)
		f->m[i].seen = false;
	f->flags = flags;
	f->read = 0;
	/* Members may go: the observers start again from nothing. */
	for (size_t i = 0; i < f->nobservers; i++)
		if (f->observers[i]->begin)
			f->observers[i]->begin(f->observers[i]->data, NULL);
	r = netns_walk(f->ctx, false, fleet_one, f);
	/* Namespaces that are gone since the last scan go too. */
	for (size_t i = 0; i < f->n; i++) {
		if (f->m[i].seen)
			f->m[w++] = f->m[i];
		else
			member_free(&f->m[i]);
	}
	f->n = w;
	if (f->n > 1)
		qsort(f->m, f->n, sizeof(*f->m), member_cmp);
	return r < 0 ? r : f->read;
}

int fleet_observe(struct eph_fleet *f, const struct usage_observer *o)
{
	int r;

	for (size_t i = 0; i < f->nobservers; i++)
		if (f->observers[i] == o)
			return 0;
	if (f->nobservers == USAGE_OBSERVERS)
		return -ENOSPC;
	for (size_t i = 0; i < f->n; i++)
		if (f->m[i].snap &&
		    (r = snapshot_observe(f->m[i].snap, o)) < 0) {
			while (i-- > 0)
				snapshot_unobserve(f->m[i].snap, o);
			return r;
		}
	f->observers[f->nobservers++] = o;
	return 0;
}

void fleet_unobserve(struct eph_fleet *f, const struct usage_observer *o)
{
	for (size_t i = 0; i < f->n; i++)
		snapshot_unobserve(f->m[i].snap, o);
	for (size_t i = 0; i < f->nobservers; i++)
		if (f->observers[i] == o) {
			f->observers[i] = f->observers[--f->nobservers];
			return;
		}
}

static int watch_fail(struct eph_ctx *ctx, int r)
{
	return ctx_error(ctx, r, "%s",
			 r == -ENOSPC ? "too many watchers on one scan"
				      : "out of memory");
}

int usage_watch_snapshot(struct usage_watches *w, struct eph_ctx *ctx,
			 struct eph_snapshot *s, const struct usage_observer *o)
{
	int r;

	for (size_t i = 0; i < w->nsnaps; i++)
		if (w->snaps[i] == s)
			return 0;
	if (num_grow((void **)&w->snaps, &w->snaps_cap, w->nsnaps,
		     sizeof(*w->snaps)) < 0)
		return watch_fail(ctx, -ENOMEM);
	r = snapshot_observe(s, o);
	if (r < 0)
		return watch_fail(ctx, r);
	w->snaps[w->nsnaps++] = s;
	return 0;
}

int usage_watch_fleet(struct usage_watches *w, struct eph_ctx *ctx,
		      struct eph_fleet *f, const struct usage_observer *o)
{
	int r;

	for (size_t i = 0; i < w->nfleets; i++)
		if (w->fleets[i] == f)
			return 0;
	if (num_grow((void **)&w->fleets, &w->fleets_cap, w->nfleets,
		     sizeof(*w->fleets)) < 0)
		return watch_fail(ctx, -ENOMEM);
	r = fleet_observe(f, o);
	if (r < 0)
		return watch_fail(ctx, r);
	w->fleets[w->nfleets++] = f;
	return 0;
}

void usage_watches_free(struct usage_watches *w, const struct usage_observer *o)
{
	for (size_t i = 0; i < w->nsnaps; i++)
		snapshot_unobserve(w->snaps[i], o);
	for (size_t i = 0; i < w->nfleets; i++)
		fleet_unobserve(w->fleets[i], o);
	free(w->snaps);
	free(w->fleets);
	memset(w, 0, sizeof(*w));
}

EPH_EXPORT size_t eph_fleet_count(const struct eph_fleet *f)
{
	return f->n;
}

EPH_EXPORT const struct eph_netns *eph_fleet_netns(const struct eph_fleet *f,
						   size_t i)
{
	return i < f->n ? &f->m[i].ns : NULL;
}

EPH_EXPORT const struct eph_snapshot *
eph_fleet_snapshot(const struct eph_fleet *f, size_t i)
{
	return i < f->n && !f->m[i].err ? f->m[i].snap : NULL;
}

EPH_EXPORT int eph_fleet_errno(const struct eph_fleet *f, size_t i)
{
	return i < f->n ? f->m[i].err : 0;
}

EPH_EXPORT const char *eph_fleet_error(const struct eph_fleet *f, size_t i)
{
	return i < f->n ? f->m[i].error : "";
}

EPH_EXPORT bool eph_fleet_vanished(const struct eph_fleet *f, size_t i)
{
	return i < f->n && f->m[i].err && f->m[i].gone;
}

EPH_EXPORT size_t eph_fleet_unread(const struct eph_fleet *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += f->m[i].err && !f->m[i].gone;
	return n;
}

/* ---- Ranking ---- */

struct eph_ranking {
	struct eph_rank_row *rows;
	size_t n, shown;
	struct eph_rollup *rest; /* per source */
	struct eph_rollup total;
	size_t nsources;
	enum eph_level level;
	size_t udp_source;
	const struct eph_usage_udp *udp;
};

static int row_cmp(const void *a, const void *b)
{
	const struct eph_rank_row *x = a, *y = b;

	if (x->percent != y->percent)
		return x->percent > y->percent ? -1 : 1;
	if (x->tuple->free != y->tuple->free)
		return x->tuple->free < y->tuple->free ? -1 : 1;
	if (x->source != y->source)
		return x->source < y->source ? -1 : 1;
	/* Within a source, the usage's own order (fullest first). */
	return x->tuple < y->tuple ? -1 : x->tuple > y->tuple;
}

static void roll(struct eph_rollup *r, const struct eph_rank_row *row)
{
	const struct eph_usage_tuple *t = row->tuple;

	if (r->tuples == 0 || t->free < r->min_free)
		r->min_free = t->free;
	if (row->percent > r->max_percent)
		r->max_percent = row->percent;
	r->tuples++;
	r->used += t->used;
	r->established += t->established;
	r->time_wait += t->time_wait;
	r->other += t->other;
}

EPH_EXPORT int eph_ranking_new(const struct eph_snapshot *const *snaps,
			       size_t n, const struct eph_thresholds *th,
			       size_t top, struct eph_ranking **ret)
{
	struct eph_ranking *r = calloc(1, sizeof(*r));
	size_t total = 0, k = 0;
	double udp_worst = -1;

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (snaps[i] && eph_snapshot_usage(snaps[i]))
			total += eph_usage_count(eph_snapshot_usage(snaps[i]));
	r->rows = calloc(total ? total : 1, sizeof(*r->rows));
	r->rest = calloc(n ? n : 1, sizeof(*r->rest));
	if (!r->rows || !r->rest) {
		eph_ranking_free(r);
		return -ENOMEM;
	}
	r->nsources = n;
	r->level = EPH_LEVEL_OK;
	for (size_t i = 0; i < n; i++) {
		const struct eph_usage *u =
			snaps[i] ? eph_snapshot_usage(snaps[i]) : NULL;
		const struct eph_usage_summary *sum;

		if (!u)
			continue;
		for (size_t t = 0; t < eph_usage_count(u); t++) {
			struct eph_rank_row *row = &r->rows[k++];

			row->source = i;
			row->tuple = eph_usage_get(u, t);
			row->percent = eph_usage_tuple_percent(row->tuple);
			row->level = eph_level_of(th, row->percent,
						  row->tuple->free);
			if (row->level > r->level)
				r->level = row->level;
		}
		sum = eph_usage_summary(u);
		for (int f = 0; f < 2; f++) {
			const struct eph_usage_udp *udp =
				f ? &sum->udp6 : &sum->udp4;
			double pct = eph_usage_udp_percent(udp);
			enum eph_level l = eph_level_of(th, pct, udp->free);

			if (l > r->level)
				r->level = l;
			if (pct > udp_worst) {
				udp_worst = pct;
				r->udp_source = i;
				r->udp = udp;
			}
		}
	}
	r->n = k;
	if (k > 1)
		qsort(r->rows, k, sizeof(*r->rows), row_cmp);
	r->shown = top == 0 || top > k ? k : top;
	for (size_t i = r->shown; i < k; i++) {
		roll(&r->rest[r->rows[i].source], &r->rows[i]);
		roll(&r->total, &r->rows[i]);
	}
	*ret = r;
	return 0;
}

EPH_EXPORT void eph_ranking_free(struct eph_ranking *r)
{
	if (!r)
		return;
	free(r->rows);
	free(r->rest);
	free(r);
}

EPH_EXPORT size_t eph_ranking_count(const struct eph_ranking *r)
{
	return r->n;
}

EPH_EXPORT size_t eph_ranking_shown(const struct eph_ranking *r)
{
	return r->shown;
}

EPH_EXPORT const struct eph_rank_row *
eph_ranking_get(const struct eph_ranking *r, size_t i)
{
	return i < r->n ? &r->rows[i] : NULL;
}

EPH_EXPORT const struct eph_rollup *
eph_ranking_rest(const struct eph_ranking *r, size_t source)
{
	return source < r->nsources ? &r->rest[source] : NULL;
}

EPH_EXPORT const struct eph_rollup *
eph_ranking_rest_total(const struct eph_ranking *r)
{
	return &r->total;
}

EPH_EXPORT enum eph_level eph_ranking_level(const struct eph_ranking *r)
{
	return r->level;
}

EPH_EXPORT enum eph_level eph_check_level(const struct eph_ranking *r,
					  const struct eph_fleet *f)
{
	/* A namespace asked about and not read might be the fullest. */
	if (f && eph_fleet_unread(f) > 0)
		return EPH_LEVEL_UNKNOWN;
	return r->level;
}

EPH_EXPORT void eph_ranking_udp_fullest(const struct eph_ranking *r,
					size_t *ret_source,
					const struct eph_usage_udp **ret_udp)
{
	if (ret_source)
		*ret_source = r->udp_source;
	if (ret_udp)
		*ret_udp = r->udp;
}
