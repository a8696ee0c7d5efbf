/* SPDX-License-Identifier: MIT */
/*
 * Other systems' default ephemeral ranges: where a port that is safe on this
 * host may still be handed out elsewhere. Immutable data, no state.
 */
#include <strings.h>

#include "internal.h"

static const struct eph_os os_table[] = {
	{ "iana", "IANA dynamic ports (RFC 6335)", 49152, 65535, false, "",
	  NULL },
	{ "linux", "Linux 4.2 and later", 32768, 60999, false,
	  "/proc/sys/net/ipv4/ip_local_port_range", NULL },
	{ "linux-2.4", "Linux 2.4 to 4.1", 32768, 61000, true,
	  "/proc/sys/net/ipv4/ip_local_port_range",
	  "small-memory hosts used a smaller range" },
	{ "linux-2.2", "Linux 2.2", 1024, 4999, true,
	  "/proc/sys/net/ipv4/ip_local_port_range", NULL },
	{ "freebsd", "FreeBSD", 10000, 65535, false,
	  "sysctl net.inet.ip.portrange.first/.last", NULL },
	{ "openbsd", "OpenBSD", 1024, 49151, false,
	  "sysctl net.inet.ip.portfirst/portlast",
	  "sockets that ask for high ports get 49152-65535 "
	  "(net.inet.ip.porthifirst/porthilast)" },
	{ "netbsd", "NetBSD", 49152, 65535, false,
	  "sysctl net.inet.ip.anonportmin/anonportmax", NULL },
	{ "macos", "macOS", 49152, 65535, false,
	  "sysctl net.inet.ip.portrange.first/.last", NULL },
	{ "windows", "Windows Vista/2008 and later", 49152, 65535, false,
	  "netsh int ipv4 show dynamicport tcp",
	  "Hyper-V and WinNAT also exclude port ranges unannounced "
	  "(netsh int ipv4 show excludedportrange protocol=tcp)" },
	{ "windows-xp", "Windows 2000/XP/2003", 1025, 5000, true,
	  "registry value MaxUserPort", NULL },
	{ "solaris", "Solaris / illumos", 32768, 65535, false,
	  "ndd /dev/tcp tcp_smallest_anon_port", NULL },
	{ "aix", "AIX", 32768, 65535, false, "no -a (tcp_ephemeral_low/high)",
	  NULL },
	{ "hpux", "HP-UX 11", 49152, 65535, false,
	  "ndd -get /dev/tcp tcp_smallest_anon_port", NULL },
};

EPH_EXPORT size_t eph_os_count(void)
{
	return sizeof(os_table) / sizeof(os_table[0]);
}

EPH_EXPORT const struct eph_os *eph_os_get(size_t i)
{
	return i < eph_os_count() ? &os_table[i] : NULL;
}

EPH_EXPORT const struct eph_os *eph_os_find(const char *name)
{
	for (size_t i = 0; i < eph_os_count(); i++)
		if (strcasecmp(os_table[i].name, name) == 0)
			return &os_table[i];
	return NULL;
}

EPH_EXPORT bool eph_ranges_overlap(uint16_t lo1, uint16_t hi1, uint16_t lo2,
				   uint16_t hi2)
{
	return lo1 <= hi2 && lo2 <= hi1;
}

EPH_EXPORT uint32_t eph_ranges_shared(uint16_t lo1, uint16_t hi1, uint16_t lo2,
				      uint16_t hi2)
{
	uint16_t lo = lo1 > lo2 ? lo1 : lo2, hi = hi1 < hi2 ? hi1 : hi2;

	return lo <= hi ? (uint32_t)hi - lo + 1 : 0;
}
