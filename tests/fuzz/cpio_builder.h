// Building a newc cpio archive in memory, for the fuzz targets that boot the kernel.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace fuzz {

inline void put_cpio_hex(std::vector<unsigned char>& out, unsigned v) {
  char b[9];
  std::snprintf(b, sizeof b, "%08X", v);
  out.insert(out.end(), b, b + 8);
}

/// Appends one member (a "TRAILER!!!" member ends the archive).
inline void add_cpio_member(std::vector<unsigned char>& out, const std::string& name, unsigned mode,
                            const unsigned char* data, std::size_t size) {
  static unsigned ino = 1;
  const char* magic = "070701";
  out.insert(out.end(), magic, magic + 6);
  unsigned fields[] = {
      ino++, mode, 0, 0, 1, 0, static_cast<unsigned>(size), 0, 0, 0, 0, static_cast<unsigned>(name.size() + 1), 0};
  for (unsigned f : fields) put_cpio_hex(out, f);
  out.insert(out.end(), name.begin(), name.end());
  out.push_back(0);
  while (out.size() % 4 != 0) out.push_back(0);
  if (size != 0) out.insert(out.end(), data, data + size);
  while (out.size() % 4 != 0) out.push_back(0);
}

}  // namespace fuzz
