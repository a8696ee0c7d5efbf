#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ephport serve` and `ephport metrics` against real namespaces: the
# metrics (promtool-clean) match the sockets made; scans at most every
# interval, shared by concurrent requests; errors and limits; basic auth
# and TLS; signals; every namespace; the forecast of a generator of known
# rate; the textfile; usage --watch; the examples of --help.
. "$(dirname "$0")/lib.sh"
require_root
. "$(dirname "$0")/serve_lib.sh"
E2E=$(dirname "$0")
# The tracer's record, read by every scan and kept by serve --trace (an
# example of --help), is the test's own.
export EPHPORT_RECORD="$TMP/record/history"

# The namespace scanned: a 1000-port range, one reserved port, a listener
# inside the range (at risk) and one outside it (the destination).
ns=$(ns_add scanned)
ns_sysctl "$ns" net.ipv4.ip_local_port_range "40000 40999"
ns_sysctl "$ns" net.ipv4.ip_local_reserved_ports 40500
coproc SOCK { ip netns exec "$ns" python3 "$E2E/sockctl.py"; }
OTHER_PIDS+=("$SOCK_PID")
sock() {
	echo "$*" >&"${SOCK[1]}"
	read -r REPLY <&"${SOCK[0]}"
}
sock listen 127.0.0.1 40100
sock listen 127.0.0.1 5000
expect_in "the socket maker listens" "OK" "$REPLY"

# ---- Usage errors ----
run "$EPHPORT" serve --listen nonsense
expect_rc "--listen without a port is a usage error" 2
expect_in "it says what to give" "give ADDR:PORT" "$ERR"
run "$EPHPORT" serve --listen ::1:8720
expect_rc "an IPv6 address needs brackets" 2
run "$EPHPORT" serve --interval 0
expect_rc "--interval 0 is refused" 2
run "$EPHPORT" serve --tls-cert x.pem
expect_rc "--tls-cert without --tls-key is refused" 2
run "$EPHPORT" --netns "$ns" serve --all-netns
expect_rc "--all-netns with --netns is refused" 2
run "$EPHPORT" --netns ephport-no-such-ns serve --listen 127.0.0.1:1
expect_rc "an unknown namespace: exit 2 before listening" 2
run "$EPHPORT" serve --json --listen 127.0.0.1:x
expect_rc "--json: a usage error" 2
check "--json: the error is a JSON object" jq -e '.error.code == "usage"' <<<"$OUT"

# ---- One namespace ----
serve_start 8720 --netns "$ns" serve --interval 1
check "serve starts and answers /healthz" test $? -eq 0
expect_in "it says where it listens" "listening on http://127.0.0.1:8720/" "$(cat "$SERVE_OUT")"
main_pid=$SERVE_PID

sock connect 127.0.0.1 5000 20
fetch_scan http://127.0.0.1:8720/metrics -D "$TMP/headers"
expect_eq "/metrics answers 200" "$CODE" 200
expect_in "in the text format 0.0.4" "text/plain; version=0.0.4" "$(cat "$TMP/headers")"
m=$OUT
promtool_ok "promtool check metrics: one namespace" "$m"
expect_eq "the range" "$(metric "$m" ephport_ephemeral_ports)" 1000
expect_eq "the reserved port" "$(metric "$m" ephport_reserved_ports)" 1
expect_eq "available = range - reserved" "$(metric "$m" ephport_available_ports)" 999
expect_eq "the listener in the range blocks its port" "$(metric "$m" ephport_blocked_ports)" 1
dest='remote="127.0.0.1",remote_port="5000"'
expect_eq "20 established toward the destination" \
	"$(metric "$m" ephport_destination_used_ports "$dest,state=\"established\"")" 20
expect_eq "capacity: 1000 - 1 reserved - 1 blocked" \
	"$(metric "$m" ephport_destination_capacity_ports "$dest")" 998
expect_eq "free" "$(metric "$m" ephport_destination_free_ports "$dest")" 978
expect_eq "20 connections opened, by cookie" \
	"$(metric "$m" ephport_destination_connections_opened_total "$dest")" 20
expect_eq "the server port at risk, with its command" \
	"$(metric "$m" ephport_server_port_at_risk 'port="40100",proto="tcp",command="python3"')" 1
expect_eq "no netns label for one namespace" "$(grep -c 'netns=' <<<"$m")" 0
expect_eq "the scan read it" "$(metric "$m" ephport_scan_success)" 1

# Opened counts only new sockets: 5 more, and the 20 are not counted again.
sock connect 127.0.0.1 5000 5
fetch_scan http://127.0.0.1:8720/metrics
expect_eq "5 more opened: 25" \
	"$(metric "$OUT" ephport_destination_connections_opened_total "$dest")" 25

fetch http://127.0.0.1:8720/api/v1/snapshot
expect_eq "/api/v1/snapshot answers 200" "$CODE" 200
api=$OUT
expect_eq "the API: the destination in the shape of usage --json" \
	"$(jq -c '.tuples[] | select(.remote_port == 5000) | [.proto, .established, .capacity, .free]' <<<"$api")" \
	'["tcp",25,998,973]'
expect_eq "the API: the reserved port, as ranges --json has it" \
	"$(jq -r '.namespaces[0].ranges.reserved.ports' <<<"$api")" 40500
expect_eq "the API: the server at risk, as audit --json has it" \
	"$(jq -c '[.namespaces[0].audit.at_risk[] | [.port, .owner.command]]' <<<"$api")" '[[40100,"python3"]]'
check "the API: each destination's forecast" \
	jq -e '.tuples[0].forecast | has("rate") and has("seconds_left") and .opened == 25' <<<"$api"
# The exporter counts consumers by unit by default, as usage --by unit.
run "$EPHPORT" --netns "$ns" usage --by unit --json
expect_eq "the same members as usage --by unit --json" \
	"$(jq -c '.tuples[0] | keys' <<<"$OUT")" \
	"$(jq -c '.tuples[0] | del(.forecast) | keys' <<<"$api")"

# ---- Scans: at most every interval, shared ----
fetch http://127.0.0.1:8720/metrics
s1=$(metric "$OUT" ephport_scans_total)
fetch http://127.0.0.1:8720/metrics
expect_eq "a scrape within the interval is served from the last scan" \
	"$(metric "$OUT" ephport_scans_total)" "$s1"
# Time itself is what is tested: past the interval, one shared scan.
sleep 1.1
pids=()
for i in $(seq 20); do
	in_cli curl -s -o "$TMP/par.$i" http://127.0.0.1:8720/metrics &
	pids+=($!)
done
wait "${pids[@]}"
scans=$(for i in $(seq 20); do metric "$(cat "$TMP/par.$i")" ephport_scans_total; done | sort -u)
expect_eq "20 simultaneous scrapes share one scan" "$scans" "$((s1 + 1))"

# ---- Errors and limits ----
fetch http://127.0.0.1:8720/nope
expect_eq "an unknown path: 404" "$CODE" 404
fetch http://127.0.0.1:8720/metrics -X POST
expect_eq "POST: 405" "$CODE" 405
fetch http://127.0.0.1:8720/metrics -X DELETE -D "$TMP/h405"
expect_in "405 says what is allowed" "Allow: GET, HEAD" "$(cat "$TMP/h405")"
fetch http://127.0.0.1:8720/metrics -I
expect_eq "HEAD: 200" "$CODE" 200
fetch http://127.0.0.1:8720/metrics -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)"
check "a 40 KB header: refused with 4xx" test "$CODE" -ge 400 -a "$CODE" -lt 500
raw() { # raw REQUEST: what the exporter answers to bytes sent as they are
	in_cli timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8720; printf "$1" >&3; head -c 12 <&3' raw "$1"
}
expect_eq "a request line that is no HTTP: the connection closed" \
	"$(raw 'GARBAGE\r\n\r\n')" ""
expect_eq "a malformed header line: 400" \
	"$(raw 'GET /metrics HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n')" "HTTP/1.1 400"
expect_eq "an unknown HTTP version: 505" \
	"$(raw 'GET /metrics HTTP/7.1\r\n\r\n')" "HTTP/1.1 505"
fetch http://127.0.0.1:8720/metrics
expect_eq "and the exporter still serves" "$CODE" 200

# ---- Signals ----
kill -HUP "$main_pid"
wait_notice "$TMP/serve-8720.out" reloaded 1
fetch http://127.0.0.1:8720/healthz
expect_eq "SIGHUP: still serving" "$CODE" 200
expect_in "SIGHUP: said so" "reloaded" "$(cat "$TMP/serve-8720.out")"
serve_stop "$main_pid"
expect_rc "SIGTERM: a clean exit 0" 0

# ---- Basic auth, and SIGHUP reading the users file again ----
printf 'alice:%s\n' "$(openssl passwd -6 'correct horse')" >"$TMP/users"
serve_start 8723 --netns "$ns" serve --listen 127.0.0.1:8723 --basic-auth "$TMP/users"
auth_pid=$SERVE_PID
fetch http://127.0.0.1:8723/metrics -D "$TMP/h401"
expect_eq "basic auth: no credentials, 401" "$CODE" 401
expect_in "with a challenge" 'WWW-Authenticate: Basic realm="ephport"' "$(cat "$TMP/h401")"
fetch http://127.0.0.1:8723/metrics -u 'alice:wrong'
expect_eq "basic auth: a wrong password, 401" "$CODE" 401
fetch http://127.0.0.1:8723/metrics -u 'mallory:correct horse'
expect_eq "basic auth: an unknown user, 401" "$CODE" 401
fetch http://127.0.0.1:8723/metrics -u 'alice:correct horse'
expect_eq "basic auth: the right password, 200" "$CODE" 200
fetch http://127.0.0.1:8723/ -u 'alice:correct horse'
expect_eq "basic auth guards the page too" "$CODE" 200
fetch http://127.0.0.1:8723/healthz
expect_eq "but not /healthz" "$CODE" 200
printf 'alice:%s\n' "$(openssl passwd -6 'battery staple')" >"$TMP/users"
kill -HUP "$auth_pid"
wait_notice "$TMP/serve-8723.out" reloaded 1
fetch http://127.0.0.1:8723/metrics -u 'alice:battery staple'
expect_eq "after SIGHUP the new password works" "$CODE" 200
fetch http://127.0.0.1:8723/metrics -u 'alice:correct horse'
expect_eq "and the old one no longer" "$CODE" 401
echo 'alice plain' >"$TMP/users"
kill -HUP "$auth_pid"
wait_notice "$TMP/serve-8723.out" "reload failed" 1
fetch http://127.0.0.1:8723/metrics -u 'alice:battery staple'
expect_eq "a broken users file on SIGHUP keeps the last good one" "$CODE" 200
serve_stop "$auth_pid"
echo 'alice:plain' >"$TMP/bad-users"
run "$EPHPORT" serve --basic-auth "$TMP/bad-users"
expect_rc "a users file without hashes: exit 2" 2
expect_in "naming the line" "line 1: not a crypt(3) hash" "$ERR"

# ---- TLS ----
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" \
	-out "$TMP/cert.pem" -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-days 1 >/dev/null 2>&1; then
	serve_start 8724 --netns "$ns" serve --listen 127.0.0.1:8724 \
		--tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"
	expect_in "TLS: announced as https" "https://127.0.0.1:8724/" "$(cat "$SERVE_OUT")"
	fetch https://127.0.0.1:8724/metrics --cacert "$TMP/cert.pem"
	expect_eq "TLS: a verified scrape" "$CODE" 200
	promtool_ok "TLS: promtool check metrics" "$OUT"
	fetch http://127.0.0.1:8724/metrics
	check "TLS: plain HTTP gets no metrics" test "$CODE" != 200
	serve_stop "$SERVE_PID"
	expect_rc "TLS: clean exit" 0
else
	tap_ok "TLS # SKIP openssl cannot make a certificate"
fi

# ---- Every namespace, in a mount namespace of our own so that the
# namespaces made here are all there is under /run/netns ----
# private_netns CLIENT: run inside `unshare --mount`, makes /run/netns
# empty but for the client namespace (as "client").
cat >"$TMP/private.sh" <<'EOS'
touch "$TMP/client.ns" && mount --bind "/run/netns/$1" "$TMP/client.ns" &&
	mount -t tmpfs tmpfs /run/netns && touch /run/netns/client &&
	mount --bind "$TMP/client.ns" /run/netns/client || exit 1
EOS
export TMP
cat >"$TMP/all.sh" <<'EOS'
set -u
. "$TMP/private.sh" "$1"
ip netns add 'edge"1' && ip netns add core
ip -n core link set lo up
ip netns exec core python3 -c 'import socket,time
l=socket.socket(); l.bind(("127.0.0.1",6000)); l.listen()
c=[socket.create_connection(("127.0.0.1",6000)) for _ in range(9)]
time.sleep(60)' &
EPHPORT=$2 OUT=$3
ip netns exec client "$EPHPORT" serve --all-netns --interval 1 --listen 127.0.0.1:8725 >"$OUT/all.log" 2>&1 &
pid=$!
for i in $(seq 100); do ip netns exec client curl -s -o /dev/null http://127.0.0.1:8725/healthz && break; sleep 0.05; done
# The sleeps below wait out the scan interval (1 s), which is what they test.
sleep 1
ip netns exec client curl -s http://127.0.0.1:8725/metrics >"$OUT/all.1"
ip netns del 'edge"1'
sleep 1.1
ip netns exec client curl -s http://127.0.0.1:8725/metrics >"$OUT/all.2"
# As an unprivileged user the exporter cannot enter the others.
ip netns exec client setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$EPHPORT" serve --all-netns --interval 1 --listen 127.0.0.1:8726 >"$OUT/nobody.log" 2>&1 &
npid=$!
for i in $(seq 100); do ip netns exec client curl -s -o /dev/null http://127.0.0.1:8726/healthz && break; sleep 0.05; done
ip netns exec client curl -s http://127.0.0.1:8726/metrics >"$OUT/nobody.1"
sleep 1.1
ip netns exec client curl -s http://127.0.0.1:8726/metrics >"$OUT/nobody.2"
kill -TERM $pid $npid; wait $pid; echo "rc=$?" >"$OUT/all.rc"
wait $npid; echo "rc=$?" >"$OUT/nobody.rc"
kill %1 2>/dev/null
ip netns del core
EOS
unshare --mount --propagation private bash "$TMP/all.sh" "$CLI_NS" "$EPHPORT" "$TMP" >"$TMP/all.out" 2>&1
m1=$(cat "$TMP/all.1" 2>/dev/null)
promtool_ok "--all-netns: promtool check metrics, a label with a quote" "$m1"
expect_eq "--all-netns: every series of a namespace labelled, quote escaped" \
	"$(metric "$m1" ephport_ephemeral_ports 'netns="edge\"1"')" 28232
expect_eq "--all-netns: the 9 connections in core" \
	"$(metric "$m1" ephport_destination_used_ports 'netns="core",proto="tcp",local="127.0.0.1",remote="127.0.0.1",remote_port="6000",state="established"')" 9
m2=$(cat "$TMP/all.2" 2>/dev/null)
expect_eq "a namespace deleted: its series are gone, no crash" \
	"$(grep -v '^ephport_scan_errors_total' <<<"$m2" | grep -c 'netns="edge\\"1"')" 0
expect_eq "and the others stay" "$(metric "$m2" ephport_ephemeral_ports 'netns="core"')" 28232
expect_eq "--all-netns: exit 0 on SIGTERM" "$(cat "$TMP/all.rc" 2>/dev/null)" rc=0
n1=$(cat "$TMP/nobody.1" 2>/dev/null)
n2=$(cat "$TMP/nobody.2" 2>/dev/null)
promtool_ok "unprivileged --all-netns: still promtool-clean" "$n2"
expect_eq "a namespace it cannot enter: an error metric, not a crash" \
	"$(metric "$n2" ephport_scan_success 'netns="core"')" 0
check "its error counter grows with each scan" \
	test "$(metric "$n2" ephport_scan_errors_total 'netns="core"')" -gt \
	"$(metric "$n1" ephport_scan_errors_total 'netns="core"')"
expect_eq "unprivileged: exit 0 on SIGTERM" "$(cat "$TMP/nobody.rc" 2>/dev/null)" rc=0

# ---- The forecast: 40 connections a second toward one destination ----
fns=$(ns_add forecast)
ns_sysctl "$fns" net.ipv4.ip_local_port_range "40000 40999"
serve_start 8727 --netns "$fns" serve --listen 127.0.0.1:8727 --interval 1
mkfifo "$TMP/gen.in"
ip netns exec "$fns" python3 "$E2E/paced.py" 127.0.0.1 7000 40 6 \
	<"$TMP/gen.in" >"$TMP/gen.out" &
OTHER_PIDS+=($!)
exec {gen_hold}>"$TMP/gen.in" # its standard input stays open: it holds
for i in $(seq 100); do
	grep -q READY "$TMP/gen.out" && break
	sleep 0.05
done
expect_eq "the generator listens" "$(head -1 "$TMP/gen.out")" READY
# Scrapes drive the scans: one a second while the generator runs.
for i in $(seq 6); do
	sleep 1
	in_cli curl -s -o /dev/null http://127.0.0.1:8727/metrics
done
fetch http://127.0.0.1:8727/api/v1/snapshot
f=$(jq -c '.tuples[] | select(.remote_port == 7000) | [.forecast.rate, .free, .forecast.seconds_left, .forecast.samples]' <<<"$OUT")
read -r rate free left samples < <(tr -d '[]' <<<"$f" | tr , ' ')
check "the forecast had at least 4 scans ($samples)" test "${samples:-0}" -ge 4
check "the rate is 40 a second within 20 % ($rate)" \
	awk -v r="$rate" 'BEGIN { exit !(r >= 32 && r <= 48) }'
check "the time left is free/40 within 20 % ($left s for $free free)" \
	awk -v l="$left" -v f="$free" 'BEGIN { t = f / 40; exit !(l >= 0.8 * t && l <= 1.2 * t) }'
fetch http://127.0.0.1:8727/metrics
check "the metric agrees: ephport_destination_exhaustion_seconds within 20 %" \
	awk -v l="$(metric "$OUT" ephport_destination_exhaustion_seconds 'remote_port="7000"')" \
	-v f="$(metric "$OUT" ephport_destination_free_ports 'remote_port="7000"')" \
	'BEGIN { t = f / 40; exit !(l >= 0.8 * t && l <= 1.2 * t) }'
for i in $(seq 100); do
	grep -q DONE "$TMP/gen.out" && break
	sleep 0.05
done
expect_in "the generator opened what it was asked" "DONE 240" "$(cat "$TMP/gen.out")"
exec {gen_hold}>&-

# ---- ephport metrics ----
run "$EPHPORT" --netns "$ns" metrics
expect_rc "metrics: exit 0" 0
promtool_ok "metrics: promtool check metrics" "$OUT"
expect_eq "metrics: one scan, no forecast" "$(grep -c 'exhaustion_seconds{' <<<"$OUT")" 0
expect_eq "metrics: the same destination" \
	"$(metric "$OUT" ephport_destination_used_ports "$dest,state=\"established\"")" 25
mkdir "$TMP/textfile"
run "$EPHPORT" --netns "$ns" metrics --textfile "$TMP/textfile" --json
expect_rc "metrics --textfile: exit 0" 0
check "--json says what was written" jq -e '.file == "ephport.prom" and .bytes > 1000' <<<"$OUT"
promtool_ok "the textfile: promtool check metrics" "$(cat "$TMP/textfile/ephport.prom")"
expect_eq "the textfile: nothing else left in the directory" "$(ls -A "$TMP/textfile")" ephport.prom
run "$EPHPORT" metrics --textfile "$TMP/no-such-dir"
expect_rc "metrics --textfile to a missing directory: exit 2" 2
run "$EPHPORT" --netns "$ns" metrics --json
check "metrics --json: the API's JSON" jq -e '.namespaces[0].usage.range.size == 1000' <<<"$OUT"

# Who holds the ports: by unit by default, every socket counted once.
run "$EPHPORT" --netns "$ns" metrics
expect_eq "consumers by unit: the destination's series sum to its 25" \
	"$(grep "^ephport_destination_consumer_ports{.*$dest,by=\"unit\"" <<<"$OUT" | awk '{ s += $2 } END { print s + 0 }')" 25
run "$EPHPORT" --netns "$ns" metrics --by user
promtool_ok "metrics --by user: promtool check metrics" "$OUT"
expect_eq "consumers by user: root holds the 25" \
	"$(metric "$OUT" ephport_destination_consumer_ports "$dest,by=\"user\",consumer=\"root\",kind=\"named\"")" 25
run "$EPHPORT" --netns "$ns" metrics --by none
expect_eq "--by none: no consumer series" "$(grep -c '^ephport_destination_consumer_ports' <<<"$OUT")" 0
run "$EPHPORT" --netns "$ns" metrics --by user --json
check "metrics --by user --json: each tuple's consumers" \
	jq -e '.by == "user" and (.tuples[] | select(.remote_port == 5000) | .consumers[0].user == "root" and .consumers[0].sockets == 25)' <<<"$OUT"
run "$EPHPORT" --netns "$ns" metrics --by pod
expect_rc "--by pod is refused" 2
expect_in "--by pod: says what is expected" "process or none" "$ERR"

# ---- usage --watch ----
timeout 2.5 "$EPHPORT" --netns "$ns" usage --watch 1 >"$TMP/watch" 2>&1
expect_eq "usage --watch runs until stopped" $? 124
w=$(cat "$TMP/watch")
check "it redraws every second" test "$(grep -c '^Ephemeral port usage' <<<"$w")" -ge 2
expect_in "with the rate and time columns" "PORTS/S EXHAUSTED IN" "$w"
expect_in "and the destination" "127.0.0.1:5000" "$w"
timeout 1.5 "$EPHPORT" --netns "$ns" usage --json --watch 1 >"$TMP/watchj" 2>&1
check "usage --watch --json: a JSON object per refresh" \
	jq -se 'length >= 2 and (.[-1].tuples[] | select(.remote_port == 5000) | .used == 25 and has("seconds_left"))' "$TMP/watchj"
run "$EPHPORT" usage --watch 0
expect_rc "usage --watch 0: exit 2" 2
run "$EPHPORT" usage --watch --check
expect_rc "usage --watch --check: refused (UNKNOWN, as --check says)" 3

# ---- The examples of --help run as shown ----
examples() {
	"$EPHPORT" "$@" --help | sed -n '/^Examples:/,/^$/p' | sed -n 's/^  \(ephport .*\)/\1/p'
}
mkdir -p "$TMP/ex" && cp "$TMP/cert.pem" "$TMP/key.pem" "$TMP/ex/" 2>/dev/null
printf 'alice:%s\n' "$(openssl passwd -6 pw)" >"$TMP/ex/users"
cat >"$TMP/ex.sh" <<'EOS'
set -u -f
. "$TMP/private.sh" "$2"
ip netns add web || exit 1
cd "$1" || exit 1
while read -r line; do
	# Each example in the client namespace: listening, or done.
	set -- ${line#ephport }
	ip netns exec client timeout 1.5 "$EPHPORT" "$@" >ex.out 2>&1
	rc=$?
	if [ $rc -eq 124 ] && grep -q listening ex.out; then rc=0; fi
	echo "$rc $line"
done
EOS
{ examples serve; examples metrics; examples usage | grep -- --watch; } | sed 's|/var/lib/prometheus/node-exporter|.|' >"$TMP/examples"
EPHPORT=$EPHPORT unshare --mount --propagation private bash "$TMP/ex.sh" "$TMP/ex" "$CLI_NS" <"$TMP/examples" >"$TMP/ex.results" 2>"$TMP/ex.err"
while read -r rc line; do
	if [ "$rc" = 0 ] || { [ "$rc" = 124 ] && [[ $line == *--watch* ]]; }; then
		tap_ok "example runs: $line"
	else
		tap_not_ok "example runs: $line" "exit $rc"
	fi
done <"$TMP/ex.results"
check "every example was tried" test "$(wc -l <"$TMP/ex.results")" -ge 8

finish
