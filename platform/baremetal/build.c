/*
 * build.c - the domain builder, as Xen's PV builder (and the simulator's)
 * does it: parse and check the ELF kernel and its Xen notes, give the
 * domain its frames (pfn -> mfn deliberately not the identity) and a
 * shared_info page, load the kernel and its initrd, write the hypercall
 * page, the p2m list and start_info, build the bootstrap tables with every
 * table frame read-only (lib/pvbuild.h), then pin and load the L4.
 */
#include "hv.h"
#include "pvbuild.h"

/* Xen's 64-bit PV hypercall page: one stub of HYPERCALL_STUB_SIZE bytes (lib/pvbuild.h) per hypercall number. */
#define NR_HYPERCALL_STUBS  (XEN_PAGE_SIZE / HYPERCALL_STUB_SIZE)

static uint64_t nr_pages, first_mfn, shinfo_mfn;

/* The machine frame behind the domain's pfn: not the identity, as on the simulator. */
static uint64_t pfn_to_mfn(uint64_t pfn) { return first_mfn + (pfn ^ 1); }

/* The 4 KiB of the domain's frame pfn, through the direct map.  Panics past the domain's pages. */
static uint64_t *guest_page(uint64_t pfn)
{
    if (pfn >= nr_pages)
        panic("the domain builder reached past the domain's %llu pages (pfn %#llx)", (unsigned long long)nr_pages,
              (unsigned long long)pfn);
    return dm(pfn_to_mfn(pfn) << XEN_PAGE_SHIFT);
}

/* pv_build_ops for lib/pvbuild.c: guest_page and pfn_to_mfn. */
static uint64_t *build_page(void *ctx, uint64_t pfn) { (void)ctx; return guest_page(pfn); }
static uint64_t build_mfn(void *ctx, uint64_t pfn) { (void)ctx; return pfn_to_mfn(pfn); }

/* elf_load's sink: the segment's bytes into the domain's frames, page by page (va is inside the image). */
static uint64_t load_virt_base;
static void load_bytes(uint64_t va, const uint8_t *src, uint64_t n)
{
    for (uint64_t done = 0; done < n;) {
        uint64_t at = va - load_virt_base + done, off = at & (XEN_PAGE_SIZE - 1);
        uint64_t chunk = XEN_PAGE_SIZE - off < n - done ? XEN_PAGE_SIZE - off : n - done;
        uint8_t *page = (uint8_t *)guest_page(at >> XEN_PAGE_SHIFT);
        for (uint64_t i = 0; i < chunk; i++)
            page[off + i] = src[done + i];
        done += chunk;
    }
}

/* Xen's 64-bit PV hypercall page: entry i is push %rcx; push %r11; mov $i,%eax; syscall; pop %r11; pop %rcx; ret. */
static void write_hypercall_page(uint8_t *p)
{
    for (unsigned int i = 0; i < NR_HYPERCALL_STUBS; i++) {
        uint8_t *s = p + i * HYPERCALL_STUB_SIZE;
        const uint8_t stub[14] = { 0x51, 0x41, 0x53, 0xb8, (uint8_t)i, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3 };
        /* iret's does not return, and hands Xen rax too: push rcx, r11, rax; mov $23, eax; syscall; ud2 */
        const uint8_t iret[13] = { 0x51, 0x41, 0x53, 0x50, 0xb8, __HYPERVISOR_iret, 0, 0, 0, 0x0f, 0x05, 0x0f, 0x0b };
        const uint8_t *src = i == __HYPERVISOR_iret ? iret : stub;
        unsigned int len = i == __HYPERVISOR_iret ? sizeof(iret) : sizeof(stub);
        for (unsigned int k = 0; k < HYPERCALL_STUB_SIZE; k++)
            s[k] = k < len ? src[k] : 0xcc;   /* int3 after the stub */
    }
}

/*
 * Lay out the nr_pages (mem_mib MiB) domain for kernel e and an initrd of
 * initrd_pages pages, as Xen's PV builder: the initrd mapped right after the
 * image, or, for a kernel with MOD_START_PFN, given as pfns after the
 * initial region and not mapped; the p2m list inside the region, or at
 * INIT_P2M on its own.  Panics if it does not fit the domain or 1 GiB.
 */
static struct pv_layout domain_layout(const struct elf_image *e, uint64_t initrd_pages, uint64_t mem_mib)
{
    const uint64_t one_gib_pages = PVM_L1_PAGETABLE_ENTRIES * PVM_L1_PAGETABLE_ENTRIES;
    uint64_t image_pages = (e->kend - e->virt_base + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE;
    uint64_t mapped = image_pages + (e->mod_start_pfn ? 0 : initrd_pages);
    if (image_pages + initrd_pages >= nr_pages / 2 || mapped > one_gib_pages)
        panic("the kernel and its initrd (%llu pages) do not fit a %llu MiB domain",
              (unsigned long long)(image_pages + initrd_pages), (unsigned long long)mem_mib);
    struct pv_layout l = { .kernel_pages = mapped, .nr_pages = nr_pages, .p2m_separate = e->init_p2m != ELF_UNSET,
                           .unmapped_pages = e->mod_start_pfn ? initrd_pages : 0 };
    pv_layout(&l);
    if (l.v_end_pfn > one_gib_pages || l.v_end_pfn >= nr_pages ||
        (l.p2m_separate && l.p2m_pfn + l.p2m_pages + l.p2m_tables > nr_pages))
        panic("a %llu MiB domain does not fit its initial 1 GiB mapping", (unsigned long long)mem_mib);
    return l;
}

/*
 * Create the domain (pvm_domain_create flags) with nr_pages frames from
 * 2 MiB-aligned machine memory, set vcpu and the M2P, and give it a
 * shared_info page.  Panics if the core refuses.
 */
static void domain_frames(unsigned int flags)
{
    first_mfn = alloc_pages_try(nr_pages, 1ULL << PVM_L2_PAGETABLE_SHIFT, 0) >> XEN_PAGE_SHIFT;
    if (!first_mfn)
        panic("the domain's %llu MiB do not fit the memory left to the hypervisor (%llu MiB): give QEMU more "
              "memory (below 4 GiB) or the domain less", (unsigned long long)(nr_pages >> 8),
              (unsigned long long)(alloc_free_bytes() >> 20));
    if (pvm_domain_create(&machine, PV_DOMID, 1, flags) || pvm_assign_pages(&machine, first_mfn, nr_pages, PV_DOMID))
        panic("cannot create the domain");
    /* As Xen's dom0 permissions: no mapping of the local APIC and MSI range, nor of the HyperTransport range. */
    if ((flags & PVM_DOM_PRIVILEGED) && (pvm_domain_iomem_deny(&machine, PV_DOMID, 0xfee00, 0xfeeff) ||
                                         pvm_domain_iomem_deny(&machine, PV_DOMID, 0xfd00000, 0xfffffff)))
        panic("cannot set the domain's I/O memory permissions");
    /* and, as Xen's mmio_ro_ranges under QEMU's pc machine: the IO-APIC and the HPET, read-only */
    if ((flags & PVM_DOM_PRIVILEGED) && (pvm_mmio_ro_add(&machine, 0xfec00, 0xfec00) ||
                                         pvm_mmio_ro_add(&machine, 0xfed00, 0xfed00)))
        panic("cannot set the read-only MMIO ranges");
    vcpu = pvm_vcpu(&machine, PV_DOMID, 0);
    for (uint64_t pfn = 0; pfn < nr_pages; pfn++)
        set_gpfn_from_mfn(pfn_to_mfn(pfn), pfn);
    shinfo_mfn = alloc_pages(1, XEN_PAGE_SIZE) >> XEN_PAGE_SHIFT;   /* the guest's to map (it reads cr2 there) */
    /* Xen's page, shared with the guest writable for good: the hypervisor holds it writable (it writes
     * events, cr2 and time there), so it can never become a page table or a descriptor page. */
    if (pvm_assign_pages(&machine, shinfo_mfn, 1, PV_DOMID) || pvm_xen_map_frame(&machine, PV_DOMID, shinfo_mfn))
        panic("cannot give the domain its shared_info page");
    set_gpfn_from_mfn(shinfo_mfn, PVM_INVALID_M2P);   /* Xen's page, shared: no pfn of the domain */
    pv.vcpu_info_maddr = shinfo_mfn << XEN_PAGE_SHIFT;   /* vcpu_info[0], until the guest registers its own */
    struct shared_info *sh = dm(shinfo_mfn << XEN_PAGE_SHIFT);
    for (unsigned int i = 0; i < XEN_LEGACY_MAX_VCPUS; i++)
        sh->vcpu_info[i].evtchn_upcall_mask = 1;         /* every vCPU starts with events masked */
    time_init_vcpu(&sh->vcpu_info[0].time);
    wallclock_init(sh);
    shared_info_maddr = shinfo_mfn << XEN_PAGE_SHIFT;
    pv.io_ports = (flags & PVM_DOM_PRIVILEGED) != 0;
}

/* Fill the p2m list at pfn p2m_pfn onwards: the mfn of every pfn of the domain. */
static void write_p2m(uint64_t p2m_pfn)
{
    uint64_t *p2m = guest_page(p2m_pfn);
    for (uint64_t pfn = 0; pfn < nr_pages; pfn++) {
        if (pfn % PVM_L1_PAGETABLE_ENTRIES == 0)
            p2m = guest_page(p2m_pfn + pfn / PVM_L1_PAGETABLE_ENTRIES);
        p2m[pfn % PVM_L1_PAGETABLE_ENTRIES] = pfn_to_mfn(pfn);
    }
}

/*
 * Write the bootstrap tables of layout l (and the p2m list's own, at p2m_va),
 * then pin the L4 and make it the vCPU's.  Panics if the core refuses.
 */
static void load_bootstrap_tables(const struct pv_layout *l, uint64_t virt_base, uint64_t p2m_va)
{
    const struct pv_build_ops bops = { .page = build_page, .mfn = build_mfn };
    pv_bootstrap_tables(l, virt_base, &bops);
    if (l->p2m_separate && pv_map_p2m(l, guest_page(l->pt_pfn), p2m_va, &bops))
        panic("the kernel's INIT_P2M address %#llx is not on a 512 GiB boundary", (unsigned long long)p2m_va);
    struct mmuext_op pin = { .cmd = MMUEXT_PIN_L4_TABLE };
    pin.arg1.mfn = pfn_to_mfn(l->pt_pfn);
    int rc = pvm_mmuext_op(vcpu, &pin, 1, 0, DOMID_SELF);
    if (rc || (rc = pvm_set_guest_table(vcpu, pfn_to_mfn(l->pt_pfn))))
        panic("the core refused the bootstrap page tables (%d)", rc);
}

/*
 * The kernel's FEATURES against what this hypervisor gives.  Xen's builder
 * refuses only a kernel that requires supervisor_mode_kernel, or whose
 * SUPPORTED_FEATURES leave out dom0 when it is to be dom0; it never checks
 * the other required marks (writable_page_tables, which this kernel
 * requires, is given through VMASST_TYPE_writable_pagetables, not as a
 * XENFEAT bit).  pvmmu checks them too, and refuses a required feature
 * withheld on its command line (withhold=NAME) unless told boot_anyway.
 */
static void check_features(const struct elf_image *e, unsigned int flags, bool anyway)
{
    if (e->f_required & (1u << XENFEAT_supervisor_mode_kernel))
        panic("the kernel requires supervisor_mode_kernel, which no 64-bit PV domain has (Xen refuses it too)");
    if ((flags & PVM_DOM_PRIVILEGED) && (e->notes & (1ULL << XEN_ELFNOTE_SUPPORTED_FEATURES)) &&
        !(e->f_supported & (1u << XENFEAT_dom0)))
        panic("Kernel does not support Dom0 operation (its SUPPORTED_FEATURES note leaves out dom0), as Xen says");
    uint32_t missing = e->f_required & ~hv_given_features(flags);
    for (unsigned int bit = 0; bit < 32; bit++)
        if (missing & (1u << bit))
            hv_printf("pvmmu hv: the kernel requires the feature %s (its FEATURES note marks it '!'), which this "
                      "hypervisor was told to withhold (Xen would not have checked)\n", elf_feature_name(bit));
    if (missing && !anyway)
        panic("the kernel requires a withheld feature; boot_anyway boots it regardless");
}

void build_domain(const uint8_t *elf, uint64_t elf_len, const uint8_t *initrd, uint64_t initrd_len,
                  const char *cmdline, uint64_t mem_mib, unsigned int flags, bool anyway, struct domain_start *start)
{
    struct elf_image e;
    elf_parse(elf, elf_len, &e);
    check_features(&e, flags, anyway);
    nr_pages = mem_mib << (20 - XEN_PAGE_SHIFT);
    uint64_t initrd_pages = (initrd_len + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE;
    struct pv_layout l = domain_layout(&e, initrd_pages, mem_mib);
    uint64_t image_pages = (e.kend - e.virt_base + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE;
    uint64_t initrd_pfn = e.mod_start_pfn ? l.v_end_pfn : image_pages;
    domain_frames(flags);
    load_virt_base = e.virt_base;
    elf_load(&e, load_bytes);
    load_bytes(e.virt_base + initrd_pfn * XEN_PAGE_SIZE, initrd, initrd_len);
    if (e.hypercall_page != ELF_UNSET)
        write_hypercall_page((uint8_t *)guest_page((e.hypercall_page - e.virt_base) >> XEN_PAGE_SHIFT));
    write_p2m(l.p2m_pfn);
    struct start_info *si = (struct start_info *)guest_page(l.si_pfn);
    pv_start_info(si, &l, e.virt_base, e.init_p2m, shinfo_mfn << XEN_PAGE_SHIFT, cmdline);
    if (e.pae_extcr3)
        si->magic[14] = 'p';   /* "xen-3.0-x86_64p", as Xen writes it for a PAE_MODE kernel */
    if (flags & PVM_DOM_PRIVILEGED)
        si->flags |= SIF_PRIVILEGED | SIF_INITDOMAIN;
    if (initrd_len) {
        si->mod_start = e.mod_start_pfn ? initrd_pfn : e.virt_base + initrd_pfn * XEN_PAGE_SIZE;
        si->flags |= e.mod_start_pfn ? SIF_MOD_START_PFN : 0;
        si->mod_len = initrd_len;
    }
    if (e.pae_extcr3)
        vcpu->d->vm_assist |= 1UL << VMASST_TYPE_pae_extended_cr3;   /* as Xen's builder, for PAE_MODE "yes" */
    load_bootstrap_tables(&l, e.virt_base, e.init_p2m);
    start->entry = e.entry;
    start->start_info = e.virt_base + l.si_pfn * XEN_PAGE_SIZE;
    start->stack = e.virt_base + (l.stack_pfn + 1) * XEN_PAGE_SIZE;
    hv_printf("pvmmu hv: domain %u: %llu MiB, kernel %llu pages at %#llx, tables at pfn %llu (%llu frames), "
              "mfn = %#llx + (pfn ^ 1)\n", PV_DOMID, (unsigned long long)mem_mib, (unsigned long long)l.kernel_pages,
              (unsigned long long)e.virt_base, (unsigned long long)l.pt_pfn, (unsigned long long)l.nr_pt,
              (unsigned long long)first_mfn);
    if (l.p2m_separate || e.mod_start_pfn)
        hv_printf("pvmmu hv: p2m list at %#llx (pfn %#llx, %llu frames with its tables), initrd at pfn %#llx%s\n",
                  (unsigned long long)si->mfn_list, (unsigned long long)l.p2m_pfn,
                  (unsigned long long)(l.p2m_pages + l.p2m_tables), (unsigned long long)initrd_pfn,
                  e.mod_start_pfn ? " (not mapped: MOD_START_PFN)" : "");
}
