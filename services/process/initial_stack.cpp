// The System V x86-64 initial process stack, laid out as Linux's create_elf_tables does.
#include <array>

#include <ostd/bytes.h>
#include <ostd/cpu.h>
#include <ostd/mm/io.h>

#include "abi/elf.h"
#include "process/initial_stack.h"
#include "process/internal.h"
#include "signal/signal.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u64;
using ostd::usize;
using ostd::Vaddr;

namespace {

// Pushes bytes below sp; returns their address.
Result<Vaddr> push_bytes(ostd::VmSpace& vm, Vaddr& sp, std::span<const ostd::u8> bytes) {
  if (bytes.size() > sp) return Errno::e2big;
  sp -= bytes.size();
  TRY(vm.write_bytes(sp, bytes));
  return sp;
}

Result<Vaddr> push_string(ostd::VmSpace& vm, Vaddr& sp, const std::string& s) {
  std::vector<ostd::u8> b(s.begin(), s.end());
  b.push_back(0);
  return push_bytes(vm, sp, b);
}

// Pushes strings so that they lie in order, contiguous; returns their addresses.
Result<std::vector<Vaddr>> push_strings(ostd::VmSpace& vm, Vaddr& sp, const std::vector<std::string>& strings) {
  std::vector<Vaddr> at(strings.size());
  for (usize i = strings.size(); i-- > 0;) at[i] = TRY(push_string(vm, sp, strings[i]));
  return at;
}

}  // namespace

Result<StackImage> build_initial_stack(ostd::VmSpace& vm, Vaddr stack_top, const ExecInfo& info) {
  StackImage img;
  Vaddr sp = stack_top - sizeof(u64);  // Linux leaves a null word at the very top
  TRY(ostd::UserPtr<u64>(sp).write(vm, 0));
  Vaddr execfn_at = TRY(push_string(vm, sp, info.execfn));
  std::vector<Vaddr> envp_at = TRY(push_strings(vm, sp, info.envp));
  img.env_start = sp;
  img.arg_end = sp;
  std::vector<Vaddr> argv_at = TRY(push_strings(vm, sp, info.argv));
  img.arg_start = sp;
  img.env_end = execfn_at;
  Vaddr platform_at = TRY(push_string(vm, sp, "x86_64"));
  std::array<u64, 2> rnd{next_random(), next_random()};
  Vaddr random_at = TRY(push_bytes(vm, sp, ostd::bytes_of(rnd)));

  const ostd::CpuDescription& cpu = ostd::cpu_description();
  std::vector<u64>& auxv = img.auxv;
  auto aux = [&](u64 key, u64 value) {
    auxv.push_back(key);
    auxv.push_back(value);
  };
  if (info.vdso != 0) aux(elf::kAtSysinfoEhdr, info.vdso);
  aux(elf::kAtMinsigstksz, signal_frame_max_size());
  aux(elf::kAtHwcap, cpu.hwcap);
  aux(elf::kAtPagesz, ostd::kPageSize);
  aux(elf::kAtClktck, 100);
  aux(elf::kAtPhdr, info.phdr);
  aux(elf::kAtPhent, info.phent);
  aux(elf::kAtPhnum, info.phnum);
  aux(elf::kAtBase, info.base);
  aux(elf::kAtFlags, 0);
  aux(elf::kAtEntry, info.entry);
  aux(elf::kAtUid, info.uid);
  aux(elf::kAtEuid, info.euid);
  aux(elf::kAtGid, info.gid);
  aux(elf::kAtEgid, info.egid);
  aux(elf::kAtSecure, info.secure ? 1 : 0);
  aux(elf::kAtRandom, random_at);
  aux(elf::kAtHwcap2, cpu.hwcap2);
  aux(elf::kAtExecfn, execfn_at);
  aux(elf::kAtPlatform, platform_at);
  aux(elf::kAtNull, 0);

  std::vector<u64> words;
  words.push_back(argv_at.size());
  for (Vaddr a : argv_at) words.push_back(a);
  words.push_back(0);
  for (Vaddr e : envp_at) words.push_back(e);
  words.push_back(0);
  for (u64 v : auxv) words.push_back(v);
  usize bytes = words.size() * sizeof(u64);
  if (bytes + 16 > sp) return Errno::e2big;
  sp = (sp - bytes) & ~Vaddr{15};  // rsp % 16 == 0 at the entry point
  TRY(vm.write_bytes(sp, ostd::bytes_of_span(std::span<const u64>(words))));
  img.sp = sp;
  return img;
}

}  // namespace services
