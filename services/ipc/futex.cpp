// futex: WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, REQUEUE, CMP_REQUEUE, WAKE_OP, as Linux's futex(2), and
// futex_waitv(2), which waits on up to 128 words at once.
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
// Requeueing moves waiters between keys: each waiter sleeps on a wait queue of its own. A
// futex_waitv waiter has one entry per word of its vector, each on its own key; a wake takes the
// entry it chose and records its index (the highest, when several wakes meet one waiter, as
// Linux's futex_unqueue_multiple answers), and the waiter takes its other entries off when it
// returns.
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
#include "time/clock.h"
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
  int woken = -1;    // the index of the entry a wake took, or -1
  usize queued = 0;  // its entries still in the table (a woken single waiter has none left)
};

// One of a waiter's places in the table: `index` is the word's position in a futex_waitv vector.
struct Entry {
  std::shared_ptr<Waiter> waiter;
  u32 index = 0;
};

struct Table {
  ostd::Mutex lock;
  std::map<Key, std::vector<Entry>> queues;  // oldest first
};

Table& table() {
  static Table t;
  return t;
}

// Marks the key of a futex not asked to be private that lies in private memory: Linux keys it
// by (mm, address) too, but apart from FUTEX_PRIVATE_FLAG's keys (FUT_OFF_MMSHARED), so a
// private wake never meets a shared waiter on the same word, nor the other way round.
constexpr u64 kSharedInPrivate = u64{1} << 63;

// The key of the futex word at `addr` of process `p`: private when asked for; otherwise the
// shared object's when the memory is MAP_SHARED, else the address space's (marked).
Key key_of(Process& p, ostd::Vaddr addr, bool private_flag) {
  if (private_flag) return Key{p.vm.get(), addr, p.vm};
  if (p.mm) {
    if (auto shared = p.mm->shared_object_at(addr)) {
      const void* id = shared->first.get();
      return Key{id, shared->second, std::move(shared->first)};
    }
  }
  return Key{p.vm.get(), addr | kSharedInPrivate, p.vm};
}

// key_of for a futex a program names, with what Linux's get_futex_key refuses for one that is not
// private: an address with nothing mapped, and a read-only private page (it never changes, so
// waiting on it makes no sense).
Result<Key> futex_key(Process& p, ostd::Vaddr addr, bool private_flag) {
  if (!private_flag && p.mm) {
    auto prot = p.mm->protection_at(addr);
    if (!prot || (*prot & kProtRead) == 0) return Errno::efault;
    if ((*prot & kProtWrite) == 0 && !p.mm->shared_object_at(addr)) return Errno::efault;
  }
  return key_of(p, addr, private_flag);
}

// Wakes up to n waiters of k whose bitset meets `bitset`, oldest first. Caller holds the lock.
int wake_locked(Table& tb, const Key& k, int n, u32 bitset) {
  auto it = tb.queues.find(k);
  if (it == tb.queues.end() || n <= 0) return 0;
  int woken = 0;
  auto& q = it->second;
  for (auto e = q.begin(); e != q.end() && woken < n;) {
    Waiter& w = *e->waiter;
    if ((w.bitset & bitset) == 0) {
      ++e;
      continue;
    }
    w.woken = std::max(w.woken, static_cast<int>(e->index));
    --w.queued;
    (void)w.wq.wake_all();
    e = q.erase(e);
    ++woken;
  }
  if (q.empty()) tb.queues.erase(it);
  return woken;
}

// Takes w's entries off the queue of `it`, erasing the queue when it empties; returns the next.
// Caller holds the lock.
std::map<Key, std::vector<Entry>>::iterator dequeue_from(Table& tb, std::map<Key, std::vector<Entry>>::iterator it,
                                                         Waiter& w) {
  w.queued -= std::erase_if(it->second, [&](const Entry& e) { return e.waiter.get() == &w; });
  return it->second.empty() ? tb.queues.erase(it) : std::next(it);
}

// Takes every entry of w still queued off the table: on the keys it was queued on, or on those a
// requeue moved it to (so all keys are looked at, and only when some entry is left). Caller holds
// the lock.
void dequeue_locked(Table& tb, Waiter& w) {
  for (auto it = tb.queues.begin(); it != tb.queues.end() && w.queued > 0;) it = dequeue_from(tb, it, w);
}

// One word to wait on: its address, the value expected there, and its key.
struct WaitWord {
  ostd::Vaddr addr = 0;
  u32 val = 0;
  Key key;
};

// Waits until a wake takes one of the words' entries; returns its index (the highest when several
// wakes came). EAGAIN when a word no longer holds its value, ETIMEDOUT at the monotonic
// `deadline`, ERESTARTSYS for a signal.
Result<long> futex_wait_words(Thread& t, const std::vector<WaitWord>& words, std::optional<u64> deadline, u32 bitset) {
  Table& tb = table();
  auto w = std::make_shared<Waiter>();
  w->bitset = bitset;
  {
    ostd::MutexGuard g(tb.lock);
    for (usize i = 0; i < words.size(); ++i) {
      tb.queues[words[i].key].push_back(Entry{w, static_cast<u32>(i)});
      ++w->queued;
    }
    // Compared after queueing: a waker that changed a word and woke after this read finds w.
    for (const WaitWord& word : words) {
      Result<u32> cur = ostd::UserPtr<u32>(word.addr).read(t.vm());
      if (cur.is_error() || cur.value() != word.val) {
        // Still on the keys it was queued on (nothing ran in between): only those are looked at.
        for (const WaitWord& queued : words) {
          if (auto it = tb.queues.find(queued.key); it != tb.queues.end()) dequeue_from(tb, it, *w);
        }
        return cur.is_error() ? cur.error() : Errno::eagain;
      }
    }
  }
  std::optional<u64> timeout;
  if (deadline) {
    u64 now = ostd::monotonic_ns();
    timeout = *deadline > now ? *deadline - now : 0;
  }
  Result<void> r = t.wait_interruptible(
      w->wq, [&] { return w->woken >= 0; }, timeout);
  ostd::MutexGuard g(tb.lock);
  dequeue_locked(tb, *w);
  if (w->woken >= 0) return w->woken;  // woken, whatever else happened (as Linux)
  if (r.is_error()) return r.error();
  return Errno::eintr;
}

Result<long> futex_wait(Thread& t, ostd::Vaddr addr, u32 val, std::optional<u64> deadline, u32 bitset,
                        bool private_flag) {
  if ((addr & 3) != 0) return Errno::einval;
  Key k = TRY(futex_key(t.process(), addr, private_flag));
  TRY(futex_wait_words(t, {WaitWord{addr, val, std::move(k)}}, deadline, bitset));
  return 0;
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

// futex_waitv(waiters, nr_futexes, flags, timeout, clockid): the timeout is absolute on
// CLOCK_MONOTONIC or CLOCK_REALTIME; each entry is { u64 val; u64 uaddr; u32 flags; u32
// reserved; } with FUTEX2_SIZE_U32 and optionally FUTEX2_PRIVATE.
Result<long> sys_futex_waitv(Thread& t, const SyscallArgs& a) {
  constexpr u32 kMaxWords = 128, kSizeMask = 3, kSizeU32 = 2, kNuma = 4, kMpol = 8, kPrivate = 128;
  constexpr u32 kValidFlags = kSizeMask | kNuma | kMpol | kPrivate;
  struct RawWaiter {
    u64 val;
    u64 uaddr;
    u32 flags;
    u32 reserved;
    OSTD_POD(RawWaiter, val, uaddr, flags, reserved);
  };
  const ostd::Vaddr vec = a[0];
  const u32 count = a.as_u32(1);
  if (a.as_u32(2) != 0 || count == 0 || count > kMaxWords || vec == 0) return Errno::einval;
  std::optional<u64> deadline;
  if (a[3] != 0) {
    const int clock = a.as_int(4);
    if (clock != clk::kRealtime && clock != clk::kMonotonic) return Errno::einval;
    auto ts = TRY(ostd::UserPtr<abi::Timespec>(a[3]).read(t.vm()));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno::einval;
    u64 at = static_cast<u64>(ts.tv_sec) * ostd::kNsPerSec + static_cast<u64>(ts.tv_nsec);
    u64 now = clock == clk::kRealtime ? ostd::realtime_ns() : ostd::monotonic_ns();
    deadline = ostd::monotonic_ns() + (at > now ? at - now : 0);
  }
  // As Linux: every entry is read and checked first, then the addresses, then (queued) the values.
  std::vector<RawWaiter> raws;
  raws.reserve(count);
  for (u32 i = 0; i < count; ++i) {
    auto raw = TRY(ostd::UserPtr<RawWaiter>(vec + i * sizeof(RawWaiter)).read(t.vm()));
    // Only 32-bit words; the value must fit the word.
    if ((raw.flags & ~kValidFlags) != 0 || raw.reserved != 0) return Errno::einval;
    if ((raw.flags & kSizeMask) != kSizeU32 || raw.val > 0xffffffffULL) return Errno::einval;
    raws.push_back(raw);
  }
  std::vector<WaitWord> words;
  words.reserve(count);
  for (const RawWaiter& raw : raws) {
    if ((raw.uaddr & 3) != 0) return Errno::einval;
    // FUTEX2_NUMA: the next word names the node (-1: any); there is node 0 only.
    if ((raw.flags & kNuma) != 0) {
      const u32 node = TRY(ostd::UserPtr<u32>(raw.uaddr + 4).read(t.vm()));
      if (node != 0xffffffffu && node != 0) return Errno::einval;
    }
    Key k = TRY(futex_key(t.process(), raw.uaddr, (raw.flags & kPrivate) != 0));
    words.push_back(WaitWord{raw.uaddr, static_cast<u32>(raw.val), std::move(k)});
  }
  return futex_wait_words(t, words, deadline, kBitsetAll);
}

int clamp_count(u32 v) { return static_cast<int>(std::min<u32>(v, 0x7fffffff)); }

// FUTEX_WAKE_OP's encoded operation: applies op to *uaddr2 atomically (in the program's view of
// memory) and says whether the old value passes the comparison. ENOSYS for unknown op or cmp.
Result<bool> futex_atomic_op(Thread& t, ostd::Vaddr uaddr2, u32 encoded) {
  constexpr u32 kSet = 0, kAdd = 1, kOr = 2, kAndn = 3, kXor = 4, kOpargShift = 8;
  u32 op = (encoded >> 28) & 0xf;
  const u32 cmp = (encoded >> 24) & 0xf;
  auto sext12 = [](u32 v) { return static_cast<ostd::i32>(v << 20) >> 20; };
  ostd::i32 oparg = sext12((encoded >> 12) & 0xfff);
  const ostd::i32 cmparg = sext12(encoded & 0xfff);
  if ((op & kOpargShift) != 0) {
    oparg = static_cast<ostd::i32>(u32{1} << (static_cast<u32>(oparg) & 31));  // out of range: masked, as Linux
    op &= ~kOpargShift;
  }
  if (op > kXor || cmp > 5) return Errno::enosys;
  u32 old = TRY(ostd::UserPtr<u32>(uaddr2).read(t.vm()));
  for (;;) {
    const auto arg = static_cast<u32>(oparg);
    const u32 next = op == kSet    ? arg
                     : op == kAdd  ? old + arg
                     : op == kOr   ? old | arg
                     : op == kAndn ? old & ~arg
                                   : old ^ arg;
    const u32 seen = TRY(t.vm().compare_exchange_u32(uaddr2, old, next));
    if (seen == old) break;
    old = seen;
  }
  const auto o = static_cast<ostd::i32>(old);
  switch (cmp) {
    case 0: return o == cmparg;
    case 1: return o != cmparg;
    case 2: return o < cmparg;
    case 3: return o <= cmparg;
    case 4: return o > cmparg;
    default: return o >= cmparg;
  }
}

Result<long> sys_futex(Thread& t, const SyscallArgs& a) {
  constexpr int kWait = 0, kWake = 1, kRequeue = 3, kCmpRequeue = 4, kWakeOp = 5, kWaitBitset = 9, kWakeBitset = 10,
                kPrivate = 128, kRealtimeClock = 256;
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
      Key k = TRY(futex_key(t.process(), addr, private_flag));
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
    case kWakeOp: {
      // Wakes up to val waiters of uaddr, changes *uaddr2 by the encoded op, and when its old
      // value passes the comparison wakes up to val2 (in the timeout argument) of uaddr2.
      ostd::Vaddr addr2 = a[4];
      if ((addr & 3) != 0 || (addr2 & 3) != 0) return Errno::einval;
      Key k1 = TRY(futex_key(t.process(), addr, private_flag));
      Key k2 = TRY(futex_key(t.process(), addr2, private_flag));
      Table& tb = table();
      ostd::MutexGuard g(tb.lock);
      const bool pass = TRY(futex_atomic_op(t, addr2, a.as_u32(5)));
      long n = wake_locked(tb, k1, clamp_count(val), kBitsetAll);
      if (pass) n += wake_locked(tb, k2, clamp_count(static_cast<u32>(a[3])), kBitsetAll);
      return n;
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

void register_futex_syscalls(SyscallTable& t) {
  t.set(x86_64::Sysno::futex, &sys_futex);
  t.set(x86_64::Sysno::futex_waitv, &sys_futex_waitv);
}

}  // namespace services
