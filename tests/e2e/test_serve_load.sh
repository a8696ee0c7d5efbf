#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The exporter under load and abuse: 10,000 requests at 50 concurrent
# connections without an error and with memory flat; silent, slow and
# vanished clients held while other scrapes are served, the silent ones
# closed after --client-timeout; oversized requests refused; SIGTERM with
# clients connected. Heavy: registered for the build without sanitizers.
. "$(dirname "$0")/lib.sh"
require_root
command -v ab >/dev/null || skip_all "needs ab (apache2-utils)"
. "$(dirname "$0")/serve_lib.sh"
E2E=$(dirname "$0")

ns=$(ns_add load)
coproc SOCK { ip netns exec "$ns" python3 "$E2E/sockctl.py"; }
OTHER_PIDS+=("$SOCK_PID")
sock() {
	echo "$*" >&"${SOCK[1]}"
	read -r REPLY <&"${SOCK[0]}"
}
sock listen 127.0.0.1 5000
sock connect 127.0.0.1 5000 200
expect_in "200 connections to export" "OK" "$REPLY"
serve_start 8740 --netns "$ns" serve --listen 127.0.0.1:8740 --interval 1 \
	--client-timeout 2
check "the exporter is up" test $? -eq 0
pid=$SERVE_PID
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }

# ---- Misbehaving clients, while others scrape ----
mkfifo "$TMP/slow.in"
ip netns exec "$CLI_NS" python3 "$E2E/slowclients.py" 127.0.0.1 8740 100 5 \
	<"$TMP/slow.in" >"$TMP/slow.out" 2>&1 &
OTHER_PIDS+=($!)
exec {hold}>"$TMP/slow.in"
for i in $(seq 200); do
	grep -q READY "$TMP/slow.out" && break
	sleep 0.05
done
expect_eq "300 misbehaving clients connected" "$(head -1 "$TMP/slow.out")" READY
worst=0
fails=0
for i in $(seq 20); do
	t=$(in_cli curl -s -o /dev/null -w '%{http_code} %{time_total}' http://127.0.0.1:8740/metrics)
	[ "${t%% *}" = 200 ] || fails=$((fails + 1))
	worst=$(awk -v a="$worst" -v b="${t#* }" 'BEGIN { print (b > a ? b : a) }')
	sleep 0.05
done
expect_eq "meanwhile 20 scrapes: all 200" "$fails" 0
check "each within half a second (the slowest $worst s)" \
	awk -v w="$worst" 'BEGIN { exit !(w < 0.5) }'
echo check >&"$hold"
exec {hold}>&-
for i in $(seq 200); do
	[ "$(wc -l <"$TMP/slow.out")" -ge 2 ] && break
	sleep 0.05
done
r=$(sed -n 2p "$TMP/slow.out")
expect_eq "silent clients closed after --client-timeout" "$(jq -r .silent_closed <<<"$r")" 100
expect_eq "clients gone mid-request closed" "$(jq -r .gone_closed <<<"$r")" 100
fetch http://127.0.0.1:8740/metrics
expect_eq "and the exporter still serves" "$CODE" 200

# ---- Oversized and odd requests ----
fetch "http://127.0.0.1:8740/metrics?$(head -c 70000 /dev/zero | tr '\0' a)"
check "a 70 KB URL: refused with 4xx ($CODE)" test "$CODE" -ge 400 -a "$CODE" -lt 500
head -c 10000000 /dev/zero >"$TMP/big"
fetch http://127.0.0.1:8740/metrics --data-binary @"$TMP/big" -H 'Expect:'
check "a 10 MB POST: refused, not read ($CODE)" test "$CODE" = 405
fetch http://127.0.0.1:8740/metrics -X GET --data-binary @"$TMP/big" -H 'Expect:'
check "a GET with a 10 MB body: answered or closed, not hung ($CODE)" \
	test "$CODE" = 200 -o "$CODE" = 000 -o "$CODE" -ge 400
fetch http://127.0.0.1:8740/metrics -X OPTIONS
expect_eq "OPTIONS: 405" "$CODE" 405
fetch http://127.0.0.1:8740/../../etc/passwd --path-as-is
check "a path outside: 404 ($CODE)" test "$CODE" = 404 -o "$CODE" = 400

# ---- 10,000 requests, 50 at a time; memory before and after ----
in_cli ab -q -n 1000 -c 50 http://127.0.0.1:8740/metrics >"$TMP/ab0" 2>&1
before=$(rss)
in_cli ab -q -n 10000 -c 50 http://127.0.0.1:8740/metrics >"$TMP/ab" 2>&1
after=$(rss)
ab=$(cat "$TMP/ab")
expect_eq "ab: 10,000 requests complete" "$(awk '/^Complete requests:/ { print $3 }' <<<"$ab")" 10000
# ab counts a body whose length differs from the first one's as "failed"
# (Length): a scan in between changes the exposition. Only connect,
# receive and exception failures are failures.
expect_eq "ab: no failed request (connect, receive, exceptions)" \
	"$(sed -n 's/.*(Connect: \([0-9]*\), Receive: \([0-9]*\), Length: [0-9]*, Exceptions: \([0-9]*\)).*/\1 \2 \3/p' <<<"$ab" | awk '{ print $1 + $2 + $3 } END { if (!NR) print 0 }')" 0
expect_eq "ab: no response other than 2xx" "$(grep -c '^Non-2xx' <<<"$ab")" 0
rps=$(awk '/^Requests per second:/ { print $4 }' <<<"$ab")
check "ab: $rps requests a second" test -n "$rps"
check "memory flat over the run: RSS $before KiB before, $after KiB after (at most +1 MiB)" \
	test "$after" -le $((before + 1024))
fetch http://127.0.0.1:8740/metrics
scans=$(metric "$OUT" ephport_scans_total)
secs=$(awk '/^Time taken for tests:/ { print $5 }' <<<"$ab")
check "scans at most one a second during the run ($scans scans, $secs s)" \
	awk -v n="$scans" -v s="$secs" 'BEGIN { exit !(n <= s + 6) }'

# ---- SIGTERM with clients connected ----
for i in $(seq 20); do
	in_cli bash -c 'exec 3<>/dev/tcp/127.0.0.1/8740; sleep 5' &
	OTHER_PIDS+=($!)
done
# Until the 20 are connected (the exporter's listener among them).
for i in $(seq 100); do
	[ "$(in_cli ss -Htn state established '( dport = :8740 )' | wc -l)" -ge 20 ] && break
	sleep 0.05
done
start=$(date +%s%N)
serve_stop "$pid"
took=$((($(date +%s%N) - start) / 1000000))
expect_rc "SIGTERM with 20 clients connected: exit 0" 0
check "and promptly ($took ms)" test "$took" -lt 2000
finish
