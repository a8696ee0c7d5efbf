/* SPDX-License-Identifier: MIT */
/*
 * ephport's sysctl.d drop-in, 99-zz-ephport.conf: a pure parser and
 * formatter. The file is ephport's own, rewritten whole on every change,
 * so the parser is strict: a line ephport would not have written (another
 * key, a foreign comment, a malformed value, a key set twice) is an error
 * naming the file and the line, and ephport then leaves the file alone
 * rather than lose what someone put there by hand.
 *
 * What ephport writes:
 *
 *   # ephport's drop-in: 'ephport reserve', 'unreserve' and 'set-range' ...
 *   # It sorts last, so what it sets wins at boot. Edit it with ephport.
 *   # reserved 36601,40000-40002 on 2026-11-27: api server
 *   net.ipv4.ip_local_reserved_ports = 8080,36601,40000-40002
 *   net.ipv4.ip_local_port_range = 40000 60999
 *
 * The second line says the file wins at boot only when it does; otherwise
 * it says that a file read later sets the same key.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char header_first[] =
	"# ephport's drop-in: 'ephport reserve', 'unreserve' and "
	"'set-range' rewrite it.";
static const char header_wins[] =
	"# It sorts last, so what it sets wins at boot. Edit it with ephport.";
static const char header_loses[] = "# Edit it with ephport. It does not win "
				   "at boot: a file read later sets its key.";
static const char note_prefix[] = "# reserved ";

void dropin_init(struct dropin *d)
{
	memset(d, 0, sizeof(*d));
	d->wins = true;
}

void dropin_free(struct dropin *d)
{
	free(d->notes);
	d->notes = NULL;
	d->nnotes = 0;
	d->cap = 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Is S[0..LEN) exactly the NUL-terminated TEXT? */
static bool line_is(const char *s, size_t len, const char *text)
{
	return strlen(text) == len && memcmp(s, text, len) == 0;
}

/* A date as ephport writes it: YYYY-MM-DD, digits where digits go. */
static bool valid_date(const char *s, size_t len)
{
	if (len != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	return true;
}

/*
 * Parses "# reserved PORTS on DATE[: REASON]" (S already trimmed) into N.
 * Returns 0, or -EINVAL with a detail (no file or line: the caller adds
 * them).
 */
static int parse_note(struct eph_ctx *ctx, const char *s, size_t len,
		      struct dropin_note *n)
{
	const size_t plen = sizeof(note_prefix) - 1;
	const char *p = s + plen, *end = s + len, *on, *date;
	size_t rlen;
	int r;

	on = memmem(p, (size_t)(end - p), " on ", 4);
	if (!on)
		return ctx_error(ctx, -EINVAL,
				 "a note without \" on DATE\" (ephport writes "
				 "\"# reserved PORTS on DATE: REASON\")");
	r = eph_portset_parse(ctx, &n->ports, p, (size_t)(on - p));
	if (r < 0)
		return ctx_error(ctx, -EINVAL, "a note's ports: %s",
				 eph_ctx_errmsg(ctx));
	if (eph_portset_count(&n->ports) == 0)
		return ctx_error(ctx, -EINVAL, "a note without ports");
	date = on + 4;
	if (end - date < 10 || !valid_date(date, 10))
		return ctx_error(ctx, -EINVAL,
				 "a note without a date "
				 "(YYYY-MM-DD)");
	memcpy(n->date, date, 10);
	n->date[10] = '\0';
	p = date + 10;
	n->reason[0] = '\0';
	if (p == end)
		return 0;
	if (*p != ':')
		return ctx_error(ctx, -EINVAL,
				 "text after a note's date that is not "
				 "\": REASON\"");
	p++;
	while (p < end && is_blank(*p))
		p++;
	rlen = (size_t)(end - p);
	if (rlen > DROPIN_REASON_MAX)
		return ctx_error(ctx, -EINVAL,
				 "a note's reason longer than %u bytes",
				 DROPIN_REASON_MAX);
	for (size_t i = 0; i < rlen; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return ctx_error(ctx, -EINVAL,
					 "a control character in a note's "
					 "reason");
	memcpy(n->reason, p, rlen);
	n->reason[rlen] = '\0';
	return 0;
}

struct assignment {
	struct eph_ctx *ctx;
	struct dropin *d;
	int r;
};

/* One assignment line, as sysctld_parse() splits it. */
static int parse_assignment(const struct sysctld_line *l, void *data)
{
	struct assignment *a = data;
	struct dropin *d = a->d;
	char q[96];

	if (!l->key)
		a->r = ctx_error(a->ctx, -EINVAL, "%s", l->error);
	else if (l->ignore_failure)
		a->r = ctx_error(a->ctx, -EINVAL,
				 "a '-' before the key (ephport never writes "
				 "one)");
	else if (sysctld_key_is(l->key, l->key_len, POLICY_KEY_RESERVED)) {
		if (d->has_reserved)
			a->r = ctx_error(a->ctx, -EINVAL, "%s set twice",
					 POLICY_KEY_RESERVED);
		else if (eph_portset_parse(a->ctx, &d->reserved, l->value,
					   l->value_len) < 0)
			a->r = ctx_error(a->ctx, -EINVAL, "%s: %s",
					 POLICY_KEY_RESERVED,
					 eph_ctx_errmsg(a->ctx));
		d->has_reserved = true;
	} else if (sysctld_key_is(l->key, l->key_len, POLICY_KEY_RANGE)) {
		if (d->has_range)
			a->r = ctx_error(a->ctx, -EINVAL, "%s set twice",
					 POLICY_KEY_RANGE);
		else if (policy_range_parse(a->ctx, l->value, l->value_len,
					    &d->low, &d->high) < 0)
			a->r = -EINVAL;
		d->has_range = true;
	} else {
		a->r = ctx_error(a->ctx, -EINVAL,
				 "a key ephport does not manage (%s)",
				 num_quote(l->key, l->key_len, q, sizeof(q)));
	}
	return 0;
}

int dropin_parse(struct eph_ctx *ctx, const char *buf, size_t len,
		 const char *shown, struct dropin *ret, unsigned int *ret_line)
{
	struct dropin d;
	struct assignment a = { ctx, &d, 0 };
	unsigned int line = 0;
	size_t pos = 0, n;
	const char *s;

	dropin_init(&d);
	while (a.r == 0 && num_next_line(buf, len, &pos, &s, &n)) {
		line++;
		while (n > 0 && is_blank(*s)) {
			s++;
			n--;
		}
		while (n > 0 && is_blank(s[n - 1]))
			n--;
		if (n == 0)
			continue;
		if (memchr(s, '\0', n)) {
			a.r = ctx_error(ctx, -EINVAL, "a NUL byte in the line");
		} else if (s[0] == ';') {
			a.r = ctx_error(ctx, -EINVAL,
					"a comment ephport did not write");
		} else if (s[0] != '#') {
			/* One line at a time, so that errors keep their
			 * line number. */
			sysctld_parse(s, n, parse_assignment, &a);
		} else if (line_is(s, n, header_first) ||
			   line_is(s, n, header_wins)) {
			continue;
		} else if (line_is(s, n, header_loses)) {
			d.wins = false;
		} else if (n >= sizeof(note_prefix) - 1 &&
			   memcmp(s, note_prefix, sizeof(note_prefix) - 1) ==
				   0) {
			if (num_grow((void **)&d.notes, &d.cap, d.nnotes,
				     sizeof(*d.notes)) < 0) {
				dropin_free(&d);
				return ctx_error(ctx, -ENOMEM, "out of memory");
			}
			memset(&d.notes[d.nnotes], 0, sizeof(*d.notes));
			a.r = parse_note(ctx, s, n, &d.notes[d.nnotes]);
			if (a.r == 0)
				d.nnotes++;
		} else {
			a.r = ctx_error(ctx, -EINVAL,
					"a comment ephport did not write");
		}
	}
	if (a.r < 0) {
		dropin_free(&d);
		if (ret_line)
			*ret_line = line;
		return ctx_error(ctx, -EINVAL, "%s:%u: %s", shown, line,
				 eph_ctx_errmsg(ctx));
	}
	*ret = d;
	return 0;
}

/* ---- Formatting ---- */

struct sbuf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void sbuf_add(struct sbuf *b, const char *fmt, ...) EPH_PRINTF(2, 3);

static void sbuf_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t cap;
	char *m;
	int w;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		w = vsnprintf(b->s ? b->s + b->len : NULL,
			      b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (w < 0) {
			b->failed = true;
			return;
		}
		if (b->s && (size_t)w < b->cap - b->len)
			break;
		/* Room for this piece and then some. */
		cap = (b->cap ? b->cap : 256) * 2 + (size_t)w;
		m = realloc(b->s, cap);

		if (!m) {
			b->failed = true;
			return;
		}
		b->s = m;
		b->cap = cap;
	}
	b->len += (size_t)w;
}

int dropin_format(const struct dropin *d, char **ret, size_t *ret_len)
{
	struct sbuf b = { 0 };
	char *list;

	sbuf_add(&b, "%s\n%s\n", header_first,
		 d->wins ? header_wins : header_loses);
	for (size_t i = 0; i < d->nnotes; i++) {
		const struct dropin_note *n = &d->notes[i];

		if (eph_portset_count(&n->ports) == 0)
			continue;
		list = eph_portset_to_string(&n->ports);
		if (!list) {
			b.failed = true;
			break;
		}
		sbuf_add(&b, "%s%s on %s", note_prefix, list, n->date);
		if (n->reason[0])
			sbuf_add(&b, ": %s", n->reason);
		sbuf_add(&b, "\n");
		free(list);
	}
	if (d->has_reserved) {
		list = eph_portset_to_string(&d->reserved);
		if (!list)
			b.failed = true;
		else
			sbuf_add(&b, "%s = %s\n", POLICY_KEY_RESERVED, list);
		free(list);
	}
	if (d->has_range)
		sbuf_add(&b, "%s = %u %u\n", POLICY_KEY_RANGE, d->low, d->high);
	if (b.failed) {
		free(b.s);
		return -ENOMEM;
	}
	*ret = b.s;
	*ret_len = b.len;
	return 0;
}

int dropin_add_note(struct dropin *d, const struct eph_portset *ports,
		    const char *date, const char *reason)
{
	struct dropin_note *n;
	size_t len, b = 0, e;

	if (eph_portset_count(ports) == 0)
		return 0;
	if (num_grow((void **)&d->notes, &d->cap, d->nnotes,
		     sizeof(*d->notes)) < 0)
		return -ENOMEM;
	n = &d->notes[d->nnotes++];
	memset(n, 0, sizeof(*n));
	eph_portset_copy(&n->ports, ports);
	snprintf(n->date, sizeof(n->date), "%s", date);
	/*
	 * One line, as the parser wants it back: control characters become
	 * spaces, and no blanks at either end.
	 */
	len = reason ? strlen(reason) : 0;
	if (len > DROPIN_REASON_MAX)
		len = DROPIN_REASON_MAX;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)reason[i];

		n->reason[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	e = len;
	while (b < e && n->reason[b] == ' ')
		b++;
	while (e > b && n->reason[e - 1] == ' ')
		e--;
	memmove(n->reason, n->reason + b, e - b);
	n->reason[e - b] = '\0';
	return 0;
}

void dropin_remove_ports(struct dropin *d, const struct eph_portset *ports)
{
	size_t kept = 0;

	for (size_t i = 0; i < d->nnotes; i++) {
		eph_portset_subtract(&d->notes[i].ports, ports);
		if (eph_portset_count(&d->notes[i].ports) == 0)
			continue;
		if (kept != i)
			d->notes[kept] = d->notes[i];
		kept++;
	}
	d->nnotes = kept;
}
