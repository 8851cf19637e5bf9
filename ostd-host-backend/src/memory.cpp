// Physical memory: one memfd, mapped once into umk as the direct map.
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "host_internal.h"
#include "stub_layout.h"

namespace ostd::host {

namespace {
int g_memfd = -1;
u8* g_direct_map = nullptr;
u64 g_mem_bytes = 0;
std::array<arch::PhysRange, 1> g_ranges{};
}  // namespace

int phys_memfd() { return g_memfd; }

void init_physical_memory(u64 bytes) {
  if (g_memfd >= 0) return;
  bytes = page_align_down(bytes);
  if (bytes < 4 * kPageSize) panic("physical memory too small: {} bytes", bytes);
  g_memfd = memfd_create("umk-phys", MFD_CLOEXEC);
  if (g_memfd < 0) panic("memfd_create: {}", std::string_view(strerror(errno)));
  if (ftruncate(g_memfd, static_cast<off_t>(bytes)) != 0) {
    panic("ftruncate of physical memory: {}", std::string_view(strerror(errno)));
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, g_memfd, 0);
  if (p == MAP_FAILED) panic("mmap of physical memory: {}", std::string_view(strerror(errno)));
  // SAFETY: p is not MAP_FAILED (checked above): `bytes` of memfd, mapped for the process's life.
  g_direct_map = static_cast<u8*>(p);
  g_mem_bytes = bytes;
  // Frame 0 stays unused so no valid frame has physical address 0.
  g_ranges.at(0) = {kPageSize, bytes - kPageSize};
}

}  // namespace ostd::host

namespace ostd::arch {

std::span<const PhysRange> phys_ranges() {
  if (host::g_direct_map == nullptr) panic("physical memory used before run_kernel()");
  return host::g_ranges;
}

u8* phys_to_virt(Paddr p) { return host::g_direct_map + p; }

void prepare_frames(Paddr base, u64 bytes) {
  // MADV_POPULATE_WRITE (Linux 5.14): the memfd's pages allocated and mapped in one call instead
  // of a host fault per first touch (~13 us each on the 2-vCPU development VM; a batch costs
  // well under 1 us a page). An older host says EINVAL: then the first touches pay.
  constexpr int kMadvPopulateWrite = 23;
  (void)madvise(host::g_direct_map + base, bytes, kMadvPopulateWrite);
}

Vaddr user_base() { return host::kGuestBase; }
Vaddr user_top() { return host::kGuestTop; }

}  // namespace ostd::arch
