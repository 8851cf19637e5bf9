// Function-local statics and fibers. GCC guards a function-local static's first initialization
// with __cxa_guard_acquire/release. All tasks of a vCPU are fibers of one host thread, so if a
// task were preempted inside an initializer and another task reached the same static, the C++
// runtime would see a recursive initialization (recursive_init_error, an abort) or wait on
// itself forever. The linker wraps the guard functions (ostd-host-backend/CMakeLists.txt) so
// that a task is never preempted while it initializes a static: initializers run to completion
// before any other task can get there. (A voluntary block inside an initializer would still be
// a bug; none of ours block.)
#include <ostd/arch/backend.h>

extern "C" {
int __real___cxa_guard_acquire(long long* guard);   // NOLINT
void __real___cxa_guard_release(long long* guard);  // NOLINT
void __real___cxa_guard_abort(long long* guard);    // NOLINT

int __wrap___cxa_guard_acquire(long long* guard) {  // NOLINT
  ++ostd::arch::cpu_local().preempt_count;
  int must_init = __real___cxa_guard_acquire(guard);
  if (must_init == 0) --ostd::arch::cpu_local().preempt_count;
  return must_init;
}

void __wrap___cxa_guard_release(long long* guard) {  // NOLINT
  __real___cxa_guard_release(guard);
  --ostd::arch::cpu_local().preempt_count;
}

void __wrap___cxa_guard_abort(long long* guard) {  // NOLINT
  __real___cxa_guard_abort(guard);
  --ostd::arch::cpu_local().preempt_count;
}
}
