/* SPDX-License-Identifier: MIT */
/*
 * Colour on a terminal, by role: the renderers say what a piece of text
 * is (good, a warning, critical, a heading, secondary) and this module
 * decides whether, and how, it is coloured. --color=auto colours what goes
 * to a terminal only; NO_COLOR (any non-empty value) turns it off unless
 * --color=always; TERM=dumb turns it off under auto; JSON never has it.
 * The library knows nothing of it.
 */
#ifndef EPHPORT_CLI_COLOR_H
#define EPHPORT_CLI_COLOR_H

#include <stdbool.h>
#include <stdio.h>

enum color_role {
	COLOR_OK,      /* a yes: bindable, picked, passes (green) */
	COLOR_WARN,    /* a warning (yellow) */
	COLOR_CRIT,    /* a no: critical, refused, cannot be bound (red) */
	COLOR_HEADING, /* a section's title (bold) */
	COLOR_DIM,     /* what matters less (faint) */
};

enum color_when {
	COLOR_AUTO, /* the default: colour what goes to a terminal */
	COLOR_ALWAYS,
	COLOR_NEVER,
};

/* Parses "auto", "always" or "never" into *RET. Returns 0 or -1. */
int color_when_parse(const char *s, enum color_when *ret);

/*
 * Decides, for standard output and standard error, whether they get
 * colour: WHEN as --color said, the environment (NO_COLOR, TERM), whether
 * each is a terminal; never with JSON. Called again, it decides again.
 */
void color_setup(enum color_when when, bool json);

/* Does F (stdout or stderr; anything else never) get colour? */
bool color_enabled(FILE *f);

/* The escape sequence that starts ROLE on F, and the one that ends it;
 * "" when F gets no colour. */
const char *color_start(FILE *f, enum color_role role);
const char *color_end(FILE *f);

/* Prints S, or formats FMT, on F in ROLE. */
void color_puts(FILE *f, enum color_role role, const char *s);
void color_printf(FILE *f, enum color_role role, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
