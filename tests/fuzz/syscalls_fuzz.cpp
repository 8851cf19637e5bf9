// libFuzzer target `syscalls`: the whole kernel (services on the host backend) runs inside the
// fuzzer's process, with ASan, UBSan and coverage on its code. Each input boots it with an
// initramfs holding the executor (tests/fuzz/syscall_executor.c, a static guest program) and
// the input as /prog; the executor turns the bytes into typed system calls (files,
// directories, pipes, AF_UNIX sockets (SCM_RIGHTS cycles included), mmap/mprotect/munmap/brk,
// signals, futex, poll/select/epoll, eventfd,
// fork/wait, exec of malformed images, ioctl, and any number with hostile arguments).
//
// After every input the kernel must have ended cleanly (run_kernel returned) and every stub
// process must be gone; an input after which more frames, kernel tasks or open file
// descriptions are in use is run again, and one that grows a count on three runs in a row is
// reported as a leak.
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <ostd/host/host.h>
#include <ostd/log.h>
#include <ostd/mm/frame.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include "cpio_builder.h"
#include "stubs_gone.h"
#include "fs/file.h"
#include "kernel_main.h"

namespace {

std::vector<unsigned char> g_executor;
bool g_warm = false;
/// What must come back to where it was once the kernel has ended.
struct Usage {
  ostd::usize frames;
  ostd::u64 tasks;
  ostd::u64 files;
  bool grew_from(const Usage& o) const { return frames > o.frames || tasks > o.tasks || files > o.files; }
};

Usage usage() {
  return {ostd::frame_stats().allocated_frames, ostd::sched::stats().live_tasks, services::open_file_count()};
}

Usage g_baseline{};  // in use after the previous input (set before first use)

// SYSCALLS_FUZZ_USAGE=1 prints the leak-check counts after every input.
// Hang watchdog (libFuzzer's -timeout counts wall time, which a loaded machine stretches; it is
// only a backstop here): an input that runs longer than kHangSeconds is saved as hang-input and
// the process aborts. Time during which tasks waited for a CPU does not count: on a loaded
// machine a starved input is not a hang (a deadlocked one sleeps, and a spinning one on an
// otherwise idle machine starves nobody). The measure is the machine's CPU pressure (PSI's
// "some" total: time in which at least one task was runnable but not running), which also
// covers the guest's stub processes; without PSI, the time the fuzzing thread itself waited on
// a run queue (schedstat).
constexpr double kHangSeconds = 20;
std::mutex g_current_lock;
std::vector<unsigned char> g_current;
std::atomic<double> g_started{0};  // effective seconds when the input started; 0: idle
pid_t g_fuzz_tid = 0;

double wall_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Seconds the fuzzing thread has waited on a run queue (0 where schedstat is unavailable).
double runqueue_wait_s() {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", static_cast<int>(g_fuzz_tid));
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return 0;
  unsigned long long run = 0, wait = 0;
  int n = std::fscanf(f, "%llu %llu", &run, &wait);
  std::fclose(f);
  return n == 2 ? static_cast<double>(wait) / 1e9 : 0;
}

// Seconds during which some task waited for a CPU (PSI), or -1 without /proc/pressure/cpu.
double cpu_pressure_s() {
  FILE* f = std::fopen("/proc/pressure/cpu", "r");
  if (f == nullptr) return -1;
  unsigned long long total_us = 0;
  int n = std::fscanf(f, "some avg10=%*f avg60=%*f avg300=%*f total=%llu", &total_us);
  std::fclose(f);
  return n == 1 ? static_cast<double>(total_us) / 1e6 : -1;
}

// Wall time minus time starved of a CPU.
double now_s() {
  const double pressure = cpu_pressure_s();
  return wall_s() - (pressure >= 0 ? pressure : runqueue_wait_s());
}

void watchdog() {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    double t = g_started.load();
    if (t != 0 && now_s() - t > kHangSeconds) {
      std::lock_guard<std::mutex> g(g_current_lock);
      if (FILE* f = std::fopen("hang-input", "wb")) {
        std::fwrite(g_current.data(), 1, g_current.size(), f);
        std::fclose(f);
      }
      std::fprintf(stderr, "syscalls fuzz: an input ran over %.0f s (a hang); saved as hang-input\n", kHangSeconds);
      std::abort();
    }
  }
}

// Boots the kernel on `cpio`; checks that no stub outlived it; returns what is still in use.
Usage run_once(const std::vector<unsigned char>& cpio) {
  ostd::host::Config cfg;
  cfg.mem_bytes = 256ull << 20;
  cfg.catch_fatal_signals = false;  // libFuzzer and the sanitizers report crashes
  cfg.net.user = false;             // the guest's packets must not reach the host's network
  if (const char* p = std::getenv("UMK_PLATFORM"); p != nullptr && *p != '\0') cfg.platform = p;
  ostd::BootInfo info;
  info.init_argv = {"/x"};
  // norandmaps: the same input meets the same layout (a crash replays).
  info.cmdline = std::getenv("SYSCALLS_FUZZ_STRACE") != nullptr ? "umk strace norandmaps" : "umk norandmaps";
  info.initramfs = std::span<const ostd::u8>(cpio.data(), cpio.size());
  (void)ostd::host::run_kernel(cfg, std::move(info), [] { return services::kernel_main(); });
  if (!fuzz::stubs_gone(cfg)) {
    std::fprintf(stderr, "syscalls fuzz: %zu stub processes outlived the kernel\n", ostd::host::stub_pids().size());
    std::abort();
  }
  return usage();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::ifstream f(EXECUTOR_PATH, std::ios::binary);
  g_executor.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  if (g_executor.empty()) {
    std::fprintf(stderr, "syscalls fuzz: cannot read the executor %s\n", EXECUTOR_PATH);
    std::abort();
  }
  g_fuzz_tid = static_cast<pid_t>(syscall(SYS_gettid));
  std::thread(watchdog).detach();
  if (std::getenv("SYSCALLS_FUZZ_LOG") == nullptr) ostd::log::set_level(ostd::LogLevel::Off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return -1;  // the executor reads at most 8 KiB
  {
    std::lock_guard<std::mutex> g(g_current_lock);
    g_current.assign(data, data + size);
  }
  // The input also goes to current-input before it runs: when a sanitizer dies inside its own
  // report (ASan's "nested bug" while unwinding a fiber stack), libFuzzer saves nothing.
  if (FILE* f = std::fopen("current-input", "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  g_started = now_s();
  std::vector<unsigned char> cpio;
  fuzz::add_cpio_member(cpio, "x", S_IFREG | 0755, g_executor.data(), g_executor.size());
  fuzz::add_cpio_member(cpio, "prog", S_IFREG | 0644, data, size);
  fuzz::add_cpio_member(cpio, "tmp", S_IFDIR | 0777, nullptr, 0);
  fuzz::add_cpio_member(cpio, "TRAILER!!!", 0, nullptr, 0);

  Usage f1 = run_once(cpio);
  // Leak check (frames, kernel tasks, open file descriptions): the kernel builds some things
  // on first use (device nodes, tables), so one run's growth proves nothing; an input that
  // leaks makes every run of it grow. Rerun only when it grew, and report when three runs in a
  // row grew.
  if (g_warm && f1.grew_from(g_baseline) && std::getenv("SYSCALLS_FUZZ_NO_LEAK_CHECK") == nullptr) {
    Usage f2 = run_once(cpio);
    if (f2.grew_from(f1)) {
      Usage f3 = run_once(cpio);
      if (f3.grew_from(f2)) {
        std::fprintf(stderr,
                     "syscalls fuzz: what is in use grows with every run of this input: "
                     "frames %zu, %zu, %zu (%zu before it); tasks %llu, %llu, %llu (%llu); "
                     "open files %llu, %llu, %llu (%llu): a leak\n",
                     f1.frames, f2.frames, f3.frames, g_baseline.frames, (unsigned long long)f1.tasks,
                     (unsigned long long)f2.tasks, (unsigned long long)f3.tasks, (unsigned long long)g_baseline.tasks,
                     (unsigned long long)f1.files, (unsigned long long)f2.files, (unsigned long long)f3.files,
                     (unsigned long long)g_baseline.files);
        std::abort();
      }
      f1 = f3;
    } else {
      f1 = f2;
    }
  }
  if (std::getenv("SYSCALLS_FUZZ_USAGE") != nullptr) {
    std::fprintf(stderr, "syscalls fuzz: in use after the input: %zu frames, %llu tasks, %llu open files\n", f1.frames,
                 (unsigned long long)f1.tasks, (unsigned long long)f1.files);
  }
  g_warm = true;
  g_baseline = f1;
  g_started = 0;
  return 0;
}
