#include <algorithm>
#include <array>
#include <optional>
#include <vector>

#include "harness.h"

using namespace ostd;

TEST(Frame, AllocIsZeroedAndWritable) {
  test::run_in_kernel([] {
    auto f = Frame::alloc();
    ASSERT_TRUE(f.is_ok());
    std::array<u8, 64> buf{};
    buf.fill(0xff);
    ASSERT_TRUE(f.value().read_bytes(100, buf).is_ok());
    for (u8 b : buf) EXPECT_EQ(b, 0);
    std::array<u8, 4> data{1, 2, 3, 4};
    ASSERT_TRUE(f.value().write_bytes(kPageSize - 4, data).is_ok());
    std::array<u8, 4> back{};
    ASSERT_TRUE(f.value().read_bytes(kPageSize - 4, back).is_ok());
    EXPECT_EQ(back, data);
  });
}

TEST(Frame, OutOfPageAccessIsEinval) {
  test::run_in_kernel([] {
    auto f = Frame::alloc().release_value();
    std::array<u8, 8> buf{};
    EXPECT_EQ(f.read_bytes(kPageSize - 4, buf).error(), Errno::einval);
    EXPECT_EQ(f.write_bytes(kPageSize + 1, std::span<const u8>{}).error(), Errno::einval);
    EXPECT_EQ(f.read_bytes(~usize{0}, buf).error(), Errno::einval);
  });
}

TEST(Frame, BoundedReaderAndWriterStayInTheirRange) {
  test::run_in_kernel([] {
    auto f = Frame::alloc().release_value();
    auto w = f.writer(16, 8);
    EXPECT_EQ(w.avail(), 8u);
    std::array<u8, 12> data{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    auto r = VmReader::from_kernel(data);
    EXPECT_EQ(r.read_to(w).value(), 8u);  // only what the window holds
    std::array<u8, 12> back{};
    ASSERT_TRUE(f.read_bytes(14, back).is_ok());
    EXPECT_EQ(back, (std::array<u8, 12>{0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0}));
    auto tail = f.reader(kPageSize - 4, 4);
    EXPECT_EQ(tail.remain(), 4u);
    auto empty = f.writer(kPageSize, 0);
    EXPECT_EQ(empty.avail(), 0u);
  });
}

#ifndef FK_KTEST
// A window that leaves the page is a kernel bug: a panic, never a copy past the page.
TEST(FrameDeathTest, WindowPastThePagePanics) {
  EXPECT_DEATH(test::run_in_kernel([] {
                 auto f = Frame::alloc().release_value();
                 auto w = f.writer(kPageSize - 4, 8);
                 (void)w.fill_zeros(8);
               }),
               "Frame::writer .* leaves the page");
  EXPECT_DEATH(test::run_in_kernel([] {
                 auto f = Frame::alloc().release_value();
                 auto r = f.reader(~usize{0}, 2);
                 (void)r;
               }),
               "Frame::reader .* leaves the page");
}

// A moved-from Frame names no page: touching its bytes is a kernel bug with a message, never a
// write just below the direct map.
TEST(FrameDeathTest, MovedFromFramePanics) {
  EXPECT_DEATH(test::run_in_kernel([] {
                 auto f = Frame::alloc().release_value();
                 Frame g = std::move(f);
                 std::array<u8, 1> b{1};
                 (void)f.write_bytes(0, b);  // NOLINT(bugprone-use-after-move): the point
               }),
               "use of a moved-from Frame");
  EXPECT_DEATH(test::run_in_kernel([] {
                 auto f = Frame::alloc().release_value();
                 Frame g = std::move(f);
                 f.zero();  // NOLINT(bugprone-use-after-move): the point
               }),
               "use of a moved-from Frame");
}

// Result::value() of an error and an out-of-range index of a standard container panic in the
// default build too (_GLIBCXX_ASSERTIONS everywhere), with the place named.
TEST(BoundsDeathTest, ResultValueOfAnErrorPanics) {
  EXPECT_DEATH(test::run_in_kernel([] {
                 Result<int> r = Errno::efault;
                 EXPECT_EQ(r.value(), 0);
               }),
               "Result::value\\(\\) of EFAULT at .*frame_test.cpp");
}

TEST(BoundsDeathTest, ContainerIndexPastTheEndPanics) {
  EXPECT_DEATH(test::run_in_kernel([] {
                 std::vector<int> v(2);
                 usize i = v.size() + static_cast<usize>(frame_stats().total_frames > 0);
                 EXPECT_EQ(v[i], 0);
               }),
               "libstdc\\+\\+ assertion failed at .*vector");
}
#endif

TEST(Frame, RefcountFollowsCopiesAndFreesOnLastDrop) {
  test::run_in_kernel([] {
    usize before = frame_stats().allocated_frames;
    {
      Frame a = Frame::alloc().release_value();
      EXPECT_EQ(a.refcount(), 1u);
      Frame b = a;
      EXPECT_EQ(a.refcount(), 2u);
      EXPECT_EQ(a.paddr(), b.paddr());
      Frame c = std::move(b);
      EXPECT_EQ(a.refcount(), 2u);
      EXPECT_EQ(frame_stats().allocated_frames, before + 1);
    }
    EXPECT_EQ(frame_stats().allocated_frames, before);
  });
}

TEST(Frame, CopyFromCopiesWholePage) {
  test::run_in_kernel([] {
    Frame a = Frame::alloc().release_value();
    Frame b = Frame::alloc().release_value();
    std::array<u8, 3> d{9, 8, 7};
    ASSERT_TRUE(a.write_bytes(4000, d).is_ok());
    b.copy_from(a);
    std::array<u8, 3> got{};
    ASSERT_TRUE(b.read_bytes(4000, got).is_ok());
    EXPECT_EQ(got, d);
    b.copy_from(b);  // onto itself: the same bytes, no overlapping copy
    ASSERT_TRUE(b.read_bytes(4000, got).is_ok());
    EXPECT_EQ(got, d);
  });
}

TEST(Frame, ExhaustionFailsCleanlyAndRecovers) {
  test::run_in_kernel([] {
    std::vector<Frame> frames;
    u64 failures_before = frame_stats().failures;
    for (;;) {
      auto f = Frame::alloc_uninit();
      if (f.is_error()) {
        EXPECT_EQ(f.error(), Errno::enomem);
        break;
      }
      frames.push_back(f.release_value());
      ASSERT_LT(frames.size(), test::mem_bytes() / kPageSize) << "allocator never ran out";
    }
    EXPECT_EQ(frame_stats().free_frames, 0u);
    EXPECT_EQ(frame_stats().failures, failures_before + 1);
    EXPECT_GT(frames.size(), test::mem_bytes() / kPageSize / 2);
    frames.pop_back();
    EXPECT_TRUE(Frame::alloc().is_ok());
    frames.clear();
    EXPECT_GT(frame_stats().free_frames, test::mem_bytes() / kPageSize / 2);
  });
}

TEST(Frame, FreedFramesAreReusedNewestFirst) {
  // Hot frames first: a just-freed frame is in the caches and already backed by the host.
  test::run_in_kernel([] {
    std::vector<Frame> v;
    for (int i = 0; i < 130; ++i) v.push_back(Frame::alloc().release_value());
    Paddr last = v.back().paddr();
    Paddr before_last = v[v.size() - 2].paddr();
    v.clear();  // frees v[0] first and v[129] last
    Frame again = Frame::alloc().release_value();
    EXPECT_EQ(again.paddr(), last);
    Frame next = Frame::alloc().release_value();
    EXPECT_EQ(next.paddr(), before_last);
  });
}

TEST(Frame, AllocationDoesNotWanderThroughMemory) {
  // Allocate/free rounds reuse the frames freed before instead of cycling through all of memory
  // (each first touch of a page costs the host or hypervisor a fault).
  test::run_in_kernel([] {
    std::vector<Frame> v;
    for (int i = 0; i < 256; ++i) v.push_back(Frame::alloc_uninit().release_value());
    Paddr lo = ~Paddr{0};
    Paddr hi = 0;
    for (const Frame& f : v) {
      lo = std::min(lo, f.paddr());
      hi = std::max(hi, f.paddr());
    }
    v.clear();
    for (int round = 0; round < 5000; ++round) {
      std::array<std::optional<Frame>, 4> fs;
      for (auto& f : fs) {
        f.emplace(Frame::alloc_uninit().release_value());
        ASSERT_GE(f->paddr(), lo) << "round " << round;
        ASSERT_LE(f->paddr(), hi) << "round " << round;
      }
    }
  });
}

TEST(Segment, ContiguousAndZeroed) {
  test::run_in_kernel([] {
    auto s = Segment::alloc(8);
    ASSERT_TRUE(s.is_ok());
    EXPECT_EQ(s.value().nframes(), 8u);
    for (usize i = 0; i < 8; ++i) {
      EXPECT_EQ(s.value().frame(i).paddr(), s.value().paddr() + i * kPageSize);
    }
    std::array<u8, 16> buf{};
    buf.fill(1);
    ASSERT_TRUE(s.value().read_bytes(3 * kPageSize - 8, buf).is_ok());
    for (u8 b : buf) EXPECT_EQ(b, 0);
    EXPECT_EQ(Segment::alloc(0).error(), Errno::einval);
  });
}

TEST(Segment, FramesOutliveSegmentByRefcount) {
  test::run_in_kernel([] {
    usize before = frame_stats().allocated_frames;
    std::optional<Frame> kept;
    {
      Segment s = Segment::alloc(4).release_value();
      kept = s.frame(2);
      EXPECT_EQ(frame_stats().allocated_frames, before + 4);
    }
    EXPECT_EQ(frame_stats().allocated_frames, before + 1);
    kept.reset();
    EXPECT_EQ(frame_stats().allocated_frames, before);
  });
}

TEST(Segment, HugeRequestIsEnomem) {
  test::run_in_kernel([] { EXPECT_EQ(Segment::alloc(test::mem_bytes() / kPageSize + 1).error(), Errno::enomem); });
}
