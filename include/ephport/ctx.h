/* SPDX-License-Identifier: MIT */
/* The context: the network namespace and file trees a caller works on. */
#ifndef EPHPORT_CTX_H
#define EPHPORT_CTX_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Makes a context aimed at the caller's own network namespace, /proc/sys
 * and the root of the file system. It does no I/O.
 * Returns 0, or -ENOMEM.
 */
int eph_ctx_new(struct eph_ctx **ret);
void eph_ctx_free(struct eph_ctx *ctx);

/*
 * Makes a copy of CTX for another thread (a context belongs to one thread
 * at a time): aimed at the same namespace (the one CTX opened, not the
 * spec looked up again), with the same roots and record path; neither its
 * last failure nor its buffers. Returns 0, or -ENOMEM (out of memory, or
 * of descriptors for the namespace).
 */
int eph_ctx_dup(const struct eph_ctx *ctx, struct eph_ctx **ret);

/*
 * Aims the context at another network namespace: a name under /run/netns,
 * a path to a namespace file (anything containing '/'), or "pid:PID". The
 * namespace is opened and checked at once; it is entered with setns(2)
 * only while a source is read, and the caller's own namespace is restored
 * afterwards. NULL aims it back at the caller's namespace. Objects already
 * bound to the context keep the namespace they were made in.
 * Returns 0, or -ENOENT, -EACCES, -EINVAL (not a network namespace or a
 * malformed spec), -EBUSY (called while a source is being read), -ENOMEM.
 */
int eph_ctx_set_netns(struct eph_ctx *ctx, const char *spec);

/* The spec given to eph_ctx_set_netns(), or NULL; owned by the context. */
const char *eph_ctx_netns(const struct eph_ctx *ctx);

/*
 * The identity (nsfs device and inode) of the context's namespace, or of
 * the caller's own when none was set. Returns 0 or a negative errno.
 */
int eph_ctx_netns_id(const struct eph_ctx *ctx, uint64_t *ret_dev,
		     uint64_t *ret_ino);

/*
 * Is the context's namespace the one this system's init runs in, the one
 * that the sysctl.d files under the context's root configure at boot?
 * Returns 1 (yes), 0 (no: a container's or a test's namespace, which a
 * reboot recreates from the kernel's defaults), or a negative errno.
 */
int eph_ctx_netns_is_boot(const struct eph_ctx *ctx);

/*
 * Reads sysctls below ROOT instead of /proc/sys (fixture trees in tests).
 * NULL restores /proc/sys. Returns 0 or -ENOMEM.
 */
int eph_ctx_set_proc_sys_root(struct eph_ctx *ctx, const char *root);

/*
 * Reads and writes the sysctl.d configuration (etc/sysctl.d and the rest)
 * under ROOT, an absolute path (an image, a chroot, a test tree), instead
 * of "/". Symbolic links met under ROOT are resolved inside ROOT, never on
 * the host. NULL restores "/". Returns 0, -EINVAL (not absolute) or
 * -ENOMEM.
 */
int eph_ctx_set_root(struct eph_ctx *ctx, const char *root);

/* The root set by eph_ctx_set_root(), "/" by default; owned by CTX. */
const char *eph_ctx_root(const struct eph_ctx *ctx);

/*
 * Reads (and a recorder keeps) the tracer's record at PATH, an absolute
 * path, instead of EPH_RECORD_PATH (history.h): tests, a second recorder.
 * NULL restores the default. Returns 0, -EINVAL or -ENOMEM.
 */
int eph_ctx_set_record_path(struct eph_ctx *ctx, const char *path);

/* The record's path for this context; owned by CTX. */
const char *eph_ctx_record_path(const struct eph_ctx *ctx);

/* The detail of the last failure; "" when there was none. */
const char *eph_ctx_errmsg(const struct eph_ctx *ctx);

/* The negative errno of the last failure, 0 when there was none. */
int eph_ctx_errno(const struct eph_ctx *ctx);

/*
 * Parses the decimal number in S[0..LEN) (no sign, no spaces, no trailing
 * text) into *RET when MIN <= value <= MAX. WHAT names the value in the
 * error message. This is the one parser for every number from a user or a
 * file. Returns 0, -EINVAL (not a number) or -ERANGE.
 */
int eph_num_parse(struct eph_ctx *ctx, const char *s, size_t len, uint64_t min,
		  uint64_t max, const char *what, uint64_t *ret);

/* The same for a NUL-terminated string. */
int eph_num_parse_str(struct eph_ctx *ctx, const char *s, uint64_t min,
		      uint64_t max, const char *what, uint64_t *ret);

/*
 * Parses an IPv4 or IPv6 address into 16 bytes as struct eph_sock keeps
 * them (IPv4 v4-mapped), and its family (AF_INET or AF_INET6).
 * Returns 0 or -EINVAL.
 */
int eph_addr_parse(struct eph_ctx *ctx, const char *s, uint8_t ret_addr[16],
		   int *ret_family);

/*
 * Formats ADDR (16 bytes as in struct eph_sock) the usual way: IPv4
 * dotted for v4-mapped addresses, IPv6 compressed otherwise. BUF needs
 * 46 bytes. Returns BUF.
 */
const char *eph_addr_format(const uint8_t addr[16], char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
