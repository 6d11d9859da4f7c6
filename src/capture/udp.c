/* A tunnel listener: VXLAN (RFC 7348, UDP 4789) or Geneve (RFC 8926,
 * UDP 6081) received on a UDP socket, as an AWS VPC Traffic Mirroring
 * target, an NLB behind it, or a Gateway Load Balancer sends them.
 *
 * The kernel strips the outer headers; what a datagram carries starts at
 * the tunnel header:
 *
 *  +-----------------+-------+------------------------------------------+
 *  | outer IPv4/IPv6 |  UDP  | VXLAN or Geneve | inner frame / packet   |
 *  +-----------------+-------+------------------------------------------+
 *   msg_name = source, pktinfo = destination   ^ data, caplen
 *
 * and the outer addresses come back from msg_name and IP_PKTINFO /
 * IPV6_PKTINFO, so the decoder builds the same tunnel record as from a
 * wire capture (struct tp_pkt `first` and `outer_*`).
 *
 * wirelen counts what the outer IP and UDP headers took on the wire (20
 * or 40 + 8 bytes, no IP options or extension headers assumed) so that
 * byte counts match those of a capture of the same traffic; caplen is the
 * datagram only, so caplen < wirelen for every frame of this source.
 *
 * `threads` sockets bind the same address and port with SO_REUSEPORT; the
 * kernel spreads datagrams over them by the outer 4-tuple, so one mirror
 * flow (one outer source port) stays on one thread.
 *
 * Timestamps: one clock_gettime(CLOCK_REALTIME) per batch rather than
 * SO_TIMESTAMPNS.  The vDSO read is ~20 ns for up to TP_RX_BATCH
 * datagrams, where SO_TIMESTAMPNS costs a kernel clock read for every
 * packet the host receives (it turns on the global netstamp key) plus a
 * 16-byte cmsg per datagram.  The price: frames of one batch share one
 * time, and frames that waited in the socket buffer carry the time they
 * were read, not the time they arrived. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capture/rx.h"
#include "decode/decode.h"
#include "util/log.h"
#include "util/mem.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif
#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
#ifndef SK_MEMINFO_DROPS
#define SK_MEMINFO_DROPS 8
#define SK_MEMINFO_VARS 9
#endif

#define IPV4_UDP_HLEN (20 + 8)
#define IPV6_UDP_HLEN (40 + 8)

/* Room for IPV6_PKTINFO (or IP_PKTINFO) and SO_RXQ_OVFL. */
#define CMSG_ROOM                                                         \
	(CMSG_SPACE(sizeof(struct in6_pktinfo)) +                         \
	 CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(uint32_t)))

union cmsg_buf {
	struct cmsghdr align;
	char buf[CMSG_ROOM];
};

struct udp_rx {
	int fd;
	int family;               /* of the socket */
	uint16_t port;
	uint8_t first;            /* TP_P_VXLAN or TP_P_GENEVE */
	struct tp_addr local;     /* bound address, when pktinfo is missing */
	char name[96];            /* "udp [::]:4789" */

	/* SO_RXQ_OVFL / SK_MEMINFO_DROPS: the socket's 32-bit drop count */
	uint32_t ovfl_last;
	struct tp_rx_stats st;

	struct mmsghdr msgs[TP_RX_BATCH];
	struct iovec iov[TP_RX_BATCH];
	struct sockaddr_in6 names[TP_RX_BATCH]; /* fits sockaddr_in too */
	union cmsg_buf cmsg[TP_RX_BATCH];
	uint8_t *frames;          /* TP_RX_BATCH × TP_RX_FRAME */
};

/* Fold a new reading of the kernel's cumulative 32-bit drop counter into
 * the 64-bit one.  Readings may come out of order (a datagram queued
 * before a SO_MEMINFO read carries an older count), so only a forward
 * step of less than 2^31 counts; that also carries the counter over its
 * wrap. */
static void drops_seen(struct udp_rx *u, uint32_t v)
{
	int32_t d = (int32_t)(v - u->ovfl_last);
	if (d > 0) {
		u->st.drops += (uint32_t)d;
		u->ovfl_last = v;
	}
}

static void udp_close(struct tp_rx *rx)
{
	struct udp_rx *u = rx->priv;
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (u->frames)
		tp_free(u->frames, (size_t)TP_RX_BATCH * TP_RX_FRAME);
	tp_free(u, sizeof(*u));
	rx->priv = NULL;
}

/* The address to bind: "" and "::" are every address, both families. */
static int parse_addr(struct udp_rx *u, const struct tp_source_cfg *sc,
		      struct sockaddr_in6 *sin6, struct sockaddr_in *sin)
{
	const char *a = sc->addr[0] ? sc->addr : "::";

	memset(sin6, 0, sizeof(*sin6));
	memset(sin, 0, sizeof(*sin));
	if (inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(sc->port);
		u->family = AF_INET6;
		memcpy(u->local.b, &sin6->sin6_addr, 16);
		snprintf(u->name, sizeof(u->name), "udp [%s]:%u", a,
			 (unsigned)sc->port);
		return 0;
	}
	if (inet_pton(AF_INET, a, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(sc->port);
		u->family = AF_INET;
		tp_addr_from_v4(&u->local, (const uint8_t *)&sin->sin_addr);
		snprintf(u->name, sizeof(u->name), "udp %s:%u", a,
			 (unsigned)sc->port);
		return 0;
	}
	snprintf(u->name, sizeof(u->name), "udp %s:%u", a, (unsigned)sc->port);
	return -EINVAL;
}

static int setopt(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val)) < 0 ? -errno : 0;
}

/* Ask for cfg->buffer bytes of receive buffer: SO_RCVBUFFORCE passes
 * net.core.rmem_max with CAP_NET_ADMIN, SO_RCVBUF is capped by it.
 * Less than asked is a warning, not an error: the source works, it only
 * drops sooner under a burst. */
static void set_rcvbuf(struct udp_rx *u, uint64_t want)
{
	if (want == 0)
		return;
	/* The kernel doubles the value (for its bookkeeping) and keeps it
	 * in an int. */
	int v = want > (uint64_t)(INT32_MAX / 2) ? INT32_MAX / 2 : (int)want;
	if (setopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, v) < 0)
		(void)setopt(u->fd, SOL_SOCKET, SO_RCVBUF, v);
	int got = 0;
	socklen_t len = sizeof(got);
	if (getsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0 &&
	    (uint64_t)got / 2 < (uint64_t)v)
		tp_log_warn("%s: receive buffer is %d bytes, not the %d asked "
			    "for; raise net.core.rmem_max or run with "
			    "CAP_NET_ADMIN",
			    u->name, got / 2, v);
}

/* Before the first socket of a source binds with SO_REUSEPORT, see that
 * nobody holds the port: a socket of another process (same user) with
 * SO_REUSEPORT would otherwise silently share the traffic with us. */
static int probe_port(struct udp_rx *u, const struct sockaddr *sa,
		      socklen_t salen)
{
	int fd = socket(u->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (u->family == AF_INET6)
		(void)setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	if (bind(fd, sa, salen) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int udp_open(struct tp_rx *rx, const struct tp_source_cfg *sc,
		    unsigned idx, unsigned n, char *err, size_t errlen)
{
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;
	const struct sockaddr *sa;
	socklen_t salen;
	const char *what;
	int rc;

	rx->cfg = sc;
	rx->idx = idx;
	rx->n = n;
	rx->priv = NULL;

	struct udp_rx *u = tp_calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, errlen, "udp %s:%u: out of memory", sc->addr,
			 (unsigned)sc->port);
		return -ENOMEM;
	}
	u->fd = -1;
	rx->priv = u;
	if (parse_addr(u, sc, &sin6, &sin) < 0) {
		snprintf(err, errlen,
			 "%s: '%s' is not an IPv4 or IPv6 address (use \"::\" "
			 "for every address)",
			 u->name, sc->addr);
		rc = -EINVAL;
		goto out;
	}
	if (sc->encap == TP_ENCAP_VXLAN) {
		u->first = TP_P_VXLAN;
	} else if (sc->encap == TP_ENCAP_GENEVE) {
		u->first = TP_P_GENEVE;
	} else {
		snprintf(err, errlen,
			 "%s: encapsulation must be vxlan or geneve", u->name);
		rc = -EINVAL;
		goto out;
	}
	u->port = sc->port;
	sa = u->family == AF_INET6 ? (const struct sockaddr *)&sin6
				   : (const struct sockaddr *)&sin;
	salen = u->family == AF_INET6 ? sizeof(sin6) : sizeof(sin);

	u->frames = tp_malloc((size_t)TP_RX_BATCH * TP_RX_FRAME);
	if (!u->frames) {
		snprintf(err, errlen, "%s: out of memory", u->name);
		rc = -ENOMEM;
		goto out;
	}

	if (idx == 0 && sc->port != 0 && (rc = probe_port(u, sa, salen)) < 0) {
		what = "cannot bind";
		goto sockerr;
	}
	u->fd = socket(u->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		rc = -errno;
		what = "cannot open a socket";
		goto sockerr;
	}
	what = "cannot set socket options";
	if (u->family == AF_INET6) {
		/* Dual stack: IPv4 senders arrive as ::ffff:a.b.c.d, which
		 * is tapir's own form of an IPv4 address. */
		if ((rc = setopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, 0)) < 0 ||
		    (rc = setopt(u->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)) <
			    0)
			goto sockerr;
	} else if ((rc = setopt(u->fd, IPPROTO_IP, IP_PKTINFO, 1)) < 0) {
		goto sockerr;
	}
	if ((rc = setopt(u->fd, SOL_SOCKET, SO_REUSEPORT, 1)) < 0 ||
	    (rc = setopt(u->fd, SOL_SOCKET, SO_RXQ_OVFL, 1)) < 0)
		goto sockerr;
	set_rcvbuf(u, sc->buffer);
	if (bind(u->fd, sa, salen) < 0) {
		rc = -errno;
		what = "cannot bind";
		goto sockerr;
	}

	for (unsigned i = 0; i < TP_RX_BATCH; i++) {
		u->iov[i].iov_base = u->frames + (size_t)i * TP_RX_FRAME;
		u->iov[i].iov_len = TP_RX_FRAME;
		u->msgs[i].msg_hdr.msg_iov = &u->iov[i];
		u->msgs[i].msg_hdr.msg_iovlen = 1;
		u->msgs[i].msg_hdr.msg_name = &u->names[i];
		u->msgs[i].msg_hdr.msg_control = u->cmsg[i].buf;
	}
	return 0;

sockerr:
	snprintf(err, errlen, "%s: %s: %s", u->name, what, strerror(-rc));
	if (rc == -EACCES && u->port < 1024)
		snprintf(err + strlen(err), errlen - strlen(err),
			 " (ports below 1024 need root or "
			 "CAP_NET_BIND_SERVICE)");
out:
	udp_close(rx);
	return rc;
}

/* Fill one view from datagram i of the last recvmmsg. */
static void fill(struct udp_rx *u, unsigned i, struct tp_pkt *p,
		 uint64_t ts)
{
	struct msghdr *mh = &u->msgs[i].msg_hdr;
	uint32_t len = u->msgs[i].msg_len; /* whole datagram: MSG_TRUNC */
	uint32_t hlen;

	p->data = u->iov[i].iov_base;
	p->caplen = len < TP_RX_FRAME ? len : TP_RX_FRAME;
	if (mh->msg_flags & MSG_TRUNC)
		u->st.truncated++;
	p->ts_ns = ts;
	p->linktype = 0; /* no link layer: `first` says where to start */
	p->first = u->first;
	p->outer_dport = u->port;
	p->outer_dst = u->local;

	if (u->family == AF_INET6) {
		const struct sockaddr_in6 *s6 = &u->names[i];
		memcpy(p->outer_src.b, &s6->sin6_addr, 16);
		p->outer_sport = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 =
			(const struct sockaddr_in *)&u->names[i];
		tp_addr_from_v4(&p->outer_src,
				(const uint8_t *)&s4->sin_addr);
		p->outer_sport = ntohs(s4->sin_port);
	}

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c;
	     c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memcpy(p->outer_dst.b, &pi.ipi6_addr, 16);
		} else if (c->cmsg_level == IPPROTO_IP &&
			   c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			tp_addr_from_v4(&p->outer_dst,
					(const uint8_t *)&pi.ipi_addr);
		} else if (c->cmsg_level == SOL_SOCKET &&
			   c->cmsg_type == SO_RXQ_OVFL) {
			uint32_t v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			drops_seen(u, v);
		}
	}

	/* A v4-mapped sender on a dual-stack socket came over IPv4. */
	if (tp_addr_is_v4(&p->outer_src)) {
		p->outer_ipver = 4;
		hlen = IPV4_UDP_HLEN;
	} else {
		p->outer_ipver = 6;
		hlen = IPV6_UDP_HLEN;
	}
	p->wirelen = len + hlen;
	u->st.bytes += p->wirelen;
}

static int udp_recv(struct tp_rx *rx, struct tp_pkt *pkts, unsigned max,
		    int timeout_ms, char *err, size_t errlen)
{
	struct udp_rx *u = rx->priv;
	struct pollfd pfd = {.fd = u->fd, .events = POLLIN};
	struct timespec now;
	int n;

	if (max > TP_RX_BATCH)
		max = TP_RX_BATCH;
	if (max == 0)
		return 0;
	/* A non-blocking batch first, and poll only when the socket is
	 * empty: under load that is one system call per batch.  (recvmmsg's
	 * own timeout is only checked between datagrams, and MSG_WAITFORONE
	 * would block without one.) */
	for (int attempt = 0;; attempt++) {
		for (unsigned i = 0; i < max; i++) {
			struct msghdr *mh = &u->msgs[i].msg_hdr;
			mh->msg_namelen = sizeof(u->names[i]);
			mh->msg_controllen = sizeof(u->cmsg[i].buf);
			mh->msg_flags = 0;
		}
		int r = recvmmsg(u->fd, u->msgs, max, MSG_DONTWAIT | MSG_TRUNC,
				 NULL);
		if (r > 0) {
			n = r;
			break;
		}
		int e = r < 0 ? errno : EAGAIN;
		if (e != EAGAIN && e != EINTR) {
			u->st.errors++;
			if (e == EBADF || e == ENOTSOCK || e == EFAULT ||
			    e == EINVAL) {
				snprintf(err, errlen, "%s: receive: %s",
					 u->name, strerror(e));
				return -e;
			}
			return 0; /* transient (ENOMEM, ENOBUFS): counted */
		}
		if (attempt > 0)
			return 0;
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno != EINTR) {
			e = errno;
			snprintf(err, errlen, "%s: poll: %s", u->name,
				 strerror(e));
			return -e;
		}
		if (r <= 0)
			return 0;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t ts = (uint64_t)now.tv_sec * 1000000000ull +
		      (uint64_t)now.tv_nsec;
	for (int i = 0; i < n; i++)
		fill(u, (unsigned)i, &pkts[i], ts);
	u->st.frames += (unsigned)n;
	return n;
}

/* The drop count as the socket has it now: SO_RXQ_OVFL only tells with
 * the next datagram, so drops at the end of a burst would wait for more
 * traffic. */
static void udp_stats(struct tp_rx *rx, struct tp_rx_stats *st)
{
	struct udp_rx *u = rx->priv;
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mi);

	if (getsockopt(u->fd, SOL_SOCKET, SO_MEMINFO, mi, &len) == 0 &&
	    len > SK_MEMINFO_DROPS * sizeof(uint32_t))
		drops_seen(u, mi[SK_MEMINFO_DROPS]);
	*st = u->st;
}

const struct tp_rx_ops tp_rx_udp = {
	.name = "udp",
	.open = udp_open,
	.recv = udp_recv,
	.stats = udp_stats,
	.close = udp_close,
};
