/* SPDX-License-Identifier: MIT */
/*
 * The words for the tracer's record, shared by every front end that uses
 * it: when history is used ("history since 10:41"), and without it,
 * which numbers could be off and why.
 */
#ifndef EPHPORT_CLI_HISTORY_WORDS_H
#define EPHPORT_CLI_HISTORY_WORDS_H

#include <stdio.h>

#include "ephport/ephport.h"
#include "json.h"

/* What the blind spots of a socket dump can make wrong (a mask). */
#define HISTORY_DOUBT_BLOCKING                                                 \
	(1u << 0)			   /* free counts: bound-first and     \
					      accepted connections */
#define HISTORY_DOUBT_TIMESTAMPS (1u << 1) /* TIME_WAIT reuse */
#define HISTORY_DOUBT_KINDS                                                    \
	(1u << 2) /* why: holder kinds, and a                                  \
		     TIME_WAIT's process */

/*
 * One paragraph on REC (NULL: none was read), wrapped after INDENT; with
 * the record unused, what DOUBTS could be off.
 */
void history_text(FILE *f, const char *indent, const struct eph_record *rec,
		  uint32_t doubts);

/* The "history" member: {"state","used","since","recorder_pid",...}. */
void history_json(struct json *j, const struct eph_record *rec,
		  uint32_t doubts);

#endif
