#include "abi/x86_64/syscalls.h"

#include <ostd/enforce.h>

namespace services::x86_64 {

std::string_view syscall_name(ostd::u64 nr) {
  switch (nr) {
#define FK_NAME(n, name) \
  case (n): return #name;
    FK_X86_64_SYSCALLS(FK_NAME)
#undef FK_NAME
    default: return "?";
  }
}

}  // namespace services::x86_64
