// memfd_create and file seals (fcntl F_ADD_SEALS / F_GET_SEALS).
//
// A memfd is a tmpfs file of a file system of its own that no directory links to: its name
// shows as "/memfd:NAME (deleted)" in /proc/PID/fd and maps, as on Linux. Every tmpfs file has
// seals, F_SEAL_SEAL from the start unless the memfd was made with MFD_ALLOW_SEALING; the file
// enforces them (writes, truncation, mmap for writing).
#include <string>

#include <ostd/format.h>
#include <ostd/mm/io.h>

#include "fs/file.h"
#include "fs/vfs.h"
#include "process/internal.h"
#include "process/process.h"
#include "syscall/table.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;

namespace {

constexpr u32 kMfdCloexec = 1, kMfdAllowSealing = 2, kMfdHugetlb = 4;
constexpr u64 kMfdNameMax = 249;  // NAME_MAX - strlen("memfd:")
constexpr u32 kAllSeals = kSealSeal | kSealShrink | kSealGrow | kSealWrite | kSealFutureWrite;

struct MemfdFs {
  std::shared_ptr<FileSystem> fs = make_ramfs();
  std::shared_ptr<Dentry> root = std::make_shared<Dentry>(nullptr, "", fs->root());
  ostd::Mutex lock;
  u64 next = 0;
};

MemfdFs& memfd_fs() {
  static MemfdFs m;
  return m;
}

Result<long> sys_memfd_create(Thread& t, const SyscallArgs& a) {
  const u32 flags = a.as_u32(1);
  if ((flags & ~(kMfdCloexec | kMfdAllowSealing | kMfdHugetlb)) != 0) return Errno::einval;
  if ((flags & kMfdHugetlb) != 0) return Errno::einval;  // no huge pages to back it
  // The name: at most 249 bytes before its NUL.
  auto read = t.vm().read_cstring(a[0], kMfdNameMax);
  if (read.is_error()) return read.error() == Errno::enametoolong ? Errno::einval : read.error();
  const std::string name = read.release_value();
  MemfdFs& m = memfd_fs();
  std::shared_ptr<Inode> inode;
  {
    ostd::MutexGuard g(m.lock);
    const std::string slot = ostd::format("{}", m.next++);
    inode = TRY(m.fs->root()->create(slot, abi::kSIfreg | 0777, 0));
    TRY(m.fs->root()->unlink(slot));
  }
  const Credentials& c = t.process().creds;
  inode->uid = c.fsuid;
  inode->gid = c.fsgid;
  inode->seals = (flags & kMfdAllowSealing) != 0 ? 0 : kSealSeal;
  auto dentry = std::make_shared<Dentry>(m.root, "memfd:" + name + " (deleted)", inode);
  auto file = TRY(inode->open(dentry, kORdWr | kOLargefile));
  return TRY(t.process().fds->install(file, (flags & kMfdCloexec) != 0));
}

// Whether any process maps `pages` shared and writable (F_SEAL_WRITE then answers EBUSY).
bool mapped_writable(const std::shared_ptr<SharedPages>& pages) {
  if (!pages) return false;
  for (auto& p : pid_table().all_processes()) {
    if (!p->mm) continue;
    for (const Vma& v : p->mm->areas()) {
      if (v.shared == pages && (v.prot & kProtWrite) != 0) return true;
    }
  }
  return false;
}

}  // namespace

void unmap_truncated_pages(const std::shared_ptr<SharedPages>& pages, u64 first_index) {
  if (!pages) return;
  for (auto& p : pid_table().all_processes()) {
    if (p->mm) p->mm->unmap_object_pages(pages, first_index);
  }
}

Result<long> file_seals_fcntl(Thread&, File& f, bool add, u32 arg) {
  auto d = f.dentry();
  if (!d || !d->inode()->seals) return Errno::einval;
  Inode& inode = *d->inode();
  if (!add) return static_cast<long>(*inode.seals);
  if ((arg & ~kAllSeals) != 0) return Errno::einval;
  if (!f.writable()) return Errno::eperm;
  if ((*inode.seals & kSealSeal) != 0) return Errno::eperm;
  if ((arg & kSealWrite) != 0 && (*inode.seals & kSealWrite) == 0 && mapped_writable(inode.page_cache())) {
    return Errno::ebusy;
  }
  inode.seals = *inode.seals | arg;
  return 0;
}

void register_memfd_syscalls(SyscallTable& t) { t.set(x86_64::Sysno::memfd_create, &sys_memfd_create); }

}  // namespace services
