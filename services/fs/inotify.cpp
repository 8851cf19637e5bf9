// inotify: watches on inodes and the event queues of inotify instances.
//
// A watch pins its inode and belongs to one instance; all watches are in one table keyed by
// inode, under one lock, and each inode counts its watchers so that the hooks (fs/notify.h)
// cost one load when nobody watches. An instance is a file whose reads return struct
// inotify_event records; its queue merges an event identical to the last one queued and ends
// in one IN_Q_OVERFLOW past max_queued_events, as Linux's.
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ostd/bytes.h>
#include <ostd/mm/io.h>

#include "fs/file.h"
#include "fs/notify.h"
#include "fs/vfs.h"
#include "process/process.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i32;
using ostd::u32;
using ostd::u64;
using ostd::usize;

namespace {

// Flags of inotify_add_watch beyond the events.
constexpr u32 kInDontFollow = 0x02000000, kInExclUnlink = 0x04000000, kInMaskCreate = 0x10000000,
              kInMaskAdd = 0x20000000, kInOnlydir = 0x01000000, kInOneshot = 0x80000000;
// Every bit inotify_add_watch knows: a mask with none of them is EINVAL.
constexpr u32 kAllInotifyBits = kInAllEvents | kInUnmount | kInQOverflow | kInIgnored | kInIsdir | kInDontFollow |
                                kInExclUnlink | kInMaskCreate | kInMaskAdd | kInOnlydir | kInOneshot;
constexpr u32 kFionread = 0x541B;
// /proc/sys/fs/inotify defaults.
constexpr usize kMaxQueuedEvents = 16384;
constexpr usize kMaxUserInstances = 128;
constexpr usize kMaxUserWatches = 8192;
constexpr usize kEventHeader = 16;  // struct inotify_event without the name

class InotifyFile;

struct Watch {
  std::weak_ptr<InotifyFile> owner;
  i32 wd = 0;
  u32 mask = 0;  // events and IN_ONESHOT / IN_EXCL_UNLINK
  std::shared_ptr<Inode> inode;
};

// struct inotify_event without its name.
struct EventHeader {
  i32 wd;
  u32 mask;
  u32 cookie;
  u32 len;
};
static_assert(sizeof(EventHeader) == kEventHeader);

struct Event {
  i32 wd;
  u32 mask;
  u32 cookie;
  std::string name;
  // The record's size: the name is NUL-terminated and padded to a multiple of the header size.
  usize size() const { return kEventHeader + (name.empty() ? 0 : (name.size() + kEventHeader) & ~(kEventHeader - 1)); }
  bool operator==(const Event&) const = default;
};

class InotifyFile final : public File {
 public:
  explicit InotifyFile(u32 flags) { set_status_flags(kORdOnly | flags); }
  InotifyFile(const InotifyFile&) = delete;
  InotifyFile& operator=(const InotifyFile&) = delete;
  InotifyFile(InotifyFile&&) = delete;
  InotifyFile& operator=(InotifyFile&&) = delete;
  ~InotifyFile() override;

  void push(Event ev) {
    {
      auto g = lock_.lock();
      if (queue_.size() >= kMaxQueuedEvents) {
        if (queue_.back().mask != kInQOverflow) queue_.push_back(Event{-1, kInQOverflow, 0, {}});
        return;
      }
      if (!queue_.empty() && queue_.back() == ev) return;
      queue_.push_back(std::move(ev));
    }
    file_state_changed(wq_);
  }

  Result<usize> read(Thread& t, ostd::VmWriter& out) override {
    for (;;) {
      {
        auto g = lock_.lock();
        if (!queue_.empty()) {
          usize done = 0;
          while (!queue_.empty() && queue_.front().size() <= out.avail()) {
            const Event& ev = queue_.front();
            std::vector<ostd::u8> rec(ev.size(), 0);
            const EventHeader hdr{ev.wd, ev.mask, ev.cookie, static_cast<u32>(ev.size() - kEventHeader)};
            std::copy(ostd::bytes_of(hdr).begin(), ostd::bytes_of(hdr).end(), rec.begin());
            std::copy(ev.name.begin(), ev.name.end(), rec.begin() + kEventHeader);
            auto w = out.write_bytes(rec);
            queue_.pop_front();  // an event that cannot be copied out is lost, as on Linux
            if (w.is_error()) return done > 0 ? Result<usize>(done) : Result<usize>(w.error());
            done += rec.size();
          }
          if (done == 0) return Errno::einval;  // the buffer cannot hold the next event
          return done;
        }
      }
      if (nonblocking()) return Errno::eagain;
      TRY(t.wait_interruptible(wq_, [&] {
        auto g = lock_.lock();
        return !queue_.empty();
      }));
    }
  }

  u32 poll_events() override {
    auto g = lock_.lock();
    return queue_.empty() ? 0 : kPollIn;
  }
  ostd::WaitQueue* poll_queue() override { return &wq_; }
  Result<abi::Stat> stat() override { return anon_inode_stat(); }

  Result<long> ioctl(Thread& t, u32 cmd, u64 arg) override {
    if (cmd != kFionread) return Errno::enotty;
    usize bytes = 0;
    {
      auto g = lock_.lock();
      for (const auto& ev : queue_) bytes += ev.size();
    }
    TRY(ostd::UserPtr<i32>(arg).write(t.vm(), static_cast<i32>(bytes)));
    return 0;
  }

  // Watches of this instance, by descriptor; under the table lock.
  std::map<i32, std::shared_ptr<Watch>> watches;
  i32 next_wd = 1;

 private:
  ostd::Mutex lock_;
  std::deque<Event> queue_;
  ostd::WaitQueue wq_;
};

// Every watch by inode, and the instances' watch maps: under one lock.
struct WatchTable {
  ostd::Mutex lock;
  std::map<const Inode*, std::vector<std::shared_ptr<Watch>>> by_inode;
  usize instances = 0;
  usize watches = 0;
  u32 cookie = 0;
};

WatchTable& table() {
  static WatchTable t;
  return t;
}

FileKind<InotifyFile>& inotify_files() {
  static FileKind<InotifyFile> k;
  return k;
}

// Takes `w` out of the table and its instance (table lock held); the caller queues IN_IGNORED.
void unlink_watch(WatchTable& tab, InotifyFile* owner, const std::shared_ptr<Watch>& w) {
  auto it = tab.by_inode.find(w->inode.get());
  if (it != tab.by_inode.end()) {
    std::erase(it->second, w);
    if (it->second.empty()) tab.by_inode.erase(it);
  }
  w->inode->notify_watchers.fetch_sub(1);
  --tab.watches;
  if (owner != nullptr) owner->watches.erase(w->wd);
}

// Watches leave the table under its lock but are destroyed after it: a watch may hold the last
// reference to an inode that holds another instance (a watch on /proc/self/fd/N), whose
// destructor takes the lock too.
InotifyFile::~InotifyFile() {
  WatchTable& tab = table();
  std::map<i32, std::shared_ptr<Watch>> dropped;  // destroyed after the lock is released
  auto g = tab.lock.lock();
  dropped.swap(watches);
  for (auto& [wd, w] : dropped) unlink_watch(tab, nullptr, w);
  --tab.instances;
}

// Queues (mask, name, cookie) to the watches on `inode` that want it.
// `unlinked_child`: the event is about a child that has no name left (IN_EXCL_UNLINK watches
// skip it).
void deliver(const Inode& inode, u32 mask, std::string_view name, u32 cookie, bool unlinked_child = false) {
  std::vector<std::pair<std::shared_ptr<InotifyFile>, Event>> out;
  std::vector<std::pair<InotifyFile*, std::shared_ptr<Watch>>> done;  // outlive the lock
  WatchTable& tab = table();
  {
    auto g = tab.lock.lock();
    auto it = tab.by_inode.find(&inode);
    if (it == tab.by_inode.end()) return;
    for (const auto& w : it->second) {
      if ((w->mask & mask & kInAllEvents) == 0) continue;
      if (unlinked_child && (w->mask & kInExclUnlink) != 0) continue;
      auto owner = w->owner.lock();
      if (!owner) continue;
      out.emplace_back(owner, Event{w->wd, mask, cookie, std::string(name)});
      if ((w->mask & kInOneshot) != 0) {
        out.emplace_back(owner, Event{w->wd, kInIgnored, 0, {}});
        done.emplace_back(owner.get(), w);
      }
    }
    // `out` keeps the owners alive until the lock is dropped (their destructor takes it).
    for (const auto& [owner, w] : done) unlink_watch(tab, owner, w);
  }
  for (auto& [owner, ev] : out) owner->push(std::move(ev));
}

// Events about a directory carry IN_ISDIR, but for its own move and deletion (as Linux's).
u32 with_isdir(const Inode& inode, u32 mask) {
  return inode.is_dir() && (mask & (kInMoveSelf | kInDeleteSelf)) == 0 ? mask | kInIsdir : mask;
}

Result<long> do_inotify_init(Thread& t, u32 flags) {
  if ((flags & ~(kOCloexec | kONonblock)) != 0) return Errno::einval;
  {
    WatchTable& tab = table();
    auto g = tab.lock.lock();
    if (tab.instances >= kMaxUserInstances) return Errno::emfile;
    ++tab.instances;
  }
  auto f = std::make_shared<InotifyFile>(flags & kONonblock);
  inotify_files().add(f);
  return TRY(t.process().fds->install(f, (flags & kOCloexec) != 0));
}

Result<long> sys_inotify_init(Thread& t, const SyscallArgs&) { return do_inotify_init(t, 0); }
Result<long> sys_inotify_init1(Thread& t, const SyscallArgs& a) { return do_inotify_init(t, a.as_u32(0)); }

Result<std::shared_ptr<InotifyFile>> instance_of(Thread& t, int fd) {
  auto f = TRY(t.process().fds->get(fd));
  auto in = inotify_files().find(*f);
  if (!in) return Errno::einval;
  return in;
}

Result<long> sys_inotify_add_watch(Thread& t, const SyscallArgs& a) {
  u32 mask = a.as_u32(2);
  if ((mask & ~kAllInotifyBits) != 0 || (mask & kAllInotifyBits) == 0) return Errno::einval;
  auto in = TRY(instance_of(t, a.as_int(0)));
  if ((mask & (kInMaskAdd | kInMaskCreate)) == (kInMaskAdd | kInMaskCreate)) return Errno::einval;
  std::string path = TRY(t.vm().read_cstring(a[1], kPathMax - 1));
  auto d = TRY(lookup_path(t, -100, path, (mask & kInDontFollow) == 0));
  if ((mask & kInOnlydir) != 0 && !d->inode()->is_dir()) return Errno::enotdir;
  TRY(inode_permission(t.process().creds, *d->inode(), kMayRead));
  u32 keep = mask & (kInAllEvents | kInOneshot | kInExclUnlink);
  WatchTable& tab = table();
  auto g = tab.lock.lock();
  for (auto& [wd, w] : in->watches) {
    if (w->inode != d->inode()) continue;
    if ((mask & kInMaskCreate) != 0) return Errno::eexist;
    w->mask = (mask & kInMaskAdd) != 0 ? w->mask | keep : keep;
    return wd;
  }
  if (tab.watches >= kMaxUserWatches) return Errno::enospc;
  auto w = std::make_shared<Watch>();
  w->owner = in;
  w->wd = in->next_wd++;
  w->mask = keep;
  w->inode = d->inode();
  in->watches[w->wd] = w;
  tab.by_inode[w->inode.get()].push_back(w);
  w->inode->notify_watchers.fetch_add(1);
  ++tab.watches;
  return w->wd;
}

Result<long> sys_inotify_rm_watch(Thread& t, const SyscallArgs& a) {
  auto in = TRY(instance_of(t, a.as_int(0)));
  WatchTable& tab = table();
  std::shared_ptr<Watch> w;  // destroyed after the lock is released
  {
    auto g = tab.lock.lock();
    auto it = in->watches.find(a.as_int(1));
    if (it == in->watches.end()) return Errno::einval;
    w = it->second;
    unlink_watch(tab, in.get(), w);
  }
  in->push(Event{a.as_int(1), kInIgnored, 0, {}});
  return 0;
}

}  // namespace

void fsnotify(const Dentry& d, u32 mask) {
  const Inode& inode = *d.inode();
  const Inode* parent = d.parent() ? d.parent()->inode().get() : nullptr;
  bool parent_watched = parent != nullptr && parent->notify_watchers.load() != 0;
  if (!parent_watched && inode.notify_watchers.load() == 0) return;
  mask = with_isdir(inode, mask);
  if (parent_watched) deliver(*parent, mask, d.name(), 0, inode.nlink == 0);
  if (inode.notify_watchers.load() != 0) deliver(inode, mask, {}, 0);
}

void fsnotify_name(Inode& dir, std::string_view name, const Inode& child, u32 mask, u32 cookie) {
  if (dir.notify_watchers.load() == 0) return;
  deliver(dir, with_isdir(child, mask), name, cookie);
}

void fsnotify_inode(Inode& inode, u32 mask) {
  if (inode.notify_watchers.load() == 0) return;
  deliver(inode, with_isdir(inode, mask), {}, 0);
}

void fsnotify_removed(Inode& inode) {
  if (inode.notify_watchers.load() == 0) return;
  deliver(inode, with_isdir(inode, kInDeleteSelf), {}, 0);
  std::vector<std::pair<std::shared_ptr<InotifyFile>, i32>> gone;  // outlive the lock
  std::vector<std::shared_ptr<Watch>> ws;
  WatchTable& tab = table();
  {
    auto g = tab.lock.lock();
    auto it = tab.by_inode.find(&inode);
    if (it == tab.by_inode.end()) return;
    ws = it->second;
    for (const auto& w : ws) {
      gone.emplace_back(w->owner.lock(), w->wd);
      unlink_watch(tab, gone.back().first.get(), w);
    }
  }
  std::erase_if(gone, [](const auto& g) { return !g.first; });
  for (auto& [owner, wd] : gone) owner->push(Event{wd, kInIgnored, 0, {}});
}

void fsnotify_unlinked(Inode& inode) {
  inode.unlinked = true;
  if (inode.open_files.load() == 0) fsnotify_removed(inode);
}

u32 fsnotify_cookie() {
  WatchTable& tab = table();
  auto g = tab.lock.lock();
  if (++tab.cookie == 0) ++tab.cookie;
  return tab.cookie;
}

void register_inotify_syscalls(SyscallTable& t) {
  t.set(x86_64::Sysno::inotify_init, &sys_inotify_init);
  t.set(x86_64::Sysno::inotify_init1, &sys_inotify_init1);
  t.set(x86_64::Sysno::inotify_add_watch, &sys_inotify_add_watch);
  t.set(x86_64::Sysno::inotify_rm_watch, &sys_inotify_rm_watch);
}

}  // namespace services
