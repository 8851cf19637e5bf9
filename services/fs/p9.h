// services/fs/p9.h — the 9P2000.L protocol (the dialect Linux's v9fs and QEMU's virtio-9p
// speak): messages, a client over a transport, and the machine's shares.
//
// A message is size[4] type[1] tag[2] and the type's fields, little-endian; strings are a
// 16-bit length and the bytes. The client numbers its files (fids) itself; a fid names a file
// on the server as a path does, and an opened fid reads and writes it. Every reply is checked
// before it is believed: a short, long or mistyped reply is EIO, an Rlerror carries an errno
// (one outside Linux's table is EIO too), so a broken or hostile server cannot crash the
// kernel — the fuzz target p9_reply feeds it mutated replies.
//
// Transports: on the host backend the server is in ostd (ostd/dev/p9.h: a host directory served
// with host system calls); on bare metal it is QEMU behind a virtio-9p device
// (device/virtio.cpp). Requests are serialized per transport.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/types.h>

#include "abi/x86_64/stat.h"

namespace services::p9 {

// Message types (9P2000.L and the base protocol's read/write/walk/clunk).
// clang-format off
enum class Op : ostd::u8 {
  rlerror = 7, tstatfs = 8, rstatfs = 9, tlopen = 12, rlopen = 13, tlcreate = 14, rlcreate = 15,
  tsymlink = 16, rsymlink = 17, tmknod = 18, rmknod = 19, treadlink = 22, rreadlink = 23,
  tgetattr = 24, rgetattr = 25, tsetattr = 26, rsetattr = 27, treaddir = 40, rreaddir = 41,
  tfsync = 50, rfsync = 51, tlink = 70, rlink = 71, tmkdir = 72, rmkdir = 73, trenameat = 74,
  rrenameat = 75, tunlinkat = 76, runlinkat = 77, tversion = 100, rversion = 101, tattach = 104,
  rattach = 105, twalk = 110, rwalk = 111, tread = 116, rread = 117, twrite = 118, rwrite = 119,
  tclunk = 120, rclunk = 121,
};
// clang-format on

inline constexpr ostd::u32 kNoFid = 0xffffffff;
inline constexpr ostd::u16 kNoTag = 0xffff;
inline constexpr ostd::usize kHeader = 7;     // size, type, tag
inline constexpr ostd::usize kIoHeader = 11;  // Rread/Twrite: header and a count[4]
inline constexpr ostd::u8 kQtDir = 0x80;

// Tsetattr's valid bits.
inline constexpr ostd::u32 kSetMode = 0x1, kSetUid = 0x2, kSetGid = 0x4, kSetSize = 0x8, kSetAtime = 0x10,
                           kSetMtime = 0x20, kSetCtime = 0x40, kSetAtimeSet = 0x80, kSetMtimeSet = 0x100;
inline constexpr ostd::u64 kGetattrBasic = 0x7ff;  // mode..blocks (P9_GETATTR_BASIC)

struct Qid {
  ostd::u8 type = 0;
  ostd::u32 version = 0;
  ostd::u64 path = 0;
};

struct Attr {
  Qid qid;
  ostd::u32 mode = 0, uid = 0, gid = 0;
  ostd::u64 nlink = 0, rdev = 0, size = 0, blksize = 0, blocks = 0;
  abi::Timespec atime{}, mtime{}, ctime{};
};

struct SetAttr {
  ostd::u32 valid = 0;
  ostd::u32 mode = 0, uid = 0, gid = 0;
  ostd::u64 size = 0;
  abi::Timespec atime{}, mtime{};
};

struct StatFs {
  ostd::u32 type = 0, bsize = 0;
  ostd::u64 blocks = 0, bfree = 0, bavail = 0, files = 0, ffree = 0, fsid = 0;
  ostd::u32 namelen = 0;
};

struct Dirent {
  Qid qid;
  ostd::u64 offset = 0;  // where the next Treaddir continues after this entry
  ostd::u8 type = 0;     // d_type
  std::string name;
};

/// A message being built: the header is filled in by Client::call.
class Message {
 public:
  explicit Message(Op type);
  Message& put8(ostd::u8 v);
  Message& put16(ostd::u16 v);
  Message& put32(ostd::u32 v);
  Message& put64(ostd::u64 v);
  Message& put_str(std::string_view s);
  Message& put_bytes(std::span<const ostd::u8> b);
  std::vector<ostd::u8>& bytes() { return buf_; }

 private:
  std::vector<ostd::u8> buf_;
};

/// A reply being read. Reading past its end leaves it failed (ok() false) and yields zeros.
class Reply {
 public:
  explicit Reply(std::span<const ostd::u8> body) : body_(body) {}
  ostd::u8 get8();
  ostd::u16 get16();
  ostd::u32 get32();
  ostd::u64 get64();
  std::string get_str();
  Qid get_qid();
  abi::Timespec get_time();
  std::span<const ostd::u8> get_bytes(ostd::usize n);
  bool ok() const { return ok_; }
  bool at_end() const { return ok_ && pos_ == body_.size(); }

 private:
  std::span<const ostd::u8> body_;
  ostd::usize pos_ = 0;
  bool ok_ = true;
};

/// Where messages go.
class Transport {
 public:
  Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  Transport(Transport&&) = delete;
  Transport& operator=(Transport&&) = delete;
  virtual ~Transport() = default;
  /// The share's name (a virtio-9p mount tag, a --volume's tag).
  virtual std::string tag() const = 0;
  /// Whether the server refuses changes (the client then mounts read-only).
  virtual bool read_only() const = 0;
  /// The largest message the transport carries.
  virtual ostd::u32 max_message() const = 0;
  /// Sends one whole request and receives its reply into `reply` (the whole R-message).
  virtual ostd::Result<void> rpc(std::span<const ostd::u8> request, std::vector<ostd::u8>& reply) = 0;
};

/// A 9P2000.L session: Tversion and Tattach at connect(), then one request at a time.
class Client {
 public:
  /// Negotiates the version and message size and attaches to the share's root as `uid`.
  /// EIO when the server does not speak 9P2000.L.
  static ostd::Result<std::shared_ptr<Client>> connect(std::shared_ptr<Transport> transport, ostd::u32 uid = 0);
  explicit Client(std::shared_ptr<Transport> t) : transport_(std::move(t)) {}

  Transport& transport() { return *transport_; }
  ostd::u32 msize() const { return msize_; }
  /// The largest Tread/Twrite payload.
  ostd::u32 iounit() const { return msize_ - static_cast<ostd::u32>(kIoHeader + 12); }
  ostd::u32 root_fid() const { return root_fid_; }

  /// A new fid for `name` in the directory `fid` (a single-component walk; "" clones).
  ostd::Result<std::pair<ostd::u32, Qid>> walk(ostd::u32 fid, std::string_view name);
  ostd::Result<Attr> getattr(ostd::u32 fid);
  ostd::Result<void> setattr(ostd::u32 fid, const SetAttr& a);
  /// Opens `fid` (Linux open flags); its iounit.
  ostd::Result<ostd::u32> lopen(ostd::u32 fid, ostd::u32 flags);
  /// Creates and opens `name` in directory `fid`; `fid` then stands for the new file.
  ostd::Result<Qid> lcreate(ostd::u32 fid, std::string_view name, ostd::u32 flags, ostd::u32 mode, ostd::u32 gid);
  ostd::Result<Qid> mkdir(ostd::u32 dfid, std::string_view name, ostd::u32 mode, ostd::u32 gid);
  ostd::Result<Qid> symlink(ostd::u32 dfid, std::string_view name, std::string_view target, ostd::u32 gid);
  ostd::Result<Qid> mknod(ostd::u32 dfid, std::string_view name, ostd::u32 mode, ostd::u32 major, ostd::u32 minor,
                          ostd::u32 gid);
  ostd::Result<void> link(ostd::u32 dfid, ostd::u32 fid, std::string_view name);
  ostd::Result<void> renameat(ostd::u32 old_dfid, std::string_view old_name, ostd::u32 new_dfid,
                              std::string_view new_name);
  ostd::Result<void> unlinkat(ostd::u32 dfid, std::string_view name, ostd::u32 flags);
  ostd::Result<std::string> readlink(ostd::u32 fid);
  /// Up to dst.size() bytes at `offset` of the opened `fid` (several requests when it is larger
  /// than iounit()); fewer at the end of the file.
  ostd::Result<ostd::usize> read(ostd::u32 fid, ostd::u64 offset, std::span<ostd::u8> dst);
  /// Writes `src` at `offset` of the opened `fid` (several requests when it is larger than
  /// iounit()); the bytes written.
  ostd::Result<ostd::usize> write(ostd::u32 fid, ostd::u64 offset, std::span<const ostd::u8> src);
  /// Entries of the opened directory `fid` from `offset` (empty at the end).
  ostd::Result<std::vector<Dirent>> readdir(ostd::u32 fid, ostd::u64 offset);
  ostd::Result<void> fsync(ostd::u32 fid, bool datasync);
  ostd::Result<StatFs> statfs(ostd::u32 fid);
  /// Forgets `fid` (errors are logged: the fid is gone either way).
  void clunk(ostd::u32 fid);

  /// One exchange: fills in the header, sends, and returns the reply's body once its size,
  /// tag and type (`expect`) check out. Rlerror becomes its errno.
  ostd::Result<void> call(Message& m, Op expect, std::vector<ostd::u8>& reply);

 private:
  ostd::u32 new_fid();
  ostd::Result<Qid> qid_reply(Message& m, Op expect);
  ostd::Result<void> empty_reply(Message& m, Op expect);

  std::shared_ptr<Transport> transport_;
  ostd::Mutex lock_;  // tags and fids
  ostd::u32 msize_ = 8192;
  ostd::u32 root_fid_ = 0;
  ostd::u16 next_tag_ = 0;
  ostd::u32 next_fid_ = 1;
  std::vector<ostd::u32> free_fids_;
};

/// The machine's shares, found at boot: the backend's (ostd/dev/p9.h), then virtio-9p devices.
void init_shares();
/// The share called `tag`; nullptr when there is none.
std::shared_ptr<Transport> share_by_tag(std::string_view tag);
/// For fuzzers: every share init_shares() finds is replaced by what `filter` makes of it (a
/// transport that mutates the server's replies).
void set_share_filter(std::function<std::shared_ptr<Transport>(std::shared_ptr<Transport>)> filter);

/// An errno the server sent, as the kernel's (EIO for values outside Linux's table).
ostd::Errno errno_from_wire(ostd::u32 value);

}  // namespace services::p9
