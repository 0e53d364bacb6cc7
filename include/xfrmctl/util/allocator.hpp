// How the C library's allocator treats memory freed. Under a hypervisor
// that traps every page fault (User-Mode Linux: about 0.2 ms a page), a
// page handed back to the kernel and taken again costs more than the work
// done in it; real hardware gains a little too.
#pragma once

namespace xfrmctl {

// Keeps freed memory for reuse: every block from the heap (none mapped on
// its own, which would be unmapped when freed) and the heap's top kept.
// Call first thing in main.
void keep_freed_memory();

} // namespace xfrmctl
