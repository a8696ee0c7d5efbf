/* SPDX-License-Identifier: MIT */
/*
 * ephport reserve, unreserve and set-range: change the kernel's port policy
 * without losing anyone's entries, now (in the target namespace) and
 * across reboots (in ephport's sysctl.d drop-in).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "compat.h"

#define DROPIN_NAME "99-zz-ephport.conf"
#define KEY_RESERVED "net.ipv4.ip_local_reserved_ports"
#define KEY_RANGE "net.ipv4.ip_local_port_range"
#define MAX_NOTES 256
#define MAX_WARNINGS 32
/* Serialises ephport's read-modify-write of the kernel's values. */
#define RUNTIME_LOCK_DIR "/run/ephport"

static const char reserve_help[] =
	"Usage: ephport reserve PORTS [--reason TEXT] [OPTIONS]\n"
	"       ephport unreserve PORTS [OPTIONS]\n"
	"       ephport set-range LOW HIGH [OPTIONS]\n"
	"\n"
	"reserve adds ports or ranges (\"8080,40000-40010\") to\n"
	"net.ipv4.ip_local_reserved_ports, keeping every entry already "
	"there,\n"
	"so that the kernel never hands them out to connect() or bind(0);\n"
	"unreserve removes only the ports it names; set-range changes\n"
	"net.ipv4.ip_local_port_range after checking it. Each applies the "
	"change\n"
	"now (and reads it back) and persists it in ephport's drop-in,\n"
	"/etc/sysctl.d/" DROPIN_NAME
	", which sorts last and holds the union of\n"
	"what a reboot would apply and the change, with the reason and date "
	"of\n"
	"each entry. It warns when another file sets the same key, and names "
	"the\n"
	"file that wins.\n"
	"\n"
	"Options:\n"
	"      --reason TEXT   why (reserve): kept as a comment in the "
	"drop-in\n"
	"      --runtime-only  change the kernel only, not the drop-in\n"
	"      --persist-only  change the drop-in only, not the kernel\n"
	"      --dry-run       print the runtime change and the file diff; "
	"change\n"
	"                      nothing\n"
	"      --root DIR      read and write sysctl.d files under DIR (an "
	"image,\n"
	"                      a chroot, a test tree) instead of /\n"
	"      --force         reserve even when under half of the range, or "
	"under\n"
	"                      1000 ports, would be left; set-range even over\n"
	"                      listening ports\n"
	"  -n, --netns NS      change network namespace NS (then the drop-in "
	"only\n"
	"                      with --root: /etc/sysctl.d sets up the host's\n"
	"                      namespace at boot, not NS)\n"
	"  -j, --json          print one JSON object\n"
	"  -h, --help          show this help\n"
	"\n"
	"Examples:\n"
	"  ephport reserve 36601 --reason 'api server'\n"
	"  ephport reserve 9000-9010 --dry-run\n"
	"  ephport unreserve 9005\n"
	"  ephport set-range 40000 60999\n"
	"\n"
	"Exit status: 0 done, 1 refused or failed (nothing changed), 2 usage "
	"error.\n";

enum action { RESERVE, UNRESERVE, SET_RANGE };

/* A "# reserved PORTS on DATE: REASON" comment of the drop-in. */
struct note {
	struct eph_portset *ports;
	char date[16];
	char reason[256];
};

struct op {
	struct cli *cli;
	enum action action;
	struct eph_portset *ports; /* reserve, unreserve */
	uint16_t low, high;	   /* set-range */
	const char *reason;
	const char *root;
	bool runtime, persist, dry_run, force;

	struct eph_policy *policy;
	/* The drop-in as it is and as it will be. */
	bool have_dropin;
	char *old_content;
	size_t old_len;
	bool drop_has_reserved, drop_has_range;
	struct eph_portset *drop_reserved;
	uint16_t drop_low, drop_high;
	struct note notes[MAX_NOTES];
	size_t nnotes;
	char *new_content;
	/* Runtime before and after. */
	char *rt_before, *rt_after;
	bool rt_changed;
	/* What a reboot applies. */
	struct eph_sysctld *sd;
	char warnings[MAX_WARNINGS][512];
	size_t nwarn;
	char file_error[512];
};

static void warn_add(struct op *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warn_add(struct op *o, const char *fmt, ...)
{
	va_list ap;

	if (o->nwarn == MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(o->warnings[o->nwarn++], sizeof(o->warnings[0]), fmt, ap);
	va_end(ap);
}

static const char *key_of(const struct op *o)
{
	return o->action == SET_RANGE ? KEY_RANGE : KEY_RESERVED;
}

/* ---- The drop-in: strict reading ---- */

struct drop_parse {
	struct op *o;
	int err;
};

/* "# reserved 8080,9000-9001 on 2026-11-27: reason" */
static void parse_note(struct op *o, const char *line, size_t len)
{
	const char *p = line, *end = line + len, *on, *colon;
	struct note *n;

	if (o->nnotes == MAX_NOTES || len < 12 ||
	    memcmp(p, "# reserved ", 11) != 0)
		return;
	p += 11;
	on = memmem(p, (size_t)(end - p), " on ", 4);
	if (!on)
		return;
	n = &o->notes[o->nnotes];
	eph_portset_new(&n->ports);
	if (!n->ports ||
	    eph_portset_parse(o->cli->ctx, n->ports, p, (size_t)(on - p)) < 0) {
		eph_portset_free(n->ports);
		n->ports = NULL;
		return;
	}
	p = on + 4;
	colon = memchr(p, ':', (size_t)(end - p));
	snprintf(n->date, sizeof(n->date), "%.*s",
		 (int)((colon ? colon : end) - p), p);
	n->reason[0] = '\0';
	if (colon) {
		p = colon + 1;
		while (p < end && *p == ' ')
			p++;
		snprintf(n->reason, sizeof(n->reason), "%.*s", (int)(end - p),
			 p);
	}
	o->nnotes++;
}

static int drop_line(const struct eph_sysctld_line *l, void *data)
{
	struct drop_parse *dp = data;
	struct op *o = dp->o;

	if (dp->err)
		return 0;
	if (!l->key) {
		snprintf(o->file_error, sizeof(o->file_error),
			 "/etc/sysctl.d/" DROPIN_NAME ":%u: %s", l->line,
			 l->error);
		dp->err = -EINVAL;
	} else if (eph_sysctld_key_is(l->key, l->key_len, KEY_RESERVED)) {
		if (eph_portset_parse(o->cli->ctx, o->drop_reserved, l->value,
				      l->value_len) < 0) {
			snprintf(o->file_error, sizeof(o->file_error),
				 "/etc/sysctl.d/" DROPIN_NAME ":%u: %s",
				 l->line, eph_ctx_errmsg(o->cli->ctx));
			dp->err = -EINVAL;
		}
		o->drop_has_reserved = true;
	} else if (eph_sysctld_key_is(l->key, l->key_len, KEY_RANGE)) {
		if (eph_range_parse(o->cli->ctx, l->value, l->value_len,
				    &o->drop_low, &o->drop_high) < 0) {
			snprintf(o->file_error, sizeof(o->file_error),
				 "/etc/sysctl.d/" DROPIN_NAME ":%u: %s",
				 l->line, eph_ctx_errmsg(o->cli->ctx));
			dp->err = -EINVAL;
		}
		o->drop_has_range = true;
	} else {
		snprintf(o->file_error, sizeof(o->file_error),
			 "/etc/sysctl.d/" DROPIN_NAME
			 ":%u: a key ephport does not manage (%.*s)",
			 l->line, (int)l->key_len, l->key);
		dp->err = -EINVAL;
	}
	return 0;
}

static const char *root_prefix(const struct op *o)
{
	return o->root && strcmp(o->root, "/") ? o->root : "";
}

/* Reads ephport's drop-in, refusing anything it did not write. */
static int read_dropin(struct op *o)
{
	char path[4096];
	struct drop_parse dp = { o, 0 };
	size_t pos;
	int r;

	eph_portset_new(&o->drop_reserved);
	if (!o->drop_reserved)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/etc/sysctl.d/" DROPIN_NAME,
		 root_prefix(o));
	/* Not a link: ephport's own file, which it will replace. */
	r = eph_file_read(o->cli->ctx, AT_FDCWD, path, O_NOFOLLOW, 1024 * 1024,
			  &o->old_content, &o->old_len);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(o->file_error, sizeof(o->file_error), "%s",
			 eph_ctx_errmsg(o->cli->ctx));
		return r;
	}
	pos = o->old_len;
	o->have_dropin = true;
	eph_sysctld_parse(o->old_content, pos, drop_line, &dp);
	if (dp.err)
		return dp.err;
	/* The notes: comment lines in our format. */
	for (size_t p = 0; p < pos;) {
		const char *s = o->old_content + p,
			   *nl = memchr(s, '\n', pos - p);
		size_t n = nl ? (size_t)(nl - s) : pos - p;

		parse_note(o, s, n);
		p += n + 1;
	}
	return 0;
}

/* ---- The drop-in: writing ---- */

static char *compose(struct op *o, const struct eph_portset *reserved,
		     bool has_reserved, uint16_t low, uint16_t high,
		     bool has_range)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap), *list;

#define APPEND(...)                                                            \
	do {                                                                   \
		int w_;                                                        \
		while ((w_ = snprintf(buf + n, cap - n, __VA_ARGS__)) >= 0 &&  \
		       (size_t)w_ >= cap - n) {                                \
			char *m_ = realloc(buf, cap * 2);                      \
			if (!m_) {                                             \
				free(buf);                                     \
				return NULL;                                   \
			}                                                      \
			buf = m_;                                              \
			cap *= 2;                                              \
		}                                                              \
		n += (size_t)w_;                                               \
	} while (0)

	if (!buf)
		return NULL;
	APPEND("# ephport's drop-in: 'ephport reserve', 'unreserve' and "
	       "'set-range' rewrite it.\n"
	       "# It sorts last, so what it sets wins at boot. Edit it "
	       "with ephport.\n");
	for (size_t i = 0; i < o->nnotes; i++) {
		list = eph_portset_to_string(o->notes[i].ports);
		if (!list) {
			free(buf);
			return NULL;
		}
		if (list[0]) {
			APPEND("# reserved %s on %s", list, o->notes[i].date);
			if (o->notes[i].reason[0])
				APPEND(": %s", o->notes[i].reason);
			APPEND("\n");
		}
		free(list);
	}
	if (has_reserved) {
		list = eph_portset_to_string(reserved);
		if (!list) {
			free(buf);
			return NULL;
		}
		APPEND("%s = %s\n", KEY_RESERVED, list);
		free(list);
	}
	if (has_range)
		APPEND("%s = %u %u\n", KEY_RANGE, low, high);
#undef APPEND
	return buf;
}

/* Replaces newlines and other control bytes of a reason with spaces. */
static void clean_reason(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/* ---- Planning ---- */

static const struct eph_sysctld_setting *winner(const struct op *o,
						bool sysctl_system)
{
	return eph_sysctld_winner(o->sd, key_of(o), sysctl_system);
}

static bool is_ours(const struct eph_sysctld_setting *s)
{
	return s && strcmp(s->file, "/etc/sysctl.d/" DROPIN_NAME) == 0;
}

/* Warns about every other file that sets the key, and who wins. */
static void check_conflicts(struct op *o)
{
	const char *key = key_of(o);

	for (size_t i = 0; i < eph_sysctld_count(o->sd); i++) {
		const struct eph_sysctld_setting *s = eph_sysctld_get(o->sd, i);
		bool later;

		if (strcmp(s->key, key) != 0 || is_ours(s))
			continue;
		later = strcmp(s->file, "/etc/sysctl.conf") == 0 ||
			strcmp(strrchr(s->file, '/') + 1, DROPIN_NAME) > 0;
		if (strcmp(s->file, "/etc/sysctl.conf") == 0)
			warn_add(o,
				 "%s:%u also sets %s (\"%s\"); `sysctl "
				 "--system` reads it last, so there it wins "
				 "over ephport's drop-in",
				 s->file, s->line, key, s->value);
		else if (later)
			warn_add(o,
				 "%s:%u sets %s (\"%s\") and sorts after "
				 "ephport's drop-in: it wins at boot",
				 s->file, s->line, key, s->value);
		else
			warn_add(o,
				 "%s:%u also sets %s (\"%s\"); ephport's "
				 "drop-in sorts later and wins",
				 s->file, s->line, key, s->value);
	}
}

/* The reserved ports a reboot would apply now, and from which file. */
static int boot_reserved(struct op *o, struct eph_portset *ret)
{
	const struct eph_sysctld_setting *w = winner(o, false);

	eph_portset_clear(ret);
	if (!w)
		return 0;
	if (w->too_long || eph_portset_parse(o->cli->ctx, ret, w->value,
					     strlen(w->value)) < 0) {
		snprintf(o->file_error, sizeof(o->file_error),
			 "%.200s:%u: %s: %.200s; fix it first (ephport never "
			 "rewrites another file)",
			 w->file, w->line, KEY_RESERVED,
			 w->too_long ? "a value too long to check"
				     : eph_ctx_errmsg(o->cli->ctx));
		return -EINVAL;
	}
	return 0;
}

static bool too_little_left(const struct op *o,
			    const struct eph_portset *reserved,
			    uint32_t *ret_left)
{
	uint16_t lo, hi;
	uint32_t size, left;

	eph_policy_range(o->policy, &lo, &hi);
	size = (uint32_t)hi - lo + 1;
	left = size - eph_portset_count_range(reserved, lo, hi);
	*ret_left = left;
	return left < size / 2 || left < 1000;
}

static void add_note(struct op *o, const struct eph_portset *added)
{
	struct note *n;
	time_t now = time(NULL);
	struct tm tm;

	if (o->nnotes == MAX_NOTES || eph_portset_count(added) == 0)
		return;
	n = &o->notes[o->nnotes];
	eph_portset_new(&n->ports);
	if (!n->ports)
		return;
	eph_portset_copy(n->ports, added);
	gmtime_r(&now, &tm);
	strftime(n->date, sizeof(n->date), "%Y-%m-%d", &tm);
	snprintf(n->reason, sizeof(n->reason), "%s",
		 o->reason ? o->reason : "");
	clean_reason(n->reason);
	o->nnotes++;
}

/* Listening TCP sockets and bound UDP sockets on ports LOW..HIGH. */
struct swallow {
	struct eph_portset *ports;
};

static int swallow_sock(const struct eph_sock *s, void *data)
{
	struct swallow *w = data;

	eph_portset_add(w->ports, s->local_port, s->local_port);
	return 0;
}

static int listeners_in(struct op *o, struct eph_portset *ret)
{
	static const struct eph_scan_ops ops = { NULL, swallow_sock };
	struct eph_scan_filter f = { 0 };
	struct eph_scan *scan;
	struct swallow w = { ret };
	int r;

	if (eph_scan_new(o->cli->ctx, &scan) < 0)
		return -1;
	f.port_range = true;
	f.port_lo = o->low;
	f.port_hi = o->high;
	f.protos = EPH_PROTO_TCP;
	f.states = 1u << EPH_TCP_LISTEN;
	r = eph_scan_run(scan, &f, &ops, &w);
	if (r >= 0) {
		f.protos = EPH_PROTO_UDP;
		f.states = 0;
		f.explicit_only = true;
		r = eph_scan_run(scan, &f, &ops, &w);
	}
	eph_scan_free(scan);
	return r < 0 ? -1 : 0;
}

/* ---- Output ---- */

/* A line diff of two small texts (LCS), lines prefixed - and +. */
static void print_diff(const char *a, const char *b)
{
	const char *la[512], *lb[512];
	size_t na = 0, nb = 0, lena[512], lenb[512];
	unsigned short *t;

	for (const char *p = a; p && *p && na < 512;) {
		const char *e = strchr(p, '\n');

		la[na] = p;
		lena[na++] = e ? (size_t)(e - p) : strlen(p);
		p = e ? e + 1 : p + strlen(p);
	}
	for (const char *p = b; p && *p && nb < 512;) {
		const char *e = strchr(p, '\n');

		lb[nb] = p;
		lenb[nb++] = e ? (size_t)(e - p) : strlen(p);
		p = e ? e + 1 : p + strlen(p);
	}
	t = calloc((na + 1) * (nb + 1), sizeof(*t));
	if (!t)
		return;
#define T(i, j) t[(i) * (nb + 1) + (j)]
	for (size_t i = na; i-- > 0;)
		for (size_t j = nb; j-- > 0;)
			T(i, j) =
				lena[i] == lenb[j] && memcmp(la[i], lb[j],
							     lena[i]) == 0
					? (unsigned short)(T(i + 1, j + 1) + 1)
				: T(i + 1, j) > T(i, j + 1) ? T(i + 1, j)
							    : T(i, j + 1);
	for (size_t i = 0, j = 0; i < na || j < nb;) {
		if (i < na && j < nb && lena[i] == lenb[j] &&
		    memcmp(la[i], lb[j], lena[i]) == 0) {
			printf("   %.*s\n", (int)lena[i], la[i]);
			i++;
			j++;
		} else if (j < nb && (i == na || T(i, j + 1) > T(i + 1, j))) {
			printf("  +%.*s\n", (int)lenb[j], lb[j]);
			j++;
		} else {
			printf("  -%.*s\n", (int)lena[i], la[i]);
			i++;
		}
	}
#undef T
	free(t);
}

static void print_text(const struct op *o)
{
	const char *what = key_of(o);

	if (o->runtime) {
		if (o->rt_changed)
			printf("%s %s: \"%s\" -> \"%s\"%s\n",
			       o->dry_run ? "Would change" : "Changed", what,
			       o->rt_before, o->rt_after,
			       o->dry_run ? "" : " (read back)");
		else
			printf("Unchanged %s: \"%s\"\n", what, o->rt_before);
	}
	if (o->persist) {
		bool same = o->old_content &&
			    strcmp(o->old_content, o->new_content) == 0;

		if (same)
			printf("Unchanged %s/etc/sysctl.d/" DROPIN_NAME "\n",
			       root_prefix(o));
		else {
			printf("%s %s/etc/sysctl.d/" DROPIN_NAME ":\n",
			       o->dry_run ? "Would write" : "Wrote",
			       root_prefix(o));
			print_diff(o->old_content ? o->old_content : "",
				   o->new_content);
		}
	}
	for (size_t i = 0; i < o->nwarn; i++)
		cli_wrap(stdout, "warning: ", o->warnings[i]);
}

static void print_json(const struct op *o)
{
	struct json j;

	cli_json_begin(o->cli, &j);
	json_str(&j, "action",
		 o->action == RESERVE	  ? "reserve"
		 : o->action == UNRESERVE ? "unreserve"
					  : "set-range");
	json_str(&j, "key", key_of(o));
	json_bool(&j, "dry_run", o->dry_run);
	if (o->runtime) {
		json_obj(&j, "runtime");
		json_str(&j, "before", o->rt_before);
		json_str(&j, "after", o->rt_after);
		json_bool(&j, "changed", o->rt_changed);
		json_obj_end(&j);
	} else {
		json_null(&j, "runtime");
	}
	if (o->persist) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/etc/sysctl.d/" DROPIN_NAME,
			 root_prefix(o));
		json_obj(&j, "persist");
		json_str(&j, "file", path);
		json_bool(&j, "changed",
			  !o->old_content ||
				  strcmp(o->old_content, o->new_content) != 0);
		json_str(&j, "content", o->new_content);
		json_obj_end(&j);
	} else {
		json_null(&j, "persist");
	}
	json_arr(&j, "warnings");
	for (size_t i = 0; i < o->nwarn; i++)
		json_str(&j, NULL, o->warnings[i]);
	json_arr_end(&j);
	cli_json_finish(&j);
}

/* ---- Running ---- */

static int fail(struct op *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct op *o, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ephport: %s: %s\n", o->cli->cmd, msg);
	return EXIT_FAIL;
}

/* Works out the new runtime value and the new drop-in; changes nothing. */
static int plan(struct op *o)
{
	static const char *const keys[] = { KEY_RESERVED, KEY_RANGE };
	struct eph_portset *cur = NULL, *next = NULL, *boot = NULL;
	uint16_t lo, hi;
	uint32_t left;
	int rc = EXIT_FAIL;

	if (eph_portset_new(&cur) < 0 || eph_portset_new(&next) < 0 ||
	    eph_portset_new(&boot) < 0)
		goto out;
	eph_policy_range(o->policy, &lo, &hi);
	/* Runtime. */
	if (o->action == SET_RANGE) {
		char b[32], a[32];

		snprintf(b, sizeof(b), "%u %u", lo, hi);
		snprintf(a, sizeof(a), "%u %u", o->low, o->high);
		o->rt_before = strdup(b);
		o->rt_after = strdup(a);
	} else {
		eph_portset_copy(cur, eph_policy_reserved(o->policy));
		eph_portset_copy(next, cur);
		if (o->action == RESERVE)
			eph_portset_union(next, o->ports);
		else
			eph_portset_subtract(next, o->ports);
		o->rt_before = eph_portset_to_string(cur);
		o->rt_after = eph_portset_to_string(next);
		if (o->action == RESERVE && !o->force &&
		    eph_portset_count_range(next, lo, hi) >
			    eph_portset_count_range(cur, lo, hi) &&
		    too_little_left(o, next, &left)) {
			rc = fail(o,
				  "refused: only %u of the %u ports of the "
				  "range %u-%u would be left for connect() "
				  "(under half, or under 1000); --force to do "
				  "it anyway",
				  left, (uint32_t)hi - lo + 1, lo, hi);
			goto out;
		}
	}
	if (!o->rt_before || !o->rt_after)
		goto out;
	o->rt_changed = strcmp(o->rt_before, o->rt_after) != 0;

	/* Persistent. */
	if (!o->persist) {
		rc = EXIT_OK;
		goto out;
	}
	if (read_dropin(o) < 0) {
		rc = fail(o, "%s; ephport will not rewrite it",
			  o->file_error[0] ? o->file_error : "out of memory");
		goto out;
	}
	if (eph_sysctld_read(o->cli->ctx, keys, 2, &o->sd) < 0) {
		rc = cli_fail(o->cli, "sysctl.d");
		goto out;
	}
	for (size_t i = 0; i < eph_sysctld_bad_count(o->sd); i++) {
		const struct eph_sysctld_setting *b = eph_sysctld_bad(o->sd, i);

		warn_add(o, "%s:%u: %s (systemd-sysctl skips the line)",
			 b->file, b->line, b->value);
	}
	check_conflicts(o);
	if (o->action == SET_RANGE) {
		o->new_content =
			compose(o, o->drop_reserved, o->drop_has_reserved,
				o->low, o->high, true);
	} else {
		if (boot_reserved(o, boot) < 0) {
			rc = fail(o, "%s", o->file_error);
			goto out;
		}
		/* The drop-in holds what a boot applies now, changed. */
		eph_portset_union(boot, o->drop_reserved);
		if (o->action == RESERVE) {
			struct eph_portset *added = NULL;

			eph_portset_new(&added);

			if (!added)
				goto out;
			eph_portset_copy(added, o->ports);
			eph_portset_subtract(added, boot);
			eph_portset_union(boot, o->ports);
			add_note(o, added);
			eph_portset_free(added);
		} else {
			const struct eph_sysctld_setting *w = winner(o, false);

			eph_portset_subtract(boot, o->ports);
			for (size_t i = 0; i < o->nnotes; i++)
				eph_portset_subtract(o->notes[i].ports,
						     o->ports);
			/* The winner other than the drop-in sorts after
			 * it: its value, not ours, is applied at boot. */
			if (w && !is_ours(w))
				warn_add(o,
					 "%s:%u sets the reservations a boot "
					 "applies, after ephport's drop-in: "
					 "ports it lists come back at boot "
					 "unless that file is changed",
					 w->file, w->line);
		}
		o->new_content = compose(
			o, boot,
			o->drop_has_reserved || eph_portset_count(boot) > 0 ||
				winner(o, false),
			o->drop_low, o->drop_high, o->drop_has_range);
	}
	rc = o->new_content ? EXIT_OK : cli_fail(o->cli, "out of memory");
out:
	eph_portset_free(cur);
	eph_portset_free(next);
	eph_portset_free(boot);
	return rc;
}

/* Puts the kernel's value back as it was before apply(). */
static void restore(struct op *o)
{
	if (eph_sysctl_write(o->cli->ctx, key_of(o),
			     o->rt_before[0] ? o->rt_before : "\n") < 0)
		cli_fail(o->cli, "restoring the old value");
}

/* Does the kernel now hold what apply() wrote? */
static int read_back(struct op *o)
{
	struct eph_policy *check;
	int rc = EXIT_OK;

	if (eph_policy_read(o->cli->ctx, &check) < 0)
		return cli_fail(o->cli, "reading back");
	if (o->action == SET_RANGE) {
		uint16_t lo, hi;

		eph_policy_range(check, &lo, &hi);
		if (lo != o->low || hi != o->high)
			rc = fail(o, "read back %u %u, not %s", lo, hi,
				  o->rt_after);
	} else {
		char *got = eph_portset_to_string(eph_policy_reserved(check));

		if (!got || strcmp(got, o->rt_after) != 0)
			rc = fail(o,
				  "read back \"%s\", not \"%s\" (another "
				  "writer?)",
				  got ? got : "?", o->rt_after);
		free(got);
	}
	eph_policy_free(check);
	return rc;
}

/*
 * Applies the runtime part of the plan and reads it back; on a failed
 * read-back the old value is put back, so that a failure changes nothing.
 */
static int apply(struct op *o)
{
	int rc;

	if (!o->runtime || !o->rt_changed)
		return EXIT_OK;
	if (eph_sysctl_write(o->cli->ctx, key_of(o),
			     o->rt_after[0] ? o->rt_after : "\n") < 0)
		return cli_fail(o->cli, NULL);
	rc = read_back(o);
	if (rc != EXIT_OK)
		restore(o);
	return rc;
}

static int write_dropin(struct op *o, int dirfd)
{
	if (o->old_content && strcmp(o->old_content, o->new_content) == 0)
		return 0;
	return eph_file_replace(o->cli->ctx, dirfd, DROPIN_NAME, o->new_content,
				strlen(o->new_content));
}

static int run(struct op *o)
{
	int lock, rt_lock = -1, rc;

	/*
	 * One ephport at a time changes the policy: the whole read, plan
	 * and write happens under two locks, always taken in this order:
	 * the kernel's (/run/ephport, whatever --root says) and the
	 * drop-in's (its sysctl.d directory).
	 */
	if (o->runtime && !o->dry_run) {
		rt_lock = eph_dir_lock(o->cli->ctx, RUNTIME_LOCK_DIR, true);
		/* Without the right to lock, the write will be refused too,
		 * with the clearer message: go on to it. */
		if (rt_lock < 0 && rt_lock != -EACCES && rt_lock != -EPERM &&
		    rt_lock != -EROFS)
			return cli_fail(o->cli, NULL);
	}
	if (o->root && eph_ctx_set_root(o->cli->ctx, o->root) < 0) {
		if (rt_lock >= 0)
			close(rt_lock);
		return cli_fail(o->cli, NULL);
	}
	lock = eph_dropin_lock(o->cli->ctx, o->persist && !o->dry_run);
	if (lock < 0 && (lock != -ENOENT || (o->persist && !o->dry_run))) {
		if (rt_lock >= 0)
			close(rt_lock);
		return cli_fail(o->cli, NULL);
	}
	rc = ranges_load(o->cli, &o->policy);
	if (rc == EXIT_OK && o->action == SET_RANGE) {
		struct eph_portset *l = NULL;

		eph_portset_new(&l);
		int64_t unpriv = 1024;

		eph_policy_knob(o->policy, EPH_KNOB_UNPRIVILEGED_PORT_START,
				&unpriv);
		if (o->low < unpriv) {
			rc = fail(o,
				  "refused: %u is below "
				  "ip_unprivileged_port_start (%lld); the "
				  "kernel does not accept it",
				  o->low, (long long)unpriv);
		} else if (!l || listeners_in(o, l) < 0) {
			rc = cli_fail(o->cli, "socket scan");
		} else {
			char *list;

			eph_portset_subtract(l, eph_policy_reserved(o->policy));
			list = eph_portset_to_string(l);
			if (eph_portset_count(l) && !o->force)
				rc = fail(o,
					  "refused: the range %u-%u would "
					  "swallow listening ports %s; reserve "
					  "them first (ephport reserve %s) or "
					  "--force",
					  o->low, o->high, list ? list : "?",
					  list ? list : "?");
			else if (eph_portset_count(l))
				warn_add(o,
					 "listening ports %s are now inside "
					 "the range and not reserved",
					 list ? list : "?");
			free(list);
		}
		if (rc == EXIT_OK && (o->low & 1) == (o->high & 1))
			warn_add(o,
				 "bounds %u and %u have the same parity: "
				 "connect() never tries one port; %u %u "
				 "avoids it",
				 o->low, o->high, o->low, o->high - 1);
		eph_portset_free(l);
	}
	if (rc == EXIT_OK)
		rc = plan(o);
	if (rc == EXIT_OK && !o->dry_run) {
		rc = apply(o);
		if (rc == EXIT_OK && o->persist && write_dropin(o, lock) < 0) {
			rc = cli_fail(o->cli, NULL);
			/* Nothing half-done: put the kernel back. */
			if (o->runtime && o->rt_changed)
				restore(o);
		}
	}
	if (rc == EXIT_OK) {
		if (o->cli->json)
			print_json(o);
		else
			print_text(o);
	}
	if (lock >= 0)
		close(lock);
	if (rt_lock >= 0)
		close(rt_lock);
	return rc;
}

static void op_free(struct op *o)
{
	for (size_t i = 0; i < o->nnotes; i++)
		eph_portset_free(o->notes[i].ports);
	eph_portset_free(o->ports);
	eph_portset_free(o->drop_reserved);
	eph_policy_free(o->policy);
	eph_sysctld_free(o->sd);
	free(o->old_content);
	free(o->new_content);
	free(o->rt_before);
	free(o->rt_after);
}

static int reserve_main(struct cli *cli, int argc, char **argv,
			enum action action)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "runtime-only", no_argument, NULL, 'R' },
		{ "persist-only", no_argument, NULL, 'P' },
		{ "dry-run", no_argument, NULL, 'D' },
		{ "root", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'F' },
		CLI_COMMON_LONG,
	};
	struct op o = { .cli = cli, .action = action };
	bool runtime_only = false, persist_only = false, done = false;
	uint64_t v;
	int c, rc, want = action == SET_RANGE ? 2 : 1;

	/* No "+": options may follow the ports. */
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts,
				NULL)) != -1) {
		switch (c) {
		case 'r':
			if (action != RESERVE)
				return cli_usage_error(cli, "--reason is for "
							    "reserve");
			if (strlen(optarg) > 200)
				return cli_usage_error(cli, "--reason: at most "
							    "200 characters");
			o.reason = optarg;
			continue;
		case 'R':
			runtime_only = true;
			continue;
		case 'P':
			persist_only = true;
			continue;
		case 'D':
			o.dry_run = true;
			continue;
		case 'o':
			o.root = optarg;
			continue;
		case 'F':
			o.force = true;
			continue;
		default:
			break;
		}
		rc = cli_common_option(cli, c, reserve_help, &done);
		if (rc != EXIT_OK || done)
			return rc;
	}
	if (argc - optind != want)
		return cli_usage_error(cli, "%s",
				       action == SET_RANGE
					       ? "give LOW and HIGH"
					       : "give the ports (\"8080,"
						 "40000-40010\")");
	if (runtime_only && persist_only)
		return cli_usage_error(cli, "--runtime-only and --persist-only "
					    "exclude each other");
	if (o.root && o.root[0] != '/')
		return cli_usage_error(cli, "--root must be an absolute path");
	if (action == SET_RANGE) {
		if (eph_num_parse_str(cli->ctx, argv[optind], 1, 65535, "LOW",
				      &v) < 0)
			return cli_usage_error(cli, "%s",
					       eph_ctx_errmsg(cli->ctx));
		o.low = (uint16_t)v;
		if (eph_num_parse_str(cli->ctx, argv[optind + 1], 1, 65535,
				      "HIGH", &v) < 0)
			return cli_usage_error(cli, "%s",
					       eph_ctx_errmsg(cli->ctx));
		o.high = (uint16_t)v;
		if (o.low > o.high)
			return cli_usage_error(cli, "LOW %u is above HIGH %u",
					       o.low, o.high);
	} else {
		eph_portset_new(&o.ports);
		if (!o.ports)
			return cli_fail(cli, "out of memory");
		if (eph_portset_parse(cli->ctx, o.ports, argv[optind],
				      strlen(argv[optind])) < 0 ||
		    eph_portset_count(o.ports) == 0) {
			rc = cli_usage_error(
				cli, "ports '%s': %s", argv[optind],
				eph_portset_count(o.ports) == 0 &&
						!*eph_ctx_errmsg(cli->ctx)
					? "no port given"
					: eph_ctx_errmsg(cli->ctx));
			eph_portset_free(o.ports);
			return rc;
		}
		if (eph_portset_has(o.ports, 0)) {
			eph_portset_free(o.ports);
			return cli_usage_error(cli, "port 0 cannot be "
						    "reserved");
		}
	}
	o.runtime = !persist_only;
	o.persist = !runtime_only;
	if (cli->netns && !o.root && o.persist) {
		if (persist_only) {
			op_free(&o);
			return cli_usage_error(
				cli, "--persist-only with --netns needs "
				     "--root: /etc/sysctl.d sets up the "
				     "host's namespace, not NS");
		}
		o.persist = false;
		warn_add(&o,
			 "not persisted: /etc/sysctl.d sets up the host's "
			 "namespace at boot, not %s (use --root to write "
			 "a tree anyway)",
			 cli->netns);
	}
	rc = run(&o);
	op_free(&o);
	return rc;
}

int reserve_ports(struct cli *cli, const struct eph_portset *ports,
		  const char *reason)
{
	struct op o = { .cli = cli, .action = RESERVE, .reason = reason };
	int rc;

	eph_portset_new(&o.ports);
	if (!o.ports)
		return cli_fail(cli, "out of memory");
	eph_portset_copy(o.ports, ports);
	o.runtime = true;
	o.persist = !cli->netns;
	if (!o.persist)
		warn_add(&o,
			 "not persisted: /etc/sysctl.d sets up the host's "
			 "namespace at boot, not %s",
			 cli->netns);
	rc = run(&o);
	op_free(&o);
	return rc;
}

int cmd_reserve(struct cli *cli, int argc, char **argv)
{
	return reserve_main(cli, argc, argv, RESERVE);
}

int cmd_unreserve(struct cli *cli, int argc, char **argv)
{
	return reserve_main(cli, argc, argv, UNRESERVE);
}

int cmd_set_range(struct cli *cli, int argc, char **argv)
{
	return reserve_main(cli, argc, argv, SET_RANGE);
}
