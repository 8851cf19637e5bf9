// Running out of memory in a page fault (Linux's pagefault_out_of_memory): instead of failing
// the faulting process, kill the process that holds the most memory and let the fault retry.
#include <ostd/log.h>
#include <ostd/mm/frame.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include "fs/vfs.h"
#include "process/internal.h"
#include "signal/signal.h"

#include <ostd/enforce.h>

namespace services {

namespace {
constexpr ostd::Logger kLog{"oom"};
constexpr ostd::u64 kWaitForVictimNs = 2 * ostd::kNsPerSec;
}  // namespace

bool oom_kill_for(Thread& faulting) {
  // Address spaces of exited processes being torn down: their frames come back first.
  if (wait_for_address_space_releases()) return true;
  // Then the page caches of disk files (clean pages nobody maps; dirty ones written back).
  const ostd::usize before = ostd::frame_stats().free_frames;
  reclaim_page_caches();
  if (ostd::frame_stats().free_frames > before) return true;
  std::shared_ptr<Process> victim;
  ostd::usize most = 0;
  for (auto& p : pid_table().all_processes()) {
    // Init is never chosen (as on Linux); neither is a process already on its way out.
    if (p->pid() == 1 || !p->vm || p->group_exiting ||
        (p->state != Process::State::Running && p->state != Process::State::Stopped)) {
      continue;
    }
    ostd::usize pages = p->vm->mapped_pages();
    if (pages > most) {
      most = pages;
      victim = p;
    }
  }
  if (!victim || victim.get() == &faulting.process()) return false;
  kLog.warn("out of memory: killed process {} ({}), {} pages, for a fault of process {}", victim->pid(), victim->comm,
            most, faulting.process().pid());
  group_exit(*victim, kSigKill);
  // Its memory comes back when its threads have run to their exit.
  ostd::u64 deadline = ostd::monotonic_ns() + kWaitForVictimNs;
  while ((victim->state == Process::State::Running || victim->state == Process::State::Stopped) &&
         ostd::monotonic_ns() < deadline) {
    ostd::Task::sleep_for_ns(ostd::kNsPerMs);
  }
  return true;
}

}  // namespace services
