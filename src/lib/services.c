/* SPDX-License-Identifier: MIT */
/*
 * Port registries: services files (/etc/services, Wireshark's copy of the
 * IANA registry, nmap's frequency table) and the ports browsers refuse.
 * Parsers are pure functions over bytes; the readers load a file into a
 * table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The biggest services file (nmap's) is about 1 MiB. */
#define SERVICES_MAX (8 * 1024 * 1024)

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Splits S[0..LEN) into at most MAX whitespace-separated tokens. */
size_t services_tokens(const char *s, size_t len, const char **tok,
		       size_t *tlen, size_t max)
{
	size_t n = 0, i = 0;

	while (i < len && n < max) {
		while (i < len && is_blank(s[i]))
			i++;
		if (i == len)
			break;
		tok[n] = s + i;
		while (i < len && !is_blank(s[i]))
			i++;
		tlen[n] = (size_t)(s + i - tok[n]);
		n++;
	}
	return n;
}

static int port_of(const char *s, size_t len, uint16_t *ret)
{
	uint32_t v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*ret = (uint16_t)v;
	return 0;
}

/* "8080/tcp", "6000-6063/tcp/udp" */
static const char *parse_portproto(const char *s, size_t len,
				   struct services_line *l)
{
	const char *slash = memchr(s, '/', len), *dash;
	size_t plen;

	if (!slash)
		return "no /protocol after the port";
	plen = (size_t)(slash - s);
	dash = memchr(s, '-', plen);
	if (dash) {
		if (port_of(s, (size_t)(dash - s), &l->port_lo) < 0 ||
		    port_of(dash + 1, (size_t)(slash - dash - 1), &l->port_hi) <
			    0 ||
		    l->port_lo > l->port_hi)
			return "a malformed port range";
	} else {
		if (port_of(s, plen, &l->port_lo) < 0)
			return "a malformed port";
		l->port_hi = l->port_lo;
	}
	for (const char *p = slash; p < s + len;) {
		const char *q = p + 1,
			   *end = memchr(q, '/', (size_t)(s + len - q));
		size_t n;

		if (!end)
			end = s + len;
		n = (size_t)(end - q);
		if (n == 3 && memcmp(q, "tcp", 3) == 0)
			l->protos |= EPH_PROTO_TCP;
		else if (n == 3 && memcmp(q, "udp", 3) == 0)
			l->protos |= EPH_PROTO_UDP;
		else if (n == 0)
			return "an empty protocol";
		/* sctp, dccp, ddp...: not ours to count. */
		p = end;
	}
	return NULL;
}

int services_parse(const char *buf, size_t len,
		   int (*cb)(const struct services_line *l, void *data),
		   void *data)
{
	size_t pos = 0, n;
	unsigned int line = 0;
	const char *s;

	while (num_next_line(buf, len, &pos, &s, &n)) {
		const char *hash = memchr(s, '#', n), *tok[3];
		size_t tlen[3], nt;
		struct services_line l = { 0 };
		int r;

		line++;
		if (hash)
			n = (size_t)(hash - s);
		nt = services_tokens(s, n, tok, tlen, 3);
		if (nt == 0)
			continue;
		l.line = line;
		if (memchr(s, '\0', n)) {
			l.error = "a NUL byte in the line";
		} else if (nt < 2) {
			l.error = "no port after the name";
		} else {
			l.name = tok[0];
			l.name_len = tlen[0];
			l.error = parse_portproto(tok[1], tlen[1], &l);
			/* nmap-services: a frequency as third field. */
			if (!l.error && nt == 3 && tlen[2] < 32) {
				char f[32], *end;

				memcpy(f, tok[2], tlen[2]);
				f[tlen[2]] = '\0';
				l.frequency = strtod(f, &end);
				l.has_frequency = *end == '\0' &&
						  l.frequency >= 0 &&
						  l.frequency <= 1;
				if (!l.has_frequency)
					l.frequency = 0;
			}
			if (l.error)
				l.name = NULL;
		}
		r = cb(&l, data);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- A loaded services table ---- */

struct service {
	uint16_t port;
	uint8_t protos;
	uint32_t name_off;
	double frequency;
};

struct eph_services {
	char *path;
	struct eph_portset tcp, udp;
	struct service *v;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	unsigned int bad;
};

static int add_service(const struct services_line *l, void *data)
{
	struct eph_services *db = data;

	if (!l->name) {
		db->bad++;
		return 0;
	}
	for (uint32_t p = l->port_lo; p <= l->port_hi; p++) {
		struct service *s;

		if (l->protos & EPH_PROTO_TCP)
			eph_portset_add(&db->tcp, (uint16_t)p, (uint16_t)p);
		if (l->protos & EPH_PROTO_UDP)
			eph_portset_add(&db->udp, (uint16_t)p, (uint16_t)p);
		if (!l->protos)
			continue;
		if (db->n == db->cap) {
			size_t c = db->cap ? db->cap * 2 : 1024;
			struct service *m = realloc(db->v, c * sizeof(*m));

			if (!m)
				return -ENOMEM;
			db->v = m;
			db->cap = c;
		}
		if (db->names_len + l->name_len + 1 > db->names_cap) {
			size_t c = db->names_cap ? db->names_cap * 2 : 65536;
			char *m;

			while (c < db->names_len + l->name_len + 1)
				c *= 2;
			m = realloc(db->names, c);
			if (!m)
				return -ENOMEM;
			db->names = m;
			db->names_cap = c;
		}
		s = &db->v[db->n++];
		s->port = (uint16_t)p;
		s->protos = (uint8_t)l->protos;
		s->frequency = l->frequency;
		/* Each name once per line: ranges share it. */
		if (p == l->port_lo) {
			s->name_off = (uint32_t)db->names_len;
			memcpy(db->names + db->names_len, l->name, l->name_len);
			db->names_len += l->name_len;
			db->names[db->names_len++] = '\0';
		} else {
			s->name_off = s[-1].name_off;
		}
	}
	return 0;
}

EPH_EXPORT int eph_services_read(struct eph_ctx *ctx, const char *path,
				 struct eph_services **ret)
{
	struct eph_services *db = calloc(1, sizeof(*db));
	char *buf = NULL;
	size_t len = 0;
	int r;

	ctx_clear_error(ctx);
	if (!db || !(db->path = strdup(path))) {
		free(db);
		return ctx_error(ctx, -ENOMEM, "out of memory");
	}
	r = fileio_read(ctx, AT_FDCWD, path, NULL, 0, SERVICES_MAX, &buf, &len);
	if (r == 0) {
		r = services_parse(buf, len, add_service, db);
		if (r < 0)
			ctx_error(ctx, r, "out of memory");
	}
	free(buf);
	if (r < 0) {
		eph_services_free(db);
		return r;
	}
	*ret = db;
	return 0;
}

EPH_EXPORT const char *eph_services_path(const struct eph_services *db)
{
	return db->path;
}

EPH_EXPORT void eph_services_free(struct eph_services *db)
{
	if (!db)
		return;
	free(db->v);
	free(db->names);
	free(db->path);
	free(db);
}

EPH_EXPORT bool eph_services_registered(const struct eph_services *db,
					uint16_t port, uint32_t protos)
{
	return ((protos & EPH_PROTO_TCP) && eph_portset_has(&db->tcp, port)) ||
	       ((protos & EPH_PROTO_UDP) && eph_portset_has(&db->udp, port));
}

EPH_EXPORT const char *eph_services_name(const struct eph_services *db,
					 uint16_t port)
{
	for (size_t i = 0; i < db->n; i++)
		if (db->v[i].port == port)
			return db->names + db->v[i].name_off;
	return NULL;
}

static int freq_cmp(const void *a, const void *b)
{
	const struct service *x = a, *y = b;

	if (x->frequency != y->frequency)
		return x->frequency > y->frequency ? -1 : 1;
	return x->port - y->port;
}

EPH_EXPORT int eph_services_common(const struct eph_services *db, size_t top,
				   struct eph_portset *ret)
{
	struct service *v;
	size_t taken = 0;

	eph_portset_clear(ret);
	if (db->n == 0)
		return 0;
	v = malloc(db->n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, db->v, db->n * sizeof(*v));
	qsort(v, db->n, sizeof(*v), freq_cmp);
	for (size_t i = 0; i < db->n && taken < top; i++) {
		if (v[i].frequency <= 0)
			break;
		if (!eph_portset_has(ret, v[i].port)) {
			eph_portset_add(ret, v[i].port, v[i].port);
			taken++;
		}
	}
	free(v);
	return (int)taken;
}

EPH_EXPORT unsigned int eph_services_bad_lines(const struct eph_services *db)
{
	return db->bad;
}

/* ---- Ports browsers refuse ---- */

/*
 * The Fetch standard's "bad ports" (fetch.spec.whatwg.org/#port-blocking),
 * which Chromium and Firefox both refuse to connect to over HTTP.
 */
static const uint16_t bad_ports[] = {
	1,    7,    9,	  11,	13,   15,   17,	  19,	20,   21,    22,   23,
	25,   37,   42,	  43,	53,   69,   77,	  79,	87,   95,    101,  102,
	103,  104,  109,  110,	111,  113,  115,  117,	119,  123,   135,  137,
	139,  143,  161,  179,	389,  427,  465,  512,	513,  514,   515,  526,
	530,  531,  532,  540,	548,  554,  556,  563,	587,  601,   636,  989,
	990,  993,  995,  1719, 1720, 1723, 2049, 3659, 4045, 4190,  5060, 5061,
	6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
};

EPH_EXPORT bool eph_port_browser_blocked(uint16_t port)
{
	for (size_t i = 0; i < sizeof(bad_ports) / sizeof(bad_ports[0]); i++)
		if (bad_ports[i] == port)
			return true;
	return false;
}
