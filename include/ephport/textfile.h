/* SPDX-License-Identifier: MIT */
/* Textfile: metrics handed to node_exporter's textfile collector. */
#ifndef EPHPORT_TEXTFILE_H
#define EPHPORT_TEXTFILE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The file written in the collector's directory. */
#define EPH_TEXTFILE_NAME "ephport.prom"

/*
 * Writes the LEN bytes of CONTENT (the Prometheus text format) as
 * DIR/ephport.prom, for node_exporter's --collector.textfile.directory:
 * into a hidden temporary file beside it (a name the collector skips),
 * fsync'd and renamed over it, with DIR locked against other ephport
 * writers, so that the collector never reads half a file. DIR must exist.
 * On failure the old file is untouched, no temporary file is left, and
 * the detail names DIR (or DIR/ephport.prom). Returns 0 or a negative
 * errno.
 */
int eph_textfile_write(struct eph_ctx *ctx, const char *dir,
		       const char *content, size_t len);

#ifdef __cplusplus
}
#endif

#endif
