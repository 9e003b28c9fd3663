#!/usr/bin/env python3
"""trace-stats.py RECORD: what a PV dom0 asked of Xen, per boot phase, from a pvmmu-trace record
(docs/trace.md).  The phases end at Linux's console lines "Memory:" and "Run /init", and at the
end of the record.  Every figure is an exact count of record lines; nothing is sampled.

usage: scripts/trace-stats.py RECORD [--all]   (--all: also rows that are 0 in every phase)
"""
import collections
import signal
import sys

HYPERCALLS = {
    0: "set_trap_table", 1: "mmu_update", 2: "set_gdt", 3: "stack_switch", 4: "set_callbacks",
    5: "fpu_taskswitch", 6: "sched_op_compat", 7: "platform_op", 8: "set_debugreg",
    9: "get_debugreg", 10: "update_descriptor", 12: "memory_op", 13: "multicall",
    14: "update_va_mapping", 15: "set_timer_op", 16: "event_channel_op_compat",
    17: "xen_version", 18: "console_io", 19: "physdev_op_compat", 20: "grant_table_op",
    21: "vm_assist", 22: "update_va_mapping_otherdomain", 23: "iret", 24: "vcpu_op",
    25: "set_segment_base", 26: "mmuext_op", 27: "xsm_op", 28: "nmi_op", 29: "sched_op",
    30: "callback_op", 31: "xenoprof_op", 32: "event_channel_op", 33: "physdev_op",
    34: "hvm_op", 35: "sysctl", 36: "domctl", 37: "kexec_op", 40: "xenpmu_op", 41: "dm_op",
    48: "arch_0 (mca)",
}
MMUEXT = {
    0: "PIN_L1_TABLE", 1: "PIN_L2_TABLE", 2: "PIN_L3_TABLE", 3: "PIN_L4_TABLE", 4: "UNPIN_TABLE",
    5: "NEW_BASEPTR", 6: "TLB_FLUSH_LOCAL", 7: "INVLPG_LOCAL", 8: "TLB_FLUSH_MULTI",
    9: "INVLPG_MULTI", 10: "TLB_FLUSH_ALL", 11: "INVLPG_ALL", 12: "FLUSH_CACHE", 13: "SET_LDT",
    15: "NEW_USER_BASEPTR", 16: "CLEAR_PAGE", 17: "COPY_PAGE", 18: "FLUSH_CACHE_GLOBAL",
}
# The first argument of these hypercalls is a command; name it where it is well known.
SUBCMDS = {
    "memory_op": {0: "increase_reservation", 1: "decrease_reservation", 2: "maximum_ram_page",
                  3: "current_reservation", 4: "maximum_reservation", 5: "machphys_mfn_list",
                  6: "populate_physmap", 7: "add_to_physmap", 9: "memory_map",
                  10: "machine_memory_map", 11: "exchange", 12: "machphys_mapping",
                  14: "maximum_gpfn", 26: "get_vnumainfo"},
    "vcpu_op": {0: "initialise", 1: "up", 2: "down", 3: "is_up", 4: "get_runstate_info",
                5: "register_runstate_memory_area", 6: "set_periodic_timer",
                7: "stop_periodic_timer", 8: "set_singleshot_timer", 9: "stop_singleshot_timer",
                10: "register_vcpu_info", 12: "get_physid",
                13: "register_vcpu_time_memory_area"},
    "sched_op": {0: "yield", 1: "block", 2: "shutdown", 3: "poll", 5: "shutdown_code"},
    "grant_table_op": {0: "map_grant_ref", 1: "unmap_grant_ref", 2: "setup_table",
                       5: "copy", 6: "query_size", 8: "set_version", 10: "get_version"},
    "event_channel_op": {1: "bind_virq", 2: "bind_pirq", 3: "close", 4: "send", 5: "status",
                         6: "alloc_unbound", 7: "bind_ipi", 8: "bind_vcpu", 9: "unmask",
                         11: "init_control", 12: "expand_array"},
    "physdev_op": {5: "irq_status_query", 6: "set_iopl", 8: "apic_read", 9: "apic_write",
                   12: "eoi", 13: "map_pirq", 14: "unmap_pirq", 21: "setup_gsi",
                   23: "get_free_pirq", 25: "pci_device_add", 26: "pirq_eoi_gmfn_v2",
                   29: "prepare_msix", 30: "release_msix", 31: "pci_device_remove"},
    "console_io": {0: "write", 1: "read"},
    "xen_version": {0: "version", 1: "extraversion", 2: "compile_info", 3: "capabilities",
                    4: "changeset", 5: "platform_parameters", 6: "get_features",
                    7: "pagesize", 9: "guest_handle", 10: "commandline", 11: "build_id"},
    "callback_op": {0: "register", 1: "unregister"},
    "vm_assist": {0: "enable", 1: "disable"},
}
PHASES = ["to Memory:", "to Run /init", "/init to end"]
MEMOP_CMD_MASK = 0x3f


def name(table, n):
    return table.get(n, str(n))


def call_kind(nr, args):
    """hypercall name, and 'name cmd' for those whose first argument is a command."""
    hc = name(HYPERCALLS, nr)
    if hc in SUBCMDS and args:
        cmd = args[0] & MEMOP_CMD_MASK if hc == "memory_op" else args[0]
        return hc, "%s %s" % (hc, name(SUBCMDS[hc], cmd))
    return hc, None


def collect(path):
    phases = [collections.Counter() for _ in PHASES]
    p = 0
    with open(path, errors="replace") as f:
        first = f.readline().rstrip("\n")
        if first != "pvmmu-trace 2":
            sys.exit("trace-stats: %s: not a pvmmu-trace 2 record (first line %r)" % (path, first[:40]))
        for lineno, line in enumerate(f, 2):
            w = line.split()
            if not w:
                continue
            c = phases[p]
            tag = w[0]
            try:
                if tag == "hc":
                    nr = int(w[1], 16)
                    hc, sub = call_kind(nr, [int(x, 16) for x in w[2:]])
                    c["hypercalls"] += 1
                    c["hypercall " + hc] += 1
                    if sub:
                        c["  " + sub] += 1
                elif tag == "hr":
                    if int(w[2]) < 0:
                        c["error %s %s" % (name(HYPERCALLS, int(w[1], 16)), w[2])] += 1
                elif tag == "hp":
                    c["preempted hypercalls (re-issued)"] += 1
                elif tag == "mc":
                    nr = int(w[2], 16)
                    hc, sub = call_kind(nr, [int(x, 16) for x in w[3:]])
                    c["multicall entries"] += 1
                    c["multicall entry " + hc] += 1
                elif tag == "mr":
                    if int(w[3]) < 0:
                        c["error in multicall %s %s" % (name(HYPERCALLS, int(w[2], 16)), w[3])] += 1
                elif tag == "mp":
                    c["preempted multicall entries"] += 1
                elif tag == "mu":
                    kind = int(w[1], 16) & 7
                    c[{0: "mmu_update requests", 1: "mmu_update MACHPHYS_UPDATE",
                       2: "mmu_update PRESERVE_AD"}.get(kind, "mmu_update cmd %d" % kind)] += 1
                    if w[3] != "0":
                        c["mmu_update request result " + w[3]] += 1
                elif tag == "mx":
                    c["mmuext " + name(MMUEXT, int(w[1], 16))] += 1
                    if w[4] != "0":
                        c["mmuext result " + w[4]] += 1
                elif tag == "ve":
                    rc = int(w[3])
                    if rc == 0:
                        c["validations"] += 1
                        c["  validated " + w[2]] += 1
                    else:
                        c["validation result %s %d" % (w[2], rc)] += 1
                elif tag == "de":
                    c["devalidations"] += 1
                    c["  devalidated " + w[2]] += 1
                    if w[3] != "0":
                        c["devalidation result %s %s" % (w[2], w[3])] += 1
                elif tag == "pw":
                    c["ptwr writes " + w[6]] += 1
                elif tag == "tr":
                    vec = int(w[1], 16)
                    c["bounced " + ("#PF" if vec == 14 else "vector %d" % vec) + " (" +
                      ("kernel" if w[5] == "k" else "user") + ")"] += 1
                elif tag in ("xin", "xout", "dec", "inc", "pop", "share"):
                    c["memory " + {"xin": "exchange: frames given", "xout": "exchange: extents received",
                                   "dec": "decrease_reservation: frames given",
                                   "inc": "increase_reservation: extents received",
                                   "pop": "populate_physmap: extents received",
                                   "share": "Xen's frames shared with dom0"}[tag]] += 1
                elif tag == "gdt":
                    c["set_gdt frames"] += len(w) - 2
                elif tag == "xref":
                    c["Xen's own writable references (%s)" % w[2]] += 1
                elif tag == "fin":
                    break
                elif tag == "lost":
                    c["LOST EVENTS"] += int(w[1], 16)
                elif tag == "con":
                    text = line[4:]
                    if p == 0 and "Memory:" in text:
                        p = 1
                    elif p == 1 and "Run /init" in text:
                        p = 2
            except (IndexError, ValueError):
                sys.exit("trace-stats: %s:%d: malformed %r line" % (path, lineno, tag))
    return phases


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `| head` is not an error
    args = [a for a in sys.argv[1:] if a != "--all"]
    if len(args) != 1:
        sys.exit(__doc__.strip().splitlines()[-1])
    phases = collect(args[0])
    keys = []
    for c in phases:
        keys += [k for k in c if k not in keys]
    order = ["hypercalls", "preempted hypercalls (re-issued)", "multicall entries",
             "preempted multicall entries", "mmu_update requests", "mmu_update MACHPHYS_UPDATE",
             "mmu_update PRESERVE_AD", "validations", "devalidations"]

    def rank(k):
        group = k.lstrip().split(" ")[0]
        return (order.index(k) if k in order else len(order), group, k)
    rows = sorted(keys, key=rank)
    # Sub-rows ("  memory_op exchange") follow their hypercall or total.
    final = []
    for k in rows:
        if k.startswith("  "):
            continue
        final.append(k)
        head = k.split(" ")[-1] if k.startswith("hypercall ") else None
        for s in rows:
            if not s.startswith("  "):
                continue
            if head and s.strip().split(" ")[0] == head:
                final.append(s)
            elif k == "validations" and s.startswith("  validated "):
                final.append(s)
            elif k == "devalidations" and s.startswith("  devalidated "):
                final.append(s)
    print("%-52s %12s %13s %13s %9s" % ("pvmmu-trace " + args[0].split("/")[-1], *PHASES, "total"))
    for k in final:
        v = [c[k] for c in phases]
        if sum(v) or "--all" in sys.argv:
            print("%-52s %12d %13d %13d %9d" % (k, *v, sum(v)))


if __name__ == "__main__":
    main()
