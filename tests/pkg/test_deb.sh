#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages as an administrator and a developer get them:
# scripts/build-deb builds them out of the tree (which stays as it was),
# lintian finds no error, dpkg-deb shows what each holds and needs, and,
# unpacked into a throw-away root, the installed command runs and a program
# builds against the installed library with pkg-config alone. Nothing is
# installed on the host.
. "$(dirname "$0")/../e2e/lib.sh"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$SRC" || exit 2

for tool in dpkg-buildpackage dh lintian; do
	command -v "$tool" >/dev/null ||
		skip_all "needs $tool (scripts/bootstrap --test installs it)"
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

# The packages' version is the project's, and their metadata follows the
# build: these fail fast, before a build.
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
meson_version=$(meson introspect --projectinfo meson.build | jq -r .version)
expect_eq "debian/changelog is at meson.build's version" "$version" "$meson_version"
check "debian/libephport0.symbols lists libephport.map (scripts/deb-symbols)" \
	scripts/deb-symbols --check

# What meson looks for (dependency() and find_program() in the build
# files the package configures), and the Debian package that provides it;
# cmocka is for the unit tests, which the package build turns off.
declare -A provider=([libmnl]=libmnl-dev [libmicrohttpd]=libmicrohttpd-dev
	[libcrypt]=libcrypt-dev [libbpf]=libbpf-dev [threads]=""
	[python3]=python3 [clang]=clang [bpftool]=bpftool)
build_deps=$(sed -n '/^Build-Depends:/,/^[^ ]/p' debian/control)
unmet=
for f in meson.build $(find src -name meson.build); do
	for name in $(grep -oE "(dependency|find_program)\('[^'/]+'" "$f" |
		sed "s/.*('//; s/'//"); do
		[ "$name" = cmocka ] && continue
		if [ -z "${provider[$name]+set}" ]; then
			unmet+=" $name(unknown: add it to this test's map and to Build-Depends)"
		elif [ -n "${provider[$name]}" ]; then
			grep -qE "^[ :a-zA-Z-]*[ ,]${provider[$name]}( |,|$)" <<<"$build_deps" ||
				unmet+=" ${provider[$name]}(for $name)"
		fi
	done
done
expect_eq "Build-Depends has what meson.build looks for" "${unmet# }" ""

in_git=
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	in_git=1
	before=$(git status --porcelain --ignored=no)
fi

dist="$TMP/dist"
start=$(date +%s)
TMPDIR="$TMP" run scripts/build-deb "$dist"
expect_rc "scripts/build-deb builds the packages and lintian finds no error" 0
[ "$RC" -eq 0 ] || printf '%s\n' "$OUT" "$ERR" | tail -60 | sed 's/^/# /'
echo "# package build and lintian: $(($(date +%s) - start)) s"
summary=$(grep '^build-deb: lintian: ' <<<"$OUT")
expect_in "lintian's summary: no errors" "lintian: 0 errors" "$summary"
echo "# ${summary#build-deb: }"

if [ -n "$in_git" ]; then
	expect_eq "the tree is as it was (git status)" \
		"$(git status --porcelain --ignored=no)" "$before"
fi

deb_ephport="$dist/ephport_${version}_$arch.deb"
deb_lib="$dist/libephport0_${version}_$arch.deb"
deb_dev="$dist/libephport-dev_${version}_$arch.deb"
for deb in "$deb_ephport" "$deb_lib" "$deb_dev"; do
	check "${deb##*/} is built" test -f "$deb"
done
check "the .changes and .buildinfo are kept" \
	test -f "$dist/ephport_${version}_$arch.changes" -a \
	-f "$dist/ephport_${version}_$arch.buildinfo"
[ -f "$deb_ephport" ] && [ -f "$deb_lib" ] && [ -f "$deb_dev" ] || finish

# contents DEB: the paths DEB holds, one a line, without the leading ".".
contents() {
	dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\.||'
}
c_ephport=$(contents "$deb_ephport")
c_lib=$(contents "$deb_lib")
c_dev=$(contents "$deb_dev")

# has DESC LISTING PATH: the package listing holds PATH.
has() {
	if grep -qxF "$3" <<<"$2"; then
		tap_ok "$1"
	else
		tap_not_ok "$1" "not in the package: $3"
	fi
}

has "ephport: the command in /usr/sbin" "$c_ephport" /usr/sbin/ephport
# ephport(8) is assembled at build time from man/ephport.8.in.
for page in man/*.8 man/*.8.in; do
	page=${page%.in}
	has "ephport: ${page#man/}" "$c_ephport" "/usr/share/man/man8/${page#man/}.gz"
done
has "ephport: the systemd unit" "$c_ephport" /lib/systemd/system/ephport.service
for f in contrib/prometheus/*; do
	has "ephport: ${f#contrib/} under /usr/share/ephport" "$c_ephport" \
		"/usr/share/ephport/${f#contrib/}"
done
expect_eq "ephport: no unit enabled by a shipped symlink" \
	"$(grep -E '\.wants/|/etc/systemd/' <<<"$c_ephport")" ""
# Completion comes with completion/ in the tree: packaged exactly when
# the tree has it.
for pair in ephport.bash:/usr/share/bash-completion/completions/ephport \
	_ephport:/usr/share/zsh/vendor-completions/_ephport; do
	want=absent
	[ -f "completion/${pair%%:*}" ] && want=present
	got=absent
	grep -qxF "${pair#*:}" <<<"$c_ephport" && got=present
	expect_eq "ephport: ${pair#*:} $want as completion/${pair%%:*} is" "$got" "$want"
done
expect_eq "ephport: no library, header or pkg-config file" \
	"$(grep -E '\.so|/include/|\.pc$' <<<"$c_ephport")" ""

has "libephport0: the library" "$c_lib" "/usr/lib/$multiarch/libephport.so.$version"
has "libephport0: its SONAME link" "$c_lib" "/usr/lib/$multiarch/libephport.so.0"
expect_eq "libephport0: nothing but the library and its documents" \
	"$(grep -vE "^/usr/lib/$multiarch/libephport\.so\.0|^/usr/share/doc/libephport0/|/$" <<<"$c_lib")" ""

for h in include/ephport/*.h; do
	has "libephport-dev: ${h#include/}" "$c_dev" "/usr/$h"
done
has "libephport-dev: the link for the linker" "$c_dev" "/usr/lib/$multiarch/libephport.so"
has "libephport-dev: the pkg-config file" "$c_dev" "/usr/lib/$multiarch/pkgconfig/libephport.pc"
for page in man/*.3; do
	has "libephport-dev: ${page#man/}" "$c_dev" "/usr/share/man/man3/${page#man/}.gz"
done

dep_ephport=$(dpkg-deb -f "$deb_ephport" Depends)
dep_lib=$(dpkg-deb -f "$deb_lib" Depends)
dep_dev=$(dpkg-deb -f "$deb_dev" Depends)
expect_in "ephport depends on libephport0 (from its symbols file)" \
	"libephport0 (>= $version)" "$dep_ephport"
expect_in "libephport0 depends on libmnl0 (ephport needs it through the library)" \
	"libmnl0" "$dep_lib"
expect_in "libephport-dev depends on its exact library" \
	"libephport0 (= $version)" "$dep_dev"
expect_in "libephport-dev depends on libmnl-dev (libephport.pc requires libmnl)" \
	"libmnl-dev" "$dep_dev"
expect_eq "libephport0 is Multi-Arch: same" \
	"$(dpkg-deb -f "$deb_lib" Multi-Arch)" same

# The unit is installed disabled: no maintainer script enables or starts
# it (dh_installsystemd --no-enable --no-start). The postinst, run for a
# first installation with stand-ins for the systemd helpers (and nothing
# else on its PATH), asks them for nothing but bookkeeping.
ctl="$TMP/control"
dpkg-deb -e "$deb_ephport" "$ctl"
scripts=$(cat "$ctl"/preinst "$ctl"/postinst "$ctl"/prerm "$ctl"/postrm 2>/dev/null)
expect_eq "no maintainer script runs systemctl enable/start or deb-systemd-invoke start" \
	"$(grep -E 'systemctl[^|;]*(enable|start|restart)|deb-systemd-invoke[^|;]*(start|restart|_dh_action)|_dh_action=' <<<"$scripts")" ""
fake="$TMP/fakebin"
mkdir -p "$fake"
for helper in deb-systemd-helper deb-systemd-invoke systemctl; do
	cat >"$fake/$helper" <<-EOF
		#!/bin/sh
		echo "$helper \$*" >>"$TMP/helpers.log"
		# A first installation: the unit was never installed, and
		# was-enabled answers yes then (as the real helper does).
		[ "\$1" = debian-installed ] && exit 1
		exit 0
	EOF
	chmod +x "$fake/$helper"
done
: >"$TMP/helpers.log"
if [ -f "$ctl/postinst" ]; then
	run env -i PATH="$fake" /bin/sh -e "$ctl/postinst" configure ""
	expect_rc "ephport's postinst runs for a first installation" 0
else
	tap_ok "ephport has no postinst"
fi
expect_eq "and enables and starts nothing" \
	"$(grep -E ' (enable|start|restart|reload-or-restart)( |$)' "$TMP/helpers.log")" ""
check "the unit is contrib/ephport.service" \
	sh -c "dpkg-deb --fsys-tarfile '$deb_ephport' | tar -xOf - ./lib/systemd/system/ephport.service | cmp - contrib/ephport.service"

# The packages unpacked into a throw-away root, as dpkg would install them.
root="$TMP/root"
for deb in "$deb_ephport" "$deb_lib" "$deb_dev"; do
	dpkg -x "$deb" "$root"
done
libdir="$root/usr/lib/$multiarch"
check "the installed library's SONAME is libephport.so.0" \
	sh -c "objdump -p '$libdir/libephport.so.$version' | grep -qE 'SONAME +libephport\.so\.0$'"
run env LD_LIBRARY_PATH="$libdir" "$root/usr/sbin/ephport" --version
expect_rc "the installed ephport --version runs" 0
expect_in "and says the package's version" "$version" "$OUT"
check "it runs on the installed library, not the build tree's" \
	sh -c "LD_LIBRARY_PATH='$libdir' ldd '$root/usr/sbin/ephport' | grep -q 'libephport.so.0 => $libdir/'"

# A program built against libephport-dev with pkg-config alone: the
# root's .pc first, then the system's (libmnl.pc, which libephport.pc
# requires); the sysroot moves the root's paths into it.
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig:/usr/lib/$multiarch/pkgconfig:/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$root"
run pkg-config --cflags --libs libephport
expect_rc "pkg-config finds the installed libephport" 0
flags=$OUT
expect_in "its flags point into the root" "-I$root/usr/include" "$flags"
expect_eq "pkg-config's version is the package's" \
	"$(pkg-config --modversion libephport)" "$version"
run cc -Wall -Wextra -Werror -o "$TMP/portcheck" examples/portcheck.c $flags
expect_rc "examples/portcheck.c builds against the installed headers and library" 0
check "it links the installed library" \
	sh -c "LD_LIBRARY_PATH='$libdir' ldd '$TMP/portcheck' | grep -q 'libephport.so.0 => $libdir/'"
if [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1; then
	ns=$(ns_add deb)
	run ip netns exec "$ns" env LD_LIBRARY_PATH="$libdir" "$TMP/portcheck" 7000
	expect_rc "portcheck runs on the installed library: port 7000 can be bound" 0
	expect_in "it reports the library's version" "libephport $version" "$OUT"
	expect_in "and the verdict" "port 7000: can be bound" "$OUT"
else
	tap_ok "# SKIP running portcheck needs root for a namespace"
fi
finish
