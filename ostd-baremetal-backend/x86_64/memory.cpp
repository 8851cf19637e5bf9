// Physical memory and page tables: the kernel's own mappings (direct map, kernel image, the
// stack area) and user address spaces (4-level tables mirroring each VmSpace).
#include <array>
#include <cstring>

#include <ostd/internal.h>
#include <ostd/irq.h>
#include <ostd/log.h>

#include "heap.h"
#include "x86.h"

extern "C" {
extern char __text_start[];  // NOLINT
extern char __text_end[];    // NOLINT
extern char __rodata_end[];  // NOLINT
}

namespace ostd::x86 {

namespace {

constexpr u64 kP = 1ull << 0;
constexpr u64 kW = 1ull << 1;
constexpr u64 kU = 1ull << 2;
constexpr u64 kPwt = 1ull << 3;
constexpr u64 kPcd = 1ull << 4;
constexpr u64 kHuge = 1ull << 7;
constexpr u64 kG = 1ull << 8;
constexpr u64 kKept = 1ull << 9;  // software: a PROT_NONE page, not present, frame kept
constexpr u64 kNx = 1ull << 63;
constexpr u64 kAddrMask = 0x000ffffffffff000ull;

u64* g_kernel_pml4 = nullptr;
std::array<arch::PhysRange, 1> g_ranges{};

// SAFETY: a present non-leaf entry holds the paddr of a page-table page from alloc_pages
// (heap, direct-mapped, 512 entries); callers never pass a huge-page entry.
u64* table_at(u64 entry) { return reinterpret_cast<u64*>(phys_ptr(entry & kAddrMask)); }

/// The entry for `va` at the lowest level, creating intermediate tables (with `inter` flags).
u64* walk_create(u64* pml4, u64 va, u64 inter) {
  u64* t = pml4;
  for (int shift = 39; shift > 12; shift -= 9) {
    u64& e = t[(va >> shift) & 511];
    if ((e & kP) == 0) {
      void* page = alloc_pages(1);
      e = virt_to_phys_direct(page) | inter;
    } else if ((e & kHuge) != 0) {
      panic("walk_create through a huge page at {:#x}", va);
    }
    t = table_at(e);
  }
  return &t[(va >> 12) & 511];
}

u64* walk(u64* pml4, u64 va) {
  u64* t = pml4;
  for (int shift = 39; shift > 12; shift -= 9) {
    u64 e = t[(va >> shift) & 511];
    if ((e & kP) == 0) return nullptr;
    t = table_at(e);
  }
  return &t[(va >> 12) & 511];
}

}  // namespace

void memory_init(std::span<const RamRange> usable, u64 kernel_phys_end, RamRange keep) {
  // The RAM range that holds the kernel; the heap follows the image, frames follow the heap.
  u64 start = page_align_up(kernel_phys_end);
  u64 end = 0;
  u64 ram_top = 0;
  for (const RamRange& r : usable) {
    if (r.base <= start && start < r.base + r.size) end = page_align_down(r.base + r.size);
    if (r.base + r.size > ram_top) ram_top = r.base + r.size;
  }
  if (end <= start + (32ull << 20)) panic("too little memory after the kernel image");
  u64 total = end - start;
  u64 heap = total / 4;
  if (heap < (16ull << 20)) heap = 16ull << 20;
  if (heap > (512ull << 20)) heap = 512ull << 20;
  heap &= ~((2ull << 20) - 1);
  if (start + heap > (1ull << 30)) panic("the kernel heap must lie in the first GiB");
  if (keep.size != 0 && keep.base < start + heap && start < keep.base + keep.size) {
    panic("the initramfs at {:#x} overlaps the kernel heap", keep.base);
  }
  // The boot tables map the first GiB at the direct-map base: the heap is usable now.
  heap_init(phys_ptr(start), heap);
  g_ranges.at(0) = {start + heap, end - start - heap};

  // Final kernel tables. Global pages survive CR3 switches between address spaces.
  // SAFETY: alloc_pages(1) returns a zeroed, page-aligned heap page: 512 u64 entries.
  g_kernel_pml4 = static_cast<u64*>(alloc_pages(1));
  u64 direct_top = ram_top > (4ull << 30) ? ram_top : (4ull << 30);
  direct_top = (direct_top + (1ull << 30) - 1) & ~((1ull << 30) - 1);
  u64 ngib = direct_top >> 30;
  if (ngib > 512) panic("more than 512 GiB of physical address space");
  // SAFETY: alloc_pages(1) returns zeroed, page-aligned heap pages: 512 u64 entries each.
  auto* pdpt = static_cast<u64*>(alloc_pages(1));
  g_kernel_pml4[256] = virt_to_phys_direct(pdpt) | kP | kW;
  for (u64 g = 0; g < ngib; ++g) {
    auto* pd = static_cast<u64*>(alloc_pages(1));
    pdpt[g] = virt_to_phys_direct(pd) | kP | kW;
    for (u64 i = 0; i < 512; ++i) {
      u64 pa = (g << 30) | (i << 21);
      bool ram = false;
      for (const RamRange& r : usable) {
        if (pa < r.base + r.size && r.base < pa + (2ull << 20)) ram = true;
      }
      pd[i] = pa | kP | kW | kHuge | kG | kNx | (ram ? 0 : (kPcd | kPwt));
    }
  }
  // The stack area: its PDPT exists from the start so every address space shares it.
  g_kernel_pml4[384] = virt_to_phys_direct(alloc_pages(1)) | kP | kW;
  // The kernel image at -2 GiB, W^X in 4 KiB pages: text read-only and executable, read-only
  // data read-only, the rest (boot area, data, bss) writable and not executable. Nothing else
  // of the first GiB is mapped there. The image's alias in the direct map gets the same split,
  // so the text is nowhere writable.
  // SAFETY: pointer to integer only: linker symbols of the image, at kKernelVma + paddr.
  u64 text_lo = reinterpret_cast<u64>(__text_start) - kKernelVma;
  u64 text_hi = page_align_up(reinterpret_cast<u64>(__text_end) - kKernelVma);
  u64 ro_hi = page_align_up(reinterpret_cast<u64>(__rodata_end) - kKernelVma);
  // The image's 2 MiB chunks (the boot tables map the first GiB, so up to 16 MiB is reachable).
  constexpr u64 kChunk = 2ull << 20, kMaxImage = 16ull << 20;
  if (page_align_up(kernel_phys_end) > kMaxImage) panic("kernel image over 16 MiB");
  const u64 chunks = (page_align_up(kernel_phys_end) + kChunk - 1) / kChunk;
  auto image_pt = [&](u64 chunk, bool executable_alias) {
    // SAFETY: alloc_pages(1) returns a zeroed, page-aligned heap page: 512 u64 entries.
    auto* pt = static_cast<u64*>(alloc_pages(1));
    for (u64 i = 0; i < 512; ++i) {
      u64 pa = chunk * kChunk + (i << 12);
      u64 e = pa | kP | kG;
      if (pa >= text_lo && pa < text_hi) {
        if (!executable_alias) e |= kNx;
      } else if (pa >= text_hi && pa < ro_hi) {
        e |= kNx;
      } else {
        e |= kW | kNx;
      }
      pt[i] = e;
    }
    return pt;
  };
  // SAFETY: alloc_pages(1) returns zeroed, page-aligned heap pages: 512 u64 entries each.
  auto* kpdpt = static_cast<u64*>(alloc_pages(1));
  auto* kpd = static_cast<u64*>(alloc_pages(1));
  g_kernel_pml4[511] = virt_to_phys_direct(kpdpt) | kP | kW;
  kpdpt[510] = virt_to_phys_direct(kpd) | kP | kW;
  // The direct map's first chunks (pd of GiB 0) in 4 KiB pages too, the image part W^X.
  u64* pd0 = table_at(pdpt[0]);
  for (u64 c = 0; c < chunks; ++c) {
    kpd[c] = virt_to_phys_direct(image_pt(c, true)) | kP | kW;
    pd0[c] = virt_to_phys_direct(image_pt(c, false)) | kP | kW;
  }

  u64 cr4;
  // SAFETY: reading CR4 has no side effects; the value goes to a register output.
  asm volatile("mov %%cr4, %0" : "=r"(cr4));
  cr4 |= 1ull << 7;  // PGE
  // SAFETY: only PGE is added to the value just read: it enables global TLB entries (and
  // flushes the TLB), changing no memory; write_cr3's clobber orders the table stores.
  asm volatile("mov %0, %%cr4" : : "r"(cr4));
  write_cr3(virt_to_phys_direct(g_kernel_pml4));
}

Paddr kernel_pml4() { return virt_to_phys_direct(g_kernel_pml4); }

void map_kernel_page(u64 va, Paddr pa) {
  u64* e = walk_create(g_kernel_pml4, va, kP | kW);
  *e = pa | kP | kW | kG | kNx;
  // SAFETY: invlpg only drops va's TLB entry; "memory" keeps the PTE store before it.
  asm volatile("invlpg (%0)" : : "r"(va) : "memory");
}

void unmap_kernel_page(u64 va) {
  u64* e = walk(g_kernel_pml4, va);
  if (e != nullptr) *e = 0;
  // SAFETY: invlpg only drops va's TLB entry; "memory" keeps the PTE store before it.
  asm volatile("invlpg (%0)" : : "r"(va) : "memory");
}

}  // namespace ostd::x86

// ---- the backend interface ----
namespace ostd::arch {

using namespace ostd::x86;

std::span<const PhysRange> phys_ranges() { return g_ranges; }
u8* phys_to_virt(Paddr p) { return x86::phys_ptr(p); }
void prepare_frames(Paddr, u64) {}  // RAM needs no preparing
Vaddr user_base() { return kUserBase; }
Vaddr user_top() { return kUserTop; }

struct AddressSpace {
  u64* pml4 = nullptr;
  bool dirty = false;
};

namespace {
AddressSpace* g_loaded = nullptr;  // the space whose tables CR3 holds (nullptr: the kernel's)
}  // namespace

void AddressSpaceDeleter::operator()(AddressSpace* as) const {
  if (g_loaded == as) {
    write_cr3(kernel_pml4());
    g_loaded = nullptr;
  }
  // Free the user half's tables (leaves map frames the VmSpace owns).
  for (int i = 0; i < 256; ++i) {
    u64 e4 = as->pml4[i];
    if ((e4 & kP) == 0) continue;
    u64* pdpt = table_at(e4);
    for (int j = 0; j < 512; ++j) {
      u64 e3 = pdpt[j];
      if ((e3 & kP) == 0) continue;
      u64* pd = table_at(e3);
      for (int k = 0; k < 512; ++k) {
        if ((pd[k] & kP) != 0) free_pages(table_at(pd[k]), 1);
      }
      free_pages(pd, 1);
    }
    free_pages(pdpt, 1);
  }
  free_pages(as->pml4, 1);
  delete as;
}

Result<std::unique_ptr<AddressSpace, AddressSpaceDeleter>> create_address_space() {
  std::unique_ptr<AddressSpace, AddressSpaceDeleter> as(new AddressSpace);
  // SAFETY: alloc_pages(1) gives a zeroed page-table page (512 u64); kernel_pml4() is the
  // paddr of g_kernel_pml4, a heap page in the direct map.
  as->pml4 = static_cast<u64*>(alloc_pages(1));
  u64* k = reinterpret_cast<u64*>(phys_ptr(kernel_pml4()));
  for (int i = 256; i < 512; ++i) as->pml4[i] = k[i];
  return as;
}

namespace {
u64 leaf_flags(PageFlags f) {
  if (f == PageFlags::None) return kKept;
  u64 e = kP | kU;
  if (has(f, PageFlags::W)) e |= kW;
  if (!has(f, PageFlags::X)) e |= kNx;
  return e;
}
}  // namespace

void as_map(AddressSpace& as, Vaddr va, Paddr pa, usize npages, PageFlags flags) {
  u64 lf = leaf_flags(flags);
  for (usize i = 0; i < npages; ++i) {
    u64 v = va + i * kPageSize;
    u64* e = walk_create(as.pml4, v, kP | kW | kU);
    *e = (pa + i * kPageSize) | lf;
  }
  as.dirty = true;
}

void as_unmap(AddressSpace& as, Vaddr va, usize npages) {
  for (usize i = 0; i < npages; ++i) {
    u64* e = walk(as.pml4, va + i * kPageSize);
    if (e != nullptr) *e = 0;
  }
  as.dirty = true;
}

void as_protect(AddressSpace& as, Vaddr va, usize npages, PageFlags flags) {
  // The VmSpace knows the frame of every page it protects; keep the address, change the bits.
  u64 lf = leaf_flags(flags);
  for (usize i = 0; i < npages; ++i) {
    u64 v = va + i * kPageSize;
    u64* e = walk(as.pml4, v);
    if (e == nullptr || (*e & (kP | kKept)) == 0) continue;
    *e = (*e & kAddrMask) | lf;
  }
  as.dirty = true;
}

Result<void> as_flush(AddressSpace& as) {
  if (as.dirty) {
    as.dirty = false;
    if (g_loaded == &as) write_cr3(virt_to_phys_direct(as.pml4));
  }
  return {};
}

usize as_copy_direct(AddressSpace& as, const Mutex& as_lock, Vaddr va, std::span<u8> kbuf, bool to_user) {
  usize n = kbuf.size();
  if (n == 0 || va < kUserBase || va > kUserTop || n > kUserTop - va) return 0;
  // No task switch until the copy is over: CR3 stays this space's, and no other task can take
  // the lock and change the tables under the copy (one CPU).
  irq::PreemptGuard no_switch;
  // The TLB allows no more than the tables: VmSpace flushes every change that takes rights or
  // frames away (unmap, protect, a map over a present page) before the change returns.
  if (as_lock.is_locked() || g_loaded != &as) return 0;
  // SAFETY: [va, va + n) is in the user range (checked above) and this space is in CR3;
  // x86_user_copy catches faults (an unmapped page returns 0), SMAP is lifted inside it.
  auto* user = reinterpret_cast<u8*>(va);
  u64 faulted = to_user ? x86_user_copy(user, kbuf.data(), n) : x86_user_copy(kbuf.data(), user, n);
  return faulted == 0 ? n : 0;
}

/// x86-internal: loads the address space for user mode.
void as_activate(AddressSpace& as) {
  if (g_loaded != &as) {
    write_cr3(virt_to_phys_direct(as.pml4));
    g_loaded = &as;
  }
  as.dirty = false;
}

}  // namespace ostd::arch
