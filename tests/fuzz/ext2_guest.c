/* The guest of the ext2 and p9 fuzz targets: mounts the fuzzed file system (argv[1] the type,
 * argv[2] the source; ext2 on /dev/vda by default), walks the whole tree (stat, readlink,
 * getdents, read every file up to 1 MiB), then changes it (create, write, a shared mapping,
 * mkdir, rename, link, symlink, chmod, truncate, unlink, rmdir) and unmounts. Every failure is
 * just reported by its errno; the kernel must survive all of it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[65536];
static int budget = 4000; /* names visited at most */

static void walk(const char* path, int depth) {
  struct stat st;
  if (--budget < 0 || depth > 32 || lstat(path, &st) != 0) return;
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    (void)readlink(path, target, sizeof target);
    return;
  }
  if (S_ISREG(st.st_mode)) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    long total = 0;
    ssize_t n;
    while (total < (1 << 20) && (n = read(fd, buf, sizeof buf)) > 0) total += n;
    (void)pread(fd, buf, 100, 1 << 30);
    close(fd);
    return;
  }
  if (!S_ISDIR(st.st_mode)) return;
  DIR* d = opendir(path);
  if (!d) return;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char child[4096];
    if (snprintf(child, sizeof child, "%s/%s", path, e->d_name) >= (int)sizeof child) continue;
    walk(child, depth + 1);
  }
  closedir(d);
}

int main(int argc, char** argv) {
  const char *type = argc > 2 ? argv[1] : "ext2", *source = argc > 2 ? argv[2] : "/dev/vda";
  mkdir("/mnt", 0755);
  int rc = mount(source, "/mnt", type, 0, NULL);
  /* Without a type given, an ext4 image: mounted as ext4, read-only (as mount(8) retries). */
  if (rc != 0 && errno == EINVAL && argc <= 2) {
    type = "ext4";
    rc = mount(source, "/mnt", type, 0, NULL);
  }
  if (rc != 0 && errno == EROFS) rc = mount(source, "/mnt", type, MS_RDONLY, NULL);
  if (rc != 0) {
    printf("mount: %s\n", strerror(errno));
    return 0;
  }
  walk("/mnt", 0);
  memset(buf, 'x', sizeof buf);
  int fd = open("/mnt/fz-new", O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd >= 0) {
    for (int i = 0; i < 8; i++) (void)write(fd, buf, sizeof buf);
    (void)pwrite(fd, buf, 100, 5 << 20);
    (void)ftruncate(fd, 70000);
    char* m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m != MAP_FAILED) {
      m[10] = 'm';
      m[5000] ^= m[20];
      (void)msync(m, 8192, MS_SYNC);
      munmap(m, 8192);
    }
    (void)fchmod(fd, 0600);
    (void)fsync(fd);
    close(fd);
  }
  (void)mkdir("/mnt/fz-dir", 0755);
  (void)rename("/mnt/fz-new", "/mnt/fz-dir/moved");
  (void)link("/mnt/fz-dir/moved", "/mnt/fz-link");
  (void)symlink("fz-dir/moved", "/mnt/fz-sym");
  DIR* d = opendir("/mnt");
  struct dirent* e;
  int renamed = 0;
  while (d && (e = readdir(d)) != NULL && renamed < 8) {
    if (e->d_name[0] == '.' || strncmp(e->d_name, "fz-", 3) == 0) continue;
    char from[512], to[512];
    snprintf(from, sizeof from, "/mnt/%s", e->d_name);
    snprintf(to, sizeof to, "/mnt/fz-dir/r%d", renamed++);
    (void)rename(from, to);
  }
  if (d) closedir(d);
  walk("/mnt", 0);
  (void)unlink("/mnt/fz-link");
  (void)unlink("/mnt/fz-sym");
  for (int i = 0; i < 8; i++) {
    char p[64];
    snprintf(p, sizeof p, "/mnt/fz-dir/r%d", i);
    if (unlink(p) != 0) (void)rmdir(p);
  }
  (void)unlink("/mnt/fz-dir/moved");
  (void)rmdir("/mnt/fz-dir");
  sync();
  if (umount("/mnt") != 0) printf("umount: %s\n", strerror(errno));
  return 0;
}
