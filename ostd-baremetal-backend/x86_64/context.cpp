// Kernel task contexts: a stack in the stack area (its pages are frames from ostd's frame
// allocator, the big pool, not the heap; an unmapped guard page below it) and a saved stack
// pointer; x86_switch (entry.S) saves and restores the
// callee-saved registers. Kernel code never touches the FPU, so there is no FPU state here.
#include <vector>

#include <ostd/internal.h>
#include <ostd/log.h>
#include <ostd/mm/frame.h>

#include "heap.h"
#include "x86.h"

extern "C" {
void x86_switch(ostd::u64* save_rsp, ostd::u64 new_rsp);
void x86_task_start();
}

namespace ostd::arch {

struct TaskContext {
  u64 rsp = 0;
  u64 stack_va = 0;  // lowest mapped byte (above the guard page)
  usize pages = 0;
  std::vector<Frame> frames;
};

namespace {
struct StackSlot {
  u64 va;
  usize pages;  // including the guard page
};
u64 g_next_stack_va = x86::kStackAreaBase;
std::vector<StackSlot>& free_slots() {
  static std::vector<StackSlot> s;
  return s;
}

u64 take_slot(usize pages) {
  auto& fs = free_slots();
  for (usize i = 0; i < fs.size(); ++i) {
    if (fs[i].pages == pages) {
      u64 va = fs[i].va;
      fs[i] = fs.back();
      fs.pop_back();
      return va;
    }
  }
  u64 va = g_next_stack_va;
  g_next_stack_va += pages * kPageSize;
  if (g_next_stack_va > x86::kStackAreaBase + x86::kStackAreaSize) panic("stack area exhausted");
  return va;
}
}  // namespace

void TaskContextDeleter::operator()(TaskContext* ctx) const {
  if (ctx->stack_va != 0) {
    for (usize i = 0; i < ctx->pages; ++i) x86::unmap_kernel_page(ctx->stack_va + i * kPageSize);
    irq::DisabledGuard g;
    free_slots().push_back({ctx->stack_va - kPageSize, ctx->pages + 1});
  }
  ctx->frames.clear();  // the frames go back once nothing maps them
  delete ctx;
}

Result<std::unique_ptr<TaskContext, TaskContextDeleter>> create_task_context(usize stack_size, void (*entry)()) {
  usize pages = page_align_up(stack_size) / kPageSize;
  std::unique_ptr<TaskContext, TaskContextDeleter> ctx(new TaskContext);
  ctx->frames.reserve(pages);
  for (usize i = 0; i < pages; ++i) {
    auto f = Frame::alloc_uninit();
    if (f.is_error()) return Errno::enomem;  // the deleter returns what was taken
    ctx->frames.push_back(f.release_value());
  }
  u64 slot = 0;
  {
    irq::DisabledGuard g;
    slot = take_slot(pages + 1);
  }
  ctx->stack_va = slot + kPageSize;
  ctx->pages = pages;
  for (usize i = 0; i < pages; ++i) {
    x86::map_kernel_page(ctx->stack_va + i * kPageSize, ctx->frames[i].paddr());
  }
  // Initial frame for x86_switch: r15 r14 r13 r12 rbx rbp, then the return address.
  // SAFETY: the `pages` (>= 1) pages below top were just mapped to this context's own frames,
  // so top[-1..-8] are 8-aligned slots no one else uses; x86_switch's ret goes to x86_task_start.
  auto* top = reinterpret_cast<u64*>(ctx->stack_va + pages * kPageSize);
  top[-1] = 0;
  top[-2] = reinterpret_cast<u64>(&x86_task_start);
  top[-3] = 0;  // rbp
  top[-4] = 0;  // rbx
  // SAFETY: a code address fits a u64; x86_switch pops it into r12 and x86_task_start calls it.
  top[-5] = reinterpret_cast<u64>(entry);  // r12
  top[-6] = 0;                             // r13
  top[-7] = 0;                             // r14
  top[-8] = 0;                             // r15
  // SAFETY: x86_switch pops r15..rbp from top[-8..-3], then rets to top[-2]; all mapped above.
  ctx->rsp = reinterpret_cast<u64>(&top[-8]);
  return ctx;
}

std::unique_ptr<TaskContext, TaskContextDeleter> create_boot_context() {
  return std::unique_ptr<TaskContext, TaskContextDeleter>(new TaskContext);
}

void switch_context(TaskContext& from, TaskContext& to, bool) { x86_switch(&from.rsp, to.rsp); }

}  // namespace ostd::arch
