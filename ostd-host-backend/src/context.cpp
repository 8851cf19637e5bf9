// Kernel task contexts: Boost.Context fcontext fibers on mmap'ed stacks with a guard page.
#include <sys/mman.h>

#include <array>

#include <boost/context/detail/fcontext.hpp>

#include <ostd/irq.h>

#include "host_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define OSTD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OSTD_ASAN 1
#endif
#endif

#ifdef OSTD_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace bctx = boost::context::detail;

namespace ostd::arch {

struct TaskContext {
  bctx::fcontext_t fctx = nullptr;
  void* map_base = nullptr;  // includes the guard page
  usize map_size = 0;
  const void* stack_bottom = nullptr;
  usize stack_size = 0;
  void (*entry)() = nullptr;
  void* fake_stack = nullptr;
};

namespace {
// Stacks of tasks that ended, kept for the next ones (a process's every thread is a task): a
// new mapping costs mmap, mprotect, munmap and a host page fault for each page the task
// touches. Kernel memory only, so reuse leaks nothing to guests.
struct FreeStack {
  void* base;
  usize size;
};
constexpr usize kMaxFreeStacks = 32;
std::array<FreeStack, kMaxFreeStacks> g_free_stacks{};
usize g_free_count = 0;
}  // namespace

void TaskContextDeleter::operator()(TaskContext* ctx) const {
  if (ctx->map_base != nullptr) {
#ifdef OSTD_ASAN
    // A task that never returned from its deeper frames leaves their redzones poisoned; a later
    // stack mapped here would inherit that shadow, and the signal frame the host kernel writes
    // below the stack pointer (the timer interrupt) would read as poisoned (found by the
    // syscalls fuzzer: a report inside pc_is_preemptible).
    __asan_unpoison_memory_region(ctx->map_base, ctx->map_size);
#endif
    bool kept = false;
    {
      irq::DisabledGuard g;
      if (g_free_count < kMaxFreeStacks) {
        g_free_stacks.at(g_free_count++) = {ctx->map_base, ctx->map_size};
        kept = true;
      }
    }
    if (!kept) munmap(ctx->map_base, ctx->map_size);
  }
  delete ctx;
}

namespace {

thread_local TaskContext* t_switch_to = nullptr;
thread_local u64 t_switches = 0;  // context switches on this host thread (the kernel's CPU)

void finish_switch(TaskContext& self, bctx::transfer_t t) {
  // SAFETY: t.data is the &from given to jump_fcontext: a live TaskContext (a dying task's
  // context is freed later, in after_switch).
  static_cast<TaskContext*>(t.data)->fctx = t.fctx;
#ifdef OSTD_ASAN
  const void* old_bottom = nullptr;
  usize old_size = 0;
  __sanitizer_finish_switch_fiber(self.fake_stack, &old_bottom, &old_size);
  // SAFETY: t.data is the switching-from TaskContext, as above.
  auto* from = static_cast<TaskContext*>(t.data);
  if (from->map_base == nullptr && from->stack_bottom == nullptr) {
    from->stack_bottom = old_bottom;  // the boot stack's bounds, learned on first switch
    from->stack_size = old_size;
  }
#else
  (void)self;
#endif
}

void fiber_main(bctx::transfer_t t) {
  TaskContext* self = t_switch_to;
  finish_switch(*self, t);
  self->entry();
  __builtin_trap();  // entry never returns (the task exits through the scheduler)
}

}  // namespace

Result<std::unique_ptr<TaskContext, TaskContextDeleter>> create_task_context(usize stack_size, void (*entry)()) {
#ifdef OSTD_ASAN
  stack_size *= 4;  // instrumented frames are much larger
#endif
  usize size = page_align_up(stack_size) + kPageSize;
  void* base = nullptr;
  {
    irq::DisabledGuard g;
    for (usize i = g_free_count; i-- > 0;) {
      if (g_free_stacks.at(i).size == size) {
        base = g_free_stacks.at(i).base;
        g_free_stacks.at(i) = g_free_stacks.at(--g_free_count);
        break;
      }
    }
  }
  if (base == nullptr) {
    base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return Errno::enomem;
    if (mprotect(base, kPageSize, PROT_NONE) != 0) {  // the guard page
      munmap(base, size);
      return Errno::enomem;
    }
  }
#ifdef OSTD_ASAN
  __asan_unpoison_memory_region(base, size);  // no stale shadow from an earlier mapping here
#endif
  std::unique_ptr<TaskContext, TaskContextDeleter> ctx(new TaskContext);
  ctx->map_base = base;
  ctx->map_size = size;
  // SAFETY: base is this context's own size-byte mapping: both pointers are inside or at its end.
  ctx->stack_bottom = static_cast<u8*>(base) + kPageSize;
  ctx->stack_size = size - kPageSize;
  ctx->entry = entry;
  ctx->fctx = bctx::make_fcontext(static_cast<u8*>(base) + size, size - kPageSize, fiber_main);
  return ctx;
}

std::unique_ptr<TaskContext, TaskContextDeleter> create_boot_context() {
  return std::unique_ptr<TaskContext, TaskContextDeleter>(new TaskContext);
}

void switch_context(TaskContext& from, TaskContext& to, bool from_dying) {
  ++t_switches;
  t_switch_to = &to;
#ifdef OSTD_ASAN
  __sanitizer_start_switch_fiber(from_dying ? nullptr : &from.fake_stack, to.stack_bottom, to.stack_size);
#else
  (void)from_dying;
#endif
  bctx::transfer_t t = bctx::jump_fcontext(to.fctx, &from);
  finish_switch(from, t);
}

}  // namespace ostd::arch

namespace ostd::host {
u64 context_switches() { return arch::t_switches; }
}  // namespace ostd::host
