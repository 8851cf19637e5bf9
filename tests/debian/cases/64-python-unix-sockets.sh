# AF_UNIX from Python: a path-bound server and a forked client, descriptor passing
# (socket.send_fds), datagrams with addresses, and multiprocessing (its pool talks over pipes and
# sockets and passes descriptors).
python3 - <<'P'
import multiprocessing, os, socket
path = "/tmp/py-unix.sock"
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
pid = os.fork()
if pid == 0:
    c = socket.socket(socket.AF_UNIX)
    c.connect(path)
    c.sendall(b"ping")
    print("client got", c.recv(4).decode(), flush=True)
    os._exit(0)
conn, _ = srv.accept()
print("server got", conn.recv(4).decode(), flush=True)
conn.sendall(b"pong")
os.waitpid(pid, 0)
print("peer name", conn.getsockname(), repr(conn.getpeername()))
os.unlink(path)
a, b = socket.socketpair()
r, w = os.pipe()
socket.send_fds(a, [b"f"], [w])
msg, fds, flags, addr = socket.recv_fds(b, 1, 1)
os.close(w)
os.write(fds[0], b"via fd")
os.close(fds[0])
print(msg, os.read(r, 16).decode(), os.read(r, 16))
d1 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
d1.bind("\0py-dgram-a")
d2 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
d2.bind("\0py-dgram-b")
d2.sendto(b"datagram", "\0py-dgram-a")
print(d1.recvfrom(64))
with multiprocessing.Pool(2) as p:
    print(sum(p.map(abs, range(-50, 50))))
q = multiprocessing.Queue()
proc = multiprocessing.Process(target=q.put, args=("from a process",))
proc.start()
print(q.get())
proc.join()
print("exit", proc.exitcode)
P
