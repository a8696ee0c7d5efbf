/* SPDX-License-Identifier: MIT */
/*
 * What this kernel lets ephport use. Each feature is looked for the way
 * ephport would use it, never guessed from the kernel's version: a
 * sock_diag dump is asked for, a socket of our own is dumped to see which
 * attributes come with it, the sysctl is read, the BTF is searched for
 * the kfunc the tracer needs, tracefs is looked in. Backported or
 * configured-out features are then told right.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/capability.h>

#include "config.h"
#include "internal.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* The kernel's BTF is a few MiB; a file far larger is not one. */
#define BTF_MAX (256u * 1024u * 1024u)

struct eph_features {
	struct eph_feature_status st[EPH_FEATURE__COUNT];
	char kernel[65];
	char cgroup2[256];
	char btf[256];
	char tracefs[256];
	char tracepoint[64];
	char caps[64];
};

static const char *const names[EPH_FEATURE__COUNT] = {
	[EPH_FEATURE_SOCK_DIAG_TCP] = "sock_diag_tcp",
	[EPH_FEATURE_SOCK_DIAG_UDP] = "sock_diag_udp",
	[EPH_FEATURE_DIAG_CGROUP_ID] = "diag_cgroup_id",
	[EPH_FEATURE_DIAG_SOCKOPT] = "diag_sockopt",
	[EPH_FEATURE_CGROUP2] = "cgroup2",
	[EPH_FEATURE_TW_REUSE_DELAY] = "tcp_tw_reuse_delay",
	[EPH_FEATURE_TRACER_BUILT] = "tracer_built",
	[EPH_FEATURE_BTF] = "btf",
	[EPH_FEATURE_BPF_RDONLY_CAST] = "bpf_rdonly_cast",
	[EPH_FEATURE_TRACEPOINTS] = "tracepoints",
	[EPH_FEATURE_BPF_PRIVILEGE] = "bpf_privilege",
	[EPH_FEATURE_TRACER] = "tracer",
};

/* The tracepoints the tracer attaches to, as tracefs lays them out. */
static const char *const tracepoints[][2] = {
	{ "sock", "inet_sock_set_state" },
	{ "syscalls", "sys_exit_connect" },
	{ "syscalls", "sys_exit_bind" },
};

EPH_EXPORT const char *eph_feature_name(enum eph_feature which)
{
	return (unsigned int)which < EPH_FEATURE__COUNT ? names[which] : NULL;
}

EPH_EXPORT const char *eph_feature_state_name(enum eph_feature_state state)
{
	switch (state) {
	case EPH_FEATURE_NO:
		return "no";
	case EPH_FEATURE_YES:
		return "yes";
	default:
		return "unknown";
	}
}

EPH_EXPORT const char *eph_feature_why_code(enum eph_feature_why why)
{
	switch (why) {
	case EPH_FEATURE_WHY_SEEN:
		return "seen";
	case EPH_FEATURE_WHY_MISSING:
		return "missing";
	case EPH_FEATURE_WHY_NOT_MOUNTED:
		return "not-mounted";
	case EPH_FEATURE_WHY_NOT_BUILT:
		return "not-built";
	case EPH_FEATURE_WHY_NO_PRIVILEGE:
		return "no-privilege";
	case EPH_FEATURE_WHY_DEPENDS:
		return "depends";
	default:
		return "error";
	}
}

static void set(struct eph_features *f, enum eph_feature which,
		enum eph_feature_state state, enum eph_feature_why why, int err,
		const char *detail)
{
	f->st[which] = (struct eph_feature_status){ state, why, err, detail };
}

/* A sock_diag request, as ephport makes them, that matches no socket. */
static int dump_nothing(const struct eph_sock *s, void *data)
{
	(void)s;
	(void)data;
	return 0;
}

/*
 * Does sock_diag answer a dump of PROTO_BIT (EPH_PROTO_*)? Listeners on
 * port 0 do not exist, so the kernel walks one hash and sends nothing.
 * A protocol without its diag module answers ENOENT.
 */
static void probe_dump(struct eph_features *f, struct eph_scan *scan,
		       int scan_err, uint32_t proto_bit, enum eph_feature which)
{
	const struct eph_scan_filter flt = {
		.protos = proto_bit,
		.families = EPH_FAMILY_IPV4,
		.states = 1u << EPH_TCP_LISTEN,
		.port_range = true,
	};
	const struct eph_scan_ops ops = { NULL, dump_nothing };
	int r = scan ? eph_scan_run(scan, &flt, &ops, NULL) : scan_err;

	if (r >= 0)
		set(f, which, EPH_FEATURE_YES, EPH_FEATURE_WHY_SEEN, 0, NULL);
	else if (r == -ENOENT || r == -EPROTONOSUPPORT)
		set(f, which, EPH_FEATURE_NO, EPH_FEATURE_WHY_MISSING, 0, NULL);
	else
		set(f, which, EPH_FEATURE_UNKNOWN, EPH_FEATURE_WHY_ERROR, r,
		    NULL);
}

/* What the dump said about the probe's own socket. */
struct seen {
	uint64_t inode;
	bool found, cgroup_id, no_port;
};

static int seen_sock(const struct eph_sock *s, void *data)
{
	struct seen *x = data;

	if (s->inode != x->inode)
		return 0;
	x->found = true;
	/* Every cgroup has an id above 0, the root's included: 0 is the
	 * attribute missing. */
	x->cgroup_id = s->cgroup_id != 0;
	x->no_port = s->flags & EPH_SOCK_BIND_NO_PORT;
	return 0;
}

/* A UDP socket bound to a port of the kernel's choosing, in the context's
 * namespace, with IP_BIND_ADDRESS_NO_PORT set after the bind (so the bind
 * still takes a port and the socket is in the table to dump). */
static int probe_socket(struct eph_ctx *ctx, uint16_t *ret_port,
			uint64_t *ret_inode)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct stat st;
	int fd, one = 1, r, serr;

	r = ctx_netns_enter(ctx);
	if (r < 0)
		return r;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	serr = fd < 0 ? -errno : 0;
	r = ctx_netns_leave(ctx);
	if (fd < 0)
		return serr;
	if (r < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0 ||
	    fstat(fd, &st) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		       sizeof(one)) < 0) {
		r = -errno;
		goto fail;
	}
	*ret_port = ntohs(sin.sin_port);
	*ret_inode = (uint64_t)st.st_ino;
	return fd;
fail:
	close(fd);
	return r;
}

/* Which attributes come with a dumped socket: the probe's own. */
static void probe_attrs(struct eph_features *f, struct eph_ctx *ctx,
			struct eph_scan *scan)
{
	struct eph_scan_filter flt = { .protos = EPH_PROTO_UDP,
				       .families = EPH_FAMILY_IPV4,
				       .port_range = true };
	const struct eph_scan_ops ops = { NULL, seen_sock };
	struct seen x = { 0 };
	uint16_t port = 0;
	int fd, r;

	if (f->st[EPH_FEATURE_SOCK_DIAG_UDP].state != EPH_FEATURE_YES) {
		set(f, EPH_FEATURE_DIAG_CGROUP_ID, EPH_FEATURE_UNKNOWN,
		    EPH_FEATURE_WHY_DEPENDS, 0,
		    names[EPH_FEATURE_SOCK_DIAG_UDP]);
		f->st[EPH_FEATURE_DIAG_SOCKOPT] =
			f->st[EPH_FEATURE_DIAG_CGROUP_ID];
		return;
	}
	fd = probe_socket(ctx, &port, &x.inode);
	r = fd;
	if (fd >= 0) {
		flt.port_lo = flt.port_hi = port;
		r = eph_scan_run(scan, &flt, &ops, &x);
		close(fd);
		if (r >= 0 && !x.found)
			r = -ESRCH;
	}
	if (r < 0) {
		set(f, EPH_FEATURE_DIAG_CGROUP_ID, EPH_FEATURE_UNKNOWN,
		    EPH_FEATURE_WHY_ERROR, r, NULL);
		f->st[EPH_FEATURE_DIAG_SOCKOPT] =
			f->st[EPH_FEATURE_DIAG_CGROUP_ID];
		return;
	}
	set(f, EPH_FEATURE_DIAG_CGROUP_ID,
	    x.cgroup_id ? EPH_FEATURE_YES : EPH_FEATURE_NO,
	    x.cgroup_id ? EPH_FEATURE_WHY_SEEN : EPH_FEATURE_WHY_MISSING, 0,
	    NULL);
	set(f, EPH_FEATURE_DIAG_SOCKOPT,
	    x.no_port ? EPH_FEATURE_YES : EPH_FEATURE_NO,
	    x.no_port ? EPH_FEATURE_WHY_SEEN : EPH_FEATURE_WHY_MISSING, 0,
	    NULL);
}

static void probe_sock_diag(struct eph_features *f, struct eph_ctx *ctx)
{
	struct eph_scan *scan = NULL;
	int r = eph_scan_new(ctx, &scan);

	probe_dump(f, scan, r, EPH_PROTO_TCP, EPH_FEATURE_SOCK_DIAG_TCP);
	probe_dump(f, scan, r, EPH_PROTO_UDP, EPH_FEATURE_SOCK_DIAG_UDP);
	probe_attrs(f, ctx, scan);
	eph_scan_free(scan);
}

static void probe_tw_reuse_delay(struct eph_features *f, struct eph_ctx *ctx)
{
	const char *buf;
	size_t len;
	int r = ctx_netns_enter(ctx), r2;

	if (r == 0) {
		r = ctx_sysctl_read(ctx, "net.ipv4.tcp_tw_reuse_delay", &buf,
				    &len);
		r2 = ctx_netns_leave(ctx);
		if (r == 0)
			r = r2;
	}
	if (r == 0)
		set(f, EPH_FEATURE_TW_REUSE_DELAY, EPH_FEATURE_YES,
		    EPH_FEATURE_WHY_SEEN, 0, NULL);
	else if (r == -ENOENT)
		set(f, EPH_FEATURE_TW_REUSE_DELAY, EPH_FEATURE_NO,
		    EPH_FEATURE_WHY_MISSING, 0, NULL);
	else
		set(f, EPH_FEATURE_TW_REUSE_DELAY, EPH_FEATURE_UNKNOWN,
		    EPH_FEATURE_WHY_ERROR, r, NULL);
}

static void probe_cgroup2(struct eph_features *f, const char *mountinfo)
{
	int r;

	/* cgroup_mount_in() says -ENOENT for no cgroup2 line; a mount table
	 * that cannot be read is something else. */
	if (access(mountinfo, R_OK) < 0) {
		set(f, EPH_FEATURE_CGROUP2, EPH_FEATURE_UNKNOWN,
		    EPH_FEATURE_WHY_ERROR, -errno, NULL);
		return;
	}
	r = cgroup_mount_in(mountinfo, f->cgroup2, sizeof(f->cgroup2));
	if (r == 0)
		set(f, EPH_FEATURE_CGROUP2, EPH_FEATURE_YES,
		    EPH_FEATURE_WHY_SEEN, 0, f->cgroup2);
	else if (r == -ENOENT)
		set(f, EPH_FEATURE_CGROUP2, EPH_FEATURE_NO,
		    EPH_FEATURE_WHY_NOT_MOUNTED, 0, NULL);
	else
		set(f, EPH_FEATURE_CGROUP2, EPH_FEATURE_UNKNOWN,
		    EPH_FEATURE_WHY_ERROR, r, NULL);
}

/* The BTF, and in its strings the name of the kfunc the tracer needs. */
static void probe_btf(struct eph_features *f, struct eph_ctx *ctx,
		      const char *path)
{
	/* A name in BTF's string section stands between two NULs. */
	static const char kfunc[] = "\0bpf_rdonly_cast";
	char *buf = NULL;
	size_t len = 0;
	int r;

	snprintf(f->btf, sizeof(f->btf), "%s", path);
	r = fileio_read(ctx, AT_FDCWD, path, NULL, 0, BTF_MAX, &buf, &len);
	if (r == -ENOENT) {
		set(f, EPH_FEATURE_BTF, EPH_FEATURE_NO, EPH_FEATURE_WHY_MISSING,
		    0, f->btf);
	} else if (r < 0) {
		set(f, EPH_FEATURE_BTF, EPH_FEATURE_UNKNOWN,
		    EPH_FEATURE_WHY_ERROR, r, f->btf);
	} else {
		set(f, EPH_FEATURE_BTF, EPH_FEATURE_YES, EPH_FEATURE_WHY_SEEN,
		    0, f->btf);
	}
	if (r < 0) {
		set(f, EPH_FEATURE_BPF_RDONLY_CAST,
		    r == -ENOENT ? EPH_FEATURE_NO : EPH_FEATURE_UNKNOWN,
		    EPH_FEATURE_WHY_DEPENDS, 0, names[EPH_FEATURE_BTF]);
		return;
	}
	/* The buffer ends in a NUL, which closes the name. */
	if (memmem(buf, len + 1, kfunc, sizeof(kfunc)))
		set(f, EPH_FEATURE_BPF_RDONLY_CAST, EPH_FEATURE_YES,
		    EPH_FEATURE_WHY_SEEN, 0, NULL);
	else
		set(f, EPH_FEATURE_BPF_RDONLY_CAST, EPH_FEATURE_NO,
		    EPH_FEATURE_WHY_MISSING, 0, NULL);
	free(buf);
}

static void probe_tracepoints(struct eph_features *f, const char *tracefs)
{
	char path[512];
	struct stat st;

	snprintf(f->tracefs, sizeof(f->tracefs), "%s", tracefs);
	/* Unmounted, tracefs's directory is empty (or absent). */
	snprintf(path, sizeof(path), "%s/events", tracefs);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			set(f, EPH_FEATURE_TRACEPOINTS, EPH_FEATURE_UNKNOWN,
			    EPH_FEATURE_WHY_NOT_MOUNTED, 0, f->tracefs);
		else
			set(f, EPH_FEATURE_TRACEPOINTS, EPH_FEATURE_UNKNOWN,
			    EPH_FEATURE_WHY_ERROR, -errno, f->tracefs);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(tracepoints); i++) {
		snprintf(path, sizeof(path), "%s/events/%s/%s", tracefs,
			 tracepoints[i][0], tracepoints[i][1]);
		if (stat(path, &st) == 0)
			continue;
		snprintf(f->tracepoint, sizeof(f->tracepoint), "%s:%s",
			 tracepoints[i][0], tracepoints[i][1]);
		if (errno == ENOENT)
			set(f, EPH_FEATURE_TRACEPOINTS, EPH_FEATURE_NO,
			    EPH_FEATURE_WHY_MISSING, 0, f->tracepoint);
		else
			set(f, EPH_FEATURE_TRACEPOINTS, EPH_FEATURE_UNKNOWN,
			    EPH_FEATURE_WHY_ERROR, -errno, f->tracepoint);
		return;
	}
	set(f, EPH_FEATURE_TRACEPOINTS, EPH_FEATURE_YES, EPH_FEATURE_WHY_SEEN,
	    0, NULL);
}

/* This process's effective capabilities, as a mask of (1 << CAP_*). */
static int effective_caps(uint64_t *ret)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	*ret = (uint64_t)d[0].effective | (uint64_t)d[1].effective << 32;
	return 0;
}

static void probe_privilege(struct eph_features *f,
			    const struct features_where *w)
{
	const uint64_t admin = 1ull << CAP_SYS_ADMIN;
	const uint64_t bpf = 1ull << CAP_BPF, perfmon = 1ull << CAP_PERFMON;
	uint64_t caps = w->caps;
	int r = w->caps_set ? 0 : effective_caps(&caps);

	if (r < 0) {
		set(f, EPH_FEATURE_BPF_PRIVILEGE, EPH_FEATURE_UNKNOWN,
		    EPH_FEATURE_WHY_ERROR, r, NULL);
		return;
	}
	if (caps & admin) {
		snprintf(f->caps, sizeof(f->caps), "CAP_SYS_ADMIN");
	} else if ((caps & bpf) && (caps & perfmon)) {
		snprintf(f->caps, sizeof(f->caps), "CAP_BPF,CAP_PERFMON");
	} else {
		/* What is missing, the shorter way to the tracer first. */
		snprintf(f->caps, sizeof(f->caps), "%s%s%s",
			 caps & bpf ? "" : "CAP_BPF",
			 (caps & (bpf | perfmon)) ? "" : ",",
			 caps & perfmon ? "" : "CAP_PERFMON");
		set(f, EPH_FEATURE_BPF_PRIVILEGE, EPH_FEATURE_NO,
		    EPH_FEATURE_WHY_NO_PRIVILEGE, 0, f->caps);
		return;
	}
	set(f, EPH_FEATURE_BPF_PRIVILEGE, EPH_FEATURE_YES, EPH_FEATURE_WHY_SEEN,
	    0, f->caps);
}

/* The tracer needs every one of these; the first not a yes is why not. */
static void probe_tracer(struct eph_features *f)
{
	static const enum eph_feature needs[] = { EPH_FEATURE_TRACER_BUILT,
						  EPH_FEATURE_BTF,
						  EPH_FEATURE_BPF_RDONLY_CAST,
						  EPH_FEATURE_TRACEPOINTS,
						  EPH_FEATURE_BPF_PRIVILEGE };
	const char *unknown = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(needs); i++) {
		enum eph_feature_state s = f->st[needs[i]].state;

		if (s == EPH_FEATURE_NO) {
			set(f, EPH_FEATURE_TRACER, EPH_FEATURE_NO,
			    EPH_FEATURE_WHY_DEPENDS, 0, names[needs[i]]);
			return;
		}
		if (s == EPH_FEATURE_UNKNOWN && !unknown)
			unknown = names[needs[i]];
	}
	if (unknown)
		set(f, EPH_FEATURE_TRACER, EPH_FEATURE_UNKNOWN,
		    EPH_FEATURE_WHY_DEPENDS, 0, unknown);
	else
		set(f, EPH_FEATURE_TRACER, EPH_FEATURE_YES,
		    EPH_FEATURE_WHY_SEEN, 0, NULL);
}

int features_probe_where(struct eph_ctx *ctx, const struct features_where *w,
			 struct eph_features **ret)
{
	struct eph_features *f;
	struct utsname u;

	ctx_clear_error(ctx);
	f = calloc(1, sizeof(*f));
	if (!f)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	if (uname(&u) == 0)
		snprintf(f->kernel, sizeof(f->kernel), "%s", u.release);
	probe_sock_diag(f, ctx);
	probe_cgroup2(f, w->mountinfo);
	probe_tw_reuse_delay(f, ctx);
	if (EPHPORT_BPF)
		set(f, EPH_FEATURE_TRACER_BUILT, EPH_FEATURE_YES,
		    EPH_FEATURE_WHY_SEEN, 0, NULL);
	else
		set(f, EPH_FEATURE_TRACER_BUILT, EPH_FEATURE_NO,
		    EPH_FEATURE_WHY_NOT_BUILT, 0, NULL);
	probe_btf(f, ctx, w->btf);
	probe_tracepoints(f, w->tracefs);
	probe_privilege(f, w);
	probe_tracer(f);
	/* What could not be told is in the statuses, not a failure. */
	ctx_clear_error(ctx);
	*ret = f;
	return 0;
}

EPH_EXPORT int eph_features_probe(struct eph_ctx *ctx,
				  struct eph_features **ret)
{
	static const struct features_where host = {
		.btf = "/sys/kernel/btf/vmlinux",
		.tracefs = "/sys/kernel/tracing",
		.mountinfo = "/proc/self/mountinfo",
	};

	return features_probe_where(ctx, &host, ret);
}

EPH_EXPORT void eph_features_free(struct eph_features *f)
{
	free(f);
}

EPH_EXPORT const struct eph_feature_status *
eph_features_get(const struct eph_features *f, enum eph_feature which)
{
	return (unsigned int)which < EPH_FEATURE__COUNT ? &f->st[which] : NULL;
}

EPH_EXPORT const char *eph_features_kernel(const struct eph_features *f)
{
	return f->kernel;
}
