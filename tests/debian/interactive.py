#!/usr/bin/env python3
"""Debian's bash and vi at the console, through a pseudo-terminal, as a user types them: bash's
line editing (readline: cursor keys, ^A, history), job control (^Z, bg, fg, ^C) and vi (insert,
save, quit). usage: interactive.py RUNNER... (a umk or qemu-run command line; the Debian image
must have vim-tiny). Exits 0 when every step showed what a Linux terminal shows."""
import os
import pty
import select
import sys
import time

transcript = bytearray()
mark = 0


def fail(why):
    sys.stderr.write("FAIL: %s\n--- transcript ---\n%s\n" % (why, transcript.decode(errors="replace")))
    sys.exit(1)


pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm"
    os.execv(sys.argv[1], sys.argv[1:] + ["--", "/bin/bash", "--login"])


def expect(needle, timeout=20.0):
    global transcript, mark
    deadline = time.time() + timeout
    while time.time() < deadline:
        # (a host terminal that is not in raw mode, as QEMU's stdio console, adds a \r to \r\n)
        at = transcript.replace(b"\r\r\n", b"\r\n").find(needle, mark)
        if at >= 0:
            mark = at + len(needle)
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


def send(data, pause=0.2):
    os.write(fd, data)
    time.sleep(pause)


expect(b"# ")
send(b"export PS1='$ '\r")
expect(b"$ ")
# readline: type "echo wrld", go left twice, insert "o" -> "echo world"; ^A and a prefix.
send(b"echo wrld")
send(b"\x1b[D\x1b[D\x1b[D")
send(b"o\r")
expect(b"world\r\n")
send(b"cho x$((6*7))\x01e\r")        # ^A goes to the start of the line
expect(b"x42\r\n")
send(b"\x1b[A\r")                    # up arrow: the last command again
expect(b"x42\r\n")
# job control
send(b"sleep 100\r", pause=1.0)
send(b"\x1a")                        # ^Z
expect(b"Stopped")
send(b"bg\r")
expect(b"sleep 100 &")
send(b"fg\r", pause=1.0)
send(b"\x03")                        # ^C the foreground job
send(b"echo status=$?\r")
expect(b"status=130")
# vi (vim-tiny): write a file, quit, show it
send(b"vi /tmp/note\r", pause=2.0)
send(b"ihello from vi\x1b", pause=0.5)
send(b":wq\r", pause=1.0)
send(b"cat /tmp/note | tr a-z A-Z\r")
expect(b"HELLO FROM VI\r\n")
send(b"exit 5\r")
deadline = time.time() + 20
while time.time() < deadline:
    wpid, st = os.waitpid(pid, os.WNOHANG)
    if wpid == pid:
        if not os.WIFEXITED(st) or os.WEXITSTATUS(st) != 5:
            fail("exit status %r, expected 5" % st)
        print("interactive Debian session OK")
        sys.exit(0)
    try:
        r, _, _ = select.select([fd], [], [], 0.1)
        if fd in r:
            transcript += os.read(fd, 4096)
    except OSError:
        pass
os.kill(pid, 9)
fail("the shell did not exit")
