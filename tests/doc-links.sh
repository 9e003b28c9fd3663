#!/bin/sh
# doc-links.sh - every relative link in README.md and docs/*.md names a file that exists, and
# every #anchor a heading of that file.  Prints one line per broken link and a summary.
set -u
python3 - README.md docs/*.md <<'PY'
import os, re, sys

def anchors(path):
    out = set()
    for line in open(path, encoding="utf-8"):
        m = re.match(r"#+\s+(.*)", line)
        if m:
            a = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(a)
    return out

bad = total = 0
for doc in sys.argv[1:]:
    text = open(doc, encoding="utf-8").read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        total += 1
        path, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        if not os.path.exists(full):
            print(f"doc-links: {doc}: {target}: no such file")
            bad += 1
        elif anchor and full.endswith(".md") and anchor not in anchors(full):
            print(f"doc-links: {doc}: {target}: no such heading")
            bad += 1
print(f"doc-links: {total} links, {bad} broken")
sys.exit(1 if bad else 0)
PY
