// services/abi/elf.h — ELF64 structures (System V gABI), as stored in files.
#pragma once

#include <array>

#include <ostd/pod.h>
#include <ostd/types.h>

namespace services::elf {

using ostd::u16;
using ostd::u32;
using ostd::u64;
using ostd::u8;

struct Ehdr {
  std::array<u8, 16> ident;
  u16 type;
  u16 machine;
  u32 version;
  u64 entry;
  u64 phoff;
  u64 shoff;
  u32 flags;
  u16 ehsize;
  u16 phentsize;
  u16 phnum;
  u16 shentsize;
  u16 shnum;
  u16 shstrndx;
  OSTD_POD(Ehdr, ident, type, machine, version, entry, phoff, shoff, flags, ehsize, phentsize, phnum, shentsize, shnum,
           shstrndx);
};
static_assert(sizeof(Ehdr) == 64);

struct Phdr {
  u32 type;
  u32 flags;
  u64 offset;
  u64 vaddr;
  u64 paddr;
  u64 filesz;
  u64 memsz;
  u64 align;
  OSTD_POD(Phdr, type, flags, offset, vaddr, paddr, filesz, memsz, align);
};
static_assert(sizeof(Phdr) == 56);

inline constexpr u16 kTypeExec = 2;
inline constexpr u16 kTypeDyn = 3;
inline constexpr u16 kMachineAmd64 = 62;
inline constexpr u32 kPtLoad = 1;
inline constexpr u32 kPtInterp = 3;
inline constexpr u32 kPtPhdr = 6;
inline constexpr u32 kPtGnuStack = 0x6474e551;
inline constexpr u32 kPfX = 1;
inline constexpr u32 kPfW = 2;
inline constexpr u32 kPfR = 4;

// Auxiliary vector keys.
inline constexpr u64 kAtNull = 0, kAtPhdr = 3, kAtPhent = 4, kAtPhnum = 5, kAtPagesz = 6, kAtBase = 7, kAtFlags = 8,
                     kAtEntry = 9, kAtUid = 11, kAtEuid = 12, kAtGid = 13, kAtEgid = 14, kAtPlatform = 15,
                     kAtHwcap = 16, kAtClktck = 17, kAtSecure = 23, kAtRandom = 25, kAtHwcap2 = 26, kAtExecfn = 31,
                     kAtSysinfoEhdr = 33, kAtMinsigstksz = 51;

}  // namespace services::elf
