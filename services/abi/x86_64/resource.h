// services/abi/x86_64/resource.h — the resource-limit numbers (RLIMIT_*) of the Linux ABI,
// defined once: an index into Process::rlimits.
#pragma once

#include <ostd/types.h>

namespace services::abi {

inline constexpr ostd::usize kRlimitCpu = 0;
inline constexpr ostd::usize kRlimitFsize = 1;
inline constexpr ostd::usize kRlimitData = 2;
inline constexpr ostd::usize kRlimitStack = 3;
inline constexpr ostd::usize kRlimitCore = 4;
inline constexpr ostd::usize kRlimitRss = 5;
inline constexpr ostd::usize kRlimitNproc = 6;
inline constexpr ostd::usize kRlimitNofile = 7;
inline constexpr ostd::usize kRlimitMemlock = 8;
inline constexpr ostd::usize kRlimitAs = 9;
inline constexpr ostd::usize kRlimitLocks = 10;
inline constexpr ostd::usize kRlimitSigpending = 11;
inline constexpr ostd::usize kRlimitMsgqueue = 12;
inline constexpr ostd::usize kRlimitNice = 13;
inline constexpr ostd::usize kRlimitRtprio = 14;
inline constexpr ostd::usize kRlimitRttime = 15;
/// RLIM_NLIMITS: how many there are.
inline constexpr ostd::usize kNumRlimits = 16;

}  // namespace services::abi
