/* SPDX-License-Identifier: MIT */
/*
 * Features: what this kernel lets ephport use, and what this library was
 * built with. Each answer is a state (yes, no, or unknown when it could
 * not be told) and a reason code, never prose: "ephport --version" words
 * them, so that a bug report says which sources an answer came from.
 */
#ifndef EPHPORT_FEATURES_H
#define EPHPORT_FEATURES_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The features probed, in the order a front end lists them. */
enum eph_feature {
	/* sock_diag dumps TCP sockets (the tcp_diag module). */
	EPH_FEATURE_SOCK_DIAG_TCP,
	/* sock_diag dumps UDP sockets (the udp_diag module). */
	EPH_FEATURE_SOCK_DIAG_UDP,
	/* A dumped socket carries its cgroup (INET_DIAG_CGROUP_ID, Linux
	 * 5.7): who holds a port without a walk of /proc. */
	EPH_FEATURE_DIAG_CGROUP_ID,
	/* A dumped socket carries its bind flags (INET_DIAG_SOCKOPT, Linux
	 * 5.10): IP_BIND_ADDRESS_NO_PORT told from a pinned port. */
	EPH_FEATURE_DIAG_SOCKOPT,
	/* The cgroup v2 hierarchy is mounted (detail: where). */
	EPH_FEATURE_CGROUP2,
	/* net.ipv4.tcp_tw_reuse_delay exists (Linux 6.14). */
	EPH_FEATURE_TW_REUSE_DELAY,
	/* The library was built with the eBPF tracer (ephport trace). */
	EPH_FEATURE_TRACER_BUILT,
	/* The kernel's BTF (detail: /sys/kernel/btf/vmlinux). */
	EPH_FEATURE_BTF,
	/* The kfunc the tracer reads through, bpf_rdonly_cast (Linux 6.2),
	 * named in the kernel's BTF. */
	EPH_FEATURE_BPF_RDONLY_CAST,
	/* The tracepoints sock:inet_sock_set_state,
	 * syscalls:sys_exit_connect and syscalls:sys_exit_bind under tracefs
	 * (detail: the first one missing). */
	EPH_FEATURE_TRACEPOINTS,
	/* This process may load and attach the tracer: CAP_BPF and
	 * CAP_PERFMON, or CAP_SYS_ADMIN (detail: those it has, or lacks). */
	EPH_FEATURE_BPF_PRIVILEGE,
	/* All of the five above: eph_tracer_new() can work (detail: the
	 * first that is not a yes). */
	EPH_FEATURE_TRACER,
	EPH_FEATURE__COUNT
};

enum eph_feature_state {
	EPH_FEATURE_NO,
	EPH_FEATURE_YES,
	EPH_FEATURE_UNKNOWN, /* it could not be told: see the reason */
};

/* Why a feature is in its state. */
enum eph_feature_why {
	EPH_FEATURE_WHY_SEEN,	      /* yes: it answered, or is there */
	EPH_FEATURE_WHY_MISSING,      /* no: this kernel lacks it (too old,
					 not configured, module not loaded) */
	EPH_FEATURE_WHY_NOT_MOUNTED,  /* the file system that shows it is not
					 mounted (cgroup2: no; tracefs:
					 unknown, ephport trace mounts it) */
	EPH_FEATURE_WHY_NOT_BUILT,    /* no: this library was built without */
	EPH_FEATURE_WHY_NO_PRIVILEGE, /* no: this process lacks capabilities */
	EPH_FEATURE_WHY_DEPENDS,      /* follows the feature named in the
					 detail, which is not a yes */
	EPH_FEATURE_WHY_ERROR,	      /* unknown: looking failed (err) */
};

struct eph_feature_status {
	enum eph_feature_state state;
	enum eph_feature_why why;
	int err;	    /* WHY_ERROR: the negative errno, else 0 */
	const char *detail; /* a path, a name or a list, or NULL; owned by
			       the features object */
};

struct eph_features;

/*
 * Probes every feature, in the context's network namespace where it
 * matters (the sock_diag dumps, the sysctl): it opens a sock_diag socket,
 * makes one UDP socket bound to a port of the kernel's choosing (with
 * IP_BIND_ADDRESS_NO_PORT set afterwards, so that a dump shows the flag)
 * and closes it at once, reads the sysctl, /proc/self/mountinfo, the
 * kernel's BTF and tracefs, and asks for this process's capabilities. It
 * changes nothing. A feature that cannot be probed is UNKNOWN, not a
 * failure. Returns 0, or -ENOMEM.
 */
int eph_features_probe(struct eph_ctx *ctx, struct eph_features **ret);
void eph_features_free(struct eph_features *f);

/* The status of feature WHICH; NULL past EPH_FEATURE__COUNT. Owned by F. */
const struct eph_feature_status *eph_features_get(const struct eph_features *f,
						  enum eph_feature which);

/* The kernel's release, as uname -r prints it; owned by F. */
const char *eph_features_kernel(const struct eph_features *f);

/* A stable key for WHICH ("sock_diag_tcp", "diag_cgroup_id", ...), or
 * NULL past the end. */
const char *eph_feature_name(enum eph_feature which);

/* "no", "yes" or "unknown". */
const char *eph_feature_state_name(enum eph_feature_state state);

/* "seen", "missing", "not-mounted", "not-built", "no-privilege",
 * "depends", "error". */
const char *eph_feature_why_code(enum eph_feature_why why);

#ifdef __cplusplus
}
#endif

#endif
