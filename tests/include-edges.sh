#!/bin/sh
# include-edges.sh - every #include "..." in the tree follows the table "What each folder may include"
# in docs/architecture.md: no include across an edge the table does not list, no header name
# defined in two folders, no libc header in a freestanding folder or file, and from a freestanding
# folder no include of a hosted folder's header unless that header is one of its freestanding files.
# First it checks itself on a small planted tree (each kind of violation must be found), then the
# real one.  One line per violation, a summary.
set -u
python3 - "${1:-.}" <<'PY'
import os, re, sys, tempfile

FREESTANDING_FOLDERS = {"include/pvmmu", "lib", "core", "guest", "platform/baremetal", "platform/xen"}
# Freestanding files in a hosted folder: explain/'s accounts and wrapping, which pvmmu's hypervisor builds in too.
FREESTANDING_FILES = {"explain/account.c", "explain/account.h", "explain/wrap.c"}
# The headers a freestanding C11 implementation provides (C11 4p6), plus <stdatomic.h>'s absence.
FREESTANDING_HEADERS = {"float.h", "iso646.h", "limits.h", "stdalign.h", "stdarg.h", "stdbool.h",
                        "stddef.h", "stdint.h", "stdnoreturn.h"}
SOURCE = re.compile(r".*\.(c|h|S|s|cc|cpp|inc)$")

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

def resolve(root, p, name, quoted, search):
    """The tree path an include of name from p reaches, as the compiler finds it: for "name" the
    including file's own folder first, then the -I folders (every folder of the table, and include/).
    Returns (path, None), (None, why) when it escapes the tree or is ambiguous, or (None, None)
    when nothing in the tree has that name (a system header)."""
    if quoted:
        own = os.path.normpath(os.path.join(os.path.dirname(p), name))
        if os.path.isfile(os.path.join(root, own)):
            if own.startswith(".."):
                return None, f"{name} leaves the tree"
            return own, None
    hits = sorted({os.path.normpath(os.path.join(d, name)) for d in search
                   if os.path.isfile(os.path.join(root, d, name))})
    hits = [h for h in hits if not h.startswith("..")]
    if len(hits) > 1:
        return None, f"{name} could be any of {', '.join(hits)}"
    return (hits[0], None) if hits else (None, None)

def check(root):
    """The violations in the tree at root, as lines, and how many includes were read."""
    table = read_table(root)
    search = sorted(set(table) | {"include"})
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
            if not re.match(r"\s*#\s*include(_next)?\b", line):
                continue
            n += 1
            m = re.match(r'\s*#\s*include\s*([<"])([^>"]+)[>"]', line)
            if not m:
                bad.append(f"{p}:{ln}: a computed or #include_next include cannot be checked")
                continue
            quote, name = m.groups()
            path, why = resolve(root, p, name, quote == '"', search)
            if why:
                bad.append(f"{p}:{ln}: {why}")
                continue
            if path is None:
                if quote == '"':
                    bad.append(f'{p}:{ln}: "{name}" is no header of any folder in the table')
                elif f in FREESTANDING_FOLDERS and name not in FREESTANDING_HEADERS:
                    bad.append(f"{p}:{ln}: <{name}> is not a freestanding header, and {f}/ is freestanding")
                elif p in FREESTANDING_FILES and name not in FREESTANDING_HEADERS:
                    bad.append(f"{p}:{ln}: <{name}> is not a freestanding header, and {p} is freestanding")
                continue
            target = folder_of(path, table)
            allowed = table[f]
            if target is None:
                bad.append(f'{p}:{ln}: "{name}" is {path}, in no folder of the table')
            elif target != f and allowed is not None and target not in allowed:
                bad.append(f'{p}:{ln}: "{name}" is in {target}/, which {f}/ may not include (docs/architecture.md)')
            elif ((f in FREESTANDING_FOLDERS or p in FREESTANDING_FILES) and target not in FREESTANDING_FOLDERS
                  and path not in FREESTANDING_FILES):
                bad.append(f'{p}:{ln}: "{name}" is {path}, not freestanding, and {p} is')
    return bad, n, len(files)

def plant(tmp):
    """A small tree with one violation of each kind; returns the places check() must report."""
    def w(path, text):
        os.makedirs(os.path.join(tmp, os.path.dirname(path)), exist_ok=True)
        open(os.path.join(tmp, path), "w").write(text)
    w("docs/architecture.md", "## What each folder may include\n| folder | may include from |\n|---|---|\n"
      "| `include/pvmmu/` | (nothing else) |\n"
      "| `core/` | `lib/`, `include/pvmmu/` |\n| `lib/` | (nothing else) |\n| `cli/` | `core/`, `lib/` |\n"
      "| `script/` | `lib/` |\n| `explain/` | `lib/` |\n| `platform/baremetal/` | `explain/`, `lib/` |\n")
    w("include/pvmmu/api.h", "")
    w("lib/fmt.h", "")
    w("core/internal.h", "")
    w("core/page.c", '#include "fmt.h"\n#include "run.h"\n#include <stdio.h>\n#include "pvmmu/api.h"\n')
    w("cli/run.h", "")
    w("cli/fmt.h", "")
    w("cli/main.c", '#include "run.h"\n#include "page.h"\n#include "../core/internal.h"\n')
    w("script/parse.c", '#include "../core/internal.h"\n#include <run.h>\n#include "pvmmu/../../core/internal.h"\n'
      '#include HEADER\n#include <stdio.h>\n')
    w("other/x.c", "")
    w("explain/account.h", "#include <stddef.h>\n")
    w("explain/account.c", '#include "account.h"\n#include <string.h>\n#include "../lib/fmt.h"\n')
    w("explain/explain.h", '#include <stdio.h>\n#include "account.h"\n')
    w("platform/baremetal/refusal.c", '#include "account.h"\n#include "explain.h"\n')
    return {"other/x.c", "header fmt.h", "core/page.c:1", "core/page.c:2", "core/page.c:3", "cli/main.c:2",
            "script/parse.c:1", "script/parse.c:2", "script/parse.c:3", "script/parse.c:4",
            "explain/account.c:2", "platform/baremetal/refusal.c:2"}

with tempfile.TemporaryDirectory() as tmp:
    want = plant(tmp)
    got, _, _ = check(tmp)
    places = {g.split(": ")[0] if g[0] != "h" else " ".join(g.split()[:2]) for g in got}
    if places != want:
        print(f"include-edges: the self-check found {sorted(places)}, planted {sorted(want)}:")
        print("\n".join("  " + g for g in got))
        sys.exit(1)
    want = len(want)
bad, n, nfiles = check(sys.argv[1])
for b in bad:
    print("include-edges: " + b)
print(f"include-edges: {n} includes in {nfiles} files, {len(bad)} across a forbidden edge or ambiguous"
      f" (self-check: all {want} planted violations found)")
sys.exit(1 if bad else 0)
PY
