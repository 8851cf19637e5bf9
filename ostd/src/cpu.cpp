// ostd/cpu.h: the backend describes the CPU once; entropy comes straight from the backend.
#include <ostd/arch/backend.h>
#include <ostd/cpu.h>

namespace ostd {

const CpuDescription& cpu_description() {
  static const CpuDescription d = arch::describe_cpu();
  return d;
}

void fill_entropy(std::span<u8> out) { arch::fill_entropy(out); }

}  // namespace ostd
