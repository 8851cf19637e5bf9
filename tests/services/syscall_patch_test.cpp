// The pieces of system call site rewriting that are functions of bytes: instruction lengths,
// which run of instructions before a `syscall` a site's jump may displace, the trampoline.
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "abi/x86_64/insn.h"
#include "vm/syscall_patch.h"

using services::plan_syscall_patch;
using services::x86_64::decode_insn;
using services::x86_64::Insn;
using ostd::u8;

namespace {

Insn decode(std::initializer_list<u8> bytes) {
  std::vector<u8> v(bytes);
  return decode_insn(v);
}

// `code` ends just before a `syscall`; padded in front with int3s (as between functions) to a
// full planning window.
std::optional<ostd::u32> plan(std::initializer_list<u8> code) {
  std::vector<u8> v;
  v.reserve(services::kPlanWindow + code.size());
  v.assign(services::kPlanWindow, 0xCC);
  for (u8 b : code) v.push_back(b);
  return plan_syscall_patch(v);
}

}  // namespace

TEST(X86Insn, LengthsOfCommonInstructions) {
  struct Case {
    std::vector<u8> bytes;
    ostd::u8 length;
    bool rip, control;
  };
  const Case cases[] = {
      {{0xB8, 0x6E, 0, 0, 0}, 5, false, false},                          // mov $0x6e,%eax
      {{0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8}, 10, false, false},          // movabs $imm64,%rax
      {{0x66, 0xB8, 1, 2}, 4, false, false},                             // mov $imm16,%ax
      {{0x4C, 0x8B, 0x4C, 0x24, 0x08}, 5, false, false},                 // mov 0x8(%rsp),%r9
      {{0x48, 0x89, 0xCA}, 3, false, false},                             // mov %rcx,%rdx
      {{0xC7, 0x04, 0x24, 8, 0, 0, 0}, 7, false, false},                 // movl $0x8,(%rsp)
      {{0x64, 0x48, 0x8B, 0x14, 0x25, 0x28, 0, 0, 0}, 9, false, false},  // mov %fs:0x28,%rdx
      {{0x48, 0x8D, 0x05, 1, 2, 3, 4}, 7, true, false},                  // lea 0x..(%rip),%rax
      {{0xC7, 0x05, 1, 2, 3, 4, 1, 0, 0, 0}, 10, true, false},           // movl $1,0x..(%rip)
      {{0x41, 0xBA, 8, 0, 0, 0}, 6, false, false},                       // mov $0x8,%r10d
      {{0x0F, 0x05}, 2, false, true},                                    // syscall
      {{0xC3}, 1, false, true},                                          // ret
      {{0xE8, 1, 2, 3, 4}, 5, false, true},                              // call rel32
      {{0x74, 0x0B}, 2, false, true},                                    // je rel8
      {{0x0F, 0x84, 1, 2, 3, 4}, 6, false, true},                        // je rel32
      {{0xFF, 0x24, 0x25, 0, 0, 6, 0}, 7, false, true},                  // jmp *0x60000
      {{0xF3, 0x0F, 0x1E, 0xFA}, 4, false, false},                       // endbr64
      {{0x66, 0x0F, 0x1F, 0x44, 0, 0}, 6, false, false},                 // nopw 0x0(%rax,%rax,1)
      {{0xC5, 0xF8, 0x77}, 3, false, false},                             // vzeroupper
      {{0xC5, 0xFD, 0x6F, 0x06}, 4, false, false},                       // vmovdqa (%rsi),%ymm0
      {{0xC4, 0xE3, 0x7D, 0x18, 0xC1, 1}, 6, false, false},              // vinsertf128 $1,...
      {{0x62, 0xF1, 0x7C, 0x48, 0x28, 0x04, 0x24}, 7, false, false},     // vmovaps (%rsp),%zmm0
      {{0x0F, 0x3A, 0x0F, 0xC1, 8}, 5, false, false},                    // palignr $8,%xmm1,%xmm0
      {{0xF7, 0xC6, 1, 0, 0, 0}, 6, false, false},                       // test $1,%esi
      {{0xF7, 0xD8}, 2, false, false},                                   // neg %eax
      {{0xA1, 1, 2, 3, 4, 5, 6, 7, 8}, 9, false, false},                 // movabs 0x..,%eax
  };
  for (const Case& c : cases) {
    Insn in = decode_insn(c.bytes);
    EXPECT_EQ(in.status, Insn::Status::Ok) << "first byte " << int(c.bytes[0]);
    EXPECT_EQ(in.length, c.length) << "first byte " << int(c.bytes[0]);
    EXPECT_EQ(in.rip_relative, c.rip) << "first byte " << int(c.bytes[0]);
    EXPECT_EQ(in.control, c.control) << "first byte " << int(c.bytes[0]);
  }
  EXPECT_EQ(decode({0x06}).status, Insn::Status::Invalid);  // push %es: not in 64-bit mode
  EXPECT_EQ(decode({0x60}).status, Insn::Status::Invalid);
  EXPECT_EQ(decode({0x0F, 0x0F, 0xC1, 0x9E}).status, Insn::Status::Unknown);  // 3DNow!
  EXPECT_EQ(decode({0xB8, 1, 2}).status, Insn::Status::Truncated);
  EXPECT_EQ(decode({0x48, 0x8B}).status, Insn::Status::Truncated);
}

TEST(SyscallPatch, PlansTheRunsMuslCompilesToItsSystemCalls) {
  // getppid(): mov $0x6e,%eax; syscall — gVisor's pattern.
  EXPECT_EQ(plan({0x31, 0xFF, 0xB8, 0x6E, 0, 0, 0}), 5u);
  // __syscall_cp_c (read, write): mov 0x8(%rsp),%r9; mov %rcx,%rdx; syscall — the jump covers
  // the first; the second starts where it leaves the invalid opcode.
  EXPECT_EQ(plan({0x48, 0x89, 0xF8, 0x4C, 0x8B, 0x4C, 0x24, 0x08, 0x48, 0x89, 0xCA}), 8u);
  // syscall(): movl $0x8,(%rsp); mov 0x10(%rdx),%rsi; mov 0x18(%rdx),%rdx; syscall.
  EXPECT_EQ(
      plan({0x48, 0x8B, 0x7A, 0x08, 0xC7, 0x04, 0x24, 0x08, 0, 0, 0, 0x48, 0x8B, 0x72, 0x10, 0x48, 0x8B, 0x52, 0x18}),
      15u);
}

TEST(SyscallPatch, RefusesRunsThatCannotMove) {
  // mov %rbx,%rdi; mov %rbp,%rsi after a call: instructions would start 3 and 6 bytes in, and
  // the call cannot move.
  EXPECT_EQ(plan({0xE8, 1, 2, 3, 4, 0x48, 0x89, 0xDF, 0x48, 0x89, 0xEE}), std::nullopt);
  // lea __thread_list_lock(%rip),%rdi; syscall: rip-relative.
  EXPECT_EQ(plan({0x48, 0x8D, 0x3D, 1, 2, 3, 4}), std::nullopt);
  // A jump right before: the run would have to start at or before it.
  EXPECT_EQ(plan({0x74, 0x05, 0xB8, 0x3C, 0, 0, 0}), 5u);  // the mov alone is fine
  EXPECT_EQ(plan({0x90, 0x90, 0x90, 0x74, 0x02, 0x31, 0xC0}), std::nullopt);
  // syscall; ret after a 2-byte instruction, nothing movable before it.
  EXPECT_EQ(plan({0xC3, 0x31, 0xFF}), std::nullopt);
}

TEST(SyscallPatch, RefusesAStartThatMayBeInsideAnInstruction) {
  // b8 6e 00 00 00 is `mov $0x6e,%eax` only if it starts an instruction; here it is the end of
  // `movabs $0x6eb8..., %rcx` (48 b9 + 8 bytes): the run is the whole movabs, not its tail.
  EXPECT_EQ(plan({0x48, 0xB9, 1, 2, 3, 0xB8, 0x6E, 0, 0, 0}), 10u);
  // ... or of `movl $0x6e,-0x48(%rsp)`: the run is that whole instruction.
  EXPECT_EQ(plan({0xC7, 0x44, 0x24, 0xB8, 0x6E, 0, 0, 0}), 8u);
  // An opcode this decoder does not model right before: nothing can be said.
  EXPECT_EQ(plan({0x0F, 0x0F, 0xC1, 0x9E, 0xB8, 0x6E, 0, 0, 0}), std::nullopt);
}

TEST(SyscallPatch, TrampolineLayout) {
  const std::vector<u8> displaced{0xB8, 0x6E, 0, 0, 0};
  ostd::u32 fast = 0;
  std::vector<u8> t = services::build_trampoline(0x60080, displaced, 0x401234, 152, fast);
  ASSERT_LE(t.size(), services::kTrapSlotBytes);
  // +0: the address of the code; +8: the displaced instructions; then movabs $resume,%rcx.
  EXPECT_EQ(t[0], 0x88);
  EXPECT_EQ(t[1], 0x00);
  EXPECT_EQ(t[2], 0x06);
  EXPECT_TRUE(std::equal(displaced.begin(), displaced.end(), t.begin() + 8));
  EXPECT_EQ(t[13], 0x48);
  EXPECT_EQ(t[14], 0xB9);
  EXPECT_EQ(t[15], 0x34);
  // The fast word is aligned (replaced whole by slow_word()) and jumps through %gs:152.
  EXPECT_EQ((0x60080 + fast) % 8, 0u);
  EXPECT_EQ(t[fast], 0x65);
  EXPECT_EQ(t[fast + 4], 152);
  // The slow word jumps to the syscall right after the fast word.
  auto slow = services::slow_word();
  EXPECT_EQ(slow[0], 0xEB);
  EXPECT_EQ(2 + slow[1], 8);
  EXPECT_EQ(t[fast + 8], 0x0F);
  EXPECT_EQ(t[fast + 9], 0x05);
  // Every instruction decodes, in order, to the end of the trampoline's code.
  std::size_t pos = 8;
  while (pos < fast + 16) {
    Insn in = decode_insn(std::span<const u8>(t).subspan(pos));
    ASSERT_EQ(in.status, Insn::Status::Ok) << "at " << pos;
    pos += in.length;
  }
  auto jump = services::site_jump(0x60080);
  EXPECT_EQ(jump[5], 0x06);  // the invalid opcode 5 bytes into the site
  EXPECT_EQ(jump[6], 0x00);
}
