// The kernel heap (heap.cpp).
#pragma once

#include <ostd/types.h>

namespace ostd::x86 {

void heap_init(u8* base, usize bytes);
/// nullptr when out of memory. `align` up to a page.
void* heap_alloc(usize size, usize align);
void heap_free(void* p);
usize heap_usable_size(const void* p);
/// From now on big blocks come from the frame allocator (call once memory is set up).
void heap_enable_big_blocks();

struct HeapStats {
  usize total, free, used, peak, failures;
};
HeapStats heap_stats();

}  // namespace ostd::x86
