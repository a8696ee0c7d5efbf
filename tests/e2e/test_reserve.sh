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
# Regression: reserve said "done" (0) and the drop-in claimed to win.
expect_rc "what boots is another file's value: exit 1" 1
expect_in "saying which file wins" "zz-late.conf:1 sets net.ipv4.ip_local_reserved_ports after the drop-in and wins at boot" "$ERR"
expect_eq "the port is reserved all the same" "$(rt "$ns")" "8081,36601-36602,40000,40002"
check "the drop-in does not claim to win" bash -c '! grep -q "wins at boot" "$1" && grep -q "It does not win at boot" "$1"' _ "$R/$DROPIN"
run "$EPHPORT" --netns "$ns" reserve 36602 --root "$R" --json
expect_eq "--json: boots false, the winner named" "$(jq -c '[.boots, .persist.wins, (.persist.winner.file | endswith("/etc/sysctl.d/zz-late.conf")), .persist.winner.line]' <<<"$OUT")" '[false,false,true,1]'
rm "$R/etc/sysctl.d/zz-late.conf"
run "$EPHPORT" --netns "$ns" reserve 36602 --root "$R"
expect_rc "/etc/sysctl.conf alone: exit 1 as well" 1
expect_in "naming it, under sysctl --system" "sysctl.conf:1 sets net.ipv4.ip_local_reserved_ports after the drop-in and wins under \`sysctl --system\`" "$ERR"
rm "$R/etc/sysctl.conf"
run "$EPHPORT" --netns "$ns" reserve 36602 --root "$R"
expect_rc "with both gone: 0" 0
check "and the drop-in claims to win again" grep -q "wins at boot" "$R/$DROPIN"

# Reservations only in the kernel are named: a reboot drops them.
run "$EPHPORT" --netns "$ns" reserve 9100 --root "$R" --runtime-only
expect_rc "reserve --runtime-only succeeds" 0
expect_in "it says a reboot drops what only the kernel has" "8081,9100 reserved in the kernel but not in what a boot applies: a reboot drops them (ephport --netns $ns reserve 8081,9100 --root $R keeps them)" "$(tr -s ' \n' ' ' <<<"$OUT")"
run "$EPHPORT" --netns "$ns" unreserve 9100 --root "$R" --runtime-only

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
run "$EPHPORT" --netns "$ns2" reserve 40001-40003 --runtime-only
expect_rc "a reservation leaving 1 of 4 ports is refused" 1
expect_in "saying why" "(under half)" "$(tr -s ' \n' ' ' <<<"$ERR")"
expect_eq "and nothing changed" "$(rt "$ns2")" ""
run "$EPHPORT" --netns "$ns2" reserve 40001-40003 --runtime-only --force --dry-run
expect_rc "--force would do it" 0
# The 1000-port floor is for ranges that have it: 3 of 4 is what this
# range was chosen to give.
run "$EPHPORT" --netns "$ns2" reserve 40002 --runtime-only
expect_rc "a reservation leaving 3 of 4 ports is done" 0
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
# Regression: the hint read "ephport reserve", for the host's namespace.
expect_in "the hint runs in the namespace inspected" "(ephport --netns $ns2 reserve 45000)" "$ERR"
run "$EPHPORT" --netns "$ns2" set-range 40000 50001 --runtime-only --json
expect_eq "--json: the refusal is one object with a code" "$(jq -c '.error.code' <<<"$OUT")" '"listeners"'
run "$EPHPORT" --netns "$ns2" set-range 46000 46000 --runtime-only
expect_rc "a one-port range is refused" 1
expect_in "saying so" "a range of one port" "$ERR"
run "$EPHPORT" --netns "$ns" set-range 46000 46500 --runtime-only
expect_rc "a range of 501 ports is refused where autobind has thousands" 1
expect_in "with the numbers" "only 501 of the 501 ports of the range 46000-46500" "$(tr -s ' \n' ' ' <<<"$ERR")"
expect_in "and the floor it keeps" "under 1000, from" "$(tr -s ' \n' ' ' <<<"$ERR")"
run "$EPHPORT" --netns "$ns2" set-range 46000 46500 --runtime-only --dry-run
expect_rc "from 3 ports, 501 is no loss" 0
run "$EPHPORT" --netns "$ns2" set-range 46000 46000 --runtime-only --force --dry-run
expect_rc "--force sets a one-port range" 0
expect_in "with a parity warning" "same parity" "$OUT"
expect_eq "that suggests no range (none fits)" "$(grep -c 'set-range' <<<"$OUT")" 0
run "$EPHPORT" --netns "$ns2" set-range 46000 46002 --runtime-only --force --dry-run
expect_in "46000 46002: the suggestion is not inverted" "ephport --netns $ns2 set-range 46000 46001 avoids it" "$(tr -s ' \n' ' ' <<<"$OUT")"
expect_eq "the range is unchanged" "$(ip netns exec "$ns2" cat /proc/sys/net/ipv4/ip_local_port_range)" "$(printf '40000\t40003')"
run "$EPHPORT" --netns "$ns2" set-range 500 50001 --runtime-only
expect_rc "set-range below ip_unprivileged_port_start is refused" 1
run "$EPHPORT" --netns "$ns2" set-range 46000 50000 --runtime-only
expect_rc "set-range elsewhere works" 0
expect_eq "the kernel has the new range" "$(ip netns exec "$ns2" cat /proc/sys/net/ipv4/ip_local_port_range)" "$(printf '46000\t50000')"
expect_in "same-parity bounds get a warning" "same parity" "$OUT"
expect_in "with a range to use instead, in that namespace" "ephport --netns $ns2 set-range 46000 49999 avoids it" "$(tr -s ' \n' ' ' <<<"$OUT")"
# Reserved ports count against what a new range leaves usable.
run "$EPHPORT" --netns "$ns2" reserve 47000-47999 --runtime-only
expect_rc "reserving 1000 of 4001 ports is fine" 0
run "$EPHPORT" --netns "$ns2" set-range 46900 48100 --runtime-only
expect_rc "a range left with 201 usable ports is refused" 1
expect_in "counting the reserved ports" "only 201 of the 1201 ports" "$(tr -s ' \n' ' ' <<<"$ERR")"
run "$EPHPORT" --netns "$ns2" unreserve 47000-47999 --runtime-only
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

# A write killed half-way leaves the old file: the kill lands while the
# rename is held back, the new content complete in the temporary file.
R4=$(tree killed)
if command -v strace >/dev/null; then
	"$EPHPORT" reserve 42000 --root "$R4" --persist-only >/dev/null
	old=$(cat "$R4/$DROPIN")
	strace -f -qq -o "$TMP/strace.log" -e trace=renameat,renameat2 \
		-e inject=renameat,renameat2:delay_enter=3000000 \
		"$EPHPORT" reserve 42001 --root "$R4" --persist-only >/dev/null 2>&1 &
	spid=$!
	tmpf=
	for _ in $(seq 1 200); do
		for f in "$R4"/etc/sysctl.d/.99-zz-ephport.conf.*; do
			if [ -e "$f" ] && grep -qx 'net.ipv4.ip_local_reserved_ports = 42000-42001' "$f" &&
				grep -q 'renameat.*"\.99-zz-ephport\.conf\.' "$TMP/strace.log"; then
				tmpf=$f
			fi
		done
		[ -n "$tmpf" ] && break
		sleep 0.05
	done
	check "the new content is complete in the temporary file, the rename held" test -n "$tmpf"
	pid=${tmpf##*/.99-zz-ephport.conf.}
	pid=${pid%.*}
	kill -KILL "$pid"
	wait "$spid" 2>/dev/null
	expect_eq "killed before the rename: the drop-in is the old one" "$(cat "$R4/$DROPIN")" "$old"
	check "the dead writer's temporary file is still there" test -e "$tmpf"
	run "$EPHPORT" reserve 42001 --root "$R4" --persist-only
	expect_rc "the next reserve succeeds" 0
	check "and removes the stale temporary file" test ! -e "$tmpf"
	expect_eq "with the new value" "$(grep '^net' "$R4/$DROPIN")" "net.ipv4.ip_local_reserved_ports = 42000-42001"
	check "no temporary file is left" bash -c '! ls -A "$1"/etc/sysctl.d | grep -q "^\.99-zz"' _ "$R4"
else
	tap_ok "# SKIP strace is not installed"
fi

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

# Unreserving a port reserved nowhere changes nothing and says so.
R6=$(tree never)
"$EPHPORT" reserve 9000 --root "$R6" --persist-only >/dev/null
sum=$(sha256sum <"$R6/$DROPIN")
run "$EPHPORT" --netns "$ns" unreserve 7777 --root "$R6"
expect_rc "unreserve of a port never reserved: exit 1" 1
expect_in "saying so" "7777 is not reserved" "$ERR"
expect_eq "the drop-in is unchanged" "$(sha256sum <"$R6/$DROPIN")" "$sum"
expect_eq "and the kernel too" "$(rt "$ns")" "8081,36601-36602,40000,40002"
run "$EPHPORT" --netns "$ns" unreserve 7777 --root "$R6" --json
expect_eq "--json: one object, the refusal's code" "$(jq -c '[.netns, .error.code]' <<<"$OUT")" "[\"$ns\",\"not-reserved\"]"

# --root resolves links inside the tree, never on the host: here
# etc/sysctl.d and a vendor file are absolute links to paths that exist
# on the host too, with other contents.
R9=$(tree links)
rmdir "$R9/etc/sysctl.d"
mkdir -p "$TMP/decoy" "$R9/$TMP/decoy"
ln -s "$TMP/decoy" "$R9/etc/sysctl.d"
echo 'net.ipv4.ip_local_reserved_ports = 1111' >"$TMP/host.conf"
echo 'net.ipv4.ip_local_reserved_ports = 2222' >"$R9/$TMP/host.conf"
ln -s "$TMP/host.conf" "$R9/usr/lib/sysctl.d/50-link.conf"
# And one to /etc: the tree's file, not the host's (which is not there).
echo 'net.ipv4.ip_local_reserved_ports = 3333' >"$R9/etc/ephport-e2e-$$.conf"
ln -s "/etc/ephport-e2e-$$.conf" "$R9/usr/lib/sysctl.d/40-etc.conf"
run "$EPHPORT" reserve 9000 --root "$R9" --persist-only
expect_rc "reserve in a tree of links succeeds" 0
expect_eq "the drop-in is written inside the tree, from the tree's files" \
	"$(grep '^net' "$R9/$TMP/decoy/99-zz-ephport.conf")" \
	"net.ipv4.ip_local_reserved_ports = 2222,9000"
expect_in "the link to /etc was read in the tree" "40-etc.conf:1 also sets net.ipv4.ip_local_reserved_ports (\"3333\")" "$(tr -s ' \n' ' ' <<<"$OUT")"
check "nothing is written on the host" test -z "$(ls -A "$TMP/decoy")"

# /etc/sysctl.d sets up the namespace the system boots in, only.
run "$EPHPORT" --netns "$ns" reserve 9001 --dry-run --json
expect_eq "another namespace, no --root: not persisted, and said" \
	"$(jq -c '[.persist, (.notes | map(.code) | index("not-persisted") != null)]' <<<"$OUT")" '[null,true]'
boot=pid:1
[ -r /proc/1/ns/net ] || boot=pid:$$ # a sandbox that hides init's
run "$EPHPORT" --netns "$boot" reserve 9001 --dry-run --json
expect_eq "--netns $boot, the boot namespace itself: persisted" "$(jq -r '.persist.file' <<<"$OUT")" "/etc/sysctl.d/99-zz-ephport.conf"
expect_eq "and nothing said about it" "$(jq -c '.notes | map(.code) | index("not-persisted")' <<<"$OUT")" null

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
run unshare -m sh -c 'mount --bind -o ro "$1" "$1" && "$3" --netns "$2" reserve 9001 --root "$1" --json' _ "$R7" "$ns6" "$EPHPORT"
expect_eq "--json: the failure is one object naming it" "$(jq -c '[.error.code, (.error.message | test("read-only"))]' <<<"$OUT")" '["EROFS",true]'

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
run "$EPHPORT" --netns ephtest-no-such reserve 9000 --runtime-only --json
expect_eq "--json: a failure is one object too" "$(jq -c '.error | has("code")' <<<"$OUT")" true
run "$EPHPORT" reserve 70000 --json
expect_eq "--json: a usage error is one object" "$(jq -c '.error.code' <<<"$OUT")" '"usage"'
run "$EPHPORT" reserve --help
expect_in "--help gives the exit status" "Exit status: 0 done; 1 refused" "$OUT"

expect_eq "the host's own settings were never touched" \
	"$(cat /proc/sys/net/ipv4/ip_local_port_range /proc/sys/net/ipv4/ip_local_reserved_ports)" "$host_before"
finish
