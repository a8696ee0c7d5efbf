/* SPDX-License-Identifier: MIT */
/* ephport serve: the Prometheus exporter and the live page. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "config.h"
#include "json.h"
#include "../serve/http.h"

#define DEFAULT_LISTEN "127.0.0.1:8720"

static const char serve_help[] =
	"Usage: ephport serve [--listen ADDR:PORT] [--interval S] [--top N]\n"
	"                     [--all-netns | --netns NS] [--client-timeout S]\n"
	"                     [--by KIND] [--tls-cert FILE --tls-key FILE]\n"
	"                     [--basic-auth FILE]"
#if EPHPORT_BPF
	" [--trace]"
#endif
	"\n"
	"\n"
	"Serves what 'ephport usage' and 'ephport audit' see, for Prometheus\n"
	"and for people, until SIGTERM or SIGINT:\n"
	"  /metrics           the Prometheus text format (ephport_* metrics)\n"
	"  /                  a live page: the port space as a strip, the\n"
	"                     fullest destinations with rate and time left\n"
	"  /api/v1/snapshot   the same JSON shapes as the commands, with each\n"
	"                     destination's forecast\n"
	"  /healthz           'ok' while the exporter runs (no scan, no auth)\n"
	"A request scans when the last scan is older than the interval; those\n"
	"in between get the last scan, and requests that arrive during a scan\n"
	"share it. Nothing runs between requests"
#if EPHPORT_BPF
	" (with --trace, the tracer\n"
	"reads events as they come, and nothing when none do)"
#endif
	". Each\n"
	"destination's rate and time to exhaustion come from its last 8 "
	"scans.\n"
	"SIGHUP reads the --basic-auth file again and makes the next request\n"
	"scan. The scans use the tracer's record when one is kept, as 'usage'\n"
	"does.\n"
	"\n"
	"Options:\n"
	"  -l, --listen ADDR:PORT  where to listen (default " DEFAULT_LISTEN
	", loopback\n"
	"                          only; [::1]:PORT for IPv6). 8720 is outside "
	"every\n"
	"                          default ephemeral range, unregistered, and "
	"outside\n"
	"                          the 9100-9999 that exporters use\n"
	"  -i, --interval S        scan at most every S seconds (default 15; "
	"a tenth\n"
	"                          of it, at most 1 s, is slack for a scraper on "
	"the\n"
	"                          same period)\n"
	"  -t, --top N             destinations per namespace with series of "
	"their\n"
	"                          own (default 10); the rest are summed in one\n"
	"                          remote=\"other\" series per namespace\n"
	"  -a, --all-netns         every namespace, each series labelled "
	"netns=\"...\"\n"
	"  -b, --by KIND           who holds each destination's ports: unit "
	"(default),\n"
	"                          container, cgroup, user, process or none; "
	"the top N\n"
	"                          of each destination, the rest summed in\n"
	"                          consumer=\"other\" (process walks "
	"/proc each scan)\n"
	"      --client-timeout S  close a connection silent for S seconds "
	"(default 10)\n"
	"      --tls-cert FILE     serve HTTPS with this PEM certificate "
	"(chain)...\n"
	"      --tls-key FILE      ...and its PEM private key\n"
	"      --basic-auth FILE   require HTTP basic authentication: FILE holds\n"
	"                          user:hash lines, the hashes from crypt(3)\n"
	"                          ('openssl passwd -6', 'mkpasswd -m sha-512',\n"
	"                          'htpasswd -nB USER')\n"
#if EPHPORT_BPF
	"      --trace             run the tracer too (root): counters of "
	"bind() and\n"
	"                          connect() failures by errno and command, "
	"every\n"
	"                          connection opened counted (between two "
	"scans too),\n"
	"                          and the record that 'usage' and 'why' read "
	"kept\n"
	"                          while it runs (as 'trace --record')\n"
#endif
	"  -n, --netns NS          the namespace to scan (the exporter listens "
	"in its\n"
	"                          own)\n"
	"  -j, --json              announce the address as a JSON object\n"
	"  -h, --help              show this help\n"
	"\n"
	"TLS and authentication are off by default: destinations reveal a "
	"host's\n"
	"topology, so turn them on before listening beyond loopback.\n"
	"\n"
	"Examples:\n"
	"  ephport serve\n"
	"  ephport serve --listen 127.0.0.1:9800 --interval 30 --top 20\n"
	"  ephport serve --all-netns\n"
#if EPHPORT_BPF
	"  ephport serve --trace\n"
#endif
	"  ephport --netns web serve --listen 127.0.0.1:8721\n"
	"  ephport serve --listen [::1]:8720 --basic-auth users "
	"--tls-cert cert.pem --tls-key key.pem\n"
	"\n"
	"Exit status: 0 stopped by SIGTERM or SIGINT, 2 could not start (a "
	"usage\n"
	"error, a namespace that cannot be read, an address in use"
#if EPHPORT_BPF
	", another\n"
	"recorder running with --trace"
#endif
	").\n";

enum {
	OPT_LISTEN,
	OPT_INTERVAL,
	OPT_TOP,
	OPT_ALL,
	OPT_TIMEOUT,
	OPT_CERT,
	OPT_KEY,
	OPT_AUTH,
	OPT_BY,
	OPT_TRACE,
};

struct serve {
	struct serve_config cfg;
	const char *listen;
	bool seen[OPT_TRACE + 1];
	struct cli *cli;
};

/* "ADDR:PORT" or "[ADDR6]:PORT" into the config's socket address. */
static int parse_listen(struct cli *cli, const char *s, const char *scheme,
			struct serve_config *cfg)
{
	const char *colon = strrchr(s, ':'), *a = s;
	char addr[64], q[96];
	uint8_t bytes[16];
	size_t alen;
	uint64_t port;
	int family;

	if (!colon)
		return cli_usage_error(cli, "--listen %s: give ADDR:PORT",
				       cli_quote(s, q, sizeof(q)));
	alen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (alen < 2 || s[alen - 1] != ']')
			return cli_usage_error(cli,
					       "--listen %s: give [ADDR6]:PORT",
					       cli_quote(s, q, sizeof(q)));
		a++;
		alen -= 2;
	} else if (memchr(s, ':', alen)) {
		return cli_usage_error(cli,
				       "--listen %s: put an IPv6 address in "
				       "brackets, [ADDR6]:PORT",
				       cli_quote(s, q, sizeof(q)));
	}
	if (alen == 0 || alen >= sizeof(addr))
		return cli_usage_error(cli, "--listen %s: give an address",
				       cli_quote(s, q, sizeof(q)));
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	if (eph_addr_parse(cli->ctx, addr, bytes, &family) < 0 ||
	    eph_num_parse_str(cli->ctx, colon + 1, 1, 65535, "--listen port",
			      &port) < 0)
		return cli_usage_error(cli, "--listen: %s",
				       eph_ctx_errmsg(cli->ctx));
	memset(&cfg->addr, 0, sizeof(cfg->addr));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&cfg->addr;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		memcpy(&in->sin_addr, bytes + 12, 4);
		cfg->addrlen = sizeof(*in);
		snprintf(cfg->url, sizeof(cfg->url), "%s://%s:%u/", scheme,
			 addr, (unsigned int)port);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&cfg->addr;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		memcpy(&in6->sin6_addr, bytes, 16);
		cfg->addrlen = sizeof(*in6);
		snprintf(cfg->url, sizeof(cfg->url), "%s://[%s]:%u/", scheme,
			 addr, (unsigned int)port);
	}
	return EXIT_OK;
}

static int serve_opt(struct cli *cli, int id, const char *arg, void *data)
{
	static const char *const names[] = {
		"--listen",    "--interval",	   "--top",
		"--all-netns", "--client-timeout", "--tls-cert",
		"--tls-key",   "--basic-auth",	   "--by",
		"--trace",
	};
	struct serve *s = data;
	uint64_t v;

	if (cli_once(cli, &s->seen[id], names[id]) != EXIT_OK)
		return EXIT_ERROR;
	switch (id) {
	case OPT_LISTEN:
		s->listen = arg;
		return EXIT_OK;
	case OPT_INTERVAL:
	case OPT_TIMEOUT:
	case OPT_TOP:
		if (eph_num_parse_str(cli->ctx, arg, 1,
				      id == OPT_TOP ? 10000 : 86400, names[id],
				      &v) < 0)
			return cli_usage_error(cli, "%s",
					       eph_ctx_errmsg(cli->ctx));
		if (id == OPT_INTERVAL)
			s->cfg.interval = (uint32_t)v;
		else if (id == OPT_TIMEOUT)
			s->cfg.client_timeout = (uint32_t)v;
		else
			s->cfg.scan.top = (size_t)v;
		return EXIT_OK;
	case OPT_ALL:
		s->cfg.scan.all_netns = true;
		return EXIT_OK;
	case OPT_CERT:
		s->cfg.tls_cert = arg;
		return EXIT_OK;
	case OPT_KEY:
		s->cfg.tls_key = arg;
		return EXIT_OK;
	case OPT_BY:
		return cli_by(cli, arg, true, &s->cfg.scan.by_set,
			      &s->cfg.scan.by);
	case OPT_TRACE:
		s->cfg.scan.trace = true;
		return EXIT_OK;
	default:
		s->cfg.basic_auth = arg;
		return EXIT_OK;
	}
}

static void notice(void *data, const char *what, const char *detail)
{
	struct serve *s = data;
	struct json j;

	if (s->cli->json) {
		cli_json_begin(s->cli, &j);
		json_str(&j, "event", what);
		json_str(&j, "detail", detail);
		if (strcmp(what, "listening") == 0) {
			json_str(&j, "url", s->cfg.url);
			json_uint(&j, "interval", s->cfg.interval);
			json_bool(&j, "all_netns", s->cfg.scan.all_netns);
			json_bool(&j, "tls", s->cfg.tls_key != NULL);
			json_bool(&j, "basic_auth", s->cfg.basic_auth != NULL);
			json_bool(&j, "trace", s->cfg.scan.trace);
		}
		cli_json_finish(&j);
	} else if (strcmp(what, "listening") == 0) {
		printf("ephport serve: listening on %s (a scan at most every "
		       "%u s%s%s%s%s)\n",
		       s->cfg.url, s->cfg.interval,
		       s->cfg.scan.all_netns ? ", every namespace" : "",
		       s->cfg.tls_key ? ", TLS" : "",
		       s->cfg.basic_auth ? ", basic auth" : "",
		       s->cfg.scan.trace ? ", tracing" : "");
	} else {
		printf("ephport serve: %s: %s\n", what, detail);
	}
	fflush(stdout);
}

int cmd_serve(struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "listen", 'l', true, OPT_LISTEN },
		{ "interval", 'i', true, OPT_INTERVAL },
		{ "top", 't', true, OPT_TOP },
		{ "all-netns", 'a', false, OPT_ALL },
		{ "client-timeout", 0, true, OPT_TIMEOUT },
		{ "tls-cert", 0, true, OPT_CERT },
		{ "tls-key", 0, true, OPT_KEY },
		{ "basic-auth", 0, true, OPT_AUTH },
		{ "by", 'b', true, OPT_BY },
#if EPHPORT_BPF
		{ "trace", 0, false, OPT_TRACE },
#endif
		{ 0 },
	};
	const struct eph_thresholds th = EPH_THRESHOLDS_DEFAULT;
	struct serve s = { .cli = cli, .listen = DEFAULT_LISTEN };
	struct serve_error err = { "EIO", "" };
	char q[96];
	int first, rc;

	s.cfg.interval = 15;
	s.cfg.client_timeout = 10;
	s.cfg.scan.top = 10;
	s.cfg.scan.forecast = true;
	s.cfg.scan.th = th;
	s.cfg.scan.flags =
		EPH_SNAPSHOT_RISKS | EPH_SNAPSHOT_OWNERS | EPH_SNAPSHOT_HISTORY;
	s.cfg.scan.by_set = true;
	s.cfg.scan.by = EPH_BY_UNIT;
	s.cfg.notice = notice;
	s.cfg.data = &s;
	rc = cli_parse(cli, argc, argv, opts, true, serve_help, serve_opt, &s,
		       &first);
	if (rc != EXIT_OK)
		return rc == CLI_DONE ? EXIT_OK : rc;
	if (first < argc)
		return cli_usage_error(cli, "unexpected argument %s",
				       cli_quote(argv[first], q, sizeof(q)));
	if (s.cfg.scan.all_netns && cli->netns)
		return cli_usage_error(cli, "--all-netns and --netns exclude "
					    "each other");
	if (!s.cfg.tls_cert != !s.cfg.tls_key)
		return cli_usage_error(cli, "--tls-cert and --tls-key go "
					    "together");
	if (parse_listen(cli, s.listen, s.cfg.tls_key ? "https" : "http",
			 &s.cfg) != EXIT_OK)
		return EXIT_ERROR;
	s.cfg.scan.interval = s.cfg.interval;
	s.cfg.netns = cli->netns;
	if (cli_apply_netns(cli) != EXIT_OK)
		return EXIT_ERROR;
	if (serve_run(cli->ctx, &s.cfg, &err) < 0)
		return cli_error(cli, err.code, EXIT_ERROR, "%s", err.message);
	return EXIT_OK;
}
