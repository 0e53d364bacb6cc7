#include "xfrmctl/util/allocator.hpp"

#include <malloc.h>

namespace xfrmctl {

void keep_freed_memory()
{
    mallopt(M_MMAP_MAX, 0);               // large blocks from the heap too: freed, they are reused
    mallopt(M_TRIM_THRESHOLD, 1 << 30);   // the heap's free top stays mapped
    mallopt(M_TOP_PAD, 16 << 20);         // and grows in steps of 16 MiB, not one brk() per block
}

} // namespace xfrmctl
