/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the sysctl value parsers: ip_local_port_range's
 * "LOW HIGH" and the plain numbers of the other knobs. Any bytes must
 * parse to values within bounds or fail with a message.
 */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "../helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eph_ctx *ctx = ctx_new();
	uint16_t lo, hi;
	uint64_t v;

	if (!ctx)
		return 0;
	if (policy_range_parse(ctx, (const char *)data, size, &lo, &hi) == 0) {
		if (lo > hi)
			abort();
	} else if (!eph_ctx_errmsg(ctx)[0]) {
		abort();
	}
	if (eph_num_parse(ctx, (const char *)data, size, 1, 65535, "n", &v) ==
	    0) {
		if (v < 1 || v > 65535)
			abort();
	} else if (!eph_ctx_errmsg(ctx)[0]) {
		abort();
	}
	eph_ctx_free(ctx);
	return 0;
}
