/* Live receive: the UDP tunnel listener over loopback, a capture file
 * replayed flat out and paced, and AF_PACKET on a veth pair in a network
 * namespace of the test's own (skipped when not root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capture/rx.h"
#include "decode/decode.h"

/* --- helpers ------------------------------------------------------------ */

struct fx {
	struct tp_source_cfg sc;
	struct tp_rx rx[2];
	bool opened[2];
	struct tp_decode_cfg dcfg;
	struct tp_dec dec;
	struct tp_pkt pkts[TP_RX_BATCH];
	char err[256];
	char tmp[64];            /* a pcap written by the test */
	int ns_orig;             /* the network namespace to go back to */
};

static struct fx F;

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	F.ns_orig = -1;
	tp_decode_cfg_default(&F.dcfg);
	return tp_dec_init(&F.dec, &F.dcfg);
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 2; i++)
		if (F.opened[i])
			F.rx[i].ops->close(&F.rx[i]);
	tp_dec_fini(&F.dec);
	if (F.tmp[0])
		unlink(F.tmp);
	if (F.ns_orig >= 0) {
		if (setns(F.ns_orig, CLONE_NEWNET) < 0)
			return -1;
		close(F.ns_orig);
	}
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int rx_open(unsigned idx, unsigned n)
{
	const struct tp_rx_ops *ops = tp_rx_ops_of(F.sc.kind);
	assert_non_null(ops);
	F.rx[idx].ops = ops;
	F.err[0] = 0;
	int rc = ops->open(&F.rx[idx], &F.sc, idx, n, F.err, sizeof(F.err));
	F.opened[idx] = rc == 0;
	return rc;
}

/* Every one of n threads of F.sc opened. */
static void open_all(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(rx_open(i, n), 0);
}

/* Up to max frames of member t into F.pkts within timeout_ms: what recv
 * returns. */
static int rx_recv(unsigned t, unsigned max, int timeout_ms)
{
	return F.rx[t].ops->recv(&F.rx[t], F.pkts, max, timeout_ms, F.err,
				 sizeof(F.err));
}

static struct tp_rx_stats rx_stats(unsigned t)
{
	struct tp_rx_stats st;
	F.rx[t].ops->stats(&F.rx[t], &st);
	return st;
}

static void assert_addr_v4(const struct tp_addr *a, uint8_t x0, uint8_t x1,
			   uint8_t x2, uint8_t x3)
{
	struct tp_addr want;
	const uint8_t v4[4] = {x0, x1, x2, x3};
	tp_addr_from_v4(&want, v4);
	assert_memory_equal(a->b, want.b, 16);
}

/* A UDP socket bound to a port of its own on every address; *sport is
 * that port. */
static int sender(int family, uint16_t *sport)
{
	int fd = socket(family, SOCK_DGRAM, 0);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_true(fd >= 0);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	assert_int_equal(bind(fd, (struct sockaddr *)&ss,
			      family == AF_INET ? sizeof(struct sockaddr_in)
						: sizeof(struct sockaddr_in6)),
			 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*sport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* A port free on loopback now. */
static uint16_t free_port(int family)
{
	uint16_t port;
	close(sender(family, &port));
	return port;
}

static void put16(uint8_t *q, uint16_t v)
{
	q[0] = (uint8_t)(v >> 8);
	q[1] = (uint8_t)v;
}

/* IPv4 10.0.0.1 → 10.0.0.2, UDP sport → 53, 4 payload bytes: 32 bytes. */
static size_t inner_ip4(uint8_t *q, uint16_t sport)
{
	static const uint8_t ip[20] = {0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17,
				       0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
	memcpy(q, ip, 20);
	put16(q + 20, sport);
	put16(q + 22, 53);
	put16(q + 24, 12);
	put16(q + 26, 0);
	memcpy(q + 28, "tpir", 4);
	return 32;
}

/* VXLAN, VNI vni, carrying Ethernet + inner_ip4(sport): 54 bytes. */
static size_t vxlan_pkt(uint8_t *q, uint32_t vni, uint16_t sport)
{
	static const uint8_t eth[14] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1,
					0x08, 0x00};
	memset(q, 0, 8);
	q[0] = 0x08;
	q[4] = (uint8_t)(vni >> 16);
	q[5] = (uint8_t)(vni >> 8);
	q[6] = (uint8_t)vni;
	memcpy(q + 8, eth, 14);
	return 22 + inner_ip4(q + 22, sport);
}

static void send_to(int fd, const char *addr, uint16_t port,
		    const uint8_t *buf, size_t len)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		assert_int_equal(sendto(fd, buf, len, 0,
					(struct sockaddr *)&sin, sizeof(sin)),
				 (ssize_t)len);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &sin6.sin6_addr),
				 1);
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		assert_int_equal(sendto(fd, buf, len, 0,
					(struct sockaddr *)&sin6,
					sizeof(sin6)),
				 (ssize_t)len);
	}
}

static void udp_cfg(const char *addr, uint16_t port, uint8_t encap,
		    uint32_t threads)
{
	F.sc.kind = TP_SRC_UDP;
	F.sc.encap = encap;
	F.sc.port = port;
	snprintf(F.sc.addr, sizeof(F.sc.addr), "%s", addr);
	F.sc.threads = threads;
	F.sc.buffer = 1u << 20;
}

/* udp_cfg, and every one of its threads opened. */
static void open_udp(const char *addr, uint16_t port, uint8_t encap,
		     uint32_t threads)
{
	udp_cfg(addr, port, encap, threads);
	open_all(threads);
}

/* One datagram to addr:port from a socket of its own; that socket's port. */
static uint16_t send_once(int family, const char *addr, uint16_t port,
			  const uint8_t *buf, size_t len)
{
	uint16_t sport;
	int fd = sender(family, &sport);
	send_to(fd, addr, port, buf, len);
	close(fd);
	return sport;
}

/* --- UDP listener ----------------------------------------------------- */

#define NSEND 32

/* Two sockets share the port; 32 senders (32 outer source ports) reach
 * both, and every datagram decodes to its tunnel record and inner flow. */
static void test_udp_v4_two_threads(void **state)
{
	(void)state;
	uint16_t port = free_port(AF_INET);
	open_udp("127.0.0.1", port, TP_ENCAP_VXLAN, 2);

	uint8_t buf[128];
	uint16_t sports[NSEND];
	size_t len = 0;
	for (unsigned i = 0; i < NSEND; i++) {
		len = vxlan_pkt(buf, 100 + i, (uint16_t)(1000 + i));
		sports[i] = send_once(AF_INET, "127.0.0.1", port, buf, len);
	}
	assert_int_equal(len, 54);

	unsigned seen[NSEND] = {0}, got = 0, per[2] = {0, 0};
	uint64_t t0 = real_ns(), deadline = mono_ns() + 2000000000ull;
	while (got < NSEND && mono_ns() < deadline) {
		for (unsigned t = 0; t < 2; t++) {
			int n = rx_recv(t, TP_RX_BATCH, 20);
			assert_true(n >= 0);
			per[t] += (unsigned)n;
			for (int k = 0; k < n; k++) {
				struct tp_pkt *p = &F.pkts[k];
				assert_int_equal(p->first, TP_P_VXLAN);
				assert_int_equal(p->caplen, 54);
				assert_int_equal(p->wirelen, 54 + 20 + 8);
				assert_int_equal(p->outer_ipver, 4);
				assert_addr_v4(&p->outer_src, 127, 0, 0, 1);
				assert_addr_v4(&p->outer_dst, 127, 0, 0, 1);
				assert_int_equal(p->outer_dport, port);
				assert_true(p->ts_ns >= t0 - 1000000000ull &&
					    p->ts_ns <= real_ns());

				tp_pkt_reset(p);
				assert_int_equal(tp_decode(&F.dec, p),
						 TP_DEC_OK);
				assert_int_equal(p->ntun, 1);
				assert_int_equal(p->tun[0].encap,
						 TP_ENCAP_VXLAN);
				assert_int_equal(p->tun[0].has_id, 1);
				unsigned i = p->tun[0].id - 100;
				assert_true(i < NSEND);
				seen[i]++;
				assert_int_equal(p->outer_sport, sports[i]);
				assert_int_equal(p->tun[0].sport, sports[i]);
				assert_int_equal(p->tun[0].dport, port);
				assert_int_equal(p->tun[0].ipver, 4);
				assert_addr_v4(&p->tun[0].src, 127, 0, 0, 1);
				assert_int_equal(p->ipver, 4);
				assert_int_equal(p->proto, 17);
				assert_addr_v4(&p->src, 10, 0, 0, 1);
				assert_addr_v4(&p->dst, 10, 0, 0, 2);
				assert_int_equal(p->sport, 1000 + i);
				assert_int_equal(p->dport, 53);
				got++;
			}
		}
	}
	assert_int_equal(got, NSEND);
	for (unsigned i = 0; i < NSEND; i++)
		assert_int_equal(seen[i], 1);
	/* SO_REUSEPORT spread the 32 outer flows over both sockets. */
	assert_true(per[0] > 0 && per[1] > 0);

	struct tp_rx_stats st[2] = {rx_stats(0), rx_stats(1)};
	assert_int_equal(st[0].frames + st[1].frames, NSEND);
	assert_int_equal(st[0].frames, per[0]);
	assert_int_equal(st[0].bytes + st[1].bytes, NSEND * (54 + 28));
	assert_int_equal(st[0].drops + st[1].drops, 0);
	assert_int_equal(st[0].truncated + st[1].truncated, 0);
	assert_int_equal(st[0].errors + st[1].errors, 0);
}

/* Receive until one frame comes or a second passes. */
static int recv_one(unsigned t)
{
	uint64_t deadline = mono_ns() + 1000000000ull;
	int n = 0;
	while (n == 0 && mono_ns() < deadline)
		n = rx_recv(t, TP_RX_BATCH, 50);
	return n;
}

/* Geneve over IPv6, as a Gateway Load Balancer sends it (a bare IPv4
 * packet inside, the AWS endpoint-id option). */
static void test_udp_v6_geneve(void **state)
{
	(void)state;
	uint16_t port = free_port(AF_INET6);
	open_udp("::1", port, TP_ENCAP_GENEVE, 1);

	uint8_t buf[128] = {
		0x03, 0x00, 0x08, 0x00, 0x00, 0x12, 0x34, 0x00, /* 3 opt words */
		0x01, 0x08, 0x01, 0x02, /* class 0x0108, type 1, 2 words */
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	};
	size_t len = 20 + inner_ip4(buf + 20, 4242);
	uint16_t sport = send_once(AF_INET6, "::1", port, buf, len);

	assert_int_equal(recv_one(0), 1);
	struct tp_pkt *p = &F.pkts[0];
	static const uint8_t lo6[16] = {[15] = 1};
	assert_int_equal(p->first, TP_P_GENEVE);
	assert_int_equal(p->outer_ipver, 6);
	assert_memory_equal(p->outer_src.b, lo6, 16);
	assert_memory_equal(p->outer_dst.b, lo6, 16);
	assert_int_equal(p->outer_sport, sport);
	assert_int_equal(p->outer_dport, port);
	assert_int_equal(p->caplen, 52);
	assert_int_equal(p->wirelen, 52 + 40 + 8);

	tp_pkt_reset(p);
	assert_int_equal(tp_decode(&F.dec, p), TP_DEC_OK);
	assert_int_equal(p->ntun, 1);
	assert_int_equal(p->tun[0].encap, TP_ENCAP_GENEVE);
	assert_int_equal(p->tun[0].id, 0x1234);
	assert_int_equal(p->tun[0].ipver, 6);
	assert_memory_equal(p->tun[0].src.b, lo6, 16);
	assert_int_equal(p->gwlb.present & 1, 1);
	assert_true(p->gwlb.endpoint_id == 0x1122334455667788ull);
	assert_int_equal(p->ipver, 4);
	assert_int_equal(p->sport, 4242);
}

/* "::" takes IPv4 senders too, in v4-mapped form, counted as IPv4. */
static void test_udp_dual_stack(void **state)
{
	(void)state;
	uint16_t port = free_port(AF_INET6);
	open_udp("::", port, TP_ENCAP_VXLAN, 1);

	uint8_t buf[128];
	size_t len = vxlan_pkt(buf, 7, 5353);
	uint16_t sport = send_once(AF_INET, "127.0.0.1", port, buf, len);

	assert_int_equal(recv_one(0), 1);
	struct tp_pkt *p = &F.pkts[0];
	assert_int_equal(p->outer_ipver, 4);
	assert_addr_v4(&p->outer_src, 127, 0, 0, 1);
	assert_addr_v4(&p->outer_dst, 127, 0, 0, 1);
	assert_int_equal(p->outer_sport, sport);
	assert_int_equal(p->wirelen, 54 + 28);
	tp_pkt_reset(p);
	assert_int_equal(tp_decode(&F.dec, p), TP_DEC_OK);
	assert_int_equal(p->tun[0].id, 7);
	assert_int_equal(p->tun[0].ipver, 4);
	assert_addr_v4(&p->tun[0].src, 127, 0, 0, 1);
	assert_int_equal(p->sport, 5353);
}

/* A datagram longer than the receive buffer: cut, counted, its real
 * length kept. */
static void test_udp_truncated(void **state)
{
	(void)state;
	uint16_t port = free_port(AF_INET);
	open_udp("127.0.0.1", port, TP_ENCAP_VXLAN, 1);

	static uint8_t big[12000];
	(void)vxlan_pkt(big, 9, 99);
	(void)send_once(AF_INET, "127.0.0.1", port, big, sizeof(big));

	assert_int_equal(recv_one(0), 1);
	assert_int_equal(F.pkts[0].caplen, TP_RX_FRAME);
	assert_int_equal(F.pkts[0].wirelen, 12000 + 28);
	assert_memory_equal(F.pkts[0].data, big, TP_RX_FRAME);
	struct tp_rx_stats st = rx_stats(0);
	assert_int_equal(st.truncated, 1);
	assert_int_equal(st.frames, 1);
	assert_int_equal(st.bytes, 12000 + 28);
}

/* Drain whatever is queued; the number of frames. */
static unsigned drain(unsigned t)
{
	unsigned got = 0;
	int n;
	while ((n = rx_recv(t, TP_RX_BATCH, 50)) > 0)
		got += (unsigned)n;
	assert_int_equal(n, 0);
	return got;
}

/* A tiny socket buffer overflows; SO_RXQ_OVFL on the next datagram tells
 * how many were lost, so that received + lost = sent. */
static void test_udp_overflow(void **state)
{
	(void)state;
	uint16_t port = free_port(AF_INET), sport;
	udp_cfg("127.0.0.1", port, TP_ENCAP_VXLAN, 1);
	F.sc.buffer = 1; /* the kernel's minimum */
	open_all(1);

	static uint8_t buf[1000];
	(void)vxlan_pkt(buf, 1, 1);
	int fd = sender(AF_INET, &sport);
	const unsigned nsend = 200;
	for (unsigned i = 0; i < nsend; i++)
		send_to(fd, "127.0.0.1", port, buf, sizeof(buf));
	unsigned got = drain(0);
	assert_true(got > 0 && got < nsend);

	/* The marker carries the drop count in its cmsg. */
	send_to(fd, "127.0.0.1", port, buf, sizeof(buf));
	close(fd);
	assert_int_equal(recv_one(0), 1);
	got++;

	struct tp_rx_stats st = rx_stats(0);
	assert_int_equal(st.frames, got);
	assert_true(st.drops > 0);
	assert_int_equal(st.frames + st.drops, nsend + 1);
}

/* Every way to fail names the source and the cause. */
static void test_udp_errors(void **state)
{
	(void)state;
	uint16_t port = free_port(AF_INET);
	char want[128];

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(port)};
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	udp_cfg("127.0.0.1", port, TP_ENCAP_VXLAN, 1);
	assert_int_equal(rx_open(0, 1), -EADDRINUSE);
	snprintf(want, sizeof(want),
		 "udp 127.0.0.1:%u: cannot bind: Address already in use",
		 port);
	assert_string_equal(F.err, want);
	/* "::" overlaps 0.0.0.0 and every IPv4 address. */
	udp_cfg("::", port, TP_ENCAP_VXLAN, 1);
	assert_int_equal(rx_open(0, 1), -EADDRINUSE);
	snprintf(want, sizeof(want),
		 "udp [::]:%u: cannot bind: Address already in use", port);
	assert_string_equal(F.err, want);
	close(fd);

	udp_cfg("mirror.example", 4789, TP_ENCAP_VXLAN, 1);
	assert_int_equal(rx_open(0, 1), -EINVAL);
	assert_string_equal(F.err,
			    "udp mirror.example:4789: 'mirror.example' is not "
			    "an IPv4 or IPv6 address (use \"::\" for every "
			    "address)");
	udp_cfg("::", 4789, TP_ENCAP_GRE, 1);
	assert_int_equal(rx_open(0, 1), -EINVAL);
	assert_string_equal(F.err,
			    "udp [::]:4789: encapsulation must be vxlan or "
			    "geneve");
}

/* --- replay ----------------------------------------------------------- */

#define NREC 6

/* A pcap of NREC Ethernet frames, gap_ms apart (frame i's first byte is
 * i); the path in F.tmp. */
static void write_pcap(unsigned gap_ms, uint32_t big_caplen)
{
	snprintf(F.tmp, sizeof(F.tmp), "/tmp/test-rx-XXXXXX");
	int fd = mkstemp(F.tmp);
	assert_true(fd >= 0);
	close(fd);
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	assert_non_null(pd);
	pcap_dumper_t *dp = pcap_dump_open(pd, F.tmp);
	assert_non_null(dp);
	static uint8_t frame[16384];
	for (unsigned i = 0; i < NREC; i++) {
		struct pcap_pkthdr h;
		uint64_t us = 1000000ull * 1700000000ull +
			      (uint64_t)i * gap_ms * 1000ull;
		h.ts.tv_sec = (time_t)(us / 1000000);
		h.ts.tv_usec = (suseconds_t)(us % 1000000);
		h.caplen = i == NREC - 1 && big_caplen ? big_caplen : 60 + i;
		h.len = h.caplen + 4;
		memset(frame, (int)(0xa0 + i), h.caplen);
		frame[0] = (uint8_t)i;
		pcap_dump((u_char *)dp, &h, frame);
	}
	pcap_dump_close(dp);
	pcap_close(pd);
}

static void replay_cfg(uint32_t speed, bool loop)
{
	F.sc.kind = TP_SRC_PCAP;
	snprintf(F.sc.file, sizeof(F.sc.file), "%s", F.tmp);
	F.sc.threads = 1;
	F.sc.speed_permille = speed;
	F.sc.loop = loop;
}

/* write_pcap, replay_cfg, and the source opened. */
static void open_replay(unsigned gap_ms, uint32_t big_caplen, uint32_t speed,
			bool loop)
{
	write_pcap(gap_ms, big_caplen);
	replay_cfg(speed, loop);
	open_all(1);
}

static void test_replay_flat_out(void **state)
{
	(void)state;
	open_replay(1000, 0, 0, false);

	uint64_t t0 = real_ns(), m0 = mono_ns();
	/* Four, then the other two, then the end. */
	assert_int_equal(rx_recv(0, 4, 1000), 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(F.pkts[i].data[0], i);
		assert_int_equal(F.pkts[i].data[1], 0xa0 + i);
		assert_int_equal(F.pkts[i].caplen, 60 + i);
		assert_int_equal(F.pkts[i].wirelen, 64 + i);
		assert_int_equal(F.pkts[i].linktype, DLT_EN10MB);
		assert_int_equal(F.pkts[i].first, 0);
		/* delivery time, not the capture's (2023) */
		assert_true(F.pkts[i].ts_ns >= t0 &&
			    F.pkts[i].ts_ns <= real_ns());
	}
	assert_int_equal(rx_recv(0, TP_RX_BATCH, 1000), 2);
	assert_int_equal(F.pkts[0].data[0], 4);
	assert_int_equal(F.pkts[1].data[0], 5);
	assert_int_equal(F.pkts[1].caplen, 65);
	assert_int_equal(rx_recv(0, TP_RX_BATCH, 1000), TP_RX_END);
	/* Flat out: the one-second gaps were not slept. */
	assert_true(mono_ns() - m0 < 500000000ull);
	struct tp_rx_stats st = rx_stats(0);
	assert_int_equal(st.frames, NREC);
	assert_int_equal(st.bytes, 6 * 64 + 15);
	assert_int_equal(st.truncated, 0);
}

/* speed 4000 (four times the capture's pace): 100 ms gaps become 25 ms.
 * Due times count from the first read, which comes after `before`: no
 * frame may come earlier than before + 25 ms × i; the whole file takes
 * 125 ms, well under the 250 ms of a pace only twice the capture's. */
static void test_replay_paced(void **state)
{
	(void)state;
	open_replay(100, 0, 4000, false);

	uint64_t at[NREC], ts[NREC];
	uint64_t before = mono_ns(), real_before = real_ns();
	unsigned got = 0;
	int n;
	while ((n = rx_recv(0, TP_RX_BATCH, 100)) != TP_RX_END) {
		assert_true(n >= 0);
		uint64_t now = mono_ns();
		for (int k = 0; k < n; k++) {
			assert_true(got < NREC);
			assert_int_equal(F.pkts[k].data[0], got);
			at[got] = now;
			ts[got++] = F.pkts[k].ts_ns;
		}
	}
	assert_int_equal(got, NREC);
	for (unsigned i = 0; i < NREC; i++) {
		assert_true(at[i] - before >= i * 25000000ull);
		assert_true(ts[i] - real_before >= i * 25000000ull);
	}
	assert_true(at[NREC - 1] - before < 125000000ull + 100000000ull);
}

/* A frame not due within the timeout: recv comes back empty on time and
 * delivers it later. */
static void test_replay_timeout(void **state)
{
	(void)state;
	open_replay(300, 0, 1000, false);

	assert_int_equal(rx_recv(0, TP_RX_BATCH, 20), 1);
	uint64_t m0 = mono_ns();
	assert_int_equal(rx_recv(0, TP_RX_BATCH, 20), 0);
	uint64_t waited = mono_ns() - m0;
	assert_true(waited >= 19000000ull && waited < 150000000ull);
	assert_int_equal(rx_recv(0, TP_RX_BATCH, 1000), 1);
	assert_int_equal(F.pkts[0].data[0], 1);
}

/* loop: the file again from its start; a frame over TP_RX_FRAME is cut. */
static void test_replay_loop(void **state)
{
	(void)state;
	open_replay(1, 12000, 0, true);

	unsigned got = 0;
	while (got < 3 * NREC) {
		int n = rx_recv(0, 4, 1000);
		assert_true(n > 0);
		for (int k = 0; k < n; k++, got++) {
			assert_int_equal(F.pkts[k].data[0], got % NREC);
			if (got % NREC == NREC - 1) {
				assert_int_equal(F.pkts[k].caplen,
						 TP_RX_FRAME);
				assert_int_equal(F.pkts[k].wirelen, 12004);
			}
		}
	}
	struct tp_rx_stats st = rx_stats(0);
	assert_true(st.frames >= 3 * NREC);
	assert_int_equal(st.truncated, 3);
}

static void test_replay_errors(void **state)
{
	(void)state;
	write_pcap(1, 0);
	replay_cfg(0, false);
	F.sc.threads = 2;
	assert_int_equal(rx_open(0, 2), -EINVAL);
	char want[256];
	snprintf(want, sizeof(want),
		 "pcap %s: a replayed file is read by one thread; set "
		 "threads: 1",
		 F.tmp);
	assert_string_equal(F.err, want);

	replay_cfg(0, false);
	snprintf(F.sc.file, sizeof(F.sc.file), "/nonexistent/x.pcap");
	assert_int_equal(rx_open(0, 1), -ENOENT);
	assert_string_equal(F.err, "pcap: cannot open /nonexistent/x.pcap: "
				   "No such file or directory");
}

/* --- AF_PACKET ---------------------------------------------------------- */

static void nl_attr(uint8_t *buf, size_t *off, unsigned short type,
		    const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(buf + *off);
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	*off += RTA_ALIGN(a->rta_len);
}

static void nl_end(uint8_t *buf, size_t *off, size_t start)
{
	((struct rtattr *)(buf + start))->rta_len =
		(unsigned short)(*off - start);
}

/* `ip link add a type veth peer name b` over rtnetlink; 0 or -errno. */
static int veth_create(const char *a, const char *b)
{
	_Alignas(struct nlmsghdr) uint8_t buf[512];
	size_t off = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;

	memset(buf, 0, sizeof(buf));
	nh->nlmsg_type = RTM_NEWLINK;
	nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL |
			  NLM_F_ACK;
	nh->nlmsg_seq = 1;
	nl_attr(buf, &off, IFLA_IFNAME, a, strlen(a) + 1);
	size_t li = off;
	nl_attr(buf, &off, IFLA_LINKINFO, NULL, 0);
	nl_attr(buf, &off, IFLA_INFO_KIND, "veth", 5);
	size_t data = off;
	nl_attr(buf, &off, IFLA_INFO_DATA, NULL, 0);
	size_t peer = off;
	nl_attr(buf, &off, VETH_INFO_PEER, NULL, 0);
	off += sizeof(struct ifinfomsg);
	nl_attr(buf, &off, IFLA_IFNAME, b, strlen(b) + 1);
	nl_end(buf, &off, peer);
	nl_end(buf, &off, data);
	nl_end(buf, &off, li);
	nh->nlmsg_len = (uint32_t)off;

	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int rc = 0;
	if (sendto(fd, buf, off, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
	} else {
		_Alignas(struct nlmsghdr) uint8_t ack[1024];
		ssize_t r = recv(fd, ack, sizeof(ack), 0);
		const struct nlmsghdr *ah = (const void *)ack;
		if (r < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
			rc = -EIO;
		else if (ah->nlmsg_type == NLMSG_ERROR)
			rc = ((const struct nlmsgerr *)NLMSG_DATA(ah))->error;
	}
	close(fd);
	return rc;
}

static void if_up(const char *name)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
}

#define NFLOWS 64
#define TEST_MAC 0x02, 0x00, 0x5e, 0x00, 0x00, 0x01

/* An Ethernet + IPv4 + UDP frame 10.1.0.1:sport → 10.1.0.2:7777, with a
 * VLAN tag when tci; its length. */
static size_t eth_frame(uint8_t *q, uint16_t sport, uint16_t tci)
{
	static const uint8_t hdr[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					TEST_MAC};
	size_t off = 12;
	memcpy(q, hdr, 12);
	if (tci) {
		put16(q + 12, 0x8100);
		put16(q + 14, tci);
		off = 16;
	}
	put16(q + off, 0x0800);
	off += 2;
	static const uint8_t ip[20] = {0x45, 0, 0, 36, 0, 1, 0, 0, 64, 17,
				       0, 0, 10, 1, 0, 1, 10, 1, 0, 2};
	memcpy(q + off, ip, 20);
	put16(q + off + 20, sport);
	put16(q + off + 22, 7777);
	put16(q + off + 24, 16);
	put16(q + off + 26, 0);
	memcpy(q + off + 28, "TAPIRTAP", 8);
	return off + 36;
}

/* Frames sent on one end of a veth pair come out of the other, spread
 * over two fanout members, each flow once; a VLAN-tagged frame comes back
 * with its tag where it was. */
static void test_afpacket_veth(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip();
	}
	F.ns_orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(F.ns_orig >= 0);
	/* A namespace of our own (this thread's), left in teardown. */
	if (unshare(CLONE_NEWNET) < 0) {
		close(F.ns_orig);
		F.ns_orig = -1;
		skip();
	}
	int rc = veth_create("tprx0", "tprx1");
	if (rc == -EOPNOTSUPP || rc == -ENOENT) {
		skip(); /* no veth driver */
	}
	assert_int_equal(rc, 0);
	if_up("tprx0");
	if_up("tprx1");

	/* A missing interface is named. */
	F.sc.kind = TP_SRC_AFPACKET;
	snprintf(F.sc.interface, sizeof(F.sc.interface), "tpnosuch0");
	F.sc.threads = 1;
	assert_int_equal(rx_open(0, 1), -ENODEV);
	assert_string_equal(F.err, "afpacket tpnosuch0: no such interface "
				   "('ip link' lists them)");

	snprintf(F.sc.interface, sizeof(F.sc.interface), "tprx1");
	F.sc.threads = 2;
	F.sc.buffer = 4u << 20;
	open_all(2);

	int tx = socket(AF_PACKET, SOCK_RAW, 0);
	assert_true(tx >= 0);
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = (int)if_nametoindex("tprx0"),
		.sll_halen = 6,
	};
	uint8_t frame[128], vlan_frame[128];
	for (unsigned i = 0; i < NFLOWS; i++) {
		size_t len = eth_frame(frame, (uint16_t)(2000 + i), 0);
		assert_int_equal(sendto(tx, frame, len, 0,
					(struct sockaddr *)&sll, sizeof(sll)),
				 (ssize_t)len);
	}
	/* priority 1, VLAN 100 */
	size_t vlen = eth_frame(vlan_frame, 9999, 0x2064);
	assert_int_equal(vlen, 54);
	assert_int_equal(sendto(tx, vlan_frame, vlen, 0,
				(struct sockaddr *)&sll, sizeof(sll)),
			 (ssize_t)vlen);
	close(tx);

	static const uint8_t mac[6] = {TEST_MAC};
	unsigned seen[NFLOWS] = {0}, per[2] = {0, 0}, got = 0, vlan_seen = 0;
	uint64_t t0 = real_ns(), deadline = mono_ns() + 3000000000ull;
	while (got < NFLOWS + 1 && mono_ns() < deadline) {
		for (unsigned t = 0; t < 2; t++) {
			int n = rx_recv(t, TP_RX_BATCH, 20);
			assert_true(n >= 0);
			for (int k = 0; k < n; k++) {
				struct tp_pkt *p = &F.pkts[k];
				/* not ours: IPv6 neighbour discovery */
				if (p->caplen < 12 ||
				    memcmp(p->data + 6, mac, 6) != 0)
					continue;
				assert_int_equal(p->linktype, 1);
				assert_int_equal(p->first, 0);
				assert_int_equal(p->wirelen, p->caplen);
				assert_true(p->ts_ns >=
						    t0 - 1000000000ull &&
					    p->ts_ns <= real_ns());
				got++;
				per[t]++;
				tp_pkt_reset(p);
				assert_int_equal(tp_decode(&F.dec, p),
						 TP_DEC_OK);
				assert_int_equal(p->proto, 17);
				assert_int_equal(p->dport, 7777);
				if (p->sport == 9999) {
					vlan_seen++;
					assert_int_equal(p->caplen, vlen);
					assert_memory_equal(p->data,
							    vlan_frame, vlen);
					assert_int_equal(p->nvlan, 1);
					assert_int_equal(p->vlan[0], 100);
					continue;
				}
				assert_int_equal(p->caplen, 50);
				assert_int_equal(p->nvlan, 0);
				unsigned i = p->sport - 2000u;
				assert_true(i < NFLOWS);
				seen[i]++;
			}
		}
	}
	assert_int_equal(got, NFLOWS + 1);
	assert_int_equal(vlan_seen, 1);
	for (unsigned i = 0; i < NFLOWS; i++)
		assert_int_equal(seen[i], 1);
	/* PACKET_FANOUT_HASH spread 65 flows over both members. */
	assert_true(per[0] > 0 && per[1] > 0);

	struct tp_rx_stats st[2] = {rx_stats(0), rx_stats(1)};
	assert_true(st[0].frames + st[1].frames >= NFLOWS + 1);
	assert_int_equal(st[0].drops + st[1].drops, 0);
	assert_int_equal(st[0].truncated + st[1].truncated, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_udp_v4_two_threads),
		T(test_udp_v6_geneve),
		T(test_udp_dual_stack),
		T(test_udp_truncated),
		T(test_udp_overflow),
		T(test_udp_errors),
		T(test_replay_flat_out),
		T(test_replay_paced),
		T(test_replay_timeout),
		T(test_replay_loop),
		T(test_replay_errors),
		T(test_afpacket_veth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
