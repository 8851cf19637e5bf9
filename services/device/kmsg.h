// services/device/kmsg.h — the kernel log: what dmesg reads through syslog(2) and /dev/kmsg.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <ostd/error.h>
#include <ostd/types.h>

namespace services {

class Dentry;
class File;

/// Starts this boot's kernel log: empties it, takes the kernel's own messages (Info and above,
/// whatever the console level) and records the banner.
void kernel_log_boot();
/// Appends one record: priority = facility << 3 | level, as syslog(3) numbers them.
void kernel_log_append(ostd::u32 priority, std::string_view text);
/// Opens /dev/kmsg (char 1:11).
std::shared_ptr<File> open_kmsg(const std::shared_ptr<Dentry>& dentry, ostd::u32 flags);
/// /proc/sys/kernel/dmesg_restrict: whether reading the log needs CAP_SYSLOG (1, as Debian).
int dmesg_restrict();
/// /proc/sys/kernel/printk: the console level and its defaults ("7\t4\t1\t7").
std::string printk_levels();

}  // namespace services
