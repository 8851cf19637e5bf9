// After a boot of the kernel in a fuzz target: whether every stub process is gone.
#pragma once

#include <ostd/host/host.h>
#include <ostd/task.h>
#include <ostd/time.h>

namespace fuzz {

/// run_kernel returns once init's work is done; tasks still tearing down an address space
/// (waiting for its stub to die) finish when the kernel runs again, so it runs again for up to
/// 2 s while a stub is left. True when none is.
inline bool stubs_gone(const ostd::host::Config& cfg) {
  if (!ostd::host::stub_pids().empty()) {
    // A kernel of its own, without the run's disks and shares (a disk image may be gone).
    ostd::host::Config reap = cfg;
    reap.disks.clear();
    reap.volumes.clear();
    (void)ostd::host::run_kernel(reap, {}, [] {
      ostd::u64 until = ostd::monotonic_ns() + 2 * ostd::kNsPerSec;
      while (!ostd::host::stub_pids().empty() && ostd::monotonic_ns() < until) {
        ostd::Task::sleep_for_ns(ostd::kNsPerMs);
      }
      return 0;
    });
  }
  return ostd::host::stub_pids().empty();
}

}  // namespace fuzz
