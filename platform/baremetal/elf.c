/*
 * elf.c - a PV kernel's ELF image as Xen's libelf reads it: the ELF64
 * header, the program headers, and the "Xen" notes (entry, virt_base,
 * hypercall page, INIT_P2M, MOD_START_PFN, HV_START_LOW, PADDR_OFFSET and
 * the FEATURES string with its required '!' marks).  Segments are placed as
 * Xen places them, by physical address: virtual = paddr + virt_base -
 * paddr_offset, so a segment linked elsewhere (Linux's per-CPU data, linked
 * at virtual address 0) still lands inside the image.  Every refusal is
 * one panic line naming what is wrong.
 */
#include "hv.h"

/* ELF64: the fields read here (offsets in the file header and in a program header). */
#define ELF_MAGIC     0x464C457FU   /* "\177ELF" */
#define EI_CLASS      4
#define ELFCLASS64    2
#define EM_X86_64     62
#define EHDR_SIZE     64
#define E_MACHINE     18
#define E_PHOFF       32
#define E_PHENTSIZE   54
#define E_PHNUM       56
#define PHDR_SIZE     56
#define PT_LOAD       1
#define PT_NOTE       4
#define NOTE_HDR_SIZE 12
#define NOTE_NAME_XEN 0x006E6558U   /* "Xen" */

/* Xen's XENFEAT_* names, by bit, as the FEATURES note spells them (libelf's table). */
static const char *const feature_name[] = {
    [XENFEAT_writable_page_tables] = "writable_page_tables",
    [XENFEAT_writable_descriptor_tables] = "writable_descriptor_tables",
    [XENFEAT_auto_translated_physmap] = "auto_translated_physmap",
    [XENFEAT_supervisor_mode_kernel] = "supervisor_mode_kernel",
    [XENFEAT_pae_pgdir_above_4gb] = "pae_pgdir_above_4gb",
    [XENFEAT_mmu_pt_update_preserve_ad] = "mmu_pt_update_preserve_ad",
    [XENFEAT_hvm_callback_vector] = "hvm_callback_vector",
    [XENFEAT_dom0] = "dom0",
};
#define NR_FEATURE_NAMES (sizeof(feature_name) / sizeof(feature_name[0]))

struct elf_phdr elf_phdr(const struct elf_image *e, uint64_t i)
{
    const uint8_t *ph = e->data + e->phoff + i * e->phent;
    return (struct elf_phdr){ rd32(ph), rd64(ph + 8), rd64(ph + 16), rd64(ph + 24), rd64(ph + 32), rd64(ph + 40) };
}

const char *elf_feature_name(unsigned int bit)
{
    return bit < NR_FEATURE_NAMES && feature_name[bit] ? feature_name[bit] : "?";
}

/* Does the word s[0..n) name feature `name`? */
static bool word_is(const char *s, uint64_t n, const char *name)
{
    uint64_t i = 0;
    while (i < n && name[i] && s[i] == name[i])
        i++;
    return i == n && !name[i];
}

/*
 * The FEATURES string s[0..n) ("a|!b|c"): each name sets its bit in
 * e->f_supported, and with a leading '!' in e->f_required too.  Unknown
 * names are ignored, as libelf ignores them (with a message).
 */
static void parse_features(struct elf_image *e, const char *s, uint64_t n)
{
    for (uint64_t at = 0; at < n && s[at];) {
        uint64_t end = at;
        while (end < n && s[end] && s[end] != '|')
            end++;
        bool required = s[at] == '!';
        uint64_t w = at + (required ? 1 : 0);
        for (unsigned int bit = 0; bit < NR_FEATURE_NAMES; bit++) {
            if (feature_name[bit] && word_is(s + w, end - w, feature_name[bit])) {
                e->f_supported |= 1u << bit;
                if (required)
                    e->f_required |= 1u << bit;
            }
        }
        at = end + 1;
    }
}

/* A number note's value: 4 or 8 bytes, little-endian, as libelf reads them. */
static uint64_t note_num(const uint8_t *desc, uint32_t descsz)
{
    return descsz == 8 ? rd64(desc) : descsz == 4 ? rd32(desc) : ELF_UNSET;
}

/* Take the "Xen" notes in data[off, off + size); stop at a cut note. */
static void elf_notes(struct elf_image *e, uint64_t off, uint64_t size)
{
    const uint8_t *d = e->data;
    for (uint64_t n = off; n + NOTE_HDR_SIZE <= off + size;) {
        uint32_t namesz = rd32(d + n), descsz = rd32(d + n + 4), ntype = rd32(d + n + 8);
        uint64_t name = n + NOTE_HDR_SIZE, desc = name + ((namesz + 3ULL) & ~3ULL);
        if (desc + descsz > off + size)
            break;
        if (namesz == 4 && rd32(d + name) == NOTE_NAME_XEN) {
            uint64_t v = note_num(d + desc, descsz);
            e->notes |= ntype < 64 ? 1ULL << ntype : 0;
            switch (ntype) {
            case XEN_ELFNOTE_ENTRY: e->entry = v; break;
            case XEN_ELFNOTE_HYPERCALL_PAGE: e->hypercall_page = v; break;
            case XEN_ELFNOTE_VIRT_BASE: e->virt_base = v; break;
            case XEN_ELFNOTE_PADDR_OFFSET: e->paddr_offset = v; break;
            case XEN_ELFNOTE_INIT_P2M: e->init_p2m = v; break;
            case XEN_ELFNOTE_MOD_START_PFN: e->mod_start_pfn = v != 0 && v != ELF_UNSET; break;
            case XEN_ELFNOTE_HV_START_LOW: e->hv_start_low = v; break;
            case XEN_ELFNOTE_FEATURES: parse_features(e, (const char *)d + desc, descsz); break;
            case XEN_ELFNOTE_PAE_MODE: e->pae_extcr3 = descsz >= 3 && d[desc] == 'y'; break;
            case XEN_ELFNOTE_SUPPORTED_FEATURES:
                if (descsz >= 4)
                    e->f_supported |= rd32(d + desc);
                break;
            default: break;
            }
        }
        n = desc + ((descsz + 3ULL) & ~3ULL);
    }
}

/*
 * As libelf and Xen's PV builder: VIRT_BASE is there, the paddr offset
 * defaults to 0 with notes, every loadable segment lands at or above
 * virt_base, and entry and hypercall page lie inside the image.
 */
static void elf_place(struct elf_image *e)
{
    if (e->virt_base == ELF_UNSET || e->entry == ELF_UNSET)
        panic("the kernel has no Xen notes (VIRT_BASE and ENTRY, or an ELF entry point)");
    if (e->paddr_offset == ELF_UNSET)
        e->paddr_offset = 0;
    uint64_t pstart = ELF_UNSET, pend = 0;
    for (uint64_t i = 0; i < e->phnum; i++) {
        struct elf_phdr ph = elf_phdr(e, i);
        if (ph.type != PT_LOAD || !ph.memsz)
            continue;
        if (ph.paddr < e->paddr_offset)
            panic("a kernel segment's physical address %#llx lies below the PADDR_OFFSET %#llx",
                  (unsigned long long)ph.paddr, (unsigned long long)e->paddr_offset);
        pstart = ph.paddr < pstart ? ph.paddr : pstart;
        pend = ph.paddr + ph.memsz > pend ? ph.paddr + ph.memsz : pend;
    }
    if (pstart == ELF_UNSET)
        panic("the kernel has no loadable segment");
    e->kstart = e->virt_base + (pstart - e->paddr_offset);
    e->kend = e->virt_base + (pend - e->paddr_offset);
    if (e->kend < e->kstart || e->kend - e->virt_base > (1ULL << 30))
        panic("the kernel's image (%#llx-%#llx) does not fit 1 GiB above VIRT_BASE %#llx",
              (unsigned long long)e->kstart, (unsigned long long)e->kend, (unsigned long long)e->virt_base);
    if (e->entry < e->kstart || e->entry >= e->kend)
        panic("the kernel's entry point %#llx lies outside its image %#llx-%#llx", (unsigned long long)e->entry,
              (unsigned long long)e->kstart, (unsigned long long)e->kend);
    if (e->hypercall_page != ELF_UNSET &&
        (e->hypercall_page < e->kstart || e->hypercall_page + XEN_PAGE_SIZE > e->kend ||
         (e->hypercall_page & (XEN_PAGE_SIZE - 1))))
        panic("the kernel's hypercall page %#llx lies outside its image", (unsigned long long)e->hypercall_page);
}

void elf_parse(const uint8_t *data, uint64_t len, struct elf_image *e)
{
    *e = (struct elf_image){ .data = data, .len = len, .entry = ELF_UNSET, .hypercall_page = ELF_UNSET,
                             .virt_base = ELF_UNSET, .paddr_offset = ELF_UNSET, .init_p2m = ELF_UNSET,
                             .hv_start_low = ELF_UNSET };
    if (len < EHDR_SIZE || rd32(data) != ELF_MAGIC || data[EI_CLASS] != ELFCLASS64 ||
        rd16(data + E_MACHINE) != EM_X86_64) {
        if (len >= 0x206 && rd32(data + 0x202) == 0x53726448U)   /* "HdrS": a bzImage's boot header */
            panic("the module is a bzImage: give the ELF inside it (scripts/linux-fetch.sh unpacks it to vmlinux)");
        panic("the module is not an x86-64 ELF kernel");
    }
    e->phoff = rd64(data + E_PHOFF);
    e->phnum = rd16(data + E_PHNUM);
    e->phent = rd16(data + E_PHENTSIZE);
    if (e->phent < PHDR_SIZE || e->phoff > len || e->phnum * e->phent > len - e->phoff)
        panic("the kernel's program headers lie outside it");
    for (uint64_t i = 0; i < e->phnum; i++) {
        struct elf_phdr ph = elf_phdr(e, i);
        if (ph.offset > len || ph.filesz > len - ph.offset)
            panic("a kernel segment lies outside the file");
        if (ph.type == PT_LOAD && (ph.filesz > ph.memsz || ph.paddr + ph.memsz < ph.paddr))
            panic("a kernel segment is larger in the file than in memory, or wraps");
        if (ph.type == PT_NOTE)
            elf_notes(e, ph.offset, ph.filesz);
    }
    if (e->entry == ELF_UNSET)
        e->entry = rd64(data + 24);   /* e_entry, when there is no ENTRY note */
    elf_place(e);
}

void elf_load(const struct elf_image *e, void (*copy)(uint64_t va, const uint8_t *src, uint64_t n))
{
    for (uint64_t i = 0; i < e->phnum; i++) {
        struct elf_phdr ph = elf_phdr(e, i);
        if (ph.type == PT_LOAD && ph.filesz)
            copy(e->virt_base + (ph.paddr - e->paddr_offset), e->data + ph.offset, ph.filesz);
    }
}
