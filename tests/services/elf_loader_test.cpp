#include <fstream>
#include <iterator>
#include <random>
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
                   Case{"kernel address", 16, 0xffff800000000000ull},
                   Case{"vaddr overflow", 16, ~u64{0} - 0xfff},
                   Case{"misaligned", 16, 0x400123}, Case{"below user_base", 16, 0}}) {
      auto img = musl_hello();
      poke<u64>(img, ph + c.field, c.value);
      auto r = load(img);
      ASSERT_TRUE(r.is_error()) << c.name;
      EXPECT_EQ(r.error(), Errno::enoexec) << c.name;
    }
    auto img = musl_hello();
    poke<u32>(img, ph, services::elf::kPtInterp);  // dynamic: not yet
    EXPECT_EQ(load(img).error(), Errno::enoexec);
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
    EXPECT_LE(frame_stats().allocated_frames, before + test::kSpareFrames)
        << "frames leaked by failed loads";
  });
#ifndef FK_KTEST
  EXPECT_EQ(frame_stats().allocated_frames, before) << "frames leaked by failed loads";
#endif
}
