// System V IPC: semaphore sets (semget, semop, semtimedop, semctl), message queues (msgget,
// msgsnd, msgrcv, msgctl) and shared memory (shmget, shmat, shmdt, shmctl), with
// /proc/sysvipc/{sem,msg,shm} for ipcs. A segment's memory is a SharedPages object that shmat
// maps MAP_SHARED; removed while attached, it stays (SHM_DEST) until its last area is gone.
//
// One IPC namespace. Each object has Linux's ipc64_perm (key, owner, creator, mode, sequence);
// its id is the slot index plus the sequence number times 32768, so a removed object's id is
// not taken by the next one. Waiters sleep on the object's queue and re-check after every
// change; removal wakes them with EIDRM. semop applies all of its operations or none, and
// SEM_UNDO adjustments are undone when the process exits.
#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <ostd/format.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/time.h>

#include "abi/x86_64/stat.h"
#include "fs/vfs.h"
#include "process/internal.h"
#include "process/process.h"
#include "syscall/table.h"
#include "time/clock.h"
#include "vm/memory_map.h"
#include "vm/shared_pages.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i16;
using ostd::i32;
using ostd::i64;
using ostd::u16;
using ostd::u32;
using ostd::u64;
using ostd::usize;
using ostd::Vaddr;

namespace {

constexpr i32 kIpcPrivate = 0;
constexpr int kIpcCreat = 01000, kIpcExcl = 02000, kIpcNowait = 04000;
constexpr int kIpcRmid = 0, kIpcSet = 1, kIpcStat = 2, kIpcInfo = 3, kIpc64 = 0x100;
constexpr int kMaxObjects = 32000;  // SEMMNI, MSGMNI
constexpr int kSeqShift = 15;       // IPCMNI_SHIFT

// struct ipc64_perm (x86-64).
struct IpcPerm {
  i32 key;
  u32 uid, gid, cuid, cgid;
  u32 mode;
  u16 seq;
  u16 pad;
  u32 pad2;
  u64 unused1, unused2;
  OSTD_POD(IpcPerm, key, uid, gid, cuid, cgid, mode, seq, pad, pad2, unused1, unused2);
};
static_assert(sizeof(IpcPerm) == 48);

struct IpcObject {
  IpcPerm perm{};
  bool removed = false;
  ostd::WaitQueue changed;
};

i64 now_sec() { return static_cast<i64>(ostd::realtime_ns() / ostd::kNsPerSec); }

// ipcperms: owner, group or other bits of the mode, or CAP_IPC_OWNER.
bool may(const Credentials& c, const IpcPerm& p, int want /* 4 read, 2 write */) {
  u32 granted = p.mode;
  if (c.euid == p.cuid || c.euid == p.uid) {
    granted >>= 6;
  } else if (c.in_group(p.gid) || c.in_group(p.cgid) || c.egid == p.gid || c.egid == p.cgid) {
    granted >>= 3;
  }
  return (static_cast<u32>(want) & ~granted & 7) == 0 || c.capable(cap::kIpcOwner);
}

// IPC_SET and IPC_RMID: the owner, the creator, or CAP_SYS_ADMIN.
bool may_change(const Credentials& c, const IpcPerm& p) {
  return c.euid == p.uid || c.euid == p.cuid || c.capable(cap::kSysAdmin);
}

// A table of one kind of object: ids, keys, the get logic shared by semget and msgget.
template <typename T>
class IpcTable {
 public:
  ostd::Mutex lock;

  // ipcget: a new object for IPC_PRIVATE or an unused key with IPC_CREAT; the existing one
  // for its key otherwise (EEXIST with IPC_EXCL, ENOENT without IPC_CREAT, EACCES).
  template <typename Make, typename Check>
  Result<int> get(const Credentials& c, i32 key, int flags, Make&& make, Check&& check) {
    if (key != kIpcPrivate) {
      for (auto& [id, obj] : objects_) {
        if (obj->perm.key != key) continue;
        if ((flags & kIpcCreat) != 0 && (flags & kIpcExcl) != 0) return Errno::eexist;
        if (!may(c, obj->perm, ((flags >> 6) | (flags >> 3) | flags) & 7)) return Errno::eacces;
        TRY(check(*obj));
        return id;
      }
      if ((flags & kIpcCreat) == 0) return Errno::enoent;
    }
    if (static_cast<int>(objects_.size()) >= kMaxObjects) return Errno::enospc;
    std::shared_ptr<T> obj = TRY(make());
    int idx = 0;
    while (used_.contains(idx)) ++idx;
    used_.insert(idx);
    obj->perm.key = key;
    obj->perm.uid = obj->perm.cuid = c.euid;
    obj->perm.gid = obj->perm.cgid = c.egid;
    obj->perm.mode = static_cast<u32>(flags) & 0777;
    obj->perm.seq = seq_;
    seq_ = static_cast<u16>((seq_ + 1) % 0x10000);
    const int id = (static_cast<int>(obj->perm.seq) << kSeqShift) + idx;
    objects_[id] = std::move(obj);
    return id;
  }
  // The object of `id` (EINVAL: no such id; a removed one is gone from the table).
  Result<std::shared_ptr<T>> find(int id) {
    auto it = objects_.find(id);
    if (it == objects_.end() || id < 0) return Errno::einval;
    return it->second;
  }
  // The object in slot `idx` (SEM_STAT, MSG_STAT), with its id.
  Result<std::pair<int, std::shared_ptr<T>>> at_index(int idx) {
    for (auto& [id, obj] : objects_) {
      if ((id & ((1 << kSeqShift) - 1)) == idx) return std::pair<int, std::shared_ptr<T>>(id, obj);
    }
    return Errno::einval;
  }
  void remove(int id) {
    auto it = objects_.find(id);
    if (it == objects_.end()) return;
    it->second->removed = true;
    it->second->changed.wake_all();
    used_.erase(id & ((1 << kSeqShift) - 1));
    objects_.erase(it);
  }
  int highest_index() const {
    int hi = -1;
    for (int i : used_) hi = std::max(hi, i);
    return hi;
  }
  const std::map<int, std::shared_ptr<T>>& objects() const { return objects_; }

 private:
  std::map<int, std::shared_ptr<T>> objects_;
  std::set<int> used_;
  u16 seq_ = 0;
};

// IPC_SET: uid, gid and the mode's permission bits from the caller's structure.
Result<void> apply_set(const Credentials& c, IpcPerm& p, const IpcPerm& in) {
  if (!may_change(c, p)) return Errno::eperm;
  p.uid = in.uid;
  p.gid = in.gid;
  p.mode = (p.mode & ~0777u) | (in.mode & 0777u);
  return {};
}

// ---- semaphores ----

constexpr int kSemmsl = 32000, kSemopm = 500, kSemvmx = 32767;
constexpr int kGetpid = 11, kGetval = 12, kGetall = 13, kGetncnt = 14, kGetzcnt = 15, kSetval = 16, kSetall = 17,
              kSemStat = 18, kSemInfo = 19, kSemStatAny = 20;
constexpr i16 kSemUndo = 0x1000;

struct Sem {
  int value = 0;
  i32 pid = 0;  // the last process to operate on it
  int ncnt = 0, zcnt = 0;
};

struct SemSet : IpcObject {
  std::vector<Sem> sems;
  i64 otime = 0, ctime = 0;
};

struct SemidDs {
  IpcPerm perm;
  i64 otime;
  u64 unused1;
  i64 ctime;
  u64 unused2;
  u64 nsems;
  u64 unused3, unused4;
  OSTD_POD(SemidDs, perm, otime, unused1, ctime, unused2, nsems, unused3, unused4);
};
static_assert(sizeof(SemidDs) == 104);

struct Sembuf {
  u16 num;
  i16 op;
  i16 flg;
  OSTD_POD(Sembuf, num, op, flg);
};
static_assert(sizeof(Sembuf) == 6);

struct SemState {
  IpcTable<SemSet> table;
  // SEM_UNDO adjustments: (pid, set id, semaphore) -> what to add back at exit.
  std::map<std::pair<i32, std::pair<int, int>>, int> undo;
};

SemState& sems() {
  static SemState s;
  return s;
}

Result<long> sys_semget(Thread& t, const SyscallArgs& a) {
  const i32 key = a.as_int(0);
  const int nsems = a.as_int(1), flags = a.as_int(2);
  if (nsems < 0 || nsems > kSemmsl) return Errno::einval;
  SemState& s = sems();
  ostd::MutexGuard g(s.table.lock);
  return TRY(s.table.get(
      t.process().creds, key, flags,
      [&]() -> Result<std::shared_ptr<SemSet>> {
        if (nsems == 0) return Errno::einval;
        auto set = std::make_shared<SemSet>();
        set->sems.resize(static_cast<usize>(nsems));
        set->ctime = now_sec();
        return set;
      },
      [&](SemSet& set) -> Result<void> {
        if (static_cast<usize>(nsems) > set.sems.size()) return Errno::einval;
        return {};
      }));
}

// Whether all of `ops` can be applied now: 0 yes, else the index of the one that blocks.
std::optional<usize> blocking_op(const SemSet& set, const std::vector<Sembuf>& ops) {
  std::vector<int> vals;
  vals.reserve(set.sems.size());
  for (const Sem& s : set.sems) vals.push_back(s.value);
  for (usize i = 0; i < ops.size(); ++i) {
    int& v = vals.at(ops[i].num);
    if (ops[i].op == 0) {
      if (v != 0) return i;
    } else if (ops[i].op < 0) {
      if (v + ops[i].op < 0) return i;
      v += ops[i].op;
    } else {
      v += ops[i].op;
    }
  }
  return std::nullopt;
}

Result<long> do_semtimedop(Thread& t, int id, Vaddr sops, long nsops, Vaddr timeout) {
  if (nsops < 1 || id < 0) return Errno::einval;
  if (nsops > kSemopm) return Errno::e2big;
  std::vector<Sembuf> ops(static_cast<usize>(nsops));
  for (usize i = 0; i < ops.size(); ++i) ops[i] = TRY(TRY(ostd::UserPtr<Sembuf>(sops).element(i)).read(t.vm()));
  std::optional<u64> deadline;
  if (timeout != 0) {
    abi::Timespec ts = TRY(ostd::UserPtr<abi::Timespec>(timeout).read(t.vm()));
    deadline = saturating_add(ostd::monotonic_ns(), TRY(from_timespec(ts)));
  }
  SemState& s = sems();
  const Credentials& c = t.process().creds;
  const i32 pid = t.process().pid();
  std::shared_ptr<SemSet> set;
  {
    ostd::MutexGuard g(s.table.lock);
    set = TRY(s.table.find(id));
    bool alter = false;
    for (const Sembuf& op : ops) {
      if (op.num >= set->sems.size()) return Errno::efbig;
      alter = alter || op.op != 0;
    }
    if (!may(c, set->perm, alter ? 2 : 4)) return Errno::eacces;
  }
  for (;;) {
    std::optional<usize> blocked;
    {
      ostd::MutexGuard g(s.table.lock);
      if (set->removed) return Errno::eidrm;
      blocked = blocking_op(*set, ops);
      if (!blocked) {
        for (const Sembuf& op : ops) {
          Sem& sem = set->sems.at(op.num);
          sem.value += op.op;
          sem.pid = pid;
          if ((op.flg & kSemUndo) != 0 && op.op != 0) s.undo[{pid, {id, op.num}}] -= op.op;
        }
        set->otime = now_sec();
        set->changed.wake_all();
        return 0;
      }
      if ((ops[*blocked].flg & kIpcNowait) != 0) return Errno::eagain;
      Sem& waited = set->sems.at(ops[*blocked].num);
      (ops[*blocked].op == 0 ? waited.zcnt : waited.ncnt) += 1;
    }
    std::optional<u64> left;
    if (deadline) left = *deadline > ostd::monotonic_ns() ? *deadline - ostd::monotonic_ns() : 0;
    auto w = t.wait_interruptible(
        set->changed, [&] { return set->removed || !blocking_op(*set, ops); }, left);
    {
      ostd::MutexGuard g(s.table.lock);
      Sem& waited = set->sems.at(ops[*blocked].num);
      (ops[*blocked].op == 0 ? waited.zcnt : waited.ncnt) -= 1;
    }
    if (w.is_error()) {
      if (w.error() == Errno::etimedout) return Errno::eagain;
      return Errno::erestartnohand;  // EINTR after a handler: never restarted with SA_RESTART
    }
  }
}

Result<long> sys_semop(Thread& t, const SyscallArgs& a) {
  return do_semtimedop(t, a.as_int(0), a[1], static_cast<long>(a[2]), 0);
}
Result<long> sys_semtimedop(Thread& t, const SyscallArgs& a) {
  return do_semtimedop(t, a.as_int(0), a[1], static_cast<long>(a[2]), a[3]);
}

// struct seminfo (IPC_INFO, SEM_INFO).
struct Seminfo {
  i32 semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem;
  OSTD_POD(Seminfo, semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem);
};

Result<long> sys_semctl(Thread& t, const SyscallArgs& a) {
  const int id = a.as_int(0), num = a.as_int(1);
  const int cmd = a.as_int(2) & ~kIpc64;
  const u64 arg = a[3];
  SemState& s = sems();
  const Credentials& c = t.process().creds;
  if (cmd == kIpcInfo || cmd == kSemInfo) {
    ostd::MutexGuard g(s.table.lock);
    Seminfo info{32000, kMaxObjects, 1024000000, 32000, kSemmsl, kSemopm, 500, 20, kSemvmx, 32767};
    if (cmd == kSemInfo) {
      int total = 0;
      for (auto& [oid, set] : s.table.objects()) total += static_cast<int>(set->sems.size());
      info.semusz = static_cast<i32>(s.table.objects().size());
      info.semaem = total;
    }
    TRY(ostd::UserPtr<Seminfo>(arg).write(t.vm(), info));
    return std::max(s.table.highest_index(), 0);
  }
  std::shared_ptr<SemSet> set;
  int result_id = id;
  {
    ostd::MutexGuard g(s.table.lock);
    if (cmd == kSemStat || cmd == kSemStatAny) {
      auto [oid, obj] = TRY(s.table.at_index(id));
      result_id = oid;
      set = obj;
    } else {
      if (id < 0) return Errno::einval;
      set = TRY(s.table.find(id));
    }
  }
  ostd::MutexGuard g(s.table.lock);
  switch (cmd) {
    case kIpcStat:
    case kSemStat:
    case kSemStatAny: {
      if (cmd != kSemStatAny && !may(c, set->perm, 4)) return Errno::eacces;
      SemidDs ds{set->perm, set->otime, 0, set->ctime, 0, set->sems.size(), 0, 0};
      TRY(ostd::UserPtr<SemidDs>(arg).write(t.vm(), ds));
      return cmd == kIpcStat ? 0 : result_id;
    }
    case kIpcSet: {
      SemidDs in = TRY(ostd::UserPtr<SemidDs>(arg).read(t.vm()));
      TRY(apply_set(c, set->perm, in.perm));
      set->ctime = now_sec();
      return 0;
    }
    case kIpcRmid:
      if (!may_change(c, set->perm)) return Errno::eperm;
      s.table.remove(id);
      std::erase_if(s.undo, [&](const auto& kv) { return kv.first.second.first == id; });
      return 0;
    default: break;
  }
  const bool whole = cmd == kGetall || cmd == kSetall;
  if (!whole && (num < 0 || static_cast<usize>(num) >= set->sems.size())) return Errno::einval;
  switch (cmd) {
    case kGetval:
    case kGetpid:
    case kGetncnt:
    case kGetzcnt: {
      if (!may(c, set->perm, 4)) return Errno::eacces;
      const Sem& sem = set->sems.at(static_cast<usize>(num));
      return cmd == kGetval ? sem.value : cmd == kGetpid ? sem.pid : cmd == kGetncnt ? sem.ncnt : sem.zcnt;
    }
    case kGetall: {
      if (!may(c, set->perm, 4)) return Errno::eacces;
      for (usize i = 0; i < set->sems.size(); ++i) {
        TRY(TRY(ostd::UserPtr<u16>(arg).element(i)).write(t.vm(), static_cast<u16>(set->sems[i].value)));
      }
      return 0;
    }
    case kSetval:
    case kSetall: {
      if (!may(c, set->perm, 2)) return Errno::eacces;
      std::vector<int> vals;
      if (cmd == kSetval) {
        const int v = static_cast<int>(static_cast<i32>(arg));
        if (v < 0 || v > kSemvmx) return Errno::erange;
        vals.push_back(v);
      } else {
        for (usize i = 0; i < set->sems.size(); ++i) {
          const u16 v = TRY(TRY(ostd::UserPtr<u16>(arg).element(i)).read(t.vm()));
          if (v > kSemvmx) return Errno::erange;
          vals.push_back(v);
        }
      }
      const i32 pid = t.process().pid();
      for (usize i = 0; i < vals.size(); ++i) {
        const usize which = cmd == kSetval ? static_cast<usize>(num) : i;
        set->sems.at(which).value = vals[i];
        set->sems.at(which).pid = pid;
        // Setting a value clears every process's undo adjustment for it.
        std::erase_if(s.undo, [&](const auto& kv) {
          return kv.first.second.first == id && kv.first.second.second == static_cast<int>(which);
        });
      }
      set->ctime = now_sec();
      set->changed.wake_all();
      return 0;
    }
    default: return Errno::einval;
  }
}

// ---- message queues ----

constexpr usize kMsgmax = 8192, kMsgmnb = 16384;
constexpr int kMsgNoerror = 010000, kMsgExcept = 020000, kMsgCopy = 040000;
constexpr int kMsgStat = 11, kMsgInfo = 12, kMsgStatAny = 13;

struct Message {
  i64 type;
  std::vector<ostd::u8> text;
};

struct MsgQueue : IpcObject {
  std::deque<Message> messages;
  u64 bytes = 0;
  u64 qbytes = kMsgmnb;
  i32 lspid = 0, lrpid = 0;
  i64 stime = 0, rtime = 0, ctime = 0;
};

struct MsqidDs {
  IpcPerm perm;
  i64 stime, rtime, ctime;
  u64 cbytes, qnum, qbytes;
  i32 lspid, lrpid;
  u64 unused4, unused5;
  OSTD_POD(MsqidDs, perm, stime, rtime, ctime, cbytes, qnum, qbytes, lspid, lrpid, unused4, unused5);
};
static_assert(sizeof(MsqidDs) == 120);

IpcTable<MsgQueue>& msgs() {
  static IpcTable<MsgQueue> t;
  return t;
}

Result<long> sys_msgget(Thread& t, const SyscallArgs& a) {
  auto& tab = msgs();
  ostd::MutexGuard g(tab.lock);
  return TRY(tab.get(
      t.process().creds, a.as_int(0), a.as_int(1),
      [&]() -> Result<std::shared_ptr<MsgQueue>> {
        auto q = std::make_shared<MsgQueue>();
        q->ctime = now_sec();
        return q;
      },
      [](MsgQueue&) -> Result<void> { return {}; }));
}

Result<long> sys_msgsnd(Thread& t, const SyscallArgs& a) {
  const int id = a.as_int(0), flags = a.as_int(3);
  const auto size = static_cast<i64>(a[2]);
  if (size < 0 || static_cast<u64>(size) > kMsgmax || id < 0) return Errno::einval;
  const i64 type = TRY(ostd::UserPtr<i64>(a[1]).read(t.vm()));
  if (type < 1) return Errno::einval;
  Message m{type, std::vector<ostd::u8>(static_cast<usize>(size))};
  TRY(t.vm().read_bytes(a[1] + 8, m.text));
  auto& tab = msgs();
  std::shared_ptr<MsgQueue> q;
  {
    ostd::MutexGuard g(tab.lock);
    q = TRY(tab.find(id));
    if (!may(t.process().creds, q->perm, 2)) return Errno::eacces;
  }
  const u64 n = static_cast<u64>(size);
  auto fits = [&] { return q->bytes + n <= q->qbytes && q->messages.size() < q->qbytes; };
  for (;;) {
    {
      ostd::MutexGuard g(tab.lock);
      if (q->removed) return Errno::eidrm;
      if (fits()) {
        q->messages.push_back(std::move(m));
        q->bytes += n;
        q->lspid = t.process().pid();
        q->stime = now_sec();
        q->changed.wake_all();
        return 0;
      }
      if ((flags & kIpcNowait) != 0) return Errno::eagain;
    }
    auto w = t.wait_interruptible(q->changed, [&] { return q->removed || fits(); });
    if (w.is_error()) return Errno::erestartnohand;
  }
}

// The message msgrcv takes: by type (0 any, > 0 that type or with MSG_EXCEPT any other, < 0
// the lowest type up to -type), or by position with MSG_COPY.
std::optional<usize> pick(const MsgQueue& q, i64 type, int flags) {
  if ((flags & kMsgCopy) != 0) {
    if (type < 0 || static_cast<u64>(type) >= q.messages.size()) return std::nullopt;
    return static_cast<usize>(type);
  }
  std::optional<usize> best;
  for (usize i = 0; i < q.messages.size(); ++i) {
    const i64 mt = q.messages[i].type;
    if (type == 0) return i;
    if (type > 0 && ((flags & kMsgExcept) != 0 ? mt != type : mt == type)) return i;
    if (type < 0 && mt <= -type && (!best || mt < q.messages[*best].type)) best = i;
  }
  return best;
}

Result<long> sys_msgrcv(Thread& t, const SyscallArgs& a) {
  const int id = a.as_int(0), flags = a.as_int(4);
  const auto size = static_cast<i64>(a[2]);
  const auto type = static_cast<i64>(a[3]);
  if (size < 0 || id < 0) return Errno::einval;
  if ((flags & kMsgCopy) != 0 && ((flags & kMsgExcept) != 0 || (flags & kIpcNowait) == 0)) return Errno::einval;
  auto& tab = msgs();
  std::shared_ptr<MsgQueue> q;
  {
    ostd::MutexGuard g(tab.lock);
    q = TRY(tab.find(id));
    if (!may(t.process().creds, q->perm, 4)) return Errno::eacces;
  }
  for (;;) {
    {
      ostd::MutexGuard g(tab.lock);
      if (q->removed) return Errno::eidrm;
      if (auto i = pick(*q, type, flags)) {
        Message& m = q->messages[*i];
        if (m.text.size() > static_cast<u64>(size) && (flags & kMsgNoerror) == 0) return Errno::e2big;
        const usize n = std::min<usize>(m.text.size(), static_cast<usize>(size));
        TRY(ostd::UserPtr<i64>(a[1]).write(t.vm(), m.type));
        TRY(t.vm().write_bytes(a[1] + 8, std::span<const ostd::u8>(m.text).first(n)));
        if ((flags & kMsgCopy) == 0) {
          q->bytes -= m.text.size();
          q->messages.erase(q->messages.begin() + static_cast<std::ptrdiff_t>(*i));
          q->lrpid = t.process().pid();
          q->rtime = now_sec();
          q->changed.wake_all();
        }
        return static_cast<long>(n);
      }
      if ((flags & kIpcNowait) != 0) return Errno::enomsg;
    }
    auto w = t.wait_interruptible(q->changed, [&] { return q->removed || pick(*q, type, flags).has_value(); });
    if (w.is_error()) return Errno::erestartnohand;
  }
}

// struct msginfo (IPC_INFO, MSG_INFO).
struct Msginfo {
  i32 msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql;
  u16 msgseg;
  u16 pad;
  OSTD_POD(Msginfo, msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql, msgseg, pad);
};

Result<long> sys_msgctl(Thread& t, const SyscallArgs& a) {
  const int id = a.as_int(0);
  const int cmd = a.as_int(1) & ~kIpc64;
  const Vaddr buf = a[2];
  auto& tab = msgs();
  const Credentials& c = t.process().creds;
  ostd::MutexGuard g(tab.lock);
  if (cmd == kIpcInfo || cmd == kMsgInfo) {
    // clang-format off
    Msginfo info{kMaxObjects * static_cast<i32>(kMsgmnb) / 1024, 0, static_cast<i32>(kMsgmax),
                 static_cast<i32>(kMsgmnb), kMaxObjects, 16, 0, 0xffff, 0};
    // clang-format on
    if (cmd == kMsgInfo) {
      u64 qnum = 0, bytes = 0;
      for (auto& [oid, q] : tab.objects()) {
        qnum += q->messages.size();
        bytes += q->bytes;
      }
      info.msgpool = static_cast<i32>(tab.objects().size());
      info.msgmap = static_cast<i32>(qnum);
      info.msgtql = static_cast<i32>(bytes);
    }
    TRY(ostd::UserPtr<Msginfo>(buf).write(t.vm(), info));
    return std::max(tab.highest_index(), 0);
  }
  std::shared_ptr<MsgQueue> q;
  int result_id = id;
  if (cmd == kMsgStat || cmd == kMsgStatAny) {
    auto [oid, obj] = TRY(tab.at_index(id));
    result_id = oid;
    q = obj;
  } else {
    if (id < 0) return Errno::einval;
    q = TRY(tab.find(id));
  }
  switch (cmd) {
    case kIpcStat:
    case kMsgStat:
    case kMsgStatAny: {
      if (cmd != kMsgStatAny && !may(c, q->perm, 4)) return Errno::eacces;
      MsqidDs ds{q->perm,   q->stime, q->rtime, q->ctime, q->bytes, q->messages.size(),
                 q->qbytes, q->lspid, q->lrpid, 0,        0};
      TRY(ostd::UserPtr<MsqidDs>(buf).write(t.vm(), ds));
      return cmd == kIpcStat ? 0 : result_id;
    }
    case kIpcSet: {
      MsqidDs in = TRY(ostd::UserPtr<MsqidDs>(buf).read(t.vm()));
      if (in.qbytes > kMsgmnb && !c.capable(cap::kSysResource)) return Errno::eperm;
      TRY(apply_set(c, q->perm, in.perm));
      q->qbytes = in.qbytes;
      q->ctime = now_sec();
      q->changed.wake_all();
      return 0;
    }
    case kIpcRmid:
      if (!may_change(c, q->perm)) return Errno::eperm;
      tab.remove(id);
      return 0;
    default: return Errno::einval;
  }
}

// ---- shared memory ----

constexpr u64 kShmmax = ~u64{0} - (u64{1} << 24);
constexpr int kShmmni = 4096;
constexpr int kShmRdonly = 010000, kShmRnd = 020000, kShmRemap = 040000, kShmExec = 0100000;
constexpr int kShmLock = 11, kShmUnlock = 12, kShmStat = 13, kShmInfo = 14, kShmStatAny = 15;
constexpr u32 kShmDest = 01000, kShmLocked = 02000;

struct ShmSeg : IpcObject {
  u64 size = 0;
  std::shared_ptr<SharedPages> pages;
  i32 cpid = 0, lpid = 0;
  i64 atime = 0, dtime = 0, ctime = 0;
  // Attaches: every area mapping the pages holds a reference (fork and splits add one, as
  // Linux's vm_ops->open), the segment one more.
  u64 nattch() const { return pages.use_count() > 1 ? static_cast<u64>(pages.use_count() - 1) : 0; }
};

struct ShmidDs {
  IpcPerm perm;
  u64 segsz;
  i64 atime, dtime, ctime;
  i32 cpid, lpid;
  u64 nattch;
  u64 unused4, unused5;
  OSTD_POD(ShmidDs, perm, segsz, atime, dtime, ctime, cpid, lpid, nattch, unused4, unused5);
};
static_assert(sizeof(ShmidDs) == 112);

IpcTable<ShmSeg>& shms() {
  static IpcTable<ShmSeg> t;
  return t;
}

// Segments removed while attached go once the last attach is gone (the table's lock held).
void sweep_shm(IpcTable<ShmSeg>& tab) {
  std::vector<int> gone;
  for (auto& [id, seg] : tab.objects()) {
    if ((seg->perm.mode & kShmDest) != 0 && seg->nattch() == 0) gone.push_back(id);
  }
  for (int id : gone) tab.remove(id);
}

Result<long> sys_shmget(Thread& t, const SyscallArgs& a) {
  const u64 size = a[1];
  const int flags = a.as_int(2);
  auto& tab = shms();
  ostd::MutexGuard g(tab.lock);
  sweep_shm(tab);
  if (static_cast<int>(tab.objects().size()) >= kShmmni && a.as_int(0) == kIpcPrivate) return Errno::enospc;
  const i32 pid = t.process().pid();
  return TRY(tab.get(
      t.process().creds, a.as_int(0), flags,
      [&]() -> Result<std::shared_ptr<ShmSeg>> {
        if (size < 1 || size > kShmmax) return Errno::einval;
        auto seg = std::make_shared<ShmSeg>();
        seg->size = size;
        seg->pages = std::make_shared<SharedPages>();
        seg->pages->set_file_size(size);
        seg->cpid = pid;
        seg->ctime = now_sec();
        return seg;
      },
      [&](ShmSeg& seg) -> Result<void> {
        if (seg.size < size) return Errno::einval;
        return {};
      }));
}

Result<long> sys_shmat(Thread& t, const SyscallArgs& a) {
  const int id = a.as_int(0), flags = a.as_int(2);
  Vaddr addr = a[1];
  if ((addr & (ostd::kPageSize - 1)) != 0) {
    if ((flags & kShmRnd) == 0) return Errno::einval;
    addr &= ~(ostd::kPageSize - 1);
  }
  if (a[1] != 0 && addr == 0 && (flags & kShmRemap) == 0) return Errno::einval;
  auto& tab = shms();
  std::shared_ptr<ShmSeg> seg;
  {
    ostd::MutexGuard g(tab.lock);
    if (id < 0) return Errno::einval;
    seg = TRY(tab.find(id));
    const int want = (flags & kShmRdonly) != 0 ? 4 : 6;
    if (!may(t.process().creds, seg->perm, (flags & kShmExec) != 0 ? want | 1 : want)) return Errno::eacces;
  }
  u32 prot = kProtRead | ((flags & kShmRdonly) != 0 ? 0 : kProtWrite) | ((flags & kShmExec) != 0 ? kProtExec : 0);
  u32 mflags = kMapShared;
  MemoryMap& mm = *t.process().mm;
  const u64 len = ostd::page_align_up(seg->size);
  if (addr != 0) {
    u64 end = 0;
    if (!ostd::checked_add(addr, len, end) || end > ostd::VmSpace::user_top()) return Errno::einval;
    // Over mappings only with SHM_REMAP.
    if ((flags & kShmRemap) == 0) {
      for (const Vma& v : mm.areas()) {
        if (v.start < end && addr < v.end) return Errno::einval;
      }
    }
    mflags |= kMapFixed;
  }
  const std::string name = ostd::format("/SYSV{:08x}", static_cast<u32>(seg->perm.key));
  const Vaddr at = TRY(mm.map(addr, len, prot, mflags, nullptr, 0, name, seg->pages));
  ostd::MutexGuard g(tab.lock);
  seg->lpid = t.process().pid();
  seg->atime = now_sec();
  return static_cast<long>(at);
}

Result<long> sys_shmdt(Thread& t, const SyscallArgs& a) {
  const Vaddr addr = a[0];
  if ((addr & (ostd::kPageSize - 1)) != 0) return Errno::einval;
  auto& tab = shms();
  MemoryMap& mm = *t.process().mm;
  // The segment attached at addr: its areas from there on, as far as they continue it.
  std::shared_ptr<ShmSeg> seg;
  {
    ostd::MutexGuard g(tab.lock);
    for (const Vma& v : mm.areas()) {
      if (v.start != addr || !v.shared) continue;
      for (auto& [id, s] : tab.objects()) {
        if (s->pages == v.shared && v.file_offset == 0) seg = s;
      }
    }
  }
  if (!seg) return Errno::einval;
  Vaddr end = addr;
  for (const Vma& v : mm.areas()) {
    if (v.start == end && v.shared == seg->pages && v.file_offset == end - addr) end = v.end;
  }
  TRY(mm.unmap(addr, end - addr));
  ostd::MutexGuard g(tab.lock);
  seg->lpid = t.process().pid();
  seg->dtime = now_sec();
  sweep_shm(tab);
  return 0;
}

// struct shminfo64 (IPC_INFO) and struct shm_info (SHM_INFO).
struct Shminfo {
  u64 shmmax, shmmin, shmmni, shmseg, shmall;
  std::array<u64, 4> unused;
  OSTD_POD(Shminfo, shmmax, shmmin, shmmni, shmseg, shmall, unused);
};
struct ShmInfo {
  i32 used_ids;
  i32 pad;
  u64 shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes;
  OSTD_POD(ShmInfo, used_ids, pad, shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes);
};

Result<long> sys_shmctl(Thread& t, const SyscallArgs& a) {
  const int id = a.as_int(0);
  const int cmd = a.as_int(1) & ~kIpc64;
  const Vaddr buf = a[2];
  auto& tab = shms();
  const Credentials& c = t.process().creds;
  ostd::MutexGuard g(tab.lock);
  sweep_shm(tab);
  if (cmd == kIpcInfo) {
    Shminfo info{kShmmax, 1, kShmmni, kShmmni, ~u64{0} - (u64{1} << 24), {}};
    TRY(ostd::UserPtr<Shminfo>(buf).write(t.vm(), info));
    return std::max(tab.highest_index(), 0);
  }
  if (cmd == kShmInfo) {
    ShmInfo info{};
    info.used_ids = static_cast<i32>(tab.objects().size());
    for (auto& [oid, seg] : tab.objects()) {
      info.shm_tot += (seg->size + ostd::kPageSize - 1) / ostd::kPageSize;
      info.shm_rss += seg->pages->count();
    }
    TRY(ostd::UserPtr<ShmInfo>(buf).write(t.vm(), info));
    return std::max(tab.highest_index(), 0);
  }
  std::shared_ptr<ShmSeg> seg;
  int result_id = id;
  if (cmd == kShmStat || cmd == kShmStatAny) {
    auto [oid, obj] = TRY(tab.at_index(id));
    result_id = oid;
    seg = obj;
  } else {
    if (id < 0) return Errno::einval;
    seg = TRY(tab.find(id));
  }
  switch (cmd) {
    case kIpcStat:
    case kShmStat:
    case kShmStatAny: {
      if (cmd != kShmStatAny && !may(c, seg->perm, 4)) return Errno::eacces;
      ShmidDs ds{seg->perm, seg->size, seg->atime, seg->dtime, seg->ctime, seg->cpid, seg->lpid, seg->nattch(), 0, 0};
      TRY(ostd::UserPtr<ShmidDs>(buf).write(t.vm(), ds));
      return cmd == kIpcStat ? 0 : result_id;
    }
    case kIpcSet: {
      ShmidDs in = TRY(ostd::UserPtr<ShmidDs>(buf).read(t.vm()));
      TRY(apply_set(c, seg->perm, in.perm));
      seg->ctime = now_sec();
      return 0;
    }
    case kIpcRmid:
      if (!may_change(c, seg->perm)) return Errno::eperm;
      // Attached: marked (SHM_DEST, its key now private) until the last detach.
      seg->perm.mode |= kShmDest;
      seg->perm.key = kIpcPrivate;
      sweep_shm(tab);
      return 0;
    // clang-format off
    case kShmLock: case kShmUnlock:
      if (!c.capable(cap::kIpcLock) && !may_change(c, seg->perm)) return Errno::eperm;
      // clang-format on
      if (cmd == kShmLock) {
        seg->perm.mode |= kShmLocked;
      } else {
        seg->perm.mode &= ~kShmLocked;
      }
      return 0;
    default: return Errno::einval;
  }
}

}  // namespace

std::vector<std::pair<std::string_view, std::string>> sysv_sysctls() {
  // As Linux's ipc_sysctls: kernel.sem is SEMMSL SEMMNS SEMOPM SEMMNI; shmall counts pages.
  return {{"msgmax", ostd::format("{}", kMsgmax)},
          {"msgmnb", ostd::format("{}", kMsgmnb)},
          {"msgmni", ostd::format("{}", kMaxObjects)},
          {"sem", ostd::format("{}\t{}\t{}\t{}", kSemmsl, 1024000000, kSemopm, kMaxObjects)},
          {"shmall", ostd::format("{}", ~u64{0} - (u64{1} << 24))},
          {"shmmax", ostd::format("{}", kShmmax)},
          {"shmmni", ostd::format("{}", kShmmni)}};
}

void sysv_shutdown() {
  auto drop_all = [](auto& tab) {
    ostd::MutexGuard g(tab.lock);
    std::vector<int> ids;
    for (auto& [id, obj] : tab.objects()) ids.push_back(id);
    for (int id : ids) tab.remove(id);
  };
  drop_all(sems().table);
  drop_all(msgs());
  drop_all(shms());
  ostd::MutexGuard g(sems().table.lock);
  sems().undo.clear();
}

void sysv_exit(Process& p) {
  SemState& s = sems();
  ostd::MutexGuard g(s.table.lock);
  for (auto it = s.undo.begin(); it != s.undo.end();) {
    if (it->first.first != p.pid()) {
      ++it;
      continue;
    }
    auto set = s.table.find(it->first.second.first);
    if (set.is_ok()) {
      Sem& sem = set.value()->sems.at(static_cast<usize>(it->first.second.second));
      sem.value = std::clamp(sem.value + it->second, 0, kSemvmx);
      sem.pid = p.pid();
      set.value()->changed.wake_all();
    }
    it = s.undo.erase(it);
  }
}

namespace {
// A column of /proc/sysvipc: right-aligned to `width`.
std::string col(const std::string& v, usize width) {
  return std::string(width > v.size() ? width - v.size() : 0, ' ') + v;
}
template <typename T>
std::string col(T v, usize width) {
  return col(ostd::format("{}", v), width);
}
}  // namespace

std::string sysvipc_sem_text() {
  SemState& s = sems();
  ostd::MutexGuard g(s.table.lock);
  std::string out = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n";
  for (auto& [id, set] : s.table.objects()) {
    const IpcPerm& p = set->perm;
    out += col(p.key, 10) + " " + col(id, 10) + "  " + col(ostd::format("{:o}", p.mode), 4) + " " +
           col(set->sems.size(), 10) + " " + col(p.uid, 5) + " " + col(p.gid, 5) + " " + col(p.cuid, 5) + " " +
           col(p.cgid, 5) + " " + col(set->otime, 10) + " " + col(set->ctime, 10) + "\n";
  }
  return out;
}

std::string sysvipc_shm_text() {
  auto& tab = shms();
  ostd::MutexGuard g(tab.lock);
  sweep_shm(tab);
  std::string out =
      "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      "
      "atime      dtime      ctime                   rss                  swap\n";
  for (auto& [id, seg] : tab.objects()) {
    const IpcPerm& p = seg->perm;
    out += col(p.key, 10) + " " + col(id, 10) + "  " + col(ostd::format("{:o}", p.mode), 4) + " " + col(seg->size, 21) +
           " " + col(seg->cpid, 5) + " " + col(seg->lpid, 5) + " " + col(seg->nattch(), 6) + " " + col(p.uid, 5) + " " +
           col(p.gid, 5) + " " + col(p.cuid, 5) + " " + col(p.cgid, 5) + " " + col(seg->atime, 10) + " " +
           col(seg->dtime, 10) + " " + col(seg->ctime, 10) + " " + col(seg->pages->count() * ostd::kPageSize, 21) +
           " " + col(0, 21) + "\n";
  }
  return out;
}

std::string sysvipc_msg_text() {
  auto& tab = msgs();
  ostd::MutexGuard g(tab.lock);
  std::string out =
      "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime    "
      "  ctime\n";
  for (auto& [id, q] : tab.objects()) {
    const IpcPerm& p = q->perm;
    out += col(p.key, 10) + " " + col(id, 10) + "  " + col(ostd::format("{:o}", p.mode), 4) + "  " + col(q->bytes, 10) +
           " " + col(q->messages.size(), 10) + " " + col(q->lspid, 5) + " " + col(q->lrpid, 5) + " " + col(p.uid, 5) +
           " " + col(p.gid, 5) + " " + col(p.cuid, 5) + " " + col(p.cgid, 5) + " " + col(q->stime, 10) + " " +
           col(q->rtime, 10) + " " + col(q->ctime, 10) + "\n";
  }
  return out;
}

void register_sysv_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::semget, &sys_semget);
  t.set(S::semop, &sys_semop);
  t.set(S::semtimedop, &sys_semtimedop);
  t.set(S::semctl, &sys_semctl);
  t.set(S::msgget, &sys_msgget);
  t.set(S::msgsnd, &sys_msgsnd);
  t.set(S::msgrcv, &sys_msgrcv);
  t.set(S::msgctl, &sys_msgctl);
  t.set(S::shmget, &sys_shmget);
  t.set(S::shmat, &sys_shmat);
  t.set(S::shmdt, &sys_shmdt);
  t.set(S::shmctl, &sys_shmctl);
}

}  // namespace services
