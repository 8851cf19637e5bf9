// mmap, munmap, mprotect, brk, mremap, madvise, msync, mlock*.
#include <ostd/mm/io.h>

#include "fs/file.h"
#include "fs/vfs.h"
#include "process/internal.h"
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
  u32 max_prot = kProtRead | kProtWrite | kProtExec;  // what mprotect may grant later (VM_MAY*)
  if ((flags & kMapAnonymous) == 0) {
    auto file = TRY(t.process().fds->get(fd));
    auto dentry = file->dentry();
    if (!dentry || (dentry_mode(dentry) & abi::kSIfmt) != abi::kSIfreg) return Errno::enodev;
    if (!file->readable()) return Errno::eacces;
    if (type != kMapPrivate && (prot & kProtWrite) != 0 && !file->writable()) return Errno::eacces;
    // A shared mapping of a file opened read-only never becomes writable (VM_MAYWRITE).
    if (type != kMapPrivate && !file->writable()) max_prot &= ~kProtWrite;
    // Nor does a mapping of a file on a noexec mount become executable (do_mmap).
    if (dentry->mount_has(mnt::kNoexec)) {
      if ((prot & kProtExec) != 0) return Errno::eperm;
      max_prot &= ~kProtExec;
    }
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
  u64 at = TRY(t.process().mm->map(addr, len, prot, map_flags, bytes, cache ? off : 0, name, cache, max_prot));
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

Result<long> sys_brk(Thread& t, const SyscallArgs& a) { return static_cast<long>(TRY(t.process().mm->brk(a[0]))); }

Result<long> sys_mremap(Thread& t, const SyscallArgs& a) {
  return static_cast<long>(TRY(t.process().mm->remap(a[0], a[1], a[2], a.as_u32(3), a[4])));
}

// madvise on `mm` (the caller's, or another process's for process_madvise).
Result<void> advise(MemoryMap& mm, u64 start, u64 len, int advice) {
  constexpr int kDontneed = 4;
  if (!ostd::is_page_aligned(start)) return Errno::einval;
  if (advice == kDontneed) return mm.discard(start, len);
  // NORMAL, RANDOM, SEQUENTIAL, WILLNEED, FREE, REMOVE, DONTFORK, DOFORK, MERGEABLE,
  // UNMERGEABLE, HUGEPAGE, NOHUGEPAGE, DONTDUMP, DODUMP, WIPEONFORK, KEEPONFORK, COLD, PAGEOUT
  if ((advice >= 0 && advice <= 3) || (advice >= 8 && advice <= 21)) return {};
  return Errno::einval;
}

Result<long> sys_madvise(Thread& t, const SyscallArgs& a) {
  TRY(advise(*t.process().mm, a[0], a[1], a.as_int(2)));
  return 0;
}

// remap_file_pages(start, size, prot, pgoff, flags): deprecated, and emulated as Linux does
// since 4.0 by a new mapping of the same object at page `pgoff`. prot must be 0; start and size
// are rounded down to pages; flags other than MAP_NONBLOCK are ignored.
Result<long> sys_remap_file_pages(Thread& t, const SyscallArgs& a) {
  const u64 start = ostd::page_align_down(a[0]), size = ostd::page_align_down(a[1]), pgoff = a[3];
  if (a[2] != 0) return Errno::einval;
  u64 end = 0, last = 0;
  if (!ostd::checked_add<u64>(start, size, end) || end <= start) return Errno::einval;
  if (!ostd::checked_add<u64>(pgoff, size / ostd::kPageSize, last)) return Errno::einval;
  if (pgoff > ~u64{0} / ostd::kPageSize) return Errno::eoverflow;
  TRY(t.process().mm->remap_pages(start, size, pgoff * ostd::kPageSize));
  return 0;
}

// process_madvise(pidfd, iovec, vlen, advice, flags): madvise on the ranges of a process. On
// one's own every advice madvise takes; on another only MADV_COLD, MADV_PAGEOUT, MADV_WILLNEED
// and MADV_COLLAPSE, hints this kernel has nothing to do for (no swap, no huge pages: memory
// stays where it is, as Linux without swap keeps anonymous pages), with PTRACE_MODE_READ
// (EACCES) and CAP_SYS_NICE (EPERM). Returns the bytes advised before the first failure.
Result<long> sys_process_madvise(Thread& t, const SyscallArgs& a) {
  constexpr int kWillneed = 3, kCold = 20, kPageout = 21, kCollapse = 25;
  if (a.as_u32(4) != 0) return Errno::einval;
  const u64 vlen = a[2];
  if (vlen > kIovMax) return Errno::einval;
  std::vector<IoVec> iov = TRY(read_iovec_array(t, a[1], static_cast<ostd::usize>(vlen)));
  auto target = TRY(pidfd_process(t, a.as_int(0))).first;
  if (target->state == Process::State::Zombie || target->state == Process::State::Reaped || !target->mm) {
    return Errno::esrch;
  }
  const int advice = a.as_int(3);
  const bool self = target.get() == &t.process();
  if (!self) {
    if (!ptrace_may_access(t.process(), *target)) return Errno::eacces;
    if (advice != kWillneed && advice != kCold && advice != kPageout && advice != kCollapse) return Errno::einval;
    if (!t.process().creds.capable(cap::kSysNice)) return Errno::eperm;
  }
  u64 done = 0;
  for (const IoVec& v : iov) {
    if (v.len == 0) continue;
    Result<void> r = Errno::einval;
    u64 len = ostd::page_align_up(v.len), end = 0;
    if (len >= v.len && ostd::checked_add<u64>(v.base, len, end)) {
      r = !ostd::is_page_aligned(v.base)     ? Result<void>(Errno::einval)
          : !target->mm->covers(v.base, end) ? Result<void>(Errno::enomem)
          : self                             ? advise(*target->mm, v.base, v.len, advice)
                                             : Result<void>();
    }
    if (r.is_error()) return done > 0 ? Result<long>(static_cast<long>(done)) : Result<long>(r.error());
    done += v.len;
  }
  return static_cast<long>(done);
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
  t.set(S::remap_file_pages, &sys_remap_file_pages);
  t.set(S::process_madvise, &sys_process_madvise);
  t.set(S::msync, &sys_msync);
  t.set(S::mincore, &sys_mincore);
  t.set(S::mlock, &sys_mlock);
  t.set(S::mlock2, &sys_mlock2);
  t.set(S::munlock, &sys_mlock);
  t.set(S::mlockall, &sys_mlockall);
  t.set(S::munlockall, &sys_munlockall);
}

}  // namespace services
