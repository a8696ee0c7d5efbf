/* SPDX-License-Identifier: MIT */
/*
 * serve --trace: the tracer's own thread. It waits on the tracer's
 * descriptor and a pipe (stop, or read now for a scan), never on a timer
 * while nothing happens: once a read finds nothing, it asks the tracer's
 * program to wake it at the next event (eph_tracer_arm()), reads once
 * more what came before the asking, and sleeps until an event, the
 * tracer's own next duty (a TIME_WAIT's end, the record's next write:
 * eph_tracer_timeout()) or the pipe. While events keep coming it reads
 * them in batches, every BATCH_MS, unwoken: a busy host costs it a few
 * reads a second, an idle one nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tracing.h"

#define BATCH_MS 200

struct tracing {
	struct eph_ctx *ctx; /* the thread's own */
	struct eph_tracer *tr;
	struct eph_forecast *fc;
	int pipe[2];
	pthread_t thread;
	bool started;

	/* Shared with the scans. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct eph_trace_counters *counters;
	uint64_t lost;
	uint64_t sync_asked, sync_done;
	bool running;
};

static int on_event(const struct eph_trace_event *e, void *data)
{
	struct tracing *t = data;

	/* A failure or a connect() the counters or the forecast cannot
	 * take (out of room) is left out: the tracing goes on. */
	if (eph_trace_kind_is_failure(e->kind)) {
		pthread_mutex_lock(&t->lock);
		(void)eph_trace_counters_add(t->counters, e);
		pthread_mutex_unlock(&t->lock);
	} else if (e->kind == EPH_TRACE_CONNECT && t->fc) {
		(void)eph_forecast_add_event(t->fc, e);
	}
	return 0;
}

/* Reads every event that waits. Returns how many, or a negative errno. */
static int drain(struct tracing *t)
{
	int n = eph_tracer_poll(t->tr, 0, on_event, t);
	uint64_t lost = eph_tracer_lost(t->tr);

	pthread_mutex_lock(&t->lock);
	t->lost = lost;
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void *run(void *data)
{
	struct tracing *t = data;
	struct pollfd fds[2] = { { eph_tracer_fd(t->tr), POLLIN, 0 },
				 { t->pipe[0], POLLIN, 0 } };
	bool quit = false;

	while (!quit) {
		uint64_t asked;
		int n, wait = BATCH_MS;
		char buf[64];
		ssize_t k;

		pthread_mutex_lock(&t->lock);
		asked = t->sync_asked;
		pthread_mutex_unlock(&t->lock);
		n = drain(t);
		if (n == 0) {
			eph_tracer_arm(t->tr);
			n = drain(t);
		}
		pthread_mutex_lock(&t->lock);
		t->sync_done = asked;
		pthread_cond_broadcast(&t->cond);
		pthread_mutex_unlock(&t->lock);
		/* Events came (or a read failed): read again in a while. */
		if (n == 0) {
			wait = eph_tracer_timeout(t->tr);
			if (wait >= 0 && wait < BATCH_MS)
				wait = BATCH_MS;
		}
		if (poll(fds, 2, wait) < 0)
			continue;
		if (!(fds[1].revents & POLLIN))
			continue;
		while ((k = read(t->pipe[0], buf, sizeof(buf))) > 0)
			if (memchr(buf, 'q', (size_t)k))
				quit = true;
	}
	pthread_mutex_lock(&t->lock);
	t->running = false;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void tracing_free(struct tracing *t)
{
	eph_tracer_free(t->tr);
	eph_trace_counters_free(t->counters);
	eph_ctx_free(t->ctx);
	if (t->pipe[0] >= 0)
		close(t->pipe[0]);
	if (t->pipe[1] >= 0)
		close(t->pipe[1]);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int tracing_start(struct eph_ctx *ctx, const struct tracing_opts *o,
		  struct tracing **ret, char *err, size_t size)
{
	struct eph_tracer_opts to = { .all_netns = o->all_netns,
				      .record = true };
	struct tracing *t = calloc(1, sizeof(*t));
	int r;

	if (!t) {
		snprintf(err, size, "out of memory");
		return -ENOMEM;
	}
	t->pipe[0] = t->pipe[1] = -1;
	t->fc = o->fc;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	/* The thread empties the pipe without blocking; a writer may wait
	 * for room, which the thread makes every time it wakes. */
	if (pipe2(t->pipe, O_CLOEXEC) < 0 ||
	    fcntl(t->pipe[0], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, size, "cannot make a pipe: %s", strerror(-r));
		goto fail;
	}
	r = eph_ctx_dup(ctx, &t->ctx);
	if (r >= 0)
		r = eph_trace_counters_new(
			o->top < EPH_TRACE_COUNTERS_COMMANDS
				? o->top
				: EPH_TRACE_COUNTERS_COMMANDS,
			&t->counters);
	if (r < 0) {
		snprintf(err, size, "%s", strerror(-r));
		goto fail;
	}
	/* Counting by events from the first on: none is missed. */
	if (r >= 0 && t->fc)
		r = eph_forecast_set_opened(t->fc, EPH_FORECAST_OPENED_EVENTS);
	if (r < 0) {
		snprintf(err, size, "%s", strerror(-r));
		goto fail;
	}
	r = eph_tracer_new(t->ctx, &to, &t->tr);
	if (r < 0) {
		snprintf(err, size, "%s", eph_ctx_errmsg(t->ctx));
		goto fail;
	}
	t->running = true;
	r = -pthread_create(&t->thread, NULL, run, t);
	if (r < 0) {
		snprintf(err, size, "cannot start the tracer's thread: %s",
			 strerror(-r));
		goto fail;
	}
	t->started = true;
	*ret = t;
	return 0;
fail:
	tracing_free(t);
	return r;
}

void tracing_stop(struct tracing *t)
{
	if (!t)
		return;
	if (t->started) {
		while (write(t->pipe[1], "q", 1) < 0 && errno == EINTR)
			;
		pthread_join(t->thread, NULL);
	}
	tracing_free(t);
}

void tracing_sync(struct tracing *t)
{
	uint64_t target;

	pthread_mutex_lock(&t->lock);
	target = ++t->sync_asked;
	pthread_mutex_unlock(&t->lock);
	while (write(t->pipe[1], "s", 1) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&t->lock);
	while (t->running && t->sync_done < target)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

int tracing_copy(struct tracing *t, struct eph_trace_counter **rows,
		 size_t *cap, size_t *n, uint64_t *lost)
{
	size_t count;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	count = eph_trace_counters_count(t->counters);
	if (count > *cap) {
		struct eph_trace_counter *g =
			realloc(*rows, count * sizeof(*g));

		if (!g) {
			r = -ENOMEM;
			goto out;
		}
		*rows = g;
		*cap = count;
	}
	for (size_t i = 0; i < count; i++)
		(*rows)[i] = *eph_trace_counters_get(t->counters, i);
	*n = count;
	*lost = t->lost;
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}
