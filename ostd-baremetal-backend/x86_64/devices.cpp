// Port I/O and PCI configuration space (mechanism #1, ports 0xcf8/0xcfc) for ostd/dev/io.h.
#include <ostd/arch/backend.h>
#include <ostd/irq.h>

#include "x86.h"

namespace ostd::arch {

bool has_io_ports() { return true; }

bool io_port_available(u16 p) {
  // Ports the framework drives itself.
  auto in = [p](u16 lo, u16 hi) { return p >= lo && p <= hi; };
  return !(in(0x20, 0x21) || in(0xa0, 0xa1) || in(0x40, 0x43) || p == 0x61 || in(0x70, 0x71) ||
           in(0x3f8, 0x3ff) || in(0x2f8, 0x2ff) || in(0x3e8, 0x3ef) || in(0xcf8, 0xcff) ||
           in(0xf4, 0xf7));
}

u32 io_port_read(u16 port, int width) {
  u32 v = 0;
  switch (width) {
    case 1: v = x86::inb(port); break;
    case 2: {
      u16 w;
      asm volatile("inw %1, %0" : "=a"(w) : "Nd"(port));
      v = w;
      break;
    }
    default: asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); break;
  }
  return v;
}

void io_port_write(u16 port, int width, u32 value) {
  switch (width) {
    case 1: x86::outb(port, static_cast<u8>(value)); break;
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
  asm volatile("inl %1, %0" : "=a"(v) : "Nd"(u16{0xcfc}));
  return v;
}

void pci_config_write32(u8 bus, u8 dev, u8 fn, u16 off, u32 value) {
  irq::DisabledGuard g;
  x86::outl(0xcf8, config_address(bus, dev, fn, off));
  x86::outl(0xcfc, value);
}

}  // namespace ostd::arch
