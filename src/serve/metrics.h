/* SPDX-License-Identifier: MIT */
/*
 * The renderers of the exporter, pure: the Prometheus text format
 * (/metrics, `ephport metrics`) and the JSON of /api/v1/snapshot, both
 * from the view of the last scan.
 */
#ifndef EPHPORT_SERVE_METRICS_H
#define EPHPORT_SERVE_METRICS_H

#include <stdio.h>

#include "collect.h"

/* The Content-Type of the text format. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Escapes S[0..LEN) as a label value of the text format into BUF (cut at
 * SIZE, always NUL-terminated when SIZE > 0): backslash, double quote and
 * newline are escaped, and bytes that are not valid UTF-8 (and NUL)
 * become U+FFFD, since the format is UTF-8. Returns the length of the whole
 * escaped form, excluding the NUL, as snprintf() does.
 */
size_t metrics_escape(const char *s, size_t len, char *buf, size_t size);

/* Writes the text format of V to F. */
void metrics_render(FILE *f, const struct view *v);

/* Writes the JSON of /api/v1/snapshot of V to F: the shapes of the
 * commands, with each destination's forecast added. */
void api_render(FILE *f, const struct view *v);

#endif
