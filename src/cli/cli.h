/* SPDX-License-Identifier: MIT */
/* The ephport command: shared state of one run and the subcommands. */
#ifndef EPHPORT_CLI_H
#define EPHPORT_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "ephport/ephport.h"

/* Exit codes, documented in ephport(8). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	/* a runtime failure, or a finding (per command) */
	EXIT_USAGE = 2, /* bad command line; nothing was done */
};

struct cli {
	struct eph_ctx *ctx;
	const char *netns;
	bool json;
	const char *cmd; /* the subcommand's name, for messages */
};

/*
 * Options every subcommand accepts besides its own. A subcommand's getopt
 * string starts with "+:hjn:" and its option table ends with these.
 */
#define CLI_COMMON_SHORT ":hjn:"
#define CLI_COMMON_LONG                                                        \
	{ "help", no_argument, NULL, 'h' },                                    \
		{ "json", no_argument, NULL, 'j' },                            \
		{ "netns", required_argument, NULL, 'n' },                     \
	{                                                                      \
		NULL, 0, NULL, 0                                               \
	}

/*
 * Handles one option of the common set, or a getopt error. Returns -1 when
 * the option is not a common one, EXIT_OK to go on, EXIT_USAGE after
 * reporting a usage error; *DONE is set when --help was printed.
 */
int cli_common_option(struct cli *cli, int c, const char *help, bool *done);

/* The word getopt stopped at, for messages about it. */
const char *cli_argv_current(void);

/* Reports a usage error for the current command and returns EXIT_USAGE. */
int cli_usage_error(struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Applies --netns to the context. Returns EXIT_OK, or EXIT_FAIL after
 * reporting why.
 */
int cli_apply_netns(struct cli *cli);

/* Reports a library failure with its detail and returns EXIT_FAIL. */
int cli_fail(struct cli *cli, const char *what);

struct json;

/*
 * Parses an --os LIST (names from the OS table, comma-separated, or
 * "all") into OS[*N..MAX), each system once. Returns EXIT_OK, or
 * EXIT_USAGE after reporting the bad name.
 */
int cli_parse_os(struct cli *cli, const char *list, const struct eph_os **os,
		 size_t *n, size_t max);

/* Starts the one JSON object a command prints, with its "netns" member. */
void cli_json_begin(struct cli *cli, struct json *j);
/* Closes that object and ends the line. */
void cli_json_finish(struct json *j);
/* Prints a table's title line, naming the namespace when one was given. */
void cli_heading(struct cli *cli, const char *title);

/*
 * Prints TEXT wrapped at 79 columns; the first line starts with FIRST, the
 * others with as many spaces.
 */
void cli_wrap(FILE *f, const char *first, const char *text);

int cmd_overview(struct cli *cli, int argc, char **argv);
int cmd_ranges(struct cli *cli, int argc, char **argv);
int cmd_usage(struct cli *cli, int argc, char **argv);
int cmd_why(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_reserve(struct cli *cli, int argc, char **argv);
int cmd_unreserve(struct cli *cli, int argc, char **argv);
int cmd_set_range(struct cli *cli, int argc, char **argv);
int cmd_pick(struct cli *cli, int argc, char **argv);

/*
 * Reserves PORTS as 'ephport reserve' does (now, and in the drop-in unless
 * --netns), printing what it did. Returns EXIT_OK or EXIT_FAIL.
 */
int reserve_ports(struct cli *cli, const struct eph_portset *ports,
		  const char *reason);

/* Parts shared by the overview and the subcommands. */

/*
 * Applies --netns and reads the policy into a new *RET. Returns EXIT_OK,
 * or EXIT_FAIL after reporting why.
 */
int ranges_load(struct cli *cli, struct eph_policy **ret);
void ranges_print_summary(const struct eph_policy *p, FILE *f);
void ranges_print_warnings(const struct eph_policy *p, FILE *f);
void ranges_json(const struct eph_policy *p, struct json *j, bool with_os);

/*
 * The overview's usage part: the host line and the five fullest
 * destinations, as text, or as a "usage" member of J. The context's
 * namespace must already be set. Returns EXIT_OK or EXIT_FAIL.
 */
int usage_overview(struct cli *cli, struct json *j);

/*
 * The overview's audit part: the server ports at risk under P, as text, or
 * as an "at_risk" member of J. Returns EXIT_OK or EXIT_FAIL.
 */
int audit_overview(struct cli *cli, const struct eph_policy *p, struct json *j);

#endif
