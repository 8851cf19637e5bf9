// A GoogleTest-compatible subset for the bare-metal test kernel (ktest): TEST, EXPECT_* and
// ASSERT_* with streamed messages, so tests/unit/ostd/*.cpp compile unchanged into a kernel
// image that QEMU boots (tests/ktest/main.cpp runs them). No exceptions, no iostreams.
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>

#include <ostd/format.h>

namespace ktest {

using TestFn = void (*)();
void register_test(const char* suite, const char* name, TestFn fn);
void report_failure(const char* file, int line, const std::string& text);

struct Registrar {
  Registrar(const char* suite, const char* name, TestFn fn) { register_test(suite, name, fn); }
};

/// A value in a failure message: integers, enums, strings and pointers print; others do not.
template <typename T>
std::string describe(const T& v) {
  using D = std::decay_t<T>;
  if constexpr (std::is_same_v<D, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_enum_v<D>) {
    return ostd::format("{}", static_cast<long long>(v));
  } else if constexpr (std::is_integral_v<D>) {
    if constexpr (std::is_signed_v<D>) {
      return ostd::format("{}", static_cast<long long>(v));
    } else {
      return ostd::format("{}", static_cast<unsigned long long>(v));
    }
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return "\"" + std::string(std::string_view(v)) + "\"";
  } else if constexpr (std::is_pointer_v<D>) {
    return ostd::format("{:#x}", reinterpret_cast<unsigned long long>(v));
  } else {
    return "(value)";
  }
}

class Message {
 public:
  template <typename T>
  Message& operator<<(const T& v) {
    if constexpr (std::is_function_v<std::remove_pointer_t<T>>) {
      // stream manipulators such as std::hex: nothing to print
    } else {
      text_ += describe(v);
    }
    return *this;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

class Failure {
 public:
  Failure(const char* file, int line, std::string what) : file_(file), line_(line), what_(std::move(what)) {}
  void operator=(const Message& m) const {
    report_failure(file_, line_, m.text().empty() ? what_ : what_ + ": " + m.text());
  }

 private:
  const char* file_;
  int line_;
  std::string what_;
};

struct CmpResult {
  bool ok;
  std::string text;
};
template <typename A, typename B, typename Op>
CmpResult compare(const char* expr, const A& a, const B& b, Op op) {
  if (op(a, b)) return {true, {}};
  return {false, std::string(expr) + " (" + describe(a) + " vs " + describe(b) + ")"};
}

}  // namespace ktest

#define KTEST_CHECK_(cond, text, on_failure) \
  if (cond) \
    ; \
  else on_failure ::ktest::Failure(__FILE__, __LINE__, text) = ::ktest::Message()

#define KTEST_CMP_(a, op, b, on_failure) \
  if (const ::ktest::CmpResult ktest_r_ = \
          ::ktest::compare(#a " " #op " " #b, (a), (b), [](const auto& x, const auto& y) { return x op y; }); \
      ktest_r_.ok) \
    ; \
  else on_failure ::ktest::Failure(__FILE__, __LINE__, ktest_r_.text) = ::ktest::Message()

#define EXPECT_TRUE(c) KTEST_CHECK_(static_cast<bool>(c), "expected true: " #c, )
#define EXPECT_FALSE(c) KTEST_CHECK_(!static_cast<bool>(c), "expected false: " #c, )
#define ASSERT_TRUE(c) KTEST_CHECK_(static_cast<bool>(c), "expected true: " #c, return )
#define ASSERT_FALSE(c) KTEST_CHECK_(!static_cast<bool>(c), "expected false: " #c, return )
#define EXPECT_EQ(a, b) KTEST_CMP_(a, ==, b, )
#define EXPECT_NE(a, b) KTEST_CMP_(a, !=, b, )
#define EXPECT_LT(a, b) KTEST_CMP_(a, <, b, )
#define EXPECT_LE(a, b) KTEST_CMP_(a, <=, b, )
#define EXPECT_GT(a, b) KTEST_CMP_(a, >, b, )
#define EXPECT_GE(a, b) KTEST_CMP_(a, >=, b, )
#define ASSERT_EQ(a, b) KTEST_CMP_(a, ==, b, return )
#define ASSERT_NE(a, b) KTEST_CMP_(a, !=, b, return )
#define ASSERT_LT(a, b) KTEST_CMP_(a, <, b, return )
#define ASSERT_LE(a, b) KTEST_CMP_(a, <=, b, return )
#define ASSERT_GT(a, b) KTEST_CMP_(a, >, b, return )
#define ASSERT_GE(a, b) KTEST_CMP_(a, >=, b, return )

#define TEST(suite, name) \
  static void ktest_##suite##_##name(); \
  static const ::ktest::Registrar ktest_registrar_##suite##_##name(#suite, #name, &ktest_##suite##_##name); \
  static void ktest_##suite##_##name()
