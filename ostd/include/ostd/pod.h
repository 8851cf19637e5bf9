// ostd/pod.h — Pod: the types whose every byte pattern is a valid value.
//
// Reading a value out of bytes that someone else chose (user memory, a disk image, a network
// frame, an ELF file) is safe only for such types: a bool that is neither 0 nor 1, an enum
// outside its range or a pointer made of user bytes would be undefined behaviour in safe code.
// The readers of ostd (load_from, writable_bytes_of, VmReader::read_val, UserPtr::read) take
// Pod types only (Asterinas's `Pod` trait, which its derive macro checks field by field).
//
// Pod types are: integers other than bool; arrays and std::arrays of Pod types; and structs
// that declare themselves Pod with OSTD_POD, naming all their fields, inside their definition
// (local structs too):
//
//     struct Timespec {
//       i64 tv_sec;
//       i64 tv_nsec;
//       OSTD_POD(Timespec, tv_sec, tv_nsec);
//     };
//
// OSTD_POD checks at compile time that the struct is trivially copyable, standard layout and
// without padding, that every named field is itself Pod, and that the named fields fill the
// struct to its last byte (so no field can be left out). bool, enums, pointers and
// floating-point types are never Pod; a struct holding one cannot be declared Pod.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

namespace ostd {

namespace pod_detail {

template <typename T>
struct StdArray : std::false_type {};
template <typename T, std::size_t N>
struct StdArray<std::array<T, N>> : std::true_type {
  using Element = T;
};

template <typename T>
consteval bool is_pod() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, bool>) {
    return false;
  } else if constexpr (std::is_integral_v<U>) {
    return true;
  } else if constexpr (std::is_bounded_array_v<U>) {
    return is_pod<std::remove_extent_t<U>>();
  } else if constexpr (StdArray<U>::value) {
    return is_pod<typename StdArray<U>::Element>() && std::has_unique_object_representations_v<U>;
  } else if constexpr (std::is_class_v<U>) {
    // A struct that declares itself Pod (OSTD_POD), not one that only inherits a declaration.
    if constexpr (requires { U::ostd_pod_fields(); }) {
      return std::is_same_v<typename U::OstdPodType, U> && U::ostd_pod_fields();
    } else {
      return false;
    }
  } else {
    return false;  // enums, pointers, floating point, unions
  }
}

// OSTD_POD's check: the named fields are Pod and fill T without a gap.
template <typename T, typename... M>
consteval bool fields_fill(M T::*... /*fields*/) {
  static_assert(std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T>,
                "OSTD_POD: the type must be trivially copyable and standard layout");
  static_assert(std::has_unique_object_representations_v<T>, "OSTD_POD: the type has padding");
  static_assert((is_pod<M>() && ...), "OSTD_POD: a field is not Pod (bool, enum, pointer, float?)");
  static_assert((sizeof(M) + ... + 0) == sizeof(T), "OSTD_POD: the fields named do not fill the type");
  return true;
}

}  // namespace pod_detail

/// A type whose every byte pattern is a valid value, without padding (see the top of this file).
template <typename T>
concept Pod = pod_detail::is_pod<T>();

static_assert(Pod<unsigned char> && Pod<const long> && Pod<int[3]> && Pod<std::array<unsigned short, 2>>);
static_assert(!Pod<bool> && !Pod<float> && !Pod<int*> && !Pod<std::byte> && !Pod<bool[2]> && !Pod<std::array<bool, 2>>);

}  // namespace ostd

// &Type::field for each field (up to 40).
#define OSTD_POD_M1(T, f) &T::f
#define OSTD_POD_M2(T, f, ...) &T::f, OSTD_POD_M1(T, __VA_ARGS__)
#define OSTD_POD_M3(T, f, ...) &T::f, OSTD_POD_M2(T, __VA_ARGS__)
#define OSTD_POD_M4(T, f, ...) &T::f, OSTD_POD_M3(T, __VA_ARGS__)
#define OSTD_POD_M5(T, f, ...) &T::f, OSTD_POD_M4(T, __VA_ARGS__)
#define OSTD_POD_M6(T, f, ...) &T::f, OSTD_POD_M5(T, __VA_ARGS__)
#define OSTD_POD_M7(T, f, ...) &T::f, OSTD_POD_M6(T, __VA_ARGS__)
#define OSTD_POD_M8(T, f, ...) &T::f, OSTD_POD_M7(T, __VA_ARGS__)
#define OSTD_POD_M9(T, f, ...) &T::f, OSTD_POD_M8(T, __VA_ARGS__)
#define OSTD_POD_M10(T, f, ...) &T::f, OSTD_POD_M9(T, __VA_ARGS__)
#define OSTD_POD_M11(T, f, ...) &T::f, OSTD_POD_M10(T, __VA_ARGS__)
#define OSTD_POD_M12(T, f, ...) &T::f, OSTD_POD_M11(T, __VA_ARGS__)
#define OSTD_POD_M13(T, f, ...) &T::f, OSTD_POD_M12(T, __VA_ARGS__)
#define OSTD_POD_M14(T, f, ...) &T::f, OSTD_POD_M13(T, __VA_ARGS__)
#define OSTD_POD_M15(T, f, ...) &T::f, OSTD_POD_M14(T, __VA_ARGS__)
#define OSTD_POD_M16(T, f, ...) &T::f, OSTD_POD_M15(T, __VA_ARGS__)
#define OSTD_POD_M17(T, f, ...) &T::f, OSTD_POD_M16(T, __VA_ARGS__)
#define OSTD_POD_M18(T, f, ...) &T::f, OSTD_POD_M17(T, __VA_ARGS__)
#define OSTD_POD_M19(T, f, ...) &T::f, OSTD_POD_M18(T, __VA_ARGS__)
#define OSTD_POD_M20(T, f, ...) &T::f, OSTD_POD_M19(T, __VA_ARGS__)
#define OSTD_POD_M21(T, f, ...) &T::f, OSTD_POD_M20(T, __VA_ARGS__)
#define OSTD_POD_M22(T, f, ...) &T::f, OSTD_POD_M21(T, __VA_ARGS__)
#define OSTD_POD_M23(T, f, ...) &T::f, OSTD_POD_M22(T, __VA_ARGS__)
#define OSTD_POD_M24(T, f, ...) &T::f, OSTD_POD_M23(T, __VA_ARGS__)
#define OSTD_POD_M25(T, f, ...) &T::f, OSTD_POD_M24(T, __VA_ARGS__)
#define OSTD_POD_M26(T, f, ...) &T::f, OSTD_POD_M25(T, __VA_ARGS__)
#define OSTD_POD_M27(T, f, ...) &T::f, OSTD_POD_M26(T, __VA_ARGS__)
#define OSTD_POD_M28(T, f, ...) &T::f, OSTD_POD_M27(T, __VA_ARGS__)
#define OSTD_POD_M29(T, f, ...) &T::f, OSTD_POD_M28(T, __VA_ARGS__)
#define OSTD_POD_M30(T, f, ...) &T::f, OSTD_POD_M29(T, __VA_ARGS__)
#define OSTD_POD_M31(T, f, ...) &T::f, OSTD_POD_M30(T, __VA_ARGS__)
#define OSTD_POD_M32(T, f, ...) &T::f, OSTD_POD_M31(T, __VA_ARGS__)
#define OSTD_POD_M33(T, f, ...) &T::f, OSTD_POD_M32(T, __VA_ARGS__)
#define OSTD_POD_M34(T, f, ...) &T::f, OSTD_POD_M33(T, __VA_ARGS__)
#define OSTD_POD_M35(T, f, ...) &T::f, OSTD_POD_M34(T, __VA_ARGS__)
#define OSTD_POD_M36(T, f, ...) &T::f, OSTD_POD_M35(T, __VA_ARGS__)
#define OSTD_POD_M37(T, f, ...) &T::f, OSTD_POD_M36(T, __VA_ARGS__)
#define OSTD_POD_M38(T, f, ...) &T::f, OSTD_POD_M37(T, __VA_ARGS__)
#define OSTD_POD_M39(T, f, ...) &T::f, OSTD_POD_M38(T, __VA_ARGS__)
#define OSTD_POD_M40(T, f, ...) &T::f, OSTD_POD_M39(T, __VA_ARGS__)
#define OSTD_POD_COUNT(...) \
  OSTD_POD_NTH(__VA_ARGS__, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, \
               18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define OSTD_POD_NTH(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, _19, _20, _21, \
                     _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, _33, _34, _35, _36, _37, _38, _39, _40, N, \
                     ...) \
  N
#define OSTD_POD_CAT(a, b) OSTD_POD_CAT2(a, b)
#define OSTD_POD_CAT2(a, b) a##b
#define OSTD_POD_MEMBERS(T, ...) OSTD_POD_CAT(OSTD_POD_M, OSTD_POD_COUNT(__VA_ARGS__))(T, __VA_ARGS__)

/// Declares the struct `Type` Pod, inside its definition; all its fields follow (see the top of
/// this file). The check runs where the struct is defined.
#define OSTD_POD(Type, ...) \
  using OstdPodType = Type; \
  static consteval bool ostd_pod_fields() { \
    return ::ostd::pod_detail::fields_fill<Type>(OSTD_POD_MEMBERS(Type, __VA_ARGS__)); \
  } \
  static_assert(true)
