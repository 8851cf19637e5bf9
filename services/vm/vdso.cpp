// The vDSO: user-mode clock_gettime, gettimeofday and time (vdso/x86_64/vdso.c) reading the
// clock page that ostd keeps current (ostd/user_clock.h). One copy of each in memory: every
// process maps the same frames.
#include "vm/vdso.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <span>

#include <ostd/sync.h>
#include <ostd/user_clock.h>
#include <vdso/image.h>

#include "vm/memory_map.h"
#include "vm/shared_pages.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Result;
using ostd::u64;
using ostd::Vaddr;

namespace {

struct VdsoPages {
  std::shared_ptr<SharedPages> clock;  // one page: ostd's clock page
  std::shared_ptr<SharedPages> image;  // the vDSO's bytes, page by page
  u64 image_bytes = 0;
};

Result<VdsoPages> vdso_pages() {
  static ostd::Mutex lock;
  static std::optional<VdsoPages> pages;
  ostd::MutexGuard g(lock);
  if (!pages) {
    VdsoPages p;
    p.clock = std::make_shared<SharedPages>();
    p.clock->insert(0, TRY(ostd::user_clock_page()));
    p.clock->set_file_size(ostd::kPageSize);
    p.image = std::make_shared<SharedPages>();
    std::span<const ostd::u8> bytes(kVdsoImage);
    for (u64 off = 0; off < bytes.size(); off += ostd::kPageSize) {
      ostd::Frame f = TRY(p.image->get_or_alloc(off / ostd::kPageSize));
      TRY(f.write_bytes(0, bytes.subspan(off, std::min<u64>(ostd::kPageSize, bytes.size() - off))));
    }
    p.image->set_file_size(bytes.size());
    p.image_bytes = bytes.size();
    pages = std::move(p);
  }
  return *pages;
}

}  // namespace

Result<Vaddr> map_vdso(MemoryMap& mm) {
  VdsoPages p = TRY(vdso_pages());
  u64 image_len = ostd::page_align_up(p.image_bytes);
  // Reserve both pieces in one free range, then put each in its place.
  Vaddr base = TRY(mm.map(0, ostd::kPageSize + image_len, kProtRead, kMapPrivate | kMapAnonymous, nullptr, 0));
  TRY(mm.map(base, ostd::kPageSize, kProtRead, kMapShared | kMapFixed, nullptr, 0, "[vvar]", p.clock));
  mm.set_max_prot(base, kProtRead);  // as on Linux: mprotect to write or execute is EACCES
  Vaddr image = base + ostd::kPageSize;
  TRY(mm.map(image, image_len, kProtRead | kProtExec, kMapPrivate | kMapFixed, nullptr, 0, "[vdso]", p.image));
  return image;
}

}  // namespace services
