/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the tracer's record file: any bytes are parsed
 * without a crash, as they come and once more with a checksum that
 * matches (so that the fuzzer gets past it to the fields and entries).
 * What parses is formatted, and the formatted bytes are the input's,
 * parse again, and answer lookups without a crash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(struct eph_ctx *ctx, const uint8_t *buf, size_t len)
{
	struct eph_record *r = NULL, *again = NULL;
	const struct eph_history *h;
	struct eph_history_entry e;
	struct eph_sock s;
	const void *out;
	size_t olen;
	int err;

	err = history_parse(ctx, buf, len, NULL, 1, &r);
	if (err == -EBADMSG)
		return;
	if (err < 0)
		abort();
	if (history_format(r, &out, &olen) < 0 || olen != len ||
	    memcmp(out, buf, len) != 0)
		abort();
	if (history_parse(ctx, out, olen, NULL, 1, &again) < 0)
		abort();
	if (history_count(again) != history_count(r))
		abort();
	/* Lookups of a socket the record may or may not hold. */
	h = eph_record_history(r);
	if (!h)
		abort();
	memset(&s, 0, sizeof(s));
	s.proto = 6;
	s.local_port = 40000;
	s.remote_port = 443;
	s.state = 6;
	(void)h->lookup(h->data, &s, &e);
	s.state = 1;
	(void)h->lookup(h->data, &s, &e);
	history_expire(r, UINT64_MAX / 2);
	history_free(again);
	history_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct eph_ctx *ctx;
	uint8_t *copy;

	if (!ctx && !(ctx = ctx_new()))
		abort();
	round_trip(ctx, data, size);
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	history_seal(copy, size);
	round_trip(ctx, copy, size);
	free(copy);
	return 0;
}
