/* SPDX-License-Identifier: MIT */
/* Owners: which process holds a socket; network namespaces of the host. */
#ifndef EPHPORT_OWNERS_H
#define EPHPORT_OWNERS_H

#include "common.h"
#include "scan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One process holding a socket. */
struct eph_owner_proc {
	int32_t pid;
	int32_t ppid;  /* its parent, -1 when unknown */
	char comm[16]; /* its name, made printable */
};

struct eph_owner {
	uint32_t inode;
	int32_t pid;	  /* the first process holding it, procs[0] (kept for
			     the callers that name one); -1: none found */
	char comm[16];	  /* its name, made printable */
	char cgroup[256]; /* its cgroup v2 path ("/system.slice/x.service"),
			     "" when unknown */
	/*
	 * Every process holding it: a socket shared after fork() (a prefork
	 * server's listener, held by the master and each worker) or handed
	 * over is held by several, and the port is free only when every one
	 * of them has closed it. Parents come before their children. PROCS
	 * points into the object that filled this owner (an eph_owners
	 * lookup until it is cleared, resolved again or freed; a diagnosis
	 * or an audit for as long as it lives): a copy must not outlive it.
	 */
	uint32_t nprocs; /* 0 when none was found */
	const struct eph_owner_proc *procs;
	bool parent_first; /* procs[0] is the parent (or an ancestor) of every
			      other holder: a prefork master, whose stop
			      stops its workers */
	bool looked_up;	   /* the processes were looked for; false: not
			      looked up at all (pid -1 then says nothing) */
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
 * With FIRST true, eph_owners_resolve() stops at the first process holding
 * each socket and does not look for the others (nprocs is then 1): enough
 * to name a holder (usage's blocked ports, the audit, consumers by
 * process), and far cheaper on a host whose big processes share their
 * listeners, where finding every sharer reads all their descriptors.
 * The default, false, finds every holder, as a remedy that stops them
 * needs.
 */
void eph_owners_set_first_only(struct eph_owners *o, bool first);

/*
 * Walks /proc/PID/fd once for every inode wanted, stopping when all are
 * found. For a few inodes among many processes, each process's first
 * socket is read (one readlink of a low descriptor) and the processes
 * whose first socket was made just before a wanted inode are searched
 * first. Then, likeliest and cheapest processes first: the members of the
 * wanted sockets' cgroups, then the processes of the context's network
 * namespace running as the sockets' users, then the namespace's others,
 * then the rest; among equals, those with the fewest descriptors. A
 * process with thousands of descriptors is searched by bisection first
 * (sockets it opened one after another hold rising inodes) and walked
 * whole only if that misses: every owner is read from a link, never
 * guessed. Many processes are read side by side, one thread per CPU.
 * Processes that vanish or cannot be read are skipped (so an
 * unprivileged caller finds only its own).
 *
 * Then (unless eph_owners_set_first_only()), for every socket found, the
 * other processes that hold it: a
 * socket is shared by fork(), so the parent and the children of each
 * holder are read too, and theirs in turn while they hold it; when a
 * holder's session leader has exited (workers whose master is gone), the
 * members of its cgroup are read as well. A process that got the socket
 * otherwise (passed over a unix socket to a stranger) is named only if
 * the walk met it before it stopped.
 *
 * Returns the number of inodes found, or a negative errno when /proc
 * cannot be read.
 */
int eph_owners_resolve(struct eph_owners *o);
/*
 * INODE's owner after a resolve (looked_up set, its processes in procs),
 * or NULL when none was found. Valid until the lookup is cleared,
 * resolved again or freed.
 */
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
