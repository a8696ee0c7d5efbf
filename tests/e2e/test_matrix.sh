#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ephport usage` against the kernel in random scenarios: each one builds a
# fresh namespace (see matrix.py for what goes in), then connects (or
# binds) until the kernel refuses, asking ephport for its prediction before
# every attempt. Every prediction must be met: exactly, or within
# free_min..free where range bounds of one parity make the kernel's answer
# random.
#
# The seed is printed; MATRIX_SEED=S reruns a seed, MATRIX_ONLY=I only its
# scenario I, MATRIX_COUNT=N sets how many (default 36, about 30 s here).
. "$(dirname "$0")/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "needs python3 to make sockets"
EXHAUST="$(dirname "$0")/exhaust.py"
MATRIX="$(dirname "$0")/matrix.py"

seed=${MATRIX_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
count=${MATRIX_COUNT:-36}
echo "# matrix seed $seed: rerun with MATRIX_SEED=$seed [MATRIX_ONLY=I]"

while IFS=$'\t' read -r i name sysctls addrs steps mode; do
	ns=$(ns_add "m$i") || { tap_not_ok "seed $seed #$i: namespace"; continue; }
	IFS=';' read -ra kvs <<<"$sysctls"
	for kv in "${kvs[@]}"; do
		ns_sysctl "$ns" "${kv%%=*}" "${kv#*=}"
	done
	for a in $addrs; do
		case $a in
		*:*) ip -n "$ns" addr add "$a" dev lo nodad ;;
		*) ip -n "$ns" addr add "$a" dev lo ;;
		esac
	done
	read -ra words <<<"$steps" # split, never globbed ([::1])
	run ip netns exec "$ns" python3 "$EXHAUST" "$EPHPORT" "${words[@]}" \
		</dev/null
	ip netns del "$ns"
	again="MATRIX_SEED=$seed MATRIX_ONLY=$i"
	if [ "$RC" -ne 0 ]; then
		tap_not_ok "seed $seed #$i $name: exhaust.py failed" \
			"rerun: $again" "steps: $steps" "$ERR"
		continue
	fi
	failed=$TAP_FAILED
	check "seed $seed #$i $name ($mode, ${OUT##* })" \
		python3 "$MATRIX" check "$mode" "$OUT"
	if [ "$TAP_FAILED" -gt "$failed" ]; then
		printf '#   %s\n' "rerun: $again" "sysctls: $sysctls" \
			"steps: $steps" "$OUT"
	fi
done < <(python3 "$MATRIX" gen "$seed" "$count" ${MATRIX_ONLY:+"$MATRIX_ONLY"})

finish
