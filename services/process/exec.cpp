// execve and execveat: replace the program of the calling process.
#include <algorithm>
#include <optional>
#include <utility>

#include <ostd/boot.h>
#include <ostd/log.h>
#include <ostd/mm/io.h>

#include "fs/file.h"
#include "fs/vfs.h"
#include "process/elf_loader.h"
#include "process/initial_stack.h"
#include "vm/vdso.h"
#include "process/internal.h"
#include "process/ptrace.h"
#include "syscall/table.h"
#include "vm/memory_map.h"
#include "vm/shared_pages.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u64;
using ostd::Vaddr;

namespace {

constexpr ostd::Logger kLog{"exec"};
constexpr u64 kStackSize = u64{8} << 20;
constexpr ostd::usize kMaxArgStrlen = 131072;   // MAX_ARG_STRLEN
constexpr ostd::usize kMaxArgTotal = 2u << 20;  // a quarter of the 8 MiB stack limit
constexpr ostd::usize kMaxInterpDepth = 4;
// ELF_ET_DYN_BASE: two thirds of the 47-bit user range, where Linux puts a PIE.
constexpr Vaddr kPieBase = 0x555555554000ull;

struct Program {
  std::string path;
  std::string execfn;           // the path execve was given (AT_EXECFN), before any #! interpreter
  std::vector<ostd::u8> bytes;  // the whole file, or only its head when `cache` is set
  std::vector<std::string> argv;
  std::string resolved;                // the file's path with symlinks resolved (/proc/<pid>/exe)
  std::shared_ptr<SharedPages> cache;  // the file's page cache: segments are mapped from it
  u64 file_size = 0;
  u64 dev = 0, ino = 0;                  // the file's identity (/proc/PID/maps)
  ostd::u32 mode = 0, uid = 0, gid = 0;  // for set-user-ID and set-group-ID
  bool nosuid = false;                   // on a nosuid mount: its set-user-ID and set-group-ID bits mean nothing
  std::shared_ptr<Program> interp;       // PT_INTERP's program (the dynamic loader), if any
};

// The first bytes of a file (headers, program headers, a #! line) without reading all of it.
constexpr ostd::usize kHeadBytes = 16384;

Result<std::vector<ostd::u8>> read_head(const std::shared_ptr<Dentry>& d, ostd::usize max) {
  std::vector<ostd::u8> out(static_cast<ostd::usize>(std::min<u64>(d->inode()->size(), max)));
  auto w = ostd::VmWriter::from_kernel(out);
  ostd::usize n = TRY(d->inode()->read_at(0, w));
  out.resize(n);
  return out;
}

// The file at `path` as a program: an executable regular file, its head (or, without a page
// cache, all of it).
// `file`: the program already found (execveat of a descriptor), else `path` is looked up.
Result<Program> open_program(FsContext& fs, const Process& caller, const std::string& path,
                             std::shared_ptr<Dentry> file = nullptr) {
  auto dentry = file ? std::move(file) : TRY(walk(PathLookup{fs, nullptr, &caller}, path, true));
  ostd::u32 mode = dentry_mode(dentry);
  if ((mode & abi::kSIfmt) != abi::kSIfreg || (mode & 0111) == 0) return Errno::eacces;
  // Nothing on a noexec mount runs, whoever asks (may_open's path_noexec).
  if (dentry->mount_has(mnt::kNoexec)) return Errno::eacces;
  TRY(inode_permission(caller.creds, *dentry->inode(), kMayExec));
  auto cache = dentry->inode()->page_cache();
  u64 size = dentry->inode()->size();
  std::vector<ostd::u8> bytes = cache ? TRY(read_head(dentry, kHeadBytes)) : TRY(read_entire_file(dentry));
  if (!cache) size = bytes.size();
  Program p;
  p.path = path;
  p.bytes = std::move(bytes);
  p.resolved = dentry->path();
  p.cache = std::move(cache);
  p.file_size = size;
  abi::Stat st = dentry->inode()->stat();
  p.dev = st.st_dev;
  p.ino = st.st_ino;
  p.mode = st.st_mode;
  p.uid = st.st_uid;
  p.gid = st.st_gid;
  p.nosuid = dentry->mount_has(mnt::kNosuid);
  return p;
}

// A dynamic program's interpreter (PT_INTERP): ENOENT and EACCES as for the program; ELIBBAD when
// it is not an x86-64 ELF file or wants an interpreter itself; ENOEXEC when it is malformed.
Result<std::shared_ptr<Program>> open_interpreter(FsContext& fs, const Process& caller, const std::string& path) {
  Program in = TRY(open_program(fs, caller, path));
  if (!is_x86_64_elf(in.bytes)) return Errno::elibbad;
  LoadedImage li = TRY(parse_elf(in.bytes, in.file_size));
  if (!li.interpreter.empty()) return Errno::elibbad;
  return std::make_shared<Program>(std::move(in));
}

// Finds the program, following #! interpreters (at most 4 deep), and a dynamic program's loader.
// `file`: the program itself when execveat named it by a descriptor (`path` is then /dev/fd/N).
Result<Program> find_program(FsContext& fs, const Process& caller, std::string path, std::vector<std::string> argv,
                             std::shared_ptr<Dentry> file = nullptr) {
  const std::string execfn = path;
  for (ostd::usize depth = 0; depth <= kMaxInterpDepth; ++depth) {
    // The caller matters for /proc/self/... (busybox and others exec /proc/self/exe).
    Program prog = TRY(open_program(fs, caller, path, std::exchange(file, nullptr)));
    const std::vector<ostd::u8>& bytes = prog.bytes;
    if (bytes.size() >= 2 && bytes[0] == '#' && bytes[1] == '!') {
      std::string line;
      for (ostd::usize i = 2; i < bytes.size() && i < 258 && bytes[i] != '\n'; ++i) {
        line.push_back(static_cast<char>(bytes[i]));
      }
      auto is_space = [](char c) { return c == ' ' || c == '\t'; };
      auto b = std::find_if_not(line.begin(), line.end(), is_space);
      auto e = std::find_if(b, line.end(), is_space);
      std::string interp(b, e);
      if (interp.empty()) return Errno::enoexec;
      std::string arg(std::find_if_not(e, line.end(), is_space), line.end());
      while (!arg.empty() && is_space(arg.back())) arg.pop_back();
      std::vector<std::string> next{interp};
      if (!arg.empty()) next.push_back(arg);
      next.push_back(path);
      for (ostd::usize i = 1; i < argv.size(); ++i) next.push_back(argv[i]);
      argv = std::move(next);
      path = interp;
      continue;
    }
    prog.argv = std::move(argv);
    prog.execfn = execfn;
    LoadedImage li = TRY(parse_elf(prog.bytes, prog.file_size));
    if (!li.interpreter.empty()) prog.interp = TRY(open_interpreter(fs, caller, li.interpreter));
    return prog;
  }
  return Errno::eloop;
}

ostd::u32 prot_of(ostd::PageFlags f) {
  return (ostd::has(f, ostd::PageFlags::R) ? kProtRead : 0u) | (ostd::has(f, ostd::PageFlags::W) ? kProtWrite : 0u) |
         (ostd::has(f, ostd::PageFlags::X) ? kProtExec : 0u);
}

// Segments can be mapped from the page cache when no two of them share a page.
bool can_map_lazily(const LoadedImage& li) {
  for (ostd::usize i = 0; i < li.segments.size(); ++i) {
    for (ostd::usize j = i + 1; j < li.segments.size(); ++j) {
      const auto& a = li.segments[i];
      const auto& b = li.segments[j];
      if (a.start < b.end && b.start < a.end) return false;
    }
  }
  return true;
}

Result<std::vector<ostd::u8>> read_whole_cache(const Program& prog) {
  std::vector<ostd::u8> all(static_cast<ostd::usize>(prog.file_size));
  for (ostd::usize off = 0; off < all.size(); off += ostd::kPageSize) {
    auto f = prog.cache->find(off / ostd::kPageSize);
    if (!f) continue;
    ostd::usize n = std::min<ostd::usize>(ostd::kPageSize, all.size() - off);
    TRY(f->read_bytes(0, std::span<ostd::u8>(all).subspan(off, n)));
  }
  return all;
}

// Maps each PT_LOAD segment as a private mapping of the file's pages (faulted in on demand,
// copied on write, as ld.so does with mmap), the page where the file bytes end with its tail
// zeroed, and the rest (.bss) as anonymous memory.
Result<void> map_segments_lazily(MemoryMap& mm, const LoadedImage& li, const Program& prog) {
  const std::shared_ptr<SharedPages>& cache = prog.cache;
  for (const LoadedSegment& s : li.segments) {
    ostd::u32 prot = prot_of(s.flags);
    Vaddr file_end = s.vaddr + s.filesz;
    Vaddr file_pages_end = std::min(ostd::page_align_up(file_end), s.end);
    if (s.filesz > 0 && file_pages_end > s.start) {
      u64 off = s.offset - (s.vaddr - s.start);
      TRY(mm.map(s.start, file_pages_end - s.start, prot, kMapPrivate | kMapFixed, nullptr, off, prog.resolved, cache));
      mm.set_file_identity(s.start, file_pages_end - s.start, prog.dev, prog.ino);
      // Map the file's pages now, read-only (writes copy them): a page fault costs far more
      // than a mapping made in a batch, and a program touches much of its text at start.
      ostd::PageFlags ro = ostd::PageFlags::None;
      if (ostd::has(s.flags, ostd::PageFlags::R)) ro = ro | ostd::PageFlags::R;
      if (ostd::has(s.flags, ostd::PageFlags::X)) ro = ro | ostd::PageFlags::X;
      for (Vaddr page = s.start; page < file_pages_end; page += ostd::kPageSize) {
        if (auto f = cache->find((off + (page - s.start)) / ostd::kPageSize)) TRY(mm.vm().map(page, *f, ro));
      }
      if (!ostd::is_page_aligned(file_end) && s.end > file_end) {
        // The last file page continues with .bss: a private copy with the tail zeroed.
        Vaddr page = ostd::page_align_down(file_end);
        ostd::Frame copy = TRY(ostd::Frame::alloc());
        if (auto src = cache->find((off + (page - s.start)) / ostd::kPageSize)) {
          std::vector<ostd::u8> bytes(file_end - page);
          TRY(src->read_bytes(0, bytes));
          TRY(copy.write_bytes(0, bytes));
        }
        TRY(mm.vm().map(page, copy, s.flags));
      }
    }
    if (s.end > file_pages_end) {
      Vaddr from = std::max(file_pages_end, s.start);
      // Anonymous, as Linux's (unnamed in /proc/PID/maps).
      TRY(mm.map(from, s.end - from, prot, kMapPrivate | kMapAnonymous | kMapFixed, nullptr, 0));
    }
  }
  return {};
}

struct NewImage {
  std::shared_ptr<ostd::VmSpace> vm;
  std::shared_ptr<MemoryMap> mm;
  ostd::UserContext ctx;
};

// Maps one ELF file's segments into the new image: from its page cache when it has one and no
// two segments share a page, else copied. An ET_DYN file is placed at `dyn_bias`.
Result<LoadedImage> map_elf(NewImage& img, const Program& prog, std::optional<Vaddr> dyn_bias) {
  LoadedImage li;
  bool lazy = false;
  if (prog.cache) {
    li = TRY(parse_elf(prog.bytes, prog.file_size, dyn_bias));
    lazy = can_map_lazily(li);
  }
  if (lazy) {
    TRY(map_segments_lazily(*img.mm, li, prog));
    return li;
  }
  if (prog.cache) {
    // Overlapping segments: load eagerly from the whole file.
    std::vector<ostd::u8> all = TRY(read_whole_cache(prog));
    li = TRY(load_elf(*img.vm, all, dyn_bias));
  } else {
    li = TRY(load_elf(*img.vm, prog.bytes, dyn_bias));
  }
  for (const LoadedSegment& s : li.segments) {
    Vma v;
    v.start = s.start;
    v.end = s.end;
    v.prot = prot_of(s.flags);
    v.flags = kMapPrivate;
    v.name = prog.resolved;
    v.dev = prog.dev;
    v.ino = prog.ino;
    v.file_offset = s.offset - (s.vaddr - s.start);
    img.mm->add_area(v);
  }
  return li;
}

Vaddr lowest_page(const LoadedImage& li) {
  Vaddr lo = ~Vaddr{0};
  for (const LoadedSegment& s : li.segments) lo = std::min(lo, s.start);
  return lo;
}
Vaddr highest_page(const LoadedImage& li) {
  Vaddr hi = 0;
  for (const LoadedSegment& s : li.segments) hi = std::max(hi, s.end);
  return hi;
}

// Maps the dynamic loader right below the mmap base, as Linux does (later mappings go below it),
// and returns it as loaded (its bias is AT_BASE, its entry the first instruction run).
Result<LoadedImage> map_interpreter(NewImage& img, const Program& interp, const LoadedImage& prog_li) {
  std::optional<Vaddr> bias;
  LoadedImage probe = TRY(parse_elf(interp.bytes, interp.file_size));
  if (probe.dynamic) {
    u64 span = highest_page(probe) - lowest_page(probe);
    Vaddr top = img.mm->mmap_base();
    if (span > top - ostd::VmSpace::user_base()) return Errno::enomem;
    Vaddr start = ostd::page_align_down(top - span);
    bias = start - probe.lowest;
  }
  LoadedImage li = TRY(parse_elf(interp.bytes, interp.file_size, bias));
  // Neither may land on the other (a fixed-address loader over a fixed-address program).
  if (lowest_page(li) < highest_page(prog_li) && lowest_page(prog_li) < highest_page(li)) {
    return Errno::enomem;
  }
  li = TRY(map_elf(img, interp, bias));
  if (li.dynamic) img.mm->set_mmap_base(lowest_page(li));
  return li;
}

// Where a new image's parts go (Linux's x86-64 layout: arch/x86/mm/mmap.c, fs/binfmt_elf.c).
struct Layout {
  Vaddr stack_top;
  Vaddr mmap_base;  // mappings (the dynamic loader first) go down from here
  Vaddr pie_base;   // where an ET_DYN program's lowest page goes
  u64 brk_offset;   // the heap starts this far above the program's end
};

Layout choose_layout(bool randomize) {
  constexpr u64 kStackRandomMax = u64{16} << 30;  // STACK_RND_MASK: 22 bits of pages
  constexpr u64 kMmapRandomMax = u64{1} << 40;    // mmap_rnd_bits 28: 28 bits of pages
  constexpr u64 kBrkRandomMax = u64{32} << 20;    // arch_randomize_brk: 32 MiB
  constexpr u64 kGuardGap = u64{1} << 20;         // stack_guard_gap: 256 pages
  auto pages_below = [](u64 max) { return (next_random() % (max / ostd::kPageSize)) * ostd::kPageSize; };
  const Vaddr top = ostd::VmSpace::user_top();
  Layout l{};
  l.stack_top = top - (randomize ? pages_below(kStackRandomMax) : 0);
  // The gap below the top keeps room for the stack to grow to its limit and for its random
  // placement: at least 128 MiB, as mmap_base().
  u64 gap = std::max<u64>(kStackSize + kGuardGap + (randomize ? kStackRandomMax : 0), u64{128} << 20);
  l.mmap_base = top - gap - (randomize ? pages_below(kMmapRandomMax) : 0);
  l.pie_base = kPieBase + (randomize ? pages_below(kMmapRandomMax) : 0);
  l.brk_offset = randomize ? pages_below(kBrkRandomMax) : 0;
  return l;
}

Result<NewImage> build_image(const Program& prog, const std::vector<std::string>& envp, const Credentials& creds,
                             bool secure, bool randomize, StackImage& stack) {
  NewImage img;
  img.vm = TRY(ostd::VmSpace::create());
  img.mm = std::make_shared<MemoryMap>(img.vm);
  attach_fault_handler(img.mm);
  Layout layout = choose_layout(randomize);
  LoadedImage probe = TRY(parse_elf(prog.bytes, prog.file_size));
  std::optional<Vaddr> pie_bias;
  if (probe.dynamic) pie_bias = layout.pie_base - ostd::page_align_down(probe.lowest);
  LoadedImage li = TRY(map_elf(img, prog, pie_bias));
  img.mm->set_brk_base(li.brk_start + layout.brk_offset);
  Vaddr stack_top = layout.stack_top;
  Vaddr stack_bottom = stack_top - kStackSize;
  TRY(img.mm->map(stack_bottom, kStackSize, kProtRead | kProtWrite,
                  kMapPrivate | kMapAnonymous | kMapFixed | kMapGrowsdown, nullptr, 0, "[stack]"));
  img.mm->set_mmap_base(layout.mmap_base);
  Vaddr start = li.entry;
  Vaddr base = 0;
  if (prog.interp) {
    LoadedImage il = TRY(map_interpreter(img, *prog.interp, li));
    start = il.entry;
    base = il.load_bias;
  }
  Vaddr vdso = TRY(map_vdso(*img.mm));
  ExecInfo info{prog.argv, envp, prog.execfn, li.entry,   li.phdr,   li.phent,   li.phnum,
                vdso,      base, creds.uid,   creds.euid, creds.gid, creds.egid, secure};
  stack = TRY(build_initial_stack(*img.vm, stack_top, info));
  img.ctx.set_instruction_pointer(start);
  img.ctx.set_stack_pointer(stack.sp);
  img.ctx.regs().rflags = 0x202;
  return img;
}

bool randomizes(const Process& p) {
  constexpr ostd::u32 kAddrNoRandomize = 0x0040000;
  return randomize_va_space() != 0 && (p.personality & kAddrNoRandomize) == 0;
}

void record_stack(Process& p, StackImage& stack) {
  p.arg_start = stack.arg_start;
  p.arg_end = stack.arg_end;
  p.env_start = stack.env_start;
  p.env_end = stack.env_end;
  p.saved_auxv = std::move(stack.auxv);
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  std::string b = slash == std::string::npos ? path : path.substr(slash + 1);
  if (b.size() > 15) b.resize(15);
  return b;
}

Result<std::vector<std::string>> read_string_array(ostd::VmSpace& vm, Vaddr array, ostd::usize& total) {
  std::vector<std::string> out;
  if (array == 0) return out;
  for (ostd::usize i = 0;; ++i) {
    auto slot = TRY(ostd::UserPtr<u64>(array).element(i));
    u64 p = TRY(slot.read(vm));
    if (p == 0) break;
    auto s = vm.read_cstring(p, kMaxArgStrlen - 1);
    if (s.is_error()) return s.error() == Errno::enametoolong ? Errno::e2big : s.error();
    total += s.value().size() + 1 + sizeof(u64);
    if (total > kMaxArgTotal) return Errno::e2big;
    out.push_back(s.release_value());
  }
  return out;
}

Result<long> do_execve(Thread& self, int dirfd, Vaddr path_addr, Vaddr argv_addr, Vaddr envp_addr, int flags) {
  constexpr int kAtEmptyPath = 0x1000, kAtSymlinkNofollow = 0x100, kAtFdcwd = -100;
  std::string path = TRY(self.vm().read_cstring(path_addr, 4095));
  // (The name first, as Linux's getname_flags, then the flags, as do_open_execat.)
  if (path.empty() && (flags & kAtEmptyPath) == 0) return Errno::enoent;
  if ((flags & ~(kAtEmptyPath | kAtSymlinkNofollow)) != 0) return Errno::einval;
  // The program execveat names relative to a descriptor: found now, and named as Linux names it
  // (AT_EXECFN, and the path a script's interpreter gets): /dev/fd/N or /dev/fd/N/PATH.
  std::shared_ptr<Dentry> file;
  if (path.empty()) {
    if (dirfd == kAtFdcwd) {
      file = self.process().fs->cwd();
    } else {
      auto f = TRY(self.process().fds->get(dirfd));
      file = f->dentry();
      if (!file) return Errno::eacces;  // a pipe, a socket: no regular file
    }
    path = "/dev/fd/" + std::to_string(dirfd);
  } else {
    if ((flags & kAtSymlinkNofollow) != 0) {
      auto last = TRY(lookup_path(self, dirfd, path, false));
      if ((dentry_mode(last) & abi::kSIfmt) == abi::kSIflnk) return Errno::eloop;
    }
    if (dirfd != kAtFdcwd && path.front() != '/') {
      file = TRY(lookup_path(self, dirfd, path, true));
      path = "/dev/fd/" + std::to_string(dirfd) + "/" + path;
    }
  }
  ostd::usize total = 0;
  auto argv = TRY(read_string_array(self.vm(), argv_addr, total));
  auto envp = TRY(read_string_array(self.vm(), envp_addr, total));
  TRY(exec_program(self, path, std::move(argv), std::move(envp), std::move(file)));
  return 0;
}

Result<long> sys_execve(Thread& self, const SyscallArgs& a) { return do_execve(self, -100, a[0], a[1], a[2], 0); }
Result<long> sys_execveat(Thread& self, const SyscallArgs& a) {
  return do_execve(self, a.as_int(0), a[1], a[2], a[3], a.as_int(4));
}

}  // namespace

Result<void> exec_program(Thread& self, const std::string& path, std::vector<std::string> argv,
                          std::vector<std::string> envp, std::shared_ptr<Dentry> file) {
  Process& p = self.process();
  Program prog = TRY(find_program(*p.fs, p, path, std::move(argv), std::move(file)));
  // The credentials the new program runs with (set-user-ID, set-group-ID, capabilities).
  Credentials creds = p.creds;
  bool secure = apply_exec_credentials(creds, prog.mode, prog.uid, prog.gid, self.no_new_privs || prog.nosuid);
  StackImage stack;
  NewImage img = TRY(
      retry_after_address_space_releases([&] { return build_image(prog, envp, creds, secure, randomizes(p), stack); }));
  auto user = TRY(ostd::UserMode::create(img.vm, img.ctx));
  // ---- point of no return ----
  for (auto& t : threads_of(p)) {
    if (t.get() != &self) {
      t->exiting = true;
      t->interrupt();
    }
  }
  // The old image goes in a task of its own once this thread runs the new one.
  release_address_space(std::exchange(p.mm, img.mm), std::exchange(p.vm, img.vm));
  self.start(std::make_unique<ostd::UserMode>(std::move(user)));
  p.fds->close_on_exec(&p);
  delete_posix_timers(p);  // ITIMER_REAL and alarm stay armed, POSIX timers go (as Linux)
  {
    // Handlers reset to the default, ignored signals stay ignored; a table shared by
    // CLONE_SIGHAND is left to the other sharers (the old one is released after unlocking).
    auto fresh = std::make_shared<SignalHandlers>();
    std::shared_ptr<SignalHandlers> old = p.handlers;
    {
      ostd::MutexGuard g(old->lock);
      for (ostd::usize i = 0; i < fresh->actions.size(); ++i) {
        if (old->actions.at(i).handler == kSigIgn) fresh->actions.at(i).handler = kSigIgn;
      }
    }
    p.handlers = fresh;
  }
  self.altstack = AltStack{};
  self.clear_child_tid = 0;
  self.syscall_sites_settled = {};  // the old program's sites
  p.comm = base_name(prog.path);
  p.exe_path = prog.resolved;
  p.cmdline = prog.argv;
  // Dumpable again unless the program runs with effective ids other than its real ones (set-id).
  p.dumpable = creds.euid == creds.uid && creds.egid == creds.gid;
  p.creds = std::move(creds);
  p.membarrier_registered = 0;
  record_stack(p, stack);
  if (!p.vfork_released) {
    p.vfork_released = true;
    (void)p.vfork_done.wake_all();
  }
  kLog.debug("pid {} exec {}", p.pid(), prog.path);
  ptrace_exec(self, self.tid());
  return {};
}

int randomize_va_space() {
  static const int value = [] {
    std::string_view c = ostd::boot_info().cmdline;
    for (std::size_t i = 0; i < c.size();) {
      std::size_t e = std::min(c.find(' ', i), c.size());
      if (c.substr(i, e - i) == "norandmaps") return 0;
      i = e + 1;
    }
    return 2;
  }();
  return value;
}

Result<std::shared_ptr<Process>> spawn_init(const std::vector<std::string>& argv) {
  if (argv.empty()) return Errno::einval;
  ostd::i32 pid = pid_table().alloc_id();
  auto p = std::make_shared<Process>(pid);
  p->pgid = pid;
  p->sid = pid;
  p->fs = initial_fs_context();
  p->fds = std::make_shared<FdTable>();
  // The console tty is /dev/console's, as for Linux's init (ttyname(3) names it).
  auto node = walk(PathLookup{*p->fs, nullptr, p.get()}, "/dev/console", true);
  std::shared_ptr<Dentry> console_node = node.is_ok() ? node.value() : nullptr;
  for (int fd = 0; fd < 3; ++fd) {
    auto f = TRY(open_console_stream(fd, console_node));
    TRY(p->fds->install_at(fd, f, false));
  }
  p->handlers = std::make_shared<SignalHandlers>();
  init_rlimits(*p);
  std::vector<std::string> envp{"HOME=/", "TERM=linux", "PATH=/sbin:/usr/sbin:/bin:/usr/bin"};
  Program prog = TRY(find_program(*p->fs, *p, argv[0], argv));
  StackImage stack;
  bool secure = apply_exec_credentials(p->creds, prog.mode, prog.uid, prog.gid, prog.nosuid);
  NewImage img = TRY(build_image(prog, envp, p->creds, secure, randomizes(*p), stack));
  record_stack(*p, stack);
  p->vm = img.vm;
  p->mm = img.mm;
  p->comm = base_name(prog.path);
  p->exe_path = prog.resolved;
  p->cmdline = prog.argv;
  pid_table().add_process(p);
  auto t = std::make_shared<Thread>(p, pid);
  TRY(start_thread(t, img.ctx));
  return p;
}

void register_fork_exec_syscalls(SyscallTable& t) {
  register_fork_syscalls(t);
  t.set(x86_64::Sysno::execve, &sys_execve);
  t.set(x86_64::Sysno::execveat, &sys_execveat);
}

}  // namespace services
