// services/device/line_discipline.h — the N_TTY line discipline: canonical editing, echo,
// signal characters and output post-processing, over a Linux struct termios.
#pragma once

#include <array>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <ostd/pod.h>
#include <ostd/types.h>

namespace services {

/// struct termios as TCGETS/TCSETS pass it on x86-64 (the kernel's, 36 bytes).
struct Termios {
  ostd::u32 c_iflag;
  ostd::u32 c_oflag;
  ostd::u32 c_cflag;
  ostd::u32 c_lflag;
  ostd::u8 c_line;
  std::array<ostd::u8, 19> c_cc;
  OSTD_POD(Termios, c_iflag, c_oflag, c_cflag, c_lflag, c_line, c_cc);
};
static_assert(sizeof(Termios) == 36);

struct Winsize {
  ostd::u16 ws_row, ws_col, ws_xpixel, ws_ypixel;
  OSTD_POD(Winsize, ws_row, ws_col, ws_xpixel, ws_ypixel);
};

namespace tty {
// c_cc indices
inline constexpr ostd::usize kVintr = 0, kVquit = 1, kVerase = 2, kVkill = 3, kVeof = 4, kVtime = 5, kVmin = 6,
                             kVstart = 8, kVstop = 9, kVsusp = 10, kVeol = 11, kVreprint = 12, kVwerase = 14,
                             kVlnext = 15, kVeol2 = 16;
// c_iflag
inline constexpr ostd::u32 kIgnbrk = 01, kIgncr = 0200, kIcrnl = 0400, kInlcr = 0100, kIxon = 02000, kIstrip = 040;
// c_oflag
inline constexpr ostd::u32 kOpost = 01, kOnlcr = 04;
// c_lflag
inline constexpr ostd::u32 kIsig = 01, kIcanon = 02, kEcho = 010, kEchoe = 020, kEchok = 040, kEchonl = 0100,
                           kNoflsh = 0200, kTostop = 0400, kEchoctl = 01000, kEchoke = 04000, kIexten = 0100000;
Termios default_termios();
}  // namespace tty

class LineDiscipline {
 public:
  LineDiscipline() : termios_(tty::default_termios()) {}

  /// What receiving input caused: bytes to echo to the terminal and a signal for the
  /// foreground process group (SIGINT, SIGQUIT or SIGTSTP), if any.
  struct InputEffect {
    std::string echo;
    int signal = 0;
  };
  InputEffect receive(ostd::u8 c);

  /// Whether a read would return now (a complete line or EOF in canonical mode; enough bytes
  /// in raw mode).
  bool readable() const;
  /// Takes up to max bytes for a reader; an empty result with `eof` set means end of file.
  std::vector<ostd::u8> read(ostd::usize max, bool& eof);
  /// Output post-processing (ONLCR) for bytes a program writes.
  std::string process_output(std::string_view bytes) const;
  /// Bytes waiting to be read (FIONREAD).
  ostd::usize available() const;

  const Termios& termios() const { return termios_; }
  void set_termios(const Termios& t);
  /// Drops unread input (TCSETSF, TCFLSH).
  void flush_input();

 private:
  bool canonical() const { return (termios_.c_lflag & tty::kIcanon) != 0; }
  std::string echo_char(ostd::u8 c) const;
  Termios termios_;
  std::string line_;                   // the line being edited (canonical mode)
  std::deque<ostd::u8> ready_;         // bytes a reader may take
  ostd::usize eof_marks_ = 0;          // pending ^D at the start of ready data
  std::deque<ostd::usize> line_ends_;  // positions in ready_ where completed lines end
};

}  // namespace services
