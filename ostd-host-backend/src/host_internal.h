// Host-backend internals shared between its source files.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ostd/arch/backend.h>
#include <ostd/host/host.h>
#include <ostd/sync.h>

namespace ostd::host {

/// The physical-memory memfd (in umk; it is fd kStubMemFd inside stubs).
int phys_memfd();
void init_physical_memory(u64 bytes);

void init_signals_once(bool catch_fatal);
/// The CPUs stub processes run on when they differ from the kernel's (seccomp platform on a
/// machine with more than one CPU), else nullptr.
const cpu_set_t* stub_cpus();
void start_timer(u32 hz);
/// Runs the interrupt line `line` on the kernel thread, from any other host thread (a device
/// thread): a signal to the kernel thread, handled like the timer's.
void raise_from_thread(u32 line);
/// Starts the network interface `config` asks for (nic.cpp); an error message when a
/// forwarded host port cannot be taken. nic_stop() ends it (its thread, slirp, the queues).
std::string nic_start(const NetConfig& config);
void nic_stop();
/// Opens the disks (block.cpp); an error message when one cannot be opened. disks_stop()
/// closes them.
std::string disks_start(const std::vector<DiskConfig>& disks);
void disks_stop();
/// Starts a 9P server for each volume (p9server.cpp); an error message when a directory cannot
/// be opened. shares_stop() ends them.
std::string shares_start(const std::vector<VolumeConfig>& volumes);
void shares_stop();
/// The CPUs this thread may run on (host_info.cpp, like the three below).
std::vector<int> allowed_cpus();
/// Moves the calling thread to `cpu` alone; false when the host refuses.
bool pin_this_thread(int cpu);
/// The host's current clocksource ("tsc", "kvm-clock"...), empty when unreadable.
std::string current_clocksource();
/// The value of the first /proc/cpuinfo line named `key` ("model name", "flags"), empty if none.
std::string cpuinfo_field(std::string_view key);
/// Whether the CPU lets user code read and write the FS/GS bases (AT_HWCAP2's FSGSBASE).
bool host_has_fsgsbase();
/// Whether a guest's own RDFSBASE/WRFSBASE are followed (the ptrace platform reads the bases
/// every stop; the seccomp platform when its entry uses FSGSBASE): AT_HWCAP2 tells guests so.
bool guests_may_use_fsgsbase();
/// The state components the host's XSAVE saves for user code (XCR0; x87|SSE without XSAVE).
u64 host_xcr0();
/// Whether the kernel's clock (and the vDSO's) is the TSC: the host keeps time with it, or with
/// kvm-clock over a constant, nonstop TSC that is in step across the CPUs (checked once, a few
/// milliseconds, at the first call).
bool tsc_is_the_clock();
/// Chooses and calibrates the clock (clock.cpp); once per process.
void init_clock();
void stop_timer();
/// Whether a signal handler interrupted code that may be preempted (our own text).
bool pc_is_preemptible(const void* ucontext);

/// Marks a blocking host call of the kernel thread (sigsuspend, a futex wait, a blocking
/// waitpid or read). A timer signal runs the interrupt handlers at once only where that is
/// safe: in umk's own code, or in such a call (a system call wrapper holds no library lock).
/// Elsewhere in library code — libc, libstdc++, the sanitizer runtime, which may hold a lock
/// the handlers' code takes too (glibc's atexit lock, taken by the first use of a
/// function-local static) — the interrupt stays pending until umk's code runs again.
class [[nodiscard]] HostWait {
 public:
  HostWait();
  ~HostWait();
  HostWait(const HostWait&) = delete;
  HostWait& operator=(const HostWait&) = delete;
};

/// Kills the stubs kept for reuse (seccomp platform) and frees their frames; run_kernel calls
/// it once no task is left, so no stub outlives the kernel that used it.
void release_spare_stubs();

/// For reports of a dying umk (panic, fatal signal, forbidden host call): restores the user's
/// terminal and writes a host backtrace to stderr. Async-signal-tolerant once backtrace() has
/// run (it loads libgcc_s on first use).
void leave_terminal_and_print_backtrace();

/// Forks the stub launcher, which starts every stub process (ptrace_platform.cpp): run_kernel
/// does so before umk confines itself. Idempotent.
void start_stub_launcher();
/// Recorded by confine(): from now on no process or thread can be started (nor the launcher
/// restarted).
void set_confined();
bool confined();

/// Blocks until a traced child changes state or a signal arrives; dispatches what it reaped.
/// Returns false when there are no traced children to wait for.
bool reap_children(bool block);
bool has_children();
/// Whether a task sleeps until a traced thread stops (then idle must not spin: the stub may
/// need this CPU to get there).
bool tracee_waits_pending();

/// One traced host thread (a stub's control thread or a guest thread).
struct Tracee {
  pid_t tid = 0;
  std::optional<int> status;  // an unconsumed wait status
  bool gone = false;          // exited or killed
};
void register_tracee(Tracee& t);
void unregister_tracee(Tracee& t);
/// Sleeps until t has a status (returns it, consuming it) or, when `check` is given, until it
/// returns true after a kernel-event notification (returns nullopt).
std::optional<int> wait_tracee(Tracee& t, bool (*check)(void*) = nullptr, void* arg = nullptr);
/// Sleeps until `ready(rarg)` (returns true) or, after a kernel-event notification, until
/// `check(carg)` returns true (returns false).
bool wait_ready(bool (*ready)(void*), void* rarg, bool (*check)(void*), void* carg);
/// Wakes every task waiting in wait_tracee (interrupt-safe).
void notify_tracee_waiters();
/// Task switches so far on the kernel's host thread: a task that reads the same count before
/// and after some work did not leave the CPU in between.
u64 context_switches();

}  // namespace ostd::host
