#include "fs/cpio.h"

#include <ostd/enforce.h>

namespace services::cpio {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::usize;

namespace {

constexpr usize kHeaderSize = 110;

Result<u32> hex_field(std::span<const ostd::u8> h, usize index) {
  u32 v = 0;
  for (usize i = 0; i < 8; ++i) {
    char c = static_cast<char>(h[6 + index * 8 + i]);
    u32 d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<u32>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<u32>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<u32>(c - 'A' + 10);
    } else {
      return Errno::einval;
    }
    v = (v << 4) | d;
  }
  return v;
}

usize align4(usize v) { return (v + 3) & ~usize{3}; }

std::string normalize(std::string_view p) {
  std::vector<std::string_view> parts;
  while (!p.empty()) {
    usize slash = p.find('/');
    std::string_view part = p.substr(0, slash);
    p = slash == std::string_view::npos ? std::string_view{} : p.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (usize i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out;
}

}  // namespace

Result<std::vector<Entry>> parse(std::span<const ostd::u8> archive) {
  std::vector<Entry> out;
  usize off = 0;
  u64 archive_index = 0;
  for (;;) {
    if (archive.size() < kHeaderSize || off > archive.size() - kHeaderSize) return Errno::einval;
    std::span<const ostd::u8> h = archive.subspan(off, kHeaderSize);
    if (h[0] != '0' || h[1] != '7' || h[2] != '0' || h[3] != '7' || h[4] != '0' || (h[5] != '1' && h[5] != '2')) {
      return Errno::einval;
    }
    u32 ino = TRY(hex_field(h, 0));
    u32 mode = TRY(hex_field(h, 1));
    u32 uid = TRY(hex_field(h, 2));
    u32 gid = TRY(hex_field(h, 3));
    u32 nlink = TRY(hex_field(h, 4));
    u32 mtime = TRY(hex_field(h, 5));
    u32 filesize = TRY(hex_field(h, 6));
    u32 dev_major = TRY(hex_field(h, 7));
    u32 dev_minor = TRY(hex_field(h, 8));
    u32 rdev_major = TRY(hex_field(h, 9));
    u32 rdev_minor = TRY(hex_field(h, 10));
    u32 namesize = TRY(hex_field(h, 11));
    if (namesize == 0) return Errno::einval;
    usize name_off = off + kHeaderSize;
    if (namesize > archive.size() - name_off) return Errno::einval;
    std::string name;
    for (usize i = 0; i + 1 < namesize; ++i) name.push_back(static_cast<char>(archive[name_off + i]));
    usize data_off = align4(name_off + namesize);
    if (data_off > archive.size() || filesize > archive.size() - data_off) return Errno::einval;
    off = align4(data_off + filesize);
    if (name == "TRAILER!!!") {
      // Archives may follow one another (concatenated initramfs images, as Linux unpacks them),
      // with NUL padding between them; the next one starts on a 4-byte boundary.
      while (off < archive.size() && archive[off] == 0) ++off;
      if (off >= archive.size()) break;
      if ((off & 3) != 0) return Errno::einval;
      ++archive_index;
      continue;
    }
    u64 link_key = (archive_index << 56) ^ (u64{dev_major & 0xfff} << 44) ^ (u64{dev_minor & 0xfff} << 32) ^ ino;
    out.push_back(Entry{normalize(name), mode, archive.subspan(data_off, filesize), uid, gid, mtime, nlink, link_key,
                        rdev_major, rdev_minor});
  }
  return out;
}

Result<const Entry*> lookup(const std::vector<Entry>& entries, std::string_view path) {
  std::string cur = normalize(path);
  for (int depth = 0; depth <= 40; ++depth) {
    const Entry* found = nullptr;
    for (const Entry& e : entries) {
      if (e.path == cur) found = &e;  // later entries override earlier ones, like unpacking
    }
    if (found == nullptr) return Errno::enoent;
    if ((found->mode & kTypeMask) != kTypeSymlink) return found;
    std::string target(found->data.begin(), found->data.end());
    if (!target.empty() && target[0] == '/') {
      cur = normalize(target);
    } else {
      usize slash = cur.rfind('/');
      std::string dir = slash == std::string::npos ? "" : cur.substr(0, slash);
      cur = normalize(dir + "/" + target);
    }
  }
  return Errno::eloop;
}

}  // namespace services::cpio
