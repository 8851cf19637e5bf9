python3 -c '
import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c"))
print(libc.strlen(b"framekernel"), libc.abs(-42))
buf = ctypes.create_string_buffer(16); libc.snprintf(buf, 16, b"%d-%s", 7, b"x"); print(buf.value.decode())
libm = ctypes.CDLL(ctypes.util.find_library("m")); libm.sqrt.restype = ctypes.c_double; libm.sqrt.argtypes = [ctypes.c_double]
print(libm.sqrt(2.0))'
