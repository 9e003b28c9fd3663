// cxx.cc - a C++ caller of libpvmmu, linked by tests/embed.sh: the header's extern "C" block.
#include <cstdio>
#include <cstring>
#include <vector>

#include <pvmmu/pvmmu.h>

namespace {
std::vector<std::vector<uint64_t>> memory(8, std::vector<uint64_t>(512));

uint64_t *map(void *, uint64_t mfn, int)
{
    return mfn < memory.size() ? memory[mfn].data() : nullptr;
}
}

int main()
{
    static struct pvm_machine m;
    static struct pvm_page_info frames[8];
    struct pvm_ops ops;
    std::memset(&ops, 0, sizeof(ops));
    ops.map = map;
    pvm_init(&m, frames, 8, &ops);
    if (pvm_domain_create(&m, 1, 1, 0) || pvm_assign_page(&m, 1, 1, 1))
        return 1;
    struct mmuext_op op;
    std::memset(&op, 0, sizeof(op));
    op.cmd = MMUEXT_PIN_L1_TABLE;
    op.arg1.mfn = 1;
    int rc = pvm_mmuext_op(pvm_vcpu(&m, 1, 0), &op, 1, nullptr, DOMID_SELF);
    struct pvm_frame_state st;
    pvm_frame_query(&m, 1, &st);
    std::printf("cxx: pin L1: %d, type %s\n", rc, pvm_type_name(st.type));
    return rc == 0 && st.type == PVM_TYPE_L1 ? 0 : 1;
}
