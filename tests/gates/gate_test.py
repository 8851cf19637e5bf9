#!/usr/bin/env python3
"""Proves each safe-C++ gate fails on a planted violation (and passes on clean code).

usage: gate_test.py SOURCE_ROOT CASE
CASE is one of the names in CASES below, or 'list'.
"""
import os
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
    "memcpy": "void f(char* d, const char* s) { __builtin_memcpy(d, s, 1); memcpy(d, s, 1); }",
    "malloc": "void* f() { return malloc(4); }",
    "va_list": "void f(int n, ...) { va_list ap; (void)ap; }",
}
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
    "naked_new": {"services/a.cpp": ENF + "int* f() { return new int(1); }\n"},
    "header_poison": {"services/a.h": "#pragma once\ninline long f(int* p) { return reinterpret_cast<long>(p); }\n"},
    "quoted_outside": {"services/a.cpp": "#include \"../ostd-host-backend/src/host_internal.h\"\n" + ENF},
    "ostd_includes_backend": {"ostd/src/x.cpp": "#include \"host_internal.h\"\n"},
    "ostd_includes_service": {"ostd/src/x.cpp": "#include \"services/kernel_main.h\"\n"},
    "backend_includes_service": {"services/kernel_main.h": "#pragma once\n",
                                 "ostd-host-backend/src/x.cpp": "#include \"kernel_main.h\"\n"},
}


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


def boundary(files, tmp):
    for rel, text in files.items():
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return run([os.path.join(ROOT, "scripts/check-boundary"), tmp])


def cases():
    out = {"poison_clean": ("poison", CLEAN_POISON, True), "tidy_clean": ("tidy", CLEAN_TIDY, True),
           "boundary_tree": ("tree", None, True)}
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
