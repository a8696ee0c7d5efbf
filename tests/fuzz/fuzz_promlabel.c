/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the exporter's escaping of label values: any bytes
 * must come out as valid UTF-8 without a raw newline, an unescaped quote
 * or a NUL, unescape back to the input when it was valid UTF-8 without
 * NUL, and report the same length whatever the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/serve/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The length of the valid UTF-8 sequence at S, or 0. */
static size_t seq(const unsigned char *s, size_t len)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int valid(const unsigned char *s, size_t len)
{
	for (size_t i = 0, n; i < len; i += n)
		if (!(n = seq(s + i, len - i)))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = metrics_escape((const char *)data, size, NULL, 0), o = 0;
	char *out = malloc(n + 1), *back = malloc(n + 1), small[4];

	if (!out || !back)
		abort();
	if (metrics_escape((const char *)data, size, out, n + 1) != n ||
	    strlen(out) != n || !valid((const unsigned char *)out, n) ||
	    memchr(out, '\n', n))
		abort();
	if (metrics_escape((const char *)data, size, small, sizeof(small)) !=
		    n ||
	    strlen(small) != (n < sizeof(small) ? n : sizeof(small) - 1))
		abort();
	for (size_t i = 0; i < n; i++) {
		char c = out[i];

		if (c == '"')
			abort(); /* a quote must come escaped */
		if (c == '\\') {
			c = out[++i];
			if (c == 'n')
				c = '\n';
			else if (c != '\\' && c != '"')
				abort();
		}
		back[o++] = c;
	}
	if (valid(data, size) && !memchr(data, '\0', size) &&
	    (o != size || memcmp(back, data, size)))
		abort();
	free(out);
	free(back);
	return 0;
}
