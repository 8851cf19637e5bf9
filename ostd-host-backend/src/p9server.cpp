// The host backend's 9P2000.L servers (ostd/dev/p9.h): each share is a host directory served
// with host system calls, on the kernel thread, one message at a time.
//
// Confinement. A fid holds an O_PATH descriptor of its file. A walk step opens one directory
// entry beneath the fid's directory with O_NOFOLLOW, and names with a '/' or that are "." are
// refused, so no step can leave the directory it starts in or follow a symbolic link; ".." is
// resolved from the share's root by the fid's path with RESOLVE_BENEATH (never above the root).
// Operations on a fid's file reach it through /proc/self/fd/N, which names that very file
// whatever happened to its path since. Only regular files and directories are opened: a device
// node or FIFO in the share is never opened on the host (the guest's kernel serves those). The
// guest's root is root over the shared directory when umk runs as root (device nodes and
// set-user-ID files included), as with QEMU's security_model=passthrough: share only what the
// guest may own.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ostd/dev/p9.h>
#include <ostd/format.h>

#include "host_internal.h"

namespace ostd::host {
namespace {

// clang-format off
enum : u8 {
  kRlerror = 7, kTstatfs = 8, kTlopen = 12, kTlcreate = 14, kTsymlink = 16, kTmknod = 18, kTreadlink = 22,
  kTgetattr = 24, kTsetattr = 26, kTxattrwalk = 30, kTreaddir = 40, kTfsync = 50, kTlink = 70, kTmkdir = 72,
  kTrenameat = 74, kTunlinkat = 76, kTversion = 100, kTattach = 104, kTflush = 108, kTwalk = 110, kTread = 116,
  kTwrite = 118, kTclunk = 120,
};
// clang-format on
constexpr usize kHeader = 7;

/// A request's fields, read with bounds checks: reading past the end marks it bad.
class In {
 public:
  explicit In(std::span<const u8> b) : b_(b) {}
  u64 get(int bytes) {
    if (b_.size() - pos_ < static_cast<usize>(bytes)) {
      bad_ = true;
      return 0;
    }
    u64 v = 0;
    for (int i = 0; i < bytes; ++i) v |= u64{b_[pos_ + static_cast<usize>(i)]} << (8 * i);
    pos_ += static_cast<usize>(bytes);
    return v;
  }
  u8 u8_() { return static_cast<u8>(get(1)); }
  u16 u16_() { return static_cast<u16>(get(2)); }
  u32 u32_() { return static_cast<u32>(get(4)); }
  u64 u64_() { return get(8); }
  std::string str() {
    usize n = u16_();
    if (bad_ || b_.size() - pos_ < n) {
      bad_ = true;
      return {};
    }
    // SAFETY: n <= b_.size() - pos_ (checked above); char may alias u8; the bytes are copied.
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  std::span<const u8> bytes(usize n) {
    if (bad_ || b_.size() - pos_ < n) {
      bad_ = true;
      return {};
    }
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  bool bad() const { return bad_; }

 private:
  std::span<const u8> b_;
  usize pos_ = 0;
  bool bad_ = false;
};

/// A reply being built into the caller's vector.
class Out {
 public:
  Out(std::vector<u8>& b, u8 type, u16 tag) : b_(b) {
    b_.assign(kHeader, 0);
    b_[4] = type;
    b_[5] = static_cast<u8>(tag);
    b_[6] = static_cast<u8>(tag >> 8);
  }
  Out& put(u64 v, int bytes) {
    for (int i = 0; i < bytes; ++i) b_.push_back(static_cast<u8>(v >> (8 * i)));
    return *this;
  }
  Out& str(std::string_view s) {
    put(s.size(), 2);
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  void finish() {
    auto n = static_cast<u32>(b_.size());
    for (int i = 0; i < 4; ++i) b_[static_cast<usize>(i)] = static_cast<u8>(n >> (8 * i));
  }
  std::vector<u8>& buf() { return b_; }

 private:
  std::vector<u8>& b_;
};

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct Fid {
  std::shared_ptr<Fd> path;  // O_PATH, O_NOFOLLOW
  std::shared_ptr<Fd> open;  // after Tlopen / Tlcreate
  std::string rel;           // the path from the share's root ("" for the root)
};

std::string proc_fd(int fd) { return format("/proc/self/fd/{}", fd); }

template <typename F>
auto retry(F f) {
  for (;;) {
    auto r = f();
    if (r >= 0 || errno != EINTR) return r;
  }
}

bool valid_name(std::string_view n) {
  return !n.empty() && n != "." && n != ".." && n.find('/') == std::string_view::npos &&
         n.find('\0') == std::string_view::npos;
}

class Server {
 public:
  Server(std::string tag, int root, bool ro) : tag_(std::move(tag)), root_(root), ro_(ro) {
    struct stat st {};
    if (::fstat(root, &st) == 0) root_dev_ = st.st_dev;
    euid_root_ = ::geteuid() == 0;
    mode_t m = ::umask(0);
    ::umask(m);
    umask_ = m;
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server() { ::close(root_); }
  const std::string& tag() const { return tag_; }
  bool read_only() const { return ro_; }
  void handle(std::span<const u8> req, std::vector<u8>& reply);

 private:
  // One request: the error to send back (0 when the handler built its reply).
  int dispatch(u8 type, u16 tag, In& in, std::vector<u8>& reply);
  int version(u16 tag, In& in, std::vector<u8>& reply);
  int walk(u16 tag, In& in, std::vector<u8>& reply);
  int setattr(Fid& f, In& in);
  int readdir(u16 tag, Fid& f, u64 offset, u32 count, std::vector<u8>& reply);
  int create_common(u16 tag, u8 rtype, Fid& dir, const std::string& name, u32 mode, u32 gid, std::vector<u8>& reply,
                    int (*make)(int dirfd, const char* name, u32 mode, const void* extra), const void* extra);

  Fid* fid(u32 n) {
    auto it = fids_.find(n);
    return it == fids_.end() ? nullptr : &it->second;
  }
  u64 qid_path(const struct stat& st) const {
    return st.st_dev == root_dev_ ? st.st_ino : st.st_ino ^ (static_cast<u64>(st.st_dev) << 48);
  }
  void put_qid(Out& o, const struct stat& st) const {
    u8 type = S_ISDIR(st.st_mode) ? 0x80 : S_ISLNK(st.st_mode) ? 0x02 : 0;
    o.put(type, 1).put(static_cast<u32>(st.st_mtim.tv_sec ^ (st.st_size << 8)), 4).put(qid_path(st), 8);
  }
  // After making `name` in `dirfd` for the guest: the exact mode (not the host umask's) and the
  // group it asked for.
  void settle(int dirfd, const std::string& name, u32 mode, u32 gid, bool is_link) {
    if (!is_link && (umask_ & mode & 07777) != 0) ::fchmodat(dirfd, name.c_str(), mode & 07777, 0);
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_gid != gid) {
      ::fchownat(dirfd, name.c_str(), static_cast<uid_t>(-1), gid, AT_SYMLINK_NOFOLLOW);
    }
  }
  int stat_of(int fd, struct stat& st) const {
    return ::fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
  }
  // The directory `rel` names, beneath the root.
  int open_beneath(const std::string& rel) const {
    struct open_how how {};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
    return static_cast<int>(
        retry([&] { return ::syscall(SYS_openat2, root_, rel.empty() ? "." : rel.c_str(), &how, sizeof how); }));
  }

  std::string tag_;
  int root_;
  bool ro_;
  dev_t root_dev_ = 0;
  bool euid_root_ = false;
  mode_t umask_ = 0;
  u32 msize_ = 8192;
  std::map<u32, Fid> fids_;
};

void Server::handle(std::span<const u8> req, std::vector<u8>& reply) {
  In in(req);
  u32 size = in.u32_();
  u8 type = in.u8_();
  u16 tag = in.u16_();
  int err = in.bad() || size != req.size() ? EINVAL : dispatch(type, tag, in, reply);
  if (err != 0) {
    Out o(reply, kRlerror, tag);
    o.put(static_cast<u32>(err), 4).finish();
  }
}

int Server::version(u16 tag, In& in, std::vector<u8>& reply) {
  u32 msize = in.u32_();
  std::string v = in.str();
  if (in.bad()) return EINVAL;
  fids_.clear();
  msize_ = std::clamp<u32>(msize, 4096, p9::kMaxMessage);
  Out o(reply, kTversion + 1, tag);
  o.put(msize_, 4).str(v.rfind("9P2000.L", 0) == 0 ? "9P2000.L" : "unknown").finish();
  return 0;
}

int Server::walk(u16 tag, In& in, std::vector<u8>& reply) {
  u32 from = in.u32_(), to = in.u32_();
  u16 n = in.u16_();
  std::vector<std::string> names;
  for (u16 i = 0; i < n; ++i) names.push_back(in.str());
  if (in.bad() || n > 16) return EINVAL;
  Fid* f = fid(from);
  if (f == nullptr) return EBADF;
  if (to != from && fid(to) != nullptr) return EBADF;
  if (f->open) return EBADF;  // 9P: an opened fid cannot be walked
  Fid cur{f->path, nullptr, f->rel};
  std::vector<struct stat> qids;
  for (const std::string& name : names) {
    int fd = -1;
    std::string rel;
    if (name == "..") {
      auto slash = cur.rel.rfind('/');
      rel = slash == std::string::npos ? std::string() : cur.rel.substr(0, slash);
      fd = open_beneath(rel);
    } else if (valid_name(name)) {
      fd = static_cast<int>(
          retry([&] { return ::openat(cur.path->fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC); }));
      rel = cur.rel.empty() ? name : cur.rel + "/" + name;
    } else {
      errno = EINVAL;
    }
    if (fd < 0) {
      if (qids.empty()) return errno;
      break;  // a partial walk: the qids so far, no new fid
    }
    struct stat st {};
    if (stat_of(fd, st) != 0) {
      int e = errno;
      ::close(fd);
      if (qids.empty()) return e;
      break;
    }
    cur = Fid{std::make_shared<Fd>(fd), nullptr, rel};
    qids.push_back(st);
  }
  if (qids.size() == names.size()) fids_[to] = std::move(cur);
  Out o(reply, kTwalk + 1, tag);
  o.put(qids.size(), 2);
  for (const auto& st : qids) put_qid(o, st);
  o.finish();
  return 0;
}

int Server::setattr(Fid& f, In& in) {
  u32 valid = in.u32_(), mode = in.u32_(), uid = in.u32_(), gid = in.u32_();
  u64 size = in.u64_();
  struct timespec at {
    static_cast<time_t>(in.u64_()), static_cast<long>(in.u64_())
  };
  struct timespec mt {
    static_cast<time_t>(in.u64_()), static_cast<long>(in.u64_())
  };
  if (in.bad()) return EINVAL;
  if (ro_) return EROFS;
  struct stat st {};
  if (stat_of(f.path->fd, st) != 0) return errno;
  const std::string self = proc_fd(f.path->fd);
  if ((valid & 0x1) != 0 && !S_ISLNK(st.st_mode) && ::chmod(self.c_str(), mode & 07777) != 0) return errno;
  if ((valid & 0x6) != 0) {
    uid_t u = (valid & 0x2) != 0 ? uid : static_cast<uid_t>(-1);
    gid_t g = (valid & 0x4) != 0 ? gid : static_cast<gid_t>(-1);
    // Not root: the owner cannot change here, as QEMU's security_model=none ignores it.
    if (::fchownat(f.path->fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 && (euid_root_ || errno != EPERM)) {
      return errno;
    }
  }
  if ((valid & 0x8) != 0) {
    if (!S_ISREG(st.st_mode)) return S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    if (retry([&] { return ::truncate(self.c_str(), static_cast<off_t>(size)); }) != 0) return errno;
  }
  if ((valid & 0x30) != 0) {
    std::array<struct timespec, 2> ts{};
    ts[0].tv_nsec = (valid & 0x10) == 0 ? UTIME_OMIT : (valid & 0x80) != 0 ? at.tv_nsec : UTIME_NOW;
    ts[1].tv_nsec = (valid & 0x20) == 0 ? UTIME_OMIT : (valid & 0x100) != 0 ? mt.tv_nsec : UTIME_NOW;
    if ((valid & 0x80) != 0) ts[0].tv_sec = at.tv_sec;
    if ((valid & 0x100) != 0) ts[1].tv_sec = mt.tv_sec;
    if (S_ISLNK(st.st_mode)) {
      // A symbolic link's own times: through its directory, found again beneath the root.
      auto slash = f.rel.rfind('/');
      std::string dir = slash == std::string::npos ? std::string() : f.rel.substr(0, slash);
      std::string name = slash == std::string::npos ? f.rel : f.rel.substr(slash + 1);
      Fd d(open_beneath(dir));
      if (d.fd < 0) return errno;
      if (::utimensat(d.fd, name.c_str(), ts.data(), AT_SYMLINK_NOFOLLOW) != 0) return errno;
    } else if (::utimensat(AT_FDCWD, self.c_str(), ts.data(), 0) != 0) {
      return errno;
    }
  }
  return 0;
}

int Server::readdir(u16 tag, Fid& f, u64 offset, u32 count, std::vector<u8>& reply) {
  if (!f.open) return EBADF;
  if (::lseek(f.open->fd, static_cast<off_t>(offset), SEEK_SET) < 0) return errno;
  count = std::min<u32>(count, msize_ - 11);
  std::vector<u8> raw(std::max<usize>(count, 4096));
  long got = retry([&] { return ::syscall(SYS_getdents64, f.open->fd, raw.data(), raw.size()); });
  if (got < 0) return errno;
  Out o(reply, kTreaddir + 1, tag);
  o.put(0, 4);
  usize used = 0;
  for (long pos = 0; pos < got;) {
    u64 ino = 0;
    i64 off = 0;
    u16 reclen = 0;
    // SAFETY: getdents64 wrote whole linux_dirent64 records to raw[0, got); pos is at one,
    // and each has >= 24 bytes (ino 0..7, off 8..15, reclen 16..17, type 18, name from 19).
    std::memcpy(&ino, raw.data() + pos, 8);
    std::memcpy(&off, raw.data() + pos + 8, 8);
    std::memcpy(&reclen, raw.data() + pos + 16, 2);
    const u8 dtype = raw[static_cast<usize>(pos) + 18];
    // SAFETY: the name starts at byte 19 of the record; strnlen stays inside reclen.
    const char* name = reinterpret_cast<const char*>(raw.data() + pos + 19);
    usize len = ::strnlen(name, reclen - 19u);
    usize need = 13 + 8 + 1 + 2 + len;
    if (used + need > count) break;
    u8 qtype = dtype == DT_DIR ? 0x80 : dtype == DT_LNK ? 0x02 : 0;
    o.put(qtype, 1).put(0, 4).put(ino, 8).put(static_cast<u64>(off), 8).put(dtype, 1);
    o.str(std::string_view(name, len));
    used += need;
    pos += reclen;
  }
  auto& b = o.buf();
  for (int i = 0; i < 4; ++i) b[kHeader + static_cast<usize>(i)] = static_cast<u8>(used >> (8 * i));
  o.finish();
  return 0;
}

int Server::create_common(u16 tag, u8 rtype, Fid& dir, const std::string& name, u32 mode, u32 gid,
                          std::vector<u8>& reply, int (*make)(int, const char*, u32, const void*), const void* extra) {
  if (!valid_name(name)) return EINVAL;
  if (ro_) return EROFS;
  if (make(dir.path->fd, name.c_str(), mode, extra) != 0) return errno;
  settle(dir.path->fd, name, mode, gid, (mode & S_IFMT) == S_IFLNK);
  struct stat st {};
  if (::fstatat(dir.path->fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  Out o(reply, rtype, tag);
  put_qid(o, st);
  o.finish();
  return 0;
}

int Server::dispatch(u8 type, u16 tag, In& in, std::vector<u8>& reply) {
  if (type == kTversion) return version(tag, in, reply);
  if (type == kTwalk) return walk(tag, in, reply);
  if (type == kTflush) {
    (void)in.u16_();
    Out(reply, kTflush + 1, tag).finish();
    return 0;
  }
  u32 n = in.u32_();
  if (in.bad()) return EINVAL;
  if (type == kTattach) {
    (void)in.u32_();  // afid
    (void)in.str();   // uname
    (void)in.str();   // aname: the share's root whatever it says
    (void)in.u32_();  // n_uname
    if (in.bad()) return EINVAL;
    if (fid(n) != nullptr) return EBADF;
    int fd = static_cast<int>(retry([&] { return ::openat(root_, ".", O_PATH | O_DIRECTORY | O_CLOEXEC); }));
    if (fd < 0) return errno;
    struct stat st {};
    stat_of(fd, st);
    fids_[n] = Fid{std::make_shared<Fd>(fd), nullptr, ""};
    Out o(reply, kTattach + 1, tag);
    put_qid(o, st);
    o.finish();
    return 0;
  }
  Fid* f = fid(n);
  if (f == nullptr) return EBADF;
  switch (type) {
    case kTclunk:
      fids_.erase(n);
      Out(reply, kTclunk + 1, tag).finish();
      return 0;
    case kTgetattr: {
      (void)in.u64_();
      struct stat st {};
      if (stat_of(f->path->fd, st) != 0) return errno;
      Out o(reply, kTgetattr + 1, tag);
      o.put(0x7ff, 8);
      put_qid(o, st);
      o.put(st.st_mode, 4).put(st.st_uid, 4).put(st.st_gid, 4).put(st.st_nlink, 8).put(st.st_rdev, 8);
      o.put(static_cast<u64>(st.st_size), 8)
          .put(static_cast<u64>(st.st_blksize), 8)
          .put(static_cast<u64>(st.st_blocks), 8);
      for (const auto& t : {st.st_atim, st.st_mtim, st.st_ctim}) {
        o.put(static_cast<u64>(t.tv_sec), 8).put(static_cast<u64>(t.tv_nsec), 8);
      }
      o.put(0, 8).put(0, 8).put(0, 8).put(0, 8);  // btime, gen, data_version
      o.finish();
      return 0;
    }
    case kTsetattr: {
      int e = setattr(*f, in);
      if (e == 0) Out(reply, kTsetattr + 1, tag).finish();
      return e;
    }
    case kTlopen: {
      u32 flags = in.u32_();
      if (in.bad()) return EINVAL;
      if (f->open) return EBADF;
      struct stat st {};
      if (stat_of(f->path->fd, st) != 0) return errno;
      if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return S_ISLNK(st.st_mode) ? ELOOP : EPERM;
      flags &= O_ACCMODE | O_APPEND | O_TRUNC | O_DIRECTORY | O_DSYNC | O_SYNC | O_NOATIME;
      if (ro_ && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0)) return EROFS;
      int fd = static_cast<int>(retry([&] {
        return ::open(proc_fd(f->path->fd).c_str(), static_cast<int>(flags) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
      }));
      if (fd < 0) return errno;
      f->open = std::make_shared<Fd>(fd);
      Out o(reply, kTlopen + 1, tag);
      put_qid(o, st);
      o.put(msize_ - 24, 4).finish();
      return 0;
    }
    case kTlcreate: {
      std::string name = in.str();
      u32 flags = in.u32_(), mode = in.u32_(), gid = in.u32_();
      if (in.bad() || !valid_name(name)) return EINVAL;
      if (ro_) return EROFS;
      if (f->open) return EBADF;
      flags &= O_ACCMODE | O_APPEND | O_TRUNC | O_EXCL | O_DSYNC | O_SYNC;
      int fd = static_cast<int>(retry([&] {
        return ::openat(f->path->fd, name.c_str(),
                        static_cast<int>(flags) | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode & 07777);
      }));
      if (fd < 0) return errno;
      auto opened = std::make_shared<Fd>(fd);
      settle(f->path->fd, name, mode, gid, false);
      int pfd =
          static_cast<int>(retry([&] { return ::openat(f->path->fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC); }));
      if (pfd < 0) return errno;
      struct stat st {};
      stat_of(pfd, st);
      f->rel = f->rel.empty() ? name : f->rel + "/" + name;
      f->path = std::make_shared<Fd>(pfd);
      f->open = std::move(opened);
      Out o(reply, kTlcreate + 1, tag);
      put_qid(o, st);
      o.put(msize_ - 24, 4).finish();
      return 0;
    }
    case kTsymlink: {
      std::string name = in.str(), target = in.str();
      u32 gid = in.u32_();
      if (in.bad() || target.empty() || target.find('\0') != std::string::npos) return EINVAL;
      return create_common(
          tag, kTsymlink + 1, *f, name, S_IFLNK | 0777, gid, reply,
          [](int d, const char* nm, u32, const void* t) {
            // SAFETY: t is &target, a string alive for the call.
            return ::symlinkat(static_cast<const std::string*>(t)->c_str(), d, nm);
          },
          &target);
    }
    case kTmknod: {
      std::string name = in.str();
      u32 mode = in.u32_(), major = in.u32_(), minor = in.u32_(), gid = in.u32_();
      if (in.bad()) return EINVAL;
      // Device nodes are made as QEMU's passthrough makes them (the host refuses them to a
      // umk that is not root); the server never opens them.
      if (!S_ISFIFO(mode) && !S_ISSOCK(mode) && !S_ISREG(mode) && !S_ISCHR(mode) && !S_ISBLK(mode)) return EINVAL;
      dev_t dev = ::makedev(major, minor);
      return create_common(
          tag, kTmknod + 1, *f, name, mode, gid, reply,
          [](int d, const char* nm, u32 m, const void* dv) {
            // SAFETY: dv is &dev, a dev_t alive for the call.
            return ::mknodat(d, nm, m, *static_cast<const dev_t*>(dv));
          },
          &dev);
    }
    case kTmkdir: {
      std::string name = in.str();
      u32 mode = in.u32_(), gid = in.u32_();
      if (in.bad()) return EINVAL;
      return create_common(
          tag, kTmkdir + 1, *f, name, (mode & 07777) | S_IFDIR, gid, reply,
          [](int d, const char* nm, u32 m, const void*) { return ::mkdirat(d, nm, m & 07777); }, nullptr);
    }
    case kTreadlink: {
      std::vector<char> buf(PATH_MAX + 1);
      ssize_t len = ::readlinkat(f->path->fd, "", buf.data(), buf.size());
      if (len < 0) return errno;
      Out o(reply, kTreadlink + 1, tag);
      o.str(std::string_view(buf.data(), static_cast<usize>(len))).finish();
      return 0;
    }
    case kTreaddir: {
      u64 offset = in.u64_();
      u32 count = in.u32_();
      if (in.bad()) return EINVAL;
      return readdir(tag, *f, offset, count, reply);
    }
    case kTread: {
      u64 offset = in.u64_();
      u32 count = in.u32_();
      if (in.bad()) return EINVAL;
      if (!f->open) return EBADF;
      count = std::min<u32>(count, msize_ - 11);
      Out o(reply, kTread + 1, tag);
      o.put(0, 4);
      auto& b = o.buf();
      b.resize(kHeader + 4 + count);
      ssize_t got =
          retry([&] { return ::pread(f->open->fd, b.data() + kHeader + 4, count, static_cast<off_t>(offset)); });
      if (got < 0) return errno;
      b.resize(kHeader + 4 + static_cast<usize>(got));
      for (int i = 0; i < 4; ++i)
        b[kHeader + static_cast<usize>(i)] = static_cast<u8>(static_cast<u64>(got) >> (8 * i));
      o.finish();
      return 0;
    }
    case kTwrite: {
      u64 offset = in.u64_();
      u32 count = in.u32_();
      auto data = in.bytes(count);
      if (in.bad()) return EINVAL;
      if (!f->open) return EBADF;
      if (ro_) return EROFS;
      ssize_t put = retry([&] { return ::pwrite(f->open->fd, data.data(), data.size(), static_cast<off_t>(offset)); });
      if (put < 0) return errno;
      Out o(reply, kTwrite + 1, tag);
      o.put(static_cast<u64>(put), 4).finish();
      return 0;
    }
    case kTfsync: {
      u32 datasync = in.u32_();
      if (in.bad()) return EINVAL;
      if (!f->open) return EBADF;
      if ((datasync != 0 ? ::fdatasync(f->open->fd) : ::fsync(f->open->fd)) != 0) return errno;
      Out(reply, kTfsync + 1, tag).finish();
      return 0;
    }
    case kTstatfs: {
      struct statfs s {};
      if (::fstatfs(f->path->fd, &s) != 0) return errno;
      Out o(reply, kTstatfs + 1, tag);
      o.put(static_cast<u32>(s.f_type), 4).put(static_cast<u32>(s.f_bsize), 4).put(s.f_blocks, 8).put(s.f_bfree, 8);
      o.put(s.f_bavail, 8).put(s.f_files, 8).put(s.f_ffree, 8);
      u64 fsid = 0;
      // SAFETY: f_fsid is two ints, 8 bytes == sizeof fsid; plain integers, any bits valid.
      std::memcpy(&fsid, &s.f_fsid, sizeof fsid);
      o.put(fsid, 8).put(static_cast<u32>(s.f_namelen), 4).finish();
      return 0;
    }
    case kTlink: {
      u32 target = in.u32_();
      std::string name = in.str();
      if (in.bad() || !valid_name(name)) return EINVAL;
      if (ro_) return EROFS;
      Fid* t = fid(target);
      if (t == nullptr) return EBADF;
      if (::linkat(AT_FDCWD, proc_fd(t->path->fd).c_str(), f->path->fd, name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
        return errno;
      }
      Out(reply, kTlink + 1, tag).finish();
      return 0;
    }
    case kTrenameat: {
      std::string old_name = in.str();
      u32 to = in.u32_();
      std::string new_name = in.str();
      if (in.bad() || !valid_name(old_name) || !valid_name(new_name)) return EINVAL;
      if (ro_) return EROFS;
      Fid* t = fid(to);
      if (t == nullptr) return EBADF;
      if (::renameat(f->path->fd, old_name.c_str(), t->path->fd, new_name.c_str()) != 0) return errno;
      Out(reply, kTrenameat + 1, tag).finish();
      return 0;
    }
    case kTunlinkat: {
      std::string name = in.str();
      u32 flags = in.u32_();
      if (in.bad() || !valid_name(name)) return EINVAL;
      if (ro_) return EROFS;
      if (::unlinkat(f->path->fd, name.c_str(), static_cast<int>(flags & AT_REMOVEDIR)) != 0) return errno;
      Out(reply, kTunlinkat + 1, tag).finish();
      return 0;
    }
    case kTxattrwalk: return EOPNOTSUPP;
    default: return EOPNOTSUPP;
  }
}

std::vector<std::unique_ptr<Server>>& servers() {
  static std::vector<std::unique_ptr<Server>> s;
  return s;
}

}  // namespace

std::optional<VolumeConfig> parse_volume(const std::string& text) {
  VolumeConfig v;
  std::string rest = text;
  if (rest.size() > 3 && rest.compare(rest.size() - 3, 3, ":ro") == 0) {
    v.read_only = true;
    rest.resize(rest.size() - 3);
  } else if (rest.size() > 3 && rest.compare(rest.size() - 3, 3, ":rw") == 0) {
    rest.resize(rest.size() - 3);
  }
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  v.host_path = rest.substr(0, colon);
  v.guest_path = rest.substr(colon + 1);
  if (v.guest_path.empty() || v.guest_path[0] != '/' || v.guest_path.find(' ') != std::string::npos)
    return std::nullopt;
  return v;
}

std::string shares_start(const std::vector<VolumeConfig>& volumes) {
  shares_stop();
  // Every live guest inode of a share holds a host descriptor: as many as the host allows.
  struct rlimit rl {};
  if (!volumes.empty() && ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  for (const VolumeConfig& v : volumes) {
    int fd = ::open(v.host_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      std::string err = format("--volume {}: {}", v.host_path, std::string_view(strerror(errno)));
      shares_stop();
      return err;
    }
    servers().push_back(std::make_unique<Server>(v.tag, fd, v.read_only));
  }
  return {};
}

void shares_stop() { servers().clear(); }

}  // namespace ostd::host

namespace ostd::p9 {

usize count() { return host::servers().size(); }

std::optional<Share> share(usize index) {
  if (index >= host::servers().size()) return std::nullopt;
  const auto& s = *host::servers()[index];
  return Share{s.tag(), s.read_only()};
}

Result<void> rpc(usize index, std::span<const u8> request, std::vector<u8>& reply) {
  if (index >= host::servers().size()) return Errno::enxio;
  if (request.size() > kMaxMessage || request.size() < host::kHeader) return Errno::einval;
  host::servers()[index]->handle(request, reply);
  return {};
}

}  // namespace ostd::p9
