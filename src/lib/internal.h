/* SPDX-License-Identifier: MIT */
/*
 * Declarations shared between the library's own files; nothing here is
 * exported. Cross-file symbols carry their file's name as prefix.
 */
#ifndef EPHPORT_INTERNAL_H
#define EPHPORT_INTERNAL_H

#include <stdarg.h>

#include "ephport/ephport.h"

#define EPH_EXPORT __attribute__((visibility("default")))

#if defined(__GNUC__)
#define EPH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EPH_PRINTF(a, b)
#endif

/*
 * Records a failure detail in CTX (which may be NULL) and returns ERR, a
 * negative errno, so that callers can write `return ctx_error(...)`.
 */
int ctx_error(struct eph_ctx *ctx, int err, const char *fmt, ...)
	EPH_PRINTF(3, 4);

/*
 * A new context on the same namespace and /proc/sys, for a second thread
 * (a context is not shared between threads). NULL when out of memory.
 */
struct eph_ctx *ctx_clone(const struct eph_ctx *ctx);

/* Clears the failure detail at the start of a public operation. */
void ctx_clear_error(struct eph_ctx *ctx);

/*
 * Enters the context's target namespace (no-op when it has none or it is
 * the caller's own) and leaves it again. Every successful enter must be
 * paired with a leave. leave returns a negative errno when the caller's
 * namespace could not be restored.
 */
int ctx_netns_enter(struct eph_ctx *ctx);
int ctx_netns_leave(struct eph_ctx *ctx);

/* The root of /proc/sys for this context, never NULL. */
const char *ctx_proc_sys_root(const struct eph_ctx *ctx);

/*
 * Reads the sysctl NAME ("net.ipv4.ip_local_port_range") of the context's
 * namespace with one read(2) from offset 0 into a buffer owned by the
 * context, valid until the next call. The caller must already be inside
 * the namespace (ctx_netns_enter). Returns 0 and sets *RET_BUF, *RET_LEN;
 * -ENOENT when the file does not exist; another negative errno otherwise.
 * A failure leaves a detail naming the file.
 */
int ctx_sysctl_read(struct eph_ctx *ctx, const char *name, const char **ret_buf,
		    size_t *ret_len);

/* Internal to the port set: lets the policy embed one by value. */
struct eph_portset {
	uint64_t bits[EPH_PORT_COUNT / 64];
};

/*
 * Hands out the next line of BUF[0..LEN) from *POS on, without its
 * newline, and moves *POS past it. Returns false at the end.
 */
bool num_next_line(const char *buf, size_t len, size_t *pos,
		   const char **ret_line, size_t *ret_len);

/* Trims one trailing newline from S[0..*LEN). */
void num_trim_newline(const char *s, size_t *len);

/* Quotes S[0..LEN) for an error message into BUF (cut at SIZE). */
const char *num_quote(const char *s, size_t len, char *buf, size_t size);

/*
 * Test hook: copies every chunk a scan receives to FD (a 4-byte length in
 * host order, then the bytes), to record fixtures. -1 turns it off.
 */
struct eph_scan;
void sockdiag_set_tap(struct eph_scan *scan, int fd);

/*
 * Reads a process's name from PATH (its comm file, relative to DIRFD) into
 * BUF, made printable; "?" when the process is gone.
 */
void owner_read_comm(int dirfd, const char *path, char *buf, size_t size);

/* Is ADDR (16 bytes, as in struct eph_sock) a v4-mapped IPv4 address? */
bool sockdiag_addr_is_mapped(const uint8_t addr[16]);

#endif
