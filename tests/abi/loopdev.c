/* Loop devices through /dev/loop-control and /dev/loopN (run as root, natively too):
 * - LOOP_CTL_ADD of a free number returns it and makes /dev/loopN (block, major 7, minor N);
 *   adding it again is EEXIST; LOOP_CTL_ADD past the largest minor is EINVAL;
 * - the new device unbound: LOOP_GET_STATUS64 ENXIO, a read of it reads nothing;
 * - LOOP_CONFIGURE binds a file (offset, size limit, the read-only flag): the device's size and
 *   data are the file's from the offset to the limit, LOOP_GET_STATUS64 reports them;
 * - LOOP_CTL_REMOVE while bound or open is EBUSY, of a number that has no device ENODEV, of a
 *   negative number EINVAL; after LOOP_CLR_FD and close it removes the device and its node;
 * - LOOP_CTL_GET_FREE returns a device that is not bound; an unknown request is ENOSYS. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "abi_check.h"

/* <linux/loop.h> (musl has no kernel headers). */
#define LOOP_SET_FD 0x4C00
#define LOOP_CLR_FD 0x4C01
#define LOOP_GET_STATUS64 0x4C05
#define LOOP_CONFIGURE 0x4C0A
#define LOOP_CTL_ADD 0x4C80
#define LOOP_CTL_REMOVE 0x4C81
#define LOOP_CTL_GET_FREE 0x4C82
#define LO_FLAGS_READ_ONLY 1
struct loop_info64 {
  unsigned long long lo_device, lo_inode, lo_rdevice, lo_offset, lo_sizelimit;
  unsigned lo_number, lo_encrypt_type, lo_encrypt_key_size, lo_flags;
  unsigned char lo_file_name[64], lo_crypt_name[64], lo_encrypt_key[32];
  unsigned long long lo_init[2];
};
struct loop_config {
  unsigned fd, block_size;
  struct loop_info64 info;
  unsigned long long reserved[8];
};

int main(void) {
  int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0 || geteuid() != 0) {
    printf("loopdev: needs root and /dev/loop-control\n");
    return 0;
  }
  /* A number nobody uses (natively the host may have some). */
  int n = -1;
  for (int k = 700; k < 800; k++) {
    char p[32];
    snprintf(p, sizeof p, "/dev/loop%d", k);
    if (access(p, F_OK) == 0) continue;
    int r = ioctl(ctl, LOOP_CTL_ADD, k);
    if (r == k) {
      n = k;
      break;
    }
  }
  CHECK("LOOP_CTL_ADD of a free number returns it", n >= 0);
  if (n < 0) return 1;
  CHECK_ERRNO("LOOP_CTL_ADD of an existing device", ioctl(ctl, LOOP_CTL_ADD, n), EEXIST);
  CHECK_ERRNO("LOOP_CTL_ADD past the largest minor", ioctl(ctl, LOOP_CTL_ADD, 1 << 20), EINVAL);
  char dev[32];
  snprintf(dev, sizeof dev, "/dev/loop%d", n);
  struct stat st;
  CHECK("its node is a block device 7:N",
        stat(dev, &st) == 0 && S_ISBLK(st.st_mode) && major(st.st_rdev) == 7 && (int)minor(st.st_rdev) == n);

  int fd = open(dev, O_RDWR | O_CLOEXEC);
  CHECK("the device opens", fd >= 0);
  struct loop_info64 li;
  CHECK_ERRNO("unbound: LOOP_GET_STATUS64", ioctl(fd, LOOP_GET_STATUS64, &li), ENXIO);
  char buf[4096];
  CHECK("unbound: a read reads nothing", read(fd, buf, sizeof buf) == 0);
  CHECK_ERRNO("LOOP_CTL_REMOVE while open", ioctl(ctl, LOOP_CTL_REMOVE, n), EBUSY);

  /* A backing file: 64 KiB, each 512-byte sector filled with its number. */
  char file[] = "/tmp/loopdev-XXXXXX";
  int bf = mkstemp(file);
  CHECK("a backing file", bf >= 0);
  for (int s = 0; s < 128; s++) {
    memset(buf, s, 512);
    if (write(bf, buf, 512) != 512) break;
  }
  struct loop_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.fd = bf;
  cfg.info.lo_offset = 4096;
  cfg.info.lo_sizelimit = 16384;
  cfg.info.lo_flags = LO_FLAGS_READ_ONLY;
  CHECK("LOOP_CONFIGURE", ioctl(fd, LOOP_CONFIGURE, &cfg) == 0);
  CHECK("LOOP_GET_STATUS64 after it", ioctl(fd, LOOP_GET_STATUS64, &li) == 0);
  CHECK("its offset, size limit and read-only flag", li.lo_offset == 4096 && li.lo_sizelimit == 16384 &&
                                                         (li.lo_flags & LO_FLAGS_READ_ONLY) != 0 &&
                                                         li.lo_number == (unsigned)n);
  off_t size = lseek(fd, 0, SEEK_END);
  CHECK("the device's size is the size limit", size == 16384);
  CHECK("its first sector is the file's ninth", pread(fd, buf, 512, 0) == 512 && buf[0] == 8 && buf[511] == 8);
  CHECK("reads stop at the size limit", pread(fd, buf, 4096, 16384 - 512) == 512 && buf[0] == 39);
  CHECK_ERRNO("LOOP_CTL_REMOVE while bound", ioctl(ctl, LOOP_CTL_REMOVE, n), EBUSY);
  int free_dev = ioctl(ctl, LOOP_CTL_GET_FREE);
  CHECK("LOOP_CTL_GET_FREE gives another device", free_dev >= 0 && free_dev != n);
  if (free_dev >= 0) {
    char p[32];
    snprintf(p, sizeof p, "/dev/loop%d", free_dev);
    int f2 = open(p, O_RDONLY | O_CLOEXEC);
    CHECK_ERRNO("which is not bound", f2 >= 0 ? ioctl(f2, LOOP_GET_STATUS64, &li) : 0, ENXIO);
    if (f2 >= 0) close(f2);
  }
  CHECK("LOOP_CLR_FD", ioctl(fd, LOOP_CLR_FD) == 0);
  close(fd);
  close(bf);
  unlink(file);
  /* LOOP_CLR_FD may finish in the background natively: retry EBUSY for a while. */
  int r = -1;
  for (int tries = 0; tries < 200; tries++) {
    r = ioctl(ctl, LOOP_CTL_REMOVE, n);
    if (r == 0 || errno != EBUSY) break;
    usleep(10000);
  }
  CHECK("LOOP_CTL_REMOVE of an unused device", r == 0);
  CHECK_ERRNO("its node is gone", stat(dev, &st), ENOENT);
  CHECK_ERRNO("LOOP_CTL_REMOVE again", ioctl(ctl, LOOP_CTL_REMOVE, n), ENODEV);
  CHECK_ERRNO("LOOP_CTL_REMOVE of a negative number", ioctl(ctl, LOOP_CTL_REMOVE, -1), EINVAL);
  CHECK_ERRNO("an unknown request (ENOSYS, as Linux's loop-control)", ioctl(ctl, 0x4C8F, 0), ENOSYS);
  close(ctl);
  return ABI_DONE();
}
