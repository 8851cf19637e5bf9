// Address spaces torn down by a task of their own (process exit, exec).
// The services headers first: the harness brings in the host's <signal.h>, whose si_pid and
// friends are macros.
#include "process/internal.h"
#include "vm/memory_map.h"

#include "../unit/ostd/harness.h"

using namespace ostd;

TEST(AddressSpaceRelease, HappensInItsOwnTaskAndCanBeWaitedFor) {
  test::run_in_kernel([] {
    EXPECT_FALSE(services::wait_for_address_space_releases());  // nothing queued
    auto vm = VmSpace::create().release_value();
    auto mm = std::make_shared<services::MemoryMap>(vm);
    Frame probe = Frame::alloc().release_value();
    ASSERT_TRUE(vm->map(0x10000000, probe, PageFlags::RW).is_ok());
    ASSERT_EQ(probe.refcount(), 2u);  // ours and the mapping's
    services::release_address_space(std::move(mm), std::move(vm));
    if (!UserMode::runs_beside_kernel()) {
      // One CPU for user code and kernel (ptrace, shared CPUs, bare metal): at once.
      EXPECT_FALSE(services::address_space_releases_pending());
      EXPECT_EQ(probe.refcount(), 1u);
      return;
    }
    // Queued: this task goes on first, the mapping is still there.
    EXPECT_TRUE(services::address_space_releases_pending());
    EXPECT_EQ(probe.refcount(), 2u);
    // An allocation that ran out waits for the teardown; the frame is free after it.
    EXPECT_TRUE(services::wait_for_address_space_releases());
    EXPECT_FALSE(services::address_space_releases_pending());
    EXPECT_EQ(probe.refcount(), 1u);
  });
}
