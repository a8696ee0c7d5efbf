/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for ephport's drop-in: any bytes are parsed without a
 * crash; what parses is formatted, and the formatted text parses back to
 * the same drop-in and formats to the same text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const struct dropin *a, const struct dropin *b)
{
	if (a->wins != b->wins || a->has_reserved != b->has_reserved ||
	    a->has_range != b->has_range || a->nnotes != b->nnotes ||
	    !eph_portset_equal(&a->reserved, &b->reserved))
		abort();
	if (a->has_range && (a->low != b->low || a->high != b->high))
		abort();
	for (size_t i = 0; i < a->nnotes; i++)
		if (!eph_portset_equal(&a->notes[i].ports,
				       &b->notes[i].ports) ||
		    strcmp(a->notes[i].date, b->notes[i].date) != 0 ||
		    strcmp(a->notes[i].reason, b->notes[i].reason) != 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct eph_ctx *ctx;
	struct dropin d, again;
	char *text, *text2;
	size_t len, len2;
	int r;

	if (!ctx && !(ctx = ctx_new()))
		abort();
	r = dropin_parse(ctx, (const char *)data, size, "fuzz", &d, NULL);
	if (r == -EINVAL)
		return 0;
	if (r < 0)
		abort();
	if (dropin_format(&d, &text, &len) < 0)
		abort();
	if (dropin_parse(ctx, text, len, "fuzz", &again, NULL) < 0)
		abort();
	same(&d, &again);
	if (dropin_format(&again, &text2, &len2) < 0 || len != len2 ||
	    memcmp(text, text2, len) != 0)
		abort();
	free(text);
	free(text2);
	dropin_free(&d);
	dropin_free(&again);
	return 0;
}
