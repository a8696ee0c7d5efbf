/* SPDX-License-Identifier: MIT */
/*
 * The text format (Prometheus exposition format 0.0.4) and the JSON of
 * the exporter, from the view of the last scan. Naming follows
 * Prometheus's conventions: the prefix ephport_, base units (seconds,
 * ratios from 0 to 1, port counts as _ports), _total for counters, and a
 * HELP and a TYPE line for every family. Cardinality is bounded: the top N
 * destinations of each namespace have series of their own, the rest one
 * "other" series per namespace.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "metrics.h"
#include "../cli/json.h"
#include "../cli/shapes.h"

/* ---- Samples ---- */

struct label {
	const char *name, *value;
};

#define MAX_LABELS 8

struct out {
	FILE *f;
	const struct view *v;
	const struct view_ns *ns; /* whose samples are being written */
};

static void family(struct out *o, const char *name, const char *type,
		   const char *help)
{
	fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label_value(FILE *f, const char *s)
{
	char small[512], *big = NULL;
	size_t len = strlen(s), n;

	n = metrics_escape(s, len, small, sizeof(small));
	if (n >= sizeof(small)) {
		big = malloc(n + 1);
		if (big)
			metrics_escape(s, len, big, n + 1);
	}
	fputs(big ? big : small, f);
	free(big);
}

static void value(FILE *f, double x)
{
	if (isinf(x))
		fputs(x > 0 ? "+Inf" : "-Inf", f);
	else if (isnan(x))
		fputs("NaN", f);
	else if (x < 9e15 && x > -9e15 && x == (double)(int64_t)x)
		fprintf(f, "%" PRId64, (int64_t)x);
	else if (x >= 1e6 || x <= -1e6)
		fprintf(f, "%.3f", x); /* timestamps: to the millisecond */
	else
		fprintf(f, "%.9g", x);
}

/* One sample: NAME{netns, LABELS...} X. */
static void sample(struct out *o, const char *name, const struct label *l,
		   size_t n, double x)
{
	bool first = true;

	fputs(name, o->f);
	if (o->v->label_netns && o->ns) {
		fputs("{netns=\"", o->f);
		label_value(o->f, o->ns->label);
		fputc('"', o->f);
		first = false;
	}
	for (size_t i = 0; i < n; i++) {
		fprintf(o->f, "%s%s=\"", first ? "{" : ",", l[i].name);
		label_value(o->f, l[i].value);
		fputc('"', o->f);
		first = false;
	}
	fputs(first ? " " : "} ", o->f);
	value(o->f, x);
	fputc('\n', o->f);
}

static void sample0(struct out *o, const char *name, double x)
{
	sample(o, name, NULL, 0, x);
}

/* ---- Namespaces ---- */

/* Namespace I of the view, as the current one: its summary, or NULL
 * when the last scan could not read it. */
static const struct eph_usage_summary *read_ns(struct out *o, size_t i)
{
	o->ns = &o->v->ns[i];
	if (!o->ns->snap)
		return NULL;
	return eph_usage_summary(eph_snapshot_usage(o->ns->snap));
}

static void range_families(struct out *o)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
		{ "ephport_ephemeral_range_start",
		  "The first port of net.ipv4.ip_local_port_range." },
		{ "ephport_ephemeral_range_end",
		  "The last port of net.ipv4.ip_local_port_range." },
		{ "ephport_ephemeral_ports",
		  "Ports in the ephemeral range (ip_local_port_range)." },
		{ "ephport_reserved_ports",
		  "Ports of the ephemeral range listed in "
		  "net.ipv4.ip_local_reserved_ports: the kernel never hands "
		  "them out." },
		{ "ephport_available_ports",
		  "Ports of the ephemeral range the kernel may hand out: the "
		  "range minus the reserved ports." },
		{ "ephport_blocked_ports",
		  "Ports of the ephemeral range that explicit binders "
		  "(listeners, bind-before-connect sockets) block for every "
		  "destination." },
		{ "ephport_tcp_destinations",
		  "TCP destinations (local address, remote address, remote "
		  "port) with connections from ports of the range." },
		{ "ephport_tcp_sockets",
		  "TCP sockets with a local port in the ephemeral range." },
	};
	const struct eph_usage_summary *s;

	for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		family(o, fam[k].name, "gauge", fam[k].help);
		for (size_t i = 0; i < o->v->n; i++) {
			if (!(s = read_ns(o, i)))
				continue;
			double x[] = { s->range_low,
				       s->range_high,
				       s->range_size,
				       s->reserved,
				       s->range_size - s->reserved,
				       s->blocked,
				       s->tuples,
				       s->tcp_sockets };

			sample0(o, fam[k].name, x[k]);
		}
	}
}

static void udp_families(struct out *o)
{
	static const char *const names[] = {
		"ephport_udp_sockets",		 "ephport_udp_used_ports",
		"ephport_udp_capacity_ports",	 "ephport_udp_free_ports",
		"ephport_udp_utilisation_ratio",
	};
	static const char *const helps[] = {
		"UDP sockets with a port in the range whose address overlaps "
		"the family's wildcard.",
		"Distinct ports of the range those UDP sockets hold (not "
		"reserved): every UDP socket takes a port of its own.",
		"Ports of the range UDP autobind may hand out: the range minus "
		"the reserved ports.",
		"Ports of the range UDP autobind can still hand out.",
		"The share of the UDP capacity in use, from 0 to 1.",
	};
	const struct eph_usage_summary *s;

	for (size_t k = 0; k < 5; k++) {
		family(o, names[k], "gauge", helps[k]);
		for (size_t i = 0; i < o->v->n; i++) {
			if (!(s = read_ns(o, i)))
				continue;
			for (int fam = 0; fam < 2; fam++) {
				const struct eph_usage_udp *u =
					fam ? &s->udp6 : &s->udp4;
				struct label l = { "family",
						   fam ? "ipv6" : "ipv4" };
				double x[] = { u->sockets, u->used, u->capacity,
					       u->free,
					       eph_usage_udp_percent(u) /
						       100.0 };

				sample(o, names[k], &l, 1, x[k]);
			}
		}
	}
}

/* ---- Destinations ---- */

enum dest_metric {
	D_USED,
	D_CAPACITY,
	D_FREE,
	D_RATIO,
	D_OPENED,
	D_EXHAUSTION,
	D__COUNT
};

static const struct {
	const char *name, *type, *help;
} dest_fam[D__COUNT] = {
	{ "ephport_destination_used_ports", "gauge",
	  "Ports of the range used toward a destination, by TCP state "
	  "(established, time_wait, other). The destinations past the top N "
	  "of a namespace are summed in its remote=\"other\" series." },
	{ "ephport_destination_capacity_ports", "gauge",
	  "Ports a destination may get: the range minus reserved and blocked "
	  "ports." },
	{ "ephport_destination_free_ports", "gauge",
	  "Ports connect() can still find toward a destination (for "
	  "remote=\"other\": the fewest of those destinations)." },
	{ "ephport_destination_utilisation_ratio", "gauge",
	  "The share of a destination's capacity in use, from 0 to 1 (for "
	  "remote=\"other\": the fullest of those destinations)." },
	{ "ephport_destination_connections_opened_total", "counter",
	  "Connections first seen toward a destination by a scan (socket "
	  "cookies no earlier scan saw) since the exporter started." },
	{ "ephport_destination_exhaustion_seconds", "gauge",
	  "Forecast seconds until a destination has no free port, at the "
	  "rate its free ports shrank over the last scans; +Inf when they "
	  "do not shrink (for remote=\"other\": the soonest of those "
	  "destinations)." },
};

static const char opened_traced_help[] =
	"Connections opened toward a destination since the exporter "
	"started: every connect() the tracer saw (serve --trace), those "
	"that opened and closed between two scans too.";

/* The labels of a destination: proto, local, remote, remote_port. */
struct dest_labels {
	struct label l[MAX_LABELS];
	char local[64], remote[64], port[8];
};

static size_t tuple_labels(struct dest_labels *d,
			   const struct eph_usage_tuple *t)
{
	eph_addr_format(t->local, d->local, sizeof(d->local));
	eph_addr_format(t->remote, d->remote, sizeof(d->remote));
	snprintf(d->port, sizeof(d->port), "%u", t->remote_port);
	d->l[0] = (struct label){ "proto", eph_proto_name(t->proto) };
	d->l[1] = (struct label){ "local", d->local };
	d->l[2] = (struct label){ "remote", d->remote };
	d->l[3] = (struct label){ "remote_port", d->port };
	return 4;
}

static size_t other_labels(struct dest_labels *d)
{
	d->l[0] = (struct label){ "proto", "tcp" };
	d->l[1] = (struct label){ "remote", "other" };
	return 2;
}

static void dest_samples(struct out *o, enum dest_metric m,
			 struct dest_labels *d, size_t nl, uint32_t est,
			 uint32_t tw, uint32_t other, uint32_t capacity,
			 uint32_t free, double pct,
			 const struct eph_trend *trend)
{
	const char *name = dest_fam[m].name;

	switch (m) {
	case D_USED:
		d->l[nl] = (struct label){ "state", "established" };
		sample(o, name, d->l, nl + 1, est);
		d->l[nl] = (struct label){ "state", "time_wait" };
		sample(o, name, d->l, nl + 1, tw);
		d->l[nl] = (struct label){ "state", "other" };
		sample(o, name, d->l, nl + 1, other);
		break;
	case D_CAPACITY:
		sample(o, name, d->l, nl, capacity);
		break;
	case D_FREE:
		sample(o, name, d->l, nl, free);
		break;
	case D_RATIO:
		sample(o, name, d->l, nl, pct / 100.0);
		break;
	case D_OPENED:
		if (trend)
			sample(o, name, d->l, nl, (double)trend->opened);
		break;
	case D_EXHAUSTION:
		/* Unknown until two scans have shown the destination. */
		if (trend && (trend->samples >= 2 || trend->free == 0))
			sample(o, name, d->l, nl, trend->seconds_left);
		break;
	default:
		break;
	}
}

static void dest_family(struct out *o, enum dest_metric m)
{
	const struct view *v = o->v;

	if ((m == D_OPENED || m == D_EXHAUSTION) && !v->fc)
		return;
	family(o, dest_fam[m].name, dest_fam[m].type,
	       m == D_OPENED && v->traced ? opened_traced_help
					  : dest_fam[m].help);
	for (size_t i = 0; i < v->n; i++) {
		const struct eph_ranking *r = v->ns[i].rank;
		const struct eph_rollup *rest;
		struct eph_trend tr, soonest;
		struct dest_labels d;
		size_t nl;

		o->ns = &v->ns[i];
		if (!o->ns->snap || !r)
			continue;
		for (size_t k = 0; k < eph_ranking_shown(r); k++) {
			const struct eph_rank_row *row = eph_ranking_get(r, k);
			const struct eph_usage_tuple *t = row->tuple;

			if (v->fc)
				eph_forecast_get(v->fc, o->ns->source, t, &tr);
			nl = tuple_labels(&d, t);
			dest_samples(o, m, &d, nl, t->established, t->time_wait,
				     t->other, t->capacity, t->free,
				     row->percent, v->fc ? &tr : NULL);
		}
		rest = eph_ranking_rest_total(r);
		if (rest->tuples == 0)
			continue;
		/* The rest: sums, and the worst of them. */
		eph_trend_fit(NULL, 0, &soonest);
		soonest.samples = 0;
		for (size_t k = eph_ranking_shown(r);
		     v->fc && k < eph_ranking_count(r); k++) {
			const struct eph_rank_row *row = eph_ranking_get(r, k);

			eph_forecast_get(v->fc, o->ns->source, row->tuple, &tr);
			if (tr.samples >= 2 || tr.free == 0) {
				if (soonest.samples == 0 ||
				    tr.seconds_left < soonest.seconds_left)
					soonest.seconds_left = tr.seconds_left;
				soonest.samples = 2;
			}
		}
		if (m == D_OPENED)
			continue; /* a sum over a changing set is no counter */
		nl = other_labels(&d);
		dest_samples(o, m, &d, nl, (uint32_t)rest->established,
			     (uint32_t)rest->time_wait, (uint32_t)rest->other,
			     eph_usage_summary(eph_snapshot_usage(o->ns->snap))
				     ->capacity,
			     rest->min_free, rest->max_percent,
			     v->fc ? &soonest : NULL);
	}
}

/* ---- Who holds the ports ---- */

/* The consumer label: the name, the path of a cgroup in no unit or
 * container ("unknown" when gone), "time_wait", "gone". */
static const char *consumer_label(const struct view *v,
				  const struct eph_consumer *x, char *buf,
				  size_t size)
{
	switch (x->kind) {
	case EPH_CONSUMER_NAMED:
		return shape_consumer_name(v->by, x, buf, size);
	case EPH_CONSUMER_OUTSIDE:
		return x->name[0] ? x->name : "unknown";
	case EPH_CONSUMER_TIME_WAIT:
		return "time_wait";
	default:
		return "gone";
	}
}

static const char *const consumer_kinds[] = {
	[EPH_CONSUMER_NAMED] = "named",
	[EPH_CONSUMER_OUTSIDE] = "outside",
	[EPH_CONSUMER_TIME_WAIT] = "time_wait",
	[EPH_CONSUMER_GONE] = "gone",
};

/* Per destination of the top N, its top N consumers; the rest of them
 * summed in consumer="other": at most N x (N + 1) series a namespace. */
static void consumer_family(struct out *o)
{
	const struct view *v = o->v;
	const char *name = "ephport_destination_consumer_ports";

	if (!v->consumers)
		return;
	family(o, name, "gauge",
	       "Ports of a destination of the top N each consumer holds: by "
	       "is unit, container, cgroup, user or process; kind is named, "
	       "outside (a cgroup in no unit or container, by its path), "
	       "time_wait (closed, no owner left) or gone (exited before it "
	       "was found). Past the top N of a destination, summed in "
	       "consumer=\"other\".");
	for (size_t i = 0; i < v->n; i++) {
		const struct eph_ranking *r = v->ns[i].rank;

		o->ns = &v->ns[i];
		if (!o->ns->snap || !r)
			continue;
		for (size_t k = 0; k < eph_ranking_shown(r); k++) {
			const struct eph_usage_tuple *t =
				eph_ranking_get(r, k)->tuple;
			const struct eph_consumer_share *sh;
			size_t n = eph_consumers_of(v->consumers, o->ns->snap,
						    t, &sh);
			size_t top = eph_ranking_shown(r);
			uint64_t rest = 0;
			struct dest_labels d;
			char buf[320];
			size_t nl = tuple_labels(&d, t);

			d.l[nl] = (struct label){ "by", eph_by_name(v->by) };
			for (size_t c = 0; c < n; c++) {
				const struct eph_consumer *x =
					eph_consumers_get(v->consumers,
							  sh[c].consumer);

				if (c >= top) {
					rest += sh[c].sockets;
					continue;
				}
				d.l[nl + 1] = (struct label){
					"consumer",
					consumer_label(v, x, buf, sizeof(buf))
				};
				d.l[nl + 2] = (struct label){
					"kind", consumer_kinds[x->kind]
				};
				sample(o, name, d.l, nl + 3, sh[c].sockets);
			}
			if (n > top) {
				d.l[nl + 1] =
					(struct label){ "consumer", "other" };
				d.l[nl + 2] = (struct label){ "kind", "other" };
				sample(o, name, d.l, nl + 3, (double)rest);
			}
		}
	}
}

/* ---- Servers at risk ---- */

static void risk_families(struct out *o)
{
	const struct eph_usage_summary *s;

	family(o, "ephport_server_ports_at_risk", "gauge",
	       "Server ports (listening TCP, bound UDP) inside the "
	       "ephemeral range and not reserved: a restart can find them "
	       "taken by an outgoing connection.");
	for (size_t i = 0; i < o->v->n; i++) {
		if (!(s = read_ns(o, i)))
			continue;
		const struct eph_audit *a = eph_snapshot_audit(o->ns->snap);

		if (a)
			sample0(o, "ephport_server_ports_at_risk",
				(double)eph_audit_count(a));
	}
	family(o, "ephport_server_port_at_risk", "gauge",
	       "1 for each server port at risk, with its port, protocol and "
	       "the command holding it (\"\" when not found).");
	for (size_t i = 0; i < o->v->n; i++) {
		if (!(s = read_ns(o, i)))
			continue;
		const struct eph_audit *a = eph_snapshot_audit(o->ns->snap);

		for (size_t k = 0; a && k < eph_audit_count(a); k++) {
			const struct eph_risk *r = eph_audit_get(a, k);
			char port[8];
			struct label l[3] = {
				{ "port", port },
				{ "proto", r->proto ? eph_proto_name(r->proto)
						    : "planned" },
				{ "command",
				  r->owner.pid >= 0 ? r->owner.comm : "" },
			};

			snprintf(port, sizeof(port), "%u", r->port);
			sample(o, "ephport_server_port_at_risk", l, 3, 1);
		}
	}
}

/* ---- The tracer's record, and what the tracer counts ---- */

static void history_families(struct out *o)
{
	const struct view *v = o->v;
	struct eph_record_info ri;

	family(o, "ephport_history_used", "gauge",
	       "1 when the last scan used the tracer's record ('ephport trace "
	       "--record' or 'ephport serve --trace' keeps it), 0 when it "
	       "could not (none, its recorder stopped, another namespace's, "
	       "refused): then free ports may be counted too high (bound-first "
	       "and accepted connections look like any other) and TIME_WAITs "
	       "are judged by today's tcp_timestamps.");
	for (size_t i = 0; i < v->n; i++) {
		o->ns = &v->ns[i];
		if (!o->ns->snap)
			continue;
		ri.state = EPH_RECORD_MISSING;
		if (eph_snapshot_record(o->ns->snap))
			eph_record_info(eph_snapshot_record(o->ns->snap), &ri);
		sample0(o, "ephport_history_used",
			ri.state == EPH_RECORD_USABLE ? 1 : 0);
	}
	family(o, "ephport_history_seconds", "gauge",
	       "How long the record the last scan used has been kept without "
	       "a break, at that scan: a recorder that restarts begins "
	       "again. Absent when the scan used none.");
	for (size_t i = 0; i < v->n; i++) {
		o->ns = &v->ns[i];
		if (!o->ns->snap || !eph_snapshot_record(o->ns->snap))
			continue;
		eph_record_info(eph_snapshot_record(o->ns->snap), &ri);
		if (ri.state == EPH_RECORD_USABLE)
			sample0(o, "ephport_history_seconds",
				v->scan_time > (double)ri.since
					? v->scan_time - (double)ri.since
					: 0);
	}
}

/* The namespace of the view whose inode is NETNS, or NULL. */
static const struct view_ns *ns_by_inode(const struct view *v, uint64_t netns)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->ns[i].source == netns)
			return &v->ns[i];
	return NULL;
}

static void trace_families(struct out *o)
{
	static const struct {
		enum eph_trace_kind kind;
		const char *name, *help;
	} fam[] = {
		{ EPH_TRACE_BIND_FAILED, "ephport_bind_failures_total",
		  "bind() calls that failed for their port (EADDRINUSE, "
		  "EACCES...), by errno and command, since the exporter "
		  "started tracing. The top N commands of an errno get a "
		  "series when they enter the top and keep it (at most 2N); "
		  "the failures of the others, and of a command before it got "
		  "its series, are in command=\"other\"." },
		{ EPH_TRACE_CONNECT_FAILED, "ephport_connect_failures_total",
		  "connect() calls that found no port (EADDRNOTAVAIL, or "
		  "EAGAIN for UDP), by errno and command, since the exporter "
		  "started tracing; the commands past the top N in "
		  "command=\"other\", as for ephport_bind_failures_total." },
	};
	const struct view *v = o->v;

	if (!v->traced)
		return;
	o->ns = NULL;
	family(o, "ephport_trace_events_lost_total", "counter",
	       "Events the tracer lost, the ring buffer from the kernel "
	       "being full: the failure and connection counters miss as "
	       "many.");
	sample0(o, "ephport_trace_events_lost_total", (double)v->trace_lost);
	for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		family(o, fam[k].name, "counter", fam[k].help);
		for (size_t i = 0; i < v->nfailures; i++) {
			const struct eph_trace_counter *c = &v->failures[i];
			const char *code = strerrorname_np(c->err);
			char num[16];
			struct label l[2] = {
				{ "errno", code },
				{ "command", c->other ? "other" : c->comm },
			};

			if (c->kind != fam[k].kind)
				continue;
			/* Every namespace: those the scans know, labelled. */
			o->ns = v->label_netns ? ns_by_inode(v, c->netns)
					       : NULL;
			if (v->label_netns && !o->ns)
				continue;
			if (!code) {
				snprintf(num, sizeof(num), "%d", c->err);
				l[0].value = num;
			}
			sample(o, fam[k].name, l, 2, (double)c->count);
		}
	}
	o->ns = NULL;
}

/* ---- The exporter itself ---- */

static void scan_families(struct out *o)
{
	const struct view *v = o->v;
	struct label ver = { "version", v->version };

	o->ns = NULL;
	family(o, "ephport_build_info", "gauge",
	       "ephport's version, as a label; the value is 1.");
	sample(o, "ephport_build_info", &ver, 1, 1);
	family(o, "ephport_scans_total", "counter",
	       "Scans made since the exporter started.");
	sample0(o, "ephport_scans_total", (double)v->scans);
	family(o, "ephport_scan_duration_seconds", "gauge",
	       "How long the last scan took, every namespace included.");
	sample0(o, "ephport_scan_duration_seconds", v->scan_seconds);
	family(o, "ephport_scan_timestamp_seconds", "gauge",
	       "When the last scan started, in seconds since the epoch.");
	sample0(o, "ephport_scan_timestamp_seconds", v->scan_time);
	family(o, "ephport_scan_success", "gauge",
	       "1 when the last scan read the namespace, 0 when it could "
	       "not.");
	for (size_t i = 0; i < v->n; i++) {
		o->ns = &v->ns[i];
		if (!o->ns->absent)
			sample0(o, "ephport_scan_success", o->ns->snap ? 1 : 0);
	}
	family(o, "ephport_scan_errors_total", "counter",
	       "Scans that could not read the namespace (it vanished, or "
	       "could not be entered or read).");
	for (size_t i = 0; i < v->n; i++) {
		o->ns = &v->ns[i];
		sample0(o, "ephport_scan_errors_total", (double)o->ns->errors);
	}
	if (v->fc) {
		family(o, "ephport_connections_opened_total", "counter",
		       v->traced
			       ? "Connections opened toward any destination "
				 "since the exporter started: every connect() "
				 "the tracer saw."
			       : "Connections first seen by a scan toward any "
				 "destination since the exporter started.");
		for (size_t i = 0; i < v->n; i++) {
			o->ns = &v->ns[i];
			if (!o->ns->absent)
				sample0(o, "ephport_connections_opened_total",
					(double)eph_forecast_opened(
						v->fc, o->ns->source));
		}
	}
}

void metrics_render(FILE *f, const struct view *v)
{
	struct out o = { f, v, NULL };

	scan_families(&o);
	trace_families(&o);
	range_families(&o);
	udp_families(&o);
	for (int m = 0; m < D__COUNT; m++)
		dest_family(&o, (enum dest_metric)m);
	consumer_family(&o);
	risk_families(&o);
	history_families(&o);
}

/* ---- JSON ---- */

static void api_forecast(struct json *j, const struct view *v,
			 const struct view_ns *ns,
			 const struct eph_usage_tuple *t)
{
	struct eph_trend tr;

	if (!v->fc) {
		json_null(j, "forecast");
		return;
	}
	eph_forecast_get(v->fc, ns->source, t, &tr);
	json_obj(j, "forecast");
	json_uint(j, "samples", tr.samples);
	json_fixed(j, "span_seconds", tr.span_s, 3);
	json_fixed(j, "rate", tr.rate, 3);
	if (isinf(tr.seconds_left) || (tr.samples < 2 && tr.free))
		json_null(j, "seconds_left");
	else
		json_fixed(j, "seconds_left", tr.seconds_left, 1);
	json_uint(j, "opened", tr.opened);
	json_uint(j, "opened_last", tr.opened_last);
	json_obj_end(j);
}

static void api_namespace(struct json *j, const struct view *v,
			  const struct view_ns *ns)
{
	json_obj(j, NULL);
	json_str(j, "label", v->label_netns ? ns->label : v->netns);
	if (ns->netns) {
		json_str(j, "spec", ns->netns->spec);
		json_bool(j, "named", ns->netns->named);
		json_bool(j, "current", ns->netns->current);
		if (ns->netns->pid >= 0)
			json_int(j, "pid", ns->netns->pid);
		else
			json_null(j, "pid");
	}
	json_uint(j, "scan_errors", ns->errors);
	if (!ns->snap) {
		json_obj(j, "error");
		json_str(j, "code", strerrorname_np(-ns->err));
		json_str(j, "message", ns->error);
		json_obj_end(j);
		json_obj_end(j);
		return;
	}
	json_null(j, "error");
	if (v->fc)
		json_uint(j, "opened", eph_forecast_opened(v->fc, ns->source));
	shape_snapshot_history(j, ns->snap);
	json_obj(j, "ranges");
	shape_policy(j, eph_snapshot_policy(ns->snap), true);
	json_obj_end(j);
	json_obj(j, "usage");
	shape_usage(j, ns->snap);
	json_obj_end(j);
	if (eph_snapshot_audit(ns->snap)) {
		json_obj(j, "audit");
		shape_audit(j, eph_snapshot_audit(ns->snap),
			    eph_snapshot_policy(ns->snap));
		json_obj_end(j);
	}
	json_obj_end(j);
}

/* "trace": what serve --trace counted, or null. */
static void api_trace(struct json *j, const struct view *v)
{
	if (!v->traced) {
		json_null(j, "trace");
		return;
	}
	json_obj(j, "trace");
	json_uint(j, "events_lost", v->trace_lost);
	json_arr(j, "failures");
	for (size_t i = 0; i < v->nfailures; i++) {
		const struct eph_trace_counter *c = &v->failures[i];
		const struct view_ns *ns = ns_by_inode(v, c->netns);

		if (v->label_netns && !ns)
			continue;
		json_obj(j, NULL);
		if (v->label_netns)
			json_str(j, "netns", ns->label);
		json_str(j, "call",
			 c->kind == EPH_TRACE_BIND_FAILED ? "bind" : "connect");
		json_str(j, "errno", strerrorname_np(c->err));
		json_str(j, "command", c->other ? NULL : c->comm);
		json_bool(j, "other", c->other);
		json_uint(j, "count", c->count);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

void api_render(FILE *f, const struct view *v)
{
	const struct eph_rollup *rest = eph_ranking_rest_total(v->rank);
	struct json j;

	json_init(&j, f);
	json_obj(&j, NULL);
	json_str(&j, "netns", v->netns);
	json_str(&j, "version", v->version);
	json_fixed(&j, "time", v->scan_time, 3);
	json_fixed(&j, "scan_seconds", v->scan_seconds, 6);
	json_uint(&j, "scans", v->scans);
	json_uint(&j, "interval", v->interval);
	json_str(&j, "by", v->consumers ? eph_by_name(v->by) : NULL);
	json_arr(&j, "namespaces");
	for (size_t i = 0; i < v->n; i++)
		if (!v->ns[i].absent)
			api_namespace(&j, v, &v->ns[i]);
	json_arr_end(&j);
	json_arr(&j, "tuples");
	for (size_t i = 0; i < eph_ranking_shown(v->rank); i++) {
		const struct eph_rank_row *row = eph_ranking_get(v->rank, i);
		const struct view_ns *ns = NULL;

		/* The ranking's sources are the view's namespaces. */
		if (row->source < v->n)
			ns = &v->ns[row->source];
		json_obj(&j, NULL);
		shape_tuple_members(&j, row,
				    v->label_netns && ns ? ns->label : NULL);
		if (ns)
			api_forecast(&j, v, ns, row->tuple);
		if (ns && ns->snap && v->consumers) {
			const struct eph_consumer_share *sh;
			size_t n = eph_consumers_of(v->consumers, ns->snap,
						    row->tuple, &sh);

			json_arr(&j, "consumers");
			for (size_t c = 0; c < n; c++)
				shape_consumer(
					&j, v->by,
					eph_consumers_get(v->consumers,
							  sh[c].consumer),
					&sh[c].sockets);
			json_arr_end(&j);
		}
		json_obj_end(&j);
	}
	json_arr_end(&j);
	api_trace(&j, v);
	json_obj(&j, "other");
	json_uint(&j, "destinations", rest->tuples);
	json_uint(&j, "used", rest->used);
	json_uint(&j, "established", rest->established);
	json_uint(&j, "time_wait", rest->time_wait);
	json_uint(&j, "other", rest->other);
	json_fixed(&j, "max_percent", rest->max_percent, 2);
	json_uint(&j, "min_free", rest->min_free);
	json_obj_end(&j);
	json_obj_end(&j);
	json_end(&j);
}
