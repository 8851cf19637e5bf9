#include <array>
#include <vector>
#include <string>

#include "harness.h"

using namespace ostd;

namespace {
constexpr Vaddr kVa = 0x10000000;

std::shared_ptr<VmSpace> new_vm() { return VmSpace::create().release_value(); }
Frame page_with(u8 fill) {
  Frame f = Frame::alloc().release_value();
  std::array<u8, kPageSize> buf{};
  buf.fill(fill);
  (void)f.write_bytes(0, buf);
  return f;
}
// Gives vm a fault handler that expects writes and maps a zeroed page at each, counting calls.
void map_writes_on_demand(VmSpace& vm, int& calls) {
  VmSpace* raw = &vm;
  vm.set_fault_handler([&calls, raw](Vaddr va, Access a) -> Result<void> {
    ++calls;
    EXPECT_EQ(a, Access::Write);
    return raw->map(page_align_down(va), page_with(0), PageFlags::RW);
  });
}
}  // namespace

TEST(VmSpace, MapAndQuery) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    Frame f = Frame::alloc().release_value();
    ASSERT_TRUE(vm->map(kVa, f, PageFlags::RW).is_ok());
    auto m = vm->query(kVa + 123);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->frame.paddr(), f.paddr());
    EXPECT_EQ(m->flags, PageFlags::RW);
    EXPECT_FALSE(vm->query(kVa + kPageSize).has_value());
    EXPECT_EQ(vm->mapped_pages(), 1u);
  });
}

TEST(VmSpace, BadRangesAreEinval) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    Frame f = Frame::alloc().release_value();
    EXPECT_EQ(vm->map(kVa + 1, f, PageFlags::R).error(), Errno::einval);
    EXPECT_EQ(vm->map(VmSpace::user_top(), f, PageFlags::R).error(), Errno::einval);
    EXPECT_EQ(vm->map(0, f, PageFlags::R).error(), Errno::einval);
    EXPECT_EQ(vm->unmap(kVa, ~usize{0}).error(), Errno::einval);
    EXPECT_EQ(vm->protect(kVa + 8, kPageSize, PageFlags::R).error(), Errno::einval);
  });
}

TEST(VmSpace, MapHoldsAReferenceAndUnmapReleasesIt) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    usize before = frame_stats().allocated_frames;
    {
      Frame f = Frame::alloc().release_value();
      ASSERT_TRUE(vm->map(kVa, f, PageFlags::RW).is_ok());
      EXPECT_EQ(f.refcount(), 2u);
    }
    EXPECT_EQ(frame_stats().allocated_frames, before + 1);
    ASSERT_TRUE(vm->unmap(kVa, kPageSize).is_ok());
    EXPECT_EQ(frame_stats().allocated_frames, before);
    EXPECT_EQ(vm->mapped_pages(), 0u);
  });
}

TEST(VmSpace, UnmapRangeWithHolesAndProtect) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    for (int i : {0, 1, 3, 7}) {
      ASSERT_TRUE(vm->map(kVa + i * kPageSize, Frame::alloc().release_value(), PageFlags::RW).is_ok());
    }
    ASSERT_TRUE(vm->protect(kVa, 4 * kPageSize, PageFlags::R).is_ok());
    EXPECT_EQ(vm->query(kVa + 3 * kPageSize)->flags, PageFlags::R);
    EXPECT_EQ(vm->query(kVa + 7 * kPageSize)->flags, PageFlags::RW);
    ASSERT_TRUE(vm->unmap(kVa + kPageSize, 1ull << 30).is_ok());
    EXPECT_EQ(vm->mapped_pages(), 1u);
    EXPECT_TRUE(vm->query(kVa).has_value());
  });
}

TEST(VmSpace, MapReplacesExistingMapping) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    usize before = frame_stats().allocated_frames;
    ASSERT_TRUE(vm->map(kVa, page_with(1), PageFlags::RW).is_ok());
    ASSERT_TRUE(vm->map(kVa, page_with(2), PageFlags::R).is_ok());
    EXPECT_EQ(frame_stats().allocated_frames, before + 1);
    std::array<u8, 1> b{};
    ASSERT_TRUE(vm->read_bytes(kVa, b).is_ok());
    EXPECT_EQ(b[0], 2);
    EXPECT_EQ(vm->mapped_pages(), 1u);
  });
}

TEST(VmSpace, DestroyReleasesAllFrames) {
  usize before = 0;
  test::run_in_kernel([&] {
    before = frame_stats().allocated_frames;
    {
      auto vm = new_vm();
      for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(vm->map(kVa + i * 0x200000ull, Frame::alloc().release_value(), PageFlags::RW).is_ok());
      }
    }
    // The mapped frames go at once; a backend may keep a few of its own with a spare address
    // space until the kernel run ends.
    EXPECT_LE(frame_stats().allocated_frames, before + test::kSpareFrames);
  });
#ifndef FK_KTEST
  EXPECT_EQ(frame_stats().allocated_frames, before) << "frames outlived the kernel run";
#endif
}

TEST(UserCopy, MappedRoundTripAcrossPages) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    std::array<Frame, 2> frames{Frame::alloc().release_value(), Frame::alloc().release_value()};
    ASSERT_TRUE(vm->map_frames(kVa, frames, PageFlags::RW).is_ok());
    std::string msg = "spans two pages";
    Vaddr at = kVa + kPageSize - 5;
    ASSERT_TRUE(vm->write_bytes(at, std::span<const u8>(reinterpret_cast<const u8*>(msg.data()), msg.size())).is_ok());
    std::string back(msg.size(), '\0');
    ASSERT_TRUE(vm->read_bytes(at, std::span<u8>(reinterpret_cast<u8*>(back.data()), back.size())).is_ok());
    EXPECT_EQ(back, msg);
    std::array<u8, 5> tail{};
    ASSERT_TRUE(frames[1].read_bytes(0, tail).is_ok());
    EXPECT_EQ(std::string(tail.begin(), tail.end()), " two ");
  });
}

TEST(UserCopy, UnmappedIsEfault) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    std::array<u8, 8> buf{};
    EXPECT_EQ(vm->read_bytes(kVa, buf).error(), Errno::efault);
    EXPECT_EQ(vm->write_bytes(kVa, buf).error(), Errno::efault);
    EXPECT_EQ(vm->read_bytes(0, buf).error(), Errno::efault);
    EXPECT_EQ(vm->read_bytes(~Vaddr{0} - 3, buf).error(), Errno::efault);
    EXPECT_EQ(vm->read_bytes(0xffff800000000000ull, buf).error(), Errno::efault);
  });
}

TEST(UserCopy, ReadOnlyRejectsWritesNotReads) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    ASSERT_TRUE(vm->map(kVa, page_with(5), PageFlags::R).is_ok());
    std::array<u8, 4> buf{};
    EXPECT_TRUE(vm->read_bytes(kVa, buf).is_ok());
    EXPECT_EQ(buf[0], 5);
    EXPECT_EQ(vm->write_bytes(kVa, buf).error(), Errno::efault);
    ASSERT_TRUE(vm->map(kVa + kPageSize, page_with(6), PageFlags::None).is_ok());
    EXPECT_EQ(vm->read_bytes(kVa + kPageSize, buf).error(), Errno::efault);
  });
}

TEST(UserCopy, PartiallyMappedRange) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    ASSERT_TRUE(vm->map(kVa, page_with(3), PageFlags::RW).is_ok());
    std::array<u8, 100> buf{};
    Vaddr at = kVa + kPageSize - 40;
    EXPECT_EQ(vm->read_bytes(at, buf).error(), Errno::efault);
    auto n = vm->read_bytes_partial(at, buf);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(n.value(), 40u);
    EXPECT_EQ(buf[39], 3);
    auto w = vm->write_bytes_partial(at, buf);
    ASSERT_TRUE(w.is_ok());
    EXPECT_EQ(w.value(), 40u);
    EXPECT_EQ(vm->read_bytes_partial(kVa + kPageSize, buf).error(), Errno::efault);
  });
}

TEST(UserCopy, FaultHandlerCanMapOnDemand) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    int calls = 0;
    map_writes_on_demand(*vm, calls);
    std::array<u8, 3> d{1, 2, 3};
    ASSERT_TRUE(vm->write_bytes(kVa + 10, d).is_ok());
    EXPECT_EQ(calls, 1);
    ASSERT_TRUE(vm->write_bytes(kVa + 20, d).is_ok());
    EXPECT_EQ(calls, 1);
  });
}

TEST(UserCopy, FaultHandlerThatFailsGivesEfaultOnce) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    int calls = 0;
    vm->set_fault_handler([&calls](Vaddr, Access) -> Result<void> {
      ++calls;
      return Errno::enomem;
    });
    std::array<u8, 8> buf{};
    EXPECT_EQ(vm->read_bytes(kVa, buf).error(), Errno::efault);
    EXPECT_EQ(calls, 1);
  });
}

TEST(UserCopy, ReadCString) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    ASSERT_TRUE(vm->map(kVa, page_with('a'), PageFlags::RW).is_ok());
    std::array<u8, 1> nul{0};
    ASSERT_TRUE(vm->write_bytes(kVa + 10, nul).is_ok());
    auto s = vm->read_cstring(kVa + 4, 255);
    ASSERT_TRUE(s.is_ok());
    EXPECT_EQ(s.value(), "aaaaaa");
    EXPECT_EQ(vm->read_cstring(kVa + 4, 5).error(), Errno::enametoolong);
    EXPECT_EQ(vm->read_cstring(kVa + 4, 6).value(), "aaaaaa");
    // No NUL before the end of the mapping: the walk runs into unmapped memory.
    EXPECT_EQ(vm->read_cstring(kVa + 20, 10000).error(), Errno::efault);
    EXPECT_EQ(vm->read_cstring(0x1000, 10).error(), Errno::efault);
  });
}

TEST(UserCopy, TypedPointersAndCursors) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    ASSERT_TRUE(vm->map(kVa, page_with(0), PageFlags::RW).is_ok());
    struct Pair {
      u32 a;
      u32 b;
      OSTD_POD(Pair, a, b);
    };
    UserPtr<Pair> p(kVa + 8);
    ASSERT_TRUE(p.write(*vm, Pair{7, 9}).is_ok());
    auto got = p.read(*vm);
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(got.value().a, 7u);
    EXPECT_EQ(got.value().b, 9u);
    EXPECT_EQ(UserPtr<Pair>(kVa + kPageSize - 4).read(*vm).error(), Errno::efault);
    EXPECT_EQ(UserPtr<u64>(~Vaddr{0}).element(2).error(), Errno::efault);
    EXPECT_EQ(UserOut<u32>(0).write(*vm, 1).error(), Errno::efault);

    std::array<u8, 16> src{};
    for (usize i = 0; i < src.size(); ++i) src[i] = static_cast<u8>(i);
    VmReader r = VmReader::from_kernel(src);
    VmWriter w = VmWriter::from_user(*vm, kVa + kPageSize - 8, 16);
    auto n = r.read_to(w);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(n.value(), 8u);  // stopped at the end of the mapping
    EXPECT_EQ(r.remain(), 8u);
    VmReader ur = VmReader::from_user(*vm, kVa + kPageSize - 8, 8);
    EXPECT_EQ(ur.read_val<u64>().value(), 0x0706050403020100ull);
    VmWriter bad = VmWriter::from_user(*vm, 0x2000, 8);
    EXPECT_EQ(bad.fill_zeros(8).error(), Errno::efault);
  });
}

TEST(UserCopy, UserToUserAcrossSpacesAndPages) {
  test::run_in_kernel([] {
    auto a = new_vm();
    auto b = new_vm();
    // a: three pages of a pattern; b: maps its pages on demand (the fault handler), one call
    // per page.
    for (usize p = 0; p < 3; ++p) {
      Frame f = Frame::alloc().release_value();
      std::array<u8, kPageSize> buf{};
      for (usize i = 0; i < buf.size(); ++i) buf[i] = static_cast<u8>((p * kPageSize + i) * 7);
      ASSERT_TRUE(f.write_bytes(0, buf).is_ok());
      ASSERT_TRUE(a->map(kVa + p * kPageSize, f, PageFlags::R).is_ok());
    }
    int calls = 0;
    map_writes_on_demand(*b, calls);
    // Source and destination offsets differ, so the copy's pieces end at either side's page
    // boundaries.
    constexpr usize kLen = 2 * kPageSize + 100;
    VmReader r = VmReader::from_user(*a, kVa + 300, kLen);
    VmWriter w = VmWriter::from_user(*b, kVa + 1000, kLen);
    auto n = r.read_to(w);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(n.value(), kLen);
    EXPECT_EQ(calls, 3);  // b's pages 0, 1 and 2
    std::vector<u8> back(kLen);
    ASSERT_TRUE(b->read_bytes(kVa + 1000, back).is_ok());
    usize bad = 0;
    for (usize i = 0; i < kLen; ++i) bad += back[i] != static_cast<u8>((300 + i) * 7);
    EXPECT_EQ(bad, 0u);

    // Within one space (the same lock taken once), onto a read-only page: stops there.
    ASSERT_TRUE(a->map(kVa + 3 * kPageSize, page_with(1), PageFlags::RW).is_ok());
    VmReader r2 = VmReader::from_user(*a, kVa, 64);
    VmWriter w2 = VmWriter::from_user(*a, kVa + 3 * kPageSize, 64);
    ASSERT_EQ(r2.read_to(w2).value(), 64u);
    EXPECT_EQ(UserPtr<u8>(kVa + 3 * kPageSize + 5).read(*a).value(), static_cast<u8>(5 * 7));
    VmWriter ro = VmWriter::from_user(*a, kVa + kPageSize - 8, 16);
    VmReader r3 = VmReader::from_user(*a, kVa + 3 * kPageSize, 16);
    EXPECT_EQ(r3.read_to(ro).error(), Errno::efault);  // a has no fault handler
    // The source side running out of mapping stops the copy after what was readable.
    VmReader tail = VmReader::from_user(*a, kVa + 4 * kPageSize - 10, 20);
    VmWriter w4 = VmWriter::from_user(*b, kVa, 20);
    EXPECT_EQ(tail.read_to(w4).value(), 10u);
  });
}

TEST(VmSpace, CompareExchangeU32SwapsOnlyTheExpectedValue) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    ASSERT_TRUE(vm->map(kVa, page_with(0), PageFlags::RW).is_ok());
    ASSERT_TRUE(UserPtr<u32>(kVa + 4).write(*vm, 5).is_ok());
    EXPECT_EQ(vm->compare_exchange_u32(kVa + 4, 5, 9).value(), 5u);
    EXPECT_EQ(UserPtr<u32>(kVa + 4).read(*vm).value(), 9u);
    EXPECT_EQ(vm->compare_exchange_u32(kVa + 4, 5, 1).value(), 9u);  // not 5: left alone
    EXPECT_EQ(UserPtr<u32>(kVa + 4).read(*vm).value(), 9u);
    EXPECT_EQ(vm->compare_exchange_u32(kVa + 2, 0, 1).error(), Errno::einval);
    EXPECT_EQ(vm->compare_exchange_u32(kVa + kPageSize, 0, 1).error(), Errno::efault);
    // A read-only page is not written.
    ASSERT_TRUE(vm->map(kVa + 2 * kPageSize, page_with(0), PageFlags::R).is_ok());
    EXPECT_EQ(vm->compare_exchange_u32(kVa + 2 * kPageSize, 0, 1).error(), Errno::efault);
  });
}

TEST(VmSpace, CompareExchangeU32FaultsThePageIn) {
  test::run_in_kernel([] {
    auto vm = new_vm();
    int calls = 0;
    map_writes_on_demand(*vm, calls);
    EXPECT_EQ(vm->compare_exchange_u32(kVa + 8, 0, 7).value(), 0u);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(UserPtr<u32>(kVa + 8).read(*vm).value(), 7u);
  });
}
