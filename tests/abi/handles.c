/* name_to_handle_at(2) (SYS 303) and open_by_handle_at(2) (SYS 304) on a tmpfs mounted on a
 * scratch directory (run as root, natively too: it mounts and changes uids):
 * - name_to_handle_at: handle_bytes 0 is EOVERFLOW with handle_bytes set to 12 and handle_type
 *   255 (FILEID_INVALID), mount_id written even then; with room: 0, 12 bytes, type 1
 *   (FILEID_INO32_GEN), bytes 4-11 are st_ino, mount_id equal to statx's STATX_MNT_ID;
 *   handle_bytes 11 EOVERFLOW, 13 rounds down to 12, 128 works, 129 EINVAL; unknown flags
 *   EINVAL (checked before the path); a symlink without and with AT_SYMLINK_FOLLOW; AT_EMPTY_PATH
 *   on a file fd and on the mount fd; a directory; ENOENT (before the size check); EFAULT for
 *   the path, the handle and the mount_id (NULL too; the handle is then not written); a /proc
 *   file EOPNOTSUPP (before the handle is read); the same file twice gives equal bytes, two files
 *   differ; as an unprivileged user it works;
 * - open_by_handle_at: opens the same file (st_ino, a marker) from the mount's root fd, a file fd
 *   in the mount and AT_FDCWD; a directory with O_DIRECTORY, a file with O_DIRECTORY ENOTDIR, a
 *   directory O_RDWR EISDIR, a symlink ELOOP but O_PATH opens it; an O_RDWR fd writes the file;
 *   an unlinked file still open works, after the last close ESTALE; handle_bytes 0/129 EINVAL,
 *   8 ESTALE, 16 (zero tail) works; handle_type -1 and 0x40001 EINVAL, FILEID_IS_DIR on a file
 *   ESTALE, other types (0, 2, 255) open on tmpfs; a wrong generation or inode byte ESTALE; a bad
 *   or O_PATH mount fd EBADF; a mount fd on / or /proc ESTALE; a bad handle pointer EFAULT;
 *   as uid 65534 EPERM (after the EINVAL and EBADF checks). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi_check.h"

#define SYS_name_to_handle_at_ 303
#define SYS_open_by_handle_at_ 304
#define MAX_HANDLE_SZ_ 128
struct handle {
  unsigned int handle_bytes;
  int handle_type;
  unsigned char f_handle[MAX_HANDLE_SZ_ + 8];
};

static long n2h(int dfd, const char* path, struct handle* h, int* mnt, int flags) {
  return syscall(SYS_name_to_handle_at_, dfd, path, h, mnt, flags);
}
static long obh(int mfd, struct handle* h, int flags) { return syscall(SYS_open_by_handle_at_, mfd, h, flags); }

/* A full handle of path (relative to dfd), or handle_bytes 0 on failure. */
static struct handle get(int dfd, const char* path, int flags) {
  struct handle h = {.handle_bytes = MAX_HANDLE_SZ_};
  int mnt;
  if (n2h(dfd, path, &h, &mnt, flags) != 0) h.handle_bytes = 0;
  return h;
}
static int same(const struct handle* a, const struct handle* b) {
  return a->handle_bytes != 0 && a->handle_bytes == b->handle_bytes && a->handle_type == b->handle_type &&
         memcmp(a->f_handle, b->f_handle, a->handle_bytes) == 0;
}

/* The mount id statx reports for path, or -1. */
static long statx_mnt_id(const char* path) {
  uint64_t buf[32] = {0}; /* struct statx: stx_mask at 0, stx_mnt_id at 0x90 */
  if (syscall(SYS_statx, AT_FDCWD, path, 0, 0x1000 /* STATX_MNT_ID */, buf) != 0) return -1;
  if (!((uint32_t)buf[0] & 0x1000)) return -1;
  return (long)buf[0x90 / 8];
}

static ino_t ino_of(long fd) {
  struct stat st;
  return fd >= 0 && fstat((int)fd, &st) == 0 ? st.st_ino : 0;
}

/* fd holds exactly marker; closes it. */
static int holds(long fd, const char* marker) {
  if (fd < 0) return 0;
  char buf[64] = {0};
  ssize_t n = pread((int)fd, buf, sizeof buf - 1, 0);
  close((int)fd);
  return n == (ssize_t)strlen(marker) && memcmp(buf, marker, n) == 0;
}
static int is_type(long fd, mode_t type) {
  if (fd < 0) return 0;
  struct stat st;
  int ok = fstat((int)fd, &st) == 0 && (st.st_mode & S_IFMT) == type;
  close((int)fd);
  return ok;
}

static int put(const char* path, const char* text) {
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return 0;
  int ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  close(fd);
  return ok;
}

/* State for the unprivileged children. */
static int g_mfd, g_ffd;
static struct handle g_hf;
static int drop(void) { return setgid(65534) == 0 && setuid(65534) == 0 ? 0 : -1; }
static int child_name(void) {
  if (drop() != 0) return 99;
  struct handle h = get(g_ffd, "", AT_EMPTY_PATH);
  return same(&h, &g_hf) ? 0 : 1;
}
static int child_open(void) {
  if (drop() != 0) return 99;
  return obh(g_mfd, &g_hf, O_RDONLY) == -1 ? errno : 0;
}
static int child_open_big(void) {
  if (drop() != 0) return 99;
  struct handle h = g_hf;
  h.handle_bytes = 129;
  return obh(g_mfd, &h, O_RDONLY) == -1 ? errno : 0;
}
static int child_open_badfd(void) {
  if (drop() != 0) return 99;
  return obh(999, &g_hf, O_RDONLY) == -1 ? errno : 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (getuid() != 0) {
    printf("handles: needs root\n");
    return 0;
  }
  char dir[] = "/tmp/abi-handles-XXXXXX";
  CHECK("mkdtemp", mkdtemp(dir) != 0);
  CHECK("chdir", chdir(dir) == 0);
  CHECK("mkdir mnt", mkdir("mnt", 0755) == 0);
  CHECK("mount a tmpfs", mount("tmpfs", "mnt", "tmpfs", 0, "size=1m") == 0);
  CHECK("set up files", put("mnt/f", "file-f") && put("mnt/g", "file-g") && mkdir("mnt/d", 0755) == 0 &&
                            symlink("f", "mnt/sl") == 0 && put("mnt/gone", "file-gone"));
  int mfd = open("mnt", O_RDONLY | O_DIRECTORY);
  int ffd = open("mnt/f", O_RDONLY);
  CHECK("open the mount and a file", mfd >= 0 && ffd >= 0);

  /* name_to_handle_at. */
  struct handle h = {.handle_bytes = 0};
  int mnt = -1;
  CHECK_ERRNO("handle_bytes 0 is EOVERFLOW", n2h(mfd, "f", &h, &mnt, 0), EOVERFLOW);
  CHECK("EOVERFLOW sets handle_bytes to 12 (tmpfs)", h.handle_bytes == 12);
  CHECK("EOVERFLOW sets handle_type to 255 (FILEID_INVALID)", h.handle_type == 255);
  long smnt = statx_mnt_id("mnt/f");
  int mnt_overflow = mnt;
  CHECK("EOVERFLOW still writes mount_id", mnt != -1);
  struct handle hf = {.handle_bytes = MAX_HANDLE_SZ_};
  mnt = -1;
  CHECK("with 128 bytes of room it works", n2h(mfd, "f", &hf, &mnt, 0) == 0);
  CHECK("handle_bytes is 12 (tmpfs)", hf.handle_bytes == 12);
  CHECK("handle_type is 1 (FILEID_INO32_GEN)", hf.handle_type == 1);
  CHECK("mount_id equals statx STATX_MNT_ID (or the other call's)", smnt >= 0 ? mnt == smnt : mnt == mnt_overflow);
  CHECK("the EOVERFLOW call gave the same mount_id", mnt == mnt_overflow);
  struct stat st;
  uint64_t enc = 0;
  memcpy(&enc, hf.f_handle + 4, 8);
  CHECK("bytes 4-11 are st_ino (low, high u32)", fstat(ffd, &st) == 0 && enc == (uint64_t)st.st_ino);
  struct handle hd = get(mfd, "d", 0);
  CHECK("a directory: 12 bytes, type 1", hd.handle_bytes == 12 && hd.handle_type == 1);
  h = (struct handle){.handle_bytes = 11};
  CHECK_ERRNO("handle_bytes 11 is EOVERFLOW", n2h(mfd, "f", &h, &mnt, 0), EOVERFLOW);
  CHECK("and asks for 12", h.handle_bytes == 12);
  h = (struct handle){.handle_bytes = 13};
  CHECK("handle_bytes 13 works and is set to 12",
        n2h(mfd, "f", &h, &mnt, 0) == 0 && h.handle_bytes == 12 && same(&h, &hf));
  h = (struct handle){.handle_bytes = 12};
  CHECK("handle_bytes 12 works", n2h(mfd, "f", &h, &mnt, 0) == 0 && same(&h, &hf));
  h = (struct handle){.handle_bytes = 129};
  CHECK_ERRNO("handle_bytes 129 is EINVAL", n2h(mfd, "f", &h, &mnt, 0), EINVAL);
  h = (struct handle){.handle_bytes = 0x80000000u};
  CHECK_ERRNO("handle_bytes 0x80000000 is EINVAL", n2h(mfd, "f", &h, &mnt, 0), EINVAL);
  CHECK_ERRNO("handle_bytes 129 on a missing path is ENOENT (path first)", n2h(mfd, "nope", &h, &mnt, 0), ENOENT);
  h = (struct handle){.handle_bytes = MAX_HANDLE_SZ_};
  CHECK_ERRNO("flag AT_SYMLINK_NOFOLLOW (0x100) is EINVAL", n2h(mfd, "f", &h, &mnt, 0x100), EINVAL);
  CHECK_ERRNO("flag 0x4 is EINVAL", n2h(mfd, "f", &h, &mnt, 0x4), EINVAL);
  CHECK_ERRNO("flag 0x800 is EINVAL", n2h(mfd, "f", &h, &mnt, 0x800), EINVAL);
  CHECK_ERRNO("flag 0x80000000 is EINVAL", n2h(mfd, "f", &h, &mnt, (int)0x80000000u), EINVAL);
  CHECK_ERRNO("a bad flag on a missing path is EINVAL (flags first)", n2h(mfd, "nope", &h, &mnt, 0x100), EINVAL);
  CHECK_ERRNO("a bad flag with a bad handle pointer is EINVAL", n2h(mfd, "f", (void*)8, &mnt, 0x100), EINVAL);
  struct handle hs = get(mfd, "sl", 0), hsf = get(mfd, "sl", AT_SYMLINK_FOLLOW);
  CHECK("a symlink has its own handle", hs.handle_bytes == 12 && !same(&hs, &hf));
  CHECK("AT_SYMLINK_FOLLOW gives the target's handle", same(&hsf, &hf));
  struct handle he = get(ffd, "", AT_EMPTY_PATH);
  CHECK("AT_EMPTY_PATH on a file fd", same(&he, &hf));
  CHECK_ERRNO("an empty path without AT_EMPTY_PATH is ENOENT", n2h(ffd, "", &h, &mnt, 0), ENOENT);
  struct handle hroot = get(mfd, "", AT_EMPTY_PATH);
  CHECK("AT_EMPTY_PATH on the mount fd", hroot.handle_bytes == 12 && !same(&hroot, &hd) && !same(&hroot, &hf));
  struct handle hdot = get(mfd, ".", 0);
  CHECK("\".\" gives the same handle", same(&hdot, &hroot));
  CHECK_ERRNO("a missing file is ENOENT", n2h(mfd, "nope", &h, &mnt, 0), ENOENT);
  CHECK_ERRNO("a file used as a directory is ENOTDIR", n2h(mfd, "f/x", &h, &mnt, 0), ENOTDIR);
  CHECK_ERRNO("a bad path pointer is EFAULT", n2h(mfd, (char*)8, &h, &mnt, 0), EFAULT);
  CHECK_ERRNO("a bad handle pointer is EFAULT", n2h(mfd, "f", (void*)8, &mnt, 0), EFAULT);
  h = (struct handle){.handle_bytes = MAX_HANDLE_SZ_};
  CHECK_ERRNO("a bad mount_id pointer is EFAULT", n2h(mfd, "f", &h, (int*)8, 0), EFAULT);
  CHECK("and the handle is not written", h.handle_bytes == MAX_HANDLE_SZ_);
  CHECK_ERRNO("a NULL mount_id is EFAULT", n2h(mfd, "f", &h, NULL, 0), EFAULT);
  h = (struct handle){.handle_bytes = 0};
  CHECK_ERRNO("a bad mount_id wins over EOVERFLOW (EFAULT)", n2h(mfd, "f", &h, (int*)8, 0), EFAULT);
  CHECK_ERRNO("a closed dirfd is EBADF", n2h(999, "f", &h, &mnt, 0), EBADF);
  CHECK_ERRNO("a /proc file is EOPNOTSUPP", n2h(AT_FDCWD, "/proc/self/status", &h, &mnt, 0), EOPNOTSUPP);
  CHECK_ERRNO("a /proc file with a bad handle pointer is EOPNOTSUPP",
              n2h(AT_FDCWD, "/proc/self/status", (void*)8, &mnt, 0), EOPNOTSUPP);
  struct handle hf2 = get(mfd, "f", 0), hg = get(mfd, "g", 0);
  CHECK("the same file twice: equal bytes", same(&hf2, &hf));
  CHECK("two files: different handles",
        hg.handle_bytes == 12 && !same(&hg, &hf) && memcmp(hg.f_handle + 4, hf.f_handle + 4, 8) != 0);
  g_mfd = mfd, g_ffd = ffd, g_hf = hf;
  CHECK("as uid 65534 name_to_handle_at works and agrees", child_status(child_name) == 0);

  /* open_by_handle_at. */
  long fd = obh(mfd, &hf, O_RDONLY);
  CHECK("open_by_handle_at opens the same inode", fd >= 0 && ino_of(fd) == st.st_ino);
  CHECK("and reads the marker", holds(fd, "file-f"));
  CHECK("a file fd in the mount as mount_fd", holds(obh(ffd, &hf, O_RDONLY), "file-f"));
  CHECK("chdir mnt", chdir("mnt") == 0);
  CHECK("AT_FDCWD as mount_fd", holds(obh(AT_FDCWD, &hf, O_RDONLY), "file-f"));
  CHECK("chdir back", chdir("..") == 0);
  CHECK("a directory with O_RDONLY|O_DIRECTORY", is_type(obh(mfd, &hd, O_RDONLY | O_DIRECTORY), S_IFDIR));
  fd = obh(mfd, &hroot, O_RDONLY | O_DIRECTORY);
  struct stat mst;
  CHECK("the root's handle opens the mount's root", fd >= 0 && fstat(mfd, &mst) == 0 && ino_of(fd) == mst.st_ino);
  if (fd >= 0) close((int)fd);
  CHECK_ERRNO("a file with O_DIRECTORY is ENOTDIR", obh(mfd, &hf, O_RDONLY | O_DIRECTORY), ENOTDIR);
  CHECK_ERRNO("a directory with O_RDWR is EISDIR", obh(mfd, &hd, O_RDWR), EISDIR);
  CHECK_ERRNO("a symlink with O_RDONLY is ELOOP", obh(mfd, &hs, O_RDONLY), ELOOP);
  CHECK("a symlink with O_PATH opens the link", is_type(obh(mfd, &hs, O_PATH), S_IFLNK));
  fd = obh(mfd, &hg, O_RDWR);
  CHECK("O_RDWR writes the file",
        fd >= 0 && pwrite((int)fd, "G", 1, 5) == 1 && holds(open("mnt/g", O_RDONLY), "file-G"));
  if (fd >= 0) close((int)fd);
  struct handle hgone = get(mfd, "gone", 0);
  int gfd = open("mnt/gone", O_RDONLY);
  CHECK("unlink a file kept open", hgone.handle_bytes == 12 && gfd >= 0 && unlink("mnt/gone") == 0);
  CHECK("its handle still opens it", holds(obh(mfd, &hgone, O_RDONLY), "file-gone"));
  close(gfd);
  CHECK_ERRNO("after the last close it is ESTALE", obh(mfd, &hgone, O_RDONLY), ESTALE);
  h = hf;
  h.handle_bytes = 0;
  CHECK_ERRNO("handle_bytes 0 is EINVAL", obh(mfd, &h, O_RDONLY), EINVAL);
  h.handle_bytes = 129;
  CHECK_ERRNO("handle_bytes 129 is EINVAL", obh(mfd, &h, O_RDONLY), EINVAL);
  CHECK_ERRNO("handle_bytes 129 with a bad mount_fd is EINVAL (handle first)", obh(999, &h, O_RDONLY), EINVAL);
  h.handle_bytes = 8;
  CHECK_ERRNO("handle_bytes 8 (short) is ESTALE", obh(mfd, &h, O_RDONLY), ESTALE);
  h.handle_bytes = 16;
  CHECK("handle_bytes 16 with a zero tail opens it", holds(obh(mfd, &h, O_RDONLY), "file-f"));
  h = hf;
  h.handle_type = -1;
  CHECK_ERRNO("handle_type -1 is EINVAL", obh(mfd, &h, O_RDONLY), EINVAL);
  h.handle_type = 0x40001;
  CHECK_ERRNO("handle_type 0x40001 (unknown user flag) is EINVAL", obh(mfd, &h, O_RDONLY), EINVAL);
  h.handle_type = 0x20001;
  CHECK_ERRNO("handle_type with FILEID_IS_DIR on a file is ESTALE", obh(mfd, &h, O_RDONLY), ESTALE);
  h.handle_type = 2;
  CHECK("handle_type 2 still opens it (tmpfs ignores the type)", holds(obh(mfd, &h, O_RDONLY), "file-f"));
  h.handle_type = 0;
  CHECK("handle_type 0 still opens it", holds(obh(mfd, &h, O_RDONLY), "file-f"));
  h.handle_type = 255;
  CHECK("handle_type 255 still opens it", holds(obh(mfd, &h, O_RDONLY), "file-f"));
  h = hf;
  h.f_handle[0] ^= 1;
  CHECK_ERRNO("a wrong generation byte is ESTALE", obh(mfd, &h, O_RDONLY), ESTALE);
  h = hf;
  h.f_handle[4] ^= 0x40;
  CHECK_ERRNO("a wrong inode byte is ESTALE", obh(mfd, &h, O_RDONLY), ESTALE);
  CHECK_ERRNO("a closed mount_fd is EBADF", obh(999, &hf, O_RDONLY), EBADF);
  CHECK_ERRNO("mount_fd -1 is EBADF", obh(-1, &hf, O_RDONLY), EBADF);
  int pathfd = open("mnt", O_PATH);
  CHECK_ERRNO("an O_PATH mount_fd is EBADF", obh(pathfd, &hf, O_RDONLY), EBADF);
  close(pathfd);
  int rootfd = open("/", O_RDONLY | O_DIRECTORY), procfd = open("/proc", O_RDONLY | O_DIRECTORY);
  CHECK_ERRNO("a mount_fd on / with a tmpfs handle is ESTALE", obh(rootfd, &hf, O_RDONLY), ESTALE);
  CHECK_ERRNO("a mount_fd on /proc is ESTALE", obh(procfd, &hf, O_RDONLY), ESTALE);
  close(rootfd);
  close(procfd);
  CHECK_ERRNO("a bad handle pointer is EFAULT", obh(mfd, (void*)8, O_RDONLY), EFAULT);
  CHECK_ERRNO("a NULL handle is EFAULT", obh(mfd, NULL, O_RDONLY), EFAULT);
  CHECK("as uid 65534 open_by_handle_at is EPERM", child_status(child_open) == EPERM);
  CHECK("as uid 65534 handle_bytes 129 is EINVAL (before EPERM)", child_status(child_open_big) == EINVAL);
  CHECK("as uid 65534 a closed mount_fd is EBADF (before EPERM)", child_status(child_open_badfd) == EBADF);

  close(ffd);
  close(mfd);
  CHECK("umount2", umount2("mnt", 0) == 0);
  CHECK("remove the scratch directory", rmdir("mnt") == 0 && chdir("/") == 0 && rmdir(dir) == 0);
  return ABI_DONE();
}
