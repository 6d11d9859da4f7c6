/* An interface captured through AF_PACKET with a TPACKET_V3 ring
 * (Documentation/networking/packet_mmap.rst): the kernel fills blocks of
 * frames in memory shared with tapir and hands a block over when it is
 * full or when the retire timer fires, so one poll and no copy serve a
 * whole block.
 *
 * A block as the kernel hands it over:
 *
 *  +---------------------+---------------------------------------------+
 *  | tpacket_block_desc  | tpacket3_hdr | sockaddr_ll | pad | frame ...  |
 *  |  block_status,      |  tp_next_offset ──────────────────────────►  |
 *  |  num_pkts,          |  tp_sec, tp_nsec, tp_snaplen, tp_len,        |
 *  |  offset_to_first_pkt|  tp_mac, hv1.tp_vlan_tci / tp_vlan_tpid      |
 *  +---------------------+---------------------------------------------+
 *
 * `threads` sockets on one interface join one PACKET_FANOUT group
 * (PACKET_FANOUT_HASH: one flow to one socket; FLAG_DEFRAG: fragments
 * reassembled first so that they follow their flow).  `buffer` is the
 * ring of each socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture/rx.h"
#include "util/log.h"
#include "util/mem.h"

#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif

#define BLOCK_SIZE (1u << 20)
#define FRAME_SIZE 2048u          /* nominal: V3 frames are variable */
#define RETIRE_MS 10
#define DEFAULT_RING (32u << 20)
#define MIN_BLOCKS 2u
#define VLAN_HLEN 4

#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101

/* Bytes in front of each frame that belong to the kernel: the frame
 * header and the sockaddr_ll after it. */
#define FRAME_HDR_END                                                     \
	(TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) +                     \
	 sizeof(struct sockaddr_ll))

struct afp {
	int fd;
	uint8_t *ring;
	size_t ring_len;
	unsigned nblocks;
	unsigned cur;             /* block read next, or being read */
	bool in_block;            /* cur is ours (TP_STATUS_USER) */
	bool release;             /* hand cur back at the next call */
	const uint8_t *next;      /* next frame header in cur */
	uint32_t left;            /* frames of cur not yet returned */
	uint32_t linktype;
	char name[64];            /* "afpacket eth0" */
	struct tp_rx_stats st;
	uint64_t freezes;         /* tp_freeze_q_cnt: the ring was full */
	int group;                /* slot in groups[], -1 without fanout */
};

/* Fanout groups of this process: the threads of one source share one.
 * The first socket asks the kernel for an unused id
 * (PACKET_FANOUT_FLAG_UNIQUEID), so that no other source of this or
 * another process (another tapir, Suricata's cluster-id 99) can end up
 * sharing its traffic; the others join it by that id.  Keyed by the
 * source's configuration object: every thread of a source must be opened
 * with the same `sc`. */
static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const struct tp_source_cfg *sc;
	int ifindex;
	uint16_t id;
	unsigned refs;
} groups[TP_MAX_SOURCES];

#define FANOUT_MODE (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG)

static int fanout_join(struct afp *a, const struct tp_source_cfg *sc,
		       int ifindex)
{
	int rc = 0, slot = -1;

	pthread_mutex_lock(&groups_lock);
	for (unsigned i = 0; i < TP_ARRAY_SIZE(groups); i++) {
		if (groups[i].refs && groups[i].sc == sc &&
		    groups[i].ifindex == ifindex) {
			slot = (int)i;
			break;
		}
		if (!groups[i].refs && slot < 0)
			slot = (int)i;
	}
	if (slot < 0) {
		rc = -ENOSPC;
		goto out;
	}
	if (groups[slot].refs) {
		uint32_t val = groups[slot].id | (uint32_t)FANOUT_MODE << 16;
		if (setsockopt(a->fd, SOL_PACKET, PACKET_FANOUT, &val,
			       sizeof(val)) < 0) {
			rc = -errno;
			goto out;
		}
	} else {
		uint32_t val = (uint32_t)(FANOUT_MODE | PACKET_FANOUT_FLAG_UNIQUEID)
			       << 16;
		socklen_t len = sizeof(val);
		if (setsockopt(a->fd, SOL_PACKET, PACKET_FANOUT, &val,
			       sizeof(val)) < 0 ||
		    getsockopt(a->fd, SOL_PACKET, PACKET_FANOUT, &val, &len) <
			    0) {
			rc = -errno;
			goto out;
		}
		groups[slot].sc = sc;
		groups[slot].ifindex = ifindex;
		groups[slot].id = (uint16_t)(val & 0xffff);
	}
	groups[slot].refs++;
	a->group = slot;
out:
	pthread_mutex_unlock(&groups_lock);
	return rc;
}

static void fanout_leave(struct afp *a)
{
	if (a->group < 0)
		return;
	pthread_mutex_lock(&groups_lock);
	groups[a->group].refs--;
	pthread_mutex_unlock(&groups_lock);
	a->group = -1;
}

static void afp_close(struct tp_rx *rx)
{
	struct afp *a = rx->priv;
	if (!a)
		return;
	if (a->ring)
		munmap(a->ring, a->ring_len);
	if (a->fd >= 0)
		close(a->fd); /* leaves the fanout group and promiscuous mode */
	fanout_leave(a);
	tp_free(a, sizeof(*a));
	rx->priv = NULL;
}

/* The interface's hardware type and whether it is up; 0 or -errno. */
static int if_info(int fd, const char *ifname, int *hwtype, bool *up)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	/* if_nametoindex found it: shorter than IFNAMSIZ */
	memcpy(ifr.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	*up = ifr.ifr_flags & IFF_UP;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	*hwtype = ifr.ifr_hwaddr.sa_family;
	return 0;
}

/* The LINKTYPE of what a SOCK_RAW packet socket reads on an interface of
 * hardware type hw (ARPHRD_*), 0 if tapir cannot decode it. */
static uint32_t linktype_of(int hw)
{
	switch (hw) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK: /* a zeroed Ethernet header */
		return LINKTYPE_ETHERNET;
	case ARPHRD_NONE:     /* tun, WireGuard */
	case ARPHRD_RAWIP:
	case ARPHRD_TUNNEL:   /* IP-in-IP */
	case ARPHRD_TUNNEL6:
	case ARPHRD_SIT:
		return LINKTYPE_RAW;
	default:
		return 0;
	}
}

static int afp_open(struct tp_rx *rx, const struct tp_source_cfg *sc,
		    unsigned idx, unsigned n, char *err, size_t errlen)
{
	const char *what = NULL;
	int rc, val;

	rx->cfg = sc;
	rx->idx = idx;
	rx->n = n;
	rx->priv = NULL;

	struct afp *a = tp_calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "afpacket %s: out of memory",
			 sc->interface);
		return -ENOMEM;
	}
	a->fd = -1;
	a->group = -1;
	rx->priv = a;
	snprintf(a->name, sizeof(a->name), "afpacket %s", sc->interface);

	int ifindex = (int)if_nametoindex(sc->interface);
	if (ifindex == 0) {
		snprintf(err, errlen,
			 "%s: no such interface ('ip link' lists them)",
			 a->name);
		rc = -ENODEV;
		goto out;
	}
	/* Protocol 0: nothing is queued until bind names the interface. */
	a->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		rc = -errno;
		snprintf(err, errlen,
			 "%s: cannot open a packet socket: %s%s", a->name,
			 strerror(-rc),
			 rc == -EPERM || rc == -EACCES
				 ? " (needs root or CAP_NET_RAW)"
				 : "");
		goto out;
	}
	bool up = false;
	int hw = 0;
	if ((rc = if_info(a->fd, sc->interface, &hw, &up)) < 0) {
		what = "cannot read the interface";
		goto sockerr;
	}
	a->linktype = linktype_of(hw);
	if (a->linktype == 0) {
		snprintf(err, errlen,
			 "%s: hardware type ARPHRD %d is not supported "
			 "(Ethernet, loopback and raw IP interfaces are)",
			 a->name, hw);
		rc = -EPROTONOSUPPORT;
		goto out;
	}
	if (!up && idx == 0)
		tp_log_warn("%s: interface is down; nothing will be captured "
			    "until it is up",
			    a->name);

	what = "cannot set up the packet ring";
	val = TPACKET_V3;
	if (setsockopt(a->fd, SOL_PACKET, PACKET_VERSION, &val,
		       sizeof(val)) < 0)
		goto errno_err;
	/* Headroom in front of every frame for the VLAN tag put back in
	 * place (see fill()). */
	val = VLAN_HLEN;
	if (setsockopt(a->fd, SOL_PACKET, PACKET_RESERVE, &val,
		       sizeof(val)) < 0)
		goto errno_err;

	uint64_t ring = sc->buffer ? sc->buffer : DEFAULT_RING;
	uint64_t nb = ring / BLOCK_SIZE;
	if (nb < MIN_BLOCKS)
		nb = MIN_BLOCKS;
	if (nb > (1u << 16))
		nb = 1u << 16;
	struct tpacket_req3 req;
	memset(&req, 0, sizeof(req));
	req.tp_block_size = BLOCK_SIZE;
	req.tp_block_nr = (unsigned)nb;
	req.tp_frame_size = FRAME_SIZE;
	req.tp_frame_nr = (BLOCK_SIZE / FRAME_SIZE) * (unsigned)nb;
	req.tp_retire_blk_tov = RETIRE_MS;
	if (setsockopt(a->fd, SOL_PACKET, PACKET_RX_RING, &req,
		       sizeof(req)) < 0) {
		rc = -errno;
		snprintf(err, errlen,
			 "%s: cannot allocate a %u MiB packet ring: %s "
			 "(lower `buffer`)",
			 a->name, (unsigned)nb * (BLOCK_SIZE >> 20),
			 strerror(-rc));
		goto out;
	}
	a->nblocks = (unsigned)nb;
	a->ring_len = (size_t)nb * BLOCK_SIZE;
	a->ring = mmap(NULL, a->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       a->fd, 0);
	if (a->ring == MAP_FAILED) {
		a->ring = NULL;
		goto errno_err;
	}

	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(a->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		what = "cannot bind";
		goto errno_err;
	}
	struct packet_mreq mr;
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	if (setsockopt(a->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr,
		       sizeof(mr)) < 0) {
		what = "cannot set promiscuous mode";
		goto errno_err;
	}
	if (n > 1 && (rc = fanout_join(a, sc, ifindex)) < 0) {
		what = rc == -ENOSPC ? "too many fanout groups"
				     : "cannot join the fanout group";
		goto sockerr;
	}
	return 0;

errno_err:
	rc = -errno;
sockerr:
	snprintf(err, errlen, "%s: %s: %s", a->name, what, strerror(-rc));
out:
	afp_close(rx);
	return rc;
}

static uint32_t block_status(const uint8_t *b)
{
	const struct tpacket_block_desc *bd = (const void *)b;
	return __atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
}

static uint8_t *block(const struct afp *a, unsigned i)
{
	return a->ring + (size_t)i * BLOCK_SIZE;
}

static void put_be16(uint8_t *q, uint16_t v)
{
	q[0] = (uint8_t)(v >> 8);
	q[1] = (uint8_t)v;
}

static void fill(struct afp *a, const struct tpacket3_hdr *ch,
		 struct tp_pkt *p)
{
	uint8_t *mac = (uint8_t *)ch + ch->tp_mac;
	uint32_t caplen = ch->tp_snaplen, len = ch->tp_len;

	if (caplen < len)
		a->st.truncated++;
	/* The kernel moves the outer 802.1Q/802.1ad tag of a received frame
	 * into metadata (skb_vlan_untag, or the NIC's VLAN offload) before a
	 * packet socket sees it.  Put it back where it was on the wire:
	 * decoders, VLAN-keyed rules and the stored packets expect the tag,
	 * and wirelen counts it.  In place, in the headroom PACKET_RESERVE
	 * keeps in front of the frame: the block is ours until the next
	 * call, and no copy or per-batch scratch buffer is needed. */
	if ((ch->tp_status & TP_STATUS_VLAN_VALID) &&
	    a->linktype == LINKTYPE_ETHERNET && caplen >= 12 &&
	    ch->tp_mac >= FRAME_HDR_END + VLAN_HLEN) {
		uint16_t tpid = (ch->tp_status & TP_STATUS_VLAN_TPID_VALID) &&
						ch->hv1.tp_vlan_tpid
					? ch->hv1.tp_vlan_tpid
					: ETH_P_8021Q;
		memmove(mac - VLAN_HLEN, mac, 12);
		mac -= VLAN_HLEN;
		put_be16(mac + 12, tpid);
		put_be16(mac + 14, (uint16_t)ch->hv1.tp_vlan_tci);
		caplen += VLAN_HLEN;
		len += VLAN_HLEN;
	}
	p->data = mac;
	p->caplen = caplen;
	p->wirelen = len < caplen ? caplen : len;
	p->ts_ns = (uint64_t)ch->tp_sec * 1000000000ull + ch->tp_nsec;
	p->linktype = a->linktype;
	p->first = 0;
	p->outer_ipver = 0;
	a->st.bytes += p->wirelen;
}

static int afp_recv(struct tp_rx *rx, struct tp_pkt *pkts, unsigned max,
		    int timeout_ms, char *err, size_t errlen)
{
	struct afp *a = rx->priv;
	struct tpacket_block_desc *bd;
	unsigned n = 0;

	/* The frames returned last time are done with: their block goes
	 * back to the kernel. */
	if (a->release) {
		bd = (void *)block(a, a->cur);
		__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
		a->cur = (a->cur + 1) % a->nblocks;
		a->release = false;
		a->in_block = false;
	}
	if (max > TP_RX_BATCH)
		max = TP_RX_BATCH;
	if (max == 0)
		return 0;
	if (!a->in_block) {
		uint8_t *b = block(a, a->cur);
		if (!(block_status(b) & TP_STATUS_USER)) {
			struct pollfd pfd = {.fd = a->fd,
					     .events = POLLIN | POLLERR};
			if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR) {
				int e = errno;
				snprintf(err, errlen, "%s: poll: %s", a->name,
					 strerror(e));
				return -e;
			}
			if (!(block_status(b) & TP_STATUS_USER))
				return 0;
		}
		bd = (void *)b;
		a->in_block = true;
		a->left = bd->hdr.bh1.num_pkts;
		a->next = b + bd->hdr.bh1.offset_to_first_pkt;
		if (a->left == 0) {
			a->release = true;
			return 0;
		}
	}
	while (n < max && a->left > 0) {
		const struct tpacket3_hdr *ch = (const void *)a->next;
		fill(a, ch, &pkts[n++]);
		a->next += ch->tp_next_offset;
		a->left--;
	}
	if (a->left == 0)
		a->release = true;
	a->st.frames += n;
	return (int)n;
}

/* PACKET_STATISTICS counts since the last read and resets. */
static void afp_stats(struct tp_rx *rx, struct tp_rx_stats *st)
{
	struct afp *a = rx->priv;
	struct tpacket_stats_v3 ks;
	socklen_t len = sizeof(ks);

	if (getsockopt(a->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) ==
	    0) {
		a->st.drops += ks.tp_drops;
		a->freezes += ks.tp_freeze_q_cnt;
	}
	*st = a->st;
}

const struct tp_rx_ops tp_rx_afpacket = {
	.name = "afpacket",
	.open = afp_open,
	.recv = afp_recv,
	.stats = afp_stats,
	.close = afp_close,
};
