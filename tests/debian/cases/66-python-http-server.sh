# TCP on loopback from Python: http.server in a thread serving files to urllib, a 404, and a
# socket.create_connection echo with a forked server.
python3 - <<'P'
import http.server, os, socket, threading, urllib.error, urllib.request
os.chdir("/tmp")
with open("/tmp/hello.txt", "w") as f:
    f.write("hello over tcp\n" * 1000)
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
threading.Thread(target=srv.serve_forever, daemon=True).start()
port = srv.server_address[1]
body = urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt").read().decode()
print(len(body), body.splitlines()[0])
try:
    urllib.request.urlopen(f"http://127.0.0.1:{port}/missing")
except urllib.error.HTTPError as e:
    print("status", e.code)
srv.shutdown()
srv.server_close()
ls = socket.create_server(("127.0.0.1", 0))
pid = os.fork()
if pid == 0:
    conn, _ = ls.accept()
    while data := conn.recv(4096):
        conn.sendall(data.upper())
    os._exit(0)
with socket.create_connection(ls.getsockname()) as c:
    c.sendall(b"echo me")
    print(c.recv(100).decode())
os.waitpid(pid, 0)
try:
    socket.create_connection(("127.0.0.1", 1))
except ConnectionRefusedError as e:
    print("refused", e.errno)
P
