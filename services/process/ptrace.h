// services/process/ptrace.h — the tracing state of a ptraced thread, and the hooks the rest of
// the kernel calls at the places where Linux reports to a tracer (process/ptrace.cpp).
#pragma once

#include <array>
#include <memory>

#include <ostd/sync.h>
#include <ostd/types.h>

#include "signal/signal.h"

namespace services {

class Process;
class Thread;

/// One traced thread (a tracee): who traces it, how it was resumed, and the stop it is in.
struct Tracee {
  enum class Stop : ostd::u8 { None, Signal, SyscallEntry, SyscallExit, Event, Group };
  enum class Resume : ostd::u8 { Cont, Syscall, Sysemu, Step, SysemuStep };

  mutable ostd::SpinLock lock;
  std::weak_ptr<Process> tracer;
  ostd::i32 tracer_pid = 0;
  ostd::u32 options = 0;  // PTRACE_O_*
  bool seized = false;
  Stop stop = Stop::None;
  bool reported = true;    // the stop was reported by wait
  bool listening = false;  // PTRACE_LISTEN: stopped, but not for the tracer, until SIGCONT
  int status = 0;          // the stop's wait status word
  SigInfo info{};          // PTRACE_GETSIGINFO
  Resume resume = Resume::Cont;
  int resume_sig = 0;
  bool forced_tf = false;  // TF is set for a single step (cleared on the next other resume)
  ostd::u64 event_msg = 0;
  ostd::u64 orig_rax = ~ostd::u64{0};
  std::array<ostd::u64, 8> debugregs{0, 0, 0, 0, 0, 0, 0xffff0ff0, 0};  // DR6's reserved bits
  /// The thread ended (a thread other than the main one is reported on its own), with the
  /// wait status its exit call gave.
  bool exited = false;
  int exit_status = 0;
  ostd::WaitQueue wq;  // the stopped tracee sleeps here
};

/// A tracer's record of one tracee (Process::tracees).
struct TraceeRef {
  std::weak_ptr<Thread> thread;
  ostd::i32 tid = 0;
  std::shared_ptr<Process> process;
  std::shared_ptr<Tracee> state;
  bool exit_reported = false;
};

/// The tracing state of t, or nullptr when it is not traced.
std::shared_ptr<Tracee> tracee_state(const Thread& t);

// ---- the tracee's reports (each a no-op for an untraced thread) ----
/// Signal-delivery-stop for `sig` (not SIGKILL) taken off t's queue: returns the signal to
/// deliver instead (0: none), with `info` as the tracer left it.
int ptrace_signal(Thread& t, int sig, SigInfo& info);
/// A stop signal's group stop, for a traced thread: a ptrace stop until the tracer resumes it.
void ptrace_group_stop(Thread& t, int sig);
/// A system call's entry (rax becomes -ENOSYS, as Linux's pt_regs, and orig_rax the number) and
/// its syscall-entry-stop: false when the call must be skipped (PTRACE_SYSEMU, orig_rax set to
/// -1, a kill); otherwise t.syscall_nr and the argument registers are what the tracer left.
bool ptrace_syscall_entry(Thread& t);
/// Syscall-exit-stop (after the return register is set).
void ptrace_syscall_exit(Thread& t);
/// A successful execve: PTRACE_EVENT_EXEC, or the legacy SIGTRAP.
void ptrace_exec(Thread& t, ostd::i32 old_tid);
/// PTRACE_EVENT_EXIT before the thread exits with wait status `status`.
void ptrace_exit(Thread& t, int status);
/// The traced thread is gone: its tracer hears of it.
void ptrace_thread_gone(Thread& t);
/// PTRACE_INTERRUPT or a seized child's first stop (Thread::trap_requested).
void ptrace_trap(Thread& t);
/// An exception entered the kernel (orig_rax -1); `step`: it was a single step (DR6's BS).
void ptrace_exception(Thread& t, bool step);
/// The vfork child released its parent (PTRACE_EVENT_VFORK_DONE, with the child's id).
void ptrace_vfork_done(Thread& parent, ostd::i32 child_tid);
/// Whether a signal for p must be queued even when p ignores it (its main thread is traced: the
/// tracer sees every signal).
bool traced_keeps_signals(const Process& p);
/// clone: attaches `child` (not started yet) when the tracer asked for it (PTRACE_O_TRACEFORK,
/// VFORK, CLONE); returns the event to report once it runs (0: none).
int ptrace_clone_attach(Thread& parent, Thread& child, ostd::u64 flags, int exit_signal);
/// Reports `event` (from ptrace_clone_attach) with the new thread's id.
void ptrace_clone_event(Thread& parent, int event, ostd::i32 child_tid);

// ---- the tracer's side ----
/// A dying tracer lets its tracees go (or kills them: PTRACE_O_EXITKILL).
void ptrace_release_tracees(Process& tracer);
/// Who traces p's main thread (0: nobody), for /proc/PID/status; whether it is in a ptrace stop.
ostd::i32 tracer_pid_of(const Process& p);
bool in_trace_stop(const Process& p);

}  // namespace services
