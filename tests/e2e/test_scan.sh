#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The socket scanner against ss(8) on the same namespace, with a known mix
# of real sockets, and its in-kernel filters.
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 to make sockets"
: "${SOCKDUMP:?SOCKDUMP must name the sockdump tool}"

ns=$(ns_add scan)
coproc HOLD { ip netns exec "$ns" python3 "$(dirname "$0")/sockets.py"; }
read -r ready <&"${HOLD[0]}"
expect_eq "the socket maker is ready" "$ready" "READY"

# "STATE LPORT RPORT" lines, sorted, from each side.
ours() { "$SOCKDUMP" --netns "$ns" "$@" | awk '{print $2, $4, $6}' | sort; }
theirs() {
	ip netns exec "$ns" ss -Hn "$@" | awk '{
		n = split($4, l, ":"); m = split($5, r, ":");
		rp = r[m] == "*" ? 0 : r[m];
		print $1, l[n], rp }' | sort
}

run ours --tcp
tcp_ours=$OUT
expect_eq "TCP: every socket ss shows, in the same state" \
	"$(grep -v '^UNCONN' <<<"$tcp_ours")" "$(theirs -ta)"
expect_eq "TCP: plus the two bound-but-idle sockets ss 6.1 cannot show" \
	"$(grep -c '^UNCONN' <<<"$tcp_ours")" 2
expect_eq "TCP: one TIME_WAIT" "$(grep -c '^TIME-WAIT' <<<"$tcp_ours")" 1
expect_eq "UDP: the same sockets as ss" "$(ours --udp)" "$(theirs -ua)"

run "$SOCKDUMP" --netns "$ns" --tcp
expect_in "TIME_WAIT has no owner and time left" "TIME-WAIT 127.0.0.1" "$OUT"
check "TIME_WAIT reports inode 0 and 0 < expires <= 60000 ms" \
	awk '$2 == "TIME-WAIT" { split($9, e, "="); if ($7 != "inode=0" || e[2] <= 0 || e[2] > 60000) exit 1; found = 1 } END { exit !found }' <<<"$OUT"
expect_in "the v4-mapped client shows as IPv4" "ESTAB 127.0.0.1 " "$(grep ' 5001 ' <<<"$OUT")"

expect_eq "explicit-only filter: exactly the sockets bound to a named port" \
	"$("$SOCKDUMP" --netns "$ns" --tcp --explicit | awk '{print $2, $4}' | sort)" \
	"$(printf '%s\n' 'ESTAB 40010' 'LISTEN 5000' 'LISTEN 5001' 'UNCONN 40001' | sort)"
all_ports=$("$SOCKDUMP" --netns "$ns" --tcp | awk '{print $2, $4}' | sort)
expect_eq "auto-only filter: the rest, so the two split the table exactly" \
	"$( ("$SOCKDUMP" --netns "$ns" --tcp --auto; "$SOCKDUMP" --netns "$ns" --tcp --explicit) | awk '{print $2, $4}' | sort)" \
	"$all_ports"
check "auto-only filter: no listener bound to a named port" \
	bash -c '! "$1" --netns "$2" --tcp --auto | grep -qE "LISTEN .* (5000|5001) "' _ "$SOCKDUMP" "$ns"
run "$SOCKDUMP" --netns "$ns" --tcp --auto --explicit
expect_rc "auto-only and explicit-only together are refused" 1
expect_in "with a message" "exclude each other" "$ERR"
expect_eq "skip filter: nothing on the ports named" \
	"$("$SOCKDUMP" --netns "$ns" --tcp --skip 5000 --skip 5001 | awk '$4 == 5000 || $4 == 5001' | wc -l)" 0
expect_eq "skip filter: everything else" \
	"$("$SOCKDUMP" --netns "$ns" --tcp --skip 5000 --skip 5001 | wc -l)" \
	"$(awk '$2 != 5000 && $2 != 5001' <<<"$all_ports" | wc -l)"
expect_eq "explicit-only plus a port: the binders and every socket on that port" \
	"$("$SOCKDUMP" --netns "$ns" --tcp --explicit --also 5000 | awk '{print $2, $4}' | sort)" \
	"$(printf '%s\n' 'ESTAB 40010' 'LISTEN 5000' 'LISTEN 5001' 'UNCONN 40001' 'ESTAB 5000' 'ESTAB 5000' 'ESTAB 5000' 'ESTAB 5000' | sort)"
check "sockets taken for their port alone are not marked as binders" \
	bash -c '"$1" --netns "$2" --tcp --explicit --also 5000 | awk "\$4 == 5000 && \$NF != \"flags=0\" { exit 1 }"' _ "$SOCKDUMP" "$ns"
expect_eq "port-range filter runs in the kernel" \
	"$("$SOCKDUMP" --netns "$ns" --tcp --range 40000-40010 | awk '{print $4}' | sort -u | tr '\n' ' ')" \
	"40001 40010 "
expect_eq "both filters at once" \
	"$("$SOCKDUMP" --netns "$ns" --tcp --explicit --range 5001-40001 | awk '{print $4}' | sort -n | tr '\n' ' ')" \
	"5001 40001 "
run "$SOCKDUMP" --netns "$ns" --tcp --range 40011-40000
expect_rc "an inverted port range is refused" 1
expect_in "with a message" "inverted" "$ERR"

# Scanning again from the same process gives the same answer: the scanner
# holds no state between scans.
expect_eq "a second scan sees the same sockets" "$(ours --tcp)" "$tcp_ours"

exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null
finish
