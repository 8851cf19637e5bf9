// ostd/mm/io.h — VmReader / VmWriter: cursors over kernel or user memory, and the typed,
// checked user pointers services use for every user-memory access.
//
// A user-side cursor copies through the VmSpace's mappings (never through host pointers into the
// guest), so a bad user address is EFAULT, never a crash. T in UserPtr<T> must be trivially
// copyable with no padding (no kernel bytes can leak through padding); reading one from user
// memory also needs T to be Pod (ostd/pod.h: any bytes the user wrote form a valid T).
#pragma once

#include <memory>
#include <span>
#include <type_traits>

#include <ostd/bytes.h>
#include <ostd/error.h>
#include <ostd/mm/vm_space.h>
#include <ostd/types.h>

namespace ostd {

template <typename T>
concept UserCopyable =
    std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T> && std::has_unique_object_representations_v<T>;

class VmWriter;

class VmReader {
 public:
  static VmReader from_kernel(std::span<const u8> bytes);
  static VmReader from_user(VmSpace& vm, Vaddr addr, usize len);

  usize remain() const { return len_; }
  bool has_remain() const { return len_ > 0; }
  /// Skips up to n bytes.
  void skip(usize n);
  /// Copies min(remain(), w.avail()) bytes into w, stopping at the first inaccessible user byte.
  /// Returns the count; EFAULT when a fault stopped it before any byte was copied.
  Result<usize> read_to(VmWriter& w);
  /// Reads exactly dst.size() bytes (EFAULT if any is inaccessible, EINVAL past the end).
  Result<void> read_bytes(std::span<u8> dst);
  template <Pod T>
  Result<T> read_val() {
    T v{};
    TRY(read_bytes(writable_bytes_of(v)));
    return v;
  }

 private:
  friend class VmWriter;
  friend struct CopyEngine;
  friend class Frame;
  friend class Segment;
  friend class DmaCoherent;
  /// Physical memory at [paddr, paddr+len): only for ostd's owners of that memory (a Frame,
  /// a Segment, a DMA buffer), which bound it to what they own. Never public: it would let
  /// safe code read any physical address.
  static VmReader from_phys(Paddr paddr, usize len);
  enum class Kind : u8 { Kernel, User, Phys } kind_ = Kind::Kernel;
  const u8* kptr_ = nullptr;
  VmSpace* vm_ = nullptr;
  u64 addr_ = 0;
  usize len_ = 0;
};

class VmWriter {
 public:
  static VmWriter from_kernel(std::span<u8> bytes);
  static VmWriter from_user(VmSpace& vm, Vaddr addr, usize len);

  usize avail() const { return len_; }
  bool has_avail() const { return len_ > 0; }
  void skip(usize n);
  Result<usize> write_from(VmReader& r) { return r.read_to(*this); }
  Result<void> write_bytes(std::span<const u8> src);
  /// Writes n zero bytes (or up to avail()); EFAULT semantics as read_to.
  Result<usize> fill_zeros(usize n);
  template <UserCopyable T>
  Result<void> write_val(const T& v) {
    return write_bytes(bytes_of(v));
  }

 private:
  friend class VmReader;
  friend struct CopyEngine;
  friend class Frame;
  friend class Segment;
  friend class DmaCoherent;
  /// Physical memory at [paddr, paddr+len); see VmReader::from_phys.
  static VmWriter from_phys(Paddr paddr, usize len);
  enum class Kind : u8 { Kernel, User, Phys } kind_ = Kind::Kernel;
  u8* kptr_ = nullptr;
  VmSpace* vm_ = nullptr;
  u64 addr_ = 0;
  usize len_ = 0;
};

/// A typed user-space address. Opaque: no dereference, no arithmetic except checked offsets.
template <UserCopyable T>
class UserPtr {
 public:
  constexpr UserPtr() = default;
  constexpr explicit UserPtr(Vaddr addr) : addr_(addr) {}
  constexpr Vaddr addr() const { return addr_; }
  constexpr bool is_null() const { return addr_ == 0; }

  Result<T> read(VmSpace& vm) const requires Pod<T> {
    T v{};
    TRY(vm.read_bytes(addr_, writable_bytes_of(v)));
    return v;
  }
  Result<void> write(VmSpace& vm, const T& v) const { return vm.write_bytes(addr_, bytes_of(v)); }
  /// The pointer to element i of an array at this address (EFAULT on overflow).
  Result<UserPtr> element(usize i) const {
    u64 off = 0;
    u64 out = 0;
    if (!checked_mul<u64>(i, sizeof(T), off) || !checked_add<u64>(addr_, off, out)) {
      return Errno::efault;
    }
    return UserPtr(out);
  }

 private:
  Vaddr addr_ = 0;
};

/// Direction-typed user pointers (Zircon's user_in_ptr / user_out_ptr).
template <UserCopyable T>
class UserIn {
 public:
  constexpr explicit UserIn(Vaddr a) : p_(a) {}
  constexpr Vaddr addr() const { return p_.addr(); }
  constexpr bool is_null() const { return p_.is_null(); }
  Result<T> read(VmSpace& vm) const requires Pod<T> { return p_.read(vm); }

 private:
  UserPtr<T> p_;
};
template <UserCopyable T>
class UserOut {
 public:
  constexpr explicit UserOut(Vaddr a) : p_(a) {}
  constexpr Vaddr addr() const { return p_.addr(); }
  constexpr bool is_null() const { return p_.is_null(); }
  Result<void> write(VmSpace& vm, const T& v) const { return p_.write(vm, v); }

 private:
  UserPtr<T> p_;
};

}  // namespace ostd
