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

/* ELF64: the fields the builder reads (offsets in the file header and in a program header). */
#define ELF_MAGIC       0x464C457FU   /* "\177ELF" */
#define EI_CLASS        4
#define ELFCLASS64      2
#define EM_X86_64       62
#define EHDR_SIZE       64
#define E_MACHINE       18
#define E_ENTRY         24
#define E_PHOFF         32
#define E_PHENTSIZE     54
#define E_PHNUM         56
#define PHDR_SIZE       56
#define PT_LOAD         1
#define PT_NOTE         4
#define NOTE_HDR_SIZE   12
#define NOTE_NAME_XEN   0x006E6558U   /* "Xen" */

/* Xen's 64-bit PV hypercall page: one stub of HYPERCALL_STUB_SIZE bytes (lib/pvbuild.h) per hypercall number. */
#define NR_HYPERCALL_STUBS  (XEN_PAGE_SIZE / HYPERCALL_STUB_SIZE)

struct elf_info {
    uint64_t phoff, phnum, phent;                           /* the program header table */
    uint64_t entry, hypercall_page, virt_base, image_end;   /* image_end: highest vaddr + memsz */
};

struct elf_phdr {
    uint32_t type;
    uint64_t offset, vaddr, filesz, memsz;
};

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

void arch_set_cr2(uint64_t cr2)
{
    ((volatile uint64_t *)dm(shinfo_mfn << XEN_PAGE_SHIFT))[2] = cr2;   /* vcpu_info[0].arch.cr2 */
}

/* Program header i of the kernel e describes (the table lies inside the file: elf_parse checked). */
static struct elf_phdr elf_phdr(const uint8_t *elf, const struct elf_info *e, uint64_t i)
{
    const uint8_t *ph = elf + e->phoff + i * e->phent;
    return (struct elf_phdr){ rd32(ph), rd64(ph + 8), rd64(ph + 16), rd64(ph + 32), rd64(ph + 40) };
}

/* Take entry, hypercall page and virt_base from the "Xen" notes in elf[off, off + size); stop at a cut note. */
static void elf_notes(const uint8_t *elf, uint64_t off, uint64_t size, struct elf_info *e)
{
    for (uint64_t n = off; n + NOTE_HDR_SIZE <= off + size;) {
        uint32_t namesz = rd32(elf + n), descsz = rd32(elf + n + 4), ntype = rd32(elf + n + 8);
        uint64_t name = n + NOTE_HDR_SIZE, desc = name + ((namesz + 3) & ~3u);
        if (desc + descsz > off + size)
            break;
        if (namesz == 4 && rd32(elf + name) == NOTE_NAME_XEN && descsz == 8) {
            uint64_t v = rd64(elf + desc);
            if (ntype == XEN_ELFNOTE_ENTRY)
                e->entry = v;
            else if (ntype == XEN_ELFNOTE_HYPERCALL_PAGE)
                e->hypercall_page = v;
            else if (ntype == XEN_ELFNOTE_VIRT_BASE)
                e->virt_base = v;
        }
        n = desc + ((descsz + 3) & ~3u);
    }
}

/*
 * As Xen's loader: the notes were there, and every segment, the entry point
 * and the hypercall page lie inside [virt_base, image_end).  Panics if not.
 */
static void elf_check_image(const uint8_t *elf, const struct elf_info *e)
{
    if (!e->virt_base || !e->hypercall_page || e->image_end <= e->virt_base)
        panic("the kernel has no Xen notes (VIRT_BASE, HYPERCALL_PAGE), or no segment above VIRT_BASE");
    for (uint64_t i = 0; i < e->phnum; i++) {
        struct elf_phdr ph = elf_phdr(elf, e, i);
        if (ph.type == PT_LOAD && ph.vaddr < e->virt_base)
            panic("a kernel segment lies below VIRT_BASE");
    }
    if (e->entry < e->virt_base || e->entry >= e->image_end || e->hypercall_page < e->virt_base ||
        e->hypercall_page + XEN_PAGE_SIZE > e->image_end || (e->hypercall_page & (XEN_PAGE_SIZE - 1)))
        panic("the kernel's entry point or hypercall page lies outside its image");
}

/* Read the ELF64 header, program headers and Xen's notes of the module at elf[0..len).  Panics if malformed. */
static void elf_parse(const uint8_t *elf, uint64_t len, struct elf_info *e)
{
    if (len < EHDR_SIZE || rd32(elf) != ELF_MAGIC || elf[EI_CLASS] != ELFCLASS64 || rd16(elf + E_MACHINE) != EM_X86_64)
        panic("the module is not an x86-64 ELF kernel");
    e->phoff = rd64(elf + E_PHOFF);
    e->phnum = rd16(elf + E_PHNUM);
    e->phent = rd16(elf + E_PHENTSIZE);
    if (e->phent < PHDR_SIZE || e->phoff > len || e->phnum * e->phent > len - e->phoff)
        panic("the kernel's program headers lie outside it");
    e->entry = rd64(elf + E_ENTRY);
    e->image_end = 0;
    for (uint64_t i = 0; i < e->phnum; i++) {
        struct elf_phdr ph = elf_phdr(elf, e, i);
        if (ph.offset > len || ph.filesz > len - ph.offset)
            panic("a kernel segment lies outside the file");
        if (ph.type == PT_LOAD && (ph.filesz > ph.memsz || ph.vaddr + ph.memsz < ph.vaddr))
            panic("a kernel segment is larger in the file than in memory, or wraps");
        if (ph.type == PT_LOAD && ph.vaddr + ph.memsz > e->image_end)
            e->image_end = ph.vaddr + ph.memsz;
        if (ph.type == PT_NOTE)
            elf_notes(elf, ph.offset, ph.filesz, e);
    }
    elf_check_image(elf, e);
}

/* Copy the kernel's PT_LOAD segments into the domain's frames (pfn = (vaddr - virt_base) / 4 KiB). */
static void elf_load(const uint8_t *elf, const struct elf_info *e)
{
    for (uint64_t i = 0; i < e->phnum; i++) {
        struct elf_phdr ph = elf_phdr(elf, e, i);
        if (ph.type != PT_LOAD)
            continue;
        for (uint64_t b = 0; b < ph.filesz; b++) {
            uint64_t at = ph.vaddr - e->virt_base + b;
            ((uint8_t *)guest_page(at >> XEN_PAGE_SHIFT))[at & (XEN_PAGE_SIZE - 1)] = elf[ph.offset + b];
        }
    }
}

/* Xen's 64-bit PV hypercall page: entry i is push %rcx; push %r11; mov $i,%eax; syscall; pop %r11; pop %rcx; ret. */
static void write_hypercall_page(uint8_t *p)
{
    for (unsigned int i = 0; i < NR_HYPERCALL_STUBS; i++) {
        uint8_t *s = p + i * HYPERCALL_STUB_SIZE;
        const uint8_t stub[14] = { 0x51, 0x41, 0x53, 0xb8, (uint8_t)i, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3 };
        for (unsigned int k = 0; k < HYPERCALL_STUB_SIZE; k++)
            s[k] = k < sizeof(stub) ? stub[k] : 0xcc;   /* int3 after the stub */
    }
}

/*
 * Lay out the nr_pages (mem_mib MiB) domain for the kernel e and an initrd
 * of initrd_len bytes right after its image (as Xen puts it); sets the
 * image's pages.  Panics if they do not fit the domain or its 1 GiB mapping.
 */
static struct pv_layout domain_layout(const struct elf_info *e, uint64_t initrd_len, uint64_t mem_mib,
                                      uint64_t *image_pages)
{
    const uint64_t one_gib_pages = PVM_L1_PAGETABLE_ENTRIES * PVM_L1_PAGETABLE_ENTRIES;
    *image_pages = (e->image_end - e->virt_base + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE;
    uint64_t initrd_pages = (initrd_len + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE;
    if (*image_pages + initrd_pages >= nr_pages / 2 || *image_pages + initrd_pages > one_gib_pages)
        panic("the kernel and its initrd (%llu pages) do not fit a %llu MiB domain",
              (unsigned long long)(*image_pages + initrd_pages), (unsigned long long)mem_mib);
    struct pv_layout l = { .kernel_pages = *image_pages + initrd_pages, .nr_pages = nr_pages };
    pv_layout(&l);
    if (l.v_end_pfn > one_gib_pages || l.v_end_pfn >= nr_pages)
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
    first_mfn = alloc_pages(nr_pages, 1ULL << PVM_L2_PAGETABLE_SHIFT) >> XEN_PAGE_SHIFT;
    if (pvm_domain_create(&machine, PV_DOMID, 1, flags) || pvm_assign_pages(&machine, first_mfn, nr_pages, PV_DOMID))
        panic("cannot create the domain");
    vcpu = pvm_vcpu(&machine, PV_DOMID, 0);
    for (uint64_t pfn = 0; pfn < nr_pages; pfn++)
        set_gpfn_from_mfn(pfn_to_mfn(pfn), pfn);
    shinfo_mfn = alloc_pages(1, XEN_PAGE_SIZE) >> XEN_PAGE_SHIFT;   /* the guest's to map (it reads cr2 there) */
    if (pvm_assign_pages(&machine, shinfo_mfn, 1, PV_DOMID))
        panic("cannot give the domain its shared_info page");
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

/* Write the bootstrap tables of layout l, then pin the L4 and make it the vCPU's.  Panics if the core refuses. */
static void load_bootstrap_tables(const struct pv_layout *l, uint64_t virt_base)
{
    const struct pv_build_ops bops = { .page = build_page, .mfn = build_mfn };
    pv_bootstrap_tables(l, virt_base, &bops);
    struct mmuext_op pin = { .cmd = MMUEXT_PIN_L4_TABLE };
    pin.arg1.mfn = pfn_to_mfn(l->pt_pfn);
    int rc = pvm_mmuext_op(vcpu, &pin, 1, 0, DOMID_SELF);
    if (rc || (rc = pvm_set_guest_table(vcpu, pfn_to_mfn(l->pt_pfn))))
        panic("the core refused the bootstrap page tables (%d)", rc);
}

void build_domain(const uint8_t *elf, uint64_t elf_len, const uint8_t *initrd, uint64_t initrd_len,
                  const char *cmdline, uint64_t mem_mib, unsigned int flags, struct domain_start *start)
{
    struct elf_info e = { 0 };
    elf_parse(elf, elf_len, &e);
    nr_pages = mem_mib << (20 - XEN_PAGE_SHIFT);
    uint64_t image_pages;
    struct pv_layout l = domain_layout(&e, initrd_len, mem_mib, &image_pages);
    domain_frames(flags);
    elf_load(elf, &e);
    for (uint64_t b = 0; b < initrd_len; b++)
        ((uint8_t *)guest_page(image_pages + b / XEN_PAGE_SIZE))[b % XEN_PAGE_SIZE] = initrd[b];
    write_hypercall_page((uint8_t *)guest_page((e.hypercall_page - e.virt_base) >> XEN_PAGE_SHIFT));
    write_p2m(l.p2m_pfn);
    struct start_info *si = (struct start_info *)guest_page(l.si_pfn);
    pv_start_info(si, &l, e.virt_base, 0, shinfo_mfn << XEN_PAGE_SHIFT, cmdline);
    if (initrd_len) {
        si->mod_start = e.virt_base + image_pages * XEN_PAGE_SIZE;
        si->mod_len = initrd_len;
    }
    load_bootstrap_tables(&l, e.virt_base);
    start->entry = e.entry;
    start->start_info = e.virt_base + l.si_pfn * XEN_PAGE_SIZE;
    start->stack = e.virt_base + (l.stack_pfn + 1) * XEN_PAGE_SIZE;
    hv_printf("pvmmu hv: domain %u: %llu MiB, kernel %llu pages at %#llx, tables at pfn %llu (%llu frames), "
              "mfn = %#llx + (pfn ^ 1)\n", PV_DOMID, (unsigned long long)mem_mib, (unsigned long long)l.kernel_pages,
              (unsigned long long)e.virt_base, (unsigned long long)l.pt_pfn, (unsigned long long)l.nr_pt,
              (unsigned long long)first_mfn);
}
