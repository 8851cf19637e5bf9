// ostd/task.h — kernel tasks and the scheduler.
//
// A Task is a kernel thread of control with its own stack (a fiber on the host backend, with a
// guard page under the stack). Tasks are scheduled round-robin per CPU and preempted by the timer
// when their time slice (default 4 timer ticks) is used up, at interrupt return or when
// preemption is re-enabled. A Task is reference counted; it stays alive while it runs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <ostd/error.h>
#include <ostd/types.h>

namespace ostd {

namespace arch {
struct TaskContext;
struct TaskContextDeleter {
  void operator()(TaskContext* ctx) const;
};
}  // namespace arch
class WaitQueue;

struct TaskOptions {
  std::string name = "task";
  /// Kernel stack size in bytes (rounded up to pages). 0 selects the default (256 KiB).
  usize stack_size = 0;
};

class Task : public std::enable_shared_from_this<Task> {
 public:
  enum class State : u8 { Runnable, Running, Blocked, Exited };

  /// Creates a task and makes it runnable. ENOMEM when its stack cannot be allocated.
  static Result<std::shared_ptr<Task>> spawn(std::function<void()> entry, TaskOptions opts = {});

  /// The task running on this CPU.
  static Task& current();
  static std::shared_ptr<Task> current_shared();
  /// Gives up the CPU to the next runnable task (if any) and stays runnable.
  static void yield_now();
  /// Sleeps for at least `ns` nanoseconds.
  static void sleep_for_ns(u64 ns);
  static void sleep_until_ns(u64 monotonic_deadline_ns);

  /// Waits until this task has exited. Must not be called by the task itself.
  void join();
  bool has_exited() const { return state_ == State::Exited; }
  State state() const { return state_; }
  u64 id() const { return id_; }
  std::string_view name() const { return name_; }
  /// Nanoseconds this task has spent on a CPU (approximate, tick-charged on the host).
  u64 cpu_time_ns() const { return cpu_time_ns_; }

  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  Task(Task&&) = delete;
  Task& operator=(Task&&) = delete;
  ~Task();

 private:
  Task(std::function<void()> entry, std::string name);
  friend struct TaskInternals;

  std::function<void()> entry_;
  std::string name_;
  u64 id_;
  State state_ = State::Runnable;
  std::unique_ptr<arch::TaskContext, arch::TaskContextDeleter> ctx_;
  std::unique_ptr<WaitQueue> exit_waiters_;
  // Intrusive run-queue link (owned by the scheduler; ostd-internal).
  Task* rq_next_ = nullptr;
  std::shared_ptr<Task> self_ref_;  // keeps the task alive until it has exited
  u32 slice_left_ = 0;
  u64 cpu_time_ns_ = 0;
  u64 last_run_ns_ = 0;
};

namespace sched {
/// Statistics for tests and benchmarks.
struct Stats {
  u64 context_switches;
  u64 preemptions;
  u64 runnable;
  /// Task objects alive (spawned and not yet destroyed), for leak checks.
  u64 live_tasks;
};
Stats stats();
/// Timer ticks a task may run before it is preempted (>= 1).
void set_time_slice_ticks(u32 ticks);
}  // namespace sched

}  // namespace ostd
