#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Shell completion. completion/ephport.bash is driven as bash drives it:
# COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT made from a command line
# the way readline splits it (at blanks, and around '=', ':' and '@'), then
# _ephport, then COMPREPLY checked: the commands, each command's options
# against its --help, a namespace made here after --netns (and pid:PID of a
# process in it), the systems of 'ranges --os --json' after --os, an
# assignment made here after pick --release, the kinds after --by, files,
# defaults, and the namespace's own ports and range after reserve,
# unreserve and set-range. completion/_ephport is driven through a real
# zsh: an interactive one on a pty (zpty) with compinit, whose compadd
# writes what _ephport offers for a line ended by Tab.
. "$(dirname "$0")/lib.sh"
require_root
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
command -v jq >/dev/null || skip_all "needs jq"
command -v python3 >/dev/null || skip_all "needs python3 to make a listener"

# The completed command is "ephport", found on PATH, as for a user.
mkdir -p "$TMP/bin"
ln -s "$EPHPORT" "$TMP/bin/ephport"
export PATH="$TMP/bin:$PATH"

check "completion/ephport.bash is valid bash" bash -n "$SRC/completion/ephport.bash"
# Sourced here, under set -u: it must not trip on it.
. "$SRC/completion/ephport.bash"
expect_in "it registers _ephport for ephport" "-F _ephport" "$(complete -p ephport)"

# What compopt was asked, as bash is not completing for real here.
compopt() { COMPOPTS+=" $*"; }

# complete LINE: the candidates for the end of LINE, sorted, one a line.
complete_line() {
	local s=$1 w='' c i
	COMP_WORDS=()
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		' ')
			[[ -n $w ]] && COMP_WORDS+=("$w")
			w=
			;;
		[=:@])
			if [[ -n $w && $w != *[=:@] ]]; then
				COMP_WORDS+=("$w")
				w=
			fi
			w+=$c
			;;
		*)
			if [[ $w =~ ^[=:@]+$ ]]; then
				COMP_WORDS+=("$w")
				w=
			fi
			w+=$c
			;;
		esac
	done
	COMP_WORDS+=("$w")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$s
	COMP_POINT=${#s}
	COMPREPLY=()
	COMPOPTS=
	_ephport ephport "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	((${#COMPREPLY[@]})) && printf '%s\n' "${COMPREPLY[@]}" | sort
}

# sorted WORD...: the words, sorted, one a line.
sorted() {
	printf '%s\n' "$@" | sort
}

# The long options of a --help, in its option sections.
help_options() {
	ephport "$@" --help | sed -n '/^\(Options\|Global options.*\):$/,/^$/p' |
		grep -oE '^  (-[A-Za-z], |    )--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sort
}

commands=$(ephport --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && /^  [a-z]/ { print $1 }')
expect_eq "the commands, after ephport" "$(complete_line 'ephport ')" "$(sort <<<"$commands")"
expect_eq "the commands starting with 'u'" "$(complete_line 'ephport u')" "$(sorted unreserve usage)"
expect_eq "the global options before a command" "$(complete_line 'ephport -')" "$(help_options)"
expect_eq "a command after a global option and its value" \
	"$(complete_line 'ephport --netns web ')" "$(sort <<<"$commands")"
expect_eq "the commands after 'help'" "$(complete_line 'ephport help ')" "$(sort <<<"$commands")"
for c in $commands; do
	expect_eq "$c: its options are those of '$c --help'" \
		"$(complete_line "ephport $c --")" "$(help_options "$c")"
done
expect_eq "options after the command's own words and global options" \
	"$(complete_line 'ephport --json why 8080 --t')" "--tcp"
expect_eq "a command that takes no word offers its options" \
	"$(complete_line 'ephport ranges ')" "$(help_options ranges)"
expect_eq "a flag takes no value: ranges --os offers options" \
	"$(complete_line 'ephport ranges --os ')" "$(help_options ranges)"

# Namespaces: this test's, by name, and pid: forms.
ns=$(ns_add comp)
expect_eq "--netns: the namespaces under /run/netns" \
	"$(complete_line "ephport --netns ${ns%comp}")" "$ns"
expect_eq "--netns=NAME, split at '=' by bash" \
	"$(complete_line "ephport usage --netns=${ns%comp}")" "$ns"
expect_eq "-n, the short form, after the command" \
	"$(complete_line "ephport ranges -n ${ns%comp}")" "$ns"
complete_line 'ephport --netns p' >"$TMP/out"
check "--netns offers pid:" grep -qx pid: "$TMP/out"
expect_in "without a space after it" "-o nospace" "$COMPOPTS"
coproc HOLD { ip netns exec "$ns" python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 40150))
s.listen()
print("READY", flush=True)
sys.stdin.read()'; }
read -r ready <&"${HOLD[0]}"
expect_eq "a listener holds port 40150 in the namespace" "$ready" READY
pid=$(ip netns pids "$ns" | sort -n | head -1)
complete_line 'ephport --netns pid:' >"$TMP/out"
check "after pid:, a process of each namespace (the one made here)" grep -qx "$pid" "$TMP/out"
complete_line "ephport --netns=pid:$pid" >"$TMP/out"
check "pid:PID, split at '=' and ':' by bash, completes the number alone" grep -qx "$pid" "$TMP/out"
expect_eq "a path after --netns: files" \
	"$(complete_line 'ephport --netns /proc/self/ns/ne')" "/proc/self/ns/net"

# Systems, from ranges --os --json.
mapfile -t systems < <(ephport ranges --os --json | jq -r '.os[].name')
expect_eq "audit --os: every system, and all" \
	"$(complete_line 'ephport audit --os ')" "$(sorted "${systems[@]}" all)"
expect_eq "pick --os: every system, all and current" \
	"$(complete_line 'ephport pick --os ')" "$(sorted "${systems[@]}" all current)"
expect_eq "a list: its last name" \
	"$(complete_line 'ephport audit --os=linux,w')" "$(sorted "${systems[@]}" | grep '^w' | sed 's/^/linux,/')"
expect_eq "a name already in the list is not offered again" \
	"$(complete_line 'ephport audit -o linux,l')" "$(sorted "${systems[@]}" | grep '^l' | grep -vx linux | sed 's/^/linux,/')"
for name in all current; do
	run ephport pick --os "$name" --json
	check "pick accepts --os $name (1: no port, never 2)" test "$RC" -le 1
done

# Kinds, as each command's error message names them.
kinds() {
	ephport "$@" --by x 2>&1 | sed -n 's/.*expected //p' | tr -d ',' | sed 's/ or / /' | tr ' ' '\n' | sort -u
}
expect_eq "usage --by: the kinds usage accepts" "$(complete_line 'ephport usage --by ')" "$(kinds usage)"
expect_eq "-b, the short form" "$(complete_line 'ephport usage -b c')" "$(sorted cgroup container)"
if grep -qx serve <<<"$commands"; then
	expect_eq "serve --by: its kinds, none included" "$(complete_line 'ephport serve --by ')" "$(kinds serve)"
	expect_eq "metrics --by=: its kinds" "$(complete_line 'ephport metrics --by=n')" "none"
	expect_eq "serve --listen: the default address" \
		"$(complete_line 'ephport serve --listen ')" "127.0.0.1:8720"
	expect_eq "after ADDR: (split at ':'), the port" \
		"$(complete_line 'ephport serve --listen 127.0.0.1:')" "8720"
fi

# Sysctl-style values: the documented defaults.
expect_eq "usage --warning: the default threshold" "$(complete_line 'ephport usage --warning ')" "66.7%"
expect_eq "usage --critical=: the default threshold" "$(complete_line 'ephport usage --critical=')" "90%"
expect_eq "an abbreviated option takes its value too" "$(complete_line 'ephport usage --warn ')" "66.7%"

# Files and directories.
mkdir -p "$TMP/files/dir"
: >"$TMP/files/ports.txt"
expect_eq "audit --file: files" "$(complete_line "ephport audit --file $TMP/files/p")" "$TMP/files/ports.txt"
if grep -qx metrics <<<"$commands"; then
	expect_eq "metrics --textfile: directories only" \
		"$(complete_line "ephport metrics --textfile $TMP/files/")" "$TMP/files/dir"
fi
expect_eq "reserve --root: directories only" \
	"$(complete_line "ephport reserve 9000 --root $TMP/files/")" "$TMP/files/dir"

# pick --release: the assignments of the file the line names.
run ephport --netns "$ns" pick svc-completion --assignments "$TMP/assign/ports"
expect_rc "a port is assigned to svc-completion" 0
expect_eq "pick --release: the assigned names" \
	"$(complete_line "ephport pick --assignments $TMP/assign/ports --release ")" "svc-completion"
expect_eq "pick NAME: the assigned names too" \
	"$(complete_line "ephport pick --assignments=$TMP/assign/ports s")" "svc-completion"
expect_eq "another assignments file, another list" \
	"$(complete_line "ephport pick --assignments $TMP/none --release ")" ""

# The namespace's own ports and range.
ns_sysctl "$ns" net.ipv4.ip_local_port_range "40000 50001"
ns_sysctl "$ns" net.ipv4.ip_local_reserved_ports "40100,40200-40210"
expect_eq "set-range: the low bound now" "$(complete_line "ephport --netns $ns set-range ")" 40000
expect_eq "then the high one" "$(complete_line "ephport --netns $ns set-range 40000 ")" 50001
expect_eq "unreserve: each reserved entry, and the list" \
	"$(complete_line "ephport --netns $ns unreserve ")" "$(sorted 40100 40200-40210 40100,40200-40210)"
expect_eq "reserve: what audit would reserve (the listener's port)" \
	"$(complete_line "ephport reserve --netns $ns ")" "40150"

# zsh: _ephport, through compinit, on a real line.
if ! command -v zsh >/dev/null; then
	tap_ok "# SKIP zsh is not installed (scripts/bootstrap --test installs it)"
	finish
fi
cat >"$TMP/zcomp.zsh" <<'EOF'
# zcomp.zsh COMPDIR LINE: what zsh offers at the end of LINE (Tab), one a
# line, from an interactive zsh on a pty with compinit and COMPDIR first in
# its fpath; its compadd is wrapped to write what it adds.
zmodload zsh/zpty || exit 2
compdir=$1 line=$2
out=$(mktemp) || exit 2
zpty z zsh -f -i
zpty -w z "PS1= PS2= RPROMPT=; unsetopt zle_bracketed_paste 2>/dev/null"
zpty -w z "fpath=(${(q)compdir} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "zstyle ':completion:*' menu no; bindkey '^I' complete-word"
zpty -w z "compadd() { local -a __hits; if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd \"\$@\"; return; fi; builtin compadd -A __hits \"\$@\"; local r=\$?; (( \$#__hits )) && print -rl -- \$__hits >>${(q)out}; builtin compadd \"\$@\"; return r }"
zpty -w z "_zcomp_done() { print -r -- ZCOMP-DONE >>${(q)out} }; comppostfuncs=(_zcomp_done)"
zpty -w -n z "$line"$'\t'
for i in {1..200}; do
	grep -qx ZCOMP-DONE $out && break
	sleep 0.05
done
zpty -d z
grep -vx ZCOMP-DONE $out
done=$(grep -cx ZCOMP-DONE $out)
rm -f $out
(( done )) || { print -u2 "zcomp.zsh: no completion for '$line'"; exit 3 }
EOF
# zcomplete LINE: zsh's candidates, sorted and unique.
zcomplete() {
	zsh -f "$TMP/zcomp.zsh" "$SRC/completion" "$1" 2>"$TMP/zerr" | sort -u
}
expect_eq "zsh: the commands, after ephport" "$(zcomplete 'ephport ')" "$(sort <<<"$commands")"
expect_eq "zsh: the long options of 'usage --help'" "$(zcomplete 'ephport usage --')" "$(help_options usage)"
expect_eq "zsh: the long options of 'pick --help'" "$(zcomplete 'ephport pick --')" "$(help_options pick)"
expect_eq "zsh: the namespace made here after --netns" "$(zcomplete "ephport --netns ${ns%comp}")" "$ns"
expect_eq "zsh: --os, the systems" "$(zcomplete 'ephport audit --os ')" "$(sorted "${systems[@]}" all)"
expect_eq "zsh: a list of systems, its next name" \
	"$(zcomplete 'ephport pick --os linux,w')" "$(sorted "${systems[@]}" | grep '^w')"
expect_eq "zsh: --by, the kinds" "$(zcomplete 'ephport usage --by ')" "$(kinds usage)"
expect_eq "zsh: --warning, the default" "$(zcomplete 'ephport usage --warning ')" "66.7%"
expect_eq "zsh: pick --release, the assigned names" \
	"$(zcomplete "ephport pick --assignments $TMP/assign/ports --release ")" "svc-completion"
expect_eq "zsh: set-range, the namespace's low bound" \
	"$(zcomplete "ephport --netns $ns set-range ")" "40000"
finish
