#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ephport ranges` against real namespaces with their own sysctls.
. "$(dirname "$0")/lib.sh"
require_root

host_before=$(cat /proc/sys/net/ipv4/ip_local_port_range /proc/sys/net/ipv4/ip_local_reserved_ports /proc/sys/net/ipv4/tcp_tw_reuse)

# A namespace starts with the kernel's compiled-in defaults.
fresh=$(ns_add fresh)
run "$EPHPORT" --netns "$fresh" ranges --json
expect_rc "ranges --json in a fresh namespace succeeds" 0
expect_eq "a fresh namespace reports the compiled-in range" \
	"$(jq -r '"\(.range.low)-\(.range.high) \(.range.size)"' <<<"$OUT")" \
	"$(ip netns exec "$fresh" cat /proc/sys/net/ipv4/ip_local_port_range | awk '{print $1 "-" $2 " " $2-$1+1}')"

# A namespace with its own small range, reservations and knobs.
ns=$(ns_add tuned)
ns_sysctl "$ns" net.ipv4.ip_local_port_range "40000 40019"
ns_sysctl "$ns" net.ipv4.ip_local_reserved_ports "40005,40010-40011,8080"
ns_sysctl "$ns" net.ipv4.ip_unprivileged_port_start 1000
ns_sysctl "$ns" net.ipv4.tcp_tw_reuse 0
ns_sysctl "$ns" net.ipv4.tcp_fin_timeout 17
ns_sysctl "$ns" net.ipv4.tcp_max_tw_buckets 4096

run "$EPHPORT" --netns "$ns" ranges --json
expect_rc "ranges --json in a tuned namespace succeeds" 0
j=$OUT
check "output is one valid JSON object" jq -e 'type == "object"' <<<"$j"
expect_eq "range is the namespace's own" \
	"$(jq -c '.range' <<<"$j")" '{"low":40000,"high":40019,"size":20}'
expect_eq "reserved ports in canonical form" \
	"$(jq -r '.reserved.ports' <<<"$j")" "8080,40005,40010-40011"
expect_eq "reserved counts (all, in range)" \
	"$(jq -r '"\(.reserved.count) \(.reserved.in_range)"' <<<"$j")" "4 3"
expect_eq "available = range - reserved in range" "$(jq .available <<<"$j")" 17
expect_eq "unprivileged_port_start" "$(jq .unprivileged_port_start <<<"$j")" 1000
expect_eq "tcp_tw_reuse" "$(jq .tcp_tw_reuse <<<"$j")" 0
expect_eq "tcp_fin_timeout" "$(jq .tcp_fin_timeout <<<"$j")" 17
expect_eq "tcp_max_tw_buckets" "$(jq .tcp_max_tw_buckets <<<"$j")" 4096
if [ -e /proc/sys/net/ipv4/tcp_tw_reuse_delay ]; then
	expect_eq "tcp_tw_reuse_delay where the kernel has it" \
		"$(jq .tcp_tw_reuse_delay <<<"$j")" \
		"$(ip netns exec "$ns" cat /proc/sys/net/ipv4/tcp_tw_reuse_delay)"
else
	expect_eq "tcp_tw_reuse_delay is null where the kernel lacks it" \
		"$(jq .tcp_tw_reuse_delay <<<"$j")" null
fi
expect_eq "warnings: tw-reuse-off, range-small, range-outside-iana, reserved-outside-range" \
	"$(jq -r '[.warnings[].code] | sort | join(",")' <<<"$j")" \
	"range-outside-iana,range-small,reserved-outside-range,tw-reuse-off"
check "every warning has a code, a severity and a message" \
	jq -e 'all(.warnings[]; (.code|length) > 0 and (.message|length) > 20 and (.severity == "warning" or .severity == "info"))' <<<"$j"

# The same namespace named three ways gives the same answer.
run "$EPHPORT" --netns "/run/netns/$ns" ranges --json
expect_eq "--netns accepts a path" "$(jq -c '.range' <<<"$OUT")" '{"low":40000,"high":40019,"size":20}'
ip netns exec "$ns" sleep 30 &
holder=$!
# Ready once ip has entered the namespace and become sleep.
want=$(stat -L -c %i "/run/netns/$ns")
for _ in $(seq 200); do
	[ "$(stat -L -c %i "/proc/$holder/ns/net" 2>/dev/null)" = "$want" ] && break
	sleep 0.01
done
run "$EPHPORT" --netns "pid:$holder" ranges --json
expect_eq "--netns accepts pid:PID" "$(jq -c '.range' <<<"$OUT")" '{"low":40000,"high":40019,"size":20}'
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
run "$EPHPORT" ranges --netns "$ns" --json
expect_eq "--netns and --json are accepted after the command" \
	"$(jq .available <<<"$OUT")" 17

# Text output says the same things.
run "$EPHPORT" --netns "$ns" ranges
expect_rc "ranges (text) succeeds" 0
expect_in "text shows the range" "40000-40019 (20 ports)" "$OUT"
expect_in "text shows the reservations" "8080,40005,40010-40011 (3 in range, 1 outside)" "$OUT"
expect_in "text shows what is available" "17 ports" "$OUT"
expect_in "text explains tcp_tw_reuse=0" "tcp_tw_reuse        0" "$OUT"
expect_in "text names the warning code" "[tw-reuse-off]" "$OUT"
expect_in "text says TIME_WAIT ignores tcp_fin_timeout" "TIME_WAIT, which lasts 60 s" "$OUT"

# Same-parity bounds.
ns_sysctl "$ns" net.ipv4.ip_local_port_range "40000 40020"
run "$EPHPORT" --netns "$ns" ranges --json
check "same-parity bounds are warned about" \
	jq -e '[.warnings[].code] | index("range-same-parity") != null' <<<"$OUT"

# Other systems.
run "$EPHPORT" --netns "$ns" ranges --os --json
expect_eq "--os lists every system of the table" "$(jq '.os | length' <<<"$OUT")" 13
expect_eq "--os marks which systems overlap 40000-40020" \
	"$(jq -r '[.os[] | select(.overlaps) | .name] | join(",")' <<<"$OUT")" \
	"linux,linux-2.4,freebsd,openbsd,solaris,aix"
expect_eq "--os counts shared ports" \
	"$(jq -r '.os[] | select(.name == "freebsd") | .shared_ports' <<<"$OUT")" 21
run "$EPHPORT" --netns "$ns" ranges --os
expect_in "text --os shows Windows XP's range as legacy" "1025-5000    0 (legacy)" "$OUT"

# The overview carries the ranges.
run "$EPHPORT" --netns "$ns" --json
expect_rc "overview --json succeeds" 0
expect_eq "overview reports the namespace's range" "$(jq -c '.ranges.range' <<<"$OUT")" '{"low":40000,"high":40020,"size":21}'
run "$EPHPORT" --netns "$ns"
expect_in "overview text shows the range" "40000-40020 (21 ports)" "$OUT"

# Nothing here touched the host.
host_after=$(cat /proc/sys/net/ipv4/ip_local_port_range /proc/sys/net/ipv4/ip_local_reserved_ports /proc/sys/net/ipv4/tcp_tw_reuse)
expect_eq "the host's own sysctls are unchanged" "$host_after" "$host_before"

finish
