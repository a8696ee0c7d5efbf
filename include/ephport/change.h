/* SPDX-License-Identifier: MIT */
/*
 * Changes to the port policy: reserve ports, unreserve them, set the
 * ephemeral range; in the kernel now and in ephport's sysctl.d drop-in.
 *
 * A change is planned first: eph_change_plan() takes the locks, reads the
 * kernel's value, every sysctl.d file and the drop-in, and decides, with
 * the refusal (a code and its numbers) or the new values, and notes about
 * what else sets the key. eph_change_apply() then does it: the kernel's
 * value is written and read back, the drop-in replaced atomically, and on
 * any failure the kernel's value is put back, so that nothing is left half
 * changed. The locks are held from the plan until eph_change_free(), so
 * that what was read is what gets changed.
 *
 * A plan copies its context's aim (namespace, /proc/sys root, sysctl.d
 * root) when it is made: it applies to what it read even if the context
 * is aimed elsewhere afterwards. Failures are reported in the context
 * given to eph_change_plan(), which must outlive the plan. Everything a
 * plan hands out (refusal, notes, contents, diff) stays valid until
 * eph_change_free().
 */
#ifndef EPHPORT_CHANGE_H
#define EPHPORT_CHANGE_H

#include "common.h"
#include "sysctld.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ephport's drop-in, under the context's root. */
#define EPH_DROPIN_PATH "/etc/sysctl.d/99-zz-ephport.conf"

/* The longest reason a reservation keeps (bytes). */
#define EPH_CHANGE_REASON_MAX 200u

/*
 * The rule behind EPH_CHANGE_REFUSED_TOO_LITTLE_LEFT: a change must leave
 * autobind at least half of the range, and at least this many ports when
 * it had that many before (a range already smaller was chosen so).
 */
#define EPH_CHANGE_MIN_LEFT 1000u

enum eph_change_kind {
	EPH_CHANGE_RESERVE,   /* add PORTS to ip_local_reserved_ports */
	EPH_CHANGE_UNRESERVE, /* remove PORTS from it */
	EPH_CHANGE_SET_RANGE, /* set ip_local_port_range to LOW HIGH */
};

/* Change the kernel's value (of the context's namespace). */
#define EPH_CHANGE_RUNTIME (1u << 0)
/* Change the drop-in (under the context's root). */
#define EPH_CHANGE_PERSIST (1u << 1)
/* Do what the refusals marked force_overrides would refuse. */
#define EPH_CHANGE_FORCE (1u << 2)
/* Plan only: create no lock directory; eph_change_apply() refuses. */
#define EPH_CHANGE_DRY_RUN (1u << 3)

struct eph_change_request {
	enum eph_change_kind kind;
	const struct eph_portset *ports; /* reserve, unreserve: not empty */
	uint16_t low, high;		 /* set-range: LOW <= HIGH */
	const char *reason; /* reserve: NULL, or at most 200 bytes */
	uint32_t flags;	    /* EPH_CHANGE_* */
};

enum eph_change_refusal_code {
	EPH_CHANGE_REFUSED_NONE = 0,
	/*
	 * Autobind would be left LEFT of the SIZE ports of LOW..HIGH: under
	 * half of them, or under EPH_CHANGE_MIN_LEFT when it had at least
	 * that many before (LEFT_BEFORE). Ports reserved and ports listening
	 * (TCP) or bound (UDP) in the range count as taken: reserving a
	 * server's port takes nothing from autobind.
	 */
	EPH_CHANGE_REFUSED_TOO_LITTLE_LEFT,
	/* set-range: LOW == HIGH, a range of one port. */
	EPH_CHANGE_REFUSED_ONE_PORT,
	/* set-range: LOW is below ip_unprivileged_port_start (UNPRIVILEGED);
	 * the kernel refuses it too. */
	EPH_CHANGE_REFUSED_BELOW_UNPRIVILEGED,
	/* set-range: PORTS listen (TCP) or are bound (UDP) inside LOW..HIGH
	 * and are not reserved: autobind could take them. */
	EPH_CHANGE_REFUSED_LISTENERS,
	/* unreserve: none of PORTS is reserved, in the kernel or in any
	 * sysctl.d file: there is nothing to remove. */
	EPH_CHANGE_REFUSED_NOT_RESERVED,
	/* The drop-in FILE holds at LINE something ephport did not write;
	 * DETAIL says what. ephport never rewrites it. */
	EPH_CHANGE_REFUSED_DROPIN_FOREIGN,
	/* The value a boot applies (FILE:LINE, another file) cannot be read
	 * (DETAIL); ephport would not know what to keep. */
	EPH_CHANGE_REFUSED_BOOT_VALUE_BAD,
};

struct eph_change_refusal {
	enum eph_change_refusal_code code;
	bool force_overrides;  /* EPH_CHANGE_FORCE would do it anyway */
	uint32_t left, size;   /* TOO_LITTLE_LEFT */
	uint32_t left_before;  /* TOO_LITTLE_LEFT: what autobind had */
	uint16_t low, high;    /* the range concerned */
	uint32_t unprivileged; /* BELOW_UNPRIVILEGED */
	const struct eph_portset *ports; /* LISTENERS, NOT_RESERVED */
	const char *file;   /* DROPIN_FOREIGN, BOOT_VALUE_BAD: as shown */
	unsigned int line;  /* 1-based */
	const char *detail; /* a message naming the file and line */
};

enum eph_change_note_code {
	/*
	 * The context's namespace is not the one the sysctl.d files
	 * configure at boot (eph_ctx_netns_is_boot()) and no root was set:
	 * the drop-in was left alone; a restart of the namespace forgets
	 * the change.
	 */
	EPH_CHANGE_NOTE_NOT_PERSISTED,
	/* FILE:LINE also sets the key (VALUE); the drop-in is read after
	 * it and wins. */
	EPH_CHANGE_NOTE_FILE_LOSES,
	/* FILE:LINE sets the key (VALUE) and is read after the drop-in: it
	 * wins at boot. */
	EPH_CHANGE_NOTE_FILE_WINS,
	/* /etc/sysctl.conf:LINE sets the key (VALUE): `sysctl --system`
	 * reads it last, so there it wins. */
	EPH_CHANGE_NOTE_SYSCTL_CONF_WINS,
	/* FILE:LINE is a line systemd-sysctl skips; VALUE says why. */
	EPH_CHANGE_NOTE_BAD_LINE,
	/* PORTS are reserved in the kernel but not in the value a boot
	 * applies: a reboot drops them. */
	EPH_CHANGE_NOTE_RUNTIME_ONLY,
	/* unreserve: PORTS (some of those asked) were not reserved
	 * anywhere. */
	EPH_CHANGE_NOTE_NOT_RESERVED,
	/* set-range: the bounds have the same parity, so connect() never
	 * tries one port; LOW..HIGH is a range of different parity inside
	 * the one asked for, or 0..0 when there is none. */
	EPH_CHANGE_NOTE_SAME_PARITY,
	/* set-range, forced: PORTS listen or are bound inside the new range
	 * and are not reserved. */
	EPH_CHANGE_NOTE_LISTENERS_INSIDE,
	/* Forced: autobind is left LEFT of the SIZE ports of LOW..HIGH. */
	EPH_CHANGE_NOTE_LITTLE_LEFT,
};

struct eph_change_note {
	enum eph_change_note_code code;
	const char *file;		 /* as shown (with the root), or NULL */
	unsigned int line;		 /* 1-based, 0 when there is no file */
	const char *value;		 /* the other file's value, or NULL */
	const struct eph_portset *ports; /* or NULL */
	uint16_t low, high;
	uint32_t left, size;
};

/* The kernel's value, before and after the change. */
struct eph_change_runtime {
	bool enabled; /* EPH_CHANGE_RUNTIME was asked */
	bool changed; /* the value differs */
	/* reserve, unreserve: the reserved ports. */
	const struct eph_portset *before, *after;
	/* set-range, and the range of the others: low and high. */
	uint16_t low_before, high_before, low_after, high_after;
};

/* The drop-in, before and after the change. */
struct eph_change_persist {
	bool enabled;		 /* the drop-in is part of the change */
	const char *path;	 /* as shown: ROOT/etc/sysctl.d/99-... */
	const char *old_content; /* NULL when there is no drop-in yet */
	const char *new_content;
	bool changed;
	/*
	 * Is the key's value in the drop-in what a boot applies: under
	 * systemd-sysctl (WINS) and under `sysctl --system`, which reads
	 * /etc/sysctl.conf last (WINS_SYSTEM)? When not, WINNER and
	 * WINNER_SYSTEM are the settings that win instead (their file is as
	 * under the root, see sysctld.h).
	 */
	bool wins, wins_system;
	const struct eph_sysctld_setting *winner, *winner_system;
};

enum eph_change_diff_op {
	EPH_CHANGE_DIFF_SAME,
	EPH_CHANGE_DIFF_REMOVED,
	EPH_CHANGE_DIFF_ADDED,
};

/* One line of the drop-in's line diff, old to new. */
struct eph_change_diff {
	enum eph_change_diff_op op;
	const char *text; /* not NUL-terminated: LEN bytes, no newline */
	size_t len;
};

struct eph_change;

/*
 * Plans REQ in CTX's namespace and under CTX's root (eph_ctx_set_root()):
 * takes ephport's locks (the kernel's value, /run/ephport, then the
 * drop-in's directory, created unless EPH_CHANGE_DRY_RUN), reads the
 * kernel's policy, the sysctl.d files and the drop-in, and decides. The
 * plan keeps the locks until eph_change_free(). A refusal is a successful
 * plan: see eph_change_refusal().
 *
 * EPH_CHANGE_PERSIST is dropped, with EPH_CHANGE_NOTE_NOT_PERSISTED, when
 * CTX's namespace is not the one booted from the sysctl.d files and CTX
 * has no root of its own; asking for PERSIST alone then is -EINVAL.
 * Returns 0, or -EINVAL (a malformed request), another negative errno
 * (unreadable sysctls, files or sockets), with a detail in CTX.
 */
int eph_change_plan(struct eph_ctx *ctx, const struct eph_change_request *req,
		    struct eph_change **ret);

/* Releases the plan and its locks. */
void eph_change_free(struct eph_change *c);

/*
 * Does the plan: writes the kernel's value and reads it back, then
 * replaces the drop-in. On any failure the kernel's value is put back and
 * the drop-in is as it was. Returns 0; -ECANCELED for a refused plan,
 * -EINVAL for a dry run, -EALREADY when done already; another negative
 * errno with a detail in the plan's context (-EPERM or -EACCES without
 * the privilege, -EROFS, -EIO when the value read back differs: another
 * writer).
 */
int eph_change_apply(struct eph_change *c);

/*
 * Plans and applies a reservation of PORTS in one call (FLAGS as for
 * eph_change_plan(); the kind is reserve). Returns 0 when done, 1 when
 * refused (nothing changed), or a negative errno; on 0 and 1, *RET is the
 * plan, to read and to free.
 */
int eph_change_reserve(struct eph_ctx *ctx, const struct eph_portset *ports,
		       const char *reason, uint32_t flags,
		       struct eph_change **ret);

/* The request's kind and flags (PERSIST dropped when it was). */
enum eph_change_kind eph_change_kind(const struct eph_change *c);
uint32_t eph_change_flags(const struct eph_change *c);
/* The sysctl changed: "net.ipv4.ip_local_reserved_ports" or the range. */
const char *eph_change_key(const struct eph_change *c);

/* The refusal, or NULL when the plan may be applied. */
const struct eph_change_refusal *eph_change_refusal(const struct eph_change *c);

/* The kernel's value and the drop-in; never NULL. */
const struct eph_change_runtime *eph_change_runtime(const struct eph_change *c);
const struct eph_change_persist *eph_change_persist(const struct eph_change *c);

/*
 * Does the change hold at boot: is the persisted value what a boot
 * applies, under systemd-sysctl and under `sysctl --system`? False when
 * persisted and another file wins; true when not persisted (nothing was
 * promised).
 */
bool eph_change_boots(const struct eph_change *c);

/* The notes, in the order found. */
size_t eph_change_note_count(const struct eph_change *c);
const struct eph_change_note *eph_change_note(const struct eph_change *c,
					      size_t i);

/* The line diff of the drop-in, old to new (empty when not persisted). */
size_t eph_change_diff_count(const struct eph_change *c);
const struct eph_change_diff *eph_change_diff(const struct eph_change *c,
					      size_t i);

/* Stable names of the codes, for scripts ("too-little-left"). */
const char *eph_change_refusal_name(enum eph_change_refusal_code code);
const char *eph_change_note_name(enum eph_change_note_code code);

#ifdef __cplusplus
}
#endif

#endif
