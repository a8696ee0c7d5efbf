/* SPDX-License-Identifier: MIT */
/* Owners: which process holds a socket; network namespaces of the host. */
#ifndef EPHPORT_OWNERS_H
#define EPHPORT_OWNERS_H

#include "common.h"
#include "scan.h"

#ifdef __cplusplus
extern "C" {
#endif

struct eph_owner {
	uint32_t inode;
	int32_t pid;	  /* a process holding it (the first found; a socket
			     shared after fork() has several); -1: none */
	char comm[16];	  /* its name, made printable */
	char cgroup[256]; /* its cgroup v2 path ("/system.slice/x.service"),
			     "" when unknown */
};

struct eph_owners;

/* Makes an empty lookup bound to CTX. Returns 0 or -ENOMEM. */
int eph_owners_new(struct eph_ctx *ctx, struct eph_owners **ret);
void eph_owners_free(struct eph_owners *o);
/* Forgets the inodes wanted, keeping the memory. */
void eph_owners_clear(struct eph_owners *o);
/* Adds a socket inode to look for (0 is ignored). Returns 0 or -ENOMEM. */
int eph_owners_want(struct eph_owners *o, uint32_t inode);
/*
 * Adds socket S to look for, with what the dump says about its owner:
 * its user and its cgroup, which the walk looks at first (the cgroup
 * lists its members). Returns 0 or -ENOMEM.
 */
int eph_owners_want_sock(struct eph_owners *o, const struct eph_sock *s);
/*
 * Walks /proc/PID/fd once for every inode wanted, stopping when all are
 * found, likeliest and cheapest processes first: the members of the
 * wanted sockets' cgroups, then the processes of the context's network
 * namespace running as the sockets' users, then the namespace's others,
 * then the rest; among equals, those with the fewest descriptors. A
 * process with thousands of descriptors is searched by bisection first
 * (sockets it opened one after another hold rising inodes) and walked
 * whole only if that misses: every owner is read from a link, never
 * guessed. Processes that vanish or cannot be read are skipped (so an
 * unprivileged caller finds only its own). Returns the number of inodes
 * found, or a negative errno when /proc cannot be read.
 */
int eph_owners_resolve(struct eph_owners *o);
/* INODE's owner after a resolve, or NULL when none was found. */
const struct eph_owner *eph_owners_find(const struct eph_owners *o,
					uint32_t inode);

/* ---- Network namespaces ---- */

struct eph_netns {
	char spec[256];	   /* for eph_ctx_set_netns(): a name or "pid:PID" */
	char label[256];   /* the name; "host" for pid 1's; else "pid:PID" */
	bool named;	   /* has a name under /run/netns */
	bool current;	   /* the caller's own namespace */
	int32_t pid;	   /* the lowest pid in it, or -1 */
	char comm[16];	   /* that process's name, or "" */
	uint64_t dev, ino; /* identity of the namespace */
};

/*
 * Lists every named network namespace and every distinct namespace of a
 * running process, each once, named ones first, into a new array the
 * caller frees with free(). Returns 0, or a negative errno.
 */
int eph_netns_list(struct eph_ctx *ctx, struct eph_netns **ret, size_t *ret_n);

#ifdef __cplusplus
}
#endif

#endif
