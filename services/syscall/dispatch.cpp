#include "syscall/dispatch.h"

#include <array>
#include <vector>

#include <ostd/boot.h>
#include <ostd/log.h>
#include <ostd/mm/frame.h>
#include <ostd/mm/io.h>

#include "abi/x86_64/syscalls.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u64;
using ostd::usize;
using ostd::Vaddr;
using x86_64::Sysno;

namespace {

constexpr ostd::Logger kLog{"syscall"};
constexpr usize kMaxIov = 1024;
constexpr usize kChunk = usize{64} * 1024;

Result<long> sys_write(Process& p, int fd, Vaddr buf, usize count) {
  if (fd != 1 && fd != 2) return Errno::ebadf;
  std::vector<ostd::u8> chunk;
  usize done = 0;
  while (done < count) {
    usize n = count - done < kChunk ? count - done : kChunk;
    chunk.resize(n);
    auto got = p.vm->read_bytes_partial(buf + done, chunk);
    if (got.is_error()) {
      if (done > 0) break;
      return got.error();
    }
    chunk.resize(got.value());
    TRY(ostd::console::write(fd, chunk));
    done += got.value();
    if (got.value() < n) break;
  }
  return static_cast<long>(done);
}

struct Iovec {
  u64 base;
  u64 len;
};

Result<long> sys_writev(Process& p, int fd, Vaddr iov, u64 iovcnt) {
  if (iovcnt > kMaxIov) return Errno::einval;
  std::vector<Iovec> vecs;
  for (usize i = 0; i < iovcnt; ++i) {
    auto at = TRY(ostd::UserPtr<Iovec>(iov).element(i));
    vecs.push_back(TRY(at.read(*p.vm)));
  }
  long total = 0;
  for (const Iovec& v : vecs) {
    if (v.len == 0) continue;
    auto r = sys_write(p, fd, v.base, v.len);
    if (r.is_error()) {
      if (total > 0) break;
      return r.error();
    }
    total += r.value();
    if (static_cast<u64>(r.value()) < v.len) break;
  }
  return total;
}

Result<long> sys_read(Process& p, int fd, Vaddr buf, usize count) {
  if (fd != 0) return Errno::ebadf;
  std::vector<ostd::u8> chunk(count < kChunk ? count : kChunk);
  usize n = TRY(ostd::console::read(chunk));
  chunk.resize(n);
  TRY(p.vm->write_bytes(buf, chunk));
  return static_cast<long>(n);
}

Result<long> sys_brk(Process& p, Vaddr want) {
  if (want < p.brk_start) return static_cast<long>(p.brk);
  Vaddr old_end = ostd::page_align_up(p.brk);
  Vaddr new_end = ostd::page_align_up(want);
  if (want >= ostd::VmSpace::user_top() - (64ull << 20)) return static_cast<long>(p.brk);
  for (Vaddr page = old_end; page < new_end; page += ostd::kPageSize) {
    auto frame = ostd::Frame::alloc();
    if (frame.is_error() || p.vm->map(page, frame.value(), ostd::PageFlags::RW).is_error()) {
      (void)p.vm->unmap(old_end, page - old_end);
      return static_cast<long>(p.brk);
    }
  }
  if (new_end < old_end) TRY(p.vm->unmap(new_end, old_end - new_end));
  p.brk = want;
  return static_cast<long>(p.brk);
}

constexpr u64 kArchSetFs = 0x1002;
constexpr u64 kArchGetFs = 0x1003;

Result<long> sys_arch_prctl(Process& p, ostd::UserContext& ctx, u64 code, u64 addr) {
  switch (code) {
    case kArchSetFs:
      if (addr >= ostd::VmSpace::user_top()) return Errno::eperm;
      ctx.set_tls_pointer(addr);
      return 0;
    case kArchGetFs:
      TRY(ostd::UserPtr<u64>(addr).write(*p.vm, ctx.tls_pointer()));
      return 0;
    default:
      return Errno::einval;
  }
}

}  // namespace

void dispatch_syscall(Process& p, ostd::UserMode& um) {
  ostd::UserContext& ctx = um.context();
  u64 nr = ctx.syscall_number();
  auto a = ctx.syscall_args();
  auto as_int = [](u64 v) { return static_cast<int>(static_cast<ostd::i32>(v)); };
  Result<long> r = Errno::enosys;
  switch (static_cast<Sysno>(nr)) {
    case Sysno::read: r = sys_read(p, as_int(a[0]), a[1], a[2]); break;
    case Sysno::write: r = sys_write(p, as_int(a[0]), a[1], a[2]); break;
    case Sysno::writev: r = sys_writev(p, as_int(a[0]), a[1], a[2]); break;
    case Sysno::brk: r = sys_brk(p, a[0]); break;
    case Sysno::arch_prctl: r = sys_arch_prctl(p, ctx, a[0], a[1]); break;
    case Sysno::getpid:
    case Sysno::gettid:
    case Sysno::set_tid_address: r = p.pid; break;
    case Sysno::getppid: r = 0; break;
    case Sysno::ioctl: r = Errno::enotty; break;
    case Sysno::exit:
    case Sysno::exit_group:
      p.exit_status = as_int(a[0]) & 0xff;
      r = 0;
      break;
    default:
      if (p.reported_unknown.insert(nr).second) {
        kLog.warn("unimplemented system call {} ({})", x86_64::syscall_name(nr), nr);
      }
      r = Errno::enosys;
      break;
  }
  ctx.set_syscall_ret(r.is_ok() ? static_cast<u64>(r.value())
                                : static_cast<u64>(-ostd::errno_value(r.error())));
}

}  // namespace services
