// services/device/virtio.h — virtio over PCI (the legacy/transitional I/O-port interface of the
// virtio 1.x spec, section 4.1.4.8) with split virtqueues, and the block device on top.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <ostd/dev/io.h>
#include <ostd/error.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/types.h>

#include "fs/p9.h"

namespace services::virtio {

/// One buffer of a descriptor chain: [offset, offset + len) of the driver's DMA memory.
struct Segment {
  ostd::usize offset;
  ostd::u32 len;
  bool device_writes;
};

/// A split virtqueue (spec 2.7) of a legacy device: descriptor table, available and used rings
/// in one DMA area. Buffers live in a separate DMA area the caller owns. Several chains may be
/// in flight; descriptors come from a free list and return to it in take_used().
class Queue {
 public:
  static ostd::Result<Queue> create(const ostd::IoPort& io, ostd::u16 index);
  ostd::u16 size() const { return size_; }
  /// Puts a chain of buffers of `data` on the ring (EAGAIN when descriptors run out) and, if
  /// `notify`, tells the device. Returns the chain's head (take_used() reports it back).
  ostd::Result<ostd::u16> submit(const ostd::IoPort& io, const ostd::DmaCoherent& data, std::span<const Segment> chain,
                                 bool notify = true);
  void notify(const ostd::IoPort& io) const;
  /// The next chain the device has finished with, if any: its head and the bytes written.
  std::optional<std::pair<ostd::u16, ostd::u32>> take_used();
  /// Whether take_used() has something (no side effects).
  bool has_used() const;

 private:
  Queue(ostd::DmaCoherent ring, ostd::u16 index, ostd::u16 size, ostd::usize used_offset);
  ostd::DmaCoherent ring_;
  ostd::u16 index_;
  ostd::u16 size_;
  ostd::usize used_offset_;
  ostd::u16 avail_idx_ = 0;
  ostd::u16 last_used_ = 0;
  ostd::u16 free_head_ = 0;
  ostd::u16 num_free_ = 0;
  std::vector<ostd::u16> next_;    // the free list and each chain's links, by descriptor
  std::vector<ostd::u16> length_;  // descriptors in the chain starting here
};

/// A virtio block device (/dev/vda). Each request moves up to kMaxSectors through its own slot
/// of the DMA buffer; a call keeps up to slots() requests in flight (a 256 KiB read is four
/// requests at once, a batch of writes as many as fit), so QEMU serves them together.
class BlockDevice {
 public:
  static constexpr ostd::usize kSectorSize = 512;
  static constexpr ostd::usize kMaxSectors = 128;
  static constexpr ostd::usize kMaxSlots = 16;
  /// Each slot's request header (16 bytes) and status byte, in the buffer's first page.
  static constexpr ostd::usize kSlotHeaderSize = 32;
  /// Slot i's data: kMaxSectors sectors from kDataOffset + i * kSlotDataSize.
  static constexpr ostd::usize kDataOffset = ostd::kPageSize;
  static constexpr ostd::usize kSlotDataSize = kMaxSectors * kSectorSize;

  /// One piece of a batch: whole sectors at a byte offset, read into `dst` or written from `src`.
  struct Piece {
    ostd::u64 offset = 0;
    std::span<ostd::u8> dst;
    std::span<const ostd::u8> src;
  };

  /// Finds and initializes the first virtio-blk PCI function; ENODEV when there is none.
  static ostd::Result<std::shared_ptr<BlockDevice>> probe();
  BlockDevice(ostd::IoPort io, Queue q, ostd::DmaCoherent buf, ostd::u64 sectors, ostd::usize slots)
      : io_(std::move(io)), queue_(std::move(q)), buf_(std::move(buf)), sectors_(sectors), slots_(slots),
        head_slot_(queue_.size(), kNoSlot) {}

  ostd::u64 size_bytes() const { return sectors_ * kSectorSize; }
  /// Whether completions arrive by interrupt (else the driver polls).
  bool interrupt_driven() const { return irq_.has_value(); }
  /// Requests in flight at most.
  ostd::usize slots() const { return slots_; }
  /// Whole sectors at a sector offset (the caller checked the range: services/device/block.h's
  /// BlockDevice, which also serves byte-granular access).
  ostd::Result<void> read(ostd::u64 offset, std::span<ostd::u8> dst);
  ostd::Result<void> write(ostd::u64 offset, std::span<const ostd::u8> src);
  /// Every piece read (or, with `write`, written), up to slots() requests in flight; returns
  /// when all are done, with the first error. A device that lets a request time out is broken
  /// from then on (EIO): its slots may still be written.
  ostd::Result<void> run(std::span<const Piece> pieces, bool write);

 private:
  static constexpr ostd::u16 kNoSlot = 0xffff;
  void attach_irq(const ostd::pci::Device& d, const std::shared_ptr<BlockDevice>& self);
  ostd::Mutex lock_;
  ostd::IoPort io_;
  Queue queue_;
  std::optional<ostd::irq::IrqLine> irq_;
  ostd::WaitQueue done_;
  /// The slots' headers and status bytes (first page), then their data.
  ostd::DmaCoherent buf_;
  ostd::u64 sectors_;
  ostd::usize slots_;
  std::vector<ostd::u16> head_slot_;  // the slot of each chain in flight, by its head descriptor
  bool broken_ = false;
};

/// A virtio console (port 0 of a virtio-serial device, /dev/hvc0), polled.
class ConsoleDevice {
 public:
  static constexpr ostd::usize kRxBuffers = 16;
  static constexpr ostd::usize kRxBufferSize = 256;

  /// Finds and initializes the first virtio console PCI function; ENODEV when there is none.
  static ostd::Result<std::shared_ptr<ConsoleDevice>> probe();
  ConsoleDevice(ostd::IoPort io, Queue rx, Queue tx, ostd::DmaCoherent rx_buf, ostd::DmaCoherent tx_buf)
      : io_(std::move(io)), rx_(std::move(rx)), tx_(std::move(tx)), rx_buf_(std::move(rx_buf)),
        tx_buf_(std::move(tx_buf)), rx_head_buffer_(rx_.size(), 0) {}

  /// Sends all of `in` (or up to the first fault); returns the bytes sent.
  ostd::Result<ostd::usize> write(ostd::VmReader& in);
  /// Received bytes into `out`; EAGAIN when none are waiting.
  ostd::Result<ostd::usize> try_read(ostd::VmWriter& out);
  /// Whether try_read() would return data now.
  bool readable() const;
  /// Woken when input arrives (by interrupt; without one, readers poll).
  ostd::WaitQueue& input_queue() { return input_; }
  bool interrupt_driven() const { return irq_.has_value(); }

 private:
  ostd::Result<void> post_rx(ostd::usize buffer);
  void attach_irq(const ostd::pci::Device& d, const std::shared_ptr<ConsoleDevice>& self);
  ostd::Mutex lock_;
  ostd::IoPort io_;
  std::optional<ostd::irq::IrqLine> irq_;
  ostd::WaitQueue input_;
  ostd::WaitQueue tx_done_;
  Queue rx_;
  Queue tx_;
  ostd::DmaCoherent rx_buf_;                 // kRxBuffers buffers of kRxBufferSize
  ostd::DmaCoherent tx_buf_;                 // one page
  std::vector<ostd::usize> rx_head_buffer_;  // which buffer each posted chain head holds
  std::vector<ostd::u8> pending_;            // received, not yet read
  ostd::usize pending_off_ = 0;
};

/// A virtio network card (spec 5.1, legacy interface): eth0 on bare metal. Frames go out
/// through a ring of transmit buffers (reclaimed as the device finishes them) and come in
/// through posted receive buffers; each buffer is the 10-byte virtio_net_hdr and a frame.
class NetDevice {
 public:
  static constexpr ostd::usize kBuffers = 64;       // each direction
  static constexpr ostd::usize kBufferSize = 2048;  // header and a 1514-byte frame
  static constexpr ostd::usize kHeader = 10;        // struct virtio_net_hdr without MRG_RXBUF
  static constexpr ostd::u32 kMtu = 1500;

  /// Finds and initializes the first virtio-net PCI function; ENODEV when there is none.
  static ostd::Result<std::shared_ptr<NetDevice>> probe();
  NetDevice(ostd::IoPort io, Queue rx, Queue tx, ostd::DmaCoherent rx_buf, ostd::DmaCoherent tx_buf,
            std::array<ostd::u8, 6> mac)
      : io_(std::move(io)), rx_(std::move(rx)), tx_(std::move(tx)), rx_buf_(std::move(rx_buf)),
        tx_buf_(std::move(tx_buf)), mac_(mac), rx_head_buffer_(rx_.size(), 0), tx_head_buffer_(tx_.size(), 0) {}

  const std::array<ostd::u8, 6>& mac() const { return mac_; }
  /// Queues a frame; EINVAL past kMtu + 14 bytes, ENOBUFS when every transmit buffer is busy.
  ostd::Result<void> transmit(std::span<const ostd::u8> frame);
  /// The next received frame into `dst` (cut to fit): its length; EAGAIN when none waits.
  ostd::Result<ostd::usize> receive(std::span<ostd::u8> dst);
  /// Runs `handler` in interrupt context when the device signals (frames may have come).
  void on_receive(std::function<void()> handler);
  /// Whether arrivals are signalled; without an interrupt line the caller polls.
  bool interrupt_driven() const { return irq_.has_value(); }

 private:
  ostd::Result<void> post_rx(ostd::usize buffer);
  void reclaim_tx();
  void attach_irq(const ostd::pci::Device& d, const std::shared_ptr<NetDevice>& self);
  ostd::Mutex lock_;  // the rings and buffers (the interrupt handler touches neither)
  ostd::IoPort io_;
  Queue rx_;
  Queue tx_;
  ostd::DmaCoherent rx_buf_;  // kBuffers buffers of kBufferSize
  ostd::DmaCoherent tx_buf_;
  std::array<ostd::u8, 6> mac_;
  std::optional<ostd::irq::IrqLine> irq_;
  std::function<void()> handler_;
  std::vector<ostd::usize> rx_head_buffer_;  // which buffer each posted chain head holds
  std::vector<ostd::usize> tx_head_buffer_;
  std::vector<ostd::usize> tx_free_;  // transmit buffers not on the ring
};

/// A virtio 9P transport (spec 5.11, legacy interface): QEMU's -virtfs share, found by its mount
/// tag. One request at a time: the T-message in one buffer, the R-message into another.
class NinePDevice final : public p9::Transport {
 public:
  static constexpr ostd::u32 kMaxMessage = 128 * 1024 + 4096;
  /// Where the reply goes in the buffer (the request is at 0).
  static constexpr ostd::usize kReplyOffset = 33 * ostd::kPageSize;
  NinePDevice(ostd::IoPort io, Queue q, ostd::DmaCoherent buf, std::string tag)
      : io_(std::move(io)), queue_(std::move(q)), buf_(std::move(buf)), tag_(std::move(tag)) {}
  std::string tag() const override { return tag_; }
  /// QEMU's readonly=on is not visible to the guest: the kernel mounts such a share read-only
  /// because its command line says so, and QEMU refuses changes with EROFS anyway.
  bool read_only() const override { return false; }
  ostd::u32 max_message() const override { return kMaxMessage; }
  ostd::Result<void> rpc(std::span<const ostd::u8> request, std::vector<ostd::u8>& reply) override;

 private:
  friend std::vector<std::shared_ptr<p9::Transport>> p9_devices();
  void attach_irq(const ostd::pci::Device& d, const std::shared_ptr<NinePDevice>& self);
  ostd::Mutex lock_;
  ostd::IoPort io_;
  Queue queue_;
  ostd::DmaCoherent buf_;  // the request at 0, the reply at kReplyOffset
  std::string tag_;
  std::optional<ostd::irq::IrqLine> irq_;
  ostd::WaitQueue done_;
};

/// The machine's virtio-9p shares, probed once.
std::vector<std::shared_ptr<p9::Transport>> p9_devices();

/// The machine's block device, probed once (nullptr when there is none).
std::shared_ptr<BlockDevice> block_device();
/// The machine's virtio console, probed once (nullptr when there is none).
std::shared_ptr<ConsoleDevice> console_device();
/// The machine's virtio network card, probed once (nullptr when there is none).
std::shared_ptr<NetDevice> net_device();

}  // namespace services::virtio
