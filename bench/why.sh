#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The side-by-side benchmark of 'ephport why PORT': on a namespace with
# 100,000 connections (loadgen, whose workers hold up to 20,000 descriptors
# each) plus 2,000 idle processes holding a few listeners each (idle), who
# holds a port? With --holder idle (the default) one idle process's
# listener; with --holder conn one loadgen connection's source port.
# Measured, taking turns: 'ephport why PORT --tcp', 'ss -tanp sport =
# :PORT' and 'lsof -nP -iTCP:PORT'. Each must name the same process.
#
#   bench/why.sh [--conns N] [--procs P] [--holder idle|conn] [--runs R]
#                [--builddir DIR]
#
# Root only (it makes a namespace). Prints a markdown table.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
conns=100000
procs=2000
runs=5
holder=idle
builddir=$root/build-bench

die() {
	echo "why.sh: $*" >&2
	exit 1
}
number() {
	[[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3 && $2 <= $4)) ||
		die "$1 must be a number from $3 to $4"
	echo "$2"
}
while [ $# -gt 0 ]; do
	case $1 in
	--conns) conns=$(number --conns "${2-}" 0 400000); shift ;;
	--procs) procs=$(number --procs "${2-}" 1 20000); shift ;;
	--runs) runs=$(number --runs "${2-}" 1 100); shift ;;
	--holder)
		holder=${2-}
		[ "$holder" = idle ] || [ "$holder" = conn ] || die "--holder is idle or conn"
		shift
		;;
	--builddir) builddir=${2-}; [ -n "$builddir" ] || die "--builddir needs a value"; shift ;;
	-h | --help) sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || die "needs root"
for tool in ip ss lsof meson; do
	command -v "$tool" >/dev/null || die "$tool is missing"
done

[ -f "$builddir/build.ninja" ] || meson setup "$builddir" "$root" >&2
meson compile -C "$builddir" bench/loadgen bench/idle bench/measure >&2
EPHPORT=${EPHPORT:-$root/build/ephport}
[ -x "$EPHPORT" ] || die "no ephport at $EPHPORT (build it, or set EPHPORT)"

tmp=$(mktemp -d /tmp/ephport-why.XXXXXX)
ns=ephport-why-$$
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

ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" sh -c 'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range'
if ((conns > 0)); then
	ip netns exec "$ns" "$builddir/bench/loadgen" --conns "$conns" \
		--dests $(((conns + 24999) / 25000)) --time-wait 0 \
		--ready-file "$tmp/lg" >"$tmp/lg.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 600); do [ -s "$tmp/lg" ] && break; sleep 0.2; done
	[ -s "$tmp/lg" ] || die "loadgen not ready: $(cat "$tmp/lg.log")"
fi
ip netns exec "$ns" "$builddir/bench/idle" --procs "$procs" --socks 3 \
	--ready-file "$tmp/idle" &
pids+=($!)
for _ in $(seq 600); do [ -s "$tmp/idle" ] && break; sleep 0.2; done
[ -s "$tmp/idle" ] || die "idle not ready"
port=$(cat "$tmp/idle")
if [ "$holder" = conn ]; then
	((conns > 0)) || die "--holder conn needs connections"
	# A client's source port (the clients connect to port 5000).
	port=$(ip netns exec "$ns" ss -Htn 'dport = :5000' | awk 'NR == 2000 { n = split($4, a, ":"); print a[n] }')
	[ -n "$port" ] || die "no loadgen connection found"
fi
sockets=$(ip netns exec "$ns" ss -Htan | wc -l)
nprocs=$(ip netns pids "$ns" | wc -l)
echo "why.sh: port $port; $sockets TCP sockets, $nprocs processes in the namespace" >&2

declare -A cmd name
cmd[ephport]="$EPHPORT why $port --tcp"
cmd[ss]="ss -tanp sport = :$port"
cmd[lsof]="lsof -nP -iTCP:$port"
name[ephport]="\`ephport why PORT --tcp\`"
name[ss]="\`ss -tanp 'sport = :PORT'\`"
name[lsof]="\`lsof -nP -iTCP:PORT\`"
cols=(ephport ss lsof)

# Every tool must name the same holder: the process's pid.
owner=$(ip netns exec "$ns" ss -Htanp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1)
for c in "${cols[@]}"; do
	# shellcheck disable=SC2086
	out=$(ip netns exec "$ns" ${cmd[$c]} 2>&1 || true)
	grep -q "${owner#pid=}" <<<"$out" || die "$c does not name ${owner}: $out"
done

declare -A med cpu rss
for c in "${cols[@]}"; do
	# 'why' exits 1 when the port is taken: measure each through sh, so
	# that a finding is not a failure (the same small cost for all).
	line=$(ip netns exec "$ns" "$builddir/bench/measure" -q -n "$runs" -w 1 \
		-- sh -c "${cmd[$c]} || true")
	read -r _ _ _ med[$c] _ _ _ cpu[$c] _ rss[$c] <<<"$line"
done

echo "### ephport why benchmark, $(date -u +%Y-%m-%d)"
echo
echo "$conns connections, $procs idle processes (3 listeners each); $sockets TCP sockets, $nprocs processes; the holder: $([ "$holder" = conn ] && echo "a loadgen connection's source port" || echo "an idle process's listener"); $runs runs each."
echo
echo "| command | median ms | CPU ms | peak RSS KiB | × ephport |"
echo "|---|---:|---:|---:|---:|"
for c in "${cols[@]}"; do
	printf '| %s | %s | %s | %s | %s |\n' "${name[$c]}" "${med[$c]}" \
		"${cpu[$c]}" "${rss[$c]}" \
		"$(awk -v a="${med[$c]}" -v b="${med[ephport]}" 'BEGIN { printf "%.1f", a / b }')"
done
