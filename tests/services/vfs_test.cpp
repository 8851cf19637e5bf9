// The VFS path walk, tmpfs directory operations, mounts and pipes, without a process.
#include <string>
#include <vector>

#include "../unit/ostd/harness.h"
#include "fs/pipe.h"
#include "fs/vfs.h"

using namespace ostd;
using namespace services;

namespace {

struct Tree {
  std::shared_ptr<FileSystem> fs = make_ramfs();
  std::shared_ptr<Dentry> root = std::make_shared<Dentry>(nullptr, "", fs->root());
  FsContext ctx{root, root};

  Result<std::shared_ptr<Dentry>> walk(std::string_view path, bool follow = true) {
    return services::walk(PathLookup{ctx, nullptr, nullptr}, path, follow);
  }
  std::shared_ptr<Inode> mkdir(std::string_view path) {
    auto pn = walk_parent(PathLookup{ctx, nullptr, nullptr}, path).release_value();
    return pn.parent->inode()->create(pn.name, services::abi::kSIfdir | 0755, 0).release_value();
  }
  std::shared_ptr<Inode> file(std::string_view path, std::string_view text = "") {
    auto pn = walk_parent(PathLookup{ctx, nullptr, nullptr}, path).release_value();
    auto f = pn.parent->inode()->create(pn.name, services::abi::kSIfreg | 0644, 0).release_value();
    auto r = VmReader::from_kernel(bytes_of_string(text));
    EXPECT_TRUE(f->write_at(0, r).is_ok());
    return f;
  }
  void symlink(std::string_view path, std::string_view target) {
    auto pn = walk_parent(PathLookup{ctx, nullptr, nullptr}, path).release_value();
    ASSERT_TRUE(pn.parent->inode()->symlink(pn.name, target).is_ok());
  }
};

Errno error_of(const Result<std::shared_ptr<Dentry>>& r) { return r.is_error() ? r.error() : Errno{}; }

}  // namespace

TEST(Vfs, WalkResolvesDotDotAndRepeatedSlashes) {
  test::run_in_kernel([] {
    Tree t;
    t.mkdir("/a");
    t.mkdir("/a/b");
    t.file("/a/b/f", "x");
    auto d = t.walk("//a/./b/../b///f");
    ASSERT_TRUE(d.is_ok());
    EXPECT_EQ(d.value()->path(), "/a/b/f");
    EXPECT_EQ(t.walk("/../../a").value()->path(), "/a");  // ".." at the root stays at the root
    EXPECT_EQ(t.walk("/").value()->path(), "/");
  });
}

TEST(Vfs, WalkErrorsMatchLinux) {
  test::run_in_kernel([] {
    Tree t;
    t.mkdir("/d");
    t.file("/d/f");
    EXPECT_EQ(error_of(t.walk("/d/missing")), Errno::enoent);
    EXPECT_EQ(error_of(t.walk("/d/f/x")), Errno::enotdir);
    EXPECT_EQ(error_of(t.walk("/d/f/")), Errno::enotdir);
    EXPECT_EQ(error_of(t.walk("")), Errno::enoent);
    EXPECT_EQ(error_of(t.walk(std::string(300, 'n'))), Errno::enametoolong);
    EXPECT_EQ(error_of(t.walk("/" + std::string(4200, 'a'))), Errno::enametoolong);
    EXPECT_TRUE(t.walk("/d/").is_ok());
  });
}

TEST(Vfs, SymlinksFollowRelativeToTheirDirectoryAndLoopsAreEloop) {
  test::run_in_kernel([] {
    Tree t;
    t.mkdir("/a");
    t.mkdir("/a/sub");
    t.file("/a/sub/target", "T");
    t.symlink("/a/rel", "sub/target");
    t.symlink("/a/abs", "/a/sub");
    t.symlink("/a/up", "../a/sub/target");
    t.symlink("/loop1", "/loop2");
    t.symlink("/loop2", "/loop1");
    EXPECT_EQ(t.walk("/a/rel").value()->path(), "/a/sub/target");
    EXPECT_EQ(t.walk("/a/abs/target").value()->path(), "/a/sub/target");
    EXPECT_EQ(t.walk("/a/up").value()->path(), "/a/sub/target");
    // Not following the last component gives the link itself.
    auto link = t.walk("/a/rel", false);
    ASSERT_TRUE(link.is_ok());
    EXPECT_TRUE(link.value()->inode()->is_symlink());
    EXPECT_EQ(error_of(t.walk("/loop1")), Errno::eloop);
    // A trailing slash follows even when asked not to.
    EXPECT_TRUE(t.walk("/a/abs/", false).value()->inode()->is_dir());
  });
}

TEST(Vfs, RmdirRenameAndLinkFollowRename2Rules) {
  test::run_in_kernel([] {
    Tree t;
    auto root = t.fs->root();
    auto a = t.mkdir("/a");
    t.mkdir("/b");
    t.file("/a/f", "data");
    t.file("/g");
    EXPECT_EQ(root->rmdir("a").error(), Errno::enotempty);
    EXPECT_EQ(root->rmdir("g").error(), Errno::enotdir);
    EXPECT_EQ(root->unlink("a").error(), Errno::eisdir);
    // A directory cannot replace a file, a file cannot replace a directory.
    EXPECT_EQ(root->rename("a", *root, "g").error(), Errno::enotdir);
    EXPECT_EQ(root->rename("g", *root, "b").error(), Errno::eisdir);
    // Renaming onto an empty directory replaces it; a non-empty one refuses.
    EXPECT_TRUE(root->rename("b", *root, "c").is_ok());
    EXPECT_EQ(root->rename("c", *root, "a").error(), Errno::enotempty);
    EXPECT_TRUE(root->rename("a", *root, "c").is_ok());
    EXPECT_EQ(error_of(t.walk("/a")), Errno::enoent);
    auto moved = t.walk("/c/f");
    ASSERT_TRUE(moved.is_ok());
    EXPECT_EQ(read_entire_file(moved.value()).value().size(), 4u);
    // Hard links share the inode and count.
    auto f = moved.value()->inode();
    EXPECT_TRUE(root->link("h", f).is_ok());
    EXPECT_EQ(f->nlink, 2u);
    EXPECT_TRUE(t.walk("/c").value()->inode()->unlink("f").is_ok());
    EXPECT_EQ(f->nlink, 1u);
    EXPECT_EQ(root->link("dirlink", a).error(), Errno::eperm);
    // A removed directory takes no new entries.
    auto c = t.walk("/c").release_value()->inode();
    EXPECT_TRUE(root->rmdir("c").is_ok());
    EXPECT_EQ(c->create("late", services::abi::kSIfreg | 0644, 0).error(), Errno::enoent);
  });
}

TEST(Vfs, MountsCoverDirectoriesAndDotDotCrossesBack) {
  test::run_in_kernel([] {
    Tree t;
    t.mkdir("/mnt");
    auto mnt = t.walk("/mnt").release_value();
    auto other = make_ramfs();
    ASSERT_TRUE(other->root()->create("inside", services::abi::kSIfreg | 0644, 0).is_ok());
    ASSERT_TRUE(mount_fs(t.ctx, mnt, other, "none", services::mnt::kRelatime).is_ok());
    auto in = t.walk("/mnt/inside");
    ASSERT_TRUE(in.is_ok());
    EXPECT_EQ(in.value()->inode()->dev(), other->dev());
    EXPECT_EQ(t.walk("/mnt/..").value()->path(), "/");
    EXPECT_EQ(error_of(t.walk("/mnt/inside/..")), Errno::enotdir);
    auto at = t.walk("/mnt").release_value();
    ASSERT_TRUE(unmount(t.ctx, at).is_ok());
    EXPECT_EQ(error_of(t.walk("/mnt/inside")), Errno::enoent);
    EXPECT_EQ(unmount(t.ctx, t.walk("/mnt").release_value()).error(), Errno::einval);
  });
}

TEST(Vfs, MountNamespacesKeepTheirOwnMounts) {
  test::run_in_kernel([] {
    Tree t;
    t.ctx.mnt_ns = copy_mount_namespace(t.ctx);  // a namespace of this test's own
    t.mkdir("/mnt");
    t.mkdir("/mnt2");
    auto a = make_ramfs();
    ASSERT_TRUE(a->root()->create("a", services::abi::kSIfreg | 0644, 0).is_ok());
    ASSERT_TRUE(mount_fs(t.ctx, t.walk("/mnt").release_value(), a, "a", services::mnt::kRelatime).is_ok());
    // The copy has what was mounted before it; what either mounts after stays its own.
    FsContext other(t.root, t.root);
    other.mnt_ns = copy_mount_namespace(t.ctx);
    EXPECT_NE(mount_namespace_inum(*other.mnt_ns), mount_namespace_inum(*t.ctx.mnt_ns));
    auto in_other = [&](std::string_view path) {
      return services::walk(PathLookup{other, nullptr, nullptr}, path, true);
    };
    EXPECT_TRUE(in_other("/mnt/a").is_ok());
    auto b = make_ramfs();
    ASSERT_TRUE(b->root()->create("b", services::abi::kSIfreg | 0644, 0).is_ok());
    ASSERT_TRUE(mount_fs(other, in_other("/mnt2").release_value(), b, "b", services::mnt::kRelatime).is_ok());
    EXPECT_TRUE(in_other("/mnt2/b").is_ok());
    EXPECT_EQ(error_of(t.walk("/mnt2/b")), Errno::enoent);
    ASSERT_TRUE(unmount(t.ctx, t.walk("/mnt").release_value()).is_ok());
    EXPECT_EQ(error_of(t.walk("/mnt/a")), Errno::enoent);
    EXPECT_TRUE(in_other("/mnt/a").is_ok());
    EXPECT_EQ(mounts(other).size(), 3u);  // the root, /mnt, /mnt2
    EXPECT_EQ(mounts(t.ctx).size(), 1u);
  });
}

TEST(Vfs, MountFlagsAreMadeAndShownAsLinuxDoes) {
  namespace mnt = services::mnt;
  constexpr ostd::u64 kRdonly = 1, kNosuid = 2, kNodev = 4, kNoexec = 8, kNosymfollow = 256, kNoatime = 1024,
                      kNodiratime = 2048, kRelatime = 1 << 21, kStrictatime = 1 << 24;
  // A new mount is relatime unless it says noatime or strictatime.
  EXPECT_EQ(mnt::from_ms_flags(0, std::nullopt), mnt::kRelatime);
  EXPECT_EQ(mnt::from_ms_flags(kNoatime, std::nullopt), mnt::kNoatime);
  EXPECT_EQ(mnt::from_ms_flags(kStrictatime, std::nullopt), 0u);
  EXPECT_EQ(mnt::from_ms_flags(kRdonly | kNosuid | kNodev | kNoexec | kNosymfollow, std::nullopt),
            mnt::kReadOnly | mnt::kNosuid | mnt::kNodev | mnt::kNoexec | mnt::kNosymfollow | mnt::kRelatime);
  // A remount keeps the access-time flags unless it names one, and drops the others it omits.
  const ostd::u32 old = mnt::kNoatime | mnt::kNodiratime | mnt::kNoexec;
  EXPECT_EQ(mnt::from_ms_flags(kNosuid, old), mnt::kNosuid | mnt::kNoatime | mnt::kNodiratime);
  EXPECT_EQ(mnt::from_ms_flags(kRelatime, old), mnt::kRelatime);
  EXPECT_EQ(mnt::from_ms_flags(kNodiratime, old), mnt::kRelatime | mnt::kNodiratime);
  // /proc/mounts: "ro" for the mount's or the file system's read-only state, then the mount's
  // flags in show_mnt_opts's order, then the file system's options.
  services::MountInfo m;
  m.flags = mnt::kRelatime | mnt::kNoexec | mnt::kNosuid | mnt::kNosymfollow;
  m.fs_options = ",size=4k";
  EXPECT_EQ(m.options(), "rw,nosuid,noexec,relatime,nosymfollow,size=4k");
  EXPECT_EQ(m.mount_options(), "rw,nosuid,noexec,relatime,nosymfollow");
  EXPECT_EQ(m.super_options(), "rw,size=4k");
  m.fs_read_only = true;
  EXPECT_EQ(m.options().substr(0, 3), "ro,");
  EXPECT_EQ(m.mount_options().substr(0, 3), "rw,");
  EXPECT_EQ(m.super_options(), "ro,size=4k");
  // statfs: ST_NOSUID 2, ST_NOEXEC 8, ST_RELATIME 0x1000, ST_NOSYMFOLLOW 0x2000.
  EXPECT_EQ(mnt::statfs_flags_of(m.flags), 0x300au);
  EXPECT_EQ(mnt::statfs_flags_of(mnt::kReadOnly | mnt::kNodev | mnt::kNoatime | mnt::kNodiratime), 0xc05u);
}

TEST(Vfs, RamFileReadWriteTruncateAndEfault) {
  test::run_in_kernel([] {
    Tree t;
    auto f = t.file("/f", "hello");
    EXPECT_EQ(f->size(), 5u);
    auto r = VmReader::from_kernel(bytes_of_string("XY"));
    EXPECT_EQ(f->write_at(10, r).value(), 2u);  // a hole reads as zeros
    EXPECT_EQ(f->size(), 12u);
    std::array<u8, 16> buf{};
    auto w = VmWriter::from_kernel(buf);
    EXPECT_EQ(f->read_at(3, w).value(), 9u);
    EXPECT_EQ(buf[0], 'l');
    EXPECT_EQ(buf[3], 0);
    EXPECT_EQ(buf[7], 'X');
    EXPECT_TRUE(f->truncate(2).is_ok());
    EXPECT_EQ(f->size(), 2u);
    EXPECT_EQ(f->truncate(u64{1} << 40).error(), Errno::efbig);
    // A write from an unmapped user address fails cleanly and leaves the size alone.
    auto vm = VmSpace::create().release_value();
    auto bad = VmReader::from_user(*vm, 0x10000, 100);
    EXPECT_EQ(f->write_at(0, bad).error(), Errno::efault);
    EXPECT_EQ(f->size(), 2u);
  });
}

// Directories report a size as tmpfs's do: 40 bytes for "." and "..", 20 per entry.
TEST(Vfs, RamDirectorySizeCountsEntriesAsTmpfs) {
  test::run_in_kernel([] {
    Tree t;
    auto d = t.mkdir("/d");
    EXPECT_EQ(d->size(), 40u);
    EXPECT_EQ(d->stat().st_size, 40);
    t.file("/d/a");
    t.mkdir("/d/b");
    t.symlink("/d/c", "a");
    EXPECT_EQ(d->size(), 100u);
    EXPECT_TRUE(d->unlink("a").is_ok());
    EXPECT_EQ(d->size(), 80u);
    EXPECT_TRUE(d->rename("c", *t.fs->root(), "moved").is_ok());
    EXPECT_EQ(d->size(), 60u);
  });
}
