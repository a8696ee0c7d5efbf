/* SPDX-License-Identifier: MIT */
/*
 * The exporter's renderer: the text format of a view made by hand (two
 * namespaces, one unread; more destinations than the top; a forecast fed
 * two rounds), parsed back line by line; and the escaping of label values,
 * checked as a property over random strings.
 */
#include <stdlib.h>

#include "socks.h"
#include "../../src/serve/metrics.h"

/* ---- A reader of the text format, independent of the writer ---- */

struct sample {
	char name[128];
	char labels[8][2][512]; /* name, unescaped value */
	int nlabels;
	char value[64];
};

/* Unescapes a label value from *P (after the opening quote) into OUT. */
static bool unescape(const char **p, char *out, size_t size)
{
	size_t o = 0;

	for (;;) {
		char c = *(*p)++;

		if (c == '\0' || c == '\n')
			return false;
		if (c == '"')
			break;
		if (c == '\\') {
			c = *(*p)++;
			if (c == 'n')
				c = '\n';
			else if (c != '\\' && c != '"')
				return false;
		}
		if (o + 1 >= size)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

static bool parse_sample(const char *line, struct sample *s)
{
	const char *p = line;
	size_t n = strcspn(p, "{ ");

	memset(s, 0, sizeof(*s));
	if (n == 0 || n >= sizeof(s->name))
		return false;
	memcpy(s->name, p, n);
	p += n;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t k = strcspn(p, "=");

			if (s->nlabels == 8 || k == 0 || k >= 512 ||
			    p[k] != '=' || p[k + 1] != '"')
				return false;
			memcpy(s->labels[s->nlabels][0], p, k);
			p += k + 2;
			if (!unescape(&p, s->labels[s->nlabels][1], 512))
				return false;
			s->nlabels++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return false;
		}
		p++;
	}
	if (*p++ != ' ')
		return false;
	snprintf(s->value, sizeof(s->value), "%s", p);
	return s->value[0] != '\0';
}

static const char *label(const struct sample *s, const char *name)
{
	for (int i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i][0], name) == 0)
			return s->labels[i][1];
	return NULL;
}

struct exposition {
	char *text;
	struct sample *s;
	size_t n;
};

/* Renders V and checks the whole exposition's form: one HELP and TYPE
 * per family, before its samples, which are contiguous. */
static void render(const struct view *v, struct exposition *e)
{
	char *line, *save = NULL, *copy, fam[128] = "";
	size_t len = 0, cap = 0;
	FILE *f = open_memstream(&e->text, &len);
	char seen[64][128];
	size_t nseen = 0;

	assert_non_null(f);
	metrics_render(f, v);
	assert_int_equal(fclose(f), 0);
	assert_true(len > 0 && e->text[len - 1] == '\n');
	e->s = NULL;
	e->n = 0;
	copy = strdup(e->text);
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			size_t k = strcspn(line + 7, " ");

			snprintf(fam, sizeof(fam), "%.*s", (int)k, line + 7);
			for (size_t i = 0; i < nseen; i++)
				assert_string_not_equal(seen[i], fam);
			assert_true(nseen < 64);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", fam);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			const char *type = line + 7 + strlen(fam) + 1;

			assert_memory_equal(line + 7, fam, strlen(fam));
			assert_true(strcmp(type, "gauge") == 0 ||
				    strcmp(type, "counter") == 0);
			/* Counters, and only they, end in _total. */
			assert_int_equal(strcmp(type, "counter") == 0,
					 strlen(fam) > 6 &&
						 strcmp(fam + strlen(fam) - 6,
							"_total") == 0);
			continue;
		}
		if (e->n == cap) {
			cap = cap ? cap * 2 : 64;
			e->s = realloc(e->s, cap * sizeof(*e->s));
			assert_non_null(e->s);
		}
		assert_true(parse_sample(line, &e->s[e->n]));
		/* Samples belong to the family announced last. */
		assert_string_equal(e->s[e->n].name, fam);
		e->n++;
	}
	free(copy);
}

static void exposition_free(struct exposition *e)
{
	free(e->text);
	free(e->s);
}

/* The samples of NAME whose label KEY is VALUE (NULL: any). */
static size_t find(const struct exposition *e, const char *name,
		   const char *key, const char *value,
		   const struct sample **ret)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n; i++) {
		const struct sample *s = &e->s[i];
		const char *l = key ? label(s, key) : NULL;

		if (strcmp(s->name, name) != 0 ||
		    (key && (!l || (value && strcmp(l, value) != 0))))
			continue;
		if (ret && n == 0)
			*ret = s;
		n++;
	}
	return n;
}

/* ---- A view made by hand ---- */

struct world {
	struct eph_policy *p;
	struct eph_usage *u;
	struct eph_snapshot *snap;
	struct eph_forecast *fc;
	struct eph_thresholds th;
	struct view_ns ns[2];
	struct view v;
	struct eph_ranking *all;
};

/* Destination I (port 1000 + I of 10.0.0.2) gets I + 1 sockets, plus
 * EXTRA more for the fullest, in a 20-port range. */
static void feed(struct world *w, uint32_t extra, uint64_t t)
{
	uint64_t cookie = 1;

	eph_forecast_begin(w->fc);
	assert_int_equal(eph_usage_begin(w->u, w->p), 0);
	for (uint16_t i = 0; i < 6; i++)
		for (uint16_t k = 0; k < i + 1 + (i == 5 ? extra : 0); k++) {
			struct eph_sock s = sk(
				"10.0.0.1", (uint16_t)(40000 + k), "10.0.0.2",
				(uint16_t)(1000 + i), EPH_TCP_ESTABLISHED);

			s.cookie = cookie++;
			assert_int_equal(eph_usage_add(w->u, &s), 0);
		}
	assert_int_equal(eph_usage_end(w->u), 0);
	assert_int_equal(forecast_add_usage(w->fc, w->ns[0].source, w->u, t),
			 0);
	eph_forecast_end(w->fc);
}

static void world_init(struct world *w, bool all_netns)
{
	const struct eph_thresholds th = EPH_THRESHOLDS_DEFAULT;
	uint64_t dev;

	memset(w, 0, sizeof(*w));
	w->th = th;
	w->p = policy_new();
	assert_non_null(w->p);
	assert_int_equal(eph_policy_set_range(w->p, 40000, 40019), 0);
	assert_int_equal(eph_usage_new(ctx, &w->u), 0);
	assert_int_equal(snapshot_wrap(ctx, w->p, w->u, &w->snap), 0);
	assert_int_equal(eph_forecast_new(ctx, 0, &w->fc), 0);
	assert_int_equal(eph_forecast_watch(w->fc, w->snap), 0);
	assert_int_equal(eph_ctx_netns_id(ctx, &dev, &w->ns[0].source), 0);
	/* Two rounds a second apart: the fullest grows by 4 a second. */
	feed(w, 0, 1000000000ull);
	feed(w, 4, 2000000000ull);
	snprintf(w->ns[0].label, sizeof(w->ns[0].label), "web");
	w->ns[0].snap = w->snap;
	assert_int_equal(
		eph_ranking_new(&w->ns[0].snap, 1, &w->th, 3, &w->ns[0].rank),
		0);
	/* A label that needs every escape, and invalid UTF-8. */
	snprintf(w->ns[1].label, sizeof(w->ns[1].label),
		 "a\"b\\c\nd\xff\xc3\xa9");
	w->ns[1].source = w->ns[0].source + 1;
	w->ns[1].errors = 3;
	w->ns[1].err = -ENOENT;
	w->v.ns = w->ns;
	w->v.n = all_netns ? 2 : 1;
	w->v.label_netns = all_netns;
	w->v.fc = w->fc;
	w->v.scans = 7;
	w->v.scan_seconds = 0.25;
	w->v.scan_time = 1700000000.5;
	w->v.interval = 15;
	w->v.version = "9.9.9";
	{
		const struct eph_snapshot *s[2] = { w->snap, NULL };

		assert_int_equal(eph_ranking_new(s, w->v.n, &w->th, 3, &w->all),
				 0);
	}
	w->v.rank = w->all;
}

static void world_free(struct world *w)
{
	eph_ranking_free(w->ns[0].rank);
	eph_ranking_free(w->all);
	eph_forecast_free(w->fc);
	eph_snapshot_free(w->snap);
}

static void test_render_one_namespace(void **state)
{
	struct world w;
	struct exposition e;
	const struct sample *s = NULL;

	(void)state;
	world_init(&w, false);
	render(&w.v, &e);
	/* No netns label on a single namespace's series. */
	for (size_t i = 0; i < e.n; i++)
		assert_null(label(&e.s[i], "netns"));
	assert_int_equal(find(&e, "ephport_build_info", "version", "9.9.9", &s),
			 1);
	assert_string_equal(s->value, "1");
	assert_int_equal(find(&e, "ephport_scans_total", NULL, NULL, &s), 1);
	assert_string_equal(s->value, "7");
	assert_int_equal(find(&e, "ephport_ephemeral_ports", NULL, NULL, &s),
			 1);
	assert_string_equal(s->value, "20");
	/* Top 3 of 6 destinations, plus "other": 4 series, 3 states each. */
	assert_int_equal(find(&e, "ephport_destination_free_ports", "remote",
			      NULL, NULL),
			 4);
	assert_int_equal(
		find(&e, "ephport_destination_used_ports", "state", NULL, NULL),
		12);
	assert_int_equal(find(&e, "ephport_destination_free_ports",
			      "remote_port", "1005", &s),
			 1);
	assert_string_equal(s->value, "10"); /* 20 - 6 - 4 */
	assert_int_equal(find(&e, "ephport_destination_utilisation_ratio",
			      "remote_port", "1005", &s),
			 1);
	assert_string_equal(s->value, "0.5");
	/* The rest (1, 2 and 3 sockets) summed, and its fullest. */
	assert_int_equal(find(&e, "ephport_destination_used_ports", "remote",
			      "other", NULL),
			 3);
	for (size_t i = 0; i < e.n; i++) {
		const char *st = label(&e.s[i], "state");

		if (strcmp(e.s[i].name, "ephport_destination_used_ports") ||
		    strcmp(label(&e.s[i], "remote"), "other"))
			continue;
		assert_string_equal(e.s[i].value,
				    strcmp(st, "established") ? "0" : "6");
	}
	assert_int_equal(find(&e, "ephport_destination_free_ports", "remote",
			      "other", &s),
			 1);
	assert_string_equal(s->value, "17");
	/* Counters of connections opened for the top only: a sum over a
	 * changing set of destinations would not be a counter. */
	assert_int_equal(find(&e,
			      "ephport_destination_connections_opened_total",
			      "remote", NULL, NULL),
			 3);
	assert_int_equal(find(&e,
			      "ephport_destination_connections_opened_total",
			      "remote_port", "1005", &s),
			 1);
	assert_string_equal(s->value, "10");
	assert_int_equal(
		find(&e, "ephport_connections_opened_total", NULL, NULL, &s),
		1);
	assert_string_equal(s->value, "25");
	/* The fullest lost 4 ports in a second: 10 left, 2.5 s. */
	assert_int_equal(find(&e, "ephport_destination_exhaustion_seconds",
			      "remote_port", "1005", &s),
			 1);
	assert_string_equal(s->value, "2.5");
	assert_int_equal(find(&e, "ephport_destination_exhaustion_seconds",
			      "remote_port", "1004", &s),
			 1);
	assert_string_equal(s->value, "+Inf");
	assert_int_equal(find(&e, "ephport_destination_exhaustion_seconds",
			      "remote", "other", &s),
			 1);
	assert_string_equal(s->value, "+Inf");
	assert_int_equal(
		find(&e, "ephport_scan_timestamp_seconds", NULL, NULL, &s), 1);
	assert_string_equal(s->value, "1700000000.500");
	exposition_free(&e);
	world_free(&w);
}

static void test_render_every_namespace(void **state)
{
	struct world w;
	struct exposition e;
	const struct sample *s = NULL;

	(void)state;
	world_init(&w, true);
	render(&w.v, &e);
	/* Every namespace's series carry its label, the escaped one too:
	 * the reader gives back the label with U+FFFD for the bad byte. */
	assert_int_equal(find(&e, "ephport_scan_errors_total", "netns",
			      "a\"b\\c\nd\xef\xbf\xbd\xc3\xa9", &s),
			 1);
	assert_string_equal(s->value, "3");
	assert_int_equal(find(&e, "ephport_scan_success", "netns",
			      "a\"b\\c\nd\xef\xbf\xbd\xc3\xa9", &s),
			 1);
	assert_string_equal(s->value, "0");
	assert_int_equal(find(&e, "ephport_scan_success", "netns", "web", &s),
			 1);
	assert_string_equal(s->value, "1");
	/* The unread namespace has no usage series. */
	assert_int_equal(
		find(&e, "ephport_ephemeral_ports", "netns", NULL, NULL), 1);
	assert_int_equal(find(&e, "ephport_destination_free_ports", "netns",
			      "web", NULL),
			 4);
	for (size_t i = 0; i < e.n; i++) {
		const char *n = e.s[i].name;

		/* The exporter's own, and counters, which a namespace
		 * keeps through a scan that failed. */
		if (strncmp(n, "ephport_scan", 12) &&
		    strncmp(n, "ephport_build", 13) &&
		    strcmp(n, "ephport_connections_opened_total"))
			assert_string_equal(label(&e.s[i], "netns"), "web");
	}
	exposition_free(&e);
	world_free(&w);
}

static void test_render_without_forecast(void **state)
{
	struct world w;
	struct exposition e;

	(void)state;
	world_init(&w, false);
	w.v.fc = NULL;
	render(&w.v, &e);
	assert_int_equal(find(&e, "ephport_destination_exhaustion_seconds",
			      NULL, NULL, NULL),
			 0);
	assert_int_equal(
		find(&e, "ephport_connections_opened_total", NULL, NULL, NULL),
		0);
	assert_null(strstr(e.text, "opened_total"));
	exposition_free(&e);
	world_free(&w);
}

/* ---- Escaping, as a property ---- */

/* Is S[0..LEN) valid UTF-8? An independent check: decode every code
 * point and refuse overlong forms, surrogates and values past U+10FFFF. */
static bool valid_utf8(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0)
			n = 2, cp = s[i] & 0x1f;
		else if ((s[i] & 0xf0) == 0xe0)
			n = 3, cp = s[i] & 0x0f;
		else if ((s[i] & 0xf8) == 0xf0)
			n = 4, cp = s[i] & 0x07;
		else
			return false;
		if (i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

static void test_render_what_the_tracer_counted(void **state)
{
	struct eph_trace_counter rows[4];
	struct world w;
	struct exposition e;
	const struct sample *s = NULL;

	(void)state;
	world_init(&w, true);
	/* No tracer: no such family; the record, none here, is said. */
	render(&w.v, &e);
	assert_int_equal(
		find(&e, "ephport_trace_events_lost_total", NULL, NULL, NULL),
		0);
	assert_int_equal(find(&e, "ephport_history_used", "netns", "web", &s),
			 1);
	assert_string_equal(s->value, "0");
	assert_int_equal(find(&e, "ephport_history_seconds", NULL, NULL, NULL),
			 0);
	assert_null(strstr(e.text, "ephport_connect_failures_total"));
	exposition_free(&e);

	memset(rows, 0, sizeof(rows));
	rows[0] = (struct eph_trace_counter){
		w.ns[0].source, EPH_TRACE_BIND_FAILED,
		EADDRINUSE,	false,
		"nginx",	3
	};
	rows[1] = (struct eph_trace_counter){
		w.ns[0].source, EPH_TRACE_CONNECT_FAILED,
		EADDRNOTAVAIL,	false,
		"curl",		5
	};
	rows[2] = (struct eph_trace_counter){ w.ns[0].source,
					      EPH_TRACE_CONNECT_FAILED,
					      EADDRNOTAVAIL,
					      true,
					      "",
					      2 };
	/* A namespace no scan knows: not shown, no label to give it. */
	rows[3] = (struct eph_trace_counter){ 12345,	  EPH_TRACE_BIND_FAILED,
					      EADDRINUSE, false,
					      "x",	  1 };
	w.v.traced = true;
	w.v.failures = rows;
	w.v.nfailures = 4;
	w.v.trace_lost = 9;
	render(&w.v, &e);
	assert_int_equal(
		find(&e, "ephport_trace_events_lost_total", NULL, NULL, &s), 1);
	assert_string_equal(s->value, "9");
	assert_null(label(s, "netns"));
	assert_int_equal(
		find(&e, "ephport_bind_failures_total", "command", NULL, &s),
		1);
	assert_string_equal(label(s, "errno"), "EADDRINUSE");
	assert_string_equal(label(s, "command"), "nginx");
	assert_string_equal(label(s, "netns"), "web");
	assert_string_equal(s->value, "3");
	assert_int_equal(find(&e, "ephport_connect_failures_total", "errno",
			      "EADDRNOTAVAIL", NULL),
			 2);
	assert_int_equal(find(&e, "ephport_connect_failures_total", "command",
			      "other", &s),
			 1);
	assert_string_equal(s->value, "2");
	/* The connections opened come from the tracer: it says so. */
	assert_non_null(strstr(e.text,
			       "# HELP "
			       "ephport_destination_connections_opened_total "
			       "Connections opened toward a destination since "
			       "the exporter started: every connect() the "
			       "tracer saw"));
	exposition_free(&e);
	world_free(&w);
}

static void test_escape_property(void **state)
{
	static const unsigned char alphabet[] = {
		'a',  'Z',  '0',  ' ',	'\\', '"',  '\n', '\t', '{',  '}',
		'=',  ',',  0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98,
		0x80, 0xff, 0x80, 0xc0, 0xed, 0xa0, 0xf4, 0x90, 0x01, 0x7f,
	};
	unsigned int seed = 12;
	char in[64], out[64 * 3 + 1], back[64 * 3 + 1];

	(void)state;
	for (int iter = 0; iter < 50000; iter++) {
		size_t len = (size_t)(rand_r(&seed) % 40), n;
		const char *p;

		for (size_t i = 0; i < len; i++)
			in[i] = (char)alphabet[(size_t)rand_r(&seed) %
					       sizeof(alphabet)];
		in[len] = '\0';
		n = metrics_escape(in, len, out, sizeof(out));
		assert_int_equal(n, strlen(out));
		/* UTF-8, no raw newline, and a quote only escaped. */
		assert_true(valid_utf8((const unsigned char *)out, n));
		assert_null(memchr(out, '\n', n));
		out[n] = '"';
		out[n + 1] = '\0';
		p = out;
		assert_true(unescape(&p, back, sizeof(back)));
		assert_ptr_equal(p, out + n + 1);
		/* Valid input comes back as it was; other input comes back
		 * valid, each bad byte one U+FFFD (3 bytes). */
		if (valid_utf8((const unsigned char *)in, len))
			assert_string_equal(back, in);
		else
			assert_true(valid_utf8((const unsigned char *)back,
					       strlen(back)) &&
				    strlen(back) > len &&
				    strlen(back) <= 3 * len);
		/* Cut short, it still ends with a NUL and says how long the
		 * whole would have been. */
		if (n > 2) {
			char small[3];

			assert_int_equal(
				metrics_escape(in, len, small, sizeof(small)),
				n);
			assert_int_equal(small[2], '\0');
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_one_namespace),
		cmocka_unit_test(test_render_every_namespace),
		cmocka_unit_test(test_render_without_forecast),
		cmocka_unit_test(test_render_what_the_tracer_counted),
		cmocka_unit_test(test_escape_property),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
