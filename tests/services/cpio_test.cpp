#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "fs/cpio.h"

using ostd::Errno;
using ostd::u8;

namespace {

// Builds a newc archive from (name, mode, data) triples.
struct Builder {
  std::vector<u8> bytes;
  void add(const std::string& name, unsigned mode, const std::string& data, unsigned ino = 1, unsigned nlink = 1,
           unsigned uid = 0, unsigned gid = 0) {
    char hdr[111];
    std::snprintf(hdr, sizeof hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, uid, gid,
                  nlink, 0u, static_cast<unsigned>(data.size()), 0u, 0u, 0u, 0u, static_cast<unsigned>(name.size() + 1),
                  0u);
    bytes.insert(bytes.end(), hdr, hdr + 110);
    bytes.insert(bytes.end(), name.begin(), name.end());
    bytes.push_back(0);
    while (bytes.size() % 4 != 0) bytes.push_back(0);
    bytes.insert(bytes.end(), data.begin(), data.end());
    while (bytes.size() % 4 != 0) bytes.push_back(0);
  }
  std::vector<u8> done() {
    add("TRAILER!!!", 0, "");
    return bytes;
  }
};

}  // namespace

TEST(Cpio, ParsesFilesDirectoriesAndSymlinks) {
  Builder b;
  b.add(".", 040755, "");
  b.add("bin", 040755, "");
  b.add("bin/busybox", 0100755, "ELF...");
  b.add("bin/sh", 0120777, "busybox");
  b.add("./etc/../init", 0120777, "/bin/sh");
  auto archive = b.done();
  auto entries = services::cpio::parse(archive);
  ASSERT_TRUE(entries.is_ok());
  EXPECT_EQ(entries.value().size(), 5u);
  auto sh = services::cpio::lookup(entries.value(), "/bin/sh");
  ASSERT_TRUE(sh.is_ok());
  EXPECT_EQ(sh.value()->path, "bin/busybox");
  EXPECT_EQ(std::string(sh.value()->data.begin(), sh.value()->data.end()), "ELF...");
  auto init = services::cpio::lookup(entries.value(), "init");
  ASSERT_TRUE(init.is_ok());
  EXPECT_EQ(init.value()->path, "bin/busybox");
  EXPECT_EQ(services::cpio::lookup(entries.value(), "/nope").error(), Errno::enoent);
}

TEST(Cpio, SymlinkLoopIsEloop) {
  Builder b;
  b.add("a", 0120777, "b");
  b.add("b", 0120777, "a");
  auto archive = b.done();
  auto entries = services::cpio::parse(archive).release_value();
  EXPECT_EQ(services::cpio::lookup(entries, "a").error(), Errno::eloop);
}

TEST(Cpio, MalformedArchivesAreEinval) {
  Builder b;
  b.add("file", 0100644, "0123456789");
  auto good = b.done();
  ASSERT_TRUE(services::cpio::parse(good).is_ok());
  // Every truncation fails cleanly.
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<u8> cut(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_EQ(services::cpio::parse(cut).error(), Errno::einval) << "length " << n;
  }
  auto bad_magic = good;
  bad_magic[5] = '9';
  EXPECT_EQ(services::cpio::parse(bad_magic).error(), Errno::einval);
  auto bad_hex = good;
  bad_hex[20] = 'z';
  EXPECT_EQ(services::cpio::parse(bad_hex).error(), Errno::einval);
  auto huge_size = good;
  for (int i = 0; i < 8; ++i) huge_size[54 + i] = 'F';  // filesize field
  EXPECT_EQ(services::cpio::parse(huge_size).error(), Errno::einval);
}

TEST(Cpio, ConcatenatedArchivesAreAllUnpacked) {
  Builder first;
  first.add("bin", 040755, "");
  first.add("bin/sh", 0100755, "old");
  const auto one = first.done();
  auto archive = one;
  archive.resize(512, 0);  // padded to a block, as cpio -H newc writes it
  Builder second;
  second.add("bin/sh", 0100755, "new");
  second.add("etc", 040755, "");
  auto tail = second.done();
  archive.insert(archive.end(), tail.begin(), tail.end());
  auto entries = services::cpio::parse(archive);
  ASSERT_TRUE(entries.is_ok());
  EXPECT_EQ(entries.value().size(), 4u);
  auto sh = services::cpio::lookup(entries.value(), "/bin/sh");
  ASSERT_TRUE(sh.is_ok());
  EXPECT_EQ(std::string(sh.value()->data.begin(), sh.value()->data.end()), "new");  // the later one wins
  EXPECT_TRUE(services::cpio::lookup(entries.value(), "/etc").is_ok());
  // Padding that is not NUL, or a second archive off its 4-byte alignment, is malformed.
  auto garbage = archive;
  garbage[508] = 'x';  // in the padding, where no header starts
  EXPECT_EQ(services::cpio::parse(garbage).error(), Errno::einval);
  std::vector<u8> misaligned(one);
  misaligned.push_back(0);
  misaligned.insert(misaligned.end(), tail.begin(), tail.end());
  EXPECT_EQ(services::cpio::parse(misaligned).error(), Errno::einval);
}

TEST(Cpio, HardLinksShareAKeyAndOwnershipIsKept) {
  Builder b;
  b.add("bin/perl5", 0100755, "", 7, 2, 1000, 100);  // newc: the data comes with the last name
  b.add("bin/other", 0100644, "x", 8, 1);
  b.add("bin/perl", 0100755, "ELF", 7, 2, 1000, 100);
  auto archive = b.done();
  auto entries = services::cpio::parse(archive).release_value();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].link_key, entries[2].link_key);
  EXPECT_NE(entries[0].link_key, entries[1].link_key);
  EXPECT_EQ(entries[0].nlink, 2u);
  EXPECT_EQ(entries[2].uid, 1000u);
  EXPECT_EQ(entries[2].gid, 100u);
  EXPECT_TRUE(entries[0].data.empty());
  EXPECT_EQ(entries[2].data.size(), 3u);
}
