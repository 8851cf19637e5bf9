#include <array>
#include <cstring>

#include <ostd/internal.h>
#include <ostd/mm/io.h>

namespace ostd {

VmReader VmReader::from_kernel(std::span<const u8> bytes) {
  VmReader r;
  r.kind_ = Kind::Kernel;
  r.kptr_ = bytes.data();
  r.len_ = bytes.size();
  return r;
}
VmReader VmReader::from_user(VmSpace& vm, Vaddr addr, usize len) {
  VmReader r;
  r.kind_ = Kind::User;
  r.vm_ = &vm;
  r.addr_ = addr;
  r.len_ = len;
  return r;
}
VmReader VmReader::from_phys(Paddr paddr, usize len) {
  VmReader r;
  r.kind_ = Kind::Phys;
  r.kptr_ = arch::phys_to_virt(paddr);
  r.len_ = len;
  return r;
}

VmWriter VmWriter::from_kernel(std::span<u8> bytes) {
  VmWriter w;
  w.kind_ = Kind::Kernel;
  w.kptr_ = bytes.data();
  w.len_ = bytes.size();
  return w;
}
VmWriter VmWriter::from_user(VmSpace& vm, Vaddr addr, usize len) {
  VmWriter w;
  w.kind_ = Kind::User;
  w.vm_ = &vm;
  w.addr_ = addr;
  w.len_ = len;
  return w;
}
VmWriter VmWriter::from_phys(Paddr paddr, usize len) {
  VmWriter w;
  w.kind_ = Kind::Phys;
  w.kptr_ = arch::phys_to_virt(paddr);
  w.len_ = len;
  return w;
}

void VmReader::skip(usize n) {
  if (n > len_) n = len_;
  if (kind_ == Kind::User) {
    addr_ += n;
  } else {
    kptr_ += n;
  }
  len_ -= n;
}

void VmWriter::skip(usize n) {
  if (n > len_) n = len_;
  if (kind_ == Kind::User) {
    addr_ += n;
  } else {
    kptr_ += n;
  }
  len_ -= n;
}

struct CopyEngine {
  // Copies n bytes from r to w; returns bytes copied (stops at the first user fault).
  static usize copy(VmReader& r, VmWriter& w, usize n) {
    usize done = 0;
    bool r_user = r.kind_ == VmReader::Kind::User;
    bool w_user = w.kind_ == VmWriter::Kind::User;
    if (!r_user && !w_user) {
      // SAFETY: n <= r.len_ and w.len_ (all callers clamp); each kptr_ covers len_ bytes while its
      // span or frame owner lives (assumed: a reader/writer holds no reference); overlap is fine.
      std::memmove(w.kptr_, r.kptr_, n);
      done = n;
    } else if (r_user && !w_user) {
      auto got = r.vm_->read_bytes_partial(r.addr_, std::span<u8>(w.kptr_, n));
      done = got.is_ok() ? got.value() : 0;
    } else if (!r_user && w_user) {
      auto put = w.vm_->write_bytes_partial(w.addr_, std::span<const u8>(r.kptr_, n));
      done = put.is_ok() ? put.value() : 0;
    } else {
      done = VmSpace::copy_between(*r.vm_, r.addr_, *w.vm_, w.addr_, n);
    }
    r.skip(done);
    w.skip(done);
    return done;
  }
};

Result<usize> VmReader::read_to(VmWriter& w) {
  usize n = len_ < w.len_ ? len_ : w.len_;
  if (n == 0) return usize{0};
  usize done = CopyEngine::copy(*this, w, n);
  if (done == 0) return Errno::efault;
  return done;
}

Result<void> VmReader::read_bytes(std::span<u8> dst) {
  if (dst.size() > len_) return Errno::einval;
  VmWriter w = VmWriter::from_kernel(dst);
  usize done = dst.empty() ? 0 : CopyEngine::copy(*this, w, dst.size());
  if (done != dst.size()) return Errno::efault;
  return {};
}

Result<void> VmWriter::write_bytes(std::span<const u8> src) {
  if (src.size() > len_) return Errno::einval;
  VmReader r = VmReader::from_kernel(src);
  usize done = src.empty() ? 0 : CopyEngine::copy(r, *this, src.size());
  if (done != src.size()) return Errno::efault;
  return {};
}

Result<usize> VmWriter::fill_zeros(usize n) {
  if (n > len_) n = len_;
  static const std::array<u8, 4096> kZeros{};
  usize done = 0;
  while (done < n) {
    usize chunk = n - done < kZeros.size() ? n - done : kZeros.size();
    VmReader r = VmReader::from_kernel(std::span<const u8>(kZeros.data(), chunk));
    usize c = CopyEngine::copy(r, *this, chunk);
    done += c;
    if (c < chunk) break;
  }
  if (done == 0 && n > 0) return Errno::efault;
  return done;
}

}  // namespace ostd
