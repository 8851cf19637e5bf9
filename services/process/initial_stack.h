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
  std::string execfn;  // AT_EXECFN: the path execve was given
  ostd::Vaddr entry;
  ostd::Vaddr phdr;
  ostd::u16 phent;
  ostd::u16 phnum;
  ostd::Vaddr vdso = 0;  // AT_SYSINFO_EHDR (0: none)
  ostd::Vaddr base = 0;  // AT_BASE: where the dynamic loader was placed (0: none)
  ostd::u32 uid = 0, euid = 0, gid = 0, egid = 0;
  bool secure = false;  // AT_SECURE: a set-ID exec
};

/// Where the strings and the auxiliary vector ended up: what /proc/PID/{cmdline,environ,auxv}
/// show (Linux keeps the same in its mm).
struct StackImage {
  ostd::Vaddr sp = 0;  // 16-byte aligned, pointing at argc
  ostd::Vaddr arg_start = 0, arg_end = 0;
  ostd::Vaddr env_start = 0, env_end = 0;
  std::vector<ostd::u64> auxv;  // key/value pairs up to and including AT_NULL
};

/// Builds the stack as Linux does, below `stack_top`: at the top the AT_EXECFN string, below it
/// the argument and environment strings (argv[0] lowest, each set contiguous), the AT_PLATFORM
/// string, the 16 AT_RANDOM bytes, then argc, argv[], envp[] and the auxiliary vector.
ostd::Result<StackImage> build_initial_stack(ostd::VmSpace& vm, ostd::Vaddr stack_top, const ExecInfo& info);

}  // namespace services
