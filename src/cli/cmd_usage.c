/* SPDX-License-Identifier: MIT */
/* ephport usage: ephemeral ports used and left, per destination. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "shapes.h"

static const char usage_help[] =
	"Usage: ephport usage [--top N] [--by KIND] [--check [--warning T]\n"
	"                     [--critical T]] [--all-netns | --netns NS]\n"
	"                     [--no-owners] [--watch [S]] [--json]\n"
	"\n"
	"Ephemeral ports in use and left, per destination: TCP's budget is per\n"
	"(local IP, remote IP, remote port), so each destination has its own.\n"
	"Capacity is the range minus reserved ports minus ports that explicit\n"
	"binders (listeners, bind-before-connect sockets, bound idle sockets)\n"
	"block for every destination; FREE is what connect() would find now,\n"
	"counting a TIME_WAIT as free when tcp_tw_reuse lets connect() reuse it.\n"
	"With range bounds of one parity FREE shows a span (MIN-MAX): each\n"
	"connect() misses one port, so the last free one may be missed.\n"
	"UDP has no such split: every UDP socket takes a port of its own, among\n"
	"the sockets its address overlaps (IPv4 and IPv6 are counted apart).\n"
	"\n"
	"Options:\n"
	"  -t, --top N        show the N fullest destinations (default 10, 0 for\n"
	"                     all), in the table and in JSON; the rest are summed\n"
	"  -b, --by KIND      who holds the ports: unit (systemd), container\n"
	"                     (docker, containerd, Kubernetes, CRI-O, podman, LXC,\n"
	"                     nspawn), cgroup, user or process; named under each\n"
	"                     destination and summed over all of them. A TIME_WAIT\n"
	"                     has no owner left and is counted as such\n"
	"  -c, --check        print one monitoring-plugin status line with perfdata\n"
	"                     and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
	"  -w, --warning T    warning threshold: P% (at or above P percent used)\n"
	"                     or N (fewer than N ports free); default 66.7%\n"
	"  -C, --critical T   critical threshold, the same way; default 90%\n"
	"  -a, --all-netns    every named namespace and every namespace of a\n"
	"                     running process, each row labelled with its own;\n"
	"                     one that cannot be read is reported (exit 2)\n"
	"      --no-owners    do not look up the processes behind blocked ports\n"
	"                     (skips the walk of /proc/*/fd)\n"
	"  -W, --watch [S]    redraw every S seconds (default 2; --watch 5,\n"
	"                     --watch=5 or -W5) until Ctrl-C, with each\n"
	"                     destination's rate (PORTS/S, free ports lost per\n"
	"                     second), time until none is free, and connections\n"
	"                     new since the last redraw\n"
	"  -n, --netns NS     read network namespace NS (name, path or pid:PID)\n"
	"  -j, --json         print one JSON object\n"
	"  -h, --help         show this help\n"
	"\n"
	"Examples:\n"
	"  ephport usage\n"
	"  ephport usage --top 0 --json | jq '.tuples[] | select(.percent > 50)'\n"
	"  ephport usage --check --warning 5000 --critical 1000\n"
	"  ephport usage --all-netns\n"
	"  ephport usage --by unit\n"
	"  ephport usage --by process --top 3\n"
	"  ephport usage --by container --json | jq '.consumers[0]'\n"
	"  ephport usage --watch 5\n"
	"\n"
	"Exit status: 0 success, 2 ephport could not answer (a usage error, an\n"
	"unreadable namespace; with --all-netns, a namespace that could not be\n"
	"read, after the rest is shown); with --check 0 OK, 1 WARNING,\n"
	"2 CRITICAL, 3 UNKNOWN (a usage error, or a namespace asked about that\n"
	"could not be read; one that vanished meanwhile was not asked about).\n";

enum {
	OPT_TOP,
	OPT_CHECK,
	OPT_WARNING,
	OPT_CRITICAL,
	OPT_ALL,
	OPT_NO_OWNERS,
	OPT_BY,
	OPT_WATCH
};

static const struct cli_opt usage_opts[] = {
	{ "top", 't', CLI_VALUE, OPT_TOP },
	{ "check", 'c', CLI_NO_VALUE, OPT_CHECK },
	{ "warning", 'w', CLI_VALUE, OPT_WARNING },
	{ "critical", 'C', CLI_VALUE, OPT_CRITICAL },
	{ "all-netns", 'a', CLI_NO_VALUE, OPT_ALL },
	{ "no-owners", 0, CLI_NO_VALUE, OPT_NO_OWNERS },
	{ "by", 'b', CLI_VALUE, OPT_BY },
	{ "watch", 'W', CLI_OPT_VALUE, OPT_WATCH },
	{ 0 },
};

struct usage {
	struct cli *cli;
	size_t top;
	bool check, all, no_owners, seen_top, seen_warn, seen_crit, seen_by,
		seen_by_opt, watch;
	uint32_t every; /* --watch's seconds */
	bool printed;	/* the answer is out */
	/* --by: who holds the ports */
	struct shape_by by;
	struct eph_consumers *consumers;
	struct eph_thresholds th;
	/* One namespace, or the fleet. */
	struct eph_snapshot *snap;
	struct eph_fleet *fleet;
	const struct eph_snapshot **snaps;
	const char **labels;
	size_t n;
	struct eph_ranking *rank;
};

static int usage_opt(struct cli *cli, int id, const char *arg, void *data)
{
	struct usage *u = data;
	uint64_t v;

	switch (id) {
	case OPT_TOP:
		if (cli_once(cli, &u->seen_top, "--top") != EXIT_OK)
			return EXIT_ERROR;
		if (eph_num_parse_str(cli->ctx, arg, 0, 1000000, "--top", &v) <
		    0)
			return cli_usage_error(cli, "%s",
					       eph_ctx_errmsg(cli->ctx));
		u->top = (size_t)v;
		return EXIT_OK;
	case OPT_CHECK:
		u->check = true;
		return EXIT_OK;
	case OPT_WARNING:
	case OPT_CRITICAL:
		if (cli_once(cli,
			     id == OPT_WARNING ? &u->seen_warn : &u->seen_crit,
			     id == OPT_WARNING ? "--warning" : "--critical") !=
		    EXIT_OK)
			return EXIT_ERROR;
		if (eph_threshold_parse(cli->ctx, arg,
					id == OPT_WARNING ? &u->th.warn
							  : &u->th.crit) < 0)
			return cli_usage_error(cli, "%s %s",
					       id == OPT_WARNING ? "--warning"
								 : "--critical",
					       eph_ctx_errmsg(cli->ctx));
		return EXIT_OK;
	case OPT_ALL:
		u->all = true;
		return EXIT_OK;
	case OPT_BY:
		if (cli_once(cli, &u->seen_by_opt, "--by") != EXIT_OK)
			return EXIT_ERROR;
		return cli_by(cli, arg, false, &u->seen_by, &u->by.by);
	case OPT_WATCH:
		if (cli_once(cli, &u->watch, "--watch") != EXIT_OK)
			return EXIT_ERROR;
		if (arg && eph_num_parse_str(cli->ctx, arg, 1, 3600,
					     "--watch seconds", &v) < 0)
			return cli_usage_error(cli, "%s",
					       eph_ctx_errmsg(cli->ctx));
		u->every = arg ? (uint32_t)v : 2;
		return EXIT_OK;
	default:
		u->no_owners = true;
		return EXIT_OK;
	}
}

static int load(struct usage *u)
{
	struct cli *cli = u->cli;
	uint32_t flags = (u->check || u->no_owners ? 0 : EPH_SNAPSHOT_OWNERS) |
			 EPH_SNAPSHOT_HISTORY;
	int r;

	if (!u->all) {
		if (cli_apply_netns(cli) != EXIT_OK)
			return -EINVAL;
		if (eph_snapshot_new(cli->ctx, &u->snap) < 0 ||
		    (u->consumers &&
		     eph_consumers_watch(u->consumers, u->snap) < 0) ||
		    eph_snapshot_take(u->snap, flags) < 0)
			return -EIO;
		u->n = 1;
		u->snaps = calloc(1, sizeof(*u->snaps));
		u->labels = calloc(1, sizeof(*u->labels));
		if (!u->snaps || !u->labels)
			return -ENOMEM;
		u->snaps[0] = u->snap;
		return 0;
	}
	if (eph_fleet_new(cli->ctx, &u->fleet) < 0)
		return -ENOMEM;
	if (u->consumers &&
	    eph_consumers_watch_fleet(u->consumers, u->fleet) < 0)
		return -ENOMEM;
	r = eph_fleet_scan(u->fleet, flags);
	if (r < 0)
		return -EIO;
	u->n = eph_fleet_count(u->fleet);
	u->snaps = calloc(u->n ? u->n : 1, sizeof(*u->snaps));
	u->labels = calloc(u->n ? u->n : 1, sizeof(*u->labels));
	if (!u->snaps || !u->labels)
		return -ENOMEM;
	for (size_t i = 0; i < u->n; i++) {
		u->snaps[i] = eph_fleet_snapshot(u->fleet, i);
		u->labels[i] = eph_fleet_netns(u->fleet, i)->label;
	}
	return r == 0 ? -ENODATA : 0;
}

/* A perfdata threshold field: only where the threshold is of that kind;
 * "N:" is the plugin range for "alert below N". */
static void perf_threshold(const struct eph_threshold *t, bool pct, char *buf,
			   size_t size)
{
	if (t->percent != pct)
		buf[0] = '\0';
	else if (pct)
		snprintf(buf, size, "%.1f", t->pct);
	else
		snprintf(buf, size, "%u:", t->free);
}

static enum eph_level check_level(const struct usage *u)
{
	return eph_check_level(u->rank, u->fleet);
}

/* Namespaces asked about that could not be read (--all-netns). */
static size_t unread(const struct usage *u)
{
	return u->fleet ? eph_fleet_unread(u->fleet) : 0;
}

static void print_check(const struct usage *u)
{
	const struct eph_rank_row *row = eph_ranking_get(u->rank, 0);
	const struct eph_usage_udp *udp;
	const struct eph_usage_summary *sum;
	char w1[32], c1[32], w2[32], c2[32], a[64], b[80];
	size_t src;

	eph_ranking_udp_fullest(u->rank, &src, &udp);
	sum = eph_usage_summary(eph_snapshot_usage(u->snaps[src]));
	printf("EPHPORT USAGE %s - ", eph_level_name(check_level(u)));
	if (row)
		printf("fullest %s%s%s -> %s %.1f%% used, %u of %u free",
		       u->all ? u->labels[row->source] : "", u->all ? ": " : "",
		       eph_addr_format(row->tuple->local, a, sizeof(a)),
		       shape_endpoint(row->tuple->remote,
				      row->tuple->remote_port, b, sizeof(b)),
		       row->percent, row->tuple->free, row->tuple->capacity);
	else
		printf("no TCP destination uses the range");
	if (row && u->consumers) {
		const struct eph_consumer_share *sh;
		char name[320];

		if (eph_consumers_of(u->consumers, u->snaps[row->source],
				     row->tuple, &sh))
			printf(", most held by %s (%u)",
			       shape_consumer_label(
				       u->by.by,
				       eph_consumers_get(u->consumers,
							 sh[0].consumer),
				       name, sizeof(name)),
			       sh[0].sockets);
	}
	printf("; UDP %.1f%% used, %u of %u free", eph_usage_udp_percent(udp),
	       udp->free, udp->capacity);
	if (unread(u))
		printf("; %zu namespace%s could not be read", unread(u),
		       unread(u) == 1 ? "" : "s");
	perf_threshold(&u->th.warn, true, w1, sizeof(w1));
	perf_threshold(&u->th.crit, true, c1, sizeof(c1));
	perf_threshold(&u->th.warn, false, w2, sizeof(w2));
	perf_threshold(&u->th.crit, false, c2, sizeof(c2));
	printf(" | tcp_used_pct=%.2f%%;%s;%s;0;100 tcp_free=%u;%s;%s;0;%u "
	       "destinations=%zu udp_used_pct=%.2f%%;%s;%s;0;100 "
	       "udp_free=%u;%s;%s;0;%u\n",
	       row ? row->percent : 0.0, w1, c1,
	       row ? row->tuple->free : sum->capacity, w2, c2,
	       row ? row->tuple->capacity : sum->capacity,
	       eph_ranking_count(u->rank), eph_usage_udp_percent(udp), w1, c1,
	       udp->free, w2, c2, udp->capacity);
}

static void json_rollup(struct json *j, const struct eph_rollup *r)
{
	json_obj(j, "other");
	json_uint(j, "destinations", r->tuples);
	json_uint(j, "used", r->used);
	json_uint(j, "established", r->established);
	json_uint(j, "time_wait", r->time_wait);
	json_uint(j, "other", r->other);
	json_fixed(j, "max_percent", r->max_percent, 2);
	json_uint(j, "min_free", r->min_free);
	json_obj_end(j);
}

static void print_json(const struct usage *u)
{
	struct json j;

	cli_json_begin(u->cli, &j);
	if (u->all) {
		uint64_t blocked = 0;

		json_arr(&j, "namespaces");
		for (size_t i = 0; i < u->n; i++) {
			const struct eph_netns *ns =
				eph_fleet_netns(u->fleet, i);

			json_obj(&j, NULL);
			json_str(&j, "label", ns->label);
			json_str(&j, "spec", ns->spec);
			json_bool(&j, "named", ns->named);
			json_bool(&j, "current", ns->current);
			if (ns->pid >= 0) {
				json_int(&j, "pid", ns->pid);
				json_str(&j, "comm", ns->comm);
			} else {
				json_null(&j, "pid");
				json_null(&j, "comm");
			}
			if (!u->snaps[i]) {
				json_obj(&j, "error");
				json_str(&j, "code",
					 strerrorname_np(-eph_fleet_errno(
						 u->fleet, i)));
				json_str(&j, "message",
					 eph_fleet_error(u->fleet, i));
				json_bool(&j, "vanished",
					  eph_fleet_vanished(u->fleet, i));
				json_obj_end(&j);
			} else {
				shape_usage(&j, u->snaps[i]);
				shape_snapshot_history(&j, u->snaps[i]);
				blocked +=
					eph_usage_summary(
						eph_snapshot_usage(u->snaps[i]))
						->blocked;
			}
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_uint(&j, "unread", unread(u));
		json_uint(&j, "blocked_ports", blocked);
	} else {
		shape_usage(&j, u->snaps[0]);
		shape_snapshot_history(&j, u->snaps[0]);
	}
	if (u->check)
		json_str(&j, "status", eph_level_name(check_level(u)));
	json_arr(&j, "tuples");
	for (size_t i = 0; i < eph_ranking_shown(u->rank); i++) {
		const struct eph_rank_row *row = eph_ranking_get(u->rank, i);

		shape_tuple(&j, row, u->all ? u->labels[row->source] : NULL,
			    u->consumers ? &u->by : NULL);
	}
	json_arr_end(&j);
	json_rollup(&j, eph_ranking_rest_total(u->rank));
	if (u->consumers)
		shape_consumers(&j, &u->by, u->top);
	cli_json_finish(&j);
}

static void print_text(const struct usage *u)
{
	cli_heading(u->cli, "Ephemeral port usage");
	putchar('\n');
	for (size_t i = 0; i < u->n; i++) {
		if (u->all) {
			const struct eph_netns *ns =
				eph_fleet_netns(u->fleet, i);

			printf("%s", ns->label);
			if (ns->pid >= 0)
				printf(" (%s[%d])", ns->comm, ns->pid);
			printf("%s\n",
			       ns->current ? ", the namespace ephport runs in"
					   : "");
			if (!u->snaps[i]) {
				printf("  not read: %s%s\n",
				       eph_fleet_error(u->fleet, i),
				       eph_fleet_vanished(u->fleet, i)
					       ? " (gone since it was listed)"
					       : "");
				continue;
			}
		}
		shape_usage_text(u->snaps[i], u->all ? "  " : "", stdout);
		shape_snapshot_history_text(u->snaps[i], u->all ? "  " : "",
					    stdout);
	}
	putchar('\n');
	shape_table_text(u->rank, u->labels, u->all,
			 u->consumers ? &u->by : NULL, stdout);
	if (u->consumers) {
		putchar('\n');
		shape_consumers_text(&u->by, u->top, stdout);
	}
}

static void usage_free(struct usage *u)
{
	eph_ranking_free(u->rank);
	eph_consumers_free(u->consumers);
	free(u->snaps);
	free(u->labels);
	eph_snapshot_free(u->snap);
	eph_fleet_free(u->fleet);
}

/* The command proper; with --check every failure becomes UNKNOWN. */
static int usage_main(struct usage *u, int argc, char **argv)
{
	struct cli *cli = u->cli;
	char q[96];
	int first, rc, r;

	rc = cli_parse(cli, argc, argv, usage_opts, true, usage_help, usage_opt,
		       u, &first);
	if (rc != EXIT_OK)
		return rc;
	if (first < argc)
		return cli_usage_error(cli, "unexpected argument %s",
				       cli_quote(argv[first], q, sizeof(q)));
	if (u->all && cli->netns)
		return cli_usage_error(cli, "--all-netns and --netns exclude "
					    "each other");
	if (u->watch) {
		struct usage_watch_opts w = { u->all, u->no_owners, u->top,
					      u->every, u->th };

		if (u->check)
			return cli_usage_error(cli, "--watch and --check "
						    "exclude each other");
		if (u->seen_by)
			return cli_usage_error(cli, "--watch and --by "
						    "exclude each other");
		return usage_watch(cli, &w);
	}
	if (u->seen_by &&
	    eph_consumers_new(cli->ctx, u->by.by, NULL, &u->consumers) < 0)
		return cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	r = load(u);
	if (r == -ENODATA)
		return cli_error(cli, "ENODATA", EXIT_ERROR,
				 "no network namespace could be read");
	if (r == -ENOMEM)
		return cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	if (r < 0)
		return r == -EINVAL ? EXIT_ERROR : cli_fail(cli, NULL);
	if (eph_ranking_new(u->snaps, u->n, &u->th,
			    u->check ? 0 : (u->top ? u->top : 0), &u->rank) < 0)
		return cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	if (u->consumers) {
		/* By process this is the walk of /proc. */
		if (eph_consumers_resolve(u->consumers) < 0)
			return cli_fail(cli, NULL);
		u->by.c = u->consumers;
		u->by.snaps = u->snaps;
		u->by.per_dest = 3;
	}
	if (u->check && !cli->json)
		print_check(u);
	else if (cli->json)
		print_json(u);
	else
		print_text(u);
	u->printed = true;
	/* What could be read is shown; the rest could not be answered (a
	 * check says so in its status). */
	if (unread(u) && !u->check)
		return cli_warn(cli, "%zu namespace%s could not be read",
				unread(u), unread(u) == 1 ? "" : "s");
	return EXIT_OK;
}

/* Is ARGV (from the word "usage" on) a check? Only the words decide. */
static bool wants_check(int argc, char **argv)
{
	return cli_given(argc, argv, usage_opts, true, "check");
}

/* The status line of a check that could not run: why, as the error. */
static int unknown(const struct cli *cli)
{
	if (!cli->json)
		printf("EPHPORT USAGE UNKNOWN - %s\n", cli->errmsg);
	return (int)EPH_LEVEL_UNKNOWN;
}

int usage_failed_early(struct cli *cli, int argc, char **argv, int rc)
{
	return rc != EXIT_OK && wants_check(argc, argv) ? unknown(cli) : rc;
}

int cmd_usage(struct cli *cli, int argc, char **argv)
{
	struct usage u = { .cli = cli,
			   .top = 10,
			   .th = EPH_THRESHOLDS_DEFAULT };
	/* A monitoring system must see UNKNOWN for a bad command line too:
	 * look for --check before anything can fail. */
	bool check = wants_check(argc, argv);
	int rc;

	rc = usage_main(&u, argc, argv);
	if (rc == CLI_DONE)
		rc = EXIT_OK;
	else if (check && u.printed)
		rc = (int)check_level(&u);
	else if (check)
		rc = unknown(cli);
	usage_free(&u);
	return rc;
}
