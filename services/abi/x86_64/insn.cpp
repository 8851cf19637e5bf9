// x86-64 instruction lengths (Intel SDM volume 2, appendix A: the opcode maps).
#include "abi/x86_64/insn.h"

#include <ostd/enforce.h>

namespace services::x86_64 {

using ostd::u8;
using ostd::usize;

namespace {

constexpr usize kMaxLength = 15;

class Decoder {
 public:
  explicit Decoder(std::span<const u8> code) : code_(code) {}

  Insn run();

 private:
  // The next byte, or -1 past the end.
  int next() { return pos_ < code_.size() ? code_[pos_++] : (++pos_, -1); }
  int peek() const { return pos_ < code_.size() ? code_[pos_] : -1; }
  void skip(usize n) { pos_ += n; }
  // A ModRM byte and what follows it (SIB, displacement); returns its reg field, -1 past the end.
  int modrm();
  Insn finish(Insn::Status s = Insn::Status::Ok);
  Insn invalid() { return finish(Insn::Status::Invalid); }
  Insn unknown() { return finish(Insn::Status::Unknown); }
  usize imm_z() const { return opsize_ ? 2 : 4; }
  Insn vex(int escape);
  Insn two_byte();
  Insn one_byte(int op);

  std::span<const u8> code_;
  usize pos_ = 0;
  bool opsize_ = false;  // 66
  bool addr32_ = false;  // 67
  bool rex_w_ = false;
  bool rex_ = false;
  bool rip_ = false;
  bool control_ = false;
  bool truncated_ = false;
};

int Decoder::modrm() {
  int m = next();
  if (m < 0) {
    truncated_ = true;
    return -1;
  }
  int mod = m >> 6, rm = m & 7;
  if (mod != 3) {
    if (rm == 4) {
      int sib = next();
      if (sib < 0) {
        truncated_ = true;
        return -1;
      }
      if (mod == 0 && (sib & 7) == 5) skip(4);
    } else if (mod == 0 && rm == 5) {
      skip(4);
      rip_ = true;
    }
    if (mod == 1) skip(1);
    if (mod == 2) skip(4);
  }
  return (m >> 3) & 7;
}

Insn Decoder::finish(Insn::Status s) {
  Insn out;
  if (s == Insn::Status::Ok && (truncated_ || pos_ > code_.size())) s = Insn::Status::Truncated;
  if (s == Insn::Status::Ok && pos_ > kMaxLength) s = Insn::Status::Invalid;
  out.status = s;
  out.length = static_cast<u8>(pos_ > kMaxLength ? kMaxLength : pos_);
  out.rip_relative = rip_;
  out.control = control_;
  return out;
}

// VEX (C4, C5) and EVEX (62): always these in 64-bit mode.
Insn Decoder::vex(int escape) {
  if (rex_) return invalid();  // a REX prefix before VEX/EVEX is #UD
  int map = 1;
  if (escape == 0xC5) {
    skip(1);
  } else if (escape == 0xC4) {
    int p0 = next();
    if (p0 < 0) return finish(Insn::Status::Truncated);
    map = p0 & 0x1f;
    skip(1);
  } else {
    int p0 = next();
    if (p0 < 0) return finish(Insn::Status::Truncated);
    if ((p0 & 0x08) != 0) return invalid();  // EVEX P0 bit 3 is reserved (0)
    map = p0 & 7;
    int p1 = next();
    if (p1 < 0) return finish(Insn::Status::Truncated);
    if ((p1 & 0x04) == 0) return invalid();  // EVEX P1 bit 2 is fixed (1)
    skip(1);
  }
  if (map != 1 && map != 2 && map != 3 && !(escape == 0x62 && (map == 5 || map == 6))) {
    return invalid();
  }
  int op = next();
  if (op < 0) return finish(Insn::Status::Truncated);
  if (escape != 0x62 && map == 1 && op == 0x77) return finish();  // vzeroupper / vzeroall
  if (modrm() < 0) return finish(Insn::Status::Truncated);
  bool imm8 = map == 3 || (map == 1 && ((op >= 0x70 && op <= 0x73) || op == 0xC2 || (op >= 0xC4 && op <= 0xC6)));
  if (imm8) skip(1);
  return finish();
}

Insn Decoder::two_byte() {
  int op = next();
  if (op < 0) return finish(Insn::Status::Truncated);
  if (op == 0x38) {
    if (next() < 0) return finish(Insn::Status::Truncated);
    modrm();
    return finish();
  }
  if (op == 0x3A) {
    if (next() < 0) return finish(Insn::Status::Truncated);
    modrm();
    skip(1);
    return finish();
  }
  switch (op) {
    // clang-format off
    case 0x04: case 0x0A: case 0x0C: case 0x24: case 0x25: case 0x26: case 0x27: case 0x36:
    case 0x39: case 0x3B: case 0x3C: case 0x3D: case 0x3E: case 0x3F: case 0x7A: case 0x7B:
    case 0xA6: case 0xA7:
      return invalid();
    // clang-format on
    case 0x0F:
      return unknown();  // 3DNow!
                         // clang-format off
    case 0x05: case 0x07: case 0x0B: case 0x34: case 0x35:  // syscall, sysret, ud2, sysenter/exit
      control_ = true;
                         // clang-format on
      return finish();
    // clang-format off
    case 0x06: case 0x08: case 0x09: case 0x0E: case 0x30: case 0x31: case 0x32: case 0x33:
    case 0x37: case 0x77: case 0xA0: case 0xA1: case 0xA2: case 0xA8: case 0xA9: case 0xAA:
      return finish();
    // clang-format on
    default: break;
  }
  if (op >= 0x80 && op <= 0x8F) {  // jcc rel32
    skip(4);
    control_ = true;
    return finish();
  }
  if (op >= 0xC8 && op <= 0xCF) return finish();  // bswap
  if (op == 0xB9 || op == 0xFF) control_ = true;  // ud1, ud0
  modrm();
  if ((op >= 0x70 && op <= 0x73) || op == 0xA4 || op == 0xAC || op == 0xBA || op == 0xC2 ||
      (op >= 0xC4 && op <= 0xC6)) {
    skip(1);
  }
  return finish();
}

Insn Decoder::one_byte(int op) {
  if (op < 0x40) {
    switch (op & 7) {
      // clang-format off
      case 0: case 1: case 2: case 3: modrm(); return finish();
      case 4: skip(1); return finish();
      case 5: skip(imm_z()); return finish();
      // clang-format on
      default: return invalid();  // push/pop of segments, daa/das/aaa/aas; prefixes went before
    }
  }
  if (op >= 0x50 && op <= 0x5F) return finish();  // push/pop r
  if (op >= 0x70 && op <= 0x7F) {                 // jcc rel8
    skip(1);
    control_ = true;
    return finish();
  }
  if (op >= 0x84 && op <= 0x8F) {
    int reg = modrm();
    if (op == 0x8F && reg > 0) return unknown();  // XOP (AMD)
    return finish();
  }
  if (op >= 0x90 && op <= 0x9F && op != 0x9A) return finish();
  if (op >= 0xA0 && op <= 0xA3) {  // mov with a 64-bit (or 32-bit) absolute address
    skip(addr32_ ? 4 : 8);
    return finish();
  }
  if ((op >= 0xA4 && op <= 0xA7) || (op >= 0xAA && op <= 0xAF)) return finish();
  if (op >= 0xB0 && op <= 0xB7) {
    skip(1);
    return finish();
  }
  if (op >= 0xB8 && op <= 0xBF) {
    skip(rex_w_ ? 8 : imm_z());
    return finish();
  }
  if (op >= 0xD8 && op <= 0xDF) {  // x87
    modrm();
    return finish();
  }
  switch (op) {
    // clang-format off
    case 0x63: case 0xD0: case 0xD1: case 0xD2: case 0xD3: case 0xFE:
      modrm();
      // clang-format on
      return finish();
    case 0x68: skip(imm_z()); return finish();
    case 0x69:
      modrm();
      skip(imm_z());
      return finish();
    case 0x6A: skip(1); return finish();
    // clang-format off
    case 0x6B: case 0x80: case 0x83: case 0xC0: case 0xC1: case 0xC6:
      modrm();
      // clang-format on
      skip(1);
      return finish();
    // clang-format off
    case 0x6C: case 0x6D: case 0x6E: case 0x6F: case 0xC9: case 0xD7: case 0xEC: case 0xED:
    case 0xEE: case 0xEF: case 0xF4: case 0xF5: case 0xF8: case 0xF9: case 0xFA: case 0xFB:
    case 0xFC: case 0xFD:
      return finish();
    // clang-format on
    case 0x81:
      modrm();
      skip(imm_z());
      return finish();
    case 0xA8: skip(1); return finish();
    case 0xA9: skip(imm_z()); return finish();
    // clang-format off
    case 0xC2: case 0xCA: skip(2); control_ = true; return finish();
    case 0xC3: case 0xCB: case 0xCC: case 0xCF: case 0xF1: control_ = true; return finish();
    case 0xCD: skip(1); control_ = true; return finish();
    case 0xC7: {
      int reg = modrm();
      // clang-format on
      skip(imm_z());
      if (reg == 7) control_ = true;  // xbegin rel32
      return finish();
    }
    case 0xC8: skip(3); return finish();
    // clang-format off
    case 0xE0: case 0xE1: case 0xE2: case 0xE3: case 0xEB:
      skip(1);
      // clang-format on
      control_ = true;
      return finish();
    // clang-format off
    case 0xE4: case 0xE5: case 0xE6: case 0xE7: skip(1); return finish();
    case 0xE8: case 0xE9: skip(4); control_ = true; return finish();
    case 0xF6: case 0xF7: {
      int reg = modrm();
      // clang-format on
      if (reg == 0 || reg == 1) skip(op == 0xF6 ? 1 : imm_z());
      return finish();
    }
    case 0xFF: {
      int reg = modrm();
      if (reg == 7) return invalid();
      if (reg >= 2 && reg <= 5) control_ = true;
      return finish();
    }
    default:
      // 60, 61, 82, 9A, CE, D4, D5, D6, EA: not in 64-bit mode. (40-4F, 62, C4, C5, 0F and
      // the prefixes are handled before.)
      return invalid();
  }
}

Insn Decoder::run() {
  int b = -1;
  for (;;) {
    b = next();
    if (b < 0) return finish(Insn::Status::Truncated);
    if (pos_ > kMaxLength) return invalid();
    if (b == 0x66) {
      opsize_ = true;
    } else if (b == 0x67) {
      addr32_ = true;
    } else if (b == 0xF0 || b == 0xF2 || b == 0xF3 || b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 ||
               b == 0x65) {
      // lock, rep, segments: no effect on the length
    } else {
      break;
    }
  }
  if ((b & 0xF0) == 0x40) {
    rex_ = true;
    rex_w_ = (b & 8) != 0;
    b = next();
    if (b < 0) return finish(Insn::Status::Truncated);
    if ((b & 0xF0) == 0x40 || b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3) {
      return unknown();  // a REX the next prefix cancels: legal, never emitted
    }
  }
  if (b == 0xC4 || b == 0xC5 || b == 0x62) return vex(b);
  if (b == 0x0F) return two_byte();
  return one_byte(b);
}

}  // namespace

Insn decode_insn(std::span<const u8> code) { return Decoder(code).run(); }

}  // namespace services::x86_64
