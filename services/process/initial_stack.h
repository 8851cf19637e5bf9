// services/process/initial_stack.h — the System V initial process stack.
#pragma once

#include <string>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/vm_space.h>
#include <ostd/types.h>

namespace services {

struct ExecInfo {
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  ostd::Vaddr entry;
  ostd::Vaddr phdr;
  ostd::u16 phent;
  ostd::u16 phnum;
  ostd::Vaddr vdso = 0;  // AT_SYSINFO_EHDR (0: none)
  ostd::Vaddr base = 0;  // AT_BASE: where the dynamic loader was placed (0: none)
};

/// Builds argv, envp, auxv and the AT_RANDOM bytes below `stack_top` and returns the stack
/// pointer the program starts with (16-byte aligned, pointing at argc).
ostd::Result<ostd::Vaddr> build_initial_stack(ostd::VmSpace& vm, ostd::Vaddr stack_top,
                                              const ExecInfo& info);

}  // namespace services
