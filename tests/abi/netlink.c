/* AF_NETLINK, NETLINK_ROUTE: socket creation, port ids, the link, address and single-link
 * requests as `ip` and glibc ask them, errors and acks. Only the loopback interface is printed
 * (native and guest differ in the others). Output is compared line by line with a native run. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "abi_check.h"

/* The uapi definitions (musl has no <linux/netlink.h>): linux/netlink.h, linux/rtnetlink.h,
 * linux/if_link.h, linux/if_addr.h. */
#define NETLINK_ROUTE 0
#define SOL_NETLINK 270
#define NETLINK_EXT_ACK 11
struct sockaddr_nl {
  unsigned short nl_family;
  unsigned short nl_pad;
  unsigned nl_pid;
  unsigned nl_groups;
};
struct nlmsghdr {
  unsigned nlmsg_len;
  unsigned short nlmsg_type, nlmsg_flags;
  unsigned nlmsg_seq, nlmsg_pid;
};
struct nlmsgerr {
  int error;
  struct nlmsghdr msg;
};
struct rtattr {
  unsigned short rta_len, rta_type;
};
struct rtgenmsg {
  unsigned char rtgen_family;
};
struct ifinfomsg {
  unsigned char ifi_family, ifi_pad;
  unsigned short ifi_type;
  int ifi_index;
  unsigned ifi_flags, ifi_change;
};
struct ifaddrmsg {
  unsigned char ifa_family, ifa_prefixlen, ifa_flags, ifa_scope;
  unsigned ifa_index;
};
#define NLM_F_REQUEST 1
#define NLM_F_MULTI 2
#define NLM_F_ACK 4
#define NLM_F_DUMP 0x300
#define NLMSG_NOOP 1
#define NLMSG_ERROR 2
#define NLMSG_DONE 3
#define RTM_GETLINK 18
#define RTM_GETADDR 22
#define IFLA_ADDRESS 1
#define IFLA_IFNAME 3
#define IFLA_MTU 4
#define IFA_ADDRESS 1
#define IFA_LOCAL 2
#define IFA_LABEL 3
#define NLMSG_ALIGN(len) (((len) + 3) & ~3u)
#define NLMSG_HDRLEN ((int)NLMSG_ALIGN(sizeof(struct nlmsghdr)))
#define NLMSG_LENGTH(len) ((len) + NLMSG_HDRLEN)
#define NLMSG_DATA(nlh) ((void*)(((char*)(nlh)) + NLMSG_HDRLEN))
#define NLMSG_NEXT(nlh, len) \
  ((len) -= NLMSG_ALIGN((nlh)->nlmsg_len), (struct nlmsghdr*)(((char*)(nlh)) + NLMSG_ALIGN((nlh)->nlmsg_len)))
#define NLMSG_OK(nlh, len) \
  ((len) >= (int)sizeof(struct nlmsghdr) && (nlh)->nlmsg_len >= sizeof(struct nlmsghdr) && (nlh)->nlmsg_len <= (len))
#define RTA_ALIGN(len) (((len) + 3) & ~3u)
#define RTA_OK(rta, len) \
  ((len) >= (int)sizeof(struct rtattr) && (rta)->rta_len >= sizeof(struct rtattr) && (rta)->rta_len <= (len))
#define RTA_NEXT(rta, attrlen) \
  ((attrlen) -= RTA_ALIGN((rta)->rta_len), (struct rtattr*)(((char*)(rta)) + RTA_ALIGN((rta)->rta_len)))
#define RTA_DATA(rta) ((void*)(((char*)(rta)) + RTA_ALIGN(sizeof(struct rtattr))))
#define RTA_PAYLOAD(rta) ((size_t)((rta)->rta_len - RTA_ALIGN(sizeof(struct rtattr))))
#define IFLA_RTA(r) ((struct rtattr*)(((char*)(r)) + NLMSG_ALIGN(sizeof(struct ifinfomsg))))
#define IFLA_PAYLOAD(n) ((int)((n)->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct ifinfomsg)))))
#define IFA_RTA(r) ((struct rtattr*)(((char*)(r)) + NLMSG_ALIGN(sizeof(struct ifaddrmsg))))
#define IFA_PAYLOAD(n) ((int)((n)->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct ifaddrmsg)))))

static unsigned char buf[65536];
static unsigned seqno = 100;

static int request(int s, unsigned short type, unsigned short flags, const void* body, size_t len) {
  struct {
    struct nlmsghdr h;
    unsigned char body[64];
  } req;
  memset(&req, 0, sizeof(req));
  req.h.nlmsg_len = NLMSG_LENGTH(len);
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = flags;
  req.h.nlmsg_seq = ++seqno;
  memcpy(req.body, body, len);
  struct sockaddr_nl k = {.nl_family = AF_NETLINK};
  return sendto(s, &req, req.h.nlmsg_len, 0, (struct sockaddr*)&k, sizeof(k)) == (ssize_t)req.h.nlmsg_len;
}

/* Reads a dump to its NLMSG_DONE, calling `each` for every message; checks seq and pid. */
static int dump(int s, unsigned pid, void (*each)(struct nlmsghdr*)) {
  for (int rounds = 0; rounds < 100; ++rounds) {
    ssize_t n = recv(s, buf, sizeof(buf), 0);
    if (n <= 0) return 0;
    int left = (int)n;
    for (struct nlmsghdr* h = (struct nlmsghdr*)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != seqno || h->nlmsg_pid != pid) return 0;
      if (h->nlmsg_type == NLMSG_DONE) return 1;
      if (h->nlmsg_type == NLMSG_ERROR || !(h->nlmsg_flags & NLM_F_MULTI)) return 0;
      each(h);
    }
  }
  return 0;
}

static void print_link(struct nlmsghdr* h) {
  struct ifinfomsg* i = NLMSG_DATA(h);
  if (i->ifi_index != 1) return;
  int len = IFLA_PAYLOAD(h);
  printf("link 1 type %d flags %#x", i->ifi_type, i->ifi_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING));
  for (struct rtattr* a = IFLA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFLA_IFNAME) printf(" name %s", (char*)RTA_DATA(a));
    if (a->rta_type == IFLA_MTU) printf(" mtu %u", *(unsigned*)RTA_DATA(a));
    if (a->rta_type == IFLA_ADDRESS) printf(" addrlen %zu", RTA_PAYLOAD(a));
  }
  printf("\n");
}

static void print_addr(struct nlmsghdr* h) {
  struct ifaddrmsg* i = NLMSG_DATA(h);
  if (i->ifa_index != 1 || i->ifa_family != AF_INET) return;
  int len = IFA_PAYLOAD(h);
  char text[INET_ADDRSTRLEN];
  printf("addr 1 prefix %d scope %d", i->ifa_prefixlen, i->ifa_scope);
  for (struct rtattr* a = IFA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFA_LOCAL) printf(" local %s", inet_ntop(AF_INET, RTA_DATA(a), text, sizeof(text)));
    if (a->rta_type == IFA_ADDRESS) printf(" address %s", inet_ntop(AF_INET, RTA_DATA(a), text, sizeof(text)));
    if (a->rta_type == IFA_LABEL) printf(" label %s", (char*)RTA_DATA(a));
  }
  printf("\n");
}

/* The one reply to a request that is not a dump: its type, or the error NLMSG_ERROR carries. */
static void print_reply(int s, const char* what) {
  ssize_t n = recv(s, buf, sizeof(buf), 0);
  struct nlmsghdr* h = (struct nlmsghdr*)buf;
  if (n < (ssize_t)sizeof(*h) || h->nlmsg_seq != seqno) {
    printf("%s: no reply\n", what);
    return;
  }
  if (h->nlmsg_type == NLMSG_ERROR) {
    struct nlmsgerr* e = NLMSG_DATA(h);
    printf("%s: error %d (%s) quoting type %d\n", what, e->error, e->error ? strerror(-e->error) : "ack",
           e->msg.nlmsg_type);
  } else {
    printf("%s: type %d\n", what, h->nlmsg_type);
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK_ERRNO("stream netlink", socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE), ESOCKTNOSUPPORT);
  CHECK_ERRNO("protocol 32", socket(AF_NETLINK, SOCK_RAW, 32), EPROTONOSUPPORT);
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  CHECK("socket", s >= 0);
  struct sockaddr_nl a;
  socklen_t alen = sizeof(a);
  CHECK("getsockname unbound", getsockname(s, (struct sockaddr*)&a, &alen) == 0 && a.nl_pid == 0 && alen == sizeof(a) &&
                                   a.nl_family == AF_NETLINK);
  struct sockaddr_nl bad = {.nl_family = AF_INET};
  CHECK_ERRNO("bind with AF_INET", bind(s, (struct sockaddr*)&bad, sizeof(bad)), EINVAL);
  struct sockaddr_nl me = {.nl_family = AF_NETLINK};
  CHECK_ERRNO("bind short", bind(s, (struct sockaddr*)&me, 4), EINVAL);
  CHECK("bind pid 0", bind(s, (struct sockaddr*)&me, sizeof(me)) == 0);
  alen = sizeof(a);
  getsockname(s, (struct sockaddr*)&a, &alen);
  CHECK("autobound to the process id", a.nl_pid == (unsigned)getpid());
  unsigned pid = a.nl_pid;
  int s2 = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
  CHECK("second socket autobinds below zero", bind(s2, (struct sockaddr*)&me, sizeof(me)) == 0 &&
                                                  getsockname(s2, (struct sockaddr*)&a, &alen) == 0 &&
                                                  (int)a.nl_pid < 0);
  int s3 = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  struct sockaddr_nl taken = {.nl_family = AF_NETLINK, .nl_pid = pid};
  CHECK_ERRNO("bind a taken port id", bind(s3, (struct sockaddr*)&taken, sizeof(taken)), EADDRINUSE);
  int v = 0;
  socklen_t vl = sizeof(v);
  CHECK("SO_TYPE", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_RAW);
  CHECK("SO_DOMAIN", getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &vl) == 0 && v == AF_NETLINK);
  CHECK("SO_PROTOCOL", getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &vl) == 0 && v == NETLINK_ROUTE);
  v = 1;
  CHECK("NETLINK_EXT_ACK", setsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &v, sizeof(v)) == 0);
  v = 0;
  CHECK("NETLINK_EXT_ACK reads back", getsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &v, &vl) == 0 && v == 1);
  v = 0;
  setsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &v, sizeof(v));

  struct rtgenmsg g = {.rtgen_family = AF_UNSPEC};
  CHECK("link dump sent", request(s, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &g, sizeof(g)));
  CHECK("link dump", dump(s, pid, print_link));
  struct ifaddrmsg am = {.ifa_family = AF_INET};
  CHECK("address dump sent", request(s, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &am, sizeof(am)));
  CHECK("address dump", dump(s, pid, print_addr));

  struct ifinfomsg one = {.ifi_family = AF_UNSPEC, .ifi_index = 1};
  request(s, RTM_GETLINK, NLM_F_REQUEST, &one, sizeof(one));
  print_reply(s, "link 1");
  one.ifi_index = 999999;
  request(s, RTM_GETLINK, NLM_F_REQUEST, &one, sizeof(one));
  print_reply(s, "link 999999");
  request(s, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, NULL, 0);
  print_reply(s, "noop with ack");
  request(s, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &(struct ifinfomsg){.ifi_index = 1}, sizeof(struct ifinfomsg));
  print_reply(s, "link 1 with ack");
  print_reply(s, "then its ack");

  /* A dump read into a small buffer: cut, MSG_TRUNC. */
  request(s, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &g, sizeof(g));
  struct iovec iov = {buf, 20};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  ssize_t n = recvmsg(s, &mh, 0);
  CHECK("small buffer cuts the datagram", n == 20 && (mh.msg_flags & MSG_TRUNC));
  while (recv(s, buf, sizeof(buf), MSG_DONTWAIT) > 0) {}
  CHECK_ERRNO("nothing left", recv(s, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  struct sockaddr_nl user = {.nl_family = AF_NETLINK, .nl_pid = 12345};
  CHECK_ERRNO("to a user port nobody has", sendto(s, buf, 16, 0, (struct sockaddr*)&user, sizeof(user)), ECONNREFUSED);
  CHECK("if_nameindex lists lo first", ({
          struct if_nameindex* ni = if_nameindex();
          int ok = ni != NULL && ni[0].if_index == 1 && strcmp(ni[0].if_name, "lo") == 0;
          if (ni) if_freenameindex(ni);
          ok;
        }));
  return ABI_DONE();
}
