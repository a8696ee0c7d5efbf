/* SPDX-License-Identifier: MIT */
/*
 * The tracer's loader: opens the BPF program (the skeleton bpftool makes
 * from trace.bpf.c at build time), sets its filters, loads it into the
 * kernel (libbpf relocates it to the running kernel's layout, CO-RE),
 * attaches its tracepoints and reads its ring buffer. What an event means,
 * the summary and the record are the library's (src/lib/tracer.c,
 * src/lib/history.c); this file only moves bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>
#include <bpf/libbpf.h>

#include "../lib/internal.h"
#include "trace.h"
#include "trace.skel.h"

struct trace_loader {
	struct trace_bpf *skel;
	struct ring_buffer *rb;
	int (*cb)(void *data, const struct ephtrace_event *e);
	void *data;
};

/*
 * libbpf talks on stderr unless told otherwise, and the library never
 * prints: its last warning is kept instead, to name what failed.
 */
static __thread char last_warning[256];

static int keep_warning(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	char line[sizeof(last_warning)];
	size_t n;

	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	/* The verifier's log ends with the line that says why; the lines
	 * after it only say that loading failed. */
	if (n && !strstr(line, "failed to load") &&
	    !strstr(line, "-- END PROG LOAD LOG --"))
		memcpy(last_warning, line, n + 1);
	return 0;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct trace_loader *l = ctx;

	if (size < sizeof(struct ephtrace_event))
		return 0;
	return l->cb(l->data, data);
}

static int fail(struct eph_ctx *ctx, int err, const char *what)
{
	if (last_warning[0])
		return ctx_error(ctx, err, "%s: %s (%s)", what, strerror(-err),
				 last_warning);
	return ctx_error(ctx, err, "%s: %s", what, strerror(-err));
}

int trace_open(struct eph_ctx *ctx, const struct trace_config *c,
	       int (*cb)(void *data, const struct ephtrace_event *e),
	       void *data, struct trace_loader **ret)
{
	struct trace_loader *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	l->cb = cb;
	l->data = data;
	last_warning[0] = '\0';
	libbpf_set_print(keep_warning);
	l->skel = trace_bpf__open();
	if (!l->skel) {
		r = fail(ctx, errno ? -errno : -EINVAL,
			 "cannot open the BPF program");
		goto err;
	}
	l->skel->rodata->target_netns = c->netns;
	l->skel->rodata->filter_port = c->port;
	l->skel->rodata->filter_pid = c->pid;
	l->skel->rodata->failures_only = c->failures;
	l->skel->rodata->emit_close = c->closes;
	/* Failures come from the syscalls alone: the state changes, which
	 * every connection goes through ten times, are not traced then. */
	bpf_program__set_autoattach(l->skel->progs.set_state, !c->failures);
	r = trace_bpf__load(l->skel);
	if (r < 0) {
		r = fail(ctx, r, "cannot load the BPF program into the kernel");
		goto err;
	}
	r = trace_bpf__attach(l->skel);
	if (r < 0) {
		r = fail(ctx, r, "cannot attach the BPF program's tracepoints");
		goto err;
	}
	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.events), on_sample,
				 l, NULL);
	if (!l->rb) {
		r = fail(ctx, errno ? -errno : -ENOMEM,
			 "cannot map the ring buffer");
		goto err;
	}
	*ret = l;
	return 0;
err:
	trace_close(l);
	return r;
}

int trace_poll(struct trace_loader *l, int timeout_ms)
{
	int r, n;

	/*
	 * The program wakes the reader only for a batch; what came in since
	 * is read when the wait ends, woken or not.
	 */
	r = ring_buffer__poll(l->rb, timeout_ms);
	if (r < 0 && r != -EINTR)
		return r;
	n = ring_buffer__consume(l->rb);
	if (n < 0)
		return n;
	return r == -EINTR ? -EINTR : r + n;
}

int trace_fd(const struct trace_loader *l)
{
	return ring_buffer__epoll_fd(l->rb);
}

void trace_arm(struct trace_loader *l)
{
	/*
	 * Sequentially consistent, as the program's commit of an event is a
	 * full barrier before it looks at the flag: either the program sees
	 * it, or the read that follows this store sees the event.
	 */
	__atomic_store_n(&l->skel->bss->wake_reader, 1, __ATOMIC_SEQ_CST);
}

uint64_t trace_lost(const struct trace_loader *l)
{
	return __atomic_load_n(&l->skel->bss->lost, __ATOMIC_RELAXED);
}

void trace_close(struct trace_loader *l)
{
	if (!l)
		return;
	ring_buffer__free(l->rb);
	trace_bpf__destroy(l->skel);
	free(l);
}
