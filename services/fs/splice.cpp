// Moving data between descriptors without a user buffer: splice, tee, vmsplice and
// copy_file_range.
//
// splice needs a pipe on at least one side: from a pipe the stored bytes go to the other file
// while the pipe is locked (and only what it took is consumed), into a pipe the other file is
// read straight into the pipe's free room; pipe to pipe and tee move or copy between the two
// rings under both locks. copy_file_range copies between regular files up to the end of the
// input, as Linux's generic copy does.
#include <algorithm>
#include <functional>
#include <limits>
#include <vector>

#include <ostd/mm/io.h>

#include "abi/x86_64/stat.h"
#include "fs/file.h"
#include "fs/pipe.h"
#include "fs/vfs.h"
#include "process/process.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i64;
using ostd::u32;
using ostd::u64;
using ostd::usize;
using ostd::Vaddr;

namespace {

constexpr u32 kSpliceMove = 1, kSpliceNonblock = 2, kSpliceMore = 4, kSpliceGift = 8;
constexpr u32 kSpliceAll = kSpliceMove | kSpliceNonblock | kSpliceMore | kSpliceGift;
constexpr int kSeekSet = 0, kSeekCur = 1;

u32 file_type(File& f) {
  auto st = f.stat();
  return st.is_ok() ? st.value().st_mode & abi::kSIfmt : 0;
}

// A file splice reads or writes at a position: regular files and block devices (the others
// are streams, read and written as such, and take no offset).
bool positional(File& f) {
  const u32 type = file_type(f);
  return type == abi::kSIfreg || type == abi::kSIfblk;
}

// The offset an `off_in`/`off_out` argument gives (EFAULT, or EINVAL when negative or when the
// file has no position), or the file's own position.
Result<u64> start_offset(Thread& t, File& f, Vaddr offp) {
  if (offp != 0) {
    const i64 off = TRY(ostd::UserPtr<i64>(offp).read(t.vm()));
    if (!positional(f) || off < 0) return Errno::einval;
    return static_cast<u64>(off);
  }
  if (!positional(f)) return u64{0};
  return static_cast<u64>(TRY(f.seek(0, kSeekCur)));
}

// After the move: the offset argument or the file position moves by what was moved.
Result<void> finish_offset(Thread& t, File& f, Vaddr offp, u64 start, usize done) {
  if (offp != 0) return ostd::UserPtr<i64>(offp).write(t.vm(), static_cast<i64>(start + done));
  if (positional(f) && done > 0) TRY(f.seek(static_cast<i64>(start + done), kSeekSet));
  return {};
}

Result<long> sys_splice(Thread& t, const SyscallArgs& a) {
  const Vaddr off_in = a[1], off_out = a[3];
  const usize len = std::min<u64>(a[4], kMaxRw);
  const u32 flags = a.as_u32(5);
  if (len == 0) return 0;
  if ((flags & ~kSpliceAll) != 0) return Errno::einval;
  auto in = TRY(t.process().fds->get(a.as_int(0)));
  auto out = TRY(t.process().fds->get(a.as_int(2)));
  if (in->is_opath() || out->is_opath() || !in->readable() || !out->writable()) return Errno::ebadf;
  auto ipipe = in->pipe();
  auto opipe = out->pipe();
  bool nonblock = (flags & kSpliceNonblock) != 0;
  if (ipipe && opipe) {
    if (off_in != 0 || off_out != 0) return Errno::espipe;
    if (ipipe == opipe) return Errno::einval;
    nonblock = nonblock || in->nonblocking() || out->nonblocking();
    return static_cast<long>(TRY(pipe_to_pipe(t, *ipipe, *opipe, len, nonblock, true)));
  }
  if (ipipe) {
    if (off_in != 0) return Errno::espipe;
    if ((out->status_flags() & kOAppend) != 0) return Errno::einval;
    const u64 start = TRY(start_offset(t, *out, off_out));
    nonblock = nonblock || in->nonblocking();
    const bool at = positional(*out);
    usize done = 0;
    usize moved = TRY(pipe_drain(t, *ipipe, len, nonblock, [&](ostd::VmReader& r) -> Result<usize> {
      usize n = TRY(at ? out->write_at(t, start + done, r) : out->write(t, r));
      done += n;
      return n;
    }));
    TRY(finish_offset(t, *out, off_out, start, moved));
    return static_cast<long>(moved);
  }
  if (opipe) {
    if (off_out != 0) return Errno::espipe;
    const u64 start = TRY(start_offset(t, *in, off_in));
    nonblock = nonblock || out->nonblocking();
    const bool at = positional(*in);
    usize done = 0;
    usize moved = TRY(pipe_fill(t, *opipe, len, nonblock, [&](ostd::VmWriter& w) -> Result<usize> {
      usize n = TRY(at ? in->read_at(t, start + done, w) : in->read(t, w));
      done += n;
      return n;
    }));
    TRY(finish_offset(t, *in, off_in, start, moved));
    return static_cast<long>(moved);
  }
  return Errno::einval;
}

Result<long> sys_tee(Thread& t, const SyscallArgs& a) {
  const usize len = std::min<u64>(a[2], kMaxRw);
  const u32 flags = a.as_u32(3);
  if ((flags & ~kSpliceAll) != 0) return Errno::einval;
  if (len == 0) return 0;
  auto in = TRY(t.process().fds->get(a.as_int(0)));
  auto out = TRY(t.process().fds->get(a.as_int(1)));
  if (in->is_opath() || out->is_opath() || !in->readable() || !out->writable()) return Errno::ebadf;
  auto ipipe = in->pipe();
  auto opipe = out->pipe();
  if (!ipipe || !opipe || ipipe == opipe) return Errno::einval;
  const bool nonblock = (flags & kSpliceNonblock) != 0 || in->nonblocking() || out->nonblocking();
  return static_cast<long>(TRY(pipe_to_pipe(t, *ipipe, *opipe, len, nonblock, false)));
}

Result<long> sys_vmsplice(Thread& t, const SyscallArgs& a) {
  const u32 flags = a.as_u32(3);
  if ((flags & ~kSpliceAll) != 0) return Errno::einval;
  auto f = TRY(t.process().fds->get(a.as_int(0)));
  if (a[2] > kIovMax) return Errno::einval;
  auto iov = TRY(read_iovec_array(t, a[1], a[2]));
  const bool to_pipe = f->writable();
  if (f->is_opath() || (!to_pipe && !f->readable())) return Errno::ebadf;
  auto pipe = f->pipe();
  if (!pipe) return Errno::ebadf;
  const bool nonblock = (flags & kSpliceNonblock) != 0 || f->nonblocking();
  usize done = 0;
  for (const IoVec& v : iov) {
    usize in_vec = 0;
    while (in_vec < v.len && done < kMaxRw) {
      const usize want = std::min<usize>(v.len - in_vec, kMaxRw - done);
      Result<usize> r = usize{0};
      if (to_pipe) {
        // Into the pipe: waits for room for all of it (unless nonblocking), as Linux does.
        r = pipe_fill(t, *pipe, want, nonblock, [&](ostd::VmWriter& w) {
          auto src = ostd::VmReader::from_user(t.vm(), v.base + in_vec, std::min(want, w.avail()));
          return src.read_to(w);
        });
      } else {
        // Out of the pipe: waits only for the first bytes.
        r = pipe_drain(t, *pipe, want, nonblock || done > 0, [&](ostd::VmReader& src) {
          auto dst = ostd::VmWriter::from_user(t.vm(), v.base + in_vec, std::min(want, src.remain()));
          return src.read_to(dst);
        });
      }
      if (r.is_error()) {
        if (done > 0) return static_cast<long>(done);
        return r.error();
      }
      if (r.value() == 0) return static_cast<long>(done);
      in_vec += r.value();
      done += r.value();
      if (!to_pipe && r.value() < want) return static_cast<long>(done);
    }
  }
  return static_cast<long>(done);
}

Result<long> sys_copy_file_range(Thread& t, const SyscallArgs& a) {
  const Vaddr off_in = a[1], off_out = a[3];
  usize len = std::min<u64>(a[4], kMaxRw);
  if (a.as_u32(5) != 0) return Errno::einval;
  auto in = TRY(t.process().fds->get(a.as_int(0)));
  auto out = TRY(t.process().fds->get(a.as_int(2)));
  std::optional<i64> pos_in, pos_out;
  if (off_in != 0) pos_in = TRY(ostd::UserPtr<i64>(off_in).read(t.vm()));
  if (off_out != 0) pos_out = TRY(ostd::UserPtr<i64>(off_out).read(t.vm()));
  if (in->is_opath() || out->is_opath()) return Errno::ebadf;
  const u32 tin = file_type(*in), tout = file_type(*out);
  if (tin == abi::kSIfdir || tout == abi::kSIfdir) return Errno::eisdir;
  if (tin != abi::kSIfreg || tout != abi::kSIfreg) return Errno::einval;
  if (!in->readable() || !out->writable() || (out->status_flags() & kOAppend) != 0) return Errno::ebadf;
  if (!pos_in) pos_in = TRY(in->seek(0, kSeekCur));
  if (!pos_out) pos_out = TRY(out->seek(0, kSeekCur));
  const u64 from = static_cast<u64>(*pos_in), to = static_cast<u64>(*pos_out);
  u64 end = 0;
  // Offsets that wrap (a negative one does, as Linux adds them unsigned), then negative ones.
  if (!ostd::checked_add<u64>(from, a[4], end) || !ostd::checked_add<u64>(to, a[4], end)) return Errno::eoverflow;
  if (*pos_in < 0 || *pos_out < 0) return Errno::einval;
  // Up to the end of the input.
  const auto st = TRY(in->stat());
  const u64 size = static_cast<u64>(st.st_size);
  len = from >= size ? 0 : std::min<u64>(len, size - from);
  if (!ostd::checked_add<u64>(to, len, end) || end > static_cast<u64>(std::numeric_limits<i64>::max()))
    return Errno::efbig;
  // The same file: the ranges may not overlap.
  auto din = in->dentry(), dout = out->dentry();
  if (din && dout && din->inode() == dout->inode() && to + len > from && to < from + len) return Errno::einval;
  std::vector<ostd::u8> buf(std::min<usize>(len, 65536));
  usize done = 0;
  while (done < len) {
    const usize want = std::min(buf.size(), len - done);
    auto w = ostd::VmWriter::from_kernel(std::span<ostd::u8>(buf).first(want));
    auto r = in->read_at(t, from + done, w);
    if (r.is_error()) {
      if (done > 0) break;
      return r.error();
    }
    if (r.value() == 0) break;
    auto rd = ostd::VmReader::from_kernel(std::span<const ostd::u8>(buf).first(r.value()));
    auto wr = out->write_at(t, to + done, rd);
    if (wr.is_error()) {
      if (done > 0) break;
      return wr.error();
    }
    done += wr.value();
    if (wr.value() < r.value()) break;
  }
  if (off_in != 0) {
    TRY(ostd::UserPtr<i64>(off_in).write(t.vm(), static_cast<i64>(from + done)));
  } else {
    TRY(in->seek(static_cast<i64>(from + done), kSeekSet));
  }
  if (off_out != 0) {
    TRY(ostd::UserPtr<i64>(off_out).write(t.vm(), static_cast<i64>(to + done)));
  } else {
    TRY(out->seek(static_cast<i64>(to + done), kSeekSet));
  }
  return static_cast<long>(done);
}

}  // namespace

void register_splice_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::splice, &sys_splice);
  t.set(S::tee, &sys_tee);
  t.set(S::vmsplice, &sys_vmsplice);
  t.set(S::copy_file_range, &sys_copy_file_range);
}

}  // namespace services
