// The 9P2000.L client: message encoding, checked replies, and the machine's shares.
#include "fs/p9.h"

#include <algorithm>
#include <map>

#include <ostd/dev/p9.h>
#include <ostd/log.h>

#include "device/virtio.h"

#include <ostd/enforce.h>

namespace services::p9 {

using ostd::Errno;
using ostd::Result;
using ostd::u16;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;

namespace {

constexpr ostd::Logger kLog{"9p"};
constexpr std::string_view kVersion = "9P2000.L";

}  // namespace

Errno errno_from_wire(u32 value) {
  if (value == 0 || value >= 512) return Errno::eio;
  auto e = static_cast<Errno>(static_cast<ostd::i32>(value));
  return ostd::errno_name(e) == "E?" ? Errno::eio : e;
}

// ---- Message and Reply ----

Message::Message(Op type) : buf_(kHeader, 0) { buf_[4] = static_cast<u8>(type); }

Message& Message::put8(u8 v) {
  buf_.push_back(v);
  return *this;
}
Message& Message::put16(u16 v) {
  for (int i = 0; i < 2; ++i) buf_.push_back(static_cast<u8>(v >> (8 * i)));
  return *this;
}
Message& Message::put32(u32 v) {
  for (int i = 0; i < 4; ++i) buf_.push_back(static_cast<u8>(v >> (8 * i)));
  return *this;
}
Message& Message::put64(u64 v) {
  for (int i = 0; i < 8; ++i) buf_.push_back(static_cast<u8>(v >> (8 * i)));
  return *this;
}
Message& Message::put_str(std::string_view s) {
  put16(static_cast<u16>(s.size()));
  for (char c : s) buf_.push_back(static_cast<u8>(c));
  return *this;
}
Message& Message::put_bytes(std::span<const u8> b) {
  buf_.insert(buf_.end(), b.begin(), b.end());
  return *this;
}

std::span<const u8> Reply::get_bytes(usize n) {
  if (!ok_ || body_.size() - pos_ < n) {
    ok_ = false;
    return {};
  }
  auto out = body_.subspan(pos_, n);
  pos_ += n;
  return out;
}
u8 Reply::get8() {
  auto b = get_bytes(1);
  return b.empty() ? 0 : b[0];
}
u16 Reply::get16() {
  auto b = get_bytes(2);
  return b.empty() ? 0 : static_cast<u16>(b[0] | (b[1] << 8));
}
u32 Reply::get32() {
  auto b = get_bytes(4);
  u32 v = 0;
  for (usize i = 0; i < b.size(); ++i) v |= u32{b[i]} << (8 * i);
  return v;
}
u64 Reply::get64() {
  auto b = get_bytes(8);
  u64 v = 0;
  for (usize i = 0; i < b.size(); ++i) v |= u64{b[i]} << (8 * i);
  return v;
}
std::string Reply::get_str() {
  u16 n = get16();
  auto b = get_bytes(n);
  return std::string(b.begin(), b.end());
}
Qid Reply::get_qid() {
  Qid q;
  q.type = get8();
  q.version = get32();
  q.path = get64();
  return q;
}
abi::Timespec Reply::get_time() {
  abi::Timespec t{};
  t.tv_sec = static_cast<ostd::i64>(get64());
  u64 ns = get64();
  t.tv_nsec = ns < 1000000000 ? static_cast<ostd::i64>(ns) : 0;
  return t;
}

// ---- Client ----

Result<std::shared_ptr<Client>> Client::connect(std::shared_ptr<Transport> transport, u32 uid) {
  auto c = std::make_shared<Client>(std::move(transport));
  std::vector<u8> reply;
  Message v(Op::tversion);
  v.put32(c->transport_->max_message()).put_str(kVersion);
  // Tversion carries NOTAG.
  TRY(c->call(v, Op::rversion, reply));
  Reply r(std::span<const u8>(reply).subspan(kHeader));
  u32 msize = r.get32();
  std::string version = r.get_str();
  if (!r.ok() || version != kVersion || msize < 4096) {
    kLog.warn("{}: the server speaks {} (msize {}), not {}", c->transport_->tag(), version, msize, kVersion);
    return Errno::eio;
  }
  c->msize_ = std::min(msize, c->transport_->max_message());
  Message a(Op::tattach);
  a.put32(c->root_fid_).put32(kNoFid).put_str("root").put_str("").put32(uid);
  const Qid root = TRY(c->qid_reply(a, Op::rattach));
  if ((root.type & kQtDir) == 0) return Errno::enotdir;
  return c;
}

u32 Client::new_fid() {
  auto g = lock_.lock();
  if (!free_fids_.empty()) {
    u32 f = free_fids_.back();
    free_fids_.pop_back();
    return f;
  }
  return next_fid_++;
}

Result<void> Client::call(Message& m, Op expect, std::vector<u8>& reply) {
  auto& b = m.bytes();
  if (b.size() > msize_ && expect != Op::rversion) return Errno::einval;
  u16 tag = kNoTag;
  if (expect != Op::rversion) {
    auto g = lock_.lock();
    tag = next_tag_++;
    if (next_tag_ == kNoTag) next_tag_ = 0;
  }
  const auto size = static_cast<u32>(b.size());
  for (int i = 0; i < 4; ++i) b[static_cast<usize>(i)] = static_cast<u8>(size >> (8 * i));
  b[5] = static_cast<u8>(tag);
  b[6] = static_cast<u8>(tag >> 8);
  TRY(transport_->rpc(b, reply));
  Reply h(reply);
  u32 rsize = h.get32();
  auto type = static_cast<Op>(h.get8());
  u16 rtag = h.get16();
  if (!h.ok() || rsize != reply.size() || rtag != tag) {
    kLog.warn("{}: a malformed reply (size {} of {}, tag {} for {})", transport_->tag(), rsize, reply.size(), rtag,
              tag);
    return Errno::eio;
  }
  if (type == Op::rlerror) {
    u32 ecode = h.get32();
    if (!h.at_end()) return Errno::eio;
    return errno_from_wire(ecode);
  }
  if (type != expect) {
    kLog.warn("{}: reply type {} to a request for {}", transport_->tag(), static_cast<u32>(type),
              static_cast<u32>(expect));
    return Errno::eio;
  }
  return {};
}

Result<Qid> Client::qid_reply(Message& m, Op expect) {
  std::vector<u8> reply;
  TRY(call(m, expect, reply));
  Reply r(std::span<const u8>(reply).subspan(kHeader));
  Qid q = r.get_qid();
  if (!r.at_end()) return Errno::eio;
  return q;
}

Result<void> Client::empty_reply(Message& m, Op expect) {
  std::vector<u8> reply;
  TRY(call(m, expect, reply));
  if (reply.size() != kHeader) return Errno::eio;
  return {};
}

Result<std::pair<u32, Qid>> Client::walk(u32 fid, std::string_view name) {
  u32 nf = new_fid();
  Message m(Op::twalk);
  m.put32(fid).put32(nf).put16(name.empty() ? 0 : 1);
  if (!name.empty()) m.put_str(name);
  std::vector<u8> reply;
  auto res = call(m, Op::rwalk, reply);
  if (res.is_error()) {
    auto g = lock_.lock();
    free_fids_.push_back(nf);
    return res.error();
  }
  Reply r(std::span<const u8>(reply).subspan(kHeader));
  u16 n = r.get16();
  Qid q;
  if (n == 1) q = r.get_qid();
  if (!r.at_end() || n != (name.empty() ? 0 : 1)) {
    // A walk that stopped short made no fid (9P: "nwqid < nwname" leaves newfid unused).
    auto g = lock_.lock();
    free_fids_.push_back(nf);
    return r.at_end() && n == 0 ? Errno::enoent : Errno::eio;
  }
  return std::pair<u32, Qid>{nf, q};
}

Result<Attr> Client::getattr(u32 fid) {
  Message m(Op::tgetattr);
  m.put32(fid).put64(kGetattrBasic);
  std::vector<u8> reply;
  TRY(call(m, Op::rgetattr, reply));
  Reply r(std::span<const u8>(reply).subspan(kHeader));
  Attr a;
  (void)r.get64();  // valid
  a.qid = r.get_qid();
  a.mode = r.get32();
  a.uid = r.get32();
  a.gid = r.get32();
  a.nlink = r.get64();
  a.rdev = r.get64();
  a.size = r.get64();
  a.blksize = r.get64();
  a.blocks = r.get64();
  a.atime = r.get_time();
  a.mtime = r.get_time();
  a.ctime = r.get_time();
  (void)r.get_time();  // btime
  (void)r.get64();     // gen
  (void)r.get64();     // data_version
  if (!r.at_end()) return Errno::eio;
  return a;
}

Result<void> Client::setattr(u32 fid, const SetAttr& a) {
  Message m(Op::tsetattr);
  m.put32(fid).put32(a.valid).put32(a.mode).put32(a.uid).put32(a.gid).put64(a.size);
  m.put64(static_cast<u64>(a.atime.tv_sec)).put64(static_cast<u64>(a.atime.tv_nsec));
  m.put64(static_cast<u64>(a.mtime.tv_sec)).put64(static_cast<u64>(a.mtime.tv_nsec));
  return empty_reply(m, Op::rsetattr);
}

Result<u32> Client::lopen(u32 fid, u32 flags) {
  Message m(Op::tlopen);
  m.put32(fid).put32(flags);
  std::vector<u8> reply;
  TRY(call(m, Op::rlopen, reply));
  Reply r(std::span<const u8>(reply).subspan(kHeader));
  (void)r.get_qid();
  u32 iounit = r.get32();
  if (!r.at_end()) return Errno::eio;
  return iounit;
}

Result<Qid> Client::lcreate(u32 fid, std::string_view name, u32 flags, u32 mode, u32 gid) {
  Message m(Op::tlcreate);
  m.put32(fid).put_str(name).put32(flags).put32(mode).put32(gid);
  std::vector<u8> reply;
  TRY(call(m, Op::rlcreate, reply));
  Reply r(std::span<const u8>(reply).subspan(kHeader));
  Qid q = r.get_qid();
  (void)r.get32();
  if (!r.at_end()) return Errno::eio;
  return q;
}

Result<Qid> Client::mkdir(u32 dfid, std::string_view name, u32 mode, u32 gid) {
  Message m(Op::tmkdir);
  m.put32(dfid).put_str(name).put32(mode).put32(gid);
  return qid_reply(m, Op::rmkdir);
}

Result<Qid> Client::symlink(u32 dfid, std::string_view name, std::string_view target, u32 gid) {
  Message m(Op::tsymlink);
  m.put32(dfid).put_str(name).put_str(target).put32(gid);
  return qid_reply(m, Op::rsymlink);
}

Result<Qid> Client::mknod(u32 dfid, std::string_view name, u32 mode, u32 major, u32 minor, u32 gid) {
  Message m(Op::tmknod);
  m.put32(dfid).put_str(name).put32(mode).put32(major).put32(minor).put32(gid);
  return qid_reply(m, Op::rmknod);
}

Result<void> Client::link(u32 dfid, u32 fid, std::string_view name) {
  Message m(Op::tlink);
  m.put32(dfid).put32(fid).put_str(name);
  return empty_reply(m, Op::rlink);
}

Result<void> Client::renameat(u32 old_dfid, std::string_view old_name, u32 new_dfid, std::string_view new_name) {
  Message m(Op::trenameat);
  m.put32(old_dfid).put_str(old_name).put32(new_dfid).put_str(new_name);
  return empty_reply(m, Op::rrenameat);
}

Result<void> Client::unlinkat(u32 dfid, std::string_view name, u32 flags) {
  Message m(Op::tunlinkat);
  m.put32(dfid).put_str(name).put32(flags);
  return empty_reply(m, Op::runlinkat);
}

Result<std::string> Client::readlink(u32 fid) {
  Message m(Op::treadlink);
  m.put32(fid);
  std::vector<u8> reply;
  TRY(call(m, Op::rreadlink, reply));
  Reply r(std::span<const u8>(reply).subspan(kHeader));
  std::string target = r.get_str();
  if (!r.at_end()) return Errno::eio;
  return target;
}

Result<usize> Client::read(u32 fid, u64 offset, std::span<u8> dst) {
  usize done = 0;
  std::vector<u8> reply;
  while (done < dst.size()) {
    const u32 want = static_cast<u32>(std::min<usize>(dst.size() - done, iounit()));
    Message m(Op::tread);
    m.put32(fid).put64(offset + done).put32(want);
    auto res = call(m, Op::rread, reply);
    if (res.is_error()) return done > 0 ? Result<usize>(done) : Result<usize>(res.error());
    Reply r(std::span<const u8>(reply).subspan(kHeader));
    u32 got = r.get32();
    auto data = r.get_bytes(got);
    if (!r.at_end() || got > want) return done > 0 ? Result<usize>(done) : Result<usize>(Errno::eio);
    std::copy(data.begin(), data.end(), dst.begin() + static_cast<long>(done));
    done += got;
    if (got < want) break;
  }
  return done;
}

Result<usize> Client::write(u32 fid, u64 offset, std::span<const u8> src) {
  usize done = 0;
  std::vector<u8> reply;
  while (done < src.size()) {
    const auto want = static_cast<u32>(std::min<usize>(src.size() - done, iounit()));
    Message m(Op::twrite);
    m.put32(fid).put64(offset + done).put32(want).put_bytes(src.subspan(done, want));
    auto res = call(m, Op::rwrite, reply);
    if (res.is_error()) return done > 0 ? Result<usize>(done) : Result<usize>(res.error());
    Reply r(std::span<const u8>(reply).subspan(kHeader));
    u32 got = r.get32();
    if (!r.at_end() || got > want) return done > 0 ? Result<usize>(done) : Result<usize>(Errno::eio);
    done += got;
    if (got < want) break;
  }
  return done;
}

Result<std::vector<Dirent>> Client::readdir(u32 fid, u64 offset) {
  Message m(Op::treaddir);
  m.put32(fid).put64(offset).put32(iounit());
  std::vector<u8> reply;
  TRY(call(m, Op::rreaddir, reply));
  Reply r(std::span<const u8>(reply).subspan(kHeader));
  u32 count = r.get32();
  auto data = r.get_bytes(count);
  if (!r.at_end()) return Errno::eio;
  std::vector<Dirent> out;
  Reply e(data);
  while (e.ok() && !e.at_end()) {
    Dirent d;
    d.qid = e.get_qid();
    d.offset = e.get64();
    d.type = e.get8();
    d.name = e.get_str();
    if (!e.ok()) return Errno::eio;
    out.push_back(std::move(d));
  }
  return out;
}

Result<void> Client::fsync(u32 fid, bool datasync) {
  Message m(Op::tfsync);
  m.put32(fid).put32(datasync ? 1 : 0);
  return empty_reply(m, Op::rfsync);
}

Result<StatFs> Client::statfs(u32 fid) {
  Message m(Op::tstatfs);
  m.put32(fid);
  std::vector<u8> reply;
  TRY(call(m, Op::rstatfs, reply));
  Reply r(std::span<const u8>(reply).subspan(kHeader));
  StatFs s;
  s.type = r.get32();
  s.bsize = r.get32();
  s.blocks = r.get64();
  s.bfree = r.get64();
  s.bavail = r.get64();
  s.files = r.get64();
  s.ffree = r.get64();
  s.fsid = r.get64();
  s.namelen = r.get32();
  if (!r.at_end()) return Errno::eio;
  return s;
}

void Client::clunk(u32 fid) {
  Message m(Op::tclunk);
  m.put32(fid);
  if (auto res = empty_reply(m, Op::rclunk); res.is_error()) {
    kLog.debug("{}: clunk of fid {}: {}", transport_->tag(), fid, res.error());
  }
  auto g = lock_.lock();
  free_fids_.push_back(fid);
}

// ---- shares ----

namespace {

/// A share of the backend's (ostd/dev/p9.h).
class BackendShare final : public Transport {
 public:
  BackendShare(usize index, ostd::p9::Share s) : index_(index), share_(std::move(s)) {}
  std::string tag() const override { return share_.tag; }
  bool read_only() const override { return share_.read_only; }
  u32 max_message() const override { return ostd::p9::kMaxMessage; }
  Result<void> rpc(std::span<const u8> request, std::vector<u8>& reply) override {
    return ostd::p9::rpc(index_, request, reply);
  }

 private:
  usize index_;
  ostd::p9::Share share_;
};

std::vector<std::shared_ptr<Transport>>& shares() {
  static std::vector<std::shared_ptr<Transport>> s;
  return s;
}

std::function<std::shared_ptr<Transport>(std::shared_ptr<Transport>)>& share_filter() {
  static std::function<std::shared_ptr<Transport>(std::shared_ptr<Transport>)> f;
  return f;
}

}  // namespace

void set_share_filter(std::function<std::shared_ptr<Transport>(std::shared_ptr<Transport>)> filter) {
  share_filter() = std::move(filter);
}

void init_shares() {
  auto& all = shares();
  all.clear();
  for (usize i = 0; i < ostd::p9::count(); ++i) {
    if (auto s = ostd::p9::share(i)) all.push_back(std::make_shared<BackendShare>(i, *s));
  }
  for (auto& d : virtio::p9_devices()) all.push_back(d);
  if (share_filter()) {
    for (auto& s : all) s = share_filter()(s);
  }
}

std::shared_ptr<Transport> share_by_tag(std::string_view tag) {
  for (auto& s : shares()) {
    if (s->tag() == tag) return s;
  }
  return nullptr;
}

}  // namespace services::p9
