// Rewriting `syscall` sites into jumps to ostd's fast entry (syscall_patch.h,
// docs/syscall-patching.md).
#include "vm/syscall_patch.h"

#include <algorithm>

#include "abi/x86_64/insn.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::kPageSize;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;
using ostd::Vaddr;
using x86_64::Insn;

namespace {
constexpr u32 kTrapSlots = static_cast<u32>((kTrapTableEnd - kTrapTableStart) / kTrapSlotBytes);
constexpr u8 kInt3 = 0xCC;
constexpr u8 kInvalidOpcode = 0x06;  // the third byte of every slot address
constexpr u32 kSiteSettled = ~u32{0};
constexpr u32 kRewriteAfterTraps = 16;
// The longest instruction: any instruction overlapping a byte starts at most this far before it.
constexpr usize kLongestInsn = 15;

void put64(std::vector<u8>& out, u64 v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<u8>(v >> (8 * i)));
}
void put32(std::vector<u8>& out, u32 v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<u8>(v >> (8 * i)));
}
}  // namespace

std::optional<u32> plan_syscall_patch(std::span<const u8> before) {
  if (before.size() > kPlanWindow) before = before.last(kPlanWindow);
  const usize n = before.size();
  // Decode from every byte: does the run of instructions starting there end exactly at the
  // `syscall` (Lands), run past it or into an invalid opcode (Impossible: not the real
  // instruction stream), or meet an encoding the decoder does not know (Unsure)?
  enum class Fate : u8 { Lands, Impossible, Unsure };
  std::array<Fate, kPlanWindow> fate{};
  static_assert(kPlanWindow <= 64);
  std::array<u64, kPlanWindow> starts{};  // instruction starts per run, a bit per offset
  for (usize s = 0; s < n; ++s) {
    usize pos = s;
    for (;;) {
      if (pos == n) {
        fate[s] = Fate::Lands;
        break;
      }
      starts[s] |= u64{1} << pos;
      Insn in = x86_64::decode_insn(before.subspan(pos));
      if (in.status == Insn::Status::Unknown) {
        fate[s] = Fate::Unsure;
        break;
      }
      if (in.status != Insn::Status::Ok) {  // invalid, or overlapping the syscall
        fate[s] = Fate::Impossible;
        break;
      }
      pos += in.length;
    }
  }
  for (u32 d = 5; d <= kMaxDisplaced && d <= n; ++d) {
    if (d == 6) continue;  // the syscall would start where the jump's last byte is
    const usize b = n - d;
    if (b < kLongestInsn - 1) break;  // cannot see every instruction that might overlap b
    // b is an instruction start of the real stream if, in some stretch of 15 bytes at or
    // before it, every run that starts there and lands on the syscall starts an instruction
    // at b: some instruction of the real stream starts in any such stretch (the bytes are the
    // area's code), and its run lands. The earliest stretches say the most: runs that start
    // inside real instructions fall in step with the real stream within a few instructions.
    bool real = false;
    for (usize s0 = 0; s0 + (kLongestInsn - 1) <= b && !real && fate[b] == Fate::Lands; ++s0) {
      bool all = true, any = false;
      for (usize s = s0; s < s0 + kLongestInsn && all; ++s) {
        if (fate[s] == Fate::Unsure) all = false;
        if (fate[s] == Fate::Lands) {
          any = true;
          all = all && ((starts[s] >> b) & 1) != 0;
        }
      }
      real = all && any;
    }
    if (!real) continue;
    // Every instruction from b on runs anywhere, and none starts 1-4 or 6 bytes into the jump.
    bool movable = true;
    for (usize pos = b; pos < n && movable;) {
      Insn in = x86_64::decode_insn(before.subspan(pos));
      usize rel = pos - b;
      movable = in.status == Insn::Status::Ok && !in.control && !in.rip_relative && (rel == 0 || rel == 5 || rel >= 7);
      pos += in.length;
    }
    if (movable) return d;
  }
  return std::nullopt;
}

std::array<u8, 7> site_jump(Vaddr trampoline) {
  // jmp *disp32 (ModRM 0x24: SIB follows; SIB 0x25: no base, no index, absolute disp32)
  u32 a = static_cast<u32>(trampoline);
  return {0xFF,
          0x24,
          0x25,
          static_cast<u8>(a),
          static_cast<u8>(a >> 8),
          static_cast<u8>(a >> 16),
          static_cast<u8>(a >> 24)};
}

std::vector<u8> build_trampoline(Vaddr at, std::span<const u8> displaced, Vaddr resume, u32 gs_offset, u32& fast_word) {
  std::vector<u8> out;
  put64(out, at + 8);  // what the site's jmp *at loads
  out.insert(out.end(), displaced.begin(), displaced.end());
  out.push_back(0x48);  // movabs $resume, %rcx: the return address, as `syscall` leaves it
  out.push_back(0xB9);
  put64(out, resume);
  while ((at + out.size()) % 8 != 0) out.push_back(0x90);
  fast_word = static_cast<u32>(out.size());
  out.insert(out.end(), {0x65, 0xFF, 0x24, 0x25});  // jmp *%gs:gs_offset
  put32(out, gs_offset);
  out.insert(out.end(), {0x0F, 0x05});                          // syscall (slow_word's way)
  out.insert(out.end(), {0xFF, 0x25, 0x00, 0x00, 0x00, 0x00});  // jmp *0(%rip)
  put64(out, resume);
  return out;
}

std::array<u8, 8> slow_word() { return {0xEB, 0x06, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90}; }

// ---- MemoryMap's part ----

namespace {
// Calls f(page, offset in the page, offset in the range, length) for each page-sized piece of
// [va, va + len), stopping at the first error.
template <typename F>
Result<void> for_each_page_piece(Vaddr va, usize len, F&& f) {
  for (usize done = 0; done < len;) {
    const Vaddr at = va + done;
    const Vaddr page = ostd::page_align_down(at);
    const usize n = std::min<usize>(len - done, kPageSize - (at - page));
    TRY(f(page, at - page, done, n));
    done += n;
  }
  return {};
}
}  // namespace

Result<ostd::PageMapping> MemoryMap::mapping_of(const Vma& vma, Vaddr page, ostd::Access access) {
  if (!vm_->query(page)) TRY(populate_page(vma, page, access));
  auto m = vm_->query(page);
  if (!m) return Errno::efault;
  return *m;
}

Result<void> MemoryMap::poke_locked(Vaddr va, std::span<const u8> bytes) {
  return for_each_page_piece(va, bytes.size(), [&](Vaddr page, usize off, usize at, usize n) -> Result<void> {
    auto v = find(page);
    if (!v) return Errno::efault;
    if ((v->flags & kMapShared) != 0 && v->shared != nullptr) return Errno::eperm;
    ostd::PageMapping m = TRY(mapping_of(*v, page, ostd::Access::Read));
    if (m.frame.refcount() > 2) {  // not this mapping's alone (a file's page, or shared by fork)
      ostd::Frame copy = TRY(ostd::Frame::alloc_uninit());
      copy.copy_from(m.frame);
      TRY(vm_->map(page, copy, m.flags));
      m.frame = std::move(copy);
    }
    return m.frame.write_bytes(off, bytes.subspan(at, n));
  });
}

Result<void> MemoryMap::read_forced(Vaddr va, std::span<u8> out) {
  ostd::MutexGuard g(lock_);
  return for_each_page_piece(va, out.size(), [&](Vaddr page, usize off, usize at, usize n) -> Result<void> {
    auto v = find(page);
    if (!v) return Errno::efault;
    ostd::PageMapping m = TRY(mapping_of(*v, page, ostd::Access::Read));
    return m.frame.read_bytes(off, out.subspan(at, n));
  });
}

Result<void> MemoryMap::write_forced(Vaddr va, std::span<const u8> bytes) {
  ostd::MutexGuard g(lock_);
  bool shared = false;
  for (Vaddr at = ostd::page_align_down(va); at < va + bytes.size(); at += kPageSize) {
    auto v = find(at);
    if (!v) return Errno::efault;
    if ((v->flags & kMapShared) != 0 && (v->prot & kProtWrite) == 0) return Errno::efault;
    if (at <= va) shared = (v->flags & kMapShared) != 0;  // the first page's area decides
  }
  if (!shared) return poke_locked(va, bytes);
  // A writable shared mapping: the shared pages themselves, as a store would.
  return for_each_page_piece(va, bytes.size(), [&](Vaddr page, usize off, usize at, usize n) -> Result<void> {
    auto v = find(page);
    if (!v) return Errno::efault;
    ostd::PageMapping m = TRY(mapping_of(*v, page, ostd::Access::Write));
    return m.frame.write_bytes(off, bytes.subspan(at, n));
  });
}

namespace {
// Reads mapped bytes without faulting anything in (the map's lock is held).
Result<void> peek(ostd::VmSpace& vm, Vaddr va, std::span<u8> out) {
  return for_each_page_piece(va, out.size(), [&](Vaddr page, usize off, usize at, usize n) -> Result<void> {
    auto m = vm.query(page);
    if (!m) return Errno::efault;
    return m->frame.read_bytes(off, out.subspan(at, n));
  });
}
}  // namespace

bool MemoryMap::patch_syscall_site(Vaddr return_ip, u32 gs_offset) {
  if (return_ip < kPlanWindow + 2) return true;
  const Vaddr site = return_ip - 2;
  Vaddr from = site - kPlanWindow;
  {
    ostd::MutexGuard g(lock_);
    if (patching_off_ || traps_used_ >= kTrapSlots) return true;
    u32& traps = syscall_site_traps_[site];
    if (traps == kSiteSettled) return true;
    // Rewriting costs a copy of the code page and a mapping change (tens of microseconds on
    // the host backend); a site that traps this often is likely to trap many times more (a
    // loop), where one that a short-lived process runs once or twice is not worth it.
    if (++traps < kRewriteAfterTraps) return false;
    traps = kSiteSettled;
    if (site >= kTrapTableStart && site < kTrapTableEnd) return true;
    // Only the area's own bytes: the planner takes them all for code.
    auto v = find(site);
    if (!v || (v->prot & kProtExec) == 0 || (v->flags & kMapShared) != 0 || v->end < site + 2) {
      return true;
    }
    from = std::max(from, v->start);
  }
  // The code before the site (read without the lock: reading may fault a page in).
  std::array<u8, kPlanWindow + 2> buf{};
  const usize n = site - from;  // bytes before the syscall
  std::span<u8> code = std::span<u8>(buf).first(n + 2);
  if (vm_->read_bytes(from, code).is_error()) return true;
  if (code[n] != 0x0F || code[n + 1] != 0x05) return true;
  auto len = plan_syscall_patch(code.first(n));
  if (!len) return true;
  const Vaddr start = site - *len;
  std::span<const u8> displaced = code.subspan(n - *len, *len);
  bool boundary5 = *len == 5 || x86_64::decode_insn(displaced).length == 5;

  bool need_table = false;
  {
    ostd::MutexGuard g(lock_);
    need_table = traps_used_ == 0;
  }
  if (need_table) {
    auto made = map(kTrapTableStart, kTrapTableEnd - kTrapTableStart, kProtRead | kProtExec,
                    kMapPrivate | kMapAnonymous | kMapFixedNoreplace, nullptr, 0, "[usertrap]");
    if (made.is_error()) {
      ostd::MutexGuard g(lock_);
      auto v = find(kTrapTableStart);
      if (!v || v->name != "[usertrap]") {  // the guest has something there: no rewriting
        patching_off_ = true;
        return true;
      }
    }
  }

  ostd::MutexGuard g(lock_);
  if (patching_off_ || traps_used_ >= kTrapSlots || patched_.contains(start)) return true;
  auto table = find(kTrapTableStart);
  if (!table || table->name != "[usertrap]") return true;
  // The site must still hold what was planned on (another thread may have rewritten it).
  std::array<u8, kMaxDisplaced + 2> now{};
  std::span<u8> current = std::span<u8>(now).first(*len + 2);
  if (peek(*vm_, start, current).is_error() || !std::ranges::equal(current, code.subspan(n - *len, *len + 2))) {
    return true;
  }
  const Vaddr slot = kTrapTableStart + u64{traps_used_} * kTrapSlotBytes;
  u32 fast_word = 0;
  std::vector<u8> tramp = build_trampoline(slot, displaced, return_ip, gs_offset, fast_word);
  if (poke_locked(slot, tramp).is_error()) return true;
  ++traps_used_;
  // Copy the site's pages first (poke what is there): the writes after it cannot fail.
  if (poke_locked(start, current.first(7)).is_error()) return true;
  patched_[start] = PatchedSite{slot, *len, fast_word, boundary5};
  // As Linux's text_poke_bp: an int3 first (a thread that reaches the site now traps, and
  // syscall_patch_resume sends it back here), then the tail (byte 5, the invalid opcode, first:
  // a thread that ran the first instruction before the int3 came traps there and continues in
  // the trampoline), the middle, and the jump's first byte last.
  std::array<u8, 7> jump = site_jump(slot);
  std::span<const u8> j(jump);
  (void)poke_locked(start, std::array<u8, 1>{kInt3});
  (void)poke_locked(start + 5, j.subspan(5, 1));
  (void)poke_locked(start + 6, j.subspan(6, 1));
  (void)poke_locked(start + 1, j.subspan(1, 4));
  (void)poke_locked(start, j.first(1));
  return true;
}

std::optional<Vaddr> MemoryMap::syscall_patch_resume(Vaddr ip, bool breakpoint) {
  ostd::MutexGuard g(lock_);
  if (patched_.empty()) return std::nullopt;
  std::array<u8, 1> byte{};
  if (breakpoint) {
    Vaddr at = ip - 1;
    if (patched_.contains(at)) {
      if (peek(*vm_, at, byte).is_ok() && (byte[0] == kInt3 || byte[0] == 0xFF)) return at;
      return std::nullopt;
    }
    if (at >= kTrapTableStart && at < kTrapTableEnd) {  // a fast word being made slow
      for (const auto& [site, ps] : patched_) {
        if (ps.trampoline + ps.fast_word == at) return at;
      }
    }
    return std::nullopt;
  }
  auto it = patched_.find(ip - 5);
  if (it == patched_.end() || !it->second.boundary5) return std::nullopt;
  if (peek(*vm_, ip, byte).is_error() || byte[0] != kInvalidOpcode) return std::nullopt;
  return it->second.trampoline + 8 + 5;  // the same instruction in the trampoline's copy
}

void MemoryMap::stop_syscall_patching() {
  ostd::MutexGuard g(lock_);
  patching_off_ = true;
  if (patches_slow_) return;
  patches_slow_ = true;
  std::array<u8, 8> slow = slow_word();
  std::span<const u8> w(slow);
  for (const auto& [site, ps] : patched_) {
    Vaddr at = ps.trampoline + ps.fast_word;
    (void)poke_locked(at, std::array<u8, 1>{kInt3});
    (void)poke_locked(at + 1, w.subspan(1));
    (void)poke_locked(at, w.first(1));
  }
}

usize MemoryMap::patched_syscall_sites() const {
  ostd::MutexGuard g(lock_);
  return patched_.size();
}

}  // namespace services
