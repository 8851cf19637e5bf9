#include <atomic>
#include <string>
#include <vector>

#ifndef FK_KTEST
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#endif

#include "harness.h"

using namespace ostd;

namespace {
std::shared_ptr<Task> spawn(std::function<void()> fn, std::string name = "t") {
  auto t = Task::spawn(std::move(fn), TaskOptions{std::move(name), 0});
  EXPECT_TRUE(t.is_ok());
  return t.release_value();
}
}  // namespace

TEST(Task, SpawnAndJoin) {
  test::run_in_kernel([] {
    int x = 0;
    auto t = spawn([&] { x = 42; });
    t->join();
    EXPECT_TRUE(t->has_exited());
    EXPECT_EQ(x, 42);
    EXPECT_NE(t->id(), Task::current().id());
  });
}

TEST(Task, YieldInterleavesInFifoOrder) {
  test::run_in_kernel([] {
    std::string log;
    auto a = spawn([&] {
      for (int i = 0; i < 3; ++i) {
        log += 'a';
        Task::yield_now();
      }
    });
    auto b = spawn([&] {
      for (int i = 0; i < 3; ++i) {
        log += 'b';
        Task::yield_now();
      }
    });
    a->join();
    b->join();
    EXPECT_EQ(log, "ababab");
  });
}

TEST(Task, ManyTasksAllRunAndStacksAreFreed) {
  test::run_in_kernel([] {
    std::atomic<int> n{0};
    std::vector<std::shared_ptr<Task>> ts;
    for (int i = 0; i < 200; ++i) ts.push_back(spawn([&] { n.fetch_add(1); }));
    for (auto& t : ts) t->join();
    EXPECT_EQ(n.load(), 200);
  });
}

namespace {
// Two tasks counting as fast as they can for `ns`, preempted by the timer.
struct BusyRun {
  u64 preemptions;  // during the run
  u64 a, b;         // their counts
  u64 a_cpu_ns;     // the first one's CPU time
};
// Runs two busy tasks for `ns`, and on (at most 3 s in all) until the timer preempted them more
// than 10 times: a loaded host gives this process, and so its timer ticks, a fraction of a CPU.
BusyRun run_two_busy_tasks(u64 ns) {
  std::atomic<bool> stop{false};
  std::atomic<u64> a{0}, b{0};
  u64 preempt_before = sched::stats().preemptions;
  u64 give_up = monotonic_ns() + 3000 * kNsPerMs;
  auto ta = spawn([&] {
    while (!stop.load(std::memory_order_relaxed)) a.fetch_add(1, std::memory_order_relaxed);
  });
  auto tb = spawn([&] {
    while (!stop.load(std::memory_order_relaxed)) b.fetch_add(1, std::memory_order_relaxed);
  });
  Task::sleep_for_ns(ns);
  while (sched::stats().preemptions - preempt_before <= 10 && monotonic_ns() < give_up) {
    Task::sleep_for_ns(10 * kNsPerMs);
  }
  stop = true;
  ta->join();
  tb->join();
  return {sched::stats().preemptions - preempt_before, a.load(), b.load(), ta->cpu_time_ns()};
}
}  // namespace

TEST(Task, BusyTasksArePreemptedFairly) {
  test::run_in_kernel([] {
    BusyRun r = run_two_busy_tasks(300 * kNsPerMs);
    EXPECT_GT(r.preemptions, 10u);
    ASSERT_GT(r.a, 0u);
    ASSERT_GT(r.b, 0u);
    // Within a factor of two of each other (integers: the bare-metal kernel has no FPU code).
    EXPECT_LT(r.a, 2 * r.b) << r.a << " vs " << r.b;
    EXPECT_LT(r.b, 2 * r.a) << r.a << " vs " << r.b;
    EXPECT_GT(r.a_cpu_ns, 50 * kNsPerMs);
  });
}

namespace {
// A static whose initializer runs across several timer ticks.
u64 slow_static(std::atomic<int>& entered) {
  static u64 value = [&] {
    entered.fetch_add(1);
    u64 until = monotonic_ns() + 30 * kNsPerMs;
    while (monotonic_ns() < until) asm volatile("" ::: "memory");
    return u64{42};
  }();
  return value;
}
}  // namespace

TEST(Task, NoPreemptionInsideAStaticInitializer) {
  // Two tasks reach the same function-local static; the first is inside the initializer for
  // 30 ms (several ticks). Preempting it there would make the second see a recursive
  // initialization (an abort) or wait for itself forever.
  test::run_in_kernel([] {
    std::atomic<int> entered{0};
    std::atomic<u64> a{0}, b{0};
    auto ta = spawn([&] { a = slow_static(entered); });
    auto tb = spawn([&] { b = slow_static(entered); });
    ta->join();
    tb->join();
    EXPECT_EQ(a.load(), 42u);
    EXPECT_EQ(b.load(), 42u);
    EXPECT_EQ(entered.load(), 1);
  });
}

TEST(Task, SleepLastsAtLeastTheRequestedTime) {
  test::run_in_kernel([] {
    for (u64 ms : {1, 5, 20}) {
      u64 t0 = monotonic_ns();
      Task::sleep_for_ns(ms * kNsPerMs);
      u64 took = monotonic_ns() - t0;
      EXPECT_GE(took, ms * kNsPerMs);
      // Not much later either (a bound a loaded host keeps: it may not run us for a while).
      EXPECT_LT(took, ms * kNsPerMs + 250 * kNsPerMs);
    }
  });
}

TEST(Task, SleepersWakeInDeadlineOrder) {
  test::run_in_kernel([] {
    std::string order;
    auto a = spawn([&] {
      Task::sleep_for_ns(30 * kNsPerMs);
      order += 'a';
    });
    auto b = spawn([&] {
      Task::sleep_for_ns(10 * kNsPerMs);
      order += 'b';
    });
    auto c = spawn([&] {
      Task::sleep_for_ns(20 * kNsPerMs);
      order += 'c';
    });
    a->join();
    b->join();
    c->join();
    EXPECT_EQ(order, "bca");
  });
}

TEST(WaitQueue, TimesOutWhenNothingHappens) {
  test::run_in_kernel([] {
    WaitQueue wq;
    u64 t0 = monotonic_ns();
    bool ok = wq.wait_until([] { return false; }, 20 * kNsPerMs);
    u64 took = monotonic_ns() - t0;
    EXPECT_FALSE(ok);
    EXPECT_GE(took, 20 * kNsPerMs);
    EXPECT_LT(took, 40 * kNsPerMs);
    EXPECT_FALSE(wq.wait_until([] { return false; }, 0));
  });
}

TEST(WaitQueue, WakeBeforeTimeout) {
  test::run_in_kernel([] {
    WaitQueue wq;
    bool flag = false;
    auto waker = spawn([&] {
      Task::sleep_for_ns(5 * kNsPerMs);
      flag = true;
      wq.wake_all();
    });
    u64 t0 = monotonic_ns();
    EXPECT_TRUE(wq.wait_until([&] { return flag; }, 1000 * kNsPerMs));
    EXPECT_LT(monotonic_ns() - t0, 200 * kNsPerMs);
    waker->join();
  });
}

TEST(WaitQueue, WakeOneWakesExactlyOne) {
  test::run_in_kernel([] {
    WaitQueue wq;
    int tokens = 0;
    int done = 0;
    std::vector<std::shared_ptr<Task>> ts;
    for (int i = 0; i < 3; ++i) {
      ts.push_back(spawn([&] {
        (void)wq.wait_until([&] { return tokens > 0; });
        --tokens;
        ++done;
      }));
    }
    Task::yield_now();
    Task::sleep_for_ns(kNsPerMs);
    EXPECT_EQ(done, 0);
    tokens = 1;
    EXPECT_TRUE(wq.wake_one());
    Task::sleep_for_ns(5 * kNsPerMs);
    EXPECT_EQ(done, 1);
    tokens = 2;
    EXPECT_EQ(wq.wake_all(), 2u);
    for (auto& t : ts) t->join();
    EXPECT_EQ(done, 3);
  });
}

TEST(Mutex, ContentionBetweenPreemptedTasks) {
  test::run_in_kernel([] {
    Mutex m;
    u64 counter = 0;  // deliberately non-atomic: the mutex must protect it
    bool inside = false;
    bool overlap = false;
    std::vector<std::shared_ptr<Task>> ts;
    for (int i = 0; i < 4; ++i) {
      ts.push_back(spawn([&] {
        u64 until = monotonic_ns() + 100 * kNsPerMs;
        while (monotonic_ns() < until) {
          MutexGuard g(m);
          if (inside) overlap = true;
          inside = true;
          u64 v = counter;
          for (int k = 0; k < 2000; ++k) asm volatile("" ::: "memory");
          counter = v + 1;
          inside = false;
        }
      }));
    }
    for (auto& t : ts) t->join();
    EXPECT_FALSE(overlap);
    EXPECT_GT(counter, 100u);
    EXPECT_GT(sched::stats().preemptions, 0u);
    EXPECT_FALSE(m.is_locked());
  });
}

TEST(Mutex, TryLockFailsWhileHeld) {
  test::run_in_kernel([] {
    Mutex m;
    bool other_got_it = true;
    {
      MutexGuard g(m);
      auto t = spawn([&] { other_got_it = m.try_lock(); });
      t->join();
    }
    EXPECT_FALSE(other_got_it);
    EXPECT_TRUE(m.try_lock());
  });
}

TEST(RwLock, ReadersShareWritersExclude) {
  test::run_in_kernel([] {
    RwLock l;
    int max_readers = 0;
    bool writer_saw_reader = false;
    std::vector<std::shared_ptr<Task>> ts;
    for (int i = 0; i < 3; ++i) {
      ts.push_back(spawn([&] {
        auto g = l.read();
        max_readers = std::max<int>(max_readers, static_cast<int>(l.readers()));
        Task::sleep_for_ns(10 * kNsPerMs);
      }));
    }
    ts.push_back(spawn([&] {
      Task::sleep_for_ns(2 * kNsPerMs);
      auto g = l.write();
      writer_saw_reader = l.readers() != 0;
    }));
    for (auto& t : ts) t->join();
    EXPECT_EQ(max_readers, 3);
    EXPECT_FALSE(writer_saw_reader);
  });
}

TEST(Completion, WaitAndTimeout) {
  test::run_in_kernel([] {
    Completion c;
    EXPECT_FALSE(c.wait_for_ns(5 * kNsPerMs));
    auto t = spawn([&] { c.complete(); });
    c.wait();
    t->join();
    Completion all;
    all.complete_all();
    EXPECT_TRUE(all.wait_for_ns(1));
    EXPECT_TRUE(all.wait_for_ns(1));
  });
}

TEST(SpinLock, DisablesInterruptsWhileHeld) {
  test::run_in_kernel([] {
    SpinLock l;
    EXPECT_TRUE(irq::local_enabled());
    {
      auto g = l.lock();
      EXPECT_FALSE(irq::local_enabled());
      EXPECT_TRUE(l.is_locked());
    }
    EXPECT_TRUE(irq::local_enabled());
    SpinLockProtected<int> v(5);
    EXPECT_EQ(v.with([](int& x) { return ++x; }), 6);
  });
}

#ifndef FK_KTEST
TEST(HostBackend, TimerSignalOnAnotherThreadIsIgnored) {
  // A program embedding the kernel has other threads (libFuzzer's, a watchdog). The timer
  // interrupt is a signal; should a copy land on one of them, running interrupt handlers or a
  // task switch there — concurrently with the kernel thread — corrupts the scheduler and the
  // heap. Pelt a busy second host thread with the timer signal while tasks are preempted.
  std::atomic<bool> stop{false};
  std::atomic<pid_t> tid{0};
  std::atomic<u64> spins{0};
  std::thread other([&] {
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    while (!stop.load()) spins.fetch_add(1, std::memory_order_relaxed);
  });
  while (tid.load() == 0) std::this_thread::yield();
  std::atomic<u64> sent{0};
  std::atomic<bool> pelt{false};  // only while the kernel runs (its handler is installed)
  std::thread pelter([&] {
    while (!stop.load()) {
      if (pelt.load() && syscall(SYS_tgkill, getpid(), tid.load(), host::timer_signal()) == 0) sent.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  test::run_in_kernel([&] {
    pelt = true;
    BusyRun r = run_two_busy_tasks(300 * kNsPerMs);
    EXPECT_GT(r.preemptions, 10u);
    EXPECT_GT(r.a, 0u);
    EXPECT_GT(r.b, 0u);
  });
  stop = true;  // the handler stays installed: signals still in flight are harmless
  pelter.join();
  other.join();
  EXPECT_GT(sent.load(), 100u);
  EXPECT_GT(spins.load(), 0u);
}

// The interrupt signals are blocked while their handlers run: a second one landing inside a
// handler finds umk's own text there and could switch tasks while the code the first one
// interrupted (libc's malloc, holding its arena lock) had not finished — the next free() then
// waited for ever. Tasks run with them open, also those a handler switched to.
TEST(HostBackend, InterruptHandlersRunWithInterruptSignalsBlocked) {
  test::run_in_kernel([] {
    static std::atomic<int> fired{0};
    static std::atomic<int> fired_blocked{0};
    fired = 0;
    fired_blocked = 0;
    Timer timer([] {
      ++fired;
      if (host::interrupt_signals_blocked()) ++fired_blocked;
    });
    timer.arm_after(kNsPerMs);
    u64 give_up = monotonic_ns() + 3000 * kNsPerMs;
    while (fired.load() == 0 && monotonic_ns() < give_up) {}
    ASSERT_EQ(fired.load(), 1);
    EXPECT_EQ(fired_blocked.load(), 1);  // (it fired in the timer signal's handler)
    EXPECT_FALSE(host::interrupt_signals_blocked());

    // Two busy tasks look at their mask until the timer has switched between them 10 times.
    std::atomic<bool> stop{false};
    std::atomic<u64> looks{0}, blocked{0};
    auto watch = [&] {
      while (!stop.load()) {
        if (host::interrupt_signals_blocked()) blocked.fetch_add(1);
        looks.fetch_add(1);
        for (int i = 0; i < 2000; ++i) asm volatile("" ::: "memory");
      }
    };
    u64 preempt_before = sched::stats().preemptions;
    give_up = monotonic_ns() + 3000 * kNsPerMs;
    auto a = spawn(watch);
    auto b = spawn(watch);
    while (sched::stats().preemptions - preempt_before <= 10 && monotonic_ns() < give_up) {
      Task::sleep_for_ns(10 * kNsPerMs);
    }
    stop = true;
    a->join();
    b->join();
    EXPECT_GT(sched::stats().preemptions - preempt_before, 10u);
    EXPECT_GT(looks.load(), 100u);
    EXPECT_EQ(blocked.load(), 0u);
  });
}
#endif
