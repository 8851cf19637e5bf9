#!/usr/bin/env python3
"""compare.py NATIVE.txt GUEST.txt — compares run-all.sh's output from the native chroot with
the kernel's: per case, the exit status and stdout must be equal (stderr is shown, not compared).
Prints one line per case and closes with "N passed, M failed"; exits 1 when any case differs or
is missing."""
import sys


def blocks(path):
    out, name, rc, lines, in_err = {}, None, None, [], False
    for line in open(path, encoding="utf-8", errors="replace"):
        if line.startswith("=== "):
            if name is not None:
                out[name] = (rc, "".join(lines), err)
            parts = line.split()
            name = parts[1] if len(parts) > 1 and parts[1] != "end" else None
            rc = parts[2] if len(parts) > 2 else None
            lines, err, in_err = [], [], False
        elif line == "--- stderr\n":
            in_err = True
        elif name is not None:
            (err if in_err else lines).append(line)
    return out


native, guest = blocks(sys.argv[1]), blocks(sys.argv[2])
passed = failed = 0
for name in sorted(native):
    n_rc, n_out, _ = native[name]
    if name not in guest:
        print("FAIL %s: did not run (the kernel's run ended early)" % name)
        failed += 1
        continue
    g_rc, g_out, g_err = guest[name]
    if (n_rc, n_out) == (g_rc, g_out):
        print("ok   %s" % name)
        passed += 1
        continue
    failed += 1
    print("FAIL %s: native %s, kernel %s" % (name, n_rc, g_rc))
    print("  --- native stdout\n" + "".join("  " + l for l in n_out.splitlines(True)))
    print("  --- kernel stdout\n" + "".join("  " + l for l in g_out.splitlines(True)))
    print("  --- kernel stderr\n" + "".join("  " + l for l in "".join(g_err).splitlines(True)))
if not native:
    print("FAIL: the native run printed no case")
    failed += 1
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
