// ostd/dev/p9.h on the host backend: the 9P2000.L server behind `--volume`, spoken to directly
// with hand-made messages — including ones the kernel's client never sends (walks with "/" or
// "..", opens of FIFOs, malformed and truncated requests), since the server is trusted code.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ostd/dev/p9.h>
#include <ostd/host/host.h>
#include <ostd/ostd.h>

namespace {

namespace fs = std::filesystem;
using ostd::u8;

struct Msg {
  std::vector<u8> b;
  explicit Msg(u8 type) : b(7, 0) { b[4] = type; }
  Msg& n(unsigned long long v, int bytes) {
    for (int i = 0; i < bytes; ++i) b.push_back(static_cast<u8>(v >> (8 * i)));
    return *this;
  }
  Msg& s(const std::string& str) {
    n(str.size(), 2);
    b.insert(b.end(), str.begin(), str.end());
    return *this;
  }
  std::vector<u8> done() {
    auto size = static_cast<unsigned>(b.size());
    for (int i = 0; i < 4; ++i) b[static_cast<size_t>(i)] = static_cast<u8>(size >> (8 * i));
    return b;
  }
};

unsigned long long field(const std::vector<u8>& r, size_t at, int bytes) {
  unsigned long long v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<unsigned long long>(r.at(at + static_cast<size_t>(i))) << (8 * i);
  return v;
}

// Sends `m` to share `share`; the reply's type, and its errno when it is an Rlerror.
struct Reply {
  u8 type = 0;
  int err = 0;
  std::vector<u8> bytes;
};
Reply rpc(std::vector<u8> m, size_t share = 0) {
  Reply r;
  EXPECT_TRUE(ostd::p9::rpc(share, m, r.bytes).is_ok());
  EXPECT_GE(r.bytes.size(), 7u);
  EXPECT_EQ(field(r.bytes, 0, 4), r.bytes.size());
  r.type = r.bytes.at(4);
  if (r.type == 7) r.err = static_cast<int>(field(r.bytes, 7, 4));
  return r;
}

constexpr u8 kTversion = 100, kTattach = 104, kTwalk = 110, kTlopen = 12, kTread = 116, kTwrite = 118, kTlcreate = 14,
             kTmkdir = 72, kTunlinkat = 76, kTgetattr = 24, kTreadlink = 22, kTclunk = 120;

void attach(size_t share = 0) {
  EXPECT_EQ(rpc(Msg(kTversion).n(8192, 4).s("9P2000.L").done(), share).type, kTversion + 1);
  EXPECT_EQ(rpc(Msg(kTattach).n(0, 4).n(~0u, 4).s("root").s("").n(0, 4).done(), share).type, kTattach + 1);
}
Reply walk(unsigned from, unsigned to, const std::vector<std::string>& names) {
  Msg m(kTwalk);
  m.n(from, 4).n(to, 4).n(names.size(), 2);
  for (const auto& s : names) m.s(s);
  return rpc(m.done());
}

class P9Server : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("ostd-p9-" + std::to_string(getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_ / "share/dir");
    fs::create_directories(base_ / "ro");
    std::ofstream(base_ / "secret") << "SECRET";
    std::ofstream(base_ / "share/file") << "hello";
    std::ofstream(base_ / "ro/file") << "fixed";
    fs::create_symlink(base_ / "secret", base_ / "share/abs");
    fs::create_symlink("..", base_ / "share/up");
    ASSERT_EQ(mkfifo((base_ / "share/fifo").c_str(), 0644), 0);
  }
  void TearDown() override { fs::remove_all(base_); }

  void run(const std::function<void()>& body) {
    ostd::host::Config cfg;
    cfg.mem_bytes = 64ull << 20;
    cfg.net.user = false;
    cfg.volumes.push_back({(base_ / "share").string(), "/mnt", false, "vol0"});
    cfg.volumes.push_back({(base_ / "ro").string(), "/ro", true, "vol1"});
    ASSERT_EQ(ostd::host::run_kernel(cfg, {},
                                     [&] {
                                       body();
                                       return 0;
                                     }),
              0);
  }
  fs::path base_;
};

TEST_F(P9Server, ListsItsSharesAndNegotiates) {
  run([] {
    ASSERT_EQ(ostd::p9::count(), 2u);
    EXPECT_EQ(ostd::p9::share(0)->tag, "vol0");
    EXPECT_FALSE(ostd::p9::share(0)->read_only);
    EXPECT_TRUE(ostd::p9::share(1)->read_only);
    EXPECT_FALSE(ostd::p9::share(2).has_value());
    std::vector<u8> reply;
    EXPECT_EQ(ostd::p9::rpc(2, Msg(kTversion).n(8192, 4).s("9P2000.L").done(), reply).error(), ostd::Errno::enxio);
    EXPECT_EQ(ostd::p9::rpc(0, std::vector<u8>(3), reply).error(), ostd::Errno::einval);
    // msize is clamped to what the share carries; an unknown dialect is "unknown".
    auto r = rpc(Msg(kTversion).n(1u << 30, 4).s("9P2000.L").done());
    EXPECT_EQ(field(r.bytes, 7, 4), ostd::p9::kMaxMessage);
    r = rpc(Msg(kTversion).n(8192, 4).s("9P2000.u").done());
    EXPECT_EQ(std::string(r.bytes.begin() + 13, r.bytes.end()), "unknown");
  });
}

TEST_F(P9Server, MalformedRequestsGetEinvalAndUnknownFidsEbadf) {
  run([] {
    attach();
    // A size field that is not the message's length, and a message cut inside a field.
    auto m = Msg(kTgetattr).n(0, 4).n(0x7ff, 8).done();
    m[0] ^= 1;
    EXPECT_EQ(rpc(m).err, EINVAL);
    EXPECT_EQ(rpc(Msg(kTwalk).n(0, 4).n(1, 4).n(1, 2).n(40, 2).done()).err, EINVAL);  // name longer than the message
    EXPECT_EQ(rpc(Msg(kTgetattr).n(77, 4).n(0x7ff, 8).done()).err, EBADF);
    EXPECT_EQ(rpc(Msg(kTread).n(0, 4).n(0, 8).n(10, 4).done()).err, EBADF);  // not opened
    EXPECT_EQ(rpc(Msg(0x55).n(0, 4).done()).err, EOPNOTSUPP);
  });
}

TEST_F(P9Server, WalksStayInsideTheShare) {
  run([] {
    attach();
    // Names with a slash or "." are refused; ".." from the root is the root.
    EXPECT_EQ(walk(0, 1, {"../secret"}).err, EINVAL);
    EXPECT_EQ(walk(0, 1, {"dir/../../secret"}).err, EINVAL);
    EXPECT_EQ(walk(0, 1, {"."}).err, EINVAL);
    auto root = rpc(Msg(kTgetattr).n(0, 4).n(0x7ff, 8).done());
    ASSERT_EQ(walk(0, 1, {"..", "..", ".."}).type, kTwalk + 1);
    auto up = rpc(Msg(kTgetattr).n(1, 4).n(0x7ff, 8).done());
    EXPECT_EQ(field(up.bytes, 15 + 5, 8), field(root.bytes, 15 + 5, 8));  // the same qid path
    auto partial = walk(0, 2, {"..", "secret"});                          // the root's parent's file: not there
    ASSERT_EQ(partial.type, kTwalk + 1);
    EXPECT_EQ(field(partial.bytes, 7, 2), 1u);
    EXPECT_EQ(walk(1, 2, {"secret"}).err, ENOENT);
    // A symbolic link is walked to, never through: its fid is the link itself.
    EXPECT_EQ(walk(0, 3, {"abs", "x"}).type, kTwalk + 1);  // a partial walk: one qid, no fid
    EXPECT_EQ(rpc(Msg(kTgetattr).n(3, 4).n(0x7ff, 8).done()).err, EBADF);
    ASSERT_EQ(walk(0, 3, {"abs"}).type, kTwalk + 1);
    EXPECT_EQ(rpc(Msg(kTlopen).n(3, 4).n(O_RDONLY, 4).done()).err, ELOOP);
    auto link = rpc(Msg(kTreadlink).n(3, 4).done());
    EXPECT_EQ(link.type, kTreadlink + 1);
    // "up" -> "..": walking through it is a partial walk too.
    auto r = walk(0, 4, {"up", "secret"});
    EXPECT_EQ(r.type, kTwalk + 1);
    EXPECT_EQ(field(r.bytes, 7, 2), 1u);
    // A FIFO in the share is never opened on the host.
    ASSERT_EQ(walk(0, 5, {"fifo"}).type, kTwalk + 1);
    EXPECT_EQ(rpc(Msg(kTlopen).n(5, 4).n(O_RDONLY, 4).done()).err, EPERM);
  });
}

TEST_F(P9Server, ReadsWritesAndCreates) {
  run([this] {
    attach();
    ASSERT_EQ(walk(0, 1, {"file"}).type, kTwalk + 1);
    ASSERT_EQ(rpc(Msg(kTlopen).n(1, 4).n(O_RDWR, 4).done()).type, kTlopen + 1);
    auto r = rpc(Msg(kTread).n(1, 4).n(1, 8).n(100, 4).done());
    ASSERT_EQ(r.type, kTread + 1);
    EXPECT_EQ(std::string(r.bytes.begin() + 11, r.bytes.end()), "ello");
    EXPECT_EQ(rpc(Msg(kTwrite).n(1, 4).n(5, 8).n(3, 4).n('!', 1).n('!', 1).n('!', 1).done()).type, kTwrite + 1);
    EXPECT_EQ(rpc(Msg(kTclunk).n(1, 4).done()).type, kTclunk + 1);
    std::ifstream in(base_ / "share/file");
    std::string got;
    in >> got;
    EXPECT_EQ(got, "hello!!!");
    // Tlcreate: the directory fid becomes the new, opened file; mode as asked despite umask.
    ASSERT_EQ(walk(0, 2, {"dir"}).type, kTwalk + 1);
    ASSERT_EQ(rpc(Msg(kTlcreate).n(2, 4).s("new").n(O_WRONLY, 4).n(0666, 4).n(getgid(), 4).done()).type, kTlcreate + 1);
    EXPECT_EQ(rpc(Msg(kTwrite).n(2, 4).n(0, 8).n(2, 4).n('o', 1).n('k', 1).done()).type, kTwrite + 1);
    struct stat st {};
    ASSERT_EQ(stat((base_ / "share/dir/new").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0666u);
    EXPECT_EQ(st.st_size, 2);
    EXPECT_EQ(rpc(Msg(kTlcreate).n(0, 4).s("a/b").n(O_WRONLY, 4).n(0644, 4).n(0, 4).done()).err, EINVAL);
    EXPECT_EQ(rpc(Msg(kTmkdir).n(0, 4).s("..").n(0755, 4).n(0, 4).done()).err, EINVAL);
    EXPECT_EQ(rpc(Msg(kTunlinkat).n(0, 4).s("../secret").n(0, 4).done()).err, EINVAL);
    EXPECT_TRUE(fs::exists(base_ / "secret"));
  });
}

TEST_F(P9Server, ReadOnlyShareRefusesChanges) {
  run([this] {
    attach(1);
    auto w = [](unsigned from, unsigned to, const std::string& name) {
      return rpc(Msg(kTwalk).n(from, 4).n(to, 4).n(1, 2).s(name).done(), 1);
    };
    ASSERT_EQ(w(0, 1, "file").type, kTwalk + 1);
    EXPECT_EQ(rpc(Msg(kTlopen).n(1, 4).n(O_RDWR, 4).done(), 1).err, EROFS);
    EXPECT_EQ(rpc(Msg(kTlopen).n(1, 4).n(O_RDONLY | O_TRUNC, 4).done(), 1).err, EROFS);
    EXPECT_EQ(rpc(Msg(kTmkdir).n(0, 4).s("d").n(0755, 4).n(0, 4).done(), 1).err, EROFS);
    EXPECT_EQ(rpc(Msg(kTunlinkat).n(0, 4).s("file").n(0, 4).done(), 1).err, EROFS);
    EXPECT_EQ(rpc(Msg(kTlcreate).n(0, 4).s("n").n(O_WRONLY, 4).n(0644, 4).n(0, 4).done(), 1).err, EROFS);
    EXPECT_EQ(
        rpc(Msg(26).n(1, 4).n(1, 4).n(0600, 4).n(0, 4).n(0, 4).n(0, 8).n(0, 8).n(0, 8).n(0, 8).n(0, 8).done(), 1).err,
        EROFS);
    ASSERT_EQ(rpc(Msg(kTlopen).n(1, 4).n(O_RDONLY, 4).done(), 1).type, kTlopen + 1);
    EXPECT_EQ(rpc(Msg(kTwrite).n(1, 4).n(0, 8).n(1, 4).n('x', 1).done(), 1).err, EROFS);
    std::ifstream in(base_ / "ro/file");
    std::string got;
    in >> got;
    EXPECT_EQ(got, "fixed");
  });
}

}  // namespace
