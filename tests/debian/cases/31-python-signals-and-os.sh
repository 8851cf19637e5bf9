python3 -c '
import os, signal, time
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1); print(got)
r, w = os.pipe(); pid = os.fork()
if pid == 0:
    os.close(r); os.write(w, b"child says hi"); os._exit(5)
os.close(w); print(os.read(r, 100).decode()); _, st = os.waitpid(pid, 0); print(os.waitstatus_to_exitcode(st))
signal.alarm(1); signal.signal(signal.SIGALRM, lambda s, f: print("alarm")); signal.pause()'
