// Devices on the host backend: no I/O ports and no PCI bus. Drivers in services probe, find
// nothing, and the kernel uses the host-backed console (ostd/boot.h) instead.
#include <ostd/arch/backend.h>
#include <ostd/log.h>

namespace ostd::arch {

bool has_io_ports() { return false; }
bool io_port_available(u16) { return false; }
u32 io_port_read(u16 port, int) { panic("port I/O ({:#x}) on the host backend", port); }
void io_port_write(u16 port, int, u32) { panic("port I/O ({:#x}) on the host backend", port); }
bool pci_present() { return false; }
u32 pci_config_read32(u8, u8, u8, u16) { return 0xffffffff; }
void pci_config_write32(u8, u8, u8, u16, u32) {}
// Host interrupt lines are signals and child events, raised in software: nothing to route.
void irq_route(u32, bool) {}
void irq_line_set_enabled(u32, bool) {}
void irq_line_done(u32) {}

}  // namespace ostd::arch
