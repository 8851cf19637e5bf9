// NUMA memory policies: set_mempolicy, get_mempolicy, mbind and migrate_pages, for a machine of
// one node (node 0, where all memory is).
//
// Policies are validated as Linux's mpol_new does (node masks are first cut down to the nodes
// that exist), kept per thread (set_mempolicy) or per address range (mbind), and reported back
// by get_mempolicy. With one node every policy places memory the same way, and nothing ever
// needs to migrate.
#include <algorithm>
#include <optional>
#include <vector>

#include <ostd/mm/io.h>

#include "process/internal.h"
#include "process/process.h"
#include "syscall/table.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::Vaddr;

namespace {

constexpr int kDefault = 0, kPreferred = 1, kBind = 2, kInterleave = 3, kLocal = 4, kPreferredMany = 5;
constexpr int kModeMax = kPreferredMany + 1;  // MPOL_MAX of Linux 6.1
constexpr u32 kStaticNodes = 1u << 15, kRelativeNodes = 1u << 14, kNumaBalancing = 1u << 13;
constexpr u32 kModeFlags = kStaticNodes | kRelativeNodes | kNumaBalancing;
constexpr u64 kMaxNumnodes = 1024;  // CONFIG_NODES_SHIFT=10
constexpr u64 kOnlineNodes = 1;     // node 0

// Whether node n exists (and has memory): node 0 only.
bool node_online(u64 n) { return n < 64 && ((kOnlineNodes >> n) & 1) != 0; }

// get_nodes: `maxnode` - 1 bits from user memory (none for a NULL mask); bits past the nodes
// the kernel can have must be clear.
Result<u64> read_nodes(Thread& t, Vaddr mask, u64 maxnode) {
  if (maxnode == 0) return u64{0};
  --maxnode;
  if (maxnode == 0 || mask == 0) return u64{0};
  if (maxnode > ostd::kPageSize * 8) return Errno::einval;
  const u64 words = (maxnode + 63) / 64;
  u64 nodes = 0;
  for (u64 w = 0; w < words; ++w) {
    u64 bits = TRY(ostd::UserPtr<u64>(mask + w * 8).read(t.vm()));
    const u64 first = w * 64;
    if (first + 64 > maxnode) bits &= maxnode - first >= 64 ? ~u64{0} : (u64{1} << (maxnode - first)) - 1;
    if (first >= kMaxNumnodes && bits != 0) return Errno::einval;
    if (w == 0) nodes = bits;
    // Nodes 64..1023 do not exist here: they drop out like any node that is not online.
  }
  return nodes;
}

// sanitize_mpol_flags and mpol_new: the policy `mode` (with its flags) and `nodes` ask for.
Result<MemPolicy> make_policy(int mode_arg, u64 nodes) {
  const u32 flags = static_cast<u32>(mode_arg) & kModeFlags;
  int mode = static_cast<int>(static_cast<u32>(mode_arg) & ~kModeFlags);
  if (static_cast<u32>(mode) >= static_cast<u32>(kModeMax)) return Errno::einval;
  if ((flags & kStaticNodes) != 0 && (flags & kRelativeNodes) != 0) return Errno::einval;
  if ((flags & kNumaBalancing) != 0 && mode != kBind) return Errno::einval;
  if (mode == kDefault) {
    if (nodes != 0) return Errno::einval;
    return MemPolicy{};
  }
  if (mode == kPreferred && nodes == 0) {
    if ((flags & (kStaticNodes | kRelativeNodes)) != 0) return Errno::einval;
    mode = kLocal;
  } else if (mode == kLocal) {
    if (nodes != 0 || (flags & (kStaticNodes | kRelativeNodes)) != 0) return Errno::einval;
  } else if (nodes == 0) {
    return Errno::einval;
  }
  // Only the nodes that exist count (mpol_set_nodemask); none left is EINVAL.
  const u64 usable = nodes & kOnlineNodes;
  if (mode != kLocal && usable == 0) return Errno::einval;
  return MemPolicy{mode, flags, mode == kLocal ? 0 : usable};
}

// The range policies with [start, end) cut out of them: what lies outside stays, the part
// inside becomes inside(policy) (or goes, for nullopt).
template <typename F>
std::vector<Process::RangePolicy> cut_ranges(const std::vector<Process::RangePolicy>& ranges, Vaddr start, Vaddr end,
                                             F inside) {
  std::vector<Process::RangePolicy> out;
  for (const auto& r : ranges) {
    if (r.end <= start || r.start >= end) {
      out.push_back(r);
      continue;
    }
    if (r.start < start) out.push_back({r.start, start, r.policy});
    if (std::optional<MemPolicy> p = inside(r.policy))
      out.push_back({std::max(r.start, start), std::min(r.end, end), *p});
    if (r.end > end) out.push_back({end, r.end, r.policy});
  }
  return out;
}

// copy_nodes_to_user: ALIGN(maxnode - 1, 64) / 8 bytes, the kernel's nodes then zeros.
Result<void> write_nodes(Thread& t, Vaddr mask, u64 maxnode, u64 nodes) {
  const u64 bytes = ((maxnode - 1 + 63) / 64) * 8;
  if (bytes > ostd::kPageSize) return Errno::einval;
  for (u64 off = 0; off < bytes; off += 8) TRY(ostd::UserPtr<u64>(mask + off).write(t.vm(), off == 0 ? nodes : 0));
  return {};
}

Result<long> sys_set_mempolicy(Thread& t, const SyscallArgs& a) {
  const u64 nodes = TRY(read_nodes(t, a[1], a[2]));
  t.mempolicy = TRY(make_policy(a.as_int(0), nodes));
  return 0;
}

Result<long> sys_get_mempolicy(Thread& t, const SyscallArgs& a) {
  constexpr u32 kFNode = 1, kFAddr = 2, kFMemsAllowed = 4;
  const Vaddr modep = a[0], maskp = a[1], addr = a[3];
  const u64 maxnode = a[2];
  const u32 flags = a.as_u32(4);
  if ((flags & ~(kFNode | kFAddr | kFMemsAllowed)) != 0) return Errno::einval;
  if (maskp != 0 && maxnode < kOnlineNodes) return Errno::einval;
  int mode = 0;
  u64 nodes = 0;
  if ((flags & kFMemsAllowed) != 0) {
    if ((flags & (kFNode | kFAddr)) != 0) return Errno::einval;
    nodes = kOnlineNodes;
  } else {
    MemPolicy pol = t.mempolicy;
    if ((flags & kFAddr) != 0) {
      if (!t.process().mm->covers(addr & ~(ostd::kPageSize - 1), (addr & ~(ostd::kPageSize - 1)) + ostd::kPageSize)) {
        return Errno::efault;
      }
      pol = MemPolicy{};
      for (const auto& r : t.process().range_policies) {
        if (addr >= r.start && addr < r.end) {
          pol = r.policy;
          break;
        }
      }
    }
    if ((flags & kFNode) != 0) {
      // The node of the page at addr, or the next node an interleaving policy takes: node 0.
      if ((flags & kFAddr) == 0 && pol.mode != kInterleave) return Errno::einval;
      mode = 0;
    } else {
      mode = pol.mode | static_cast<int>(pol.flags & (kStaticNodes | kRelativeNodes));
    }
    nodes = pol.nodes;
  }
  if (modep != 0) TRY(ostd::UserPtr<ostd::i32>(modep).write(t.vm(), mode));
  if (maskp != 0) TRY(write_nodes(t, maskp, maxnode, nodes));
  return 0;
}

Result<long> sys_mbind(Thread& t, const SyscallArgs& a) {
  constexpr u32 kStrict = 1, kMove = 2, kMoveAll = 4;
  const Vaddr start = a[0];
  const u32 flags = a.as_u32(5);
  if ((flags & ~(kStrict | kMove | kMoveAll)) != 0) return Errno::einval;
  if ((flags & kMoveAll) != 0 && !t.process().creds.capable(cap::kSysNice)) return Errno::eperm;
  if ((start & (ostd::kPageSize - 1)) != 0) return Errno::einval;
  const int mode_arg = a.as_int(2);
  if (static_cast<u32>(mode_arg & ~static_cast<int>(kModeFlags)) >= static_cast<u32>(kModeMax)) return Errno::einval;
  u64 len = ostd::page_align_up(a[1]);
  if (len < a[1]) return Errno::einval;
  u64 end = 0;
  if (!ostd::checked_add<u64>(start, len, end)) return Errno::einval;
  if (end == start) return 0;
  const u64 nodes = TRY(read_nodes(t, a[3], a[4]));
  MemPolicy pol = TRY(make_policy(mode_arg, nodes));
  if (!t.process().mm->covers(start, end)) return Errno::efault;
  auto& ranges = t.process().range_policies;
  // The new range replaces what it covers of older ones (which are cut, not dropped).
  std::vector<Process::RangePolicy> kept =
      cut_ranges(ranges, start, end, [](const MemPolicy&) { return std::optional<MemPolicy>(); });
  if (pol.mode != kDefault) kept.insert(kept.begin(), {start, end, pol});
  ranges = std::move(kept);
  return 0;
}

Result<long> sys_migrate_pages(Thread& t, const SyscallArgs& a) {
  const u64 old_nodes = TRY(read_nodes(t, a[2], a[1]));
  const u64 new_nodes = TRY(read_nodes(t, a[3], a[1]));
  (void)old_nodes;
  const ostd::i32 pid = a.as_int(0);
  auto p = pid == 0 ? t.process_shared() : pid_table().process(pid);
  if (!p || p->state == Process::State::Zombie || p->state == Process::State::Reaped) return Errno::esrch;
  const Credentials& c = t.process().creds;
  const Credentials& tc = p->creds;
  if (p.get() != &t.process() && c.euid != tc.suid && c.euid != tc.uid && c.uid != tc.suid && c.uid != tc.uid &&
      !c.capable(cap::kSysNice)) {
    return Errno::eperm;
  }
  if ((new_nodes & ~kOnlineNodes) != 0) return Errno::einval;
  return 0;  // one node: no page is anywhere else, none failed to move
}

// move_pages(pid, count, pages, nodes, status, flags): with `nodes` NULL, the node of each page
// (0), -ENOENT for one not in memory, -EFAULT for an unmapped address; otherwise each page
// moves to its node, which must be 0 here (ENODEV for a node that does not exist), so status
// reports 0 for pages already there and the same errors for the others.
Result<long> sys_move_pages(Thread& t, const SyscallArgs& a) {
  constexpr u32 kMove = 2, kMoveAll = 4;
  const u64 count = a[1];
  const Vaddr pages = a[2], nodes_p = a[3], status_p = a[4];
  const u32 flags = a.as_u32(5);
  if ((flags & ~(kMove | kMoveAll)) != 0) return Errno::einval;
  if ((flags & kMoveAll) != 0 && !t.process().creds.capable(cap::kSysNice)) return Errno::eperm;
  const ostd::i32 pid = a.as_int(0);
  auto p = pid == 0 ? t.process_shared() : pid_table().process(pid);
  if (!p || p->state == Process::State::Reaped) return Errno::esrch;
  if (p.get() != &t.process() && !ptrace_may_access(t.process(), *p)) return Errno::eperm;
  if (p->state == Process::State::Zombie || !p->mm) return Errno::einval;  // no memory left
  for (u64 i = 0; i < count; ++i) {
    const Vaddr addr = TRY(ostd::UserPtr<u64>(pages + i * 8).read(t.vm()));
    if (nodes_p != 0) {
      const ostd::i32 node = TRY(ostd::UserPtr<ostd::i32>(nodes_p + i * 4).read(t.vm()));
      if (node < 0 || !node_online(static_cast<u64>(node))) {
        return Errno::enodev;
      }
    }
    const Vaddr page = addr & ~(ostd::kPageSize - 1);
    ostd::i32 st = 0;
    if (!p->mm->is_mapped(page)) {
      st = -static_cast<ostd::i32>(Errno::efault);
    } else if (p->mm->residency(page, 1).front() == 0) {
      st = -static_cast<ostd::i32>(Errno::enoent);
    }
    TRY(ostd::UserPtr<ostd::i32>(status_p + i * 4).write(t.vm(), st));
  }
  return 0;
}

// set_mempolicy_home_node(start, len, home_node, flags): the node a MPOL_BIND or
// MPOL_PREFERRED_MANY range policy allocates from first. Ranges without a policy are skipped;
// others answer EOPNOTSUPP, and a range where no policy was set ENOENT.
Result<long> sys_set_mempolicy_home_node(Thread& t, const SyscallArgs& a) {
  const Vaddr start = a[0];
  const u64 home = a[2];
  if (a[3] != 0) return Errno::einval;
  if ((start & (ostd::kPageSize - 1)) != 0) return Errno::einval;
  if (!node_online(home)) return Errno::einval;
  const u64 len = ostd::page_align_up(a[1]);
  u64 end = 0;
  if (len < a[1] || !ostd::checked_add<u64>(start, len, end)) return Errno::einval;
  if (end == start) return 0;
  auto& ranges = t.process().range_policies;
  bool any = false;
  for (const auto& r : ranges) {
    if (r.end <= start || r.start >= end) continue;
    if (r.policy.mode != kBind && r.policy.mode != kPreferredMany) return Errno::eopnotsupp;
    any = true;
  }
  if (!any) return Errno::enoent;  // no area of the range has a policy
  // The part of each policy inside the range takes the home node (cut as mbind cuts).
  ranges = cut_ranges(ranges, start, end, [&](const MemPolicy& p) {
    MemPolicy homed = p;
    homed.home_node = static_cast<int>(home);
    return std::optional<MemPolicy>(homed);
  });
  return 0;
}

}  // namespace

void register_mempolicy_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::set_mempolicy, &sys_set_mempolicy);
  t.set(S::get_mempolicy, &sys_get_mempolicy);
  t.set(S::mbind, &sys_mbind);
  t.set(S::migrate_pages, &sys_migrate_pages);
  t.set(S::set_mempolicy_home_node, &sys_set_mempolicy_home_node);
  t.set(S::move_pages, &sys_move_pages);
}

}  // namespace services
