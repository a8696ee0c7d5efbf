/* SPDX-License-Identifier: MIT */
/*
 * ephport usage --watch [S]: the fullest destinations again every S
 * seconds, with the rate at which their free ports shrink, the time until
 * none is left, and the connections new since the last refresh, for the
 * operator in the middle of an incident.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "shapes.h"

struct watch {
	struct cli *cli;
	const struct usage_watch_opts *o;
	struct eph_forecast *fc;
	struct eph_snapshot *snap;
	struct eph_fleet *fleet;
	const struct eph_snapshot **snaps;
	uint64_t *sources;
	const char **labels;
	size_t n;
	struct eph_ranking *rank;
};

/* "1h 02m", "3m 20s", "45s"; "-" when free ports do not shrink, "?"
 * before two scans. */
static const char *eta(const struct eph_trend *t, char *buf, size_t size)
{
	uint64_t s;

	if (t->samples < 2 && t->free)
		snprintf(buf, size, "?");
	else if (isinf(t->seconds_left))
		snprintf(buf, size, "-");
	else if ((s = (uint64_t)t->seconds_left) < 60)
		snprintf(buf, size, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, size, "%" PRIu64 "m %02" PRIu64 "s", s / 60,
			 s % 60);
	else if (s < 86400 * 100)
		snprintf(buf, size, "%" PRIu64 "h %02" PRIu64 "m", s / 3600,
			 s / 60 % 60);
	else
		snprintf(buf, size, ">100d");
	return buf;
}

static int scan(struct watch *w)
{
	uint32_t flags = w->o->no_owners ? 0 : EPH_SNAPSHOT_OWNERS;
	int r;

	eph_ranking_free(w->rank);
	w->rank = NULL;
	if (!w->o->all) {
		r = eph_forecast_take(w->fc, w->snap, flags);
		if (r < 0)
			return r;
		w->n = 1;
		w->snaps[0] = w->snap;
		w->sources[0] = eph_forecast_source(w->fc);
		w->labels[0] = "";
	} else {
		r = eph_forecast_scan(w->fc, w->fleet, flags);
		if (r < 0)
			return r;
		w->n = eph_fleet_count(w->fleet);
		free(w->snaps);
		free(w->sources);
		free(w->labels);
		w->snaps = calloc(w->n + 1, sizeof(*w->snaps));
		w->sources = calloc(w->n + 1, sizeof(*w->sources));
		w->labels = calloc(w->n + 1, sizeof(*w->labels));
		if (!w->snaps || !w->sources || !w->labels)
			return -ENOMEM;
		for (size_t i = 0; i < w->n; i++) {
			w->snaps[i] = eph_fleet_snapshot(w->fleet, i);
			w->sources[i] = eph_fleet_netns(w->fleet, i)->ino;
			w->labels[i] = eph_fleet_netns(w->fleet, i)->label;
		}
	}
	return eph_ranking_new(w->snaps, w->n, &w->o->th, w->o->top, &w->rank);
}

static void print_json(struct watch *w, uint32_t every)
{
	struct json j;

	cli_json_begin(w->cli, &j);
	json_uint(&j, "interval", every);
	json_arr(&j, "tuples");
	for (size_t i = 0; i < eph_ranking_shown(w->rank); i++) {
		const struct eph_rank_row *row = eph_ranking_get(w->rank, i);
		struct eph_trend t;

		eph_forecast_get(w->fc, w->sources[row->source], row->tuple,
				 &t);
		json_obj(&j, NULL);
		shape_tuple_members(&j, row,
				    w->o->all ? w->labels[row->source] : NULL);
		json_fixed(&j, "rate", t.rate, 3);
		if (isinf(t.seconds_left) || (t.samples < 2 && t.free))
			json_null(&j, "seconds_left");
		else
			json_fixed(&j, "seconds_left", t.seconds_left, 1);
		json_uint(&j, "opened", t.opened_last);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	cli_json_finish(&j);
}

static void print_text(struct watch *w, uint32_t every, bool tty)
{
	size_t shown = eph_ranking_shown(w->rank);
	char a[64], b[80], e[24], stamp[32];
	time_t now = time(NULL);
	int wl = 5, wr = 6, wn = 5;

	if (tty)
		fputs("\033[H\033[2J", stdout);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&now));
	printf("Ephemeral port usage%s%s, every %u s, at %s (Ctrl-C stops)\n\n",
	       w->cli->netns ? " in netns " : "",
	       w->cli->netns ? w->cli->netns : "", every, stamp);
	if (shown == 0) {
		printf("No TCP connections from ports of the range.\n");
		return;
	}
	for (size_t i = 0; i < shown; i++) {
		const struct eph_rank_row *row = eph_ranking_get(w->rank, i);
		int l = (int)strlen(
			eph_addr_format(row->tuple->local, a, sizeof(a)));

		wl = l > wl ? l : wl;
		l = (int)strlen(shape_endpoint(row->tuple->remote,
					       row->tuple->remote_port, b,
					       sizeof(b)));
		wr = l > wr ? l : wr;
		if (w->o->all) {
			l = (int)strlen(w->labels[row->source]);
			wn = l > wn ? l : wn;
		}
	}
	if (w->o->all)
		printf("%-*s ", wn, "NETNS");
	printf("%-*s %-*s %7s %8s %7s %6s %9s %12s %6s\n", wl, "LOCAL", wr,
	       "REMOTE", "USED", "CAPACITY", "FREE", "USED%", "PORTS/S",
	       "EXHAUSTED IN", "NEW");
	for (size_t i = 0; i < shown; i++) {
		const struct eph_rank_row *row = eph_ranking_get(w->rank, i);
		const struct eph_usage_tuple *t = row->tuple;
		struct eph_trend tr;
		char rate[24];

		eph_forecast_get(w->fc, w->sources[row->source], t, &tr);
		if (tr.samples < 2)
			snprintf(rate, sizeof(rate), "?");
		else
			snprintf(rate, sizeof(rate), "%+.1f", tr.rate);
		/* Rows at a threshold in its colour, as usage prints them. */
		if (row->level == EPH_LEVEL_CRITICAL ||
		    row->level == EPH_LEVEL_WARNING)
			fputs(color_start(stdout,
					  row->level == EPH_LEVEL_CRITICAL
						  ? COLOR_CRIT
						  : COLOR_WARN),
			      stdout);
		if (w->o->all)
			printf("%-*s ", wn, w->labels[row->source]);
		printf("%-*s %-*s %7u %8u %7u %5.1f%% %9s %12s %6u%s\n", wl,
		       eph_addr_format(t->local, a, sizeof(a)), wr,
		       shape_endpoint(t->remote, t->remote_port, b, sizeof(b)),
		       t->used, t->capacity, t->free, row->percent, rate,
		       eta(&tr, e, sizeof(e)), tr.opened_last,
		       row->level == EPH_LEVEL_CRITICAL ||
				       row->level == EPH_LEVEL_WARNING
			       ? color_end(stdout)
			       : "");
	}
	if (shown < eph_ranking_count(w->rank))
		printf("... %zu more destinations (--top 0 shows all)\n",
		       eph_ranking_count(w->rank) - shown);
}

/* Sleeps S seconds from START, whatever the scan took. */
static void pause_until(const struct timespec *start, uint32_t s)
{
	struct timespec until = *start;

	until.tv_sec += s;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) ==
	       EINTR)
		;
}

int usage_watch(struct cli *cli, const struct usage_watch_opts *o)
{
	struct watch w = { .cli = cli, .o = o };
	bool tty = !cli->json && isatty(STDOUT_FILENO);
	uint32_t every = o->every;
	int rc = EXIT_OK, r;

	if (!o->all && cli_apply_netns(cli) != EXIT_OK)
		return EXIT_ERROR;
	w.snaps = calloc(1, sizeof(*w.snaps));
	w.sources = calloc(1, sizeof(*w.sources));
	w.labels = calloc(1, sizeof(*w.labels));
	if (!w.snaps || !w.sources || !w.labels ||
	    eph_forecast_new(cli->ctx, 0, &w.fc) < 0 ||
	    (o->all ? eph_fleet_new(cli->ctx, &w.fleet)
		    : eph_snapshot_new(cli->ctx, &w.snap)) < 0) {
		rc = cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
		goto out;
	}
	for (;;) {
		struct timespec start;

		clock_gettime(CLOCK_MONOTONIC, &start);
		r = scan(&w);
		if (r == -ENOMEM) {
			rc = cli_error(cli, "ENOMEM", EXIT_ERROR,
				       "out of memory");
			break;
		}
		if (r < 0) {
			rc = cli_fail(cli, NULL);
			break;
		}
		if (cli->json)
			print_json(&w, every);
		else
			print_text(&w, every, tty);
		if (fflush(stdout) != 0)
			break;
		pause_until(&start, every);
	}
out:
	eph_ranking_free(w.rank);
	eph_forecast_free(w.fc);
	eph_snapshot_free(w.snap);
	eph_fleet_free(w.fleet);
	free(w.snaps);
	free(w.sources);
	free(w.labels);
	return rc;
}
