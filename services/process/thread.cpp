#include <algorithm>

#include <ostd/log.h>
#include <ostd/mm/frame.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include "process/internal.h"
#include "process/process.h"
#include "process/ptrace.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;

namespace {
constexpr ostd::Logger kLog{"process"};
}

// ---- Thread ----

Thread::Thread(std::shared_ptr<Process> process, ostd::i32 tid) : process_(std::move(process)), tid_(tid) {}

Thread::~Thread() = default;

void Thread::interrupt() {
  {
    ostd::SpinLockGuard g(waiting_lock_);
    if (waiting_on_ != nullptr) (void)waiting_on_->wake_all();
  }
  ostd::UserMode::notify_kernel_event();
}

void Thread::start(std::unique_ptr<ostd::UserMode> user) { user_ = std::move(user); }

void Thread::run() {
  // Signals queued before the thread first runs (a traced clone's SIGSTOP) come before any of
  // its user code.
  if (!exiting) deliver_signals(*this);
  while (!exiting) {
    // A thread that never enters the kernel (a busy loop; clock_gettime is the vDSO's) is
    // called back when an armed ITIMER_VIRTUAL/PROF would expire meanwhile.
    ostd::u64 budget = cpu_timer_budget_ns(process());
    ostd::u64 t0 = budget != ~ostd::u64{0} ? ostd::monotonic_ns() : 0;
    ostd::ReturnReason rr = user_->execute([this, t0, budget] {
      return signal_pending() || (budget != ~ostd::u64{0} && ostd::monotonic_ns() - t0 >= budget);
    });
    // User time: what the backend measured (ReturnReason::user_ns), counted before the system
    // call runs, so that the call's own clock readings (CLOCK_*_CPUTIME_ID, getrusage, times)
    // include the stretch that led to it. System time: the kernel task's own CPU time while it
    // handles what came back.
    ostd::u64 cpu0 = task_ ? task_->cpu_time_ns() : 0;
    if (!exiting && rr.user_ns != 0) account_cpu_time(*this, rr.user_ns, 0);
    switch (rr.kind) {
      case ostd::ReturnReason::Kind::Syscall:
        consider_syscall_site(*this);
        dispatch_syscall(*this);
        break;
      case ostd::ReturnReason::Kind::Exception: handle_exception(*this, rr.exception); break;
      case ostd::ReturnReason::Kind::KernelEvent: break;
    }
    ostd::u64 sys_ns = task_ ? task_->cpu_time_ns() - cpu0 : 0;
    if (!exiting && sys_ns != 0) account_cpu_time(*this, 0, sys_ns);
    if (!exiting) deliver_signals(*this);
  }
  thread_exit(*this);
}

Result<void> start_thread(const std::shared_ptr<Thread>& t, const ostd::UserContext& ctx,
                          const std::optional<ostd::FpuState>& fpu) {
  auto user = TRY(ostd::UserMode::create(t->process().vm, ctx));
  if (fpu) TRY(user.set_fpu_state(*fpu));
  t->start(std::make_unique<ostd::UserMode>(std::move(user)));
  pid_table().add_thread(t);
  {
    ostd::SpinLockGuard g(process_tree_lock());
    t->process().threads.push_back(t);
  }
  std::shared_ptr<Thread> keep = t;
  auto task = ostd::Task::spawn([keep] { keep->run(); }, ostd::TaskOptions{"user:" + std::to_string(t->tid()), 0});
  if (task.is_error()) {
    {
      ostd::SpinLockGuard g(process_tree_lock());
      auto& threads = t->process().threads;
      threads.erase(std::remove(threads.begin(), threads.end(), t), threads.end());
    }
    pid_table().remove_thread(t->tid());
    return task.error();
  }
  return {};
}

// A trapped system call: its site may be rewritten to enter the kernel without a trap next
// time (vm/syscall_patch.cpp), where ostd has such an entry.
void consider_syscall_site(Thread& t) {
  ostd::Vaddr ip = t.context().instruction_pointer();
  ostd::Vaddr& settled = t.syscall_sites_settled[(ip >> 1) % t.syscall_sites_settled.size()];
  if (settled == ip) return;
  auto entry = ostd::UserMode::fast_syscall_entry();
  if (!entry || t.context().regs().gs_base != 0 || t.process().mm->patch_syscall_site(ip, entry->gs_offset)) {
    settled = ip;
  }
}

void handle_exception(Thread& t, const ostd::CpuException& e) {
  if (e.kind == ostd::ExceptionKind::InvalidOpcode || e.kind == ostd::ExceptionKind::Breakpoint) {
    // A rewritten system call site's marks (vm/syscall_patch.cpp), not the program's own.
    if (auto at = t.process().mm->syscall_patch_resume(t.context().instruction_pointer(),
                                                       e.kind == ostd::ExceptionKind::Breakpoint)) {
      t.context().set_instruction_pointer(*at);
      return;
    }
  }
  if (t.traced.load(std::memory_order_relaxed)) ptrace_exception(t, e.kind == ostd::ExceptionKind::Debug);
  SigInfo info = kernel_siginfo(kSigSegv);
  int sig = kSigSegv;
  ostd::u64 addr = t.context().instruction_pointer();
  switch (e.kind) {
    case ostd::ExceptionKind::PageFault: {
      auto r = t.process().mm->handle_fault(e.address, e.access);
      if (r.is_ok()) {
        ++t.process().min_flt;
        return;
      }
      if (r.error() == ostd::Errno::enomem) {
        // Out of memory: another process dies and the access is retried; when this one is
        // the biggest, it is the one to die (SIGKILL, as Linux's OOM killer).
        if (oom_kill_for(t)) return;
        if (t.process().pid() != 1) {
          kLog.warn("out of memory: killed process {} ({}) in its own fault", t.process().pid(), t.process().comm);
          group_exit(t.process(), kSigKill);
          return;
        }
      }
      addr = e.address;
      if (r.error() == ostd::Errno::enxio) {
        // A file mapping touched past the end of the file.
        constexpr ostd::i32 kBusAdrerr = 2;
        sig = kSigBus;
        info = kernel_siginfo(kSigBus);
        info.si_code = kBusAdrerr;
        break;
      }
      constexpr ostd::i32 kSegvMaperr = 1, kSegvAccerr = 2;
      info.si_code = t.process().mm->is_mapped(e.address) ? kSegvAccerr : kSegvMaperr;
      break;
    }
    case ostd::ExceptionKind::InvalidOpcode:
      sig = kSigIll;
      info.si_code = 2;  // ILL_ILLOPN
      break;
    case ostd::ExceptionKind::DivideError:
      sig = kSigFpe;
      info.si_code = 1;  // FPE_INTDIV
      break;
    case ostd::ExceptionKind::Overflow:
      sig = kSigFpe;
      info.si_code = 2;  // FPE_INTOVF
      break;
    case ostd::ExceptionKind::FloatingPoint:
    case ostd::ExceptionKind::SimdFloatingPoint:
      sig = kSigFpe;
      info.si_code = 0;
      break;
    case ostd::ExceptionKind::Breakpoint:  // int3: SI_KERNEL, no address (as Linux's do_int3)
      sig = kSigTrap;
      info.si_code = kSiKernel;
      addr = 0;
      break;
    case ostd::ExceptionKind::Debug:
      // A single step (TF; there are no debug-register breakpoints): TRAP_TRACE, si_addr the
      // next instruction (addr's default), as Linux's send_sigtrap.
      sig = kSigTrap;
      info.si_code = 2;  // TRAP_TRACE
      break;
    case ostd::ExceptionKind::AlignmentCheck:
      sig = kSigBus;
      info.si_code = 1;  // BUS_ADRALN
      break;
    case ostd::ExceptionKind::GeneralProtection:
    case ostd::ExceptionKind::Unknown:
      info.si_code = kSiKernel;
      addr = 0;
      break;
  }
  info.si_signo = sig;
  set_si_addr(info, addr);
  kLog.debug("pid {} tid {}: signal {} at {:#x} (exception {}, ip {:#x})", t.process().pid(), t.tid(), sig, addr,
             static_cast<int>(e.kind), t.context().instruction_pointer());
  // A synchronous fault cannot be blocked or ignored.
  force_signal(t, sig, info);
}

int shell_status(int wait_status) {
  if ((wait_status & 0x7f) == 0) return (wait_status >> 8) & 0xff;
  return 128 + (wait_status & 0x7f);
}

// ---- Process ----

Process::Process(ostd::i32 pid) : pid_(pid) { start_ns = ostd::monotonic_ns(); }
Process::~Process() = default;

// ---- PidTable ----

void PidTable::reset() {
  std::map<ostd::i32, std::shared_ptr<Process>> gone;  // destroyed after unlocking
  {
    ostd::SpinLockGuard g(lock_);
    gone.swap(processes_);
    threads_.clear();
    next_ = 1;
  }
}

ostd::i32 PidTable::alloc_id() {
  ostd::SpinLockGuard g(lock_);
  for (int tries = 0; tries < 1 << 22; ++tries) {
    ostd::i32 id = next_++;
    if (next_ >= (1 << 22)) next_ = 2;
    if (!processes_.contains(id) && !threads_.contains(id)) return id;
  }
  return -1;
}

bool PidTable::in_use(ostd::i32 id) const {
  ostd::SpinLockGuard g(lock_);
  return processes_.contains(id) || threads_.contains(id);
}

void PidTable::add_process(const std::shared_ptr<Process>& p) {
  ostd::SpinLockGuard g(lock_);
  processes_[p->pid()] = p;
}
void PidTable::remove_process(ostd::i32 pid) {
  std::shared_ptr<Process> gone;  // a last reference is dropped after unlocking
  ostd::SpinLockGuard g(lock_);
  auto it = processes_.find(pid);
  if (it == processes_.end()) return;
  gone = std::move(it->second);
  processes_.erase(it);
}
std::shared_ptr<Process> PidTable::process(ostd::i32 pid) const {
  ostd::SpinLockGuard g(lock_);
  auto it = processes_.find(pid);
  return it == processes_.end() ? nullptr : it->second;
}
ostd::usize PidTable::task_count() const {
  ostd::SpinLockGuard g(lock_);
  return std::max(threads_.size(), processes_.size());
}
ostd::usize PidTable::threads_of_uid(ostd::u32 uid) const {
  ostd::SpinLockGuard g(lock_);
  ostd::usize n = 0;
  for (const auto& [tid, weak] : threads_) {
    if (auto t = weak.lock(); t && t->process().creds.uid == uid) ++n;
  }
  return n;
}

ostd::usize max_threads() {
  constexpr ostd::usize kMinThreads = 20, kPagesPerTask = 32, kFutexTidMask = 0x3fffffff;
  return std::clamp<ostd::usize>(ostd::frame_stats().total_frames / kPagesPerTask, kMinThreads, kFutexTidMask);
}

void PidTable::add_thread(const std::shared_ptr<Thread>& t) {
  ostd::SpinLockGuard g(lock_);
  threads_[t->tid()] = t;
}
void PidTable::remove_thread(ostd::i32 tid) {
  ostd::SpinLockGuard g(lock_);
  threads_.erase(tid);
}
std::shared_ptr<Thread> PidTable::thread(ostd::i32 tid) const {
  ostd::SpinLockGuard g(lock_);
  auto it = threads_.find(tid);
  return it == threads_.end() ? nullptr : it->second.lock();
}
std::vector<std::shared_ptr<Process>> PidTable::all_processes() const {
  std::vector<std::shared_ptr<Process>> out;
  ostd::SpinLockGuard g(lock_);
  out.reserve(processes_.size());
  for (const auto& [pid, p] : processes_) out.push_back(p);
  return out;
}

PidTable& pid_table() {
  static PidTable table;
  return table;
}

ostd::Mutex& group_signal_lock() {
  static ostd::Mutex lock;
  return lock;
}

ostd::SpinLock& process_tree_lock() {
  static ostd::SpinLock lock;
  return lock;
}

std::vector<std::shared_ptr<Thread>> threads_of(Process& p) {
  ostd::SpinLockGuard g(process_tree_lock());
  return p.threads;
}

std::vector<std::shared_ptr<Process>> children_of(Process& p) {
  ostd::SpinLockGuard g(process_tree_lock());
  return p.children;
}

std::shared_ptr<Process> parent_of(const Process& p) {
  ostd::SpinLockGuard g(process_tree_lock());
  return p.parent.lock();
}

void attach_fault_handler(const std::shared_ptr<MemoryMap>& mm) {
  std::weak_ptr<MemoryMap> weak = mm;
  mm->vm().set_fault_handler([weak](ostd::Vaddr va, ostd::Access access) -> Result<void> {
    auto m = weak.lock();
    if (!m) return Errno::efault;
    return m->handle_fault(va, access);
  });
}

}  // namespace services
