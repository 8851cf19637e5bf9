// The host backend's network interface: QEMU-style user networking through libslirp.
//
// libslirp is a TCP/IP stack of its own that terminates the guest's connections and redoes
// them with umk's host sockets. It is not thread-safe and wants a poll loop, so it lives on a
// thread of its own (the "slirp thread"); the kernel thread only touches the two frame queues
// below. Frames the guest sends go on the transmit queue and an eventfd wakes the slirp thread,
// which feeds them to slirp_input(); frames slirp emits go on the receive queue, and when that
// queue was empty the slirp thread raises the NIC's interrupt line on the kernel thread (a
// signal, like the timer's: host::raise_from_thread). Both queues are bounded; overflow drops.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <ostd/dev/nic.h>
#include <ostd/host/host.h>
#include <ostd/irq.h>
#include <ostd/log.h>

#include "host_internal.h"

namespace ostd::host {

namespace {

constexpr usize kQueueFrames = 512;  // each direction (a NIC's ring)
constexpr u32 kMtu = 1500;
constexpr std::array<u8, 6> kGuestMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};  // QEMU's default

struct SlirpTimer {
  SlirpTimerCb cb = nullptr;
  void* opaque = nullptr;
  i64 expire_ms = -1;  // disarmed
};

struct Nic {
  bool enabled = false;
  // The test NIC (NetConfig::test_nic): no slirp; the wire is this process. Injected frames
  // wait in `held` until the guest sends its first frame; what it sends collects in `sent`.
  bool test = false;
  bool holding = true;
  std::deque<std::vector<u8>> held, sent;
  std::vector<PortForward> forwards;
  Slirp* slirp = nullptr;
  std::thread thread;
  int wake_fd = -1;
  std::atomic<bool> stop{false};
  std::atomic<bool> started{false};

  // Shared between the kernel thread and the slirp thread. The kernel thread holds it with
  // interrupts disabled (no task switch may happen while it is held).
  std::mutex lock;
  std::deque<std::vector<u8>> tx, rx;
  nic::Counters counters;
  std::function<void()> handler;
  std::optional<irq::IrqLine> line;
  std::atomic<int> line_number{-1};

  // The slirp thread's own.
  std::vector<pollfd> fds;
  std::vector<std::unique_ptr<SlirpTimer>> timers;
};

Nic& nic() {
  static Nic n;
  return n;
}

i64 host_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<i64>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// --- libslirp's callbacks (all on the slirp thread) ---

ssize_t send_packet(const void* buf, size_t len, void* opaque) {
  // SAFETY: opaque is the static Nic given to slirp_new; buf holds len bytes for this call.
  auto* n = static_cast<Nic*>(opaque);
  const auto* p = static_cast<const u8*>(buf);
  bool was_empty = false;
  {
    std::lock_guard g(n->lock);
    if (n->rx.size() >= kQueueFrames || len > nic::kEthHeader + kMtu) {
      ++n->counters.rx_dropped;
      return static_cast<ssize_t>(len);
    }
    was_empty = n->rx.empty();
    n->rx.emplace_back(p, p + len);
    ++n->counters.rx_frames;
    n->counters.rx_bytes += len;
  }
  int line = n->line_number.load(std::memory_order_acquire);
  if (was_empty && line >= 0) raise_from_thread(static_cast<u32>(line));
  return static_cast<ssize_t>(len);
}

constexpr Logger kLog{"nic"};

void guest_error(const char* msg, void*) { kLog.debug("slirp: guest error: {}", std::string_view(msg)); }
int64_t clock_get_ns(void*) { return host_now_ns(); }

void* timer_new(SlirpTimerCb cb, void* cb_opaque, void* opaque) {
  // SAFETY: opaque is the static Nic given to slirp_new.
  auto* n = static_cast<Nic*>(opaque);
  auto t = std::make_unique<SlirpTimer>();
  t->cb = cb;
  t->opaque = cb_opaque;
  n->timers.push_back(std::move(t));
  return n->timers.back().get();
}

void timer_free(void* timer, void* opaque) {
  // SAFETY: opaque is the static Nic given to slirp_new.
  auto* n = static_cast<Nic*>(opaque);
  std::erase_if(n->timers, [timer](const auto& t) { return t.get() == timer; });
}

// SAFETY: slirp passes back only timers timer_new returned, still owned by n->timers.
void timer_mod(void* timer, int64_t expire_ms, void*) { static_cast<SlirpTimer*>(timer)->expire_ms = expire_ms; }
void register_poll_fd(int, void*) {}
void unregister_poll_fd(int, void*) {}
void notify(void* opaque) {
  u64 one = 1;
  // SAFETY: opaque is the static Nic: from slirp_new, or host::notify(&n) in transmit.
  ssize_t r = ::write(static_cast<Nic*>(opaque)->wake_fd, &one, sizeof one);
  (void)r;
}

int add_poll(int fd, int events, void* opaque) {
  // SAFETY: opaque is the Nic* slirp_thread passes to slirp_pollfds_fill.
  auto* n = static_cast<Nic*>(opaque);
  short ev = 0;
  if ((events & SLIRP_POLL_IN) != 0) ev |= POLLIN;
  if ((events & SLIRP_POLL_OUT) != 0) ev |= POLLOUT;
  if ((events & SLIRP_POLL_PRI) != 0) ev |= POLLPRI;
  if ((events & SLIRP_POLL_ERR) != 0) ev |= POLLERR;
  if ((events & SLIRP_POLL_HUP) != 0) ev |= POLLHUP;
  n->fds.push_back(pollfd{fd, ev, 0});
  return static_cast<int>(n->fds.size() - 1);
}

int get_revents(int idx, void* opaque) {
  // SAFETY: opaque is the Nic* slirp_thread passes to slirp_pollfds_poll.
  auto* n = static_cast<Nic*>(opaque);
  if (idx < 0 || static_cast<usize>(idx) >= n->fds.size()) return 0;
  short ev = n->fds[static_cast<usize>(idx)].revents;
  int r = 0;
  if ((ev & POLLIN) != 0) r |= SLIRP_POLL_IN;
  if ((ev & POLLOUT) != 0) r |= SLIRP_POLL_OUT;
  if ((ev & POLLPRI) != 0) r |= SLIRP_POLL_PRI;
  if ((ev & POLLERR) != 0) r |= SLIRP_POLL_ERR;
  if ((ev & POLLHUP) != 0) r |= SLIRP_POLL_HUP;
  return r;
}

const SlirpCb kCallbacks = {
    .send_packet = send_packet,
    .guest_error = guest_error,
    .clock_get_ns = clock_get_ns,
    .timer_new = timer_new,
    .timer_free = timer_free,
    .timer_mod = timer_mod,
    .register_poll_fd = register_poll_fd,
    .unregister_poll_fd = unregister_poll_fd,
    .notify = notify,
    .init_completed = nullptr,
    .timer_new_opaque = nullptr,
};

// fec0::`last`, QEMU's IPv6 prefix for its user network.
in6_addr ipv6_site(u8 last) {
  in6_addr a{};
  a.s6_addr[0] = 0xfe;
  a.s6_addr[1] = 0xc0;
  a.s6_addr[15] = last;
  return a;
}

in_addr ipv4(u32 host_order) {
  in_addr a{};
  a.s_addr = htonl(host_order);
  return a;
}

void slirp_thread(Nic* n) {
  n->started.store(true);
  n->started.notify_all();
  for (;;) {
    n->fds.clear();
    n->fds.push_back(pollfd{n->wake_fd, POLLIN, 0});
    u32 timeout_ms = 1000;
    slirp_pollfds_fill(n->slirp, &timeout_ms, add_poll, n);
    i64 now_ms = host_now_ns() / 1000000;
    for (const auto& t : n->timers) {
      if (t->expire_ms < 0) continue;
      i64 left = std::max<i64>(0, t->expire_ms - now_ms);
      timeout_ms = static_cast<u32>(std::min<i64>(timeout_ms, left));
    }
    int r = ::poll(n->fds.data(), n->fds.size(), static_cast<int>(timeout_ms));
    if (n->stop.load(std::memory_order_acquire)) return;
    if (r > 0 && (n->fds[0].revents & POLLIN) != 0) {
      u64 v = 0;
      ssize_t rr = ::read(n->wake_fd, &v, sizeof v);
      (void)rr;
    }
    slirp_pollfds_poll(n->slirp, r < 0 ? 1 : 0, get_revents, n);
    now_ms = host_now_ns() / 1000000;
    for (usize i = 0; i < n->timers.size(); ++i) {
      SlirpTimer* t = n->timers[i].get();
      if (t->expire_ms >= 0 && t->expire_ms <= now_ms) {
        t->expire_ms = -1;
        t->cb(t->opaque);  // may free or create timers: the index is re-checked
      }
    }
    std::deque<std::vector<u8>> frames;
    {
      std::lock_guard g(n->lock);
      frames.swap(n->tx);
    }
    for (const auto& f : frames) slirp_input(n->slirp, f.data(), static_cast<int>(f.size()));
  }
}

}  // namespace

std::string nic_start(const NetConfig& config) {
  Nic& n = nic();
  if (config.test_nic) {
    n.enabled = true;
    n.test = true;
    n.holding = true;
    return {};
  }
  if (!config.user || n.slirp != nullptr) return {};
  SlirpConfig sc{};
  sc.version = 3;
  sc.restricted = 0;
  sc.in_enabled = true;
  sc.vnetwork = ipv4(0x0a000200);
  sc.vnetmask = ipv4(0xffffff00);
  sc.vhost = ipv4(0x0a000202);
  // IPv6 as QEMU's user network sets it up: the prefix fec0::/64, the host at fec0::2 (which
  // reaches the host's own ::1), the DNS proxy at fec0::3.
  sc.in6_enabled = true;
  sc.vprefix_addr6 = ipv6_site(0);
  sc.vprefix_len = 64;
  sc.vhost6 = ipv6_site(2);
  sc.vnameserver6 = ipv6_site(3);
  sc.vhostname = "umk";
  sc.vdhcp_start = ipv4(0x0a00020f);
  sc.vnameserver = ipv4(0x0a000203);
  sc.if_mtu = kMtu;
  sc.if_mru = kMtu;
  sc.disable_host_loopback = false;
  sc.enable_emu = false;
  n.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (n.wake_fd < 0) panic("nic: eventfd: {}", std::string_view(strerror(errno)));
  n.slirp = slirp_new(&sc, &kCallbacks, &n);
  if (n.slirp == nullptr) panic("nic: slirp_new failed");
  for (const auto& f : config.publish) {
    if (slirp_add_hostfwd(n.slirp, f.udp ? 1 : 0, ipv4(f.host_addr), f.host_port, ipv4(0x0a00020f), f.guest_port) < 0) {
      std::string err = format("--publish {}: cannot listen on host port {} ({})", f.text, f.host_port,
                               std::string_view(strerror(errno)));
      slirp_cleanup(n.slirp);
      n.slirp = nullptr;
      ::close(n.wake_fd);
      n.wake_fd = -1;
      return err;
    }
  }
  n.enabled = true;
  n.stop.store(false);
  // The thread takes no asynchronous signals: the timer and device signals are for the kernel
  // thread. Faults and umk's own seccomp trap (SIGSYS) stay deliverable, so that their
  // handlers report them (a blocked one would kill the process without a word).
  sigset_t all, old;
  sigfillset(&all);
  for (int sig : {SIGSYS, SIGSEGV, SIGBUS, SIGILL, SIGFPE}) sigdelset(&all, sig);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  n.started.store(false);
  n.thread = std::thread(slirp_thread, &n);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // Running before boot goes on: the thread's own start-up (glibc's per-thread set-up) must
  // be over before umk confines itself, which can come sooner than a loaded host runs it.
  n.started.wait(false);
  return {};
}

void nic_stop() {
  Nic& n = nic();
  if (n.test) {
    std::lock_guard g(n.lock);
    n.enabled = n.test = false;
    n.held.clear();
    n.rx.clear();
    n.line_number.store(-1);
    n.line.reset();
    n.handler = nullptr;
    return;
  }
  if (n.slirp == nullptr) return;
  n.stop.store(true, std::memory_order_release);
  notify(&n);
  n.thread.join();
  slirp_cleanup(n.slirp);
  n.slirp = nullptr;
  ::close(n.wake_fd);
  n.wake_fd = -1;
  n.enabled = false;
  n.timers.clear();
  std::lock_guard g(n.lock);
  n.tx.clear();
  n.rx.clear();
  n.line_number.store(-1);
  n.line.reset();
  n.handler = nullptr;
}

void test_nic_inject(std::vector<u8> frame) {
  Nic& n = nic();
  int line = -1;
  {
    std::lock_guard g(n.lock);
    if (n.holding || !n.enabled) {
      if (n.held.size() < kQueueFrames) n.held.push_back(std::move(frame));
      return;
    }
    // Released (the guest has sent): delivered now, as a frame off the wire.
    if (n.rx.size() >= kQueueFrames) {
      ++n.counters.rx_dropped;
      return;
    }
    bool was_empty = n.rx.empty();
    n.rx.push_back(std::move(frame));
    if (was_empty) line = n.line_number.load(std::memory_order_acquire);
  }
  if (line >= 0) raise_from_thread(static_cast<u32>(line));
}

std::vector<std::vector<u8>> test_nic_take_sent() {
  Nic& n = nic();
  std::lock_guard g(n.lock);
  std::vector<std::vector<u8>> out(std::make_move_iterator(n.sent.begin()), std::make_move_iterator(n.sent.end()));
  n.sent.clear();
  return out;
}

}  // namespace ostd::host

namespace ostd::nic {

using host::nic;

std::optional<Info> info() {
  if (!nic().enabled) return std::nullopt;
  return Info{host::kGuestMac, host::kMtu};
}

Result<void> transmit(std::span<const u8> frame) {
  auto& n = nic();
  if (!n.enabled) return Errno::enodev;
  if (frame.size() < kEthHeader || frame.size() > kEthHeader + host::kMtu) return Errno::einval;
  bool release = false;
  {
    irq::DisabledGuard irqs;
    std::lock_guard g(n.lock);
    if (n.tx.size() >= host::kQueueFrames) {
      ++n.counters.tx_dropped;
      return Errno::enobufs;
    }
    ++n.counters.tx_frames;
    n.counters.tx_bytes += frame.size();
    if (!n.test) {
      n.tx.emplace_back(frame.begin(), frame.end());
    } else {
      if (n.sent.size() >= host::kQueueFrames) n.sent.pop_front();
      n.sent.emplace_back(frame.begin(), frame.end());
      release = n.holding && !n.held.empty();
      n.holding = false;
      while (!n.held.empty() && n.rx.size() < host::kQueueFrames) {
        n.rx.push_back(std::move(n.held.front()));
        n.held.pop_front();
      }
      n.held.clear();
    }
  }
  if (n.test) {
    if (release && n.line) n.line->raise();
    return {};
  }
  host::notify(&n);
  return {};
}

Result<usize> receive(std::span<u8> dst) {
  auto& n = nic();
  if (!n.enabled) return Errno::enodev;
  std::vector<u8> f;
  {
    irq::DisabledGuard irqs;
    std::lock_guard g(n.lock);
    if (n.rx.empty()) return Errno::eagain;
    f = std::move(n.rx.front());
    n.rx.pop_front();
  }
  usize len = std::min(f.size(), dst.size());
  // SAFETY: len <= dst.size() and <= f.size(); f is a local frame taken off the queue.
  if (len > 0) std::memcpy(dst.data(), f.data(), len);
  return len;
}

Result<void> on_receive(std::function<void()> handler) {
  auto& n = nic();
  if (!n.enabled) return Errno::enodev;
  if (!n.line) {
    auto l = irq::IrqLine::alloc();
    if (l.is_error()) return l.error();
    n.line.emplace(std::move(l.value()));
  }
  n.handler = std::move(handler);
  n.line->on_interrupt([&n](u32) {
    if (n.handler) n.handler();
  });
  n.line->enable();
  n.line_number.store(static_cast<int>(n.line->number()), std::memory_order_release);
  // Frames that came before the handler: tell it now.
  bool pending = false;
  {
    irq::DisabledGuard irqs;
    std::lock_guard g(n.lock);
    pending = !n.rx.empty();
  }
  if (pending) n.line->raise();
  return {};
}

Counters counters() {
  auto& n = nic();
  irq::DisabledGuard irqs;
  std::lock_guard g(n.lock);
  return n.counters;
}

}  // namespace ostd::nic
