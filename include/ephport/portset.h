/* SPDX-License-Identifier: MIT */
/* Port sets: all 65,536 ports, with the kernel's list syntax. */
#ifndef EPHPORT_PORTSET_H
#define EPHPORT_PORTSET_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Makes an empty set (8 KiB). Returns 0 or -ENOMEM. */
int eph_portset_new(struct eph_portset **ret);
void eph_portset_free(struct eph_portset *ps);
void eph_portset_clear(struct eph_portset *ps);
void eph_portset_copy(struct eph_portset *dst, const struct eph_portset *src);

/* Adds or removes LO..HI inclusive; nothing happens when LO > HI. */
void eph_portset_add(struct eph_portset *ps, uint16_t lo, uint16_t hi);
void eph_portset_del(struct eph_portset *ps, uint16_t lo, uint16_t hi);
bool eph_portset_has(const struct eph_portset *ps, uint16_t port);

/* Returns how many ports the set holds, in all or within LO..HI. */
uint32_t eph_portset_count(const struct eph_portset *ps);
uint32_t eph_portset_count_range(const struct eph_portset *ps, uint16_t lo,
				 uint16_t hi);

/* DST := DST | SRC, DST := DST & ~SRC, DST := DST & SRC. */
void eph_portset_union(struct eph_portset *dst, const struct eph_portset *src);
void eph_portset_subtract(struct eph_portset *dst,
			  const struct eph_portset *src);
void eph_portset_intersect(struct eph_portset *dst,
			   const struct eph_portset *src);
bool eph_portset_equal(const struct eph_portset *a,
		       const struct eph_portset *b);

/* Iteration: returns the first port >= FROM in the set, or -1. */
int32_t eph_portset_next(const struct eph_portset *ps, uint32_t from);

/*
 * Parses the kernel's list syntax ("8080,40000-40002") from S[0..LEN) and
 * replaces the set's contents with it. One trailing newline is accepted (as
 * the kernel prints it); an empty string or a lone newline is the empty set.
 * Empty items, inverted ranges, numbers above 65535, spaces and any other
 * text are errors naming the offending item. On failure the set is left as
 * it was. Returns 0, -EINVAL or -ERANGE.
 */
int eph_portset_parse(struct eph_ctx *ctx, struct eph_portset *ps,
		      const char *s, size_t len);

/*
 * Parses a list file: one port, range or port list per line, blank lines
 * and "#" comments ignored, spaces around items allowed. Errors name the
 * line. On failure the set is left as it was. Returns 0, -EINVAL or
 * -ERANGE.
 */
int eph_portset_parse_lines(struct eph_ctx *ctx, struct eph_portset *ps,
			    const char *s, size_t len);

/*
 * Reads a list file (see eph_portset_parse_lines(); at most 1 MiB) at
 * PATH into PS. Errors name the file and the line. On failure PS is left
 * as it was. Returns 0 or a negative errno.
 */
int eph_portset_read_file(struct eph_ctx *ctx, struct eph_portset *ps,
			  const char *path);

/*
 * Writes the canonical form (ascending, merged, "a-b" for runs) into BUF,
 * NUL-terminated and truncated to SIZE like snprintf(). Returns the length
 * of the full form, excluding the NUL.
 */
size_t eph_portset_format(const struct eph_portset *ps, char *buf, size_t size);

/*
 * The canonical form in a new string the caller frees, or NULL when out
 * of memory.
 */
char *eph_portset_to_string(const struct eph_portset *ps);

#ifdef __cplusplus
}
#endif

#endif
