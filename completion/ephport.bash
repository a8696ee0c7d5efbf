# SPDX-License-Identifier: MIT
# bash completion for ephport(8).
#
# The commands and every command's options are read from the ephport being
# completed, from "ephport --help" and "ephport COMMAND --help" (once per
# binary and command in a shell), so that they follow the binary and cannot
# drift from it. The values come from the system: namespace names from
# /run/netns and pid:PID forms from /proc after --netns, systems from
# "ephport ranges --os --json" after --os, assigned services from "ephport
# pick --list --json" after pick --release, kinds after --by, the reserved
# ports after unreserve, the current range after set-range, the ports audit
# would reserve after reserve, files and directories where an option takes
# them, and an option's documented default (66.7% after --warning) where
# --help names one. Global options complete before and after the command.
# Nothing here needs bash-completion's helpers.

declare -gA _ephport_cache

# _ephport_help BIN [COMMAND]: what BIN's (COMMAND's) --help offers, into
# _ephport_h (and the cache): a line per command, "cmd NAME", and per
# option, "opt LONG LETTER ARG DEFAULT" ("-" for an empty field; ARG is the
# value's placeholder, in brackets when the value is optional). Run it in
# the completing shell, not in $(...), or the cache is lost.
_ephport_help() {
	local key="$1|${2-}" line sec='' out='' re_opt re_def re_cmd
	local name='' letter='' arg='' desc='' def
	if [[ -n ${_ephport_cache[$key]+set} ]]; then
		_ephport_h=${_ephport_cache[$key]}
		return
	fi
	# "  -t, --top N   text" or "      --no-owners   text"; a placeholder
	# is in capitals ("--watch [S]", "--listen ADDR:PORT").
	re_opt='^  (-([A-Za-z]), |    )--([a-z][a-z0-9-]*)( (\[[A-Z][A-Z0-9:_-]*\]|[A-Z][A-Z0-9:_-]*))?( +(.*))?$'
	re_def='default:? ([0-9][^ ,;)]*)'
	re_cmd='^  ([a-z][a-z-]*)( |$)'
	while IFS= read -r line || [[ -n $name ]]; do
		# An option's text ends at the next option or section.
		if [[ -n $name && ( -z $line || $line =~ $re_opt ) ]]; then
			[[ $desc =~ $re_def ]] && def=${BASH_REMATCH[1]} || def=-
			out+="opt $name ${letter:--} ${arg:--} $def"$'\n'
			name=
		fi
		case $line in
		"") sec= ;;
		Commands: | Options: | "Global options"*:) sec=$line ;;
		*)
			if [[ $sec == Commands: && $line =~ $re_cmd ]]; then
				out+="cmd ${BASH_REMATCH[1]}"$'\n'
			elif [[ $sec == *ptions*: && $line =~ $re_opt ]]; then
				letter=${BASH_REMATCH[2]} name=${BASH_REMATCH[3]}
				arg=${BASH_REMATCH[5]} desc=${BASH_REMATCH[7]}
			elif [[ -n $name ]]; then
				desc+=" $line"
			fi
			;;
		esac
	done < <("$1" ${2:+"$2"} --help 2>/dev/null)
	_ephport_cache[$key]=$out
	_ephport_h=$out
}

# _ephport_opt BIN COMMAND WORD: the line of the option WORD names
# ("--name", an abbreviation that fits it alone, or "-x"), or nothing.
_ephport_opt() {
	local kind name letter rest found='' n=0 w=$3 _ephport_h
	_ephport_help "$1" "$2"
	while read -r kind name letter rest; do
		[[ $kind == opt ]] || continue
		if [[ $w == --?* ]]; then
			if [[ $name == "${w#--}" ]]; then
				printf 'opt %s %s %s\n' "$name" "$letter" "$rest"
				return
			elif [[ $name == "${w#--}"* ]]; then
				found="opt $name $letter $rest" n=$((n + 1))
			fi
		elif [[ $w == -? && $letter == "${w#-}" ]]; then
			printf 'opt %s %s %s\n' "$name" "$letter" "$rest"
			return
		fi
	done <<<"$_ephport_h"
	((n == 1)) && printf '%s\n' "$found"
}

# _ephport_list BIN COMMAND KIND: the commands ("cmd") or the long options
# ("opt", as --name) of a --help.
_ephport_list() {
	local kind name _ephport_h
	_ephport_help "$1" "$2"
	while read -r kind name _; do
		[[ $kind == cmd && $3 == cmd ]] && printf '%s\n' "$name"
		[[ $kind == opt && $3 == opt ]] && printf -- '--%s\n' "$name"
	done <<<"$_ephport_h"
}

# _ephport_words: COMP_WORDS joined back into the words the command will
# get (bash splits "--netns=pid:12" at '=' and ':'), into words[] and
# cword; tok is the end of the current word, after its last break, which
# is what bash replaces.
_ephport_words() {
	local line='' i t ws glue=0
	words=() cword=-1
	[[ -n ${COMP_LINE+set} ]] && line=${COMP_LINE:0:COMP_POINT}
	for ((i = 0; i <= COMP_CWORD; i++)); do
		t=${COMP_WORDS[i]}
		if [[ -n ${COMP_LINE+set} ]]; then
			# Joined unless blanks stand between.
			ws=0
			while [[ $line == [$' \t\n']* ]]; do
				line=${line:1} ws=1
			done
			((i == COMP_CWORD)) && t=$line
			line=${line:${#t}}
		elif [[ $t =~ ^[=:@]+$ ]]; then
			# Without the line: a word break joins its neighbours.
			ws=0 glue=1
		else
			ws=$((!glue)) glue=0
		fi
		if ((i == 0 || ws || cword < 0)); then
			words+=("$t")
			cword=$((${#words[@]} - 1))
		else
			words[cword]+=$t
		fi
	done
	tok=${t-}
	[[ $tok =~ ^[=:@]+$ ]] && tok=
}

# _ephport_json_names JSON MEMBER: the "name" of each object in the array
# MEMBER, in one line of JSON.
_ephport_json_names() {
	local json=$1 re='"name":"([^"]*)"'
	[[ $json == *"\"$2\":["* ]] || return
	json=${json#*"\"$2\":["}
	while [[ $json =~ $re ]]; do
		printf '%s\n' "${BASH_REMATCH[1]}"
		json=${json#*"${BASH_REMATCH[0]}"}
	done
}

# _ephport_netns VALUE: the names under /run/netns and "pid:"; after
# "pid:", one pid per distinct namespace of a running process (its
# lowest); after a slash, files.
_ephport_netns() {
	local f
	if [[ $1 == */* ]]; then
		compgen -f -- "$1"
	elif [[ $1 == pid:* ]]; then
		# The namespace's inode, behind each process's link.
		stat -L -c '%i %n' /proc/[0-9]*/ns/net 2>/dev/null |
			sort -t/ -k3,3n |
			awk '!seen[$1]++ { split($2, p, "/"); print "pid:" p[3] }'
	else
		for f in /run/netns/*; do
			[[ -e $f ]] && printf '%s\n' "${f##*/}"
		done
		echo pid:
	fi
}

# _ephport_assigned: the names pick has assigned ports to, in the
# assignments file the command line names (else the default one).
_ephport_assigned() {
	_ephport_json_names "$("$bin" pick --list --json \
		${assignments:+--assignments "$assignments"} 2>/dev/null)" assignments
}

# _ephport_values COMMAND OPTION-LINE VALUE: candidates for an option's
# value.
_ephport_values() {
	local name arg def head='' s
	read -r _ name _ arg def <<<"$2"
	case $name:$arg in
	netns:*) _ephport_netns "$3" ;;
	os:LIST)
		# A comma-separated list: its last name.
		[[ $3 == *,* ]] && head=${3%,*},
		for s in $(_ephport_json_names "$("$bin" ranges --os --json 2>/dev/null)" os); do
			[[ ,$head == *",$s,"* ]] || printf '%s\n' "$head$s"
		done
		if [[ -z $head ]]; then
			echo all
			[[ $1 == pick ]] && echo current
		fi
		;;
	by:KIND)
		printf '%s\n' unit container cgroup user process
		[[ $1 == serve || $1 == metrics ]] && echo none
		;;
	release:NAME) _ephport_assigned ;;
	*:FILE) compgen -f -- "$3" ;;
	*:DIR) compgen -d -- "$3" ;;
	*:PID) compgen -G '/proc/[0-9]*' | sed 's|^/proc/||' ;;
	*) [[ $def != - ]] && printf '%s\n' "$def" ;;
	esac
}

# _ephport_positional COMMAND N: candidates for the command's Nth word
# that is not an option (0: the first).
_ephport_positional() {
	local json re
	case $1:$2 in
	:0 | help:0) _ephport_list "$bin" "" cmd ;;
	pick:0) _ephport_assigned ;;
	reserve:0)
		# What audit would reserve.
		json=$("$bin" ${netns:+--netns "$netns"} audit --no-owners --json 2>/dev/null)
		re='"reserve_ports":"([^"]+)"'
		[[ $json =~ $re ]] && printf '%s\n' "${BASH_REMATCH[1]}"
		;;
	unreserve:0)
		# What is reserved: each entry, and the whole list.
		json=$("$bin" ${netns:+--netns "$netns"} ranges --json 2>/dev/null)
		re='"reserved":\{"ports":"([^"]+)"'
		if [[ $json =~ $re ]]; then
			tr , '\n' <<<"${BASH_REMATCH[1]}"
			[[ ${BASH_REMATCH[1]} == *,* ]] && printf '%s\n' "${BASH_REMATCH[1]}"
		fi
		;;
	set-range:[01])
		# The bounds now.
		json=$("$bin" ${netns:+--netns "$netns"} ranges --json 2>/dev/null)
		re='"range":\{"low":([0-9]+),"high":([0-9]+)'
		[[ $json =~ $re ]] && printf '%s\n' "${BASH_REMATCH[$2 + 1]}"
		;;
	esac
}

_ephport() {
	local bin=${COMP_WORDS[0]} words cword tok cmd='' netns='' assignments=''
	local i w opt name arg npos=0 ddash=0 value_of='' pre='' cur c _ephport_h
	local -a cands=()
	# A command typed as ~/bin/ephport: the shell has not expanded it.
	# shellcheck disable=SC2088
	[[ $bin == "~/"* ]] && bin=$HOME/${bin#"~/"}
	COMPREPLY=()
	_ephport_words
	cur=${words[cword]}

	# The words before the cursor: global options, the command, its
	# options (they may follow its arguments) and their values.
	_ephport_help "$bin" ""
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if ((ddash)) || [[ $w != -?* ]]; then
			if [[ -z $cmd ]] && ((!ddash)); then
				cmd=$w
				_ephport_help "$bin" "$cmd"
			else
				npos=$((npos + 1))
			fi
			continue
		fi
		if [[ $w == -- ]]; then
			ddash=1
			continue
		fi
		opt=$(_ephport_opt "$bin" "$cmd" "${w%%=*}")
		# A cluster of short flags: the last letter may take a value.
		[[ -n $opt || $w == --* ]] || opt=$(_ephport_opt "$bin" "$cmd" "-${w: -1}")
		[[ -n $opt ]] || continue
		read -r _ name _ arg _ <<<"$opt"
		[[ $arg == - || $arg == \[* ]] && continue
		if [[ $w == --*=* ]]; then
			w=${w#*=}
		elif ((i + 1 < cword)); then
			i=$((i + 1))
			w=${words[i]}
		else
			value_of=$opt
			break
		fi
		case $name in
		netns) netns=$w ;;
		assignments | registry) assignments=$w ;;
		esac
	done

	if [[ -n $value_of ]]; then
		mapfile -t cands < <(_ephport_values "$cmd" "$value_of" "$cur")
	elif ((!ddash)) && [[ $cur == --*=* ]]; then
		pre=${cur%%=*}=
		opt=$(_ephport_opt "$bin" "$cmd" "${cur%%=*}")
		[[ -n $opt ]] && mapfile -t cands < <(_ephport_values "$cmd" "$opt" "${cur#*=}")
	elif ((!ddash)) && [[ $cur == -* ]]; then
		mapfile -t cands < <(_ephport_list "$bin" "$cmd" opt)
	else
		mapfile -t cands < <(_ephport_positional "$cmd" "$npos")
		# A command that takes no word here: its options.
		if ((${#cands[@]} == 0)) && [[ -n $cmd && -z $cur ]] && ((!ddash)); then
			mapfile -t cands < <(_ephport_list "$bin" "$cmd" opt)
		fi
	fi

	# Bash replaces only TOK, the end of the word after its last break.
	for c in "${cands[@]}"; do
		c=$pre$c
		[[ -n $c && $c == "$cur"* ]] || continue
		COMPREPLY+=("${c:${#cur}-${#tok}}")
		[[ $c == *[:,=/] ]] && compopt -o nospace 2>/dev/null
	done
	return 0
}

complete -F _ephport ephport
