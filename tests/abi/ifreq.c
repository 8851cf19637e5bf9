/* The SIOCGIF* ioctls ifconfig asks, on the loopback interface (the one every machine has
 * alike: native and guest differ in their other interfaces, which are only looked for, not
 * printed). Output is compared line by line with a native run. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "abi_check.h"

static struct ifreq named(const char* name) {
  struct ifreq r;
  memset(&r, 0, sizeof(r));
  strncpy(r.ifr_name, name, IFNAMSIZ - 1);
  return r;
}

static const char* addr_text(const struct sockaddr* sa, char* buf) {
  const struct sockaddr_in* in = (const struct sockaddr_in*)sa;
  return inet_ntop(AF_INET, &in->sin_addr, buf, INET_ADDRSTRLEN);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char text[INET_ADDRSTRLEN];
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  int u = socket(AF_UNIX, SOCK_STREAM, 0);

  struct ifreq r = named("lo");
  CHECK("SIOCGIFFLAGS lo", ioctl(s, SIOCGIFFLAGS, &r) == 0);
  printf("lo flags %#x\n", (unsigned short)r.ifr_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_BROADCAST));
  r = named("lo");
  CHECK("SIOCGIFINDEX lo", ioctl(s, SIOCGIFINDEX, &r) == 0);
  int lo_index = r.ifr_ifindex;
  printf("lo index %d\n", lo_index);
  r = named("lo");
  CHECK("SIOCGIFMTU lo", ioctl(s, SIOCGIFMTU, &r) == 0);
  printf("lo mtu %d\n", r.ifr_mtu);
  r = named("lo");
  CHECK("SIOCGIFADDR lo", ioctl(s, SIOCGIFADDR, &r) == 0);
  printf("lo addr family %d %s\n", r.ifr_addr.sa_family, addr_text(&r.ifr_addr, text));
  r = named("lo");
  CHECK("SIOCGIFNETMASK lo", ioctl(s, SIOCGIFNETMASK, &r) == 0);
  printf("lo netmask %s\n", addr_text(&r.ifr_netmask, text));
  r = named("lo");
  CHECK("SIOCGIFHWADDR lo", ioctl(s, SIOCGIFHWADDR, &r) == 0);
  unsigned char zero[6] = {0};
  printf("lo hwaddr type %d zero %d\n", r.ifr_hwaddr.sa_family, memcmp(r.ifr_hwaddr.sa_data, zero, 6) == 0);
  r = named("");
  r.ifr_ifindex = lo_index;
  CHECK("SIOCGIFNAME of lo's index", ioctl(s, SIOCGIFNAME, &r) == 0 && strcmp(r.ifr_name, "lo") == 0);
  CHECK("if_nametoindex", if_nametoindex("lo") == (unsigned)lo_index);
  char name[IF_NAMESIZE];
  CHECK("if_indextoname", if_indextoname(lo_index, name) != NULL && strcmp(name, "lo") == 0);

  /* On a unix socket: the device questions work, the IPv4 ones do not. */
  r = named("lo");
  CHECK("SIOCGIFFLAGS on a unix socket", ioctl(u, SIOCGIFFLAGS, &r) == 0 && (r.ifr_flags & IFF_LOOPBACK));
  r = named("lo");
  CHECK_ERRNO("SIOCGIFADDR on a unix socket", ioctl(u, SIOCGIFADDR, &r), ENOTTY);

  /* Errors. */
  r = named("nosuchif0");
  CHECK_ERRNO("SIOCGIFFLAGS unknown name", ioctl(s, SIOCGIFFLAGS, &r), ENODEV);
  r = named("nosuchif0");
  CHECK_ERRNO("SIOCGIFADDR unknown name", ioctl(s, SIOCGIFADDR, &r), ENODEV);
  r = named("");
  r.ifr_ifindex = 123456;
  CHECK_ERRNO("SIOCGIFNAME unknown index", ioctl(s, SIOCGIFNAME, &r), ENODEV);
  CHECK_ERRNO("SIOCGIFFLAGS bad pointer", ioctl(s, SIOCGIFFLAGS, (void*)8), EFAULT);
  CHECK_ERRNO("SIOCGIFCONF bad pointer", ioctl(s, SIOCGIFCONF, (void*)8), EFAULT);

  /* SIOCGIFCONF: the length asked with a null buffer, then the entries; lo is among them. */
  struct ifconf c;
  memset(&c, 0, sizeof(c));
  CHECK("SIOCGIFCONF length",
        ioctl(s, SIOCGIFCONF, &c) == 0 && c.ifc_len > 0 && c.ifc_len % (int)sizeof(struct ifreq) == 0);
  int need = c.ifc_len;
  struct ifreq reqs[16];
  c.ifc_len = sizeof(reqs);
  c.ifc_req = reqs;
  CHECK("SIOCGIFCONF", ioctl(s, SIOCGIFCONF, &c) == 0 && c.ifc_len == need);
  int found = 0;
  for (int i = 0; i < c.ifc_len / (int)sizeof(struct ifreq); ++i) {
    if (strcmp(reqs[i].ifr_name, "lo") == 0) {
      found = reqs[i].ifr_addr.sa_family == AF_INET && strcmp(addr_text(&reqs[i].ifr_addr, text), "127.0.0.1") == 0;
    }
  }
  CHECK("SIOCGIFCONF lists lo with 127.0.0.1", found);
  c.ifc_len = sizeof(struct ifreq) + 3; /* room for one entry: one is given */
  c.ifc_req = reqs;
  CHECK("SIOCGIFCONF fills whole entries", ioctl(s, SIOCGIFCONF, &c) == 0 && c.ifc_len == (int)sizeof(struct ifreq));
  return ABI_DONE();
}
