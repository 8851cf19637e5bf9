// signalfd and signalfd4: reading signals as records from a file descriptor.
//
// A signalfd takes the signals of its mask pending for the thread that reads it (blocked or
// not: programs block them so that they are not delivered first) and reports them as struct
// signalfd_siginfo. Readers and pollers sleep on their process's signalfd queue, which every
// signal sent to the process wakes once a signalfd exists.
#include <array>
#include <memory>

#include <ostd/mm/io.h>

#include "fs/file.h"
#include "process/internal.h"
#include "process/process.h"
#include "signal/signal.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i32;
using ostd::u16;
using ostd::u32;
using ostd::u64;
using ostd::usize;

namespace {

struct SignalfdSiginfo {
  u32 signo;
  i32 err;
  i32 code;
  u32 pid;
  u32 uid;
  i32 fd;
  u32 tid;
  u32 band;
  u32 overrun;
  u32 trapno;
  i32 status;
  i32 int_value;
  u64 ptr;
  u64 utime;
  u64 stime;
  u64 addr;
  u16 addr_lsb;
  u16 pad2;
  i32 syscall;
  u64 call_addr;
  u32 arch;
  std::array<ostd::u8, 28> pad;
};
static_assert(sizeof(SignalfdSiginfo) == 128);

// Which union member of siginfo_t the signal carries (Linux's siginfo_layout).
enum class Layout : ostd::u8 { Kill, Timer, Poll, Fault, Chld, Rt, Sys };

Layout layout_of(int sig, i32 code) {
  constexpr i32 kSiKernelCode = 0x80;
  if (code > kSiUser && code < kSiKernelCode) {
    switch (sig) {
      case kSigChld:
        if (code <= 6) return Layout::Chld;
        break;
      // clang-format off
      case kSigSegv: case kSigBus: case kSigIll: case kSigFpe: case kSigTrap:
        return Layout::Fault;
      // clang-format on
      case kSigSys:
        if (code <= 1) return Layout::Sys;
        break;
      case kSigIo:
        if (code <= 6) return Layout::Poll;
        break;
      default: break;
    }
    return code <= 6 ? Layout::Poll : Layout::Kill;
  }
  if (code == kSiTimer) return Layout::Timer;
  if (code == kSiSigio) return Layout::Poll;
  if (code < 0) return Layout::Rt;
  return Layout::Kill;
}

SignalfdSiginfo to_record(const SigInfo& i) {
  SignalfdSiginfo r{};
  r.signo = static_cast<u32>(i.si_signo);
  r.err = i.si_errno;
  r.code = i.si_code;
  const u64 word = static_cast<u64>(static_cast<u32>(i.si_pid)) | (u64{i.si_uid} << 32);  // at +16
  switch (layout_of(i.si_signo, i.si_code)) {
    case Layout::Kill:
      r.pid = static_cast<u32>(i.si_pid);
      r.uid = i.si_uid;
      break;
    case Layout::Timer:
      r.tid = static_cast<u32>(i.si_pid);
      r.overrun = i.si_uid;
      r.ptr = si_value(i);
      r.int_value = i.si_status;
      break;
    case Layout::Poll:
      r.band = static_cast<u32>(word);
      r.fd = i.si_status;
      break;
    case Layout::Fault: r.addr = word; break;
    case Layout::Chld:
      r.pid = static_cast<u32>(i.si_pid);
      r.uid = i.si_uid;
      r.status = i.si_status;
      r.utime = static_cast<u64>(i.si_utime);
      r.stime = static_cast<u64>(i.si_stime);
      break;
    case Layout::Rt:
      r.pid = static_cast<u32>(i.si_pid);
      r.uid = i.si_uid;
      r.ptr = si_value(i);
      r.int_value = i.si_status;
      break;
    case Layout::Sys:
      r.call_addr = word;
      r.syscall = i.si_status;
      r.arch = static_cast<u32>(i.pad1);
      break;
  }
  return r;
}

SigSet without_kill_stop(SigSet s) {
  s.remove(kSigKill);
  s.remove(kSigStop);
  return s;
}

class SignalFd final : public File {
 public:
  SignalFd(std::shared_ptr<Process> owner, SigSet mask, u32 flags) : owner_(std::move(owner)), mask_(mask) {
    set_status_flags(kORdWr | flags);
  }
  void set_mask(SigSet m) {
    mask_ = m;
    file_state_changed(owner_->signalfd_wq);
  }

  Result<usize> read(Thread& t, ostd::VmWriter& out) override {
    if (out.avail() < sizeof(SignalfdSiginfo)) return Errno::einval;
    Process& p = t.process();
    p.signalfd_used = true;
    usize done = 0;
    while (out.avail() >= sizeof(SignalfdSiginfo)) {
      auto got = take_signal(t, mask_);
      if (!got) {
        if (done > 0) break;
        if (nonblocking()) return Errno::eagain;
        TRY(t.wait_interruptible(p.signalfd_wq, [&] { return !pending_signals(t, mask_).empty(); }));
        continue;
      }
      auto w = out.write_val(to_record(got->second));
      if (w.is_error()) {
        // Linux loses the signal too when the record cannot be written.
        if (done > 0) break;
        return w.error();
      }
      done += sizeof(SignalfdSiginfo);
    }
    // Taking signals may let other readers' conditions change.
    file_state_changed(p.signalfd_wq);
    return done;
  }
  u32 poll_events() override { return (process_pending_signals(*owner_).bits & mask_.bits) != 0 ? kPollIn : 0; }
  ostd::WaitQueue* poll_queue() override { return &owner_->signalfd_wq; }
  Result<abi::Stat> stat() override { return anon_inode_stat(); }

 private:
  // The process whose signals poll() looks at (Linux: the poller's; the same process in
  // every use but a descriptor passed to another process).
  std::shared_ptr<Process> owner_;
  SigSet mask_;
};

FileKind<SignalFd>& signalfds() {
  static FileKind<SignalFd> k;
  return k;
}

Result<long> do_signalfd(Thread& t, int fd, ostd::Vaddr umask, u64 size, u32 flags) {
  if ((flags & ~(kOCloexec | kONonblock)) != 0) return Errno::einval;
  if (size != sizeof(SigSet)) return Errno::einval;
  SigSet mask = without_kill_stop(TRY(ostd::UserPtr<SigSet>(umask).read(t.vm())));
  Process& p = t.process();
  if (fd != -1) {
    auto f = TRY(p.fds->get(fd));
    auto sfd = signalfds().find(*f);
    if (!sfd) return Errno::einval;
    sfd->set_mask(mask);
    return fd;
  }
  auto sfd = std::make_shared<SignalFd>(p.shared_from_this(), mask, flags & kONonblock);
  p.signalfd_used = true;
  signalfds().add(sfd);
  return TRY(p.fds->install(sfd, (flags & kOCloexec) != 0));
}

Result<long> sys_signalfd(Thread& t, const SyscallArgs& a) { return do_signalfd(t, a.as_int(0), a[1], a[2], 0); }
Result<long> sys_signalfd4(Thread& t, const SyscallArgs& a) {
  return do_signalfd(t, a.as_int(0), a[1], a[2], a.as_u32(3));
}

}  // namespace

void signalfd_notify(Process& p) {
  if (p.signalfd_used) file_state_changed(p.signalfd_wq);
}

void register_signalfd_syscalls(SyscallTable& t) {
  t.set(x86_64::Sysno::signalfd, &sys_signalfd);
  t.set(x86_64::Sysno::signalfd4, &sys_signalfd4);
}

}  // namespace services
