/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the sysctl.d parser: any bytes are read line by
 * line without a crash; every line handed out lies inside the input, has
 * either a key or an error, and line numbers only grow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
	const char *buf;
	size_t len;
	unsigned int last;
};

static int inside(const struct state *st, const char *p, size_t n)
{
	return p >= st->buf && p + n <= st->buf + st->len;
}

static int check(const struct sysctld_line *l, void *data)
{
	struct state *st = data;

	if (l->line <= st->last)
		abort();
	st->last = l->line;
	if (!l->key) {
		if (!l->error || !l->error[0])
			abort();
		return 0;
	}
	if (l->key_len == 0 || !inside(st, l->key, l->key_len) ||
	    !inside(st, l->value, l->value_len) ||
	    memchr(l->key, '\n', l->key_len) ||
	    memchr(l->value, '\n', l->value_len))
		abort();
	/* The key matcher must accept any key it is given. */
	(void)sysctld_key_is(l->key, l->key_len,
			     "net.ipv4.ip_local_reserved_ports");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st = { (const char *)data, size, 0 };

	if (sysctld_parse((const char *)data, size, check, &st) < 0)
		abort();
	return 0;
}
