// Process file descriptors: pidfd_open, pidfd_send_signal and pidfd_getfd (clone's CLONE_PIDFD
// and waitid's P_PIDFD use them too).
//
// A pidfd refers to one process for as long as it is open, also once the process has exited
// and been reaped (its signals then answer ESRCH). It polls readable when the process has
// exited.
#include <memory>

#include <ostd/mm/io.h>

#include "fs/file.h"
#include "process/internal.h"
#include "process/process.h"
#include "signal/signal.h"
#include "syscall/table.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i32;
using ostd::u32;

namespace {

class PidFd final : public File {
 public:
  PidFd(std::shared_ptr<Process> p, u32 flags) : process_(std::move(p)) { set_status_flags(kORdWr | flags); }
  const std::shared_ptr<Process>& process() const { return process_; }

  Result<ostd::usize> read(Thread&, ostd::VmWriter&) override { return Errno::einval; }
  Result<ostd::usize> write(Thread&, ostd::VmReader&) override { return Errno::einval; }
  u32 poll_events() override {
    const auto s = process_->state;
    return s == Process::State::Zombie || s == Process::State::Reaped ? kPollIn : 0;
  }
  ostd::WaitQueue* poll_queue() override { return &process_->exited; }
  Result<abi::Stat> stat() override { return anon_inode_stat(); }

 private:
  std::shared_ptr<Process> process_;
};

FileKind<PidFd>& pidfds() {
  static FileKind<PidFd> k;
  return k;
}

bool gone(const Process& p) { return p.state == Process::State::Reaped; }

Result<long> sys_pidfd_open(Thread& self, const SyscallArgs& a) {
  const i32 pid = a.as_int(0);
  const u32 flags = a.as_u32(1);
  if ((flags & ~kONonblock) != 0 || pid <= 0) return Errno::einval;
  auto p = pid_table().process(pid);
  if (!p || gone(*p)) return Errno::esrch;
  return TRY(install_pidfd(self, p, flags));
}

Result<long> sys_pidfd_send_signal(Thread& self, const SyscallArgs& a) {
  const int sig = a.as_int(1);
  if (a.as_u32(3) != 0) return Errno::einval;
  auto p = TRY(pidfd_process(self, a.as_int(0))).first;
  SigInfo info = user_siginfo(sig, self.process().pid(), self.process().creds.uid);
  if (a[2] != 0) {
    info = TRY(ostd::UserPtr<SigInfo>(a[2]).read(self.vm()));
    if (info.si_signo != sig) return Errno::einval;
    // Only a process signalling itself may claim a kernel or kill()-style origin.
    if (p.get() != &self.process() && (info.si_code >= 0 || info.si_code == kSiTkill)) return Errno::eperm;
  }
  if (gone(*p)) return Errno::esrch;
  if (sig < 0 || sig > kNumSignals) return Errno::einval;
  if (!may_signal(self.process(), *p, sig)) return Errno::eperm;
  if (sig != 0) (void)send_signal_to_process(*p, sig, info);
  return 0;
}

Result<long> sys_pidfd_getfd(Thread& self, const SyscallArgs& a) {
  if (a.as_u32(2) != 0) return Errno::einval;
  auto p = TRY(pidfd_process(self, a.as_int(0))).first;
  if (!ptrace_may_access(self.process(), *p)) return Errno::eperm;
  if (gone(*p) || p->state == Process::State::Zombie || !p->fds) return Errno::esrch;
  auto f = TRY(p->fds->get(a.as_int(1)));
  return TRY(self.process().fds->install(f, true));
}

// process_mrelease(pidfd, flags): frees the memory of a process that is being killed, before it
// finishes exiting. EINVAL for one that is not dying, ESRCH once its memory is gone.
Result<long> sys_process_mrelease(Thread& self, const SyscallArgs& a) {
  if (a.as_u32(1) != 0) return Errno::einval;
  auto p = TRY(pidfd_process(self, a.as_int(0))).first;
  if (gone(*p) || p->state == Process::State::Zombie || !p->mm) return Errno::esrch;
  if (!p->group_exiting) return Errno::einval;
  // As Linux's OOM reaper: the private anonymous memory goes now (the rest with the threads).
  for (const Vma& v : p->mm->areas()) {
    if ((v.flags & kMapAnonymous) != 0 && (v.flags & kMapShared) == 0) (void)p->mm->discard(v.start, v.end - v.start);
  }
  return 0;
}

}  // namespace

Result<int> install_pidfd(Thread& self, const std::shared_ptr<Process>& p, u32 flags) {
  auto f = std::make_shared<PidFd>(p, flags & kONonblock);
  pidfds().add(f);
  return self.process().fds->install(f, true);
}

Result<std::pair<std::shared_ptr<Process>, bool>> pidfd_process(Thread& self, int fd) {
  auto f = TRY(self.process().fds->get(fd));
  auto pfd = pidfds().find(*f);
  if (!pfd) return Errno::ebadf;
  return std::pair<std::shared_ptr<Process>, bool>(pfd->process(), pfd->nonblocking());
}

void register_pidfd_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::pidfd_open, &sys_pidfd_open);
  t.set(S::pidfd_send_signal, &sys_pidfd_send_signal);
  t.set(S::pidfd_getfd, &sys_pidfd_getfd);
  t.set(S::process_mrelease, &sys_process_mrelease);
}

}  // namespace services
