// ostd/baremetal/baremetal.h — what the bare-metal backend asks of the kernel image that links
// it (the bare-metal counterpart of ostd/host/host.h). Not visible to services.
#pragma once

namespace ostd::baremetal {

/// Defined by the kernel image: runs as the first kernel task once the framework is up (memory,
/// traps, timer, boot_info()). Its return value is the exit status reported at power-off.
int kernel_image_main();

}  // namespace ostd::baremetal
