#include <ostd/boot.h>

namespace ostd {

namespace detail {
BootInfo& mutable_boot_info() {
  static BootInfo info;
  return info;
}
}  // namespace detail

const BootInfo& boot_info() { return detail::mutable_boot_info(); }

}  // namespace ostd
