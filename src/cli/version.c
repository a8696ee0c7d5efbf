/* SPDX-License-Identifier: MIT */
/*
 * ephport --version: the version, and what this kernel lets ephport use,
 * as the library found it, each with a word on why. A bug report that
 * carries it says which sources the answers came from.
 */
#include <string.h>

#include "cli.h"
#include "config.h"
#include "json.h"

#ifdef HAVE_SERVE
#define SERVE_BUILT true
#else
#define SERVE_BUILT false
#endif

/* The features in the order printed, each with its label. */
static const struct row {
	enum eph_feature which;
	const char *label;
} kernel_rows[] = {
	{ EPH_FEATURE_SOCK_DIAG_TCP, "sock_diag TCP" },
	{ EPH_FEATURE_SOCK_DIAG_UDP, "sock_diag UDP" },
	{ EPH_FEATURE_DIAG_CGROUP_ID, "socket cgroups" },
	{ EPH_FEATURE_DIAG_SOCKOPT, "bind flags" },
	{ EPH_FEATURE_CGROUP2, "cgroup v2" },
	{ EPH_FEATURE_TW_REUSE_DELAY, "tcp_tw_reuse_delay" },
},
  trace_rows[] = {
	  { EPH_FEATURE_BTF, "BTF" },
	  { EPH_FEATURE_BPF_RDONLY_CAST, "bpf_rdonly_cast" },
	  { EPH_FEATURE_TRACEPOINTS, "tracepoints" },
	  { EPH_FEATURE_BPF_PRIVILEGE, "privileges" },
	  { EPH_FEATURE_TRACER, "trace can run" },
  };

/* The label a feature's name has in the table (for "depends"). */
static const char *label_of(const char *name)
{
	static const struct row *const tables[] = { kernel_rows, trace_rows };
	static const size_t counts[] = {
		sizeof(kernel_rows) / sizeof(kernel_rows[0]),
		sizeof(trace_rows) / sizeof(trace_rows[0])
	};

	if (name && strcmp(name, "tracer_built") == 0)
		return "trace (built with)";
	for (size_t t = 0; t < 2; t++)
		for (size_t i = 0; i < counts[t]; i++)
			if (name && strcmp(eph_feature_name(tables[t][i].which),
					   name) == 0)
				return tables[t][i].label;
	return name ? name : "?";
}

/* What a yes means, or what a no is, for feature WHICH. */
static void words(enum eph_feature which, const struct eph_feature_status *s,
		  char *buf, size_t size)
{
	bool yes = s->state == EPH_FEATURE_YES;

	if (s->why == EPH_FEATURE_WHY_ERROR) {
		snprintf(buf, size, "could not tell: %s%s%s", strerror(-s->err),
			 s->detail ? ": " : "", s->detail ? s->detail : "");
		return;
	}
	if (s->why == EPH_FEATURE_WHY_DEPENDS) {
		snprintf(buf, size, "because of %s above", label_of(s->detail));
		return;
	}
	switch (which) {
	case EPH_FEATURE_SOCK_DIAG_TCP:
	case EPH_FEATURE_SOCK_DIAG_UDP:
		snprintf(buf, size,
			 yes ? "a dump answered (%s_diag)"
			     : "sock_diag has no %s_diag (a module not loaded, "
			       "or not built)",
			 which == EPH_FEATURE_SOCK_DIAG_TCP ? "tcp" : "udp");
		break;
	case EPH_FEATURE_DIAG_CGROUP_ID:
		snprintf(buf, size,
			 "a dumped socket %s its cgroup (INET_DIAG_CGROUP_ID, "
			 "Linux 5.7)",
			 yes ? "names" : "does not name");
		break;
	case EPH_FEATURE_DIAG_SOCKOPT:
		snprintf(buf, size,
			 "a dumped socket %s IP_BIND_ADDRESS_NO_PORT "
			 "(INET_DIAG_SOCKOPT, Linux 5.10)",
			 yes ? "shows" : "does not show");
		break;
	case EPH_FEATURE_CGROUP2:
		if (yes)
			snprintf(buf, size, "mounted at %s", s->detail);
		else
			snprintf(buf, size, "not mounted");
		break;
	case EPH_FEATURE_TW_REUSE_DELAY:
		snprintf(buf, size, "%s",
			 yes ? "the sysctl is there (Linux 6.14)"
			     : "not in this kernel (before 6.14): the delay "
			       "is a fixed 1 s");
		break;
	case EPH_FEATURE_BTF:
		snprintf(buf, size, "%s%s", yes ? "" : "no ", s->detail);
		break;
	case EPH_FEATURE_BPF_RDONLY_CAST:
		snprintf(buf, size, "%s",
			 yes ? "a kfunc in the kernel's BTF (Linux 6.2)"
			     : "not in the kernel's BTF (before Linux 6.2)");
		break;
	case EPH_FEATURE_TRACEPOINTS:
		if (s->why == EPH_FEATURE_WHY_NOT_MOUNTED)
			snprintf(buf, size,
				 "tracefs is not mounted at %s (ephport trace "
				 "mounts it)",
				 s->detail);
		else if (yes)
			snprintf(buf, size,
				 "sock:inet_sock_set_state, "
				 "syscalls:sys_exit_connect and "
				 "syscalls:sys_exit_bind");
		else
			snprintf(buf, size, "no %s in tracefs", s->detail);
		break;
	case EPH_FEATURE_BPF_PRIVILEGE:
		if (yes)
			snprintf(buf, size, "%s", s->detail);
		else
			snprintf(buf, size,
				 "this process lacks %s (or CAP_SYS_ADMIN): "
				 "root has them",
				 s->detail);
		break;
	default:
		snprintf(buf, size, "%s", yes ? "" : "?");
		break;
	}
}

static enum color_role role_of(enum eph_feature_state state)
{
	return state == EPH_FEATURE_YES	 ? COLOR_OK
	       : state == EPH_FEATURE_NO ? COLOR_WARN
					 : COLOR_DIM;
}

static void text_row(const char *label, enum eph_feature_state state,
		     const char *why)
{
	const char *name = eph_feature_state_name(state);

	/* The state's colour stops before the padding: the columns stay
	 * where they are seen. */
	printf("  %-19s %s%s%s", label, color_start(stdout, role_of(state)),
	       name, color_end(stdout));
	if (!why[0]) {
		putchar('\n');
		return;
	}
	printf("%*s", 8 - (int)strlen(name), "");
	cli_wrap_at(stdout, 2 + 19 + 1 + 8, why);
}

static void text_rows(const struct eph_features *f, const struct row *rows,
		      size_t n)
{
	char why[512];

	for (size_t i = 0; i < n; i++) {
		const struct eph_feature_status *s =
			eph_features_get(f, rows[i].which);

		words(rows[i].which, s, why, sizeof(why));
		text_row(rows[i].label, s->state, why);
	}
}

static void print_text(struct cli *cli, const struct eph_features *f)
{
	const struct eph_feature_status *built =
		eph_features_get(f, EPH_FEATURE_TRACER_BUILT);

	printf("ephport %s\n", EPHPORT_VERSION);
	printf("libephport %s, Linux %s\n", eph_version(),
	       eph_features_kernel(f));
	putchar('\n');
	cli_heading(cli, "What this kernel lets ephport use");
	text_rows(f, kernel_rows, sizeof(kernel_rows) / sizeof(kernel_rows[0]));
	color_puts(stdout, COLOR_HEADING, "\nBuilt with\n");
	text_row("serve", SERVE_BUILT ? EPH_FEATURE_YES : EPH_FEATURE_NO,
		 SERVE_BUILT ? ""
			     : "needs libmicrohttpd and libcrypt to build");
	text_row("trace", built->state,
		 built->state == EPH_FEATURE_YES
			 ? ""
			 : "needs libbpf, bpftool and clang to build");
	color_puts(stdout, COLOR_HEADING, "\nWhat ephport trace needs\n");
	text_rows(f, trace_rows, sizeof(trace_rows) / sizeof(trace_rows[0]));
}

static void print_json(struct cli *cli, const struct eph_features *f)
{
	struct json j;

	cli_json_begin(cli, &j);
	json_str(&j, "version", EPHPORT_VERSION);
	json_str(&j, "library", eph_version());
	json_str(&j, "kernel", eph_features_kernel(f));
	json_obj(&j, "built");
	json_bool(&j, "serve", SERVE_BUILT);
	json_bool(&j, "trace",
		  eph_features_get(f, EPH_FEATURE_TRACER_BUILT)->state ==
			  EPH_FEATURE_YES);
	json_obj_end(&j);
	json_obj(&j, "features");
	for (int i = 0; i < EPH_FEATURE__COUNT; i++) {
		const struct eph_feature_status *s = eph_features_get(f, i);

		json_obj(&j, eph_feature_name(i));
		json_str(&j, "state", eph_feature_state_name(s->state));
		json_str(&j, "why", eph_feature_why_code(s->why));
		json_str(&j, "errno", s->err ? strerrorname_np(-s->err) : NULL);
		json_str(&j, "detail", s->detail);
		json_obj_end(&j);
	}
	json_obj_end(&j);
	cli_json_finish(&j);
}

int cli_version(struct cli *cli)
{
	struct eph_features *f = NULL;

	if (cli_apply_netns(cli) != EXIT_OK)
		return EXIT_ERROR;
	if (eph_features_probe(cli->ctx, &f) < 0)
		return cli_fail(cli, NULL);
	if (cli->json)
		print_json(cli, f);
	else
		print_text(cli, f);
	eph_features_free(f);
	return EXIT_OK;
}
