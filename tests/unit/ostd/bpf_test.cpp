// The host backend's BPF assembler (ostd-host-backend/src/bpf.h), which builds the guest
// threads' seccomp filter and the stubs' host-call filter: jumps land on their labels, a
// filter built with it traps what it names, and a broken filter is a panic, not a program.
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>

#include "bpf.h"

using ostd::host::Bpf;

TEST(Bpf, JumpsLandOnTheirLabels) {
  enum { kA, kB };
  Bpf b;
  b.stmt(Bpf::kLd, 0);           // 0
  b.jump(Bpf::kJeq, 1, kA, -1);  // 1: true to 4, false falls through
  b.jump(Bpf::kJeq, 2, -1, kB);  // 2: true falls through, false to 5
  b.stmt(Bpf::kRet, 7);          // 3
  b.label(kA);
  b.stmt(Bpf::kRet, 8);  // 4
  b.label(kB);
  b.stmt(Bpf::kRet, 9);  // 5
  std::vector<sock_filter> code = b.finish();
  ASSERT_EQ(code.size(), 6u);
  EXPECT_EQ(code[1].jt, 2);
  EXPECT_EQ(code[1].jf, 0);
  EXPECT_EQ(code[2].jt, 0);
  EXPECT_EQ(code[2].jf, 2);
  EXPECT_EQ(code[5].k, 9u);
}

// A filter that traps getppid and allows the rest, loaded in a child: getpid runs, getppid
// kills the child with SIGSYS (no handler).
TEST(Bpf, FilterTrapsWhatItNames) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    enum { kTrap, kAllow };
    Bpf b;
    b.stmt(Bpf::kLd, offsetof(seccomp_data, nr));
    b.jump(Bpf::kJeq, SYS_getppid, kTrap, kAllow);
    b.label(kTrap);
    b.stmt(Bpf::kRet, SECCOMP_RET_TRAP);
    b.label(kAllow);
    b.stmt(Bpf::kRet, SECCOMP_RET_ALLOW);
    std::vector<sock_filter> code = b.finish();
    sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
      _exit(2);
    }
    if (syscall(SYS_getpid) <= 0) _exit(3);
    syscall(SYS_getppid);
    _exit(4);  // not reached: SIGSYS
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) << "status " << std::hex << st;
}

TEST(BpfDeathTest, AJumpToALabelNeverPlacedPanics) {
  EXPECT_DEATH(
      {
        Bpf b;
        b.jump(Bpf::kJeq, 1, 3, -1);
        b.stmt(Bpf::kRet, 0);
        (void)b.finish();
      },
      "label 3 never placed");
}

TEST(BpfDeathTest, AJumpBackwardsPanics) {
  EXPECT_DEATH(
      {
        Bpf b;
        b.label(0);
        b.stmt(Bpf::kLd, 0);
        b.jump(Bpf::kJeq, 1, 0, -1);
        (void)b.finish();
      },
      "bad jump");
}
