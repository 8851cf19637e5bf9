#include <ostd/internal.h>
#include <ostd/log.h>
#include <ostd/sync.h>
#include <ostd/time.h>

namespace ostd {

// ---- SpinLock ----

SpinLockGuard::SpinLockGuard(SpinLock& lock) : lock_(lock) { lock_.acquire(); }
SpinLockGuard::~SpinLockGuard() { lock_.release(); }

void SpinLock::acquire() {
  while (flag_.exchange(true, std::memory_order_acquire)) {
    // With one CPU per host thread and interrupts off, contention means another CPU holds it.
    __builtin_ia32_pause();
  }
}
void SpinLock::release() { flag_.store(false, std::memory_order_release); }

// ---- WaitQueue ----

WaitQueue::~WaitQueue() {
  if (head_ != nullptr) panic("WaitQueue destroyed with waiting tasks");
}

void WaitQueue::enqueue(Waiter& w) {
  w.prev = tail_;
  w.next = nullptr;
  if (tail_ != nullptr) {
    tail_->next = &w;
  } else {
    std::atomic_ref<Waiter*>(head_).store(&w, std::memory_order_relaxed);
  }
  tail_ = &w;
  w.queued = true;
}

// Wakers look at the head without the lock first (most wake-ups find nobody waiting: a mutex
// released uncontended, a pipe written with no reader asleep). That is safe because a waiter,
// once queued, checks its condition again before it blocks: the waker's state change and its
// look at the head, and the waiter's enqueue and its second look at the condition, are each
// ordered by a full fence, so at least one of the two sees the other.
bool WaitQueue::nobody_waiting() const {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // SAFETY: head_ is a non-const member (only this method is const); the atomic_ref only loads.
  return std::atomic_ref<Waiter*>(const_cast<Waiter*&>(head_)).load(std::memory_order_relaxed) == nullptr;
}

void WaitQueue::dequeue(Waiter& w) {
  if (!w.queued) return;
  if (w.prev != nullptr) {
    w.prev->next = w.next;
  } else {
    std::atomic_ref<Waiter*>(head_).store(w.next, std::memory_order_relaxed);
  }
  if (w.next != nullptr) {
    w.next->prev = w.prev;
  } else {
    tail_ = w.prev;
  }
  w.prev = w.next = nullptr;
  w.queued = false;
}

bool WaitQueue::wait_impl(FunctionRefBool cond, std::optional<u64> timeout_ns) {
  if (cond()) return true;
  if (irq::in_interrupt()) panic("WaitQueue::wait_until in interrupt context");
  Task& self = Task::current();
  Waiter w{&self};
  bool timed_out = false;
  std::optional<Timer> timer;
  if (timeout_ns) {
    if (*timeout_ns == 0) return false;
    timer.emplace([&self, &timed_out] {
      timed_out = true;
      TaskInternals::wake(self);
    });
    timer->arm_after(*timeout_ns);
  }
  bool result = false;
  for (;;) {
    irq::DisabledGuard g;
    if (cond()) {
      result = true;
      break;
    }
    if (timed_out) break;
    {
      SpinLockGuard lg(lock_);
      if (!w.queued) enqueue(w);
    }
    // A waker that changed the state before we were queued may have found the queue empty
    // (nobody_waiting()): look again now that we are in it.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (cond()) {
      result = true;
      break;
    }
    TaskInternals::set_state(self, Task::State::Blocked);
    TaskInternals::schedule();
    SpinLockGuard lg(lock_);
    dequeue(w);
  }
  {
    SpinLockGuard lg(lock_);
    dequeue(w);
  }
  if (timer) timer->cancel();
  return result;
}

bool WaitQueue::wake_one() {
  wakes_.fetch_add(1, std::memory_order_relaxed);
  if (nobody_waiting()) return false;
  SpinLockGuard lg(lock_);
  while (head_ != nullptr) {
    Waiter* w = head_;
    dequeue(*w);
    if (TaskInternals::wake(*w->task)) return true;
  }
  return false;
}

usize WaitQueue::wake_all() {
  wakes_.fetch_add(1, std::memory_order_relaxed);
  if (nobody_waiting()) return 0;
  SpinLockGuard lg(lock_);
  usize n = 0;
  while (head_ != nullptr) {
    Waiter* w = head_;
    dequeue(*w);
    if (TaskInternals::wake(*w->task)) ++n;
  }
  return n;
}

bool WaitQueue::has_waiters() const {
  SpinLockGuard lg(lock_);
  return head_ != nullptr;
}

// ---- Mutex ----

MutexGuard::MutexGuard(Mutex& m) : m_(m) { m_.acquire(); }
MutexGuard::~MutexGuard() { m_.release(); }

bool Mutex::try_lock() {
  u64 expected = 0;
  return owner_.compare_exchange_strong(expected, Task::current().id() + 1, std::memory_order_acquire);
}

void Mutex::acquire() {
  if (try_lock()) return;
  if (owner_.load(std::memory_order_relaxed) == Task::current().id() + 1) {
    panic("Mutex locked twice by task {}", Task::current().id());
  }
  (void)waiters_.wait_until([this] { return try_lock(); });
}

void Mutex::release() {
  owner_.store(0, std::memory_order_release);
  (void)waiters_.wake_one();
}

// ---- RwLock ----

void RwLock::lock_read() {
  auto try_read = [this] {
    SpinLockGuard g(lock_);
    if (writer_ || writers_waiting_ > 0) return false;
    ++readers_;
    return true;
  };
  (void)wq_.wait_until(try_read);
}

void RwLock::unlock_read() {
  bool wake = false;
  {
    SpinLockGuard g(lock_);
    OSTD_ASSERT(readers_ > 0);
    wake = --readers_ == 0;
  }
  if (wake) (void)wq_.wake_all();
}

void RwLock::lock_write() {
  {
    SpinLockGuard g(lock_);
    ++writers_waiting_;
  }
  auto try_write = [this] {
    SpinLockGuard g(lock_);
    if (writer_ || readers_ > 0) return false;
    writer_ = true;
    --writers_waiting_;
    return true;
  };
  (void)wq_.wait_until(try_write);
}

void RwLock::unlock_write() {
  {
    SpinLockGuard g(lock_);
    OSTD_ASSERT(writer_);
    writer_ = false;
  }
  (void)wq_.wake_all();
}

// ---- Completion ----

bool Completion::try_consume() {
  SpinLockGuard g(lock_);
  if (all_) return true;
  if (done_ > 0) {
    --done_;
    return true;
  }
  return false;
}

void Completion::complete() {
  {
    SpinLockGuard g(lock_);
    ++done_;
  }
  (void)wq_.wake_one();
}

void Completion::complete_all() {
  {
    SpinLockGuard g(lock_);
    all_ = true;
    ++done_;
  }
  (void)wq_.wake_all();
}

void Completion::wait() {
  (void)wq_.wait_until([this] { return try_consume(); });
}

bool Completion::wait_for_ns(u64 timeout_ns) {
  return wq_.wait_until([this] { return try_consume(); }, timeout_ns);
}

}  // namespace ostd
