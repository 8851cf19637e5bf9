#include <ostd/error.h>

namespace ostd {

std::string_view errno_name(Errno e) {
  switch (e) {
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
    X(eoverflow, "EOVERFLOW") X(ebadfd, "EBADFD") X(elibbad, "ELIBBAD") X(eilseq, "EILSEQ")
    X(erestart, "ERESTART")
    X(enotsock, "ENOTSOCK") X(edestaddrreq, "EDESTADDRREQ") X(emsgsize, "EMSGSIZE")
    X(eprototype, "EPROTOTYPE") X(enoprotoopt, "ENOPROTOOPT")
    X(eprotonosupport, "EPROTONOSUPPORT") X(eopnotsupp, "EOPNOTSUPP")
    X(eafnosupport, "EAFNOSUPPORT") X(eaddrinuse, "EADDRINUSE")
    X(eaddrnotavail, "EADDRNOTAVAIL") X(enetdown, "ENETDOWN") X(enetunreach, "ENETUNREACH")
    X(econnaborted, "ECONNABORTED") X(econnreset, "ECONNRESET") X(enobufs, "ENOBUFS")
    X(eisconn, "EISCONN") X(enotconn, "ENOTCONN") X(etimedout, "ETIMEDOUT")
    X(econnrefused, "ECONNREFUSED") X(ehostunreach, "EHOSTUNREACH") X(ealready, "EALREADY")
    X(einprogress, "EINPROGRESS") X(ecanceled, "ECANCELED") X(erestartsys, "ERESTARTSYS")
    X(erestartnointr, "ERESTARTNOINTR") X(erestartnohand, "ERESTARTNOHAND")
    X(erestart_restartblock, "ERESTART_RESTARTBLOCK")
#undef X
  }
  return "E?";
}

}  // namespace ostd
