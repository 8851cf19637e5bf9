// ostd_bench: micro-benchmarks of the framework on the host backend, with native Linux figures
// measured in the same run for comparison. Prints "name value unit" lines.
//
//   ostd_bench [--iterations N] [--platform ptrace|seccomp]
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ostd/host/host.h>
#include <ostd/ostd.h>

extern "C" {
extern const unsigned char guest_spin_syscalls[], guest_spin_syscalls_end[];
}

namespace {

using namespace ostd;

u64 now() { return monotonic_ns(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void report(const char* name, double value, const char* unit) {
  std::printf("%-28s %10.3f %s\n", name, value, unit);
  std::fflush(stdout);
}

// Two tasks yielding to each other: each yield is one fiber switch.
double fiber_switch_ns(u64 iters) {
  u64 t0 = now();
  auto a = Task::spawn([iters] {
             for (u64 i = 0; i < iters; ++i) Task::yield_now();
           }).release_value();
  auto b = Task::spawn([iters] {
             for (u64 i = 0; i < iters; ++i) Task::yield_now();
           }).release_value();
  a->join();
  b->join();
  return static_cast<double>(now() - t0) / static_cast<double>(2 * iters);
}

// A guest calling getppid in a loop; the kernel answers each trap at once.
double trapped_getppid_ns(u64 iters, bool fast = false) {
  auto vm = VmSpace::create().release_value();
  Frame code = Frame::alloc().release_value();
  (void)code.write_bytes(
      0, std::span<const u8>(guest_spin_syscalls, static_cast<usize>(guest_spin_syscalls_end - guest_spin_syscalls)));
  (void)vm->map(0x400000, code, PageFlags::RX);
  UserContext ctx;
  ctx.set_instruction_pointer(0x400000);
  ctx.regs().rflags = 0x202;
  UserMode um = UserMode::create(vm, ctx).release_value();
  if (fast) um.context().regs().rsi = UserMode::fast_syscall_entry()->gs_offset;
  for (int warm = 0; warm < 100; ++warm) {
    (void)um.execute([] { return false; });
    um.context().set_syscall_ret(1);
  }
  u64 t0 = now();
  u64 done = 0;
  while (done < iters) {
    ReturnReason rr = um.execute([] { return false; });
    if (rr.kind == ReturnReason::Kind::Syscall) {
      um.context().set_syscall_ret(1);
      ++done;
    }
  }
  return static_cast<double>(now() - t0) / static_cast<double>(iters);
}

// A fresh address space that runs one system call, then goes away: what fork and exit pay for
// the address space itself (the host backend: a stub process started and reaped).
double address_space_us(u64 iters) {
  Frame code = Frame::alloc().release_value();
  (void)code.write_bytes(
      0, std::span<const u8>(guest_spin_syscalls, static_cast<usize>(guest_spin_syscalls_end - guest_spin_syscalls)));
  u64 t0 = now();
  for (u64 i = 0; i < iters; ++i) {
    auto vm = VmSpace::create().release_value();
    (void)vm->map(0x400000, code, PageFlags::RX);
    UserContext ctx;
    ctx.set_instruction_pointer(0x400000);
    ctx.regs().rflags = 0x202;
    UserMode um = UserMode::create(vm, ctx).release_value();
    (void)um.execute([] { return false; });
  }
  return static_cast<double>(now() - t0) / static_cast<double>(iters) / 1000.0;
}

double native_getppid_ns(u64 iters) {
  u64 t0 = now();
  for (u64 i = 0; i < iters; ++i) syscall(SYS_getppid);
  return static_cast<double>(now() - t0) / static_cast<double>(iters);
}

double frame_alloc_free_ns(u64 iters) {
  u64 t0 = now();
  for (u64 i = 0; i < iters; ++i) {
    auto f = Frame::alloc_uninit();
    if (f.is_error()) std::abort();
  }
  return static_cast<double>(now() - t0) / static_cast<double>(iters);
}

}  // namespace

int main(int argc, char** argv) {
  u64 iters = 20000;
  host::Config cfg;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--iterations") == 0) iters = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--platform") == 0) cfg.platform = argv[i + 1];
  }
  if (iters == 0) iters = 1;
  // Before the kernel runs (no timer signal, no stubs): a plain forked process.
  std::vector<double> floor;
  for (int r = 0; r < 5; ++r) floor.push_back(host::host_sigsys_round_trip_ns(iters * 5));
  cfg.mem_bytes = 256ull << 20;
  std::string trap_name = "trapped_getppid_" + cfg.platform;
  return host::run_kernel(cfg, {}, [iters, &trap_name, &floor] {
    const int kRuns = 5;
    std::vector<double> sw, trap, nat, fa, fast;
    for (int r = 0; r < kRuns; ++r) {
      sw.push_back(fiber_switch_ns(iters * 10));
      fa.push_back(frame_alloc_free_ns(iters * 10));
      nat.push_back(native_getppid_ns(iters * 10));
      trap.push_back(trapped_getppid_ns(iters));
      if (UserMode::fast_syscall_entry()) fast.push_back(trapped_getppid_ns(iters, true));
    }
    report("fiber_switch", median(sw), "ns");
    report("frame_alloc_free", median(fa), "ns");
    report("native_getppid", median(nat), "ns");
    report(trap_name.c_str(), median(trap) / 1000.0, "us");
    report("trapped_vs_native_ratio", median(trap) / median(nat), "x");
    if (!fast.empty()) {
      // The same call entered through the stub's fast entry (a rewritten call site): no trap.
      report("fast_entry_getppid", median(fast) / 1000.0, "us");
      report("fast_entry_vs_native_ratio", median(fast) / median(nat), "x");
    }
    report("host_sigsys_floor", median(floor) / 1000.0, "us");
    report("trapped_vs_host_floor_ratio", median(trap) / median(floor), "x");
    report("address_space_create_run_destroy", address_space_us(iters / 200 + 1), "us");
    return 0;
  });
}
