// The C and C++ runtime the kernel needs from a hosted toolchain, on the kernel heap:
// operator new/delete, the C string functions the compiler emits calls to, function-local
// static guards, and libstdc++'s throw hooks turned into panics (the kernel has no exceptions).
#include <cstddef>
#include <cstring>
#include <new>

#include <ostd/internal.h>
#include <ostd/irq.h>
#include <ostd/log.h>

#include "heap.h"

using ostd::usize;

namespace {
void* must_alloc(usize size, usize align) {
  void* p = ostd::x86::heap_alloc(size, align);
  if (p == nullptr) ostd::panic("out of kernel heap memory ({} bytes)", size);
  return p;
}
}  // namespace

void* operator new(usize size) { return must_alloc(size, 16); }
void* operator new[](usize size) { return must_alloc(size, 16); }
void* operator new(usize size, std::align_val_t a) { return must_alloc(size, static_cast<usize>(a)); }
void* operator new[](usize size, std::align_val_t a) { return must_alloc(size, static_cast<usize>(a)); }
void* operator new(usize size, const std::nothrow_t&) noexcept { return ostd::x86::heap_alloc(size, 16); }
void* operator new[](usize size, const std::nothrow_t&) noexcept { return ostd::x86::heap_alloc(size, 16); }
void operator delete(void* p) noexcept { ostd::x86::heap_free(p); }
void operator delete[](void* p) noexcept { ostd::x86::heap_free(p); }
void operator delete(void* p, usize) noexcept { ostd::x86::heap_free(p); }
void operator delete[](void* p, usize) noexcept { ostd::x86::heap_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { ostd::x86::heap_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { ostd::x86::heap_free(p); }
void operator delete(void* p, usize, std::align_val_t) noexcept { ostd::x86::heap_free(p); }
void operator delete[](void* p, usize, std::align_val_t) noexcept { ostd::x86::heap_free(p); }

extern "C" {

void* malloc(usize size) { return ostd::x86::heap_alloc(size, 16); }
void free(void* p) { ostd::x86::heap_free(p); }
void* calloc(usize n, usize size) {
  usize total = 0;
  if (__builtin_mul_overflow(n, size, &total)) return nullptr;
  void* p = malloc(total);
  // SAFETY: p is a fresh block of at least total bytes (the product did not overflow).
  if (p != nullptr) memset(p, 0, total);
  return p;
}
void* realloc(void* old, usize size) {
  if (old == nullptr) return malloc(size);
  usize have = ostd::x86::heap_usable_size(old);
  if (size <= have) return old;
  void* p = malloc(size);
  if (p == nullptr) return nullptr;
  // SAFETY: have = old's usable size < size <= p's size; a fresh block cannot overlap old.
  memcpy(p, old, have);
  free(old);
  return p;
}

// The compiler may turn loops into calls to these, so they must not be compiled into calls to
// themselves: plain byte loops with the loop-idiom recognition turned off.
#pragma GCC push_options
#pragma GCC optimize("no-tree-loop-distribute-patterns")
// Eight bytes per step, then the tail: QEMU's TCG runs a rep-string instruction one element at
// a time, so a page takes 512 steps instead of 4096.
// SAFETY: defines memcpy; callers provide n valid bytes at dst and src, not overlapping
// (memmove below relies on the exact forward order when dst < src).
void* memcpy(void* __restrict dst, const void* __restrict src, usize n) {
  void* d = dst;
  usize q = n / 8;
  usize tail = n % 8;
  // SAFETY: rdi/rsi/rcx are in-out operands, tail another register; DF is 0 (the ABI;
  // every kernel entry must clear it); "memory" covers the n bytes stored at dst and read from src.
  asm volatile("rep movsq\n\tmovq %3, %%rcx\n\trep movsb" : "+D"(d), "+S"(src), "+c"(q) : "r"(tail) : "memory");
  return dst;
}
// SAFETY: defines memmove; callers provide n valid bytes at dst and src, which may
// overlap; the casts only view the same bytes as unsigned char.
void* memmove(void* dst, const void* src, usize n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (d == s || n == 0) return dst;
  if (d < s || d >= s + n) {
    // Forward in eight-byte steps is safe here: each step's store ends at or before the next
    // step's load when d < s.
    // SAFETY: disjoint, or d < s where memcpy's forward order reads each byte before it is
    // overwritten; memcpy's body is asm, so its __restrict enables no optimisation here.
    return memcpy(dst, src, n);
  } else {
    for (usize i = n; i > 0; --i) d[i - 1] = s[i - 1];
  }
  return dst;
}
// SAFETY: defines memset; callers provide n writable bytes at dst.
void* memset(void* dst, int c, usize n) {
  void* d = dst;
  usize q = n / 8;
  usize tail = n % 8;
  unsigned long long pattern = 0x0101010101010101ull * static_cast<unsigned char>(c);
  // SAFETY: rdi/rcx/rax are in-out operands, tail another register; DF is 0 (the ABI;
  // every kernel entry must clear it); "memory" covers the n bytes stored at dst.
  asm volatile("rep stosq\n\tmovq %3, %%rcx\n\trep stosb" : "+D"(d), "+c"(q), "+a"(pattern) : "r"(tail) : "memory");
  return dst;
}
// SAFETY: defines memcmp; callers provide n readable bytes at a and b, read only,
// viewed as unsigned char.
int memcmp(const void* a, const void* b, usize n) {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (usize i = 0; i < n; ++i) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}
usize strlen(const char* s) {
  usize n = 0;
  while (s[n] != 0) ++n;
  return n;
}
int strcmp(const char* a, const char* b) {
  while (*a != 0 && *a == *b) {
    ++a;
    ++b;
  }
  return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}
#pragma GCC pop_options

// Function-local statics: one CPU, so a guard is a byte; no preemption inside an initializer
// (a task preempted there would let another task see a half-built object).
int __cxa_guard_acquire(unsigned long long* g) {
  // SAFETY: g is the compiler's 64-bit guard; byte 0 is the Itanium ABI "initialized" flag.
  if (*reinterpret_cast<volatile unsigned char*>(g) != 0) return 0;
  ++ostd::arch::cpu_local().preempt_count;
  return 1;
}
void __cxa_guard_release(unsigned long long* g) {
  // SAFETY: g is the compiler's 64-bit guard; setting byte 0 marks the static initialized.
  *reinterpret_cast<volatile unsigned char*>(g) = 1;
  --ostd::arch::cpu_local().preempt_count;
}
void __cxa_guard_abort(unsigned long long*) { --ostd::arch::cpu_local().preempt_count; }

// Static destructors never run: the kernel does not exit, it powers off.
int __cxa_atexit(void (*)(void*), void*, void*) { return 0; }
void* __dso_handle = nullptr;

void __cxa_pure_virtual() { ostd::panic("pure virtual function called"); }
[[noreturn]] void abort() { ostd::panic("abort() called"); }
void __stack_chk_fail() { ostd::panic("stack smashing detected"); }

}  // extern "C"

namespace std {
[[noreturn]] void __throw_bad_alloc() { ostd::panic("std::bad_alloc"); }
[[noreturn]] void __throw_bad_array_new_length() { ostd::panic("std::bad_array_new_length"); }
[[noreturn]] void __throw_length_error(const char* s) { ostd::panic("std::length_error: {}", std::string_view(s)); }
[[noreturn]] void __throw_out_of_range(const char* s) { ostd::panic("std::out_of_range: {}", std::string_view(s)); }
[[noreturn]] void __throw_out_of_range_fmt(const char* s, ...) {
  ostd::panic("std::out_of_range: {}", std::string_view(s));
}
[[noreturn]] void __throw_logic_error(const char* s) { ostd::panic("std::logic_error: {}", std::string_view(s)); }
[[noreturn]] void __throw_invalid_argument(const char* s) {
  ostd::panic("std::invalid_argument: {}", std::string_view(s));
}
[[noreturn]] void __throw_bad_function_call() { ostd::panic("std::bad_function_call"); }
[[noreturn]] void __throw_bad_variant_access(const char* s) {
  ostd::panic("std::bad_variant_access: {}", std::string_view(s));
}
[[noreturn]] void __throw_system_error(int e) { ostd::panic("std::system_error {}", e); }
// __glibcxx_assert_fail (the _GLIBCXX_ASSERTIONS hook) is ostd's, in ostd/src/log.cpp.
}  // namespace std

// std::map / std::set rebalancing (rbtree_impl.h) and make_shared's tag check.
#include "rbtree_impl.h"

namespace std {
_Rb_tree_node_base* _Rb_tree_increment(_Rb_tree_node_base* x) noexcept { return ostd::x86::rb::increment(x); }
const _Rb_tree_node_base* _Rb_tree_increment(const _Rb_tree_node_base* x) noexcept {
  // SAFETY: rb::increment only reads the node links; the result is returned as const.
  return ostd::x86::rb::increment(const_cast<_Rb_tree_node_base*>(x));
}
_Rb_tree_node_base* _Rb_tree_decrement(_Rb_tree_node_base* x) noexcept { return ostd::x86::rb::decrement(x); }
const _Rb_tree_node_base* _Rb_tree_decrement(const _Rb_tree_node_base* x) noexcept {
  // SAFETY: rb::decrement only reads the node links; the result is returned as const.
  return ostd::x86::rb::decrement(const_cast<_Rb_tree_node_base*>(x));
}
void _Rb_tree_insert_and_rebalance(const bool insert_left, _Rb_tree_node_base* x, _Rb_tree_node_base* p,
                                   _Rb_tree_node_base& header) noexcept {
  ostd::x86::rb::insert_and_rebalance(insert_left, x, p, header);
}
_Rb_tree_node_base* _Rb_tree_rebalance_for_erase(_Rb_tree_node_base* const z, _Rb_tree_node_base& header) noexcept {
  return ostd::x86::rb::rebalance_for_erase(z, header);
}
// No RTTI in the kernel: the only type_info make_shared ever compares is its own tag's.
bool _Sp_make_shared_tag::_S_eq(const type_info&) noexcept { return false; }
}  // namespace std
