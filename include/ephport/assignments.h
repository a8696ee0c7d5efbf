/* SPDX-License-Identifier: MIT */
/*
 * Assignments: the store of the ports `ephport pick` handed out, one
 * service name per port and one port per name, in a text file of
 * "NAME PORT DATE" lines.
 */
#ifndef EPHPORT_ASSIGNMENTS_H
#define EPHPORT_ASSIGNMENTS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the store lives unless the caller names another file. */
#define EPH_ASSIGNMENTS_DEFAULT "/var/lib/ephport/ports"

/* The longest service name. */
#define EPH_ASSIGNMENT_NAME_MAX 64

/* One assignment: NAME has had PORT since DATE. */
struct eph_assignment {
	char name[EPH_ASSIGNMENT_NAME_MAX + 1];
	uint16_t port; /* 1-65535 */
	char date[11]; /* YYYY-MM-DD, UTC, when it was set */
};

struct eph_assignments;

/*
 * Is NAME[0..LEN) a valid service name: 1 to EPH_ASSIGNMENT_NAME_MAX
 * letters, digits and "-_.@:"?
 */
bool eph_assignment_name_valid(const char *name, size_t len);

/*
 * Opens the store at PATH (a host path; a relative one is relative to the
 * working directory): locks its directory against other ephport writers
 * (waiting for them) and reads the file strictly. A missing file is an
 * empty store. With CREATE, a missing directory is created (for a store
 * that will be written); without it, a missing directory is an empty store
 * that holds no lock and cannot be committed. The lock lasts until the
 * store is freed.
 * Returns 0, or a negative errno: -EBADMSG when the file is corrupt (a
 * malformed line, a name or a port twice; the detail names the line and
 * the file is left as it is), -EISDIR when PATH names no file, another
 * errno when the file or its directory cannot be read or locked.
 */
int eph_assignments_open(struct eph_ctx *ctx, const char *path, bool create,
			 struct eph_assignments **ret);

/* Unlocks and frees the store; uncommitted changes are dropped. */
void eph_assignments_free(struct eph_assignments *a);

/* The path it was opened with; owned by A. */
const char *eph_assignments_path(const struct eph_assignments *a);

/* The number of assignments, in the file's order. */
size_t eph_assignments_count(const struct eph_assignments *a);

/*
 * Returns assignment I, or NULL past the end. The pointers the store
 * returns stay valid until it is changed (set, release) or freed.
 */
const struct eph_assignment *
eph_assignments_get(const struct eph_assignments *a, size_t i);

/* Returns NAME's assignment, or NULL. */
const struct eph_assignment *
eph_assignments_find(const struct eph_assignments *a, const char *name);

/* Returns the assignment holding PORT, or NULL. */
const struct eph_assignment *
eph_assignments_find_port(const struct eph_assignments *a, uint16_t port);

/*
 * Assigns PORT to NAME, dated today; NAME's previous port, if any, is
 * freed. In memory only until eph_assignments_commit().
 * Returns 0, -EINVAL (not a valid name, or port 0), -EEXIST (another name
 * holds PORT) or -ENOMEM.
 */
int eph_assignments_set(struct eph_assignments *a, const char *name,
			uint16_t port);

/*
 * Drops NAME's assignment, in memory until eph_assignments_commit().
 * Returns 0, or -ENOENT when NAME has none.
 */
int eph_assignments_release(struct eph_assignments *a, const char *name);

/*
 * Writes the store back, under the lock taken at open: to a temporary
 * file in the same directory, synced and renamed over the file, so that a
 * reader sees the old store or the new one, never a part. On failure the
 * file is as it was.
 * Returns 0, or a negative errno (-ENOENT: opened without CREATE on a
 * missing directory).
 */
int eph_assignments_commit(struct eph_assignments *a);

#ifdef __cplusplus
}
#endif

#endif
