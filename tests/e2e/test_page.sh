#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The live page in a real headless Chromium (python3-selenium and
# chromium-driver): it loads without a console message of error level,
# shows the destination with the count just opened and the reserved port
# in the strip, and refreshes in place when more connections open.
. "$(dirname "$0")/lib.sh"
require_root
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] ||
	skip_all "needs chromium and chromium-driver"
/usr/bin/python3 -c 'import selenium' 2>/dev/null || skip_all "needs python3-selenium"
. "$(dirname "$0")/serve_lib.sh"
E2E=$(dirname "$0")
# No tracer's record: the test's own path, where none is kept.
export EPHPORT_RECORD="$TMP/record/history"

ns=$(ns_add page)
ns_sysctl "$ns" net.ipv4.ip_local_port_range "40000 40999"
ns_sysctl "$ns" net.ipv4.ip_local_reserved_ports 40500
coproc SOCK { ip netns exec "$ns" python3 "$E2E/sockctl.py"; }
OTHER_PIDS+=("$SOCK_PID")
sock() {
	echo "$*" >&"${SOCK[1]}"
	read -r REPLY <&"${SOCK[0]}"
}
sock listen 127.0.0.1 5000
sock listen 127.0.0.1 40100
sock connect 127.0.0.1 5000 7
expect_in "7 connections toward 127.0.0.1:5000" "OK" "$REPLY"
serve_start 8730 --netns "$ns" serve --listen 127.0.0.1:8730 --interval 1
check "the exporter is up" test $? -eq 0

mkfifo "$TMP/page.in"
ip netns exec "$CLI_NS" /usr/bin/python3 "$E2E/page.py" http://127.0.0.1:8730/ \
	127.0.0.1:5000 7 12 40500 "$TMP/page.png" "$TMP/profile" \
	<"$TMP/page.in" >"$TMP/page.out" 2>"$TMP/page.err" &
page_pid=$!
OTHER_PIDS+=("$page_pid")
exec {hold}>"$TMP/page.in"
for i in $(seq 600); do
	[ -s "$TMP/page.out" ] && break
	kill -0 "$page_pid" 2>/dev/null || break
	sleep 0.05
done
first=$(head -1 "$TMP/page.out")
check "the page loaded (Chromium and chromedriver ran)" jq -e . <<<"$first"
expect_eq "the title" "$(jq -r .title <<<"$first")" ephport
check "the destination with the 7 connections just opened" \
	jq -e '.row | test("127.0.0.1:5000") and test("7 / 998")' <<<"$first"
expect_eq "the reserved port 40500 in the strip of every port" "$(jq -r .reserved_full <<<"$first")" 1
expect_eq "and in the magnified ephemeral range" "$(jq -r .reserved_zoom <<<"$first")" 1
expect_eq "the listener at risk in the strip" "$(jq -c .risks <<<"$first")" '["40100"]'
check "the status line names the scan" jq -e '.status | test("^scan [0-9]+ at")' <<<"$first"
check "under the strip, no history, and what could be off without it" \
	jq -e '.history | length == 1 and (.[0] | test("^no history .*free ports may be counted too high"))' <<<"$first"

sock connect 127.0.0.1 5000 5
echo go >&"$hold"
exec {hold}>&-
wait "$page_pid"
second=$(sed -n 2p "$TMP/page.out")
check "five more: the page shows 12, by itself" jq -e '.row2 | test("12 / 998")' <<<"$second"
expect_eq "without a reload (the same document)" "$(jq -r .same_document <<<"$second")" true
expect_eq "no console message of error level" \
	"$(jq -c '[.console[] | select(.level == "SEVERE")]' <<<"$second")" '[]'
check "a screenshot was taken" test -s "$TMP/page.png"
[ -n "${PAGE_SHOT:-}" ] && cp "$TMP/page.png" "$PAGE_SHOT"
[ -s "$TMP/page.err" ] && [ -z "$second" ] && sed 's/^/# /' "$TMP/page.err" | tail -20
finish
