#include <array>

#include "../unit/ostd/harness.h"
#include "vm/memory_map.h"
#include "vm/shared_pages.h"
#include "vm/syscall_patch.h"

using namespace ostd;
using services::MemoryMap;

namespace {

std::shared_ptr<MemoryMap> new_map() {
  auto vm = VmSpace::create().release_value();
  auto mm = std::make_shared<MemoryMap>(vm);
  mm->set_mmap_base(0x700000000000ull);
  return mm;
}

constexpr u32 kRw = services::kProtRead | services::kProtWrite;
constexpr u32 kAnonPrivate = services::kMapPrivate | services::kMapAnonymous;

u64 peek(MemoryMap& mm, Vaddr va) {
  u64 v = 0;
  EXPECT_TRUE(mm.vm().read_bytes(va, writable_bytes_of(v)).is_ok());
  return v;
}

}  // namespace

TEST(MemoryMap, AnonymousMappingsArePlacedTopDownAndDemandPaged) {
  test::run_in_kernel([] {
    auto mm = new_map();
    mm->vm().set_fault_handler([m = mm.get()](Vaddr va, Access a) { return m->handle_fault(va, a); });
    Vaddr a = mm->map(0, 3 * kPageSize, kRw, kAnonPrivate, nullptr, 0).value();
    Vaddr b = mm->map(0, kPageSize, kRw, kAnonPrivate, nullptr, 0).value();
    EXPECT_EQ(a + 3 * kPageSize, 0x700000000000ull);
    EXPECT_EQ(b + kPageSize, a);
    EXPECT_EQ(mm->vm().mapped_pages(), 0u);  // nothing touched yet
    EXPECT_EQ(peek(*mm, a + 8), 0u);
    // Private anonymous faults map around: the rest of `a`'s pages, never beyond its end.
    EXPECT_EQ(mm->vm().mapped_pages(), 3u);
    EXPECT_TRUE(UserPtr<u64>(a + kPageSize).write(mm->vm(), 5).is_ok());
    EXPECT_EQ(mm->vm().mapped_pages(), 3u);
    EXPECT_EQ(peek(*mm, b), 0u);  // below `a`: its own fault, one page (a's are there)
    EXPECT_EQ(mm->vm().mapped_pages(), 4u);
  });
}

TEST(MemoryMap, ForkIsCopyOnWrite) {
  test::run_in_kernel([] {
    auto parent = new_map();
    parent->vm().set_fault_handler([m = parent.get()](Vaddr va, Access a) { return m->handle_fault(va, a); });
    // A working set too big to copy at fork (see ForkCopiesASmallWorkingSet).
    constexpr u64 kPages = 96;
    Vaddr a = parent->map(0, kPages * kPageSize, kRw, kAnonPrivate, nullptr, 0).value();
    for (u64 i = kPages; i-- > 0;) {
      ASSERT_TRUE(UserPtr<u64>(a + i * kPageSize).write(parent->vm(), 111).is_ok());
    }
    ASSERT_EQ(parent->vm().mapped_pages(), kPages);
    auto child_vm = VmSpace::create().release_value();
    auto child = parent->fork(child_vm).release_value();
    child->vm().set_fault_handler([m = child.get()](Vaddr va, Access x) { return m->handle_fault(va, x); });
    // Shared until written.
    EXPECT_EQ(parent->vm().query(a)->frame.paddr(), child->vm().query(a)->frame.paddr());
    EXPECT_FALSE(has(parent->vm().query(a)->flags, PageFlags::W));
    ASSERT_TRUE(UserPtr<u64>(a).write(child->vm(), 222).is_ok());
    EXPECT_NE(parent->vm().query(a)->frame.paddr(), child->vm().query(a)->frame.paddr());
    EXPECT_EQ(peek(*parent, a), 111u);
    EXPECT_EQ(peek(*child, a), 222u);
    // The parent's page is now exclusive again: a write makes it writable without a copy.
    Paddr before = parent->vm().query(a)->frame.paddr();
    ASSERT_TRUE(UserPtr<u64>(a).write(parent->vm(), 333).is_ok());
    EXPECT_EQ(parent->vm().query(a)->frame.paddr(), before);
    EXPECT_EQ(peek(*child, a), 222u);
  });
}

TEST(MemoryMap, ForkCopiesASmallWorkingSet) {
  test::run_in_kernel([] {
    auto parent = new_map();
    parent->vm().set_fault_handler([m = parent.get()](Vaddr va, Access a) { return m->handle_fault(va, a); });
    Vaddr a = parent->map(0, 2 * kPageSize, kRw, kAnonPrivate, nullptr, 0).value();
    ASSERT_TRUE(UserPtr<u64>(a).write(parent->vm(), 111).is_ok());
    ASSERT_TRUE(UserPtr<u64>(a + kPageSize).write(parent->vm(), 112).is_ok());
    Paddr before = parent->vm().query(a)->frame.paddr();
    auto child = parent->fork(VmSpace::create().release_value()).release_value();
    child->vm().set_fault_handler([m = child.get()](Vaddr va, Access x) { return m->handle_fault(va, x); });
    // The parent keeps its writable pages; the child has copies of them, writable too.
    for (Vaddr p : {a, a + kPageSize}) {
      auto pm = parent->vm().query(p);
      auto cm = child->vm().query(p);
      ASSERT_TRUE(pm && cm);
      EXPECT_TRUE(has(pm->flags, PageFlags::W));
      EXPECT_TRUE(has(cm->flags, PageFlags::W));
      EXPECT_NE(pm->frame.paddr(), cm->frame.paddr());
    }
    EXPECT_EQ(parent->vm().query(a)->frame.paddr(), before);
    EXPECT_EQ(peek(*child, a), 111u);
    EXPECT_EQ(peek(*child, a + kPageSize), 112u);
    ASSERT_TRUE(UserPtr<u64>(a).write(child->vm(), 222).is_ok());
    ASSERT_TRUE(UserPtr<u64>(a + kPageSize).write(parent->vm(), 333).is_ok());
    EXPECT_EQ(peek(*parent, a), 111u);
    EXPECT_EQ(peek(*child, a), 222u);
    EXPECT_EQ(peek(*parent, a + kPageSize), 333u);
    EXPECT_EQ(peek(*child, a + kPageSize), 112u);
  });
}

TEST(MemoryMap, SharedAnonymousMemoryStaysSharedAcrossFork) {
  test::run_in_kernel([] {
    auto parent = new_map();
    parent->vm().set_fault_handler([m = parent.get()](Vaddr va, Access a) { return m->handle_fault(va, a); });
    Vaddr a = parent->map(0, kPageSize, kRw, services::kMapShared | services::kMapAnonymous, nullptr, 0).value();
    ASSERT_TRUE(UserPtr<u64>(a).write(parent->vm(), 1).is_ok());
    auto child = parent->fork(VmSpace::create().release_value()).release_value();
    child->vm().set_fault_handler([m = child.get()](Vaddr va, Access x) { return m->handle_fault(va, x); });
    ASSERT_TRUE(UserPtr<u64>(a).write(child->vm(), 77).is_ok());
    EXPECT_EQ(peek(*parent, a), 77u);
  });
}

TEST(MemoryMap, ProtectSplitsAndChecksCoverage) {
  test::run_in_kernel([] {
    auto mm = new_map();
    Vaddr a = mm->map(0, 4 * kPageSize, kRw, kAnonPrivate, nullptr, 0).value();
    ASSERT_TRUE(mm->protect(a + kPageSize, kPageSize, services::kProtRead).is_ok());
    auto areas = mm->areas();
    ASSERT_EQ(areas.size(), 3u);
    EXPECT_EQ(areas[1].prot, services::kProtRead);
    EXPECT_EQ(mm->handle_fault(a + kPageSize, Access::Write).error(), Errno::efault);
    EXPECT_TRUE(mm->handle_fault(a, Access::Write).is_ok());
    EXPECT_EQ(mm->protect(a + 8 * kPageSize, kPageSize, services::kProtRead).error(), Errno::enomem);
    EXPECT_EQ(mm->protect(a + 1, kPageSize, services::kProtRead).error(), Errno::einval);
    ASSERT_TRUE(mm->unmap(a + kPageSize, 2 * kPageSize).is_ok());
    EXPECT_FALSE(mm->is_mapped(a + kPageSize));
    EXPECT_TRUE(mm->is_mapped(a + 3 * kPageSize));
  });
}

TEST(MemoryMap, BrkGrowsAndShrinks) {
  test::run_in_kernel([] {
    auto mm = new_map();
    mm->set_brk_base(0x600000);
    EXPECT_EQ(mm->brk(0).value(), 0x600000u);
    EXPECT_EQ(mm->brk(0x600000 + 3 * kPageSize + 10).value(), 0x600000u + 3 * kPageSize + 10);
    EXPECT_TRUE(mm->handle_fault(0x600000 + 3 * kPageSize, Access::Write).is_ok());
    EXPECT_EQ(mm->brk(0x600000 + kPageSize).value(), 0x600000u + kPageSize);
    EXPECT_FALSE(mm->is_mapped(0x600000 + 2 * kPageSize));
    EXPECT_EQ(mm->vm().mapped_pages(), 0u);
  });
}

TEST(MemoryMap, RemapMovesContents) {
  test::run_in_kernel([] {
    auto mm = new_map();
    mm->vm().set_fault_handler([m = mm.get()](Vaddr va, Access a) { return m->handle_fault(va, a); });
    Vaddr a = mm->map(0, kPageSize, kRw, kAnonPrivate, nullptr, 0).value();
    Vaddr below = mm->map(0, kPageSize, kRw, kAnonPrivate, nullptr, 0).value();
    ASSERT_TRUE(UserPtr<u64>(below).write(mm->vm(), 99).is_ok());
    // `below` cannot grow in place (a sits right above it), so MREMAP_MAYMOVE moves it.
    auto r = mm->remap(below, kPageSize, 4 * kPageSize, 1, 0);
    EXPECT_NE(r.value_or(below), below);
    EXPECT_TRUE(mm->is_mapped(a));
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(peek(*mm, r.value()), 99u);
    EXPECT_FALSE(mm->is_mapped(below));
    EXPECT_EQ(mm->remap(a + 1, kPageSize, kPageSize, 1, 0).error(), Errno::einval);
    EXPECT_EQ(mm->remap(0x100000, kPageSize, 2 * kPageSize, 1, 0).error(), Errno::efault);
  });
}

TEST(MemoryMap, PrivateFileMappingCopiesBytes) {
  test::run_in_kernel([] {
    auto mm = new_map();
    auto bytes = std::make_shared<const std::vector<u8>>(std::vector<u8>{'e', 'l', 'f'});
    Vaddr a = mm->map(0, kPageSize, kRw, services::kMapPrivate, bytes, 0).value();
    ASSERT_TRUE(mm->handle_fault(a, Access::Read).is_ok());
    std::array<u8, 4> got{};
    ASSERT_TRUE(mm->vm().read_bytes(a, got).is_ok());
    EXPECT_EQ(got, (std::array<u8, 4>{'e', 'l', 'f', 0}));
  });
}

// A program's data segment (a private writable mapping of a file the process also maps
// executable): the first write copies the pages of its 64 KiB window that were only read, so
// the next writes there fault no more; a data file mapped private copies only the page
// written, its other pages keep showing the file.
TEST(MemoryMap, DataSegmentWritesCopyTheirWindowOnce) {
  test::run_in_kernel([] {
    auto mm = new_map();
    int faults = 0;
    mm->vm().set_fault_handler([m = mm.get(), &faults](Vaddr va, Access a) {
      ++faults;
      return m->handle_fault(va, a);
    });
    constexpr u64 kPages = 20;
    auto make_file = [] {
      auto file = std::make_shared<services::SharedPages>();
      for (u64 i = 0; i < kPages; ++i) {
        Frame f = file->get_or_alloc(i).release_value();
        EXPECT_TRUE(f.write_bytes(0, bytes_of(i)).is_ok());
      }
      file->set_file_size(kPages * kPageSize);
      return file;
    };
    auto image = make_file(), data = make_file();
    constexpr u32 kRx = services::kProtRead | services::kProtExec;
    const u32 fixed = services::kMapPrivate | services::kMapFixed;
    ASSERT_TRUE(mm->map(0x400000, kPageSize, kRx, fixed, nullptr, 0, "/bin/prog", image).is_ok());
    Vaddr seg = mm->map(0x410000, kPages * kPageSize, kRw, fixed, nullptr, 0, "/bin/prog", image).value();
    Vaddr dat = mm->map(0x500000, kPages * kPageSize, kRw, fixed, nullptr, 0, "/data", data).value();
    // Reads fault around: 256 KiB in an image (one fault for its 20 pages), Linux's 64 KiB in
    // a data file (two).
    for (Vaddr base : {seg, dat}) {
      faults = 0;
      for (u64 i = 0; i < kPages; ++i) EXPECT_EQ(peek(*mm, base + i * kPageSize), i);
      EXPECT_EQ(faults, base == seg ? 1 : 2);
    }
    auto private_copy = [&](Vaddr va, services::SharedPages& file, u64 index) {
      auto m = mm->vm().query(va);
      return m && has(m->flags, PageFlags::W) && m->frame.paddr() != file.find(index)->paddr();
    };
    faults = 0;
    ASSERT_TRUE(UserPtr<u64>(seg + 3 * kPageSize).write(mm->vm(), 99).is_ok());
    EXPECT_EQ(faults, 1);
    for (u64 i = 0; i < 16; ++i) {
      EXPECT_TRUE(private_copy(seg + i * kPageSize, *image, i)) << "page " << i;
      ASSERT_TRUE(UserPtr<u64>(seg + i * kPageSize).write(mm->vm(), 100 + i).is_ok());
    }
    EXPECT_EQ(faults, 1) << "writes in the copied window faulted again";
    EXPECT_FALSE(private_copy(seg + 16 * kPageSize, *image, 16)) << "copied past the window";
    EXPECT_EQ(peek(*mm, seg + 16 * kPageSize), 16u);
    u64 in_file = 0;
    ASSERT_TRUE(image->find(3)->read_bytes(0, writable_bytes_of(in_file)).is_ok());
    EXPECT_EQ(in_file, 3u) << "the file changed";

    faults = 0;
    ASSERT_TRUE(UserPtr<u64>(dat + 3 * kPageSize).write(mm->vm(), 99).is_ok());
    EXPECT_EQ(faults, 1);
    EXPECT_TRUE(private_copy(dat + 3 * kPageSize, *data, 3));
    EXPECT_FALSE(private_copy(dat + 4 * kPageSize, *data, 4));
    ASSERT_TRUE(data->find(4)->write_bytes(0, bytes_of(u64{444})).is_ok());  // write(2)
    EXPECT_EQ(peek(*mm, dat + 4 * kPageSize), 444u);
    EXPECT_EQ(peek(*mm, dat + 3 * kPageSize), 99u);
  });
}

// System call site rewriting (vm/syscall_patch.cpp) on a map with a file's code page: the site
// is rewritten on its 16th trap, in a copy of the page (the file keeps its bytes), with a
// trampoline in [usertrap]; the marks the rewrite leaves send threads to the right places; a
// fork keeps all of it; a GS base of the guest's own makes the trampoline slow.
TEST(MemoryMap, SyscallSitesAreRewrittenInAPrivateCopy) {
  test::run_in_kernel([] {
    auto mm = new_map();
    mm->vm().set_fault_handler([m = mm.get()](Vaddr va, Access a) { return m->handle_fault(va, a); });
    // int3 padding, then getpid's site: mov $39, %eax; syscall; ret.
    std::vector<u8> code(0x100, 0xCC);
    const std::array<u8, 8> site_bytes{0xB8, 39, 0, 0, 0, 0x0F, 0x05, 0xC3};
    std::copy(site_bytes.begin(), site_bytes.end(), code.begin() + 0x80);
    auto file = std::make_shared<services::SharedPages>();
    Frame page = file->get_or_alloc(0).release_value();
    ASSERT_TRUE(page.write_bytes(0, code).is_ok());
    file->set_file_size(code.size());
    constexpr u32 kRx = services::kProtRead | services::kProtExec;
    Vaddr text =
        mm->map(0x400000, kPageSize, kRx, services::kMapPrivate | services::kMapFixed, nullptr, 0, "/bin/prog", file)
            .value();
    const Vaddr site = text + 0x80, ret = site + 7;
    for (int i = 1; i < 16; ++i) ASSERT_FALSE(mm->patch_syscall_site(ret, 152)) << "trap " << i;
    EXPECT_EQ(mm->patched_syscall_sites(), 0u);
    ASSERT_TRUE(mm->patch_syscall_site(ret, 152));
    ASSERT_EQ(mm->patched_syscall_sites(), 1u);
    EXPECT_TRUE(mm->patch_syscall_site(ret, 152));  // settled

    std::array<u8, 8> now{};
    ASSERT_TRUE(mm->vm().read_bytes(site, now).is_ok());
    auto jump = services::site_jump(services::kTrapTableStart);
    EXPECT_TRUE(std::equal(jump.begin(), jump.end(), now.begin()));
    EXPECT_EQ(now[7], 0xC3);
    std::array<u8, 8> in_file{};
    ASSERT_TRUE(page.read_bytes(0x80, in_file).is_ok());
    EXPECT_EQ(in_file, site_bytes) << "the file's own page was written";
    // The trampoline: its code's address, then the displaced mov.
    u64 entry = peek(*mm, services::kTrapTableStart);
    EXPECT_EQ(entry, services::kTrapTableStart + 8);
    std::array<u8, 5> moved{};
    ASSERT_TRUE(mm->vm().read_bytes(services::kTrapTableStart + 8, moved).is_ok());
    EXPECT_TRUE(std::equal(moved.begin(), moved.end(), site_bytes.begin()));

    // The invalid opcode 5 bytes in (a jump to the syscall, a restart) goes to the trampoline's
    // copy of that place; the int3 of a rewrite in progress back to the site; anything else is
    // the program's own trap.
    EXPECT_EQ(mm->syscall_patch_resume(site + 5, false), services::kTrapTableStart + 8 + 5);
    EXPECT_EQ(mm->syscall_patch_resume(site + 1, true), site);
    EXPECT_EQ(mm->syscall_patch_resume(site + 6, false), std::nullopt);
    EXPECT_EQ(mm->syscall_patch_resume(text + 0x11, true), std::nullopt);

    auto child = mm->fork(VmSpace::create().release_value()).release_value();
    child->vm().set_fault_handler([m = child.get()](Vaddr va, Access a) { return m->handle_fault(va, a); });
    std::array<u8, 8> in_child{};
    ASSERT_TRUE(child->vm().read_bytes(site, in_child).is_ok());
    EXPECT_EQ(in_child, now);
    EXPECT_EQ(child->syscall_patch_resume(site + 5, false), services::kTrapTableStart + 8 + 5);

    // A GS base of the guest's own: the fast word (8-aligned, after the movabs) turns slow.
    mm->stop_syscall_patching();
    auto slow = services::slow_word();
    std::array<u8, 8> word{};
    ASSERT_TRUE(mm->vm().read_bytes(services::kTrapTableStart + 24, word).is_ok());
    EXPECT_EQ(word, slow);
    ASSERT_TRUE(child->vm().read_bytes(services::kTrapTableStart + 24, word).is_ok());
    EXPECT_EQ(word[0], 0x65) << "the child's trampoline changed with its parent's";
  });
}
