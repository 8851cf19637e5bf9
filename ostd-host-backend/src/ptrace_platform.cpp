// The ptrace platform: address spaces are stub processes, user threads are stub threads.
//
// Each address space is a fresh exec of the stub (a sealed memfd holding a tiny libc-free
// image linked above the guest range), or on the seccomp platform a spare one whose guest
// threads are all gone (keep_spare below). Its first thread is the *control thread*: it never runs
// guest code and makes the host mmap/munmap/mprotect calls that mirror the VmSpace, from a
// request page it maps read-only. Guest threads are clones of it, always resumed with
// PTRACE_SYSEMU, so any system call instruction they run stops before the host executes it.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <elf.h>
#include <array>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <cstddef>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <ostd/host/host.h>
#include <ostd/irq.h>

#include "host_internal.h"
#include <ostd/internal.h>
#include "bpf.h"
#include "platform_internal.h"
#include "stub_layout.h"

extern "C" {
extern const unsigned char umk_stub_image[];      // NOLINT
extern const unsigned char umk_stub_image_end[];  // NOLINT
}

namespace ostd::host {

namespace {

constexpr Logger kLog{"ptrace"};
constexpr int kKickSignal = SIGUSR2;
constexpr usize kRequestsPerPage = kPageSize / sizeof(arch::HostRequest);
static_assert(sizeof(arch::HostRequest) == REQ_SIZE);  // the stub's batch loop (stub.S)

// The stubs' pids. Kernel tasks are preempted by the timer (a signal): every change and every
// read of this list and of spare_stubs() is made with interrupts masked, or a task switch in the
// middle of a push_back lets another task's erase corrupt it (ASan saw it under load).
std::vector<int>& live_pids() {
  static std::vector<int> v;
  return v;
}

int stub_image_fd() {
  static int fd = -1;
  if (fd >= 0) return fd;
  fd = memfd_create("umk-stub", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) panic("memfd_create for the stub: {}", std::string_view(strerror(errno)));
  usize size = static_cast<usize>(umk_stub_image_end - umk_stub_image);
  if (::write(fd, umk_stub_image, size) != static_cast<ssize_t>(size)) {
    panic("cannot write the stub image");
  }
  fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  return fd;
}

struct ChildArgs {
  int memfd;
  int imagefd;
  pid_t parent;
  const cpu_set_t* cpus;
  bool own_session;
};

// Runs in the vfork'ed child (shared memory, parent suspended): raw system calls only.
int stub_child(void* p) {
  // SAFETY: launcher_main's clone passes &args, start_launcher's static ChildArgs (CLONE_VM).
  const auto* a = static_cast<const ChildArgs*>(p);
  syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (syscall(SYS_getppid) != a->parent) syscall(SYS_exit_group, 1);
  // Out of umk's process group, so the terminal's job-control signals do not reach stubs. In
  // a session (hence an autogroup) of its own only when guests share the kernel's CPU: with
  // the split, the host would weigh each stub's group on the guests' CPU by its threads' load
  // on all CPUs (its control thread runs on the kernel's), so that a stub started while its
  // control thread was busy gets a smaller share there than an older one, and a spinning
  // guest's sched_yield no longer hands the CPU to it (pipe ping-pong between a young and an
  // old stub 15 -> 20 us, a 16-process token ring 9 -> 17 us). Sharing umk's autogroup, guest
  // threads weigh the same. Without the split, a session each is faster (ptrace null system
  // call 12.0 -> 10.7 us).
  if (a->own_session) {
    syscall(SYS_setsid);
  } else {
    syscall(SYS_setpgid, 0, 0);
  }
  if (a->cpus != nullptr) syscall(SYS_sched_setaffinity, 0, sizeof(cpu_set_t), a->cpus);
  u64 empty = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, 8);
  syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  // A stub a guest manages to kill (a forged rt_sigreturn frame that blocks SIGSYS) must leave
  // nothing on the host: no core file of guest memory. RLIMIT_CORE 1 is below the smallest ELF
  // dump (a page) and is the value the kernel reads as "no dump" for a piped core_pattern too
  // (0 is ignored there); the cwd is / so nothing else is ever written beside umk's files.
  const struct rlimit no_core = {1, 1};
  syscall(SYS_prlimit64, 0, RLIMIT_CORE, &no_core, nullptr);
  syscall(SYS_chdir, "/");
  syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
  syscall(SYS_dup2, a->imagefd, 100);
  syscall(SYS_dup2, a->memfd, 101);
  syscall(SYS_dup2, 101, kStubMemFd);
  syscall(SYS_dup2, 100, 4);
  syscall(SYS_close_range, 5, ~0u, 0);
  syscall(SYS_close, 0);
  syscall(SYS_close, 1);
  syscall(SYS_close, 2);
  const char* argv[] = {"umk-stub", nullptr};
  const char* envp[] = {nullptr};
  syscall(SYS_execveat, 4, "", argv, envp, AT_EMPTY_PATH);
  syscall(SYS_exit_group, 127);
  return 127;
}

// Ptrace platform: calls into the legacy vsyscall page (gettimeofday, time, getcpu at
// 0xffffffffff600000) are emulated by the host kernel on the page fault, without a system call
// instruction, so PTRACE_SYSEMU never stops them and they would run on the host, unseen. The
// emulation does consult seccomp: this filter (inherited by every guest thread, which are
// clones of the control thread) traps calls from that page and allows everything else — the
// control thread's requests; the guest's own calls never reach seccomp under SYSEMU. The trap
// is a SIGSYS stop that ptrace_execute hands to the kernel as the system call it stands for.
Result<void> trap_vsyscalls(arch::AddressSpace& as) {
  const std::array<sock_filter, 4> code = {{
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, instruction_pointer) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  }};
  // A sock_fprog and its code at the end of the request page (read-only in the stub, where the
  // host kernel copies them from; the page's requests start at its beginning).
  constexpr usize kProgOffset = kPageSize - 128;
  struct Prog {
    u16 len;
    u64 filter;
  } prog{static_cast<u16>(code.size()), kStubRequestPage + kProgOffset + sizeof(Prog)};
  static_assert(sizeof(Prog) == sizeof(sock_fprog) && sizeof(Prog) + sizeof code <= 128);
  // SAFETY: prog and code are plain data read as their own sizeof bytes (u8 aliases anything);
  // both fit the page's last 128 bytes (static_assert above).
  TRY(as.request_frame->write_bytes(kProgOffset, std::span<const u8>(reinterpret_cast<const u8*>(&prog), sizeof prog)));
  TRY(as.request_frame->write_bytes(kProgOffset + sizeof prog,
                                    std::span<const u8>(reinterpret_cast<const u8*>(code.data()), sizeof code)));
  return inject_ok(as, as.control, SYS_seccomp, {SECCOMP_SET_MODE_FILTER, 0, kStubRequestPage + kProgOffset, 0, 0, 0});
}

// Ends a stub process. tgkill, not kill: umk's allow-list (confine.cpp) has no kill, so it
// cannot signal a process group or every process; SIGKILL to the leader takes every thread.
void kill_stub(pid_t pid) { syscall(SYS_tgkill, pid, pid, SIGKILL); }

// The host calls a stub ever makes, and the launcher's own: the stub launcher loads this
// filter before it starts any stub, so every stub inherits it (filters survive clone and exec)
// and neither the launcher nor a stub's control thread — which runs whatever the kernel asks
// through ptrace — can make any other host call, whoever drives them. Anything else traps:
// on the seccomp platform that is the guest's system calls' way to the kernel anyway (the
// stub's own filter traps them too), on the ptrace platform the guest's calls never reach
// seccomp (PTRACE_SYSEMU stops them first) and a trap is a SIGSYS stop umk sees.
constexpr std::array<u32, 31> kStubHostCalls = {
    // The stub's hot path first: its signal handler and hand-off (stub.S; it resumes guests
    // with iretq, never the host's rt_sigreturn).
    SYS_futex, SYS_sched_yield, SYS_arch_prctl,
    // The kernel's requests to a control thread: mappings, threads, signal set-up.
    SYS_mmap, SYS_munmap, SYS_mprotect, SYS_madvise, SYS_clone, SYS_rt_sigaction, SYS_sigaltstack,
    SYS_sched_setaffinity, SYS_seccomp, SYS_exit, SYS_exit_group, SYS_rt_sigprocmask, SYS_restart_syscall, SYS_getpid,
    SYS_gettid,
    // The launcher (read a request, clone, write the pid) and the stub child before its exec.
    SYS_read, SYS_write, SYS_prctl, SYS_getppid, SYS_setsid, SYS_setpgid, SYS_prlimit64, SYS_chdir, SYS_ptrace,
    SYS_dup2, SYS_close_range, SYS_close, SYS_execveat};

std::vector<sock_filter> stub_host_filter() {
  enum { kTrap, kAllow };
  Bpf b;
  b.stmt(Bpf::kLd, offsetof(seccomp_data, arch));
  b.jump(Bpf::kJeq, AUDIT_ARCH_X86_64, -1, kTrap);
  b.stmt(Bpf::kLd, offsetof(seccomp_data, nr));
  for (u32 nr : kStubHostCalls) b.jump(Bpf::kJeq, nr, kAllow, -1);
  b.label(kTrap);
  b.stmt(Bpf::kRet, SECCOMP_RET_TRAP);
  b.label(kAllow);
  b.stmt(Bpf::kRet, SECCOMP_RET_ALLOW);
  return b.finish();
}

// The stub launcher: a child forked at boot, before umk confines itself (confine.cpp), that
// starts every stub on umk's behalf. Stubs cloned by umk after that would inherit umk's own
// seccomp filter, which would then judge every guest system call too, and umk would need
// clone and execveat on its list. The launcher clones with CLONE_PARENT, so umk is still each
// stub's parent: its tracer (PTRACE_TRACEME) and the one its PDEATHSIG watches. One request
// byte over a socket in, the new stub's pid (or -errno) out.
struct Launcher {
  pid_t pid = -1;
  int sock = -1;
};
Launcher g_launcher;
bool g_confined = false;
std::vector<sock_filter> g_stub_filter;

// Closes every descriptor but `keep` (ascending): the launcher holds nothing else of umk's.
void close_all_but(std::array<int, 3> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = 0;
  for (int fd : keep) {
    if (static_cast<unsigned>(fd) > from) syscall(SYS_close_range, from, fd - 1, 0);
    from = static_cast<unsigned>(fd) + 1;
  }
  syscall(SYS_close_range, from, ~0u, 0);
}

// Runs in the forked launcher (a fork of a threaded process): raw system calls only.
[[noreturn]] void launcher_main(int sock, ChildArgs* args) {
  syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (syscall(SYS_getppid) != args->parent) syscall(SYS_exit_group, 1);
  syscall(SYS_prctl, PR_SET_NAME, "umk-launcher", 0, 0, 0);
  u64 all = ~u64{0};
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, nullptr, 8);
  close_all_but({sock, args->memfd, args->imagefd});
  syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  const sock_fprog prog{static_cast<u16>(g_stub_filter.size()), g_stub_filter.data()};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) syscall(SYS_exit_group, 2);
  static std::array<u8, 64 * 1024> child_stack;
  for (;;) {
    u8 req = 0;
    long n = syscall(SYS_read, sock, &req, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 1) syscall(SYS_exit_group, 0);  // umk is done (or gone)
    int pid = clone(stub_child, child_stack.data() + child_stack.size(),
                    CLONE_PARENT | CLONE_VM | CLONE_VFORK | SIGCHLD, args);
    i32 reply = pid < 0 ? -errno : pid;
    if (syscall(SYS_write, sock, &reply, sizeof reply) != sizeof reply) syscall(SYS_exit_group, 0);
  }
}

void start_launcher() {
  if (g_launcher.pid > 0) return;
  if (g_confined) panic("the stub launcher is gone and umk, confined, cannot start another");
  std::array<int, 2> sv{};
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv.data()) != 0) {
    panic("cannot make the stub launcher's socket: {}", std::string_view(strerror(errno)));
  }
  // Built here: the launcher, a fork of a threaded process, must not allocate.
  g_stub_filter = stub_host_filter();
  static ChildArgs args;
  // The launcher runs on the kernel's CPU (run_kernel pinned it): so do the stubs it starts.
  args = {phys_memfd(), stub_image_fd(), getpid(), nullptr, stub_cpus() == nullptr};
  pid_t pid = fork();
  if (pid < 0) panic("cannot fork the stub launcher: {}", std::string_view(strerror(errno)));
  if (pid == 0) launcher_main(sv[1], &args);
  close(sv[1]);
  g_launcher = {pid, sv[0]};
  kLog.debug("stub launcher: process {}", pid);
}

// A new stub process from the launcher (started now if there is none, or it died: possible
// only before umk is confined, e.g. in tests whose first kernel ran on a thread now gone).
Result<pid_t> launch_stub() {
  // Interrupts masked: another task's request must not interleave with ours on the socket.
  irq::DisabledGuard g;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (g_launcher.pid <= 0) {
      if (g_confined) return Errno::eagain;
      start_launcher();
    }
    u8 req = 1;
    i32 reply = 0;
    long n = -1;
    if (::write(g_launcher.sock, &req, 1) == 1) {
      do {
        n = ::read(g_launcher.sock, &reply, sizeof reply);
      } while (n < 0 && errno == EINTR);
    }
    if (n == sizeof reply) {
      if (reply > 0) return static_cast<pid_t>(reply);
      kLog.error("the stub launcher cannot start a stub: {}", std::string_view(strerror(-reply)));
      return Errno::eagain;
    }
    kLog.error("stub launcher {} is gone", g_launcher.pid);
    close(g_launcher.sock);
    g_launcher = {};
  }
  return Errno::eagain;
}

bool is_trap_stop(int st) { return WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP && (st >> 16) == 0; }

}  // namespace

namespace {
bool g_seccomp = false;
}  // namespace

bool seccomp_platform() { return g_seccomp; }
void set_platform(bool seccomp) { g_seccomp = seccomp; }

Result<i64> run_stub(Tracee& t, user_regs_struct& r) {
  if (ptrace(PTRACE_SETREGS, t.tid, nullptr, &r) != 0) return Errno::esrch;
  if (ptrace(PTRACE_CONT, t.tid, nullptr, nullptr) != 0) return Errno::esrch;
  for (;;) {
    int st = *wait_tracee(t);
    if (!WIFSTOPPED(st)) return Errno::esrch;
    if (is_trap_stop(st)) break;
    // Any other signal or event is not ours to deliver to the stub: suppress it.
    ptrace(PTRACE_CONT, t.tid, nullptr, nullptr);
  }
  if (ptrace(PTRACE_GETREGS, t.tid, nullptr, &r) != 0) return Errno::esrch;
  return static_cast<i64>(r.rax);
}

// Runs one host system call in a stopped stub thread at the stub's syscall gadget.
// Returns the raw result (negative errno on failure) or an error if the thread misbehaved.
Result<i64> inject(arch::AddressSpace& as, Tracee& t, u64 nr, std::array<u64, 6> a, pid_t* clone_tid) {
  user_regs_struct r = as.base_regs;
  r.rip = kStubSyscall;
  r.rax = nr;
  r.orig_rax = ~0ull;
  r.rdi = a[0];
  r.rsi = a[1];
  r.rdx = a[2];
  r.r10 = a[3];
  r.r8 = a[4];
  r.r9 = a[5];
  if (ptrace(PTRACE_SETREGS, t.tid, nullptr, &r) != 0) return Errno::esrch;
  if (ptrace(PTRACE_CONT, t.tid, nullptr, nullptr) != 0) return Errno::esrch;
  for (;;) {
    int st = *wait_tracee(t);
    if (!WIFSTOPPED(st)) return Errno::esrch;
    if ((st >> 16) == PTRACE_EVENT_CLONE) {
      unsigned long msg = 0;
      ptrace(PTRACE_GETEVENTMSG, t.tid, nullptr, &msg);
      if (clone_tid != nullptr) *clone_tid = static_cast<pid_t>(msg);
      ptrace(PTRACE_CONT, t.tid, nullptr, nullptr);
      continue;
    }
    if (is_trap_stop(st)) break;
    // Any other signal is not ours to deliver to the stub: suppress it.
    ptrace(PTRACE_CONT, t.tid, nullptr, nullptr);
  }
  if (ptrace(PTRACE_GETREGS, t.tid, nullptr, &r) != 0) return Errno::esrch;
  return static_cast<i64>(r.rax);
}

Result<void> inject_ok(arch::AddressSpace& as, Tracee& t, u64 nr, std::array<u64, 6> a) {
  i64 r = TRY(inject(as, t, nr, a));
  if (r < 0 && r > -4096) {
    kLog.error("stub system call {} failed: {}", nr, static_cast<Errno>(-r));
    return static_cast<Errno>(-r);
  }
  return {};
}

ReturnReason exception_reason(ExceptionKind kind, u32 vector) {
  ReturnReason rr;
  rr.kind = ReturnReason::Kind::Exception;
  rr.exception.kind = kind;
  rr.exception.vector = vector;
  return rr;
}

namespace {

// Queues the unmapping of everything in the fresh stub process that is not the stub's own
// region (its stack, vDSO and vvar).
Result<void> queue_clean_address_space(arch::AddressSpace& as) {
  std::ifstream maps("/proc/" + std::to_string(as.pid) + "/maps");
  if (!maps) return Errno::esrch;
  std::string line;
  while (std::getline(maps, line)) {
    u64 s = 0, e = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &s, &e) != 2) continue;
    if (s >= 0xffffffffff600000ull) continue;  // [vsyscall] cannot be unmapped (xonly)
    if (s >= kStubRegionStart && e <= kStubRegionEnd) continue;
    as.pending.push_back({SYS_munmap, {s, e - s, 0, 0, 0, 0}});
  }
  return {};
}

u64 host_prot(PageFlags f) {
  u64 p = PROT_NONE;
  if (has(f, PageFlags::R)) p |= PROT_READ;
  if (has(f, PageFlags::W)) p |= PROT_WRITE;
  if (has(f, PageFlags::X)) p |= PROT_EXEC;
  return p;
}

// Spare stubs (seccomp platform). Starting a stub (clone, exec, clean-up, set-up) and killing
// one cost a few hundred microseconds each, so a stub whose guest threads are provably gone
// (the host's word: tgkill finds none of them) is kept for the next address space instead.
// Only its control thread is left, and that runs nothing but the kernel's requests, so the old
// guest mappings can stay until the next owner's first batch unmaps them: its frames may be
// reused meanwhile, but nothing in the process can touch them. The slots' pages are zeroed.
constexpr usize kMaxSpareStubs = 4;
// A space that ran more threads than this keeps too many slot frames to park (36 KiB each).
constexpr u32 kMaxSpareSlots = 16;
// How long a retired space waits for guest threads that were just told to exit.
constexpr u64 kThreadExitWaitNs = 20 * 1000 * 1000;

std::vector<arch::AddressSpace*>& spare_stubs() {
  static std::vector<arch::AddressSpace*> v;
  return v;
}

bool keep_spare(arch::AddressSpace* as) {
  if (!as->seccomp || !seccomp_platform() || as->pid <= 0 || as->control.gone || as->live_threads != 0 ||
      as->next_slot > kMaxSpareSlots || spare_stubs().size() >= kMaxSpareStubs) {
    return false;
  }
  if (!seccomp_threads_gone(*as, kThreadExitWaitNs)) {
    kLog.debug("stub {}: guest threads still alive, not reused", as->pid);
    return false;
  }
  if (!seccomp_verify_retired(*as)) {
    kLog.debug("stub {}: its last thread is not where the stub sleeps, not reused", as->pid);
    return false;
  }
  seccomp_reset_space(*as);
  as->no_guest_yet = true;
  as->pending.clear();
  as->pending.push_back({SYS_munmap, {kGuestBase, kGuestTop - kGuestBase, 0, 0, 0, 0}});
  // The next owner's first thread, started now: it parks while the kernel gets on.
  if (seccomp_prepare_thread(*as).is_error()) return false;
  irq::DisabledGuard g;
  if (spare_stubs().size() >= kMaxSpareStubs) return false;
  spare_stubs().push_back(as);
  return true;
}

void destroy_address_space(arch::AddressSpace* as) {
  if (as->pid > 0 && !as->control.gone) {
    kill_stub(as->pid);
    while (!as->control.gone) (void)wait_tracee(as->control);
  }
  unregister_tracee(as->control);
  irq::DisabledGuard g;
  std::erase(live_pids(), as->pid);
}

}  // namespace

std::vector<int> stub_pids() {
  irq::DisabledGuard g;
  std::vector<int> pids = live_pids();
  std::erase_if(pids, [](int pid) {
    return std::ranges::any_of(spare_stubs(), [&](const arch::AddressSpace* as) { return as->pid == pid; });
  });
  return pids;
}

void start_stub_launcher() { start_launcher(); }

void set_confined() { g_confined = true; }

bool confined() { return g_confined; }

void release_spare_stubs() {
  // Called outside any task (run_kernel's end): reap directly, without the tracee wait queue.
  for (arch::AddressSpace* as : spare_stubs()) {
    unregister_tracee(as->control);
    kill_stub(as->pid);
    for (;;) {
      int st = 0;
      pid_t r = 0;
      {
        HostWait w;
        r = waitpid(as->pid, &st, __WALL);
      }
      if (r < 0 && errno == EINTR) continue;
      if (r != as->pid || WIFEXITED(st) || WIFSIGNALED(st)) break;
    }
    std::erase(live_pids(), as->pid);
    delete as;
  }
  spare_stubs().clear();
}

}  // namespace ostd::host

namespace ostd::arch {

using namespace ostd::host;  // NOLINT

void AddressSpaceDeleter::operator()(AddressSpace* as) const {
  if (keep_spare(as)) return;
  destroy_address_space(as);
  delete as;
}

Result<std::unique_ptr<AddressSpace, AddressSpaceDeleter>> create_address_space() {
  if (seccomp_platform()) {
    AddressSpace* spare = nullptr;
    {
      irq::DisabledGuard g;
      if (!spare_stubs().empty()) {
        spare = spare_stubs().back();
        spare_stubs().pop_back();
      }
    }
    if (spare != nullptr) return std::unique_ptr<AddressSpace, AddressSpaceDeleter>(spare);
  }
  std::unique_ptr<AddressSpace, AddressSpaceDeleter> as(new AddressSpace);
  as->request_frame = TRY(Frame::alloc());
  pid_t pid = TRY(launch_stub());
  as->pid = pid;
  as->control.tid = pid;
  register_tracee(as->control);
  {
    irq::DisabledGuard g;
    live_pids().push_back(pid);
  }
  int st = *wait_tracee(as->control);
  if (!is_trap_stop(st)) {
    kLog.error("stub {} did not start (status {:#x})", pid, st);
    return Errno::eagain;
  }
  as->seccomp = seccomp_platform();
  // Under seccomp, guest threads are not traced (a traced thread stops for every signal).
  long options = PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD;
  if (!as->seccomp) options |= PTRACE_O_TRACECLONE;
  if (ptrace(PTRACE_SETOPTIONS, pid, nullptr, options) != 0) {
    return Errno::eagain;
  }
  if (ptrace(PTRACE_GETREGS, pid, nullptr, &as->base_regs) != 0) return Errno::eagain;
  as->base_regs.eflags = 0x202;
  // The request page first; then one batch unmaps what the exec left and sets the stub up.
  TRY(inject_ok(
      *as, as->control, SYS_mmap,
      {kStubRequestPage, kPageSize, PROT_READ, MAP_SHARED | MAP_FIXED, kStubMemFd, as->request_frame->paddr()}));
  if (!as->seccomp) TRY(trap_vsyscalls(*as));
  TRY(queue_clean_address_space(*as));
  if (as->seccomp) {
    TRY(seccomp_setup_space(*as));
  } else {
    as->pending.push_back({SYS_rt_sigaction, {SIGSEGV, kStubSegvAction, 0, 8, 0, 0}});
  }
  TRY(flush_locked(*as));
  kLog.debug("address space: stub process {}", pid);
  return as;
}

// Requests that continue the previous one (the next pages, the next frames, the same
// protection) extend it: one host call maps a whole fault-around run or a forked range.
void as_map(AddressSpace& as, Vaddr va, Paddr pa, usize npages, PageFlags flags) {
  u64 prot = host_prot(flags);
  if (!as.pending.empty()) {
    HostRequest& last = as.pending.back();
    if (last.nr == SYS_mmap && last.args[0] + last.args[1] == va && last.args[5] + last.args[1] == pa &&
        last.args[2] == prot) {
      last.args[1] += npages * kPageSize;
      return;
    }
  }
  as.pending.push_back(
      {SYS_mmap,
       {va, npages * kPageSize, prot, MAP_SHARED | MAP_FIXED | MAP_POPULATE, static_cast<u64>(kStubMemFd), pa}});
}

void as_unmap(AddressSpace& as, Vaddr va, usize npages) {
  if (!as.pending.empty()) {
    HostRequest& last = as.pending.back();
    if (last.nr == SYS_munmap && last.args[0] + last.args[1] == va) {
      last.args[1] += npages * kPageSize;
      return;
    }
  }
  as.pending.push_back({SYS_munmap, {va, npages * kPageSize, 0, 0, 0, 0}});
}

void as_protect(AddressSpace& as, Vaddr va, usize npages, PageFlags flags) {
  u64 prot = host_prot(flags);
  if (!as.pending.empty()) {
    HostRequest& last = as.pending.back();
    if (last.nr == SYS_mprotect && last.args[0] + last.args[1] == va && last.args[2] == prot) {
      last.args[1] += npages * kPageSize;
      return;
    }
  }
  as.pending.push_back({SYS_mprotect, {va, npages * kPageSize, prot, 0, 0, 0}});
}

Result<void> as_flush(AddressSpace& as) {
  if (as.pending.empty()) return {};
  // A new image being loaded or a fork child being built: nothing in the process can reach its
  // mappings or the frames they name until a thread runs, and user_execute flushes first.
  if (as.no_guest_yet) return {};
  MutexGuard g(as.ctl_lock);
  return flush_locked(as);
}

// The guest's pages are not mapped in umk: every copy goes through the page table.
usize as_copy_direct(AddressSpace&, const Mutex&, Vaddr, std::span<u8>, bool) { return 0; }

}  // namespace ostd::arch

namespace ostd::host {

Result<void> flush_locked(arch::AddressSpace& as) {
  if (as.pending.empty()) return {};
  usize done = 0;
  while (done < as.pending.size()) {
    usize n = as.pending.size() - done;
    if (n > kRequestsPerPage) n = kRequestsPerPage;
    // SAFETY: done + n <= pending.size(): n live HostRequests (plain u64s, REQ_SIZE each).
    TRY(as.request_frame->write_bytes(
        0, std::span<const u8>(reinterpret_cast<const u8*>(&as.pending[done]), n * sizeof(arch::HostRequest))));
    user_regs_struct r = as.base_regs;
    r.rip = kStubBatch;
    r.r12 = kStubRequestPage;
    r.r13 = n;
    if (ptrace(PTRACE_SETREGS, as.pid, nullptr, &r) != 0) return Errno::eio;
    if (ptrace(PTRACE_CONT, as.pid, nullptr, nullptr) != 0) return Errno::eio;
    int st = 0;
    for (;;) {
      st = *wait_tracee(as.control);
      if (!WIFSTOPPED(st)) return Errno::eio;
      if (is_trap_stop(st)) break;
      ptrace(PTRACE_CONT, as.pid, nullptr, nullptr);
    }
    if (ptrace(PTRACE_GETREGS, as.pid, nullptr, &r) != 0) return Errno::eio;
    if (r.rax != 0) {
      kLog.error("stub mapping request failed: {}", static_cast<Errno>(-static_cast<i64>(r.rax)));
      as.pending.clear();
      return Errno::enomem;
    }
    done += n;
  }
  as.pending.clear();
  return {};
}

}  // namespace ostd::host

namespace ostd::arch {

// ---- user threads ----

void UserThreadDeleter::operator()(UserThread* t) const {
  if (t->as->seccomp) {
    (void)seccomp_end_thread(*t);
  } else if (!t->t.gone) {
    // Make the thread exit by itself at the stub's syscall gadget.
    if (inject(*t->as, t->t, SYS_exit, {0, 0, 0, 0, 0, 0}).is_error() || !t->t.gone) {
      while (!t->t.gone) {
        if (!wait_tracee(t->t)) break;
      }
    }
  }
  if (!t->as->seccomp) unregister_tracee(t->t);
  if (!t->retired) t->as->free_slots.push_back(t->slot);
  --t->as->live_threads;
  delete t;
}

Result<std::unique_ptr<UserThread, UserThreadDeleter>> create_user_thread(VmSpace& vm) {
  AddressSpace& as = vm.arch_space();
  MutexGuard g(as.ctl_lock);
  bool first = as.no_guest_yet;
  as.no_guest_yet = false;
  u32 slot = 0;
  if (as.seccomp) {
    // A retired thread kept by a space that was not made spare first is not verified: it goes.
    if (as.prepared && as.prepared->retired) seccomp_drop_prepared(as);
    if (as.prepared) {
      slot = as.prepared->slot;  // seccomp_start_thread takes the prepared thread
    } else {
      // A slot is reused only once its previous thread is really gone (its clear-tid word is 0).
      auto it =
          std::find_if(as.free_slots.begin(), as.free_slots.end(), [&](u32 s) { return seccomp_slot_free(as, s); });
      if (it != as.free_slots.end()) {
        slot = *it;
        as.free_slots.erase(it);
      } else {
        if (as.next_slot >= kStubMaxThreads) return Errno::eagain;
        slot = as.next_slot++;
      }
    }
    std::unique_ptr<UserThread, UserThreadDeleter> t(new UserThread);
    t->as = &as;
    t->slot = slot;
    ++as.live_threads;
    Result<void> r = seccomp_start_thread(as, *t, first);
    if (r.is_error()) return r.error();
    return t;
  }
  if (!as.free_slots.empty()) {
    slot = as.free_slots.back();
    as.free_slots.pop_back();
  } else {
    if (as.next_slot >= kStubMaxThreads) return Errno::eagain;
    slot = as.next_slot++;
    u64 alt = kStubAltStacks + slot * kStubAltStackSize;
    Result<void> r =
        inject_ok(as, as.control, SYS_mmap,
                  {alt, kStubAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, ~0ull, 0});
    if (r.is_error()) return Errno::enomem;
  }
  u64 alt = kStubAltStacks + slot * kStubAltStackSize;
  pid_t tid = 0;
  i64 r = TRY(inject(as, as.control, SYS_clone,
                     {CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, 0, 0, 0, 0, 0},
                     &tid));
  if (r <= 0) {
    as.free_slots.push_back(slot);
    return Errno::eagain;
  }
  std::unique_ptr<UserThread, UserThreadDeleter> t(new UserThread);
  t->as = &as;
  t->slot = slot;
  t->t.tid = static_cast<pid_t>(r);
  ++as.live_threads;
  register_tracee(t->t);
  int st = *wait_tracee(t->t);  // the new thread's initial SIGSTOP
  if (!WIFSTOPPED(st)) return Errno::eagain;
  stack_t ss{};
  // SAFETY: alt is a stub address, never dereferenced here; ss is read as its own sizeof bytes.
  ss.ss_sp = reinterpret_cast<void*>(alt);
  ss.ss_size = kStubAltStackSize;
  TRY(as.request_frame->write_bytes(0, std::span<const u8>(reinterpret_cast<const u8*>(&ss), sizeof ss)));
  TRY(inject_ok(as, t->t, SYS_sigaltstack, {kStubRequestPage, 0, 0, 0, 0, 0}));
  return t;
}

namespace {

void regs_to_host(const GeneralRegs& g, user_regs_struct& r) {
  r.rax = g.rax;
  r.rbx = g.rbx;
  r.rcx = g.rcx;
  r.rdx = g.rdx;
  r.rsi = g.rsi;
  r.rdi = g.rdi;
  r.rbp = g.rbp;
  r.rsp = g.rsp;
  r.r8 = g.r8;
  r.r9 = g.r9;
  r.r10 = g.r10;
  r.r11 = g.r11;
  r.r12 = g.r12;
  r.r13 = g.r13;
  r.r14 = g.r14;
  r.r15 = g.r15;
  r.rip = g.rip;
  // Only the flags user code may set (CF PF AF ZF SF TF DF OF AC ID); IF always on.
  r.eflags = (g.rflags & 0x244dd5ull) | 0x202ull;
  r.fs_base = g.fs_base < kGuestTop ? g.fs_base : 0;
  r.gs_base = g.gs_base < kGuestTop ? g.gs_base : 0;
  r.orig_rax = ~0ull;
}

void regs_from_host(const user_regs_struct& r, GeneralRegs& g) {
  g.rax = r.rax;
  g.rbx = r.rbx;
  g.rcx = r.rcx;
  g.rdx = r.rdx;
  g.rsi = r.rsi;
  g.rdi = r.rdi;
  g.rbp = r.rbp;
  g.rsp = r.rsp;
  g.r8 = r.r8;
  g.r9 = r.r9;
  g.r10 = r.r10;
  g.r11 = r.r11;
  g.r12 = r.r12;
  g.r13 = r.r13;
  g.r14 = r.r14;
  g.r15 = r.r15;
  g.rip = r.rip;
  g.rflags = r.eflags;
  g.fs_base = r.fs_base;
  g.gs_base = r.gs_base;
}

ReturnReason exception(ExceptionKind kind, u32 vector) { return exception_reason(kind, vector); }

ReturnReason thread_lost(UserThread& t) {
  kLog.error("stub thread {} disappeared", t.t.tid);
  t.t.gone = true;
  return exception(ExceptionKind::Unknown, ~0u);
}

struct PredCall {
  void* pred;
  bool (*call)(void*);
};

}  // namespace

namespace {
ReturnReason ptrace_execute(UserThread& t, VmSpace& vm, UserContext& ctx, void* pred, bool (*call)(void*));
}  // namespace

ReturnReason user_execute(UserThread& t, VmSpace& vm, UserContext& ctx, void* pred, bool (*call)(void*)) {
  // The guest runs in another process while we wait: its user time is the wait.
  u64 t0 = monotonic_ns();
  ReturnReason rr = t.as->seccomp ? seccomp_execute(t, vm, ctx, pred, call) : ptrace_execute(t, vm, ctx, pred, call);
  rr.user_ns = monotonic_ns() - t0;
  return rr;
}

namespace {
ReturnReason ptrace_execute(UserThread& t, VmSpace& vm, UserContext& ctx, void* pred, bool (*call)(void*)) {
  if (t.t.gone) return thread_lost(t);
  if (!t.as->pending.empty() && vm.flush().is_error()) return thread_lost(t);
  user_regs_struct r = t.as->base_regs;
  regs_to_host(ctx.regs(), r);
  if (ptrace(PTRACE_SETREGS, t.t.tid, nullptr, &r) != 0) {
    // The kernel refused the register set (e.g. a non-canonical address): a #GP on return.
    return exception(ExceptionKind::GeneralProtection, 13);
  }
  if (ptrace(PTRACE_SYSEMU, t.t.tid, nullptr, nullptr) != 0) return thread_lost(t);
  PredCall pc{pred, call};
  bool kicked = false;
  for (;;) {
    std::optional<int> st = wait_tracee(
        t.t,
        [](void* a) {
          // SAFETY: wait_tracee hands back &pc, this frame's PredCall, alive for the whole wait.
          auto* p = static_cast<PredCall*>(a);
          return p->call(p->pred);
        },
        &pc);
    if (!st) {
      if (!kicked) {
        syscall(SYS_tgkill, t.as->pid, t.t.tid, kKickSignal);
        kicked = true;
      }
      continue;
    }
    int s = *st;
    if (!WIFSTOPPED(s)) return thread_lost(t);
    int sig = WSTOPSIG(s);
    if (ptrace(PTRACE_GETREGS, t.t.tid, nullptr, &r) != 0) return thread_lost(t);
    if (sig == (SIGTRAP | 0x80)) {
      __ptrace_syscall_info info{};
      long n = ptrace(PTRACE_GET_SYSCALL_INFO, t.t.tid, sizeof info, &info);
      regs_from_host(r, ctx.regs());
      if (n <= 0 || info.arch != AUDIT_ARCH_X86_64) {
        // int 0x80 / sysenter: no IA-32 emulation, so a #GP as on such a kernel.
        return exception(ExceptionKind::GeneralProtection, 13);
      }
      ctx.regs().rax = r.orig_rax;
      ReturnReason rr;
      rr.kind = ReturnReason::Kind::Syscall;
      return rr;
    }
    if (sig == kKickSignal) {
      regs_from_host(r, ctx.regs());
      ReturnReason rr;
      rr.kind = ReturnReason::Kind::KernelEvent;
      return rr;
    }
    siginfo_t si{};
    bool have_si = ptrace(PTRACE_GETSIGINFO, t.t.tid, nullptr, &si) == 0;
    switch (sig) {
      case SIGSEGV: {
        if (!have_si || (si.si_code != SEGV_MAPERR && si.si_code != SEGV_ACCERR && si.si_code != 4)) {
          regs_from_host(r, ctx.regs());
          return exception(ExceptionKind::GeneralProtection, 13);
        }
        user_regs_struct saved = r;
        // The host resets the FPU/vector state for the handler and we do not return through
        // its sigreturn, so save the guest's whole xstate here and put it back afterwards
        // (else a faulting vector store would resume with zeroed registers).
        iovec xiov{t.xstate.data(), t.xstate.size()};
        // SAFETY: NT_X86_XSTATE and SIGSEGV are plain integers in ptrace's pointer slots;
        // xiov covers exactly t.xstate's bytes.
        bool have_xstate = ptrace(PTRACE_GETREGSET, t.t.tid, reinterpret_cast<void*>(NT_X86_XSTATE), &xiov) == 0;
        // Run the stub's handler to learn the error code (read/write/exec, present).
        if (ptrace(PTRACE_CONT, t.t.tid, nullptr, reinterpret_cast<void*>(SIGSEGV)) != 0) {
          return thread_lost(t);
        }
        u64 err = 0;
        for (;;) {
          std::optional<int> s2 = wait_tracee(t.t);
          if (!WIFSTOPPED(*s2)) return thread_lost(t);
          if (is_trap_stop(*s2)) {
            user_regs_struct h{};
            if (ptrace(PTRACE_GETREGS, t.t.tid, nullptr, &h) != 0) return thread_lost(t);
            err = h.rax;
            break;
          }
          ptrace(PTRACE_CONT, t.t.tid, nullptr, nullptr);
        }
        // SAFETY: the regset type as ptrace's addr integer; xiov covers t.xstate (length from GET).
        if (have_xstate && ptrace(PTRACE_SETREGSET, t.t.tid, reinterpret_cast<void*>(NT_X86_XSTATE), &xiov) != 0) {
          return thread_lost(t);
        }
        regs_from_host(saved, ctx.regs());
        ReturnReason rr = exception(ExceptionKind::PageFault, 14);
        // SAFETY: si_addr is only taken as a number (the host's fault address), never dereferenced.
        rr.exception.address = reinterpret_cast<u64>(si.si_addr);  // from the host kernel
        rr.exception.error_code = err & 0x1f;
        // "Present" in our terms: the page is mapped but the access is not allowed. The host's
        // own error-code P bit says whether *its* page table had the entry, which is lazy.
        rr.exception.present = si.si_code == SEGV_ACCERR;
        rr.exception.access = (err & 0x10) != 0 ? Access::Execute : (err & 2) != 0 ? Access::Write : Access::Read;
        return rr;
      }
      case SIGSYS:
        if (have_si && si.si_code == 1 /* SYS_SECCOMP */ && si.si_arch == AUDIT_ARCH_X86_64) {
          // A call into the vsyscall page (trap_vsyscalls): the host has already emulated the
          // return to the caller; the kernel answers it as the system call it stands for.
          regs_from_host(r, ctx.regs());
          ctx.regs().rax = static_cast<u64>(si.si_syscall);
          ReturnReason rr;
          rr.kind = ReturnReason::Kind::Syscall;
          return rr;
        }
        if (ptrace(PTRACE_SYSEMU, t.t.tid, nullptr, nullptr) != 0) return thread_lost(t);
        continue;
      case SIGILL: regs_from_host(r, ctx.regs()); return exception(ExceptionKind::InvalidOpcode, 6);
      case SIGFPE:
        regs_from_host(r, ctx.regs());
        if (have_si && si.si_code == FPE_INTDIV) return exception(ExceptionKind::DivideError, 0);
        if (have_si && si.si_code == FPE_INTOVF) return exception(ExceptionKind::Overflow, 4);
        return exception(ExceptionKind::SimdFloatingPoint, 19);
      case SIGTRAP:
        regs_from_host(r, ctx.regs());
        if (have_si && si.si_code == SI_KERNEL) return exception(ExceptionKind::Breakpoint, 3);
        return exception(ExceptionKind::Debug, 1);
      case SIGBUS:
        regs_from_host(r, ctx.regs());
        if (have_si && si.si_code == BUS_ADRALN) {
          return exception(ExceptionKind::AlignmentCheck, 17);
        }
        return exception(ExceptionKind::GeneralProtection, 13);
      default:
        // Not the guest's business (a stray host signal): suppress it and keep going.
        if (ptrace(PTRACE_SYSEMU, t.t.tid, nullptr, nullptr) != 0) return thread_lost(t);
        continue;
    }
  }
}

}  // namespace

namespace {
// The stopped thread's whole XSAVE image (NT_X86_XSTATE; its size is the host's), or nullopt
// where the host has no XSAVE.
std::optional<std::vector<u8>> get_xstate(pid_t tid) {
  std::vector<u8> buf(16384);
  iovec iov{buf.data(), buf.size()};
  // SAFETY: the regset type as ptrace's addr integer; iov covers exactly buf's 16384 bytes.
  if (ptrace(PTRACE_GETREGSET, tid, reinterpret_cast<void*>(NT_X86_XSTATE), &iov) != 0 || iov.iov_len < 576) {
    return std::nullopt;
  }
  buf.resize(iov.iov_len);
  return buf;
}
}  // namespace

Result<FpuState> user_get_fpu(UserThread& t) {
  if (t.as->seccomp) return seccomp_get_fpu(t);
  if (auto x = get_xstate(t.t.tid)) return fpu_internal::load_image(*x, true, host_xcr0());
  user_fpregs_struct f{};
  if (ptrace(PTRACE_GETFPREGS, t.t.tid, nullptr, &f) != 0) return Errno::esrch;
  static_assert(sizeof(f) == 512);
  FpuState s;
  // SAFETY: f is 512 bytes (static_assert above), the size of s.fxsave; both plain data.
  std::memcpy(s.fxsave.data(), &f, sizeof f);
  return s;
}

Result<void> user_set_fpu(UserThread& t, const FpuState& s) {
  if (t.as->seccomp) return seccomp_set_fpu(t, s);
  if (auto x = get_xstate(t.t.tid)) {
    fpu_internal::store_image(*x, true, host_xcr0(), s, 0xffff);
    iovec iov{x->data(), x->size()};
    // SAFETY: the regset type as ptrace's addr integer; iov covers exactly *x's bytes.
    if (ptrace(PTRACE_SETREGSET, t.t.tid, reinterpret_cast<void*>(NT_X86_XSTATE), &iov) != 0) {
      return Errno::einval;
    }
    return {};
  }
  user_fpregs_struct f{};
  // SAFETY: user_fpregs_struct is 512 bytes, the size of s.fxsave; both plain data.
  std::memcpy(&f, s.fxsave.data(), sizeof f);
  f.mxcsr &= 0xffff;  // reserved MXCSR bits would make the host refuse the state
  if (ptrace(PTRACE_SETFPREGS, t.t.tid, nullptr, &f) != 0) return Errno::einval;
  return {};
}

}  // namespace ostd::arch
