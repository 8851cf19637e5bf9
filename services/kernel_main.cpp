#include "kernel_main.h"

#include <ostd/boot.h>
#include <ostd/log.h>
#include <ostd/mm/frame.h>
#include <ostd/user_mode.h>

#include "fs/cpio.h"
#include "process/elf_loader.h"
#include "process/process.h"
#include "syscall/dispatch.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::Vaddr;

namespace {

constexpr ostd::Logger kLog{"init"};
constexpr ostd::usize kStackPages = 64;  // 256 KiB, mapped up front until demand paging lands
constexpr int kSigsegv = 11, kSigill = 4, kSigfpe = 8, kSigtrap = 5, kSigbus = 7;

int signal_for(const ostd::CpuException& e) {
  switch (e.kind) {
    case ostd::ExceptionKind::InvalidOpcode: return kSigill;
    case ostd::ExceptionKind::DivideError:
    case ostd::ExceptionKind::FloatingPoint:
    case ostd::ExceptionKind::SimdFloatingPoint: return kSigfpe;
    case ostd::ExceptionKind::Breakpoint:
    case ostd::ExceptionKind::Debug: return kSigtrap;
    case ostd::ExceptionKind::AlignmentCheck: return kSigbus;
    default: return kSigsegv;
  }
}

Result<int> run_init() {
  const ostd::BootInfo& info = ostd::boot_info();
  if (info.init_argv.empty()) {
    kLog.error("no init program given");
    return Errno::einval;
  }
  auto entries = TRY(cpio::parse(info.initramfs));
  auto lookup = cpio::lookup(entries, info.init_argv[0]);
  if (lookup.is_error()) {
    kLog.error("cannot find {} in the initramfs: {}", info.init_argv[0], lookup.error());
    return lookup.error();
  }
  const cpio::Entry& file = *lookup.value();
  if ((file.mode & cpio::kTypeMask) != cpio::kTypeRegular) return Errno::eacces;

  Process p;
  p.vm = TRY(ostd::VmSpace::create());
  auto image = load_elf(*p.vm, file.data);
  if (image.is_error()) {
    kLog.error("cannot execute {}: {}", info.init_argv[0], image.error());
    return image.error();
  }
  p.brk_start = p.brk = image.value().brk_start;
  Vaddr stack_top = ostd::VmSpace::user_top() - ostd::kPageSize;
  for (ostd::usize i = 1; i <= kStackPages; ++i) {
    TRY(p.vm->map(stack_top - i * ostd::kPageSize, TRY(ostd::Frame::alloc()), ostd::PageFlags::RW));
  }
  ExecInfo exec{info.init_argv,
                {"HOME=/", "TERM=linux", "PATH=/sbin:/usr/sbin:/bin:/usr/bin"},
                image.value().entry,
                image.value().phdr,
                image.value().phent,
                image.value().phnum};
  Vaddr sp = TRY(build_initial_stack(*p.vm, stack_top, exec));

  ostd::UserContext ctx;
  ctx.set_instruction_pointer(image.value().entry);
  ctx.set_stack_pointer(sp);
  ctx.regs().rflags = 0x202;
  ostd::UserMode um = TRY(ostd::UserMode::create(p.vm, ctx));
  while (!p.exit_status) {
    ostd::ReturnReason rr = um.execute([] { return false; });
    switch (rr.kind) {
      case ostd::ReturnReason::Kind::Syscall: dispatch_syscall(p, um); break;
      case ostd::ReturnReason::Kind::KernelEvent: break;
      case ostd::ReturnReason::Kind::Exception: {
        int sig = signal_for(rr.exception);
        kLog.warn("init killed by signal {} (exception vector {} at {:#x}, address {:#x})", sig,
                  rr.exception.vector, um.context().instruction_pointer(),
                  rr.exception.address);
        p.exit_status = 128 + sig;
        break;
      }
    }
  }
  return *p.exit_status;
}

}  // namespace

int kernel_main() {
  auto r = run_init();
  if (r.is_error()) {
    // As a shell reports: 127 when the program is missing, 126 when it cannot run.
    return r.error() == Errno::enoent ? 127 : 126;
  }
  return r.value();
}

}  // namespace services
