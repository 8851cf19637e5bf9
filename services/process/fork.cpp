// clone, fork, vfork: new processes share or copy the parent's resources as the flags say.
#include <array>

#include <ostd/log.h>
#include <ostd/mm/io.h>

#include "abi/x86_64/resource.h"
#include "fs/file.h"
#include "fs/vfs.h"
#include "process/internal.h"
#include "process/ptrace.h"
#include "syscall/table.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u64;

namespace {

constexpr u64 kCloneVm = 0x100, kCloneFs = 0x200, kCloneFiles = 0x400, kCloneSighand = 0x800, kClonePidfd = 0x1000,
              kClonePtrace = 0x2000, kCloneVfork = 0x4000, kCloneParent = 0x8000, kCloneThread = 0x10000,
              kCloneNewns = 0x20000, kCloneSysvsem = 0x40000, kCloneSettls = 0x80000, kCloneParentSettid = 0x100000,
              kCloneChildCleartid = 0x200000, kCloneDetached = 0x400000, kCloneUntraced = 0x800000,
              kCloneChildSettid = 0x1000000, kCloneNewuts = 0x04000000, kCloneIo = 0x80000000ull;
constexpr u64 kCloneClearSighand = u64{1} << 32, kCloneIntoCgroup = u64{1} << 33;
constexpr u64 kCloneSupported = 0xff | kCloneVm | kCloneFs | kCloneFiles | kCloneSighand | kClonePidfd | kClonePtrace |
                                kCloneVfork | kCloneParent | kCloneThread | kCloneSysvsem | kCloneSettls |
                                kCloneParentSettid | kCloneChildCleartid | kCloneDetached | kCloneUntraced |
                                kCloneChildSettid | kCloneIo | kCloneNewns | kCloneNewuts;

// What clone3 adds to clone's arguments.
struct CloneExtras {
  ostd::Vaddr pidfd = 0;       // where CLONE_PIDFD's descriptor goes (clone: parent_tid)
  ostd::i32 set_tid = 0;       // the child's pid/tid (0: any)
  bool clear_sighand = false;  // CLONE_CLEAR_SIGHAND
};

Result<long> do_clone(Thread& self, u64 flags, u64 newsp, u64 parent_tid, u64 child_tid, u64 tls,
                      const CloneExtras& extra = {}) {
  // ---- check ----
  if ((flags & ~kCloneSupported) != 0) return Errno::einval;
  if ((flags & kClonePidfd) != 0 && (flags & (kCloneThread | kCloneDetached)) != 0) return Errno::einval;
  if ((flags & kCloneSighand) != 0 && (flags & kCloneVm) == 0) return Errno::einval;
  if ((flags & kCloneThread) != 0 && (flags & kCloneSighand) == 0) return Errno::einval;
  if ((flags & (kCloneFs | kCloneNewns)) == (kCloneFs | kCloneNewns)) return Errno::einval;
  // New namespaces (mount and UTS are built in) for a new process only, with CAP_SYS_ADMIN.
  if ((flags & (kCloneNewns | kCloneNewuts)) != 0) {
    if ((flags & kCloneThread) != 0) return Errno::einval;
    if (!self.process().creds.capable(cap::kSysAdmin)) return Errno::eperm;
  }
  int exit_signal = static_cast<int>(flags & 0xff);
  if (exit_signal > kNumSignals) return Errno::einval;
  if ((flags & kCloneSettls) != 0 && tls >= ostd::VmSpace::user_top()) return Errno::eperm;
  Process& parent = self.process();
  if (parent.group_exiting) return Errno::eagain;
  // Linux's copy_process limits: the kernel-wide task count (threads-max), then the real
  // user's (RLIMIT_NPROC; not for root, CAP_SYS_RESOURCE or CAP_SYS_ADMIN). Both EAGAIN.
  if (pid_table().task_count() >= max_threads()) return Errno::eagain;
  if (parent.creds.uid != 0 && !parent.creds.capable(cap::kSysResource) && !parent.creds.capable(cap::kSysAdmin) &&
      pid_table().threads_of_uid(parent.creds.uid) >= parent.rlimits.at(abi::kRlimitNproc).cur) {
    return Errno::eagain;
  }
  ostd::i32 tid = 0;
  if (extra.set_tid != 0) {
    // A chosen pid (checkpoint/restore) needs CAP_SYS_ADMIN and must be free.
    if (extra.set_tid < 0 || extra.set_tid >= (1 << 22)) return Errno::einval;
    if (!parent.creds.capable(cap::kSysAdmin)) return Errno::eperm;
    if (pid_table().in_use(extra.set_tid)) return Errno::eexist;
    tid = extra.set_tid;
  } else {
    tid = pid_table().alloc_id();
  }
  if (tid < 0) return Errno::eagain;

  // ---- act ----
  std::shared_ptr<Process> proc;
  if ((flags & kCloneThread) != 0) {
    proc = self.process_shared();
  } else {
    proc = std::make_shared<Process>(tid);
    auto real_parent = (flags & kCloneParent) != 0 ? parent_of(parent) : self.process_shared();
    if (!real_parent) real_parent = self.process_shared();
    proc->parent = real_parent;
    proc->parent_pid.store(real_parent->pid(), std::memory_order_relaxed);
    proc->pgid = parent.pgid;
    proc->sid = parent.sid;
    proc->creds = parent.creds;
    proc->comm = parent.comm;
    proc->nice = parent.nice;
    proc->uts = parent.uts;
    proc->dumpable = parent.dumpable;
    proc->exe_path = parent.exe_path;
    proc->cmdline = parent.cmdline;
    proc->personality = parent.personality;
    proc->arg_start = parent.arg_start;
    proc->arg_end = parent.arg_end;
    proc->env_start = parent.env_start;
    proc->env_end = parent.env_end;
    proc->saved_auxv = parent.saved_auxv;
    proc->rlimits = parent.rlimits;
    proc->exit_signal = exit_signal;
    proc->fds = (flags & kCloneFiles) != 0 ? parent.fds : parent.fds->clone();
    proc->fs = (flags & kCloneFs) != 0 ? parent.fs : parent.fs->clone();
    if ((flags & kCloneNewns) != 0) proc->fs->mnt_ns = copy_mount_namespace(*parent.fs);
    if ((flags & kCloneNewuts) != 0) proc->uts = copy_uts_namespace(parent);
    if ((flags & kCloneSighand) != 0) {
      proc->handlers = parent.handlers;
    } else {
      proc->handlers = std::make_shared<SignalHandlers>();
      ostd::MutexGuard g(parent.handlers->lock);
      proc->handlers->actions = parent.handlers->actions;
      if (extra.clear_sighand) {
        // Back to the defaults, except that ignored signals stay ignored (as execve).
        for (SigAction& act : proc->handlers->actions) {
          if (act.handler != kSigIgn) act = SigAction{};
        }
      }
    }
    if ((flags & kCloneVm) != 0) {
      proc->vm = parent.vm;
      proc->mm = parent.mm;
    } else {
      auto vm = TRY(ostd::VmSpace::create());
      // Both sides write the forking thread's stack and thread block at once: copy those now.
      const ostd::UserContext& now = self.context();
      std::array<ostd::Vaddr, 2> hot{now.stack_pointer(), now.tls_pointer()};
      proc->mm = TRY(retry_after_address_space_releases([&] { return parent.mm->fork(vm, hot); }));
      proc->vm = vm;
      attach_fault_handler(proc->mm);
    }
    ostd::MutexGuard group(group_signal_lock());
    // A signal for the forking thread came while the child was being made (a group kill that
    // did not see it): undo, take the signal, and fork again after it (restarted).
    if (self.signal_pending()) return Errno::erestartnointr;
    {
      ostd::SpinLockGuard g(process_tree_lock());
      real_parent->children.push_back(proc);
    }
    pid_table().add_process(proc);
  }
  auto child = std::make_shared<Thread>(proc, tid);
  child->sigmask = self.sigmask;
  inherit_scheduling(self, *child);
  if ((flags & kCloneVm) == 0 || (flags & kCloneVfork) != 0) child->altstack = self.altstack;
  if ((flags & kCloneChildCleartid) != 0) child->clear_child_tid = child_tid;

  ostd::UserContext ctx = self.context();
  ctx.set_syscall_ret(0);
  if (newsp != 0) ctx.set_stack_pointer(newsp);
  if ((flags & kCloneSettls) != 0) ctx.set_tls_pointer(tls);
  // Linux ignores a fault on either tid store: the child exists and runs all the same.
  if ((flags & kCloneParentSettid) != 0) {
    (void)ostd::UserPtr<ostd::i32>(parent_tid).write(self.vm(), tid);
  }
  if ((flags & kCloneChildSettid) != 0) {
    (void)ostd::UserPtr<ostd::i32>(child_tid).write(*proc->vm, tid);
  }
  if ((flags & kClonePidfd) != 0) {
    // The pidfd is the parent's before the child runs; a fault storing it undoes the clone.
    auto fd = install_pidfd(self, proc, 0);
    auto stored =
        fd.is_ok() ? ostd::UserPtr<ostd::i32>(extra.pidfd).write(self.vm(), fd.value()) : Result<void>(fd.error());
    if (stored.is_error()) {
      if (fd.is_ok()) (void)self.process().fds->close(fd.value());
      if (auto rp = parent_of(*proc)) unlink_child(*rp, *proc);
      return stored.error();
    }
  }
  bool vfork = (flags & kCloneVfork) != 0;
  if (vfork) proc->vfork_released = false;
  // The child continues with the parent's FPU/SSE state (control words included), as on Linux.
  std::optional<ostd::FpuState> fpu;
  if (auto f = self.user().fpu_state(); f.is_ok()) fpu = f.value();
  const int trace_event = ptrace_clone_attach(self, *child, flags, exit_signal);
  if (auto r = start_thread(child, ctx, fpu); r.is_error()) {
    // No thread could start (no memory for its stack or user context): the new process must
    // not stay behind as a child that never runs, or the parent's wait(-1) would never end.
    // The rest of it goes with `proc` and `child` on return.
    if (proc.get() != &parent) {
      if (auto rp = parent_of(*proc)) unlink_child(*rp, *proc);
    }
    return r.error();
  }
  ptrace_clone_event(self, trace_event, tid);
  if (vfork) {
    // The parent waits (uninterruptibly, as Linux) until the child execs or exits.
    (void)proc->vfork_done.wait_until([&] { return proc->vfork_released; });
    ptrace_vfork_done(self, tid);
  }
  return tid;
}

Result<long> sys_clone(Thread& self, const SyscallArgs& a) {
  // x86-64 order: flags, newsp, parent_tid, child_tid, tls. CLONE_PIDFD stores the pidfd where
  // the parent's tid would go, so the two cannot be asked for together.
  if ((a[0] & kClonePidfd) != 0 && (a[0] & kCloneParentSettid) != 0) return Errno::einval;
  return do_clone(self, a[0], a[1], a[2], a[3], a[4], CloneExtras{a[2], 0, false});
}

// struct clone_args: 64 bytes in its first version, 80 with set_tid, 88 with cgroup.
struct CloneArgs {
  u64 flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
  OSTD_POD(CloneArgs, flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
           cgroup);
};
static_assert(sizeof(CloneArgs) == 88);

Result<long> sys_clone3(Thread& self, const SyscallArgs& a) {
  constexpr u64 kSizeVer0 = 64, kSizeVer2 = 88, kCsignal = 0xff;
  const u64 size = a[1];
  if (size > ostd::kPageSize) return Errno::e2big;
  if (size < kSizeVer0) return Errno::einval;
  const CloneArgs args = TRY(read_sized_struct<CloneArgs>(self.vm(), a[0], size));
  if (args.set_tid_size > 1 || (args.set_tid == 0 && args.set_tid_size > 0) ||
      (args.set_tid != 0 && args.set_tid_size == 0)) {
    return Errno::einval;  // one pid namespace: at most one level
  }
  if ((args.exit_signal & ~kCsignal) != 0 || args.exit_signal > static_cast<u64>(kNumSignals)) return Errno::einval;
  if ((args.flags & kCloneIntoCgroup) != 0 && (args.cgroup > 0x7fffffff || size < kSizeVer2)) return Errno::einval;
  // clone3_args_valid.
  if ((args.flags & ~((kCloneSupported & ~u64{kCsignal}) | kCloneClearSighand | kCloneIntoCgroup)) != 0 ||
      (args.flags & (kCloneDetached | kCsignal)) != 0) {
    return Errno::einval;
  }
  if ((args.flags & (kCloneSighand | kCloneClearSighand)) == (kCloneSighand | kCloneClearSighand)) return Errno::einval;
  if ((args.flags & (kCloneThread | kCloneParent)) != 0 && args.exit_signal != 0) return Errno::einval;
  if ((args.stack == 0) != (args.stack_size == 0)) return Errno::einval;
  u64 sp = 0;
  if (args.stack != 0 && (!ostd::checked_add(args.stack, args.stack_size, sp) || sp > ostd::VmSpace::user_top())) {
    return Errno::einval;
  }
  ostd::i32 set_tid = 0;
  if (args.set_tid_size == 1) set_tid = TRY(ostd::UserPtr<ostd::i32>(args.set_tid).read(self.vm()));
  if ((args.flags & kCloneIntoCgroup) != 0) {
    // No cgroup file system: no descriptor names a cgroup directory.
    (void)TRY(self.process().fds->get(static_cast<int>(args.cgroup)));
    return Errno::ebadf;
  }
  return do_clone(self, (args.flags & ~(kCloneClearSighand | kCloneIntoCgroup)) | args.exit_signal, sp, args.parent_tid,
                  args.child_tid, args.tls, CloneExtras{args.pidfd, set_tid, (args.flags & kCloneClearSighand) != 0});
}
Result<long> sys_fork(Thread& self, const SyscallArgs&) { return do_clone(self, kSigChld, 0, 0, 0, 0); }
Result<long> sys_vfork(Thread& self, const SyscallArgs&) {
  return do_clone(self, kCloneVm | kCloneVfork | kSigChld, 0, 0, 0, 0);
}

}  // namespace

void register_fork_exec_syscalls(SyscallTable& t);

void register_fork_syscalls(SyscallTable& t) {
  t.set(x86_64::Sysno::clone, &sys_clone);
  t.set(x86_64::Sysno::clone3, &sys_clone3);
  t.set(x86_64::Sysno::fork, &sys_fork);
  t.set(x86_64::Sysno::vfork, &sys_vfork);
}

}  // namespace services
