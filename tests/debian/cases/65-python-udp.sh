# UDP on the loopback interface from Python: sendto/recvfrom with addresses, a connected socket
# and the ECONNREFUSED that ICMP port unreachable brings it.
python3 - <<'P'
import socket
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a.bind(("127.0.0.1", 0))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
b.sendto(b"hello", a.getsockname())
data, addr = a.recvfrom(64)
print(data, addr[0], addr[1] == b.getsockname()[1])
a.sendto(b"back", addr)
print(b.recv(64))
port = a.getsockname()[1]
a.close()
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.connect(("127.0.0.1", port))
c.send(b"anyone?")
try:
    c.recv(64)
except ConnectionRefusedError as e:
    print("refused:", e.errno)
P
