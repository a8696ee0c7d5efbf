#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ephport usage --by`: who holds the ports, with real cgroups. Socket
# makers are moved into cgroups made for the test (a systemd-style service,
# a docker-style container scope) before they connect, one runs as another
# user; each connects a known number of times in a namespace, and every
# way of counting must give those numbers back.
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 to make sockets"
command -v jq >/dev/null || skip_all "needs jq"
CGROOT=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$CGROOT" ] || skip_all "no cgroup v2 hierarchy mounted"
SOCKCTL="$(cd "$(dirname "$0")" && pwd)/sockctl.py"
[ -x /usr/bin/python3 ] || skip_all "needs /usr/bin/python3 for another user"
ID=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
SLICE="$CGROOT/ephtest-$$.slice"
# A cgroup in no unit (no .service, .scope or .slice on its path), so that
# nothing depends on where the test itself runs.
PLAIN="$CGROOT/ephtest-$$-plain"
# An LXC container's cgroup: in no systemd unit.
LXC="$CGROOT/lxc.payload.ephtest-$$"
PIDS=()

cg_cleanup() {
	local p d
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for d in "$SLICE"/*/ "$SLICE" "$PLAIN" "$LXC"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	cleanup
}
trap cg_cleanup EXIT

# ctl NAME NS CGROUP [WRAPPER... PYTHON]: a socket maker in NS, moved into
# CGROUP (a directory under the slice, an absolute path, or "" for none)
# before it makes a socket; its pipes are ${NAME}_IN and ${NAME}_OUT; its pid is ${NAME}_PID.
ctl() {
	local name=$1 ns=$2 cg=$3 in out pid
	shift 3
	[ $# -gt 0 ] || set -- python3
	mkfifo "$TMP/$name.in" "$TMP/$name.out"
	ip netns exec "$ns" "$@" "$SOCKCTL" <"$TMP/$name.in" >"$TMP/$name.out" &
	pid=$!
	exec {in}>"$TMP/$name.in" {out}<"$TMP/$name.out"
	PIDS+=("$pid")
	case "$cg" in
	"") ;;
	/*) mkdir -p "$cg" && echo "$pid" >"$cg/cgroup.procs" ;;
	*) mkdir -p "$SLICE/$cg" && echo "$pid" >"$SLICE/$cg/cgroup.procs" ;;
	esac
	printf -v "${name}_IN" %s "$in"
	printf -v "${name}_OUT" %s "$out"
	printf -v "${name}_PID" %s "$pid"
}

# say NAME COMMAND...: one command to a socket maker; its reply in $REPLY.
say() {
	local in out
	in=${1}_IN out=${1}_OUT
	echo "${*:2}" >&"${!in}"
	REPLY="(no reply)"
	read -r -t 20 REPLY <&"${!out}"
}

ns=$(ns_add by)
ns_sysctl "$ns" net.ipv4.ip_local_port_range "40000 40999"
ctl srv "$ns" ""
say srv listen 127.0.0.1 5000
say srv listen 127.0.0.1 5001
ctl web "$ns" web.service
ctl box "$ns" "docker-$ID.scope"
# Another user's python must not need root's home (pyenv and the like).
ctl nob "$ns" "$PLAIN" setpriv --reuid 65534 --regid 65534 --clear-groups \
	/usr/bin/python3
# A server in the range, for why and audit (bound before any connect
# can take its port).
say web listen 0.0.0.0 40500
expect_eq "web.service listens on 40500" "$REPLY" "OK"
say web connect 127.0.0.1 5000 3
expect_in "web.service connects 3 times" "OK " "$REPLY"
say web connect 127.0.0.1 5001 1
say box connect 127.0.0.1 5000 5
expect_in "the container connects 5 times" "OK " "$REPLY"
say nob connect 127.0.0.1 5001 2
expect_in "nobody connects twice" "OK " "$REPLY"

# By unit: the service and the container's scope, each with its count.
run "$EPHPORT" --netns "$ns" usage --by unit --json
expect_rc "usage --by unit succeeds" 0
j=$OUT
expect_eq "by unit: the fullest destination's consumers, fullest first" \
	"$(jq -c '[.tuples[] | select(.remote_port == 5000) | .consumers[] | [.kind, .name, .sockets]][]' <<<"$j" | paste -sd' ')" \
	"[\"named\",\"docker-$ID.scope\",5] [\"named\",\"web.service\",3]"
expect_eq "by unit: summed over destinations" \
	"$(jq -c '[.consumers[] | select(.kind == "named") | [.name, .sockets, .destinations]]' <<<"$j")" \
	"[[\"docker-$ID.scope\",5,1],[\"web.service\",4,2]]"
expect_eq "by unit: a cgroup in no unit is named by its path" \
	"$(jq -c '[.consumers[] | select(.kind == "outside") | [.name, .sockets]]' <<<"$j")" \
	"[[\"${PLAIN#"$CGROOT"}\",2]]"
expect_eq "by unit: every socket counted once" \
	"$(jq '[.consumers[].sockets] | add' <<<"$j")" 11
expect_eq "by unit: JSON says what it counted by" "$(jq -r .by <<<"$j")" unit

# By container: the docker scope is a container; the rest is the host.
run "$EPHPORT" --netns "$ns" usage --by container --json
j=$OUT
expect_eq "by container: runtime and id from the cgroup path" \
	"$(jq -c '[.consumers[] | select(.kind == "named") | [.name, .container.runtime, .container.id, .sockets]]' <<<"$j")" \
	"[[\"docker:0123456789ab\",\"docker\",\"$ID\",5]]"
expect_eq "by container: the rest by cgroup path, outside any container" \
	"$(jq -c '[.consumers[] | select(.kind == "outside") | [.name, .sockets]]' <<<"$j")" \
	"[[\"${SLICE#"$CGROOT"}/web.service\",4],[\"${PLAIN#"$CGROOT"}\",2]]"

# By cgroup: the paths themselves.
run "$EPHPORT" --netns "$ns" usage --by cgroup --json
expect_eq "by cgroup: the service's path" \
	"$(jq -r '.consumers[] | select(.sockets == 4) | .name' <<<"$OUT")" \
	"${SLICE#"$CGROOT"}/web.service"

# By user: nobody's two among root's nine.
run "$EPHPORT" --netns "$ns" usage --by user --json
expect_eq "by user: root 9 over two destinations, nobody 2 over one" \
	"$(jq -c '[.consumers[] | [.uid, .sockets, .destinations]]' <<<"$OUT")" \
	'[[0,9,2],[65534,2,1]]'

# By process: each socket maker by pid, with its unit beside it.
run "$EPHPORT" --netns "$ns" usage --by process --json
j=$OUT
expect_eq "by process: every socket maker with its own count" \
	"$(jq -c '[.consumers[] | [.pid, .command, .sockets]]' <<<"$j")" \
	"[[$box_PID,\"python3\",5],[$web_PID,\"python3\",4],[$nob_PID,\"python3\",2]]"
expect_eq "by process: the unit and the container of each" \
	"$(jq -c '[.consumers[] | [.unit, .container.runtime]]' <<<"$j")" \
	"[[\"docker-$ID.scope\",\"docker\"],[\"web.service\",null],[null,null]]"
run "$EPHPORT" --netns "$ns" usage --by process
expect_rc "usage --by process (text) succeeds" 0
expect_in "text: the destination names who holds its ports" \
	"held by: python3[$box_PID] 5, python3[$web_PID] 3" "$OUT"
expect_in "text: the consumers' table has the service column" \
	"docker:0123456789ab" "$OUT"

# --top limits the consumers too; the rest is summed.
run "$EPHPORT" --netns "$ns" usage --by process --top 1 --json
expect_eq "--top 1: one consumer shown, two summed" \
	"$(jq -c '[(.consumers | length), .other_consumers.consumers, .other_consumers.sockets]' <<<"$OUT")" \
	'[1,2,6]'

# TIME_WAIT: no process or cgroup owns it any more; said as such.
ctl tw "$ns" web.service
say tw listen 127.0.0.1 6000
say tw connect 127.0.0.1 6000 2
say tw closeclients
expect_eq "two clients closed first" "$REPLY" "OK"
run "$EPHPORT" --netns "$ns" usage --by unit --json
expect_eq "by unit: the TIME_WAITs are nobody's" \
	"$(jq -c '[.tuples[] | select(.remote_port == 6000) | .consumers[] | [.kind, .name, .sockets]]' <<<"$OUT")" \
	'[["time_wait",null,2]]'

# --check names who holds the fullest destination.
run "$EPHPORT" --netns "$ns" usage --by unit --check
expect_rc "--check --by: OK" 0
expect_in "--check --by: the fullest destination's main holder" \
	"most held by docker-0123456789ab....scope (5)" "$OUT"

# Every namespace: a second one with its own consumer; rows stay apart.
ns2=$(ns_add by2)
ctl srv2 "$ns2" ""
say srv2 listen 127.0.0.1 5000
ctl web2 "$ns2" other.service
say web2 connect 127.0.0.1 5000 7
run "$EPHPORT" usage --all-netns --by unit --top 0 --json
expect_rc "--all-netns --by unit succeeds" 0
expect_eq "--all-netns: each namespace's destination has its own consumers" \
	"$(jq -c --arg a "$ns" --arg b "$ns2" '[.tuples[] | select((.netns == $a or .netns == $b) and .remote_port == 5000) | [.netns, [.consumers[] | select(.kind == "named") | [.name, .sockets]]]] | sort' <<<"$OUT")" \
	"$(jq -nc --arg a "$ns" --arg b "$ns2" --arg d "docker-$ID.scope" '[[$a, [[$d, 5], ["web.service", 3]]], [$b, [["other.service", 7]]]] | sort')"
expect_eq "--all-netns: the units summed across namespaces" \
	"$(jq -c '[.consumers[] | select(.name == "other.service" or .name == "web.service") | [.name, .sockets]]' <<<"$OUT")" \
	'[["other.service",7],["web.service",4]]'

# why and audit name the unit beside the process.
run "$EPHPORT" --netns "$ns" why 40500
expect_in "why: the holder's unit" "unit web.service" "$OUT"
run "$EPHPORT" --netns "$ns" why 40500 --json
expect_eq "why --json: the holder's unit" \
	"$(jq -r '[.holders[].owner.unit] | unique | join(",")' <<<"$OUT")" "web.service"
run "$EPHPORT" --netns "$ns" audit
expect_in "audit: the listener's service column" "web.service" "$OUT"

# The overview names the unit too.
run "$EPHPORT" --netns "$ns"
expect_in "overview: who holds the fullest destination" \
	"held by: docker-0123456789ab....scope 5, web.service 3" "$(tr -s ' \n' '  ' <<<"$OUT")"

# Where no socket is in a unit, the overview names containers.
ns3=$(ns_add by3)
ctl srv3 "$ns3" ""
say srv3 listen 127.0.0.1 5000
ctl lxc "$ns3" "$LXC"
say lxc connect 127.0.0.1 5000 4
run "$EPHPORT" --netns "$ns3"
expect_in "overview: a container where no unit is named" \
	"held by: lxc:ephtest-$$ 4" "$(tr -s ' \n' '  ' <<<"$OUT")"
run "$EPHPORT" --netns "$ns3" --json
expect_eq "overview --json: counted by container" \
	"$(jq -c '[.usage.by, (.usage.tuples[0].consumers[0] | [.name, .sockets])]' <<<"$OUT")" \
	"[\"container\",[\"lxc:ephtest-$$\",4]]"

# Bad input: a clear error, exit 2, JSON error object.
run "$EPHPORT" --netns "$ns" usage --by pod
expect_rc "--by pod is refused" 2
expect_in "--by pod: says what is expected" \
	"expected unit, container, cgroup, user or process" "$ERR"
run "$EPHPORT" --netns "$ns" usage --by unit --by user
expect_rc "--by twice is refused" 2
run "$EPHPORT" --netns "$ns" usage --by --json
expect_rc "--by without a value is refused" 2

finish
