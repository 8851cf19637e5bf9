// services/net/socket.h — the socket layer: what every socket file offers the socket system
// calls (net/syscalls.cpp), and the options all families share (SOL_SOCKET).
//
// A Socket is an open file description. The system calls decode user memory (addresses,
// msghdr, control messages) into the kernel-side types below, call the family's operation, and
// encode the results back; a family never sees a user pointer except through the byte source
// and sink of the payload.
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/time.h>
#include <ostd/types.h>

#include "fs/file.h"
#include "process/credentials.h"
#include "process/process.h"

namespace services {

struct UnixCore;

// Address families, socket types and flags (x86-64 Linux values).
inline constexpr int kAfUnspec = 0, kAfUnix = 1, kAfInet = 2, kAfInet6 = 10, kAfNetlink = 16, kAfPacket = 17,
                     kAfMax = 46;
inline constexpr int kSockStream = 1, kSockDgram = 2, kSockRaw = 3, kSockRdm = 4, kSockSeqpacket = 5;
inline constexpr ostd::u32 kSockNonblock = kONonblock, kSockCloexec = kOCloexec;
inline constexpr ostd::u32 kSockTypeMask = 0xf;

// send/recv flags.
inline constexpr ostd::u32 kMsgOob = 0x1, kMsgPeek = 0x2, kMsgDontroute = 0x4, kMsgCtrunc = 0x8, kMsgTrunc = 0x20,
                           kMsgDontwait = 0x40, kMsgEor = 0x80, kMsgWaitall = 0x100, kMsgErrqueue = 0x2000,
                           kMsgNosignal = 0x4000, kMsgMore = 0x8000, kMsgWaitforone = 0x10000,
                           kMsgCmsgCloexec = 0x40000000;

// poll bits sockets report beyond file.h's.
inline constexpr ostd::u32 kPollRdhup = 0x2000;

// shutdown(2) bits as the kernel keeps them (how + 1).
inline constexpr ostd::u32 kRcvShutdown = 1, kSendShutdown = 2, kShutdownMask = 3;

/// SCM_CREDENTIALS / SO_PEERCRED: struct ucred.
struct Ucred {
  ostd::i32 pid;
  ostd::u32 uid;
  ostd::u32 gid;
  OSTD_POD(Ucred, pid, uid, gid);
};
static_assert(sizeof(Ucred) == 12);

/// The bytes of a send, wherever they come from (one user buffer, iovecs, a kernel buffer).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual ostd::usize remain() const = 0;
  /// Copies up to dst.size() bytes; the count, or EFAULT when a fault stopped it at the start.
  virtual ostd::Result<ostd::usize> read(std::span<ostd::u8> dst) = 0;
};

/// Where the bytes of a receive go.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual ostd::usize avail() const = 0;
  /// Copies up to src.size() bytes; the count, or EFAULT when a fault stopped it at the start.
  virtual ostd::Result<ostd::usize> write(std::span<const ostd::u8> src) = 0;
};

/// A ByteSource over a VmReader (read/write/sendfile reach sockets this way).
class ReaderSource final : public ByteSource {
 public:
  explicit ReaderSource(ostd::VmReader& r) : r_(r) {}
  ostd::usize remain() const override { return r_.remain(); }
  ostd::Result<ostd::usize> read(std::span<ostd::u8> dst) override;

 private:
  ostd::VmReader& r_;
};

class WriterSink final : public ByteSink {
 public:
  explicit WriterSink(ostd::VmWriter& w) : w_(w) {}
  ostd::usize avail() const override { return w_.avail(); }
  ostd::Result<ostd::usize> write(std::span<const ostd::u8> src) override;

 private:
  ostd::VmWriter& w_;
};

/// What sendmsg hands a family: payload, destination, flags and the control messages.
struct SendRequest {
  explicit SendRequest(ByteSource& d) : data(d) {}
  ByteSource& data;
  std::optional<std::vector<ostd::u8>> addr;  // msg_name (raw sockaddr), when given
  ostd::u32 flags = 0;
  std::vector<std::shared_ptr<File>> fds;  // SCM_RIGHTS
  std::optional<Ucred> creds;              // SCM_CREDENTIALS (checked)
};

/// What recvmsg gets back besides the payload it wrote into the sink.
struct RecvResult {
  ostd::usize len = 0;                        // the return value
  std::optional<std::vector<ostd::u8>> addr;  // the sender's address (empty vector: none)
  ostd::u32 msg_flags = 0;                    // MSG_TRUNC, MSG_CTRUNC
  std::vector<std::shared_ptr<File>> fds;     // SCM_RIGHTS received
  std::optional<Ucred> creds;                 // SCM_CREDENTIALS to report
};

/// An int option's bytes as getsockopt returns them, and the int setsockopt was given (EINVAL
/// when shorter than an int).
std::vector<ostd::u8> int_option(ostd::i32 v);
ostd::Result<ostd::i32> read_int_option(std::span<const ostd::u8> val);
/// `v` in hexadecimal, zero-padded to `width` digits (the /proc/net tables).
std::string hex_field(ostd::u64 v, ostd::usize width, bool upper = true);

/// Options every socket keeps (SOL_SOCKET), whatever its family.
struct SocketOptions {
  bool reuseaddr = false, reuseport = false, keepalive = false, broadcast = false, dontroute = false, oobinline = false,
       passcred = false, passsec = false;
  ostd::i32 priority = 0;
  ostd::i32 rcvlowat = 1;
  ostd::i32 linger_onoff = 0, linger_secs = 0;
  ostd::u32 sndbuf = 212992, rcvbuf = 212992;  // net.core.{w,r}mem_default
  static constexpr ostd::u64 kForever = ~ostd::u64{0};
  ostd::u64 rcvtimeo_ns = kForever, sndtimeo_ns = kForever;  // 0: do not wait at all
  ostd::i32 mark = 0;
  // IPPROTO_TCP options (net/tcp.cpp).
  bool nodelay = false, cork = false;
  ostd::i32 keepidle = 7200, keepintvl = 75, keepcnt = 9, defer_accept = 0, user_timeout = 0;
};

class Socket : public File {
 public:
  Socket(int family, int type, int protocol, const Credentials& owner);
  Socket* socket() override { return this; }

  int family() const { return family_; }
  int type() const { return type_; }
  int protocol() const { return protocol_; }

  virtual ostd::Result<void> bind(Thread& self, std::span<const ostd::u8> addr) = 0;
  virtual ostd::Result<void> connect(Thread& self, std::span<const ostd::u8> addr) = 0;
  virtual ostd::Result<void> listen(Thread& self, int backlog) = 0;
  /// A connection from the queue as a new socket file (flags: SOCK_NONBLOCK for it).
  virtual ostd::Result<std::shared_ptr<Socket>> accept(Thread& self, ostd::u32 flags) = 0;
  virtual ostd::Result<ostd::usize> sendmsg(Thread& self, SendRequest& req) = 0;
  virtual ostd::Result<RecvResult> recvmsg(Thread& self, ByteSink& out, ostd::u32 flags) = 0;
  /// getsockname / getpeername: the address as sockaddr bytes.
  virtual ostd::Result<std::vector<ostd::u8>> local_address() = 0;
  virtual ostd::Result<std::vector<ostd::u8>> peer_address() = 0;
  virtual ostd::Result<void> shutdown(int how) = 0;
  /// Options of the family's own levels (SOL_SOCKET is handled here); EOPNOTSUPP by default.
  virtual ostd::Result<void> set_option(Thread& self, int level, int name, std::span<const ostd::u8> val);
  virtual ostd::Result<std::vector<ostd::u8>> get_option(Thread& self, int level, int name);

  /// The whole setsockopt/getsockopt: SOL_SOCKET here, other levels to the family.
  ostd::Result<void> setsockopt(Thread& self, int level, int name, std::span<const ostd::u8> val);
  ostd::Result<std::vector<ostd::u8>> getsockopt(Thread& self, int level, int name);

  /// For the AF_UNIX in-flight collector: the protocol state behind a unix socket.
  virtual std::shared_ptr<UnixCore> unix_core() { return nullptr; }

  // File: read/write are recv/send without flags; stat is the socket inode's.
  ostd::Result<ostd::usize> read(Thread& self, ostd::VmWriter& out) override;
  ostd::Result<ostd::usize> write(Thread& self, ostd::VmReader& in) override;
  ostd::Result<abi::Stat> stat() override;
  ostd::Result<long> ioctl(Thread& self, ostd::u32 cmd, ostd::u64 arg) override;
  ostd::u64 ino() const { return ino_; }

  SocketOptions& options() { return opts_; }
  const SocketOptions& options() const { return opts_; }
  /// SO_ERROR: the pending error, cleared by reading it.
  virtual int take_error() { return 0; }
  /// SO_PEERCRED.
  virtual std::optional<Ucred> peer_credentials() { return std::nullopt; }
  /// SO_ACCEPTCONN.
  virtual bool listening() const { return false; }
  /// SO_KEEPALIVE changed (TCP arms or stops its keepalive timer).
  virtual void keepalive_changed() {}
  /// FIONREAD (SIOCINQ) and SIOCOUTQ.
  virtual ostd::Result<int> bytes_readable() { return 0; }
  virtual int bytes_unsent() { return 0; }
  /// A family's own ioctls (ENOTTY by default).
  virtual ostd::Result<long> family_ioctl(Thread& self, ostd::u32 cmd, ostd::u64 arg);

  /// Waits on `q` until `cond` holds, for a receive or a send: EAGAIN when SO_RCVTIMEO /
  /// SO_SNDTIMEO runs out, ERESTARTSYS on a signal (EINTR when a timeout is set), as Linux's
  /// sock_intr_errno. `deadline` is the absolute monotonic time, computed once per call.
  template <typename Cond>
  ostd::Result<void> wait(Thread& self, ostd::WaitQueue& q, std::optional<ostd::u64> deadline, Cond&& cond);
  /// Whether a send or receive with these flags must not wait (O_NONBLOCK or MSG_DONTWAIT).
  bool dont_wait(ostd::u32 flags) const { return nonblocking() || (flags & kMsgDontwait) != 0; }
  /// How many bytes a stream receive of `size` waits for: all with MSG_WAITALL, else
  /// SO_RCVLOWAT's worth (at least one).
  ostd::usize receive_target(ostd::usize size, ostd::u32 flags) const {
    ostd::usize t =
        (flags & kMsgWaitall) != 0 ? size : std::min<ostd::usize>(size, static_cast<ostd::usize>(opts_.rcvlowat));
    return t == 0 ? 1 : t;
  }
  /// The absolute deadline of a blocking receive or send that starts now.
  std::optional<ostd::u64> deadline(bool receive) const;

 private:
  int family_;
  int type_;
  int protocol_;
  ostd::u64 ino_;
  ostd::u32 uid_ = 0, gid_ = 0;
  SocketOptions opts_;
};

template <typename Cond>
ostd::Result<void> Socket::wait(Thread& self, ostd::WaitQueue& q, std::optional<ostd::u64> deadline, Cond&& cond) {
  std::optional<ostd::u64> left;
  if (deadline) {
    ostd::u64 now = ostd::monotonic_ns();
    if (now >= *deadline) return ostd::Errno::eagain;
    left = *deadline - now;
  }
  ostd::Result<void> r = self.wait_interruptible(q, cond, left);
  if (r.is_error()) {
    if (r.error() == ostd::Errno::etimedout) return ostd::Errno::eagain;
    if (r.error() == ostd::Errno::erestartsys && deadline) return ostd::Errno::eintr;
  }
  return r;
}

/// socket(2)/socketpair(2) of AF_UNIX (net/unix.cpp). `type` is the bare type, `flags` the
/// SOCK_NONBLOCK bit as O_NONBLOCK.
ostd::Result<std::shared_ptr<Socket>> make_unix_socket(Thread& self, int type, ostd::u32 flags);
ostd::Result<std::pair<std::shared_ptr<Socket>, std::shared_ptr<Socket>>> make_unix_pair(Thread& self, int type,
                                                                                         ostd::u32 flags);
/// Frees AF_UNIX sockets that only in-flight descriptors keep alive (cycles of SCM_RIGHTS), as
/// Linux's unix_gc; runs on its own when a unix socket's last descriptor is closed (`closing`,
/// whose closer holds one reference meanwhile) and when one is released.
void unix_gc(const File* closing = nullptr);
/// socket(AF_NETLINK, type, protocol) (net/netlink.cpp): NETLINK_ROUTE, SOCK_RAW or SOCK_DGRAM.
ostd::Result<std::shared_ptr<Socket>> make_netlink_socket(Thread& self, int type, int protocol, ostd::u32 flags);
/// The lines of /proc/net/unix.
std::string proc_net_unix();

}  // namespace services
