/* SPDX-License-Identifier: MIT */
/*
 * A set of all 65,536 ports as an 8 KiB bitmap, with the list syntax of
 * ip_local_reserved_ports: "8080,40000-40002".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define WORDS (EPH_PORT_COUNT / 64)

EPH_EXPORT int eph_portset_new(struct eph_portset **ret)
{
	struct eph_portset *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return -ENOMEM;
	*ret = ps;
	return 0;
}

EPH_EXPORT void eph_portset_free(struct eph_portset *ps)
{
	free(ps);
}

EPH_EXPORT void eph_portset_clear(struct eph_portset *ps)
{
	memset(ps->bits, 0, sizeof(ps->bits));
}

EPH_EXPORT void eph_portset_copy(struct eph_portset *dst,
				 const struct eph_portset *src)
{
	memcpy(dst->bits, src->bits, sizeof(dst->bits));
}

/* The mask of bits LO..HI (0..63, LO <= HI) within one word. */
static uint64_t word_mask(unsigned int lo, unsigned int hi)
{
	uint64_t upper = hi == 63 ? ~0ull : ((1ull << (hi + 1)) - 1);

	return upper & ~((1ull << lo) - 1);
}

/* Calls the operation on every word touched by LO..HI with its mask. */
#define FOR_EACH_WORD(lo, hi, w, mask)                                         \
	for (uint32_t w = (lo) / 64, _last = (hi) / 64; w <= _last; w++)       \
		for (uint64_t mask = word_mask(w == (lo) / 64 ? (lo) % 64 : 0, \
					       w == _last ? (hi) % 64 : 63),   \
			      _once = 1;                                       \
		     _once; _once = 0)

EPH_EXPORT void eph_portset_add(struct eph_portset *ps, uint16_t lo,
				uint16_t hi)
{
	if (lo > hi)
		return;
	FOR_EACH_WORD (lo, hi, w, mask)
		ps->bits[w] |= mask;
}

EPH_EXPORT void eph_portset_del(struct eph_portset *ps, uint16_t lo,
				uint16_t hi)
{
	if (lo > hi)
		return;
	FOR_EACH_WORD (lo, hi, w, mask)
		ps->bits[w] &= ~mask;
}

EPH_EXPORT bool eph_portset_has(const struct eph_portset *ps, uint16_t port)
{
	return (ps->bits[port / 64] >> (port % 64)) & 1;
}

EPH_EXPORT uint32_t eph_portset_count_range(const struct eph_portset *ps,
					    uint16_t lo, uint16_t hi)
{
	uint32_t n = 0;

	if (lo > hi)
		return 0;
	FOR_EACH_WORD (lo, hi, w, mask)
		n += (uint32_t)__builtin_popcountll(ps->bits[w] & mask);
	return n;
}

EPH_EXPORT uint32_t eph_portset_count(const struct eph_portset *ps)
{
	return eph_portset_count_range(ps, 0, EPH_PORT_MAX);
}

EPH_EXPORT void eph_portset_union(struct eph_portset *dst,
				  const struct eph_portset *src)
{
	for (size_t i = 0; i < WORDS; i++)
		dst->bits[i] |= src->bits[i];
}

EPH_EXPORT void eph_portset_subtract(struct eph_portset *dst,
				     const struct eph_portset *src)
{
	for (size_t i = 0; i < WORDS; i++)
		dst->bits[i] &= ~src->bits[i];
}

EPH_EXPORT void eph_portset_intersect(struct eph_portset *dst,
				      const struct eph_portset *src)
{
	for (size_t i = 0; i < WORDS; i++)
		dst->bits[i] &= src->bits[i];
}

EPH_EXPORT bool eph_portset_equal(const struct eph_portset *a,
				  const struct eph_portset *b)
{
	return memcmp(a->bits, b->bits, sizeof(a->bits)) == 0;
}

EPH_EXPORT int32_t eph_portset_next(const struct eph_portset *ps, uint32_t from)
{
	uint32_t w;
	uint64_t word;

	if (from > EPH_PORT_MAX)
		return -1;
	w = from / 64;
	word = ps->bits[w] & ~((1ull << (from % 64)) - 1);
	for (;;) {
		if (word)
			return (int32_t)(w * 64 +
					 (uint32_t)__builtin_ctzll(word));
		if (++w >= WORDS)
			return -1;
		word = ps->bits[w];
	}
}

/* Returns the first port >= FROM that is NOT in the set, or 65536. */
static uint32_t next_clear(const struct eph_portset *ps, uint32_t from)
{
	uint32_t w;
	uint64_t word;

	if (from > EPH_PORT_MAX)
		return EPH_PORT_COUNT;
	w = from / 64;
	word = ~ps->bits[w] & ~((1ull << (from % 64)) - 1);
	for (;;) {
		if (word)
			return w * 64 + (uint32_t)__builtin_ctzll(word);
		if (++w >= WORDS)
			return EPH_PORT_COUNT;
		word = ~ps->bits[w];
	}
}

/* Parses one port number of an item; the error quotes the whole item. */
static int parse_port(struct eph_ctx *ctx, const char *s, size_t len,
		      const char *item, size_t item_len, uint16_t *ret)
{
	char q[96];
	uint64_t v;
	int r;

	r = eph_num_parse(ctx, s, len, 0, EPH_PORT_MAX, "port", &v);
	if (r < 0) {
		num_quote(item, item_len, q, sizeof(q));
		if (r == -ERANGE)
			ctx_error(ctx, r,
				  "port list: %s: port %.*s is out of "
				  "range (0-65535)",
				  q, (int)(len > 12 ? 12 : len), s);
		else
			ctx_error(ctx, r,
				  "port list: %s is not a port or a range "
				  "LOW-HIGH",
				  q);
		/* R itself, not ctx_error()'s value: the compiler then sees
		 * that *RET is written whenever 0 is returned. */
		return r;
	}
	*ret = (uint16_t)v;
	return 0;
}

EPH_EXPORT int eph_portset_parse(struct eph_ctx *ctx, struct eph_portset *ps,
				 const char *s, size_t len)
{
	struct eph_portset tmp;
	char q[96];
	size_t pos = 0;
	int r;

	ctx_clear_error(ctx);
	memset(&tmp, 0, sizeof(tmp));
	num_trim_newline(s, &len);
	while (len > 0) {
		const char *item = s + pos, *comma, *dash;
		size_t item_len;
		uint16_t lo, hi;

		comma = memchr(item, ',', len - pos);
		item_len = comma ? (size_t)(comma - item) : len - pos;
		if (item_len == 0)
			return ctx_error(ctx, -EINVAL,
					 "port list: empty item at offset %zu "
					 "(two commas, or a comma at an end)",
					 pos);
		dash = memchr(item, '-', item_len);
		if (dash) {
			size_t l1 = (size_t)(dash - item);

			r = parse_port(ctx, item, l1, item, item_len, &lo);
			if (r < 0)
				return r;
			r = parse_port(ctx, dash + 1, item_len - l1 - 1, item,
				       item_len, &hi);
			if (r < 0)
				return r;
			if (lo > hi)
				return ctx_error(
					ctx, -EINVAL,
					"port list: %s is an inverted "
					"range (%u > %u)",
					num_quote(item, item_len, q, sizeof(q)),
					lo, hi);
		} else {
			r = parse_port(ctx, item, item_len, item, item_len,
				       &lo);
			if (r < 0)
				return r;
			hi = lo;
		}
		eph_portset_add(&tmp, lo, hi);
		if (!comma)
			break;
		pos += item_len + 1;
	}
	eph_portset_copy(ps, &tmp);
	return 0;
}

EPH_EXPORT size_t eph_portset_format(const struct eph_portset *ps, char *buf,
				     size_t size)
{
	size_t n = 0;
	int32_t lo;
	uint32_t hi;
	char item[16];

	if (size)
		buf[0] = '\0';
	for (lo = eph_portset_next(ps, 0); lo >= 0;
	     lo = eph_portset_next(ps, hi + 1)) {
		int l;

		hi = next_clear(ps, (uint32_t)lo) - 1;
		if (hi > (uint32_t)lo)
			l = snprintf(item, sizeof(item), "%s%d-%u",
				     n ? "," : "", lo, hi);
		else
			l = snprintf(item, sizeof(item), "%s%d", n ? "," : "",
				     lo);
		if (n + 1 < size) {
			size_t room = size - 1 - n;
			size_t c = (size_t)l < room ? (size_t)l : room;

			memcpy(buf + n, item, c);
			buf[n + c] = '\0';
		}
		n += (size_t)l;
		if (hi >= EPH_PORT_MAX)
			break;
	}
	return n;
}

EPH_EXPORT int eph_portset_parse_lines(struct eph_ctx *ctx,
				       struct eph_portset *ps, const char *s,
				       size_t len)
{
	struct eph_portset tmp, line_set;
	size_t pos = 0;
	unsigned int line = 0;
	const char *start;
	size_t l;

	ctx_clear_error(ctx);
	memset(&tmp, 0, sizeof(tmp));

	while (num_next_line(s, len, &pos, &start, &l)) {
		const char *hash = memchr(start, '#', l);
		size_t b = 0, e = hash ? (size_t)(hash - start) : l;
		int r;

		line++;
		while (b < e && (start[b] == ' ' || start[b] == '\t' ||
				 start[b] == '\r'))
			b++;
		while (e > b && (start[e - 1] == ' ' || start[e - 1] == '\t' ||
				 start[e - 1] == '\r'))
			e--;
		if (b == e)
			continue;
		r = eph_portset_parse(ctx, &line_set, start + b, e - b);
		if (r < 0)
			return ctx_error(ctx, r, "line %u: %s", line,
					 eph_ctx_errmsg(ctx));
		eph_portset_union(&tmp, &line_set);
	}
	eph_portset_copy(ps, &tmp);
	return 0;
}

EPH_EXPORT char *eph_portset_to_string(const struct eph_portset *ps)
{
	size_t n = eph_portset_format(ps, NULL, 0);
	char *s = malloc(n + 1);

	if (s)
		eph_portset_format(ps, s, n + 1);
	return s;
}

/* Port list files are short: a megabyte is more than any needs. */
#define LIST_FILE_MAX (1024 * 1024)

EPH_EXPORT int eph_portset_read_file(struct eph_ctx *ctx,
				     struct eph_portset *ps, const char *path)
{
	char *buf;
	size_t len;
	int r;

	r = fileio_read(ctx, AT_FDCWD, path, NULL, 0, LIST_FILE_MAX, &buf,
			&len);
	if (r < 0)
		return r;
	r = eph_portset_parse_lines(ctx, ps, buf, len);
	free(buf);
	if (r < 0)
		return ctx_error(ctx, r, "%s: %s", path, eph_ctx_errmsg(ctx));
	return 0;
}
