/* The decode loop: link type → first protocol, then one table lookup per
 * layer until a decoder names no next protocol, fails, or the layer cap is
 * reached.  Decoders live one per file beside this one. */
#include "decode/decode.h"

#include <arpa/inet.h>
#include <pcap/dlt.h>
#include <string.h>

#include "decode/defrag.h"
#include "util/log.h"

/* Layers one frame may cross: tunnels × their headers, with room to spare. */
#define TP_MAX_LAYERS 48

static const char *const event_names[TP_EV__COUNT] = {
#define TP_EVENT_NAME(name, str) [TP_EV_##name] = str,
	TP_EVENTS(TP_EVENT_NAME)
#undef TP_EVENT_NAME
};

const char *tp_event_name(enum tp_event ev)
{
	return (unsigned)ev < TP_EV__COUNT ? event_names[ev] : "unknown_event";
}

void tp_decode_cfg_default(struct tp_decode_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vxlan_ports[0] = 4789;
	cfg->n_vxlan_ports = 1;
	cfg->geneve_ports[0] = 6081;
	cfg->n_geneve_ports = 1;
	cfg->vxlan_strict = false;
	cfg->verify_checksums = false;
	cfg->max_tunnels = TP_MAX_TUNNELS;
	cfg->defrag_mem_cap = 32u << 20;
	cfg->defrag_timeout_ns = 30ull * 1000000000ull;
}

int tp_dec_init(struct tp_dec *d, const struct tp_decode_cfg *cfg)
{
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->defrag = tp_defrag_new(cfg);
	return d->defrag ? 0 : -12;
}

void tp_dec_fini(struct tp_dec *d)
{
	tp_defrag_free(d->defrag);
	d->defrag = NULL;
}

void tp_pkt_reset(struct tp_pkt *p)
{
	/* Everything after the input fields but the tunnel records, which
	 * are written whole when pushed and read only below ntun. */
	p->ntun = 0;
	size_t off = offsetof(struct tp_pkt, gwlb);
	memset((uint8_t *)p + off, 0, sizeof(*p) - off);
}

void tp_dec_event(struct tp_dec *d, struct tp_pkt *p, enum tp_event ev,
		  const char *addl)
{
	d->events[ev]++;
	if (p->nevents < TP_MAX_PKT_EVENTS)
		p->events[p->nevents++] = (uint8_t)ev;
	if (d->on_event)
		d->on_event(d->on_event_arg, p, ev, addl);
}

static enum tp_proto proto_from_linktype(uint32_t lt)
{
	switch (lt) {
	case DLT_EN10MB:
		return TP_P_ETH;
	case DLT_LINUX_SLL:
		return TP_P_SLL;
#ifdef DLT_LINUX_SLL2
	case DLT_LINUX_SLL2:
		return TP_P_SLL2;
#endif
	case DLT_NULL:
	case DLT_LOOP:
		return TP_P_NULL;
	case DLT_PPP:
	case 50: /* LINKTYPE_PPP_HDLC */
		return TP_P_PPP;
	case DLT_RAW:
	case 101: /* LINKTYPE_RAW */
	case 228: /* LINKTYPE_IPV4 */
	case 229: /* LINKTYPE_IPV6 */
		return TP_P_RAW;
	default:
		return TP_P_NONE;
	}
}

enum tp_proto tp_proto_from_ethertype(uint16_t type)
{
	switch (type) {
	case 0x0800:
		return TP_P_IPV4;
	case 0x86dd:
		return TP_P_IPV6;
	case 0x8100:
	case 0x88a8:
	case 0x9100:
		return TP_P_VLAN;
	case 0x8847:
	case 0x8848:
		return TP_P_MPLS;
	case 0x0806:
		return TP_P_ARP;
	case 0x6558:
		return TP_P_ETH;
	default:
		return TP_P_NONE;
	}
}

enum tp_proto tp_proto_from_ipproto(struct tp_dec *d, uint8_t proto)
{
	(void)d;
	switch (proto) {
	case 6:
		return TP_P_TCP;
	case 17:
		return TP_P_UDP;
	case 1:
		return TP_P_ICMP;
	case 58:
		return TP_P_ICMP6;
	case 132:
		return TP_P_SCTP;
	case 47:
		return TP_P_GRE;
	default:
		return TP_P_NONE;
	}
}

enum tp_proto tp_proto_from_udp_port(const struct tp_dec *d, uint16_t dport)
{
	const struct tp_decode_cfg *cfg = d->cfg;
	for (unsigned i = 0; i < cfg->n_vxlan_ports; i++)
		if (cfg->vxlan_ports[i] == dport)
			return TP_P_VXLAN;
	for (unsigned i = 0; i < cfg->n_geneve_ports; i++)
		if (cfg->geneve_ports[i] == dport)
			return TP_P_GENEVE;
	if (dport == 6635) /* MPLS in UDP, RFC 7510 */
		return TP_P_MPLS;
	return TP_P_NONE;
}

struct tp_tunnel *tp_dec_push_tunnel(struct tp_dec *d, struct tp_pkt *p,
				     enum tp_encap encap)
{
	if (p->ntun >= d->cfg->max_tunnels || p->ntun >= TP_MAX_TUNNELS) {
		tp_dec_event(d, p, TP_EV_TUNNEL_TOO_DEEP, NULL);
		return NULL;
	}
	struct tp_tunnel *t = &p->tun[p->ntun++];
	memset(t, 0, sizeof(*t));
	t->encap = (uint8_t)encap;
	t->ipver = p->ipver;
	t->src = p->src;
	t->dst = p->dst;
	t->sport = p->sport;
	t->dport = p->dport;
	d->by_encap[encap]++;

	/* The inner packet starts afresh. */
	p->nvlan = 0;
	p->ipver = 0;
	p->proto = 0;
	p->truncated = false;
	p->is_fragment = false;
	p->reassembled = false;
	p->ip = NULL;
	p->ip_cap = p->ip_len = 0;
	p->sport = p->dport = 0;
	p->tcp_flags = 0;
	p->l4 = false;
	p->payload = NULL;
	p->payload_cap = p->payload_len = 0;
	return t;
}

void tp_addr_from_v4(struct tp_addr *a, const uint8_t *v4)
{
	memset(a->b, 0, 10);
	a->b[10] = 0xff;
	a->b[11] = 0xff;
	memcpy(a->b + 12, v4, 4);
}

bool tp_addr_is_v4(const struct tp_addr *a)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					   0xff, 0xff};
	return memcmp(a->b, prefix, 12) == 0;
}

char *tp_addr_str(const struct tp_addr *a, char *buf)
{
	if (tp_addr_is_v4(a))
		inet_ntop(AF_INET, a->b + 12, buf, 46);
	else
		inet_ntop(AF_INET6, a->b, buf, 46);
	return buf;
}

enum tp_dec_rc tp_decode(struct tp_dec *d, struct tp_pkt *p)
{
	if (p->first) {
		/* A tunnel payload from a socket: the outer headers are the
		 * socket's addresses, as if decoded from the wire. */
		p->ipver = p->outer_ipver;
		p->proto = 17;
		p->src = p->outer_src;
		p->dst = p->outer_dst;
		p->sport = p->outer_sport;
		p->dport = p->outer_dport;
		p->l4 = true;
		return tp_decode_from(d, p, (enum tp_proto)p->first);
	}
	enum tp_proto first = proto_from_linktype(p->linktype);

	if (first == TP_P_NONE) {
		d->packets++;
		tp_dec_event(d, p, TP_EV_UNKNOWN_LINKTYPE, NULL);
		return TP_DEC_UNSUPPORTED;
	}
	return tp_decode_from(d, p, first);
}

enum tp_dec_rc tp_decode_from(struct tp_dec *d, struct tp_pkt *p,
			      enum tp_proto cur)
{
	struct tp_cur c;
	enum tp_dec_rc rc = TP_DEC_OK;

	tp_cur_init(&c, p->data, p->caplen);
	d->packets++;
	while (cur != TP_P_NONE) {
		const struct tp_decoder_ops *ops = tp_decoders[cur];
		enum tp_proto next = TP_P_NONE;

		if (++p->layers > TP_MAX_LAYERS) {
			tp_dec_event(d, p, TP_EV_TUNNEL_TOO_DEEP, NULL);
			return TP_DEC_UNSUPPORTED;
		}
		if (!ops)
			return TP_DEC_UNSUPPORTED;
		rc = ops->decode(d, p, &c, &next);
		if (rc != TP_DEC_OK)
			return rc;
		if (cur >= TP_P_TCP && cur <= TP_P_SCTP)
			p->l4 = true;
		cur = next;
	}
	return TP_DEC_OK;
}
