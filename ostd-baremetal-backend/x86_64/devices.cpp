// Port I/O and PCI configuration space (mechanism #1, ports 0xcf8/0xcfc) for ostd/dev/io.h.
#include <ostd/arch/backend.h>
#include <ostd/irq.h>

#include "x86.h"

namespace ostd::arch {

bool has_io_ports() { return true; }

bool io_port_available(u16 p) {
  // Ports the framework drives itself.
  auto in = [p](u16 lo, u16 hi) { return p >= lo && p <= hi; };
  return !(in(0x20, 0x21) || in(0xa0, 0xa1) || in(0x40, 0x43) || p == 0x61 || in(0x70, 0x71) || in(0x3f8, 0x3ff) ||
           in(0x2f8, 0x2ff) || in(0x3e8, 0x3ef) || in(0xcf8, 0xcff) || in(0xf4, 0xf7));
}

u32 io_port_read(u16 port, int width) {
  u32 v = 0;
  switch (width) {
    case 1: v = x86::inb(port); break;
    case 2: {
      u16 w;
      // SAFETY: inw writes only ax (the output); IoPort already refused ports ostd drives itself.
      asm volatile("inw %1, %0" : "=a"(w) : "Nd"(port));
      v = w;
      break;
    }
    // SAFETY: inl writes only eax (the output); IoPort already refused ports ostd drives itself.
    default: asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); break;
  }
  return v;
}

void io_port_write(u16 port, int width, u32 value) {
  switch (width) {
    case 1: x86::outb(port, static_cast<u8>(value)); break;
    // SAFETY: outw reads only its ax/dx operands; IoPort already refused ports ostd drives itself.
    case 2: asm volatile("outw %0, %1" : : "a"(static_cast<u16>(value)), "Nd"(port)); break;
    default: x86::outl(port, value); break;
  }
}

bool pci_present() { return true; }

namespace {
u32 config_address(u8 bus, u8 dev, u8 fn, u16 off) {
  return 0x80000000u | (u32{bus} << 16) | (u32{dev & 31u} << 11) | (u32{fn & 7u} << 8) | (off & 0xfc);
}
}  // namespace

u32 pci_config_read32(u8 bus, u8 dev, u8 fn, u16 off) {
  irq::DisabledGuard g;  // the address/data pair is one transaction
  x86::outl(0xcf8, config_address(bus, dev, fn, off));
  u32 v;
  // SAFETY: inl from 0xcfc writes only eax; the guard keeps handlers from splitting 0xcf8/0xcfc.
  asm volatile("inl %1, %0" : "=a"(v) : "Nd"(u16{0xcfc}));
  return v;
}

void pci_config_write32(u8 bus, u8 dev, u8 fn, u16 off, u32 value) {
  irq::DisabledGuard g;
  x86::outl(0xcf8, config_address(bus, dev, fn, off));
  x86::outl(0xcfc, value);
}

}  // namespace ostd::arch

// ---- the IOAPIC: device interrupt lines (GSI n -> vector 0x20 + n -> ostd line n) ----
namespace ostd::x86 {

namespace {
constexpr u64 kIoapicBase = 0xfec00000;  // QEMU's and most PCs' (the MADT would say)
constexpr u32 kMaxGsi = 24;
bool g_level[kMaxGsi] = {};
bool g_enabled[kMaxGsi] = {};

// SAFETY: the IOAPIC page (fixed 0xfec00000, below 4 GiB) is in the direct map, PCD|PWT as
// non-RAM; only IOREGSEL ([0]) and IOWIN ([4], offset 0x10) inside it are accessed.
volatile u32* ioapic() { return reinterpret_cast<volatile u32*>(phys_ptr(kIoapicBase)); }
// IOREGSEL and IOWIN are a pair: an interrupt between the two writes whose handler programs
// another line (ioapic_on_vector) would send the second one to that line's entry, and the
// virtual interrupt mask does not hold hardware interrupts back. So the CPU's own interrupt
// flag is off around the pair.
void ioapic_write(u32 reg, u32 v) {
  u64 flags = 0;
  // SAFETY: reads rflags through the stack and clears IF; no other state changes.
  asm volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
  ioapic()[0] = reg;
  ioapic()[4] = v;
  if ((flags & 0x200) != 0) x86::sti();  // IF as it was
}
void program(u32 gsi, bool masked) {
  u32 low = (kIrqBase + gsi) | (g_level[gsi] ? (1u << 15) : 0) | (masked ? (1u << 16) : 0);
  ioapic_write(0x10 + 2 * gsi + 1, 0);  // destination: APIC 0
  ioapic_write(0x10 + 2 * gsi, low);
}
}  // namespace

void ioapic_init() {
  for (u32 gsi = 0; gsi < kMaxGsi; ++gsi) program(gsi, true);
}

/// An IOAPIC vector arrived: a level-triggered line stays masked until its handlers ran (they
/// quiet the device), or it would fire again at once.
void ioapic_on_vector(u32 line) {
  if (line >= 1 && line < kMaxGsi && g_level[line]) {
    irq::DisabledGuard g;
    program(line, true);
  }
}

}  // namespace ostd::x86

namespace ostd::arch {

void irq_route(u32 line, bool level) {
  if (line == 0 || line >= x86::kMaxGsi) return;
  irq::DisabledGuard g;
  x86::g_level[line] = level;
  x86::program(line, !x86::g_enabled[line]);
}

void irq_line_set_enabled(u32 line, bool enabled) {
  if (line == 0 || line >= x86::kMaxGsi) return;
  irq::DisabledGuard g;
  x86::g_enabled[line] = enabled;
  x86::program(line, !enabled);
}

void irq_line_done(u32 line) {
  if (line == 0 || line >= x86::kMaxGsi || !x86::g_level[line] || !x86::g_enabled[line]) return;
  x86::program(line, false);
}

}  // namespace ostd::arch

// No backend network interface on bare metal: the services' virtio-net driver drives QEMU's
// NIC through the PCI API above.
#include <ostd/dev/nic.h>

namespace ostd::nic {

std::optional<Info> info() { return std::nullopt; }
Result<void> transmit(std::span<const u8>) { return Errno::enodev; }
Result<usize> receive(std::span<u8>) { return Errno::enodev; }
Result<void> on_receive(std::function<void()>) { return Errno::enodev; }
Counters counters() { return {}; }

}  // namespace ostd::nic

// No backend disks on bare metal: the services' virtio-blk driver drives QEMU's disks through
// the PCI API above.
#include <ostd/dev/block.h>

namespace ostd::block {

usize count() { return 0; }
std::optional<Info> info(usize) { return std::nullopt; }
Result<void> read(usize, u64, std::span<u8>) { return Errno::enxio; }
Result<void> write(usize, u64, std::span<const u8>) { return Errno::enxio; }
Result<void> read_frames(usize, u64, std::span<const Frame>) { return Errno::enxio; }
Result<void> write_frames(usize, u64, std::span<const Frame>) { return Errno::enxio; }
Result<void> flush(usize) { return Errno::enxio; }

}  // namespace ostd::block

// No backend shares on bare metal: QEMU's -virtfs shares come through the services' virtio-9p
// driver.
#include <ostd/dev/p9.h>

namespace ostd::p9 {

usize count() { return 0; }
std::optional<Share> share(usize) { return std::nullopt; }
Result<void> rpc(usize, std::span<const u8>, std::vector<u8>&) { return Errno::enxio; }

}  // namespace ostd::p9
