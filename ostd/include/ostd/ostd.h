// ostd/ostd.h — the whole public API of the framework, for convenience.
#pragma once

#include <ostd/boot.h>
#include <ostd/bytes.h>
#include <ostd/dev/io.h>
#include <ostd/error.h>
#include <ostd/format.h>
#include <ostd/irq.h>
#include <ostd/log.h>
#include <ostd/mm/frame.h>
#include <ostd/mm/io.h>
#include <ostd/mm/vm_space.h>
#include <ostd/sync.h>
#include <ostd/task.h>
#include <ostd/time.h>
#include <ostd/types.h>
#include <ostd/user_mode.h>
