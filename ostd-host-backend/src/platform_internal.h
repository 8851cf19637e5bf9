// Internals shared by the user-mode platforms (ptrace_platform.cpp, seccomp_platform.cpp).
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include <ostd/arch/backend.h>
#include <ostd/mm/frame.h>
#include <ostd/sync.h>
#include <ostd/user_mode.h>

#include "host_internal.h"

namespace ostd::arch {

struct HostRequest {
  u64 nr;
  std::array<u64, 6> args;
};
static_assert(sizeof(HostRequest) == 56);

// Seccomp platform: an index into the wake page, the futex word a slot's thread sleeps on, which
// a stub of any process can wake (the kernel's hand-off). kNone: none was free; the thread
// then sleeps on its mailbox's state word and only the kernel wakes it.
class WakeWord {
 public:
  static constexpr u32 kNone = ~0u;
  WakeWord() = default;
  /// A free word for the thread whose mailbox (direct map) is `mailbox`, or kNone.
  static WakeWord take(u8* mailbox);
  WakeWord(WakeWord&& o) noexcept : idx_(o.idx_) { o.idx_ = kNone; }
  WakeWord& operator=(WakeWord&& o) noexcept {
    if (this != &o) {
      release();
      idx_ = o.idx_;
      o.idx_ = kNone;
    }
    return *this;
  }
  WakeWord(const WakeWord&) = delete;
  WakeWord& operator=(const WakeWord&) = delete;
  ~WakeWord() { release(); }
  u32 index() const { return idx_; }

 private:
  explicit WakeWord(u32 idx) : idx_(idx) {}
  void release();
  u32 idx_ = kNone;
};

struct SeccompSlot {
  Segment altstack;
  Frame mailbox;
  WakeWord wake;
  // The signal frame a thread of this slot parks with when it starts (bytes from `pristine_sp`
  // to the altstack's top), taken from a thread started while no guest code ran in the
  // process: a retired thread is reset to it before it serves another process.
  std::vector<u8> pristine;
  u64 pristine_sp = 0;
  u64 pristine_si = 0;
};

struct PreparedThread {
  u32 slot;
  pid_t tid;
  // A previous owner's last thread, left parked in the stub's handler (seccomp_end_thread):
  // usable only once keep_spare has found it asleep where the stub sleeps, with every other
  // thread gone, and reset its frame and mailbox (seccomp_reset_space).
  bool retired = false;
  bool reused = false;  // such a thread, verified and reset
};

struct AddressSpace {
  pid_t pid = 0;
  host::Tracee control;
  std::optional<Frame> request_frame;
  std::vector<HostRequest> pending;
  user_regs_struct base_regs{};
  Mutex ctl_lock;  // serializes use of the control thread and the request page
  std::vector<u32> free_slots;
  u32 next_slot = 0;
  u32 live_threads = 0;
  // Seccomp platform: each slot's altstack (frames the kernel reads through the direct map)
  // and mailbox page.
  bool seccomp = false;
  std::vector<std::optional<SeccompSlot>> slots;
  // Seccomp platform: every guest thread started in this process that the host has not yet
  // shown to be gone (the slots' clear-tid words are guest-writable, so they cannot say).
  std::vector<pid_t> thread_tids;
  // Seccomp platform, spare stubs: a guest thread started once every earlier one was gone (so
  // it never ran guest code), waiting to be the next owner's first thread.
  std::optional<PreparedThread> prepared;
  // No guest code has run in the process since it was started or kept as a spare (no user
  // thread was created since): its mapping changes may wait for the first thread's first run,
  // which flushes them all in one batch.
  bool no_guest_yet = true;
};

struct UserThread {
  AddressSpace* as = nullptr;
  host::Tracee t;
  u32 slot = 0;
  // The guest's FPU/vector state while a fault is serviced (per thread: other tasks run while
  // this one waits for its stub).
  std::vector<u8> xstate = std::vector<u8>(16384);
  // Seccomp platform: parked in the stub's handler with a posted event (its frame at uc_va);
  // the FS/GS bases the host thread has.
  bool parked = false;
  bool retired = false;  // kept parked for the next owner: its slot stays taken
  u64 uc_va = 0;
  u64 fs_known = 0;
  u64 gs_known = 0;
  // The system call being handled (~0u: another event) and the kernel's wait count when it
  // was taken: at the reply, whether it blocked (the stub's hint for that number's next call).
  u32 taken_nr = ~0u;
  u64 taken_switches = 0;
  bool waiting = false;               // its event taken and not yet answered (counted in the crowd)
  bool away = false;                  // answered, its next event not yet taken (running guest code)
  std::array<u64, 8> blocked_last{};  // a bit per system call number: it blocked last time
};

}  // namespace ostd::arch

namespace ostd::host {

/// Whether the seccomp platform was chosen (Config::platform).
bool seccomp_platform();
void set_platform(bool seccomp);
/// Config::fast_syscalls.
void set_fast_syscalls(bool on);
void set_use_fsgsbase(bool on);
/// The GS offset of the stub's fast system call entry pointer, 0 when there is none.
u32 seccomp_fast_syscall_gs_offset();

/// Resumes a stopped stub thread with registers `r` and waits for the stub's int3; returns rax.
Result<i64> run_stub(Tracee& t, user_regs_struct& r);
/// One host system call in a stopped stub thread at the stub's syscall gadget.
Result<i64> inject(arch::AddressSpace& as, Tracee& t, u64 nr, std::array<u64, 6> a, pid_t* clone_tid = nullptr);
Result<void> inject_ok(arch::AddressSpace& as, Tracee& t, u64 nr, std::array<u64, 6> a);
ReturnReason exception_reason(ExceptionKind kind, u32 vector);
/// Runs the queued host mapping requests (as.pending) in the control thread, in batches;
/// the caller holds as.ctl_lock or owns a space nobody else can reach yet.
Result<void> flush_locked(arch::AddressSpace& as);

// seccomp_platform.cpp
/// Allocates the stubs' shared pages (config, doorbell) once per process.
Result<void> seccomp_boot();
/// Queues (in as.pending) the seccomp platform's per-process setup.
Result<void> seccomp_setup_space(arch::AddressSpace& as);
/// Creates a guest thread in `slot` (mapping the slot's pages when new), or takes the prepared
/// one (its slot then replaces t.slot), and waits until it is parked in the stub's handler.
/// `first`: no guest code ran in the process before (its frame may be kept as the slot's
/// pristine one).
Result<void> seccomp_start_thread(arch::AddressSpace& as, arch::UserThread& t, bool first);
/// Whether a freed slot may be reused (its previous thread is really gone).
bool seccomp_slot_free(arch::AddressSpace& as, u32 slot);
/// Whether every guest thread ever started in `as` is gone, as the host sees it; waits up to
/// `timeout_ns` for threads that are still exiting.
bool seccomp_threads_gone(arch::AddressSpace& as, u64 timeout_ns);
/// Makes a stub whose guest threads are all gone look unused: every slot free, its altstack
/// and mailbox zeroed (nothing of the previous guest stays readable to the next); a retired
/// prepared thread's slot gets its pristine frame back instead.
void seccomp_reset_space(arch::AddressSpace& as);
/// Whether the retired prepared thread is asleep in the stub's handler (the host's word), so
/// that it can only continue as its mailbox and frame say; waits briefly for one that is still
/// on its way there. False: it cannot be trusted (the space must not be reused).
bool seccomp_verify_retired(arch::AddressSpace& as);
/// Tells a prepared thread that is not wanted to exit and frees its slot (once it is gone).
void seccomp_drop_prepared(arch::AddressSpace& as);
/// Starts a guest thread in a spare stub without waiting for it (as.prepared), so the next
/// owner's first thread is ready at once.
Result<void> seccomp_prepare_thread(arch::AddressSpace& as);
/// Ends a guest thread (it exits in the stub). The process's last thread is kept parked
/// instead, as the stub's next owner's first thread (as.prepared, retired): returns true then.
bool seccomp_end_thread(arch::UserThread& t);
ReturnReason seccomp_execute(arch::UserThread& t, VmSpace& vm, UserContext& ctx, void* pred, bool (*call)(void*));
Result<FpuState> seccomp_get_fpu(arch::UserThread& t);
Result<void> seccomp_set_fpu(arch::UserThread& t, const FpuState& s);
/// The idle loop's wait when the seccomp platform is in use: sleeps on the doorbell futex until
/// a stub posts, a child changes state (SIGCHLD) or the timer fires. Returns false when the
/// seccomp platform has not started (no doorbell yet).
bool seccomp_idle(bool (*has_work)());
/// Makes the idle loop's doorbell wait return (interrupt-safe). False when there is no doorbell.
bool seccomp_kick_idle();

}  // namespace ostd::host
