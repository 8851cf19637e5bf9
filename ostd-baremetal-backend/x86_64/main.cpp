// kmain: from the PVH entry (boot.S) to the first kernel task. Reads QEMU's hvm_start_info
// (memory map, command line, initramfs module), brings up memory, CPU tables, the timer and FPU
// handling, then runs the kernel image's main as the first task and powers off with its status.
#include <cstring>
#include <string>
#include <vector>

#include <ostd/internal.h>
#include <ostd/baremetal/baremetal.h>
#include <ostd/boot.h>
#include <ostd/log.h>
#include <ostd/time.h>

#include "heap.h"
#include "x86.h"

extern "C" {
extern char __kernel_end[];  // NOLINT
using InitFn = void (*)();
extern InitFn __init_array_start[];  // NOLINT
extern InitFn __init_array_end[];    // NOLINT
}

namespace ostd::detail {
BootInfo& mutable_boot_info();
}

namespace ostd::x86 {
void set_hz(u32 hz);
void set_console_tty(bool on);
void set_console_input_bytes(u64 n);
}  // namespace ostd::x86

namespace {

using namespace ostd;

struct HvmStartInfo {
  u32 magic;  // 0x336ec578
  u32 version;
  u32 flags;
  u32 nr_modules;
  u64 modlist_paddr;
  u64 cmdline_paddr;
  u64 rsdp_paddr;
  u64 memmap_paddr;  // version >= 1
  u32 memmap_entries;
  u32 reserved;
};
struct HvmModlistEntry {
  u64 paddr;
  u64 size;
  u64 cmdline_paddr;
  u64 reserved;
};
struct HvmMemmapEntry {
  u64 addr;
  u64 size;
  u32 type;
  u32 reserved;
};

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// "%2Fbin%2Fsh" -> "/bin/sh": program arguments come percent-encoded (scripts/qemu-run), so
/// any byte but NUL survives the space-separated command line.
std::string percent_decode(std::string_view s) {
  std::string out;
  for (usize i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void parse_cmdline(BootInfo& info) {
  std::string_view s = info.cmdline;
  bool args = false;
  while (!s.empty()) {
    usize sp = s.find(' ');
    std::string_view word = s.substr(0, sp);
    s = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
    if (word.empty()) continue;
    if (args) {
      info.init_argv.push_back(word == "%-" ? std::string() : percent_decode(word));
    } else if (word == "--") {
      args = true;
    } else if (word.starts_with("loglevel=")) {
      auto lvl = log::parse_level(word.substr(9));
      if (lvl.is_ok()) log::set_level(lvl.value());
    } else if (word.starts_with("hz=")) {
      u32 hz = 0;
      for (char c : word.substr(3)) hz = hz * 10 + static_cast<u32>(c - '0');
      x86::set_hz(hz);
    } else if (word == "console=tty") {
      x86::set_console_tty(true);
    } else if (word.starts_with("console.input=")) {
      u64 n = 0;
      for (char c : word.substr(14)) n = n * 10 + static_cast<u64>(c - '0');
      x86::set_console_input_bytes(n);
    }
  }
}

}  // namespace

extern "C" [[noreturn]] void kmain(u32 start_info_pa) {
  x86::serial_init();
  // SAFETY: QEMU's PVH ROM puts hvm_start_info below 1 MiB: mapped by the boot tables (first
  // GiB), never handed out by memory_init (it starts after the image); the magic is checked.
  const auto* si = reinterpret_cast<const HvmStartInfo*>(x86::phys_ptr(start_info_pa));
  if (si->magic != 0x336ec578) {
    x86::serial_write(1, "kmain: no PVH start info (boot with qemu -kernel)\n");
    x86::shutdown(-1);
  }
  x86::RamRange ram[64];
  usize nram = 0;
  if (si->version >= 1 && si->memmap_paddr != 0) {
    // SAFETY: version >= 1, so memmap_paddr names memmap_entries entries below 1 MiB (mapped by
    // the boot tables); only i < memmap_entries is read, and nram < 64 bounds ram[].
    const auto* mm = reinterpret_cast<const HvmMemmapEntry*>(x86::phys_ptr(si->memmap_paddr));
    for (u32 i = 0; i < si->memmap_entries && nram < 64; ++i) {
      if (mm[i].type == 1) ram[nram++] = {mm[i].addr, mm[i].size};
    }
  }
  if (nram == 0) {
    x86::serial_write(1, "kmain: no memory map in the PVH start info\n");
    x86::shutdown(-1);
  }
  // SAFETY: only the address of the linker's end-of-image symbol is taken (pa + kKernelVma).
  u64 kernel_end = reinterpret_cast<u64>(__kernel_end) - x86::kKernelVma;
  // The initramfs must not lie where the heap goes (QEMU puts it at the top of low RAM).
  const HvmModlistEntry* mod = nullptr;
  if (si->nr_modules > 0) {
    // SAFETY: nr_modules > 0, so modlist_paddr names at least one entry, below 1 MiB (QEMU's
    // PVH ROM): mapped now and after memory_init, which hands out only RAM after the image.
    mod = reinterpret_cast<const HvmModlistEntry*>(x86::phys_ptr(si->modlist_paddr));
  }
  x86::memory_init(std::span<const x86::RamRange>(ram, nram), kernel_end,
                   mod != nullptr ? x86::RamRange{mod->paddr, mod->size} : x86::RamRange{0, 0});
  for (InitFn* f = __init_array_start; f != __init_array_end; ++f) (*f)();
  x86::heap_enable_big_blocks();
  x86::cpu_init();

  BootInfo info;
  if (si->cmdline_paddr != 0) {
    // SAFETY: QEMU's NUL-terminated command line, below 1 MiB and never handed out; the
    // std::string copies it at once.
    info.cmdline = reinterpret_cast<const char*>(x86::phys_ptr(si->cmdline_paddr));
  }
  static std::vector<u8> initramfs;
  if (mod != nullptr && mod->size > 0) {
    const u8* p = x86::phys_ptr(mod->paddr);
    initramfs.assign(p, p + mod->size);
    info.initramfs = std::span<const u8>(initramfs.data(), initramfs.size());
  }
  parse_cmdline(info);
  for (usize i = 0; i < nram; ++i) info.memory_bytes += ram[i].size;
  info.cpu_count = 1;
  info.platform = "x86_64";
  detail::mutable_boot_info() = std::move(info);

  x86::timer_init();
  x86::ioapic_init();
  x86::user_init();
  TaskInternals::init_cpu();
  time_internal::init();
  // From here on the CPU takes interrupts; "disabled" is ostd's per-CPU virtual mask.
  x86::sti();
  struct State {
    int rc = 0;
    bool done = false;
  };
  static State state;
  auto init = Task::spawn(
      [] {
        state.rc = baremetal::kernel_image_main();
        state.done = true;
      },
      TaskOptions{"init", 0});
  if (init.is_error()) panic("cannot create the init task: {}", init.error());
  init.value().reset();
  TaskInternals::idle_loop([](void*) { return state.done; }, nullptr);
  x86::shutdown(state.rc);
}
