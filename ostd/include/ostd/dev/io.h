// ostd/dev/io.h — what device drivers in services get: port I/O ranges, DMA memory and the PCI
// configuration space, each behind a checked, owned handle.
//
// A driver never sees a raw pointer: an IoPort covers the ports it acquired and checks every
// offset, DmaCoherent is device-visible memory the driver reads and writes by offset, and PCI
// configuration writes cannot move BARs. Ports the framework uses itself (serial, PIC, PIT,
// CMOS, PCI configuration) cannot be acquired. Backends without these devices (the host) return
// ENODEV and list no PCI devices, so the same drivers run everywhere and find nothing there.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include <ostd/error.h>
#include <ostd/irq.h>
#include <ostd/mm/frame.h>
#include <ostd/mm/io.h>
#include <ostd/types.h>

namespace ostd {

/// An owned range of x86 I/O ports [base, base + count). Offsets past the range panic (a driver
/// bug, not bad input).
class IoPort {
 public:
  /// ENODEV: the backend has no port I/O; EACCES: the framework owns a port in the range;
  /// EBUSY: another IoPort holds one; EINVAL: empty or wrapping range.
  static Result<IoPort> acquire(u16 base, u16 count);
  IoPort(IoPort&& other) noexcept;
  IoPort& operator=(IoPort&& other) noexcept;
  IoPort(const IoPort&) = delete;
  IoPort& operator=(const IoPort&) = delete;
  ~IoPort();

  u16 base() const { return base_; }
  u16 count() const { return count_; }
  u8 read8(u16 offset) const;
  u16 read16(u16 offset) const;
  u32 read32(u16 offset) const;
  void write8(u16 offset, u8 value) const;
  void write16(u16 offset, u16 value) const;
  void write32(u16 offset, u32 value) const;

 private:
  IoPort(u16 base, u16 count) : base_(base), count_(count) {}
  u16 check(u16 offset, u16 width) const;
  u16 base_ = 0;
  u16 count_ = 0;
};

/// Physically contiguous, zeroed memory that a device reads and writes by DMA (coherent with
/// the CPU caches on x86). Accesses are by offset, bounds-checked (EINVAL past the end), and
/// volatile: a device may change the memory at any time.
class DmaCoherent {
 public:
  static Result<DmaCoherent> alloc(usize pages);
  /// The address the device uses (no IOMMU: the physical address).
  Paddr device_address() const { return seg_.paddr(); }
  usize size() const { return seg_.size(); }

  Result<void> read_bytes(usize offset, std::span<u8> dst) const;
  Result<void> write_bytes(usize offset, std::span<const u8> src);
  Result<u8> read8(usize offset) const;
  Result<u16> read16(usize offset) const;
  Result<u32> read32(usize offset) const;
  Result<u64> read64(usize offset) const;
  Result<void> write8(usize offset, u8 v);
  Result<void> write16(usize offset, u16 v);
  Result<void> write32(usize offset, u32 v);
  Result<void> write64(usize offset, u64 v);
  /// Cursors for copying between this memory and user or kernel buffers.
  VmReader reader(usize offset, usize len) const;
  VmWriter writer(usize offset, usize len);

 private:
  explicit DmaCoherent(Segment s) : seg_(std::move(s)) {}
  Segment seg_;
};

/// Orders the CPU's memory accesses before and after it, for the device (ring index updates).
void dma_fence();

namespace pci {

struct Address {
  u8 bus = 0;
  u8 device = 0;
  u8 function = 0;
};

struct Device {
  Address address;
  u16 vendor_id = 0;
  u16 device_id = 0;
  u8 class_code = 0;
  u8 subclass = 0;
  u8 prog_if = 0;
  u16 subsystem_id = 0;
  /// The legacy interrupt line the firmware routed INTx to (0xff: none).
  u8 irq_line = 0xff;
};

struct Bar {
  bool io = false;  // an I/O-port BAR (else memory)
  u64 base = 0;
  u64 size = 0;
};

/// Every function on the PCI bus (empty where there is none).
std::vector<Device> devices();
u8 config_read8(const Address& a, u16 offset);
u16 config_read16(const Address& a, u16 offset);
u32 config_read32(const Address& a, u16 offset);
/// Writes the command register and other non-BAR fields; EPERM for the BARs (0x10-0x27) and
/// the expansion ROM base (0x30); EINVAL past the 256-byte header; ENODEV without PCI.
Result<void> config_write16(const Address& a, u16 offset, u16 value);
/// BAR `index` (0-5) decoded, or nullopt when it is not implemented.
std::optional<Bar> bar(const Device& d, int index);
/// Sets I/O-space, memory-space and bus-master enable in the command register.
Result<void> enable_device(const Device& d);
/// Claims the device's legacy INTx line (level-triggered) as an IrqLine. EBUSY when another
/// driver holds that line (shared INTx is not supported: poll instead), ENODEV when the
/// firmware routed none.
Result<irq::IrqLine> claim_irq(const Device& d);

}  // namespace pci

}  // namespace ostd
