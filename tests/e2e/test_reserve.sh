#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ephport reserve`, `unreserve` and `set-range` on real namespaces and
# temporary sysctl.d trees: nothing lost, nothing half-done.
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 to make sockets"
SOCKCTL="$(dirname "$0")/sockctl.py"
DROPIN=etc/sysctl.d/99-zz-ephport.conf

host_before=$(cat /proc/sys/net/ipv4/ip_local_port_range /proc/sys/net/ipv4/ip_local_reserved_ports)
rt() { ip netns exec "$1" cat /proc/sys/net/ipv4/ip_local_reserved_ports; }
tree() { # tree NAME: an empty root with the sysctl.d directories
	mkdir -p "$TMP/$1/etc/sysctl.d" "$TMP/$1/usr/lib/sysctl.d"
	echo "$TMP/$1"
}

# Reserving keeps what is there, at runtime and at boot.
ns=$(ns_add keep)
ns_sysctl "$ns" net.ipv4.ip_local_reserved_ports 8081
R=$(tree keep)
echo 'net.ipv4.ip_local_reserved_ports = 8080' >"$R/usr/lib/sysctl.d/50-app.conf"
run "$EPHPORT" --netns "$ns" reserve 36601,40000-40002 --reason "api server" --root "$R"
expect_rc "reserve succeeds" 0
expect_eq "runtime: the old entry kept, the new ones added" "$(rt "$ns")" "8081,36601,40000-40002"
expect_eq "the drop-in holds the boot value plus the new ports" \
	"$(grep '^net' "$R/$DROPIN")" "net.ipv4.ip_local_reserved_ports = 8080,36601,40000-40002"
expect_in "with the reason and the date" "# reserved 36601,40000-40002 on $(date -u +%F): api server" "$(cat "$R/$DROPIN")"
expect_in "it says the other file loses" "50-app.conf:1 also sets" "$OUT"
run "$EPHPORT" --netns "$ns" unreserve 40001 --root "$R" --json
expect_rc "unreserve succeeds" 0
expect_eq "runtime: only the named port removed" "$(rt "$ns")" "8081,36601,40000,40002"
expect_eq "file: only the named port removed" \
	"$(grep '^net' "$R/$DROPIN")" "net.ipv4.ip_local_reserved_ports = 8080,36601,40000,40002"
expect_eq "--json says what changed" "$(jq -c '[.action, .runtime.after, .persist.changed]' <<<"$OUT")" \
	'["unreserve","8081,36601,40000,40002",true]'
run "$EPHPORT" --netns "$ns" reserve 36601 --root "$R"
expect_in "reserving again changes nothing" "Unchanged net.ipv4.ip_local_reserved_ports" "$OUT"

# A later file wins at boot, and /etc/sysctl.conf under sysctl --system.
echo 'net/ipv4/ip_local_reserved_ports = 1' >"$R/etc/sysctl.d/zz-late.conf"
echo 'net.ipv4.ip_local_reserved_ports=2' >"$R/etc/sysctl.conf"
run "$EPHPORT" --netns "$ns" reserve 36602 --root "$R"
expect_in "a later file is reported as the winner" "zz-late.conf:1 sets net.ipv4.ip_local_reserved_ports (\"1\") and sorts after ephport's drop-in: it wins at boot" "$(tr -s ' \n' ' ' <<<"$OUT")"
expect_in "and /etc/sysctl.conf for sysctl --system" "sysctl.conf:1 also sets" "$OUT"
rm "$R/etc/sysctl.d/zz-late.conf" "$R/etc/sysctl.conf"

# --dry-run changes nothing.
before=$(rt "$ns"; sha256sum <"$R/$DROPIN")
run "$EPHPORT" --netns "$ns" reserve 9000 --root "$R" --dry-run
expect_rc "--dry-run succeeds" 0
expect_in "--dry-run shows the runtime change" "Would change net.ipv4.ip_local_reserved_ports" "$OUT"
expect_in "--dry-run shows the file diff" "+# reserved 9000 on" "$OUT"
expect_in "--dry-run shows the new line" ",9000,36601" "$(grep '^  +net' <<<"$OUT")"
expect_eq "--dry-run changed nothing" "$(rt "$ns"; sha256sum <"$R/$DROPIN")" "$before"

# After reserve, connect() never takes the port, even when the range is
# otherwise full: it fails rather than take it.
ns2=$(ns_add full)
ns_sysctl "$ns2" net.ipv4.ip_local_port_range "40000 40003"
run "$EPHPORT" --netns "$ns2" reserve 40002 --runtime-only
expect_rc "a reservation leaving 3 of 4 ports is refused" 1
expect_in "saying why" "under half, or under 1000" "$ERR"
expect_eq "and nothing changed" "$(rt "$ns2")" ""
run "$EPHPORT" --netns "$ns2" reserve 40002 --runtime-only --force
expect_rc "--force does it" 0
coproc S { ip netns exec "$ns2" python3 "$SOCKCTL"; }
say() { echo "$*" >&"${S[1]}"; read -r REPLY <&"${S[0]}"; }
say listen 127.0.0.1 5000
got=
for _ in 1 2 3 4; do
	say connect 127.0.0.1 5000 1
	got="$got ${REPLY}"
done
expect_eq "three connects get the three other ports, the fourth fails" \
	"$(tr ' ' '\n' <<<"$got" | grep -E '^[0-9]+$' | sort | paste -sd, -) $(grep -o 'ERR [A-Z]*' <<<"$got")" \
	"40000,40001,40003 ERR EADDRNOTAVAIL"

# set-range refuses to swallow a listener.
say listen 0.0.0.0 45000
run "$EPHPORT" --netns "$ns2" set-range 40000 50001 --runtime-only
expect_rc "set-range over a listener is refused" 1
expect_in "naming the port" "would swallow listening ports 45000" "$ERR"
expect_eq "the range is unchanged" "$(ip netns exec "$ns2" cat /proc/sys/net/ipv4/ip_local_port_range)" "$(printf '40000\t40003')"
run "$EPHPORT" --netns "$ns2" set-range 500 50001 --runtime-only
expect_rc "set-range below ip_unprivileged_port_start is refused" 1
run "$EPHPORT" --netns "$ns2" set-range 46000 50000 --runtime-only
expect_rc "set-range elsewhere works" 0
expect_eq "the kernel has the new range" "$(ip netns exec "$ns2" cat /proc/sys/net/ipv4/ip_local_port_range)" "$(printf '46000\t50000')"
expect_in "same-parity bounds get a warning" "same parity" "$OUT"
R2=$(tree range)
run "$EPHPORT" set-range 46000 50001 --root "$R2" --persist-only --force
expect_eq "set-range persists the range" "$(grep '^net' "$R2/$DROPIN")" "net.ipv4.ip_local_port_range = 46000 50001"
echo quit >&"${S[1]}"
wait "$S_PID" 2>/dev/null

# Twenty parallel reserves, twenty ports: all there, at runtime and in the file.
ns3=$(ns_add parallel)
R3=$(tree parallel)
for i in $(seq 1 20); do
	"$EPHPORT" --netns "$ns3" reserve $((41000 + i)) --root "$R3" >/dev/null 2>&1 &
done
wait
expect_eq "20 parallel reserves: all 20 at runtime" "$(rt "$ns3")" "41001-41020"
expect_eq "20 parallel reserves: all 20 in the file" \
	"$(grep '^net' "$R3/$DROPIN")" "net.ipv4.ip_local_reserved_ports = 41001-41020"

# A write killed half-way leaves the old file or the new one, never a mix.
R4=$(tree killed)
"$EPHPORT" reserve 42000 --root "$R4" --persist-only >/dev/null
bad=0
for i in $(seq 1 30); do
	old=$(cat "$R4/$DROPIN")
	"$EPHPORT" reserve $((42000 + i)) --root "$R4" --persist-only >/dev/null 2>&1 &
	pid=$!
	sleep "0.00$((i % 10))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	now=$(cat "$R4/$DROPIN")
	line=$(grep '^net' <<<"$now")
	case "$line" in
	"net.ipv4.ip_local_reserved_ports = 42000-$((42000 + i))") ;;
	"$(grep '^net' <<<"$old")") ;;
	*) bad=$((bad + 1)) ;;
	esac
	# Keep the sequence contiguous for the next round.
	"$EPHPORT" reserve $((42000 + i)) --root "$R4" --persist-only >/dev/null
done
expect_eq "30 killed writes: always the old file or the new one" "$bad" 0
check "no half-written drop-in is left as a .conf" \
	bash -c '! ls "$1"/etc/sysctl.d | grep -v "^99-zz-ephport.conf$" | grep -q "\.conf$"' _ "$R4"

# Files ephport did not write, or cannot parse, are never rewritten.
R5=$(tree corrupt)
printf 'net.ipv4.ip_local_reserved_ports = 8080\nkernel.pid_max = 1\n' >"$R5/$DROPIN"
sum=$(sha256sum <"$R5/$DROPIN")
run "$EPHPORT" reserve 9000 --root "$R5" --persist-only
expect_rc "a drop-in with a key ephport does not manage is refused" 1
expect_in "naming the file and the line" "99-zz-ephport.conf:2: a key ephport does not manage" "$ERR"
expect_eq "and it is left as it was" "$(sha256sum <"$R5/$DROPIN")" "$sum"
printf 'net.ipv4.ip_local_reserved_ports = 80-70\n' >"$R5/$DROPIN"
run "$EPHPORT" reserve 9000 --root "$R5" --persist-only
expect_rc "a malformed port list in the drop-in is refused" 1
expect_in "naming the line" "99-zz-ephport.conf:1:" "$ERR"
rm "$R5/$DROPIN"
echo 'net.ipv4.ip_local_reserved_ports = 8080,,9' >"$R5/usr/lib/sysctl.d/60-x.conf"
run "$EPHPORT" reserve 9000 --root "$R5" --persist-only
expect_rc "a malformed value in the file that wins at boot is refused" 1
expect_in "naming it" "60-x.conf:1" "$ERR"
check "and no drop-in was written" test ! -e "$R5/$DROPIN"

# Without the privilege, or with a read-only /etc: a clear message, nothing done.
ns6=$(ns_add nopriv)
run ip netns exec "$ns6" setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all "$EPHPORT" reserve 9000 --runtime-only
expect_rc "reserve as nobody fails (2)" 2
expect_in "naming the capability" "CAP_NET_ADMIN" "$ERR"
expect_eq "nothing was reserved" "$(rt "$ns6")" ""
R7=$(tree ro)
run unshare -m sh -c 'mount --bind -o ro "$1" "$1" && "$2" reserve 9000 --root "$1" --persist-only' _ "$R7" "$EPHPORT"
expect_rc "a read-only /etc: reserve fails (2)" 2
expect_in "saying so" "read-only" "$ERR"
check "and wrote nothing" test ! -e "$R7/$DROPIN"
run unshare -m sh -c 'mount --bind -o ro "$1" "$1" && "$3" --netns "$2" reserve 9001 --root "$1"' _ "$R7" "$ns6" "$EPHPORT"
expect_rc "runtime and a read-only /etc: fails (2)" 2
expect_eq "and the runtime change is undone" "$(rt "$ns6")" ""

# Usage errors change nothing.
run "$EPHPORT" reserve 70000
expect_rc "port 70000 is a usage error" 2
expect_in "named" "70000" "$ERR"
run "$EPHPORT" reserve 8080,,9
expect_rc "a malformed port list is a usage error" 2
run "$EPHPORT" reserve
expect_rc "no ports is a usage error" 2
run "$EPHPORT" set-range 5000 4000
expect_rc "an inverted range is a usage error" 2
run "$EPHPORT" reserve 9000 --runtime-only --persist-only
expect_rc "--runtime-only with --persist-only is a usage error" 2
run "$EPHPORT" --netns "$ns" reserve 9000 --persist-only
expect_rc "--persist-only --netns without --root is a usage error" 2
run "$EPHPORT" --netns ephtest-no-such reserve 9000 --runtime-only
expect_rc "a missing namespace fails (2)" 2

expect_eq "the host's own settings were never touched" \
	"$(cat /proc/sys/net/ipv4/ip_local_port_range /proc/sys/net/ipv4/ip_local_reserved_ports)" "$host_before"
finish
