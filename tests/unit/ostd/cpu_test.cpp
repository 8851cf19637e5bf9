#include <array>
#include <fstream>
#include <string>

#include "harness.h"
#include <ostd/cpu.h>
#include <ostd/user_mode.h>

using namespace ostd;

namespace {

// The value of the first line of the host's /proc/cpuinfo named `key`.
std::string host_cpuinfo(const std::string& key) {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind(key, 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos || line.find_first_not_of(" \t", key.size()) != colon) continue;
    return line.substr(std::min(line.size(), colon + 2));
  }
  return {};
}

}  // namespace

TEST(Cpu, DescriptionIsTheHostsCpu) {
  test::run_in_kernel([] {
    const CpuDescription& d = cpu_description();
    EXPECT_EQ(d.vendor, host_cpuinfo("vendor_id"));
    EXPECT_EQ(d.model_name, host_cpuinfo("model name"));
    EXPECT_EQ(std::to_string(d.family), host_cpuinfo("cpu family"));
    std::string flags = " " + d.flags + " ";
    for (const char* f : {" fpu ", " tsc ", " sse2 ", " lm "}) EXPECT_NE(flags.find(f), std::string::npos) << f;
    // AT_HWCAP is CPUID.1:EDX as the host kernel passes it: FPU, TSC, CX8, CMOV, FXSR, SSE, SSE2.
    for (int bit : {0, 4, 8, 15, 24, 25, 26}) EXPECT_NE(d.hwcap & (u64{1} << bit), 0u) << "bit " << bit;
    EXPECT_EQ(d.hwcap2 & ~u64{3}, 0u);  // RING3MWAIT and FSGSBASE are the only bits there are
    EXPECT_GE(d.virt_bits, 48u);
    EXPECT_EQ(&d, &cpu_description());  // described once
  });
}

TEST(Cpu, EntropyIsNeitherZeroNorRepeated) {
  test::run_in_kernel([] {
    std::array<u8, 32> a{}, b{};
    fill_entropy(a);
    fill_entropy(b);
    EXPECT_NE(a, b);
    EXPECT_NE(a, (std::array<u8, 32>{}));
    std::array<u8, 3> odd{};  // lengths that are not a multiple of 8
    for (int i = 0; i < 8 && odd == std::array<u8, 3>{}; ++i) fill_entropy(odd);
    EXPECT_NE(odd, (std::array<u8, 3>{}));
  });
}

TEST(Cpu, BarrierOnEveryUserCpuWorksOnThisHost) {
  // The host kernel's MEMBARRIER_CMD_GLOBAL (every supported kernel has it).
  test::run_in_kernel([] { EXPECT_TRUE(UserMode::barrier_all_user_cpus().is_ok()); });
}
