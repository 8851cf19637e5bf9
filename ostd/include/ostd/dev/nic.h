// ostd/dev/nic.h — the backend's own network interface: Ethernet frames in and out.
//
// On the host backend this is user-mode networking through libslirp (the library QEMU's
// `-netdev user` is built on): the guest sits on 10.0.2.0/24 behind a virtual router at
// 10.0.2.2 that reaches the host and the world through umk's own sockets, with a DNS proxy at
// 10.0.2.3 and host ports forwarded into the guest. No privileges, no TAP device. On bare metal
// there is none: the services' virtio-net driver drives the PCI device itself.
//
// Frames are whole Ethernet frames without the FCS. Both directions go through bounded queues:
// a frame that finds its queue full is dropped and counted, as a NIC drops on ring overflow, so
// neither side can make the other hold unbounded memory.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <span>

#include <ostd/error.h>
#include <ostd/types.h>

namespace ostd::nic {

inline constexpr usize kEthHeader = 14;

struct Info {
  std::array<u8, 6> mac;
  /// The largest IP packet a frame carries (1500).
  u32 mtu;
};

/// The interface, when the backend has one (host: `umk run --net user`, the default).
std::optional<Info> info();

/// Queues one frame for transmission. EINVAL: shorter than an Ethernet header or longer than
/// the header plus the MTU; ENODEV: no interface; ENOBUFS: the transmit queue is full (the
/// frame is dropped).
Result<void> transmit(std::span<const u8> frame);

/// Takes the next received frame into `dst`: its length. EAGAIN when none is waiting; ENODEV
/// without an interface. A frame longer than `dst` is cut to fit (dst of kEthHeader + mtu
/// bytes always suffices).
Result<usize> receive(std::span<u8> dst);

/// Sets what runs, in interrupt context, when frames arrive: once each time the receive queue
/// goes from empty to not empty (drain it with receive() until EAGAIN, then wait for the next
/// call). ENODEV without an interface.
Result<void> on_receive(std::function<void()> handler);

struct Counters {
  u64 rx_frames = 0, rx_bytes = 0, rx_dropped = 0;
  u64 tx_frames = 0, tx_bytes = 0, tx_dropped = 0;
};
Counters counters();

}  // namespace ostd::nic
