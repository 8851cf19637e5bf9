// procfs: /proc/self, /proc/<pid>/{stat,status,cmdline,comm,maps,environ,exe,cwd,root,fd/,task/},
// /proc/{meminfo,cpuinfo,mounts,uptime,loadavg,filesystems,version,stat}.
//
// Inodes are made on lookup from the live process table; file contents are generated when the
// file is opened (a snapshot, so partial reads stay consistent).
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <ostd/boot.h>
#include <ostd/bytes.h>
#include <ostd/cpu.h>
#include <ostd/format.h>
#include <ostd/mm/frame.h>
#include <ostd/mm/io.h>
#include <ostd/time.h>

#include "device/block.h"
#include "device/devices.h"
#include "device/kmsg.h"
#include "fs/protected.h"
#include "fs/vfs.h"
#include "net/inet.h"
#include "net/socket.h"
#include "process/internal.h"
#include "process/process.h"
#include "process/ptrace.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::usize;

namespace {

constexpr u64 kProcMagic = 0x9fa0;
constexpr u64 kClockTicks = 100;  // USER_HZ
constexpr u64 kNsPerTick = 1000000000 / kClockTicks;

using Generator = std::function<Result<std::string>()>;
/// A generator whose text depends on who reads it (nullptr: not known; /proc/sys/kernel/hostname
/// is the reader's UTS namespace's).
using CallerGenerator = std::function<Result<std::string>(const Process*)>;
using LinkTarget = std::function<Result<std::string>(const Process*)>;

// A read-only file whose contents are generated at its first read (as Linux's seq_file: a
// /proc/self/cmdline opened before an exec and read after it shows the new program) and kept
// for the reads after it, so partial reads stay consistent.
class SnapshotFile final : public DeviceFile {
 public:
  SnapshotFile(std::shared_ptr<Dentry> d, CallerGenerator gen, u32 flags)
      : DeviceFile(std::move(d)), gen_(std::move(gen)) {
    set_status_flags(flags);
  }
  Result<usize> read(Thread& t, ostd::VmWriter& out) override {
    auto g = lock_.lock();
    TRY(generate(&t.process()));
    usize n = copy_out(pos_, out);
    pos_ += n;
    return n;
  }
  Result<usize> read_at(Thread& t, u64 off, ostd::VmWriter& out) override {
    auto g = lock_.lock();
    TRY(generate(&t.process()));
    return copy_out(off, out);
  }
  Result<usize> write(Thread&, ostd::VmReader&) override { return Errno::eio; }
  Result<ostd::i64> seek(ostd::i64 offset, int whence) override {
    auto g = lock_.lock();
    if (whence == 2) TRY(generate(nullptr));
    ostd::i64 base = whence == 0   ? 0
                     : whence == 1 ? static_cast<ostd::i64>(pos_)
                     : whence == 2 ? static_cast<ostd::i64>(text_.size())
                                   : -1;
    if (base < 0) return Errno::einval;
    ostd::i64 np = 0;
    if (!ostd::checked_add(base, offset, np)) return Errno::eoverflow;  // as regular files
    if (np < 0) return Errno::einval;
    pos_ = static_cast<u64>(np);
    return np;
  }

 private:
  Result<void> generate(const Process* caller) {
    if (generated_) return {};
    text_ = TRY(gen_(caller));
    generated_ = true;
    return {};
  }
  usize copy_out(u64 off, ostd::VmWriter& out) {
    if (off >= text_.size()) return 0;
    usize n = std::min<usize>(out.avail(), text_.size() - off);
    auto bytes = ostd::bytes_of_string(text_).subspan(static_cast<usize>(off), n);
    if (out.write_bytes(bytes).is_error()) return 0;
    return n;
  }
  ostd::Mutex lock_;
  CallerGenerator gen_;
  bool generated_ = false;
  std::string text_;
  u64 pos_ = 0;
};

class ProcFile final : public Inode {
 public:
  ProcFile(u64 dev, Generator gen, u32 perm = 0444)
      : Inode(dev, abi::kSIfreg | perm), gen_([g = std::move(gen)](const Process*) { return g(); }) {}
  ProcFile(u64 dev, CallerGenerator gen, u32 perm = 0444) : Inode(dev, abi::kSIfreg | perm), gen_(std::move(gen)) {}
  Result<usize> read_at(u64 off, ostd::VmWriter& out) override {
    std::string text = TRY(gen_(nullptr));
    if (off >= text.size()) return usize{0};
    usize n = std::min<usize>(out.avail(), text.size() - off);
    TRY(out.write_bytes(ostd::bytes_of_string(text).subspan(static_cast<usize>(off), n)));
    return n;
  }
  Result<std::shared_ptr<File>> open(const std::shared_ptr<Dentry>& d, u32 flags) override {
    if ((flags & kOAccMode) != kORdOnly) return Errno::eacces;
    TRY(gen_(nullptr));  // the process may be gone (ESRCH) or the file unreadable now
    return std::shared_ptr<File>(std::make_shared<SnapshotFile>(d, gen_, flags));
  }

 private:
  CallerGenerator gen_;
};

// A /proc/sys integer that root may set, as Linux's proc_dointvec_minmax: it reads as the
// value and a newline (at offset 0; past it, end of file). A write at offset 0 takes one number
// (decimal, 0x hex or 0 octal, a leading '-', blanks around it) in [min, max] and answers the
// bytes it used; anything else is EINVAL. Writes at another offset are ignored (sysctl's
// strict mode, Linux's default). Who may write is the file's mode's business (0644, root's).
class SysctlIntFile final : public DeviceFile {
 public:
  SysctlIntFile(std::shared_ptr<Dentry> d, std::atomic<int>& value, int min, int max, u32 flags)
      : DeviceFile(std::move(d)), value_(value), min_(min), max_(max) {
    set_status_flags(flags);
  }
  Result<usize> read(Thread& t, ostd::VmWriter& out) override {
    auto g = lock_.lock();
    usize n = TRY(read_at_locked(pos_, out));
    pos_ += n;
    return n;
  }
  Result<usize> read_at(Thread&, u64 off, ostd::VmWriter& out) override {
    auto g = lock_.lock();
    return read_at_locked(off, out);
  }
  Result<usize> write(Thread&, ostd::VmReader& in) override {
    auto g = lock_.lock();
    usize n = TRY(write_at_locked(pos_, in));
    pos_ += n;
    return n;
  }
  Result<usize> write_at(Thread&, u64 off, ostd::VmReader& in) override {
    auto g = lock_.lock();
    return write_at_locked(off, in);
  }
  Result<ostd::i64> seek(ostd::i64 offset, int whence) override {
    auto g = lock_.lock();
    ostd::i64 base = whence == 0 ? 0 : whence == 1 ? static_cast<ostd::i64>(pos_) : -1;
    if (base < 0) return Errno::einval;  // SEEK_END: a sysctl has no size
    ostd::i64 np = 0;
    if (!ostd::checked_add(base, offset, np)) return Errno::eoverflow;
    if (np < 0) return Errno::einval;
    pos_ = static_cast<u64>(np);
    return np;
  }

 private:
  Result<usize> read_at_locked(u64 off, ostd::VmWriter& out) {
    if (off != 0) return usize{0};
    std::string text = ostd::format("{}\n", value_.load(std::memory_order_relaxed));
    usize n = std::min<usize>(out.avail(), text.size());
    TRY(out.write_bytes(ostd::bytes_of_string(text).first(n)));
    return n;
  }
  Result<usize> write_at_locked(u64 off, ostd::VmReader& in) {
    if (off != 0 || !in.has_remain()) return usize{0};
    constexpr usize kMaxText = 4096;
    std::vector<ostd::u8> bytes(std::min(in.remain(), kMaxText));
    TRY(in.read_bytes(bytes));
    const std::string text(bytes.begin(), bytes.end());
    auto blank = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    usize i = 0;
    while (i < text.size() && blank(text[i])) ++i;
    bool neg = i < text.size() && text[i] == '-';
    if (neg) ++i;
    // proc_get_long: at most 21 characters of number, ended by a blank or the end.
    usize start = i;
    unsigned base = 10;
    if (i + 1 < text.size() && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
      base = 16;
      i += 2;
    } else if (i < text.size() && text[i] == '0') {
      base = 8;
    }
    u64 v = 0;
    usize digits = 0;
    for (; i < text.size(); ++i, ++digits) {
      char c = text[i];
      unsigned d = c >= '0' && c <= '9'   ? unsigned(c - '0')
                   : c >= 'a' && c <= 'f' ? unsigned(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? unsigned(c - 'A' + 10)
                                          : 99;
      if (d >= base) break;
      if (!ostd::checked_mul<u64>(v, base, v) || !ostd::checked_add<u64>(v, d, v)) return Errno::einval;
    }
    if ((digits == 0 && base != 8) || i - start >= 21) return Errno::einval;
    if (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') return Errno::einval;
    if (v > (neg ? u64{1} << 31 : u64{0x7fffffff})) return Errno::einval;
    ostd::i64 value = neg ? -static_cast<ostd::i64>(v) : static_cast<ostd::i64>(v);
    if (value < min_ || value > max_) return Errno::einval;
    value_.store(static_cast<int>(value), std::memory_order_relaxed);
    while (i < text.size() && blank(text[i])) ++i;
    return i;
  }

  ostd::Mutex lock_;
  std::atomic<int>& value_;
  int min_, max_;
  u64 pos_ = 0;
};

class SysctlInt final : public Inode {
 public:
  SysctlInt(u64 dev, std::atomic<int>& value, int min, int max)
      : Inode(dev, abi::kSIfreg | 0644), value_(value), min_(min), max_(max) {}
  Result<usize> read_at(u64 off, ostd::VmWriter& out) override {
    std::string text = ostd::format("{}\n", value_.load(std::memory_order_relaxed));
    if (off >= text.size()) return usize{0};
    usize n = std::min<usize>(out.avail(), text.size() - off);
    TRY(out.write_bytes(ostd::bytes_of_string(text).subspan(static_cast<usize>(off), n)));
    return n;
  }
  Result<std::shared_ptr<File>> open(const std::shared_ptr<Dentry>& d, u32 flags) override {
    return std::shared_ptr<File>(std::make_shared<SysctlIntFile>(d, value_, min_, max_, flags));
  }

 private:
  std::atomic<int>& value_;
  int min_, max_;
};

// /proc/PID/mem: the process's memory at file offsets equal to addresses, read and written as
// ptrace does (past protections; EIO where nothing is mapped). Mode 0600 of the process's
// owner stands for Linux's ptrace access check at open.
Result<std::shared_ptr<Process>> live_process(ostd::i32 pid);

class ProcMem final : public Inode {
 public:
  ProcMem(u64 dev, ostd::i32 pid) : Inode(dev, abi::kSIfreg | 0600), pid_(pid) {}
  Result<usize> read_at(u64 off, ostd::VmWriter& out) override {
    auto mm = TRY(memory());
    usize done = 0;
    std::vector<ostd::u8> buf;
    while (out.avail() > 0) {
      const usize n = std::min<usize>(out.avail(), ostd::kPageSize - (off + done) % ostd::kPageSize);
      buf.resize(n);
      if (mm->read_forced(off + done, buf).is_error()) break;
      TRY(out.write_bytes(buf));
      done += n;
    }
    if (done == 0 && out.avail() > 0) return Errno::eio;
    return done;
  }
  Result<usize> write_at(u64 off, ostd::VmReader& in) override {
    auto mm = TRY(memory());
    usize done = 0;
    std::vector<ostd::u8> buf;
    while (in.remain() > 0) {
      const usize n = std::min<usize>(in.remain(), ostd::kPageSize - (off + done) % ostd::kPageSize);
      buf.resize(n);
      TRY(in.read_bytes(buf));
      if (mm->write_forced(off + done, buf).is_error()) break;
      done += n;
    }
    if (done == 0 && in.remain() > 0) return Errno::eio;
    return done;
  }

 private:
  Result<std::shared_ptr<MemoryMap>> memory() const {
    auto p = TRY(live_process(pid_));
    if (!p->mm) return Errno::eio;
    return p->mm;
  }
  ostd::i32 pid_;
};

using MagicTarget = std::function<std::shared_ptr<File>()>;

class ProcLink final : public Inode {
 public:
  ProcLink(u64 dev, LinkTarget target, MagicTarget magic = nullptr, bool is_magic = false)
      : Inode(dev, abi::kSIflnk | 0777), target_(std::move(target)), magic_(std::move(magic)),
        is_magic_(is_magic || magic_ != nullptr) {}
  Result<std::string> readlink(const Process* caller) override { return target_(caller); }
  std::shared_ptr<File> magic_target(const Process*) override { return magic_ ? magic_() : nullptr; }
  bool is_magic_link() const override { return is_magic_; }

 private:
  LinkTarget target_;
  MagicTarget magic_;
  bool is_magic_;
};

struct Child {
  std::string name;
  std::shared_ptr<Inode> inode;
};
using Lister = std::function<Result<std::vector<Child>>()>;

class ProcDir final : public Inode {
 public:
  ProcDir(u64 dev, Lister lister, u32 perm = 0555) : Inode(dev, abi::kSIfdir | perm), lister_(std::move(lister)) {}
  Result<std::shared_ptr<Inode>> lookup(std::string_view name) override {
    auto children = TRY(lister_());
    for (auto& c : children) {
      if (c.name == name) return c.inode;
    }
    return Errno::enoent;
  }
  Result<std::vector<DirEntry>> list() override {
    auto children = TRY(lister_());
    std::vector<DirEntry> out;
    out.reserve(children.size());
    for (auto& c : children) out.push_back(DirEntry{c.name, c.inode->ino(), dirent_type(c.inode->mode())});
    return out;
  }

 private:
  Lister lister_;
};

Result<std::shared_ptr<Process>> live_process(ostd::i32 pid) {
  auto p = pid_table().process(pid);
  if (!p || p->state == Process::State::Reaped) return Errno::esrch;
  return p;
}

// The monotonic time of boot.
u64 boot_ns() { return ostd::monotonic_ns() - uptime_ns(); }

// Whether thread `tid` sleeps in the kernel (/proc/PID reports the main thread's state,
// /proc/PID/task/TID its thread's).
bool thread_sleeping(ostd::i32 tid) {
  auto t = pid_table().thread(tid);
  return t && t->sleeping();
}

char state_letter(const Process& p, ostd::i32 tid) {
  switch (p.state) {
    case Process::State::Running: return in_trace_stop(p) ? 't' : thread_sleeping(tid) ? 'S' : 'R';
    case Process::State::Stopped: return 'T';
    case Process::State::Zombie: return 'Z';
    case Process::State::Reaped: return 'X';
  }
  return 'S';
}

std::string hex16(u64 v) {
  std::string s = ostd::format("{:x}", v);
  return std::string(16 - std::min<usize>(16, s.size()), '0') + s;
}

std::string pad_left(std::string s, usize width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

u64 vm_size_kb(const Process& p) {
  if (!p.mm) return 0;
  u64 total = 0;
  for (const auto& v : p.mm->areas()) total += v.end - v.start;
  return total / 1024;
}

// `tid`: the thread a /proc/PID/task/TID/stat describes (its id and state; the rest is the
// process's); the main thread's for /proc/PID/stat.
Result<std::string> gen_stat(ostd::i32 pid, ostd::i32 tid) {
  auto p = TRY(live_process(pid));
  auto parent = parent_of(*p);
  usize nthreads = threads_of(*p).size();
  u64 utime = p->utime_ns / kNsPerTick, stime = p->stime_ns / kNsPerTick;
  u64 start = (p->start_ns - std::min(p->start_ns, boot_ns())) / kNsPerTick;
  std::string s =
      ostd::format("{} ({}) {} {} {} {} 0 -1 4194560 {} {} 0 0 {} {} {} {} {} {} {} 0 {} {} {} ", tid, p->comm,
                   std::string(1, state_letter(*p, tid)), parent ? parent->pid() : 0, p->pgid, p->sid, p->min_flt,
                   p->cmin_flt, utime, stime, p->cutime_ns / kNsPerTick, p->cstime_ns / kNsPerTick, 20 + p->nice,
                   p->nice, std::max<usize>(1, nthreads), start, vm_size_kb(*p) * 1024, vm_size_kb(*p) / 4);
  s += "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 ";
  s += ostd::format("{}\n", p->state == Process::State::Zombie ? p->exit_code : 0);
  return s;
}

Result<std::string> gen_status(ostd::i32 pid, ostd::i32 tid) {
  auto p = TRY(live_process(pid));
  auto parent = parent_of(*p);
  using namespace std::string_view_literals;
  const std::string_view state = p->state == Process::State::Zombie    ? "Z (zombie)"sv
                                 : p->state == Process::State::Stopped ? "T (stopped)"sv
                                 : in_trace_stop(*p)                   ? "t (tracing stop)"sv
                                 : thread_sleeping(tid)                ? "S (sleeping)"sv
                                                                       : "R (running)"sv;
  SigSet blocked{};
  SigSet pending{};
  auto threads = threads_of(*p);
  if (!threads.empty()) {
    blocked = threads.front()->sigmask;
    pending = threads.front()->pending;
  }
  SigSet ignored{}, caught{};
  if (p->handlers) {
    for (usize i = 1; i < p->handlers->actions.size(); ++i) {
      u64 h = p->handlers->actions.at(i).handler;
      if (h == 1) ignored.bits |= u64{1} << (i - 1);
      if (h > 1) caught.bits |= u64{1} << (i - 1);
    }
  }
  u64 vm = vm_size_kb(*p);
  std::string s;
  std::string umask = ostd::format("{:o}", p->fs ? p->fs->umask : 022);
  umask.insert(0, 4 - std::min<usize>(4, umask.size()), '0');
  s += ostd::format("Name:\t{}\nUmask:\t{}\nState:\t{}\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\n", p->comm, umask,
                    state, pid, tid, parent ? parent->pid() : 0);
  s += ostd::format("TracerPid:\t{}\nUid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\n", tracer_pid_of(*p), p->creds.uid,
                    p->creds.euid, p->creds.suid, p->creds.fsuid, p->creds.gid, p->creds.egid, p->creds.sgid,
                    p->creds.fsgid);
  std::string groups;
  for (u32 g : p->creds.groups) groups += ostd::format("{} ", g);
  u64 rss = p->vm ? p->vm->mapped_pages() * 4 : 0;
  s += ostd::format("FDSize:\t{}\nGroups:\t{}\nVmPeak:\t{} kB\nVmSize:\t{} kB\nVmHWM:\t{} kB\nVmRSS:\t{} kB\n",
                    p->fds ? p->fds->limit() : 0, groups, vm, vm, rss, rss);
  s += ostd::format("Threads:\t{}\n", std::max<usize>(1, threads.size()));
  s += ostd::format("SigQ:\t0/{}\nSigPnd:\t{}\nShdPnd:\t{}\nSigBlk:\t{}\nSigIgn:\t{}\nSigCgt:\t{}\n", 63432,
                    hex16(pending.bits), hex16(p->shared_pending.bits), hex16(blocked.bits), hex16(ignored.bits),
                    hex16(caught.bits));
  const Credentials& c = p->creds;
  const bool nnp = !threads.empty() && threads.front()->no_new_privs;
  const int seccomp = threads.empty() ? 0 : threads.front()->seccomp_mode;
  s += ostd::format("CapInh:\t{}\nCapPrm:\t{}\nCapEff:\t{}\nCapBnd:\t{}\nCapAmb:\t{}\nNoNewPrivs:\t{}\nSeccomp:\t{}\n",
                    hex16(c.cap_inheritable), hex16(c.cap_permitted), hex16(c.cap_effective), hex16(c.cap_bounding),
                    hex16(c.cap_ambient), nnp ? 1 : 0, seccomp);
  return s;
}

// Bytes [from, to) of p's memory, as far as they are mapped (at most 1 MiB).
std::string read_process_memory(const Process& p, ostd::Vaddr from, ostd::Vaddr to) {
  std::string out;
  if (!p.vm || to <= from) return out;
  std::vector<ostd::u8> buf(std::min<u64>(to - from, u64{1} << 20));
  auto n = p.vm->read_bytes_partial(from, buf);
  if (n.is_error()) return out;
  out.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n.value()));
  return out;
}

// As Linux's get_mm_cmdline: the argument strings as they are now in the process's memory; when
// the program overwrote the NUL that ended them (setproctitle), up to the first NUL, reading on
// into the environment.
Result<std::string> gen_cmdline(ostd::i32 pid) {
  auto p = TRY(live_process(pid));
  if (p->state == Process::State::Zombie || !p->vm) return std::string();
  if (p->arg_end <= p->arg_start) {
    std::string s;
    for (const auto& a : p->cmdline) {
      s += a;
      s.push_back('\0');
    }
    return s;
  }
  std::string args = read_process_memory(*p, p->arg_start, p->arg_end);
  if (!args.empty() && args.back() != '\0' && args.size() == p->arg_end - p->arg_start) {
    std::string more = read_process_memory(*p, p->arg_start, std::max(p->env_end, p->arg_end));
    usize nul = more.find('\0');
    return nul == std::string::npos ? more : more.substr(0, nul + 1);
  }
  return args;
}

Result<std::string> gen_environ(ostd::i32 pid) {
  auto p = TRY(live_process(pid));
  if (p->state == Process::State::Zombie || !p->vm) return std::string();
  return read_process_memory(*p, p->env_start, p->env_end);
}

Result<std::string> gen_auxv(ostd::i32 pid) {
  auto p = TRY(live_process(pid));
  auto bytes = ostd::bytes_of_span(std::span<const u64>(p->saved_auxv));
  return std::string(bytes.begin(), bytes.end());
}

// As Linux's show_map_vma: "start-end perms offset major:minor inode", the name from column 74.
Result<std::string> gen_maps(ostd::i32 pid) {
  auto p = TRY(live_process(pid));
  std::string s;
  if (!p->mm) return s;
  auto hex = [](u64 v, usize width) {
    std::string h = ostd::format("{:x}", v);
    return std::string(width - std::min(width, h.size()), '0') + h;
  };
  for (const auto& v : p->mm->areas()) {
    std::string perms;
    perms += (v.prot & 1) != 0 ? 'r' : '-';
    perms += (v.prot & 2) != 0 ? 'w' : '-';
    perms += (v.prot & 4) != 0 ? 'x' : '-';
    perms += (v.flags & 1) != 0 ? 's' : 'p';
    bool file = v.ino != 0;
    // Shared anonymous memory shows as Linux's shmem object: "/dev/zero (deleted)" on 00:01,
    // with its page offset.
    const bool shmem = !file && (v.flags & kMapShared) != 0 && (v.flags & kMapAnonymous) != 0 && v.shared;
    std::string line = ostd::format("{}-{} {} {} {}:{} {} ", hex(v.start, 8), hex(v.end, 8), perms,
                                    hex(file || shmem ? v.file_offset : 0, 8), hex(file ? dev_major(v.dev) : 0, 2),
                                    hex(file    ? dev_minor(v.dev)
                                        : shmem ? 1
                                                : 0,
                                        2),
                                    file ? v.ino : 0);
    const std::string name = shmem && v.name.empty() ? std::string("/dev/zero (deleted)") : v.name;
    if (!name.empty()) {
      line.append(line.size() < 72 ? 72 - line.size() : 0, ' ');  // seq_pad to 72, then a space
      line += ' ';
      line += name;
    }
    s += line + "\n";
  }
  return s;
}

// As Linux's show_smap: each area's maps line, then its sizes. A page counts as shared when
// another mapping or the page cache holds its frame too (Pss divides it among the holders), as
// dirty when it is mapped writable.
Result<std::string> gen_smaps(ostd::i32 pid, bool rollup) {
  auto p = TRY(live_process(pid));
  std::string s;
  if (!p->mm || !p->vm) return s;
  std::string maps = TRY(gen_maps(pid));
  struct Sizes {
    u64 size = 0, rss = 0, pss = 0, shared_clean = 0, shared_dirty = 0, private_clean = 0, private_dirty = 0, anon = 0;
  };
  auto print = [&](const Sizes& z) {
    auto row = [&](std::string_view name, u64 kb) {
      s += std::string(name) + ":" + pad_left(ostd::format("{}", kb), 23 - std::min<usize>(22, name.size())) + " kB\n";
    };
    if (!rollup) {
      row("Size", z.size);
      row("KernelPageSize", 4);
      row("MMUPageSize", 4);
    }
    row("Rss", z.rss);
    row("Pss", z.pss);
    row("Pss_Dirty", z.private_dirty + z.shared_dirty);
    if (rollup) {
      row("Pss_Anon", z.anon);
      row("Pss_File", z.pss - std::min(z.pss, z.anon));
      row("Pss_Shmem", 0);
    }
    row("Shared_Clean", z.shared_clean);
    row("Shared_Dirty", z.shared_dirty);
    row("Private_Clean", z.private_clean);
    row("Private_Dirty", z.private_dirty);
    row("Referenced", z.rss);
    row("Anonymous", z.anon);
    using namespace std::string_view_literals;
    for (std::string_view zero : {"KSM"sv, "LazyFree"sv, "AnonHugePages"sv, "ShmemPmdMapped"sv, "FilePmdMapped"sv,
                                  "Shared_Hugetlb"sv, "Private_Hugetlb"sv, "Swap"sv, "SwapPss"sv, "Locked"sv}) {
      row(zero, 0);
    }
  };
  Sizes total;
  usize line_start = 0;
  for (const auto& v : p->mm->areas()) {
    usize eol = maps.find('\n', line_start);
    std::string line = maps.substr(line_start, eol - line_start);
    line_start = eol + 1;
    Sizes z;
    z.size = (v.end - v.start) / 1024;
    bool anonymous = v.ino == 0 && (v.flags & kMapShared) == 0;
    for (const auto& [va, m] : p->vm->mappings_in(v.start, v.end)) {
      u64 holders = std::max<u64>(1, m.frame.refcount() > 0 ? m.frame.refcount() - 1 : 1);
      bool dirty = ostd::has(m.flags, ostd::PageFlags::W);
      bool shared = holders > 1;
      z.rss += 4;
      z.pss += 4 / holders;
      if (anonymous) z.anon += 4;
      (shared ? (dirty ? z.shared_dirty : z.shared_clean) : (dirty ? z.private_dirty : z.private_clean)) += 4;
    }
    if (rollup) {
      total.size += z.size;
      total.rss += z.rss;
      total.pss += z.pss;
      total.shared_clean += z.shared_clean;
      total.shared_dirty += z.shared_dirty;
      total.private_clean += z.private_clean;
      total.private_dirty += z.private_dirty;
      total.anon += z.anon;
      continue;
    }
    s += line + "\n";
    print(z);
    std::string flags;
    if ((v.prot & 1) != 0) flags += "rd ";
    if ((v.prot & 2) != 0) flags += "wr ";
    if ((v.prot & 4) != 0) flags += "ex ";
    if ((v.flags & kMapShared) != 0) flags += "sh ";
    flags += "mr mw me ";
    if ((v.flags & kMapGrowsdown) != 0) flags += "gd ";
    s += "THPeligible:    0\nVmFlags: " + flags + "\n";
  }
  if (rollup) {
    auto areas = p->mm->areas();
    u64 lo = areas.empty() ? 0 : areas.front().start, hi = areas.empty() ? 0 : areas.back().end;
    s += ostd::format("{:x}-{:x} ---p 00000000 00:00 0                          [rollup]\n", lo, hi);
    print(total);
  }
  return s;
}

Result<std::string> gen_meminfo() {
  ostd::FrameStats st = ostd::frame_stats();
  u64 total = st.total_frames * 4, avail = st.free_frames * 4;
  std::string s;
  auto row = [&](std::string_view name, u64 kb) {
    s += std::string(name) + ":" + pad_left(ostd::format("{}", kb), 23 - std::min<usize>(22, name.size())) + " kB\n";
  };
  row("MemTotal", total);
  row("MemFree", avail);
  row("MemAvailable", avail);
  row("Buffers", 0);
  row("Cached", 0);
  row("SwapCached", 0);
  row("Active", total - avail);
  row("Inactive", 0);
  row("SwapTotal", 0);
  row("SwapFree", 0);
  row("Dirty", 0);
  row("Shmem", 0);
  row("Slab", 0);
  return s;
}

Result<std::string> gen_uptime() {
  u64 ns = ostd::monotonic_ns() - boot_ns();
  u64 cs = ns / 10000000;
  std::string frac = ostd::format("{}", cs % 100);
  if (frac.size() < 2) frac.insert(0, "0");
  return ostd::format("{}.{} {}.{}\n", cs / 100, frac, cs / 100, frac);
}

Result<std::string> gen_loadavg() {
  auto procs = pid_table().all_processes();
  ostd::i32 last = 0;
  for (auto& p : procs) last = std::max(last, p->pid());
  return ostd::format("0.00 0.00 0.00 1/{} {}\n", procs.size(), last);
}

// The mounts of the namespace process `pid` lives in.
Result<std::vector<MountInfo>> mounts_of(ostd::i32 pid) {
  auto p = TRY(live_process(pid));
  if (!p->fs) return Errno::enoent;
  return mounts(*p->fs);
}

Result<std::string> gen_mounts(ostd::i32 pid) {
  std::string s;
  std::string root = "rootfs / rootfs rw 0 0\n";
  for (const auto& m : TRY(mounts_of(pid))) {
    if (m.type == "rootfs" && m.target == "/") {  // first, unless a bind of one of its directories shows
      root = ostd::format("rootfs / rootfs {} 0 0\n", m.options());
      continue;
    }
    s += ostd::format("{} {} {} {} 0 0\n", m.source, m.target, m.type, m.options());
  }
  if (s.empty() || s.find(" / ") == std::string::npos) s.insert(0, root);
  return s;
}

// As Linux's show_mountinfo: "ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS - TYPE SOURCE
// SUPER-OPTIONS", the parent being the mount the mount point lies on.
Result<std::string> gen_mountinfo(ostd::i32 pid) {
  std::string s;
  auto all = TRY(mounts_of(pid));
  for (const auto& m : all) {
    ostd::u32 parent = m.id;
    usize best = 0;
    for (const auto& o : all) {
      if (&o == &m || o.target.size() < best) continue;
      bool under = o.target == "/" ? m.target != "/"
                                   : m.target.size() > o.target.size() && m.target.starts_with(o.target) &&
                                         m.target[o.target.size()] == '/';
      if (under) {
        parent = o.id;
        best = o.target.size();
      }
    }
    s += ostd::format("{} {} {}:{} {} {} {} - {} {} {}\n", m.id, parent, dev_major(m.dev), dev_minor(m.dev), m.root,
                      m.target, m.mount_options(), m.type, m.source, m.super_options());
  }
  return s;
}

Result<std::string> gen_filesystems() {
  std::string s;
  // Block-device file systems have no "nodev" mark.
  for (const auto& t : filesystem_types()) s += (t.starts_with("ext") ? "\t" : "nodev\t") + t + "\n";
  return s;
}

// One block per CPU, as Linux's show_cpuinfo (arch/x86/kernel/cpu/proc.c).
Result<std::string> gen_cpuinfo() {
  const ostd::CpuDescription& c = ostd::cpu_description();
  std::string s;
  u32 cpus = std::max<u32>(1, ostd::boot_info().cpu_count);
  for (u32 i = 0; i < cpus; ++i) {
    s += ostd::format("processor\t: {}\nvendor_id\t: {}\ncpu family\t: {}\nmodel\t\t: {}\n", i, c.vendor, c.family,
                      c.model);
    s += ostd::format("model name\t: {}\nstepping\t: {}\n", c.model_name, c.stepping);
    s += ostd::format("cpu MHz\t\t: {}.000\ncache size\t: {} KB\n", c.mhz, c.cache_kb);
    s += ostd::format("physical id\t: 0\nsiblings\t: {}\ncore id\t\t: {}\ncpu cores\t: {}\napicid\t\t: {}\n", cpus, i,
                      cpus, i);
    s += ostd::format("initial apicid\t: {}\nfpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: 13\nwp\t\t: yes\n", i);
    s += ostd::format("flags\t\t: {}\n", c.flags);
    s += ostd::format("bogomips\t: {}.00\nclflush size\t: {}\ncache_alignment\t: {}\n", c.mhz * 2, c.clflush_bytes,
                      c.clflush_bytes);
    s += ostd::format("address sizes\t: {} bits physical, {} bits virtual\npower management:\n\n", c.phys_bits,
                      c.virt_bits);
  }
  return s;
}

Result<std::string> gen_version() {
  return ostd::format("Linux version {} (root@framekernel) (c++20) #1 SMP PREEMPT\n", kKernelRelease);
}

Result<std::string> gen_proc_stat() {
  auto procs = pid_table().all_processes();
  u64 up = ostd::monotonic_ns() - boot_ns();
  u64 boot = (ostd::realtime_ns() - up) / 1000000000;
  u64 ticks = up / kNsPerTick;
  std::string s = ostd::format("cpu  0 0 0 {} 0 0 0 0 0 0\ncpu0 0 0 0 {} 0 0 0 0 0 0\n", ticks, ticks);
  s += ostd::format("intr 0\nctxt 0\nbtime {}\nprocesses {}\nprocs_running 1\nprocs_blocked 0\n", boot, procs.size());
  return s;
}

Result<std::string> file_target(const std::shared_ptr<File>& f) {
  if (auto d = f->dentry()) return d->path();
  auto st = TRY(f->stat());
  if ((st.st_mode & abi::kSIfmt) == abi::kSIfifo) return ostd::format("pipe:[{}]", st.st_ino);
  if ((st.st_mode & abi::kSIfmt) == abi::kSIfsock) return ostd::format("socket:[{}]", st.st_ino);
  return std::string("anon_inode:[file]");
}

Result<std::vector<Child>> pid_children(u64 dev, ostd::i32 pid);

Result<std::vector<Child>> fd_children(u64 dev, ostd::i32 pid) {
  auto p = TRY(live_process(pid));
  std::vector<Child> out;
  if (!p->fds) return out;
  for (int fd : p->fds->open_fds()) {
    auto target = [pid, fd](const Process*) -> Result<std::string> {
      auto proc = TRY(live_process(pid));
      if (!proc->fds) return Errno::enoent;
      auto f = TRY(proc->fds->get(fd));
      return file_target(f);
    };
    auto magic = [pid, fd]() -> std::shared_ptr<File> {
      auto proc = live_process(pid);
      if (proc.is_error() || !proc.value()->fds) return nullptr;
      auto f = proc.value()->fds->get(fd);
      return f.is_ok() ? f.value() : nullptr;
    };
    out.push_back(Child{ostd::format("{}", fd), std::make_shared<ProcLink>(dev, target, magic)});
  }
  return out;
}

Result<std::vector<Child>> pid_children(u64 dev, ostd::i32 pid) {
  TRY(live_process(pid));
  std::vector<Child> out;
  auto file = [&](std::string name, Generator g, u32 perm = 0444) {
    out.push_back(Child{std::move(name), std::make_shared<ProcFile>(dev, std::move(g), perm)});
  };
  file("stat", [pid] { return gen_stat(pid, pid); });
  file("status", [pid] { return gen_status(pid, pid); });
  file("cmdline", [pid] { return gen_cmdline(pid); });
  file("comm", [pid]() -> Result<std::string> { return TRY(live_process(pid))->comm + "\n"; });
  file("maps", [pid] { return gen_maps(pid); });
  file(
      "environ", [pid] { return gen_environ(pid); }, 0400);
  file(
      "auxv", [pid] { return gen_auxv(pid); }, 0400);
  file("mounts", [pid] { return gen_mounts(pid); });
  file("mountinfo", [pid] { return gen_mountinfo(pid); });
  file("smaps", [pid] { return gen_smaps(pid, false); });
  file("smaps_rollup", [pid] { return gen_smaps(pid, true); });
  out.push_back(Child{"mem", std::make_shared<ProcMem>(dev, pid)});
  // exe, cwd and root are magic links (they stand for the process's own file and directories).
  auto link = [&](std::string name, LinkTarget t) {
    out.push_back(Child{std::move(name), std::make_shared<ProcLink>(dev, std::move(t), nullptr, true)});
  };
  link("exe", [pid](const Process*) -> Result<std::string> {
    auto p = TRY(live_process(pid));
    if (p->exe_path.empty()) return Errno::enoent;
    return p->exe_path;
  });
  link("cwd", [pid](const Process*) -> Result<std::string> {
    auto p = TRY(live_process(pid));
    if (!p->fs) return Errno::enoent;
    return p->fs->cwd()->path();
  });
  link("root", [pid](const Process*) -> Result<std::string> {
    auto p = TRY(live_process(pid));
    if (!p->fs) return Errno::enoent;
    return p->fs->root()->path();
  });
  out.push_back(Child{"fd", std::make_shared<ProcDir>(
                                dev, [dev, pid] { return fd_children(dev, pid); }, 0500)});
  out.push_back(
      Child{"ns", std::make_shared<ProcDir>(
                      dev,
                      [dev, pid]() -> Result<std::vector<Child>> {
                        std::vector<Child> links;
                        for (std::string& name : namespace_names()) {
                          auto target = [pid, name](const Process*) -> Result<std::string> {
                            return namespace_link(*TRY(live_process(pid)), name);
                          };
                          auto magic = [pid, name]() -> std::shared_ptr<File> {
                            auto p = live_process(pid);
                            return p.is_error() ? nullptr : open_namespace(*p.value(), name);
                          };
                          links.push_back(Child{std::move(name), std::make_shared<ProcLink>(dev, target, magic)});
                        }
                        return links;
                      },
                      0511)});
  out.push_back(
      Child{"task", std::make_shared<ProcDir>(dev, [dev, pid]() -> Result<std::vector<Child>> {
              auto p = TRY(live_process(pid));
              std::vector<Child> tasks;
              for (const auto& t : threads_of(*p)) {
                ostd::i32 tid = t->tid();
                tasks.push_back(Child{
                    ostd::format("{}", tid), std::make_shared<ProcDir>(dev, [dev, pid, tid] {
                      // Thread directories show the process's files,
                      // with the thread's own id and state.
                      Result<std::vector<Child>> r = Errno::enoent;
                      auto q = live_process(pid);
                      if (q.is_error()) return r;
                      std::vector<Child> files;
                      files.push_back(
                          Child{"stat", std::make_shared<ProcFile>(dev, [pid, tid] { return gen_stat(pid, tid); })});
                      files.push_back(Child{
                          "status", std::make_shared<ProcFile>(dev, [pid, tid] { return gen_status(pid, tid); })});
                      files.push_back(Child{"comm", std::make_shared<ProcFile>(dev, [pid]() -> Result<std::string> {
                                              return TRY(live_process(pid))->comm + "\n";
                                            })});
                      files.push_back(Child{"maps", std::make_shared<ProcFile>(dev, [pid] { return gen_maps(pid); })});
                      files.push_back(Child{"mem", std::make_shared<ProcMem>(dev, pid)});
                      return Result<std::vector<Child>>(std::move(files));
                    })});
              }
              return tasks;
            })});
  // A process's files belong to its effective user and group, or to root when it is not
  // dumpable (task_dump_owner).
  auto p = TRY(live_process(pid));
  for (auto& c : out) {
    c.inode->uid = p->dumpable ? p->creds.euid : 0;
    c.inode->gid = p->dumpable ? p->creds.egid : 0;
  }
  return out;
}

// /proc/sys: the kernel's tunables that programs read (the fs.protected_* ones root may set).
std::shared_ptr<Inode> sys_dir(u64 d) {
  auto value = [d](std::function<std::string()> f) {
    return std::make_shared<ProcFile>(d, [f] { return Result<std::string>(f() + "\n"); });
  };
  auto dir = [d](std::vector<Child> children) {
    return std::make_shared<ProcDir>(d, [children] { return Result<std::vector<Child>>(children); });
  };
  auto uts_value = [d](bool host) {
    return std::make_shared<ProcFile>(d, CallerGenerator([host](const Process* caller) {
                                        UtsNamespace& uts = caller != nullptr ? uts_of(*caller) : first_uts();
                                        ostd::MutexGuard g(uts.lock);
                                        return Result<std::string>((host ? uts.nodename : uts.domainname) + "\n");
                                      }));
  };
  std::vector<Child> kernel{
      {"hostname", uts_value(true)},
      {"domainname", uts_value(false)},
      {"randomize_va_space", value([] { return ostd::format("{}", randomize_va_space()); })},
      {"ostype", value([] { return std::string("Linux"); })},
      {"osrelease", value([] { return std::string(kKernelRelease); })},
      {"pid_max", value([] { return std::string("4194304"); })},
      {"threads-max", value([] { return ostd::format("{}", max_threads()); })},
      {"ngroups_max", value([] { return std::string("65536"); })},
      {"cap_last_cap", value([] { return std::string("40"); })},
      {"dmesg_restrict", value([] { return ostd::format("{}", dmesg_restrict()); })},
      {"printk", value([] { return printk_levels(); })},
      {"tainted", value([] { return std::string("0"); })},
  };
  for (const auto& entry : sysv_sysctls()) {
    std::string v = entry.second;
    kernel.push_back({std::string(entry.first), value([v] { return v; })});
  }
  LinkProtection& lp = link_protection();
  std::vector<Child> fs{{"pipe-max-size", value([] { return std::string("1048576"); })},
                        {"nr_open", value([] { return std::string("1048576"); })},
                        {"file-max", value([] { return std::string("9223372036854775807"); })},
                        {"protected_fifos", std::make_shared<SysctlInt>(d, lp.fifos, 0, 2)},
                        {"protected_hardlinks", std::make_shared<SysctlInt>(d, lp.hardlinks, 0, 1)},
                        {"protected_regular", std::make_shared<SysctlInt>(d, lp.regular, 0, 2)},
                        {"protected_symlinks", std::make_shared<SysctlInt>(d, lp.symlinks, 0, 1)}};
  std::vector<Child> vm{{"overcommit_memory", value([] { return std::string("0"); })},
                        {"max_map_count", value([] { return std::string("65530"); })},
                        {"mmap_min_addr", value([] { return std::string("65536"); })}};
  std::vector<Child> net{{"core", dir({{"somaxconn", value([] { return std::string("4096"); })},
                                       {"wmem_max", value([] { return std::string("212992"); })},
                                       {"rmem_max", value([] { return std::string("212992"); })},
                                       {"wmem_default", value([] { return std::string("212992"); })},
                                       {"rmem_default", value([] { return std::string("212992"); })}})},
                         {"unix", dir({{"max_dgram_qlen", value([] { return std::string("10"); })}})}};
  return dir({{"kernel", dir(kernel)}, {"fs", dir(fs)}, {"vm", dir(vm)}, {"net", dir(net)}});
}

class ProcFs final : public FileSystem {
 public:
  ProcFs() : FileSystem("proc") {
    u64 d = dev();
    root_ = std::make_shared<ProcDir>(d, [d]() -> Result<std::vector<Child>> {
      std::vector<Child> out;
      out.push_back(Child{"self", std::make_shared<ProcLink>(d, [](const Process* caller) -> Result<std::string> {
                            if (caller == nullptr) return Errno::enoent;
                            return ostd::format("{}", caller->pid());
                          })});
      out.push_back(
          Child{"thread-self", std::make_shared<ProcLink>(d, [](const Process* caller) -> Result<std::string> {
                  if (caller == nullptr) return Errno::enoent;
                  return ostd::format("{}/task/{}", caller->pid(), caller->pid());
                })});
      auto file = [&](std::string name, Generator g) {
        out.push_back(Child{std::move(name), std::make_shared<ProcFile>(d, std::move(g))});
      };
      file("meminfo", gen_meminfo);
      file("cpuinfo", gen_cpuinfo);
      // As Linux: a link to the reader's own (its mount namespace's) mounts.
      out.push_back(Child{"mounts", std::make_shared<ProcLink>(d, [](const Process*) -> Result<std::string> {
                            return std::string("self/mounts");
                          })});
      file("uptime", gen_uptime);
      file("loadavg", gen_loadavg);
      file("filesystems", gen_filesystems);
      file("version", gen_version);
      file("stat", gen_proc_stat);
      out.push_back(Child{"sys", sys_dir(d)});
      out.push_back(Child{"sysvipc", std::make_shared<ProcDir>(d, [d] {
                            return Result<std::vector<Child>>(std::vector<Child>{
                                {"sem", std::make_shared<ProcFile>(
                                            d, Generator([] { return Result<std::string>(sysvipc_sem_text()); }))},
                                {"msg", std::make_shared<ProcFile>(
                                            d, Generator([] { return Result<std::string>(sysvipc_msg_text()); }))},
                                {"shm", std::make_shared<ProcFile>(
                                            d, Generator([] { return Result<std::string>(sysvipc_shm_text()); }))}});
                          })});
      out.push_back(Child{
          "net", std::make_shared<ProcDir>(d, [d]() -> Result<std::vector<Child>> {
            std::string tcp =
                "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
            std::string udp =
                "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref "
                "pointer drops";
            std::string v6 =
                "  sl  local_address                         remote_address                        st tx_queue "
                "rx_queue tr tm->when retrnsmt   uid  timeout inode";
            tcp.resize(149, ' ');
            udp.resize(127, ' ');
            auto table = [d](std::string h, std::string (*lines)(int), int family) {
              return std::make_shared<ProcFile>(
                  d, [h, lines, family] { return Result<std::string>(h + "\n" + lines(family)); });
            };
            return std::vector<Child>{
                {"unix", std::make_shared<ProcFile>(d, [] { return Result<std::string>(proc_net_unix()); })},
                {"dev", std::make_shared<ProcFile>(d, [] { return Result<std::string>(proc_net_dev()); })},
                {"route", std::make_shared<ProcFile>(d, [] { return Result<std::string>(proc_net_route()); })},
                {"arp", std::make_shared<ProcFile>(d, [] { return Result<std::string>(proc_net_arp()); })},
                {"if_inet6", std::make_shared<ProcFile>(d, [] { return Result<std::string>(proc_net_if_inet6()); })},
                {"tcp", table(tcp, proc_net_tcp_lines, kAfInet)},
                {"udp", table(udp, proc_net_udp_lines, kAfInet)},
                {"tcp6", table(v6, proc_net_tcp_lines, kAfInet6)},
                {"udp6", table(v6 + " ref pointer drops", proc_net_udp_lines, kAfInet6)}};
          })});
      for (const auto& p : pid_table().all_processes()) {
        if (p->state == Process::State::Reaped) continue;
        ostd::i32 pid = p->pid();
        auto dir = std::make_shared<ProcDir>(d, [d, pid] { return pid_children(d, pid); });
        dir->uid = p->creds.euid;
        dir->gid = p->creds.egid;
        out.push_back(Child{ostd::format("{}", pid), std::move(dir)});
      }
      return out;
    });
  }
  std::shared_ptr<Inode> root() override { return root_; }
  u64 magic() const override { return kProcMagic; }

 private:
  std::shared_ptr<ProcDir> root_;
};

// sysfs: the parts of /sys that programs read to learn the machine — the CPUs
// (/sys/devices/system/cpu/{online,possible,present}, cpuN), the disks (/sys/block/vdX: size
// in sectors, ro, dev, queue/*), the network interfaces (/sys/class/net/IF: address, mtu,
// ifindex, flags, operstate, carrier, type) and transparent huge pages' setting. Generated on
// each lookup, as procfs.
constexpr u64 kSysfsMagic = 0x62656572;

class SysFs final : public FileSystem {
 public:
  SysFs() : FileSystem("sysfs") {
    const u64 d = dev();
    auto text = [d](std::string t) {
      return std::make_shared<ProcFile>(d, Generator([t] { return Result<std::string>(t); }));
    };
    auto dir = [d](std::vector<Child> children) {
      return std::make_shared<ProcDir>(d, [children] { return Result<std::vector<Child>>(children); });
    };
    const u32 cpus = std::max<u32>(1, ostd::boot_info().cpu_count);
    const std::string range = cpus == 1 ? std::string("0\n") : ostd::format("0-{}\n", cpus - 1);
    std::vector<Child> cpu{
        {"online", text(range)}, {"possible", text(range)}, {"present", text(range)}, {"kernel_max", text("8191\n")}};
    for (u32 i = 0; i < cpus; ++i) cpu.push_back(Child{ostd::format("cpu{}", i), dir({})});
    auto devices = dir({{"system", dir({{"cpu", dir(cpu)}})}, {"virtual", dir({})}});
    auto block = std::make_shared<ProcDir>(d, [text, dir]() -> Result<std::vector<Child>> {
      std::vector<Child> out;
      for (const auto& disk : block_devices()) {
        const u64 sectors = disk->size_bytes() / 512;
        auto queue = dir({{"logical_block_size", text("512\n")},
                          {"physical_block_size", text("512\n")},
                          {"hw_sector_size", text("512\n")},
                          {"minimum_io_size", text("512\n")},
                          {"optimal_io_size", text("0\n")},
                          {"rotational", text("0\n")},
                          {"read_ahead_kb", text("128\n")},
                          {"max_sectors_kb", text("1280\n")}});
        out.push_back(Child{
            disk->name(), dir({{"size", text(ostd::format("{}\n", sectors))},
                               {"ro", text(disk->read_only() ? "1\n" : "0\n")},
                               {"removable", text("0\n")},
                               {"dev", text(ostd::format("{}:{}\n", dev_major(disk->rdev()), dev_minor(disk->rdev())))},
                               {"queue", queue}})});
      }
      return out;
    });
    auto net = std::make_shared<ProcDir>(d, [text, dir]() -> Result<std::vector<Child>> {
      std::vector<Child> out;
      for (const auto& i : interface_summaries()) {
        constexpr u32 kIffUp = 1, kIffLoopback = 8;
        const bool lo = (i.flags & kIffLoopback) != 0;
        std::string mac;
        for (usize k = 0; k < i.mac.size(); ++k) mac += ostd::format(k == 0 ? "{:02x}" : ":{:02x}", i.mac[k]);
        out.push_back(Child{i.name, dir({{"address", text(mac + "\n")},
                                         {"mtu", text(ostd::format("{}\n", i.mtu))},
                                         {"ifindex", text(ostd::format("{}\n", i.index))},
                                         {"flags", text(ostd::format("{:#x}\n", i.flags))},
                                         {"operstate", text((i.flags & kIffUp) == 0 ? "down\n"
                                                            : lo                    ? "unknown\n"
                                                                                    : "up\n")},
                                         {"carrier", text("1\n")},
                                         {"type", text(lo ? "772\n" : "1\n")},
                                         {"addr_len", text("6\n")}})});
      }
      return out;
    });
    auto kernel = dir({{"mm", dir({{"transparent_hugepage", dir({{"enabled", text("always [madvise] never\n")}})}})}});
    root_ = dir({{"devices", devices},
                 {"block", block},
                 {"class", dir({{"net", net}})},
                 {"kernel", kernel},
                 {"fs", dir({})},
                 {"dev", dir({{"block", dir({})}, {"char", dir({})}})}});
  }
  std::shared_ptr<Inode> root() override { return root_; }
  u64 magic() const override { return kSysfsMagic; }

 private:
  std::shared_ptr<ProcDir> root_;
};

}  // namespace

std::shared_ptr<FileSystem> make_procfs() { return std::make_shared<ProcFs>(); }

std::shared_ptr<FileSystem> make_sysfs() { return std::make_shared<SysFs>(); }

}  // namespace services
