#include "syscall/strace.h"

#include <map>
#include <string_view>
#include <vector>

#include <ostd/boot.h>
#include <ostd/format.h>

#include "process/process.h"

#include <ostd/enforce.h>

namespace services {

namespace {

using S = x86_64::Sysno;

// Argument kinds: d int, u unsigned, x hex, s path string, p pointer, o octal, f fd.
const std::map<ostd::u64, std::string_view>& signatures() {
  static const std::map<ostd::u64, std::string_view> table = [] {
    std::map<ostd::u64, std::string_view> m;
    auto add = [&](S nr, std::string_view sig) { m[static_cast<ostd::u64>(nr)] = sig; };
    add(S::read, "fpu");
    add(S::write, "fpu");
    add(S::open, "sxo");
    add(S::openat, "fsxo");
    add(S::close, "f");
    add(S::stat, "sp");
    add(S::lstat, "sp");
    add(S::fstat, "fp");
    add(S::newfstatat, "fspx");
    add(S::statx, "fsxxp");
    add(S::lseek, "fdd");
    add(S::mmap, "puxxfx");
    add(S::mprotect, "pux");
    add(S::munmap, "pu");
    add(S::brk, "p");
    add(S::rt_sigaction, "dppu");
    add(S::rt_sigprocmask, "dppu");
    add(S::ioctl, "fxp");
    add(S::pread64, "fpud");
    add(S::pwrite64, "fpud");
    add(S::readv, "fpd");
    add(S::writev, "fpd");
    add(S::access, "so");
    add(S::pipe, "p");
    add(S::pipe2, "px");
    add(S::dup, "f");
    add(S::dup2, "ff");
    add(S::dup3, "ffx");
    add(S::getpid, "");
    add(S::clone, "xppppp");
    add(S::fork, "");
    add(S::vfork, "");
    add(S::execve, "spp");
    add(S::exit, "d");
    add(S::exit_group, "d");
    add(S::wait4, "dpxp");
    add(S::kill, "dd");
    add(S::uname, "p");
    add(S::fcntl, "fdx");
    add(S::getdents64, "fpu");
    add(S::getcwd, "pu");
    add(S::chdir, "s");
    add(S::rename, "ss");
    add(S::mkdir, "so");
    add(S::rmdir, "s");
    add(S::unlink, "s");
    add(S::unlinkat, "fsx");
    add(S::mkdirat, "fso");
    add(S::symlink, "ss");
    add(S::readlink, "spu");
    add(S::readlinkat, "fspu");
    add(S::chmod, "so");
    add(S::umask, "o");
    add(S::faccessat, "fso");
    add(S::faccessat2, "fsox");
    add(S::arch_prctl, "xp");
    add(S::set_tid_address, "p");
    add(S::set_robust_list, "pu");
    add(S::prlimit64, "ddpp");
    add(S::getrandom, "pux");
    add(S::nanosleep, "pp");
    add(S::clock_gettime, "dp");
    add(S::futex, "pdupxx");
    add(S::getppid, "");
    add(S::getuid, "");
    add(S::rt_sigreturn, "");
    add(S::prctl, "dxxxx");
    add(S::poll, "pud");
    add(S::setpgid, "dd");
    add(S::getpgid, "d");
    add(S::setsid, "");
    add(S::mremap, "puuxp");
    add(S::madvise, "pud");
    add(S::renameat, "fsfs");
    add(S::renameat2, "fsfsx");
    add(S::linkat, "fsfsx");
    add(S::symlinkat, "sfs");
    add(S::fchmodat, "fso");
    add(S::utimensat, "fspx");
    add(S::execveat, "fsppx");
    return m;
  }();
  return table;
}

}  // namespace

void init_strace() {
  std::string_view c = ostd::boot_info().cmdline;
  strace_flag() = false;
  for (std::size_t i = 0; i < c.size();) {
    std::size_t e = c.find(' ', i);
    if (e == std::string_view::npos) e = c.size();
    if (c.substr(i, e - i) == "strace") strace_flag() = true;
    i = e + 1;
  }
}

std::string strace_call(Thread& t, ostd::u64 nr, const SyscallArgs& args) {
  std::string out(x86_64::syscall_name(nr));
  if (out == "?") out = ostd::format("syscall_{}", nr);
  out += '(';
  auto it = signatures().find(nr);
  std::string_view sig = it == signatures().end() ? std::string_view("xxxxxx") : it->second;
  for (std::size_t i = 0; i < sig.size() && i < 6; ++i) {
    if (i > 0) out += ", ";
    ostd::u64 v = args[i];
    switch (sig[i]) {
      case 'd': out += ostd::format("{}", static_cast<ostd::i64>(v)); break;
      case 'f': {
        int fd = args.as_int(i);
        out += fd == -100 ? std::string("AT_FDCWD") : ostd::format("{}", fd);
        break;
      }
      case 'u': out += ostd::format("{}", v); break;
      case 'o': out += ostd::format("0{:o}", v); break;
      case 's': {
        auto s = t.vm().read_cstring(v, 256);
        out += s.is_ok() ? "\"" + s.value() + "\"" : ostd::format("{:#x}", v);
        break;
      }
      case 'p': out += v == 0 ? std::string("NULL") : ostd::format("{:#x}", v); break;
      default: out += ostd::format("{:#x}", v); break;
    }
  }
  out += ')';
  return out;
}

void strace_print(Thread& t, const std::string& call, const ostd::Result<long>& r) {
  std::string line = ostd::format("[pid {}] {} = ", t.tid(), call);
  if (r.is_ok()) {
    line += r.value() > 0xffff ? ostd::format("{:#x}", r.value()) : ostd::format("{}", r.value());
  } else {
    line += ostd::format("-1 {}", r.error());
  }
  line += '\n';
  std::vector<ostd::u8> bytes(line.begin(), line.end());
  (void)ostd::console::write(2, bytes);
}

}  // namespace services
