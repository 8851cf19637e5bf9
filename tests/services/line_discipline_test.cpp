#include <gtest/gtest.h>

#include <string>

#include "device/line_discipline.h"

using services::LineDiscipline;
namespace tty = services::tty;

namespace {
std::string feed(LineDiscipline& ld, const std::string& s, int* sig = nullptr) {
  std::string echo;
  for (char c : s) {
    auto fx = ld.receive(static_cast<unsigned char>(c));
    echo += fx.echo;
    if (sig != nullptr && fx.signal != 0) *sig = fx.signal;
  }
  return echo;
}
std::string take(LineDiscipline& ld, size_t max = 100) {
  bool eof = false;
  auto v = ld.read(max, eof);
  return std::string(v.begin(), v.end());
}
}  // namespace

TEST(LineDiscipline, CanonicalLinesWithEchoAndErase) {
  LineDiscipline ld;
  EXPECT_EQ(feed(ld, "lx"), "lx");
  EXPECT_FALSE(ld.readable());
  EXPECT_EQ(feed(ld, "\x7f"), "\b \b");
  EXPECT_EQ(feed(ld, "s\r"), "s\n");  // ICRNL turns CR into NL
  ASSERT_TRUE(ld.readable());
  EXPECT_EQ(ld.available(), 3u);
  EXPECT_EQ(take(ld), "ls\n");
  EXPECT_FALSE(ld.readable());
}

TEST(LineDiscipline, PartialReadsKeepLineBoundaries) {
  LineDiscipline ld;
  feed(ld, "abc\ndef\n");
  EXPECT_EQ(take(ld, 2), "ab");
  EXPECT_EQ(take(ld), "c\n");
  EXPECT_EQ(take(ld), "def\n");
}

TEST(LineDiscipline, KillAndWordErase) {
  LineDiscipline ld;
  feed(ld, "one two\x17");  // ^W erases "two"
  feed(ld, "three\n");
  EXPECT_EQ(take(ld), "one three\n");
  feed(ld, "garbage\x15ok\n");  // ^U kills the line
  EXPECT_EQ(take(ld), "ok\n");
}

TEST(LineDiscipline, ControlDIsEndOfFileOnAnEmptyLine) {
  LineDiscipline ld;
  feed(ld, "abc\x04");  // pushes "abc" without a newline
  EXPECT_EQ(take(ld), "abc");
  feed(ld, "\x04");
  bool eof = false;
  auto v = ld.read(10, eof);
  EXPECT_TRUE(v.empty());
  EXPECT_TRUE(eof);
}

TEST(LineDiscipline, SignalCharactersFlushAndReport) {
  LineDiscipline ld;
  int sig = 0;
  EXPECT_EQ(feed(ld, "sleep 100\x03", &sig), "sleep 100^C");
  EXPECT_EQ(sig, 2);
  feed(ld, "\n");
  EXPECT_EQ(take(ld), "\n");
  sig = 0;
  feed(ld, "\x1a", &sig);
  EXPECT_EQ(sig, 20);
  sig = 0;
  feed(ld, "\x1c", &sig);
  EXPECT_EQ(sig, 3);
}

TEST(LineDiscipline, RawModeAndOutputProcessing) {
  LineDiscipline ld;
  EXPECT_EQ(ld.process_output("a\nb"), "a\r\nb");
  auto t = ld.termios();
  t.c_lflag &= ~(tty::kIcanon | tty::kEcho | tty::kIsig);
  t.c_oflag &= ~tty::kOpost;
  feed(ld, "part");
  ld.set_termios(t);
  EXPECT_TRUE(ld.readable());        // the partial line became raw input
  EXPECT_EQ(feed(ld, "\x03x"), "");  // no echo, ^C is data
  EXPECT_EQ(take(ld), "part\x03x");
  EXPECT_EQ(ld.process_output("a\nb"), "a\nb");
}

TEST(LineDiscipline, DefaultTermiosMatchesLinux) {
  auto t = tty::default_termios();
  EXPECT_EQ(t.c_iflag, 02400u);    // ICRNL | IXON (stty sane, minus what the host adds)
  EXPECT_EQ(t.c_oflag, 05u);       // OPOST | ONLCR
  EXPECT_EQ(t.c_lflag, 0105073u);  // ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN
  EXPECT_EQ(t.c_cc[tty::kVintr], 3);
  EXPECT_EQ(t.c_cc[tty::kVeof], 4);
  EXPECT_EQ(t.c_cc[tty::kVmin], 1);
}
