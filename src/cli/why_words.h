/* SPDX-License-Identifier: MIT */
/*
 * The words of ephport why: the holders, the verdict and the remedies as
 * the text and JSON say them, apart from the command's options and flow.
 */
#ifndef EPHPORT_CLI_WHY_WORDS_H
#define EPHPORT_CLI_WHY_WORDS_H

#include "cli.h"

struct why {
	struct cli *cli;
	struct eph_diag_request req;
	bool seen_addr, no_owners;
	const char *addr_text;
	struct eph_diagnosis *d;
	struct eph_record *rec; /* the tracer's, when it is there */
	char prefix[320];	/* "ephport [--netns NS] " */
	/* The words, made before anything is printed. */
	char *verdict;	   /* the text's, or JSON's (every holder) */
	char **cmd, **why; /* per remedy; cmd "" when there is none */
};

/* Is K a TIME_WAIT (either side)? */
bool why_is_tw(enum eph_holder_kind k);
/* E's name ("EADDRINUSE"), or its number when it has none. */
const char *why_errno_name(int e);
/* Prints holder X's lines of the text. */
void why_holder_text(const struct why *w, const struct eph_diag_holder *x);
/* What D cannot tell without a record (EPH_USAGE_DOUBT_* bits). */
uint32_t why_doubts(const struct eph_diagnosis *d);
/* A bind test's outcome in words, into BUF; and its colour role. */
const char *why_probe_words(const struct eph_diag_probe *x, char *buf,
			    size_t size);
const char *why_probe_color(const struct eph_diag_probe *x);
/* Words the verdict and every remedy into W (verdict, cmd, why): false
 * when out of memory. free_words frees them. */
bool why_make_words(struct why *w);
void why_free_words(struct why *w);

#endif
