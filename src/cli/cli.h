/* SPDX-License-Identifier: MIT */
/*
 * The ephport command: what every subcommand shares. A subcommand parses
 * its options with cli_parse(), calls the library, and renders the result
 * as text or JSON; every failure is reported once, through cli_fail(),
 * cli_usage_error() or cli_error(), which also speak JSON under --json.
 */
#ifndef EPHPORT_CLI_H
#define EPHPORT_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "color.h"
#include "ephport/ephport.h"

/* Exit codes, the same for every command (ephport(8), EXIT STATUS). */
enum {
	EXIT_OK = 0,	/* yes, done, nothing at risk */
	EXIT_NO = 1,	/* the answer is no: busy, at risk, refused */
	EXIT_ERROR = 2, /* ephport could not answer: usage, namespace, I/O */
};

/* cli_parse() printed --help: the command is done, with EXIT_OK. */
#define CLI_DONE (-1)

struct json;

struct cli {
	struct eph_ctx *ctx;
	const char *netns;
	bool json;
	enum color_when color; /* --color, COLOR_AUTO by default */
	const char *cmd;       /* the subcommand's name, for messages */
	char errmsg[512];      /* the last failure reported */
};

/* What follows an option (struct cli_opt's arg). */
enum {
	CLI_NO_VALUE = 0, /* nothing: a flag (false reads as this) */
	CLI_VALUE = 1,	  /* a value, always (true reads as this) */
	/*
	 * A value when one is attached ("--watch=5", "-W5") or when the next
	 * word starts with a digit ("--watch 5"); else none (NULL).
	 */
	CLI_OPT_VALUE = 2,
};

/* One option of a subcommand. */
struct cli_opt {
	const char *name;  /* the long name, without "--" */
	char letter;	   /* the short one, or 0 */
	unsigned char arg; /* CLI_NO_VALUE, CLI_VALUE or CLI_OPT_VALUE */
	int id;		   /* handed to the handler */
};

/*
 * Parses a subcommand's words. OPTS ends with a zeroed entry; the global
 * options --help, --json, --netns, --color and --version are added to it
 * (--help prints HELP, --version the version and what this kernel lets
 * ephport use, once the rest is parsed). Once parsed, colour is decided
 * (color_setup()). ON_OPT gets every other option
 * with its value (NULL for a CLI_OPT_VALUE given none) and returns
 * EXIT_OK, or EXIT_ERROR after reporting why; it may be NULL when OPTS is
 * empty. A long option takes its value as "--opt VALUE" or "--opt=VALUE".
 * With PERMUTE, options may follow the positional words. *RET_FIRST is
 * set to the first positional word. Returns EXIT_OK, CLI_DONE (help or
 * version printed) or EXIT_ERROR (reported).
 */
int cli_parse(struct cli *cli, int argc, char **argv,
	      const struct cli_opt *opts, bool permute, const char *help,
	      int (*on_opt)(struct cli *cli, int id, const char *arg,
			    void *data),
	      void *data, int *ret_first);

/*
 * Reads ARGV as cli_parse() would with OPTS and PERMUTE, but reports and
 * changes nothing, for what must be known before parsing can fail.
 * cli_given() says whether the option called NAME (a long name, global
 * ones included) is given before "--": by its name, an abbreviation of it
 * that names no other, or its letter in a cluster of short flags before
 * any letter that takes a value; a word that is another option's value
 * does not count. cli_first_word() returns the index of the first
 * positional word, ARGC when there is none.
 */
bool cli_given(int argc, char **argv, const struct cli_opt *opts, bool permute,
	       const char *name);
int cli_first_word(int argc, char **argv, const struct cli_opt *opts,
		   bool permute);

/* Flags an option given twice; returns EXIT_OK or EXIT_ERROR. */
int cli_once(struct cli *cli, bool *seen, const char *name);
/* --by ARG: a kind of consumer into *BY, *SET true; with NONE_OK "none"
 * sets *SET false. A usage error otherwise. */
int cli_by(struct cli *cli, const char *arg, bool none_ok, bool *set,
	   enum eph_by *by);

/*
 * Quotes S for a message: cut to 60 characters (with "..."), control
 * characters escaped. BUF needs 96 bytes. Returns BUF.
 */
const char *cli_quote(const char *s, char *buf, size_t size);

/*
 * Says on stderr, and only there, what went wrong after the output was
 * printed (the output already shows it); returns EXIT_ERROR.
 */
int cli_warn(struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Reports a usage error and returns EXIT_ERROR. */
int cli_usage_error(struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Reports the library's last failure, prefixed by WHAT (may be NULL), and
 * returns EXIT_ERROR.
 */
int cli_fail(struct cli *cli, const char *what);

/*
 * Reports a failure with a stable CODE (JSON's error.code) and returns
 * EXIT (EXIT_NO for a refusal, EXIT_ERROR otherwise).
 */
int cli_error(struct cli *cli, const char *code, int exit, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Applies --netns to the context. Returns EXIT_OK or EXIT_ERROR. */
int cli_apply_netns(struct cli *cli);

/*
 * The command that repeats a remedy in the namespace it was computed for:
 * "ephport --netns NS " when one was given, else "ephport ".
 */
const char *cli_prefix(const struct cli *cli, char *buf, size_t size);

/*
 * What runs another program inside the namespace inspected: "ip netns
 * exec NS ", "nsenter --net=... ", or "" for the caller's own.
 */
const char *cli_in_netns(const struct cli *cli, char *buf, size_t size);

/* Starts the one JSON object a command prints, with its "netns" member. */
void cli_json_begin(struct cli *cli, struct json *j);
/* Closes that object and ends the line. */
void cli_json_finish(struct json *j);
/* Prints a table's title line, naming the namespace when one was given. */
void cli_heading(struct cli *cli, const char *title);
/* Prints a blank line, then TITLE as a heading, on F. */
void cli_section(FILE *f, const char *title);

/*
 * Prints TEXT wrapped at 79 columns; the first line starts with FIRST, the
 * others with as many spaces.
 */
void cli_wrap(FILE *f, const char *first, const char *text);
/* The same with every line coloured in ROLE (on a terminal). */
void cli_wrap_role(FILE *f, enum color_role role, const char *first,
		   const char *text);
/* The same on a line already at column COL (its start printed, in colour
 * or not), the next lines indented as much. */
void cli_wrap_at(FILE *f, size_t col, const char *text);

/*
 * ephport --version: the version, then what this kernel lets ephport use
 * (version.c). Returns EXIT_OK, or EXIT_ERROR after reporting why.
 */
int cli_version(struct cli *cli);

int cmd_overview(struct cli *cli, int argc, char **argv);
int cmd_ranges(struct cli *cli, int argc, char **argv);
int cmd_usage(struct cli *cli, int argc, char **argv);
int cmd_why(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_reserve(struct cli *cli, int argc, char **argv);
int cmd_unreserve(struct cli *cli, int argc, char **argv);
int cmd_set_range(struct cli *cli, int argc, char **argv);
int cmd_pick(struct cli *cli, int argc, char **argv);
int cmd_serve(struct cli *cli, int argc, char **argv);
int cmd_metrics(struct cli *cli, int argc, char **argv);

/* usage --watch [S] (usage_watch.c). */
struct usage_watch_opts {
	bool all, no_owners;
	size_t top;
	uint32_t every; /* seconds between scans */
	struct eph_thresholds th;
};
int usage_watch(struct cli *cli, const struct usage_watch_opts *o);
/*
 * main.c failed with RC before `usage` ran (ARGV from the word "usage"
 * on): under usage --check that is UNKNOWN, said on a status line, and
 * the return is 3; otherwise RC.
 */
int usage_failed_early(struct cli *cli, int argc, char **argv, int rc);
int cmd_trace(struct cli *cli, int argc, char **argv);

struct eph_change;
struct eph_change_request;

/*
 * Plans and applies REQ in the context's namespace and root (cmd_reserve.c).
 * A refusal or a failure is reported, and returns EXIT_NO or EXIT_ERROR;
 * on EXIT_OK *RET holds the change done (or, with EPH_CHANGE_DRY_RUN,
 * planned), for the caller to render and free.
 */
int change_do(struct cli *cli, const struct eph_change_request *req,
	      struct eph_change **ret);
/* Renders change C as text on F, or as members of an open JSON object. */
void change_print_text(const struct cli *cli, const struct eph_change *c,
		       FILE *f);
void change_json_members(const struct cli *cli, struct json *j,
			 const struct eph_change *c);
/*
 * Says so on stderr when the persisted value is not what boots; returns
 * EXIT_NO then (done, but not a yes), else EXIT_OK.
 */
int change_boot_check(const struct cli *cli, const struct eph_change *c);

/* ---- Being replaced: the commands not yet on cli_parse() use these ---- */

#include <getopt.h>

#define CLI_COMMON_SHORT ":hjn:"
#define CLI_COMMON_LONG                                                        \
	{ "help", no_argument, NULL, 'h' },                                    \
		{ "json", no_argument, NULL, 'j' },                            \
		{ "netns", required_argument, NULL, 'n' },                     \
	{                                                                      \
		NULL, 0, NULL, 0                                               \
	}
#define EXIT_FAIL EXIT_NO
#define EXIT_USAGE EXIT_ERROR
int cli_common_option(struct cli *cli, int c, const char *help, bool *done);
const char *cli_argv_current(void);
int cli_parse_os(struct cli *cli, const char *list, const struct eph_os **os,
		 size_t *n, size_t max);
int ranges_load(struct cli *cli, struct eph_policy **ret);

#endif
