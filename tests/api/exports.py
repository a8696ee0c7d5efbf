#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The library's exports agree with themselves: every function marked
EPH_EXPORT in src/lib is in the version script, every name in the version
script is exported, and every function a public header declares is both.
With --write, rewrites the version script from the sources instead.
TAP output."""
import glob
import os
import re
import sys

top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
mapfile = os.path.join(top, "src", "lib", "libephport.map")


def exported():
    names = set()
    for path in glob.glob(os.path.join(top, "src", "lib", "*.c")):
        text = open(path).read()
        for m in re.finditer(r"^EPH_EXPORT\b([^;{]*?)\b(eph_\w+)\s*\(", text,
                             re.M | re.S):
            names.add(m.group(2))
    return names


def declared():
    names = set()
    for path in glob.glob(os.path.join(top, "include", "ephport", "*.h")):
        text = re.sub(r"/\*.*?\*/", "", open(path).read(), flags=re.S)
        text = re.sub(r"#define[^\n]*(\\\n[^\n]*)*", "", text)
        for m in re.finditer(r"\b(eph_\w+)\s*\(", text):
            # A declaration, not a use inside a macro or a comment.
            names.add(m.group(1))
    return names


def in_map():
    text = open(mapfile).read()
    return set(re.findall(r"^\s*(eph_\w+);", text, re.M))


def write(names):
    with open(mapfile, "w") as f:
        f.write("/* Every symbol libephport exports; nothing else leaves "
                "the library.\n   tests/api/exports.py --write rewrites "
                "it from the sources. */\nEPHPORT_0 {\nglobal:\n")
        for n in sorted(names):
            f.write("\t%s;\n" % n)
        f.write("local:\n\t*;\n};\n")


exp, dec, mp = exported(), declared(), in_map()
if "--write" in sys.argv:
    write(exp)
    sys.exit(0)
checks = [
    ("every EPH_EXPORT function is in libephport.map", exp - mp),
    ("every name in libephport.map is an EPH_EXPORT function", mp - exp),
    ("every function the public headers declare is exported", dec - exp),
    ("every exported function is declared in a public header", exp - dec),
]
print("1..%d" % len(checks))
failed = 0
for i, (what, bad) in enumerate(checks, 1):
    if bad:
        failed += 1
        print("not ok %d - %s" % (i, what))
        for n in sorted(bad):
            print("#   %s" % n)
    else:
        print("ok %d - %s" % (i, what))
sys.exit(1 if failed else 0)
