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

// spec: [:][#][0][width][x|X|o|b|d], as std::format's subset: numbers are right-aligned (zero
// padded after the sign and prefix with '0'), strings left-aligned.
void append_arg(std::string& out, const FormatArg& a, std::string_view spec) {
  bool alt = false, zero = false;
  usize width = 0;
  char type = 'd';
  usize i = 0;
  if (i < spec.size() && spec[i] == ':') ++i;
  if (i < spec.size() && spec[i] == '#') {
    alt = true;
    ++i;
  }
  if (i < spec.size() && spec[i] == '0') {
    zero = true;
    ++i;
  }
  for (; i < spec.size() && spec[i] >= '0' && spec[i] <= '9'; ++i)
    width = width * 10 + static_cast<usize>(spec[i] - '0');
  for (; i < spec.size(); ++i) {
    char c = spec[i];
    if (c == '#') {
      alt = true;
    } else if (c == 'x' || c == 'X' || c == 'o' || c == 'b' || c == 'd') {
      type = c;
    }
  }
  unsigned base = type == 'x' || type == 'X' ? 16 : type == 'o' ? 8 : type == 'b' ? 2 : 10;
  std::string head;  // sign and prefix
  std::string body;
  auto prefix = [&] {
    if (alt && base == 16) head += "0x";
    if (alt && base == 8) head += "0o";
    if (alt && base == 2) head += "0b";
  };
  bool number = true;
  switch (a.kind) {
    case FormatArg::Kind::String:
      body = a.str;
      number = false;
      break;
    case FormatArg::Kind::Bool:
      body = a.u ? "true" : "false";
      number = false;
      break;
    case FormatArg::Kind::Errno:
      body = a.str;
      number = false;
      break;
    case FormatArg::Kind::Unsigned:
      prefix();
      append_unsigned(body, a.u, base, type == 'X');
      break;
    case FormatArg::Kind::Signed:
      if (base != 10) {
        prefix();
        append_unsigned(body, static_cast<u64>(a.s), base, type == 'X');
      } else if (a.s < 0) {
        head.push_back('-');
        append_unsigned(body, 0 - static_cast<u64>(a.s), 10, false);
      } else {
        append_unsigned(body, static_cast<u64>(a.s), 10, false);
      }
      break;
  }
  const usize len = head.size() + body.size();
  const usize pad = width > len ? width - len : 0;
  if (!number) {
    out += body;
    out.append(pad, ' ');
  } else if (zero) {
    out += head;
    out.append(pad, '0');
    out += body;
  } else {
    out.append(pad, ' ');
    out += head;
    out += body;
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
