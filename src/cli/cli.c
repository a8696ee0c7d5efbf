/* SPDX-License-Identifier: MIT */
/*
 * What every subcommand shares: one option parser, one way to report a
 * failure (text on stderr, and under --json an object on stdout), and the
 * frame of the output.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "json.h"

#define MAX_OPTS 32

/* The id of --color, which has no letter. */
#define OPT_COLOR 1000

/* The options every command takes, the global ones. */
static const struct cli_opt common[] = {
	{ "help", 'h', CLI_NO_VALUE, 'h' },
	{ "json", 'j', CLI_NO_VALUE, 'j' },
	{ "netns", 'n', CLI_VALUE, 'n' },
	{ "color", 0, CLI_VALUE, OPT_COLOR },
	{ "version", 'V', CLI_NO_VALUE, 'V' },
};
#define NCOMMON (sizeof(common) / sizeof(common[0]))

const char *cli_quote(const char *s, char *buf, size_t size)
{
	size_t o = 0, i = 0, n = strlen(s);

	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '\'';
	for (; i < n && i < 60 && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (i < n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

/* Writes the error object of --json: {"netns":..,"error":{..}}. */
static void json_error(struct cli *cli, const char *code, const char *msg)
{
	struct json j;

	if (!cli->json)
		return;
	cli_json_begin(cli, &j);
	json_obj(&j, "error");
	json_str(&j, "code", code);
	json_str(&j, "message", msg);
	json_str(&j, "command", cli->cmd);
	json_obj_end(&j);
	cli_json_finish(&j);
}

/* Says MSG on stderr (in red when it is a no: a refusal, nothing picked)
 * and, under --json, as the error object. */
static void report(struct cli *cli, const char *code, bool no, const char *msg)
{
	snprintf(cli->errmsg, sizeof(cli->errmsg), "%s", msg);
	fprintf(stderr, "ephport: %s%s%s%s%s\n", cli->cmd ? cli->cmd : "",
		cli->cmd ? ": " : "", no ? color_start(stderr, COLOR_CRIT) : "",
		msg, no ? color_end(stderr) : "");
	json_error(cli, code, msg);
}

int cli_warn(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cli->errmsg, sizeof(cli->errmsg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ephport: %s%s%s\n", cli->cmd ? cli->cmd : "",
		cli->cmd ? ": " : "", cli->errmsg);
	return EXIT_ERROR;
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(cli, "usage", false, msg);
	fprintf(stderr, "Try 'ephport %s%s--help'.\n", cli->cmd ? cli->cmd : "",
		cli->cmd ? " " : "");
	return EXIT_ERROR;
}

int cli_error(struct cli *cli, const char *code, int exit, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(cli, code, exit == EXIT_NO, msg);
	return exit;
}

int cli_fail(struct cli *cli, const char *what)
{
	const char *detail = eph_ctx_errmsg(cli->ctx);
	int err = eph_ctx_errno(cli->ctx);
	const char *code = err ? strerrorname_np(-err) : NULL;
	char msg[1024];

	if (what && *detail)
		snprintf(msg, sizeof(msg), "%s: %s", what, detail);
	else
		snprintf(msg, sizeof(msg), "%s", *detail ? detail : what);
	report(cli, code ? code : "EIO", false, msg);
	return EXIT_ERROR;
}

int cli_apply_netns(struct cli *cli)
{
	if (!cli->netns)
		return EXIT_OK;
	if (eph_ctx_set_netns(cli->ctx, cli->netns) < 0)
		return cli_fail(cli, NULL);
	return EXIT_OK;
}

const char *cli_prefix(const struct cli *cli, char *buf, size_t size)
{
	/* A name made of safe characters needs no quoting in a shell. */
	bool plain =
		cli->netns &&
		strspn(cli->netns, "abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789-_.:/@+,") == strlen(cli->netns);

	if (!cli->netns)
		snprintf(buf, size, "ephport ");
	else if (plain)
		snprintf(buf, size, "ephport --netns %s ", cli->netns);
	else
		snprintf(buf, size, "ephport --netns '%s' ", cli->netns);
	return buf;
}

const char *cli_in_netns(const struct cli *cli, char *buf, size_t size)
{
	const char *ns = cli->netns;

	if (!ns)
		buf[0] = '\0';
	else if (strncmp(ns, "pid:", 4) == 0)
		snprintf(buf, size, "nsenter --net=/proc/%s/ns/net ", ns + 4);
	else if (strchr(ns, '/'))
		snprintf(buf, size, "nsenter --net='%s' ", ns);
	else
		snprintf(buf, size, "ip netns exec %s ", ns);
	return buf;
}

int cli_once(struct cli *cli, bool *seen, const char *name)
{
	if (*seen)
		return cli_usage_error(cli, "%s given twice", name);
	*seen = true;
	return EXIT_OK;
}

int cli_by(struct cli *cli, const char *arg, bool none_ok, bool *set,
	   enum eph_by *by)
{
	char q[96];

	if (none_ok && strcmp(arg, "none") == 0) {
		*set = false;
		return EXIT_OK;
	}
	if (eph_by_parse(arg, by) < 0)
		return cli_usage_error(cli,
				       "--by %s: expected unit, container, "
				       "cgroup, user%s",
				       cli_quote(arg, q, sizeof(q)),
				       none_ok ? ", process or none"
					       : " or process");
	*set = true;
	return EXIT_OK;
}

/* The word getopt stopped at: it has moved optind past it already. */
static const char *current(char **argv)
{
	return optind > 0 ? argv[optind - 1] : "?";
}

/* Does word W start with a digit: the value of a CLI_OPT_VALUE option? */
static bool numeric(const char *w)
{
	return w && w[0] >= '0' && w[0] <= '9';
}

/*
 * The option that "--NAME" (NAME[0..LEN)) gives, as getopt_long() finds
 * it: by its whole name, or by an abbreviation that fits it alone. NULL
 * for none (unknown, or ambiguous).
 */
static const struct cli_opt *find_long(const struct cli_opt *opts,
				       const char *name, size_t len)
{
	const struct cli_opt *found = NULL;
	size_t nfound = 0;

	for (int pass = 0; pass < 2; pass++) {
		const struct cli_opt *o = pass ? opts : common;
		size_t count = pass ? MAX_OPTS : NCOMMON;

		for (size_t i = 0; i < count && o[i].name; i++) {
			if (strncmp(o[i].name, name, len) != 0)
				continue;
			if (strlen(o[i].name) == len)
				return &o[i];
			found = &o[i];
			nfound++;
		}
	}
	return nfound == 1 ? found : NULL;
}

/*
 * Whether "--NAME" (NAME[0..LEN)) abbreviates more than one option; if so
 * their long names, comma-separated, in BUF.
 */
static bool ambiguous(const struct cli_opt *opts, const char *name, size_t len,
		      char *buf, size_t size)
{
	size_t n = 0, used = 0;

	buf[0] = '\0';
	for (int pass = 0; pass < 2 && len; pass++) {
		const struct cli_opt *o = pass ? opts : common;
		size_t count = pass ? MAX_OPTS : NCOMMON;

		for (size_t i = 0; i < count && o[i].name; i++) {
			int w;

			if (strncmp(o[i].name, name, len) != 0)
				continue;
			w = snprintf(buf + used, size - used, "%s--%s",
				     n ? ", " : "", o[i].name);
			if (w > 0 && (size_t)w < size - used)
				used += (size_t)w;
			n++;
		}
	}
	return n > 1;
}

/* The option with the short LETTER, or NULL. */
static const struct cli_opt *find_letter(const struct cli_opt *opts,
					 char letter)
{
	for (size_t i = 0; i < NCOMMON; i++)
		if (common[i].letter == letter)
			return &common[i];
	for (size_t i = 0; i < MAX_OPTS && opts[i].name; i++)
		if (opts[i].letter && opts[i].letter == letter)
			return &opts[i];
	return NULL;
}

/*
 * Walks ARGV as cli_parse() reads it. Returns the index of the first word
 * that gives the option called WANT (NULL: none sought), or -1; sets
 * *RET_FIRST to the index of the first positional word (ARGC: none).
 */
static int walk(int argc, char **argv, const struct cli_opt *opts, bool permute,
		const char *want, int *ret_first)
{
	int found = -1, first = argc;

	for (int i = 1; i < argc; i++) {
		const char *w = argv[i];
		const struct cli_opt *o;

		if (strcmp(w, "--") == 0) {
			if (first == argc && i + 1 < argc)
				first = i + 1;
			break;
		}
		if (w[0] != '-' || w[1] == '\0') {
			if (first == argc)
				first = i;
			if (!permute)
				break;
			continue;
		}
		if (w[1] == '-') {
			size_t len = strcspn(w + 2, "=");

			o = find_long(opts, w + 2, len);
			if (!o)
				continue;
			if (want && found < 0 && strcmp(o->name, want) == 0)
				found = i;
			/* Without "=VALUE", the value is the next word. */
			if (w[2 + len] == '\0' &&
			    (o->arg == CLI_VALUE ||
			     (o->arg == CLI_OPT_VALUE && i + 1 < argc &&
			      numeric(argv[i + 1]))))
				i++;
			continue;
		}
		/* A cluster of letters: the first that takes a value takes
		 * the rest of the word, or the next word. */
		for (const char *c = w + 1; *c; c++) {
			o = find_letter(opts, *c);
			if (!o)
				continue;
			if (want && found < 0 && strcmp(o->name, want) == 0)
				found = i;
			if (o->arg == CLI_NO_VALUE)
				continue;
			if (c[1] == '\0' &&
			    (o->arg == CLI_VALUE ||
			     (i + 1 < argc && numeric(argv[i + 1]))))
				i++;
			break;
		}
	}
	if (ret_first)
		*ret_first = first;
	return found;
}

bool cli_given(int argc, char **argv, const struct cli_opt *opts, bool permute,
	       const char *name)
{
	return walk(argc, argv, opts, permute, name, NULL) >= 0;
}

int cli_first_word(int argc, char **argv, const struct cli_opt *opts,
		   bool permute)
{
	int first;

	walk(argc, argv, opts, permute, NULL, &first);
	return first;
}

/* Reports what getopt_long() returned '?' for: the word CUR. */
static int unknown(struct cli *cli, const struct cli_opt *opts, const char *cur)
{
	const struct cli_opt *o;
	char q[96], names[256];

	if (strncmp(cur, "--", 2) != 0)
		return optopt ? cli_usage_error(cli, "unknown option '-%c'",
						optopt)
			      : cli_usage_error(cli, "unknown option %s",
						cli_quote(cur, q, sizeof(q)));
	/* "--os=1": a known flag given a value. */
	o = strchr(cur, '=') ? find_long(opts, cur + 2, strcspn(cur + 2, "="))
			     : NULL;
	if (o && o->arg == CLI_NO_VALUE)
		return cli_usage_error(cli, "option '--%s' takes no value",
				       o->name);
	if (ambiguous(opts, cur + 2, strcspn(cur + 2, "="), names,
		      sizeof(names)))
		return cli_usage_error(cli, "option %s is ambiguous: %s",
				       cli_quote(cur, q, sizeof(q)), names);
	return cli_usage_error(cli, "unknown option %s",
			       cli_quote(cur, q, sizeof(q)));
}

int cli_parse(struct cli *cli, int argc, char **argv,
	      const struct cli_opt *opts, bool permute, const char *help,
	      int (*on_opt)(struct cli *cli, int id, const char *arg,
			    void *data),
	      void *data, int *ret_first)
{
	static const int has_arg[] = { no_argument, required_argument,
				       optional_argument };
	const struct cli_opt *all[NCOMMON + MAX_OPTS];
	struct option longopts[NCOMMON + MAX_OPTS + 1];
	char shorts[3 * (NCOMMON + MAX_OPTS) + 4], q[96], **pos;
	size_t n = 0, s = 0;
	int c, npos = 0, rc = EXIT_OK;
	bool version = false;

	shorts[s++] = permute ? '-' : '+';
	shorts[s++] = ':';
	shorts[s] = '\0';
	/* -: non-options come back as 1, in order, so they may mix. */
	for (int pass = 0; pass < 2; pass++) {
		const struct cli_opt *o = pass ? opts : common;
		size_t count = pass ? MAX_OPTS : NCOMMON;

		for (size_t i = 0; i < count && o[i].name; i++) {
			all[n] = &o[i];
			longopts[n].name = o[i].name;
			longopts[n].has_arg = has_arg[o[i].arg];
			longopts[n].flag = NULL;
			/* Options without a letter get ids above 255. */
			longopts[n].val =
				o[i].letter ? o[i].letter : 256 + (int)n;
			/* "x", "x:" or "x::", as getopt spells it. */
			if (o[i].letter) {
				shorts[s++] = o[i].letter;
				for (unsigned int k = 0; k < o[i].arg; k++)
					shorts[s++] = ':';
				shorts[s] = '\0';
			}
			n++;
		}
	}
	memset(&longopts[n], 0, sizeof(longopts[n]));

	/* Positional words, collected in order (with PERMUTE). */
	pos = calloc((size_t)argc + 1, sizeof(*pos));
	if (!pos)
		return cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
	opterr = 0;
	optind = 0;
	while (rc == EXIT_OK &&
	       (c = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		const char *cur = current(argv);
		const struct cli_opt *o = NULL;
		size_t idx = n;

		if (c == 1) {
			pos[npos++] = optarg;
			continue;
		}
		if (c == ':') {
			/* Name the option as typed: "--ports", not "-p". */
			if (strncmp(cur, "--", 2) == 0 || !optopt)
				rc = cli_usage_error(
					cli, "option %s needs a value",
					cli_quote(cur, q, sizeof(q)));
			else
				rc = cli_usage_error(
					cli, "option '-%c' needs a value",
					optopt);
			break;
		}
		if (c == '?') {
			rc = unknown(cli, opts, cur);
			break;
		}
		for (size_t i = 0; i < n; i++)
			if (longopts[i].val == c)
				idx = i;
		if (idx == n)
			continue;
		o = all[idx];
		/* "--watch 5": an optional value that stands apart. */
		if (o->arg == CLI_OPT_VALUE && !optarg && optind < argc &&
		    numeric(argv[optind]))
			optarg = argv[optind++];
		if (idx < NCOMMON) {
			switch (o->id) {
			case 'h':
				fputs(help, stdout);
				free(pos);
				return CLI_DONE;
			case 'V':
				/* After the rest: --json and --color. */
				version = true;
				break;
			case OPT_COLOR:
				/* The last one wins, as with ls and grep. */
				if (color_when_parse(optarg, &cli->color) < 0)
					rc = cli_usage_error(
						cli,
						"--color %s: expected auto, "
						"always or never",
						cli_quote(optarg, q,
							  sizeof(q)));
				break;
			case 'j':
				cli->json = true;
				break;
			case 'n':
				/* One namespace: a second --netns, even the
				 * same, is a mistake in a script. */
				if (cli->netns)
					rc = cli_usage_error(
						cli, "--netns given twice");
				else if (!*optarg)
					rc = cli_usage_error(
						cli, "--netns: an empty name");
				cli->netns = optarg;
				break;
			}
			continue;
		}
		rc = on_opt(cli, o->id, optarg, data);
	}
	if (rc == EXIT_OK) {
		/* The rest (after "--") are positional too. */
		while (optind < argc)
			pos[npos++] = argv[optind++];
		for (int i = 0; i < npos; i++)
			argv[argc - npos + i] = pos[i];
		*ret_first = argc - npos;
		color_setup(cli->color, cli->json);
	}
	free(pos);
	if (rc == EXIT_OK && version) {
		rc = cli_version(cli);
		return rc == EXIT_OK ? CLI_DONE : rc;
	}
	return rc;
}

void cli_json_begin(struct cli *cli, struct json *j)
{
	json_init(j, stdout);
	json_obj(j, NULL);
	json_str(j, "netns", cli->netns);
}

void cli_json_finish(struct json *j)
{
	json_obj_end(j);
	json_end(j);
}

void cli_heading(struct cli *cli, const char *title)
{
	const char *on = color_start(stdout, COLOR_HEADING);

	if (cli->netns)
		printf("%s%s (netns %s)%s\n", on, title, cli->netns,
		       color_end(stdout));
	else
		printf("%s%s%s\n", on, title, color_end(stdout));
}

void cli_section(FILE *f, const char *title)
{
	fprintf(f, "\n%s%s%s\n", color_start(f, COLOR_HEADING), title,
		color_end(f));
}

/*
 * Wraps TEXT at 79 columns on a line already at column INDENT, the next
 * lines indented as much; each line ends with OFF and each next one's
 * text starts with ON (both "" without colour).
 */
static void wrap(FILE *f, const char *on, const char *off, size_t indent,
		 const char *text)
{
	const size_t width = 79;
	const char *p = text;
	size_t col = indent;

	while (*p) {
		size_t w = strcspn(p, " ");

		if (col > indent && col + 1 + w > width) {
			/* A line ends with its colour: a pager or a
			 * terminal that cuts it shows no bleeding. */
			fprintf(f, "%s\n%*s%s", off, (int)indent, "", on);
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, w, f);
		col += w;
		p += w;
		while (*p == ' ')
			p++;
	}
	fputs(off, f);
	fputc('\n', f);
}

void cli_wrap(FILE *f, const char *first, const char *text)
{
	fputs(first, f);
	wrap(f, "", "", strlen(first), text);
}

void cli_wrap_role(FILE *f, enum color_role role, const char *first,
		   const char *text)
{
	const char *on = color_start(f, role);

	fputs(on, f);
	fputs(first, f);
	wrap(f, on, color_end(f), strlen(first), text);
}

void cli_wrap_at(FILE *f, size_t col, const char *text)
{
	wrap(f, "", "", col, text);
}
