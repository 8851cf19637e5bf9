// Device I/O for drivers: port ranges, DMA memory, PCI configuration space (ostd/dev/io.h).
#include <ostd/dev/io.h>

#include <atomic>
#include <cstring>

#include <ostd/internal.h>
#include <ostd/log.h>
#include <ostd/sync.h>

namespace ostd {

// ---- IoPort ----

namespace {
struct PortRange {
  u16 base;
  u16 count;
};
SpinLock& ports_lock() {
  static SpinLock l;
  return l;
}
std::vector<PortRange>& taken_ports() {
  static std::vector<PortRange> v;
  return v;
}
}  // namespace

Result<IoPort> IoPort::acquire(u16 base, u16 count) {
  if (count == 0 || u32{base} + count > 0x10000) return Errno::einval;
  if (!arch::has_io_ports()) return Errno::enodev;
  for (u32 p = base; p < u32{base} + count; ++p) {
    if (!arch::io_port_available(static_cast<u16>(p))) return Errno::eacces;
  }
  SpinLockGuard g(ports_lock());
  for (const PortRange& r : taken_ports()) {
    if (base < r.base + r.count && r.base < base + count) return Errno::ebusy;
  }
  taken_ports().push_back({base, count});
  return IoPort(base, count);
}

IoPort::IoPort(IoPort&& other) noexcept : base_(other.base_), count_(other.count_) { other.count_ = 0; }
IoPort& IoPort::operator=(IoPort&& other) noexcept {
  if (this != &other) {
    this->~IoPort();
    base_ = other.base_;
    count_ = other.count_;
    other.count_ = 0;
  }
  return *this;
}
IoPort::~IoPort() {
  if (count_ == 0) return;
  SpinLockGuard g(ports_lock());
  auto& v = taken_ports();
  for (usize i = 0; i < v.size(); ++i) {
    if (v[i].base == base_ && v[i].count == count_) {
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  count_ = 0;
}

u16 IoPort::check(u16 offset, u16 width) const {
  if (u32{offset} + width > count_) {
    panic("I/O port offset {:#x} (+{}) outside the range {:#x}+{:#x}", offset, width, base_, count_);
  }
  return static_cast<u16>(base_ + offset);
}
u8 IoPort::read8(u16 o) const { return static_cast<u8>(arch::io_port_read(check(o, 1), 1)); }
u16 IoPort::read16(u16 o) const { return static_cast<u16>(arch::io_port_read(check(o, 2), 2)); }
u32 IoPort::read32(u16 o) const { return arch::io_port_read(check(o, 4), 4); }
void IoPort::write8(u16 o, u8 v) const { arch::io_port_write(check(o, 1), 1, v); }
void IoPort::write16(u16 o, u16 v) const { arch::io_port_write(check(o, 2), 2, v); }
void IoPort::write32(u16 o, u32 v) const { arch::io_port_write(check(o, 4), 4, v); }

// ---- DmaCoherent ----

Result<DmaCoherent> DmaCoherent::alloc(usize pages) { return DmaCoherent(TRY(Segment::alloc(pages))); }

namespace {
bool in_range(usize offset, usize len, usize size) {
  usize end = 0;
  return checked_add(offset, len, end) && end <= size;
}
template <typename T>
Result<T> dma_read(const Segment& s, usize offset) {
  if (!in_range(offset, sizeof(T), s.size()) || offset % sizeof(T) != 0) return Errno::einval;
  // SAFETY: [offset, +sizeof(T)) is inside the owned segment and T-aligned (page-aligned base).
  return *reinterpret_cast<const volatile T*>(arch::phys_to_virt(s.paddr() + offset));
}
template <typename T>
Result<void> dma_write(Segment& s, usize offset, T v) {
  if (!in_range(offset, sizeof(T), s.size()) || offset % sizeof(T) != 0) return Errno::einval;
  // SAFETY: [offset, +sizeof(T)) is inside the owned segment and T-aligned (page-aligned base).
  *reinterpret_cast<volatile T*>(arch::phys_to_virt(s.paddr() + offset)) = v;
  return {};
}
}  // namespace

Result<void> DmaCoherent::read_bytes(usize offset, std::span<u8> dst) const {
  if (!in_range(offset, dst.size(), size())) return Errno::einval;
  return seg_.read_bytes(offset, dst);
}
Result<void> DmaCoherent::write_bytes(usize offset, std::span<const u8> src) {
  if (!in_range(offset, src.size(), size())) return Errno::einval;
  return seg_.write_bytes(offset, src);
}
Result<u8> DmaCoherent::read8(usize o) const { return dma_read<u8>(seg_, o); }
Result<u16> DmaCoherent::read16(usize o) const { return dma_read<u16>(seg_, o); }
Result<u32> DmaCoherent::read32(usize o) const { return dma_read<u32>(seg_, o); }
Result<u64> DmaCoherent::read64(usize o) const { return dma_read<u64>(seg_, o); }
Result<void> DmaCoherent::write8(usize o, u8 v) { return dma_write<u8>(seg_, o, v); }
Result<void> DmaCoherent::write16(usize o, u16 v) { return dma_write<u16>(seg_, o, v); }
Result<void> DmaCoherent::write32(usize o, u32 v) { return dma_write<u32>(seg_, o, v); }
Result<void> DmaCoherent::write64(usize o, u64 v) { return dma_write<u64>(seg_, o, v); }

VmReader DmaCoherent::reader(usize offset, usize len) const {
  if (!in_range(offset, len, size())) panic("DMA reader [{:#x}, +{:#x}) past {:#x}", offset, len, size());
  return VmReader::from_phys(seg_.paddr() + offset, len);
}
VmWriter DmaCoherent::writer(usize offset, usize len) {
  if (!in_range(offset, len, size())) panic("DMA writer [{:#x}, +{:#x}) past {:#x}", offset, len, size());
  return VmWriter::from_phys(seg_.paddr() + offset, len);
}

void dma_fence() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- PCI ----

namespace pci {

u32 config_read32(const Address& a, u16 offset) {
  if (!arch::pci_present() || offset > 252) return 0xffffffff;
  return arch::pci_config_read32(a.bus, a.device, a.function, static_cast<u16>(offset & ~3u));
}
u16 config_read16(const Address& a, u16 offset) {
  return static_cast<u16>(config_read32(a, offset) >> ((offset & 2) * 8));
}
u8 config_read8(const Address& a, u16 offset) {
  return static_cast<u8>(config_read32(a, offset) >> ((offset & 3) * 8));
}

Result<void> config_write16(const Address& a, u16 offset, u16 value) {
  if (!arch::pci_present()) return Errno::enodev;
  if (offset > 254 || (offset & 1) != 0) return Errno::einval;
  if ((offset >= 0x10 && offset < 0x28) || (offset >= 0x30 && offset < 0x34)) return Errno::eperm;
  u16 aligned = static_cast<u16>(offset & ~3u);
  u32 old = arch::pci_config_read32(a.bus, a.device, a.function, aligned);
  u32 shift = (offset & 2) * 8;
  u32 v = (old & ~(0xffffu << shift)) | (u32{value} << shift);
  if (aligned == 4) v &= 0xffff;  // don't write back the status register's write-1-to-clear bits
  arch::pci_config_write32(a.bus, a.device, a.function, aligned, v);
  return {};
}

std::vector<Device> devices() {
  std::vector<Device> out;
  if (!arch::pci_present()) return out;
  for (u32 bus = 0; bus < 256; ++bus) {
    for (u8 dev = 0; dev < 32; ++dev) {
      for (u8 fn = 0; fn < 8; ++fn) {
        Address a{static_cast<u8>(bus), dev, fn};
        u32 id = config_read32(a, 0);
        if ((id & 0xffff) == 0xffff) {
          if (fn == 0) break;
          continue;
        }
        Device d;
        d.address = a;
        d.vendor_id = static_cast<u16>(id);
        d.device_id = static_cast<u16>(id >> 16);
        u32 cls = config_read32(a, 8);
        d.class_code = static_cast<u8>(cls >> 24);
        d.subclass = static_cast<u8>(cls >> 16);
        d.prog_if = static_cast<u8>(cls >> 8);
        d.subsystem_id = config_read16(a, 0x2e);
        d.irq_line = config_read8(a, 0x3c);
        out.push_back(d);
        if (fn == 0 && (config_read8(a, 0x0e) & 0x80) == 0) break;  // single-function
      }
    }
  }
  return out;
}

std::optional<Bar> bar(const Device& d, int index) {
  if (index < 0 || index > 5 || !arch::pci_present()) return std::nullopt;
  const Address& a = d.address;
  auto off = static_cast<u16>(0x10 + 4 * index);
  u32 orig = arch::pci_config_read32(a.bus, a.device, a.function, off);
  bool io = (orig & 1) != 0;
  bool is64 = !io && ((orig >> 1) & 3) == 2;
  // Size by writing all ones (the framework's own write: drivers cannot write BARs) with
  // decoding off, then restore.
  u32 cmd = arch::pci_config_read32(a.bus, a.device, a.function, 4);
  arch::pci_config_write32(a.bus, a.device, a.function, 4, cmd & 0xfffc);
  arch::pci_config_write32(a.bus, a.device, a.function, off, 0xffffffff);
  u32 mask = arch::pci_config_read32(a.bus, a.device, a.function, off);
  arch::pci_config_write32(a.bus, a.device, a.function, off, orig);
  u64 base = 0;
  u64 size_mask = 0;
  if (io) {
    base = orig & ~3u;
    size_mask = (mask & ~3u) | 0xffff0000u;
  } else {
    base = orig & ~0xfu;
    size_mask = mask & ~0xfu;
    if (is64 && index < 5) {
      auto off_hi = static_cast<u16>(off + 4);
      u32 orig_hi = arch::pci_config_read32(a.bus, a.device, a.function, off_hi);
      arch::pci_config_write32(a.bus, a.device, a.function, off_hi, 0xffffffff);
      u32 mask_hi = arch::pci_config_read32(a.bus, a.device, a.function, off_hi);
      arch::pci_config_write32(a.bus, a.device, a.function, off_hi, orig_hi);
      base |= u64{orig_hi} << 32;
      size_mask |= u64{mask_hi} << 32;
    } else {
      size_mask |= 0xffffffff00000000ull;
    }
  }
  arch::pci_config_write32(a.bus, a.device, a.function, 4, cmd & 0xffff);
  if (size_mask == 0 || (mask == 0 && !is64)) return std::nullopt;
  u64 size = ~size_mask + 1;
  if (io) size &= 0xffff;
  if (size == 0) return std::nullopt;
  return Bar{io, base, size};
}

Result<irq::IrqLine> claim_irq(const Device& d) {
  if (d.irq_line == 0 || d.irq_line >= irq::kNumLines || !arch::pci_present()) return Errno::enodev;
  auto line = TRY(irq::IrqLine::claim(d.irq_line));
  arch::irq_route(d.irq_line, true);
  return line;
}

Result<void> enable_device(const Device& d) {
  u16 cmd = config_read16(d.address, 4);
  return config_write16(d.address, 4, static_cast<u16>(cmd | 0x7));
}

}  // namespace pci

}  // namespace ostd
