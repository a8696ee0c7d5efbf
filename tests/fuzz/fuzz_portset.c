/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the port-list parser: any bytes must either parse
 * to a set whose canonical form parses back to the same set, or fail
 * cleanly with a message; never crash, never leak.
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
	if (eph_portset_parse(ctx, a, (const char *)data, size) < 0) {
		if (!eph_ctx_errmsg(ctx)[0])
			abort(); /* a failure must say why */
		goto out;
	}
	len = eph_portset_format(a, NULL, 0);
	buf = malloc(len + 1);
	if (!buf)
		goto out;
	if (eph_portset_format(a, buf, len + 1) != len || strlen(buf) != len)
		abort();
	if (eph_portset_parse(ctx, b, buf, len) < 0 || !eph_portset_equal(a, b))
		abort();
out:
	free(buf);
	eph_portset_free(a);
	eph_portset_free(b);
	eph_ctx_free(ctx);
	return 0;
}
