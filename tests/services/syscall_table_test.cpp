// The system-call table: docs/syscalls.md is generated from it and must stay equal to it, and
// no call is both implemented and refused.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "syscall/table.h"

using namespace services;

TEST(SyscallTable, DocumentMatchesTheTable) {
  const std::string path = std::string(PROJECT_SOURCE_DIR) + "/docs/syscalls.md";
  const std::string want = syscall_table_markdown();
  if (const char* u = std::getenv("SYSCALLS_MD_UPDATE"); u != nullptr && std::string(u) == "1") {
    std::ofstream(path) << want;
  }
  std::ifstream in(path);
  std::stringstream have;
  have << in.rdbuf();
  EXPECT_EQ(have.str(), want) << "docs/syscalls.md is out of date: rerun with SYSCALLS_MD_UPDATE=1";
}

TEST(SyscallTable, NothingIsBothImplementedAndRefused) {
  for (const Refusal& r : refusals()) {
    EXPECT_EQ(syscall_table().get(static_cast<ostd::u64>(r.nr)), nullptr)
        << x86_64::syscall_name(static_cast<ostd::u64>(r.nr));
  }
}

TEST(SyscallTable, CountsAtLeastWhatIsRegistered) {
  const std::string md = syscall_table_markdown();
  // The summary line counts the rows; 256 were implemented when this test was written.
  const auto at = md.find(" implemented, ");
  ASSERT_NE(at, std::string::npos);
  const auto start = md.rfind(' ', at - 1) + 1;
  EXPECT_GE(std::stoi(md.substr(start, at - start)), 256);
}
