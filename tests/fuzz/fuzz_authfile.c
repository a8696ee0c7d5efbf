/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the exporter's basic-auth file: any bytes parse
 * to at least one user, or fail with a message naming a line; never crash,
 * never leak. The hashes are not run through crypt(3) here: a file may
 * ask for any cost, which is the operator's to choose.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/serve/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth *a = NULL;
	char err[256] = "";
	int r = auth_parse((const char *)data, size, &a, err, sizeof(err));

	if (r == 0) {
		if (!a || auth_count(a) == 0 || err[0])
			abort();
		auth_free(a);
	} else if (a || strncmp(err, "line ", 5) != 0) {
		abort();
	}
	return 0;
}
