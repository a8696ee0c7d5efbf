#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One meaning per option letter: every command's letters, read from its
# --help, each stand for one long option across all commands (and each
# long option has one letter or none everywhere); the table in ephport(8),
# OPTION LETTERS, says the same; and the parser takes exactly the letters
# --help shows, so that --help can be trusted.
. "$(dirname "$0")/lib.sh"

# The table lives in the part of ephport(8) no command page holds.
MAN="$(dirname "$0")/../../man/ephport.8.in"
commands=$("$EPHPORT" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && /^  [a-z]/ {print $1}')
check "--help lists commands" test -n "$commands"

# options HELP-TEXT: "LETTER LONG" per option ("- LONG" without a letter).
options() {
	sed -nE 's/^  -([A-Za-z]), --([a-z][a-z-]*).*/\1 \2/p; s/^      --([a-z][a-z-]*).*/- \1/p' <<<"$1"
}

declare -A long_of cmds_of letter_of where_of
errors=
# note LETTER LONG WHERE: records one option of one command (or "global").
note() {
	local l=$1 n=$2 w=$3
	if [ "$l" != - ]; then
		if [ -n "${long_of[$l]:-}" ] && [ "${long_of[$l]}" != "$n" ]; then
			errors+=" -$l:--${long_of[$l]}(${cmds_of[$l]})/--$n($w)"
		fi
		long_of[$l]=$n
		case " ${cmds_of[$l]:-} " in *" $w "*) ;; *) cmds_of[$l]="${cmds_of[$l]:+${cmds_of[$l]} }$w" ;; esac
	fi
	if [ -n "${where_of[$n]:-}" ] && [ "${letter_of[$n]}" != "$l" ]; then
		errors+=" --$n:${letter_of[$n]}(${where_of[$n]})/$l($w)"
	fi
	letter_of[$n]=$l
	where_of[$n]=$w
}

global=$("$EPHPORT" --help | sed -n '/^Global options/,/^$/p')
while read -r l n; do
	note "$l" "$n" global
done < <(options "$global")
check "the global options have letters" test "${long_of[n]:-}" = netns
declare -A letters_of # the letters each command's --help shows
for c in $commands; do
	letters=
	while read -r l n; do
		[ "$l" = - ] || letters+=$l
		# A global option shown in a command's help is still global.
		if [ "${where_of[$n]:-}" = global ]; then
			[ "${letter_of[$n]}" = "$l" ] || errors+=" --$n:global/$l($c)"
			continue
		fi
		note "$l" "$n" "$c"
	done < <(options "$("$EPHPORT" "$c" --help)")
	letters_of[$c]=$letters
done
expect_eq "each letter means one long option in every command, and each long option has one letter or none" "$errors" ""

# The table the helps make, one line per letter: "L long commands".
table() {
	local l
	for l in "${!long_of[@]}"; do
		echo "$l ${long_of[$l]} $(tr ' ' '\n' <<<"${cmds_of[$l]}" | sort | paste -sd, -)"
	done | LC_ALL=C sort
}
from_help=$(table)

# The same from ephport(8): ".BR \-L ", " \-\-long", then the commands
# ("every command": the global ones); commands this build lacks dropped.
from_man=$(awk '
	/^\.SH / { inside = ($0 == ".SH OPTION LETTERS") ; next }
	inside && /^\.BR \\-[A-Za-z] / { gsub(/\\-/, "-"); gsub(/"/, ""); letter = substr($2, 2); long = substr($4, 3); getline; print letter, long, $0 }
' "$MAN" | while read -r l n cmds; do
	if [ "$cmds" = "every command" ]; then
		echo "$l $n global"
		continue
	fi
	kept=
	for c in $(tr -d ' ' <<<"$cmds" | tr ',' ' '); do
		grep -qx -- "$c" <<<"$commands" && kept+="$c "
	done
	[ -n "$kept" ] && echo "$l $n $(tr ' ' '\n' <<<"${kept% }" | sort | paste -sd, -)"
done | LC_ALL=C sort)
check "ephport(8) has an OPTION LETTERS table" test -n "$from_man"
expect_eq "ephport(8)'s OPTION LETTERS table says what the helps say" "$from_man" "$from_help"

# The parser takes the letters --help shows, and no other. A letter it
# takes is followed by an unknown long option, so that nothing runs: the
# answer is an error about that option, or about a value, never "unknown
# option '-L'". Run in a namespace of its own, if anything did run.
if [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1; then
	ns=$(ns_add letters)
	mismatch=$(ip netns exec "$ns" bash -c '
		for c in "" $2; do
			# The global letters, and the command'"'"'s own.
			shown=$3
			[ -n "$c" ] && shown+=$(sed -n "s/^$c //p" <<<"$4")
			for l in {a..z} {A..Z}; do
				err=$("$1" $c -$l --no-such-option-zz 2>&1 >/dev/null </dev/null)
				unknown=no
				case "$err" in *"unknown option '\''-$l'\''"*) unknown=yes ;; esac
				case "$shown" in *$l*) want=no ;; *) want=yes ;; esac
				[ "$unknown" = "$want" ] || printf " %s-%s" "${c:+$c }" "$l"
			done
		done' sh "$EPHPORT" "$(echo $commands)" \
		"$(options "$global" | cut -d' ' -f1 | tr -d '\n-')" \
		"$(for c in $commands; do echo "$c ${letters_of[$c]}"; done)")
	expect_eq "every command takes exactly the letters its --help shows" "$mismatch" ""
else
	tap_ok "# SKIP the parser's letters are tried in a namespace (root)"
fi

# The letters that moved: -l is serve's --listen, -p audit's --ports, -f
# audit's --file, -r pick's --range; pick --list and trace's --port,
# --failures and --record have no letter now.
run "$EPHPORT" pick -l
expect_rc "pick -l is not --list (2)" 2
expect_in "it is unknown to pick" "unknown option '-l'" "$ERR"
if grep -qx trace <<<"$commands"; then
	for l in p f r; do
		run timeout 10 "$EPHPORT" trace -$l --duration 0
		expect_in "trace -$l is unknown" "unknown option '-$l'" "$ERR"
	done
fi
run "$EPHPORT" pick --list --assignments "$TMP/none"
expect_rc "pick --list still works (0)" 0
finish
