// The guest's network as a user meets it: eth0 on QEMU's user network (umk: libslirp; the
// kernel in QEMU: virtio-net on QEMU's own), the host reached at 10.0.2.2, host ports published
// into the guest, and --net none; each case under umk and under scripts/qemu-run, which take the
// same options. The host side of every exchange is this test process, so nothing here needs
// the outside world.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// umk (`kind` "umk") or the kernel in QEMU ("qemu") started with its stdout and stderr in one
// pipe, read to the end by finish().
class GuestProcess {
 public:
  GuestProcess(const std::string& kind, const std::vector<std::string>& args) {
    int p[2];
    EXPECT_EQ(pipe(p), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(p[1], 1);
      dup2(p[1], 2);
      close(p[0]);
      std::vector<std::string> all = {UMK_PATH, "run"};
      if (kind == "qemu") all = {QEMU_RUN};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(all[0].c_str(), argv.data());
      _exit(99);
    }
    close(p[1]);
    fd_ = p[0];
  }
  ~GuestProcess() {
    if (pid_ > 0 && !done_) {
      kill(pid_, SIGKILL);
      finish();
    }
  }
  GuestProcess(const GuestProcess&) = delete;
  GuestProcess& operator=(const GuestProcess&) = delete;

  bool exited() {
    if (done_) return true;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) != pid_) return false;
    record(st);
    return true;
  }
  // Waits for the end (killing umk after `limit`); the status and everything it printed.
  std::pair<int, std::string> finish(std::chrono::seconds limit = std::chrono::seconds(40)) {
    std::string out;
    auto end = Clock::now() + limit;
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
      if (left <= 0) {
        kill(pid_, SIGKILL);
        out += "\n[killed: still running after the time limit]";
        left = 5000;
      }
      if (poll(&p, 1, left) <= 0) break;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    close(fd_);
    if (!done_) {
      int st = 0;
      waitpid(pid_, &st, 0);
      record(st);
    }
    return {status_, out};
  }

 private:
  void record(int st) {
    done_ = true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  bool done_ = false;
  int status_ = -1;
};

// A socket bound to 127.0.0.1 on a port the kernel picks.
int bound_socket(int type, uint16_t& port) {
  int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return s;
}

std::string body_of(size_t size) {
  std::string b(size, '\0');
  for (size_t i = 0; i < size; ++i) b[i] = static_cast<char>('a' + (i * 31 + i / 1000) % 26);
  return b;
}

std::string host_md5(const std::string& data) {
  char path[] = "/tmp/umk-net-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
  std::string cmd = std::string("md5sum < ") + path;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[64] = {};
  EXPECT_NE(fgets(buf, sizeof buf, p), nullptr);
  pclose(p);
  unlink(path);
  return std::string(buf).substr(0, 32);
}

class NetTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "qemu" && access(QEMU_KERNEL, R_OK) != 0) GTEST_SKIP() << "no kernel image at " << QEMU_KERNEL;
  }
  bool qemu() const { return GetParam() == "qemu"; }
};

std::vector<std::string> busybox(const std::vector<std::string>& umk_options, const std::string& script) {
  std::vector<std::string> a = umk_options;
  a.insert(a.end(), {"--initramfs", ROOTFS_CPIO, "--", "/bin/sh", "-c", script});
  return a;
}

TEST_P(NetTest, GuestFetchesFromAServerOnTheHostAt10_0_2_2) {
  // 1 MiB: hundreds of segments through the guest's receive window and the NIC's queues.
  const std::string body = body_of(1 << 20);
  uint16_t port = 0;
  int ls = bound_socket(SOCK_STREAM, port);
  ASSERT_EQ(listen(ls, 4), 0);
  std::thread server([&] {
    int c = accept(ls, nullptr, nullptr);
    if (c < 0) return;
    char req[4096];
    (void)read(c, req, sizeof req);
    std::string head = "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    std::string all = head + body;
    for (size_t off = 0; off < all.size();) {
      ssize_t n = write(c, all.data() + off, all.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(c);
  });
  GuestProcess u(GetParam(), busybox({}, "wget -q -O /tmp/f http://10.0.2.2:" + std::to_string(port) +
                                             "/file && wc -c < /tmp/f && md5sum < /tmp/f"));
  auto [status, out] = u.finish();
  shutdown(ls, SHUT_RDWR);
  server.join();
  close(ls);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find(std::to_string(body.size()) + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find(host_md5(body)), std::string::npos) << out;
}

TEST_P(NetTest, GuestFetchesOverIpv6FromTheHostAtFec0_2) {
  // The user network's IPv6 side: neighbour discovery with the router, then TCP to fec0::2,
  // which the user network forwards to the host's ::1.
  int ls = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  if (ls < 0 || bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    GTEST_SKIP() << "no IPv6 loopback on this host";
  socklen_t len = sizeof a;
  getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  uint16_t port = ntohs(a.sin6_port);
  ASSERT_EQ(listen(ls, 4), 0);
  const std::string body = body_of(200000);
  std::thread server([&] {
    int c = accept(ls, nullptr, nullptr);
    if (c < 0) return;
    char req[4096];
    (void)read(c, req, sizeof req);
    std::string all = "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (size_t off = 0; off < all.size();) {
      ssize_t n = write(c, all.data() + off, all.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(c);
  });
  GuestProcess u(GetParam(), busybox({}, "cat /proc/net/if_inet6; wget -q -O /tmp/f 'http://[fec0::2]:" +
                                             std::to_string(port) + "/file' && md5sum < /tmp/f"));
  auto [status, out] = u.finish();
  shutdown(ls, SHUT_RDWR);
  server.join();
  close(ls);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("fe80000000000000505400fffe123456 02 40 20 80     eth0"), std::string::npos) << out;
  EXPECT_NE(out.find(host_md5(body)), std::string::npos) << out;
}

TEST_P(NetTest, GuestPingsLoopbackAndTheHost) {
  // busybox ping and ping6 on raw ICMP sockets: this kernel answers its own addresses, the user
  // network answers 10.0.2.2 and fec0::2 (the first reply too: the guest's addresses are
  // advertised before its first IPv6 packet).
  GuestProcess u(GetParam(), busybox({},
                                     "ping -c 2 -W 5 127.0.0.1 && ping6 -c 2 -W 5 ::1 && "
                                     "ping -c 2 -W 5 10.0.2.2 && ping6 -c 2 -W 5 fec0::2"));
  auto [status, out] = u.finish();
  EXPECT_EQ(status, 0) << out;
  size_t replies = 0;
  for (size_t at = 0; (at = out.find("2 packets received", at)) != std::string::npos; ++at) ++replies;
  EXPECT_EQ(replies, 4u) << out;
}

TEST_P(NetTest, GuestTalksUdpToTheHostWithFragmentsBothWays) {
  uint16_t port = 0;
  int s = bound_socket(SOCK_DGRAM, port);
  std::atomic<int> answered{0};
  std::thread server([&] {
    std::vector<char> buf(65536);
    for (;;) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(s, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) return;
      std::string reply(buf.data(), static_cast<size_t>(n));
      std::reverse(reply.begin(), reply.end());
      sendto(s, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      ++answered;
    }
  });
  for (std::string size : {"100", "4000", "20000"}) {
    GuestProcess u(GetParam(),
                   {"--initramfs", GUESTS_CPIO, "--", "/udp-client", "10.0.2.2", std::to_string(port), size});
    auto [status, out] = u.finish();
    EXPECT_EQ(status, 0) << "size " << size << ": " << out;
    EXPECT_EQ(out, "reply " + size + " ok\n");
  }
  shutdown(s, SHUT_RDWR);
  server.join();
  close(s);
  EXPECT_GE(answered.load(), 3);
}

TEST_P(NetTest, HostReachesAGuestServerThroughPublish) {
  uint16_t port = 0;
  close(bound_socket(SOCK_STREAM, port));  // a free port, most likely still free below
  const std::string message = "through the published port";
  GuestProcess u(GetParam(), busybox({"--publish", std::to_string(port) + ":8080"}, "nc -l -p 8080"));
  // The forward exists from the start, but the guest listens a little later: until then the
  // guest resets what slirp forwards. Send until the guest's nc has taken one and ended.
  auto end = Clock::now() + std::chrono::seconds(30);
  while (!u.exited() && Clock::now() < end) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      (void)write(c, (message + "\n").data(), message.size() + 1);
      shutdown(c, SHUT_WR);
      char b[64];
      while (read(c, b, sizeof b) > 0) {}
    }
    close(c);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto [status, out] = u.finish();
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, message + "\n");
}

TEST_P(NetTest, NetNoneLeavesOnlyLoopback) {
  GuestProcess u(GetParam(),
                 busybox({"--net", "none"}, "cat /proc/net/dev; wget -q -O - http://10.0.2.2:1/ 2>&1; echo rc=$?"));
  auto [status, out] = u.finish();
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("lo:"), std::string::npos) << out;
  EXPECT_EQ(out.find("eth0"), std::string::npos) << out;
  EXPECT_NE(out.find("Network is unreachable"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
}

TEST_P(NetTest, DefaultNetHasEth0AndResolvConf) {
  GuestProcess u(GetParam(), busybox({}, "cat /etc/resolv.conf; grep -c eth0 /proc/net/dev; cat /proc/net/route"));
  auto [status, out] = u.finish();
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("nameserver 10.0.2.3\n1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("eth0\t00000000\t0202000A\t0003"), std::string::npos) << out;  // default via 10.0.2.2
}

TEST_P(NetTest, PublishingATakenHostPortFailsBeforeBoot) {
  if (qemu()) GTEST_SKIP() << "umk's own check (QEMU reports it its way)";
  uint16_t port = 0;
  int s = bound_socket(SOCK_STREAM, port);
  ASSERT_EQ(listen(s, 1), 0);
  GuestProcess u(GetParam(), busybox({"--publish", std::to_string(port) + ":80"}, "echo booted"));
  auto [status, out] = u.finish();
  close(s);
  EXPECT_EQ(status, 125) << out;
  EXPECT_NE(out.find("--publish " + std::to_string(port) + ":80: cannot listen"), std::string::npos) << out;
  EXPECT_EQ(out.find("booted"), std::string::npos) << out;
}

TEST_P(NetTest, MalformedPublishIsAUsageError) {
  if (qemu()) GTEST_SKIP() << "umk's own check";
  for (std::string bad : {"80", "x:80", "1:2:3:4", "0:80", "80:70000", "80:80/sctp", "999.1.1.1:80:80"}) {
    GuestProcess u(GetParam(), busybox({"--publish", bad}, "true"));
    auto [status, out] = u.finish();
    EXPECT_EQ(status, 2) << bad << ": " << out;
    EXPECT_NE(out.find("--publish needs"), std::string::npos) << bad << ": " << out;
  }
}

std::string kind_name(const testing::TestParamInfo<std::string>& info) { return info.param; }
INSTANTIATE_TEST_SUITE_P(Umk, NetTest, testing::Values("umk"), kind_name);
INSTANTIATE_TEST_SUITE_P(Qemu, NetTest, testing::Values("qemu"), kind_name);

}  // namespace
