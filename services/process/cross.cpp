// Calls that look into another process: kcmp and process_vm_readv/process_vm_writev.
//
// Both need the access ptrace would have (PTRACE_MODE_READ for kcmp, ATTACH for the memory
// copies): the same credentials all through, or CAP_SYS_PTRACE.
#include <algorithm>
#include <vector>

#include <ostd/mm/io.h>

#include "fs/file.h"
#include "fs/vfs.h"
#include "process/internal.h"
#include "process/process.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::usize;
using ostd::u64;

namespace {

// kcmp's answer for two objects: 0 the same, else 1 or 2 by an order of the objects (Linux
// orders obfuscated pointers; any fixed order will do).
template <typename T>
long order(const std::shared_ptr<T>& x, const std::shared_ptr<T>& y) {
  if (!x.owner_before(y) && !y.owner_before(x)) return 0;
  return x.owner_before(y) ? 1 : 2;
}

Result<long> sys_kcmp(Thread& t, const SyscallArgs& a) {
  constexpr int kFile = 0, kVm = 1, kFiles = 2, kFs = 3, kSighand = 4, kIo = 5, kSysvsem = 6, kEpollTfd = 7;
  auto th1 = pid_table().thread(a.as_int(0));
  auto th2 = pid_table().thread(a.as_int(1));
  if (!th1 || !th2) return Errno::esrch;
  Process& p1 = th1->process();
  Process& p2 = th2->process();
  if (!ptrace_may_access(t.process(), p1) || !ptrace_may_access(t.process(), p2)) return Errno::eperm;
  switch (a.as_int(2)) {
    case kFile: {
      if (!p1.fds || !p2.fds) return Errno::ebadf;
      auto f1 = TRY(p1.fds->get(static_cast<int>(a[3])));
      auto f2 = TRY(p2.fds->get(static_cast<int>(a[4])));
      return order(f1, f2);
    }
    case kVm: return order(p1.mm, p2.mm);
    case kFiles: return order(p1.fds, p2.fds);
    case kFs: return order(p1.fs, p2.fs);
    case kSighand: return order(p1.handlers, p2.handlers);
    // Every process has an I/O context of its own (CLONE_IO is not shared here) and no
    // semaphore undo list: two threads of one process compare equal, as on Linux.
    case kIo: return &p1 == &p2 ? 0 : order(p1.shared_from_this(), p2.shared_from_this());
    case kSysvsem: return 0;
    case kEpollTfd: return Errno::eopnotsupp;
    default: return Errno::einval;
  }
}

// process_vm_readv (write = false) and process_vm_writev: copies between this process's local
// vectors and another's remote ones, in order, up to the first remote fault (a partial count;
// EFAULT when nothing moved).
Result<long> process_vm(Thread& t, const SyscallArgs& a, bool write) {
  if (a[5] != 0) return Errno::einval;
  if (a[2] > kIovMax || a[4] > kIovMax) return Errno::einval;
  auto local = TRY(read_iovec_array(t, a[1], a[2]));
  auto remote = TRY(read_iovec_array(t, a[3], a[4]));
  auto p = pid_table().process(a.as_int(0));
  if (!p || p->state == Process::State::Zombie || p->state == Process::State::Reaped || !p->vm) return Errno::esrch;
  if (!ptrace_may_access(t.process(), *p)) return Errno::eperm;
  std::shared_ptr<ostd::VmSpace> rvm = p->vm;
  std::vector<ostd::u8> buf;
  usize done = 0, li = 0, loff = 0;
  for (const IoVec& r : remote) {
    usize roff = 0;
    while (roff < r.len && li < local.size()) {
      if (loff == local[li].len) {
        ++li;
        loff = 0;
        continue;
      }
      const usize n = std::min<usize>({r.len - roff, local[li].len - loff, 65536});
      buf.resize(n);
      ostd::VmSpace& from = write ? t.vm() : *rvm;
      ostd::VmSpace& to = write ? *rvm : t.vm();
      const u64 src = write ? local[li].base + loff : r.base + roff;
      const u64 dst = write ? r.base + roff : local[li].base + loff;
      auto got = from.read_bytes_partial(src, buf);
      usize moved = 0;
      if (got.is_ok() && got.value() > 0) {
        auto put = to.write_bytes_partial(dst, std::span<const ostd::u8>(buf).first(got.value()));
        moved = put.is_ok() ? put.value() : 0;
      }
      done += moved;
      roff += moved;
      loff += moved;
      if (moved < n) {
        // A fault: on the local side it is EFAULT outright, on the remote side a short count.
        if (done == 0) return Errno::efault;
        return static_cast<long>(done);
      }
    }
  }
  return static_cast<long>(done);
}

Result<long> sys_process_vm_readv(Thread& t, const SyscallArgs& a) { return process_vm(t, a, false); }
Result<long> sys_process_vm_writev(Thread& t, const SyscallArgs& a) { return process_vm(t, a, true); }

}  // namespace

bool ptrace_may_access(const Process& me, const Process& target) {
  if (&me == &target) return true;
  const Credentials& c = me.creds;
  const Credentials& tc = target.creds;
  const bool same = c.uid == tc.uid && c.uid == tc.euid && c.uid == tc.suid && c.gid == tc.gid && c.gid == tc.egid &&
                    c.gid == tc.sgid;
  // Without CAP_SYS_PTRACE: the same credentials, and a target that is dumpable.
  return c.capable(cap::kSysPtrace) || (same && target.dumpable);
}

void register_cross_process_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::kcmp, &sys_kcmp);
  t.set(S::process_vm_readv, &sys_process_vm_readv);
  t.set(S::process_vm_writev, &sys_process_vm_writev);
}

}  // namespace services
