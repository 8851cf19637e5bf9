#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "../unit/ostd/harness.h"
#include "abi/elf.h"
#include "process/elf_loader.h"

using namespace ostd;

namespace {

std::vector<u8> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<u8>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
const std::vector<u8>& musl_hello() {
  static std::vector<u8> img = read_file(std::string(GUESTS_ROOT) + "/hello-musl");
  return img;
}
template <typename T>
void poke(std::vector<u8>& img, size_t off, T v) {
  std::memcpy(img.data() + off, &v, sizeof v);
}
services::elf::Ehdr ehdr(const std::vector<u8>& img) {
  services::elf::Ehdr h;
  std::memcpy(&h, img.data(), sizeof h);
  return h;
}
// Offset of the first PT_LOAD program header.
size_t first_load(const std::vector<u8>& img) {
  auto h = ehdr(img);
  for (size_t i = 0; i < h.phnum; ++i) {
    size_t off = h.phoff + i * sizeof(services::elf::Phdr);
    services::elf::Phdr ph;
    std::memcpy(&ph, img.data() + off, sizeof ph);
    if (ph.type == services::elf::kPtLoad) return off;
  }
  return 0;
}
Result<services::LoadedImage> load(const std::vector<u8>& img) {
  auto vm = VmSpace::create().release_value();
  return services::load_elf(*vm, img);
}

}  // namespace

TEST(ElfLoader, LoadsAStaticMuslExecutable) {
  ASSERT_GT(musl_hello().size(), 1000u);
  test::run_in_kernel([] {
    auto vm = VmSpace::create().release_value();
    auto r = services::load_elf(*vm, musl_hello());
    ASSERT_TRUE(r.is_ok()) << format("{}", r.error());
    EXPECT_EQ(r.value().entry, ehdr(musl_hello()).entry);
    EXPECT_NE(r.value().phdr, 0u);
    EXPECT_GT(vm->mapped_pages(), 1u);
    auto code = vm->query(r.value().entry);
    ASSERT_TRUE(code.has_value());
    EXPECT_TRUE(has(code->flags, PageFlags::X));
    EXPECT_GE(r.value().brk_start, r.value().entry);
  });
}

TEST(ElfLoader, RejectsMalformedHeaders) {
  test::run_in_kernel([] {
    std::vector<std::pair<const char*, std::vector<u8>>> cases;
    cases.push_back({"empty", {}});
    cases.push_back({"header only", std::vector<u8>(musl_hello().begin(), musl_hello().begin() + 64)});
    auto img = musl_hello();
    img[4] = 1;  // ELFCLASS32
    cases.push_back({"32-bit", img});
    img = musl_hello();
    poke<u16>(img, 18, 3);  // EM_386
    cases.push_back({"i386", img});
    img = musl_hello();
    poke<u16>(img, 56, 0xffff);  // phnum
    cases.push_back({"phnum", img});
    img = musl_hello();
    poke<u64>(img, 32, ~u64{0} - 8);  // phoff near the top: overflow
    cases.push_back({"phoff overflow", img});
    img = musl_hello();
    poke<u16>(img, 54, 32);  // phentsize
    cases.push_back({"phentsize", img});
    img = musl_hello();
    poke<u64>(img, 24, 0x1234);  // entry outside any executable segment
    cases.push_back({"entry", img});
    for (auto& [name, bytes] : cases) {
      auto r = load(bytes);
      ASSERT_TRUE(r.is_error()) << name;
      EXPECT_EQ(r.error(), Errno::enoexec) << name;
    }
  });
}

TEST(ElfLoader, RejectsBadSegments) {
  test::run_in_kernel([] {
    size_t ph = first_load(musl_hello());
    ASSERT_NE(ph, 0u);
    struct Case {
      const char* name;
      size_t field;  // offset inside Phdr
      u64 value;
    };
    for (Case c : {Case{"offset past EOF", 8, 1ull << 40}, Case{"filesz > memsz", 32, 1ull << 30},
                   Case{"kernel address", 16, 0xffff800000000000ull}, Case{"vaddr overflow", 16, ~u64{0} - 0xfff},
                   Case{"misaligned", 16, 0x400123}, Case{"below user_base", 16, 0}}) {
      auto img = musl_hello();
      poke<u64>(img, ph + c.field, c.value);
      auto r = load(img);
      ASSERT_TRUE(r.is_error()) << c.name;
      EXPECT_EQ(r.error(), Errno::enoexec) << c.name;
    }
  });
}

// PT_INTERP names the dynamic loader: a NUL-terminated path in the file's head, which the
// loader reports for exec to load; a path without its NUL, empty, too long or past the end of
// the file is ENOEXEC (Linux's checks in load_elf_binary).
TEST(ElfLoader, ReportsTheInterpreterPath) {
  test::run_in_kernel([] {
    // The PT_GNU_STACK header becomes PT_INTERP, pointing right after the program headers.
    auto h = ehdr(musl_hello());
    size_t stack_ph = 0;
    for (size_t i = 0; i < h.phnum; ++i) {
      size_t off = h.phoff + i * sizeof(services::elf::Phdr);
      services::elf::Phdr ph;
      std::memcpy(&ph, musl_hello().data() + off, sizeof ph);
      if (ph.type == services::elf::kPtGnuStack) stack_ph = off;
    }
    ASSERT_NE(stack_ph, 0u);
    const size_t at = h.phoff + h.phnum * sizeof(services::elf::Phdr);
    auto with_interp = [&](const std::string& bytes, u64 offset, u64 filesz) {
      auto img = musl_hello();
      std::memcpy(img.data() + at, bytes.data(), bytes.size());
      poke<u32>(img, stack_ph, services::elf::kPtInterp);
      poke<u64>(img, stack_ph + 8, offset);
      poke<u64>(img, stack_ph + 32, filesz);
      return img;
    };
    const std::string path("/lib/ld-test.so\0", 16);
    auto r = load(with_interp(path, at, path.size()));
    ASSERT_TRUE(r.is_ok()) << format("{}", r.error());
    EXPECT_EQ(r.value().interpreter, "/lib/ld-test.so");
    EXPECT_FALSE(r.value().dynamic);
    EXPECT_TRUE(load(musl_hello()).value().interpreter.empty());
    struct Case {
      const char* name;
      std::string bytes;
      u64 offset, filesz;
    };
    for (const Case& c :
         {Case{"no NUL", "/lib/ld-test.so!", at, 16}, Case{"empty", std::string(2, '\0'), at, 2},
          Case{"one byte", std::string(1, '\0'), at, 1}, Case{"longer than a page", path, at, 4097},
          Case{"past the file", path, musl_hello().size() - 4, 16}, Case{"offset overflow", path, ~u64{0} - 4, 16}}) {
      auto bad = load(with_interp(c.bytes, c.offset, c.filesz));
      ASSERT_TRUE(bad.is_error()) << c.name;
      EXPECT_EQ(bad.error(), Errno::enoexec) << c.name;
    }
  });
}

// An ET_DYN image goes where it is asked to (the interpreter's base), an ET_EXEC one where it
// is linked, whatever is asked.
TEST(ElfLoader, PlacesPositionIndependentImagesAtTheGivenBias) {
  test::run_in_kernel([] {
    auto img = musl_hello();
    ASSERT_EQ(ehdr(img).type, services::elf::kTypeExec);
    auto exec = services::parse_elf(img, img.size(), 0x7f0000000000ull);
    ASSERT_TRUE(exec.is_ok());
    EXPECT_EQ(exec.value().load_bias, 0u);
    EXPECT_EQ(exec.value().entry, ehdr(img).entry);
    poke<u16>(img, 16, services::elf::kTypeDyn);
    // Linked at 0x400000 + x; as ET_DYN it moves by the bias.
    auto dyn = services::parse_elf(img, img.size(), 0x7f0000000000ull);
    ASSERT_TRUE(dyn.is_ok());
    EXPECT_TRUE(dyn.value().dynamic);
    EXPECT_EQ(dyn.value().load_bias, 0x7f0000000000ull);
    EXPECT_EQ(dyn.value().entry, ehdr(img).entry + 0x7f0000000000ull);
    EXPECT_EQ(dyn.value().lowest, exec.value().segments.front().start);
    // A bias that pushes it past the user range is refused.
    auto high = services::parse_elf(img, img.size(), 0x7fff00000000ull);
    EXPECT_TRUE(high.is_error());
  });
}

TEST(ElfLoader, RandomCorruptionNeverCrashes) {
  usize before = 0;
  test::run_in_kernel([&] {
    std::mt19937 rng(12345);
    before = frame_stats().allocated_frames;
    int ok = 0, rejected = 0;
    for (int i = 0; i < 150; ++i) {
      auto img = musl_hello();
      int flips = 1 + static_cast<int>(rng() % 8);
      for (int k = 0; k < flips; ++k) {
        size_t at = rng() % std::min<size_t>(img.size(), 512);  // headers live up front
        img[at] = static_cast<u8>(rng());
      }
      auto r = load(img);
      if (r.is_ok()) {
        ++ok;
      } else {
        ++rejected;
        EXPECT_TRUE(r.error() == Errno::enoexec || r.error() == Errno::enomem);
      }
    }
    EXPECT_GT(rejected, 0);
    EXPECT_LE(frame_stats().allocated_frames, before + test::kSpareFrames) << "frames leaked by failed loads";
  });
#ifndef FK_KTEST
  EXPECT_EQ(frame_stats().allocated_frames, before) << "frames leaked by failed loads";
#endif
}
