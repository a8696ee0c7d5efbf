#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ephport --version: the version, then what this kernel lets ephport use,
# each feature a yes, no or unknown with why; the text and --json say the
# same, and each answer agrees with what the system shows by other means.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip_all "needs jq"

run "$EPHPORT" --version
expect_rc "--version exits 0" 0
text=$OUT
expect_eq "the first line is the version alone" \
	"$(head -1 <<<"$text" | sed 's/[0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*$/X.Y.Z/')" "ephport X.Y.Z"
expect_in "the second names the library and the kernel" \
	"libephport $(head -1 <<<"$text" | cut -d' ' -f2), Linux $(uname -r)" "$text"
check "no line is wider than 79 columns" \
	sh -c '! printf "%s\n" "$1" | grep -q ".\{80\\}"' sh "$text"

run "$EPHPORT" --version --json
expect_rc "--version --json exits 0" 0
json=$OUT
check "--version --json is one JSON object" jq -e 'type == "object"' <<<"$json"
expect_eq "with the version, the library's and the kernel's" \
	"$(jq -r '[.version, .library, .kernel] | join(" ")' <<<"$json")" \
	"$(head -1 <<<"$text" | cut -d' ' -f2) $(head -1 <<<"$text" | cut -d' ' -f2) $(uname -r)"
expect_eq "every feature, each yes, no or unknown with a reason" \
	"$(jq -c '.features | [keys_unsorted[]] | length' <<<"$json"):$(jq -c '[.features[] | select((.state | IN("yes","no","unknown")) and (.why | IN("seen","missing","not-mounted","not-built","no-privilege","depends","error")))] | length' <<<"$json")" \
	"12:12"
expect_eq "the same whichever comes first" \
	"$("$EPHPORT" --json --version | jq -c '.features | map_values(.state)')" \
	"$(jq -c '.features | map_values(.state)' <<<"$json")"
run "$EPHPORT" ranges --version --json
expect_eq "after a command too" "$(jq -r .version <<<"$OUT")" "$(jq -r .version <<<"$json")"

# The text says what the JSON says, row by row.
row() { # row LABEL: the state the text gives LABEL
	sed -n "s/^  $1 *\(yes\|no\|unknown\).*/\1/p" <<<"$text"
}
for pair in "sock_diag TCP:sock_diag_tcp" "sock_diag UDP:sock_diag_udp" \
	"socket cgroups:diag_cgroup_id" "bind flags:diag_sockopt" \
	"cgroup v2:cgroup2" "tcp_tw_reuse_delay:tcp_tw_reuse_delay" \
	"BTF:btf" "bpf_rdonly_cast:bpf_rdonly_cast" "tracepoints:tracepoints" \
	"privileges:bpf_privilege" "trace can run:tracer"; do
	label=${pair%%:*}
	key=${pair#*:}
	expect_eq "text and JSON agree on $key" "$(row "$label")" \
		"$(jq -r ".features.$key.state" <<<"$json")"
done

# Each answer against the system itself.
state() { jq -r ".features.$1.state" <<<"$json"; }
expect_eq "sock_diag answers for TCP here" "$(state sock_diag_tcp)" yes
want=no
[ -e /proc/sys/net/ipv4/tcp_tw_reuse_delay ] && want=yes
expect_eq "tcp_tw_reuse_delay: as /proc/sys has it" "$(state tcp_tw_reuse_delay)" "$want"
want=no
[ -e /sys/kernel/btf/vmlinux ] && want=yes
expect_eq "BTF: as /sys/kernel/btf has it" "$(state btf)" "$want"
mnt=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
expect_eq "cgroup v2: where mountinfo has it" \
	"$(jq -r '.features.cgroup2 | if .state == "yes" then .detail else "none" end' <<<"$json")" \
	"${mnt:-none}"
want=false
"$EPHPORT" trace --help >/dev/null 2>&1 && want=true
expect_eq "built with trace: as the commands say" "$(jq -r .built.trace <<<"$json")" "$want"
want=false
"$EPHPORT" serve --help >/dev/null 2>&1 && want=true
expect_eq "built with serve: as the commands say" "$(jq -r .built.serve <<<"$json")" "$want"
if [ "$(jq -r .built.trace <<<"$json")" = false ]; then
	expect_eq "without the tracer built, trace cannot run" \
		"$(jq -c '[.features.tracer.state, .features.tracer.detail]' <<<"$json")" '["no","tracer_built"]'
fi

if [ "$(id -u)" -eq 0 ]; then
	expect_eq "root has the privileges" "$(state bpf_privilege)" yes
	# Without privileges the tracer cannot run; the answer is still 0.
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$EPHPORT" --version --json
	expect_rc "--version as nobody exits 0" 0
	expect_eq "nobody lacks CAP_BPF and CAP_PERFMON, and cannot trace" \
		"$(jq -c '[.features.bpf_privilege | .state, .why, .detail] + [.features.tracer.state]' <<<"$OUT")" \
		'["no","no-privilege","CAP_BPF,CAP_PERFMON","no"]'
	expect_eq "sock_diag needs no privilege" \
		"$(jq -r .features.sock_diag_tcp.state <<<"$OUT")" yes
	# tracefs unmounted: not a no, ephport trace mounts it.
	run unshare -m sh -c 'umount /sys/kernel/tracing 2>/dev/null; exec "$@"' sh \
		"$EPHPORT" --version --json
	expect_eq "tracefs unmounted: tracepoints unknown, not mounted" \
		"$(jq -c '.features.tracepoints | [.state, .why, .detail]' <<<"$OUT")" \
		'["unknown","not-mounted","/sys/kernel/tracing"]'
	run unshare -m sh -c 'umount /sys/kernel/tracing 2>/dev/null; exec "$@"' sh \
		"$EPHPORT" --version
	expect_in "and says ephport trace mounts it" "(ephport trace mounts it)" "$OUT"
	# sock_diag is asked in the namespace looked at.
	if ip netns list >/dev/null 2>&1; then
		ns=$(ns_add version)
		run "$EPHPORT" --netns "$ns" --version --json
		expect_rc "--version in a namespace exits 0" 0
		expect_eq "it names the namespace and dumps there" \
			"$(jq -c '[.netns, .features.sock_diag_udp.state, .features.diag_sockopt.state]' <<<"$OUT")" \
			"[\"$ns\",\"yes\",\"$(state diag_sockopt)\"]"
	fi
else
	tap_ok "# SKIP privileged cases need root"
fi
run "$EPHPORT" --netns no-such-namespace-$$ --version
expect_rc "a missing namespace cannot be answered (2)" 2
run "$EPHPORT" --version --frobnicate
expect_rc "a bad option beside --version is a usage error (2)" 2
finish
