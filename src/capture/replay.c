/* A capture file replayed as a live source, for trying `tapir run`
 * without a mirror session and for load tests.  Frames are read with the
 * pcap file reader (capture/pcap-file.c: pcap or pcapng, plain or gzip).
 *
 * Pacing: speed_permille 0 sends flat out; otherwise frame i is due at
 * start + (ts_i - ts_0) * 1000 / speed_permille on CLOCK_MONOTONIC, slept
 * for with absolute clock_nanosleep so that sleeping late does not add up
 * over a file.  A frame that is late is sent at once; a timestamp that
 * goes backwards is due at once.
 *
 * Timestamps handed on are the time of delivery (CLOCK_REALTIME, once per
 * batch), not the capture's: the live pipeline ages flows on wall time.
 *
 * Frames are copied into a batch buffer (TP_RX_BATCH × TP_RX_FRAME) rather
 * than returned one per call straight from the reader, whose view lasts
 * only until its next read: the receive loop then pays its per-call costs
 * (queue hand-over, clock read) per batch, as with the live sources, so a
 * flat-out replay loads the pipeline the way live traffic does; the copy
 * of a 1500-byte frame costs less than decoding it.  A frame longer than
 * TP_RX_FRAME is cut to it and counted `truncated`, as a live source
 * would.  A frame read ahead but not yet due waits in its slot. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capture/rx.h"
#include "capture/source.h"
#include "util/log.h"
#include "util/mem.h"

#define NSLOTS (TP_RX_BATCH + 1)

struct rp {
	struct tp_source src;
	bool src_open;
	bool ended;               /* TP_RX_END from the next call */
	const char *file;
	uint32_t speed;           /* permille, 0 = flat out */
	bool loop;

	uint8_t *buf;             /* NSLOTS × TP_RX_FRAME */
	uint8_t *slot[NSLOTS];

	/* a frame read but not yet returned, in slot[pend_slot] */
	bool have_pend;
	unsigned pend_slot;
	uint32_t pend_caplen, pend_wirelen, pend_linktype;
	uint64_t pend_ts;         /* capture time */

	/* pacing anchor of the current round */
	bool anchored;
	uint64_t mono0, cap0;
	uint64_t round_frames;

	struct tp_pkt scratch;    /* what the reader fills */
	struct tp_rx_stats st;
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void rp_close(struct tp_rx *rx)
{
	struct rp *r = rx->priv;
	if (!r)
		return;
	if (r->src_open)
		tp_source_pcap_file.close(&r->src);
	if (r->buf)
		tp_free(r->buf, (size_t)NSLOTS * TP_RX_FRAME);
	tp_free(r, sizeof(*r));
	rx->priv = NULL;
}

/* (Re)open the file from its start. */
static int src_start(struct rp *r, char *err, size_t errlen)
{
	if (r->src_open) {
		tp_source_pcap_file.close(&r->src);
		r->src_open = false;
	}
	memset(&r->src, 0, sizeof(r->src));
	r->src.ops = &tp_source_pcap_file;
	char e[512];
	int rc = tp_source_pcap_file.open(&r->src, r->file, e, sizeof(e));
	if (rc < 0) {
		tp_source_pcap_file.close(&r->src);
		snprintf(err, errlen, "pcap: %s", e);
		return rc;
	}
	r->src_open = true;
	r->anchored = false;
	r->round_frames = 0;
	return 0;
}

static int rp_open(struct tp_rx *rx, const struct tp_source_cfg *sc,
		   unsigned idx, unsigned n, char *err, size_t errlen)
{
	int rc;

	rx->cfg = sc;
	rx->idx = idx;
	rx->n = n;
	rx->priv = NULL;
	if (idx != 0 || n != 1) {
		snprintf(err, errlen,
			 "pcap %s: a replayed file is read by one thread; set "
			 "threads: 1",
			 sc->file);
		return -EINVAL;
	}
	struct rp *r = tp_calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "pcap %s: out of memory", sc->file);
		return -ENOMEM;
	}
	rx->priv = r;
	r->file = sc->file;
	r->speed = sc->speed_permille;
	r->loop = sc->loop;
	r->buf = tp_malloc((size_t)NSLOTS * TP_RX_FRAME);
	if (!r->buf) {
		snprintf(err, errlen, "pcap %s: out of memory", sc->file);
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < NSLOTS; i++)
		r->slot[i] = r->buf + (size_t)i * TP_RX_FRAME;
	if ((rc = src_start(r, err, errlen)) < 0)
		goto out;
	return 0;
out:
	rp_close(rx);
	return rc;
}

/* Read the next frame of the file into slot[s]: 1, 0 at the end of the
 * file (after starting again when looping), or -errno. */
static int read_one(struct rp *r, unsigned s, char *err, size_t errlen)
{
	struct tp_pkt *p = &r->scratch;
	int rc = tp_source_pcap_file.next(&r->src, p, err, errlen);

	if (rc == 0 && r->loop && r->round_frames > 0) {
		if ((rc = src_start(r, err, errlen)) < 0)
			return rc;
		rc = tp_source_pcap_file.next(&r->src, p, err, errlen);
	}
	if (rc <= 0)
		return rc;
	uint32_t cap = p->caplen;
	if (cap > TP_RX_FRAME) {
		cap = TP_RX_FRAME;
		r->st.truncated++;
	}
	memcpy(r->slot[s], p->data, cap);
	r->have_pend = true;
	r->pend_slot = s;
	r->pend_caplen = cap;
	r->pend_wirelen = p->wirelen < cap ? cap : p->wirelen;
	r->pend_linktype = p->linktype;
	r->pend_ts = p->ts_ns;
	r->round_frames++;
	return 1;
}

/* When the pending frame is due on CLOCK_MONOTONIC. */
static uint64_t due_of(struct rp *r)
{
	if (!r->anchored) {
		r->anchored = true;
		r->mono0 = now_ns(CLOCK_MONOTONIC);
		r->cap0 = r->pend_ts;
	}
	if (r->pend_ts <= r->cap0)
		return r->mono0;
	uint64_t gap = r->pend_ts - r->cap0, s = r->speed;
	/* gap × 1000 / speed without overflow for any gap */
	return r->mono0 + gap / s * 1000 + gap % s * 1000 / s;
}

static int rp_recv(struct tp_rx *rx, struct tp_pkt *pkts, unsigned max,
		   int timeout_ms, char *err, size_t errlen)
{
	struct rp *r = rx->priv;
	unsigned n = 0;
	int rc;

	if (r->ended)
		return TP_RX_END;
	if (max > TP_RX_BATCH)
		max = TP_RX_BATCH;
	if (max == 0)
		return 0;
	/* The frames of the last call are done with; the one read ahead
	 * moves to the front. */
	if (r->have_pend && r->pend_slot != 0) {
		uint8_t *t = r->slot[0];
		r->slot[0] = r->slot[r->pend_slot];
		r->slot[r->pend_slot] = t;
		r->pend_slot = 0;
	}
	uint64_t deadline = timeout_ms < 0
				    ? UINT64_MAX
				    : now_ns(CLOCK_MONOTONIC) +
					      (uint64_t)timeout_ms * 1000000ull;
	while (n < max) {
		if (!r->have_pend) {
			rc = read_one(r, n, err, errlen);
			if (rc < 0) {
				r->st.errors++;
				return rc;
			}
			if (rc == 0) {
				if (n == 0)
					return TP_RX_END;
				r->ended = true;
				break;
			}
		}
		if (r->speed) {
			uint64_t due = due_of(r);
			if (due > now_ns(CLOCK_MONOTONIC)) {
				if (n > 0)
					break;
				uint64_t until = due < deadline ? due : deadline;
				struct timespec ts = {
					.tv_sec = (time_t)(until / 1000000000ull),
					.tv_nsec = (long)(until % 1000000000ull),
				};
				if (clock_nanosleep(CLOCK_MONOTONIC,
						    TIMER_ABSTIME, &ts,
						    NULL) != 0 ||
				    until < due)
					return 0; /* interrupted or timed out */
			}
		}
		struct tp_pkt *p = &pkts[n];
		p->data = r->slot[n];
		p->caplen = r->pend_caplen;
		p->wirelen = r->pend_wirelen;
		p->linktype = r->pend_linktype;
		p->first = 0;
		p->outer_ipver = 0;
		r->st.bytes += p->wirelen;
		r->have_pend = false;
		n++;
	}
	uint64_t ts = now_ns(CLOCK_REALTIME);
	for (unsigned i = 0; i < n; i++)
		pkts[i].ts_ns = ts;
	r->st.frames += n;
	return (int)n;
}

static void rp_stats(struct tp_rx *rx, struct tp_rx_stats *st)
{
	struct rp *r = rx->priv;
	*st = r->st;
}

const struct tp_rx_ops tp_rx_replay = {
	.name = "pcap",
	.open = rp_open,
	.recv = rp_recv,
	.stats = rp_stats,
	.close = rp_close,
};
