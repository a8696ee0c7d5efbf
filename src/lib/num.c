/* SPDX-License-Identifier: MIT */
/*
 * The one number parser. Every number that comes from a user or a file
 * passes through here: decimal digits only, no sign, no blanks, no trailing
 * text, bounds checked, and an error message that quotes the input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

const char *num_quote(const char *s, size_t len, char *buf, size_t size)
{
	size_t o = 0;

	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	/* Invariant: o + 5 <= size, room for "...", the quote and the NUL. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t w = c == '"' || c == '\\'   ? 2
			   : c < 0x20 || c >= 0x7f ? 4
						   : 1;

		if (o + w + 5 > size) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (w == 2) {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (w == 4) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

void num_trim_newline(const char *s, size_t *len)
{
	if (*len > 0 && s[*len - 1] == '\n')
		(*len)--;
}

EPH_EXPORT int eph_num_parse(struct eph_ctx *ctx, const char *s, size_t len,
			     uint64_t min, uint64_t max, const char *what,
			     uint64_t *ret)
{
	char q[64];
	uint64_t v = 0;
	bool overflow = false;

	if (len == 0)
		return ctx_error(ctx, -EINVAL, "%s: empty, expected a number",
				 what);
	for (size_t i = 0; i < len; i++) {
		unsigned int d = (unsigned char)s[i] - '0';

		if (d > 9)
			return ctx_error(ctx, -EINVAL, "%s: %s is not a number",
					 what, num_quote(s, len, q, sizeof(q)));
		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	if (overflow || v < min || v > max)
		return ctx_error(
			ctx, -ERANGE, "%s: %s is out of range (%llu-%llu)",
			what, num_quote(s, len, q, sizeof(q)),
			(unsigned long long)min, (unsigned long long)max);
	*ret = v;
	return 0;
}

EPH_EXPORT int eph_num_parse_str(struct eph_ctx *ctx, const char *s,
				 uint64_t min, uint64_t max, const char *what,
				 uint64_t *ret)
{
	return eph_num_parse(ctx, s, strlen(s), min, max, what, ret);
}

bool num_next_line(const char *buf, size_t len, size_t *pos,
		   const char **ret_line, size_t *ret_len)
{
	const char *s, *nl;

	if (*pos >= len)
		return false;
	s = buf + *pos;
	nl = memchr(s, '\n', len - *pos);
	*ret_line = s;
	*ret_len = nl ? (size_t)(nl - s) : len - *pos;
	*pos += *ret_len + (nl ? 1 : 0);
	return true;
}

int num_grow(void **items, size_t *cap, size_t n, size_t size)
{
	size_t c;
	void *m;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	if (c > SIZE_MAX / size)
		return -ENOMEM;
	m = realloc(*items, c * size);
	if (!m)
		return -ENOMEM;
	*items = m;
	*cap = c;
	return 0;
}

void num_today(char buf[11])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, 11, "%Y-%m-%d", &tm);
}
