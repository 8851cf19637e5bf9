#include "device/line_discipline.h"

#include <ostd/enforce.h>

namespace services {

namespace tty {
Termios default_termios() {
  Termios t{};
  t.c_iflag = kIcrnl | kIxon;
  t.c_oflag = kOpost | kOnlcr;
  t.c_cflag = 0277;  // B38400 | CS8 | CREAD
  t.c_lflag = kIsig | kIcanon | kEcho | kEchoe | kEchok | kEchoctl | kEchoke | kIexten;
  t.c_cc = {3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0};
  return t;
}
}  // namespace tty

using namespace tty;

std::string LineDiscipline::echo_char(ostd::u8 c) const {
  if ((termios_.c_lflag & kEchoctl) != 0 && c < 32 && c != '\n' && c != '\t') {
    return std::string{'^', static_cast<char>(c + 64)};
  }
  return std::string(1, static_cast<char>(c));
}

LineDiscipline::InputEffect LineDiscipline::receive(ostd::u8 c) {
  InputEffect fx;
  const auto& cc = termios_.c_cc;
  if ((termios_.c_iflag & kIstrip) != 0) c &= 0x7f;
  if (c == '\r') {
    if ((termios_.c_iflag & kIgncr) != 0) return fx;
    if ((termios_.c_iflag & kIcrnl) != 0) c = '\n';
  } else if (c == '\n' && (termios_.c_iflag & kInlcr) != 0) {
    c = '\r';
  }
  bool echo = (termios_.c_lflag & kEcho) != 0;
  if ((termios_.c_lflag & kIsig) != 0 && c != 0) {
    int sig = c == cc.at(kVintr) ? 2 : c == cc.at(kVquit) ? 3 : c == cc.at(kVsusp) ? 20 : 0;
    if (sig != 0) {
      if ((termios_.c_lflag & kNoflsh) == 0) flush_input();
      if (echo) fx.echo = echo_char(c);
      fx.signal = sig;
      return fx;
    }
  }
  if (!canonical()) {
    ready_.push_back(c);
    if (echo) fx.echo = echo_char(c);
    return fx;
  }
  if (c == cc.at(kVerase) || c == '\b') {
    if (!line_.empty()) {
      line_.pop_back();
      if (echo && (termios_.c_lflag & kEchoe) != 0) fx.echo = "\b \b";
    }
    return fx;
  }
  if (c == cc.at(kVwerase) && (termios_.c_lflag & kIexten) != 0) {
    while (!line_.empty() && line_.back() == ' ') {
      line_.pop_back();
      if (echo) fx.echo += "\b \b";
    }
    while (!line_.empty() && line_.back() != ' ') {
      line_.pop_back();
      if (echo) fx.echo += "\b \b";
    }
    return fx;
  }
  if (c == cc.at(kVkill)) {
    if (echo && (termios_.c_lflag & kEchok) != 0) {
      for (ostd::usize i = 0; i < line_.size(); ++i) fx.echo += "\b \b";
    }
    line_.clear();
    return fx;
  }
  if (c == cc.at(kVeof)) {
    // ^D: pushes the current line without a newline; on an empty line it is end of file.
    for (char ch : line_) ready_.push_back(static_cast<ostd::u8>(ch));
    if (line_.empty()) ++eof_marks_;
    line_.clear();
    line_ends_.push_back(ready_.size());
    return fx;
  }
  line_.push_back(static_cast<char>(c));
  if (echo || (c == '\n' && (termios_.c_lflag & kEchonl) != 0)) fx.echo = echo_char(c);
  if (c == '\n' || (c != 0 && (c == cc.at(kVeol) || c == cc.at(kVeol2)))) {
    for (char ch : line_) ready_.push_back(static_cast<ostd::u8>(ch));
    line_.clear();
    line_ends_.push_back(ready_.size());
  }
  return fx;
}

bool LineDiscipline::readable() const {
  if (canonical()) return !line_ends_.empty() || eof_marks_ > 0;
  ostd::usize vmin = termios_.c_cc.at(kVmin);
  return ready_.size() >= (vmin == 0 ? 1 : vmin);
}

std::vector<ostd::u8> LineDiscipline::read(ostd::usize max, bool& eof) {
  eof = false;
  std::vector<ostd::u8> out;
  if (canonical()) {
    if (line_ends_.empty()) {
      if (eof_marks_ > 0) {
        --eof_marks_;
        eof = true;
      }
      return out;
    }
    ostd::usize end = line_ends_.front();
    if (end == 0 && eof_marks_ > 0) {
      --eof_marks_;
      line_ends_.pop_front();
      eof = true;
      return out;
    }
    ostd::usize n = end < max ? end : max;
    for (ostd::usize i = 0; i < n; ++i) {
      out.push_back(ready_.front());
      ready_.pop_front();
    }
    // Shift the remaining line ends.
    for (auto& e : line_ends_) e -= n;
    if (line_ends_.front() == 0 && n == end) line_ends_.pop_front();
    return out;
  }
  while (!ready_.empty() && out.size() < max) {
    out.push_back(ready_.front());
    ready_.pop_front();
  }
  return out;
}

std::string LineDiscipline::process_output(std::string_view bytes) const {
  if ((termios_.c_oflag & kOpost) == 0 || (termios_.c_oflag & kOnlcr) == 0) {
    return std::string(bytes);
  }
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

ostd::usize LineDiscipline::available() const {
  return canonical() ? (line_ends_.empty() ? 0 : line_ends_.front()) : ready_.size();
}

void LineDiscipline::set_termios(const Termios& t) {
  bool was_canonical = canonical();
  termios_ = t;
  if (was_canonical && !canonical()) {
    // Leaving canonical mode: the partial line becomes readable input.
    for (char ch : line_) ready_.push_back(static_cast<ostd::u8>(ch));
    line_.clear();
    line_ends_.clear();
  }
}

void LineDiscipline::flush_input() {
  ready_.clear();
  line_.clear();
  line_ends_.clear();
  eof_marks_ = 0;
}

}  // namespace services
