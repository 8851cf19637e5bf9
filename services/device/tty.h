// services/device/tty.h — the console: a tty with a line discipline when the machine's console
// is a terminal, plain byte streams when it is not (umk with pipes or files as stdin/stdout).
#pragma once

#include <memory>

#include <ostd/error.h>
#include <ostd/types.h>

#include "fs/file.h"

namespace services {

class Thread;

/// The file for the first process's fd 0, 1 or 2: the console tty when the console is a
/// terminal; otherwise fd 0 reads the console input and fds 1/2 write its output (not ttys:
/// TCGETS gives ENOTTY, as for a pipe). The tty is `console_node`'s (/dev/console: its path in
/// /proc/PID/fd, what ttyname(3) finds) when there is one.
std::shared_ptr<File> console_stream(int fd, const std::shared_ptr<Dentry>& console_node);
/// What /dev/console, /dev/tty and /dev/tty0-1 open (by `node`): the tty, or a read/write plain
/// stream.
std::shared_ptr<File> open_console_device(ostd::u32 flags, const std::shared_ptr<Dentry>& node);

}  // namespace services
