/* SPDX-License-Identifier: MIT */
/* The words for the tracer's record (history_words.h). */
#include <string.h>
#include <time.h>

#include "cli.h"
#include "history_words.h"

/* "10:41" today, else "2026-11-29 10:41", in local time. */
static const char *when(int64_t t, char *buf, size_t size)
{
	time_t s = (time_t)t, now = time(NULL);
	struct tm tm, today;

	localtime_r(&s, &tm);
	localtime_r(&now, &today);
	strftime(buf, size,
		 tm.tm_yday == today.tm_yday && tm.tm_year == today.tm_year
			 ? "%H:%M"
			 : "%Y-%m-%d %H:%M",
		 &tm);
	return buf;
}

static void doubts_text(char *buf, size_t size, uint32_t doubts)
{
	size_t n = 0;

	if (doubts & HISTORY_DOUBT_BLOCKING)
		n += (size_t)snprintf(
			buf + n, size - n,
			" Free counts may be too high: a connection that was "
			"bound first (bind(0), then connect()) or accepted by "
			"a listener that has since closed blocks its port for "
			"every destination, and looks like any other.");
	if ((doubts & HISTORY_DOUBT_TIMESTAMPS) && n < size)
		n += (size_t)snprintf(
			buf + n, size - n,
			" TIME_WAITs count as reusable by today's "
			"tcp_timestamps, not by whether each connection used "
			"timestamps.");
	if ((doubts & HISTORY_DOUBT_KINDS) && n < size)
		snprintf(buf + n, size - n,
			 " A TIME_WAIT's process is not known, and a "
			 "connection accepted by a listener that has closed "
			 "looks like an outgoing one.");
}

void history_text(FILE *f, const char *indent, const struct eph_record *rec,
		  uint32_t doubts)
{
	struct eph_record_info ri = { .state = EPH_RECORD_MISSING };
	char text[1536], why[1024] = "", t1[32];

	if (rec)
		eph_record_info(rec, &ri);
	if (ri.state == EPH_RECORD_USABLE) {
		snprintf(text, sizeof(text),
			 "History: since %s ('ephport trace --record', pid "
			 "%d)%s",
			 when(ri.since, t1, sizeof(t1)), ri.writer_pid,
			 ri.complete ? "."
				     : "; incomplete: entries were dropped "
				       "for room or events lost, so some "
				       "sockets are not in it.");
		cli_wrap(f, indent, text);
		return;
	}
	doubts_text(why, sizeof(why), doubts);
	switch (ri.state) {
	case EPH_RECORD_STOPPED:
		snprintf(text, sizeof(text),
			 "No history: its recorder stopped at %s, so what "
			 "happened since is missing.%s",
			 when(ri.written, t1, sizeof(t1)), why);
		break;
	case EPH_RECORD_OTHER_NETNS:
		snprintf(text, sizeof(text),
			 "No history: the record is of another namespace.%s",
			 why);
		break;
	case EPH_RECORD_CORRUPT:
		snprintf(text, sizeof(text),
			 "No history: the record was refused (%s).%s",
			 ri.detail, why);
		break;
	default:
		snprintf(text, sizeof(text),
			 "No history ('ephport trace --record' keeps it).%s",
			 why);
		break;
	}
	cli_wrap(f, indent, text);
}

void history_json(struct json *j, const struct eph_record *rec, uint32_t doubts)
{
	struct eph_record_info ri = { .state = EPH_RECORD_MISSING };
	char buf[64];
	struct tm tm;
	time_t s;

	if (rec)
		eph_record_info(rec, &ri);
	json_obj(j, "history");
	json_str(j, "state", eph_record_state_code(ri.state));
	json_bool(j, "used", ri.state == EPH_RECORD_USABLE);
	if (ri.state == EPH_RECORD_USABLE || ri.state == EPH_RECORD_STOPPED ||
	    ri.state == EPH_RECORD_OTHER_NETNS) {
		s = (time_t)ri.since;
		gmtime_r(&s, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_str(j, "since", buf);
		json_int(j, "recorder_pid", ri.writer_pid);
		json_bool(j, "complete", ri.complete);
		json_uint(j, "entries", ri.entries);
	} else {
		json_null(j, "since");
		json_null(j, "recorder_pid");
		json_null(j, "complete");
		json_null(j, "entries");
	}
	json_str(j, "detail", ri.detail[0] ? ri.detail : NULL);
	json_arr(j, "doubts");
	if (ri.state != EPH_RECORD_USABLE) {
		if (doubts & HISTORY_DOUBT_BLOCKING)
			json_str(j, NULL, "bound-first-or-accepted");
		if (doubts & HISTORY_DOUBT_TIMESTAMPS)
			json_str(j, NULL, "time-wait-timestamps");
		if (doubts & HISTORY_DOUBT_KINDS)
			json_str(j, NULL, "holder-kinds");
	}
	json_arr_end(j);
	json_obj_end(j);
}
