/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the port-list file parser (audit --file): any bytes
 * must either parse to a set whose canonical form, as one line, parses
 * back to the same set, or fail cleanly with a message naming a line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eph_ctx *ctx = ctx_new();
	struct eph_portset *a = ps_new(), *b = ps_new();
	char *buf = NULL;
	size_t len;

	if (!ctx || !a || !b)
		goto out;
	if (eph_portset_parse_lines(ctx, a, (const char *)data, size) < 0) {
		if (strncmp(eph_ctx_errmsg(ctx), "line ", 5) != 0)
			abort(); /* a failure must name its line */
		goto out;
	}
	len = eph_portset_format(a, NULL, 0);
	buf = malloc(len + 1);
	if (!buf)
		goto out;
	eph_portset_format(a, buf, len + 1);
	if (eph_portset_parse_lines(ctx, b, buf, len) < 0 ||
	    !eph_portset_equal(a, b))
		abort();
out:
	free(buf);
	eph_portset_free(a);
	eph_portset_free(b);
	eph_ctx_free(ctx);
	return 0;
}
