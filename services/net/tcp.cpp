// TCP over IPv4 and IPv6 (RFC 9293): connections, the state machine, flow control by the peer's window,
// orderly and abortive close, listeners with an accept queue and a backlog, the MSS option,
// retransmission on the RFC 6298 timer and on three duplicate ACKs (the first unacknowledged
// segment) with partial-ACK loss recovery, NewReno congestion control (RFC 5681, RFC 6582,
// an initial window of ten segments, RFC 6928), zero-window probes, an out-of-order queue,
// keepalive probes (RFC 1122 4.2.3.6, Linux's tcp_keepalive_timer). Not yet: window scaling,
// timestamps, SACK.
// Linux's tcp.c/tcp_input.c/af_inet.c are the reference for the socket rules.
#include <algorithm>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include <ostd/format.h>
#include <ostd/time.h>

#include "fs/pipe.h"
#include "net/inet.h"
#include "process/process.h"
#include "signal/signal.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::i32;
using ostd::Result;
using ostd::u16;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;

namespace {

constexpr usize kTcpHeader = 20;
constexpr u8 kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
constexpr usize kBufferSize = 65536;              // each direction's buffer (the window is at most 64 KiB)
constexpr u16 kMss = 32768;                       // what a loopback connection reports
constexpr u16 kDefaultMss = 536;                  // TCP_MAXSEG before a connection, and without the option
constexpr u64 kInitialRtoNs = ostd::kNsPerSec;    // RFC 6298 2.1
constexpr u64 kMinRtoNs = 200 * ostd::kNsPerMs;   // Linux's TCP_RTO_MIN
constexpr u64 kMaxRtoNs = 120 * ostd::kNsPerSec;  // TCP_RTO_MAX
constexpr u32 kSynRetries = 6, kSynAckRetries = 5, kRetries2 = 15;  // net.ipv4.tcp_*
constexpr int kMaxSynBacklog = 256;  // half-open connections a listener keeps at least (no SYN cookies)
constexpr u64 kTimeWaitNs = 60ull * 1000000000;
constexpr int kSolTcp = 6;
constexpr int kTcpNodelay = 1, kTcpMaxseg = 2, kTcpCork = 3, kTcpKeepidle = 4, kTcpKeepintvl = 5, kTcpKeepcnt = 6,
              kTcpDeferAccept = 9, kTcpInfo = 11, kTcpQuickack = 12, kTcpCongestion = 13, kTcpUserTimeout = 18;
constexpr int kSigpipe = 13;

// clang-format off
enum class TcpState : u8 {
  Established = 1, SynSent, SynReceived, FinWait1, FinWait2, TimeWait, Closed, CloseWait, LastAck, Listen, Closing
};  // Linux's TCP_* numbers (TCP_INFO, /proc/net/tcp)
// clang-format on

bool seq_lt(u32 a, u32 b) { return static_cast<i32>(a - b) < 0; }
bool seq_le(u32 a, u32 b) { return static_cast<i32>(a - b) <= 0; }

struct TcpCore;
using Key = std::tuple<IpAddr, u16, IpAddr, u16>;  // local addr, port, remote addr, port

struct TcpTables {
  std::map<Key, std::shared_ptr<TcpCore>> conns;  // every connection not yet closed
  std::multimap<u16, std::shared_ptr<TcpCore>> listeners;
  std::multimap<u16, std::weak_ptr<TcpCore>> bound;  // ports taken by bind/connect
  u16 next_ephemeral = kEphemeralLow;
  u32 next_iss = 0x1000;
  // Connections with a deadline (TIME-WAIT, orphans in FIN-WAIT), in deadline order.
  std::deque<std::pair<u64, std::weak_ptr<TcpCore>>> deadlines;
};

TcpTables& tables() {
  static TcpTables t;
  return t;
}

struct TcpCore {
  TcpState state = TcpState::Closed;
  int family = kAfInet;  // the socket's: AF_INET6 ones see IPv4 peers IPv4-mapped
  InetEndpoint local, remote;
  IpOptions ip;
  bool ever_connected = false;
  // Sending: the ring holds bytes from snd_una on (sent and unacknowledged, then unsent).
  u32 iss = 0, snd_una = 0, snd_nxt = 0, snd_wnd = 0;
  u16 mss = kDefaultMss;  // the largest segment we send: the peer's MSS option, our route's
  u16 adv_mss = kMss;     // what our SYN announces (the route's MTU less the headers)
  PipeRing snd{kBufferSize};
  // Retransmission (RFC 6298): the timer runs while anything sent is unacknowledged.
  u64 rto_ns = kInitialRtoNs, srtt_ns = 0, rttvar_ns = 0;
  u64 rtx_deadline = 0;  // 0: not armed
  u32 retries = 0, dupacks = 0;
  // Loss recovery after a timeout or a fast retransmit: every ACK below `recover` (a partial
  // ACK) has the next hole sent at once (RFC 6582's rule), not one segment per timeout.
  u32 recover = 0;
  bool recovering = false;
  // Congestion control (RFC 5681, NewReno's fast recovery of RFC 6582): what may be in flight
  // besides the peer's window; set when the connection is established.
  u32 cwnd = 0, ssthresh = 0x7fffffff;
  bool fast_recovery = false;  // entered on three duplicate ACKs (else a timeout's recovery)
  u64 last_send = 0;           // when data last went (restart after idle)
  u32 rtt_seq = 0;
  u64 rtt_start = 0;  // 0: no segment being timed
  bool fin_queued = false, fin_sent = false;
  // Receiving.
  u32 irs = 0, rcv_nxt = 0, last_window = 0;
  PipeRing rcv{kBufferSize};
  // Segments that came past a hole, by sequence number, until the hole is filled (their
  // bytes stay within the window, which bounds them).
  std::vector<std::pair<u32, std::vector<u8>>> out_of_order;
  usize out_of_order_bytes = 0;
  bool fin_received = false;
  u32 shutdown = 0;
  int err = 0;
  int soft_err = 0;  // an ICMP error while established: what a timeout then reports
  // Listening.
  int backlog = 0;
  std::deque<std::shared_ptr<TcpCore>> accept_queue;
  int half_open = 0;  // children still in SYN-RECEIVED
  std::weak_ptr<TcpCore> parent;
  u64 time_wait_end = 0;
  bool reuseaddr = false, reuseport = false;
  bool has_file = false;  // an open socket file owns it (else an orphan finishing its close)
  u32 uid = 0;
  u64 ino = 0;
  ostd::WaitQueue queue;
  u64 rx_events = 0, tx_events = 0;  // data or a connection came; room came (poll_event_count)
  // Keepalive (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT): after `keep_idle_ns` without a segment
  // from the peer, a probe every `keep_intvl_ns`; `keep_cnt` unanswered ones end the connection.
  bool keepalive = false;
  u64 keep_idle_ns = 7200 * ostd::kNsPerSec, keep_intvl_ns = 75 * ostd::kNsPerSec;
  u32 keep_cnt = 9, keep_probes = 0;
  u64 last_heard = 0;  // when the peer's last segment came (monotonic ns)
  u64 keep_next = 0;   // when the keepalive timer looks next (0: not armed)

  u32 window() const { return static_cast<u32>(std::min<usize>(rcv.space(), 65535)); }
};

void put_segment(TcpCore& c, u32 seq, u8 flags, std::span<const u8> data) {
  usize opt = (flags & kSyn) != 0 ? 4 : 0;
  std::vector<u8> seg(kTcpHeader + opt + data.size());
  put16(seg, 0, c.local.port);
  put16(seg, 2, c.remote.port);
  put32(seg, 4, seq);
  put32(seg, 8, (flags & kAck) != 0 ? c.rcv_nxt : 0);
  seg[12] = static_cast<u8>(((kTcpHeader + opt) / 4) << 4);
  seg[13] = flags;
  c.last_window = c.window();
  put16(seg, 14, static_cast<u16>(c.last_window));
  if (opt != 0) {
    seg[20] = 2;  // MSS
    seg[21] = 4;
    put16(seg, 22, c.adv_mss);
  }
  std::copy(data.begin(), data.end(), seg.begin() + static_cast<long>(kTcpHeader + opt));
  if (!checksum_unneeded(c.remote.addr))
    put16(seg, 16, transport_checksum(c.local.addr, c.remote.addr, kIpprotoTcp, seg));
  (void)ip_output(c.local.addr, c.remote.addr, kIpprotoTcp, seg, c.ip.hops_to(c.remote.addr),
                  c.ip.tos_to(c.remote.addr));
}

// The MSS a connection to `dst` announces: the route's MTU less the IP and TCP headers (the
// loopback interface reports Linux's loopback figure).
u16 route_mss(const IpAddr& dst) {
  auto r = route_lookup(dst);
  if (r.is_error() || (r.value().dev->flags & kIffLoopback) != 0) return kMss;
  return static_cast<u16>(std::min<u32>(r.value().dev->mtu - (dst.is_v4() ? 40 : 60), kMss));
}

void arm_rtx(TcpCore& c) {
  if (c.rtx_deadline != 0) return;
  c.rtx_deadline = ostd::monotonic_ns() + c.rto_ns;
  net_timer_deadline(c.rtx_deadline);
}

// A round-trip sample (RFC 6298 2.2-2.3, G = one jiffy).
void rtt_sample(TcpCore& c, u64 r) {
  if (c.srtt_ns == 0) {
    c.srtt_ns = r;
    c.rttvar_ns = r / 2;
  } else {
    u64 diff = c.srtt_ns > r ? c.srtt_ns - r : r - c.srtt_ns;
    c.rttvar_ns = (3 * c.rttvar_ns + diff) / 4;
    c.srtt_ns = (7 * c.srtt_ns + r) / 8;
  }
  c.rto_ns = std::clamp<u64>(c.srtt_ns + std::max<u64>(ostd::kNsPerSec / ostd::tick_hz(), 4 * c.rttvar_ns), kMinRtoNs,
                             kMaxRtoNs);
}

// A reset for a segment nobody owns (RFC 9293 3.10.7.1).
void send_reset_for(const IpAddr& src, u16 sport, const IpAddr& dst, u16 dport, u32 seq, u32 ack, bool had_ack,
                    usize seg_len) {
  TcpCore tmp;
  tmp.local = {dst, dport};
  tmp.remote = {src, sport};
  if (had_ack) {
    put_segment(tmp, ack, kRst, {});
  } else {
    tmp.rcv_nxt = seq + static_cast<u32>(seg_len);
    put_segment(tmp, 0, kRst | kAck, {});
  }
}

void unbind(TcpCore& c) {
  auto [lo, hi] = tables().bound.equal_range(c.local.port);
  for (auto it = lo; it != hi;) {
    auto o = it->second.lock();
    it = (!o || o.get() == &c) ? tables().bound.erase(it) : std::next(it);
  }
}

// The connection is over: out of the tables, readers and writers woken.
void finish(const std::shared_ptr<TcpCore>& c) {
  tables().conns.erase(Key{c->local.addr, c->local.port, c->remote.addr, c->remote.port});
  if (c->state == TcpState::SynReceived) {
    if (auto l = c->parent.lock()) --l->half_open;
  }
  if (!c->has_file) {
    unbind(*c);
    c->snd = PipeRing(kBufferSize);
    c->rcv = PipeRing(kBufferSize);
  }
  c->state = TcpState::Closed;
  c->shutdown = kShutdownMask;
  ++c->rx_events;
  ++c->tx_events;
  c->out_of_order.clear();
  c->out_of_order_bytes = 0;
  file_state_changed(c->queue);
}

// `n` bytes of the send ring from `offset` (bytes past snd_una), for a segment.
std::vector<u8> send_bytes(const TcpCore& c, usize offset, usize n) {
  std::vector<u8> data;
  data.reserve(n);
  for (auto piece : c.snd.stored(offset, n)) data.insert(data.end(), piece.begin(), piece.end());
  return data;
}

// RFC 6928's initial window: ten segments, at least two, about 14600 bytes when the MSS is small.
u32 initial_window(u16 mss) { return std::min<u32>(10u * mss, std::max<u32>(2u * mss, 14600)); }

// The connection is established: congestion control starts with the initial window.
void start_congestion_control(TcpCore& c) {
  c.cwnd = initial_window(c.mss);
  c.ssthresh = 0x7fffffff;
  c.fast_recovery = false;
}

// What is in flight counts against the congestion window: half of it is the new slow-start
// threshold after a loss (RFC 5681 (4)), at least two segments.
void on_congestion(TcpCore& c) {
  u32 flight = c.snd_nxt - c.snd_una;
  c.ssthresh = std::max<u32>(flight / 2, 2u * c.mss);
}

// Sends what the peer's window and the congestion window allow, then our FIN once every byte
// went.
void output(TcpCore& c) {
  if (c.state != TcpState::Established && c.state != TcpState::CloseWait && c.state != TcpState::FinWait1 &&
      c.state != TcpState::LastAck && c.state != TcpState::Closing) {
    return;
  }
  usize in_flight = c.snd_nxt - c.snd_una - (c.fin_sent ? 1 : 0);
  // A connection idle for an RTO starts again from the initial window (RFC 5681 4.1).
  if (c.snd_una == c.snd_nxt && c.last_send != 0 && ostd::monotonic_ns() - c.last_send > c.rto_ns) {
    c.cwnd = std::min(c.cwnd, initial_window(c.mss));
  }
  while (c.snd.size() > in_flight) {
    u32 allowed = c.cwnd != 0 ? std::min(c.snd_wnd, c.cwnd) : c.snd_wnd;
    u32 wnd_end = c.snd_una + allowed;
    if (!seq_lt(c.snd_nxt, wnd_end)) break;
    usize n = std::min<usize>({c.snd.size() - in_flight, wnd_end - c.snd_nxt, c.mss});
    put_segment(c, c.snd_nxt, kAck | kPsh, send_bytes(c, in_flight, n));
    c.snd_nxt += static_cast<u32>(n);
    in_flight += n;
    c.last_send = ostd::monotonic_ns();
    if (c.rtt_start == 0) {
      c.rtt_start = ostd::monotonic_ns();
      c.rtt_seq = c.snd_nxt;
    }
    arm_rtx(c);
  }
  if (c.fin_queued && !c.fin_sent && c.snd.size() == in_flight) {
    put_segment(c, c.snd_nxt, kFin | kAck, {});
    ++c.snd_nxt;
    c.fin_sent = true;
    arm_rtx(c);
  }
  // Unsent data the peer's closed window holds back: the persist timer probes it.
  if (c.snd.size() > in_flight && c.snd_una == c.snd_nxt) arm_rtx(c);
}

// Keeps a data segment that came past rcv_nxt (inside the window) for when the hole fills.
void keep_out_of_order(TcpCore& c, u32 seq_in, std::span<const u8> data) {
  if (data.empty() || c.fin_received || !seq_lt(c.rcv_nxt, seq_in)) return;
  if (c.state != TcpState::Established && c.state != TcpState::FinWait1 && c.state != TcpState::FinWait2) return;
  usize offset = seq_in - c.rcv_nxt;
  usize window = c.rcv.space();
  if (offset >= window) return;
  usize n = std::min(data.size(), window - offset);
  for (const auto& [seq, d] : c.out_of_order) {
    if (seq == seq_in && d.size() >= n) return;  // a duplicate
  }
  if (c.out_of_order_bytes + n > window) return;
  c.out_of_order.emplace_back(seq_in, std::vector<u8>(data.begin(), data.begin() + static_cast<long>(n)));
  c.out_of_order_bytes += n;
}

// Appends received bytes at rcv_nxt (as far as the ring has room); how many went in.
usize take_in_order(TcpCore& c, std::span<const u8> data) {
  usize take = std::min(data.size(), c.rcv.space());
  usize at = 0;
  for (auto piece : c.rcv.room(take)) {
    std::copy_n(data.begin() + static_cast<long>(at), piece.size(), piece.begin());
    at += piece.size();
  }
  c.rcv.commit(take);
  c.rcv_nxt += static_cast<u32>(take);
  if (take > 0) ++c.rx_events;
  return take;
}

// The kept segments the new rcv_nxt reaches, in order; the ones wholly behind it go.
void drain_out_of_order(TcpCore& c) {
  for (bool progress = true; progress && !c.out_of_order.empty();) {
    progress = false;
    for (usize i = 0; i < c.out_of_order.size(); ++i) {
      auto& [seq, d] = c.out_of_order[i];
      if (seq_lt(c.rcv_nxt, seq)) continue;  // still past a hole
      u32 old = c.rcv_nxt - seq;
      if (old < d.size()) (void)take_in_order(c, std::span<const u8>(d).subspan(old));
      c.out_of_order_bytes -= d.size();
      c.out_of_order.erase(c.out_of_order.begin() + static_cast<long>(i));
      progress = true;
      break;
    }
  }
}

// The first unacknowledged segment again (the timer or three duplicate ACKs).
void retransmit(TcpCore& c) {
  c.rtt_start = 0;  // Karn: no sample from a retransmitted segment
  switch (c.state) {
    case TcpState::SynSent: put_segment(c, c.iss, kSyn, {}); return;
    case TcpState::SynReceived: put_segment(c, c.iss, kSyn | kAck, {}); return;
    default: break;
  }
  usize in_flight = c.snd_nxt - c.snd_una - (c.fin_sent ? 1 : 0);
  if (in_flight > 0) {
    usize n = std::min<usize>(in_flight, c.mss);
    put_segment(c, c.snd_una, kAck | kPsh, send_bytes(c, 0, n));
  } else if (c.fin_sent && c.snd_una != c.snd_nxt) {
    put_segment(c, c.snd_nxt - 1, kFin | kAck, {});
  } else if (c.snd.size() > 0) {
    put_segment(c, c.snd_una - 1, kAck, {});  // a zero-window probe (tcp_xmit_probe_skb)
  }
}

void send_ack(TcpCore& c) { put_segment(c, c.snd_nxt, kAck, {}); }

// Arms the keepalive timer for an established connection (when keepalive is on): it looks
// again `keep_idle_ns` after the peer was last heard.
void arm_keepalive(TcpCore& c) {
  if (!c.keepalive) {
    c.keep_next = 0;
    return;
  }
  if (c.last_heard == 0) c.last_heard = ostd::monotonic_ns();
  c.keep_next = c.last_heard + c.keep_idle_ns;
  net_timer_deadline(c.keep_next);
}

// TIME-WAIT: every byte we sent was acknowledged, so the send ring's memory goes (and the
// receive ring's too when no file can read it any more); the entry itself lives 60 s.
void set_deadline(const std::shared_ptr<TcpCore>& c) {
  c->time_wait_end = ostd::monotonic_ns() + kTimeWaitNs;
  tables().deadlines.emplace_back(c->time_wait_end, c);
}

void enter_time_wait(const std::shared_ptr<TcpCore>& cp) {
  TcpCore& c = *cp;
  c.state = TcpState::TimeWait;
  set_deadline(cp);
  c.snd = PipeRing(kBufferSize);
  if (!c.has_file) c.rcv = PipeRing(kBufferSize);
}

struct Segment {
  IpAddr src, dst;
  u16 sport, dport;
  u32 seq, ack;
  u8 flags;
  u16 window;
  u16 mss;  // the MSS option (0: none)
  std::span<const u8> data;
  usize len() const { return data.size() + ((flags & kSyn) != 0 ? 1 : 0) + ((flags & kFin) != 0 ? 1 : 0); }
};

void on_reset(const std::shared_ptr<TcpCore>& c) {
  if (c->state == TcpState::SynSent) {
    c->err = static_cast<int>(Errno::econnrefused);
  } else if (c->state == TcpState::CloseWait) {
    c->err = static_cast<int>(Errno::epipe);
  } else {
    c->err = static_cast<int>(Errno::econnreset);
  }
  finish(c);
}

void listen_input(const std::shared_ptr<TcpCore>& l, const Segment& s) {
  if ((s.flags & kRst) != 0) return;
  if ((s.flags & kAck) != 0) {
    send_reset_for(s.src, s.sport, s.dst, s.dport, s.seq, s.ack, true, s.len());
    return;
  }
  if ((s.flags & kSyn) == 0) return;
  // A full accept queue (more than `backlog` waiting, sk_acceptq_is_full) or too many half-open
  // connections: the SYN is dropped, and the client's retransmission may find room later.
  if (l->accept_queue.size() > static_cast<usize>(l->backlog) || l->half_open >= std::max(l->backlog, kMaxSynBacklog)) {
    ++net_counters().tcp_listen_drops;
    return;
  }
  auto c = std::make_shared<TcpCore>();
  c->family = l->family;
  c->ip = l->ip;
  c->ip.groups.clear();
  c->keepalive = l->keepalive;  // an accepted socket inherits the listener's options
  c->keep_idle_ns = l->keep_idle_ns;
  c->keep_intvl_ns = l->keep_intvl_ns;
  c->keep_cnt = l->keep_cnt;
  c->local = {s.dst, s.dport};
  c->remote = {s.src, s.sport};
  c->irs = s.seq;
  c->rcv_nxt = s.seq + 1;
  c->iss = tables().next_iss += 64000;
  c->snd_una = c->iss;
  c->snd_nxt = c->iss + 1;
  c->snd_wnd = s.window;
  c->adv_mss = route_mss(s.src);
  c->mss = std::min<u16>(c->adv_mss, s.mss != 0 ? s.mss : kDefaultMss);
  c->state = TcpState::SynReceived;
  c->parent = l;
  ++l->half_open;
  c->uid = l->uid;
  tables().conns[Key{c->local.addr, c->local.port, c->remote.addr, c->remote.port}] = c;
  put_segment(*c, c->iss, kSyn | kAck, {});
  arm_rtx(*c);
}

void conn_input(const std::shared_ptr<TcpCore>& cp, const Segment& in) {
  TcpCore& c = *cp;
  if (c.state == TcpState::SynSent) {
    const Segment& s = in;
    if ((s.flags & kAck) != 0 && (seq_le(s.ack, c.iss) || seq_lt(c.snd_nxt, s.ack))) {
      if ((s.flags & kRst) == 0) send_reset_for(s.src, s.sport, s.dst, s.dport, s.seq, s.ack, true, s.len());
      return;
    }
    if ((s.flags & kRst) != 0) {
      if ((s.flags & kAck) != 0) on_reset(cp);
      return;
    }
    if ((s.flags & kSyn) == 0 || (s.flags & kAck) == 0) return;
    c.irs = s.seq;
    c.rcv_nxt = s.seq + 1;
    c.snd_una = s.ack;
    c.snd_wnd = s.window;
    c.mss = std::min<u16>(c.adv_mss, s.mss != 0 ? s.mss : kDefaultMss);
    c.rtx_deadline = 0;
    c.retries = 0;
    c.state = TcpState::Established;
    c.ever_connected = true;
    ++c.tx_events;
    start_congestion_control(c);
    arm_keepalive(c);
    send_ack(c);
    output(c);
    file_state_changed(c.queue);
    return;
  }
  if (c.state == TcpState::TimeWait) {
    if ((in.flags & kRst) == 0) send_ack(c);
    return;
  }
  // Sequence check: a segment is taken from rcv_nxt on. One that starts earlier (a
  // retransmission overlapping what we have) is trimmed; one that starts later is dropped
  // (no out-of-order queue yet) and answered with an ACK, as is a pure duplicate.
  Segment s = in;
  if (seq_lt(s.seq, c.rcv_nxt) && (s.flags & kRst) == 0) {
    u32 old = c.rcv_nxt - s.seq;
    if ((s.flags & kSyn) != 0) {
      s.flags = static_cast<u8>(s.flags & ~kSyn);
      --old;
      ++s.seq;
    }
    if (old > s.data.size() || (old == s.data.size() && (s.flags & kFin) == 0 && !s.data.empty())) {
      send_ack(c);
      return;
    }
    s.data = s.data.subspan(old);
    s.seq = c.rcv_nxt;
  }
  if (s.seq != c.rcv_nxt) {
    if ((s.flags & kRst) == 0) {
      keep_out_of_order(c, s.seq, s.data);
      send_ack(c);  // a duplicate ACK: the sender learns of the hole
    }
    return;
  }
  if ((s.flags & kRst) != 0) {
    on_reset(cp);
    return;
  }
  if ((s.flags & kSyn) != 0) {  // a SYN in the window: the connection is reset (RFC 5961 answers an ACK)
    send_ack(c);
    return;
  }
  if ((s.flags & kAck) == 0) return;
  if (c.state == TcpState::SynReceived) {
    if (s.ack != c.snd_nxt) {
      send_reset_for(s.src, s.sport, s.dst, s.dport, s.seq, s.ack, true, s.len());
      return;
    }
    auto parent = c.parent.lock();
    if (parent && parent->state == TcpState::Listen &&
        parent->accept_queue.size() > static_cast<usize>(parent->backlog)) {
      ++net_counters().tcp_listen_overflows;  // the ACK is dropped; the SYN-ACK goes again
      return;
    }
    if (parent) --parent->half_open;
    c.snd_una = s.ack;
    c.snd_wnd = s.window;
    c.rtx_deadline = 0;
    c.retries = 0;
    c.state = TcpState::Established;
    c.ever_connected = true;
    start_congestion_control(c);
    arm_keepalive(c);
    if (auto l = c.parent.lock(); l && l->state == TcpState::Listen) {
      l->accept_queue.push_back(cp);
      ++l->rx_events;
      file_state_changed(l->queue);
    } else {
      put_segment(c, c.snd_nxt, kRst | kAck, {});  // the listener went away meanwhile
      finish(cp);
      return;
    }
  }
  // Acknowledgments: free what the peer has, take its window.
  if (seq_lt(c.snd_una, s.ack) && seq_le(s.ack, c.snd_nxt)) {
    u32 acked = s.ack - c.snd_una;
    bool fin_acked = c.fin_sent && s.ack == c.snd_nxt;
    usize data_acked = acked - (fin_acked ? 1 : 0);
    c.snd.consume(std::min(data_acked, c.snd.size()));
    if (data_acked > 0) ++c.tx_events;
    c.snd_una = s.ack;
    u64 now = ostd::monotonic_ns();
    if (c.rtt_start != 0 && seq_le(c.rtt_seq, s.ack)) {
      rtt_sample(c, now - c.rtt_start);
      c.rtt_start = 0;
    }
    c.retries = 0;
    c.dupacks = 0;
    c.rtx_deadline = 0;
    if (c.recovering) {
      if (seq_lt(s.ack, c.recover)) {
        // A partial ACK: the next hole goes at once; in fast recovery the window deflates by
        // what was acknowledged and grows by the segment resent (RFC 6582 3.2 (5)).
        retransmit(c);
        if (c.fast_recovery) c.cwnd = (c.cwnd > acked ? c.cwnd - acked : 0) + c.mss;
      } else {
        c.recovering = false;
        if (c.fast_recovery) c.cwnd = c.ssthresh;  // a full ACK ends fast recovery
        c.fast_recovery = false;
      }
    } else if (c.cwnd != 0) {
      // Slow start below ssthresh (by what an ACK acknowledged, as Linux counts it), then
      // congestion avoidance (about one segment per round trip).
      u32 grow = c.cwnd < c.ssthresh ? acked : std::max<u32>(1, u32{c.mss} * c.mss / c.cwnd);
      c.cwnd = std::min<u32>(c.cwnd + grow, 1u << 30);
    }
    if (c.snd_una != c.snd_nxt) {
      c.rtx_deadline = now + c.rto_ns;  // restarted for what is still out (RFC 6298 5.3)
      net_timer_deadline(c.rtx_deadline);
    }
    if (fin_acked) {
      if (c.state == TcpState::FinWait1) c.state = TcpState::FinWait2;
      if (c.state == TcpState::Closing) enter_time_wait(cp);
      if (c.state == TcpState::LastAck) {
        finish(cp);
        return;
      }
    }
    file_state_changed(c.queue);
  } else if (s.ack == c.snd_una && c.snd_una != c.snd_nxt && s.data.empty() && (s.flags & kFin) == 0 &&
             s.window == c.snd_wnd) {
    ++c.dupacks;
    if (c.dupacks == 3 && !c.recovering) {
      // Fast retransmit and fast recovery (RFC 5681 3.2): half the flight is the threshold,
      // the window that plus the three segments that left the network.
      on_congestion(c);
      retransmit(c);
      c.cwnd = c.ssthresh + 3u * c.mss;
      c.recovering = true;
      c.fast_recovery = true;
      c.recover = c.snd_nxt;
    } else if (c.dupacks > 3 && c.fast_recovery) {
      c.cwnd += c.mss;  // another segment left the network: one more may go
    }
  }
  if (seq_le(c.snd_una, s.ack)) c.snd_wnd = s.window;
  bool ack_now = false;
  if (!s.data.empty()) {
    if (c.fin_received) return;
    // Data for a socket that can no longer read it (closed, or shut down for reading while
    // closing): a reset (tcp_rcv_state_process).
    if ((c.state == TcpState::FinWait1 || c.state == TcpState::FinWait2) && (c.shutdown & kRcvShutdown) != 0) {
      put_segment(c, c.snd_nxt, kRst | kAck, {});
      finish(cp);
      return;
    }
    usize take = take_in_order(c, s.data);
    if (!c.out_of_order.empty()) drain_out_of_order(c);
    ack_now = true;
    file_state_changed(c.queue);
    if (take < s.data.size()) {
      send_ack(c);
      return;  // the rest (and any FIN) comes again when the window opens
    }
  }
  if ((s.flags & kFin) != 0) {
    ++c.rcv_nxt;
    c.fin_received = true;
    c.shutdown |= kRcvShutdown;
    ++c.rx_events;
    ack_now = true;
    switch (c.state) {
      case TcpState::Established: c.state = TcpState::CloseWait; break;
      case TcpState::FinWait1: c.state = TcpState::Closing; break;
      case TcpState::FinWait2: enter_time_wait(cp); break;
      default: break;
    }
    file_state_changed(c.queue);
  }
  if (ack_now) send_ack(c);
  output(c);
}

}  // namespace

namespace {

// TIME-WAIT and orphaned connections past their time are dropped when the tables are used.
void reap() {
  u64 now = ostd::monotonic_ns();
  auto& dl = tables().deadlines;
  while (!dl.empty() && dl.front().first <= now) {
    auto c = dl.front().second.lock();
    dl.pop_front();
    // Still the deadline it was queued with (a reused port's connection may have a new one).
    if (!c || c->time_wait_end == 0 || c->time_wait_end > now || c->state == TcpState::Closed) continue;
    tables().conns.erase(Key{c->local.addr, c->local.port, c->remote.addr, c->remote.port});
    c->state = TcpState::Closed;
    unbind(*c);
  }
}

bool port_conflicts(const TcpCore& c, u16 port) {
  auto [lo, hi] = tables().bound.equal_range(port);
  for (auto it = lo; it != hi; ++it) {
    auto o = it->second.lock();
    if (!o || o.get() == &c) continue;
    if (!bound_overlap(o->local.addr, o->ip.v6only, c.local.addr, c.ip.v6only)) continue;
    // SO_REUSEADDR on both lets a port be bound again unless the other one listens.
    if (o->reuseaddr && c.reuseaddr && o->state != TcpState::Listen) continue;
    if (o->reuseport && c.reuseport && o->uid == c.uid) continue;
    return true;
  }
  return false;
}

Result<void> take_port(const std::shared_ptr<TcpCore>& c, u16 port) {
  TcpTables& t = tables();
  reap();
  if (port == 0) {
    for (u32 tries = 0; tries <= kEphemeralHigh - kEphemeralLow; ++tries) {
      u16 p = t.next_ephemeral;
      t.next_ephemeral = p == kEphemeralHigh ? kEphemeralLow : static_cast<u16>(p + 1);
      // Entries of connections already gone do not hold a port, and connections in TIME-WAIT
      // let it be used again (net.ipv4.tcp_tw_reuse, which Linux applies on loopback).
      auto [lo, hi] = t.bound.equal_range(p);
      bool busy = false;
      for (auto it = lo; it != hi;) {
        auto o = it->second.lock();
        if (!o) {
          it = t.bound.erase(it);
          continue;
        }
        busy = busy || o->state != TcpState::TimeWait;
        ++it;
      }
      if (!busy) {
        port = p;
        break;
      }
    }
    if (port == 0) return Errno::eaddrnotavail;
  } else if (port_conflicts(*c, port)) {
    return Errno::eaddrinuse;
  }
  c->local.port = port;
  t.bound.emplace(port, c);
  return {};
}

class TcpSocket final : public Socket {
 public:
  TcpSocket(int family, std::shared_ptr<TcpCore> c, u32 flags, const Credentials& owner)
      : Socket(family, kSockStream, kIpprotoTcp, owner), c_(std::move(c)) {
    set_status_flags(kORdWr | (flags & kONonblock));
    c_->uid = owner.euid;
    c_->ino = ino();
    c_->has_file = true;
  }
  TcpSocket(const TcpSocket&) = delete;
  TcpSocket& operator=(const TcpSocket&) = delete;
  TcpSocket(TcpSocket&&) = delete;
  TcpSocket& operator=(TcpSocket&&) = delete;
  ~TcpSocket() override {
    {
      auto g = net_lock().lock();
      c_->has_file = false;
      close_connection();
      c_->rcv = PipeRing(kBufferSize);  // an orphan reads nothing more (data now is a reset)
    }
    net_process_backlog();
  }

  ostd::WaitQueue* poll_queue() override { return &c_->queue; }
  u64 poll_event_count(u32 bit) override {
    auto g = net_lock().lock();
    return ((bit & kPollIn) != 0 ? c_->rx_events : 0) + ((bit & kPollOut) != 0 ? c_->tx_events : 0);
  }

  Result<void> bind(Thread& self, std::span<const u8> addr) override {
    auto g = net_lock().lock();
    TcpCore& c = *c_;
    InetEndpoint e = TRY(parse_bind_address(family(), c.ip.v6only, true, addr));
    if (e.port != 0 && e.port < 1024 && !self.process().creds.capable(cap::kNetBindService)) return Errno::eacces;
    if (c.local.port != 0 || c.state != TcpState::Closed) return Errno::einval;
    c.reuseaddr = options().reuseaddr;
    c.reuseport = options().reuseport;
    c.local.addr = e.addr;
    auto r = take_port(c_, e.port);
    if (r.is_error()) c.local.addr = wildcard_of(family());
    return r;
  }

  Result<void> listen(Thread&, int backlog) override {
    auto g = net_lock().lock();
    TcpCore& c = *c_;
    if (static_cast<u32>(backlog) > 4096u) backlog = 4096;
    if (c.state == TcpState::Listen) {
      c.backlog = backlog;
      return {};
    }
    if (c.state != TcpState::Closed || c.ever_connected) return Errno::einval;
    c.reuseaddr = options().reuseaddr;
    c.reuseport = options().reuseport;
    if (c.local.port == 0) TRY(take_port(c_, 0));
    // Another listener on the port (a second bind allowed by SO_REUSEADDR) is EADDRINUSE now.
    c.state = TcpState::Listen;
    if (port_conflicts(c, c.local.port)) {
      c.state = TcpState::Closed;
      return Errno::eaddrinuse;
    }
    c.backlog = backlog;
    tables().listeners.emplace(c.local.port, c_);
    file_state_changed(c.queue);
    return {};
  }

  Result<std::shared_ptr<Socket>> accept(Thread& self, u32 flags) override {
    TcpCore& c = *c_;
    auto deadline = this->deadline(true);
    for (;;) {
      std::shared_ptr<TcpCore> conn;
      {
        auto g = net_lock().lock();
        if (c.state != TcpState::Listen) return Errno::einval;
        if (!c.accept_queue.empty()) {
          conn = std::move(c.accept_queue.front());
          c.accept_queue.pop_front();
          // The accepted socket owns its port entry from now on.
          tables().bound.emplace(conn->local.port, conn);
        }
      }
      if (conn) {
        auto s = std::make_shared<TcpSocket>(family(), conn, flags, self.process().creds);
        s->options() = options();  // inherited, as sk_clone_lock copies the listener's
        return std::shared_ptr<Socket>(s);
      }
      if (nonblocking()) return Errno::eagain;
      TRY(wait(self, c.queue, deadline, [&] { return !c.accept_queue.empty() || c.state != TcpState::Listen; }));
    }
  }

  Result<void> connect(Thread& self, std::span<const u8> addr) override {
    if (addr.size() < 2) return Errno::einval;
    TcpCore& c = *c_;
    if (sockaddr_family(addr) == kAfUnspec) {
      auto g = net_lock().lock();
      if (c.state != TcpState::Closed && c.state != TcpState::Listen) abort_connection();
      return {};
    }
    {
      auto g = net_lock().lock();
      InetEndpoint e = TRY(parse_connect_address(family(), c.ip.v6only, false, c.local.addr, addr));
      // A connect in progress (SS_CONNECTING): EALREADY until it ends, then its outcome once.
      if (connecting_) {
        if (c.state == TcpState::SynSent) return Errno::ealready;
        connecting_ = false;
        if (c.state == TcpState::Closed) {
          int e2 = c.err != 0 ? c.err : static_cast<int>(Errno::econnaborted);
          c.err = 0;
          return static_cast<Errno>(e2);
        }
        return {};
      }
      if (c.ever_connected) return Errno::eisconn;
      switch (c.state) {
        case TcpState::Closed: break;
        case TcpState::SynSent: return Errno::ealready;
        default: return Errno::eisconn;
      }
      IpAddr dst = e.addr;
      IpAddr src = TRY(route_source_from(c.local.addr, dst));
      c.reuseaddr = options().reuseaddr;
      c.reuseport = options().reuseport;
      if (c.local.port == 0) TRY(take_port(c_, 0));
      if (c.local.addr.is_wildcard()) c.local.addr = src;
      c.remote = InetEndpoint{dst, e.port};
      Key k{c.local.addr, c.local.port, c.remote.addr, c.remote.port};
      if (auto old = tables().conns.find(k); old != tables().conns.end()) {
        if (old->second->state != TcpState::TimeWait) return Errno::eaddrnotavail;
        auto tw = old->second;  // reused: the TIME-WAIT connection gives way
        tables().conns.erase(old);
        tw->state = TcpState::Closed;
        unbind(*tw);
      }
      c.err = 0;
      c.shutdown = 0;
      c.fin_received = c.fin_queued = c.fin_sent = false;
      c.iss = tables().next_iss += 64000;
      c.snd_una = c.iss;
      c.snd_nxt = c.iss + 1;
      c.state = TcpState::SynSent;
      c.adv_mss = route_mss(dst);
      c.rto_ns = kInitialRtoNs;
      c.retries = 0;
      c.rtx_deadline = 0;
      tables().conns[k] = c_;
      put_segment(c, c.iss, kSyn, {});
      arm_rtx(c);
    }
    net_process_backlog();
    if (nonblocking()) {
      connecting_ = true;
      return Errno::einprogress;
    }
    auto w = wait(self, c.queue, this->deadline(false), [&] { return c.state != TcpState::SynSent; });
    if (w.is_error()) {
      connecting_ = true;  // it goes on; a later connect reports EALREADY or the outcome
      return w.error();
    }
    auto g = net_lock().lock();
    if (c.state == TcpState::Closed) {
      int e2 = c.err != 0 ? c.err : static_cast<int>(Errno::econnrefused);
      c.err = 0;
      return static_cast<Errno>(e2);
    }
    return {};
  }

  Result<usize> sendmsg(Thread& self, SendRequest& req) override {
    if ((req.flags & kMsgOob) != 0) return Errno::eopnotsupp;
    TcpCore& c = *c_;
    usize total = req.data.remain();
    usize sent = 0;
    bool nonblock = dont_wait(req.flags);
    auto deadline = this->deadline(false);
    for (;;) {
      Errno fail{};
      bool failed = false;
      {
        auto g = net_lock().lock();
        bool open = c.state == TcpState::Established || c.state == TcpState::CloseWait;
        bool starting = c.state == TcpState::SynSent || c.state == TcpState::SynReceived;
        if (c.err != 0 || (c.shutdown & kSendShutdown) != 0 || (!open && !starting)) {
          if (sent > 0) return sent;
          failed = true;
          fail = Errno::epipe;
          if (c.err != 0) {
            fail = static_cast<Errno>(c.err);
            c.err = 0;
          }
        } else if (open && c.snd.space() > 0 && sent < total) {
          usize n = std::min(c.snd.space(), total - sent);
          usize got = 0;
          for (auto piece : c.snd.room(n)) {
            if (piece.empty()) continue;
            Result<usize> r = req.data.read(piece);
            usize k = r.is_ok() ? r.value() : 0;
            got += k;
            if (k < piece.size()) break;
          }
          if (got == 0 && sent == 0 && n > 0) return Errno::efault;
          c.snd.commit(got);
          sent += got;
          output(c);
          if (got < n) total = sent;  // a fault ends the send with what went
        } else if (total == 0 && open) {
          return usize{0};
        }
      }
      if (failed) {
        if (fail == Errno::epipe && (req.flags & kMsgNosignal) == 0) {
          send_signal_to_thread(self, kSigpipe, kernel_siginfo(kSigpipe));
        }
        return fail;
      }
      net_process_backlog();
      if (sent == total) return sent;
      if (nonblock) return sent > 0 ? Result<usize>(sent) : Result<usize>(Errno::eagain);
      auto w = wait(self, c.queue, deadline, [&] {
        return c.snd.space() > 0 || c.err != 0 ||
               (c.state != TcpState::Established && c.state != TcpState::CloseWait && c.state != TcpState::SynSent &&
                c.state != TcpState::SynReceived);
      });
      if (w.is_error()) return sent > 0 ? Result<usize>(sent) : Result<usize>(w.error());
    }
  }

  Result<RecvResult> recvmsg(Thread& self, ByteSink& out, u32 flags) override {
    if ((flags & kMsgOob) != 0) return Errno::einval;
    TcpCore& c = *c_;
    usize size = out.avail();
    usize target = receive_target(size, flags);
    bool nonblock = dont_wait(flags);
    bool peek = (flags & kMsgPeek) != 0;
    auto deadline = this->deadline(true);
    usize copied = 0;
    RecvResult res;
    for (;;) {
      bool update = false;
      {
        auto g = net_lock().lock();
        if (c.state == TcpState::Listen || (c.state == TcpState::Closed && !c.ever_connected)) return Errno::enotconn;
        usize have = c.rcv.size();
        usize skip = peek ? copied : 0;
        if (have > skip && copied < size) {
          usize n = std::min(have - skip, size - copied);
          usize at = 0;
          for (auto piece : c.rcv.stored(skip, n)) {
            Result<usize> w = out.write(piece);
            usize k = w.is_ok() ? w.value() : 0;
            at += k;
            if (k < piece.size()) break;
          }
          if (at == 0 && copied == 0) return Errno::efault;
          copied += at;
          if (!peek) {
            c.rcv.consume(at);
            // A window update when the window the peer knows opened by a segment or more.
            update = c.window() >= c.last_window + kMss || (c.last_window < kMss && c.window() >= kMss);
            if (update && c.state != TcpState::Closed) send_ack(c);
          }
          if (at < n) break;
        }
        if (copied >= target || copied == size) break;
        if (copied == 0 && c.err != 0) {
          int e = c.err;
          c.err = 0;
          return static_cast<Errno>(e);
        }
        if (c.fin_received || (c.shutdown & kRcvShutdown) != 0 || c.state == TcpState::Closed) break;
      }
      if (update) net_process_backlog();
      if (nonblock) {
        if (copied > 0) break;
        return Errno::eagain;
      }
      usize had = copied;
      auto w = wait(self, c.queue, deadline, [&] {
        return (peek ? c.rcv.size() > had : c.rcv.size() > 0) || c.err != 0 || c.fin_received ||
               (c.shutdown & kRcvShutdown) != 0 || c.state == TcpState::Closed;
      });
      if (w.is_error()) {
        if (copied > 0) break;
        return w.error();
      }
    }
    net_process_backlog();
    res.len = copied;
    return res;
  }

  Result<std::vector<u8>> local_address() override {
    auto g = net_lock().lock();
    return sockaddr_bytes(family(), c_->local);
  }

  Result<std::vector<u8>> peer_address() override {
    auto g = net_lock().lock();
    TcpState s = c_->state;
    if (c_->remote.port == 0 || s == TcpState::Closed || s == TcpState::SynSent || s == TcpState::Listen) {
      return Errno::enotconn;
    }
    return sockaddr_bytes(family(), c_->remote);
  }

  Result<void> shutdown(int how) override {
    if (how < 0 || how > 2) return Errno::einval;
    Result<void> r{};
    {
      auto g = net_lock().lock();
      TcpCore& c = *c_;
      u32 mode = static_cast<u32>(how) + 1;
      switch (c.state) {
        case TcpState::Closed:
          c.shutdown |= mode;
          r = Errno::enotconn;
          break;
        case TcpState::Listen:
          if ((mode & kRcvShutdown) != 0) abort_connection();
          break;
        case TcpState::SynSent: abort_connection(); break;
        default:
          c.shutdown |= mode;
          if ((mode & kSendShutdown) != 0) send_fin();
          break;
      }
      file_state_changed(c.queue);
    }
    net_process_backlog();
    return r;
  }

  Result<void> set_option(Thread&, int level, int name, std::span<const u8> val) override {
    if (level != kSolTcp) {
      auto g = net_lock().lock();
      return set_ip_option(c_->ip, family(), kSockStream, c_->local.port != 0, level, name, val);
    }
    if (name == kTcpCongestion) return {};
    i32 v = TRY(read_int_option(val));
    auto& o = options();
    switch (name) {
      case kTcpNodelay: o.nodelay = v != 0; return {};
      case kTcpCork: o.cork = v != 0; return {};
      case kTcpQuickack: return {};
      case kTcpKeepidle:
      case kTcpKeepintvl: {
        if (v < 1 || v > 32767) return Errno::einval;
        (name == kTcpKeepidle ? o.keepidle : o.keepintvl) = v;
        auto g = net_lock().lock();
        sync_keepalive();
        return {};
      }
      case kTcpKeepcnt: {
        if (v < 1 || v > 127) return Errno::einval;
        o.keepcnt = v;
        auto g = net_lock().lock();
        sync_keepalive();
        return {};
      }
      case kTcpMaxseg:
        if (v != 0 && (v < 88 || v > 65535)) return Errno::einval;
        return {};
      case kTcpDeferAccept: o.defer_accept = std::max(v, 0); return {};
      case kTcpUserTimeout:
        if (v < 0) return Errno::einval;
        o.user_timeout = v;
        return {};
      default: return Errno::enoprotoopt;
    }
  }

  Result<std::vector<u8>> get_option(Thread&, int level, int name) override {
    if (level != kSolTcp) {
      auto g = net_lock().lock();
      return get_ip_option(c_->ip, family(), level, name);
    }
    auto& o = options();
    switch (name) {
      case kTcpNodelay: return int_option(o.nodelay ? 1 : 0);
      case kTcpCork: return int_option(o.cork ? 1 : 0);
      case kTcpKeepidle: return int_option(o.keepidle);
      case kTcpKeepintvl: return int_option(o.keepintvl);
      case kTcpKeepcnt: return int_option(o.keepcnt);
      case kTcpDeferAccept: return int_option(o.defer_accept);
      case kTcpUserTimeout: return int_option(o.user_timeout);
      case kTcpQuickack: return int_option(1);
      case kTcpMaxseg: {
        auto g = net_lock().lock();
        return int_option(c_->ever_connected ? c_->mss : kDefaultMss);
      }
      case kTcpCongestion: {
        std::string cc = "reno";
        std::vector<u8> v(16);
        std::copy(cc.begin(), cc.end(), v.begin());
        return v;
      }
      case kTcpInfo: {
        // struct tcp_info: state, congestion state, RTO, MSS, unacknowledged segments, RTT,
        // slow-start threshold and congestion window (in segments), advertised MSS; the rest
        // zero for now.
        std::vector<u8> v(232);
        auto g = net_lock().lock();
        const TcpCore& c = *c_;
        auto put = [&v](usize at, u32 x) {
          for (usize i = 0; i < 4; ++i) v[at + i] = static_cast<u8>(x >> (8 * i));
        };
        v[0] = static_cast<u8>(c.state);
        v[1] = c.fast_recovery ? 3 : c.recovering ? 4 : 0;  // TCP_CA_Recovery, TCP_CA_Loss, TCP_CA_Open
        u32 mss = c.ever_connected ? c.mss : kDefaultMss;
        put(8, static_cast<u32>(c.rto_ns / 1000));                                      // tcpi_rto (us)
        put(16, mss);                                                                   // tcpi_snd_mss
        put(20, mss);                                                                   // tcpi_rcv_mss
        put(24, mss != 0 ? (c.snd_nxt - c.snd_una + mss - 1) / mss : 0);                // tcpi_unacked
        put(68, static_cast<u32>(c.srtt_ns / 1000));                                    // tcpi_rtt (us)
        put(72, static_cast<u32>(c.rttvar_ns / 1000));                                  // tcpi_rttvar
        put(76, c.ssthresh >= 0x7fffffff || mss == 0 ? 0x7fffffff : c.ssthresh / mss);  // tcpi_snd_ssthresh
        put(80, mss != 0 ? c.cwnd / mss : 0);                                           // tcpi_snd_cwnd
        put(84, c.adv_mss);                                                             // tcpi_advmss
        return v;
      }
      default: return Errno::enoprotoopt;
    }
  }

  int take_error() override {
    auto g = net_lock().lock();
    int e = c_->err;
    c_->err = 0;
    return e;
  }
  bool listening() const override { return c_->state == TcpState::Listen; }
  void keepalive_changed() override {
    auto g = net_lock().lock();
    sync_keepalive();
  }

  Result<int> bytes_readable() override {
    auto g = net_lock().lock();
    if (c_->state == TcpState::Listen) return Errno::einval;
    return static_cast<int>(c_->rcv.size());
  }
  int bytes_unsent() override {
    auto g = net_lock().lock();
    return static_cast<int>(c_->snd.size());
  }

  u32 poll_events() override {
    auto g = net_lock().lock();
    const TcpCore& c = *c_;
    u32 ev = 0;
    if (c.state == TcpState::Listen) return c.accept_queue.empty() ? 0 : kPollIn;
    if (c.shutdown == kShutdownMask || c.state == TcpState::Closed) ev |= kPollHup;
    if ((c.shutdown & kRcvShutdown) != 0) ev |= kPollIn | kPollRdhup;
    if (c.state != TcpState::SynSent && c.state != TcpState::SynReceived) {
      if (c.rcv.size() > 0) ev |= kPollIn;
      if ((c.shutdown & kSendShutdown) != 0 || c.snd.space() > 0) ev |= kPollOut;
    }
    if (c.err != 0) ev |= kPollErr;
    return ev;
  }

  std::shared_ptr<TcpCore> core() const { return c_; }

 private:
  // The socket's keepalive options into the connection (with net_lock held); the timer armed
  // or stopped for a connection that is established.
  void sync_keepalive() {
    TcpCore& c = *c_;
    const SocketOptions& o = options();
    c.keepalive = o.keepalive;
    c.keep_idle_ns = static_cast<u64>(o.keepidle) * ostd::kNsPerSec;
    c.keep_intvl_ns = static_cast<u64>(o.keepintvl) * ostd::kNsPerSec;
    c.keep_cnt = static_cast<u32>(o.keepcnt);
    bool open = c.state != TcpState::Closed && c.state != TcpState::Listen && c.state != TcpState::SynSent &&
                c.state != TcpState::SynReceived && c.state != TcpState::TimeWait;
    if (open) {
      arm_keepalive(c);
    } else {
      c.keep_next = 0;
    }
  }

  void send_fin() {
    TcpCore& c = *c_;
    if (c.fin_queued) return;
    if (c.state == TcpState::Established || c.state == TcpState::SynReceived) {
      c.fin_queued = true;
      c.state = TcpState::FinWait1;
    } else if (c.state == TcpState::CloseWait) {
      c.fin_queued = true;
      c.state = TcpState::LastAck;
    } else {
      return;
    }
    c.shutdown |= kSendShutdown;
    output(c);
  }

  // An abortive close: RST to the peer, the connection gone.
  void abort_connection() {
    TcpCore& c = *c_;
    if (c.state == TcpState::Listen) {
      auto [lo, hi] = tables().listeners.equal_range(c.local.port);
      for (auto it = lo; it != hi; ++it) {
        if (it->second == c_) {
          tables().listeners.erase(it);
          break;
        }
      }
      for (auto& q : c.accept_queue) {
        put_segment(*q, q->snd_nxt, kRst | kAck, {});
        finish(q);
      }
      c.accept_queue.clear();
      c.state = TcpState::Closed;
      file_state_changed(c.queue);
      return;
    }
    if (c.state != TcpState::Closed && c.state != TcpState::SynSent && c.state != TcpState::TimeWait) {
      put_segment(c, c.snd_nxt, kRst | kAck, {});
    }
    if (c.state != TcpState::Closed) finish(c_);
  }

  // close(2): listeners and half-open connections go at once; unread data or SO_LINGER 0
  // resets; otherwise a FIN after the queued data, the connection living on as an orphan.
  void close_connection() {
    TcpCore& c = *c_;
    bool linger0 = options().linger_onoff != 0 && options().linger_secs == 0;
    switch (c.state) {
      case TcpState::Listen:
      case TcpState::SynSent: abort_connection(); break;
      case TcpState::Closed:
      case TcpState::TimeWait: break;
      default:
        if (c.rcv.size() > 0 || linger0) {
          abort_connection();
        } else {
          c.shutdown = kShutdownMask;  // data arriving from now on is answered with a reset
          send_fin();
          // An orphan in FIN-WAIT-2 waits tcp_fin_timeout (60 s) for the peer's FIN.
          set_deadline(c_);
        }
        break;
    }
    if (c.state == TcpState::Closed || c.state == TcpState::Listen) unbind(c);
  }

  std::shared_ptr<TcpCore> c_;
  bool connecting_ = false;
};

}  // namespace

void tcp_input(const IpAddr& src, const IpAddr& dst, std::span<const u8> seg, bool loopback) {
  if (seg.size() < kTcpHeader) return;
  usize off = usize{static_cast<u8>(seg[12] >> 4)} * 4;
  if (off < kTcpHeader || off > seg.size()) return;
  if (!loopback && transport_checksum(src, dst, kIpprotoTcp, seg) != 0) return;
  // clang-format off
  Segment s{src, dst, get16(seg, 0), get16(seg, 2), get32(seg, 4), get32(seg, 8), seg[13], get16(seg, 14), 0,
            seg.subspan(off)};
  // clang-format on
  // Options: only MSS is used; a malformed list ends the parse (the segment still counts).
  for (usize i = kTcpHeader; i < off;) {
    u8 kind = seg[i];
    if (kind == 0) break;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= off || seg[i + 1] < 2 || i + seg[i + 1] > off) break;
    if (kind == 2 && seg[i + 1] == 4 && (s.flags & kSyn) != 0) s.mss = std::max<u16>(get16(seg, i + 2), 64);
    i += seg[i + 1];
  }
  auto& conns = tables().conns;
  auto it = conns.find(Key{dst, s.dport, src, s.sport});
  if (it != conns.end()) {
    auto c = it->second;                   // a copy: the input may take it out of the table
    c->last_heard = ostd::monotonic_ns();  // the keepalive timer counts from here
    c->keep_probes = 0;
    conn_input(c, s);
    return;
  }
  std::shared_ptr<TcpCore> best;
  auto [lo, hi] = tables().listeners.equal_range(s.dport);
  for (auto l = lo; l != hi; ++l) {
    const TcpCore& c = *l->second;
    if (c.local.addr == dst) best = l->second;
    if (!best && c.local.addr.is_wildcard() && bound_accepts(c.local.addr, c.ip.v6only, dst)) best = l->second;
  }
  if (best) {
    listen_input(best, s);
    return;
  }
  if ((s.flags & kRst) == 0) send_reset_for(src, s.sport, dst, s.dport, s.seq, s.ack, (s.flags & kAck) != 0, s.len());
}

void tcp_error(const IpAddr& orig_src, const IpAddr& orig_dst, std::span<const u8> quoted, int err) {
  if (quoted.size() < 8) return;
  auto it = tables().conns.find(Key{orig_src, get16(quoted, 0), orig_dst, get16(quoted, 2)});
  if (it == tables().conns.end()) return;
  auto c = it->second;
  // Only about a segment still unacknowledged (RFC 5927 4.1): a forged error must guess it.
  u32 seq = get32(quoted, 4);
  if (seq_lt(seq, c->snd_una) || seq_lt(c->snd_nxt, seq)) return;
  if (err == static_cast<int>(Errno::emsgsize)) return;  // path MTU: not used yet (DF is only set on what fits)
  if (c->state == TcpState::SynSent) {
    c->err = err;  // the connect fails at once
    finish(c);
    return;
  }
  if (c->state == TcpState::SynReceived) return;  // a half-open child: its SYN-ACK timer decides
  c->soft_err = err;
}

void tcp_reset() {
  // Every socket file is gone with the previous boot's processes: what is left are orphans and
  // TIME-WAIT entries, which a new machine does not have.
  TcpTables& t = tables();
  t.conns.clear();
  t.listeners.clear();
  t.bound.clear();
  t.deadlines.clear();
}

// The keepalive timer of a connection whose time came (tcp_keepalive_timer): nothing while data
// is outstanding (the retransmission timer watches it); a probe — an ACK one byte behind, which
// the peer answers with an ACK — once the peer was silent `keep_idle_ns`, then every
// `keep_intvl_ns`; ETIMEDOUT and a reset after `keep_cnt` unanswered.
void keepalive_timer(const std::shared_ptr<TcpCore>& c, u64 now) {
  c->keep_next = 0;
  if (!c->keepalive) return;
  switch (c->state) {
    case TcpState::Established:
    case TcpState::CloseWait:
    case TcpState::FinWait1:
    case TcpState::FinWait2:
    case TcpState::Closing:
    case TcpState::LastAck: break;
    default: return;
  }
  if (c->snd_una != c->snd_nxt || c->snd.size() > 0) {
    c->keep_next = now + c->keep_idle_ns;
    return;
  }
  if (now - c->last_heard < c->keep_idle_ns) {
    c->keep_next = c->last_heard + c->keep_idle_ns;
    return;
  }
  if (c->keep_probes >= c->keep_cnt) {
    c->err = static_cast<int>(Errno::etimedout);
    put_segment(*c, c->snd_nxt, kRst | kAck, {});
    finish(c);
    return;
  }
  put_segment(*c, c->snd_una - 1, kAck, {});
  ++c->keep_probes;
  c->keep_next = now + c->keep_intvl_ns;
}

u64 tcp_timers(u64 now) {
  reap();
  u64 next = 0;
  std::vector<std::shared_ptr<TcpCore>> due, keep_due;
  for (const auto& [key, c] : tables().conns) {
    if (c->keep_next != 0) {
      if (c->keep_next <= now) {
        keep_due.push_back(c);
      } else {
        next = next == 0 ? c->keep_next : std::min(next, c->keep_next);
      }
    }
    if (c->rtx_deadline == 0) continue;
    if (c->rtx_deadline <= now) {
      due.push_back(c);
    } else {
      next = next == 0 ? c->rtx_deadline : std::min(next, c->rtx_deadline);
    }
  }
  for (const auto& c : due) {
    c->rtx_deadline = 0;
    bool probing = c->snd_una == c->snd_nxt;  // a zero-window probe, not a retransmission
    if (probing && c->snd.size() == 0) continue;
    u32 limit = c->state == TcpState::SynSent       ? kSynRetries
                : c->state == TcpState::SynReceived ? kSynAckRetries
                                                    : kRetries2;
    if (!probing && ++c->retries > limit) {
      if (c->state == TcpState::SynReceived) {
        finish(c);  // a half-open connection from the SYN queue simply goes
        continue;
      }
      c->err = c->soft_err != 0 ? c->soft_err : static_cast<int>(Errno::etimedout);  // tcp_write_err
      if (c->state != TcpState::SynSent) put_segment(*c, c->snd_nxt, kRst | kAck, {});
      finish(c);
      continue;
    }
    if (!probing && c->cwnd != 0) {
      // A timeout: the loss window, one segment, and slow start up to half the flight
      // (RFC 5681 (4) and 3.1); the first timeout of a loss sets the threshold.
      if (c->retries == 1) on_congestion(*c);
      c->cwnd = c->mss;
      c->fast_recovery = false;
    }
    retransmit(*c);
    if (!probing) {
      c->recovering = true;
      c->recover = c->snd_nxt;
    }
    c->rto_ns = std::min(c->rto_ns * 2, kMaxRtoNs);  // back off (RFC 6298 5.5)
    c->rtx_deadline = now + c->rto_ns;
    next = next == 0 ? c->rtx_deadline : std::min(next, c->rtx_deadline);
  }
  for (const auto& c : keep_due) {
    keepalive_timer(c, now);
    if (c->keep_next != 0) next = next == 0 ? c->keep_next : std::min(next, c->keep_next);
  }
  if (!tables().deadlines.empty()) {
    u64 d = tables().deadlines.front().first;
    next = next == 0 ? d : std::min(next, d);
  }
  return next;
}

Result<std::shared_ptr<Socket>> make_tcp_socket(Thread& self, int family, u32 flags) {
  auto c = std::make_shared<TcpCore>();
  c->family = family;
  c->local.addr = wildcard_of(family);
  return std::shared_ptr<Socket>(std::make_shared<TcpSocket>(family, std::move(c), flags, self.process().creds));
}

std::string proc_net_tcp_lines(int family) {
  auto g = net_lock().lock();
  std::string s;
  usize slot = 0;
  bool v6 = family == kAfInet6;
  auto line = [&](const TcpCore& c) {
    if (c.family != family) return;
    std::string sl = ostd::format("{}", slot++);
    if (sl.size() < 4) sl.insert(0, 4 - sl.size(), ' ');
    InetEndpoint remote = c.remote;
    if (c.state == TcpState::Listen) remote.addr = wildcard_of(family);
    s += sl + ": " + proc_net_endpoint(c.local, v6) + " " + proc_net_endpoint(remote, v6) + " " +
         hex_field(static_cast<u32>(c.state), 2) + " " + hex_field(c.snd.size(), 8) + ":" + hex_field(c.rcv.size(), 8) +
         " 00:00000000 00000000 " + ostd::format("{:d}", c.uid) + "        0 " + ostd::format("{}", c.ino) + "\n";
  };
  for (const auto& [port, l] : tables().listeners) line(*l);
  for (const auto& [key, c] : tables().conns) line(*c);
  return s;
}

}  // namespace services
