// ostd/host/host.h — starting the framework inside a Linux process (umk and the tests).
// Not visible to services.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <ostd/boot.h>
#include <ostd/log.h>
#include <ostd/types.h>

namespace ostd::host {

/// A host port forwarded into the guest (`--publish`), as QEMU's hostfwd.
struct PortForward {
  bool udp = false;
  u32 host_addr = 0x7f000001;  // host order
  u16 host_port = 0;
  u16 guest_port = 0;
  std::string text;  // as given, for messages
};

/// The guest's network (ostd/dev/nic.h): user networking through libslirp, or none.
struct NetConfig {
  bool user = true;
  std::vector<PortForward> publish;
  /// Tests and fuzzers: instead of slirp, a NIC whose wire is this process (test_nic_*).
  bool test_nic = false;
};

/// The test NIC: frames to deliver to the guest — held until it sends its first frame (so it
/// can set up its sockets first; inject before run_kernel), delivered at once after that (from
/// any thread: a peer played by the test) — and the frames it sent, oldest first.
void test_nic_inject(std::vector<u8> frame);
std::vector<std::vector<u8>> test_nic_take_sent();

/// Parses a --publish value, [HOSTADDR:]HOSTPORT:GUESTPORT[/udp|/tcp]; nullopt when malformed.
std::optional<PortForward> parse_publish(const std::string& text);

/// A host file the guest sees as a disk (`--disk FILE[:ro]`, ostd/dev/block.h).
struct DiskConfig {
  std::string path;
  bool read_only = false;
};
/// Parses a --disk value, FILE or FILE:ro; nullopt when malformed.
std::optional<DiskConfig> parse_disk(const std::string& text);

/// A host directory shared into the guest (`--volume HOSTDIR:GUESTDIR[:ro]`, `--root HOSTDIR`),
/// served over 9P2000.L (ostd/dev/p9.h) under `tag`.
struct VolumeConfig {
  std::string host_path;
  std::string guest_path;  // where the guest mounts it (the command line tells the kernel)
  bool read_only = false;
  std::string tag;
};
/// Parses a --volume value, HOSTDIR:GUESTDIR or HOSTDIR:GUESTDIR:ro (GUESTDIR absolute, no
/// spaces); nullopt when malformed. The tag is left to the caller.
std::optional<VolumeConfig> parse_volume(const std::string& text);

struct Config {
  /// The guest's network interface.
  NetConfig net;
  /// The guest's disks (/dev/vda, /dev/vdb... in this order).
  std::vector<DiskConfig> disks;
  /// The host directories shared into the guest.
  std::vector<VolumeConfig> volumes;
  /// Bytes of physical memory (the memfd). Fixed by the first run_kernel() of the process.
  u64 mem_bytes = 512ull << 20;
  /// Timer interrupt rate.
  u32 hz = 250;
  /// User-mode trap mechanism: "seccomp" (guest system calls trap through a seccomp filter
  /// into the stub's SIGSYS handler, shared-memory hand-off) or "ptrace" (PTRACE_SYSEMU; the
  /// slower reference). See docs/host-backend.md.
  std::string platform = "seccomp";
  /// Pin this vCPU to one host CPU. With ptrace its stub processes stay on the same CPU: the
  /// hand-off is synchronous, and a cross-CPU wake-up costs ~15x a same-CPU one on virtual
  /// machines (measured: getppid round trip 57.8 us vs 3.5 us). With seccomp, guest threads get
  /// the other CPUs and both sides spin briefly on shared memory instead of sleeping.
  bool pin_cpu = true;
  /// Seccomp platform with more than one CPU: guest threads run on the CPUs the kernel does not
  /// (fast system calls: both sides spin, no sleeps), or, when false, share the kernel's CPU
  /// (no cross-CPU wake-ups or TLB shoot-downs: cheaper fork/exec on VMs with slow IPIs).
  bool split_cpus = true;
  /// Report faults in the kernel (SIGSEGV, SIGBUS, SIGILL, SIGFPE) with a backtrace and abort.
  /// Fuzzers turn it off so the sanitizers' and libFuzzer's own handlers see them. Fixed by
  /// the first run_kernel() of the process.
  bool catch_fatal_signals = true;
  /// Seccomp platform: offer the stub's fast system call entry (UserMode::fast_syscall_entry),
  /// through which the kernel's rewritten call sites enter without a host trap.
  bool fast_syscalls = true;
  /// Seccomp platform: use the CPU's FSGSBASE instructions (rdfsbase/wrfsbase) where the host
  /// offers them (AT_HWCAP2). False makes the stubs read and set FS/GS bases as on a host
  /// without them, so both ways are tested on any machine. Fixed by the first run_kernel().
  bool use_fsgsbase = true;
  /// Once booted, load umk's own seccomp allow-list on every thread of the process (confine()
  /// below). umk sets it; tests that boot several kernels in one process do not.
  bool confine = false;
};

/// Loads the seccomp allow-list of the host system calls a booted kernel with `config` needs
/// (docs/safety.md, "umk confines itself") on every thread of this process, irreversibly; any
/// other host call then ends the process with a message naming it and SIGSYS. Call it once
/// every host file, thread and the stub launcher are there. Returns an error message, or "".
std::string confine(const Config& config);

/// Bounds the host paths this thread, and every thread and process it starts from now on, may
/// open to what a kernel with `config` needs (read-only /proc and /sys, the NIC's resolver
/// files, its disks and shared directories), with Landlock where the host has it; run_kernel
/// calls it before starting any thread when `config.confine`. Returns the Landlock ABI
/// version in force, or 0 when the host has none (then seccomp alone bounds umk).
int confine_paths(const Config& config);

/// Boots the framework on the calling thread (it becomes vCPU 0), runs `entry` as the first
/// kernel task and returns its result once it and every runnable task have finished. May be
/// called again (tests); physical memory and signal handling are set up once per process.
int run_kernel(const Config& config, BootInfo info, std::function<int()> entry);

/// What the backend finds out about this host and what it chooses there under `config` (CPU,
/// AT_HWCAP2 and FSGSBASE, clocksource, platform, CPU split, fast entry and why), one
/// "key: value" line each; with `measure`, also the price of the host primitives the hand-offs
/// are made of (native getppid, a SIGSYS round trip, a signal, futex and spinning ping-pongs),
/// measured in forked children (about a second). `umk info` prints it.
std::string host_report(const Config& config, bool measure);

/// The host's own price for the seccomp platform's trap, with no kernel behind it: ns per getppid
/// trapped by a SECCOMP_RET_TRAP filter into a SIGSYS handler that returns through rt_sigreturn,
/// measured in a forked child (0 if that failed). umk's trapped system call cannot be cheaper.
double host_sigsys_round_trip_ns(u64 iters);

/// Sends the kernel's log to `path` (truncated) instead of stderr, so it does not mix with the
/// guest's output; a panic still goes to stderr too. False when the file cannot be opened.
bool set_log_file(const std::string& path);

/// Parses "512M", "1G", "65536" into bytes; 0 on a malformed size.
u64 parse_size(const std::string& text);

/// Host process ids of the stub processes of live address spaces (for tests: they must all
/// die with umk). Spare stubs kept for reuse are not listed; run_kernel() kills them before it
/// returns.
std::vector<int> stub_pids();

/// Guest threads (seccomp platform) that served another address space after their own had
/// ended: a process's last thread is kept parked with its stub, checked and reset, as the
/// next owner's first thread instead of starting one. For tests and statistics.
u64 reused_stub_threads();

/// Wakes of sleeping stub threads that the kernel left to the stubs (seccomp platform: the next
/// stub to give up its CPU does it) and how many of those it took back because none did. For
/// tests and statistics.
struct HandoffStats {
  u64 handed = 0;
  u64 taken_back = 0;
};
HandoffStats stub_handoffs();
/// How long a wake left to the stubs waits for one before the kernel takes it back (20 us);
/// returns the previous value. For tests (a loaded host can keep every stub off its CPU).
u64 set_stub_handoff_window_ns(u64 ns);

/// The host signal that is the timer interrupt (a real-time signal aimed at the thread running
/// the kernel; the same signal on any other thread is ignored). Programs that embed the kernel
/// must leave it alone.
int timer_signal();

/// Whether the calling thread has the interrupt signals (the timer's and the devices') blocked:
/// so it has inside their handlers, never while a task runs. For tests.
bool interrupt_signals_blocked();

/// Timer interrupts that arrived while the kernel thread ran library code (libc, libstdc++, a
/// sanitizer runtime) and so waited until umk's own code ran again: the handlers could take a
/// lock that the library code holds. For tests and statistics.
u64 deferred_interrupts();

}  // namespace ostd::host
