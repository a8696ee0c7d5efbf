/* SPDX-License-Identifier: MIT */
/* ephport usage: ephemeral ports used and left, per destination. */
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "cli.h"
#include "json.h"

static const char usage_help[] =
	"Usage: ephport usage [--top N] [--check [--warning T] [--critical "
	"T]]\n"
	"                     [--all-netns | --netns NS] [--no-owners] "
	"[--json]\n"
	"\n"
	"Ephemeral ports in use and left, per destination: TCP's budget is "
	"per\n"
	"(local IP, remote IP, remote port), so each destination has its own.\n"
	"Capacity is the range minus reserved ports minus ports that explicit\n"
	"binders (listeners, bind-before-connect sockets, bound idle sockets)\n"
	"block for every destination; FREE is what connect() would find now,\n"
	"counting a TIME_WAIT as free when tcp_tw_reuse lets connect() reuse "
	"it.\n"
	"UDP has no such split: every UDP socket takes a port of its own.\n"
	"\n"
	"Options:\n"
	"  -t, --top N        show the N fullest destinations (default 10, 0 "
	"for\n"
	"                     all); the rest are summed in one line\n"
	"  -c, --check        print one monitoring-plugin status line with "
	"perfdata\n"
	"                     and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
	"  -w, --warning T    warning threshold: P% (at or above P percent "
	"used)\n"
	"                     or N (fewer than N ports free); default 66.7%\n"
	"  -C, --critical T   critical threshold, the same way; default 90%\n"
	"  -a, --all-netns    every named namespace and every namespace of a\n"
	"                     running process, each row labelled with its own\n"
	"      --no-owners    do not look up the processes behind blocked "
	"ports\n"
	"                     (skips the walk of /proc/*/fd)\n"
	"  -n, --netns NS     read network namespace NS (name, path or "
	"pid:PID)\n"
	"  -j, --json         print one JSON object with every destination\n"
	"  -h, --help         show this help\n"
	"\n"
	"Examples:\n"
	"  ephport usage\n"
	"  ephport usage --top 0 --json | jq '.tuples[] | select(.percent > "
	"50)'\n"
	"  ephport usage --check --warning 5000 --critical 1000\n"
	"  ephport usage --all-netns\n"
	"\n"
	"Exit status: 0 success, 1 failure, 2 usage error; with --check 0 OK,\n"
	"1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for usage errors).\n";

/* A threshold: a share used (percent) or a count of free ports. */
struct threshold {
	bool percent;
	double pct;
	uint32_t free;
};

/* Parses "66.7%" or "1000". Returns 0 or -EINVAL. */
static int threshold_parse(struct cli *cli, const char *s, struct threshold *t)
{
	size_t len = strlen(s), dot, fdigits;
	uint64_t whole, frac = 0, scale = 1;

	if (len == 0 || s[len - 1] != '%') {
		if (eph_num_parse_str(cli->ctx, s, 0, EPH_PORT_COUNT,
				      "free ports", &whole) < 0)
			return -EINVAL;
		t->percent = false;
		t->free = (uint32_t)whole;
		return 0;
	}
	len--;
	dot = strcspn(s, ".");
	if (dot > len)
		dot = len;
	if (eph_num_parse(cli->ctx, s, dot, 0, 100, "percentage", &whole) < 0)
		return -EINVAL;
	if (dot < len) {
		fdigits = len - dot - 1;
		if (fdigits == 0 || fdigits > 3 ||
		    eph_num_parse(cli->ctx, s + dot + 1, fdigits, 0, 999,
				  "percentage", &frac) < 0)
			return -EINVAL;
		while (fdigits--)
			scale *= 10;
	}
	t->percent = true;
	t->pct = (double)whole + (double)frac / (double)scale;
	return t->pct > 100.0 ? -EINVAL : 0;
}

static bool threshold_hit(const struct threshold *t, double pct, uint32_t free)
{
	if (t->percent)
		return pct >= t->pct;
	return free < t->free;
}

struct thresholds {
	struct threshold warn, crit;
};

/* 0 OK, 1 WARNING, 2 CRITICAL */
static int level_of(const struct thresholds *th, double pct, uint32_t free)
{
	if (threshold_hit(&th->crit, pct, free))
		return 2;
	if (threshold_hit(&th->warn, pct, free))
		return 1;
	return 0;
}

static const char *const level_names[] = { "OK", "WARNING", "CRITICAL",
					   "UNKNOWN" };

/* One namespace's view. */
struct view {
	const struct eph_netns *ns; /* NULL for the single namespace */
	const char *label;	    /* NULL for the single namespace */
	struct eph_ctx *ctx;
	bool own_ctx;
	struct eph_policy *policy;
	struct eph_usage *usage;
	struct eph_owners *owners;
	char error[512]; /* set when this namespace could not be read */
};

struct row {
	const struct view *v;
	const struct eph_usage_tuple *t;
	double pct;
};

static int view_load(struct view *v, bool want_owners)
{
	size_t nb;
	int r;

	r = eph_policy_read(v->ctx, &v->policy);
	if (r >= 0)
		r = eph_usage_new(v->ctx, &v->usage);
	if (r >= 0)
		r = eph_usage_scan(v->usage, v->policy);
	if (r < 0) {
		snprintf(v->error, sizeof(v->error), "%s",
			 eph_ctx_errmsg(v->ctx));
		return r;
	}
	nb = eph_usage_blocker_count(v->usage);
	if (!want_owners || nb == 0)
		return 0;
	if (eph_owners_new(v->ctx, &v->owners) < 0)
		return 0;
	for (size_t i = 0; i < nb; i++)
		if (eph_owners_want(v->owners,
				    eph_usage_blocker(v->usage, i)->inode) < 0)
			break;
	/* Owners are a courtesy: without them the numbers still stand. */
	if (eph_owners_resolve(v->owners) < 0) {
		eph_owners_free(v->owners);
		v->owners = NULL;
	}
	return 0;
}

static void view_free(struct view *v)
{
	eph_owners_free(v->owners);
	eph_usage_free(v->usage);
	eph_policy_free(v->policy);
	if (v->own_ctx)
		eph_ctx_free(v->ctx);
}

static double udp_pct(const struct eph_usage_udp *u)
{
	return u->capacity ? 100.0 * u->used / u->capacity : 100.0;
}

/* The fuller of a namespace's two UDP budgets. */
static const struct eph_usage_udp *
udp_fullest(const struct eph_usage_summary *s)
{
	return udp_pct(&s->udp6) > udp_pct(&s->udp4) ? &s->udp6 : &s->udp4;
}

static const char *addr_str(const uint8_t a[16], char *buf, size_t size)
{
	return eph_addr_format(a, buf, size);
}

/* "10.0.0.2:443" or "[2001:db8::1]:443" */
static const char *endpoint_str(const uint8_t a[16], uint16_t port, bool v6,
				char *buf, size_t size)
{
	char ab[64];

	addr_str(a, ab, sizeof(ab));
	if (v6)
		snprintf(buf, size, "[%s]:%u", ab, port);
	else
		snprintf(buf, size, "%s:%u", ab, port);
	return buf;
}

/* Blocked ports grouped by the process that holds them. */
struct holder {
	int32_t pid;
	uint32_t uid;
	char comm[16];
	uint32_t ports;
	uint16_t first[3];
};

static int holder_cmp(const void *a, const void *b)
{
	const struct holder *x = a, *y = b;

	if (x->ports != y->ports)
		return x->ports > y->ports ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Fills HOLDERS (NB of them at most) and returns how many there are. */
static size_t group_holders(const struct view *v, struct holder *h, size_t max)
{
	size_t n = 0, nb = eph_usage_blocker_count(v->usage);

	for (size_t i = 0; i < nb; i++) {
		const struct eph_usage_blocker *b =
			eph_usage_blocker(v->usage, i);
		const struct eph_owner *o =
			v->owners ? eph_owners_find(v->owners, b->inode) : NULL;
		int32_t pid = o ? o->pid : -1;
		size_t k;

		for (k = 0; k < n; k++)
			if (h[k].pid == pid && (pid >= 0 || h[k].uid == b->uid))
				break;
		if (k == n) {
			if (n == max)
				continue;
			memset(&h[n], 0, sizeof(h[n]));
			h[n].pid = pid;
			h[n].uid = b->uid;
			if (o)
				snprintf(h[n].comm, sizeof(h[n].comm), "%s",
					 o->comm);
			n++;
		}
		if (h[k].ports < 3)
			h[k].first[h[k].ports] = b->port;
		h[k].ports++;
	}
	if (n > 1)
		qsort(h, n, sizeof(*h), holder_cmp);
	return n;
}

static void holder_name(const struct holder *h, char *buf, size_t size)
{
	if (h->pid >= 0)
		snprintf(buf, size, "%s[%d]", h->comm, h->pid);
	else
		snprintf(buf, size, "uid %u (process not found)", h->uid);
}

static void print_host(const struct view *v, FILE *f)
{
	const struct eph_usage_summary *s = eph_usage_summary(v->usage);
	struct holder h[64];
	size_t nh;
	char line[1024], first[64];
	size_t n = 0;

	snprintf(first, sizeof(first), "%s", v->label ? "  " : "");
	n += (size_t)snprintf(
		line + n, sizeof(line) - n,
		"Range %u-%u (%u ports): %u reserved, %u blocked for every "
		"destination: %u per destination%s.",
		s->range_low, s->range_high, s->range_size, s->reserved,
		s->blocked, s->capacity,
		s->same_parity ? " (bounds of one parity: one port is never "
				 "tried)"
			       : "");
	cli_wrap(f, first, line);
	nh = group_holders(v, h, sizeof(h) / sizeof(h[0]));
	if (nh > 0) {
		n = 0;
		for (size_t i = 0; i < nh && i < 3; i++) {
			char name[64];

			holder_name(&h[i], name, sizeof(name));
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      "%s%s %u port%s (", i ? "; " : "",
					      name, h[i].ports,
					      h[i].ports == 1 ? "" : "s");
			for (uint32_t k = 0; k < h[i].ports && k < 3; k++)
				n += (size_t)snprintf(
					line + n, sizeof(line) - n, "%s%u",
					k ? ", " : "", h[i].first[k]);
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s)",
					      h[i].ports > 3 ? ", ..." : "");
		}
		if (nh > 3)
			snprintf(line + n, sizeof(line) - n,
				 "; %zu more holders", nh - 3);
		snprintf(first, sizeof(first),
			 "%sBlocked by: ", v->label ? "  " : "");
		cli_wrap(f, first, line);
	}
	snprintf(line, sizeof(line),
		 "%u TCP sockets on %u ports of the range: %u established, "
		 "%u TIME_WAIT, %u other; %u on blocked ports, %u on reserved "
		 "ports.",
		 s->tcp_sockets, s->tcp_ports,
		 s->tcp_by_state[EPH_TCP_ESTABLISHED],
		 s->tcp_by_state[EPH_TCP_TIME_WAIT],
		 s->tcp_sockets - s->tcp_by_state[EPH_TCP_ESTABLISHED] -
			 s->tcp_by_state[EPH_TCP_TIME_WAIT],
		 s->tcp_on_blocked, s->tcp_on_reserved);
	cli_wrap(f, v->label ? "  " : "", line);
	snprintf(line, sizeof(line),
		 "UDP: IPv4 %u of %u ports in use (%.1f%%), %u free; IPv6 %u "
		 "of %u (%.1f%%), %u free; every UDP socket takes a port of "
		 "its own.",
		 s->udp4.used, s->udp4.capacity, udp_pct(&s->udp4),
		 s->udp4.free, s->udp6.used, s->udp6.capacity,
		 udp_pct(&s->udp6), s->udp6.free);
	cli_wrap(f, v->label ? "  " : "", line);
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->pct != y->pct)
		return x->pct > y->pct ? -1 : 1;
	if (x->t->free != y->t->free)
		return x->t->free < y->t->free ? -1 : 1;
	return 0;
}

static void print_table(const struct row *rows, size_t n, size_t top,
			bool with_ns, const struct thresholds *th, FILE *f)
{
	size_t shown = top == 0 || top > n ? n : top;
	int wn = 5, wl = 5, wr = 6;
	char a[80], b[80];

	if (n == 0) {
		fputs("No TCP connections from ports of the range: every "
		      "destination has the full capacity.\n",
		      f);
		return;
	}
	for (size_t i = 0; i < shown; i++) {
		const struct eph_usage_tuple *t = rows[i].t;
		int l;

		l = (int)strlen(addr_str(t->local, a, sizeof(a)));
		wl = l > wl ? l : wl;
		l = (int)strlen(endpoint_str(t->remote, t->remote_port,
					     t->family == AF_INET6, b,
					     sizeof(b)));
		wr = l > wr ? l : wr;
		if (with_ns && rows[i].v->label) {
			l = (int)strlen(rows[i].v->label);
			wn = l > wn ? l : wn;
		}
	}
	if (with_ns)
		fprintf(f, "%-*s ", wn, "NETNS");
	fprintf(f, "%-5s %-*s %-*s %7s %7s %6s %8s %8s %7s %6s\n", "PROTO", wl,
		"LOCAL", wr, "REMOTE", "ESTAB", "TW", "OTHER", "TW-REUSE",
		"CAPACITY", "FREE", "USED%");
	for (size_t i = 0; i < shown; i++) {
		const struct eph_usage_tuple *t = rows[i].t;
		int lvl = level_of(th, rows[i].pct, t->free);

		if (with_ns)
			fprintf(f, "%-*s ", wn, rows[i].v->label);
		fprintf(f, "%-5s %-*s %-*s %7u %7u %6u %8u %8u %7u %5.1f%s\n",
			"tcp", wl, addr_str(t->local, a, sizeof(a)), wr,
			endpoint_str(t->remote, t->remote_port,
				     t->family == AF_INET6, b, sizeof(b)),
			t->established, t->time_wait, t->other, t->tw_reusable,
			t->capacity, t->free, rows[i].pct,
			lvl == 2   ? "  CRITICAL"
			: lvl == 1 ? "  WARNING"
				   : "");
	}
	if (shown < n) {
		uint64_t used = 0;

		for (size_t i = shown; i < n; i++)
			used += rows[i].t->used;
		fprintf(f,
			"... %zu more destination%s with %" PRIu64
			" ports in use, the fullest %.1f%% used (--top 0 "
			"shows all)\n",
			n - shown, n - shown == 1 ? "" : "s", used,
			rows[shown].pct);
	}
}

static void json_tuple(struct json *j, const struct row *r)
{
	const struct eph_usage_tuple *t = r->t;
	char a[64];

	json_obj(j, NULL);
	if (r->v->label)
		json_str(j, "netns", r->v->label);
	json_str(j, "proto", "tcp");
	json_str(j, "local", addr_str(t->local, a, sizeof(a)));
	json_str(j, "remote", addr_str(t->remote, a, sizeof(a)));
	json_uint(j, "remote_port", t->remote_port);
	json_uint(j, "established", t->established);
	json_uint(j, "time_wait", t->time_wait);
	json_uint(j, "other", t->other);
	json_uint(j, "tw_reusable", t->tw_reusable);
	json_uint(j, "used", t->used);
	json_uint(j, "capacity", t->capacity);
	json_uint(j, "free", t->free);
	json_uint(j, "free_min", t->free_min);
	json_fixed(j, "percent", r->pct, 2);
	json_obj_end(j);
}

/* One UDP budget: a member NAME, or an element for address LOCAL. */
static void json_udp(struct json *j, const char *name, const char *local,
		     const struct eph_usage_udp *u)
{
	json_obj(j, name);
	if (local)
		json_str(j, "local", local);
	json_uint(j, "sockets", u->sockets);
	json_uint(j, "used", u->used);
	json_uint(j, "capacity", u->capacity);
	json_uint(j, "free", u->free);
	json_fixed(j, "percent", udp_pct(u), 2);
	json_obj_end(j);
}

static void json_view(struct json *j, const struct view *v)
{
	const struct eph_usage_summary *s = eph_usage_summary(v->usage);
	size_t nb = eph_usage_blocker_count(v->usage);
	char a[64];

	json_obj(j, "range");
	json_uint(j, "low", s->range_low);
	json_uint(j, "high", s->range_high);
	json_uint(j, "size", s->range_size);
	json_uint(j, "reserved", s->reserved);
	json_bool(j, "same_parity", s->same_parity);
	json_uint(j, "capacity", s->capacity);
	json_uint(j, "capacity_min", s->capacity_min);
	json_obj_end(j);
	json_uint(j, "blocked_ports", s->blocked);
	json_arr(j, "blocked");
	for (size_t i = 0; i < nb; i++) {
		const struct eph_usage_blocker *b =
			eph_usage_blocker(v->usage, i);
		const struct eph_owner *o =
			v->owners ? eph_owners_find(v->owners, b->inode) : NULL;

		json_obj(j, NULL);
		json_uint(j, "port", b->port);
		json_str(j, "state", eph_tcp_state_name(b->state));
		json_str(j, "local", addr_str(b->local, a, sizeof(a)));
		json_uint(j, "sockets", b->sockets);
		json_uint(j, "uid", b->uid);
		json_uint(j, "inode", b->inode);
		if (o) {
			json_int(j, "pid", o->pid);
			json_str(j, "comm", o->comm);
		} else {
			json_null(j, "pid");
			json_null(j, "comm");
		}
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj(j, "tcp");
	json_uint(j, "sockets", s->tcp_sockets);
	json_uint(j, "ports", s->tcp_ports);
	json_uint(j, "destinations", s->tuples);
	json_uint(j, "on_blocked_ports", s->tcp_on_blocked);
	json_uint(j, "on_reserved_ports", s->tcp_on_reserved);
	json_obj(j, "states");
	/* Some states share ss's name (CLOSE and BOUND_INACTIVE are both
	 * UNCONN): one member per name, with their sum. */
	for (uint8_t st = 1; st < EPH_TCP_MAX_STATES; st++) {
		const char *name = eph_tcp_state_name(st);
		uint64_t sum = 0;
		bool first = true;

		for (uint8_t o = 1; o < EPH_TCP_MAX_STATES; o++) {
			if (strcmp(eph_tcp_state_name(o), name) != 0)
				continue;
			first &= o >= st;
			sum += s->tcp_by_state[o];
		}
		if (first && sum)
			json_uint(j, name, sum);
	}
	json_obj_end(j);
	json_obj_end(j);
	json_obj(j, "udp");
	json_uint(j, "sockets", s->udp_sockets);
	json_udp(j, "ipv4", NULL, &s->udp4);
	json_udp(j, "ipv6", NULL, &s->udp6);
	json_udp(j, "ipv6only", NULL, &s->udp6only);
	json_udp(j, "ipv4_address", NULL, &s->udp4_addr);
	json_udp(j, "ipv6_address", NULL, &s->udp6_addr);
	json_arr(j, "addresses");
	for (size_t i = 0; i < eph_usage_udp_addr_count(v->usage); i++) {
		const struct eph_usage_udp_addr *ua =
			eph_usage_udp_addr(v->usage, i);

		json_udp(j, NULL, addr_str(ua->local, a, sizeof(a)), &ua->udp);
	}
	json_arr_end(j);
	json_obj_end(j);
}

struct run {
	struct cli *cli;
	struct view *views;
	size_t nviews;
	struct eph_netns *list;
	struct row *rows;
	size_t nrows;
	size_t top;
	bool check, all, owners;
	struct thresholds th;
};

static int load_all(struct run *R)
{
	struct cli *cli = R->cli;
	size_t n = 0, ok = 0;

	if (!R->all) {
		R->views = calloc(1, sizeof(*R->views));
		if (!R->views)
			return -ENOMEM;
		R->nviews = 1;
		R->views[0].ctx = cli->ctx;
		if (cli_apply_netns(cli) != EXIT_OK)
			return -EINVAL;
		if (view_load(&R->views[0], R->owners) < 0) {
			warnx("%s", R->views[0].error);
			return -EIO;
		}
		return 0;
	}
	if (eph_netns_list(cli->ctx, &R->list, &n) < 0) {
		cli_fail(cli, NULL);
		return -EIO;
	}
	R->views = calloc(n ? n : 1, sizeof(*R->views));
	if (!R->views)
		return -ENOMEM;
	R->nviews = n;
	for (size_t i = 0; i < n; i++) {
		struct view *v = &R->views[i];

		v->ns = &R->list[i];
		v->label = R->list[i].label;
		if (eph_ctx_new(&v->ctx) < 0)
			return -ENOMEM;
		v->own_ctx = true;
		if (eph_ctx_set_netns(v->ctx, R->list[i].spec) < 0) {
			snprintf(v->error, sizeof(v->error), "%s",
				 eph_ctx_errmsg(v->ctx));
			continue;
		}
		if (view_load(v, R->owners) == 0)
			ok++;
	}
	if (ok == 0) {
		warnx("no network namespace could be read");
		return -EIO;
	}
	return 0;
}

static int gather_rows(struct run *R)
{
	size_t total = 0, k = 0;

	for (size_t i = 0; i < R->nviews; i++)
		if (!R->views[i].error[0])
			total += eph_usage_count(R->views[i].usage);
	R->rows = calloc(total ? total : 1, sizeof(*R->rows));
	if (!R->rows)
		return -ENOMEM;
	for (size_t i = 0; i < R->nviews; i++) {
		const struct view *v = &R->views[i];

		if (v->error[0])
			continue;
		for (size_t t = 0; t < eph_usage_count(v->usage); t++) {
			R->rows[k].v = v;
			R->rows[k].t = eph_usage_get(v->usage, t);
			R->rows[k].pct = eph_usage_tuple_percent(R->rows[k].t);
			k++;
		}
	}
	R->nrows = k;
	if (R->nviews > 1)
		qsort(R->rows, k, sizeof(*R->rows), row_cmp);
	return 0;
}

/* The worst state over every destination and every namespace's UDP. */
static int worst_level(const struct run *R, const struct view **ret_udp)
{
	int worst = 0;
	double udp_worst = -1;

	for (size_t i = 0; i < R->nrows; i++) {
		int l = level_of(&R->th, R->rows[i].pct, R->rows[i].t->free);

		worst = l > worst ? l : worst;
	}
	*ret_udp = NULL;
	for (size_t i = 0; i < R->nviews; i++) {
		const struct eph_usage_summary *s;
		int l;

		if (R->views[i].error[0])
			continue;
		s = eph_usage_summary(R->views[i].usage);
		l = level_of(&R->th, udp_pct(udp_fullest(s)),
			     udp_fullest(s)->free);
		worst = l > worst ? l : worst;
		if (udp_pct(udp_fullest(s)) > udp_worst) {
			udp_worst = udp_pct(udp_fullest(s));
			*ret_udp = &R->views[i];
		}
	}
	return worst;
}

/* A perfdata threshold field: only where the threshold is of that kind;
 * "N:" is the plugin range for "alert below N". */
static void perf_threshold(const struct threshold *t, bool pct, char *buf,
			   size_t size)
{
	if (t->percent != pct)
		buf[0] = '\0';
	else if (pct)
		snprintf(buf, size, "%.1f", t->pct);
	else
		snprintf(buf, size, "%u:", t->free);
}

static int print_check(struct run *R)
{
	const struct view *uv;
	int lvl = worst_level(R, &uv);
	const struct eph_usage_udp *us =
		udp_fullest(eph_usage_summary(uv->usage));
	char w1[32], c1[32], w2[32], c2[32], a[64], b[80];
	size_t failed = 0;

	for (size_t i = 0; i < R->nviews; i++)
		failed += R->views[i].error[0] != 0;
	printf("EPHPORT USAGE %s - ", level_names[lvl]);
	if (R->nrows > 0) {
		const struct row *r = &R->rows[0];

		printf("fullest %s%s%s -> %s %.1f%% used, %u of %u free",
		       r->v->label ? r->v->label : "", r->v->label ? ": " : "",
		       addr_str(r->t->local, a, sizeof(a)),
		       endpoint_str(r->t->remote, r->t->remote_port,
				    r->t->family == AF_INET6, b, sizeof(b)),
		       r->pct, r->t->free, r->t->capacity);
	} else {
		printf("no TCP destination uses the range");
	}
	printf("; UDP %.1f%% used, %u of %u free", udp_pct(us), us->free,
	       us->capacity);
	if (failed)
		printf("; %zu namespace%s could not be read", failed,
		       failed == 1 ? "" : "s");
	perf_threshold(&R->th.warn, true, w1, sizeof(w1));
	perf_threshold(&R->th.crit, true, c1, sizeof(c1));
	perf_threshold(&R->th.warn, false, w2, sizeof(w2));
	perf_threshold(&R->th.crit, false, c2, sizeof(c2));
	printf(" | tcp_used_pct=%.2f%%;%s;%s;0;100 tcp_free=%u;%s;%s;0;%u "
	       "destinations=%zu udp_used_pct=%.2f%%;%s;%s;0;100 "
	       "udp_free=%u;%s;%s;0;%u\n",
	       R->nrows ? R->rows[0].pct : 0.0, w1, c1,
	       R->nrows ? R->rows[0].t->free
			: eph_usage_summary(R->views[0].usage)->capacity,
	       w2, c2,
	       R->nrows ? R->rows[0].t->capacity
			: eph_usage_summary(R->views[0].usage)->capacity,
	       R->nrows, udp_pct(us), w1, c1, us->free, w2, c2, us->capacity);
	return lvl;
}

static void print_json(struct run *R, int lvl)
{
	struct json j;

	cli_json_begin(R->cli, &j);
	if (R->all) {
		uint64_t blocked = 0;

		json_arr(&j, "namespaces");
		for (size_t i = 0; i < R->nviews; i++) {
			const struct view *v = &R->views[i];

			json_obj(&j, NULL);
			json_str(&j, "label", v->label);
			json_str(&j, "spec", v->ns->spec);
			json_bool(&j, "named", v->ns->named);
			json_bool(&j, "current", v->ns->current);
			if (v->ns->pid >= 0) {
				json_int(&j, "pid", v->ns->pid);
				json_str(&j, "comm", v->ns->comm);
			} else {
				json_null(&j, "pid");
				json_null(&j, "comm");
			}
			if (v->error[0]) {
				json_str(&j, "error", v->error);
			} else {
				json_view(&j, v);
				blocked += eph_usage_summary(v->usage)->blocked;
			}
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_uint(&j, "blocked_ports", blocked);
	} else {
		json_view(&j, &R->views[0]);
	}
	if (lvl >= 0)
		json_str(&j, "status", level_names[lvl]);
	json_arr(&j, "tuples");
	for (size_t i = 0; i < R->nrows; i++)
		json_tuple(&j, &R->rows[i]);
	json_arr_end(&j);
	cli_json_finish(&j);
}

static void print_text(struct run *R)
{
	struct cli *cli = R->cli;

	cli_heading(cli, "Ephemeral port usage");
	putchar('\n');
	for (size_t i = 0; i < R->nviews; i++) {
		const struct view *v = &R->views[i];

		if (v->label) {
			printf("%s", v->label);
			if (v->ns->pid >= 0)
				printf(" (%s[%d])", v->ns->comm, v->ns->pid);
			printf("%s\n",
			       v->ns->current
				       ? ", the namespace ephport runs in"
				       : "");
			if (v->error[0]) {
				printf("  not read: %s\n", v->error);
				continue;
			}
		}
		print_host(v, stdout);
	}
	putchar('\n');
	print_table(R->rows, R->nrows, R->top, R->all, &R->th, stdout);
}

static void run_free(struct run *R)
{
	for (size_t i = 0; i < R->nviews; i++)
		view_free(&R->views[i]);
	free(R->views);
	free(R->list);
	free(R->rows);
}

/* Returns EXIT_OK with the --check level in *LVL, or an exit code. */
static int usage_main(struct cli *cli, int argc, char **argv, bool *check,
		      int *lvl)
{
	static const struct option longopts[] = {
		{ "top", required_argument, NULL, 't' },
		{ "check", no_argument, NULL, 'c' },
		{ "warning", required_argument, NULL, 'w' },
		{ "critical", required_argument, NULL, 'C' },
		{ "all-netns", no_argument, NULL, 'a' },
		{ "no-owners", no_argument, NULL, 'O' },
		CLI_COMMON_LONG,
	};
	struct run R = { .cli = cli, .top = 10, .owners = true };
	bool done = false;
	uint64_t top;
	int c, rc;

	R.th.warn = (struct threshold){ true, 66.7, 0 };
	R.th.crit = (struct threshold){ true, 90.0, 0 };
	while ((c = getopt_long(argc, argv, "+t:cw:C:a" CLI_COMMON_SHORT,
				longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (eph_num_parse_str(cli->ctx, optarg, 0, 1000000,
					      "--top", &top) < 0)
				return cli_usage_error(
					cli, "%s", eph_ctx_errmsg(cli->ctx));
			R.top = (size_t)top;
			continue;
		case 'c':
			R.check = *check = true;
			continue;
		case 'w':
		case 'C':
			if (threshold_parse(cli, optarg,
					    c == 'w' ? &R.th.warn
						     : &R.th.crit) < 0)
				return cli_usage_error(
					cli,
					"%s '%s': give a percentage used "
					"(\"66.7%%\", 0-100, up to 3 "
					"decimals) or a count of free ports "
					"(0-65536)",
					c == 'w' ? "--warning" : "--critical",
					optarg);
			continue;
		case 'a':
			R.all = true;
			continue;
		case 'O':
			R.owners = false;
			continue;
		default:
			break;
		}
		rc = cli_common_option(cli, c, usage_help, &done);
		if (rc != EXIT_OK || done)
			return rc;
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
				       argv[optind]);
	if (R.all && cli->netns)
		return cli_usage_error(cli, "--all-netns and --netns exclude "
					    "each other");
	if (R.check)
		R.owners = false; /* the status line names no owners */
	if (load_all(&R) < 0 || gather_rows(&R) < 0) {
		run_free(&R);
		return EXIT_FAIL;
	}
	if (R.check) {
		if (cli->json) {
			const struct view *uv;

			*lvl = worst_level(&R, &uv);
			print_json(&R, *lvl);
		} else {
			*lvl = print_check(&R);
		}
	} else if (cli->json) {
		print_json(&R, -1);
	} else {
		print_text(&R);
	}
	run_free(&R);
	return EXIT_OK;
}

int cmd_usage(struct cli *cli, int argc, char **argv)
{
	bool check = false;
	int rc, lvl = 0;

	/* A monitoring system must see UNKNOWN for a bad command line too;
	 * look for --check before anything can fail. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--check") == 0 ||
		    strcmp(argv[i], "-c") == 0)
			check = true;
	rc = usage_main(cli, argc, argv, &check, &lvl);
	if (!check)
		return rc;
	return rc == EXIT_OK ? lvl : 3;
}

int usage_overview(struct cli *cli, struct json *j)
{
	struct run R = { .cli = cli, .top = 5, .owners = true };
	int rc = EXIT_OK;

	R.th.warn = (struct threshold){ true, 66.7, 0 };
	R.th.crit = (struct threshold){ true, 90.0, 0 };
	R.views = calloc(1, sizeof(*R.views));
	if (!R.views)
		return cli_fail(cli, "out of memory");
	R.nviews = 1;
	R.views[0].ctx = cli->ctx;
	if (view_load(&R.views[0], true) < 0 || gather_rows(&R) < 0) {
		warnx("socket scan: %s",
		      R.views[0].error[0] ? R.views[0].error : "out of memory");
		rc = EXIT_FAIL;
	} else if (j) {
		json_obj(j, "usage");
		json_view(j, &R.views[0]);
		json_arr(j, "tuples");
		for (size_t i = 0; i < R.nrows && i < R.top; i++)
			json_tuple(j, &R.rows[i]);
		json_arr_end(j);
		json_obj_end(j);
	} else {
		printf("\nEphemeral port usage\n");
		print_host(&R.views[0], stdout);
		printf("\nFullest destinations\n");
		print_table(R.rows, R.nrows, R.top, false, &R.th, stdout);
	}
	run_free(&R);
	return rc;
}
