#!/usr/bin/env python3
# public-names.py CC INCLUDE_DIR HEADER... - every name the public headers give a program is prefixed
# (pvm_, PVM_, PVMMU_, xen_, XEN_) or one of Xen's public ABI names as Xen spells them: the rule at the top
# of include/pvmmu/xen.h.  The names are every macro the headers define (CC -E -dM of the headers, less
# what CC -E -dM gives for a file that includes only the standard headers they include, which holds the
# compiler's predefined macros) and every struct, union and enum tag, enumerator, typedef, function and
# object their preprocessed text declares (only the text of INCLUDE_DIR/pvmmu/, by its line markers).
# The headers may read nothing but each other and freestanding standard headers.  First a planted header
# with one bad name of each kind must be caught whole.  Prints the offending names by kind and a summary
# line "public-names: ..."; exit 1 if any.  Run by tests/embed.sh.
import os, re, subprocess, sys, tempfile

CC = sys.argv[1].split()
INCLUDE = sys.argv[2]                      # the folder that holds pvmmu/
HEADERS = sys.argv[3:]                     # include/pvmmu/*.h

# Prefixes that are the library's own or Xen's (xen.h's rule).
PREFIXED = re.compile(r"^(pvm_|PVM_|PVMMU_|xen_|XEN_)")
# Xen's public ABI names the headers may spell as Xen does, one family per line, each with the header of
# Xen 4.17's xen/include/public/ that defines it.  Nothing Xen keeps private (asm/mm.h's PGT_/PGC_,
# asm/page.h's _PAGE_, processor.h's PFEC_, hypercall.h's MMU_UPDATE_PREEMPTED) belongs here.
XEN_PUBLIC = [
    r"__HYPERVISOR_\w+",                                       # xen.h: hypercall numbers
    r"MMU_(NORMAL_PT_UPDATE|MACHPHYS_UPDATE|PT_UPDATE_PRESERVE_AD|PT_UPDATE_NO_TRANSLATE)",  # xen.h
    r"MMUEXT_\w+", r"UVMF_\w+", r"VMASST_(CMD|TYPE)_\w+",       # xen.h: mmuext_op, update_va_mapping, vm_assist
    r"DOMID_\w+", r"domid_t",                                  # xen.h: domain ids
    r"(mmu_update|mmuext_op|multicall_entry|start_info)(_t)?",  # xen.h: the structs and their typedefs
    r"SIF_\w+", r"MAX_GUEST_CMDLINE",                          # xen.h: start_info
    r"CONSOLEIO_\w+",                                          # xen.h: console_io
    r"XENMEM_\w+",                                             # memory.h
    r"PHYSDEVOP_\w+",                                          # physdev.h
    r"HYPERVISOR_VIRT_(START|END)",                            # arch-x86/xen-x86_64.h
]
ALLOWED = re.compile(r"^(" + "|".join(XEN_PUBLIC) + r")$")
# What the preprocessed text may contain that declares nothing.
KEYWORDS = set("""auto break case char const continue default do double else enum extern float for goto if inline
    int long register restrict return short signed sizeof static struct switch typedef union unsigned void volatile
    while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local
    __attribute__ __extension__ __inline __inline__ __restrict __restrict__ __asm__ __typeof__""".split())
FREESTANDING = {"stdbool.h", "stddef.h", "stdint.h", "stdarg.h", "limits.h", "float.h", "iso646.h",
                "stdalign.h", "stdnoreturn.h"}

def cpp(args, text, include_dir):
    r = subprocess.run(CC + ["-std=c11", "-I" + include_dir] + args + ["-x", "c", "-"], input=text,
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit("public-names: the preprocessor failed:\n" + r.stderr)
    return r.stdout

def names(headers, include_dir):
    """{name: kind} for every macro and file-scope name the headers define, and a list of problems."""
    problems, std = [], set()
    def problem(p):
        if p not in problems:
            problems.append(p)
    for h in headers:
        for m in re.finditer(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', open(h).read(), re.M):
            if m.group(1) == "<" and not m.group(2).startswith("pvmmu/"):
                if m.group(2) not in FREESTANDING:
                    problem(f"{h} includes <{m.group(2)}>, not a freestanding C11 header")
                std.add(m.group(2))
    top = "".join(f"#include <pvmmu/{os.path.basename(h)}>\n" for h in headers)
    # Macros: everything defined after the public headers that is not defined after only the standard
    # headers they include (which covers the compiler's own predefined macros: an empty file's).
    base = set(cpp(["-E", "-dM"], "".join(f"#include <{s}>\n" for s in sorted(std)), include_dir).splitlines())
    found = {}
    for line in set(cpp(["-E", "-dM"], top, include_dir).splitlines()) - base:
        found[re.match(r"#define (\w+)", line).group(1)] = "macro"
    # Declarations: the preprocessed text of the public headers alone (line markers name the file).
    ours, cur, text = os.path.realpath(os.path.join(include_dir, "pvmmu")), None, []
    for line in cpp(["-E"], top, include_dir).splitlines():
        m = re.match(r'# \d+ "([^"]+)"(.*)', line)
        if m:
            cur, system = m.group(1), "3" in m.group(2).split()
            if not (cur.startswith("<") or system or os.path.realpath(cur).startswith(ours + os.sep)):
                problem(f"the public headers read {cur}, which is neither theirs nor a system header")
            continue
        if cur and os.path.realpath(cur).startswith(ours + os.sep):
            text.append(line)
    src = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'', '""', "\n".join(text))
    toks = re.findall(r"[A-Za-z_]\w*|\d\w*|\S", src)
    brace = paren = 0
    enum_depth = []                      # brace depths of the enum bodies we are in
    pending_enum = False
    for i, t in enumerate(toks):
        prev = toks[i - 1] if i else ""
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if t == "{":
            brace += 1
            if pending_enum:
                enum_depth.append(brace)
            pending_enum = False
        elif t == "}":
            if enum_depth and enum_depth[-1] == brace:
                enum_depth.pop()
            brace -= 1
        elif t == "(":
            paren += 1
        elif t == ")":
            paren -= 1
        elif t == ";":
            pending_enum = False
        if not re.match(r"[A-Za-z_]", t) or t in KEYWORDS:
            if t == "enum":
                pending_enum = True
            continue
        if prev in ("struct", "union", "enum"):
            found.setdefault(t, prev + " tag")
        elif enum_depth and enum_depth[-1] == brace and prev in ("{", ","):
            found.setdefault(t, "enumerator")
        elif brace == 0 and paren == 0 and nxt in ("(", ";", ",", "=", "["):
            found.setdefault(t, "function" if nxt == "(" else "typedef or object")
        elif brace == 0 and paren == 1 and prev == "*" and nxt == ")" and toks[i - 2] == "(":
            found.setdefault(t, "typedef or object")   # typedef void (*name)(...)
    return found, problems

def bad(found):
    return {n: k for n, k in found.items() if not PREFIXED.match(n) and not ALLOWED.match(n)}

# Self-check: a planted header with one unprefixed name of each kind (and prefixed ones that must pass).
with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "pvmmu"))
    h = os.path.join(tmp, "pvmmu", "planted.h")
    open(os.path.join(tmp, "private.h"), "w").write("#define PVM_PRIVATE 1\n")
    open(h, "w").write("""#include <stdint.h>
#include <stdio.h>
#include "../private.h"
#  define BAD_MACRO 1
#define PVM_GOOD(x) (x)
typedef int bad_t;
typedef void (*bad_fn_t)(int pvm_param);
struct bad_tag;
union bad_union { int member; };
enum pvm_kind { PVM_KIND_A, BAD_ENUMERATOR = 2, PVM_KIND_C };
enum { PVM_ANON };
void bad_function(void);
static inline int pvm_ok(struct pvm_x *p, void (*cb)(void *ctx)) { int local = 0; (void)p; (void)cb; return local; }
extern int bad_object[2];
struct pvm_s { struct { int a; } inner; enum bad_enum_tag e; };
struct mmu_update *pvm_mmu(void);
""")
    want = {"BAD_MACRO", "bad_t", "bad_fn_t", "bad_tag", "bad_union", "BAD_ENUMERATOR", "bad_function",
            "bad_object", "bad_enum_tag"}
    found, problems = names([h], tmp)
    got = set(bad(found))
    if got != want or len(problems) != 2:
        sys.exit(f"public-names: the self-check found {sorted(got)} and {problems}, not the {len(want)} planted"
                 f" names {sorted(want)} and 2 planted includes (<stdio.h>, private.h)")

found, problems = names(HEADERS, INCLUDE)
for p in problems:
    print("public-names: " + p)
offending = bad(found)
kinds = {}
for n, k in sorted(offending.items()):
    kinds.setdefault(k, []).append(n)
for k, ns in sorted(kinds.items()):
    line = f"  {k}:"
    for n in ns:
        if len(line) + len(n) > 100:
            print(line)
            line = "   "
        line += " " + n
    print(line)
print(f"public-names: {len(found)} names in {len(HEADERS)} headers, {len(offending)} neither prefixed nor Xen's"
      f" public ABI (self-check: all planted names and includes found)")
sys.exit(1 if offending or problems else 0)
