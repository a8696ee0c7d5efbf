#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The tracer's cost and the record's memory. Run as root from anywhere:
#
#   bench/trace.sh [--pairs N] [--runs R]        the cost: N connect/close
#                                                pairs without and with the
#                                                tracer, R rounds
#   bench/trace.sh --memory [--rate R] [--seconds S] [--entries E]
#                                                the record's memory at R new
#                                                connections a second
#
# bench/README.md says what each does; bench/RESULTS.md has the figures.
# Markdown on standard output, progress on standard error. Every namespace
# and process it makes is removed on any exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pairs=100000
runs=5
memory=0
rate=1000
seconds=300
entries=
builddir=$root/build-bench

die() {
	echo "trace.sh: $*" >&2
	exit 1
}

note() {
	echo "trace.sh: $*" >&2
}

number() {
	local name=$1 value=$2 min=$3 max=$4
	if ! [[ $value =~ ^[0-9]{1,9}$ ]] || ((10#$value < min || 10#$value > max)); then
		echo "trace.sh: $name: '$value' is not a number from $min to $max" >&2
		exit 2
	fi
	echo $((10#$value))
}

while (($#)); do
	case $1 in
	--pairs) pairs=$(number --pairs "${2-}" 1 10000000); shift ;;
	--runs) runs=$(number --runs "${2-}" 1 100); shift ;;
	--memory) memory=1 ;;
	--rate) rate=$(number --rate "${2-}" 1 100000); shift ;;
	--seconds) seconds=$(number --seconds "${2-}" 1 86400); shift ;;
	--entries) entries=$(number --entries "${2-}" 1 1048576); shift ;;
	--builddir) builddir=${2-}; shift ;;
	-h | --help)
		sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done

[ "$(id -u)" -eq 0 ] || die "run me as root: I create network namespaces and load BPF"
if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" "$root" >&2
fi
meson compile -C "$builddir" bench/connloop >&2
CONNLOOP=$builddir/bench/connloop
EPHPORT=${EPHPORT:-$root/build/ephport}
"$EPHPORT" trace --help >/dev/null 2>&1 || die "$EPHPORT has no trace command (built without bpf?)"

tmp=$(mktemp -d /tmp/ephport-trace-bench.XXXXXX)
export EPHPORT_RECORD=$tmp/history
ns=
tracer=

teardown() {
	if [ -n "$tracer" ]; then
		kill -INT "$tracer" 2>/dev/null || true
		wait "$tracer" 2>/dev/null || true
		tracer=
	fi
	if [ -n "$ns" ]; then
		ip netns del "$ns" 2>/dev/null || true
		ns=
	fi
}
trap 'teardown; rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A fresh namespace: the TIME_WAITs of the last run go with the old one.
fresh_ns() {
	teardown
	ns=ephport-trace-bench-$$-$RANDOM
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sh -c 'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range'
}

# tracer_start ARGS...: ephport trace in the background; returns once it
# traces.
tracer_start() {
	"$EPHPORT" --netns "$ns" trace --json "$@" >"$tmp/trace.out" 2>"$tmp/trace.err" &
	tracer=$!
	for _ in $(seq 200); do
		grep -q '"tracing"' "$tmp/trace.out" 2>/dev/null && return 0
		kill -0 "$tracer" 2>/dev/null || die "trace failed: $(cat "$tmp/trace.err")"
		sleep 0.05
	done
	die "trace did not start"
}

tracer_stop() {
	kill -INT "$tracer"
	wait "$tracer" || true
	tracer=
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]
		      else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

calc() {
	awk "BEGIN { printf \"%.${2:-2}f\", $1 }"
}

# ---- The cost ----
if ((!memory)); then
	modes=(none trace failures record)
	declare -A us lost
	for m in "${modes[@]}"; do us[$m]=""; lost[$m]=0; done
	note "$pairs pairs, $runs rounds of: ${modes[*]} (a warm-up first)"
	for r in $(seq 0 "$runs"); do
		# Each round takes the modes in another order, so that a slow
		# moment of the shared machine does not always hit the same one.
		order=("${modes[@]:r%4}" "${modes[@]:0:r%4}")
		for m in "${order[@]}"; do
			fresh_ns
			case $m in
			trace) tracer_start ;;
			failures) tracer_start --failures ;;
			record) tracer_start --record ;;
			esac
			t=$(ip netns exec "$ns" "$CONNLOOP" --pairs "$pairs" --dests 16 | sed -n 's/^us=//p')
			if [ "$m" != none ]; then
				tracer_stop
				l=$(tail -n 1 "$tmp/trace.out" | jq -r 'select(.summary) | .summary.lost')
				lost[$m]=$((${lost[$m]} + ${l:-0}))
			fi
			((r == 0)) || us[$m]="${us[$m]} $t"
			note "round $r $m: $t us"
		done
	done
	# shellcheck disable=SC2086
	base=$(median ${us[none]})
	echo "| mode | what runs | median ms | µs per pair | vs none | events lost |"
	echo "|---|---|---:|---:|---:|---:|"
	for m in "${modes[@]}"; do
		# shellcheck disable=SC2086
		med=$(median ${us[$m]})
		case $m in
		none) what="no tracer" ;;
		trace) what="\`ephport trace --json\` (every event, printed to a file)" ;;
		failures) what="\`ephport trace --failures\` (filtered in the kernel)" ;;
		record) what="\`ephport trace --record\` (every event, record kept)" ;;
		esac
		echo "| $m | $what | $(calc "$med / 1000" 1) | $(calc "$med / $pairs" 2) | $(calc "($med / $base - 1) * 100" 1) % | ${lost[$m]} |"
	done
	echo
	echo "- $pairs connect/close pairs per run, 16 loopback destinations, client closes first; median of $runs runs after a warm-up; runs: ${us[none]} (none) /${us[trace]} (trace) /${us[failures]} (failures) /${us[record]} (record) µs"
	exit 0
fi

# ---- The record's memory ----
fresh_ns
tracer_start --record ${entries:+--record-entries "$entries"}
note "recorder pid $tracer; $rate connections a second for $seconds s"
ip netns exec "$ns" "$CONNLOOP" --pairs $((rate * seconds)) --rate "$rate" --dests 4 >"$tmp/loop.out" &
loop=$!
echo "| time s | recorder RSS KiB | peak RSS KiB | record file bytes | entries | bound bytes |"
echo "|---:|---:|---:|---:|---:|---:|"
bound=$((128 + ${entries:-65536} * 96))
t0=$SECONDS
while kill -0 "$loop" 2>/dev/null; do
	sleep 10
	kill -0 "$tracer" 2>/dev/null || die "the recorder died: $(cat "$tmp/trace.err")"
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$tracer/status")
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$tracer/status")
	size=$(stat -c %s "$EPHPORT_RECORD")
	echo "| $((SECONDS - t0)) | $rss | $hwm | $size | $(((size - 128) / 96)) | $bound |"
done
wait "$loop"
tracer_stop
echo
echo "- $rate connections a second for $seconds s ($(sed -n 's/^us=//p' "$tmp/loop.out") µs of loop), lost events: $(tail -n 1 "$tmp/trace.out" | jq -r 'select(.summary) | .summary.lost')"
