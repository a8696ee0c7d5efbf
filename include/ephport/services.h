/* SPDX-License-Identifier: MIT */
/* Port registries: services files and the ports browsers refuse. */
#ifndef EPHPORT_SERVICES_H
#define EPHPORT_SERVICES_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the registries usually are on a Debian system. */
#define EPH_SERVICES_IANA "/usr/share/wireshark/services"
#define EPH_SERVICES_ETC "/etc/services"
#define EPH_SERVICES_NMAP "/usr/share/nmap/nmap-services"

struct eph_services;

/*
 * Loads a services file (/etc/services, Wireshark's copy of IANA's
 * registry, nmap's table with frequencies): "name port[-port]/proto
 * [aliases or frequency] [# comment]". Lines that are not entries are
 * counted and skipped. Returns 0 or a negative errno naming the file.
 */
int eph_services_read(struct eph_ctx *ctx, const char *path,
		      struct eph_services **ret);
void eph_services_free(struct eph_services *db);
/* The path it was read from; owned by DB. */
const char *eph_services_path(const struct eph_services *db);
/* Is PORT registered for one of PROTOS (EPH_PROTO_*)? */
bool eph_services_registered(const struct eph_services *db, uint16_t port,
			     uint32_t protos);
/* The first name registered for PORT, or NULL; owned by DB. */
const char *eph_services_name(const struct eph_services *db, uint16_t port);
/*
 * Puts into RET the TOP ports with the highest frequency (nmap-services).
 * Returns how many, or -ENOMEM.
 */
int eph_services_common(const struct eph_services *db, size_t top,
			struct eph_portset *ret);
/* Lines the file had that were not entries. */
unsigned int eph_services_bad_lines(const struct eph_services *db);

/*
 * Is PORT one of the Fetch standard's bad ports, which Chromium and
 * Firefox refuse to connect to?
 */
bool eph_port_browser_blocked(uint16_t port);

#ifdef __cplusplus
}
#endif

#endif
