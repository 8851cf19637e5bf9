#include <ostd/error.h>
#include <ostd/log.h>

namespace ostd {

std::string_view errno_name(Errno e) {
  switch (e) {
    // clang-format off
#define X(lower, upper) \
  case Errno::lower: return upper;
    X(eperm, "EPERM") X(enoent, "ENOENT") X(esrch, "ESRCH") X(eintr, "EINTR") X(eio, "EIO")
    X(enxio, "ENXIO") X(e2big, "E2BIG") X(enoexec, "ENOEXEC") X(ebadf, "EBADF")
    X(echild, "ECHILD") X(eagain, "EAGAIN") X(enomem, "ENOMEM") X(eacces, "EACCES")
    X(efault, "EFAULT") X(enotblk, "ENOTBLK") X(ebusy, "EBUSY") X(eexist, "EEXIST")
    X(exdev, "EXDEV") X(enodev, "ENODEV") X(enotdir, "ENOTDIR") X(eisdir, "EISDIR")
    X(einval, "EINVAL") X(enfile, "ENFILE") X(emfile, "EMFILE") X(enotty, "ENOTTY")
    X(etxtbsy, "ETXTBSY") X(efbig, "EFBIG") X(enospc, "ENOSPC") X(espipe, "ESPIPE")
    X(erofs, "EROFS") X(emlink, "EMLINK") X(epipe, "EPIPE") X(edom, "EDOM") X(erange, "ERANGE")
    X(edeadlk, "EDEADLK") X(enametoolong, "ENAMETOOLONG") X(enolck, "ENOLCK")
    X(enosys, "ENOSYS") X(enotempty, "ENOTEMPTY") X(eloop, "ELOOP") X(enomsg, "ENOMSG")
    X(eidrm, "EIDRM") X(enostr, "ENOSTR") X(enodata, "ENODATA") X(etime, "ETIME")
    X(eproto, "EPROTO") X(eoverflow, "EOVERFLOW") X(ebadfd, "EBADFD") X(elibbad, "ELIBBAD") X(eilseq, "EILSEQ")
    X(erestart, "ERESTART") X(eusers, "EUSERS")
    X(enotsock, "ENOTSOCK") X(edestaddrreq, "EDESTADDRREQ") X(emsgsize, "EMSGSIZE")
    X(eprototype, "EPROTOTYPE") X(enoprotoopt, "ENOPROTOOPT")
    X(eprotonosupport, "EPROTONOSUPPORT") X(esocktnosupport, "ESOCKTNOSUPPORT")
    X(eopnotsupp, "EOPNOTSUPP")
    X(eafnosupport, "EAFNOSUPPORT") X(eaddrinuse, "EADDRINUSE")
    X(eaddrnotavail, "EADDRNOTAVAIL") X(enetdown, "ENETDOWN") X(enetunreach, "ENETUNREACH")
    X(econnaborted, "ECONNABORTED") X(econnreset, "ECONNRESET") X(enobufs, "ENOBUFS")
    X(eisconn, "EISCONN") X(enotconn, "ENOTCONN") X(eshutdown, "ESHUTDOWN")
    X(etoomanyrefs, "ETOOMANYREFS") X(etimedout, "ETIMEDOUT") X(estale, "ESTALE")
    X(econnrefused, "ECONNREFUSED") X(ehostunreach, "EHOSTUNREACH") X(ealready, "EALREADY")
    X(einprogress, "EINPROGRESS") X(ecanceled, "ECANCELED") X(erestartsys, "ERESTARTSYS")
    X(erestartnointr, "ERESTARTNOINTR") X(erestartnohand, "ERESTARTNOHAND")
    X(erestart_restartblock, "ERESTART_RESTARTBLOCK")
#undef X
    // clang-format on
  }
  return "E?";
}

std::string_view errno_message(Errno e) {
  switch (e) {
    case Errno::eperm: return "Operation not permitted";
    case Errno::enoent: return "No such file or directory";
    case Errno::esrch: return "No such process";
    case Errno::eintr: return "Interrupted system call";
    case Errno::eio: return "Input/output error";
    case Errno::enxio: return "No such device or address";
    case Errno::e2big: return "Argument list too long";
    case Errno::enoexec: return "Exec format error";
    case Errno::ebadf: return "Bad file descriptor";
    case Errno::echild: return "No child processes";
    case Errno::eagain: return "Resource temporarily unavailable";
    case Errno::enomem: return "Cannot allocate memory";
    case Errno::eacces: return "Permission denied";
    case Errno::efault: return "Bad address";
    case Errno::enotblk: return "Block device required";
    case Errno::ebusy: return "Device or resource busy";
    case Errno::eexist: return "File exists";
    case Errno::exdev: return "Invalid cross-device link";
    case Errno::enodev: return "No such device";
    case Errno::enotdir: return "Not a directory";
    case Errno::eisdir: return "Is a directory";
    case Errno::einval: return "Invalid argument";
    case Errno::enfile: return "Too many open files in system";
    case Errno::emfile: return "Too many open files";
    case Errno::enotty: return "Inappropriate ioctl for device";
    case Errno::etxtbsy: return "Text file busy";
    case Errno::efbig: return "File too large";
    case Errno::enospc: return "No space left on device";
    case Errno::espipe: return "Illegal seek";
    case Errno::erofs: return "Read-only file system";
    case Errno::emlink: return "Too many links";
    case Errno::epipe: return "Broken pipe";
    case Errno::edom: return "Numerical argument out of domain";
    case Errno::erange: return "Numerical result out of range";
    case Errno::edeadlk: return "Resource deadlock avoided";
    case Errno::enametoolong: return "File name too long";
    case Errno::enolck: return "No locks available";
    case Errno::enosys: return "Function not implemented";
    case Errno::enotempty: return "Directory not empty";
    case Errno::eloop: return "Too many levels of symbolic links";
    case Errno::enomsg: return "No message of desired type";
    case Errno::eidrm: return "Identifier removed";
    case Errno::enostr: return "Device not a stream";
    case Errno::enodata: return "No data available";
    case Errno::etime: return "Timer expired";
    case Errno::eproto: return "Protocol error";
    case Errno::eoverflow: return "Value too large for defined data type";
    case Errno::ebadfd: return "File descriptor in bad state";
    case Errno::elibbad: return "Accessing a corrupted shared library";
    case Errno::eilseq: return "Invalid or incomplete multibyte or wide character";
    case Errno::erestart: return "Interrupted system call should be restarted";
    case Errno::eusers: return "Too many users";
    case Errno::estale: return "Stale file handle";
    case Errno::enotsock: return "Socket operation on non-socket";
    case Errno::edestaddrreq: return "Destination address required";
    case Errno::emsgsize: return "Message too long";
    case Errno::eprototype: return "Protocol wrong type for socket";
    case Errno::enoprotoopt: return "Protocol not available";
    case Errno::eprotonosupport: return "Protocol not supported";
    case Errno::esocktnosupport: return "Socket type not supported";
    case Errno::eopnotsupp: return "Operation not supported";
    case Errno::eafnosupport: return "Address family not supported by protocol";
    case Errno::eaddrinuse: return "Address already in use";
    case Errno::eaddrnotavail: return "Cannot assign requested address";
    case Errno::enetdown: return "Network is down";
    case Errno::enetunreach: return "Network is unreachable";
    case Errno::econnaborted: return "Software caused connection abort";
    case Errno::econnreset: return "Connection reset by peer";
    case Errno::enobufs: return "No buffer space available";
    case Errno::eisconn: return "Transport endpoint is already connected";
    case Errno::enotconn: return "Transport endpoint is not connected";
    case Errno::eshutdown: return "Cannot send after transport endpoint shutdown";
    case Errno::etoomanyrefs: return "Too many references: cannot splice";
    case Errno::etimedout: return "Connection timed out";
    case Errno::econnrefused: return "Connection refused";
    case Errno::ehostunreach: return "No route to host";
    case Errno::ealready: return "Operation already in progress";
    case Errno::einprogress: return "Operation now in progress";
    case Errno::ecanceled: return "Operation canceled";
    default: return errno_name(e);
  }
}

void result_value_of_error(Errno e, const char* file, int line) {
  panic("Result::value() of {} at {}:{}", errno_name(e), std::string_view(file), line);
}

}  // namespace ostd
