#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark of `ephport serve`, side by side with `ephport usage` on
# the same sockets: a scrape that scans, against one `ephport usage --json`
# (a process: fork, scan, render, exit); a scrape served from the last
# scan (over one kept-alive connection, and over new connections); and the
# CPU of an idle exporter between scans. Run as root (it makes a network
# namespace; the exporter listens and curl runs inside it):
#
#   bench/serve.sh [--conns N] [--runs R] [--idle S] [--builddir DIR]
#
# Prints a markdown table on standard output, progress on standard error.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
conns=100000
runs=5
idle=10
builddir=$root/build-bench
port=8720
interval=2

die() {
	echo "serve.sh: $*" >&2
	exit 1
}
note() {
	echo "serve.sh: $*" >&2
}
number() {
	[[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3 && $2 <= $4)) ||
		die "$1 must be a number from $3 to $4"
	echo "$2"
}
while [ $# -gt 0 ]; do
	case $1 in
	--conns) conns=$(number --conns "${2-}" 1 400000); shift ;;
	--runs) runs=$(number --runs "${2-}" 1 100); shift ;;
	--idle) idle=$(number --idle "${2-}" 1 600); shift ;;
	--builddir) builddir=${2-}; [ -n "$builddir" ] || die "--builddir needs a value"; shift ;;
	-h | --help) sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || die "needs root"
for tool in ip curl awk meson; do
	command -v "$tool" >/dev/null || die "$tool is missing"
done
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" "$root" >&2
meson compile -C "$builddir" bench/loadgen bench/measure >&2
LOADGEN=$builddir/bench/loadgen
MEASURE=$builddir/bench/measure
EPHPORT=${EPHPORT:-$root/build/ephport}
"$EPHPORT" serve --help >/dev/null 2>&1 ||
	die "$EPHPORT has no serve command (built without libmicrohttpd?)"

tmp=$(mktemp -d /tmp/ephport-serve-bench.XXXXXX)
ns=ephport-serve-bench-$$
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if ip netns list | grep -qw "$ns"; then
		p=$(ip netns pids "$ns" 2>/dev/null || true)
		# shellcheck disable=SC2086
		[ -z "$p" ] || kill -KILL $p 2>/dev/null || true
		ip netns del "$ns"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsx() {
	ip netns exec "$ns" "$@"
}
calc() {
	awk "BEGIN { printf \"%.${2:-3}f\", $1 }"
}
# pct P VALUES...: the P-th percentile (nearest rank).
pct() {
	local p=$1
	shift
	printf '%s\n' "$@" | sort -g | awk -v p="$p" '{ v[NR] = $1 }
		END { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; print v[i] }'
}

ip netns add "$ns"
nsx ip link set lo up
nsx sh -c 'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range'
# With the range that wide, the exporter's port is in it: reserved, as
# `ephport reserve` would, or a connection may take it first.
nsx sh -c "echo $port > /proc/sys/net/ipv4/ip_local_reserved_ports"
dests=$(((conns + 24999) / 25000))
note "loadgen: $conns connections to $dests destinations"
nsx "$LOADGEN" --conns "$conns" --dests "$dests" --time-wait 0 \
	--ready-file "$tmp/ready" >"$tmp/loadgen.log" 2>&1 &
pids+=($!)
for _ in $(seq 3000); do [ -s "$tmp/ready" ] && break; sleep 0.2; done
[ -s "$tmp/ready" ] || die "loadgen not ready: $(cat "$tmp/loadgen.log")"

# Not through nsx: $! must be the exporter's own pid (ip execs it).
ip netns exec "$ns" "$EPHPORT" serve --listen "127.0.0.1:$port" \
	--interval "$interval" >"$tmp/serve.log" 2>&1 &
srv=$!
pids+=("$srv")
url=http://127.0.0.1:$port/metrics
for _ in $(seq 600); do nsx curl -s -o /dev/null "$url" && break; sleep 0.1; done
nsx curl -sf -o /dev/null "$url" || die "serve does not answer: $(cat "$tmp/serve.log")"

hz=$(getconf CLK_TCK)
# The exporter's CPU, all its threads (those that ended included), in ms.
cpu_ms() {
	awk -v hz="$hz" '{ printf "%.0f", ($14 + $15) * 1000 / hz }' "/proc/$srv/stat"
}
# Context switches of all its threads.
switches() {
	cat /proc/"$srv"/task/*/status | awk '/ctxt_switches/ { s += $2 } END { print s }'
}
# value TEXT NAME: a sample's value.
value() {
	awk -v n="$2" '$1 == n { print $2 }' <<<"$1"
}

u_wall=() u_cpu=() s_wall=() s_cpu=() s_scan=() k_alive=() k_new=()
for ((r = 0; r <= runs; r++)); do
	note "round $r of $runs"
	# ephport usage --json, as a process.
	line=$(nsx "$MEASURE" -q -n 1 -o "$tmp/usage.json" -- "$EPHPORT" usage --json)
	read -r _ _ _ wall _ _ _ cpu _ rss <<<"$line"
	# A scrape that scans: the last scan is older than the interval.
	sleep "$interval.2"
	before=$(nsx curl -s "$url" | awk '$1 == "ephport_scans_total" { print $2 }')
	sleep "$interval.2"
	c0=$(cpu_ms)
	t=$(nsx curl -s -o "$tmp/metrics" -w '%{time_total}' "$url")
	c1=$(cpu_ms)
	m=$(cat "$tmp/metrics")
	note "  usage ${wall} ms (CPU $cpu); scrape $(calc "$t * 1000" 1) ms (CPU $((c1 - c0)), of which the scan $(calc "$(value "$m" ephport_scan_duration_seconds) * 1000" 1) ms)"
	[ "$(value "$m" ephport_scans_total)" = $((before + 1)) ] ||
		note "WARNING: the scrape did not scan"
	est=$(awk '/^ephport_destination_used_ports/ && /state="established"/ { s += $2 } END { print s }' <<<"$m")
	[ "$est" -ge "$conns" ] || note "WARNING: the scrape saw $est established, expected $conns"
	# Served from that scan: 200 over one kept-alive connection, then
	# 20 each on a new connection (times from curl, in seconds).
	mapfile -t alive < <(nsx curl -s -w '%{time_total}\n' \
		$(for _ in $(seq 200); do echo "-o /dev/null $url"; done))
	new=()
	for _ in $(seq 20); do
		new+=("$(nsx curl -s -o /dev/null -w '%{time_total}' "$url")")
	done
	((r == 0)) && continue
	u_wall+=("$wall") u_cpu+=("$cpu")
	s_wall+=("$(calc "$t * 1000")") s_cpu+=("$((c1 - c0))")
	s_scan+=("$(calc "$(value "$m" ephport_scan_duration_seconds) * 1000")")
	k_alive+=("${alive[@]:1}") k_new+=("${new[@]}")
	usage_rss=$rss
done
bytes=$(wc -c <"$tmp/metrics")

# Idle: no request for $idle seconds.
sleep 1
c0=$(cpu_ms)
w0=$(switches)
sleep "$idle"
c1=$(cpu_ms)
w1=$(switches)
threads=$(ls "/proc/$srv/task" | wc -l)
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$srv/status")

uw=$(pct 50 "${u_wall[@]}")
uc=$(pct 50 "${u_cpu[@]}")
sw=$(pct 50 "${s_wall[@]}")
sc=$(pct 50 "${s_cpu[@]}")
echo "| measurement ($conns connections, $runs runs) | median ms | min ms | CPU ms | × usage |"
echo "|---|---:|---:|---:|---:|"
echo "| \`ephport usage --json\` (a process: one scan) | $(calc "$uw" 1) | $(calc "$(pct 0 "${u_wall[@]}")" 1) | $(calc "$uc" 0) | 1.00 |"
echo "| scrape that scans (\`/metrics\`, last scan older than the interval) | $(calc "$sw" 1) | $(calc "$(pct 0 "${s_wall[@]}")" 1) | $sc | $(calc "$sw / $uw" 2) |"
echo "| scrape from the last scan, kept-alive connection (×$((200 * runs - runs))) | $(calc "$(pct 50 "${k_alive[@]}") * 1000" 3) | $(calc "$(pct 0 "${k_alive[@]}") * 1000" 3) | | $(calc "$(pct 50 "${k_alive[@]}") * 1000 / $uw" 4) |"
echo "| scrape from the last scan, new connection (×$((20 * runs))) | $(calc "$(pct 50 "${k_new[@]}") * 1000" 3) | $(calc "$(pct 0 "${k_new[@]}") * 1000" 3) | | $(calc "$(pct 50 "${k_new[@]}") * 1000 / $uw" 4) |"
echo
echo "- of the scrape that scans, the scan itself (ephport_scan_duration_seconds): median $(calc "$(pct 50 "${s_scan[@]}")" 1) ms; the rest is rendering and HTTP"
echo "- cached scrape, 99th percentile: kept-alive $(calc "$(pct 99 "${k_alive[@]}") * 1000" 3) ms, new connection $(calc "$(pct 99 "${k_new[@]}") * 1000" 3) ms; the exposition is $bytes bytes"
echo "- idle exporter, $idle s without a request: $((c1 - c0)) ms of CPU, $((w1 - w0)) context switches, $threads threads"
echo "- peak RSS: exporter $hwm KiB (its whole life), \`ephport usage\` $usage_rss KiB"
echo "- CPU ms: for usage, of the process (measure, wait4); for the scrape, of the exporter during it (/proc/PID/stat, ${hz} Hz ticks)"
