/* SPDX-License-Identifier: MIT */
/*
 * The words of a change (reserve, unreserve, set-range, and pick
 * --reserve): what was or would be done, the refusals and notes with the
 * commands that fix them, in text and JSON; and the change done for a
 * caller (see cli.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"

/* A file argument a shell takes as one word. */
static const char *shell_word(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789-_.:/@+,=") == strlen(s))
		return s;
	buf[o++] = '\'';
	for (; *s && o + 6 < size; s++) {
		if (*s == '\'') {
			memcpy(buf + o, "'\\''", 4);
			o += 4;
		} else {
			buf[o++] = *s;
		}
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

/*
 * Prints a command to paste, run against what was inspected: the
 * namespace (cli_prefix()) and the root, if any. FMT gives the words
 * after "ephport": "reserve 8080" and such.
 */
static void put_hint(FILE *f, const struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void put_hint(FILE *f, const struct cli *cli, const char *fmt, ...)
{
	const char *root = eph_ctx_root(cli->ctx);
	char prefix[256], word[512];
	va_list ap;

	fputs(cli_prefix(cli, prefix, sizeof(prefix)), f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (strcmp(root, "/") != 0)
		fprintf(f, " --root %s", shell_word(root, word, sizeof(word)));
}

static const char *action_name(enum eph_change_kind kind)
{
	return kind == EPH_CHANGE_RESERVE     ? "reserve"
	       : kind == EPH_CHANGE_UNRESERVE ? "unreserve"
					      : "set-range";
}

/* The kernel's value before or after, as the kernel prints it. */
static char *runtime_value(const struct eph_change *c, bool after)
{
	const struct eph_change_runtime *rt = eph_change_runtime(c);
	char range[16];

	if (eph_change_kind(c) != EPH_CHANGE_SET_RANGE)
		return eph_portset_to_string(after ? rt->after : rt->before);
	snprintf(range, sizeof(range), "%u %u",
		 after ? rt->low_after : rt->low_before,
		 after ? rt->high_after : rt->high_before);
	return strdup(range);
}

/* Ends a message written to F; returns it, or NULL out of memory. */
static char *finish(FILE *f, char **text, char *list)
{
	free(list);
	/* The stream's buffer is only settled once it is closed. */
	if (fclose(f) != 0) {
		free(*text);
		return NULL;
	}
	return *text;
}

/* Why the change was refused, in words: a new string, or NULL. */
static char *refusal_message(const struct cli *cli, const struct eph_change *c)
{
	const struct eph_change_refusal *no = eph_change_refusal(c);
	char *list = no->ports ? eph_portset_to_string(no->ports) : NULL;
	const char *l = list ? list : "?";
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	if (!f) {
		free(list);
		return NULL;
	}
	fputs("refused: ", f);
	switch (no->code) {
	case EPH_CHANGE_REFUSED_TOO_LITTLE_LEFT:
		fprintf(f,
			"only %u of the %u ports of the range %u-%u would be "
			"left for connect() and bind(0), with the reserved and "
			"listening ports out (",
			no->left, no->size, no->low, no->high);
		if (no->left < no->size / 2)
			fputs("under half", f);
		else
			fprintf(f, "under %u, from %u now", EPH_CHANGE_MIN_LEFT,
				no->left_before);
		fputs("); --force to do it anyway", f);
		break;
	case EPH_CHANGE_REFUSED_ONE_PORT:
		fprintf(f,
			"%u-%u is a range of one port, for every connect() "
			"and bind(0) to share; --force to set it anyway",
			no->low, no->high);
		break;
	case EPH_CHANGE_REFUSED_BELOW_UNPRIVILEGED:
		fprintf(f,
			"%u is below ip_unprivileged_port_start (%u); the "
			"kernel does not accept it",
			no->low, no->unprivileged);
		break;
	case EPH_CHANGE_REFUSED_LISTENERS:
		fprintf(f,
			"the range %u-%u would swallow listening ports %s; "
			"reserve them first",
			no->low, no->high, l);
		/* cli_error() keeps 1 KiB: a hint cut short is no hint. */
		if (strlen(l) < 300) {
			fputs(" (", f);
			put_hint(f, cli, "reserve %s", l);
			fputs(")", f);
		}
		fputs(" or --force", f);
		break;
	case EPH_CHANGE_REFUSED_NOT_RESERVED:
		fprintf(f,
			"%s %s not reserved, neither in the kernel nor in a "
			"sysctl.d file: nothing to remove",
			l, eph_portset_count(no->ports) > 1 ? "are" : "is");
		break;
	case EPH_CHANGE_REFUSED_DROPIN_FOREIGN:
		fprintf(f,
			"%s; ephport will not rewrite a file it did not write "
			"(fix or remove that line by hand)",
			no->detail);
		break;
	case EPH_CHANGE_REFUSED_BOOT_VALUE_BAD:
		fprintf(f,
			"%s; fix it first (ephport never rewrites another "
			"file)",
			no->detail);
		break;
	default:
		fputs(eph_change_refusal_name(no->code), f);
	}
	return finish(f, &text, list);
}

/* A note in words: a new string, or NULL. */
static char *note_message(const struct cli *cli, const struct eph_change *c,
			  const struct eph_change_note *n)
{
	const char *key = eph_change_key(c);
	char *list = n->ports ? eph_portset_to_string(n->ports) : NULL;
	const char *l = list ? list : "?";
	bool plural = n->ports && eph_portset_count(n->ports) > 1;
	const char *them = plural ? "them" : "it";
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	if (!f) {
		free(list);
		return NULL;
	}
	switch (n->code) {
	case EPH_CHANGE_NOTE_NOT_PERSISTED:
		fprintf(f,
			"not persisted: /etc/sysctl.d sets up the namespace "
			"the system boots in, not %s, which starts from the "
			"kernel's defaults (use --root DIR to write a tree "
			"anyway)",
			cli->netns ? cli->netns : "this one");
		break;
	case EPH_CHANGE_NOTE_FILE_LOSES:
		fprintf(f,
			"%s:%u also sets %s (\"%s\"); ephport's drop-in sorts "
			"later and wins",
			n->file, n->line, key, n->value);
		break;
	case EPH_CHANGE_NOTE_FILE_WINS:
		fprintf(f,
			"%s:%u sets %s (\"%s\") and sorts after ephport's "
			"drop-in: it wins at boot%s",
			n->file, n->line, key, n->value,
			eph_change_kind(c) == EPH_CHANGE_UNRESERVE
				? "; the ports it lists come back at boot "
				  "unless that file is changed"
				: "; change that file too");
		break;
	case EPH_CHANGE_NOTE_SYSCTL_CONF_WINS:
		fprintf(f,
			"%s:%u also sets %s (\"%s\"); `sysctl --system` reads "
			"it last, so there it wins over ephport's drop-in",
			n->file, n->line, key, n->value);
		break;
	case EPH_CHANGE_NOTE_BAD_LINE:
		fprintf(f, "%s:%u: %s (systemd-sysctl skips the line)", n->file,
			n->line, n->value);
		break;
	case EPH_CHANGE_NOTE_RUNTIME_ONLY:
		fprintf(f,
			"%s reserved in the kernel but not in what a boot "
			"applies: a reboot drops %s",
			l, them);
		/* Reserving them keeps them only when the drop-in wins. */
		if (eph_change_boots(c)) {
			fputs(" (", f);
			put_hint(f, cli, "reserve %s", l);
			fprintf(f, " keeps %s)", them);
		}
		break;
	case EPH_CHANGE_NOTE_NOT_RESERVED:
		fprintf(f,
			"%s %s not reserved anywhere: nothing to remove there",
			l, plural ? "were" : "was");
		break;
	case EPH_CHANGE_NOTE_SAME_PARITY:
		fputs("bounds of the same parity: each connect() misses one "
		      "edge port (the low or the high one, drawn anew each "
		      "time), so the last free port may be missed",
		      f);
		if (n->high) {
			fputs("; ", f);
			put_hint(f, cli, "set-range %u %u", n->low, n->high);
			fputs(" avoids it", f);
		}
		break;
	case EPH_CHANGE_NOTE_LISTENERS_INSIDE:
		fprintf(f,
			"listening ports %s are now inside the range and not "
			"reserved (",
			l);
		put_hint(f, cli, "reserve %s", l);
		fputs(" keeps autobind off them)", f);
		break;
	case EPH_CHANGE_NOTE_LITTLE_LEFT:
		fprintf(f,
			"only %u of the %u ports of %u-%u are left for "
			"connect() and bind(0)",
			n->left, n->size, n->low, n->high);
		break;
	default:
		fputs(eph_change_note_name(n->code), f);
	}
	return finish(f, &text, list);
}

/* ---- Output ---- */

void change_print_text(const struct cli *cli, const struct eph_change *c,
		       FILE *f)
{
	const struct eph_change_runtime *rt = eph_change_runtime(c);
	const struct eph_change_persist *ps = eph_change_persist(c);
	bool dry = eph_change_flags(c) & EPH_CHANGE_DRY_RUN;
	char *msg;

	if (rt->enabled) {
		char *b = runtime_value(c, false), *a = runtime_value(c, true);

		if (rt->changed)
			fprintf(f, "%s %s: \"%s\" -> \"%s\"%s\n",
				dry ? "Would change" : "Changed",
				eph_change_key(c), b ? b : "?", a ? a : "?",
				dry ? "" : " (read back)");
		else
			fprintf(f, "Unchanged %s: \"%s\"\n", eph_change_key(c),
				b ? b : "?");
		free(b);
		free(a);
	}
	if (ps->enabled && !ps->changed)
		fprintf(f, "Unchanged %s\n", ps->path);
	else if (ps->enabled)
		fprintf(f, "%s %s:\n", dry ? "Would write" : "Wrote", ps->path);
	for (size_t i = 0;
	     ps->enabled && ps->changed && i < eph_change_diff_count(c); i++) {
		const struct eph_change_diff *d = eph_change_diff(c, i);

		fprintf(f, "  %c%.*s\n",
			d->op == EPH_CHANGE_DIFF_ADDED	   ? '+'
			: d->op == EPH_CHANGE_DIFF_REMOVED ? '-'
							   : ' ',
			(int)d->len, d->text);
	}
	for (size_t i = 0; i < eph_change_note_count(c); i++) {
		msg = note_message(cli, c, eph_change_note(c, i));
		cli_wrap_role(f, COLOR_WARN,
			      "warning: ", msg ? msg : "out of memory");
		free(msg);
	}
}

/* A file of a sysctl.d setting (under the root) as the user sees it. */
static const char *shown(const struct cli *cli, const char *file, char *buf,
			 size_t size)
{
	const char *root = eph_ctx_root(cli->ctx);

	snprintf(buf, size, "%s%s", strcmp(root, "/") ? root : "", file);
	return buf;
}

static void json_setting(const struct cli *cli, struct json *j, const char *key,
			 const struct eph_sysctld_setting *s)
{
	char path[4096];

	if (!s) {
		json_null(j, key);
		return;
	}
	json_obj(j, key);
	json_str(j, "file", shown(cli, s->file, path, sizeof(path)));
	json_uint(j, "line", s->line);
	json_str(j, "value", s->value);
	json_obj_end(j);
}

void change_json_members(const struct cli *cli, struct json *jp,
			 const struct eph_change *c)
{
	const struct eph_change_runtime *rt = eph_change_runtime(c);
	const struct eph_change_persist *ps = eph_change_persist(c);
	struct json j = *jp;
	char *msg, *s;

	json_str(&j, "action", action_name(eph_change_kind(c)));
	json_str(&j, "key", eph_change_key(c));
	json_bool(&j, "dry_run", eph_change_flags(c) & EPH_CHANGE_DRY_RUN);
	if (rt->enabled) {
		json_obj(&j, "runtime");
		s = runtime_value(c, false);
		json_str(&j, "before", s);
		free(s);
		s = runtime_value(c, true);
		json_str(&j, "after", s);
		free(s);
		json_bool(&j, "changed", rt->changed);
		json_obj_end(&j);
	} else {
		json_null(&j, "runtime");
	}
	if (ps->enabled) {
		json_obj(&j, "persist");
		json_str(&j, "file", ps->path);
		json_bool(&j, "changed", ps->changed);
		json_str(&j, "content", ps->new_content);
		json_bool(&j, "wins", ps->wins);
		json_bool(&j, "wins_system", ps->wins_system);
		json_setting(cli, &j, "winner", ps->winner);
		json_setting(cli, &j, "winner_system", ps->winner_system);
		json_obj_end(&j);
	} else {
		json_null(&j, "persist");
	}
	json_bool(&j, "boots", eph_change_boots(c));
	json_arr(&j, "notes");
	for (size_t i = 0; i < eph_change_note_count(c); i++) {
		const struct eph_change_note *n = eph_change_note(c, i);

		json_obj(&j, NULL);
		json_str(&j, "code", eph_change_note_name(n->code));
		json_str(&j, "file", n->file);
		if (n->line)
			json_uint(&j, "line", n->line);
		else
			json_null(&j, "line");
		json_str(&j, "value", n->value);
		s = n->ports ? eph_portset_to_string(n->ports) : NULL;
		json_str(&j, "ports", s);
		free(s);
		if (n->code == EPH_CHANGE_NOTE_SAME_PARITY && n->high) {
			json_obj(&j, "suggest");
			json_uint(&j, "low", n->low);
			json_uint(&j, "high", n->high);
			json_obj_end(&j);
		}
		if (n->code == EPH_CHANGE_NOTE_LITTLE_LEFT) {
			json_uint(&j, "left", n->left);
			json_uint(&j, "size", n->size);
		}
		msg = note_message(cli, c, n);
		json_str(&j, "message", msg);
		free(msg);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	/* The messages alone, as earlier versions printed them. */
	json_arr(&j, "warnings");
	for (size_t i = 0; i < eph_change_note_count(c); i++) {
		msg = note_message(cli, c, eph_change_note(c, i));
		json_str(&j, NULL, msg);
		free(msg);
	}
	json_arr_end(&j);
	*jp = j;
}

/* ---- Running ---- */

int change_do(struct cli *cli, const struct eph_change_request *req,
	      struct eph_change **ret)
{
	struct eph_change *c = NULL;
	char *msg;
	int rc;

	if (eph_change_plan(cli->ctx, req, &c) < 0)
		return cli_fail(cli, NULL);
	if (eph_change_refusal(c)) {
		msg = refusal_message(cli, c);
		rc = cli_error(
			cli,
			eph_change_refusal_name(eph_change_refusal(c)->code),
			EXIT_NO, "%s", msg ? msg : "refused");
		free(msg);
		eph_change_free(c);
		return rc;
	}
	if (!(req->flags & EPH_CHANGE_DRY_RUN) && eph_change_apply(c) < 0) {
		rc = cli_fail(cli, NULL);
		eph_change_free(c);
		return rc;
	}
	*ret = c;
	return EXIT_OK;
}

int change_boot_check(const struct cli *cli, const struct eph_change *c)
{
	const struct eph_change_persist *ps = eph_change_persist(c);
	const struct eph_sysctld_setting *w;
	char path[4096];

	/* Done, but what boots is another file's value: not a yes. */
	if (eph_change_boots(c))
		return EXIT_OK;
	w = ps->wins ? ps->winner_system : ps->winner;
	fprintf(stderr,
		"ephport: %s: %s%s, but %s:%u sets %s after the drop-in and "
		"wins%s%s\n",
		cli->cmd, color_start(stderr, COLOR_WARN),
		eph_change_flags(c) & EPH_CHANGE_DRY_RUN ? "planned" : "done",
		shown(cli, w->file, path, sizeof(path)), w->line,
		eph_change_key(c),
		ps->wins ? " under `sysctl --system`" : " at boot",
		color_end(stderr));
	return EXIT_NO;
}
