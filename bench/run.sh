#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The side-by-side benchmark of 'ephport usage': the floor (a bare sock_diag
# dump), 'ephport usage --json' and the classic 'ss -tan | awk', run in turn
# against the same sockets in a network namespace made for the purpose.
# bench/README.md explains the columns. Run it as root from anywhere:
#
#   bench/run.sh [--conns N] [--dests K] [--time-wait M] [--runs R] [--scale]
#                [--by KIND[,KIND...]] [--ss-p]
#
# It prints a Markdown table on standard output and its progress on standard
# error. The namespace and the load generator are removed on every exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
conns=100000
dests=
time_wait=10000
runs=5
scale=0
by=
ssp=0
builddir=$root/build-bench
# TIME_WAIT lasts 60 s. A measurement that would end later than this many
# seconds after the set was made waits for a fresh set instead.
tw_window=55

usage() {
	cat <<'EOF'
usage: bench/run.sh [options]
  --conns N       established connections (2N sockets; default 100000)
  --dests K       destinations 127.0.0.1.. port 5000 (default: 4, or more
                  so that each gets at most 30000 connections)
  --time-wait M   client sockets in TIME_WAIT (default 10000)
  --runs R        measured repetitions of each command (default 5), after
                  one warm-up round
  --scale         run at 100000 and at 250000 connections (ignores --conns)
  --by KINDS      also 'ephport usage --by KIND --json' for each KIND of the
                  comma-separated list (unit, container, cgroup, user,
                  process), the same runs
  --ss-p          also 'ss -tanp' (who holds each socket, the classic way):
                  measured once per size, after the other rounds (it takes
                  minutes at 250000 connections)
  --builddir DIR  meson build directory for the helpers (default build-bench)
Environment: EPHPORT, the ephport binary (default build/ephport).
EOF
}

die() {
	echo "run.sh: $*" >&2
	exit 1
}

note() {
	echo "run.sh: $*" >&2
}

# A whole number within bounds, or a usage error.
number() {
	local name=$1 value=$2 min=$3 max=$4
	if ! [[ $value =~ ^[0-9]{1,9}$ ]] || ((10#$value < min || 10#$value > max)); then
		echo "run.sh: $name: '$value' is not a number from $min to $max" >&2
		exit 2
	fi
	echo $((10#$value))
}

while (($#)); do
	case $1 in
	--conns) conns=$(number --conns "${2-}" 1 400000); shift ;;
	--dests) dests=$(number --dests "${2-}" 1 1024); shift ;;
	--time-wait) time_wait=$(number --time-wait "${2-}" 0 100000); shift ;;
	--runs) runs=$(number --runs "${2-}" 1 100); shift ;;
	--scale) scale=1 ;;
	--by)
		by=${2-}
		[[ $by =~ ^(unit|container|cgroup|user|process)(,(unit|container|cgroup|user|process))*$ ]] ||
			{ echo "run.sh: --by: a comma-separated list of unit, container, cgroup, user, process" >&2; exit 2; }
		shift ;;
	--ss-p) ssp=1 ;;
	--builddir) builddir=${2-}; [ -n "$builddir" ] || { usage >&2; exit 2; }; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

[ "$(id -u)" -eq 0 ] || die "run me as root: I create a network namespace"
for tool in ip ss awk sort meson; do
	command -v "$tool" >/dev/null || die "$tool is missing"
done
((BASH_VERSINFO[0] >= 5)) || die "bash 5 is needed (EPOCHREALTIME)"

# The helpers: loadgen, floor and measure (no GNU time needed).
if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" "$root" >&2
fi
meson compile -C "$builddir" bench/loadgen bench/floor bench/measure >&2
LOADGEN=$builddir/bench/loadgen
FLOOR=$builddir/bench/floor
MEASURE=$builddir/bench/measure

EPHPORT=${EPHPORT:-$root/build/ephport}
have_ephport=0
if [ -x "$EPHPORT" ] && "$EPHPORT" usage --help >/dev/null 2>&1; then
	have_ephport=1
else
	note "NOTE: '$EPHPORT usage' does not exist yet (or EPHPORT is wrong):" \
		"the ephport column is skipped"
fi

# The classic way: ss lists every TCP socket as text and awk groups the
# outgoing ones by (local IP, peer IP, peer port). Outgoing means a local
# port inside ip_local_port_range that is no listener's port (the accepted
# ends share their listener's port). ss prints listeners first, so each
# listening port is known before the connections that use it.
# shellcheck disable=SC2016
awk_prog='
BEGIN {
	getline r < "/proc/sys/net/ipv4/ip_local_port_range"
	split(r, a)
	lo = a[1] + 0
	hi = a[2] + 0
}
NR == 1 { next }
{
	lport = $4; sub(/.*:/, "", lport)
	if ($1 == "LISTEN") { listening[lport] = 1; next }
	lport += 0
	if (lport < lo || lport > hi || (lport in listening)) next
	laddr = substr($4, 1, length($4) - length(lport) - 1)
	pport = $5; sub(/.*:/, "", pport)
	paddr = substr($5, 1, length($5) - length(pport) - 1)
	n[laddr " " paddr " " pport]++
}
END { for (t in n) print n[t], t }'

tmp=$(mktemp -d /tmp/ephport-bench.XXXXXX)
ns=
lg_pid=

# Stops the load generator and deletes the namespace, if there are any.
teardown() {
	local pids
	if [ -n "$lg_pid" ]; then
		kill -TERM "$lg_pid" 2>/dev/null || true
		wait "$lg_pid" 2>/dev/null || true
		lg_pid=
	fi
	if [ -n "$ns" ]; then
		# Whatever still runs in it was started by this script.
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
		fi
		ip netns del "$ns" 2>/dev/null || true
		ns=
	fi
}

cleanup() {
	teardown
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

nsx() {
	ip netns exec "$ns" "$@"
}

# Floating-point arithmetic for the shell.
calc() {
	awk "BEGIN { printf \"%.${2:-3}f\", $1 }"
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]
		      else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

max() {
	printf '%s\n' "$@" | sort -g | tail -n 1
}

field() { # field FILE KEY: the value after KEY= in the ready file
	sed -n "s/^$2=//p" "$1"
}

# Waits until loadgen has written generation $1 of the ready file.
wait_ready() {
	local gen=$1 limit=$2 start=$SECONDS status
	while :; do
		if [ -f "$ready" ] && [ "$(field "$ready" gen)" = "$gen" ]; then
			tw_done=$(field "$ready" tw_done)
			return 0
		fi
		if ! kill -0 "$lg_pid" 2>/dev/null; then
			status=0
			wait "$lg_pid" || status=$?
			lg_pid=
			die "loadgen exited (status $status) before it was ready"
		fi
		((SECONDS - start < limit)) ||
			die "loadgen not ready after $limit s"
		sleep 0.1
	done
}

# Makes sure a command expected to take $1 ms ends inside the TIME_WAIT
# window; if not, waits for loadgen to replace the set (up to 61 s).
ensure_window() {
	local est_ms=$1 age
	age=$(calc "$EPOCHREALTIME - $tw_done")
	if awk "BEGIN { exit !($age + $est_ms / 1000 + 1 > $tw_window) }"; then
		note "TIME_WAIT set is ${age%.*} s old: waiting for a fresh one"
		gen=$((gen + 1))
		kill -USR1 "$lg_pid"
		wait_ready "$gen" 180
		refreshes=$((refreshes + 1))
	fi
}

tw_count() {
	nsx ss -Htan state time-wait | wc -l
}

est_count() {
	nsx ss -Htan state established | wc -l
}

# One line of the final table per command and size.
rows=()
ratios=()
scaling=()

# run_size N K M: builds the load, measures every column, tears it down.
run_size() {
	local n=$1 k=$2 m=$3 cols col r t0 setup est tw_before tw_after
	local sockets groups counted line wall cpu rss
	local -A est_ms walls cpus rsss med cmdname
	ns=ephport-bench-$$-$n
	ready=$tmp/ready-$n
	gen=1
	refreshes=0

	note "size: $n connections to $k destinations, $m TIME_WAIT"
	ip netns add "$ns"
	nsx ip link set lo up
	# Inside the namespace only: 64,512 ports toward each destination.
	nsx sh -c 'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range'

	t0=$EPOCHREALTIME
	ip netns exec "$ns" "$LOADGEN" --conns "$n" --dests "$k" \
		--time-wait "$m" --ready-file "$ready" &
	lg_pid=$!
	wait_ready 1 600
	setup=$(calc "$EPOCHREALTIME - $t0" 1)
	est=$(est_count)
	tw_before=$(tw_count)
	note "ready in $setup s: $est ESTABLISHED, $tw_before TIME-WAIT (ss)"
	[ "$est" -eq $((2 * n)) ] ||
		note "WARNING: expected $((2 * n)) ESTABLISHED sockets"
	[ "$tw_before" -eq "$m" ] ||
		note "WARNING: expected $m TIME-WAIT sockets"

	cols=(floor)
	((have_ephport)) && cols+=(ephport)
	cols+=(ssawk)
	# Markdown code spans; the pipe is escaped for the table.
	# shellcheck disable=SC2016
	cmdname=([floor]='floor' [ephport]='`ephport usage --json`'
		[ssawk]='`ss -tan \| awk`' [sstanp]='`ss -tanp` (1 run)')
	if ((have_ephport)) && [ -n "$by" ]; then
		for kind in ${by//,/ }; do
			cols+=("by_$kind")
			cmdname[by_$kind]="\`ephport usage --by $kind --json\`"
		done
	fi

	# Round 0 warms the caches up and gives each command's expected time;
	# the commands take turns so that all see the same machine state.
	for ((r = 0; r <= runs; r++)); do
		for col in "${cols[@]}"; do
			ensure_window "${est_ms[$col]:-1000}"
			# shellcheck disable=SC2016
			case $col in
			floor) set -- "$FLOOR" ;;
			ephport) set -- "$EPHPORT" usage --json ;;
			by_*) set -- "$EPHPORT" usage --by "${col#by_}" --json ;;
			ssawk) set -- sh -c 'ss -tan | awk "$1" | sort -rn' sh \
				"$awk_prog" ;;
			esac
			line=$(nsx "$MEASURE" -q -n 1 -o "$tmp/out-$col" -- "$@") ||
				die "$col failed (see above)"
			read -r _ _ _ wall _ _ _ cpu _ rss <<<"$line"
			if ((r == 0)); then
				est_ms[$col]=$wall
				continue
			fi
			walls[$col]+="$wall "
			cpus[$col]+="$cpu "
			rsss[$col]+="$rss "
		done
	done
	tw_after=$(tw_count)
	[ "$tw_after" -eq "$m" ] ||
		note "WARNING: $tw_after TIME-WAIT at the end, expected $m"
	# ss -tanp once, last: at this size it outlasts the TIME_WAIT window,
	# which changes little for it (the TIME_WAITs have no process).
	if ((ssp)); then
		note "ss -tanp (once; this may take minutes)"
		line=$(nsx "$MEASURE" -q -n 1 -o "$tmp/out-sstanp" -- ss -tanp) ||
			die "ss -tanp failed"
		read -r _ _ _ wall _ _ _ cpu _ rss <<<"$line"
		cols+=(sstanp)
		walls[sstanp]=$wall
		cpus[sstanp]=$cpu
		rsss[sstanp]=$rss
	fi

	sockets=$(awk '{ print $2 }' "$tmp/out-floor")
	groups=$(wc -l <"$tmp/out-ssawk")
	counted=$(awk '{ s += $1 } END { print s + 0 }' "$tmp/out-ssawk")
	note "floor saw $sockets sockets; ss|awk counted $counted outgoing" \
		"sockets in $groups groups (expected $((n + m)) in $k)"
	[ "$counted" -eq $((n + m)) ] ||
		note "WARNING: ss|awk counted $counted, expected $((n + m))"

	for col in "${cols[@]}"; do
		# shellcheck disable=SC2086
		med[$col]=$(median ${walls[$col]})
	done
	for col in "${cols[@]}"; do
		# shellcheck disable=SC2086
		wall=${med[$col]}
		# shellcheck disable=SC2086
		cpu=$(median ${cpus[$col]})
		# shellcheck disable=SC2086
		rss=$(max ${rsss[$col]})
		# shellcheck disable=SC2086
		rows+=("| $n | $m | $k | $sockets | ${cmdname[$col]} | $(calc "$wall" 1) | $(calc "$(printf '%s\n' ${walls[$col]} | sort -g | head -n 1)" 1) | $(calc "$cpu" 1) | $rss | $(calc "$wall * 1000000 / $sockets" 0) | $(calc "$wall / ${med[floor]}" 2) |")
		scaling+=("$col $n $sockets $wall")
	done
	if ((have_ephport)); then
		ratios+=("- $n connections: ephport/floor = $(calc "${med[ephport]} / ${med[floor]}" 2), ss-awk/ephport = $(calc "${med[ssawk]} / ${med[ephport]}" 2)")
		for col in "${cols[@]}"; do
			case $col in
			by_*) ratios+=("- $n connections: \`--by ${col#by_}\`/usage = $(calc "${med[$col]} / ${med[ephport]}" 2)${med[sstanp]:+, ss -tanp/--by ${col#by_} = $(calc "${med[sstanp]:-0} / ${med[$col]}" 1)}") ;;
			esac
		done
	else
		ratios+=("- $n connections: ephport/floor = n/a, ss-awk/floor = $(calc "${med[ssawk]} / ${med[floor]}" 2) (ephport usage not built yet)")
	fi
	((refreshes == 0)) ||
		ratios+=("  (the TIME_WAIT set was remade $refreshes times during the runs)")
	note "setup ${setup} s; tearing the namespace down"
	teardown
}

# TCP sockets allocated in the whole kernel (sockstat's count is global):
# a deleted namespace frees its sockets in the background, and the next
# size should not be measured while that is still going on.
tcp_alloc() {
	awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "alloc") print $(i + 1) }' /proc/net/sockstat
}

wait_freed() {
	local start=$SECONDS
	while (($(tcp_alloc) > alloc_base + 1000 && SECONDS - start < 60)); do
		sleep 0.5
	done
}

default_dests() { # at most 30000 connections per destination, at least 4
	local d=$((($1 + $2 + 29999) / 30000))
	((d < 4)) && d=4
	echo $d
}

if ((scale)); then
	sizes=(100000 250000)
else
	sizes=("$conns")
fi
alloc_base=$(tcp_alloc)
for n in "${sizes[@]}"; do
	wait_freed
	run_size "$n" "${dests:-$(default_dests "$n" "$time_wait")}" "$time_wait"
done

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "### ephport usage benchmark, $(date -u +%Y-%m-%d)"
echo
echo "Linux $(uname -r), ${cpu_model:-unknown CPU}, $(nproc) CPUs;" \
	"median of $runs runs after one warm-up round, commands taking turns."
echo
echo "| connections | TIME_WAIT | dests | sockets | command | median ms | min ms | CPU ms | peak RSS KiB | ns/socket | × floor |"
echo "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
printf '%s\n' "${ratios[@]}"
if ((${#sizes[@]} > 1)); then
	echo
	echo "Scaling from ${sizes[0]} to ${sizes[1]} connections (ns per" \
		"socket at the larger size / at the smaller; 1.00 is linear):"
	for col in floor ephport ssawk ${by:+$(printf 'by_%s ' ${by//,/ })} sstanp; do
		a=$(printf '%s\n' "${scaling[@]}" | awk -v c="$col" -v s="${sizes[0]}" '$1 == c && $2 == s { print $4 / $3 }')
		b=$(printf '%s\n' "${scaling[@]}" | awk -v c="$col" -v s="${sizes[1]}" '$1 == c && $2 == s { print $4 / $3 }')
		if [ -z "$a" ] || [ -z "$b" ]; then
			continue
		fi
		echo "- $col: $(calc "$b / $a" 2)"
	done
fi
