/* SPDX-License-Identifier: MIT */
/* ephport metrics: one scan in the Prometheus text format. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "../serve/metrics.h"

static const char metrics_help[] =
	"Usage: ephport metrics [--top N] [--by KIND] [--all-netns | --netns NS]\n"
	"                       [--textfile DIR] [--json]\n"
	"\n"
	"Scans once and prints the metrics 'ephport serve' exports, in the\n"
	"Prometheus text format; with --textfile, writes them atomically as\n"
	"DIR/ephport.prom for node_exporter's textfile collector (run it from a\n"
	"timer). One scan has no history: the forecast and the counters of\n"
	"connections opened need 'ephport serve'.\n"
	"\n"
	"Options:\n"
	"  -t, --top N          destinations per namespace with series of their "
	"own\n"
	"                       (default 10); the rest are summed in one\n"
	"                       remote=\"other\" series per namespace\n"
	"  -a, --all-netns      every namespace, each series labelled "
	"netns=\"...\"\n"
	"  -b, --by KIND        who holds each destination's ports: unit "
	"(default),\n"
	"                       container, cgroup, user, process or none\n"
	"      --textfile DIR   write DIR/ephport.prom (DIR must exist; a "
	"temporary\n"
	"                       file beside it is renamed over it)\n"
	"  -n, --netns NS       read network namespace NS\n"
	"  -j, --json           the JSON of serve's /api/v1/snapshot instead; "
	"with\n"
	"                       --textfile, what was written\n"
	"  -h, --help           show this help\n"
	"\n"
	"Examples:\n"
	"  ephport metrics\n"
	"  ephport metrics --all-netns --top 5\n"
	"  ephport metrics --textfile /var/lib/prometheus/node-exporter\n"
	"\n"
	"Exit status: 0 done, 2 could not scan or write.\n";

enum { OPT_TOP, OPT_ALL, OPT_TEXTFILE, OPT_BY };

struct metrics {
	struct collector_opts o;
	const char *textfile;
	bool seen[4];
};

static int metrics_opt(struct cli *cli, int id, const char *arg, void *data)
{
	static const char *const names[] = { "--top", "--all-netns",
					     "--textfile", "--by" };
	struct metrics *m = data;
	uint64_t v;

	if (cli_once(cli, &m->seen[id], names[id]) != EXIT_OK)
		return EXIT_ERROR;
	if (id == OPT_TOP) {
		if (eph_num_parse_str(cli->ctx, arg, 1, 10000, "--top", &v) < 0)
			return cli_usage_error(cli, "%s",
					       eph_ctx_errmsg(cli->ctx));
		m->o.top = (size_t)v;
	} else if (id == OPT_ALL) {
		m->o.all_netns = true;
	} else if (id == OPT_BY) {
		return cli_by(cli, arg, true, &m->o.by_set, &m->o.by);
	} else {
		m->textfile = arg;
	}
	return EXIT_OK;
}

/* Renders the view into a new buffer. Returns 0 or -ENOMEM. */
static int render(const struct view *v, bool json, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);

	if (!f)
		return -ENOMEM;
	if (json)
		api_render(f, v);
	else
		metrics_render(f, v);
	return fclose(f) == 0 ? 0 : -ENOMEM;
}

static int run(struct cli *cli, struct metrics *m, struct collector *c)
{
	const struct view *v;
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = collector_scan(c);
	v = collector_view(c);
	if (r == -ENOMEM)
		return cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	if (r < 0 && !m->o.all_netns)
		return cli_error(cli, strerrorname_np(-v->ns[0].err),
				 EXIT_ERROR, "%s", v->ns[0].error);
	if (r < 0)
		return cli_error(cli, "ENODATA", EXIT_ERROR,
				 "no network namespace could be read");
	if (render(v, cli->json && !m->textfile, &buf, &len) < 0)
		return cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	if (!m->textfile) {
		fwrite(buf, 1, len, stdout);
		free(buf);
		return EXIT_OK;
	}
	r = eph_textfile_write(cli->ctx, m->textfile, buf, len);
	free(buf);
	if (r < 0)
		return cli_fail(cli, "--textfile");
	if (cli->json) {
		struct json j;

		cli_json_begin(cli, &j);
		json_str(&j, "directory", m->textfile);
		json_str(&j, "file", EPH_TEXTFILE_NAME);
		json_uint(&j, "bytes", len);
		cli_json_finish(&j);
	}
	return EXIT_OK;
}

int cmd_metrics(struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "top", 't', true, OPT_TOP },
		{ "all-netns", 'a', false, OPT_ALL },
		{ "textfile", 0, true, OPT_TEXTFILE },
		{ "by", 'b', true, OPT_BY },
		{ 0 },
	};
	const struct eph_thresholds th = EPH_THRESHOLDS_DEFAULT;
	struct metrics m = { .o = { .top = 10, .th = th } };
	struct collector *c = NULL;
	char q[96];
	int first, rc;

	m.o.flags =
		EPH_SNAPSHOT_RISKS | EPH_SNAPSHOT_OWNERS | EPH_SNAPSHOT_HISTORY;
	m.o.by_set = true;
	m.o.by = EPH_BY_UNIT;
	rc = cli_parse(cli, argc, argv, opts, true, metrics_help, metrics_opt,
		       &m, &first);
	if (rc != EXIT_OK)
		return rc == CLI_DONE ? EXIT_OK : rc;
	if (first < argc)
		return cli_usage_error(cli, "unexpected argument %s",
				       cli_quote(argv[first], q, sizeof(q)));
	if (m.o.all_netns && cli->netns)
		return cli_usage_error(cli, "--all-netns and --netns exclude "
					    "each other");
	if (cli_apply_netns(cli) != EXIT_OK)
		return EXIT_ERROR;
	if (collector_new(cli->ctx, cli->netns, &m.o, &c) < 0)
		return cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	rc = run(cli, &m, c);
	collector_free(c);
	return rc;
}
