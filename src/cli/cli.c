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
#include "json.h"

#define MAX_OPTS 32

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

static void report(struct cli *cli, const char *code, const char *msg)
{
	snprintf(cli->errmsg, sizeof(cli->errmsg), "%s", msg);
	if (cli->cmd)
		fprintf(stderr, "ephport: %s: %s\n", cli->cmd, msg);
	else
		fprintf(stderr, "ephport: %s\n", msg);
	json_error(cli, code, msg);
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(cli, "usage", msg);
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
	report(cli, code, msg);
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
	report(cli, code ? code : "EIO", msg);
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
				       "cgroup, user%s process",
				       cli_quote(arg, q, sizeof(q)),
				       none_ok ? ", process or none" : " or");
	*set = true;
	return EXIT_OK;
}

/* The word getopt stopped at: it has moved optind past it already. */
static const char *current(char **argv)
{
	return optind > 0 ? argv[optind - 1] : "?";
}

int cli_parse(struct cli *cli, int argc, char **argv,
	      const struct cli_opt *opts, bool permute, const char *help,
	      int (*on_opt)(struct cli *cli, int id, const char *arg,
			    void *data),
	      void *data, int *ret_first)
{
	static const struct cli_opt common[] = {
		{ "help", 'h', false, 'h' },
		{ "json", 'j', false, 'j' },
		{ "netns", 'n', true, 'n' },
	};
	struct option longopts[MAX_OPTS + 4];
	char shorts[2 * MAX_OPTS + 16], q[96], **pos;
	size_t n = 0, s = 0;
	int c, npos = 0, rc = EXIT_OK;

	shorts[s++] = permute ? '-' : '+';
	shorts[s++] = ':';
	shorts[s] = '\0';
	/* -: non-options come back as 1, in order, so they may mix. */
	for (int pass = 0; pass < 2; pass++) {
		const struct cli_opt *o = pass ? opts : common;
		size_t count = pass ? MAX_OPTS : 3;

		for (size_t i = 0; i < count && o[i].name; i++) {
			longopts[n].name = o[i].name;
			longopts[n].has_arg =
				o[i].arg ? required_argument : no_argument;
			longopts[n].flag = NULL;
			/* Options without a letter get ids above 255. */
			longopts[n].val =
				o[i].letter ? o[i].letter : 256 + (int)n;
			if (o[i].letter) {
				shorts[s++] = o[i].letter;
				if (o[i].arg)
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
		int id = -1;

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
			if (optopt && strncmp(cur, "--", 2) != 0)
				rc = cli_usage_error(
					cli, "unknown option '-%c'", optopt);
			else
				rc = cli_usage_error(
					cli, "unknown option %s",
					cli_quote(cur, q, sizeof(q)));
			break;
		}
		for (size_t i = 0; i < n; i++)
			if (longopts[i].val == c)
				id = (int)i;
		if (id < 0)
			continue;
		if (id < 3) {
			switch (c) {
			case 'h':
				fputs(help, stdout);
				free(pos);
				return CLI_DONE;
			case 'j':
				cli->json = true;
				break;
			case 'n':
				if (cli->netns && strcmp(cli->netns, optarg))
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
		rc = on_opt(cli, opts[id - 3].id, optarg, data);
	}
	if (rc == EXIT_OK) {
		/* The rest (after "--") are positional too. */
		while (optind < argc)
			pos[npos++] = argv[optind++];
		for (int i = 0; i < npos; i++)
			argv[argc - npos + i] = pos[i];
		*ret_first = argc - npos;
	}
	free(pos);
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
	if (cli->netns)
		printf("%s (netns %s)\n", title, cli->netns);
	else
		printf("%s\n", title);
}

void cli_wrap(FILE *f, const char *first, const char *text)
{
	const size_t width = 79;
	size_t indent = strlen(first), col;
	const char *p = text;

	fputs(first, f);
	col = indent;
	while (*p) {
		size_t w = strcspn(p, " ");

		if (col > indent && col + 1 + w > width) {
			fprintf(f, "\n%*s", (int)indent, "");
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
	fputc('\n', f);
}
