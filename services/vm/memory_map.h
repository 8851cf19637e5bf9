// services/vm/memory_map.h — a process's virtual memory areas (VMAs) over its VmSpace:
// mmap/munmap/mprotect/brk/mremap, demand paging, copy-on-write and fork.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <optional>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/frame.h>
#include <ostd/mm/vm_space.h>
#include <ostd/sync.h>
#include <ostd/types.h>

#include "vm/shared_pages.h"

namespace services {

inline constexpr ostd::u32 kProtRead = 1, kProtWrite = 2, kProtExec = 4, kProtGrowsdown = 0x01000000;
inline constexpr ostd::u32 kMapShared = 0x01, kMapPrivate = 0x02, kMapSharedValidate = 0x03, kMapFixed = 0x10,
                           kMapAnonymous = 0x20, kMapGrowsdown = 0x100, kMapDenywrite = 0x800, kMapExecutable = 0x1000,
                           kMapLocked = 0x2000, kMapNoreserve = 0x4000, kMapPopulate = 0x8000, kMapNonblock = 0x10000,
                           kMapStack = 0x20000, kMapHugetlb = 0x40000, kMapFixedNoreplace = 0x100000;

struct Vma {
  ostd::Vaddr start = 0;
  ostd::Vaddr end = 0;
  ostd::u32 prot = 0;
  ostd::u32 flags = 0;                                      // kMapShared/kMapPrivate, kMapAnonymous, kMapGrowsdown
  std::shared_ptr<SharedPages> shared;                      // MAP_SHARED: the pages every mapper maps
  std::shared_ptr<SharedPages> cache;                       // MAP_PRIVATE of a tmpfs file: read source, copied on write
  std::shared_ptr<const std::vector<ostd::u8>> file_bytes;  // private file mapping contents
  ostd::u64 file_offset = 0;                                // file offset of `start`
  std::string name;                                         // for /proc/<pid>/maps: "[heap]", "[stack]", a path
  ostd::u64 dev = 0, ino = 0;                               // the mapped file's st_dev and st_ino (/proc/<pid>/maps)
  ostd::u32 max_prot = kProtRead | kProtWrite | kProtExec;  // mprotect beyond it: EACCES
};

class MemoryMap {
 public:
  explicit MemoryMap(std::shared_ptr<ostd::VmSpace> vm);

  ostd::VmSpace& vm() const { return *vm_; }
  std::shared_ptr<ostd::VmSpace> vm_shared() const { return vm_; }

  /// mmap(2) after argument checks (length > 0, page-aligned offset...). For file mappings,
  /// either `cache` is the file's pages (shared mappings map them, private ones copy them on
  /// write) or `file_bytes` is a snapshot of its contents from `offset`. mprotect may grant the
  /// area no more than `max_prot`. Returns the address.
  ostd::Result<ostd::Vaddr> map(ostd::Vaddr hint, ostd::u64 length, ostd::u32 prot, ostd::u32 flags,
                                std::shared_ptr<const std::vector<ostd::u8>> file_bytes, ostd::u64 offset,
                                std::string name = {}, std::shared_ptr<SharedPages> cache = nullptr,
                                ostd::u32 max_prot = kProtRead | kProtWrite | kProtExec);
  ostd::Result<void> unmap(ostd::Vaddr addr, ostd::u64 length);
  /// Limits what mprotect may grant the area starting at `start` (the clock page: read only).
  void set_max_prot(ostd::Vaddr start, ostd::u32 max_prot);
  /// Names the file behind the areas in [start, start + length) (/proc/PID/maps's device and
  /// inode columns).
  void set_file_identity(ostd::Vaddr start, ostd::u64 length, ostd::u64 dev, ostd::u64 ino);
  /// Records an area whose pages the caller maps itself (the ELF loader's segments).
  void add_area(const Vma& v);
  ostd::Result<void> protect(ostd::Vaddr addr, ostd::u64 length, ostd::u32 prot);
  ostd::Result<ostd::Vaddr> remap(ostd::Vaddr old_addr, ostd::u64 old_len, ostd::u64 new_len, ostd::u32 flags,
                                  ostd::Vaddr new_addr);
  /// remap_file_pages(2) as Linux emulates it: the shared mapping at [start, start + length)
  /// (one area, or contiguous ones of the same object and flags) shows the object's pages from
  /// byte `offset` on, as a new MAP_FIXED mapping with the same protection. EINVAL otherwise.
  ostd::Result<void> remap_pages(ostd::Vaddr start, ostd::u64 length, ostd::u64 offset);
  /// MADV_DONTNEED: private pages read back as zero (or file contents) afterwards.
  ostd::Result<void> discard(ostd::Vaddr addr, ostd::u64 length);
  ostd::Result<ostd::Vaddr> brk(ostd::Vaddr want);
  void set_brk_base(ostd::Vaddr base);

  /// Resolves a fault at va: maps the page (demand paging) or copies it (copy-on-write).
  /// EFAULT when the access is not allowed (SIGSEGV for user code).
  ostd::Result<void> handle_fault(ostd::Vaddr va, ostd::Access access);
  /// Whether va lies inside any VMA (SEGV_MAPERR vs SEGV_ACCERR).
  bool is_mapped(ostd::Vaddr va) const;
  /// The protection of the area holding va (nullopt where nothing is mapped).
  std::optional<ostd::u32> protection_at(ostd::Vaddr va) const;
  /// Whether [start, end) lies wholly inside areas (msync, mincore: ENOMEM otherwise); one walk
  /// over the areas, whatever the length.
  bool covers(ostd::Vaddr start, ostd::Vaddr end) const;
  /// mincore's answer for the pages [start, start + n pages): 1 for a page in memory (mapped, or
  /// a file page the page cache holds), 0 otherwise.
  std::vector<ostd::u8> residency(ostd::Vaddr start, ostd::usize npages) const;
  /// For shared futexes: when va lies in a MAP_SHARED area, the pages object behind it and the
  /// byte offset of va in it (every process that maps the same memory agrees on the pair, as
  /// Linux's inode + page index); nullopt for private memory.
  std::optional<std::pair<std::shared_ptr<SharedPages>, ostd::u64>> shared_object_at(ostd::Vaddr va) const;

  /// A duplicate for fork, over a fresh VmSpace. A small working set (private pages the
  /// parent may write and nobody else maps, at most 64) is copied whole; otherwise pages are
  /// shared copy-on-write, except those holding `hot` addresses (the forking thread's stack
  /// and thread pointer), copied at once when exclusive: both processes write them right after
  /// fork, and a 4 KiB copy costs less than two write faults.
  ostd::Result<std::shared_ptr<MemoryMap>> fork(std::shared_ptr<ostd::VmSpace> child_vm,
                                                std::span<const ostd::Vaddr> hot = {});

  /// ptrace's forced access (Linux's FOLL_FORCE): reads any mapped page whatever its
  /// protection (faulting it in), and writes into private pages even when they are read-only
  /// (copying a page shared with a file or another process first, as a breakpoint needs).
  /// EFAULT where nothing is mapped; a shared mapping is written only when writable.
  ostd::Result<void> read_forced(ostd::Vaddr va, std::span<ostd::u8> out);
  ostd::Result<void> write_forced(ostd::Vaddr va, std::span<const ostd::u8> bytes);

  /// System call site rewriting (services/vm/syscall_patch.cpp). At a trapped `syscall` that
  /// returns to `return_ip`: once the site has trapped often enough to pay for it, and the
  /// instructions before it allow, rewrites it into a jump to a trampoline that enters ostd's
  /// fast system call entry through %gs:`gs_offset`. True once the site is settled (rewritten,
  /// or found not to be rewritable): callers need not report its traps any more.
  bool patch_syscall_site(ostd::Vaddr return_ip, ostd::u32 gs_offset);
  /// Where a thread stopped by a rewritten site's marks resumes: `ip` after an int3 of a site
  /// being rewritten (breakpoint), or at the invalid opcode a rewritten site leaves where its
  /// second instruction was; nullopt when `ip` is no such place (a real trap).
  std::optional<ostd::Vaddr> syscall_patch_resume(ostd::Vaddr ip, bool breakpoint);
  /// The guest set a GS base of its own: every trampoline falls back to `syscall`, and no site
  /// is rewritten any more.
  void stop_syscall_patching();
  /// Sites rewritten so far (for tests and statistics).
  ostd::usize patched_syscall_sites() const;

  std::vector<Vma> areas() const;
  /// Takes the pages of the object `pages` from page `first_index` on out of the page tables
  /// (the object shrank: a truncated file). Shared and private mappings alike, copied private
  /// pages too, as Linux's truncate (unmap_mapping_range with even_cows): the next touch faults
  /// in a fresh page, or SIGBUS past the end.
  void unmap_object_pages(const std::shared_ptr<SharedPages>& pages, ostd::u64 first_index);
  ostd::Vaddr brk_base() const { return brk_base_; }
  ostd::Vaddr brk_end() const { return brk_; }
  ostd::Vaddr mmap_base() const { return mmap_base_; }
  void set_mmap_base(ostd::Vaddr b) { mmap_base_ = b; }

 private:
  ostd::Result<ostd::Vaddr> find_free(ostd::u64 length, ostd::Vaddr hint) const;
  void remove_range(ostd::Vaddr start, ostd::Vaddr end);
  ostd::Result<void> populate_page(const Vma& vma, ostd::Vaddr page, ostd::Access access);
  ostd::Result<void> populate_anonymous(const Vma& vma, ostd::Vaddr page, ostd::PageFlags flags);
  ostd::Result<void> map_file_around(const Vma& vma, ostd::Vaddr page, const ostd::Frame& frame, ostd::PageFlags flags,
                                     const SharedPages& pages);
  ostd::Result<bool> copy_file_pages_around(const Vma& vma, ostd::Vaddr page, ostd::PageFlags flags);
  bool maps_executable(const SharedPages* pages) const;
  std::optional<Vma> find(ostd::Vaddr va) const;

  // Writes `bytes` at va ignoring the areas' protections (copying a shared page first), as
  // ptrace's POKETEXT: for rewriting code. Not for MAP_SHARED areas (EPERM).
  ostd::Result<void> poke_locked(ostd::Vaddr va, std::span<const ostd::u8> bytes);
  // The mapping of `page` (in `vma`), faulted in with `access` when nothing is mapped yet.
  ostd::Result<ostd::PageMapping> mapping_of(const Vma& vma, ostd::Vaddr page, ostd::Access access);

  struct PatchedSite {
    ostd::Vaddr trampoline = 0;
    ostd::u32 length = 0;     // bytes from the site to its `syscall`
    ostd::u32 fast_word = 0;  // offset in the trampoline of its `jmp *%gs:` (8 bytes)
    bool boundary5 = false;   // an instruction starts 5 bytes into the site
  };

  std::shared_ptr<ostd::VmSpace> vm_;
  std::map<ostd::Vaddr, Vma> areas_;            // keyed by start
  std::map<ostd::Vaddr, PatchedSite> patched_;  // by the site's first byte
  // Traps so far per `syscall` instruction; kSiteSettled once it was looked at.
  std::map<ostd::Vaddr, ostd::u32> syscall_site_traps_;
  ostd::u32 traps_used_ = 0;
  bool patching_off_ = false;
  bool patches_slow_ = false;  // stop_syscall_patching() ran
  ostd::Vaddr brk_base_ = 0;
  ostd::Vaddr brk_ = 0;
  ostd::Vaddr mmap_base_ = 0;
  mutable ostd::Mutex lock_;
};

ostd::PageFlags page_flags_for(ostd::u32 prot);

}  // namespace services
