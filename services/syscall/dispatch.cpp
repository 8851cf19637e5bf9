// The system-call dispatcher: decodes the trap, calls the handler, and turns its Result into the
// return register — the only place errors become -errno.
#include <set>

#include <ostd/log.h>

#include "process/internal.h"
#include "process/ptrace.h"
#include "syscall/strace.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

namespace {
constexpr ostd::Logger kLog{"syscall"};

void report_unknown(ostd::u64 nr) {
  static std::set<ostd::u64> seen;
  if (seen.insert(nr).second) {
    kLog.warn("unimplemented system call {} ({}) returns ENOSYS", x86_64::syscall_name(nr), nr);
  }
}

ostd::Result<long> sys_unknown(Thread&, const SyscallArgs&) { return ostd::Errno::enosys; }
// A call refused by design answers its errno without a warning.
ostd::Result<long> sys_refused(Thread& t, const SyscallArgs&) {
  auto r = find_refusal(t.syscall_nr);
  return r ? r->err : ostd::Errno::enosys;
}

// The call with --strace's lines around it.
ostd::Result<long> traced_call(Thread& t, ostd::u64 nr, const SyscallArgs& args, SyscallHandler h) {
  std::string call = strace_call(t, nr, args);
  if (nr == static_cast<ostd::u64>(x86_64::Sysno::exit) || nr == static_cast<ostd::u64>(x86_64::Sysno::exit_group) ||
      nr == static_cast<ostd::u64>(x86_64::Sysno::execve)) {
    strace_print(t, call + " ...", ostd::Result<long>(0));
  }
  ostd::Result<long> r = h(t, args);
  strace_print(t, call, r);
  return r;
}
}  // namespace

void dispatch_syscall(Thread& t) {
  ostd::UserContext& ctx = t.context();
  ostd::u64 nr = ctx.syscall_number();
  SyscallArgs args{ctx.syscall_args()};
  t.in_syscall = true;
  t.syscall_nr = nr;
  if (t.traced.load(std::memory_order_relaxed)) [[unlikely]] {
    // The tracer sees the call first (and may change or skip it), then seccomp, as Linux.
    if (!ptrace_syscall_entry(t)) {
      ptrace_syscall_exit(t);  // a skipped call still has its exit stop
      return;
    }
    nr = t.syscall_nr;
    args = SyscallArgs{ctx.syscall_args()};
  }
  if (t.seccomp_mode != 0) [[unlikely]] {
    if (auto skip = seccomp_verdict(t, nr, args)) {
      t.context().set_syscall_ret(static_cast<ostd::u64>(*skip));
      return;
    }
  }
  SyscallHandler h = syscall_table().get(nr);
  if (h == nullptr) [[unlikely]] {
    if (find_refusal(nr)) {
      h = &sys_refused;
    } else {
      report_unknown(nr);
      h = &sys_unknown;
    }
  }
  ostd::Result<long> r = strace_enabled() ? traced_call(t, nr, args, h) : h(t, args);
  long ret = r.is_ok() ? r.value() : -static_cast<long>(ostd::errno_value(r.error()));
  // After execve the context is the new program's; rax = 0 is right for it too.
  t.context().set_syscall_ret(static_cast<ostd::u64>(ret));
  if (t.traced.load(std::memory_order_relaxed)) [[unlikely]]
    ptrace_syscall_exit(t);
}

}  // namespace services
