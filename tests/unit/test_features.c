/* SPDX-License-Identifier: MIT */
/*
 * Features: each told by looking for it the way ephport uses it, from
 * fixture trees (a BTF with and without the kfunc, tracefs with and
 * without the tracepoints or unmounted, mount tables with and without
 * cgroup v2, sysctls of a kernel before and after 6.14, capabilities
 * given by hand), and sock_diag asked for real in the test's namespace.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "config.h"

#define FEAT FIXTURES "/features"

#define CAP_BIT(n) (1ull << (n))
/* CAP_SYS_ADMIN, CAP_PERFMON and CAP_BPF. */
#define ADMIN CAP_BIT(21)
#define PERFMON CAP_BIT(38)
#define BPF CAP_BIT(39)

static struct eph_features *probe(const char *tree, const char *procsys,
				  uint64_t caps)
{
	char btf[512], tracefs[512], mountinfo[512];
	struct features_where w = { btf, tracefs, mountinfo, true, caps };
	struct eph_features *f = NULL;

	snprintf(btf, sizeof(btf), "%s/%s/btf", FEAT, tree);
	snprintf(tracefs, sizeof(tracefs), "%s/%s/tracing", FEAT, tree);
	snprintf(mountinfo, sizeof(mountinfo), "%s/%s/mountinfo", FEAT, tree);
	assert_int_equal(eph_ctx_set_proc_sys_root(ctx, procsys), 0);
	assert_int_equal(features_probe_where(ctx, &w, &f), 0);
	assert_non_null(f);
	return f;
}

static void expect(const struct eph_features *f, enum eph_feature which,
		   enum eph_feature_state state, enum eph_feature_why why,
		   const char *detail)
{
	const struct eph_feature_status *s = eph_features_get(f, which);

	assert_non_null(s);
	if (s->state != state || s->why != why)
		fail_msg("%s: %s (%s), wanted %s (%s)", eph_feature_name(which),
			 eph_feature_state_name(s->state),
			 eph_feature_why_code(s->why),
			 eph_feature_state_name(state),
			 eph_feature_why_code(why));
	if (detail)
		assert_string_equal(s->detail, detail);
	else
		assert_null(s->detail);
}

static void test_everything_the_tracer_needs_is_seen(void **state)
{
	struct eph_features *f =
		probe("full", FIXTURES "/procsys/default", ADMIN);

	(void)state;
	expect(f, EPH_FEATURE_BTF, EPH_FEATURE_YES, EPH_FEATURE_WHY_SEEN,
	       FEAT "/full/btf");
	expect(f, EPH_FEATURE_BPF_RDONLY_CAST, EPH_FEATURE_YES,
	       EPH_FEATURE_WHY_SEEN, NULL);
	expect(f, EPH_FEATURE_TRACEPOINTS, EPH_FEATURE_YES,
	       EPH_FEATURE_WHY_SEEN, NULL);
	expect(f, EPH_FEATURE_BPF_PRIVILEGE, EPH_FEATURE_YES,
	       EPH_FEATURE_WHY_SEEN, "CAP_SYS_ADMIN");
	/* A hybrid host: cgroup v2 beside v1, under /sys/fs/cgroup. */
	expect(f, EPH_FEATURE_CGROUP2, EPH_FEATURE_YES, EPH_FEATURE_WHY_SEEN,
	       "/sys/fs/cgroup/unified");
	expect(f, EPH_FEATURE_TW_REUSE_DELAY, EPH_FEATURE_YES,
	       EPH_FEATURE_WHY_SEEN, NULL);
	/* The tracer then hangs on this build alone. */
	if (EPHPORT_BPF) {
		expect(f, EPH_FEATURE_TRACER_BUILT, EPH_FEATURE_YES,
		       EPH_FEATURE_WHY_SEEN, NULL);
		expect(f, EPH_FEATURE_TRACER, EPH_FEATURE_YES,
		       EPH_FEATURE_WHY_SEEN, NULL);
	} else {
		expect(f, EPH_FEATURE_TRACER_BUILT, EPH_FEATURE_NO,
		       EPH_FEATURE_WHY_NOT_BUILT, NULL);
		expect(f, EPH_FEATURE_TRACER, EPH_FEATURE_NO,
		       EPH_FEATURE_WHY_DEPENDS, "tracer_built");
	}
	eph_features_free(f);
}

static void test_an_old_kernel_lacks_each_with_its_reason(void **state)
{
	struct eph_features *f =
		probe("old", FIXTURES "/procsys/old-kernel", BPF);

	(void)state;
	/* "bpf_rdonly_castle" and "xbpf_rdonly_cast" are other names. */
	expect(f, EPH_FEATURE_BTF, EPH_FEATURE_YES, EPH_FEATURE_WHY_SEEN,
	       FEAT "/old/btf");
	expect(f, EPH_FEATURE_BPF_RDONLY_CAST, EPH_FEATURE_NO,
	       EPH_FEATURE_WHY_MISSING, NULL);
	/* The first tracepoint missing is named. */
	expect(f, EPH_FEATURE_TRACEPOINTS, EPH_FEATURE_NO,
	       EPH_FEATURE_WHY_MISSING, "syscalls:sys_exit_bind");
	/* CAP_BPF alone: CAP_PERFMON is what is missing. */
	expect(f, EPH_FEATURE_BPF_PRIVILEGE, EPH_FEATURE_NO,
	       EPH_FEATURE_WHY_NO_PRIVILEGE, "CAP_PERFMON");
	expect(f, EPH_FEATURE_CGROUP2, EPH_FEATURE_NO,
	       EPH_FEATURE_WHY_NOT_MOUNTED, NULL);
	expect(f, EPH_FEATURE_TW_REUSE_DELAY, EPH_FEATURE_NO,
	       EPH_FEATURE_WHY_MISSING, NULL);
	/* The tracer follows the first of its needs that is a no. */
	expect(f, EPH_FEATURE_TRACER, EPH_FEATURE_NO, EPH_FEATURE_WHY_DEPENDS,
	       EPHPORT_BPF ? "bpf_rdonly_cast" : "tracer_built");
	eph_features_free(f);
}

static void test_what_cannot_be_seen_is_unknown_or_missing(void **state)
{
	struct features_where w = {
		.btf = FEAT "/none/btf",
		/* A directory without events/: tracefs not mounted there. */
		.tracefs = FEAT "/full",
		.mountinfo = FEAT "/none/mountinfo",
		.caps_set = true,
		.caps = PERFMON,
	};
	struct eph_features *f = NULL;

	(void)state;
	assert_int_equal(eph_ctx_set_proc_sys_root(ctx, FEAT "/none"), 0);
	assert_int_equal(features_probe_where(ctx, &w, &f), 0);
	expect(f, EPH_FEATURE_BTF, EPH_FEATURE_NO, EPH_FEATURE_WHY_MISSING,
	       FEAT "/none/btf");
	expect(f, EPH_FEATURE_BPF_RDONLY_CAST, EPH_FEATURE_NO,
	       EPH_FEATURE_WHY_DEPENDS, "btf");
	/* Not mounted: not a no, since ephport trace mounts it. */
	expect(f, EPH_FEATURE_TRACEPOINTS, EPH_FEATURE_UNKNOWN,
	       EPH_FEATURE_WHY_NOT_MOUNTED, FEAT "/full");
	expect(f, EPH_FEATURE_BPF_PRIVILEGE, EPH_FEATURE_NO,
	       EPH_FEATURE_WHY_NO_PRIVILEGE, "CAP_BPF");
	/* An unreadable mount table is not "not mounted". */
	expect(f, EPH_FEATURE_CGROUP2, EPH_FEATURE_UNKNOWN,
	       EPH_FEATURE_WHY_ERROR, NULL);
	assert_int_equal(eph_features_get(f, EPH_FEATURE_CGROUP2)->err,
			 -ENOENT);
	expect(f, EPH_FEATURE_TW_REUSE_DELAY, EPH_FEATURE_NO,
	       EPH_FEATURE_WHY_MISSING, NULL);
	/* Nothing failed: the context holds no error. */
	assert_string_equal(eph_ctx_errmsg(ctx), "");
	eph_features_free(f);

	/* No capability at all: both are named. */
	w.caps = 0;
	w.btf = FEAT "/full/btf";
	assert_int_equal(features_probe_where(ctx, &w, &f), 0);
	expect(f, EPH_FEATURE_BPF_PRIVILEGE, EPH_FEATURE_NO,
	       EPH_FEATURE_WHY_NO_PRIVILEGE, "CAP_BPF,CAP_PERFMON");
	/* With the tracepoints unknown and the privileges a no, the no
	 * decides (when the build has the tracer). */
	expect(f, EPH_FEATURE_TRACER, EPH_FEATURE_NO, EPH_FEATURE_WHY_DEPENDS,
	       EPHPORT_BPF ? "bpf_privilege" : "tracer_built");
	eph_features_free(f);

	/* Every need a yes but one unknown: the tracer is unknown. */
	w.caps = BPF | PERFMON;
	assert_int_equal(features_probe_where(ctx, &w, &f), 0);
	expect(f, EPH_FEATURE_BPF_PRIVILEGE, EPH_FEATURE_YES,
	       EPH_FEATURE_WHY_SEEN, "CAP_BPF,CAP_PERFMON");
	if (EPHPORT_BPF)
		expect(f, EPH_FEATURE_TRACER, EPH_FEATURE_UNKNOWN,
		       EPH_FEATURE_WHY_DEPENDS, "tracepoints");
	eph_features_free(f);
}

/* sock_diag for real: this test's namespace has both modules, and the
 * probe's own socket comes back with the attributes of this kernel. */
static void test_sock_diag_is_asked(void **state)
{
	struct eph_features *f = NULL;
	const struct eph_feature_status *s;

	(void)state;
	assert_int_equal(eph_ctx_set_proc_sys_root(ctx, NULL), 0);
	assert_int_equal(eph_features_probe(ctx, &f), 0);
	expect(f, EPH_FEATURE_SOCK_DIAG_TCP, EPH_FEATURE_YES,
	       EPH_FEATURE_WHY_SEEN, NULL);
	expect(f, EPH_FEATURE_SOCK_DIAG_UDP, EPH_FEATURE_YES,
	       EPH_FEATURE_WHY_SEEN, NULL);
	/* Seen or missing, never unknown, when the dump works. */
	s = eph_features_get(f, EPH_FEATURE_DIAG_CGROUP_ID);
	assert_int_not_equal(s->state, EPH_FEATURE_UNKNOWN);
	s = eph_features_get(f, EPH_FEATURE_DIAG_SOCKOPT);
	assert_int_not_equal(s->state, EPH_FEATURE_UNKNOWN);
	assert_true(strlen(eph_features_kernel(f)) > 0);
	eph_features_free(f);
	eph_features_free(NULL);
}

static void test_names_are_stable_and_bounded(void **state)
{
	struct eph_features *f = probe("full", FIXTURES "/procsys/default", 0);

	(void)state;
	assert_string_equal(eph_feature_name(EPH_FEATURE_SOCK_DIAG_TCP),
			    "sock_diag_tcp");
	assert_string_equal(eph_feature_name(EPH_FEATURE_TW_REUSE_DELAY),
			    "tcp_tw_reuse_delay");
	assert_string_equal(eph_feature_name(EPH_FEATURE_TRACER), "tracer");
	for (int i = 0; i < EPH_FEATURE__COUNT; i++) {
		assert_non_null(eph_feature_name(i));
		for (int k = 0; k < i; k++)
			assert_string_not_equal(eph_feature_name(i),
						eph_feature_name(k));
	}
	assert_null(eph_feature_name(EPH_FEATURE__COUNT));
	assert_null(eph_features_get(f, EPH_FEATURE__COUNT));
	assert_string_equal(eph_feature_state_name(EPH_FEATURE_UNKNOWN),
			    "unknown");
	assert_string_equal(eph_feature_why_code(EPH_FEATURE_WHY_NOT_MOUNTED),
			    "not-mounted");
	assert_string_equal(eph_feature_why_code(EPH_FEATURE_WHY_ERROR),
			    "error");
	eph_features_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_everything_the_tracer_needs_is_seen),
		cmocka_unit_test(test_an_old_kernel_lacks_each_with_its_reason),
		cmocka_unit_test(
			test_what_cannot_be_seen_is_unknown_or_missing),
		cmocka_unit_test(test_sock_diag_is_asked),
		cmocka_unit_test(test_names_are_stable_and_bounded),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
