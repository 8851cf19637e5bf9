// services/abi/x86_64/time.h — the time and resource-usage structs of the x86-64 ABI, defined
// once (struct timeval, struct timespec, struct rusage).
#pragma once

#include <ostd/pod.h>
#include <ostd/time.h>
#include <ostd/types.h>

namespace services::abi {

/// struct timeval.
struct Timeval {
  ostd::i64 sec;
  ostd::i64 usec;
  OSTD_POD(Timeval, sec, usec);
};
static_assert(sizeof(Timeval) == 16);

/// struct timespec.
struct Timespec {
  ostd::i64 tv_sec;
  ostd::i64 tv_nsec;
  OSTD_POD(Timespec, tv_sec, tv_nsec);
};
static_assert(sizeof(Timespec) == 16);

/// A duration in nanoseconds as a timeval (microseconds, truncated).
constexpr Timeval timeval_from_ns(ostd::u64 ns) {
  return Timeval{static_cast<ostd::i64>(ns / ostd::kNsPerSec), static_cast<ostd::i64>(ns % ostd::kNsPerSec / 1000)};
}

/// struct rusage (getrusage, wait4): the fields Linux fills and those it leaves zero alike.
struct Rusage {
  Timeval utime;
  Timeval stime;
  ostd::i64 maxrss;  // KiB
  ostd::i64 ixrss, idrss, isrss;
  ostd::i64 minflt, majflt, nswap, inblock, oublock, msgsnd, msgrcv, nsignals, nvcsw, nivcsw;
  OSTD_POD(Rusage, utime, stime, maxrss, ixrss, idrss, isrss, minflt, majflt, nswap, inblock, oublock, msgsnd, msgrcv,
           nsignals, nvcsw, nivcsw);
};
static_assert(sizeof(Rusage) == 144);

}  // namespace services::abi
