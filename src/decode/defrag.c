/* IP fragment reassembly: IPv4, RFC 791 §3.2 (holes kept as in RFC 815, as
 * a sorted list of the extents received), and IPv6, RFC 8200 §4.5.
 *
 * IPv4 flags and fragment offset (bytes 6-7 of the header):
 *
 *   0                   1
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |R|D|M|   Fragment Offset (x8)  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * IPv6 fragment header (next header 44):
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                         Identification                        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A datagram is keyed by (source, destination, identification, protocol)
 * for IPv4 and (source, destination, identification) for IPv6, plus the
 * innermost VLAN ids and the innermost tunnel crossed (its depth, kind, id
 * and outer source), so that fragments seen through two mirror sessions
 * never mix.
 *
 * Memory.  Everything is allocated when the reassembler is made, within
 * cfg->defrag_mem_cap: a pool of chain slots (one per datagram being
 * reassembled) and an arena of 2 KiB pages that hold fragment bytes at
 * their offset in the datagram, mapped per chain by a page table.  A chain
 * holds its slot and the pages its bytes touch; tp_defrag_mem() counts
 * both.  When no slot or not enough pages are free, the fragment is
 * refused (fragment_memory_cap) and the chains already held are kept.
 *
 * Policy.
 *  - Overlaps: the bytes that arrived first win (BSD / old Linux policy).
 *    Overlapping bytes that are the same raise fragment_overlap, bytes
 *    that differ raise fragment_inconsistency (Zeek's meanings).
 *  - The end first learnt (from a last fragment, MF clear) wins too: a
 *    last fragment with another end, or any fragment reaching past it,
 *    raises fragment_size_inconsistency and only its bytes before that end
 *    are used.  A last fragment ending before bytes already held is
 *    refused with the same event.  A non-last fragment whose length is
 *    not a multiple of 8 raises it as well: refused for IPv6 (RFC 8200
 *    §4.5), cut down to a multiple of 8 for IPv4, as Linux does.
 *  - A datagram longer than 65535 bytes is refused
 *    (excessively_large_fragment); a non-last fragment of fewer than 64
 *    bytes raises excessively_small_fragment (it is still used unless it
 *    is empty); an IPv4 fragment with DF set raises fragment_with_DF.
 *  - A fragment captured short (fewer bytes present than its IP length
 *    says, e.g. a mirror session's packet length) cannot be reassembled
 *    correctly: it raises incompletely_captured_fragment, is not stored,
 *    and the call returns -1, so that the IP decoder passes it on as an
 *    unreassembled fragment (the first one still yields its ports).
 *  - A chain not completed within cfg->defrag_timeout_ns of packet time
 *    after its first fragment is dropped and counted as
 *    fragment_reassembly_timeout (a counter only: the packet at hand when
 *    it expires is not the one it belongs to).  A timeout of 0 disables
 *    expiry; the memory cap still bounds what is held.
 *  - An IPv6 atomic fragment (offset 0, M clear, RFC 6946) is returned at
 *    once, without touching any chain.
 * Every -1 return has raised an event on p, except when the reassembler is
 * absent or the packet is not a fragment (a caller's mistake). */
#include "decode/defrag.h"

#include <stddef.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <xxhash.h>

#include "util/log.h"
#include "util/mem.h"

#define DF_PAGE_SHIFT 11
#define DF_PAGE (1u << DF_PAGE_SHIFT)
#define DF_MAX_DGRAM 65535u     /* IPv4 total length / IPv6 payload length */
#define DF_TABLE_PAGES ((DF_MAX_DGRAM + DF_PAGE - 1) / DF_PAGE)
/* Disjoint pieces one datagram may have in flight; coalescing keeps
 * in-order and reverse-order arrival at one. */
#define DF_MAX_EXTENTS 32
#define DF_NIL UINT32_MAX
#define DF_V4_MAX_HDR 60
#define DF_V6_HDR 40
#define DF_MIN_FRAG 64          /* Zeek's MIN_ACCEPTABLE_FRAG_SIZE */
#define DF_OUT_SIZE (DF_V6_HDR + DF_MAX_DGRAM)

struct df_key {
	struct tp_addr src, dst;
	struct tp_addr tun_src; /* outer source of the innermost tunnel */
	uint32_t id;            /* IPv4 identification or IPv6 ident */
	uint32_t tun_id;        /* its VNI / GRE key / session id */
	uint16_t vlan[2];
	uint8_t ipver;
	uint8_t proto;          /* IPv4 protocol; 0 for IPv6 */
	uint8_t ntun;
	uint8_t tun_encap;
};

struct df_ext {
	uint32_t start, end;    /* [start, end) of the datagram payload */
};

struct df_chain {
	struct df_key key;
	uint64_t first_ns;      /* packet time of the first fragment */
	uint32_t hnext;         /* hash chain, or free list */
	uint32_t older, newer;  /* age list, by first fragment */
	uint32_t end;           /* payload length, once has_end */
	uint16_t hdr_len;       /* 0 until the offset-0 fragment is in */
	uint8_t has_end;
	uint8_t n_ext;
	uint8_t next_hdr;       /* IPv6: next header of the offset-0 fragment */
	uint8_t hdr[DF_V4_MAX_HDR];
	uint32_t page[DF_TABLE_PAGES];
	struct df_ext ext[DF_MAX_EXTENTS];
};

struct tp_defrag {
	uint64_t timeout_ns;
	uint64_t seed;

	struct df_chain *chains;
	uint32_t nchains;
	uint32_t chains_fresh;  /* slots never used yet: [chains_fresh, nchains) */
	uint32_t chains_free;   /* returned slots, linked by hnext */
	uint32_t chains_used;
	uint32_t oldest, newest;

	uint32_t *buckets;
	uint32_t mask;

	uint8_t *arena;
	uint32_t npages;
	uint32_t pages_fresh;
	uint32_t pages_free;    /* returned pages, linked through their bytes */
	uint32_t pages_used;

	uint8_t *out[2];        /* alternate, so that a reassembled datagram can
				 * carry a fragment of an inner one */
	unsigned out_cur;
};

/* --- pools ---------------------------------------------------------- */

static uint8_t *page_ptr(const struct tp_defrag *df, uint32_t idx)
{
	return df->arena + (size_t)idx * DF_PAGE;
}

static uint32_t page_get(struct tp_defrag *df)
{
	uint32_t idx;
	if (df->pages_free != DF_NIL) {
		idx = df->pages_free;
		memcpy(&df->pages_free, page_ptr(df, idx), sizeof(uint32_t));
	} else {
		TP_BUG_ON(df->pages_fresh >= df->npages);
		idx = df->pages_fresh++;
	}
	df->pages_used++;
	return idx;
}

static void page_put(struct tp_defrag *df, uint32_t idx)
{
	memcpy(page_ptr(df, idx), &df->pages_free, sizeof(uint32_t));
	df->pages_free = idx;
	df->pages_used--;
}

static uint32_t pages_avail(const struct tp_defrag *df)
{
	return df->npages - df->pages_used;
}

static uint64_t key_hash(const struct tp_defrag *df, const struct df_key *k)
{
	return XXH3_64bits_withSeed(k, sizeof(*k), df->seed);
}

static uint32_t chain_find(const struct tp_defrag *df, const struct df_key *k,
			   uint64_t h)
{
	uint32_t i = df->buckets[h & df->mask];
	while (i != DF_NIL && memcmp(&df->chains[i].key, k, sizeof(*k)) != 0)
		i = df->chains[i].hnext;
	return i;
}

/* A fresh chain for k, newest in the age list; DF_NIL when none is free. */
static uint32_t chain_new(struct tp_defrag *df, const struct df_key *k,
			  uint64_t h, uint64_t now_ns)
{
	uint32_t i;
	if (df->chains_free != DF_NIL) {
		i = df->chains_free;
		df->chains_free = df->chains[i].hnext;
	} else if (df->chains_fresh < df->nchains) {
		i = df->chains_fresh++;
	} else {
		return DF_NIL;
	}
	struct df_chain *ch = &df->chains[i];
	memset(ch, 0, offsetof(struct df_chain, page));
	memset(ch->page, 0xff, sizeof(ch->page));
	ch->key = *k;
	ch->first_ns = now_ns;

	uint32_t *b = &df->buckets[h & df->mask];
	ch->hnext = *b;
	*b = i;

	ch->older = df->newest;
	ch->newer = DF_NIL;
	if (df->newest != DF_NIL)
		df->chains[df->newest].newer = i;
	else
		df->oldest = i;
	df->newest = i;
	df->chains_used++;
	return i;
}

static void chain_free(struct tp_defrag *df, uint32_t i)
{
	struct df_chain *ch = &df->chains[i];

	for (unsigned pg = 0; pg < DF_TABLE_PAGES; pg++)
		if (ch->page[pg] != DF_NIL)
			page_put(df, ch->page[pg]);

	uint32_t *pp = &df->buckets[key_hash(df, &ch->key) & df->mask];
	while (*pp != i) {
		TP_BUG_ON(*pp == DF_NIL);
		pp = &df->chains[*pp].hnext;
	}
	*pp = ch->hnext;

	if (ch->older != DF_NIL)
		df->chains[ch->older].newer = ch->newer;
	else
		df->oldest = ch->newer;
	if (ch->newer != DF_NIL)
		df->chains[ch->newer].older = ch->older;
	else
		df->newest = ch->older;

	ch->hnext = df->chains_free;
	df->chains_free = i;
	df->chains_used--;
}

/* --- chain contents ------------------------------------------------- */

/* Visit [pos, pos + n) of a chain's bytes page by page: copy src in, or
 * compare with src (returns false at the first difference). */
static bool span_io(struct tp_defrag *df, const struct df_chain *ch,
		    uint32_t pos, const uint8_t *src, uint32_t n, bool write)
{
	while (n > 0) {
		uint32_t o = pos & (DF_PAGE - 1);
		uint32_t k = TP_MIN(n, DF_PAGE - o);
		uint8_t *pg = page_ptr(df, ch->page[pos >> DF_PAGE_SHIFT]) + o;
		if (write)
			memcpy(pg, src, k);
		else if (memcmp(pg, src, k) != 0)
			return false;
		pos += k;
		src += k;
		n -= k;
	}
	return true;
}

/* Extents ext[*first, *last) overlap or touch [s, e). */
static void ext_range(const struct df_chain *ch, uint32_t s, uint32_t e,
		      unsigned *first, unsigned *last)
{
	unsigned i = 0;
	while (i < ch->n_ext && ch->ext[i].end < s)
		i++;
	unsigned j = i;
	while (j < ch->n_ext && ch->ext[j].start <= e)
		j++;
	*first = i;
	*last = j;
}

static void ext_add(struct df_chain *ch, uint32_t s, uint32_t e)
{
	unsigned i, j;
	ext_range(ch, s, e, &i, &j);
	if (j > i) {
		s = TP_MIN(s, ch->ext[i].start);
		e = TP_MAX(e, ch->ext[j - 1].end);
	}
	/* Replace ext[i, j) by one extent. */
	memmove(&ch->ext[i + 1], &ch->ext[j],
		(ch->n_ext - j) * sizeof(ch->ext[0]));
	ch->n_ext = (uint8_t)(ch->n_ext - (j - i) + 1);
	ch->ext[i].start = s;
	ch->ext[i].end = e;
}

/* Walk [off, end) against the extents held: with write false, compare the
 * bytes already held (*overlap / *differ); with write true, copy in the
 * bytes not held yet (first wins). */
static void frag_walk(struct tp_defrag *df, const struct df_chain *ch,
		      uint32_t off, uint32_t end, const uint8_t *data,
		      bool write, bool *overlap, bool *differ)
{
	uint32_t pos = off;
	for (unsigned i = 0; i < ch->n_ext && pos < end; i++) {
		uint32_t s = ch->ext[i].start, e = ch->ext[i].end;
		if (e <= pos)
			continue;
		if (s >= end)
			break;
		if (s > pos) {
			if (write)
				span_io(df, ch, pos, data + (pos - off), s - pos,
					true);
			pos = s;
		}
		uint32_t oe = TP_MIN(e, end);
		if (!write) {
			*overlap = true;
			if (!span_io(df, ch, pos, data + (pos - off), oe - pos,
				     false))
				*differ = true;
		}
		pos = oe;
	}
	if (write && pos < end)
		span_io(df, ch, pos, data + (pos - off), end - pos, true);
}

static bool chain_complete(const struct df_chain *ch)
{
	return ch->has_end && ch->hdr_len && ch->n_ext == 1 &&
	       ch->ext[0].start == 0 && ch->ext[0].end == ch->end;
}

static uint8_t *out_next(struct tp_defrag *df)
{
	df->out_cur ^= 1;
	return df->out[df->out_cur];
}

static void v4_fix_header(uint8_t *h, uint32_t hlen, uint32_t tot)
{
	h[2] = (uint8_t)(tot >> 8);
	h[3] = (uint8_t)tot;
	h[6] &= 0xc0; /* keep reserved and DF; clear MF and the offset */
	h[7] = 0;
	h[10] = h[11] = 0;
	uint32_t sum = 0;
	for (uint32_t i = 0; i < hlen; i += 2)
		sum += (uint32_t)h[i] << 8 | h[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	h[10] = (uint8_t)(sum >> 8);
	h[11] = (uint8_t)sum;
}

/* Write the whole datagram of a complete chain to an output buffer and
 * release the chain.  -1 if it would be too large. */
static int chain_emit(struct tp_dec *d, struct tp_pkt *p, uint32_t i,
		      const uint8_t **out, uint32_t *out_len)
{
	struct tp_defrag *df = d->defrag;
	struct df_chain *ch = &df->chains[i];
	uint32_t tot = ch->hdr_len + ch->end;

	if (ch->key.ipver == 4 && tot > DF_MAX_DGRAM) {
		tp_dec_event(d, p, TP_EV_FRAG_TOO_LARGE, NULL);
		chain_free(df, i);
		return -1;
	}
	uint8_t *o = out_next(df);
	memcpy(o, ch->hdr, ch->hdr_len);
	for (uint32_t pos = 0; pos < ch->end; pos += DF_PAGE) {
		uint32_t k = TP_MIN(DF_PAGE, ch->end - pos);
		memcpy(o + ch->hdr_len + pos,
		       page_ptr(df, ch->page[pos >> DF_PAGE_SHIFT]), k);
	}
	if (ch->key.ipver == 4) {
		v4_fix_header(o, ch->hdr_len, tot);
	} else {
		o[4] = (uint8_t)(ch->end >> 8);
		o[5] = (uint8_t)ch->end;
		o[6] = ch->next_hdr;
	}
	*out = o;
	*out_len = tot;
	chain_free(df, i);
	return 1;
}

/* Offer one fragment's payload [off, off + len) to its chain. */
static int frag_add(struct tp_dec *d, struct tp_pkt *p, const struct df_key *k,
		    const uint8_t *hdr, uint32_t hdr_len, uint8_t next_hdr,
		    uint32_t off, uint32_t len, bool more, const uint8_t *data,
		    const uint8_t **out, uint32_t *out_len)
{
	struct tp_defrag *df = d->defrag;
	uint32_t end = off + len;
	uint64_t h = key_hash(df, k);
	uint32_t i = chain_find(df, k, h);
	struct df_chain *ch = i != DF_NIL ? &df->chains[i] : NULL;
	bool overlap = false, differ = false;
	uint32_t need = 0;

	if (ch) {
		uint32_t held_end = ch->n_ext ? ch->ext[ch->n_ext - 1].end : 0;
		if (ch->has_end && end != ch->end && (!more || end > ch->end)) {
			/* The first end stands; bytes within it still count. */
			tp_dec_event(d, p, TP_EV_FRAG_SIZE_INCONSISTENT, NULL);
			if (off >= ch->end)
				return -1;
			end = TP_MIN(end, ch->end);
			len = end - off;
			more = true;
		} else if (!more && !ch->has_end && held_end > end) {
			/* Bytes already held lie past this end. */
			tp_dec_event(d, p, TP_EV_FRAG_SIZE_INCONSISTENT, NULL);
			return -1;
		}
		if (len > 0) {
			unsigned a, b;
			ext_range(ch, off, end, &a, &b);
			if (ch->n_ext - (b - a) + 1 > DF_MAX_EXTENTS) {
				tp_dec_event(d, p, TP_EV_FRAG_DROPPED_CAP,
					     "extents");
				return -1;
			}
		}
	}
	if (len > 0)
		for (uint32_t pg = off >> DF_PAGE_SHIFT;
		     pg <= (end - 1) >> DF_PAGE_SHIFT; pg++)
			if (!ch || ch->page[pg] == DF_NIL)
				need++;
	if (need > pages_avail(df)) {
		tp_dec_event(d, p, TP_EV_FRAG_DROPPED_CAP, NULL);
		return -1;
	}
	if (!ch) {
		i = chain_new(df, k, h, p->ts_ns);
		if (i == DF_NIL) {
			tp_dec_event(d, p, TP_EV_FRAG_DROPPED_CAP, NULL);
			return -1;
		}
		ch = &df->chains[i];
	}

	if (len > 0) {
		frag_walk(df, ch, off, end, data, false, &overlap, &differ);
		for (uint32_t pg = off >> DF_PAGE_SHIFT;
		     pg <= (end - 1) >> DF_PAGE_SHIFT; pg++)
			if (ch->page[pg] == DF_NIL)
				ch->page[pg] = page_get(df);
		frag_walk(df, ch, off, end, data, true, NULL, NULL);
		ext_add(ch, off, end);
	}
	if (off == 0 && ch->hdr_len == 0) {
		memcpy(ch->hdr, hdr, hdr_len);
		ch->hdr_len = (uint16_t)hdr_len;
		ch->next_hdr = next_hdr;
	}
	if (!more) {
		ch->has_end = 1;
		ch->end = end;
	}
	if (overlap)
		tp_dec_event(d, p, differ ? TP_EV_FRAG_INCONSISTENT
					  : TP_EV_FRAG_OVERLAP, NULL);

	if (!chain_complete(ch))
		return 0;
	return chain_emit(d, p, i, out, out_len);
}

/* The tunnel and VLAN context shared by both key kinds. */
static void key_context(struct df_key *k, const struct tp_pkt *p)
{
	k->vlan[0] = p->nvlan > 0 ? p->vlan[0] : 0;
	k->vlan[1] = p->nvlan > 1 ? p->vlan[1] : 0;
	k->ntun = p->ntun;
	if (p->ntun > 0 && p->ntun <= TP_MAX_TUNNELS) {
		const struct tp_tunnel *t = &p->tun[p->ntun - 1];
		k->tun_encap = t->encap;
		k->tun_id = t->has_id ? t->id : 0;
		k->tun_src = t->src;
	}
}

/* --- public interface ----------------------------------------------- */

struct tp_defrag *tp_defrag_new(const struct tp_decode_cfg *cfg)
{
	struct tp_defrag *df = tp_calloc(1, sizeof(*df));
	if (!df)
		return NULL;

	/* About one page per chain, but never fewer pages than the largest
	 * datagram needs when the cap can hold it at all. */
	uint64_t cap = cfg->defrag_mem_cap;
	uint64_t nchains = cap / (sizeof(struct df_chain) + DF_PAGE);
	uint64_t big = (uint64_t)DF_TABLE_PAGES * DF_PAGE;
	if (cap >= big + sizeof(struct df_chain))
		nchains = TP_MIN(nchains, (cap - big) / sizeof(struct df_chain));
	if (nchains > (1u << 24))
		nchains = 1u << 24;
	uint64_t npages = (cap - nchains * sizeof(struct df_chain)) / DF_PAGE;
	if (npages > (uint64_t)UINT32_MAX - 1)
		npages = (uint64_t)UINT32_MAX - 1;
	uint32_t nbuckets = 1;
	while (nbuckets < nchains)
		nbuckets <<= 1;

	df->timeout_ns = cfg->defrag_timeout_ns;
	df->nchains = (uint32_t)nchains;
	df->npages = (uint32_t)npages;
	df->mask = nbuckets - 1;
	df->chains_free = df->pages_free = DF_NIL;
	df->oldest = df->newest = DF_NIL;
	if (getrandom(&df->seed, sizeof(df->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(df->seed))
		df->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)df;

	/* Pages and slots are touched only when first used. */
	df->chains = tp_malloc((size_t)df->nchains * sizeof(struct df_chain));
	df->arena = tp_malloc((size_t)df->npages * DF_PAGE);
	df->buckets = tp_malloc((size_t)nbuckets * sizeof(uint32_t));
	df->out[0] = tp_malloc(DF_OUT_SIZE);
	df->out[1] = tp_malloc(DF_OUT_SIZE);
	if (!df->chains || !df->arena || !df->buckets || !df->out[0] ||
	    !df->out[1]) {
		tp_defrag_free(df);
		return NULL;
	}
	memset(df->buckets, 0xff, (size_t)nbuckets * sizeof(uint32_t));
	return df;
}

void tp_defrag_free(struct tp_defrag *df)
{
	if (!df)
		return;
	tp_free(df->chains, (size_t)df->nchains * sizeof(struct df_chain));
	tp_free(df->arena, (size_t)df->npages * DF_PAGE);
	tp_free(df->buckets, ((size_t)df->mask + 1) * sizeof(uint32_t));
	tp_free(df->out[0], DF_OUT_SIZE);
	tp_free(df->out[1], DF_OUT_SIZE);
	tp_free(df, sizeof(*df));
}

uint64_t tp_defrag_mem(const struct tp_defrag *df)
{
	return (uint64_t)df->chains_used * sizeof(struct df_chain) +
	       (uint64_t)df->pages_used * DF_PAGE;
}

void tp_defrag_expire(struct tp_dec *d, uint64_t now_ns)
{
	struct tp_defrag *df = d->defrag;
	if (!df || df->timeout_ns == 0)
		return;
	while (df->oldest != DF_NIL) {
		const struct df_chain *ch = &df->chains[df->oldest];
		if (now_ns < ch->first_ns || now_ns - ch->first_ns < df->timeout_ns)
			break;
		d->events[TP_EV_FRAG_TIMEOUT]++;
		chain_free(df, df->oldest);
	}
}

int tp_defrag_v4(struct tp_dec *d, struct tp_pkt *p, const uint8_t *ip,
		 uint32_t ip_cap, const uint8_t **out, uint32_t *out_len)
{
	if (!d->defrag || ip_cap < 20)
		return -1;
	tp_defrag_expire(d, p->ts_ns);

	uint32_t hlen = (uint32_t)(ip[0] & 0x0f) * 4;
	uint32_t tot = tp_load_be16(ip + 2);
	uint16_t frag = tp_load_be16(ip + 6);
	uint32_t off = (uint32_t)(frag & 0x1fff) * 8;
	bool more = frag & 0x2000;

	if (!more && off == 0)
		return -1;
	if (hlen < 20 || hlen > ip_cap) {
		tp_dec_event(d, p, TP_EV_BOGUS_IP_HEADER_LEN, NULL);
		return -1;
	}
	if (tot < hlen) {
		tp_dec_event(d, p, TP_EV_BOGUS_IP_TOTAL_LEN, NULL);
		return -1;
	}
	if (ip_cap < tot) {
		tp_dec_event(d, p, TP_EV_FRAG_INCOMPLETE, NULL);
		return -1;
	}
	if (frag & 0x4000)
		tp_dec_event(d, p, TP_EV_FRAG_WITH_DF, NULL);

	uint32_t len = tot - hlen;
	if (off + len + hlen > DF_MAX_DGRAM) {
		tp_dec_event(d, p, TP_EV_FRAG_TOO_LARGE, NULL);
		return -1;
	}
	if (more) {
		if (tot < DF_MIN_FRAG || len == 0)
			tp_dec_event(d, p, TP_EV_FRAG_TOO_SMALL, NULL);
		if (len & 7) { /* as Linux does: the tail is ignored */
			tp_dec_event(d, p, TP_EV_FRAG_SIZE_INCONSISTENT, NULL);
			len &= ~7u;
		}
		if (len == 0)
			return -1;
	}

	struct df_key k;
	memset(&k, 0, sizeof(k));
	k.ipver = 4;
	k.proto = ip[9];
	k.id = tp_load_be16(ip + 4);
	tp_addr_from_v4(&k.src, ip + 12);
	tp_addr_from_v4(&k.dst, ip + 16);
	key_context(&k, p);
	return frag_add(d, p, &k, ip, hlen, ip[9], off, len, more, ip + hlen,
			out, out_len);
}

int tp_defrag_v6(struct tp_dec *d, struct tp_pkt *p, const uint8_t *ip,
		 uint8_t next_hdr, uint32_t frag_off, bool more, uint32_t ident,
		 const uint8_t *data, uint32_t data_len, const uint8_t **out,
		 uint32_t *out_len)
{
	if (!d->defrag)
		return -1;
	tp_defrag_expire(d, p->ts_ns);

	/* data lies in the same buffer as ip, after the headers; the bytes
	 * the fragment has on the wire follow from the payload length. */
	uint32_t plen = tp_load_be16(ip + 4);
	uintptr_t data_off = (uintptr_t)data - (uintptr_t)ip;
	if (plen == 0 || data_off < DF_V6_HDR || data_off > DF_V6_HDR + plen) {
		/* Fragments cannot be jumbograms (RFC 2675 §3). */
		tp_dec_event(d, p, TP_EV_BOGUS_IP_TOTAL_LEN, NULL);
		return -1;
	}
	uint32_t len = DF_V6_HDR + plen - (uint32_t)data_off;
	if (data_len < len) {
		tp_dec_event(d, p, TP_EV_FRAG_INCOMPLETE, NULL);
		return -1;
	}

	if (frag_off == 0 && !more) {
		uint8_t *o = out_next(d->defrag);
		memcpy(o, ip, DF_V6_HDR);
		memcpy(o + DF_V6_HDR, data, len);
		o[4] = (uint8_t)(len >> 8);
		o[5] = (uint8_t)len;
		o[6] = next_hdr;
		*out = o;
		*out_len = DF_V6_HDR + len;
		return 1;
	}
	if (frag_off + len > DF_MAX_DGRAM) {
		tp_dec_event(d, p, TP_EV_FRAG_TOO_LARGE, NULL);
		return -1;
	}
	if (more) {
		if (DF_V6_HDR + plen < DF_MIN_FRAG || len == 0)
			tp_dec_event(d, p, TP_EV_FRAG_TOO_SMALL, NULL);
		if (len == 0)
			return -1;
		if (len & 7) { /* RFC 8200 §4.5: discard */
			tp_dec_event(d, p, TP_EV_FRAG_SIZE_INCONSISTENT, NULL);
			return -1;
		}
	}

	struct df_key k;
	memset(&k, 0, sizeof(k));
	k.ipver = 6;
	k.id = ident;
	memcpy(k.src.b, ip + 8, 16);
	memcpy(k.dst.b, ip + 24, 16);
	key_context(&k, p);
	return frag_add(d, p, &k, ip, DF_V6_HDR, next_hdr, frag_off, len, more,
			data, out, out_len);
}
