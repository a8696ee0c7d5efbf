/* SPDX-License-Identifier: MIT */
/* ephport ranges: the namespace's port policy in one screen. */
#include <stdlib.h>

#include "cli.h"
#include "json.h"
#include "shapes.h"

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
		return "loopback only: connect() reuses TIME_WAIT ports of "
		       "connections with a loopback address at either end "
		       "(127.0.0.0/8, ::1); elsewhere they stay taken 60 s";
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

	cli_section(f, "TIME_WAIT (lasts 60 s, fixed in the kernel)");
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

static void print_os(const struct eph_policy *p, FILE *f)
{
	char title[96];
	uint16_t lo, hi;

	eph_policy_range(p, &lo, &hi);
	snprintf(title, sizeof(title),
		 "Other systems' default ephemeral ranges (* overlaps %u-%u)",
		 lo, hi);
	cli_section(f, title);
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
		shape_policy(&j, p, with_os);
		cli_json_finish(&j);
	} else {
		cli_heading(cli, "Ephemeral ports");
		shape_policy_text(p, stdout);
		print_time_wait(p, stdout);
		shape_warnings_text(p, stdout);
		if (with_os)
			print_os(p, stdout);
	}
	eph_policy_free(p);
	return EXIT_OK;
}
