#include <atomic>

#include <ostd/internal.h>
#include <ostd/log.h>
#include <ostd/sync.h>
#include <ostd/task.h>
#include <ostd/time.h>

namespace ostd {

namespace {
std::atomic<u64> g_next_task_id{1};
std::atomic<u64> g_live_tasks{0};
std::atomic<u32> g_slice_ticks{4};
constexpr usize kDefaultStack = 256 * 1024;
// A task woken by an interrupt preempts one that has run at least this long since it was
// switched in (Linux's wake-up granularity): a sleeper beside CPU-bound tasks wakes on time,
// and short kernel work is not cut up by every device event.
constexpr u64 kWakeupGranularityNs = 1'000'000;
// A task that has exited; the next task to run frees its stack (one CPU for now).
Task* g_dead = nullptr;
}  // namespace

Task::Task(std::function<void()> entry, std::string name)
    : entry_(std::move(entry)), name_(std::move(name)), id_(g_next_task_id.fetch_add(1)),
      exit_waiters_(std::make_unique<WaitQueue>()) {
  g_live_tasks.fetch_add(1, std::memory_order_relaxed);
}

Task::~Task() { g_live_tasks.fetch_sub(1, std::memory_order_relaxed); }

Result<std::shared_ptr<Task>> Task::spawn(std::function<void()> entry, TaskOptions opts) {
  std::shared_ptr<Task> t(new Task(std::move(entry), std::move(opts.name)));
  usize stack = opts.stack_size == 0 ? kDefaultStack : opts.stack_size;
  t->ctx_ = TRY(arch::create_task_context(stack, &TaskInternals::entry_trampoline));
  t->self_ref_ = t;
  t->slice_left_ = g_slice_ticks.load();
  {
    irq::DisabledGuard g;
    t->state_ = State::Runnable;
    TaskInternals::enqueue(arch::cpu_local(), t.get());
  }
  return t;
}

Task& Task::current() { return *arch::cpu_local().current; }

std::shared_ptr<Task> Task::current_shared() { return current().shared_from_this(); }

void Task::yield_now() {
  irq::DisabledGuard g;
  TaskInternals::schedule();
}

void Task::sleep_for_ns(u64 ns) {
  u64 deadline = 0;
  if (!checked_add(monotonic_ns(), ns, deadline)) deadline = ~u64{0};
  sleep_until_ns(deadline);
}

void Task::sleep_until_ns(u64 deadline) {
  WaitQueue wq;
  for (u64 now = monotonic_ns(); now < deadline; now = monotonic_ns()) {
    (void)wq.wait_until([&] { return monotonic_ns() >= deadline; }, deadline - now);
  }
}

void Task::join() {
  if (this == &current()) panic("task {} tried to join itself", id_);
  (void)exit_waiters_->wait_until([this] { return state_ == State::Exited; });
}

namespace sched {
Stats stats() {
  auto& c = arch::cpu_local();
  return {c.context_switches, c.preemptions, c.nr_runnable, g_live_tasks.load(std::memory_order_relaxed)};
}
void set_time_slice_ticks(u32 ticks) { g_slice_ticks.store(ticks == 0 ? 1 : ticks); }
}  // namespace sched

// ---- scheduler core (interrupts disabled throughout) ----

void TaskInternals::enqueue(arch::CpuLocal& c, Task* t) {
  t->rq_next_ = nullptr;
  if (c.rq_tail != nullptr) {
    c.rq_tail->rq_next_ = t;
  } else {
    c.rq_head = t;
  }
  c.rq_tail = t;
  ++c.nr_runnable;
}

// Queues a task that becomes runnable again: at the front when `ahead` and it has slice left
// (it blocked or was preempted before using its slice), else at the back with a fresh slice.
// Returns whether it went ahead.
bool TaskInternals::requeue(arch::CpuLocal& c, Task* t, bool ahead) {
  if (!ahead || t->slice_left_ == 0) {
    t->slice_left_ = g_slice_ticks.load(std::memory_order_relaxed);
    enqueue(c, t);
    return false;
  }
  t->rq_next_ = c.rq_head;
  c.rq_head = t;
  if (c.rq_tail == nullptr) c.rq_tail = t;
  ++c.nr_runnable;
  return true;
}

Task* TaskInternals::dequeue(arch::CpuLocal& c) {
  Task* t = c.rq_head;
  if (t != nullptr) {
    c.rq_head = t->rq_next_;
    if (c.rq_head == nullptr) c.rq_tail = nullptr;
    t->rq_next_ = nullptr;
    --c.nr_runnable;
  }
  return t;
}

bool TaskInternals::wake(Task& t) {
  auto& c = arch::cpu_local();
  irq::DisabledGuard g;
  if (t.state_ != Task::State::Blocked) return false;
  t.state_ = Task::State::Runnable;
  if (&t != c.current) {
    // A task that blocked before using up its time slice runs next, ahead of those that used
    // theirs (and, woken by an interrupt, preempts a task that has run a while); one that used
    // its slice queues behind the others with a fresh one.
    if (requeue(c, &t, true) && c.in_irq.load(std::memory_order_relaxed) && c.current != c.idle &&
        arch::monotonic_ns() - c.current->last_run_ns_ >= kWakeupGranularityNs) {
      c.need_resched.store(true, std::memory_order_relaxed);
    }
    if (c.idle_waiting.load(std::memory_order_relaxed)) arch::kick_idle();
    if (c.current == c.idle) c.need_resched.store(true, std::memory_order_relaxed);
  }
  return true;
}

void TaskInternals::schedule() {
  auto& c = arch::cpu_local();
  Task* cur = c.current;
  // Asked to give way (a tick that ended the slice, or a wake-up), not yielding or blocking.
  bool preempted = c.need_resched.exchange(false, std::memory_order_relaxed);
  Task* next = nullptr;
  if (cur->state_ == Task::State::Runnable) {
    // Woken between deciding to sleep and getting here: keep running.
    cur->state_ = Task::State::Running;
    return;
  }
  if (cur->state_ == Task::State::Running) {
    next = dequeue(c);
    if (next == nullptr) return;  // nobody else wants the CPU
    if (cur != c.idle) {
      cur->state_ = Task::State::Runnable;
      (void)requeue(c, cur, preempted);  // preempted by a wake-up: right after that task
    }
  } else {
    next = dequeue(c);
    if (next == nullptr) next = c.idle;
  }
  if (next == cur) {
    cur->state_ = Task::State::Running;
    return;
  }
  u64 now = arch::monotonic_ns();
  cur->cpu_time_ns_ += now - cur->last_run_ns_;
  next->last_run_ns_ = now;
  next->state_ = Task::State::Running;
  c.current = next;
  ++c.context_switches;
  arch::switch_context(*cur->ctx_, *next->ctx_, cur->state_ == Task::State::Exited);
  after_switch();
}

void TaskInternals::after_switch() {
  if (g_dead != nullptr && g_dead != arch::cpu_local().current) {
    Task* dead = g_dead;
    g_dead = nullptr;
    dead->ctx_.reset();
    std::shared_ptr<Task> last = std::move(dead->self_ref_);
    // `last` may be the final reference: the Task is destroyed here, on another stack.
  }
}

void TaskInternals::entry_trampoline() {
  after_switch();
  irq_internal::enable_local();
  Task& self = Task::current();
  self.entry_();
  self.entry_ = nullptr;  // destroy captured state while still on this task's stack
  exit_current();
}

void TaskInternals::exit_current() {
  auto& c = arch::cpu_local();
  c.irq_disabled.store(true, std::memory_order_relaxed);
  Task* self = c.current;
  self->state_ = Task::State::Exited;
  self->exit_waiters_->wake_all();
  c.irq_disabled.store(true, std::memory_order_relaxed);
  g_dead = self;
  schedule();
  panic("exited task {} was scheduled again", self->id_);
}

void TaskInternals::tick(u64 tick_ns) {
  auto& c = arch::cpu_local();
  Task* cur = c.current;
  if (cur == nullptr || cur == c.idle) {
    if (c.rq_head != nullptr) c.need_resched.store(true, std::memory_order_relaxed);
    return;
  }
  (void)tick_ns;
  if (cur->slice_left_ > 0) --cur->slice_left_;
  if (cur->slice_left_ == 0 && c.rq_head != nullptr) {
    c.need_resched.store(true, std::memory_order_relaxed);
  }
}

void TaskInternals::init_cpu() {
  auto& c = arch::cpu_local();
  if (c.idle != nullptr) return;
  // The idle task is the context already running on this CPU; it is never queued or freed.
  static std::shared_ptr<Task> idle(new Task(nullptr, "idle"));
  idle->ctx_ = arch::create_boot_context();
  idle->state_ = Task::State::Running;
  idle->last_run_ns_ = arch::monotonic_ns();
  c.idle = idle.get();
  c.current = idle.get();
}

void TaskInternals::idle_loop(bool (*stop)(void*), void* arg) {
  auto& c = arch::cpu_local();
  OSTD_ASSERT(c.current == c.idle);
  c.irq_disabled.store(true, std::memory_order_relaxed);
  while (!(c.rq_head == nullptr && stop(arg))) {
    if (c.rq_head != nullptr) {
      schedule();
    } else {
      arch::idle_wait();
    }
    // Run interrupts that arrived meanwhile, then disable again.
    irq_internal::enable_local();
    c.irq_disabled.store(true, std::memory_order_relaxed);
  }
  irq_internal::enable_local();
}

}  // namespace ostd
