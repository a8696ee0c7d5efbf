/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the sock_diag reply parser: any bytes, as one
 * received chunk, must parse or be refused with a message; never crash,
 * never read outside the chunk.
 */
#include <stdint.h>
#include <stdlib.h>

#include <netinet/in.h>

#include "internal.h"
#include "../helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int touch(const struct eph_sock *s, void *data)
{
	char buf[64];

	(*(unsigned int *)data)++;
	eph_addr_format(s->local, buf, sizeof(buf));
	eph_addr_format(s->remote, buf, sizeof(buf));
	return eph_tcp_state_name(s->state)[0] ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct eph_scan_ops ops = { NULL, touch };
	struct eph_ctx *ctx = ctx_new();
	unsigned int n = 0;
	bool intr;
	int r;

	if (!ctx)
		return 0;
	/* Copy so that ASan sees the exact end of the chunk. */
	uint8_t *copy = malloc(size ? size : 1);

	if (copy) {
		for (size_t i = 0; i < size; i++)
			copy[i] = data[i];
		r = sockdiag_parse(ctx, copy, size, IPPROTO_TCP, 0, 0, &ops, &n,
				   &intr);
		if (r < 0 && !eph_ctx_errmsg(ctx)[0])
			abort();
		free(copy);
	}
	eph_ctx_free(ctx);
	return 0;
}
