// File-system system calls: I/O, descriptors, paths, directories, links, attributes, mounts.
#include <algorithm>
#include <array>
#include <limits>
#include <map>

#include <ostd/mm/io.h>

#include "abi/x86_64/time.h"
#include "device/devices.h"
#include "fs/file.h"
#include "fs/notify.h"
#include "fs/protected.h"
#include "fs/pipe.h"
#include "device/block.h"
#include "fs/vfs.h"
#include "abi/mount.h"
#include "process/process.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::usize;
using ostd::Vaddr;

namespace {

constexpr int kAtFdcwd = -100;
constexpr u32 kAtSymlinkNofollow = 0x100;
constexpr u32 kAtRemovedir = 0x200;
constexpr u32 kAtSymlinkFollow = 0x400;
constexpr u32 kAtNoAutomount = 0x800;
constexpr u32 kAtEmptyPath = 0x1000;
constexpr u32 kAtEaccess = 0x200;
constexpr u32 kAtStatxSyncMask = 0x6000;

Result<std::string> read_path(Thread& t, Vaddr addr) {
  std::string s = TRY(t.vm().read_cstring(addr, kPathMax - 1));
  return s;
}

PathLookup lookup_at(Thread& t, const std::shared_ptr<Dentry>& start) {
  return PathLookup{*t.process().fs, start, &t.process()};
}

const Credentials& creds_of(Thread& t) { return t.process().creds; }

Result<std::shared_ptr<File>> get_file(Thread& t, int fd) { return t.process().fds->get(fd); }

// ---- read / write ----

Result<usize> do_read(Thread& t, File& f, Vaddr buf, usize len, std::optional<u64> off) {
  if (f.is_opath() || !f.readable()) return Errno::ebadf;
  len = std::min(len, kMaxRw);
  auto w = ostd::VmWriter::from_user(t.vm(), buf, len);
  if (off) return f.read_at(t, *off, w);
  return f.read(t, w);
}

Result<usize> do_write(Thread& t, File& f, Vaddr buf, usize len, std::optional<u64> off) {
  if (f.is_opath() || !f.writable()) return Errno::ebadf;
  len = std::min(len, kMaxRw);
  auto r = ostd::VmReader::from_user(t.vm(), buf, len);
  if (off) return f.write_at(t, *off, r);
  return f.write(t, r);
}

Result<long> sys_read(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  return static_cast<long>(TRY(do_read(t, *f, a[1], a[2], std::nullopt)));
}

Result<long> sys_write(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  return static_cast<long>(TRY(do_write(t, *f, a[1], a[2], std::nullopt)));
}

Result<long> sys_pread64(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  auto off = static_cast<ostd::i64>(a[3]);
  if (off < 0) return Errno::einval;
  return static_cast<long>(TRY(do_read(t, *f, a[1], a[2], static_cast<u64>(off))));
}

Result<long> sys_pwrite64(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  auto off = static_cast<ostd::i64>(a[3]);
  if (off < 0) return Errno::einval;
  return static_cast<long>(TRY(do_write(t, *f, a[1], a[2], static_cast<u64>(off))));
}

using Iovec = IoVec;

Result<std::vector<Iovec>> read_iovecs(Thread& t, Vaddr addr, int count) {
  if (count < 0 || static_cast<usize>(count) > kIovMax) return Errno::einval;
  return read_iovec_array(t, addr, static_cast<usize>(count));
}

// A vectored write goes to the file as one write per 64 KiB gathered from the vectors, as Linux
// hands the file one iov_iter: a writev of at most PIPE_BUF bytes to a pipe is atomic (a reader
// never sees the first vector without the second), and a tty or pipe reader gets it in one piece.
Result<long> gathered_write(Thread& t, File& f, const std::vector<Iovec>& iov, std::optional<u64> off) {
  constexpr usize kChunk = 65536;
  std::vector<ostd::u8> buf;
  usize done = 0;
  usize i = 0, in_vec = 0;  // the next byte to gather: vector i, offset in_vec
  bool fault = false;
  while (i < iov.size() && done < kMaxRw && !fault) {
    buf.clear();
    while (i < iov.size() && buf.size() < kChunk) {
      usize n = std::min<usize>(iov[i].len - in_vec, kChunk - buf.size());
      usize at = buf.size();
      buf.resize(at + n);
      auto got = t.vm().read_bytes_partial(iov[i].base + in_vec, std::span<ostd::u8>(buf).subspan(at, n));
      usize took = got.is_ok() ? got.value() : 0;
      buf.resize(at + took);
      in_vec += took;
      if (took < n) {
        fault = true;
        break;
      }
      if (in_vec == iov[i].len) {
        ++i;
        in_vec = 0;
      }
    }
    if (buf.empty()) break;
    auto r = ostd::VmReader::from_kernel(buf);
    auto w = off ? f.write_at(t, *off + done, r) : f.write(t, r);
    if (w.is_error()) {
      if (done > 0) break;
      return w.error();
    }
    done += w.value();
    if (w.value() < buf.size()) break;
  }
  if (done == 0 && fault) return Errno::efault;
  return static_cast<long>(done);
}

Result<long> do_readv(Thread& t, int fd, Vaddr iov_addr, int count, std::optional<u64> off, bool write) {
  auto f = TRY(get_file(t, fd));
  auto iov = TRY(read_iovecs(t, iov_addr, count));
  if (f->is_opath() || (write ? !f->writable() : !f->readable())) return Errno::ebadf;
  usize nonempty = 0;
  for (const auto& v : iov) nonempty += v.len != 0 ? 1 : 0;
  if (write && nonempty > 1) return gathered_write(t, *f, iov, off);
  usize done = 0;
  for (const auto& v : iov) {
    if (v.len == 0) continue;
    std::optional<u64> at;
    if (off) at = *off + done;
    auto r = write ? do_write(t, *f, v.base, v.len, at) : do_read(t, *f, v.base, v.len, at);
    if (r.is_error()) {
      if (done > 0) break;
      return r.error();
    }
    done += r.value();
    if (r.value() < v.len || done >= kMaxRw) break;
  }
  return static_cast<long>(done);
}

Result<long> sys_readv(Thread& t, const SyscallArgs& a) {
  return do_readv(t, a.as_int(0), a[1], a.as_int(2), std::nullopt, false);
}
Result<long> sys_writev(Thread& t, const SyscallArgs& a) {
  return do_readv(t, a.as_int(0), a[1], a.as_int(2), std::nullopt, true);
}
Result<long> sys_preadv(Thread& t, const SyscallArgs& a) {
  auto off = static_cast<ostd::i64>(a[3]);
  if (off < 0) return Errno::einval;
  return do_readv(t, a.as_int(0), a[1], a.as_int(2), static_cast<u64>(off), false);
}
Result<long> sys_pwritev(Thread& t, const SyscallArgs& a) {
  auto off = static_cast<ostd::i64>(a[3]);
  if (off < 0) return Errno::einval;
  return do_readv(t, a.as_int(0), a[1], a.as_int(2), static_cast<u64>(off), true);
}

// preadv2/pwritev2: the offset -1 means the file position (readv/writev). RWF_HIPRI, DSYNC and
// SYNC ask nothing more of files in memory; RWF_NOWAIT fails with EAGAIN where the transfer
// would wait; RWF_APPEND writes at the end of the file.
Result<long> do_rw2(Thread& t, const SyscallArgs& a, bool write) {
  constexpr u32 kRwfHipri = 1, kRwfDsync = 2, kRwfSync = 4, kRwfNowait = 8, kRwfAppend = 0x10;
  constexpr int kSeekSet = 0;
  const auto pos = static_cast<ostd::i64>(a[3]);
  const u32 flags = a.as_u32(5);
  if (pos < -1) return Errno::einval;
  auto f = TRY(get_file(t, a.as_int(0)));
  if (f->is_opath() || (write ? !f->writable() : !f->readable())) return Errno::ebadf;
  if ((flags & ~(kRwfHipri | kRwfDsync | kRwfSync | kRwfNowait | kRwfAppend)) != 0) return Errno::eopnotsupp;
  auto st = TRY(f->stat());
  const bool regular = (st.st_mode & abi::kSIfmt) == abi::kSIfreg;
  if ((flags & kRwfNowait) != 0 && !regular && (f->poll_events() & (write ? kPollOut : kPollIn)) == 0) {
    return Errno::eagain;
  }
  std::optional<u64> at;
  if (pos >= 0) at = static_cast<u64>(pos);
  if (write && regular && (flags & kRwfAppend) != 0) {
    const u64 end = static_cast<u64>(st.st_size);
    const long n = TRY(do_readv(t, a.as_int(0), a[1], a.as_int(2), end, true));
    // Without an offset, the file position follows the appended bytes, as an O_APPEND write.
    if (pos == -1) TRY(f->seek(static_cast<ostd::i64>(end + static_cast<u64>(n)), kSeekSet));
    return n;
  }
  return do_readv(t, a.as_int(0), a[1], a.as_int(2), at, write);
}
Result<long> sys_preadv2(Thread& t, const SyscallArgs& a) { return do_rw2(t, a, false); }
Result<long> sys_pwritev2(Thread& t, const SyscallArgs& a) { return do_rw2(t, a, true); }

Result<long> sys_lseek(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  if (f->is_opath()) return Errno::ebadf;
  return static_cast<long>(TRY(f->seek(static_cast<ostd::i64>(a[1]), a.as_int(2))));
}

Result<long> sys_sendfile(Thread& t, const SyscallArgs& a) {
  auto out = TRY(get_file(t, a.as_int(0)));
  auto in = TRY(get_file(t, a.as_int(1)));
  if (!in->readable() || !out->writable() || in->is_opath() || out->is_opath()) return Errno::ebadf;
  if ((out->status_flags() & kOAppend) != 0) return Errno::einval;
  ostd::UserPtr<ostd::i64> offp(a[2]);
  std::optional<u64> off;
  if (!offp.is_null()) {
    ostd::i64 o = TRY(offp.read(t.vm()));
    if (o < 0) return Errno::einval;
    off = static_cast<u64>(o);
  }
  usize count = std::min<u64>(a[3], kMaxRw);
  std::vector<ostd::u8> buf(std::min<usize>(count, 65536));
  usize done = 0;
  // From a stream (a tty's line, a pipe's contents), what one read brought is the answer: reading
  // on would wait for input the caller has not asked for yet (cat of a tty needed a second ^D).
  auto in_stat = in->stat();
  const bool stream = in_stat.is_error() || (in_stat.value().st_mode & abi::kSIfmt) != abi::kSIfreg;
  // Without an offset, a regular file is read at its position, which then moves by what was
  // written, not by what was read: a socket or pipe taking part of a chunk loses nothing.
  constexpr int kSeekSet = 0, kSeekCur = 1;
  std::optional<u64> pos;
  if (!off && !stream) {
    auto p = in->seek(0, kSeekCur);
    if (p.is_ok()) pos = static_cast<u64>(p.value());
  }
  while (done < count) {
    usize want = std::min(buf.size(), count - done);
    auto w = ostd::VmWriter::from_kernel(std::span<ostd::u8>(buf).first(want));
    auto r = off ? in->read_at(t, *off + done, w) : pos ? in->read_at(t, *pos + done, w) : in->read(t, w);
    if (r.is_error()) {
      if (done > 0) break;
      return r.error();
    }
    usize got = r.value();
    if (got == 0) break;
    auto rd = ostd::VmReader::from_kernel(std::span<const ostd::u8>(buf).first(got));
    auto wr = out->write(t, rd);
    if (wr.is_error()) {
      if (done > 0) break;
      return wr.error();
    }
    done += wr.value();
    if (wr.value() < got || (stream && got < want)) break;
  }
  if (off) TRY(offp.write(t.vm(), static_cast<ostd::i64>(*off + done)));
  if (pos) (void)in->seek(static_cast<ostd::i64>(*pos + done), kSeekSet);
  return static_cast<long>(done);
}

// ---- open / close / dup ----

Result<long> open_resolved(Thread& t, const std::shared_ptr<Dentry>& d, u32 flags, bool created);

// open/openat/creat, and openat2 with its RESOLVE_* flags in `resolve`.
Result<long> do_open(Thread& t, int dirfd, Vaddr path_addr, u32 flags, u32 mode, u32 resolve = 0) {
  std::string path = TRY(read_path(t, path_addr));
  if (path.empty()) return Errno::enoent;
  if ((flags & kOTmpfile) == kOTmpfile) return Errno::eopnotsupp;
  // With RESOLVE_BENEATH or RESOLVE_IN_ROOT the scope is the directory itself, whatever the path.
  const bool scoped = (resolve & (kResolveBeneath | kResolveInRoot)) != 0;
  auto start = TRY(dirfd_start(t, dirfd, scoped ? std::string_view(".") : std::string_view(path)));
  PathLookup at = lookup_at(t, start);
  at.resolve = resolve;
  std::shared_ptr<Dentry> d;
  bool created = false;  // a new file is opened as asked, whatever its mode says
  if ((flags & kOCreat) != 0 && (flags & kOPath) == 0) {
    auto pn = TRY(walk_parent(at, path));
    if (pn.name == "." || pn.name == ".." || pn.trailing_slash) return Errno::eisdir;
    auto existing = pn.parent->inode()->lookup(pn.name);
    // A dangling symlink is followed and its target made (Linux's open_last_lookups), unless
    // O_EXCL or O_NOFOLLOW says otherwise.
    for (int links = 0; existing.is_ok() && existing.value()->is_symlink() && (flags & (kOExcl | kONofollow)) == 0;
         ++links) {
      if (links >= kMaxSymlinks) return Errno::eloop;
      auto followed = walk(at, path, true);
      if (followed.is_ok() || followed.error() != Errno::enoent) break;
      std::string target = TRY(existing.value()->readlink(&t.process()));
      if (!target.empty() && target.front() != '/') at.start = pn.parent;
      path = std::move(target);
      pn = TRY(walk_parent(at, path));
      if (pn.name == "." || pn.name == ".." || pn.trailing_slash) return Errno::eisdir;
      existing = pn.parent->inode()->lookup(pn.name);
    }
    if (existing.is_ok()) {
      if ((flags & kOExcl) != 0) return Errno::eexist;
      d = TRY(walk(at, path, (flags & kONofollow) == 0));
      if (d->inode()->is_symlink()) return Errno::eloop;
      if (d->inode()->is_dir()) return Errno::eisdir;
      // Another user's file in a sticky directory (fs.protected_regular, fs.protected_fifos).
      if (d->parent()) TRY(may_open_existing_in_sticky(creds_of(t), *d->parent()->inode(), *d->inode()));
    } else if (existing.error() == Errno::enoent) {
      TRY(pn.parent->want_write());
      TRY(may_create_in(creds_of(t), *pn.parent->inode()));
      u32 perm = mode & 07777 & ~t.process().fs->umask;
      auto inode = TRY(pn.parent->inode()->create(pn.name, abi::kSIfreg | perm, 0));
      set_new_owner(*inode, *pn.parent->inode(), creds_of(t));
      fsnotify_name(*pn.parent->inode(), pn.name, *inode, kInCreate);
      created = true;
      d = std::make_shared<Dentry>(pn.parent, pn.name, std::move(inode));
    } else {
      return existing.error();
    }
  } else {
    d = TRY(walk(at, path, (flags & kONofollow) == 0));
    if ((flags & kOPath) == 0 && d->inode()->is_symlink()) {
      return (flags & kODirectory) != 0 ? Errno::enotdir : Errno::eloop;
    }
  }
  return open_resolved(t, d, flags, created);
}

// The rest of an open once the path led to `d` (`created`: open made it just now).
Result<long> open_resolved(Thread& t, const std::shared_ptr<Dentry>& d, u32 flags, bool created) {
  const u32 acc = flags & kOAccMode;
  const auto& inode = d->inode();
  if ((flags & kODirectory) != 0 && !inode->is_dir()) return Errno::enotdir;
  std::shared_ptr<File> file;
  u32 fflags = (flags & ~(kOCreat | kOExcl | kONoctty | kOTrunc | kOCloexec)) | kOLargefile;
  if ((flags & kOPath) != 0) {
    fflags = kOPath | (flags & (kODirectory | kONofollow)) | kOLargefile;
    if (inode->is_regular() || inode->is_dir()) {
      file = std::make_shared<InodeFile>(d, fflags);
    } else {
      file = std::make_shared<DeviceFile>(d);
      file->set_status_flags(fflags);
    }
  } else {
    if (inode->is_dir() && acc != kORdOnly) return Errno::eisdir;
    if (acc == kOAccMode) return Errno::einval;
    // A device node on a nodev mount does not open (may_open_dev), whoever asks.
    const u32 type = inode->mode() & abi::kSIfmt;
    if ((type == abi::kSIfchr || type == abi::kSIfblk) && d->mount_has(mnt::kNodev)) return Errno::eacces;
    if (!created && !inode->is_symlink()) {
      u32 want = (acc != kOWrOnly ? kMayRead : 0u) | (acc != kORdOnly || (flags & kOTrunc) != 0 ? kMayWrite : 0u);
      TRY(inode_permission(creds_of(t), *inode, want));
    }
    // Writing a file (not a device node or FIFO) through a read-only mount (do_dentry_open).
    if ((acc != kORdOnly || (flags & kOTrunc) != 0) && inode->is_regular()) TRY(d->want_write());
    file = TRY(open_dentry(d, fflags));
    TRY(file->finish_open(t));
    if (inode->is_regular() || inode->is_dir()) fsnotify(*d, kInOpen);
    if ((flags & kOTrunc) != 0 && inode->is_regular() && acc != kORdOnly) {
      TRY(inode->truncate(0));
      fsnotify(*d, kInModify);
    }
  }
  int fd = TRY(t.process().fds->install(std::move(file), (flags & kOCloexec) != 0));
  return fd;
}

Result<long> sys_open(Thread& t, const SyscallArgs& a) { return do_open(t, kAtFdcwd, a[0], a.as_u32(1), a.as_u32(2)); }
Result<long> sys_openat(Thread& t, const SyscallArgs& a) {
  return do_open(t, a.as_int(0), a[1], a.as_u32(2), a.as_u32(3));
}
// openat2(dirfd, path, how, size): struct open_how { u64 flags, mode, resolve; }, extensible
// (a bigger struct's tail must be zero). Stricter than openat: unknown flags, a mode without
// O_CREAT/O_TMPFILE, or O_PATH with other flags are EINVAL rather than ignored.
Result<long> sys_openat2(Thread& t, const SyscallArgs& a) {
  constexpr u64 kHowSize = 24;
  constexpr u64 kValidFlags = kOAccMode | kOCreat | kOExcl | kONoctty | kOTrunc | kOAppend | kONonblock | kODsync |
                              020000 /* FASYNC */ | kODirect | kOLargefile | kODirectory | kONofollow | kONoatime |
                              kOCloexec | 04000000 /* __O_SYNC */ | kOPath | kOTmpfile;
  constexpr u64 kPathFlags = kODirectory | kONofollow | kOPath | kOCloexec;
  constexpr u64 kValidResolve =
      kResolveNoXdev | kResolveNoMagiclinks | kResolveNoSymlinks | kResolveBeneath | kResolveInRoot | kResolveCached;
  const u64 size = a[3];
  if (size < kHowSize) return Errno::einval;
  if (size > ostd::kPageSize) return Errno::e2big;
  struct OpenHow {
    u64 flags, mode, resolve;
    OSTD_POD(OpenHow, flags, mode, resolve);
  };
  OpenHow how = TRY(ostd::UserPtr<OpenHow>(a[2]).read(t.vm()));
  if (size > kHowSize) {
    std::vector<ostd::u8> tail(size - kHowSize);
    TRY(t.vm().read_bytes(a[2] + kHowSize, tail));
    if (std::any_of(tail.begin(), tail.end(), [](ostd::u8 b) { return b != 0; })) return Errno::e2big;
  }
  if ((how.flags & ~kValidFlags) != 0 || (how.resolve & ~kValidResolve) != 0) return Errno::einval;
  if ((how.resolve & kResolveBeneath) != 0 && (how.resolve & kResolveInRoot) != 0) return Errno::einval;
  constexpr u64 kTmpfileBit = kOTmpfile & ~kODirectory;  // __O_TMPFILE (O_TMPFILE has O_DIRECTORY too)
  const bool tmpfile = (how.flags & kTmpfileBit) != 0;
  const bool creates = (how.flags & kOCreat) != 0 || tmpfile;
  if (creates ? (how.mode & ~u64{07777}) != 0 : how.mode != 0) return Errno::einval;
  if ((how.flags & (kOCreat | kODirectory)) == (kOCreat | kODirectory)) return Errno::einval;
  if (tmpfile && ((how.flags & kOTmpfile) != kOTmpfile || (how.flags & kOAccMode) == kORdOnly)) {
    return Errno::einval;
  }
  if ((how.flags & kOPath) != 0 && (how.flags & ~kPathFlags) != 0) return Errno::einval;
  // RESOLVE_CACHED: lookups here never wait for a disk, but creating or truncating might.
  if ((how.resolve & kResolveCached) != 0 && ((how.flags & (kOTrunc | kOCreat)) != 0 || tmpfile)) {
    return Errno::eagain;
  }
  return do_open(t, a.as_int(0), a[1], static_cast<u32>(how.flags), static_cast<u32>(how.mode),
                 static_cast<u32>(how.resolve));
}

// ---- file handles ----

// struct file_handle's fixed part; f_handle[handle_bytes] follows.
struct FileHandleHeader {
  u32 handle_bytes;
  ostd::i32 handle_type;
  OSTD_POD(FileHandleHeader, handle_bytes, handle_type);
};
constexpr u32 kMaxHandleSize = 128;
constexpr ostd::i32 kFileidInvalid = 255, kFileidIsConnectable = 0x10000, kFileidIsDir = 0x20000;

// name_to_handle_at(dirfd, path, handle, mount_id, flags).
Result<long> sys_name_to_handle_at(Thread& t, const SyscallArgs& a) {
  constexpr u32 kMntIdUnique = 0x1, kConnectable = 0x2, kFid = 0x200;
  const int dirfd = a.as_int(0);
  const Vaddr handle = a[2], mount_id = a[3];
  const u32 flags = a.as_u32(4);
  if ((flags & ~(kAtSymlinkFollow | kAtEmptyPath | kMntIdUnique | kConnectable | kFid)) != 0) return Errno::einval;
  std::string path = TRY(read_path(t, a[1]));
  std::shared_ptr<Inode> inode;
  if (path.empty()) {
    if ((flags & kAtEmptyPath) == 0) return Errno::enoent;
    if (dirfd == kAtFdcwd) {
      inode = t.process().fs->cwd()->inode();
    } else {
      auto f = TRY(get_file(t, dirfd));
      auto d = f->dentry();
      if (!d) return Errno::eopnotsupp;  // a pipe, a socket: no file system to name it
      inode = d->inode();
    }
  } else {
    inode = TRY(lookup_path(t, dirfd, path, (flags & kAtSymlinkFollow) != 0))->inode();
  }
  auto fs = filesystem_of_dev(*t.process().fs, inode->dev());
  if (!fs || (flags & kConnectable) != 0) return Errno::eopnotsupp;
  auto [type, bytes] = TRY(fs->encode_handle(*inode));
  FileHandleHeader h = TRY(ostd::UserPtr<FileHandleHeader>(handle).read(t.vm()));
  if (h.handle_bytes > kMaxHandleSize) return Errno::einval;
  const bool fits = (h.handle_bytes & ~3u) >= bytes.size();
  const u32 id = mount_id_of_dev(*t.process().fs, inode->dev());
  if ((flags & kMntIdUnique) != 0) {
    TRY(ostd::UserPtr<u64>(mount_id).write(t.vm(), id));
  } else {
    TRY(ostd::UserPtr<ostd::i32>(mount_id).write(t.vm(), static_cast<ostd::i32>(id)));
  }
  TRY(ostd::UserPtr<FileHandleHeader>(handle).write(
      t.vm(), FileHandleHeader{static_cast<u32>(bytes.size()), fits ? type : kFileidInvalid}));
  if (!fits) return Errno::eoverflow;
  TRY(t.vm().write_bytes(handle + sizeof(FileHandleHeader), bytes));
  return 0;
}

// The dentry of `inode` under `top` (a mount's root), for /proc/PID/fd to name a file opened by
// its handle; a nameless one when no path leads there any more (unlinked, still open).
std::shared_ptr<Dentry> dentry_of(const std::shared_ptr<Dentry>& top, const std::shared_ptr<Inode>& inode) {
  if (top->inode() == inode) return top;
  std::vector<std::shared_ptr<Dentry>> todo{top};
  for (usize seen = 0; !todo.empty() && seen < 100000; ++seen) {
    auto d = todo.back();
    todo.pop_back();
    auto entries = d->inode()->list();
    if (entries.is_error()) continue;
    for (const DirEntry& e : entries.value()) {
      if (e.name == "." || e.name == "..") continue;
      auto child = d->inode()->lookup(e.name);
      if (child.is_error() || child.value()->dev() != top->inode()->dev()) continue;
      auto cd = std::make_shared<Dentry>(d, e.name, child.value());
      if (child.value() == inode) return cd;
      if (child.value()->is_dir()) todo.push_back(cd);
    }
  }
  return std::make_shared<Dentry>(top, "", inode);
}

// open_by_handle_at(mount_fd, handle, flags): needs CAP_DAC_READ_SEARCH.
Result<long> sys_open_by_handle_at(Thread& t, const SyscallArgs& a) {
  const int mount_fd = a.as_int(0);
  const Vaddr handle = a[1];
  const u32 flags = a.as_u32(2);
  FileHandleHeader h = TRY(ostd::UserPtr<FileHandleHeader>(handle).read(t.vm()));
  if (h.handle_bytes == 0 || h.handle_bytes > kMaxHandleSize) return Errno::einval;
  if (h.handle_type < 0 || (h.handle_type & ~0xffff & ~(kFileidIsConnectable | kFileidIsDir)) != 0) {
    return Errno::einval;
  }
  std::shared_ptr<Dentry> where;
  if (mount_fd == kAtFdcwd) {
    where = t.process().fs->cwd();
  } else {
    auto f = TRY(get_file(t, mount_fd));
    if (f->is_opath()) return Errno::ebadf;
    where = f->dentry();
    if (!where) return Errno::ebadf;
  }
  if (!creds_of(t).capable(cap::kDacReadSearch)) return Errno::eperm;
  std::vector<ostd::u8> bytes(h.handle_bytes);
  TRY(t.vm().read_bytes(handle + sizeof(FileHandleHeader), bytes));
  auto fs = filesystem_of_dev(*t.process().fs, where->inode()->dev());
  if (!fs) return Errno::estale;
  auto inode = TRY(fs->decode_handle(h.handle_type & 0xffff, bytes));
  if ((h.handle_type & kFileidIsDir) != 0 && !inode->is_dir()) return Errno::estale;
  // Its name: looked for under mount_fd's directory first (usually near), then the whole mount.
  std::shared_ptr<Dentry> top = where;
  while (top->parent() && top->parent()->inode()->dev() == top->inode()->dev()) top = top->parent();
  auto d = where->inode()->is_dir() ? dentry_of(where, inode) : nullptr;
  if ((!d || d->name().empty()) && top != where) d = dentry_of(top, inode);
  if ((flags & kOPath) == 0 && inode->is_symlink()) return Errno::eloop;
  return open_resolved(t, d, flags & ~(kOCreat | kOExcl), false);
}

// pivot_root(new_root, put_old): CAP_SYS_ADMIN, both paths directories, then Linux's checks.
// Every root here is the initramfs's rootfs, which has no parent mount, so the call ends in
// EINVAL as it does on Linux booted without switch_root (or EBUSY for a path on the root's own
// mount).
Result<long> sys_pivot_root(Thread& t, const SyscallArgs& a) {
  if (!creds_of(t).capable(cap::kSysAdmin)) return Errno::eperm;
  auto dir_at = [&](Vaddr addr) -> Result<std::shared_ptr<Dentry>> {
    std::string path = TRY(read_path(t, addr));
    auto d = TRY(lookup_path(t, kAtFdcwd, path, true));
    if (!d->inode()->is_dir()) return Errno::enotdir;
    return d;
  };
  auto new_root = TRY(dir_at(a[0]));
  auto put_old = TRY(dir_at(a[1]));
  TRY(pivot_root_check(*t.process().fs, new_root, put_old));
  return 0;
}

Result<long> sys_creat(Thread& t, const SyscallArgs& a) {
  return do_open(t, kAtFdcwd, a[0], kOCreat | kOWrOnly | kOTrunc, a.as_u32(1));
}

Result<long> sys_close(Thread& t, const SyscallArgs& a) {
  TRY(t.process().fds->close(a.as_int(0), &t.process()));
  return 0;
}

Result<long> sys_close_range(Thread& t, const SyscallArgs& a) {
  constexpr u32 kUnshare = 2, kCloexec = 4;
  u32 first = a.as_u32(0), last = a.as_u32(1), flags = a.as_u32(2);
  if ((flags & ~(kUnshare | kCloexec)) != 0 || first > last) return Errno::einval;
  int lo = static_cast<int>(std::min<u32>(first, std::numeric_limits<int>::max()));
  int hi = static_cast<int>(std::min<u32>(last, std::numeric_limits<int>::max()));
  if ((flags & kUnshare) != 0) t.process().fds = t.process().fds->clone();
  t.process().fds->close_range(lo, hi, (flags & kCloexec) != 0, &t.process());
  return 0;
}

Result<long> sys_dup(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  return TRY(t.process().fds->install(std::move(f), false));
}

Result<long> sys_dup2(Thread& t, const SyscallArgs& a) {
  int oldfd = a.as_int(0), newfd = a.as_int(1);
  auto f = TRY(get_file(t, oldfd));
  if (oldfd == newfd) return newfd;
  if (newfd < 0 || newfd >= t.process().fds->limit()) return Errno::ebadf;
  return TRY(t.process().fds->install_at(newfd, std::move(f), false, &t.process()));
}

Result<long> sys_dup3(Thread& t, const SyscallArgs& a) {
  int oldfd = a.as_int(0), newfd = a.as_int(1);
  u32 flags = a.as_u32(2);
  if ((flags & ~kOCloexec) != 0) return Errno::einval;
  if (oldfd == newfd) return Errno::einval;
  auto f = TRY(get_file(t, oldfd));
  if (newfd < 0 || newfd >= t.process().fds->limit()) return Errno::ebadf;
  return TRY(t.process().fds->install_at(newfd, std::move(f), (flags & kOCloexec) != 0, &t.process()));
}

// Advisory record locks (fcntl F_SETLK/F_GETLK) and flock: per inode, per owner process.
struct Flock {
  ostd::i16 l_type;
  ostd::i16 l_whence;
  ostd::i32 pad0;
  ostd::i64 l_start;
  ostd::i64 l_len;
  ostd::i32 l_pid;
  ostd::i32 pad1;
  OSTD_POD(Flock, l_type, l_whence, pad0, l_start, l_len, l_pid, pad1);
};
static_assert(sizeof(Flock) == 32);
constexpr ostd::i16 kFRdlck = 0, kFWrlck = 1, kFUnlck = 2;

struct RecordLock {
  u64 dev, ino;
  ostd::i32 pid;
  bool write;
  u64 start, end;  // [start, end)
};

struct LockTable {
  std::vector<RecordLock> locks;
  ostd::WaitQueue changed;
};
LockTable& lock_table() {
  static LockTable lt;
  return lt;
}

const RecordLock* find_conflict(u64 dev, u64 ino, ostd::i32 pid, bool write, u64 start, u64 end) {
  for (const auto& l : lock_table().locks) {
    if (l.dev != dev || l.ino != ino || l.pid == pid) continue;
    if (!write && !l.write) continue;
    if (l.start < end && start < l.end) return &l;
  }
  return nullptr;
}

void remove_range(u64 dev, u64 ino, ostd::i32 pid, u64 start, u64 end) {
  auto& locks = lock_table().locks;
  std::vector<RecordLock> keep;
  for (const auto& l : locks) {
    if (l.dev != dev || l.ino != ino || l.pid != pid || l.end <= start || end <= l.start) {
      keep.push_back(l);
      continue;
    }
    if (l.start < start) keep.push_back(RecordLock{l.dev, l.ino, l.pid, l.write, l.start, start});
    if (end < l.end) keep.push_back(RecordLock{l.dev, l.ino, l.pid, l.write, end, l.end});
  }
  locks = std::move(keep);
}

Result<long> do_record_lock(Thread& t, File& f, int cmd, Vaddr arg) {
  constexpr int kGetlk = 5, kSetlkw = 7;
  Flock fl = TRY(ostd::UserPtr<Flock>(arg).read(t.vm()));
  auto d = f.dentry();
  if (!d) return Errno::einval;
  ostd::i64 base = 0;
  if (fl.l_whence == 1) {
    base = TRY(f.seek(0, 1));
  } else if (fl.l_whence == 2) {
    base = static_cast<ostd::i64>(d->inode()->size());
  } else if (fl.l_whence != 0) {
    return Errno::einval;
  }
  // As Linux (flock64_to_posix_lock): EOVERFLOW past the largest offset, EINVAL before 0; a
  // negative length covers the bytes before l_start. [s, e) with e = max meaning "to the end".
  constexpr ostd::i64 kMaxOffset = std::numeric_limits<ostd::i64>::max();
  if (fl.l_start > kMaxOffset - base) return Errno::eoverflow;
  ostd::i64 s = base + fl.l_start;
  if (s < 0) return Errno::einval;
  ostd::i64 e = kMaxOffset;
  if (fl.l_len > 0) {
    if (fl.l_len - 1 > kMaxOffset - s) return Errno::eoverflow;
    e = fl.l_len > kMaxOffset - s ? kMaxOffset : s + fl.l_len;
  } else if (fl.l_len < 0) {
    e = s;
    s += fl.l_len;  // s >= 0 and l_len < 0: no overflow
    if (s < 0) return Errno::einval;
  }
  u64 start = static_cast<u64>(s), end = static_cast<u64>(e);
  u64 dev = d->inode()->dev(), ino = d->inode()->ino();
  ostd::i32 pid = t.process().pid();
  if (fl.l_type != kFRdlck && fl.l_type != kFWrlck && fl.l_type != kFUnlck) return Errno::einval;
  if (cmd == kGetlk) {
    const RecordLock* c = find_conflict(dev, ino, pid, fl.l_type == kFWrlck, start, end);
    if (c == nullptr) {
      fl.l_type = kFUnlck;
    } else {
      fl.l_type = c->write ? kFWrlck : kFRdlck;
      fl.l_whence = 0;
      fl.l_start = static_cast<ostd::i64>(c->start);
      fl.l_len = c->end == static_cast<u64>(std::numeric_limits<ostd::i64>::max())
                     ? 0
                     : static_cast<ostd::i64>(c->end - c->start);
      fl.l_pid = c->pid;
    }
    TRY(ostd::UserPtr<Flock>(arg).write(t.vm(), fl));
    return 0;
  }
  if (fl.l_type == kFUnlck) {
    remove_range(dev, ino, pid, start, end);
    lock_table().changed.wake_all();
    return 0;
  }
  if (fl.l_type == kFRdlck && !f.readable()) return Errno::ebadf;
  if (fl.l_type == kFWrlck && !f.writable()) return Errno::ebadf;
  bool write = fl.l_type == kFWrlck;
  while (find_conflict(dev, ino, pid, write, start, end) != nullptr) {
    if (cmd != kSetlkw) return Errno::eagain;
    TRY(t.wait_interruptible(lock_table().changed,
                             [&] { return find_conflict(dev, ino, pid, write, start, end) == nullptr; }));
  }
  remove_range(dev, ino, pid, start, end);
  lock_table().locks.push_back(RecordLock{dev, ino, pid, write, start, end});
  return 0;
}

}  // namespace

/// Drops the record locks of a process (on exit).
void release_record_locks(ostd::i32 pid) {
  auto& locks = lock_table().locks;
  auto n = locks.size();
  std::erase_if(locks, [&](const RecordLock& l) { return l.pid == pid; });
  if (locks.size() != n) lock_table().changed.wake_all();
}

namespace {

Result<long> sys_fcntl(Thread& t, const SyscallArgs& a) {
  constexpr int kDupfd = 0, kGetfd = 1, kSetfd = 2, kGetfl = 3, kSetfl = 4, kGetlk = 5, kSetlk = 6, kSetlkw = 7,
                kSetown = 8, kGetown = 9, kSetsig = 10, kGetsig = 11, kOfdGetlk = 36, kOfdSetlk = 37, kOfdSetlkw = 38,
                kDupfdCloexec = 1030, kSetpipeSz = 1031, kGetpipeSz = 1032, kAddSeals = 1033, kGetSeals = 1034;
  int fd = a.as_int(0);
  int cmd = a.as_int(1);
  auto f = TRY(get_file(t, fd));
  auto& fds = *t.process().fds;
  switch (cmd) {
    case kDupfd:
    case kDupfdCloexec: {
      int min = a.as_int(2);
      if (min < 0 || min >= fds.limit()) return Errno::einval;
      return TRY(fds.install(std::move(f), cmd == kDupfdCloexec, min));
    }
    case kGetfd: return TRY(fds.cloexec(fd)) ? 1 : 0;
    case kSetfd: TRY(fds.set_cloexec(fd, (a[2] & 1) != 0)); return 0;
    case kGetfl: return static_cast<long>(f->status_flags());
    case kSetfl: {
      if (f->is_opath()) return Errno::ebadf;
      constexpr u32 kChangeable = kOAppend | kONonblock | kODirect | kONoatime | 020000 /* O_ASYNC */;
      u32 nf = (f->status_flags() & ~kChangeable) | (a.as_u32(2) & kChangeable);
      f->set_status_flags(nf);
      return 0;
    }
    case kGetlk:
    case kSetlk:
    case kSetlkw:
      if (f->is_opath()) return Errno::ebadf;
      return do_record_lock(t, *f, cmd, a[2]);
    case kOfdGetlk:
    case kOfdSetlk:
    case kOfdSetlkw:
      if (f->is_opath()) return Errno::ebadf;
      return do_record_lock(t, *f, cmd - kOfdGetlk + kGetlk, a[2]);
    case kSetown:
    case kSetsig:
    case kGetown:
    case kGetsig: return 0;  // no SIGIO delivery: owner and signal read back as 0
    case kGetpipeSz:
    case kSetpipeSz: {
      auto st = TRY(f->stat());
      if ((st.st_mode & abi::kSIfmt) != abi::kSIfifo) return Errno::ebadf;
      return static_cast<long>(kPipeCapacity);
    }
    case kAddSeals:
    case kGetSeals: return file_seals_fcntl(t, *f, cmd == kAddSeals, a.as_u32(2));
    default: return Errno::einval;
  }
}

// flock(2) locks: whole-file, owned by the open file description (shared by dup and fork),
// released by LOCK_UN or when the description's last descriptor closes.
struct FlockEntry {
  u64 dev, ino;
  const File* owner;  // identity only, never dereferenced
  bool exclusive;
};
struct FlockTable {
  std::vector<FlockEntry> locks;
  ostd::WaitQueue changed;
};
FlockTable& flock_table() {
  static FlockTable t;
  return t;
}

bool flock_conflicts(u64 dev, u64 ino, const File* owner, bool exclusive) {
  for (const auto& l : flock_table().locks) {
    if (l.dev == dev && l.ino == ino && l.owner != owner && (exclusive || l.exclusive)) return true;
  }
  return false;
}

void flock_remove(u64 dev, u64 ino, const File* owner) {
  auto& locks = flock_table().locks;
  auto n = locks.size();
  std::erase_if(locks, [&](const FlockEntry& l) { return l.dev == dev && l.ino == ino && l.owner == owner; });
  if (locks.size() != n) flock_table().changed.wake_all();
}

Result<long> sys_flock(Thread& t, const SyscallArgs& a) {
  constexpr u32 kLockSh = 1, kLockEx = 2, kLockNb = 4, kLockUn = 8;
  auto f = TRY(get_file(t, a.as_int(0)));
  u32 op = a.as_u32(1) & ~kLockNb;
  bool nonblock = (a.as_u32(1) & kLockNb) != 0;
  if (op != kLockSh && op != kLockEx && op != kLockUn) return Errno::einval;
  if (f->is_opath()) return Errno::ebadf;
  auto d = f->dentry();
  if (!d) return 0;  // pipes and anonymous files: nothing to lock against
  u64 dev = d->inode()->dev(), ino = d->inode()->ino();
  const File* owner = f.get();
  if (op == kLockUn) {
    flock_remove(dev, ino, owner);
    return 0;
  }
  bool exclusive = op == kLockEx;
  // Converting a lock drops the old one first (as Linux does, so it is not atomic).
  flock_remove(dev, ino, owner);
  while (flock_conflicts(dev, ino, owner, exclusive)) {
    if (nonblock) return Errno::eagain;  // EWOULDBLOCK
    TRY(t.wait_interruptible(flock_table().changed, [&] { return !flock_conflicts(dev, ino, owner, exclusive); }));
  }
  flock_table().locks.push_back(FlockEntry{dev, ino, owner, exclusive});
  return 0;
}

Result<long> sys_ioctl(Thread& t, const SyscallArgs& a) {
  constexpr u32 kFioclex = 0x5451, kFionclex = 0x5450, kFionbio = 0x5421, kFioasync = 0x5452;
  int fd = a.as_int(0);
  auto f = TRY(get_file(t, fd));
  if (f->is_opath()) return Errno::ebadf;
  u32 cmd = a.as_u32(1);
  switch (cmd) {
    case kFioclex: TRY(t.process().fds->set_cloexec(fd, true)); return 0;
    case kFionclex: TRY(t.process().fds->set_cloexec(fd, false)); return 0;
    case kFioasync: return 0;
    default: break;
  }
  auto r = f->ioctl(t, cmd, a[2]);
  if (r.is_error() && r.error() == Errno::enotty && cmd == kFionbio) {
    int on = TRY(ostd::UserPtr<int>(a[2]).read(t.vm()));
    f->set_status_flags(on != 0 ? (f->status_flags() | kONonblock) : (f->status_flags() & ~kONonblock));
    return 0;
  }
  return r;
}

Result<long> do_pipe(Thread& t, Vaddr fds_addr, u32 flags) {
  if ((flags & ~(kOCloexec | kONonblock | kODirect)) != 0) return Errno::einval;
  auto [r, w] = make_pipe(flags);
  auto& fds = *t.process().fds;
  bool cloexec = (flags & kOCloexec) != 0;
  int rfd = TRY(fds.install(r, cloexec));
  auto wfd = fds.install(w, cloexec);
  if (wfd.is_error()) {
    (void)fds.close(rfd);
    return wfd.error();
  }
  std::array<int, 2> pair{rfd, wfd.value()};
  auto wr = t.vm().write_bytes(fds_addr, ostd::bytes_of(pair));
  if (wr.is_error()) {
    (void)fds.close(rfd);
    (void)fds.close(wfd.value());
    return Errno::efault;
  }
  return 0;
}

Result<long> sys_pipe(Thread& t, const SyscallArgs& a) { return do_pipe(t, a[0], 0); }
Result<long> sys_pipe2(Thread& t, const SyscallArgs& a) { return do_pipe(t, a[0], a.as_u32(1)); }

// ---- stat ----

// Resolves (dirfd, path, flags) for the *at calls that accept AT_EMPTY_PATH.
Result<std::shared_ptr<Dentry>> resolve_at(Thread& t, int dirfd, const std::string& path, u32 flags) {
  if (path.empty()) {
    if ((flags & kAtEmptyPath) == 0) return Errno::enoent;
    if (dirfd == kAtFdcwd) return t.process().fs->cwd();
    auto f = TRY(get_file(t, dirfd));
    auto d = f->dentry();
    if (!d) return Errno::ebadf;  // caller handles files without a dentry via fstat
    return d;
  }
  return lookup_path(t, dirfd, path, (flags & kAtSymlinkNofollow) == 0);
}

Result<abi::Stat> stat_at(Thread& t, int dirfd, Vaddr path_addr, u32 flags) {
  if ((flags & ~(kAtSymlinkNofollow | kAtEmptyPath | kAtNoAutomount | kAtStatxSyncMask)) != 0) {
    return Errno::einval;
  }
  std::string path = TRY(read_path(t, path_addr));
  if (path.empty() && (flags & kAtEmptyPath) != 0 && dirfd != kAtFdcwd) {
    auto f = TRY(get_file(t, dirfd));
    return f->stat();
  }
  auto d = TRY(resolve_at(t, dirfd, path, flags));
  d->inode()->revalidate();
  return d->inode()->stat();
}

Result<long> sys_stat(Thread& t, const SyscallArgs& a) {
  auto st = TRY(stat_at(t, kAtFdcwd, a[0], 0));
  TRY(ostd::UserPtr<abi::Stat>(a[1]).write(t.vm(), st));
  return 0;
}
Result<long> sys_lstat(Thread& t, const SyscallArgs& a) {
  auto st = TRY(stat_at(t, kAtFdcwd, a[0], kAtSymlinkNofollow));
  TRY(ostd::UserPtr<abi::Stat>(a[1]).write(t.vm(), st));
  return 0;
}
Result<long> sys_fstat(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  auto st = TRY(f->stat());
  TRY(ostd::UserPtr<abi::Stat>(a[1]).write(t.vm(), st));
  return 0;
}
Result<long> sys_newfstatat(Thread& t, const SyscallArgs& a) {
  auto st = TRY(stat_at(t, a.as_int(0), a[1], a.as_u32(3)));
  TRY(ostd::UserPtr<abi::Stat>(a[2]).write(t.vm(), st));
  return 0;
}

Result<long> sys_statx(Thread& t, const SyscallArgs& a) {
  u32 mask = a.as_u32(3);
  constexpr u32 kStatxReserved = 0x80000000u;
  if ((mask & kStatxReserved) != 0) return Errno::einval;
  if ((a.as_u32(2) & kAtStatxSyncMask) == kAtStatxSyncMask) return Errno::einval;
  auto st = TRY(stat_at(t, a.as_int(0), a[1], a.as_u32(2)));
  std::array<ostd::u8, 256> buf{};
  auto put = [&](usize at, u64 v, usize n) {
    for (usize k = 0; k < n; ++k) buf.at(at + k) = static_cast<ostd::u8>(v >> (8 * k));
  };
  constexpr u32 kStatxBasicStats = 0x7ff, kStatxMntId = 0x1000;
  put(0, kStatxBasicStats | kStatxMntId, 4);
  put(144, mount_id_of_dev(*t.process().fs, st.st_dev), 8);
  put(4, static_cast<u64>(st.st_blksize), 4);
  put(16, st.st_nlink, 4);
  put(20, st.st_uid, 4);
  put(24, st.st_gid, 4);
  put(28, st.st_mode, 2);
  put(32, st.st_ino, 8);
  put(40, static_cast<u64>(st.st_size), 8);
  put(48, static_cast<u64>(st.st_blocks), 8);
  auto ts = [&](usize at, const abi::Timespec& v) {
    put(at, static_cast<u64>(v.tv_sec), 8);
    put(at + 8, static_cast<u64>(v.tv_nsec), 4);
  };
  ts(64, st.st_atim);
  ts(96, st.st_ctim);
  ts(112, st.st_mtim);
  put(128, dev_major(st.st_rdev), 4);
  put(132, dev_minor(st.st_rdev), 4);
  put(136, dev_major(st.st_dev), 4);
  put(140, dev_minor(st.st_dev), 4);
  TRY(t.vm().write_bytes(a[4], buf));
  return 0;
}

Result<long> sys_getdents64(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  if (f->is_opath()) return Errno::ebadf;
  usize count = std::min<u64>(a.as_u32(2), kMaxRw);
  auto w = ostd::VmWriter::from_user(t.vm(), a[1], count);
  return static_cast<long>(TRY(f->getdents(t, w)));
}

// The old getdents: struct linux_dirent records, converted in place from linux_dirent64 ones
// (both take ALIGN(20 + name length, 8) bytes: the old record has its name one byte earlier and
// its type in its last byte).
Result<long> sys_getdents(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  if (f->is_opath()) return Errno::ebadf;
  std::vector<ostd::u8> buf(std::min<usize>(a.as_u32(2), 65536));
  auto w = ostd::VmWriter::from_kernel(buf);
  const usize n = TRY(f->getdents(t, w));
  for (usize p = 0; p + 19 <= n;) {
    const usize reclen = usize{buf.at(p + 16)} | (usize{buf.at(p + 17)} << 8);
    if (reclen < 20 || p + reclen > n) break;
    const ostd::u8 type = buf.at(p + 18);
    usize k = p + 19;
    for (; k < p + reclen && buf.at(k) != 0; ++k) buf.at(k - 1) = buf.at(k);
    std::fill(buf.begin() + static_cast<std::ptrdiff_t>(k - 1), buf.begin() + static_cast<std::ptrdiff_t>(p + reclen),
              0);
    buf.at(p + reclen - 1) = type;
    p += reclen;
  }
  TRY(t.vm().write_bytes(a[1], std::span<const ostd::u8>(buf).first(n)));
  return static_cast<long>(n);
}

// ---- directories and names ----

Result<long> do_mknod(Thread& t, int dirfd, Vaddr path_addr, u32 mode, u64 dev) {
  std::string path = TRY(read_path(t, path_addr));
  u32 type = mode & abi::kSIfmt;
  if (type == 0) type = abi::kSIfreg;
  if (type == abi::kSIfdir) return Errno::eperm;
  if (type != abi::kSIfreg && type != abi::kSIfchr && type != abi::kSIfblk && type != abi::kSIfifo &&
      type != abi::kSIfsock) {
    return Errno::einval;
  }
  auto start = TRY(dirfd_start(t, dirfd, path));
  auto pn = TRY(walk_parent(lookup_at(t, start), path));
  if (pn.name == "." || pn.name == ".." || pn.trailing_slash) return Errno::eexist;
  if (pn.parent->inode()->lookup(pn.name).is_ok()) return Errno::eexist;
  TRY(pn.parent->want_write());
  if ((type == abi::kSIfchr || type == abi::kSIfblk) && !creds_of(t).capable(cap::kMknod)) return Errno::eperm;
  TRY(may_create_in(creds_of(t), *pn.parent->inode()));
  u32 perm = mode & 07777 & ~t.process().fs->umask;
  auto inode = TRY(pn.parent->inode()->create(pn.name, type | perm, dev));
  set_new_owner(*inode, *pn.parent->inode(), creds_of(t));
  fsnotify_name(*pn.parent->inode(), pn.name, *inode, kInCreate);
  return 0;
}

Result<long> sys_mknod(Thread& t, const SyscallArgs& a) {
  return do_mknod(t, kAtFdcwd, a[0], a.as_u32(1), a.as_u32(2));
}
Result<long> sys_mknodat(Thread& t, const SyscallArgs& a) {
  return do_mknod(t, a.as_int(0), a[1], a.as_u32(2), a.as_u32(3));
}

Result<long> do_mkdir(Thread& t, int dirfd, Vaddr path_addr, u32 mode) {
  std::string path = TRY(read_path(t, path_addr));
  auto start = TRY(dirfd_start(t, dirfd, path));
  auto pn = TRY(walk_parent(lookup_at(t, start), path));
  if (pn.name == "." || pn.name == "..") return Errno::eexist;
  if (pn.parent->inode()->lookup(pn.name).is_ok()) return Errno::eexist;
  TRY(pn.parent->want_write());
  TRY(may_create_in(creds_of(t), *pn.parent->inode()));
  u32 perm = mode & 01777 & ~t.process().fs->umask;
  auto inode = TRY(pn.parent->inode()->create(pn.name, abi::kSIfdir | perm, 0));
  set_new_owner(*inode, *pn.parent->inode(), creds_of(t));
  fsnotify_name(*pn.parent->inode(), pn.name, *inode, kInCreate);
  return 0;
}
Result<long> sys_mkdir(Thread& t, const SyscallArgs& a) { return do_mkdir(t, kAtFdcwd, a[0], a.as_u32(1)); }
Result<long> sys_mkdirat(Thread& t, const SyscallArgs& a) { return do_mkdir(t, a.as_int(0), a[1], a.as_u32(2)); }

// Whether the dentry is a mount point or the root of a mount (EBUSY for rmdir/rename).
bool is_mount_root(const FsContext& fs, const std::shared_ptr<Dentry>& parent, const std::string& name) {
  auto raw = parent->inode()->lookup(name);
  if (raw.is_error()) return false;
  auto d = std::make_shared<Dentry>(parent, name, raw.value());
  std::string p = d->path_from(*fs.root()).value_or(d->path());
  for (const auto& m : mounts(fs)) {
    if (m.target == p && m.target != "/") return true;
  }
  return false;
}

Result<long> do_rmdir(Thread& t, int dirfd, const std::string& path) {
  auto start = TRY(dirfd_start(t, dirfd, path));
  auto pn = TRY(walk_parent(lookup_at(t, start), path));
  if (pn.name == ".") return Errno::einval;
  if (pn.name == "..") return Errno::enotempty;
  TRY(pn.parent->want_write());
  if (is_mount_root(*t.process().fs, pn.parent, pn.name)) return Errno::ebusy;
  auto victim = TRY(pn.parent->inode()->lookup(pn.name));
  TRY(may_delete_from(creds_of(t), *pn.parent->inode(), *victim));
  TRY(pn.parent->inode()->rmdir(pn.name));
  fsnotify_unlinked(*victim);
  fsnotify_name(*pn.parent->inode(), pn.name, *victim, kInDelete);
  return 0;
}

Result<long> do_unlink(Thread& t, int dirfd, const std::string& path) {
  auto start = TRY(dirfd_start(t, dirfd, path));
  auto pn = TRY(walk_parent(lookup_at(t, start), path));
  if (pn.name == "." || pn.name == "..") return Errno::eisdir;
  TRY(pn.parent->want_write());
  if (pn.trailing_slash) {
    auto child = TRY(pn.parent->inode()->lookup(pn.name));
    return child->is_dir() ? Errno::eisdir : Errno::enotdir;
  }
  auto victim = TRY(pn.parent->inode()->lookup(pn.name));
  TRY(may_delete_from(creds_of(t), *pn.parent->inode(), *victim));
  TRY(pn.parent->inode()->unlink(pn.name));
  fsnotify_inode(*victim, kInAttrib);
  if (victim->nlink == 0) fsnotify_unlinked(*victim);
  fsnotify_name(*pn.parent->inode(), pn.name, *victim, kInDelete);
  return 0;
}

Result<long> sys_rmdir(Thread& t, const SyscallArgs& a) {
  std::string path = TRY(read_path(t, a[0]));
  return do_rmdir(t, kAtFdcwd, path);
}
Result<long> sys_unlink(Thread& t, const SyscallArgs& a) {
  std::string path = TRY(read_path(t, a[0]));
  return do_unlink(t, kAtFdcwd, path);
}
Result<long> sys_unlinkat(Thread& t, const SyscallArgs& a) {
  u32 flags = a.as_u32(2);
  if ((flags & ~kAtRemovedir) != 0) return Errno::einval;
  std::string path = TRY(read_path(t, a[1]));
  if ((flags & kAtRemovedir) != 0) return do_rmdir(t, a.as_int(0), path);
  return do_unlink(t, a.as_int(0), path);
}

Result<long> do_rename(Thread& t, int olddirfd, Vaddr oldp, int newdirfd, Vaddr newp, u32 flags) {
  constexpr u32 kNoreplace = 1, kExchange = 2, kWhiteout = 4;
  if ((flags & ~(kNoreplace | kExchange | kWhiteout)) != 0) return Errno::einval;
  if ((flags & kNoreplace) != 0 && (flags & kExchange) != 0) return Errno::einval;
  if ((flags & (kExchange | kWhiteout)) != 0) return Errno::einval;
  std::string oldpath = TRY(read_path(t, oldp));
  std::string newpath = TRY(read_path(t, newp));
  auto os = TRY(dirfd_start(t, olddirfd, oldpath));
  auto ns = TRY(dirfd_start(t, newdirfd, newpath));
  auto from = TRY(walk_parent(lookup_at(t, os), oldpath));
  auto to = TRY(walk_parent(lookup_at(t, ns), newpath));
  if (from.name == "." || from.name == ".." || to.name == "." || to.name == "..") return Errno::ebusy;
  // Between two mounts (two binds of one file system too) is EXDEV, as Linux's do_renameat2.
  if (from.parent->mount() != to.parent->mount()) return Errno::exdev;
  TRY(from.parent->want_write());
  auto src = TRY(from.parent->inode()->lookup(from.name));
  if ((from.trailing_slash || to.trailing_slash) && !src->is_dir()) return Errno::enotdir;
  if (from.parent->inode()->dev() != to.parent->inode()->dev()) return Errno::exdev;
  auto dst = to.parent->inode()->lookup(to.name);
  if (dst.is_ok()) {
    if ((flags & kNoreplace) != 0) return Errno::eexist;
    if (dst.value() == src) return 0;
    if (src->is_dir() && !dst.value()->is_dir()) return Errno::enotdir;
    if (!src->is_dir() && dst.value()->is_dir()) return Errno::eisdir;
  }
  const Credentials& c = creds_of(t);
  TRY(may_delete_from(c, *from.parent->inode(), *src));
  if (dst.is_ok()) {
    TRY(may_delete_from(c, *to.parent->inode(), *dst.value()));
  } else {
    TRY(may_create_in(c, *to.parent->inode()));
  }
  // A directory that changes parents rewrites its "..": it must be writable.
  if (src->is_dir() && from.parent->inode() != to.parent->inode()) TRY(inode_permission(c, *src, kMayWrite));
  if (is_mount_root(*t.process().fs, from.parent, from.name) ||
      (dst.is_ok() && is_mount_root(*t.process().fs, to.parent, to.name))) {
    return Errno::ebusy;
  }
  if (src->is_dir()) {
    // A directory cannot move below itself.
    for (auto d = to.parent; d; d = d->parent()) {
      if (d->inode() == src) return Errno::einval;
    }
  }
  TRY(from.parent->inode()->rename(from.name, *to.parent->inode(), to.name));
  const u32 cookie = fsnotify_cookie();
  fsnotify_name(*from.parent->inode(), from.name, *src, kInMovedFrom, cookie);
  fsnotify_name(*to.parent->inode(), to.name, *src, kInMovedTo, cookie);
  if (dst.is_ok()) fsnotify_inode(*dst.value(), kInAttrib);
  fsnotify_inode(*src, kInMoveSelf);
  if (dst.is_ok() && (dst.value()->is_dir() || dst.value()->nlink == 0)) fsnotify_unlinked(*dst.value());
  return 0;
}

Result<long> sys_rename(Thread& t, const SyscallArgs& a) { return do_rename(t, kAtFdcwd, a[0], kAtFdcwd, a[1], 0); }
Result<long> sys_renameat(Thread& t, const SyscallArgs& a) {
  return do_rename(t, a.as_int(0), a[1], a.as_int(2), a[3], 0);
}
Result<long> sys_renameat2(Thread& t, const SyscallArgs& a) {
  return do_rename(t, a.as_int(0), a[1], a.as_int(2), a[3], a.as_u32(4));
}

Result<long> do_link(Thread& t, int olddirfd, Vaddr oldp, int newdirfd, Vaddr newp, u32 flags) {
  if ((flags & ~(kAtSymlinkFollow | kAtEmptyPath)) != 0) return Errno::einval;
  std::string oldpath = TRY(read_path(t, oldp));
  std::string newpath = TRY(read_path(t, newp));
  std::shared_ptr<Dentry> src;
  if (oldpath.empty() && (flags & kAtEmptyPath) != 0) {
    src = TRY(resolve_at(t, olddirfd, oldpath, kAtEmptyPath));
  } else {
    src = TRY(lookup_path(t, olddirfd, oldpath, (flags & kAtSymlinkFollow) != 0));
  }
  if (src->inode()->is_dir()) return Errno::eperm;
  auto ns = TRY(dirfd_start(t, newdirfd, newpath));
  auto to = TRY(walk_parent(lookup_at(t, ns), newpath));
  if (to.name == "." || to.name == ".." || to.trailing_slash) return Errno::eexist;
  if (to.parent->inode()->lookup(to.name).is_ok()) return Errno::eexist;
  TRY(to.parent->want_write());  // filename_create's mnt_want_write comes before the EXDEV check
  if (to.parent->inode()->dev() != src->inode()->dev() || to.parent->mount() != src->mount()) return Errno::exdev;
  TRY(may_create_in(creds_of(t), *to.parent->inode()));
  TRY(may_link(creds_of(t), *src->inode()));
  TRY(to.parent->inode()->link(to.name, src->inode()));
  fsnotify_inode(*src->inode(), kInAttrib);
  fsnotify_name(*to.parent->inode(), to.name, *src->inode(), kInCreate);
  return 0;
}
Result<long> sys_link(Thread& t, const SyscallArgs& a) { return do_link(t, kAtFdcwd, a[0], kAtFdcwd, a[1], 0); }
Result<long> sys_linkat(Thread& t, const SyscallArgs& a) {
  return do_link(t, a.as_int(0), a[1], a.as_int(2), a[3], a.as_u32(4));
}

Result<long> do_symlink(Thread& t, Vaddr targetp, int newdirfd, Vaddr linkp) {
  std::string target = TRY(read_path(t, targetp));
  std::string linkpath = TRY(read_path(t, linkp));
  if (target.empty()) return Errno::enoent;
  auto ns = TRY(dirfd_start(t, newdirfd, linkpath));
  auto to = TRY(walk_parent(lookup_at(t, ns), linkpath));
  if (to.name == "." || to.name == ".." || to.trailing_slash) return Errno::eexist;
  if (to.parent->inode()->lookup(to.name).is_ok()) return Errno::eexist;
  TRY(to.parent->want_write());
  TRY(may_create_in(creds_of(t), *to.parent->inode()));
  auto inode = TRY(to.parent->inode()->symlink(to.name, target));
  set_new_owner(*inode, *to.parent->inode(), creds_of(t));
  fsnotify_name(*to.parent->inode(), to.name, *inode, kInCreate);
  return 0;
}
Result<long> sys_symlink(Thread& t, const SyscallArgs& a) { return do_symlink(t, a[0], kAtFdcwd, a[1]); }
Result<long> sys_symlinkat(Thread& t, const SyscallArgs& a) { return do_symlink(t, a[0], a.as_int(1), a[2]); }

Result<long> do_readlink(Thread& t, int dirfd, Vaddr pathp, Vaddr buf, int size) {
  std::string path = TRY(read_path(t, pathp));
  if (size <= 0) return Errno::einval;
  std::shared_ptr<Dentry> d;
  if (path.empty()) {
    d = TRY(resolve_at(t, dirfd, path, kAtEmptyPath));
  } else {
    d = TRY(lookup_path(t, dirfd, path, false));
  }
  if (!d->inode()->is_symlink()) return Errno::einval;
  std::string target = TRY(d->inode()->readlink(&t.process()));
  usize n = std::min<usize>(target.size(), static_cast<usize>(size));
  TRY(t.vm().write_bytes(buf, std::span<const ostd::u8>(ostd::bytes_of_string(target)).first(n)));
  return static_cast<long>(n);
}
Result<long> sys_readlink(Thread& t, const SyscallArgs& a) { return do_readlink(t, kAtFdcwd, a[0], a[1], a.as_int(2)); }
Result<long> sys_readlinkat(Thread& t, const SyscallArgs& a) {
  return do_readlink(t, a.as_int(0), a[1], a[2], a.as_int(3));
}

// ---- attributes ----

// chmod: the owner or CAP_FOWNER; the set-group-ID bit stays only for a member of the file's
// group or with CAP_FSETID.
Result<long> apply_chmod(Thread& t, Inode& inode, u32 mode) {
  const Credentials& c = creds_of(t);
  if (!owner_or_capable(c, inode)) return Errno::eperm;
  if (!c.in_group(inode.gid) && !c.capable(cap::kFsetid)) mode &= ~02000u;
  inode.set_permissions(mode);
  TRY(inode.attributes_changed());
  return 0;
}

Result<long> do_chmod(Thread& t, int dirfd, Vaddr pathp, u32 mode, u32 flags) {
  if ((flags & ~(kAtSymlinkNofollow | kAtEmptyPath)) != 0) return Errno::einval;
  std::string path = TRY(read_path(t, pathp));
  auto d = TRY(resolve_at(t, dirfd, path, flags));
  if (d->inode()->is_symlink()) return Errno::eopnotsupp;
  TRY(d->want_write());
  TRY(apply_chmod(t, *d->inode(), mode));
  fsnotify(*d, kInAttrib);
  return 0;
}
Result<long> sys_chmod(Thread& t, const SyscallArgs& a) { return do_chmod(t, kAtFdcwd, a[0], a.as_u32(1), 0); }
Result<long> sys_fchmodat(Thread& t, const SyscallArgs& a) { return do_chmod(t, a.as_int(0), a[1], a.as_u32(2), 0); }
Result<long> sys_fchmod(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  if (f->is_opath()) return Errno::ebadf;
  auto d = f->dentry();
  if (!d) return 0;
  TRY(d->want_write());
  TRY(apply_chmod(t, *d->inode(), a.as_u32(1)));
  fsnotify(*d, kInAttrib);
  return 0;
}

// chown: changing the owner needs CAP_CHOWN; the owner may change the group to one of its own.
// A non-directory loses its set-user-ID bit, and set-group-ID with group execute, as Linux's.
Result<long> apply_chown(Thread& t, Inode& inode, u32 uid, u32 gid) {
  const Credentials& c = creds_of(t);
  bool privileged = c.capable(cap::kChown);
  bool owner = c.fsuid == inode.uid;
  // chown_ok and chgrp_ok: even an unchanged id needs the ownership (or CAP_CHOWN).
  if (uid != 0xffffffffu && !privileged && !(owner && uid == inode.uid)) return Errno::eperm;
  if (gid != 0xffffffffu && !privileged && !(owner && (gid == inode.gid || c.in_group(gid)))) return Errno::eperm;
  if (uid != 0xffffffffu) inode.uid = uid;
  if (gid != 0xffffffffu) inode.gid = gid;
  if (!inode.is_dir() && !inode.is_symlink()) {
    u32 mode = inode.mode() & 07777;
    mode &= ~04000u;
    if ((mode & 02010) == 02010) mode &= ~02000u;
    inode.set_permissions(mode);
  }
  inode.touch_ctime();
  TRY(inode.attributes_changed());
  return 0;
}
Result<long> do_chown(Thread& t, int dirfd, Vaddr pathp, u32 uid, u32 gid, u32 flags) {
  if ((flags & ~(kAtSymlinkNofollow | kAtEmptyPath)) != 0) return Errno::einval;
  std::string path = TRY(read_path(t, pathp));
  auto d = TRY(resolve_at(t, dirfd, path, flags));
  TRY(d->want_write());
  TRY(apply_chown(t, *d->inode(), uid, gid));
  if (uid != 0xffffffffu || gid != 0xffffffffu) fsnotify(*d, kInAttrib);
  return 0;
}
Result<long> sys_chown(Thread& t, const SyscallArgs& a) {
  return do_chown(t, kAtFdcwd, a[0], a.as_u32(1), a.as_u32(2), 0);
}
Result<long> sys_lchown(Thread& t, const SyscallArgs& a) {
  return do_chown(t, kAtFdcwd, a[0], a.as_u32(1), a.as_u32(2), kAtSymlinkNofollow);
}
Result<long> sys_fchownat(Thread& t, const SyscallArgs& a) {
  return do_chown(t, a.as_int(0), a[1], a.as_u32(2), a.as_u32(3), a.as_u32(4));
}
Result<long> sys_fchown(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  if (f->is_opath()) return Errno::ebadf;
  if (auto d = f->dentry()) {
    TRY(d->want_write());
    TRY(apply_chown(t, *d->inode(), a.as_u32(1), a.as_u32(2)));
    if (a.as_u32(1) != 0xffffffffu || a.as_u32(2) != 0xffffffffu) fsnotify(*d, kInAttrib);
  }
  return 0;
}

Result<long> sys_truncate(Thread& t, const SyscallArgs& a) {
  std::string path = TRY(read_path(t, a[0]));
  auto len = static_cast<ostd::i64>(a[1]);
  if (len < 0) return Errno::einval;
  auto d = TRY(lookup_path(t, kAtFdcwd, path, true));
  if (d->inode()->is_dir()) return Errno::eisdir;
  if (!d->inode()->is_regular()) return Errno::einval;
  TRY(d->want_write());
  TRY(inode_permission(creds_of(t), *d->inode(), kMayWrite));
  TRY(d->inode()->truncate(static_cast<u64>(len)));
  fsnotify(*d, kInModify);
  return 0;
}
Result<long> sys_ftruncate(Thread& t, const SyscallArgs& a) {
  auto len = static_cast<ostd::i64>(a[1]);
  if (len < 0) return Errno::einval;
  auto f = TRY(get_file(t, a.as_int(0)));
  if (f->is_opath()) return Errno::ebadf;
  TRY(f->truncate(static_cast<u64>(len)));
  return 0;
}

Result<long> sys_fsync(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  if (f->is_opath()) return Errno::ebadf;
  if (auto d = f->dentry()) TRY(d->inode()->sync_file());
  return 0;
}
Result<long> sys_sync(Thread&, const SyscallArgs&) {
  sync_all_filesystems();
  return 0;
}
Result<long> sys_syncfs(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  if (auto d = f->dentry()) {
    if (auto fsys = filesystem_of_dev(*t.process().fs, d->inode()->dev())) TRY(fsys->sync());
  }
  return 0;
}
Result<long> sys_fadvise64(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  auto st = TRY(f->stat());
  if ((st.st_mode & abi::kSIfmt) == abi::kSIfifo) return Errno::espipe;
  if (a.as_u32(3) > 5) return Errno::einval;
  return 0;
}

// readahead: every file's pages are already in memory; what is checked is Linux's.
Result<long> sys_readahead(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  if (f->is_opath() || !f->readable()) return Errno::ebadf;
  auto st = TRY(f->stat());
  if ((st.st_mode & abi::kSIfmt) != abi::kSIfreg) return Errno::einval;
  return 0;
}

// sync_file_range: nothing to write back from memory; the arguments are checked as Linux does.
Result<long> sys_sync_file_range(Thread& t, const SyscallArgs& a) {
  const auto offset = static_cast<ostd::i64>(a[1]), nbytes = static_cast<ostd::i64>(a[2]);
  if ((a.as_u32(3) & ~7u) != 0 || offset < 0 || nbytes < 0) return Errno::einval;
  u64 end = 0;
  if (!ostd::checked_add<u64>(static_cast<u64>(offset), static_cast<u64>(nbytes), end) ||
      end > static_cast<u64>(std::numeric_limits<ostd::i64>::max())) {
    return Errno::einval;
  }
  auto f = TRY(get_file(t, a.as_int(0)));
  if (f->is_opath()) return Errno::ebadf;
  auto st = TRY(f->stat());
  const u32 type = st.st_mode & abi::kSIfmt;
  if (type != abi::kSIfreg && type != abi::kSIfblk && type != abi::kSIfdir && type != abi::kSIflnk) {
    return Errno::espipe;
  }
  return 0;
}

// fallocate: the modes Linux's tmpfs takes (allocate, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE). Memory
// is given to a file as it is written, so allocating changes only the size; a hole reads zeros.
Result<long> sys_fallocate(Thread& t, const SyscallArgs& a) {
  constexpr u32 kKeepSize = 1, kPunchHole = 2, kZeroRange = 0x10, kSupported = 0x7f;
  const u32 mode = a.as_u32(1);
  const auto offset = static_cast<ostd::i64>(a[2]), len = static_cast<ostd::i64>(a[3]);
  if (offset < 0 || len <= 0) return Errno::einval;
  if ((mode & ~kSupported) != 0) return Errno::eopnotsupp;
  if ((mode & (kPunchHole | kZeroRange)) == (kPunchHole | kZeroRange)) return Errno::eopnotsupp;
  if ((mode & kPunchHole) != 0 && (mode & kKeepSize) == 0) return Errno::eopnotsupp;
  auto f = TRY(get_file(t, a.as_int(0)));
  if (f->is_opath() || !f->writable()) return Errno::ebadf;
  auto st = TRY(f->stat());
  const u32 type = st.st_mode & abi::kSIfmt;
  if (type == abi::kSIfifo) return Errno::espipe;
  if (type == abi::kSIfdir) return Errno::eisdir;
  if (type != abi::kSIfreg && type != abi::kSIfblk) return Errno::enodev;
  u64 end = 0;
  if (!ostd::checked_add<u64>(static_cast<u64>(offset), static_cast<u64>(len), end) ||
      end > static_cast<u64>(std::numeric_limits<ostd::i64>::max())) {
    return Errno::efbig;
  }
  auto d = f->dentry();
  if (!d || type != abi::kSIfreg) return Errno::eopnotsupp;
  if ((mode & ~(kKeepSize | kPunchHole)) != 0) return Errno::eopnotsupp;  // tmpfs's modes
  Inode& inode = *d->inode();
  const u64 size = inode.size();
  if ((mode & kPunchHole) != 0) {
    const std::vector<ostd::u8> zeros(65536);
    for (u64 at = static_cast<u64>(offset); at < std::min(end, size);) {
      const usize n = std::min<u64>(zeros.size(), std::min(end, size) - at);
      auto r = ostd::VmReader::from_kernel(std::span<const ostd::u8>(zeros).first(n));
      at += TRY(inode.write_at(at, r));
    }
    inode.touch_mtime();
    fsnotify(*d, kInModify);
    return 0;
  }
  if ((mode & kKeepSize) == 0 && end > size) {
    TRY(inode.truncate(end));
    inode.touch_mtime();
  }
  fsnotify(*d, kInModify);
  return 0;
}

Result<long> do_access(Thread& t, int dirfd, Vaddr pathp, u32 mode, u32 flags) {
  constexpr u32 kXOk = 1;
  if ((mode & ~7u) != 0) return Errno::einval;
  if ((flags & ~(kAtSymlinkNofollow | kAtEaccess | kAtEmptyPath)) != 0) return Errno::einval;
  std::string path = TRY(read_path(t, pathp));
  // access(2) asks for the real ids (faccessat2's AT_EACCESS: the effective ones): the walk and
  // the check run with fsuid/fsgid set to them, and with root's capabilities only for a real
  // root (access_override_creds).
  Process& p = t.process();
  const Credentials saved = p.creds;
  if ((flags & kAtEaccess) == 0) {
    p.creds.fsuid = p.creds.uid;
    p.creds.fsgid = p.creds.gid;
    p.creds.cap_effective = p.creds.uid == 0 ? p.creds.cap_permitted : 0;
  }
  auto d = resolve_at(t, dirfd, path, flags);
  Result<void> ok = d.is_ok() ? Result<void>() : Result<void>(d.error());
  // X_OK of a regular file on a noexec mount is EACCES, whatever its mode says.
  if (ok.is_ok() && (mode & kXOk) != 0 && d.value()->inode()->is_regular() && d.value()->mount_has(mnt::kNoexec)) {
    ok = Errno::eacces;
  }
  if (ok.is_ok()) ok = inode_permission(p.creds, *d.value()->inode(), mode);
  p.creds = saved;
  TRY(ok);
  // "SuS v2 requires we report a read only fs too" (do_faccessat): not for device nodes or FIFOs.
  const auto& inode = *d.value()->inode();
  if ((mode & kMayWrite) != 0 && (inode.is_regular() || inode.is_dir() || inode.is_symlink())) {
    TRY(d.value()->want_write());
  }
  return 0;
}
Result<long> sys_access(Thread& t, const SyscallArgs& a) { return do_access(t, kAtFdcwd, a[0], a.as_u32(1), 0); }
Result<long> sys_faccessat(Thread& t, const SyscallArgs& a) { return do_access(t, a.as_int(0), a[1], a.as_u32(2), 0); }
Result<long> sys_faccessat2(Thread& t, const SyscallArgs& a) {
  return do_access(t, a.as_int(0), a[1], a.as_u32(2), a.as_u32(3));
}

// Setting a file's times to now needs its ownership, CAP_FOWNER or write permission (EACCES);
// setting them to given values its ownership or CAP_FOWNER (EPERM).
Result<void> may_set_times(Thread& t, const Inode& inode, bool explicit_times) {
  const Credentials& c = creds_of(t);
  if (owner_or_capable(c, inode)) return {};
  if (explicit_times) return Errno::eperm;
  return inode_permission(c, inode, kMayWrite);
}

Result<long> sys_utimensat(Thread& t, const SyscallArgs& a) {
  constexpr ostd::i64 kUtimeNow = (1 << 30) - 1, kUtimeOmit = (1 << 30) - 2;
  u32 flags = a.as_u32(3);
  if ((flags & ~(kAtSymlinkNofollow | kAtEmptyPath)) != 0) return Errno::einval;
  std::array<abi::Timespec, 2> times{};
  bool now = a[2] == 0;
  if (!now) {
    using Times = std::array<abi::Timespec, 2>;
    times = TRY(ostd::UserPtr<Times>(a[2]).read(t.vm()));
    for (const auto& ts : times) {
      if (ts.tv_nsec != kUtimeNow && ts.tv_nsec != kUtimeOmit && (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000)) {
        return Errno::einval;
      }
    }
  }
  std::shared_ptr<Dentry> d;
  if (a[1] == 0) {
    // futimens: the file itself.
    auto f = TRY(get_file(t, a.as_int(0)));
    d = f->dentry();
    if (!d) return 0;
  } else {
    std::string path = TRY(read_path(t, a[1]));
    d = TRY(resolve_at(t, a.as_int(0), path, flags));
  }
  const auto& inode = d->inode();
  bool omit_both = !now && times[0].tv_nsec == kUtimeOmit && times[1].tv_nsec == kUtimeOmit;
  if (omit_both) return 0;
  TRY(d->want_write());
  bool to_now = now || ((times[0].tv_nsec == kUtimeNow || times[0].tv_nsec == kUtimeOmit) &&
                        (times[1].tv_nsec == kUtimeNow || times[1].tv_nsec == kUtimeOmit));
  TRY(may_set_times(t, *inode, !to_now));
  abi::Timespec cur = now_timespec();
  if (now) {
    inode->atime = inode->mtime = cur;
  } else {
    if (times[0].tv_nsec != kUtimeOmit) inode->atime = times[0].tv_nsec == kUtimeNow ? cur : times[0];
    if (times[1].tv_nsec != kUtimeOmit) inode->mtime = times[1].tv_nsec == kUtimeNow ? cur : times[1];
  }
  inode->ctime = cur;
  TRY(inode->attributes_changed());
  // Linux's fsnotify_change: both times are an attribute change, one alone an access or a
  // modification.
  const bool set_a = now || times[0].tv_nsec != kUtimeOmit, set_m = now || times[1].tv_nsec != kUtimeOmit;
  fsnotify(*d, set_a && set_m ? kInAttrib : set_a ? kInAccess : kInModify);
  return 0;
}

// utimes, futimesat and utime: times in microseconds (or seconds), checked before the path is
// looked up; no times means now. futimesat with no path sets the times of dirfd's file.
Result<long> do_utimes(Thread& t, int dirfd, Vaddr pathp, std::optional<std::array<abi::Timespec, 2>> times) {
  std::shared_ptr<Dentry> d;
  if (pathp == 0 && dirfd != kAtFdcwd) {
    auto f = TRY(get_file(t, dirfd));
    d = f->dentry();
    if (!d) return 0;
  } else {
    std::string path = TRY(read_path(t, pathp));
    d = TRY(resolve_at(t, dirfd, path, 0));
  }
  const auto& inode = d->inode();
  TRY(d->want_write());
  TRY(may_set_times(t, *inode, times.has_value()));
  abi::Timespec cur = now_timespec();
  if (!times) {
    inode->atime = inode->mtime = cur;
  } else {
    inode->atime = (*times)[0];
    inode->mtime = (*times)[1];
  }
  inode->ctime = cur;
  TRY(inode->attributes_changed());
  fsnotify(*d, kInAttrib);
  return 0;
}

Result<std::optional<std::array<abi::Timespec, 2>>> read_timevals(Thread& t, Vaddr at) {
  using abi::Timeval;
  if (at == 0) return std::optional<std::array<abi::Timespec, 2>>();
  using Timevals = std::array<Timeval, 2>;
  auto tv = TRY(ostd::UserPtr<Timevals>(at).read(t.vm()));
  for (const auto& v : tv) {
    if (v.usec < 0 || v.usec >= 1000000) return Errno::einval;
  }
  return std::optional<std::array<abi::Timespec, 2>>(std::array<abi::Timespec, 2>{
      abi::Timespec{tv[0].sec, tv[0].usec * 1000}, abi::Timespec{tv[1].sec, tv[1].usec * 1000}});
}

Result<long> sys_utimes(Thread& t, const SyscallArgs& a) {
  auto times = TRY(read_timevals(t, a[1]));
  return do_utimes(t, kAtFdcwd, a[0], times);
}
Result<long> sys_futimesat(Thread& t, const SyscallArgs& a) {
  auto times = TRY(read_timevals(t, a[2]));
  return do_utimes(t, a.as_int(0), a[1], times);
}
Result<long> sys_utime(Thread& t, const SyscallArgs& a) {
  struct Utimbuf {
    ostd::i64 actime, modtime;
    OSTD_POD(Utimbuf, actime, modtime);
  };
  std::optional<std::array<abi::Timespec, 2>> times;
  if (a[1] != 0) {
    auto b = TRY(ostd::UserPtr<Utimbuf>(a[1]).read(t.vm()));
    times = std::array<abi::Timespec, 2>{abi::Timespec{b.actime, 0}, abi::Timespec{b.modtime, 0}};
  }
  return do_utimes(t, kAtFdcwd, a[0], times);
}

Result<long> sys_umask(Thread& t, const SyscallArgs& a) {
  auto& fs = *t.process().fs;
  u32 old = fs.umask;
  fs.umask = a.as_u32(0) & 0777;
  return old;
}

Result<long> sys_chdir(Thread& t, const SyscallArgs& a) {
  std::string path = TRY(read_path(t, a[0]));
  auto d = TRY(lookup_path(t, kAtFdcwd, path, true));
  if (!d->inode()->is_dir()) return Errno::enotdir;
  t.process().fs->set_cwd(d);
  return 0;
}
Result<long> sys_fchdir(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  auto d = f->dentry();
  if (!d || !d->inode()->is_dir()) return Errno::enotdir;
  t.process().fs->set_cwd(d);
  return 0;
}
Result<long> sys_chroot(Thread& t, const SyscallArgs& a) {
  std::string path = TRY(read_path(t, a[0]));
  auto d = TRY(lookup_path(t, kAtFdcwd, path, true));
  if (!d->inode()->is_dir()) return Errno::enotdir;
  TRY(inode_permission(creds_of(t), *d->inode(), kMayExec));
  if (!creds_of(t).capable(cap::kSysChroot)) return Errno::eperm;
  t.process().fs->set_root(d);
  return 0;
}
Result<long> sys_getcwd(Thread& t, const SyscallArgs& a) {
  // Seen from the process's root; a directory outside it (after a chroot) is "(unreachable)".
  const FsContext& fs = *t.process().fs;
  std::string p = fs.cwd()->path_from(*fs.root()).value_or("(unreachable)" + fs.cwd()->path());
  usize size = a[1];
  if (size < p.size() + 1) return Errno::erange;
  p.push_back('\0');
  TRY(t.vm().write_bytes(a[0], ostd::bytes_of_string(p)));
  return static_cast<long>(p.size());
}

// ---- mounts and statfs ----

Result<long> sys_mount(Thread& t, const SyscallArgs& a) {
  namespace ms = abi::ms;
  if (!creds_of(t).capable(cap::kSysAdmin)) return Errno::eperm;
  std::string target = TRY(read_path(t, a[1]));
  auto at = TRY(lookup_path(t, kAtFdcwd, target, true));
  u64 flags = a[3];
  if ((flags & ms::kMgcMask) == ms::kMgcVal) flags &= ~ms::kMgcMask;
  if ((flags & ms::kRemount) != 0 && (flags & ms::kBind) == 0) {
    TRY(remount(*t.process().fs, at, flags));
    return 0;
  }
  if ((flags & ms::kRemount) != 0) {
    // MS_REMOUNT|MS_BIND: the mount's own flags only (do_reconfigure_mnt).
    TRY(remount_mount(*t.process().fs, at, flags));
    return 0;
  }
  if ((flags & (ms::kRemount | ms::kShared | ms::kPrivate | ms::kSlave | ms::kUnbindable)) != 0) return 0;
  if ((flags & (ms::kBind | ms::kMove)) != 0) {
    // No source, or an empty one, is EINVAL (do_loopback, do_move_mount_old).
    if (a[0] == 0) return Errno::einval;
    std::string from = TRY(t.vm().read_cstring(a[0], kPathMax - 1));
    if (from.empty()) return Errno::einval;
    auto src = TRY(lookup_path(t, kAtFdcwd, from, true));
    if ((flags & ms::kMove) != 0) {
      TRY(move_mount(*t.process().fs, src, at));
    } else {
      TRY(bind_mount(*t.process().fs, src, at));
    }
    return 0;
  }
  if (!at->inode()->is_dir()) return Errno::enotdir;
  std::string type = TRY(t.vm().read_cstring(a[2], 255));
  std::string source = a[0] == 0 ? std::string("none") : TRY(t.vm().read_cstring(a[0], kPathMax - 1));
  std::shared_ptr<FileSystem> fs;
  if (type == "ext2" || type == "ext3" || type == "ext4") {
    // A block device file system: the source names the device node.
    auto dev = TRY(lookup_path(t, kAtFdcwd, source, true));
    if ((dev->inode()->mode() & abi::kSIfmt) != abi::kSIfblk) return Errno::enotblk;
    auto disk = block_device_by_rdev(dev->inode()->rdev);
    if (!disk) return Errno::enxio;
    fs = TRY(make_ext2(disk, (flags & ms::kRdonly) != 0, type));
  } else if (type == "9p") {
    // A share: the source is its tag (mount -t 9p -o trans=virtio TAG DIR); the options
    // (trans=, version=, cache=) choose nothing this client offers otherwise.
    fs = TRY(make_9p(source, (flags & ms::kRdonly) != 0));
  } else if (type == "tmpfs") {
    std::string data = a[4] == 0 ? std::string() : TRY(t.vm().read_cstring(a[4], ostd::kPageSize - 1));
    auto [tmp, shown] = TRY(make_tmpfs(data));
    TRY(mount_fs(*t.process().fs, at, std::move(tmp), source, mnt::from_ms_flags(flags, std::nullopt), shown));
    return 0;
  } else {
    fs = TRY(make_filesystem(type));
  }
  TRY(mount_fs(*t.process().fs, at, std::move(fs), source, mnt::from_ms_flags(flags, std::nullopt)));
  return 0;
}

Result<long> sys_umount2(Thread& t, const SyscallArgs& a) {
  constexpr u32 kMntForce = 1, kMntDetach = 2, kMntExpire = 4, kUmountNofollow = 8;
  u32 flags = a.as_u32(1);
  if ((flags & ~(kMntForce | kMntDetach | kMntExpire | kUmountNofollow)) != 0) return Errno::einval;
  if (!creds_of(t).capable(cap::kSysAdmin)) return Errno::eperm;
  std::string target = TRY(read_path(t, a[0]));
  auto at = TRY(lookup_path(t, kAtFdcwd, target, (flags & kUmountNofollow) == 0));
  TRY(unmount(*t.process().fs, at, (flags & kMntDetach) != 0));
  return 0;
}

struct Statfs {
  ostd::i64 f_type, f_bsize;
  u64 f_blocks, f_bfree, f_bavail, f_files, f_ffree;
  std::array<ostd::i32, 2> f_fsid;
  ostd::i64 f_namelen, f_frsize, f_flags;
  std::array<ostd::i64, 4> f_spare;
  OSTD_POD(Statfs, f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_fsid, f_namelen, f_frsize, f_flags,
           f_spare);
};
static_assert(sizeof(Statfs) == 120);

// statfs of the file system `inode` lies on, reached through a mount with flags `mount_flags`.
Statfs statfs_of(const FsContext& fs, const Inode& inode, u32 mount_flags) {
  Statfs s{};
  s.f_type = static_cast<ostd::i64>(fs_magic_of_dev(fs, inode.dev()));
  s.f_bsize = 4096;
  s.f_frsize = 4096;
  s.f_namelen = static_cast<ostd::i64>(kNameMax);
  s.f_fsid = {static_cast<ostd::i32>(inode.dev()), 0};
  s.f_blocks = 1 << 20;
  s.f_bfree = s.f_bavail = 1 << 19;
  s.f_files = 1 << 20;
  s.f_ffree = 1 << 19;
  if (auto fsys = filesystem_of_dev(fs, inode.dev())) {
    if (auto st = fsys->stats()) {
      s.f_bsize = s.f_frsize = static_cast<ostd::i64>(st->block_size);
      s.f_blocks = st->blocks;
      s.f_bfree = st->free_blocks;
      s.f_bavail = st->available_blocks;
      s.f_files = st->files;
      s.f_ffree = st->free_files;
      s.f_namelen = st->name_max;
    }
    constexpr ostd::i64 kStRdonly = 1;
    if (fsys->read_only()) s.f_flags |= kStRdonly;
  }
  // ST_VALID: f_flags means something (always, since Linux 2.6.36), and the mount's own flags.
  constexpr ostd::i64 kStValid = 0x20;
  s.f_flags |= kStValid | static_cast<ostd::i64>(mnt::statfs_flags_of(mount_flags));
  return s;
}
u32 mount_flags_of(const Dentry& d) { return d.mount() ? d.mount()->get() : 0; }

Result<long> sys_statfs(Thread& t, const SyscallArgs& a) {
  std::string path = TRY(read_path(t, a[0]));
  auto d = TRY(lookup_path(t, kAtFdcwd, path, true));
  TRY(ostd::UserPtr<Statfs>(a[1]).write(t.vm(), statfs_of(*t.process().fs, *d->inode(), mount_flags_of(*d))));
  return 0;
}
Result<long> sys_fstatfs(Thread& t, const SyscallArgs& a) {
  auto f = TRY(get_file(t, a.as_int(0)));
  auto d = f->dentry();
  Statfs s{};
  if (d) {
    s = statfs_of(*t.process().fs, *d->inode(), mount_flags_of(*d));
  } else {
    s.f_type = 0x50495045;  // PIPEFS_MAGIC
    s.f_bsize = 4096;
    s.f_namelen = static_cast<ostd::i64>(kNameMax);
  }
  TRY(ostd::UserPtr<Statfs>(a[1]).write(t.vm(), s));
  return 0;
}

// ustat: the free blocks and inodes of the mounted file system with device number dev.
Result<long> sys_ustat(Thread& t, const SyscallArgs& a) {
  struct Ustat {
    ostd::i32 f_tfree;
    ostd::i32 pad;
    u64 f_tinode;
    std::array<char, 6> f_fname;
    std::array<char, 6> f_fpack;
    ostd::i32 pad2;
  };
  static_assert(sizeof(Ustat) == 32);
  const u64 dev = a.as_u32(0);
  for (const auto& m : mounts(*t.process().fs)) {
    if (m.dev != dev) continue;
    auto d = TRY(lookup_path(*t.process().fs, m.target, true));
    Statfs s = statfs_of(*t.process().fs, *d->inode(), mount_flags_of(*d));
    Ustat u{static_cast<ostd::i32>(s.f_bfree), 0, s.f_ffree, {}, {}, 0};
    TRY(ostd::UserPtr<Ustat>(a[1]).write(t.vm(), u));
    return 0;
  }
  return Errno::einval;
}

// sysfs(2): the file system types by index (the order of /proc/filesystems).
Result<long> sys_sysfs(Thread& t, const SyscallArgs& a) {
  const std::vector<std::string> types = filesystem_types();
  switch (a.as_int(0)) {
    case 1: {
      std::string name = TRY(t.vm().read_cstring(a[1], kPathMax - 1));
      for (usize i = 0; i < types.size(); ++i) {
        if (types[i] == name) return static_cast<long>(i);
      }
      return Errno::einval;
    }
    case 2: {
      if (a[1] >= types.size()) return Errno::einval;
      std::string name = types[a[1]];
      name.push_back('\0');
      TRY(t.vm().write_bytes(a[2], ostd::bytes_of_string(name)));
      return 0;
    }
    case 3: return static_cast<long>(types.size());
    default: return Errno::einval;
  }
}

// fanotify_init is refused (EPERM: no CAP_SYS_ADMIN in the first user namespace), so no
// descriptor is an fanotify group: after the flags' check (exactly one of FAN_MARK_ADD,
// REMOVE, FLUSH), EBADF for a closed one and EINVAL for any other.
Result<long> sys_fanotify_mark(Thread& t, const SyscallArgs& a) {
  constexpr u32 kAdd = 1, kRemove = 2, kFlush = 0x80;
  const u32 op = a.as_u32(1) & (kAdd | kRemove | kFlush);
  if (op != kAdd && op != kRemove && op != kFlush) return Errno::einval;
  TRY(get_file(t, a.as_int(0)));
  return Errno::einval;
}

}  // namespace

/// Drops the flock locks of an open file description (its last descriptor was closed).
void release_flocks(const File& file) {
  auto& locks = flock_table().locks;
  auto n = locks.size();
  std::erase_if(locks, [&](const FlockEntry& l) { return l.owner == &file; });
  if (locks.size() != n) flock_table().changed.wake_all();
}

Result<std::vector<IoVec>> read_iovec_array(Thread& t, Vaddr addr, usize count) {
  std::vector<IoVec> iov(count);
  u64 total = 0;
  for (usize i = 0; i < iov.size(); ++i) {
    auto p = TRY(ostd::UserPtr<IoVec>(addr).element(i));
    iov[i] = TRY(p.read(t.vm()));
    if (iov[i].len > static_cast<u64>(std::numeric_limits<ostd::i64>::max())) return Errno::einval;
    total += iov[i].len;
    if (total > static_cast<u64>(std::numeric_limits<ostd::i64>::max())) return Errno::einval;
  }
  return iov;
}

void register_fs_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::read, &sys_read);
  t.set(S::write, &sys_write);
  t.set(S::pread64, &sys_pread64);
  t.set(S::pwrite64, &sys_pwrite64);
  t.set(S::readv, &sys_readv);
  t.set(S::writev, &sys_writev);
  t.set(S::preadv, &sys_preadv);
  t.set(S::preadv2, &sys_preadv2);
  t.set(S::pwritev2, &sys_pwritev2);
  t.set(S::pwritev, &sys_pwritev);
  t.set(S::lseek, &sys_lseek);
  t.set(S::sendfile, &sys_sendfile);
  t.set(S::open, &sys_open);
  t.set(S::openat, &sys_openat);
  t.set(S::creat, &sys_creat);
  t.set(S::close, &sys_close);
  t.set(S::close_range, &sys_close_range);
  t.set(S::dup, &sys_dup);
  t.set(S::dup2, &sys_dup2);
  t.set(S::dup3, &sys_dup3);
  t.set(S::fcntl, &sys_fcntl);
  t.set(S::flock, &sys_flock);
  t.set(S::ioctl, &sys_ioctl);
  t.set(S::pipe, &sys_pipe);
  t.set(S::pipe2, &sys_pipe2);
  t.set(S::stat, &sys_stat);
  t.set(S::lstat, &sys_lstat);
  t.set(S::fstat, &sys_fstat);
  t.set(S::newfstatat, &sys_newfstatat);
  t.set(S::statx, &sys_statx);
  t.set(S::openat2, &sys_openat2);
  t.set(S::pivot_root, &sys_pivot_root);
  t.set(S::name_to_handle_at, &sys_name_to_handle_at);
  t.set(S::open_by_handle_at, &sys_open_by_handle_at);
  t.set(S::getdents64, &sys_getdents64);
  t.set(S::getdents, &sys_getdents);
  t.set(S::mknod, &sys_mknod);
  t.set(S::mknodat, &sys_mknodat);
  t.set(S::mkdir, &sys_mkdir);
  t.set(S::mkdirat, &sys_mkdirat);
  t.set(S::rmdir, &sys_rmdir);
  t.set(S::unlink, &sys_unlink);
  t.set(S::unlinkat, &sys_unlinkat);
  t.set(S::rename, &sys_rename);
  t.set(S::renameat, &sys_renameat);
  t.set(S::renameat2, &sys_renameat2);
  t.set(S::link, &sys_link);
  t.set(S::linkat, &sys_linkat);
  t.set(S::symlink, &sys_symlink);
  t.set(S::symlinkat, &sys_symlinkat);
  t.set(S::readlink, &sys_readlink);
  t.set(S::readlinkat, &sys_readlinkat);
  t.set(S::chmod, &sys_chmod);
  t.set(S::fchmod, &sys_fchmod);
  t.set(S::fchmodat, &sys_fchmodat);
  t.set(S::chown, &sys_chown);
  t.set(S::lchown, &sys_lchown);
  t.set(S::fchown, &sys_fchown);
  t.set(S::fchownat, &sys_fchownat);
  t.set(S::truncate, &sys_truncate);
  t.set(S::ftruncate, &sys_ftruncate);
  t.set(S::fsync, &sys_fsync);
  t.set(S::fdatasync, &sys_fsync);
  t.set(S::sync, &sys_sync);
  t.set(S::syncfs, &sys_syncfs);
  t.set(S::fadvise64, &sys_fadvise64);
  t.set(S::readahead, &sys_readahead);
  t.set(S::sync_file_range, &sys_sync_file_range);
  t.set(S::fallocate, &sys_fallocate);
  t.set(S::access, &sys_access);
  t.set(S::faccessat, &sys_faccessat);
  t.set(S::faccessat2, &sys_faccessat2);
  t.set(S::utimensat, &sys_utimensat);
  t.set(S::utimes, &sys_utimes);
  t.set(S::futimesat, &sys_futimesat);
  t.set(S::utime, &sys_utime);
  t.set(S::umask, &sys_umask);
  t.set(S::chdir, &sys_chdir);
  t.set(S::fchdir, &sys_fchdir);
  t.set(S::chroot, &sys_chroot);
  t.set(S::getcwd, &sys_getcwd);
  t.set(S::mount, &sys_mount);
  t.set(S::umount2, &sys_umount2);
  t.set(S::statfs, &sys_statfs);
  t.set(S::ustat, &sys_ustat);
  t.set(S::sysfs, &sys_sysfs);
  t.set(S::fanotify_mark, &sys_fanotify_mark);
  t.set(S::fstatfs, &sys_fstatfs);
}

}  // namespace services
