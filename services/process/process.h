// services/process/process.h — a user process (a single-threaded first cut; the full process
// model with fork, threads, signals and wait lands with the Linux ABI issue).
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <ostd/mm/vm_space.h>
#include <ostd/types.h>
#include <ostd/user_mode.h>

namespace services {

struct Process {
  ostd::i32 pid = 1;
  std::shared_ptr<ostd::VmSpace> vm;
  ostd::Vaddr brk_start = 0;
  ostd::Vaddr brk = 0;
  std::optional<int> exit_status;  // shell-style status once the process has ended
  std::set<ostd::u64> reported_unknown;
};

/// Builds the initial stack (argv, envp, auxv, AT_RANDOM bytes) below `stack_top` in p.vm and
/// returns the user stack pointer to start with.
struct ExecInfo {
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  ostd::Vaddr entry;
  ostd::Vaddr phdr;
  ostd::u16 phent;
  ostd::u16 phnum;
};
ostd::Result<ostd::Vaddr> build_initial_stack(ostd::VmSpace& vm, ostd::Vaddr stack_top,
                                              const ExecInfo& info);

}  // namespace services
