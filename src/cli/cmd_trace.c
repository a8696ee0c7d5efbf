/* SPDX-License-Identifier: MIT */
/* ephport trace: every port allocation and failure, live. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "cli.h"
#include "json.h"
#include "shapes.h"

static const char trace_help[] =
	"Usage: ephport trace [--port PORT] [--pid PID] [--failures]\n"
	"                     [--duration SECONDS] [--all-netns]\n"
	"                     [--record [--record-entries N]] [--netns NS] "
	"[--json]\n"
	"\n"
	"Every port a socket gets or binds, and every failure to get one, as it\n"
	"happens: source ports chosen by connect() (and connections that bound\n"
	"their port first), bind() and bind(0), listeners, accepted "
	"connections,\n"
	"failures of bind() and connect() (EADDRINUSE, EADDRNOTAVAIL, EAGAIN "
	"for\n"
	"UDP) with the address asked for, and connections entering and "
	"leaving\n"
	"TIME_WAIT, each with its process. An eBPF program on the kernel's\n"
	"tracepoints sees them (root needed). At exit (Ctrl-C, SIGTERM or\n"
	"--duration) a summary: failures per errno and per command, "
	"allocations\n"
	"per destination.\n"
	"\n"
	"Options:\n"
	"      --port PORT        only events on PORT (local, remote or asked "
	"for)\n"
	"      --pid PID          only events of process PID\n"
	"      --failures         only failures of bind() and connect()\n"
	"  -d, --duration SECONDS stop after SECONDS (default: at Ctrl-C)\n"
	"  -a, --all-netns        every network namespace (default: the one\n"
	"                         inspected only)\n"
	"      --record           keep the record in /run/ephport/history that\n"
	"                         'usage' and 'why' use to be exact\n"
	"      --record-entries N its bound, in entries of 96 bytes (default "
	"65536)\n"
	"  -n, --netns NS         trace network namespace NS (name, path or "
	"pid:PID)\n"
	"  -j, --json             one JSON object per line, the summary last\n"
	"  -h, --help             show this help\n"
	"\n"
	"Examples:\n"
	"  ephport trace --failures --duration 3\n"
	"  ephport trace --port 8080 --duration 2 --json\n"
	"  ephport trace --record --duration 1\n"
	"\n"
	"Exit status: 0 traced, no failure seen; 1 failures of bind() or "
	"connect()\n"
	"were seen; 2 ephport could not trace (a usage error, no BPF "
	"support, not\n"
	"root).\n";

enum {
	OPT_PORT,
	OPT_PID,
	OPT_FAILURES,
	OPT_DURATION,
	OPT_ALL,
	OPT_RECORD,
	OPT_ENTRIES
};

struct trace {
	struct cli *cli;
	struct eph_tracer_opts o;
	bool seen[OPT_ENTRIES + 1];
	int64_t duration_ms; /* -1: until a signal */
	struct eph_trace_summary *sum;
	uint64_t events;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int trace_opt(struct cli *cli, int id, const char *arg, void *data)
{
	static const char *const names[] = { "--port",		"--pid",
					     "--failures",	"--duration",
					     "--all-netns",	"--record",
					     "--record-entries" };
	struct trace *t = data;
	uint64_t v;

	if (cli_once(cli, &t->seen[id], names[id]) != EXIT_OK)
		return EXIT_ERROR;
	switch (id) {
	case OPT_PORT:
	case OPT_PID:
	case OPT_DURATION:
	case OPT_ENTRIES:
		if (eph_num_parse_str(cli->ctx, arg, id == OPT_DURATION ? 0 : 1,
				      id == OPT_PORT  ? 65535
				      : id == OPT_PID ? INT32_MAX
				      : id == OPT_ENTRIES
					      ? EPH_RECORD_ENTRIES_MAX
					      : 2000000,
				      names[id] + 2, &v) < 0)
			return cli_usage_error(cli, "%s",
					       eph_ctx_errmsg(cli->ctx));
		if (id == OPT_PORT)
			t->o.filter.port = (uint16_t)v;
		else if (id == OPT_PID)
			t->o.filter.pid = (int32_t)v;
		else if (id == OPT_DURATION)
			t->duration_ms = (int64_t)v * 1000;
		else
			t->o.record_entries = (uint32_t)v;
		return EXIT_OK;
	case OPT_FAILURES:
		t->o.filter.failures = true;
		return EXIT_OK;
	case OPT_ALL:
		t->o.all_netns = true;
		return EXIT_OK;
	default:
		t->o.record = true;
		return EXIT_OK;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *errno_code(int e)
{
	const char *n = e ? strerrorname_np(e) : NULL;

	return n ? n : "?";
}

/* "10:41:07.123" in local time, or ISO 8601 in UTC for JSON. */
static const char *when(int64_t wall_ns, bool iso, char *buf, size_t size)
{
	time_t s = (time_t)(wall_ns / 1000000000);
	unsigned int ms = (unsigned int)((wall_ns / 1000000) % 1000) % 1000u;
	struct tm tm;
	char hms[32];

	if (iso) {
		gmtime_r(&s, &tm);
		strftime(hms, sizeof(hms), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(buf, size, "%.24s.%03uZ", hms, ms);
	} else {
		localtime_r(&s, &tm);
		strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
		snprintf(buf, size, "%.24s.%03u", hms, ms);
	}
	return buf;
}

static uint32_t seconds_between(uint64_t from_ns, uint64_t to_ns)
{
	return from_ns && to_ns > from_ns
		       ? (uint32_t)((to_ns - from_ns) / 1000000000ull)
		       : 0;
}

static void event_json(const struct trace *t, const struct eph_trace_event *e)
{
	char a[64], w[64];
	struct json j;

	json_init(&j, stdout);
	json_obj(&j, NULL);
	json_str(&j, "event", eph_trace_kind_code(e->kind));
	json_str(&j, "time", when(e->wall_ns, true, w, sizeof(w)));
	json_uint(&j, "netns_inode", e->netns);
	json_str(&j, "proto", eph_proto_name(e->proto));
	json_str(&j, "family", shape_family(e->family));
	json_str(&j, "local", eph_addr_format(e->local, a, sizeof(a)));
	json_uint(&j, "local_port", e->local_port);
	json_str(&j, "remote", eph_addr_format(e->remote, a, sizeof(a)));
	json_uint(&j, "remote_port", e->remote_port);
	if (e->pid >= 0) {
		json_int(&j, "pid", e->pid);
		json_str(&j, "command", e->comm);
		json_uint(&j, "uid", e->uid);
		json_uint(&j, "cgroup_id", e->cgroup_id);
	} else {
		json_null(&j, "pid");
		json_null(&j, "command");
		json_null(&j, "uid");
		json_null(&j, "cgroup_id");
	}
	if (e->err)
		json_str(&j, "errno", errno_code(e->err));
	else
		json_null(&j, "errno");
	json_bool(&j, "bound_first", e->flags & EPH_TRACE_BOUND_FIRST);
	json_bool(&j, "accepted", e->flags & EPH_TRACE_ACCEPTED);
	if (e->kind == EPH_TRACE_TIME_WAIT ||
	    e->kind == EPH_TRACE_TIME_WAIT_END)
		json_bool(&j, "timestamps", e->flags & EPH_TRACE_TIMESTAMPS);
	if (e->kind == EPH_TRACE_BIND) {
		json_bool(&j, "any_port", e->flags & EPH_TRACE_ANY_PORT);
		json_bool(&j, "no_port", e->flags & EPH_TRACE_NO_PORT);
	}
	if (e->kind == EPH_TRACE_TIME_WAIT_END)
		json_bool(&j, "reused", e->flags & EPH_TRACE_REUSED);
	if (e->opened_boot_ns)
		json_uint(&j, "age_seconds",
			  seconds_between(e->opened_boot_ns, e->boot_ns));
	(void)t;
	json_obj_end(&j);
	json_end(&j);
}

static void event_text(const struct eph_trace_event *e)
{
	char w[32], l[80], r[80], what[128] = "", who[64];
	uint32_t age = seconds_between(e->opened_boot_ns, e->boot_ns);

	shape_endpoint(e->local, e->local_port, l, sizeof(l));
	shape_endpoint(e->remote, e->remote_port, r, sizeof(r));
	switch (e->kind) {
	case EPH_TRACE_CONNECT:
		snprintf(what, sizeof(what), "%s",
			 (e->flags & EPH_TRACE_BOUND_FIRST)
				 ? "  bound first: blocks the port for every "
				   "destination"
				 : "");
		break;
	case EPH_TRACE_BIND:
		r[0] = '\0';
		snprintf(what, sizeof(what), "%s",
			 (e->flags & EPH_TRACE_NO_PORT)
				 ? "  no port yet: connect() will choose it"
			 : (e->flags & EPH_TRACE_ANY_PORT)
				 ? "  bind(0): the kernel chose the port"
				 : "");
		break;
	case EPH_TRACE_LISTEN:
		r[0] = '\0';
		break;
	case EPH_TRACE_CONNECT_FAILED:
	case EPH_TRACE_BIND_FAILED:
		snprintf(what, sizeof(what), "  %s", errno_code(e->err));
		if (e->kind == EPH_TRACE_BIND_FAILED)
			r[0] = '\0';
		break;
	case EPH_TRACE_TIME_WAIT:
	case EPH_TRACE_TIME_WAIT_END:
	case EPH_TRACE_CLOSE:
		snprintf(what, sizeof(what), "%s%s%s",
			 e->kind == EPH_TRACE_TIME_WAIT_END
				 ? ((e->flags & EPH_TRACE_REUSED)
					    ? "  reused"
					    : "  60 s over")
				 : "",
			 (e->flags & EPH_TRACE_BOUND_FIRST) ? "  bound first"
			 : (e->flags & EPH_TRACE_ACCEPTED)  ? "  accepted"
							    : "",
			 e->kind == EPH_TRACE_TIME_WAIT &&
					 !(e->flags & EPH_TRACE_TIMESTAMPS)
				 ? "  no timestamps: not reusable"
				 : "");
		break;
	default:
		break;
	}
	if (e->pid >= 0)
		snprintf(who, sizeof(who), "%s[%d]", e->comm, e->pid);
	else
		snprintf(who, sizeof(who), "-");
	/* A failure is the line to see in a stream of allocations. */
	if (e->kind == EPH_TRACE_CONNECT_FAILED ||
	    e->kind == EPH_TRACE_BIND_FAILED)
		fputs(color_start(stdout, COLOR_CRIT), stdout);
	printf("%s %-14s %s %s%s%s  %s%s",
	       when(e->wall_ns, false, w, sizeof(w)),
	       eph_trace_kind_code(e->kind), eph_proto_name(e->proto), l,
	       r[0] ? " -> " : "", r, who, what);
	if (e->opened_boot_ns &&
	    (e->kind == EPH_TRACE_TIME_WAIT || e->kind == EPH_TRACE_CLOSE ||
	     e->kind == EPH_TRACE_TIME_WAIT_END))
		printf("  opened %u s ago", age);
	if (e->kind == EPH_TRACE_CONNECT_FAILED ||
	    e->kind == EPH_TRACE_BIND_FAILED)
		fputs(color_end(stdout), stdout);
	printf("\n");
}

static int on_event(const struct eph_trace_event *e, void *data)
{
	struct trace *t = data;

	t->events++;
	if (eph_trace_summary_add(t->sum, e) < 0)
		return -ENOMEM;
	if (t->cli->json)
		event_json(t, e);
	else
		event_text(e);
	return 0;
}

static void summary_json(struct trace *t, struct eph_tracer *tr, double seconds)
{
	static const char *const tables[] = { "failures_by_errno",
					      "failures_by_command",
					      "connects_by_destination" };
	struct json j;
	char a[64];

	cli_json_begin(t->cli, &j);
	json_obj(&j, "summary");
	json_fixed(&j, "seconds", seconds, 1);
	json_uint(&j, "events", t->events);
	json_uint(&j, "lost", eph_tracer_lost(tr));
	json_uint(&j, "time_wait_untracked", eph_tracer_tw_untracked(tr));
	json_obj(&j, "by_kind");
	for (int k = 0; k < EPH_TRACE__COUNT; k++)
		json_uint(&j, eph_trace_kind_code(k),
			  eph_trace_summary_kind(t->sum, k));
	json_obj_end(&j);
	for (int tb = 0; tb < EPH_TRACE_TABLE__COUNT; tb++) {
		json_arr(&j, tables[tb]);
		for (size_t i = 0; i < eph_trace_summary_count(t->sum, tb);
		     i++) {
			const struct eph_trace_row *r =
				eph_trace_summary_row(t->sum, tb, i);

			json_obj(&j, NULL);
			if (tb == EPH_TRACE_BY_DESTINATION) {
				json_str(&j, "proto", eph_proto_name(r->proto));
				json_str(&j, "remote",
					 eph_addr_format(r->remote, a,
							 sizeof(a)));
				json_uint(&j, "remote_port", r->remote_port);
			} else {
				json_str(&j, "errno", errno_code(r->err));
			}
			if (tb == EPH_TRACE_BY_COMMAND)
				json_str(&j, "command", r->comm);
			json_uint(&j, "count", r->count);
			json_obj_end(&j);
		}
		json_arr_end(&j);
	}
	json_obj_end(&j);
	cli_json_finish(&j);
}

static void summary_text(struct trace *t, struct eph_tracer *tr, double seconds)
{
	const struct eph_trace_row *r;
	char ep[80];

	printf("\nSummary: %llu events in %.1f s, %llu lost\n",
	       (unsigned long long)t->events, seconds,
	       (unsigned long long)eph_tracer_lost(tr));
	for (int k = 0; k < EPH_TRACE__COUNT; k++)
		if (eph_trace_summary_kind(t->sum, k))
			printf("  %-16s %llu\n", eph_trace_kind_code(k),
			       (unsigned long long)eph_trace_summary_kind(
				       t->sum, k));
	if (eph_trace_summary_count(t->sum, EPH_TRACE_BY_ERRNO))
		color_puts(stdout, COLOR_HEADING,
			   "Failures per errno and command\n");
	for (size_t i = 0;
	     (r = eph_trace_summary_row(t->sum, EPH_TRACE_BY_COMMAND, i)); i++)
		printf("  %s%-14s%s %-16s %llu\n",
		       color_start(stdout, COLOR_CRIT), errno_code(r->err),
		       color_end(stdout), r->comm,
		       (unsigned long long)r->count);
	if (eph_trace_summary_count(t->sum, EPH_TRACE_BY_DESTINATION))
		printf("Allocations per destination (connect)\n");
	for (size_t i = 0;
	     i < 20 &&
	     (r = eph_trace_summary_row(t->sum, EPH_TRACE_BY_DESTINATION, i));
	     i++)
		printf("  %s %-40s %llu\n", eph_proto_name(r->proto),
		       shape_endpoint(r->remote, r->remote_port, ep,
				      sizeof(ep)),
		       (unsigned long long)r->count);
	if (eph_tracer_tw_untracked(tr))
		printf("  (%llu TIME_WAIT ends not followed: more than %u at "
		       "once)\n",
		       (unsigned long long)eph_tracer_tw_untracked(tr),
		       EPH_TRACER_TIME_WAITS);
}

/* What the tracer says before the events: to stderr, or one JSON line. */
static void preamble(struct trace *t, struct eph_tracer *tr)
{
	const struct eph_record *rec = eph_tracer_record(tr);
	struct eph_record_info ri;

	if (rec)
		eph_record_info(rec, &ri);
	if (t->cli->json) {
		struct json j;

		cli_json_begin(t->cli, &j);
		json_obj(&j, "tracing");
		json_bool(&j, "all_netns", t->o.all_netns);
		json_uint(&j, "netns_inode", eph_tracer_netns(tr));
		json_bool(&j, "mounted_tracefs", eph_tracer_mounted(tr));
		if (rec) {
			json_obj(&j, "record");
			json_str(&j, "path", eph_ctx_record_path(t->cli->ctx));
			json_uint(&j, "entries", ri.entries);
			json_uint(&j, "capacity", ri.capacity);
			json_str(&j, "discarded",
				 ri.detail[0] ? ri.detail : NULL);
			json_obj_end(&j);
		} else {
			json_null(&j, "record");
		}
		json_obj_end(&j);
		cli_json_finish(&j);
		return;
	}
	if (eph_tracer_mounted(tr))
		fprintf(stderr, "ephport: trace: mounted tracefs at "
				"/sys/kernel/tracing (it was not mounted)\n");
	if (rec && ri.detail[0])
		fprintf(stderr,
			"ephport: trace: the record found was refused and "
			"begun anew: %s\n",
			ri.detail);
	if (rec)
		fprintf(stderr,
			"ephport: trace: keeping the record in %s (%u entries "
			"now, %u at most)\n",
			eph_ctx_record_path(t->cli->ctx), ri.entries,
			ri.capacity);
}

int cmd_trace(struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "port", 0, true, OPT_PORT },
		{ "pid", 0, true, OPT_PID },
		{ "failures", 0, false, OPT_FAILURES },
		{ "duration", 'd', true, OPT_DURATION },
		{ "all-netns", 'a', false, OPT_ALL },
		{ "record", 0, false, OPT_RECORD },
		{ "record-entries", 0, true, OPT_ENTRIES },
		{ 0 },
	};
	struct trace t = { .cli = cli, .duration_ms = -1 };
	struct eph_tracer *tr = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t start, end;
	int first, rc, r = 0;
	char q[96];

	rc = cli_parse(cli, argc, argv, opts, false, trace_help, trace_opt, &t,
		       &first);
	if (rc != EXIT_OK)
		return rc == CLI_DONE ? EXIT_OK : rc;
	if (first < argc)
		return cli_usage_error(cli, "unexpected argument %s",
				       cli_quote(argv[first], q, sizeof(q)));
	if (t.o.record_entries && !t.o.record)
		return cli_usage_error(cli, "--record-entries needs --record");
	if (cli_apply_netns(cli) != EXIT_OK)
		return EXIT_ERROR;
	if (eph_trace_summary_new(&t.sum) < 0)
		return cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	/* No SA_RESTART: a signal ends the wait for events at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (eph_tracer_new(cli->ctx, &t.o, &tr) < 0) {
		rc = cli_fail(cli, "cannot trace");
		goto out;
	}
	preamble(&t, tr);
	fflush(stdout);
	start = now_ms();
	end = t.duration_ms >= 0 ? start + (uint64_t)t.duration_ms : UINT64_MAX;
	while (!stop_signal) {
		uint64_t now = now_ms();
		int wait = now >= end	     ? 0
			   : end - now > 200 ? 200
					     : (int)(end - now);

		r = eph_tracer_poll(tr, wait, on_event, &t);
		fflush(stdout);
		if (r < 0 && r != -EINTR)
			break;
		if (now_ms() >= end)
			break;
	}
	if (r < 0 && r != -EINTR) {
		rc = cli_fail(cli, "tracing");
		goto out;
	}
	if (cli->json)
		summary_json(&t, tr, (double)(now_ms() - start) / 1000.0);
	else
		summary_text(&t, tr, (double)(now_ms() - start) / 1000.0);
	rc = eph_trace_summary_count(t.sum, EPH_TRACE_BY_ERRNO) ? EXIT_NO
								: EXIT_OK;
out:
	eph_tracer_free(tr);
	eph_trace_summary_free(t.sum);
	return rc;
}
