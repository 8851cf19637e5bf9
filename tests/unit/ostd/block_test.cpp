// ostd/dev/block.h on the host backend: disks backed by host files (`--disk`).
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ostd/dev/block.h>
#include <ostd/host/host.h>
#include <ostd/ostd.h>

namespace {

using ostd::Errno;

// A host file of `bytes` bytes whose byte i is (i * 7 + i / 512) & 0xff.
std::string make_disk_file(size_t bytes) {
  char path[] = "/tmp/ostd-block-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  std::vector<unsigned char> data(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<unsigned char>(i * 7 + i / 512);
  EXPECT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
  return path;
}

void run_with_disks(std::vector<ostd::host::DiskConfig> disks, const std::function<void()>& body) {
  ostd::host::Config cfg;
  cfg.mem_bytes = 64ull << 20;
  cfg.net.user = false;
  cfg.disks = std::move(disks);
  ASSERT_EQ(ostd::host::run_kernel(cfg, {},
                                   [&] {
                                     body();
                                     return 0;
                                   }),
            0);
}

TEST(Block, ReadsAndWritesSectorsOfTheHostFile) {
  // 64 KiB and a partial sector at the end, which is not part of the disk.
  std::string path = make_disk_file(65536 + 100);
  run_with_disks({{path, false}}, [] {
    ASSERT_EQ(ostd::block::count(), 1u);
    auto info = ostd::block::info(0);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->bytes, 65536u);
    EXPECT_FALSE(info->read_only);
    EXPECT_FALSE(ostd::block::info(1).has_value());

    std::vector<ostd::u8> sector(512);
    ASSERT_TRUE(ostd::block::read(0, 1024, sector).is_ok());
    for (size_t i = 0; i < 512; ++i) ASSERT_EQ(sector[i], static_cast<ostd::u8>((1024 + i) * 7 + (1024 + i) / 512));
    std::fill(sector.begin(), sector.end(), 0xab);
    ASSERT_TRUE(ostd::block::write(0, 4096, sector).is_ok());
    ASSERT_TRUE(ostd::block::flush(0).is_ok());

    // Frames: two pages at 8 KiB, straight into frames and back out at 32 KiB.
    std::array<ostd::Frame, 2> frames{ostd::Frame::alloc().release_value(), ostd::Frame::alloc().release_value()};
    ASSERT_TRUE(ostd::block::read_frames(0, 8192, frames).is_ok());
    std::vector<ostd::u8> page(4096);
    ASSERT_TRUE(frames[1].read_bytes(0, page).is_ok());
    EXPECT_EQ(page[5], static_cast<ostd::u8>((12288 + 5) * 7 + (12288 + 5) / 512));
    ASSERT_TRUE(ostd::block::write_frames(0, 32768, frames).is_ok());

    // Whole sectors only; nothing past the end; no such disk.
    std::vector<ostd::u8> odd(100);
    EXPECT_EQ(ostd::block::read(0, 0, odd).error(), Errno::einval);
    EXPECT_EQ(ostd::block::read(0, 100, sector).error(), Errno::einval);
    EXPECT_EQ(ostd::block::read(0, 65536, sector).error(), Errno::eio);
    EXPECT_EQ(ostd::block::write(0, 65536 - 512, std::vector<ostd::u8>(1024)).error(), Errno::eio);
    EXPECT_EQ(ostd::block::read(1, 0, sector).error(), Errno::enxio);
    EXPECT_EQ(ostd::block::flush(1).error(), Errno::enxio);
  });
  // What the kernel wrote is in the host file.
  int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::vector<unsigned char> got(512);
  ASSERT_EQ(pread(fd, got.data(), 512, 4096), 512);
  for (unsigned char c : got) ASSERT_EQ(c, 0xab);
  std::vector<unsigned char> a(8192), b(8192);
  ASSERT_EQ(pread(fd, a.data(), 8192, 8192), 8192);
  ASSERT_EQ(pread(fd, b.data(), 8192, 32768), 8192);
  EXPECT_EQ(a, b);
  close(fd);
  unlink(path.c_str());
}

TEST(Block, ReadOnlyDiskRefusesWrites) {
  std::string path = make_disk_file(8192);
  run_with_disks({{path, true}}, [] {
    auto info = ostd::block::info(0);
    ASSERT_TRUE(info.has_value());
    EXPECT_TRUE(info->read_only);
    std::vector<ostd::u8> sector(512);
    EXPECT_TRUE(ostd::block::read(0, 0, sector).is_ok());
    EXPECT_EQ(ostd::block::write(0, 0, sector).error(), Errno::erofs);
    EXPECT_TRUE(ostd::block::flush(0).is_ok());
  });
  unlink(path.c_str());
}

TEST(Block, MissingFileFailsTheBoot) {
  ostd::host::Config cfg;
  cfg.mem_bytes = 64ull << 20;
  cfg.net.user = false;
  cfg.disks = {{"/nonexistent/disk.img", false}};
  EXPECT_EQ(ostd::host::run_kernel(cfg, {}, [] { return 0; }), 125);
  // And a later boot without disks has none.
  cfg.disks.clear();
  ostd::host::run_kernel(cfg, {}, [] {
    EXPECT_EQ(ostd::block::count(), 0u);
    return 0;
  });
}

TEST(Block, ParsesDiskOptions) {
  auto d = ostd::host::parse_disk("img.raw:ro");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->path, "img.raw");
  EXPECT_TRUE(d->read_only);
  d = ostd::host::parse_disk("dir/a:b.img");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->path, "dir/a:b.img");
  EXPECT_FALSE(d->read_only);
  EXPECT_FALSE(ostd::host::parse_disk(":ro").has_value());
  EXPECT_FALSE(ostd::host::parse_disk("").has_value());
}

}  // namespace
