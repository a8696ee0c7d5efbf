#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Assembles ephport(8), the whole reference, from man/ephport.8.in and the
commands' pages, man/ephport-COMMAND.8, which are the only source of each
command's text.

    assemble.py OUTPUT TEMPLATE PAGE...

The template names what it takes from a page with a comment line,

    .\\" @include MODE PAGE SECTION

MODE being "as-is" (the section's lines), "item" (the text of a .TP item:
its paragraphs become .IP, so that they stay under the item's tag) or
"indented" (inside .RS/.RE, for a list under an item). Every section of
every page but NAME and SEE ALSO must be taken somewhere, so that a new
page or section cannot be left out of the whole; a page that is only a
.so link to another is skipped. Any mistake stops the build with a message
naming the file and line.
"""
import os
import re
import sys

DIRECTIVE = re.compile(r'^\.\\" @include (as-is|item|indented) (\S+) (.+)$')
LEFT_OUT = {"NAME", "SEE ALSO"}


def fail(msg):
    sys.exit(f"assemble.py: {msg}")


def sections(path):
    """The page's sections: {name: [lines]}, or None for a .so link."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    body = [ln for ln in lines if not ln.startswith('.\\"')]
    if body and body[0].startswith(".so "):
        return None
    out, name = {}, None
    for n, ln in enumerate(lines, 1):
        if ln.startswith(".SH "):
            name = ln[4:].strip().strip('"')
            if name in out:
                fail(f"{path}:{n}: a second section {name}")
            out[name] = []
        elif name is not None:
            out[name].append(ln)
    for name, text in out.items():
        while text and text[-1] == "":
            text.pop()
    return out


def as_item(path, name, text):
    """TEXT as the body of a .TP item: a paragraph is an .IP there."""
    out, depth = [], 0
    for ln in text:
        req = ln.split(" ")[0]
        if req == ".RS":
            depth += 1
        elif req == ".RE":
            depth -= 1
        elif depth == 0 and req in (".TP", ".SS", ".SH"):
            fail(f"{path}: {name}: {req} outside .RS/.RE would end the "
                 "item ephport(8) puts it in")
        out.append(".IP" if depth == 0 and req in (".PP", ".P", ".LP")
                   else ln)
    return out


def main():
    if len(sys.argv) < 3:
        fail("usage: assemble.py OUTPUT TEMPLATE PAGE...")
    output, template, pages = sys.argv[1], sys.argv[2], sys.argv[3:]
    found = {}
    for path in pages:
        s = sections(path)
        if s is not None:
            found[os.path.basename(path)] = (path, s)
    taken = set()
    out = []
    with open(template, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, ln in enumerate(lines, 1):
        m = DIRECTIVE.match(ln)
        if not m:
            if ln.startswith('.\\" @'):
                fail(f"{template}:{n}: not a directive: {ln}")
            out.append(ln)
            continue
        mode, page, name = m.groups()
        if page not in found:
            fail(f"{template}:{n}: no page {page} among {sorted(found)}")
        path, secs = found[page]
        if name not in secs:
            fail(f"{template}:{n}: {page} has no section {name}")
        text = secs[name]
        taken.add((page, name))
        if mode == "item":
            out += as_item(path, name, text)
        elif mode == "indented":
            out += [".RS"] + text + [".RE"]
        else:
            out += text
    missing = [f"{page} {name}" for page, (_, secs) in sorted(found.items())
               for name in secs
               if name not in LEFT_OUT and (page, name) not in taken]
    if missing:
        fail(f"{template} does not include: " + ", ".join(missing))
    # The page says where its text comes from, after the licence line.
    note = ['.\\" Made by man/assemble.py from man/ephport.8.in and the '
            'pages man/ephport-*.8:', '.\\" edit those.']
    at = 1 if out and out[0].startswith('.\\" SPDX') else 0
    out[at:at] = note
    with open(output + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    os.replace(output + ".tmp", output)


if __name__ == "__main__":
    main()
