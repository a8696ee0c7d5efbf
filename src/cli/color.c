/* SPDX-License-Identifier: MIT */
/* Colour on a terminal: one decision per stream, escape codes per role. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "color.h"

/* SGR sequences (ECMA-48): the eight basic colours work everywhere. */
static const char *const sgr[] = {
	[COLOR_OK] = "\033[32m",     [COLOR_WARN] = "\033[33m",
	[COLOR_CRIT] = "\033[1;31m", [COLOR_HEADING] = "\033[1m",
	[COLOR_DIM] = "\033[2m",
};
#define SGR_RESET "\033[0m"

/* Before color_setup() runs, nothing is coloured. */
static bool out_on, err_on;

int color_when_parse(const char *s, enum color_when *ret)
{
	if (strcmp(s, "auto") == 0)
		*ret = COLOR_AUTO;
	else if (strcmp(s, "always") == 0)
		*ret = COLOR_ALWAYS;
	else if (strcmp(s, "never") == 0)
		*ret = COLOR_NEVER;
	else
		return -1;
	return 0;
}

void color_setup(enum color_when when, bool json)
{
	const char *no_color = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	bool allowed;

	/* https://no-color.org: set and not empty means no colour, unless
	 * the command line asks for it outright. */
	if (json || when == COLOR_NEVER)
		allowed = false;
	else if (when == COLOR_ALWAYS)
		allowed = true;
	else
		allowed = !(no_color && *no_color) &&
			  !(term && strcmp(term, "dumb") == 0);
	out_on = allowed && (when == COLOR_ALWAYS || isatty(STDOUT_FILENO));
	err_on = allowed && (when == COLOR_ALWAYS || isatty(STDERR_FILENO));
}

bool color_enabled(FILE *f)
{
	return (f == stdout && out_on) || (f == stderr && err_on);
}

const char *color_start(FILE *f, enum color_role role)
{
	return color_enabled(f) ? sgr[role] : "";
}

const char *color_end(FILE *f)
{
	return color_enabled(f) ? SGR_RESET : "";
}

void color_puts(FILE *f, enum color_role role, const char *s)
{
	fputs(color_start(f, role), f);
	fputs(s, f);
	fputs(color_end(f), f);
}

void color_printf(FILE *f, enum color_role role, const char *fmt, ...)
{
	va_list ap;

	fputs(color_start(f, role), f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputs(color_end(f), f);
}
