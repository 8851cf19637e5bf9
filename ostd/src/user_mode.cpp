#include "internal.h"
#include <ostd/user_mode.h>

namespace ostd {

Result<UserMode> UserMode::create(std::shared_ptr<VmSpace> vm, const UserContext& ctx) {
  UserMode um;
  um.thread_ = TRY(arch::create_user_thread(*vm));
  um.vm_ = std::move(vm);
  um.ctx_ = ctx;
  return um;
}

UserMode::UserMode(UserMode&&) noexcept = default;
UserMode& UserMode::operator=(UserMode&&) noexcept = default;
UserMode::~UserMode() {
  thread_.reset();  // the thread goes before its address space reference
}

ReturnReason UserMode::execute_impl(void* pred, bool (*call)(void*)) {
  return arch::user_execute(*thread_, *vm_, ctx_, pred, call);
}

Result<FpuState> UserMode::fpu_state() { return arch::user_get_fpu(*thread_); }
Result<void> UserMode::set_fpu_state(const FpuState& s) { return arch::user_set_fpu(*thread_, s); }
void UserMode::notify_kernel_event() { arch::user_notify_kernel_event(); }
bool UserMode::runs_beside_kernel() { return arch::user_runs_beside_kernel(); }
std::optional<FastSyscallEntry> UserMode::fast_syscall_entry() {
  u32 off = arch::user_fast_syscall_gs_offset();
  if (off == 0) return std::nullopt;
  return FastSyscallEntry{off};
}

}  // namespace ostd
