// The CPU as /proc/cpuinfo and the auxiliary vector show it, decoded from CPUID with Linux's
// flag names (arch/x86/include/asm/cpufeatures.h), in Linux's order (by feature word). Flags
// of state the kernel did not enable in XCR0 (AVX, AVX-512) are left out, as Linux does.
#include <array>
#include <string>

#include <ostd/arch/backend.h>

#include "x86.h"

namespace ostd::arch {

namespace {

struct Bit {
  u8 bit;
  const char* name;
};

// One feature word: the CPUID leaf/sub-leaf, the register (0..3: eax, ebx, ecx, edx), its names.
struct Word {
  u32 leaf;
  u32 sub;
  u8 reg;
  std::span<const Bit> bits;
};

constexpr Bit kStd1Edx[] = {{0, "fpu"},      {1, "vme"},  {2, "de"},    {3, "pse"},  {4, "tsc"},    {5, "msr"},
                            {6, "pae"},      {7, "mce"},  {8, "cx8"},   {9, "apic"}, {11, "sep"},   {12, "mtrr"},
                            {13, "pge"},     {14, "mca"}, {15, "cmov"}, {16, "pat"}, {17, "pse36"}, {18, "pn"},
                            {19, "clflush"}, {21, "dts"}, {22, "acpi"}, {23, "mmx"}, {24, "fxsr"},  {25, "sse"},
                            {26, "sse2"},    {27, "ss"},  {28, "ht"},   {29, "tm"},  {30, "ia64"},  {31, "pbe"}};
constexpr Bit kExt1Edx[] = {{11, "syscall"}, {20, "nx"}, {22, "mmxext"},   {25, "fxsr_opt"}, {26, "pdpe1gb"},
                            {27, "rdtscp"},  {29, "lm"}, {30, "3dnowext"}, {31, "3dnow"}};
constexpr Bit kStd1Ecx[] = {
    {0, "pni"},     {1, "pclmulqdq"}, {2, "dtes64"},  {3, "monitor"}, {4, "ds_cpl"},  {5, "vmx"},
    {6, "smx"},     {7, "est"},       {8, "tm2"},     {9, "ssse3"},   {10, "cid"},    {11, "sdbg"},
    {12, "fma"},    {13, "cx16"},     {14, "xtpr"},   {15, "pdcm"},   {17, "pcid"},   {18, "dca"},
    {19, "sse4_1"}, {20, "sse4_2"},   {21, "x2apic"}, {22, "movbe"},  {23, "popcnt"}, {24, "tsc_deadline_timer"},
    {25, "aes"},    {26, "xsave"},    {28, "avx"},    {29, "f16c"},   {30, "rdrand"}, {31, "hypervisor"}};
constexpr Bit kExt1Ecx[] = {{0, "lahf_lm"},       {1, "cmp_legacy"},  {2, "svm"},    {3, "extapic"},
                            {4, "cr8_legacy"},    {5, "abm"},         {6, "sse4a"},  {7, "misalignsse"},
                            {8, "3dnowprefetch"}, {9, "osvw"},        {10, "ibs"},   {11, "xop"},
                            {12, "skinit"},       {13, "wdt"},        {15, "lwp"},   {16, "fma4"},
                            {17, "tce"},          {19, "nodeid_msr"}, {21, "tbm"},   {22, "topoext"},
                            {23, "perfctr_core"}, {24, "perfctr_nb"}, {26, "bpext"}, {27, "ptsc"},
                            {28, "perfctr_llc"},  {29, "mwaitx"}};
// FSGSBASE (bit 0) is left out: this kernel does not let user code write the bases.
constexpr Bit kStd7Ebx[] = {
    {1, "tsc_adjust"},  {3, "bmi1"},        {4, "hle"},      {5, "avx2"},      {7, "smep"},
    {8, "bmi2"},        {9, "erms"},        {10, "invpcid"}, {11, "rtm"},      {14, "mpx"},
    {16, "avx512f"},    {17, "avx512dq"},   {18, "rdseed"},  {19, "adx"},      {20, "smap"},
    {21, "avx512ifma"}, {23, "clflushopt"}, {24, "clwb"},    {25, "intel_pt"}, {26, "avx512pf"},
    {27, "avx512er"},   {28, "avx512cd"},   {29, "sha_ni"},  {30, "avx512bw"}, {31, "avx512vl"}};
constexpr Bit kXsave1Eax[] = {{0, "xsaveopt"}, {1, "xsavec"}, {2, "xgetbv1"}, {3, "xsaves"}};
constexpr Bit kStd7Ecx[] = {{1, "avx512vbmi"},   {2, "umip"},           {3, "pku"},
                            {4, "ospke"},        {5, "waitpkg"},        {6, "avx512_vbmi2"},
                            {8, "gfni"},         {9, "vaes"},           {10, "vpclmulqdq"},
                            {11, "avx512_vnni"}, {12, "avx512_bitalg"}, {14, "avx512_vpopcntdq"},
                            {16, "la57"},        {22, "rdpid"},         {25, "cldemote"},
                            {27, "movdiri"},     {28, "movdir64b"}};
constexpr Bit kStd7Edx[] = {{2, "avx512_4vnniw"},       {3, "avx512_4fmaps"}, {4, "fsrm"},
                            {8, "avx512_vp2intersect"}, {10, "md_clear"},     {14, "serialize"},
                            {16, "tsxldtrk"},           {18, "pconfig"},      {19, "arch_lbr"},
                            {22, "amx_bf16"},           {23, "avx512_fp16"},  {24, "amx_tile"},
                            {25, "amx_int8"},           {28, "flush_l1d"},    {29, "arch_capabilities"}};

constexpr std::array<Word, 8> kWords{{{1, 0, 3, kStd1Edx},
                                      {0x80000001, 0, 3, kExt1Edx},
                                      {1, 0, 2, kStd1Ecx},
                                      {0x80000001, 0, 2, kExt1Ecx},
                                      {7, 0, 1, kStd7Ebx},
                                      {0xd, 1, 0, kXsave1Eax},
                                      {7, 0, 2, kStd7Ecx},
                                      {7, 0, 3, kStd7Edx}}};

std::array<u32, 4> cpuid_regs(u32 leaf, u32 sub) {
  std::array<u32, 4> r{};
  u32 max = 0, b = 0, c = 0, d = 0;
  x86::cpuid(leaf & 0x80000000u, 0, max, b, c, d);
  if (leaf > max) return r;
  x86::cpuid(leaf, sub, r[0], r[1], r[2], r[3]);
  return r;
}

bool needs_avx(std::string_view n) {
  return n == "avx" || n == "avx2" || n == "fma" || n == "f16c" || n == "vaes" || n == "vpclmulqdq";
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  usize b = s.find_first_not_of(' ');
  return b == std::string::npos ? std::string() : s.substr(b);
}

}  // namespace

CpuDescription describe_cpu() {
  CpuDescription d;
  auto v = cpuid_regs(0, 0);
  std::array<u32, 3> vendor{v[1], v[3], v[2]};
  // SAFETY: vendor is 3 u32 = 12 bytes, read as chars (char may alias any object).
  d.vendor.assign(reinterpret_cast<const char*>(vendor.data()), 12);
  auto l1 = cpuid_regs(1, 0);
  u32 base_family = (l1[0] >> 8) & 0xf;
  u32 base_model = (l1[0] >> 4) & 0xf;
  d.family = base_family == 0xf ? base_family + ((l1[0] >> 20) & 0xff) : base_family;
  d.model = base_family >= 6 ? base_model | (((l1[0] >> 16) & 0xf) << 4) : base_model;
  d.stepping = l1[0] & 0xf;
  d.clflush_bytes = ((l1[1] >> 8) & 0xff) * 8;
  if (d.clflush_bytes == 0) d.clflush_bytes = 64;
  std::string brand;
  for (u32 leaf = 0x80000002; leaf <= 0x80000004; ++leaf) {
    auto r = cpuid_regs(leaf, 0);
    // SAFETY: r is 4 u32 = 16 bytes of brand string, read as chars (char may alias any object).
    brand.append(reinterpret_cast<const char*>(r.data()), 16);
  }
  d.model_name = trimmed(brand.c_str());
  if (auto a = cpuid_regs(0x80000008, 0); a[0] != 0) {
    d.phys_bits = a[0] & 0xff;
    d.virt_bits = (a[0] >> 8) & 0xff;
  }
  d.mhz = static_cast<u32>(x86::tsc_hz() / 1000000);
  u64 xcr0 = 3;
  if ((l1[2] & (1u << 27)) != 0) {  // OSXSAVE: XGETBV works
    u32 lo = 0, hi = 0;
    // SAFETY: OSXSAVE is set (checked above), so xgetbv with ecx = 0 is legal; writes edx:eax only.
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (u64{hi} << 32) | lo;
  }
  bool avx = (xcr0 & 0x6) == 0x6;
  bool avx512 = avx && (xcr0 & 0xe0) == 0xe0;
  for (const Word& w : kWords) {
    if (w.bits.empty()) continue;
    u32 reg = cpuid_regs(w.leaf, w.sub)[w.reg];
    for (const Bit& b : w.bits) {
      if ((reg & (1u << b.bit)) == 0) continue;
      std::string_view n = b.name;
      if ((needs_avx(n) && !avx) || (n.starts_with("avx512") && !avx512)) continue;
      if (!d.flags.empty()) d.flags += ' ';
      d.flags += n;
    }
  }
  d.hwcap = l1[3];
  d.hwcap2 = 0;
  return d;
}

void fill_entropy(std::span<u8> out) {
  bool rdrand = (cpuid_regs(1, 0)[2] & (1u << 30)) != 0;
  for (usize i = 0; i < out.size(); i += 8) {
    u64 v = 0;
    bool got = false;
    for (int tries = 0; rdrand && !got && tries < 10; ++tries) {
      u8 ok = 0;
      // SAFETY: the CPU has RDRAND (CPUID.1 ECX bit 30); it writes only v, ok and the flags.
      asm volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
      got = ok != 0;
    }
    if (!got) {
      // No RDRAND: the low bits of the TSC across a few pauses, mixed (splitmix64).
      for (int k = 0; k < 16; ++k) {
        v = (v << 4 | v >> 60) ^ x86::rdtsc();
        // SAFETY: pause is a spin-wait hint with no memory or register effects.
        asm volatile("pause");
      }
      v += 0x9e3779b97f4a7c15ull;
      v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ull;
      v = (v ^ (v >> 27)) * 0x94d049bb133111ebull;
      v ^= v >> 31;
    }
    for (usize k = 0; k < 8 && i + k < out.size(); ++k) out[i + k] = static_cast<u8>(v >> (8 * k));
  }
}

}  // namespace ostd::arch
