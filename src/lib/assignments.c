/* SPDX-License-Identifier: MIT */
/*
 * Assignments: the ports `ephport pick` handed out, by service name. The
 * file is read strictly (a store that cannot be trusted is never
 * rewritten) under a lock on its directory, so that parallel picks see
 * each other's choices, and written back atomically under the same lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Over a megabyte per 65,535 ports: anything larger is not ours. */
#define ASSIGNMENTS_MAX (4 * 1024 * 1024)

struct eph_assignments {
	struct eph_ctx *ctx;
	char *path, *dir, *base;
	int lock; /* the locked directory, or -1 when it did not exist */
	struct eph_assignment *v;
	size_t n, cap;
};

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '@' || c == ':';
}

EPH_EXPORT bool eph_assignment_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > EPH_ASSIGNMENT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(name[i]))
			return false;
	return true;
}

/* ---- The parser ---- */

/* A calendar date, YYYY-MM-DD, as num_today() writes it. */
static bool date_valid(struct eph_ctx *ctx, const char *s, size_t len)
{
	uint64_t v;

	return len == 10 && s[4] == '-' && s[7] == '-' &&
	       eph_num_parse(ctx, s, 4, 1970, 9999, "year", &v) == 0 &&
	       eph_num_parse(ctx, s + 5, 2, 1, 12, "month", &v) == 0 &&
	       eph_num_parse(ctx, s + 8, 2, 1, 31, "day", &v) == 0;
}

/* The names seen so far, hashed, to find one given twice. */
struct seen {
	uint32_t *slots; /* 1 + index into names, 0 when free */
	size_t cap;	 /* a power of two */
	struct eph_assignment *names;
	unsigned int *lines;
	size_t n, ncap, lcap;
	unsigned int port_line[EPH_PORT_COUNT];
};

/* FNV-1a over the name. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* The line that had NAME already, or 0; remembers it otherwise. */
static int seen_name(struct seen *s, const struct eph_assignment *e,
		     unsigned int line, unsigned int *ret_line)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		uint32_t *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (size_t k = 0; k < s->n; k++) {
			i = name_hash(s->names[k].name) & (cap - 1);
			while (slots[i])
				i = (i + 1) & (cap - 1);
			slots[i] = (uint32_t)k + 1;
		}
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	for (i = name_hash(e->name) & (s->cap - 1); s->slots[i];
	     i = (i + 1) & (s->cap - 1))
		if (strcmp(s->names[s->slots[i] - 1].name, e->name) == 0) {
			*ret_line = s->lines[s->slots[i] - 1];
			return 0;
		}
	if (num_grow((void **)&s->names, &s->ncap, s->n, sizeof(*s->names)) <
		    0 ||
	    num_grow((void **)&s->lines, &s->lcap, s->n, sizeof(*s->lines)) < 0)
		return -ENOMEM;
	s->names[s->n] = *e;
	s->lines[s->n] = line;
	s->slots[i] = (uint32_t)++s->n;
	*ret_line = 0;
	return 0;
}

/* Checks one line; returns 0 with *E filled, 1 to skip it, or -errno. */
static int parse_line(struct eph_ctx *ctx, const char *s, size_t n,
		      unsigned int line, struct eph_assignment *e)
{
	const char *tok[4];
	size_t tlen[4], nt;
	uint64_t port;
	char q[96];

	nt = services_tokens(s, n, tok, tlen, 4);
	if (nt == 0 || tok[0][0] == '#')
		return 1;
	if (memchr(s, '\0', n))
		return ctx_error(ctx, -EBADMSG, "line %u: a NUL byte", line);
	if (nt != 3)
		return ctx_error(ctx, -EBADMSG,
				 "line %u: want NAME PORT DATE, found %s%zu "
				 "fields",
				 line, nt > 3 ? "more than " : "",
				 nt > 3 ? (size_t)3 : nt);
	if (!eph_assignment_name_valid(tok[0], tlen[0]))
		return ctx_error(ctx, -EBADMSG,
				 "line %u: %s is not a service name (letters, "
				 "digits, - _ . @ :, at most %d)",
				 line, num_quote(tok[0], tlen[0], q, sizeof(q)),
				 EPH_ASSIGNMENT_NAME_MAX);
	if (eph_num_parse(ctx, tok[1], tlen[1], 1, EPH_PORT_MAX, "port",
			  &port) < 0)
		return ctx_error(ctx, -EBADMSG,
				 "line %u: %s is not a port (1-65535)", line,
				 num_quote(tok[1], tlen[1], q, sizeof(q)));
	if (!date_valid(ctx, tok[2], tlen[2]))
		return ctx_error(ctx, -EBADMSG,
				 "line %u: %s is not a date (YYYY-MM-DD)", line,
				 num_quote(tok[2], tlen[2], q, sizeof(q)));
	memset(e, 0, sizeof(*e));
	memcpy(e->name, tok[0], tlen[0]);
	e->port = (uint16_t)port;
	memcpy(e->date, tok[2], 10);
	return 0;
}

/* Strict: a store that cannot be trusted is never rewritten. */
int assignments_parse(struct eph_ctx *ctx, const char *buf, size_t len,
		      int (*cb)(const struct eph_assignment *e,
				unsigned int line, void *data),
		      void *data)
{
	struct seen *seen = calloc(1, sizeof(*seen));
	unsigned int line = 0, other;
	size_t pos = 0, n;
	const char *s;
	int r = 0;

	ctx_clear_error(ctx);
	if (!seen)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	while (r == 0 && num_next_line(buf, len, &pos, &s, &n)) {
		struct eph_assignment e;

		line++;
		r = parse_line(ctx, s, n, line, &e);
		if (r == 1) {
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		if (seen->port_line[e.port]) {
			r = ctx_error(ctx, -EBADMSG,
				      "line %u: port %u is assigned twice "
				      "(line %u has it too)",
				      line, e.port, seen->port_line[e.port]);
			break;
		}
		seen->port_line[e.port] = line;
		r = seen_name(seen, &e, line, &other);
		if (r < 0) {
			ctx_error(ctx, r, "out of memory");
			break;
		}
		if (other) {
			r = ctx_error(ctx, -EBADMSG,
				      "line %u: \"%s\" is assigned twice (line "
				      "%u has it too)",
				      line, e.name, other);
			break;
		}
		r = cb(&e, line, data);
	}
	free(seen->slots);
	free(seen->names);
	free(seen->lines);
	free(seen);
	return r;
}

/* ---- The store ---- */

static int keep(const struct eph_assignment *e, unsigned int line, void *data)
{
	struct eph_assignments *a = data;

	(void)line;
	if (num_grow((void **)&a->v, &a->cap, a->n, sizeof(*a->v)) < 0)
		return ctx_error(a->ctx, -ENOMEM, "out of memory");
	a->v[a->n++] = *e;
	return 0;
}

/* Splits PATH into its directory and base name, both new strings. */
static int split(struct eph_assignments *a)
{
	const char *slash = strrchr(a->path, '/');

	if (!slash)
		a->dir = strdup(".");
	else if (slash == a->path)
		a->dir = strdup("/");
	else
		a->dir = strndup(a->path, (size_t)(slash - a->path));
	a->base = strdup(slash ? slash + 1 : a->path);
	if (!a->dir || !a->base)
		return ctx_error(a->ctx, -ENOMEM, "out of memory");
	if (!*a->base || !strcmp(a->base, ".") || !strcmp(a->base, ".."))
		return ctx_error(a->ctx, -EISDIR, "%s: not a file", a->path);
	return 0;
}

EPH_EXPORT int eph_assignments_open(struct eph_ctx *ctx, const char *path,
				    bool create, struct eph_assignments **ret)
{
	struct eph_assignments *a = calloc(1, sizeof(*a));
	char *buf = NULL;
	size_t len = 0;
	int r;

	ctx_clear_error(ctx);
	if (!a)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	a->ctx = ctx;
	a->lock = -1;
	a->path = strdup(path);
	r = a->path ? split(a) : ctx_error(ctx, -ENOMEM, "out of memory");
	if (r < 0)
		goto out;
	r = fileio_lock_dir(ctx, a->dir, create);
	if (r == -ENOENT && !create) {
		/* Nothing was ever assigned here. */
		ctx_clear_error(ctx);
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	a->lock = r;
	r = fileio_read(ctx, a->lock, a->base, a->path, 0, ASSIGNMENTS_MAX,
			&buf, &len);
	if (r == -ENOENT) {
		ctx_clear_error(ctx);
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	r = assignments_parse(ctx, buf, len, keep, a);
	if (r < 0)
		ctx_error(ctx, r, "%s: %s", a->path, eph_ctx_errmsg(ctx));
out:
	free(buf);
	if (r < 0) {
		eph_assignments_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

EPH_EXPORT void eph_assignments_free(struct eph_assignments *a)
{
	if (!a)
		return;
	if (a->lock >= 0)
		close(a->lock);
	free(a->v);
	free(a->path);
	free(a->dir);
	free(a->base);
	free(a);
}

EPH_EXPORT const char *eph_assignments_path(const struct eph_assignments *a)
{
	return a->path;
}

EPH_EXPORT size_t eph_assignments_count(const struct eph_assignments *a)
{
	return a->n;
}

EPH_EXPORT const struct eph_assignment *
eph_assignments_get(const struct eph_assignments *a, size_t i)
{
	return i < a->n ? &a->v[i] : NULL;
}

EPH_EXPORT const struct eph_assignment *
eph_assignments_find(const struct eph_assignments *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, name) == 0)
			return &a->v[i];
	return NULL;
}

EPH_EXPORT const struct eph_assignment *
eph_assignments_find_port(const struct eph_assignments *a, uint16_t port)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].port == port)
			return &a->v[i];
	return NULL;
}

EPH_EXPORT int eph_assignments_set(struct eph_assignments *a, const char *name,
				   uint16_t port)
{
	const struct eph_assignment *holder;
	struct eph_assignment *e;

	ctx_clear_error(a->ctx);
	if (!eph_assignment_name_valid(name, strlen(name)))
		return ctx_error(a->ctx, -EINVAL, "not a service name");
	if (port == 0)
		return ctx_error(a->ctx, -EINVAL, "port 0 cannot be assigned");
	holder = eph_assignments_find_port(a, port);
	if (holder && strcmp(holder->name, name) != 0)
		return ctx_error(a->ctx, -EEXIST,
				 "port %u is assigned to \"%s\" in %s", port,
				 holder->name, a->path);
	e = (struct eph_assignment *)eph_assignments_find(a, name);
	if (!e) {
		if (num_grow((void **)&a->v, &a->cap, a->n, sizeof(*a->v)) < 0)
			return ctx_error(a->ctx, -ENOMEM, "out of memory");
		e = &a->v[a->n++];
		memset(e, 0, sizeof(*e));
		memcpy(e->name, name, strlen(name));
	}
	e->port = port;
	num_today(e->date);
	return 0;
}

EPH_EXPORT int eph_assignments_release(struct eph_assignments *a,
				       const char *name)
{
	const struct eph_assignment *e;
	size_t i;

	ctx_clear_error(a->ctx);
	e = eph_assignments_find(a, name);
	if (!e)
		return ctx_error(a->ctx, -ENOENT,
				 "%s: no assignment for \"%s\"", a->path, name);
	/* The file keeps its order: the lines that follow move up. */
	i = (size_t)(e - a->v);
	memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(*a->v));
	a->n--;
	return 0;
}

EPH_EXPORT int eph_assignments_commit(struct eph_assignments *a)
{
	static const char header[] =
		"# ephport's assignments: NAME PORT DATE, one per line.\n"
		"# 'ephport pick NAME' adds a line; 'ephport pick --release "
		"NAME' drops one.\n";
	size_t cap = sizeof(header) + a->n * 96, len;
	char *buf;
	int r;

	ctx_clear_error(a->ctx);
	if (a->lock < 0)
		return ctx_error(a->ctx, -ENOENT,
				 "%s: the directory does not exist", a->path);
	buf = malloc(cap);
	if (!buf)
		return ctx_error(a->ctx, -ENOMEM, "out of memory");
	len = (size_t)snprintf(buf, cap, "%s", header);
	for (size_t i = 0; i < a->n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s %u %s\n",
					a->v[i].name, a->v[i].port,
					a->v[i].date);
	r = fileio_replace(a->ctx, a->lock, a->base, buf, len);
	free(buf);
	if (r < 0)
		return ctx_error(a->ctx, r, "%s: %s", a->path,
				 eph_ctx_errmsg(a->ctx));
	return 0;
}
