// POSIX message queues (mq_open, mq_timedsend, mq_timedreceive, mq_notify, mq_getsetattr,
// mq_unlink) and the mqueue file system that holds them.
//
// Every queue is an inode of the one mqueue file system (Linux keeps one per IPC namespace):
// mq_open names an entry of its root directory, `mount -t mqueue` shows the same tree, and
// reading a queue's file gives Linux's "QSIZE:..." status line. Messages wait by priority,
// first in first out within one; one process at a time may ask to be notified when a message
// arrives in the empty queue. A queue's bytes count against its creator's RLIMIT_MSGQUEUE.
#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ostd/format.h>
#include <ostd/mm/io.h>

#include "abi/x86_64/resource.h"
#include "fs/file.h"
#include "fs/vfs.h"
#include "process/internal.h"
#include "process/process.h"
#include "signal/signal.h"
#include "syscall/table.h"
#include "time/clock.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i32;
using ostd::i64;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;

namespace {

constexpr u64 kMqueueMagic = 0x19800202;
constexpr i64 kMsgMax = 10, kMsgsizeMax = 8192, kMsgDefault = 10, kMsgsizeDefault = 8192;
constexpr i64 kHardMsgMax = 65536, kHardMsgsizeMax = 16 << 20;
constexpr u32 kPrioMax = 32768;
constexpr u64 kFilentSize = 80;
// Kernel bookkeeping Linux counts per message and per priority (struct msg_msg and
// posix_msg_tree_node) towards RLIMIT_MSGQUEUE.
constexpr u64 kMsgOverhead = 48, kPrioNodeOverhead = 48;

struct MqAttr {
  i64 flags, maxmsg, msgsize, curmsgs;
  std::array<i64, 4> reserved;
  OSTD_POD(MqAttr, flags, maxmsg, msgsize, curmsgs, reserved);
};
static_assert(sizeof(MqAttr) == 64);

// Bytes in use per user (RLIMIT_MSGQUEUE).
struct UserBytes {
  ostd::Mutex lock;
  std::map<u32, u64> by_uid;
};
UserBytes& user_bytes() {
  static UserBytes u;
  return u;
}

class MqInode final : public Inode {
 public:
  MqInode(u64 dev, u32 mode, i64 maxmsg, i64 msgsize, u32 owner_uid, u64 charged)
      : Inode(dev, mode), maxmsg_(maxmsg), msgsize_(msgsize), owner_uid_(owner_uid), charged_(charged) {}
  MqInode(const MqInode&) = delete;
  MqInode& operator=(const MqInode&) = delete;
  MqInode(MqInode&&) = delete;
  MqInode& operator=(MqInode&&) = delete;
  ~MqInode() override {
    auto g = user_bytes().lock.lock();
    user_bytes().by_uid[owner_uid_] -= charged_;
  }

  u64 size() const override { return kFilentSize; }
  Result<usize> read_at(u64 off, ostd::VmWriter& out) override {
    std::string s = status_line();
    if (off >= s.size()) return usize{0};
    usize n = std::min<usize>(out.avail(), s.size() - off);
    TRY(out.write_bytes(std::span<const u8>(ostd::bytes_of_string(s)).subspan(off, n)));
    return n;
  }
  Result<usize> write_at(u64, ostd::VmReader&) override { return Errno::einval; }
  Result<void> truncate(u64) override { return Errno::einval; }
  Result<std::shared_ptr<File>> open(const std::shared_ptr<Dentry>& d, u32 flags) override;

  i64 maxmsg() const { return maxmsg_; }
  i64 msgsize() const { return msgsize_; }
  usize curmsgs() const {
    auto g = lock_.lock();
    return count_;
  }
  ostd::WaitQueue& wq() { return wq_; }

  // Queues a message (taking `data`); false when full (`data` left as it was). Sends the
  // arrival notification when the queue was empty and nobody waits to receive.
  bool try_send(Thread& t, u32 prio, std::vector<u8>& data) {
    std::optional<std::pair<std::shared_ptr<Process>, Sigevent>> notify;
    {
      auto g = lock_.lock();
      if (static_cast<i64>(count_) >= maxmsg_) return false;
      bytes_ += data.size();
      queue_[prio].push_back(std::move(data));
      ++count_;
      if (count_ == 1 && receivers_ == 0 && notify_) {
        auto owner = notify_->owner.lock();
        if (owner) notify.emplace(owner, notify_->ev);
        notify_.reset();
      }
    }
    touch_mtime();
    if (notify && notify->second.notify == kSigevSignal && notify->second.signo != 0) {
      SigInfo info = kernel_siginfo(notify->second.signo);
      info.si_code = kSiMesgq;
      info.si_pid = t.process().pid();
      info.si_uid = t.process().creds.uid;
      set_si_value(info, notify->second.value);
      send_signal_to_process(*notify->first, notify->second.signo, info);
    }
    file_state_changed(wq_);
    return true;
  }
  // Takes the oldest message of the highest priority.
  std::optional<std::pair<u32, std::vector<u8>>> try_receive() {
    std::optional<std::pair<u32, std::vector<u8>>> m;
    {
      auto g = lock_.lock();
      if (queue_.empty()) return std::nullopt;
      auto it = queue_.begin();
      m.emplace(it->first, std::move(it->second.front()));
      it->second.pop_front();
      if (it->second.empty()) queue_.erase(it);
      --count_;
      bytes_ -= m->second.size();
    }
    touch_mtime();
    file_state_changed(wq_);
    return m;
  }
  void count_receiver(int delta) {
    auto g = lock_.lock();
    receivers_ += delta;
  }

  // mq_notify: registers `ev` for process p (EBUSY when someone is registered), or with
  // nullopt drops p's own registration.
  Result<void> set_notify(Process& p, std::optional<Sigevent> ev) {
    auto g = lock_.lock();
    if (notify_ && notify_->owner.expired()) notify_.reset();  // the owner is gone
    if (!ev) {
      if (notify_ && notify_->pid == p.pid()) notify_.reset();
      return {};
    }
    if (notify_) return Errno::ebusy;
    notify_ = Notify{p.weak_from_this(), p.pid(), *ev};
    return {};
  }
  // A descriptor of the queue closed in process p (Linux's mqueue_flush_file).
  void closed_by(const Process& p) {
    auto g = lock_.lock();
    if (notify_ && notify_->pid == p.pid()) notify_.reset();
  }

 private:
  struct Notify {
    std::weak_ptr<Process> owner;
    i32 pid;
    Sigevent ev;
  };

  // "QSIZE:%-10lu NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", as Linux's.
  std::string status_line() const {
    auto padded = [](std::string v, usize width) {
      if (v.size() < width) v.append(width - v.size(), ' ');
      return v;
    };
    auto g = lock_.lock();
    const bool live = notify_.has_value() && !notify_->owner.expired();
    const int kind = live ? notify_->ev.notify : 0;
    const int signo = live && kind == kSigevSignal ? notify_->ev.signo : 0;
    return "QSIZE:" + padded(ostd::format("{}", bytes_), 10) + " NOTIFY:" + padded(ostd::format("{}", kind), 5) +
           " SIGNO:" + padded(ostd::format("{}", signo), 5) +
           " NOTIFY_PID:" + padded(ostd::format("{}", live ? notify_->pid : 0), 6) + "\n";
  }

  const i64 maxmsg_, msgsize_;
  const u32 owner_uid_;
  const u64 charged_;
  mutable ostd::Mutex lock_;
  std::map<u32, std::deque<std::vector<u8>>, std::greater<>> queue_;
  usize count_ = 0;
  u64 bytes_ = 0;
  int receivers_ = 0;
  std::optional<Notify> notify_;
  ostd::WaitQueue wq_;
};

// A descriptor of a queue: reads give the status line (as any file of the file system).
class MqFile final : public InodeFile {
 public:
  MqFile(std::shared_ptr<Dentry> d, std::shared_ptr<MqInode> q, u32 flags)
      : InodeFile(std::move(d), flags), q_(std::move(q)) {}
  MqInode& queue() const { return *q_; }
  u32 poll_events() override {
    const usize n = q_->curmsgs();
    return (n > 0 ? kPollIn : 0u) | (static_cast<i64>(n) < q_->maxmsg() ? kPollOut : 0u);
  }
  ostd::WaitQueue* poll_queue() override { return &q_->wq(); }
  void flush(const Process& closer) override { q_->closed_by(closer); }

 private:
  std::shared_ptr<MqInode> q_;
};

FileKind<MqFile>& mq_files() {
  static FileKind<MqFile> k;
  return k;
}

Result<std::shared_ptr<File>> MqInode::open(const std::shared_ptr<Dentry>& d, u32 flags) {
  auto self = std::static_pointer_cast<MqInode>(shared_from_this());
  auto f = std::make_shared<MqFile>(d, std::move(self), flags & (kOAccMode | kONonblock));
  mq_files().add(f);
  return std::shared_ptr<File>(f);
}

// The queues' directory: sticky and writable by all, as Linux's mqueue root.
class MqDir final : public Inode {
 public:
  explicit MqDir(u64 dev) : Inode(dev, abi::kSIfdir | 01777) { nlink = 2; }

  Result<std::shared_ptr<Inode>> lookup(std::string_view name) override {
    auto g = lock_.lock();
    auto it = entries_.find(name);
    if (it == entries_.end()) return Errno::enoent;
    return std::shared_ptr<Inode>(it->second);
  }
  /// A queue with the default attributes: open(O_CREAT) in a mounted mqueue file system
  /// (charged to nobody's RLIMIT_MSGQUEUE).
  Result<std::shared_ptr<Inode>> create(std::string_view name, u32 mode, u64) override {
    if ((mode & abi::kSIfmt) != abi::kSIfreg) return Errno::eperm;
    auto q = std::make_shared<MqInode>(dev(), mode, kMsgDefault, kMsgsizeDefault, 0, 0);
    return std::shared_ptr<Inode>(TRY(add(name, q)));
  }
  Result<std::shared_ptr<MqInode>> add(std::string_view name, std::shared_ptr<MqInode> q) {
    auto g = lock_.lock();
    if (entries_.contains(name)) return Errno::eexist;
    entries_.emplace(std::string(name), q);
    touch_mtime();
    return q;
  }
  Result<void> unlink(std::string_view name) override {
    auto g = lock_.lock();
    auto it = entries_.find(name);
    if (it == entries_.end()) return Errno::enoent;
    it->second->nlink = 0;
    it->second->touch_ctime();
    entries_.erase(it);
    touch_mtime();
    return {};
  }
  Result<std::vector<DirEntry>> list() override {
    auto g = lock_.lock();
    std::vector<DirEntry> out;
    for (const auto& [name, q] : entries_) out.push_back(DirEntry{name, q->ino(), kDtReg});
    return out;
  }

 private:
  ostd::Mutex lock_;
  std::map<std::string, std::shared_ptr<MqInode>, std::less<>> entries_;
};

class MqueueFs final : public FileSystem {
 public:
  MqueueFs() : FileSystem("mqueue"), root_(std::make_shared<MqDir>(dev())) {}
  std::shared_ptr<Inode> root() override { return root_; }
  u64 magic() const override { return kMqueueMagic; }
  MqDir& dir() { return *root_; }
  std::shared_ptr<Dentry> root_dentry() { return std::make_shared<Dentry>(nullptr, "", root_); }

 private:
  std::shared_ptr<MqDir> root_;
};

std::shared_ptr<MqueueFs>& mqueue_fs() {
  static std::shared_ptr<MqueueFs> fs = std::make_shared<MqueueFs>();
  return fs;
}

// mq_attr_ok and the RLIMIT_MSGQUEUE charge of a new queue.
Result<u64> queue_charge(Thread& t, i64 maxmsg, i64 msgsize) {
  if (maxmsg <= 0 || msgsize <= 0) return Errno::einval;
  if (t.process().creds.capable(cap::kSysResource)) {
    if (maxmsg > kHardMsgMax || msgsize > kHardMsgsizeMax) return Errno::einval;
  } else if (maxmsg > kMsgMax || msgsize > kMsgsizeMax) {
    return Errno::einval;
  }
  const u64 m = static_cast<u64>(maxmsg);
  return m * static_cast<u64>(msgsize) + m * kMsgOverhead + std::min<u64>(m, kPrioMax) * kPrioNodeOverhead;
}

// A queue's name as mq_open and mq_unlink take it: no slash, not "." or "..".
Result<std::string> read_queue_name(Thread& t, ostd::Vaddr at) {
  std::string name = TRY(t.vm().read_cstring(at, kPathMax - 1));
  if (name.empty()) return Errno::enoent;
  if (name == "." || name == ".." || name.find('/') != std::string::npos) return Errno::eacces;
  if (name.size() > kNameMax) return Errno::enametoolong;
  return name;
}

Result<std::shared_ptr<MqFile>> mq_of(Thread& t, int fd) {
  auto f = TRY(t.process().fds->get(fd));
  auto q = mq_files().find(*f);
  if (!q) return Errno::ebadf;
  return q;
}

// An absolute CLOCK_REALTIME timeout as the time left (nullopt: none given). Checked before
// anything else, as Linux does.
Result<std::optional<u64>> read_timeout(Thread& t, ostd::Vaddr at) {
  if (at == 0) return std::optional<u64>();
  auto ts = TRY(ostd::UserPtr<abi::Timespec>(at).read(t.vm()));
  u64 deadline = TRY(from_timespec(ts));
  u64 now = TRY(clock_now(t, clk::kRealtime));
  return std::optional<u64>(deadline > now ? deadline - now : 0);
}

Result<long> sys_mq_open(Thread& t, const SyscallArgs& a) {
  const u32 oflag = a.as_u32(1);
  const u32 mode = a.as_u32(2);
  std::optional<MqAttr> attr;
  if (a[3] != 0) attr = TRY(ostd::UserPtr<MqAttr>(a[3]).read(t.vm()));
  std::string name = TRY(read_queue_name(t, a[0]));
  auto& fs = mqueue_fs();
  MqDir& dir = fs->dir();
  const Credentials& c = t.process().creds;
  std::shared_ptr<Inode> inode;
  auto existing = dir.lookup(name);
  if (existing.is_ok()) {
    if ((oflag & (kOCreat | kOExcl)) == (kOCreat | kOExcl)) return Errno::eexist;
    if ((oflag & kOAccMode) == kOAccMode) return Errno::einval;
    const u32 acc = oflag & kOAccMode;
    inode = existing.release_value();
    TRY(inode_permission(c, *inode, acc == kORdOnly ? kMayRead : acc == kOWrOnly ? kMayWrite : kMayRead | kMayWrite));
  } else {
    if ((oflag & kOCreat) == 0) return Errno::enoent;
    const i64 maxmsg = attr ? attr->maxmsg : kMsgDefault, msgsize = attr ? attr->msgsize : kMsgsizeDefault;
    const u64 charge = TRY(queue_charge(t, maxmsg, msgsize));
    {
      UserBytes& ub = user_bytes();
      auto g = ub.lock.lock();
      u64& used = ub.by_uid[c.uid];
      if (used + charge > t.process().rlimits.at(abi::kRlimitMsgqueue).cur) return Errno::emfile;
      used += charge;
    }
    auto q = std::make_shared<MqInode>(fs->dev(), abi::kSIfreg | (mode & 0777 & ~t.process().fs->umask), maxmsg,
                                       msgsize, c.uid, charge);
    set_new_owner(*q, *fs->root(), c);
    inode = TRY(dir.add(name, q));
  }
  auto d = std::make_shared<Dentry>(fs->root_dentry(), name, inode);
  auto file = TRY(inode->open(d, oflag));
  // Message queue descriptors are always close-on-exec.
  return TRY(t.process().fds->install(std::move(file), true));
}

Result<long> sys_mq_unlink(Thread& t, const SyscallArgs& a) {
  std::string name = TRY(read_queue_name(t, a[0]));
  MqDir& dir = mqueue_fs()->dir();
  auto victim = TRY(dir.lookup(name));
  TRY(may_delete_from(t.process().creds, dir, *victim));
  TRY(dir.unlink(name));
  return 0;
}

// A sender or receiver that must wait for `ready`: EAGAIN at once for O_NONBLOCK, ETIMEDOUT
// once the timeout is spent; the time slept comes off `timeout`. A sleeping receiver is
// counted (a message then goes to it without the arrival notification).
template <typename Ready>
Result<void> wait_for_queue(Thread& t, const MqFile& f, MqInode& q, std::optional<u64>& timeout, bool receiver,
                            Ready&& ready) {
  if (f.nonblocking()) return Errno::eagain;
  if (timeout && *timeout == 0) return Errno::etimedout;
  const u64 start = ostd::monotonic_ns();
  if (receiver) q.count_receiver(1);
  auto r = t.wait_interruptible(q.wq(), std::forward<Ready>(ready), timeout);
  if (receiver) q.count_receiver(-1);
  if (timeout) *timeout -= std::min(*timeout, ostd::monotonic_ns() - start);
  return r;
}

Result<long> sys_mq_timedsend(Thread& t, const SyscallArgs& a) {
  const u32 prio = a.as_u32(3);
  if (prio >= kPrioMax) return Errno::einval;
  auto timeout = TRY(read_timeout(t, a[4]));
  auto f = TRY(mq_of(t, a.as_int(0)));
  if (!f->writable()) return Errno::ebadf;
  MqInode& q = f->queue();
  if (a[2] > static_cast<u64>(q.msgsize())) return Errno::emsgsize;
  std::vector<u8> data(a[2]);
  if (!data.empty()) TRY(t.vm().read_bytes(a[1], data));
  while (!q.try_send(t, prio, data)) {
    TRY(wait_for_queue(t, *f, q, timeout, false, [&] { return static_cast<i64>(q.curmsgs()) < q.maxmsg(); }));
  }
  return 0;
}

Result<long> sys_mq_timedreceive(Thread& t, const SyscallArgs& a) {
  auto timeout = TRY(read_timeout(t, a[4]));
  auto f = TRY(mq_of(t, a.as_int(0)));
  if (!f->readable()) return Errno::ebadf;
  MqInode& q = f->queue();
  if (a[2] < static_cast<u64>(q.msgsize())) return Errno::emsgsize;
  std::optional<std::pair<u32, std::vector<u8>>> m;
  while (!(m = q.try_receive())) TRY(wait_for_queue(t, *f, q, timeout, true, [&] { return q.curmsgs() > 0; }));
  // A message that cannot be copied out is lost, as on Linux.
  if (!m->second.empty()) TRY(t.vm().write_bytes(a[1], m->second));
  if (a[3] != 0) TRY(ostd::UserPtr<u32>(a[3]).write(t.vm(), m->first));
  return static_cast<long>(m->second.size());
}

Result<long> sys_mq_notify(Thread& t, const SyscallArgs& a) {
  std::optional<Sigevent> ev;
  if (a[1] != 0) {
    ev = TRY(ostd::UserPtr<Sigevent>(a[1]).read(t.vm()));
    if (ev->notify != kSigevSignal && ev->notify != kSigevNone && ev->notify != kSigevThread) return Errno::einval;
    if (ev->notify == kSigevSignal && (ev->signo < 0 || ev->signo > kNumSignals)) return Errno::einval;
    // SIGEV_THREAD notifies through a netlink socket, which is not supported.
    if (ev->notify == kSigevThread) {
      auto s = TRY(t.process().fds->get(ev->signo));
      return s->socket() != nullptr ? Errno::einval : Errno::enotsock;
    }
  }
  auto f = TRY(mq_of(t, a.as_int(0)));
  TRY(f->queue().set_notify(t.process(), ev));
  return 0;
}

Result<long> sys_mq_getsetattr(Thread& t, const SyscallArgs& a) {
  std::optional<MqAttr> in;
  if (a[1] != 0) {
    in = TRY(ostd::UserPtr<MqAttr>(a[1]).read(t.vm()));
    if ((in->flags & ~static_cast<i64>(kONonblock)) != 0) return Errno::einval;
  }
  auto f = TRY(mq_of(t, a.as_int(0)));
  MqInode& q = f->queue();
  MqAttr old{
      static_cast<i64>(f->status_flags() & kONonblock), q.maxmsg(), q.msgsize(), static_cast<i64>(q.curmsgs()), {}};
  if (in) {
    u32 fl = f->status_flags() & ~kONonblock;
    f->set_status_flags(fl | (static_cast<u32>(in->flags) & kONonblock));
  }
  if (a[2] != 0) TRY(ostd::UserPtr<MqAttr>(a[2]).write(t.vm(), old));
  return 0;
}

}  // namespace

std::shared_ptr<FileSystem> mqueue_filesystem() { return mqueue_fs(); }

void mqueue_shutdown() {
  // A fresh file system: queues do not outlive the machine (a new boot in the same host
  // process, as the fuzzers do, starts without them).
  mqueue_fs() = std::make_shared<MqueueFs>();
}

void register_mqueue_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::mq_open, &sys_mq_open);
  t.set(S::mq_unlink, &sys_mq_unlink);
  t.set(S::mq_timedsend, &sys_mq_timedsend);
  t.set(S::mq_timedreceive, &sys_mq_timedreceive);
  t.set(S::mq_notify, &sys_mq_notify);
  t.set(S::mq_getsetattr, &sys_mq_getsetattr);
}

}  // namespace services
