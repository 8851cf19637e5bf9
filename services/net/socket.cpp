// The socket layer's shared part: SOL_SOCKET options, read/write as recv/send, stat, ioctls.
#include "abi/x86_64/time.h"
#include "net/socket.h"

#include <algorithm>
#include <limits>

#include <ostd/format.h>

#include "fs/vfs.h"
#include "net/inet.h"
#include "process/process.h"
#include "signal/signal.h"

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

namespace {

constexpr int kSolSocket = 1;
constexpr int kSoDebug = 1, kSoReuseaddr = 2, kSoType = 3, kSoError = 4, kSoDontroute = 5, kSoBroadcast = 6,
              kSoSndbuf = 7, kSoRcvbuf = 8, kSoKeepalive = 9, kSoOobinline = 10, kSoNoCheck = 11, kSoPriority = 12,
              kSoLinger = 13, kSoBsdcompat = 14, kSoReuseport = 15, kSoPasscred = 16, kSoPeercred = 17,
              kSoRcvlowat = 18, kSoSndlowat = 19, kSoRcvtimeoOld = 20, kSoSndtimeoOld = 21, kSoAcceptconn = 30,
              kSoPeersec = 31, kSoSndbufforce = 32, kSoRcvbufforce = 33, kSoPasssec = 34, kSoMark = 36,
              kSoProtocol = 38, kSoDomain = 39, kSoPeekOff = 42, kSoRcvtimeoNew = 66, kSoSndtimeoNew = 67;
constexpr u32 kWmemMax = 212992, kRmemMax = 212992;  // net.core.{w,r}mem_max
constexpr u32 kMinSndbuf = 4608, kMinRcvbuf = 2304;  // SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF
constexpr u32 kForceMax = 16u << 20;
constexpr u32 kFionread = 0x541B, kSiocoutq = 0x5411;

u64 next_socket_ino() {
  static u64 ino = 2000000;
  return ++ino;
}

using abi::Timeval;
struct Linger {
  i32 onoff;
  i32 secs;
  OSTD_POD(Linger, onoff, secs);
};

template <typename T>
std::vector<u8> value_bytes(const T& v) {
  auto b = ostd::bytes_of(v);
  return std::vector<u8>(b.begin(), b.end());
}

// sock_set_timeout: a struct timeval, usec in range (EDOM); a negative time means "do not
// wait", zero means "forever".
Result<u64> timeout_value(std::span<const u8> val) {
  if (val.size() < sizeof(Timeval)) return Errno::einval;
  Timeval tv{};
  auto dst = ostd::writable_bytes_of(tv);
  std::copy_n(val.begin(), sizeof(Timeval), dst.begin());
  if (tv.usec < 0 || tv.usec >= 1000000) return Errno::edom;
  if (tv.sec < 0) return u64{0};
  if (tv.sec == 0 && tv.usec == 0) return SocketOptions::kForever;
  if (static_cast<u64>(tv.sec) >= std::numeric_limits<u64>::max() / ostd::kNsPerSec / 2) return SocketOptions::kForever;
  return static_cast<u64>(tv.sec) * ostd::kNsPerSec + static_cast<u64>(tv.usec) * ostd::kNsPerUs;
}

std::vector<u8> timeout_bytes(u64 ns) {
  if (ns == SocketOptions::kForever) return value_bytes(Timeval{0, 0});
  return value_bytes(abi::timeval_from_ns(ns));
}

}  // namespace

std::vector<u8> int_option(i32 v) { return value_bytes(v); }

std::string hex_field(u64 v, usize width, bool upper) {
  std::string h = upper ? ostd::format("{:X}", v) : ostd::format("{:x}", v);
  if (h.size() < width) h.insert(0, width - h.size(), '0');
  return h;
}

Result<i32> read_int_option(std::span<const u8> val) {
  if (val.size() < sizeof(i32)) return Errno::einval;
  i32 v = 0;
  auto dst = ostd::writable_bytes_of(v);
  std::copy_n(val.begin(), sizeof(i32), dst.begin());
  return v;
}

Result<usize> ReaderSource::read(std::span<u8> dst) {
  auto w = ostd::VmWriter::from_kernel(dst);
  return r_.read_to(w);
}

Result<usize> WriterSink::write(std::span<const u8> src) {
  auto r = ostd::VmReader::from_kernel(src);
  return r.read_to(w_);
}

Socket::Socket(int family, int type, int protocol, const Credentials& owner)
    : family_(family), type_(type), protocol_(protocol), ino_(next_socket_ino()), uid_(owner.euid), gid_(owner.egid) {}

std::optional<u64> Socket::deadline(bool receive) const {
  u64 t = receive ? opts_.rcvtimeo_ns : opts_.sndtimeo_ns;
  if (t == SocketOptions::kForever) return std::nullopt;
  return ostd::monotonic_ns() + t;
}

Result<usize> Socket::read(Thread& self, ostd::VmWriter& out) {
  WriterSink sink(out);
  RecvResult r = TRY(recvmsg(self, sink, 0));
  return r.len;
}

Result<usize> Socket::write(Thread& self, ostd::VmReader& in) {
  ReaderSource src(in);
  SendRequest req(src);
  return sendmsg(self, req);
}

Result<abi::Stat> Socket::stat() {
  abi::Stat st{};
  st.st_mode = abi::kSIfsock | 0777;
  st.st_nlink = 1;
  st.st_ino = ino_;
  st.st_dev = 0x8;  // sockfs
  st.st_uid = uid_;
  st.st_gid = gid_;
  st.st_blksize = 4096;
  return st;
}

Result<long> Socket::ioctl(Thread& self, u32 cmd, u64 arg) {
  if (cmd == kFionread) {
    int n = TRY(bytes_readable());
    TRY(ostd::UserPtr<int>(arg).write(self.vm(), n));
    return 0;
  }
  if (cmd == kSiocoutq) {
    TRY(ostd::UserPtr<int>(arg).write(self.vm(), bytes_unsent()));
    return 0;
  }
  if (is_interface_ioctl(cmd)) return interface_ioctl(self, family(), cmd, arg);
  return family_ioctl(self, cmd, arg);
}

Result<long> Socket::family_ioctl(Thread&, u32, u64) { return Errno::enotty; }

Result<void> Socket::set_option(Thread&, int, int, std::span<const u8>) { return Errno::eopnotsupp; }
Result<std::vector<u8>> Socket::get_option(Thread&, int, int) { return Errno::eopnotsupp; }

Result<void> Socket::setsockopt(Thread& self, int level, int name, std::span<const u8> val) {
  if (level != kSolSocket) return set_option(self, level, name, val);
  const Credentials& c = self.process().creds;
  if (name == kSoLinger) {
    if (val.size() < sizeof(Linger)) return Errno::einval;
    Linger l{};
    auto dst = ostd::writable_bytes_of(l);
    std::copy_n(val.begin(), sizeof(Linger), dst.begin());
    opts_.linger_onoff = l.onoff != 0 ? 1 : 0;
    if (l.onoff != 0) opts_.linger_secs = l.secs;
    return {};
  }
  if (name == kSoRcvtimeoOld || name == kSoRcvtimeoNew) {
    opts_.rcvtimeo_ns = TRY(timeout_value(val));
    return {};
  }
  if (name == kSoSndtimeoOld || name == kSoSndtimeoNew) {
    opts_.sndtimeo_ns = TRY(timeout_value(val));
    return {};
  }
  i32 v = TRY(read_int_option(val));
  bool on = v != 0;
  switch (name) {
    case kSoDebug:
      if (on && !c.capable(cap::kNetAdmin)) return Errno::eacces;
      return {};
    case kSoReuseaddr: opts_.reuseaddr = on; return {};
    case kSoReuseport: opts_.reuseport = on; return {};
    case kSoKeepalive:
      opts_.keepalive = on;
      keepalive_changed();
      return {};
    case kSoBroadcast: opts_.broadcast = on; return {};
    case kSoDontroute: opts_.dontroute = on; return {};
    case kSoOobinline: opts_.oobinline = on; return {};
    case kSoPasscred: opts_.passcred = on; return {};
    case kSoPasssec: opts_.passsec = on; return {};
    case kSoNoCheck:
    case kSoBsdcompat: return {};
    case kSoSndbufforce:
    case kSoRcvbufforce:
      if (!c.capable(cap::kNetAdmin)) return Errno::eperm;
      [[fallthrough]];
    case kSoSndbuf:
    case kSoRcvbuf: {
      bool snd = name == kSoSndbuf || name == kSoSndbufforce;
      bool force = name == kSoSndbufforce || name == kSoRcvbufforce;
      u32 want = static_cast<u32>(v);
      // Forced sizes stop at 16 MiB (Linux takes up to INT_MAX/2): buffers are kernel memory.
      want = std::min(want, force ? kForceMax : (snd ? kWmemMax : kRmemMax));
      want = std::min<u32>(want, std::numeric_limits<i32>::max() / 2);
      if (snd) {
        opts_.sndbuf = std::max(want * 2, kMinSndbuf);
      } else {
        opts_.rcvbuf = std::max(want * 2, kMinRcvbuf);
      }
      file_state_changed(*poll_queue());
      return {};
    }
    case kSoPriority:
      if ((v < 0 || v > 6) && !c.capable(cap::kNetAdmin)) return Errno::eperm;
      opts_.priority = v;
      return {};
    case kSoRcvlowat: opts_.rcvlowat = v < 0 ? std::numeric_limits<i32>::max() : (v == 0 ? 1 : v); return {};
    case kSoMark:
      if (!c.capable(cap::kNetAdmin)) return Errno::eperm;
      opts_.mark = v;
      return {};
    case kSoPeekOff: return Errno::eopnotsupp;
    default: return Errno::enoprotoopt;
  }
}

Result<std::vector<u8>> Socket::getsockopt(Thread& self, int level, int name) {
  if (level != kSolSocket) return get_option(self, level, name);
  switch (name) {
    case kSoDebug:
    case kSoNoCheck:
    case kSoBsdcompat: return int_option(0);
    case kSoReuseaddr: return int_option(opts_.reuseaddr ? 1 : 0);
    case kSoReuseport: return int_option(opts_.reuseport ? 1 : 0);
    case kSoKeepalive: return int_option(opts_.keepalive ? 1 : 0);
    case kSoBroadcast: return int_option(opts_.broadcast ? 1 : 0);
    case kSoDontroute: return int_option(opts_.dontroute ? 1 : 0);
    case kSoOobinline: return int_option(opts_.oobinline ? 1 : 0);
    case kSoPasscred: return int_option(opts_.passcred ? 1 : 0);
    case kSoPasssec: return int_option(opts_.passsec ? 1 : 0);
    case kSoType: return int_option(type_);
    case kSoProtocol: return int_option(protocol_);
    case kSoDomain: return int_option(family_);
    case kSoError: return int_option(take_error());
    case kSoSndbuf: return int_option(static_cast<i32>(opts_.sndbuf));
    case kSoRcvbuf: return int_option(static_cast<i32>(opts_.rcvbuf));
    case kSoPriority: return int_option(opts_.priority);
    case kSoRcvlowat: return int_option(opts_.rcvlowat);
    case kSoSndlowat: return int_option(1);
    case kSoMark: return int_option(opts_.mark);
    case kSoAcceptconn: return int_option(listening() ? 1 : 0);
    case kSoLinger: return value_bytes(Linger{opts_.linger_onoff, opts_.linger_secs});
    case kSoRcvtimeoOld:
    case kSoRcvtimeoNew: return timeout_bytes(opts_.rcvtimeo_ns);
    case kSoSndtimeoOld:
    case kSoSndtimeoNew: return timeout_bytes(opts_.sndtimeo_ns);
    case kSoPeercred: {
      // No peer: pid 0 and the ids -1 (cred_to_ucred without a cred).
      Ucred u = peer_credentials().value_or(Ucred{0, ~u32{0}, ~u32{0}});
      return value_bytes(u);
    }
    case kSoPeersec: return Errno::enoprotoopt;
    case kSoPeekOff: return Errno::eopnotsupp;
    default: return Errno::enoprotoopt;
  }
}

}  // namespace services
