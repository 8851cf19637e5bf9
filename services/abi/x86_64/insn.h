// services/abi/x86_64/insn.h — x86-64 instruction lengths, for rewriting system call sites.
//
// A length decoder, not a disassembler: it tells how long the instruction at the start of some
// bytes is, whether it addresses memory relative to the instruction pointer, and whether it
// transfers control (so could not run anywhere but where it is). It knows the one-byte map,
// the 0F, 0F38 and 0F3A maps, VEX and EVEX; bytes that cannot start an instruction in 64-bit
// mode are Invalid, and the few encodings it does not model (3DNow!, XOP) are Unknown, which
// callers must treat as "could be real code".
#pragma once

#include <span>

#include <ostd/types.h>

namespace services::x86_64 {

struct Insn {
  enum class Status : ostd::u8 { Ok, Invalid, Unknown, Truncated };
  Status status = Status::Invalid;
  ostd::u8 length = 0;
  bool rip_relative = false;  // a ModRM memory operand relative to rip
  bool control = false;       // jumps, calls, returns, traps, system calls, far transfers
};

/// Decodes the instruction at the start of `code` (64-bit mode). Truncated when `code` ends
/// inside it.
Insn decode_insn(std::span<const ostd::u8> code);

}  // namespace services::x86_64
