#!/bin/sh
# include-edges.sh - every #include "..." in the tree follows the table "What each folder may include"
# in docs/architecture.md: no include across an edge the table does not list, no header name defined
# in two folders, no libc header in a freestanding folder.  First it checks itself on a small planted
# tree (each kind of violation must be found), then the real one.  One line per violation, a summary.
set -u
python3 - "${1:-.}" <<'PY'
import os, re, sys, tempfile

FREESTANDING_FOLDERS = {"include/pvmmu", "lib", "core", "guest", "platform/baremetal", "platform/xen"}
# The headers a freestanding C11 implementation provides (C11 4p6), plus <stdatomic.h>'s absence.
FREESTANDING_HEADERS = {"float.h", "iso646.h", "limits.h", "stdalign.h", "stdarg.h", "stdbool.h",
                        "stddef.h", "stdint.h", "stdnoreturn.h"}
SOURCE = re.compile(r".*\.(c|h|S)$")

def read_table(root):
    """The folder -> allowed folders table from docs/architecture.md, or exit 2."""
    text = open(os.path.join(root, "docs/architecture.md"), encoding="utf-8").read()
    sec = text.split("## What each folder may include", 1)
    if len(sec) != 2:
        sys.exit("include-edges: docs/architecture.md has no section 'What each folder may include'")
    table = {}
    for line in sec[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        folder = cells[0].strip("`").rstrip("/")
        if cells[1].startswith("any folder"):
            table[folder] = None          # None: any folder
        else:
            table[folder] = {c.rstrip("/") for c in re.findall(r"`([^`]+)`", cells[1])}
    if not table:
        sys.exit("include-edges: the table in docs/architecture.md is empty")
    return table

def folder_of(path, table):
    """The table's folder that holds path (the longest prefix), or None."""
    best = None
    for f in table:
        if path.startswith(f + "/") and (best is None or len(f) > len(best)):
            best = f
    return best

def sources(root):
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs[:] = [x for x in dirs if not (rel == "." and x in ("build", ".git"))]
        for name in sorted(files):
            if SOURCE.match(name):
                yield os.path.normpath(os.path.join(rel, name))

def check(root):
    """The violations in the tree at root, as lines, and how many includes were read."""
    table = read_table(root)
    bad, headers, files, n = [], {}, [], 0
    for p in sources(root):
        f = folder_of(p, table)
        if f is None:
            bad.append(f"{p}: its folder is not in docs/architecture.md's include table")
            continue
        files.append((p, f))
        if p.endswith(".h") and f not in ("tests", "examples", "bench", "fuzz"):
            headers.setdefault(os.path.basename(p), set()).add(f)
    for name, where in sorted(headers.items()):
        if len(where) > 1:
            bad.append(f"header {name} is defined in {', '.join(sorted(where))}: an include of it is ambiguous")
    for p, f in files:
        for ln, line in enumerate(open(os.path.join(root, p), encoding="utf-8", errors="replace"), 1):
            m = re.match(r'\s*#\s*include\s*([<"])([^>"]+)[>"]', line)
            if not m:
                continue
            n += 1
            quote, name = m.groups()
            if quote == "<":
                if f in FREESTANDING_FOLDERS and name not in FREESTANDING_HEADERS:
                    bad.append(f"{p}:{ln}: <{name}> is not a freestanding header, and {f}/ is freestanding")
                continue
            if name.startswith("pvmmu/"):
                target = "include/pvmmu"
            elif os.path.exists(os.path.join(root, os.path.dirname(p), name)):
                continue                  # its own folder
            else:
                where = headers.get(os.path.basename(name), set())
                if not where:
                    bad.append(f'{p}:{ln}: "{name}" is no header of any folder in the table')
                    continue
                if len(where) > 1:
                    continue              # reported once above, as ambiguous
                target = next(iter(where))
            allowed = table[f]
            if target != f and allowed is not None and target not in allowed:
                bad.append(f'{p}:{ln}: "{name}" is in {target}/, which {f}/ may not include (docs/architecture.md)')
    return bad, n, len(files)

def plant(tmp):
    """A small tree with one violation of each kind; returns how many check() must report."""
    def w(path, text):
        os.makedirs(os.path.join(tmp, os.path.dirname(path)), exist_ok=True)
        open(os.path.join(tmp, path), "w").write(text)
    w("docs/architecture.md", "## What each folder may include\n| folder | may include from |\n|---|---|\n"
      "| `core/` | `lib/` |\n| `lib/` | (nothing else) |\n| `cli/` | `core/`, `lib/` |\n")
    w("lib/fmt.h", "")
    w("core/page.c", '#include "fmt.h"\n#include "run.h"\n#include <stdio.h>\n')   # 2: cli edge, libc
    w("cli/run.h", "")
    w("cli/fmt.h", "")                                                             # 1: ambiguous
    w("cli/main.c", '#include "run.h"\n#include "page.h"\n')                        # 1: no such header
    w("other/x.c", "")                                                             # 1: folder not listed
    return 5

with tempfile.TemporaryDirectory() as tmp:
    want = plant(tmp)
    got, _, _ = check(tmp)
    if len(got) != want:
        print(f"include-edges: the self-check found {len(got)} of {want} planted violations:")
        print("\n".join("  " + g for g in got))
        sys.exit(1)
bad, n, nfiles = check(sys.argv[1])
for b in bad:
    print("include-edges: " + b)
print(f"include-edges: {n} includes in {nfiles} files, {len(bad)} across a forbidden edge or ambiguous"
      f" (self-check: all {want} planted violations found)")
sys.exit(1 if bad else 0)
PY
