// services/vm/syscall_patch.h — rewriting `syscall` sites into jumps to ostd's fast entry.
//
// Where ostd offers a fast system call entry (UserMode::fast_syscall_entry: the host backend's
// seccomp platform, where a trapped call costs a host signal delivery), the kernel rewrites each
// `syscall` site it sees trapping, when the instructions before it allow, as gVisor's systrap
// does: the site's first 7 bytes become `jmp *abs32` through a slot of a per-process trampoline
// table ("[usertrap]", at 0x60000), and the trampoline runs the instructions the jump displaced,
// then `movabs $return, %rcx; jmp *%gs:entry`. docs/syscall-patching.md has the whole argument;
// the pieces that are plain functions of bytes are here, for the tests.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <vector>

#include <ostd/types.h>

namespace services {

/// The trampoline table: its slots' addresses have 0x06 (an invalid opcode) as their third
/// byte, which the site's jump puts 5 bytes in.
inline constexpr ostd::Vaddr kTrapTableStart = 0x60000;
inline constexpr ostd::Vaddr kTrapTableEnd = 0x70000;
inline constexpr ostd::u64 kTrapSlotBytes = 128;
/// The longest run of instructions a site's jump may displace.
inline constexpr ostd::u32 kMaxDisplaced = 24;
/// Bytes before a `syscall` the planner wants to see: a displaced run and 15 bytes more, so
/// that any instruction that could overlap the run's start is among those it decodes.
inline constexpr ostd::u32 kPlanWindow = kMaxDisplaced + 15;

/// Which instructions before a `syscall` the site's jump displaces: the distance from the
/// run's first byte to the `syscall` (5, or 7 to kMaxDisplaced), or nullopt when no run is
/// safe to move. `before` holds the bytes that precede the `syscall` (at most kPlanWindow
/// are looked at; fewer when the code starts later). The run's first byte must be where an
/// instruction starts however the bytes before it are decoded, every instruction in it must
/// run anywhere (no rip-relative operand, no transfer of control), and none may start 1, 2,
/// 3, 4 or 6 bytes into it (the jump's own bytes; at 5 it leaves an invalid opcode, which
/// the kernel turns into a jump to the same place in the trampoline).
std::optional<ostd::u32> plan_syscall_patch(std::span<const ostd::u8> before);

/// The 7 bytes that replace a site: `jmp *trampoline` (the slot's first 8 bytes hold the
/// address of its code).
std::array<ostd::u8, 7> site_jump(ostd::Vaddr trampoline);

/// A trampoline at `at` for `displaced` (the site's instructions), returning to `resume` (just
/// past the `syscall`); `fast_word` gets the offset of its 8-byte `jmp *%gs:gs_offset`, which
/// slow_word() replaces to make it execute `syscall` instead.
std::vector<ostd::u8> build_trampoline(ostd::Vaddr at, std::span<const ostd::u8> displaced, ostd::Vaddr resume,
                                       ostd::u32 gs_offset, ostd::u32& fast_word);
/// `jmp` over the rest of the fast word to the trampoline's `syscall`.
std::array<ostd::u8, 8> slow_word();

}  // namespace services
