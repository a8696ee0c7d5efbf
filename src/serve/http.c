/* SPDX-License-Identifier: MIT */
/*
 * The exporter's HTTP side, on libmicrohttpd: one event-driven thread
 * serves every connection, so a slow or silent client costs a descriptor
 * and nothing else; a second thread scans, only when a request finds the
 * last scan older than the interval, and sleeps on a condition variable
 * otherwise (no timer, no polling: an idle exporter uses no CPU). A
 * request that needs a fresh scan is suspended until that scan is done;
 * every request arriving meanwhile waits for the same one. The renders of
 * a scan are made once and handed to every request as they are.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth.h"
#include "http.h"
#include "metrics.h"
#include "page.h"
#include "tracing.h"

#define MAX_CONNECTIONS 512u
#define MEMORY_PER_CONNECTION (32u * 1024u)
#define MAX_FILE (1u << 20)
#define REALM "ephport"

/* What one scan produced, served as it is until the next. */
struct gen {
	struct MHD_Response *metrics, *api;
	double mono; /* when the scan started */
};

struct server {
	const struct serve_config *cfg;
	struct collector *coll;
	struct MHD_Daemon *d;
	struct tracing *tracing;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool want, scanning, stop;
	struct gen *gen;
	struct MHD_Connection **waiting;
	size_t nwaiting, cap;
	struct auth *auth;

	struct MHD_Response *assets[16];
	struct MHD_Response *not_found, *not_allowed, *healthz, *denied;
};

/* A request suspended for a scan and resumed: serve what there is. */
static int resumed;

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(struct serve_error *err, const char *code, int r,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct serve_error *err, const char *code, int r,
		const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return r;
}

/* Reads a small file (a key, a certificate, a users file) whole. */
static int slurp(const char *path, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)MAX_FILE) {
		r = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		close(fd);
		return r;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[off] = '\0';
	*ret = buf;
	*ret_len = off;
	return 0;
}

static int load_auth(const char *path, struct auth **ret,
		     struct serve_error *err)
{
	char *buf, msg[256];
	size_t len;
	int r = slurp(path, &buf, &len);

	if (r < 0)
		return fail(err, strerrorname_np(-r), r, "--basic-auth %s: %s",
			    path, strerror(-r));
	r = auth_parse(buf, len, ret, msg, sizeof(msg));
	explicit_bzero(buf, len);
	free(buf);
	if (r == 0 && (r = auth_verify_hashes(*ret, msg, sizeof(msg))) < 0)
		auth_free(*ret);
	if (r < 0)
		return fail(err, r == -ENOMEM ? "ENOMEM" : "EINVAL", r,
			    "--basic-auth %s: %s", path, msg);
	return 0;
}

/* ---- Responses ---- */

static struct MHD_Response *text(const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);

	if (r)
		MHD_add_response_header(r, "Content-Type",
					"text/plain; charset=utf-8");
	return r;
}

/* The headers every answer carries: nothing cached, nothing sniffed. */
static void common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
}

static struct MHD_Response *rendered(void (*render)(FILE *,
						    const struct view *),
				     const struct view *v, const char *type)
{
	struct MHD_Response *r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	render(f, v);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	/* The response owns the buffer from now on. */
	r = MHD_create_response_from_buffer_with_free_callback(len, buf, free);
	if (!r) {
		free(buf);
		return NULL;
	}
	MHD_add_response_header(r, "Content-Type", type);
	common_headers(r);
	return r;
}

static void gen_free(struct gen *g)
{
	if (!g)
		return;
	if (g->metrics)
		MHD_destroy_response(g->metrics);
	if (g->api)
		MHD_destroy_response(g->api);
	free(g);
}

/* Scans and renders: a new generation, or NULL when out of memory. */
static struct gen *scan(struct server *s)
{
	struct gen *g = calloc(1, sizeof(*g));
	const struct view *v;

	if (!g)
		return NULL;
	g->mono = mono_now();
	if (collector_scan(s->coll) == -ENOMEM) {
		free(g);
		return NULL;
	}
	v = collector_view(s->coll);
	g->metrics = rendered(metrics_render, v, METRICS_CONTENT_TYPE);
	g->api = rendered(api_render, v, "application/json");
	if (!g->metrics || !g->api) {
		gen_free(g);
		return NULL;
	}
	return g;
}

/* ---- The scanning thread ---- */

static void *scanner(void *data)
{
	struct server *s = data;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct MHD_Connection **wake;
		struct gen *g, *old;
		size_t n;

		while (!s->want && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->stop)
			break;
		s->want = false;
		s->scanning = true;
		pthread_mutex_unlock(&s->lock);
		g = scan(s);
		pthread_mutex_lock(&s->lock);
		s->scanning = false;
		old = NULL;
		if (g) {
			old = s->gen;
			s->gen = g;
		}
		wake = s->waiting;
		n = s->nwaiting;
		s->waiting = NULL;
		s->nwaiting = s->cap = 0;
		pthread_mutex_unlock(&s->lock);
		/* Responses in flight hold references of their own. */
		gen_free(old);
		for (size_t i = 0; i < n; i++)
			MHD_resume_connection(wake[i]);
		free(wake);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- Requests ---- */

static bool fresh(const struct server *s)
{
	double iv = s->cfg->interval;
	/* A scraper on the same period as the interval arrives a little
	 * early half the time: a tenth of it (at most a second) of slack
	 * gives it a fresh scan every time all the same. */
	double slack = iv / 10 < 1.0 ? iv / 10 : 1.0;

	return s->gen && mono_now() - s->gen->mono < iv - slack;
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned int status,
			     struct MHD_Response *r)
{
	return r ? MHD_queue_response(c, status, r) : MHD_NO;
}

static bool authorized(struct server *s, struct MHD_Connection *c)
{
	char *password = NULL, *user;
	bool ok;

	if (!s->auth)
		return true;
	user = MHD_basic_auth_get_username_password(c, &password);
	pthread_mutex_lock(&s->lock);
	ok = user && password && auth_check(s->auth, user, password);
	pthread_mutex_unlock(&s->lock);
	if (password) {
		explicit_bzero(password, strlen(password));
		MHD_free(password);
	}
	if (user)
		MHD_free(user);
	return ok;
}

/* Serves /metrics or /api/v1/snapshot from the last scan, or waits. */
static enum MHD_Result scanned(struct server *s, struct MHD_Connection *c,
			       bool api, void **con_cls)
{
	enum MHD_Result ret = MHD_YES;

	pthread_mutex_lock(&s->lock);
	if (*con_cls == &resumed || fresh(s)) {
		ret = queue(c, MHD_HTTP_OK,
			    api ? s->gen->api : s->gen->metrics);
		pthread_mutex_unlock(&s->lock);
		return ret;
	}
	if (s->nwaiting == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct MHD_Connection **w =
			realloc(s->waiting, cap * sizeof(*w));

		if (!w) {
			/* No room to wait: the last scan will do. */
			ret = queue(c, MHD_HTTP_OK,
				    api ? s->gen->api : s->gen->metrics);
			pthread_mutex_unlock(&s->lock);
			return ret;
		}
		s->waiting = w;
		s->cap = cap;
	}
	s->waiting[s->nwaiting++] = c;
	/* Suspended under the lock: the scanner resumes it only after. */
	MHD_suspend_connection(c);
	*con_cls = &resumed;
	if (!s->scanning) {
		s->want = true;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct server *s = cls;

	(void)version;
	(void)upload;
	(void)upload_size;
	if (*con_cls == &resumed)
		return scanned(s, c, strcmp(url, "/metrics") != 0, con_cls);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return queue(c, MHD_HTTP_METHOD_NOT_ALLOWED, s->not_allowed);
	if (strcmp(url, "/healthz") == 0)
		return queue(c, MHD_HTTP_OK, s->healthz);
	if (strcmp(url, "/metrics") != 0 &&
	    strcmp(url, "/api/v1/snapshot") != 0) {
		size_t i;

		for (i = 0; page_assets[i].path; i++)
			if (strcmp(url, page_assets[i].path) == 0)
				break;
		if (!page_assets[i].path)
			return queue(c, MHD_HTTP_NOT_FOUND, s->not_found);
		if (!authorized(s, c))
			return MHD_queue_basic_auth_fail_response(c, REALM,
								  s->denied);
		return queue(c, MHD_HTTP_OK, s->assets[i]);
	}
	if (!authorized(s, c))
		return MHD_queue_basic_auth_fail_response(c, REALM, s->denied);
	return scanned(s, c, strcmp(url, "/metrics") != 0, con_cls);
}

/* A request is over: the next one on the connection starts afresh. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)c;
	(void)why;
	*con_cls = NULL;
}

/* ---- Setting up ---- */

static int make_responses(struct server *s)
{
	static const char csp[] =
		"default-src 'none'; script-src 'self'; style-src 'self'; "
		"img-src 'self'; connect-src 'self'; base-uri 'none'; "
		"form-action 'none'; frame-ancestors 'none'";

	for (size_t i = 0; page_assets[i].path; i++) {
		struct MHD_Response *r;

		if (i >= sizeof(s->assets) / sizeof(s->assets[0]))
			return -E2BIG;
		r = MHD_create_response_from_buffer(page_assets[i].len,
						    (void *)page_assets[i].data,
						    MHD_RESPMEM_PERSISTENT);
		if (!r)
			return -ENOMEM;
		MHD_add_response_header(r, "Content-Type", page_assets[i].type);
		MHD_add_response_header(r, "Content-Security-Policy", csp);
		common_headers(r);
		s->assets[i] = r;
	}
	s->not_found = text("not found: see / for the page, /metrics, "
			    "/api/v1/snapshot, /healthz\n");
	s->not_allowed = text("only GET and HEAD\n");
	s->healthz = text("ok\n");
	s->denied = text("authentication required\n");
	if (!s->not_found || !s->not_allowed || !s->healthz || !s->denied)
		return -ENOMEM;
	MHD_add_response_header(s->not_allowed, "Allow", "GET, HEAD");
	common_headers(s->healthz);
	return 0;
}

static void free_responses(struct server *s)
{
	struct MHD_Response *all[] = { s->not_found, s->not_allowed, s->healthz,
				       s->denied };

	for (size_t i = 0; i < sizeof(s->assets) / sizeof(s->assets[0]); i++)
		if (s->assets[i])
			MHD_destroy_response(s->assets[i]);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i])
			MHD_destroy_response(all[i]);
}

/* The listening socket, made here so that a refusal names its errno. */
static int listen_on(const struct serve_config *cfg, struct serve_error *err)
{
	int one = 1, fd = socket(cfg->addr.ss_family,
				 SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return fail(err, strerrorname_np(errno), -errno,
			    "cannot make a socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&cfg->addr, cfg->addrlen) < 0 ||
	    listen(fd, 128) < 0) {
		int e = errno;

		close(fd);
		return fail(err, strerrorname_np(e), -e,
			    "cannot listen on %s: %s%s", cfg->url, strerror(e),
			    e == EADDRINUSE ? " (give another --listen)" : "");
	}
	return fd;
}

static int start(struct server *s, int fd, char *key, char *cert,
		 struct serve_error *err)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			     MHD_ALLOW_SUSPEND_RESUME;

	if (key)
		flags |= MHD_USE_TLS;
	s->d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET,
		fd, MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)s->cfg->client_timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)MEMORY_PER_CONNECTION, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, NULL, MHD_OPTION_STRICT_FOR_CLIENT, 1,
		key ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, key,
		MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
	if (!s->d)
		return fail(err, "EIO", -EIO,
			    "libmicrohttpd could not start on %s%s",
			    s->cfg->url,
			    key ? " (is the key the certificate's, both PEM?)"
				: "");
	return 0;
}

static int tls_files(const struct serve_config *cfg, char **key, char **cert,
		     struct serve_error *err)
{
	size_t len;
	int r;

	if (!cfg->tls_key)
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return fail(err, "ENOTSUP", -ENOTSUP,
			    "this libmicrohttpd was built without TLS");
	r = slurp(cfg->tls_key, key, &len);
	if (r < 0)
		return fail(err, strerrorname_np(-r), r, "--tls-key %s: %s",
			    cfg->tls_key, strerror(-r));
	r = slurp(cfg->tls_cert, cert, &len);
	if (r < 0)
		return fail(err, strerrorname_np(-r), r, "--tls-cert %s: %s",
			    cfg->tls_cert, strerror(-r));
	return 0;
}

/* SIGHUP: the users file again (kept as it was if it is wrong now), and
 * the next request scans afresh. */
static void reload(struct server *s)
{
	struct serve_error err;
	struct auth *a = NULL, *old = NULL;

	if (s->cfg->basic_auth && load_auth(s->cfg->basic_auth, &a, &err) < 0) {
		s->cfg->notice(s->cfg->data, "reload failed, kept the users",
			       err.message);
		a = NULL;
	}
	pthread_mutex_lock(&s->lock);
	if (a) {
		old = s->auth;
		s->auth = a;
	}
	if (s->gen)
		s->gen->mono = -INFINITY;
	pthread_mutex_unlock(&s->lock);
	auth_free(old);
	s->cfg->notice(s->cfg->data, "reloaded",
		       a ? s->cfg->basic_auth : "the next request scans");
}

/* --trace: the tracer in a thread of its own, before the first scan, so
 * that every connection opened is counted. */
static int start_tracing(struct server *s, struct eph_ctx *ctx,
			 struct serve_error *err)
{
	struct tracing_opts o = { .all_netns = s->cfg->scan.all_netns,
				  .top = (uint32_t)s->cfg->scan.top,
				  .fc = collector_forecast(s->coll) };
	char msg[400];
	int r = tracing_start(ctx, &o, &s->tracing, msg, sizeof(msg));

	if (r == -EBUSY)
		return fail(err, "EBUSY", r,
			    "--trace: %s: stop that recorder ('ephport trace "
			    "--record' or another 'serve --trace'), or serve "
			    "without --trace, which reads its record",
			    msg);
	if (r < 0)
		return fail(err, strerrorname_np(-r), r, "--trace: %s", msg);
	collector_trace(s->coll, s->tracing);
	return 0;
}

/* Waits for SIGTERM or SIGINT, handling SIGHUP meanwhile. */
static void wait_signals(struct server *s, const sigset_t *set)
{
	for (;;) {
		int sig = sigwaitinfo(set, NULL);

		if (sig == SIGHUP)
			reload(s);
		else if (sig == SIGTERM || sig == SIGINT)
			return;
	}
}

int serve_run(struct eph_ctx *ctx, const struct serve_config *cfg,
	      struct serve_error *err)
{
	struct server s = { .cfg = cfg };
	char *key = NULL, *cert = NULL;
	sigset_t set, old;
	pthread_t thread;
	bool threaded = false;
	int r, fd = -1;

	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	/* Every thread started from here on inherits the mask: the signals
	 * go to sigwaitinfo() below, and nowhere else. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);

	r = cfg->basic_auth ? load_auth(cfg->basic_auth, &s.auth, err) : 0;
	if (r >= 0)
		r = tls_files(cfg, &key, &cert, err);
	if (r >= 0 &&
	    (r = collector_new(ctx, cfg->netns, &cfg->scan, &s.coll)) < 0)
		fail(err, strerrorname_np(-r), r, "%s", eph_ctx_errmsg(ctx));
	if (r >= 0 && cfg->scan.trace)
		r = start_tracing(&s, ctx, err);
	/* The first scan now: a namespace that cannot be read at all is an
	 * error to report before listening, and the first scrape finds a
	 * scan ready. */
	if (r >= 0) {
		s.gen = scan(&s);
		if (!s.gen)
			r = fail(err, "ENOMEM", -ENOMEM, "out of memory");
	}
	if (r >= 0 && !cfg->scan.all_netns &&
	    !collector_view(s.coll)->ns[0].snap)
		r = fail(err,
			 strerrorname_np(-collector_view(s.coll)->ns[0].err),
			 collector_view(s.coll)->ns[0].err, "%s",
			 collector_view(s.coll)->ns[0].error);
	if (r >= 0 && (r = make_responses(&s)) < 0)
		fail(err, "ENOMEM", r, "out of memory");
	if (r >= 0 && (fd = listen_on(cfg, err)) < 0)
		r = fd;
	if (r >= 0 && (r = start(&s, fd, key, cert, err)) >= 0) {
		fd = -1; /* the daemon's now */
		r = -pthread_create(&thread, NULL, scanner, &s);
		if (r < 0)
			fail(err, strerrorname_np(-r), r,
			     "cannot start the scanner: %s", strerror(-r));
		threaded = r == 0;
	}
	if (r >= 0) {
		cfg->notice(cfg->data, "listening", cfg->url);
		wait_signals(&s, &set);
	}
	if (threaded) {
		pthread_mutex_lock(&s.lock);
		s.stop = true;
		pthread_cond_signal(&s.cond);
		pthread_mutex_unlock(&s.lock);
		pthread_join(thread, NULL);
		/* Those still waiting get the last scan. */
		for (size_t i = 0; i < s.nwaiting; i++)
			MHD_resume_connection(s.waiting[i]);
	}
	if (s.d)
		MHD_stop_daemon(s.d);
	if (fd >= 0)
		close(fd);
	free(s.waiting);
	gen_free(s.gen);
	free_responses(&s);
	/* The tracer stops (and writes the record a last time) before the
	 * forecast it feeds goes. */
	tracing_stop(s.tracing);
	collector_free(s.coll);
	auth_free(s.auth);
	if (key)
		explicit_bzero(key, strlen(key));
	free(key);
	free(cert);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	return r < 0 ? r : 0;
}
