// Legacy virtio-pci transport, split virtqueues and the virtio-blk driver (spec 5.2).
#include "device/virtio.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>

#include <ostd/log.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include <ostd/enforce.h>

namespace services::virtio {

using ostd::Errno;
using ostd::Result;
using ostd::u16;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;

namespace {

constexpr ostd::Logger kLog{"virtio"};

// Legacy register block (BAR 0, I/O ports), without MSI-X.
constexpr u16 kRegDeviceFeatures = 0x00;
constexpr u16 kRegGuestFeatures = 0x04;
constexpr u16 kRegQueueAddress = 0x08;
constexpr u16 kRegQueueSize = 0x0c;
constexpr u16 kRegQueueSelect = 0x0e;
constexpr u16 kRegQueueNotify = 0x10;
constexpr u16 kRegStatus = 0x12;
constexpr u16 kRegIsr = 0x13;
constexpr u16 kRegConfig = 0x14;

constexpr u8 kStatusAcknowledge = 1;
constexpr u8 kStatusDriver = 2;
constexpr u8 kStatusDriverOk = 4;
constexpr u8 kStatusFailed = 0x80;

constexpr u16 kDescNext = 1;
constexpr u16 kDescWrite = 2;
constexpr usize kDescSize = 16;

constexpr u16 kVendorVirtio = 0x1af4;
constexpr u16 kDeviceLegacyBlock = 0x1001;
constexpr u16 kDeviceLegacyConsole = 0x1003;
constexpr u16 kDeviceLegacyNet = 0x1000;
constexpr u16 kDeviceLegacy9p = 0x1009;
constexpr u32 k9pFeatureMountTag = 1u << 0;  // VIRTIO_9P_MOUNT_TAG: the tag is in the configuration
constexpr u32 kNetFeatureMac = 1u << 5;      // VIRTIO_NET_F_MAC: the MAC is in the configuration

constexpr u32 kBlkTypeIn = 0;
constexpr u32 kBlkTypeOut = 1;

constexpr u64 kRequestTimeoutNs = 10 * ostd::kNsPerSec;

usize align_up(usize v, usize a) { return (v + a - 1) / a * a; }

}  // namespace

// ---- Queue ----

Result<Queue> Queue::create(const ostd::IoPort& io, u16 index) {
  io.write16(kRegQueueSelect, index);
  u16 size = io.read16(kRegQueueSize);
  if (size == 0 || (size & (size - 1)) != 0) return Errno::enodev;
  // Legacy layout: descriptors, then the available ring; the used ring on the next page.
  usize avail_end = kDescSize * size + 6 + 2 * usize{size};
  usize used_offset = align_up(avail_end, ostd::kPageSize);
  usize total = used_offset + 6 + 8 * usize{size};
  auto ring = TRY(ostd::DmaCoherent::alloc(align_up(total, ostd::kPageSize) / ostd::kPageSize));
  io.write32(kRegQueueAddress, static_cast<u32>(ring.device_address() / ostd::kPageSize));
  return Queue(std::move(ring), index, size, used_offset);
}

Queue::Queue(ostd::DmaCoherent ring, u16 index, u16 size, usize used_offset)
    : ring_(std::move(ring)), index_(index), size_(size), used_offset_(used_offset), num_free_(size), next_(size),
      length_(size, 0) {
  for (u16 i = 0; i < size; ++i) next_[i] = static_cast<u16>(i + 1);
}

Result<u16> Queue::submit(const ostd::IoPort& io, const ostd::DmaCoherent& data, std::span<const Segment> chain,
                          bool notify_now) {
  if (chain.empty() || chain.size() > size_) return Errno::einval;
  if (chain.size() > num_free_) return Errno::eagain;
  for (const Segment& s : chain) {
    usize end = 0;
    if (!ostd::checked_add(s.offset, usize{s.len}, end) || end > data.size()) return Errno::einval;
  }
  u16 head = free_head_;
  u16 d = head;
  for (usize i = 0; i < chain.size(); ++i) {
    const Segment& s = chain[i];
    bool last = i + 1 == chain.size();
    usize at = usize{d} * kDescSize;
    u16 flags = static_cast<u16>((s.device_writes ? kDescWrite : 0) | (last ? 0 : kDescNext));
    TRY(ring_.write64(at, data.device_address() + s.offset));
    TRY(ring_.write32(at + 8, s.len));
    TRY(ring_.write16(at + 12, flags));
    TRY(ring_.write16(at + 14, next_[d]));
    if (!last) d = next_[d];
  }
  free_head_ = next_[d];
  num_free_ = static_cast<u16>(num_free_ - chain.size());
  length_[head] = static_cast<u16>(chain.size());
  usize avail = kDescSize * size_;
  TRY(ring_.write16(avail + 4 + 2 * usize{static_cast<u16>(avail_idx_ % size_)}, head));
  ostd::dma_fence();
  ++avail_idx_;
  TRY(ring_.write16(avail + 2, avail_idx_));
  ostd::dma_fence();
  if (notify_now) notify(io);
  return head;
}

void Queue::notify(const ostd::IoPort& io) const { io.write16(kRegQueueNotify, index_); }

bool Queue::has_used() const {
  auto idx = ring_.read16(used_offset_ + 2);
  return idx.is_ok() && idx.value() != last_used_;
}

std::optional<std::pair<u16, u32>> Queue::take_used() {
  auto idx = ring_.read16(used_offset_ + 2);
  if (idx.is_error() || idx.value() == last_used_) return std::nullopt;
  ostd::dma_fence();
  usize e = used_offset_ + 4 + 8 * usize{static_cast<u16>(last_used_ % size_)};
  auto id = ring_.read32(e);
  auto len = ring_.read32(e + 4);
  ++last_used_;
  if (id.is_error() || len.is_error() || id.value() >= size_ || length_[id.value()] == 0) {
    ostd::panic("virtio: the device returned a chain it was not given");
  }
  // Return the chain's descriptors to the free list.
  auto head = static_cast<u16>(id.value());
  u16 tail = head;
  for (u16 i = 1; i < length_[head]; ++i) tail = next_[tail];
  next_[tail] = free_head_;
  free_head_ = head;
  num_free_ = static_cast<u16>(num_free_ + length_[head]);
  length_[head] = 0;
  return std::pair<u16, u32>{head, len.value()};
}

namespace {

/// Finds the first legacy virtio function with `device_id` whose I/O-port BAR 0 holds the
/// registers and `config_bytes` of device configuration, and starts its initialization
/// (reset, ACKNOWLEDGE, DRIVER, the device's share of `features`). The caller sets up its queues
/// and DRIVER_OK.
Result<std::pair<ostd::IoPort, ostd::pci::Device>> open_legacy(u16 device_id, u16 config_bytes, u32 features = 0,
                                                               usize nth = 0) {
  for (const ostd::pci::Device& d : ostd::pci::devices()) {
    if (d.vendor_id != kVendorVirtio || d.device_id != device_id) continue;
    if (nth > 0) {
      --nth;
      continue;
    }
    auto bar = ostd::pci::bar(d, 0);
    if (!bar || !bar->io || bar->size < u64{kRegConfig} + config_bytes || bar->base + bar->size > 0x10000) {
      kLog.warn("virtio {:#x} at {}:{}.{}: no usable I/O-port BAR 0", device_id, d.address.bus, d.address.device,
                d.address.function);
      continue;
    }
    TRY(ostd::pci::enable_device(d));
    auto io = TRY(ostd::IoPort::acquire(static_cast<u16>(bar->base), static_cast<u16>(bar->size)));
    io.write8(kRegStatus, 0);  // reset
    io.write8(kRegStatus, kStatusAcknowledge);
    io.write8(kRegStatus, kStatusAcknowledge | kStatusDriver);
    io.write32(kRegGuestFeatures, io.read32(kRegDeviceFeatures) & features);
    return std::pair<ostd::IoPort, ostd::pci::Device>{std::move(io), d};
  }
  return Errno::enodev;
}

/// Claims `d`'s INTx line for the device object `self`: each interrupt runs `on_irq(device)`
/// while the device is alive (it must read the ISR, which lowers the line). nullopt when the
/// line is shared or missing: the driver polls then.
template <typename Dev, typename OnIrq>
std::optional<ostd::irq::IrqLine> claim_irq_for(const ostd::pci::Device& d, std::string_view what,
                                                const std::shared_ptr<Dev>& self, OnIrq on_irq) {
  auto line = ostd::pci::claim_irq(d);
  if (line.is_error()) {
    kLog.info("{}: no interrupt line of its own ({}); polling", what, line.error());
    return std::nullopt;
  }
  std::weak_ptr<Dev> weak = self;
  line.value().on_interrupt([weak, on_irq](u32) {
    if (auto dev = weak.lock()) on_irq(*dev);
  });
  line.value().enable();
  return line.release_value();
}

}  // namespace

// ---- BlockDevice ----

Result<std::shared_ptr<BlockDevice>> BlockDevice::probe() {
  auto [io, d] = TRY(open_legacy(kDeviceLegacyBlock, 8));  // config: the capacity (u64)
  auto q = Queue::create(io, 0);
  if (q.is_error() || q.value().size() < 3) {
    io.write8(kRegStatus, kStatusFailed);
    return Errno::enodev;
  }
  // Three descriptors a request (header, data, status).
  usize slots = std::min<usize>(kMaxSlots, q.value().size() / 3);
  static_assert(kMaxSlots * kSlotHeaderSize <= kDataOffset);
  u64 sectors = u64{io.read32(kRegConfig)} | (u64{io.read32(kRegConfig + 4)} << 32);
  auto buf = TRY(ostd::DmaCoherent::alloc((kDataOffset + slots * kSlotDataSize) / ostd::kPageSize));
  io.write8(kRegStatus, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  kLog.info("virtio-blk at {}:{}.{}: {} sectors, queue of {}, {} requests in flight", d.address.bus, d.address.device,
            d.address.function, sectors, q.value().size(), slots);
  auto dev = std::make_shared<BlockDevice>(std::move(io), q.release_value(), std::move(buf), sectors, slots);
  dev->attach_irq(d, dev);
  return dev;
}

Result<void> BlockDevice::run(std::span<const Piece> pieces, bool write) {
  ostd::MutexGuard g(lock_);
  if (broken_) return Errno::eio;
  // The pieces cut into requests of up to kMaxSectors, in order.
  struct Request {
    usize piece = 0;
    usize at = 0;  // bytes into the piece
    usize count = 0;
  };
  usize next_piece = 0, next_at = 0;
  auto next_request = [&]() -> Result<std::optional<Request>> {
    while (next_piece < pieces.size()) {
      const Piece& p = pieces[next_piece];
      usize len = write ? p.src.size() : p.dst.size();
      if (p.offset % kSectorSize != 0 || len % kSectorSize != 0) return Errno::einval;
      if (next_at < len) {
        Request r{next_piece, next_at, std::min<usize>(kMaxSectors, (len - next_at) / kSectorSize)};
        u64 sector = (p.offset + next_at) / kSectorSize;
        if (sector >= sectors_ || r.count > sectors_ - sector) return Errno::einval;
        next_at += r.count * kSectorSize;
        return std::optional<Request>(r);
      }
      ++next_piece;
      next_at = 0;
    }
    return std::optional<Request>();
  };
  std::array<std::optional<Request>, kMaxSlots> in_slot;
  usize in_flight = 0;
  Result<void> result;
  bool more = true;
  for (;;) {
    // Every free slot gets the next request; the device hears of them once.
    bool submitted = false;
    for (usize s = 0; s < slots_ && more && result.is_ok(); ++s) {
      if (in_slot[s]) continue;
      auto r = next_request();
      if (r.is_error()) {
        result = r.error();
        break;
      }
      if (!r.value()) {
        more = false;
        break;
      }
      const Request req = *r.value();
      const Piece& p = pieces[req.piece];
      usize hdr = s * kSlotHeaderSize, data = kDataOffset + s * kSlotDataSize, bytes = req.count * kSectorSize;
      TRY(buf_.write32(hdr, write ? kBlkTypeOut : kBlkTypeIn));
      TRY(buf_.write32(hdr + 4, 0));
      TRY(buf_.write64(hdr + 8, (p.offset + req.at) / kSectorSize));
      TRY(buf_.write8(hdr + 16, 0xff));
      if (write) {
        ostd::VmWriter w = buf_.writer(data, bytes);
        TRY(w.write_bytes(p.src.subspan(req.at, bytes)));
      }
      const std::array<Segment, 3> chain{Segment{hdr, 16, false}, Segment{data, static_cast<u32>(bytes), !write},
                                         Segment{hdr + 16, 1, true}};
      u16 head = TRY(queue_.submit(io_, buf_, chain, false));  // slots * 3 <= the queue's size
      head_slot_.at(head) = static_cast<u16>(s);
      in_slot[s] = req;
      ++in_flight;
      submitted = true;
    }
    if (submitted) queue_.notify(io_);
    if (in_flight == 0) break;
    // At least one completion, then every one there is.
    u64 deadline = ostd::monotonic_ns() + kRequestTimeoutNs;
    while (!queue_.has_used()) {
      if (ostd::monotonic_ns() > deadline) {
        kLog.error("virtio-blk: {} requests timed out; the disk is given up", in_flight);
        broken_ = true;
        return Errno::eio;
      }
      if (irq_) {
        (void)done_.wait_until([this] { return queue_.has_used(); }, kRequestTimeoutNs);
      } else {
        ostd::Task::yield_now();
      }
    }
    if (!irq_) (void)io_.read8(kRegIsr);  // acknowledges the interrupt nobody takes
    while (auto used = queue_.take_used()) {
      u16 s = head_slot_.at(used->first);
      if (s == kNoSlot || !in_slot.at(s)) ostd::panic("virtio-blk: a request completed twice");
      head_slot_[used->first] = kNoSlot;
      const Request req = *in_slot[s];
      in_slot[s].reset();
      --in_flight;
      auto status = buf_.read8(s * kSlotHeaderSize + 16);
      if (status.is_error() || status.value() != 0) {
        if (result.is_ok()) result = Errno::eio;
        continue;
      }
      if (!write && result.is_ok()) {
        ostd::VmReader r = buf_.reader(kDataOffset + s * kSlotDataSize, req.count * kSectorSize);
        auto copied = r.read_bytes(pieces[req.piece].dst.subspan(req.at, req.count * kSectorSize));
        if (copied.is_error()) result = copied.error();
      }
    }
  }
  return result;
}

void BlockDevice::attach_irq(const ostd::pci::Device& d, const std::shared_ptr<BlockDevice>& self) {
  irq_ = claim_irq_for(d, "virtio-blk", self, [](BlockDevice& dev) {
    (void)dev.io_.read8(kRegIsr);  // reading the ISR lowers the interrupt
    dev.done_.wake_all();
  });
}

Result<void> BlockDevice::read(u64 offset, std::span<u8> dst) {
  const std::array<Piece, 1> one{Piece{offset, dst, {}}};
  return run(one, false);
}

Result<void> BlockDevice::write(u64 offset, std::span<const u8> src) {
  const std::array<Piece, 1> one{Piece{offset, {}, src}};
  return run(one, true);
}

// ---- ConsoleDevice ----

Result<std::shared_ptr<ConsoleDevice>> ConsoleDevice::probe() {
  auto [io, d] = TRY(open_legacy(kDeviceLegacyConsole, 0));
  auto rx = Queue::create(io, 0);
  auto tx = Queue::create(io, 1);
  if (rx.is_error() || tx.is_error() || rx.value().size() < kRxBuffers) {
    io.write8(kRegStatus, kStatusFailed);
    return Errno::enodev;
  }
  auto rx_buf = TRY(ostd::DmaCoherent::alloc(kRxBuffers * kRxBufferSize / ostd::kPageSize));
  auto tx_buf = TRY(ostd::DmaCoherent::alloc(1));
  auto dev = std::make_shared<ConsoleDevice>(std::move(io), rx.release_value(), tx.release_value(), std::move(rx_buf),
                                             std::move(tx_buf));
  for (usize b = 0; b < kRxBuffers; ++b) TRY(dev->post_rx(b));
  dev->attach_irq(d, dev);
  dev->io_.write8(kRegStatus, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  kLog.info("virtio console at {}:{}.{}", d.address.bus, d.address.device, d.address.function);
  return dev;
}

void ConsoleDevice::attach_irq(const ostd::pci::Device& d, const std::shared_ptr<ConsoleDevice>& self) {
  irq_ = claim_irq_for(d, "virtio console", self, [](ConsoleDevice& dev) {
    (void)dev.io_.read8(kRegIsr);  // reading the ISR lowers the interrupt
    dev.input_.wake_all();
    dev.tx_done_.wake_all();
  });
}

bool ConsoleDevice::readable() const { return pending_off_ < pending_.size() || rx_.has_used(); }

Result<void> ConsoleDevice::post_rx(usize buffer) {
  const std::array<Segment, 1> chain{Segment{buffer * kRxBufferSize, kRxBufferSize, true}};
  u16 head = TRY(rx_.submit(io_, rx_buf_, chain));
  rx_head_buffer_.at(head) = buffer;
  return {};
}

Result<usize> ConsoleDevice::write(ostd::VmReader& in) {
  ostd::MutexGuard g(lock_);
  usize done = 0;
  while (in.has_remain()) {
    usize n = std::min<usize>(in.remain(), tx_buf_.size());
    ostd::VmWriter w = tx_buf_.writer(0, n);
    auto copied = in.read_to(w);
    if (copied.is_error()) return done > 0 ? Result<usize>(done) : copied;
    const std::array<Segment, 1> chain{Segment{0, static_cast<u32>(copied.value()), false}};
    (void)TRY(tx_.submit(io_, tx_buf_, chain));
    u64 deadline = ostd::monotonic_ns() + kRequestTimeoutNs;
    while (!tx_.take_used().has_value()) {
      if (ostd::monotonic_ns() > deadline) return done > 0 ? Result<usize>(done) : Result<usize>(Errno::eio);
      if (irq_) {
        (void)tx_done_.wait_until([this] { return tx_.has_used(); }, kRequestTimeoutNs);
      } else {
        ostd::Task::yield_now();
      }
    }
    done += copied.value();
    if (copied.value() < n) break;
  }
  return done;
}

Result<usize> ConsoleDevice::try_read(ostd::VmWriter& out) {
  ostd::MutexGuard g(lock_);
  while (auto used = rx_.take_used()) {
    usize b = rx_head_buffer_.at(used->first);
    usize len = std::min<usize>(used->second, kRxBufferSize);
    std::vector<u8> bytes(len);
    TRY(rx_buf_.read_bytes(b * kRxBufferSize, bytes));
    if (pending_off_ == pending_.size()) {
      pending_.clear();
      pending_off_ = 0;
    }
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
    TRY(post_rx(b));
  }
  if (pending_off_ == pending_.size()) return Errno::eagain;
  usize n = std::min(out.avail(), pending_.size() - pending_off_);
  TRY(out.write_bytes(std::span<const u8>(pending_).subspan(pending_off_, n)));
  pending_off_ += n;
  return n;
}

// ---- NetDevice ----

Result<std::shared_ptr<NetDevice>> NetDevice::probe() {
  auto [io, d] = TRY(open_legacy(kDeviceLegacyNet, 6, kNetFeatureMac));
  auto rx = Queue::create(io, 0);
  auto tx = Queue::create(io, 1);
  // Each buffer is a chain of two descriptors (the header, then the frame).
  if (rx.is_error() || tx.is_error() || rx.value().size() < 2 * kBuffers || tx.value().size() < 2 * kBuffers) {
    io.write8(kRegStatus, kStatusFailed);
    return Errno::enodev;
  }
  std::array<u8, 6> mac{};
  for (u16 i = 0; i < 6; ++i) mac[i] = io.read8(static_cast<u16>(kRegConfig + i));
  auto rx_buf = TRY(ostd::DmaCoherent::alloc(kBuffers * kBufferSize / ostd::kPageSize));
  auto tx_buf = TRY(ostd::DmaCoherent::alloc(kBuffers * kBufferSize / ostd::kPageSize));
  auto dev = std::make_shared<NetDevice>(std::move(io), rx.release_value(), tx.release_value(), std::move(rx_buf),
                                         std::move(tx_buf), mac);
  for (usize b = 0; b < kBuffers; ++b) {
    TRY(dev->post_rx(b));
    dev->tx_free_.push_back(b);
  }
  dev->attach_irq(d, dev);
  dev->io_.write8(kRegStatus, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  kLog.info("virtio-net at {}:{}.{}: {:x}:{:x}:{:x}:{:x}:{:x}:{:x}", d.address.bus, d.address.device,
            d.address.function, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return dev;
}

void NetDevice::attach_irq(const ostd::pci::Device& d, const std::shared_ptr<NetDevice>& self) {
  irq_ = claim_irq_for(d, "virtio-net", self, [](NetDevice& dev) {
    (void)dev.io_.read8(kRegIsr);  // reading the ISR lowers the interrupt
    if (dev.handler_) dev.handler_();
  });
}

void NetDevice::on_receive(std::function<void()> handler) {
  ostd::irq::DisabledGuard irqs;
  handler_ = std::move(handler);
}

Result<void> NetDevice::post_rx(usize buffer) {
  usize at = buffer * kBufferSize;
  const std::array<Segment, 2> chain{Segment{at, kHeader, true},
                                     Segment{at + kHeader, static_cast<u32>(kBufferSize - kHeader), true}};
  u16 head = TRY(rx_.submit(io_, rx_buf_, chain));
  rx_head_buffer_.at(head) = buffer;
  return {};
}

void NetDevice::reclaim_tx() {
  while (auto used = tx_.take_used()) tx_free_.push_back(tx_head_buffer_.at(used->first));
}

Result<void> NetDevice::transmit(std::span<const u8> frame) {
  if (frame.size() < 14 || frame.size() > kBufferSize - kHeader) return Errno::einval;
  ostd::MutexGuard g(lock_);
  reclaim_tx();
  if (tx_free_.empty()) return Errno::enobufs;
  usize b = tx_free_.back();
  usize at = b * kBufferSize;
  const std::array<u8, kHeader> header{};  // no checksum offload, no segmentation
  TRY(tx_buf_.write_bytes(at, header));
  TRY(tx_buf_.write_bytes(at + kHeader, frame));
  const std::array<Segment, 2> chain{Segment{at, kHeader, false},
                                     Segment{at + kHeader, static_cast<u32>(frame.size()), false}};
  u16 head = TRY(tx_.submit(io_, tx_buf_, chain));
  tx_free_.pop_back();
  tx_head_buffer_.at(head) = b;
  return {};
}

Result<usize> NetDevice::receive(std::span<u8> dst) {
  ostd::MutexGuard g(lock_);
  if (!irq_) (void)io_.read8(kRegIsr);  // acknowledges the interrupt nobody takes
  auto used = rx_.take_used();
  if (!used) return Errno::eagain;
  usize b = rx_head_buffer_.at(used->first);
  usize len = used->second > kHeader ? std::min<usize>(used->second - kHeader, kBufferSize - kHeader) : 0;
  len = std::min(len, dst.size());
  TRY(rx_buf_.read_bytes(b * kBufferSize + kHeader, dst.first(len)));
  TRY(post_rx(b));
  return len;
}

std::shared_ptr<NetDevice> net_device() {
  static const std::shared_ptr<NetDevice> dev = [] {
    auto d = NetDevice::probe();
    return d.is_ok() ? d.release_value() : std::shared_ptr<NetDevice>();
  }();
  return dev;
}

std::shared_ptr<ConsoleDevice> console_device() {
  static const std::shared_ptr<ConsoleDevice> dev = [] {
    auto d = ConsoleDevice::probe();
    return d.is_ok() ? d.release_value() : std::shared_ptr<ConsoleDevice>();
  }();
  return dev;
}

// ---- NinePDevice ----

std::vector<std::shared_ptr<p9::Transport>> p9_devices() {
  static const std::vector<std::shared_ptr<p9::Transport>> all = [] {
    std::vector<std::shared_ptr<p9::Transport>> out;
    for (usize nth = 0;; ++nth) {
      auto opened = open_legacy(kDeviceLegacy9p, 2, k9pFeatureMountTag, nth);
      if (opened.is_error()) break;
      auto& [io, d] = opened.value();
      u16 len = io.read16(kRegConfig);
      std::string tag;
      for (u16 i = 0; i < len && u32{kRegConfig} + 2 + i < io.count(); ++i) {
        tag.push_back(static_cast<char>(io.read8(static_cast<u16>(kRegConfig + 2 + i))));
      }
      auto q = Queue::create(io, 0);
      auto buf = ostd::DmaCoherent::alloc(NinePDevice::kReplyOffset / ostd::kPageSize * 2);
      if (q.is_error() || q.value().size() < 2 || buf.is_error()) {
        io.write8(kRegStatus, kStatusFailed);
        continue;
      }
      io.write8(kRegStatus, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
      kLog.info("virtio-9p at {}:{}.{}: share '{}'", d.address.bus, d.address.device, d.address.function, tag);
      auto dev = std::make_shared<NinePDevice>(std::move(io), q.release_value(), buf.release_value(), tag);
      dev->attach_irq(d, dev);
      out.push_back(dev);
    }
    return out;
  }();
  return all;
}

void NinePDevice::attach_irq(const ostd::pci::Device& d, const std::shared_ptr<NinePDevice>& self) {
  irq_ = claim_irq_for(d, "virtio-9p", self, [](NinePDevice& dev) {
    (void)dev.io_.read8(kRegIsr);
    dev.done_.wake_all();
  });
}

Result<void> NinePDevice::rpc(std::span<const u8> request, std::vector<u8>& reply) {
  if (request.size() > kMaxMessage || request.size() < p9::kHeader) return Errno::einval;
  ostd::MutexGuard g(lock_);
  TRY(buf_.write_bytes(0, request));
  const std::array<Segment, 2> chain{Segment{0, static_cast<u32>(request.size()), false},
                                     Segment{kReplyOffset, kMaxMessage, true}};
  (void)TRY(queue_.submit(io_, buf_, chain));
  u64 deadline = ostd::monotonic_ns() + kRequestTimeoutNs;
  std::optional<std::pair<u16, u32>> used;
  for (;;) {
    used = queue_.take_used();
    if (used) break;
    if (ostd::monotonic_ns() > deadline) {
      kLog.error("virtio-9p '{}': a request timed out", tag_);
      return Errno::eio;
    }
    if (irq_) {
      (void)done_.wait_until([this] { return queue_.has_used(); }, kRequestTimeoutNs);
    } else {
      ostd::Task::yield_now();
    }
  }
  if (!irq_) (void)io_.read8(kRegIsr);
  u32 len = std::min<u32>(used->second, kMaxMessage);
  reply.resize(len);
  TRY(buf_.read_bytes(kReplyOffset, reply));
  return {};
}

std::shared_ptr<BlockDevice> block_device() {
  static const std::shared_ptr<BlockDevice> dev = [] {
    auto d = BlockDevice::probe();
    return d.is_ok() ? d.release_value() : std::shared_ptr<BlockDevice>();
  }();
  return dev;
}

}  // namespace services::virtio
