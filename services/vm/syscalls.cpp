// mmap, munmap, mprotect, brk, mremap, madvise, msync, mlock*.
#include <ostd/mm/io.h>

#include "fs/file.h"
#include "fs/vfs.h"
#include "process/process.h"
#include "syscall/table.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;

namespace {

Result<long> sys_mmap(Thread& t, const SyscallArgs& a) {
  u64 addr = a[0];
  u64 len = a[1];
  u32 prot = a.as_u32(2);
  u32 flags = a.as_u32(3);
  int fd = a.as_int(4);
  u64 off = a[5];
  u32 type = flags & kMapSharedValidate;
  if (type != kMapShared && type != kMapPrivate && type != kMapSharedValidate) return Errno::einval;
  if (len == 0 || !ostd::is_page_aligned(off)) return Errno::einval;
  if ((prot & ~(kProtRead | kProtWrite | kProtExec | 0x8u)) != 0) return Errno::einval;
  if ((flags & (kMapFixed | kMapFixedNoreplace)) != 0 && !ostd::is_page_aligned(addr)) return Errno::einval;
  if (ostd::page_align_up(len) < len || len > ostd::VmSpace::user_top()) return Errno::enomem;
  if ((flags & kMapHugetlb) != 0) return Errno::einval;
  std::shared_ptr<const std::vector<ostd::u8>> bytes;
  std::shared_ptr<SharedPages> cache;
  std::string name;
  u64 dev = 0, ino = 0;
  if ((flags & kMapAnonymous) == 0) {
    auto file = TRY(t.process().fds->get(fd));
    auto dentry = file->dentry();
    if (!dentry || (dentry_mode(dentry) & abi::kSIfmt) != abi::kSIfreg) return Errno::enodev;
    if (!file->readable()) return Errno::eacces;
    if (type != kMapPrivate && (prot & kProtWrite) != 0 && !file->writable()) return Errno::eacces;
    // A sealed file maps shared only for reading (F_SEAL_WRITE, F_SEAL_FUTURE_WRITE).
    const auto seals = dentry->inode()->seals;
    if (type != kMapPrivate && (prot & kProtWrite) != 0 && seals && (*seals & (kSealWrite | kSealFutureWrite)) != 0) {
      return Errno::eperm;
    }
    cache = dentry->inode()->page_cache();
    if (!cache) {
      // No page cache (generated files): map a private snapshot of the contents.
      std::vector<ostd::u8> all = TRY(read_entire_file(dentry));
      std::vector<ostd::u8> part;
      if (off < all.size()) {
        u64 n = std::min<u64>(all.size() - off, ostd::page_align_up(len));
        part.assign(all.begin() + static_cast<long>(off), all.begin() + static_cast<long>(off + n));
      }
      bytes = std::make_shared<const std::vector<ostd::u8>>(std::move(part));
    }
    name = dentry_path(dentry);
    abi::Stat st = dentry->inode()->stat();
    dev = st.st_dev;
    ino = st.st_ino;
  }
  u32 map_flags = (type == kMapPrivate ? kMapPrivate : kMapShared) |
                  (flags & (kMapFixed | kMapFixedNoreplace | kMapAnonymous | kMapGrowsdown | kMapStack));
  u64 at = TRY(t.process().mm->map(addr, len, prot, map_flags, bytes, cache ? off : 0, name, cache));
  if (ino != 0) t.process().mm->set_file_identity(at, len, dev, ino);
  return static_cast<long>(at);
}

Result<long> sys_munmap(Thread& t, const SyscallArgs& a) {
  TRY(t.process().mm->unmap(a[0], a[1]));
  return 0;
}

Result<long> sys_mprotect(Thread& t, const SyscallArgs& a) {
  TRY(t.process().mm->protect(a[0], a[1], a.as_u32(2)));
  return 0;
}

// Memory protection keys, as Linux answers on a CPU without PKU (the guest sees none on either
// backend): pkey_alloc is EINVAL, and pkey_mprotect takes only -1 (plain mprotect).
Result<long> sys_pkey_mprotect(Thread& t, const SyscallArgs& a) {
  if (a.as_int(3) != -1) return Errno::einval;
  TRY(t.process().mm->protect(a[0], a[1], a.as_u32(2)));
  return 0;
}
Result<long> sys_pkey_alloc(Thread&, const SyscallArgs&) { return Errno::einval; }
Result<long> sys_pkey_free(Thread&, const SyscallArgs&) { return Errno::einval; }

Result<long> sys_brk(Thread& t, const SyscallArgs& a) {
  return static_cast<long>(TRY(t.process().mm->brk(a[0])));
}

Result<long> sys_mremap(Thread& t, const SyscallArgs& a) {
  return static_cast<long>(TRY(t.process().mm->remap(a[0], a[1], a[2], a.as_u32(3), a[4])));
}

Result<long> sys_madvise(Thread& t, const SyscallArgs& a) {
  constexpr int kDontneed = 4;
  if (!ostd::is_page_aligned(a[0])) return Errno::einval;
  int advice = a.as_int(2);
  if (advice == kDontneed) {
    TRY(t.process().mm->discard(a[0], a[1]));
    return 0;
  }
  // NORMAL, RANDOM, SEQUENTIAL, WILLNEED, FREE, REMOVE, DONTFORK, DOFORK, MERGEABLE,
  // UNMERGEABLE, HUGEPAGE, NOHUGEPAGE, DONTDUMP, DODUMP, WIPEONFORK, KEEPONFORK, COLD, PAGEOUT
  if ((advice >= 0 && advice <= 3) || (advice >= 8 && advice <= 21)) return 0;
  return Errno::einval;
}

Result<long> sys_msync(Thread& t, const SyscallArgs& a) {
  constexpr u32 kAsync = 1, kInvalidate = 2, kSync = 4;
  u32 flags = a.as_u32(2);
  if (!ostd::is_page_aligned(a[0]) || (flags & ~(kAsync | kInvalidate | kSync)) != 0 ||
      (flags & (kAsync | kSync)) == (kAsync | kSync)) {
    return Errno::einval;
  }
  u64 end = 0;
  if (!ostd::checked_add<u64>(a[0], ostd::page_align_up(a[1]), end) || ostd::page_align_up(a[1]) < a[1]) {
    return Errno::enomem;
  }
  if (!t.process().mm->covers(a[0], end)) return Errno::enomem;
  return 0;
}

// mincore(2): a byte per page, bit 0 set for a page in memory; EINVAL for an unaligned start,
// ENOMEM when the range is not wholly mapped, EFAULT for a bad vector. The vector is written a
// chunk at a time, so a huge range costs only as much as the caller's vector holds.
Result<long> sys_mincore(Thread& t, const SyscallArgs& a) {
  if (!ostd::is_page_aligned(a[0])) return Errno::einval;
  u64 len = ostd::page_align_up(a[1]);
  u64 end = 0;
  if (len < a[1] || !ostd::checked_add<u64>(a[0], len, end) || end > ostd::VmSpace::user_top()) return Errno::enomem;
  if (len == 0) return 0;
  if (!t.process().mm->covers(a[0], end)) return Errno::enomem;
  constexpr u64 kChunk = 4096;  // pages per step
  u64 pages = len / ostd::kPageSize;
  for (u64 done = 0; done < pages; done += kChunk) {
    u64 n = std::min(kChunk, pages - done);
    u64 to = 0;
    if (!ostd::checked_add<u64>(a[2], done, to)) return Errno::efault;
    auto bytes = t.process().mm->residency(a[0] + done * ostd::kPageSize, static_cast<ostd::usize>(n));
    TRY(t.vm().write_bytes(to, bytes));
  }
  return 0;
}

// mlock and friends: there is no swap, so every page of a mapping stays in memory; what Linux
// checks is checked (the range must be mapped: ENOMEM; unknown flags: EINVAL).
Result<long> lock_range(Thread& t, u64 start, u64 len) {
  const u64 in_page = start & (ostd::kPageSize - 1);
  u64 span = 0;
  if (!ostd::checked_add<u64>(len, in_page, span) || span > ~u64{0} - ostd::kPageSize) return Errno::einval;
  start -= in_page;
  u64 end = 0;
  if (!ostd::checked_add<u64>(start, ostd::page_align_up(span), end)) return Errno::einval;
  if (end == start) return 0;
  if (!t.process().mm->covers(start, end)) return Errno::enomem;
  return 0;
}
Result<long> sys_mlock(Thread& t, const SyscallArgs& a) { return lock_range(t, a[0], a[1]); }
Result<long> sys_mlock2(Thread& t, const SyscallArgs& a) {
  constexpr u32 kMlockOnfault = 1;
  if ((a.as_u32(2) & ~kMlockOnfault) != 0) return Errno::einval;
  return lock_range(t, a[0], a[1]);
}
Result<long> sys_mlockall(Thread&, const SyscallArgs& a) {
  constexpr u32 kCurrent = 1, kFuture = 2, kOnfault = 4;
  const u32 flags = a.as_u32(0);
  if (flags == 0 || (flags & ~(kCurrent | kFuture | kOnfault)) != 0 || flags == kOnfault) return Errno::einval;
  return 0;
}
Result<long> sys_munlockall(Thread&, const SyscallArgs&) { return 0; }

}  // namespace

void register_memory_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::mmap, &sys_mmap);
  t.set(S::munmap, &sys_munmap);
  t.set(S::mprotect, &sys_mprotect);
  t.set(S::pkey_mprotect, &sys_pkey_mprotect);
  t.set(S::pkey_alloc, &sys_pkey_alloc);
  t.set(S::pkey_free, &sys_pkey_free);
  t.set(S::brk, &sys_brk);
  t.set(S::mremap, &sys_mremap);
  t.set(S::madvise, &sys_madvise);
  t.set(S::msync, &sys_msync);
  t.set(S::mincore, &sys_mincore);
  t.set(S::mlock, &sys_mlock);
  t.set(S::mlock2, &sys_mlock2);
  t.set(S::munlock, &sys_mlock);
  t.set(S::mlockall, &sys_mlockall);
  t.set(S::munlockall, &sys_munlockall);
}

}  // namespace services
