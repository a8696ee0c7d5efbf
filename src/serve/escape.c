/* SPDX-License-Identifier: MIT */
/*
 * Label values of the Prometheus text format: UTF-8, with backslash,
 * double quote and newline escaped (see metrics.h). On its own so that the
 * fuzzer reaches it without the renderers.
 */
#include <stdbool.h>

#include "metrics.h"

/* The length of the UTF-8 sequence at S[0..LEN), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

size_t metrics_escape(const char *s, size_t len, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0;

#define PUT(str, n)                                                            \
	do {                                                                   \
		for (size_t k_ = 0; k_ < (n); k_++, o++)                       \
			if (o + 1 < size)                                      \
				buf[o] = (str)[k_];                            \
	} while (0)
	while (i < len) {
		size_t n = utf8_len(p + i, len - i);

		/* A NUL would end the value for whoever reads it as a C
		 * string: it goes the way of invalid bytes. */
		if (n == 0 || p[i] == '\0') {
			PUT("\xef\xbf\xbd", 3);
			i++;
		} else if (p[i] == '\\') {
			PUT("\\\\", 2);
			i++;
		} else if (p[i] == '"') {
			PUT("\\\"", 2);
			i++;
		} else if (p[i] == '\n') {
			PUT("\\n", 2);
			i++;
		} else {
			PUT((const char *)p + i, n);
			i += n;
		}
	}
#undef PUT
	if (size)
		buf[o < size ? o : size - 1] = '\0';
	return o;
}
