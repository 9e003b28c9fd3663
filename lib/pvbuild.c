/* pvbuild.c - start_info and bootstrap tables of a new PV domain (see pvbuild.h).  Freestanding. */
#include "pvbuild.h"
#include "xen_names.h"

void pv_start_info(struct start_info *si, const struct pv_layout *l, uint64_t virt_base, uint64_t p2m_va,
                   uint64_t shared_info, const char *cmdline)
{
    static const char magic[] = "xen-3.0-x86_64";
    for (unsigned int i = 0; i < sizeof(magic); i++)
        si->magic[i] = magic[i];
    si->nr_pages = l->nr_pages;
    si->shared_info = shared_info;
    si->pt_base = virt_base + (l->pt_pfn << 12);
    si->nr_pt_frames = l->nr_pt;
    si->mfn_list = l->p2m_separate ? p2m_va : virt_base + (l->p2m_pfn << 12);
    if (l->p2m_separate) {
        si->first_p2m_pfn = l->p2m_pfn;
        si->nr_p2m_frames = l->p2m_pages + l->p2m_tables;
    }
    for (unsigned int i = 0; cmdline && cmdline[i] && i + 1 < MAX_GUEST_CMDLINE; i++)
        si->cmd_line[i] = (int8_t)cmdline[i];
}

int pv_bootstrap_tables(const struct pv_layout *l, uint64_t virt_base, const struct pv_build_ops *ops)
{
    const uint64_t tbl = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_USER;
    uint64_t l4 = l->pt_pfn, l3 = l4 + 1, l2 = l4 + 2, l1 = l4 + 3;
    unsigned int i4 = (virt_base >> 39) & 511, i3 = (virt_base >> 30) & 511, i2 = (virt_base >> 21) & 511;
    uint64_t *t4 = ops->page(ops->ctx, l4), *t3 = ops->page(ops->ctx, l3), *t2 = ops->page(ops->ctx, l2), *t1 = 0;
    if (!t4 || !t3 || !t2)
        return -1;
    t4[i4] = (ops->mfn(ops->ctx, l3) << 12) | tbl;
    t3[i3] = (ops->mfn(ops->ctx, l2) << 12) | tbl;
    for (uint64_t pfn = 0; pfn < l->v_end_pfn; pfn++) {
        uint64_t n = pfn / 512;
        if (pfn % 512 == 0) {
            if (!(t1 = ops->page(ops->ctx, l1 + n)))
                return -1;
            t2[i2 + n] = (ops->mfn(ops->ctx, l1 + n) << 12) | tbl;
        }
        int ro = pfn >= l->pt_pfn && pfn < l->pt_pfn + l->nr_pt;
        t1[pfn % 512] = (ops->mfn(ops->ctx, pfn) << 12) | _PAGE_PRESENT | _PAGE_ACCESSED | (ro ? 0 : _PAGE_RW);
    }
    return 0;
}

int pv_map_p2m(const struct pv_layout *l, uint64_t *t4, uint64_t p2m_va, const struct pv_build_ops *ops)
{
    const uint64_t tbl = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_USER;
    uint64_t l3 = l->p2m_pfn + l->p2m_pages;
    uint64_t l1s = (l->p2m_pages + 511) / 512, l2s = (l1s + 511) / 512;
    uint64_t *t3 = ops->page(ops->ctx, l3);
    if (!t3 || (p2m_va & ((1ULL << 39) - 1)))
        return -1;
    t4[(p2m_va >> 39) & 511] = (ops->mfn(ops->ctx, l3) << 12) | tbl;
    for (uint64_t j = 0; j < l2s; j++) {
        uint64_t *t2 = ops->page(ops->ctx, l3 + 1 + j);
        if (!t2)
            return -1;
        t3[j] = (ops->mfn(ops->ctx, l3 + 1 + j) << 12) | tbl;
        for (uint64_t i = j * 512; i < l1s && i < (j + 1) * 512; i++) {
            uint64_t l1 = l3 + 1 + l2s + i, *t1 = ops->page(ops->ctx, l1);
            if (!t1)
                return -1;
            t2[i % 512] = (ops->mfn(ops->ctx, l1) << 12) | tbl;
            for (uint64_t e = 0; e < 512 && i * 512 + e < l->p2m_pages; e++)
                t1[e] = (ops->mfn(ops->ctx, l->p2m_pfn + i * 512 + e) << 12) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
        }
    }
    return 0;
}
