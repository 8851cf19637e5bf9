// A tiny assembler for classic BPF (seccomp filters) with forward labels, so that jump offsets
// are computed, not counted by hand: the guest threads' filter (seccomp_platform.cpp) and the
// stubs' host-call filter (ptrace_platform.cpp).
#pragma once

#include <linux/filter.h>

#include <vector>

#include <ostd/log.h>
#include <ostd/types.h>

namespace ostd::host {

class Bpf {
 public:
  static constexpr u16 kLd = BPF_LD | BPF_W | BPF_ABS;
  static constexpr u16 kJeq = BPF_JMP | BPF_JEQ | BPF_K;
  static constexpr u16 kJge = BPF_JMP | BPF_JGE | BPF_K;
  static constexpr u16 kRet = BPF_RET | BPF_K;

  void stmt(u16 code, u32 k) { code_.push_back({code, 0, 0, k}); }
  /// A conditional jump to labels jt (true) and jf (false); -1 falls through.
  void jump(u16 code, u32 k, int jt, int jf) {
    fixups_.push_back({code_.size(), jt, jf});
    code_.push_back({code, 0, 0, k});
  }
  /// Places label `id` at the next instruction. Labels are forward only (BPF cannot jump back).
  void label(int id) {
    if (labels_.size() <= static_cast<usize>(id)) labels_.resize(id + 1, ~usize{0});
    labels_[id] = code_.size();
  }
  /// The program, every jump resolved. A label never placed, placed behind its jump or more
  /// than 255 instructions ahead is a bug in the filter's code: a panic.
  std::vector<sock_filter> finish() {
    for (const Fixup& f : fixups_) {
      code_[f.at].jt = offset(f.at, f.jt);
      code_[f.at].jf = offset(f.at, f.jf);
    }
    return code_;
  }

 private:
  struct Fixup {
    usize at;
    int jt, jf;
  };
  u8 offset(usize at, int label) const {
    if (label < 0) return 0;
    if (static_cast<usize>(label) >= labels_.size()) {
      panic("seccomp filter: label {} never placed", label);
    }
    usize target = labels_[label];
    if (target == ~usize{0} || target <= at || target - at - 1 > 255) {
      panic("seccomp filter: bad jump from {} to label {}", at, label);
    }
    return static_cast<u8>(target - at - 1);
  }
  std::vector<sock_filter> code_;
  std::vector<Fixup> fixups_;
  std::vector<usize> labels_;
};

}  // namespace ostd::host
