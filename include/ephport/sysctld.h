/* SPDX-License-Identifier: MIT */
/* sysctl.d: what a reboot applies. */
#ifndef EPHPORT_SYSCTLD_H
#define EPHPORT_SYSCTLD_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An assignment to one of the keys asked for, or a bad line. */
struct eph_sysctld_setting {
	const char *key;   /* one of the keys given to eph_sysctld_read() */
	const char *file;  /* the path under the root ("/etc/sysctl.d/x") */
	unsigned int line; /* 1-based */
	int order;	   /* the file's place in the order of application */
	const char *value; /* trimmed; for a bad line, why it is bad */
	bool too_long;	   /* the value was over 8 KiB and was not kept */
};

struct eph_sysctld;

/*
 * Reads every sysctl.d file under the context's root (eph_ctx_set_root())
 * in the order systemd-sysctl applies them, then /etc/sysctl.conf as
 * `sysctl --system` does, keeping the assignments to the NKEYS KEYS
 * (which must outlive the result) and the bad lines.
 * Returns 0 or a negative errno.
 */
int eph_sysctld_read(struct eph_ctx *ctx, const char *const *keys, size_t nkeys,
		     struct eph_sysctld **ret);
void eph_sysctld_free(struct eph_sysctld *s);
/* The assignments, in the order they are applied. */
size_t eph_sysctld_count(const struct eph_sysctld *s);
const struct eph_sysctld_setting *eph_sysctld_get(const struct eph_sysctld *s,
						  size_t i);
/* Lines of any file that are not assignments (systemd skips them). */
size_t eph_sysctld_bad_count(const struct eph_sysctld *s);
const struct eph_sysctld_setting *eph_sysctld_bad(const struct eph_sysctld *s,
						  size_t i);
/*
 * The assignment to KEY a boot applies, or NULL: under systemd-sysctl
 * (SYSCTL_SYSTEM false) or `sysctl --system` (true), which reads
 * /etc/sysctl.conf last.
 */
const struct eph_sysctld_setting *
eph_sysctld_winner(const struct eph_sysctld *s, const char *key,
		   bool sysctl_system);

#ifdef __cplusplus
}
#endif

#endif
