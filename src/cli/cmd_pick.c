/* SPDX-License-Identifier: MIT */
/*
 * ephport pick: a server port that nothing will take, here and on the
 * systems the service will also run on; stable per service name.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "compat.h"

#define REGISTRY_DEFAULT "/var/lib/ephport/ports"
#define IANA_SERVICES "/usr/share/wireshark/services"
#define ETC_SERVICES "/etc/services"
#define NMAP_SERVICES "/usr/share/nmap/nmap-services"
/* nmap scans the 1000 most frequent ports by default: "often open". */
#define COMMON_TOP 1000
#define MAX_OS 32
#define MAX_ENTRIES 65536

static const char pick_help[] =
	"Usage: ephport pick [NAME] [--os LIST] [--count N] [--range "
	"LOW-HIGH]\n"
	"                    [--privileged] [--allow-registered] "
	"[--avoid-common]\n"
	"                    [--reserve] [--registry FILE] [--netns NS] "
	"[--json]\n"
	"       ephport pick --explain PORT [...]\n"
	"       ephport pick --list | --release NAME [--registry FILE]\n"
	"\n"
	"Prints a server port that passes every rule: outside the ephemeral\n"
	"range of this host and of every system in --os; not below\n"
	"ip_unprivileged_port_start (unless --privileged); not registered "
	"for\n"
	"TCP or UDP in the IANA registry (unless --allow-registered); not a "
	"port\n"
	"browsers refuse; not reserved, not used by any socket in any state, "
	"and\n"
	"bindable now on TCP and UDP, IPv4 and IPv6 (real bind tests that "
	"leave\n"
	"nothing behind); not assigned to another name in the registry; with\n"
	"--avoid-common, not among the ports nmap finds open most often.\n"
	"\n"
	"With NAME the choice is stable: a hash of NAME picks the first\n"
	"candidate, so the same service gets the same port wherever it is "
	"free,\n"
	"and the registry keeps it; later calls return it while it passes.\n"
	"\n"
	"Options:\n"
	"  -o, --os LIST          target systems (names from 'ephport ranges "
	"--os',\n"
	"                         comma-separated; 'all' adds legacy ones);\n"
	"                         default: linux,freebsd,macos,windows,iana\n"
	"  -c, --count N          N ports (without NAME)\n"
	"  -r, --range LOW-HIGH   only ports in LOW-HIGH\n"
	"      --privileged       allow ports below "
	"ip_unprivileged_port_start\n"
	"      --allow-registered allow ports in the IANA registry\n"
	"      --avoid-common     avoid nmap's 1000 most often open ports\n"
	"      --reserve          also reserve the port (ephport reserve)\n"
	"      --registry FILE    the registry (default " REGISTRY_DEFAULT ")\n"
	"  -e, --explain PORT     every rule for PORT, pass or fail, and why\n"
	"  -l, --list             the registry's assignments\n"
	"      --release NAME     drop NAME's assignment\n"
	"  -n, --netns NS         check network namespace NS\n"
	"  -j, --json             print one JSON object\n"
	"  -h, --help             show this help\n"
	"\n"
	"Examples:\n"
	"  ephport pick api-server\n"
	"  ephport pick --count 3 --os all\n"
	"  ephport pick --explain 8080\n"
	"  ephport pick metrics --reserve --range 9000-9999\n"
	"\n"
	"Exit status: 0 done (--explain: the port passes), 1 no port passes "
	"or\n"
	"a failure (--explain: it fails), 2 usage error.\n";

enum rule {
	R_PRIVILEGED,
	R_HOST_RANGE,
	R_OS_RANGE,
	R_REGISTERED,
	R_BROWSER,
	R_COMMON,
	R_RESERVED,
	R_ASSIGNED,
	R_IN_USE,
	R_BINDABLE,
	R_COUNT
};

static const char *const rule_names[R_COUNT] = {
	[R_PRIVILEGED] = "privileged",	 [R_HOST_RANGE] = "host-range",
	[R_OS_RANGE] = "os-range",	 [R_REGISTERED] = "registered",
	[R_BROWSER] = "browser-blocked", [R_COMMON] = "common",
	[R_RESERVED] = "reserved",	 [R_ASSIGNED] = "assigned",
	[R_IN_USE] = "in-use",		 [R_BINDABLE] = "bindable",
};

/* What to do when a rule leaves nothing: the option that relaxes it. */
static const char *const rule_relax[R_COUNT] = {
	[R_PRIVILEGED] = "--privileged",
	[R_HOST_RANGE] = "--range outside this host's range, or 'ephport "
			 "set-range'",
	[R_OS_RANGE] = "fewer systems in --os",
	[R_REGISTERED] = "--allow-registered",
	[R_BROWSER] = "a wider --range",
	[R_COMMON] = "no --avoid-common",
	[R_RESERVED] = "'ephport unreserve', or a wider --range",
	[R_ASSIGNED] = "'ephport pick --release NAME'",
	[R_IN_USE] = "a wider --range",
	[R_BINDABLE] = "a wider --range",
};

struct entry {
	char name[EPH_REGISTRY_NAME_MAX + 1];
	uint16_t port;
	char date[11];
};

struct pick {
	struct cli *cli;
	const char *name;
	const char *registry;
	const char *os_list;
	uint16_t lo, hi;
	bool range_set, privileged, allow_registered, avoid_common, reserve;
	uint32_t count;

	struct eph_policy *policy;
	int64_t unpriv;
	uint16_t host_lo, host_hi;
	const struct eph_os *os[MAX_OS];
	size_t nos;
	struct eph_services *services;
	const char *services_path;
	struct eph_portset *common;
	struct eph_portset *used;
	struct entry *entries;
	size_t nentries;
	unsigned int dup_line;
	int lock;
};

/* ---- The rules ---- */

static bool probe_all(struct pick *p, uint16_t port, char *why, size_t size)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	static const int fams[] = { AF_INET, AF_INET6 };

	for (size_t i = 0; i < 2; i++)
		for (size_t k = 0; k < 2; k++) {
			struct eph_bind_probe pr = { 0 };
			int err = 0, r;

			pr.proto = protos[i];
			pr.family = fams[k];
			pr.port = port;
			r = eph_bind_probe(p->cli->ctx, &pr, &err);
			if (r == -EAFNOSUPPORT)
				continue; /* IPv6 off in this namespace */
			if (r < 0 || err) {
				snprintf(why, size, "bind %s %s: %s",
					 i ? "UDP" : "TCP",
					 k ? "[::]" : "0.0.0.0",
					 strerror(r < 0 ? -r : err));
				return false;
			}
		}
	snprintf(why, size, "TCP and UDP, IPv4 and IPv6 bind now");
	return true;
}

/* Checks one rule; WHY says why it passes or fails. */
static bool check(struct pick *p, uint16_t port, enum rule r, char *why,
		  size_t size)
{
	switch (r) {
	case R_PRIVILEGED:
		if (port >= p->unpriv || p->privileged) {
			snprintf(why, size,
				 "%s ip_unprivileged_port_start (%lld)",
				 port >= p->unpriv
					 ? "not below"
					 : "below, allowed by --privileged",
				 (long long)p->unpriv);
			return true;
		}
		snprintf(why, size,
			 "below ip_unprivileged_port_start (%lld): binding "
			 "needs CAP_NET_BIND_SERVICE",
			 (long long)p->unpriv);
		return false;
	case R_HOST_RANGE:
		if (port >= p->host_lo && port <= p->host_hi) {
			snprintf(why, size,
				 "inside this host's ephemeral range %u-%u",
				 p->host_lo, p->host_hi);
			return false;
		}
		snprintf(why, size, "outside this host's ephemeral range %u-%u",
			 p->host_lo, p->host_hi);
		return true;
	case R_OS_RANGE: {
		size_t n = 0;

		why[0] = '\0';
		for (size_t i = 0; i < p->nos; i++)
			if (port >= p->os[i]->low && port <= p->os[i]->high)
				n += (size_t)snprintf(
					why + n, n < size ? size - n : 0,
					"%s%s %u-%u", n ? ", " : "inside ",
					p->os[i]->name, p->os[i]->low,
					p->os[i]->high);
		if (n)
			return false;
		snprintf(why, size, "outside the ranges of %zu target systems",
			 p->nos);
		return true;
	}
	case R_REGISTERED: {
		const char *svc = p->services
					  ? eph_services_name(p->services, port)
					  : NULL;
		bool reg =
			p->services &&
			eph_services_registered(p->services, port,
						EPH_PROTO_TCP | EPH_PROTO_UDP);

		if (!reg) {
			snprintf(why, size, "not registered in %s",
				 p->services_path);
			return true;
		}
		snprintf(why, size, "registered as \"%s\" in %s%s",
			 svc ? svc : "?", p->services_path,
			 p->allow_registered ? ", allowed by --allow-registered"
					     : "");
		return p->allow_registered;
	}
	case R_BROWSER:
		if (eph_port_browser_blocked(port)) {
			snprintf(why, size,
				 "browsers refuse it (the Fetch standard's "
				 "bad ports)");
			return false;
		}
		snprintf(why, size, "browsers connect to it");
		return true;
	case R_COMMON:
		if (!p->avoid_common) {
			snprintf(why, size, "not checked (no --avoid-common)");
			return true;
		}
		if (p->common && eph_portset_has(p->common, port)) {
			snprintf(why, size,
				 "among nmap's %d most often open ports",
				 COMMON_TOP);
			return false;
		}
		snprintf(why, size, "not among nmap's %d most often open ports",
			 COMMON_TOP);
		return true;
	case R_RESERVED:
		if (eph_portset_has(eph_policy_reserved(p->policy), port)) {
			snprintf(why, size,
				 "in ip_local_reserved_ports (reserved for "
				 "someone)");
			return false;
		}
		snprintf(why, size, "not in ip_local_reserved_ports");
		return true;
	case R_ASSIGNED:
		for (size_t i = 0; i < p->nentries; i++)
			if (p->entries[i].port == port &&
			    (!p->name || strcmp(p->entries[i].name, p->name))) {
				snprintf(why, size,
					 "assigned to \"%s\" in %s since %s",
					 p->entries[i].name, p->registry,
					 p->entries[i].date);
				return false;
			}
		snprintf(why, size, "not assigned to another name in %s",
			 p->registry);
		return true;
	case R_IN_USE:
		if (eph_portset_has(p->used, port)) {
			snprintf(why, size,
				 "a socket uses it now ('ephport why %u')",
				 port);
			return false;
		}
		snprintf(why, size, "no TCP or UDP socket uses it");
		return true;
	case R_BINDABLE:
		return probe_all(p, port, why, size);
	default:
		return false;
	}
}

/* The first rule PORT fails, or R_COUNT when it passes them all. */
static enum rule first_failure(struct pick *p, uint16_t port)
{
	char why[512];

	for (int r = 0; r < R_COUNT; r++)
		if (!check(p, port, (enum rule)r, why, sizeof(why)))
			return (enum rule)r;
	return R_COUNT;
}

/* ---- Loading what the rules need ---- */

static int used_sock(const struct eph_sock *s, void *data)
{
	eph_portset_add(data, s->local_port, s->local_port);
	return 0;
}

static int used_begin(void *data)
{
	eph_portset_clear(data);
	return 0;
}

static int load(struct pick *p)
{
	static const struct eph_scan_ops ops = { used_begin, used_sock };
	struct eph_scan *scan;
	int rc;

	rc = ranges_load(p->cli, &p->policy);
	if (rc != EXIT_OK)
		return rc;
	eph_policy_knob(p->policy, EPH_KNOB_UNPRIVILEGED_PORT_START,
			&p->unpriv);
	eph_policy_range(p->policy, &p->host_lo, &p->host_hi);
	if (!p->range_set) {
		p->lo = p->privileged
				? 1
				: (uint16_t)(p->unpriv < 1 ? 1 : p->unpriv);
		p->hi = 65535;
	}
	/* The full IANA registry where the system has it. */
	p->services_path = IANA_SERVICES;
	if (eph_services_read(p->cli->ctx, IANA_SERVICES, &p->services) < 0) {
		p->services_path = ETC_SERVICES;
		eph_services_read(p->cli->ctx, ETC_SERVICES, &p->services);
	}
	if (!p->services && !p->allow_registered)
		return cli_fail(p->cli, "no port registry (install "
					"libwireshark-data or netbase), or "
					"--allow-registered");
	if (p->avoid_common) {
		struct eph_services *nmap = NULL;

		if (eph_services_read(p->cli->ctx, NMAP_SERVICES, &nmap) < 0)
			return cli_fail(p->cli, "--avoid-common needs nmap's "
						"frequency table (apt install "
						"nmap-common)");
		eph_portset_new(&p->common);
		if (!p->common ||
		    eph_services_common(nmap, COMMON_TOP, p->common) < 0) {
			eph_services_free(nmap);
			return cli_fail(p->cli, "out of memory");
		}
		eph_services_free(nmap);
	}
	/* Every socket in every state: a port anything holds is taken. */
	eph_portset_new(&p->used);
	if (!p->used || eph_scan_new(p->cli->ctx, &scan) < 0) {
		eph_scan_free(scan);
		return cli_fail(p->cli, "socket scan");
	}
	if (eph_scan_run(scan, NULL, &ops, p->used) < 0) {
		eph_scan_free(scan);
		return cli_fail(p->cli, "socket scan");
	}
	eph_scan_free(scan);
	return EXIT_OK;
}

static int parse_os(struct pick *p)
{
	if (!p->os_list)
		p->os_list = "linux,freebsd,macos,windows,iana";
	return cli_parse_os(p->cli, p->os_list, p->os, &p->nos, MAX_OS);
}

/* ---- The registry ---- */

static int keep_entry(const struct eph_registry_entry *e, void *data)
{
	struct pick *p = data;
	struct entry *n;

	for (size_t i = 0; i < p->nentries; i++)
		if (strcmp(p->entries[i].name, e->name) == 0 ||
		    p->entries[i].port == e->port) {
			p->dup_line = e->line;
			return -EEXIST;
		}
	if (p->nentries == MAX_ENTRIES)
		return -EFBIG;
	n = realloc(p->entries, (p->nentries + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	p->entries = n;
	snprintf(n[p->nentries].name, sizeof(n->name), "%s", e->name);
	n[p->nentries].port = e->port;
	snprintf(n[p->nentries].date, sizeof(n->date), "%s", e->date);
	p->nentries++;
	return 0;
}

/* The registry's directory and base name. */
static void registry_split(const char *path, char *dir, size_t dsize,
			   const char **base)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(dir, dsize, ".");
		*base = path;
	} else if (slash == path) {
		snprintf(dir, dsize, "/");
		*base = slash + 1;
	} else {
		snprintf(dir, dsize, "%.*s", (int)(slash - path), path);
		*base = slash + 1;
	}
}

/* Locks the registry's directory and reads the registry, strictly. */
static int registry_open(struct pick *p, bool create)
{
	char dir[4096], *buf;
	const char *base;
	size_t len = 0;
	int r;

	registry_split(p->registry, dir, sizeof(dir), &base);
	if (!*base)
		return cli_usage_error(p->cli, "--registry %s: not a file",
				       p->registry);
	p->lock = eph_dir_lock(p->cli->ctx, dir, create);
	if (p->lock < 0) {
		if (p->lock == -ENOENT && !create)
			return EXIT_OK; /* no registry yet: nothing assigned */
		return cli_fail(p->cli, "registry");
	}
	r = eph_file_read(p->cli->ctx, p->lock, base, 0, 4 * 1024 * 1024, &buf,
			  &len);
	if (r == -ENOENT)
		return EXIT_OK;
	if (r < 0)
		return cli_fail(p->cli, "registry");
	r = eph_registry_parse(p->cli->ctx, buf, len, keep_entry, p);
	free(buf);
	if (r == -EEXIST)
		fprintf(stderr,
			"ephport: pick: %s: line %u: a name or a port that "
			"appears twice; the registry is corrupt and was left "
			"as it is\n",
			p->registry, p->dup_line);
	else if (r < 0)
		fprintf(stderr,
			"ephport: pick: %s: %s; the registry is corrupt and "
			"was left as it is\n",
			p->registry, eph_ctx_errmsg(p->cli->ctx));
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

static int registry_write(struct pick *p)
{
	char dir[4096];
	const char *base;
	size_t cap = 256 + p->nentries * 96, n = 0;
	char *buf = malloc(cap);
	int r;

	if (!buf)
		return cli_fail(p->cli, "out of memory");
	registry_split(p->registry, dir, sizeof(dir), &base);
	n += (size_t)snprintf(buf + n, cap - n,
			      "# ephport pick's registry: NAME PORT DATE, one "
			      "per line. 'ephport pick'\n# writes it; "
			      "'ephport pick --release NAME' drops a line.\n");
	for (size_t i = 0; i < p->nentries; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s %u %s\n",
				      p->entries[i].name, p->entries[i].port,
				      p->entries[i].date);
	r = eph_file_replace(p->cli->ctx, p->lock, base, buf, n);
	free(buf);
	return r < 0 ? cli_fail(p->cli, NULL) : EXIT_OK;
}

static struct entry *entry_of(struct pick *p, const char *name)
{
	for (size_t i = 0; i < p->nentries; i++)
		if (strcmp(p->entries[i].name, name) == 0)
			return &p->entries[i];
	return NULL;
}

static void today(char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, size, "%Y-%m-%d", &tm);
}

/* ---- Picking ---- */

/* FNV-1a: a stable hash, the same on every host. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* Says which constraints left too few ports, and what would relax them. */
static void explain_none(struct pick *p, uint32_t got)
{
	uint32_t tally[R_COUNT] = { 0 }, total = (uint32_t)p->hi - p->lo + 1;
	int worst = -1;

	for (uint32_t port = p->lo; port <= p->hi; port++) {
		enum rule r = first_failure(p, (uint16_t)port);

		if (r < R_COUNT)
			tally[r]++;
	}
	if (got)
		fprintf(stderr,
			"ephport: pick: only %u port%s in %u-%u pass%s every "
			"rule, %u asked.",
			got, got == 1 ? "" : "s", p->lo, p->hi,
			got == 1 ? "es" : "", p->count);
	else
		fprintf(stderr,
			"ephport: pick: no port in %u-%u passes every rule.",
			p->lo, p->hi);
	fprintf(stderr, " Of the %u candidates, the first rule each fails:\n",
		total);
	for (int r = 0; r < R_COUNT; r++) {
		if (!tally[r])
			continue;
		fprintf(stderr, "  %-16s %u\n", rule_names[r], tally[r]);
		if (worst < 0 || tally[r] > tally[worst])
			worst = r;
	}
	if (worst >= 0)
		fprintf(stderr, "To relax the biggest one (%s): %s.\n",
			rule_names[worst], rule_relax[worst]);
}

/*
 * The rules that depend only on configuration (the ranges, the registry
 * of services, the browsers' list) give the same candidates on every host
 * with the same settings; the stable choice indexes into those.
 */
static bool static_rules(struct pick *p, uint16_t port)
{
	char why[512];

	for (int r = R_PRIVILEGED; r <= R_COMMON; r++)
		if (!check(p, port, (enum rule)r, why, sizeof(why)))
			return false;
	return true;
}

/*
 * Finds WANT ports, walking the candidates from number START (modulo their
 * count) on; returns how many were found.
 */
static uint32_t find(struct pick *p, uint32_t start, uint32_t want,
		     uint16_t *out)
{
	uint16_t *cand = malloc(((uint32_t)p->hi - p->lo + 1) * sizeof(*cand));
	uint32_t n = 0, got = 0;

	if (!cand) {
		fprintf(stderr, "ephport: pick: out of memory\n");
		exit(EXIT_FAIL);
	}
	for (uint32_t port = p->lo; port <= p->hi; port++)
		if (static_rules(p, (uint16_t)port))
			cand[n++] = (uint16_t)port;
	for (uint32_t i = 0; i < n && got < want; i++) {
		uint16_t port = cand[(start + i) % n];

		if (first_failure(p, port) == R_COUNT)
			out[got++] = port;
	}
	free(cand);
	return got;
}

static void print_ports(struct pick *p, const uint16_t *ports, uint32_t n,
			bool kept)
{
	if (p->cli->json) {
		struct json j;

		cli_json_begin(p->cli, &j);
		json_str(&j, "name", p->name);
		json_arr(&j, "ports");
		for (uint32_t i = 0; i < n; i++)
			json_uint(&j, NULL, ports[i]);
		json_arr_end(&j);
		json_bool(&j, "kept", kept);
		json_str(&j, "registry", p->name ? p->registry : NULL);
		json_str(&j, "services", p->services_path);
		json_arr(&j, "os");
		for (size_t i = 0; i < p->nos; i++)
			json_str(&j, NULL, p->os[i]->name);
		json_arr_end(&j);
		cli_json_finish(&j);
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		printf("%u\n", ports[i]);
}

static int do_pick(struct pick *p)
{
	uint16_t *ports = calloc(p->count, sizeof(*ports));
	uint32_t start, got;
	struct entry *e = NULL;
	bool kept = false;
	int rc = EXIT_OK;

	if (!ports)
		return cli_fail(p->cli, "out of memory");
	if (p->name) {
		e = entry_of(p, p->name);
		/*
		 * The port the registry keeps, while it passes the rules of
		 * configuration: its service may well listen on it, or have
		 * reserved it, by now; that is no reason to move it.
		 */
		if (e && e->port >= p->lo && e->port <= p->hi &&
		    static_rules(p, e->port)) {
			ports[0] = e->port;
			got = 1;
			kept = true;
		} else {
			start = name_hash(p->name);
			got = find(p, start, 1, ports);
		}
	} else {
		if (getrandom(&start, sizeof(start), 0) != sizeof(start))
			start = (uint32_t)time(NULL) ^ (uint32_t)getpid();
		got = find(p, start, p->count, ports);
	}
	if (got < p->count) {
		explain_none(p, got);
		free(ports);
		return EXIT_FAIL;
	}
	/* Reserved first: a refused reservation records nothing. */
	if (p->reserve) {
		struct eph_portset *ps = NULL;

		eph_portset_new(&ps);
		char reason[128];

		if (!ps) {
			free(ports);
			return cli_fail(p->cli, "out of memory");
		}
		for (uint32_t i = 0; i < got; i++)
			eph_portset_add(ps, ports[i], ports[i]);
		snprintf(reason, sizeof(reason), "picked for %s",
			 p->name ? p->name : "a service");
		/* What reserve prints goes to stderr: stdout is the port. */
		fflush(stdout);
		{
			int saved = dup(STDOUT_FILENO);

			dup2(STDERR_FILENO, STDOUT_FILENO);
			rc = reserve_ports(p->cli, ps, reason);
			fflush(stdout);
			dup2(saved, STDOUT_FILENO);
			close(saved);
		}
		eph_portset_free(ps);
	}
	if (rc == EXIT_OK && p->name && !kept) {
		if (e) {
			enum rule f = first_failure(p, e->port);

			fprintf(stderr,
				"ephport: pick: %s's port %u no longer passes "
				"(%s); moved to %u\n",
				p->name, e->port,
				e->port < p->lo || e->port > p->hi
					? "outside --range"
				: f < R_COUNT ? rule_names[f]
					      : "?",
				ports[0]);
			e->port = ports[0];
			today(e->date, sizeof(e->date));
		} else {
			struct entry *n = realloc(
				p->entries, (p->nentries + 1) * sizeof(*n));

			if (!n) {
				free(ports);
				return cli_fail(p->cli, "out of memory");
			}
			p->entries = n;
			e = &n[p->nentries++];
			snprintf(e->name, sizeof(e->name), "%s", p->name);
			e->port = ports[0];
			today(e->date, sizeof(e->date));
		}
		rc = registry_write(p);
	}
	if (rc == EXIT_OK)
		print_ports(p, ports, got, kept);
	free(ports);
	return rc;
}

static int do_explain(struct pick *p, uint16_t port)
{
	bool pass = true;
	struct json j;

	if (p->cli->json) {
		cli_json_begin(p->cli, &j);
		json_uint(&j, "port", port);
		json_arr(&j, "rules");
	} else {
		printf("Port %u\n", port);
	}
	for (int r = 0; r < R_COUNT; r++) {
		char why[512];
		bool ok = check(p, port, (enum rule)r, why, sizeof(why));
		char first[40];

		pass &= ok;
		if (p->cli->json) {
			json_obj(&j, NULL);
			json_str(&j, "rule", rule_names[r]);
			json_bool(&j, "pass", ok);
			json_str(&j, "why", why);
			json_obj_end(&j);
			continue;
		}
		snprintf(first, sizeof(first), "  %-4s %-16s ",
			 ok ? "pass" : "FAIL", rule_names[r]);
		cli_wrap(stdout, first, why);
	}
	if (p->cli->json) {
		json_arr_end(&j);
		json_bool(&j, "pass", pass);
		cli_json_finish(&j);
	} else {
		printf("%s\n", pass ? "Port passes every rule."
				    : "Port fails: see FAIL above.");
	}
	return pass ? EXIT_OK : EXIT_FAIL;
}

static int do_list(struct pick *p)
{
	struct json j;

	if (p->cli->json) {
		cli_json_begin(p->cli, &j);
		json_str(&j, "registry", p->registry);
		json_arr(&j, "assignments");
	}
	for (size_t i = 0; i < p->nentries; i++) {
		if (p->cli->json) {
			json_obj(&j, NULL);
			json_str(&j, "name", p->entries[i].name);
			json_uint(&j, "port", p->entries[i].port);
			json_str(&j, "date", p->entries[i].date);
			json_obj_end(&j);
		} else {
			printf("%-24s %5u  %s\n", p->entries[i].name,
			       p->entries[i].port, p->entries[i].date);
		}
	}
	if (p->cli->json) {
		json_arr_end(&j);
		cli_json_finish(&j);
	} else if (p->nentries == 0) {
		printf("no assignments in %s\n", p->registry);
	}
	return EXIT_OK;
}

static int do_release(struct pick *p, const char *name)
{
	struct entry *e = entry_of(p, name);

	if (!e) {
		fprintf(stderr, "ephport: pick: %s: no assignment for \"%s\"\n",
			p->registry, name);
		return EXIT_FAIL;
	}
	*e = p->entries[--p->nentries];
	return registry_write(p);
}

int cmd_pick(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "os", required_argument, NULL, 'o' },
		{ "count", required_argument, NULL, 'c' },
		{ "range", required_argument, NULL, 'r' },
		{ "privileged", no_argument, NULL, 'P' },
		{ "allow-registered", no_argument, NULL, 'A' },
		{ "avoid-common", no_argument, NULL, 'C' },
		{ "reserve", no_argument, NULL, 'R' },
		{ "registry", required_argument, NULL, 'g' },
		{ "explain", required_argument, NULL, 'e' },
		{ "list", no_argument, NULL, 'l' },
		{ "release", required_argument, NULL, 'x' },
		CLI_COMMON_LONG,
	};
	struct pick p = {
		.cli = cli, .registry = REGISTRY_DEFAULT, .count = 1, .lock = -1
	};
	const char *explain = NULL, *release = NULL;
	bool list = false, done = false;
	uint16_t explain_port = 0;
	uint64_t v;
	int c, rc;

	/* No "+": options may follow NAME. */
	while ((c = getopt_long(argc, argv, "o:c:r:e:l" CLI_COMMON_SHORT,
				longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			p.os_list = optarg;
			continue;
		case 'c':
			if (eph_num_parse_str(cli->ctx, optarg, 1, 1000,
					      "--count", &v) < 0)
				return cli_usage_error(
					cli, "%s", eph_ctx_errmsg(cli->ctx));
			p.count = (uint32_t)v;
			continue;
		case 'r': {
			const char *dash = strchr(optarg, '-');
			uint64_t lo, hi;

			if (!dash ||
			    eph_num_parse(cli->ctx, optarg,
					  (size_t)(dash - optarg), 1, 65535,
					  "--range LOW", &lo) < 0 ||
			    eph_num_parse_str(cli->ctx, dash + 1, 1, 65535,
					      "--range HIGH", &hi) < 0 ||
			    lo > hi)
				return cli_usage_error(
					cli,
					"--range '%s': want LOW-HIGH, 1 <= "
					"LOW <= HIGH <= 65535",
					optarg);
			p.lo = (uint16_t)lo;
			p.hi = (uint16_t)hi;
			p.range_set = true;
			continue;
		}
		case 'P':
			p.privileged = true;
			continue;
		case 'A':
			p.allow_registered = true;
			continue;
		case 'C':
			p.avoid_common = true;
			continue;
		case 'R':
			p.reserve = true;
			continue;
		case 'g':
			p.registry = optarg;
			continue;
		case 'e':
			explain = optarg;
			continue;
		case 'l':
			list = true;
			continue;
		case 'x':
			release = optarg;
			continue;
		default:
			break;
		}
		rc = cli_common_option(cli, c, pick_help, &done);
		if (rc != EXIT_OK || done)
			return rc;
	}
	if (optind < argc)
		p.name = argv[optind++];
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'",
				       argv[optind]);
	if (p.name && !eph_registry_name_valid(p.name, strlen(p.name)))
		return cli_usage_error(cli,
				       "NAME '%s': letters, digits, - _ . @ :, "
				       "at most %d",
				       p.name, EPH_REGISTRY_NAME_MAX);
	if (release && !eph_registry_name_valid(release, strlen(release)))
		return cli_usage_error(cli, "--release '%s': not a name",
				       release);
	if ((list || release) && (p.name || explain))
		return cli_usage_error(cli, "--list and --release take no "
					    "NAME or --explain");
	if (p.name && p.count > 1)
		return cli_usage_error(cli, "--count is for unnamed picks");
	if (explain) {
		if (eph_num_parse_str(cli->ctx, explain, 1, 65535, "port", &v) <
		    0)
			return cli_usage_error(cli, "--explain: %s",
					       eph_ctx_errmsg(cli->ctx));
		explain_port = (uint16_t)v;
	}
	rc = parse_os(&p);
	if (rc != EXIT_OK)
		return rc;
	rc = registry_open(&p, p.name != NULL || release != NULL);
	if (rc == EXIT_OK && list)
		rc = do_list(&p);
	else if (rc == EXIT_OK && release)
		rc = do_release(&p, release);
	else if (rc == EXIT_OK) {
		rc = load(&p);
		if (rc == EXIT_OK)
			rc = explain ? do_explain(&p, explain_port)
				     : do_pick(&p);
	}
	if (p.lock >= 0)
		close(p.lock);
	free(p.entries);
	eph_portset_free(p.used);
	eph_portset_free(p.common);
	eph_services_free(p.services);
	eph_policy_free(p.policy);
	return rc;
}
