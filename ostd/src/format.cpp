#include <ostd/format.h>

namespace ostd::detail {

namespace {

void append_unsigned(std::string& out, u64 v, unsigned base, bool upper) {
  std::array<char, 66> buf{};
  usize n = 0;
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    buf.at(n++) = digits[v % base];
    v /= base;
  } while (v != 0);
  while (n > 0) {
    out.push_back(buf.at(--n));
  }
}

void append_arg(std::string& out, const FormatArg& a, std::string_view spec) {
  bool alt = false;
  char type = 'd';
  for (char c : spec) {
    if (c == '#') {
      alt = true;
    } else if (c == 'x' || c == 'X' || c == 'o' || c == 'b' || c == 'd') {
      type = c;
    }
  }
  unsigned base = type == 'x' || type == 'X' ? 16 : type == 'o' ? 8 : type == 'b' ? 2 : 10;
  auto prefix = [&] {
    if (alt && base == 16) out += "0x";
    if (alt && base == 8) out += "0o";
    if (alt && base == 2) out += "0b";
  };
  switch (a.kind) {
    case FormatArg::Kind::String: out += a.str; break;
    case FormatArg::Kind::Bool: out += a.u ? "true" : "false"; break;
    case FormatArg::Kind::Errno: out += a.str; break;
    case FormatArg::Kind::Unsigned:
      prefix();
      append_unsigned(out, a.u, base, type == 'X');
      break;
    case FormatArg::Kind::Signed:
      if (base != 10) {
        prefix();
        append_unsigned(out, static_cast<u64>(a.s), base, type == 'X');
      } else if (a.s < 0) {
        out.push_back('-');
        append_unsigned(out, 0 - static_cast<u64>(a.s), 10, false);
      } else {
        append_unsigned(out, static_cast<u64>(a.s), 10, false);
      }
      break;
  }
}

}  // namespace

void vformat_to(std::string& out, std::string_view fmt, const FormatArg* args, usize nargs) {
  usize next = 0;
  for (usize i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out.push_back('}');
      ++i;
    } else if (c == '{') {
      usize close = fmt.find('}', i);
      if (close == std::string_view::npos) {
        out += fmt.substr(i);
        return;
      }
      std::string_view spec = fmt.substr(i + 1, close - i - 1);
      if (next < nargs) {
        append_arg(out, args[next++], spec);
      } else {
        out += "{?}";
      }
      i = close;
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace ostd::detail
