# Seed inputs for the frames fuzz target: flags byte 1 (fix checksums), then u16-length frames.
import struct, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
GUEST = bytes([0x52,0x54,0x00,0x12,0x34,0x56]); HOST = bytes([0x52,0x55,0x0a,0x00,0x02,0x02])
G_IP = bytes([10,0,2,15]); H_IP = bytes([10,0,2,2])
def eth(t, payload, dst=GUEST): return dst + HOST + struct.pack('>H', t) + payload
def ip(proto, payload, ident=1, frag=0, src=H_IP, dst=G_IP):
    return struct.pack('>BBHHHBBH', 0x45, 0, 20+len(payload), ident, frag, 64, proto, 0) + src + dst + payload
def tcp(sport, dport, seq, ack, flags, data=b'', opts=b''):
    off = (20+len(opts))//4
    return struct.pack('>HHIIBBHHH', sport, dport, seq, ack, off<<4, flags, 65535, 0, 0) + opts + data
def udp(sport, dport, data): return struct.pack('>HHHH', sport, dport, 8+len(data), 0) + data
arp_reply = eth(0x0806, struct.pack('>HHBBH', 1, 0x0800, 6, 4, 2) + HOST + H_IP + GUEST + G_IP)
arp_req = eth(0x0806, struct.pack('>HHBBH', 1, 0x0800, 6, 4, 1) + HOST + H_IP + bytes(6) + G_IP, dst=b'\xff'*6)
syn = eth(0x0800, ip(6, tcp(40000, 80, 1000, 0, 0x02, opts=b'\x02\x04\x05\xb4')))
ack = eth(0x0800, ip(6, tcp(40000, 80, 1001, 0x1001, 0x10)))
data = eth(0x0800, ip(6, tcp(40000, 80, 1001, 0x1001, 0x18, b'GET / HTTP/1.0\r\n\r\n')))
fin = eth(0x0800, ip(6, tcp(40000, 80, 1019, 0x1001, 0x11)))
dns = eth(0x0800, ip(17, udp(5353, 53, b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x00\x00\x01\x00\x01')))
ping = eth(0x0800, ip(1, b'\x08\x00\x00\x00\x00\x01\x00\x01' + b'x'*32))
big = udp(5353, 53, b'A'*3000)
frag1 = eth(0x0800, ip(17, big[:1480], ident=7, frag=0x2000))
frag2 = eth(0x0800, ip(17, big[1480:], ident=7, frag=1480//8))
rst = eth(0x0800, ip(6, tcp(80, 32768, 0, 0, 0x14)))
synack = eth(0x0800, ip(6, tcp(80, 32768, 5000, 0x1001, 0x12, opts=b'\x02\x04\x05\xb4')))
def write(name, frames, flags=1):
    b = bytes([flags]) + b''.join(struct.pack('>H', len(f)) + f for f in frames)
    open(os.path.join(out, name), 'wb').write(b)
# IPv6: the guest is fec0::5054:ff:fe12:3456 (and fe80:: with the same identifier); the peer
# fec0::2 / fe80::2.
G6 = bytes.fromhex('fec00000000000005054' '00fffe123456'); G6LL = bytes.fromhex('fe800000000000005054' '00fffe123456')
H6 = bytes.fromhex('fec0' + '00'*13 + '02'); H6LL = bytes.fromhex('fe80' + '00'*13 + '02')
ALL_NODES = bytes.fromhex('ff02' + '00'*13 + '01'); SOLICITED = bytes.fromhex('ff02' + '00'*9 + '01ff123456')
def ip6(nh, payload, src=H6, dst=G6, hops=64):
    return struct.pack('>IHBB', 0x60000000, len(payload), nh, hops) + src + dst + payload
def mcast(a): return b'\x33\x33' + a[12:]
ns = eth(0x86dd, ip6(58, bytes([135,0,0,0,0,0,0,0]) + G6 + bytes([1,1]) + HOST, src=H6LL, dst=SOLICITED, hops=255), dst=mcast(SOLICITED))
na = eth(0x86dd, ip6(58, bytes([136,0,0,0,0x60,0,0,0]) + H6 + bytes([2,1]) + HOST, src=H6, dst=G6LL, hops=255))
ra = eth(0x86dd, ip6(58, bytes([134,0,0,0,64,0,0x07,0x08]) + bytes(8) + bytes([1,1]) + HOST +
                     bytes([3,4,64,0xc0]) + struct.pack('>III', 86400, 14400, 0) + bytes.fromhex('fd00' + '00'*14),
                     src=H6LL, dst=ALL_NODES, hops=255), dst=mcast(ALL_NODES))
ping6 = eth(0x86dd, ip6(58, bytes([128,0,0,0,0,1,0,1]) + b'y'*32))
syn6 = eth(0x86dd, ip6(6, tcp(40001, 80, 2000, 0, 0x02, opts=b'\x02\x04\x05\xa0')))
udp6 = eth(0x86dd, ip6(17, udp(5354, 53, b'\x56\x78\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x1c\x00\x01')))
hbh_udp6 = eth(0x86dd, ip6(0, bytes([17,0,1,4,0,0,0,0]) + udp(5355, 53, b'hop-by-hop')))
frag6 = eth(0x86dd, ip6(44, bytes([17,0,0,1,0,0,0,9]) + udp(5356, 53, b'fragment')))
write('ipv6-neighbours', [na, ns, ra])
write('ipv6-echo-tcp-udp', [na, ping6, syn6, udp6])
write('ipv6-extension-headers', [na, hbh_udp6, frag6])
write('arp', [arp_req, arp_reply])
write('tcp-handshake-and-data', [arp_reply, syn, ack, data, fin])
write('udp-dns', [arp_reply, dns])
write('icmp-echo', [arp_reply, ping])
write('udp-fragments', [arp_reply, frag2, frag1])
write('tcp-to-connect', [arp_reply, synack, rst])
write('raw-garbage', [b'\x00'*14, b'\xff'*60], flags=0)
