python3 -c '
import hashlib, zlib, base64, binascii
print(hashlib.sha256(b"umk").hexdigest())
print(hashlib.md5(b"umk").hexdigest(), hashlib.blake2b(b"umk", digest_size=8).hexdigest())
c = zlib.compress(b"x" * 10000); print(len(zlib.decompress(c)), zlib.crc32(b"umk"))
print(base64.b64encode(b"framekernel").decode(), binascii.hexlify(b"ok").decode())'
