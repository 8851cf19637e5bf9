#!/usr/bin/env python3
"""Drives `umk run -- /bin/sh` through a pseudo-terminal like a user at a terminal would:
run a command, interrupt a `sleep 100` with ^C, stop one with ^Z and kill it, ask `tty`, end a
`cat` of typed input with one ^D, and exit.

usage: interactive_test.py UMK ROOTFS.cpio
Exits 0 when every step saw what a Linux terminal shows, 1 otherwise (with a transcript)."""
import os
import pty
import select
import sys
import time

umk, rootfs = sys.argv[1], sys.argv[2]
transcript = bytearray()


def fail(why):
    sys.stderr.write("FAIL: %s\n--- transcript ---\n%s\n" % (why, transcript.decode(errors="replace")))
    sys.exit(1)


pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "dumb"
    os.execv(umk, [umk, "run", "--initramfs", rootfs, "--", "/bin/sh"])


def expect(needle, timeout=10.0):
    """Reads until `needle` (bytes) appears in what was received since the last expect."""
    global transcript
    start = len(transcript) if not hasattr(expect, "mark") else expect.mark
    deadline = time.time() + timeout
    while time.time() < deadline:
        if needle in transcript[start:]:
            expect.mark = transcript.index(needle, start) + len(needle)
            return
        r, _, _ = select.select([fd], [], [], 0.1)
        if fd in r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            transcript += data
    fail("did not see %r" % needle)


def send(data):
    os.write(fd, data)


expect(b"# ")                       # the prompt (root)
send(b"echo hello-$((6*7))\r")
expect(b"hello-42")                 # echoed input is "hello-$((6*7))"; the output is the result
expect(b"# ")
send(b"sleep 100\r")
time.sleep(1.0)
t0 = time.time()
send(b"\x03")                       # ^C: SIGINT to the foreground job
expect(b"# ", timeout=5.0)
if time.time() - t0 > 4.0:
    fail("^C did not stop sleep promptly")
send(b"echo after-interrupt $?\r")
expect(b"after-interrupt 130")
expect(b"# ")
send(b"sleep 100\r")
time.sleep(1.0)
send(b"\x1a")                       # ^Z: SIGTSTP stops the foreground job
expect(b"Stopped", timeout=5.0)
expect(b"# ")
send(b"kill -9 %1; wait; echo killed-$?\r")
expect(b"killed-")
expect(b"# ")
send(b"cat &\r")                      # a background read of the tty stops the job (SIGTTIN)
time.sleep(0.5)
send(b"jobs\r")
expect(b"Stopped")
expect(b"# ")
send(b"kill -9 %cat; wait; echo bg-killed\r")
expect(b"bg-killed")
expect(b"# ")
send(b"stty -a | grep -c icanon\r")  # the tty answers TCGETS like a Linux terminal
expect(b"1")
expect(b"# ")
send(b"tty; readlink /proc/self/fd/0\r")  # the console is /dev/console, as for Linux's init
expect(b"/dev/console\r\n/dev/console")
expect(b"# ")
send(b"cat > /tmp/typed; echo cat-done $(cat /tmp/typed)\r")  # cat of the tty: one ^D ends it
time.sleep(0.5)
send(b"one line\r")
time.sleep(0.3)
send(b"\x04")
expect(b"cat-done one line", timeout=5.0)
expect(b"# ")
send(b"exit 7\r")
deadline = time.time() + 10
status = None
while time.time() < deadline:
    wpid, st = os.waitpid(pid, os.WNOHANG)
    if wpid == pid:
        status = st
        break
    try:
        r, _, _ = select.select([fd], [], [], 0.1)
        if fd in r:
            transcript += os.read(fd, 4096)
    except OSError:
        pass
if status is None:
    os.kill(pid, 9)
    fail("umk did not exit after `exit 7`")
if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 7:
    fail("umk exit status %r, expected 7" % status)
print("interactive session OK")
