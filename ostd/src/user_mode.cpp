#include <algorithm>
#include <cstring>

#include <ostd/internal.h>
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

namespace fpu_internal {

namespace {
constexpr usize kLegacy = 512;
constexpr usize kSwReserved = 464;
constexpr usize kHeader = 64;
}  // namespace

FpuState load_image(std::span<const u8> img, bool xsave, u64 xfeatures) {
  FpuState s;
  // SAFETY: copies min(img.size(), 512) bytes: within img and within fxsave (512 bytes).
  std::memcpy(s.fxsave.data(), img.data(), std::min(img.size(), kLegacy));
  if (xsave && img.size() >= kLegacy + kHeader) {
    s.xsave.assign(img.begin() + kLegacy, img.end());
    s.xfeatures = xfeatures;
  }
  return s;
}

void store_image(std::span<u8> img, bool xsave, u64 xfeatures, const FpuState& s, u32 mxcsr_mask) {
  if (img.size() < kLegacy) return;
  // SAFETY: img.size() >= kLegacy (checked above) and 464 < fxsave.size() (512).
  std::memcpy(img.data(), s.fxsave.data(), kSwReserved);  // 464..511 are the software's
  u32 mxcsr = 0;
  // SAFETY: MXCSR is the u32 at bytes 24..27 of the legacy area, inside img (>= 512 bytes).
  std::memcpy(&mxcsr, img.data() + 24, 4);
  mxcsr &= mxcsr_mask != 0 ? mxcsr_mask : 0xffbfu;
  std::memcpy(img.data() + 24, &mxcsr, 4);
  if (!xsave || img.size() < kLegacy + kHeader) return;
  u8* hdr = img.data() + kLegacy;
  u64 bv = 0;
  if (s.xsave.size() == img.size() - kLegacy) {
    // SAFETY: hdr has img.size() - kLegacy bytes == s.xsave.size() (checked), and >= kHeader.
    std::memcpy(hdr, s.xsave.data(), s.xsave.size());
    std::memcpy(&bv, hdr, 8);
  }
  // x87 and SSE come from the legacy area just written; nothing the CPU does not save; the
  // standard format (no XCOMP_BV) and reserved bytes zero, or xrstor faults.
  bv = (bv & xfeatures) | 3;
  // SAFETY: img.size() >= kLegacy + kHeader (checked above): hdr has 64 bytes for these.
  std::memcpy(hdr, &bv, 8);
  std::memset(hdr + 8, 0, kHeader - 8);
}

}  // namespace fpu_internal

Result<FpuState> UserMode::fpu_state() { return arch::user_get_fpu(*thread_); }
Result<void> UserMode::set_fpu_state(const FpuState& s) { return arch::user_set_fpu(*thread_, s); }
void UserMode::notify_kernel_event() { arch::user_notify_kernel_event(); }
bool UserMode::runs_beside_kernel() { return arch::user_runs_beside_kernel(); }
Result<void> UserMode::barrier_all_user_cpus() { return arch::user_barrier_all_cpus(); }
usize UserMode::fpu_image_size() { return arch::user_fpu_image_size(); }
std::optional<FastSyscallEntry> UserMode::fast_syscall_entry() {
  u32 off = arch::user_fast_syscall_gs_offset();
  if (off == 0) return std::nullopt;
  return FastSyscallEntry{off};
}

}  // namespace ostd
