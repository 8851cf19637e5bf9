#ifndef FK_KTEST
#include <signal.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#endif

#include <array>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

#include "harness.h"

using namespace ostd;

#ifndef FK_KTEST  // host-only: stub processes
namespace {
bool seccomp_platform_in_use() {
  const char* p = std::getenv("UMK_PLATFORM");
  return p == nullptr || *p == '\0' || std::string_view(p) == "seccomp";
}
}  // namespace
#endif

namespace {
UserMode start(std::shared_ptr<VmSpace> vm, const UserContext& ctx) {
  auto um = UserMode::create(std::move(vm), ctx);
  EXPECT_TRUE(um.is_ok());
  return um.release_value();
}
ReturnReason run(UserMode& um) { return um.execute(test::never()); }
}  // namespace

TEST(UserMode, SyscallArgumentsAndResult) {
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_syscall));
    UserMode um = start(vm, test::start_context());
    ReturnReason rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Syscall);
    EXPECT_EQ(um.context().syscall_number(), 39u);
    EXPECT_EQ(um.context().syscall_args(), (std::array<u64, 6>{11, 22, 33, 44, 55, 66}));
    um.context().set_syscall_ret(1234);
    rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Syscall);
    EXPECT_EQ(um.context().syscall_number(), 60u);
    EXPECT_EQ(um.context().syscall_args()[0], 1234u);
    EXPECT_EQ(um.context().instruction_pointer(), test::kCodeVa + 0x32);
  });
}

TEST(UserMode, ReadFaultReportsAddressAndAccess) {
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_read_fault));
    UserMode um = start(vm, test::start_context());
    ReturnReason rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Exception);
    EXPECT_EQ(rr.exception.kind, ExceptionKind::PageFault);
    EXPECT_EQ(rr.exception.vector, 14u);
    EXPECT_EQ(rr.exception.address, 0xdead000u);
    EXPECT_EQ(rr.exception.access, Access::Read);
    EXPECT_FALSE(rr.exception.present);
    EXPECT_EQ(um.context().instruction_pointer(), test::kCodeVa + 7);  // the faulting mov
  });
}

TEST(UserMode, FaultIsResolvedByMappingAndRetried) {
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_write_fault));
    constexpr Vaddr kData = 0x20000000;
    UserContext ctx = test::start_context();
    ctx.regs().rdi = kData;
    UserMode um = start(vm, ctx);
    ASSERT_TRUE(vm->map(kData, Frame::alloc().release_value(), PageFlags::R).is_ok());
    ReturnReason rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Exception);
    EXPECT_EQ(rr.exception.kind, ExceptionKind::PageFault);
    EXPECT_EQ(rr.exception.address, kData);
    EXPECT_EQ(rr.exception.access, Access::Write);
    EXPECT_TRUE(rr.exception.present) << "error code " << rr.exception.error_code;
    // Make it writable (as copy-on-write would) and resume at the same instruction.
    ASSERT_TRUE(vm->protect(kData, kPageSize, PageFlags::RW).is_ok());
    rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Syscall);
    EXPECT_EQ(um.context().syscall_number(), 60u);
    EXPECT_EQ(UserPtr<u64>(kData).read(*vm).value(), 7u);
  });
}

TEST(UserMode, ExecuteFaultOnNonExecutablePage) {
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_exec_fault));
    constexpr Vaddr kData = 0x30000000;
    ASSERT_TRUE(vm->map(kData, Frame::alloc().release_value(), PageFlags::RW).is_ok());
    UserContext ctx = test::start_context();
    ctx.regs().rdi = kData;
    UserMode um = start(vm, ctx);
    ReturnReason rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Exception);
    EXPECT_EQ(rr.exception.kind, ExceptionKind::PageFault);
    EXPECT_EQ(rr.exception.address, kData);
    EXPECT_EQ(rr.exception.access, Access::Execute);
    EXPECT_EQ(um.context().instruction_pointer(), kData);
  });
}

TEST(UserMode, InfiniteLoopReturnsKernelEventOnTimer) {
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_loop));
    UserMode um = start(vm, test::start_context());
    u64 t0 = monotonic_ns();
    u64 deadline = t0 + 30 * kNsPerMs;
    int checks = 0;
    ReturnReason rr = um.execute([&] {
      ++checks;
      return monotonic_ns() >= deadline;
    });
    u64 took = monotonic_ns() - t0;
    ASSERT_EQ(rr.kind, ReturnReason::Kind::KernelEvent);
    EXPECT_GE(took, 30 * kNsPerMs);
    EXPECT_LT(took, 200 * kNsPerMs);
    EXPECT_GE(checks, 3);
    EXPECT_GT(um.context().regs().rbx, 1000u) << "the guest loop did not run";
    u64 rip = um.context().instruction_pointer();
    EXPECT_GE(rip, test::kCodeVa);
    EXPECT_LT(rip, test::kCodeVa + GUEST_SNIPPET(guest_loop).size());
  });
}

TEST(UserMode, KernelTasksRunWhileGuestLoops) {
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_loop));
    UserMode um = start(vm, test::start_context());
    int ticks_seen = 0;
    bool stop = false;
    auto other = Task::spawn([&] {
                   for (int i = 0; i < 5; ++i) {
                     Task::sleep_for_ns(2 * kNsPerMs);
                     ++ticks_seen;
                   }
                   stop = true;
                 }).release_value();
    ReturnReason rr = um.execute([&] { return stop; });
    EXPECT_EQ(rr.kind, ReturnReason::Kind::KernelEvent);
    EXPECT_EQ(ticks_seen, 5);
    other->join();
  });
}

// The kernel wanting the CPU back at every moment of a guest's system-call loop: its request
// (the host backend's kick) lands in guest code, on the way into the kernel, while the call is
// answered, and on the way back (seccomp: in the stub's handler, which runs with signals
// unblocked). Every call must be answered exactly once, nothing of the guest's registers, FPU
// state or red zone may change, and no request may be lost (a lost kick stalls the kernel).
namespace {
// guest_checked_syscalls with the kernel wanting the CPU back 0..3 us after each resume;
// `fast` enters through the fast system call entry instead of `syscall`.
void checked_calls_amid_kernel_events(bool fast) {
  test::run_in_kernel([fast] {
    constexpr u64 kCalls = 4000;
    auto vm = test::make_guest(GUEST_SNIPPET(guest_checked_syscalls));
    UserContext ctx = test::start_context();
    ctx.regs().rdi = kCalls;
    UserMode um = start(vm, ctx);
    if (fast) {
      auto entry = UserMode::fast_syscall_entry();
      ASSERT_TRUE(entry.has_value());
      um.context().regs().rsi = entry->gs_offset;
    }
    u64 calls = 0, events = 0, round = 0;
    for (; round < 50 * kCalls; ++round) {
      // Want the CPU back 0..3 us after this resume, a different delay each round.
      u64 deadline = monotonic_ns() + (round * 7 % 4) * 1000;
      ReturnReason rr = um.execute([&] { return monotonic_ns() >= deadline; });
      if (rr.kind == ReturnReason::Kind::KernelEvent) {
        ++events;
        continue;
      }
      ASSERT_EQ(rr.kind, ReturnReason::Kind::Syscall)
          << "after " << calls << " calls: exception " << static_cast<int>(rr.exception.kind);
      if (um.context().syscall_number() == 60) break;
      ASSERT_EQ(um.context().syscall_number(), 110u);
      // As `syscall` leaves them: rcx = the return address, r11 = rflags; no GS base.
      EXPECT_EQ(um.context().regs().rcx, um.context().instruction_pointer());
      EXPECT_EQ(um.context().regs().r11 & 0xffff, um.context().regs().rflags & 0xffff);
      EXPECT_EQ(um.context().regs().gs_base, 0u);
      um.context().set_syscall_ret(++calls);
    }
    EXPECT_EQ(um.context().syscall_number(), 60u) << "the guest did not finish";
    EXPECT_EQ(um.context().syscall_args()[0], 0u) << "the guest's check failed (1 answer, 2 "
                                                     "register, 3 red zone, 4 xmm)";
    EXPECT_EQ(calls, kCalls);
#ifndef FK_KTEST
    // The seccomp platform's kick lands at once (here mostly in the stub's handler: on the way
    // in, where it is dropped, or on the way back, where it posts the thread again); the
    // ptrace platform's stop mostly after the guest's next call.
    if (seccomp_platform_in_use()) {
      EXPECT_GT(events, 0u) << "the kernel's requests did not interrupt the guest";
    }
#endif
  });
}
}  // namespace

TEST(UserMode, KernelEventsAmidSystemCallsLoseNothing) { checked_calls_amid_kernel_events(false); }

#ifndef FK_KTEST  // the host backend's seccomp platform only
// The fast entry (no host trap) reports the same system calls with the same registers, keeps
// the guest's registers, FPU state and red zone, and survives the kernel's kicks landing in it
// (before its frame is complete, in the handler, on the way back).
TEST(UserMode, FastEntrySystemCallsAreSystemCalls) {
  if (!seccomp_platform_in_use()) {
    test::run_in_kernel([] { EXPECT_FALSE(UserMode::fast_syscall_entry().has_value()); });
    return;
  }
  checked_calls_amid_kernel_events(true);
}
#endif

TEST(UserMode, CpuTrapsBecomeExceptions) {
  test::run_in_kernel([] {
    struct Case {
      u64 sel;
      ExceptionKind kind;
      u32 vector;
    };
    for (Case c : {Case{0, ExceptionKind::InvalidOpcode, 6}, Case{1, ExceptionKind::Breakpoint, 3},
                   Case{2, ExceptionKind::DivideError, 0}, Case{3, ExceptionKind::GeneralProtection, 13}}) {
      auto vm = test::make_guest(GUEST_SNIPPET(guest_traps));
      UserContext ctx = test::start_context();
      ctx.regs().rdi = c.sel;
      UserMode um = start(vm, ctx);
      ReturnReason rr = run(um);
      ASSERT_EQ(rr.kind, ReturnReason::Kind::Exception) << "case " << c.sel;
      EXPECT_EQ(rr.exception.kind, c.kind) << "case " << c.sel;
      EXPECT_EQ(rr.exception.vector, c.vector) << "case " << c.sel;
    }
  });
}

#ifndef FK_KTEST  // host-only: checks the host file system
TEST(UserMode, GuestCannotMakeHostSystemCalls) {
  const char* path = "/tmp/umk-escape-test-file";
  unlink(path);
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_escape));
    UserMode um = start(vm, test::start_context());
    ReturnReason rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Syscall);
    EXPECT_EQ(um.context().syscall_number(), 85u);  // creat, trapped, not executed
    um.context().set_syscall_ret(static_cast<u64>(-38));
    rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Exception) << "nr " << um.context().syscall_number();  // int 0x80
    EXPECT_EQ(rr.exception.kind, ExceptionKind::GeneralProtection);
    rr = run(um);  // sysenter: a trapped IA-32 call (#GP) or, on CPUs where the host kernel
                   // returns to its (unmapped) vDSO landing pad, a page fault. Never a host call.
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Exception);
    EXPECT_TRUE(rr.exception.kind == ExceptionKind::GeneralProtection ||
                rr.exception.kind == ExceptionKind::InvalidOpcode || rr.exception.kind == ExceptionKind::PageFault)
        << "kind " << static_cast<int>(rr.exception.kind);
    um.context().set_instruction_pointer(test::kCodeVa +
                                         static_cast<u64>(test::guest_escape_open - test::guest_escape));
    rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Syscall)
        << "kind " << static_cast<int>(rr.exception.kind) << " at " << std::hex << um.context().instruction_pointer();
    EXPECT_EQ(um.context().syscall_number(), 2u);
  });
  struct stat st;
  EXPECT_NE(stat(path, &st), 0) << "the guest created a host file";
}

#endif

TEST(UserMode, FpuStateCanBeReadAndWritten) {
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_fpu));
    UserContext ctx = test::start_context();
    ctx.regs().rdi = 0x1122334455667788ull;
    UserMode um = start(vm, ctx);
    ReturnReason rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Syscall);
    auto fpu = um.fpu_state();
    ASSERT_TRUE(fpu.is_ok());
    u64 xmm0 = 0;
    std::memcpy(&xmm0, fpu.value().fxsave.data() + 160, 8);  // XMM0 lives at offset 160
    EXPECT_EQ(xmm0, 0x1122334455667788ull);
    FpuState s = fpu.value();
    u64 v = 0xcafef00dull;
    std::memcpy(s.fxsave.data() + 176, &v, 8);  // XMM1
    ASSERT_TRUE(um.set_fpu_state(s).is_ok());
    rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Syscall);
    EXPECT_EQ(um.context().syscall_number(), 1001u);
    EXPECT_EQ(um.context().syscall_args()[0], 0xcafef00dull);
  });
}

TEST(UserMode, FsBaseIsPerThreadTls) {
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_tls));
    constexpr Vaddr kTls = 0x50000000;
    ASSERT_TRUE(vm->map(kTls, Frame::alloc().release_value(), PageFlags::RW).is_ok());
    ASSERT_TRUE(UserPtr<u64>(kTls + 16).write(*vm, 0xabcdef).is_ok());
    UserContext ctx = test::start_context();
    ctx.set_tls_pointer(kTls + 16);
    UserMode um = start(vm, ctx);
    ASSERT_EQ(run(um).kind, ReturnReason::Kind::Syscall);
    EXPECT_EQ(um.context().syscall_args()[0], 0xabcdefu);
  });
}

TEST(UserMode, TwoThreadsShareOneAddressSpace) {
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_write_fault));
    constexpr Vaddr kData = 0x20000000;
    ASSERT_TRUE(vm->map(kData, Frame::alloc().release_value(), PageFlags::RW).is_ok());
    UserContext c1 = test::start_context();
    c1.regs().rdi = kData;
    UserContext c2 = test::start_context();
    c2.regs().rdi = kData + 8;
    UserMode t1 = start(vm, c1);
    UserMode t2 = start(vm, c2);
    ASSERT_EQ(run(t1).kind, ReturnReason::Kind::Syscall);
    ASSERT_EQ(run(t2).kind, ReturnReason::Kind::Syscall);
    EXPECT_EQ(UserPtr<u64>(kData).read(*vm).value(), 7u);
    EXPECT_EQ(UserPtr<u64>(kData + 8).read(*vm).value(), 7u);
  });
}

TEST(UserMode, UnmapTakesEffectForTheGuest) {
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_write_fault));
    constexpr Vaddr kData = 0x20000000;
    ASSERT_TRUE(vm->map(kData, Frame::alloc().release_value(), PageFlags::RW).is_ok());
    ASSERT_TRUE(vm->unmap(kData, kPageSize).is_ok());
    UserContext ctx = test::start_context();
    ctx.regs().rdi = kData;
    UserMode um = start(vm, ctx);
    ReturnReason rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Exception);
    EXPECT_EQ(rr.exception.address, kData);
    EXPECT_FALSE(rr.exception.present);
  });
}

TEST(UserMode, GuestSeesOnlyItsOwnMappings) {
  test::run_in_kernel([] {
    // The stub's region and the host's usual places (umk's own heap/stack) are not mapped.
    auto vm = test::make_guest(GUEST_SNIPPET(guest_exec_fault));
    int local = 0;
    for (u64 target : {reinterpret_cast<u64>(&local), reinterpret_cast<u64>(&run), u64{0x7ff800000010ull}}) {
      UserContext ctx = test::start_context();
      ctx.regs().rdi = target;
      UserMode um = start(vm, ctx);
      ReturnReason rr = run(um);
      // Jumping anywhere outside the guest's mappings faults; the stub's syscall gadget is
      // executable, but any syscall there is trapped like any other (SYSEMU, or the seccomp
      // filter's SECCOMP_RET_TRAP for numbers the stub's handler does not use).
      if (rr.kind == ReturnReason::Kind::Exception) {
        EXPECT_EQ(rr.exception.kind, ExceptionKind::PageFault);
      } else {
        EXPECT_EQ(target, 0x7ff800000010ull);
        EXPECT_EQ(rr.kind, ReturnReason::Kind::Syscall);
      }
    }
  });
}

#ifndef FK_KTEST  // host-only: stub processes

TEST(UserMode, StubsDieWithTheKernelThatUsedThem) {
  std::vector<int> pids;
  test::run_in_kernel([&] {
    {
      auto vm = test::make_guest(GUEST_SNIPPET(guest_loop));
      UserMode um = start(vm, test::start_context());
      pids = host::stub_pids();
      EXPECT_FALSE(pids.empty());
      for (int p : pids) EXPECT_EQ(kill(p, 0), 0);
    }
    // The ptrace platform kills a stub with its address space; the seccomp platform may keep
    // it (down to its control thread) as a spare for the next address space, unlisted.
    EXPECT_TRUE(host::stub_pids().empty());
    if (!seccomp_platform_in_use()) {
      for (int p : pids) EXPECT_NE(kill(p, 0), 0) << "stub " << p << " survived";
    }
  });
  EXPECT_TRUE(host::stub_pids().empty());
  for (int p : pids) EXPECT_NE(kill(p, 0), 0) << "stub " << p << " survived";
}

// The host scheduler groups processes by session (autogroups): with guests on CPUs of their own,
// stubs stay in umk's session so that every guest thread weighs the same there (a stub in a
// group of its own got a share that depended on its control thread's recent load, and a young
// stub's guest lost the CPU to a spinning older one); guests on the kernel's CPU get a session
// each. Either way a stub leads a process group of its own (no terminal job-control signals).
TEST(UserMode, StubsShareUmksSchedulingGroupOnlyWhenGuestsHaveTheirOwnCpus) {
  auto autogroup = [](const std::string& pid) {
    std::ifstream f("/proc/" + pid + "/autogroup");
    std::string line;
    std::getline(f, line);
    return line.substr(0, line.find(' '));  // "/autogroup-N", without the nice value
  };
  test::run_in_kernel([&] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_loop));
    UserMode um = start(vm, test::start_context());
    std::vector<int> pids = host::stub_pids();
    ASSERT_EQ(pids.size(), 1u);
    int pid = pids[0];
    EXPECT_EQ(getpgid(pid), pid);
    bool split = UserMode::runs_beside_kernel();
    if (split) {
      EXPECT_EQ(getsid(pid), getsid(0)) << "stub in a session of its own despite the split";
    } else {
      EXPECT_EQ(getsid(pid), pid);
    }
    std::string mine = autogroup("self");
    if (!mine.empty()) {  // CONFIG_SCHED_AUTOGROUP
      EXPECT_EQ(autogroup(std::to_string(pid)) == mine, split) << mine;
    }
  });
}

// The seccomp platform's hint to a stub: a system call that blocked (its task left the CPU)
// twice in a row sets its number's bit in the thread's mailbox, so that the stub gives its CPU
// to another guest at once the next time instead of spinning first; one answered at once
// clears it. Read from the stub's side of the mailbox.
TEST(UserMode, SystemCallsThatBlockAreHintedToTheStub) {
  if (!seccomp_platform_in_use()) GTEST_SKIP() << "seccomp platform only";
  test::run_in_kernel([] {
    if (!UserMode::runs_beside_kernel()) return;                     // no spinning stubs, no hint
    auto vm = test::make_guest(GUEST_SNIPPET(guest_spin_syscalls));  // getppid (110) forever
    UserMode um = start(vm, test::start_context());
    std::vector<int> pids = host::stub_pids();
    ASSERT_EQ(pids.size(), 1u);
    constexpr u64 kFirstMailbox = 0x7ff8c0000000;  // slot 0: a new stub's first thread
    auto hinted = [&] {
      u8 byte = 0xee;
      iovec local{&byte, 1};
      iovec remote{reinterpret_cast<void*>(kFirstMailbox + 192 + 110 / 8), 1};
      EXPECT_EQ(process_vm_readv(pids[0], &local, 1, &remote, 1, 0), 1);
      return ((byte >> (110 % 8)) & 1) != 0;
    };
    ASSERT_EQ(run(um).kind, ReturnReason::Kind::Syscall);
    Task::sleep_for_ns(2 * kNsPerMs);  // the call "blocks"
    ASSERT_EQ(run(um).kind, ReturnReason::Kind::Syscall);
    EXPECT_FALSE(hinted()) << "hinted after one blocking call";
    Task::sleep_for_ns(2 * kNsPerMs);
    ASSERT_EQ(run(um).kind, ReturnReason::Kind::Syscall);
    EXPECT_TRUE(hinted()) << "not hinted after two blocking calls in a row";
    ASSERT_EQ(run(um).kind, ReturnReason::Kind::Syscall);  // answered at once
    EXPECT_FALSE(hinted()) << "still hinted after a call that did not block";
  });
}

// A stub thread that sleeps for its reply is woken by the next stub to give up its CPU when
// some guest thread is away running (the kernel leaves the wake to the stubs: waking a guest
// CPU from the kernel's costs the kernel an IPI). If none takes it, the kernel takes it back
// and wakes the thread itself.
TEST(UserMode, WakeLeftToTheStubsIsTakenBackWhenNoStubTakesIt) {
  if (!seccomp_platform_in_use()) GTEST_SKIP() << "seccomp platform only";
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_spin_syscalls));
    UserMode a = start(vm, test::start_context());
    ASSERT_EQ(run(a).kind, ReturnReason::Kind::Syscall);
    // Another process's thread runs guest code without system calls: away, never posting.
    auto vm2 = test::make_guest(GUEST_SNIPPET(guest_loop));
    UserMode b = start(vm2, test::start_context());
    bool stop = false;
    auto runner = Task::spawn([&] { (void)b.execute([&] { return stop; }); }).release_value();
    // a's stub goes to sleep while the kernel idles; on a loaded machine it may still be
    // spinning (or waiting for a CPU) after 5 ms, and then no wake is left to the stubs that
    // round: try again (up to 50 rounds), so the check is whether the hand-off and its taking
    // back work, not how soon a stub falls asleep.
    bool handed = false;
    for (int round = 0; round < 50 && !handed; ++round) {
      Task::sleep_for_ns(5 * kNsPerMs);
      host::HandoffStats before = host::stub_handoffs();
      u64 t0 = monotonic_ns();
      ASSERT_EQ(run(a).kind, ReturnReason::Kind::Syscall);  // answered, woken, posted again
      u64 took = monotonic_ns() - t0;
      host::HandoffStats after = host::stub_handoffs();
      if (after.handed == before.handed) continue;  // a's stub was not asleep yet
      handed = true;
      EXPECT_EQ(after.handed, before.handed + 1);
      EXPECT_EQ(after.taken_back, before.taken_back + 1) << "the kernel did not take it back";
      EXPECT_LT(took, 200 * kNsPerMs);
    }
    EXPECT_TRUE(handed) << "the wake was never left to the stubs";
    stop = true;
    runner->join();
    // On a loaded machine b's stub may not have had a CPU yet: let it run until it has (at most
    // 2 s more), so the check is whether b runs at all, not how soon.
    for (int i = 0; i < 40 && b.context().regs().rbx == 0; ++i) {
      u64 until = monotonic_ns() + 50 * kNsPerMs;
      (void)b.execute([&] { return monotonic_ns() >= until; });
    }
    EXPECT_GT(b.context().regs().rbx, 0u) << "b's loop did not run";
  });
}

TEST(UserMode, WakeLeftToTheStubsIsDoneByAnotherStub) {
  if (!seccomp_platform_in_use()) GTEST_SKIP() << "seccomp platform only";
  test::run_in_kernel([] {
    auto vm = test::make_guest(GUEST_SNIPPET(guest_spin_syscalls));
    UserMode a = start(vm, test::start_context());
    ASSERT_EQ(run(a).kind, ReturnReason::Kind::Syscall);
    // Another process's thread makes system calls all the time: away between them.
    auto vm2 = test::make_guest(GUEST_SNIPPET(guest_spin_syscalls));
    UserMode b = start(vm2, test::start_context());
    bool stop = false;
    u64 b_calls = 0;
    auto runner = Task::spawn([&] {
                    while (!stop && b.execute([&] { return stop; }).kind == ReturnReason::Kind::Syscall) {
                      ++b_calls;
                    }
                  }).release_value();
    // Each round a's stub falls asleep, then a's call is answered; the wake is left to the
    // stubs when b happens to be away at that moment, and b's next post does it (within a
    // second: on a loaded host b may wait long for its CPU).
    u64 window = host::set_stub_handoff_window_ns(kNsPerSec);
    bool by_stub = false;
    int handed = 0;
    for (int round = 0; round < 100 && !by_stub; ++round) {
      Task::sleep_for_ns(3 * kNsPerMs);
      host::HandoffStats before = host::stub_handoffs();
      ASSERT_EQ(run(a).kind, ReturnReason::Kind::Syscall);
      host::HandoffStats after = host::stub_handoffs();
      handed += after.handed > before.handed ? 1 : 0;
      by_stub = after.handed > before.handed && after.taken_back == before.taken_back;
    }
    host::set_stub_handoff_window_ns(window);
    EXPECT_TRUE(by_stub) << "no wake was done by another stub (left to them " << handed << " times)";
    stop = true;
    runner->join();
    EXPECT_GT(b_calls, 0u);
  });
}

TEST(UserMode, ReusedStubKeepsNothingOfThePreviousGuest) {
  std::vector<int> first;
  test::run_in_kernel([&] {
    constexpr Vaddr kData = 0x20000000;
    UserContext ctx = test::start_context();
    ctx.regs().rdi = kData;
    {
      auto vm = test::make_guest(GUEST_SNIPPET(guest_write_fault));
      ASSERT_TRUE(vm->map(kData, Frame::alloc().release_value(), PageFlags::RW).is_ok());
      UserMode um = start(vm, ctx);
      ASSERT_EQ(run(um).kind, ReturnReason::Kind::Syscall);  // stored 7, then exit
      EXPECT_EQ(UserPtr<u64>(kData).read(*vm).value(), 7u);
      first = host::stub_pids();
    }
    // The same program in a new address space that does not map kData: the store must fault,
    // whether or not the new space got the old one's stub process.
    auto vm = test::make_guest(GUEST_SNIPPET(guest_write_fault));
    UserMode um = start(vm, ctx);
    if (seccomp_platform_in_use()) {
      EXPECT_EQ(host::stub_pids(), first) << "stub not reused";
    }
    ReturnReason rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Exception);
    EXPECT_EQ(rr.exception.kind, ExceptionKind::PageFault);
    EXPECT_EQ(rr.exception.address, kData);
    EXPECT_FALSE(rr.exception.present);
    // A second thread in the reused process starts clean as well.
    UserMode um2 = start(vm, ctx);
    rr = run(um2);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Exception);
    EXPECT_EQ(rr.exception.address, kData);
  });
  EXPECT_TRUE(host::stub_pids().empty());
  for (int p : first) EXPECT_NE(kill(p, 0), 0) << "stub " << p << " survived";
}

// A thread told to exit while its stub sleeps for the reply wakes and exits (it sleeps on its
// word in the wake page, not on its mailbox), so the stub is gone of guest threads and kept as
// the next address space's spare.
TEST(UserMode, SleepingThreadToldToExitExits) {
  if (!seccomp_platform_in_use()) GTEST_SKIP() << "threads are reused on the seccomp platform";
  std::vector<int> first;
  test::run_in_kernel([&] {
    {
      auto vm = test::make_guest(GUEST_SNIPPET(guest_spin_syscalls));
      UserMode a = start(vm, test::start_context());
      UserMode b = start(vm, test::start_context());
      ASSERT_EQ(run(a).kind, ReturnReason::Kind::Syscall);
      ASSERT_EQ(run(b).kind, ReturnReason::Kind::Syscall);
      first = host::stub_pids();
      Task::sleep_for_ns(5 * kNsPerMs);  // both stubs go to sleep (the kernel idles)
    }                                    // b is told to exit, a (the last) retires
    auto vm = test::make_guest(GUEST_SNIPPET(guest_syscall));
    UserMode um = start(vm, test::start_context());
    EXPECT_EQ(host::stub_pids(), first) << "the stub was not kept: its told thread still sleeps";
    ASSERT_EQ(run(um).kind, ReturnReason::Kind::Syscall);
    EXPECT_EQ(um.context().syscall_number(), 39u);
  });
}

TEST(UserMode, ReusedThreadStartsClean) {
  if (!seccomp_platform_in_use()) GTEST_SKIP() << "threads are reused on the seccomp platform";
  test::run_in_kernel([] {
    constexpr u64 kDirt = 0x5a5a5a5a12345678ull;
    {
      auto vm = test::make_guest(GUEST_SNIPPET(guest_dirty));
      UserContext ctx = test::start_context();
      ctx.regs().rdi = kDirt;
      UserMode um = start(vm, ctx);
      ReturnReason rr = run(um);
      ASSERT_EQ(rr.kind, ReturnReason::Kind::Syscall);
      ASSERT_EQ(um.context().syscall_number(), 60u);
      u64 xmm7 = 0;
      std::memcpy(&xmm7, um.fpu_state().value().fxsave.data() + 160 + 7 * 16, 8);
      EXPECT_EQ(xmm7, kDirt);  // the dirt is really there
    }
    // The last thread of that process serves the next address space (same stub process).
    u64 reused = host::reused_stub_threads();
    auto vm = test::make_guest(GUEST_SNIPPET(guest_report_sse));
    UserMode um = start(vm, test::start_context());
    EXPECT_EQ(host::reused_stub_threads(), reused + 1) << "the thread was not reused";
    auto fpu = um.fpu_state();
    ASSERT_TRUE(fpu.is_ok());
    for (int i = 0; i < 16; ++i) {
      u64 lo = 1;
      std::memcpy(&lo, fpu.value().fxsave.data() + 160 + i * 16, 8);
      EXPECT_EQ(lo, 0u) << "xmm" << i;
    }
    ReturnReason rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Syscall);
    ASSERT_EQ(um.context().syscall_number(), 1004u);
    auto args = um.context().syscall_args();
    EXPECT_EQ(args[0], 0u);                 // xmm0
    EXPECT_EQ(args[1], 0u);                 // xmm15
    EXPECT_EQ(args[2] & 0xffffu, 0x1f80u);  // mxcsr: the default again
    EXPECT_EQ(args[3], 0u);                 // rbx, as start_context set it
    EXPECT_EQ(args[4], 0u);                 // r15
  });
}

TEST(UserMode, RetiredThreadThatRunsAgainIsNotReused) {
  if (!seccomp_platform_in_use()) GTEST_SKIP() << "threads are reused on the seccomp platform";
  std::vector<int> first;
  test::run_in_kernel([&] {
    {
      auto vm = test::make_guest(GUEST_SNIPPET(guest_victim));
      // The victim (slot 0 of a fresh stub) makes a system call and is left parked.
      UserMode victim = start(vm, test::start_context());
      ASSERT_EQ(run(victim).kind, ReturnReason::Kind::Syscall);
      first = host::stub_pids();
      ASSERT_EQ(first.size(), 1u);
      // Another thread of the same guest writes the victim's mailbox and frame and wakes it
      // through the stub's own futex call: the victim now runs guest code (a loop) although
      // the kernel thinks it parked.
      UserContext ctx = test::start_context();
      ctx.set_instruction_pointer(test::kCodeVa + (test::guest_victim_attacker - test::guest_victim));
      ctx.regs().rdi = 0x7ff8c0000000ull;  // slot 0's mailbox
      ctx.regs().rsi = test::kCodeVa + (test::guest_victim_loop - test::guest_victim);
      UserMode attacker = start(vm, ctx);
      ReturnReason rr = run(attacker);
      EXPECT_EQ(rr.kind, ReturnReason::Kind::Exception);  // its ud2 in the stub
    }
    // The victim was the process's last thread: kept with the stub only if it sleeps where
    // the stub sleeps. It does not, so the next address space gets a new stub.
    u64 reused = host::reused_stub_threads();
    auto vm = test::make_guest(GUEST_SNIPPET(guest_syscall));
    UserMode um = start(vm, test::start_context());
    EXPECT_EQ(host::reused_stub_threads(), reused);
    EXPECT_NE(host::stub_pids(), first) << "the stub with the running thread was reused";
    for (int p : first) EXPECT_NE(kill(p, 0), 0) << "stub " << p << " survived";
    ReturnReason rr = run(um);
    ASSERT_EQ(rr.kind, ReturnReason::Kind::Syscall);
    EXPECT_EQ(um.context().syscall_number(), 39u);
  });
}
#endif
