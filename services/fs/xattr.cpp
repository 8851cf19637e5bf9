// Extended attributes: setxattr, getxattr, listxattr, removexattr and their l- and f- forms,
// as on Linux's tmpfs: the user., trusted. and security. namespaces are kept in the inode
// (user. only on regular files and directories), other namespaces are EOPNOTSUPP, and file
// systems that keep none (proc, pipes, sockets) answer EOPNOTSUPP (listing: nothing).
#include <algorithm>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <ostd/mm/io.h>

#include "fs/file.h"
#include "fs/notify.h"
#include "fs/vfs.h"
#include "process/internal.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;
using ostd::Vaddr;

namespace {

constexpr usize kXattrNameMax = 255;    // XATTR_NAME_MAX
constexpr usize kXattrSizeMax = 65536;  // XATTR_SIZE_MAX
constexpr usize kXattrListMax = 65536;  // XATTR_LIST_MAX
constexpr u32 kXattrCreate = 1;
constexpr u32 kXattrReplace = 2;
constexpr int kAtFdcwd = -100;

// The name, bounded: empty or longer than XATTR_NAME_MAX is ERANGE.
Result<std::string> read_name(Thread& t, Vaddr addr) {
  auto name = t.vm().read_cstring(addr, kXattrNameMax);
  if (name.is_error()) return name.error() == Errno::enametoolong ? Errno::erange : name.error();
  if (name.value().empty()) return Errno::erange;
  return name.release_value();
}

// The namespaces tmpfs keeps; EOPNOTSUPP for any other, EINVAL for a bare prefix.
Result<void> check_namespace(std::string_view name) {
  using namespace std::string_view_literals;
  for (std::string_view prefix : {"user."sv, "trusted."sv, "security."sv}) {
    if (name.starts_with(prefix)) {
      if (name.size() == prefix.size()) return Errno::einval;
      return {};
    }
  }
  return Errno::eopnotsupp;
}

// user. attributes live only on regular files and directories (Linux's xattr_permission, which
// comes before the file system is asked: a pipe or an anonymous file has neither type).
bool user_namespace_allowed(const std::shared_ptr<Inode>& inode, std::string_view name) {
  return !name.starts_with("user.") || (inode && (inode->is_regular() || inode->is_dir()));
}

Result<std::shared_ptr<Inode>> inode_at(Thread& t, Vaddr path_addr, bool follow, bool writing = false) {
  std::string path = TRY(t.vm().read_cstring(path_addr, kPathMax - 1));
  auto d = TRY(lookup_path(t, kAtFdcwd, path, follow));
  if (writing) TRY(d->want_write());  // not through a read-only mount (mnt_want_write)
  return d->inode();
}

// The inode behind fd; nullptr for a file with no inode of a file system (a pipe, a socket).
Result<std::shared_ptr<Inode>> inode_of_fd(Thread& t, int fd, bool writing = false) {
  auto f = TRY(t.process().fds->get(fd));
  if (f->is_opath()) return Errno::ebadf;
  auto d = f->dentry();
  if (d && writing) TRY(d->want_write());
  return d ? d->inode() : nullptr;
}

// getxattr's and listxattr's answer: for a size of 0 the bytes' length alone, ERANGE when the
// buffer (at most `max` of it counts) is shorter, else the bytes copied out.
Result<long> answer(Thread& t, Vaddr buf, u64 size, usize max, std::span<const u8> bytes) {
  size = std::min<u64>(size, max);
  if (size == 0) return static_cast<long>(bytes.size());
  if (bytes.size() > size) return Errno::erange;
  if (!bytes.empty()) TRY(t.vm().write_bytes(buf, bytes));
  return static_cast<long>(bytes.size());
}

Result<long> set(const std::shared_ptr<Inode>& inode, const std::string& name, std::vector<u8> value, u32 flags) {
  if (!user_namespace_allowed(inode, name)) return Errno::eperm;
  if (!inode || !inode->keeps_xattrs()) return Errno::eopnotsupp;
  return inode->xattrs().with([&](auto& attrs) -> Result<long> {
    auto it = attrs.find(name);
    if ((flags & kXattrCreate) != 0 && it != attrs.end()) return Errno::eexist;
    if ((flags & kXattrReplace) != 0 && it == attrs.end()) return Errno::enodata;
    attrs.insert_or_assign(name, std::move(value));
    inode->touch_ctime();
    return 0;
  });
}

Result<long> do_setxattr(Thread& t, const SyscallArgs& a, bool by_fd, bool follow) {
  u32 flags = a.as_u32(4);
  if ((flags & ~(kXattrCreate | kXattrReplace)) != 0) return Errno::einval;
  std::string name = TRY(read_name(t, a[1]));
  TRY(check_namespace(name));
  usize size = a[3];
  if (size > kXattrSizeMax) return Errno::e2big;
  std::vector<u8> value(size);
  if (size > 0) TRY(t.vm().read_bytes(a[2], value));
  auto inode = by_fd ? TRY(inode_of_fd(t, a.as_int(0), true)) : TRY(inode_at(t, a[0], follow, true));
  TRY(set(inode, name, std::move(value), flags));
  fsnotify_inode(*inode, kInAttrib);
  return 0;
}

Result<long> do_getxattr(Thread& t, const SyscallArgs& a, bool by_fd, bool follow) {
  auto inode = by_fd ? TRY(inode_of_fd(t, a.as_int(0))) : TRY(inode_at(t, a[0], follow));
  std::string name = TRY(read_name(t, a[1]));
  TRY(check_namespace(name));
  if (!user_namespace_allowed(inode, name)) return Errno::enodata;
  if (!inode || !inode->keeps_xattrs()) return Errno::eopnotsupp;
  std::vector<u8> value = TRY(inode->xattrs().with([&](auto& attrs) -> Result<std::vector<u8>> {
    auto it = attrs.find(name);
    if (it == attrs.end()) return Errno::enodata;
    return it->second;
  }));
  return answer(t, a[2], a[3], kXattrSizeMax, value);
}

Result<long> do_listxattr(Thread& t, const SyscallArgs& a, bool by_fd, bool follow) {
  auto inode = by_fd ? TRY(inode_of_fd(t, a.as_int(0))) : TRY(inode_at(t, a[0], follow));
  std::vector<u8> names;
  if (inode && inode->keeps_xattrs()) {
    inode->xattrs().with([&](auto& attrs) {
      for (const auto& [name, value] : attrs) {
        names.insert(names.end(), name.begin(), name.end());
        names.push_back(0);
      }
    });
  }
  return answer(t, a[1], a[2], kXattrListMax, names);
}

Result<long> do_removexattr(Thread& t, const SyscallArgs& a, bool by_fd, bool follow) {
  std::string name = TRY(read_name(t, a[1]));
  TRY(check_namespace(name));
  auto inode = by_fd ? TRY(inode_of_fd(t, a.as_int(0), true)) : TRY(inode_at(t, a[0], follow, true));
  if (!user_namespace_allowed(inode, name)) return Errno::eperm;
  if (!inode || !inode->keeps_xattrs()) return Errno::eopnotsupp;
  TRY(inode->xattrs().with([&](auto& attrs) -> Result<long> {
    if (attrs.erase(name) == 0) return Errno::enodata;
    inode->touch_ctime();
    return 0;
  }));
  fsnotify_inode(*inode, kInAttrib);
  return 0;
}

Result<long> sys_setxattr(Thread& t, const SyscallArgs& a) { return do_setxattr(t, a, false, true); }
Result<long> sys_lsetxattr(Thread& t, const SyscallArgs& a) { return do_setxattr(t, a, false, false); }
Result<long> sys_fsetxattr(Thread& t, const SyscallArgs& a) { return do_setxattr(t, a, true, true); }
Result<long> sys_getxattr(Thread& t, const SyscallArgs& a) { return do_getxattr(t, a, false, true); }
Result<long> sys_lgetxattr(Thread& t, const SyscallArgs& a) { return do_getxattr(t, a, false, false); }
Result<long> sys_fgetxattr(Thread& t, const SyscallArgs& a) { return do_getxattr(t, a, true, true); }
Result<long> sys_listxattr(Thread& t, const SyscallArgs& a) { return do_listxattr(t, a, false, true); }
Result<long> sys_llistxattr(Thread& t, const SyscallArgs& a) { return do_listxattr(t, a, false, false); }
Result<long> sys_flistxattr(Thread& t, const SyscallArgs& a) { return do_listxattr(t, a, true, true); }
Result<long> sys_removexattr(Thread& t, const SyscallArgs& a) { return do_removexattr(t, a, false, true); }
Result<long> sys_lremovexattr(Thread& t, const SyscallArgs& a) { return do_removexattr(t, a, false, false); }
Result<long> sys_fremovexattr(Thread& t, const SyscallArgs& a) { return do_removexattr(t, a, true, true); }

}  // namespace

void register_xattr_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::setxattr, &sys_setxattr);
  t.set(S::lsetxattr, &sys_lsetxattr);
  t.set(S::fsetxattr, &sys_fsetxattr);
  t.set(S::getxattr, &sys_getxattr);
  t.set(S::lgetxattr, &sys_lgetxattr);
  t.set(S::fgetxattr, &sys_fgetxattr);
  t.set(S::listxattr, &sys_listxattr);
  t.set(S::llistxattr, &sys_llistxattr);
  t.set(S::flistxattr, &sys_flistxattr);
  t.set(S::removexattr, &sys_removexattr);
  t.set(S::lremovexattr, &sys_lremovexattr);
  t.set(S::fremovexattr, &sys_fremovexattr);
}

}  // namespace services
