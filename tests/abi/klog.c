/* The kernel log: syslog(2) called raw (SYSLOG_ACTION_SIZE_BUFFER, SIZE_UNREAD, CLOSE, OPEN,
 * READ_ALL finding a line just written to /dev/kmsg in the form "<13>[time] text", one prefixed
 * line per line of a multi-line record, a length that fits no record, exactly the last line; the
 * argument checks of READ_ALL, READ (never a blocking read), CONSOLE_LEVEL and unknown types);
 * the permissions of a non-root process (uid 65534) for every action and for opening /dev/kmsg,
 * per /proc/sys/kernel/dmesg_restrict (either value); /dev/kmsg: lseek(SEEK_END), one record per
 * read in the form "PRI,SEQ,TIMESTAMP,-;text\n" (PRI of "<5>", "<190>", no prefix, an unterminated
 * prefix; escaping of control characters and backslash), a too small buffer (EINVAL, and the
 * record is consumed), EAGAIN at the end, poll, the lseek whences and offsets, a record not
 * readable until it is ended by a newline or by the next record, an empty write (an empty record),
 * a multi-line write (one record), writev (one record), an oversized write, read/write on a
 * descriptor opened the other way. Never prints a sequence number, a timestamp, a size or the
 * random token; never clears the log or changes the console level (CLEAR, READ_CLEAR,
 * CONSOLE_OFF/ON are called only by the non-root child, where Linux refuses them). Run natively
 * (as root) and under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "abi_check.h"

#define NR_SYSLOG 103
#define NR_CAPGET 125
#define SYSLOG_ACTION_CLOSE 0
#define SYSLOG_ACTION_OPEN 1
#define SYSLOG_ACTION_READ 2
#define SYSLOG_ACTION_READ_ALL 3
#define SYSLOG_ACTION_READ_CLEAR 4
#define SYSLOG_ACTION_CLEAR 5
#define SYSLOG_ACTION_CONSOLE_OFF 6
#define SYSLOG_ACTION_CONSOLE_ON 7
#define SYSLOG_ACTION_CONSOLE_LEVEL 8
#define SYSLOG_ACTION_SIZE_UNREAD 9
#define SYSLOG_ACTION_SIZE_BUFFER 10

static long klog(int type, char* buf, long len) { return syscall(NR_SYSLOG, type, buf, len); }

static char token[32]; /* "abi-klog-" and 16 random hex digits */

/* Writes s through a fresh descriptor (/dev/kmsg rate-limits each open file to 10 lines per 5 s). */
static long kmsg_put(const char* s, size_t n) {
  int w = open("/dev/kmsg", O_WRONLY);
  if (w < 0) return -2;
  long r = write(w, s, n);
  close(w);
  return r;
}

/* "<pfx>TOKEN<rest>" */
static long kmsg_put3(const char* pfx, const char* rest) {
  char line[256];
  snprintf(line, sizeof line, "%s%s%s", pfx, token, rest);
  return kmsg_put(line, strlen(line));
}

static int is_digits(const char* s, const char* e) {
  if (s == e) return 0;
  for (; s < e; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

/* A /dev/kmsg record "PRI,SEQ,TIMESTAMP,FLAGS[,more];text\n" of exactly n bytes, the text without
 * a newline (escaped as \x0a). FLAGS must be "-"; further comma fields (",caller=T1" with
 * CONFIG_PRINTK_CALLER) are allowed. */
struct rec {
  unsigned pri;
  unsigned long long seq;
  char text[1100];
};
static int parse_record(const char* b, long n, struct rec* r) {
  if (n <= 0) return 0;
  const char* end = b + n;
  if (end[-1] != '\n' || memchr(b, '\n', n - 1) != NULL) return 0;
  const char* f[3];
  const char* p = b;
  for (int i = 0; i < 3; i++) {
    const char* c = memchr(p, ',', end - p);
    if (!c || !is_digits(p, c)) return 0;
    f[i] = p;
    p = c + 1;
  }
  if (p[0] != '-' || (p[1] != ';' && p[1] != ',')) return 0;
  const char* semi = memchr(p, ';', end - p);
  if (!semi) return 0;
  r->pri = (unsigned)strtoul(f[0], NULL, 10);
  r->seq = strtoull(f[1], NULL, 10);
  size_t tl = end - 1 - (semi + 1);
  if (tl >= sizeof r->text) return 0;
  memcpy(r->text, semi + 1, tl);
  r->text[tl] = 0;
  return 1;
}

/* text == TOKEN followed by rest */
static int text_is(const struct rec* r, const char* rest) {
  size_t tl = strlen(token);
  return strncmp(r->text, token, tl) == 0 && strcmp(r->text + tl, rest) == 0;
}

static char rbuf[16384];

/* Reads the next record; 1 if it parses. */
static int next_record(int fd, struct rec* r) {
  long n = read(fd, rbuf, sizeof rbuf - 1);
  if (n <= 0) return 0;
  rbuf[n] = 0;
  return parse_record(rbuf, n, r);
}

/* The oldest record, as lseek(SEEK_SET) left it to be read: on a busy machine it may be dropped
 * before the read (EPIPE, once) and be any kernel's record (a continuation flag, dictionary
 * lines): only the header "PRI,SEQ,TIMESTAMP,FLAG[,...];" is checked. */
static int oldest_record_ok(int fd) {
  for (int i = 0; i < 4; i++) {
    long n = read(fd, rbuf, sizeof rbuf - 1);
    if (n < 0 && errno == EPIPE) continue;
    if (n <= 0) return 0;
    rbuf[n] = 0;
    const char* p = rbuf;
    for (int f = 0; f < 3; f++) {
      const char* c = strchr(p, ',');
      if (!c || !is_digits(p, c)) return 0;
      p = c + 1;
    }
    return p[0] != 0 && (p[1] == ';' || p[1] == ',') && strchr(p, ';') != NULL && rbuf[n - 1] == '\n';
  }
  return 0;
}

static int poll_in(int fd) {
  struct pollfd p = {fd, POLLIN | POLLRDNORM | POLLPRI, 0};
  int n = poll(&p, 1, 0);
  return n < 0 ? -1 : p.revents;
}

/* READ_ALL form: the line holding `text` (the whole line after the prefix) is
 * "<PRI>" [ "[...]"... " " ] text "\n". Returns the line's start or NULL; *prefix_len gets the
 * length of what comes before the text. */
static char* log_line(char* buf, const char* text, unsigned pri, size_t* prefix_len) {
  char want[300];
  snprintf(want, sizeof want, "%s\n", text);
  char* t = strstr(buf, want);
  if (!t) return NULL;
  char* s = t;
  while (s > buf && s[-1] != '\n') s--;
  char pfx[16];
  int pl = snprintf(pfx, sizeof pfx, "<%u>", pri);
  if (strncmp(s, pfx, pl) != 0) return NULL;
  char* p = s + pl;
  int groups = 0;
  while (*p == '[') {
    char* c = strchr(p, ']');
    if (!c || c > t) return NULL;
    p = c + 1;
    groups++;
  }
  if (groups > 0 && *p++ != ' ') return NULL;
  if (p != t) return NULL;
  if (prefix_len) *prefix_len = (size_t)(t - s);
  return s;
}

/* The non-root child's answers: errno (0 for success) per action, and for opening /dev/kmsg. */
static struct {
  int caps_dropped;
  int err[13];
  long ret[13];
  int open_ro, open_wo;
} * nr;
static const int nr_types[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -1, 11};
static long log_size;

static int unprivileged(void) {
  if (setuid(65534) != 0) return 1;
  /* CLEAR and CONSOLE_OFF/ON only once the capabilities are certainly gone. */
  struct {
    uint32_t version;
    int pid;
  } hdr = {0x20080522, 0};
  uint32_t data[6] = {1, 1, 1, 1, 1, 1};
  nr->caps_dropped = syscall(NR_CAPGET, &hdr, data) == 0 && data[0] == 0 && data[3] == 0 && data[1] == 0 &&
                     data[4] == 0 && getuid() == 65534 && geteuid() == 65534;
  char* buf = malloc(log_size + 1);
  for (int i = 0; i < 13; i++) {
    int t = nr_types[i];
    if ((t == 5 || t == 6 || t == 7) && !nr->caps_dropped) {
      nr->err[i] = -1;
      continue;
    }
    char* b = NULL;
    long len = 0;
    if (t == SYSLOG_ACTION_READ) b = buf; /* len 0: never blocks */
    if (t == SYSLOG_ACTION_READ_ALL) b = buf, len = log_size;
    /* READ_CLEAR: NULL buffer (EINVAL before clearing); CONSOLE_LEVEL: level 0 (invalid). */
    errno = 0;
    nr->ret[i] = klog(t, b, len);
    nr->err[i] = nr->ret[i] < 0 ? errno : 0;
  }
  errno = 0;
  int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
  nr->open_ro = fd >= 0 ? 0 : errno;
  if (fd >= 0) close(fd);
  errno = 0;
  fd = open("/dev/kmsg", O_WRONLY);
  nr->open_wo = fd >= 0 ? 0 : errno;
  if (fd >= 0) close(fd);
  return 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (getuid() != 0) {
    printf("klog: needs root\n");
    return 0;
  }
  unsigned char rnd[8];
  int ur = open("/dev/urandom", O_RDONLY);
  if (ur < 0 || read(ur, rnd, sizeof rnd) != sizeof rnd) {
    printf("klog: no /dev/urandom\n");
    return 1;
  }
  close(ur);
  strcpy(token, "abi-klog-");
  for (int i = 0; i < 8; i++) sprintf(token + 9 + 2 * i, "%02x", rnd[i]);

  /* syslog(2). */
  log_size = klog(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0);
  CHECK("SYSLOG_ACTION_SIZE_BUFFER > 0", log_size > 0);
  CHECK("SYSLOG_ACTION_SIZE_UNREAD >= 0", klog(SYSLOG_ACTION_SIZE_UNREAD, NULL, 0) >= 0);
  CHECK("SYSLOG_ACTION_CLOSE: 0", klog(SYSLOG_ACTION_CLOSE, NULL, 0) == 0);
  CHECK("SYSLOG_ACTION_OPEN: 0", klog(SYSLOG_ACTION_OPEN, NULL, 0) == 0);
  if (log_size <= 0) log_size = 1 << 17;
  char* all = malloc(log_size + 1);
  char line[256];
  snprintf(line, sizeof line, "<5>%s hello\n", token);
  CHECK("write \"<5>TOKEN hello\\n\" to /dev/kmsg: the whole length",
        kmsg_put(line, strlen(line)) == (long)strlen(line));
  snprintf(line, sizeof line, "<5>%s-m one\ntwo\n", token);
  CHECK("write a two-line record", kmsg_put(line, strlen(line)) == (long)strlen(line));
  long n = klog(SYSLOG_ACTION_READ_ALL, all, log_size);
  CHECK("SYSLOG_ACTION_READ_ALL with SIZE_BUFFER bytes: > 0, <= SIZE_BUFFER", n > 0 && n <= log_size);
  if (n < 0) n = 0;
  all[n] = 0;
  char text[128];
  snprintf(text, sizeof text, "%s hello", token);
  CHECK("it holds the line", strstr(all, text) != NULL);
  size_t pl = 0, pl2 = 0;
  CHECK("in the form \"<13>[time] TOKEN hello\\n\" (user facility, level 5)", log_line(all, text, 13, &pl) != NULL);
  snprintf(text, sizeof text, "%s-m one", token);
  char* l1 = log_line(all, text, 13, &pl);
  char* l2 = l1 ? strchr(l1, '\n') + 1 : NULL;
  CHECK("a two-line record: two lines with one prefix",
        l1 && log_line(l2, "two", 13, &pl2) == l2 && pl2 == pl && strncmp(l1, l2, pl) == 0);
  /* The last line alone: nothing else fits. */
  size_t last_len = l2 ? strlen(l2) : 0;
  CHECK("the two-line record is the last",
        l2 && last_len > 0 && l2[last_len - 1] == '\n' && strchr(l2, '\n') == l2 + last_len - 1);
  size_t rec_len = l2 ? (size_t)(l2 + last_len - l1) : 0;
  char* last = malloc(rec_len + 1);
  CHECK("READ_ALL with len = that record's size: exactly that record",
        l1 && klog(SYSLOG_ACTION_READ_ALL, last, rec_len) == (long)rec_len && memcmp(last, l1, rec_len) == 0);
  CHECK("READ_ALL with one byte less: only whole records (0: nothing else fits)",
        l1 && klog(SYSLOG_ACTION_READ_ALL, last, rec_len - 1) == 0);
  CHECK("READ_ALL with len 16: 0", klog(SYSLOG_ACTION_READ_ALL, last, 16) == 0);
  CHECK("READ_ALL with len 0: 0", klog(SYSLOG_ACTION_READ_ALL, all, 0) == 0);
  CHECK_ERRNO("READ_ALL with len -1: EINVAL", klog(SYSLOG_ACTION_READ_ALL, all, -1), EINVAL);
  CHECK_ERRNO("READ_ALL with a NULL buffer: EINVAL", klog(SYSLOG_ACTION_READ_ALL, NULL, 100), EINVAL);
  CHECK_ERRNO("READ_ALL with a NULL buffer and len 0: EINVAL", klog(SYSLOG_ACTION_READ_ALL, NULL, 0), EINVAL);
  CHECK_ERRNO("READ_ALL into a bad buffer: EFAULT", klog(SYSLOG_ACTION_READ_ALL, (char*)8, 100), EFAULT);
  CHECK("READ with len 0: 0", klog(SYSLOG_ACTION_READ, all, 0) == 0);
  CHECK_ERRNO("READ with a NULL buffer: EINVAL", klog(SYSLOG_ACTION_READ, NULL, 100), EINVAL);
  CHECK_ERRNO("READ with a NULL buffer and len 0: EINVAL", klog(SYSLOG_ACTION_READ, NULL, 0), EINVAL);
  CHECK_ERRNO("READ with len -1: EINVAL", klog(SYSLOG_ACTION_READ, all, -1), EINVAL);
  CHECK_ERRNO("CONSOLE_LEVEL 0: EINVAL", klog(SYSLOG_ACTION_CONSOLE_LEVEL, NULL, 0), EINVAL);
  CHECK_ERRNO("CONSOLE_LEVEL 9: EINVAL", klog(SYSLOG_ACTION_CONSOLE_LEVEL, NULL, 9), EINVAL);
  CHECK_ERRNO("CONSOLE_LEVEL -1: EINVAL", klog(SYSLOG_ACTION_CONSOLE_LEVEL, NULL, -1), EINVAL);
  CHECK_ERRNO("type -1: EINVAL", klog(-1, NULL, 0), EINVAL);
  CHECK_ERRNO("type 11: EINVAL", klog(11, NULL, 0), EINVAL);

  /* Permissions of a non-root process. */
  int restrict_ = -1;
  char rs[16] = {0};
  int rf = open("/proc/sys/kernel/dmesg_restrict", O_RDONLY);
  if (rf >= 0 && read(rf, rs, sizeof rs - 1) > 0 && (rs[0] == '0' || rs[0] == '1') && rs[1] == '\n')
    restrict_ = rs[0] - '0';
  if (rf >= 0) close(rf);
  CHECK("/proc/sys/kernel/dmesg_restrict reads \"0\\n\" or \"1\\n\"", restrict_ >= 0);
  if (restrict_ < 0) restrict_ = 0;
  nr = mmap(NULL, sizeof *nr, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK("a non-root child (uid 65534)", child_status(unprivileged) == 0);
  CHECK("its capabilities are gone", nr->caps_dropped);
  // clang-format off
  static const char* const names[13] = {"CLOSE",   "OPEN",          "READ (len 0)",  "READ_ALL",
                                        "READ_CLEAR (NULL buffer)", "CLEAR", "CONSOLE_OFF", "CONSOLE_ON",
                                        "CONSOLE_LEVEL (level 0)",  "SIZE_UNREAD", "SIZE_BUFFER", "type -1",
                                        "type 11"};
  // clang-format on
  for (int i = 0; i < 13; i++) {
    int t = nr_types[i];
    char name[160];
    if (t == SYSLOG_ACTION_READ_ALL || t == SYSLOG_ACTION_SIZE_BUFFER) {
      snprintf(name, sizeof name, "non-root %s: EPERM if dmesg_restrict, else allowed", names[i]);
      CHECK(name, restrict_ ? nr->err[i] == EPERM : nr->err[i] == 0 && nr->ret[i] > 0);
    } else {
      snprintf(name, sizeof name, "non-root %s: EPERM%s", names[i],
               t < 0 || t > 10 || t == 8 ? " (the permission check comes first)" : "");
      CHECK(name, nr->err[i] == EPERM);
    }
  }
  CHECK("non-root open /dev/kmsg O_RDONLY: EPERM if dmesg_restrict, else allowed",
        restrict_ ? nr->open_ro == EPERM : nr->open_ro == 0);
  CHECK("non-root open /dev/kmsg O_WRONLY: EACCES (mode 0644)", nr->open_wo == EACCES);

  /* /dev/kmsg. */
  int r = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
  CHECK("open /dev/kmsg O_RDONLY|O_NONBLOCK", r >= 0);
  CHECK("lseek(0, SEEK_END): 0", lseek(r, 0, SEEK_END) == 0);
  CHECK("poll at the end: nothing", poll_in(r) == 0);
  char buf[256];
  CHECK_ERRNO("read at the end: EAGAIN", read(r, buf, sizeof buf), EAGAIN);
  struct rec rec, rec2;
  /* A too small buffer. */
  CHECK("write \"<5>TOKEN-a small\\n\"", kmsg_put3("<5>", "-a small\n") > 0);
  CHECK("poll: POLLIN|POLLRDNORM", poll_in(r) == (POLLIN | POLLRDNORM));
  CHECK_ERRNO("read into 16 bytes: EINVAL", read(r, buf, 16), EINVAL);
  CHECK_ERRNO("and the record is gone (consumed): EAGAIN", read(r, buf, sizeof buf), EAGAIN);
  CHECK("poll: nothing", poll_in(r) == 0);
  /* One record. */
  CHECK("write \"<5>TOKEN-b hello\\n\": the whole length", kmsg_put3("<5>", "-b hello\n") == (long)strlen(token) + 12);
  CHECK("poll: POLLIN|POLLRDNORM", poll_in(r) == (POLLIN | POLLRDNORM));
  int ok = next_record(r, &rec);
  CHECK("read: exactly one record \"PRI,SEQ,TIMESTAMP,-;text\\n\" (decimal fields)", ok);
  CHECK("PRI 13 for \"<5>\" (LOG_USER|5)", ok && rec.pri == 13);
  CHECK("the text without prefix and newline", ok && text_is(&rec, "-b hello"));
  CHECK_ERRNO("another read: EAGAIN", read(r, buf, sizeof buf), EAGAIN);
  CHECK("poll: nothing after it", poll_in(r) == 0);
  /* Priorities. */
  int dl = 4; /* default_message_loglevel */
  int pf = open("/proc/sys/kernel/printk", O_RDONLY);
  char pb[64] = {0};
  if (pf >= 0 && read(pf, pb, sizeof pb - 1) > 0) sscanf(pb, "%*d %d", &dl);
  if (pf >= 0) close(pf);
  kmsg_put3("", "-c plain\n");
  ok = next_record(r, &rec2);
  CHECK("no prefix: PRI 12 (LOG_USER|default_message_loglevel)",
        ok && rec2.pri == 8u + (unsigned)dl && text_is(&rec2, "-c plain"));
  CHECK("SEQ increases", ok && rec2.seq > rec.seq);
  kmsg_put3("<190>", "-d local7\n");
  CHECK("\"<190>\": PRI 190 (the facility is kept)",
        next_record(r, &rec) && rec.pri == 190 && text_is(&rec, "-d local7"));
  kmsg_put3("<13>", "-e user\n");
  CHECK("\"<13>\": PRI 13", next_record(r, &rec) && rec.pri == 13 && text_is(&rec, "-e user"));
  snprintf(line, sizeof line, "<5%s-f open\n", token);
  kmsg_put(line, strlen(line));
  ok = next_record(r, &rec);
  char want[128];
  snprintf(want, sizeof want, "<5%s-f open", token);
  CHECK("\"<5\" without '>': text kept whole, default PRI",
        ok && rec.pri == 8u + (unsigned)dl && strcmp(rec.text, want) == 0);
  kmsg_put3("<5>", "-g a\tb\\c\x01\n");
  CHECK("tab, backslash, \\x01: escaped as \\x09 \\x5c \\x01",
        next_record(r, &rec) && text_is(&rec, "-g a\\x09b\\x5cc\\x01"));
  /* Multi-line and trailing newlines. */
  kmsg_put3("<5>", "-h one\ntwo\n");
  ok = next_record(r, &rec);
  CHECK("a two-line write: one record, the inner newline escaped as \\x0a", ok && text_is(&rec, "-h one\\x0atwo"));
  CHECK_ERRNO("and nothing more: EAGAIN", read(r, buf, sizeof buf), EAGAIN);
  kmsg_put3("<5>", "-i two newlines\n\n");
  CHECK("\"...\\n\\n\": only the last newline is dropped",
        next_record(r, &rec) && text_is(&rec, "-i two newlines\\x0a"));
  /* writev: one record. */
  int w = open("/dev/kmsg", O_WRONLY);
  struct iovec iov[3] = {{"<5>", 3}, {token, strlen(token)}, {"-j vec\n", 7}};
  CHECK("writev of 3 pieces: the whole length", writev(w, iov, 3) == (long)(10 + strlen(token)));
  CHECK("one record of the joined text", next_record(r, &rec) && rec.pri == 13 && text_is(&rec, "-j vec"));
  CHECK_ERRNO("and nothing more: EAGAIN", read(r, buf, sizeof buf), EAGAIN);
  close(w);
  /* Without a trailing newline a record stays open until the next one. */
  CHECK("write \"<5>TOKEN-k open\" without a newline: the whole length",
        kmsg_put3("<5>", "-k open") == (long)strlen(token) + 10);
  CHECK_ERRNO("not readable yet: EAGAIN", read(r, buf, sizeof buf), EAGAIN);
  CHECK("no POLLIN yet", poll_in(r) == 0);
  n = klog(SYSLOG_ACTION_READ_ALL, all, log_size);
  all[n > 0 ? n : 0] = 0;
  snprintf(text, sizeof text, "%s-k open", token);
  CHECK("nor in READ_ALL", n > 0 && strstr(all, text) == NULL);
  kmsg_put3("<5>", "-l next\n");
  ok = next_record(r, &rec) && text_is(&rec, "-k open");
  CHECK("the next write ends it: it is read first, unchanged", ok && rec.pri == 13);
  CHECK("then the next", next_record(r, &rec2) && text_is(&rec2, "-l next") && rec2.seq == rec.seq + 1);
  /* An empty write: an empty record, with the default priority. */
  w = open("/dev/kmsg", O_WRONLY);
  CHECK("write of 0 bytes: 0", write(w, "", 0) == 0);
  close(w);
  kmsg_put3("<5>", "-m after\n");
  long en = read(r, buf, sizeof buf - 1);
  ok = en > 0 && parse_record(buf, en, &rec) && rec.text[0] == 0;
  CHECK("it made an empty record, default PRI", ok && rec.pri == 8u + (unsigned)dl);
  CHECK("then the next", next_record(r, &rec2) && text_is(&rec2, "-m after") && rec2.seq == rec.seq + 1);
  kmsg_put("<5>\n", 4);
  CHECK("\"<5>\\n\": an empty record, PRI 13", next_record(r, &rec) && rec.pri == 13 && rec.text[0] == 0);
  char* huge = malloc(8192);
  memset(huge, 'x', 8192);
  memcpy(huge, "<5>", 3);
  CHECK_ERRNO("a write of 8192 bytes: EINVAL", kmsg_put(huge, 8192), EINVAL);
  CHECK_ERRNO("still nothing to read: EAGAIN", read(r, buf, sizeof buf), EAGAIN);
  /* Descriptors opened one way. */
  CHECK_ERRNO("write on the O_RDONLY descriptor: EBADF", write(r, "<5>x\n", 5), EBADF);
  w = open("/dev/kmsg", O_WRONLY);
  CHECK_ERRNO("read on an O_WRONLY descriptor: EBADF", read(w, buf, sizeof buf), EBADF);
  CHECK("lseek(0, SEEK_END) on it: 0", lseek(w, 0, SEEK_END) == 0);
  close(w);
  /* lseek. */
  CHECK_ERRNO("lseek(1, SEEK_SET): ESPIPE", lseek(r, 1, SEEK_SET), ESPIPE);
  CHECK_ERRNO("lseek(-1, SEEK_END): ESPIPE", lseek(r, -1, SEEK_END), ESPIPE);
  CHECK_ERRNO("lseek(1, SEEK_CUR): ESPIPE", lseek(r, 1, SEEK_CUR), ESPIPE);
  CHECK_ERRNO("lseek(0, SEEK_CUR): EINVAL", lseek(r, 0, SEEK_CUR), EINVAL);
  CHECK_ERRNO("lseek(0, SEEK_HOLE): EINVAL", lseek(r, 0, SEEK_HOLE), EINVAL);
  CHECK_ERRNO("lseek(0, 9): EINVAL", lseek(r, 0, 9), EINVAL);
  CHECK("lseek(0, SEEK_DATA): 0", lseek(r, 0, SEEK_DATA) == 0);
  CHECK("lseek(0, SEEK_SET): 0", lseek(r, 0, SEEK_SET) == 0);
  CHECK("then a read gives a well-formed record", oldest_record_ok(r));
  CHECK("poll: more to read", poll_in(r) & POLLIN);
  close(r);
  int rw = open("/dev/kmsg", O_RDWR | O_NONBLOCK);
  CHECK("open O_RDWR", rw >= 0);
  lseek(rw, 0, SEEK_END);
  snprintf(line, sizeof line, "<5>%s-n rdwr\n", token);
  CHECK("write and read back on one O_RDWR descriptor",
        write(rw, line, strlen(line)) == (long)strlen(line) && next_record(rw, &rec) && text_is(&rec, "-n rdwr"));
  close(rw);
  return ABI_DONE();
}
