// The System V x86-64 initial process stack.
#include <array>

#include <ostd/bytes.h>
#include <ostd/mm/io.h>
#include <ostd/time.h>

#include "abi/elf.h"
#include "process/initial_stack.h"
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

// A per-boot pseudo-random source for AT_RANDOM until the random device lands.
u64 mix(u64 x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

}  // namespace

Result<Vaddr> build_initial_stack(ostd::VmSpace& vm, Vaddr stack_top, const ExecInfo& info) {
  Vaddr sp = stack_top;
  std::array<u64, 2> rnd{mix(ostd::monotonic_ns()), mix(ostd::realtime_ns() ^ stack_top)};
  Vaddr random_at = TRY(push_bytes(vm, sp, ostd::bytes_of(rnd)));
  std::string execfn = info.argv.empty() ? std::string() : info.argv[0];
  Vaddr execfn_at = TRY(push_string(vm, sp, execfn));
  Vaddr platform_at = TRY(push_string(vm, sp, "x86_64"));
  std::vector<Vaddr> envp_at;
  std::vector<Vaddr> argv_at;
  for (const std::string& e : info.envp) envp_at.push_back(TRY(push_string(vm, sp, e)));
  for (const std::string& a : info.argv) argv_at.push_back(TRY(push_string(vm, sp, a)));

  std::vector<u64> auxv = {
      elf::kAtPhdr,   info.phdr,  elf::kAtPhent, info.phent, elf::kAtPhnum,  info.phnum,
      elf::kAtPagesz, ostd::kPageSize, elf::kAtBase, info.base, elf::kAtFlags, 0,
      elf::kAtEntry,  info.entry, elf::kAtUid,   0,          elf::kAtEuid,   0,
      elf::kAtGid,    0,          elf::kAtEgid,  0,          elf::kAtHwcap,  0,
      elf::kAtClktck, 100,        elf::kAtSecure, 0,         elf::kAtRandom, random_at,
      elf::kAtExecfn, execfn_at,  elf::kAtPlatform, platform_at,
      elf::kAtMinsigstksz, signal_frame_max_size()};
  if (info.vdso != 0) {
    auxv.push_back(elf::kAtSysinfoEhdr);
    auxv.push_back(info.vdso);
  }
  auxv.push_back(elf::kAtNull);
  auxv.push_back(0);
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
  for (usize i = 0; i < words.size(); ++i) {
    TRY(ostd::UserPtr<u64>(sp + i * sizeof(u64)).write(vm, words[i]));
  }
  return sp;
}

}  // namespace services
