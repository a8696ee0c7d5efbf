/* SPDX-License-Identifier: MIT */
/*
 * libephport: what every module shares. Include <ephport/ephport.h>, the
 * umbrella, rather than this file.
 *
 * Conventions of the whole library:
 * - Functions return 0 (or a count) on success and a negative errno value
 *   on failure, leaving a readable detail in the context they were given
 *   or bound to (eph_ctx_errmsg()). The library never prints, exits or
 *   aborts; out of memory is -ENOMEM.
 * - Objects are made by int eph_<noun>_new(..., struct eph_<noun> **ret)
 *   (or a constructor that reads, such as eph_policy_read()), which writes
 *   *RET only on success. Every eph_<noun>_free() accepts NULL.
 * - An object that does I/O is bound to a context when it is made; the
 *   context must outlive it. A context and the objects bound to it belong
 *   to one thread at a time. Scans start threads of their own, with
 *   contexts of their own, and join them before returning.
 * - Pointers an object returns (records, strings, sets) stay valid until
 *   the object is freed or asked to do its work again (the next scan,
 *   read or resolve), whichever comes first.
 * - Decisions (usage, diagnose, audit, pick, change, snapshot) return codes
 *   and numbers, never prose: a front end words them.
 */
#ifndef EPHPORT_COMMON_H
#define EPHPORT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EPH_PORT_MAX 65535u
#define EPH_PORT_COUNT 65536u

/* Protocols, as a mask: which port spaces an operation looks at. */
#define EPH_PROTO_TCP (1u << 0)
#define EPH_PROTO_UDP (1u << 1)
#define EPH_PROTO_ALL (EPH_PROTO_TCP | EPH_PROTO_UDP)

/* Address families, as a mask. */
#define EPH_FAMILY_IPV4 (1u << 0)
#define EPH_FAMILY_IPV6 (1u << 1)
#define EPH_FAMILY_ALL (EPH_FAMILY_IPV4 | EPH_FAMILY_IPV6)

/* Returns the library's version, "MAJOR.MINOR.PATCH". */
const char *eph_version(void);

struct eph_ctx;
struct eph_portset;
struct eph_policy;

#ifdef __cplusplus
}
#endif

#endif
