/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the assignments parser: any bytes are read without
 * a crash; every entry handed out is sound (a valid name, a port, a date)
 * and unique by name and by port; a refusal names its line.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	struct eph_portset *ports;
	unsigned int last_line;
};

static int check_entry(const struct eph_assignment *e, unsigned int line,
		       void *data)
{
	struct seen *s = data;

	if (e->port == 0 ||
	    !eph_assignment_name_valid(e->name, strlen(e->name)) ||
	    strlen(e->date) != 10 || line <= s->last_line ||
	    eph_portset_has(s->ports, e->port))
		abort();
	eph_portset_add(s->ports, e->port, e->port);
	s->last_line = line;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eph_ctx *ctx = ctx_new();
	struct seen s = { ps_new(), 0 };
	int r;

	if (ctx && s.ports) {
		r = assignments_parse(ctx, (const char *)data, size,
				      check_entry, &s);
		if (r < 0 && (r != -EBADMSG ||
			      strncmp(eph_ctx_errmsg(ctx), "line ", 5) != 0))
			abort();
	}
	eph_portset_free(s.ports);
	eph_ctx_free(ctx);
	return 0;
}
