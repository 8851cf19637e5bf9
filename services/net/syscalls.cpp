// Socket system calls: socket, socketpair, bind, listen, accept/accept4, connect,
// getsockname/getpeername, sendto/recvfrom, sendmsg/recvmsg, sendmmsg/recvmmsg, shutdown,
// setsockopt/getsockopt. This file decodes user memory (sockaddrs, msghdr, control messages) and
// encodes results; the families see kernel-side values only.
#include <algorithm>
#include <array>
#include <limits>

#include <ostd/mm/io.h>

#include "abi/x86_64/time.h"
#include "fs/file.h"
#include "net/inet.h"
#include "net/socket.h"
#include "process/process.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::i32;
using ostd::i64;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;
using ostd::Vaddr;

namespace {

constexpr usize kSockaddrStorage = 128;
constexpr int kSolSocket = 1;
constexpr int kScmRights = 1, kScmCredentials = 2;
constexpr usize kScmMaxFd = 253;
constexpr usize kCmsgHdr = 16;      // sizeof(struct cmsghdr)
constexpr int kSockMax = 11;        // SOCK_PACKET + 1
constexpr u64 kOptmemMax = 131072;  // net.core.optmem_max

using Iovec = IoVec;

struct MsgHdr {
  u64 name;
  u32 namelen;
  u32 pad0;
  u64 iov;
  u64 iovlen;
  u64 control;
  u64 controllen;
  i32 flags;
  u32 pad1;
  OSTD_POD(MsgHdr, name, namelen, pad0, iov, iovlen, control, controllen, flags, pad1);
};
static_assert(sizeof(MsgHdr) == 56);

struct MMsgHdr {
  MsgHdr hdr;
  u32 len;
  u32 pad;
  OSTD_POD(MMsgHdr, hdr, len, pad);
};
static_assert(sizeof(MMsgHdr) == 64);

struct CmsgHdr {
  u64 len;
  i32 level;
  i32 type;
  OSTD_POD(CmsgHdr, len, level, type);
};
static_assert(sizeof(CmsgHdr) == kCmsgHdr);

usize cmsg_align(usize n) { return (n + 7) & ~usize{7}; }

Result<Socket*> socket_of(Thread& t, int fd, std::shared_ptr<File>& holder) {
  holder = TRY(t.process().fds->get(fd));
  Socket* s = holder->socket();
  if (s == nullptr) return Errno::enotsock;
  return s;
}

// move_addr_to_kernel: at most a sockaddr_storage (EINVAL), copied in (EFAULT).
Result<std::vector<u8>> read_sockaddr(Thread& t, Vaddr addr, u64 len) {
  if (static_cast<i32>(len) < 0 || len > kSockaddrStorage) return Errno::einval;
  std::vector<u8> a(len);
  if (len > 0) TRY(t.vm().read_bytes(addr, a));
  return a;
}

// move_addr_to_user: the user's buffer length (EINVAL when negative), the address truncated to
// it, and the full length written back.
Result<void> write_sockaddr(Thread& t, const std::vector<u8>& a, Vaddr addr, Vaddr lenp) {
  i32 len = TRY(ostd::UserPtr<i32>(lenp).read(t.vm()));
  if (len < 0) return Errno::einval;
  usize n = std::min<usize>(static_cast<usize>(len), a.size());
  if (n > 0) TRY(t.vm().write_bytes(addr, std::span<const u8>(a).first(n)));
  TRY(ostd::UserPtr<i32>(lenp).write(t.vm(), static_cast<i32>(a.size())));
  return {};
}

// msg_iovlen past UIO_MAXIOV is EMSGSIZE (copy_msghdr_from_user).
Result<std::vector<Iovec>> read_iovecs(Thread& t, Vaddr addr, u64 count) {
  if (count > kIovMax) return Errno::emsgsize;
  return read_iovec_array(t, addr, count);
}

// A position in the user's vectors (at most MAX_RW_COUNT bytes in all), copied to or from by
// `copy(user_addr, index_in_buffer, n)`, which returns how many bytes it moved: the count, or
// EFAULT when a fault stopped it at the start.
class IovCursor {
 public:
  explicit IovCursor(std::vector<Iovec> iov) : iov_(std::move(iov)) {
    for (const auto& v : iov_) left_ += v.len;
    left_ = std::min<usize>(left_, kMaxRw);
  }
  usize left() const { return left_; }
  template <typename Copy>
  Result<usize> walk(usize want, Copy&& copy) {
    usize done = 0;
    while (done < want && left_ > 0 && i_ < iov_.size()) {
      usize n = std::min<usize>({iov_[i_].len - off_, want - done, left_});
      if (n == 0) {
        ++i_;
        off_ = 0;
        continue;
      }
      Result<usize> moved = copy(iov_[i_].base + off_, done, n);
      usize took = moved.is_ok() ? moved.value() : 0;
      done += took;
      off_ += took;
      left_ -= took;
      if (took < n) return done > 0 ? Result<usize>(done) : Result<usize>(Errno::efault);
    }
    return done;
  }

 private:
  std::vector<Iovec> iov_;
  usize i_ = 0, off_ = 0, left_ = 0;
};

// The payload of a send.
class IovSource final : public ByteSource {
 public:
  IovSource(ostd::VmSpace& vm, std::vector<Iovec> iov) : vm_(vm), at_(std::move(iov)) {}
  usize remain() const override { return at_.left(); }
  Result<usize> read(std::span<u8> dst) override {
    return at_.walk(dst.size(),
                    [&](Vaddr a, usize i, usize n) { return vm_.read_bytes_partial(a, dst.subspan(i, n)); });
  }

 private:
  ostd::VmSpace& vm_;
  IovCursor at_;
};

// Where a receive's payload goes.
class IovSink final : public ByteSink {
 public:
  IovSink(ostd::VmSpace& vm, std::vector<Iovec> iov) : vm_(vm), at_(std::move(iov)) {}
  usize avail() const override { return at_.left(); }
  Result<usize> write(std::span<const u8> src) override {
    return at_.walk(src.size(),
                    [&](Vaddr a, usize i, usize n) { return vm_.write_bytes_partial(a, src.subspan(i, n)); });
  }

 private:
  ostd::VmSpace& vm_;
  IovCursor at_;
};

// __scm_send: SCM_RIGHTS (descriptors, at most SCM_MAX_FD in all) and SCM_CREDENTIALS
// (checked against the sender's ids); other levels are ignored.
Result<void> read_control(Thread& t, const MsgHdr& h, SendRequest& req) {
  if (h.controllen == 0) return {};
  // sock_kmalloc: a control buffer past net.core.optmem_max is ENOBUFS.
  if (h.controllen > kOptmemMax) return Errno::enobufs;
  std::vector<u8> ctl(h.controllen);
  TRY(t.vm().read_bytes(h.control, ctl));
  usize off = 0;
  while (off + kCmsgHdr <= ctl.size()) {
    CmsgHdr c{};
    auto dst = ostd::writable_bytes_of(c);
    std::copy_n(ctl.begin() + static_cast<long>(off), kCmsgHdr, dst.begin());
    if (c.len < kCmsgHdr || c.len > ctl.size() - off) return Errno::einval;
    auto data = std::span<const u8>(ctl).subspan(off + kCmsgHdr, c.len - kCmsgHdr);
    if (c.level == kSolSocket) {
      if (c.type == kScmRights) {
        usize n = data.size() / sizeof(i32);
        if (n == 0 || req.fds.size() + n > kScmMaxFd) return Errno::einval;
        for (usize i = 0; i < n; ++i) {
          i32 fd = 0;
          std::copy_n(data.begin() + static_cast<long>(i * 4), 4, ostd::writable_bytes_of(fd).begin());
          req.fds.push_back(TRY(t.process().fds->get(fd)));
        }
      } else if (c.type == kScmCredentials) {
        if (c.len != kCmsgHdr + sizeof(Ucred)) return Errno::einval;
        Ucred u{};
        std::copy_n(data.begin(), sizeof(Ucred), ostd::writable_bytes_of(u).begin());
        const Credentials& cr = t.process().creds;
        if (u.pid != t.process().pid() && !cr.capable(cap::kSysAdmin)) return Errno::eperm;
        if (u.uid != cr.uid && u.uid != cr.euid && u.uid != cr.suid && !cr.capable(cap::kSetuid)) return Errno::eperm;
        if (u.gid != cr.gid && u.gid != cr.egid && u.gid != cr.sgid && !cr.capable(cap::kSetgid)) return Errno::eperm;
        req.creds = u;
      } else {
        return Errno::einval;
      }
    }
    usize step = cmsg_align(c.len);
    if (step > ctl.size() - off) break;
    off += step;
  }
  return {};
}

// put_cmsg / scm_detach_fds: credentials first, then descriptors as far as the buffer holds
// them (MSG_CTRUNC for the rest, which are closed). Returns the control bytes used.
Result<usize> write_control(Thread& t, const MsgHdr& h, RecvResult& r, u32 flags) {
  usize used = 0;
  usize room = h.control == 0 ? 0 : h.controllen;
  auto put = [&](int type, std::span<const u8> payload) -> Result<usize> {
    if (room - used < kCmsgHdr) {
      r.msg_flags |= kMsgCtrunc;
      return usize{0};
    }
    usize fit = std::min(payload.size(), room - used - kCmsgHdr);
    if (fit < payload.size()) r.msg_flags |= kMsgCtrunc;
    CmsgHdr c{kCmsgHdr + fit, kSolSocket, type};
    TRY(t.vm().write_bytes(h.control + used, ostd::bytes_of(c)));
    if (fit > 0) TRY(t.vm().write_bytes(h.control + used + kCmsgHdr, payload.first(fit)));
    used += std::min(cmsg_align(kCmsgHdr + fit), room - used);
    return fit;
  };
  if (r.creds) TRY(put(kScmCredentials, ostd::bytes_of(*r.creds)));
  if (!r.fds.empty()) {
    usize max_fds = room - used >= kCmsgHdr ? (room - used - kCmsgHdr) / sizeof(i32) : 0;
    std::vector<i32> fds;
    for (usize i = 0; i < r.fds.size() && i < max_fds; ++i) {
      auto fd = t.process().fds->install(r.fds[i], (flags & kMsgCmsgCloexec) != 0);
      if (fd.is_error()) break;
      fds.push_back(fd.value());
    }
    if (fds.size() < r.fds.size()) r.msg_flags |= kMsgCtrunc;
    if (!fds.empty()) {
      auto bytes = ostd::bytes_of_span(std::span<const i32>(fds));
      usize keep = used;
      auto wrote = put(kScmRights, bytes);
      if (wrote.is_error()) {
        for (i32 fd : fds) (void)t.process().fds->close(fd);
        used = keep;
        return wrote.error();
      }
    }
    r.fds.clear();
  }
  return used;
}

// ---- socket / socketpair ----

Result<std::pair<int, u32>> decode_type(u64 raw) {
  u32 t = static_cast<u32>(raw);
  u32 flags = t & ~kSockTypeMask;
  if ((flags & ~(kSockNonblock | kSockCloexec)) != 0) return Errno::einval;
  return std::pair<int, u32>{static_cast<int>(t & kSockTypeMask), flags};
}

Result<long> sys_socket(Thread& t, const SyscallArgs& a) {
  int family = a.as_int(0);
  auto [type, flags] = TRY(decode_type(a[1]));
  int protocol = a.as_int(2);
  if (family < 0 || family >= kAfMax) return Errno::eafnosupport;
  if (type >= kSockMax) return Errno::einval;
  std::shared_ptr<Socket> s;
  if (family == kAfInet || family == kAfInet6) {
    // TCP, UDP, and raw ICMP / ICMPv6 (what ping uses).
    if (type == kSockStream && (protocol == 0 || protocol == kIpprotoTcp)) {
      s = TRY(make_tcp_socket(t, family, flags));
    } else if (type == kSockDgram && (protocol == 0 || protocol == kIpprotoUdp)) {
      s = TRY(make_udp_socket(t, family, flags));
    } else if (type == kSockRaw) {
      s = TRY(make_raw_socket(t, family, protocol, flags));
    } else {
      return Errno::eprotonosupport;
    }
  } else if (family == kAfUnix) {
    if (protocol != 0 && protocol != kAfUnix) return Errno::eprotonosupport;
    s = TRY(make_unix_socket(t, type, flags));
  } else if (family == kAfNetlink) {
    s = TRY(make_netlink_socket(t, type, protocol, flags));
  } else {
    return Errno::eafnosupport;
  }
  return TRY(t.process().fds->install(s, (flags & kSockCloexec) != 0));
}

Result<long> sys_socketpair(Thread& t, const SyscallArgs& a) {
  int family = a.as_int(0);
  auto [type, flags] = TRY(decode_type(a[1]));
  int protocol = a.as_int(2);
  if (family < 0 || family >= kAfMax) return Errno::eafnosupport;
  if (type >= kSockMax) return Errno::einval;
  if (family == kAfInet || family == kAfInet6) return Errno::eopnotsupp;
  if (family != kAfUnix) return Errno::eafnosupport;
  if (protocol != 0 && protocol != kAfUnix) return Errno::eprotonosupport;
  auto [x, y] = TRY(make_unix_pair(t, type, flags));
  bool cloexec = (flags & kSockCloexec) != 0;
  FdTable& fds = *t.process().fds;
  int fx = TRY(fds.install(x, cloexec));
  auto fy = fds.install(y, cloexec);
  if (fy.is_error()) {
    (void)fds.close(fx);
    return fy.error();
  }
  std::array<i32, 2> pair{fx, fy.value()};
  auto w = t.vm().write_bytes(a[3], ostd::bytes_of(pair));
  if (w.is_error()) {
    (void)fds.close(fx);
    (void)fds.close(fy.value());
    return w.error();
  }
  return 0;
}

// ---- names and connections ----

Result<long> sys_bind(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  auto addr = TRY(read_sockaddr(t, a[1], a[2]));
  TRY(s->bind(t, addr));
  return 0;
}

Result<long> sys_connect(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  auto addr = TRY(read_sockaddr(t, a[1], a[2]));
  TRY(s->connect(t, addr));
  return 0;
}

Result<long> sys_listen(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  TRY(s->listen(t, a.as_int(1)));
  return 0;
}

Result<long> do_accept(Thread& t, int fd, Vaddr addr, Vaddr lenp, u32 flags) {
  if ((flags & ~(kSockNonblock | kSockCloexec)) != 0) return Errno::einval;
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, fd, f));
  auto conn = TRY(s->accept(t, flags));
  if (addr != 0) {
    auto peer = conn->peer_address();
    if (peer.is_error()) return Errno::econnaborted;
    TRY(write_sockaddr(t, peer.value(), addr, lenp));
  }
  return TRY(t.process().fds->install(conn, (flags & kSockCloexec) != 0));
}

Result<long> sys_accept(Thread& t, const SyscallArgs& a) { return do_accept(t, a.as_int(0), a[1], a[2], 0); }
Result<long> sys_accept4(Thread& t, const SyscallArgs& a) { return do_accept(t, a.as_int(0), a[1], a[2], a.as_u32(3)); }

Result<long> sys_getsockname(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  auto name = TRY(s->local_address());
  TRY(write_sockaddr(t, name, a[1], a[2]));
  return 0;
}

Result<long> sys_getpeername(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  auto name = TRY(s->peer_address());
  TRY(write_sockaddr(t, name, a[1], a[2]));
  return 0;
}

Result<long> sys_shutdown(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  TRY(s->shutdown(a.as_int(1)));
  return 0;
}

// ---- data ----

Result<long> do_send(Thread& t, Socket& s, ByteSource& data, std::optional<std::vector<u8>> addr, u32 flags,
                     SendRequest* with_control) {
  SendRequest req(data);
  req.addr = std::move(addr);
  req.flags = flags;
  if (with_control != nullptr) {
    req.fds = std::move(with_control->fds);
    req.creds = with_control->creds;
  }
  return static_cast<long>(TRY(s.sendmsg(t, req)));
}

Result<long> sys_sendto(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  usize len = std::min<u64>(a[2], kMaxRw);
  std::optional<std::vector<u8>> addr;
  if (a[4] != 0 && a.as_u32(5) != 0) addr = TRY(read_sockaddr(t, a[4], a.as_u32(5)));
  IovSource src(t.vm(), {Iovec{a[1], len}});
  return do_send(t, *s, src, std::move(addr), a.as_u32(3), nullptr);
}

Result<long> sys_recvfrom(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  usize len = std::min<u64>(a[2], kMaxRw);
  IovSink sink(t.vm(), {Iovec{a[1], len}});
  u32 flags = a.as_u32(3);
  RecvResult r = TRY(s->recvmsg(t, sink, flags));
  if (a[4] != 0) TRY(write_sockaddr(t, r.addr.value_or(std::vector<u8>{}), a[4], a[5]));
  return static_cast<long>(r.len);
}

Result<long> do_sendmsg(Thread& t, Socket& s, Vaddr msg_addr, u32 flags) {
  MsgHdr h = TRY(ostd::UserPtr<MsgHdr>(msg_addr).read(t.vm()));
  std::optional<std::vector<u8>> addr;
  if (h.name != 0 && h.namelen != 0) addr = TRY(read_sockaddr(t, h.name, h.namelen));
  auto iov = TRY(read_iovecs(t, h.iov, h.iovlen));
  IovSource src(t.vm(), std::move(iov));
  SendRequest ctl(src);
  TRY(read_control(t, h, ctl));
  return do_send(t, s, src, std::move(addr), flags, &ctl);
}

Result<long> do_recvmsg(Thread& t, Socket& s, Vaddr msg_addr, u32 flags) {
  MsgHdr h = TRY(ostd::UserPtr<MsgHdr>(msg_addr).read(t.vm()));
  if (static_cast<i32>(h.namelen) < 0) return Errno::einval;
  auto iov = TRY(read_iovecs(t, h.iov, h.iovlen));
  IovSink sink(t.vm(), std::move(iov));
  RecvResult r = TRY(s.recvmsg(t, sink, flags));
  usize used = TRY(write_control(t, h, r, flags));
  // msg_namelen, msg_controllen and msg_flags go back into the user's msghdr.
  u32 namelen = 0;
  if (h.name != 0 && r.addr) {
    namelen = static_cast<u32>(r.addr->size());
    usize n = std::min<usize>(std::min<usize>(h.namelen, kSockaddrStorage), r.addr->size());
    if (n > 0) TRY(t.vm().write_bytes(h.name, std::span<const u8>(*r.addr).first(n)));
  }
  if (h.name != 0) h.namelen = namelen;
  h.controllen = used;
  h.flags = static_cast<i32>(r.msg_flags | (flags & kMsgCmsgCloexec));
  TRY(ostd::UserPtr<MsgHdr>(msg_addr).write(t.vm(), h));
  return static_cast<long>(r.len);
}

Result<long> sys_sendmsg(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  return do_sendmsg(t, *s, a[1], a.as_u32(2));
}

Result<long> sys_recvmsg(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  return do_recvmsg(t, *s, a[1], a.as_u32(2));
}

// sendmmsg: each message as sendmsg; the count sent, or the first message's error.
Result<long> sys_sendmmsg(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  usize vlen = std::min<usize>(a.as_u32(2), kIovMax);
  usize done = 0;
  for (; done < vlen; ++done) {
    auto p = TRY(ostd::UserPtr<MMsgHdr>(a[1]).element(done));
    auto r = do_sendmsg(t, *s, p.addr(), a.as_u32(3));
    if (r.is_error()) {
      if (done == 0) return r.error();
      break;
    }
    TRY(t.vm().write_bytes(p.addr() + sizeof(MsgHdr), ostd::bytes_of(static_cast<u32>(r.value()))));
  }
  return static_cast<long>(done);
}

// recvmmsg: up to vlen messages; MSG_WAITFORONE makes every message after the first
// nonblocking; the timeout is checked between messages, as Linux does.
Result<long> sys_recvmmsg(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  usize vlen = std::min<usize>(a.as_u32(2), kIovMax);
  u32 flags = a.as_u32(3);
  std::optional<u64> deadline;
  if (a[4] != 0) {
    auto ts = TRY(ostd::UserPtr<abi::Timespec>(a[4]).read(t.vm()));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno::einval;
    deadline = ostd::monotonic_ns() + static_cast<u64>(ts.tv_sec) * 1000000000 + static_cast<u64>(ts.tv_nsec);
  }
  usize done = 0;
  for (; done < vlen; ++done) {
    auto p = TRY(ostd::UserPtr<MMsgHdr>(a[1]).element(done));
    auto r = do_recvmsg(t, *s, p.addr(), flags);
    if (r.is_error()) {
      if (done == 0) return r.error();
      break;
    }
    TRY(t.vm().write_bytes(p.addr() + sizeof(MsgHdr), ostd::bytes_of(static_cast<u32>(r.value()))));
    if ((flags & kMsgWaitforone) != 0) flags |= kMsgDontwait;
    if (deadline && ostd::monotonic_ns() >= *deadline) {
      ++done;
      break;
    }
  }
  return static_cast<long>(done);
}

// ---- options ----

Result<long> sys_setsockopt(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  i32 len = a.as_int(4);
  if (len < 0) return Errno::einval;
  std::vector<u8> val(std::min<usize>(static_cast<usize>(len), 4096));
  if (!val.empty()) TRY(t.vm().read_bytes(a[3], val));
  TRY(s->setsockopt(t, a.as_int(1), a.as_int(2), val));
  return 0;
}

Result<long> sys_getsockopt(Thread& t, const SyscallArgs& a) {
  std::shared_ptr<File> f;
  Socket* s = TRY(socket_of(t, a.as_int(0), f));
  i32 len = TRY(ostd::UserPtr<i32>(a[4]).read(t.vm()));
  if (len < 0) return Errno::einval;
  auto val = TRY(s->getsockopt(t, a.as_int(1), a.as_int(2)));
  usize n = std::min<usize>(static_cast<usize>(len), val.size());
  if (n > 0) TRY(t.vm().write_bytes(a[3], std::span<const u8>(val).first(n)));
  TRY(ostd::UserPtr<i32>(a[4]).write(t.vm(), static_cast<i32>(n)));
  return 0;
}

}  // namespace

void register_socket_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::socket, &sys_socket);
  t.set(S::socketpair, &sys_socketpair);
  t.set(S::bind, &sys_bind);
  t.set(S::connect, &sys_connect);
  t.set(S::listen, &sys_listen);
  t.set(S::accept, &sys_accept);
  t.set(S::accept4, &sys_accept4);
  t.set(S::getsockname, &sys_getsockname);
  t.set(S::getpeername, &sys_getpeername);
  t.set(S::shutdown, &sys_shutdown);
  t.set(S::sendto, &sys_sendto);
  t.set(S::recvfrom, &sys_recvfrom);
  t.set(S::sendmsg, &sys_sendmsg);
  t.set(S::recvmsg, &sys_recvmsg);
  t.set(S::sendmmsg, &sys_sendmmsg);
  t.set(S::recvmmsg, &sys_recvmmsg);
  t.set(S::setsockopt, &sys_setsockopt);
  t.set(S::getsockopt, &sys_getsockopt);
}

}  // namespace services
