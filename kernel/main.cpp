// The bare-metal kernel image: the services on the x86-64 backend (the counterpart of umk/).
#include <ostd/baremetal/baremetal.h>

#include "kernel_main.h"

namespace ostd::baremetal {

int kernel_image_main() { return services::kernel_main(); }

}  // namespace ostd::baremetal
