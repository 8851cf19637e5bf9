// futex: WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, REQUEUE, CMP_REQUEUE, as Linux's futex(2).
//
// Keys. A private futex (FUTEX_PRIVATE_FLAG, or any address in private memory) is the pair
// (address space, address); a shared one in a MAP_SHARED area is (the shared pages object, the
// offset in it), so processes that map the same memory at different addresses meet on it (as
// Linux keys by inode and page index). A waiter holds a reference to its key's object.
//
// Waiters. One table under one sleeping lock. A waiter is queued on its key under the lock
// *before* the futex word is compared, so a FUTEX_WAKE that follows the word's change always
// finds it; a wake marks exactly the waiters it chose (FIFO, matching bitset) as woken and
// takes them off the queue, so a wake-up cannot be taken by a thread that came later.
// Requeueing moves waiters between keys: each waiter sleeps on a wait queue of its own.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/time.h>

#include "abi/x86_64/stat.h"
#include "process/internal.h"
#include "syscall/table.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::i64;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::usize;

namespace {

constexpr u32 kBitsetAll = ~u32{0};

// (identity of the memory, address or offset in it); `owner` keeps the identity alive.
struct Key {
  const void* id = nullptr;
  u64 offset = 0;
  std::shared_ptr<const void> owner;
  bool operator<(const Key& o) const { return id != o.id ? std::less<>()(id, o.id) : offset < o.offset; }
};

struct Waiter {
  ostd::WaitQueue wq;
  u32 bitset = kBitsetAll;
  bool woken = false;
};

struct Table {
  ostd::Mutex lock;
  std::map<Key, std::vector<std::shared_ptr<Waiter>>> queues;  // oldest first
};

Table& table() {
  static Table t;
  return t;
}

// The key of the futex word at `addr` of process `p`: private when asked for or when the memory
// is private, else the shared object's.
Key key_of(Process& p, ostd::Vaddr addr, bool private_flag) {
  if (!private_flag && p.mm) {
    if (auto shared = p.mm->shared_object_at(addr)) {
      const void* id = shared->first.get();
      return Key{id, shared->second, std::move(shared->first)};
    }
  }
  return Key{p.vm.get(), addr, p.vm};
}

// Wakes up to n waiters of k whose bitset meets `bitset`, oldest first. Caller holds the lock.
int wake_locked(Table& tb, const Key& k, int n, u32 bitset) {
  auto it = tb.queues.find(k);
  if (it == tb.queues.end() || n <= 0) return 0;
  int woken = 0;
  auto& q = it->second;
  for (auto w = q.begin(); w != q.end() && woken < n;) {
    if (((*w)->bitset & bitset) == 0) {
      ++w;
      continue;
    }
    (*w)->woken = true;
    (void)(*w)->wq.wake_all();
    w = q.erase(w);
    ++woken;
  }
  if (q.empty()) tb.queues.erase(it);
  return woken;
}

// Removes w from k's queue if it is still there (timed out or interrupted). Caller holds the lock.
void dequeue_locked(Table& tb, const Key& k, const std::shared_ptr<Waiter>& w) {
  auto it = tb.queues.find(k);
  if (it == tb.queues.end()) return;
  std::erase(it->second, w);
  if (it->second.empty()) tb.queues.erase(it);
}

Result<long> futex_wait(Thread& t, ostd::Vaddr addr, u32 val, std::optional<u64> deadline, u32 bitset,
                        bool private_flag) {
  if ((addr & 3) != 0) return Errno::einval;
  Key k = key_of(t.process(), addr, private_flag);
  Table& tb = table();
  auto w = std::make_shared<Waiter>();
  w->bitset = bitset;
  {
    ostd::MutexGuard g(tb.lock);
    tb.queues[k].push_back(w);
    // Compared after queueing: a waker that changed the word and woke after this read finds w.
    Result<u32> cur = ostd::UserPtr<u32>(addr).read(t.vm());
    if (cur.is_error() || cur.value() != val) {
      dequeue_locked(tb, k, w);
      return cur.is_error() ? cur.error() : Errno::eagain;
    }
  }
  std::optional<u64> timeout;
  if (deadline) {
    u64 now = ostd::monotonic_ns();
    timeout = *deadline > now ? *deadline - now : 0;
  }
  Result<void> r = t.wait_interruptible(w->wq, [&] { return w->woken; }, timeout);
  ostd::MutexGuard g(tb.lock);
  if (w->woken) return 0;  // woken, whatever else happened (Linux's futex_wait says 0 too)
  // Still queued: on k, or on the key a requeue moved it to. Find it.
  for (auto it = tb.queues.begin(); it != tb.queues.end(); ++it) {
    auto& q = it->second;
    if (std::find(q.begin(), q.end(), w) != q.end()) {
      std::erase(q, w);
      if (q.empty()) tb.queues.erase(it);
      break;
    }
  }
  if (r.is_error()) return r.error();
  return Errno::eintr;
}

// Wakes up to nwake waiters of `from`, then moves up to nrequeue of the rest to `to`; returns
// how many were woken or moved. Caller holds the lock.
long requeue_locked(Table& tb, const Key& from, const Key& to, int nwake, int nrequeue) {
  long n = wake_locked(tb, from, nwake, kBitsetAll);
  auto it = tb.queues.find(from);
  if (it == tb.queues.end() || nrequeue <= 0) return n;
  auto& src = it->second;
  if (!(from < to) && !(to < from)) {  // onto itself: they stay where they are
    return n + std::min<long>(static_cast<long>(src.size()), nrequeue);
  }
  auto& dst = tb.queues[to];
  auto take = std::min<usize>(src.size(), static_cast<usize>(nrequeue));
  dst.insert(dst.end(), src.begin(), src.begin() + static_cast<std::ptrdiff_t>(take));
  src.erase(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(take));
  long moved = static_cast<long>(take);
  if (src.empty()) tb.queues.erase(from);
  return n + moved;
}

int clamp_count(u32 v) { return static_cast<int>(std::min<u32>(v, 0x7fffffff)); }

Result<long> sys_futex(Thread& t, const SyscallArgs& a) {
  constexpr int kWait = 0, kWake = 1, kRequeue = 3, kCmpRequeue = 4, kWaitBitset = 9,
                kWakeBitset = 10, kPrivate = 128, kRealtimeClock = 256;
  ostd::Vaddr addr = a[0];
  const bool private_flag = (a.as_int(1) & kPrivate) != 0;
  int op = a.as_int(1) & ~(kPrivate | kRealtimeClock);
  u32 val = a.as_u32(2);
  switch (op) {
    case kWait:
    case kWaitBitset: {
      u32 bitset = op == kWaitBitset ? a.as_u32(5) : kBitsetAll;
      if (bitset == 0) return Errno::einval;
      std::optional<u64> deadline;
      if (a[3] != 0) {
        auto ts = TRY(ostd::UserPtr<abi::Timespec>(a[3]).read(t.vm()));
        if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno::einval;
        u64 ns = static_cast<u64>(ts.tv_sec) * ostd::kNsPerSec + static_cast<u64>(ts.tv_nsec);
        if (op == kWait) {
          deadline = ostd::monotonic_ns() + ns;  // FUTEX_WAIT: relative
        } else {
          bool realtime = (a.as_int(1) & kRealtimeClock) != 0;
          u64 now = realtime ? ostd::realtime_ns() : ostd::monotonic_ns();
          deadline = ostd::monotonic_ns() + (ns > now ? ns - now : 0);
        }
      }
      return futex_wait(t, addr, val, deadline, bitset, private_flag);
    }
    case kWake:
    case kWakeBitset: {
      u32 bitset = op == kWakeBitset ? a.as_u32(5) : kBitsetAll;
      if (bitset == 0 || (addr & 3) != 0) return Errno::einval;
      Key k = key_of(t.process(), addr, private_flag);
      Table& tb = table();
      ostd::MutexGuard g(tb.lock);
      return wake_locked(tb, k, clamp_count(val), bitset);
    }
    case kRequeue:
    case kCmpRequeue: {
      ostd::Vaddr addr2 = a[4];
      if ((addr & 3) != 0 || (addr2 & 3) != 0) return Errno::einval;
      // val2 (the requeue count) rides in the timeout argument.
      i64 nrequeue = static_cast<i64>(a[3]);
      if (static_cast<int>(val) < 0 || static_cast<int>(nrequeue) < 0) return Errno::einval;
      Key from = key_of(t.process(), addr, private_flag);
      Key to = key_of(t.process(), addr2, private_flag);
      Table& tb = table();
      ostd::MutexGuard g(tb.lock);
      if (op == kCmpRequeue) {
        // Compared under the table's lock, as Linux compares under the bucket locks.
        u32 cur = TRY(ostd::UserPtr<u32>(addr).read(t.vm()));
        if (cur != a.as_u32(5)) return Errno::eagain;
      }
      return requeue_locked(tb, from, to, clamp_count(val), static_cast<int>(std::min<i64>(nrequeue, 0x7fffffff)));
    }
    default: return Errno::enosys;
  }
}

}  // namespace

int futex_wake_address(Process& p, ostd::Vaddr addr, int n) {
  if (!p.vm) return 0;
  // As Linux's exit path: a shared wake (no private flag), so a waiter in another process that
  // shares the memory is found too.
  Key k = key_of(p, addr, false);
  Table& tb = table();
  ostd::MutexGuard g(tb.lock);
  return wake_locked(tb, k, n, kBitsetAll);
}

void register_futex_syscalls(SyscallTable& t) { t.set(x86_64::Sysno::futex, &sys_futex); }

}  // namespace services
