// services/vm/vdso.h — the vDSO (vdso/x86_64) and the clock page in every process.
#pragma once

#include <ostd/error.h>
#include <ostd/types.h>

namespace services {

class MemoryMap;

/// Maps the clock page ("[vvar]": ostd's, read-only for good) and, right above it, the vDSO
/// image ("[vdso]": the same frames in every process, copied on write) below `mm`'s mmap base.
/// Returns the vDSO's address, for AT_SYSINFO_EHDR.
ostd::Result<ostd::Vaddr> map_vdso(MemoryMap& mm);

}  // namespace services
