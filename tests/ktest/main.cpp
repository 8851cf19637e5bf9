// The test kernel: ostd's unit tests (tests/unit/ostd, through the GoogleTest subset in
// gtest/gtest.h) run at boot on the bare-metal backend. The program arguments select tests
// ("Suite.Name", or none for all); the output is gtest-like and the exit status is 1 when any
// failed. ctest boots it once per test (tests/CMakeLists.txt, label qemu).
#include <string>
#include <vector>

#include <ostd/baremetal/baremetal.h>
#include <ostd/boot.h>
#include <ostd/bytes.h>
#include <ostd/log.h>
#include <ostd/mm/frame.h>
#include <ostd/time.h>

#include "gtest/gtest.h"
#include "harness.h"

namespace ktest {

namespace {
struct Entry {
  const char* suite;
  const char* name;
  TestFn fn;
};
std::vector<Entry>& registry() {
  static std::vector<Entry> r;
  return r;
}
bool g_failed = false;

void out(const std::string& s) { (void)ostd::console::write(1, ostd::bytes_of_string(s)); }
}  // namespace

void register_test(const char* suite, const char* name, TestFn fn) { registry().push_back({suite, name, fn}); }

void report_failure(const char* file, int line, const std::string& text) {
  g_failed = true;
  out(ostd::format("{}:{}: Failure\n  {}\n", std::string_view(file), line, text));
}

}  // namespace ktest

namespace ostd::baremetal {

int kernel_image_main() {
  using namespace ktest;
  const auto& argv = boot_info().init_argv;
  // Deliberate kernel bugs, for the tests that check what a kernel fault or panic reports.
  if (!argv.empty() && argv[0] == "--kernel-fault") {
    *reinterpret_cast<volatile u64*>(0xdead0000ull) = 1;
  }
  if (!argv.empty() && argv[0] == "--kernel-panic") panic("ktest: a deliberate panic");
  if (!argv.empty() && argv[0] == "--read-user-memory") {
    // A guest runs (its address space stays loaded), then the kernel reads its page directly:
    // SMAP must stop it (ostd's copies go through the direct map instead).
    auto vm = test::make_guest(GUEST_SNIPPET(guest_syscall));
    auto um = UserMode::create(vm, test::start_context());
    (void)um.value().execute([] { return false; });
    out(format("guest page readable through ostd: {}\n", vm->query(test::kCodeVa).has_value()));
    (void)*reinterpret_cast<volatile u8*>(test::kCodeVa);
  }
  if (!argv.empty() && argv[0] == "--write-kernel-text") {
    // Kernel text is mapped read-only (W^X): this must fault.
    *reinterpret_cast<volatile u8*>(reinterpret_cast<u64>(&kernel_image_main)) = 0xcc;
  }
  int ran = 0;
  int failed = 0;
  for (const Entry& e : registry()) {
    std::string full = std::string(e.suite) + "." + e.name;
    bool selected = argv.empty();
    for (const auto& a : argv) selected = selected || a == full || a == "*";
    if (!selected) continue;
    out("[ RUN      ] " + full + "\n");
    g_failed = false;
    u64 t0 = monotonic_ns();
    e.fn();
    u64 ms = (monotonic_ns() - t0) / kNsPerMs;
    out(format("{} {} ({} ms)\n", std::string_view(g_failed ? "[  FAILED  ]" : "[       OK ]"), full, ms));
    ++ran;
    if (g_failed) ++failed;
  }
  if (ran == 0) {
    out("ktest: no test matches the arguments\n");
    return 2;
  }
  out(format("[==========] {} tests ran, {} failed\n", ran, failed));
  return failed == 0 ? 0 : 1;
}

}  // namespace ostd::baremetal
