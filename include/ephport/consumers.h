/* SPDX-License-Identifier: MIT */
/*
 * Consumers: who holds a destination's ephemeral ports, by systemd unit,
 * container, cgroup, user or process; and the names a cgroup path gives.
 */
#ifndef EPHPORT_CONSUMERS_H
#define EPHPORT_CONSUMERS_H

#include "common.h"
#include "diagnose.h"
#include "snapshot.h"
#include "usage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- What a cgroup path says ---- */

/*
 * The systemd unit of cgroup PATH ("/system.slice/nginx.service/x"): its
 * outermost .service or .scope ("nginx.service", "user@1000.service",
 * "session-3.scope"), else its innermost .slice, into BUF. Returns BUF, or
 * NULL when the path names no unit ("/", a path outside systemd's tree).
 */
const char *eph_cgroup_unit(const char *path, char *buf, size_t size);

/* A container a cgroup belongs to. */
struct eph_container {
	char runtime[16]; /* "docker", "containerd", "cri-o", "podman",
			     "lxc", "nspawn"; "kubernetes": a pod's
			     container whose runtime the path does not
			     name (the cgroupfs driver) */
	char id[72];	  /* the container's id (or name, for lxc and
			     nspawn) */
	char pod[40];	  /* a Kubernetes pod's UID, or "" */
};

/*
 * Reads the container out of cgroup PATH, the way docker, containerd
 * (and Kubernetes pods, with the pod's UID), CRI-O, podman, LXC and
 * systemd-nspawn name their cgroups, with the systemd or the cgroupfs
 * driver. Returns true and fills *RET, or false when PATH is no
 * container's.
 */
bool eph_cgroup_container(const char *path, struct eph_container *ret);

/* "runtime:id" into BUF: a hex id cut to its first 12 digits, as the
 * runtimes' tools show it ("docker:0123456789ab"); a name whole
 * ("lxc:web1"). Returns BUF. */
const char *eph_container_name(const struct eph_container *c, char *buf,
			       size_t size);

/* ---- Who holds the ports ---- */

enum eph_by {
	EPH_BY_UNIT,	  /* the systemd unit of the socket's cgroup */
	EPH_BY_CONTAINER, /* the container of the socket's cgroup */
	EPH_BY_CGROUP,	  /* the socket's cgroup v2 path */
	EPH_BY_USER,	  /* the socket's user */
	EPH_BY_PROCESS,	  /* the process holding the socket */
};

/* "unit", "container", "cgroup", "user", "process"; parses them back. */
const char *eph_by_name(enum eph_by by);
int eph_by_parse(const char *s, enum eph_by *ret);

enum eph_consumer_kind {
	EPH_CONSUMER_NAMED,	/* a unit, a container, a cgroup, a user or
				   a process: see name, uid, pid */
	EPH_CONSUMER_OUTSIDE,	/* by unit or container: a cgroup in no unit
				   or no container, named by its path ("/"
				   too); "" when the cgroup is unknown (gone,
				   or no cgroup v2) */
	EPH_CONSUMER_TIME_WAIT, /* closed connections in TIME_WAIT: no
				   process or cgroup owns them any more */
	EPH_CONSUMER_GONE,	/* by process: the socket's process was not
				   found (it exited between the dump and the
				   walk, or is hidden from this caller) */
};

struct eph_consumer {
	enum eph_consumer_kind kind;
	char name[256];	  /* unit, "runtime:id", cgroup path, command */
	char cgroup[256]; /* by unit, container, process: a cgroup path of
			     it (the first seen), or "" */
	struct eph_container container; /* by container */
	uint32_t uid;			/* by user */
	int32_t pid;			/* by process; -1 otherwise */
	uint64_t sockets;      /* ports held toward every destination */
	uint32_t destinations; /* destinations it holds ports toward */
};

/* A consumer's ports toward one destination. */
struct eph_consumer_share {
	size_t consumer; /* index for eph_consumers_get() */
	uint32_t sockets;
};

struct eph_consumers;

/*
 * Makes a consumer count by BY, bound to CTX (the process walk and the
 * cgroup lookups run there). HISTORY (or NULL) names the processes behind
 * TIME_WAITs where a tracer's record knows them. Returns 0 or -ENOMEM.
 */
int eph_consumers_new(struct eph_ctx *ctx, enum eph_by by,
		      const struct eph_history *history,
		      struct eph_consumers **ret);
void eph_consumers_free(struct eph_consumers *c);

/*
 * Counts the sockets that the next takes of snapshot S count toward a
 * destination, or those of every namespace of fleet F (the namespaces
 * found later too). Call before eph_snapshot_take() or eph_fleet_scan();
 * each take counts afresh. The counting costs a hash update per socket:
 * the cgroup and the user come with every socket from the kernel; a
 * process costs one walk of /proc at eph_consumers_resolve(). S or F must
 * outlive C. Returns 0, -ENOSPC (too many watchers on S) or -ENOMEM.
 */
int eph_consumers_watch(struct eph_consumers *c, struct eph_snapshot *s);
int eph_consumers_watch_fleet(struct eph_consumers *c, struct eph_fleet *f);

/*
 * After the takes: names the consumers (cgroup paths by id, units,
 * containers; by process, one walk of /proc for every socket counted)
 * and sums them, fullest first. Returns the number of consumers, or a
 * negative errno.
 */
int eph_consumers_resolve(struct eph_consumers *c);

/* Does any consumer have a name of its kind (a unit, a container...)?
 * False when, say, no socket is in a systemd unit. */
bool eph_consumers_named(const struct eph_consumers *c);

/* The consumers, fullest first, summed over every destination. */
size_t eph_consumers_count(const struct eph_consumers *c);
const struct eph_consumer *eph_consumers_get(const struct eph_consumers *c,
					     size_t i);

/*
 * The consumers of destination T of snapshot S (a fleet's member, for a
 * fleet), fullest first, in *RET (owned by C, valid until the next
 * resolve or take). Returns how many.
 */
size_t eph_consumers_of(const struct eph_consumers *c,
			const struct eph_snapshot *s,
			const struct eph_usage_tuple *t,
			const struct eph_consumer_share **ret);

#ifdef __cplusplus
}
#endif

#endif
