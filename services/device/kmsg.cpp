// The kernel log, as Linux's printk ring: records with a sequence number, the time since boot, a
// syslog priority (facility << 3 | level) and a line of text. The kernel's own messages come from
// ostd's log (Info and above, whatever the console shows; facility 0), user space adds records
// through /dev/kmsg (facility LOG_USER unless it names another). The oldest records go when the
// ring holds more than kLogBytes of text or kLogRecords records.
//
// Readers, as Linux's:
// - syslog(2) READ_ALL/READ_CLEAR: the newest records that fit the buffer, from the clear
//   point, as "<PRI>[SECONDS.MICROS] text" lines; CLEAR moves the clear point to the end;
// - syslog(2) READ: destructive, from the syslog reader's position, sleeping while there is
//   nothing; SIZE_UNREAD: the bytes that READ would return;
// - /dev/kmsg: one record per read(2), "PRI,SEQ,MICROS,FLAGS;text\n" with unprintable bytes
//   escaped as \xNN, each open file with its own position (lseek SEEK_SET 0: the oldest record,
//   SEEK_DATA: the clear point, SEEK_END: the end); EPIPE once when records it had not read were
//   dropped; EINVAL when the buffer is too small for the record.
// With dmesg_restrict (1, as Debian sets it) reading needs CAP_SYSLOG; writing to /dev/kmsg
// does not. CONSOLE_LEVEL/OFF/ON set what the console prints (ostd's log level).
#include "device/kmsg.h"

#include <algorithm>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include <ostd/boot.h>
#include <ostd/bytes.h>
#include <ostd/irq.h>
#include <ostd/log.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/time.h>

#include "fs/vfs.h"
#include "process/internal.h"
#include "process/process.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::usize;

namespace {

constexpr usize kLogBytes = usize{128} * 1024;  // what SYSLOG_ACTION_SIZE_BUFFER reports
constexpr usize kLogRecords = 4096;
constexpr usize kRecordMax = 1024;  // longer texts are cut, as Linux's PRINTK_MESSAGE_MAX
constexpr u32 kLogUser = 1;         // LOG_USER, the facility of user records without one
constexpr u32 kDefaultLevel = 4;    // default_message_loglevel (KERN_WARNING)
constexpr int kConsoleMin = 1, kConsoleDefault = 7;

struct Record {
  u64 seq = 0;
  u64 time_ns = 0;  // since boot
  u32 priority = 0;
  std::string text;
};

struct KernelLog {
  ostd::SpinLock lock;
  std::deque<Record> records;  // oldest first; records[i].seq == first_seq + i
  usize bytes = 0;
  u64 next_seq = 0;
  u64 clear_seq = 0;         // READ_ALL starts here (CLEAR moves it)
  u64 syslog_seq = 0;        // READ's position
  usize syslog_partial = 0;  // bytes of syslog_seq's line READ already returned
  int saved_console = -1;    // CONSOLE_OFF's saved level, or -1
  bool last_open = false;    // the newest record is not ended yet (a write without a newline)
  ostd::WaitQueue readers;

  u64 first_seq() const { return next_seq - records.size(); }
  // The end of what readers see: an open record waits for its end or for the next record.
  u64 visible_end() const { return last_open ? next_seq - 1 : next_seq; }
};

KernelLog& klog() {
  static KernelLog log;
  return log;
}

// The console level as Linux numbers it (messages below it are printed), from ostd's level.
int console_level() {
  switch (ostd::log::level()) {
    case ostd::LogLevel::Trace:
    case ostd::LogLevel::Debug: return 8;
    case ostd::LogLevel::Info: return 7;
    case ostd::LogLevel::Warn: return 5;
    case ostd::LogLevel::Error: return 4;
    case ostd::LogLevel::Off: return kConsoleMin;
  }
  return kConsoleDefault;
}

void set_console_level(int level) {
  ostd::log::set_level(level >= 8   ? ostd::LogLevel::Debug
                       : level >= 7 ? ostd::LogLevel::Info
                       : level >= 5 ? ostd::LogLevel::Warn
                       : level >= 4 ? ostd::LogLevel::Error
                                    : ostd::LogLevel::Off);
}

void append_locked(KernelLog& log, Record& r, bool open) {
  r.seq = log.next_seq++;
  log.last_open = open;
  log.bytes += r.text.size();
  log.records.push_back(std::move(r));
  while (log.records.size() > kLogRecords || log.bytes > kLogBytes) {
    log.bytes -= log.records.front().text.size();
    log.records.pop_front();
  }
  log.clear_seq = std::max(log.clear_seq, log.first_seq());
  if (log.syslog_seq < log.first_seq()) {
    log.syslog_seq = log.first_seq();
    log.syslog_partial = 0;
  }
}

// `open`: the record is not ended yet (readers see it once the next record comes).
void append(u32 priority, std::string_view text, bool open = false) {
  Record r;
  r.time_ns = uptime_ns();
  r.priority = priority;
  r.text.assign(text.substr(0, kRecordMax));
  KernelLog& log = klog();
  {
    ostd::SpinLockGuard g(log.lock);
    append_locked(log, r, open);
  }
  // Not from under a spin lock (a message logged inside the scheduler): readers also look again
  // every kRecheckNs.
  if (ostd::irq::local_enabled()) (void)log.readers.wake_all();
}
constexpr u64 kRecheckNs = 200 * ostd::kNsPerMs;

// Sleeps until ready() (a record to read); ERESTARTSYS for a signal. A record a spin-locked
// caller logged woke nobody, so readers look again every kRecheckNs.
template <typename Ready>
Result<void> wait_for_log(Thread& t, Ready ready) {
  while (!ready()) {
    Result<void> r = t.wait_interruptible(klog().readers, ready, kRecheckNs);
    if (r.is_error() && r.error() != Errno::etimedout) return r.error();
  }
  return {};
}

void observe(ostd::LogLevel level, std::string_view module, std::string_view message) {
  u32 syslog_level = level == ostd::LogLevel::Error  ? 3
                     : level == ostd::LogLevel::Warn ? 4
                     : level == ostd::LogLevel::Info ? 6
                                                     : 7;
  append(syslog_level, ostd::format("{}: {}", module, message));
}

// Copies of the records from seq on (from the oldest kept when seq was dropped).
std::vector<Record> records_from(u64 seq) {
  KernelLog& log = klog();
  ostd::SpinLockGuard g(log.lock);
  u64 first = log.first_seq();
  std::vector<Record> out;
  for (u64 s = std::max(seq, first); s < log.visible_end(); ++s) out.push_back(log.records[s - first]);
  return out;
}

// A record as syslog(2) prints it: "<PRI>[    5.123456] text\n", one prefix per line of text.
std::string syslog_text(const Record& r) {
  std::string prefix =
      ostd::format("<{}>[{:5}.{:06}] ", r.priority, r.time_ns / ostd::kNsPerSec, (r.time_ns % ostd::kNsPerSec) / 1000);
  std::string out;
  usize start = 0;
  while (true) {
    usize nl = r.text.find('\n', start);
    out += prefix;
    out.append(r.text, start, nl == std::string::npos ? std::string::npos : nl - start);
    out += '\n';
    if (nl == std::string::npos || nl + 1 >= r.text.size()) break;
    start = nl + 1;
  }
  return out;
}

// A record as /dev/kmsg gives it: "PRI,SEQ,MICROS,-;text\n", unprintable bytes as \xNN.
std::string kmsg_text(const Record& r) {
  std::string out = ostd::format("{},{},{},-;", r.priority, r.seq, r.time_ns / 1000);
  for (char ch : r.text) {
    auto c = static_cast<unsigned char>(ch);
    if (c < ' ' || c >= 127 || c == '\\') {
      out += ostd::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  out += '\n';
  return out;
}

// Where syslog READ goes on: its record and the bytes of that record's line already returned.
std::pair<u64, usize> syslog_position(KernelLog& log) {
  ostd::SpinLockGuard g(log.lock);
  return {log.syslog_seq, log.syslog_partial};
}

bool may_read_log(const Process& p) { return dmesg_restrict() == 0 || p.creds.capable(cap::kSyslog); }

// /dev/kmsg: each open file reads from its own position.
class KmsgFile final : public DeviceFile {
 public:
  KmsgFile(std::shared_ptr<Dentry> d, u32 flags) : DeviceFile(std::move(d)) {
    set_status_flags(flags);
    KernelLog& log = klog();
    ostd::SpinLockGuard g(log.lock);
    seq_ = log.first_seq();
  }

  Result<void> finish_open(Thread& self) override {
    // Writers need no privilege; readers what dmesg_restrict asks.
    if (readable() && !may_read_log(self.process())) return Errno::eperm;
    return {};
  }

  Result<usize> read(Thread& self, ostd::VmWriter& out) override {
    KernelLog& log = klog();
    Record r;
    while (true) {
      {
        ostd::SpinLockGuard g(log.lock);
        if (seq_ < log.first_seq()) {
          seq_ = log.first_seq();  // what this reader missed was dropped: say so once
          return Errno::epipe;
        }
        if (seq_ < log.visible_end()) {
          r = log.records[seq_ - log.first_seq()];
          break;
        }
      }
      if (nonblocking()) return Errno::eagain;
      TRY(wait_for_log(self, [&] {
        ostd::SpinLockGuard g(log.lock);
        return seq_ < log.first_seq() || seq_ < log.visible_end();
      }));
    }
    std::string text = kmsg_text(r);
    {
      ostd::SpinLockGuard g(log.lock);
      if (seq_ == r.seq) seq_ = r.seq + 1;  // taken, even by a read too small for it (as Linux)
    }
    if (text.size() > out.avail()) return Errno::einval;
    TRY(out.write_bytes(ostd::bytes_of_string(text)));
    return text.size();
  }

  Result<usize> write(Thread&, ostd::VmReader& in) override {
    usize n = in.remain();
    if (n > kRecordMax) return Errno::einval;
    std::vector<ostd::u8> raw(n);
    TRY(in.read_bytes(raw));
    in.skip(in.remain());
    std::string text(raw.begin(), raw.end());
    // An optional "<N>" prefix: the low 3 bits the level, the rest the facility (LOG_USER when
    // none or 0, so user records never pass for the kernel's).
    u32 level = kDefaultLevel, facility = kLogUser;
    if (!text.empty() && text[0] == '<') {
      usize i = 1;
      u64 v = 0;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') v = v * 10 + static_cast<u64>(text[i++] - '0');
      if (i < text.size() && text[i] == '>') {
        auto u = static_cast<u32>(v);
        level = u & 7;
        if ((u >> 3) != 0) facility = u >> 3;
        text.erase(0, i + 1);
      }
    }
    // A record ends with its newline; without one it stays open until the next record.
    const bool ended = !text.empty() && text.back() == '\n';
    if (ended) text.pop_back();
    append(facility << 3 | level, text, !ended);
    return n;
  }

  Result<ostd::i64> seek(ostd::i64 offset, int whence) override {
    constexpr int kSet = 0, kEnd = 2, kData = 3;
    if (offset != 0) return Errno::espipe;
    KernelLog& log = klog();
    ostd::SpinLockGuard g(log.lock);
    switch (whence) {
      case kSet: seq_ = log.first_seq(); break;
      case kData: seq_ = log.clear_seq; break;  // what syslog READ_ALL would show
      case kEnd: seq_ = log.visible_end(); break;
      default: return Errno::einval;
    }
    return ostd::i64{0};
  }

  u32 poll_events() override {
    KernelLog& log = klog();
    ostd::SpinLockGuard g(log.lock);
    u32 ev = writable() ? kPollOut : 0;
    if (!readable()) return ev;
    if (seq_ < log.first_seq()) return ev | kPollIn | kPollErr | kPollPri;
    if (seq_ < log.visible_end()) ev |= kPollIn;
    return ev;
  }
  ostd::WaitQueue* poll_queue() override { return &klog().readers; }

 private:
  u64 seq_ = 0;
};

// syslog(type, buf, len) — klogctl(3).
Result<long> sys_syslog(Thread& t, const SyscallArgs& a) {
  // clang-format off
  enum : int {
    kClose = 0, kOpen, kRead, kReadAll, kReadClear, kClear, kConsoleOff, kConsoleOn, kConsoleLevel,
    kSizeUnread, kSizeBuffer
  };
  // clang-format on
  const int type = a.as_int(0);
  const ostd::Vaddr buf = a[1];
  const int len = a.as_int(2);
  // Every action but READ_ALL and SIZE_BUFFER needs CAP_SYSLOG; those two too with dmesg_restrict.
  bool open_to_all = dmesg_restrict() == 0 && (type == kReadAll || type == kSizeBuffer);
  if (!open_to_all && !t.process().creds.capable(cap::kSyslog)) return Errno::eperm;
  KernelLog& log = klog();
  switch (type) {
    case kClose:
    case kOpen: return 0;
    case kRead: {
      if (buf == 0 || len < 0) return Errno::einval;
      if (len == 0) return 0;
      TRY(wait_for_log(t, [&] {
        ostd::SpinLockGuard g(log.lock);
        return log.syslog_seq < log.visible_end();
      }));
      const auto [seq, partial] = syslog_position(log);
      usize done = 0;
      for (const Record& r : records_from(seq)) {
        std::string text = syslog_text(r);
        usize skip = r.seq == seq ? std::min(partial, text.size()) : 0;
        usize n = std::min(text.size() - skip, static_cast<usize>(len) - done);
        if (n == 0) break;
        if (auto w = t.vm().write_bytes(buf + done, ostd::bytes_of_string(text).subspan(skip, n)); w.is_error()) {
          if (done == 0) return w.error();
          break;
        }
        done += n;
        ostd::SpinLockGuard g(log.lock);
        if (log.syslog_seq != r.seq) break;  // another reader took it
        if (skip + n < text.size()) {
          log.syslog_partial = skip + n;
          break;
        }
        log.syslog_seq = r.seq + 1;
        log.syslog_partial = 0;
      }
      return static_cast<long>(done);
    }
    case kReadAll:
    case kReadClear: {
      if (buf == 0 || len < 0) return Errno::einval;
      if (len == 0) return 0;
      u64 clear = 0;
      {
        ostd::SpinLockGuard g(log.lock);
        clear = log.clear_seq;
      }
      std::vector<Record> recs = records_from(clear);
      // The newest records whose lines fit, oldest first.
      std::vector<std::string> lines;
      usize total = 0, first = recs.size();
      while (first > 0) {
        std::string text = syslog_text(recs[first - 1]);
        if (total + text.size() > static_cast<usize>(len)) break;
        total += text.size();
        lines.push_back(std::move(text));
        --first;
      }
      usize done = 0;
      for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
        TRY(t.vm().write_bytes(buf + done, ostd::bytes_of_string(*it)));
        done += it->size();
      }
      if (type == kReadClear) {
        ostd::SpinLockGuard g(log.lock);
        log.clear_seq = std::max(log.clear_seq, recs.empty() ? clear : recs.back().seq + 1);
      }
      return static_cast<long>(done);
    }
    case kClear: {
      ostd::SpinLockGuard g(log.lock);
      log.clear_seq = log.visible_end();
      return 0;
    }
    case kConsoleOff: {
      ostd::SpinLockGuard g(log.lock);
      if (log.saved_console < 0) log.saved_console = console_level();
      set_console_level(kConsoleMin);
      return 0;
    }
    case kConsoleOn: {
      ostd::SpinLockGuard g(log.lock);
      if (log.saved_console >= 0) {
        set_console_level(log.saved_console);
        log.saved_console = -1;
      }
      return 0;
    }
    case kConsoleLevel: {
      if (len < 1 || len > 8) return Errno::einval;
      ostd::SpinLockGuard g(log.lock);
      set_console_level(std::max(len, kConsoleMin));
      log.saved_console = -1;
      return 0;
    }
    case kSizeUnread: {
      const auto [seq, partial] = syslog_position(log);
      usize total = 0;
      for (const Record& r : records_from(seq)) total += syslog_text(r).size();
      return static_cast<long>(total - std::min(total, partial));
    }
    case kSizeBuffer: return static_cast<long>(kLogBytes);
    default: return Errno::einval;
  }
}

}  // namespace

void kernel_log_boot() {
  // The console level a guest set (syslog CONSOLE_LEVEL) lasts one boot: a new boot in the same
  // host process (the fuzzers, the tests) starts with the level umk was given.
  static const ostd::LogLevel initial = ostd::log::level();
  ostd::log::set_level(initial);
  KernelLog& log = klog();
  {
    ostd::SpinLockGuard g(log.lock);
    log.records.clear();
    log.bytes = 0;
    log.clear_seq = log.syslog_seq = log.next_seq;
    log.syslog_partial = 0;
    log.saved_console = -1;
    log.last_open = false;
  }
  ostd::log::set_observer(&observe);
  append(5, ostd::format("Linux version {} (root@framekernel) (c++20) #1 SMP PREEMPT", kKernelRelease));
  const ostd::BootInfo& info = ostd::boot_info();
  std::string cmdline;
  for (const std::string& arg : info.init_argv) cmdline += (cmdline.empty() ? "" : " ") + arg;
  append(6, "Command line: init=" + cmdline);
}

void kernel_log_append(u32 priority, std::string_view text) { append(priority, text); }

std::shared_ptr<File> open_kmsg(const std::shared_ptr<Dentry>& dentry, u32 flags) {
  return std::make_shared<KmsgFile>(dentry, flags);
}

int dmesg_restrict() { return 1; }

std::string printk_levels() {
  return ostd::format("{}\t{}\t{}\t{}", console_level(), kDefaultLevel, kConsoleMin, kConsoleDefault);
}

void register_klog_syscalls(SyscallTable& t) { t.set(x86_64::Sysno::syslog, &sys_syslog); }

}  // namespace services
