// ostd/sync.h — locks, wait queues and completions.
//
// SpinLock: busy-waits; disables local interrupts and preemption while held, so it may be taken
//   from interrupt handlers. Never hold one across a user copy, an allocation that may sleep, or
//   a blocking call.
// Mutex / RwLock: sleeping locks for task context; waiters queue FIFO on a WaitQueue.
// WaitQueue: tasks sleep until a condition holds (with an optional timeout); wake_one/wake_all
//   may be called from interrupt context. Conditions are re-checked after every wake-up, so
//   spurious wake-ups are harmless; the condition itself must not sleep.
// Completion: a one-shot (or counted) event.
// All guards are RAII and [[nodiscard]].
#pragma once

#include <atomic>
#include <optional>
#include <utility>

#include <ostd/irq.h>
#include <ostd/task.h>
#include <ostd/types.h>

namespace ostd {

class SpinLock;

class [[nodiscard]] SpinLockGuard {
 public:
  explicit SpinLockGuard(SpinLock& lock);
  ~SpinLockGuard();
  SpinLockGuard(const SpinLockGuard&) = delete;
  SpinLockGuard& operator=(const SpinLockGuard&) = delete;
  SpinLockGuard(SpinLockGuard&&) = delete;
  SpinLockGuard& operator=(SpinLockGuard&&) = delete;

 private:
  SpinLock& lock_;
  irq::DisabledGuard irq_;
};

class SpinLock {
 public:
  SpinLock() = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  SpinLockGuard lock() { return SpinLockGuard(*this); }
  bool is_locked() const { return flag_.load(std::memory_order_relaxed); }

 private:
  friend class SpinLockGuard;
  void acquire();
  void release();
  std::atomic<bool> flag_{false};
};

/// Data reachable only with its spin lock held: `counter.with([](int& c) { ++c; });`
template <typename T>
class SpinLockProtected {
 public:
  template <typename... Args>
  explicit SpinLockProtected(Args&&... args) : value_(std::forward<Args>(args)...) {}
  template <typename F>
  decltype(auto) with(F&& f) {
    SpinLockGuard g(lock_);
    return std::forward<F>(f)(value_);
  }

 private:
  SpinLock lock_;
  T value_;
};

/// A queue of sleeping tasks.
class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;
  ~WaitQueue();

  /// Sleeps until cond() is true. Returns true when it is, false when `timeout_ns` passed first
  /// (cond() is checked one last time at the timeout).
  template <typename Cond>
  bool wait_until(Cond&& cond, std::optional<u64> timeout_ns = std::nullopt) {
    return wait_impl(FunctionRefBool(cond), timeout_ns);
  }
  /// Wakes the longest-waiting task; returns whether one was woken.
  bool wake_one();
  /// Wakes every waiting task; returns how many.
  usize wake_all();
  bool has_waiters() const;
  /// How many times wake_one or wake_all was called, waiters or not: a count of the events this
  /// queue announced (what Linux's wake-up callbacks see; edge-triggered epoll reports a file
  /// again when its queue's count moved, even if its readiness looks the same).
  u64 wake_count() const { return wakes_.load(std::memory_order_relaxed); }

  struct Waiter {
    Task* task = nullptr;
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    bool queued = false;
  };

 private:
  // A non-owning reference to a bool() callable (avoids std::function on the wait path).
  class FunctionRefBool {
   public:
    // SAFETY: obj_ is &f of this same F, so the cast restores its type; the ref is used only
    // inside wait_impl, while the caller's f is alive.
    template <typename F>
    explicit FunctionRefBool(F& f)
        : obj_(&f), call_([](void* o) { return static_cast<bool>((*static_cast<F*>(o))()); }) {}
    bool operator()() const { return call_(obj_); }

   private:
    void* obj_;
    bool (*call_)(void*);
  };
  bool wait_impl(FunctionRefBool cond, std::optional<u64> timeout_ns);
  bool nobody_waiting() const;
  void enqueue(Waiter& w);
  void dequeue(Waiter& w);

  mutable SpinLock lock_;
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  std::atomic<u64> wakes_{0};
};

class Mutex;
class [[nodiscard]] MutexGuard {
 public:
  explicit MutexGuard(Mutex& m);
  ~MutexGuard();
  MutexGuard(const MutexGuard&) = delete;
  MutexGuard& operator=(const MutexGuard&) = delete;
  MutexGuard(MutexGuard&&) = delete;
  MutexGuard& operator=(MutexGuard&&) = delete;

 private:
  Mutex& m_;
};

/// A sleeping lock. Not recursive: locking it twice from one task panics.
class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  MutexGuard lock() { return MutexGuard(*this); }
  bool try_lock();
  bool is_locked() const { return owner_.load(std::memory_order_relaxed) != 0; }

 private:
  friend class MutexGuard;
  void acquire();
  void release();
  std::atomic<u64> owner_{0};  // task id + 1 of the holder, 0 when free
  WaitQueue waiters_;
};

template <typename T>
class MutexProtected {
 public:
  template <typename... Args>
  explicit MutexProtected(Args&&... args) : value_(std::forward<Args>(args)...) {}
  template <typename F>
  decltype(auto) with(F&& f) {
    MutexGuard g(lock_);
    return std::forward<F>(f)(value_);
  }

 private:
  Mutex lock_;
  T value_;
};

/// A sleeping reader-writer lock; writers are preferred once waiting (no writer starvation).
class RwLock {
 public:
  RwLock() = default;
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  class [[nodiscard]] ReadGuard {
   public:
    explicit ReadGuard(RwLock& l) : l_(l) { l_.lock_read(); }
    ~ReadGuard() { l_.unlock_read(); }
    ReadGuard(const ReadGuard&) = delete;
    ReadGuard& operator=(const ReadGuard&) = delete;
    ReadGuard(ReadGuard&&) = delete;
    ReadGuard& operator=(ReadGuard&&) = delete;

   private:
    RwLock& l_;
  };
  class [[nodiscard]] WriteGuard {
   public:
    explicit WriteGuard(RwLock& l) : l_(l) { l_.lock_write(); }
    ~WriteGuard() { l_.unlock_write(); }
    WriteGuard(const WriteGuard&) = delete;
    WriteGuard& operator=(const WriteGuard&) = delete;
    WriteGuard(WriteGuard&&) = delete;
    WriteGuard& operator=(WriteGuard&&) = delete;

   private:
    RwLock& l_;
  };
  ReadGuard read() { return ReadGuard(*this); }
  WriteGuard write() { return WriteGuard(*this); }
  u32 readers() const { return readers_; }
  bool has_writer() const { return writer_; }

 private:
  void lock_read();
  void unlock_read();
  void lock_write();
  void unlock_write();
  SpinLock lock_;
  u32 readers_ = 0;
  u32 writers_waiting_ = 0;
  bool writer_ = false;
  WaitQueue wq_;
};

/// A counted event: complete() releases one wait(), complete_all() releases all, for good.
class Completion {
 public:
  void complete();
  void complete_all();
  void wait();
  /// False on timeout.
  bool wait_for_ns(u64 timeout_ns);
  bool is_done() const { return done_ > 0; }

 private:
  bool try_consume();
  SpinLock lock_;
  u64 done_ = 0;
  bool all_ = false;
  WaitQueue wq_;
};

}  // namespace ostd
