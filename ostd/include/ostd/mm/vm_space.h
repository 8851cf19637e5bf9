// ostd/mm/vm_space.h — user address spaces.
//
// A VmSpace maps user virtual pages [user_base(), user_top()) to frames with R/W/X permissions,
// at page granularity. It holds a reference to every mapped frame. Changes are visible to code
// running in the address space (UserMode) before the change call returns or before user code
// next runs, whichever the backend can do cheaper; the host backend batches them. Services never
// see page tables; they map, unmap, protect and query, and copy through checked accessors that
// fail with EFAULT where the address space has no mapping or the wrong permission (after giving
// the installed page-fault handler one chance to fix it, as a CPU fault would).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/frame.h>
#include <ostd/sync.h>
#include <ostd/types.h>

namespace ostd {

namespace arch {
struct AddressSpace;
struct AddressSpaceDeleter {
  void operator()(AddressSpace* as) const;
};
}  // namespace arch

enum class PageFlags : u8 { None = 0, R = 1, W = 2, X = 4, RW = 3, RX = 5, RWX = 7 };
constexpr PageFlags operator|(PageFlags a, PageFlags b) {
  return static_cast<PageFlags>(static_cast<u8>(a) | static_cast<u8>(b));
}
constexpr PageFlags operator&(PageFlags a, PageFlags b) {
  return static_cast<PageFlags>(static_cast<u8>(a) & static_cast<u8>(b));
}
constexpr bool has(PageFlags set, PageFlags bits) { return (set & bits) == bits; }

/// The kind of access that faulted or that a copy needs.
enum class Access : u8 { Read, Write, Execute };

struct PageMapping {
  Frame frame;
  PageFlags flags;
};

class VmSpace {
 public:
  /// Called for an access to [va] that the mappings do not allow; returns success when it has
  /// fixed the mapping (demand paging, copy-on-write) so the access can be retried.
  using FaultHandler = std::function<Result<void>(Vaddr va, Access access)>;

  static Result<std::shared_ptr<VmSpace>> create();
  ~VmSpace();
  VmSpace(const VmSpace&) = delete;
  VmSpace& operator=(const VmSpace&) = delete;

  /// Lowest and one-past-highest mappable user address on this backend.
  static Vaddr user_base();
  static Vaddr user_top();

  /// Maps one page (replacing any mapping there). EINVAL: unaligned or outside the user range.
  Result<void> map(Vaddr va, Frame frame, PageFlags flags);
  /// Maps consecutive pages starting at va.
  Result<void> map_frames(Vaddr va, std::span<const Frame> frames, PageFlags flags);
  /// Unmaps every mapped page in [va, va+len); unmapped holes are fine. EINVAL as above.
  Result<void> unmap(Vaddr va, usize len);
  /// Changes permissions of every mapped page in [va, va+len).
  Result<void> protect(Vaddr va, usize len, PageFlags flags);
  /// Several protect() calls at once, with one trip to the backend for all of them (fork
  /// write-protects every private writable area). EINVAL for any bad range, and then nothing
  /// changes.
  struct Protection {
    Vaddr va;
    usize len;
    PageFlags flags;
  };
  Result<void> protect_all(std::span<const Protection> changes);
  std::optional<PageMapping> query(Vaddr va) const;
  /// Every mapped page in [start, end), ascending (empty subtrees are skipped, so huge sparse
  /// ranges are cheap). For fork and /proc.
  std::vector<std::pair<Vaddr, PageMapping>> mappings_in(Vaddr start, Vaddr end) const;
  usize mapped_pages() const;

  /// All-or-nothing copies; EFAULT on any inaccessible byte (nothing is guaranteed about how
  /// much of dst was written before the fault).
  Result<void> read_bytes(Vaddr src, std::span<u8> dst);
  Result<void> write_bytes(Vaddr dst, std::span<const u8> src);
  /// Copies until done or the first inaccessible byte; returns the count (0 => EFAULT).
  Result<usize> read_bytes_partial(Vaddr src, std::span<u8> dst);
  Result<usize> write_bytes_partial(Vaddr dst, std::span<const u8> src);
  /// Atomically replaces the 32-bit word at va with `desired` if it holds `expected`, as the
  /// program's own threads see memory (they may run at the same time); returns the value it
  /// held. Faults the page in for writing once; EFAULT where that fails, EINVAL unless va is
  /// 4-byte aligned. For futex operations on user words (FUTEX_WAKE_OP, robust lists).
  Result<u32> compare_exchange_u32(Vaddr va, u32 expected, u32 desired);
  /// Reads a NUL-terminated string of at most max_len bytes (without the NUL).
  /// ENAMETOOLONG when no NUL is found within max_len + 1 bytes, EFAULT on a bad address.
  Result<std::string> read_cstring(Vaddr src, usize max_len);

  void set_fault_handler(FaultHandler handler);
  /// Runs the fault handler for an access (as a user-mode fault would); EFAULT without handler.
  Result<void> handle_fault(Vaddr va, Access access);

  /// ostd-internal: the backend's view of this address space.
  arch::AddressSpace& arch_space() { return *arch_; }
  /// ostd-internal: pushes queued mapping changes to the backend now.
  Result<void> flush();

  struct PageTable;

 private:
  VmSpace();
  friend struct CopyEngine;
  // User memory of one space to another's (or the same), page by page between the two
  // direct-map views under both spaces' locks; each fault handler gets one chance per page.
  // Returns the bytes copied (stops at the first inaccessible byte on either side).
  static usize copy_between(VmSpace& src, Vaddr src_va, VmSpace& dst, Vaddr dst_va, usize n);
  // Translates va for `access` to a direct-map offset; nullopt when not allowed.
  std::optional<Paddr> translate(Vaddr va, Access access) const;
  Result<usize> copy(Vaddr va, std::span<u8> kbuf, bool to_user, bool partial);
  // copy() through the page table alone, under the lock.
  Result<usize> copy_walk(Vaddr va, std::span<u8> kbuf, bool to_user, bool partial);

  mutable Mutex lock_;
  std::unique_ptr<PageTable> pt_;
  std::unique_ptr<arch::AddressSpace, arch::AddressSpaceDeleter> arch_;
  FaultHandler fault_handler_;
};

}  // namespace ostd
