/* SPDX-License-Identifier: MIT */
/* The live page's files, compiled in by src/serve/embed.py. */
#ifndef EPHPORT_SERVE_PAGE_H
#define EPHPORT_SERVE_PAGE_H

#include <stddef.h>

struct page_asset {
	const char *path; /* "/" for index.html */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* Ends with an entry whose path is NULL. */
extern const struct page_asset page_assets[];

#endif
