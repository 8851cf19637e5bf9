// The kernel heap: a buddy allocator over a contiguous run of physical pages (reached through
// the direct map) for page-sized blocks, and power-of-two size classes (16 B .. 2 KiB) carved
// from single pages for small objects. Big blocks (over kBigBytes) come from the frame
// allocator instead, as contiguous Segments, so one large buffer cannot exhaust the heap.
// malloc/free and operator new/delete sit on top. Interrupt handlers never allocate
// (ostd/irq.h), so masking interrupts makes it task-safe.
#include <cstring>
#include <map>
#include <new>
#include <optional>

#include <ostd/mm/frame.h>

#include <ostd/irq.h>
#include <ostd/log.h>

#include "heap.h"
#include "x86.h"

namespace ostd::x86 {

namespace {

constexpr u32 kMaxOrder = 20;     // blocks of up to 2^20 pages (4 GiB)
constexpr u32 kSmallClasses = 8;  // 16, 32, ..., 2048
constexpr u8 kFreeHead = 0x80;    // meta: head of a free buddy block (| order)
constexpr u8 kUsedHead = 0x40;    // meta: head of an allocated buddy block (| order)
constexpr u8 kSlab = 0x20;        // meta: a page of small objects (| class)
constexpr u8 kTail = 0x00;        // meta: inside a block

struct FreeBlock {
  FreeBlock* next;
  FreeBlock* prev;
};
struct FreeObject {
  FreeObject* next;
};

struct Heap {
  u8* base = nullptr;
  usize npages = 0;
  u8* meta = nullptr;  // one byte per page
  FreeBlock* free_lists[kMaxOrder + 1] = {};
  FreeObject* small_free[kSmallClasses] = {};
  usize free_pages = 0;
  usize used_bytes = 0;
  usize peak_pages = 0;
  usize failures = 0;

  usize index_of(const void* p) const {
    // SAFETY: p points into [base, base + npages pages): callers check contains() or take it
    // from a free list; the byte distance is a page index.
    return static_cast<usize>(static_cast<const u8*>(p) - base) / kPageSize;
  }
  u8* page(usize i) const { return base + i * kPageSize; }

  void push_free(usize i, u32 order) {
    // SAFETY: page i < npages heads a block the heap owns and nobody uses now; its first
    // 16 bytes (page-aligned) become the free-list links.
    auto* b = reinterpret_cast<FreeBlock*>(page(i));
    b->prev = nullptr;
    b->next = free_lists[order];
    if (b->next != nullptr) b->next->prev = b;
    free_lists[order] = b;
    meta[i] = static_cast<u8>(kFreeHead | order);
  }
  void remove_free(usize i, u32 order) {
    // SAFETY: meta says page i heads a free block on free_lists[order]; push_free wrote
    // the FreeBlock links there and nothing has used the page since.
    auto* b = reinterpret_cast<FreeBlock*>(page(i));
    if (b->prev != nullptr) {
      b->prev->next = b->next;
    } else {
      free_lists[order] = b->next;
    }
    if (b->next != nullptr) b->next->prev = b->prev;
    meta[i] = kTail;
  }

  void* alloc_block(u32 order) {
    u32 o = order;
    while (o <= kMaxOrder && free_lists[o] == nullptr) ++o;
    if (o > kMaxOrder) {
      ++failures;
      return nullptr;
    }
    usize i = index_of(free_lists[o]);
    remove_free(i, o);
    while (o > order) {  // split, keeping the lower half
      --o;
      push_free(i + (usize{1} << o), o);
    }
    meta[i] = static_cast<u8>(kUsedHead | order);
    free_pages -= usize{1} << order;
    usize used = npages - free_pages;
    if (used > peak_pages) peak_pages = used;
    return page(i);
  }

  void free_block(usize i, u32 order) {
    free_pages += usize{1} << order;
    while (order < kMaxOrder) {
      usize buddy = i ^ (usize{1} << order);
      if (buddy >= npages || meta[buddy] != (kFreeHead | order)) break;
      remove_free(buddy, order);
      meta[i] = kTail;
      i = i < buddy ? i : buddy;
      ++order;
    }
    push_free(i, order);
  }

  void* alloc_small(u32 cls) {
    if (small_free[cls] == nullptr) {
      void* pg = alloc_block(0);
      if (pg == nullptr) return nullptr;
      meta[index_of(pg)] = static_cast<u8>(kSlab | cls);
      usize size = usize{16} << cls;
      // Thread the page's objects onto the class's free list (lowest address first).
      // SAFETY: pg is a fresh page-aligned page we own; every object p + off - size lies
      // inside it, size-aligned (>= 16), and holds only its free-list link.
      auto* p = static_cast<u8*>(pg);
      for (usize off = kPageSize; off >= size; off -= size) {
        auto* o = reinterpret_cast<FreeObject*>(p + off - size);
        o->next = small_free[cls];
        small_free[cls] = o;
      }
    }
    FreeObject* o = small_free[cls];
    small_free[cls] = o->next;
    used_bytes += usize{16} << cls;
    return o;
  }

  bool contains(const void* p) const {
    // SAFETY: p is only compared with the heap bounds (flat address space), never read.
    auto* b = static_cast<const u8*>(p);
    return b >= base && b < base + npages * kPageSize;
  }
};

Heap g_heap;

constexpr usize kBigBytes = 128 * 1024;
bool g_big_ok = false;  // the frame allocator is up (it allocates its own tables here first)
std::map<u64, Segment>& big_blocks() {
  static std::map<u64, Segment> m;
  return m;
}

u32 order_for_pages(usize n) {
  u32 o = 0;
  while ((usize{1} << o) < n) ++o;
  return o;
}

}  // namespace

void heap_init(u8* base, usize bytes) {
  Heap& h = g_heap;
  usize npages = bytes / kPageSize;
  // Metadata (one byte per page) takes the first pages of the region.
  usize meta_pages = (npages + kPageSize - 1) / kPageSize;
  h.meta = base;
  // SAFETY: memory_init hands over [base, base + bytes), mapped and unused; meta_pages
  // pages fit in it since meta_pages <= npages.
  std::memset(h.meta, 0, meta_pages * kPageSize);
  h.base = base + meta_pages * kPageSize;
  h.npages = npages - meta_pages;
  // Add the pages as naturally aligned blocks, largest first.
  usize i = 0;
  while (i < h.npages) {
    u32 o = kMaxOrder;
    while (o > 0 && ((i & ((usize{1} << o) - 1)) != 0 || i + (usize{1} << o) > h.npages)) --o;
    h.push_free(i, o);
    h.free_pages += usize{1} << o;
    i += usize{1} << o;
  }
}

void* heap_alloc(usize size, usize align) {
  if (size == 0) size = 1;
  if (align > kPageSize) return nullptr;
  if (size < align) size = align;
  if (size > kBigBytes && g_big_ok) {
    auto seg = Segment::alloc((size + kPageSize - 1) / kPageSize);
    if (seg.is_ok()) {
      auto* p = phys_ptr(seg.value().paddr());
      irq::DisabledGuard g;
      // SAFETY: pointer to integer only, the key heap_free and heap_usable_size look up.
      big_blocks().emplace(reinterpret_cast<u64>(p), seg.release_value());
      return p;
    }
    // No contiguous run of frames: try the heap itself.
  }
  irq::DisabledGuard g;
  Heap& h = g_heap;
  if (size <= 2048) {
    u32 cls = 0;
    while ((usize{16} << cls) < size) ++cls;
    return h.alloc_small(cls);
  }
  usize pages = (size + kPageSize - 1) / kPageSize;
  void* p = h.alloc_block(order_for_pages(pages));
  if (p != nullptr) h.used_bytes += (usize{1} << order_for_pages(pages)) * kPageSize;
  return p;
}

void heap_free(void* p) {
  if (p == nullptr) return;
  Heap& h = g_heap;
  if (!h.contains(p)) {
    std::optional<Segment> seg;
    {
      irq::DisabledGuard g;
      // SAFETY: pointer to integer only (the map key; the panic message).
      auto it = big_blocks().find(reinterpret_cast<u64>(p));
      if (it == big_blocks().end()) {
        panic("heap_free of a pointer that is not an allocated block: {:#x}", reinterpret_cast<u64>(p));
      }
      seg = std::move(it->second);
      big_blocks().erase(it);
    }
    return;  // the frames go back to the frame allocator with `seg`
  }
  irq::DisabledGuard g;
  usize i = h.index_of(p);
  u8 m = h.meta[i];
  if ((m & kSlab) != 0 && (m & (kFreeHead | kUsedHead)) == 0) {
    u32 cls = m & 0x1f;
    // SAFETY: meta marks p's page a slab of class cls and callers free a live object start,
    // so p has >= 16 aligned bytes nobody uses: they become the free-list link.
    auto* o = static_cast<FreeObject*>(p);
    o->next = h.small_free[cls];
    h.small_free[cls] = o;
    h.used_bytes -= usize{16} << cls;
    return;
  }
  if ((m & kUsedHead) == 0 || h.page(i) != p) {
    // SAFETY: pointer to integer only, for the panic message.
    panic("heap_free of a pointer that is not an allocated block: {:#x}", reinterpret_cast<u64>(p));
  }
  u32 order = m & 0x3f;
  h.used_bytes -= (usize{1} << order) * kPageSize;
  h.free_block(i, order);
}

usize heap_usable_size(const void* p) {
  Heap& h = g_heap;
  if (!h.contains(p)) {
    irq::DisabledGuard g;
    // SAFETY: pointer to integer only, the key heap_alloc stored big blocks under.
    auto it = big_blocks().find(reinterpret_cast<u64>(p));
    return it == big_blocks().end() ? 0 : it->second.size();
  }
  u8 m = h.meta[h.index_of(p)];
  if ((m & kSlab) != 0 && (m & (kFreeHead | kUsedHead)) == 0) return usize{16} << (m & 0x1f);
  return (usize{1} << (m & 0x3f)) * kPageSize;
}

HeapStats heap_stats() {
  irq::DisabledGuard g;
  return {g_heap.npages * kPageSize, g_heap.free_pages * kPageSize, g_heap.used_bytes, g_heap.peak_pages * kPageSize,
          g_heap.failures};
}

void heap_enable_big_blocks() {
  (void)frame_stats();  // builds the frame allocator (its tables come from the heap proper)
  g_big_ok = true;
}

void* alloc_pages(usize n) {
  void* p = heap_alloc(n * kPageSize, kPageSize);
  if (p == nullptr) panic("out of kernel heap ({} pages wanted)", n);
  // SAFETY: heap_alloc returned (not null) a block of at least n * kPageSize bytes we own.
  std::memset(p, 0, n * kPageSize);
  return p;
}

void free_pages(void* p, usize) { heap_free(p); }

}  // namespace ostd::x86
