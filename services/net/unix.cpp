// AF_UNIX sockets: stream, datagram and seqpacket; path, abstract and automatic names;
// SCM_RIGHTS with the in-flight collector, SCM_CREDENTIALS, SO_PEERCRED. Linux's af_unix.c is
// the reference for every rule below (who gets which errno, when a socket is writable).
//
// The protocol state of a socket is a UnixCore; the open file (UnixSocket) owns one and
// releases it when the file goes away (the last descriptor and the last in-flight reference),
// so a connected pair's cores point at each other only until one side is released. All cores
// are guarded by one lock (the kernel has one CPU; the SMP issue splits it). Files are never
// dropped under that lock: what a release or a receive takes out of a queue is dropped after it.
#include <algorithm>
#include <deque>
#include <map>
#include <string>

#include <ostd/format.h>

#include "fs/vfs.h"
#include "net/socket.h"
#include "process/process.h"
#include "signal/signal.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::i32;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;

namespace {

constexpr usize kSunPathOffset = 2;      // offsetof(struct sockaddr_un, sun_path)
constexpr usize kSockaddrUnSize = 110;   // sizeof(struct sockaddr_un)
constexpr usize kStreamSegment = 65536;  // the largest piece one stream message carries
constexpr usize kMessageOverhead = 768;  // what an skb costs beyond its bytes (truesize)
constexpr int kMaxDgramQlen = 10;        // net.unix.max_dgram_qlen
constexpr int kSomaxconn = 4096;         // net.core.somaxconn
constexpr u64 kMaxInflight = 65536;      // in-flight descriptors in the whole kernel
constexpr int kSigpipe = 13;

enum class UnixState : u8 { Unconnected, Listening, Connected };

}  // namespace

struct UnixMessage {
  std::vector<u8> data;
  usize off = 0;  // bytes a stream reader already took
  std::vector<std::shared_ptr<File>> fds;
  Ucred cred{};
  std::vector<u8> from;  // the sender's address when it had one
  std::weak_ptr<UnixCore> sender;
  usize charge = 0;  // what it counts against the sender's send buffer
  usize unread() const { return data.size() - off; }
};

struct UnixCore {
  u64 id = 0;
  int type = kSockStream;
  UnixState state = UnixState::Unconnected;
  std::shared_ptr<UnixCore> peer;
  std::vector<u8> addr;                         // the bound name as sockaddr bytes; empty when unbound
  std::optional<std::pair<u64, u64>> path_key;  // (dev, ino) of the socket file bound to
  std::deque<UnixMessage> rx;
  usize rx_bytes = 0;
  std::deque<std::shared_ptr<UnixCore>> pending;  // a listener's connections not yet accepted
  int backlog = 0;
  u32 shutdown = 0;
  int err = 0;
  usize wmem = 0;  // bytes (with overhead) sent and not yet taken by the receiver
  std::optional<Ucred> peercred;
  bool dead = false;
  u32 inflight = 0;  // references to this socket's file inside messages
  std::weak_ptr<File> file;
  ostd::WaitQueue queue;
};

namespace {

struct UnixTable {
  ostd::Mutex lock;
  std::map<std::vector<u8>, std::weak_ptr<UnixCore>> abstract;   // by sun_path bytes
  std::map<std::pair<u64, u64>, std::weak_ptr<UnixCore>> paths;  // by the file's (dev, ino)
  std::map<u64, std::weak_ptr<UnixCore>> all;                    // for /proc/net/unix
  std::map<u64, std::weak_ptr<File>> inflight;                   // cores with inflight > 0
  u64 total_inflight = 0;
  u64 next_id = 0;
  u32 next_autobind = 0;
  bool gc_running = false;
};

UnixTable& table() {
  static UnixTable t;
  return t;
}

bool connection_oriented(int type) { return type == kSockStream || type == kSockSeqpacket; }

Ucred own_cred_for_scm(const Thread& t) {
  const Credentials& c = t.process().creds;
  return Ucred{t.process().pid(), c.uid, c.gid};
}

Ucred own_cred_for_peer(const Thread& t) {
  const Credentials& c = t.process().creds;
  return Ucred{t.process().pid(), c.euid, c.egid};
}

std::shared_ptr<UnixCore> new_core(int type) {
  auto c = std::make_shared<UnixCore>();
  c->type = type;
  UnixTable& tb = table();
  auto g = tb.lock.lock();
  c->id = ++tb.next_id;
  tb.all.emplace(c->id, c);
  return c;
}

// ---- in-flight accounting (under the table lock) ----

std::shared_ptr<UnixCore> core_of(const std::shared_ptr<File>& f) {
  Socket* s = f->socket();
  return s != nullptr ? s->unix_core() : nullptr;
}

void count_inflight(const std::shared_ptr<File>& f, bool add) {
  UnixTable& tb = table();
  auto c = core_of(f);
  if (add) {
    ++tb.total_inflight;
  } else {
    --tb.total_inflight;
  }
  if (!c) return;
  if (add) {
    if (c->inflight++ == 0) tb.inflight[c->id] = f;
  } else if (--c->inflight == 0) {
    tb.inflight.erase(c->id);
  }
}

// Takes the descriptors out of a message (they stop being in flight).
std::vector<std::shared_ptr<File>> detach_fds(UnixMessage& m) {
  for (const auto& f : m.fds) count_inflight(f, false);
  return std::move(m.fds);
}

// A message leaves a receive queue: its charge goes back to its sender.
void uncharge(UnixMessage& m) {
  if (m.charge == 0) return;
  if (auto s = m.sender.lock()) {
    s->wmem -= std::min(s->wmem, m.charge);
    file_state_changed(s->queue);
  }
  m.charge = 0;
}

// What a queue releases: dropped once the lock is gone.
struct Graveyard {
  std::vector<std::shared_ptr<File>> files;
  std::vector<std::shared_ptr<UnixCore>> cores;
  void take(UnixMessage& m) {
    uncharge(m);
    for (auto& f : detach_fds(m)) files.push_back(std::move(f));
  }
};

void purge_queue(UnixCore& c, Graveyard& grave) {
  for (auto& m : c.rx) grave.take(m);
  c.rx.clear();
  c.rx_bytes = 0;
}

// unix_release_sock for one socket: the name goes, the peer hears of it, queued messages are
// dropped. An embryo (a connection never accepted) resets its client.
void release_one(const std::shared_ptr<UnixCore>& c, bool embryo, Graveyard& grave) {
  UnixTable& tb = table();
  if (c->dead) return;
  c->dead = true;
  if (c->path_key) {
    auto it = tb.paths.find(*c->path_key);
    if (it != tb.paths.end() && it->second.lock() == c) tb.paths.erase(it);
  } else if (!c->addr.empty()) {
    auto it = tb.abstract.find(std::vector<u8>(c->addr.begin() + kSunPathOffset, c->addr.end()));
    if (it != tb.abstract.end() && it->second.lock() == c) tb.abstract.erase(it);
  }
  tb.all.erase(c->id);
  std::shared_ptr<UnixCore> pair = std::move(c->peer);
  c->peer = nullptr;
  if (pair && connection_oriented(c->type)) {
    pair->shutdown = kShutdownMask;
    if (!c->rx.empty() || embryo) pair->err = static_cast<int>(Errno::econnreset);
    file_state_changed(pair->queue);
  }
  if (pair) grave.cores.push_back(std::move(pair));
  purge_queue(*c, grave);
  c->state = UnixState::Unconnected;
  file_state_changed(c->queue);
}

// A socket's release, with the connections still waiting in its accept queue.
void release_core(const std::shared_ptr<UnixCore>& c, Graveyard& grave) {
  std::deque<std::shared_ptr<UnixCore>> pending = std::move(c->pending);
  c->pending.clear();
  release_one(c, false, grave);
  for (auto& e : pending) {
    release_one(e, true, grave);
    grave.cores.push_back(std::move(e));
  }
}

// ---- names ----

// unix_autobind: "\0" and five hex digits, the first free one.
Result<void> autobind(UnixCore& c, const std::shared_ptr<UnixCore>& self) {
  UnixTable& tb = table();
  if (!c.addr.empty()) return {};
  for (u32 tries = 0; tries <= 0xfffff; ++tries) {
    u32 n = tb.next_autobind++ & 0xfffff;
    std::string h = hex_field(n, 5, false);
    std::vector<u8> name{0};
    name.insert(name.end(), h.begin(), h.end());
    auto it = tb.abstract.find(name);
    if (it != tb.abstract.end() && !it->second.expired()) continue;
    tb.abstract[name] = self;
    c.addr = {static_cast<u8>(kAfUnix), 0};
    c.addr.insert(c.addr.end(), name.begin(), name.end());
    return {};
  }
  return Errno::enospc;
}

// A checked sockaddr_un: its family, and either a path or an abstract name.
struct UnixName {
  bool abstract = false;
  std::string path;
  std::vector<u8> name;  // abstract: sun_path bytes (leading NUL included)
};

Result<UnixName> parse_name(std::span<const u8> addr) {
  if (addr.size() <= kSunPathOffset || addr.size() > kSockaddrUnSize) return Errno::einval;
  u32 family = addr[0] | (u32{addr[1]} << 8);
  if (family != static_cast<u32>(kAfUnix)) return Errno::einval;
  auto sun = addr.subspan(kSunPathOffset);
  UnixName n;
  if (sun[0] == 0) {
    n.abstract = true;
    n.name.assign(sun.begin(), sun.end());
    return n;
  }
  auto end = std::find(sun.begin(), sun.end(), u8{0});
  n.path.assign(sun.begin(), end);
  return n;
}

// unix_find_other: the socket bound to the name, of the caller's type.
Result<std::shared_ptr<UnixCore>> find_bound(Thread& self, const UnixName& n, int type) {
  UnixTable& tb = table();
  std::shared_ptr<UnixCore> other;
  if (n.abstract) {
    auto g = tb.lock.lock();
    auto it = tb.abstract.find(n.name);
    if (it != tb.abstract.end()) other = it->second.lock();
    if (!other || other->dead) return Errno::econnrefused;
  } else {
    auto d = TRY(lookup_path(self, -100, n.path, true));
    TRY(inode_permission(self.process().creds, *d->inode(), kMayWrite));
    if (d->inode()->type() != abi::kSIfsock) return Errno::econnrefused;
    auto g = tb.lock.lock();
    auto it = tb.paths.find({d->inode()->dev(), d->inode()->ino()});
    if (it != tb.paths.end()) other = it->second.lock();
    if (!other || other->dead) return Errno::econnrefused;
  }
  if (other->type != type) return Errno::eprototype;
  return other;
}

class UnixSocket final : public Socket {
 public:
  UnixSocket(std::shared_ptr<UnixCore> core, u32 flags, const Credentials& owner)
      : Socket(kAfUnix, core->type, 0, owner), core_(std::move(core)) {
    set_status_flags(kORdWr | (flags & kONonblock));
  }
  UnixSocket(const UnixSocket&) = delete;
  UnixSocket& operator=(const UnixSocket&) = delete;
  UnixSocket(UnixSocket&&) = delete;
  UnixSocket& operator=(UnixSocket&&) = delete;
  ~UnixSocket() override {
    Graveyard grave;
    {
      auto g = table().lock.lock();
      release_core(core_, grave);
    }
    grave.files.clear();
    grave.cores.clear();
    unix_gc();
  }

  static std::shared_ptr<UnixSocket> wrap(std::shared_ptr<UnixCore> core, u32 flags, const Credentials& owner) {
    auto s = std::make_shared<UnixSocket>(core, flags, owner);
    auto g = table().lock.lock();
    core->file = s;
    return s;
  }

  std::shared_ptr<UnixCore> unix_core() override { return core_; }
  ostd::WaitQueue* poll_queue() override { return &core_->queue; }
  // The closer holds one reference while this runs: the collector allows for it.
  void on_last_close() override { unix_gc(this); }

  Result<void> bind(Thread& self, std::span<const u8> addr) override {
    UnixTable& tb = table();
    UnixCore& c = *core_;
    if (addr.size() == kSunPathOffset && addr[0] == kAfUnix && addr[1] == 0) {
      auto g = tb.lock.lock();
      if (!c.addr.empty()) return Errno::einval;
      return autobind(c, core_);
    }
    UnixName n = TRY(parse_name(addr));
    if (n.abstract) {
      auto g = tb.lock.lock();
      if (!c.addr.empty()) return Errno::einval;
      auto it = tb.abstract.find(n.name);
      if (it != tb.abstract.end() && !it->second.expired()) return Errno::eaddrinuse;
      tb.abstract[n.name] = core_;
      c.addr.assign(addr.begin(), addr.end());
      return {};
    }
    // A path: the socket file is made first (an existing name is EADDRINUSE even for a bound
    // socket), as unix_bind_bsd.
    Process& p = self.process();
    auto pn = TRY(walk_parent(PathLookup{*p.fs, nullptr, &p}, n.path));
    if (pn.name == "." || pn.name == ".." || pn.trailing_slash) return Errno::eaddrinuse;
    auto dir = pn.parent->inode();
    if (dir->lookup(pn.name).is_ok()) return Errno::eaddrinuse;
    {
      auto g = tb.lock.lock();
      if (!c.addr.empty()) return Errno::einval;
    }
    TRY(may_create_in(p.creds, *dir));
    auto inode = TRY(dir->create(pn.name, abi::kSIfsock | (0777 & ~p.fs->umask), 0));
    set_new_owner(*inode, *dir, p.creds);
    auto g = tb.lock.lock();
    c.path_key = std::pair<u64, u64>{inode->dev(), inode->ino()};
    tb.paths[*c.path_key] = core_;
    c.addr = {static_cast<u8>(kAfUnix), 0};
    c.addr.insert(c.addr.end(), n.path.begin(), n.path.end());
    c.addr.push_back(0);
    return {};
  }

  Result<void> connect(Thread& self, std::span<const u8> addr) override {
    if (connection_oriented(type())) return stream_connect(self, addr);
    // Datagrams: AF_UNSPEC dissolves the association; otherwise the peer is remembered.
    if (addr.size() < kSunPathOffset) return Errno::einval;
    UnixTable& tb = table();
    UnixCore& c = *core_;
    if (addr[0] == kAfUnspec && addr[1] == 0) {
      std::shared_ptr<UnixCore> old;
      auto g = tb.lock.lock();
      old = std::move(c.peer);
      c.peer = nullptr;
      c.state = UnixState::Unconnected;
      return {};
    }
    UnixName n = TRY(parse_name(addr));
    if (options().passcred) {
      auto g = tb.lock.lock();
      TRY(autobind(c, core_));
    }
    auto other = TRY(find_bound(self, n, type()));
    std::shared_ptr<UnixCore> old;
    auto g = tb.lock.lock();
    if (other->dead) return Errno::econnrefused;
    if (other->peer && other->peer != core_) return Errno::eperm;
    old = std::move(c.peer);
    c.peer = other;
    c.state = UnixState::Connected;
    file_state_changed(c.queue);
    return {};
  }

  Result<void> listen(Thread& self, int backlog) override {
    if (!connection_oriented(type())) return Errno::eopnotsupp;
    auto g = table().lock.lock();
    UnixCore& c = *core_;
    if (c.addr.empty()) return Errno::einval;
    if (c.state != UnixState::Unconnected && c.state != UnixState::Listening) return Errno::einval;
    if (static_cast<u32>(backlog) > static_cast<u32>(kSomaxconn)) backlog = kSomaxconn;
    c.backlog = backlog;
    c.state = UnixState::Listening;
    c.peercred = own_cred_for_peer(self);
    file_state_changed(c.queue);
    return {};
  }

  Result<std::shared_ptr<Socket>> accept(Thread& self, u32 flags) override {
    if (!connection_oriented(type())) return Errno::eopnotsupp;
    UnixCore& c = *core_;
    auto deadline = this->deadline(true);
    for (;;) {
      std::shared_ptr<UnixCore> e;
      {
        auto g = table().lock.lock();
        if (c.state != UnixState::Listening) return Errno::einval;
        if (!c.pending.empty()) {
          e = std::move(c.pending.front());
          c.pending.pop_front();
          file_state_changed(c.queue);
        }
      }
      if (e) {
        auto s = wrap(e, flags, self.process().creds);
        s->options().passcred = options().passcred;
        s->options().passsec = options().passsec;
        return std::shared_ptr<Socket>(s);
      }
      if (nonblocking()) return Errno::eagain;
      TRY(wait(self, c.queue, deadline, [&] { return !c.pending.empty() || c.state != UnixState::Listening; }));
    }
  }

  Result<usize> sendmsg(Thread& self, SendRequest& req) override {
    if ((req.flags & kMsgOob) != 0) return Errno::eopnotsupp;
    if (type() == kSockStream) return stream_send(self, req);
    return dgram_send(self, req);
  }

  Result<RecvResult> recvmsg(Thread& self, ByteSink& out, u32 flags) override {
    if ((flags & kMsgOob) != 0) return type() == kSockStream ? Errno::einval : Errno::eopnotsupp;
    if (type() == kSockStream) return stream_recv(self, out, flags);
    return dgram_recv(self, out, flags);
  }

  Result<std::vector<u8>> local_address() override {
    auto g = table().lock.lock();
    return name_of(*core_);
  }

  Result<std::vector<u8>> peer_address() override {
    auto g = table().lock.lock();
    if (!core_->peer) return Errno::enotconn;
    return name_of(*core_->peer);
  }

  Result<void> shutdown(int how) override {
    if (how < 0 || how > 2) return Errno::einval;
    u32 mode = static_cast<u32>(how) + 1;
    auto g = table().lock.lock();
    UnixCore& c = *core_;
    c.shutdown |= mode;
    file_state_changed(c.queue);
    if (c.peer && connection_oriented(type())) {
      u32 peer_mode = 0;
      if ((mode & kRcvShutdown) != 0) peer_mode |= kSendShutdown;
      if ((mode & kSendShutdown) != 0) peer_mode |= kRcvShutdown;
      c.peer->shutdown |= peer_mode;
      file_state_changed(c.peer->queue);
    }
    return {};
  }

  int take_error() override {
    auto g = table().lock.lock();
    int e = core_->err;
    core_->err = 0;
    return e;
  }
  std::optional<Ucred> peer_credentials() override {
    auto g = table().lock.lock();
    return core_->peercred;
  }
  bool listening() const override { return core_->state == UnixState::Listening; }

  Result<int> bytes_readable() override {
    auto g = table().lock.lock();
    const UnixCore& c = *core_;
    if (c.state == UnixState::Listening) return Errno::einval;
    if (type() == kSockDgram) return c.rx.empty() ? 0 : static_cast<int>(c.rx.front().unread());
    return static_cast<int>(std::min<usize>(c.rx_bytes, 0x7fffffff));
  }
  int bytes_unsent() override {
    auto g = table().lock.lock();
    return static_cast<int>(std::min<usize>(core_->wmem, 0x7fffffff));
  }

  u32 poll_events() override {
    auto g = table().lock.lock();
    const UnixCore& c = *core_;
    u32 ev = 0;
    if (c.err != 0) ev |= kPollErr;
    if (c.shutdown == kShutdownMask) ev |= kPollHup;
    if ((c.shutdown & kRcvShutdown) != 0) ev |= kPollRdhup | kPollIn;
    if (!c.rx.empty() || !c.pending.empty()) ev |= kPollIn;
    if (connection_oriented(type()) && c.state == UnixState::Unconnected) ev |= kPollHup;
    bool writable = c.state != UnixState::Listening && (c.wmem << 2) <= options().sndbuf;
    if (writable && type() != kSockStream && c.peer && c.peer->peer != core_ && receiver_full(*c.peer)) {
      writable = false;
    }
    if (writable) ev |= kPollOut;
    return ev;
  }

 private:
  static std::vector<u8> name_of(const UnixCore& c) {
    if (c.addr.empty()) return {static_cast<u8>(kAfUnix), 0};
    return c.addr;
  }

  static bool receiver_full(const UnixCore& other) { return static_cast<int>(other.rx.size()) > kMaxDgramQlen; }

  // A datagram fits: the sender's buffer has room, and the receiver's queue too unless it is
  // this socket or connected back to it (unix_dgram_sendmsg).
  bool has_room(const UnixCore& other) const {
    return core_->wmem < options().sndbuf && (&other == core_.get() || other.peer == core_ || !receiver_full(other));
  }

  Result<void> stream_connect(Thread& self, std::span<const u8> addr) {
    UnixTable& tb = table();
    UnixCore& c = *core_;
    UnixName n = TRY(parse_name(addr));
    if (options().passcred) {
      auto g = tb.lock.lock();
      TRY(autobind(c, core_));
    }
    auto deadline = this->deadline(false);
    for (;;) {
      auto other = TRY(find_bound(self, n, type()));
      {
        auto g = tb.lock.lock();
        if (other->dead || other->state != UnixState::Listening || (other->shutdown & kRcvShutdown) != 0) {
          return Errno::econnrefused;
        }
        if (static_cast<int>(other->pending.size()) <= other->backlog) {
          if (c.state == UnixState::Connected) return Errno::eisconn;
          if (c.state != UnixState::Unconnected || c.dead) return Errno::einval;
          // The server's end, queued until accept; each side's peer credentials are the
          // other's (the listener's taken at listen()).
          auto e = std::make_shared<UnixCore>();
          e->type = type();
          e->id = ++tb.next_id;
          tb.all.emplace(e->id, e);
          e->state = UnixState::Connected;
          e->peer = core_;
          e->peercred = own_cred_for_peer(self);
          e->addr = other->addr;
          c.peer = e;
          c.state = UnixState::Connected;
          c.peercred = other->peercred;
          other->pending.push_back(std::move(e));
          file_state_changed(other->queue);
          file_state_changed(c.queue);
          return {};
        }
      }
      if (nonblocking()) return Errno::eagain;
      UnixCore& o = *other;
      TRY(wait(self, o.queue, deadline, [&] {
        return o.dead || o.state != UnixState::Listening || static_cast<int>(o.pending.size()) <= o.backlog;
      }));
    }
  }

  // Marks the message's descriptors as in flight; ETOOMANYREFS past the kernel's bound.
  static Result<void> attach_fds(UnixMessage& m, std::vector<std::shared_ptr<File>>& fds) {
    if (fds.empty()) return {};
    UnixTable& tb = table();
    if (tb.total_inflight + fds.size() > kMaxInflight) return Errno::etoomanyrefs;
    m.fds = std::move(fds);
    fds.clear();
    for (const auto& f : m.fds) count_inflight(f, true);
    return {};
  }

  void raise_sigpipe(Thread& self, const SendRequest& req) {
    if ((req.flags & kMsgNosignal) == 0) send_signal_to_thread(self, kSigpipe, kernel_siginfo(kSigpipe));
  }

  Result<usize> stream_send(Thread& self, SendRequest& req) {
    UnixTable& tb = table();
    UnixCore& c = *core_;
    {
      auto g = tb.lock.lock();
      if (req.addr) return c.state == UnixState::Connected ? Errno::eisconn : Errno::eopnotsupp;
      if (!c.peer) return Errno::enotconn;
    }
    usize total = req.data.remain();
    usize sent = 0;
    bool nonblock = dont_wait(req.flags);
    auto deadline = this->deadline(false);
    Ucred cred = req.creds.value_or(own_cred_for_scm(self));
    for (;;) {
      bool broken = false;
      {
        auto g = tb.lock.lock();
        std::shared_ptr<UnixCore> other = c.peer;
        broken = (c.shutdown & kSendShutdown) != 0 || !other || other->dead || (other->shutdown & kRcvShutdown) != 0;
        if (broken && sent > 0) return sent;
        if (broken) other = nullptr;
        if (!broken && sent == total) return sent;
        if (!broken && c.wmem < options().sndbuf) {
          usize chunk = std::min({total - sent, kStreamSegment, usize{options().sndbuf / 2 - 64}});
          UnixMessage m;
          m.data.resize(chunk);
          Result<usize> got = req.data.read(m.data);
          if (got.is_error() || got.value() == 0) return sent > 0 ? Result<usize>(sent) : Result<usize>(Errno::efault);
          m.data.resize(got.value());
          TRY(attach_fds(m, req.fds));
          m.cred = cred;
          m.from = c.addr;
          m.sender = core_;
          m.charge = m.data.size() + kMessageOverhead;
          c.wmem += m.charge;
          other->rx_bytes += m.data.size();
          sent += m.data.size();
          other->rx.push_back(std::move(m));
          file_state_changed(other->queue);
          if (got.value() < chunk) return sent;  // a fault in the middle: what went, went
          continue;
        }
      }
      if (broken) {
        raise_sigpipe(self, req);
        return Errno::epipe;
      }
      if (nonblock) return sent > 0 ? Result<usize>(sent) : Result<usize>(Errno::eagain);
      auto w = wait(self, c.queue, deadline, [&] {
        return c.wmem < options().sndbuf || (c.shutdown & kSendShutdown) != 0 || !c.peer || c.peer->dead ||
               (c.peer->shutdown & kRcvShutdown) != 0;
      });
      if (w.is_error()) return sent > 0 ? Result<usize>(sent) : Result<usize>(w.error());
    }
  }

  Result<usize> dgram_send(Thread& self, SendRequest& req) {
    UnixTable& tb = table();
    UnixCore& c = *core_;
    std::optional<UnixName> dest;
    if (type() == kSockSeqpacket) {
      auto g = tb.lock.lock();
      if (c.state != UnixState::Connected) return Errno::enotconn;
    } else if (req.addr) {
      dest = TRY(parse_name(*req.addr));
    }
    if (options().passcred) {
      auto g = tb.lock.lock();
      TRY(autobind(c, core_));
    }
    usize len = req.data.remain();
    if (len > options().sndbuf - 32) return Errno::emsgsize;
    bool nonblock = dont_wait(req.flags);
    auto deadline = this->deadline(false);
    UnixMessage m;
    m.data.resize(len);
    if (len > 0) {
      Result<usize> got = req.data.read(m.data);
      if (got.is_error() || got.value() != len) return Errno::efault;
    }
    m.cred = req.creds.value_or(own_cred_for_scm(self));
    m.sender = core_;
    m.charge = len + kMessageOverhead;
    for (;;) {
      std::shared_ptr<UnixCore> other;
      if (dest) other = TRY(find_bound(self, *dest, type()));
      {
        auto g = tb.lock.lock();
        if ((c.shutdown & kSendShutdown) != 0) return Errno::epipe;
        if (!dest) {
          other = c.peer;
          if (!other) return type() == kSockSeqpacket ? Errno::epipe : Errno::enotconn;
        }
        if (other->dead) {
          if (type() == kSockSeqpacket) return Errno::epipe;
          if (c.peer == other) {
            c.peer = nullptr;
            c.state = UnixState::Unconnected;
            return Errno::econnrefused;
          }
          if (dest) return Errno::econnrefused;
          continue;
        }
        if (other->peer && other->peer != core_) return Errno::eperm;
        if ((other->shutdown & kRcvShutdown) != 0) return Errno::epipe;
        if (has_room(*other)) {
          TRY(attach_fds(m, req.fds));
          m.from = c.addr;
          c.wmem += m.charge;
          other->rx_bytes += len;
          other->rx.push_back(std::move(m));
          file_state_changed(other->queue);
          return len;
        }
      }
      if (nonblock) return Errno::eagain;
      // Wakes for room, or for anything that turns the send into an error.
      UnixCore& o = *other;
      TRY(wait(self, c.wmem < options().sndbuf ? o.queue : c.queue, deadline, [&] {
        return o.dead || has_room(o) || (c.shutdown & kSendShutdown) != 0 || (o.shutdown & kRcvShutdown) != 0 ||
               (o.peer && o.peer != core_);
      }));
    }
  }

  // Copies descriptors of a peeked message: the receiver gets its own references.
  static std::vector<std::shared_ptr<File>> peek_fds(const UnixMessage& m) { return m.fds; }

  Result<RecvResult> stream_recv(Thread& self, ByteSink& out, u32 flags) {
    UnixTable& tb = table();
    UnixCore& c = *core_;
    {
      auto g = tb.lock.lock();
      if (c.state != UnixState::Connected) return Errno::einval;
    }
    usize size = out.avail();
    usize target = receive_target(size, flags);
    bool nonblock = dont_wait(flags);
    bool peek = (flags & kMsgPeek) != 0;
    auto deadline = this->deadline(true);
    RecvResult res;
    bool check_creds = false;
    usize copied = 0;
    for (;;) {
      {
        auto g = tb.lock.lock();
        bool stop = false;
        usize skip = peek ? copied : 0;
        auto it = c.rx.begin();
        while (it != c.rx.end() && skip >= it->unread()) {
          skip -= it->unread();
          ++it;
        }
        while (!stop && it != c.rx.end() && copied < size) {
          UnixMessage& m = *it;
          if (check_creds) {
            // Never glue messages from different writers: the read ends here.
            if (m.cred.pid != res.creds->pid || m.cred.uid != res.creds->uid || m.cred.gid != res.creds->gid) {
              stop = true;
              break;
            }
          } else if (options().passcred) {
            res.creds = m.cred;
            check_creds = true;
          }
          if (copied == 0 && !m.from.empty()) res.addr = m.from;
          usize chunk = std::min(m.unread() - skip, size - copied);
          auto piece = std::span<const u8>(m.data).subspan(m.off + skip, chunk);
          Result<usize> w = out.write(piece);
          if (w.is_error() || w.value() != chunk) {
            if (copied == 0) return Errno::efault;
            stop = true;
            break;
          }
          copied += chunk;
          skip = 0;
          if (!peek) {
            m.off += chunk;
            c.rx_bytes -= chunk;
            bool had_fds = !m.fds.empty();
            if (had_fds) res.fds = detach_fds(m);
            if (m.unread() > 0) break;
            uncharge(m);
            c.rx.pop_front();
            it = c.rx.begin();
            if (had_fds) stop = true;
          } else {
            if (!m.fds.empty()) {
              res.fds = peek_fds(m);
              stop = true;
            }
            ++it;
          }
        }
        if (copied > 0 && !peek) file_state_changed(c.queue);
        if (stop || copied >= target || copied == size) break;
        if (c.err != 0 && copied == 0) {
          int e = c.err;
          c.err = 0;
          return static_cast<Errno>(e);
        }
        if ((c.shutdown & kRcvShutdown) != 0) break;
      }
      if (nonblock) {
        if (copied > 0) break;
        return Errno::eagain;
      }
      usize have = copied;
      auto w = wait(self, c.queue, deadline, [&] {
        return (peek ? c.rx_bytes > have : c.rx_bytes > 0) || c.err != 0 || (c.shutdown & kRcvShutdown) != 0;
      });
      if (w.is_error()) {
        if (copied > 0) break;
        return w.error();
      }
    }
    res.len = copied;
    return res;
  }

  Result<RecvResult> dgram_recv(Thread& self, ByteSink& out, u32 flags) {
    UnixTable& tb = table();
    UnixCore& c = *core_;
    {
      auto g = tb.lock.lock();
      if (type() == kSockSeqpacket && c.state != UnixState::Connected) return Errno::enotconn;
    }
    bool nonblock = dont_wait(flags);
    bool peek = (flags & kMsgPeek) != 0;
    auto deadline = this->deadline(true);
    Graveyard grave;
    for (;;) {
      {
        auto g = tb.lock.lock();
        if (!c.rx.empty()) {
          UnixMessage& m = c.rx.front();
          RecvResult res;
          usize n = std::min(out.avail(), m.data.size());
          if (n < m.data.size()) res.msg_flags |= kMsgTrunc;
          Result<usize> w = n > 0 ? out.write(std::span<const u8>(m.data).first(n)) : Result<usize>(usize{0});
          bool fault = w.is_error() || w.value() != n;
          if (!m.from.empty()) res.addr = m.from;
          if (options().passcred) res.creds = m.cred;
          res.len = (flags & kMsgTrunc) != 0 ? m.data.size() : n;
          if (peek) {
            if (!fault) res.fds = peek_fds(m);
          } else {
            // The message is gone even when the copy faulted, as on Linux.
            if (fault) {
              grave.take(m);
            } else {
              uncharge(m);
              res.fds = detach_fds(m);
            }
            c.rx_bytes -= m.data.size();
            c.rx.pop_front();
            file_state_changed(c.queue);
          }
          if (fault) return Errno::efault;
          return res;
        }
        if (c.err != 0) {
          int e = c.err;
          c.err = 0;
          return static_cast<Errno>(e);
        }
        if ((c.shutdown & kRcvShutdown) != 0) return RecvResult{};
      }
      if (nonblock) return Errno::eagain;
      TRY(wait(self, c.queue, deadline,
               [&] { return !c.rx.empty() || c.err != 0 || (c.shutdown & kRcvShutdown) != 0; }));
    }
  }

  std::shared_ptr<UnixCore> core_;
};

}  // namespace

Result<std::shared_ptr<Socket>> make_unix_socket(Thread& self, int type, u32 flags) {
  if (type == kSockRaw) type = kSockDgram;
  if (type != kSockStream && type != kSockDgram && type != kSockSeqpacket) return Errno::esocktnosupport;
  unix_gc();
  return std::shared_ptr<Socket>(UnixSocket::wrap(new_core(type), flags, self.process().creds));
}

Result<std::pair<std::shared_ptr<Socket>, std::shared_ptr<Socket>>> make_unix_pair(Thread& self, int type, u32 flags) {
  auto a = TRY(make_unix_socket(self, type, flags));
  auto b = TRY(make_unix_socket(self, type, flags));
  auto ca = a->unix_core();
  auto cb = b->unix_core();
  Ucred cred = own_cred_for_peer(self);
  auto g = table().lock.lock();
  ca->peer = cb;
  cb->peer = ca;
  ca->state = cb->state = UnixState::Connected;
  ca->peercred = cb->peercred = cred;
  return std::pair{a, b};
}

// Linux's unix_gc: sockets whose files only messages hold (no descriptor, no call in progress)
// are candidates; candidates reachable from a message in a non-candidate's queue stay; the
// queues of the rest are purged, which breaks the cycles that kept them.
void unix_gc(const File* closing) {
  UnixTable& tb = table();
  struct Candidate {
    std::shared_ptr<File> file;
    std::shared_ptr<UnixCore> core;
    long outside = 0;  // references not from candidates' queues
    bool reachable = false;
  };
  std::map<u64, Candidate> cands;  // declared before the lock: dropped after it
  Graveyard grave;
  {
    auto g = tb.lock.lock();
    if (tb.inflight.empty() || tb.gc_running) return;
    tb.gc_running = true;
    for (auto& [id, weak] : tb.inflight) {
      auto f = weak.lock();
      if (!f) continue;
      auto c = core_of(f);
      // use_count counts this copy (and the closer's); every other reference must be a message's.
      long others = f.get() == closing ? 2 : 1;
      if (!c || f->has_descriptors() || f.use_count() - others != static_cast<long>(c->inflight)) continue;
      cands.emplace(id, Candidate{f, c, static_cast<long>(c->inflight), false});
    }
    auto for_each_ref = [&](const UnixCore& c, auto&& fn) {
      auto scan = [&](const UnixCore& q) {
        for (const auto& m : q.rx) {
          for (const auto& f : m.fds) {
            if (auto fc = core_of(f)) fn(fc->id);
          }
        }
      };
      scan(c);
      for (const auto& e : c.pending) scan(*e);
    };
    for (auto& [id, cand] : cands) {
      for_each_ref(*cand.core, [&](u64 ref) {
        auto it = cands.find(ref);
        if (it != cands.end()) --it->second.outside;
      });
    }
    std::vector<u64> work;
    for (auto& [id, cand] : cands) {
      if (cand.outside > 0) {
        cand.reachable = true;
        work.push_back(id);
      }
    }
    while (!work.empty()) {
      u64 id = work.back();
      work.pop_back();
      for_each_ref(*cands.at(id).core, [&](u64 ref) {
        auto it = cands.find(ref);
        if (it != cands.end() && !it->second.reachable) {
          it->second.reachable = true;
          work.push_back(ref);
        }
      });
    }
    for (auto& [id, cand] : cands) {
      if (cand.reachable) continue;
      purge_queue(*cand.core, grave);
      for (auto& e : cand.core->pending) purge_queue(*e, grave);
    }
  }
  grave.files.clear();
  cands.clear();
  auto g = tb.lock.lock();
  tb.gc_running = false;
}

std::string proc_net_unix() {
  UnixTable& tb = table();
  std::string s = "Num       RefCount Protocol Flags    Type St Inode Path\n";
  auto g = tb.lock.lock();
  for (const auto& [id, weak] : tb.all) {
    auto c = weak.lock();
    if (!c) continue;
    auto f = c->file.lock();
    u64 ino = 0;
    if (f && f->socket() != nullptr) ino = f->socket()->ino();
    // St: SS_UNCONNECTED 1, SS_CONNECTED 3; Flags: __SO_ACCEPTCON (1 << 16) when listening.
    int st = c->state == UnixState::Connected ? 3 : 1;
    u32 fl = c->state == UnixState::Listening ? 0x10000 : 0;
    std::string path;
    if (c->addr.size() > kSunPathOffset) {
      if (c->addr[kSunPathOffset] == 0) {
        path = "@";
        for (usize i = kSunPathOffset + 1; i < c->addr.size(); ++i)
          path += c->addr[i] == 0 ? '@' : static_cast<char>(c->addr[i]);
      } else {
        for (usize i = kSunPathOffset; i < c->addr.size() && c->addr[i] != 0; ++i)
          path += static_cast<char>(c->addr[i]);
      }
    }
    std::string inode = ostd::format("{}", ino);
    if (inode.size() < 5) inode.insert(0, 5 - inode.size(), ' ');
    s += hex_field(id, 16, false) + ": " + hex_field(2, 8, true) + " " + hex_field(0, 8, true) + " " +
         hex_field(fl, 8, true) + " " + hex_field(static_cast<u64>(c->type), 4, true) + " " +
         hex_field(static_cast<u64>(st), 2, true) + " " + inode + (path.empty() ? "" : " ") + path + "\n";
  }
  return s;
}

}  // namespace services
