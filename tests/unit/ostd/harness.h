// Test harness: run a test body as a kernel task (a fresh host-backend kernel per test, or the
// booted bare-metal test kernel with FK_KTEST), and guest helpers.
#pragma once

#include <cstdlib>

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include <ostd/ostd.h>
#ifndef FK_KTEST
#include <ostd/host/host.h>
#endif

namespace test {

#ifdef FK_KTEST
/// Frames a backend may keep after the last address space that used them is gone, until the
/// kernel run ends (none on bare metal).
inline constexpr ostd::usize kSpareFrames = 0;
// The bare-metal test kernel (tests/ktest): the tests run as tasks of the booted kernel.
inline ostd::u64 mem_bytes() { return ostd::boot_info().memory_bytes; }
inline void run_in_kernel(const std::function<void()>& body) { body(); }
#else
/// The host backend's seccomp platform keeps a few stub processes for reuse (each with its
/// request page and its threads' altstacks and mailboxes) until run_kernel() returns.
inline constexpr ostd::usize kSpareFrames = 4 * (1 + 16 * 9);  // 4 stubs, 16 slots of 9
inline constexpr ostd::u64 kTestMemBytes = 64ull << 20;
/// Physical memory of the kernel the tests run in (an upper bound on its frames).
inline ostd::u64 mem_bytes() { return kTestMemBytes; }

/// Runs body() as the init task of a fresh kernel run on this thread.
inline void run_in_kernel(const std::function<void()>& body) {
  ostd::host::Config cfg;
  cfg.mem_bytes = kTestMemBytes;
  // ctest runs the suite once per user-mode platform (tests/CMakeLists.txt).
  if (const char* p = std::getenv("UMK_PLATFORM"); p != nullptr && *p != '\0') cfg.platform = p;
  if (const char* p = std::getenv("UMK_FSGSBASE"); p != nullptr) cfg.use_fsgsbase = std::string_view(p) != "off";
  ostd::host::run_kernel(cfg, {}, [&] {
    body();
    return 0;
  });
}
#endif

/// Bytes of a guest snippet from guest_snippets.S.
#define GUEST_SNIPPET(name) \
  (std::span<const unsigned char>(test::name, static_cast<size_t>(test::name##_end - test::name)))

extern "C" {
extern const unsigned char guest_syscall[], guest_syscall_end[];
extern const unsigned char guest_read_fault[], guest_read_fault_end[];
extern const unsigned char guest_write_fault[], guest_write_fault_end[];
extern const unsigned char guest_exec_fault[], guest_exec_fault_end[];
extern const unsigned char guest_loop[], guest_loop_end[];
extern const unsigned char guest_traps[], guest_traps_end[];
extern const unsigned char guest_escape[], guest_escape_end[], guest_escape_open[];
extern const unsigned char guest_fpu[], guest_fpu_end[];
extern const unsigned char guest_tls[], guest_tls_end[];
extern const unsigned char guest_spin_syscalls[], guest_spin_syscalls_end[];
extern const unsigned char guest_checked_syscalls[], guest_checked_syscalls_end[];
extern const unsigned char guest_dirty[], guest_dirty_end[];
extern const unsigned char guest_report_sse[], guest_report_sse_end[];
extern const unsigned char guest_victim[], guest_victim_end[], guest_victim_attacker[], guest_victim_loop[];
}

inline constexpr ostd::Vaddr kCodeVa = 0x400000;
inline constexpr ostd::Vaddr kStackVa = 0x7000000;

/// A VmSpace with `code` mapped R+X at kCodeVa and one RW stack page below kStackVa.
inline std::shared_ptr<ostd::VmSpace> make_guest(std::span<const unsigned char> code) {
  auto vm = ostd::VmSpace::create();
  EXPECT_TRUE(vm.is_ok());
  auto frame = ostd::Frame::alloc();
  EXPECT_TRUE(frame.is_ok());
  EXPECT_TRUE(frame.value().write_bytes(0, code).is_ok());
  EXPECT_TRUE(vm.value()->map(kCodeVa, frame.value(), ostd::PageFlags::RX).is_ok());
  auto stack = ostd::Frame::alloc();
  EXPECT_TRUE(vm.value()->map(kStackVa - ostd::kPageSize, stack.value(), ostd::PageFlags::RW).is_ok());
  return vm.value();
}

inline ostd::UserContext start_context() {
  ostd::UserContext ctx;
  ctx.set_instruction_pointer(kCodeVa);
  ctx.set_stack_pointer(kStackVa);
  ctx.regs().rflags = 0x202;
  return ctx;
}

inline auto never() {
  return [] { return false; };
}

}  // namespace test
