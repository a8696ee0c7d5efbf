/* SPDX-License-Identifier: MIT */
/* ephport ranges: the namespace's port policy in one screen. */
#include <stdlib.h>

#include "cli.h"
#include "json.h"

static const char ranges_help[] =
	"Usage: ephport ranges [--os] [--netns NS] [--json]\n"
	"\n"
	"What the kernel will do with port numbers in this network namespace:\n"
	"the ephemeral range (net.ipv4.ip_local_port_range), the reserved "
	"ports\n"
	"(ip_local_reserved_ports) and how many ephemeral ports they leave, "
	"the\n"
	"privileged threshold (ip_unprivileged_port_start), the TIME_WAIT\n"
	"settings with what each means in practice, and warnings with stable\n"
	"codes.\n"
	"\n"
	"Options:\n"
	"  -o, --os         add other systems' default ephemeral ranges and "
	"mark\n"
	"                   those that overlap this host's range\n"
	"  -n, --netns NS   read network namespace NS (name, path or pid:PID)\n"
	"  -j, --json       print one JSON object\n"
	"  -h, --help       show this help\n"
	"\n"
	"Warning codes: range-same-parity, reserved-large-share, range-small,\n"
	"tw-reuse-off, timestamps-off (warnings); range-outside-iana,\n"
	"reserved-outside-range (remarks).\n"
	"\n"
	"Examples:\n"
	"  ephport ranges\n"
	"  ephport ranges --os            will my port collide on Windows?\n"
	"  ephport --netns web ranges --json | jq .available\n"
	"\n"
	"Exit status: 0 success, 2 ephport could not answer (a usage error, "
	"an\nunreadable namespace or sysctl).\n";

static const char *reuse_meaning(int64_t v)
{
	switch (v) {
	case 0:
		return "off: a port in TIME_WAIT stays taken toward its "
		       "destination for the full 60 s";
	case 1:
		return "on: connect() may reuse a TIME_WAIT port toward any "
		       "destination (needs timestamps)";
	default:
		return "loopback only: connect() reuses TIME_WAIT ports toward "
		       "127.0.0.0/8 and ::1; elsewhere they stay taken 60 s";
	}
}

static const char *timestamps_meaning(int64_t v)
{
	switch (v) {
	case 0:
		return "off: TIME_WAIT can never be reused";
	case 1:
		return "on, with per-connection offsets: TIME_WAIT reuse can "
		       "work";
	default:
		return "on, without offsets: TIME_WAIT reuse can work";
	}
}

static void knob_line(FILE *f, const char *name, const char *value,
		      const char *meaning)
{
	char first[64];

	snprintf(first, sizeof(first), "  %-19s %-8s ", name, value);
	cli_wrap(f, first, meaning);
}

static void print_time_wait(const struct eph_policy *p, FILE *f)
{
	char v[32], m[256];
	int64_t x;

	fputs("\nTIME_WAIT (lasts 60 s, fixed in the kernel)\n", f);
	eph_policy_knob(p, EPH_KNOB_TCP_TW_REUSE, &x);
	snprintf(v, sizeof(v), "%lld", (long long)x);
	knob_line(f, "tcp_tw_reuse", v, reuse_meaning(x));
	if (eph_policy_knob(p, EPH_KNOB_TCP_TW_REUSE_DELAY, &x) == 0) {
		snprintf(v, sizeof(v), "%lld", (long long)x);
		snprintf(m, sizeof(m),
			 "ms: a TIME_WAIT becomes reusable %lld ms after its "
			 "last timestamp",
			 (long long)x);
	} else {
		snprintf(v, sizeof(v), "-");
		snprintf(m, sizeof(m),
			 "not in this kernel (before 6.14): the delay is a "
			 "fixed 1 s");
	}
	knob_line(f, "tcp_tw_reuse_delay", v, m);
	eph_policy_knob(p, EPH_KNOB_TCP_TIMESTAMPS, &x);
	snprintf(v, sizeof(v), "%lld", (long long)x);
	knob_line(f, "tcp_timestamps", v, timestamps_meaning(x));
	eph_policy_knob(p, EPH_KNOB_TCP_MAX_TW_BUCKETS, &x);
	snprintf(v, sizeof(v), "%lld", (long long)x);
	snprintf(m, sizeof(m),
		 "TIME_WAIT sockets at most; past that, closed connections "
		 "skip TIME_WAIT silently (netstat TCPTimeWaitOverflow)");
	knob_line(f, "tcp_max_tw_buckets", v, m);
	eph_policy_knob(p, EPH_KNOB_TCP_FIN_TIMEOUT, &x);
	snprintf(v, sizeof(v), "%lld", (long long)x);
	snprintf(m, sizeof(m),
		 "s an orphaned FIN_WAIT2 may last; it does not shorten "
		 "TIME_WAIT, which lasts 60 s whatever this says");
	knob_line(f, "tcp_fin_timeout", v, m);
}

void ranges_print_summary(const struct eph_policy *p, FILE *f)
{
	const struct eph_portset *res = eph_policy_reserved(p);
	uint32_t in = eph_policy_reserved_in_range(p);
	uint32_t out = eph_portset_count(res) - in;
	char first[64], text[512], *list;
	size_t len;
	uint16_t lo, hi;
	int64_t unpriv;

	eph_policy_range(p, &lo, &hi);
	fprintf(f, "  %-11s %u-%u (%u ports)\n", "range", lo, hi,
		eph_policy_range_size(p));

	len = eph_portset_format(res, NULL, 0);
	list = malloc(len + 1);
	if (list)
		eph_portset_format(res, list, len + 1);
	if (len == 0)
		snprintf(text, sizeof(text), "none");
	else
		snprintf(text, sizeof(text), "%s (%u in range%s%.0u%s)",
			 list ? list : "?", in, out ? ", " : "", out,
			 out ? " outside" : "");
	free(list);
	snprintf(first, sizeof(first), "  %-11s ", "reserved");
	cli_wrap(f, first, text);

	fprintf(f, "  %-11s %u ports for connect() and bind(0)\n", "available",
		eph_policy_available(p));
	if (eph_policy_knob(p, EPH_KNOB_UNPRIVILEGED_PORT_START, &unpriv) == 0)
		fprintf(f,
			"  %-11s ports below %lld need CAP_NET_BIND_SERVICE\n",
			"privileged", (long long)unpriv);
}

void ranges_print_warnings(const struct eph_policy *p, FILE *f)
{
	size_t n = eph_policy_warning_count(p);

	if (n == 0)
		return;
	fputs("\nWarnings\n", f);
	for (size_t i = 0; i < n; i++) {
		const struct eph_warning *w = eph_policy_warning(p, i);
		fprintf(f, "  %s [%s]\n",
			w->severity == EPH_SEV_WARNING ? "warning" : "note",
			w->code);
		cli_wrap(f, "    ", w->message);
	}
}

static void print_os(const struct eph_policy *p, FILE *f)
{
	uint16_t lo, hi;

	eph_policy_range(p, &lo, &hi);
	fprintf(f,
		"\nOther systems' default ephemeral ranges (* overlaps "
		"%u-%u)\n",
		lo, hi);
	fprintf(f, "    %-12s %-30s %-12s %s\n", "NAME", "SYSTEM", "RANGE",
		"SHARED");
	for (size_t i = 0; i < eph_os_count(); i++) {
		const struct eph_os *os = eph_os_get(i);
		char range[16];

		uint32_t shared = eph_ranges_shared(lo, hi, os->low, os->high);

		snprintf(range, sizeof(range), "%u-%u", os->low, os->high);
		fprintf(f, "  %c %-12s %-30s %-12s %u%s\n", shared ? '*' : ' ',
			os->name, os->label, range, shared,
			os->legacy ? " (legacy)" : "");
	}
}

void ranges_json(const struct eph_policy *p, struct json *j, bool with_os)
{
	const struct eph_portset *res = eph_policy_reserved(p);
	uint32_t in = eph_policy_reserved_in_range(p);
	size_t len = eph_portset_format(res, NULL, 0);
	char *list = malloc(len + 1);
	uint16_t lo, hi;
	int64_t x;

	eph_policy_range(p, &lo, &hi);
	json_obj(j, "range");
	json_uint(j, "low", lo);
	json_uint(j, "high", hi);
	json_uint(j, "size", eph_policy_range_size(p));
	json_obj_end(j);

	json_obj(j, "reserved");
	if (list)
		eph_portset_format(res, list, len + 1);
	json_str(j, "ports", list ? list : "");
	free(list);
	json_uint(j, "count", eph_portset_count(res));
	json_uint(j, "in_range", in);
	json_uint(j, "outside_range", eph_portset_count(res) - in);
	json_obj_end(j);
	json_uint(j, "available", eph_policy_available(p));

	for (int k = 0; k < EPH_KNOB__COUNT; k++) {
		/* "net.ipv4.tcp_tw_reuse" is reported as "tcp_tw_reuse". */
		const char *key = eph_knob_name((enum eph_knob)k) + 9;

		if (k == EPH_KNOB_UNPRIVILEGED_PORT_START)
			key = "unprivileged_port_start";
		if (eph_policy_knob(p, (enum eph_knob)k, &x) == 0)
			json_int(j, key, x);
		else
			json_null(j, key);
	}
	json_uint(j, "time_wait_seconds", 60);

	json_arr(j, "warnings");
	for (size_t i = 0; i < eph_policy_warning_count(p); i++) {
		const struct eph_warning *w = eph_policy_warning(p, i);

		json_obj(j, NULL);
		json_str(j, "code", w->code);
		json_str(j, "severity",
			 w->severity == EPH_SEV_WARNING ? "warning" : "info");
		json_str(j, "message", w->message);
		json_obj_end(j);
	}
	json_arr_end(j);

	if (!with_os)
		return;
	json_arr(j, "os");
	for (size_t i = 0; i < eph_os_count(); i++) {
		const struct eph_os *os = eph_os_get(i);

		json_obj(j, NULL);
		json_str(j, "name", os->name);
		json_str(j, "label", os->label);
		json_uint(j, "low", os->low);
		json_uint(j, "high", os->high);
		json_bool(j, "legacy", os->legacy);
		json_bool(j, "overlaps",
			  eph_ranges_overlap(lo, hi, os->low, os->high));
		json_uint(j, "shared_ports",
			  eph_ranges_shared(lo, hi, os->low, os->high));
		json_str(j, "where", os->where[0] ? os->where : NULL);
		json_str(j, "note", os->note);
		json_obj_end(j);
	}
	json_arr_end(j);
}

int ranges_load(struct cli *cli, struct eph_policy **ret)
{
	int rc;

	rc = cli_apply_netns(cli);
	if (rc != EXIT_OK)
		return rc;
	if (eph_policy_read(cli->ctx, ret) < 0)
		return cli_fail(cli, NULL);
	return EXIT_OK;
}

static int ranges_opt(struct cli *cli, int id, const char *arg, void *data)
{
	(void)cli;
	(void)id;
	(void)arg;
	*(bool *)data = true; /* --os, the only option */
	return EXIT_OK;
}

int cmd_ranges(struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "os", 'o', false, 'o' },
		{ 0 },
	};
	struct eph_policy *p = NULL;
	bool with_os = false;
	int first, rc;

	rc = cli_parse(cli, argc, argv, opts, false, ranges_help, ranges_opt,
		       &with_os, &first);
	if (rc != EXIT_OK)
		return rc == CLI_DONE ? EXIT_OK : rc;
	if (first < argc) {
		char q[96];

		return cli_usage_error(cli, "unexpected argument %s",
				       cli_quote(argv[first], q, sizeof(q)));
	}
	rc = ranges_load(cli, &p);
	if (rc != EXIT_OK)
		return rc;
	if (cli->json) {
		struct json j;

		cli_json_begin(cli, &j);
		ranges_json(p, &j, with_os);
		cli_json_finish(&j);
	} else {
		cli_heading(cli, "Ephemeral ports");
		ranges_print_summary(p, stdout);
		print_time_wait(p, stdout);
		ranges_print_warnings(p, stdout);
		if (with_os)
			print_os(p, stdout);
	}
	eph_policy_free(p);
	return EXIT_OK;
}
