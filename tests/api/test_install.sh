#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The library as a user outside the tree gets it: `meson install` into a
# throw-away root, then examples/portcheck.c built with nothing but
# `pkg-config --cflags --libs libephport` and run against the installed
# library, in a namespace of its own.
. "$(dirname "$0")/../e2e/lib.sh"
: "${MESON_BUILD_ROOT:?}"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"

dest="$TMP/root"
run meson install -C "$MESON_BUILD_ROOT" --no-rebuild --destdir "$dest"
expect_rc "meson install into a throw-away root" 0
pc=$(find "$dest" -name libephport.pc | head -1)
check "the pkg-config file is installed" test -n "$pc"
check "the umbrella header is installed" test -f "$(find "$dest" -path '*/include/ephport/ephport.h' | head -1)"
export PKG_CONFIG_PATH="${pc%/*}"
# The .pc file names the prefix it was built for; inside DESTDIR that is
# under $dest.
export PKG_CONFIG_SYSROOT_DIR="$dest"
flags=$(pkg-config --cflags --libs libephport)
expect_rc "pkg-config knows libephport" 0
# A sanitized build installs a sanitized library: the program needs the
# same runtime.
san=$(meson introspect "$MESON_BUILD_ROOT" --buildoptions |
	jq -r '.[] | select(.name == "b_sanitize") | .value')
[ "$san" = none ] && san= || san="-fsanitize=$san"
run cc -Wall -Wextra -Werror $san -o "$TMP/portcheck" "$SRC/examples/portcheck.c" $flags
expect_rc "examples/portcheck.c builds with pkg-config's flags alone" 0
libdir=$(pkg-config --variable=libdir libephport)
check "it links the installed library, not the build tree's" \
	sh -c "LD_LIBRARY_PATH='$libdir' ldd '$TMP/portcheck' | grep -q '$dest'"

if [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1; then
	ns=$(ns_add install)
	run ip netns exec "$ns" env LD_LIBRARY_PATH="$libdir" "$TMP/portcheck" 7000
	expect_rc "portcheck: a free port can be bound (exit 0)" 0
	expect_in "it reports the library's version" "libephport " "$OUT"
	expect_in "and the verdict" "port 7000: can be bound" "$OUT"
	expect_in "pick answers through the installed library" "pick: portcheck would get port " "$OUT"
	ip netns exec "$ns" python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("0.0.0.0", 7000)); s.listen()
print("ready", flush=True); time.sleep(120)' >"$TMP/ready" 2>&1 &
	holder=$!
	for _ in $(seq 100); do grep -q ready "$TMP/ready" && break; sleep 0.05; done
	run ip netns exec "$ns" env LD_LIBRARY_PATH="$libdir" "$TMP/portcheck" 7000
	expect_rc "portcheck: a listened port cannot (exit 1)" 1
	expect_in "the holder is a listener" "holder: listener" "$OUT"
	expect_in "and the remedies come as codes" "remedy: stop-process" "$OUT"
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
else
	tap_ok "# SKIP running the example needs root for a namespace"
fi
finish
