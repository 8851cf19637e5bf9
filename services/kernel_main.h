// services/kernel_main.h — the services' entry point, called by each backend once the
// framework is up (host: umk; bare metal: the kernel image).
#pragma once

#include <ostd/boot.h>

namespace services {

/// Starts the init program named by boot_info().init_argv from the initramfs and runs it to
/// completion. Returns its exit status as a shell would see it (128 + signal when killed).
int kernel_main();

}  // namespace services
