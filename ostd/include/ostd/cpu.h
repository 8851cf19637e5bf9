// ostd/cpu.h — what the processor is and what it offers user programs, and the machine's entropy.
//
// The description is what Linux shows in /proc/cpuinfo and passes in the auxiliary vector: the
// flags use Linux's names, AT_HWCAP is CPUID.1:EDX, AT_HWCAP2 has HWCAP2_FSGSBASE (bit 1) only
// when user code may run RDFSBASE/WRFSBASE and the kernel follows it. On the host backend the
// model and flags are the host's own (its /proc/cpuinfo); on bare metal they come from CPUID.
#pragma once

#include <span>
#include <string>

#include <ostd/types.h>

namespace ostd {

struct CpuDescription {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD"
  u32 family = 0;
  u32 model = 0;
  u32 stepping = 0;
  std::string model_name;  // the brand string
  std::string flags;       // Linux's flag names, space-separated
  u32 mhz = 0;             // 0 when unknown
  u32 cache_kb = 0;        // the last level's size, 0 when unknown
  u32 phys_bits = 46;
  u32 virt_bits = 48;
  u32 clflush_bytes = 64;
  u64 hwcap = 0;   // AT_HWCAP
  u64 hwcap2 = 0;  // AT_HWCAP2
};

/// The boot CPU, found once (every CPU is described alike).
const CpuDescription& cpu_description();

/// Fills `out` with bytes from the machine's entropy source (host: the host kernel's getrandom;
/// x86: RDRAND when the CPU has it, else time-stamp-counter jitter). For seeding the kernel's
/// generators, not for bulk use: it may cost a microsecond per call.
void fill_entropy(std::span<u8> out);

}  // namespace ostd
