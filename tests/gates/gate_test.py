#!/usr/bin/env python3
"""Proves each safe-C++ gate fails on a planted violation (and passes on clean code).

usage: gate_test.py SOURCE_ROOT CASE
CASE is one of the names in CASES below, or 'list'.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "."
CXX = os.environ.get("CXX", "c++")

# ---- gate 2: <ostd/enforce.h> poisons names (compiled with the services flags) ----
POISON = {
    "reinterpret_cast": "long f(int* p) { return reinterpret_cast<long>(p); }",
    "const_cast": "int* f(const int* p) { return const_cast<int*>(p); }",
    "asm": "void f() { asm(\"nop\"); }",
    "union": "union U { int a; float b; };",
    "goto": "int f(int x) { if (x) goto out; return 1; out: return 0; }",
    "volatile": "volatile int g;",
    "memcpy": "void f(char* d, const char* s) { memcpy(d, s, 1); }",
    "malloc": "void* f() { return malloc(4); }",
    "va_list": "void f(int n, ...) { va_list ap; (void)ap; }",
}
# ---- the escape hatches of ostd's public headers are private: services cannot compile them ----
PRIVATE = {
    "from_phys_writer": "#include <ostd/mm/io.h>\n" + "void f() { auto w = ostd::VmWriter::from_phys(0x1000, 8); (void)w; }",
    "from_phys_reader": "#include <ostd/mm/io.h>\n" + "void f() { auto r = ostd::VmReader::from_phys(0x1000, 8); (void)r; }",
    "frame_from_paddr": "#include <ostd/mm/frame.h>\n" + "void f() { auto fr = ostd::Frame::from_paddr_add_ref(0x1000); (void)fr; }",
}
# ...and the backend interface and ostd's internals are not on services' include path at all.
HIDDEN = {
    "backend_interface": "#include <ostd/arch/backend.h>\n",
    "ostd_internal": "#include <ostd/internal.h>\n",
}
# ---- only Pod types are read out of bytes others chose (ostd/pod.h) ----
POD_PRELUDE = "#include <ostd/bytes.h>\n#include <ostd/mm/io.h>\nusing ostd::u32;\n"
POD = {
    "bool": ("auto f(std::span<const ostd::u8> b) { return ostd::load_from<bool>(b, 0); }", "Pod"),
    "enum": ("enum class E : u32 { a };\n"
             "auto f(ostd::VmSpace& vm) { return ostd::UserPtr<E>(0x1000).read(vm); }", "Pod"),
    "pointer": ("void f(int*& p) { auto b = ostd::writable_bytes_of(p); (void)b; }", "Pod"),
    "undeclared_struct": ("struct S { u32 a; };\n"
                          "auto f(std::span<const ostd::u8> b) { return ostd::load_from<S>(b, 0); }", "Pod"),
    "inherited_declaration": ("struct S { u32 a; OSTD_POD(S, a); };\nstruct D : S {};\n"
                              "auto f(std::span<const ostd::u8> b) { return ostd::load_from<D>(b, 0); }", "Pod"),
    "bool_field": ("struct S { u32 a; bool b; char pad[3]; OSTD_POD(S, a, b, pad); };", "OSTD_POD"),
    "pointer_field": ("struct S { int* p; OSTD_POD(S, p); };", "OSTD_POD"),
    "field_left_out": ("struct S { u32 a; u32 b; OSTD_POD(S, a); };", "OSTD_POD"),
    "padding": ("struct S { u32 a; ostd::u64 b; OSTD_POD(S, a, b); };", "OSTD_POD"),
}
CLEAN_POD = ("struct S { u32 a; std::array<ostd::u16, 2> b; ostd::u8 c[4]; OSTD_POD(S, a, b, c); };\n"
             "auto f(std::span<const ostd::u8> b) { return ostd::load_from<S>(b, 0); }\n"
             "auto g(ostd::VmSpace& vm) { return ostd::UserPtr<S>(0x1000).read(vm); }\n"
             "void h() { auto fn = [] { struct L { u32 x; OSTD_POD(L, x); }; L l{}; return ostd::writable_bytes_of(l).size(); };"
             " (void)fn; }\n")

CLEAN_PRIVATE = ("#include <ostd/mm/frame.h>\n#include <ostd/mm/io.h>\n"
                 "void f(ostd::Frame& fr) { auto w = fr.writer(16, 8); (void)w; }\n")

CLEAN_POISON = "#include <vector>\n#include <ostd/enforce.h>\nint f(std::vector<int>& v) { return static_cast<int>(v.size()); }\n"

# ---- gate 3: clang-tidy with services/.clang-tidy ----
TIDY = {
    "cstyle_cast": "const char* f(const int* p) { return (const char*)p; }",
    "pointer_arithmetic": "int f(const int* p) { return *(p + 1); }",
    "c_array": "int f() { int a[4] = {1, 2, 3, 4}; return a[1]; }",
    "owning_new": "struct S { int x; };\nS* f() { return new S{1}; }",
    "recursion": "int f(int n) { return n <= 0 ? 0 : f(n - 1) + 1; }",
    "uninitialized": "int g(int*);\nint f() { int x; g(&x); return x; }",
    "system_include": "#include <cstdio>\nint f() { return 1; }",
    "global_mutable": "int counter = 0;\nint f() { return ++counter; }",
    "naming": "class bad_name { public: int x = 0; };\nint f() { return bad_name{}.x; }",
}
CLEAN_TIDY = "#include <array>\n#include <span>\nint sum(std::span<const int> s) {\n  int t = 0;\n  for (int v : s) {\n    t += v;\n  }\n  return t;\n}\n"

# ---- gate 5: tests/gates/unchecked_views.query (clang-query): views from a pointer or an
# iterator and a length ----
VIEW_PRELUDE = "#include <span>\n#include <string_view>\n#include <vector>\nint sum(std::span<const int> s);\n"
VIEWS = {
    "span_pointer_length": "int f(const int& x) { return sum(std::span<const int>(&x, 64)); }",
    "span_ctad_pointer_length": "int f(const int& x) { return sum(std::span(&x, 64)); }",
    "span_iterator_length": "int f(const std::vector<int>& v) { return sum(std::span<const int>(v.begin(), 64)); }",
    "span_first_last": "int f(const std::vector<int>& v) { return sum(std::span<const int>(v.begin(), v.begin() + 64)); }",
    "span_braced_argument": "int f(const int& x) { return sum({&x, 64}); }",
    "span_braced_return": "std::span<const int> f(const int& x) { return {&x, 64}; }",
    "string_view_pointer_length": "std::string_view f(const char* p) { return std::string_view(p, 64); }",
    "string_view_computed_pointer": "std::string_view f(const char* p) { std::string_view v = p; return v; }",
}
CLEAN_VIEWS = """using namespace std::string_view_literals;
int f(const std::vector<int>& v, bool b) {
  std::string_view lit = "literal";
  std::string_view pick = b ? "yes" : "no";
  std::string_view sv = "suffix"sv;
  std::array<int, 3> a{1, 2, 3};
  return sum(v) + sum(std::span<const int>(v).subspan(1, 2)) + sum(a) +
         static_cast<int>(lit.size() + pick.size() + sv.size());
}
"""

# ---- gate 4: scripts/check-boundary on a planted tree ----
ENF = "#include <ostd/enforce.h>\n"
BOUNDARY = {
    "host_header": {"services/a.cpp": "#include <unistd.h>\n" + ENF},
    "ostd_internals": {"services/a.cpp": "#include <ostd/arch/backend.h>\n" + ENF},
    "enforce_not_last": {"services/a.cpp": ENF + "#include <vector>\n"},
    "enforce_missing": {"services/a.cpp": "#include <vector>\nint f() { return 0; }\n"},
    "nolint": {"services/a.cpp": ENF + "int f() { return 0; }  // NOLINT\n"},
    "extern_c": {"services/a.cpp": ENF + "extern \"C\" int f();\n"},
    "attribute": {"services/a.cpp": ENF + "__attribute__((used)) int f() { return 0; }\n"},
    "thread_local": {"services/a.cpp": ENF + "thread_local int x = 0;\n"},
    "pragma": {"services/a.cpp": "#pragma GCC diagnostic ignored \"-Wall\"\n" + ENF},
    "static_cast_pointer": {"services/a.cpp": ENF + "int* f(void* p) { return static_cast<int*>(p); }\n"},
    "span_data": {"services/a.cpp": "#include <span>\n" + ENF + "const int* f(std::span<int> s) { return s.data(); }\n"},
    "builtin_memcpy": {"services/a.cpp": ENF + "void f(char* d, const char* s) { __builtin_memcpy(d, s, 1); }\n"},
    "builtin_bit_cast": {"services/a.cpp": ENF + "int* f(long a) { return __builtin_bit_cast(int*, a); }\n"},
    "c_str": {"services/a.cpp": "#include <string>\n" + ENF + "char f(const std::string& s) { return s.c_str()[9]; }\n"},
    "addressof": {"services/a.cpp": "#include <memory>\n" + ENF + "int* f(int& x) { return std::addressof(x); }\n"},
    "to_address": {"services/a.cpp": "#include <memory>\n#include <vector>\n" + ENF +
                   "int* f(std::vector<int>& v) { return std::to_address(v.begin()); }\n"},
    "std_data": {"services/a.cpp": "#include <vector>\n" + ENF + "int* f(std::vector<int>& v) { return std::data(v); }\n"},
    "naked_new": {"services/a.cpp": ENF + "int* f() { return new int(1); }\n"},
    "header_poison": {"services/a.h": "#pragma once\ninline long f(int* p) { return reinterpret_cast<long>(p); }\n"},
    "quoted_outside": {"services/a.cpp": "#include \"../ostd-host-backend/src/host_internal.h\"\n" + ENF},
    "ostd_includes_backend": {"ostd/src/x.cpp": "#include \"host_internal.h\"\n"},
    "ostd_includes_service": {"ostd/src/x.cpp": "#include \"services/kernel_main.h\"\n"},
    # The trusted code: every unsafe construct carries a SAFETY comment close above it.
    "unsafe_cast_without_safety": {"ostd/src/x.cpp": "long f(int* p) { return reinterpret_cast<long>(p); }\n"},
    "unsafe_memcpy_without_safety": {"ostd-host-backend/src/x.cpp":
                                     "#include <cstring>\nvoid f(char* d, const char* s) { std::memcpy(d, s, 1); }\n"},
    "unsafe_asm_without_safety": {"ostd-baremetal-backend/x86_64/x.h": "inline void f() { asm volatile(\"pause\"); }\n"},
    "unsafe_builtin_without_safety": {"ostd/src/x.cpp": "void* f() { return __builtin_frame_address(0); }\n"},
    "unsafe_safety_across_blank_line": {"ostd/src/x.cpp": "// SAFETY: not this one's\n\n"
                                        "int* f(void* p) { return static_cast<int*>(p); }\n"},
    "unsafe_safety_too_far_above": {"ostd/src/x.cpp": "// SAFETY: too far above\nint a();\nint b();\nint c();\n"
                                    "int d();\nint* f(const int* p) { return const_cast<int*>(p); }\n"},
    "backend_includes_service": {"services/kernel_main.h": "#pragma once\n",
                                 "ostd-host-backend/src/x.cpp": "#include \"kernel_main.h\"\n"},
}

# Unsafe constructs in the trusted code with their SAFETY comments (above or on the line), and
# builtins that only compute: the gate accepts them.
CLEAN_UNSAFE = ("#include <cstring>\n"
                "// SAFETY: p points to a live int (the caller's contract).\n"
                "long f(int* p) { return reinterpret_cast<long>(p); }\n\n"
                "void g(char* d, const char* s) {\n"
                "  // SAFETY: both hold at least one byte;\n"
                "  // the ranges do not overlap.\n"
                "  std::memcpy(d, s, 1);\n"
                "}\n\n"
                "inline void h() { asm volatile(\"pause\"); }  // SAFETY: no operands, no memory\n"
                "bool k(unsigned a, unsigned b, unsigned& c) { return __builtin_add_overflow(a, b, &c); }\n")


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def compile_services(code, tmp):
    src = os.path.join(tmp, "case.cpp")
    with open(src, "w") as f:
        f.write(code)
    return run([CXX, "-std=c++20", "-fsyntax-only", "-fno-exceptions", "-fno-rtti", "-Werror",
                "-I", os.path.join(ROOT, "ostd/include"), src])


def tidy(code, tmp):
    src = os.path.join(tmp, "case.cpp")
    with open(src, "w") as f:
        f.write(code)
    return run(["clang-tidy", "--quiet", "--config-file=" + os.path.join(ROOT, "services/.clang-tidy"),
                src, "--", "-std=c++20", "-I", os.path.join(ROOT, "ostd/include")])


def compile_expect(code, tmp, expect):
    """A compile that must fail for the right reason (`expect` in the diagnostics)."""
    r = compile_services(code, tmp)
    if r.returncode != 0 and expect not in r.stdout:
        r.returncode = 0  # failed, but not the way the gate means: report it as not rejected
        r.stdout += f"\n(the compile failed without '{expect}')"
    return r


def views(code, tmp, build):
    """clang-query with the gate's matcher over one planted services/ file (or, with code None,
    every services translation unit of the build's compile database). Fails on any match."""
    query = os.path.join(ROOT, "tests/gates/unchecked_views.query")
    if code is None:
        db = json.load(open(os.path.join(build, "compile_commands.json")))
        services = os.path.join(ROOT, "services") + os.sep
        files = sorted({e["file"] for e in db if os.path.abspath(e["file"]).startswith(services)})
        if len(files) < 20:
            return subprocess.CompletedProcess([], 1, f"only {len(files)} services files in {build}", "")
        half = (len(files) + 1) // 2
        procs = [subprocess.Popen(["clang-query", "-p", build, "-f", query] + chunk, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
                 for chunk in (files[:half], files[half:])]
        out = "".join(p.communicate()[0] for p in procs)
        failed = any(p.returncode != 0 for p in procs)
    else:
        d = os.path.join(tmp, "services")
        os.makedirs(d)
        src = os.path.join(d, "case.cpp")
        with open(src, "w") as f:
            f.write(VIEW_PRELUDE + "#include <array>\n" + code + "\n")
        r = run(["clang-query", "-f", query, src, "--", "-std=c++20", "-I", os.path.join(ROOT, "ostd/include")])
        out, failed = r.stdout, r.returncode != 0
    matches = sum(int(m) for m in re.findall(r"^(\d+) match", out, re.M))
    if failed or "error:" in out:
        return subprocess.CompletedProcess([], 2, out + "\nclang-query failed", "")
    return subprocess.CompletedProcess([], 1 if matches else 0, out, "")


def boundary(files, tmp):
    for rel, text in files.items():
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return run([os.path.join(ROOT, "scripts/check-boundary"), tmp])


def cases():
    out = {"poison_clean": ("poison", CLEAN_POISON, True), "tidy_clean": ("tidy", CLEAN_TIDY, True),
           "boundary_tree": ("tree", None, True),
           "boundary_unsafe_with_safety": ("boundary", {"ostd/src/x.cpp": CLEAN_UNSAFE}, True)}
    out["private_clean"] = ("private", CLEAN_PRIVATE, True)
    out["pod_clean"] = ("pod", (POD_PRELUDE + CLEAN_POD, "Pod"), True)
    for k, (code, expect) in POD.items():
        out["pod_" + k] = ("pod", (POD_PRELUDE + code + "\n", expect), False)
    for k, v in PRIVATE.items():
        out["private_" + k] = ("private", v + "\n", False)
    for k, v in HIDDEN.items():
        out["hidden_" + k] = ("hidden", v + "int f() { return 0; }\n", False)
    out["views_clean"] = ("views", CLEAN_VIEWS, True)
    out["views_tree"] = ("views", None, True)
    for k, v in VIEWS.items():
        out["views_" + k] = ("views", v, False)
    for k, v in POISON.items():
        out["poison_" + k] = ("poison", "#include <cstring>\n#include <cstdlib>\n#include <cstdarg>\n" + ENF + v + "\n", False)
    for k, v in TIDY.items():
        out["tidy_" + k] = ("tidy", v + "\n", False)
    for k, v in BOUNDARY.items():
        out["boundary_" + k] = ("boundary", v, False)
    return out


def main():
    name = sys.argv[2] if len(sys.argv) > 2 else "list"
    all_cases = cases()
    if name == "list":
        print(";".join(sorted(all_cases)))
        return 0
    kind, payload, should_pass = all_cases[name]
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "poison":
            r = compile_services(payload, tmp)
        elif kind == "tidy":
            r = tidy(payload, tmp)
            # clang-tidy exits non-zero on errors; require an actual diagnostic too.
            if r.returncode != 0 and "error:" not in r.stdout:
                print(r.stdout)
                print("clang-tidy failed without a diagnostic")
                return 1
        elif kind == "private":
            r = compile_expect(payload, tmp, "private")
        elif kind == "pod":
            r = compile_expect(payload[0], tmp, payload[1])
        elif kind == "hidden":
            r = compile_expect(payload, tmp, "No such file or directory")
        elif kind == "views":
            r = views(payload, tmp, os.environ.get("GATE_BUILD_DIR", os.path.join(ROOT, "build/host")))
            if r.returncode == 2:
                print(r.stdout[-3000:])
                return 1
        elif kind == "tree":
            r = run([os.path.join(ROOT, "scripts/check-boundary"), ROOT])
        else:
            r = boundary(payload, tmp)
    passed = r.returncode == 0
    print(r.stdout[-3000:])
    if passed != should_pass:
        print(f"gate case {name}: expected the gate to {'pass' if should_pass else 'fail'}, "
              f"but it {'passed' if passed else 'failed'}")
        return 1
    print(f"gate case {name}: ok ({'passed' if passed else 'rejected'} as expected)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
