/* SPDX-License-Identifier: MIT */
/*
 * ephport: the command. It parses the command line, hands the work to the
 * library and presents the result; every failure is reported once, here.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "config.h"

static char **saved_argv;

const char *cli_argv_current(void)
{
	/* getopt has already advanced optind past the offending word. */
	return optind > 0 ? saved_argv[optind - 1] : "?";
}

static int cmd_help(struct cli *cli, int argc, char **argv);

static const struct command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "ranges", cmd_ranges,
	  "the ephemeral range, reservations, privileged threshold,\n"
	  "                   TIME_WAIT settings, and other systems' ranges" },
	{ "usage", cmd_usage,
	  "ephemeral ports used and left per destination, with\n"
	  "                   thresholds and monitoring exit codes" },
	{ "why", cmd_why,
	  "can PORT be bound now; if not, who holds it, for how long,\n"
	  "                   and what to do" },
	{ "audit", cmd_audit,
	  "server ports (listening or planned) the kernel may take,\n"
	  "                   and the reservation that fixes it" },
	{ "reserve", cmd_reserve,
	  "keep the kernel from handing out PORTS, now and across\n"
	  "                   reboots, keeping everyone else's reservations" },
	{ "unreserve", cmd_unreserve,
	  "remove only the PORTS named from the reservations" },
	{ "set-range", cmd_set_range,
	  "change the ephemeral range, after checking it" },
	{ "pick", cmd_pick,
	  "a server port that is safe here and on the systems you\n"
	  "                   name; stable per service name" },
#ifdef HAVE_SERVE
	{ "serve", cmd_serve,
	  "Prometheus metrics, forecasts and a live page over HTTP" },
	{ "metrics", cmd_metrics,
	  "one scan in the Prometheus text format, or a textfile\n"
	  "                   for node_exporter" },
#endif
#if EPHPORT_BPF
	{ "trace", cmd_trace,
	  "every port allocation and bind/connect failure, live,\n"
	  "                   with its process; --record keeps the history" },
#endif
	{ "help", cmd_help,
	  "a command's manual, ephport-COMMAND(8), or its --help" },
};

static const char main_help[] =
	"Usage: ephport [GLOBAL OPTIONS] [COMMAND [OPTIONS]]\n"
	"\n"
	"The ports a Linux host hands out by itself: its ephemeral range, "
	"what\n"
	"is reserved, and what the kernel will do. Without a command, prints "
	"the\n"
	"host overview.\n"
	"\n"
	"Commands:\n"
	"%s"
	"\n"
	"Global options (also accepted after the command):\n"
	"  -n, --netns NS   read network namespace NS: a name under "
	"/run/netns,\n"
	"                   a path to a namespace file, or pid:PID\n"
	"  -j, --json       print JSON instead of tables\n"
	"      --color WHEN colour severities and verdicts: auto (the "
	"default: on a\n"
	"                   terminal, unless NO_COLOR is set or TERM=dumb), "
	"always\n"
	"                   or never; JSON never has colour\n"
	"  -h, --help       show this help; 'ephport COMMAND --help' for one "
	"command\n"
	"  -V, --version    print the version and what this kernel lets "
	"ephport use\n"
	"                   (sock_diag, cgroups, BPF for trace), and exit\n"
	"\n"
	"A long option takes its value apart or after '=': --top 5, --top=5.\n"
	"A second --netns is an error, even the same one.\n"
	"\n"
	"Examples:\n"
	"  ephport                      the host overview\n"
	"  ephport ranges --os          this host's ranges beside other "
	"systems'\n"
	"  ephport usage --check        a monitoring plugin's status line\n"
	"  ephport why 8080             who holds port 8080, and what to do\n"
	"  ephport audit --ports 9000   is a planned port safe here?\n"
	"  ephport reserve 36601        keep the kernel off port 36601\n"
	"  ephport pick api-server      a port for api-server, the same "
	"everywhere\n"
#if EPHPORT_BPF
	"  ephport trace --failures --duration 3   bind/connect failures, "
	"live\n"
#endif
	"  ephport --netns web ranges --json\n"
	"\n"
	"Exit status, for every command: 0 yes or done, 1 the answer is no "
	"(a port\nbusy, ports at risk, a change refused), 2 ephport could "
	"not answer (a usage\nerror, an unreadable namespace, I/O); "
	"'usage --check' exits as a monitoring\nplugin does: 0 OK, 1 "
	"WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
	"See ephport(8), and 'ephport help COMMAND' for a command's manual.\n";

/* The help, with the list of commands, into BUF. */
static const char *format_help(char *buf, size_t size)
{
	char list[2048];
	size_t n = 0;

	list[0] = '\0';
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n,
				      "  %-16s %s\n", commands[i].name,
				      commands[i].summary);
	snprintf(buf, size, main_help, list);
	return buf;
}

static const char help_help[] =
	"Usage: ephport help [COMMAND]\n"
	"\n"
	"The manual of COMMAND, ephport-COMMAND(8), when standard output is "
	"a\n"
	"terminal and man(1) finds the page (as 'man ephport COMMAND' "
	"does);\n"
	"otherwise what 'ephport COMMAND --help' prints. Without COMMAND, "
	"what\n"
	"'ephport --help' prints.\n"
	"\n"
	"Options:\n"
	"  -h, --help       show this help\n"
	"\n"
	"Examples:\n"
	"  ephport help why\n"
	"  ephport help\n"
	"\n"
	"Exit status: 0 shown, 2 an unknown command (a usage error) or "
	"--json\n"
	"(the manual is text).\n";

/*
 * Runs man(1) on PAGE; with WHERE only asks man whether it finds PAGE
 * ("man -w", its output thrown away). Returns man's exit status (0: shown,
 * or found), or -1 when it could not run.
 */
static int run_man(const char *page, bool where)
{
	char *argv[] = { (char *)"man", (char *)(where ? "-w" : page),
			 (char *)(where ? page : NULL), NULL };
	posix_spawn_file_actions_t fa;
	int status, rc;
	pid_t pid;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	/* The question is asked quietly; the answer is the page itself. */
	if (where &&
	    (posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
					      O_WRONLY, 0) != 0 ||
	     posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO,
					      STDERR_FILENO) != 0)) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	rc = posix_spawnp(&pid, "man", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * ephport help [COMMAND]: the command's manual on a terminal, as git help
 * does; its --help where there is no terminal or no manual, so that a
 * pipe or a machine without man-db still gets the text.
 */
static int cmd_help(struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt none[] = { { 0 } };
	char page[64], q[96], help[8192];
	char *words[] = { NULL, (char *)"--help", NULL };
	int first, rc;

	rc = cli_parse(cli, argc, argv, none, true, help_help, NULL, NULL,
		       &first);
	if (rc != EXIT_OK)
		return rc == CLI_DONE ? EXIT_OK : rc;
	if (cli->json)
		return cli_usage_error(cli, "--json: the manual is text");
	if (first == argc) {
		fputs(format_help(help, sizeof(help)), stdout);
		return EXIT_OK;
	}
	if (argc - first > 1)
		return cli_usage_error(
			cli, "unexpected argument %s",
			cli_quote(argv[first + 1], q, sizeof(q)));
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[first], commands[i].name) != 0)
			continue;
		snprintf(page, sizeof(page), "ephport-%s", commands[i].name);
		if (isatty(STDOUT_FILENO) && run_man(page, true) == 0) {
			/* What ephport printed so far goes before the pager. */
			fflush(stdout);
			if (run_man(page, false) == 0)
				return EXIT_OK;
		}
		words[0] = (char *)commands[i].name;
		cli->cmd = commands[i].name;
		return commands[i].run(cli, 2, words);
	}
	return cli_usage_error(cli, "unknown command %s",
			       cli_quote(argv[first], q, sizeof(q)));
}

int cli_common_option(struct cli *cli, int c, const char *help, bool *done)
{
	switch (c) {
	case 'h':
		fputs(help, stdout);
		*done = true;
		return EXIT_OK;
	case 'j':
		cli->json = true;
		return EXIT_OK;
	case 'n':
		cli->netns = optarg;
		return EXIT_OK;
	case ':':
		/* Name the option as typed: "--netns", not its short "-n". */
		if (strncmp(cli_argv_current(), "--", 2) == 0 || !optopt)
			return cli_usage_error(cli, "option '%s' needs a value",
					       cli_argv_current());
		return cli_usage_error(cli, "option '-%c' needs a value",
				       optopt);
	case '?':
		if (optopt)
			return cli_usage_error(cli, "unknown option '-%c'",
					       optopt);
		return cli_usage_error(cli, "unknown option '%s'",
				       cli_argv_current());
	default:
		return -1;
	}
}

/* Adds O to OS[0..*N) unless it is there already or the array is full. */
static void os_add(const struct eph_os **os, size_t *n, size_t max,
		   const struct eph_os *o)
{
	for (size_t i = 0; i < *n; i++)
		if (os[i] == o)
			return;
	if (*n < max)
		os[(*n)++] = o;
}

int cli_parse_os(struct cli *cli, const char *list, const struct eph_os **os,
		 size_t *n, size_t max)
{
	if (strcmp(list, "all") == 0) {
		for (size_t i = 0; i < eph_os_count(); i++)
			os_add(os, n, max, eph_os_get(i));
		return EXIT_OK;
	}
	for (const char *p = list; *p;) {
		char name[64];
		size_t l = strcspn(p, ",");
		const struct eph_os *o;

		if (l == 0 || l >= sizeof(name))
			return cli_usage_error(
				cli,
				"--os '%s': an empty or overlong "
				"name",
				list);
		memcpy(name, p, l);
		name[l] = '\0';
		o = eph_os_find(name);
		if (!o)
			return cli_usage_error(cli,
					       "--os: unknown system '%s' (see "
					       "'ephport ranges --os')",
					       name);
		os_add(os, n, max, o);
		p += l + (p[l] == ',');
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct cli_opt none[] = { { 0 } };
	struct cli cli = { 0 };
	char q[96], help[8192];
	int first, rc;

	/*
	 * A script that asked for JSON gets its errors as JSON too, even
	 * those found before --json itself is parsed.
	 */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			cli.json = true;
	saved_argv = argv;
	/* --version asks the library what this kernel lets it use. */
	if (eph_ctx_new(&cli.ctx) < 0)
		errx(EXIT_ERROR, "out of memory");
	/* The global options: those cli_parse() adds to every command. */
	rc = cli_parse(&cli, argc, argv, none, false,
		       format_help(help, sizeof(help)), NULL, NULL, &first);
	if (rc == CLI_DONE) {
		rc = EXIT_OK;
		goto out;
	}
	if (rc != EXIT_OK) {
		/* usage --check answers UNKNOWN to a bad global option too. */
		first = cli_first_word(argc, argv, none, false);
		if (first < argc && strcmp(argv[first], "usage") == 0)
			rc = usage_failed_early(&cli, argc - first,
						argv + first, rc);
		goto out;
	}
	/* The tracer's record, elsewhere than /run/ephport (tests). */
	if (getenv("EPHPORT_RECORD") &&
	    eph_ctx_set_record_path(cli.ctx, getenv("EPHPORT_RECORD")) < 0) {
		rc = cli_fail(&cli, "EPHPORT_RECORD");
		goto out;
	}

	argc -= first;
	argv += first;
	if (argc == 0) {
		rc = cmd_overview(&cli, argc, argv);
		goto out;
	}
	rc = -1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) == 0) {
			cli.cmd = commands[i].name;
			saved_argv = argv;
			/* Each subcommand parses its own words afresh. */
			optind = 0;
			rc = commands[i].run(&cli, argc, argv);
			break;
		}
	}
	if (rc < 0)
		rc = cli_usage_error(&cli, "unknown command %s",
				     cli_quote(argv[0], q, sizeof(q)));
out:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("writing output");
		rc = EXIT_ERROR;
	}
	eph_ctx_free(cli.ctx);
	return rc;
}
