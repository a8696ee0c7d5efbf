/* SPDX-License-Identifier: MIT */
/* The words of ephport pick, apart from its options and its flow. */
#ifndef EPHPORT_CLI_PICK_WORDS_H
#define EPHPORT_CLI_PICK_WORDS_H

#include "cli.h"

/* What the words of a verdict need besides the verdict. */
struct pick_words {
	struct cli *cli;
	uint64_t systems;  /* the target systems, a mask of eph_os rows */
	const char *store; /* the assignments file */
	bool store_given;  /* named by --assignments: hints repeat it */
};

/* Words V, RULE's verdict on PORT: why it passes or fails, into BUF. */
void pick_why(const struct pick_words *w, const struct eph_pick_verdict *v,
	      uint16_t port, char *buf, size_t size);

/* The numbers behind V, as members of the open JSON object. */
void pick_verdict_json(struct json *j, const struct eph_pick_verdict *v);

/*
 * Reports a refusal: no candidate at all (COVERED), or fewer than COUNT
 * pass (SHORT), with what would change it. Return EXIT_NO.
 */
int pick_say_covered(const struct pick_words *w, const struct eph_pick *pk,
		     const struct eph_pick_result *r);
int pick_say_short(const struct pick_words *w, uint32_t count,
		   const struct eph_pick_result *r);

#endif
