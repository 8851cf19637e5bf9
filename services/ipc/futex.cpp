// futex: WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, REQUEUE, CMP_REQUEUE (private or shared keys are
// both keyed by address space and address for now).
#include <map>
#include <memory>

#include <ostd/mm/io.h>
#include <ostd/time.h>

#include "abi/x86_64/stat.h"
#include "process/internal.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;

namespace {

struct FutexQueue {
  ostd::WaitQueue wq;
  int waiters = 0;
  int tokens = 0;  // wake-ups handed out and not yet taken
};

using Key = std::pair<const ostd::VmSpace*, ostd::Vaddr>;

std::map<Key, std::shared_ptr<FutexQueue>>& queues() {
  static std::map<Key, std::shared_ptr<FutexQueue>> q;
  return q;
}

std::shared_ptr<FutexQueue> queue_for(const Key& k, bool create) {
  auto it = queues().find(k);
  if (it != queues().end()) return it->second;
  if (!create) return nullptr;
  auto q = std::make_shared<FutexQueue>();
  queues()[k] = q;
  return q;
}

void drop_if_idle(const Key& k) {
  auto it = queues().find(k);
  if (it != queues().end() && it->second->waiters == 0) queues().erase(it);
}

int wake(const Key& k, int n) {
  auto q = queue_for(k, false);
  if (!q || n <= 0) return 0;
  int woken = std::min(n, q->waiters - q->tokens);
  if (woken <= 0) return 0;
  q->tokens += woken;
  (void)q->wq.wake_all();
  return woken;
}

Result<long> futex_wait(Thread& t, ostd::Vaddr addr, u32 val, std::optional<u64> deadline) {
  if ((addr & 3) != 0) return Errno::einval;
  u32 cur = TRY(ostd::UserPtr<u32>(addr).read(t.vm()));
  if (cur != val) return Errno::eagain;
  Key k{&t.vm(), addr};
  auto q = queue_for(k, true);
  ++q->waiters;
  std::optional<u64> timeout;
  if (deadline) {
    u64 now = ostd::monotonic_ns();
    timeout = *deadline > now ? *deadline - now : 0;
  }
  Result<void> r = t.wait_interruptible(q->wq, [&] { return q->tokens > 0; }, timeout);
  --q->waiters;
  if (r.is_ok() && q->tokens > 0) {
    --q->tokens;
    drop_if_idle(k);
    return 0;
  }
  drop_if_idle(k);
  if (r.is_error() && r.error() == Errno::etimedout) return Errno::etimedout;
  return r.is_error() ? r.error() : Errno::eintr;
}

Result<long> sys_futex(Thread& t, const SyscallArgs& a) {
  constexpr int kWait = 0, kWake = 1, kRequeue = 3, kCmpRequeue = 4, kWaitBitset = 9,
                kWakeBitset = 10, kPrivate = 128, kRealtimeClock = 256;
  ostd::Vaddr addr = a[0];
  int op = a.as_int(1) & ~(kPrivate | kRealtimeClock);
  u32 val = a.as_u32(2);
  switch (op) {
    case kWait:
    case kWaitBitset: {
      if (op == kWaitBitset && a.as_u32(5) == 0) return Errno::einval;
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
      return futex_wait(t, addr, val, deadline);
    }
    case kWake:
    case kWakeBitset:
      if (op == kWakeBitset && a.as_u32(5) == 0) return Errno::einval;
      if ((addr & 3) != 0) return Errno::einval;
      return wake(Key{&t.vm(), addr}, static_cast<int>(std::min<u32>(val, 0x7fffffff)));
    case kRequeue:
    case kCmpRequeue: {
      if ((addr & 3) != 0 || (a[4] & 3) != 0) return Errno::einval;
      if (op == kCmpRequeue) {
        u32 cur = TRY(ostd::UserPtr<u32>(addr).read(t.vm()));
        if (cur != a.as_u32(5)) return Errno::eagain;
      }
      // Waking everyone is a correct (if less efficient) requeue: waiters re-check in user space.
      Key k{&t.vm(), addr};
      int n = wake(k, static_cast<int>(std::min<u32>(val, 0x7fffffff)));
      auto q = queue_for(k, false);
      if (q) {
        int rest = q->waiters - q->tokens;
        n += wake(k, rest);
      }
      return n;
    }
    default: return Errno::enosys;
  }
}

}  // namespace

int futex_wake_address(Process& p, ostd::Vaddr addr, int n) {
  if (!p.vm) return 0;
  return wake(Key{p.vm.get(), addr}, n);
}

void register_futex_syscalls(SyscallTable& t) { t.set(x86_64::Sysno::futex, &sys_futex); }

}  // namespace services
